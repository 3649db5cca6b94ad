//! ONNX Runtime's graph optimisation, done once per model, runtime and CPU and kept in the assets
//! folder, so that a session starts by loading the optimised graph with the optimiser off.
//!
//! Optimising the int8 graph is most of a session's creation time (the speech-window model's
//! derived graph costs ONNX Runtime seconds more than the published one). The optimised graph
//! depends on the model, on the ONNX Runtime build, and on the CPU (the layout transformations and
//! the int8 kernels chosen follow its instruction sets), so the file name carries a key digested
//! from all three; a cache made for another one is never used, and is removed when a new one is
//! written. The cached file is written atomically and durably (temporary file, fsync, rename, fsync
//! the folder) and its SHA-256 is kept beside it: a graph whose digest does not match, or that ONNX
//! Runtime refuses, is built again.

use crate::assets::{AssetPaths, ModelVariant, sha256_hex};
use crate::duration_outputs;
use crate::error::EngineError;
use ort::session::Session;
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// What a cache file is keyed by, digested into its name: the model, the outputs added to it,
/// the runtime and the CPU.
fn cache_key(model_sha256: &str, extra_outputs: &[&str]) -> String {
    let cpu_flags = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            let flags = info.lines().find(|line| line.starts_with("flags"))?;
            Some(flags.to_string())
        })
        .unwrap_or_default();
    let mut key = Sha256::new();
    let extra_outputs = extra_outputs.join("\n");
    for part in [
        model_sha256,
        &extra_outputs,
        ort::info(),
        std::env::consts::ARCH,
        &cpu_flags,
    ] {
        key.update(part.as_bytes());
        key.update([0]);
    }
    key.finalize()[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Where `variant`'s optimised graph for this runtime and CPU lives, and the file of its digest.
struct CachedGraph {
    graph: PathBuf,
    digest: PathBuf,
}

impl CachedGraph {
    fn locate(paths: &AssetPaths, variant: ModelVariant) -> Result<CachedGraph, EngineError> {
        let model_sha256 = variant.pinned_sha256()?;
        let graph = paths.graph_cache_dir().join(format!(
            "{}.{}.onnx",
            variant.name(),
            cache_key(&model_sha256, duration_outputs::extra_outputs(variant))
        ));
        let digest = graph.with_extension("onnx.sha256");
        Ok(CachedGraph { graph, digest })
    }

    /// The graph file if it is there and its bytes are the ones written.
    fn intact(&self) -> Option<&Path> {
        let expected = fs::read_to_string(&self.digest).ok()?;
        let actual = sha256_hex(&self.graph).ok()?;
        (expected.trim() == actual).then_some(&self.graph)
    }
}

/// A session on `variant` with its duration outputs (`duration_outputs`): from the cached
/// optimised graph when there is an intact one, else from the model with full optimisation, saving the optimised graph for the next start. `builder`
/// carries every other option. Failing to write the cache is not an error: the session is
/// returned, and the next start tries again.
pub(crate) fn commit(
    builder: SessionBuilder,
    paths: &AssetPaths,
    variant: ModelVariant,
) -> Result<Session, EngineError> {
    let model_path = paths.model(variant);
    let model_error = |cause: String| EngineError::ModelLoad {
        path: model_path.clone(),
        cause,
    };
    let cache = CachedGraph::locate(paths, variant)?;
    if let Some(graph) = cache.intact() {
        let cached = builder
            .clone()
            .with_optimization_level(GraphOptimizationLevel::Disable)
            .map(|mut builder| builder.commit_from_file(graph));
        if let Ok(Ok(session)) = cached {
            return Ok(session);
        }
    }
    let folder = paths.graph_cache_dir();
    static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);
    let temp = folder.join(format!(
        ".{}.{}-{}.tmp",
        variant.name(),
        std::process::id(),
        NEXT_TEMP.fetch_add(1, Ordering::Relaxed)
    ));
    let saving = fs::create_dir_all(&folder).is_ok();
    let mut builder = builder
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(|error| model_error(error.to_string()))?;
    if saving {
        builder = builder
            .with_optimized_model_path(&temp)
            .map_err(|error| model_error(error.to_string()))?;
    }
    let model = fs::read(&model_path).map_err(|error| model_error(error.to_string()))?;
    let model =
        duration_outputs::with_int64_outputs(model, duration_outputs::extra_outputs(variant));
    let session = builder
        .commit_from_memory(&model)
        .map_err(|error| model_error(error.to_string()))?;
    drop(model);
    if saving && store(&temp, &cache).is_err() {
        let _ = fs::remove_file(&temp);
    }
    Ok(session)
}

