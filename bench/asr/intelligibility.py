"""Intelligibility check: Whisper base transcribes the clips of two settings, each transcript and its
expected text become kana readings, and the per-clip kana CER of the two settings is compared
pairwise with a sign test (docs/intelligibility.md).

    python intelligibility.py transcribe WHISPER_DIR CLIPS_DIR TEXTS.tsv   -> CLIPS_DIR/transcripts.json
    python intelligibility.py compare TEXTS.tsv A_DIR B_DIR [--name A_vs_B]  -> a markdown table on stdout

Run it through bench/asr/check.sh, which builds the venv, renders the clips and calls both.
"""

import argparse
import json
import math
import os
import sys
import time
import wave

# Decoding is fixed, so a clip always gets the same transcript: beam search of width 5, no
# temperature fallback (its sampling is random), no timestamp tokens (short clips loop with them),
# no conditioning on earlier text (every clip is independent), no voice activity filter.
DECODING = dict(
    language="ja",
    beam_size=5,
    temperature=0.0,
    without_timestamps=True,
    condition_on_previous_text=False,
    vad_filter=False,
)
# Clips shorter than this are the "short" group: single words, where the issue found the loss.
SHORT_CLIP_SECONDS = 1.0


def read_texts(path):
    """id -> (kind, text) from the tab-separated texts file (# lines are comments)."""
    texts = {}
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 3:
                sys.exit(f"{path}:{number}: expected id, kind and text separated by tabs")
            texts[fields[0]] = (fields[1], fields[2])
    return texts


def clip_seconds(path):
    with wave.open(path) as clip:
        return clip.getnframes() / clip.getframerate()


def transcribe(whisper_dir, clips_dir, texts_path):
    from faster_whisper import WhisperModel

    # int8 weights: the usual CPU setting of faster-whisper, and deterministic.
    model = WhisperModel(whisper_dir, device="cpu", compute_type="int8", cpu_threads=2)
    transcripts = {}
    started = time.monotonic()
    for clip_id in read_texts(texts_path):
        path = os.path.join(clips_dir, f"{clip_id}.wav")
        segments, _ = model.transcribe(path, **DECODING)
        transcripts[clip_id] = {
            "text": "".join(segment.text for segment in segments).strip(),
            "seconds": clip_seconds(path),
        }
    elapsed = time.monotonic() - started
    out = os.path.join(clips_dir, "transcripts.json")
    with open(out + ".tmp", "w", encoding="utf-8") as file:
        json.dump(transcripts, file, ensure_ascii=False, indent=1)
    os.replace(out + ".tmp", out)
    print(f"{len(transcripts)} clips transcribed in {elapsed:.0f} s -> {out}", file=sys.stderr)


# The vowel of every katakana that can precede a long-vowel mark.
VOWEL_ROWS = {
    "ア": "アカサタナハマヤラワガザダバパァャヮ",
    "イ": "イキシチニヒミリギジヂビピィ",
    "ウ": "ウクスツヌフムユルグズヅブプゥュヴ",
    "エ": "エケセテネヘメレゲゼデベペェ",
    "オ": "オコソトノホモヨロヲゴゾドボポォョ",
}
VOWEL_OF = {kana: vowel for vowel, row in VOWEL_ROWS.items() for kana in row}
# Spellings that sound alike.
SAME_SOUND = str.maketrans({"ヲ": "オ", "ヅ": "ズ", "ヂ": "ジ"})


def kana_reading(text):
    """The katakana reading of `text` with one spelling per sound: ー becomes the vowel before it,
    and the long vowels written オウ / エイ become オオ / エエ (学生 ガクセー and がくせい ガクセイ
    both read ガクセエ). Punctuation, spaces and anything without a reading are dropped."""
    import pyopenjtalk

    reading = pyopenjtalk.g2p(text, kana=True).translate(SAME_SOUND)
    out = []
    for kana in reading:
        if not ("ァ" <= kana <= "ヺ" or kana == "ー"):
            continue
        previous_vowel = VOWEL_OF.get(out[-1]) if out else None
        if kana == "ー":
            if previous_vowel:
                out.append(previous_vowel)
        elif kana == "ウ" and previous_vowel == "オ":
            out.append("オ")
        elif kana == "イ" and previous_vowel == "エ":
            out.append("エ")
        else:
            out.append(kana)
    return "".join(out)


