//! Random task lists through `Pool::add_tasks` and a run: never a panic or a hang, and every task
//! ends in exactly the outcome the checks promise (docs/reliability.md, "Fuzzing"). Every output
//! that passes the checks exists beforehand as a complete WAV and is skipped, so no inference runs and a case takes
//! milliseconds. 256 cases (proptest's default); longer: `PROPTEST_CASES=20000 cargo test --release
//! -p kokoro-engine --test task_validation_robustness`.

use kokoro_engine::{
    Engine, EngineOptions, InferenceLayout, Pool, PoolConfig, PoolError, Task, TaskErrorKind,
    TaskOutcome,
};
use proptest::prelude::*;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

fn engine() -> Arc<Engine> {
    static ENGINE: OnceLock<Arc<Engine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let options = EngineOptions {
                layout: InferenceLayout {
                    slots: 1,
                    threads_per_slot: 1,
                },
                ..EngineOptions::new(kokoro_engine::assets::locate(None).unwrap())
            };
            Engine::shared(&options).unwrap_or_else(|error| panic!("{error}"))
        })
        .clone()
}

/// A complete 24 kHz mono 16-bit WAV of one sample: what the pool skips.
const ONE_SAMPLE_WAV: &[u8] = &[
    b'R', b'I', b'F', b'F', 38, 0, 0, 0, b'W', b'A', b'V', b'E', b'f', b'm', b't', b' ', 16, 0, 0,
    0, 1, 0, 1, 0, 0xC0, 0x5D, 0, 0, 0x80, 0xBB, 0, 0, 2, 0, 16, 0, b'd', b'a', b't', b'a', 2, 0,
    0, 0, 0x10, 0,
];

/// Where a random task writes, made concrete inside the case's own scratch folder.
#[derive(Debug, Clone)]
enum Output {
    Empty,
    /// The scratch folder itself: a directory, not a file.
    Folder,
    /// Up to three path components; created beforehand as a file where possible.
    Relative(Vec<String>),
}

fn output() -> impl Strategy<Value = Output> {
    // No "/", no "." or ".." alone: a path never leaves the scratch folder.
    let component = "[a-c0-9 ._-]{1,4}".prop_filter("not . or ..", |c| c != "." && c != "..");
    prop_oneof![
        1 => Just(Output::Empty),
        1 => Just(Output::Folder),
        8 => prop::collection::vec(component, 1..4).prop_map(Output::Relative),
    ]
}

#[derive(Debug, Clone)]
struct RandomTask {
    id: String,
    text: String,
    voice: Option<String>,
    speed: Option<f32>,
    phonemes: Option<String>,
    output: Output,
}

fn random_task() -> impl Strategy<Value = RandomTask> {
    // Mostly distinct ids, so that most cases get past the id checks to the run.
    let id = prop_oneof![
        8 => "[a-z]{8}",
        2 => "[ab]",
        2 => any::<String>(),
        1 => prop_oneof![Just(String::new()), Just(" \t".to_string())],
    ];
    let text = prop_oneof![
        Just(String::new()),
        Just(" \n　".to_string()),
        "[ぁ-ん]{1,4}",
        any::<String>()
    ];
    let voice = prop_oneof![
        Just(None),
        Just(Some("jf_alpha".to_string())),
        Just(Some("jm_kumo".to_string())),
        any::<String>().prop_map(Some),
    ];
    let speed = prop_oneof![
        Just(None),
        Just(Some(f32::NAN)),
        Just(Some(0.5)),
        Just(Some(2.0)),
        (0.3f32..2.3).prop_map(Some),
        any::<f32>().prop_map(Some),
    ];
    let phonemes = prop::option::of(prop_oneof![
        Just(String::new()),
        Just(" ".to_string()),
        any::<String>()
    ]);
    (id, text, voice, speed, phonemes, output()).prop_map(
        |(id, text, voice, speed, phonemes, output)| RandomTask {
            id,
            text,
            voice,
            speed,
            phonemes,
            output,
        },
    )
}

/// The call's refusal, as the documented id checks predict it (first problem in order).
fn expected_refusal(tasks: &[Task]) -> Option<PoolError> {
    let mut seen = HashSet::new();
    for (index, task) in tasks.iter().enumerate() {
        if task.id.trim().is_empty() {
            return Some(PoolError::EmptyId { index });
        }
        if !seen.insert(task.id.as_str()) {
            return Some(PoolError::DuplicateId {
                id: task.id.clone(),
            });
        }
    }
    None
}

