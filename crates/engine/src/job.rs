//! One task's job, from leaving the queue to its file in place, in four stages that run in order:
//!
//! 1. [`Job::prepare`]: turn the text into phonemes and token chunks; skip the task if its output
//!    is there, complete and current (its fingerprint is what this task would write, or it has
//!    none: `fingerprint.rs`); an incomplete or changed one is replaced and the outcome says why;
//!    create the output's folder and check that it is writable. A task prepares in its turn, and
//!    keeps the turn until it has a slot: one turn per inference slot, so at any concurrency at
//!    most that many tasks check folders at once or hold phonemes while they wait (a few KiB each),
//!    and none holds an open file.
//! 2. [`Job::wait_for_slot`]: wait for an inference slot; the engine's layout bounds the runs.
//! 3. [`Job::infer`]: run the model on each chunk, trim and join (holding the slot), then make the
//!    pauses at punctuation (`pauses.rs`).
//! 4. [`Job::write`]: render the audio (`render.rs`: resampling, loudness, padding, encoding,
//!    the fingerprint tag) and write it atomically and durably (`output.rs`), after the slot is
//!    free. At most one task per slot writes at once.
//!
//! **Timeout.** The task's clock runs from the moment it leaves the queue to its file being in
//! place, except while it waits for its turn to prepare, for a slot or for its turn to write:
//! waiting behind other tasks is not the task's fault, and at concurrency 1,024 on 8 slots counting
//! it would time out every task behind the first few hundred. When the time is up the stage is
//! stopped: an inference run is terminated (ONNX Runtime checks between kernels, so within
//! milliseconds) and its slot freed; a write not yet renamed into place is dropped.
//!
//! **Cancel** reaches a job in any stage at once: a waiting job ends as cancelled without waiting
//! any longer, a running inference is terminated, a write not yet renamed is dropped. A write that
//! is already in place is kept and the task counts as generated. A job dropped before its end
//! (its run was dropped) terminates its inference the same way.

use crate::audio::SAMPLE_RATE;
use crate::engine::Engine;
use crate::error::{TaskError, TaskErrorKind};
use crate::fingerprint::{self, Fingerprint, Freshness, fingerprint_of};
use crate::inference::{InferenceSlot, RunStop, StopReason};
use crate::output::{self, ExistingOutput};
use crate::pauses::{self, PauseLengths};
use crate::render::{self, OutputSpec, render};
use crate::scheduler::PoolConfig;
use crate::synthesis::{self, PreparedSpeech, Speech, SpeechRequest};
use crate::task::{QueuedTask, Task, TaskOutcome};
use crate::timings::{Timings, sidecar_path};
use crate::trace::{self, Mark, RunTrace, TaskMarks};
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, watch};
use tokio::task::{JoinError, JoinHandle};

/// What every job of a run shares.
pub(crate) struct JobContext {
    pub(crate) engine: Arc<Engine>,
    pub(crate) config: PoolConfig,
    /// Turns to prepare and wait for a slot: one per inference slot, enough to keep the slots fed.
    pub(crate) prepare_turns: Arc<Semaphore>,
    /// Turns to write: one per inference slot, so open files stay bounded by the slots.
    pub(crate) write_turns: Semaphore,
    /// Becomes `true` when the run is cancelled.
    pub(crate) cancelled: watch::Receiver<bool>,
    /// The run's trace, when it is traced (`trace.rs`).
    pub(crate) trace: Option<RunTrace>,
}

impl JobContext {
    pub(crate) fn new(
        engine: Arc<Engine>,
        config: PoolConfig,
        cancelled: watch::Receiver<bool>,
    ) -> JobContext {
        let slots = engine.layout.slots;
        let trace = config
            .trace_file
            .as_deref()
            .map(|file| RunTrace::new(file, slots, config.concurrency));
        JobContext {
            engine,
            config,
            prepare_turns: Arc::new(Semaphore::new(slots)),
            write_turns: Semaphore::new(slots),
            cancelled,
            trace,
        }
    }
}

/// The stages a task spends its time in; a timeout names the one where the time ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Prepare,
    Infer,
    Write,
}

impl fmt::Display for Stage {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Stage::Prepare => "analysing the text",
            Stage::Infer => "running the model (the run was terminated)",
            Stage::Write => "writing the file",
        })
    }
}

