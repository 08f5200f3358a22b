#!/bin/sh
# Runs a command with a JACK server of its own (dummy driver, no audio
# hardware), named in JACK_DEFAULT_SERVER; exits 77 (skipped) without jackd.
# usage: with_jackd.sh COMMAND [ARG...]
command -v jackd >/dev/null 2>&1 && command -v jack_wait >/dev/null 2>&1 || { echo "no jackd: skipped"; exit 77; }
name="rtpmidi-ctest-$$"
log="${TMPDIR:-/tmp}/$name.log"
jackd -n "$name" --no-realtime -S -d dummy -r 48000 -p 256 </dev/null >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -f "$log"' EXIT
if ! JACK_DEFAULT_SERVER="$name" jack_wait -w -t 10 >/dev/null 2>&1; then
  echo "jackd did not start within 10 s:"
  cat "$log"
  exit 1
fi
JACK_DEFAULT_SERVER="$name" "$@"
rc=$?
exit $rc
