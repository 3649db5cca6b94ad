// The benchmark: every contender on the same fixed workloads in one run, interleaved, measured the same
// way from outside (wall, CPU of the process tree, peak RSS of the process tree), median of the runs.
// docs/benchmark.md explains the contenders, the workloads and how to read the results.
//
//   tsx bench/run.ts [--quick | --full] [--runs N] [--workloads vocab,sentences,mixed] [--contenders KEY,...]
//                    [--floor-layout 2x1:shared] [--trace] [--output PATH_WITHOUT_EXTENSION]

import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'

import {
  compileContenders,
  type Builds,
  type Contender,
  type Family,
  type FloorLayout,
  floorContender,
  floorLayoutName,
  MODELS,
  OLD_DESIGN_CONCURRENCY,
  oldDesignContender,
  parseFloorLayout,
  POOL_CONCURRENCIES,
  poolContender,
  PYTHON_PROCESS_COUNTS,
  pythonContender,
  type RunFiles,
} from './contenders'
import { describeMachine, loadAverage, type Machine } from './machine'
import { measure } from './measure'
import { renderMarkdown } from './report'
import { BENCH_DIR, FLOOR_BINARY, REPO_ROOT, VENV_PYTHON } from './setup'
import { median, percentile } from './stats'
import { summarizeTrace, type TraceSummary } from './trace'
import { type ContenderReport, loadWorkload, WORKLOAD_NAMES, type Workload, type WorkloadName } from './workload'

export type Mode = 'quick' | 'default' | 'full'
export type Strides = Record<WorkloadName, number>

/**
 * Every how many items of each workload a contender runs (1: all of them), by mode and family. The
 * whole matrix is 10 contenders x 3 workloads x 3 runs on CPU-bound work: on 2 cores, every item of
 * every workload takes about an hour (`--full`), so the default samples evenly to stay near 25 minutes.
 * The kokoro contenders (pool and floor) always run the same items, so their ratios are exact. The old
 * design pays a Python start and a model load per item: it always runs a sample.
 */
const SAMPLING: Record<Mode, Record<Family, Strides>> = {
  full: {
    kokoro: { vocab: 1, sentences: 1, mixed: 1 },
    python: { vocab: 1, sentences: 1, mixed: 1 },
    'old-design': { vocab: 4, sentences: 4, mixed: 4 },
  },
  default: {
    kokoro: { vocab: 2, sentences: 4, mixed: 1 },
    python: { vocab: 4, sentences: 4, mixed: 2 },
    'old-design': { vocab: 4, sentences: 4, mixed: 4 },
  },
  quick: {
    kokoro: { vocab: 10, sentences: 8, mixed: 4 },
    python: { vocab: 10, sentences: 8, mixed: 4 },
    'old-design': { vocab: 25, sentences: 20, mixed: 8 },
  },
}
/** Floor layouts are compared on every CALIBRATION_STRIDE-th word and sentence, once, before the runs. */
const CALIBRATION_STRIDE: Record<Mode, number> = { full: 4, default: 4, quick: 16 }
const MIB = 2 ** 20
/** Only named when the floor is not run (it is calibrated when it is). */
const DEFAULT_FLOOR_LAYOUT = '2x1:shared'

interface Options {
  mode: Mode
  runs: number
  workloads: WorkloadName[]
  contenders?: string[]
  floorLayout?: FloorLayout
  /** Trace the kokoro contenders' runs (KOKORO_POOL_TRACE) and summarise where their time goes. */
  trace: boolean
  output?: string
}

export interface RunRecord {
  run: number
  workload: WorkloadName
  contender: string
  loadBefore: number
  wallSeconds: number
  cpuSeconds: number
  peakRssMiB: number
  rssSamples: number
  items: number
  failed: number
  audioSeconds: number
  filesPerMinute: number
  audioSecondsPerWallSecond: number
  p50Ms: number | null
  p95Ms: number | null
  errors: string[]
  /** With --trace, for the kokoro contenders. */
  trace?: TraceSummary
}

