//! Where output files are written, whatever their format: a folder check before a task needs an
//! inference slot, the one atomic and durable write, and the check that decides whether an
//! existing output is complete (and may be skipped).
//!
//! The write ([`write_atomically`]): a hidden temporary file beside the output, the bytes, `fsync`
//! of the file, rename over the output, `fsync` of the folder. A file at the output path is
//! therefore complete, and stays complete after a power loss once the task has reported success.
//! Nothing is opened before the write itself, so open files stay bounded by the tasks writing at
//! that moment, whatever the concurrency.

use crate::decode;
use crate::encode::AudioFormat;
use crate::error::TaskErrorKind;
use crate::wav;
use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// What is at an output path before a task writes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ExistingOutput {
    Absent,
    /// A complete file: skippable.
    Complete,
    /// A file that is not complete (cut short by a crash, empty, not the format): why.
    Incomplete(String),
}

/// Checks the file at `path` with its format's own check: a WAV's header against its length (a
/// cheap check, as reruns over large courses make it for every file); a compressed file by
/// decoding it, which finds a broken stream but, lacking a length in every format's header, not
/// one cut at a frame boundary (outputs are written atomically, so only a copy can be cut short).
pub(crate) fn existing_output(path: &Path, format: AudioFormat) -> ExistingOutput {
    match fs::metadata(path) {
        Err(_) => ExistingOutput::Absent,
        Ok(metadata) if metadata.is_dir() => ExistingOutput::Absent,
        Ok(_) => {
            let checked = match format {
                AudioFormat::Wav => wav::check_complete(path),
                AudioFormat::Mp3 | AudioFormat::Opus | AudioFormat::Flac => {
                    match decode::decode_file(path) {
                        Ok(decoded) if decoded.samples.is_empty() => {
                            Err(format!("a {format} file without audio"))
                        }
                        Ok(_) => Ok(()),
                        Err(error) => Err(format!("not a complete {format} file ({error})")),
                    }
                }
            };
            match checked {
                Ok(()) => ExistingOutput::Complete,
                Err(reason) => ExistingOutput::Incomplete(reason),
            }
        }
    }
}

/// Creates the output's folder when missing and checks that a file can be created in it, without
/// keeping anything open: an unwritable place fails the task with the operating system's reason
/// before it waits for inference. Also clears temporary files that dead processes left there.
pub(crate) fn prepare_folder(output_path: &Path) -> Result<(), TaskErrorKind> {
    let output_error = |cause: String| TaskErrorKind::Output {
        path: output_path.to_path_buf(),
        cause,
    };
    if output_path.is_dir() {
        return Err(output_error("it is a directory".into()));
    }
    let folder = folder_of(output_path);
    fs::create_dir_all(folder)
        .map_err(|error| output_error(format!("cannot create its folder: {error}")))?;
    remove_stale_temp_files(folder);
    let probe = temp_path(output_path).map_err(output_error)?;
    File::options()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|error| output_error(error.to_string()))?;
    let _ = fs::remove_file(&probe);
    Ok(())
}

/// Writes `contents` to `output_path` atomically and durably (see the module comment).
/// `before_rename` runs after the data is on disk and before the file takes its place: an error
/// from it abandons the write (the temporary file is removed) and is returned.
pub(crate) fn write_atomically(
    output_path: &Path,
    contents: &[u8],
    before_rename: impl FnOnce() -> Result<(), TaskErrorKind>,
) -> Result<(), TaskErrorKind> {
    let output_error = |cause: String| TaskErrorKind::Output {
        path: output_path.to_path_buf(),
        cause,
    };
    let mut temp = TempFile(temp_path(output_path).map_err(output_error)?);
    let mut file = File::options()
        .write(true)
        .create_new(true)
        .open(&temp.0)
        .map_err(|error| output_error(error.to_string()))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|error| output_error(error.to_string()))?;
    drop(file);
    before_rename()?;
    fs::rename(&temp.0, output_path).map_err(|error| output_error(error.to_string()))?;
    temp.0 = PathBuf::new(); // renamed: nothing left to remove
    // The rename is durable once the folder's entry is: without this a power loss can undo it.
    File::open(folder_of(output_path))
        .and_then(|folder| folder.sync_all())
        .map_err(|error| {
            output_error(format!(
                "written, but its folder could not be synced: {error}"
            ))
        })
}

/// A temporary file removed when dropped (an abandoned or failed write), unless its path was
/// cleared.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.0.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.0);
        }
    }
}

fn folder_of(output_path: &Path) -> &Path {
    output_path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// A fresh `.<name>.<pid>-<n>.tmp` beside `output_path`.
fn temp_path(output_path: &Path) -> Result<PathBuf, String> {
    static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);
    let file_name = output_path
        .file_name()
        .ok_or("the path does not end in a file name")?;
    Ok(folder_of(output_path).join(format!(
        ".{}.{}-{}.tmp",
        file_name.to_string_lossy(),
        std::process::id(),
        NEXT_TEMP.fetch_add(1, Ordering::Relaxed)
    )))
}

/// Removes, once per folder and process, the temporary files of processes that are gone: a process
/// killed while writing (SIGKILL, power loss) leaves its `.<name>.<pid>-<n>.tmp` files behind, and
/// the rerun that writes into the same folder clears them. Files of live processes are left alone.
fn remove_stale_temp_files(folder: &Path) {
    static SWEPT: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());
    let processes = Path::new("/proc");
    if !processes.join("self").exists() {
        return; // cannot tell live processes from dead ones
    }
    if !SWEPT
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(folder.to_path_buf())
    {
        return;
    }
    let Ok(entries) = fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let pid = entry.file_name().to_str().and_then(temp_file_pid);
        if pid.is_some_and(|pid| !processes.join(pid.to_string()).exists()) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The process id in a temporary file name `.<output name>.<pid>-<n>.tmp`.
