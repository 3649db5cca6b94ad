#!/usr/bin/env bash
# Speech-window vs untouched model (docs/silence.md): kokoro-floor on the vocab and sentences
# workloads, the two models interleaved (untouched, window, untouched, window, ...) so that both see
# the same machine load, 2 slots x 1 thread. Prints every run's RESULT line, then per workload the
# median items/s and decoded frames of each model and the speed-up.
#
#   bench/silence.sh [ROUNDS] [WORDS] [SENTENCES]     # defaults: 3 rounds, all 100 words, all 40 sentences
#
# The workloads are bench/workloads/silence/{vocab,sentences}.jsonl (id, text, phonemes of
# bench/workloads/{vocab,sentences}.json); phonemes are given, so the G2P is not timed.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${1:-3}
words=${2:-100}
sentences=${3:-40}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
head -n "$words" bench/workloads/silence/vocab.jsonl >"$scratch/vocab.jsonl"
head -n "$sentences" bench/workloads/silence/sentences.jsonl >"$scratch/sentences.jsonl"

cargo build --quiet --release -p kokoro-engine --bin kokoro-floor
floor=target/release/kokoro-floor

echo "# $(date -u +%FT%TZ) rounds=$rounds words=$words sentences=$sentences load: $(cut -d' ' -f1-3 /proc/loadavg)"
lscpu | grep -E '^(Model name|CPU\(s\))' | sed 's/^/# /'
for workload in vocab sentences; do
  for round in $(seq "$rounds"); do
    for model in untouched speech-window; do
      line=$("$floor" --model "$model" --slots 2 --threads 1 "$scratch/$workload.jsonl" | grep '^RESULT')
      echo "workload=$workload round=$round load=$(cut -d' ' -f1 /proc/loadavg) $line"
    done
  done
done | tee "$scratch/results.txt"

# Median of each (workload, model) over the rounds, then window / untouched.
awk '
  function field(name,   i) { for (i = 1; i <= NF; i++) if (index($i, name "=") == 1) return substr($i, length(name) + 2) }
  function median(list,   n, values, i, j, t) {
    n = split(list, values, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (values[j] + 0 < values[i] + 0) { t = values[i]; values[i] = values[j]; values[j] = t }
    return n % 2 ? values[(n + 1) / 2] : (values[n / 2] + values[n / 2 + 1]) / 2
  }
  {
    key = field("workload") SUBSEP field("model")
    rate[key] = rate[key] " " field("utt/s")
    frames[key] = field("decoded_frames")
    workloads[field("workload")] = 1
  }
  END {
    for (w in workloads) {
      u = median(rate[w SUBSEP "untouched"]); s = median(rate[w SUBSEP "speech-window"])
      printf "SUMMARY workload=%s decoded_frames=%s->%s (x%.2f fewer) items/s=%.3f->%.3f speed-up=x%.2f\n",
        w, frames[w SUBSEP "untouched"], frames[w SUBSEP "speech-window"],
        frames[w SUBSEP "untouched"] / frames[w SUBSEP "speech-window"], u, s, s / u
    }
  }' "$scratch/results.txt"
