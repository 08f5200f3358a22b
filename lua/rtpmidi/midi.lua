-- MidiIn and MidiOut: MIDI ports through RtMidi ("alsa", "jack", ...).
--
--   local inp = rtpmidi.MidiIn{ api="jack", port="name, part of one, or index" }
--   function inp:on_message(bytes, time) end      -- on the loop; time: rtpmidi.now() at arrival
--   local out = rtpmidi.MidiOut{ virtual="rtpmidi out", latency=20 }
--   out:send("\x90\x3c\x64")                       -- now
--   out:send("\x80\x3c\x00", rtpmidi.now() + 500)  -- at that time + latency
--
-- A constructor returns the port, or nil, message, code when it cannot be
-- opened (no such port, no server); wrong arguments raise.
local core = require "rtpmidi.core"
local Class = require "rtpmidi.class"
local options = require "rtpmidi.options"

local M = {}

local function bad(name, msg)
  options.raise(("bad argument '%s' (%s)"):format(name, msg))
end

-- Like Class's constructor, but init may fail at run time: then the call
-- returns nil, message, code instead of an object.
local function open_call(cls, ...)
  local obj = setmetatable({}, cls)
  local ok, err, code = obj:init(...)
  if ok == nil and err ~= nil then return nil, err, code end
  return obj
end

local function port_class(set)
  local cls = Class:extend()
  cls.OPTIONS = set
  function cls:extend(fields)
    local sub = Class.extend(self, fields)
    sub.__call = open_call
    return sub
  end
  return setmetatable(cls, { __index = Class, __call = open_call })
end

-- RtMidi, JACK and ALSA print on standard error by themselves (a screenful
-- of "Cannot connect to server socket" when no JACK server runs); our
-- errors say what matters, so their output is hidden unless set_verbose.
local verbose = false

--- Lets the MIDI libraries' own messages through to standard error (true)
-- or hides them (false, the default).
function M.set_verbose(on) verbose = not not on end

local function quietly(f, ...)
  if verbose then return f(...) end
  return core.quiet(f, ...)
end

local function list(kind, api)
  if api ~= nil and type(api) ~= "string" then bad("api", "string expected, got " .. type(api)) end
  return quietly(core.midi_ports, kind, api)
end

local function open_in(...) return quietly(core.midi_in, ...) end
local function open_out(...) return quietly(core.midi_out, ...) end

--- The MIDI APIs RtMidi was built with, e.g. { "alsa", "jack" }.
function M.apis() return core.midi_apis() end

--- Selects the JACK server that JACK clients opened from now on use (the
-- JACK_DEFAULT_SERVER variable); nil: the default server.
function M.set_jack_server(name)
  if name ~= nil and type(name) ~= "string" then bad("name", "string expected, got " .. type(name)) end
  core.midi_set_jack_server(name)
end

-- MidiIn ---------------------------------------------------------------------

local MidiIn = port_class(options.MidiIn)
M.MidiIn = MidiIn

--- MidiIn{ api=, port=, virtual=, client=, port_name=, sysex=true, clock=true,
--          active_sensing=false, queue_size=262144, on_message=function(self, bytes, time) end }
function MidiIn:init(...)
  local cfg = options.read(options.MidiIn, self, select("#", ...), ...)
  local port, err, code = options.create(options.MidiIn, open_in, cfg, self)
  if not port then return nil, err, code end
  self._port = port
  return true
end

--- The input ports of api (nil: the default API): { {index=0, name="..."}, ... },
-- or nil, message when the API cannot be used.
function MidiIn.ports(api) return list("in", api) end

function MidiIn:close() if self._port then quietly(self._port.close, self._port) end end
function MidiIn:is_open() return self._port ~= nil and self._port:is_open() end
--- { received=, dropped= }: messages delivered, and lost because the queue was full.
function MidiIn:stats() return self._port:stats() end
function MidiIn:api() return self._port:api() end
function MidiIn:port_name() return self._port:port_name() end

-- MidiOut --------------------------------------------------------------------

local MidiOut = port_class(options.MidiOut)
M.MidiOut = MidiOut

-- The outputs open in this process, for silence_all (weak: a port the
-- script let go of is not held open by this list).
local outputs = setmetatable({}, { __mode = "k" })

--- Every open output drops what it had scheduled and turns its notes off
-- (Ctrl-C: no note is left sounding).
function M.silence_all()
  for out in pairs(outputs) do
    if out:is_open() then
      out:cancel_pending()
      out:all_notes_off()
    end
  end
end

--- MidiOut{ api=, port=, virtual=, client=, port_name=, latency=0, max_pending=65536, realtime=true }
-- realtime: the thread that plays scheduled messages asks for real-time
-- scheduling (SCHED_FIFO 5, below JACK's) and goes on without when refused.
function MidiOut:init(...)
  local cfg = options.read(options.MidiOut, self, select("#", ...), ...)
  local port, err, code = options.create(options.MidiOut, open_out, cfg)
  if not port then return nil, err, code end
  self._port = port
  outputs[self] = true
  return true
end

--- The output ports of api: { {index=0, name="..."}, ... }, or nil, message.
function MidiOut.ports(api) return list("out", api) end

local function closed()
  return nil, "the MIDI port is closed", "ECLOSED"
end

--- Plays bytes (complete MIDI messages) now, or at time + latency when a
-- time (milliseconds on the rtpmidi.now() clock) is given. true, or nil, err.
function MidiOut:send(bytes, time)
  if not self:is_open() then return closed() end
  return self._port:send(bytes, time)
end

--- Note off for every note sounding, then All Notes Off (CC 123) on every
-- channel. Returns the number of messages sent.
function MidiOut:all_notes_off()
  if not self:is_open() then return 0 end
  return self._port:all_notes_off()
end

function MidiOut:set_latency(ms)
  if type(ms) ~= "number" or ms < 0 then bad("latency", "milliseconds >= 0 expected, got " .. tostring(ms)) end
  self._port:set_latency(ms)
end
function MidiOut:latency() return self._port:latency() end
--- Drops the scheduled messages not played yet; returns how many.
function MidiOut:cancel_pending() return self:is_open() and self._port:cancel_pending() or 0 end
function MidiOut:pending() return self:is_open() and self._port:pending() or 0 end
--- { sent, scheduled, played, late, cancelled, errors, max_late_ms, mean_late_ms }
function MidiOut:stats() return self._port:stats() end
function MidiOut:api() return self._port:api() end
function MidiOut:port_name() return self._port:port_name() end
function MidiOut:is_open() return self._port ~= nil and self._port:is_open() end
--- Drops what is pending, sends all notes off and closes the port.
function MidiOut:close() if self._port then quietly(self._port.close, self._port) end end

return M
