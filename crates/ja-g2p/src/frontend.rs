//! The parts of pyopenjtalk-plus 0.4.1's Python frontend (MIT, tsukumijima) that shape the
//! reference readings and that a plain OpenJTalk frontend lacks:
//! - variant (old-form) kanji the dictionary cannot read are replaced by their common form
//!   (`normalize_unknown_itaiji`: 壓 → 圧 when 圧 then forms a dictionary word);
//! - the auxiliary う after a-, i- or e-row kana is not lengthened (`suppress_unnatural_
//!   auxiliary_u_long_vowel`: たうや reads タウヤ, not ターヤ);
//! - loanword spellings the dictionary simplified are restored from the surface
//!   (`restore_loanword_kana`: カヴァー reads カヴァー, not カバー);
//! - kanji still unknown get their Unihan on-reading (`read_unknown_kanji`, without the Sudachi
//!   step: 鷙 reads シ).
//!
//! Context-dependent reading rules and the ONNX reading model for 何 are not ported. Two
//! additions of ours: 降り after rain or snow reads フリ (雨が降りそう), not オリ (電車を降りる),
//! where the reference is wrong; and jpreprocess's letter table reads Z as ズィー where OpenJTalk
//! (hence the reference) reads ゼット.
use std::collections::HashMap;

/// Variant kanji -> common form (CJKVI variants overridden by pyopenjtalk-plus's itaiji map).
const KANJI_VARIANTS: &str = include_str!("../data/kanji_variants.tsv");
/// Kanji -> katakana on-reading (Unihan kJapanese, as chosen by pyopenjtalk-plus).
const UNIHAN_READINGS: &str = include_str!("../data/unihan_readings.tsv");

/// Loanword kana the dictionary replaced, as (surface spelling, dictionary spelling), longest first.
const LOANWORD_RESTORATIONS: &[(&str, &str)] = &[
    ("ヴャ", "ビャ"),
    ("ヴュ", "ビュ"),
    ("ヴョ", "ビョ"),
    ("ヴァ", "バ"),
    ("ヴィ", "ビ"),
    ("ヴェ", "ベ"),
    ("ヴォ", "ボ"),
    ("ヴ", "ブ"),
    ("スィ", "シ"),
    ("ズィ", "ジ"),
    ("テュ", "チュ"),
    ("デュ", "ヂュ"),
    ("イェ", "イエ"),
    ("シィ", "シー"),
    ("リェ", "リエ"),
    ("ニェ", "ニエ"),
    ("ヒェ", "ヒエ"),
    ("ミェ", "ミエ"),
    ("ビェ", "ビエ"),
    ("ピェ", "ピエ"),
    ("キェ", "ケ"),
    ("ギェ", "ゲ"),
    ("グゥ", "グウ"),
    ("クゥ", "クウ"),
];

/// Devoicing mark OpenJTalk puts in pronunciations.
const DEVOICED: char = '’';

/// A word after OpenJTalk's NJD rules.
pub struct Word {
    pub surface: String,
    /// Part of speech as NJD writes it, e.g. `名詞,数,*,*`.
    pub pos: String,
    /// True for symbols (punctuation, and unknown characters NJD turned into a pause).
    pub is_symbol: bool,
    pub read: String,
    pub pron: String,
}

/// A morpheme span of a first analysis, in characters of the analysed text.
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub is_unknown: bool,
}

pub struct Frontend {
    variants: HashMap<char, char>,
    readings: HashMap<char, &'static str>,
}