export interface Summary {
  workload: WorkloadName
  contender: string
  label: string
  items: number
  runs: number
  failed: number
  filesPerMinute: number
  audioSecondsPerWallSecond: number
  p50Ms: number | null
  p95Ms: number | null
  cpuSeconds: number
  peakRssMiB: number
  /** Median over runs of this contender's files/min over the floor's in the same run. */
  ratioToFloor: number | null
}

export interface Target {
  description: string
  workload: WorkloadName
  value: number
  threshold: number
  atLeast: boolean
  met: boolean
}

export interface CalibrationEntry {
  layout: string
  wallSeconds: number
  filesPerMinute: number
  peakRssMiB: number
}

export interface Results {
  date: string
  command: string
  /** The commit measured ("+changes": with uncommitted changes to tracked files). */
  revision: string
  machine: Machine
  loadAverage: { start: number; end: number }
  /** True while the run is still going (the files are rewritten after every contender run). */
  partial: boolean
  options: { mode: Mode; runs: number }
  workloads: { name: WorkloadName; version: number; description: string; items: number; phonemeDrift: number }[]
  contenders: { key: string; label: string; strides: Strides }[]
  floorLayout: { chosen: string; calibration: CalibrationEntry[] }
  records: RunRecord[]
  summaries: Summary[]
  targets: Target[]
}

const USAGE = `usage: tsx bench/run.ts [--quick | --full] [--runs N] [--workloads ${WORKLOAD_NAMES.join(',')}]
                         [--contenders KEY,...] [--floor-layout SLOTSxTHREADS:shared|per-slot] [--trace] [--output PATH]`

function parseArguments(argv: string[]): Options {
  const options: Options = { mode: 'default', runs: 3, workloads: [...WORKLOAD_NAMES], trace: false }
  let runsGiven = false
  for (let index = 0; index < argv.length; index += 1) {
    const value = (): string => {
      const next = argv[++index]
      if (next === undefined) throw new Error(`${argv[index - 1]} needs a value\n${USAGE}`)
      return next
    }
    switch (argv[index]) {
      case '--quick':
      case '--full':
        options.mode = argv[index] === '--quick' ? 'quick' : 'full'
        break
      case '--runs':
        options.runs = Number(value())
        runsGiven = true
        if (!Number.isInteger(options.runs) || options.runs < 1) throw new Error(`--runs needs a whole number >= 1\n${USAGE}`)
        break
      case '--workloads':
        options.workloads = value().split(',') as WorkloadName[]
        for (const name of options.workloads) {
          if (!WORKLOAD_NAMES.includes(name)) throw new Error(`unknown workload ${JSON.stringify(name)}\n${USAGE}`)
        }
        break
      case '--contenders':
        options.contenders = value().split(',')
        break
      case '--floor-layout':
        options.floorLayout = parseFloorLayout(value())
        break
      case '--trace':
        options.trace = true
        break
      case '--output':
        options.output = value()
        break
      default:
        throw new Error(`unexpected argument ${JSON.stringify(argv[index])}\n${USAGE}`)
    }
  }
  if (options.mode === 'quick' && !runsGiven) options.runs = 1
  return options
}

function checkPrerequisites(): void {
  const missing: string[] = []
  const hasAddon = existsSync(path.join(REPO_ROOT, 'index.js')) && readdirSync(REPO_ROOT).some((file) => file.endsWith('.node'))
  if (!hasAddon) missing.push('the kokoro-pool addon (index.js and kokoro-pool.*.node): run `npm run build`')
  if (!existsSync(VENV_PYTHON) || !existsSync(FLOOR_BINARY)) {
    missing.push('bench/.venv or target/release/kokoro-floor: run `npm run bench:setup`')
  }
  if (!existsSync('/usr/bin/time')) missing.push('GNU time at /usr/bin/time (Debian: apt-get install time)')
  if (missing.length > 0) throw new Error(`the benchmark needs ${missing.join('; and ')}`)
}

const OUT_DIR = path.join(BENCH_DIR, 'out')

/**
 * Copies the addon and the floor binary aside, so that a rebuild in the checkout during a long run
 * cannot change what is measured half-way. Returns the copied addon's module folder and floor binary.
 */
