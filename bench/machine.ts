// Names the machine a benchmark ran on, from /proc and the OS.

import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import os from 'node:os'

export interface Machine {
  cpu: string
  cores: number
  memoryGiB: number
  os: string
  kernel: string
  node: string
  python: string
}

function cpuModel(): string {
  const line = readFileSync('/proc/cpuinfo', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('model name'))
  return line ? line.split(':')[1].trim() : os.cpus()[0]?.model ?? 'unknown CPU'
}

function osName(): string {
  try {
    const pretty = readFileSync('/etc/os-release', 'utf8').match(/^PRETTY_NAME="?([^"\n]*)"?$/m)
    if (pretty) return pretty[1]
  } catch {
    // fall through to the kernel's own name
  }
  return `${os.type()} ${os.release()}`
}

export function describeMachine(python: string): Machine {
  const pythonVersion = spawnSync(python, ['--version'], { encoding: 'utf8' })
  return {
    cpu: cpuModel(),
    cores: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: osName(),
    kernel: os.release(),
    node: process.version,
    python: (pythonVersion.stdout || pythonVersion.stderr || 'unknown').trim(),
  }
}

export function machineLine(machine: Machine): string {
  return `${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB RAM, ${machine.os} (Linux ${machine.kernel}), Node ${machine.node}, ${machine.python}`
}

/** The 1-minute load average, rounded to two decimals. */
export function loadAverage(): number {
  return Math.round(os.loadavg()[0] * 100) / 100
}