/// How a job ended, with its task given back.
pub(crate) struct JobEnd {
    pub(crate) task: Task,
    pub(crate) outcome: TaskOutcome,
    /// From leaving the queue to the end, waits included.
    pub(crate) elapsed: Duration,
    /// The stage boundaries it reached, when the run is traced.
    pub(crate) marks: Option<TaskMarks>,
}

/// Runs one task through its stages. Never fails: a problem becomes the task's outcome.
pub(crate) async fn run(context: Arc<JobContext>, queued: QueuedTask) -> JobEnd {
    let started = Instant::now();
    let QueuedTask { task, problem } = queued;
    let mut marks = context
        .trace
        .as_ref()
        .map(|trace| trace.task_marks(&task.id));
    trace::mark(&mut marks, Mark::Dequeued);
    let task = Arc::new(task);
    let result = match problem {
        Some(problem) => Err(*problem),
        None => {
            let mut job = Job {
                time_left: context.config.timeout,
                context,
                task: task.clone(),
                marks,
            };
            let result = job.execute().await;
            marks = job.marks;
            result
        }
    };
    // Every stage awaited its blocking work, so no copy of the task is left.
    let task = Arc::try_unwrap(task).unwrap_or_else(|shared| (*shared).clone());
    let outcome = result.unwrap_or_else(|kind| TaskOutcome::Failed {
        error: TaskError {
            task_id: task.id.clone(),
            kind,
        },
    });
    JobEnd {
        task,
        outcome,
        elapsed: started.elapsed(),
        marks,
    }
}

struct Job {
    context: Arc<JobContext>,
    task: Arc<Task>,
    /// What is left of the timeout; spent while the task works, not while it waits.
    time_left: Duration,
    /// Stage boundaries reached, when the run is traced.
    marks: Option<TaskMarks>,
}

/// What the prepare stage hands on.
enum Prepared {
    /// The output is there, complete and current.
    Skip,
    Speak {
        speech: PreparedSpeech,
        output: OutputSpec,
        fingerprint: Fingerprint,
        replaced_invalid_output: Option<String>,
        changes: Vec<String>,
    },
}

impl Job {
    async fn execute(&mut self) -> Result<TaskOutcome, TaskErrorKind> {
        let turn = self
            .wait(self.context.prepare_turns.clone().acquire_owned())
            .await?;
        trace::mark(&mut self.marks, Mark::PrepareTurn);
        let Prepared::Speak {
            mut speech,
            output,
            fingerprint,
            replaced_invalid_output,
            changes,
        } = self.prepare().await?
        else {
            return Ok(TaskOutcome::Skipped);
        };
        trace::mark(&mut self.marks, Mark::Prepared);
        let slot = self.wait_for_slot().await?;
        trace::mark(&mut self.marks, Mark::Slot);
        drop(turn);
        let stop = Arc::new(RunStop::new().map_err(|cause| TaskErrorKind::Inference { cause })?);
        let _stop_if_dropped = StopOnDrop(stop.clone());
        let phonemes = speech.phonemes.clone();
        let alignment = speech.alignment.take();
        let Speech { audio, timeline } = self
            .infer(speech, output.pauses, slot, stop.clone())
            .await?;
        trace::mark(&mut self.marks, Mark::Inferred);
        let timings = wants_timings(&self.context.config, &self.task).then(|| {
            let pad = render::pad_samples(SAMPLE_RATE, output.pad_ms);
            let timeline = timeline.padded(pad, pad);
            Box::new(Timings::new(
                &self.task.text,
                alignment.as_deref(),
                &timeline,
            ))
        });
        let duration_seconds = self
            .write(audio, output, fingerprint, timings.clone(), stop)
            .await?;
        trace::mark(&mut self.marks, Mark::Written);
        Ok(TaskOutcome::Generated {
            duration_seconds,
            phonemes,
            replaced_invalid_output,
            changes,
            timings,
        })
    }

    /// Stage 1 (its turn taken): see the module comment.
    async fn prepare(&mut self) -> Result<Prepared, TaskErrorKind> {
        let context = self.context.clone();
        let task = self.task.clone();
        let work = tokio::task::spawn_blocking(move || prepare(&context, &task));
        self.finish(Stage::Prepare, work, None).await
    }

