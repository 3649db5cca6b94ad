// Issue 6, crash safety: `tts-generate --update-json` killed with SIGKILL at a random point of a 33-file course
// leaves only complete WAVs and whole JSON files, and the rerun generates exactly the missing files
// (docs/reliability.md). The kill point is random on purpose; it is printed so that a failure can be replayed
// with RELIABILITY_KILL_AFTER=<files>,<ms>.

import { readFileSync, rmSync, statSync } from 'node:fs'
import path from 'node:path'

import { runCli, startCli, writeCourse, type TinyCourse } from './helpers/cli-run'
import { filesUnder, TEMP_WAV } from './helpers/reliability-files'
import { readWav } from './helpers/wav'

const TYPES = ['vocabulary', 'grammar', 'kanji'] as const

/** Single words only, so that each file takes a fraction of a second: 12 x 2 + 3 + 3 x 2 = 33 files. */
function wordCourse(): TinyCourse {
  const words = '水山川木火日月金土本人目耳口手足花雨空海犬猫魚鳥'
  const word = (i: number): string => [...words][i % [...words].length]
  return {
    vocabulary: {
      type: 'vocabulary',
      title: 'crash test course',
      items: Array.from({ length: 12 }, (_, i) => ({
        id: `v${i}`,
        word: word(i),
        reading: 'よみ',
        meaning: 'meaning',
        jlpt: 'N5',
        example: { ja: word(i + 12), en: 'example' },
      })),
    },
    grammar: {
      type: 'grammar',
      items: Array.from({ length: 3 }, (_, i) => ({
        id: `g${i}`,
        pattern: 'pattern',
        meaning: 'meaning',
        explanation: 'explanation',
        examples: [{ ja: word(i + 3), en: 'example' }],
      })),
    },
    kanji: {
      type: 'kanji',
      items: ['木', '日', '本'].map((kanji, i) => ({
        id: `k${i}`,
        kanji,
        meanings: ['meaning'],
        onyomi: [],
        kunyomi: ['き'],
        examples: [{ word: kanji, reading: 'よみ', meaning: 'meaning' }],
      })),
    },
  } as unknown as TinyCourse
}

const FILES = 33

/** A random point: after `files` finished files plus `ms` milliseconds, never so late that the run could end first. */
function killPoint(): { files: number; ms: number } {
  const replay = process.env.RELIABILITY_KILL_AFTER
  if (replay) {
    const [files, ms] = replay.split(',').map(Number)
    return { files, ms }
  }
  return { files: 1 + Math.floor(Math.random() * 24), ms: Math.floor(Math.random() * 300) }
}

/** Drops every `audio` field the CLI may have written, giving back the course as it was written. */
function withoutAudio(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutAudio)
  if (typeof value !== 'object' || value === null) return value
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => key !== 'audio')
      .map(([key, entry]) => [key, withoutAudio(entry)]),
  )
}

/** Every `audio` URL in a course file. */
function audioUrls(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(audioUrls)
  if (typeof value !== 'object' || value === null) return []
  return Object.entries(value).flatMap(([key, entry]) =>
    key === 'audio' && typeof entry === 'string' ? [entry] : audioUrls(entry),
  )
}

/** Asserts the state a crash may leave: complete WAVs, hidden temp files at most, each JSON old or new. */
function expectConsistent(dataDir: string, outDir: string, course: TinyCourse): string[] {
  const files = filesUnder(outDir)
  const wavs = files.filter((name) => name.endsWith('.wav'))
  expect(files.filter((name) => !name.endsWith('.wav') && !TEMP_WAV.test(name))).toEqual([])
  for (const name of wavs) {
    const wav = readWav(path.join(outDir, name))
    expect(wav).toMatchObject({ sampleRate: 24000, channels: 1, bitsPerSample: 16 })
    expect(wav.durationSeconds).toBeGreaterThan(0.1)
  }
  for (const type of TYPES) {
    const file = path.join(dataDir, `${type}.json`)
    const text = readFileSync(file, 'utf8')
    // Whole: it parses, it is the course as written plus URLs, and each URL is a file that exists.
    const data = JSON.parse(text) as unknown
    expect(withoutAudio(data)).toEqual(course[type])
    for (const url of audioUrls(data)) expect(wavs).toContain(url.replace(/^\/audio\//, ''))
    expect(text).toBe(`${JSON.stringify(data, null, 2)}\n`)
  }
  // The JSON's own temporary file, if the kill came in the middle of a rewrite, is hidden too.
  const jsonOrHiddenTemp = /^(\w+\.json|\.\w+\.json\.\d+\.\d+\.tmp)$/
  expect(filesUnder(dataDir).filter((name) => !jsonOrHiddenTemp.test(name))).toEqual([])
  return wavs
}

describe('tts-generate killed with SIGKILL', () => {
  const course = wordCourse()
  const { root, dataDir, outDir } = writeCourse(course)
  afterAll(() => rmSync(root, { recursive: true, force: true }))
  const args = ['--concurrency', '2', '--update-json', '--data-dir', dataDir, '--out-dir', outDir]

  it('leaves only complete WAVs and whole JSON files, and the rerun generates exactly the missing files', async () => {
    const point = killPoint()
    const replay = `RELIABILITY_KILL_AFTER=${point.files},${point.ms}`
    console.log(`SIGKILL after ${point.files} files + ${point.ms} ms (replay: ${replay})`)
    const run = startCli(args)
    let finished = 0
    let scheduled = false
    run.child.stdout?.on('data', (chunk: Buffer) => {
      finished += chunk
        .toString()
        .split('\n')
        .filter((line) => / generated$/.test(line)).length
      if (finished >= point.files && !scheduled) {
        scheduled = true
        setTimeout(() => run.child.kill('SIGKILL'), point.ms)
      }
    })
    const killed = await run.done
    expect(killed.signal).toBe('SIGKILL')

    const kept = expectConsistent(dataDir, outDir, course)
    expect(kept.length).toBeGreaterThanOrEqual(point.files)
    expect(kept.length).toBeLessThan(FILES)
    const before = new Map(kept.map((name) => [name, statSync(path.join(outDir, name))]))

    const rerun = await runCli(args)
    expect(rerun.stderr).toBe('')
    expect(rerun.code).toBe(0)
    for (const type of TYPES) {
      const there = kept.filter((name) => name.startsWith(`${type}/`)).length
      const all = type === 'vocabulary' ? 24 : type === 'grammar' ? 3 : 6
      expect(rerun.stdout).toContain(`${type}: ${all - there} to generate, ${there} already there`)
    }
    expect(rerun.stdout).toMatch(new RegExp(`generated +${FILES - kept.length} files?,`))
    expect(rerun.stdout).toMatch(/failed +0 files/)

    // Now complete: every file a WAV (the killed run's temporary files are gone), the finished ones untouched.
    const wavs = expectConsistent(dataDir, outDir, course)
    expect(filesUnder(outDir)).toEqual(wavs)
    expect(wavs).toHaveLength(FILES)
    for (const [name, stat] of before) {
      const now = statSync(path.join(outDir, name))
      expect({ name, ino: now.ino, mtimeMs: now.mtimeMs }).toEqual({ name, ino: stat.ino, mtimeMs: stat.mtimeMs })
    }
    for (const type of TYPES) {
      const data = JSON.parse(readFileSync(path.join(dataDir, `${type}.json`), 'utf8')) as unknown
      expect(audioUrls(data).sort()).toEqual(
        wavs.filter((name) => name.startsWith(`${type}/`)).map((name) => `/audio/${name}`),
      )
    }
  }, 240_000)
})
