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
  libzmq3-dev mosquitto libmosquitto-dev iperf3
  libpqxx-dev postgresql libssl-dev openssl libnice-dev libusrsctp-dev
  iproute2 nftables procps curl jq python3
  avahi-daemon avahi-utils dbus
  chromium
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
# npm packages: tests/js (the third-party clients) and web/ (the browser peer and the web app).
install_js() {
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  for dir in tests/js web; do
    if [ ! -d "$root/$dir/node_modules" ] || [ "$root/$dir/package-lock.json" -nt "$root/$dir/node_modules" ]; then
      if (cd "$root/$dir" && npm ci --no-audit --no-fund --silent); then touch "$root/$dir/node_modules"; else
        echo "setup: npm ci in $dir failed: the JavaScript and browser tests will fail until it succeeds" >&2; fi
    fi
  done
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
