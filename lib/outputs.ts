// What a run does with the files already there: which are current (their fingerprint matches what the job
// would write now), which changed and why, and which files no item produces any more (orphans).
// The fingerprint itself lives in each file and is read by the addon (docs/formats.md).

import { readdirSync, rmSync } from 'node:fs'
import path from 'node:path'

import type { OutputCheck } from '..'
import type { CourseType } from './course-types'
import type { SpeechJob } from './speech-jobs'

export const AUDIO_FORMATS = ['wav', 'mp3', 'opus', 'flac'] as const
export type AudioFormat = (typeof AUDIO_FORMATS)[number]
export const SAMPLE_RATES = [24000, 44100, 48000] as const

/** How files are written; anything absent is the pool's default (docs/formats.md). */
export interface OutputSettings {
  format: AudioFormat
  /** kbit/s, mp3 and opus. */
  bitrate?: number
  sampleRate?: number
  /** Integrated loudness target, LUFS. */
  loudness?: number
  padMs?: number
  /** Shortest silence at 、 and at 。！？ between words, ms. */
  commaPauseMs?: number
  sentencePauseMs?: number
}

export interface JobPlan {
  pending: SpeechJob[]
  current: SpeechJob[]
  /** Pending jobs whose file is there and is replaced: it changed, or `force`. */
  regenerated: number
  /** Why each pending job is generated: "new", or what changed ("phonemes changed, voice changed"). */
  why: Map<string, string>
}

/**
 * Splits jobs by their output's check: missing and changed files are generated; current ones and files without a
 * fingerprint (made before fingerprints existed) are kept, unless `force`, which regenerates every file.
 */
export function planJobs(jobs: SpeechJob[], checks: OutputCheck[], force: boolean): JobPlan {
  const byId = new Map(checks.map((check) => [check.id, check]))
  const plan: JobPlan = { pending: [], current: [], regenerated: 0, why: new Map() }
  for (const job of jobs) {
    const check = byId.get(job.taskId)
    let why: string | undefined
    switch (check?.status) {
      case 'current':
        why = force ? 'forced' : undefined
        break
      case 'unfingerprinted':
        why = force ? 'forced (no fingerprint)' : undefined
        break
      case 'changed':
        why = check.reasons.join(', ')
        break
      case 'failed':
        // The pool reports the same problem as this task's error.
        why = check.error ?? 'cannot be checked'
        break
      default:
        why = 'new'
    }
    if (why === undefined) {
      plan.current.push(job)
      continue
    }
    plan.pending.push(job)
    plan.why.set(job.taskId, why)
    if (check !== undefined && check.status !== 'missing' && check.status !== 'failed') plan.regenerated += 1
  }
  return plan
}

/**
 * Audio files in `<outDir>/<type>/` that no job of the type produces: left over from deleted items or another
 * format. Temporary files (dot files) are not counted.
 */
export function findOrphans(outDir: string, types: CourseType[], jobs: SpeechJob[]): string[] {
  const produced = new Set(jobs.map((job) => path.resolve(job.outputPath)))
  const audio = new RegExp(`\\.(${AUDIO_FORMATS.join('|')})$`)
  return types.flatMap((type) => {
    const dir = path.resolve(outDir, type)
    let names: string[]
    try {
      names = readdirSync(dir)
    } catch {
      return []
    }
    return names
      .filter((name) => !name.startsWith('.') && audio.test(name))
      .map((name) => path.join(dir, name))
      .filter((file) => !produced.has(file))
      .sort()
  })
}

/** Removes the orphan files; returns how many were removed. */
export function pruneOrphans(files: string[]): number {
  for (const file of files) rmSync(file, { force: true })
  return files.length
}

/** "812 B", "41.3 kB", "19.1 MB" (decimal units, as file managers show them). */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`
  if (bytes < 1_000_000) return `${(bytes / 1000).toFixed(1)} kB`
  return `${(bytes / 1_000_000).toFixed(1)} MB`
}
