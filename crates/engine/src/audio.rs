//! Audio between the model and the file: silence trimming and joining chunks.

use std::ops::Range;

/// Sample rate of the model's output and of every WAV written.
pub const SAMPLE_RATE: u32 = 24_000;

/// A sample louder than this is sound, as in the reference implementation.
const SILENCE_THRESHOLD: f32 = 0.01;
/// Silence kept before the first and after the last sound: 30 ms, as in the reference.
const TRIM_PAD_SAMPLES: usize = SAMPLE_RATE as usize * 30 / 1000;
/// Silence inserted between two chunks of one text: a sentence-sized breath.
const CHUNK_PAUSE_SAMPLES: usize = SAMPLE_RATE as usize * 150 / 1000;

/// Cuts leading and trailing silence, keeping 30 ms around the sound. All-quiet audio is kept whole.
#[cfg(test)]
pub(crate) fn trim_silence(audio: &[f32]) -> &[f32] {
    &audio[kept_range(audio)]
}

/// The samples [`trim_silence`] keeps: from 30 ms before the first sound to 30 ms after the last.
pub(crate) fn kept_range(audio: &[f32]) -> Range<usize> {
    let is_sound = |sample: &f32| sample.abs() > SILENCE_THRESHOLD;
    match (
        audio.iter().position(is_sound),
        audio.iter().rposition(is_sound),
    ) {
        (Some(first), Some(last)) => {
            first.saturating_sub(TRIM_PAD_SAMPLES)..(last + 1 + TRIM_PAD_SAMPLES).min(audio.len())
        }
        _ => 0..audio.len(),
    }
}

/// Joins the trimmed chunks of one text with a short pause between them; returns the audio and
/// the sample each chunk starts at.
pub(crate) fn join_chunks(chunks: &[&[f32]]) -> (Vec<f32>, Vec<usize>) {
    let total = chunks.iter().map(|chunk| chunk.len()).sum::<usize>()
        + CHUNK_PAUSE_SAMPLES * chunks.len().saturating_sub(1);
    let mut joined = Vec::with_capacity(total);
    let mut starts = Vec::with_capacity(chunks.len());
    for (index, chunk) in chunks.iter().enumerate() {
        if index > 0 {
            joined.resize(joined.len() + CHUNK_PAUSE_SAMPLES, 0.0);
        }
        starts.push(joined.len());
        joined.extend_from_slice(chunk);
    }
    (joined, starts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_keeps_30_ms_around_the_sound() {
        let mut audio = vec![0.0f32; 10_000];
        audio[3_000..4_000].fill(0.5);
        let trimmed = trim_silence(&audio);
        assert_eq!(trimmed.len(), 1_000 + 2 * TRIM_PAD_SAMPLES);
        assert_eq!(trimmed[TRIM_PAD_SAMPLES], 0.5);
        assert_eq!(trimmed[TRIM_PAD_SAMPLES - 1], 0.0);
    }

    #[test]
    fn trim_stops_at_the_edges_and_ignores_quiet_noise() {
        let mut audio = vec![0.005f32; 2_000];
        audio[10] = -0.2;
        audio[1_990] = 0.2;
        let trimmed = trim_silence(&audio);
        assert_eq!(trimmed.len(), 2_000);
        assert_eq!(trim_silence(&[0.001; 100]).len(), 100);
        assert!(trim_silence(&[]).is_empty());
    }

    #[test]
    fn join_puts_one_pause_between_chunks() {
        let (joined, starts) = join_chunks(&[&[1.0; 100], &[2.0; 50], &[3.0; 10]]);
        assert_eq!(joined.len(), 160 + 2 * CHUNK_PAUSE_SAMPLES);
        assert_eq!(
            starts,
            [0, 100 + CHUNK_PAUSE_SAMPLES, 150 + 2 * CHUNK_PAUSE_SAMPLES]
        );
        assert_eq!(joined[99], 1.0);
        assert_eq!(joined[100], 0.0);
        assert_eq!(joined[100 + CHUNK_PAUSE_SAMPLES], 2.0);
        assert_eq!(join_chunks(&[&[1.0; 7]]), (vec![1.0; 7], vec![0]));
        assert!(join_chunks(&[]).0.is_empty());
    }
}
