// Names the machine a benchmark ran on, from /proc and the OS.

import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import os from 'node:os'

export interface Machine {
  cpu: string
  /** The instruction sets inference speed depends on, e.g. "AVX2, FMA, AVX-512, AVX-512 VNNI" (absent in old results). */
  instructionSets?: string
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

/** Which of the instruction sets ONNX Runtime's int8 and float kernels use this CPU has (/proc/cpuinfo flags). */
function instructionSets(): string {
  const flags = new Set(
    (readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '').trim().split(/\s+/),
  )
  const known: [string, string][] = [
    ['avx2', 'AVX2'],
    ['fma', 'FMA'],
    ['avx512f', 'AVX-512'],
    ['avx512_vnni', 'AVX-512 VNNI'],
    ['avx_vnni', 'AVX-VNNI'],
    ['amx_int8', 'AMX-INT8'],
  ]
  const present = known.filter(([flag]) => flags.has(flag)).map(([, name]) => name)
  return present.length > 0 ? present.join(', ') : 'no AVX2'
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
    instructionSets: instructionSets(),
    cores: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: osName(),
    kernel: os.release(),
    node: process.version,
    python: (pythonVersion.stdout || pythonVersion.stderr || 'unknown').trim(),
  }
}

export function machineLine(machine: Machine): string {
  const sets = machine.instructionSets ? ` (${machine.instructionSets})` : ''
  return `${machine.cpu}${sets}, ${machine.cores} cores, ${machine.memoryGiB} GiB RAM, ${machine.os} (Linux ${machine.kernel}), Node ${machine.node}, ${machine.python}`
}

/** The 1-minute load average, rounded to two decimals. */
export function loadAverage(): number {
  return Math.round(os.loadavg()[0] * 100) / 100
}
