//! Where a task enters: what a caller asks for ([`Task`]), the checks made when it is queued
//! ([`TaskQueue`]), and how it ends ([`TaskOutcome`], [`TaskStatus`]).
//!
//! A problem that concerns the whole call (an empty or duplicate id) refuses the call
//! ([`PoolError`]). A problem of one task (empty text, bad speed, unknown voice, an output path
//! used twice) is kept with the task and becomes its [`TaskError`] when the pool reaches it, so
//! the other tasks go on.

use crate::engine::Engine;
use crate::error::{PoolError, TaskError, TaskErrorKind};
use crate::synthesis::check_speed;
use crate::timings::Timings;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

/// One utterance to synthesise into one WAV file.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// Unique within the queue; names the task in progress events, results and errors.
    pub id: String,
    /// Japanese text; may be empty when `phonemes` is given.
    pub text: String,
    pub output_path: PathBuf,
    /// A voice name (`<assets>/voices/<name>.bin`); `None`: the pool's default voice.
    pub voice: Option<String>,
    /// 0.5 to 2.0; `None`: 1.0.
    pub speed: Option<f32>,
    /// Kokoro phonemes to speak instead of the text's own (the G2P is bypassed).
    pub phonemes: Option<String>,
    /// Return and write the task's timings (`<output>.timings.json`); `None`: the pool's choice.
    pub timings: Option<bool>,
}

/// How one task ended.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskOutcome {
    Generated {
        duration_seconds: f64,
        phonemes: String,
        /// Why the output that was there before was not kept (it was not a complete file).
        replaced_invalid_output: Option<String>,
        /// When each word and mora is spoken, when asked for (also in the sidecar file).
        timings: Option<Box<Timings>>,
        /// What changed since the complete output that was there before was made (`text
        /// changed`, `voice changed`, …: [`crate::Fingerprint::changes`]); empty if none was.
        changes: Vec<String>,
    },
    /// A complete, current output was there already and the pool skips existing outputs.
    Skipped,
    /// Nothing was written: the task failed, was cancelled or timed out, as its error's kind says
    /// ([`TaskOutcome::status`]).
    Failed { error: TaskError },
}

/// The outcome of a task in one word, as progress events and results report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskStatus {
    Generated,
    Skipped,
    Failed,
    Cancelled,
    TimedOut,
}

impl TaskStatus {
    /// The name callers see: `generated`, `skipped`, `failed`, `cancelled`, `timed-out`.
    pub fn name(self) -> &'static str {
        match self {
            TaskStatus::Generated => "generated",
            TaskStatus::Skipped => "skipped",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
            TaskStatus::TimedOut => "timed-out",
        }
    }
}

impl TaskOutcome {
    pub fn status(&self) -> TaskStatus {
        match self {
            TaskOutcome::Generated { .. } => TaskStatus::Generated,
            TaskOutcome::Skipped => TaskStatus::Skipped,
            TaskOutcome::Failed { error } => match error.kind {
                TaskErrorKind::Cancelled => TaskStatus::Cancelled,
                TaskErrorKind::TimedOut { .. } => TaskStatus::TimedOut,
                _ => TaskStatus::Failed,
            },
        }
    }

    pub fn error(&self) -> Option<&TaskError> {
        match self {
            TaskOutcome::Failed { error } => Some(error),
            _ => None,
        }
    }
}

/// Refuses `tasks` if one has an empty id, or an id that `is_queued` or another task of `tasks`
/// has. Costs O(tasks). Needs no engine: a binding checks ids with it while the engine loads.
pub fn check_ids(is_queued: impl Fn(&str) -> bool, tasks: &[Task]) -> Result<(), PoolError> {
    let mut new_ids = HashSet::with_capacity(tasks.len());
    for (index, task) in tasks.iter().enumerate() {
        if task.id.trim().is_empty() {
            return Err(PoolError::EmptyId { index });
        }
        if is_queued(&task.id) || !new_ids.insert(task.id.as_str()) {
            return Err(PoolError::DuplicateId {
                id: task.id.clone(),
            });
        }
    }
    Ok(())
}

/// A task accepted into the queue, with any problem found on the way in. Boxed: most tasks have
/// none, and a queue of 100,000 tasks should not pay for the largest error inline.
#[derive(Debug)]
pub(crate) struct QueuedTask {
    pub(crate) task: Task,
    pub(crate) problem: Option<Box<TaskErrorKind>>,
}

/// The tasks waiting for the next run, with the id and output-path indexes that make adding
/// tasks cost O(tasks added), whatever the queue's length.
#[derive(Debug, Default)]
pub(crate) struct TaskQueue {
    tasks: Vec<QueuedTask>,
    ids: HashSet<String>,
    /// Output path → index in `tasks` of the task that writes it.
    output_owners: HashMap<PathBuf, usize>,
}

impl TaskQueue {
    pub(crate) fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Checks `tasks` against each other and against the queue, and queues them. All or
    /// nothing: on an id problem nothing is queued.
    pub(crate) fn add(
        &mut self,
        engine: &Engine,
        default_voice: &str,
        tasks: Vec<Task>,
    ) -> Result<(), PoolError> {
        check_ids(|id| self.ids.contains(id), &tasks)?;
        self.tasks.reserve(tasks.len());
        self.ids.reserve(tasks.len());
        for task in tasks {
            let problem = self.problem(engine, default_voice, &task).map(Box::new);
            if problem.is_none() {
                self.output_owners
                    .insert(task.output_path.clone(), self.tasks.len());
            }
            self.ids.insert(task.id.clone());
            self.tasks.push(QueuedTask { task, problem });
        }
        Ok(())
    }

    /// Takes every queued task, in the order added, for a run.
    pub(crate) fn take(&mut self) -> Vec<QueuedTask> {
        self.ids = HashSet::new();
        self.output_owners = HashMap::new();
        std::mem::take(&mut self.tasks)
    }

    /// The first check `task` fails, in the documented order: text, speed, voice, output path.
    fn problem(&self, engine: &Engine, default_voice: &str, task: &Task) -> Option<TaskErrorKind> {
        let has_phonemes = task
            .phonemes
            .as_deref()
            .is_some_and(|phonemes| !phonemes.trim().is_empty());
        if !has_phonemes && task.text.trim().is_empty() {
            return Some(TaskErrorKind::EmptyText);
        }
        if let Err(problem) = check_speed(task.speed.unwrap_or(1.0)) {
            return Some(problem);
        }
        let voice = task.voice.as_deref().unwrap_or(default_voice);
        if !engine.voices.contains(voice) {
            return Some(engine.voices.unknown(voice));
        }
        if task.output_path.as_os_str().is_empty() {
            return Some(TaskErrorKind::EmptyOutputPath);
        }
        if let Some(&owner) = self.output_owners.get(&task.output_path) {
            return Some(TaskErrorKind::DuplicateOutputPath {
                path: task.output_path.clone(),
                other_task: self.tasks[owner].task.id.clone(),
            });
        }
        None
    }
}
