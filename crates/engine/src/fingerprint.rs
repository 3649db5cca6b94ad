//! The fingerprint of an output file: what made it, stored in the file's own tag (`encode.rs`), so
//! that it is written atomically with the audio and survives copying.
//!
//! It holds the phonemes actually spoken (so a dictionary or G2P change counts, not only a text
//! edit), the voice, the speed, the model variant and its pinned SHA-256, the encoding (format,
//! bit rate, sample rate), the loudness target and the padding, the length of each kind of pause
//! the phonemes have between words, plus [`PIPELINE_VERSION`]. A file
//! whose stored fingerprint equals the one a task would write now is current; otherwise
//! [`Fingerprint::changes`] says what differs. A file with no fingerprint (written before
//! fingerprints existed, or by another tool) is [`Freshness::Unfingerprinted`]: callers keep it
//! unless told to force.
//!
//! Stored as one line of JSON, e.g.
//! `{"bitrate_kbps":48,"format":"mp3","kokoro-pool":1,"loudness_lufs":-16.0,"model":"untouched",
//! "model_sha256":"6e74…","pad_ms":50,"phonemes":"tabeɾɯ","sample_rate":24000,"speed":1.0,"voice":"jf_alpha"}`.

use crate::assets::{AssetPaths, ModelVariant};
use crate::encode::read_comment;
use crate::engine::phonemize_with;
use crate::error::TaskErrorKind;
use crate::render::{OutputOptions, OutputSpec};
use crate::synthesis::phonemes_to_speak;
use crate::task::Task;
use ja_g2p::UserDictionary;
use serde_json::{Map, Value, json};
use std::path::Path;

/// Changes whenever the same inputs would give different audio (trimming, joining, encoders'
/// settings): every file made by an older pipeline then counts as changed.
pub const PIPELINE_VERSION: u32 = 1;
/// The key that marks a comment as a kokoro-pool fingerprint, holding [`PIPELINE_VERSION`].
const VERSION_KEY: &str = "kokoro-pool";

/// What made one file.
#[derive(Debug, Clone, PartialEq)]
pub struct Fingerprint(Map<String, Value>);

/// What one file's synthesis consists of.
#[derive(Debug, Clone, Copy)]
pub struct Recipe<'a> {
    pub phonemes: &'a str,
    pub voice: &'a str,
    pub speed: f32,
    pub model: ModelVariant,
    pub model_sha256: &'a str,
    pub output: &'a OutputSpec,
}

impl Fingerprint {
    pub fn new(recipe: &Recipe) -> Fingerprint {
        let encoding = &recipe.output.encoding;
        // Through its shortest decimal form: 0.9f32 is stored as 0.9, not 0.8999999761581421.
        let speed: f64 = recipe.speed.to_string().parse().unwrap_or(1.0);
        let Value::Object(mut fields) = json!({
            VERSION_KEY: PIPELINE_VERSION,
            "phonemes": recipe.phonemes,
            "voice": recipe.voice,
            "speed": speed,
            "model": recipe.model.name(),
            "model_sha256": recipe.model_sha256,
            "format": encoding.format.name(),
            "bitrate_kbps": encoding.bitrate_kbps,
            "sample_rate": encoding.sample_rate,
            "loudness_lufs": recipe.output.loudness_lufs,
            "pad_ms": recipe.output.pad_ms,
        }) else {
            unreachable!("json! of an object literal is an object")
        };
        let pauses = recipe.output.pauses.applied_to(recipe.phonemes);
        if !pauses.is_empty() {
            let lengths: Map<String, Value> = pauses
                .into_iter()
                .map(|(mark, ms)| (mark.to_string(), ms.into()))
                .collect();
            fields.insert("pause_ms".to_string(), Value::Object(lengths));
        }
        Fingerprint(fields)
    }

    /// The text stored in the file.
    pub fn to_text(&self) -> String {
        Value::Object(self.0.clone()).to_string()
    }

    /// A stored text; `None` when it is not a kokoro-pool fingerprint.
    pub fn parse(text: &str) -> Option<Fingerprint> {
        match serde_json::from_str(text) {
            Ok(Value::Object(fields)) if fields.contains_key(VERSION_KEY) => {
                Some(Fingerprint(fields))
            }
            _ => None,
        }
    }

