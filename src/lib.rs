//! kokoro-pool: the napi binding. JS types in, JS types out; the work happens in `kokoro-engine`
//! (assets, inference, scheduler, WAV) and `ja-g2p` (text to phonemes).
//!
//! Errors: a refused call throws (`InvalidArg` for bad arguments, `GenericFailure` for missing or
//! corrupt assets); a failed task never throws: it is an `Error` in that task's result.
#![deny(clippy::all)]

mod loading;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ja_g2p::UserDictionary;
use kokoro_engine::fingerprint::task_freshness;
use kokoro_engine::{
    AssetPaths, AudioFormat, EngineError, EngineOptions, Freshness, InferenceLayout, ModelVariant,
    OutputOptions, PauseLengths, PoolConfig, PoolError, ProgressEvent, RunReport, SegmentKind,
    SessionSharing, Task, TaskOutcome, TaskStatus, Timings, available_cores, sidecar_path,
};
use loading::{LoadingPool, RunCancel};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{
    ThreadsafeFunction, ThreadsafeFunctionCallMode, UnknownReturnValue,
};
use napi_derive::napi;
use tokio::sync::oneshot;

/// ONNX Runtime's telemetry off before it can initialise (`ORT_DISABLE_TELEMETRY`).
#[napi_derive::module_init]
fn init() {
    // SAFETY: runs once, as the library is loaded, on the thread that `require`s it, which waits;
    // no thread of ours exists yet.
    unsafe { kokoro_engine::disable_onnx_runtime_telemetry() }
}

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
    /// Return this task's timings and write `<outputPath>.timings.json` (default: the pool's
    /// `timings`). A task given `phonemes` gets its duration only.
    pub timings: Option<bool>,
}

#[napi(object)]
pub struct PoolOptions {
    /// Per-task limit in ms (default 60000), from leaving the queue to the file in place, not
    /// counting waits behind other tasks. The work is really stopped: the task ends as
    /// `timed-out`, its inference run terminated, nothing written.
    pub timeout_ms: Option<f64>,
    /// Report tasks whose output is complete and current as skipped instead of generating them
    /// again (default true): its fingerprint matches what the task would write, or it has none (a
    /// file from before fingerprints). An incomplete one is generated again and its result says
    /// why in `replacedInvalidOutput`; a changed one, what changed in `changes`. `false`:
    /// regenerate every file.
    pub skip_existing: Option<bool>,
    /// Voice of the tasks that name none (default `jf_alpha`).
    pub default_voice: Option<String>,
    /// Assets folder (default: `$KOKORO_POOL_ASSETS`, else the per-user cache
    /// `~/.cache/kokoro-pool/<asset-set version>` that `npx kokoro-pool fetch-assets` fills; see `assetsDir()`).
    pub assets_dir: Option<String>,
    /// Inference runs at once. Default: slots × threads = the cores, at most 8 slots and at most
    /// `concurrency` (12 cores: 6 × 2; concurrency 4 on 12 cores: 4 × 3). Tasks beyond the slots
    /// wait for one, holding no open file.
    pub inference_slots: Option<u32>,
    /// ONNX Runtime intra-op threads per inference slot (default: cores / slots; given alone, the
    /// slots fill the cores).
    pub threads_per_slot: Option<u32>,
    /// `untouched` (default): the model as published; `speech-window`: decodes only the frames
    /// around the predicted speech (about 1.3x faster on single words, less intelligible on clips
    /// under 1 s).
    #[napi(ts_type = "'speech-window' | 'untouched'")]
    pub model: Option<String>,
    /// Path of a UTF-8 CSV of the author's readings, `surface,reading[,priority]` (reading in
    /// katakana or hiragana; priority 1–10, default 10): the words are read so inside any text.
    /// A bad row throws `InvalidArg` naming the file and line.
    pub user_dictionary: Option<String>,
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
    /// Shortest silence at 、 between words, in ms (default 250; 0: as the model speaks, which
    /// often glides through the comma). docs/timings.md.
    pub comma_pause_ms: Option<u32>,
    /// Shortest silence at 。！？ followed by more words in the same item, in ms (default 400;
    /// 0: as the model speaks).
    pub sentence_pause_ms: Option<u32>,
    /// Return every task's timings (when each word and mora is spoken) in its result and write
    /// them beside its file as `<outputPath>.timings.json` (default false; docs/timings.md).
    pub timings: Option<bool>,
}

