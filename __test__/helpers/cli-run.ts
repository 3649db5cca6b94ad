import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export const REPO_ROOT = path.resolve(__dirname, '..', '..')
const SCRIPT = path.join(REPO_ROOT, 'scripts', 'tts-generate.ts')

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Starts `tsx scripts/tts-generate.ts ...args` as its own process (stdout is a pipe, so progress comes as plain lines). */
export function startCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
  return { child, done }
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return startCli(args, env).done
}

/** A course small enough for real synthesis on a 2-core CI box: every spoken text is a word or a very short sentence. */
export function tinyCourse() {
  return {
    vocabulary: {
      type: 'vocabulary',
      title: 'tiny test course',
      items: [
        {
          id: 'mizu',
          word: '水',
          reading: 'みず',
          meaning: 'water',
          jlpt: 'N5',
          example: { ja: '水です。', en: 'It is water.' },
        },
        {
          id: 'yama',
          word: '山',
          reading: 'やま',
          meaning: 'mountain',
          example: { ja: '山です。', en: 'It is a mountain.' },
        },
      ],
    },
    grammar: {
      type: 'grammar',
      items: [
        {
          id: 'desu',
          pattern: '〜です',
          meaning: 'to be',
          explanation: 'Polite copula.',
          examples: [{ ja: '本です。', en: 'It is a book.' }],
        },
      ],
    },
    kanji: {
      type: 'kanji',
      items: [
        {
          id: 'ki',
          kanji: '木',
          meanings: ['tree'],
          onyomi: ['モク'],
          kunyomi: ['き'],
          examples: [{ word: '木', reading: 'き', meaning: 'tree' }],
        },
      ],
    },
  }
}

export type TinyCourse = ReturnType<typeof tinyCourse>

/** Writes the course (or the given file texts) into a fresh temp folder; returns the data and output folders. */
export function writeCourse(
  course: TinyCourse = tinyCourse(),
  overrides: Partial<Record<'vocabulary' | 'grammar' | 'kanji', string>> = {},
): { root: string; dataDir: string; outDir: string } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'kokoro-pool-cli-'))
  const dataDir = path.join(root, 'data')
  mkdirSync(dataDir)
  for (const type of ['vocabulary', 'grammar', 'kanji'] as const) {
    writeFileSync(path.join(dataDir, `${type}.json`), overrides[type] ?? `${JSON.stringify(course[type], null, 2)}\n`)
  }
  return { root, dataDir, outDir: path.join(root, 'audio') }
}
