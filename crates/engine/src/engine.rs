//! The engine: verified assets, the vocabulary, the voices, the one model and the Japanese
//! analyser, shared by every pool and task (`Arc<Engine>`).

use crate::assets::{AssetPaths, ModelVariant};
use crate::error::{EngineError, TaskErrorKind};
use crate::inference::{Model, SessionSharing};
use crate::layout::InferenceLayout;
use crate::vocab::Vocab;
use crate::voices::VoiceStore;
use ja_g2p::{G2pError, JaG2p, UserDictionary};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// How to build an [`Engine`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineOptions {
    /// The assets folder, already decided (by [`crate::assets::locate`] or the caller).
    pub assets_dir: PathBuf,
    /// Default: [`ModelVariant::Untouched`].
    pub model: ModelVariant,
    pub layout: InferenceLayout,
    pub sharing: SessionSharing,
}

impl EngineOptions {
    /// The defaults (untouched model, automatic layout) on the assets in `assets_dir`.
    pub fn new(assets_dir: impl Into<PathBuf>) -> EngineOptions {
        EngineOptions {
            assets_dir: assets_dir.into(),
            model: ModelVariant::default(),
            layout: InferenceLayout::automatic(),
            sharing: SessionSharing::default(),
        }
    }
}

pub struct Engine {
    assets: AssetPaths,
    pub(crate) layout: InferenceLayout,
    pub(crate) vocab: Vocab,
    pub(crate) voices: VoiceStore,
    pub(crate) model: Model,
    model_variant: ModelVariant,
    /// The Japanese analysers, one per user dictionary in use (`None`: none), each loaded on the
    /// first text it phonemizes (a pool given only phonemes never pays for the ~77 MB dictionary)
    /// unless loaded with the model ([`Engine::shared_with_analyser`]).
    /// A list, not a map: finding one compares the dictionaries without cloning the task's.
    g2p: Mutex<Vec<(Option<UserDictionary>, Arc<JaG2p>)>>,
}

impl Engine {
    /// The engine for `options`: the one already alive in this process for the same assets folder,
    /// model and layout, else a newly loaded one. Pools that share it share one model.
    pub fn shared(options: &EngineOptions) -> Result<Arc<Engine>, EngineError> {
        Engine::shared_loading(options, Engine::load)
    }

    /// [`Engine::shared`] for a pool that will analyse text with the `user` dictionary: when the
    /// engine has to be loaded, that analyser is loaded at the same time on another thread, so
    /// that the dictionary (~0.25 s) does not delay the first task after the model is ready.
    pub fn shared_with_analyser(
        options: &EngineOptions,
        user: Option<&UserDictionary>,
    ) -> Result<Arc<Engine>, EngineError> {
        Engine::shared_loading(options, |options| Engine::load_with_analyser(options, user))
    }

    fn shared_loading(
        options: &EngineOptions,
        load: impl FnOnce(&EngineOptions) -> Result<Arc<Engine>, EngineError>,
    ) -> Result<Arc<Engine>, EngineError> {
        type Key = (PathBuf, ModelVariant, InferenceLayout, SessionSharing);
        static ALIVE: OnceLock<Mutex<HashMap<Key, Weak<Engine>>>> = OnceLock::new();
        let root = &options.assets_dir;
        let key = (
            std::fs::canonicalize(root).unwrap_or_else(|_| root.clone()),
            options.model,
            options.layout,
            options.sharing,
        );
        // Held while loading, so that concurrent first calls load one model.
        let mut alive = ALIVE
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        alive.retain(|_, engine| engine.strong_count() > 0);
        if let Some(engine) = alive.get(&key).and_then(Weak::upgrade) {
            return Ok(engine);
        }
        let engine = load(options)?;
        alive.insert(key, Arc::downgrade(&engine));
        Ok(engine)
    }

