// Loading and validating course data files. Every error names the file and, where there is one, the item.

import { readFileSync } from 'node:fs'
import path from 'node:path'

import { COURSE_TYPES, type CourseItemByType, type CourseType } from './course-types'

/** Invalid course data: the message names the file and the item. */
export class CourseDataError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'CourseDataError'
  }
}

export interface LoadedCourse<T extends CourseType = CourseType> {
  type: T
  /** Absolute path of the data file. */
  file: string
  items: CourseItemByType[T][]
}

/** Ids become file names, so only a conservative set of characters is allowed (no dots: see docs/course-data.md). */
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/

export function courseFilePath(dataDir: string, type: CourseType): string {
  return path.resolve(dataDir, `${type}.json`)
}

/** A path for messages: relative to the working directory when inside it, else absolute. */
export function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file)
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file
}

export function isSafeId(id: string): boolean {
  return SAFE_ID.test(id)
}

export function loadCourse<T extends CourseType>(dataDir: string, type: T): LoadedCourse<T> {
  const file = courseFilePath(dataDir, type)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (error as Error).message
    throw new CourseDataError(`${displayPath(file)}: cannot read ${type} data: ${reason}`)
  }
  return parseCourse(text, file, type)
}

/** Parses and validates the text of a course file; `file` is only used in messages and the result. */
export function parseCourse<T extends CourseType>(text: string, file: string, type: T): LoadedCourse<T> {
  const where = displayPath(file)
  const data = parseJson(text, where)
  if (!isRecord(data)) throw new CourseDataError(`${where}: expected an object {"type": "${type}", "items": [...]}`)
  if (!('type' in data)) throw new CourseDataError(`${where}: missing field "type" (expected "${type}")`)
  if (data.type !== type) {
    const known = (COURSE_TYPES as readonly unknown[]).includes(data.type)
    throw new CourseDataError(
      `${where}: ${known ? 'wrong' : 'unknown'} type ${JSON.stringify(data.type)} (expected "${type}"; known types: ${COURSE_TYPES.join(', ')})`,
    )
  }
  if (!Array.isArray(data.items)) throw new CourseDataError(`${where}: field "items" must be an array of ${type} items`)

  const firstIndexById = new Map<string, number>()
  const items = data.items.map((raw: unknown, index: number) => {
    const item = new FieldReader(raw, `${where}: item #${index + 1}`)
    const id = item.id()
    const earlier = firstIndexById.get(id)
    if (earlier !== undefined) {
      throw new CourseDataError(
        `${where}: item #${index + 1}: duplicate id "${id}" (already used by item #${earlier + 1})`,
      )
    }
    firstIndexById.set(id, index)
    VALIDATORS[type](item)
    return raw as CourseItemByType[T]
  })
  return { type, file, items }
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text)
  } catch (error) {
    const offset = jsonErrorOffset(text)
    const at = offset === undefined ? '' : ` at ${lineAndColumn(text, offset)}`
    throw new CourseDataError(`${where}: invalid JSON${at}: ${(error as Error).message}`)
  }
}

/**
 * Offset of the first syntax error in `text` (undefined if it has none). JSON.parse's messages carry a
 * position only for some errors in this Node version, and authors need a line and column to fix a file.
 */
export function jsonErrorOffset(text: string): number | undefined {
  let at = 0
  const fail = (): never => {
    throw at
  }
  const space = (): void => {
    while (/[ \t\r\n]/.test(text[at] ?? '')) at += 1
  }
  const literal = (word: string): void => {
    for (const char of word) {
      if (text[at] !== char) fail()
      at += 1
    }
  }
  const string = (): void => {
    at += 1
    for (;;) {
      const char = text[at] ?? fail()
      if (char === '"') break
      if (char < ' ') fail()
      if (char === '\\') {
        at += 1
        if (text[at] === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(at + 1, at + 5))) fail()
          at += 4
        } else if (!'"\\/bfnrt'.includes(text[at] ?? 'x')) fail()
      }
      at += 1
    }
    at += 1
  }
  const value = (): void => {
    space()
    const char = text[at]
    if (char === '{' || char === '[') {
      const close = char === '{' ? '}' : ']'
      at += 1
      space()
      if (text[at] === close) {
        at += 1
        return
      }
      for (;;) {
        if (close === '}') {
          space()
          if (text[at] !== '"') fail()
          string()
          space()
          if (text[at] !== ':') fail()
          at += 1
        }
        value()
        space()
        if (text[at] === close) break
        if (text[at] !== ',') fail()
        at += 1
      }
      at += 1
    } else if (char === '"') string()
    else if (char === 't') literal('true')
    else if (char === 'f') literal('false')
    else if (char === 'n') literal('null')
    else {
      const number = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(at))
      if (number === null) fail()
      else at += number[0].length
    }
  }
  try {
    value()
    space()
    if (at < text.length) fail()
    return undefined
  } catch (offset) {
    return Math.min(offset as number, text.length)
  }
}

