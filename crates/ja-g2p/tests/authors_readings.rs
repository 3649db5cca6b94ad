//! The ways an author fixes a reading: a user dictionary and inline readings.
mod common;

use std::path::Path;

use ja_g2p::{G2pError, JaG2p, UserDictionary};

#[test]
fn a_user_dictionary_word_is_read_inside_any_sentence() {
    let dictionary = UserDictionary::parse(
        Path::new("dictionary.csv"),
        "生物,なまもの\n明後日,あさって\nココロプール,こころぷーる\n",
    )
    .unwrap();
    let g2p = JaG2p::shared_with(common::dict_dir(), Some(&dictionary)).unwrap();
    let plain = common::g2p();
    for (text, kana) in [
        ("生物", "なまもの"),
        (
            "新鮮な生物を食べるのは危ない。",
            "しんせんななまものをたべるのはあぶない。",
        ),
        ("明後日また来ます", "あさってまたきます"),
    ] {
        assert_eq!(
            g2p.phonemize(text).unwrap(),
            plain.phonemize(kana).unwrap(),
            "{text}"
        );
    }
    // Without the dictionary the analyser reads its own way.
    assert_ne!(
        plain.phonemize("生物").unwrap(),
        g2p.phonemize("生物").unwrap()
    );
    assert!(std::sync::Arc::ptr_eq(
        &g2p,
        &JaG2p::shared_with(common::dict_dir(), Some(&dictionary)).unwrap()
    ));
}

#[test]
fn inline_readings_speak_the_given_kana() {
    let g2p = common::g2p();
    assert_eq!(
        g2p.phonemize("{生物|なまもの}を食べる").unwrap(),
        g2p.phonemize("なまものを食べる").unwrap()
    );
    assert_eq!(
        g2p.phonemize(r"\{生物\}").unwrap(),
        g2p.phonemize("生物").unwrap()
    );
    let err = g2p.phonemize("{生物|nama}を食べる").unwrap_err();
    assert!(matches!(err, G2pError::InlineReading(_)), "{err}");
    assert_eq!(
        err.to_string(),
        "inline reading at character 1: the reading of \"生物\" must be kana, found 'n'"
    );
}
