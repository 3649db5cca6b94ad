//! Decoding an encoded file back to samples: how lossy outputs are corrected for loudness
//! (`render.rs`), and how the tests and the loudness report judge every format.
//!
//! symphonia (pure Rust) reads WAV, MP3 (applying the LAME Info frame's delay and padding), FLAC
//! and Ogg; Opus packets, which symphonia does not decode, go to libopus at 48 kHz with the
//! pre-skip and end trimming symphonia's Ogg reader derives from the granule positions.

use std::io::Cursor;
use std::path::Path;
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::codecs::audio::well_known::CODEC_ID_OPUS;
use symphonia::core::formats::TrackType;
use symphonia::core::formats::probe::Hint;
use symphonia::core::io::MediaSourceStream;

/// Mono samples and their rate.
pub struct Decoded {
    pub sample_rate: u32,
    pub samples: Vec<f32>,
}

impl Decoded {
    pub fn seconds(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sample_rate)
    }
}

/// Decodes a whole file in memory (its first audio track; the first channel if several).
pub fn decode(bytes: Vec<u8>) -> Result<Decoded, String> {
    let stream = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
    let mut format = symphonia::default::get_probe()
        .probe(&Hint::new(), stream, Default::default(), Default::default())
        .map_err(|error| format!("not a readable audio file: {error}"))?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or("no audio track")?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|params| params.audio())
        .ok_or("no audio parameters")?
        .clone();
    let mut samples = Vec::new();
    let decode_error = |error: &dyn std::fmt::Display| format!("decoding: {error}");
    if params.codec == CODEC_ID_OPUS {
        let mut decoder =
            opus::Decoder::new(48_000, opus::Channels::Mono).map_err(|e| decode_error(&e))?;
        let mut frame = vec![0f32; 5760];
        while let Some(packet) = format.next_packet().map_err(|e| decode_error(&e))? {
            if packet.track_id != track_id {
                continue;
            }
            let decoded = decoder
                .decode_float(&packet.data, &mut frame, false)
                .map_err(|e| decode_error(&e))?;
            let start = (packet.trim_start.get() as usize).min(decoded);
            let end = decoded
                .saturating_sub(packet.trim_end.get() as usize)
                .max(start);
            samples.extend_from_slice(&frame[start..end]);
        }
        return Ok(Decoded {
            sample_rate: 48_000,
            samples,
        });
    }
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| decode_error(&e))?;
    let mut sample_rate = params.sample_rate.unwrap_or(0);
    let mut interleaved: Vec<f32> = Vec::new();
    while let Some(packet) = format.next_packet().map_err(|e| decode_error(&e))? {
        if packet.track_id != track_id {
            continue;
        }
        let buffer = decoder.decode(&packet).map_err(|e| decode_error(&e))?;
        sample_rate = buffer.spec().rate();
        let channels = buffer.spec().channels().count().max(1);
        buffer.copy_to_vec_interleaved(&mut interleaved);
        samples.extend(interleaved.iter().step_by(channels));
    }
    Ok(Decoded {
        sample_rate,
        samples,
    })
}

/// [`decode`] of the file at `path`.
pub fn decode_file(path: &Path) -> Result<Decoded, String> {
    let bytes = std::fs::read(path).map_err(|error| format!("{}: {error}", path.display()))?;
    decode(bytes).map_err(|error| format!("{}: {error}", path.display()))
}
