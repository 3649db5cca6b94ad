//! kokoro-pool: the napi binding. JS types in, JS types out; the work happens in `kokoro-engine`
//! (assets, inference, scheduler, WAV) and `ja-g2p` (text to phonemes).
//!
//! Errors: a refused call throws (`InvalidArg` for bad arguments, `GenericFailure` for missing or
//! corrupt assets); a failed task never throws: it is an `Error` in that task's result.
#![deny(clippy::all)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kokoro_engine::fingerprint::task_freshness;
use kokoro_engine::{
    AssetPaths, AudioFormat, Engine, EngineError, EngineOptions, Freshness, InferenceLayout,
    ModelVariant, OutputOptions, Pool, PoolConfig, PoolError, ProgressEvent, RunReport,
    SessionSharing, Task, TaskOutcome, TaskStatus,
};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{
    ThreadsafeFunction, ThreadsafeFunctionCallMode, UnknownReturnValue,
};
use napi_derive::napi;
use tokio::sync::oneshot;

/// One utterance to synthesise into one WAV file.
#[napi(object)]
pub struct AudioTask {
    /// Unique within the pool; names the task in progress events, results and errors.
    pub id: String,
    /// Japanese text to speak.
    pub text: String,
    /// Where the file goes (its folder is created when missing). Its extension (.wav, .mp3, .opus,
    /// .flac) gives the format unless the pool's `format` is set.
    pub output_path: String,
    /// A voice name such as `jf_alpha` (default: the pool's `defaultVoice`).
    pub voice: Option<String>,
    /// 0.5 to 2.0 (default 1).
    pub speed: Option<f64>,
    /// Kokoro phonemes to speak instead of the text (bypasses the Japanese G2P).
    pub phonemes: Option<String>,
}

#[napi(object)]
pub struct PoolOptions {
    /// Per-task limit on inference and writing, in ms (default 60000). The run is really stopped.
    pub timeout_ms: Option<f64>,
    /// Report tasks whose output is current as skipped instead of generating them again (default
    /// true): its fingerprint matches what the task would write, or it has none (a file from
    /// before fingerprints). `false`: regenerate every file.
    pub skip_existing: Option<bool>,
    /// Voice of the tasks that name none (default `jf_alpha`).
    pub default_voice: Option<String>,
    /// Assets folder (default `$KOKORO_POOL_ASSETS`, else `assets/` beside this package).
    pub assets_dir: Option<String>,
    /// Inference runs at once (default: one per core, at most 8 and at most `concurrency`).
    /// Tasks beyond the slots wait for one (text analysis and writing still overlap).
    pub inference_slots: Option<u32>,
    /// ONNX Runtime intra-op threads per inference slot (default: cores / slots).
    pub threads_per_slot: Option<u32>,
    /// `untouched` (default): the model as published; `speech-window`: decodes only the frames
    /// around the predicted speech (about 1.3x faster on single words, less intelligible on clips
    /// under 1 s).
    #[napi(ts_type = "'speech-window' | 'untouched'")]
    pub model: Option<String>,
    /// File format of every output (default: each `outputPath`'s extension, else wav). A path
    /// whose extension names another format is that task's error.
    #[napi(ts_type = "'wav' | 'mp3' | 'opus' | 'flac'")]
    pub format: Option<String>,
    /// kbit/s for mp3 (default 48) and opus (default 32).
    pub bitrate: Option<u32>,
    /// 24000 (default, the model's), 44100 or 48000 (opus: 24000 or 48000).
    pub sample_rate: Option<u32>,
    /// Integrated loudness target in LUFS (EBU R128), e.g. -16, with true peaks under -1 dBTP.
    /// Default: off (the model's own level).
    pub loudness: Option<f64>,
    /// Silence before and after the speech in ms (default 50).
    pub pad_ms: Option<u32>,
}

