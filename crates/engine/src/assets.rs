//! Where the assets live and whether they are intact.
//!
//! The folder is, in order: the path the caller gives, `$KOKORO_POOL_ASSETS`, or `<repo>/assets`
//! (the repository this crate was built in). The files pinned in the repository's
//! `assets.lock.json` (models, vocabulary, ONNX Runtime library) are checked against their SHA-256
//! digests, except the model file that is not loaded; a digest is computed once per
//! process for each (file, size, modification time), so a second engine on the same folder is free
//! and a replaced file is checked again.

use crate::error::EngineError;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

/// Environment variable naming the assets folder.
pub const ASSETS_ENV: &str = "KOKORO_POOL_ASSETS";

const MODEL_FILE: &str = "kokoro-v1.0.int8.onnx";
/// Derived from [`MODEL_FILE`] by `npm run fetch-assets` (`scripts/transform-model/`).
const SPEECH_WINDOW_MODEL_FILE: &str = "kokoro-v1.0.int8.speech-window.onnx";
const VOCAB_FILE: &str = "vocab.json";
const ORT_LIBRARY_FILE: &str = "onnxruntime/libonnxruntime.so.1.31.1";
const VOICES_DIR: &str = "voices";
const JA_DICT_DIR: &str = "ja-dict";

/// The repository's pins (`assets.lock.json`, `files`: path under the assets folder -> SHA-256),
/// shared with the fetch script so that both check the same bytes.
const ASSET_LOCK: &str = include_str!("../../../assets.lock.json");

/// (relative path, SHA-256) of every pinned file.
fn pinned_files() -> Result<Vec<(String, String)>, EngineError> {
    let lock_error = |detail: String| EngineError::AssetCorrupt {
        path: PathBuf::from("assets.lock.json"),
        detail,
    };
    let lock: serde_json::Value =
        serde_json::from_str(ASSET_LOCK).map_err(|error| lock_error(error.to_string()))?;
    let files = lock["files"]
        .as_object()
        .ok_or_else(|| lock_error("no \"files\" object".into()))?;
    files
        .iter()
        .map(|(path, digest)| match digest.as_str() {
            Some(digest) => Ok((path.clone(), digest.to_string())),
            None => Err(lock_error(format!("the digest of {path} is not a string"))),
        })
        .collect()
}

/// Which export of Kokoro-82M the engine loads. Both take tokens, style and speed and return
/// audio that the engine trims the same way (docs/silence.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ModelVariant {
    /// Decodes only the frames around the predicted speech, from 6 frames (150 ms) before it to 6
    /// after: ×1.3 items/s on single words, but less intelligible on clips under 1 s (issue 18's
    /// paired Whisper check), so it is not the default.
    SpeechWindow,
    /// The int8 export as published: decodes every frame, silence included.
    #[default]
    Untouched,
}

impl ModelVariant {
    /// The name callers use: `speech-window` or `untouched`.
    pub fn name(self) -> &'static str {
        match self {
            ModelVariant::SpeechWindow => "speech-window",
            ModelVariant::Untouched => "untouched",
        }
    }

    /// The SHA-256 pinned for this model's file in `assets.lock.json`: the digest of the file the
    /// engine loads, which [`AssetPaths::verify`] checked.
    pub fn pinned_sha256(self) -> Result<String, EngineError> {
        pinned_files()?
            .into_iter()
            .find(|(path, _)| path == self.file_name())
            .map(|(_, digest)| digest)
            .ok_or_else(|| EngineError::AssetCorrupt {
                path: PathBuf::from("assets.lock.json"),
                detail: format!("no digest for {}", self.file_name()),
            })
    }

    fn file_name(self) -> &'static str {
        match self {
            ModelVariant::SpeechWindow => SPEECH_WINDOW_MODEL_FILE,
            ModelVariant::Untouched => MODEL_FILE,
        }
    }
}

impl std::str::FromStr for ModelVariant {
    type Err = String;

    fn from_str(name: &str) -> Result<ModelVariant, String> {
        [ModelVariant::SpeechWindow, ModelVariant::Untouched]
            .into_iter()
            .find(|variant| variant.name() == name)
            .ok_or_else(|| {
                format!("unknown model {name:?}: use \"speech-window\" or \"untouched\"")
            })
    }
}

/// The paths of every asset under one assets folder.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AssetPaths {
    root: PathBuf,
}

