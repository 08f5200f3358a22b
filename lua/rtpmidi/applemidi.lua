-- AppleMidiSession: Apple's session protocol ("Network MIDI") with any
-- number of participants. Registered with RTPControl like any session.
--
--   local apple = rtpmidi.AppleMidiSession{ name="lua", port=5004, accept="anyone" }
--   function apple:incoming_midi(message, time, recovered, participant) end
--   function apple:participant_joined(p) end
--   function apple:participant_left(p, reason) end   -- "bye", "timeout", "stopped", "disconnected", "restarted"
--   apple:invite("10.0.0.2", 5004); apple:send_midi("\x90\x3c\x64")
local core = require "rtpmidi.core"
local Class = require "rtpmidi.class"

local AppleMidiSession = Class:extend()

AppleMidiSession.CALLBACKS = {
  "incoming_midi", "participant_joined", "participant_left", "participant_synced",
  "invitation_failed", "start", "stop",
}

-- option -> checker kind
local OPTIONS = {
  name = "string", port = "port", bind_address = "string", accept = "accept",
  ssrc = "ssrc", recovery = "boolean", reinvite = "boolean",
  invite_tries = "count", invite_interval = "ms", ck_fast_count = "count0",
  ck_fast_interval = "ms", ck_interval = "ms", timeout = "seconds", rs_interval = "ms",
  guard_interval = "ms", jitter_buffer_size = "ms0", payload_budget = "budget",
  max_sysex = "count", max_participants = "count", invitations_per_second = "rate",
  journal_history = "history", jitter_buffer_packets = "slots",
}
AppleMidiSession.OPTIONS = OPTIONS

local function bad(name, msg, level)
  error(("bad argument '%s' (%s)"):format(name, msg), level or 4)
end

