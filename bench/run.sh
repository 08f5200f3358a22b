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
#   NODE=node        the node binary for the node-rtpmidi rows (spec/peers)
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
# the latency samples of each benchmark (one-way µs, one a line), for the plot
export BENCH_DAT_DIR="$OUT"
rm -f "$OUT"/*.dat "$OUT"/*.cdf "$OUT"/latency.png

export LUA_PATH_5_4="$ROOT/lua/?.lua;$ROOT/lua/?/init.lua;;"
export LUA_CPATH_5_4="$BUILD/?.so;;"
LUA=${LUA:-lua5.4}

for f in "$BIN/udp_floor" "$BIN/uv_floor" "$BIN/capi_bench" "$BIN/journal_bench" "$BUILD/rtpmidi/core.so"; do
  [ -e "$f" ] || { echo "bench: $f is missing; build first (make bench)" >&2; exit 2; }
done

# Sizes: latency round trips (after warm-up), throughput packets.
# Scale: pairs per run, seconds of idle each (the last, largest, gets
# SCALE_IDLE_LAST; a full run idles 10 s, two of MidiSession's default 5 s
# RTCP intervals, issue 20), probe round trips. Journal: packets per polyphony.
if [ "${BENCH_QUICK:-0}" = 1 ]; then
  RT=2000 WARM=200 ROUNDS=${BENCH_ROUNDS:-1} PKTS=30000 TP_MIN_S=0.2 CODEC_MSGS=100000
  NODE_RT=500 NODE_MSGS=5000 SCALE_N="1 1000" SCALE_IDLE=1 SCALE_IDLE_LAST=1 PROBE=500
  POLY_PKTS=50 POLY_WARM=100 BURSTS=2 JOURNAL_ITERS=20000 MIDI_E2E_NOTES=200
else
  RT=5000 WARM=500 ROUNDS=${BENCH_ROUNDS:-3} PKTS=100000 TP_MIN_S=2 CODEC_MSGS=2000000
  NODE_RT=5000 NODE_MSGS=30000 SCALE_N="1 10 100 1000 4000" SCALE_IDLE=10 SCALE_IDLE_LAST=10 PROBE=2000
  POLY_PKTS=200 POLY_WARM=300 BURSTS=9 JOURNAL_ITERS=200000 MIDI_E2E_NOTES=2000
fi
WINDOW=256
NODE_WINDOW=128   # node-rtpmidi loses packets to the socket buffer at 256 in flight
NODE=${NODE:-node}
TMO=20        # seconds: every process stops by itself after this
KILL_AFTER=$((TMO + 10))   # and coreutils' timeout kills it after this

# Ports: each benchmark takes the next block of 10 (RTP on even ports).
# The scale runs take blocks of 4 ports per pair after the others; the
# start leaves room for all of it below 65536.
PORT=${BENCH_PORT:-$(( 20000 + ($$ * 7919 + $(date +%s)) % 1500 * 10 ))}
next_port() { PORT=$((PORT + 10)); }

# 4,000 pairs = 8,000 sessions with 2 sockets each: raise the soft limit of
# open files to the hard limit (reported in the header either way).
FD_WANT=16200
FD_HARD=$(ulimit -H -n)
if [ "$FD_HARD" = unlimited ] || [ "$FD_HARD" -ge 65536 ]; then ulimit -n 65536 2>/dev/null
else ulimit -n "$FD_HARD" 2>/dev/null; fi
FD_SOFT=$(ulimit -n)
if [ "$FD_SOFT" != unlimited ] && [ "$FD_SOFT" -lt "$FD_WANT" ]; then
  FD_NOTE="soft limit $FD_SOFT (hard $FD_HARD): too low for 4,000 pairs ($FD_WANT wanted); those rows say so"
else
  FD_NOTE="soft limit raised to $FD_SOFT (hard $FD_HARD)"
fi

# node-rtpmidi (spec/peers/README.md): node and the npm package
NODE_OK=0 NODE_WHY=""
if ! command -v "$NODE" >/dev/null 2>&1; then NODE_WHY="node is not installed"
elif [ ! -d "$ROOT/spec/peers/node_modules/rtpmidi" ]; then
  NODE_WHY="node-rtpmidi is not installed (cd spec/peers && npm install --omit=optional --ignore-scripts --no-package-lock)"
else NODE_OK=1; fi
node_missing() { printf 'BENCH kind=%s name=%s status="not available" why="%s"\n' "$1" "$2" "$NODE_WHY" >> "$RAW"; echo "  $2: not available: $NODE_WHY"; }

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
meta node "$( [ "$NODE_OK" = 1 ] && echo "$($NODE --version) with node-rtpmidi $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$ROOT/spec/peers/node_modules/rtpmidi/package.json" | head -n 1)" || echo "$NODE_WHY")"
meta pinning "$PINNING"
meta fds "$FD_NOTE"
meta settings "$ROUNDS interleaved round(s) of each benchmark, merged by median (max: the largest); latency: $RT round trips after $WARM warm-up, 16-octet datagrams (RTP-MIDI: 3-octet messages, journal on); node-rtpmidi rows: $ROUNDS rounds of $NODE_RT after $((NODE_RT / 10)) warm-up; throughput: 16-octet packets (or MIDI messages), every row at least $TP_MIN_S s a round after a warm-up run that sizes it (from $PKTS; $NODE_MSGS for node-rtpmidi), at most $WINDOW in flight ($NODE_WINDOW for node-rtpmidi); scale: $SCALE_N pairs, idle ${SCALE_IDLE} s (${SCALE_IDLE_LAST} s for the largest), $PROBE probe round trips"

echo "rtpmidi benchmarks (raw lines in $RAW)"

# ---- 1-3: one-way latency, the floor and ours, interleaved rounds ----
r=1
while [ "$r" -le "$ROUNDS" ]; do
  echo "latency round $r of $ROUNDS"
  next_port; p=$PORT
  pair "$BIN/udp_floor echo $p $((p + 2)) 5" \
       "$BIN/udp_floor latency $((p + 2)) $p $RT $WARM $TMO"
  next_port; p=$PORT
  pair "$BIN/uv_floor echo $p $((p + 2)) 5" \
       "$BIN/uv_floor latency $((p + 2)) $p $RT $WARM $TMO"
  next_port; p=$PORT
  pair "$BIN/capi_bench echo $p $((p + 2)) 5" \
       "$BIN/capi_bench latency $((p + 2)) $p $RT $WARM $TMO"
  next_port; p=$PORT
  pair "$LUA $ROOT/bench/lua_echo.lua $p $((p + 2)) 5" \
       "$LUA $ROOT/bench/lua_latency.lua $((p + 2)) $p $RT $WARM $TMO"
  next_port; p=$PORT
  pair "$LUA $ROOT/bench/lua_midi.lua echo $p $((p + 2)) 5" \
       "$LUA $ROOT/bench/lua_midi.lua latency $((p + 2)) $p $RT $WARM $TMO"
  next_port; p=$PORT
  pair "$LUA $ROOT/bench/lua_apple.lua echo $p 5" \
       "$LUA $ROOT/bench/lua_apple.lua latency $((p + 2)) $p $RT $WARM $TMO"
  next_port; p=$PORT
  pair "$LUA $ROOT/bench/lua_midi2.lua echo $p 5" \
       "$LUA $ROOT/bench/lua_midi2.lua latency $((p + 2)) $p $RT $WARM $TMO"
  r=$((r + 1))
done
# node-rtpmidi: the same rounds as ours, each after its warm-up round trips
# (and node-rtpmidi's own CK exchange, ~1.5 s before it sends); the echo
# side stops on BY, idle or its timeout. Merged by median like ours.
echo "latency: node-rtpmidi"
r=1
while [ "$r" -le "$ROUNDS" ]; do
  if [ "$NODE_OK" = 1 ]; then
    next_port; p=$PORT
    pair "$NODE $ROOT/bench/node_rtpmidi.js echo $p 5 $TMO" \
         "$NODE $ROOT/bench/node_rtpmidi.js latency $((p + 2)) $p $NODE_RT $((NODE_RT / 10)) $TMO"
    next_port; p=$PORT
    pair "$NODE $ROOT/bench/node_rtpmidi.js echo $p 5 $TMO" \
         "$LUA $ROOT/bench/lua_apple.lua latency $((p + 2)) $p $NODE_RT $((NODE_RT / 10)) $TMO rtpmidi_node"
  elif [ "$r" = 1 ]; then
    node_missing latency node_rtpmidi
    node_missing latency rtpmidi_node
  fi
  r=$((r + 1))
done

# ---- 4: throughput, interleaved rounds ----
# Every throughput row runs at least TP_MIN_S seconds (issue 20: shorter runs
# flatter, a scheduler hiccup weighs more). A row's first run is a warm-up
# that also sizes it: it starts with the count given; when it ends sooner,
# it runs again with the count scaled to TP_MIN_S + 10 %, and the count that
# was long enough is kept for the next rounds. Only runs that lasted are
# gathered. tp <one|pair> <name> <command> [<background command>]: "@N@"
# in a command is the count, "@P@" the port block and "@Q@" that + 2;
# TP_N0 the count a row starts from.
TP_N_FILE=$OUT/tp_counts
: > "$TP_N_FILE"
TP_N0=$PKTS
tp() {
  how=$1 name=$2 cmd=$3 bgcmd=${4:-}
  n=$(sed -n "s/^$name //p" "$TP_N_FILE" | tail -n 1)
  warm=0
  [ -z "$n" ] && { n=$TP_N0; warm=1; }
  tries=0
  while :; do
    next_port; p=$PORT
    c=$(echo "$cmd" | sed "s/@N@/$n/g; s/@P@/$p/g; s/@Q@/$((p + 2))/g")
    if [ "$how" = pair ]; then
      b=$(echo "$bgcmd" | sed "s/@N@/$n/g; s/@P@/$p/g; s/@Q@/$((p + 2))/g")
      # shellcheck disable=SC2086
      bounded $PIN_B $b & bg=$!
      # shellcheck disable=SC2086
      res=$(bounded $PIN_A $c | grep '^BENCH ')
      wait "$bg" 2>/dev/null
    else
      # shellcheck disable=SC2086
      res=$(bounded $PIN_A $c | grep '^BENCH ')
    fi
    secs=$(echo "$res" | sed -n 's/.* seconds=\([0-9.]*\).*/\1/p' | head -n 1)
    tries=$((tries + 1))
    long=$(awk -v s="${secs:-0}" -v m="$TP_MIN_S" 'BEGIN { print (s >= m) ? 1 : 0 }')
    if [ "$long" = 1 ] && [ "$warm" = 0 ]; then break; fi
    [ "$tries" -ge 4 ] && break
    if [ "$long" = 0 ] && [ -n "$secs" ]; then
      n=$(awk -v n="$n" -v s="$secs" -v m="$TP_MIN_S" 'BEGIN { if (s < 0.01) s = 0.01; printf "%d", n * m * 1.1 / s + 1 }')
    fi
    warm=0
  done
  echo "$name $n" >> "$TP_N_FILE"
  echo "$res" | gather
}
r=1
while [ "$r" -le "$ROUNDS" ]; do
  echo "throughput round $r of $ROUNDS"
  tp one udp_floor "$BIN/udp_floor throughput @P@ @Q@ @N@ $WINDOW $TMO"
  tp one udp_floor_batch "$BIN/udp_floor throughput_batch @P@ @Q@ @N@ $WINDOW $TMO"
  tp one capi "$BIN/capi_bench throughput @P@ @Q@ @N@ $WINDOW $TMO"
  tp one lua_1proc "$LUA $ROOT/bench/lua_throughput.lua 1proc @P@ @Q@ @N@ $WINDOW $TMO"
  tp pair lua_2proc "$LUA $ROOT/bench/lua_throughput.lua source @Q@ @P@ @N@ $WINDOW $TMO" \
     "$LUA $ROOT/bench/lua_throughput.lua sink @P@ @Q@ 5 $TMO"
  for batch in "" batch; do
    tp one "midi$batch" "$LUA $ROOT/bench/lua_midi.lua throughput @P@ @Q@ @N@ $WINDOW $TMO $batch"
    tp one "apple$batch" "$LUA $ROOT/bench/lua_apple.lua throughput @P@ @Q@ @N@ $WINDOW $TMO $batch"
  done
  next_port; p=$PORT
  one "$LUA $ROOT/bench/lua_midi2.lua throughput $p $((p + 2)) $PKTS $WINDOW $TMO"
  r=$((r + 1))
