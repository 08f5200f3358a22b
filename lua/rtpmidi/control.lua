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

function RTPControl:get_session(cookie)
  check_self(self)
  return self.sessions[cookie]
end

-- Callbacks may call any method of the control for any session, their own
-- included (stop it, remove it, restart it, stop everything): after each call
-- that runs callbacks, a method checks again what it holds (the session may
-- be gone, or stopped) before going on.

-- Returns true, or nil, message, code when the sockets cannot be opened.
function RTPControl:start_session(cookie)
  local s = lookup(self, cookie)
  s:check()
  if s._core:started() then return true end
  local ok, err, code = s._core:start(s, cookie)
  if not ok then return nil, err, code end
  callback(s, "start")
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

-- Runs the loop until stop() or until nothing is left to do.
function RTPControl:run()
  check_self(self)
  core.run("default")
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
}