local function check_option(k, v)
  local kind = OPTIONS[k]
  if kind == "string" then
    if type(v) ~= "string" then bad(k, "string expected, got " .. type(v)) end
    if k == "name" and (#v == 0 or #v > 64) then bad(k, "session name of 1..64 octets expected") end
  elseif kind == "port" then
    if math.type(v) ~= "integer" or v < 0 or v > 65534 then
      bad(k, "integer port 0..65534 expected (the data port is port+1), got " .. tostring(v))
    end
  elseif kind == "accept" then
    if v == "anyone" or v == "none" then return end
    if type(v) ~= "table" then bad(k, '"anyone", "none" or a list of addresses expected, got ' .. tostring(v)) end
    for i, a in ipairs(v) do
      if type(a) ~= "string" then bad(k, ("address %d: string expected, got %s"):format(i, type(a))) end
    end
  elseif kind == "ssrc" then
    if math.type(v) ~= "integer" or v < 1 or v > 0xFFFFFFFF then bad(k, "integer 1..2^32-1 expected") end
  elseif kind == "boolean" then
    if type(v) ~= "boolean" then bad(k, "boolean expected, got " .. type(v)) end
  elseif kind == "count" or kind == "count0" then
    local min = kind == "count" and 1 or 0
    if math.type(v) ~= "integer" or v < min then bad(k, ("integer >= %d expected, got %s"):format(min, tostring(v))) end
  elseif kind == "ms" or kind == "seconds" then
    if type(v) ~= "number" or not (v > 0) then bad(k, ("%s > 0 expected, got %s"):format(
      kind == "ms" and "milliseconds" or "seconds", tostring(v))) end
  elseif kind == "ms0" then
    if type(v) ~= "number" or not (v >= 0) or v > 10000 then bad(k, "milliseconds 0..10000 expected, got " .. tostring(v)) end
  elseif kind == "rate" then
    if type(v) ~= "number" or not (v > 0) or v > 1e6 then bad(k, "invitations per second > 0 expected, got " .. tostring(v)) end
  elseif kind == "history" then
    if math.type(v) ~= "integer" or v < 1 or v > 32767 then bad(k, "integer 1..32767 (packets) expected, got " .. tostring(v)) end
  elseif kind == "slots" then
    if math.type(v) ~= "integer" or v < 2 or v > 32768 then bad(k, "integer 2..32768 (packets) expected, got " .. tostring(v)) end
  elseif kind == "budget" then
    if math.type(v) ~= "integer" or v < 16 or v > 1200 then bad(k, "integer 16..1200 expected, got " .. tostring(v)) end
  end
end

--- AppleMidiSession{ name="rtpmidi", port=5004, accept="anyone", recovery=true, ... }
-- Callbacks may be given in the table. Options (all optional):
--   name, port (0: a free pair), bind_address, accept ("anyone" | "none" | { "10.0.0.2", ... }),
--   ssrc, recovery, reinvite, invite_tries (12), invite_interval (ms, 1500),
--   ck_fast_count (6), ck_fast_interval (ms, 1500), ck_interval (ms, 10000),
--   timeout (s, 60), rs_interval (ms, 1000), guard_interval (ms, 50),
--   jitter_buffer_size (ms, 10), payload_budget (1200), max_sysex,
--   max_participants (32), invitations_per_second (20), journal_history (packets, 512),
--   jitter_buffer_packets (64)
function AppleMidiSession:init(opts)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then bad("options", "table expected, got " .. type(opts)) end
  local cfg = {}
  for k, v in pairs(opts) do
    if type(v) == "function" then
      self[k] = v
    elseif OPTIONS[k] then
      check_option(k, v)
      cfg[k] = v
    else
      bad(tostring(k), "unknown option")
    end
  end
  cfg.name = cfg.name or "rtpmidi"
  cfg.port = cfg.port or 5004
  cfg.accept = cfg.accept or "anyone"
  self.config = cfg
end

function AppleMidiSession:check()
  if type(self.config) ~= "table" then
    error("bad argument 'session' (call AppleMidiSession.init from your init)", 3)
  end
  for _, name in ipairs(self.CALLBACKS) do
    local cb = self[name]
    if cb ~= nil and type(cb) ~= "function" then
      bad(name, "callback must be a function, got " .. type(cb))
    end
  end
end

function AppleMidiSession:_open()
  if not self._core then self._core = core.applemidi(self.config) end
  return self._core
end

local function started(self)
  return self._core ~= nil and self._core:started()
end

local function not_started()
  return nil, "ENOTCONN: session is not started", "ENOTCONN"
end

--- Invites the session at host (an IPv4 literal or a host name, resolved
-- without blocking the loop), control port `port`. Returns true at once; the
-- outcome comes as participant_joined(p) or invitation_failed(address, port,
-- reason), "unresolved" for a name without an IPv4 address.
function AppleMidiSession:invite(host, port)
  if type(host) ~= "string" then bad("host", "address string expected, got " .. type(host), 3) end
  if math.type(port) ~= "integer" or port < 1 or port > 65534 then
    bad("port", "control port 1..65534 expected, got " .. tostring(port), 3)
  end
  if not started(self) then return not_started() end
  return self._core:invite(host, port)
end

--- The participants in the session: { {name=, address=, port=, ssrc=, latency=, offset=, ...}, ... }
-- latency: one-way, milliseconds; offset: its clock minus ours, milliseconds.
function AppleMidiSession:participants()
  if not started(self) then return {} end
  return self._core:participants()
end

--- Ends the session with one participant (BY). p: a participant table.
function AppleMidiSession:disconnect(p)
  if type(p) ~= "table" or math.type(p.id) ~= "integer" then
    bad("participant", "a participant table expected", 3)
  end
  if not started(self) then return false end
  return self._core:disconnect(p.id)
end

--- Sends complete MIDI messages (a string of bytes) to every participant.
-- Messages given in one loop turn leave together. true, or nil, err, code.
function AppleMidiSession:send_midi(bytes)
  if type(bytes) ~= "string" then
    bad("bytes", "string of MIDI bytes expected, got " .. type(bytes), 3)
  end
  if not started(self) then return not_started() end
  return self._core:send_midi(bytes)
end

function AppleMidiSession:flush()
  if started(self) then return self._core:flush() end
  return true
end

function AppleMidiSession:stats()
  return self._core and self._core:stats() or {}
end

--- The control port once started (the data port is one more).
function AppleMidiSession:local_port()
  return started(self) and self._core:local_port() or 0
end

function AppleMidiSession:is_started() return started(self) end

--- The _apple-midi._udp sessions found on the network (mDNS, through
-- Avahi): { {name=, address=, port=}, ... }; invite one with
-- apple:invite(s.address, s.port). Empty without Avahi or avahi-daemon.
function AppleMidiSession:discovered()
  if not started(self) then return {} end
  return self._core:discovered()
end

--- Whether mDNS/DNS-SD discovery (Avahi) was compiled in.
function AppleMidiSession.discovery_available() return core.applemidi_discovery() end

return AppleMidiSession
