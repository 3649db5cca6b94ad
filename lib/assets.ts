import * as path from 'node:path'

/** Environment variable that points kokoro-pool at an existing assets folder. */
export const ASSETS_ENV = 'KOKORO_POOL_ASSETS'

/** The assets folder: `$KOKORO_POOL_ASSETS`, else `assets/` at the repository root (same rule as the Rust engine). */
export function assetsDir(): string {
  const fromEnv = process.env[ASSETS_ENV]
  return fromEnv ? path.resolve(fromEnv) : path.resolve(__dirname, '..', 'assets')
}
