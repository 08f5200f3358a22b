-- rtpmidi.bridge: an AppleMidiSession (RTP-MIDI: MIDI 1.0 bytes, loss
-- repaired by the recovery journal) joined to a Midi2Session (Network MIDI
-- 2.0: UMP over UDP, loss repaired by FEC and retransmit requests).
--
--   local bridge = require("rtpmidi.bridge").new(apple, midi2)   -- protocol = 2
--
-- What an AppleMIDI participant sends goes to every Network MIDI 2.0
-- client; what a client sends goes to every AppleMIDI participant. Each
-- side repairs its own losses before the bridge sees a message, so the
-- bridge only translates:
--  * MIDI 1.0 -> UMP (rtpmidi.codec.ump_translator, csrc/proto/ump.c): with
--    protocol 2 (the default) channel voice becomes MIDI 2.0 channel voice,
--    7-bit velocity upscaled to 16 bits and 7-bit controllers and pressures
--    to 32 bits by the default min-center-max rule (0 -> 0, 64 -> the
--    center, 127 -> all ones: the Linux kernel's sound/core/ump_convert.c,
--    upscale_7_to_16bit / upscale_7_to_32bit, and MIDIKit's
--    scaled16Bit/scaled32Bit); Bank Select and (N)RPN controllers are
--    carried with the Program Change / Data Entry they belong to. With
--    protocol 1 it is MIDI 1.0 channel voice in UMP (MT 2), as it is.
--  * UMP -> MIDI 1.0: the Midi2Session's incoming_midi (the same file's
--    default translation: values shifted down, so up then down gives the
--    7-bit value back exactly; SysEx7 reassembled). MIDI 2.0 messages without a MIDI
--    1.0 form (per-note controllers, SysEx8, flex data) do not cross.
local codec = require "rtpmidi.codec"

local Bridge = {}
Bridge.__index = Bridge

local function bad(name, msg)
  error(("bad argument '%s' (%s)"):format(name, msg), 3)
end

local function hex_words(words)
  local t = {}
  for i, w in ipairs(words) do t[i] = ("%08X"):format(w) end
  return table.concat(t, " ")
end
Bridge.hex_words = hex_words

--- Bridge.new(apple, midi2[, opts]) joins the two sessions (started or
-- not). opts: protocol (2 | 1), group (UMP group 0..15 of what comes from
-- AppleMIDI, 0), trace (function(direction, bytes, words, from): each
-- message that crosses, direction "to_midi2" or "to_applemidi").
-- The sessions' own incoming_midi callbacks still run after the bridge's.
function Bridge.new(apple, midi2, opts)
  if type(apple) ~= "table" or type(apple.participants) ~= "function" then
    bad("apple", "an AppleMidiSession expected")
  end
  if type(midi2) ~= "table" or type(midi2.send_ump) ~= "function" then
    bad("midi2", "a Midi2Session expected")
  end
  opts = opts or {}
  if type(opts) ~= "table" then bad("opts", "table expected") end
  local protocol, group = opts.protocol or 2, opts.group or 0
  if protocol ~= 1 and protocol ~= 2 then bad("protocol", "1 or 2 expected") end
  if math.type(group) ~= "integer" or group < 0 or group > 15 then bad("group", "integer 0..15 expected") end
  if opts.trace ~= nil and type(opts.trace) ~= "function" then bad("trace", "function expected") end
  local self = setmetatable({
    apple = apple, midi2 = midi2, protocol = protocol, group = group, trace = opts.trace,
    -- one translator per AppleMIDI participant: running status, SysEx and
    -- Bank Select / (N)RPN state are each source's own
    translators = {},
    counts = { to_midi2 = 0, to_applemidi = 0, unsent = 0 },
    -- the callbacks the bridge's own call on to (a subclass's methods
    -- included), and the sessions' own fields, put back by close()
    prev = { apple = apple.incoming_midi, midi2 = midi2.incoming_midi, left = apple.participant_left },
    own = { apple = rawget(apple, "incoming_midi"), midi2 = rawget(midi2, "incoming_midi"),
            left = rawget(apple, "participant_left") },
  }, Bridge)
  local prev = self.prev
  apple.incoming_midi = function(s, bytes, time, recovered, p)
    self:_to_midi2(bytes, p)
    if prev.apple then return prev.apple(s, bytes, time, recovered, p) end
  end
  apple.participant_left = function(s, p, ...)
    if p then self.translators[p.id or 0] = nil end
    if prev.left then return prev.left(s, p, ...) end
  end
  midi2.incoming_midi = function(s, bytes, time, recovered, c)
    self:_to_applemidi(bytes, c)
    if prev.midi2 then return prev.midi2(s, bytes, time, recovered, c) end
  end
  return self
