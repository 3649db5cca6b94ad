// Issue 17: a sharded run as an Indexed Job would do it, with local processes (docs/sharding.md). Three shards run
// at once on a 12-file course; one is killed with SIGKILL mid-run and only its index is rerun; the union is complete
// and every file was written once; the final `--update-json --no-generate` pass writes the same JSON as an
// unsharded run.

import { readFileSync, rmSync, statSync, type Stats } from 'node:fs'
import path from 'node:path'

import { isInShard, type Shard } from '../lib/shard'
import { runCli, startCli, writeCourse, type CliResult, type TinyCourse } from './helpers/cli-run'
import { filesUnder, TEMP_WAV } from './helpers/reliability-files'
import { readWav } from './helpers/wav'

const TYPES = ['vocabulary', 'grammar', 'kanji'] as const
const COUNT = 3

/** Single words: 4 x 2 vocabulary + 2 grammar + 2 kanji = 12 files, each a fraction of a second of audio. */
function wordCourse(): TinyCourse {
  return {
    vocabulary: {
      type: 'vocabulary',
      title: 'shard test course',
      items: ['水', '山', '川', '花'].map((word, i) => ({
        id: `v${i}`,
        word,
        reading: 'よみ',
        meaning: 'meaning',
        example: { ja: ['雨', '空', '海', '犬'][i], en: 'example' },
      })),
    },
    grammar: {
      type: 'grammar',
      items: ['猫', '魚'].map((word, i) => ({
        id: `g${i}`,
        pattern: 'pattern',
        meaning: 'meaning',
        explanation: 'explanation',
        examples: [{ ja: word, en: 'example' }],
      })),
    },
    kanji: {
      type: 'kanji',
      items: [
        {
          id: 'k0',
          kanji: '木',
          meanings: ['tree'],
          onyomi: [],
          kunyomi: ['き'],
          examples: [{ word: '本', reading: 'ほん', meaning: 'book' }],
        },
      ],
    },
  } as unknown as TinyCourse
}

/** Every file of the course as "<type>/<file>", with its shard. */
function courseFiles(): { name: string; shard: number }[] {
  const names = [
    ...[0, 1, 2, 3].flatMap((i) => [`vocabulary/v${i}.wav`, `vocabulary/v${i}.example.wav`]),
    'grammar/g0.example-1.wav',
    'grammar/g1.example-1.wav',
    'kanji/k0.wav',
    'kanji/k0.example-1.wav',
  ]
  return names.map((name) => {
    const [type, fileName] = name.split('/')
    const shard = [0, 1, 2].find((index) => isInShard({ type: type as (typeof TYPES)[number], fileName }, { index, count: COUNT }))
    return { name, shard: shard as number }
  })
}

/** "<type>/<file>" of every "… <type>/<id> generated" progress line. */
function generatedFiles(result: CliResult): string[] {
  return [...result.stdout.matchAll(/ (\w+\/[\w.-]+) generated$/gm)].map((match) => `${match[1]}.wav`)
}

const wavsUnder = (outDir: string): string[] => filesUnder(outDir).filter((name) => name.endsWith('.wav'))

