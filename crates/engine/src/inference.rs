//! ONNX Runtime: the one model in memory, the inference slots that bound concurrent runs, and
//! runs that a timer or a cancel can terminate.
//!
//! # Layout: one session, concurrent runs (measured)
//!
//! `ort` 2.0.0-rc.15 makes `Session::run` take `&mut self`, so a shared session needs either a
//! mutex (serialises everything) or the C API's `Run`, which ONNX Runtime documents as safe to call
//! concurrently on one session on the CPU execution provider. Both candidates were built
//! ([`SessionSharing`]) and measured with `kokoro-floor` (`scripts/measure-layouts.sh`): 21 mixed
//! Japanese utterances given as phonemes (3 to 377 phonemes, 101.4 s of trimmed audio), one
//! intra-op thread per slot, concurrency = slots unless noted, ORT 1.31.1, a 2-core x86-64 machine,
//! two rounds (a / b) in one session. Other jobs shared the machine (load average 6.5 to 11.6), so
//! the wall-clock columns are noisy; CPU seconds and peak RSS are the steady ones.
//!
//! | layout                            | conc. | utt/s a / b   | CPU s a / b | peak RSS a / b    | load s  |
//! |-----------------------------------|-------|---------------|-------------|-------------------|---------|
//! | one session, 1 slot               | 1     | 0.112 / 0.135 | 86 / 80     | 828 / 829 MiB     | 2-3     |
//! | one session, 2 slots              | 2     | 0.132 / 0.119 | 88 / 86     | 858 / 894 MiB     | 2-3     |
//! | session per slot, 2 (prepacked)   | 2     | 0.121 / 0.119 | 90 / 85     | 1097 / 1094 MiB   | 2-4     |
//! | one session, 8 slots              | 8     | 0.116 / 0.121 | 93 / 88     | 1386 / 1417 MiB   | 1-3     |
//! | session per slot, 8 (prepacked)   | 8     | 0.113 / 0.154 | 98 / 93     | 2890 / 2892 MiB   | 9-13    |
//! | one session, 2 slots (default)    | 8     | 0.153 / 0.135 | 87 / 89     | 956 / 862 MiB     | 2       |
//!
//! Throughput is the same within the noise (the CPU work per utterance is), as it was on a quiet
//! machine before (DESIGN.md, 40 utterances: 0.66 utt/s for 2 concurrent runs on one session,
//! 0.64 for 2 sessions). Memory is not: every extra session costs about 210 MiB even with shared
//! prepacked weights (the int8 convolutions are not prepacked, so each session keeps its own
//! initializers), and 8 sessions take 9-13 s to load.
//!
//! Chosen: [`SessionSharing::SharedSession`], the default: one model in memory whatever the
//! concurrency; memory grows only with the activations of the runs in flight, which the slot
//! count bounds (2 slots under concurrency 8: under 1 GiB).

use crate::assets::{AssetPaths, ModelVariant};
use crate::duration_outputs;
use crate::error::EngineError;
use crate::graph_cache;
use crate::layout::InferenceLayout;
use crate::voices::STYLE_WIDTH;
use ort::AsPointer;
use ort::environment::Environment;
use ort::session::builder::SessionBuilder;
use ort::session::{RunOptions, Session};
use ort::value::Tensor;
use std::ffi::{CStr, CString, c_char};
use std::ptr::null_mut;
#[cfg(feature = "session-per-slot")]
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How the slots share the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SessionSharing {
    /// One session; slots run concurrently on it through the C API's thread-safe `Run`.
    /// Its intra-op thread pool is shared by the runs in flight.
    #[default]
    SharedSession,
    /// One session per slot, sharing prepacked weights (`PrepackedWeights`); kept so that
    /// `kokoro-floor` can measure it against the chosen layout (cargo feature `session-per-slot`).
    #[cfg(feature = "session-per-slot")]
    SessionPerSlot,
}

/// Why a run was stopped from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopReason {
    TimedOut = 1,
    Cancelled = 2,
}

/// The handle that terminates one task's runs: ONNX Runtime checks the flag between kernels and
/// returns an error, and every later run with the same options fails at once.
pub(crate) struct RunStop {
    options: RunOptions,
    reason: AtomicU8,
}

impl RunStop {
    pub(crate) fn new() -> Result<RunStop, String> {
        let options = RunOptions::new().map_err(|error| error.to_string())?;
        Ok(RunStop {
            options,
            reason: AtomicU8::new(0),
        })
    }

