//! Errors as data. [`EngineError`]: the engine cannot start (assets, layout). [`PoolError`]: a pool
//! call was refused as a whole (configuration, task ids, a second run). [`TaskError`]: one task
//! failed; the others go on.

use crate::job::Stage;
use std::path::PathBuf;
use std::time::Duration;

/// The command that fetches and verifies every asset; named in every asset error.
pub const FETCH_COMMAND: &str = "npx kokoro-pool fetch-assets";

/// The engine could not be set up.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    #[error("asset {} is missing: run `{FETCH_COMMAND}`", path.display())]
    AssetMissing { path: PathBuf },
    #[error("asset {} is corrupt ({detail}): run `{FETCH_COMMAND}`", path.display())]
    AssetCorrupt { path: PathBuf, detail: String },
    #[error("asset {} could not be read ({cause}): run `{FETCH_COMMAND}`", path.display())]
    AssetUnreadable { path: PathBuf, cause: String },
    #[error("ONNX Runtime could not be loaded from {}: {cause}", path.display())]
    Runtime { path: PathBuf, cause: String },
    #[error("the model {} could not be loaded: {cause}", path.display())]
    ModelLoad { path: PathBuf, cause: String },
    #[error("invalid inference layout: {0}")]
    InvalidLayout(String),
}

/// A pool call refused as a whole; nothing was queued or run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PoolError {
    #[error("invalid pool configuration: {0}")]
    InvalidConfig(String),
    #[error("task at index {index} has an empty id")]
    EmptyId { index: usize },
    #[error("duplicate task id \"{id}\": every task in the queue needs its own id")]
    DuplicateId { id: String },
    #[error("process() is already running on this pool: wait for it to finish")]
    AlreadyProcessing,
}

/// Why one task failed. The message names the cause; [`TaskError`] adds the task id.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TaskErrorKind {
    #[error("text is empty")]
    EmptyText,
    #[error("nothing speakable: {detail}")]
    NothingSpeakable { detail: String },
    #[error("speed {speed} is out of range: use a number from 0.5 to 2.0")]
    InvalidSpeed { speed: f32 },
    #[error("unknown voice \"{voice}\": valid names are the file names (without .bin) in {}, e.g. {examples}", voices_dir.display())]
    UnknownVoice {
        voice: String,
        voices_dir: PathBuf,
        examples: String,
    },
    #[error("voice file {} is unusable ({cause}): run `{FETCH_COMMAND}`", path.display())]
    VoiceUnusable { path: PathBuf, cause: String },
    #[error("output path is empty")]
    EmptyOutputPath,
    #[error("output path {} is also the output of task \"{other_task}\"", path.display())]
    DuplicateOutputPath { path: PathBuf, other_task: String },
    #[error("cannot write {}: {cause}", path.display())]
    Output { path: PathBuf, cause: String },
    #[error("phonemization failed: {cause}")]
    Phonemize { cause: String },
    #[error("inference failed: {cause}")]
    Inference { cause: String },
    #[error("timed out after {} ms while {during}", after.as_millis())]
    TimedOut { after: Duration, during: Stage },
    #[error("cancelled")]
    Cancelled,
    #[error("internal error: {cause}")]
    Internal { cause: String },
}

impl TaskErrorKind {
    /// A stable name for the cause, for callers to branch on; the message is for people and may
    /// change. Each code is listed in `index.d.ts`.
    pub fn code(&self) -> &'static str {
        match self {
            TaskErrorKind::EmptyText => "EmptyText",
            TaskErrorKind::NothingSpeakable { .. } => "NothingSpeakable",
            TaskErrorKind::InvalidSpeed { .. } => "SpeedOutOfRange",
            TaskErrorKind::UnknownVoice { .. } => "UnknownVoice",
            TaskErrorKind::VoiceUnusable { .. } => "VoiceUnusable",
            TaskErrorKind::EmptyOutputPath => "EmptyOutputPath",
            TaskErrorKind::DuplicateOutputPath { .. } => "DuplicateOutputPath",
            TaskErrorKind::Output { .. } => "WriteFailed",
            TaskErrorKind::Phonemize { .. } => "PhonemizeFailed",
            TaskErrorKind::Inference { .. } => "InferenceFailed",
            TaskErrorKind::TimedOut { .. } => "Timeout",
            TaskErrorKind::Cancelled => "Cancelled",
            TaskErrorKind::Internal { .. } => "Internal",
        }
    }
}

/// One task's failure: which task, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("task \"{task_id}\": {kind}")]
pub struct TaskError {
    pub task_id: String,
    pub kind: TaskErrorKind,
}
