// The browser a course is played in as the judge: headless Chromium's decodeAudioData must decode the pool's
// MP3, Opus and FLAC to the length the pool reported, the level of the WAV, and in step with it (no codec delay
// left in, so the timings of docs/timings.md hold for every format). Needs Debian's `chromium`
// package (`apt-get install -y chromium`; .ci/run installs it); without it the test says so and is skipped.
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

import { AudioWorkerPool } from '../index'

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((file) => fs.existsSync(file))

interface Decoded {
  duration?: number
  rms?: number
  /** The first second of samples, to find the decoded audio's offset from the WAV's. */
  head?: number[]
  error?: string
}

/**
 * A page that decodes each file (embedded as base64: a file:// page may not fetch) and prints the results.
 * All decodes start at once: --dump-dom does not wait for a decode started after an earlier one resolved.
 */
function decodingPage(files: Record<string, string>): string {
  const embedded = Object.fromEntries(
    Object.entries(files).map(([name, file]) => [name, fs.readFileSync(file).toString('base64')]),
  )
  return `<!doctype html><html><body>pending<script>
const files = ${JSON.stringify(embedded)}
const context = new OfflineAudioContext(1, 1, 48000)
Promise.all(Object.entries(files).map(async ([name, base64]) => {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))
  try {
    const audio = await context.decodeAudioData(bytes.buffer)
    const samples = audio.getChannelData(0)
    let sum = 0
    for (const sample of samples) sum += sample * sample
    const head = Array.from(samples.subarray(0, 48000), (sample) => Math.round(sample * 32767))
    return [name, { duration: audio.duration, rms: Math.sqrt(sum / samples.length), head }]
  } catch (error) {
    return [name, { error: String(error) }]
  }
})).then((results) => { document.body.textContent = 'RESULT ' + JSON.stringify(Object.fromEntries(results)) })
</script></body></html>`
}

/** What Chromium decoded; a run that dumped the page before the decodes resolved is tried again (3 at most). */
function decodeInChromium(page: string): Record<string, Decoded> {
  for (let attempt = 1; ; attempt += 1) {
    const dom = execFileSync(
      CHROMIUM as string,
      ['--headless', '--no-sandbox', '--disable-gpu', '--virtual-time-budget=30000', '--dump-dom', `file://${page}`],
      { encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'ignore'] },
    )
    const match = /RESULT (\{.*\})/.exec(dom)
    if (match !== null) return JSON.parse(match[1]) as Record<string, Decoded>
    if (attempt === 3) throw new Error(`Chromium never finished decoding; its DOM:\n${dom.slice(0, 500)}`)
  }
}

/** The shift (in samples, within ±max) that best lines `decoded` up with `reference`: cross-correlation. */
function offsetOf(reference: number[], decoded: number[], max: number): number {
  let best = -Infinity
  let bestShift = 0
  for (let shift = -max; shift <= max; shift += 1) {
    let dot = 0
    for (let i = max; i < reference.length - max; i += 1) dot += reference[i] * decoded[i + shift]
    if (dot > best) {
      best = dot
      bestShift = shift
    }
  }
  return bestShift
}

const describeWithChromium = CHROMIUM === undefined ? describe.skip : describe
if (CHROMIUM === undefined) {
  console.warn('browser-decode.spec.ts skipped: no Chromium at /usr/bin/chromium (apt-get install -y chromium)')
}

describeWithChromium('files in every format decode in Chromium', () => {
  let dir: string
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kokoro-pool-browser-'))
  })
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

  it('to the reported length (within one codec frame), the WAV level (within 1 dB) and in step with the WAV', async () => {
    const formats = ['wav', 'mp3', 'opus', 'flac']
    const pool = new AudioWorkerPool(2, { loudness: -16 })
    pool.addTasks(
      formats.map((format) => ({ id: format, text: '図書館で本を読みます。', outputPath: path.join(dir, `a.${format}`) })),
    )
    const result = await pool.process()
    expect(result.success).toBe(4)

    const page = path.join(dir, 'decode.html')
    fs.writeFileSync(page, decodingPage(Object.fromEntries(formats.map((f) => [f, path.join(dir, `a.${f}`)]))))
    const decoded = decodeInChromium(page)
    // MPEG-2 Layer III frames are 576 samples at 24 kHz, Opus packets 20 ms; decoding resamples to 48 kHz.
    const frameSeconds: Record<string, number> = { wav: 0.001, flac: 0.001, mp3: 576 / 24000, opus: 0.02 }
    for (const format of formats) {
      const reported = result.results.get(format)?.durationSeconds as number
      const { duration, rms, error } = decoded[format]
      expect({ format, error }).toEqual({ format, error: undefined })
      expect(Math.abs((duration as number) - reported)).toBeLessThanOrEqual(frameSeconds[format])
      const levelDb = 20 * Math.log10((rms as number) / (decoded.wav.rms as number))
      expect(Math.abs(levelDb)).toBeLessThan(1)
      // The encoder's delay (LAME's, Opus pre-skip) is trimmed: the speech sounds where the WAV's does,
      // within a millisecond (48 samples at 48 kHz), of a search over ±50 ms.
      const offset = offsetOf(decoded.wav.head as number[], decoded[format].head as number[], 2400)
      expect({ format, offset: Math.abs(offset) <= 48 ? 'within 1 ms' : offset }).toEqual({ format, offset: 'within 1 ms' })
    }
  }, 240_000)
})
