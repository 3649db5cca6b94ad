// Readings authors can fix (docs/readings.md): inline readings, a user dictionary in the pool, phonemize() and the
// CLI, and the course's own readings against what is spoken. Real model, real files, short inputs.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import { AudioWorkerPool, phonemize, reading } from '..'
import { runCli, tinyCourse, writeCourse } from './helpers/cli-run'
import { readWav } from './helpers/wav'

const dir = mkdtempSync(path.join(os.tmpdir(), 'kokoro-pool-readings-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function dictionary(name: string, rows: string): string {
  const file = path.join(dir, name)
  writeFileSync(file, rows)
  return file
}

describe('phonemize and reading', () => {
  it('speak inline readings and user dictionary words as the author wrote them', () => {
    expect(phonemize('{生物|なまもの}を食べる')).toBe(phonemize('なまものを食べる'))
    const words = dictionary('words.csv', '生物,なまもの\n')
    expect(phonemize('生物を食べる', { userDictionary: words })).toBe(phonemize('なまものを食べる'))
    expect(reading('生物', { userDictionary: words })).toBe('ナマモノ')
    expect(reading('生物')).not.toBe('ナマモノ')
  })

  it('reads the numbers, dates and times of beginner courses as textbooks do', () => {
    // Hand-written kana from textbook counter tables; compared through the same phonemizer as kana.
    for (const [text, kana] of [
      ['1,000円', 'せんえん'],
      ['2人', 'ふたり'],
      ['20歳', 'はたち'],
      ['2日', 'ふつか'],
      ['10分', 'じゅっぷん'],
    ]) {
      expect(phonemize(text).replace(/ /g, '')).toBe(phonemize(kana).replace(/ /g, ''))
    }
    expect(reading('10:30').replace(/ /g, '')).toBe('ジュージサンジュップン')
    expect(reading('12月25日').replace(/ /g, '')).toBe('ジューニガツニジューゴニチ')
  })

  it('refuses a malformed inline reading or a bad dictionary row with InvalidArg, naming the place', () => {
    expect(() => phonemize('{生物|nama}')).toThrow(
      expect.objectContaining({ code: 'InvalidArg', message: expect.stringMatching(/character 1.*must be kana/) }),
    )
    const bad = dictionary('bad.csv', '生物,なまもの\n今日,kyou\n')
    expect(() => phonemize('今日', { userDictionary: bad })).toThrow(/bad\.csv: line 2: reading "kyou"/)
    expect(() => new AudioWorkerPool(1, { userDictionary: bad })).toThrow(
      expect.objectContaining({ code: 'InvalidArg', message: expect.stringMatching(/bad\.csv: line 2/) }),
    )
  })
})

describe('AudioWorkerPool with a user dictionary', () => {
  it('speaks the dictionary reading and writes the audio', async () => {
    const pool = new AudioWorkerPool(1, { userDictionary: dictionary('pool.csv', '生物,なまもの\n') })
    const outputPath = path.join(dir, 'namamono.wav')
    pool.addTasks([{ id: 'namamono', text: '生物', outputPath }])
    const result = await pool.process()
    expect(result.success).toBe(1)
    expect(result.results.get('namamono')!.phonemes).toBe(phonemize('なまもの'))
    const wav = readWav(outputPath)
    expect(wav.sampleRate).toBe(24000)
    expect(wav.durationSeconds).toBeGreaterThan(0.3)
  })
})

describe('tts-generate readings', () => {
  const course = tinyCourse()
  course.vocabulary.items[0] = { ...course.vocabulary.items[0], word: '生物', reading: 'なまもの' }

  it("lists where the course's reading differs, speaks the course's by default, and reads dictionary.csv", async () => {
    const { root, dataDir } = writeCourse(course)
    try {
      const dryRun = await runCli(['--dry-run', '--type', 'vocabulary', '--data-dir', dataDir])
      expect(dryRun.code).toBe(0)
      expect(dryRun.stdout).toContain("the course's reading is spoken")
      expect(dryRun.stdout).toMatch(/reading differs: 生物 spoken セーブツ, course says なまもの \(vocabulary\/mizu\)/)
      expect(dryRun.stdout).toContain(`mizu.wav  なまもの  → ${phonemize('なまもの')}`)
      const trusted = await runCli(['--dry-run', '--type', 'vocabulary', '--data-dir', dataDir, '--trust-analyser'])
      expect(trusted.stdout).toContain(`mizu.wav  生物  → ${phonemize('生物')}`)
      writeFileSync(path.join(dataDir, 'dictionary.csv'), '生物,なまもの\n')
      const withDictionary = await runCli(['--dry-run', '--type', 'vocabulary', '--data-dir', dataDir])
      expect(withDictionary.stdout).not.toContain('reading differs')
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })

  it('refuses a bad dictionary row with exit 2, naming the file and line', async () => {
    const { root, dataDir } = writeCourse()
    try {
      const bad = dictionary('cli-bad.csv', '# words\n水,mizu\n')
      const result = await runCli(['--dry-run', '--data-dir', dataDir, '--dictionary', bad])
      expect(result.code).toBe(2)
      expect(result.stderr).toMatch(/cli-bad\.csv: line 2: reading "mizu" of "水" must be katakana or hiragana/)
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })
})