done
# node-rtpmidi: the same rounds, after the warm-up run that sizes them
echo "throughput: node-rtpmidi"
if [ "$NODE_OK" = 1 ]; then
  r=1
  while [ "$r" -le "$ROUNDS" ]; do
    TP_N0=$NODE_MSGS
    tp one node "$NODE $ROOT/bench/node_rtpmidi.js throughput @P@ @Q@ @N@ $NODE_WINDOW $TMO"
    r=$((r + 1))
  done
else
  node_missing midi_throughput node_rtpmidi_1proc
fi

# ---- scale: N session pairs in one process, timers running ----
for kind in midi apple; do
  for n in $SCALE_N; do
    echo "scale: $kind, $n pairs"
    idle=$SCALE_IDLE
    [ "$n" = "${SCALE_N##* }" ] && idle=$SCALE_IDLE_LAST
    next_port
    # a run takes 4 ports a pair from $PORT: start low again when it
    # would not fit (each run is a process of its own, done before the next)
    [ $((PORT + 4 * n + 100)) -gt 65000 ] && PORT=$((20000 + PORT % 1000))
    p=$PORT
    one "$LUA $ROOT/bench/lua_scale.lua $kind $n $p $idle $PROBE $((PROBE / 10)) $TMO"
    PORT=$((PORT + 4 * n + 100))   # lua_scale.lua skips ports it cannot bind
  done
