// The event loop keeps turning while a pool verifies its assets and loads the model and dictionary:
// the load runs off the JS thread, and the seed's usage (constructor, addTasks, process) waits for it.
import { execFile } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { promisify } from 'node:util'

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
