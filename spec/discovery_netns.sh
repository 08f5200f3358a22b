#!/bin/sh
# Real discovery, tested for real (issue #18): two network namespaces joined
# by a veth pair (nothing else in them), each with a system bus (dbus-daemon)
# and an avahi-daemon of its own, so mDNS multicast really flows between two
# Avahi stacks. Then the busted spec spec/discovery_netns.lua runs in
# namespace A and starts its peer in B. Three links, one after the other,
# each in fresh namespaces with fresh daemons:
#
#   v4     10.77.0.1/24 and 10.77.0.2/24; Avahi on IPv4 only. All the specs.
#   v6ll   IPv6 only, nothing but the kernel's link-local fe80:: addresses
#          (Macs and rtpmidid on a link without a router); Avahi on both
#          families. The specs tagged #each_link: what is found is
#          "fe80::...%veth0", and sessions invite and talk at that address.
#   v6ula  IPv6 only, with fd77::1/64 and fd77::2/64 too: Avahi publishes
#          the ULA (an address of wider scope wins over link-local), found
#          without a scope. The #each_link specs again.
#
# The spec learns each side's address, as discovered() writes it, from
# RTPMIDI_NETNS_ADDR_A/_B (the kernel makes the link-local ones).
#
# On each link dumpcap records A's veth0; tshark then finds no malformed
# packet, the AppleMIDI session (IN, OK, CK, BY, RTP-MIDI) and mDNS from
# the link's own addresses, and on an IPv6-only link no IPv4 at all.
#
#   sh spec/discovery_netns.sh BUILD_DIR [busted arguments]
#
# How each piece finds its bus: libdbus (and so avahi-daemon and Avahi's
# client library, which both ask dbus_bus_get_private(DBUS_BUS_SYSTEM)) takes
# the system bus address from DBUS_SYSTEM_BUS_ADDRESS; each namespace's
# daemons and programs get their own socket's address. avahi-daemon's pid
# file and socket are fixed paths (/run/avahi-daemon): each one runs in a
# mount namespace of its own with a tmpfs there.
#
# Exit 77 (skipped) with the reason when this cannot run: not root, no
# network namespaces, dbus-daemon, avahi-daemon or tshark missing (Debian
# packages dbus, avahi-daemon, tshark: `make deps-test`); also when the v4 link passed but the
# kernel has no IPv6 for the others. Everything started is torn down on
# exit (trap), whatever happens, and between links.
set -u
BUILD=${1:?usage: discovery_netns.sh BUILD_DIR [busted arguments]}
shift
ROOT=$(cd "$(dirname "$0")/.." && pwd)
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac

# The ASan build preloads its runtime for the specs (LD_PRELOAD, from
# CTest): only the spec gets it. The daemons and tools run as the system's
# do; under it avahi-daemon deadlocked in avahi_strerror (bindtextdomain's
# lock) answering a name collision, and mawk read past a buffer.
SPEC_PRELOAD=${LD_PRELOAD:-}
unset LD_PRELOAD

