// Sharded runs (docs/sharding.md): which files shard K of N makes, where a shard's summary goes, and reading
// the summaries back for the final `--update-json --no-generate` pass.

import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'

import type { SpeechJob } from './speech-jobs'
import type { RunTotals } from './summary'
import { writeFileAtomic } from './update-json'

/** One part of a run. `index` is 0-based, as Kubernetes' JOB_COMPLETION_INDEX is. */
export interface Shard {
  index: number
  count: number
}

/** The most completions an Indexed Job may have. */
export const MAX_SHARDS = 100_000

export class ShardError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ShardError'
  }
}

function checkedShard(index: number, count: number, given: string): Shard {
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_SHARDS) {
    throw new ShardError(`${given}: the shard count must be a whole number from 1 to ${MAX_SHARDS}`)
  }
  if (!Number.isSafeInteger(index) || index >= count) {
    throw new ShardError(
      `${given}: shard index ${index} is out of range for ${count} shards; indexes are 0-based, from 0 to ${count - 1}`,
    )
  }
  return { index, count }
}

/** `--shard K/N`: shard K (0-based) of N. */
export function parseShard(spec: string): Shard {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(spec)
  if (match === null) {
    throw new ShardError(`"${spec}" is not K/N: give the shard index (0-based) and the shard count, e.g. 0/3`)
  }
  return checkedShard(Number(match[1]), Number(match[2]), `--shard ${spec.trim()}`)
}

/**
 * The shard an Indexed Job pod runs: JOB_COMPLETION_INDEX (set by Kubernetes) of JOB_COMPLETIONS (which
 * Kubernetes does not set: the manifest repeats spec.completions there). Undefined when neither is set.
 */
export function shardFromEnvironment(env: NodeJS.ProcessEnv): Shard | undefined {
  const index = env.JOB_COMPLETION_INDEX || undefined
  const count = env.JOB_COMPLETIONS || undefined
  if (index === undefined && count === undefined) return undefined
  if (index === undefined) {
    throw new ShardError(`JOB_COMPLETIONS=${count} is set but JOB_COMPLETION_INDEX is not: set both, or pass --shard K/N`)
  }
  if (count === undefined) {
    throw new ShardError(
      `JOB_COMPLETION_INDEX=${index} is set but JOB_COMPLETIONS is not: Kubernetes sets only the index, so set ` +
        `JOB_COMPLETIONS to the Job's spec.completions (deploy/k8s/shards-job.yaml does), or pass --shard K/N`,
    )
  }
  const given = `JOB_COMPLETION_INDEX=${index} JOB_COMPLETIONS=${count}`
  if (!/^\d+$/.test(index) || !/^\d+$/.test(count)) throw new ShardError(`${given}: both must be whole numbers`)
  return checkedShard(Number(index), Number(count), given)
}

/** "1-of-3": the shard's name in messages and its summary file. */
export function shardName(shard: Shard): string {
  return `${shard.index}-of-${shard.count}`
}

/** A file's path under the output folder, "vocabulary/v001.wav": what the split hashes. */
export function shardKey(job: Pick<SpeechJob, 'type' | 'fileName'>): string {
  return `${job.type}/${job.fileName}`
}

/**
 * The shard (0-based) that makes the file at `key`: SHA-256 of the key, first 48 bits, modulo `count`. It
 * depends on nothing but the key and the count, so every pod computes the same split, and adding items
 * moves no other file to another shard.
 */
export function shardOfKey(key: string, count: number): number {
  return createHash('sha256').update(key, 'utf8').digest().readUIntBE(0, 6) % count
}

export function isInShard(job: Pick<SpeechJob, 'type' | 'fileName'>, shard: Shard): boolean {
  return shardOfKey(shardKey(job), shard.count) === shard.index
}

/** What a shard leaves behind in `<out>/.shards/<K>-of-<N>.json` for the final pass (and for people). */
export interface ShardSummary extends RunTotals {
  shard: Shard
  /** The pod's name inside Kubernetes. */
  host: string
  finishedAt: string
  exitCode: number
  /** Files of this shard in the run (after --type and --limit). */
  files: number
  /** Set when the run stopped before generating (the pool could not start, say). */
  error?: string
}

export function shardSummaryDir(outDir: string): string {
  return path.join(outDir, '.shards')
}

export function shardSummaryPath(outDir: string, shard: Shard): string {
  return path.join(shardSummaryDir(outDir), `${shardName(shard)}.json`)
}

/** Writes the summary atomically and durably (temp file, fsync, rename, fsync the folder); returns its path. */
export function writeShardSummary(outDir: string, summary: ShardSummary): string {
  const file = shardSummaryPath(outDir, summary.shard)
  mkdirSync(path.dirname(file), { recursive: true })
  writeFileAtomic(file, `${JSON.stringify(summary, null, 2)}\n`)
  return file
}

/** Every summary in `<out>/.shards`, and a line for each file there that cannot be read (never thrown). */
export function readShardSummaries(outDir: string): { summaries: ShardSummary[]; problems: string[] } {
  const dir = shardSummaryDir(outDir)
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return { summaries: [], problems: [] }
  }
  const summaries: ShardSummary[] = []
  const problems: string[] = []
  for (const name of names.sort()) {
    const match = /^(\d+)-of-(\d+)\.json$/.exec(name)
    if (match === null) continue
    const file = path.join(dir, name)
    try {
      const summary = JSON.parse(readFileSync(file, 'utf8')) as ShardSummary
      if (summary.shard?.index !== Number(match[1]) || summary.shard?.count !== Number(match[2])) {
        throw new Error('its "shard" field does not match its name')
      }
      summaries.push(summary)
    } catch (error) {
      problems.push(`cannot read ${file}: ${(error as Error).message}`)
    }
  }
  return { summaries, problems }
}
