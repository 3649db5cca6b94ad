// The tts-generate run: load the course, then either list it (dry run) or generate it type by type with one pool.

import { existsSync, statSync } from 'node:fs'

import { captionLocation, writeWebVtt, type CaptionFormat } from './captions'
import { loadCourse, displayPath, type LoadedCourse } from './course'
import type { CourseType } from './course-types'
import { findOrphans, planJobs, pruneOrphans, type JobPlan, type OutputSettings } from './outputs'
import { createProgressView } from './progress'
import type { ModelName, PoolSettings, SpeechPool, SpeechProvider } from './providers'
import { buildSpeechJobs, type SpeechJob } from './speech-jobs'
import { emptyTotals, formatSummary, plural, type RunTotals } from './summary'
import { writeJobUrls } from './update-json'

export const EXIT_CODES = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const

export interface GenerateOptions {
  types: CourseType[]
  dataDir: string
  outDir: string
  urlPrefix: string
  concurrency: number
  voice: string
  speed: number
  model?: ModelName
  limit?: number
  updateJson: boolean
  /** Where the course's readings and the analyser's disagree (lib/readings.ts), listed in the dry run and summary. */
  readingNotes: string[]
  output: OutputSettings
  /** Write each file's captions beside it (`--captions`): the pool's timings JSON, or WebVTT. */
  captions?: CaptionFormat
  /** Regenerate every file, current or not. */
  force: boolean
  /** Remove orphans: audio files in the type folders that no item produces. */
  prune: boolean
}

export interface PreparedType {
  course: LoadedCourse
  jobs: SpeechJob[]
  /** Every item's jobs, `--limit` or not: what the type folder should hold (the rest are orphans). */
  allJobs: SpeechJob[]
}

export interface CliStreams {
  stdout: NodeJS.WriteStream
  stderr: NodeJS.WriteStream
}

/** Loads and checks every selected type before anything is generated; throws CourseDataError. */
export function prepareCourse(
  options: Pick<GenerateOptions, 'types' | 'dataDir' | 'outDir' | 'urlPrefix' | 'limit' | 'output'>,
): PreparedType[] {
  return options.types.map((type) => {
    const course = loadCourse(options.dataDir, type)
    const layout = { ...options, format: options.output.format }
    return {
      course,
      jobs: buildSpeechJobs(course, layout),
      allJobs: buildSpeechJobs(course, { ...layout, limit: undefined }),
    }
  })
}

function poolSettings(options: GenerateOptions): PoolSettings {
  return {
    concurrency: options.concurrency,
    defaultVoice: options.voice,
    model: options.model,
    output: options.output,
    timings: options.captions !== undefined,
  }
}

/** Checks each job's file against what it would be now (fingerprints; no model loaded). */
function planType(jobs: SpeechJob[], provider: SpeechProvider, options: GenerateOptions): JobPlan {
  const tasks = jobs.map((job) => ({
    id: job.taskId,
    text: job.text,
    outputPath: job.outputPath,
    voice: options.voice,
    speed: options.speed,
  }))
  const plan = planJobs(jobs, provider.checkOutputs(tasks, poolSettings(options)), options.force)
  const captions = options.captions
  if (captions === undefined) return plan
  // A current file without its captions is made again, with them.
  const uncaptioned = plan.current.filter((job) => !existsSync(captionLocation(job.outputPath, captions)))
  for (const job of uncaptioned) plan.why.set(job.taskId, 'captions missing')
  return {
    ...plan,
    pending: [...plan.pending, ...uncaptioned],
    current: plan.current.filter((job) => !uncaptioned.includes(job)),
    regenerated: plan.regenerated + uncaptioned.length,
  }
}

/** "vocabulary: 3 to generate (1 changed), 4 already there" */
function planLine(type: CourseType, plan: JobPlan): string {
  const changed = plan.regenerated > 0 ? ` (${plan.regenerated} changed)` : ''
  return `${type}: ${plan.pending.length} to generate${changed}, ${plan.current.length} already there`
}

/** Lists the orphans of the run's types and, with --prune (not in a dry run), removes them. */
function reportOrphans(prepared: PreparedType[], options: GenerateOptions, io: CliStreams, dryRun: boolean): void {
  const orphans = findOrphans(
    options.outDir,
    prepared.map(({ course }) => course.type),
    prepared.flatMap(({ allJobs }) => allJobs),
  )
  if (orphans.length === 0) return
  const removing = options.prune && !dryRun
  const action = removing ? 'removed' : options.prune ? '--prune would remove them' : '--prune removes them'
  print(io.stdout, `${plural(orphans.length, 'orphan file')} (no item produces them): ${action}`)
  for (const file of orphans) print(io.stdout, `  ${displayPath(file)}`)
  if (removing) pruneOrphans(orphans)
}

const print = (stream: NodeJS.WriteStream, line: string): void => {
  stream.write(`${line}\n`)
}

/**
 * Lists every file with its text, phonemes and what a run would do with it (new, exists, changed and why);
 * returns 1 when some text cannot be phonemized (it would fail).
 */