skip() { echo "skipped: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root for network namespaces (ip netns); CI runs it as root"
for t in ip unshare mount dbus-daemon dbus-send avahi-daemon busted lua5.4 dumpcap tshark; do
  command -v "$t" >/dev/null 2>&1 ||
    skip "$t is missing (Debian: iproute2, util-linux, dbus, avahi-daemon, lua-busted, tshark)"
done

# What a run killed without its trap (SIGKILL, a CTest timeout) left: the
# namespaces of scripts that are gone, and whatever still runs in them.
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^rtpm[0-9]+[ab]$'); do
  owner=${ns#rtpm}
  owner=${owner%?}
  kill -0 "$owner" 2>/dev/null && continue
  for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
  ip netns del "$ns" 2>/dev/null
done
for d in /tmp/rtpmidi-netns-*; do
  [ -d "$d" ] || continue
  owner=${d#/tmp/rtpmidi-netns-}
  owner=${owner%%.*}
  kill -0 "$owner" 2>/dev/null || rm -rf "$d"
done

TAG=rtpm$$
NSA=${TAG}a NSB=${TAG}b
TOP=$(mktemp -d /tmp/rtpmidi-netns-$$.XXXXXX)
# Everything started runs in one of the two namespaces (the buses too):
# `ip netns pids` finds it all.
teardown() {
  PIDS="$(ip netns pids "$NSA" 2>/dev/null) $(ip netns pids "$NSB" 2>/dev/null)"
  for p in $PIDS; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; done
  for p in $PIDS; do
    i=0
    while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    kill -9 "$p" 2>/dev/null
  done
  ip netns del "$NSA" 2>/dev/null
  ip netns del "$NSB" 2>/dev/null
}
cleanup() {
  teardown
  if [ -n "${RTPMIDI_KEEP_SPEC_OUTPUT:-}" ]; then echo "logs kept in $TOP"; else rm -rf "$TOP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# $1: v4, v6ll or v6ula. Makes the two namespaces and the veth pair between
# them, with that link's addresses; sets ADDR_A and ADDR_B (as discovered()
# writes them). Returns 1 when IPv6 cannot be had.
make_link() {
  ip netns add "$NSA" 2>/dev/null || skip "cannot make a network namespace (ip netns add: not permitted here)"
  ip netns add "$NSB" || exit 1
  ip link add "${TAG}v0" netns "$NSA" type veth peer name "${TAG}v1" netns "$NSB" ||
    skip "cannot make a veth pair (no veth in this kernel?)"
  ip -n "$NSA" link set "${TAG}v0" name veth0 && ip -n "$NSB" link set "${TAG}v1" name veth0 || exit 1
  case $1 in
    v4)
      ip -n "$NSA" addr add 10.77.0.1/24 dev veth0 && ip -n "$NSB" addr add 10.77.0.2/24 dev veth0 || exit 1
      ADDR_A=10.77.0.1 ADDR_B=10.77.0.2 ;;
    v6*)
      for ns in "$NSA" "$NSB"; do
        # no duplicate address detection on a link of two: the addresses
        # are usable the moment the link is up, not a second or two later
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.veth0.disable_ipv6=0 net.ipv6.conf.veth0.accept_dad=0 ||
          return 1
      done
      if [ "$1" = v6ula ]; then
        ip -n "$NSA" addr add fd77::1/64 dev veth0 nodad && ip -n "$NSB" addr add fd77::2/64 dev veth0 nodad || exit 1
        ADDR_A=fd77::1 ADDR_B=fd77::2
      fi ;;
  esac
  for ns in "$NSA" "$NSB"; do
    ip -n "$ns" link set lo up && ip -n "$ns" link set veth0 up multicast on || exit 1
  done
  if [ "$1" = v6ll ]; then
    # the kernel's link-local addresses (from the random MACs), with the
    # interface, as a link-local address is written
    i=0
    while :; do
      ADDR_A=$(ip -n "$NSA" -6 -o addr show dev veth0 scope link | awk '{ sub("/.*", "", $4); print $4; exit }')
      ADDR_B=$(ip -n "$NSB" -6 -o addr show dev veth0 scope link | awk '{ sub("/.*", "", $4); print $4; exit }')
      [ -n "$ADDR_A" ] && [ -n "$ADDR_B" ] && break
      i=$((i + 1)); [ $i -gt 50 ] && { echo "no link-local IPv6 address on veth0"; exit 1; }
      sleep 0.05
    done
    ADDR_A=$ADDR_A%veth0 ADDR_B=$ADDR_B%veth0
  fi
  return 0
}

# $1: a or b, $2: the namespace, $3: the link. Starts its bus and
# avahi-daemon; waits until the daemon answers on the bus.
start_stack() {
  side=$1 ns=$2 d=$DIR/$1
  v6=yes
  [ "$3" = v4 ] && v6=no
  mkdir -p "$d"
  cat >"$d/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$d/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
EOF
  cat >"$d/avahi.conf" <<EOF
[server]
host-name=rtpmidi-$side
domain-name=local
use-ipv4=yes
use-ipv6=$v6
allow-interfaces=veth0
enable-dbus=yes
ratelimit-interval-usec=0
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
publish-addresses=yes
[reflector]
enable-reflector=no
EOF
  ip netns exec "$ns" dbus-daemon --config-file="$d/bus.conf" --nofork --nopidfile >"$d/bus.log" 2>&1 &
  i=0
  while [ ! -S "$d/bus" ]; do
    i=$((i + 1)); [ $i -gt 100 ] && { echo "dbus-daemon of $side did not start:"; cat "$d/bus.log"; exit 1; }
    sleep 0.05
  done
  # avahi-start: starts this side's avahi-daemon (again: the spec restarts
  # A's) and records its pid for the spec and for the cleanup
  {
    echo '#!/bin/sh'
    echo "ip netns exec '$ns' env -u LD_PRELOAD DBUS_SYSTEM_BUS_ADDRESS='unix:path=$d/bus' unshare -m sh -c \\"
    echo "  'mount -t tmpfs rtpmidi-avahi /run && mkdir -p /run/avahi-daemon && exec avahi-daemon -f \"\$1\" --no-drop-root --no-chroot --no-rlimits --no-proc-title' \\"
    echo "  sh '$d/avahi.conf' >>'$d/avahi.log' 2>&1 &"
    echo "echo \$! >'$d/avahi.pid'"
  } >"$d/avahi-start"
  sh "$d/avahi-start"
  i=0
  until DBUS_SYSTEM_BUS_ADDRESS=unix:path=$d/bus dbus-send --system --print-reply --dest=org.freedesktop.Avahi / \
        org.freedesktop.Avahi.Server.GetState >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -gt 100 ] && { echo "avahi-daemon of $side did not come up:"; cat "$d/avahi.log"; exit 1; }
    sleep 0.1
  done
}

# $1: the link. What crossed A's veth0 while the spec ran ($DIR/veth0.pcap,
# decoded by tshark in one pass): no malformed packet; the AppleMIDI
# session (IN, OK, CK, BY, and RTP-MIDI both ways) and mDNS from the link's
# own addresses; on an IPv6-only link, not one IPv4 packet.
check_capture() {
  case $1 in
    v4) pre='^10\.77\.0\.' ;;
    v6ll) pre='^fe80:' ;;
    v6ula) pre='^fd77:' ;;
  esac
  tshark -r "$DIR/veth0.pcap" -T fields -E separator='|' -e _ws.malformed -e ip.src -e ipv6.src \
    -e applemidi.command -e frame.protocols >"$DIR/veth0.txt" 2>"$DIR/tshark.log" ||
    { echo "tshark cannot read the capture:"; cat "$DIR/tshark.log"; return 1; }
  awk -F'|' -v link="$1" -v pre="$pre" '
    { src = ($2 != "") ? $2 : $3 }
    $1 != "" || $5 ~ /malformed/ { bad++ }
    $2 != "" { v4++ }
    src ~ pre && $4 != "" { cmd[$4]++ }
    src ~ pre && $5 ~ /rtpmidi/ { midi++ }
    src ~ pre && $5 ~ /mdns/ { mdns++ }
    END {
      printf "capture on %s: %d packets, %d malformed, IN %d OK %d CK %d BY %d, RTP-MIDI %d, mDNS %d, IPv4 %d\n",
        link, NR, bad, cmd["0x494e"], cmd["0x4f4b"], cmd["0x434b"], cmd["0x4259"], midi, mdns, v4
      ok = bad == 0 && cmd["0x494e"] >= 2 && cmd["0x4f4b"] >= 2 && cmd["0x434b"] >= 1 && cmd["0x4259"] >= 1 &&
        midi >= 8 && mdns >= 1 && (link == "v4" || v4 == 0)
      exit ok ? 0 : 1
    }' "$DIR/veth0.txt"
}