impl Frontend {
    pub fn new() -> Self {
        let pairs = |table: &'static str| {
            table.lines().filter_map(|line| {
                let (key, value) = line.split_once('\t')?;
                let mut key_chars = key.chars();
                Some((key_chars.next()?, value)).filter(|_| key_chars.next().is_none())
            })
        };
        Self {
            variants: pairs(KANJI_VARIANTS)
                .filter_map(|(k, v)| Some((k, v.chars().next()?)))
                .collect(),
            readings: pairs(UNIHAN_READINGS).collect(),
        }
    }

    /// `text` with variant kanji replaced by their common form, where the variant sits in an
    /// unknown morpheme and the replacement is read as a dictionary word. `analyse` gives the
    /// morpheme spans of a text (`None` when they do not line up with its characters).
    pub fn replace_unknown_variants(
        &self,
        text: &str,
        analyse: impl Fn(&str) -> Option<Vec<Span>>,
    ) -> String {
        let chars: Vec<char> = text.chars().collect();
        if !chars.iter().any(|c| self.variants.contains_key(c)) {
            return text.to_string();
        }
        let Some(original) = analyse(text) else {
            return text.to_string();
        };
        let in_unknown = |i: usize| {
            original
                .iter()
                .any(|s| s.is_unknown && s.start <= i && i < s.end)
        };
        let mut replacements: Vec<(usize, char)> = (0..chars.len())
            .filter_map(|i| Some((i, *self.variants.get(&chars[i])?)))
            .filter(|&(i, _)| in_unknown(i))
            .collect();
        // Dropping a replacement changes the analysis of the others: retry once without the
        // rejected ones, then give up (as pyopenjtalk-plus does).
        for _ in 0..2 {
            if replacements.is_empty() {
                break;
            }
            let mut candidate = chars.clone();
            for &(i, c) in &replacements {
                candidate[i] = c;
            }
            let candidate: String = candidate.into_iter().collect();
            let Some(spans) = analyse(&candidate) else {
                break;
            };
            let retained: Vec<(usize, char)> = replacements
                .iter()
                .copied()
                .filter(|&(i, _)| is_resolved(i, &chars, &original, &spans))
                .collect();
            if retained.len() == replacements.len() {
                return candidate;
            }
            replacements = retained;
        }
        text.to_string()
    }

    /// pyopenjtalk-plus's reading fixes after the NJD rules, in its order.
    pub fn postprocess(&self, words: &mut [Word]) {
        read_letter_z_as_openjtalk(words);
        suppress_auxiliary_u_long_vowel(words);
        for word in words.iter_mut() {
            if is_katakana_word(&word.surface)
                && let Some(pron) = restore_loanword_spelling(&word.surface, &word.pron)
            {
                word.pron = pron;
            }
        }
        self.read_unknown_kanji(words);
        read_falling_precipitation(words);
    }

    /// Unknown kanji (NJD made them a pause: a symbol reading 、) get their Unihan reading when
    /// every kanji of the word has one.
    fn read_unknown_kanji(&self, words: &mut [Word]) {
        for word in words
            .iter_mut()
            .filter(|w| w.is_symbol && w.pron == "、" && w.surface.chars().any(is_kanji))
        {
            let reading: Option<String> = word
                .surface
                .chars()
                .map(|c| match self.readings.get(&c) {
                    Some(r) => Some(r.to_string()),
                    None if !is_kanji(c) => Some(c.to_string()),
                    None => None,
                })
                .collect();
            if let Some(reading) = reading {
                word.pron = reading_to_pronunciation(&reading);
                word.read = reading;
                word.is_symbol = false;
            }
        }
    }
}

/// Whether replacing the variant at `index` made it part of a dictionary word: a one-character
/// word only when no kanji stands beside it (齒性 keeps 齒, read シ, instead of 歯 read ハ); a
/// longer word only when it does not cut into a word known before the replacement.
fn is_resolved(index: usize, chars: &[char], original: &[Span], candidate: &[Span]) -> bool {
    let Some(span) = candidate.iter().find(|s| s.start <= index && index < s.end) else {
        return false;
    };
    if span.is_unknown {
        return false;
    }
    if span.end - span.start == 1 {
        let kanji_at =
            |i: Option<usize>| i.and_then(|i| chars.get(i)).is_some_and(|&c| is_kanji(c));
        return !kanji_at(index.checked_sub(1)) && !kanji_at(Some(index + 1));
    }
    original
        .iter()
        .filter(|o| o.end > span.start && o.start < span.end && !o.is_unknown)
        .all(|o| o.start >= span.start && o.end <= span.end)
}

fn is_kanji(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3FFFF)
}

fn is_katakana_word(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| ('ァ'..='ヴ').contains(&c) || "ーヽヾ".contains(c))
}

