// Controlling a run of the native AudioWorkerPool: cancel and AbortSignal (by the DOM rules), progress
// callbacks that throw, empty runs, tasks added during a run, and the options that pick threads and voice.
import { getEventListeners } from 'node:events'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

import { AudioWorkerPool, phonemize, type Progress } from '../index'
import { readWav } from './helpers/wav'

let dir: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kokoro-pool-control-'))
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

const output = (id: string) => path.join(dir, `${id}.wav`)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

// About four minutes of speech given as phonemes (no text analysis): minutes of inference on one slot.
const LONG_PHONEMES = phonemize('今日は朝から雨が降っていたので、図書館で日本語の本を読みました。').repeat(40)

describe('cancelling a run', () => {
  it('stops a running inference: it and the tasks waiting for the slot end as cancelled, nothing is written', async () => {
    const pool = new AudioWorkerPool(3, { inferenceSlots: 1, timeoutMs: 3_600_000 })
    const ids = ['long-1', 'long-2', 'long-3']
    pool.addTasks(ids.map((id) => ({ id, text: 'ignored', phonemes: LONG_PHONEMES, outputPath: output(id) })))
    const controller = new AbortController()
    const events: Progress[] = []
    const running = pool.process((p) => events.push(p), controller.signal)
    // One task takes the only slot as soon as its phonemes are tokenised (milliseconds); the other two wait
    // for it. Abort once that inference is well under way.
    while (pool.getActiveWorkers() < 3) await sleep(10)
    await sleep(1000)
    expect(events).toEqual([])
    controller.abort()
    // Were the inference not terminated, this would take minutes and the test would time out.
    const result = await running
    expect(result).toMatchObject({ success: 0, failed: 0, cancelled: 3 })
    for (const id of ids) {
      const entry = result.results.get(id)!
      expect(entry.status).toBe('cancelled')
      expect(entry.error).toMatchObject({ code: 'Cancelled', message: `task "${id}": cancelled` })
    }
    expect(events.map((e) => [e.status, e.code, e.ok])).toEqual(Array(3).fill(['cancelled', 'Cancelled', false]))
    expect(fs.readdirSync(dir)).toEqual([])

    // The slot is free again for the next run.
    pool.addTasks([{ id: 'after', text: '水', outputPath: output('after') }])
    expect((await pool.process()).success).toBe(1)
  }, 60_000)

  it('rejects at once, with the reason, when the signal is already aborted, and leaves the queue as it was', async () => {
    const pool = new AudioWorkerPool(1)
    pool.addTasks([{ id: 'w', text: '水', outputPath: output('w') }])
    const controller = new AbortController()
    const reason = new Error('the user closed the page')
    controller.abort(reason)
    let called = false
    await expect(pool.process(() => (called = true), controller.signal)).rejects.toBe(reason)
    expect(called).toBe(false)
    expect(pool.getQueueSize()).toBe(1)
    expect(fs.readdirSync(dir)).toEqual([])
    expect((await pool.process()).success).toBe(1)
  })

  it('refuses a signal that is not an AbortSignal without losing the queue', async () => {
    const pool = new AudioWorkerPool(1)
    pool.addTasks([{ id: 'w', text: '水', outputPath: output('w') }])
    expect(() => pool.process(undefined, { aborted: false } as AbortSignal)).toThrow(
      expect.objectContaining({ code: 'InvalidArg', message: expect.stringMatching(/must be an AbortSignal/) }),
    )
    expect(pool.getQueueSize()).toBe(1)
  })

  it('listens with addEventListener for one run only: a reused signal cannot cancel a later run', async () => {
    const pool = new AudioWorkerPool(1)
    const controller = new AbortController()
    const callersOwn: string[] = []
    controller.signal.onabort = () => callersOwn.push('onabort')
    controller.signal.addEventListener('abort', () => callersOwn.push('listener'))

    pool.addTasks([{ id: 'first', text: '水', outputPath: output('first') }])
    expect((await pool.process(undefined, controller.signal)).success).toBe(1)
    // The caller's handler and listener are untouched; the pool's own listener is gone with its run.
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(2)

    pool.addTasks([{ id: 'second', text: '猫', outputPath: output('second') }])
    const second = pool.process()
    controller.abort() // while the second run is under way

    expect(callersOwn).toEqual(['onabort', 'listener'])
    const result = await second
    expect(result.results.get('second')!.status).toBe('generated')
    expect(readWav(output('second')).sampleRate).toBe(24000)
  })
})

