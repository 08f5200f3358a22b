#!/bin/sh
# Installs the rockspec into a fresh tree with luarocks, then loads the module
# and runs the installed command from that tree in a fresh lua5.4.
set -eu
tree=${1:?usage: luarocks-install-test.sh TREE}
rm -rf "$tree"
luarocks --lua-version=5.4 make --tree "$tree" rockspec/rtpmidi-scm-1.rockspec
eval "$(luarocks --lua-version=5.4 path --tree "$tree")"
export LUA_PATH LUA_CPATH
unset LUA_PATH_5_4 LUA_CPATH_5_4
out=$(TREE="$tree" lua5.4 -e 'local r = require "rtpmidi"
local c = package.searchpath("rtpmidi.core", package.cpath)
assert(c and c:find(os.getenv("TREE"), 1, true), "core.so not from the tree: " .. tostring(c))
print(r._VERSION)')
echo "require \"rtpmidi\" from $tree: version $out"
"$tree/bin/rtpmidi" version
"$tree/bin/rtpmidi" demo --quiet --port 25004
echo "installed command ran the demo"
