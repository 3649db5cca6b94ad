//! Which characters of the text became which words, kana, morae and phonemes.
mod common;

use ja_g2p::Alignment;

/// A word's text, its kana, and its morae with their phonemes.
type Spoken = (String, String, Vec<(String, String)>);
/// The same, written out in a test.
type Expected<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

/// (text of the word, kana, morae with their phonemes) for each word of `alignment`.
fn spoken(text: &str, alignment: &Alignment) -> Vec<Spoken> {
    let text: Vec<char> = text.chars().collect();
    let phonemes: Vec<char> = alignment.phonemes.chars().collect();
    alignment
        .words
        .iter()
        .map(|word| {
            (
                text[word.text.clone()].iter().collect(),
                word.kana.clone(),
                word.morae
                    .iter()
                    .map(|mora| {
                        (
                            mora.kana.clone(),
                            phonemes[mora.phonemes.clone()].iter().collect(),
                        )
                    })
                    .collect(),
            )
        })
        .collect()
}

fn owned(words: &[Expected]) -> Vec<Spoken> {
    words
        .iter()
        .map(|(text, kana, morae)| {
            (
                text.to_string(),
                kana.to_string(),
                morae
                    .iter()
                    .map(|(k, p)| (k.to_string(), p.to_string()))
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn words_and_morae_point_at_their_text_and_phonemes() {
    let g2p = common::g2p();
    let text = "学校で、{生物|なまもの}を食べる。";
    let alignment = g2p.align(text).unwrap();
    assert_eq!(alignment.phonemes, g2p.phonemize(text).unwrap());
    assert_eq!(
        spoken(text, &alignment),
        owned(&[
            (
                "学校",
                "ガッコー",
                &[("ガ", "ɡa"), ("ッ", "ʔ"), ("コ", "ko"), ("ー", "ː")]
            ),
            ("で", "デ", &[("デ", "de")]),
            ("、", "、", &[("、", ",")]),
            (
                "{生物|なまもの}",
                "ナマモノ",
                &[("ナ", "na"), ("マ", "ma"), ("モ", "mo"), ("ノ", "no")]
            ),
            ("を", "ヲ", &[("ヲ", "o")]),
            (
                "食べる",
                "タベル",
                &[("タ", "ta"), ("ベ", "be"), ("ル", "ɾɯ")]
            ),
            ("。", "。", &[("。", ".")]),
        ])
    );
    assert!(alignment.words[2].is_punctuation && !alignment.words[1].is_punctuation);
}

#[test]
fn rewritten_written_forms_keep_the_span_they_were_written_in() {
    let g2p = common::g2p();
    let text = "１０:３０に３本";
    let alignment = g2p.align(text).unwrap();
    let words = spoken(text, &alignment);
    let written: Vec<&str> = words.iter().map(|(w, ..)| w.as_str()).collect();
    assert!(written.contains(&"３本"), "{words:?}");
    assert_eq!(
        written.first(),
        Some(&"１０:３０"),
        "one word, ジュージサンジュップン: {words:?}"
    );
    let kana: String = words.iter().map(|(_, k, _)| k.as_str()).collect();
    assert_eq!(kana, g2p.reading(text).unwrap().replace(' ', ""));
}
