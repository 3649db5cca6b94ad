//! Whether a WAV file on disk is whole ([`check_complete`]); `encode.rs` makes WAV bytes.

use std::fs::File;
use std::io::{BufReader, Seek};
use std::path::Path;

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
