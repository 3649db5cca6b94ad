//! Where tasks wait and run: the [`Pool`].
//!
//! `add_tasks` checks and queues tasks; `begin` takes the queue as a [`Batch`] (synchronously, so
//! a binding can refuse a second run at once); `Batch::run` processes it on the tokio runtime it
//! is polled on. At most `concurrency` tasks are active at once. An active task:
//! 1. skips itself if its output is current (and `skip_existing`; see [`crate::fingerprint`]);
//! 2. creates the output's folder and temporary file, and turns text into phonemes (blocking pool);
//! 3. waits for an inference slot (the engine's layout bounds concurrent runs, whatever the concurrency);
//! 4. runs the model on its chunks, frees the slot, renders the file (`render.rs`: resampling,
//!    loudness, padding, encoding, fingerprint), writes and renames it (blocking pool).
//!
//! The timeout counts from step 4's start: time spent waiting for a slot behind other tasks is not
//! the task's fault. When it expires the ONNX Runtime run is terminated (the runtime checks between
//! kernels, so within milliseconds), the task fails with a timeout and its slot is free again.
//!
//! [`Pool::cancel`] ends the current run early: tasks not yet started fail as cancelled without
//! running; running tasks have their inference terminated and fail as cancelled, except a task
//! already past inference, which finishes writing its file and succeeds. Dropping the future of
//! `Batch::run` before it ends cancels the same way.
//!
//! Each task ends in exactly one [`TaskOutcome`] and one [`ProgressEvent`], emitted before
//! `Batch::run` returns. A failing or panicking task becomes that task's error; the others go on.

use crate::engine::Engine;
use crate::error::{PoolError, TaskError, TaskErrorKind};
use crate::fingerprint::{Fingerprint, fingerprint_of, task_freshness};
use crate::inference::{RunStop, StopReason};
use crate::render::{OutputOptions, OutputSpec, render};
use crate::synthesis::{PreparedSpeech, SpeechRequest, prepare, synthesize};
use crate::task::{QueuedTask, Task, TaskOutcome, check_tasks};
use crate::wav::PendingWav;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::task::{JoinError, JoinSet};

/// Highest accepted concurrency: far beyond useful, low enough to catch a wrong number.
pub const MAX_CONCURRENCY: usize = 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct PoolConfig {
    /// Tasks active at once, 1 to 1024.
    pub concurrency: usize,
    /// Longest a task may spend in inference and writing; see the module comment.
    pub timeout: Duration,
    /// Report a task whose output file is current (its fingerprint is what the task would write
    /// now, or it has none: see [`crate::fingerprint`]) as skipped instead of synthesising it
    /// again. `false`: regenerate every file.
    pub skip_existing: bool,
    /// Voice of the tasks that name none.
    pub default_voice: String,
    /// Format, loudness and padding of the files written.
    pub output: OutputOptions,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            concurrency: 4,
            timeout: Duration::from_secs(60),
            skip_existing: true,
            default_voice: "jf_alpha".to_string(),
            output: OutputOptions::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    Generated,
    Skipped,
    Failed,
}

/// Sent once per task, when it ends. Counts are those of the current run at that moment.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgressEvent {
    pub completed: usize,
    pub total: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub skipped: usize,
    pub active: usize,
    pub queued: usize,
    pub id: String,
    pub status: TaskStatus,
    /// `false` only for a failed task.
    pub ok: bool,
    /// The failed task's error message.
    pub error: Option<String>,
    /// The task's own time, from becoming active to its end.
    pub elapsed_ms: u64,
    /// Length of the written audio; 0 unless generated.
    pub audio_seconds: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskReport {
    pub id: String,
    /// The task's output path, whatever the outcome.
    pub output_path: PathBuf,
    pub outcome: TaskOutcome,
}

/// The result of one run: every task's outcome in the order the tasks were added, and the totals.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    pub tasks: Vec<TaskReport>,
    pub succeeded: usize,
    pub failed: usize,
    pub skipped: usize,
    pub elapsed: Duration,
}

/// State of the run in progress, shared with its workers and with [`Pool::cancel`].
#[derive(Default)]
struct RunState {
    cancelled: AtomicBool,
    not_started: AtomicUsize,
    active: AtomicUsize,
    /// Run stops of the tasks in inference, by task index.
    in_inference: Mutex<HashMap<usize, Arc<RunStop>>>,
}

