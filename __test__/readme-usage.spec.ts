// The usage shown in the README and in the pool issue, verbatim: `tsc --noEmit` type-checks it
// (npm run typecheck) and this test runs it on one word.
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

import { AudioWorkerPool } from '../index'

it('runs the documented usage unchanged', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kokoro-usage-'))
  const tasks = [{ id: 'taberu', text: '食べる', outputPath: path.join(dir, 'taberu.wav') }]
  const logs: string[] = []
  const log = jest.spyOn(console, 'log').mockImplementation((line: string) => void logs.push(line))
  const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined)

  // --- the documented usage ---
  const pool = new AudioWorkerPool(8)            // concurrency, default 4; options object as 2nd arg
  pool.addTasks(tasks)                           // [{ id, text, outputPath, voice?, speed?, phonemes? }]
  const result = await pool.process((progress) => {
    // { completed, total, succeeded, failed, skipped, cancelled, timedOut, active, queued, id, status, ok, code?, error?, elapsedMs, audioSeconds }
    console.log(`Progress: ${progress.completed}/${progress.total}, active ${pool.getActiveWorkers()}`)
  })
  result.success; result.failed; result.skipped; result.cancelled; result.timedOut; result.elapsedMs
  for (const [id, data] of result.results) {      // a real Map
    if (data.error) console.error(`Failed: ${id} - ${data.error.message}`)   // an Error with a message and a code
    else console.log(`Generated: ${id} ${data.outputPath} ${data.durationSeconds}s`)
  }
  pool.getQueueSize(); pool.getActiveWorkers()   // live values while process() runs
  // --- end ---

  expect(errors).not.toHaveBeenCalled()
  log.mockRestore()
  errors.mockRestore()
  expect(logs[0]).toMatch(/^Progress: 1\/1, active \d$/)
  expect(logs[1]).toMatch(new RegExp(`^Generated: taberu ${path.join(dir, 'taberu.wav')} \\d+(\\.\\d+)?s$`))
  fs.rmSync(dir, { recursive: true, force: true })
})
