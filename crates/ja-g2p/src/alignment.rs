//! Which characters of the input text became which words, kana, morae and phonemes: what a
//! caption needs to highlight the text as it is spoken.
//!
//! Inline readings map exactly (`inline_reading`). Normalization and the analyser rewrite text
//! (width folding, 10:30 → 10時30分, phone numbers read digit by digit), so the morphemes'
//! surfaces are matched back to the text by a character diff on NFKC-folded characters: equal
//! runs map one to one, a rewritten run maps to the run it replaced, and an inserted character
//! (時 in 10時) to nothing, so that the word around it takes its span from its other characters.

use std::ops::Range;

use similar::{Algorithm, DiffOp, capture_diff_slices};
use unicode_normalization::UnicodeNormalization;

/// Which characters of a text its phonemes were read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alignment {
    /// Exactly what [`crate::JaG2p::phonemize`] returns for the text.
    pub phonemes: String,
    pub words: Vec<AlignedWord>,
}

/// A word as spoken (a dictionary word, a number with its counter) or a punctuation mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlignedWord {
    /// Characters (Unicode scalar values) of the input text the word was read from; empty
    /// (at the place it was read) for words normalization inserted.
    pub text: Range<usize>,
    /// Its reading in katakana; a punctuation mark as written.
    pub kana: String,
    pub is_punctuation: bool,
    /// One per mora of `kana` (a kana with the small kana after it; ー, ッ and ン are morae);
    /// a punctuation mark is one.
    pub morae: Vec<AlignedMora>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlignedMora {
    pub kana: String,
    /// Characters of [`Alignment::phonemes`] spoken for this mora; empty where it has none of its
    /// own (at the place it would be).
    pub phonemes: Range<usize>,
}

/// Small kana that belong to the mora before them.
const SMALL_KANA: &str = "ゃゅょぁぃぅぇぉゎャュョァィゥェォヮ";

/// The morae of `kana` as ranges of its characters.
pub(crate) fn morae(kana: &str) -> Vec<Range<usize>> {
    let mut morae: Vec<Range<usize>> = Vec::new();
    for (i, c) in kana.chars().enumerate() {
        match morae.last_mut() {
            Some(last) if SMALL_KANA.contains(c) => last.end = i + 1,
            _ => morae.push(i..i + 1),
        }
    }
    morae
}

/// For each character of `derived`, the characters of `source` it stands for, by a diff on
/// NFKC-folded characters (see the module documentation).
pub(crate) fn map_derived_text(source: &str, derived: &str) -> Vec<Range<usize>> {
    let fold = |text: &str| -> (Vec<char>, Vec<usize>) {
        text.chars()
            .enumerate()
            .flat_map(|(index, c)| {
                let folded: Vec<char> = std::iter::once(c).nfkc().collect();
                folded.into_iter().map(move |f| (f, index))
            })
            .unzip()
    };
    let (old, old_index) = fold(source);
    let (new, new_index) = fold(derived);
    let derived_len = derived.chars().count();
    let mut ranges: Vec<Option<Range<usize>>> = vec![None; derived_len];
    let mut assign = |new_at: usize, old_range: Range<usize>| {
        let slot = &mut ranges[new_index[new_at]];
        *slot = Some(match slot.take() {
            Some(range) => range.start.min(old_range.start)..range.end.max(old_range.end),
            None => old_range,
        });
    };
    let old_chars = |folded: Range<usize>| -> Range<usize> {
        if folded.is_empty() {
            let at = old_index
                .get(folded.start)
                .copied()
                .unwrap_or(source.chars().count());
            at..at
        } else {
            old_index[folded.start]..old_index[folded.end - 1] + 1
        }
    };
    for op in capture_diff_slices(Algorithm::Myers, &old, &new) {
        match op {
            DiffOp::Equal {
                old_index: o,
                new_index: n,
                len,
            } => (0..len).for_each(|k| assign(n + k, old_chars(o + k..o + k + 1))),
            DiffOp::Replace {
                old_index: o,
                old_len,
                new_index: n,
                new_len,
            } => (n..n + new_len).for_each(|k| assign(k, old_chars(o..o + old_len))),
            DiffOp::Insert {
                old_index: o,
                new_index: n,
                new_len,
            } => (n..n + new_len).for_each(|k| assign(k, old_chars(o..o))),
            DiffOp::Delete { .. } => {}
        }
    }
    ranges
        .into_iter()
        .map(|range| range.unwrap_or(0..0))
        .collect()
}

/// The smallest range holding every non-empty range of `ranges`; the first empty one's place
/// when all are empty.
pub(crate) fn covering(ranges: impl IntoIterator<Item = Range<usize>>) -> Range<usize> {
    let mut covered: Option<Range<usize>> = None;
    let mut empty_at = None;
    for range in ranges {
        if range.is_empty() {
            empty_at.get_or_insert(range.start);
            continue;
        }
        covered = Some(match covered {
            Some(c) => c.start.min(range.start)..c.end.max(range.end),
            None => range,
        });
    }
    covered.unwrap_or_else(|| {
        let at = empty_at.unwrap_or(0);
        at..at
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn morae_take_their_small_kana() {
        let kana = |k: &str| -> Vec<String> {
            let chars: Vec<char> = k.chars().collect();
            morae(k)
                .into_iter()
                .map(|m| chars[m].iter().collect())
                .collect()
        };
        assert_eq!(kana("キョー"), ["キョ", "ー"]);
        assert_eq!(kana("ガッコー"), ["ガ", "ッ", "コ", "ー"]);
        assert_eq!(kana("しんぶん"), ["し", "ん", "ぶ", "ん"]);
        assert_eq!(kana("ファイル"), ["ファ", "イ", "ル"]);
    }

    #[test]
    fn derived_text_maps_back_through_folding_and_rewriting() {
        // Width folding maps one to one; 時 replaced the colon; 分 was inserted.
        let map = map_derived_text("１０:30に", "10時30分に");
        assert_eq!(map[0], 0..1);
        assert_eq!(map[1], 1..2);
        assert_eq!(map[2], 2..3);
        assert_eq!(map[3], 3..4);
        assert!(map[5].is_empty(), "分 stands for nothing written");
        assert_eq!(map[6], 5..6);
        // A rewritten run maps to the whole run it replaced.
        let map = map_derived_text("¥500", "500円");
        assert_eq!(map[0], 1..2);
        assert_eq!(covering(map), 1..4);
        let map = map_derived_text("090", "ゼロキュー");
        assert!(map.iter().all(|range| *range == (0..3)));
    }

    #[test]
    fn covering_spans_the_non_empty_ranges() {
        assert_eq!(covering([2..3, 5..5, 4..6]), 2..6);
        assert_eq!(covering([5..5, 7..7]), 5..5);
    }
}
