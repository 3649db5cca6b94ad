//! Kokoro-82M speech synthesis for Japanese course items, on ONNX Runtime.
//!
//! Where things happen, in the order a task meets them:
//! - [`task`]: where a task enters: [`Task`], the checks made when it is queued, [`TaskOutcome`].
//! - [`scheduler`]: where it waits: [`Pool`] (queue, concurrency, cancel, progress events, live
//!   counters) and [`Batch`], one run of the queue.
//! - [`job`]: where it runs, stage by stage: prepare → wait for a slot → infer → write, under
//!   its timeout and the run's cancel.
//! - [`synthesis`]: where text becomes phonemes (the `ja-g2p` crate), is cut into chunks of at
//!   most 510 tokens, and each chunk becomes audio.
//! - [`inference`]: ONNX Runtime: the one model in memory, the inference slots, terminable runs;
//!   the measured choice of session sharing is documented there. [`layout`]: slots × threads,
//!   and the policy that fills the cores. `graph_cache` keeps ONNX Runtime's optimised graph of
//!   the model in the assets folder, so that a session starts in well under a second.
//! - [`audio`]: silence trimming and joining chunks; [`pauses`]: silence at 、 and 。 between
//!   words, where the timeline puts the mark; [`render`]: what the speech becomes on disk
//!   (resampling, [`loudness`], padding, then [`encode`]: WAV, MP3, Opus, FLAC; [`wav`] also
//!   checks an existing WAV is complete), tagged with its [`fingerprint`] that decides whether a
//!   rerun regenerates it; [`output`]: where files are written (atomically and durably).
//! - [`engine`]: [`Engine`] ties together [`assets`] (location, integrity, and the
//!   [`ModelVariant`] to load), [`voices`] and the phoneme [`vocab`].
//! - [`error`]: errors as data: [`EngineError`], [`PoolError`], [`TaskError`].
//! - [`timeline`]: when each phoneme token is spoken (the model's predicted durations, kept
//!   through trimming and joining); [`timings`]: words, morae and pauses with character offsets
//!   and seconds in the file as written (`<output>.timings.json`; the CLI makes WebVTT of it).
//! - `trace`: opt-in stage timestamps of every task of a run (`PoolConfig::trace_file`,
//!   [`TRACE_ENV`]), for the benchmark.
//!
//! ```no_run
//! use kokoro_engine::{Engine, EngineOptions, Pool, PoolConfig, Task, assets};
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = Engine::load(&EngineOptions::new(assets::locate(None)?))?;
//! let pool = Pool::new(engine, PoolConfig::default())?;
//! pool.add_tasks(vec![Task {
//!     id: "taberu".into(),
//!     text: "食べる".into(),
//!     output_path: "out/taberu.wav".into(),
//!     voice: None,
//!     speed: None,
//!     phonemes: None,
//!     timings: None,
//! }])?;
//! let report = pool.process(|event| println!("{}/{} {}", event.completed, event.total, event.id)).await?;
//! println!("{} generated in {:?}", report.succeeded, report.elapsed);
//! # Ok(())
//! # }
//! ```

pub mod assets;
pub mod audio;
pub mod decode;
mod duration_outputs;
pub mod encode;
pub mod engine;
pub mod error;
pub mod fingerprint;
mod graph_cache;
pub mod inference;
pub mod job;
pub mod layout;
pub mod loudness;
pub mod output;
pub mod pauses;
pub mod render;
pub mod scheduler;
pub mod synthesis;
pub mod task;
pub mod timeline;
pub mod timings;
mod trace;
pub mod vocab;
pub mod voices;
pub mod wav;

#[cfg(test)]
mod test_support;

pub use assets::{ASSETS_ENV, AssetPaths, ModelVariant, locate};
pub use audio::SAMPLE_RATE;
pub use encode::{AudioFormat, Encoding};
pub use engine::{Engine, EngineOptions};
pub use error::{EngineError, FETCH_COMMAND, PoolError, TaskError, TaskErrorKind};
pub use fingerprint::{Fingerprint, Freshness};
pub use inference::{ORT_TELEMETRY_ENV, SessionSharing, disable_onnx_runtime_telemetry};
pub use job::Stage;
pub use layout::{InferenceLayout, available_cores};
pub use pauses::PauseLengths;
pub use render::{DEFAULT_PAD_MS, OutputOptions, OutputSpec};
pub use scheduler::{
    Batch, MAX_CONCURRENCY, Pool, PoolConfig, ProgressEvent, RunCanceller, RunReport, TaskReport,
};
pub use synthesis::SPEED_RANGE;
pub use task::{Task, TaskOutcome, TaskStatus, check_ids};
pub use timings::{SegmentKind, TimedMora, TimedSegment, Timings, sidecar_path};
pub use trace::{TRACE_ENV, trace_file_from_env};
