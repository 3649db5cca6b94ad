//! Where tasks wait: the [`Pool`] and its queue, and a run of the queue ([`Batch`]).
//!
//! `add_tasks` checks and queues tasks (`task.rs`); `begin` takes the queue as a [`Batch`]
//! (synchronously, so a binding can refuse a second run at once); `Batch::run` processes it on the
//! tokio runtime it is polled on: at most `concurrency` tasks are active at once, each one a job
//! (`job.rs`: prepare → wait for a slot → infer → write, with its timeout).
//!
//! [`Pool::cancel`] (or a [`RunCanceller`]) ends the current run early: tasks not yet started end
//! as cancelled at once, and so do active tasks, wherever they are (see `job.rs`); a task whose
//! file is already in place stays generated. Dropping the future of `Batch::run` before it ends
//! cancels the same way.
//!
//! Each task ends in exactly one [`TaskOutcome`] and one [`ProgressEvent`], emitted before
//! `Batch::run` returns. A failing or panicking task becomes that task's error; the others go on.
//!
//! Memory: a queued task costs its [`Task`] (128 bytes plus its strings) and two index entries
//! (its id and output path, copied); during a run, only the `concurrency` active tasks hold more
//! (phonemes, then audio); a finished task keeps its id, output path and outcome for the report.

use crate::engine::Engine;
use crate::error::{PoolError, TaskError, TaskErrorKind};
use crate::job::{self, JobContext, JobEnd, cancellation, join_error_kind};
use crate::render::OutputOptions;
use crate::task::{QueuedTask, Task, TaskOutcome, TaskQueue, TaskStatus};
use crate::trace::{self, Mark, TaskMarks};
use ja_g2p::UserDictionary;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Highest accepted concurrency: far beyond useful, low enough to catch a wrong number.
pub const MAX_CONCURRENCY: usize = 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct PoolConfig {
    /// Tasks active at once, 1 to 1024.
    pub concurrency: usize,
    /// Longest a task may spend working, from leaving the queue to its file in place, waits for
    /// other tasks not counted (`job.rs`).
    pub timeout: Duration,
    /// Report a task whose output file is complete and current (its fingerprint is what the task
    /// would write now, or it has none: see [`crate::fingerprint`]) as skipped instead of
    /// synthesising it again. `false`: regenerate every file.
    pub skip_existing: bool,
    /// Voice of the tasks that name none.
    pub default_voice: String,
    /// The author's readings (`dictionary.csv`), used for every task's text.
    pub user_dictionary: Option<UserDictionary>,
    /// Return each task's timings and write them beside its file, unless the task says otherwise.
    pub timings: bool,
    /// Format, loudness and padding of the files written.
    pub output: OutputOptions,
    /// Where each run writes its trace of every task's stages (`trace.rs`); `None`: no trace.
    pub trace_file: Option<PathBuf>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            concurrency: 4,
            timeout: Duration::from_secs(60),
            skip_existing: true,
            default_voice: "jf_alpha".to_string(),
            user_dictionary: None,
            timings: false,
            output: OutputOptions::default(),
            trace_file: None,
        }
    }
}

/// Sent once per task, when it ends. Counts are those of the current run at that moment.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgressEvent {
    pub completed: usize,
    pub total: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub skipped: usize,
    pub cancelled: usize,
    pub timed_out: usize,
    pub active: usize,
    pub queued: usize,
    pub id: String,
    pub status: TaskStatus,
    /// The task's error message, unless it generated or was skipped.
    pub error: Option<String>,
    /// The error's stable code ([`TaskErrorKind::code`]).
    pub code: Option<&'static str>,
    /// The task's own time, from leaving the queue to its end.
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
    pub cancelled: usize,
    pub timed_out: usize,
    pub elapsed: Duration,
}

/// State of the run in progress, shared with its jobs and with [`Pool::cancel`].
struct RunState {
    cancelled: watch::Sender<bool>,
    not_started: AtomicUsize,
    active: AtomicUsize,
}

impl RunState {
    fn cancel(&self) {
        self.cancelled.send_replace(true);
    }

    fn is_cancelled(&self) -> bool {
        *self.cancelled.borrow()
    }
}

/// Cancels one run, and only that one: once the run has ended it does nothing (a caller's
/// `AbortSignal` that fires later must not reach a later run).
#[derive(Clone)]
pub struct RunCanceller(Weak<RunState>);

