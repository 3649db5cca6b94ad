#!/usr/bin/env bash
# Start-up of the engine (docs/benchmark.md, "Start-up"): kokoro-floor's `load=` (assets verified,
# vocabulary, voices, ONNX Runtime session: what `new AudioWorkerPool()` waits for) for both models,
# in fresh processes, interleaved, 1 slot x 1 thread, on a scratch assets folder of symbolic links
# to the real one so that its graph cache can be removed:
#   cold    no cached graph: ONNX Runtime optimises the model and the graph is written (a first start)
#   cached  the cached optimised graph is loaded with the optimiser off (every later start)
#   before  BEFORE_BINARY, a kokoro-floor built without the cache (optional), on the same folder
# Prints every run, then the median of each (model, kind): wall seconds and the CPU seconds the
# process had used when loading ended (`load_cpu=`, steadier than wall time on a busy machine).
#
#   bench/startup.sh [ROUNDS] [BEFORE_BINARY]     # default 5 rounds
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${1:-5}
before=${2:-}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cargo build --quiet --release -p kokoro-engine --bin kokoro-floor
cp "${CARGO_TARGET_DIR:-target}/release/kokoro-floor" "$scratch/kokoro-floor"
real_assets=$(readlink -f "${KOKORO_POOL_ASSETS:-assets}")
mkdir "$scratch/assets"
for entry in "$real_assets"/*; do
  [ "$(basename "$entry")" = cache ] || ln -s "$entry" "$scratch/assets/"
done
head -n 1 bench/workloads/silence/vocab.jsonl >"$scratch/one.jsonl"

start() { # kind binary model
  local line
  line=$(KOKORO_POOL_ASSETS="$scratch/assets" "$2" --model "$3" --slots 1 --threads 1 "$scratch/one.jsonl" |
    grep -o 'load=[0-9.]*s\|load_cpu=[0-9.]*s' | tr '\n' ' ')
  echo "model=$3 kind=$1 $line loadavg=$(cut -d' ' -f1 /proc/loadavg)"
}

echo "# $(date -u +%FT%TZ) rounds=$rounds load: $(cut -d' ' -f1-3 /proc/loadavg)"
lscpu | grep -E '^(Model name|CPU\(s\)|Flags)' | sed -E 's/^Flags:.*/Flags (selected): '"$(grep -o -w 'avx2\|fma\|avx512f\|avx512_vnni\|avx_vnni' /proc/cpuinfo | sort -u | tr '\n' ' ')"'/; s/^/# /'
for round in $(seq "$rounds"); do
  for model in untouched speech-window; do
    [ -z "$before" ] || start before "$before" "$model"
    rm -rf "$scratch/assets/cache"
    start cold "$scratch/kokoro-floor" "$model"
    start cached "$scratch/kokoro-floor" "$model"
  done
done | tee "$scratch/runs.txt"

python3 - "$scratch/runs.txt" <<'PY'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    fields = dict(re.findall(r'(\w+)=([^ ]+)', line))
    # Binaries built before load_cpu existed do not report it.
    cpu = float(fields['load_cpu'].rstrip('s')) if 'load_cpu' in fields else None
    runs.setdefault((fields['model'], fields['kind']), []).append((float(fields['load'].rstrip('s')), cpu))
print('\n| model | start | runs | load s (median) | load s (min–max) | load CPU s (median) |')
print('|---|---|--:|--:|--:|--:|')
for (model, kind), values in runs.items():
    loads = [load for load, _ in values]
    cpus = [cpu for _, cpu in values if cpu is not None]
    cpu = f'{statistics.median(cpus):.2f}' if cpus else '—'
    print(f'| {model} | {kind} | {len(values)} | {statistics.median(loads):.2f} | '
          f'{min(loads):.2f}–{max(loads):.2f} | {cpu} |')
PY
