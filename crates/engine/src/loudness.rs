//! Loudness: EBU R128 measurement (the `ebur128` crate) and normalisation to a target integrated
//! loudness under a true-peak ceiling.
//!
//! Integrated loudness gates 400 ms blocks; a clip shorter than one block has none, so its
//! loudness is the K-weighted mean over the whole clip, ungated (the same filter and scale,
//! without the gate). Normalising is one gain for the whole clip; where that gain would put the
//! true peak above the ceiling, a look-ahead limiter holds the peaks down (gain falls within
//! 2 ms before a peak and recovers over 50 ms), so the integrated loudness still lands on the
//! target instead of the clip coming out quieter.

use ebur128::{EbuR128, Mode};

/// The true-peak ceiling every normalised clip stays under, in dBTP.
pub const TRUE_PEAK_CEILING_DBTP: f64 = -1.0;
/// Target loudness range accepted from callers, in LUFS.
pub const TARGET_RANGE_LUFS: std::ops::RangeInclusive<f64> = -40.0..=-5.0;

/// The loudness of a clip.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Loudness {
    /// Integrated loudness (LUFS), or the ungated fallback for a clip under 400 ms.
    pub lufs: f64,
    /// `false`: the clip was too short for a gating block and `lufs` is the ungated fallback.
    pub gated: bool,
    /// True peak (4x oversampled), dBTP.
    pub true_peak_dbtp: f64,
}

fn meter_error(error: ebur128::Error) -> String {
    format!("loudness meter: {error}")
}

/// Measures `samples` (mono, `rate` Hz). Silence measures `-inf` LUFS.
pub fn measure(samples: &[f32], rate: u32) -> Result<Loudness, String> {
    let mut meter = EbuR128::new(1, rate, Mode::I | Mode::TRUE_PEAK).map_err(meter_error)?;
    let clip_ms = (samples.len() as u64 * 1000 / u64::from(rate)) as u32;
    meter.set_max_window(clip_ms.max(1)).map_err(meter_error)?;
    meter.add_frames_f32(samples).map_err(meter_error)?;
    let integrated = meter.loudness_global().map_err(meter_error)?;
    let gated = integrated.is_finite();
    let lufs = if gated {
        integrated
    } else if clip_ms > 0 {
        meter.loudness_window(clip_ms).map_err(meter_error)?
    } else {
        f64::NEG_INFINITY
    };
    let true_peak = meter.true_peak(0).map_err(meter_error)?;
    Ok(Loudness {
        lufs,
        gated,
        true_peak_dbtp: 20.0 * true_peak.log10(),
    })
}

/// Brings `samples` to `target_lufs` with its true peak at most [`TRUE_PEAK_CEILING_DBTP`].
/// Silence is left as it is.
pub fn normalize(samples: &mut [f32], rate: u32, target_lufs: f64) -> Result<(), String> {
    // One gain reaches the target unless the limiter has to act; what it takes off the peaks
    // it takes off the loudness too, so measure again and make up the difference.
    let mut margin_db = 0.3;
    for _ in 0..6 {
        let now = measure(samples, rate)?;
        if !now.lufs.is_finite() {
            return Ok(());
        }
        let gain_db = target_lufs - now.lufs;
        if gain_db.abs() < 0.05 && now.true_peak_dbtp <= TRUE_PEAK_CEILING_DBTP {
            return Ok(());
        }
        let gain = db_to_linear(gain_db) as f32;
        for sample in samples.iter_mut() {
            *sample *= gain;
        }
        if now.true_peak_dbtp + gain_db > TRUE_PEAK_CEILING_DBTP {
            // The limiter works on sample peaks; between samples a waveform can peak higher, so
            // each pass aims a little lower under the ceiling.
            limit(
                samples,
                rate,
                db_to_linear(TRUE_PEAK_CEILING_DBTP - margin_db) as f32,
            );
            margin_db += 0.2;
        }
    }
    Ok(())
}

