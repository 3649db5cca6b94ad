//! Text normalization before analysis: small katakana phonetic extensions become full kana, NFKC
//! folds width (full-width ASCII and digits to half width, half-width kana to full width), and
//! written forms that no dictionary reads are rewritten into words the analyser reads right:
//! clock times, slash dates, weekdays in brackets, ranges, currency signs, plus and minus signs,
//! units, and digit strings that are not quantities (phone numbers, postal codes).
//!
//! Numbers themselves stay digits: jpreprocess's digit rules (OpenJTalk's) read them with the
//! counter that follows (3本 サンボン, 10分 ジュップン, 2日 フツカ, 1,000円 センエン, 1.5 イッテンゴ).
//! Every pattern is a `regex` (finite automata, linear time in the text's length).
use std::sync::LazyLock;

use regex::{Captures, Regex};
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

/// Digits read one by one, as phone numbers are read (2 and 5 lengthened, 0 ゼロ, 4 ヨン,
/// 7 ナナ, 9 キュー), in katakana so that the analyser keeps them as written. A hyphen between
/// groups is a pause (、), as in readings-corpus convention; some textbooks say の there.
const DIGIT_BY_DIGIT: [&str; 10] = [
    "ゼロ",
    "イチ",
    "ニー",
    "サン",
    "ヨン",
    "ゴー",
    "ロク",
    "ナナ",
    "ハチ",
    "キュー",
];

/// Unit symbols after a number, longest first, and how they are read.
const UNITS: &[(&str, &str)] = &[
    ("km2", "平方キロメートル"),
    ("m2", "平方メートル"),
    ("km", "キロメートル"),
    ("kg", "キログラム"),
    ("cm", "センチメートル"),
    ("mm", "ミリメートル"),
    ("mg", "ミリグラム"),
    ("ml", "ミリリットル"),
    ("mL", "ミリリットル"),
    ("kcal", "キロカロリー"),
    ("kHz", "キロヘルツ"),
    ("Hz", "ヘルツ"),
    ("kW", "キロワット"),
    ("GB", "ギガバイト"),
    ("MB", "メガバイト"),
    ("KB", "キロバイト"),
    ("TB", "テラバイト"),
    ("m", "メートル"),
    ("g", "グラム"),
    ("l", "リットル"),
    ("L", "リットル"),
    ("W", "ワット"),
    ("V", "ボルト"),
];

/// A number as written in course text: digits, optionally grouped by commas, optionally with
/// decimals.
const NUMBER: &str = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?";

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("invalid built-in pattern {pattern}: {e}"))
}

/// Normalizes `text` for the analyser.
pub fn normalize_text(text: &str) -> String {
    let extended: String = text
        .chars()
        .map(|c| {
            KATAKANA_PHONETIC_EXTENSIONS
                .iter()
                .find(|(small, _)| *small == c)
                .map_or(c, |&(_, full)| full)
        })
        .collect();
    let folded: String = extended.nfkc().collect();
    rewrite_written_forms(&folded)
}

