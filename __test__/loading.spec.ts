// The pool's load (asset verification, model, dictionary) runs off the JS thread: the event loop keeps
// turning meanwhile, and the seed's usage (constructor, addTasks, process) waits for it or cancels it.
import { execFile } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { promisify } from 'node:util'

import { AudioWorkerPool, assetsDir } from '../index'
import { readWav } from './helpers/wav'

const repoRoot = path.resolve(__dirname, '..')

interface TickReport {
  constructed: number
  ready: number | null
  firstProgress: number
  processed: number
  success: number
  maxDelayMs: number
}

it('a 10 ms interval keeps firing while a new pool loads its model, and the run starts after the load', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kokoro-pool-event-loop-'))
  try {
    // A fresh process: Jest's has loaded the model and hashed the assets already.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [path.join(__dirname, 'helpers', 'load-while-ticking.js'), repoRoot, dir],
      { cwd: repoRoot },
    )
    const report = JSON.parse(stdout) as TickReport
    console.log(`event loop while loading: ${JSON.stringify(report)}`)
    expect(report.ready).not.toBeNull()
    // Ticks counted between the constructor's return and the end of the load: the loop turned during it.
    expect(report.ready! - report.constructed).toBeGreaterThanOrEqual(5)
    expect(report.firstProgress).toBeGreaterThanOrEqual(report.ready!)
    expect(report.success).toBe(1)
    expect(readWav(path.join(dir, 'taberu.wav')).sampleRate).toBe(24000)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

it('a run cancelled while the model loads ends every task cancelled, without running any', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kokoro-pool-cancel-load-'))
  try {
    // Links to the real assets under a new folder: a new engine to load, and its files to hash again.
    const assets = path.join(dir, 'assets')
    fs.mkdirSync(assets)
    for (const name of fs.readdirSync(assetsDir())) fs.symlinkSync(path.join(assetsDir(), name), path.join(assets, name))
    const pool = new AudioWorkerPool(1, { assetsDir: assets })
    pool.addTasks(['水', '猫'].map((text, i) => ({ id: `w${i}`, text, outputPath: path.join(dir, `w${i}.wav`) })))
    const controller = new AbortController()
    const run = pool.process(undefined, controller.signal)
    controller.abort()
    const result = await run
    expect(result.success).toBe(0)
    expect([...result.results.values()].map((r) => r.error?.message)).toEqual([
      'task "w0": cancelled',
      'task "w1": cancelled',
    ])
    expect(fs.readdirSync(dir)).toEqual(['assets'])
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
