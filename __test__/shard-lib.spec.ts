// Sharding without the model (docs/sharding.md): `--shard` and the Indexed Job environment, the split by hash,
// the summary files, and the option combinations the CLI refuses.

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import { BUNDLED_DATA_DIR } from '../lib/cli'
import { loadCourse } from '../lib/course'
import { COURSE_TYPES } from '../lib/course-types'
import {
  isInShard,
  parseShard,
  readShardSummaries,
  shardFromEnvironment,
  shardKey,
  shardOfKey,
  shardSummaryPath,
  writeShardSummary,
  type ShardSummary,
} from '../lib/shard'
import { buildSpeechJobs } from '../lib/speech-jobs'
import { runCli, writeCourse } from './helpers/cli-run'

let tempDir: string
beforeEach(() => {
  tempDir = mkdtempSync(path.join(os.tmpdir(), 'kokoro-pool-shard-lib-'))
})
afterEach(() => rmSync(tempDir, { recursive: true, force: true }))

describe('--shard K/N', () => {
  it('takes a 0-based index and a count', () => {
    expect(parseShard('0/3')).toEqual({ index: 0, count: 3 })
    expect(parseShard(' 2 / 3 ')).toEqual({ index: 2, count: 3 })
    expect(parseShard('0/1')).toEqual({ index: 0, count: 1 })
  })

  it.each([
    ['3/3', /shard index 3 is out of range for 3 shards; indexes are 0-based, from 0 to 2/],
    ['1/0', /the shard count must be a whole number from 1 to 100000/],
    ['0/100001', /the shard count must be a whole number from 1 to 100000/],
    ['-1/3', /"-1\/3" is not K\/N/],
    ['1', /"1" is not K\/N: give the shard index \(0-based\) and the shard count, e.g. 0\/3/],
    ['a/b', /is not K\/N/],
    ['1.5/3', /is not K\/N/],
  ])('refuses %s', (spec, message) => {
    expect(() => parseShard(spec)).toThrow(message)
  })
})

describe('the Indexed Job environment', () => {
  it('gives the shard when both variables are set, nothing when neither is', () => {
    expect(shardFromEnvironment({ JOB_COMPLETION_INDEX: '4', JOB_COMPLETIONS: '8' })).toEqual({ index: 4, count: 8 })
    expect(shardFromEnvironment({})).toBeUndefined()
    expect(shardFromEnvironment({ JOB_COMPLETION_INDEX: '', JOB_COMPLETIONS: '' })).toBeUndefined()
  })

  it.each([
    [{ JOB_COMPLETION_INDEX: '1' }, /JOB_COMPLETION_INDEX=1 is set but JOB_COMPLETIONS is not: Kubernetes sets only the index/],
    [{ JOB_COMPLETIONS: '3' }, /JOB_COMPLETIONS=3 is set but JOB_COMPLETION_INDEX is not/],
    [{ JOB_COMPLETION_INDEX: '3', JOB_COMPLETIONS: '3' }, /JOB_COMPLETION_INDEX=3 JOB_COMPLETIONS=3: shard index 3 is out of range/],
    [{ JOB_COMPLETION_INDEX: 'x', JOB_COMPLETIONS: '3' }, /JOB_COMPLETION_INDEX=x JOB_COMPLETIONS=3: both must be whole numbers/],
  ])('refuses %j', (env, message) => {
    expect(() => shardFromEnvironment(env)).toThrow(message)
  })
})

