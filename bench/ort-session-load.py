"""Session creation cost inside ONNX Runtime itself, for each model and optimisation setting
(docs/startup.md): CPU seconds of `InferenceSession(...)` with one intra-op thread, median of
ROUNDS, for whichever onnxruntime the interpreter imports. Compares the Python packages of two
ONNX Runtime versions on the same files without touching the engine.

    python bench/ort-session-load.py ASSETS_DIR [ROUNDS]
"""

import os

# ONNX Runtime's telemetry off, before it is imported (crates/engine/src/inference.rs, ORT_TELEMETRY_ENV).
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
import statistics
import sys
import tempfile
import time

import onnxruntime as ort

Level = ort.GraphOptimizationLevel


def session_cpu_seconds(path, level, save_to=None, memory_reuse=True):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.graph_optimization_level = level
    options.enable_mem_reuse = memory_reuse
    options.log_severity_level = 3
    if save_to:
        options.optimized_model_filepath = save_to
    started = time.process_time()
    ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return time.process_time() - started


def main():
    assets, rounds = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3
    print(f"onnxruntime {ort.__version__}; CPU seconds, median of {rounds}")
    print("| model | optimise all | optimiser off | cached optimised graph, optimiser off | same, no memory reuse plan |")
    print("|---|--:|--:|--:|--:|")
    with tempfile.TemporaryDirectory() as scratch:
        for name in ["kokoro-v1.0.int8.onnx", "kokoro-v1.0.int8.speech-window.onnx"]:
            model = os.path.join(assets, name)
            cached = os.path.join(scratch, name)
            session_cpu_seconds(model, Level.ORT_ENABLE_ALL, save_to=cached)
            runs = {
                "all": lambda: session_cpu_seconds(model, Level.ORT_ENABLE_ALL),
                "off": lambda: session_cpu_seconds(model, Level.ORT_DISABLE_ALL),
                "cached": lambda: session_cpu_seconds(cached, Level.ORT_DISABLE_ALL),
                "no reuse": lambda: session_cpu_seconds(cached, Level.ORT_DISABLE_ALL, memory_reuse=False),
            }
            medians = {key: statistics.median(run() for _ in range(rounds)) for key, run in runs.items()}
            print(f"| {name} | " + " | ".join(f"{value:.2f}" for value in medians.values()) + " |")


if __name__ == "__main__":
    main()
