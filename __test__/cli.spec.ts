// End-to-end tests of `tsx scripts/tts-generate.ts`: real processes, the real model, a tiny course in a temp folder.

import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'

import { runCli, startCli, tinyCourse, writeCourse } from './helpers/cli-run'
import { readWav } from './helpers/wav'

const roots: string[] = []
function course(...args: Parameters<typeof writeCourse>) {
  const made = writeCourse(...args)
  roots.push(made.root)
  return made
}
afterAll(() => roots.forEach((root) => rmSync(root, { recursive: true, force: true })))

const wavFiles = (dir: string): string[] =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((name) => name.endsWith('.wav'))
        .sort()
    : []

describe('tts-generate --help', () => {
  it('lists every option with its default and the exit codes', async () => {
    const result = await runCli(['--help'])
    expect(result.code).toBe(0)
    // Commander wraps the help to the terminal's width: read it as one line.
    const help = result.stdout.replace(/\s+/g, ' ')
    for (const option of [
      '--provider',
      '--concurrency',
      '--type',
      '--dry-run',
      '--update-json',
      '--voice',
      '--speed',
      '--model',
      '--data-dir',
      '--out-dir',
      '--limit',
      '--dictionary',
      '--trust-analyser',
      '--format',
      '--bitrate',
      '--sample-rate',
      '--loudness',
      '--pad-ms',
      '--comma-pause-ms',
      '--sentence-pause-ms',
      '--force',
      '--prune',
      '--help',
    ]) {
      expect(help).toContain(option)
    }
    expect(help).toContain('default: "kokoro"')
    expect(help).toContain('default: 4')
    expect(help).toContain('default: "all"')
    expect(help).toContain('default: "jf_alpha"')
    expect(help).toContain('default: "untouched"')
    expect(help).toContain('default: "public/audio/"')
    expect(help).toMatch(/Exit codes: 0 .*1 .*2 .*130/)
  })
})

