//! timings-check <folder>: checks every `<file>.wav.timings.json` under the folder against its
//! WAV (`kokoro_engine::timings::check_against_audio`: times in order and inside the file, one
//! entry per mora) and measures the audio at each 、/。 between words: whether it pauses where the
//! timings put the mark. Exit 1 when a file fails the check, 2 on bad usage.

use kokoro_engine::timings::{Timings, check_against_audio};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn sidecars(folder: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(folder)? {
        let path = entry?.path();
        if path.is_dir() {
            sidecars(&path, found)?;
        } else if path.to_string_lossy().ends_with(".wav.timings.json") {
            found.push(path);
        }
    }
    Ok(())
}

fn check(sidecar: &Path) -> Result<Vec<kokoro_engine::timings::PauseLevels>, String> {
    let timings: Timings =
        serde_json::from_slice(&std::fs::read(sidecar).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    let wav = PathBuf::from(sidecar.to_string_lossy().trim_end_matches(".timings.json"));
    let mut reader = hound::WavReader::open(&wav).map_err(|e| format!("{}: {e}", wav.display()))?;
    let rate = reader.spec().sample_rate;
    let audio: Vec<f32> = reader
        .samples::<i16>()
        .map(|s| s.map(|s| f32::from(s) / 32768.0))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    check_against_audio(&timings, &audio, rate)
}

fn main() -> ExitCode {
    let Some(folder) = std::env::args().nth(1) else {
        eprintln!("usage: timings-check <folder>");
        return ExitCode::from(2);
    };
    let mut found = Vec::new();
    if let Err(error) = sidecars(Path::new(&folder), &mut found) {
        eprintln!("{folder}: {error}");
        return ExitCode::from(2);
    }
    found.sort();
    let (mut failed, mut pauses, mut quiet, mut ratios) = (0, 0, 0, Vec::new());
    for sidecar in &found {
        match check(sidecar) {
            Ok(levels) => {
                for level in levels {
                    let ratio = level.rms / level.before_rms.min(level.after_rms);
                    println!(
                        "{}\t{}\t{:.3}-{:.3} s\tRMS {:.4} (word before {:.4}, after {:.4}; ratio {ratio:.3}){}",
                        sidecar.display(),
                        level.pause,
                        level.start,
                        level.end,
                        level.rms,
                        level.before_rms,
                        level.after_rms,
                        if level.is_quiet() {
                            ""
                        } else {
                            "\tno pause in the audio"
                        }
                    );
                    pauses += 1;
                    quiet += usize::from(level.is_quiet());
                    ratios.push(ratio);
                }
            }
            Err(problem) => {
                failed += 1;
                println!("{}\tFAILED: {problem}", sidecar.display());
            }
        }
    }
    ratios.sort_by(f64::total_cmp);
    let median = ratios.get(ratios.len() / 2).copied().unwrap_or(f64::NAN);
    let worst = ratios.last().copied().unwrap_or(f64::NAN);
    println!(
        "{} files, {failed} failed; {pauses} marks between words, {quiet} with a pause in the audio; RMS there / the quieter neighbouring word's: median {median:.3}, highest {worst:.3}",
        found.len()
    );
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
