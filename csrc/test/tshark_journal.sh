#!/bin/sh
# Cross-check our recovery journals (RFC 6295 section 5, appendices A, B)
# against Wireshark's rtpmidi dissector.
#   tshark_journal.sh PATH/TO/journal_pcap
# journal_pcap (csrc/test/journal_pcap.c) runs our sender over one scenario
# per chapter form and prints the journals as RTP packets (text2pcap input),
# the tshark fields to compare, and what each field must read. We wrap the
# packets in UDP port 5004, dissect them as rtpmidi and compare every field
# of every packet: decoded values, not only the absence of errors (tshark
# does not flag a channel journal LENGTH that is too short or trailing
# garbage). Exit 0 only if all matched and nothing is malformed; 77 (CTest
# "skipped") when tshark/text2pcap are missing.
set -u

helper=${1:-}
if [ -z "$helper" ] || [ ! -x "$helper" ]; then
  echo "usage: $0 PATH/TO/journal_pcap" >&2
  exit 2
fi
for tool in tshark text2pcap; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "SKIP: $tool not installed" >&2
    exit 77
  fi
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/tshark_journal.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT INT TERM

status=0
"$helper" hex >"$dir/pkts.txt" || { echo "FAIL: $helper hex (a scenario check failed)" >&2; status=1; }
"$helper" fields >"$dir/fields.txt" || { echo "FAIL: $helper fields" >&2; exit 1; }
"$helper" expect >"$dir/expect.txt" 2>/dev/null
text2pcap -q -u 5004,5004 "$dir/pkts.txt" "$dir/f.pcap" >"$dir/text2pcap.log" 2>&1 ||
  { echo "FAIL: text2pcap" >&2; cat "$dir/text2pcap.log" >&2; exit 1; }

# Wireshark prints a warning on stderr when run as root; keep stderr apart.
ts() {
  tshark -r "$dir/f.pcap" -d udp.port==5004,rtp -d rtp.pt==96,rtpmidi "$@" 2>"$dir/tshark.err"
}

set --
while read -r f; do set -- "$@" -e "$f"; done <"$dir/fields.txt"
ts -T fields -E separator=/t -E occurrence=a -E aggregator=, "$@" >"$dir/got.tsv" ||
  { echo "FAIL: tshark" >&2; cat "$dir/tshark.err" >&2; exit 1; }
# one "packet<TAB>field<TAB>values" line per field, like journal_pcap expect
awk -F'\t' 'NR == FNR { name[FNR] = $0; n = FNR; next }
            { for (i = 1; i <= n; i++) printf "%d\t%s\t%s\n", FNR, name[i], $i }' \
  "$dir/fields.txt" "$dir/got.tsv" >"$dir/got.txt"
if ! diff -u "$dir/expect.txt" "$dir/got.txt" >"$dir/diff.txt"; then
  echo "FAIL: tshark fields differ from what our sender encoded (- expected, + tshark):"
  grep '^[-+][0-9]' "$dir/diff.txt"
  status=1
fi

npkts=$(grep -c '^000000' "$dir/pkts.txt")
nmidi=$(ts -Y rtpmidi -T fields -e frame.number | grep -c .)
if [ "$nmidi" -ne "$npkts" ]; then
  echo "FAIL: $npkts packets written, $nmidi dissected as rtpmidi"
  status=1
fi
bad=$(ts -Y '_ws.malformed || _ws.expert.severity >= error' -T fields -e frame.number | tr '\n' ' ')
if [ -n "$bad" ]; then
  echo "FAIL: malformed or expert errors in frames: $bad"
  status=1
fi
# every journal of a long random stream: dissected, nothing malformed
"$helper" stream >"$dir/stream.txt" || { echo "FAIL: $helper stream" >&2; status=1; }
text2pcap -q -u 5004,5004 "$dir/stream.txt" "$dir/s.pcap" >"$dir/text2pcap.log" 2>&1 ||
  { echo "FAIL: text2pcap (stream)" >&2; cat "$dir/text2pcap.log" >&2; exit 1; }
tss() {
  tshark -r "$dir/s.pcap" -d udp.port==5004,rtp -d rtp.pt==96,rtpmidi "$@" 2>"$dir/tshark.err"
}
nstream=$(grep -c '^000000' "$dir/stream.txt")
nsmidi=$(tss -Y rtpmidi -T fields -e frame.number | grep -c .)
sbad=$(tss -Y '_ws.malformed || _ws.expert.severity >= error' -T fields -e frame.number | wc -l)
if [ "$nsmidi" -ne "$nstream" ] || [ "$sbad" -ne 0 ]; then
  echo "FAIL: stream: $nstream journals, $nsmidi dissected as rtpmidi, $sbad malformed"
  status=1
fi

# every packet of the stream sender (command sections with SysEx segments,
# journals with Chapter X partial forms): dissected, nothing malformed
"$helper" session >"$dir/session.txt" || { echo "FAIL: $helper session" >&2; status=1; }
text2pcap -q -u 5004,5004 "$dir/session.txt" "$dir/p.pcap" >"$dir/text2pcap.log" 2>&1 ||
  { echo "FAIL: text2pcap (session)" >&2; cat "$dir/text2pcap.log" >&2; exit 1; }
tsp() {
  tshark -r "$dir/p.pcap" -d udp.port==5004,rtp -d rtp.pt==96,rtpmidi "$@" 2>"$dir/tshark.err"
}
nsess=$(grep -c '^000000' "$dir/session.txt")
npmidi=$(tsp -Y rtpmidi -T fields -e frame.number | grep -c .)
pbad=$(tsp -Y '_ws.malformed || _ws.expert.severity >= error' -T fields -e frame.number | tr '\n' ' ')
if [ "$npmidi" -ne "$nsess" ] || [ -n "$pbad" ]; then
  echo "FAIL: session: $nsess packets, $npmidi dissected as rtpmidi, malformed: $pbad"
  status=1
fi

nfields=$(grep -c . "$dir/expect.txt")
nvalues=$(awk -F'\t' '$3 != ""' "$dir/expect.txt" | grep -c .)
if [ "$status" -eq 0 ]; then
  echo "ok: $npkts journals, $nvalues of $nfields packet/field pairs carry values, all equal to tshark's dissection, none malformed; $nstream journals of a random stream, none malformed; $nsess packets of the stream sender with SysEx in parts, none malformed"
fi
exit "$status"
