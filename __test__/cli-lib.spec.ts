// Unit tests of the CLI's lib/ modules: no model, no native addon.

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import type { OutputCheck } from '..'
import { BUNDLED_DATA_DIR } from '../lib/cli'
import { CourseDataError, jsonErrorOffset, loadCourse, parseCourse } from '../lib/course'
import { COURSE_TYPES, type KanjiItem } from '../lib/course-types'
import { findOrphans, formatBytes, planJobs } from '../lib/outputs'
import { buildSpeechJobs, spokenKanjiReadings } from '../lib/speech-jobs'
import { formatDuration, formatProgressStats, formatSummary } from '../lib/summary'
import { writeAudioUrls } from '../lib/update-json'

let tempDir: string
beforeEach(() => {
  tempDir = mkdtempSync(path.join(os.tmpdir(), 'kokoro-pool-cli-lib-'))
})
afterEach(() => rmSync(tempDir, { recursive: true, force: true }))

describe('the bundled sample course', () => {
  const vocabulary = loadCourse(BUNDLED_DATA_DIR, 'vocabulary')
  const grammar = loadCourse(BUNDLED_DATA_DIR, 'grammar')
  const kanji = loadCourse(BUNDLED_DATA_DIR, 'kanji')

  it('is valid and big enough', () => {
    expect(vocabulary.items.length).toBeGreaterThanOrEqual(60)
    expect(grammar.items.length).toBeGreaterThanOrEqual(20)
    expect(kanji.items.length).toBeGreaterThanOrEqual(30)
  })

  it('covers numbers, dates, prices, counters, loanwords, full-width Latin, quotes and punctuation', () => {
    const sentences = [
      ...vocabulary.items.map((item) => item.example.ja),
      ...grammar.items.flatMap((item) => item.examples.map((example) => example.ja)),
    ]
    const words = vocabulary.items.map((item) => item.word)
    expect(sentences.some((text) => /\d{4}円/.test(text))).toBe(true) // a price in digits
    expect(sentences.some((text) => /午後\d+時/.test(text))).toBe(true) // a time in digits
    expect(sentences.some((text) => /[一二三四五六七八九十]+月[一二三四五六七八九十]+日/.test(text))).toBe(true) // a date
    expect(words).toEqual(expect.arrayContaining(['三本', '二枚', '二匹', '五冊'])) // counters
    expect(words.filter((word) => /^[ァ-ヴー]+$/.test(word)).length).toBeGreaterThanOrEqual(5) // katakana loanwords
    expect(words).toContain('ＮＨＫ')
    expect(sentences.some((text) => text.includes('「') && text.includes('」'))).toBe(true)
    expect(sentences.some((text) => /[！？]/.test(text))).toBe(true)
  })

  it('gives every file a unique pool id and a path inside its type folder', () => {
    const outDir = path.join(tempDir, 'audio')
    const jobs = [vocabulary, grammar, kanji].flatMap((course) =>
      buildSpeechJobs(course, { outDir, urlPrefix: '/audio' }),
    )
    expect(new Set(jobs.map((job) => job.taskId)).size).toBe(jobs.length)
    for (const job of jobs) expect(path.dirname(job.outputPath)).toBe(path.join(outDir, job.type))
  })
})