    /// [`Engine::load`] with the analyser for the `user` dictionary loaded alongside, on another
    /// thread. A dictionary that fails to load is left to the first task that needs it, whose error
    /// names the task.
    pub fn load_with_analyser(
        options: &EngineOptions,
        user: Option<&UserDictionary>,
    ) -> Result<Arc<Engine>, EngineError> {
        let dict_dir = AssetPaths::new(&options.assets_dir).ja_dict_dir();
        let (engine, analyser) = std::thread::scope(|scope| {
            let analyser = scope.spawn(|| load_analyser(dict_dir, user));
            (Engine::load(options), analyser.join())
        });
        let engine = engine?;
        if let Ok(Ok(analyser)) = analyser {
            engine
                .g2p
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push((user.cloned(), Arc::new(analyser)));
        }
        Ok(engine)
    }

    /// Verifies the assets and loads the model (about a second; blocking).
    pub fn load(options: &EngineOptions) -> Result<Arc<Engine>, EngineError> {
        options.layout.validate()?;
        let assets = AssetPaths::new(&options.assets_dir);
        assets.verify(options.model)?;
        let vocab = Vocab::load(&assets.vocab())?;
        let voices_dir = assets.voices_dir();
        let voices =
            VoiceStore::open(&voices_dir).map_err(|error| EngineError::AssetUnreadable {
                path: voices_dir.clone(),
                cause: error.to_string(),
            })?;
        if voices.names().is_empty() {
            return Err(EngineError::AssetMissing {
                path: voices_dir.join("*.bin"),
            });
        }
        let model = Model::load(&assets, options.model, options.layout, options.sharing)?;
        Ok(Arc::new(Engine {
            assets,
            layout: options.layout,
            vocab,
            voices,
            model,
            model_variant: options.model,
            g2p: Mutex::new(Vec::new()),
        }))
    }

    pub fn assets(&self) -> &AssetPaths {
        &self.assets
    }

    /// The model this engine runs (what a file's fingerprint names).
    pub fn model_variant(&self) -> ModelVariant {
        self.model_variant
    }

    /// Samples the model has returned since this engine was loaded, before trimming: 600 per
    /// decoded frame. Decoded frames are what inference time grows with.
    pub fn decoded_samples(&self) -> u64 {
        self.model.decoded_samples()
    }

    /// Names of the available voices (`<assets>/voices/*.bin`), sorted.
    pub fn voices(&self) -> &[String] {
        self.voices.names()
    }

    /// Japanese text to Kokoro phonemes with this engine's analyser and the author's `user`
    /// dictionary (loaded on first use; a failed load is tried again on the next call). The one
    /// place where the engine calls the G2P (with [`Engine::align`]).
    pub fn phonemize(
        &self,
        text: &str,
        user: Option<&UserDictionary>,
    ) -> Result<String, TaskErrorKind> {
        self.analyser(user)?.phonemize(text).map_err(g2p_error)
    }

    /// As [`Engine::phonemize`], with which characters of `text` became which words, morae and
    /// phonemes (what timings need).
    pub fn align(
        &self,
        text: &str,
        user: Option<&UserDictionary>,
    ) -> Result<ja_g2p::Alignment, TaskErrorKind> {
        self.analyser(user)?.align(text).map_err(g2p_error)
    }

    fn analyser(&self, user: Option<&UserDictionary>) -> Result<Arc<JaG2p>, TaskErrorKind> {
        // Held while loading, so that concurrent first calls load the dictionary once.
        let mut loaded = self
            .g2p
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((_, g2p)) = loaded.iter().find(|(key, _)| key.as_ref() == user) {
            return Ok(g2p.clone());
        }
        let g2p = Arc::new(load_analyser(self.assets.ja_dict_dir(), user).map_err(g2p_error)?);
        loaded.push((user.cloned(), g2p.clone()));
        Ok(g2p)
    }
}

/// Japanese text to Kokoro phonemes with the dictionary in `assets` and the author's `user`
/// dictionary, without an engine: for checks made before or without a pool (the process-wide
/// analysers of [`JaG2p::shared_with`]).
pub(crate) fn phonemize_with(
    assets: &AssetPaths,
    text: &str,
    user: Option<&UserDictionary>,
) -> Result<String, TaskErrorKind> {
    let g2p = JaG2p::shared_with(assets.ja_dict_dir(), user).map_err(g2p_error)?;
    g2p.phonemize(text).map_err(g2p_error)
}

