// Issue 6, bad input: the rows of docs/reliability.md's table that no other test covers. Each bad input gets a
// clear message naming the task (or the file and item) and the cause; the other items complete.

import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import { AudioWorkerPool, type AudioTask, type ProcessResult } from '../index'
import { parseCourse } from '../lib/course'
import { main } from '../lib/cli'
import type { CliStreams } from '../lib/generate'
import { REPO_ROOT, writeCourse } from './helpers/cli-run'
import { assetsWithFlippedModelByte, filesUnder, unwritableFolder } from './helpers/reliability-files'
import { readWav } from './helpers/wav'

const root = mkdtempSync(path.join(os.tmpdir(), 'kokoro-pool-inputs-'))
const releases: (() => void)[] = []
afterAll(() => {
  releases.forEach((release) => release())
  rmSync(root, { recursive: true, force: true })
})

function messageOf(result: ProcessResult, id: string): string {
  const entry = result.results.get(id)
  expect(entry?.status).toBe('failed')
  return entry!.error!.message
}

/** Runs the CLI in this process; returns its exit code and what it printed. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const io = {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
  } as unknown as CliStreams
  const code = await main(['node', 'tts-generate', ...args], io)
  return { code, stdout, stderr }
}

/** The CLI in a child process with KOKORO_POOL_ASSETS set. */
function cliWithAssets(assets: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  const script = path.join(REPO_ROOT, 'scripts', 'tts-generate.ts')
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, KOKORO_POOL_ASSETS: assets },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stderr }))
  })
}

describe('bad task inputs to the pool', () => {
  it('fail only their own task, each with a message naming it and the cause', async () => {
    const dir = path.join(root, 'pool')
    mkdirSync(dir)
    const readOnly = unwritableFolder(root)
    releases.push(readOnly.release)
    const oddIds = ['a b', '../../escape', '日本語😀', 'tab\tand\nnewline', 'x'.repeat(500)]
    const tasks: AudioTask[] = [
      { id: 'empty', text: '', outputPath: path.join(dir, 'empty.wav') },
      { id: 'speed-zero', text: '水', speed: 0, outputPath: path.join(dir, 'speed-zero.wav') },
      { id: 'speed-nan', text: '水', speed: Number.NaN, outputPath: path.join(dir, 'speed-nan.wav') },
      { id: 'unwritable', text: '水', outputPath: path.join(readOnly.dir, 'unwritable.wav') },
      { id: 'missing-folder', text: '木', outputPath: path.join(dir, 'not', 'there', 'yet', 'missing-folder.wav') },
      // Ids are names only (the output path is given), so any non-empty string works and is reported as given.
      ...oddIds.map((id, index) => ({ id, text: '山', outputPath: path.join(dir, `odd-${index}.wav`) })),
    ]
    const pool = new AudioWorkerPool(2)
    pool.addTasks(tasks)
    const progressIds: string[] = []
    const result = await pool.process((progress) => progressIds.push(progress.id))

    expect(messageOf(result, 'empty')).toBe('task "empty": text is empty')
    expect(messageOf(result, 'speed-zero')).toMatch(/^task "speed-zero": speed 0 is out of range: use a number/)
    expect(messageOf(result, 'speed-nan')).toMatch(/^task "speed-nan": speed NaN is out of range/)
    expect(messageOf(result, 'unwritable')).toMatch(
      /^task "unwritable": cannot write \S+unwritable\.wav: (Read-only file system|Permission denied)/,
    )
    expect(result.results.get('missing-folder')!.status).toBe('generated')
    expect(readWav(path.join(dir, 'not', 'there', 'yet', 'missing-folder.wav')).sampleRate).toBe(24000)
    for (const id of oddIds) expect(result.results.get(id)?.status).toBe('generated')
    expect(progressIds.sort()).toEqual(tasks.map((task) => task.id).sort())
    expect(result).toMatchObject({ success: 1 + oddIds.length, failed: 4 })
    const written = [...oddIds.map((_, i) => `odd-${i}.wav`), 'not/there/yet/missing-folder.wav']
    expect(filesUnder(dir)).toEqual(written.sort())
    expect(filesUnder(readOnly.dir)).toEqual([])
  })

  it('a 20,000-character text is phonemized and then stopped by the task timeout; the next task runs', async () => {
    const dir = path.join(root, 'huge')
    const huge = '今日は朝から雨が降っていたので、図書館で日本語の本を読みました。'.repeat(700).slice(0, 20_000)
    expect(huge).toHaveLength(20_000)
    const pool = new AudioWorkerPool(1, { timeoutMs: 8000, inferenceSlots: 1 })
    pool.addTasks([
      { id: 'huge', text: huge, outputPath: path.join(dir, 'huge.wav') },
      { id: 'after', text: '水', outputPath: path.join(dir, 'after.wav') },
    ])
    const result = await pool.process()
    expect(result.results.get('huge')).toMatchObject({ status: 'timed-out' })
    expect(result.results.get('huge')!.error).toMatchObject({
      code: 'Timeout',
      message: 'task "huge": timed out after 8000 ms while running the model (the run was terminated)',
    })
    expect(result.results.get('after')!.status).toBe('generated')
    expect(filesUnder(dir)).toEqual(['after.wav'])
  })

  it('a model with one flipped byte is refused, naming the file and the fix', async () => {
    const { dir, models } = assetsWithFlippedModelByte(root)
    expect(models.length).toBeGreaterThanOrEqual(1)
    const error = await new AudioWorkerPool(1, { assetsDir: dir }).ready().then(
      () => {
        throw new Error('the pool started on a corrupt model')
      },
      (thrown: unknown) => thrown as Error & { code?: string },
    )
    expect(error.code).toBe('GenericFailure')
    expect(models.some((model) => error.message.startsWith(`asset ${model} is corrupt (SHA-256 `))).toBe(true)
    expect(error.message).toContain('run `npx kokoro-pool fetch-assets`')

    // The CLI reports the same and exits 1 before writing anything. (A child process: Jest gives each test file
    // its own copy of process.env, which the addon in this process would not see.)
    const { dataDir, outDir } = writeCourse()
    releases.push(() => rmSync(path.dirname(dataDir), { recursive: true, force: true }))
    const args = ['--type', 'kanji', '--data-dir', dataDir, '--out-dir', outDir]
    const corrupt = await cliWithAssets(dir, args)
    expect(corrupt.code).toBe(1)
    expect(corrupt.stderr).toMatch(/^error: asset \S+assets-flipped\/\S+\.onnx is corrupt .*run `npx kokoro-pool fetch-assets`/)
    const missing = await cliWithAssets(path.join(root, 'no-assets-here'), args)
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/^error: asset \S+no-assets-here\/\S+ is missing: run `npx kokoro-pool fetch-assets`/)
    expect(filesUnder(outDir)).toEqual([])
  })
})

