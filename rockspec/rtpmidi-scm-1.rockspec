rockspec_format = "3.0"
package = "rtpmidi"
version = "scm-1"
source = {
  url = "git+file:///dev/null/rtpmidi.git", -- built from a checkout with `luarocks make`
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
    LIBUV_INCDIR = "$(LIBUV_INCDIR)",
    RTMIDI_INCDIR = "$(RTMIDI_INCDIR)",
    RTPMIDI_TESTS = "OFF",
    RTPMIDI_BENCH = "OFF",
    RTPMIDI_INSTALL_C = "OFF", -- librtpmidi, rtpmidi.h and rtpmidi.pc are for C programs, not the rock
  },
  install = {
    bin = { rtpmidi = "bin/rtpmidi" },
  },
}
