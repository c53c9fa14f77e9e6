#!/usr/bin/env bash
# avahi-daemon inside a network namespace, for the mDNS interoperability tests:
#   avahi_netns.sh start NETNS DIR HOSTNAME   its own dbus-daemon (socket DIR/bus) and avahi-daemon
#                                             (a tmpfs over /run in its own mount namespace), on eth0
#   avahi_netns.sh run NETNS DIR CMD...       runs CMD in the namespace against that daemon
#   avahi_netns.sh stop DIR                   stops both
# `start` waits until the daemon answers (avahi-browse works) and exits non-zero with its log if not.
set -uo pipefail
cmd=${1:?start|run|stop}
case "$cmd" in
start)
  ns=$2 dir=$3 host=$4
  mkdir -p "$dir"
  cat >"$dir/bus.conf" <<XML
<busconfig><type>system</type><listen>unix:path=$dir/bus</listen><auth>EXTERNAL</auth>
 <policy context="default"><allow user="*"/><allow own="*"/>
  <allow send_destination="*"/><allow receive_sender="*"/></policy></busconfig>
XML
  printf '[server]\nhost-name=%s\nuse-ipv4=yes\nuse-ipv6=no\nallow-interfaces=eth0\nenable-dbus=yes\n[wide-area]\nenable-wide-area=no\n[publish]\npublish-hinfo=no\npublish-workstation=no\n' \
    "$host" >"$dir/avahi.conf"
  ip netns exec "$ns" dbus-daemon --config-file="$dir/bus.conf" --nofork --nopidfile >"$dir/dbus.log" 2>&1 &
  echo $! >"$dir/dbus.pid"
  for _ in $(seq 50); do [ -S "$dir/bus" ] && break; sleep 0.1; done
  ip netns exec "$ns" env DBUS_SYSTEM_BUS_ADDRESS="unix:path=$dir/bus" sh -c \
    "mount -t tmpfs none /run && exec avahi-daemon --no-drop-root --no-chroot --no-rlimits -f $dir/avahi.conf" \
    >"$dir/avahi.log" 2>&1 &
  echo $! >"$dir/avahi.pid"
  for _ in $(seq 100); do
    if ip netns exec "$ns" env DBUS_SYSTEM_BUS_ADDRESS="unix:path=$dir/bus" avahi-browse -at >/dev/null 2>&1; then
      exit 0
    fi
    sleep 0.1
  done
  echo "avahi-daemon did not come up:" >&2
  cat "$dir/avahi.log" "$dir/dbus.log" >&2
  exit 1
  ;;
run)
  ns=$2 dir=$3
  shift 3
  exec ip netns exec "$ns" env DBUS_SYSTEM_BUS_ADDRESS="unix:path=$dir/bus" "$@"
  ;;
stop)
  dir=$2
  for p in avahi dbus; do
    [ -f "$dir/$p.pid" ] && kill "$(cat "$dir/$p.pid")" 2>/dev/null
  done
  exit 0
  ;;
esac
