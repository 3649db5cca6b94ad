// Command line of `npm run tts-generate`: options (commander), exit codes, Ctrl-C. The work is in generate.ts.

import path from 'node:path'

import { Command, CommanderError, InvalidArgumentError, Option } from 'commander'

import { CourseDataError } from './course'
import { COURSE_TYPES, type CourseType } from './course-types'
import { dryRun, EXIT_CODES, generate, prepareCourse, type CliStreams, type GenerateOptions } from './generate'
import { AUDIO_FORMATS, SAMPLE_RATES, type AudioFormat } from './outputs'
import { loadProvider, MODELS, PROVIDERS, type ModelName, type ProviderName } from './providers'

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
  format: AudioFormat
  bitrate?: number
  sampleRate: string
  loudness?: number
  padMs: number
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
    .option('--out-dir <dir>', 'audio output folder: <dir>/<type>/<id>[.part].<format>', 'public/audio/')
    .option('--url-prefix <url>', 'URL of --out-dir in the app, used by --update-json', '/audio')
    .addOption(
      new Option('--limit <n>', 'only the first N items of each type (default: every item)').argParser(
        integerIn(1, 1_000_000),
      ),
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
    output: {
      format: parsed.format,
      bitrate: parsed.bitrate,
      sampleRate: Number(parsed.sampleRate),
      loudness: parsed.loudness,
      padMs: parsed.padMs,
    },
    force: parsed.force,
    prune: parsed.prune,
  }

  let prepared
  try {
    prepared = prepareCourse(options)
  } catch (error) {
    if (error instanceof CourseDataError) {
      io.stderr.write(`error: ${error.message}\n`)
      return EXIT_CODES.usage
    }
    throw error
  }

  try {
    const provider = loadProvider(parsed.provider)
    const voiceProblem = provider.voiceProblem(parsed.voice)
    if (voiceProblem !== undefined) {
      io.stderr.write(`error: ${voiceProblem}\n`)
      return EXIT_CODES.usage
    }
    if (parsed.dryRun) return dryRun(prepared, provider, options, io)

    const controller = new AbortController()
    const onSigint = (): void => {
      if (controller.signal.aborted) process.exit(EXIT_CODES.interrupted)
      io.stderr.write('\nInterrupted: stopping; finished files are kept. Press Ctrl-C again to quit at once.\n')
      controller.abort()
    }
    process.on('SIGINT', onSigint)
    try {
      return (await generate(prepared, provider, options, io, controller.signal)).exitCode
    } finally {
      process.off('SIGINT', onSigint)
    }
  } catch (error) {
    io.stderr.write(`error: ${(error as Error).message}\n`)
    // The addon refuses option combinations it cannot encode (e.g. a bit rate for wav) as InvalidArg.
    return (error as { code?: string }).code === 'InvalidArg' ? EXIT_CODES.usage : EXIT_CODES.failed
  }
}
