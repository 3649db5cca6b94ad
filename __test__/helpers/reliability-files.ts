// File-system set-ups for the reliability tests (docs/reliability.md): listings, broken assets, unwritable
// folders and a small file system.

import { execFileSync } from 'node:child_process'
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
  writeSync,
  closeSync,
} from 'node:fs'
import path from 'node:path'

import { assetsDir } from '../../lib/assets'

/** Every plain file under `dir`, as paths relative to it, sorted; [] when `dir` does not exist. */
export function filesUnder(dir: string): string[] {
  let names: string[]
  try {
    names = readdirSync(dir, { recursive: true, encoding: 'utf8' })
  } catch {
    return []
  }
  return names.filter((name) => statSync(path.join(dir, name)).isFile()).sort()
}

/** The pool's temporary output files: `.<file name>.<pid>-<n>.tmp`, hidden and never named *.wav. */
export const TEMP_WAV = /(^|\/)\.[^/]+\.wav\.\d+-\d+\.tmp$/

/**
 * An assets folder of links to the real assets, except copies of the model files (every `*.onnx` at the top: the
 * published model and the variants derived from it) with one byte flipped in each, whichever one the pool loads.
 */
export function assetsWithFlippedModelByte(root: string): { dir: string; models: string[] } {
  const real = assetsDir()
  const dir = path.join(root, 'assets-flipped')
  mkdirSync(dir, { recursive: true })
  const models: string[] = []
  for (const name of readdirSync(real)) {
    if (!name.endsWith('.onnx')) {
      symlinkSync(path.join(real, name), path.join(dir, name))
      continue
    }
    const model = path.join(dir, name)
    copyFileSync(path.join(real, name), model)
    flipByte(model, Math.floor(statSync(model).size / 2))
    models.push(model)
  }
  return { dir, models }
}

/** Inverts the byte at `offset`: the file keeps its size, and a byte in the weights still loads as ONNX. */
function flipByte(file: string, offset: number): void {
  const fd = openSync(file, 'r+')
  try {
    const byte = Buffer.alloc(1)
    readSync(fd, byte, 0, 1, offset)
    byte[0] ^= 0xff
    writeSync(fd, byte, 0, 1, offset)
  } finally {
    closeSync(fd)
  }
}

function canWriteIn(dir: string): boolean {
  const probe = path.join(dir, '.probe')
  try {
    writeFileSync(probe, '')
    unlinkSync(probe)
    return true
  } catch {
    return false
  }
}

function tryMount(dir: string, options: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

export function unmount(dir: string): void {
  execFileSync('umount', [dir], { stdio: 'ignore' })
}

/**
 * A folder nobody can create files in. Mode 0555 is enough for a normal user; root ignores modes, so as root
 * it is a read-only tmpfs mount instead (call `release` to unmount).
 */
export function unwritableFolder(root: string): { dir: string; how: string; release: () => void } {
  const dir = path.join(root, 'read-only')
  mkdirSync(dir, { recursive: true })
  chmodSync(dir, 0o555)
  if (!canWriteIn(dir)) return { dir, how: 'mode 0555', release: () => chmodSync(dir, 0o755) }
  if (tryMount(dir, 'ro,size=16k')) return { dir, how: 'read-only tmpfs', release: () => unmount(dir) }
  throw new Error(`cannot make an unwritable folder here: ${dir} is writable and tmpfs cannot be mounted`)
}

/** Whether this process may mount a tmpfs (root, or CAP_SYS_ADMIN); probed once on a scratch folder. */
export function canMountTmpfs(scratch: string): boolean {
  mkdirSync(scratch, { recursive: true })
  if (!tryMount(scratch, 'size=16k')) return false
  unmount(scratch)
  return true
}

/**
 * A file system of `bytes` mounted on `dir`: writes past its size fail with ENOSPC, a real "disk full" from the
 * kernel in the middle of a file. Needs the right to mount (see canMountTmpfs); `release` unmounts.
 */
export function smallTmpfs(dir: string, bytes: number): { release: () => void } {
  mkdirSync(dir, { recursive: true })
  if (!tryMount(dir, `size=${bytes}`)) throw new Error(`cannot mount a tmpfs on ${dir}`)
  return { release: () => unmount(dir) }
}