fn load_analyser(dict_dir: PathBuf, user: Option<&UserDictionary>) -> Result<JaG2p, G2pError> {
    match user {
        Some(user) => JaG2p::with_user_dictionary(dict_dir, user),
        None => JaG2p::load(dict_dir),
    }
}

fn g2p_error(error: G2pError) -> TaskErrorKind {
    match error {
        G2pError::EmptyText => TaskErrorKind::EmptyText,
        G2pError::NothingSpeakable { text } => TaskErrorKind::NothingSpeakable {
            detail: format!("no character of {text:?} has a Japanese reading"),
        },
        other => TaskErrorKind::Phonemize {
            cause: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_without_assets_is_named_with_the_fetch_command() {
        let options = EngineOptions::new("/nonexistent/assets");
        let message = Engine::load(&options).err().unwrap().to_string();
        assert!(
            message.contains("/nonexistent/assets/kokoro-v1.0.int8.onnx"),
            "{message}"
        );
        assert!(
            message.contains("run `npx kokoro-pool fetch-assets`"),
            "{message}"
        );
    }

    #[test]
    fn a_bad_layout_is_refused_before_anything_loads() {
        let options = EngineOptions {
            layout: InferenceLayout {
                slots: 0,
                threads_per_slot: 1,
            },
            ..EngineOptions::new("/nonexistent/assets")
        };
        assert!(matches!(
            Engine::load(&options),
            Err(EngineError::InvalidLayout(_))
        ));
    }

    #[test]
    fn shared_returns_the_live_engine_for_the_same_options() {
        let options = EngineOptions {
            layout: InferenceLayout {
                slots: 1,
                threads_per_slot: 1,
            },
            ..crate::test_support::engine_options()
        };
        let first = Engine::shared(&options).unwrap();
        assert!(Arc::ptr_eq(&first, &Engine::shared(&options).unwrap()));
        let other_layout = EngineOptions {
            layout: InferenceLayout {
                slots: 2,
                threads_per_slot: 1,
            },
            ..options.clone()
        };
        assert!(!Arc::ptr_eq(
            &first,
            &Engine::shared(&other_layout).unwrap()
        ));
        let other_model = EngineOptions {
            model: ModelVariant::SpeechWindow,
            ..options.clone()
        };
        assert!(!Arc::ptr_eq(&first, &Engine::shared(&other_model).unwrap()));
    }

    #[test]
    fn phonemize_uses_the_dictionary_and_reports_empty_text() {
        let engine = crate::test_support::engine();
        assert_eq!(engine.phonemize("食べる", None).unwrap(), "tabeɾɯ");
        assert_eq!(engine.phonemize("  ", None), Err(TaskErrorKind::EmptyText));
        assert!(engine.voices().contains(&"jf_alpha".to_string()));
    }

    #[test]
    fn the_analyser_for_the_pools_dictionary_is_ready_when_the_engine_is() {
        let user = UserDictionary::parse(
            std::path::Path::new("course/dictionary.csv"),
            "生物,なまもの\n",
        )
        .unwrap();
        let options = EngineOptions {
            layout: InferenceLayout {
                slots: 1,
                threads_per_slot: 1,
            },
            ..crate::test_support::engine_options()
        };
        let engine = Engine::load_with_analyser(&options, Some(&user)).unwrap();
        let loaded = |engine: &Engine| {
            engine
                .g2p
                .lock()
                .unwrap()
                .iter()
                .map(|(key, _)| key.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(loaded(&engine), [Some(user.clone())]);
        // The preloaded analyser is the one used: the author's reading, nothing loaded again.
        assert_eq!(engine.phonemize("生物", Some(&user)).unwrap(), "namamono");
        assert_eq!(loaded(&engine), [Some(user)]);
    }
}
