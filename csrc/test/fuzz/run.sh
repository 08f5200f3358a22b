#!/bin/sh
# Runs every libFuzzer target of a build (cmake/fuzz.cmake) for a while and
# prints one line per target. Used by `make fuzz`.
#   run.sh BUILD_DIR SECONDS [JOBS]
# Each target starts from its seed corpus (csrc/test/fuzz/corpus/<name>)
# plus what earlier runs found (BUILD_DIR/fuzz/corpus/<name>); crashes are
# saved as BUILD_DIR/fuzz/artifacts/<name>-crash-*. JOBS targets run at a
# time (default: the number of CPUs). Exits 1 if any target failed.
set -u
build=$1
secs=${2:-30}
jobs=${3:-$(nproc 2>/dev/null || echo 1)}
src=$(cd "$(dirname "$0")" && pwd)
out=$build/fuzz
targets="rtp rtcp midi_cmd midi_msg journal applemidi cmd_roundtrip journal_roundtrip applemidi_roundtrip am_session midi2 ump midi2_session rtp_source session"
mkdir -p "$out/corpus" "$out/artifacts" "$out/logs"

run_one() {
  t=$1
  mkdir -p "$out/corpus/$t"
  seeds=""
  [ -d "$src/corpus/$t" ] && seeds="$src/corpus/$t"
  # shellcheck disable=SC2086
  "$out/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/artifacts/$t-" "$out/corpus/$t" $seeds >"$out/logs/$t.log" 2>&1
  echo $? >"$out/logs/$t.rc"
}

summary() {
  t=$1
  log=$out/logs/$t.log
  rc=$(cat "$out/logs/$t.rc" 2>/dev/null || echo 1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1)
  crashes=$(ls "$out/artifacts/$t"-* 2>/dev/null | wc -l)
  status=ok
  [ "$rc" -ne 0 ] && status="FAILED (exit $rc, see $log)"
  printf '%-22s %10s execs %8s/s  %-32s crashes %s  %s\n' "fuzz_$t" "${execs:-?}" "${rate:-?}" \
    "${cov:-cov: ?}" "$crashes" "$status"
}

n=0
for t in $targets; do
  if [ ! -x "$out/fuzz_$t" ]; then echo "missing $out/fuzz_$t" >&2; exit 1; fi
  run_one "$t" &
  n=$((n + 1))
  if [ "$n" -ge "$jobs" ]; then wait; n=0; fi
done
wait

fail=0
for t in $targets; do
  summary "$t"
  if [ "$(cat "$out/logs/$t.rc" 2>/dev/null || echo 1)" -ne 0 ]; then
    fail=1
    # what failed, where a CI log shows it: the finding and its input
    grep -m 12 -E 'invariant|differs|ERROR|SUMMARY|Test unit written|artifact' "$out/logs/$t.log" | sed "s/^/  $t: /"
  fi
done
exit $fail
