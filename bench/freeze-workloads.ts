// Writes bench/workloads/{vocab,sentences,mixed}.json from the bundled course (data/*.json), with the
// phonemes kokoro-pool's G2P gives each text. Deterministic: rerunning it on the same course and G2P
// rewrites identical files, so a diff shows exactly what changed. Bump WORKLOAD_VERSION when it does.
//
//   tsx bench/freeze-workloads.ts

import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import path from 'node:path'

import type { GrammarItem, KanjiItem, VocabularyItem } from '../lib/course-types'
import { WORKLOAD_NAMES, type Workload, type WorkloadItem, type WorkloadName, workloadPath } from './workload'

const WORKLOAD_VERSION = 2
const REPO_ROOT = path.resolve(__dirname, '..')
const VOCAB_SIZE = 100
const SENTENCES_SIZE = 40
/** Sentences per paragraph of `mixed`: short, medium, and one long enough to be split (> 510 phonemes). */
const PARAGRAPH_SENTENCES = [3, 5, 14]
/** `mixed` takes every MIXED_STRIDE-th word and sentence, so its run costs about as much as one of the others. */
const MIXED_STRIDE = 10

const { phonemize } = require(REPO_ROOT) as typeof import('..')

function courseItems<T>(file: string): T[] {
  return (JSON.parse(readFileSync(path.join(REPO_ROOT, 'data', file), 'utf8')) as { items: T[] }).items
}

type Draft = Omit<WorkloadItem, 'phonemes'>

function words(): Draft[] {
  const vocabulary = courseItems<VocabularyItem>('vocabulary.json')
  const drafts: Draft[] = vocabulary.map((item) => ({ id: '', source: `vocabulary/${item.id}.word`, text: item.word }))
  const seen = new Set(drafts.map((draft) => draft.text))
  // The course has fewer than 100 vocabulary items: the kanji items' example words fill the rest.
  for (const kanji of courseItems<KanjiItem>('kanji.json')) {
    kanji.examples.forEach((example, index) => {
      if (seen.has(example.word)) return
      seen.add(example.word)
      drafts.push({ id: '', source: `kanji/${kanji.id}.examples[${index}].word`, text: example.word })
    })
  }
  return numbered('w', drafts.slice(0, VOCAB_SIZE), VOCAB_SIZE)
}

/** Every example sentence of the course, vocabulary first, in file order. */
function exampleSentences(): Draft[] {
  const vocabulary = courseItems<VocabularyItem>('vocabulary.json').map((item) => ({
    id: '',
    source: `vocabulary/${item.id}.example`,
    text: item.example.ja,
  }))
  const grammar = courseItems<GrammarItem>('grammar.json').flatMap((item) =>
    item.examples.map((example, index) => ({ id: '', source: `grammar/${item.id}.examples[${index}]`, text: example.ja })),
  )
  return [...vocabulary, ...grammar]
}

/** 20 vocabulary examples and 20 grammar examples; the sentences after them make the paragraphs. */
function sentencesAndParagraphs(): { sentences: Draft[]; paragraphs: Draft[] } {
  const all = exampleSentences()
  const vocabularyCount = courseItems<VocabularyItem>('vocabulary.json').length
  const half = SENTENCES_SIZE / 2
  const sentences = [...all.slice(0, half), ...all.slice(vocabularyCount, vocabularyCount + half)]
  const rest = [...all.slice(half, vocabularyCount), ...all.slice(vocabularyCount + half)]
  let next = 0
  const paragraphs = PARAGRAPH_SENTENCES.map((count) => {
    const parts = rest.slice(next, next + count)
    if (parts.length < count) throw new Error(`the course has too few example sentences for ${PARAGRAPH_SENTENCES} paragraphs`)
    next += count
    return { id: '', source: `${parts[0].source} .. ${parts[count - 1].source}`, text: parts.map((part) => part.text).join('') }
  })
  return { sentences: numbered('s', sentences, SENTENCES_SIZE), paragraphs: numbered('p', paragraphs, paragraphs.length) }
}

function numbered(prefix: string, drafts: Draft[], expected: number): Draft[] {
  if (drafts.length !== expected) throw new Error(`expected ${expected} items for "${prefix}", the course gives ${drafts.length}`)
  const width = String(expected).length
  return drafts.map((draft, index) => ({ ...draft, id: `${prefix}${String(index + 1).padStart(width, '0')}` }))
}

/**
 * Words and sentences in their order, with the paragraphs spread over the run: the short one first
 * (so a `--quick` prefix holds one), the long one at a third (so the rest can fill the other cores
 * while it runs, whoever schedules), the medium one at two thirds.
 */
function mixed(vocab: Draft[], sentences: Draft[], paragraphs: Draft[]): Draft[] {
  const short = [...vocab.filter((_, i) => i % MIXED_STRIDE === 0), ...sentences.filter((_, i) => i % MIXED_STRIDE === 0)]
  const interleaved = short.sort((a, b) => order(a) - order(b))
  const [shortest, medium, longest] = paragraphs
  const spacing = Math.floor(interleaved.length / paragraphs.length)
  ;[shortest, longest, medium].forEach((paragraph, index) => interleaved.splice(index * (spacing + 1), 0, paragraph))
  return interleaved
  // Words and sentences alternate in proportion, as a course file produces them.
  function order(draft: Draft): number {
    const list = draft.id.startsWith('w') ? vocab : sentences
    return list.indexOf(draft) / list.length
  }
}

const DESCRIPTIONS: Record<WorkloadName, string> = {
  vocab: `${VOCAB_SIZE} single words: the vocabulary items' words, then the kanji items' example words not already among them`,
  sentences: `${SENTENCES_SIZE} example sentences: the first ${SENTENCES_SIZE / 2} of the vocabulary items, the first ${SENTENCES_SIZE / 2} of the grammar items`,
  mixed:
    `every ${MIXED_STRIDE}th word of vocab and sentence of sentences, interleaved, plus ${PARAGRAPH_SENTENCES.length} paragraphs ` +
    `of ${PARAGRAPH_SENTENCES.join('/')} further example sentences (the longest split by the engine), spread over the run`,
}

function main(): void {
  const vocab = words()
  const { sentences, paragraphs } = sentencesAndParagraphs()
  const drafts: Record<WorkloadName, Draft[]> = { vocab, sentences, mixed: mixed(vocab, sentences, paragraphs) }
  for (const name of WORKLOAD_NAMES) {
    const workload: Workload = {
      name,
      version: WORKLOAD_VERSION,
      description: DESCRIPTIONS[name],
      items: drafts[name].map((draft) => ({ ...draft, phonemes: phonemize(draft.text) })),
    }
    const file = workloadPath(name)
    writeFileSync(`${file}.tmp`, `${JSON.stringify(workload, null, 1)}\n`)
    renameSync(`${file}.tmp`, file)
    const characters = workload.items.reduce((sum, item) => sum + item.phonemes.length, 0)
    console.log(`${path.relative(REPO_ROOT, file)}: ${workload.items.length} items, ${characters} phoneme characters`)
  }
}

main()