    /// Why a file fingerprinted `stored` is not what `self` would write: e.g. `phonemes changed`,
    /// `voice changed`; empty when they are equal.
    pub fn changes(&self, stored: &Fingerprint) -> Vec<String> {
        let mut reasons: Vec<String> = Vec::new();
        let keys = self
            .0
            .keys()
            .chain(stored.0.keys().filter(|key| !self.0.contains_key(*key)));
        for key in keys {
            if self.0.get(key) != stored.0.get(key) {
                let what = match key.as_str() {
                    VERSION_KEY => "pipeline",
                    "model" | "model_sha256" => "model",
                    "bitrate_kbps" => "bitrate",
                    "sample_rate" => "sample rate",
                    "loudness_lufs" => "loudness",
                    "pad_ms" => "padding",
                    "pause_ms" => "pauses",
                    other => other,
                };
                let reason = format!("{what} changed");
                if !reasons.contains(&reason) {
                    reasons.push(reason);
                }
            }
        }
        reasons
    }
}

/// Whether an output file is what a task would write now.
#[derive(Debug, Clone, PartialEq)]
pub enum Freshness {
    /// No file at the path.
    Missing,
    /// A file without a kokoro-pool fingerprint: kept unless forced.
    Unfingerprinted,
    /// Its fingerprint is the one the task would write.
    Current,
    /// Its fingerprint differs; why (`phonemes changed`, …), or `unreadable: …`.
    Changed { reasons: Vec<String> },
}

impl Freshness {
    /// What a run that regenerates only changed files does with it.
    pub fn needs_generating(&self) -> bool {
        matches!(self, Freshness::Missing | Freshness::Changed { .. })
    }
}

/// The freshness of the file at `path` against the fingerprint `expected` computes, which is
/// only called (it runs the G2P) when the file has a fingerprint to compare with.
pub fn freshness<E>(
    path: &Path,
    expected: impl FnOnce() -> Result<Fingerprint, E>,
) -> Result<Freshness, E> {
    if !path.is_file() {
        return Ok(Freshness::Missing);
    }
    let stored = match read_comment(path) {
        Ok(Some(text)) => match Fingerprint::parse(&text) {
            Some(stored) => stored,
            None => return Ok(Freshness::Unfingerprinted),
        },
        Ok(None) => return Ok(Freshness::Unfingerprinted),
        Err(error) => {
            return Ok(Freshness::Changed {
                reasons: vec![format!("unreadable: {error}")],
            });
        }
    };
    let reasons = expected()?.changes(&stored);
    Ok(if reasons.is_empty() {
        Freshness::Current
    } else {
        Freshness::Changed { reasons }
    })
}

/// The freshness of `task`'s output as a pool with `default_voice` and `output` on `model` judges
/// it, without loading the model: the pool's own check, and the CLI's plan and dry run.
/// Blocking (G2P, when the file has a fingerprint).
pub fn task_freshness(
    assets: &AssetPaths,
    model: ModelVariant,
    default_voice: &str,
    output: &OutputOptions,
    user_dictionary: Option<&UserDictionary>,
    task: &Task,
) -> Result<Freshness, TaskErrorKind> {
    let spec = output
        .spec_for(&task.output_path)
        .map_err(|cause| TaskErrorKind::Output {
            path: task.output_path.clone(),
            cause,
        })?;
    freshness(&task.output_path, || {
        let phonemes = phonemes_to_speak(&task.text, task.phonemes.as_deref(), |text| {
            phonemize_with(assets, text, user_dictionary)
        })?;
        let voice = task.voice.as_deref().unwrap_or(default_voice);
        fingerprint_of(&phonemes, voice, task.speed.unwrap_or(1.0), model, &spec)
    })
}