export function dryRun(
  prepared: PreparedType[],
  provider: SpeechProvider,
  options: GenerateOptions,
  io: CliStreams,
): number {
  let toGenerate = 0
  let existingCount = 0
  let unspeakable = 0
  for (const { course, jobs } of prepared) {
    const plan = planType(jobs, provider, options)
    print(io.stdout, `${planLine(course.type, plan)} (${displayPath(course.file)})`)
    for (const job of jobs) {
      const why = plan.why.get(job.taskId)
      let phonemes: string
      try {
        phonemes = provider.phonemize(job.text)
      } catch (error) {
        unspeakable += 1
        phonemes = `cannot phonemize: ${(error as Error).message}`
      }
      const state = why === undefined ? 'exists' : why === 'new' ? 'new' : 'changed'
      const reason = state === 'changed' ? `  (${why})` : ''
      print(io.stdout, `  ${state.padEnd(7)} ${job.type}/${job.fileName}  ${job.text}  → ${phonemes}${reason}`)
    }
    toGenerate += plan.pending.length
    existingCount += plan.current.length
  }
  for (const line of options.readingNotes) print(io.stdout, line)
  print(
    io.stdout,
    `Dry run: ${toGenerate} files would be generated, ${existingCount} already there; nothing was written.`,
  )
  reportOrphans(prepared, options, io, true)
  if (unspeakable > 0) print(io.stderr, `${unspeakable} texts cannot be phonemized and would fail.`)
  return unspeakable > 0 ? EXIT_CODES.failed : EXIT_CODES.ok
}

/** A task the pool cancelled (after Ctrl-C): not a failure, just not done. */
function isCancelled(code: string | undefined): boolean {
  return code === 'Cancelled'
}

/** Runs one type's missing files through the pool, adds them to `totals`, and returns the ids of files now there. */
async function generateType(
  pool: SpeechPool,
  label: string,
  pending: SpeechJob[],
  options: GenerateOptions,
  io: CliStreams,
  totals: RunTotals,
): Promise<string[]> {
  pool.addTasks(
    pending.map((job) => ({
      id: job.taskId,
      text: job.text,
      outputPath: job.outputPath,
      voice: options.voice,
      speed: options.speed,
    })),
  )
  const started = Date.now()
  let finished = 0
  let failed = 0
  const snapshot = () => ({
    label,
    done: finished,
    total: pending.length,
    elapsedMs: Date.now() - started,
    activeWorkers: pool.getActiveWorkers(),
    concurrency: options.concurrency,
    failed,
  })
  const view = createProgressView(snapshot(), snapshot, io.stdout)
  let result
  try {
    result = await pool.process((progress) => {
      finished += 1
      const cancelled = isCancelled(progress.code)
      if (!progress.ok && !cancelled) failed += 1
      view.update(
        snapshot(),
        cancelled
          ? { taskId: progress.id, status: progress.status }
          : { taskId: progress.id, status: progress.status, error: progress.error },
      )
    })
  } finally {
    view.stop()
  }

  const done: string[] = []
  for (const job of pending) {
    const outcome = result.results.get(job.taskId)
    if (outcome === undefined || isCancelled(outcome.error?.code)) {
      totals.cancelled += 1
    } else if (outcome.error !== undefined) {
      totals.failed.push({ taskId: job.taskId, reason: outcome.error?.message ?? 'unknown error' })
    } else {
      if (outcome.status === 'generated') {
        totals.generated += 1
        totals.audioSeconds += outcome.durationSeconds ?? 0
        totals.bytesWritten += statSync(job.outputPath, { throwIfNoEntry: false })?.size ?? 0
        if (options.captions === 'vtt' && outcome.timings) writeWebVtt(job.outputPath, outcome.timings)
      } else {
        // A provider that skips existing files itself found this one: it is there, so it is done.
        totals.skipped += 1
      }
      done.push(job.taskId)
    }
  }
  return done
}

/**
 * Generates every missing file, type after type, with one pool. `signal` aborting (Ctrl-C) cancels the pool:
 * nothing new starts, running inferences stop, and finished files are kept (and get their URLs with --update-json).
 */
export async function generate(
  prepared: PreparedType[],
  provider: SpeechProvider,
  options: GenerateOptions,
  io: CliStreams,
  signal: AbortSignal,
): Promise<{ totals: RunTotals; exitCode: number }> {
  const started = Date.now()
  const totals = emptyTotals()
  // Created when the first file is missing: a rerun with everything in place does not load the model.
  let pool: SpeechPool | undefined
  const cancel = (): void => pool?.cancel()
  signal.addEventListener('abort', cancel)
  try {
    for (const { course, jobs } of prepared) {
      const plan = planType(jobs, provider, options)
      const { pending, current } = plan
      totals.skipped += current.length
      if (signal.aborted) {
        totals.cancelled += pending.length
        continue
      }
      totals.regenerated += plan.regenerated
      print(io.stdout, `${planLine(course.type, plan)} (${displayPath(course.file)})`)
      const done = new Set(current.map((job) => job.taskId))
      if (pending.length > 0) {
        pool ??= provider.createPool(poolSettings(options))
        for (const id of await generateType(pool, course.type, pending, options, io, totals)) done.add(id)
      }
      if (options.updateJson) {
        const changed = writeJobUrls(
          course.file,
          jobs.filter((job) => done.has(job.taskId)),
          options.captions,
        )
        print(io.stdout, `${course.type}: ${plural(changed, 'audio URL')} written to ${displayPath(course.file)}`)
      }
    }
  } finally {
    signal.removeEventListener('abort', cancel)
  }
  if (!signal.aborted) reportOrphans(prepared, options, io, false)
  totals.wallMs = Date.now() - started
  for (const line of options.readingNotes) print(io.stdout, line)
  print(io.stdout, formatSummary(totals, signal.aborted))
  let exitCode: number = EXIT_CODES.ok
  if (signal.aborted) exitCode = EXIT_CODES.interrupted
  else if (totals.failed.length > 0) exitCode = EXIT_CODES.failed
  return { totals, exitCode }
}
