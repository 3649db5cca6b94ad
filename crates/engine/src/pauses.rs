//! Pauses at punctuation between words: the silence a learner hears at 、 and at a 。 inside an
//! item, which Kokoro itself makes only sometimes.
//!
//! The model gives a comma its own frames but often fills them with the vowel before it, held or
//! gliding into the next word (今、雨が → *imaa ame*; docs/timings.md), and no phoneme symbol
//! changes that. So the pause is made here, where the timeline says the mark is spoken: the first
//! half of the mark's frames is kept (the held vowel: the model's lengthening before a boundary),
//! then the audio fades out, is silent for at least the configured length, and resumes at the
//! quietest point next to where the next word begins. The timeline moves with it, so timings and
//! the file agree.

use crate::audio::SAMPLE_RATE;
use crate::synthesis::Speech;
use crate::timeline::{PhonemeTimeline, TimedToken};
use std::ops::Range;

/// Default silence at 、 (and `,` `;` `:` `…` `—` in given phonemes), ms: well over a geminate
/// closure (the model's っ lasts 75–125 ms), which a shorter silence before t, k or p sounds like.
pub const DEFAULT_COMMA_PAUSE_MS: u32 = 250;
/// Default silence at 。！？ followed by more words in the same item, ms.
pub const DEFAULT_SENTENCE_PAUSE_MS: u32 = 400;
/// Longest pause accepted.
pub const MAX_PAUSE_MS: u32 = 5_000;

/// Shortest silence at each kind of mark between two words; 0 leaves that kind as the model speaks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PauseLengths {
    pub comma_ms: u32,
    pub sentence_ms: u32,
}

impl Default for PauseLengths {
    fn default() -> Self {
        PauseLengths {
            comma_ms: DEFAULT_COMMA_PAUSE_MS,
            sentence_ms: DEFAULT_SENTENCE_PAUSE_MS,
        }
    }
}

/// The two kinds of punctuation the model pauses at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Mark {
    Comma,
    Sentence,
}

/// The mark a phoneme character is, if any (the G2P writes 、 as `,` and 。 as `.`).
fn mark_of(symbol: char) -> Option<Mark> {
    match symbol {
        ',' | ';' | ':' | '…' | '—' | '、' => Some(Mark::Comma),
        '.' | '!' | '?' | '。' | '！' | '？' => Some(Mark::Sentence),
        _ => None,
    }
}

/// What a phoneme character is to the pause finder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Symbol {
    Spoken,
    Space,
    Mark(Mark),
}

fn symbol_of(character: char) -> Symbol {
    match mark_of(character) {
        Some(mark) => Symbol::Mark(mark),
        None if character.is_whitespace() => Symbol::Space,
        None => Symbol::Spoken,
    }
}

/// Fade of the held vowel into the pause, centred where the kept half of the mark's frames ends:
/// a decay, as speech ends before a pause, not a cut.
const FADE_OUT_SAMPLES: usize = SAMPLE_RATE as usize * 30 / 1000;
/// Fade back in, at a quiet point, only to avoid a click.
const FADE_IN_SAMPLES: usize = SAMPLE_RATE as usize * 5 / 1000;
/// The next word may start this much before its predicted start (the timeline is within about
/// 8 ms, quartiles) or after it: the audio resumes at the quietest point in that window.
const RESUME_BEFORE_SAMPLES: usize = SAMPLE_RATE as usize * 15 / 1000;
const RESUME_AFTER_SAMPLES: usize = SAMPLE_RATE as usize * 5 / 1000;
/// Energy window and step of that search.
const QUIET_WINDOW_SAMPLES: usize = SAMPLE_RATE as usize * 5 / 1000;
const QUIET_STEP_SAMPLES: usize = SAMPLE_RATE as usize / 1000;

impl PauseLengths {
    /// As the model speaks: no pause is changed.
    pub const MODEL: PauseLengths = PauseLengths {
        comma_ms: 0,
        sentence_ms: 0,
    };

