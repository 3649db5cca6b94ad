// npm run soak -- [--items 2000] [--concurrency 8] [--out-dir DIR] [--keep]: a long run of the native pool on the
// course's short texts, repeated, watching for leaks (docs/reliability.md, "Long run").
//
// Every second it samples this process's resident memory (VmRSS in /proc/self/status). The baseline is taken
// once the warm-up (the first 10% of the items, at least one batch) has finished, when the model,
// the dictionary, the ONNX Runtime arenas and the thread pools have all been touched; the end value is taken
// after the last item. It fails (exit 1) when the end RSS is more than 10% above the baseline, when the process
// holds more file descriptors at the end than after the warm-up, when any item failed, or when anything other
// than the finished WAV files is left in the output folder (temporary files).

import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import { AudioWorkerPool, type AudioTask } from '..'
import { loadCourse } from '../lib/course'
import { COURSE_TYPES } from '../lib/course-types'
import { buildSpeechJobs } from '../lib/speech-jobs'

export const MAX_RSS_GROWTH = 0.1

export interface SoakOptions {
  items: number
  concurrency: number
  /** Output root; a fresh temporary folder when absent. */
  outDir?: string
  /** Keep the generated files (default: the output folder is removed after it has been checked). */
  keep?: boolean
  /** Items per process() call (default: one repetition of the course's short texts). */
  batchSize?: number
  /** Items before the RSS and fd baseline is taken (default: 10% of the items, at least one batch). */
  warmupItems?: number
  /** Called with one line per finished batch (progress for the console). */
  log?: (line: string) => void
}

export interface SoakSummary {
  items: number
  concurrency: number
  batches: number
  generated: number
  failed: number
  firstFailures: string[]
  elapsedSeconds: number
  itemsPerSecond: number
  audioSeconds: number
  rssMiB: { start: number; afterWarmup: number; end: number; peak: number; growthAfterWarmupPercent: number }
  rssSamples: number
  fileDescriptors: { start: number; afterWarmup: number; end: number }
  wavFiles: number
  leftoverFiles: string[]
  cores: number
  loadAverage: { start: number[]; end: number[] }
  passed: boolean
  problems: string[]
}

/** Resident memory of this process in MiB, from /proc (Linux). */
export function rssMiB(): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))
  if (!match) throw new Error('no VmRSS line in /proc/self/status')
  return Number(match[1]) / 1024
}

export function openFileDescriptors(): number {
  return readdirSync('/proc/self/fd').length
}

/** The short texts of the bundled course (words, kanji readings, kanji example words): no sentences. */
export function shortCourseTexts(): string[] {
  const dataDir = path.resolve(__dirname, '..', 'data')
  const texts: string[] = []
  for (const type of COURSE_TYPES) {
    const jobs = buildSpeechJobs(loadCourse(dataDir, type), { outDir: os.tmpdir(), urlPrefix: '/audio' })
    for (const job of jobs) if (!/example(-\d+)?\.wav$/.test(job.fileName) || type === 'kanji') texts.push(job.text)
  }
  return texts
}

