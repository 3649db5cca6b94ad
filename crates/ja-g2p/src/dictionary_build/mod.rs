//! Converts the compiled MeCab naist-jdic of the pyopenjtalk-plus wheel (sys.dic, unk.dic,
//! matrix.bin, char.bin) into a jpreprocess dictionary: decompile to MeCab sources, fix mora
//! counts, build. The result is deterministic (same input, same bytes) and appears atomically:
//! everything is built in a temporary sibling of the output folder, checked, then renamed into
//! place. Run by `build-ja-dict` and, through the addon, by `fetch-assets` (no Rust toolchain needed).
mod mecab;
mod mora_fix;

use std::fs;
use std::path::{Path, PathBuf};

use jpreprocess_dictionary::dictionary::to_dict::JPreprocessDictionaryBuilder;

/// Dictionary metadata for jpreprocess: naist-jdic's column layout (the builder's default) under
/// a fixed name. The user-dictionary defaults are unused but must be present.
const METADATA: &str = r#"{
    "name": "naist-jdic (pyopenjtalk-plus 0.4.1.post10), converted by build-ja-dict",
    "encoding": "UTF-8",
    "default_word_cost": -10000,
    "default_left_context_id": 1288,
    "default_right_context_id": 1288,
    "default_field_value": "*",
    "flexible_csv": true,
    "skip_invalid_cost_or_id": false,
    "normalize_details": false,
    "dictionary_schema": { "fields": ["surface","left_context_id","right_context_id","cost","major_pos","middle_pos","small_pos","fine_pos","conjugation_type","conjugation_form","base_form","reading","pronunciation","accent_morasize","chain_rule","chain_flag"] },
    "user_dictionary_schema": { "fields": ["surface","reading","pronunciation"] }
}"#;

/// A sentence the finished dictionary must read exactly like the reference before it is kept.
const CHECK_TEXT: &str = "今日は良い天気ですね。";
const CHECK_PHONEMES: &str = "kʲoː βa joi teŋkʲi desɨ ne.";

/// Builds the jpreprocess dictionary from `raw_dir` into `out_dir` (replacing it) and returns a
/// one-line summary. Takes about 8 s and 700 MB of memory.
pub fn build(raw_dir: &Path, out_dir: &Path) -> Result<String, String> {
    let read = |name: &str| {
        let path = raw_dir.join(name);
        fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let lexicon = mecab::read_lexicon("sys.dic", &read("sys.dic")?)?;
    let unknown = mecab::read_lexicon("unk.dic", &read("unk.dic")?)?;
    let matrix = mecab::matrix_def(&read("matrix.bin")?)?;
    let chars = mecab::char_def(&read("char.bin")?)?;
    let (lexicon_csv, counts) = mora_fix::fix_lexicon(&mecab::lexicon_csv(&lexicon))?;

    let work = WorkDir::create(out_dir)?;
    let sources = work.path.join("mecab-src");
    let built = work.path.join("ja-dict");
    fs::create_dir_all(&sources)
        .map_err(|e| format!("cannot create {}: {e}", sources.display()))?;
    for (name, bytes) in [
        ("lex.csv", lexicon_csv.as_slice()),
        ("unk.def", &mecab::lexicon_csv(&unknown)),
        ("matrix.def", matrix.as_bytes()),
        ("char.def", chars.as_bytes()),
    ] {
        write(&sources.join(name), bytes)?;
    }
    let metadata =
        serde_json::from_str(METADATA).map_err(|e| format!("dictionary metadata: {e}"))?;
    JPreprocessDictionaryBuilder::new(metadata)
        .build_dictionary(&sources, &built)
        .map_err(|e| format!("jpreprocess dictionary build failed: {e}"))?;
    let summary = format!(
        "entries {}, unknown-word entries {}, mora counts fixed {}, unparsable pronunciations dropped {}",
        counts.rows,
        unknown.len(),
        counts.mora_size_fixed,
        counts.pronunciation_dropped
    );
    write(
        &built.join("BUILD-INFO"),
        format!(
            "Built by build-ja-dict (ja-g2p {}) with jpreprocess-dictionary 0.15.0 from the compiled\n\
             naist-jdic of the pyopenjtalk-plus 0.4.1.post10 wheel (pyopenjtalk/dictionary/).\n{summary}\n",
            env!("CARGO_PKG_VERSION")
        )
        .as_bytes(),
    )?;

    let g2p =
        crate::JaG2p::load(&built).map_err(|e| format!("built dictionary does not load: {e}"))?;
    let check = g2p
        .phonemize(CHECK_TEXT)
        .map_err(|e| format!("built dictionary fails on {CHECK_TEXT}: {e}"))?;
    if check != CHECK_PHONEMES {
        return Err(format!(
            "built dictionary reads {CHECK_TEXT} as {check:?}, expected {CHECK_PHONEMES:?}"
        ));
    }
    work.install(&built, out_dir)?;
    Ok(summary)
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// A temporary directory next to the output (same file system, so the final rename is atomic),
/// removed on every exit path.
struct WorkDir {
    path: PathBuf,
}

impl WorkDir {
    fn create(out_dir: &Path) -> Result<Self, String> {
        let path = sibling(out_dir, "building")?;
        if path.exists() {
            fs::remove_dir_all(&path)
                .map_err(|e| format!("cannot remove stale {}: {e}", path.display()))?;
        }
        fs::create_dir_all(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        Ok(Self { path })
    }

    /// Moves `built` to `out_dir`, replacing a previous dictionary there.
    fn install(&self, built: &Path, out_dir: &Path) -> Result<(), String> {
        let previous = self.path.join("previous");
        if out_dir.exists() {
            fs::rename(out_dir, &previous)
                .map_err(|e| format!("cannot move old {} aside: {e}", out_dir.display()))?;
        }
        fs::rename(built, out_dir).map_err(|e| {
            format!(
                "cannot rename {} to {}: {e}",
                built.display(),
                out_dir.display()
            )
        })
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        // Best effort: a leftover is removed by the next run anyway.
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// `<parent>/.<name>.<suffix>-<pid>` for `out_dir` = `<parent>/<name>`.
fn sibling(out_dir: &Path, suffix: &str) -> Result<PathBuf, String> {
    let name = out_dir
        .file_name()
        .ok_or_else(|| format!("output directory {} has no name", out_dir.display()))?;
    let parent = match out_dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    Ok(parent.join(format!(
        ".{}.{suffix}-{}",
        name.to_string_lossy(),
        std::process::id()
    )))
}
