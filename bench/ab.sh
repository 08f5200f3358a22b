#!/bin/sh
# Interleaved A/B of the rows that move with a change: two source trees, each
# with an optimised build in build-bench (make bench builds it), run in turn
# for ROUNDS rounds on CPUs 0 and 1 (C API and Lua one-way p50 in µs;
# MidiSession and AppleMIDI CPU seconds per million messages, one message a
# packet). Alternating the trees makes both see the same machine load.
#   sh bench/ab.sh /path/to/before /path/to/after [rounds]
set -u
A=$1 B=$2 ROUNDS=${3:-4}
p=${BENCH_PORT:-27000}
for round in $(seq 1 "$ROUNDS"); do
  for tree in "$A" "$B"; do
    bin=$tree/build-bench
    export LUA_PATH_5_4="$tree/lua/?.lua;$tree/lua/?/init.lua;;" LUA_CPATH_5_4="$bin/?.so;;"
    p=$((p + 10))
    taskset -c 1 "$bin/bench/capi_bench" echo $p $((p + 2)) 5 & bg=$!
    echo "$tree capi $(taskset -c 0 "$bin/bench/capi_bench" latency $((p + 2)) $p 5000 500 20 | grep -o 'p50_us=[0-9.]*')"
    wait $bg
    p=$((p + 10))
    taskset -c 1 lua5.4 "$tree/bench/lua_echo.lua" $p $((p + 2)) 5 & bg=$!
    echo "$tree lua $(taskset -c 0 lua5.4 "$tree/bench/lua_latency.lua" $((p + 2)) $p 5000 500 20 | grep -o 'p50_us=[0-9.]*')"
    wait $bg
    p=$((p + 10))
    echo "$tree midi $(taskset -c 0 lua5.4 "$tree/bench/lua_midi.lua" throughput $p $((p + 2)) 100000 256 20 | grep -o 'cpu_s_per_mmsg=[0-9.]*')"
    p=$((p + 10))
    echo "$tree apple $(taskset -c 0 lua5.4 "$tree/bench/lua_apple.lua" throughput $p $((p + 2)) 100000 256 20 2>/dev/null | grep -o 'cpu_s_per_mmsg=[0-9.]*')"
  done
done
