-- A bridge between AppleMIDI (RTP-MIDI: a Mac, an iPad, rtpMIDI on Windows)
-- and Network MIDI 2.0 (UMP over UDP: Windows MIDI Services, ALSA, Zephyr):
-- what an AppleMIDI participant plays goes to every Network MIDI 2.0
-- client as MIDI 2.0 channel voice (7-bit velocity upscaled to 16 bits,
-- controllers to 32), and what a client plays comes back scaled down.
-- Each side repairs its own losses (journal; FEC and retransmission).
--
--   lua5.4 examples/bridge.lua [SECONDS] [port=5004] [midi2_port=5673]
--   rtpmidi run examples/bridge.lua            (the same on the loop of `rtpmidi run`)
--
-- With no port given, stand-ins on loopback take the real devices' places:
-- a "keyboard" (AppleMIDI) that joins and plays a phrase, and a "synth"
-- (a Network MIDI 2.0 client) that joins and sends back what it gets.
-- SECONDS: how long to run (default 5, or $RTPMIDI_EXAMPLE_SECONDS; 0:
-- until Ctrl-C). The command `rtpmidi bridge` does the same with options.
local rtpmidi = require "rtpmidi"
local Bridge = require "rtpmidi.bridge"
local standalone = keep == nil              -- not under `rtpmidi run`

local opt = {}
for _, a in ipairs(standalone and arg or {}) do
  local k, v = a:match("^([%w_]+)=(.*)$")
  if k then opt[k] = v elseif tonumber(a) then opt.seconds = a end
end
local seconds = tonumber(opt.seconds or os.getenv("RTPMIDI_EXAMPLE_SECONDS") or (standalone and 5 or 0))
local base = tonumber(os.getenv("RTPMIDI_EXAMPLE_PORT") or 0)
local apple_port = tonumber(opt.port) or (base > 0 and base or 5004)
local midi2_port = tonumber(opt.midi2_port) or (base > 0 and base + 2 or 5673)
local control = rtpmidi.RTPControl()

-- The bridge: two sessions and one line that joins them.
local apple = rtpmidi.AppleMidiSession{ name = "rtpmidi bridge", port = apple_port }
local midi2 = rtpmidi.Midi2Session{ name = "rtpmidi bridge", role = "host", port = midi2_port }
local bridge = Bridge.new(apple, midi2)   -- protocol 2: MIDI 2.0 channel voice, upscaled
for _, s in ipairs{ apple, midi2 } do
  local ok, err = control:start_session(control:add_session(s))
  if not ok then io.stderr:write("cannot start a session: ", tostring(err), "\n") os.exit(1) end
end
print(("AppleMIDI on port %d, Network MIDI 2.0 host on port %d"):format(apple:local_port(), midi2:local_port()))

local phrase = { "\x90\x3C\x64", "\xB0\x07\x7F", "\xB0\x01\x40", "\xE0\x00\x60", "\x80\x3C\x40" }
local back = {}
if not opt.port and not opt.midi2_port then
  local hex = require("rtpmidi.monitor").hex
  -- the synth: a Network MIDI 2.0 client that sends back what it gets
  local synth = rtpmidi.Midi2Session{ name = "stand-in synth", role = "client", port = midi2_port + 1 }
  function synth:incoming_ump(words)
    print("synth got " .. Bridge.hex_words(words))
    self:send_ump(words)
  end
  -- the keyboard: an AppleMIDI participant that plays once the synth is there
  local keyboard = rtpmidi.AppleMidiSession{ name = "stand-in keyboard", port = apple_port + 4 }
  function keyboard:incoming_midi(msg)
    back[#back + 1] = msg
    print("keyboard got back " .. hex(msg):upper())
    if #back == #phrase then control:stop() end
  end
  local ready = 0
  local function play()
    ready = ready + 1
    if ready < 2 then return end
    local k = 0
    rtpmidi.every(50, function(t)
      k = k + 1
      if not phrase[k] then t:cancel() return end
      keyboard:send_midi(phrase[k])
    end)
  end
  keyboard.participant_joined, synth.client_joined = play, play
  assert(control:start_session(control:add_session(synth)))
  assert(control:start_session(control:add_session(keyboard)))
  assert(keyboard:invite("127.0.0.1", apple_port))
  assert(synth:invite("127.0.0.1", midi2_port))
end

if seconds > 0 then rtpmidi.after(seconds * 1000, function() control:stop() end) end
if standalone then
  control:run()
  local st = bridge:stats()
  print(("%d messages to Network MIDI 2.0, %d to AppleMIDI"):format(st.to_midi2, st.to_applemidi))
  local same = #back == #phrase
  for i = 1, #phrase do same = same and back[i] == phrase[i] end
  if not opt.port and not opt.midi2_port then
    print(same and "every message came back as it went" or "the phrase did not come back whole")
  end
  for _, c in ipairs(control:cookies()) do control:remove_session(c) end
  os.exit((opt.port or opt.midi2_port or same) and 0 or 1)
end