/// The fingerprint of a file speaking `phonemes` with `voice` at `speed` on `model`, as `spec`.
pub(crate) fn fingerprint_of(
    phonemes: &str,
    voice: &str,
    speed: f32,
    model: ModelVariant,
    spec: &OutputSpec,
) -> Result<Fingerprint, TaskErrorKind> {
    let model_sha256 = model
        .pinned_sha256()
        .map_err(|error| TaskErrorKind::Internal {
            cause: error.to_string(),
        })?;
    Ok(Fingerprint::new(&Recipe {
        phonemes,
        voice,
        speed,
        model,
        model_sha256: &model_sha256,
        output: spec,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::{AudioFormat, Encoding};
    use crate::pauses::PauseLengths;

    fn spec(format: AudioFormat) -> OutputSpec {
        OutputSpec {
            encoding: Encoding::new(format, None, 24_000).unwrap(),
            loudness_lufs: None,
            pad_ms: 50,
            pauses: PauseLengths::default(),
        }
    }

    fn recipe<'a>(phonemes: &'a str, voice: &'a str, output: &'a OutputSpec) -> Recipe<'a> {
        Recipe {
            phonemes,
            voice,
            speed: 0.9,
            model: ModelVariant::Untouched,
            model_sha256: "ab12",
            output,
        }
    }

    #[test]
    fn the_text_round_trips_and_names_every_ingredient() {
        let output = spec(AudioFormat::Mp3);
        let fingerprint = Fingerprint::new(&recipe("tabeɾɯ", "jf_alpha", &output));
        let text = fingerprint.to_text();
        for part in [
            "\"phonemes\":\"tabeɾɯ\"",
            "\"voice\":\"jf_alpha\"",
            "\"speed\":0.9",
            "\"model\":\"untouched\"",
            "\"model_sha256\":\"ab12\"",
            "\"format\":\"mp3\"",
            "\"bitrate_kbps\":48",
            "\"sample_rate\":24000",
            "\"loudness_lufs\":null",
            "\"pad_ms\":50",
            "\"kokoro-pool\":1",
        ] {
            assert!(text.contains(part), "{part} in {text}");
        }
        assert_eq!(Fingerprint::parse(&text), Some(fingerprint));
        assert_eq!(Fingerprint::parse("a comment someone wrote"), None);
        assert_eq!(Fingerprint::parse("{\"title\":\"x\"}"), None);
    }

    #[test]
    fn changes_name_what_differs() {
        let mp3 = spec(AudioFormat::Mp3);
        let opus = spec(AudioFormat::Opus);
        let stored = Fingerprint::new(&recipe("tabeɾɯ", "jf_alpha", &mp3));
        assert!(stored.changes(&stored).is_empty());
        let edited = Fingerprint::new(&recipe("nomɯ", "jm_kumo", &mp3));
        assert_eq!(
            edited.changes(&stored),
            ["phonemes changed", "voice changed"]
        );
        let reencoded = Fingerprint::new(&recipe("tabeɾɯ", "jf_alpha", &opus));
        assert_eq!(
            reencoded.changes(&stored),
            ["bitrate changed", "format changed"]
        );
        let louder = OutputSpec {
            loudness_lufs: Some(-16.0),
            ..mp3
        };
        let normalised = Fingerprint::new(&recipe("tabeɾɯ", "jf_alpha", &louder));
        assert_eq!(normalised.changes(&stored), ["loudness changed"]);
    }

    #[test]
    fn pause_lengths_count_only_for_the_marks_between_words_the_phonemes_have() {
        let default = spec(AudioFormat::Wav);
        let with = |comma_ms, sentence_ms| OutputSpec {
            pauses: PauseLengths {
                comma_ms,
                sentence_ms,
            },
            ..default
        };
        let (longer_comma, longer_sentence) = (with(300, 400), with(250, 600));
        let with_comma = |output| Fingerprint::new(&recipe("ima, ame", "jf_alpha", output));
        assert!(
            with_comma(&default)
                .to_text()
                .contains("\"pause_ms\":{\"comma\":250}")
        );
        assert_eq!(
            with_comma(&longer_comma).changes(&with_comma(&default)),
            ["pauses changed"]
        );
        assert!(
            with_comma(&longer_sentence)
                .changes(&with_comma(&default))
                .is_empty(),
            "a sentence length does not change a file with only a comma"
        );
        let word = |output| Fingerprint::new(&recipe("tabeɾɯ.", "jf_alpha", output));
        assert!(!word(&default).to_text().contains("pause_ms"));
        assert!(word(&longer_comma).changes(&word(&default)).is_empty());
    }
}
