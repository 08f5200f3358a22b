-- RTPSession: the base class that scripts extend (see the README).
local core = require "rtpmidi.core"
local Class = require "rtpmidi.class"
local options = require "rtpmidi.options"

local RTPSession = Class:extend()

RTPSession.CALLBACKS = { "incoming_rtp", "start", "stop", "drop_call" }
-- The options, their kinds and defaults: rtpmidi.options.RTPSession.
RTPSession.OPTIONS = options.RTPSession

--- What every session class does with its core object (RTPSession,
-- MidiSession, AppleMidiSession, Midi2Session), written once and defined
-- on Cls by RTPSession._with_core(Cls, set, ctor, name):
--   Cls:init(...) checks the options of set (an unknown one, or one of the
--     wrong kind or out of range, raises at the caller's line) and makes
--     the core with ctor, which opens its sockets when the session starts;
--   Cls:_open() makes the core again when a session removed from the
--     control is added back;
--   Cls:check() (when name, the class's, is given) raises when the init
--     of a subclass did not call Cls.init, or a callback is set to
--     something that is not a function.
function RTPSession._with_core(Cls, set, ctor, name)
  function Cls:init(...)
    local cfg = options.read(set, self, select("#", ...), ...)
    if self._core then self._core:close() end
    self._core = options.create(set, ctor, cfg)
    self.config = cfg
  end
  function Cls:_open()
    if not self._core then self._core = ctor(self.config) end
    return self._core
  end
  if not name then return end
  function Cls:check()
    if type(self.config) ~= "table" then
      options.raise(("bad argument 'session' (call %s.init from your init)"):format(name))
    end
    for _, cb_name in ipairs(self.CALLBACKS) do
      local cb = self[cb_name]
      if cb ~= nil and type(cb) ~= "function" then
        options.raise(("bad argument '%s' (callback must be a function, got %s)"):format(cb_name, type(cb)))
      end
    end
  end
end

-- RTPSession.init(self, peer_address, sending_port, receiving_port, payload,
--                 jitter_buffer_size, tool_name)
-- or RTPSession.init(self, { peer_address=..., ... , incoming_rtp=function ... })
RTPSession._with_core(RTPSession, options.RTPSession, core.session, "RTPSession")

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
