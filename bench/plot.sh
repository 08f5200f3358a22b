#!/bin/sh
# The latency plot of bench/run.sh: from the samples the latency benchmarks
# wrote (<out>/<name>.dat: one-way µs, one a line, every round), a CDF and
# the tail (1 - CDF, log scale) of each, in <out>/latency.png.
#   sh bench/plot.sh <out dir>
set -u
OUT=$1
cd "$OUT" || exit 1
# Rows in the order of the latency table; anything else after them.
ORDER="udp_floor uv_floor capi lua midisession applemidi rtpmidi_node node_rtpmidi"
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
for n in $files; do
  sort -g "$n.dat" > "$n.sorted"
  total=$(wc -l < "$n.sorted")
  awk -v n="$total" 'BEGIN { step = int(n / 2000); if (step < 1) step = 1 }
    (NR % step == 0 || NR == n || NR < 50 || NR > n - 50) { printf "%s %.6f %.6g\n", $1, NR / n, 1 - NR / n + 1 / n }' \
    "$n.sorted" > "$n.cdf"
  rm -f "$n.sorted"
done
{
  echo 'set terminal pngcairo size 1400,650 font ",11" noenhanced'
  echo 'set output "latency.png"'
  echo 'set multiplot layout 1,2 title "rtpmidi one-way latency on loopback (RTT/2), every round'"'"'s samples"'
  echo 'set logscale x'
  echo 'set xrange [5:*]'
  echo 'set xlabel "one-way latency (µs)"'
  echo 'set grid xtics ytics mxtics'
  echo 'set key bottom right'
  echo 'set ylabel "fraction of round trips <= x (CDF)"'
  echo 'set yrange [0:1]'
  printf 'plot'
  sep=""
  for n in $files; do printf '%s "%s.cdf" using 1:2 with lines lw 2 title "%s"' "$sep" "$n" "$n"; sep=","; done
  echo
  echo 'set logscale y'
  echo 'set yrange [*:1]'
  echo 'set format y "%g"'
  echo 'set key top right'
  echo 'set ylabel "fraction of round trips > x (tail, log)"'
  printf 'plot'
  sep=""
  for n in $files; do printf '%s "%s.cdf" using 1:3 with lines lw 2 title "%s"' "$sep" "$n" "$n"; sep=","; done
  echo
  echo 'unset multiplot'
} > latency.gp
gnuplot latency.gp
