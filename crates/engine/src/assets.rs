//! Where the assets live and whether they are intact.
//!
//! [`locate`] is the one place that decides the folder, at run time (nothing about the build
//! machine is compiled in, so a `.node` that is copied, packed or prebuilt finds its assets).
//! The files pinned in the repository's
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

/// Per-user cache folder under `$XDG_CACHE_HOME` (else `~/.cache`), as Playwright and Puppeteer
/// keep their browsers: `<cache>/kokoro-pool/<asset-set version>`.
const CACHE_FOLDER: &str = "kokoro-pool";

const MODEL_FILE: &str = "kokoro-v1.0.int8.onnx";
/// Derived from [`MODEL_FILE`] by `npx kokoro-pool fetch-assets` (`scripts/transform-model/`).
const SPEECH_WINDOW_MODEL_FILE: &str = "kokoro-v1.0.int8.speech-window.onnx";
const VOCAB_FILE: &str = "vocab.json";
const ORT_LIBRARY_FILE: &str = "onnxruntime/libonnxruntime.so.1.31.1";
const VOICES_DIR: &str = "voices";
const JA_DICT_DIR: &str = "ja-dict";
/// ONNX Runtime's optimised graphs of the models (`graph_cache`).
const GRAPH_CACHE_DIR: &str = "cache/graphs";

/// The repository's pins (`assets.lock.json`, `files`: path under the assets folder -> SHA-256),
/// shared with the fetch script so that both check the same bytes.
const ASSET_LOCK: &str = include_str!("../../../assets.lock.json");

fn lock_error(detail: String) -> EngineError {
    EngineError::AssetCorrupt {
        path: PathBuf::from("assets.lock.json"),
        detail,
    }
}

fn asset_lock() -> Result<serde_json::Value, EngineError> {
    serde_json::from_str(ASSET_LOCK).map_err(|error| lock_error(error.to_string()))
}

/// The version of the pinned asset set (`assets.lock.json`, `version`): names its cache folder, so
/// that a new set never mixes with an old one.
pub fn asset_set_version() -> Result<String, EngineError> {
    asset_lock()?["version"]
        .as_str()
        .filter(|version| {
            !version.is_empty()
                && version
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        })
        .map(str::to_string)
        .ok_or_else(|| lock_error("no \"version\" usable as a folder name".into()))
}

/// The assets folder, decided at run time. The first that applies:
/// 1. `explicit` (the `assetsDir` option);
/// 2. `$KOKORO_POOL_ASSETS`;
/// 3. the per-user cache `$XDG_CACHE_HOME/kokoro-pool/<asset-set version>` (else `~/.cache/...`)
///    when it exists (`fetch-assets` has put assets there);
/// 4. `<checkout>/assets` when the current folder is inside a kokoro-pool source checkout
///    (developing here: tests, the CLI and the benchmarks use the repository's own assets);
/// 5. the per-user cache, where `fetch-assets` puts them.
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, EngineError> {
    let cache = user_cache_dir()
        .join(CACHE_FOLDER)
        .join(asset_set_version()?);
    Ok(choose_assets_dir(
        explicit,
        std::env::var_os(ASSETS_ENV).map(PathBuf::from),
        cache,
        std::env::current_dir().ok().as_deref(),
    ))
}

/// [`locate`]'s rule, on given inputs.
fn choose_assets_dir(
    explicit: Option<&Path>,
    from_env: Option<PathBuf>,
    cache: PathBuf,
    current_dir: Option<&Path>,
) -> PathBuf {
    if let Some(dir) = explicit {
        return dir.to_path_buf();
    }
    if let Some(dir) = from_env.filter(|dir| !dir.as_os_str().is_empty()) {
        return dir;
    }
    if cache.is_dir() {
        return cache;
    }
    current_dir
        .and_then(|dir| dir.ancestors().find(|dir| is_source_checkout(dir)))
        .map_or(cache, |checkout| checkout.join("assets"))
}