# $1: the link; the rest: busted's arguments. Sets the link up, runs the
# spec in A (it starts its peers in B through RTPMIDI_NETNS_B), tears it all
# down. Returns busted's exit code, 77 when the link cannot be made.
run_link() {
  link=$1
  shift
  DIR=$TOP/$link
  mkdir -p "$DIR"
  make_link "$link" || { teardown; return 77; }
  start_stack a "$NSA" "$link"
  start_stack b "$NSB" "$link"
  echo "--- link $link: A at $ADDR_A, B at $ADDR_B"
  # the capture runs in A, so the teardown ends it if nothing else does
  ip netns exec "$NSA" dumpcap -q -i veth0 -w "$DIR/veth0.pcap" >"$DIR/dumpcap.log" 2>&1 &
  cap=$!
  i=0
  until grep -q "^File:" "$DIR/dumpcap.log" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 100 ] && { echo "dumpcap did not start:"; cat "$DIR/dumpcap.log"; exit 1; }
    sleep 0.05
  done
  ip netns exec "$NSA" env \
    ${SPEC_PRELOAD:+LD_PRELOAD="$SPEC_PRELOAD"} \
    DBUS_SYSTEM_BUS_ADDRESS="unix:path=$DIR/a/bus" \
    RTPMIDI_NETNS_B="$NSB" \
    RTPMIDI_NETNS_BUS_B="unix:path=$DIR/b/bus" \
    RTPMIDI_NETNS_DIR_A="$DIR/a" \
    RTPMIDI_NETNS_LINK="$link" RTPMIDI_NETNS_ADDR_A="$ADDR_A" RTPMIDI_NETNS_ADDR_B="$ADDR_B" \
    RTPMIDI_SOURCE_DIR="$ROOT" RTPMIDI_BUILD_DIR="$BUILD" \
    sh -c 'cd "$RTPMIDI_SOURCE_DIR" && exec busted --lua=lua5.4 "$@" spec/discovery_netns.lua' sh "$@" &
  # in the background: a signal's trap runs at once, not when busted ends
  wait $!
  rc=$?
  kill -INT $cap
  wait $cap
  [ $rc -ne 0 ] || check_capture "$link" || rc=1
  if [ $rc -ne 0 ]; then
    echo "--- avahi-daemon a ($link):"; tail -20 "$DIR/a/avahi.log"
    echo "--- avahi-daemon b ($link):"; tail -20 "$DIR/b/avahi.log"
  fi
  teardown
  return $rc
}

run_link v4 "$@" || exit $?
[ -d /proc/sys/net/ipv6 ] || skip "the v4 link passed; this kernel has no IPv6 for the v6 links"
run_link v6ll --tags=each_link "$@"
rc=$?
[ $rc = 77 ] && skip "the v4 link passed; IPv6 cannot be turned on in a namespace here (sysctl net.ipv6.conf)"
[ $rc = 0 ] || exit $rc
run_link v6ula --tags=each_link "$@"
