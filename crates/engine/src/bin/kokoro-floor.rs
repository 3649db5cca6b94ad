//! The throughput floor: runs a list of utterances through the engine's pool directly (no Node,
//! no binding) with a chosen model and inference layout, and prints utterances per second, decoded
//! frames, times real time and peak RSS. One layout per process, so that peak RSS belongs to that
//! layout alone.
//!
//! ```text
//! kokoro-floor [--model speech-window|untouched] [--slots N] [--threads N]
//!              [--sharing shared|per-slot] [--concurrency N] [--voice NAME] [--assets DIR] UTTERANCES
//! ```
//! UTTERANCES: a `.jsonl` file of `{"text": ..., "phonemes": ...}` objects (phonemes optional:
//! when present the G2P is bypassed) or a text file with one utterance per line.
//! Concurrency defaults to the slot count. WAVs go to a temporary folder, removed at the end.

use kokoro_engine::{
    Engine, EngineOptions, InferenceLayout, ModelVariant, Pool, PoolConfig, SessionSharing, Task,
    TaskOutcome,
};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Samples per model frame: the decoder's hop at 24 kHz (40 frames a second).
const SAMPLES_PER_FRAME: u64 = 600;

struct Arguments {
    model: ModelVariant,
    layout: InferenceLayout,
    sharing: SessionSharing,
    concurrency: Option<usize>,
    voice: String,
    assets_dir: Option<PathBuf>,
    utterances: PathBuf,
}

const USAGE: &str = "usage: kokoro-floor [--model speech-window|untouched] [--slots N] [--threads N] [--sharing shared|per-slot] \
                     [--concurrency N] [--voice NAME] [--assets DIR] UTTERANCES(.jsonl|.txt)";

fn parse_arguments() -> Result<Arguments, String> {
    let mut arguments = Arguments {
        model: ModelVariant::default(),
        layout: InferenceLayout::automatic(),
        sharing: SessionSharing::default(),
        concurrency: None,
        voice: PoolConfig::default().default_voice,
        assets_dir: None,
        utterances: PathBuf::new(),
    };
    let mut words = std::env::args().skip(1);
    let number = |name: &str, value: Option<String>| -> Result<usize, String> {
        value
            .and_then(|value| value.parse().ok())
            .ok_or_else(|| format!("{name} needs a whole number"))
    };
    while let Some(word) = words.next() {
        match word.as_str() {
            "--model" => {
                arguments.model = words.next().ok_or("--model needs a name")?.parse()?;
            }
            "--slots" => arguments.layout.slots = number("--slots", words.next())?,
            "--threads" => arguments.layout.threads_per_slot = number("--threads", words.next())?,
            "--concurrency" => arguments.concurrency = Some(number("--concurrency", words.next())?),
            "--sharing" => {
                arguments.sharing = match words.next().as_deref() {
                    Some("shared") => SessionSharing::SharedSession,
                    Some("per-slot") => SessionSharing::SessionPerSlot,
                    _ => return Err("--sharing is shared or per-slot".into()),
                }
            }
            "--voice" => arguments.voice = words.next().ok_or("--voice needs a name")?,
            "--assets" => {
                arguments.assets_dir = Some(words.next().ok_or("--assets needs a folder")?.into())
            }
            path if !path.starts_with("--") && arguments.utterances.as_os_str().is_empty() => {
                arguments.utterances = path.into();
            }
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    if arguments.utterances.as_os_str().is_empty() {
        return Err("no utterances file given".into());
    }
    Ok(arguments)
}

/// (text, phonemes) pairs from a `.jsonl` or plain text file.
fn read_utterances(path: &PathBuf) -> Result<Vec<(String, Option<String>)>, String> {
    let content =
        std::fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()))?;
    let lines = content.lines().filter(|line| !line.trim().is_empty());
    if path
        .extension()
        .is_some_and(|extension| extension == "jsonl")
    {
        lines
            .map(|line| {
                let object: serde_json::Value =
                    serde_json::from_str(line).map_err(|error| format!("{line}: {error}"))?;
                let text = object["text"].as_str().unwrap_or_default().to_string();
                Ok((text, object["phonemes"].as_str().map(str::to_string)))
            })
            .collect()
    } else {
        Ok(lines.map(|line| (line.trim().to_string(), None)).collect())
    }
}

/// Peak resident set size of this process (VmHWM), in MiB.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("kokoro-floor: {message}\n{USAGE}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let arguments = parse_arguments()?;
    let utterances = read_utterances(&arguments.utterances)?;
    let load_started = Instant::now();
    let options = EngineOptions {
        assets_dir: arguments.assets_dir.clone(),
        model: arguments.model,
        layout: arguments.layout,
        sharing: arguments.sharing,
    };
    let engine = Engine::load(&options).map_err(|error| error.to_string())?;
    if utterances.iter().any(|(_, phonemes)| phonemes.is_none()) {
        // The dictionary loads on first use: count it as loading, not as throughput.
        engine
            .phonemize("日本")
            .map_err(|error| error.to_string())?;
    }
    let load_seconds = load_started.elapsed().as_secs_f64();
    let concurrency = arguments.concurrency.unwrap_or(arguments.layout.slots);
    let config = PoolConfig {
        concurrency,
        timeout: Duration::from_secs(600),
        skip_existing: false,
        default_voice: arguments.voice.clone(),
        ..PoolConfig::default()
    };
    let pool = Pool::new(engine.clone(), config).map_err(|error| error.to_string())?;
    let output_dir = std::env::temp_dir().join(format!("kokoro-floor-{}", std::process::id()));
    let tasks = utterances
        .into_iter()
        .enumerate()
        .map(|(index, (text, phonemes))| Task {
            id: index.to_string(),
            text,
            output_path: output_dir.join(format!("{index}.wav")),
            voice: None,
            speed: None,
            phonemes,
        })
        .collect();
    pool.add_tasks(tasks).map_err(|error| error.to_string())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|error| error.to_string())?;
    let report = runtime
        .block_on(pool.process(|_| {}))
        .map_err(|error| error.to_string())?;
    let _ = std::fs::remove_dir_all(&output_dir);

    let mut audio_seconds = 0.0;
    for task in &report.tasks {
        match &task.outcome {
            TaskOutcome::Generated {
                duration_seconds, ..
            } => audio_seconds += duration_seconds,
            TaskOutcome::Failed { error } => eprintln!("{error}"),
            TaskOutcome::Skipped { .. } => {}
        }
    }
    let wall = report.elapsed.as_secs_f64();
    let decoded_frames = engine.decoded_samples() / SAMPLES_PER_FRAME;
    let sharing = match arguments.sharing {
        SessionSharing::SharedSession => "shared",
        SessionSharing::SessionPerSlot => "per-slot",
    };
    println!(
        "RESULT model={} sharing={sharing} slots={} threads={} concurrency={concurrency} utterances={} failed={} \
         load={load_seconds:.2}s wall={wall:.2}s utt/s={:.3} decoded_frames={decoded_frames} frames/s={:.1} \
         audio={audio_seconds:.1}s xRT={:.2} peakRSS={:.0}MiB",
        arguments.model.name(),
        arguments.layout.slots,
        arguments.layout.threads_per_slot,
        report.tasks.len(),
        report.failed,
        report.tasks.len() as f64 / wall,
        decoded_frames as f64 / wall,
        audio_seconds / wall,
        peak_rss_mib(),
    );
    if report.failed > 0 {
        Err(format!("{} utterances failed", report.failed))
    } else {
        Ok(())
    }
}
