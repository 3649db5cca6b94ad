// The frozen workloads of the benchmark (bench/workloads/*.json) and the item lists the contenders read.

import { readFileSync } from 'node:fs'
import path from 'node:path'

export const WORKLOAD_NAMES = ['vocab', 'sentences', 'mixed'] as const
export type WorkloadName = (typeof WORKLOAD_NAMES)[number]

export interface WorkloadItem {
  /** Unique within the workload; also the WAV file name. */
  id: string
  /** Where the text comes from in the bundled course, e.g. "vocabulary/v001.word". */
  source: string
  text: string
  /** What kokoro-pool's G2P made of `text` when the workload was frozen (a record and a drift check). */
  phonemes: string
}

export interface Workload {
  name: WorkloadName
  /** Bumped whenever the items change: results are only comparable at equal versions. */
  version: number
  description: string
  items: WorkloadItem[]
}

/** What every contender reads: `{ "items": [{ "id", "text" }] }`. */
export interface ItemsFile {
  items: { id: string; text: string }[]
}

/** What every contender writes: one entry per item, in completion order. */
export interface ItemReport {
  id: string
  /** From the item's start (taken by a worker) to its WAV on disk, in ms. */
  ms: number
  audioSeconds: number
  ok: boolean
  error?: string
}

export interface ContenderReport {
  items: ItemReport[]
  /** kokoro-pool only: when each item's progress callback ran in JS (Unix ms), for the trace (bench/trace.ts). */
  callbackUnixMs?: Record<string, number>
}

export const WORKLOADS_DIR = path.join(__dirname, 'workloads')

export function workloadPath(name: WorkloadName): string {
  return path.join(WORKLOADS_DIR, `${name}.json`)
}

export function loadWorkload(name: WorkloadName): Workload {
  const file = workloadPath(name)
  const workload = JSON.parse(readFileSync(file, 'utf8')) as Workload
  const ids = new Set<string>()
  for (const item of workload.items) {
    if (!item.id || !item.text || ids.has(item.id)) {
      throw new Error(`${file}: item ${JSON.stringify(item.id)} is missing its text or repeats an id`)
    }
    ids.add(item.id)
  }
  if (workload.name !== name) throw new Error(`${file}: names workload ${JSON.stringify(workload.name)}, not ${name}`)
  return workload
}
