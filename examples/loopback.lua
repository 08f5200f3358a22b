-- Two RTP sessions on loopback: a subclass of RTPSession, as in the
-- original library's guide. Run: lua5.4 examples/loopback.lua
local rtpmidi = require "rtpmidi"
local RTPSession = rtpmidi.RTPSession

local Echo = RTPSession:extend()

function Echo:init(peer_address, sending_port, receiving_port, name)
  RTPSession.init(self, peer_address, sending_port, receiving_port, 96, 10, "ExampleStream")
  self.name = name
  self.count = 0
end

function Echo:start() print(self.name .. " started") end
function Echo:stop() print(self.name .. " stopped") end

function Echo:incoming_rtp(cookie, timestamp, packet, read_recovery_journal)
  self.count = self.count + 1
  print(("%s got %q at %d (cookie %d%s)"):format(self.name, packet, timestamp, cookie,
    read_recovery_journal and ", after a loss" or ""))
end

local control = rtpmidi.RTPControl()
local a = Echo("127.0.0.1", 5008, 5006, "a")
local b = Echo("127.0.0.1", 5006, 5008, "b")
control:add_session(a)
control:add_session(b)
assert(control:start())

local n = 0
rtpmidi.every(100, function(t)
  n = n + 1
  a:send_data("hello " .. n, a:media_time())
  b:send_data("hi " .. n, b:media_time())
  if n == 3 then
    t:cancel()
    rtpmidi.after(100, function() control:stop() end)
  end
end)
control:run()
print(("a received %d, b received %d"):format(a.count, b.count))
os.exit(a.count == 3 and b.count == 3 and 0 or 1)
