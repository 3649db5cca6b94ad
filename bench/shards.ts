// One process vs three shard processes on the same machine and the same files (docs/sharding.md): the CLI as a
// user runs it (tsx, model load included), each run into a fresh output folder, the two interleaved so that both
// see the same machine load. Prints a markdown report and writes it to bench/results/<date>-shards.md.
//
//   npx tsx bench/shards.ts [--items 30] [--rounds 3] [--concurrency 4]
//
// "3 shards" is `tts-generate --shard K/3` for K = 0, 1, 2 started at once; its wall time is until the last ends.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import { describeMachine } from './machine'
import { measure, type Measurement } from './measure'
import { median } from './stats'

const REPO_ROOT = path.resolve(__dirname, '..')
const CLI = path.join(REPO_ROOT, 'scripts', 'tts-generate.ts')

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(name)
  return at < 0 ? fallback : Number(process.argv[at + 1])
}

const items = option('--items', 30)
const rounds = option('--rounds', 3)
const concurrency = option('--concurrency', 4)
const files = items * 2 // a vocabulary item speaks its word and its example sentence

const scratch = mkdtempSync(path.join(os.tmpdir(), 'kokoro-bench-shards-'))
const dataDir = path.join(scratch, 'data')
mkdirSync(dataDir)
// The first `items` words of the bundled course (the grammar and kanji files are needed but not generated).
for (const type of ['vocabulary', 'grammar', 'kanji']) {
  writeFileSync(path.join(dataDir, `${type}.json`), readFileSync(path.join(REPO_ROOT, 'data', `${type}.json`)))
}

function cliArgs(outDir: string): string[] {
  return [
    '--import', 'tsx', CLI, '--type', 'vocabulary', '--limit', String(items), '--concurrency', String(concurrency),
    '--data-dir', dataDir, '--out-dir', outDir,
  ]
}

const CONTENDERS: Record<string, (outDir: string) => [string, string[]]> = {
  '1 process': (outDir) => [process.execPath, cliArgs(outDir)],
  // bash waits for all three and fails if one does.
  '3 shards': (outDir) => [
    'bash',
    [
      '-c',
      'pids=(); for k in 0 1 2; do "$@" --shard "$k/3" >/dev/null & pids+=($!); done; ' +
        'for pid in "${pids[@]}"; do wait "$pid" || exit 1; done',
      'shards',
      process.execPath,
      ...cliArgs(outDir),
    ],
  ],
}

interface Run extends Measurement {
  contender: string
  round: number
  load: string
}

async function main(): Promise<void> {
  const runs: Run[] = []
  const names = Object.keys(CONTENDERS)
  for (let round = 1; round <= rounds; round += 1) {
    // Alternate which goes first, so neither always follows the other's leftovers (page cache, heat).
    for (const contender of round % 2 === 1 ? names : [...names].reverse()) {
      const outDir = path.join(scratch, `out-${round}-${contender.replace(/\W+/g, '-')}`)
      const [command, args] = CONTENDERS[contender](outDir)
      const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
      const measured = await measure(command, args, process.env)
      if (measured.exitCode !== 0) throw new Error(`${contender} exited ${measured.exitCode}: ${measured.stderrTail}`)
      runs.push({ ...measured, contender, round, load })
      rmSync(outDir, { recursive: true, force: true })
      console.error(`round ${round} ${contender}: ${measured.wallSeconds.toFixed(1)} s (load ${load})`)
    }
  }
  const machine = describeMachine('python3')
  const perMinute = (run: Run): number => (files * 60) / run.wallSeconds
  // Files per CPU-minute: the per-core rate for sizing, and less sensitive than wall time to other load.
  const perCpuMinute = (run: Run): number => (files * 60) / run.cpuSeconds
  const lines = [
    `# 1 process vs 3 shards, ${new Date().toISOString().slice(0, 10)}`,
    '',
    `${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}, Node ${machine.node}.`,
    `${files} files (the first ${items} vocabulary items of data/: word + example sentence), --concurrency ${concurrency} ` +
      `per process, untouched model, ${rounds} rounds interleaved; \`npx tsx bench/shards.ts --items ${items} --rounds ${rounds}\`.`,
    'Wall time from start to the last process’s exit, model loads included; CPU = user + system of the whole tree;',
    'peak RSS = highest sum over the tree.',
    '',
    '| run | contender | load avg (1/5/15 min) | wall s | files/min | CPU s | files/CPU-min | peak RSS MiB |',
    '|--:|---|---|--:|--:|--:|--:|--:|',
    ...runs.map(
      (run) =>
        `| ${run.round} | ${run.contender} | ${run.load} | ${run.wallSeconds.toFixed(1)} | ${perMinute(run).toFixed(1)} | ` +
        `${run.cpuSeconds.toFixed(1)} | ${perCpuMinute(run).toFixed(1)} | ${(run.peakRssBytes / 2 ** 20).toFixed(0)} |`,
    ),
    '',
    '| contender | median files/min | median CPU s | median files/CPU-min | median peak RSS MiB |',
    '|---|--:|--:|--:|--:|',
  ]
  const medians = names.map((contender) => {
    const mine = runs.filter((run) => run.contender === contender)
    return {
      contender,
      rate: median(mine.map(perMinute)),
      cpu: median(mine.map((run) => run.cpuSeconds)),
      perCpu: median(mine.map(perCpuMinute)),
      rss: median(mine.map((run) => run.peakRssBytes / 2 ** 20)),
    }
  })
  for (const { contender, rate, cpu, perCpu, rss } of medians) {
    lines.push(`| ${contender} | ${rate.toFixed(1)} | ${cpu.toFixed(1)} | ${perCpu.toFixed(1)} | ${rss.toFixed(0)} |`)
  }
  lines.push('', `3 shards / 1 process: ×${(medians[1].rate / medians[0].rate).toFixed(2)} files/min.`)
  const report = `${lines.join('\n')}\n`
  const file = path.join(REPO_ROOT, 'bench', 'results', `${new Date().toISOString().slice(0, 10)}-shards.md`)
  writeFileSync(file, report)
  process.stdout.write(`${report}\n(written to ${path.relative(REPO_ROOT, file)})\n`)
}

main()
  .catch((error: unknown) => {
    console.error(error)
    process.exitCode = 1
  })
  .finally(() => rmSync(scratch, { recursive: true, force: true }))