describe('three shards of one run, as an Indexed Job runs them', () => {
  const course = wordCourse()
  const sharded = writeCourse(course)
  const unsharded = writeCourse(course)
  afterAll(() => [sharded, unsharded].forEach(({ root }) => rmSync(root, { recursive: true, force: true })))
  const common = ['--concurrency', '1', '--data-dir', sharded.dataDir, '--out-dir', sharded.outDir]
  const shardArgs = (index: number): string[] => ['--shard', `${index}/${COUNT}`, ...common]

  it('make every file once, survive a SIGKILLed shard, and give the unsharded JSON after the final pass', async () => {
    const files = courseFiles()
    const filesOf = (index: number): string[] => files.filter((file) => file.shard === index).map((file) => file.name)
    // The shard killed mid-run is the biggest one, so it is still working when its first file is done.
    const victim = [0, 1, 2].reduce((best, index) => (filesOf(index).length > filesOf(best).length ? index : best))
    expect(filesOf(victim).length).toBeGreaterThanOrEqual(3)
    for (const index of [0, 1, 2]) expect(filesOf(index).length).toBeGreaterThanOrEqual(1)

    // 1. Three shard processes at once; the victim is SIGKILLed as soon as it has finished one file.
    const runs = [0, 1, 2].map((index) => startCli(shardArgs(index)))
    runs[victim].child.stdout?.on('data', (chunk: Buffer) => {
      if (/ generated$/m.test(chunk.toString())) runs[victim].child.kill('SIGKILL')
    })
    const results = await Promise.all(runs.map((run) => run.done))
    for (const index of [0, 1, 2]) {
      const result = results[index]
      if (index === victim) {
        expect(result.signal).toBe('SIGKILL')
        continue
      }
      expect(result.stderr).toBe('')
      expect(result.code).toBe(0)
      const shard: Shard = { index, count: COUNT }
      expect(result.stdout).toContain(`Shard ${index}-of-3 (0-based): ${filesOf(index).length} of 12 files`)
      // Each shard made exactly its own files, and said so in its summary.
      expect(generatedFiles(result).sort()).toEqual(filesOf(index).sort())
      const summary = JSON.parse(readFileSync(path.join(sharded.outDir, '.shards', `${index}-of-3.json`), 'utf8'))
      expect(summary).toMatchObject({ shard, exitCode: 0, files: filesOf(index).length, generated: filesOf(index).length, skipped: 0, failed: [], cancelled: 0 })
    }
    // What the victim finished is on disk (a file renamed into place just before the kill may not be reported).
    const beforeKill = filesOf(victim).filter((name) => wavsUnder(sharded.outDir).includes(name))
    expect(beforeKill).toEqual(expect.arrayContaining(generatedFiles(results[victim])))
    expect(beforeKill.length).toBeGreaterThanOrEqual(1)
    expect(beforeKill.length).toBeLessThan(filesOf(victim).length)
    expect(filesUnder(path.join(sharded.outDir, '.shards'))).toEqual(
      [0, 1, 2].filter((index) => index !== victim).map((index) => `${index}-of-3.json`),
    )

    // Disjoint so far: what is on disk is what the shards reported, each file by its own shard, none twice.
    const firstWave = [...results.filter((_, index) => index !== victim).flatMap(generatedFiles), ...beforeKill]
    expect(new Set(firstWave).size).toBe(firstWave.length)
    expect(wavsUnder(sharded.outDir)).toEqual([...firstWave].sort())
    const stats = new Map<string, Stats>(firstWave.map((name) => [name, statSync(path.join(sharded.outDir, name))]))

    // 2. The final pass now: the killed shard's files are missing, named under its index; the rest get URLs.
    const early = await runCli(['--update-json', '--no-generate', ...common.slice(2)])
    expect(early.stderr).toBe('')
    expect(early.code).toBe(1)
    const missingNow = filesOf(victim).filter((name) => !beforeKill.includes(name))
    expect(early.stdout).toContain(
      `  ${victim}-of-3  ${filesOf(victim).length} files, ${missingNow.length} missing: ${missingNow.join(', ')}; no summary: not finished, or killed; rerun index ${victim}`,
    )
    for (const index of [0, 1, 2].filter((other) => other !== victim)) {
      expect(early.stdout).toMatch(new RegExp(`  ${index}-of-3  ${filesOf(index).length} files?, all present; finished \\S+ on \\S+, exit 0: ${filesOf(index).length} generated, 0 skipped, 0 failed`))
    }
    expect(early.stdout).toContain(`${missingNow.length} of 12 files missing`)

    // 3. Only the killed index runs again: it makes its missing files and skips the one it had finished.
    const rerun = await runCli(shardArgs(victim))
    expect(rerun.stderr).toBe('')
    expect(rerun.code).toBe(0)
    expect(generatedFiles(rerun).sort()).toEqual([...missingNow].sort())
    expect(rerun.stdout).toMatch(new RegExp(`skipped +${beforeKill.length} files? \\(already there\\)`))

    // Complete and disjoint: 12 valid WAVs, no temporary file left by the kill, each file written exactly once
    // (the pool writes a new file and renames it, so a second write would show as a new inode or mtime).
    const everything = [...firstWave, ...generatedFiles(rerun)]
    expect(new Set(everything).size).toBe(everything.length)
    expect([...everything].sort()).toEqual(files.map((file) => file.name).sort())
    const inShards = filesUnder(sharded.outDir)
    expect(inShards.filter((name) => TEMP_WAV.test(name))).toEqual([])
    expect(wavsUnder(sharded.outDir)).toEqual(files.map((file) => file.name).sort())
    for (const [name, stat] of stats) {
      const now = statSync(path.join(sharded.outDir, name))
      expect({ name, ino: now.ino, mtimeMs: now.mtimeMs }).toEqual({ name, ino: stat.ino, mtimeMs: stat.mtimeMs })
    }
    expect(JSON.parse(readFileSync(path.join(sharded.outDir, '.shards', `${victim}-of-3.json`), 'utf8'))).toMatchObject({
      exitCode: 0,
      generated: missingNow.length,
      skipped: beforeKill.length,
    })

    // 4. The final pass writes every URL; an unsharded run of the same course writes the same JSON, byte for byte.
    const final = await runCli(['--update-json', '--no-generate', ...common.slice(2)])
    expect(final.stderr).toBe('')
    expect(final.code).toBe(0)
    expect(final.stdout).toContain('All 12 files present.')
    const whole = await runCli(['--update-json', '--concurrency', '2', '--data-dir', unsharded.dataDir, '--out-dir', unsharded.outDir])
    expect(whole.stderr).toBe('')
    expect(whole.code).toBe(0)
    for (const type of TYPES) {
      const json = readFileSync(path.join(sharded.dataDir, `${type}.json`), 'utf8')
      expect(json).toBe(readFileSync(path.join(unsharded.dataDir, `${type}.json`), 'utf8'))
      expect(json).toContain(`"audio": "/audio/${type}/`)
    }
    // Same files, same speech: each sharded WAV is as long as its unsharded twin (audio bytes may differ by CPU).
    expect(wavsUnder(unsharded.outDir)).toEqual(wavsUnder(sharded.outDir))
    for (const name of wavsUnder(sharded.outDir)) {
      const mine = readWav(path.join(sharded.outDir, name))
      const twin = readWav(path.join(unsharded.outDir, name))
      expect(mine).toMatchObject({ sampleRate: 24000, channels: 1, bitsPerSample: 16 })
      expect(mine.durationSeconds).toBeGreaterThan(0.1)
      expect(Math.abs(mine.durationSeconds - twin.durationSeconds)).toBeLessThan(0.05 * twin.durationSeconds)
    }
  }, 300_000)
})

