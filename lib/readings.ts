// The course's own readings against what will be spoken (docs/readings.md): vocabulary words and kanji examples carry
// a `reading`, the teacher's word. Where the analyser would say something else, the course's reading is spoken
// unless --trust-analyser keeps the analyser's, and every disagreement is listed.

import type { PreparedType } from './generate'
import type { SpeechProvider } from './providers'

export interface ReadingDifference {
  taskId: string
  text: string
  /** Katakana the analyser reads for `text`. */
  spoken: string
  /** The course's reading. */
  course: string
}

/**
 * The sounds of a phoneme string, as a reading written in kana gives them: no spaces or punctuation, the moraic nasal
 * without its place (ん has none), and the long-vowel spellings えい/えー and おう/おー equal.
 */
function sounds(phonemes: string): string {
  return phonemes
    .replace(/[^\p{L}ːʔ]/gu, '')
    .replace(/[mnŋɲɴ](?![aiɯeoɨʲː])/g, 'ɴ')
    .replace(/ei/g, 'eː')
    .replace(/o[ɯo]/g, 'oː')
}

/**
 * Compares every job that has a course reading with what the provider would speak; unless `trustAnalyser`, such a job
 * speaks the course's reading instead. Texts that cannot be phonemized are left to fail where they are spoken.
 */
export function checkCourseReadings(
  prepared: PreparedType[],
  provider: SpeechProvider,
  trustAnalyser: boolean,
): ReadingDifference[] {
  const differences: ReadingDifference[] = []
  for (const job of prepared.flatMap(({ jobs }) => jobs)) {
    if (job.courseReading === undefined) continue
    let spoken: string
    try {
      if (sounds(provider.phonemize(job.text)) === sounds(provider.phonemize(job.courseReading))) continue
      spoken = provider.reading(job.text).replace(/\s+/g, '')
    } catch {
      continue
    }
    differences.push({ taskId: job.taskId, text: job.text, spoken, course: job.courseReading })
    if (!trustAnalyser) job.text = job.courseReading
  }
  return differences
}

export function formatReadingDifferences(differences: ReadingDifference[], trustAnalyser: boolean): string[] {
  if (differences.length === 0) return []
  const choice = trustAnalyser ? "the analyser's reading is spoken (--trust-analyser)" : "the course's reading is spoken"
  return [
    `${differences.length === 1 ? '1 reading differs' : `${differences.length} readings differ`} from the course; ${choice}:`,
    ...differences.map(
      ({ taskId, text, spoken, course }) => `  reading differs: ${text} spoken ${spoken}, course says ${course} (${taskId})`,
    ),
  ]
}