describe('process()', () => {
  it('goes on when the progress callback throws: every task runs and every callback is called', async () => {
    const pool = new AudioWorkerPool(2)
    pool.addTasks([
      { id: 'a', text: '水', outputPath: output('a') },
      { id: 'b', text: '猫', outputPath: output('b') },
    ])
    const seen: string[] = []
    const result = await pool.process((p) => {
      seen.push(p.id)
      throw new Error(`the callback fails on ${p.id}`)
    })
    expect(seen.sort()).toEqual(['a', 'b'])
    expect(result).toMatchObject({ success: 2, failed: 0 })
    expect(fs.readdirSync(dir).sort()).toEqual(['a.wav', 'b.wav'])
  })

  it('resolves an empty queue with zero counts and an empty Map, without calling the callback', async () => {
    const pool = new AudioWorkerPool(2)
    let calls = 0
    const result = await pool.process(() => calls++)
    expect(result).toMatchObject({ success: 0, failed: 0, skipped: 0, cancelled: 0, timedOut: 0, audioSeconds: 0 })
    expect(result.results.size).toBe(0)
    expect(calls).toBe(0)
  })

  it('keeps tasks added during a run for the next run', async () => {
    const pool = new AudioWorkerPool(1)
    pool.addTasks([{ id: 'now', text: '水', outputPath: output('now') }])
    const running = pool.process()
    pool.addTasks([{ id: 'later', text: '猫', outputPath: output('later') }])
    expect(pool.getQueueSize()).toBeGreaterThanOrEqual(1)
    const first = await running
    expect([...first.results.keys()]).toEqual(['now'])
    expect(pool.getQueueSize()).toBe(1)
    const second = await pool.process()
    expect([...second.results.keys()]).toEqual(['later'])
    expect(second.success).toBe(1)
  })

  it('reports 100,000 queued tasks, added one call at a time, as cancelled when the run is cancelled at once', async () => {
    const pool = new AudioWorkerPool(1024)
    const count = 100_000
    // addTasks costs what it adds: one at a time, this is linear (it used to rebuild the queue's indexes).
    for (let i = 0; i < count; i++) pool.addTasks([{ id: `t${i}`, text: '水', outputPath: path.join(dir, `t${i}.wav`) }])
    expect(pool.getQueueSize()).toBe(count)
    let events = 0
    const running = pool.process(() => events++)
    pool.cancel()
    const result = await running
    expect(result).toMatchObject({ success: 0, failed: 0, cancelled: count })
    expect(result.results.size).toBe(count)
    expect(result.results.get(`t${count - 1}`)!.error!.code).toBe('Cancelled')
    expect(events).toBe(count)
    expect(fs.readdirSync(dir)).toEqual([])
  })
})

describe('options', () => {
  it('threadsPerSlot changes the threads, not the speech: the int8 model gives the same audio', async () => {
    const single = new AudioWorkerPool(1, { inferenceSlots: 1, threadsPerSlot: 1 })
    const double = new AudioWorkerPool(1, { inferenceSlots: 1, threadsPerSlot: 2 })
    single.addTasks([{ id: 'one', text: '図書館', outputPath: output('one') }])
    double.addTasks([{ id: 'two', text: '図書館', outputPath: output('two') }])
    expect((await single.process()).success).toBe(1)
    expect((await double.process()).success).toBe(1)
    expect(readWav(output('two'))).toEqual(readWav(output('one')))
  })

  it('defaultVoice is the voice of tasks that name none', async () => {
    const kumo = new AudioWorkerPool(2, { defaultVoice: 'jm_kumo' })
    kumo.addTasks([{ id: 'default', text: '図書館', outputPath: output('default') }])
    const plain = new AudioWorkerPool(2)
    plain.addTasks([
      { id: 'named', text: '図書館', voice: 'jm_kumo', outputPath: output('named') },
      { id: 'alpha', text: '図書館', outputPath: output('alpha') },
    ])
    expect((await kumo.process()).success).toBe(1)
    expect((await plain.process()).success).toBe(2)
    expect(readWav(output('default'))).toEqual(readWav(output('named')))
    expect(readWav(output('default'))).not.toEqual(readWav(output('alpha')))
  })
})