describe('parseCourse', () => {
  const vocabularyItem = {
    id: 'v1',
    word: '水',
    reading: 'みず',
    meaning: 'water',
    example: { ja: '水です。', en: 'Water.' },
  }
  const parse = (data: unknown, type: (typeof COURSE_TYPES)[number] = 'vocabulary') =>
    parseCourse(JSON.stringify(data, null, 2), path.join(tempDir, `${type}.json`), type)

  it('keeps the items as written, extra fields included', () => {
    const item = { ...vocabularyItem, note: 'kept', audio: '/audio/vocabulary/v1.wav' }
    expect(parse({ type: 'vocabulary', items: [item] }).items).toEqual([item])
  })

  it.each([
    [
      'a grammar file given as vocabulary',
      { type: 'grammar', items: [] },
      /wrong type "grammar" \(expected "vocabulary"/,
    ],
    ['no type', { items: [] }, /missing field "type" \(expected "vocabulary"\)/],
    ['items not an array', { type: 'vocabulary', items: {} }, /field "items" must be an array/],
    [
      'an empty word',
      { type: 'vocabulary', items: [{ ...vocabularyItem, word: ' ' }] },
      /item #1 \(id "v1"\): field "word" must be a non-empty string/,
    ],
    ['an item that is not an object', { type: 'vocabulary', items: ['水'] }, /item #1: expected an object/],
    [
      'a dotted id',
      { type: 'vocabulary', items: [{ ...vocabularyItem, id: 'v1.example' }] },
      /id "v1\.example"\): id is not a safe file name;/,
    ],
    [
      'an absolute id',
      { type: 'vocabulary', items: [{ ...vocabularyItem, id: '/tmp/x' }] },
      /would escape the output folder/,
    ],
  ])('rejects %s', (_name, data, message) => {
    expect(() => parse(data)).toThrow(CourseDataError)
    expect(() => parse(data)).toThrow(message)
  })

  it('checks kanji items', () => {
    const kanji = {
      id: 'k1',
      kanji: '日本',
      meanings: ['day'],
      onyomi: ['ニチ'],
      kunyomi: [],
      examples: [{ word: '毎日', reading: 'まいにち', meaning: 'every day' }],
    }
    expect(() => parse({ type: 'kanji', items: [kanji] }, 'kanji')).toThrow(
      /item #1 \(id "k1"\): field "kanji" must be a single character/,
    )
    expect(() => parse({ type: 'kanji', items: [{ ...kanji, kanji: '日', examples: [] }] }, 'kanji')).toThrow(
      /field "examples" must be a non-empty array of objects/,
    )
    expect(() => parse({ type: 'kanji', items: [{ ...kanji, kanji: '日', onyomi: [] }] }, 'kanji')).toThrow(
      /field "onyomi" and "kunyomi" must not both be empty/,
    )
  })

  it('names the line and column of a JSON syntax error', () => {
    expect(() =>
      parseCourse('{\n  "type": "grammar",\n  "items": [,]\n}', path.join(tempDir, 'grammar.json'), 'grammar'),
    ).toThrow(/grammar\.json: invalid JSON at line 3, column 13/)
  })
})

describe('jsonErrorOffset', () => {
  it.each([
    ['{"a": 1}', undefined],
    [' [1, -2.5e3, "x\\u00e9", true, false, null, {}] ', undefined],
    ['{"a": 1,}', 8],
    ['{"a" 1}', 5],
    ['[1 2]', 3],
    ['{"a": "unterminated', 19],
    ['{"a": tru}', 9],
    ['[01]', 2],
    ['{} x', 3],
    ['', 0],
  ])('%j -> %p', (text, offset) => {
    expect(jsonErrorOffset(text)).toBe(offset)
    // The scanner agrees with JSON.parse on what is valid.
    let valid = true
    try {
      JSON.parse(text)
    } catch {
      valid = false
    }
    expect(valid).toBe(offset === undefined)
  })
})

describe('speech jobs', () => {
  it('speaks vocabulary as the word and its example, grammar and kanji examples as numbered files', () => {
    const vocabulary = parseCourse(
      JSON.stringify({
        type: 'vocabulary',
        items: [{ id: 'v1', word: '水', reading: 'みず', meaning: 'water', example: { ja: '水です。', en: 'Water.' } }],
      }),
      'vocabulary.json',
      'vocabulary',
    )
    const jobs = buildSpeechJobs(vocabulary, { outDir: '/srv/audio', urlPrefix: '/static/audio/' })
    expect(
      jobs.map(({ taskId, text, outputPath, url, audioField }) => ({ taskId, text, outputPath, url, audioField })),
    ).toEqual([
      {
        taskId: 'vocabulary/v1',
        text: '水',
        outputPath: '/srv/audio/vocabulary/v1.wav',
        url: '/static/audio/vocabulary/v1.wav',
        audioField: ['audio'],
      },
      {
        taskId: 'vocabulary/v1.example',
        text: '水です。',
        outputPath: '/srv/audio/vocabulary/v1.example.wav',
        url: '/static/audio/vocabulary/v1.example.wav',
        audioField: ['example', 'audio'],
      },
    ])
  })

  it('honours --limit per type', () => {
    const kanji = loadCourse(BUNDLED_DATA_DIR, 'kanji')
    const jobs = buildSpeechJobs(kanji, { outDir: tempDir, urlPrefix: '/audio', limit: 2 })
    expect(jobs.map((job) => job.fileName)).toEqual([
      'k001.wav',
      'k001.example-1.wav',
      'k001.example-2.wav',
      'k002.wav',
      'k002.example-1.wav',
      'k002.example-2.wav',
    ])
    expect(jobs[5].audioField).toEqual(['examples', 1, 'audio'])
  })

  it('names files and URLs with the format as extension', () => {
    const vocabulary = loadCourse(BUNDLED_DATA_DIR, 'vocabulary')
    const [word, example] = buildSpeechJobs(vocabulary, { outDir: tempDir, urlPrefix: '/a', limit: 1, format: 'opus' })
    expect(word.fileName).toMatch(/^[\w-]+\.opus$/)
    expect(example.url).toBe(`/a/vocabulary/${vocabulary.items[0].id}.example.opus`)
    expect(word.taskId).toBe(`vocabulary/${vocabulary.items[0].id}`)
  })

  it('generates missing and changed files, keeps current and unfingerprinted ones unless forced', () => {
    const kanji = loadCourse(BUNDLED_DATA_DIR, 'kanji')
    const jobs = buildSpeechJobs(kanji, { outDir: tempDir, urlPrefix: '/audio', limit: 2 }).slice(0, 5)
    const check = (index: number, status: OutputCheck['status'], reasons: string[] = [], error?: string) => ({
      id: jobs[index].taskId,
      outputPath: jobs[index].outputPath,
      status,
      reasons,
      error,
    })
    const checks = [
      check(0, 'missing'),
      check(1, 'current'),
      check(2, 'unfingerprinted'),
      check(3, 'changed', ['phonemes changed', 'voice changed']),
      check(4, 'failed', [], 'cannot write x.wav: its extension names wav, but the format is mp3'),
    ]
    const plan = planJobs(jobs, checks, false)
    expect(plan.pending).toEqual([jobs[0], jobs[3], jobs[4]])
    expect(plan.current).toEqual([jobs[1], jobs[2]])
    expect(plan.regenerated).toBe(1)
    expect(plan.why.get(jobs[0].taskId)).toBe('new')
    expect(plan.why.get(jobs[3].taskId)).toBe('phonemes changed, voice changed')
    const forced = planJobs(jobs, checks, true)
    expect(forced.pending).toEqual(jobs)
    expect(forced.regenerated).toBe(3)
    expect(forced.why.get(jobs[2].taskId)).toBe('forced (no fingerprint)')
  })

  it('finds audio files no item produces, ignoring temporary files and other types', () => {
    const vocabulary = loadCourse(BUNDLED_DATA_DIR, 'vocabulary')
    const jobs = buildSpeechJobs(vocabulary, { outDir: tempDir, urlPrefix: '/audio', format: 'mp3' })
    const dir = path.join(tempDir, 'vocabulary')
    mkdirSync(dir)
    mkdirSync(path.join(tempDir, 'kanji'))
    for (const name of [jobs[0].fileName, 'gone.mp3', `${vocabulary.items[0].id}.wav`, '.x.mp3.1-2.tmp', 'notes.txt'])
      writeFileSync(path.join(dir, name), '')
    writeFileSync(path.join(tempDir, 'kanji', 'k.mp3'), '')
    expect(findOrphans(tempDir, ['vocabulary', 'grammar'], jobs)).toEqual([
      path.join(dir, 'gone.mp3'),
      path.join(dir, `${vocabulary.items[0].id}.wav`),
    ])
    expect([formatBytes(812), formatBytes(41_330), formatBytes(19_100_000)]).toEqual(['812 B', '41.3 kB', '19.1 MB'])
  })

  it('reads kanji on readings, then kun readings without okurigana and affix marks', () => {
    const day = { onyomi: ['ニチ', 'ジツ'], kunyomi: ['ひ', '-び', '-か'] } as KanjiItem
    expect(spokenKanjiReadings(day)).toBe('ニチ、ジツ。ひ、び、か。')
    expect(spokenKanjiReadings({ onyomi: ['ヒャク'], kunyomi: [] } as unknown as KanjiItem)).toBe('ヒャク。')
    expect(spokenKanjiReadings({ onyomi: [], kunyomi: ['た.べる', 'た.べる'] } as unknown as KanjiItem)).toBe(
      'たべる。',
    )
  })
})

describe('writeAudioUrls', () => {
  const original = {
    title: 'course',
    type: 'grammar',
    items: [
      {
        id: 'g1',
        pattern: 'p',
        extra: { nested: [1, 2] },
        examples: [
          { ja: 'a', en: 'A' },
          { ja: 'b', en: 'B', note: 'n' },
        ],
      },
      { id: 'g2', pattern: 'q', examples: [{ ja: 'c', en: 'C' }] },
    ],
    footer: true,
  }

  it('adds only the URLs, keeping every other field, the order and a 4-space indent', () => {
    const file = path.join(tempDir, 'grammar.json')
    writeFileSync(file, JSON.stringify(original, null, 4))
    const changed = writeAudioUrls(file, [
      { itemId: 'g1', audioField: ['examples', 1, 'audio'], url: '/audio/grammar/g1.example-2.wav' },
      { itemId: 'g2', audioField: ['examples', 0, 'audio'], url: '/audio/grammar/g2.example-1.wav' },
      { itemId: 'gone', audioField: ['examples', 0, 'audio'], url: '/audio/grammar/gone.example-1.wav' },
      { itemId: 'g2', audioField: ['examples', 5, 'audio'], url: '/audio/grammar/g2.example-6.wav' },
    ])
    expect(changed).toBe(2)
    const expected = structuredClone(original) as typeof original & { items: { examples: { audio?: string }[] }[] }
    expected.items[0].examples[1].audio = '/audio/grammar/g1.example-2.wav'
    expected.items[1].examples[0].audio = '/audio/grammar/g2.example-1.wav'
    expect(readFileSync(file, 'utf8')).toBe(JSON.stringify(expected, null, 4))
    expect(readdirSync(tempDir)).toEqual(['grammar.json'])
  })

  it('does not touch the file when every URL is already there', () => {
    const file = path.join(tempDir, 'grammar.json')
    const text = `${JSON.stringify({ ...original, items: [{ id: 'g1', audio: '/a.wav' }] }, null, '\t')}\n`
    writeFileSync(file, text)
    const inode = statSync(file).ino
    expect(writeAudioUrls(file, [{ itemId: 'g1', audioField: ['audio'], url: '/a.wav' }])).toBe(0)
    expect(statSync(file).ino).toBe(inode)
    expect(readFileSync(file, 'utf8')).toBe(text)
  })

  it('replaces the file in one rename (a new inode), keeping a trailing newline', () => {
    const file = path.join(tempDir, 'grammar.json')
    writeFileSync(file, `${JSON.stringify(original, null, 2)}\n`)
    const inode = statSync(file).ino
    writeAudioUrls(file, [{ itemId: 'g2', audioField: ['audio'], url: '/b.wav' }])
    expect(statSync(file).ino).not.toBe(inode)
    expect(readFileSync(file, 'utf8').endsWith('}\n')).toBe(true)
    expect(JSON.parse(readFileSync(file, 'utf8')).items[1].audio).toBe('/b.wav')
  })
})

describe('summary and progress text', () => {
  it('formats durations', () => {
    expect(formatDuration(850)).toBe('850ms')
    expect(formatDuration(4200)).toBe('4.2s')
    expect(formatDuration(185_000)).toBe('3m 05s')
    expect(formatDuration(3_720_000)).toBe('1h 02m')
  })

  it('shows done/total, files per minute, ETA, active workers and failures', () => {
    const snapshot = {
      label: 'kanji',
      done: 10,
      total: 40,
      elapsedMs: 60_000,
      activeWorkers: 3,
      concurrency: 8,
      failed: 0,
    }
    expect(formatProgressStats(snapshot)).toBe('10/40 | 10.0 files/min | ETA 3m 00s | active 3/8')
    expect(formatProgressStats({ ...snapshot, failed: 2 })).toBe(
      '10/40 | 10.0 files/min | ETA 3m 00s | active 3/8 | 2 failed',
    )
    expect(formatProgressStats({ ...snapshot, done: 0, elapsedMs: 500 })).toBe(
      '0/40 | 0.0 files/min | ETA -- | active 3/8',
    )
  })

  it('lists failures with their reasons', () => {
    const text = formatSummary(
      {
        generated: 3,
        regenerated: 1,
        bytesWritten: 61_440,
        skipped: 1,
        failed: [
          { taskId: 'vocabulary/v2.example', reason: 'task "vocabulary/v2.example": nothing speakable' },
          { taskId: 'vocabulary/v3', reason: 'timed out' },
        ],
        cancelled: 2,
        audioSeconds: 4.25,
        wallMs: 30_000,
      },
      true,
    )
    expect(text).toBe(
      [
        'Summary (interrupted: rerun the same command to resume)',
        '  generated    3 files, 4.3s of audio, 61.4 kB written',
        '  regenerated  1 file (changed since made; counted in generated)',
        '  skipped      1 file (already there)',
        '  failed       2 files',
        '    task "vocabulary/v2.example": nothing speakable',
        '    vocabulary/v3: timed out',
        '  cancelled    2 files',
        '  wall time    30.0s (6.0 files/min)',
      ].join('\n'),
    )
  })
})
