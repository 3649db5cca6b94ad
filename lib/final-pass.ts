// `tts-generate --no-generate` (with --update-json: the pass after a sharded run): writes the URL of every file
// present into the course JSON, once, and reports the missing files of each shard. Nothing is synthesised.

import type { CaptionFormat } from './captions'
import { displayPath } from './course'
import { EXIT_CODES, type CliStreams, type PreparedType } from './generate'
import { isInShard, readShardSummaries, shardName, shardSummaryDir, type Shard, type ShardSummary } from './shard'
import { splitExisting, type SpeechJob } from './speech-jobs'
import { plural } from './summary'
import { writeJobUrls } from './update-json'

/** Missing files named per shard before "… and N more". */
const NAMED_MISSING = 10

function nameFew(jobs: SpeechJob[]): string {
  const names = jobs.slice(0, NAMED_MISSING).map((job) => `${job.type}/${job.fileName}`)
  return jobs.length > NAMED_MISSING ? `${names.join(', ')} … and ${jobs.length - NAMED_MISSING} more` : names.join(', ')
}

function describeSummary(summary: ShardSummary | undefined, index: number): string {
  if (summary === undefined) return `no summary: not finished, or killed; rerun index ${index}`
  const counts = `${summary.generated} generated, ${summary.skipped} skipped, ${summary.failed.length} failed`
  const error = summary.error === undefined ? '' : ` (${summary.error})`
  return `finished ${summary.finishedAt} on ${summary.host}, exit ${summary.exitCode}${error}: ${counts}`
}

/** The shard count of the newest summaries; summaries of other counts are from an earlier run. */
function currentCount(summaries: ShardSummary[]): number | undefined {
  const newest = [...summaries].sort((a, b) => b.finishedAt.localeCompare(a.finishedAt))[0]
  return newest?.shard.count
}

function reportShards(all: SpeechJob[], missing: SpeechJob[], outDir: string, io: CliStreams): void {
  const print = (line: string): void => {
    io.stdout.write(`${line}\n`)
  }
  const where = displayPath(shardSummaryDir(outDir))
  const { summaries, problems } = readShardSummaries(outDir)
  for (const problem of problems) io.stderr.write(`warning: ${problem}\n`)
  const count = currentCount(summaries)
  if (count === undefined) {
    print(`No shard summaries in ${where}.`)
    if (missing.length > 0) print(`  missing: ${nameFew(missing)}`)
    return
  }
  const stale = summaries.filter((summary) => summary.shard.count !== count)
  print(`Shards (${count}, 0-based, summaries in ${where}):`)
  for (let index = 0; index < count; index += 1) {
    const shard: Shard = { index, count }
    const files = all.filter((job) => isInShard(job, shard)).length
    const missingHere = missing.filter((job) => isInShard(job, shard))
    const summary = summaries.find((candidate) => candidate.shard.count === count && candidate.shard.index === index)
    const state = missingHere.length === 0 ? 'all present' : `${missingHere.length} missing: ${nameFew(missingHere)}`
    print(`  ${shardName(shard)}  ${plural(files, 'file')}, ${state}; ${describeSummary(summary, index)}`)
  }
  if (stale.length > 0) {
    print(`  ignored, from a run with another shard count: ${stale.map((stray) => shardName(stray.shard)).join(', ')}`)
  }
}

/** Returns 0 when every file of the run is there, 1 when some are missing (the URLs of the others are written). */
export function finalPass(
  prepared: PreparedType[],
  options: { outDir: string; updateJson: boolean; captions?: CaptionFormat },
  io: CliStreams,
): number {
  const all: SpeechJob[] = []
  const missing: SpeechJob[] = []
  for (const { course, jobs } of prepared) {
    const { pending, existing } = splitExisting(jobs, options.captions)
    let line = `${course.type}: ${existing.length} of ${plural(jobs.length, 'file')} present`
    if (options.updateJson) {
      line += `; ${plural(writeJobUrls(course.file, existing, options.captions), 'audio URL')} written to ${displayPath(course.file)}`
    }
    io.stdout.write(`${line}\n`)
    all.push(...jobs)
    missing.push(...pending)
  }
  reportShards(all, missing, options.outDir, io)
  if (missing.length === 0) {
    io.stdout.write(`All ${plural(all.length, 'file')} present.\n`)
    return EXIT_CODES.ok
  }
  io.stdout.write(
    `${missing.length} of ${plural(all.length, 'file')} missing: rerun the shards that miss files, then this pass again.\n`,
  )
  return EXIT_CODES.failed
}