describe('one shard on its own', () => {
  const course = wordCourse()
  const made = writeCourse(course)
  afterAll(() => rmSync(made.root, { recursive: true, force: true }))
  const common = ['--data-dir', made.dataDir, '--out-dir', made.outDir]

  it('--dry-run --shard K/N lists only that shard’s files and writes nothing', async () => {
    const result = await runCli(['--dry-run', '--shard', '2/3', ...common])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    const mine = courseFiles().filter((file) => file.shard === 2).map((file) => file.name)
    expect(result.stdout).toContain(`Shard 2-of-3 (0-based): ${mine.length} of 12 files; the other shards make the rest.`)
    const listed = [...result.stdout.matchAll(/^ {2}new {5}(\S+\.wav) /gm)].map((match) => match[1])
    expect(listed.sort()).toEqual([...mine].sort())
    expect(result.stdout).toContain(`Dry run: ${mine.length} files would be generated`)
    expect(filesUnder(made.root).filter((name) => !name.startsWith('data/'))).toEqual([])
  })

  it('stopped with SIGTERM (as Kubernetes stops a pod) keeps its files, writes its summary and exits 130', async () => {
    const run = startCli(['--shard', '0/1', '--concurrency', '1', ...common])
    await new Promise<void>((resolve) => {
      run.child.stdout?.on('data', (chunk: Buffer) => {
        if (/ generated$/m.test(chunk.toString())) resolve()
      })
    })
    run.child.kill('SIGTERM')
    const stopped = await run.done
    expect(stopped.code).toBe(130)
    expect(stopped.stderr).toContain('Interrupted: stopping; finished files are kept.')
    const summary = JSON.parse(readFileSync(path.join(made.outDir, '.shards', '0-of-1.json'), 'utf8'))
    const kept = wavsUnder(made.outDir)
    expect(summary).toMatchObject({ shard: { index: 0, count: 1 }, exitCode: 130, files: 12, generated: kept.length, failed: [] })
    expect(summary.cancelled).toBe(12 - kept.length)
    expect(summary.cancelled).toBeGreaterThan(0)
  })
})
