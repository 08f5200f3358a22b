-- The measuring side of the Lua ping-pong: send_data a probe whose id is the
-- RTP timestamp, wait for it in incoming_rtp, send the next one.
--   lua5.4 bench/lua_latency.lua <local_port> <peer_port> <round_trips> <warmup> [timeout_s]
-- Prints one BENCH line: one-way latency (RTT/2) in microseconds.
package.path = (arg[0]:match("^(.*/)") or "./") .. "?.lua;" .. package.path
local rtpmidi = require "rtpmidi"
local B = require "benchlib"

local local_port, peer_port = B.arg(1), B.arg(2)
local n, warmup, timeout_s = B.arg(3, 20000), B.arg(4, 2000), B.arg(5, 20)
local control = rtpmidi.RTPControl()

-- the probe's id is the RTP timestamp; the echo side keeps it
local session
local pp = B.pingpong{ control = control, n = n, warmup = warmup, timeout_s = timeout_s,
  probe = function(id) return id end, send = function(id) session:send_data(B.MIDI, id) end }
session = B.session(local_port, peer_port, function(_, _, timestamp) pp.answer(timestamp) end)
pp.probe()
control:run()
-- The session was stopped by control:stop(): tell the echo side with a
-- session of its own.
local bye = B.session(0, peer_port)
bye:send_data("BYE")
pp.finish("lua", "Lua send_data -> incoming_rtp, 2 processes", "echo side never answered")
