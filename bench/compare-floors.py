"""Inference speed of two or more kokoro-floor builds side by side (e.g. two ONNX Runtime versions,
docs/startup.md): every build on both models and on words and sentences, interleaved round by
round (build A, build B, A, B, ...) so that all see the same machine load, 2 slots x 1 thread.

    python3 bench/compare-floors.py [--rounds N] [--words N] [--sentences N] NAME=BINARY:ASSETS ...

Each build runs with its own assets folder (`--assets`), so each keeps its own graph cache and
loads its own pinned ONNX Runtime library; a first untimed run per build and model fills the cache.
The workloads are bench/workloads/silence/{vocab,sentences}.jsonl with their phonemes, so the G2P is
not timed. Prints every run, then per (model, workload) the median items/s of each build and each
build's ratio to the first one (the median of the per-round ratios, and their range), and the
same for the inference CPU seconds (process CPU after loading; steadier than items/s when other
jobs share the machine), plus the start-up (`load=`, `load_cpu=`) with a cached graph.
"""

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile

BENCH = os.path.dirname(os.path.abspath(__file__))
MODELS = ["untouched", "speech-window"]


def run_floor(binary, assets, model, utterances):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    output = subprocess.run(
        [binary, "--assets", assets, "--model", model, "--slots", "2", "--threads", "1", utterances],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    fields = dict(re.findall(r"(\S+)=([0-9.]+)", line))
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {
        "items/s": float(fields["utt/s"]),
        "load": float(fields["load"]),
        "load_cpu": float(fields["load_cpu"]),
        "inference_cpu": cpu - float(fields["load_cpu"]),
        "frames": int(fields["decoded_frames"]),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--words", type=int, default=50)
    parser.add_argument("--sentences", type=int, default=20)
    parser.add_argument("builds", nargs="+", metavar="NAME=BINARY:ASSETS")
    arguments = parser.parse_args()
    builds = []
    for spec in arguments.builds:
        name, _, rest = spec.partition("=")
        binary, _, assets = rest.partition(":")
        if not (name and binary and assets):
            parser.error(f"{spec!r} is not NAME=BINARY:ASSETS")
        builds.append((name, os.path.abspath(binary), os.path.abspath(assets)))

    with open("/proc/loadavg") as loadavg:
        print(f"# rounds={arguments.rounds} words={arguments.words} sentences={arguments.sentences} "
              f"load: {' '.join(loadavg.read().split()[:3])}")
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        workloads = {}
        for workload, count in [("vocab", arguments.words), ("sentences", arguments.sentences)]:
            with open(os.path.join(BENCH, "workloads", "silence", f"{workload}.jsonl")) as source:
                lines = source.readlines()[:count]
            workloads[workload] = os.path.join(scratch, f"{workload}.jsonl")
            with open(workloads[workload], "w") as target:
                target.writelines(lines)
        for name, binary, assets in builds:
            for model in MODELS:
                run_floor(binary, assets, model, workloads["vocab"])  # fills the graph cache
        for workload, utterances in workloads.items():
            for round_index in range(arguments.rounds):
                for model in MODELS:
                    # Start one build further along each round, so neither always follows the other.
                    order = builds[round_index % len(builds):] + builds[:round_index % len(builds)]
                    for name, binary, assets in order:
                        result = run_floor(binary, assets, model, utterances)
                        with open("/proc/loadavg") as loadavg:
                            load = loadavg.read().split()[0]
                        print(f"workload={workload} round={round_index + 1} model={model} build={name} "
                              f"items/s={result['items/s']:.3f} inference_cpu={result['inference_cpu']:.2f}s "
                              f"load={result['load']:.2f}s load_cpu={result['load_cpu']:.2f}s "
                              f"frames={result['frames']} loadavg={load}", flush=True)
                        results.setdefault((workload, model, name), []).append(result)

    first = builds[0][0]
    print(f"\n| workload | model | build | items/s (median) | items/s × {first} (median, range of rounds) "
          f"| inference CPU s (median) | CPU × {first} (median, range) | start s / CPU s (median) |")
    print("|---|---|---|--:|--:|--:|--:|--:|")
    for workload in workloads:
        for model in MODELS:
            baseline = results[(workload, model, first)]
            for name, _, _ in builds:
                runs = results[(workload, model, name)]
                ratios = [run["items/s"] / base["items/s"] for run, base in zip(runs, baseline)]
                cpu_ratios = [run["inference_cpu"] / base["inference_cpu"] for run, base in zip(runs, baseline)]
                median = lambda key: statistics.median(run[key] for run in runs)  # noqa: E731
                print(f"| {workload} | {model} | {name} | {median('items/s'):.3f} | "
                      f"{statistics.median(ratios):.3f} ({min(ratios):.2f}–{max(ratios):.2f}) | "
                      f"{median('inference_cpu'):.2f} | {statistics.median(cpu_ratios):.3f} "
                      f"({min(cpu_ratios):.2f}–{max(cpu_ratios):.2f}) | {median('load'):.2f} / {median('load_cpu'):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
