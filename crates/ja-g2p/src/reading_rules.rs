//! Our reading rules after OpenJTalk's NJD rules and pyopenjtalk-plus's fixes, where both read
//! beginner material wrongly (checked against tests/data/readings_corpus.tsv):
//! - 二十歳 written 20歳 reads ハタチ, as textbooks teach it;
//! - a fraction's 分 reads ブン (3分の1 サンブンノイチ), not the minutes' プン;
//! - hiragana is read as written: a dictionary entry whose pronunciation silences a kana of its
//!   hiragana surface into a glottal stop (さつ read サッ) is read from the surface instead;
//! - long vowels of nouns written in hiragana are spoken long, as in kanji (がくせい ガクセー,
//!   とけい トケー, がっこう ガッコー), as the dictionary already does for 学生, 時計, 学校.
use crate::frontend::{Word, reading_to_pronunciation};

const NUMBER_POS: &str = "名詞,数";
const COUNTER_POS: &str = "名詞,接尾,助数詞";

/// Whether `word` is a numeral (漢数字 after NJD's digit rules).
pub fn is_number(word: &Word) -> bool {
    word.pos.starts_with(NUMBER_POS)
}

/// Whether `word` is spoken as one word with the `previous` one: the digits of a number, the
/// counter after it, and the ordinal prefix 第 before it (第3回 ダイサンカイ, 3本 サンボン).
pub fn joins_previous(previous: &Word, word: &Word) -> bool {
    let counts = is_number(previous) || previous.pos.starts_with(COUNTER_POS);
    (is_number(word) && (counts || previous.pos.starts_with("接頭詞,数接続")))
        || (word.pos.starts_with(COUNTER_POS) && is_number(previous))
}

pub fn apply(words: &mut Vec<Word>) {
    read_thousand_before_large_units(words);
    read_twenty_years_old(words);
    read_fraction_bun(words);
    for word in words.iter_mut() {
        read_kana_as_written(word);
    }
}

/// 千 that begins a 万, 億 or 兆 group reads イッセン (1,000万 イッセンマン), as 一千 does.
fn read_thousand_before_large_units(words: &mut [Word]) {
    for i in 0..words.len() {
        let begins_group = i == 0 || !is_number(&words[i - 1]) || is_large_unit(&words[i - 1]);
        let group_is_large = words[i + 1..]
            .iter()
            .take_while(|w| is_number(w))
            .any(is_large_unit);
        if words[i].surface == "千" && words[i].pron == "セン" && begins_group && group_is_large
        {
            words[i].pron = "イッセン".into();
        }
    }
}

fn is_large_unit(word: &Word) -> bool {
    is_number(word) && ["万", "億", "兆"].contains(&word.surface.as_str())
}

/// 20歳 (digits become 二 十 before 歳) reads ハタチ.
fn read_twenty_years_old(words: &mut Vec<Word>) {
    let mut i = 0;
    while i + 2 < words.len() {
        let starts_number = i == 0 || !is_number(&words[i - 1]);
        if starts_number
            && words[i].surface == "二"
            && words[i + 1].surface == "十"
            && is_number(&words[i])
            && is_number(&words[i + 1])
            && ["歳", "才"].contains(&words[i + 2].surface.as_str())
        {
            words[i].surface = "二十歳".into();
            words[i].read = "ハタチ".into();
            words[i].pron = "ハタチ".into();
            words[i].pos = "名詞,一般".into();
            words.drain(i + 1..i + 3);
        }
        i += 1;
    }
}

/// N分のM: a fraction, 分 reads ブン and the number before it keeps its plain reading.
fn read_fraction_bun(words: &mut [Word]) {
    for i in 1..words.len().saturating_sub(2) {
        if words[i].surface == "分"
            && is_number(&words[i - 1])
            && words[i + 1].surface == "の"
            && is_number(&words[i + 2])
        {
            words[i].read = "ブン".into();
            words[i].pron = "ブン".into();
            let number = &mut words[i - 1];
            number.pron = reading_to_pronunciation(&number.read);
        }
    }
}

fn read_kana_as_written(word: &mut Word) {
    let is_hiragana = |c: char| ('ぁ'..='ゖ').contains(&c) || c == 'ー';
    if word.is_symbol || word.surface.is_empty() || !word.surface.chars().all(is_hiragana) {
        return;
    }
    let written = hiragana_to_katakana(&word.surface);
    let spoken = word.pron.replace(['’', '\''], "");
    let is_content_word = ["名詞", "副詞", "感動詞", "接頭詞", "連体詞"]
        .iter()
        .any(|pos| word.pos.starts_with(pos));
    if !is_content_word {
        return;
    }
    if drops_a_kana(&spoken, &written) {
        word.pron = reading_to_pronunciation(&written);
        return;
    }
    if word.pos.starts_with("名詞") {
        word.pron = reading_to_pronunciation(&spoken);
    }
}

