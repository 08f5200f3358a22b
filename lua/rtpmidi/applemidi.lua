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
local options = require "rtpmidi.options"
local peered = require "rtpmidi.peered"
local RTPSession = require "rtpmidi.session"

local AppleMidiSession = Class:extend()

AppleMidiSession.CALLBACKS = {
  "incoming_midi", "participant_joined", "participant_left", "participant_synced",
  "invitation_failed", "start", "stop",
}

-- The options, their kinds and defaults: rtpmidi.options.AppleMidiSession.
AppleMidiSession.OPTIONS = options.AppleMidiSession

--- AppleMidiSession{ name="rtpmidi", port=5004, accept="anyone", recovery=true, ... }
-- Callbacks may be given in the table. Options (all optional):
--   name, port (0: a free pair), bind_address ("::", both families, when not given),
--   accept ("anyone" | "none" | { "10.0.0.2", "fe80::1%eth0", ... }),
--   ssrc, recovery, reinvite, invite_tries (12), invite_interval (ms, 1500),
--   ck_fast_count (6), ck_fast_interval (ms, 1500), ck_interval (ms, 10000),
--   timeout (s, 60), rs_interval (ms, 1000), guard_interval (ms, 50),
--   jitter_buffer_size (ms, 10), payload_budget (1200), max_sysex,
--   max_participants (32), invitations_per_second (20), journal_history (packets, 512),
--   jitter_buffer_packets (64)
-- The defaults in parentheses are the C core's, taken when the option is
-- left out; port and jitter_buffer_size default here (options.lua).
RTPSession._with_core(AppleMidiSession, options.AppleMidiSession, core.applemidi, "AppleMidiSession")

local bad = peered.bad

local started = peered.started
local not_started = peered.not_started
--- Invites the session at host (an IPv4 or IPv6 literal, or a host name
-- resolved without blocking the loop), control port `port`. Returns true at
-- once; the outcome comes as participant_joined(p) or
-- invitation_failed(address, port, reason), "unresolved" for a name without
-- an address the session reaches.
-- opts (optional): that participant's options (options.AppleMidiPeer:
-- `recovery`), over the session's and its `peers` rules.
function AppleMidiSession:invite(host, port, opts)
  if type(host) ~= "string" then bad("host", "address string expected, got " .. type(host)) end
  if math.type(port) ~= "integer" or port < 1 or port > 65534 then
    bad("port", "control port 1..65534 expected, got " .. tostring(port))
  end
  local o = opts ~= nil and options.check(options.AppleMidiPeer, opts, "options.") or nil
  if not started(self) then return not_started() end
  local ok, err, code = self._core:invite(host, port)
  if ok then
    -- kept until that participant joins (the latest invitation of host and
    -- port wins); a name's address is known only then: matched by port
    local pending = rawget(self, "_invited") or {}
    self._invited = pending
    for i = #pending, 1, -1 do
      if pending[i].host == host and pending[i].port == port then table.remove(pending, i) end
    end
    pending[#pending + 1] = { host = host, port = port, literal = host:match("^[%d.]+$") ~= nil
                              or host:find(":", 1, true) ~= nil, opts = o or {} }
  end
  return ok, err, code
end

-- A participant joins (called by the core before participant_joined and
-- before anything is sent to it): its options are the session's, then
-- the first of `peers` rules that matches it, then those of our invitation
-- of it.
function AppleMidiSession:_participant_options(p)
  local o = {}
  for _, r in ipairs(self.config.peers or {}) do
    if (r.name == nil or r.name == p.name) and (r.address == nil or r.address == p.address) then
      for k, v in pairs(r) do if k ~= "name" and k ~= "address" then o[k] = v end end
      break
    end
  end
  local pending = rawget(self, "_invited")
  if p.initiator and pending then
    local pick
    for i, e in ipairs(pending) do
      if e.port == p.port and (e.host == p.address or not e.literal) then
        pick = i
        if e.host == p.address then break end
      end
    end
    if pick then
      for k, v in pairs(table.remove(pending, pick).opts) do o[k] = v end
    end
  end
  if o.recovery ~= nil and o.recovery ~= p.recovery then self._core:set_recovery(p.id, o.recovery) end
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
    bad("participant", "a participant table expected")
  end
  if not started(self) then return false end
  return self._core:disconnect(p.id)
end

--- Sends complete MIDI messages (a string of bytes) to every participant.
-- Messages given in one loop turn leave together. true, or nil, err, code.
function AppleMidiSession:send_midi(bytes)
  if type(bytes) ~= "string" then
    bad("bytes", "string of MIDI bytes expected, got " .. type(bytes))
  end
  if not started(self) then return not_started() end
  return self._core:send_midi(bytes)
end

function AppleMidiSession:flush()
  if started(self) then return self._core:flush() end
  return true
end

peered.install(AppleMidiSession)

return AppleMidiSession