done

# ---- the recovery journal: octets per packet, repair after a burst ----
echo "journal"
next_port; p=$PORT
one "$LUA $ROOT/bench/lua_journal.lua poly $p $POLY_PKTS $POLY_WARM"
PORT=$((PORT + 60))
next_port; p=$PORT
one "$LUA $ROOT/bench/lua_journal.lua repair $p $BURSTS 20"
one "$BIN/journal_bench $JOURNAL_ITERS"

# ---- MIDI in to MIDI out through two sessions on JACK (issue 6) ----
if command -v jackd >/dev/null 2>&1; then
  echo "midi in to out"
  next_port; p=$PORT
  # its own bound: the latency runs and the scheduled phrases take ~30 s in
  # a full run, past TMO; the script stops itself at E2E_TMO (and stops its
  # jackd, which a kill would leave running)
  E2E_TMO=60 kill_saved=$KILL_AFTER
  KILL_AFTER=$((E2E_TMO + 10))
  one "$LUA $ROOT/bench/midi_e2e.lua $p $MIDI_E2E_NOTES $E2E_TMO"
  KILL_AFTER=$kill_saved
fi

# ---- 5: the MIDI codec, C and Lua ----
echo "codec"
one "$BIN/codec_bench $CODEC_MSGS"
one "$LUA $ROOT/bench/lua_codec.lua $((CODEC_MSGS / 5))"

# ---- the plot: latency distributions from the samples ----
if command -v gnuplot >/dev/null 2>&1; then
  if sh "$ROOT/bench/plot.sh" "$OUT"; then
    echo "PLOT latency.png" >> "$RAW"
  else
    echo "bench: gnuplot failed; no plot" >&2
  fi
else
  echo "bench: gnuplot is missing (make bench installs gnuplot-nox); no plot" >&2
fi

# ---- the report ----
$LUA "$ROOT/bench/report.lua" "$RAW" > "$OUT/results.md" || exit 1
echo
cat "$OUT/results.md"