describe('bad options and course data for tts-generate', () => {
  it.each([
    [['--speed', '0'], /--speed <x>' argument '0' is invalid\. It must be a number from 0\.5 to 2\.0\./],
    [['--speed', 'NaN'], /--speed <x>' argument 'NaN' is invalid\. It must be a number from 0\.5 to 2\.0\./],
    [['--speed', '10'], /--speed <x>' argument '10' is invalid\. It must be a number from 0\.5 to 2\.0\./],
    [['--concurrency', '-1'], /--concurrency <n>' argument '-1' is invalid\. It must be a whole number from 1 to 1024/],
    [['--concurrency', '1e9'], /--concurrency <n>' argument '1e9' is invalid\. It must be a whole number from 1 to/],
  ])('%j exits 2 with a message saying what is allowed', async (args, message) => {
    const run = await cli([...args, '--out-dir', path.join(root, 'never')])
    expect(run.stderr).toMatch(message)
    expect(run.code).toBe(2)
  })

  const item = { word: '水', reading: 'みず', meaning: 'water', example: { ja: '水です。', en: 'Water.' } }
  it.each(['with space', 'emoji😀', '-leading-dash', 'new\nline', 'x'.repeat(101), '..', 'a/b', 'C:\\x'])(
    'an id like %j is refused before anything is generated, naming the file and the item',
    (id) => {
      const text = JSON.stringify({ type: 'vocabulary', items: [{ id, ...item }] })
      expect(() => parseCourse(text, path.join(root, 'vocabulary.json'), 'vocabulary')).toThrow(
        `item #1 (id ${JSON.stringify(id)}): id is not a safe file name`,
      )
    },
  )
})
