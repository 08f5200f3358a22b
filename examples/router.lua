-- A MIDI router: one session takes what a keyboard sends and routes it by
-- channel to two others, transposing on the way.
--   channel 1  -> "lead" (an octave up)
--   channel 10 -> "drums" (as it is)
--   others     -> both
--
--   lua5.4 examples/router.lua [SECONDS] [port=5020]
--   rtpmidi run examples/router.lua --watch    (edit route() and save)
--
-- The router listens on `port`; lead and drums are sessions on port+2 and
-- port+4 of 127.0.0.1 that print what they get, and a stand-in keyboard on
-- port+6 plays on channels 1, 2 and 10. SECONDS: how long to run (default 5,
-- or $RTPMIDI_EXAMPLE_SECONDS; 0: until Ctrl-C).
local rtpmidi = require "rtpmidi"
local standalone = keep == nil              -- not under `rtpmidi run`
local keep = keep or function(_, make) return make() end

local opt = {}
for _, a in ipairs(standalone and arg or {}) do
  local k, v = a:match("^(%w+)=(.*)$")
  if k then opt[k] = v elseif tonumber(a) then opt.seconds = a end
end
local seconds = tonumber(opt.seconds or os.getenv("RTPMIDI_EXAMPLE_SECONDS") or (standalone and 5 or 0))
local P = tonumber(opt.port or os.getenv("RTPMIDI_EXAMPLE_PORT") or 5020)
local control = rtpmidi.RTPControl()

local function session(name, opts)
  return keep(name, function()
    opts.peer_address = "127.0.0.1"
    opts.tool_name = name
    local s = rtpmidi.MidiSession(opts)
    assert(control:start_session(control:add_session(s)))
    return s
  end)
end

local router = session("router", { receiving_port = P })
local lead = session("lead", { sending_port = P, receiving_port = P + 2 })
local drums = session("drums", { sending_port = P, receiving_port = P + 4 })
local to_lead = session("to lead", { sending_port = P + 2, receiving_port = P + 8 })
local to_drums = session("to drums", { sending_port = P + 4, receiving_port = P + 10 })
local keyboard = session("keyboard", { sending_port = P, receiving_port = P + 6 })

local counts = keep("counts", function() return { lead = 0, drums = 0 } end)
local function printer(name)
  return function(_, msg)
    counts[name] = counts[name] + 1
    local s, n, v = msg:byte(1, 3)
    print(("%-5s ch%-2d %02x %3d %3d"):format(name, (s & 0x0F) + 1, s & 0xF0, n, v or 0))
  end
end
lead.incoming_midi = printer("lead")
drums.incoming_midi = printer("drums")

-- The route: edit and save while it plays.
local function transpose(msg, by)
  local s, n, v = msg:byte(1, 3)
  local kind = s & 0xF0
  if (kind == 0x80 or kind == 0x90 or kind == 0xA0) and n + by >= 0 and n + by <= 127 then
    return string.char(s, n + by, v)
  end
  return msg
end

router.incoming_midi = function(_, msg)
  local status = msg:byte(1)
  if status >= 0xF0 then return end                -- system messages stop here
  local channel = (status & 0x0F) + 1
  if channel == 1 then
    to_lead:send_midi(transpose(msg, 12))
  elseif channel == 10 then
    to_drums:send_midi(msg)
  else
    to_lead:send_midi(msg)
    to_drums:send_midi(msg)
  end
end

-- A stand-in keyboard: a note on channel 1, a kick on channel 10, a pad on channel 2.
local k = 0
rtpmidi.every(250, function()
  k = k + 1
  local ch = ({ 0, 9, 1 })[(k - 1) % 3 + 1]
  local n = ch == 9 and 36 or 60 + (k % 5)
  keyboard:send_midi(string.char(0x90 | ch, n, 100))
  rtpmidi.after(100, function() keyboard:send_midi(string.char(0x80 | ch, n, 0)) end)
end)

if seconds > 0 then rtpmidi.after(seconds * 1000, function() control:stop() end) end
if standalone then
  control:run()
  for _, c in ipairs(control:cookies()) do control:remove_session(c) end
  print(("lead got %d messages, drums got %d"):format(counts.lead, counts.drums))
  os.exit(counts.lead > 0 and counts.drums > 0 and 0 or 1)
end
