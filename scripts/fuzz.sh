#!/usr/bin/env bash
# Runs every libFuzzer target for a while, starting from its seed corpus in tests/fuzz/corpus/<name>.
# New inputs go to BUILD_DIR/fuzz-corpus/<name>, so the repository's seed corpora stay as committed.
# Usage: scripts/fuzz.sh BUILD_DIR [SECONDS_PER_TARGET]
set -euo pipefail
build=${1:?usage: fuzz.sh BUILD_DIR [SECONDS]}
seconds=${2:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
status=0
for target in "$build"/tests/fuzz_*; do
  [ -x "$target" ] || continue
  case "$target" in *_replay) continue ;; esac
  name=$(basename "$target"); name=${name#fuzz_}
  work="$build/fuzz-corpus/$name"
  mkdir -p "$work"
  echo "== fuzz_$name for ${seconds}s"
  if ! "$target" -max_total_time="$seconds" -print_final_stats=1 "$work" "$root/tests/fuzz/corpus/$name" 2>&1 \
      | grep -E '^(Done|stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY)'; then
    status=1
  fi
done
exit $status