    pub fn check(&self) -> Result<(), String> {
        for (name, ms) in [("comma", self.comma_ms), ("sentence", self.sentence_ms)] {
            if ms > MAX_PAUSE_MS {
                return Err(format!(
                    "{name} pause {ms} ms is out of range: use 0 to {MAX_PAUSE_MS}"
                ));
            }
        }
        Ok(())
    }

    fn samples(&self, mark: Mark) -> usize {
        let ms = match mark {
            Mark::Comma => self.comma_ms,
            Mark::Sentence => self.sentence_ms,
        };
        (u64::from(SAMPLE_RATE) * u64::from(ms) / 1000) as usize
    }

    /// The lengths that change the speech of `phonemes`, by name (`comma`, `sentence`): those of
    /// the kinds of mark that stand between two spoken symbols, when not 0. The fingerprint records
    /// these only, so a length change regenerates exactly the files it changes.
    pub fn applied_to(&self, phonemes: &str) -> Vec<(&'static str, u32)> {
        let symbols: Vec<Option<Symbol>> = phonemes.chars().map(|c| Some(symbol_of(c))).collect();
        let kinds: Vec<Mark> = marks_between_words(&symbols)
            .into_iter()
            .map(|(_, mark)| mark)
            .collect();
        [
            ("comma", Mark::Comma, self.comma_ms),
            ("sentence", Mark::Sentence, self.sentence_ms),
        ]
        .into_iter()
        .filter(|(_, kind, ms)| *ms > 0 && kinds.contains(kind))
        .map(|(name, _, ms)| (name, ms))
        .collect()
    }
}

/// Each run of marks (with the spaces after them) that stands between two spoken symbols: its
/// place in `symbols` and its kind, the longer of consecutive marks (`?!`, `. `). `None` is what
/// is not a phoneme (a pad, which ends a chunk): no run crosses it, as chunks are joined with a
/// pause of their own.
fn marks_between_words(symbols: &[Option<Symbol>]) -> Vec<(Range<usize>, Mark)> {
    let mut runs = Vec::new();
    let mut index = 0;
    while index < symbols.len() {
        let Some(Symbol::Mark(first)) = symbols[index] else {
            index += 1;
            continue;
        };
        let after_speech = index > 0 && symbols[index - 1] == Some(Symbol::Spoken);
        let mut mark = first;
        let mut next = index + 1;
        while let Some(Some(symbol @ (Symbol::Mark(_) | Symbol::Space))) = symbols.get(next) {
            if let Symbol::Mark(another) = symbol {
                mark = mark.max(*another);
            }
            next += 1;
        }
        if after_speech && symbols.get(next) == Some(&Some(Symbol::Spoken)) {
            runs.push((index..next, mark));
        }
        index = next;
    }
    runs
}

/// One pause to make: the mark's tokens, where its frames start, where the next word starts,
/// and the shortest silence asked for.
struct Pause {
    tokens: Range<usize>,
    start: usize,
    next_word: usize,
    shortest: usize,
}

/// The pauses to make in `timeline`, spoken from `phonemes`: a run of marks between two words of
/// one chunk whose kind has a length.
fn pauses_in(timeline: &PhonemeTimeline, phonemes: &[char], lengths: &PauseLengths) -> Vec<Pause> {
    let tokens = &timeline.tokens;
    let symbols: Vec<Option<Symbol>> = tokens
        .iter()
        .map(|token| {
            token
                .phoneme
                .and_then(|p| phonemes.get(p))
                .map(|&c| symbol_of(c))
        })
        .collect();
    marks_between_words(&symbols)
        .into_iter()
        .filter_map(|(run, mark)| {
            let shortest = lengths.samples(mark);
            (shortest > 0).then(|| Pause {
                start: tokens[run.start].samples.start,
                next_word: tokens[run.end].samples.start,
                tokens: run,
                shortest,
            })
        })
        .collect()
}

