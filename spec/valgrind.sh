#!/bin/sh
# CTest valgrind/e2e: spec/valgrind_e2e.lua under valgrind's memcheck. Fails
# on any memory error and on any definite leak; exits 77 (skipped) when
# valgrind is not installed. Usage: valgrind.sh LUA BUILD_DIR
# The module is preloaded so that it (and the libraries it pulls in, whose
# global allocations would otherwise turn "definitely lost" when Lua
# dlcloses it at exit) stays mapped: stacks keep their names too.
set -u
if ! command -v valgrind >/dev/null 2>&1; then
  echo "valgrind is not installed: skipped"
  exit 77
fi
lua=$1
build=$2
src=$(cd "$(dirname "$0")/.." && pwd)
export RTPMIDI_SOURCE_DIR="$src" RTPMIDI_BUILD_DIR="$build"
LD_PRELOAD="$build/rtpmidi/core.so" exec valgrind --error-exitcode=1 --leak-check=full \
  --errors-for-leak-kinds=definite --show-leak-kinds=definite \
  --suppressions="$src/spec/valgrind.supp" "$lua" "$src/spec/valgrind_e2e.lua"