fn db_to_linear(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

/// Look-ahead peak limiter: no sample exceeds `ceiling` in magnitude. The gain reaches its low
/// point at each peak, falls linearly over the 2 ms before it and recovers over 50 ms after it.
fn limit(samples: &mut [f32], rate: u32, ceiling: f32) {
    let attack = (rate as usize * 2 / 1000).max(1);
    let release = (rate as usize * 50 / 1000).max(1);
    let needed: Vec<f32> = samples
        .iter()
        .map(|sample| (ceiling / sample.abs().max(f32::MIN_POSITIVE)).min(1.0))
        .collect();
    let mut gain = vec![1.0f32; samples.len()];
    for (index, &low) in needed.iter().enumerate() {
        if low >= 1.0 {
            continue;
        }
        // Ramp down before the peak, hold at the peak, ramp up after it; keep the lowest gain.
        let start = index.saturating_sub(attack);
        for (offset, g) in gain[start..=index].iter_mut().enumerate() {
            let t = (offset + 1) as f32 / (index - start + 1) as f32;
            *g = g.min(1.0 + (low - 1.0) * t);
        }
        let end = (index + release).min(samples.len() - 1);
        for (offset, g) in gain[index..=end].iter_mut().enumerate() {
            let t = offset as f32 / release as f32;
            *g = g.min(low + (1.0 - low) * t);
        }
    }
    for (sample, g) in samples.iter_mut().zip(gain) {
        *sample *= g;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 24_000;

    /// A 1 kHz tone with a louder burst, `seconds` long.
    fn tone(seconds: f64, amplitude: f32) -> Vec<f32> {
        (0..(seconds * f64::from(RATE)) as usize)
            .map(|i| {
                (i as f32 * 2.0 * std::f32::consts::PI * 1000.0 / RATE as f32).sin() * amplitude
            })
            .collect()
    }

    #[test]
    fn a_quiet_tone_is_brought_to_the_target() {
        let mut samples = tone(2.0, 0.05);
        let before = measure(&samples, RATE).unwrap();
        assert!(before.gated && before.lufs < -25.0, "{before:?}");
        normalize(&mut samples, RATE, -16.0).unwrap();
        let after = measure(&samples, RATE).unwrap();
        assert!((after.lufs + 16.0).abs() < 0.1, "{after:?}");
        assert!(after.true_peak_dbtp <= TRUE_PEAK_CEILING_DBTP, "{after:?}");
    }

    #[test]
    fn peaks_over_the_ceiling_are_limited_and_the_loudness_still_lands() {
        // A quiet tone with a few loud clicks: the gain that reaches -16 LUFS would clip them.
        let mut samples = tone(2.0, 0.05);
        for click in [4_000, 20_000, 40_000] {
            samples[click] = 0.9;
        }
        normalize(&mut samples, RATE, -16.0).unwrap();
        let after = measure(&samples, RATE).unwrap();
        assert!(after.true_peak_dbtp <= TRUE_PEAK_CEILING_DBTP, "{after:?}");
        assert!((after.lufs + 16.0).abs() < 0.5, "{after:?}");
    }

    #[test]
    fn a_clip_under_one_gating_block_uses_the_ungated_fallback() {
        let mut samples = tone(0.25, 0.05);
        let before = measure(&samples, RATE).unwrap();
        assert!(!before.gated && before.lufs.is_finite(), "{before:?}");
        // The same tone measured over 2 s (gated) has the same loudness: the fallback agrees.
        let long = measure(&tone(2.0, 0.05), RATE).unwrap();
        assert!(
            (before.lufs - long.lufs).abs() < 0.5,
            "{before:?} vs {long:?}"
        );
        normalize(&mut samples, RATE, -16.0).unwrap();
        assert!((measure(&samples, RATE).unwrap().lufs + 16.0).abs() < 0.1);
    }

    #[test]
    fn silence_is_left_alone() {
        let mut samples = vec![0.0f32; 48_000];
        normalize(&mut samples, RATE, -16.0).unwrap();
        assert!(samples.iter().all(|&sample| sample == 0.0));
        assert!(measure(&[], RATE).unwrap().lufs.is_infinite());
    }
}