/** Every file under `dir` (relative paths), recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((name) =>
    statSync(path.join(dir, name)).isFile(),
  )
}

const round = (value: number, digits = 1): number => Number(value.toFixed(digits))

export async function runSoak(options: SoakOptions): Promise<SoakSummary> {
  const log = options.log ?? (() => {})
  const outDir = options.outDir ?? mkdtempSync(path.join(os.tmpdir(), 'kokoro-pool-soak-'))
  const texts = shortCourseTexts()
  const batchSize = options.batchSize ?? texts.length
  const batches = Math.ceil(options.items / batchSize)
  const warmupItems = options.warmupItems ?? Math.max(batchSize, Math.ceil(options.items / 10))
  const loadStart = os.loadavg()
  const fdStart = openFileDescriptors()
  const rssStart = rssMiB()

  const pool = new AudioWorkerPool(options.concurrency)
  let peak = rssStart
  let samples = 0
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssMiB())
    samples += 1
  }, 1000)

  let generated = 0
  let failed = 0
  let audioSeconds = 0
  const failures: string[] = []
  let afterWarmup: { rss: number; fds: number } | undefined
  const started = Date.now()
  try {
    // Several process() calls on one pool, as the CLI makes one per course type; item k speaks text k mod n.
    for (let batch = 0; batch < batches; batch++) {
      const first = batch * batchSize
      const count = Math.min(batchSize, options.items - first)
      const tasks: AudioTask[] = Array.from({ length: count }, (_, index) => ({
        id: `b${batch}-${index}`,
        text: texts[(first + index) % texts.length],
        outputPath: path.join(outDir, `b${batch}`, `${index}.wav`),
      }))
      pool.addTasks(tasks)
      const result = await pool.process()
      generated += result.success
      failed += result.failed
      audioSeconds += result.audioSeconds
      for (const [id, entry] of result.results) {
        if (entry.error && failures.length < 5) failures.push(`${id}: ${entry.error.message}`)
      }
      const done = first + count
      if (afterWarmup === undefined && done >= warmupItems) afterWarmup = { rss: rssMiB(), fds: openFileDescriptors() }
      log(
        `${done}/${options.items} items, ${round((Date.now() - started) / 1000)} s, RSS ${round(rssMiB())} MiB, ` +
          `${openFileDescriptors()} fds, load ${os.loadavg()[0].toFixed(2)}`,
      )
    }
  } finally {
    clearInterval(sampler)
  }
  const elapsedSeconds = (Date.now() - started) / 1000
  const rssEnd = rssMiB()
  const fdEnd = openFileDescriptors()
  const baseline = afterWarmup ?? { rss: rssEnd, fds: fdEnd }
  const files = filesUnder(outDir)
  const wavFiles = files.filter((name) => /^b\d+\/\d+\.wav$/.test(name))
  const leftoverFiles = files.filter((name) => !wavFiles.includes(name))
  if (!options.keep) rmSync(outDir, { recursive: true, force: true })

  const growth = (rssEnd - baseline.rss) / baseline.rss
  const problems: string[] = []
  if (growth > MAX_RSS_GROWTH) {
    problems.push(`RSS grew ${round(growth * 100)}% after the warm-up (limit ${MAX_RSS_GROWTH * 100}%)`)
  }
  if (fdEnd > baseline.fds) problems.push(`file descriptors: ${baseline.fds} after the warm-up, ${fdEnd} at the end`)
  if (failed > 0) problems.push(`${failed} items failed`)
  if (wavFiles.length !== generated) {
    problems.push(`${generated} items generated but ${wavFiles.length} WAV files found`)
  }
  if (leftoverFiles.length > 0) problems.push(`${leftoverFiles.length} files other than the outputs were left`)
  return {
    items: options.items,
    concurrency: options.concurrency,
    batches,
    generated,
    failed,
    firstFailures: failures,
    elapsedSeconds: round(elapsedSeconds),
    itemsPerSecond: round(generated / elapsedSeconds, 2),
    audioSeconds: round(audioSeconds),
    rssMiB: {
      start: round(rssStart),
      afterWarmup: round(baseline.rss),
      end: round(rssEnd),
      peak: round(Math.max(peak, rssEnd)),
      growthAfterWarmupPercent: round(growth * 100, 2),
    },
    rssSamples: samples,
    fileDescriptors: { start: fdStart, afterWarmup: baseline.fds, end: fdEnd },
    wavFiles: wavFiles.length,
    leftoverFiles: leftoverFiles.slice(0, 20),
    cores: os.availableParallelism(),
    loadAverage: { start: loadStart.map((x) => round(x, 2)), end: os.loadavg().map((x) => round(x, 2)) },
    passed: problems.length === 0,
    problems,
  }
}

function parseArgs(argv: string[]): SoakOptions {
  const options: SoakOptions = { items: 2000, concurrency: 8 }
  for (let i = 0; i < argv.length; i++) {
    const value = (): string => {
      const next = argv[++i]
      if (next === undefined) throw new Error(`${argv[i - 1]} needs a value`)
      return next
    }
    const whole = (name: string, text: string): number => {
      if (!/^\d+$/.test(text) || Number(text) < 1) {
        throw new Error(`${name} must be a whole number ≥ 1, not "${text}"`)
      }
      return Number(text)
    }
    switch (argv[i]) {
      case '--items':
        options.items = whole('--items', value())
        break
      case '--concurrency':
        options.concurrency = whole('--concurrency', value())
        break
      case '--out-dir':
        options.outDir = path.resolve(value())
        break
      case '--keep':
        options.keep = true
        break
      default:
        throw new Error(
          `unknown argument "${argv[i]}"; usage: soak [--items N] [--concurrency N] [--out-dir DIR] [--keep]`,
        )
    }
  }
  return options
}

if (require.main === module) {
  let options: SoakOptions
  try {
    options = parseArgs(process.argv.slice(2))
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n`)
    process.exit(2)
  }
  runSoak({ ...options, log: (line) => process.stderr.write(`${line}\n`) }).then(
    (summary) => {
      process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`)
      process.exitCode = summary.passed ? 0 : 1
    },
    (error: unknown) => {
      process.stderr.write(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
      process.exitCode = 1
    },
  )
}
