#!/bin/sh
# Cross-check our RTP MIDI command sections against Wireshark's dissector.
#   tshark_midi.sh PATH/TO/midi_pcap
# midi_pcap (csrc/test/midi_pcap.c) prints RTP packets (PT 96) as text2pcap
# input and, separately, what each packet should decode to. We wrap them in
# UDP port 5004, dissect with tshark as rtpmidi, and compare field by field.
# Exit 0 only if everything matched and nothing is malformed; 77 (CTest
# "skipped", if SKIP_RETURN_CODE 77 is set) when tshark/text2pcap are missing.
set -u

helper=${1:-}
if [ -z "$helper" ] || [ ! -x "$helper" ]; then
  echo "usage: $0 PATH/TO/midi_pcap" >&2
  exit 2
fi
for tool in tshark text2pcap; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "SKIP: $tool not installed" >&2
    exit 77
  fi
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/tshark_midi.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT INT TERM

"$helper" hex >"$dir/pkts.txt" || { echo "FAIL: $helper hex" >&2; exit 1; }
"$helper" expect >"$dir/expect.txt" || { echo "FAIL: $helper expect" >&2; exit 1; }
text2pcap -q -u 5004,5004 "$dir/pkts.txt" "$dir/f.pcap" >"$dir/text2pcap.log" 2>&1 ||
  { echo "FAIL: text2pcap" >&2; cat "$dir/text2pcap.log" >&2; exit 1; }

# Wireshark prints a warning on stderr when run as root; keep stderr apart.
ts() {
  tshark -r "$dir/f.pcap" -d udp.port==5004,rtp -d rtp.pt==96,rtpmidi "$@" 2>"$dir/tshark.err"
}

status=0

ts -T fields -E separator=/t \
  -e rtpmidi.channel_status -e rtpmidi.channel -e rtpmidi.note -e rtpmidi.velocity \
  -e rtpmidi.controller -e rtpmidi.controller_value -e rtpmidi.program \
  -e rtpmidi.common_status >"$dir/got.txt" ||
  { echo "FAIL: tshark" >&2; cat "$dir/tshark.err" >&2; exit 1; }
if ! diff -u "$dir/expect.txt" "$dir/got.txt" >"$dir/diff.txt"; then
  echo "FAIL: tshark fields differ from what was sent (- expected, + tshark):"
  echo "  columns: channel_status channel note velocity controller controller_value program common_status"
  cat "$dir/diff.txt"
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
  ts -Y '_ws.malformed || _ws.expert.severity >= error' -V | grep -iE 'malformed|expert|error' | head -20
  status=1
fi

if [ "$status" -eq 0 ]; then
  echo "ok: $npkts RTP MIDI packets match tshark's dissection, none malformed"
fi
exit "$status"
