#!/usr/bin/env bash
# Measures the inference layouts that crates/engine/src/inference.rs documents: one shared session
# vs one session per slot, at concurrency 1, 2 and 8, one process per layout (peak RSS is per process).
# Usage: crates/engine/scripts/measure-layouts.sh UTTERANCES.jsonl [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../../.."
utterances=${1:?usage: measure-layouts.sh UTTERANCES.jsonl [ROUNDS]}
rounds=${2:-1}
cargo build --quiet --release -p kokoro-engine --features session-per-slot --bin kokoro-floor
layouts=(
  "--sharing shared   --slots 1 --threads 1 --concurrency 1"
  "--sharing shared   --slots 2 --threads 1 --concurrency 2"
  "--sharing per-slot --slots 2 --threads 1 --concurrency 2"
  "--sharing shared   --slots 8 --threads 1 --concurrency 8"
  "--sharing per-slot --slots 8 --threads 1 --concurrency 8"
  "--sharing shared   --slots 2 --threads 1 --concurrency 8"
)
for round in $(seq "$rounds"); do
  for layout in "${layouts[@]}"; do
    # shellcheck disable=SC2086 # the layout is a list of flags
    /usr/bin/time -f "cpu=%Us+%Ss" ./target/release/kokoro-floor $layout "$utterances" 2>&1 | tr '\n' ' '
    echo "loadavg=$(cut -d' ' -f1 /proc/loadavg) round=$round"
  done
done