/// Whether a task's output file is what the task would write now.
#[napi(object, object_from_js = false)]
pub struct OutputCheck {
    pub id: String,
    pub output_path: String,
    /// `missing`: no file; `current`: its fingerprint matches; `unfingerprinted`: a file without
    /// one (kept unless forced); `changed`: its fingerprint differs (see `reasons`); `failed`:
    /// the task cannot be checked (see `error`).
    #[napi(ts_type = "'missing' | 'current' | 'unfingerprinted' | 'changed' | 'failed'")]
    pub status: String,
    /// What differs, e.g. `phonemes changed`, `voice changed`, `format changed`.
    pub reasons: Vec<String>,
    pub error: Option<String>,
}

/// Sent once per task, when it ends, before `process()` resolves.
#[napi(object, object_from_js = false)]
pub struct Progress {
    pub completed: u32,
    pub total: u32,
    pub succeeded: u32,
    pub failed: u32,
    pub skipped: u32,
    /// Tasks still running when this one ended (this one not counted).
    pub active: u32,
    /// Tasks not yet started.
    pub queued: u32,
    pub id: String,
    pub ok: bool,
    #[napi(ts_type = "'generated' | 'skipped' | 'failed'")]
    pub status: String,
    /// The failed task's error message.
    pub error: Option<String>,
    /// The task's own time, from start to end.
    pub elapsed_ms: f64,
    /// Seconds of audio written by this task (0 unless generated).
    pub audio_seconds: f64,
}

#[napi(object, object_from_js = false)]
pub struct TaskResult {
    pub id: String,
    pub output_path: String,
    #[napi(ts_type = "'generated' | 'skipped' | 'failed'")]
    pub status: String,
    pub duration_seconds: Option<f64>,
    pub phonemes: Option<String>,
    /// Present when the task failed: an `Error` whose message names the task and the cause.
    #[napi(ts_type = "Error")]
    pub error: Option<ErrorValue>,
}

#[napi(object, object_from_js = false)]
pub struct ProcessResult {
    pub success: u32,
    pub failed: u32,
    pub skipped: u32,
    pub elapsed_ms: f64,
    /// Seconds of audio generated in this run.
    pub audio_seconds: f64,
    #[napi(ts_type = "Map<string, TaskResult>")]
    pub results: ResultMap,
}

/// A JS `Error` built from a message when it crosses to JS.
pub struct ErrorValue(String);

impl TypeName for ErrorValue {
    fn type_name() -> &'static str {
        "Error"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for ErrorValue {
    unsafe fn to_napi_value(raw_env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        let env = Env::from_raw(raw_env);
        let ctor: Function<String, Unknown> = env.get_global()?.get_named_property("Error")?;
        Ok(ctor.new_instance(val.0)?.raw())
    }
}

/// A real JS `Map<string, TaskResult>`, in the order the tasks were added.
pub struct ResultMap(Vec<TaskResult>);

impl TypeName for ResultMap {
    fn type_name() -> &'static str {
        "Map"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for ResultMap {
    unsafe fn to_napi_value(raw_env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        let env = Env::from_raw(raw_env);
        let ctor: Function<(), Unknown> = env.get_global()?.get_named_property("Map")?;
        let map = ctor.new_instance(())?;
        let map_object = Object::from_unknown(map)?;
        // A bare tuple would be passed as one array argument; FnArgs spreads it into (key, value).
        let set: Function<FnArgs<(String, TaskResult)>, Unknown> =
            map_object.get_named_property("set")?;
        for result in val.0 {
            set.apply(map_object, FnArgs::from((result.id.clone(), result)))?;
        }
        Ok(map.raw())
    }
}

type ProgressCallback = ThreadsafeFunction<Progress, UnknownReturnValue, Progress, Status, false>;

/// The native replacement of the old TypeScript pool: one shared Kokoro model, at most
/// `concurrency` tasks at once, live progress.
#[napi]
pub struct AudioWorkerPool {
    pool: Arc<Pool>,
}

#[napi]
impl AudioWorkerPool {
    /// Loads (or reuses) the model and checks the options. Throws on a bad option or missing assets.
    #[napi(constructor)]
    pub fn new(concurrency: Option<f64>, options: Option<PoolOptions>) -> Result<Self> {
        let options = options.unwrap_or(PoolOptions {
            timeout_ms: None,
            skip_existing: None,
            default_voice: None,
            assets_dir: None,
            inference_slots: None,
            threads_per_slot: None,
            model: None,
            format: None,
            bitrate: None,
            sample_rate: None,
            loudness: None,
            pad_ms: None,
        });
        let concurrency = whole_number(
            "concurrency",
            concurrency.unwrap_or(4.0),
            1.0,
            kokoro_engine::MAX_CONCURRENCY as f64,
        )?;
        let timeout_ms = whole_number(
            "timeoutMs",
            options.timeout_ms.unwrap_or(60_000.0),
            1.0,
            24.0 * 3600.0 * 1000.0,
        )?;
        // More slots than tasks at once would leave cores idle: with fewer tasks than slots, the
        // spare cores become threads of the runs that do happen (concurrency 1 on 2 cores: 1 x 2).
        let automatic = InferenceLayout::automatic();
        let cores = automatic.slots * automatic.threads_per_slot;
        let slots = options
            .inference_slots
            .map_or(automatic.slots.min(concurrency as usize), |slots| {
                slots as usize
            });
        let layout = InferenceLayout {
            slots,
            threads_per_slot: options
                .threads_per_slot
                .map_or((cores / slots.max(1)).max(1), |threads| threads as usize),
        };
        let model = model_variant(&options)?;
        let output = output_options(&options)?;
        let engine = Engine::shared(&EngineOptions {
            assets_dir: options.assets_dir.map(PathBuf::from),
            model,
            layout,
            sharing: SessionSharing::default(),
        })
        .map_err(engine_error)?;
        let config = PoolConfig {
            concurrency: concurrency as usize,
            timeout: Duration::from_millis(timeout_ms as u64),
            skip_existing: options.skip_existing.unwrap_or(true),
            default_voice: options
                .default_voice
                .unwrap_or_else(|| PoolConfig::default().default_voice),
            output,
        };
        let pool = Pool::new(engine, config).map_err(pool_error)?;
        Ok(AudioWorkerPool {
            pool: Arc::new(pool),
        })
    }

