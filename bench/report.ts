// The markdown form of a benchmark's results (the JSON file holds the same and every single run).

import { machineLine } from './machine'
import type { Results, Summary } from './run'
import { median } from './stats'
import { medianTrace, STAGE_NAMES } from './trace'

function fixed(value: number | null, digits: number): string {
  return value === null || !Number.isFinite(value) ? '—' : value.toFixed(digits)
}

function ordinal(n: number): string {
  return n === 2 ? '2nd' : n === 3 ? '3rd' : `${n}th`
}

function row(summary: Summary): string {
  return `| ${summary.label} | ${summary.runs} | ${summary.items}${summary.failed > 0 ? ` (${summary.failed} failed)` : ''} | ${fixed(summary.filesPerMinute, 1)} | ${fixed(
    summary.audioSecondsPerWallSecond,
    2,
  )} | ${fixed(summary.p50Ms, 0)} | ${fixed(summary.p95Ms, 0)} | ${fixed(summary.cpuSeconds, 1)} | ${fixed(summary.peakRssMiB, 0)} | ${fixed(
    summary.ratioToFloor,
    2,
  )} |`
}

export function renderMarkdown(results: Results): string {
  const lines: string[] = []
  const day = results.date.slice(0, 10)
  const mode = { quick: ' (quick: a smoke test, not for quoting)', default: '', full: ' (every item)' }[results.options.mode]
  const status = results.partial ? ' — INCOMPLETE: the run was still going or was interrupted' : ''
  lines.push(`# kokoro-pool benchmark, ${day}${mode}${status}`, '')
  lines.push(`- Machine: ${machineLine(results.machine)}`)
  lines.push(`- Command: \`${results.command}\` at commit ${results.revision} (started ${results.date})`)
  lines.push(
    `- Load average (1 min): ${results.loadAverage.start} at the start, ${results.loadAverage.end} at the end; ` +
      `${results.options.runs} run(s), each going through every contender, interleaved; figures are medians over the runs ` +
      '(the runs column says how many a figure has)',
  )
  lines.push(
    `- Floor layout: ${results.floorLayout.chosen}` +
      (results.floorLayout.calibration.length > 0
        ? ` (fastest of ${results.floorLayout.calibration.map((entry) => `${entry.layout} ${entry.filesPerMinute.toFixed(1)}`).join(', ')} files/min on a calibration set)`
        : ' (given)'),
  )
  for (const workload of results.workloads) {
    lines.push(
      `- Workload \`${workload.name}\` v${workload.version}: ${workload.description}` +
        (workload.phonemeDrift > 0 ? ` — warning: ${workload.phonemeDrift} texts no longer give their frozen phonemes` : ''),
    )
  }
  const samplings = new Map<string, string[]>()
  for (const contender of results.contenders) {
    const sampling = Object.entries(contender.strides)
      .map(([name, stride]) => (stride === 1 ? `every item of ${name}` : `every ${ordinal(stride)} item of ${name}`))
      .join(', ')
    samplings.set(sampling, [...(samplings.get(sampling) ?? []), contender.key])
  }
  for (const [sampling, keys] of samplings) lines.push(`- Items run by ${keys.join(', ')}: ${sampling}`)
  lines.push('')
  for (const workload of results.workloads) {
    lines.push(`## ${workload.name}`, '')
    const summaries = results.summaries.filter((s) => s.workload === workload.name)
    if (summaries.length === 0) {
      lines.push('Not measured: the run ended before this workload.', '')
      continue
    }
    lines.push('| contender | runs | items | files/min | audio s / wall s | p50 ms | p95 ms | CPU s | peak RSS MiB | × floor |')
    lines.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|')
    for (const summary of summaries) lines.push(row(summary))
    lines.push('')
  }
  if (results.targets.length > 0) {
    lines.push('## Targets (ratios within this run)', '')
    for (const target of results.targets) {
      // Three decimals where two would round a miss to zero.
      const digits = Math.abs(target.value - target.threshold) < 0.005 ? 3 : 2
      const verdict = target.met ? 'met' : `MISSED by ${fixed(Math.abs(target.value - target.threshold), digits)}`
      lines.push(
        `- ${target.workload}: ${target.description}: ${fixed(target.value, digits)} (target ${target.atLeast ? '≥' : '≤'} ${target.threshold}) — ${verdict}`,
      )
    }
    lines.push('')
  }
  lines.push(...traceSection(results))
  lines.push(
    'files/min and audio s / wall s: items done (or audio seconds written) over the wall time from starting the ' +
      'contender process to its exit, model loading included. p50/p95: per item, from the item start to its WAV on disk ' +
      '(kokoro-floor does not report items). CPU s: user + system of the whole process tree. Peak RSS: highest sum over ' +
      'the process tree, sampled every 50 ms from /proc. × floor: files/min over the floor\'s in the same run, ' +
      'only where both ran the same items.',
    '',
  )
  return lines.join('\n')
}

/** "Where the time goes": the traced runs of the kokoro contenders (`--trace`), medians over the runs. */
function traceSection(results: Results): string[] {
  const traced = results.records.filter((record) => record.trace)
  if (traced.length === 0) return []
  const lines = [
    '## Where the time goes (traced runs)',
    '',
    'Process wall time split into start-up (spawn to the run\'s start: runtime, addon, model load), the run, and exit; ' +
      'the share of the run\'s slot time spent in inference, and the idle slot-seconds before the first inference (head), ' +
      'while tasks were left to start (gaps) and after the last inference started (drain). Then the median ms per task ' +
      'of each stage (bench/trace.ts).',
    '',
    '| workload | contender | slots × concurrency | wall s | start-up s | run s | exit s | slots busy | idle slot-s: head / gaps / drain |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|',
  ]
  const groups = new Map<string, NonNullable<(typeof traced)[number]['trace']>[]>()
  const walls = new Map<string, number[]>()
  for (const record of traced) {
    const key = `${record.workload}\u0000${record.contender}`
    groups.set(key, [...(groups.get(key) ?? []), record.trace as NonNullable<typeof record.trace>])
    walls.set(key, [...(walls.get(key) ?? []), record.wallSeconds])
  }
  const stageRows: string[] = []
  for (const [key, summaries] of groups) {
    const [workload, contender] = key.split('\u0000')
    const trace = medianTrace(summaries)
    const wall = median(walls.get(key) ?? [])
    lines.push(
      `| ${workload} | ${contender} | ${trace.slots} × ${trace.concurrency} | ${fixed(wall, 1)} | ${fixed(trace.startupSeconds, 2)} | ` +
        `${fixed(trace.runSeconds, 2)} | ${fixed(trace.exitSeconds, 2)} | ${fixed(trace.slotBusyShare * 100, 1)}% | ` +
        `${fixed(trace.idleHeadSlotSeconds, 2)} / ${fixed(trace.idleGapSlotSeconds, 2)} / ${fixed(trace.idleDrainSlotSeconds, 2)} |`,
    )
    stageRows.push(`| ${workload} | ${contender} | ${STAGE_NAMES.map((name) => fixed(trace.stageMedianMs[name], 1)).join(' | ')} |`)
  }
  lines.push('', `| workload | contender | ${STAGE_NAMES.join(' | ')} |`, `|---|---|${STAGE_NAMES.map(() => '--:').join('|')}|`, ...stageRows, '')
  return lines
}

