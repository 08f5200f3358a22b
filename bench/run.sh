#!/bin/sh
# The benchmark driver: runs every benchmark on 127.0.0.1, gathers the BENCH
# lines they print into bench/out/raw.txt, and writes the markdown report to
# bench/out/results.md (and standard output). Run through `make bench`:
#   sh bench/run.sh [build_dir]
# Environment:
#   BENCH_QUICK=1    a smoke run: few packets, one round (seconds, not minutes)
#   BENCH_ROUNDS=n   rounds of each benchmark, interleaved (default 3; merged by median)
#   BENCH_PORT=p     first UDP port (default: random in 20000..49999)
#   BENCH_PIN=0      do not pin the two processes of a pair to CPUs 0 and 1
# Adding a benchmark: a program or script that prints "BENCH kind=... name=...
# key=value ..." lines (bench/README.md), and one call below.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd) || { echo "bench: no build directory" >&2; exit 2; }
BIN=$BUILD/bench
OUT=$ROOT/bench/out
RAW=$OUT/raw.txt
mkdir -p "$OUT"
: > "$RAW"

export LUA_PATH_5_4="$ROOT/lua/?.lua;$ROOT/lua/?/init.lua;;"
export LUA_CPATH_5_4="$BUILD/?.so;;"
LUA=${LUA:-lua5.4}

for f in "$BIN/udp_floor" "$BIN/capi_bench" "$BUILD/rtpmidi/core.so"; do
  [ -e "$f" ] || { echo "bench: $f is missing; build first (make bench)" >&2; exit 2; }
done

# Sizes: latency round trips (after warm-up), throughput packets.
if [ "${BENCH_QUICK:-0}" = 1 ]; then
  RT=2000 WARM=200 ROUNDS=${BENCH_ROUNDS:-1} PKTS=50000 CODEC_MSGS=100000
else
  RT=20000 WARM=2000 ROUNDS=${BENCH_ROUNDS:-3} PKTS=200000 CODEC_MSGS=2000000
fi
WINDOW=256
TMO=20        # seconds: every process stops by itself after this
KILL_AFTER=$((TMO + 10))   # and coreutils' timeout kills it after this

# Ports: each benchmark takes the next block of 10 (RTP on even ports).
PORT=${BENCH_PORT:-$(( 20000 + ($$ * 7919 + $(date +%s)) % 3000 * 10 ))}
next_port() { PORT=$((PORT + 10)); }

# Two processes of a pair on two different CPUs, when there are two.
PIN_A="" PIN_B="" PINNING="none"
if [ "${BENCH_PIN:-1}" = 1 ] && command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
  PIN_A="taskset -c 0" PIN_B="taskset -c 1" PINNING="measuring side on CPU 0, echo/sink side on CPU 1; one-process benchmarks on CPU 0"
fi

# Lines starting with BENCH go to the raw file and the terminal.
gather() { while IFS= read -r l; do case $l in BENCH\ *) echo "$l" >> "$RAW"; echo "  $l";; esac; done; }
bounded() { timeout -k 2 "$KILL_AFTER" "$@"; }

# pair "<echo side command>" "<measuring side command>": the echo side in the
# background on CPU 1, the measuring side on CPU 0; both stop by themselves.
pair() {
  # shellcheck disable=SC2086
  bounded $PIN_B $1 &
  bg=$!
  # shellcheck disable=SC2086
  bounded $PIN_A $2 | gather
  wait "$bg" 2>/dev/null
}
# one "<command>": a one-process benchmark on CPU 0.
one() {
  # shellcheck disable=SC2086
  bounded $PIN_A $1 | gather
}

# ---- the machine and the run ----
meta() { printf 'META %s="%s"\n' "$1" "$(echo "$2" | tr -d '"' | tr '\n' ' ' | sed 's/ *$//')" >> "$RAW"; }
meta date "$(date -u '+%Y-%m-%d %H:%M UTC')"
meta cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
meta cores "$(nproc) online ($(grep -c '^processor' /proc/cpuinfo) in /proc/cpuinfo)"
meta kernel "$(uname -srm)"
meta load "$(cut -d" " -f1-3 /proc/loadavg) (1, 5, 15 min load average before the run)"
if grep -q '^flags.* hypervisor' /proc/cpuinfo; then
  meta virt "$(systemd-detect-virt 2>/dev/null || echo "a hypervisor (cpuinfo flag)")"
fi
meta lua "$($LUA -v 2>&1 | head -n 1)"
meta libuv "$(pkg-config --modversion libuv 2>/dev/null || echo unknown)"
meta cc "$(${CC:-cc} --version 2>/dev/null | head -n 1)"
meta build_type "$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt")"
if commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null); then
  [ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null | head -n 1)" ] && commit="$commit (with uncommitted changes)"
  meta commit "$commit"
fi
meta pinning "$PINNING"
meta settings "$ROUNDS interleaved round(s) of each benchmark, merged by median (max: the largest); latency: $RT round trips after $WARM warm-up, 16-octet datagrams; throughput: $PKTS packets of 16 octets per round, at most $WINDOW in flight"

echo "rtpmidi benchmarks (raw lines in $RAW)"

# ---- 1-3: one-way latency, the floor and ours, interleaved rounds ----
r=1
while [ "$r" -le "$ROUNDS" ]; do
  echo "latency round $r of $ROUNDS"
  next_port; p=$PORT
  pair "$BIN/udp_floor echo $p $((p + 2)) 5" \
       "$BIN/udp_floor latency $((p + 2)) $p $RT $WARM $TMO"
  next_port; p=$PORT
  pair "$BIN/capi_bench echo $p $((p + 2)) 5" \
       "$BIN/capi_bench latency $((p + 2)) $p $RT $WARM $TMO"
  next_port; p=$PORT
  pair "$LUA $ROOT/bench/lua_echo.lua $p $((p + 2)) 5" \
       "$LUA $ROOT/bench/lua_latency.lua $((p + 2)) $p $RT $WARM $TMO"
  r=$((r + 1))
done

# ---- 4: throughput, interleaved rounds ----
r=1
while [ "$r" -le "$ROUNDS" ]; do
  echo "throughput round $r of $ROUNDS"
  next_port; p=$PORT
  one "$BIN/udp_floor throughput $p $((p + 2)) $PKTS $WINDOW $TMO"
  next_port; p=$PORT
  one "$BIN/capi_bench throughput $p $((p + 2)) $PKTS $WINDOW $TMO"
  next_port; p=$PORT
  one "$LUA $ROOT/bench/lua_throughput.lua 1proc $p $((p + 2)) $PKTS $WINDOW $TMO"
  next_port; p=$PORT
  pair "$LUA $ROOT/bench/lua_throughput.lua sink $p $((p + 2)) 5 $TMO" \
       "$LUA $ROOT/bench/lua_throughput.lua source $((p + 2)) $p $PKTS $WINDOW $TMO"
  r=$((r + 1))
done

# ---- 5: the MIDI codec, C and Lua ----
echo "codec"
one "$BIN/codec_bench $CODEC_MSGS"
one "$LUA $ROOT/bench/lua_codec.lua $((CODEC_MSGS / 5))"

# ---- the report ----
$LUA "$ROOT/bench/report.lua" "$RAW" > "$OUT/results.md" || exit 1
echo
cat "$OUT/results.md"
