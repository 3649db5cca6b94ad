// Command line of `npm run tts-generate`: options (commander), exit codes, Ctrl-C. The work is in generate.ts.

import { existsSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import { Command, CommanderError, InvalidArgumentError, Option } from 'commander'

import { CAPTION_FORMATS, type CaptionFormat } from './captions'
import { CourseDataError, displayPath } from './course'
import { COURSE_TYPES, type CourseType } from './course-types'
import { finalPass } from './final-pass'
import {
  dryRun,
  EXIT_CODES,
  generate,
  prepareCourse,
  type CliStreams,
  type GenerateOptions,
  type PreparedType,
} from './generate'
import { AUDIO_FORMATS, SAMPLE_RATES, type AudioFormat } from './outputs'
import { DictionaryError, loadProvider, MODELS, PROVIDERS, type ModelName, type ProviderName } from './providers'
import { checkCourseReadings, formatReadingDifferences } from './readings'
import {
  isInShard,
  parseShard,
  shardFromEnvironment,
  ShardError,
  shardName,
  writeShardSummary,
  type Shard,
  type ShardSummary,
} from './shard'
import { emptyTotals, type RunTotals } from './summary'

export const BUNDLED_DATA_DIR = path.resolve(__dirname, '..', 'data')

interface ParsedOptions {
  provider: ProviderName
  concurrency: number
  type: CourseType | 'all'
  dryRun: boolean
  updateJson: boolean
  voice: string
  speed: number
  model: ModelName
  dataDir: string
  outDir: string
  urlPrefix: string
  limit?: number
  shard?: Shard
  generate: boolean
  dictionary?: string
  trustAnalyser: boolean
  captions?: CaptionFormat
  format: AudioFormat
  bitrate?: number
  sampleRate: string
  loudness?: number
  padMs: number
  commaPauseMs?: number
  sentencePauseMs?: number
  force: boolean
  prune: boolean
}

function integerIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const number = Number(value)
    if (!/^\s*\d+\s*$/.test(value) || number < min || number > max) {
      throw new InvalidArgumentError(`It must be a whole number from ${min} to ${max}.`)
    }
    return number
  }
}

/** Like Option.choices(), with a message that says what the value is. */
function oneOf<T extends string>(what: string, values: readonly T[]): (value: string) => T {
  return (value) => {
    if (!(values as readonly string[]).includes(value)) {
      throw new InvalidArgumentError(`Unknown ${what} "${value}"; known: ${values.join(', ')}.`)
    }
    return value as T
  }
}

function shardOption(value: string): Shard {
  try {
    return parseShard(value)
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message)
  }
}

function parseSpeed(value: string): number {
  const speed = Number(value)
  if (value.trim() === '' || !Number.isFinite(speed) || speed < 0.5 || speed > 2) {
    throw new InvalidArgumentError('It must be a number from 0.5 to 2.0.')
  }
  return speed
}

function parseLoudness(value: string): number {
  const lufs = Number(value)
  if (value.trim() === '' || !Number.isFinite(lufs) || lufs < -40 || lufs > -5) {
    throw new InvalidArgumentError('It must be a loudness in LUFS from -40 to -5, e.g. -16.')
  }
  return lufs
}

