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
local now = rtpmidi.now
local MIDI = B.MIDI

local rtt = {}                 -- microseconds
local id, sent_at = 0, 0
local measuring, seen, lost = false, 0, 0
local session

local function probe()
  id = id + 1
  sent_at = now()
  session:send_data(MIDI, id)
end

session = B.session(local_port, peer_port, function(_, _, timestamp)
  local t = now()
  if timestamp ~= id then return end     -- a late echo of an earlier probe
  if not measuring then
    measuring = true                     -- the echo side is up
  else
    seen = seen + 1
    if seen > warmup then rtt[#rtt + 1] = (t - sent_at) * 1000 end
  end
  if #rtt >= n then control:stop() return end
  probe()
end)

local started = now()
B.every(50, function(t)
  if t - started > timeout_s * 1000 then control:stop() return end
  -- Until the echo side answers, probe every tick; later a probe that has
  -- not come back within a second is lost.
  if not measuring or t - sent_at > 1000 then
    if measuring then lost = lost + 1 end
    probe()
  end
end)

probe()
control:run()
-- The session was stopped by control:stop(): tell the echo side with a
-- session of its own.
local bye = B.session(0, peer_port)
bye:send_data("BYE")
if not measuring then
  B.line("latency", "lua", { { "status", "failed" }, { "why", "echo side never answered" } })
  os.exit(1)
end
B.latency_line("lua", "Lua send_data -> incoming_rtp, 2 processes", rtt, lost,
  #rtt >= n and "ok" or "timeout")
os.exit(#rtt >= n and 0 or 1)
