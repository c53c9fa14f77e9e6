#!/usr/bin/env bash
# Installs the Debian 12 packages Hyphae needs to build, test and benchmark.
# Idempotent: installs only what is missing. Uses sudo when not root.
set -euo pipefail
packages=(
  build-essential cmake ninja-build ccache pkg-config git
  clang libclang-rt-14-dev
  libboost1.81-dev libsodium-dev libsqlite3-dev sqlite3
  nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev libyaml-cpp-dev liblz4-dev zlib1g-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  libzmq3-dev mosquitto libmosquitto-dev
  libpqxx-dev postgresql libssl-dev openssl
  iproute2 nftables procps curl jq python3
  avahi-daemon avahi-utils dbus
)
if [ "${1:-}" = "--fuzz" ]; then
  # libFuzzer builds need a clang whose C++ library support includes std::expected (clang 14 lacks it).
  packages+=(clang-19 libclang-rt-19-dev)
fi
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
# Node.js runs the third-party JavaScript clients the tests drive (tests/js): Debian's nodejs and
# npm unless a Node.js is installed already.
if ! command -v node >/dev/null 2>&1; then missing+=(nodejs npm); fi
install_js() {
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  if [ ! -d "$root/tests/js/node_modules" ] || [ "$root/tests/js/package-lock.json" -nt "$root/tests/js/node_modules" ]; then
    if (cd "$root/tests/js" && npm ci --no-audit --no-fund --silent); then touch "$root/tests/js/node_modules"; else
      echo "setup: npm ci in tests/js failed: the Socket.IO client tests will fail until it succeeds" >&2; fi
  fi
}
if [ ${#missing[@]} -eq 0 ]; then
  install_js
  exit 0
fi
echo "setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq || true
$SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}"
install_js
