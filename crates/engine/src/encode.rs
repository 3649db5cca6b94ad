//! Where samples become the bytes of an audio file, and where a file's comment tag is read back.
//!
//! Every format carries one text comment (the fingerprint, [`crate::fingerprint`]) in its own tag,
//! so that it travels with the audio: a WAV `LIST`/`INFO` chunk (`ICMT`, placed before the data),
//! an ID3v2.4 `TXXX` frame in MP3, a Vorbis comment in Opus's `OpusTags` and in FLAC's
//! `VORBIS_COMMENT` block, each under the key [`COMMENT_KEY`].
//!
//! - WAV: 16-bit PCM (hound).
//! - MP3: LAME 3.100 (`mp3lame-encoder`, built from its bundled source), mono ABR at the bit rate,
//!   with the LAME "Info" frame that tells decoders the encoder delay and padding (exact length).
//! - Opus: libopus (`opus`, built from its bundled source with cmake) in Ogg (`ogg`): `OpusHead`
//!   with the encoder's lookahead as pre-skip, 20 ms packets, granule positions at 48 kHz and an
//!   end granule that trims the last packet's padding, so decoders give back the exact length.
//! - FLAC: 16-bit, pure Rust (`flacenc`, single-threaded).

use std::fmt;
use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::Path;
use std::str::FromStr;

/// Key of the comment in ID3 `TXXX` frames and Vorbis comments.
pub const COMMENT_KEY: &str = "KOKORO_POOL_FINGERPRINT";

/// An output file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AudioFormat {
    #[default]
    Wav,
    Mp3,
    Opus,
    Flac,
}

impl AudioFormat {
    pub const ALL: [AudioFormat; 4] = [
        AudioFormat::Wav,
        AudioFormat::Mp3,
        AudioFormat::Opus,
        AudioFormat::Flac,
    ];

    /// The name callers use, which is also the file extension.
    pub fn name(self) -> &'static str {
        match self {
            AudioFormat::Wav => "wav",
            AudioFormat::Mp3 => "mp3",
            AudioFormat::Opus => "opus",
            AudioFormat::Flac => "flac",
        }
    }

    /// The format an output path's extension names (`.ogg` is taken as Opus in Ogg); `None` for
    /// any other extension.
    pub fn from_path(path: &Path) -> Option<AudioFormat> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        if extension == "ogg" {
            return Some(AudioFormat::Opus);
        }
        extension.parse().ok()
    }

    /// Speech defaults: 48 kbit/s MP3, 32 kbit/s Opus; `None` for the lossless formats.
    pub fn default_bitrate_kbps(self) -> Option<u32> {
        match self {
            AudioFormat::Mp3 => Some(48),
            AudioFormat::Opus => Some(32),
            AudioFormat::Wav | AudioFormat::Flac => None,
        }
    }
}

impl fmt::Display for AudioFormat {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

impl FromStr for AudioFormat {
    type Err = String;

    fn from_str(name: &str) -> Result<AudioFormat, String> {
        AudioFormat::ALL
            .into_iter()
            .find(|format| format.name() == name)
            .ok_or_else(|| format!("unknown format {name:?}: use wav, mp3, opus or flac"))
    }
}

/// Bit rates LAME accepts for mono CBR, in kbit/s.
const MP3_BITRATES: [u32; 16] = [
    8, 16, 24, 32, 40, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
];
/// MPEG-2 Layer III (16, 22.05, 24 kHz) stops at 160 kbit/s.
const MPEG2_MAX_KBPS: u32 = 160;
/// Opus's own range.
const OPUS_KBPS: std::ops::RangeInclusive<u32> = 6..=510;
/// Output sample rates: the model's 24 kHz, or resampled to 44.1 or 48 kHz.
pub const SAMPLE_RATES: [u32; 3] = [24_000, 44_100, 48_000];

/// How one file is encoded: the format, its bit rate (lossy formats) and sample rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoding {
    pub format: AudioFormat,
    /// kbit/s; `None` for WAV and FLAC.
    pub bitrate_kbps: Option<u32>,
    pub sample_rate: u32,
}

