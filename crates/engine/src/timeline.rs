//! Where each phoneme token of a task sounds in the file as written: the model's predicted
//! durations (`duration_outputs`), carried through trimming and chunk joining by `synthesis`, and
//! shifted here by whatever is added in front of the audio afterwards.

use crate::audio::SAMPLE_RATE;
use std::ops::Range;

/// One model token (a phoneme symbol, a space, punctuation, or one of the pads at both ends of
/// every run) and the samples it lasts in the task's audio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedToken {
    /// The character of the task's phoneme string the token was made of; `None` for the pads.
    pub phoneme: Option<usize>,
    pub samples: Range<usize>,
}

/// Every token of a task in order; tokens of one chunk are contiguous, the chunks are apart by
/// the pause [`crate::audio`] puts between them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PhonemeTimeline {
    pub tokens: Vec<TimedToken>,
    /// Samples in the audio the tokens refer to.
    pub samples: usize,
}

impl PhonemeTimeline {
    /// The timeline once `lead` samples were put before the audio and `trail` after it: the one
    /// place that moves times when the written audio differs from the synthesized one.
    pub fn padded(mut self, lead: usize, trail: usize) -> PhonemeTimeline {
        for token in &mut self.tokens {
            token.samples = token.samples.start + lead..token.samples.end + lead;
        }
        self.samples += lead + trail;
        self
    }

    /// The samples of the tokens made of the phoneme characters in `phonemes`, from the first's
    /// start to the last's end; `None` when none of them became a token.
    pub fn span_of(&self, phonemes: Range<usize>) -> Option<Range<usize>> {
        let mut made = self
            .tokens
            .iter()
            .filter(|token| token.phoneme.is_some_and(|p| phonemes.contains(&p)));
        let first = made.next()?;
        let last = made.next_back().unwrap_or(first);
        Some(first.samples.start..last.samples.end)
    }

    /// The audio's length in seconds.
    pub fn seconds(&self) -> f64 {
        seconds(self.samples)
    }
}

/// Samples at the model's rate to seconds.
pub fn seconds(samples: usize) -> f64 {
    samples as f64 / f64::from(SAMPLE_RATE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(phoneme: Option<usize>, samples: Range<usize>) -> TimedToken {
        TimedToken { phoneme, samples }
    }

    #[test]
    fn padding_shifts_every_token_and_lengthens_the_audio() {
        let timeline = PhonemeTimeline {
            tokens: vec![token(None, 0..10), token(Some(0), 10..30)],
            samples: 35,
        };
        let padded = timeline.padded(100, 7);
        assert_eq!(padded.samples, 142);
        assert_eq!(padded.tokens[1].samples, 110..130);
        assert_eq!(padded.span_of(0..1), Some(110..130));
    }

    #[test]
    fn a_span_runs_from_its_first_token_to_its_last() {
        let timeline = PhonemeTimeline {
            tokens: vec![
                token(None, 0..5),
                token(Some(0), 5..9),
                token(Some(1), 9..20),
                token(Some(3), 20..21),
            ],
            samples: 21,
        };
        assert_eq!(timeline.span_of(0..2), Some(5..20));
        assert_eq!(timeline.span_of(1..4), Some(9..21));
        assert_eq!(timeline.span_of(2..3), None, "a space dropped at a cut");
    }
}