def edit_distance(reference, hypothesis):
    row = list(range(len(hypothesis) + 1))
    for i, expected in enumerate(reference, 1):
        previous, row[0] = row[0], i
        for j, heard in enumerate(hypothesis, 1):
            previous, row[j] = row[j], min(
                row[j] + 1, row[j - 1] + 1, previous + (expected != heard)
            )
    return row[-1]


def sign_test(worse, better):
    """Two-sided exact binomial test of worse vs better (ties dropped), p = 0.5."""
    n = worse + better
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(worse, better) + 1)) / 2**n
    return min(1.0, 2 * tail)


def load_scores(texts, clips_dir):
    with open(os.path.join(clips_dir, "transcripts.json"), encoding="utf-8") as file:
        transcripts = json.load(file)
    scores = {}
    for clip_id, (_, text) in texts.items():
        reference = kana_reading(text)
        heard = kana_reading(transcripts[clip_id]["text"])
        scores[clip_id] = {
            # Capped at 1: a clip is at worst entirely wrong (Whisper may hear a word as a long
            # English phrase, and a single such clip would otherwise outweigh dozens).
            "cer": min(1.0, edit_distance(reference, heard) / len(reference)),
            "exact": heard == reference,
            "seconds": transcripts[clip_id]["seconds"],
            "heard": transcripts[clip_id]["text"],
        }
    return scores


def compare(texts_path, a_dir, b_dir, name):
    texts = read_texts(texts_path)
    a = load_scores(texts, a_dir)
    b = load_scores(texts, b_dir)
    groups = [
        ("clips < 1 s", lambda i: a[i]["seconds"] < SHORT_CLIP_SECONDS),
        ("clips ≥ 1 s", lambda i: a[i]["seconds"] >= SHORT_CLIP_SECONDS),
        ("single words", lambda i: texts[i][0] == "word"),
        ("all clips", lambda i: True),
    ]
    a_name, b_name = name.split(" vs ")
    print(f"\n{name}: {len(texts)} clips; B worse / better / tied = B's CER above / below / equal to A's")
    print()
    print(f"| group | clips | B worse | B better | tied | sign test p | mean CER {a_name} | mean CER {b_name} | "
          f"difference ± 2 SE | exact {a_name} | exact {b_name} |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for label, member in groups:
        ids = [i for i in texts if member(i)]
        if not ids:
            continue
        worse = sum(b[i]["cer"] > a[i]["cer"] for i in ids)
        better = sum(b[i]["cer"] < a[i]["cer"] for i in ids)
        mean = lambda scores: sum(scores[i]["cer"] for i in ids) / len(ids)
        exact = lambda scores: sum(scores[i]["exact"] for i in ids) / len(ids)
        # Mean paired difference and twice its standard error: the noise floor's spread.
        differences = [b[i]["cer"] - a[i]["cer"] for i in ids]
        difference = sum(differences) / len(ids)
        spread = 2 * math.sqrt(
            sum((d - difference) ** 2 for d in differences) / max(1, len(ids) - 1) / len(ids)
        )
        print(
            f"| {label} | {len(ids)} | {worse} | {better} | {len(ids) - worse - better} | "
            f"{sign_test(worse, better):.2g} | {mean(a):.3f} | {mean(b):.3f} | "
            f"{difference:+.3f} ± {spread:.3f} | {exact(a):.0%} | {exact(b):.0%} |"
        )
    changed = [i for i in texts if a[i]["heard"] != b[i]["heard"]]
    print(f"\nTranscripts that differ: {len(changed)} of {len(texts)}. Largest CER increases:")
    for i in sorted(changed, key=lambda i: a[i]["cer"] - b[i]["cer"])[:12]:
        print(
            f"- {i} {texts[i][1]} ({a[i]['seconds']:.2f} s): {a_name} {a[i]['heard']!r} "
            f"{a[i]['cer']:.2f}, {b_name} {b[i]['heard']!r} {b[i]['cer']:.2f}"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("transcribe")
    run.add_argument("whisper_dir")
    run.add_argument("clips_dir")
    run.add_argument("texts")
    pair = commands.add_parser("compare")
    pair.add_argument("texts")
    pair.add_argument("a_dir")
    pair.add_argument("b_dir")
    pair.add_argument("--name", default="A vs B")
    arguments = parser.parse_args()
    if arguments.command == "transcribe":
        transcribe(arguments.whisper_dir, arguments.clips_dir, arguments.texts)
    else:
        compare(arguments.texts, arguments.a_dir, arguments.b_dir, arguments.name)


if __name__ == "__main__":
    main()
