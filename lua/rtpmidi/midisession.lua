-- MidiSession: MIDI over RTP (RFC 6295) on top of RTPSession. send_midi
-- sends; incoming_midi(message, time, recovered) receives, once per message.
local core = require "rtpmidi.core"
local RTPSession = require "rtpmidi.session"

local MidiSession = RTPSession:extend()

MidiSession.CALLBACKS = { "incoming_midi", "start", "stop", "drop_call" }

local EXTRA = { "latency", "recovery", "payload_budget", "max_sysex" }
MidiSession.OPTIONS_SET = {}
for k in pairs(RTPSession.OPTIONS_SET) do MidiSession.OPTIONS_SET[k] = true end
for _, k in ipairs(EXTRA) do MidiSession.OPTIONS_SET[k] = true end

local function bad(name, msg)
  error(("bad argument '%s' (%s)"):format(name, msg), 4)
end

-- MidiSession{ peer_address=, sending_port=, receiving_port=, latency=20,
--              jitter_buffer_size=10, recovery=true, payload=97, ... }
-- or MidiSession(peer_address, sending_port, receiving_port, latency, jitter_buffer_size)
function MidiSession:init(peer_address, sending_port, receiving_port, latency, jitter_buffer_size)
  local opts
  if type(peer_address) == "table" then
    opts = {}
    for k, v in pairs(peer_address) do opts[k] = v end
  else
    opts = { peer_address = peer_address, sending_port = sending_port, receiving_port = receiving_port,
             latency = latency, jitter_buffer_size = jitter_buffer_size }
  end
  if opts.payload == nil then opts.payload = 97 end
  RTPSession.init(self, opts)
  local cfg = self.config
  local lat = opts.latency
  if lat == nil then lat = 20 end
  if type(lat) ~= "number" or lat < 0 then bad("latency", "milliseconds >= 0 expected, got " .. tostring(lat)) end
  local recovery = opts.recovery
  if recovery == nil then recovery = true end
  if type(recovery) ~= "boolean" then bad("recovery", "boolean expected, got " .. type(recovery)) end
  for _, k in ipairs{ "payload_budget", "max_sysex" } do
    local v = opts[k]
    if v ~= nil and (math.type(v) ~= "integer" or v <= 0) then
      bad(k, "positive integer expected, got " .. tostring(v))
    end
    cfg[k] = v
  end
  cfg.latency, cfg.recovery = lat, recovery
end

function MidiSession:_open()
  if not self._core then self._core = core.midi_session(self.config) end
  return self._core
end

--- Sends one or more complete MIDI messages (a string of bytes). Messages
-- given in one loop turn leave together in one packet.
-- Returns true, or nil, err, code.
function MidiSession:send_midi(bytes)
  if type(bytes) ~= "string" then
    error("bad argument 'bytes' (string of MIDI bytes expected, got " .. type(bytes) .. ")", 2)
  end
  local c = self._core
  if not c or not c:started() then return nil, "ENOTCONN: session is not started", "ENOTCONN" end
  return c:send_midi(bytes)
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
end

function MidiSession:get_latency() return self.config.latency end

return MidiSession
