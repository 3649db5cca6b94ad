//! At concurrency 1,024, open files and temporary files stay bounded by the inference slots, not by
//! the tasks active at once (docs/reliability.md, "Scale"). Its own test binary with one test, so
//! that no other test opens files in this process while it counts them.

use kokoro_engine::{Engine, EngineOptions, InferenceLayout, Pool, PoolConfig, Task, TaskOutcome};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const SLOTS: usize = 2;
const TASKS: usize = 48;

fn open_file_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn temporary_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|entry| entry.file_name().to_string_lossy().ends_with(".tmp"))
                .count()
        })
        .unwrap_or(0)
}

fn word(dir: &Path, id: &str) -> Task {
    Task {
        id: id.to_string(),
        text: String::new(),
        output_path: dir.join(format!("{id}.wav")),
        voice: None,
        speed: None,
        phonemes: Some("tabeɾɯ".into()),
        timings: None,
    }
}

#[test]
fn open_files_and_temporary_files_stay_bounded_by_the_slots_at_concurrency_1024() {
    let engine = Engine::load(&EngineOptions {
        layout: InferenceLayout {
            slots: SLOTS,
            threads_per_slot: 1,
        },
        ..EngineOptions::new(
            kokoro_engine::assets::locate(None).unwrap_or_else(|error| panic!("{error}")),
        )
    })
    .unwrap_or_else(|error| panic!("{error}"));
    let dir: PathBuf =
        std::env::temp_dir().join(format!("kokoro-engine-bounded-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let pool = Arc::new(
        Pool::new(
            engine,
            PoolConfig {
                concurrency: 1024,
                ..PoolConfig::default()
            },
        )
        .unwrap(),
    );
    // A first run opens what ONNX Runtime and the folder keep for good.
    pool.add_tasks(vec![word(&dir, "warm-up")]).unwrap();
    runtime.block_on(pool.process(|_| {})).unwrap();
    let baseline = open_file_descriptors();

    pool.add_tasks((0..TASKS).map(|i| word(&dir, &format!("w{i}"))).collect())
        .unwrap();
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (pool, sampling, dir) = (pool.clone(), sampling.clone(), dir.clone());
        std::thread::spawn(move || {
            let (mut most_fds, mut most_temporary, mut most_active) = (0, 0, 0);
            while sampling.load(Ordering::SeqCst) {
                most_fds = most_fds.max(open_file_descriptors());
                most_temporary = most_temporary.max(temporary_files(&dir));
                most_active = most_active.max(pool.active_workers());
                std::thread::sleep(Duration::from_micros(200));
            }
            (most_fds, most_temporary, most_active)
        })
    };
    let report = runtime.block_on(pool.process(|_| {})).unwrap();
    sampling.store(false, Ordering::SeqCst);
    let (most_fds, most_temporary, most_active) = sampler.join().unwrap();

    assert_eq!(
        report.succeeded,
        TASKS,
        "{:?}",
        report
            .tasks
            .iter()
            .find(|task| !matches!(task.outcome, TaskOutcome::Generated { .. }))
    );
    assert_eq!(most_active, TASKS, "every task was active at once");
    // One file each for the tasks preparing (a folder check) and writing (the temporary file),
    // one turn per slot for each; the old design held one open temporary file per active task.
    assert!(
        most_fds <= baseline + 2 * SLOTS,
        "{most_fds} descriptors open at most, {baseline} before the run"
    );
    assert!(
        most_temporary <= 2 * SLOTS,
        "{most_temporary} temporary files"
    );
    assert_eq!(temporary_files(&dir), 0);
    println!(
        "concurrency 1024, {SLOTS} slots, {TASKS} tasks all active: open descriptors {baseline} before, \
         {most_fds} at most; temporary files {most_temporary} at most"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