/// When each word and pause of a task's text is spoken, in seconds from the start of its file
/// (the schema of `<outputPath>.timings.json`, docs/timings.md).
#[napi(object, object_from_js = false)]
pub struct TaskTimings {
    /// Schema version (1).
    pub version: u32,
    /// The task's text; `charStart`/`charEnd` count its code points (`Array.from(text)`).
    pub text: String,
    /// The file's length in seconds.
    pub duration: f64,
    pub segments: Vec<TimingSegment>,
}

#[napi(object, object_from_js = false)]
pub struct TimingSegment {
    /// `word`, or `pause` for a punctuation mark the model pauses at (、。？！).
    #[napi(ts_type = "'word' | 'pause'")]
    pub kind: String,
    /// `Array.from(text).slice(charStart, charEnd).join('')`.
    pub text: String,
    pub char_start: u32,
    pub char_end: u32,
    /// The reading in katakana (a pause: the mark).
    pub kana: String,
    pub start: f64,
    pub end: f64,
    /// One per mora of `kana`.
    pub morae: Vec<TimingMora>,
}

#[napi(object, object_from_js = false)]
pub struct TimingMora {
    pub kana: String,
    /// The Kokoro phonemes spoken for it.
    pub phonemes: String,
    pub start: f64,
    pub end: f64,
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

/// Options of [`phonemize`]: the same meaning as in the pool's options.
#[napi(object)]
pub struct PhonemizeOptions {
    pub assets_dir: Option<String>,
    pub user_dictionary: Option<String>,
}

/// What a task that did not generate carries besides its message: a stable `code` to branch on
/// (messages are for people and may change).
#[napi(object, object_from_js = false)]
pub struct TaskFailure {
    #[napi(
        ts_type = "'Cancelled' | 'Timeout' | 'EmptyText' | 'NothingSpeakable' | 'SpeedOutOfRange' | 'UnknownVoice' | 'VoiceUnusable' | 'EmptyOutputPath' | 'DuplicateOutputPath' | 'WriteFailed' | 'PhonemizeFailed' | 'InferenceFailed' | 'Internal'"
    )]
    pub code: String,
    /// Names the task and the cause: `task "x": text is empty`.
    pub message: String,
}

/// Sent once per task, when it ends, before `process()` resolves.
#[napi(object, object_from_js = false)]
pub struct Progress {
    pub completed: u32,
    pub total: u32,
    pub succeeded: u32,
    /// Tasks with status `failed` (cancelled and timed-out ones are counted apart).
    pub failed: u32,
    pub skipped: u32,
    pub cancelled: u32,
    pub timed_out: u32,
    /// Tasks still running when this one ended (this one not counted).
    pub active: u32,
    /// Tasks not yet started.
    pub queued: u32,
    pub id: String,
    /// `true` when the task generated or was skipped.
    pub ok: bool,
    #[napi(ts_type = "TaskResult['status']")]
    pub status: String,
    /// The error message of a task that did not generate.
    pub error: Option<String>,
    /// The error's stable code, to branch on.
    #[napi(ts_type = "TaskFailure['code']")]
    pub code: Option<String>,
    /// The task's own time, from leaving the queue to its end (waits included).
    pub elapsed_ms: f64,
    /// Seconds of audio written by this task (0 unless generated).
    pub audio_seconds: f64,
}

#[napi(object, object_from_js = false)]
pub struct TaskResult {
    pub id: String,
    pub output_path: String,
    /// `generated`, `skipped` (a complete output was there), `failed`, `cancelled` (by `cancel()`
    /// or the signal) or `timed-out` (past `timeoutMs`).
    #[napi(ts_type = "'generated' | 'skipped' | 'failed' | 'cancelled' | 'timed-out'")]
    pub status: String,
    pub duration_seconds: Option<f64>,
    pub phonemes: Option<String>,
    /// Set when a file was at `outputPath` but was not complete (cut short by a crash, say): why
    /// it was replaced.
    pub replaced_invalid_output: Option<String>,
    /// Generated with `timings`: when each word and mora is spoken (also in `timingsPath`).
    pub timings: Option<TaskTimings>,
    /// Generated with `timings`: the sidecar file, `<outputPath>.timings.json`.
    pub timings_path: Option<String>,
    /// Set when a complete file was at `outputPath` but made from something else: what changed
    /// (`phonemes changed`, `voice changed`, `format changed`, …).
    pub changes: Option<Vec<String>>,
    /// Present unless the task generated or was skipped: an `Error` whose message names the task
    /// and the cause, with a stable `code`.
    #[napi(ts_type = "Error & TaskFailure")]
    pub error: Option<ErrorValue>,
}