describe('tts-generate input errors exit with 2 and name the problem', () => {
  const cases: [string, () => string[], RegExp][] = [
    [
      'unknown provider',
      () => ['--data-dir', course().dataDir, '--provider', 'espeak'],
      /Unknown provider "espeak"; known: kokoro/,
    ],
    [
      'a bit rate for a lossless format',
      () => ['--data-dir', course().dataDir, '--format', 'flac', '--bitrate', '64'],
      /a bit rate \(64 kbit\/s\) applies to mp3 and opus only; flac is lossless/,
    ],
    [
      'loudness out of range',
      () => ['--data-dir', course().dataDir, '--loudness', '3'],
      /It must be a loudness in LUFS from -40 to -5/,
    ],
    [
      'unknown --type',
      () => ['--data-dir', course().dataDir, '--type', 'verbs'],
      /Unknown type "verbs"; known: vocabulary, grammar, kanji, all/,
    ],
    [
      'unknown voice',
      () => ['--data-dir', course().dataDir, '--voice', 'nope'],
      /unknown voice "nope": no nope\.bin in \S+voices \(Japanese voices: .*jf_alpha/,
    ],
    [
      'concurrency 0',
      () => ['--data-dir', course().dataDir, '--concurrency', '0'],
      /--concurrency.*'0' is invalid\. It must be a whole number from 1 to 1024/,
    ],
    [
      'invalid JSON',
      () => [
        '--data-dir',
        course(undefined, { vocabulary: '{"type": "vocabulary", "items": [\n  {"id": "a",}\n]}' }).dataDir,
      ],
      /vocabulary\.json: invalid JSON at line 2, column \d+/,
    ],
    [
      'missing field',
      () => {
        const data = tinyCourse()
        delete (data.vocabulary.items[1] as { reading?: string }).reading
        return ['--data-dir', course(data).dataDir]
      },
      /vocabulary\.json: item #2 \(id "yama"\): missing field "reading"/,
    ],
    [
      'missing nested field',
      () => {
        const data = tinyCourse()
        delete (data.grammar.items[0].examples[0] as { ja?: string }).ja
        return ['--data-dir', course(data).dataDir, '--type', 'grammar']
      },
      /grammar\.json: item #1 \(id "desu"\): missing field "examples\[0\]\.ja"/,
    ],
    [
      'duplicate id',
      () => {
        const data = tinyCourse()
        data.vocabulary.items[1].id = 'mizu'
        return ['--data-dir', course(data).dataDir]
      },
      /vocabulary\.json: item #2: duplicate id "mizu" \(already used by item #1\)/,
    ],
    [
      'id escaping the output folder',
      () => {
        const data = tinyCourse()
        data.kanji.items[0].id = '../../etc/ki'
        return ['--data-dir', course(data).dataDir, '--type', 'kanji']
      },
      /kanji\.json: item #1 \(id "\.\.\/\.\.\/etc\/ki"\): id is not a safe file name and would escape the output folder/,
    ],
    [
      'unknown type in a data file',
      () => {
        const data = tinyCourse()
        ;(data.grammar as { type: string }).type = 'verbs'
        return ['--data-dir', course(data).dataDir]
      },
      /grammar\.json: unknown type "verbs" \(expected "grammar"/,
    ],
    [
      'missing data file',
      () => ['--data-dir', path.join(course().root, 'nowhere')],
      /nowhere\/vocabulary\.json: cannot read vocabulary data: file not found/,
    ],
  ]

  it.each(cases)('%s', async (_name, args, message) => {
    const argv = args()
    const outDir = path.join(path.dirname(argv[argv.indexOf('--data-dir') + 1]), 'audio')
    const result = await runCli([...argv, '--out-dir', outDir])
    expect(result.stderr).toMatch(message)
    expect(result.code).toBe(2)
    expect(existsSync(outDir)).toBe(false)
  })
})

describe('tts-generate with the real model', () => {
  it('--dry-run lists texts with phonemes and writes nothing', async () => {
    const { dataDir, outDir } = course()
    const before = readFileSync(path.join(dataDir, 'vocabulary.json'), 'utf8')
    const result = await runCli(['--dry-run', '--update-json', '--data-dir', dataDir, '--out-dir', outDir])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/new {5}vocabulary\/mizu\.wav {2}水 {2}→ mʲizɨ/)
    expect(result.stdout).toContain('vocabulary/mizu.example.wav')
    expect(result.stdout).toContain('grammar/desu.example-1.wav')
    expect(result.stdout).toContain('kanji/ki.wav  モク。き。')
    expect(result.stdout).toContain('Dry run: 7 files would be generated, 0 already there; nothing was written.')
    expect(existsSync(outDir)).toBe(false)
    expect(readFileSync(path.join(dataDir, 'vocabulary.json'), 'utf8')).toBe(before)
  })

  it('generates valid WAVs, writes their URLs with --update-json, and skips them on the next run', async () => {
    const { dataDir, outDir } = course()
    const vocabularyFile = path.join(dataDir, 'vocabulary.json')
    const first = await runCli([
      '--type',
      'vocabulary',
      '--concurrency',
      '2',
      '--update-json',
      '--data-dir',
      dataDir,
      '--out-dir',
      outDir,
    ])
    expect(first.stderr).toBe('')
    expect(first.code).toBe(0)
    expect(first.stdout).toMatch(
      /\[vocabulary\] 4\/4 \| [\d.]+ files\/min \| ETA \S+ \| active \d\/2 \| vocabulary\/\S+ generated/,
    )
    expect(first.stdout).toMatch(/generated +4 files, [\d.]+s of audio/)
    expect(first.stdout).toMatch(/failed +0 files/)

    const vocabularyDir = path.join(outDir, 'vocabulary')
    expect(wavFiles(vocabularyDir)).toEqual(['mizu.example.wav', 'mizu.wav', 'yama.example.wav', 'yama.wav'])
    for (const name of wavFiles(vocabularyDir)) {
      const wav = readWav(path.join(vocabularyDir, name))
      expect(wav).toMatchObject({ sampleRate: 24000, channels: 1, bitsPerSample: 16 })
      expect(wav.durationSeconds).toBeGreaterThan(0.2)
    }
    expect(existsSync(path.join(outDir, 'grammar'))).toBe(false)

    // Every other field and the order stay; only the audio URLs are new.
    const expected = tinyCourse().vocabulary
    for (const item of expected.items as { id: string; audio?: string; example: { audio?: string } }[]) {
      item.audio = `/audio/vocabulary/${item.id}.wav`
      item.example.audio = `/audio/vocabulary/${item.id}.example.wav`
    }
    expect(readFileSync(vocabularyFile, 'utf8')).toBe(`${JSON.stringify(expected, null, 2)}\n`)
    expect(readdirSync(dataDir).sort()).toEqual(['grammar.json', 'kanji.json', 'vocabulary.json'])

    const mtimes = wavFiles(vocabularyDir).map((name) => statSync(path.join(vocabularyDir, name)).mtimeMs)
    const second = await runCli(['--type', 'vocabulary', '--update-json', '--data-dir', dataDir, '--out-dir', outDir])
    expect(second.code).toBe(0)
    expect(second.stdout).toContain('vocabulary: 0 to generate, 4 already there')
    expect(second.stdout).toMatch(/generated +0 files/)
    expect(second.stdout).toMatch(/skipped +4 files \(already there\)/)
    expect(wavFiles(vocabularyDir).map((name) => statSync(path.join(vocabularyDir, name)).mtimeMs)).toEqual(mtimes)
  })

  it('regenerates exactly the file whose text or dictionary word changed, says why, and lists and prunes orphans', async () => {
    const data = tinyCourse()
    const { dataDir, outDir } = course(data)
    const dir = path.join(outDir, 'vocabulary')
    const args = ['--type', 'vocabulary', '--format', 'mp3', '--loudness', '-16', '--data-dir', dataDir, '--out-dir', outDir]
    const first = await runCli(args)
    expect(first.stderr).toBe('')
    expect(first.code).toBe(0)
    expect(first.stdout).toMatch(/generated +4 files, [\d.]+s of audio, [\d.]+ kB written/)
    const names = ['mizu.example.mp3', 'mizu.mp3', 'yama.example.mp3', 'yama.mp3']
    expect(readdirSync(dir).sort()).toEqual(names)
    const identity = (name: string) => {
      const stats = statSync(path.join(dir, name))
      return { ino: stats.ino, mtimeMs: stats.mtimeMs }
    }
    const before = Object.fromEntries(names.map((name) => [name, identity(name)]))

    data.vocabulary.items[1].example.ja = '山が高いです。'
    writeFileSync(path.join(dataDir, 'vocabulary.json'), `${JSON.stringify(data.vocabulary, null, 2)}\n`)
    writeFileSync(path.join(dir, 'gone.mp3'), 'an item that was deleted')
    const dry = await runCli(['--dry-run', ...args])
    expect(dry.code).toBe(0)
    expect(dry.stdout).toContain('vocabulary: 1 to generate (1 changed), 3 already there')
    expect(dry.stdout).toMatch(/ changed vocabulary\/yama\.example\.mp3 .*\(phonemes changed\)/)
    expect(dry.stdout).toMatch(/ exists  vocabulary\/yama\.mp3 /)
    expect(dry.stdout).toContain('1 orphan file (no item produces them): --prune removes them')

    const second = await runCli([...args, '--prune'])
    expect(second.stderr).toBe('')
    expect(second.code).toBe(0)
    expect(second.stdout).toMatch(/generated +1 file,/)
    expect(second.stdout).toMatch(/regenerated +1 file /)
    expect(second.stdout).toMatch(/skipped +3 files/)
    expect(second.stdout).toContain('1 orphan file (no item produces them): removed')
    expect(readdirSync(dir).sort()).toEqual(names)
    for (const name of names) {
      if (name === 'yama.example.mp3') expect(identity(name).ino).not.toBe(before[name].ino)
      else expect(identity(name)).toEqual(before[name])
    }

    // A dictionary word changes what one file speaks (高い, only in that sentence): exactly that file is regenerated.
    writeFileSync(path.join(dataDir, 'dictionary.csv'), '高い,コウイ\n')
    const beforeDictionary = Object.fromEntries(names.map((name) => [name, identity(name)]))
    const third = await runCli(args)
    expect(third.code).toBe(0)
    expect(third.stdout).toContain('vocabulary: 1 to generate (1 changed), 3 already there')
    for (const name of names) {
      if (name === 'yama.example.mp3') expect(identity(name).ino).not.toBe(beforeDictionary[name].ino)
      else expect(identity(name)).toEqual(beforeDictionary[name])
    }
  })

  it('reports a failed item, exits 1, and writes no URL for it', async () => {
    const data = tinyCourse()
    data.vocabulary.items[0].example.ja = '♪♪♪'
    const { dataDir, outDir } = course(data)
    const args = ['--type', 'vocabulary', '--limit', '1', '--update-json', '--data-dir', dataDir, '--out-dir', outDir]
    const result = await runCli(args)
    expect(result.code).toBe(1)
    expect(result.stdout).toMatch(/generated +1 file,/)
    expect(result.stdout).toMatch(/failed +1 file\n +task "vocabulary\/mizu\.example": nothing speakable/)
    expect(wavFiles(path.join(outDir, 'vocabulary'))).toEqual(['mizu.wav'])
    const written = JSON.parse(readFileSync(path.join(dataDir, 'vocabulary.json'), 'utf8'))
    expect(written.items[0].audio).toBe('/audio/vocabulary/mizu.wav')
    expect(written.items[0].example).toEqual({ ja: '♪♪♪', en: 'It is water.' })
    expect(written.items[1]).toEqual(tinyCourse().vocabulary.items[1])
  })

  it('Ctrl-C stops starting items, keeps finished ones, exits 130, and a rerun resumes', async () => {
    const { dataDir, outDir } = course()
    const args = ['--concurrency', '1', '--data-dir', dataDir, '--out-dir', outDir]
    const run = startCli(args)
    await new Promise<void>((resolve) => {
      run.child.stdout?.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes(' generated')) resolve()
      })
    })
    run.child.kill('SIGINT')
    const interrupted = await run.done
    expect(interrupted.code).toBe(130)
    expect(interrupted.stderr).toContain('Interrupted')
    expect(interrupted.stdout).toContain('Summary (interrupted: rerun the same command to resume)')
    const kept = wavFiles(path.join(outDir, 'vocabulary'))
    expect(kept.length).toBeGreaterThanOrEqual(1)
    expect(kept.length).toBeLessThan(4)

    const resumed = await runCli(args)
    expect(resumed.code).toBe(0)
    expect(resumed.stdout).toContain(`vocabulary: ${4 - kept.length} to generate, ${kept.length} already there`)
    expect(wavFiles(path.join(outDir, 'vocabulary'))).toHaveLength(4)
    expect(wavFiles(path.join(outDir, 'grammar'))).toHaveLength(1)
    expect(wavFiles(path.join(outDir, 'kanji'))).toHaveLength(2)
  })
})
