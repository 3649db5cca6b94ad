//! Phoneme symbols to the model's token ids (`vocab.json`: `{"vocab": {symbol: id}}`).

use crate::error::EngineError;
use std::collections::HashMap;
use std::path::Path;

/// The longest token sequence the model takes, not counting the two pad tokens.
pub const MAX_TOKENS: usize = 510;

/// Token id of the pad that goes at both ends of every sequence.
const PAD_TOKEN: i64 = 0;

#[derive(Debug)]
pub(crate) struct Vocab {
    ids: HashMap<char, i64>,
}

impl Vocab {
    pub(crate) fn load(path: &Path) -> Result<Vocab, EngineError> {
        let corrupt = |detail: String| EngineError::AssetCorrupt {
            path: path.to_path_buf(),
            detail,
        };
        let bytes = std::fs::read(path).map_err(|error| EngineError::AssetUnreadable {
            path: path.to_path_buf(),
            cause: error.to_string(),
        })?;
        let json: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|error| corrupt(error.to_string()))?;
        let entries = json["vocab"]
            .as_object()
            .ok_or_else(|| corrupt("no \"vocab\" object".into()))?;
        let mut ids = HashMap::with_capacity(entries.len());
        for (symbol, id) in entries {
            let mut chars = symbol.chars();
            let (Some(symbol_char), None) = (chars.next(), chars.next()) else {
                return Err(corrupt(format!("symbol {symbol:?} is not one character")));
            };
            let id = id
                .as_i64()
                .ok_or_else(|| corrupt(format!("id of {symbol:?} is not an integer")))?;
            ids.insert(symbol_char, id);
        }
        Ok(Vocab { ids })
    }

    /// Token ids of the symbols the model knows, without pads; other characters are dropped,
    /// as the reference implementation does.
    #[cfg(test)]
    pub(crate) fn token_ids(&self, phonemes: &str) -> Vec<i64> {
        self.tokens(phonemes).map(|(_, id)| id).collect()
    }

    /// The tokens of `phonemes` as (character index in `phonemes`, token id), unknown symbols left out.
    pub(crate) fn tokens<'a>(
        &'a self,
        phonemes: &'a str,
    ) -> impl Iterator<Item = (usize, i64)> + 'a {
        phonemes
            .chars()
            .enumerate()
            .filter_map(|(index, symbol)| Some((index, *self.ids.get(&symbol)?)))
    }

    /// Whether `phonemes` hold a sound the model knows, not just spaces and punctuation.
    pub(crate) fn is_speakable(&self, phonemes: &str) -> bool {
        phonemes
            .chars()
            .any(|symbol| symbol.is_alphabetic() && self.ids.contains_key(&symbol))
    }

    /// The model input: ids with a pad at both ends.
    pub(crate) fn padded(token_ids: &[i64]) -> Vec<i64> {
        let mut padded = Vec::with_capacity(token_ids.len() + 2);
        padded.push(PAD_TOKEN);
        padded.extend_from_slice(token_ids);
        padded.push(PAD_TOKEN);
        padded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::real_assets;

    #[test]
    fn known_symbols_map_to_ids_and_unknown_ones_are_dropped() {
        let vocab = Vocab::load(&real_assets().vocab()).unwrap();
        assert_eq!(vocab.ids.len(), 114);
        let ids = vocab.token_ids("tabeɾɯ");
        assert_eq!(ids.len(), 6);
        assert_eq!(vocab.token_ids("ta😀be"), vocab.token_ids("tabe"));
        assert!(vocab.token_ids("😀").is_empty());
        assert!(vocab.is_speakable("a."));
        assert!(!vocab.is_speakable("😀 , ♪ ."));
        assert_eq!(Vocab::padded(&[5, 6]), vec![0, 5, 6, 0]);
    }
}
