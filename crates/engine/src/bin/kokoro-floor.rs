//! The throughput floor: runs a list of utterances through the engine's pool directly (no Node,
//! no binding) with a chosen model and inference layout, and prints utterances per second, decoded
//! frames, times real time and peak RSS. One layout per process, so that peak RSS belongs to that
//! layout alone.
//!
//! ```text
//! kokoro-floor [--model speech-window|untouched] [--slots N] [--threads N]
//!              [--sharing shared|per-slot] [--concurrency N] [--voice NAME] [--speed X]
//!              [--pauses COMMA_MS,SENTENCE_MS] [--assets DIR] [--out DIR] UTTERANCES
//! ```
//! UTTERANCES: a `.jsonl` file of `{"id": ..., "text": ..., "phonemes": ...}` objects (id and
//! phonemes optional: when phonemes are present the G2P is bypassed) or a text file with one
//! utterance per line. Concurrency defaults to the slot count. WAVs go to a temporary folder,
//! removed at the end, or with `--out` to `DIR/<id or line index>.wav`, kept (the intelligibility
//! check in `bench/asr` listens to them). `--pauses` sets the silence at punctuation between words
//! (default: the pool's; `0,0`: as the model speaks).
//! `--sharing per-slot` needs the `session-per-slot` feature
//! (`cargo build --release -p kokoro-engine --features session-per-slot --bin kokoro-floor`).

use kokoro_engine::{
    Engine, EngineOptions, InferenceLayout, ModelVariant, OutputOptions, PauseLengths, Pool,
    PoolConfig, SessionSharing, Task, TaskOutcome,
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
    speed: Option<f32>,
    pauses: PauseLengths,
    assets_dir: Option<PathBuf>,
    output_dir: Option<PathBuf>,
    utterances: PathBuf,
}

const USAGE: &str = "usage: kokoro-floor [--model speech-window|untouched] [--slots N] [--threads N] [--sharing shared|per-slot] \
                     [--concurrency N] [--voice NAME] [--speed X] [--pauses COMMA_MS,SENTENCE_MS] [--assets DIR] [--out DIR] UTTERANCES(.jsonl|.txt)";

fn parse_arguments() -> Result<Arguments, String> {
    let mut arguments = Arguments {
        model: ModelVariant::default(),
        layout: InferenceLayout::automatic(),
        sharing: SessionSharing::default(),
        concurrency: None,
        voice: PoolConfig::default().default_voice,
        speed: None,
        pauses: PauseLengths::default(),
        assets_dir: None,
        output_dir: None,
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
                    #[cfg(feature = "session-per-slot")]
                    Some("per-slot") => SessionSharing::SessionPerSlot,
                    #[cfg(not(feature = "session-per-slot"))]
                    Some("per-slot") => {
                        return Err("--sharing per-slot needs the session-per-slot feature".into());
                    }
                    _ => return Err("--sharing is shared or per-slot".into()),
                }
            }
            "--voice" => arguments.voice = words.next().ok_or("--voice needs a name")?,
            "--speed" => {
                let value = words.next().and_then(|value| value.parse().ok());
                arguments.speed = Some(value.ok_or("--speed needs a number")?);
            }
            "--pauses" => {
                let value = words.next().unwrap_or_default();
                let lengths: Vec<u32> = value
                    .split(',')
                    .map(|ms| ms.trim().parse())
                    .collect::<Result<_, _>>()
                    .map_err(|_| format!("--pauses needs COMMA_MS,SENTENCE_MS, not {value:?}"))?;
                let [comma_ms, sentence_ms] = lengths[..] else {
                    return Err(format!(
                        "--pauses needs COMMA_MS,SENTENCE_MS, not {value:?}"
                    ));
                };
                arguments.pauses = PauseLengths {
                    comma_ms,
                    sentence_ms,
                };
                arguments.pauses.check()?;
            }
            "--out" => {
                arguments.output_dir = Some(words.next().ok_or("--out needs a folder")?.into())
            }
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

/// An utterance to speak: its id (the WAV's name), text and, optionally, phonemes.
struct Utterance {
    id: Option<String>,
    text: String,
    phonemes: Option<String>,
}