function snapshotBuilds(): { addonModule: string; floorBinary: string } {
  const addonModule = path.join(OUT_DIR, 'addon')
  rmSync(addonModule, { recursive: true, force: true })
  mkdirSync(addonModule, { recursive: true })
  for (const file of readdirSync(REPO_ROOT).filter((name) => name === 'index.js' || name.endsWith('.node'))) {
    copyFileSync(path.join(REPO_ROOT, file), path.join(addonModule, file))
  }
  const floorBinary = path.join(OUT_DIR, 'bin', 'kokoro-floor')
  mkdirSync(path.dirname(floorBinary), { recursive: true })
  copyFileSync(FLOOR_BINARY, floorBinary)
  return { addonModule, floorBinary }
}

/** The commit measured, with "+changes" when the working tree differs from it. */
function sourceRevision(): string {
  const git = (...args: string[]) => spawnSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).stdout?.trim() ?? ''
  const commit = git('rev-parse', '--short', 'HEAD') || 'unknown'
  return git('status', '--porcelain', '--untracked-files=no') ? `${commit}+changes` : commit
}

/** Every `stride`-th item, from the first. */
function sample<T>(items: T[], stride: number): T[] {
  return items.filter((_, index) => index % stride === 0)
}

/** Writes the item files of every `stride`-th item once, and returns their paths. */
function itemFiles(workload: Workload, stride: number, cache: Map<string, Omit<RunFiles, 'outDir' | 'report'>>) {
  const key = `${workload.name}-every-${stride}`
  let files = cache.get(key)
  if (!files) {
    const items = sample(workload.items, stride).map((item) => ({ id: item.id, text: item.text }))
    files = { itemsJson: path.join(OUT_DIR, 'items', `${key}.json`), itemsJsonl: path.join(OUT_DIR, 'items', `${key}.jsonl`) }
    mkdirSync(path.dirname(files.itemsJson), { recursive: true })
    writeFileSync(files.itemsJson, JSON.stringify({ items }))
    writeFileSync(files.itemsJsonl, items.map((item) => JSON.stringify({ text: item.text })).join('\n') + '\n')
    cache.set(key, files)
  }
  return files
}

async function runOnce(
  contender: Contender,
  workload: Workload,
  stride: number,
  run: number,
  cache: Map<string, Omit<RunFiles, 'outDir' | 'report'>>,
  trace = false,
): Promise<RunRecord> {
  const outDir = path.join(OUT_DIR, 'wav', contender.key, workload.name)
  rmSync(outDir, { recursive: true, force: true })
  mkdirSync(outDir, { recursive: true })
  const files: RunFiles = { ...itemFiles(workload, stride, cache), outDir, report: path.join(OUT_DIR, `${contender.key}-${workload.name}.report.json`) }
  rmSync(files.report, { force: true })
  const loadBefore = loadAverage()
  const { command, args, env } = contender.invocation(files)
  const traceFile = trace && contender.family === 'kokoro' ? path.join(OUT_DIR, `${contender.key}-${workload.name}.trace.json`) : null
  if (traceFile) rmSync(traceFile, { force: true })
  const spawnedUnixMs = performance.timeOrigin + performance.now()
  const measured = await measure(command, args, traceFile ? { ...env, KOKORO_POOL_TRACE: traceFile } : env)
  if (measured.exitCode !== 0) {
    throw new Error(`${contender.label} on ${workload.name} exited with ${measured.exitCode}:\n${measured.stderrTail}`)
  }
  const outcome = contender.outcome(files, measured.stdout)
  const callbackUnixMs = existsSync(files.report)
    ? (JSON.parse(readFileSync(files.report, 'utf8')) as ContenderReport).callbackUnixMs
    : undefined
  rmSync(outDir, { recursive: true, force: true })
  const latencies = outcome.latenciesMs
  return {
    run,
    workload: workload.name,
    contender: contender.key,
    loadBefore,
    wallSeconds: measured.wallSeconds,
    cpuSeconds: measured.cpuSeconds,
    peakRssMiB: measured.peakRssBytes / MIB,
    rssSamples: measured.rssSamples,
    items: outcome.items,
    failed: outcome.failed,
    audioSeconds: outcome.audioSeconds,
    filesPerMinute: ((outcome.items - outcome.failed) / measured.wallSeconds) * 60,
    audioSecondsPerWallSecond: outcome.audioSeconds / measured.wallSeconds,
    p50Ms: latencies ? percentile(latencies, 50) : null,
    p95Ms: latencies ? percentile(latencies, 95) : null,
    errors: outcome.errors,
    ...(traceFile ? { trace: summarizeTrace(traceFile, spawnedUnixMs, measured.wallSeconds, callbackUnixMs) } : {}),
  }
}

