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

-- RTPSession:send_data(data, timestamp, marker) -> true | nil, err, code
-- Sends data (a string) as one RTP packet with timestamp (an integer; nil:
-- media_time()) and the marker bit. Raises at the caller's line when data is
-- not a string or timestamp is neither nil nor an integer; a session not
-- started answers nil, "ENOTCONN: session is not started", "ENOTCONN".
-- Written in C (csrc/lua/lsession.c, l_send_data): it runs once per packet.
RTPSession.send_data = core.session_send_data

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