/// The sample in `window` where the 5 ms after it are quietest.
fn quietest(audio: &[f32], window: Range<usize>) -> usize {
    let energy = |at: usize| -> f32 {
        audio[at.min(audio.len())..(at + QUIET_WINDOW_SAMPLES).min(audio.len())]
            .iter()
            .map(|x| x * x)
            .sum()
    };
    window
        .clone()
        .step_by(QUIET_STEP_SAMPLES)
        .min_by(|&a, &b| energy(a).total_cmp(&energy(b)))
        .unwrap_or(window.start)
}

/// Half a raised cosine: 1 at 0, 0 at `length`.
fn fade_down(index: usize, length: usize) -> f32 {
    let phase = index as f32 / length.max(1) as f32;
    0.5 * (1.0 + (std::f32::consts::PI * phase).cos())
}

/// One edit of the audio: the source from `held` to `resume` became the pause, which ends at
/// `resume_out` in the output and starts at `held_out`.
struct Edit {
    tokens: Range<usize>,
    held: usize,
    held_out: usize,
    resume: usize,
    resume_out: usize,
}

/// `speech` with a pause of at least `lengths` at each mark between two words of `phonemes`
/// (the phonemes it was spoken from); the timeline moves with the audio. Unchanged when the
/// lengths are all 0 or there is no such mark.
pub(crate) fn lengthen(speech: Speech, phonemes: &str, lengths: &PauseLengths) -> Speech {
    let phonemes: Vec<char> = phonemes.chars().collect();
    let pauses = pauses_in(&speech.timeline, &phonemes, lengths);
    if pauses.is_empty() {
        return speech;
    }
    let Speech { audio, timeline } = speech;
    let added: usize = pauses.iter().map(|pause| pause.shortest).sum();
    let mut out = Vec::with_capacity(audio.len() + added);
    let mut edits: Vec<Edit> = Vec::with_capacity(pauses.len());
    let mut copied = 0;
    for pause in pauses {
        // The first half of the mark's frames is kept: the vowel the model lengthens before a
        // boundary, which with a gradual decay tells a pause from a geminate closure (っ is a
        // silence too, after a short, abruptly ending vowel).
        let held = pause.start + pause.next_word.saturating_sub(pause.start) / 2;
        let fade_start = held.saturating_sub(FADE_OUT_SAMPLES / 2).max(copied);
        let fade_end = held + FADE_OUT_SAMPLES / 2;
        // A mark too close to the previous resumption, or at the very end, is left as it is.
        if held < copied || fade_end >= audio.len() {
            continue;
        }
        out.extend_from_slice(&audio[copied..fade_start]);
        let fade = fade_end - fade_start;
        out.extend(
            audio[fade_start..fade_end]
                .iter()
                .enumerate()
                .map(|(index, sample)| sample * fade_down(index, fade)),
        );
        let held_out = out.len() - (fade_end - held);
        let search = pause
            .next_word
            .saturating_sub(RESUME_BEFORE_SAMPLES)
            .max(fade_end)
            ..(pause.next_word + RESUME_AFTER_SAMPLES)
                .min(audio.len())
                .max(fade_end + 1);
        let resume = quietest(&audio, search);
        let resume_out = held_out + pause.shortest.max(resume - held);
        out.resize(resume_out, 0.0);
        let fade_in_end = (resume + FADE_IN_SAMPLES).min(audio.len());
        out.extend(
            audio[resume..fade_in_end]
                .iter()
                .enumerate()
                .map(|(index, sample)| sample * (1.0 - fade_down(index, FADE_IN_SAMPLES))),
        );
        edits.push(Edit {
            tokens: pause.tokens,
            held,
            held_out,
            resume,
            resume_out,
        });
        copied = fade_in_end;
    }
    out.extend_from_slice(&audio[copied..]);
    // Source sample → output sample: unchanged before the first edit, shifted after each
    // resumption, and the pause's end for anything inside it.
    let to_out = |sample: usize| -> usize {
        match edits.iter().rev().find(|edit| edit.held < sample) {
            None => sample,
            Some(edit) if sample < edit.resume => edit.resume_out,
            Some(edit) => sample - edit.resume + edit.resume_out,
        }
    };
    let mut tokens: Vec<TimedToken> = timeline
        .tokens
        .into_iter()
        .map(|token| TimedToken {
            phoneme: token.phoneme,
            samples: to_out(token.samples.start)..to_out(token.samples.end),
        })
        .collect();
    // The word before a pause lasts as long as its held vowel; the mark, until the sound
    // resumes; the spaces after it take no time; the next word starts where the sound does (up
    // to 15 ms before its predicted start).
    for edit in &edits {
        let mark = edit.tokens.start;
        tokens[mark - 1].samples.end = edit.held_out;
        tokens[mark].samples = edit.held_out..edit.resume_out;
        for token in &mut tokens[mark + 1..edit.tokens.end] {
            token.samples = edit.resume_out..edit.resume_out;
        }
        if let Some(next_word) = tokens.get_mut(edit.tokens.end) {
            next_word.samples.start = edit.resume_out.min(next_word.samples.end);
        }
    }
    Speech {
        timeline: PhonemeTimeline {
            tokens,
            samples: out.len(),
        },
        audio: out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: usize = 600;

    /// `ma, ta` as the model often speaks it: one held tone through the comma's three frames, and
    /// a pad at each end.
    fn held_vowel_speech() -> (Speech, &'static str) {
        let phonemes = "ma, ta";
        // Tokens: pad, m, a, ',', ' ', t, a, pad; frames 1,2,2,3,0,2,2,1.
        let frames = [
            (None, 1),
            (Some(0), 2),
            (Some(1), 2),
            (Some(2), 3),
            (Some(3), 0),
            (Some(4), 2),
            (Some(5), 2),
            (None, 1),
        ];
        let mut tokens = Vec::new();
        let mut at = 0;
        for (phoneme, count) in frames {
            tokens.push(TimedToken {
                phoneme,
                samples: at..at + count * FRAME,
            });
            at += count * FRAME;
        }
        let audio = (0..at)
            .map(|i| 0.3 * (i as f32 * 0.05).sin())
            .collect::<Vec<f32>>();
        let timeline = PhonemeTimeline {
            tokens,
            samples: at,
        };
        (Speech { audio, timeline }, phonemes)
    }

    fn rms(samples: &[f32]) -> f32 {
        (samples.iter().map(|x| x * x).sum::<f32>() / samples.len().max(1) as f32).sqrt()
    }

    #[test]
    fn a_held_comma_becomes_silence_of_the_asked_length_and_the_words_keep_their_sound() {
        let (speech, phonemes) = held_vowel_speech();
        let source = speech.audio.clone();
        let before = speech.timeline.clone();
        let lengths = PauseLengths {
            comma_ms: 200,
            sentence_ms: 400,
        };
        let paused = lengthen(speech, phonemes, &lengths);
        let vowel = paused.timeline.tokens[2].samples.clone();
        let mark = paused.timeline.tokens[3].samples.clone();
        let t = paused.timeline.tokens[5].samples.clone();
        let (mark_start, next_word) = (
            before.tokens[3].samples.start,
            before.tokens[5].samples.start,
        );
        let held = mark_start + (next_word - mark_start) / 2;
        assert_eq!(
            mark.start, held,
            "the first half of the mark's frames is kept"
        );
        assert_eq!(vowel.end, held, "as the held vowel of the mora before it");
        assert!(
            mark.len() >= 200 * 24 && mark.len() <= 200 * 24 + FRAME,
            "the pause lasts 200 ms: {mark:?}"
        );
        assert_eq!(
            t.start, mark.end,
            "the next word starts where the pause ends"
        );
        // After the fade, silence; before it, the source untouched.
        assert_eq!(
            rms(&paused.audio[held + FADE_OUT_SAMPLES / 2..mark.end]),
            0.0
        );
        let fade_start = held - FADE_OUT_SAMPLES / 2;
        assert!(paused.audio[..fade_start] == source[..fade_start]);
        assert!(rms(&paused.audio[fade_start..held]) < rms(&source[fade_start..held]));
        // After the fade-in, the source as it was: the next word sounds as the model made it.
        let tail =
            source.len() - before.tokens[5].samples.start - RESUME_AFTER_SAMPLES - FADE_IN_SAMPLES;
        assert!(paused.audio[paused.audio.len() - tail..] == source[source.len() - tail..]);
        assert_eq!(paused.audio.len(), paused.timeline.samples);
        assert_eq!(
            paused.timeline.tokens.last().unwrap().samples.end,
            paused.audio.len()
        );
        // The space after the mark takes no time; tokens stay in order.
        assert!(paused.timeline.tokens[4].samples.is_empty());
        for pair in paused.timeline.tokens.windows(2) {
            assert!(pair[0].samples.end <= pair[1].samples.start, "{pair:?}");
        }
    }

    #[test]
    fn lengths_of_zero_and_marks_not_between_words_change_nothing() {
        let (speech, phonemes) = held_vowel_speech();
        let unchanged = lengthen(
            Speech {
                audio: speech.audio.clone(),
                timeline: speech.timeline.clone(),
            },
            phonemes,
            &PauseLengths::MODEL,
        );
        assert!(unchanged.audio == speech.audio);
        assert_eq!(unchanged.timeline, speech.timeline);
        // Only a sentence length: a comma stays as the model spoke it.
        let sentence_only = PauseLengths {
            comma_ms: 0,
            sentence_ms: 300,
        };
        let length = speech.audio.len();
        assert_eq!(
            lengthen(speech, phonemes, &sentence_only).audio.len(),
            length
        );
        // A mark at the end, or followed by a pad (the end of a chunk), is no pause between words.
        let default = PauseLengths::default();
        assert!(default.applied_to("desɨ.").is_empty());
        assert!(default.applied_to(", desɨ").is_empty());
        assert_eq!(default.applied_to("ima, ame"), [("comma", 250)]);
        assert_eq!(default.applied_to("ame desɨ. demo"), [("sentence", 400)]);
        assert_eq!(
            default.applied_to("hai, soː desɨ. doːzo"),
            [("comma", 250), ("sentence", 400)]
        );
        // Consecutive marks are one pause, of the longer kind.
        assert_eq!(default.applied_to("hai?! soː"), [("sentence", 400)]);
        assert!(sentence_only.applied_to("ima, ame.").is_empty());
        assert!(PauseLengths::MODEL.applied_to("ima, ame").is_empty());
    }

    #[test]
    fn the_audio_resumes_at_the_quiet_point_before_a_word() {
        // A closure (silence) 10 ms before the predicted start of the next word: the audio resumes
        // there, so the word's onset is not cut.
        let (mut speech, phonemes) = held_vowel_speech();
        let next_word = speech.timeline.tokens[5].samples.start;
        speech.audio[next_word - 240..next_word - 120].fill(0.0);
        let source = speech.audio.clone();
        let paused = lengthen(speech, phonemes, &PauseLengths::default());
        let resumed = paused.timeline.tokens[3].samples.end;
        let tail = source.len() - (next_word - 240);
        assert!(
            paused.audio[paused.audio.len() - tail + FADE_IN_SAMPLES..]
                == source[source.len() - tail + FADE_IN_SAMPLES..],
            "the audio from the closure on is the source's"
        );
        assert_eq!(resumed, paused.audio.len() - tail);
    }

    #[test]
    fn out_of_range_lengths_are_refused() {
        assert!(PauseLengths::default().check().is_ok());
        let long = PauseLengths {
            comma_ms: MAX_PAUSE_MS + 1,
            sentence_ms: 0,
        };
        assert!(long.check().unwrap_err().contains("comma pause"));
    }
}
