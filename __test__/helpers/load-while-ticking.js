// Child process of loading.spec.ts (a fresh process: nothing loaded, no digest cached):
// constructs a pool, queues one word and processes it while a 10 ms interval counts ticks.
// Prints one JSON line: the tick count at each step and the event loop's largest delay.
//   node load-while-ticking.js <addon module> <output folder>
'use strict'
const { monitorEventLoopDelay } = require('node:perf_hooks')
const path = require('node:path')

const { AudioWorkerPool } = require(path.resolve(process.argv[2]))
const outDir = process.argv[3]

async function main() {
  const delay = monitorEventLoopDelay({ resolution: 1 })
  delay.enable()
  let ticks = 0
  const interval = setInterval(() => {
    ticks += 1
  }, 10)
  // Let the interval and the histogram start before the load begins.
  await new Promise((resolve) => setTimeout(resolve, 50))
  const ticksBefore = ticks
  const pool = new AudioWorkerPool(1)
  const constructed = ticks
  pool.addTasks([{ id: 'taberu', text: '食べる', outputPath: path.join(outDir, 'taberu.wav') }])
  let ready = null
  // The seed's pool had no ready(): it loaded in the constructor.
  if (typeof pool.ready === 'function') pool.ready().then(() => (ready = ticks))
  let firstProgress = null
  const result = await pool.process(() => {
    firstProgress ??= ticks
  })
  const processed = ticks
  clearInterval(interval)
  delay.disable()
  const report = {
    ticksBefore,
    constructed,
    ready,
    firstProgress,
    processed,
    success: result.success,
    maxDelayMs: delay.max / 1e6,
  }
  process.stdout.write(`${JSON.stringify(report)}\n`)
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`)
  process.exit(1)
})