impl Encoding {
    /// `format` with `bitrate_kbps` (default: the format's) at `sample_rate`, checked.
    pub fn new(
        format: AudioFormat,
        bitrate_kbps: Option<u32>,
        sample_rate: u32,
    ) -> Result<Encoding, String> {
        if !SAMPLE_RATES.contains(&sample_rate) {
            return Err(format!(
                "sample rate {sample_rate} Hz is not supported: use 24000 (the model's), 44100 or 48000"
            ));
        }
        let bitrate_kbps = match (format, bitrate_kbps) {
            (AudioFormat::Wav | AudioFormat::Flac, Some(kbps)) => {
                return Err(format!(
                    "a bit rate ({kbps} kbit/s) applies to mp3 and opus only; {format} is lossless"
                ));
            }
            (_, given) => given.or(format.default_bitrate_kbps()),
        };
        match (format, bitrate_kbps) {
            (AudioFormat::Mp3, Some(kbps)) => {
                let max = if sample_rate < 32_000 {
                    MPEG2_MAX_KBPS
                } else {
                    320
                };
                if !MP3_BITRATES.contains(&kbps) || kbps > max {
                    return Err(format!(
                        "mp3 bit rate {kbps} kbit/s at {sample_rate} Hz is not supported: use one of {}",
                        MP3_BITRATES
                            .iter()
                            .filter(|&&rate| rate <= max)
                            .map(u32::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
            (AudioFormat::Opus, Some(kbps)) => {
                if !OPUS_KBPS.contains(&kbps) {
                    return Err(format!(
                        "opus bit rate {kbps} kbit/s is not supported: use 6 to 510"
                    ));
                }
                if sample_rate == 44_100 {
                    return Err("opus encodes 24000 or 48000 Hz, not 44100".into());
                }
            }
            _ => {}
        }
        Ok(Encoding {
            format,
            bitrate_kbps,
            sample_rate,
        })
    }
}

/// The bytes of a file in `encoding` holding `samples` (mono, at `encoding.sample_rate`, clamped
/// to [-1, 1]) and `comment` in its tag.
pub(crate) fn encode(
    samples: &[f32],
    encoding: &Encoding,
    comment: &str,
) -> Result<Vec<u8>, String> {
    let rate = encoding.sample_rate;
    match (encoding.format, encoding.bitrate_kbps) {
        (AudioFormat::Wav, _) => encode_wav(samples, rate, comment),
        (AudioFormat::Flac, _) => encode_flac(samples, rate, comment),
        (AudioFormat::Mp3, Some(kbps)) => encode_mp3(samples, rate, kbps, comment),
        (AudioFormat::Opus, Some(kbps)) => encode_opus(samples, rate, kbps, comment),
        (format, None) => Err(format!("{format} needs a bit rate")),
    }
}

/// 16-bit PCM: truncation toward zero, as numpy's astype(int16) in the reference; NaN becomes 0.
fn to_i16(sample: f32) -> i16 {
    (sample.clamp(-1.0, 1.0) * 32767.0) as i16
}

fn encode_wav(samples: &[f32], rate: u32, comment: &str) -> Result<Vec<u8>, String> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = Cursor::new(Vec::with_capacity(64 + samples.len() * 2));
    let mut writer = hound::WavWriter::new(&mut cursor, spec).map_err(|e| e.to_string())?;
    let mut samples_writer = writer.get_i16_writer(samples.len() as u32);
    for &sample in samples {
        samples_writer.write_sample(to_i16(sample));
    }
    samples_writer.flush().map_err(|e| e.to_string())?;
    writer.finalize().map_err(|e| e.to_string())?;
    let mut wav = cursor.into_inner();
    // LIST/INFO goes before `data`, where readers of the header (and `read_comment`) meet it first.
    let (data_offset, _) = riff_chunks(&wav)
        .find(|(_, id)| id == b"data")
        .ok_or("hound wrote no data chunk")?;
    let mut text = comment.as_bytes().to_vec();
    text.push(0);
    if text.len() % 2 == 1 {
        text.push(0);
    }
    let mut list = Vec::with_capacity(text.len() + 20);
    list.extend_from_slice(b"LIST");
    list.extend_from_slice(&(4 + 8 + text.len() as u32).to_le_bytes());
    list.extend_from_slice(b"INFOICMT");
    list.extend_from_slice(&(text.len() as u32).to_le_bytes());
    list.extend_from_slice(&text);
    wav.splice(data_offset..data_offset, list);
    let riff_size = (wav.len() - 8) as u32;
    wav[4..8].copy_from_slice(&riff_size.to_le_bytes());
    Ok(wav)
}

/// (offset, id) of each chunk of a RIFF/WAVE file in memory.
fn riff_chunks(wav: &[u8]) -> impl Iterator<Item = (usize, [u8; 4])> + '_ {
    let mut offset = 12;
    std::iter::from_fn(move || {
        let header = wav.get(offset..offset + 8)?;
        let id: [u8; 4] = header[..4].try_into().ok()?;
        let size = u32::from_le_bytes(header[4..8].try_into().ok()?) as usize;
        let at = offset;
        offset += 8 + size + size % 2;
        Some((at, id))
    })
}

fn encode_mp3(samples: &[f32], rate: u32, kbps: u32, comment: &str) -> Result<Vec<u8>, String> {
    use mp3lame_encoder::{Bitrate, Builder, FlushGap, Mode, MonoPcm, Quality, VbrMode};
    let bitrate = match kbps {
        8 => Bitrate::Kbps8,
        16 => Bitrate::Kbps16,
        24 => Bitrate::Kbps24,
        32 => Bitrate::Kbps32,
        40 => Bitrate::Kbps40,
        48 => Bitrate::Kbps48,
        64 => Bitrate::Kbps64,
        80 => Bitrate::Kbps80,
        96 => Bitrate::Kbps96,
        112 => Bitrate::Kbps112,
        128 => Bitrate::Kbps128,
        160 => Bitrate::Kbps160,
        192 => Bitrate::Kbps192,
        224 => Bitrate::Kbps224,
        256 => Bitrate::Kbps256,
        320 => Bitrate::Kbps320,
        _ => return Err(format!("mp3 bit rate {kbps} kbit/s is not supported")),
    };
    let lame_error = |error: &dyn fmt::Display| format!("LAME: {error}");
    let mut builder = Builder::new().ok_or("LAME could not be initialised")?;
    builder.set_num_channels(1).map_err(|e| lame_error(&e))?;
    builder.set_sample_rate(rate).map_err(|e| lame_error(&e))?;
    builder.set_brate(bitrate).map_err(|e| lame_error(&e))?;
    // ABR, not CBR: LAME writes the Info frame (encoder delay and padding, which decoders need for
    // the exact length) at the stream's bit rate for CBR, and below 64 kbit/s at 24 kHz it does
    // not fit in a frame, so LAME leaves it out; ABR writes it at 64 kbit/s.
    builder
        .set_vbr_mode(VbrMode::Abr)
        .map_err(|e| lame_error(&e))?;
    // SAFETY: the pointer is the builder's own LAME handle, alive while `builder` is; the setter
    // only stores the value (checked by `lame_init_params` in `build`).
    let status = unsafe {
        mp3lame_encoder::ffi::lame_set_VBR_mean_bitrate_kbps(builder.as_ptr(), kbps as i32)
    };
    if status != 0 {
        return Err(format!("LAME refused a mean bit rate of {kbps} kbit/s"));
    }
    builder.set_mode(Mode::Mono).map_err(|e| lame_error(&e))?;
    builder
        .set_quality(Quality::NearBest)
        .map_err(|e| lame_error(&e))?;
    builder
        .set_to_write_vbr_tag(true)
        .map_err(|e| lame_error(&e))?;
    let mut encoder = builder.build().map_err(|e| lame_error(&e))?;
    let pcm: Vec<i16> = samples.iter().copied().map(to_i16).collect();
    let mut mp3 = Vec::with_capacity(mp3lame_encoder::max_required_buffer_size(pcm.len()));
    encoder
        .encode_to_vec(MonoPcm(&pcm), &mut mp3)
        .map_err(|e| lame_error(&e))?;
    mp3.reserve(7200);
    encoder
        .flush_to_vec::<FlushGap>(&mut mp3)
        .map_err(|e| lame_error(&e))?;
    // LAME reserved the first frame for the Info frame (delay, padding, length): fill it in.
    let mut info_frame = Vec::with_capacity(encoder.lame_tag_size());
    if encoder.lame_tag_encode_to_vec(&mut info_frame).is_some() && info_frame.len() <= mp3.len() {
        mp3[..info_frame.len()].copy_from_slice(&info_frame);
    }
    let mut tag = id3::Tag::new();
    id3::TagLike::add_frame(
        &mut tag,
        id3::frame::ExtendedText {
            description: COMMENT_KEY.into(),
            value: comment.into(),
        },
    );
    let mut file = Vec::with_capacity(mp3.len() + comment.len() + 64);
    tag.write_to(&mut file, id3::Version::Id3v24)
        .map_err(|e| format!("ID3 tag: {e}"))?;
    file.extend_from_slice(&mp3);
    Ok(file)
}

/// A Vorbis comment list (vendor, then `KEY=value` entries), as in `OpusTags` and FLAC.
fn vorbis_comment(comment: &str) -> Vec<u8> {
    let vendor = concat!("kokoro-pool ", env!("CARGO_PKG_VERSION"));
    let entry = format!("{COMMENT_KEY}={comment}");
    let mut bytes = Vec::with_capacity(16 + vendor.len() + entry.len());
    bytes.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    bytes.extend_from_slice(vendor.as_bytes());
    bytes.extend_from_slice(&1u32.to_le_bytes());
    bytes.extend_from_slice(&(entry.len() as u32).to_le_bytes());
    bytes.extend_from_slice(entry.as_bytes());
    bytes
}

/// The value of [`COMMENT_KEY`] in a Vorbis comment list; `None` when absent or malformed.
fn vorbis_comment_value(bytes: &[u8]) -> Option<String> {
    let mut rest = bytes;
    let mut take = |length: usize| -> Option<&[u8]> {
        let (taken, remaining) = rest.split_at_checked(length)?;
        rest = remaining;
        Some(taken)
    };
    let read_u32 = |bytes: &[u8]| u32::from_le_bytes(bytes.try_into().unwrap_or_default());
    let vendor_length = read_u32(take(4)?) as usize;
    take(vendor_length)?;
    let count = read_u32(take(4)?);
    let prefix = format!("{COMMENT_KEY}=");
    for _ in 0..count {
        let length = read_u32(take(4)?) as usize;
        let entry = take(length)?;
        if let Some(value) = entry.strip_prefix(prefix.as_bytes()) {
            return String::from_utf8(value.to_vec()).ok();
        }
    }
    None
}

/// Opus decoders always run at 48 kHz; granule positions and pre-skip count 48 kHz samples.
const OPUS_GRANULE_RATE: u32 = 48_000;

fn encode_opus(samples: &[f32], rate: u32, kbps: u32, comment: &str) -> Result<Vec<u8>, String> {
    use ogg::writing::{PacketWriteEndInfo, PacketWriter};
    use opus::{Application, Bitrate, Channels, Signal};
    let opus_error = |error: opus::Error| format!("libopus: {error}");
    let mut encoder =
        opus::Encoder::new(rate, Channels::Mono, Application::Audio).map_err(opus_error)?;
    encoder
        .set_bitrate(Bitrate::Bits(kbps as i32 * 1000))
        .map_err(opus_error)?;
    encoder.set_signal(Signal::Voice).map_err(opus_error)?;
    let lookahead = encoder.get_lookahead().map_err(opus_error)? as usize;
    let to_granule = (OPUS_GRANULE_RATE / rate) as u64;
    let pre_skip = lookahead as u64 * to_granule;
    let frame = rate as usize / 50;
    // The encoder's lookahead delays the audio: feed that much silence after it, whole frames.
    let padded_length = (samples.len() + lookahead).div_ceil(frame) * frame;
    let mut pcm: Vec<f32> = samples.iter().map(|s| s.clamp(-1.0, 1.0)).collect();
    pcm.resize(padded_length, 0.0);

    let mut head = Vec::with_capacity(19);
    head.extend_from_slice(b"OpusHead");
    head.push(1); // version
    head.push(1); // channels
    head.extend_from_slice(&(pre_skip as u16).to_le_bytes());
    head.extend_from_slice(&rate.to_le_bytes()); // input sample rate, informational
    head.extend_from_slice(&0i16.to_le_bytes()); // output gain
    head.push(0); // channel mapping family 0: mono or stereo
    let mut tags = b"OpusTags".to_vec();
    tags.extend_from_slice(&vorbis_comment(comment));

    // Any serial number is valid for a single-stream file; a fixed one keeps output reproducible.
    let serial = 0x6b6f_6b6f;
    let mut file = Vec::with_capacity(padded_length / 8 + 256);
    let mut writer = PacketWriter::new(&mut file);
    let write_error = |error: std::io::Error| format!("Ogg: {error}");
    writer
        .write_packet(head, serial, PacketWriteEndInfo::EndPage, 0)
        .map_err(write_error)?;
    writer
        .write_packet(tags, serial, PacketWriteEndInfo::EndPage, 0)
        .map_err(write_error)?;
    let end_granule = pre_skip + samples.len() as u64 * to_granule;
    let packets = pcm.len() / frame;
    for (index, chunk) in pcm.chunks(frame).enumerate() {
        let packet = encoder.encode_vec_float(chunk, 4000).map_err(opus_error)?;
        let last = index + 1 == packets;
        let (end_info, granule) = if last {
            (PacketWriteEndInfo::EndStream, end_granule)
        } else {
            (
                PacketWriteEndInfo::NormalPacket,
                ((index + 1) * frame) as u64 * to_granule,
            )
        };
        writer
            .write_packet(packet, serial, end_info, granule)
            .map_err(write_error)?;
    }
    drop(writer);
    Ok(file)
}

fn encode_flac(samples: &[f32], rate: u32, comment: &str) -> Result<Vec<u8>, String> {
    use flacenc::component::{BitRepr, MetadataBlockData};
    use flacenc::error::Verify;
    let config = flacenc::config::Encoder::default()
        .into_verified()
        .map_err(|(_, error)| format!("FLAC configuration: {error}"))?;
    let pcm: Vec<i32> = samples.iter().map(|&s| i32::from(to_i16(s))).collect();
    let source = flacenc::source::MemSource::from_samples(&pcm, 1, 16, rate as usize);
    let mut stream = flacenc::encode_with_fixed_block_size(&config, source, config.block_size)
        .map_err(|error| format!("FLAC: {error}"))?;
    // flacenc counts the short last block in the minimum block size; the format excludes it, and
    // a decoder that trusts the header (symphonia) then takes the stream for variable-blocksize.
    stream
        .stream_info_mut()
        .set_block_sizes(config.block_size, config.block_size)
        .map_err(|error| format!("FLAC stream info: {error}"))?;
    const VORBIS_COMMENT_BLOCK: u8 = 4;
    stream.add_metadata_block(
        MetadataBlockData::new_unknown(VORBIS_COMMENT_BLOCK, &vorbis_comment(comment))
            .map_err(|error| format!("FLAC metadata: {error}"))?,
    );
    let mut sink = flacenc::bitsink::ByteSink::new();
    stream
        .write(&mut sink)
        .map_err(|error| format!("FLAC: {error}"))?;
    Ok(sink.into_inner())
}

/// The comment stored under [`COMMENT_KEY`] in the file at `path`, whatever its format (told by
/// its first bytes, not its name); `Ok(None)` when the file has none or is not one of the four
/// formats. Reads only the headers.
pub(crate) fn read_comment(path: &Path) -> std::io::Result<Option<String>> {
    let mut file = BufReader::new(File::open(path)?);
    let mut magic = [0u8; 4];
    if file.read_exact(&mut magic).is_err() {
        return Ok(None);
    }
    file.seek(SeekFrom::Start(0))?;
    Ok(match &magic {
        b"RIFF" => read_wav_comment(&mut file)?,
        b"fLaC" => read_flac_comment(&mut file)?,
        b"OggS" => read_opus_comment(file),
        [b'I', b'D', b'3', _] => id3::Tag::read_from2(file).ok().and_then(|tag| {
            tag.extended_texts()
                .find(|text| text.description == COMMENT_KEY)
                .map(|text| text.value.clone())
        }),
        _ => None,
    })
}

fn read_wav_comment(file: &mut (impl Read + Seek)) -> std::io::Result<Option<String>> {
    let mut riff = [0u8; 12];
    file.read_exact(&mut riff)?;
    let mut header = [0u8; 8];
    while file.read_exact(&mut header).is_ok() {
        let size = u32::from_le_bytes(header[4..8].try_into().unwrap_or_default()) as u64;
        if &header[..4] != b"LIST" {
            file.seek(SeekFrom::Current((size + size % 2) as i64))?;
            continue;
        }
        let mut list = vec![0u8; size as usize];
        file.read_exact(&mut list)?;
        let Some(info) = list.strip_prefix(b"INFO") else {
            continue;
        };
        let mut subchunks = Cursor::new(info);
        let mut sub_header = [0u8; 8];
        while subchunks.read_exact(&mut sub_header).is_ok() {
            let sub_size = u32::from_le_bytes(sub_header[4..8].try_into().unwrap_or_default());
            let mut text = vec![0u8; sub_size as usize];
            subchunks.read_exact(&mut text)?;
            if &sub_header[..4] == b"ICMT" {
                let end = text
                    .iter()
                    .position(|&byte| byte == 0)
                    .unwrap_or(text.len());
                return Ok(String::from_utf8(text[..end].to_vec()).ok());
            }
            subchunks.seek(SeekFrom::Current(i64::from(sub_size % 2)))?;
        }
    }
    Ok(None)
}

fn read_flac_comment(file: &mut impl Read) -> std::io::Result<Option<String>> {
    let mut magic = [0u8; 4];
    file.read_exact(&mut magic)?;
    loop {
        let mut header = [0u8; 4];
        file.read_exact(&mut header)?;
        let length = u32::from_be_bytes([0, header[1], header[2], header[3]]) as usize;
        let mut block = vec![0u8; length];
        file.read_exact(&mut block)?;
        if header[0] & 0x7f == 4 {
            return Ok(vorbis_comment_value(&block));
        }
        if header[0] & 0x80 != 0 {
            return Ok(None);
        }
    }
}

fn read_opus_comment(file: impl Read + Seek) -> Option<String> {
    let mut packets = ogg::reading::PacketReader::new(file);
    let head = packets.read_packet().ok()??;
    if !head.data.starts_with(b"OpusHead") {
        return None;
    }
    let tags = packets.read_packet().ok()??;
    vorbis_comment_value(tags.data.strip_prefix(b"OpusTags")?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{decode_file, rms, scratch_dir, tone_level};

    /// Tones where speech has its energy, swelling and fading like syllables: 1.3 s at `rate`.
    fn speech_like(rate: u32) -> Vec<f32> {
        let length = rate as usize * 13 / 10;
        (0..length)
            .map(|i| {
                let t = i as f32 / rate as f32;
                let envelope = 0.5 - 0.5 * (2.0 * std::f32::consts::PI * 3.0 * t).cos();
                let voice: f32 = [(300.0, 0.2), (800.0, 0.12), (1500.0, 0.06), (3000.0, 0.03)]
                    .iter()
                    .map(|(frequency, amplitude)| {
                        (2.0 * std::f32::consts::PI * frequency * t).sin() * amplitude
                    })
                    .sum();
                voice * envelope
            })
            .collect()
    }

    const COMMENT: &str = "{\"kokoro-pool\":1,\"phonemes\":\"tabeɾɯ\"}";

    /// Writes `samples` encoded as `encoding`, decodes the file and compares: length within one
    /// frame of the format, RMS within 1 dB, each tone within 1.5 dB.
    fn round_trip(encoding: Encoding, frame_seconds: f64) {
        let rate = encoding.sample_rate;
        let samples = speech_like(rate);
        let dir = scratch_dir(&format!("encode-{}-{rate}", encoding.format));
        let path = dir.join(format!("clip.{}", encoding.format));
        std::fs::write(&path, encode(&samples, &encoding, COMMENT).unwrap()).unwrap();

        let decoded = decode_file(&path);
        let source_seconds = samples.len() as f64 / f64::from(rate);
        assert!(
            (decoded.seconds() - source_seconds).abs() <= frame_seconds,
            "{encoding:?}: {} s decoded, {source_seconds} s encoded",
            decoded.seconds()
        );
        let level_db = |a: f64, b: f64| 20.0 * (a / b).log10();
        let rms_difference = level_db(rms(&decoded.samples), rms(&samples));
        assert!(
            rms_difference.abs() < 1.0,
            "{encoding:?}: RMS {rms_difference:+.2} dB"
        );
        for frequency in [300.0, 800.0, 1500.0, 3000.0] {
            let difference = level_db(
                tone_level(&decoded.samples, decoded.sample_rate, frequency),
                tone_level(&samples, rate, frequency),
            );
            assert!(
                difference.abs() < 1.5,
                "{encoding:?}: {frequency} Hz {difference:+.2} dB"
            );
        }
        assert_eq!(read_comment(&path).unwrap().as_deref(), Some(COMMENT));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn wav_round_trips_sample_exactly_in_length() {
        round_trip(Encoding::new(AudioFormat::Wav, None, 24_000).unwrap(), 0.0);
    }

    #[test]
    fn flac_round_trips_sample_exactly_in_length() {
        round_trip(Encoding::new(AudioFormat::Flac, None, 24_000).unwrap(), 0.0);
        round_trip(Encoding::new(AudioFormat::Flac, None, 44_100).unwrap(), 0.0);
    }

    #[test]
    fn mp3_round_trips_within_one_frame() {
        // MPEG-2 Layer III frames are 576 samples; MPEG-1 (44.1, 48 kHz) 1152.
        round_trip(
            Encoding::new(AudioFormat::Mp3, None, 24_000).unwrap(),
            576.0 / 24_000.0,
        );
        round_trip(
            Encoding::new(AudioFormat::Mp3, Some(64), 48_000).unwrap(),
            1152.0 / 48_000.0,
        );
    }

    #[test]
    fn opus_round_trips_within_one_frame() {
        round_trip(
            Encoding::new(AudioFormat::Opus, None, 24_000).unwrap(),
            0.020,
        );
        round_trip(
            Encoding::new(AudioFormat::Opus, Some(24), 48_000).unwrap(),
            0.020,
        );
    }

    #[test]
    fn wav_samples_are_clamped_and_truncated_to_16_bits() {
        let bytes = encode(
            &[2.0, -3.0, f32::NAN, 0.5],
            &Encoding::new(AudioFormat::Wav, None, 24_000).unwrap(),
            "",
        )
        .unwrap();
        let read: Vec<i16> = hound::WavReader::new(Cursor::new(bytes))
            .unwrap()
            .into_samples::<i16>()
            .map(Result::unwrap)
            .collect();
        assert_eq!(read, vec![32767, -32767, 0, 16383]);
    }

    #[test]
    fn formats_come_from_names_and_extensions() {
        assert_eq!("mp3".parse(), Ok(AudioFormat::Mp3));
        assert!(
            "aac"
                .parse::<AudioFormat>()
                .unwrap_err()
                .contains("wav, mp3, opus or flac")
        );
        let from = |path: &str| AudioFormat::from_path(Path::new(path));
        assert_eq!(from("a/b.FLAC"), Some(AudioFormat::Flac));
        assert_eq!(from("b.ogg"), Some(AudioFormat::Opus));
        assert_eq!(from("b.part"), None);
        assert_eq!(from("b"), None);
    }

    #[test]
    fn bad_encodings_are_refused_with_the_reason() {
        let refused = |format, kbps, rate| Encoding::new(format, kbps, rate).unwrap_err();
        assert!(refused(AudioFormat::Mp3, Some(50), 24_000).contains("use one of 8, 16"));
        assert!(refused(AudioFormat::Mp3, Some(320), 24_000).contains("160"));
        assert!(refused(AudioFormat::Opus, Some(600), 24_000).contains("6 to 510"));
        assert!(refused(AudioFormat::Opus, None, 44_100).contains("24000 or 48000"));
        assert!(refused(AudioFormat::Wav, Some(64), 24_000).contains("lossless"));
        assert!(refused(AudioFormat::Wav, None, 22_050).contains("22050 Hz"));
        assert_eq!(
            Encoding::new(AudioFormat::Opus, None, 24_000)
                .unwrap()
                .bitrate_kbps,
            Some(32)
        );
    }

    #[test]
    fn files_without_a_fingerprint_read_as_none() {
        let dir = scratch_dir("encode-no-comment");
        let plain = dir.join("plain.wav");
        let mut writer = hound::WavWriter::create(
            &plain,
            hound::WavSpec {
                channels: 1,
                sample_rate: 24_000,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            },
        )
        .unwrap();
        writer.write_sample(0i16).unwrap();
        writer.finalize().unwrap();
        assert_eq!(read_comment(&plain).unwrap(), None);
        let text = dir.join("notes.txt");
        std::fs::write(&text, "not audio").unwrap();
        assert_eq!(read_comment(&text).unwrap(), None);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
