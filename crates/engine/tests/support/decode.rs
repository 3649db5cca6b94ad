//! Decoding a written file with an independent decoder, for the format tests (`src/test_support.rs`)
//! and the loudness report example: one copy, included by path in both.

use std::path::Path;

/// A file decoded by an independent decoder: symphonia (WAV, MP3 with its LAME gapless info,
/// FLAC), and for Opus symphonia's Ogg demuxer (pre-skip and end trimming from the granule
/// positions) with libopus decoding the packets at 48 kHz.
pub struct Decoded {
    pub sample_rate: u32,
    pub samples: Vec<f32>,
}

impl Decoded {
    pub fn seconds(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sample_rate)
    }
}

pub fn decode_file(path: &Path) -> Decoded {
    use symphonia::core::codecs::audio::AudioDecoderOptions;
    use symphonia::core::formats::TrackType;
    use symphonia::core::formats::probe::Hint;
    use symphonia::core::io::MediaSourceStream;
    let file = std::fs::File::open(path).unwrap();
    let stream = MediaSourceStream::new(Box::new(file), Default::default());
    let mut format = symphonia::default::get_probe()
        .probe(&Hint::new(), stream, Default::default(), Default::default())
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let track = format.default_track(TrackType::Audio).unwrap();
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .unwrap()
        .audio()
        .unwrap()
        .clone();
    let mut samples = Vec::new();
    if params.codec == symphonia::core::codecs::audio::well_known::CODEC_ID_OPUS {
        let mut decoder = opus::Decoder::new(48_000, opus::Channels::Mono).unwrap();
        let mut frame = vec![0f32; 5760];
        while let Some(packet) = format.next_packet().unwrap() {
            if packet.track_id != track_id {
                continue;
            }
            let decoded = decoder
                .decode_float(&packet.data, &mut frame, false)
                .unwrap();
            let start = (packet.trim_start.get() as usize).min(decoded);
            let end = decoded
                .saturating_sub(packet.trim_end.get() as usize)
                .max(start);
            samples.extend_from_slice(&frame[start..end]);
        }
        return Decoded {
            sample_rate: 48_000,
            samples,
        };
    }
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .unwrap();
    let mut sample_rate = params.sample_rate.unwrap_or(0);
    while let Some(packet) = format.next_packet().unwrap() {
        if packet.track_id != track_id {
            continue;
        }
        let buffer = decoder.decode(&packet).unwrap();
        sample_rate = buffer.spec().rate();
        let mut interleaved: Vec<f32> = Vec::new();
        buffer.copy_to_vec_interleaved(&mut interleaved);
        samples.extend(interleaved);
    }
    Decoded {
        sample_rate,
        samples,
    }
}