#[napi(object, object_from_js = false)]
pub struct ProcessResult {
    /// Tasks generated.
    pub success: u32,
    /// Tasks with status `failed`.
    pub failed: u32,
    pub skipped: u32,
    pub cancelled: u32,
    pub timed_out: u32,
    pub elapsed_ms: f64,
    /// Seconds of audio generated in this run.
    pub audio_seconds: f64,
    #[napi(ts_type = "Map<string, TaskResult>")]
    pub results: ResultMap,
}

/// A JS `Error` with a `code` property, built when it crosses to JS.
pub struct ErrorValue {
    message: String,
    code: &'static str,
}

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
        let error = ctor.new_instance(val.message)?;
        Object::from_unknown(error)?.set_named_property("code", val.code)?;
        Ok(error.raw())
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
    pool: Arc<LoadingPool>,
}

#[napi]
impl AudioWorkerPool {
    /// Checks the options (throws `InvalidArg` on a bad one) and starts loading the model on
    /// another thread: it returns at once. Missing or corrupt assets reject `ready()` and `process()`.
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
            user_dictionary: None,
            timings: None,
            format: None,
            bitrate: None,
            sample_rate: None,
            loudness: None,
            pad_ms: None,
            comma_pause_ms: None,
            sentence_pause_ms: None,
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
        let layout = InferenceLayout::for_cores(
            available_cores(),
            concurrency as usize,
            options.inference_slots.map(|slots| slots as usize),
            options.threads_per_slot.map(|threads| threads as usize),
        );
        let model = model_variant(&options)?;
        let output = output_options(&options)?;
        layout.validate().map_err(engine_error)?;
        let engine_options = EngineOptions {
            assets_dir: resolve_assets_dir(options.assets_dir.as_deref())?,
            model,
            layout,
            sharing: SessionSharing::default(),
        };
        let config = PoolConfig {
            concurrency: concurrency as usize,
            timeout: Duration::from_millis(timeout_ms as u64),
            skip_existing: options.skip_existing.unwrap_or(true),
            default_voice: options
                .default_voice
                .unwrap_or_else(|| PoolConfig::default().default_voice),
            user_dictionary: user_dictionary(options.user_dictionary.as_deref())?,
            timings: options.timings.unwrap_or(false),
            output,
            // A diagnosis for the benchmark (docs/benchmark.md, "Where the time goes").
            trace_file: kokoro_engine::trace_file_from_env(),
        };
        Ok(AudioWorkerPool {
            pool: LoadingPool::start(engine_options, config),
        })
    }

    /// Resolves once the assets are verified and the model is loaded (off the JS thread); rejects
    /// with the reason they could not be (`GenericFailure`, naming the file and
    /// `npx kokoro-pool fetch-assets`). Optional: `process()` waits for the same.
    #[napi]
    pub async fn ready(&self) -> Result<()> {
        self.pool.ready().await
    }

    /// Queues tasks. Throws (nothing queued) on an empty or duplicate id; any other problem of a
    /// task (empty text, unknown voice, bad speed) becomes that task's error when it runs.
    #[napi]
    pub fn add_tasks(&self, tasks: Vec<AudioTask>) -> Result<()> {
        let tasks = tasks.into_iter().map(engine_task).collect();
        self.pool.add_tasks(tasks)
    }

    /// Runs every queued task. Resolves when all have ended, after every progress callback ran
    /// (a callback that throws is reported on stderr and the run goes on). Rejects when the pool
    /// is already processing (`GenericFailure`) and, leaving the queue as it is, when `signal` is
    /// already aborted (with `signal.reason`). `signal` aborting (or `cancel()`) stops this run
    /// only: tasks not started end as `cancelled` at once, and so do running ones, their
    /// inference terminated; files already in place stay. An empty queue resolves with zero
    /// counts.
    ///
    /// A plain fn returning a Promise, not an `async fn`: the queue is taken here, on the JS thread,
    /// so a second `process()` is refused at once instead of racing the first.
    #[napi(ts_return_type = "Promise<ProcessResult>")]
    pub fn process<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "(progress: Progress) => unknown")] on_progress: Option<
            ProgressCallback,
        >,
        #[napi(ts_arg_type = "AbortSignal | undefined | null")] signal: Option<Object<'env>>,
    ) -> Result<Either<AsyncBlock<ProcessResult>, PromiseRaw<'env, ProcessResult>>> {
        // Checked before the queue is taken: a refused call loses no task.
        if let Some(signal) = &signal
            && AbortListener::check(signal)?
        {
            let reason: Unknown = signal.get_named_property("reason")?;
            return Ok(Either::B(PromiseRaw::reject(env, reason)?));
        }
        let start = match self.pool.start_run() {
            Ok(start) => start,
            Err(error) => {
                return AsyncBlockBuilder::new(async move { Err::<ProcessResult, _>(error) })
                    .build(env)
                    .map(Either::A);
            }
        };
        let listener = match signal {
            Some(signal) => Some(AbortListener::add(env, signal, start.canceller())?),
            None => None,
        };
        AsyncBlockBuilder::with(async move {
            let batch = start.batch().await?;
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
        // Runs on the JS thread as the Promise resolves: the listener belonged to this run only.
        .with_dispose(move |env| {
            if let Some(listener) = listener {
                listener.remove(&env);
            }
            Ok(())
        })
        .build(env)
        .map(Either::A)
    }

    /// Stops the current run, if any: its tasks end as `cancelled` at once, running inferences
    /// terminated; files already in place stay. Tasks queued for the next run are kept.
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

/// Japanese text to Kokoro phonemes, with the same dictionary as the pool (loaded once) and the
/// same `userDictionary` and inline readings (`{生物|なまもの}`). Throws `InvalidArg` when the text
/// has nothing speakable or a malformed inline reading, or a dictionary row is bad.
#[napi]
pub fn phonemize(text: String, options: Option<PhonemizeOptions>) -> Result<String> {
    analyser(options)?
        .phonemize(&text)
        .map_err(|error| Error::new(Status::InvalidArg, error.to_string()))
}

/// The katakana reading [`phonemize`] speaks for `text`, words separated by spaces (what an
/// author compares with a course's reading). Same options and errors as `phonemize`.
#[napi]
pub fn reading(text: String, options: Option<PhonemizeOptions>) -> Result<String> {
    analyser(options)?
        .reading(&text)
        .map_err(|error| Error::new(Status::InvalidArg, error.to_string()))
}

fn analyser(options: Option<PhonemizeOptions>) -> Result<Arc<ja_g2p::JaG2p>> {
    let options = options.unwrap_or(PhonemizeOptions {
        assets_dir: None,
        user_dictionary: None,
    });
    let dictionary =
        AssetPaths::new(resolve_assets_dir(options.assets_dir.as_deref())?).ja_dict_dir();
    let user = user_dictionary(options.user_dictionary.as_deref())?;
    ja_g2p::JaG2p::shared_with(&dictionary, user.as_ref())
        .map_err(|error| Error::new(Status::GenericFailure, error.to_string()))
}

/// The assets folder the pool uses: `assetsDir` if given, else `$KOKORO_POOL_ASSETS`, else the
/// per-user cache `$XDG_CACHE_HOME/kokoro-pool/<asset-set version>` (or `~/.cache/...`) — inside a
/// kokoro-pool source checkout, its `assets/` unless the cache exists. Decided at run time.
#[napi]
pub fn assets_dir(assets_dir: Option<String>) -> Result<String> {
    Ok(resolve_assets_dir(assets_dir.as_deref())?
        .to_string_lossy()
        .into_owned())
}

/// Builds the Japanese dictionary (`<assets>/ja-dict`) from the compiled naist-jdic of the
/// pyopenjtalk-plus wheel, off the JS thread (about 8 s, 700 MB). Used by `fetch-assets`, so that
/// fetching needs no Rust toolchain. Resolves to a one-line summary.
#[napi]
pub async fn build_ja_dictionary(raw_dir: String, out_dir: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        ja_g2p::dictionary_build::build(Path::new(&raw_dir), Path::new(&out_dir))
    })
    .await
    .map_err(|error| Error::new(Status::GenericFailure, error.to_string()))?
    .map_err(|message| Error::new(Status::GenericFailure, message))
}