/** Tries each slots x threads split of the cores, both session sharings, and keeps the fastest. */
async function calibrateFloor(options: Options, builds: Builds, vocab: Workload, sentences: Workload, cores: number) {
  const stride = CALIBRATION_STRIDE[options.mode]
  const items = [...sample(vocab.items, stride), ...sample(sentences.items, stride)]
  const calibrationWorkload: Workload = { ...vocab, items }
  const cache = new Map<string, Omit<RunFiles, 'outDir' | 'report'>>()
  const calibration: CalibrationEntry[] = []
  let best: { layout: FloorLayout; filesPerMinute: number } | undefined
  for (let slots = 1; slots <= cores; slots += 1) {
    if (cores % slots !== 0) continue
    for (const sharing of ['shared', 'per-slot'] as const) {
      const layout: FloorLayout = { slots, threads: cores / slots, sharing }
      const record = await runOnce(floorContender(builds, layout), calibrationWorkload, 1, 0, cache)
      calibration.push({
        layout: floorLayoutName(layout),
        wallSeconds: record.wallSeconds,
        filesPerMinute: record.filesPerMinute,
        peakRssMiB: record.peakRssMiB,
      })
      console.log(`[bench] floor layout ${floorLayoutName(layout)}: ${record.filesPerMinute.toFixed(1)} files/min`)
      if (!best || record.filesPerMinute > best.filesPerMinute) best = { layout, filesPerMinute: record.filesPerMinute }
    }
  }
  if (!best) throw new Error(`no floor layout fits ${cores} cores`)
  return { layout: best.layout, calibration }
}

/** How many frozen phoneme strings kokoro-pool's G2P no longer reproduces (the workload would have drifted). */
function phonemeDrift(workload: Workload, addonModule: string): number {
  const { phonemize } = require(addonModule) as typeof import('..')
  return workload.items.filter((item) => phonemize(item.text) !== item.phonemes).length
}

function summarize(records: RunRecord[], contenders: Contender[], workloads: Workload[]): Summary[] {
  const summaries: Summary[] = []
  for (const workload of workloads) {
    for (const contender of contenders) {
      const floorRecords = records.filter((r) => r.workload === workload.name && r.contender === contender.floorKey)
      const floorByRun = new Map(floorRecords.map((r) => [r.run, r.filesPerMinute]))
      const mine = records.filter((r) => r.workload === workload.name && r.contender === contender.key)
      if (mine.length === 0) continue
      // A ratio only between runs of the same items (a sampled contender has no exact floor to compare with).
      const sameItems = floorRecords.length > 0 && floorRecords[0].items === mine[0].items
      const ratios = mine
        .filter((r) => sameItems && floorByRun.has(r.run))
        .map((r) => r.filesPerMinute / (floorByRun.get(r.run) as number))
      const nullable = (values: (number | null)[]): number | null =>
        values.every((value) => value === null) ? null : median(values.filter((value): value is number => value !== null))
      summaries.push({
        workload: workload.name,
        contender: contender.key,
        label: contender.label,
        items: mine[0].items,
        runs: mine.length,
        failed: mine.reduce((sum, r) => sum + r.failed, 0),
        filesPerMinute: median(mine.map((r) => r.filesPerMinute)),
        audioSecondsPerWallSecond: median(mine.map((r) => r.audioSecondsPerWallSecond)),
        p50Ms: nullable(mine.map((r) => r.p50Ms)),
        p95Ms: nullable(mine.map((r) => r.p95Ms)),
        cpuSeconds: median(mine.map((r) => r.cpuSeconds)),
        peakRssMiB: median(mine.map((r) => r.peakRssMiB)),
        ratioToFloor: ratios.length > 0 ? median(ratios) : null,
      })
    }
  }
  return summaries
}

