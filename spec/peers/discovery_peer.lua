-- The far side of spec/discovery_netns.lua, run in the other network
-- namespace (with its own avahi-daemon): one session that publishes itself
-- through Avahi, reports what its own browsing finds, prints the MIDI it
-- receives and sends each message back.
--
--   lua5.4 spec/peers/discovery_peer.lua apple NAME
--   lua5.4 spec/peers/discovery_peer.lua midi2 NAME PRODUCT_INSTANCE_ID
--
-- Lines on standard output (flushed at once):
--   port P                            started on P
--   found NAME ADDRESS PORT HOST      browsing found a service (once while it stays)
--   lost NAME                         it is gone from the list
--   joined NAME ADDRESS               a participant / client joined
--   midi HEX                          a message received (and echoed)
-- Runs until SIGTERM.
local rtpmidi = require "rtpmidi"

local kind, name, piid = arg[1], arg[2], arg[3]
assert(kind == "apple" or kind == "midi2", "usage: discovery_peer.lua apple|midi2 NAME [PIID]")
io.stdout:setvbuf("line")

local control = rtpmidi.RTPControl()
local s
if kind == "apple" then
  s = rtpmidi.AppleMidiSession{ name = name, port = 0, accept = "anyone" }
  function s:participant_joined(p) print(("joined %s %s"):format(p.name, p.address)) end
  function s:incoming_midi(msg)
    print("midi " .. msg:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
    self:send_midi(msg)
  end
else
  s = rtpmidi.Midi2Session{ name = name, product_instance_id = piid, role = "host", port = 0 }
  function s:client_joined(c) print(("joined %s %s"):format(c.name, c.address)) end
  function s:incoming_midi(msg)
    print("midi " .. msg:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
    self:send_midi(msg)
  end
end
assert(control:start_session(control:add_session(s)))
print("port " .. s:local_port())

local seen = {}
rtpmidi.every(50, function()
  local now = {}
  for _, d in ipairs(s:discovered()) do
    now[d.name] = true
    if not seen[d.name] then
      seen[d.name] = true
      print(("found %s %s %d %s"):format(d.name, d.address, d.port, d.host))
    end
  end
  for n in pairs(seen) do
    if not now[n] then
      seen[n] = nil
      print("lost " .. n)
    end
  end
end)
control:run()
