-- RTPSession: the base class that scripts extend (see the README).
local core = require "rtpmidi.core"
local Class = require "rtpmidi.class"
local options = require "rtpmidi.options"

local RTPSession = Class:extend()

RTPSession.CALLBACKS = { "incoming_rtp", "start", "stop", "drop_call" }
-- The options, their kinds and defaults: rtpmidi.options.RTPSession.
RTPSession.OPTIONS = options.RTPSession

-- RTPSession.init(self, peer_address, sending_port, receiving_port, payload,
--                 jitter_buffer_size, tool_name)
-- or RTPSession.init(self, { peer_address=..., ... , incoming_rtp=function ... })
-- Checks the options (an unknown one, or one of the wrong kind or out of
-- range, raises at the caller's line) and makes the core session, which
-- opens its sockets when the session starts.
function RTPSession:init(...)
  local cfg = options.read(options.RTPSession, self, select("#", ...), ...)
  if self._core then self._core:close() end
  self._core = options.create(options.RTPSession, core.session, cfg)
  self.config = cfg
end

-- Raises when a callback is set to something that is not a function.
function RTPSession:check()
  if type(self.config) ~= "table" then
    options.raise("bad argument 'session' (call RTPSession.init from your init)")
  end
  for _, name in ipairs(self.CALLBACKS) do
    local cb = self[name]
    if cb ~= nil and type(cb) ~= "function" then
      options.raise(("bad argument '%s' (callback must be a function, got %s)"):format(name, type(cb)))
    end
  end
end

-- The core session, made again when a session removed from the control is
-- added back.
function RTPSession:_open()
  if not self._core then self._core = core.session(self.config) end
  return self._core
end

function RTPSession:send_data(data, timestamp, marker)
  if type(data) ~= "string" then options.raise("bad argument 'data' (string expected, got " .. type(data) .. ")") end
  if timestamp ~= nil and math.type(timestamp) ~= "integer" then
    options.raise("bad argument 'timestamp' (integer expected, got " .. tostring(timestamp) .. ")")
  end
  local c = self._core
  if not c or not c:started() then return nil, "ENOTCONN: session is not started", "ENOTCONN" end
  return c:send(data, timestamp, marker)
end

-- The RTP timestamp for now on this session's clock (clock_rate ticks/s).
function RTPSession:media_time()
  return self._core and self._core:media_time()
end

function RTPSession:stats()
  return self._core and self._core:stats() or {}
end

function RTPSession:local_port()
  return self._core and self._core:local_port() or 0
end

function RTPSession:is_started()
  return self._core ~= nil and self._core:started()
end

return RTPSession