fn temp_file_pid(name: &str) -> Option<u32> {
    let inner = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (_, pid_and_count) = inner.rsplit_once('.')?;
    let (pid, count) = pid_and_count.split_once('-')?;
    count.parse::<u64>().ok()?;
    pid.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::{Encoding, encode};

    fn scratch_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "kokoro-engine-output-{name}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_write_lands_whole_in_a_new_folder_and_leaves_no_temporary_file() {
        let dir = scratch_dir("write");
        let output = dir.join("nested/folder/word.bin");
        prepare_folder(&output).unwrap();
        assert!(
            names_in(output.parent().unwrap()).is_empty(),
            "the probe is gone"
        );
        write_atomically(&output, b"contents", || Ok(())).unwrap();
        assert_eq!(fs::read(&output).unwrap(), b"contents");
        assert_eq!(names_in(output.parent().unwrap()), ["word.bin"]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_abandoned_write_leaves_the_old_file_and_no_temporary_file() {
        let dir = scratch_dir("abandon");
        fs::create_dir_all(&dir).unwrap();
        let output = dir.join("kept.bin");
        fs::write(&output, b"old").unwrap();
        let abandoned = write_atomically(&output, b"new", || Err(TaskErrorKind::Cancelled));
        assert_eq!(abandoned, Err(TaskErrorKind::Cancelled));
        assert_eq!(fs::read(&output).unwrap(), b"old");
        assert_eq!(names_in(&dir), ["kept.bin"]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn temporary_files_of_dead_processes_are_removed_when_the_folder_is_next_prepared() {
        let dir = scratch_dir("stale");
        fs::create_dir_all(&dir).unwrap();
        let mut finished = std::process::Command::new("true").spawn().unwrap();
        finished.wait().unwrap();
        let dead = format!(".killed.wav.{}-3.tmp", finished.id());
        let ours = format!(".running.wav.{}-7.tmp", std::process::id());
        let other_live = ".init.wav.1-0.tmp";
        for name in [dead.as_str(), &ours, other_live, "notes.tmp", "kept.wav"] {
            fs::write(dir.join(name), b"").unwrap();
        }
        prepare_folder(&dir.join("new.wav")).unwrap();
        assert_eq!(
            names_in(&dir),
            [other_live, &ours, "kept.wav", "notes.tmp"],
            "only the dead process's temporary file is gone"
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn unwritable_places_fail_with_the_os_reason() {
        let dir = scratch_dir("unwritable");
        fs::create_dir_all(&dir).unwrap();
        let blocker = dir.join("a-file");
        fs::write(&blocker, b"x").unwrap();
        let message = prepare_folder(&blocker.join("child.wav"))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("child.wav") && message.contains("cannot create its folder"),
            "{message}"
        );
        let message = prepare_folder(&dir).unwrap_err().to_string();
        assert!(message.contains("is a directory"), "{message}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn existing_outputs_are_absent_complete_or_incomplete_with_the_reason() {
        let dir = scratch_dir("existing");
        fs::create_dir_all(&dir).unwrap();
        let wav = AudioFormat::Wav;
        assert_eq!(
            existing_output(&dir.join("none.wav"), wav),
            ExistingOutput::Absent
        );
        let tone: Vec<f32> = (0..2400).map(|i| (i as f32 * 0.05).sin() * 0.25).collect();
        let encoded = |format| {
            let encoding = Encoding::new(format, None, 24_000).unwrap();
            encode(&tone, &encoding, "").unwrap()
        };
        let whole = dir.join("whole.wav");
        write_atomically(&whole, &encoded(wav), || Ok(())).unwrap();
        assert_eq!(existing_output(&whole, wav), ExistingOutput::Complete);
        let whole_mp3 = dir.join("whole.mp3");
        write_atomically(&whole_mp3, &encoded(AudioFormat::Mp3), || Ok(())).unwrap();
        assert_eq!(
            existing_output(&whole_mp3, AudioFormat::Mp3),
            ExistingOutput::Complete
        );
        let empty = dir.join("empty.wav");
        fs::write(&empty, b"").unwrap();
        let bytes = fs::read(&whole).unwrap();
        let header_only = dir.join("header-only.wav");
        let data_start = bytes.windows(4).position(|id| id == b"data").unwrap() + 8;
        fs::write(&header_only, &bytes[..data_start]).unwrap();
        let cut = dir.join("cut.wav");
        fs::write(&cut, &bytes[..bytes.len() - 1]).unwrap();
        let not_mp3 = dir.join("not.mp3");
        fs::write(&not_mp3, b"plain text, not audio").unwrap();
        for (path, format, reason) in [
            (empty, wav, "not a complete WAV"),
            (header_only, wav, "cut short"),
            (cut, wav, "cut short"),
            (not_mp3, AudioFormat::Mp3, "not a complete mp3"),
        ] {
            let ExistingOutput::Incomplete(found) = existing_output(&path, format) else {
                panic!("{path:?} counts as complete")
            };
            assert!(found.contains(reason), "{path:?}: {found}");
        }
        fs::remove_dir_all(dir).unwrap();
    }
}
