// Text of the progress display and the end-of-run summary (pure functions, so tests need no model).

import { formatBytes } from './outputs'

export interface FailedFile {
  taskId: string
  reason: string
}

export interface RunTotals {
  generated: number
  /** Of the generated files, those that replaced a file that had changed (or `--force`). */
  regenerated: number
  /** Size of the generated files. */
  bytesWritten: number
  /** Files that were already there before the run and are current. */
  skipped: number
  failed: FailedFile[]
  /** Files not generated because the run was interrupted. */
  cancelled: number
  audioSeconds: number
  wallMs: number
}

export function emptyTotals(): RunTotals {
  return { generated: 0, regenerated: 0, bytesWritten: 0, skipped: 0, failed: [], cancelled: 0, audioSeconds: 0, wallMs: 0 }
}

/** "850ms", "4.2s", "3m 05s", "1h 02m". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?'
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`
  const totalSeconds = Math.round(ms / 1000)
  const hours = Math.floor(totalSeconds / 3600)
  const minutes = Math.floor((totalSeconds % 3600) / 60)
  const seconds = totalSeconds % 60
  return hours > 0
    ? `${hours}h ${String(minutes).padStart(2, '0')}m`
    : `${minutes}m ${String(seconds).padStart(2, '0')}s`
}

export function filesPerMinute(files: number, elapsedMs: number): number {
  return elapsedMs > 0 ? (files * 60_000) / elapsedMs : 0
}

/** Remaining time at the rate so far; undefined until there is a rate to go by. */
export function estimateRemainingMs(done: number, total: number, elapsedMs: number): number | undefined {
  if (done <= 0 || elapsedMs <= 0) return undefined
  return ((total - done) * elapsedMs) / done
}

export interface ProgressSnapshot {
  label: string
  done: number
  total: number
  elapsedMs: number
  activeWorkers: number
  concurrency: number
  failed: number
}

/**
 * The numbers beside the bar and in plain progress lines: "12/120 | 8.3 files/min | ETA 1m 02s | active 2/8",
 * then "| 1 failed" once something has failed.
 */
export function formatProgressStats(snapshot: ProgressSnapshot): string {
  const rate = filesPerMinute(snapshot.done, snapshot.elapsedMs)
  const eta = estimateRemainingMs(snapshot.done, snapshot.total, snapshot.elapsedMs)
  return [
    `${snapshot.done}/${snapshot.total}`,
    `${rate.toFixed(1)} files/min`,
    `ETA ${eta === undefined ? '--' : formatDuration(eta)}`,
    `active ${snapshot.activeWorkers}/${snapshot.concurrency}`,
    ...(snapshot.failed > 0 ? [`${snapshot.failed} failed`] : []),
  ].join(' | ')
}

export const plural = (count: number, word: string): string => `${count} ${word}${count === 1 ? '' : 's'}`

export function formatSummary(totals: RunTotals, interrupted: boolean): string {
  const lines = [interrupted ? 'Summary (interrupted: rerun the same command to resume)' : 'Summary']
  lines.push(
    `  generated    ${plural(totals.generated, 'file')}, ${totals.audioSeconds.toFixed(1)}s of audio, ${formatBytes(totals.bytesWritten)} written`,
  )
  lines.push(`  regenerated  ${plural(totals.regenerated, 'file')} (changed since made; counted in generated)`)
  lines.push(`  skipped      ${plural(totals.skipped, 'file')} (already there)`)
  lines.push(`  failed       ${plural(totals.failed.length, 'file')}`)
  // The pool's messages already name the task; others get the id in front.
  for (const { taskId, reason } of totals.failed)
    lines.push(`    ${reason.includes(taskId) ? reason : `${taskId}: ${reason}`}`)
  if (totals.cancelled > 0) lines.push(`  cancelled    ${plural(totals.cancelled, 'file')}`)
  const rate = filesPerMinute(totals.generated, totals.wallMs)
  lines.push(`  wall time    ${formatDuration(totals.wallMs)} (${rate.toFixed(1)} files/min)`)
  return lines.join('\n')
}