fn vowel_row(kana: char) -> Option<char> {
    [
        ("アカサタナハマヤラワガザダバパァャ", 'a'),
        ("イキシチニヒミリヰギジヂビピィ", 'i'),
        ("ウクスツヌフムユルグズヅブプヴゥュ", 'u'),
        ("エケセテネヘメレヱゲゼデベペェ", 'e'),
        ("オコソトノホモヨロヲゴゾドボポォョ", 'o'),
    ]
    .iter()
    .find(|(row, _)| row.contains(kana))
    .map(|&(_, vowel)| vowel)
}

/// Unknown full-width Latin words are read letter by letter by jpreprocess, Z as ズィー.
fn read_letter_z_as_openjtalk(words: &mut [Word]) {
    let is_letter = |c: char| {
        c.is_ascii_alphabetic() || ('Ａ'..='Ｚ').contains(&c) || ('ａ'..='ｚ').contains(&c)
    };
    for word in words
        .iter_mut()
        .filter(|w| w.surface.chars().all(is_letter) && w.surface.contains(['Ｚ', 'ｚ', 'Z', 'z']))
    {
        word.pron = word.pron.replace("ズィー", "ゼット");
    }
}

/// NJD lengthens an auxiliary う after any verb or auxiliary; after a-, i- and e-row kana that
/// reads unnaturally (たう → ター), so pyopenjtalk-plus turns it back into ウ.
fn suppress_auxiliary_u_long_vowel(words: &mut [Word]) {
    for i in 1..words.len() {
        if words[i].pron != "ー" || words[i].read != "ウ" {
            continue;
        }
        let previous = words[i - 1].pron.trim_end_matches(DEVOICED);
        // pyopenjtalk-plus's row map for this rule lacks small ャュョ and old ヰヱ.
        if previous
            .chars()
            .last()
            .filter(|c| !"ャュョヰヱ".contains(*c))
            .and_then(vowel_row)
            .is_some_and(|v| "aie".contains(v))
        {
            words[i].pron = "ウ".into();
        }
    }
}

/// Precipitation that 降る (ふる, fall) rather than 降りる (おりる, get off), by the noun's end.
const PRECIPITATION: &[&str] = &["雨", "雪", "霰", "雹", "霙", "あめ", "ゆき"];

/// The dictionary prefers 降りる's オリ for 降り; after 「雨が」「雪も」 etc. it is 降る's フリ.
fn read_falling_precipitation(words: &mut [Word]) {
    for i in 2..words.len() {
        let subject = &words[i - 2].surface;
        let is_precipitation_subject = PRECIPITATION.iter().any(|p| subject.ends_with(p))
            && ["が", "も", "は"].contains(&words[i - 1].surface.as_str());
        let word = &mut words[i];
        if is_precipitation_subject && word.surface.starts_with('降') && word.pron.starts_with('オ')
        {
            word.pron = word.pron.replacen('オ', "フ", 1);
            word.read = word.read.replacen('オ', "フ", 1);
        }
    }
}

/// `pronunciation` respelled with the loanword kana of `surface` (ヴァ for バ, ...), when the two
/// match kana by kana apart from such replacements; `None` when they don't or nothing changes.
fn restore_loanword_spelling(surface: &str, pronunciation: &str) -> Option<String> {
    let (mut s, mut p) = (surface, pronunciation);
    let mut restored = String::with_capacity(pronunciation.len());
    let mut changed = false;
    while let Some(surface_char) = s.chars().next() {
        if let Some(rest) = p.strip_prefix(DEVOICED) {
            restored.push(DEVOICED);
            p = rest;
            continue;
        }
        if let Some(&(original, collapsed)) = LOANWORD_RESTORATIONS
            .iter()
            .find(|(o, c)| s.starts_with(o) && p.starts_with(c))
        {
            restored.push_str(original);
            s = &s[original.len()..];
            p = &p[collapsed.len()..];
            changed = true;
            continue;
        }
        // A written イ/ウ the dictionary made a long vowel (ウェイヴ → ウェーブ) stays long.
        if "イウ".contains(surface_char) && p.starts_with('ー') {
            restored.push('ー');
        } else if p.starts_with(surface_char) {
            restored.push(surface_char);
        } else {
            return None;
        }
        s = &s[surface_char.len_utf8()..];
        p = &p[p.chars().next().map_or(0, char::len_utf8)..];
    }
    if let Some(rest) = p.strip_prefix(DEVOICED) {
        restored.push(DEVOICED);
        p = rest;
    }
    (p.is_empty() && changed).then_some(restored)
}

