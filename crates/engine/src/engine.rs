//! The engine: verified assets, the vocabulary, the voices and the one model, shared by every pool
//! and task (`Arc<Engine>`).

use crate::assets::{AssetPaths, ModelVariant};
use crate::error::{EngineError, TaskErrorKind};
use crate::inference::{InferenceLayout, Model, SessionSharing};
use crate::vocab::Vocab;
use crate::voices::VoiceStore;
use ja_g2p::{G2pError, JaG2p};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// How to build an [`Engine`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineOptions {
    /// The assets folder; `None`: `$KOKORO_POOL_ASSETS`, else `<repo>/assets`.
    pub assets_dir: Option<PathBuf>,
    /// Default: [`ModelVariant::Untouched`].
    pub model: ModelVariant,
    pub layout: InferenceLayout,
    pub sharing: SessionSharing,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            assets_dir: None,
            model: ModelVariant::default(),
            layout: InferenceLayout::automatic(),
            sharing: SessionSharing::default(),
        }
    }
}

pub struct Engine {
    assets: AssetPaths,
    model_variant: ModelVariant,
    layout: InferenceLayout,
    sharing: SessionSharing,
    pub(crate) vocab: Vocab,
    pub(crate) voices: VoiceStore,
    pub(crate) model: Model,
}

impl Engine {
    /// The engine for `options`: the one already alive in this process for the same assets folder,
    /// model and layout, else a newly loaded one. Pools that share it share one model.
    pub fn shared(options: &EngineOptions) -> Result<Arc<Engine>, EngineError> {
        type Key = (PathBuf, ModelVariant, InferenceLayout, SessionSharing);
        static ALIVE: OnceLock<Mutex<HashMap<Key, Weak<Engine>>>> = OnceLock::new();
        let root = AssetPaths::resolve(options.assets_dir.as_deref())
            .root()
            .to_path_buf();
        let key = (
            std::fs::canonicalize(&root).unwrap_or(root),
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
        let engine = Engine::load(options)?;
        alive.insert(key, Arc::downgrade(&engine));
        Ok(engine)
    }

    /// Verifies the assets and loads the model (about a second; blocking).
    pub fn load(options: &EngineOptions) -> Result<Arc<Engine>, EngineError> {
        options.layout.validate()?;
        let assets = AssetPaths::resolve(options.assets_dir.as_deref());
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
            model_variant: options.model,
            layout: options.layout,
            sharing: options.sharing,
            vocab,
            voices,
            model,
        }))
    }

    pub fn assets(&self) -> &AssetPaths {
        &self.assets
    }

    pub fn model_variant(&self) -> ModelVariant {
        self.model_variant
    }

    /// Samples the model has returned since this engine was loaded, before trimming: 600 per
    /// decoded frame. Decoded frames are what inference time grows with.
    pub fn decoded_samples(&self) -> u64 {
        self.model.decoded_samples()
    }

    pub fn layout(&self) -> InferenceLayout {
        self.layout
    }

    pub fn sharing(&self) -> SessionSharing {
        self.sharing
    }

    /// Names of the available voices (`<assets>/voices/*.bin`), sorted.
    pub fn voices(&self) -> &[String] {
        self.voices.names()
    }

    /// Japanese text to Kokoro phonemes with this engine's dictionary (loaded on first use).
    pub fn phonemize(&self, text: &str) -> Result<String, TaskErrorKind> {
        phonemize_with(&self.assets, text)
    }
}

/// Japanese text to Kokoro phonemes with the dictionary in `assets`, without loading a model.
pub(crate) fn phonemize_with(assets: &AssetPaths, text: &str) -> Result<String, TaskErrorKind> {
    let g2p = JaG2p::shared(assets.ja_dict_dir()).map_err(g2p_error)?;
    g2p.phonemize(text).map_err(g2p_error)
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
        let options = EngineOptions {
            assets_dir: Some("/nonexistent/assets".into()),
            ..EngineOptions::default()
        };
        let message = Engine::load(&options).err().unwrap().to_string();
        assert!(
            message.contains("/nonexistent/assets/kokoro-v1.0.int8.speech-window.onnx"),
            "{message}"
        );
        assert!(message.contains("run `npm run fetch-assets`"), "{message}");
    }

    #[test]
    fn a_bad_layout_is_refused_before_anything_loads() {
        let options = EngineOptions {
            assets_dir: Some("/nonexistent/assets".into()),
            layout: InferenceLayout {
                slots: 0,
                threads_per_slot: 1,
            },
            ..EngineOptions::default()
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
            ..EngineOptions::default()
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
            model: ModelVariant::Untouched,
            ..options.clone()
        };
        let untouched = Engine::shared(&other_model).unwrap();
        assert!(!Arc::ptr_eq(&first, &untouched));
        assert_eq!(untouched.model_variant(), ModelVariant::Untouched);
    }

    #[test]
    fn phonemize_uses_the_dictionary_and_reports_empty_text() {
        let engine = crate::test_support::engine();
        assert_eq!(engine.phonemize("食べる").unwrap(), "tabeɾɯ");
        assert_eq!(engine.phonemize("  "), Err(TaskErrorKind::EmptyText));
        assert!(engine.voices().contains(&"jf_alpha".to_string()));
    }
}
