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
use crate::error::EngineError;
use crate::graph_cache;
use crate::layout::InferenceLayout;
use crate::voices::STYLE_WIDTH;
use ort::AsPointer;
use ort::environment::Environment;
use ort::session::builder::SessionBuilder;
use ort::session::{RunOptions, Session};
use ort::value::Tensor;
use std::ffi::CStr;
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
    slots: Arc<Semaphore>,
    decoded_samples: AtomicU64,
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
            ort::init_from(&library)
                .map_err(|error| runtime_error(error.to_string()))?
                .with_name("kokoro-pool")
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
            check_signature(&session).map_err(model_error)?;
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
    /// speed. Returns 24 kHz samples.
    pub(crate) fn run(
        &self,
        _slot: &InferenceSlot,
        padded_tokens: Vec<i64>,
        style: &[f32],
        speed: f32,
        stop: &RunStop,
    ) -> Result<Vec<f32>, String> {
        let token_count = padded_tokens.len();
        let tokens = Tensor::from_array(([1usize, token_count], padded_tokens))
            .map_err(|error| error.to_string())?;
        let style = Tensor::from_array(([1usize, STYLE_WIDTH], style.to_vec()))
            .map_err(|error| error.to_string())?;
        let speed =
            Tensor::from_array(([1usize], vec![speed])).map_err(|error| error.to_string())?;
        let inputs = [tokens.ptr(), style.ptr(), speed.ptr()];
        let audio = match &self.sessions {
            Sessions::Shared(session) => run_session(session, &inputs, &stop.options),
            #[cfg(feature = "session-per-slot")]
            Sessions::PerSlot(sessions) => {
                // Slots and sessions are equal in number, so a slot holder always finds a free session.
                let session = sessions
                    .iter()
                    .find_map(|session| session.try_lock().ok())
                    .ok_or_else(|| "no free session for an acquired slot".to_string())?;
                run_session(&session, &inputs, &stop.options)
            }
        }?;
        self.decoded_samples
            .fetch_add(audio.len() as u64, Ordering::Relaxed);
        Ok(audio)
    }
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

/// The model this crate drives: inputs tokens, style, speed; output audio.
fn check_signature(session: &Session) -> Result<(), String> {
    let inputs: Vec<&str> = session.inputs().iter().map(|input| input.name()).collect();
    let outputs: Vec<&str> = session
        .outputs()
        .iter()
        .map(|output| output.name())
        .collect();
    if inputs != ["tokens", "style", "speed"] || outputs != ["audio"] {
        return Err(format!(
            "unexpected inputs {inputs:?} / outputs {outputs:?}, expected tokens, style, speed / audio"
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
    options: &RunOptions,
) -> Result<Vec<f32>, String> {
    let api = ort::api();
    let input_names = [c"tokens".as_ptr(), c"style".as_ptr(), c"speed".as_ptr()];
    let output_names = [c"audio".as_ptr()];
    let mut output: *mut ort::sys::OrtValue = null_mut();
    // SAFETY: the session, the run options and the input values are live ort objects that outlive the
    // call; the names are NUL-terminated; one output slot for one output name.
    let status = unsafe {
        (api.Run)(
            session.ptr().cast_mut(),
            options.ptr(),
            input_names.as_ptr(),
            inputs.as_ptr(),
            inputs.len(),
            output_names.as_ptr(),
            output_names.len(),
            &mut output,
        )
    };
    check(status)?;
    let output = OwnedValue(output);
    let mut shape_info = null_mut();
    let mut element_count = 0usize;
    let mut data: *mut std::ffi::c_void = null_mut();
    // SAFETY: `output` is the float tensor `audio` (checked at load by `check_signature`); the type
    // info is released right after use; the data pointer is valid for `element_count` floats while
    // `output` lives, and is copied before it is released.
    unsafe {
        check((api.GetTensorTypeAndShape)(output.0, &mut shape_info))?;
        let counted = check((api.GetTensorShapeElementCount)(
            shape_info,
            &mut element_count,
        ));
        (api.ReleaseTensorTypeAndShapeInfo)(shape_info);
        counted?;
        check((api.GetTensorMutableData)(output.0, &mut data))?;
        if element_count == 0 {
            return Ok(Vec::new());
        }
        Ok(std::slice::from_raw_parts(data.cast::<f32>(), element_count).to_vec())
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
