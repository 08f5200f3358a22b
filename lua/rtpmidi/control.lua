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
  s._core:stop()
  if s._silence then s:_silence() end
  callback(s, "stop")
  return true
end

function RTPControl:remove_session(cookie)
  local s = lookup(self, cookie)
  self:stop_session(cookie)
  if s.close_devices then s:close_devices() end
  s._core:close()
  s._core = nil
  s.cookie = nil
  self.sessions[cookie] = nil
  return s
end

-- Starts every session; returns true, or nil and the first error (the
-- others are still started).
function RTPControl:start()
  check_self(self)
  local first_err, first_code
  for cookie in pairs(self.sessions) do
    local ok, err, code = self:start_session(cookie)
    if not ok and not first_err then first_err, first_code = err, code end
  end
  if first_err then return nil, first_err, first_code end
  return true
end

-- Stops every session and makes run() return.
function RTPControl:stop()
  check_self(self)
  for cookie in pairs(self.sessions) do self:stop_session(cookie) end
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