    /// Terminates the run in flight (if any) and every later one; the first reason wins.
    pub(crate) fn stop(&self, reason: StopReason) {
        let _ = self
            .reason
            .compare_exchange(0, reason as u8, Ordering::SeqCst, Ordering::SeqCst);
        // Failing to set the flag would only let the run finish; nothing to recover.
        let _ = self.options.terminate();
    }

    pub(crate) fn reason(&self) -> Option<StopReason> {
        match self.reason.load(Ordering::SeqCst) {
            1 => Some(StopReason::TimedOut),
            2 => Some(StopReason::Cancelled),
            _ => None,
        }
    }
}

/// Proof that the holder may start a run; the slot frees itself when dropped.
pub(crate) struct InferenceSlot {
    _permit: OwnedSemaphorePermit,
}

enum Sessions {
    Shared(Session),
    #[cfg(feature = "session-per-slot")]
    PerSlot(Vec<Mutex<Session>>),
}

pub(crate) struct Model {
    sessions: Sessions,
    variant: ModelVariant,
    slots: Arc<Semaphore>,
    decoded_samples: AtomicU64,
}

/// The variable ONNX Runtime (1.29 and later, outside Windows) reads once, when it initialises: set
/// to 1, it collects nothing. Microsoft's builds (ours is the PyPI wheel's) otherwise create a
/// device id and an SQLite event queue under `~/.cache/Microsoft/DeveloperTools`, kept open for
/// the process's life, and upload the events when a network allows; `DisableTelemetryEvents`
/// comes too late to stop the first event and the files.
pub const ORT_TELEMETRY_ENV: &str = "ORT_DISABLE_TELEMETRY";

/// Sets [`ORT_TELEMETRY_ENV`] to 1 unless the process set it already (to opt in, set it to 0).
/// A library inside someone else's app does not report on it.
///
/// # Safety
/// As [`std::env::set_var`]: no other thread may read or write the environment meanwhile. Call
/// it first thing in `main`, or when a native module is loaded.
pub unsafe fn disable_onnx_runtime_telemetry() {
    if std::env::var_os(ORT_TELEMETRY_ENV).is_none() {
        // SAFETY: the caller's promise.
        unsafe { std::env::set_var(ORT_TELEMETRY_ENV, "1") };
    }
}

/// The process-wide ONNX Runtime environment; the library is loaded from the first assets folder used.
fn environment(paths: &AssetPaths) -> Result<&'static Environment, EngineError> {
    static ENVIRONMENT: OnceLock<Result<Environment, EngineError>> = OnceLock::new();
    ENVIRONMENT
        .get_or_init(|| {
            let library = paths.ort_library();
            let runtime_error = |cause: String| EngineError::Runtime {
                path: library.clone(),
                cause,
            };
            // Runtime events off as well, for a process that did not call
            // `disable_onnx_runtime_telemetry` before ONNX Runtime initialised.
            ort::init_from(&library)
                .map_err(|error| runtime_error(error.to_string()))?
                .with_name("kokoro-pool")
                .with_telemetry(false)
                .build()
                .map_err(|error| runtime_error(error.to_string()))
        })
        .as_ref()
        .map_err(Clone::clone)
}

impl Model {
    pub(crate) fn load(
        paths: &AssetPaths,
        variant: ModelVariant,
        layout: InferenceLayout,
        sharing: SessionSharing,
    ) -> Result<Model, EngineError> {
        layout.validate()?;
        let environment = environment(paths)?;
        let model_path = paths.model(variant);
        #[cfg(feature = "session-per-slot")]
        let prepacked = ort::session::builder::PrepackedWeights::new();
        let new_session = || -> Result<Session, EngineError> {
            let configure = || -> ort::Result<SessionBuilder> {
                let builder = Session::builder(environment)?
                    .with_intra_threads(intra_op_threads(layout, sharing))?
                    .with_inter_threads(1)?
                    // Spinning threads steal CPU from concurrent runs: 10-25% less CPU, same wall time.
                    .with_intra_op_spinning(false)?;
                #[cfg(feature = "session-per-slot")]
                let builder = if sharing == SessionSharing::SessionPerSlot {
                    builder.with_prepacked_weights(&prepacked)?
                } else {
                    builder
                };
                Ok(builder)
            };
            let model_error = |cause: String| EngineError::ModelLoad {
                path: model_path.clone(),
                cause,
            };
            let builder = configure().map_err(|error| model_error(error.to_string()))?;
            let session = graph_cache::commit(builder, paths, variant)?;
            check_signature(&session, variant).map_err(model_error)?;
            Ok(session)
        };
        let sessions = match sharing {
            SessionSharing::SharedSession => Sessions::Shared(new_session()?),
            #[cfg(feature = "session-per-slot")]
            SessionSharing::SessionPerSlot => Sessions::PerSlot(
                (0..layout.slots)
                    .map(|_| new_session().map(Mutex::new))
                    .collect::<Result<_, _>>()?,
            ),
        };
        Ok(Model {
            sessions,
            variant,
            slots: Arc::new(Semaphore::new(layout.slots)),
            decoded_samples: AtomicU64::new(0),
        })
    }