/// The utterances of a `.jsonl` or plain text file.
fn read_utterances(path: &PathBuf) -> Result<Vec<Utterance>, String> {
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
                let field = |name: &str| object[name].as_str().map(str::to_string);
                Ok(Utterance {
                    id: field("id"),
                    text: field("text").unwrap_or_default(),
                    phonemes: field("phonemes"),
                })
            })
            .collect()
    } else {
        Ok(lines
            .map(|line| Utterance {
                id: None,
                text: line.trim().to_string(),
                phonemes: None,
            })
            .collect())
    }
}

/// CPU seconds (user + system) this process has used so far: `/proc/self/stat` fields 14 and 15,
/// in clock ticks of 1/100 s (Linux's `USER_HZ`).
fn process_cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            // Fields after the command name, which is in parentheses and may hold spaces.
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            let ticks = |index: usize| fields.get(index)?.parse::<f64>().ok();
            Some((ticks(11)? + ticks(12)?) / 100.0)
        })
        .unwrap_or(0.0)
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
    // SAFETY: first thing in main, one thread.
    unsafe { kokoro_engine::disable_onnx_runtime_telemetry() };
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
        assets_dir: kokoro_engine::locate(arguments.assets_dir.as_deref())
            .map_err(|error| error.to_string())?,
        model: arguments.model,
        layout: arguments.layout,
        sharing: arguments.sharing,
    };
    // As kokoro-pool does: the dictionary loads with the model, when there is text to analyse.
    let analyses_text = utterances
        .iter()
        .any(|utterance| utterance.phonemes.is_none());
    let engine = if analyses_text {
        Engine::load_with_analyser(&options, None)
    } else {
        Engine::load(&options)
    }
    .map_err(|error| error.to_string())?;
    let load_seconds = load_started.elapsed().as_secs_f64();
    let load_cpu_seconds = process_cpu_seconds();
    let concurrency = arguments.concurrency.unwrap_or(arguments.layout.slots);
    let config = PoolConfig {
        concurrency,
        timeout: Duration::from_secs(600),
        skip_existing: false,
        default_voice: arguments.voice.clone(),
        trace_file: kokoro_engine::trace_file_from_env(),
        output: OutputOptions {
            pauses: arguments.pauses,
            ..OutputOptions::default()
        },
        ..PoolConfig::default()
    };
    let pool = Pool::new(engine.clone(), config).map_err(|error| error.to_string())?;
    let output_dir = arguments.output_dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("kokoro-floor-{}", std::process::id()))
    });
    let tasks = utterances
        .into_iter()
        .enumerate()
        .map(|(index, utterance)| {
            let id = utterance.id.unwrap_or_else(|| index.to_string());
            Task {
                output_path: output_dir.join(format!("{id}.wav")),
                id,
                text: utterance.text,
                voice: None,
                speed: arguments.speed,
                phonemes: utterance.phonemes,
                timings: None,
            }
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
    if arguments.output_dir.is_none() {
        let _ = std::fs::remove_dir_all(&output_dir);
    }

    let mut audio_seconds = 0.0;
    for task in &report.tasks {
        match &task.outcome {
            TaskOutcome::Generated {
                duration_seconds, ..
            } => audio_seconds += duration_seconds,
            TaskOutcome::Failed { error } => eprintln!("{error}"),
            TaskOutcome::Skipped => {}
        }
    }
    let wall = report.elapsed.as_secs_f64();
    let decoded_frames = engine.decoded_samples() / SAMPLES_PER_FRAME;
    let sharing = match arguments.sharing {
        SessionSharing::SharedSession => "shared",
        #[cfg(feature = "session-per-slot")]
        SessionSharing::SessionPerSlot => "per-slot",
    };
    println!(
        "RESULT model={} sharing={sharing} slots={} threads={} concurrency={concurrency} utterances={} failed={} \
         load={load_seconds:.2}s load_cpu={load_cpu_seconds:.2}s wall={wall:.2}s utt/s={:.3} decoded_frames={decoded_frames} frames/s={:.1} \
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
