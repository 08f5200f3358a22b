#!/bin/sh
# make dist: a source rock of the last commit (what a rock server serves).
#   rockspec/dist.sh OUT VERSION [URL]
# writes to OUT
#   rtpmidi-VERSION.tar.gz         git archive of HEAD (uncommitted changes are not in it)
#   rtpmidi-VERSION-1.rockspec     rockspec/rtpmidi-scm-1.rockspec with that version and
#                                  source: URL (default: file:// the tarball in OUT) and its MD5
#   rtpmidi-VERSION-1.src.rock     luarocks pack of that rockspec: the rockspec and the tarball
# A release publishes the tarball first, then runs this again with URL set to
# where it went: luarocks pack fetches it from there and checks its MD5 (git
# archive makes the same bytes from the same commit).
set -eu
out=${1:?usage: dist.sh OUT VERSION [URL]}
version=${2:?usage: dist.sh OUT VERSION [URL]}
url=${3:-}
name=rtpmidi-$version
case $version in
  *[!0-9.]*|'') echo "make dist: bad version '$version' (from project(VERSION) in CMakeLists.txt)" >&2; exit 1 ;;
esac
if ! git rev-parse --verify -q HEAD >/dev/null 2>&1; then
  echo "make dist: not a git checkout with a commit (the tarball is git archive HEAD)" >&2
  exit 1
fi
if ! git diff --quiet HEAD -- 2>/dev/null; then
  echo "make dist: note: uncommitted changes are not in the tarball (it is HEAD)" >&2
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out/$name.tar.gz" "$out/$name-1.rockspec" "$out/$name-1.src.rock"
git archive --format=tar.gz --prefix="$name/" -o "$out/$name.tar.gz" HEAD
md5=$(md5sum "$out/$name.tar.gz" | cut -d' ' -f1)
# (luarocks pack fetches from a directory of its own: the URL is absolute)
[ -n "$url" ] || url="file://$out/$name.tar.gz"
# The scm rockspec with its version and source block replaced (the block and
# the comment above it, which speaks of the checkout).
awk -v version="$version-1" -v url="$url" -v md5="$md5" -v dir="$name" '
  /^version = / { print "version = \"" version "\""; next }
  /^-- This rockspec builds the checkout/ { skip = 1 }
  skip && /^source = \{/ { insource = 1 }
  skip && insource && /^\}/ {
    print "source = {"
    print "  url = \"" url "\","
    print "  md5 = \"" md5 "\","
    print "  dir = \"" dir "\","
    print "}"
    skip = 0; insource = 0; next
  }
  skip { next }
  { print }
' rockspec/rtpmidi-scm-1.rockspec > "$out/$name-1.rockspec"
grep -q "^version = \"$version-1\"" "$out/$name-1.rockspec" && grep -q "md5 = \"$md5\"" "$out/$name-1.rockspec" || {
  echo "make dist: could not write the rockspec from rockspec/rtpmidi-scm-1.rockspec" >&2
  exit 1
}
(cd "$out" && luarocks --lua-version=5.4 pack "$name-1.rockspec" >/dev/null)
test -f "$out/$name-1.src.rock" || { echo "make dist: luarocks pack made no $name-1.src.rock" >&2; exit 1; }
echo "$out/$name-1.src.rock"
