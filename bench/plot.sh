#!/bin/sh
# The latency plot of bench/run.sh: from the samples the latency benchmarks
# wrote (<out>/<name>.dat: one-way µs, one a line, every round), in
# <out>/latency.png, four panels:
#   1. the CDF of every row (log x);
#   2. its tail, 1 - CDF (log-log);
#   3. the floor region zoomed (linear x): the floors and our rows, each
#      row's p50 (circle) and p99 (triangle) marked, and the goal lines of
#      issues 9 and 20 (Lua p50 <= 1.3x udp_floor's, MidiSession p50 <=
#      1.15x uv_floor's);
#   4. MIDI in -> MIDI out on JACK (jack_floor, midi_in_to_out) with the goal
#      line JACK p50 + one period + 100 µs (the period from raw.txt).
# One colour per row, the same in every panel.
#   sh bench/plot.sh <out dir>
set -u
OUT=$1
cd "$OUT" || exit 1
# Rows in the order of the latency table; anything else after them.
ORDER="udp_floor uv_floor capi lua midisession applemidi rtpmidi_node node_rtpmidi jack_floor midi_in_to_out"
files=""
for n in $ORDER; do [ -s "$n.dat" ] && files="$files $n"; done
for f in *.dat; do
  [ -s "$f" ] || continue
  n=${f%.dat}
  case " $files " in *" $n "*) ;; *) files="$files $n";; esac
done
[ -n "$files" ] || { echo "plot: no samples in $OUT" >&2; exit 1; }
# <name>.cdf: value, F (fraction <= value), 1 - F + 1/n (so the largest
# sample still shows on a log scale); at most ~2,000 points per curve.
# <name>.pct: p50 and p99 (nearest rank, as benchlib.lua computes them).
for n in $files; do
  sort -g "$n.dat" > "$n.sorted"
  total=$(wc -l < "$n.sorted")
  awk -v n="$total" 'BEGIN { step = int(n / 2000); if (step < 1) step = 1 }
    (NR % step == 0 || NR == n || NR < 50 || NR > n - 50) { printf "%s %.6f %.6g\n", $1, NR / n, 1 - NR / n + 1 / n }' \
    "$n.sorted" > "$n.cdf"
  awk -v n="$total" 'BEGIN { k50 = int(0.5 * n + 0.999999); k99 = int(0.99 * n + 0.999999) }
    NR == k50 { p50 = $1 } NR == k99 { p99 = $1 } END { printf "%s 0.5\n%s 0.99\n", p50, p99 }' \
    "$n.sorted" > "$n.pct"
  rm -f "$n.sorted"
done
p50() { [ -s "$1.pct" ] && sed -n 1p "$1.pct" | cut -d' ' -f1; }
# One colour per row that can be told apart (Okabe-Ito, then darker ones).
PALETTE="#000000 #E69F00 #56B4E9 #009E73 #D55E00 #0072B2 #CC79A7 #8C564B #7F3C8D #17BECF #BCBD22 #7F7F7F"
colour() {
  i=0
  for c in $PALETTE; do
    [ "$i" = "$1" ] && { echo "$c"; return; }
    i=$((i + 1))
  done
  echo "#444444"
}
i=0
for n in $files; do
  eval "COL_$n=\$(colour $i)"
  i=$((i + 1))
done
col() { eval "echo \$COL_$1"; }
is_jack() { case $1 in jack_floor|midi_in_to_out) return 0;; esac; return 1; }
net=""
jack=""
for n in $files; do if is_jack "$n"; then jack="$jack $n"; else net="$net $n"; fi; done

# The zoomed panel's x range: the floors and our own rows (node-rtpmidi's
# are far to the right), up to 1.2x their largest p99 but no further than
# 3x their largest p50: a loaded machine's tail does not stretch it away.
maxpct() {   # maxpct <line: 1 p50, 2 p99> <rows...>
  l=$1
  shift
  for n in "$@"; do [ -s "$n.pct" ] && sed -n "${l}p" "$n.pct" | cut -d' ' -f1; done | sort -g | tail -n 1
}
OURS="udp_floor uv_floor capi lua midisession applemidi"
# shellcheck disable=SC2086
zoom_max=$(awk -v a="$(maxpct 2 $OURS)" -v b="$(maxpct 1 $OURS)" \
  'BEGIN { if (a == "") a = 100; x = a * 1.2; if (b != "" && x > b * 3) x = b * 3; printf "%.0f", x + 1 }')
jack_max=$(awk -v a="$(maxpct 2 jack_floor midi_in_to_out)" 'BEGIN { printf "%.0f", (a == "" ? 1000 : a * 1.3) + 1 }')
udp50=$(p50 udp_floor) uv50=$(p50 uv_floor)
jack50=$(p50 jack_floor)
period=$(sed -n 's/.*kind=midi_e2e .*period_us=\([0-9.]*\).*/\1/p' raw.txt 2>/dev/null | tail -n 1)

