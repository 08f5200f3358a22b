-- Midi2Session: Network MIDI 2.0 (UMP over UDP, MIDI Association
-- M2-124-UM). Registered with RTPControl like any session.
--
--   local host = rtpmidi.Midi2Session{ name="studio", role="host", port=5673 }
--   local c = rtpmidi.Midi2Session{ name="laptop", role="client", port=0 }
--   c:invite("10.0.0.2", 5673, { secret="..." })        -- or { user=, password= }
--   s:send_ump(0x20903C64)                                 -- whole UMP messages, to every client
--   s:send_midi("\x90\x3c\x64")                            -- MIDI 1.0 bytes, sent as UMP
--   function s:incoming_ump(words, time, client) end        -- one message: { w1, w2, ... }
--   function s:incoming_midi(bytes, time, recovered, client) end
--   function s:client_joined(c) end; function s:client_left(c, reason) end
local core = require "rtpmidi.core"
local Class = require "rtpmidi.class"
local options = require "rtpmidi.options"
local peered = require "rtpmidi.peered"
local RTPSession = require "rtpmidi.session"

local Midi2Session = Class:extend()

Midi2Session.CALLBACKS = {
  "incoming_ump", "incoming_midi", "client_joined", "client_left", "invitation_failed", "start", "stop",
}

-- The options (an rtpmidi.options set: read and create use them): kind,
-- default when the C API has none, and what an error says. The C core
-- (rtpmidi_midi2_new) checks the ranges and names the option.
Midi2Session.OPTIONS = options.class {
  callbacks = Midi2Session.CALLBACKS,
  { "name", "string", len = { 1, 98 }, default = "rtpmidi", expect = "UMP endpoint name of 1..98 octets" },
  { "product_instance_id", "string", len = { 0, 42 }, expect = "string of at most 42 octets" },
  { "role", "string", default = "host", c_says = true, expect = '"host" or "client"' },
  { "port", "integer", default = 5673, expect = "UDP port 0..65535 (0: any free one)" },
  { "bind_address", "string", expect = "IPv4 or IPv6 address" },
  { "secret", "string", len = { 1, 255 }, expect = "shared secret of 1..255 octets" },
  { "users", "string|table", c_says = true, expect = "a table of user name = password strings" },
  { "max_clients", "integer", nonzero = true, expect = "integer 1..16" },
  { "fec", "integer", min = 0, max = 10, default = 2,
    expect = "commands repeated in each datagram, 0..10" },
  { "history", "integer", nonzero = true, expect = "commands kept for retransmission, fec..128" },
  { "ping_interval", "number", nonzero = true, expect = "milliseconds > 0" },
  { "ping_retry", "number", nonzero = true, expect = "milliseconds > 0" },
  { "ping_retries", "integer", nonzero = true, expect = "integer 1..1000" },
  { "keepalive", "number", nonzero = true, expect = "milliseconds > 0" },
  { "invite_interval", "number", nonzero = true, expect = "milliseconds > 0" },
  { "invite_tries", "integer", nonzero = true, expect = "integer 1..1000" },
  { "max_sysex", "integer", nonzero = true, expect = "octets >= 1" },
  { "answer_stream", "boolean", default = true, expect = "boolean" },
}

--- Midi2Session{ name="rtpmidi", role="host", port=5673, ... }
-- Callbacks may be given in the table. Options (all optional):
--   name, product_instance_id, role ("host" | "client"), port (0: any free one),
--   bind_address, secret (a host asks for it), users ({ alice = "password", ... }),
--   max_clients (16), fec (2; 0: none), history (64), ping_interval (ms, 2000),
--   ping_retry (ms, 1000), ping_retries (3), keepalive (ms, 1000),
--   invite_interval (ms, 1000), invite_tries (5), max_sysex (1 MiB), answer_stream (true)
RTPSession._with_core(Midi2Session, Midi2Session.OPTIONS, core.midi2, "Midi2Session")
local bad = peered.bad

local started = peered.started
local not_started = peered.not_started
local function client_id(c, what)
  if type(c) ~= "table" or math.type(c.id) ~= "integer" then bad(what or "client", "a client table expected") end
  return c.id
end

--- Invites the host at host:port (an IP literal or a host name, resolved
-- without blocking the loop). auth: { secret= } or { user=, password= },
-- used when the host asks. Returns true at once; the outcome comes as
-- client_joined(c) or invitation_failed(address, port, reason).
function Midi2Session:invite(host, port, auth)
  if type(host) ~= "string" then bad("host", "address string expected, got " .. type(host)) end
  if math.type(port) ~= "integer" or port < 1 or port > 65535 then
    bad("port", "UDP port 1..65535 expected, got " .. tostring(port))
  end
  if auth ~= nil and type(auth) ~= "table" then bad("auth", "table { secret= } or { user=, password= } expected") end
  auth = auth or {}
  for k, v in pairs(auth) do
    if k ~= "secret" and k ~= "user" and k ~= "password" then bad(tostring(k), "unknown option") end
    if type(v) ~= "string" then bad(k, "string expected, got " .. type(v)) end
  end
  if (auth.user == nil) ~= (auth.password == nil) then bad("password", "user and password go together") end
  if not started(self) then return not_started() end
  return self._core:invite(host, port, auth.secret, auth.user, auth.password)
end

-- The words of send_ump's arguments: integers, or one table of them.
local function words_of(...)
  local first = ...
  if type(first) == "table" and select("#", ...) == 1 then return first end
  return { ... }
end

--- Sends whole UMP messages (32-bit words, as integers or one table) to
-- every client. Returns the number of clients, or nil, err, code.
function Midi2Session:send_ump(...)
  local words = words_of(...)
  if #words == 0 then bad("words", "UMP words expected") end
  if not started(self) then return not_started() end
  return self._core:send_ump(0, words)
end

--- The same to one client (a table of client_joined / clients()).
function Midi2Session:send_ump_to(client, ...)
  local id = client_id(client)
  local words = words_of(...)
  if #words == 0 then bad("words", "UMP words expected") end
  if not started(self) then return not_started() end
  return self._core:send_ump(id, words)
end

--- Sends complete MIDI 1.0 messages (a string of bytes) as UMP (MIDI 1.0
-- channel voice, system and SysEx7 messages of group 0) to every client.
function Midi2Session:send_midi(bytes)
  if type(bytes) ~= "string" then bad("bytes", "string of MIDI bytes expected, got " .. type(bytes)) end
  if not started(self) then return not_started() end
  return self._core:send_midi(bytes)
end

--- Session Reset: both directions' sequence numbers start again.
function Midi2Session:reset(client)
  local id = client_id(client)
  if not started(self) then return not_started() end
  return self._core:reset(id)
end

--- Ends the session with one client (Bye); client_left(c, "disconnected") follows.
function Midi2Session:disconnect(client)
  local id = client_id(client)
  if not started(self) then return false end
  return self._core:disconnect(id)
end

--- The established sessions: { {id=, name=, product_instance_id=, address=, port=, initiator=, rtt=}, ... }
function Midi2Session:clients()
  if not started(self) then return {} end
  return self._core:clients()
end

peered.install(Midi2Session)

return Midi2Session
