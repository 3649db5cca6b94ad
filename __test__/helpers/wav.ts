import * as fs from 'node:fs'

export interface WavInfo {
  sampleRate: number
  channels: number
  bitsPerSample: number
  durationSeconds: number
  /** Root mean square of the samples, full scale = 1. */
  rms: number
  /** The samples, interleaved, full scale = 1. */
  samples: Float32Array
}

/** Parses a PCM WAV file the way a player would: RIFF header, `fmt ` chunk, `data` chunk. */
export function readWav(file: string): WavInfo {
  const buf = fs.readFileSync(file)
  if (buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error(`${file} is not a RIFF/WAVE file`)
  }
  if (buf.readUInt32LE(4) !== buf.length - 8) throw new Error(`${file}: RIFF size does not match the file size`)
  let offset = 12
  let fmt: { channels: number; sampleRate: number; bitsPerSample: number; format: number } | undefined
  while (offset + 8 <= buf.length) {
    const id = buf.toString('ascii', offset, offset + 4)
    const size = buf.readUInt32LE(offset + 4)
    const body = offset + 8
    if (id === 'fmt ') {
      fmt = {
        format: buf.readUInt16LE(body),
        channels: buf.readUInt16LE(body + 2),
        sampleRate: buf.readUInt32LE(body + 4),
        bitsPerSample: buf.readUInt16LE(body + 14),
      }
    } else if (id === 'data') {
      if (!fmt) throw new Error(`${file}: data chunk before fmt chunk`)
      if (fmt.format !== 1 || fmt.bitsPerSample !== 16) throw new Error(`${file}: not 16-bit PCM`)
      if (body + size > buf.length) throw new Error(`${file}: data chunk is truncated`)
      const count = size / 2 / fmt.channels
      const samples = new Float32Array(size / 2)
      let sumSquares = 0
      for (let i = 0; i < size / 2; i++) {
        const sample = buf.readInt16LE(body + i * 2) / 32768
        samples[i] = sample
        sumSquares += sample * sample
      }
      return {
        sampleRate: fmt.sampleRate,
        channels: fmt.channels,
        bitsPerSample: fmt.bitsPerSample,
        durationSeconds: count / fmt.sampleRate,
        rms: Math.sqrt(sumSquares / Math.max(1, size / 2)),
        samples,
      }
    }
    offset = body + size + (size % 2)
  }
  throw new Error(`${file}: no data chunk`)
}
