#!/bin/sh
# An RTP-only build: no RtMidi, no Avahi, no Lua. Configures and builds the
# library alone (static and shared), installs it, and checks that nothing of
# RtMidi or Avahi is asked for: not by the pkg-config file, not by the
# libraries' undefined symbols; that the shared library exports the public
# API only; then builds examples/c/two_sessions.c against each (shared with
# plain --libs, static with --static) and runs it.
#
# usage: capi_rtp_only.sh CMAKE SOURCE_DIR WORK_DIR CC
set -eu
cmake=$1 src=$2 work=$3 cc=$4
command -v pkg-config >/dev/null || { echo "no pkg-config: skipped"; exit 77; }
rm -rf "$work"
mkdir -p "$work"
"$cmake" -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DRTPMIDI_RTMIDI=OFF -DRTPMIDI_AVAHI=OFF -DRTPMIDI_LUA=OFF -DRTPMIDI_TESTS=OFF \
  -DRTPMIDI_BENCH=OFF -DRTPMIDI_STATIC=ON -DRTPMIDI_SHARED=ON >"$work/configure.log"
nice "$cmake" --build "$work/build" -j2 >"$work/build.log"
"$cmake" --install "$work/build" --prefix "$work/prefix" >"$work/install.log"
pc=$(find "$work/prefix" -name rtpmidi.pc)
so=$(find "$work/prefix" -name 'librtpmidi.so.*.*')
a=$(find "$work/prefix" -name librtpmidi.a)
[ -n "$pc" ] && [ -n "$so" ] && [ -n "$a" ] || { echo "missing from the install: pc=$pc so=$so a=$a"; exit 1; }
if grep -Ei 'rtmidi|avahi' "$pc"; then echo "rtpmidi.pc asks for RtMidi or Avahi"; exit 1; fi
if nm -u "$a" "$so" | grep -Ei 'rtmidi_|avahi_'; then echo "the library needs RtMidi or Avahi"; exit 1; fi
if ldd "$so" | grep -Ei 'rtmidi|avahi'; then echo "librtpmidi.so links RtMidi or Avahi"; exit 1; fi
exported=$(nm -D --defined-only "$so" | awk '$2 == "T" || $2 == "D" || $2 == "B" { print $3 }')
others=$(printf '%s\n' "$exported" | grep -v '^rtpmidi_' || true)
[ -z "$others" ] || { echo "librtpmidi.so exports more than the API:"; echo "$others"; exit 1; }
echo "librtpmidi.so exports $(printf '%s\n' "$exported" | wc -l) rtpmidi_* functions and nothing else"
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH
cp "$src/examples/c/two_sessions.c" "$work/"
cd "$work"
# shellcheck disable=SC2086
"$cc" -o two_sessions_shared two_sessions.c $(pkg-config --cflags --libs rtpmidi)
# shellcheck disable=SC2086
"$cc" -static-libgcc -o two_sessions_static two_sessions.c $(pkg-config --cflags rtpmidi) \
  "$(dirname "$a")/librtpmidi.a" $(pkg-config --static --libs-only-other --libs-only-l rtpmidi | sed 's/-lrtpmidi//')
LD_LIBRARY_PATH=$(dirname "$so") ./two_sessions_shared
if ldd ./two_sessions_static | grep -q librtpmidi; then echo "the static program loads librtpmidi.so"; exit 1; fi
./two_sessions_static
echo "RTP-only build: static and shared libraries work without RtMidi and Avahi"
