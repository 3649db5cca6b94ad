//! jpreprocess's dictionary builder rejects rows whose accent/mora field ("acc/size", column 14)
//! disagrees with the mora count of the pronunciation (column 13), or whose pronunciation it
//! cannot parse. naist-jdic as shipped by pyopenjtalk-plus has both kinds; rewrite them.
use jpreprocess_core::pronunciation::Pronunciation;

const PRONUNCIATION: usize = 12;
const ACCENT_MORA_SIZE: usize = 13;

#[derive(Debug, Default, PartialEq)]
pub struct FixCounts {
    pub rows: usize,
    pub mora_size_fixed: usize,
    pub pronunciation_dropped: usize,
}

/// Reads MeCab lexicon CSV and writes it back with consistent mora counts. A row with several
/// accent phrases (fields joined by ':') is fixed phrase by phrase. Unparsable pronunciations
/// become "*" with "*/*", so jpreprocess falls back to the reading as it does for unknown words.
pub fn fix_lexicon(csv_in: &[u8]) -> Result<(Vec<u8>, FixCounts), String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(csv_in);
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::with_capacity(csv_in.len()));
    let mut counts = FixCounts::default();
    for record in reader.records() {
        let record = record.map_err(|e| format!("lexicon CSV: {e}"))?;
        counts.rows += 1;
        let mut row: Vec<String> = record.iter().map(str::to_string).collect();
        if row.len() > ACCENT_MORA_SIZE {
            match fixed_accent_mora_sizes(&row[PRONUNCIATION], &row[ACCENT_MORA_SIZE]) {
                Some(fixed) => {
                    if fixed != row[ACCENT_MORA_SIZE] {
                        counts.mora_size_fixed += 1;
                        row[ACCENT_MORA_SIZE] = fixed;
                    }
                }
                None => {
                    counts.pronunciation_dropped += 1;
                    row[PRONUNCIATION] = "*".into();
                    row[ACCENT_MORA_SIZE] = "*/*".into();
                }
            }
        }
        writer
            .write_record(&row)
            .map_err(|e| format!("lexicon CSV: {e}"))?;
    }
    let out = writer
        .into_inner()
        .map_err(|e| format!("lexicon CSV: {e}"))?;
    Ok((out, counts))
}

/// The accent/mora field with every mora count recomputed from its pronunciation; `None` when a
/// pronunciation does not parse or the phrase counts differ.
fn fixed_accent_mora_sizes(pronunciations: &str, accent_mora_sizes: &str) -> Option<String> {
    let prons: Vec<&str> = pronunciations.split(':').collect();
    let fields: Vec<&str> = accent_mora_sizes.split(':').collect();
    if prons.len() != fields.len() {
        return None;
    }
    let mut fixed = Vec::with_capacity(fields.len());
    for (pron, field) in prons.iter().zip(&fields) {
        let size = Pronunciation::parse(pron, 0).ok()?.mora_size();
        match field.split_once('/') {
            Some((accent, stated))
                if stated != "*" && stated.parse::<usize>().ok() != Some(size) =>
            {
                let accent = accent.parse::<usize>().unwrap_or(0).min(size);
                fixed.push(format!("{accent}/{size}"));
            }
            _ => fixed.push(field.to_string()),
        }
    }
    Some(fixed.join(":"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recomputes_wrong_mora_sizes() {
        let csv = "東京,1,1,100,名詞,固有名詞,地域,一般,*,*,東京,トウキョウ,トーキョー,0/5,C1\n";
        let (out, counts) = fix_lexicon(csv.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), csv.replace("0/5", "0/4"));
        assert_eq!(
            counts,
            FixCounts {
                rows: 1,
                mora_size_fixed: 1,
                pronunciation_dropped: 0
            }
        );
    }

    #[test]
    fn keeps_correct_rows_and_drops_unparsable_pronunciations() {
        let ok = "木,1,1,100,名詞,一般,*,*,*,*,木,キ,キ,1/1,C1\n";
        let bad = "x,1,1,100,名詞,一般,*,*,*,*,x,x,キxyz,1/1,C1\n";
        let (out, counts) = fix_lexicon(format!("{ok}{bad}").as_bytes()).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.starts_with(ok));
        assert!(out.ends_with("x,1,1,100,名詞,一般,*,*,*,*,x,x,*,*/*,C1\n"));
        assert_eq!(
            counts,
            FixCounts {
                rows: 2,
                mora_size_fixed: 0,
                pronunciation_dropped: 1
            }
        );
    }
}
