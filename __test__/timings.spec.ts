// Timings through the binding and the CLI: the task result, the sidecar, WebVTT captions and their URLs.

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import { AudioWorkerPool, type TaskTimings } from '..'
import { runCli, tinyCourse, writeCourse } from './helpers/cli-run'
import { readWav } from './helpers/wav'

const roots: string[] = []
afterAll(() => roots.forEach((root) => rmSync(root, { recursive: true, force: true })))

/** Times in order, inside the file; morae inside their word and in order. */
function expectOrdered(timings: TaskTimings, fileSeconds: number): void {
  expect(Math.abs(timings.duration - fileSeconds)).toBeLessThan(0.001)
  let at = 0
  for (const segment of timings.segments) {
    expect(segment.start).toBeGreaterThanOrEqual(at)
    expect(segment.end).toBeGreaterThanOrEqual(segment.start)
    expect(segment.end).toBeLessThanOrEqual(timings.duration + 0.001)
    expect(Array.from(timings.text).slice(segment.charStart, segment.charEnd).join('')).toBe(segment.text)
    let moraAt = segment.start
    for (const mora of segment.morae) {
      expect(mora.start).toBeGreaterThanOrEqual(moraAt - 1e-9)
      expect(mora.end).toBeLessThanOrEqual(segment.end + 1e-9)
      moraAt = mora.end
    }
    at = segment.start
  }
}

describe('timings', () => {
  it('come back in the task result and in <output>.timings.json, per pool or per task', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kokoro-pool-timings-'))
    roots.push(dir)
    const pool = new AudioWorkerPool(2, { timings: true })
    pool.addTasks([
      { id: 'sentence', text: '学校で、{本|ほん}を読みます。', outputPath: path.join(dir, 'sentence.wav') },
      { id: 'plain', text: '水', outputPath: path.join(dir, 'plain.wav'), timings: false },
    ])
    const result = await pool.process()
    expect(result.success).toBe(2)
    const sentence = result.results.get('sentence')!
    const timings = sentence.timings!
    expect(sentence.timingsPath).toBe(path.join(dir, 'sentence.wav.timings.json'))
    expect(JSON.parse(readFileSync(sentence.timingsPath!, 'utf8'))).toEqual(timings)
    expectOrdered(timings, readWav(sentence.outputPath).durationSeconds)
    expect(timings.segments.map((segment) => [segment.kind, segment.text, segment.kana])).toEqual([
      ['word', '学校', 'ガッコー'],
      ['word', 'で', 'デ'],
      ['pause', '、', '、'],
      ['word', '{本|ほん}', 'ホン'],
      ['word', 'を', 'ヲ'],
      ['word', '読みます', 'ヨミマス'],
      ['pause', '。', '。'],
    ])
    expect(timings.segments[0].morae.map((mora) => mora.kana)).toEqual(['ガ', 'ッ', 'コ', 'ー'])
    const plain = result.results.get('plain')!
    expect(plain.timings).toBeUndefined()
    expect(existsSync(path.join(dir, 'plain.wav.timings.json'))).toBe(false)
  })

  it('make the pause at 、 that commaPauseMs asks for, silent in the file where the timings put it', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kokoro-pool-pauses-'))
    roots.push(dir)
    // Kokoro glides through this comma (imaa ame) unless the pool makes the pause.
    const text = '今、雨が降っています。'
    const spoken = new Map<number, { timings: TaskTimings; samples: Float32Array; sampleRate: number }>()
    for (const commaPauseMs of [150, 300]) {
      const pool = new AudioWorkerPool(1, { timings: true, commaPauseMs })
      const outputPath = path.join(dir, `comma-${commaPauseMs}.wav`)
      pool.addTasks([{ id: 'rain', text, outputPath }])
      const result = (await pool.process()).results.get('rain')!
      expect(result.error).toBeUndefined()
      const wav = readWav(outputPath)
      expectOrdered(result.timings!, wav.durationSeconds)
      spoken.set(commaPauseMs, { timings: result.timings!, samples: wav.samples, sampleRate: wav.sampleRate })
    }
    for (const [commaPauseMs, { timings, samples, sampleRate }] of spoken) {
      const comma = timings.segments.find((segment) => segment.text === '、')!
      expect(comma.end - comma.start).toBeGreaterThanOrEqual(commaPauseMs / 1000 - 0.0001)
      // After the fade-out (15 ms of it inside the pause), digital silence until the next word starts.
      const silence = samples.subarray(Math.ceil((comma.start + 0.0151) * sampleRate), Math.floor(comma.end * sampleRate))
      expect(silence.length).toBeGreaterThan(0.13 * sampleRate)
      expect(Math.max(...silence.map(Math.abs))).toBe(0)
      const next = timings.segments[timings.segments.indexOf(comma) + 1]
      expect(next.start).toBeCloseTo(comma.end, 4)
    }
    // The same speech around it: only the pause is longer.
    expect(spoken.get(300)!.timings.duration - spoken.get(150)!.timings.duration).toBeCloseTo(0.15, 3)
    expect(() => new AudioWorkerPool(1, { commaPauseMs: 6000 })).toThrow(
      expect.objectContaining({ code: 'InvalidArg', message: expect.stringMatching(/comma pause 6000 ms is out of range/) }),
    )
  })

  it('tts-generate --captions vtt writes WebVTT beside each file and its URL with --update-json', async () => {
    const course = tinyCourse()
    course.vocabulary.items = course.vocabulary.items.slice(0, 1)
    const { root, dataDir, outDir } = writeCourse(course)
    roots.push(root)
    const args = ['--type', 'vocabulary', '--captions', 'vtt', '--update-json', '--data-dir', dataDir, '--out-dir', outDir]
    const first = await runCli(args)
    expect(first.stderr).toBe('')
    expect(first.code).toBe(0)
    const vtt = readFileSync(path.join(outDir, 'vocabulary', 'mizu.example.vtt'), 'utf8')
    // 水です。: cues for 水 (characters 0-1) and です (1-3), in order.
    expect(vtt).toMatch(/^WEBVTT\n\n0-1\n00:00:\d\d\.\d{3} --> 00:00:\d\d\.\d{3}\n水\n\n1-3\n00:00:\d\d\.\d{3} --> 00:00:\d\d\.\d{3}\nです\n$/)
    const item = JSON.parse(readFileSync(path.join(dataDir, 'vocabulary.json'), 'utf8')).items[0]
    expect(item.captions).toBe('/audio/vocabulary/mizu.vtt')
    expect(item.example).toMatchObject({
      audio: '/audio/vocabulary/mizu.example.wav',
      captions: '/audio/vocabulary/mizu.example.vtt',
    })
    const second = await runCli(args)
    expect(second.stdout).toContain('vocabulary: 0 to generate, 2 already there')
  })
})
