// Child process for the reliability tests: `node --import tsx reliability-pool-run.ts <request.json>` runs one
// pool on the request's tasks and prints {results} as JSON, so a test can run the pool under limits (ulimit, a
// mount) that must not touch Jest's own process, and see whether the process survived.

import { readFileSync } from 'node:fs'

import { AudioWorkerPool, type AudioTask } from '../..'

export interface PoolRunRequest {
  concurrency: number
  tasks: AudioTask[]
}

export interface PoolRunOutcome {
  results: { id: string; status: string; error?: string }[]
}

async function run(requestFile: string): Promise<void> {
  const request = JSON.parse(readFileSync(requestFile, 'utf8')) as PoolRunRequest
  const pool = new AudioWorkerPool(request.concurrency)
  pool.addTasks(request.tasks)
  const result = await pool.process()
  const outcome: PoolRunOutcome = {
    results: [...result.results.values()].map((entry) => ({
      id: entry.id,
      status: entry.status,
      error: entry.error?.message,
    })),
  }
  process.stdout.write(`${JSON.stringify(outcome)}\n`)
}

run(process.argv[2]).catch((error: unknown) => {
  process.stderr.write(`pool run failed: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exitCode = 1
})