    /// Samples returned by every run so far, before trimming.
    pub(crate) fn decoded_samples(&self) -> u64 {
        self.decoded_samples.load(Ordering::Relaxed)
    }

    /// Waits for a free inference slot. Fails only if the slot semaphore was closed, which this
    /// crate never does.
    pub(crate) async fn acquire_slot(&self) -> Result<InferenceSlot, String> {
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|error| error.to_string())?;
        Ok(InferenceSlot { _permit: permit })
    }

    /// Slots free right now.
    #[cfg(test)]
    pub(crate) fn free_slots(&self) -> usize {
        self.slots.available_permits()
    }

    /// Runs the model on one chunk: `padded_tokens` (with the pads), the voice's style row and the
    /// speed. Returns 24 kHz samples and the frames each token lasts.
    pub(crate) fn run(
        &self,
        _slot: &InferenceSlot,
        padded_tokens: Vec<i64>,
        style: &[f32],
        speed: f32,
        stop: &RunStop,
    ) -> Result<Decoded, String> {
        let token_count = padded_tokens.len();
        let tokens = Tensor::from_array(([1usize, token_count], padded_tokens))
            .map_err(|error| error.to_string())?;
        let style = Tensor::from_array(([1usize, STYLE_WIDTH], style.to_vec()))
            .map_err(|error| error.to_string())?;
        let speed =
            Tensor::from_array(([1usize], vec![speed])).map_err(|error| error.to_string())?;
        let inputs = [tokens.ptr(), style.ptr(), speed.ptr()];
        let outputs = duration_outputs::extra_outputs(self.variant);
        let decoded = match &self.sessions {
            Sessions::Shared(session) => run_session(session, &inputs, outputs, &stop.options),
            #[cfg(feature = "session-per-slot")]
            Sessions::PerSlot(sessions) => {
                // Slots and sessions are equal in number, so a slot holder always finds a free session.
                let session = sessions
                    .iter()
                    .find_map(|session| session.try_lock().ok())
                    .ok_or_else(|| "no free session for an acquired slot".to_string())?;
                run_session(&session, &inputs, outputs, &stop.options)
            }
        }?;
        if decoded.frames_per_token.len() != token_count {
            return Err(format!(
                "the model returned {} durations for {token_count} tokens",
                decoded.frames_per_token.len()
            ));
        }
        self.decoded_samples
            .fetch_add(decoded.audio.len() as u64, Ordering::Relaxed);
        Ok(decoded)
    }
}

/// What one run returns.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Decoded {
    /// 24 kHz samples: every frame for the untouched model, the speech window for the other.
    pub(crate) audio: Vec<f32>,
    /// Frames each padded token lasts (`duration_outputs::SAMPLES_PER_FRAME` samples each), speed applied.
    pub(crate) frames_per_token: Vec<i64>,
    /// The frame `audio` starts at (0 unless the speech-window model dropped leading frames).
    pub(crate) first_frame: i64,
}

/// Intra-op threads of each session. A run's calling thread computes too, so a shared session gets
/// `threads_per_slot - 1` pool threads per slot: `slots x threads_per_slot` threads in all, as with
/// one session per slot.
fn intra_op_threads(layout: InferenceLayout, sharing: SessionSharing) -> usize {
    match sharing {
        SessionSharing::SharedSession => layout.slots * (layout.threads_per_slot - 1) + 1,
        #[cfg(feature = "session-per-slot")]
        SessionSharing::SessionPerSlot => layout.threads_per_slot,
    }
}

