//! Where a file is written (its bytes come from `render.rs`), into a temporary file beside the output that is
//! renamed over it when complete, so a reader never sees half a file.
//!
//! The temporary file is created when the task starts, before any inference: a missing parent folder
//! is created then (course folders are made on demand), and an unwritable place fails the task at
//! once with the operating system's reason instead of after seconds of inference.

use crate::error::TaskErrorKind;
use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// A WAV output being produced. Dropped before [`PendingWav::commit`], it removes its temporary file.
#[derive(Debug)]
pub(crate) struct PendingWav {
    output_path: PathBuf,
    temp_path: PathBuf,
    file: Option<File>,
}

impl PendingWav {
    /// Creates the parent folder if needed and a fresh temporary file next to `output_path`.
    pub(crate) fn create(output_path: &Path) -> Result<PendingWav, TaskErrorKind> {
        let output_error = |cause: String| TaskErrorKind::Output {
            path: output_path.to_path_buf(),
            cause,
        };
        let file_name = output_path
            .file_name()
            .ok_or_else(|| output_error("the path does not end in a file name".into()))?;
        if output_path.is_dir() {
            return Err(output_error("it is a directory".into()));
        }
        let parent = output_path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(parent)
            .map_err(|error| output_error(format!("cannot create its folder: {error}")))?;
        remove_stale_temp_files(parent);
        static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);
        let temp_name = format!(
            ".{}.{}-{}.tmp",
            file_name.to_string_lossy(),
            std::process::id(),
            NEXT_TEMP.fetch_add(1, Ordering::Relaxed)
        );
        let temp_path = parent.join(temp_name);
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&temp_path)
            .map_err(|error| output_error(error.to_string()))?;
        Ok(PendingWav {
            output_path: output_path.to_path_buf(),
            temp_path,
            file: Some(file),
        })
    }

    /// Writes `bytes` (a whole file, from `encode.rs`) and renames the file into place.
    pub(crate) fn commit(mut self, bytes: &[u8]) -> Result<(), TaskErrorKind> {
        let output_error = |cause: String| TaskErrorKind::Output {
            path: self.output_path.clone(),
            cause,
        };
        let mut file = self
            .file
            .take()
            .ok_or_else(|| output_error("the temporary file is gone".into()))?;
        file.write_all(bytes)
            .map_err(|error| output_error(error.to_string()))?;
        fs::rename(&self.temp_path, &self.output_path)
            .map_err(|error| output_error(error.to_string()))?;
        self.temp_path = PathBuf::new();
        Ok(())
    }
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

impl Drop for PendingWav {
    fn drop(&mut self) {
        if !self.temp_path.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.temp_path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("kokoro-engine-wav-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn writes_the_file_into_a_new_folder_and_leaves_nothing_else() {
        let dir = scratch_dir("write");
        let output = dir.join("nested/folder/word.wav");
        let bytes: Vec<u8> = (0..=255).collect();
        PendingWav::create(&output).unwrap().commit(&bytes).unwrap();
        assert_eq!(fs::read(&output).unwrap(), bytes);
        let leftovers: Vec<_> = fs::read_dir(output.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "only the file remains: {leftovers:?}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_abandoned_output_leaves_no_temporary_file() {
        let dir = scratch_dir("abandon");
        let output = dir.join("never.wav");
        drop(PendingWav::create(&output).unwrap());
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        assert!(!output.exists());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn temporary_files_of_dead_processes_are_removed_when_the_folder_is_next_written() {
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
        PendingWav::create(&dir.join("new.wav"))
            .unwrap()
            .commit(b"RIFF")
            .unwrap();
        let mut left: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [other_live, &ours, "kept.wav", "new.wav", "notes.tmp"],
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
        let message = PendingWav::create(&blocker.join("child.wav"))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("child.wav") && message.contains("cannot create its folder"),
            "{message}"
        );
        let message = PendingWav::create(&dir).unwrap_err().to_string();
        assert!(message.contains("is a directory"), "{message}");
        fs::remove_dir_all(dir).unwrap();
    }
}