/// Whether `spoken` (a pronunciation) silences a kana of `written` into a glottal stop (さつ
/// read サッ). Other differences are kept: historical spellings (ちやう チャウ, こほり コーリ)
/// and long vowels are read right by the dictionary.
fn drops_a_kana(spoken: &str, written: &str) -> bool {
    let spoken: Vec<char> = spoken.chars().collect();
    let written: Vec<char> = written.chars().collect();
    spoken.len() == written.len()
        && spoken
            .iter()
            .zip(&written)
            .any(|(&s, &w)| s == 'ッ' && w != 'ッ')
}

pub fn hiragana_to_katakana(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'ぁ'..='ゖ' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
            _ => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(surface: &str, pos: &str, read: &str, pron: &str) -> Word {
        Word {
            surface: surface.into(),
            pos: pos.into(),
            is_symbol: false,
            read: read.into(),
            pron: pron.into(),
        }
    }

    fn prons(words: &[Word]) -> Vec<&str> {
        words.iter().map(|w| w.pron.as_str()).collect()
    }

    #[test]
    fn twenty_years_old_is_hatachi() {
        let mut words = vec![
            word("二", "名詞,数", "ニ", "ニ"),
            word("十", "名詞,数", "ジュウ", "ジュッ"),
            word("歳", "名詞,接尾,助数詞", "サイ", "サイ"),
            word("です", "助動詞", "デス", "デス"),
        ];
        apply(&mut words);
        assert_eq!(prons(&words), ["ハタチ", "デス"]);
        let mut words = vec![
            word("百", "名詞,数", "ヒャク", "ヒャク"),
            word("二", "名詞,数", "ニ", "ニ"),
            word("十", "名詞,数", "ジュウ", "ジュッ"),
            word("歳", "名詞,接尾,助数詞", "サイ", "サイ"),
        ];
        apply(&mut words);
        assert_eq!(prons(&words), ["ヒャク", "ニ", "ジュッ", "サイ"]);
    }

    #[test]
    fn thousand_before_man_is_issen() {
        let mut words = vec![
            word("千", "名詞,数", "セン", "セン"),
            word("万", "名詞,数", "マン", "マン"),
            word("一", "名詞,数", "イチ", "イチ"),
            word("千", "名詞,数", "セン", "セン"),
        ];
        apply(&mut words);
        assert_eq!(prons(&words), ["イッセン", "マン", "イチ", "セン"]);
    }

    #[test]
    fn a_fraction_reads_bun() {
        let mut words = vec![
            word("一", "名詞,数", "イチ", "イッ"),
            word("分", "名詞,接尾,助数詞", "フン", "プン"),
            word("の", "助詞,連体化", "ノ", "ノ"),
            word("一", "名詞,数", "イチ", "イチ"),
        ];
        apply(&mut words);
        assert_eq!(prons(&words), ["イチ", "ブン", "ノ", "イチ"]);
    }

    #[test]
    fn kana_reads_as_written_with_long_vowels_in_nouns() {
        let mut words = vec![
            word("ご", "接頭詞,名詞接続", "ゴ", "ゴ"),
            word("さつ", "副詞", "サッ", "サッ"),
            word("がくせい", "名詞,一般", "ガクセイ", "ガク’セイ"),
            word("は", "助詞,係助詞", "ハ", "ワ"),
            word("いう", "動詞,自立", "イウ", "ユー"),
        ];
        apply(&mut words);
        assert_eq!(prons(&words), ["ゴ", "サツ", "ガクセー", "ワ", "ユー"]);
    }

    #[test]
    fn numbers_join_their_counter_and_ordinal_prefix() {
        let dai = word("第", "接頭詞,数接続", "ダイ", "ダイ");
        let three = word("三", "名詞,数", "サン", "サン");
        let kai = word("回", "名詞,接尾,助数詞", "カイ", "カイ");
        let wa = word("は", "助詞,係助詞", "ハ", "ワ");
        assert!(joins_previous(&dai, &three));
        assert!(joins_previous(&three, &kai));
        assert!(!joins_previous(&kai, &wa));
        assert!(!joins_previous(&wa, &three));
    }
}
