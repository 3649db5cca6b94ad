// `--update-json`: writes audio URLs into a course file, keeping every other field, the item order and the
// indentation. The new text goes to a temporary file in the same folder that is renamed over the original,
// so a crash or Ctrl-C leaves either the old file or the new one, never a truncated one.

import { closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs'
import path from 'node:path'

import { captionLocation, type CaptionFormat } from './captions'
import { CourseDataError, displayPath } from './course'
import type { AudioFieldPath, SpeechJob } from './speech-jobs'

export interface AudioUrlUpdate {
  itemId: string
  audioField: AudioFieldPath
  url: string
}

/** Indentation of the first indented line, so a rewrite keeps the author's style (2 spaces if none). */
function detectIndent(text: string): string | number {
  const match = /^[ \t]+(?=\S)/m.exec(text)
  return match ? match[0] : 2
}

/** Sets the field at `fieldPath` inside `item`; 'missing' when a container on the way is gone (the file changed since loading). */
function setField(item: unknown, fieldPath: AudioFieldPath, value: string): 'changed' | 'unchanged' | 'missing' {
  let container: unknown = item
  for (const key of fieldPath.slice(0, -1)) {
    if (typeof container !== 'object' || container === null) return 'missing'
    container = (container as Record<string | number, unknown>)[key]
  }
  if (typeof container !== 'object' || container === null) return 'missing'
  const record = container as Record<string | number, unknown>
  const last = fieldPath[fieldPath.length - 1]
  if (record[last] === value) return 'unchanged'
  record[last] = value
  return 'changed'
}

/** Writes `text` to `file` atomically and durably: temp file in the same folder, fsync, rename, fsync the folder. */
export function writeFileAtomic(file: string, text: string): void {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`)
  let mode: number | undefined
  try {
    mode = statSync(file).mode & 0o777
  } catch {
    mode = undefined
  }
  const fd = openSync(temp, 'w', mode)
  try {
    writeSync(fd, text)
    fsyncSync(fd)
    closeSync(fd)
    renameSync(temp, file)
  } catch (error) {
    try {
      closeSync(fd)
    } catch {
      // already closed
    }
    try {
      unlinkSync(temp)
    } catch {
      // never created or already renamed
    }
    throw error
  }
  // The rename is durable only once the folder's entry is on disk.
  const dirFd = openSync(path.dirname(file), 'r')
  try {
    fsyncSync(dirFd)
  } finally {
    closeSync(dirFd)
  }
}

/**
 * Writes the URLs into `file` and returns how many fields changed. Items are found by id in the file as it is
 * now (not as it was when loaded), so edits made meanwhile survive; the file is not touched when nothing changes.
 */
export function writeAudioUrls(file: string, updates: AudioUrlUpdate[]): number {
  if (updates.length === 0) return 0
  const text = readFileSync(file, 'utf8')
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (error) {
    throw new CourseDataError(
      `${displayPath(file)}: cannot update audio URLs: invalid JSON: ${(error as Error).message}`,
    )
  }
  const items = (data as { items?: unknown }).items
  if (!Array.isArray(items))
    throw new CourseDataError(`${displayPath(file)}: cannot update audio URLs: no "items" array`)

  const itemsById = new Map<unknown, unknown>()
  for (const item of items) {
    if (typeof item === 'object' && item !== null) itemsById.set((item as { id?: unknown }).id, item)
  }
  let changed = 0
  for (const update of updates) {
    const item = itemsById.get(update.itemId)
    if (item !== undefined && setField(item, update.audioField, update.url) === 'changed') changed += 1
  }
  if (changed > 0) {
    const trailingNewline = text.endsWith('\n') ? '\n' : ''
    writeFileAtomic(file, JSON.stringify(data, null, detectIndent(text)) + trailingNewline)
  }
  return changed
}

/**
 * Writes the URLs of `jobs` (files that are there) into `file`, and with `captions` each caption file's URL into
 * the `captions` field beside the `audio` one; returns how many fields changed.
 */
export function writeJobUrls(file: string, jobs: SpeechJob[], captions?: CaptionFormat): number {
  return writeAudioUrls(
    file,
    jobs.flatMap((job) => [
      { itemId: job.itemId, audioField: job.audioField, url: job.url },
      ...(captions === undefined
        ? []
        : [
            {
              itemId: job.itemId,
              audioField: [...job.audioField.slice(0, -1), 'captions'],
              url: captionLocation(job.url, captions),
            },
          ]),
    ]),
  )
}
