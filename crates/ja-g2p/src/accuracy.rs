//! Scoring readings, shared by the tests and the `g2p-report` binary:
//! - against hand-written kana (`tests/data/readings_*.tsv`: text, reading in katakana with `|`
//!   between accepted alternatives), compared as phonemes without spaces or punctuation;
//! - against the reference implementation's phonemes (`tests/data/ja_g2p_reference_*.json`),
//!   where `corrections.json` lists the texts the reference reads wrongly.
use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use crate::JaG2p;
use crate::romanize::{Morph, assimilate_nasals_across_words};

/// One hand-written reading.
pub struct ReadingCase {
    pub line: usize,
    pub text: String,
    /// Accepted readings in katakana.
    pub readings: Vec<String>,
    pub category: String,
}

/// Result of scoring a set of texts.
#[derive(Default)]
pub struct Score {
    pub total: usize,
    pub right: usize,
    /// Of `right`, texts where we differ from the reference on purpose (corrections.json).
    pub corrected: usize,
    /// One line per text we read wrongly.
    pub misses: Vec<String>,
}

impl Score {
    pub fn percent(&self) -> f64 {
        100.0 * self.right as f64 / self.total.max(1) as f64
    }
}

/// Reads a `text<TAB>reading<TAB>category<TAB>note` file with a header line.
pub fn read_cases(path: &Path) -> Result<Vec<ReadingCase>, String> {
    let content = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut cases = Vec::new();
    for (index, line) in content.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let mut fields = line.split('\t');
        let (Some(text), Some(readings)) = (fields.next(), fields.next()) else {
            return Err(format!(
                "{}:{}: expected text<TAB>reading",
                path.display(),
                index + 1
            ));
        };
        cases.push(ReadingCase {
            line: index + 1,
            text: text.to_string(),
            readings: readings.split('|').map(str::to_string).collect(),
            category: fields.next().unwrap_or_default().to_string(),
        });
    }
    Ok(cases)
}

/// Phonemes with spaces and punctuation removed, and the moraic nasal written as one symbol
/// whatever its place (hand-written ン has none; ours takes the place of the next sound, which a
/// pause may remove): what is compared with a hand-written reading.
fn spoken_sounds(phonemes: &str) -> String {
    let sounds: Vec<char> = phonemes
        .chars()
        .filter(|c| c.is_alphabetic() || "ːʔ".contains(*c))
        .collect();
    let is_syllable_onset = |next: Option<&char>| next.is_some_and(|c| "aiɯeoɨʲː".contains(*c));
    sounds
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let is_moraic_nasal = "mnŋɲɴ".contains(c) && !is_syllable_onset(sounds.get(i + 1));
            if is_moraic_nasal { 'ɴ' } else { c }
        })
        .collect()
}

/// Scores `phonemes_of(text)` against hand-written kana readings.
pub fn score_readings(
    g2p: &JaG2p,
    cases: &[ReadingCase],
    phonemes_of: impl Fn(&str) -> Result<String, String>,
) -> Score {
    let mut score = Score {
        total: cases.len(),
        ..Score::default()
    };
    for case in cases {
        let expected: Vec<String> = case
            .readings
            .iter()
            .map(|kana| spoken_sounds(&g2p.romanizer.phonemize(&[Morph::word(kana)])))
            .collect();
        match phonemes_of(&case.text) {
            Ok(got) if expected.contains(&spoken_sounds(&got)) => score.right += 1,
            got => score.misses.push(format!(
                "line {} [{}] {}: want {}, got {:?}",
                case.line,
                case.category,
                case.text,
                case.readings.join("|"),
                got.unwrap_or_else(|e| format!("ERROR: {e}"))
            )),
        }
    }
    score
}

fn read_json_array(path: &Path) -> Result<Vec<Value>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    match serde_json::from_str(&text) {
        Ok(Value::Array(items)) => Ok(items),
        Ok(_) => Err(format!("{}: expected a JSON array", path.display())),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn field<'a>(item: &'a Value, name: &str) -> &'a str {
    item[name].as_str().unwrap_or_default()
}

/// The reference's phonemes as we compare them: without misaki's « » (Kokoro has no id for
/// them), and with our cross-word nasal assimilation applied (本が: the reference's hoɴ ɡa is
/// our hoŋ ɡa), so that only differences of reading count.
pub fn comparable_reference(phonemes: &str) -> String {
    let words: Vec<&str> = phonemes.split_whitespace().collect();
    assimilate_nasals_across_words(&words.join(" ").replace(['«', '»'], ""))
}

/// Texts where the reference reads wrongly: text -> (reference phonemes, ours).
pub struct Corrections(HashMap<String, (String, String)>);

impl Corrections {
    pub fn load(path: &Path) -> Result<Self, String> {
        Ok(Self(
            read_json_array(path)?
                .iter()
                .map(|c| {
                    let pair = (
                        comparable_reference(field(c, "reference")),
                        field(c, "ours").to_string(),
                    );
                    (field(c, "text").to_string(), pair)
                })
                .collect(),
        ))
    }
}

/// Scores `g2p` against a reference file (`[{text, phonemes}]`).
pub fn score_reference(
    g2p: &JaG2p,
    path: &Path,
    corrections: &Corrections,
) -> Result<Score, String> {
    let items = read_json_array(path)?;
    let mut score = Score {
        total: items.len(),
        ..Score::default()
    };
    for item in &items {
        let text = field(item, "text");
        let want = comparable_reference(field(item, "phonemes"));
        let got = g2p
            .phonemize(text)
            .unwrap_or_else(|e| format!("ERROR: {e}"));
        if got == want {
            score.right += 1;
        } else if corrections
            .0
            .get(text)
            .is_some_and(|(reference, ours)| *reference == want && *ours == got)
        {
            score.right += 1;
            score.corrected += 1;
        } else {
            score
                .misses
                .push(format!("{text}\n    ref: {want}\n    got: {got}"));
        }
    }
    Ok(score)
}
