//! Locating the built dictionary for the tests: `$KOKORO_POOL_ASSETS/ja-dict`, else this
//! checkout's `assets/ja-dict` (the product decides at run time: kokoro-engine's `assets::locate`).
use std::path::PathBuf;
use std::sync::Arc;

use ja_g2p::JaG2p;

pub fn dict_dir() -> PathBuf {
    let assets = std::env::var_os("KOKORO_POOL_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../assets"));
    assets.join("ja-dict")
}

/// The shared analyser; fails the test with the fix when the dictionary is missing.
pub fn g2p() -> Arc<JaG2p> {
    let dir = dict_dir();
    JaG2p::shared(&dir).unwrap_or_else(|e| {
        panic!(
            "these tests need the Japanese dictionary at {} ({e}); run `npx kokoro-pool fetch-assets`",
            dir.display()
        )
    })
}
