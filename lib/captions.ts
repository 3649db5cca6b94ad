// `--captions json|vtt`: where each file's captions go and the WebVTT made from the pool's timings
// (docs/timings.md). The JSON is the pool's own sidecar, `<file>.timings.json`.

import type { TaskTimings } from '..'
import { writeFileAtomic } from './update-json'

export const CAPTION_FORMATS = ['json', 'vtt'] as const
export type CaptionFormat = (typeof CAPTION_FORMATS)[number]

/** `<file>.timings.json` (written by the pool) or `<file without its audio extension>.vtt`, for a path or a URL. */
export function captionLocation(audio: string, format: CaptionFormat): string {
  return format === 'json' ? `${audio}.timings.json` : `${audio.replace(/\.(wav|mp3|opus|flac)$/, '')}.vtt`
}

/** `seconds` as a WebVTT timestamp, hh:mm:ss.ttt. */
function timestamp(seconds: number): string {
  const millis = Math.round(seconds * 1000)
  const pad = (value: number, width: number): string => String(value).padStart(width, '0')
  return `${pad(Math.floor(millis / 3_600_000), 2)}:${pad(Math.floor(millis / 60_000) % 60, 2)}:${pad(
    Math.floor(millis / 1000) % 60,
    2,
  )}.${pad(millis % 1000, 3)}`
}

/** Text as WebVTT cue text: & and < escaped, no "-->" (which would end the cue's text). */
function cueText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/-->/g, '--&gt;')
}

/**
 * One cue per spoken word, in order: its identifier is `<charStart>-<charEnd>` (code points of the item's text,
 * so a page can highlight that span), its text the word as written.
 */
export function webVtt(timings: TaskTimings): string {
  const cues = timings.segments
    .filter((segment) => segment.kind === 'word' && segment.end > segment.start)
    .map(
      (segment) =>
        `${segment.charStart}-${segment.charEnd}\n${timestamp(segment.start)} --> ${timestamp(segment.end)}\n${cueText(
          segment.text.replace(/\s+/g, ' ').trim() || segment.kana,
        )}\n`,
    )
  return ['WEBVTT\n', ...cues].join('\n')
}

/** Writes `<file without its audio extension>.vtt` atomically. */
export function writeWebVtt(audioPath: string, timings: TaskTimings): void {
  writeFileAtomic(captionLocation(audioPath, 'vtt'), webVtt(timings))
}