    /// Queues tasks. Throws (nothing queued) on an empty or duplicate id; any other problem of a
    /// task (empty text, unknown voice, bad speed) becomes that task's error when it runs.
    #[napi]
    pub fn add_tasks(&self, tasks: Vec<AudioTask>) -> Result<()> {
        let tasks = tasks.into_iter().map(engine_task).collect();
        self.pool.add_tasks(tasks).map(|_| ()).map_err(pool_error)
    }

    /// Runs every queued task. Resolves when all have ended, after every progress callback ran.
    /// Rejects only when the pool is already processing. `signal` (or `cancel()`) stops the run:
    /// tasks not started end as cancelled, running inferences are terminated.
    ///
    /// A plain fn returning a Promise, not an `async fn`: the queue is taken here, on the JS thread,
    /// so a second `process()` is refused at once instead of racing the first.
    #[napi(ts_return_type = "Promise<ProcessResult>")]
    pub fn process(
        &self,
        env: &Env,
        #[napi(ts_arg_type = "(progress: Progress) => unknown")] on_progress: Option<
            ProgressCallback,
        >,
        signal: Option<AbortSignal>,
    ) -> Result<AsyncBlock<ProcessResult>> {
        let batch = match self.pool.begin() {
            Ok(batch) => batch,
            Err(error) => {
                let error = pool_error(error);
                return AsyncBlockBuilder::new(async move { Err::<ProcessResult, _>(error) })
                    .build(env);
            }
        };
        if let Some(signal) = signal {
            // AbortSignal is not Send: it stays on the JS thread, which runs this closure on abort.
            let pool = Arc::downgrade(&self.pool);
            signal.on_abort(move || {
                if let Some(pool) = pool.upgrade() {
                    pool.cancel();
                }
            });
        }
        AsyncBlockBuilder::new(async move {
            let acknowledgements = Mutex::new(Vec::new());
            let report = batch
                .run(|event| {
                    if let Some(callback) = &on_progress {
                        acknowledgements
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(send_progress(callback, event));
                    }
                })
                .await;
            // Each callback has been queued on the JS thread; wait until all of them ran.
            for acknowledgement in acknowledgements
                .into_inner()
                .unwrap_or_else(|e| e.into_inner())
            {
                let _ = acknowledgement.await;
            }
            Ok(process_result(report))
        })
        .build(env)
    }