function evaluateTargets(summaries: Summary[], workloads: WorkloadName[]): Target[] {
  const targets: Target[] = []
  const find = (workload: WorkloadName, contender: string) =>
    summaries.find((s) => s.workload === workload && s.contender === contender)
  for (const workload of workloads) {
    // The default model's pools (the others name their model).
    const pools = summaries.filter((s) => s.workload === workload && /^pool-c\d+$/.test(s.contender))
    const best = pools.reduce<Summary | undefined>((a, b) => (a && a.filesPerMinute >= b.filesPerMinute ? a : b), undefined)
    if (best?.ratioToFloor != null) {
      targets.push({
        description: `kokoro-pool at its best concurrency (${best.contender}) vs the floor, throughput`,
        workload,
        value: best.ratioToFloor,
        threshold: 0.97,
        atLeast: true,
        met: best.ratioToFloor >= 0.97,
      })
    }
    const oldDesign = find(workload, `old-design-c${OLD_DESIGN_CONCURRENCY}`)
    const poolDefault = find(workload, `pool-c${OLD_DESIGN_CONCURRENCY}`)
    if (workload === 'vocab' && oldDesign && poolDefault) {
      const value = poolDefault.filesPerMinute / oldDesign.filesPerMinute
      targets.push({
        description: `kokoro-pool vs the old design, files/min, both at the default concurrency ${OLD_DESIGN_CONCURRENCY}`,
        workload,
        value,
        threshold: 5,
        atLeast: true,
        met: value >= 5,
      })
    }
    const c1 = find(workload, 'pool-c1')
    const c16 = find(workload, 'pool-c16')
    if (c1 && c16) {
      const value = c16.peakRssMiB / c1.peakRssMiB
      targets.push({
        description: 'kokoro-pool peak RSS, concurrency 16 vs concurrency 1',
        workload,
        value,
        threshold: 1.3,
        atLeast: false,
        met: value <= 1.3,
      })
    }
  }
  return targets
}

function outputBase(options: Options, date: Date): string {
  if (options.output) return path.resolve(options.output)
  const day = date.toISOString().slice(0, 10)
  if (options.mode === 'quick') return path.join(BENCH_DIR, 'results', 'tmp', `${day}-quick`)
  return path.join(BENCH_DIR, 'results', options.mode === 'full' ? `${day}-full` : day)
}

function writeResults(base: string, results: Results): string {
  mkdirSync(path.dirname(base), { recursive: true })
  const markdown = renderMarkdown(results)
  for (const [extension, content] of [
    ['json', `${JSON.stringify(results, null, 1)}\n`],
    ['md', markdown],
  ]) {
    writeFileSync(`${base}.${extension}.tmp`, content)
    renameSync(`${base}.${extension}.tmp`, `${base}.${extension}`)
  }
  return markdown
}

