#!/usr/bin/env bash
# Runs every libFuzzer target for SECONDS (default 60) each, seeded from the test data.
# Usage: scripts/fuzz.sh [SECONDS] [target...]   (needs the asan-ubsan build: cmake --preset asan-ubsan)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}; shift || true
build=build/asan
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$build"/bin/fuzz_*; do targets+=("$(basename "$f" | sed 's/^fuzz_//')"); done
fi
for t in "${targets[@]}"; do
  corpus=$(mktemp -d)
  seeds="tests/data/fuzz-seeds/$t"
  [ -d "$seeds" ] && cp -r "$seeds"/. "$corpus"/
  if [ "$t" = gguf ]; then
    find tests/data -name '*.gguf' -size -800k -exec cp {} "$corpus"/ \;
  fi
  if [ "$t" = template ]; then
    cp tests/data/models/chat-templates/*.jinja "$corpus"/
  fi
  extra=()
  [ -f "fuzz/$t.dict" ] && extra+=("-dict=fuzz/$t.dict")
  echo "fuzz: $t for ${secs}s"
  "$build/bin/fuzz_$t" -max_total_time="$secs" -rss_limit_mb=4096 -max_len=1048576 -print_final_stats=1 "${extra[@]}" "$corpus" 2>&1 | tail -n 12
  rm -rf "$corpus"
done