function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset)
  const line = before.split('\n').length
  const column = offset - before.lastIndexOf('\n')
  return `line ${line}, column ${column}`
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Reads fields of one item, throwing CourseDataError with the item and field named. */
class FieldReader {
  private readonly record: Record<string, unknown>
  private label: string

  constructor(
    value: unknown,
    label: string,
    private readonly prefix = '',
  ) {
    this.label = label
    if (!isRecord(value)) throw new CourseDataError(`${label}: expected an object`)
    this.record = value
  }

  id(): string {
    const id = this.string('id')
    if (!isSafeId(id)) {
      const escapes = id.includes('/') || id.includes('\\') || id.includes('..')
      throw new CourseDataError(
        `${this.label} (id ${JSON.stringify(id)}): id is not a safe file name${escapes ? ' and would escape the output folder' : ''}; ` +
          `use 1-100 letters, digits, '-' or '_', starting with a letter or digit`,
      )
    }
    this.label = `${this.label} (id "${id}")`
    return id
  }

  fail(field: string, problem: string): never {
    throw new CourseDataError(`${this.label}: field "${this.prefix}${field}" ${problem}`)
  }

  private required(field: string): unknown {
    if (!(field in this.record) || this.record[field] === undefined) {
      throw new CourseDataError(`${this.label}: missing field "${this.prefix}${field}"`)
    }
    return this.record[field]
  }

  string(field: string): string {
    const value = this.required(field)
    if (typeof value !== 'string' || value.trim() === '') this.fail(field, 'must be a non-empty string')
    return value
  }

  has(field: string): boolean {
    return this.record[field] !== undefined
  }

  value(field: string): unknown {
    return this.record[field]
  }

  optionalString(field: string): void {
    if (this.record[field] !== undefined) this.string(field)
  }

  stringList(field: string, allowEmpty: boolean): string[] {
    const value = this.required(field)
    if (!Array.isArray(value) || (!allowEmpty && value.length === 0)) {
      this.fail(field, `must be ${allowEmpty ? 'an' : 'a non-empty'} array of non-empty strings`)
    }
    value.forEach((entry, index) => {
      if (typeof entry !== 'string' || entry.trim() === '')
        this.fail(`${field}[${index}]`, 'must be a non-empty string')
    })
    return value as string[]
  }

  object(field: string): FieldReader {
    const value = this.required(field)
    if (!isRecord(value)) this.fail(field, 'must be an object')
    return new FieldReader(value, this.label, `${this.prefix}${field}.`)
  }

  objectList(field: string): FieldReader[] {
    const value = this.required(field)
    if (!Array.isArray(value) || value.length === 0) this.fail(field, 'must be a non-empty array of objects')
    return value.map((entry, index) => {
      if (!isRecord(entry)) this.fail(`${field}[${index}]`, 'must be an object')
      return new FieldReader(entry, this.label, `${this.prefix}${field}[${index}].`)
    })
  }

  optionalJlpt(): void {
    const value = this.record.jlpt
    if (value !== undefined && !['N5', 'N4', 'N3', 'N2', 'N1'].includes(value as string)) {
      this.fail('jlpt', 'must be one of N5, N4, N3, N2, N1')
    }
  }
}

function validateExample(example: FieldReader): void {
  example.string('ja')
  example.string('en')
  example.optionalString('audio')
}

// Each validator checks the fields its type's speech and docs rely on; unknown extra fields are allowed and kept.
const VALIDATORS: { [T in CourseType]: (item: FieldReader) => void } = {
  vocabulary(item) {
    item.string('word')
    item.string('reading')
    item.string('meaning')
    item.optionalString('partOfSpeech')
    item.optionalJlpt()
    item.optionalString('audio')
    validateExample(item.object('example'))
  },
  grammar(item) {
    item.string('pattern')
    item.string('meaning')
    item.string('explanation')
    item.optionalJlpt()
    item.objectList('examples').forEach(validateExample)
  },
  kanji(item) {
    const kanji = item.string('kanji')
    if ([...kanji].length !== 1) item.fail('kanji', 'must be a single character')
    item.stringList('meanings', false)
    const onyomi = item.stringList('onyomi', true)
    const kunyomi = item.stringList('kunyomi', true)
    if (onyomi.length + kunyomi.length === 0) item.fail('onyomi', 'and "kunyomi" must not both be empty')
    if (item.has('strokes') && !Number.isInteger(item.value('strokes'))) item.fail('strokes', 'must be an integer')
    item.optionalJlpt()
    item.optionalString('audio')
    item.objectList('examples').forEach((example) => {
      example.string('word')
      example.string('reading')
      example.string('meaning')
      example.optionalString('audio')
    })
  },
}
