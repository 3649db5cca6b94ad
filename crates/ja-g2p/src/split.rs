//! Cutting a phoneme string into pieces the model accepts (Kokoro: 510 tokens, one token per
//! character), preferring sentence ends, then clause marks, then word boundaries.

/// Boundaries tried in order: sentence ends, clause marks, spaces between words.
const BOUNDARY_LEVELS: [&str; 3] = [".!?", ",:;—…", " "];

/// Splits `phonemes` into pieces of at most `max_tokens` characters (a `max_tokens` of 0 counts
/// as 1). Cuts after sentence punctuation where possible, else after clause punctuation, else at
/// a space; a single word longer than `max_tokens` is cut inside. Pieces are trimmed and never
/// empty; their concatenation with single spaces gives the input back up to whitespace.
pub fn split_phonemes(phonemes: &str, max_tokens: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    split_at_level(phonemes.trim(), max_tokens.max(1), 0, &mut pieces);
    pieces
}

fn token_count(s: &str) -> usize {
    s.chars().count()
}

fn split_at_level(text: &str, max_tokens: usize, level: usize, pieces: &mut Vec<String>) {
    if text.is_empty() {
        return;
    }
    if token_count(text) <= max_tokens {
        pieces.push(text.to_string());
        return;
    }
    let Some(boundaries) = BOUNDARY_LEVELS.get(level) else {
        let chars: Vec<char> = text.chars().collect();
        pieces.extend(
            chars
                .chunks(max_tokens)
                .map(|c| c.iter().collect::<String>().trim().to_string())
                .filter(|p| !p.is_empty()),
        );
        return;
    };
    // Greedily pack units (text up to and including a boundary) into pieces.
    let mut current = String::new();
    for unit in units(text, boundaries) {
        let candidate = format!("{current}{unit}");
        if token_count(candidate.trim()) <= max_tokens {
            current = candidate;
            continue;
        }
        push_trimmed(&mut current, pieces);
        if token_count(unit.trim()) <= max_tokens {
            current = unit.to_string();
        } else {
            split_at_level(unit.trim(), max_tokens, level + 1, pieces);
        }
    }
    push_trimmed(&mut current, pieces);
}

fn push_trimmed(current: &mut String, pieces: &mut Vec<String>) {
    let piece = current.trim();
    if !piece.is_empty() {
        pieces.push(piece.to_string());
    }
    current.clear();
}

/// `text` cut after each boundary character (a closing quote stays with its sentence).
fn units<'a>(text: &'a str, boundaries: &str) -> Vec<&'a str> {
    let mut units = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if boundaries.contains(c) {
            let mut end = i + c.len_utf8();
            while let Some(&(j, q)) = chars.peek() {
                if !"”»\"".contains(q) {
                    break;
                }
                end = j + q.len_utf8();
                chars.next();
            }
            units.push(&text[start..end]);
            start = end;
        }
    }
    if start < text.len() {
        units.push(&text[start..]);
    }
    units
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lens(pieces: &[String]) -> Vec<usize> {
        pieces.iter().map(|p| token_count(p)).collect()
    }

    #[test]
    fn short_text_is_one_piece() {
        assert_eq!(split_phonemes(" kʲoː βa. ", 510), vec!["kʲoː βa."]);
        assert!(split_phonemes("   ", 510).is_empty());
    }

    #[test]
    fn prefers_sentence_ends() {
        let text = "aaa bbb. ccc, ddd. eee fff?";
        assert_eq!(
            split_phonemes(text, 18),
            vec!["aaa bbb. ccc, ddd.", "eee fff?"]
        );
        assert_eq!(
            split_phonemes(text, 10),
            vec!["aaa bbb.", "ccc, ddd.", "eee fff?"]
        );
    }

    #[test]
    fn falls_back_to_clauses_then_words_then_characters() {
        assert_eq!(
            split_phonemes("aaa bbb, ccc ddd.", 9),
            vec!["aaa bbb,", "ccc ddd."]
        );
        assert_eq!(
            split_phonemes("aaa bbb ccc ddd.", 8),
            vec!["aaa bbb", "ccc ddd."]
        );
        assert_eq!(split_phonemes("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(split_phonemes("ab", 0), vec!["a", "b"]);
    }

    #[test]
    fn keeps_closing_quotes_with_their_sentence() {
        assert_eq!(split_phonemes("“aaa.” bbb.", 7), vec!["“aaa.”", "bbb."]);
    }

    #[test]
    fn pieces_fit_and_keep_every_phoneme() {
        let sentence = "kʲoː βa joi teŋkʲi desɨ ne, soɾe de.";
        let text = vec![sentence; 40].join(" ");
        for max in [1, 7, 36, 100, 510] {
            let pieces = split_phonemes(&text, max);
            assert!(
                lens(&pieces).iter().all(|&n| n > 0 && n <= max),
                "{max}: {:?}",
                lens(&pieces)
            );
            let kept: String = pieces
                .concat()
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            let original: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            assert_eq!(kept, original);
        }
    }
}
