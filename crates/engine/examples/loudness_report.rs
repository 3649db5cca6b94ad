//! Sizes and loudness of generated audio files, as the README reports them.
//!
//! `cargo run --release -p kokoro-engine --example loudness_report -- [--target -16] DIR...`
//! decodes every .wav/.mp3/.opus/.flac under each DIR (`decode.rs`: symphonia; libopus for Opus
//! packets), measures EBU R128 integrated loudness and true peak, and prints the
//! bytes, the audio seconds, and over clips of at least 1 s the 5th, 50th and 95th percentile
//! loudness, their spread, the largest distance from `--target` and the highest true peak.

use kokoro_engine::decode::decode_file;
use kokoro_engine::loudness::measure;
use std::path::{Path, PathBuf};

const AUDIO_EXTENSIONS: [&str; 4] = ["wav", "mp3", "opus", "flac"];

fn audio_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            audio_files(&path, found);
        } else if path
            .extension()
            .and_then(|extension| extension.to_str())
            .is_some_and(|extension| AUDIO_EXTENSIONS.contains(&extension))
        {
            found.push(path);
        }
    }
}

fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    let index = ((sorted.len() - 1) as f64 * fraction).round() as usize;
    sorted[index]
}

fn main() {
    let mut arguments = std::env::args().skip(1).peekable();
    let mut target: Option<f64> = None;
    let mut dirs = Vec::new();
    while let Some(argument) = arguments.next() {
        if argument == "--target" {
            target = arguments.next().and_then(|value| value.parse().ok());
        } else {
            dirs.push(PathBuf::from(argument));
        }
    }
    for dir in dirs {
        let mut files = Vec::new();
        audio_files(&dir, &mut files);
        files.sort();
        let mut bytes = 0u64;
        let mut seconds = 0.0;
        let mut loudness = Vec::new();
        let mut highest_peak = f64::NEG_INFINITY;
        for file in &files {
            bytes += std::fs::metadata(file)
                .map(|metadata| metadata.len())
                .unwrap_or(0);
            let decoded = decode_file(file).unwrap_or_else(|error| panic!("{error}"));
            seconds += decoded.seconds();
            if decoded.seconds() < 1.0 {
                continue;
            }
            let measured = measure(&decoded.samples, decoded.sample_rate)
                .unwrap_or_else(|error| panic!("{}: {error}", file.display()));
            loudness.push(measured.lufs);
            highest_peak = highest_peak.max(measured.true_peak_dbtp);
        }
        loudness.sort_by(f64::total_cmp);
        println!(
            "{}: {} files, {:.1} s of audio, {} bytes ({:.1} kbit/s)",
            dir.display(),
            files.len(),
            seconds,
            bytes,
            bytes as f64 * 8.0 / seconds.max(f64::MIN_POSITIVE) / 1000.0
        );
        if loudness.is_empty() {
            continue;
        }
        let (p5, p50, p95) = (
            percentile(&loudness, 0.05),
            percentile(&loudness, 0.5),
            percentile(&loudness, 0.95),
        );
        println!(
            "  {} clips >= 1 s: LUFS p5 {p5:.2}, median {p50:.2}, p95 {p95:.2}, spread {:.2} LU, min {:.2}, max {:.2}, highest true peak {highest_peak:.2} dBTP",
            loudness.len(),
            p95 - p5,
            loudness[0],
            loudness[loudness.len() - 1],
        );
        if let Some(target) = target {
            let worst = loudness
                .iter()
                .map(|lufs| (lufs - target).abs())
                .fold(0.0, f64::max);
            println!("  largest distance from {target} LUFS: {worst:.2} LU");
        }
    }
}