fn rewrite_written_forms(text: &str) -> String {
    static POSTAL_CODE: LazyLock<Regex> = LazyLock::new(|| regex(r"〒\s*(\d{3})-(\d{4})"));
    static PHONE_NUMBER: LazyLock<Regex> = LazyLock::new(|| {
        regex(r"(?:^|[^\d,.\-])(0\d{1,4}(?:-\d{1,4}){1,2}-\d{3,4}|\(0\d{1,4}\)\d{1,4}-\d{4})")
    });
    static LONG_DIGIT_STRING: LazyLock<Regex> =
        LazyLock::new(|| regex(r"(?:^|[^\d,.])(0\d{3,}|\d{17,})"));
    static DATE_YMD: LazyLock<Regex> =
        LazyLock::new(|| regex(r"(?:^|[^\d/.\-])([12]\d{3})([/.\-])(\d{1,2})([/.\-])(\d{1,2})"));
    static DATE_MD: LazyLock<Regex> = LazyLock::new(|| regex(r"(?:^|[^\d/])(\d{1,2})/(\d{1,2})"));
    static WEEKDAY: LazyLock<Regex> =
        LazyLock::new(|| regex(r"日\s*\(([月火水木金土日])(?:曜日?)?\)"));
    static TIME: LazyLock<Regex> =
        LazyLock::new(|| regex(r"(?:^|[^\d:])(\d{1,2}):(\d{2})(?::(\d{2}))?"));
    static CURRENCY_BEFORE: LazyLock<Regex> =
        LazyLock::new(|| regex(&format!(r"([¥$€£])\s*({NUMBER})")));
    static RANGE: LazyLock<Regex> =
        LazyLock::new(|| regex(&format!(r"({NUMBER})\s*[〜~\-–—−]\s*(\d)")));
    static RANGE_START: LazyLock<Regex> = LazyLock::new(|| regex(r"[〜~](\d)"));
    static SIGN: LazyLock<Regex> =
        LazyLock::new(|| regex(&format!(r"(^|[^\dA-Za-z)）])([+\-−±])({NUMBER})")));
    static UNIT: LazyLock<Regex> = LazyLock::new(|| {
        let units: Vec<&str> = UNITS.iter().map(|(symbol, _)| *symbol).collect();
        regex(&format!(
            r"({NUMBER})\s*({})(?:([^A-Za-z\d])|$)",
            units.join("|")
        ))
    });
    static DEGREES: LazyLock<Regex> = LazyLock::new(|| regex(&format!(r"({NUMBER})\s*°C?")));

    // A pattern consumes the character before it as context; the one after it is checked
    // (`ends_before`) without being consumed, so that "9:00〜17:00" has two matches.
    let text = POSTAL_CODE.replace_all(text, |c: &Captures| {
        if !ends_before(text, c, |next| !next.is_ascii_digit()) {
            return c[0].to_string();
        }
        format!(
            "郵便番号 {}、{}",
            digit_by_digit(&c[1]),
            digit_by_digit(&c[2])
        )
    });
    let text = PHONE_NUMBER.replace_all(&text, |c: &Captures| {
        let leading = leading_context(c, 1);
        let groups: Vec<String> = c[1]
            .split(['-', '(', ')'])
            .filter(|g| !g.is_empty())
            .map(digit_by_digit)
            .collect();
        format!("{leading}{}", groups.join("、"))
    });
    let text = LONG_DIGIT_STRING.replace_all(&text, |c: &Captures| {
        format!("{}{}", leading_context(c, 1), digit_by_digit(&c[1]))
    });
    let text = DATE_YMD.replace_all(&text, |c: &Captures| {
        let (month, day) = (number(&c[3]), number(&c[5]));
        if c[2] != c[4] || !is_date(month, day) || !ends_before(&text, c, not_date_like) {
            return c[0].to_string();
        }
        format!("{}{}年{month}月{day}日", leading_context(c, 1), &c[1])
    });
    let text = DATE_MD.replace_all(&text, |c: &Captures| {
        let (month, day) = (number(&c[1]), number(&c[2]));
        if !is_date(month, day) || !ends_before(&text, c, not_date_like) {
            return c[0].to_string();
        }
        format!("{}{month}月{day}日", leading_context(c, 1))
    });
    let text = WEEKDAY.replace_all(&text, "日 ${1}曜日");
    let text = TIME.replace_all(&text, |c: &Captures| {
        let (hours, minutes) = (number(&c[1]), number(&c[2]));
        let seconds = c.get(3).map(|s| number(s.as_str()));
        let is_time = hours <= 30 && minutes <= 59 && seconds.is_none_or(|s| s <= 59);
        if !is_time || !ends_before(&text, c, |next| !next.is_ascii_digit() && next != ':') {
            return c[0].to_string();
        }
        let mut spoken = format!("{}{hours}時", leading_context(c, 1));
        if minutes > 0 || seconds.is_some_and(|s| s > 0) {
            spoken += &format!("{minutes}分");
        }
        if let Some(seconds) = seconds.filter(|&s| s > 0) {
            spoken += &format!("{seconds}秒");
        }
        spoken
    });
    let text = CURRENCY_BEFORE.replace_all(&text, |c: &Captures| {
        let unit = match &c[1] {
            "¥" => "円",
            "$" => "ドル",
            "€" => "ユーロ",
            _ => "ポンド",
        };
        format!("{}{unit}", &c[2])
    });
    let text = RANGE.replace_all(&text, "${1}から${2}");
    let text = RANGE_START.replace_all(&text, "から${1}");
    let text = SIGN.replace_all(&text, |c: &Captures| {
        let sign = match &c[2] {
            "+" => "プラス",
            "±" => "プラスマイナス",
            _ => "マイナス",
        };
        format!("{}{sign}{}", &c[1], &c[3])
    });
    let text = DEGREES.replace_all(&text, "${1}度");
    let text = UNIT.replace_all(&text, |c: &Captures| {
        let reading = UNITS
            .iter()
            .find(|(symbol, _)| *symbol == &c[2])
            .map_or("", |(_, reading)| reading);
        let after = c.get(3).map_or("", |m| m.as_str());
        format!("{}{reading}{after}", &c[1])
    });
    text.into_owned()
}