export function buildProgram(): Command {
  return new Command('tts-generate')
    .description(
      'Generate audio (WAV, MP3, Opus or FLAC) for the course items (vocabulary, grammar, kanji) with the native AudioWorkerPool.',
    )
    .addOption(
      new Option('--provider <name>', 'speech provider')
        .choices(PROVIDERS)
        .argParser(oneOf('provider', PROVIDERS))
        .default('kokoro'),
    )
    .addOption(
      new Option('--concurrency <n>', 'items synthesised at once (1-1024)').argParser(integerIn(1, 1024)).default(4),
    )
    .addOption(
      new Option('--type <type>', 'course type to generate; "all" runs vocabulary, grammar, kanji one after the other')
        .choices([...COURSE_TYPES, 'all'])
        .argParser(oneOf('type', [...COURSE_TYPES, 'all']))
        .default('all'),
    )
    .option('--dry-run', 'list every file that would be generated, with its text and phonemes; write nothing', false)
    .option('--update-json', "write each generated file's URL into its item's audio field in the JSON file", false)
    .addOption(
      new Option(
        '--captions <format>',
        'also write when each word is spoken, beside each file: json (<file>.timings.json) or vtt (<file without extension>.vtt, WebVTT); ' +
          'with --update-json its URL goes into the captions field beside audio (docs/timings.md)',
      )
        .choices(CAPTION_FORMATS)
        .argParser(oneOf('caption format', CAPTION_FORMATS)),
    )
    .option('--voice <name>', 'voice (a file name in <assets>/voices without .bin)', 'jf_alpha')
    .addOption(new Option('--speed <x>', 'speaking speed, 0.5 to 2.0').argParser(parseSpeed).default(1))
    .addOption(
      new Option('--model <name>', 'Kokoro model: untouched is the published one; speech-window decodes only the frames around the speech (faster, less intelligible on single words)')
        .choices(MODELS)
        .argParser(oneOf('model', MODELS))
        .default('untouched'),
    )
    .addOption(
      new Option('--data-dir <dir>', 'folder with vocabulary.json, grammar.json, kanji.json').default(
        BUNDLED_DATA_DIR,
        'the bundled sample course in data/',
      ),
    )
    .option(
      '--dictionary <file>',
      'your readings, a CSV of surface,reading[,priority] (docs/readings.md) (default: dictionary.csv in --data-dir when it exists)',
    )
    .option(
      '--trust-analyser',
      "where a word's course reading differs from what the analyser reads, speak the analyser's (default: the course's)",
      false,
    )
    .option('--out-dir <dir>', 'audio output folder: <dir>/<type>/<id>[.part].<format>', 'public/audio/')
    .option('--url-prefix <url>', 'URL of --out-dir in the app, used by --update-json', '/audio')
    .addOption(
      new Option('--limit <n>', 'only the first N items of each type (default: every item)').argParser(
        integerIn(1, 1_000_000),
      ),
    )
    .addOption(
      new Option(
        '--shard <K/N>',
        'generate only shard K of N (K 0-based, 0 to N-1); never writes the course JSON (docs/sharding.md) ' +
          '(default: $JOB_COMPLETION_INDEX/$JOB_COMPLETIONS when set, as in a Kubernetes Indexed Job)',
      ).argParser(shardOption),
    )
    .option(
      '--no-generate',
      "synthesise nothing: report the missing files of each shard; with --update-json write every present file's URL",
    )
    .addOption(
      new Option('--format <format>', 'audio file format (and extension)')
        .choices(AUDIO_FORMATS)
        .argParser(oneOf('format', AUDIO_FORMATS))
        .default('wav'),
    )
    .addOption(
      new Option('--bitrate <kbps>', 'bit rate of mp3 and opus (default: 48 for mp3, 32 for opus)').argParser(
        integerIn(6, 510),
      ),
    )
    .addOption(
      new Option('--sample-rate <hz>', 'output sample rate: 24000 is the model\'s; opus takes 24000 or 48000')
        .choices(SAMPLE_RATES.map(String))
        .default('24000'),
    )
    .addOption(
      new Option('--loudness <lufs>', 'normalise each file to this integrated loudness (EBU R128), peaks under -1 dBTP; default: the model\'s level').argParser(
        parseLoudness,
      ),
    )
    .addOption(
      new Option('--pad-ms <ms>', 'silence before and after the speech').argParser(integerIn(0, 5000)).default(50),
    )
    .addOption(
      new Option(
        '--comma-pause-ms <ms>',
        "shortest silence at 、 between words (default: the pool's, docs/timings.md); 0: as the model speaks",
      ).argParser(integerIn(0, 5000)),
    )
    .addOption(
      new Option(
        '--sentence-pause-ms <ms>',
        "shortest silence at 。！？ followed by more words (default: the pool's); 0: as the model speaks",
      ).argParser(integerIn(0, 5000)),
    )
    .option('--force', 'regenerate every file, even current ones and files without a fingerprint', false)
    .option('--prune', 'remove orphans: audio files in the type folders that no item produces', false)
    .helpOption('-h, --help', 'show every option with its default')
    .addHelpText(
      'after',
      '\nExit codes: 0 all files done, 1 some failed, 2 invalid options or course data (nothing generated), 130 interrupted.\n' +
        'Files that are current are skipped, so rerunning resumes an interrupted run; a file whose text, phonemes, voice,\n' +
        'speed, model or format settings changed is regenerated (each file carries a fingerprint of what made it).',
    )
    .showHelpAfterError('(run with --help to see every option)')
    .exitOverride()
}

