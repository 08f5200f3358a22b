-- MidiSession: MIDI over RTP (RFC 6295) on top of RTPSession. send_midi
-- sends; incoming_midi(message, time, recovered) receives, once per message.
local core = require "rtpmidi.core"
local RTPSession = require "rtpmidi.session"
local options = require "rtpmidi.options"

local MidiSession = RTPSession:extend()

MidiSession.CALLBACKS = { "incoming_midi", "start", "stop", "drop_call" }
-- The options, their kinds and defaults: rtpmidi.options.MidiSession.
MidiSession.OPTIONS = options.MidiSession

-- MidiSession{ peer_address=, sending_port=, receiving_port=, latency=20,
--              jitter_buffer_size=10, recovery=true, payload=97, ... }
-- or, as the original guide (how-to-use-rtp.txt) writes it,
-- MidiSession(peer_address, sending_port, receiving_port, jitter_buffer_size):
-- the 4th argument is the jitter buffer (ms), the latency is given by name.
-- init, _open as every session class (RTPSession._with_core); check is
-- RTPSession's (its message names RTPSession.init).
RTPSession._with_core(MidiSession, options.MidiSession, core.midi_session)
local with_core_init = MidiSession.init
function MidiSession:init(...)
  with_core_init(self, ...)
  -- devices given at creation open now; a failure raises, naming the option
  for _, k in ipairs{ "device_in", "device_out" } do
    if self.config[k] ~= nil then
      local ok, err = self["set_" .. k](self, self.config[k])
      if not ok then options.raise(("bad argument '%s' (%s)"):format(k, err)) end
    end
  end
end

--- Sends one or more complete MIDI messages (a string of bytes). Messages
-- given in one loop turn leave together in one packet.
-- time (optional, rtpmidi.now() milliseconds, not in the future): when the
-- bytes happened, e.g. the time a MIDI input gave them; default now.
-- Returns true, or nil, err, code.
function MidiSession:send_midi(bytes, time)
  if type(bytes) ~= "string" then
    error("bad argument 'bytes' (string of MIDI bytes expected, got " .. type(bytes) .. ")", 2)
  end
  if time ~= nil and type(time) ~= "number" then
    error("bad argument 'time' (milliseconds expected, got " .. type(time) .. ")", 2)
  end
  local c = self._core
  if not c or not c:started() then return nil, "ENOTCONN: session is not started", "ENOTCONN" end
  return c:send_midi(bytes, time)
end

--- Sends what send_midi queued now rather than at the end of the loop turn.
function MidiSession:flush()
  local c = self._core
  if c and c:started() then return c:flush() end
  return true
end

function MidiSession:set_latency(ms)
  if type(ms) ~= "number" or ms < 0 then
    error("bad argument 'ms' (milliseconds >= 0 expected, got " .. tostring(ms) .. ")", 2)
  end
  self.config.latency = ms
  if self.midi_out then self.midi_out:set_latency(ms) end
end

-- MIDI devices: MidiIn -> network; network (and the journal's repairs) ->
-- MidiOut at the message's time plus the latency.

local function midi() return require "rtpmidi.midi" end

local function names(list)
  local out = {}
  for i, p in ipairs(list or {}) do out[i] = p.name end
  return out
end

--- The MIDI ports of the session's API: { inputs = {names}, outputs = {names} }.
function MidiSession:get_devices()
  local m = midi()
  return { inputs = names(m.MidiIn.ports(self.config.api)), outputs = names(m.MidiOut.ports(self.config.api)) }
end

local function check_port(port)
  if type(port) ~= "string" and math.type(port) ~= "integer" then
    error("bad argument 'port' (port name or index expected, got " .. type(port) .. ")", 3)
  end
end

--- Sends what the input port plays to the peer. Returns true, or nil and a
-- message listing the ports there are.
function MidiSession:set_device_in(port)
  check_port(port)
  local inp, err, code = midi().MidiIn{ api = self.config.api, port = port,
    on_message = function(_, bytes, time) self:send_midi(bytes, time) end }
  if not inp then return nil, err, code end
  if self.midi_in then self.midi_in:close() end
  self.midi_in = inp
  return true
end

--- Plays what arrives from the peer on the output port, at its time plus
-- the latency. Returns true, or nil and a message listing the ports.
function MidiSession:set_device_out(port)
  check_port(port)
  local out, err, code = midi().MidiOut{ api = self.config.api, port = port, latency = self.config.latency }
  if not out then return nil, err, code end
  if self.midi_out then self.midi_out:all_notes_off(); self.midi_out:close() end
  self.midi_out = out
  return true
end

--- The default route: what arrives goes to the output device, if any.
-- A script that defines its own incoming_midi can call this to keep it.
function MidiSession:incoming_midi(message, time)
  local out = self.midi_out
  if out then out:send(message, time) end
end

-- Called by the control after the session stops and by the core when the
-- peer is gone: no note may be left sounding.
function MidiSession:_silence()
  if self.midi_out then self.midi_out:all_notes_off() end
end

--- Closes the devices (all notes off first).
function MidiSession:close_devices()
  if self.midi_in then self.midi_in:close(); self.midi_in = nil end
  if self.midi_out then self.midi_out:all_notes_off(); self.midi_out:close(); self.midi_out = nil end
end

function MidiSession:get_latency() return self.config.latency end

return MidiSession