    /// Stage 2: the wait for an inference slot, which a cancel ends at once.
    async fn wait_for_slot(&self) -> Result<InferenceSlot, TaskErrorKind> {
        self.wait(self.context.engine.model.acquire_slot())
            .await?
            .map_err(|cause| TaskErrorKind::Internal { cause })
    }

    /// Stage 3: the model on every chunk, then the pauses at punctuation; the slot is freed when
    /// the runs end.
    async fn infer(
        &mut self,
        speech: PreparedSpeech,
        pauses: PauseLengths,
        slot: InferenceSlot,
        stop: Arc<RunStop>,
    ) -> Result<Speech, TaskErrorKind> {
        let engine = self.context.engine.clone();
        let run_stop = stop.clone();
        let work = tokio::task::spawn_blocking(move || {
            let spoken = synthesis::synthesize(&engine, &speech, &slot, &run_stop)?;
            drop(slot);
            Ok(pauses::lengthen(spoken, &speech.phonemes, &pauses))
        });
        self.finish(Stage::Infer, work, Some(&stop)).await
    }

    /// Stage 4, in its turn: the file, rendered as `output` says and tagged with `fingerprint`,
    /// written atomically and durably. Returns the file's duration in seconds.
    async fn write(
        &mut self,
        audio: Vec<f32>,
        output: OutputSpec,
        fingerprint: Fingerprint,
        timings: Option<Box<Timings>>,
        stop: Arc<RunStop>,
    ) -> Result<f64, TaskErrorKind> {
        let context = self.context.clone();
        let _turn = self.wait(context.write_turns.acquire()).await?;
        trace::mark(&mut self.marks, Mark::WriteTurn);
        let task = self.task.clone();
        let write_stop = stop.clone();
        let work = tokio::task::spawn_blocking(move || {
            let file = render(&audio, &output, &fingerprint.to_text()).map_err(|cause| {
                TaskErrorKind::Output {
                    path: task.output_path.clone(),
                    cause,
                }
            })?;
            drop(audio);
            // The caller reports why; this only keeps the file from taking its place.
            let still_wanted = || match write_stop.reason() {
                Some(_) => Err(TaskErrorKind::Cancelled),
                None => Ok(()),
            };
            output::write_atomically(&task.output_path, &file.bytes, still_wanted)?;
            // The timings follow the audio they describe: written after it, and a sidecar left
            // by an earlier file at this path is removed when this one has none.
            let sidecar = sidecar_path(&task.output_path);
            match timings {
                Some(timings) => {
                    output::write_atomically(&sidecar, &timings.to_json(), still_wanted)?
                }
                None if sidecar.exists() => {
                    std::fs::remove_file(&sidecar).map_err(|error| TaskErrorKind::Output {
                        path: sidecar,
                        cause: error.to_string(),
                    })?
                }
                None => {}
            }
            Ok(file.duration_seconds)
        });
        self.finish(Stage::Write, work, Some(&stop)).await
    }

    /// Waits for `turn` (a turn or a slot) unless the run is cancelled first.
    async fn wait<T>(&self, turn: impl Future<Output = T>) -> Result<T, TaskErrorKind> {
        tokio::select! {
            biased;
            () = cancellation(&self.context.cancelled) => Err(TaskErrorKind::Cancelled),
            acquired = turn => Ok(acquired),
        }
    }

    /// Waits for `work`, a stage's blocking part, while the task has time left and the run is
    /// not cancelled. If either ends first, `stop` is told why (terminating an inference run,
    /// dropping a write before its rename) and `work` is still awaited, so that nothing it holds
    /// outlives the job; the stage then fails with that reason, except a write that had already
    /// put its file in place: that task is done.
    async fn finish<T>(
        &mut self,
        stage: Stage,
        mut work: JoinHandle<Result<T, TaskErrorKind>>,
        stop: Option<&RunStop>,
    ) -> Result<T, TaskErrorKind> {
        let started = Instant::now();
        let interruption = tokio::select! {
            biased;
            joined = &mut work => {
                self.spend(started);
                return joined.map_err(join_error_kind)?;
            }
            () = cancellation(&self.context.cancelled) => StopReason::Cancelled,
            () = tokio::time::sleep(self.time_left) => StopReason::TimedOut,
        };
        if let Some(stop) = stop {
            stop.stop(interruption);
        }
        let finished = work.await;
        self.spend(started);
        match finished {
            Ok(Ok(value)) if stage == Stage::Write => Ok(value),
            _ => Err(match interruption {
                StopReason::Cancelled => TaskErrorKind::Cancelled,
                StopReason::TimedOut => TaskErrorKind::TimedOut {
                    after: self.context.config.timeout,
                    during: stage,
                },
            }),
        }
    }

