// The pool at scale (issue 14), one measurement per process so that RSS and open files are that
// measurement's alone. Prints one JSON line. Figures and the commands that made them: docs/reliability.md, "Scale".
//
//   npx tsx bench/scale.ts queue [--tasks 100000] [--one-call] [--addon PATH]
//     Queues `--tasks` one-word tasks (one addTasks call each, or all in one call with --one-call), then runs
//     process() and cancels at once. Reports the time to queue, RSS per queued task, the time from process()
//     to its result with every task cancelled, and RSS with the result held.
//   npx tsx bench/scale.ts files [--tasks 150] [--concurrency 1024] [--addon PATH]
//     Generates `--tasks` one-word files at concurrency 1,024 and samples this process's open file
//     descriptors and the temporary files in the output folder every 2 ms.
//
// --addon loads another build of the addon (an older design, say) in place of this checkout's.

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import type * as Addon from '..'

interface Arguments {
  mode: 'queue' | 'files'
  tasks: number
  oneCall: boolean
  concurrency: number
  addon?: string
}

function parseArguments(argv: string[]): Arguments {
  const [mode, ...rest] = argv
  if (mode !== 'queue' && mode !== 'files') throw new Error('usage: bench/scale.ts queue|files [options]')
  const args: Arguments = { mode, tasks: mode === 'queue' ? 100_000 : 150, oneCall: false, concurrency: 1024 }
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i]
    if (flag === '--one-call') args.oneCall = true
    else if (flag === '--tasks') args.tasks = Number(rest[++i])
    else if (flag === '--concurrency') args.concurrency = Number(rest[++i])
    else if (flag === '--addon') args.addon = path.resolve(rest[++i])
    else throw new Error(`unknown option ${flag}`)
  }
  return args
}

const rssMiB = (): number => Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024
const openFiles = (): number => readdirSync('/proc/self/fd').length
const round = (value: number, digits = 1): number => Math.round(value * 10 ** digits) / 10 ** digits

async function measureQueue(addon: typeof Addon, args: Arguments, out: string): Promise<object> {
  const pool = new addon.AudioWorkerPool(args.concurrency)
  const tasks: Addon.AudioTask[] = []
  for (let i = 0; i < args.tasks; i++) tasks.push({ id: `t${i}`, text: '水', outputPath: path.join(out, `t${i}.wav`) })
  global.gc?.()
  const rssBefore = rssMiB()
  const queueStarted = performance.now()
  if (args.oneCall) pool.addTasks(tasks)
  else for (const task of tasks) pool.addTasks([task])
  const queueMs = performance.now() - queueStarted
  global.gc?.()
  const rssQueued = rssMiB()
  let events = 0
  const runStarted = performance.now()
  const running = pool.process(() => events++)
  pool.cancel()
  const result = await running
  const cancelMs = performance.now() - runStarted
  global.gc?.()
  const rssWithResult = rssMiB()
  const notCancelled = [...result.results.values()].filter((entry) => !/cancelled/.test(entry.error?.message ?? '')).length
  return {
    tasks: args.tasks,
    addTasksCalls: args.oneCall ? 1 : args.tasks,
    queueMs: round(queueMs),
    rssMiB: { beforeQueue: round(rssBefore), queued: round(rssQueued), withResult: round(rssWithResult) },
    bytesPerQueuedTask: Math.round(((rssQueued - rssBefore) * 2 ** 20) / args.tasks),
    processToResultMs: round(cancelMs),
    progressEvents: events,
    results: result.results.size,
    notCancelled,
  }
}

async function measureFiles(addon: typeof Addon, args: Arguments, out: string): Promise<object> {
  const pool = new addon.AudioWorkerPool(args.concurrency)
  pool.addTasks([{ id: 'warm-up', text: '水', outputPath: path.join(out, 'warm-up.wav') }])
  await pool.process()
  const baseline = openFiles()
  const words = ['水', '猫', '食べる', '図書館', '日本語', '学校', '先生', '電車']
  pool.addTasks(
    Array.from({ length: args.tasks }, (_, i) => ({ id: `w${i}`, text: words[i % words.length], outputPath: path.join(out, `w${i}.wav`) })),
  )
  let mostFiles = 0
  let mostTemporary = 0
  let mostActive = 0
  const sample = (): void => {
    mostFiles = Math.max(mostFiles, openFiles())
    mostTemporary = Math.max(mostTemporary, readdirSync(out).filter((name) => name.endsWith('.tmp')).length)
    mostActive = Math.max(mostActive, pool.getActiveWorkers())
  }
  const sampler = setInterval(sample, 2)
  const started = performance.now()
  const result = await pool.process()
  clearInterval(sampler)
  sample()
  return {
    tasks: args.tasks,
    concurrency: args.concurrency,
    generated: result.success,
    failed: result.failed,
    seconds: round((performance.now() - started) / 1000),
    mostActive,
    openFiles: { baseline, most: mostFiles, aboveBaseline: mostFiles - baseline },
    mostTemporaryFiles: mostTemporary,
  }
}

async function main(): Promise<void> {
  const args = parseArguments(process.argv.slice(2))
  const addon = (args.addon ? require(args.addon) : require('..')) as typeof Addon
  const out = mkdtempSync(path.join(os.tmpdir(), `kokoro-scale-${args.mode}-`))
  try {
    const measured = args.mode === 'queue' ? await measureQueue(addon, args, out) : await measureFiles(addon, args, out)
    const machine = { cpu: os.cpus()[0]?.model, cores: os.availableParallelism(), loadAverage: os.loadavg().map((load) => round(load)) }
    console.log(JSON.stringify({ mode: args.mode, addon: args.addon ?? 'this checkout', ...measured, machine }))
  } finally {
    rmSync(out, { recursive: true, force: true })
  }
}

void main()