/** Runs the CLI and returns the exit code; `argv` is process.argv-shaped (node, script, ...args). */
export async function main(
  argv: string[],
  io: CliStreams = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const program = buildProgram().configureOutput({
    writeOut: (text) => io.stdout.write(text),
    writeErr: (text) => io.stderr.write(text),
  })
  let parsed: ParsedOptions
  try {
    parsed = program.parse(argv).opts<ParsedOptions>()
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.usage
    throw error
  }

  const options: GenerateOptions = {
    types: parsed.type === 'all' ? [...COURSE_TYPES] : [parsed.type],
    dataDir: path.resolve(parsed.dataDir),
    outDir: path.resolve(parsed.outDir),
    urlPrefix: parsed.urlPrefix,
    concurrency: parsed.concurrency,
    voice: parsed.voice,
    speed: parsed.speed,
    model: parsed.model,
    limit: parsed.limit,
    updateJson: parsed.updateJson,
    captions: parsed.captions,
    readingNotes: [],
    output: {
      format: parsed.format,
      bitrate: parsed.bitrate,
      sampleRate: Number(parsed.sampleRate),
      loudness: parsed.loudness,
      padMs: parsed.padMs,
      commaPauseMs: parsed.commaPauseMs,
      sentencePauseMs: parsed.sentencePauseMs,
    },
    force: parsed.force,
    prune: parsed.prune,
  }

  let shard: Shard | undefined
  let prepared: PreparedType[]
  try {
    shard = resolveShard(parsed)
    prepared = prepareCourse(options)
  } catch (error) {
    if (error instanceof CourseDataError || error instanceof ShardError) {
      io.stderr.write(`error: ${error.message}\n`)
      return EXIT_CODES.usage
    }
    throw error
  }

  if (!parsed.generate) {
    try {
      return finalPass(prepared, options, io)
    } catch (error) {
      io.stderr.write(`error: ${(error as Error).message}\n`)
      return EXIT_CODES.failed
    }
  }
  if (shard !== undefined) prepared = selectShard(prepared, shard, io)

  let run: { totals: RunTotals; exitCode: number; error?: string }
  try {
    const bundledDictionary = path.join(options.dataDir, 'dictionary.csv')
    const dictionary = parsed.dictionary ?? (existsSync(bundledDictionary) ? bundledDictionary : undefined)
    const provider = loadProvider(parsed.provider, dictionary && path.resolve(dictionary))
    const voiceProblem = provider.voiceProblem(parsed.voice)
    if (voiceProblem !== undefined) {
      io.stderr.write(`error: ${voiceProblem}\n`)
      return EXIT_CODES.usage
    }
    const differences = checkCourseReadings(prepared, provider, parsed.trustAnalyser)
    options.readingNotes = formatReadingDifferences(differences, parsed.trustAnalyser)
    if (parsed.dryRun) return dryRun(prepared, provider, options, io)

    const controller = new AbortController()
    const onSigint = (): void => {
      if (controller.signal.aborted) process.exit(EXIT_CODES.interrupted)
      io.stderr.write('\nInterrupted: stopping; finished files are kept. Press Ctrl-C again to quit at once.\n')
      controller.abort()
    }
    // SIGTERM is how Kubernetes stops a pod: the same orderly stop, so a shard still leaves its summary.
    process.on('SIGINT', onSigint)
    process.on('SIGTERM', onSigint)
    try {
      run = await generate(prepared, provider, options, io, controller.signal)
    } finally {
      process.off('SIGINT', onSigint)
      process.off('SIGTERM', onSigint)
    }
  } catch (error) {
    io.stderr.write(`error: ${(error as Error).message}\n`)
    // The addon refuses option combinations it cannot encode (e.g. a bit rate for wav) as InvalidArg.
    if (error instanceof DictionaryError || (error as { code?: string }).code === 'InvalidArg') return EXIT_CODES.usage
    run = { totals: emptyTotals(), exitCode: EXIT_CODES.failed, error: (error as Error).message }
  }
  if (shard === undefined) return run.exitCode
  try {
    const file = writeShardSummary(options.outDir, shardSummary(prepared, shard, run))
    io.stdout.write(`Shard summary: ${displayPath(file)}\n`)
    return run.exitCode
  } catch (error) {
    io.stderr.write(`error: cannot write the shard summary: ${(error as Error).message}\n`)
    return EXIT_CODES.failed
  }
}

/** `--shard`, else the Indexed Job's environment; refuses the combinations that would race or mean nothing. */
function resolveShard(parsed: ParsedOptions): Shard | undefined {
  if (!parsed.generate) {
    if (parsed.shard !== undefined) {
      throw new ShardError('--no-generate checks the files of every shard: leave out --shard')
    }
    if (parsed.dryRun) throw new ShardError('--dry-run and --no-generate: choose one')
    // The final pass may run where JOB_COMPLETION_INDEX is set; it covers every shard all the same.
    return undefined
  }
  const shard = parsed.shard ?? shardFromEnvironment(process.env)
  if (shard !== undefined && parsed.updateJson && !parsed.dryRun) {
    throw new ShardError(
      `--update-json with shard ${shardName(shard)}: shards never write the course JSON (they would race); ` +
        'after every shard has finished, run tts-generate --update-json --no-generate once',
    )
  }
  return shard
}

function selectShard(prepared: PreparedType[], shard: Shard, io: CliStreams): PreparedType[] {
  const selected = prepared.map((type) => ({ ...type, jobs: type.jobs.filter((job) => isInShard(job, shard)) }))
  const count = (types: PreparedType[]): number => types.reduce((sum, type) => sum + type.jobs.length, 0)
  io.stdout.write(`Shard ${shardName(shard)} (0-based): ${count(selected)} of ${count(prepared)} files; the other shards make the rest.\n`)
  return selected
}

function shardSummary(
  prepared: PreparedType[],
  shard: Shard,
  run: { totals: RunTotals; exitCode: number; error?: string },
): ShardSummary {
  return {
    shard,
    host: os.hostname(),
    finishedAt: new Date().toISOString(),
    exitCode: run.exitCode,
    files: prepared.reduce((sum, type) => sum + type.jobs.length, 0),
    ...run.totals,
    ...(run.error === undefined ? {} : { error: run.error }),
  }
}
