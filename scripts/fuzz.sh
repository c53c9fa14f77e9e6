#!/usr/bin/env bash
# Runs libFuzzer targets for a while, each starting from its seed corpus in tests/fuzz/corpus/<name>.
# New inputs go to BUILD_DIR/fuzz-corpus/<name>, so the repository's seed corpora stay as committed;
# crash inputs are kept in BUILD_DIR/fuzz-crashes/<name>/ and make the script exit non-zero.
#
# Usage: scripts/fuzz.sh [-j JOBS] [-r RUNS] BUILD_DIR [SECONDS_PER_TARGET] [NAME...]
#        scripts/fuzz.sh --merge BUILD_DIR [NAME...]
#   NAME is a target without its fuzz_ prefix (default: every fuzz_* binary in BUILD_DIR/tests).
#   -j JOBS fuzzes that many targets at once (default 2).
#   -r RUNS also stops a target after RUNS executions (whichever of time and runs comes first), so a
#      campaign can ask for "10 M executions or 20 minutes" per target.
#   --merge minimises seed + grown corpus into tests/fuzz/corpus/<name>/ with -merge=1, to commit.
set -euo pipefail
jobs=2
runs=-1
merge=0
while [ $# -gt 0 ]; do
  case "$1" in
    -j) jobs=${2:?-j needs a number}; shift 2 ;;
    -j*) jobs=${1#-j}; shift ;;
    -r) runs=${2:?-r needs a number}; shift 2 ;;
    --merge) merge=1; shift ;;
    *) break ;;
  esac
done
build=${1:?usage: fuzz.sh [-j JOBS] BUILD_DIR [SECONDS] [NAME...] | fuzz.sh --merge BUILD_DIR [NAME...]}
shift
seconds=30
if [ $merge -eq 0 ] && [ $# -gt 0 ] && [[ "$1" =~ ^[0-9]+$ ]]; then
  seconds=$1
  shift
fi
root=$(cd "$(dirname "$0")/.." && pwd)
# Symbolized crash stacks: any llvm-symbolizer will do (clang 19's own is not always installed).
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ]; then
  for s in /usr/lib/llvm-19/bin/llvm-symbolizer /usr/lib/llvm-14/bin/llvm-symbolizer; do
    if [ -x "$s" ]; then export ASAN_SYMBOLIZER_PATH=$s; break; fi
  done
fi

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for bin in "$build"/tests/fuzz_*; do
    [ -x "$bin" ] || continue
    case "$bin" in *_replay) continue ;; esac
    name=$(basename "$bin")
    names+=("${name#fuzz_}")
  done
fi
if [ ${#names[@]} -eq 0 ]; then
  echo "fuzz.sh: no fuzz_* binaries in $build/tests (build the fuzz preset first)" >&2
  exit 2
fi
for name in "${names[@]}"; do
  if [ ! -x "$build/tests/fuzz_${name#fuzz_}" ]; then
    echo "fuzz.sh: no such target: $build/tests/fuzz_${name#fuzz_}" >&2
    exit 2
  fi
done

count_files() { find "$1" -type f 2>/dev/null | wc -l; }

if [ $merge -eq 1 ]; then
  for name in "${names[@]}"; do
    name=${name#fuzz_}
    seeds="$root/tests/fuzz/corpus/$name"
    grown="$build/fuzz-corpus/$name"
    mkdir -p "$seeds" "$grown"
    tmp=$(mktemp -d)
    before=$(count_files "$seeds")
    "$build/tests/fuzz_$name" -merge=1 "$tmp" "$seeds" "$grown" >"$build/fuzz-merge-$name.log" 2>&1 || {
      echo "== fuzz_$name: merge failed, see $build/fuzz-merge-$name.log" >&2
      rm -rf "$tmp"
      exit 1
    }
    # Keep the named seeds that survived the merge; add the new inputs under their hash names.
    find "$seeds" -type f -print0 | while IFS= read -r -d '' f; do
      h=$(sha1sum "$f" | cut -d' ' -f1)
      if [ -e "$tmp/$h" ]; then rm "$tmp/$h"; fi
    done
    cp "$tmp"/* "$seeds"/ 2>/dev/null || true
    echo "== fuzz_$name: corpus $before -> $(count_files "$seeds") files in tests/fuzz/corpus/$name"
    rm -rf "$tmp"
  done
  exit 0
fi

# Runs one target; its libFuzzer output goes to BUILD_DIR/fuzz-logs/<name>.log, a summary to stdout.
run_one() {
  local name=${1#fuzz_}
  local work="$build/fuzz-corpus/$name" crashes="$build/fuzz-crashes/$name"
  local log="$build/fuzz-logs/$name.log"
  mkdir -p "$work" "$crashes" "$build/fuzz-logs"
  local rc=0 stamp="$build/fuzz-logs/$name.started"
  rm -f "$build/fuzz-logs/$name.failed"
  touch "$stamp"
  local started=$SECONDS
  "$build/tests/fuzz_$name" -max_total_time="$seconds" -runs="$runs" -print_final_stats=1 \
    -artifact_prefix="$crashes/" "$work" "$root/tests/fuzz/corpus/$name" >"$log" 2>&1 || rc=$?
  local elapsed=$((SECONDS - started))
  local execs cov ft
  execs=$(grep -E '^stat::number_of_executed_units' "$log" | tail -1 | awk '{print $2}')
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | awk '{print $2}')
  ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | awk '{print $2}')
  printf '== fuzz_%-22s execs=%-10s cov=%-6s ft=%-6s corpus=%s files time=%ss\n' "$name" "${execs:-?}" \
    "${cov:-?}" "${ft:-?}" "$(count_files "$work")" "$elapsed"
  if [ $rc -ne 0 ] || grep -qE '^==[0-9]+==ERROR|^SUMMARY: |deadly signal|Test unit written' "$log"; then
    echo "   CRASH in fuzz_$name (exit $rc), log: $log"
    grep -E '^==[0-9]+==ERROR|^SUMMARY: |Test unit written|^ +#[0-9]+ ' "$log" | head -25 | sed 's/^/   /'
    find "$crashes" -type f -newer "$stamp" | while read -r f; do
      echo "   input $f (first 256 bytes): $(head -c 256 "$f" | od -An -tx1 | tr -d ' \n')"
    done
    touch "$build/fuzz-logs/$name.failed"
    return 1
  fi
  return 0
}

for name in "${names[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
    wait -n || true
  done
  run_one "$name" &
done
wait
status=0
for name in "${names[@]}"; do
  if [ -e "$build/fuzz-logs/${name#fuzz_}.failed" ]; then status=1; fi
done
[ $status -eq 0 ] && echo "fuzz.sh: ${#names[@]} targets ran clean for ${seconds}s each" || echo "fuzz.sh: crashes found"
exit $status
