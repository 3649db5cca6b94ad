// Makes a checkout ready to run: builds the native addon (cargo is a no-op when nothing changed), compiles
// the package's command to dist/ and fetches the assets with it (a no-op when they are present and verified).
// Run by `npm install` (prepare: not when kokoro-pool is installed as a dependency) and `npm test`.
import { spawnSync } from 'node:child_process'
import * as path from 'node:path'

const repoRoot = path.resolve(__dirname, '..')

function step(title: string, command: string, args: string[]): void {
  console.log(`[setup] ${title}`)
  const result = spawnSync(command, args, { cwd: repoRoot, stdio: 'inherit' })
  if (result.error || result.status !== 0) {
    console.error(`[setup] ${title} failed: ${result.error?.message ?? `exit ${result.status}`}`)
    process.exit(result.status || 1)
  }
}

if (spawnSync('cargo', ['--version']).status !== 0) {
  console.error('[setup] cargo was not found: install Rust (stable, via rustup) to build the native addon.')
  process.exit(1)
}
step('building the native addon (napi build --platform --release)', 'npx', ['napi', 'build', '--platform', '--release'])
step('compiling the kokoro-pool command to dist/ (tsc)', 'npx', ['tsc', '-p', 'tsconfig.build.json'])
step('fetching assets', process.execPath, ['dist/scripts/kokoro-pool.js', 'fetch-assets'])