describe('the split', () => {
  const sampleJobs = COURSE_TYPES.flatMap((type) =>
    buildSpeechJobs(loadCourse(BUNDLED_DATA_DIR, type), { outDir: path.join(os.tmpdir(), 'x'), urlPrefix: '/audio' }),
  )

  it('puts every file of the sample course in exactly one shard, in shares near 1/N', () => {
    for (const count of [1, 2, 3, 8]) {
      const perShard = Array.from({ length: count }, (_, index) =>
        sampleJobs.filter((job) => isInShard(job, { index, count })),
      )
      expect(perShard.flat().map((job) => job.taskId).sort()).toEqual(sampleJobs.map((job) => job.taskId).sort())
      // 316 files: a hash split this far from even would mean the hash is not spreading the keys.
      for (const jobs of perShard) expect(Math.abs(jobs.length - sampleJobs.length / count)).toBeLessThan(sampleJobs.length / count / 3 + 5)
    }
  })

  it('hashes the path under the output folder, not where that folder is mounted', () => {
    const elsewhere = COURSE_TYPES.flatMap((type) =>
      buildSpeechJobs(loadCourse(BUNDLED_DATA_DIR, type), { outDir: '/mnt/other', urlPrefix: '/cdn' }),
    )
    expect(elsewhere.map(shardKey)).toEqual(sampleJobs.map(shardKey))
    expect(shardKey(sampleJobs[0])).toBe(`vocabulary/${sampleJobs[0].itemId}.wav`)
  })

  it('moves no file to another shard when items are added', () => {
    const course = loadCourse(BUNDLED_DATA_DIR, 'vocabulary')
    const layout = { outDir: tempDir, urlPrefix: '/audio' }
    const before = buildSpeechJobs({ ...course, items: course.items.slice(0, 40) }, layout)
    const after = buildSpeechJobs(course, layout)
    const shardBefore = new Map(before.map((job) => [job.taskId, shardOfKey(shardKey(job), 5)]))
    for (const job of after) {
      if (shardBefore.has(job.taskId)) expect(shardOfKey(shardKey(job), 5)).toBe(shardBefore.get(job.taskId))
    }
  })

  it('is the same on every machine and release: SHA-256 of the key, first 48 bits, modulo N', () => {
    // Pinned: a change of hash would re-split a half-finished run between pods of two releases.
    // sha256("vocabulary/v001.wav") starts abd05b46de23, sha256("kanji/k015.example-1.wav") 1c36c89cd532.
    expect([2, 3, 7, 1000].map((count) => shardOfKey('vocabulary/v001.wav', count))).toEqual([1, 2, 4, 307])
    expect([2, 3, 7, 1000].map((count) => shardOfKey('kanji/k015.example-1.wav', count))).toEqual([0, 2, 6, 106])
    expect(0xabd05b46de23 % 1000).toBe(307)
  })
})

function summary(index: number, count: number, finishedAt: string): ShardSummary {
  return {
    shard: { index, count },
    host: 'pod-a',
    finishedAt,
    exitCode: 0,
    files: 4,
    generated: 3,
    regenerated: 0,
    skipped: 1,
    failed: [],
    cancelled: 0,
    audioSeconds: 2.5,
    bytesWritten: 160_000,
    wallMs: 1200,
  }
}

describe('shard summaries', () => {
  it('are written atomically to <out>/.shards/<K>-of-<N>.json and read back', () => {
    const outDir = path.join(tempDir, 'audio')
    const file = writeShardSummary(outDir, summary(1, 3, '2026-12-04T10:00:00.000Z'))
    expect(file).toBe(path.join(outDir, '.shards', '1-of-3.json'))
    expect(file).toBe(shardSummaryPath(outDir, { index: 1, count: 3 }))
    writeShardSummary(outDir, { ...summary(1, 3, '2026-12-04T11:00:00.000Z'), generated: 0, skipped: 4 })
    // Rewritten in place by a rerun of the index; no temporary file left beside it.
    expect(readdirSync(path.join(outDir, '.shards'))).toEqual(['1-of-3.json'])
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ skipped: 4, finishedAt: '2026-12-04T11:00:00.000Z' })
    expect(readShardSummaries(outDir)).toEqual({
      summaries: [{ ...summary(1, 3, '2026-12-04T11:00:00.000Z'), generated: 0, skipped: 4 }],
      problems: [],
    })
  })

  it('that cannot be read are reported, not thrown; other files in .shards are left alone', () => {
    const outDir = path.join(tempDir, 'audio')
    writeShardSummary(outDir, summary(0, 2, '2026-12-04T10:00:00.000Z'))
    const dir = path.join(outDir, '.shards')
    writeFileSync(path.join(dir, '1-of-2.json'), '{"shard": {"index": 1, "co')
    writeFileSync(path.join(dir, '2-of-3.json'), JSON.stringify(summary(0, 3, '2026-12-04T10:00:00.000Z')))
    writeFileSync(path.join(dir, 'notes.txt'), 'hello')
    const { summaries, problems } = readShardSummaries(outDir)
    expect(summaries.map((s) => s.shard)).toEqual([{ index: 0, count: 2 }])
    expect(problems).toEqual([
      expect.stringMatching(/cannot read .*1-of-2\.json: .*JSON/),
      expect.stringMatching(/cannot read .*2-of-3\.json: its "shard" field does not match its name/),
    ])
    expect(readShardSummaries(path.join(tempDir, 'nothing-here'))).toEqual({ summaries: [], problems: [] })
  })
})