plot_cmd() {   # plot_cmd <using> <rows...>: one curve a row
  u=$1
  shift
  printf 'plot'
  sep=""
  for n in "$@"; do
    printf '%s "%s.cdf" using %s with lines lw 2 lc rgb "%s" title "%s"' "$sep" "$n" "$u" "$(col "$n")" "$n"
    sep=","
  done
  echo
}
marks_cmd() {   # the same with each row's p50/p99 marks
  printf 'plot'
  sep=""
  for n in "$@"; do
    printf '%s "%s.cdf" using 1:2 with lines lw 2 lc rgb "%s" title "%s"' "$sep" "$n" "$(col "$n")" "$n"
    sep=","
    [ -s "$n.pct" ] && printf ', "%s.pct" every ::0::0 using 1:2 with points pt 7 ps 1.3 lc rgb "%s" notitle, "%s.pct" every ::1::1 using 1:2 with points pt 9 ps 1.5 lc rgb "%s" notitle' \
      "$n" "$(col "$n")" "$n" "$(col "$n")"
  done
  echo
}
{
  echo 'set terminal pngcairo size 1600,1200 font ",11" noenhanced'
  echo 'set output "latency.png"'
  echo 'set multiplot layout 2,2 title "rtpmidi one-way latency on loopback (RTT/2; MIDI in -> out: one way), every round'"'"'s samples"'
  echo 'set grid xtics ytics mxtics'
  # 1. CDF, log x
  echo 'set title "CDF, every row"'
  echo 'set logscale x'
  echo 'set xrange [5:*]'
  echo 'set xlabel "one-way latency (µs)"'
  echo 'set key bottom right'
  echo 'set ylabel "fraction <= x (CDF)"'
  echo 'set yrange [0:1]'
  # shellcheck disable=SC2086
  plot_cmd 1:2 $files
  # 2. tail
  echo 'set title "tail, every row"'
  echo 'set logscale y'
  echo 'set yrange [*:1]'
  echo 'set format y "%g"'
  echo 'set key top right'
  echo 'set ylabel "fraction > x (tail, log)"'
  # shellcheck disable=SC2086
  plot_cmd 1:3 $files
  # 3. the floor region, linear, p50/p99 marks and goal lines
  echo 'unset logscale'
  echo 'set format y "%g"'
  echo "set title \"the floor region: p50 (circle), p99 (triangle), goal lines\""
  echo "set xrange [0:$zoom_max]"
  echo 'set yrange [0:1.02]'
  echo 'set ylabel "fraction <= x (CDF)"'
  echo 'set key top left'
  if [ -n "$udp50" ]; then
    x=$(awk -v v="$udp50" 'BEGIN { printf "%.1f", v * 1.3 }')
    echo "set arrow from $x,0 to $x,1.02 nohead dt 2 lw 2 lc rgb \"$(col lua)\""
    echo "set label \"Lua p50 goal: 1.3x udp_floor = $x µs\" at $x,0.06 left offset 0.5,0 tc rgb \"$(col lua)\""
  fi
  if [ -n "$uv50" ]; then
    x=$(awk -v v="$uv50" 'BEGIN { printf "%.1f", v * 1.15 }')
    echo "set arrow from $x,0 to $x,1.02 nohead dt 2 lw 2 lc rgb \"$(col midisession)\""
    echo "set label \"MidiSession p50 goal: 1.15x uv_floor = $x µs\" at $x,0.14 left offset 0.5,0 tc rgb \"$(col midisession)\""
  fi
  zoomed=""
  for n in $net; do case $n in node_rtpmidi|rtpmidi_node) ;; *) zoomed="$zoomed $n";; esac; done
  # shellcheck disable=SC2086
  marks_cmd $zoomed
  echo 'unset arrow'
  echo 'unset label'
  # 4. JACK
  if [ -n "$jack" ]; then
    echo "set title \"MIDI in -> MIDI out on JACK (period ${period:-?} µs)\""
    echo "set xrange [0:$jack_max]"
    if [ -n "$jack50" ] && [ -n "$period" ]; then
      x=$(awk -v j="$jack50" -v p="$period" 'BEGIN { printf "%.1f", j + p + 100 }')
      echo "set arrow from $x,0 to $x,1.02 nohead dt 2 lw 2 lc rgb \"$(col midi_in_to_out)\""
      echo "set label \"goal: JACK p50 + 1 period + 100 µs = $x µs\" at $x,0.3 left offset 0.5,0 tc rgb \"$(col midi_in_to_out)\""
    fi
    # shellcheck disable=SC2086
    marks_cmd $jack
  fi
  echo 'unset multiplot'
} > latency.gp
gnuplot latency.gp
