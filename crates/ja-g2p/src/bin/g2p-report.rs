//! g2p-report <dict dir> [reference.json ...]
//!
//! Compares `JaG2p::phonemize` with reference phonemes (default: the crate's
//! tests/data/ja_g2p_reference_{3040,30}.json and ja_g2p_course_reference.json) and prints the dictionary load time, the match
//! rate, every mismatch, and the per-sentence analysis time. Mismatches listed in
//! tests/data/corrections.json (where the reference is wrong and we are right) are counted apart.
//! The reference's « » (misaki's parentheses) are left out of the comparison: Kokoro has no id
//! for them, so we never emit them.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ja_g2p::JaG2p;
use serde_json::Value;

const TIMING_PASSES: usize = 3;

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

fn read_json(path: &Path) -> Result<Vec<Value>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    match serde_json::from_str(&text) {
        Ok(Value::Array(items)) => Ok(items),
        Ok(_) => Err(format!("{}: expected a JSON array", path.display())),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn field<'a>(item: &'a Value, name: &str) -> &'a str {
    item[name].as_str().unwrap_or_default()
}

fn report(dict_dir: &Path, references: &[PathBuf], corrections: &Path) -> Result<(), String> {
    let started = Instant::now();
    let g2p = JaG2p::load(dict_dir).map_err(|e| e.to_string())?;
    println!(
        "dictionary load: {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    // text -> (reference, ours) of hand-checked corrections
    let corrections: HashMap<String, (String, String)> = read_json(corrections)?
        .iter()
        .map(|c| {
            (
                field(c, "text").to_string(),
                (
                    field(c, "reference").to_string(),
                    field(c, "ours").to_string(),
                ),
            )
        })
        .collect();

    for path in references {
        let items = read_json(path)?;
        let (mut matched, mut corrected, mut mismatches) = (0, 0, Vec::new());
        let mut times = Vec::with_capacity(items.len());
        for item in &items {
            let (text, want) = (
                field(item, "text"),
                without_guillemets(field(item, "phonemes")),
            );
            let want = want.as_str();
            let t = Instant::now();
            let got = g2p
                .phonemize(text)
                .unwrap_or_else(|e| format!("ERROR: {e}"));
            times.push(t.elapsed());
            if got == want {
                matched += 1;
            } else if corrections
                .get(text)
                .is_some_and(|(r, o)| r == want && *o == got)
            {
                corrected += 1;
            } else {
                mismatches.push(format!("  {text}\n    ref: {want}\n    got: {got}"));
            }
        }
        for _ in 1..TIMING_PASSES {
            for (item, slot) in items.iter().zip(times.iter_mut()) {
                let t = Instant::now();
                let _ = g2p.phonemize(field(item, "text"));
                *slot = (*slot).min(t.elapsed());
            }
        }
        let n = items.len().max(1) as f64;
        println!("\n{}: {} texts", path.display(), items.len());
        println!(
            "  identical to reference: {matched} ({:.2}%)",
            100.0 * matched as f64 / n
        );
        println!("  reference wrong, ours right (corrections.json): {corrected}");
        println!(
            "  right (identical + corrected): {:.2}%",
            100.0 * (matched + corrected) as f64 / n
        );
        println!("  mismatches: {}", mismatches.len());
        for m in &mismatches {
            println!("{m}");
        }
        print_times(&mut times);
    }
    Ok(())
}

fn without_guillemets(phonemes: &str) -> String {
    phonemes
        .replace(['«', '»'], "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Per-sentence phonemize time (best of the passes for each sentence).
fn print_times(times: &mut [Duration]) {
    if times.is_empty() {
        return;
    }
    times.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let mean = times.iter().map(|&d| us(d)).sum::<f64>() / times.len() as f64;
    let at = |q: f64| us(times[((times.len() - 1) as f64 * q) as usize]);
    println!(
        "  per-sentence time (µs): mean {mean:.0}, median {:.0}, p95 {:.0}, max {:.0}",
        at(0.5),
        at(0.95),
        at(1.0)
    );
}
