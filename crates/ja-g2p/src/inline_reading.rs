//! Inline readings in DenDen Markdown's ruby syntax: `{生物|なまもの}` speaks なまもの for 生物,
//! `{漢字|かん|じ}` (one reading per character) speaks かんじ. `\{`, `\}`, `\|` and `\\` stand
//! for the character itself. A `{` with no `|` before its `}` is ordinary text.
//!
//! Linear time: every special character's next `{`, `}` and `|` are found in one backward pass.

use std::ops::Range;

/// Why an inline reading could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("inline reading at character {position}: {reason}")]
pub struct InlineReadingError {
    /// 1-based character offset of the `{` in the text.
    pub position: usize,
    pub reason: String,
}

/// `text` with every inline reading replaced by its reading.
#[cfg(test)]
pub fn apply_inline_readings(text: &str) -> Result<String, InlineReadingError> {
    apply_inline_readings_mapped(text).map(|(out, _)| out)
}

/// As [`apply_inline_readings`], with the characters of `text` each character of the result
/// came from: a reading's kana come from its whole `{base|reading}`, an escape from both of its
/// characters.
pub fn apply_inline_readings_mapped(
    text: &str,
) -> Result<(String, Vec<Range<usize>>), InlineReadingError> {
    // (character, is a syntax character: an unescaped { } |, the characters of `text` it is)
    let mut chars: Vec<(char, bool)> = Vec::with_capacity(text.len());
    let mut sources: Vec<Range<usize>> = Vec::with_capacity(text.len());
    let mut source = text.chars().enumerate().peekable();
    while let Some((at, c)) = source.next() {
        match (c, source.peek()) {
            ('\\', Some(&(_, next))) if "{}|\\".contains(next) => {
                chars.push((next, false));
                sources.push(at..at + 2);
                source.next();
            }
            (c, _) => {
                chars.push((c, "{}|".contains(c)));
                sources.push(at..at + 1);
            }
        }
    }
    let n = chars.len();
    // next_of[i]: index of the next syntax character at or after i, per kind.
    let (mut next_open, mut next_close, mut next_bar) =
        (vec![n; n + 1], vec![n; n + 1], vec![n; n + 1]);
    for i in (0..n).rev() {
        next_open[i] = next_open[i + 1];
        next_close[i] = next_close[i + 1];
        next_bar[i] = next_bar[i + 1];
        match chars[i] {
            ('{', true) => next_open[i] = i,
            ('}', true) => next_close[i] = i,
            ('|', true) => next_bar[i] = i,
            _ => {}
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut out_sources = Vec::with_capacity(n);
    let mut i = 0;
    while i < n {
        let (c, is_syntax) = chars[i];
        let bar = next_bar[i + 1];
        let is_ruby = c == '{' && is_syntax && bar < next_close[i + 1] && bar < next_open[i + 1];
        if !is_ruby {
            out.push(c);
            out_sources.push(sources[i].clone());
            i += 1;
            continue;
        }
        let error = |reason: String| InlineReadingError {
            position: i + 1,
            reason,
        };
        let close = next_close[i + 1];
        if close == n || next_open[i + 1] < close {
            return Err(error("`{` has no closing `}`".into()));
        }
        let base: String = chars[i + 1..bar].iter().map(|&(c, _)| c).collect();
        let reading: String = chars[bar + 1..close]
            .iter()
            .filter(|&&(c, is_syntax)| !(c == '|' && is_syntax))
            .map(|&(c, _)| c)
            .collect();
        if base.trim().is_empty() {
            return Err(error("nothing before `|` to give a reading to".into()));
        }
        if reading.is_empty() {
            return Err(error(format!("empty reading for {base:?}")));
        }
        if let Some(bad) = reading.chars().find(|&c| !is_kana(c)) {
            return Err(error(format!(
                "the reading of {base:?} must be kana, found {bad:?}"
            )));
        }
        out.push_str(&reading);
        let whole = sources[i].start..sources[close].end;
        out_sources.extend(reading.chars().map(|_| whole.clone()));
        i = close + 1;
    }
    Ok((out, out_sources))
}

fn is_kana(c: char) -> bool {
    ('ぁ'..='ゖ').contains(&c) || ('ァ'..='ヺ').contains(&c) || c == 'ー'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_spans_with_their_readings() {
        assert_eq!(
            apply_inline_readings("{生物|なまもの}を食べる").unwrap(),
            "なまものを食べる"
        );
        assert_eq!(apply_inline_readings("{漢字|かん|じ}").unwrap(), "かんじ");
        assert_eq!(
            apply_inline_readings("{今日|キョウ}は").unwrap(),
            "キョウは"
        );
    }

    #[test]
    fn maps_each_character_to_where_it_came_from() {
        let (out, sources) = apply_inline_readings_mapped(r"{生物|なま}を\{").unwrap();
        assert_eq!(out, "なまを{");
        assert_eq!(sources, [0..7, 0..7, 7..8, 8..10]);
    }

    #[test]
    fn escapes_and_plain_braces_stay_text() {
        assert_eq!(apply_inline_readings(r"\{a|b\}").unwrap(), "{a|b}");
        assert_eq!(apply_inline_readings("{note} a|b").unwrap(), "{note} a|b");
        assert_eq!(apply_inline_readings(r"\\").unwrap(), r"\");
    }

    #[test]
    fn malformed_readings_name_the_position_and_cause() {
        let err = |text: &str| apply_inline_readings(text).unwrap_err().to_string();
        assert_eq!(
            err("あ{生物|なまもの"),
            "inline reading at character 2: `{` has no closing `}`"
        );
        assert!(err("{生物|}").contains("empty reading for \"生物\""));
        assert!(err("{|なま}").contains("nothing before `|`"));
        assert!(err("{生物|nama}").contains("must be kana, found 'n'"));
    }

    #[test]
    fn runs_in_linear_time_on_adversarial_input() {
        // Quadratic scanning would take minutes on these; linear takes milliseconds.
        for piece in ["{", "{a|", "|}", "\\{", "{a|b}"] {
            let text = piece.repeat(100_000);
            let _ = apply_inline_readings(&text);
        }
    }
}
