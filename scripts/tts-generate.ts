// npm run tts-generate -- [options]: generates the course audio. Everything but process wiring is in lib/.
import { main } from '../lib/cli'

main(process.argv).then(
  (exitCode) => {
    process.exitCode = exitCode
  },
  (error: unknown) => {
    process.stderr.write(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exitCode = 1
  },
)
