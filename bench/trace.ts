// Where a kokoro contender's time goes: a summary of one run's trace (the engine writes it when
// KOKORO_POOL_TRACE names a file, crates/engine/src/trace.rs), lined up with the process's wall time
// and, for kokoro-pool, with when each progress callback ran in JS. `npm run bench -- --trace`.

import { readFileSync } from 'node:fs'

import { median } from './stats'

/** The engine's trace file: per task, ms from the run's start to each stage boundary it reached. */
interface EngineTrace {
  startedUnixMs: number
  elapsedMs: number
  slots: number
  concurrency: number
  tasks: ({ id: string } & Partial<Record<MarkName, number | null>>)[]
}

type MarkName = 'dequeued' | 'prepareTurn' | 'prepared' | 'slot' | 'inferred' | 'writeTurn' | 'written' | 'reported' | 'callbackReturned'

/** Per-task stages, each the time between two marks (or from the run's start to the first). */
const STAGES: [name: string, from: MarkName | 'runStart', to: MarkName][] = [
  ['queue wait', 'runStart', 'dequeued'],
  ['turn wait', 'dequeued', 'prepareTurn'],
  ['G2P', 'prepareTurn', 'prepared'],
  ['slot wait', 'prepared', 'slot'],
  ['inference', 'slot', 'inferred'],
  ['write wait', 'inferred', 'writeTurn'],
  ['write', 'writeTurn', 'written'],
  ['report', 'written', 'reported'],
  ['callback', 'reported', 'callbackReturned'],
]
export const STAGE_NAMES = [...STAGES.map(([name]) => name), 'JS delivery']

export interface TraceSummary {
  slots: number
  concurrency: number
  tasks: number
  /** Process wall time: from spawn to the run's start (start-up), the run, and after it (exit). */
  startupSeconds: number
  runSeconds: number
  exitSeconds: number
  /** Share of the run's slot time spent in inference. */
  slotBusyShare: number
  /** Idle slot time (slot-seconds) before the first inference, between inferences, after the last. */
  idleHeadSlotSeconds: number
  idleGapSlotSeconds: number
  idleTailSlotSeconds: number
  /** Median ms per task of each stage, and the sum over tasks in seconds (STAGE_NAMES). */
  stageMedianMs: Record<string, number>
  stageTotalSeconds: Record<string, number>
}

/**
 * Summarises a trace. `spawnedUnixMs` and `wallSeconds` place the run in its process; `callbackUnixMs`
 * (kokoro-pool's report) gives the JS delivery stage: from the engine calling the progress callback
 * to its running on the JS thread.
 */
export function summarizeTrace(file: string, spawnedUnixMs: number, wallSeconds: number, callbackUnixMs?: Record<string, number>): TraceSummary {
  const trace = JSON.parse(readFileSync(file, 'utf8')) as EngineTrace
  const at = (task: EngineTrace['tasks'][number], mark: MarkName | 'runStart'): number | null =>
    mark === 'runStart' ? 0 : (task[mark] ?? null)
  const stageMs = new Map<string, number[]>(STAGE_NAMES.map((name) => [name, []]))
  for (const task of trace.tasks) {
    for (const [name, from, to] of STAGES) {
      const start = at(task, from)
      const end = at(task, to)
      if (start !== null && end !== null) stageMs.get(name)?.push(end - start)
    }
    const reported = at(task, 'reported')
    const arrived = callbackUnixMs?.[task.id]
    if (reported !== null && arrived !== undefined) stageMs.get('JS delivery')?.push(arrived - (trace.startedUnixMs + reported))
  }

  // Slot occupancy: the inference intervals, swept in time order.
  const events = trace.tasks
    .flatMap((task) => {
      const start = at(task, 'slot')
      const end = at(task, 'inferred')
      return start !== null && end !== null ? [{ time: start, change: 1 }, { time: end, change: -1 }] : []
    })
    .sort((a, b) => a.time - b.time || a.change - b.change)
  let busyMs = 0
  let running = 0
  let previous = 0
  for (const event of events) {
    busyMs += running * (event.time - previous)
    running += event.change
    previous = event.time
  }
  const starts = events.filter((event) => event.change > 0).map((event) => event.time)
  const ends = events.filter((event) => event.change < 0).map((event) => event.time)
  const firstStart = starts.length > 0 ? Math.min(...starts) : trace.elapsedMs
  const lastEnd = ends.length > 0 ? Math.max(...ends) : trace.elapsedMs
  // Before the first inference and after the last every slot idles; in between, what is not busy.
  const head = trace.slots * firstStart
  const tail = trace.slots * (trace.elapsedMs - lastEnd)
  const gap = trace.slots * (lastEnd - firstStart) - busyMs

  const startupMs = trace.startedUnixMs - spawnedUnixMs
  return {
    slots: trace.slots,
    concurrency: trace.concurrency,
    tasks: trace.tasks.length,
    startupSeconds: startupMs / 1e3,
    runSeconds: trace.elapsedMs / 1e3,
    exitSeconds: wallSeconds - (startupMs + trace.elapsedMs) / 1e3,
    slotBusyShare: busyMs / (trace.slots * trace.elapsedMs),
    idleHeadSlotSeconds: head / 1e3,
    idleGapSlotSeconds: gap / 1e3,
    idleTailSlotSeconds: tail / 1e3,
    stageMedianMs: Object.fromEntries([...stageMs].map(([name, values]) => [name, median(values)])),
    stageTotalSeconds: Object.fromEntries([...stageMs].map(([name, values]) => [name, values.reduce((sum, value) => sum + value, 0) / 1e3])),
  }
}

/** The median of each figure over several runs' summaries (the report's traced figures). */
export function medianTrace(summaries: TraceSummary[]): TraceSummary {
  const of = (pick: (summary: TraceSummary) => number) => median(summaries.map(pick))
  const byStage = (pick: (summary: TraceSummary) => Record<string, number>) =>
    Object.fromEntries(STAGE_NAMES.map((name) => [name, of((summary) => pick(summary)[name])]))
  return {
    slots: summaries[0].slots,
    concurrency: summaries[0].concurrency,
    tasks: summaries[0].tasks,
    startupSeconds: of((summary) => summary.startupSeconds),
    runSeconds: of((summary) => summary.runSeconds),
    exitSeconds: of((summary) => summary.exitSeconds),
    slotBusyShare: of((summary) => summary.slotBusyShare),
    idleHeadSlotSeconds: of((summary) => summary.idleHeadSlotSeconds),
    idleGapSlotSeconds: of((summary) => summary.idleGapSlotSeconds),
    idleTailSlotSeconds: of((summary) => summary.idleTailSlotSeconds),
    stageMedianMs: byStage((summary) => summary.stageMedianMs),
    stageTotalSeconds: byStage((summary) => summary.stageTotalSeconds),
  }
}
