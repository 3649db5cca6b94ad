// npm run pack:packages [-- <out dir>]: the two packages a consumer installs, as tarballs (nothing is published),
// laid out as napi-rs's package template:
//   kokoro-pool                 index.js, index.d.ts, dist/ (the compiled `kokoro-pool` command), the asset pins and
//                               the speech-window transform; needs no compiler
//   kokoro-pool-linux-x64-gnu   the .node (npm/linux-x64-gnu/, made by `napi create-npm-dirs`)
// The platform package becomes an optionalDependency of the main one here, in the packed copy only (as
// `napi pre-publish` does), so that the repository's own `npm install` never asks the registry for it.
// Needs the addon built (`npm run build`).
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

const repoRoot = path.resolve(__dirname, '..')
const outDir = path.resolve(process.argv[2] ?? path.join(repoRoot, 'target', 'packages'))

interface PackageJson {
  name: string
  version: string
  main: string
  files: string[]
  optionalDependencies?: Record<string, string>
  scripts?: Record<string, string>
}

interface PackResult {
  filename: string
  size: number
  unpackedSize: number
}

function run(command: string, args: string[], cwd: string): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  if (result.error || result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}: ${result.error?.message ?? `exit ${result.status}`}`)
  }
  return result.stdout
}

function readPackage(dir: string): PackageJson {
  return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as PackageJson
}

/** `npm pack` of `dir` into outDir, scripts not run (the main package's `prepare` is the checkout's set-up). */
function pack(dir: string): PackResult {
  const [result] = JSON.parse(
    run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', outDir], dir),
  ) as PackResult[]
  return result
}

function main(): void {
  const main = readPackage(repoRoot)
  const platformDir = path.join(repoRoot, 'npm', 'linux-x64-gnu')
  const platform = readPackage(platformDir)
  if (platform.version !== main.version) {
    throw new Error(`${platform.name} is ${platform.version}, ${main.name} ${main.version}: run \`npx napi version\``)
  }
  const addon = path.join(repoRoot, platform.main)
  if (!fs.existsSync(addon)) throw new Error(`${addon} is missing: run \`npm run build\``)
  fs.rmSync(outDir, { recursive: true, force: true })
  fs.mkdirSync(outDir, { recursive: true })

  run('npx', ['tsc', '-p', 'tsconfig.build.json'], repoRoot)
  fs.copyFileSync(addon, path.join(platformDir, platform.main))
  // The .node embeds misaki's word list and rules (Apache-2.0), LAME (LGPL) and libopus (BSD): their notices
  // and licence texts travel with it.
  const notices = ['ja-g2p', 'engine'].map((crate) => fs.readFileSync(path.join(repoRoot, 'crates', crate, 'NOTICE'), 'utf8'))
  fs.writeFileSync(path.join(platformDir, 'NOTICE'), notices.join('\n'))
  fs.cpSync(path.join(repoRoot, 'crates', 'engine', 'licenses'), path.join(platformDir, 'licenses'), { recursive: true })
  const packed = [pack(platformDir)]

  const stage = path.join(outDir, '.main-package')
  for (const entry of [...main.files, 'README.md']) {
    fs.cpSync(path.join(repoRoot, entry), path.join(stage, entry), { recursive: true })
  }
  // The checkout's scripts (prepare builds Rust) are not the consumer's: they go.
  const published: PackageJson = { ...main, scripts: undefined, optionalDependencies: { [platform.name]: platform.version } }
  fs.writeFileSync(path.join(stage, 'package.json'), `${JSON.stringify(published, null, 2)}\n`)
  packed.push(pack(stage))
  fs.rmSync(stage, { recursive: true, force: true })

  for (const { filename, size, unpackedSize } of packed) {
    const kB = (bytes: number) => `${Math.round(bytes / 1000).toLocaleString('en')} kB`
    console.log(`${path.join(outDir, filename)}  ${kB(size)} packed, ${kB(unpackedSize)} unpacked`)
  }
}

main()
