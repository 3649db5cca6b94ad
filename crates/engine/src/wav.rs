//! The WAV format: 24 kHz mono 16-bit PCM. [`encode`] makes the bytes (written by
//! `output::write_atomically`); [`check_complete`] decides whether a WAV file on disk is whole.

use crate::audio::SAMPLE_RATE;
use std::fs::File;
use std::io::{BufReader, Cursor, Seek};
use std::path::Path;

/// The WAV bytes of `samples` (clamped to [-1, 1], scaled to 16 bits).
pub(crate) fn encode(samples: &[f32]) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut bytes = Cursor::new(Vec::with_capacity(44 + samples.len() * 2));
    // Writing into memory cannot fail; the expects name the invariant.
    let mut writer = hound::WavWriter::new(&mut bytes, spec).expect("a WAV header fits in memory");
    let mut samples_writer = writer.get_i16_writer(samples.len() as u32);
    for &sample in samples {
        // Truncation toward zero, as numpy's astype(int16) in the reference.
        samples_writer.write_sample((sample.clamp(-1.0, 1.0) * 32767.0) as i16);
    }
    samples_writer.flush().expect("WAV samples fit in memory");
    writer.finalize().expect("a WAV header fits in memory");
    bytes.into_inner()
}

/// `Ok` when the file at `path` is a WAV whose header parses, that holds audio, and whose data is
/// as long as its header says; otherwise why not.
pub(crate) fn check_complete(path: &Path) -> Result<(), String> {
    let file = File::open(path).map_err(|error| error.to_string())?;
    let file_length = file.metadata().map_err(|error| error.to_string())?.len();
    let reader = hound::WavReader::new(BufReader::new(file))
        .map_err(|error| format!("not a complete WAV file ({error})"))?;
    let sample_count = u64::from(reader.len());
    if sample_count == 0 {
        return Err("a WAV file without audio".into());
    }
    let bytes_per_sample = u64::from(reader.spec().bits_per_sample).div_ceil(8);
    let data_start = reader
        .into_inner()
        .stream_position()
        .map_err(|error| error.to_string())?;
    let data_end = data_start + sample_count * bytes_per_sample;
    if file_length < data_end {
        return Err(format!(
            "a WAV file cut short: {file_length} bytes where its header promises {data_end}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_24khz_mono_16bit() {
        let samples: Vec<f32> = (0..24_000).map(|i| (i as f32 * 0.05).sin() * 0.5).collect();
        let reader = hound::WavReader::new(Cursor::new(encode(&samples))).unwrap();
        let spec = reader.spec();
        assert_eq!(
            (spec.channels, spec.sample_rate, spec.bits_per_sample),
            (1, 24_000, 16)
        );
        assert_eq!(spec.sample_format, hound::SampleFormat::Int);
        assert_eq!(reader.duration(), 24_000);
        let read: Vec<i16> = reader.into_samples::<i16>().map(Result::unwrap).collect();
        assert_eq!(read[10], (samples[10] * 32767.0) as i16);
    }

    #[test]
    fn out_of_range_samples_are_clamped() {
        let read: Vec<i16> = hound::WavReader::new(Cursor::new(encode(&[2.0, -3.0, f32::NAN])))
            .unwrap()
            .into_samples::<i16>()
            .map(Result::unwrap)
            .collect();
        assert_eq!(read, vec![32767, -32767, 0]);
    }
}
