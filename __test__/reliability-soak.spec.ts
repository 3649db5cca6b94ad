// Issue 6, long run, short version for CI: the soak of scripts/soak.ts on 48 items in three batches of 16 at
// concurrency 8. The full run (2,000 items, `npm run soak`) and its figures are in docs/reliability.md.

import { runSoak } from '../scripts/soak'

describe('soak (short)', () => {
  it('generates every item and leaks no file descriptor or temporary file across batches', async () => {
    const summary = await runSoak({ items: 48, concurrency: 8, batchSize: 16, warmupItems: 16 })
    console.log(JSON.stringify({ ...summary, loadAverage: undefined }))
    expect(summary).toMatchObject({ generated: 48, failed: 0, wavFiles: 48, leftoverFiles: [] })
    expect(summary.fileDescriptors.end).toBeLessThanOrEqual(summary.fileDescriptors.afterWarmup)
    // Two batches after the warm-up are too few to hold memory to the full run's 10%; this only catches a
    // leak as large as the audio itself (a few MiB a batch would still pass, the full soak would not).
    expect(summary.rssMiB.growthAfterWarmupPercent).toBeLessThan(25)
    expect(summary.problems.filter((problem) => !problem.startsWith('RSS'))).toEqual([])
  }, 300_000)
})
