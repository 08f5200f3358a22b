-- An AppleMIDI ("Network MIDI") session a Mac, an iPad or rtpMIDI on Windows
-- can join: on the Mac, open Audio MIDI Setup > MIDI Studio > Network, add
-- this machine's address and port under Directory, and Connect.
--
--   lua5.4 examples/applemidi_host.lua [SECONDS] [port=5004] [name="rtpmidi host"] [out=PORT] [api=jack]
--
-- What a participant plays goes to the MIDI output `out` (or is printed),
-- and each note is echoed back a fifth up, so a keyboard on the Mac hears
-- the host. With no port given, a stand-in "Mac" (a second session on
-- loopback) joins, plays a few notes and leaves. SECONDS: how long to run
-- (default 5, or $RTPMIDI_EXAMPLE_SECONDS; 0: until Ctrl-C).
local rtpmidi = require "rtpmidi"
local describe = require("rtpmidi.monitor").describe_midi

local opt = {}
for _, a in ipairs(arg or {}) do
  local k, v = a:match("^(%w+)=(.*)$")
  if k then opt[k] = v elseif tonumber(a) then opt.seconds = a end
end
local seconds = tonumber(opt.seconds or os.getenv("RTPMIDI_EXAMPLE_SECONDS") or 5)
local port = tonumber(opt.port or os.getenv("RTPMIDI_EXAMPLE_PORT") or 5004)
local control = rtpmidi.RTPControl()

local out
if opt.out then
  local err
  out, err = rtpmidi.MidiOut{ api = opt.api, port = tonumber(opt.out) or opt.out, latency = 10 }
  if not out then io.stderr:write(err, "\n") os.exit(1) end
end

local heard, joined = 0, 0
-- A name comes from the network: control characters shown as \ddd, never
-- sent to the terminal. An IPv6 address goes in brackets before its port.
local function shown(s) return (s:gsub("[%c\127]", function(c) return ("\\%03d"):format(c:byte()) end)) end
local function hostport(a, p) return (a:find(":", 1, true) and "[%s]:%d" or "%s:%d"):format(a, p) end
local host = rtpmidi.AppleMidiSession{ name = opt.name or "rtpmidi host", port = port, accept = "anyone" }
function host:participant_joined(p)
  joined = joined + 1
  print(("%s joined from %s"):format(shown(p.name), hostport(p.address, p.port)))
end
function host:participant_left(p, reason)
  print(("%s left (%s)"):format(shown(p.name), reason))
  if out and #self:participants() == 0 then out:all_notes_off() end
end
function host:participant_synced(p)
  print(("%s: clock in sync, latency %.2f ms"):format(shown(p.name), p.latency or 0))
end
function host:incoming_midi(msg, time, recovered, p)
  heard = heard + 1
  print(("from %s: %s%s"):format(p and shown(p.name) or "?", describe(msg), recovered and " (recovered)" or ""))
  if out then out:send(msg, time) end
  local s, n, v = msg:byte(1, 3)
  if (s & 0xF0 == 0x90 or s & 0xF0 == 0x80) and n + 7 <= 127 then
    self:send_midi(string.char(s, n + 7, v))       -- the echo, a fifth up
  end
end
local ok, err = control:start_session(control:add_session(host))
if not ok then io.stderr:write("cannot open ports ", port, "/", port + 1, ": ", err, "\n") os.exit(1) end
print(("AppleMIDI session '%s' on ports %d/%d: waiting for participants"):format(host.config.name, port, port + 1))

if not opt.port then
  -- a stand-in Mac: joins, plays, leaves
  local echoes = 0
  local mac = rtpmidi.AppleMidiSession{ name = "stand-in Mac", port = port + 2,
    incoming_midi = function() echoes = echoes + 1 end }
  function mac:participant_joined()
    local notes, k = { 60, 64, 67 }, 0
    rtpmidi.every(150, function(t)
      k = k + 1
      local n = notes[(k - 1) // 2 + 1]
      if not n then
        t:cancel()
        for _, p in ipairs(mac:participants()) do mac:disconnect(p) end
        print(("the stand-in Mac heard %d echoes"):format(echoes))
        return
      end
      mac:send_midi(string.char(k % 2 == 1 and 0x90 or 0x80, n, k % 2 == 1 and 100 or 0))
    end)
  end
  assert(control:start_session(control:add_session(mac)))
  assert(mac:invite("127.0.0.1", port))
end

if seconds > 0 then rtpmidi.after(seconds * 1000, function() control:stop() end) end
control:run()
for _, c in ipairs(control:cookies()) do control:remove_session(c) end
if out then out:close() end
print(("%d participant(s) joined, %d messages received"):format(joined, heard))
os.exit((opt.port or (joined > 0 and heard > 0)) and 0 or 1)