end

function Bridge:_to_midi2(bytes, p)
  local id = p and p.id or 0
  local tr = self.translators[id]
  if not tr then
    tr = codec.ump_translator{ group = self.group, protocol = self.protocol }
    self.translators[id] = tr
  end
  local words = tr:to_ump(bytes)
  if #words == 0 then return end -- held: a Bank Select or (N)RPN part waits for the rest
  if self.trace then self.trace("to_midi2", bytes, words, p) end
  local n = self.midi2:send_ump(words)
  if n and n > 0 then self.counts.to_midi2 = self.counts.to_midi2 + 1
  else self.counts.unsent = self.counts.unsent + 1 end
end

function Bridge:_to_applemidi(bytes, c)
  if self.trace then self.trace("to_applemidi", bytes, nil, c) end
  if self.apple:send_midi(bytes) then self.counts.to_applemidi = self.counts.to_applemidi + 1
  else self.counts.unsent = self.counts.unsent + 1 end
end

--- Messages carried each way, and those that could not go on (no
-- Network MIDI 2.0 client, a session not started): { to_midi2 =,
-- to_applemidi =, unsent = }.
function Bridge:stats()
  return { to_midi2 = self.counts.to_midi2, to_applemidi = self.counts.to_applemidi, unsent = self.counts.unsent }
end

--- Parts the sessions: their callbacks are what they were before new().
function Bridge:close()
  if not self.own then return end
  rawset(self.apple, "incoming_midi", self.own.apple)
  rawset(self.apple, "participant_left", self.own.left)
  rawset(self.midi2, "incoming_midi", self.own.midi2)
  self.own = nil
end

-- `rtpmidi bridge` -----------------------------------------------------------

Bridge.HELP = [==[
usage: rtpmidi bridge --applemidi NAME --midi2 NAME [-p PORT] [-P PORT]
                      [-a HOST[:PORT]] [-c HOST[:PORT]] [--secret S] [--protocol 1|2]
                      [--fec N] [-v]

Joins an AppleMIDI session (RTP-MIDI: macOS, iOS, rtpMIDI) and a Network
MIDI 2.0 session (UMP over UDP: Windows MIDI Services, ALSA, Zephyr) until
Ctrl-C: what an AppleMIDI participant plays goes to every Network MIDI 2.0
client, and what a client plays to every participant. MIDI 1.0 channel
voice becomes MIDI 2.0 channel voice on the way (7-bit velocity to 16 bits,
controllers to 32, by the default min-center-max upscaling) and is scaled
back down the other way, so a 7-bit value comes back as it went. Each side
repairs its own losses: the recovery journal (AppleMIDI), forward error
correction and retransmit requests (Network MIDI 2.0).

  --applemidi NAME          the AppleMIDI session's name
  --midi2 NAME              the Network MIDI 2.0 endpoint's name
  -p, --applemidi-port PORT AppleMIDI control port (5004; data: the next; 0: any free pair)
  -P, --midi2-port PORT     Network MIDI 2.0 UDP port (5673; 0: any free one)
  -a, --invite HOST[:PORT]  invite this AppleMIDI session (port 5004), else wait to be invited
  -c, --connect HOST[:PORT] join this Network MIDI 2.0 host as a client (port 5673),
                            else be a host that clients join
      --secret S            Network MIDI 2.0 shared secret: asked of clients (host),
                            given to the host that asks (client)
      --protocol 1|2        2: MIDI 2.0 channel voice, upscaled (default);
                            1: MIDI 1.0 channel voice in UMP, as it is
      --fec N               Network MIDI 2.0 commands repeated in each datagram (2)
  -v, --verbose             print every message that crosses, each way
]==]

