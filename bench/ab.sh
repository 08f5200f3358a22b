#!/bin/sh
# Interleaved A/B of the rows that move with a change: two source trees, each
# with an optimised build in build-bench (make bench builds it), run in turn
# for ROUNDS rounds on CPUs 0 and 1. Alternating the trees makes both see the
# same machine load. Per tree and round:
#   latency p50 (µs, one way): uv_floor, capi, lua, midisession
#   throughput (packets/s and CPU s per million packets, one process,
#   AB_TP_N packets, >= 2 s on a 2-core VM): udp_floor_batch (the batch
#   floor), capi, lua. On a shared machine packets/s moves with the load;
#   the CPU ratio (floor's CPU s per Mpkt over ours) is steadier.
#   CPU s per million messages, one message a packet: midi, apple
# then the medians and the issue-20 ratios (Lua / batch floor, C API / batch
# floor, MidiSession p50 / uv_floor p50) of each tree.
#   sh bench/ab.sh /path/to/before /path/to/after [rounds]
set -u
A=$1 B=$2 ROUNDS=${3:-4}
TP_N=${AB_TP_N:-1600000}
p=${BENCH_PORT:-27000}
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
val() { grep -o "$1=[0-9.]*" | head -n 1 | cut -d= -f2; }
row() { echo "$1 $2 $3" | tee -a "$LOG"; }
lat() {   # lat <tree> <name> <echo cmd> <measure cmd> (ports appended)
  p=$((p + 10))
  # shellcheck disable=SC2086
  taskset -c 1 $3 $p $((p + 2)) 5 & bg=$!
  # shellcheck disable=SC2086
  row "$1" "$2" "$(taskset -c 0 $4 $((p + 2)) $p 5000 500 20 | val p50_us)"
  wait $bg
}
tp() {    # tp <tree> <name> <cmd> (ports, count, window, timeout appended)
  p=$((p + 10))
  # shellcheck disable=SC2086
  out=$(taskset -c 0 $3 $p $((p + 2)) "$TP_N" 256 30)
  row "$1" "tp_$2" "$(echo "$out" | val pps)"
  row "$1" "cpu_$2" "$(echo "$out" | val cpu_s_per_mpkt)"
}
for round in $(seq 1 "$ROUNDS"); do
  for tree in "$A" "$B"; do
    bin=$tree/build-bench
    export LUA_PATH_5_4="$tree/lua/?.lua;$tree/lua/?/init.lua;;" LUA_CPATH_5_4="$bin/?.so;;"
    lat "$tree" uv_floor "$bin/bench/uv_floor echo" "$bin/bench/uv_floor latency"
    lat "$tree" capi "$bin/bench/capi_bench echo" "$bin/bench/capi_bench latency"
    lat "$tree" lua "lua5.4 $tree/bench/lua_echo.lua" "lua5.4 $tree/bench/lua_latency.lua"
    lat "$tree" midisession "lua5.4 $tree/bench/lua_midi.lua echo" "lua5.4 $tree/bench/lua_midi.lua latency"
    p=$((p + 10))
    tp "$tree" floor_batch "$bin/bench/udp_floor throughput_batch"
    tp "$tree" capi "$bin/bench/capi_bench throughput"
    tp "$tree" lua "lua5.4 $tree/bench/lua_throughput.lua 1proc"
    p=$((p + 10))
    row "$tree" midi_cpu "$(taskset -c 0 lua5.4 "$tree/bench/lua_midi.lua" throughput $p $((p + 2)) 100000 256 20 | val cpu_s_per_mmsg)"
    p=$((p + 10))
    row "$tree" apple_cpu "$(taskset -c 0 lua5.4 "$tree/bench/lua_apple.lua" throughput $p $((p + 2)) 100000 256 20 2>/dev/null | val cpu_s_per_mmsg)"
  done
done
echo
echo "medians over $ROUNDS rounds (latency µs, throughput packets/s, CPU s per M messages):"
for tree in "$A" "$B"; do
  awk -v t="$tree" '
    $1 == t && $3 != "" { v[$2] = v[$2] " " $3 }
    function med(s,   a, n, i, j, x) {
      n = split(s, a, " ")
      for (i = 2; i <= n; i++) { x = a[i]; j = i - 1; while (j > 0 && a[j] + 0 > x + 0) { a[j + 1] = a[j]; j-- } a[j + 1] = x }
      if (n == 0) return 0
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    END {
      printf "%s\n", t
      for (k in v) { m[k] = med(v[k]); printf "  %-15s %12.2f   (%s )\n", k, m[k], v[k] }
      if (m["tp_floor_batch"] > 0)
        printf "  ratios: lua / batch floor %.2fx, C API / batch floor %.2fx", m["tp_lua"] / m["tp_floor_batch"], m["tp_capi"] / m["tp_floor_batch"]
      if (m["cpu_lua"] > 0 && m["cpu_capi"] > 0)
        printf " (by CPU s per Mpkt, floor / ours: lua %.2fx, C API %.2fx)", m["cpu_floor_batch"] / m["cpu_lua"], m["cpu_floor_batch"] / m["cpu_capi"]
      if (m["uv_floor"] > 0) printf ", MidiSession p50 / uv_floor %.2fx", m["midisession"] / m["uv_floor"]
      printf "\n"
    }' "$LOG"
done
