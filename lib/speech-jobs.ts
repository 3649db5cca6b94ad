// What each course item speaks, and where each audio file goes (docs/course-data.md, "What gets spoken").

import { existsSync, statSync } from 'node:fs'
import path from 'node:path'

import { captionLocation, type CaptionFormat } from './captions'
import { CourseDataError, displayPath, isSafeId, type LoadedCourse } from './course'
import type { CourseItemByType, CourseType, KanjiItem } from './course-types'

/** Path of the `audio` field that `--update-json` fills, relative to the item, e.g. ["examples", 0, "audio"]. */
export type AudioFieldPath = (string | number)[]

export interface SpokenPart {
  /** Appended to the item id to form the file name: "" gives `<id>.wav`, ".example" gives `<id>.example.wav` (or .mp3, …). */
  suffix: string
  text: string
  /** The course's own kana reading of `text`, where the item has one (vocabulary words, kanji examples). */
  reading?: string
  audioField: AudioFieldPath
}

export interface SpeechJob {
  /** Unique over all types, so one pool can take every type's jobs: "<type>/<file name without extension>". */
  taskId: string
  type: CourseType
  itemId: string
  text: string
  /** The course's kana reading of the text, compared with what will be spoken (lib/readings.ts). */
  courseReading?: string
  fileName: string
  outputPath: string
  url: string
  audioField: AudioFieldPath
}

export interface JobLayout {
  /** Audio root; files go to `<outDir>/<type>/<file name>`. */
  outDir: string
  /** URL root matching outDir, e.g. "/audio". */
  urlPrefix: string
  /** Only the first `limit` items of the file. */
  limit?: number
  /** File extension: the audio format (default wav). */
  format?: string
}

/** On readings, then kun readings with their okurigana/affix marks removed: "ニチ、ジツ。ひ、か。" */
export function spokenKanjiReadings(item: KanjiItem): string {
  const kun = item.kunyomi.map((reading) => reading.replace(/[.\-]/g, ''))
  return [item.onyomi, kun]
    .map((readings) => [...new Set(readings)])
    .filter((readings) => readings.length > 0)
    .map((readings) => `${readings.join('、')}。`)
    .join('')
}

const SPOKEN_PARTS: { [T in CourseType]: (item: CourseItemByType[T]) => SpokenPart[] } = {
  vocabulary: (item) => [
    { suffix: '', text: item.word, reading: item.reading, audioField: ['audio'] },
    { suffix: '.example', text: item.example.ja, audioField: ['example', 'audio'] },
  ],
  grammar: (item) =>
    item.examples.map((example, index) => ({
      suffix: `.example-${index + 1}`,
      text: example.ja,
      audioField: ['examples', index, 'audio'],
    })),
  kanji: (item) => [
    { suffix: '', text: spokenKanjiReadings(item), audioField: ['audio'] },
    ...item.examples.map((example, index) => ({
      suffix: `.example-${index + 1}`,
      text: example.word,
      reading: example.reading,
      audioField: ['examples', index, 'audio'],
    })),
  ],
}

export function spokenParts<T extends CourseType>(type: T, item: CourseItemByType[T]): SpokenPart[] {
  return SPOKEN_PARTS[type](item)
}

export function buildSpeechJobs<T extends CourseType>(course: LoadedCourse<T>, layout: JobLayout): SpeechJob[] {
  const typeDir = path.resolve(layout.outDir, course.type)
  const urlPrefix = layout.urlPrefix.replace(/\/+$/, '')
  const items = layout.limit === undefined ? course.items : course.items.slice(0, layout.limit)
  return items.flatMap((item) => {
    // Loaded courses are validated already; this guard keeps hand-built ones from writing outside the folder.
    if (!isSafeId(item.id)) {
      throw new CourseDataError(
        `${displayPath(course.file)}: item id ${JSON.stringify(item.id)} is not a safe file name and could escape ${displayPath(typeDir)}`,
      )
    }
    return spokenParts(course.type, item).map((part) => {
      const fileName = `${item.id}${part.suffix}.${layout.format ?? 'wav'}`
      const outputPath = path.join(typeDir, fileName)
      return {
        taskId: `${course.type}/${item.id}${part.suffix}`,
        type: course.type,
        itemId: item.id,
        text: part.text,
        courseReading: part.reading,
        fileName,
        outputPath,
        url: `${urlPrefix}/${course.type}/${fileName}`,
        audioField: part.audioField,
      }
    })
  })
}

/**
 * Files that are there count as made: the pool writes atomically, so a file at its path is whole. With
 * `captions`, only with their caption file.
 */
export function splitExisting(
  jobs: SpeechJob[],
  captions?: CaptionFormat,
): { pending: SpeechJob[]; existing: SpeechJob[] } {
  const pending: SpeechJob[] = []
  const existing: SpeechJob[] = []
  for (const job of jobs) {
    const made =
      (statSync(job.outputPath, { throwIfNoEntry: false })?.size ?? 0) > 0 &&
      (captions === undefined || existsSync(captionLocation(job.outputPath, captions)))
    ;(made ? existing : pending).push(job)
  }
  return { pending, existing }
}