Bridge.OPTIONS = {
  { nil, "applemidi", "applemidi", arg = "NAME" },
  { nil, "midi2", "midi2", arg = "NAME" },
  { "p", "applemidi-port", "apple_port", arg = "PORT", kind = "port0" },
  { "P", "midi2-port", "midi2_port", arg = "PORT", kind = "port0" },
  { "a", "invite", "invite", arg = "HOST[:PORT]" },
  { "c", "connect", "connect", arg = "HOST[:PORT]" },
  { nil, "secret", "secret", arg = "S" },
  { nil, "protocol", "protocol", arg = "1|2" },
  { nil, "fec", "fec", arg = "N" },
  { "v", "verbose", "verbose" },
}

-- "host", "host:port", "[v6]:port" -> host, port (default def), or nil.
local function host_port(s, def)
  local h, p = s:match("^%[(.+)%]:(%d+)$")
  if not h then h, p = s:match("^([^:]+):(%d+)$") end
  if not h then h = s:match("^%[(.+)%]$") or s end
  p = p and math.tointeger(tonumber(p)) or def
  if h == "" or not p or p < 1 or p > 65535 then return nil end
  return h, p
end
Bridge.host_port = host_port

--- The command: cli is { parse=, usage_error=, failure=, on_stop_signals=,
-- printable=, hex= } of rtpmidi.cli. Returns the exit code.
function Bridge.command(args, cli)
  local rtpmidi = require "rtpmidi"
  local opts, rest = cli.parse(args, Bridge.OPTIONS)
  if opts == "help" then io.write(Bridge.HELP) return 0 end
  local function usage(msg) return cli.usage_error("bridge", msg) end
  if not opts then return usage(rest) end
  if #rest > 0 then return usage("unexpected argument " .. rest[1]) end
  if not opts.applemidi or not opts.midi2 then return usage("--applemidi NAME and --midi2 NAME are needed") end
  if #opts.applemidi == 0 or #opts.applemidi > 64 then return usage("--applemidi needs a name of 1..64 octets") end
  if #opts.midi2 == 0 or #opts.midi2 > 98 then return usage("--midi2 needs a name of 1..98 octets") end
  local protocol = opts.protocol and math.tointeger(tonumber(opts.protocol))
  if opts.protocol and protocol ~= 1 and protocol ~= 2 then return usage("--protocol needs 1 or 2") end
  local fec = opts.fec and math.tointeger(tonumber(opts.fec))
  if opts.fec and (not fec or fec < 0 or fec > 10) then return usage("--fec needs 0..10") end
  local inv_host, inv_port, con_host, con_port
  if opts.invite then
    inv_host, inv_port = host_port(opts.invite, 5004)
    if not inv_host then return usage("--invite needs HOST or HOST:PORT") end
  end
  if opts.connect then
    con_host, con_port = host_port(opts.connect, 5673)
    if not con_host then return usage("--connect needs HOST or HOST:PORT") end
  end
  if opts.secret and (#opts.secret == 0 or #opts.secret > 255) then
    return usage("--secret needs 1..255 octets")
  end
  if not rtpmidi.AppleMidiSession or not rtpmidi.Midi2Session then
    return cli.failure("bridge", "AppleMIDI or Network MIDI 2.0 sessions are not in this build")
  end
  local printable, hex = cli.printable, cli.hex
  local hostport = require("rtpmidi.cli").hostport   -- "[fe80::1%eth0]:5004"
  local log = function(...) io.stderr:write("rtpmidi bridge: ", ...) io.stderr:write("\n") end
  local core = require "rtpmidi.core"
  local control = rtpmidi.RTPControl()
  local exit_code, stopping = 0, false
  local stop
  local function fail() exit_code = 1; rtpmidi.after(0, function() stop() end) end

  local apple = rtpmidi.AppleMidiSession{
    name = opts.applemidi, port = opts.apple_port or 5004,
    participant_joined = function(_, p)
      log(("AppleMIDI: %s joined (%s)"):format(printable(p.name), hostport(p.address, p.port or 0)))
    end,
    participant_left = function(_, p, reason)
      log(("AppleMIDI: %s left: %s"):format(printable(p.name), printable(reason)))
    end,
    invitation_failed = function(_, address, port, reason)
      log(("AppleMIDI: invitation to %s failed: %s"):format(hostport(address, port or 0), printable(reason)))
      fail()
    end,
  }
  local midi2 = rtpmidi.Midi2Session{
    name = opts.midi2, port = opts.midi2_port or (con_host and 0 or 5673),
    role = con_host and "client" or "host", fec = fec,
    secret = not con_host and opts.secret or nil,
    client_joined = function(_, c)
      log(("Network MIDI 2.0: %s joined (%s)"):format(printable(c.name), hostport(c.address, c.port or 0)))
    end,
    client_left = function(_, c, reason)
      log(("Network MIDI 2.0: %s left: %s"):format(printable(c.name), printable(reason)))
    end,
    invitation_failed = function(_, address, port, reason)
      log(("Network MIDI 2.0: invitation to %s failed: %s"):format(hostport(address, port or 0),
        printable(reason)))
      fail()
    end,
  }
  local trace
  if opts.verbose then
    trace = function(dir, bytes, words, from)
      local who = from and from.name and ("  from " .. printable(from.name)) or ""
      if dir == "to_midi2" then
        print(("applemidi -> midi2  %-12s => %s%s"):format(hex(bytes), hex_words(words), who))
      else
        print(("midi2 -> applemidi  %s%s"):format(hex(bytes), who))
      end
    end
  end
  local bridge = Bridge.new(apple, midi2, { protocol = protocol, trace = trace })
  local ca, cm = control:add_session(apple), control:add_session(midi2)
  for _, c in ipairs{ { ca, "AppleMIDI", opts.apple_port or 5004 }, { cm, "Network MIDI 2.0", opts.midi2_port or 5673 } } do
    local ok, err = control:start_session(c[1])
    if not ok then
      control:remove_session(ca); control:remove_session(cm)
      return cli.failure("bridge", ("cannot start the %s session on port %d: %s"):format(c[2], c[3], tostring(err)))
    end
  end
  log(("AppleMIDI session '%s' on port %d, %s"):format(printable(opts.applemidi), apple:local_port(),
    inv_host and ("inviting " .. hostport(inv_host, inv_port)) or "waiting for invitations"))
  log(("Network MIDI 2.0 %s '%s' on port %d%s, protocol %d (Ctrl-C stops)"):format(con_host and "client" or "host",
    printable(opts.midi2), midi2:local_port(),
    con_host and (", joining " .. hostport(con_host, con_port)) or "", bridge.protocol))
  local function invite(what, fn)
    local pok, ok, err = pcall(fn)
    if not pok then ok, err = nil, (tostring(ok):gsub("^.-: bad argument", "bad argument")) end
    if not ok then log(("cannot invite %s: %s"):format(what, tostring(err))) exit_code = 1 return false end
    return true
  end
  local started = true
  if inv_host then started = invite(inv_host, function() return apple:invite(inv_host, inv_port) end) end
  if started and con_host then
    started = invite(con_host, function()
      return midi2:invite(con_host, con_port, opts.secret and { secret = opts.secret } or nil)
    end)
  end
  local cancel_signals
  stop = function(why)
    if stopping then return end
    stopping = true
    if why then log(why .. ", stopping" .. (why:match("^SIG") and " (again to quit at once)" or "")) end
    -- BY / Bye to every peer; the loop ends once they have gone out
    control:stop_session(ca); control:stop_session(cm)
    rtpmidi.after(100, function() core.stop_loop() end)
  end
  cancel_signals = cli.on_stop_signals(stop)
  if started then control:run() end
  if not stopping then stop() ; control:run() end
  cancel_signals()
  local st = bridge:stats()
  log(("%d messages to Network MIDI 2.0, %d to AppleMIDI, %d not sent"):format(st.to_midi2,
    st.to_applemidi, st.unsent))
  bridge:close()
  control:remove_session(ca); control:remove_session(cm)
  return exit_code
end

return Bridge
