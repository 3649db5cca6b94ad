//! What a task's speech becomes on disk: the output options ([`OutputOptions`], per pool), what
//! they mean for one output path ([`OutputSpec`]), and the steps from the model's 24 kHz samples
//! to a file's bytes ([`render`]): resampling, loudness, padding, encoding.

use crate::audio::SAMPLE_RATE;
use crate::decode::decode;
use crate::encode::{AudioFormat, Encoding, encode};
use crate::loudness::{TARGET_RANGE_LUFS, measure, normalize};
use crate::pauses::PauseLengths;
use std::path::Path;

/// Silence added before and after the speech by default, in ms. The speech itself keeps 30 ms of
/// the model's own lead-in and tail (see `audio.rs`); 50 ms more gives a course player ~80 ms
/// before the first sound, enough for an HTML audio element to start without clipping it.
pub const DEFAULT_PAD_MS: u32 = 50;
/// Longest padding accepted.
pub const MAX_PAD_MS: u32 = 5_000;

/// How a pool writes its files.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutputOptions {
    /// `None`: each file's format comes from its path's extension (WAV when the extension names
    /// none). Given: every file is in this format, and a path whose extension names another
    /// format is that task's error.
    pub format: Option<AudioFormat>,
    /// kbit/s for MP3 and Opus; `None`: the format's default (48 MP3, 32 Opus).
    pub bitrate_kbps: Option<u32>,
    /// 24000 (the model's), 44100 or 48000.
    pub sample_rate: u32,
    /// Integrated loudness target in LUFS; `None`: the model's own level.
    pub loudness_lufs: Option<f64>,
    /// Silence added before and after the speech, ms.
    pub pad_ms: u32,
    /// Shortest silence at punctuation between words (`pauses.rs`).
    pub pauses: PauseLengths,
}

impl Default for OutputOptions {
    fn default() -> Self {
        OutputOptions {
            format: None,
            bitrate_kbps: None,
            sample_rate: SAMPLE_RATE,
            loudness_lufs: None,
            pad_ms: DEFAULT_PAD_MS,
            pauses: PauseLengths::default(),
        }
    }
}

/// Everything about one file's audio besides the speech itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutputSpec {
    pub encoding: Encoding,
    pub loudness_lufs: Option<f64>,
    pub pad_ms: u32,
    pub pauses: PauseLengths,
}

impl OutputOptions {
    /// Checks the options that do not depend on a path (the pool refuses bad ones at once).
    pub fn check(&self) -> Result<(), String> {
        if let Some(lufs) = self.loudness_lufs
            && !(lufs.is_finite() && TARGET_RANGE_LUFS.contains(&lufs))
        {
            return Err(format!(
                "loudness {lufs} LUFS is out of range: use {} to {}",
                TARGET_RANGE_LUFS.start(),
                TARGET_RANGE_LUFS.end()
            ));
        }
        if self.pad_ms > MAX_PAD_MS {
            return Err(format!(
                "padding {} ms is out of range: use 0 to {MAX_PAD_MS}",
                self.pad_ms
            ));
        }
        self.pauses.check()?;
        // Without a format, each path's extension decides; the bit rate is checked per file then.
        let format = self.format.unwrap_or(AudioFormat::Wav);
        let bitrate = self.bitrate_kbps.filter(|_| self.format.is_some());
        Encoding::new(format, bitrate, self.sample_rate).map(|_| ())
    }

    /// The spec of the file at `path`.
    pub fn spec_for(&self, path: &Path) -> Result<OutputSpec, String> {
        let named = AudioFormat::from_path(path);
        let format = match (self.format, named) {
            (Some(format), Some(named)) if format != named => {
                return Err(format!(
                    "its extension names {named}, but the format is {format}: give the path a .{format} extension"
                ));
            }
            (Some(format), _) | (None, Some(format)) => format,
            (None, None) => AudioFormat::Wav,
        };
        let bitrate = self
            .bitrate_kbps
            .filter(|_| format.default_bitrate_kbps().is_some());
        Ok(OutputSpec {
            encoding: Encoding::new(format, bitrate, self.sample_rate)?,
            loudness_lufs: self.loudness_lufs,
            pad_ms: self.pad_ms,
            pauses: self.pauses,
        })
    }
}

/// A rendered file, ready to be written.
pub(crate) struct RenderedFile {
    pub(crate) bytes: Vec<u8>,
    pub(crate) duration_seconds: f64,
}

/// Samples of silence `pad_ms` adds at each end at `rate`; the timings move by the same
/// (`PhonemeTimeline::padded`).
pub(crate) fn pad_samples(rate: u32, pad_ms: u32) -> usize {
    (u64::from(rate) * u64::from(pad_ms) / 1000) as usize
}