impl RunCanceller {
    pub fn cancel(&self) {
        if let Some(run) = self.0.upgrade() {
            run.cancel();
        }
    }
}

/// Poisoning only means another thread panicked while holding the lock; the state stays consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Default)]
struct PoolState {
    queue: Mutex<TaskQueue>,
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

    /// Checks and queues `tasks` (all or none) in O(`tasks.len()`); returns how many tasks are
    /// queued now. Tasks may be added while a run is in progress: they wait for the next run.
    pub fn add_tasks(&self, tasks: Vec<Task>) -> Result<usize, PoolError> {
        let mut queue = lock(&self.state.queue);
        queue.add(&self.engine, &self.config.default_voice, tasks)?;
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
        let tasks = lock(&self.state.queue).take();
        let run = Arc::new(RunState {
            cancelled: watch::Sender::new(false),
            not_started: AtomicUsize::new(tasks.len()),
            active: AtomicUsize::new(0),
        });
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

/// Running totals of a run.
#[derive(Default)]
struct Tally {
    completed: usize,
    succeeded: usize,
    failed: usize,
    skipped: usize,
    cancelled: usize,
    timed_out: usize,
}

impl Tally {
    fn count(&mut self, status: TaskStatus) {
        self.completed += 1;
        *match status {
            TaskStatus::Generated => &mut self.succeeded,
            TaskStatus::Skipped => &mut self.skipped,
            TaskStatus::Failed => &mut self.failed,
            TaskStatus::Cancelled => &mut self.cancelled,
            TaskStatus::TimedOut => &mut self.timed_out,
        } += 1;
    }
}

impl Batch {
    /// A handle that cancels this run only.
    pub fn canceller(&self) -> RunCanceller {
        RunCanceller(Arc::downgrade(&self.run))
    }

    /// Processes every task and returns when all have ended and their progress events were sent.
    /// Must be polled inside a tokio runtime (it spawns tasks, blocking work and timers).
    /// A panic in `on_progress` is caught and loses only that event.
    pub async fn run<F: Fn(ProgressEvent) + Send + Sync>(self, on_progress: F) -> RunReport {
        let started = Instant::now();
        let total = self.tasks.len();
        let run = self.run;
        // Dropped before the end (the caller gave up on this future), the run stops its jobs.
        let _cancel_when_dropped = CancelOnDrop(run.clone());
        let context = Arc::new(JobContext::new(
            self.engine,
            self.config,
            run.cancelled.subscribe(),
        ));
        let mut reports: Vec<Option<TaskReport>> = Vec::with_capacity(total);
        reports.resize_with(total, || None);
        let mut tally = Tally::default();
        let mut record = |index: usize,
                          report: TaskReport,
                          elapsed: Duration,
                          mut marks: Option<TaskMarks>,
                          tally: &mut Tally| {
            let status = report.outcome.status();
            tally.count(status);
            let error = report.outcome.error();
            let event = ProgressEvent {
                completed: tally.completed,
                total,
                succeeded: tally.succeeded,
                failed: tally.failed,
                skipped: tally.skipped,
                cancelled: tally.cancelled,
                timed_out: tally.timed_out,
                active: run.active.load(Ordering::SeqCst),
                queued: run.not_started.load(Ordering::SeqCst),
                id: report.id.clone(),
                status,
                error: error.map(ToString::to_string),
                code: error.map(|error| error.kind.code()),
                elapsed_ms: elapsed.as_millis() as u64,
                audio_seconds: match &report.outcome {
                    TaskOutcome::Generated {
                        duration_seconds, ..
                    } => *duration_seconds,
                    _ => 0.0,
                },
            };
            reports[index] = Some(report);
            trace::mark(&mut marks, Mark::Reported);
            let _ = std::panic::catch_unwind(AssertUnwindSafe(|| on_progress(event)));
            trace::mark(&mut marks, Mark::CallbackReturned);
            if let (Some(trace), Some(marks)) = (&context.trace, marks) {
                trace.record(marks);
            }
        };

        let mut waiting = self.tasks.into_iter().enumerate();
        let mut running = JoinSet::new();
        // Id and output path of each running task, to report a job that panicked.
        let mut running_tasks: HashMap<tokio::task::Id, (usize, String, PathBuf)> = HashMap::new();
        loop {
            if run.is_cancelled() {
                for (index, queued) in waiting.by_ref() {
                    run.not_started.fetch_sub(1, Ordering::SeqCst);
                    let Task {
                        id, output_path, ..
                    } = queued.task;
                    let outcome = TaskOutcome::Failed {
                        error: TaskError {
                            task_id: id.clone(),
                            kind: TaskErrorKind::Cancelled,
                        },
                    };
                    let report = TaskReport {
                        id,
                        output_path,
                        outcome,
                    };
                    record(index, report, Duration::ZERO, None, &mut tally);
                }
            }
            while running.len() < context.config.concurrency {
                let Some((index, queued)) = waiting.next() else {
                    break;
                };
                run.not_started.fetch_sub(1, Ordering::SeqCst);
                run.active.fetch_add(1, Ordering::SeqCst);
                let identity = (
                    index,
                    queued.task.id.clone(),
                    queued.task.output_path.clone(),
                );
                let active = ActiveGuard(run.clone());
                let job = job::run(context.clone(), queued);
                let handle = running.spawn(async move {
                    let _active = active;
                    job.await
                });
                running_tasks.insert(handle.id(), identity);
            }
            let joined = tokio::select! {
                joined = running.join_next_with_id() => joined,
                () = cancellation(&context.cancelled), if !run.is_cancelled() && waiting.len() > 0 => continue,
            };
            let Some(joined) = joined else {
                break;
            };
            let (task_id, ended) = match joined {
                Ok((task_id, ended)) => (task_id, Ok(ended)),
                Err(join_error) => (join_error.id(), Err(join_error)),
            };
            let Some((index, id, output_path)) = running_tasks.remove(&task_id) else {
                continue;
            };
            let (report, elapsed, marks) = match ended {
                Ok(JobEnd {
                    task,
                    outcome,
                    elapsed,
                    marks,
                }) => (
                    TaskReport {
                        id: task.id,
                        output_path: task.output_path,
                        outcome,
                    },
                    elapsed,
                    marks,
                ),
                Err(join_error) => {
                    let error = TaskError {
                        task_id: id.clone(),
                        kind: join_error_kind(join_error),
                    };
                    let outcome = TaskOutcome::Failed { error };
                    let report = TaskReport {
                        id,
                        output_path,
                        outcome,
                    };
                    (report, Duration::ZERO, None)
                }
            };
            record(index, report, elapsed, marks, &mut tally);
        }
        if let Some(trace) = &context.trace {
            trace.finish();
        }

        RunReport {
            // Every task is recorded exactly once above.
            tasks: reports.into_iter().flatten().collect(),
            succeeded: tally.succeeded,
            failed: tally.failed,
            skipped: tally.skipped,
            cancelled: tally.cancelled,
            timed_out: tally.timed_out,
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

/// Counts a task as active until its job ends, panics included.
struct ActiveGuard(Arc<RunState>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineOptions;
    use crate::inference::SessionSharing;
    use crate::job::Stage;
    use crate::layout::InferenceLayout;
    use crate::task::TaskStatus;
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
        assert!(events.iter().all(|event| event.total == 3
            && event.status == TaskStatus::Generated
            && event.error.is_none()));
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
            let output_path = &task.output_path;
            let TaskOutcome::Generated {
                duration_seconds,
                phonemes,
                replaced_invalid_output: None,
                ..
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
    async fn complete_outputs_are_skipped_incomplete_ones_replaced_and_reported() {
        let dir = scratch_dir("skip");
        let pool = Pool::new(engine(), config(2)).unwrap();
        pool.add_tasks(vec![phoneme_task(&dir, "complete", SHORT_PHONEMES)])
            .unwrap();
        assert!(is_generated(
            &pool.process(|_| {}).await.unwrap(),
            "complete"
        ));
        let complete = dir.join("complete.wav");
        let bytes = std::fs::read(&complete).unwrap();
        // What a power loss can leave: nothing, a header without its data, a file cut short.
        std::fs::write(dir.join("empty.wav"), b"").unwrap();
        std::fs::write(dir.join("header-only.wav"), &bytes[..44]).unwrap();
        std::fs::write(dir.join("cut.wav"), &bytes[..bytes.len() / 2]).unwrap();

        pool.add_tasks(
            ["complete", "empty", "header-only", "cut"]
                .iter()
                .map(|id| phoneme_task(&dir, id, SHORT_PHONEMES))
                .collect(),
        )
        .unwrap();
        let (report, events) = process_recording(&pool).await;
        assert_eq!(report.tasks[0].outcome, TaskOutcome::Skipped);
        assert_eq!((report.succeeded, report.skipped), (3, 1));
        let skipped = events.iter().find(|event| event.id == "complete").unwrap();
        assert_eq!(skipped.status, TaskStatus::Skipped);
        assert_eq!(std::fs::read(&complete).unwrap(), bytes, "left as it was");
        for task in &report.tasks[1..] {
            let TaskOutcome::Generated {
                replaced_invalid_output: Some(reason),
                ..
            } = &task.outcome
            else {
                panic!("{task:?}")
            };
            assert!(reason.contains("WAV"), "{}: {reason}", task.id);
            assert_eq!(
                crate::wav::check_complete(&task.output_path),
                Ok(()),
                "{} is whole now",
                task.id
            );
        }

        let overwriting = Pool::new(
            engine(),
            PoolConfig {
                skip_existing: false,
                ..config(2)
            },
        )
        .unwrap();
        overwriting
            .add_tasks(vec![phoneme_task(&dir, "complete", SHORT_PHONEMES)])
            .unwrap();
        let report = overwriting.process(|_| {}).await.unwrap();
        assert!(is_generated(&report, "complete"));
        assert_eq!(
            files_in(&dir),
            ["complete.wav", "cut.wav", "empty.wav", "header-only.wav"]
        );
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
        assert_eq!(
            (unwritable.status, unwritable.code),
            (TaskStatus::Failed, Some("WriteFailed"))
        );
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

    /// An engine of its own with one inference slot of one thread: its slot and its count of
    /// decoded samples belong to the calling test alone.
    async fn one_slot_engine() -> Arc<Engine> {
        let options = EngineOptions {
            layout: InferenceLayout {
                slots: 1,
                threads_per_slot: 1,
            },
            sharing: SessionSharing::SharedSession,
            ..crate::test_support::engine_options()
        };
        tokio::task::spawn_blocking(move || Engine::load(&options))
            .await
            .unwrap()
            .unwrap()
    }

    /// Waits until `engine`'s only slot is taken: a task is in inference.
    async fn until_inference_runs(engine: &Engine) {
        while engine.model.free_slots() > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    // A terminated run returns no audio, so `decoded_samples` staying 0 proves that the long
    // inference (about 25 s of audio, many seconds of work) was stopped, not waited for: no test
    // here needs a wall-clock bound.

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_timeout_terminates_the_run_and_frees_the_slot() {
        let engine = one_slot_engine().await;
        let dir = scratch_dir("timeout");
        let timeout = Duration::from_millis(300);
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
            TaskErrorKind::TimedOut {
                after: timeout,
                during: Stage::Infer
            }
        );
        assert_eq!(
            (events[0].status, events[0].code, report.timed_out),
            (TaskStatus::TimedOut, Some("Timeout"), 1)
        );
        assert_eq!(engine.decoded_samples(), 0, "the run was terminated");
        assert_eq!(engine.model.free_slots(), 1);
        assert!(
            files_in(&dir).is_empty(),
            "no output and no temporary file: {:?}",
            files_in(&dir)
        );

        let next = Pool::new(engine.clone(), config(1)).unwrap();
        next.add_tasks(vec![phoneme_task(&dir, "after", SHORT_PHONEMES)])
            .unwrap();
        assert!(is_generated(&next.process(|_| {}).await.unwrap(), "after"));
        assert!(engine.decoded_samples() > 0);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_timeout_covers_text_analysis() {
        let dir = scratch_dir("timeout-g2p");
        let timeout = Duration::from_millis(1);
        let pool = Pool::new(
            engine(),
            PoolConfig {
                timeout,
                ..config(1)
            },
        )
        .unwrap();
        let mut long_text = phoneme_task(&dir, "long-text", "");
        long_text.phonemes = None;
        long_text.text = "今日は朝から雨が降っていたので、図書館で本を読みました。".repeat(200);
        pool.add_tasks(vec![long_text]).unwrap();
        let report = pool.process(|_| {}).await.unwrap();
        assert_eq!(
            failure(&report, "long-text"),
            TaskErrorKind::TimedOut {
                after: timeout,
                during: Stage::Prepare
            }
        );
        assert!(files_in(&dir).is_empty(), "{:?}", files_in(&dir));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropping_a_run_terminates_its_inference() {
        let engine = one_slot_engine().await;
        let dir = scratch_dir("dropped");
        let pool = Pool::new(engine.clone(), config(1)).unwrap();
        pool.add_tasks(vec![phoneme_task(&dir, "long", LONG_PHONEMES)])
            .unwrap();
        tokio::select! {
            _ = pool.process(|_| {}) => panic!("the long run ended by itself"),
            () = until_inference_runs(&engine) => {}
        }
        // The run's future is dropped here; its inference is terminated and the slot comes back.
        while engine.model.free_slots() < 1 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(engine.decoded_samples(), 0, "the run was terminated");
        assert!(files_in(&dir).is_empty(), "{:?}", files_in(&dir));
        assert!(pool.begin().is_ok(), "the pool is free for another run");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cancel_terminates_a_running_inference_and_ends_waiting_tasks() {
        let engine = one_slot_engine().await;
        let dir = scratch_dir("cancel");
        let pool = Arc::new(Pool::new(engine.clone(), config(3)).unwrap());
        pool.add_tasks(vec![
            phoneme_task(&dir, "long", LONG_PHONEMES),
            phoneme_task(&dir, "waiting-for-the-slot", SHORT_PHONEMES),
            phoneme_task(&dir, "third", SHORT_PHONEMES),
            phoneme_task(&dir, "not-started", SHORT_PHONEMES),
        ])
        .unwrap();
        let canceller = pool.clone();
        let watched = engine.clone();
        let cancel_once_running = tokio::spawn(async move {
            until_inference_runs(&watched).await;
            canceller.cancel();
        });
        let (report, events) = process_recording(&pool).await;
        cancel_once_running.await.unwrap();
        for id in ["long", "waiting-for-the-slot", "third", "not-started"] {
            assert_eq!(failure(&report, id), TaskErrorKind::Cancelled, "{id}");
        }
        assert_eq!((report.cancelled, report.failed), (4, 0));
        assert!(events.iter().all(|event| {
            event.status == TaskStatus::Cancelled
                && event.code == Some("Cancelled")
                && event
                    .error
                    .as_deref()
                    .is_some_and(|error| error.ends_with("cancelled"))
        }));
        assert_eq!(engine.decoded_samples(), 0, "the long run was terminated");
        assert_eq!(engine.model.free_slots(), 1);
        assert!(files_in(&dir).is_empty(), "{:?}", files_in(&dir));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cancel_reaches_a_task_waiting_for_a_slot_at_once() {
        let engine = one_slot_engine().await;
        let dir = scratch_dir("cancel-waiting");
        let pool = Arc::new(Pool::new(engine.clone(), config(2)).unwrap());
        pool.add_tasks(vec![phoneme_task(&dir, "waiting", SHORT_PHONEMES)])
            .unwrap();
        // The test holds the only slot for the whole run: the task can only wait.
        let slot = engine.model.acquire_slot().await.unwrap();
        let canceller = pool.clone();
        let (report, _) = tokio::join!(process_recording(&pool), async move {
            while canceller.active_workers() == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            canceller.cancel();
        })
        .0;
        assert_eq!(failure(&report, "waiting"), TaskErrorKind::Cancelled);
        drop(slot);
        assert!(files_in(&dir).is_empty());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_queue_of_100000_tasks_added_one_at_a_time_ends_cancelled_at_once() {
        let dir = std::env::temp_dir().join("kokoro-engine-never-written");
        let pool = Pool::new(engine(), config(MAX_CONCURRENCY)).unwrap();
        for index in 0..100_000 {
            let queued = pool
                .add_tasks(vec![phoneme_task(&dir, &format!("t{index}"), "mizɯ")])
                .unwrap();
            assert_eq!(queued, index + 1);
        }
        let batch = pool.begin().unwrap();
        batch.canceller().cancel();
        let events = Mutex::new(0);
        let report = batch.run(|_| *events.lock().unwrap() += 1).await;
        assert_eq!((report.cancelled, report.tasks.len()), (100_000, 100_000));
        assert_eq!(*events.lock().unwrap(), 100_000);
        assert_eq!(report.tasks[99_999].id, "t99999");
        assert_eq!(failure(&report, "t12345"), TaskErrorKind::Cancelled);
        assert!(!dir.exists());
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
}
