//! Voices: `<assets>/voices/<name>.bin`, raw little-endian f32 `[510 x 256]` style vectors, one row
//! per token count. Listed when the engine starts, read on first use and kept.

use crate::error::TaskErrorKind;
use crate::vocab::MAX_TOKENS;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Length of one style vector.
pub(crate) const STYLE_WIDTH: usize = 256;
const VOICE_FILE_BYTES: usize = MAX_TOKENS * STYLE_WIDTH * 4;

/// The style vectors of one voice.
#[derive(Debug)]
pub(crate) struct Voice {
    styles: Vec<f32>,
}

impl Voice {
    /// The style for a chunk of `token_count` tokens (row `min(count, 510) - 1`, like the reference).
    pub(crate) fn style_for(&self, token_count: usize) -> &[f32] {
        let row = token_count.clamp(1, MAX_TOKENS) - 1;
        &self.styles[row * STYLE_WIDTH..(row + 1) * STYLE_WIDTH]
    }
}

#[derive(Debug)]
pub(crate) struct VoiceStore {
    dir: PathBuf,
    names: Vec<String>,
    loaded: Mutex<HashMap<String, Arc<Voice>>>,
}

impl VoiceStore {
    /// Lists `dir/*.bin`, sorted by name.
    pub(crate) fn open(dir: &Path) -> std::io::Result<VoiceStore> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|extension| extension == "bin")
                && let Some(name) = path.file_stem().and_then(|stem| stem.to_str())
            {
                names.push(name.to_string());
            }
        }
        names.sort();
        Ok(VoiceStore {
            dir: dir.to_path_buf(),
            names,
            loaded: Mutex::default(),
        })
    }

    pub(crate) fn names(&self) -> &[String] {
        &self.names
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.names
            .binary_search_by(|known| known.as_str().cmp(name))
            .is_ok()
    }

    /// The error for a name that is not a voice: where the valid names come from, and some of them.
    pub(crate) fn unknown(&self, name: &str) -> TaskErrorKind {
        let japanese: Vec<&str> = self
            .names
            .iter()
            .map(String::as_str)
            .filter(|name| name.starts_with('j'))
            .collect();
        let examples = if japanese.is_empty() {
            &self.names.iter().map(String::as_str).collect::<Vec<_>>()[..]
        } else {
            &japanese[..]
        };
        TaskErrorKind::UnknownVoice {
            voice: name.to_string(),
            voices_dir: self.dir.clone(),
            examples: examples.join(", "),
        }
    }

    /// The voice, read from disk on first use.
    pub(crate) fn get(&self, name: &str) -> Result<Arc<Voice>, TaskErrorKind> {
        if !self.contains(name) {
            return Err(self.unknown(name));
        }
        if let Some(voice) = self
            .loaded
            .lock()
            .ok()
            .and_then(|loaded| loaded.get(name).cloned())
        {
            return Ok(voice);
        }
        let path = self.dir.join(format!("{name}.bin"));
        let unusable = |cause: String| TaskErrorKind::VoiceUnusable {
            path: path.clone(),
            cause,
        };
        let bytes = std::fs::read(&path).map_err(|error| unusable(error.to_string()))?;
        if bytes.len() != VOICE_FILE_BYTES {
            return Err(unusable(format!(
                "{} bytes, expected {VOICE_FILE_BYTES}",
                bytes.len()
            )));
        }
        let styles: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|le| f32::from_le_bytes([le[0], le[1], le[2], le[3]]))
            .collect();
        if styles.iter().any(|value| !value.is_finite()) {
            return Err(unusable(
                "contains values that are not finite numbers".into(),
            ));
        }
        let voice = Arc::new(Voice { styles });
        if let Ok(mut loaded) = self.loaded.lock() {
            loaded.insert(name.to_string(), voice.clone());
        }
        Ok(voice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::real_assets;

    #[test]
    fn lists_the_54_voices_and_loads_one_lazily() {
        let store = VoiceStore::open(&real_assets().voices_dir()).unwrap();
        assert_eq!(store.names().len(), 54);
        assert!(store.contains("jf_alpha"));
        assert!(store.loaded.lock().unwrap().is_empty());
        let voice = store.get("jf_alpha").unwrap();
        assert_eq!(voice.style_for(6).len(), STYLE_WIDTH);
        assert_eq!(voice.style_for(0), voice.style_for(1));
        assert_eq!(voice.style_for(600), voice.style_for(510));
        assert!(Arc::ptr_eq(&voice, &store.get("jf_alpha").unwrap()));
    }

    #[test]
    fn unknown_voice_says_where_the_valid_names_are() {
        let store = VoiceStore::open(&real_assets().voices_dir()).unwrap();
        let message = store.get("jf_nobody").unwrap_err().to_string();
        assert!(message.contains("unknown voice \"jf_nobody\""), "{message}");
        assert!(
            message.contains("voices") && message.contains("jf_alpha"),
            "{message}"
        );
    }
}