impl AssetPaths {
    /// The assets folder: `explicit` if given, else `$KOKORO_POOL_ASSETS`, else `<repo>/assets`.
    pub fn resolve(explicit: Option<&Path>) -> AssetPaths {
        let root = match explicit {
            Some(dir) => dir.to_path_buf(),
            None => match std::env::var_os(ASSETS_ENV) {
                Some(dir) if !dir.is_empty() => PathBuf::from(dir),
                _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets"),
            },
        };
        AssetPaths { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn model(&self, variant: ModelVariant) -> PathBuf {
        self.root.join(variant.file_name())
    }

    pub fn vocab(&self) -> PathBuf {
        self.root.join(VOCAB_FILE)
    }

    pub fn ort_library(&self) -> PathBuf {
        self.root.join(ORT_LIBRARY_FILE)
    }

    pub fn voices_dir(&self) -> PathBuf {
        self.root.join(VOICES_DIR)
    }

    /// The jpreprocess dictionary that `ja-g2p` reads.
    pub fn ja_dict_dir(&self) -> PathBuf {
        self.root.join(JA_DICT_DIR)
    }

    /// Checks that every asset that loading `model` needs exists and that the pinned ones are
    /// intact. The other model file is neither required nor read.
    pub fn verify(&self, model: ModelVariant) -> Result<(), EngineError> {
        for required in [model.file_name(), VOCAB_FILE, ORT_LIBRARY_FILE] {
            if !self.root.join(required).is_file() {
                return Err(EngineError::AssetMissing {
                    path: self.root.join(required),
                });
            }
        }
        let is_other_model = |path: &str| {
            [MODEL_FILE, SPEECH_WINDOW_MODEL_FILE].contains(&path) && path != model.file_name()
        };
        for (relative_path, sha256) in pinned_files()? {
            if is_other_model(&relative_path) {
                continue;
            }
            verify_pinned(&self.root.join(relative_path), &sha256)?;
        }
        for dir in [self.voices_dir(), self.ja_dict_dir()] {
            let is_non_empty_dir =
                fs::read_dir(&dir).is_ok_and(|mut entries| entries.next().is_some());
            if !is_non_empty_dir {
                return Err(EngineError::AssetMissing { path: dir });
            }
        }
        Ok(())
    }
}

/// Identity of one version of a file: a digest computed for it stays valid.
type FileVersion = (PathBuf, u64, Option<SystemTime>);

fn digest_cache() -> &'static Mutex<HashMap<FileVersion, String>> {
    static CACHE: OnceLock<Mutex<HashMap<FileVersion, String>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

fn verify_pinned(path: &Path, expected_sha256: &str) -> Result<(), EngineError> {
    let metadata = match fs::metadata(path) {
        Ok(metadata) if metadata.is_file() => metadata,
        Ok(_) => {
            return Err(EngineError::AssetMissing {
                path: path.to_path_buf(),
            });
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(EngineError::AssetMissing {
                path: path.to_path_buf(),
            });
        }
        Err(error) => return Err(unreadable(path, &error)),
    };
    let version: FileVersion = (path.to_path_buf(), metadata.len(), metadata.modified().ok());
    let cached = digest_cache()
        .lock()
        .ok()
        .and_then(|cache| cache.get(&version).cloned());
    let digest = match cached {
        Some(digest) => digest,
        None => {
            let digest = sha256_hex(path).map_err(|error| unreadable(path, &error))?;
            if let Ok(mut cache) = digest_cache().lock() {
                cache.insert(version, digest.clone());
            }
            digest
        }
    };
    if digest != expected_sha256 {
        return Err(EngineError::AssetCorrupt {
            path: path.to_path_buf(),
            detail: format!("SHA-256 {digest}, expected {expected_sha256}"),
        });
    }
    Ok(())
}

fn unreadable(path: &Path, error: &std::io::Error) -> EngineError {
    EngineError::AssetUnreadable {
        path: path.to_path_buf(),
        cause: error.to_string(),
    }
}

fn sha256_hex(path: &Path) -> std::io::Result<String> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom, Write};

