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
  /**
   * Idle slot time (slot-seconds): before the first inference starts (head); from then until the
   * last one starts, while tasks were left to start (gaps: what the scheduling loses); after the
   * last start, when slots run out of work one by one (drain).
   */
  idleHeadSlotSeconds: number
  idleGapSlotSeconds: number
  idleDrainSlotSeconds: number
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

  // Slot occupancy: the inference intervals.
  const inferences = trace.tasks.flatMap((task) => {
    const start = at(task, 'slot')
    const end = at(task, 'inferred')
    return start !== null && end !== null ? [{ start, end }] : []
  })
  // A task marks `inferred` when its job resumes after the run, a moment after the run freed its
  // slot, so the next task's interval may begin before it ends: count at most `slots` at a time.
  const changes = inferences
    .flatMap(({ start, end }) => [
      { time: start, change: 1 },
      { time: end, change: -1 },
    ])
    .sort((a, b) => a.time - b.time || a.change - b.change)
  /** Busy slot-ms within [from, to]. */
  const busyWithin = (from: number, to: number): number => {
    let busy = 0
    let running = 0
    let previous = from
    for (const { time, change } of changes) {
      const clipped = Math.min(Math.max(time, from), to)
      busy += Math.min(running, trace.slots) * (clipped - previous)
      previous = clipped
      running += change
    }
    return busy + Math.min(running, trace.slots) * (to - previous)
  }
  const idleWithin = (from: number, to: number): number => trace.slots * (to - from) - busyWithin(from, to)
  const busyMs = busyWithin(0, trace.elapsedMs)
  const firstStart = inferences.length > 0 ? Math.min(...inferences.map(({ start }) => start)) : trace.elapsedMs
  const lastStart = inferences.length > 0 ? Math.max(...inferences.map(({ start }) => start)) : trace.elapsedMs

  const startupMs = trace.startedUnixMs - spawnedUnixMs
  return {
    slots: trace.slots,
    concurrency: trace.concurrency,
    tasks: trace.tasks.length,
    startupSeconds: startupMs / 1e3,
    runSeconds: trace.elapsedMs / 1e3,
    exitSeconds: wallSeconds - (startupMs + trace.elapsedMs) / 1e3,
    slotBusyShare: busyMs / (trace.slots * trace.elapsedMs),
    idleHeadSlotSeconds: idleWithin(0, firstStart) / 1e3,
    idleGapSlotSeconds: idleWithin(firstStart, lastStart) / 1e3,
    idleDrainSlotSeconds: idleWithin(lastStart, trace.elapsedMs) / 1e3,
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
    idleDrainSlotSeconds: of((summary) => summary.idleDrainSlotSeconds),
    stageMedianMs: byStage((summary) => summary.stageMedianMs),
    stageTotalSeconds: byStage((summary) => summary.stageTotalSeconds),
  }
}