/// Moves the graph ONNX Runtime wrote to `temp` into place with its digest, durably, and removes
/// the graphs of other keys for the same model.
fn store(temp: &Path, cache: &CachedGraph) -> std::io::Result<()> {
    File::open(temp)?.sync_all()?;
    let digest = sha256_hex(temp)?;
    let digest_temp = temp.with_extension("sha256.tmp");
    let mut digest_file = File::create(&digest_temp)?;
    digest_file.write_all(digest.as_bytes())?;
    digest_file.sync_all()?;
    // The digest goes last: a graph without its digest file is not used.
    let _ = fs::remove_file(&cache.digest);
    fs::rename(temp, &cache.graph)?;
    fs::rename(&digest_temp, &cache.digest)?;
    let folder = cache.graph.parent().unwrap_or(Path::new("."));
    File::open(folder)?.sync_all()?;
    let model_prefix = cache
        .graph
        .file_name()
        .and_then(|name| name.to_str())
        .and_then(|name| name.split('.').next())
        .map(|variant| format!("{variant}."))
        .unwrap_or_default();
    for entry in fs::read_dir(folder)?.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let current = [&cache.graph, &cache.digest]
            .iter()
            .any(|path| path.file_name() == Some(entry.file_name().as_os_str()));
        if name.starts_with(&model_prefix) && !current {
            let _ = fs::remove_file(entry.path());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assets::tests::linked_copy_of_assets;
    use crate::engine::{Engine, EngineOptions};
    use crate::layout::InferenceLayout;
    use crate::synthesis::raw_audio;
    use crate::test_support::{SHORT_PHONEMES, band_levels_db, rms};
    use std::io::{Seek, SeekFrom};
    use std::time::SystemTime;

    fn modified(path: &Path) -> SystemTime {
        fs::metadata(path).unwrap().modified().unwrap()
    }

    /// The audio of a session on the cached graph against the session that optimised the model:
    /// same length, RMS and coarse spectrum (not bytes: optimised kernels may round differently).
    fn assert_speaks_alike(cached: &[f32], reference: &[f32]) {
        assert_eq!(cached.len(), reference.len(), "same frames");
        let (cached_rms, reference_rms) = (rms(cached), rms(reference));
        assert!(
            (cached_rms / reference_rms - 1.0).abs() < 0.02,
            "RMS {cached_rms} vs {reference_rms}"
        );
        let difference: f64 = band_levels_db(cached)
            .iter()
            .zip(band_levels_db(reference))
            .map(|(a, b)| (a - b).abs())
            .sum::<f64>()
            / 48.0;
        assert!(
            difference < 1.0,
            "mean band level difference {difference} dB"
        );
    }

    #[tokio::test]
    async fn the_cached_graph_speaks_like_the_model_and_a_bad_or_stale_cache_is_rebuilt() {
        let (dir, paths) = linked_copy_of_assets("graph-cache");
        let options = EngineOptions {
            model: ModelVariant::Untouched,
            layout: InferenceLayout {
                slots: 1,
                threads_per_slot: 1,
            },
            ..EngineOptions::new(&dir)
        };
        assert!(
            !paths.graph_cache_dir().exists(),
            "a fresh folder has no cache"
        );
        let optimising = Engine::load(&options).unwrap();
        // After the first load: the key names the ONNX Runtime build, known once it is loaded.
        let cache = CachedGraph::locate(&paths, ModelVariant::Untouched).unwrap();
        assert!(cache.intact().is_some(), "the first load writes the graph");
        let reference = raw_audio(&optimising, SHORT_PHONEMES).await;
        let written = modified(&cache.graph);

        let cached = Engine::load(&options).unwrap();
        assert_eq!(
            modified(&cache.graph),
            written,
            "the second load reads the cache"
        );
        assert_speaks_alike(&raw_audio(&cached, SHORT_PHONEMES).await, &reference);

        // One flipped byte in the middle of the graph, and a graph left by another runtime or CPU.
        let mut graph = File::options()
            .read(true)
            .write(true)
            .open(&cache.graph)
            .unwrap();
        let middle = graph.metadata().unwrap().len() / 2;
        let mut byte = [0u8];
        graph.seek(SeekFrom::Start(middle)).unwrap();
        std::io::Read::read_exact(&mut graph, &mut byte).unwrap();
        graph.seek(SeekFrom::Start(middle)).unwrap();
        graph.write_all(&[byte[0] ^ 0xff]).unwrap();
        drop(graph);
        let stale = paths
            .graph_cache_dir()
            .join("untouched.0000000000000000.onnx");
        fs::write(&stale, b"a graph of another key").unwrap();
        assert!(cache.intact().is_none(), "the flipped byte is seen");

        let rebuilt = Engine::load(&options).unwrap();
        assert!(cache.intact().is_some(), "the graph is written again");
        assert!(!stale.exists(), "graphs of other keys are removed");
        assert_speaks_alike(&raw_audio(&rebuilt, SHORT_PHONEMES).await, &reference);
        let _ = fs::remove_dir_all(dir);
    }
}
