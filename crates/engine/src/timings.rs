//! Captions: when each word, mora and pause of a task's text is spoken in its file, from the
//! G2P's alignment (`ja_g2p::Alignment`: text → words → morae → phonemes) and the model's
//! predicted durations ([`PhonemeTimeline`]: phonemes → samples of the file as written).
//!
//! The sidecar `<output>.timings.json` holds [`Timings`] as JSON (schema in docs/timings.md).

use crate::timeline::{PhonemeTimeline, seconds};

use ja_g2p::Alignment;
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Version of the JSON schema, raised when a field changes meaning.
pub const TIMINGS_SCHEMA_VERSION: u32 = 1;

/// When each part of a task's text is spoken, in seconds from the start of its file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Timings {
    pub version: u32,
    /// The task's text as given (character offsets count its Unicode scalar values).
    pub text: String,
    /// The file's length in seconds.
    pub duration: f64,
    /// Words and pauses in spoken order.
    pub segments: Vec<TimedSegment>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SegmentKind {
    /// A word (a dictionary word, a number with its counter).
    Word,
    /// A punctuation mark the model pauses at (、。？！…), until the next word starts.
    Pause,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimedSegment {
    pub kind: SegmentKind,
    /// The characters of the text it was read from (`text[charStart..charEnd]`).
    pub text: String,
    pub char_start: usize,
    pub char_end: usize,
    /// Its reading in katakana (a pause: the mark).
    pub kana: String,
    pub start: f64,
    pub end: f64,
    /// One per mora of `kana`; a pause has one.
    pub morae: Vec<TimedMora>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimedMora {
    pub kana: String,
    /// The Kokoro phonemes spoken for it.
    pub phonemes: String,
    pub start: f64,
    pub end: f64,
}

/// Seconds to the tenth of a millisecond (a sample is 0.04 ms; a frame 25 ms).
fn rounded(seconds: f64) -> f64 {
    (seconds * 10_000.0).round() / 10_000.0
}

/// Where the timings of the file at `output_path` go.
pub fn sidecar_path(output_path: &Path) -> PathBuf {
    let mut name = output_path.as_os_str().to_owned();
    name.push(".timings.json");
    PathBuf::from(name)
}

impl Timings {
    /// The timings of `text`, read as `alignment`, spoken as `timeline`. Without an alignment
    /// (a task given phonemes) only the duration is known.
    pub fn new(text: &str, alignment: Option<&Alignment>, timeline: &PhonemeTimeline) -> Timings {
        let empty = Alignment {
            phonemes: String::new(),
            words: Vec::new(),
        };
        let alignment = alignment.unwrap_or(&empty);
        let chars: Vec<char> = text.chars().collect();
        let phonemes: Vec<char> = alignment.phonemes.chars().collect();
        let mut segments = Vec::with_capacity(alignment.words.len());
        // A mora without tokens of its own (none here so far) sits where the previous one ended.
        let mut previous_end = 0;
        let mut samples_of = |range: &Range<usize>| -> Range<usize> {
            let samples = timeline
                .span_of(range.clone())
                .unwrap_or(previous_end..previous_end);
            previous_end = samples.end;
            samples
        };
        for word in &alignment.words {
            let morae: Vec<TimedMora> = word
                .morae
                .iter()
                .map(|mora| {
                    let samples = samples_of(&mora.phonemes);
                    TimedMora {
                        kana: mora.kana.clone(),
                        phonemes: phonemes[mora.phonemes.clone()].iter().collect(),
                        start: rounded(seconds(samples.start)),
                        end: rounded(seconds(samples.end)),
                    }
                })
                .collect();
            let (Some(first), Some(last)) = (morae.first(), morae.last()) else {
                continue;
            };
            segments.push(TimedSegment {
                kind: if word.is_punctuation {
                    SegmentKind::Pause
                } else {
                    SegmentKind::Word
                },
                text: chars[word.text.clone()].iter().collect(),
                char_start: word.text.start,
                char_end: word.text.end,
                kana: word.kana.clone(),
                start: first.start,
                end: last.end,
                morae,
            });
        }
        // A pause lasts until the next word, the last one until the end of the file: the spaces
        // after a mark and the silence after the speech are part of it.
        let duration = rounded(timeline.seconds());
        let starts: Vec<f64> = segments.iter().skip(1).map(|s| s.start).collect();
        for (pause, next_start) in segments
            .iter_mut()
            .zip(starts.into_iter().chain([duration]))
        {
            if pause.kind == SegmentKind::Pause && pause.end < next_start {
                pause.end = next_start;
                if let Some(mora) = pause.morae.last_mut() {
                    mora.end = next_start;
                }
            }
        }
        Timings {
            version: TIMINGS_SCHEMA_VERSION,
            text: text.to_string(),
            duration,
            segments,
        }
    }

    /// The sidecar's bytes: pretty JSON, one field a line.
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising plain strings and numbers cannot fail.
        let mut json = serde_json::to_vec_pretty(self).unwrap_or_default();
        json.push(b'\n');
        json
    }
}

/// What [`check_against_audio`] measured: for each pause between two words, the RMS of the
/// audio in the pause and in the words on either side of it.
#[derive(Debug, Clone, PartialEq)]
pub struct PauseLevels {
    pub pause: String,
    pub start: f64,
    pub end: f64,
    pub rms: f64,
    pub before_rms: f64,
    pub after_rms: f64,
}

/// Checks `timings` against the audio they describe, trusting nothing the model said: times in
/// order and inside the file, the file as long as they say, one mora entry per mora of the kana
/// (counted here from the kana). Returns the levels measured at each pause between two words
/// ([`PauseLevels::is_quiet`]: whether the audio pauses there), or the first problem found.
pub fn check_against_audio(
    timings: &Timings,
    audio: &[f32],
    sample_rate: u32,
) -> Result<Vec<PauseLevels>, String> {
    let rate = f64::from(sample_rate);
    let file_seconds = audio.len() as f64 / rate;
    // Rounding to 0.1 ms: a tolerance of half of it plus a sample.
    let slack = 0.000_05 + 1.0 / rate;
    if (timings.duration - file_seconds).abs() > slack {
        return Err(format!(
            "duration {} s, the file lasts {file_seconds} s",
            timings.duration
        ));
    }
    let mut last_start = 0.0;
    for segment in &timings.segments {
        let name = &segment.text;
        if segment.start < last_start - slack || segment.start > segment.end + slack {
            return Err(format!(
                "{name:?} at {}-{} after {last_start}",
                segment.start, segment.end
            ));
        }
        if segment.end > timings.duration + slack {
            return Err(format!("{name:?} ends at {} after the file", segment.end));
        }
        last_start = segment.start;
        let mut mora_at = segment.start;
        for mora in &segment.morae {
            if mora.start < mora_at - slack
                || mora.start > mora.end + slack
                || mora.end > segment.end + slack
            {
                return Err(format!(
                    "{name:?}: mora {:?} at {}-{} after {mora_at}",
                    mora.kana, mora.start, mora.end
                ));
            }
            mora_at = mora.end;
        }
        let expected_morae = match segment.kind {
            SegmentKind::Pause => 1,
            SegmentKind::Word => segment
                .kana
                .chars()
                .filter(|c| !"ゃゅょぁぃぅぇぉゎャュョァィゥェォヮ".contains(*c))
                .count(),
        };
        if segment.morae.len() != expected_morae {
            return Err(format!(
                "{name:?} ({}) has {} mora entries, its kana {expected_morae} morae",
                segment.kana,
                segment.morae.len()
            ));
        }
    }
    let level = |start: f64, end: f64| -> f64 {
        let first = ((start * rate) as usize).min(audio.len());
        let last = ((end * rate) as usize).clamp(first, audio.len());
        let window = &audio[first..last];
        (window.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / window.len().max(1) as f64)
            .sqrt()
    };
    let mut pauses = Vec::new();
    for (index, segment) in timings.segments.iter().enumerate() {
        let (Some(before), Some(after)) = (
            index.checked_sub(1).and_then(|i| timings.segments.get(i)),
            timings.segments.get(index + 1),
        ) else {
            continue;
        };
        if segment.kind != SegmentKind::Pause
            || before.kind != SegmentKind::Word
            || after.kind != SegmentKind::Word
        {
            continue;
        }
        let measured = PauseLevels {
            pause: segment.text.clone(),
            start: segment.start,
            end: segment.end,
            rms: level(segment.start, segment.end),
            before_rms: level(before.start, before.end),
            after_rms: level(after.start, after.end),
        };
        pauses.push(measured);
    }
    Ok(pauses)
}

/// A pause is quieter than this share of the RMS of the word on either side of it.
const PAUSE_LEVEL_RATIO: f64 = 0.5;

impl PauseLevels {
    /// The audio pauses where the timings put the mark: its RMS there is under half that of the
    /// word on either side. Words, not their nearest morae: a devoiced or fricative mora (ひ çi,
    /// す sɨ) is nearly as quiet as a pause, and the check would measure it instead.
    pub fn is_quiet(&self) -> bool {
        self.rms < PAUSE_LEVEL_RATIO * self.before_rms.min(self.after_rms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pauses::PauseLengths;
    use crate::render::OutputOptions;
    use crate::scheduler::{Pool, PoolConfig};
    use crate::task::{Task, TaskOutcome};
    use crate::test_support::{engine, scratch_dir};

    /// Speaks each text with timings; returns, per text, the timings and the samples read back.
    async fn speak(dir: &Path, texts: &[&str]) -> Vec<(Timings, Vec<f32>)> {
        speak_with_pauses(dir, texts, PauseLengths::default()).await
    }

    async fn speak_with_pauses(
        dir: &Path,
        texts: &[&str],
        pauses: PauseLengths,
    ) -> Vec<(Timings, Vec<f32>)> {
        let pool = Pool::new(
            engine(),
            PoolConfig {
                timings: true,
                output: OutputOptions {
                    pauses,
                    ..OutputOptions::default()
                },
                ..PoolConfig::default()
            },
        )
        .unwrap();
        let tasks = texts
            .iter()
            .enumerate()
            .map(|(index, text)| Task {
                id: format!("t{index}"),
                text: text.to_string(),
                output_path: dir.join(format!("t{index}.wav")),
                voice: None,
                speed: None,
                phonemes: None,
                timings: None,
            })
            .collect();
        pool.add_tasks(tasks).unwrap();
        let report = pool.process(|_| {}).await.unwrap();
        report
            .tasks
            .into_iter()
            .map(|task| {
                let TaskOutcome::Generated {
                    timings: Some(timings),
                    ..
                } = task.outcome
                else {
                    panic!("{}: {:?}", task.id, task.outcome);
                };
                let sidecar: serde_json::Value = serde_json::from_slice(
                    &std::fs::read(sidecar_path(&task.output_path)).unwrap(),
                )
                .unwrap();
                assert_eq!(
                    sidecar,
                    serde_json::to_value(&*timings).unwrap(),
                    "the sidecar holds the result's timings"
                );
                let mut reader = hound::WavReader::open(&task.output_path).unwrap();
                assert_eq!(reader.spec().sample_rate, crate::audio::SAMPLE_RATE);
                let samples = reader
                    .samples::<i16>()
                    .map(|s| f32::from(s.unwrap()) / 32768.0)
                    .collect();
                (*timings, samples)
            })
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn timings_follow_the_audio_and_pause_at_the_comma() {
        let dir = scratch_dir("timings");
        let spoken = speak(&dir, &["本", "学校で、本を読みます。"]).await;
        let (alone, alone_audio) = &spoken[0];
        let (sentence, sentence_audio) = &spoken[1];
        check_against_audio(alone, alone_audio, crate::audio::SAMPLE_RATE).unwrap();
        let pauses =
            check_against_audio(sentence, sentence_audio, crate::audio::SAMPLE_RATE).unwrap();
        assert_eq!(pauses.len(), 1, "one 、 between words: {sentence:?}");
        assert!(pauses[0].is_quiet(), "the audio pauses at 、: {pauses:?}");
        let words: Vec<(&str, &str)> = sentence
            .segments
            .iter()
            .map(|s| (s.text.as_str(), s.kana.as_str()))
            .collect();
        assert_eq!(words[0], ("学校", "ガッコー"));
        assert!(
            words.contains(&("、", "、")) && words.contains(&("本", "ホン")),
            "{words:?}"
        );
        let last = sentence.segments.last().unwrap();
        assert_eq!(last.text, "。");
        assert!(
            last.end == sentence.duration && last.start < last.end,
            "the final 。 lasts until the end of the file: {last:?}"
        );
        let length = |timings: &Timings| {
            let word = timings.segments.iter().find(|s| s.text == "本").unwrap();
            word.end - word.start
        };
        let ratio = length(alone) / length(sentence);
        assert!(
            (0.5..=2.5).contains(&ratio),
            "本 alone {} s, in the sentence {} s",
            length(alone),
            length(sentence)
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_comma_gets_its_pause_and_the_words_keep_their_length() {
        // Kokoro glides through this comma (imaa ame) when left alone.
        let text = "今、雨が降っています。";
        let dir = scratch_dir("pauses");
        let paused = speak_with_pauses(&dir.join("paused"), &[text], PauseLengths::default()).await;
        let model = speak_with_pauses(&dir.join("model"), &[text], PauseLengths::MODEL).await;
        let (paused, paused_audio) = &paused[0];
        let (model, model_audio) = &model[0];
        let levels = check_against_audio(paused, paused_audio, crate::audio::SAMPLE_RATE).unwrap();
        let as_spoken = check_against_audio(model, model_audio, crate::audio::SAMPLE_RATE).unwrap();
        eprintln!("at 、 with pauses: {levels:?}\nas the model speaks: {as_spoken:?}");
        assert_eq!(levels.len(), 1, "{paused:?}");
        assert!(levels[0].is_quiet(), "the audio pauses at 、: {levels:?}");
        let comma = &levels[0];
        assert!(
            comma.end - comma.start >= 0.2499,
            "at least 250 ms of pause: {comma:?}"
        );
        let model_comma = &as_spoken[0];
        // The same speech around the pause: each word as long as the model made it, within the
        // 15 ms before or 5 ms after its predicted start where the audio may resume; the word
        // before the mark keeps the first half of the mark's frames, its held vowel.
        let words = |timings: &Timings| -> Vec<(String, f64)> {
            timings
                .segments
                .iter()
                .filter(|s| s.kind == SegmentKind::Word)
                .map(|s| (s.text.clone(), s.end - s.start))
                .collect()
        };
        let (with_pause, without) = (words(paused), words(model));
        assert_eq!(with_pause.len(), without.len());
        for ((word, paused_length), (_, model_length)) in with_pause.iter().zip(&without) {
            let held = if word == "今" {
                (model_comma.end - model_comma.start) / 2.0
            } else {
                0.0
            };
            assert!(
                (paused_length - model_length - held).abs() <= 0.0155,
                "{word}: {paused_length} s with the pause, {model_length} s without"
            );
        }
        assert!(paused.duration > model.duration);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
