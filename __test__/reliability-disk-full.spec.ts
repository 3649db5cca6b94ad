// Issue 6, disk full: a write that fails in the middle of a WAV fails that item with the OS's reason, removes
// the partial file, and the pool process goes on with the other items (docs/reliability.md). Two real kernel
// write errors, no switch in the engine: a full tmpfs (needs the right to mount) and `ulimit -f` (always).

import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import { REPO_ROOT } from './helpers/cli-run'
import { canMountTmpfs, smallTmpfs } from './helpers/reliability-files'
import type { PoolRunOutcome, PoolRunRequest } from './helpers/reliability-pool-run'
import { readWav } from './helpers/wav'

const RUNNER = path.join(__dirname, 'helpers', 'reliability-pool-run.ts')

/** Runs the pool in a child process, under `ulimit -f` when given (SIGXFSZ ignored, so writes get EFBIG). */
function runPoolChild(
  request: PoolRunRequest,
  requestFile: string,
  fileSizeLimitKiB?: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  writeFileSync(requestFile, JSON.stringify(request))
  const node = [process.execPath, '--import', 'tsx', RUNNER, requestFile].map((arg) => `'${arg}'`).join(' ')
  const limit = fileSizeLimitKiB === undefined ? '' : `trap '' XFSZ; ulimit -f ${fileSizeLimitKiB}; `
  const child = spawn('bash', ['-c', `${limit}exec ${node}`], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
}

const root = mkdtempSync(path.join(os.tmpdir(), 'kokoro-pool-disk-full-'))
const releases: (() => void)[] = []
afterAll(() => {
  releases.forEach((release) => release())
  rmSync(root, { recursive: true, force: true })
})

// 64 KiB: room for a short word (about 0.5 s, 24 KB) but not for a sentence (about 3 s, 140 KB).
const LIMIT_BYTES = 64 * 1024
const SENTENCE = '図書館で日本語の本を読みました。'

/** Four items one at a time (so which one meets the limit does not depend on timing), in a child process. */
async function writeAgainstTheLimit(outDir: string, fileSizeLimitKiB?: number) {
  const tasks = [
    { id: 'word-before', text: '水' },
    { id: 'too-big', text: SENTENCE },
    { id: 'word-after', text: '木' },
    { id: 'too-big-again', text: `${SENTENCE}${SENTENCE}` },
  ].map((task) => ({ ...task, outputPath: path.join(outDir, `${task.id}.wav`) }))
  const requestFile = path.join(root, `${path.basename(outDir)}.json`)
  const child = await runPoolChild({ concurrency: 1, tasks }, requestFile, fileSizeLimitKiB)
  // The process did not crash: it finished and reported every item.
  expect(child.stderr).not.toMatch(/panic|pool run failed/)
  expect({ code: child.code, signal: child.signal }).toEqual({ code: 0, signal: null })
  const { results } = JSON.parse(child.stdout) as PoolRunOutcome
  return new Map(results.map((entry) => [entry.id, entry]))
}

type Outcomes = Awaited<ReturnType<typeof writeAgainstTheLimit>>

function expectOnlyTheFailedItemsLost(outDir: string, byId: Outcomes, reason: RegExp): void {
  expect(byId.size).toBe(4)
  expect(byId.get('word-before')).toMatchObject({ status: 'generated' })
  for (const id of ['too-big', 'too-big-again']) {
    const entry = byId.get(id)!
    expect(entry.status).toBe('failed')
    // Each failure names its own item, its file and the kernel's reason.
    expect(entry.error).toMatch(new RegExp(`^task "${id}": cannot write \\S*/${id}\\.wav: `))
    expect(entry.error).toMatch(reason)
  }
  // The space of the removed partial file is free again: the word after it fits.
  expect(byId.get('word-after')).toMatchObject({ status: 'generated' })
  // Only complete WAVs remain: no temporary or partial file.
  expect(readdirSync(outDir).sort()).toEqual(['word-after.wav', 'word-before.wav'])
  for (const name of readdirSync(outDir)) expect(readWav(path.join(outDir, name)).sampleRate).toBe(24000)
}

describe('a write error in the middle of a WAV', () => {
  const tmpfs = canMountTmpfs(path.join(root, 'probe'))

  // Where mounting is not allowed (CI as a normal user) this one is skipped; the ulimit test below always runs.
  const ifMountable = tmpfs ? it : it.skip
  ifMountable('disk full (a 64 KiB tmpfs): ENOSPC fails that item only, its partial file is removed', async () => {
    const outDir = path.join(root, 'tmpfs')
    releases.push(smallTmpfs(outDir, LIMIT_BYTES).release)
    expectOnlyTheFailedItemsLost(outDir, await writeAgainstTheLimit(outDir), /No space left on device/)
  })

  it('file size limit (ulimit -f 64): EFBIG fails that item only, its partial file is removed', async () => {
    const outDir = path.join(root, 'ulimit')
    mkdirSync(outDir)
    expectOnlyTheFailedItemsLost(outDir, await writeAgainstTheLimit(outDir, LIMIT_BYTES / 1024), /File too large/)
  })
})
