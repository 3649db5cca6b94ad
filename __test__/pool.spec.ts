// The native AudioWorkerPool against the real Kokoro model, on short inputs.
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { types } from 'node:util'

import { AudioWorkerPool, phonemize, type AudioTask, type Progress } from '../index'
import { readWav } from './helpers/wav'

const WORDS = ['食べる', '図書館', '水', '日本語', '猫', '学校']

let dir: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kokoro-pool-'))
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

function wordTasks(words: string[]): AudioTask[] {
  return words.map((text, i) => ({ id: `w${i}`, text, outputPath: path.join(dir, `w${i}.wav`) }))
}

describe('AudioWorkerPool', () => {
  it('runs at most `concurrency` tasks at once, reaches that limit, and reports progress once per task before resolving', async () => {
    const pool = new AudioWorkerPool(2)
    const tasks = wordTasks(WORDS.slice(0, 4))
    pool.addTasks(tasks)
    expect(pool.getQueueSize()).toBe(4)
    expect(pool.getActiveWorkers()).toBe(0)
    // The model loads first (all 4 wait meanwhile); the counters below are those of the run.
    await pool.ready()

    const events: Progress[] = []
    const liveActive: number[] = []
    const liveQueued: number[] = []
    // Inference runs on native threads, so the JS thread is free to watch the live counters.
    const sampler = setInterval(() => {
      liveActive.push(pool.getActiveWorkers())
      liveQueued.push(pool.getQueueSize())
    }, 5)
    const result = await pool.process((progress) => {
      events.push(progress)
    })
    clearInterval(sampler)

    // Every callback ran before the Promise resolved.
    expect(events).toHaveLength(4)
    expect(new Set(events.map((e) => e.id))).toEqual(new Set(tasks.map((t) => t.id)))
    expect(events.map((e) => e.completed)).toEqual([1, 2, 3, 4])
    expect(events.every((e) => e.total === 4 && e.ok && e.status === 'generated')).toBe(true)
    expect(Math.max(...liveActive)).toBe(2)
    expect(Math.max(...events.map((e) => e.active))).toBeLessThanOrEqual(1)
    // The queue drains as tasks start: two were waiting while the first two ran.
    expect(Math.max(...liveQueued)).toBe(2)
    expect(events[0].queued).toBeLessThanOrEqual(2)
    expect(events[3].queued).toBe(0)
    expect(events[3].audioSeconds).toBeGreaterThan(0)

    expect(result.success).toBe(4)
    expect(result.failed).toBe(0)
    expect(result.skipped).toBe(0)
    expect(result.elapsedMs).toBeGreaterThan(0)
    expect(types.isMap(result.results)).toBe(true)
    expect(result.results.size).toBe(4)
    expect(pool.getActiveWorkers()).toBe(0)
    expect(pool.getQueueSize()).toBe(0)
  })

  it('writes 24 kHz mono 16-bit WAV files whose duration fits the phonemes and that are not silent', async () => {
    const pool = new AudioWorkerPool(2)
    const tasks = wordTasks(['食べる', 'きょうはいいてんきですね。'])
    pool.addTasks(tasks)
    const result = await pool.process()
    for (const task of tasks) {
      const entry = result.results.get(task.id)!
      expect(entry.error).toBeUndefined()
      expect(entry.status).toBe('generated')
      expect(entry.outputPath).toBe(task.outputPath)
      const wav = readWav(task.outputPath)
      expect(wav).toMatchObject({ sampleRate: 24000, channels: 1, bitsPerSample: 16 })
      const phonemeCount = [...entry.phonemes!].length
      expect(phonemeCount).toBeGreaterThan(3)
      // Spoken Japanese runs at roughly 10-20 phonemes a second; allow a wide margin either side.
      expect(wav.durationSeconds).toBeGreaterThan(phonemeCount * 0.02)
      expect(wav.durationSeconds).toBeLessThan(phonemeCount * 0.25 + 0.5)
      expect(entry.durationSeconds).toBeCloseTo(wav.durationSeconds, 2)
      expect(wav.rms).toBeGreaterThan(0.01)
    }
    // No temp files are left beside the outputs.
    expect(fs.readdirSync(dir).sort()).toEqual(['w0.wav', 'w1.wav'])
  })

  it('isolates failures: each bad task gets its own Error naming the cause, the others succeed', async () => {
    const blocker = path.join(dir, 'not-a-folder')
    fs.writeFileSync(blocker, 'a file where a folder should be')
    const pool = new AudioWorkerPool(2)
    pool.addTasks([
      { id: 'good-1', text: '水', outputPath: path.join(dir, 'good-1.wav') },
      { id: 'bad-voice', text: '水', voice: 'no_such_voice', outputPath: path.join(dir, 'bad-voice.wav') },
      { id: 'empty', text: '   ', outputPath: path.join(dir, 'empty.wav') },
      { id: 'emoji', text: '😀🎉', outputPath: path.join(dir, 'emoji.wav') },
      { id: 'bad-path', text: '水', outputPath: path.join(blocker, 'x.wav') },
      { id: 'bad-speed', text: '水', speed: 10, outputPath: path.join(dir, 'bad-speed.wav') },
      { id: 'good-2', text: '猫', outputPath: path.join(dir, 'good-2.wav') },
    ])
    const failedEvents: string[] = []
    const result = await pool.process((p) => {
      if (!p.ok) failedEvents.push(`${p.id}: ${p.error}`)
    })
    expect(result.success).toBe(2)
    expect(result.failed).toBe(5)
    expect(failedEvents).toHaveLength(5)
    const message = (id: string, code: string) => {
      const entry = result.results.get(id)!
      expect(entry.status).toBe('failed')
      // A real Error (Jest's sandbox has its own Error class, so ask util.types rather than instanceof).
      expect(types.isNativeError(entry.error)).toBe(true)
      expect(entry.error!.code).toBe(code)
      return entry.error!.message
    }
    expect(message('bad-voice', 'UnknownVoice')).toMatch(/bad-voice.*no_such_voice/)
    expect(message('empty', 'EmptyText')).toMatch(/empty.*(empty|nothing)/i)
    expect(message('emoji', 'NothingSpeakable')).toMatch(/emoji.*nothing speakable/i)
    expect(message('bad-path', 'WriteFailed')).toMatch(/bad-path.*not-a-folder/)
    expect(message('bad-speed', 'SpeedOutOfRange')).toMatch(/bad-speed.*speed/)
    for (const id of ['good-1', 'good-2']) {
      expect(result.results.get(id)!.error).toBeUndefined()
      expect(readWav(path.join(dir, `${id}.wav`)).rms).toBeGreaterThan(0.01)
    }
    expect(fs.existsSync(path.join(dir, 'bad-voice.wav'))).toBe(false)
  })

  it('stops an inference that runs past the timeout and frees its slot', async () => {
    // About a minute of speech: tens of seconds of inference on any CPU, far past the 5 s timeout,
    // while one word takes well under it even on a loaded 2-core machine.
    const long = '今日は朝から雨が降っていたので、図書館で日本語の本を読みました。'.repeat(8)
    const pool = new AudioWorkerPool(1, { timeoutMs: 5000, inferenceSlots: 1 })
    pool.addTasks([
      { id: 'too-long', text: long, outputPath: path.join(dir, 'too-long.wav') },
      { id: 'after', text: '水', outputPath: path.join(dir, 'after.wav') },
    ])
    const result = await pool.process()
    const entry = result.results.get('too-long')!
    expect(entry.status).toBe('timed-out')
    expect(entry.error?.code).toBe('Timeout')
    expect(entry.error?.message).toMatch(/too-long.*timed out after 5000 ms while running the model/)
    expect(result).toMatchObject({ success: 1, failed: 0, timedOut: 1 })
    // That the run is terminated rather than waited for is proven without a clock in the engine's
    // tests (scheduler.rs: no audio is ever decoded); here: nothing written, the slot free again.
    expect(fs.existsSync(path.join(dir, 'too-long.wav'))).toBe(false)
    // The slot was freed: the next task ran on it and finished.
    expect(result.results.get('after')!.status).toBe('generated')
    expect(readWav(path.join(dir, 'after.wav')).sampleRate).toBe(24000)
    expect(fs.readdirSync(dir)).toEqual(['after.wav'])
  })

  it('skips complete outputs, replaces incomplete ones and says why', async () => {
    const tasks = wordTasks(['水', '日', '猫'])
    const first = new AudioWorkerPool(2)
    first.addTasks(tasks)
    expect((await first.process()).success).toBe(3)
    const before = fs.statSync(tasks[0].outputPath).mtimeMs
    // What a power loss before the data reached the disk can leave: a header alone, an empty file.
    const wav = fs.readFileSync(tasks[1].outputPath)
    fs.writeFileSync(tasks[1].outputPath, wav.subarray(0, wav.indexOf('data') + 8))
    fs.writeFileSync(tasks[2].outputPath, '')

    const second = new AudioWorkerPool(2)
    second.addTasks(tasks)
    const statuses = new Map<string, string>()
    const result = await second.process((p) => statuses.set(p.id, p.status))
    expect(result).toMatchObject({ success: 2, failed: 0, skipped: 1 })
    expect(statuses).toEqual(new Map([['w0', 'skipped'], ['w1', 'generated'], ['w2', 'generated']]))
    expect(result.results.get('w0')!.status).toBe('skipped')
    expect(fs.statSync(tasks[0].outputPath).mtimeMs).toBe(before)
    expect(result.results.get('w1')!.replacedInvalidOutput).toMatch(/cut short/)
    expect(result.results.get('w2')!.replacedInvalidOutput).toMatch(/not a complete WAV/)
    for (const task of tasks.slice(1)) expect(readWav(task.outputPath).rms).toBeGreaterThan(0.01)

    const overwrite = new AudioWorkerPool(2, { skipExisting: false })
    overwrite.addTasks(tasks.slice(0, 1))
    expect((await overwrite.process()).success).toBe(1)
  })

  it('uses the given phonemes instead of the text, and honours voice and speed', async () => {
    const pool = new AudioWorkerPool(2)
    pool.addTasks([
      { id: 'normal', text: '食べる', outputPath: path.join(dir, 'normal.wav') },
      { id: 'slow', text: '食べる', speed: 0.6, voice: 'jm_kumo', outputPath: path.join(dir, 'slow.wav') },
      { id: 'given', text: 'ignored', phonemes: phonemize('食べる'), outputPath: path.join(dir, 'given.wav') },
    ])
    const result = await pool.process()
    expect(result.success).toBe(3)
    const normal = readWav(path.join(dir, 'normal.wav')).durationSeconds
    expect(readWav(path.join(dir, 'slow.wav')).durationSeconds).toBeGreaterThan(normal * 1.3)
    expect(result.results.get('given')!.phonemes).toBe(result.results.get('normal')!.phonemes)
  })

  it('speaks the same word with the speech-window model, which skips the silence the default model decodes', async () => {
    const pool = new AudioWorkerPool(1)
    pool.addTasks([{ id: 'untouched', text: '食べる', outputPath: path.join(dir, 'untouched.wav') }])
    const windowed = new AudioWorkerPool(1, { model: 'speech-window' })
    windowed.addTasks([{ id: 'window', text: '食べる', outputPath: path.join(dir, 'window.wav') }])
    expect((await pool.process()).success).toBe(1)
    expect((await windowed.process()).success).toBe(1)
    const untouched = readWav(path.join(dir, 'untouched.wav')).durationSeconds
    // After trimming, both keep the same speech (the engine's frame-count test checks the decoding).
    expect(readWav(path.join(dir, 'window.wav')).durationSeconds / untouched).toBeGreaterThan(0.97)
    expect(readWav(path.join(dir, 'window.wav')).durationSeconds / untouched).toBeLessThan(1.03)
  })

  it('rejects bad configuration and bad task lists with InvalidArg errors naming the cause', async () => {
    expect(() => new AudioWorkerPool(0)).toThrow(expect.objectContaining({ code: 'InvalidArg', message: expect.stringMatching(/concurrency/) }))
    expect(() => new AudioWorkerPool(-1)).toThrow(/concurrency/)
    expect(() => new AudioWorkerPool(1e9)).toThrow(/concurrency/)
    expect(() => new AudioWorkerPool(2, { timeoutMs: 0 })).toThrow(/timeoutMs/)
    expect(() => new AudioWorkerPool(2, { model: 'float32' as never })).toThrow(
      expect.objectContaining({ code: 'InvalidArg', message: expect.stringMatching(/unknown model "float32"/) }),
    )
    // Assets are loaded off the JS thread: their problems reject ready() (and process()), naming the folder.
    const missing = path.join(dir, 'missing')
    const assetError = await new AudioWorkerPool(2, { assetsDir: missing }).ready().catch((error: Error & { code?: string }) => error)
    expect(assetError).toMatchObject({ code: 'GenericFailure' })
    expect(assetError?.message).toContain(`asset ${missing}/`)
    expect(assetError?.message).toContain('is missing: run `npx kokoro-pool fetch-assets`')
    expect(() => new AudioWorkerPool(2, { threadsPerSlot: 0 })).toThrow(
      expect.objectContaining({ code: 'InvalidArg', message: expect.stringMatching(/threads per slot is 0/) }),
    )

    const pool = new AudioWorkerPool(2)
    const task = { id: 'same', text: '水', outputPath: path.join(dir, 'a.wav') }
    expect(() => pool.addTasks([task, { ...task, outputPath: path.join(dir, 'b.wav') }])).toThrow(
      expect.objectContaining({ code: 'InvalidArg', message: expect.stringMatching(/duplicate task id "same"/) }),
    )
    pool.addTasks([task])
    expect(() => pool.addTasks([task])).toThrow(/duplicate task id "same"/)
    expect(() => pool.addTasks([{ ...task, id: '' }])).toThrow(/id/)

    const running = pool.process()
    await expect(pool.process()).rejects.toThrow(expect.objectContaining({ code: 'GenericFailure', message: expect.stringMatching(/already running/) }))
    await running
  })

  it('phonemize() turns Japanese into Kokoro phonemes and rejects text with nothing speakable', () => {
    expect(phonemize('食べる')).toBe('tabeɾɯ')
    expect(phonemize('3時15分')).toBe('saɲʥiʥɨːɡoɸɯɴ')
    expect(() => phonemize('🎉')).toThrow(/nothing speakable/)
  })
})