/// The model's `speech` (24 kHz) as the bytes of the file `spec` describes, tagged with `comment`.
pub(crate) fn render(
    speech: &[f32],
    spec: &OutputSpec,
    comment: &str,
) -> Result<RenderedFile, String> {
    let rate = spec.encoding.sample_rate;
    let mut samples = resample(speech, SAMPLE_RATE, rate)?;
    let pad = pad_samples(rate, spec.pad_ms);
    let padded = |samples: &[f32]| {
        let mut padded = Vec::with_capacity(samples.len() + 2 * pad);
        padded.resize(pad, 0.0);
        padded.extend_from_slice(samples);
        padded.resize(padded.len() + pad, 0.0);
        padded
    };
    let Some(target) = spec.loudness_lufs else {
        let padded = padded(&samples);
        return Ok(RenderedFile {
            bytes: encode(&padded, &spec.encoding, comment)?,
            duration_seconds: padded.len() as f64 / f64::from(rate),
        });
    };
    let unprocessed = samples.clone();
    normalize(&mut samples, rate, target)?;
    let mut file = padded(&samples);
    let mut bytes = encode(&file, &spec.encoding, comment)?;
    if spec.encoding.bitrate_kbps.is_some() {
        // What a listener hears is the decoder's output, and lossy coding moves the loudness (MP3 at
        // 48 kbit/s low-passes away up to 0.9 LU of it): measure the decoded file and aim past the
        // target by what the coding took, once.
        let decoded = decode(bytes.clone())?;
        let heard = measure(&decoded.samples, decoded.sample_rate)?;
        // A clip too short to gate would be measured with its padding: leave it as normalised.
        if heard.gated && (target - heard.lufs).abs() > LOSSY_TOLERANCE_LU {
            samples = unprocessed;
            normalize(&mut samples, rate, target + (target - heard.lufs))?;
            file = padded(&samples);
            bytes = encode(&file, &spec.encoding, comment)?;
        }
    }
    Ok(RenderedFile {
        bytes,
        duration_seconds: file.len() as f64 / f64::from(rate),
    })
}

/// A decoded lossy file closer than this to the loudness target is not encoded again.
const LOSSY_TOLERANCE_LU: f64 = 0.1;

