-- Pure codecs for tools, monitors and tests (no sockets):
--   encode_rtp{ payload_type=96, sequence=1, timestamp=0, ssrc=1, marker=false, payload="..." }
--   decode_rtp(packet)                 -> table | nil, err
--   encode_midi_payload(commands, opts) -> payload, n_encoded | nil, err
--       commands: { {delta=ticks, bytes="\x90\x3c\x64"}, ... }; opts: { budget=1200, journal=raw }
--   decode_midi_payload(payload)       -> { commands = { {delta=, time=, bytes=}, ... }, journal=raw|nil,
--                                           b=, j=, z=, p=, length= } | nil, err
local core = require "rtpmidi.core"
return core.codec
