//! Where a task enters: what a caller asks for ([`Task`]), the checks made when it is queued, and
//! what comes out ([`TaskOutcome`]).
//!
//! A problem that concerns the whole call (an empty or duplicate id) refuses the call
//! ([`PoolError`]). A problem of one task (empty text, bad speed, unknown voice, an output path
//! used twice) is kept with the task and becomes its [`TaskError`] when the pool reaches it, so
//! the other tasks go on.

use crate::engine::Engine;
use crate::error::{PoolError, TaskError, TaskErrorKind};
use crate::synthesis::check_speed;
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
}

/// How one task ended.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskOutcome {
    Generated {
        output_path: PathBuf,
        duration_seconds: f64,
        phonemes: String,
    },
    /// The output existed already and the pool skips existing outputs.
    Skipped {
        output_path: PathBuf,
    },
    Failed {
        error: TaskError,
    },
}

/// A task accepted into the queue, with its voice resolved and any problem found on the way in.
#[derive(Debug, Clone)]
pub(crate) struct QueuedTask {
    pub(crate) task: Task,
    pub(crate) voice: String,
    pub(crate) speed: f32,
    pub(crate) problem: Option<TaskErrorKind>,
}

impl QueuedTask {
    pub(crate) fn error(&self, kind: TaskErrorKind) -> TaskError {
        TaskError {
            task_id: self.task.id.clone(),
            kind,
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

/// Checks a call's tasks against each other and against those already `queued`. All or nothing:
/// on an id problem nothing is queued.
pub(crate) fn check_tasks(
    engine: &Engine,
    default_voice: &str,
    queued: &[QueuedTask],
    tasks: Vec<Task>,
) -> Result<Vec<QueuedTask>, PoolError> {
    let queued_ids: HashSet<&str> = queued
        .iter()
        .map(|queued| queued.task.id.as_str())
        .collect();
    check_ids(|id| queued_ids.contains(id), &tasks)?;
    let mut output_owners: HashMap<PathBuf, String> = queued
        .iter()
        .map(|queued| (queued.task.output_path.clone(), queued.task.id.clone()))
        .collect();
    Ok(tasks
        .into_iter()
        .map(|task| {
            let voice = task
                .voice
                .clone()
                .unwrap_or_else(|| default_voice.to_string());
            let speed = task.speed.unwrap_or(1.0);
            let problem = task_problem(engine, &task, &voice, speed, &mut output_owners);
            QueuedTask {
                task,
                voice,
                speed,
                problem,
            }
        })
        .collect())
}

fn task_problem(
    engine: &Engine,
    task: &Task,
    voice: &str,
    speed: f32,
    output_owners: &mut HashMap<PathBuf, String>,
) -> Option<TaskErrorKind> {
    let has_phonemes = task
        .phonemes
        .as_deref()
        .is_some_and(|phonemes| !phonemes.trim().is_empty());
    if !has_phonemes && task.text.trim().is_empty() {
        return Some(TaskErrorKind::EmptyText);
    }
    if let Err(problem) = check_speed(speed) {
        return Some(problem);
    }
    if !engine.voices.contains(voice) {
        return Some(engine.voices.unknown(voice));
    }
    if task.output_path.as_os_str().is_empty() {
        return Some(TaskErrorKind::EmptyOutputPath);
    }
    if let Some(other_task) = output_owners.get(&task.output_path) {
        return Some(TaskErrorKind::DuplicateOutputPath {
            path: task.output_path.clone(),
            other_task: other_task.clone(),
        });
    }
    output_owners.insert(task.output_path.clone(), task.id.clone());
    None
}
