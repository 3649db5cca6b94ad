// Speech providers the CLI can drive. Only Kokoro (the native AudioWorkerPool of this package) exists today;
// another provider implements SpeechProvider and gets a name in PROVIDERS.

import { existsSync, readdirSync } from 'node:fs'
import path from 'node:path'

import type { AudioTask, OutputCheck, Progress, ProcessResult } from '..'
import { assetsDir } from './assets'
import type { OutputSettings } from './outputs'

export const PROVIDERS = ['kokoro'] as const
export type ProviderName = (typeof PROVIDERS)[number]

/** The part of AudioWorkerPool the CLI uses. */
export interface SpeechPool {
  addTasks(tasks: AudioTask[]): void
  process(onProgress?: (progress: Progress) => unknown): Promise<ProcessResult>
  cancel(): void
  getActiveWorkers(): number
}

export const MODELS = ['speech-window', 'untouched'] as const
export type ModelName = (typeof MODELS)[number]

export interface PoolSettings {
  concurrency: number
  defaultVoice: string
  /** The author's readings (CSV `surface,reading[,priority]`, docs/readings.md). */
  userDictionary?: string
  /** Kokoro model variant (docs/silence.md); the pool's default when absent. */
  model?: ModelName
  output: OutputSettings
  /** Return each task's timings and write `<file>.timings.json` beside it (docs/timings.md). */
  timings?: boolean
}

export interface SpeechProvider {
  /** What is wrong with `voice`, or undefined if it can be used; checked before any work starts. */
  voiceProblem(voice: string): string | undefined
  createPool(settings: PoolSettings): SpeechPool
  /** Whether each task's file is what a pool with `settings` would write now (its fingerprint); no model loaded. */
  checkOutputs(tasks: AudioTask[], settings: PoolSettings): OutputCheck[]
  /** Phonemes the provider would speak for `text`; throws when nothing in it is speakable. */
  phonemize(text: string): string
  /** The kana reading the provider would speak for `text`; throws as phonemize does. */
  reading(text: string): string
}

/** A user dictionary that cannot be used: a usage error (exit 2), naming the file and line. */
export class DictionaryError extends Error {}

/** Loads the native addon only when a provider is needed, so `--help` and input errors work without a build. */
function loadNativeAddon(): typeof import('..') {
  try {
    return require('..') as typeof import('..')
  } catch (error) {
    throw new Error(`cannot load the kokoro-pool native addon (run \`npm run build\`): ${(error as Error).message}`)
  }
}

/** Kokoro voices are `<assets>/voices/<name>.bin`. Without that folder the pool itself reports the missing assets. */
function kokoroVoiceProblem(voice: string): string | undefined {
  const voicesDir = path.join(assetsDir(), 'voices')
  if (!existsSync(voicesDir)) return undefined
  if (/^\w+$/.test(voice) && existsSync(path.join(voicesDir, `${voice}.bin`))) return undefined
  const japanese = readdirSync(voicesDir)
    .filter((name) => /^j[fm]_\w+\.bin$/.test(name))
    .map((name) => name.slice(0, -'.bin'.length))
  return `unknown voice ${JSON.stringify(voice)}: no ${voice}.bin in ${voicesDir} (Japanese voices: ${japanese.join(', ')})`
}

/** `userDictionary`: a CSV of the author's readings, used for every text; checked here (DictionaryError). */
export function loadProvider(name: ProviderName, userDictionary?: string): SpeechProvider {
  switch (name) {
    case 'kokoro': {
      const addon = loadNativeAddon()
      const options = { userDictionary }
      if (userDictionary !== undefined) {
        try {
          addon.phonemize('日本', options)
        } catch (error) {
          throw new DictionaryError((error as Error).message)
        }
      }
      return {
        voiceProblem: kokoroVoiceProblem,
        // The CLI decides what is current (checkOutputs), so the pool generates every task it is given.
        createPool: ({ concurrency, defaultVoice, model, output, timings }) =>
          new addon.AudioWorkerPool(concurrency, {
            defaultVoice,
            model,
            ...output,
            skipExisting: false,
            userDictionary,
            timings,
          }),
        checkOutputs: (tasks, { defaultVoice, model, output }) =>
          addon.checkOutputs(tasks, { defaultVoice, model, ...output, userDictionary }),
        phonemize: (text) => addon.phonemize(text, options),
        reading: (text) => addon.reading(text, options),
      }
    }
  }
}
