//! Authors' own readings: a UTF-8 CSV of `surface,reading[,priority]` rows (reading in katakana
//! or hiragana; priority 1–10, default 10; `#` starts a comment line) that goes into the
//! analyser as a real user dictionary, so the word is found inside any sentence.
//!
//! Rows become naist-jdic entries as VOICEVOX's user dictionary makes them: a proper noun
//! (context id 1348 of naist-jdic's left-id.def) whose cost falls as the priority rises.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::frontend::reading_to_pronunciation;
use crate::reading_rules::hiragana_to_katakana;

/// naist-jdic's context id of 名詞,固有名詞,一般.
const PROPER_NOUN_CONTEXT_ID: &str = "1348";
/// MeCab word costs for priorities 10 (index 0) down to 0, as VOICEVOX maps them for proper
/// nouns: priority 10 wins against dictionary words of the same span.
const COST_BY_PRIORITY: [i32; 11] = [
    -988, 3488, 4768, 6048, 7328, 8609, 8734, 8859, 8984, 9110, 14176,
];
const DEFAULT_PRIORITY: u8 = 10;

/// Why a user dictionary could not be loaded: `file:line: problem` for each bad row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserDictionaryError {
    #[error("cannot read user dictionary {}: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
    #[error("user dictionary {}: {}", path.display(), problems.join("; "))]
    BadRows {
        path: PathBuf,
        /// `line N: problem`, in file order.
        problems: Vec<String>,
    },
}

/// One author's word.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserWord {
    pub surface: String,
    /// Katakana.
    pub reading: String,
    pub priority: u8,
}

/// A parsed user dictionary; [`crate::JaG2p::with_user_dictionary`] loads it into the analyser.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserDictionary {
    pub source: PathBuf,
    pub words: Vec<UserWord>,
}

impl UserDictionary {
    pub fn from_file(path: &Path) -> Result<Self, UserDictionaryError> {
        let content =
            std::fs::read_to_string(path).map_err(|e| UserDictionaryError::Unreadable {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        Self::parse(path, &content)
    }

    /// Parses CSV `content`; `source` names it in errors. Every bad row is reported, and none
    /// is loaded unless all are good.
    pub fn parse(source: &Path, content: &str) -> Result<Self, UserDictionaryError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .comment(Some(b'#'))
            .trim(csv::Trim::All)
            .from_reader(content.as_bytes());
        let mut words = Vec::new();
        let mut problems = Vec::new();
        let mut first_line: HashMap<String, u64> = HashMap::new();
        for record in reader.records() {
            let record = match record {
                Ok(record) => record,
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line());
                    problems.push(format!("line {line}: {e}"));
                    continue;
                }
            };
            let line = record.position().map_or(0, |p| p.line());
            if record.iter().all(str::is_empty) {
                continue;
            }
            match parse_row(&record) {
                Ok(word) => {
                    if let Some(first) = first_line.insert(word.surface.clone(), line) {
                        problems.push(format!(
                            "line {line}: {:?} is already on line {first}",
                            word.surface
                        ));
                    }
                    words.push(word);
                }
                Err(problem) => problems.push(format!("line {line}: {problem}")),
            }
        }
        if !problems.is_empty() {
            return Err(UserDictionaryError::BadRows {
                path: source.to_path_buf(),
                problems,
            });
        }
        Ok(UserDictionary {
            source: source.to_path_buf(),
            words,
        })
    }

    /// The rows in the system dictionary's CSV schema, for jpreprocess's user-dictionary builder.
    pub(crate) fn mecab_rows(&self) -> Vec<Vec<String>> {
        self.words
            .iter()
            .map(|word| {
                let pronunciation = reading_to_pronunciation(&word.reading);
                let morae = pronunciation
                    .chars()
                    .filter(|c| !"ャュョァィゥェォヮ".contains(*c))
                    .count();
                let cost = COST_BY_PRIORITY[usize::from(10 - word.priority)];
                [
                    word.surface.as_str(),
                    PROPER_NOUN_CONTEXT_ID,
                    PROPER_NOUN_CONTEXT_ID,
                    &cost.to_string(),
                    "名詞",
                    "固有名詞",
                    "一般",
                    "*",
                    "*",
                    "*",
                    word.surface.as_str(),
                    word.reading.as_str(),
                    &pronunciation,
                    &format!("0/{morae}"),
                    "*",
                    "-1",
                ]
                .map(str::to_string)
                .to_vec()
            })
            .collect()
    }
}

fn parse_row(record: &csv::StringRecord) -> Result<UserWord, String> {
    if !(2..=3).contains(&record.len()) {
        return Err(format!(
            "expected surface,reading[,priority], found {} fields",
            record.len()
        ));
    }
    let surface = &record[0];
    let reading = &record[1];
    if surface.is_empty() {
        return Err("empty surface".into());
    }
    if surface.chars().any(char::is_whitespace) {
        return Err(format!("surface {surface:?} contains whitespace"));
    }
    if reading.is_empty() {
        return Err(format!("empty reading for {surface:?}"));
    }
    let is_kana = |c: char| ('ぁ'..='ゖ').contains(&c) || ('ァ'..='ヺ').contains(&c) || c == 'ー';
    if let Some(bad) = reading.chars().find(|&c| !is_kana(c)) {
        return Err(format!(
            "reading {reading:?} of {surface:?} must be katakana or hiragana, found {bad:?}"
        ));
    }
    let priority = match record.get(2).filter(|p| !p.is_empty()) {
        None => DEFAULT_PRIORITY,
        Some(p) => p
            .parse::<u8>()
            .ok()
            .filter(|p| (1..=10).contains(p))
            .ok_or_else(|| {
                format!("priority {p:?} of {surface:?} must be a whole number from 1 to 10")
            })?,
    };
    Ok(UserWord {
        surface: surface.to_string(),
        reading: hiragana_to_katakana(reading),
        priority,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(content: &str) -> Result<UserDictionary, UserDictionaryError> {
        UserDictionary::parse(Path::new("course/dictionary.csv"), content)
    }

    #[test]
    fn reads_rows_comments_and_priorities() {
        let dictionary = parse("# course words\n生物,なまもの\n\n明日,アシタ,5\n").unwrap();
        assert_eq!(
            dictionary.words,
            [
                UserWord {
                    surface: "生物".into(),
                    reading: "ナマモノ".into(),
                    priority: 10
                },
                UserWord {
                    surface: "明日".into(),
                    reading: "アシタ".into(),
                    priority: 5
                },
            ]
        );
        let rows = dictionary.mecab_rows();
        assert_eq!(rows[0][..4], ["生物", "1348", "1348", "-988"]);
        assert_eq!(rows[0][11..14], ["ナマモノ", "ナマモノ", "0/4"]);
    }

    #[test]
    fn every_bad_row_is_named_with_its_line() {
        let err = parse("生物,なまもの\n明日\n今日,kyou\n空,そら,11\n生物,せいぶつ\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "user dictionary course/dictionary.csv: \
             line 2: expected surface,reading[,priority], found 1 fields; \
             line 3: reading \"kyou\" of \"今日\" must be katakana or hiragana, found 'k'; \
             line 4: priority \"11\" of \"空\" must be a whole number from 1 to 10; \
             line 5: \"生物\" is already on line 1"
        );
    }

    #[test]
    fn a_missing_file_is_named() {
        let err = UserDictionary::from_file(Path::new("/nonexistent/dictionary.csv"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/dictionary.csv"), "{err}");
    }
}