    fn spend(&mut self, since: Instant) {
        self.time_left = self.time_left.saturating_sub(since.elapsed());
    }
}

/// Stage 1's blocking work.
fn prepare(context: &JobContext, task: &Task) -> Result<Prepared, TaskErrorKind> {
    let config = &context.config;
    let output =
        config
            .output
            .spec_for(&task.output_path)
            .map_err(|cause| TaskErrorKind::Output {
                path: task.output_path.clone(),
                cause,
            })?;
    let request = SpeechRequest {
        text: &task.text,
        phonemes: task.phonemes.as_deref(),
        voice: task.voice.as_deref().unwrap_or(&config.default_voice),
        speed: task.speed.unwrap_or(1.0),
        user_dictionary: config.user_dictionary.as_ref(),
        align: wants_timings(config, task),
    };
    let speak = || -> Result<(PreparedSpeech, Fingerprint), TaskErrorKind> {
        let speech = synthesis::prepare(&context.engine, &request)?;
        let fingerprint = fingerprint_of(
            &speech.phonemes,
            request.voice,
            request.speed,
            context.engine.model_variant(),
            &output,
        )?;
        Ok((speech, fingerprint))
    };
    let mut replaced_invalid_output = None;
    let mut changes = Vec::new();
    let mut spoken = None;
    if config.skip_existing {
        match output::existing_output(&task.output_path, output.encoding.format) {
            ExistingOutput::Absent => {}
            ExistingOutput::Incomplete(reason) => replaced_invalid_output = Some(reason),
            ExistingOutput::Complete => {
                let freshness = fingerprint::freshness(&task.output_path, || {
                    let (speech, fingerprint) = speak()?;
                    spoken = Some((speech, fingerprint.clone()));
                    Ok(fingerprint)
                })?;
                let timings_missing = request.align && !sidecar_path(&task.output_path).is_file();
                match freshness {
                    // Asked for timings, a file without them is made again.
                    Freshness::Current | Freshness::Unfingerprinted if timings_missing => {
                        changes = vec!["timings missing".to_string()]
                    }
                    Freshness::Current | Freshness::Unfingerprinted => return Ok(Prepared::Skip),
                    Freshness::Changed { reasons } => changes = reasons,
                    Freshness::Missing => {}
                }
            }
        }
    }
    output::prepare_folder(&task.output_path)?;
    let (speech, fingerprint) = match spoken {
        Some(spoken) => spoken,
        None => speak()?,
    };
    Ok(Prepared::Speak {
        speech,
        output,
        fingerprint,
        replaced_invalid_output,
        changes,
    })
}

/// Whether `task` returns and writes its timings: its own choice, else the pool's.
fn wants_timings(config: &PoolConfig, task: &Task) -> bool {
    task.timings.unwrap_or(config.timings)
}

/// Resolves once the run is cancelled; never, if the run is gone (nothing can cancel it then).
pub(crate) async fn cancellation(cancelled: &watch::Receiver<bool>) {
    let mut cancelled = cancelled.clone();
    if cancelled.wait_for(|cancelled| *cancelled).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Terminates the job's inference run, and keeps its write from landing, if the job is dropped
/// before its end; after the end it changes nothing.
struct StopOnDrop(Arc<RunStop>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop(StopReason::Cancelled);
    }
}

/// A worker that panicked (or was aborted) becomes an internal error of its task.
pub(crate) fn join_error_kind(error: JoinError) -> TaskErrorKind {
    let cause = if error.is_panic() {
        let payload = error.into_panic();
        let message = payload
            .downcast_ref::<&str>()
            .map(|message| message.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        format!("a worker panicked: {message}")
    } else {
        "the worker was aborted".into()
    };
    TaskErrorKind::Internal { cause }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_worker_becomes_an_internal_task_error() {
        let join_error = tokio::spawn(async { panic!("boom") }).await.unwrap_err();
        let TaskErrorKind::Internal { cause } = join_error_kind(join_error) else {
            panic!("not internal")
        };
        assert!(cause.contains("boom"), "{cause}");
    }
}