async function main(): Promise<void> {
  // Every contender inherits it: ONNX Runtime's telemetry off in the Python ones too (inference.rs, ORT_TELEMETRY_ENV).
  process.env.ORT_DISABLE_TELEMETRY ??= '1'
  const options = parseArguments(process.argv.slice(2))
  checkPrerequisites()
  compileContenders()
  const builds = snapshotBuilds()
  const revision = sourceRevision()
  const started = new Date()
  const loadAtStart = loadAverage()
  const machine = describeMachine(VENV_PYTHON)
  console.log(`[bench] ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}; load ${loadAtStart}`)

  const allWorkloads = Object.fromEntries(WORKLOAD_NAMES.map((name) => [name, loadWorkload(name)])) as Record<WorkloadName, Workload>
  const workloads = options.workloads.map((name) => allWorkloads[name])
  const drift = new Map(workloads.map((workload) => [workload.name, phonemeDrift(workload, builds.addonModule)]))
  for (const [name, count] of drift) {
    if (count > 0) console.warn(`[bench] warning: ${count} frozen phoneme strings of ${name} differ from today's G2P`)
  }

  const floorWanted = !options.contenders || options.contenders.some((key) => key.startsWith('floor'))
  const { layout, calibration } =
    options.floorLayout || !floorWanted
      ? { layout: options.floorLayout ?? parseFloorLayout(DEFAULT_FLOOR_LAYOUT), calibration: [] }
      : await calibrateFloor(options, builds, allWorkloads.vocab, allWorkloads.sentences, machine.cores)
  console.log(`[bench] floor layout: ${floorLayoutName(layout)}`)

  const defaultContenders: Contender[] = [
    ...POOL_CONCURRENCIES.map((concurrency) => poolContender(builds, concurrency)),
    poolContender(builds, 4, { timings: true }),
    floorContender(builds, layout),
    oldDesignContender(),
    pythonContender(0),
    ...PYTHON_PROCESS_COUNTS.map(pythonContender),
  ]
  // Run only when named: the pool with the pauses as the model speaks, and the other models (the pool at the
  // default concurrency and its floor).
  const everyContender = [
    ...defaultContenders,
    poolContender(builds, 4, { modelPauses: true }),
    ...MODELS.flatMap((model) => [poolContender(builds, OLD_DESIGN_CONCURRENCY, { model }), floorContender(builds, layout, model)]),
  ]
  const contenders = options.contenders
    ? options.contenders.map((key) => {
        const found = everyContender.find((contender) => contender.key === key)
        if (!found) throw new Error(`unknown contender ${key}; known: ${everyContender.map((c) => c.key).join(', ')}`)
        return found
      })
    : defaultContenders

  const base = outputBase(options, started)
  const strides = (contender: Contender): Strides => SAMPLING[options.mode][contender.family]
  const results = (records: RunRecord[], partial: boolean): Results => {
    const summaries = summarize(records, contenders, workloads)
    return {
      date: started.toISOString(),
      command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
      revision,
      machine,
      loadAverage: { start: loadAtStart, end: loadAverage() },
      partial,
      options: { mode: options.mode, runs: options.runs },
      workloads: workloads.map((workload) => ({
        name: workload.name,
        version: workload.version,
        description: workload.description,
        items: workload.items.length,
        phonemeDrift: drift.get(workload.name) ?? 0,
      })),
      contenders: contenders.map((c) => ({ key: c.key, label: c.label, strides: strides(c) })),
      floorLayout: { chosen: floorLayoutName(layout), calibration },
      records,
      summaries,
      targets: evaluateTargets(summaries, options.workloads),
    }
  }

  const cache = new Map<string, Omit<RunFiles, 'outDir' | 'report'>>()
  const records: RunRecord[] = []
  // Workload by workload (vocab first: an interrupted run still leaves whole medians for the first
  // ones); within a workload, each run goes through every contender, starting one further along each
  // time, so that drift on the machine is spread over all of them.
  for (const workload of workloads) {
    for (let run = 1; run <= options.runs; run += 1) {
      const shift = (run - 1) % contenders.length
      const order = [...contenders.slice(shift), ...contenders.slice(0, shift)]
      for (const contender of order) {
        const record = await runOnce(contender, workload, strides(contender)[workload.name], run, cache, options.trace)
        records.push(record)
        console.log(
          `[bench] run ${run}/${options.runs} ${workload.name} ${contender.key}: ${record.items} items in ${record.wallSeconds.toFixed(1)} s, ` +
            `${record.filesPerMinute.toFixed(1)} files/min, CPU ${record.cpuSeconds.toFixed(1)} s, peak RSS ${record.peakRssMiB.toFixed(0)} MiB, ` +
            `load ${record.loadBefore}` +
            (record.failed > 0 ? `, ${record.failed} FAILED: ${record.errors[0]}` : ''),
        )
        // Rewritten after every contender run, so that an interrupted run still leaves its figures.
        writeResults(base, results(records, true))
      }
    }
  }
  const markdown = writeResults(base, results(records, false))
  console.log(`\n${markdown}`)
  console.log(`[bench] wrote ${path.relative(REPO_ROOT, base)}.{md,json}`)
}

main().catch((error: unknown) => {
  console.error(`[bench] ${error instanceof Error ? error.message : String(error)}`)
  process.exit(1)
})
