-- End to end under valgrind (cmake/tests.cmake, test valgrind/e2e): a
-- MidiSession pair exchanging notes through a lossy relay so that the
-- recovery journal repairs, an AppleMidiSession pair, timers (one cancelled
-- inside itself), a live reload, a session removed from inside its own
-- callback and one freed by the garbage collector with a full send queue.
-- Exits 0 when everything arrived and nothing is left open; valgrind's own
-- exit code reports memory errors and definite leaks.
local src = os.getenv("RTPMIDI_SOURCE_DIR") or "."
local build = os.getenv("RTPMIDI_BUILD_DIR") or "build"
package.path = src .. "/lua/?.lua;" .. src .. "/lua/?/init.lua;" .. src .. "/spec/?.lua;" .. package.path
package.cpath = build .. "/?.so;" .. package.cpath

local rtpmidi = require "rtpmidi"
local core = require "rtpmidi.core"
local Live = require "rtpmidi.live"
local H = require "helper"
local FI = require "fault_injector"

local control = rtpmidi.RTPControl()
local T = 20000 -- watchdogs: valgrind is slow

local function check(cond, what)
  if not cond then
    io.stderr:write("valgrind_e2e: FAILED: ", what, "\n")
    os.exit(2)
  end
end

-- 1. MidiSession A -> relay (5 % loss) -> B, the journal repairs
local pa, pb, p, q = H.port(), H.port(), H.port(), H.port()
local relay = FI.new{ a_port = pa, b_port = pb, p = p, q = q, seed = 3, loss = 0.05, protect = 3 }
local a = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = p, receiving_port = pa, rtcp_interval = 0.2 }
local got, recovered = {}, 0
local b = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = q, receiving_port = pb, rtcp_interval = 0.2,
  jitter_buffer_size = 30,
  incoming_midi = function(_, m, _, rec)
    if rec then recovered = recovered + 1 else got[#got + 1] = m end
  end }
control:add_session(a)
control:add_session(b)
assert(control:start())
local N, sent = 120, 0
local pacer = rtpmidi.every(4, function(t)
  sent = sent + 1
  -- a note on, then its note off two packets later: the journal carries both
  assert(a:send_midi(string.char(0x90, 40 + sent % 40, 90)))
  if sent > 2 then assert(a:send_midi(string.char(0x80, 40 + (sent - 2) % 40, 0))) end
  if sent == N then t:cancel() end
end)
H.run_until(function() return sent == N end, "the notes to be sent", T)
H.run_until(function() return b:stats().lost > 0 and (recovered > 0 or b:stats().repairs > 0) end, "a repair", T)
pacer:cancel()
local lost = b:stats().lost

-- 2. timers: one cancelled inside itself, one repeating that cancels itself
local fired = 0
local once
once = rtpmidi.after(1, function(h) fired = fired + 1; h:cancel(); once:cancel() end)
rtpmidi.every(1, function(h) fired = fired + 1; if fired >= 4 then h:cancel() end end)
H.run_until(function() return fired >= 4 end, "the timers", T)

-- 3. a live reload
local path = os.tmpname()
local function write(v)
  local f = assert(io.open(path, "wb"))
  f:write(([[
local s = keep("s", function()
  local m = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = %d, receiving_port = %d }
  local c = rtpmidi.RTPControl()
  assert(c:start_session(c:add_session(m)))
  return m
end)
s.version_tag = %d
rtpmidi.every(3, function() end)
]]):format(H.port(), H.port(), v))
  f:close()
end
write(1)
local live = Live.new(path, { log = function() end })
assert(live:load())
write(2)
assert(live:reload())
check(live.version == 2, "live reload")
live:stop()
os.remove(path)

-- 4. AppleMIDI: invite, MIDI, BY
local joined, apple_got = 0, 0
local x = rtpmidi.AppleMidiSession{ name = "x", port = H.port(), invite_interval = 50, ck_fast_interval = 100,
  participant_joined = function() joined = joined + 1 end }
local y = rtpmidi.AppleMidiSession{ name = "y", port = H.port(), jitter_buffer_packets = 8,
  participant_joined = function() joined = joined + 1 end,
  incoming_midi = function() apple_got = apple_got + 1 end }
control:add_session(x)
control:add_session(y)
assert(control:start_session(x.cookie))
assert(control:start_session(y.cookie))
assert(x:invite("127.0.0.1", y.config.port))
H.run_until(function() return joined == 2 end, "the AppleMIDI join", T)
for i = 1, 10 do assert(x:send_midi(string.char(0xB0, 7, i))) end
H.run_until(function() return apple_got == 10 end, "the AppleMIDI messages", T)

-- 5. a session removed from inside its own callback
local removed = false
b.incoming_midi = function(self)
  if not removed then removed = true; control:remove_session(self.cookie) end
end
assert(a:send_midi("\x90\x3c\x40"))
H.run_until(function() return removed end, "the removal", T)

-- 6. a core session nobody holds, with a full send queue, collected
do
  local c = core.midi_session{ peer_address = "127.0.0.1", sending_port = H.port(), receiving_port = H.port(), payload = 97 }
  assert(c:start({}, 999))
  for _ = 1, 20 do assert(c:send_midi(("\x90\x3c\x40"):rep(50))) end
end
collectgarbage("collect")
collectgarbage("collect")

-- the check and the cleanup
check(#got > 0 and lost > 0, "MIDI through the lossy relay")
relay:close()
local left = H.cleanup()
check(left == 0, "handles left open: " .. tostring(left))
io.stdout:write(("valgrind_e2e: ok (%d messages, %d lost packets, %d repaired messages, %d AppleMIDI)\n")
  :format(#got, lost, recovered, apple_got))
