import * as fs from 'node:fs'
import * as path from 'node:path'

/** Environment variable that points kokoro-pool at an existing assets folder. */
export const ASSETS_ENV = 'KOKORO_POOL_ASSETS'

/** This package's folder (the one with package.json): the repository, or node_modules/kokoro-pool once installed. */
export const packageRoot: string = (() => {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${__dirname}`)
  }
})()

/** The native addon (index.js picks the `.node` beside it in a checkout, else the platform package). */
export function nativeAddon(): typeof import('../index') {
  return require(path.join(packageRoot, 'index.js')) as typeof import('../index')
}

/**
 * The assets folder, as the addon decides it at run time (one rule for Rust and TypeScript): `$KOKORO_POOL_ASSETS`,
 * else the per-user cache `~/.cache/kokoro-pool/<asset-set version>`, else (in a source checkout) its `assets/`.
 */
export function assetsDir(): string {
  return path.resolve(nativeAddon().assetsDir())
}
