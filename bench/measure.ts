// Runs one contender as a child process and measures it from outside, the same way for every
// contender: wall time from spawn to exit, CPU seconds of the whole process tree (getrusage of the
// waited-for children, via /usr/bin/time), and peak RSS of the whole tree, sampled from /proc.

import { spawn } from 'node:child_process'
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const SAMPLE_INTERVAL_MS = 50
const PAGE_SIZE = 4096
const STDERR_TAIL_CHARS = 4000

export interface Measurement {
  wallSeconds: number
  /** User + system CPU of the contender and every descendant it waited for. */
  cpuSeconds: number
  /** Highest sum of the resident set sizes of the contender's process tree over the samples. */
  peakRssBytes: number
  rssSamples: number
  exitCode: number | null
  stdout: string
  stderrTail: string
}

interface ProcStat {
  parent: number
  rssBytes: number
}

function readProcStat(pid: number): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    // The command name (field 2) may hold spaces and parentheses: the fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return { parent: Number(fields[1]), rssBytes: Number(fields[21]) * PAGE_SIZE }
  } catch {
    return undefined // the process ended between the listing and the read
  }
}

/** Sum of RSS over the descendants of `root` (not `root` itself: that is the timing wrapper). */
export function treeRssBytes(root: number): number {
  const children = new Map<number, number[]>()
  const rss = new Map<number, number>()
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry)
    if (!Number.isInteger(pid)) continue
    const stat = readProcStat(pid)
    if (!stat) continue
    rss.set(pid, stat.rssBytes)
    const siblings = children.get(stat.parent)
    if (siblings) siblings.push(pid)
    else children.set(stat.parent, [pid])
  }
  let total = 0
  const pending = [...(children.get(root) ?? [])]
  while (pending.length > 0) {
    const pid = pending.pop() as number
    total += rss.get(pid) ?? 0
    pending.push(...(children.get(pid) ?? []))
  }
  return total
}

export function measure(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Measurement> {
  const rusageFile = path.join(os.tmpdir(), `kokoro-bench-rusage-${process.pid}-${Date.now()}.txt`)
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    const child = spawn('/usr/bin/time', ['-f', '%U %S', '-o', rusageFile, command, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-STDERR_TAIL_CHARS)))
    let peakRssBytes = 0
    let rssSamples = 0
    const sample = (): void => {
      if (child.pid === undefined) return
      peakRssBytes = Math.max(peakRssBytes, treeRssBytes(child.pid))
      rssSamples += 1
    }
    const sampler = setInterval(sample, SAMPLE_INTERVAL_MS)
    child.on('error', (error) => {
      clearInterval(sampler)
      reject(new Error(`could not start ${command}: ${error.message}`))
    })
    child.on('close', (exitCode) => {
      const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9
      clearInterval(sampler)
      let cpuSeconds = Number.NaN
      try {
        const lines = readFileSync(rusageFile, 'utf8').trim().split('\n')
        // On failure /usr/bin/time writes "Command exited with non-zero status N" before the times.
        const [user, system] = lines[lines.length - 1].split(' ').map(Number)
        cpuSeconds = user + system
      } catch {
        // left NaN: reported as missing rather than guessed
      }
      rmSync(rusageFile, { force: true })
      resolve({ wallSeconds, cpuSeconds, peakRssBytes, rssSamples, exitCode, stdout, stderrTail: stderr })
    })
  })
}
