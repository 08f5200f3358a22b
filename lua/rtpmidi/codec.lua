-- Pure codecs for tools, monitors and tests (no sockets), over the parsers
-- the sessions use (csrc/proto):
--   encode_rtp{ payload_type=96, sequence=1, timestamp=0, ssrc=1, marker=false, payload="..." }
--   decode_rtp(packet)                 -> table | nil, err
--   encode_midi_payload(commands, opts) -> payload, n_encoded | nil, err
--       commands: { {delta=ticks, bytes="\x90\x3c\x64"}, ... }; opts: { budget=1200, journal=raw }
--   decode_midi_payload(payload)       -> { commands = { {delta=, time=, bytes=}, ... }, journal=table|nil,
--                                           b=, j=, z=, p=, length= } | nil, err
--       journal: { raw=, size=, s=, y=, a=, h=, totchan=, checkpoint=, system={...}|nil,
--                  channels={ {chan=, P=, C=, M=, W=, N=, E=, T=, A=}, ... } } or { raw=, error= }
--   decode_applemidi(packet)           -> { command="IN"|"OK"|"NO"|"BY"|"CK"|"RS", ... } | nil, err
--   decode_rtcp(packet)                -> { {type="SR"|"RR"|"SDES"|"BYE"|"APP", ...}, ... } | nil, err
-- The fields are described in docs/api.md ("Codecs").
local core = require "rtpmidi.core"
return core.codec