/// `samples` at `to` Hz (rubato's FFT resampler; its delay is trimmed, so the length is exact).
fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, String> {
    use rubato::audioadapter_buffers::direct::InterleavedSlice;
    use rubato::{Fft, FixedSync, Resampler};
    if from == to || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    let resample_error = |error: &dyn std::fmt::Display| format!("resampling to {to} Hz: {error}");
    let mut resampler = Fft::<f32>::new(from as usize, to as usize, 1024, 1, FixedSync::Both)
        .map_err(|e| resample_error(&e))?;
    let input = InterleavedSlice::new(samples, 1, samples.len()).map_err(|e| resample_error(&e))?;
    let output = resampler
        .process_all(&input, samples.len(), None)
        .map_err(|e| resample_error(&e))?;
    Ok(output.take_data())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::read_comment;
    use crate::fingerprint::Fingerprint;
    use crate::loudness::{TRUE_PEAK_CEILING_DBTP, measure};
    use crate::scheduler::{Pool, PoolConfig, TaskReport};
    use crate::task::{Task, TaskOutcome};
    use crate::test_support::{decode_file, engine, scratch_dir};

    /// むかしむかし、ある山の奥に小さな村がありました。: about 3.5 s.
    const SENTENCE: &str = "mɯkaɕimɯkaɕi, aɾɯ jama no okɯ ɲi ʨiːsana mɯɾa ɡa aɾʲimaɕita.";

    fn tasks(dir: &Path, voice_of_mp3: &str) -> Vec<Task> {
        AudioFormat::ALL
            .into_iter()
            .map(|format| Task {
                id: format.name().into(),
                text: String::new(),
                output_path: dir.join(format!("sentence.{format}")),
                voice: (format == AudioFormat::Mp3).then(|| voice_of_mp3.to_string()),
                speed: None,
                phonemes: Some(SENTENCE.into()),
                timings: None,
            })
            .collect()
    }

    fn statuses(tasks: &[TaskReport]) -> Vec<(&str, &'static str)> {
        tasks
            .iter()
            .map(|task| {
                let status = match task.outcome {
                    TaskOutcome::Generated { .. } => "generated",
                    TaskOutcome::Skipped => "skipped",
                    TaskOutcome::Failed { .. } => "failed",
                };
                (task.id.as_str(), status)
            })
            .collect()
    }

    /// The real model into every format at -16 LUFS: an independent decoder finds the reported
    /// length (within one codec frame), the loudness within 0.5 LU, the padding, and the
    /// fingerprint; a rerun skips all four, and a voice change regenerates exactly that file.
    #[tokio::test]
    async fn every_format_holds_normalised_speech_and_its_fingerprint() {
        let dir = scratch_dir("output-formats");
        let config = PoolConfig {
            concurrency: 2,
            output: OutputOptions {
                loudness_lufs: Some(-16.0),
                ..OutputOptions::default()
            },
            ..PoolConfig::default()
        };
        let pool = Pool::new(engine(), config).unwrap();
        pool.add_tasks(tasks(&dir, "jf_alpha")).unwrap();
        let report = pool.process(|_| {}).await.unwrap();
        for task in &report.tasks {
            let TaskOutcome::Generated {
                duration_seconds, ..
            } = task.outcome
            else {
                panic!("{task:?}");
            };
            assert!(duration_seconds > 2.0, "{task:?}");
            let decoded = decode_file(&task.output_path);
            let frame_seconds = match task.id.as_str() {
                "mp3" => 576.0 / 24_000.0,
                "opus" => 0.020,
                _ => 0.0,
            };
            assert!(
                (decoded.seconds() - duration_seconds).abs() <= frame_seconds,
                "{}: decoded {} s, reported {duration_seconds} s",
                task.id,
                decoded.seconds()
            );
            let loudness = measure(&decoded.samples, decoded.sample_rate).unwrap();
            assert!(
                (loudness.lufs + 16.0).abs() <= 0.5,
                "{}: {loudness:?}",
                task.id
            );
            // Lossy coding moves peaks a little; the lossless files keep the ceiling exactly.
            let peak_allowance = if frame_seconds > 0.0 { 0.5 } else { 0.0 };
            assert!(
                loudness.true_peak_dbtp <= TRUE_PEAK_CEILING_DBTP + peak_allowance,
                "{}: {loudness:?}",
                task.id
            );
            let stored = read_comment(&task.output_path).unwrap().unwrap();
            let fingerprint = Fingerprint::parse(&stored).unwrap();
            let text = fingerprint.to_text();
            for part in [
                format!("\"phonemes\":\"{SENTENCE}\""),
                format!("\"format\":\"{}\"", task.id),
                "\"loudness_lufs\":-16.0".into(),
                "\"voice\":\"jf_alpha\"".into(),
            ] {
                assert!(text.contains(&part), "{part} in {text}");
            }
        }
        let wav = decode_file(&dir.join("sentence.wav"));
        let pad = (24_000 * DEFAULT_PAD_MS / 1000) as usize;
        assert!(wav.samples[..pad].iter().all(|&sample| sample == 0.0));
        assert!(
            wav.samples[wav.samples.len() - pad..]
                .iter()
                .all(|&sample| sample == 0.0)
        );

        pool.add_tasks(tasks(&dir, "jf_alpha")).unwrap();
        let rerun = pool.process(|_| {}).await.unwrap();
        assert_eq!(rerun.skipped, 4, "{:?}", statuses(&rerun.tasks));

        pool.add_tasks(tasks(&dir, "jm_kumo")).unwrap();
        let voice_changed = pool.process(|_| {}).await.unwrap();
        assert_eq!(
            statuses(&voice_changed.tasks),
            [
                ("wav", "skipped"),
                ("mp3", "generated"),
                ("opus", "skipped"),
                ("flac", "skipped")
            ]
        );
        let TaskOutcome::Generated { changes, .. } = &voice_changed.tasks[1].outcome else {
            unreachable!("checked above")
        };
        assert_eq!(changes, &["voice changed"]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_format_comes_from_the_option_or_the_extension() {
        let defaults = OutputOptions::default();
        let format_of = |options: &OutputOptions, path: &str| {
            options
                .spec_for(Path::new(path))
                .map(|spec| spec.encoding.format)
        };
        assert_eq!(format_of(&defaults, "a/b.mp3"), Ok(AudioFormat::Mp3));
        assert_eq!(format_of(&defaults, "a/b.part"), Ok(AudioFormat::Wav));
        let opus = OutputOptions {
            format: Some(AudioFormat::Opus),
            ..defaults
        };
        assert_eq!(format_of(&opus, "a/b"), Ok(AudioFormat::Opus));
        let mismatch = format_of(&opus, "a/b.wav").unwrap_err();
        assert!(
            mismatch.contains("names wav, but the format is opus"),
            "{mismatch}"
        );
        let bad = |options: OutputOptions| options.check().unwrap_err();
        assert!(
            bad(OutputOptions {
                loudness_lufs: Some(3.0),
                ..defaults
            })
            .contains("LUFS")
        );
        assert!(
            bad(OutputOptions {
                pad_ms: 60_000,
                ..defaults
            })
            .contains("padding")
        );
        assert!(
            bad(OutputOptions {
                sample_rate: 22_050,
                ..defaults
            })
            .contains("22050")
        );
        let bitrate = |kbps| OutputOptions {
            format: Some(AudioFormat::Mp3),
            bitrate_kbps: Some(kbps),
            ..defaults
        };
        assert!(bitrate(64).check().is_ok());
        assert!(bitrate(65).check().is_err());
    }
}
