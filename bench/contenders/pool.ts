// Contender 1: kokoro-pool's AudioWorkerPool at a given concurrency, with its default inference layout.
// The harness runs this file compiled to plain JavaScript, so the process measured is Node and the addon.
//
//   node pool.js ADDON_MODULE CONCURRENCY ITEMS.json OUT_DIR REPORT.json [MODEL] [timings] [model-pauses]

import { renameSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'

import type { ContenderReport, ItemReport, ItemsFile } from '../workload'

async function main(): Promise<void> {
  const [addonModule, concurrency, itemsFile, outDir, reportFile, ...flags] = process.argv.slice(2)
  const { AudioWorkerPool } = require(addonModule) as typeof import('../..')
  const { items } = JSON.parse(readFileSync(itemsFile, 'utf8')) as ItemsFile
  const model = flags.find((flag): flag is 'speech-window' | 'untouched' => flag === 'speech-window' || flag === 'untouched')
  const pool = new AudioWorkerPool(Number(concurrency), {
    skipExisting: false,
    timeoutMs: 600_000,
    timings: flags.includes('timings'),
    ...(flags.includes('model-pauses') ? { commaPauseMs: 0, sentencePauseMs: 0 } : {}),
    ...(model ? { model } : {}),
  })
  pool.addTasks(items.map((item) => ({ id: item.id, text: item.text, outputPath: path.join(outDir, `${item.id}.wav`) })))
  const reports: ItemReport[] = []
  const callbackUnixMs: Record<string, number> = {}
  await pool.process((progress) => {
    callbackUnixMs[progress.id] = performance.timeOrigin + performance.now()
    reports.push({
      id: progress.id,
      ms: progress.elapsedMs,
      audioSeconds: progress.audioSeconds,
      ok: progress.ok,
      ...(progress.error === undefined ? {} : { error: progress.error }),
    })
  })
  const report: ContenderReport = { items: reports, callbackUnixMs }
  writeFileSync(`${reportFile}.tmp`, JSON.stringify(report))
  renameSync(`${reportFile}.tmp`, reportFile)
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
