// Speech providers the CLI can drive. Only Kokoro (the native AudioWorkerPool of this package) exists today;
// another provider implements SpeechProvider and gets a name in PROVIDERS.

import type { AudioTask, Progress, ProcessResult } from '..'

export const PROVIDERS = ['kokoro'] as const
export type ProviderName = (typeof PROVIDERS)[number]

/** The part of AudioWorkerPool the CLI uses. */
export interface SpeechPool {
  addTasks(tasks: AudioTask[]): void
  process(onProgress?: (progress: Progress) => unknown): Promise<ProcessResult>
  cancel(): void
  getActiveWorkers(): number
}

export interface PoolSettings {
  concurrency: number
  defaultVoice: string
}

export interface SpeechProvider {
  createPool(settings: PoolSettings): SpeechPool
  /** Phonemes the provider would speak for `text`; throws when nothing in it is speakable. */
  phonemize(text: string): string
}

/** Loads the native addon only when a provider is needed, so `--help` and input errors work without a build. */
function loadNativeAddon(): typeof import('..') {
  try {
    return require('..') as typeof import('..')
  } catch (error) {
    throw new Error(`cannot load the kokoro-pool native addon (run \`npm run build\`): ${(error as Error).message}`)
  }
}

export function loadProvider(name: ProviderName): SpeechProvider {
  switch (name) {
    case 'kokoro': {
      const addon = loadNativeAddon()
      return {
        createPool: ({ concurrency, defaultVoice }) => new addon.AudioWorkerPool(concurrency, { defaultVoice }),
        phonemize: (text) => addon.phonemize(text),
      }
    }
  }
}