describe('tts-generate --help', () => {
  it('documents --shard (0-based, its environment default) and --no-generate', async () => {
    const result = await runCli(['--help'])
    expect(result.code).toBe(0)
    const help = result.stdout.replace(/\s+/g, ' ')
    expect(help).toContain('--shard <K/N> generate only shard K of N (K 0-based, 0 to N-1); never writes the course JSON')
    expect(help).toContain('(default: $JOB_COMPLETION_INDEX/$JOB_COMPLETIONS when set, as in a Kubernetes Indexed Job)')
    expect(help).toContain("--no-generate synthesise nothing: report the missing files of each shard; with --update-json write every present file's URL")
  })
})

describe('tts-generate refuses shard options that would race or mean nothing (exit 2)', () => {
  const cases: [string, string[], NodeJS.ProcessEnv, RegExp][] = [
    [
      '--update-json in a shard',
      ['--shard', '0/3', '--update-json'],
      {},
      /error: --update-json with shard 0-of-3: shards never write the course JSON .*run tts-generate --update-json --no-generate once/,
    ],
    [
      '--update-json in an Indexed Job pod',
      ['--update-json'],
      { JOB_COMPLETION_INDEX: '2', JOB_COMPLETIONS: '4' },
      /error: --update-json with shard 2-of-4: shards never write the course JSON/,
    ],
    ['--shard out of range', ['--shard', '3/3'], {}, /--shard 3\/3: shard index 3 is out of range for 3 shards/],
    ['a pod without JOB_COMPLETIONS', [], { JOB_COMPLETION_INDEX: '0' }, /JOB_COMPLETIONS is not/],
    ['--shard with --no-generate', ['--shard', '0/3', '--no-generate'], {}, /--no-generate checks the files of every shard: leave out --shard/],
    ['--dry-run with --no-generate', ['--dry-run', '--no-generate'], {}, /--dry-run and --no-generate: choose one/],
  ]
  it.each(cases)('%s', async (_name, args, env, message) => {
    const { root, dataDir, outDir } = writeCourse()
    try {
      const result = await runCli([...args, '--data-dir', dataDir, '--out-dir', outDir], env)
      expect(result.stderr).toMatch(message)
      expect(result.code).toBe(2)
      expect(readdirSync(root)).toEqual(['data'])
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })
})

describe('tts-generate --no-generate', () => {
  it('writes nothing and exits 1 when files are missing, naming them', async () => {
    const { root, dataDir, outDir } = writeCourse()
    try {
      const before = readdirSync(dataDir).map((name) => readFileSync(path.join(dataDir, name), 'utf8'))
      mkdirSync(outDir)
      const result = await runCli(['--no-generate', '--type', 'grammar', '--data-dir', dataDir, '--out-dir', outDir])
      expect(result.stderr).toBe('')
      expect(result.stdout).toContain('grammar: 0 of 1 file present')
      expect(result.stdout).toContain(`No shard summaries in ${path.join(outDir, '.shards')}.`)
      expect(result.stdout).toContain('  missing: grammar/desu.example-1.wav')
      expect(result.stdout).toContain('1 of 1 file missing')
      expect(result.code).toBe(1)
      expect(readdirSync(dataDir).map((name) => readFileSync(path.join(dataDir, name), 'utf8'))).toEqual(before)
      expect(readdirSync(outDir)).toEqual([])
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })
})
