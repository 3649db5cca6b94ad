//! An opt-in trace of a run: when each task passed each stage boundary, to see where a run's time
//! goes (issue 18: queue wait, G2P, slot wait, inference, write, callback; bench/ reads it).
//!
//! Off unless the pool's `trace_file` is set (the binding and kokoro-floor set it from
//! `$KOKORO_POOL_TRACE`, [`trace_file_from_env`]); then each run's trace replaces that file
//! (atomically) when the run ends, as one JSON object: the run's start as Unix
//! milliseconds (so another process's clock can be lined up with it), its slots and concurrency,
//! its length, and per task the milliseconds from the run's start to each [`Mark`] it reached.
//! When tracing is off a job carries `None` and each mark is one branch.

use crate::output;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Environment variable naming the file a run's trace is written to.
pub const TRACE_ENV: &str = "KOKORO_POOL_TRACE";

/// The trace file `$KOKORO_POOL_TRACE` names, if any (for `PoolConfig::trace_file`).
pub fn trace_file_from_env() -> Option<PathBuf> {
    std::env::var_os(TRACE_ENV)
        .filter(|file| !file.is_empty())
        .map(PathBuf::from)
}

/// Stage boundaries of a task, in the order a generated task reaches them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    /// Left the queue: its job started.
    Dequeued,
    /// Took its turn to prepare: the G2P starts.
    PrepareTurn,
    /// Phonemes and token chunks ready: waits for a slot.
    Prepared,
    /// Has an inference slot: the model runs.
    Slot,
    /// The model's audio is ready (the slot is free again).
    Inferred,
    /// Took its turn to write.
    WriteTurn,
    /// Its file is in place.
    Written,
    /// The scheduler has its outcome: the progress callback is called.
    Reported,
    /// The progress callback returned.
    CallbackReturned,
}

/// The name of each [`Mark`] in the trace file, in the enum's order.
const MARK_NAMES: [&str; 9] = [
    "dequeued",
    "prepareTurn",
    "prepared",
    "slot",
    "inferred",
    "writeTurn",
    "written",
    "reported",
    "callbackReturned",
];

/// The marks one task reached, as offsets from its run's start.
#[derive(Debug, Clone)]
pub(crate) struct TaskMarks {
    id: String,
    run_started: Instant,
    reached: [Option<Duration>; MARK_NAMES.len()],
}

impl TaskMarks {
    pub(crate) fn mark(&mut self, mark: Mark) {
        self.reached[mark as usize] = Some(self.run_started.elapsed());
    }
}

/// Marks `mark` when there are marks to keep, i.e. when the run is traced.
pub(crate) fn mark(marks: &mut Option<TaskMarks>, mark: Mark) {
    if let Some(marks) = marks {
        marks.mark(mark);
    }
}

/// The trace of one run, collected while it runs and written when it ends.
pub(crate) struct RunTrace {
    file: PathBuf,
    started: Instant,
    started_unix_ms: f64,
    slots: usize,
    concurrency: usize,
    tasks: Mutex<Vec<Value>>,
}

impl RunTrace {
    /// A trace of the run starting now, to be written to `file`.
    pub(crate) fn new(file: &Path, slots: usize, concurrency: usize) -> RunTrace {
        RunTrace {
            file: file.to_path_buf(),
            started: Instant::now(),
            started_unix_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64()
                * 1000.0,
            slots,
            concurrency,
            tasks: Mutex::new(Vec::new()),
        }
    }

    /// Empty marks for the task `id` of this run.
    pub(crate) fn task_marks(&self, id: &str) -> TaskMarks {
        TaskMarks {
            id: id.to_string(),
            run_started: self.started,
            reached: [None; MARK_NAMES.len()],
        }
    }

    /// Keeps a task's marks.
    pub(crate) fn record(&self, marks: TaskMarks) {
        let mut task = json!({ "id": marks.id });
        for (name, reached) in MARK_NAMES.iter().zip(marks.reached) {
            task[*name] = reached.map_or(Value::Null, |offset| json!(offset.as_secs_f64() * 1e3));
        }
        self.tasks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(task);
    }

    /// Writes the trace file. A trace is a diagnosis: failing to write it is reported on stderr
    /// and fails nothing else.
    pub(crate) fn finish(&self) {
        let trace = json!({
            "startedUnixMs": self.started_unix_ms,
            "elapsedMs": self.started.elapsed().as_secs_f64() * 1e3,
            "slots": self.slots,
            "concurrency": self.concurrency,
            "tasks": std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|poisoned| poisoned.into_inner())),
        });
        if let Err(error) =
            output::write_atomically(&self.file, trace.to_string().as_bytes(), || Ok(()))
        {
            eprintln!("kokoro-pool: the run's trace ({TRACE_ENV}) was not written: {error}");
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scheduler::{Pool, PoolConfig};
    use crate::test_support::{SHORT_PHONEMES, TEST_SLOTS, engine, phoneme_task, scratch_dir};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_traced_run_writes_each_tasks_stages_in_order() {
        let dir = scratch_dir("trace");
        let trace_file = dir.join("trace.json");
        let pool = Pool::new(
            engine(),
            PoolConfig {
                concurrency: 3,
                trace_file: Some(trace_file.clone()),
                ..PoolConfig::default()
            },
        )
        .unwrap();
        let mut unknown_voice = phoneme_task(&dir, "unknown-voice", SHORT_PHONEMES);
        unknown_voice.voice = Some("jf_nobody".into());
        pool.add_tasks(vec![
            phoneme_task(&dir, "a", SHORT_PHONEMES),
            phoneme_task(&dir, "b", SHORT_PHONEMES),
            unknown_voice,
            phoneme_task(&dir, "c", SHORT_PHONEMES),
        ])
        .unwrap();
        let report = pool.process(|_| {}).await.unwrap();
        assert_eq!((report.succeeded, report.failed), (3, 1));

        let trace: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&trace_file).unwrap()).unwrap();
        assert_eq!(trace["slots"], TEST_SLOTS);
        assert_eq!(trace["concurrency"], 3);
        assert!(trace["startedUnixMs"].as_f64().unwrap() > 1.7e12);
        let elapsed = trace["elapsedMs"].as_f64().unwrap();
        let tasks = trace["tasks"].as_array().unwrap();
        let mut ids: Vec<&str> = tasks
            .iter()
            .map(|task| task["id"].as_str().unwrap())
            .collect();
        ids.sort();
        assert_eq!(ids, ["a", "b", "c", "unknown-voice"]);
        for task in tasks {
            let reached: Vec<Option<f64>> = super::MARK_NAMES
                .iter()
                .map(|name| task[*name].as_f64())
                .collect();
            if task["id"] == "unknown-voice" {
                // Refused when queued: it leaves the queue and is reported, nothing in between.
                let expected: Vec<bool> = super::MARK_NAMES
                    .iter()
                    .map(|name| ["dequeued", "reported", "callbackReturned"].contains(name))
                    .collect();
                assert_eq!(
                    reached.iter().map(Option::is_some).collect::<Vec<_>>(),
                    expected
                );
                continue;
            }
            let times: Vec<f64> = reached.into_iter().map(|time| time.unwrap()).collect();
            assert!(
                times.windows(2).all(|pair| pair[0] <= pair[1]) && times[8] <= elapsed,
                "{task}"
            );
            assert!(times[4] > times[3], "inference takes time: {task}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