    /// Stops the current run: tasks not started end as cancelled, running inferences are terminated.
    #[napi]
    pub fn cancel(&self) {
        self.pool.cancel();
    }

    /// Tasks queued and not yet started (live while `process()` runs).
    #[napi]
    pub fn get_queue_size(&self) -> u32 {
        self.pool.queue_size() as u32
    }

    /// Tasks running now (live while `process()` runs).
    #[napi]
    pub fn get_active_workers(&self) -> u32 {
        self.pool.active_workers() as u32
    }
}

/// Japanese text to Kokoro phonemes, with the same dictionary as the pool (loaded once).
/// Throws when the text has nothing speakable.
#[napi]
pub fn phonemize(text: String) -> Result<String> {
    let dictionary = AssetPaths::resolve(None).ja_dict_dir();
    let g2p = ja_g2p::JaG2p::shared(&dictionary)
        .map_err(|error| Error::new(Status::GenericFailure, error.to_string()))?;
    g2p.phonemize(&text)
        .map_err(|error| Error::new(Status::InvalidArg, error.to_string()))
}

/// Checks each task's output file against what a pool with `options` would write now, without
/// loading the model (the G2P runs for files that have a fingerprint). Throws on a bad option.
#[napi]
pub fn check_outputs(
    tasks: Vec<AudioTask>,
    options: Option<PoolOptions>,
) -> Result<Vec<OutputCheck>> {
    let (model, output, default_voice, assets) = match &options {
        Some(options) => (
            model_variant(options)?,
            output_options(options)?,
            options.default_voice.clone(),
            options.assets_dir.as_deref().map(std::path::Path::new),
        ),
        None => (
            ModelVariant::default(),
            OutputOptions::default(),
            None,
            None,
        ),
    };
    output
        .check()
        .map_err(|message| Error::new(Status::InvalidArg, message))?;
    let assets = AssetPaths::resolve(assets);
    let default_voice = default_voice.unwrap_or_else(|| PoolConfig::default().default_voice);
    Ok(tasks
        .into_iter()
        .map(|task| {
            let task = engine_task(task);
            let checked = task_freshness(&assets, model, &default_voice, &output, &task);
            let (status, reasons, error) = match checked {
                Ok(Freshness::Missing) => ("missing", vec![], None),
                Ok(Freshness::Current) => ("current", vec![], None),
                Ok(Freshness::Unfingerprinted) => ("unfingerprinted", vec![], None),
                Ok(Freshness::Changed { reasons }) => ("changed", reasons, None),
                Err(error) => ("failed", vec![], Some(error.to_string())),
            };
            OutputCheck {
                id: task.id,
                output_path: task.output_path.to_string_lossy().into_owned(),
                status: status.into(),
                reasons,
                error,
            }
        })
        .collect())
}

fn engine_task(task: AudioTask) -> Task {
    Task {
        id: task.id,
        text: task.text,
        output_path: PathBuf::from(task.output_path),
        voice: task.voice,
        speed: task.speed.map(|speed| speed as f32),
        phonemes: task.phonemes,
    }
}

fn model_variant(options: &PoolOptions) -> Result<ModelVariant> {
    match options.model.as_deref() {
        Some(name) => name
            .parse::<ModelVariant>()
            .map_err(|message| Error::new(Status::InvalidArg, format!("model: {message}"))),
        None => Ok(ModelVariant::default()),
    }
}

fn output_options(options: &PoolOptions) -> Result<OutputOptions> {
    let invalid = |message: String| Error::new(Status::InvalidArg, message);
    let defaults = OutputOptions::default();
    Ok(OutputOptions {
        format: options
            .format
            .as_deref()
            .map(str::parse::<AudioFormat>)
            .transpose()
            .map_err(|message| invalid(format!("format: {message}")))?,
        bitrate_kbps: options.bitrate,
        sample_rate: options.sample_rate.unwrap_or(defaults.sample_rate),
        loudness_lufs: options.loudness,
        pad_ms: options.pad_ms.unwrap_or(defaults.pad_ms),
    })
}

/// Queues one progress event on the JS thread; the receiver completes once the callback returned
/// (or threw: `call_with_return_value` hands a throw to us instead of making it uncaught).
fn send_progress(callback: &ProgressCallback, event: ProgressEvent) -> oneshot::Receiver<()> {
    let (done, acknowledgement) = oneshot::channel();
    let id = event.id.clone();
    let status = callback.call_with_return_value(
        progress(event),
        ThreadsafeFunctionCallMode::NonBlocking,
        move |returned: Result<UnknownReturnValue>, _env| {
            if let Err(error) = returned {
                eprintln!(
                    "kokoro-pool: the progress callback threw for task \"{id}\": {}",
                    error.reason
                );
            }
            let _ = done.send(());
            Ok(())
        },
    );
    if status != Status::Ok {
        // Never queued (the environment is shutting down): nothing to wait for.
        let (done, acknowledgement) = oneshot::channel();
        let _ = done.send(());
        return acknowledgement;
    }
    acknowledgement
}

fn progress(event: ProgressEvent) -> Progress {
    Progress {
        completed: event.completed as u32,
        total: event.total as u32,
        succeeded: event.succeeded as u32,
        failed: event.failed as u32,
        skipped: event.skipped as u32,
        active: event.active as u32,
        queued: event.queued as u32,
        id: event.id,
        ok: event.ok,
        status: status_name(event.status).to_string(),
        error: event.error,
        elapsed_ms: event.elapsed_ms as f64,
        audio_seconds: event.audio_seconds,
    }
}

fn process_result(report: RunReport) -> ProcessResult {
    let mut audio_seconds = 0.0;
    let results = report
        .tasks
        .into_iter()
        .map(|task| {
            let output_path = task.output_path.to_string_lossy().into_owned();
            match task.outcome {
                TaskOutcome::Generated {
                    duration_seconds,
                    phonemes,
                    ..
                } => {
                    audio_seconds += duration_seconds;
                    TaskResult {
                        id: task.id,
                        output_path,
                        status: status_name(TaskStatus::Generated).to_string(),
                        duration_seconds: Some(duration_seconds),
                        phonemes: Some(phonemes),
                        error: None,
                    }
                }
                TaskOutcome::Skipped { .. } => TaskResult {
                    id: task.id,
                    output_path,
                    status: status_name(TaskStatus::Skipped).to_string(),
                    duration_seconds: None,
                    phonemes: None,
                    error: None,
                },
                TaskOutcome::Failed { error } => TaskResult {
                    id: task.id,
                    output_path,
                    status: status_name(TaskStatus::Failed).to_string(),
                    duration_seconds: None,
                    phonemes: None,
                    error: Some(ErrorValue(error.to_string())),
                },
            }
        })
        .collect();
    ProcessResult {
        success: report.succeeded as u32,
        failed: report.failed as u32,
        skipped: report.skipped as u32,
        elapsed_ms: report.elapsed.as_secs_f64() * 1000.0,
        audio_seconds,
        results: ResultMap(results),
    }
}

fn status_name(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Generated => "generated",
        TaskStatus::Skipped => "skipped",
        TaskStatus::Failed => "failed",
    }
}

/// A JS number that must be a whole number in `min..=max` (JS has no integers: -1, 1e9 and 2.5
/// all arrive here and each deserves a clear error, not a wrap-around).
fn whole_number(name: &str, value: f64, min: f64, max: f64) -> Result<f64> {
    if value.fract() == 0.0 && (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(Error::new(
            Status::InvalidArg,
            format!("{name} must be a whole number from {min} to {max}, got {value}"),
        ))
    }
}

fn pool_error(error: PoolError) -> Error {
    let status = match error {
        PoolError::AlreadyProcessing => Status::GenericFailure,
        _ => Status::InvalidArg,
    };
    Error::new(status, error.to_string())
}

fn engine_error(error: EngineError) -> Error {
    let status = match error {
        EngineError::InvalidLayout(_) => Status::InvalidArg,
        _ => Status::GenericFailure,
    };
    Error::new(status, error.to_string())
}
