//! One engine for every test of this crate: the real model, loaded once.

use crate::assets::{AssetPaths, ModelVariant, locate};
use crate::engine::{Engine, EngineOptions};
use crate::inference::SessionSharing;
use crate::layout::InferenceLayout;
use crate::task::Task;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Slots of the test engine: tests check that a slot freed after a timeout is free again.
pub(crate) const TEST_SLOTS: usize = 2;

/// The assets [`locate`] finds from the crate's folder: the checkout's `assets/`.
pub(crate) fn real_assets() -> AssetPaths {
    AssetPaths::new(locate(None).unwrap_or_else(|error| panic!("{error}")))
}

/// The default options on the assets [`locate`] finds (the checkout's, from the crate's folder).
pub(crate) fn engine_options() -> EngineOptions {
    EngineOptions::new(locate(None).unwrap_or_else(|error| panic!("{error}")))
}

pub(crate) fn engine() -> Arc<Engine> {
    static ENGINE: OnceLock<Arc<Engine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let options = EngineOptions {
                model: ModelVariant::default(),
                layout: InferenceLayout {
                    slots: TEST_SLOTS,
                    threads_per_slot: 1,
                },
                sharing: SessionSharing::SharedSession,
                ..engine_options()
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
        timings: None,
    }
}

/// 食べる
pub(crate) const SHORT_PHONEMES: &str = "tabeɾɯ";

/// A 377-phoneme story sentence: about 25 s of audio, many seconds of inference.
pub(crate) const LONG_PHONEMES: &str = "mɯkaɕimɯkaɕi, aɾɯ jama no okɯ ɲi ʨiːsana mɯɾa ɡa aɾʲimaɕita. sono mɯɾa ɲi βa, maiasa hajakɯ okʲite hatake o taɡajaɕi, jɯːɡata ɲi naɾɯto kodomo taʨi ɲi mɯkaɕibanaɕi o kʲika sete kɯɾeɾɯ, jasaɕii oʥiːsaɴ ɡa sɨnde i maɕita. aɾɯçi, oʥiːsaɴ βa moɾʲi no naka de ɸɯɕiɡʲi na çikaɾʲi o mʲiʦɨke, sono çikaɾʲi ɲi mʲiʨibʲikaɾeɾɯ joː ɲi, daɾe mo ɕiɾanai ɸɯɾɯi ʥiɲʥa e to tadoɾʲiʦɨkʲi maɕita.";

/// Root mean square of `audio`.
pub(crate) fn rms(audio: &[f32]) -> f64 {
    (audio.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / audio.len().max(1) as f64).sqrt()
}

/// Mean level in dB of 48 bands of 250 Hz (0-12 kHz) over 1024-sample Hann frames: a coarse
/// spectrum, computed by direct DFT at each band's centre.
pub(crate) fn band_levels_db(audio: &[f32]) -> Vec<f64> {
    const FRAME: usize = 1024;
    const BANDS: usize = 48;
    let mut power = vec![0.0f64; BANDS];
    let frames: Vec<&[f32]> = audio.chunks_exact(FRAME).collect();
    for frame in &frames {
        for (band, band_power) in power.iter_mut().enumerate() {
            let frequency = (band as f64 + 0.5) * 250.0 / f64::from(crate::audio::SAMPLE_RATE);
            let (mut re, mut im) = (0.0, 0.0);
            for (i, &x) in frame.iter().enumerate() {
                let hann = 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / FRAME as f64).cos();
                let phase = std::f64::consts::TAU * frequency * i as f64;
                re += f64::from(x) * hann * phase.cos();
                im -= f64::from(x) * hann * phase.sin();
            }
            *band_power += re * re + im * im;
        }
    }
    power
        .iter()
        .map(|&p| 10.0 * (p / frames.len().max(1) as f64 + 1e-12).log10())
        .collect()
}

/// The file at `path`, decoded (`decode.rs`).
pub(crate) fn decode_file(path: &Path) -> crate::decode::Decoded {
    crate::decode::decode_file(path).unwrap_or_else(|error| panic!("{error}"))
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