/// The model this crate drives: inputs tokens, style, speed; outputs audio and the durations.
fn check_signature(session: &Session, variant: ModelVariant) -> Result<(), String> {
    let inputs: Vec<&str> = session.inputs().iter().map(|input| input.name()).collect();
    let outputs: Vec<&str> = session
        .outputs()
        .iter()
        .map(|output| output.name())
        .collect();
    let expected: Vec<&str> = ["audio"]
        .into_iter()
        .chain(duration_outputs::extra_outputs(variant).iter().copied())
        .collect();
    if inputs != ["tokens", "style", "speed"] || outputs != expected {
        return Err(format!(
            "unexpected inputs {inputs:?} / outputs {outputs:?}, expected tokens, style, speed / {expected:?}"
        ));
    }
    Ok(())
}

/// `OrtApi::Run` on a shared session. ONNX Runtime documents `Run` as thread-safe on one session
/// (CPU execution provider); `ort` requires `&mut Session` only because some other execution
/// providers' allocators are not.
fn run_session(
    session: &Session,
    inputs: &[*const ort::sys::OrtValue; 3],
    extra_outputs: &[&str],
    options: &RunOptions,
) -> Result<Decoded, String> {
    let api = ort::api();
    let input_names = [c"tokens".as_ptr(), c"style".as_ptr(), c"speed".as_ptr()];
    let extra_names: Vec<CString> = extra_outputs
        .iter()
        .map(|name| CString::new(*name).map_err(|error| error.to_string()))
        .collect::<Result<_, _>>()?;
    let output_names: Vec<*const c_char> = std::iter::once(c"audio".as_ptr())
        .chain(extra_names.iter().map(|name| name.as_ptr()))
        .collect();
    let mut outputs: Vec<*mut ort::sys::OrtValue> = vec![null_mut(); output_names.len()];
    // SAFETY: the session, the run options and the input values are live ort objects that outlive the
    // call; the names are NUL-terminated; one output slot per output name.
    let status = unsafe {
        (api.Run)(
            session.ptr().cast_mut(),
            options.ptr(),
            input_names.as_ptr(),
            inputs.as_ptr(),
            inputs.len(),
            output_names.as_ptr(),
            output_names.len(),
            outputs.as_mut_ptr(),
        )
    };
    let outputs: Vec<OwnedValue> = outputs.into_iter().map(OwnedValue).collect();
    check(status)?;
    // SAFETY: the outputs are the tensors named above, their element types checked at load by
    // `check_signature` (audio float, durations and window start int64).
    let audio = unsafe { tensor_data::<f32>(&outputs[0]) }?;
    let frames_per_token = unsafe { tensor_data::<i64>(&outputs[1]) }?;
    let first_frame = match outputs.get(2) {
        Some(start) => unsafe { tensor_data::<i64>(start) }?
            .first()
            .copied()
            .ok_or("the speech-window start is empty")?,
        None => 0,
    };
    Ok(Decoded {
        audio,
        frames_per_token,
        first_frame,
    })
}

/// A copy of the elements of a tensor of `T`.
///
/// # Safety
/// `value` must be a tensor whose elements are `T`.
unsafe fn tensor_data<T: Copy>(value: &OwnedValue) -> Result<Vec<T>, String> {
    let api = ort::api();
    let mut shape_info = null_mut();
    let mut element_count = 0usize;
    let mut data: *mut std::ffi::c_void = null_mut();
    // SAFETY: the type info is released right after use; the data pointer is valid for
    // `element_count` elements of `T` (the caller's promise) while `value` lives, and is copied.
    unsafe {
        check((api.GetTensorTypeAndShape)(value.0, &mut shape_info))?;
        let counted = check((api.GetTensorShapeElementCount)(
            shape_info,
            &mut element_count,
        ));
        (api.ReleaseTensorTypeAndShapeInfo)(shape_info);
        counted?;
        check((api.GetTensorMutableData)(value.0, &mut data))?;
        if element_count == 0 {
            return Ok(Vec::new());
        }
        Ok(std::slice::from_raw_parts(data.cast::<T>(), element_count).to_vec())
    }
}

/// An output value owned by this crate, released on drop.
struct OwnedValue(*mut ort::sys::OrtValue);

impl Drop for OwnedValue {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the value came from `Run` and is released exactly once.
            unsafe { (ort::api().ReleaseValue)(self.0) };
        }
    }
}

