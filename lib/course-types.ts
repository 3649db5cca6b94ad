// Shapes of the course data files (data/vocabulary.json, data/grammar.json, data/kanji.json).
// docs/course-data.md documents them for authors; lib/course.ts validates files against them.

export const COURSE_TYPES = ['vocabulary', 'grammar', 'kanji'] as const
export type CourseType = (typeof COURSE_TYPES)[number]

export type JlptLevel = 'N5' | 'N4' | 'N3' | 'N2' | 'N1'

/** A sentence in Japanese with its translation. `audio` is written by `--update-json`. */
export interface ExampleSentence {
  ja: string
  en: string
  audio?: string
}

export interface VocabularyItem {
  /** Unique within the file; also the audio file name: letters, digits, '-' and '_' only. */
  id: string
  /** Written form as learners meet it: kanji where usual, else kana or Latin letters (ＮＨＫ). */
  word: string
  /** Kana reading of `word`. */
  reading: string
  meaning: string
  partOfSpeech?: string
  jlpt?: JlptLevel
  example: ExampleSentence
  /** URL of the spoken word, written by `--update-json`. */
  audio?: string
}

export interface GrammarItem {
  id: string
  /** The pattern as textbooks print it, e.g. "〜たいです". */
  pattern: string
  meaning: string
  explanation: string
  jlpt?: JlptLevel
  examples: ExampleSentence[]
}

export interface KanjiExampleWord {
  word: string
  reading: string
  meaning: string
  audio?: string
}

export interface KanjiItem {
  id: string
  /** A single kanji character. */
  kanji: string
  meanings: string[]
  /** On readings in katakana, e.g. ["ニチ", "ジツ"]. */
  onyomi: string[]
  /** Kun readings in hiragana; a '.' separates the okurigana ("た.べる"), a '-' marks a prefix/suffix use ("-び"). */
  kunyomi: string[]
  strokes?: number
  jlpt?: JlptLevel
  examples: KanjiExampleWord[]
  /** URL of the spoken readings, written by `--update-json`. */
  audio?: string
}

export interface CourseItemByType {
  vocabulary: VocabularyItem
  grammar: GrammarItem
  kanji: KanjiItem
}

export type CourseItem = CourseItemByType[CourseType]

/** One data file: `{ "type": "...", "items": [...] }`; any other top-level field is kept as is. */
export interface CourseFile<T extends CourseType = CourseType> {
  type: T
  items: CourseItemByType[T][]
}
