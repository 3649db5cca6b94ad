#!/usr/bin/env bash
# Start-up of the engine (docs/benchmark.md, "Start-up"): kokoro-floor's `load=` (assets verified,
# vocabulary, voices, ONNX Runtime session: what `new AudioWorkerPool()` waits for) for both models,
# in fresh processes, interleaved, 1 slot x 1 thread, each build on a scratch assets folder of
# symbolic links to its assets so that its graph cache can be removed:
#   cold    no cached graph: ONNX Runtime optimises the model and the graph is written (a first start)
#   cached  the cached optimised graph is loaded with the optimiser off (every later start)
# Builds: this checkout's kokoro-floor on its assets (`this`), or NAME=BINARY:ASSETS given, e.g. a
# kokoro-floor built at another commit or pinning another ONNX Runtime, with an assets folder that
# holds its library. Prints every run, then the median of each (build, model, kind): wall seconds
# and the CPU seconds the process had used when loading ended (`load_cpu=`, steadier than wall time
# on a busy machine).
#
#   bench/startup.sh [ROUNDS] [NAME=BINARY:ASSETS ...]     # default 5 rounds, this checkout
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${1:-5}
shift || true
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
builds=("$@")
if [ ${#builds[@]} -eq 0 ]; then
  cargo build --quiet --release -p kokoro-engine --bin kokoro-floor
  cp "${CARGO_TARGET_DIR:-target}/release/kokoro-floor" "$scratch/kokoro-floor"
  builds=("this=$scratch/kokoro-floor:${KOKORO_POOL_ASSETS:-assets}")
fi
names=()
for build in "${builds[@]}"; do
  name=${build%%=*} rest=${build#*=}
  binary=${rest%%:*} assets=$(readlink -f "${rest#*:}")
  mkdir "$scratch/$name"
  for entry in "$assets"/*; do
    [ "$(basename "$entry")" = cache ] || ln -s "$entry" "$scratch/$name/"
  done
  ln -s "$(readlink -f "$binary")" "$scratch/$name.kokoro-floor"
  names+=("$name")
done
head -n 1 bench/workloads/silence/vocab.jsonl >"$scratch/one.jsonl"

start() { # build kind model
  local line
  line=$("$scratch/$1.kokoro-floor" --assets "$scratch/$1" --model "$3" --slots 1 --threads 1 "$scratch/one.jsonl" |
    grep -o 'load=[0-9.]*s\|load_cpu=[0-9.]*s' | tr '\n' ' ')
  echo "build=$1 model=$3 kind=$2 $line loadavg=$(cut -d' ' -f1 /proc/loadavg)"
}

echo "# $(date -u +%FT%TZ) rounds=$rounds load: $(cut -d' ' -f1-3 /proc/loadavg)"
lscpu | grep -E '^(Model name|CPU\(s\)|Flags)' | sed -E 's/^Flags:.*/Flags (selected): '"$(grep -o -w 'avx2\|fma\|avx512f\|avx512_vnni\|avx_vnni' /proc/cpuinfo | sort -u | tr '\n' ' ')"'/; s/^/# /'
for round in $(seq "$rounds"); do
  for model in untouched speech-window; do
    for name in "${names[@]}"; do
      rm -rf "$scratch/$name/cache"
      start "$name" cold "$model"
      start "$name" cached "$model"
    done
  done
done | tee "$scratch/runs.txt"

python3 - "$scratch/runs.txt" <<'PY'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    fields = dict(re.findall(r'(\w+)=([^ ]+)', line))
    runs.setdefault((fields['build'], fields['model'], fields['kind']), []).append(
        (float(fields['load'].rstrip('s')), float(fields['load_cpu'].rstrip('s'))))
print('\n| build | model | start | runs | load s (median) | load s (min–max) | load CPU s (median) |')
print('|---|---|---|--:|--:|--:|--:|')
for (build, model, kind), values in sorted(runs.items()):
    loads = [load for load, _ in values]
    cpus = [cpu for _, cpu in values]
    print(f'| {build} | {model} | {kind} | {len(values)} | {statistics.median(loads):.2f} | '
          f'{min(loads):.2f}–{max(loads):.2f} | {statistics.median(cpus):.2f} |')
PY
