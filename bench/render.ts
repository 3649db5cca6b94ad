// Rewrites the markdown of a results file from its JSON (after a change to the report's layout, or
// for a run that was stopped: the JSON is written after every contender run).
//
//   tsx bench/render.ts bench/results/<date>.json

import { readFileSync, renameSync, writeFileSync } from 'node:fs'

import { renderMarkdown } from './report'
import type { Results } from './run'

const file = process.argv[2]
if (!file?.endsWith('.json')) {
  console.error('usage: tsx bench/render.ts RESULTS.json')
  process.exit(1)
}
const markdownFile = file.replace(/\.json$/, '.md')
writeFileSync(`${markdownFile}.tmp`, renderMarkdown(JSON.parse(readFileSync(file, 'utf8')) as Results))
renameSync(`${markdownFile}.tmp`, markdownFile)
console.log(`wrote ${markdownFile}`)
