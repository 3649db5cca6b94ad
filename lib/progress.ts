// Progress while a pool runs: a cli-progress bar on a terminal, one plain line per finished file otherwise
// (logs and CI output stay readable).

import { SingleBar } from 'cli-progress'

import { formatProgressStats, type ProgressSnapshot } from './summary'

export interface FinishedFile {
  taskId: string
  status: string
  error?: string
}

export interface ProgressView {
  update(snapshot: ProgressSnapshot, finished?: FinishedFile): void
  stop(): void
}

/** Redraws at least once a second so ETA and active workers stay current between completions. */
class BarView implements ProgressView {
  private readonly bar: SingleBar
  private readonly timer: NodeJS.Timeout
  private last: ProgressSnapshot

  constructor(
    initial: ProgressSnapshot,
    private readonly refresh: () => ProgressSnapshot,
    stream: NodeJS.WriteStream,
  ) {
    this.last = initial
    this.bar = new SingleBar({
      format: `${initial.label} [{bar}] {stats}`,
      stream,
      hideCursor: true,
      clearOnComplete: false,
      barsize: 30,
    })
    this.bar.start(initial.total, initial.done, { stats: formatProgressStats(initial) })
    this.timer = setInterval(() => this.update(this.refresh()), 1000)
    this.timer.unref()
  }

  update(snapshot: ProgressSnapshot): void {
    this.last = snapshot
    this.bar.update(snapshot.done, { stats: formatProgressStats(snapshot) })
  }

  stop(): void {
    clearInterval(this.timer)
    this.bar.update(this.last.done, { stats: formatProgressStats(this.last) })
    this.bar.stop()
  }
}

class LineView implements ProgressView {
  constructor(private readonly write: (line: string) => void) {}

  update(snapshot: ProgressSnapshot, finished?: FinishedFile): void {
    if (finished === undefined) return
    const outcome = finished.error === undefined ? finished.status : `${finished.status}: ${finished.error}`
    this.write(`[${snapshot.label}] ${formatProgressStats(snapshot)} | ${finished.taskId} ${outcome}`)
  }

  stop(): void {}
}

export function createProgressView(
  initial: ProgressSnapshot,
  refresh: () => ProgressSnapshot,
  stdout: NodeJS.WriteStream,
): ProgressView {
  return stdout.isTTY
    ? new BarView(initial, refresh, stdout)
    : new LineView((line) => {
        stdout.write(`${line}\n`)
      })
}
