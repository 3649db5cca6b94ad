//! One engine for every test of this crate: the real model, loaded once.

use crate::assets::ModelVariant;
use crate::engine::{Engine, EngineOptions};
use crate::inference::{InferenceLayout, SessionSharing};
use crate::task::Task;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Slots of the test engine: tests check that a slot freed after a timeout is free again.
pub(crate) const TEST_SLOTS: usize = 2;

pub(crate) fn engine() -> Arc<Engine> {
    static ENGINE: OnceLock<Arc<Engine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let options = EngineOptions {
                assets_dir: None,
                model: ModelVariant::default(),
                layout: InferenceLayout {
                    slots: TEST_SLOTS,
                    threads_per_slot: 1,
                },
                sharing: SessionSharing::SharedSession,
            };
            Engine::load(&options).unwrap_or_else(|error| panic!("{error}"))
        })
        .clone()
}

/// A fresh, empty folder for one test's outputs.
pub(crate) fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kokoro-engine-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A task speaking `phonemes` (no G2P) into `dir/<id>.wav`.
pub(crate) fn phoneme_task(dir: &Path, id: &str, phonemes: &str) -> Task {
    Task {
        id: id.to_string(),
        text: String::new(),
        output_path: dir.join(format!("{id}.wav")),
        voice: None,
        speed: None,
        phonemes: Some(phonemes.to_string()),
    }
}

/// 食べる
pub(crate) const SHORT_PHONEMES: &str = "tabeɾɯ";

/// A 377-phoneme story sentence: about 25 s of audio, many seconds of inference.
pub(crate) const LONG_PHONEMES: &str = "mɯkaɕimɯkaɕi, aɾɯ jama no okɯ ɲi ʨiːsana mɯɾa ɡa aɾʲimaɕita. sono mɯɾa ɲi βa, maiasa hajakɯ okʲite hatake o taɡajaɕi, jɯːɡata ɲi naɾɯto kodomo taʨi ɲi mɯkaɕibanaɕi o kʲika sete kɯɾeɾɯ, jasaɕii oʥiːsaɴ ɡa sɨnde i maɕita. aɾɯçi, oʥiːsaɴ βa moɾʲi no naka de ɸɯɕiɡʲi na çikaɾʲi o mʲiʦɨke, sono çikaɾʲi ɲi mʲiʨibʲikaɾeɾɯ joː ɲi, daɾe mo ɕiɾanai ɸɯɾɯi ʥiɲʥa e to tadoɾʲiʦɨkʲi maɕita.";

/// The file at `path`, decoded (`decode.rs`).
pub(crate) fn decode_file(path: &Path) -> crate::decode::Decoded {
    crate::decode::decode_file(path).unwrap_or_else(|error| panic!("{error}"))
}

/// Root mean square of `samples`.
pub(crate) fn rms(samples: &[f32]) -> f64 {
    (samples
        .iter()
        .map(|&s| f64::from(s) * f64::from(s))
        .sum::<f64>()
        / samples.len().max(1) as f64)
        .sqrt()
}

/// Magnitude of the `frequency` Hz component of `samples` (Goertzel), per sample.
pub(crate) fn tone_level(samples: &[f32], sample_rate: u32, frequency: f64) -> f64 {
    let omega = 2.0 * std::f64::consts::PI * frequency / f64::from(sample_rate);
    let coefficient = 2.0 * omega.cos();
    let (mut previous, mut before_previous) = (0.0f64, 0.0f64);
    for &sample in samples {
        let current = f64::from(sample) + coefficient * previous - before_previous;
        before_previous = previous;
        previous = current;
    }
    let power = previous * previous + before_previous * before_previous
        - coefficient * previous * before_previous;
    power.sqrt() / samples.len().max(1) as f64
}
