-- RTPControl: the singleton that registers sessions, starts and stops them,
-- and runs the loop.
local core = require "rtpmidi.core"
local RTPSession = require "rtpmidi.session"

local RTPControl = {}
RTPControl.__index = RTPControl

local instance

local function new()
  return setmetatable({ sessions = {}, next_cookie = 1 }, RTPControl)
end

-- Calls session[name](session, ...) through the core's protected routine.
local function callback(session, name, ...)
  local fn = session[name]
  if fn then return core.call(fn, session, ...) end
  return true
end

local function check_self(self)
  if getmetatable(self) ~= RTPControl then
    error("bad argument 'self' (use control:method(...), not control.method(...))", 3)
  end
end

local function lookup(self, cookie)
  check_self(self)
  local s = self.sessions[cookie]
  if not s then
    error(("bad argument 'cookie' (no session with cookie %s)"):format(tostring(cookie)), 3)
  end
  return s
end

function RTPControl:add_session(session)
  check_self(self)
  -- a live-coding view of a session (rtpmidi.live) stands for the session
  local mt = getmetatable(session)
  if type(mt) == "table" and mt.__live_object then session = mt.__live_object end
  if type(session) ~= "table" or type(session.check) ~= "function" then
    error("bad argument 'session' (an RTPSession expected, got " .. type(session) .. ")", 2)
  end
  session:check()
  for cookie, s in pairs(self.sessions) do
    if s == session then return cookie end
  end
  local c, err = session:_open()
  if not c then error("cannot create the session: " .. tostring(err), 2) end
  local cookie = self.next_cookie
  self.next_cookie = cookie + 1
  self.sessions[cookie] = session
  session.cookie = cookie
  return cookie
end

-- The session registered under cookie, or nil when there is none (any
-- more). Something that is not a cookie raises: the original guide's own
-- example passes the session itself, which would otherwise quietly give nil.
function RTPControl:get_session(cookie)
  check_self(self)
  if math.type(cookie) ~= "integer" then
    local got = type(cookie)
    for _, s in pairs(self.sessions) do
      if s == cookie then got = "the session itself: pass the cookie add_session returned" end
    end
    error(("bad argument 'cookie' (a cookie from add_session expected, got %s)"):format(got), 2)
  end
  return self.sessions[cookie]
end

-- Callbacks may call any method of the control for any session, their own
-- included (stop it, remove it, restart it, stop everything): after each call
-- that runs callbacks, a method checks again what it holds (the session may
-- be gone, or stopped) before going on.

-- Returns true; or nil, message, code when the sockets cannot be opened
-- (code from the system) or the session's start callback raised (code
-- "ECALLBACK"; the session is stopped again).
function RTPControl:start_session(cookie)
  local s = lookup(self, cookie)
  s:check()
  if s._core:started() then return true end
  local ok, err, code = s._core:start(s, cookie)
  if not ok then return nil, err, code end
  local start = s.start
  if start then
    local cok, cerr = pcall(start, s)
    if not cok then
      s._core:stop()
      return nil, "start callback failed: " .. tostring(cerr), "ECALLBACK"
    end
  end
  return true
end

function RTPControl:stop_session(cookie)
  local s = lookup(self, cookie)
  if not s._core:started() then return true end
  -- The core's stop runs callbacks (participant_left "stopped", what the
  -- jitter buffer holds): there the session says it is not started, so a
  -- stop_session or remove_session from one does not stop it twice, and
  -- the stop callback runs once, after the stop.
  s._core:stop()
  if s._silence then s:_silence() end
  callback(s, "stop")
  return true
end

function RTPControl:remove_session(cookie)
  local s = lookup(self, cookie)
  self:stop_session(cookie)
  -- the stop callback may have removed it already
  if self.sessions[cookie] ~= s then return s end
  self.sessions[cookie] = nil
  s.cookie = nil
  if s.close_devices then s:close_devices() end
  -- close stops a session that the stop callback started again (without
  -- callbacks of the control: it is no longer registered)
  local c = s._core
  s._core = nil
  c:close()
  return s
end

-- Starts every session; returns true, or nil and the first error (the
-- others are still started).
function RTPControl:start()
  check_self(self)
  local first_err, first_code
  -- over a copy: callbacks may add and remove sessions
  for _, cookie in ipairs(self:cookies()) do
    if self.sessions[cookie] then
      local ok, err, code = self:start_session(cookie)
      if not ok and not first_err then first_err, first_code = err, code end
    end
  end
  if first_err then return nil, first_err, first_code end
  return true
end

-- Stops every session and makes run() return.
function RTPControl:stop()
  check_self(self)
  for _, cookie in ipairs(self:cookies()) do
    if self.sessions[cookie] then self:stop_session(cookie) end
  end
  core.stop_loop()
end

-- Signals -------------------------------------------------------------------
-- SIGINT (Ctrl-C) and SIGTERM end a script cleanly: the first one stops
-- every session (the peer gets its RTCP BYE or AppleMIDI BY) and turns off
-- every note sounding on the MIDI outputs; a second one ends the process
-- at once, by that signal (the shell says 130 for Ctrl-C), as a program
-- that does not catch it would end.

local catching = 0   -- catch_signals() in effect (nested runs catch once)

--- Calls on_first(name) on the loop for the first SIGINT or SIGTERM. From
-- then on both have their default action back: a second one ends the
-- process at once, even while a callback holds the loop. Returns the
-- function that stops catching.
local function catch_signals(on_first)
  local handles = {}
  local function cancel()
    if not handles then return end
    for _, h in ipairs(handles) do h:cancel() end
    handles = nil
    catching = catching - 1
  end
  for _, name in ipairs{ "SIGINT", "SIGTERM" } do
    handles[#handles + 1] = core.signal(name, function()
      if not handles then return end
      cancel()
      on_first(name)
    end)
  end
  catching = catching + 1
  return cancel
end

-- The time the MIDI outputs get to play the notes off (and the sockets to
-- send the BYE) before the loop ends.
local GRACE_MS = 100

-- The sessions' end: every session stops (BYE), every open MIDI output drops
-- what it had scheduled and turns its notes off, and the loop ends GRACE_MS
-- later.
function RTPControl:shutdown()
  check_self(self)
  for cookie in pairs(self.sessions) do self:stop_session(cookie) end
  require("rtpmidi.midi").silence_all()
  core.timer(GRACE_MS, 0, function() core.stop_loop() end)
end

--- Runs the loop until stop(), until nothing is left to do, or until
-- SIGINT/SIGTERM (see above). Returns the signal's name when one ended it.
function RTPControl:run()
  check_self(self)
  local got
  local cancel
  if catching == 0 then
    cancel = catch_signals(function(name)
      got = name
      io.stderr:write("rtpmidi: ", name, ", stopping (again to quit at once)\n")
      self:shutdown()
    end)
  end
  local ok, err = pcall(core.run, "default")
  if cancel then cancel() end
  if not ok then error(err, 0) end
  self.stopped_by = got
  return got
end

function RTPControl:cookies()
  local list = {}
  for cookie in pairs(self.sessions) do list[#list + 1] = cookie end
  table.sort(list)
  return list
end

return {
  get = function()
    instance = instance or new()
    return instance
  end,
  class = RTPControl,
  catch_signals = catch_signals,
}
