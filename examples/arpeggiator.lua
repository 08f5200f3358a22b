-- An arpeggiator to live-code, on rtpmidi.Tempo:
--
--   rtpmidi run examples/arpeggiator.lua --watch
--
-- then change CHORD, PATTERN, BPM or the step function below and save: the
-- new version takes over at the next step; the clock, the session and the
-- notes already sounding carry on. (A version that does not load is
-- reported and the previous one keeps playing.)
--
-- It plays to a MIDI session at 127.0.0.1:PORT ($RTPMIDI_EXAMPLE_PORT,
-- default 5040) and, for the demo, a listener there prints each note; set
-- $RTPMIDI_EXAMPLE_OUTPUT to a MIDI output port (and $RTPMIDI_EXAMPLE_API)
-- to play a synth instead. Alone: lua5.4 examples/arpeggiator.lua [SECONDS]
-- (default 5; under `rtpmidi run`, until Ctrl-C unless
-- $RTPMIDI_EXAMPLE_SECONDS is set).
local rtpmidi = require "rtpmidi"
local standalone = keep == nil              -- not under `rtpmidi run`
local keep = keep or function(_, make) return make() end
local seconds = tonumber(os.getenv("RTPMIDI_EXAMPLE_SECONDS") or (standalone and arg and arg[1]) or "")
  or (standalone and 5 or 0)
local PORT = tonumber(os.getenv("RTPMIDI_EXAMPLE_PORT") or 5040)
local control = rtpmidi.RTPControl()

-- What plays: edit and save. ------------------------------------------------
local BPM = 126
local CHORD = { 60, 63, 67, 70 }          -- C minor 7
local PATTERN = { 1, 2, 3, 4, 3, 2 }      -- chord tones, one per step
local STEP = 1 / 4                        -- a 16th note (in beats)
local OCTAVES = 2                         -- the pattern climbs this many octaves
local GATE = 0.5                          -- how long a note holds, in steps
local VELOCITY = { 110, 70, 90, 70 }      -- accents, by step in the beat

-- What lasts across versions ---------------------------------------------------
local out = keep("out", function()
  local port = os.getenv("RTPMIDI_EXAMPLE_OUTPUT")
  if port then
    return assert(rtpmidi.MidiOut{ api = os.getenv("RTPMIDI_EXAMPLE_API"), port = tonumber(port) or port })
  end
  local s = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = PORT, tool_name = "arpeggiator" }
  assert(control:start_session(control:add_session(s)))
  return s
end)

local listener = keep("listener", function()
  if os.getenv("RTPMIDI_EXAMPLE_OUTPUT") then return { count = 0 } end
  local s = rtpmidi.MidiSession{ peer_address = "127.0.0.1", receiving_port = PORT, tool_name = "listener" }
  s.count = 0
  assert(control:start_session(control:add_session(s)))
  return s
end)
listener.incoming_midi = function(self, msg)
  local st, n, v = msg:byte(1, 3)
  if st & 0xF0 == 0x90 and v > 0 then
    self.count = self.count + 1
    local names = { "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B" }
    io.write(names[n % 12 + 1], n // 12 - 1, " ")
    io.flush()
  end
end

local arp = keep("arp", function()
  local a = { clock = rtpmidi.Tempo{ bpm = BPM } }
  local function send(bytes)
    if out.send_midi then out:send_midi(bytes) else out:send(bytes) end
  end
  a.send = send
  a.clock:every(STEP, function(beat) if a.step then a.step(beat) end end)
  function a.close()
    a.clock:stop()
    send("\xB0\x7B\x00")                   -- all notes off
  end
  return a
end)

-- The step: called every STEP beats with the position in beats.
arp.step = function(beat)
  local i = math.floor(beat / STEP + 0.5)
  local tone = CHORD[PATTERN[i % #PATTERN + 1]]
  local octave = (i // #PATTERN) % OCTAVES
  local note = tone + 12 * octave
  local velocity = VELOCITY[i % #VELOCITY + 1]
  arp.send(string.char(0x90, note, velocity))
  arp.clock:at(beat + STEP * GATE, function() arp.send(string.char(0x80, note, 0)) end)
end
arp.clock:set_bpm(BPM)
-- the first version starts the clock once its step is in place
if not arp.clock.running then rtpmidi.after(0, function() arp.clock:start() end) end

if seconds > 0 then
  rtpmidi.after(seconds * 1000, function() arp.close(); rtpmidi.after(50, function() control:stop() end) end)
end
if standalone then
  control:run()
  for _, c in ipairs(control:cookies()) do control:remove_session(c) end
  print(("\n%d notes"):format(listener.count))
  os.exit(listener.count > 0 and 0 or 1)
end
