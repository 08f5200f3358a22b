-- The original library's MidiSession example (how-to-use-rtp.txt), in Lua: a
-- subclass of RTPSession that owns a MIDI input and a MIDI output. What the
-- input plays is encoded as RTP-MIDI (RFC 6295) and sent; what arrives is
-- decoded and played. The built-in rtpmidi.MidiSession does all of this (and
-- the recovery journal); this is how you would build your own.
--
--   lua5.4 examples/midisession.lua [SECONDS] [in=PORT] [out=PORT] [api=jack] [port=5010]
--
-- With no ports, a tiny built-in keyboard plays into one session and a second
-- session on loopback prints what it would play. SECONDS: how long to run
-- (default 5, or $RTPMIDI_EXAMPLE_SECONDS; 0: until Ctrl-C).
local rtpmidi = require "rtpmidi"
local codec = rtpmidi.codec
local RTPSession = rtpmidi.RTPSession

local opt = {}
for _, a in ipairs(arg or {}) do
  local k, v = a:match("^(%w+)=(.*)$")
  if k then opt[k] = v elseif tonumber(a) then opt.seconds = a end
end
local seconds = tonumber(opt.seconds or os.getenv("RTPMIDI_EXAMPLE_SECONDS") or 5)
local base = tonumber(opt.port or os.getenv("RTPMIDI_EXAMPLE_PORT") or 5010)

local TOOL_NAME = "ExampleStream"
local PAYLOAD = 96

-- A MIDI input with start/stop, as the guide's MidiIn: a real port, or a
-- keyboard that plays a scale by itself.
local function keyboard(port, api)
  local kb = {}
  function kb:start(send)
    if port then
      self.port = assert(rtpmidi.MidiIn{ api = api, port = port,
        on_message = function(_, bytes) send(bytes) end })
    else
      local notes, i = { 60, 62, 64, 65, 67, 69, 71, 72 }, 0
      self.timer = rtpmidi.every(150, function()
        i = i % #notes + 1
        send(string.char(0x90, notes[i], 100))
        rtpmidi.after(100, function() send(string.char(0x80, notes[i], 0)) end)
      end)
    end
  end
  function kb:stop()
    if self.port then self.port:close(); self.port = nil end
    if self.timer then self.timer:cancel(); self.timer = nil end
  end
  return kb
end

-- A MIDI output: a real port, or one that prints.
local function synth(port, api, name)
  if port then return assert(rtpmidi.MidiOut{ api = api, port = port }) end
  return { send = function(_, bytes)
    local s, n, v = bytes:byte(1, 3)
    print(("%s plays %02x %d %d"):format(name, s, n, v or 0))
  end, close = function() end }
end

local MidiSession = RTPSession:extend()

function MidiSession:init(peer_address, sending_port, receiving_port, jitter_buffer_size)
  -- init the mother class
  RTPSession.init(self, peer_address, sending_port or 0, receiving_port or 0, PAYLOAD,
                  jitter_buffer_size or 10, TOOL_NAME)
  self.received = 0
end

function MidiSession:start()
  -- start your stuff
  if self.midi_in then self.midi_in:start(function(bytes) self:send_midi(bytes) end) end
end

function MidiSession:stop()
  -- stop your stuff
  if self.midi_in then self.midi_in:stop() end
end

function MidiSession:incoming_rtp(cookie, timestamp, packet, read_recovery_journal)
  local payload = codec.decode_midi_payload(packet)
  if not payload then return end           -- not MIDI: dropped
  if read_recovery_journal then print("(a packet was lost before this one)") end
  for _, command in ipairs(payload.commands) do
    self.received = self.received + 1
    if self.midi_out then self.midi_out:send(command.bytes) end
  end
end

function MidiSession:drop_call(cookie, reason, detail)
  print(("session %d: peer gone (%s %s)"):format(cookie, reason, detail))
end

-- "A send function could also be helpful": encode, then RTPSession.send_data
-- (the timestamp defaults to the session's clock).
function MidiSession:send_midi(bytes)
  local chunk = assert(codec.encode_midi_payload({ { delta = 0, bytes = bytes } }))
  return RTPSession.send_data(self, chunk)
end

-- List the MIDI devices and set them.
function MidiSession:get_devices(api)
  local names = function(list) local t = {} for i, p in ipairs(list or {}) do t[i] = p.name end return t end
  return { inputs = names(rtpmidi.MidiIn.ports(api)), outputs = names(rtpmidi.MidiOut.ports(api)) }
end
function MidiSession:set_device_in(midi_in) self.midi_in = midi_in end
function MidiSession:set_device_out(midi_out) self.midi_out = midi_out end

-- Init RTPControl (a singleton) and create the sessions: one sends what the
-- keyboard plays, the other plays what arrives.
local rtp_control = rtpmidi.RTPControl()
local sender = MidiSession("127.0.0.1", base + 2, base, 10)
sender:set_device_in(keyboard(opt["in"], opt.api))
local receiver = MidiSession("127.0.0.1", base, base + 2, 10)
receiver:set_device_out(synth(opt.out, opt.api, "receiver"))

-- Register the sessions and start them all (or one: start_session(cookie))
local cookie_sender = rtp_control:add_session(sender)
local cookie_receiver = rtp_control:add_session(receiver)
assert(rtp_control:start())
assert(rtp_control:get_session(cookie_sender) == sender)

if seconds > 0 then
  rtpmidi.after(seconds * 1000, function() rtp_control:stop() end)
end
rtp_control:run()
receiver.midi_out:close()
rtp_control:remove_session(cookie_sender)
rtp_control:remove_session(cookie_receiver)
print(("the receiver got %d MIDI messages"):format(receiver.received))
os.exit(receiver.received > 0 and 0 or 1)
