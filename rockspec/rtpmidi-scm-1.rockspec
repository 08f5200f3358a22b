rockspec_format = "3.0"
package = "rtpmidi"
version = "scm-1"
-- This rockspec builds the checkout it is in (`luarocks make
-- rockspec/rtpmidi-scm-1.rockspec`), which never fetches the source. There is
-- no public repository to name: "." is that checkout. A release's rockspec
-- is written by `make dist` from this one, with the version of CMakeLists.txt
-- and the URL of its tarball (README.md, "Releasing").
source = {
  url = "git+file://.",
}
description = {
  summary = "MIDI and any RTP payload over the network: RTP/RTCP, RTP-MIDI with the recovery journal, AppleMIDI",
  detailed = [[
A Lua 5.4 module with a C core on libuv. Sessions defined in Lua send and
receive RTP packets from the event loop; MIDI sessions speak RFC 6295 with the
recovery journal and Apple's session protocol, and connect to real MIDI ports
through RtMidi.
]],
  license = "MIT",
  labels = { "midi", "rtp", "network", "libuv" },
}
dependencies = {
  "lua >= 5.4",
}
external_dependencies = {
  LIBUV = { header = "uv.h", library = "uv" },
  RTMIDI = { header = "rtmidi/rtmidi_c.h", library = "rtmidi" },
  CRYPTO = { header = "openssl/evp.h", library = "crypto" }, -- Network MIDI 2.0 authentication
}
build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    CMAKE_INSTALL_PREFIX = "$(PREFIX)",
    CMAKE_C_FLAGS = "$(CFLAGS)",
    LUA_INCDIR = "$(LUA_INCDIR)",
    LUADIR = "$(LUADIR)",
    LIBDIR = "$(LIBDIR)",
    -- where luarocks found the external dependencies (NAME_DIR=... on its
    -- command line moves them); CMakeLists.txt looks only there
    LIBUV_INCDIR = "$(LIBUV_INCDIR)",
    LIBUV_LIBDIR = "$(LIBUV_LIBDIR)",
    RTMIDI_INCDIR = "$(RTMIDI_INCDIR)",
    RTMIDI_LIBDIR = "$(RTMIDI_LIBDIR)",
    CRYPTO_INCDIR = "$(CRYPTO_INCDIR)",
    CRYPTO_LIBDIR = "$(CRYPTO_LIBDIR)",
    RTPMIDI_TESTS = "OFF",
    RTPMIDI_BENCH = "OFF",
    RTPMIDI_INSTALL_C = "OFF", -- librtpmidi, rtpmidi.h and rtpmidi.pc are for C programs, not the rock
  },
  install = {
    bin = { rtpmidi = "bin/rtpmidi" },
  },
}