/// The character before the match's group `group` that the pattern consumed as context.
fn leading_context<'t>(c: &Captures<'t>, group: usize) -> &'t str {
    let whole = c.get(0).map_or("", |m| m.as_str());
    let start = c.get(group).map_or(0, |m| m.start()) - c.get(0).map_or(0, |m| m.start());
    &whole[..start]
}

/// Whether the match is at the end of `text` or followed by a character `allowed` accepts.
fn ends_before(text: &str, c: &Captures, allowed: impl Fn(char) -> bool) -> bool {
    let end = c.get(0).map_or(text.len(), |m| m.end());
    text[end..].chars().next().is_none_or(allowed)
}

fn not_date_like(next: char) -> bool {
    !next.is_ascii_digit() && !"/.-".contains(next)
}

fn number(digits: &str) -> u32 {
    digits.parse().unwrap_or(u32::MAX)
}

fn is_date(month: u32, day: u32) -> bool {
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

fn digit_by_digit(digits: &str) -> String {
    digits
        .chars()
        .filter_map(|d| d.to_digit(10))
        .map(|d| DIGIT_BY_DIGIT[d as usize])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_width_and_small_katakana() {
        assert_eq!(normalize_text("ｶﾀｶﾅとＡＢＣ"), "カタカナとABC");
        assert_eq!(normalize_text("ㇰ"), "ク");
        assert_eq!(normalize_text("３本"), "3本");
    }

    #[test]
    fn rewrites_times_dates_and_weekdays() {
        assert_eq!(normalize_text("10:30に"), "10時30分に");
        assert_eq!(normalize_text("7:05"), "7時5分");
        assert_eq!(normalize_text("12:00"), "12時");
        assert_eq!(normalize_text("2026/12/4"), "2026年12月4日");
        assert_eq!(normalize_text("12/25"), "12月25日");
        assert_eq!(normalize_text("13/25"), "13/25");
        assert_eq!(
            normalize_text("2026年12月4日（金）"),
            "2026年12月4日 金曜日"
        );
        assert_eq!(normalize_text("25:61"), "25:61");
    }

    #[test]
    fn rewrites_ranges_currency_signs_and_units() {
        assert_eq!(normalize_text("3〜5人"), "3から5人");
        assert_eq!(normalize_text("3-5人"), "3から5人");
        assert_eq!(normalize_text("〜10"), "から10");
        assert_eq!(normalize_text("¥1,000"), "1,000円");
        assert_eq!(normalize_text("$5"), "5ドル");
        assert_eq!(normalize_text("€20"), "20ユーロ");
        assert_eq!(normalize_text("-5度"), "マイナス5度");
        assert_eq!(normalize_text("気温は+3"), "気温はプラス3");
        assert_eq!(normalize_text("30℃"), "30度");
        assert_eq!(normalize_text("5km"), "5キロメートル");
        assert_eq!(normalize_text("3kgの"), "3キログラムの");
        assert_eq!(normalize_text("100m走"), "100メートル走");
        assert_eq!(normalize_text("5mg"), "5ミリグラム");
        assert_eq!(normalize_text("A4"), "A4");
    }

    #[test]
    fn reads_phone_numbers_and_postal_codes_digit_by_digit() {
        assert_eq!(
            normalize_text("090-1234-5678です"),
            "ゼロキューゼロ、イチニーサンヨン、ゴーロクナナハチです"
        );
        assert_eq!(
            normalize_text("〒100-0001"),
            "郵便番号 イチゼロゼロ、ゼロゼロゼロイチ"
        );
        assert_eq!(normalize_text("0120"), "ゼロイチニーゼロ");
    }
}