/// Turns an ORT status into a message, releasing it.
fn check(status: ort::sys::OrtStatusPtr) -> Result<(), String> {
    if status.0.is_null() {
        return Ok(());
    }
    let api = ort::api();
    // SAFETY: a non-null status from the API; its message is copied before the status is released.
    let message = unsafe { CStr::from_ptr((api.GetErrorMessage)(status.0)) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: released once, after its message was copied.
    unsafe { (api.ReleaseStatus)(status.0) };
    Err(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::duration_outputs::SAMPLES_PER_FRAME;
    use crate::engine::{Engine, EngineOptions};
    use crate::test_support::{SHORT_PHONEMES, engine, engine_options, real_assets};
    use crate::vocab::Vocab;

    /// One run of `engine`'s model on `phonemes` (jf_alpha, speed 1) and its inputs.
    async fn decode(engine: &Engine, phonemes: &str) -> (Decoded, Vec<i64>, Vec<f32>) {
        let tokens = Vocab::padded(&engine.vocab.token_ids(phonemes));
        let voice = engine.voices.get("jf_alpha").unwrap();
        let style = voice.style_for(tokens.len() - 2).to_vec();
        let slot = engine.model.acquire_slot().await.unwrap();
        let decoded = engine
            .model
            .run(&slot, tokens.clone(), &style, 1.0, &RunStop::new().unwrap())
            .unwrap();
        (decoded, tokens, style)
    }

    /// The durations output changes nothing the model computes: a session on the published file,
    /// as published, returns the same samples in this process on this CPU; and the audio is 600
    /// samples for every predicted frame.
    #[tokio::test]
    async fn the_durations_output_leaves_the_audio_as_the_published_model_makes_it() {
        let engine = engine();
        let (decoded, tokens, style) = decode(&engine, SHORT_PHONEMES).await;
        let total_frames: i64 = decoded.frames_per_token.iter().sum();
        assert_eq!(decoded.first_frame, 0);
        assert_eq!(
            decoded.audio.len(),
            total_frames as usize * SAMPLES_PER_FRAME
        );
        assert!(decoded.frames_per_token.iter().all(|&frames| frames >= 0));

        let paths = real_assets();
        let mut published = Session::builder(environment(&paths).unwrap())
            .unwrap()
            .with_intra_threads(1)
            .unwrap()
            .with_optimization_level(ort::session::builder::GraphOptimizationLevel::All)
            .unwrap()
            .commit_from_file(paths.model(ModelVariant::Untouched))
            .unwrap();
        let token_count = tokens.len();
        let outputs = published
            .run(ort::inputs![
                "tokens" => Tensor::from_array(([1usize, token_count], tokens)).unwrap(),
                "style" => Tensor::from_array(([1usize, STYLE_WIDTH], style)).unwrap(),
                "speed" => Tensor::from_array(([1usize], vec![1.0f32])).unwrap(),
            ])
            .unwrap();
        let (_, audio) = outputs["audio"].try_extract_tensor::<f32>().unwrap();
        assert!(
            audio == decoded.audio.as_slice(),
            "the published model's audio differs ({} vs {} samples)",
            audio.len(),
            decoded.audio.len()
        );
    }

    /// The speech-window model predicts the same durations and starts its audio at its window.
    #[tokio::test]
    async fn the_speech_window_model_reports_where_its_audio_starts() {
        let untouched = engine();
        let window = Engine::shared(&EngineOptions {
            model: ModelVariant::SpeechWindow,
            layout: InferenceLayout {
                slots: 1,
                threads_per_slot: 1,
            },
            ..engine_options()
        })
        .unwrap();
        let (full, ..) = decode(&untouched, SHORT_PHONEMES).await;
        let (windowed, ..) = decode(&window, SHORT_PHONEMES).await;
        assert_eq!(windowed.frames_per_token, full.frames_per_token);
        let total_frames: i64 = full.frames_per_token.iter().sum();
        let window_frames = (windowed.audio.len() / SAMPLES_PER_FRAME) as i64;
        assert_eq!(windowed.audio.len() % SAMPLES_PER_FRAME, 0);
        assert!(
            windowed.first_frame > 0 && windowed.first_frame + window_frames <= total_frames,
            "window {}+{window_frames} of {total_frames} frames",
            windowed.first_frame
        );
    }

    #[test]
    fn every_layout_gets_slots_times_threads_threads() {
        let wide = InferenceLayout {
            slots: 8,
            threads_per_slot: 2,
        };
        assert_eq!(
            intra_op_threads(wide, SessionSharing::SharedSession),
            9,
            "8 callers + 8 pool threads"
        );
        #[cfg(feature = "session-per-slot")]
        assert_eq!(intra_op_threads(wide, SessionSharing::SessionPerSlot), 2);
        let narrow = InferenceLayout {
            slots: 2,
            threads_per_slot: 1,
        };
        assert_eq!(
            intra_op_threads(narrow, SessionSharing::SharedSession),
            1,
            "callers only"
        );
    }
}