/// A katakana reading with OpenJTalk's long vowels (オウ, オオ, ウウ, エイ → ー).
pub fn reading_to_pronunciation(reading: &str) -> String {
    let mut out = String::with_capacity(reading.len());
    let mut previous_vowel = None;
    let chars: Vec<char> = reading.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        // A mora is a kana plus a following small kana.
        let mut end = i + 1;
        if chars
            .get(end)
            .is_some_and(|c| "ャュョァィゥェォヮ".contains(*c))
        {
            end += 1;
        }
        let mora = &chars[i..end];
        let is_long = mora.len() == 1
            && matches!(
                (previous_vowel, mora[0]),
                (Some('o'), 'ウ' | 'オ') | (Some('u'), 'ウ') | (Some('e'), 'イ')
            );
        if is_long {
            out.push('ー');
        } else {
            out.extend(mora);
            if mora != ['ー'] {
                previous_vowel = mora.last().copied().and_then(vowel_row);
            }
        }
        i = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(surface: &str, read: &str, pron: &str) -> Word {
        Word {
            surface: surface.into(),
            pos: String::new(),
            is_symbol: false,
            read: read.into(),
            pron: pron.into(),
        }
    }

    #[test]
    fn auxiliary_u_stays_short_after_a_i_e_rows() {
        let mut words = [
            word("た", "タ", "タ"),
            word("う", "ウ", "ー"),
            word("行こ", "イコ", "イコ"),
            word("う", "ウ", "ー"),
        ];
        suppress_auxiliary_u_long_vowel(&mut words);
        assert_eq!(words.map(|w| w.pron), ["タ", "ウ", "イコ", "ー"]);
    }

    #[test]
    fn rain_falls_rather_than_gets_off() {
        let mut words = [
            word("雨", "アメ", "アメ"),
            word("が", "ガ", "ガ"),
            word("降り", "オリ", "オリ"),
        ];
        read_falling_precipitation(&mut words);
        assert_eq!(words[2].pron, "フリ");
        let mut words = [
            word("電車", "デンシャ", "デンシャ"),
            word("を", "ヲ", "オ"),
            word("降り", "オリ", "オリ"),
        ];
        read_falling_precipitation(&mut words);
        assert_eq!(words[2].pron, "オリ");
    }

    #[test]
    fn restores_loanword_spellings() {
        assert_eq!(
            restore_loanword_spelling("カヴァー", "カバー").as_deref(),
            Some("カヴァー")
        );
        assert_eq!(
            restore_loanword_spelling("ウェイヴ", "ウェーブ").as_deref(),
            Some("ウェーヴ")
        );
        assert_eq!(restore_loanword_spelling("テスト", "テ’スト"), None);
        assert_eq!(restore_loanword_spelling("バス", "バス"), None);
    }

    #[test]
    fn reads_unknown_kanji_with_long_vowels() {
        assert_eq!(reading_to_pronunciation("ケイ"), "ケー");
        assert_eq!(reading_to_pronunciation("キュウショウ"), "キューショー");
        let frontend = Frontend::new();
        let mut words = [Word {
            surface: "鷙".into(),
            pos: "記号,一般".into(),
            is_symbol: true,
            read: String::new(),
            pron: "、".into(),
        }];
        frontend.read_unknown_kanji(&mut words);
        assert!(!words[0].is_symbol);
        assert_eq!(words[0].pron, "シ");
    }

    #[test]
    fn replaces_variants_only_inside_unknown_words() {
        let frontend = Frontend::new();
        // A fake analyser: 圧 and 高血圧 are known; 壓 is not.
        let analyse = |text: &str| {
            let n = text.chars().count();
            Some(vec![Span {
                start: 0,
                end: n,
                is_unknown: text.contains('壓'),
            }])
        };
        assert_eq!(
            frontend.replace_unknown_variants("高血壓", analyse),
            "高血圧"
        );
        let known = |text: &str| {
            Some(vec![Span {
                start: 0,
                end: text.chars().count(),
                is_unknown: false,
            }])
        };
        assert_eq!(frontend.replace_unknown_variants("高血壓", known), "高血壓");
    }
}
