// The demo page (examples/captions.html) in headless Chromium: a real clip and its WebVTT, served over HTTP;
// the page seeks to two moments and reports the word it highlights at each.

import { execFile } from 'node:child_process'
import { createReadStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'

import { AudioWorkerPool } from '..'
import { writeWebVtt } from '../lib/captions'
import { REPO_ROOT } from './helpers/cli-run'

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium'
const TYPES: Record<string, string> = { '.html': 'text/html', '.vtt': 'text/vtt', '.wav': 'audio/wav' }

/** Serves `examples/` at /examples/ and `clips` at /clips/. */
function serve(clips: string): Promise<http.Server> {
  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost')
    const [, root, ...rest] = url.pathname.split('/')
    const base = root === 'examples' ? path.join(REPO_ROOT, 'examples') : root === 'clips' ? clips : undefined
    const file = base && path.join(base, ...rest.map(decodeURIComponent))
    if (!file || !file.startsWith(base) || !existsSync(file)) {
      response.writeHead(404).end()
      return
    }
    // Media elements seek only in resources served with byte ranges.
    const size = statSync(file).size
    const type = TYPES[path.extname(file)] ?? 'application/octet-stream'
    const range = /^bytes=(\d*)-(\d*)$/.exec(request.headers.range ?? '')
    if (range) {
      const start = range[1] === '' ? size - Number(range[2]) : Number(range[1])
      const end = range[1] !== '' && range[2] !== '' ? Math.min(Number(range[2]), size - 1) : size - 1
      response.writeHead(206, {
        'content-type': type,
        'accept-ranges': 'bytes',
        'content-range': `bytes ${start}-${end}/${size}`,
        'content-length': end - start + 1,
      })
      createReadStream(file, { start, end }).pipe(response)
      return
    }
    response.writeHead(200, { 'content-type': type, 'accept-ranges': 'bytes', 'content-length': size })
    createReadStream(file).pipe(response)
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

function dumpDom(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      CHROMIUM,
      ['--headless', '--no-sandbox', '--disable-gpu', '--autoplay-policy=no-user-gesture-required', '--virtual-time-budget=10000', '--dump-dom', url],
      { timeout: 60_000 },
      (error, stdout) => (error ? reject(error) : resolve(stdout)),
    )
  })
}

const maybe = existsSync(CHROMIUM) ? it : it.skip

describe('examples/captions.html', () => {
  maybe('highlights the word being spoken at two moments of a clip', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kokoro-pool-page-'))
    const text = '学校で、本を読みます。'
    const pool = new AudioWorkerPool(1, { timings: true })
    pool.addTasks([{ id: 'clip', text, outputPath: path.join(dir, 'clip.wav') }])
    const timings = (await pool.process()).results.get('clip')!.timings!
    writeWebVtt(path.join(dir, 'clip.wav'), timings)
    const middle = (word: string): number => {
      const segment = timings.segments.find((s) => s.text === word)!
      return Number(((segment.start + segment.end) / 2).toFixed(3))
    }
    const moments = [middle('学校'), middle('読みます')]
    const server = await serve(dir)
    try {
      const { port } = server.address() as AddressInfo
      const query = new URLSearchParams({ audio: '/clips/clip.wav', vtt: '/clips/clip.vtt', text, probe: moments.join(',') })
      const dom = await dumpDom(`http://127.0.0.1:${port}/examples/captions.html?${query}`)
      const probe = /<pre id="probe">([\s\S]*?)<\/pre>/.exec(dom)?.[1]
      expect(probe).toBe(`${moments[0]} 学校\n${moments[1]} 読みます\ndone`)
      expect(dom).toMatch(/<span[^>]*class="spoken"[^>]*>読みます<\/span>/)
    } finally {
      server.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
