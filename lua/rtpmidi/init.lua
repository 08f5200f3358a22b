-- rtpmidi: MIDI and any other RTP payload over the network, on libuv.
local core = require "rtpmidi.core"
local control = require "rtpmidi.control"

local M = {
  _VERSION = core._VERSION,
  RTPSession = require "rtpmidi.session",
  Class = require "rtpmidi.class",
  MidiIn = require("rtpmidi.midi").MidiIn,
  MidiOut = require("rtpmidi.midi").MidiOut,
  midi_apis = require("rtpmidi.midi").apis,
  set_jack_server = require("rtpmidi.midi").set_jack_server,
  MidiSession = require "rtpmidi.midisession",
  AppleMidiSession = require "rtpmidi.applemidi",
  Midi2Session = require "rtpmidi.midi2",
  codec = require "rtpmidi.codec",
  Tempo = require "rtpmidi.tempo",
}

--- The RTPControl singleton: every call returns the same object.
function M.RTPControl()
  return control.get()
end

--- Reports an error raised inside a callback (message with traceback).
-- Replace it to log elsewhere; the loop goes on either way.
function M.on_error(message)
  io.stderr:write("rtpmidi: error in callback: ", tostring(message), "\n")
end

core.set_error_handler(function(message) M.on_error(message) end)

local function timer(name, ms, repeat_ms, fn)
  if type(ms) ~= "number" or ms < 0 then
    error(("bad argument 'ms' to '%s' (milliseconds >= 0 expected, got %s)"):format(name, tostring(ms)), 3)
  end
  if type(fn) ~= "function" then
    error(("bad argument 'fn' to '%s' (function expected, got %s)"):format(name, type(fn)), 3)
  end
  return core.timer(ms, repeat_ms, fn)
end

--- Calls fn(handle) once after ms milliseconds. handle:cancel() stops it.
function M.after(ms, fn) return timer("after", ms, 0, fn) end

--- Calls fn(handle) every ms milliseconds until handle:cancel().
function M.every(ms, fn)
  if type(ms) == "number" and ms <= 0 then
    error("bad argument 'ms' to 'every' (milliseconds > 0 expected, got " .. ms .. ")", 2)
  end
  return timer("every", ms, ms, fn)
end

--- How long one callback may run before the watchdog stops it with an
-- error (reported like any callback error; the loop goes on): ms > 0, or
-- 0 / false / nil for never. Default 200. Returns the previous budget.
function M.set_callback_budget(ms)
  if ms == nil or ms == false then ms = 0 end
  if type(ms) ~= "number" or ms < 0 or ms ~= ms then
    error("bad argument 'ms' to 'set_callback_budget' (milliseconds >= 0 expected, got " .. tostring(ms) .. ")", 2)
  end
  return core.set_callback_budget(ms)
end

--- Monotonic milliseconds with sub-millisecond resolution.
M.now = core.now

return M
