-- The echo side of the Lua ping-pong: every packet that arrives through
-- incoming_rtp goes back with send_data and the same RTP timestamp.
--   lua5.4 bench/lua_echo.lua <local_port> <peer_port> [timeout_s]
-- Stops on a "BYE" payload, or when idle for timeout_s.
package.path = (arg[0]:match("^(.*/)") or "./") .. "?.lua;" .. package.path
local rtpmidi = require "rtpmidi"
local B = require "benchlib"

local local_port, peer_port, timeout_s = B.arg(1), B.arg(2), B.arg(3, 10)
local control = rtpmidi.RTPControl()
local echoed, at_last_tick = 0, -1

B.session(local_port, peer_port, function(self, _, timestamp, packet)
  if packet == "BYE" then control:stop() return end
  echoed = echoed + 1
  self:send_data(packet, timestamp)
end)

rtpmidi.every(timeout_s * 1000, function()
  if echoed == at_last_tick then
    io.stderr:write(("lua_echo: idle for %s s after %d packets, stopping\n"):format(timeout_s, echoed))
    control:stop()
  end
  at_last_tick = echoed
end)
control:run()
