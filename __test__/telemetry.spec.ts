// kokoro-pool inside someone else's app reports nothing about it: ONNX Runtime's telemetry (on by default in
// Microsoft's builds, which create a device id and an event queue under ~/.cache/Microsoft) is off from the
// moment the addon loads. Checked in a fresh process with its own HOME and none of the CI variables that
// make ONNX Runtime stay quiet on its own.
import { execFile } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { promisify } from 'node:util'

import { assetsDir } from '../index'

const repoRoot = path.resolve(__dirname, '..')
const QUIETING_VARIABLES = ['ORT_DISABLE_TELEMETRY', 'CI', 'TF_BUILD', 'GITHUB_ACTIONS', 'GITLAB_CI', 'CIRCLECI', 'XDG_CACHE_HOME']

it('the addon turns ONNX Runtime telemetry off before it loads: no files under ~/.cache/Microsoft', async () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'kokoro-pool-home-'))
  try {
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !QUIETING_VARIABLES.includes(name)))
    const script = `
const { AudioWorkerPool } = require(${JSON.stringify(repoRoot)})
const pool = new AudioWorkerPool(1, { assetsDir: ${JSON.stringify(assetsDir())} })
pool.addTasks([{ id: 'mizu', text: '水', outputPath: ${JSON.stringify(path.join(home, 'mizu.wav'))} }])
pool.process().then((result) => console.log(JSON.stringify({ success: result.success, variable: process.env.ORT_DISABLE_TELEMETRY })))
`
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { cwd: home, env: { ...env, HOME: home } })
    expect(JSON.parse(stdout)).toEqual({ success: 1, variable: '1' })
    expect(fs.existsSync(path.join(home, 'mizu.wav'))).toBe(true)
    expect(fs.existsSync(path.join(home, '.cache', 'Microsoft'))).toBe(false)
  } finally {
    fs.rmSync(home, { recursive: true, force: true })
  }
}, 120_000)
