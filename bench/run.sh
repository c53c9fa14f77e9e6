#!/usr/bin/env bash
# Builds the benchmark programs in BUILD_DIR and runs them; results go to bench/results/.
# Usage: bash bench/run.sh BUILD_DIR [ARGS...]   (ARGS, e.g. --quick, are passed to each program)
# Runs node_bench if it exists (it measures the baselines itself), otherwise baselines; then the
# micro-benchmarks (selector, QoS scheduler, fragmentation) and the failover benchmark, which print
# their own comparisons.
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: bash bench/run.sh BUILD_DIR [ARGS...]" >&2
  exit 2
fi
build_dir=$1
shift
case "$build_dir" in /*) ;; *) build_dir="$PWD/$build_dir" ;; esac
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  echo "bench/run.sh: $build_dir is not a configured CMake build dir (try: make bench)" >&2
  exit 2
fi

# Every bench/*.cpp is one program named after the file.
targets=()
for src in bench/*.cpp; do
  [ -e "$src" ] && targets+=("$(basename "$src" .cpp)")
done
if [ ${#targets[@]} -eq 0 ]; then
  echo "bench/run.sh: no bench programs in bench/" >&2
  exit 2
fi
echo "== building: ${targets[*]}"
cmake --build "$build_dir" --target "${targets[@]}"

if [ -x "$build_dir/bench/node_bench" ]; then
  programs=(node_bench)
else
  programs=(baselines)
fi
for micro in selector_bench qos_bench fragment_bench failover_bench bitchat_sim_bench bitchat_relay_bench bitchat_lan_bench registry_bench discovery_bench relay_bench websocket_bench files_bench webrtc_bench sphinx_bench htx_bench mixnet_bench; do
  [ -x "$build_dir/bench/$micro" ] && programs+=("$micro")
done

mkdir -p bench/results
status=0
for p in "${programs[@]}"; do
  exe="$build_dir/bench/$p"
  if [ ! -x "$exe" ]; then
    echo "bench/run.sh: $exe was not built" >&2
    status=1
    continue
  fi
  echo "== running $p $*"
  # Bounded: no program may run longer than 15 minutes. Programs write their JSON to bench/results/.
  if ! timeout --kill-after=10 900 "$exe" "$@"; then
    echo "bench/run.sh: $p failed" >&2
    status=1
  fi
done
echo "== results in $root/bench/results/"
exit $status
