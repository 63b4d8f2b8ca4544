#!/bin/sh
# Builds .devdata/ (git-ignored): the part of tests/data that GPU runs on the device machine need,
# small enough to travel with the tree (the device tool takes 64 MiB in all). Usage:
#   scripts/device-data.sh [SRC_TESTS_DATA [MODEL_REGEX]]     then carry ".devdata" and export
#   HEARTH_TEST_DATA=$PWD/.devdata on the device machine.
# DEVDATA=DIR writes DIR instead. Golden cases whose model is left out are skipped by the tests, not failed.
set -eu
src=${1:-tests/data}
keep=${2:-.}  # extended regex on the synthetic model file names
dst=${DEVDATA:-.devdata}
rm -rf "$dst"
mkdir -p "$dst/reference/models" "$dst/models"
cp -r "$src/reference/logits" "$src/reference/stories260K" "$src/reference/tolerances.json" "$dst/reference/"
cp -r "$src/models/tinyllamas" "$dst/models/"
for f in "$src"/reference/models/*.gguf; do
  case $(basename "$f") in
    synth-llama-pure-bf16.gguf|synth-llama-pure-f16.gguf) ;;  # 7 MiB of the budget, covered on the CPU
    *) if basename "$f" | grep -qE -e "$keep"; then cp "$f" "$dst/reference/models/"; fi ;;
  esac
done
grep -qx "/$dst/" "$(git rev-parse --git-common-dir)/info/exclude" 2>/dev/null || echo "/$dst/" >> "$(git rev-parse --git-common-dir)/info/exclude"
du -sh "$dst"