/// `$XDG_CACHE_HOME` (absolute, as the XDG spec requires), else `$HOME/.cache`, else the temp folder.
fn user_cache_dir() -> PathBuf {
    let absolute = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|dir| dir.is_absolute())
    };
    absolute("XDG_CACHE_HOME")
        .or_else(|| absolute("HOME").map(|home| home.join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
}

/// A kokoro-pool source checkout: the lock file and the engine crate side by side.
fn is_source_checkout(dir: &Path) -> bool {
    dir.join("assets.lock.json").is_file() && dir.join("crates/engine/Cargo.toml").is_file()
}

/// (relative path, SHA-256) of every pinned file.
fn pinned_files() -> Result<Vec<(String, String)>, EngineError> {
    let lock = asset_lock()?;
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

    fn file_name(self) -> &'static str {
        match self {
            ModelVariant::SpeechWindow => SPEECH_WINDOW_MODEL_FILE,
            ModelVariant::Untouched => MODEL_FILE,
        }
    }

    /// The SHA-256 pinned for this model's file in `assets.lock.json`: what
    /// [`AssetPaths::verify`] checks it against, and what a file's fingerprint names.
    pub fn pinned_sha256(self) -> Result<String, EngineError> {
        pinned_files()?
            .into_iter()
            .find(|(path, _)| path == self.file_name())
            .map(|(_, digest)| digest)
            .ok_or_else(|| EngineError::AssetCorrupt {
                path: PathBuf::from("assets.lock.json"),
                detail: format!("{} is not pinned", self.file_name()),
            })
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
    /// The assets in `root`, a folder already decided (by [`locate`] or the caller).
    pub fn new(root: impl Into<PathBuf>) -> AssetPaths {
        AssetPaths { root: root.into() }
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

    /// Where the models' optimised graphs are cached; made by the engine, not fetched.
    pub fn graph_cache_dir(&self) -> PathBuf {
        self.root.join(GRAPH_CACHE_DIR)
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

pub(crate) fn sha256_hex(path: &Path) -> std::io::Result<String> {
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
pub(crate) mod tests {
    use super::*;
    use crate::test_support::real_assets;
    use std::io::{Seek, SeekFrom, Write};

    /// A scratch assets folder: symbolic links to the real assets, so one file can be replaced.
    pub(crate) fn linked_copy_of_assets(name: &str) -> (PathBuf, AssetPaths) {
        let real = real_assets();
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
        let paths = AssetPaths::new(&dir);
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
    fn the_assets_folder_is_decided_at_run_time_in_order() {
        let scratch =
            std::env::temp_dir().join(format!("kokoro-engine-locate-{}", std::process::id()));
        let _ = fs::remove_dir_all(&scratch);
        let checkout = scratch.join("checkout");
        fs::create_dir_all(checkout.join("crates/engine/src")).unwrap();
        fs::write(checkout.join("crates/engine/Cargo.toml"), "").unwrap();
        fs::write(checkout.join("assets.lock.json"), ASSET_LOCK).unwrap();
        let inside = checkout.join("crates/engine/src");
        let cache = scratch.join("cache/kokoro-pool/1");
        let explicit = scratch.join("explicit");
        let from_env = scratch.join("from-env");
        let choose = |explicit: Option<&Path>, from_env: Option<&Path>, current_dir: &Path| {
            choose_assets_dir(
                explicit,
                from_env.map(Path::to_path_buf),
                cache.clone(),
                Some(current_dir),
            )
        };
        assert_eq!(choose(Some(&explicit), Some(&from_env), &inside), explicit);
        assert_eq!(choose(None, Some(&from_env), &inside), from_env);
        assert_eq!(
            choose(None, Some(Path::new("")), &inside),
            checkout.join("assets")
        );
        // No cache yet: a checkout uses its own assets, anywhere else the cache is the place.
        assert_eq!(choose(None, None, &inside), checkout.join("assets"));
        assert_eq!(choose(None, None, &scratch), cache);
        fs::create_dir_all(&cache).unwrap();
        assert_eq!(choose(None, None, &inside), cache);
        fs::remove_dir_all(scratch).unwrap();
    }

    #[test]
    fn the_asset_set_has_a_version_that_names_a_folder() {
        let version = asset_set_version().unwrap();
        assert!(
            !version.contains('/') && !version.starts_with('.'),
            "{version}"
        );
    }

    #[test]
    fn real_assets_are_intact() {
        let paths = real_assets();
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
        assert!(
            message.contains("run `npx kokoro-pool fetch-assets`"),
            "{message}"
        );
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
        assert!(
            message.contains("run `npx kokoro-pool fetch-assets`"),
            "{message}"
        );
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
        assert!(
            message.contains("run `npx kokoro-pool fetch-assets`"),
            "{message}"
        );
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