    /// A scratch assets folder: symbolic links to the real assets, so one file can be replaced.
    fn linked_copy_of_assets(name: &str) -> (PathBuf, AssetPaths) {
        let real = AssetPaths::resolve(None);
        real.verify(ModelVariant::SpeechWindow)
            .and_then(|()| real.verify(ModelVariant::Untouched))
            .expect("the real assets must be intact for this test");
        let dir = std::env::temp_dir().join(format!(
            "kokoro-engine-assets-{name}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("onnxruntime")).unwrap();
        for relative in [
            MODEL_FILE,
            SPEECH_WINDOW_MODEL_FILE,
            VOCAB_FILE,
            ORT_LIBRARY_FILE,
            VOICES_DIR,
            JA_DICT_DIR,
        ] {
            let real_path = fs::canonicalize(real.root().join(relative)).unwrap();
            std::os::unix::fs::symlink(real_path, dir.join(relative)).unwrap();
        }
        let paths = AssetPaths::resolve(Some(&dir));
        (dir, paths)
    }

    #[test]
    fn the_lock_pins_the_model_the_vocab_and_the_runtime() {
        let pinned: Vec<String> = pinned_files()
            .unwrap()
            .into_iter()
            .map(|(path, _)| path)
            .collect();
        for required in [
            MODEL_FILE,
            SPEECH_WINDOW_MODEL_FILE,
            VOCAB_FILE,
            ORT_LIBRARY_FILE,
        ] {
            assert!(
                pinned.iter().any(|path| path == required),
                "{required} not pinned: {pinned:?}"
            );
        }
    }

    #[test]
    fn real_assets_are_intact() {
        let paths = AssetPaths::resolve(None);
        paths.verify(ModelVariant::SpeechWindow).unwrap();
        paths.verify(ModelVariant::Untouched).unwrap();
    }

    #[test]
    fn model_variants_have_names() {
        for variant in [ModelVariant::SpeechWindow, ModelVariant::Untouched] {
            assert_eq!(variant.name().parse::<ModelVariant>(), Ok(variant));
        }
        let message = "float32".parse::<ModelVariant>().unwrap_err();
        assert!(message.contains("\"float32\""), "{message}");
    }

    #[test]
    fn missing_model_names_the_file_and_the_fetch_command() {
        let (dir, paths) = linked_copy_of_assets("missing");
        fs::remove_file(paths.model(ModelVariant::Untouched)).unwrap();
        let message = paths
            .verify(ModelVariant::Untouched)
            .unwrap_err()
            .to_string();
        assert!(message.contains(MODEL_FILE), "{message}");
        assert!(message.contains("is missing"), "{message}");
        assert!(message.contains("run `npm run fetch-assets`"), "{message}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn only_the_loaded_model_is_required() {
        let (dir, paths) = linked_copy_of_assets("speech-window");
        fs::remove_file(paths.model(ModelVariant::SpeechWindow)).unwrap();
        paths.verify(ModelVariant::Untouched).unwrap();
        let message = paths
            .verify(ModelVariant::SpeechWindow)
            .unwrap_err()
            .to_string();
        assert!(message.contains(SPEECH_WINDOW_MODEL_FILE), "{message}");
        assert!(message.contains("is missing"), "{message}");
        assert!(message.contains("run `npm run fetch-assets`"), "{message}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn one_flipped_byte_in_the_model_is_detected() {
        let (dir, paths) = linked_copy_of_assets("flipped");
        let model = paths.model(ModelVariant::Untouched);
        let real_model = fs::canonicalize(&model).unwrap();
        fs::remove_file(&model).unwrap();
        fs::copy(real_model, &model).unwrap();
        let mut file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&model)
            .unwrap();
        let middle = 92_361_271 / 2;
        let mut byte = [0u8; 1];
        file.seek(SeekFrom::Start(middle)).unwrap();
        file.read_exact(&mut byte).unwrap();
        file.seek(SeekFrom::Start(middle)).unwrap();
        file.write_all(&[byte[0] ^ 0x01]).unwrap();
        drop(file);
        let message = paths
            .verify(ModelVariant::Untouched)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains(MODEL_FILE) && message.contains("is corrupt"),
            "{message}"
        );
        assert!(message.contains("run `npm run fetch-assets`"), "{message}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn truncated_vocab_is_detected() {
        let (dir, paths) = linked_copy_of_assets("vocab");
        fs::remove_file(paths.vocab()).unwrap();
        fs::write(paths.vocab(), b"{\"vocab\": {}}").unwrap();
        let message = paths
            .verify(ModelVariant::default())
            .unwrap_err()
            .to_string();
        assert!(
            message.contains(VOCAB_FILE) && message.contains("SHA-256"),
            "{message}"
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn missing_voices_folder_is_named() {
        let (dir, paths) = linked_copy_of_assets("voices");
        fs::remove_file(paths.voices_dir()).unwrap();
        let message = paths
            .verify(ModelVariant::default())
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("voices") && message.contains("fetch-assets"),
            "{message}"
        );
        fs::remove_dir_all(dir).unwrap();
    }
}