fn resolve_assets_dir(explicit: Option<&str>) -> Result<PathBuf> {
    kokoro_engine::locate(explicit.map(Path::new)).map_err(engine_error)
}

fn user_dictionary(path: Option<&str>) -> Result<Option<UserDictionary>> {
    path.map(|path| UserDictionary::from_file(Path::new(path)))
        .transpose()
        .map_err(|error| Error::new(Status::InvalidArg, error.to_string()))
}

/// Checks each task's output file against what a pool with `options` would write now, without
/// loading the model (the G2P runs for files that have a fingerprint). Throws on a bad option.
#[napi]
pub fn check_outputs(
    tasks: Vec<AudioTask>,
    options: Option<PoolOptions>,
) -> Result<Vec<OutputCheck>> {
    let (model, output, default_voice, assets_dir, user_dictionary_path) = match &options {
        Some(options) => (
            model_variant(options)?,
            output_options(options)?,
            options.default_voice.clone(),
            options.assets_dir.as_deref(),
            options.user_dictionary.as_deref(),
        ),
        None => (
            ModelVariant::default(),
            OutputOptions::default(),
            None,
            None,
            None,
        ),
    };
    let user_dictionary = user_dictionary(user_dictionary_path)?;
    let assets = AssetPaths::new(resolve_assets_dir(assets_dir)?);
    let default_voice = default_voice.unwrap_or_else(|| PoolConfig::default().default_voice);
    Ok(tasks
        .into_iter()
        .map(|task| {
            let task = engine_task(task);
            let checked = task_freshness(
                &assets,
                model,
                &default_voice,
                &output,
                user_dictionary.as_ref(),
                &task,
            );
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
        timings: task.timings,
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

/// The pool options' output part, checked (a bad one is `InvalidArg`).
fn output_options(options: &PoolOptions) -> Result<OutputOptions> {
    let invalid = |message: String| Error::new(Status::InvalidArg, message);
    let defaults = OutputOptions::default();
    let output = OutputOptions {
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
        pauses: PauseLengths {
            comma_ms: options.comma_pause_ms.unwrap_or(defaults.pauses.comma_ms),
            sentence_ms: options
                .sentence_pause_ms
                .unwrap_or(defaults.pauses.sentence_ms),
        },
    };
    output.check().map_err(invalid)?;
    Ok(output)
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

/// `addEventListener` / `removeEventListener` of an `EventTarget`, called as (type, listener).
type EventListenerMethod<'env> =
    Function<'env, FnArgs<(&'static str, Function<'env, (), ()>)>, Unknown<'env>>;

/// An `abort` listener on a caller's `AbortSignal`, added with `addEventListener` (a caller's own
/// `onabort` and other listeners are left alone) and removed when its run ends.
struct AbortListener {
    signal: ObjectRef<false>,
    listener: FunctionRef<(), ()>,
}

impl AbortListener {
    /// Whether `signal` is aborted already; an error if it is not an `AbortSignal`.
    fn check(signal: &Object) -> Result<bool> {
        let not_a_signal = || {
            Error::new(
                Status::InvalidArg,
                "signal must be an AbortSignal (with aborted, addEventListener and removeEventListener)",
            )
        };
        for method in ["addEventListener", "removeEventListener"] {
            let value: Unknown = signal.get_named_property(method)?;
            if value.get_type()? != ValueType::Function {
                return Err(not_a_signal());
            }
        }
        signal
            .get_named_property::<bool>("aborted")
            .map_err(|_| not_a_signal())
    }

    fn add(env: &Env, signal: Object, run: RunCancel) -> Result<AbortListener> {
        let listener = env.create_function_from_closure("cancelRun", move |_| {
            run.cancel();
            Ok(())
        })?;
        let add_event_listener: EventListenerMethod =
            signal.get_named_property("addEventListener")?;
        add_event_listener.apply(signal, FnArgs::from(("abort", listener)))?;
        Ok(AbortListener {
            signal: signal.create_ref()?,
            listener: listener.create_ref()?,
        })
    }

    /// Best effort: a signal whose `removeEventListener` fails only keeps a listener that can no
    /// longer reach any run.
    fn remove(self, env: &Env) {
        let removed = (|| -> Result<()> {
            let signal = self.signal.get_value(env)?;
            let remove_event_listener: EventListenerMethod =
                signal.get_named_property("removeEventListener")?;
            let listener = self.listener.borrow_back(env)?;
            remove_event_listener.apply(signal, FnArgs::from(("abort", listener)))?;
            Ok(())
        })();
        if let Err(error) = removed {
            eprintln!(
                "kokoro-pool: could not remove the abort listener: {}",
                error.reason
            );
        }
        let _ = self.signal.unref(env);
    }
}

fn progress(event: ProgressEvent) -> Progress {
    Progress {
        completed: event.completed as u32,
        total: event.total as u32,
        succeeded: event.succeeded as u32,
        failed: event.failed as u32,
        skipped: event.skipped as u32,
        cancelled: event.cancelled as u32,
        timed_out: event.timed_out as u32,
        active: event.active as u32,
        queued: event.queued as u32,
        id: event.id,
        ok: matches!(event.status, TaskStatus::Generated | TaskStatus::Skipped),
        status: event.status.name().to_string(),
        error: event.error,
        code: event.code.map(str::to_string),
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
            let status = task.outcome.status().name().to_string();
            let mut result = TaskResult {
                id: task.id,
                output_path: task.output_path.to_string_lossy().into_owned(),
                status,
                duration_seconds: None,
                phonemes: None,
                replaced_invalid_output: None,
                timings: None,
                timings_path: None,
                changes: None,
                error: None,
            };
            match task.outcome {
                TaskOutcome::Generated {
                    duration_seconds,
                    phonemes,
                    replaced_invalid_output,
                    timings,
                    changes,
                } => {
                    audio_seconds += duration_seconds;
                    result.duration_seconds = Some(duration_seconds);
                    result.phonemes = Some(phonemes);
                    result.replaced_invalid_output = replaced_invalid_output;
                    if let Some(timings) = timings {
                        result.timings_path = Some(
                            sidecar_path(&task.output_path)
                                .to_string_lossy()
                                .into_owned(),
                        );
                        result.timings = Some(task_timings(*timings));
                    }
                    result.changes = Some(changes).filter(|changes| !changes.is_empty());
                }
                TaskOutcome::Skipped => {}
                TaskOutcome::Failed { error } => {
                    result.error = Some(ErrorValue {
                        message: error.to_string(),
                        code: error.kind.code(),
                    });
                }
            }
            result
        })
        .collect();
    ProcessResult {
        success: report.succeeded as u32,
        failed: report.failed as u32,
        skipped: report.skipped as u32,
        cancelled: report.cancelled as u32,
        timed_out: report.timed_out as u32,
        elapsed_ms: report.elapsed.as_secs_f64() * 1000.0,
        audio_seconds,
        results: ResultMap(results),
    }
}

fn task_timings(timings: Timings) -> TaskTimings {
    TaskTimings {
        version: timings.version,
        text: timings.text,
        duration: timings.duration,
        segments: timings
            .segments
            .into_iter()
            .map(|segment| TimingSegment {
                kind: match segment.kind {
                    SegmentKind::Word => "word",
                    SegmentKind::Pause => "pause",
                }
                .to_string(),
                text: segment.text,
                char_start: segment.char_start as u32,
                char_end: segment.char_end as u32,
                kana: segment.kana,
                start: segment.start,
                end: segment.end,
                morae: segment
                    .morae
                    .into_iter()
                    .map(|mora| TimingMora {
                        kana: mora.kana,
                        phonemes: mora.phonemes,
                        start: mora.start,
                        end: mora.end,
                    })
                    .collect(),
            })
            .collect(),
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

pub(crate) fn pool_error(error: PoolError) -> Error {
    let status = match error {
        PoolError::AlreadyProcessing => Status::GenericFailure,
        _ => Status::InvalidArg,
    };
    Error::new(status, error.to_string())
}

pub(crate) fn engine_error(error: EngineError) -> Error {
    let status = match error {
        EngineError::InvalidLayout(_) => Status::InvalidArg,
        _ => Status::GenericFailure,
    };
    Error::new(status, error.to_string())
}
