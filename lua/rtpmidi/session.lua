-- RTPSession: the base class that scripts extend (see the README).
local core = require "rtpmidi.core"
local Class = require "rtpmidi.class"

local RTPSession = Class:extend()

RTPSession.CALLBACKS = { "incoming_rtp", "start", "stop", "drop_call" }

local OPTIONS = {
  "peer_address", "sending_port", "receiving_port", "payload", "jitter_buffer_size",
  "tool_name", "bind_address", "clock_rate",
  "rtcp_interval", "timeout", "accept_any_source", "start_sequence", "cname", "jitter_buffer_packets",
}

local function bad(name, msg, level)
  error(("bad argument '%s' (%s)"):format(name, msg), level or 4)
end

local function check_port(name, v)
  if v == nil then return 0 end
  if math.type(v) ~= "integer" or v < 0 or v > 65535 then
    bad(name, "integer port 0..65535 expected, got " .. tostring(v))
  end
  return v
end

-- RTPSession.init(self, peer_address, sending_port, receiving_port, payload,
--                 jitter_buffer_size, tool_name)
-- or RTPSession.init(self, { peer_address=..., ... , incoming_rtp=function ... })
function RTPSession:init(peer_address, sending_port, receiving_port, payload, jitter_buffer_size,
                         tool_name)
  local opts
  if type(peer_address) == "table" then
    opts = peer_address
    for k, v in pairs(opts) do
      if type(v) == "function" or (type(k) == "string" and not self.OPTIONS_SET[k]) then
        self[k] = v
      end
    end
  else
    opts = {
      peer_address = peer_address, sending_port = sending_port, receiving_port = receiving_port,
      payload = payload, jitter_buffer_size = jitter_buffer_size, tool_name = tool_name,
    }
  end
  if type(opts.peer_address) ~= "string" or opts.peer_address == "" then
    bad("peer_address", "host name or address expected, got " .. type(opts.peer_address))
  end
  local sp = check_port("sending_port", opts.sending_port)
  local rp = check_port("receiving_port", opts.receiving_port)
  if sp == 0 and rp == 0 then
    bad("sending_port", "a session needs a sending_port, a receiving_port or both")
  end
  local pt = opts.payload
  if math.type(pt) ~= "integer" or pt < 0 or pt > 127 then
    bad("payload", "RTP payload type 0..127 expected, got " .. tostring(pt))
  end
  local jb = opts.jitter_buffer_size
  if jb == nil then jb = 10 end
  if type(jb) ~= "number" or jb < 0 then
    bad("jitter_buffer_size", "milliseconds >= 0 expected, got " .. tostring(jb))
  end
  local tool = opts.tool_name
  if tool ~= nil and type(tool) ~= "string" then
    bad("tool_name", "string expected, got " .. type(tool))
  end
  local ri = opts.rtcp_interval
  if ri ~= nil and (type(ri) ~= "number" or not (ri > 0) or ri > 3600) then
    bad("rtcp_interval", "seconds > 0 expected, got " .. tostring(ri))
  end
  local to = opts.timeout
  if to ~= nil and (type(to) ~= "number" or not (to > 0) or to > 86400) then
    bad("timeout", "seconds > 0 expected, got " .. tostring(to))
  end
  if opts.accept_any_source ~= nil and type(opts.accept_any_source) ~= "boolean" then
    bad("accept_any_source", "boolean expected, got " .. type(opts.accept_any_source))
  end
  local jbp = opts.jitter_buffer_packets
  if jbp ~= nil and (math.type(jbp) ~= "integer" or jbp < 2 or jbp > 32768) then
    bad("jitter_buffer_packets", "integer 2..32768 expected, got " .. tostring(jbp))
  end
  local ss = opts.start_sequence
  if ss ~= nil and (math.type(ss) ~= "integer" or ss < 0 or ss > 65535) then
    bad("start_sequence", "integer 0..65535 expected, got " .. tostring(ss))
  end
  local cname = opts.cname
  if cname ~= nil and (type(cname) ~= "string" or #cname == 0 or #cname > 255) then
    bad("cname", "string of 1..255 octets expected, got " .. type(cname))
  end
  if tool ~= nil and #tool > 255 then bad("tool_name", "at most 255 octets expected") end
  local cfg = {}
  for _, k in ipairs(OPTIONS) do cfg[k] = opts[k] end
  cfg.sending_port, cfg.receiving_port, cfg.jitter_buffer_size = sp, rp, jb
  cfg.tool_name = tool or ("rtpmidi " .. core._VERSION)
  self.config = cfg
end

RTPSession.OPTIONS_SET = {}
for _, k in ipairs(OPTIONS) do RTPSession.OPTIONS_SET[k] = true end

-- Raises when a callback is set to something that is not a function.
function RTPSession:check()
  if type(self.config) ~= "table" then
    error("bad argument 'session' (call RTPSession.init from your init)", 3)
  end
  for _, name in ipairs(self.CALLBACKS) do
    local cb = self[name]
    if cb ~= nil and type(cb) ~= "function" then
      bad(name, "callback must be a function, got " .. type(cb))
    end
  end
end

-- The core session is made when the session is registered.
function RTPSession:_open()
  if not self._core then self._core = core.session(self.config) end
  return self._core
end

function RTPSession:send_data(data, timestamp, marker)
  if type(data) ~= "string" then bad("data", "string expected, got " .. type(data), 3) end
  if timestamp ~= nil and math.type(timestamp) ~= "integer" then
    bad("timestamp", "integer expected, got " .. tostring(timestamp), 3)
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
