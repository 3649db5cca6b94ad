//! Any Unicode string gives phonemes or a clear error, never a panic; one instance serves many
//! threads at once.
mod common;

use ja_g2p::{Alignment, G2pError, JaG2p};
use proptest::prelude::*;

/// Characters Kokoro's vocabulary has (kokoro-v1.0 vocab.json): the output must stay within them.
const KOKORO_SYMBOLS: &str = " !\"(),.:;?AIOQSTWYabcdefhijklmnopqrstuvwxyzæçðøŋœɐɑɒɔɕɖəɚɛɜɟɡɣɤɥɨɪɯɰɲɳɴɸɹɻɽɾʁʂʃʈʊʋʌʎʒʔʝʣʤʥʦʧʨʰʲˈˌː̃βθχᵊᵝᵻ—“”…→↓↗↘ꭧ";

fn check(g2p: &JaG2p, text: &str) -> Result<(), TestCaseError> {
    match g2p.align(text) {
        Ok(alignment) => {
            check_alignment(text, &alignment)?;
            let phonemes = alignment.phonemes;
            prop_assert!(
                !phonemes.is_empty() && phonemes.trim() == phonemes,
                "{text:?} -> {phonemes:?}"
            );
            prop_assert!(!phonemes.contains("  "), "{text:?} -> {phonemes:?}");
            prop_assert!(
                phonemes.chars().all(|c| KOKORO_SYMBOLS.contains(c)),
                "{text:?} -> {phonemes:?}"
            );
        }
        Err(G2pError::EmptyText) => prop_assert!(text.trim().is_empty(), "{text:?}"),
        Err(G2pError::NothingSpeakable { .. }) => {}
        Err(G2pError::InlineReading(e)) => prop_assert!(text.contains('{'), "{text:?}: {e}"),
        Err(e) => prop_assert!(false, "{text:?}: unexpected error {e}"),
    }
    Ok(())
}

/// Words in text order within the text; morae in order, apart, within the phonemes, and every
/// sound of the phonemes in one mora.
fn check_alignment(text: &str, alignment: &Alignment) -> Result<(), TestCaseError> {
    let text_len = text.chars().count();
    let phonemes: Vec<char> = alignment.phonemes.chars().collect();
    let mut text_at = 0;
    let mut phoneme_at = 0;
    let mut in_mora = vec![false; phonemes.len()];
    for word in &alignment.words {
        prop_assert!(
            word.text.start >= text_at && word.text.end <= text_len,
            "{text:?}: word {word:?} after {text_at}"
        );
        text_at = word.text.start;
        prop_assert!(!word.morae.is_empty(), "{text:?}: {word:?}");
        for mora in &word.morae {
            prop_assert!(
                mora.phonemes.start >= phoneme_at && mora.phonemes.end <= phonemes.len(),
                "{text:?}: mora {mora:?} of {word:?} after {phoneme_at}"
            );
            phoneme_at = mora.phonemes.end;
            mora.phonemes.clone().for_each(|at| in_mora[at] = true);
        }
    }
    for (at, c) in phonemes.iter().enumerate() {
        prop_assert!(
            in_mora[at] || !c.is_alphabetic(),
            "{text:?}: {c:?} at {at} of {:?} is in no mora",
            alignment.phonemes
        );
    }
    Ok(())
}

/// Japanese-looking text: kana, common and rare kanji, digits, punctuation, spaces, symbols.
fn japanese_text() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        "[ぁ-ゖァ-ヺー]{1,6}",
        "[一-龥]{1,4}",
        "[0-9０-９]{1,12}",
        "[0-9]{1,4}[:/\\-〜~.,][0-9]{1,4}([:/\\-][0-9]{1,4})?",
        "[¥$€£+\\-−±〒%℃°]{1,2}[0-9]{1,5}(km|kg|m|g|mL|%|℃)?",
        "[{}|\\\\]{1,2}[ぁ-ゖ一-龥]{0,3}",
        "[、。！？「」『』（）・〜～…―ー]{1,3}",
        "[ 　\t\n]{1,2}",
        "[A-Za-zＡ-Ｚａ-ｚ]{1,5}",
        "[ｦ-ﾟㇰ-ㇿ〃々ゝゞヽヾ]{1,3}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(pieces, 0..12).prop_map(|p| p.concat())
}

/// `PROPTEST_CASES` when set (for a longer run), else `default`: an explicit `cases` would override it.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(3000), ..ProptestConfig::default() })]

    #[test]
    fn any_string_gives_phonemes_or_a_clear_error(text in any::<String>()) {
        check(&common::g2p(), &text)?;
    }

    #[test]
    fn japanese_like_text_gives_phonemes_or_a_clear_error(text in japanese_text()) {
        check(&common::g2p(), &text)?;
    }
}

#[test]
fn empty_and_unspeakable_text_are_errors_naming_the_cause() {
    let g2p = common::g2p();
    for text in ["", " \n\t　"] {
        assert!(
            matches!(g2p.phonemize(text), Err(G2pError::EmptyText)),
            "{text:?}"
        );
    }
    for text in ["😀", "!!!", "♪♪"] {
        let err = g2p.phonemize(text).expect_err(text);
        assert!(
            matches!(err, G2pError::NothingSpeakable { .. }),
            "{text:?}: {err}"
        );
        assert!(
            err.to_string().contains(text) && err.to_string().contains("nothing speakable"),
            "{err}"
        );
    }
}

#[test]
fn unspeakable_characters_are_dropped_and_spaces_do_not_change_readings() {
    let g2p = common::g2p();
    let plain = g2p.phonemize("今日は良い天気ですね。").unwrap();
    assert_eq!(g2p.phonemize("😀今日は良い天気ですね。♪").unwrap(), plain);
    assert_eq!(g2p.phonemize(" 今日は 良い 天気ですね。").unwrap(), plain);
    assert_eq!(
        g2p.phonemize("第３課").unwrap(),
        g2p.phonemize("第3課").unwrap()
    );
}

#[test]
fn digit_strings_that_are_not_quantities_are_read_digit_by_digit() {
    let g2p = common::g2p();
    let digits = |text: &str| g2p.phonemize(text).unwrap().replace([' ', ','], "");
    assert_eq!(digits("0123456789"), "ʣeɾoiʨiɲiːsaɴjoŋɡoːɾokɯnanahaʨikʲɨː");
    assert_eq!(
        digits("12345678901234567890"),
        "iʨiɲiːsaɴjoŋɡoːɾokɯnanahaʨikʲɨːʣeɾo".repeat(2)
    );
}

#[test]
fn written_forms_of_any_length_are_read_in_linear_time() {
    // Quadratic scanning would take minutes on these; the real run takes well under a second.
    let g2p = common::g2p();
    for piece in [
        "1:", "1/", "12/25", "10:30〜", "-1", "¥1,", "{a|", "〒1", "3-", "0",
    ] {
        let text = piece.repeat(20_000);
        let _ = g2p.phonemize(&text);
    }
}

#[test]
fn one_instance_serves_many_threads() {
    let g2p = common::g2p();
    let texts = [
        "今日は良い天気ですね。",
        "漢字を勉強します。",
        "食べる",
        "東京タワーに行きました。",
    ];
    let expected: Vec<String> = texts.iter().map(|t| g2p.phonemize(t).unwrap()).collect();
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                for _ in 0..50 {
                    for (text, want) in texts.iter().zip(&expected) {
                        assert_eq!(&g2p.phonemize(text).unwrap(), want);
                    }
                }
            });
        }
    });
    assert!(
        std::sync::Arc::ptr_eq(&g2p, &common::g2p()),
        "shared() must return the same instance"
    );
}
