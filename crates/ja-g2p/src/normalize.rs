//! Text normalization before analysis, ported from misaki 0.7.4's `JAG2P._normalize_text` and
//! `num2kana.py` (hiragana mode): a wave dash before a digit reads から, small katakana phonetic
//! extensions become full kana, NFKC folds width (full-width ASCII/digits to half width,
//! half-width kana to full width), and runs of digits become kana.
use unicode_normalization::UnicodeNormalization;

const KATAKANA_PHONETIC_EXTENSIONS: &[(char, char)] = &[
    ('ㇰ', 'ク'),
    ('ㇱ', 'シ'),
    ('ㇲ', 'ス'),
    ('ㇳ', 'ト'),
    ('ㇴ', 'ヌ'),
    ('ㇵ', 'ハ'),
    ('ㇶ', 'ヒ'),
    ('ㇷ', 'フ'),
    ('ㇸ', 'ヘ'),
    ('ㇹ', 'ホ'),
    ('ㇺ', 'ム'),
    ('ㇻ', 'ラ'),
    ('ㇼ', 'リ'),
    ('ㇽ', 'ル'),
    ('ㇾ', 'レ'),
    ('ㇿ', 'ロ'),
];

/// Longest digit run read as a number; misaki gives up beyond this (it returns an English error
/// sentence that then gets spoken), we read longer runs digit by digit instead.
const MAX_NUMBER_DIGITS: usize = 9;

/// Normalizes `text` for the analyser. Digit runs become " " + kana, as in misaki (the space
/// separates the number from a preceding word for the analyser).
pub fn normalize_text(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut expanded = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let before_digit = chars
            .get(i + 1)
            .is_some_and(|&n| n.is_ascii_digit() || ('０'..='９').contains(&n));
        if (c == '〜' || c == '～') && before_digit {
            expanded.push_str("から");
        } else if let Some(&(_, full)) = KATAKANA_PHONETIC_EXTENSIONS
            .iter()
            .find(|(small, _)| *small == c)
        {
            expanded.push(full);
        } else {
            expanded.push(c);
        }
    }
    let mut out = String::with_capacity(expanded.len() * 2);
    let mut digits = String::new();
    for c in expanded.nfkc() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        flush_number(&mut digits, &mut out);
        out.push(c);
    }
    flush_number(&mut digits, &mut out);
    out
}

fn flush_number(digits: &mut String, out: &mut String) {
    if digits.is_empty() {
        return;
    }
    out.push(' ');
    if digits.len() > MAX_NUMBER_DIGITS {
        // Spaces keep the analyser from reading across digits (ろくなな as ろくな + な).
        let readings: Vec<&str> = digits.chars().map(digit_kana).collect();
        out.push_str(&readings.join(" "));
    } else {
        out.push_str(&number_kana(digits));
    }
    digits.clear();
}

fn digit_kana(d: char) -> &'static str {
    match d {
        '0' => "ゼロ",
        '1' => "いち",
        '2' => "に",
        '3' => "さん",
        '4' => "よん",
        '5' => "ご",
        '6' => "ろく",
        '7' => "なな",
        '8' => "はち",
        _ => "きゅう",
    }
}

/// Reading of a run of 1..=9 ASCII digits (leading zeros ignored), as num2kana.Convert.
fn number_kana(number: &str) -> String {
    let n = number.trim_start_matches('0');
    if n.is_empty() {
        return digit_kana('0').into();
    }
    match n.len() {
        1..=4 => below_10000(n, true),
        _ => {
            let (head, tail) = n.split_at(n.len() - 4);
            let mut s = String::new();
            if head.len() == 5 {
                // 億 (10^8) place, then the 万 group if it is not all zeros.
                let (oku, man) = head.split_at(1);
                s += digit_kana(oku.chars().next().unwrap_or('0'));
                s += "おく";
                let man_reading = below_10000(man, false);
                if !man_reading.is_empty() {
                    s += &man_reading;
                    s += "まん";
                }
            } else {
                s += &below_10000(head, false);
                s += "まん";
            }
            s + &below_10000(tail, false)
        }
    }
}

/// Reading of up to four digits; "" for all zeros. `stand_alone` distinguishes せん (1000 on its
/// own) from いっせん (1000 inside a larger number), as misaki does.
fn below_10000(digits: &str, stand_alone: bool) -> String {
    let d: Vec<u8> = digits
        .trim_start_matches('0')
        .bytes()
        .map(|b| b - b'0')
        .collect();
    let mut s = String::new();
    let places = d.len();
    for (i, &digit) in d.iter().enumerate() {
        let place = places - 1 - i;
        if digit == 0 {
            continue;
        }
        let reading = match (place, digit) {
            (3, 1) if stand_alone => "せん",
            (3, 1) => "いっせん",
            (3, 3) => "さんぜん",
            (3, 8) => "はっせん",
            (2, 1) => "ひゃく",
            (2, 3) => "さんびゃく",
            (2, 6) => "ろっぴゃく",
            (2, 8) => "はっぴゃく",
            (1, 1) => "じゅう",
            (0, _) => digit_kana((b'0' + digit) as char),
            (_, _) => {
                s += digit_kana((b'0' + digit) as char);
                match place {
                    3 => "せん",
                    2 => "ひゃく",
                    _ => "じゅう",
                }
            }
        };
        s += reading;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_numbers_like_misaki() {
        for (digits, kana) in [
            ("0", "ゼロ"),
            ("007", "なな"),
            ("10", "じゅう"),
            ("15", "じゅうご"),
            ("20", "にじゅう"),
            ("100", "ひゃく"),
            ("105", "ひゃくご"),
            ("333", "さんびゃくさんじゅうさん"),
            ("600", "ろっぴゃく"),
            ("1000", "せん"),
            ("2024", "にせんにじゅうよん"),
            ("3800", "さんぜんはっぴゃく"),
            ("10000", "いちまん"),
            ("11000", "いちまんいっせん"),
            ("250000", "にじゅうごまん"),
            ("100000000", "いちおく"),
            ("120003000", "いちおくにせんまんさんぜん"),
            ("100000005", "いちおくご"),
        ] {
            assert_eq!(number_kana(digits), kana, "{digits}");
        }
    }

    #[test]
    fn normalizes_width_numbers_and_ranges() {
        assert_eq!(normalize_text("3時15分"), " さん時 じゅうご分");
        assert_eq!(normalize_text("〜１０"), "から じゅう");
        assert_eq!(normalize_text("ｶﾀｶﾅとＡＢＣ"), "カタカナとABC");
        assert_eq!(normalize_text("ㇰ"), "ク");
        assert_eq!(
            normalize_text("1234567890"),
            " いち に さん よん ご ろく なな はち きゅう ゼロ"
        );
    }
}
