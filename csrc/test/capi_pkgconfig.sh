#!/bin/sh
# The C library as a program outside the tree sees it: installs the build
# into a fresh prefix (cmake --install), compiles examples/c/two_sessions.c
# with nothing but `pkg-config --cflags --libs rtpmidi` found through
# PKG_CONFIG_PATH, and runs it: a Note On between two MIDI sessions on
# loopback, exit 0 only when the exact bytes arrived.
#
# usage: capi_pkgconfig.sh CMAKE BUILD_DIR SOURCE_DIR WORK_DIR CC [CFLAGS...]
# (CFLAGS: what the library was built with that the program needs too,
# e.g. the sanitizers)
set -eu
cmake=$1 build=$2 src=$3 work=$4 cc=$5
shift 5
command -v pkg-config >/dev/null || { echo "no pkg-config: skipped"; exit 77; }
rm -rf "$work"
mkdir -p "$work"
"$cmake" --install "$build" --prefix "$work/prefix" >"$work/install.log"
pc=$(find "$work/prefix" -name rtpmidi.pc)
[ -n "$pc" ] || { echo "rtpmidi.pc was not installed"; exit 1; }
echo "installed: $(cd "$work/prefix" && find . -name 'librtpmidi*' -o -name rtpmidi.h -o -name rtpmidi.pc | sort | tr '\n' ' ')"
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH
flags=$(pkg-config --cflags --libs rtpmidi)
echo "pkg-config --cflags --libs rtpmidi: $flags"
# Compiled where the tree is not: only the installed header can be found.
cp "$src/examples/c/two_sessions.c" "$work/"
cd "$work"
# shellcheck disable=SC2086 # the flags are words
"$cc" "$@" -o two_sessions two_sessions.c $flags
./two_sessions