impl RunState {
    fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        for stop in lock(&self.in_inference).values() {
            stop.stop(StopReason::Cancelled);
        }
    }

    fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// Makes `stop` reachable by [`RunState::cancel`]; stops it at once if the run is cancelled already.
    fn enter_inference(&self, index: usize, stop: Arc<RunStop>) {
        lock(&self.in_inference).insert(index, stop.clone());
        if self.is_cancelled() {
            stop.stop(StopReason::Cancelled);
        }
    }

    fn leave_inference(&self, index: usize) {
        lock(&self.in_inference).remove(&index);
    }
}

/// Poisoning only means another thread panicked while holding the lock; the maps stay consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Default)]
struct PoolState {
    queue: Mutex<Vec<QueuedTask>>,
    processing: AtomicBool,
    current_run: Mutex<Option<Arc<RunState>>>,
}

/// A queue of tasks and the settings to run them with, on a shared [`Engine`].
pub struct Pool {
    engine: Arc<Engine>,
    config: PoolConfig,
    state: Arc<PoolState>,
}

impl Pool {
    pub fn new(engine: Arc<Engine>, config: PoolConfig) -> Result<Pool, PoolError> {
        if !(1..=MAX_CONCURRENCY).contains(&config.concurrency) {
            return Err(PoolError::InvalidConfig(format!(
                "concurrency is {}; use a whole number from 1 to {MAX_CONCURRENCY}",
                config.concurrency
            )));
        }
        if config.timeout.is_zero() {
            return Err(PoolError::InvalidConfig(
                "timeout is 0; use a positive number of milliseconds".into(),
            ));
        }
        config.output.check().map_err(PoolError::InvalidConfig)?;
        if !engine.voices.contains(&config.default_voice) {
            return Err(PoolError::InvalidConfig(format!(
                "default voice: {}",
                engine.voices.unknown(&config.default_voice)
            )));
        }
        Ok(Pool {
            engine,
            config,
            state: Arc::default(),
        })
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// Checks and queues `tasks` (all or none); returns how many tasks are queued now. Tasks may
    /// be added while a run is in progress: they wait for the next run.
    pub fn add_tasks(&self, tasks: Vec<Task>) -> Result<usize, PoolError> {
        let mut queue = lock(&self.state.queue);
        let checked = check_tasks(&self.engine, &self.config.default_voice, &queue, tasks)?;
        queue.extend(checked);
        Ok(queue.len())
    }

    /// Tasks not started yet: the queue plus the current run's waiting tasks.
    pub fn queue_size(&self) -> usize {
        let waiting_in_run = lock(&self.state.current_run)
            .as_ref()
            .map_or(0, |run| run.not_started.load(Ordering::SeqCst));
        lock(&self.state.queue).len() + waiting_in_run
    }

    /// Tasks of the current run between start and end.
    pub fn active_workers(&self) -> usize {
        lock(&self.state.current_run)
            .as_ref()
            .map_or(0, |run| run.active.load(Ordering::SeqCst))
    }

    /// Takes the queue for a run. Refused while another run of this pool is in progress.
    /// Dropping the batch without running it discards its tasks.
    pub fn begin(&self) -> Result<Batch, PoolError> {
        if self.state.processing.swap(true, Ordering::SeqCst) {
            return Err(PoolError::AlreadyProcessing);
        }
        let tasks = std::mem::take(&mut *lock(&self.state.queue));
        let run = Arc::new(RunState::default());
        run.not_started.store(tasks.len(), Ordering::SeqCst);
        *lock(&self.state.current_run) = Some(run.clone());
        Ok(Batch {
            engine: self.engine.clone(),
            config: self.config.clone(),
            tasks,
            run,
            _processing: ProcessingGuard(self.state.clone()),
        })
    }

    /// [`Pool::begin`] and [`Batch::run`] in one.
    pub async fn process<F: Fn(ProgressEvent) + Send + Sync>(
        &self,
        on_progress: F,
    ) -> Result<RunReport, PoolError> {
        Ok(self.begin()?.run(on_progress).await)
    }

    /// Cancels the run in progress, if any (see the module comment); the queue is left as it is.
    pub fn cancel(&self) {
        if let Some(run) = lock(&self.state.current_run).as_ref() {
            run.cancel();
        }
    }
}

/// Marks the pool idle again when its batch is done or dropped.
struct ProcessingGuard(Arc<PoolState>);

impl Drop for ProcessingGuard {
    fn drop(&mut self) {
        *lock(&self.0.current_run) = None;
        self.0.processing.store(false, Ordering::SeqCst);
    }
}

/// The tasks of one run, taken from the pool's queue by [`Pool::begin`].
pub struct Batch {
    engine: Arc<Engine>,
    config: PoolConfig,
    tasks: Vec<QueuedTask>,
    run: Arc<RunState>,
    _processing: ProcessingGuard,
}

/// What every worker of a run shares.
struct RunContext {
    engine: Arc<Engine>,
    config: PoolConfig,
    run: Arc<RunState>,
}

/// Running totals of a run.
#[derive(Default)]
struct Tally {
    completed: usize,
    succeeded: usize,
    failed: usize,
    skipped: usize,
}

impl Batch {
    /// Processes every task and returns when all have ended and their progress events were sent.
    /// Must be polled inside a tokio runtime (it spawns tasks, blocking work and timers).
    /// A panic in `on_progress` is caught and loses only that event.
    pub async fn run<F: Fn(ProgressEvent) + Send + Sync>(self, on_progress: F) -> RunReport {
        let started = Instant::now();
        let total = self.tasks.len();
        let ids: Vec<String> = self
            .tasks
            .iter()
            .map(|queued| queued.task.id.clone())
            .collect();
        let output_paths: Vec<PathBuf> = self
            .tasks
            .iter()
            .map(|queued| queued.task.output_path.clone())
            .collect();
        let context = Arc::new(RunContext {
            engine: self.engine,
            config: self.config,
            run: self.run,
        });
        let run = context.run.clone();
        // Dropped before the end (the caller gave up on this future), the run stops its inferences.
        let _stop_when_dropped = CancelOnDrop(run.clone());
        let mut outcomes: Vec<Option<TaskOutcome>> = vec![None; total];
        let mut tally = Tally::default();
        let mut running = JoinSet::new();
        let mut running_index = HashMap::new();
        let mut waiting = self.tasks.into_iter().enumerate();

        let mut record =
            |index: usize, outcome: TaskOutcome, elapsed: Duration, tally: &mut Tally| {
                tally.completed += 1;
                let (status, error, audio_seconds) = match &outcome {
                    TaskOutcome::Generated {
                        duration_seconds, ..
                    } => {
                        tally.succeeded += 1;
                        (TaskStatus::Generated, None, *duration_seconds)
                    }
                    TaskOutcome::Skipped { .. } => {
                        tally.skipped += 1;
                        (TaskStatus::Skipped, None, 0.0)
                    }
                    TaskOutcome::Failed { error } => {
                        tally.failed += 1;
                        (TaskStatus::Failed, Some(error.to_string()), 0.0)
                    }
                };
                let event = ProgressEvent {
                    completed: tally.completed,
                    total,
                    succeeded: tally.succeeded,
                    failed: tally.failed,
                    skipped: tally.skipped,
                    active: run.active.load(Ordering::SeqCst),
                    queued: run.not_started.load(Ordering::SeqCst),
                    id: ids[index].clone(),
                    status,
                    ok: status != TaskStatus::Failed,
                    error,
                    elapsed_ms: elapsed.as_millis() as u64,
                    audio_seconds,
                };
                outcomes[index] = Some(outcome);
                let _ = std::panic::catch_unwind(AssertUnwindSafe(|| on_progress(event)));
            };

        loop {
            while running.len() < context.config.concurrency {
                let Some((index, queued)) = waiting.next() else {
                    break;
                };
                run.not_started.fetch_sub(1, Ordering::SeqCst);
                if run.is_cancelled() {
                    let error = queued.error(TaskErrorKind::Cancelled);
                    record(
                        index,
                        TaskOutcome::Failed { error },
                        Duration::ZERO,
                        &mut tally,
                    );
                    continue;
                }
                run.active.fetch_add(1, Ordering::SeqCst);
                let handle = running.spawn(run_task(context.clone(), index, queued));
                running_index.insert(handle.id(), index);
            }
            let Some(joined) = running.join_next_with_id().await else {
                break;
            };
            let (task_id, result) = match joined {
                Ok((task_id, result)) => (task_id, Ok(result)),
                Err(join_error) => (join_error.id(), Err(join_error)),
            };
            let Some(index) = running_index.remove(&task_id) else {
                continue;
            };
            let (outcome, elapsed) = result.unwrap_or_else(|join_error| {
                let error = TaskError {
                    task_id: ids[index].clone(),
                    kind: join_error_kind(join_error),
                };
                (TaskOutcome::Failed { error }, Duration::ZERO)
            });
            record(index, outcome, elapsed, &mut tally);
        }

        let tasks = ids
            .into_iter()
            .zip(output_paths)
            .zip(outcomes)
            .map(|((id, output_path), outcome)| {
                // Every index is recorded exactly once above; the fallback only keeps this total.
                let outcome = outcome.unwrap_or_else(|| TaskOutcome::Failed {
                    error: TaskError {
                        task_id: id.clone(),
                        kind: TaskErrorKind::Internal {
                            cause: "the task never ended".into(),
                        },
                    },
                });
                TaskReport {
                    id,
                    output_path,
                    outcome,
                }
            })
            .collect();
        RunReport {
            tasks,
            succeeded: tally.succeeded,
            failed: tally.failed,
            skipped: tally.skipped,
            elapsed: started.elapsed(),
        }
    }
}

/// Cancels a run when dropped; after the run's end that changes nothing.
struct CancelOnDrop(Arc<RunState>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// Counts a task as active until it ends, panics included.
struct ActiveGuard(Arc<RunState>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn run_task(
    context: Arc<RunContext>,
    index: usize,
    queued: QueuedTask,
) -> (TaskOutcome, Duration) {
    let _active = ActiveGuard(context.run.clone());
    let started = Instant::now();
    let outcome = match execute(&context, index, &queued).await {
        Ok(outcome) => outcome,
        Err(kind) => TaskOutcome::Failed {
            error: queued.error(kind),
        },
    };
    (outcome, started.elapsed())
}

/// One task, from start to file (steps 1-4 of the module comment).
async fn execute(
    context: &RunContext,
    index: usize,
    queued: &QueuedTask,
) -> Result<TaskOutcome, TaskErrorKind> {
    if let Some(problem) = &queued.problem {
        return Err(problem.clone());
    }
    if context.run.is_cancelled() {
        return Err(TaskErrorKind::Cancelled);
    }
    let output_path = queued.task.output_path.clone();
    let config = context.config.clone();
    let engine = context.engine.clone();
    let task = queued.clone();
    let prepared = tokio::task::spawn_blocking(
        move || -> Result<Option<(PendingWav, PreparedSpeech, OutputSpec, Fingerprint)>, TaskErrorKind> {
            let freshness = || {
                task_freshness(
                    engine.assets(),
                    engine.model_variant(),
                    &config.default_voice,
                    &config.output,
                    &task.task,
                )
            };
            if config.skip_existing && !freshness()?.needs_generating() {
                return Ok(None);
            }
            let spec = config
                .output
                .spec_for(&task.task.output_path)
                .map_err(|cause| TaskErrorKind::Output {
                    path: task.task.output_path.clone(),
                    cause,
                })?;
            let pending_wav = PendingWav::create(&task.task.output_path)?;
            let request = SpeechRequest {
                text: &task.task.text,
                phonemes: task.task.phonemes.as_deref(),
                voice: &task.voice,
                speed: task.speed,
            };
            let prepared = prepare(&engine, &request)?;
            let fingerprint = fingerprint_of(
                &prepared.phonemes,
                &task.voice,
                task.speed,
                engine.model_variant(),
                &spec,
            )?;
            Ok(Some((pending_wav, prepared, spec, fingerprint)))
        },
    )
    .await
    .map_err(join_error_kind)??;
    let Some((pending_wav, prepared, spec, fingerprint)) = prepared else {
        return Ok(TaskOutcome::Skipped { output_path });
    };

    let slot = context
        .engine
        .model
        .acquire_slot()
        .await
        .map_err(|cause| TaskErrorKind::Internal { cause })?;
    let stop = Arc::new(RunStop::new().map_err(|cause| TaskErrorKind::Inference { cause })?);
    context.run.enter_inference(index, stop.clone());
    let engine = context.engine.clone();
    let worker_stop = stop.clone();
    let output_path_for_errors = output_path.clone();
    let mut synthesis =
        tokio::task::spawn_blocking(move || -> Result<(f64, String), TaskErrorKind> {
            let audio = synthesize(&engine, &prepared, &slot, &worker_stop)?;
            drop(slot);
            if worker_stop.reason().is_some() {
                // Stopped after the last run ended: the caller reports why; nothing is written.
                return Err(TaskErrorKind::Cancelled);
            }
            let file = render(&audio, &spec, &fingerprint.to_text()).map_err(|cause| {
                TaskErrorKind::Output {
                    path: output_path_for_errors,
                    cause,
                }
            })?;
            pending_wav.commit(&file.bytes)?;
            Ok((file.duration_seconds, prepared.phonemes))
        });
    let timeout = context.config.timeout;
    let joined = tokio::select! {
        joined = &mut synthesis => joined,
        () = tokio::time::sleep(timeout) => {
            stop.stop(StopReason::TimedOut);
            synthesis.await
        }
    };
    context.run.leave_inference(index);
    match (joined.map_err(join_error_kind)?, stop.reason()) {
        (Ok((duration_seconds, phonemes)), _) => Ok(TaskOutcome::Generated {
            output_path,
            duration_seconds,
            phonemes,
        }),
        (Err(_), Some(StopReason::TimedOut)) => Err(TaskErrorKind::TimedOut { after: timeout }),
        (Err(_), Some(StopReason::Cancelled)) => Err(TaskErrorKind::Cancelled),
        (Err(kind), None) => Err(kind),
    }
}

/// A worker that panicked (or was aborted) becomes an internal error of its task.
fn join_error_kind(error: JoinError) -> TaskErrorKind {
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
    use crate::engine::EngineOptions;
    use crate::inference::{InferenceLayout, SessionSharing};
    use crate::test_support::{LONG_PHONEMES, SHORT_PHONEMES, engine, phoneme_task, scratch_dir};
    use std::path::Path;

    fn config(concurrency: usize) -> PoolConfig {
        PoolConfig {
            concurrency,
            ..PoolConfig::default()
        }
    }

    fn failure(report: &RunReport, id: &str) -> TaskErrorKind {
        match &report
            .tasks
            .iter()
            .find(|task| task.id == id)
            .unwrap()
            .outcome
        {
            TaskOutcome::Failed { error } => {
                assert_eq!(error.task_id, id);
                assert!(
                    error.to_string().contains(&format!("task \"{id}\"")),
                    "{error}"
                );
                error.kind.clone()
            }
            other => panic!("{id}: expected a failure, got {other:?}"),
        }
    }

    fn is_generated(report: &RunReport, id: &str) -> bool {
        matches!(
            report
                .tasks
                .iter()
                .find(|task| task.id == id)
                .unwrap()
                .outcome,
            TaskOutcome::Generated { .. }
        )
    }

    fn files_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrency_reaches_the_limit_and_never_exceeds_it() {
        let dir = scratch_dir("concurrency");
        let pool = Arc::new(Pool::new(engine(), config(3)).unwrap());
        let tasks = (0..7)
            .map(|index| phoneme_task(&dir, &format!("word{index}"), SHORT_PHONEMES))
            .collect();
        assert_eq!(pool.add_tasks(tasks).unwrap(), 7);
        assert_eq!(pool.queue_size(), 7);
        let sampling = Arc::new(AtomicBool::new(true));
        let sampler = {
            let (pool, sampling) = (pool.clone(), sampling.clone());
            std::thread::spawn(move || {
                let mut most_active = 0;
                while sampling.load(Ordering::SeqCst) {
                    most_active = most_active.max(pool.active_workers());
                    std::thread::sleep(Duration::from_millis(1));
                }
                most_active
            })
        };
        let (report, events) = process_recording(&pool).await;
        sampling.store(false, Ordering::SeqCst);
        assert_eq!(
            sampler.join().unwrap(),
            3,
            "the sampler saw the limit reached, not exceeded"
        );
        assert!(events.iter().all(|event| event.active <= 3));
        assert_eq!(report.succeeded, 7);
        assert_eq!((pool.queue_size(), pool.active_workers()), (0, 0));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_task_gets_one_progress_event_and_a_readable_wav() {
        let dir = scratch_dir("progress");
        let pool = Pool::new(engine(), config(2)).unwrap();
        let greeting = "koɲɲiʨiβa. kʲoː no seʦɨmeː o haʥimemasɨ.";
        let mut from_text = phoneme_task(&dir, "from-text", "");
        from_text.phonemes = None;
        from_text.text = "食べる".into();
        pool.add_tasks(vec![
            phoneme_task(&dir, "word", SHORT_PHONEMES),
            phoneme_task(&dir, "greeting", greeting),
            from_text,
        ])
        .unwrap();
        let (report, events) = process_recording(&pool).await;

        let mut ids: Vec<&str> = events.iter().map(|event| event.id.as_str()).collect();
        ids.sort();
        assert_eq!(ids, ["from-text", "greeting", "word"]);
        assert_eq!(
            events
                .iter()
                .map(|event| event.completed)
                .collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert!(
            events
                .iter()
                .all(|event| event.total == 3 && event.ok && event.error.is_none())
        );
        let last = events.last().unwrap();
        assert_eq!(
            (last.succeeded, last.failed, last.skipped, last.queued),
            (3, 0, 0, 0)
        );
        assert_eq!((report.succeeded, report.failed, report.skipped), (3, 0, 0));
        assert_eq!(
            report
                .tasks
                .iter()
                .map(|task| task.id.as_str())
                .collect::<Vec<_>>(),
            ["word", "greeting", "from-text"]
        );

        for task in &report.tasks {
            let TaskOutcome::Generated {
                output_path,
                duration_seconds,
                phonemes,
            } = &task.outcome
            else {
                panic!("{task:?}")
            };
            let event = events.iter().find(|event| event.id == task.id).unwrap();
            assert_eq!(event.audio_seconds, *duration_seconds);
            let reader = hound::WavReader::open(output_path).unwrap();
            let spec = reader.spec();
            assert_eq!(
                (spec.channels, spec.sample_rate, spec.bits_per_sample),
                (1, 24_000, 16)
            );
            let samples: Vec<f64> = reader
                .into_samples::<i16>()
                .map(|sample| f64::from(sample.unwrap()) / 32767.0)
                .collect();
            let seconds = samples.len() as f64 / 24_000.0;
            assert!((seconds - duration_seconds).abs() < 1e-6);
            let phoneme_count = phonemes
                .chars()
                .filter(|symbol| !symbol.is_whitespace())
                .count() as f64;
            assert!(
                (0.04 * phoneme_count..=0.2 * phoneme_count).contains(&seconds),
                "{}: {seconds:.2} s for {phoneme_count} phonemes",
                task.id
            );
            let rms = (samples.iter().map(|sample| sample * sample).sum::<f64>()
                / samples.len() as f64)
                .sqrt();
            assert!(rms > 0.02, "{}: RMS {rms}", task.id);
        }
        let TaskOutcome::Generated { phonemes, .. } = &report.tasks[2].outcome else {
            unreachable!()
        };
        assert_eq!(phonemes, SHORT_PHONEMES, "食べる went through the G2P");
        assert_eq!(
            files_in(&dir),
            ["from-text.wav", "greeting.wav", "word.wav"],
            "no temporary file is left"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn existing_outputs_are_skipped_unless_told_otherwise() {
        let dir = scratch_dir("skip");
        let existing = dir.join("exists.wav");
        std::fs::write(&existing, b"not a wav").unwrap();

        let pool = Pool::new(engine(), config(2)).unwrap();
        pool.add_tasks(vec![phoneme_task(&dir, "exists", SHORT_PHONEMES)])
            .unwrap();
        let (report, events) = process_recording(&pool).await;
        assert_eq!(
            report.tasks[0].outcome,
            TaskOutcome::Skipped {
                output_path: existing.clone()
            }
        );
        assert_eq!((report.succeeded, report.skipped), (0, 1));
        assert_eq!(
            (events.len(), events[0].status, events[0].ok),
            (1, TaskStatus::Skipped, true)
        );
        assert_eq!(std::fs::read(&existing).unwrap(), b"not a wav");

        let overwriting = Pool::new(
            engine(),
            PoolConfig {
                skip_existing: false,
                ..config(2)
            },
        )
        .unwrap();
        overwriting
            .add_tasks(vec![phoneme_task(&dir, "exists", SHORT_PHONEMES)])
            .unwrap();
        let report = overwriting.process(|_| {}).await.unwrap();
        assert!(is_generated(&report, "exists"));
        assert!(hound::WavReader::open(&existing).is_ok());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_failing_task_never_stops_the_others() {
        let dir = scratch_dir("isolation");
        std::fs::write(dir.join("a-file"), b"x").unwrap();
        let with = |id: &str, change: &dyn Fn(&mut Task)| {
            let mut task = phoneme_task(&dir, id, SHORT_PHONEMES);
            change(&mut task);
            task
        };
        let pool = Pool::new(engine(), config(4)).unwrap();
        pool.add_tasks(vec![
            with("good-1", &|_| {}),
            with("bad-voice", &|task| task.voice = Some("jf_nobody".into())),
            with("empty-text", &|task| task.phonemes = None),
            with("blank-text", &|task| {
                task.phonemes = Some("  ".into());
                task.text = " \n ".into();
            }),
            with("too-fast", &|task| task.speed = Some(3.0)),
            with("too-slow", &|task| task.speed = Some(0.49)),
            with("nan-speed", &|task| task.speed = Some(f32::NAN)),
            with("unwritable", &|task| {
                task.output_path = dir.join("a-file/child.wav")
            }),
            with("unspeakable", &|task| task.phonemes = Some("😀 ♪".into())),
            with("same-output", &|task| {
                task.output_path = dir.join("good-1.wav")
            }),
            with("good-2", &|task| task.speed = Some(2.0)),
        ])
        .unwrap();
        let (report, events) = process_recording(&pool).await;
        assert!(
            is_generated(&report, "good-1") && is_generated(&report, "good-2"),
            "{report:?}"
        );
        assert_eq!((report.succeeded, report.failed), (2, 9), "{report:#?}");
        assert!(matches!(
            failure(&report, "bad-voice"),
            TaskErrorKind::UnknownVoice { .. }
        ));
        assert_eq!(failure(&report, "empty-text"), TaskErrorKind::EmptyText);
        assert_eq!(failure(&report, "blank-text"), TaskErrorKind::EmptyText);
        assert_eq!(
            failure(&report, "too-fast"),
            TaskErrorKind::InvalidSpeed { speed: 3.0 }
        );
        assert_eq!(
            failure(&report, "too-slow"),
            TaskErrorKind::InvalidSpeed { speed: 0.49 }
        );
        assert!(matches!(
            failure(&report, "nan-speed"),
            TaskErrorKind::InvalidSpeed { .. }
        ));
        assert!(matches!(
            failure(&report, "unwritable"),
            TaskErrorKind::Output { .. }
        ));
        assert!(matches!(
            failure(&report, "unspeakable"),
            TaskErrorKind::NothingSpeakable { .. }
        ));
        assert!(matches!(
            failure(&report, "same-output"),
            TaskErrorKind::DuplicateOutputPath { .. }
        ));
        let unwritable = events
            .into_iter()
            .find(|event| event.id == "unwritable")
            .unwrap();
        assert!(!unwritable.ok);
        let message = unwritable.error.unwrap();
        assert!(
            message.contains("a-file/child.wav") && message.contains("os error"),
            "the path and the OS reason are kept: {message}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Runs the pool's queue and returns its report with every progress event, in order.
    async fn process_recording(pool: &Pool) -> (RunReport, Vec<ProgressEvent>) {
        let events = Mutex::new(Vec::new());
        let report = pool
            .process(|event| events.lock().unwrap().push(event))
            .await
            .unwrap();
        (report, events.into_inner().unwrap())
    }

    /// An engine with one inference slot of one thread, loaded off the async threads by `load`.
    async fn one_slot_engine(
        load: fn(&EngineOptions) -> Result<Arc<Engine>, crate::error::EngineError>,
    ) -> Arc<Engine> {
        let options = EngineOptions {
            layout: InferenceLayout {
                slots: 1,
                threads_per_slot: 1,
            },
            sharing: SessionSharing::SharedSession,
            ..EngineOptions::default()
        };
        tokio::task::spawn_blocking(move || load(&options))
            .await
            .unwrap()
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_timeout_terminates_the_run_and_frees_the_slot() {
        // An engine of its own: the slot count must not be shared with other tests.
        let engine = one_slot_engine(Engine::load).await;
        let dir = scratch_dir("timeout");
        let timeout = Duration::from_millis(200);
        let pool = Pool::new(
            engine.clone(),
            PoolConfig {
                timeout,
                ..config(1)
            },
        )
        .unwrap();
        pool.add_tasks(vec![phoneme_task(&dir, "long", LONG_PHONEMES)])
            .unwrap();
        let (report, events) = process_recording(&pool).await;
        assert_eq!(
            failure(&report, "long"),
            TaskErrorKind::TimedOut { after: timeout }
        );
        // The whole run takes about 10 s; terminated, it ends soon after the timeout.
        let elapsed_ms = events[0].elapsed_ms;
        assert!(elapsed_ms < 3_000, "the task ended after {elapsed_ms} ms");
        assert_eq!(engine.model.free_slots(), 1);
        assert!(
            files_in(&dir).is_empty(),
            "no output and no temporary file: {:?}",
            files_in(&dir)
        );

        let next = Pool::new(engine, config(1)).unwrap();
        next.add_tasks(vec![phoneme_task(&dir, "after", SHORT_PHONEMES)])
            .unwrap();
        assert!(is_generated(&next.process(|_| {}).await.unwrap(), "after"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropping_a_run_terminates_its_inference() {
        let engine = one_slot_engine(Engine::shared).await;
        let dir = scratch_dir("dropped");
        let pool = Pool::new(engine.clone(), config(1)).unwrap();
        pool.add_tasks(vec![phoneme_task(&dir, "long", LONG_PHONEMES)])
            .unwrap();
        let gave_up = tokio::time::timeout(Duration::from_millis(300), pool.process(|_| {})).await;
        assert!(gave_up.is_err(), "the run is still going after 300 ms");
        // Terminated, the run gives its slot back long before the ~10 s it needs to finish.
        let started = Instant::now();
        while engine.model.free_slots() < 1 || !files_in(&dir).is_empty() {
            assert!(
                started.elapsed() < Duration::from_secs(3),
                "still running: {:?}",
                files_in(&dir)
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(pool.begin().is_ok(), "the pool is free for another run");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cancel_fails_waiting_tasks_and_terminates_running_ones() {
        let dir = scratch_dir("cancel");
        let pool = Arc::new(Pool::new(engine(), config(1)).unwrap());
        pool.add_tasks(vec![
            phoneme_task(&dir, "first", SHORT_PHONEMES),
            phoneme_task(&dir, "long", LONG_PHONEMES),
            phoneme_task(&dir, "third", SHORT_PHONEMES),
        ])
        .unwrap();
        let started = Instant::now();
        let canceller = pool.clone();
        let report = pool
            .process(move |event| {
                if event.id == "first" {
                    canceller.cancel();
                }
            })
            .await
            .unwrap();
        assert!(is_generated(&report, "first"));
        assert_eq!(failure(&report, "long"), TaskErrorKind::Cancelled);
        assert_eq!(failure(&report, "third"), TaskErrorKind::Cancelled);
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "the long task did not run to its end"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_configurations_and_ids_are_refused_whole() {
        let too_low = Pool::new(engine(), config(0)).err().unwrap().to_string();
        assert!(too_low.contains("concurrency is 0"), "{too_low}");
        let too_high = Pool::new(engine(), config(MAX_CONCURRENCY + 1))
            .err()
            .unwrap()
            .to_string();
        assert!(too_high.contains("concurrency is 1025"), "{too_high}");
        let voice = PoolConfig {
            default_voice: "nobody".into(),
            ..config(1)
        };
        let message = Pool::new(engine(), voice).err().unwrap().to_string();
        assert!(message.contains("unknown voice \"nobody\""), "{message}");
        let zero_timeout = PoolConfig {
            timeout: Duration::ZERO,
            ..config(1)
        };
        assert!(Pool::new(engine(), zero_timeout).is_err());

        let dir = std::env::temp_dir();
        let pool = Pool::new(engine(), config(2)).unwrap();
        pool.add_tasks(vec![phoneme_task(&dir, "a", "a")]).unwrap();
        let duplicate = pool.add_tasks(vec![
            phoneme_task(&dir, "b", "a"),
            phoneme_task(&dir, "a", "a"),
        ]);
        assert_eq!(duplicate, Err(PoolError::DuplicateId { id: "a".into() }));
        let within_call = pool.add_tasks(vec![
            phoneme_task(&dir, "c", "a"),
            phoneme_task(&dir, "c", "a"),
        ]);
        assert_eq!(within_call, Err(PoolError::DuplicateId { id: "c".into() }));
        let empty = pool.add_tasks(vec![
            phoneme_task(&dir, "d", "a"),
            phoneme_task(&dir, " ", "a"),
        ]);
        assert_eq!(empty, Err(PoolError::EmptyId { index: 1 }));
        assert_eq!(pool.queue_size(), 1, "refused calls queue nothing");

        let batch = pool.begin().unwrap();
        assert_eq!(pool.begin().err(), Some(PoolError::AlreadyProcessing));
        drop(batch);
        assert!(pool.begin().is_ok(), "a dropped batch frees the pool");
    }

    #[tokio::test]
    async fn a_panicking_worker_becomes_an_internal_task_error() {
        let join_error = tokio::spawn(async { panic!("boom") }).await.unwrap_err();
        let TaskErrorKind::Internal { cause } = join_error_kind(join_error) else {
            panic!("not internal")
        };
        assert!(cause.contains("boom"), "{cause}");
    }
}