/// What each task must end as: the first failed check, else skipped (its file exists) or an
/// output error (its path cannot be a file).
fn expected_outcomes(engine: &Engine, tasks: &[Task]) -> Vec<&'static str> {
    let mut owners = HashSet::new();
    tasks
        .iter()
        .map(|task| {
            let has_phonemes = task
                .phonemes
                .as_deref()
                .is_some_and(|p| !p.trim().is_empty());
            let speed = task.speed.unwrap_or(1.0);
            let voice = task.voice.as_deref().unwrap_or("jf_alpha");
            if !has_phonemes && task.text.trim().is_empty() {
                "empty text"
            } else if !(speed.is_finite() && (0.5..=2.0).contains(&speed)) {
                "invalid speed"
            } else if !engine.voices().iter().any(|name| name == voice) {
                "unknown voice"
            } else if task.output_path.as_os_str().is_empty() {
                "empty output path"
            } else if !owners.insert(task.output_path.clone()) {
                "duplicate output path"
            } else if task.output_path.is_file() {
                "skipped"
            } else {
                "output error"
            }
        })
        .collect()
}

fn outcome_name(outcome: &TaskOutcome) -> &'static str {
    match outcome {
        TaskOutcome::Generated { .. } => "generated",
        TaskOutcome::Skipped => "skipped",
        TaskOutcome::Failed { error } => match error.kind {
            TaskErrorKind::EmptyText => "empty text",
            TaskErrorKind::InvalidSpeed { .. } => "invalid speed",
            TaskErrorKind::UnknownVoice { .. } => "unknown voice",
            TaskErrorKind::EmptyOutputPath => "empty output path",
            TaskErrorKind::DuplicateOutputPath { .. } => "duplicate output path",
            TaskErrorKind::Output { .. } => "output error",
            _ => "other failure",
        },
    }
}

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
}

fn check_case(random_tasks: Vec<RandomTask>) -> Result<(), TestCaseError> {
    static CASE: AtomicUsize = AtomicUsize::new(0);
    let scratch = std::env::temp_dir().join(format!(
        "kokoro-engine-task-fuzz-{}-{}",
        std::process::id(),
        CASE.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&scratch).unwrap();
    let tasks: Vec<Task> = random_tasks
        .into_iter()
        .map(|random| {
            let output_path = match &random.output {
                Output::Empty => PathBuf::new(),
                Output::Folder => scratch.clone(),
                Output::Relative(components) => {
                    let path: PathBuf = components
                        .iter()
                        .fold(scratch.clone(), |path, c| path.join(c));
                    // Where it can be a file, it is a complete WAV already: the pool skips it,
                    // no inference.
                    let _ = std::fs::create_dir_all(path.parent().unwrap())
                        .and_then(|()| std::fs::write(&path, ONE_SAMPLE_WAV));
                    path
                }
            };
            Task {
                id: random.id,
                text: random.text,
                output_path,
                voice: random.voice,
                speed: random.speed,
                phonemes: random.phonemes,
                timings: None,
            }
        })
        .collect();
    let files_before = files_under(&scratch);

    let engine = engine();
    let pool = Pool::new(
        engine.clone(),
        PoolConfig {
            concurrency: 3,
            ..PoolConfig::default()
        },
    )
    .unwrap();
    let added = pool.add_tasks(tasks.clone());
    match expected_refusal(&tasks) {
        Some(refusal) => {
            prop_assert_eq!(added, Err(refusal));
            prop_assert_eq!(pool.queue_size(), 0, "a refused call queues nothing");
        }
        None => {
            prop_assert_eq!(added, Ok(tasks.len()));
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let report = runtime
                .block_on(async {
                    tokio::time::timeout(Duration::from_secs(30), pool.process(|_| {})).await
                })
                .map_err(|_| TestCaseError::fail("the run did not end within 30 s"))?
                .unwrap();
            let ids: Vec<&str> = report.tasks.iter().map(|task| task.id.as_str()).collect();
            let expected_ids: Vec<&str> = tasks.iter().map(|task| task.id.as_str()).collect();
            prop_assert_eq!(ids, expected_ids, "one report per task, in order");
            let outcomes: Vec<&str> = report
                .tasks
                .iter()
                .map(|task| outcome_name(&task.outcome))
                .collect();
            prop_assert_eq!(outcomes, expected_outcomes(&engine, &tasks));
            for task in &report.tasks {
                if let TaskOutcome::Failed { error } = &task.outcome {
                    let message = error.to_string();
                    let prefix = format!("task \"{}\": ", task.id);
                    prop_assert!(message.starts_with(&prefix), "{}", message);
                    prop_assert_eq!(&error.task_id, &task.id);
                }
            }
            prop_assert_eq!(
                files_under(&scratch),
                files_before,
                "no file written, no temporary file left"
            );
        }
    }
    std::fs::remove_dir_all(&scratch).unwrap();
    Ok(())
}

proptest! {
    #[test]
    fn random_task_lists_end_exactly_as_the_checks_promise(tasks in prop::collection::vec(random_task(), 0..10)) {
        check_case(tasks)?;
    }
}
