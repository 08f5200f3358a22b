-- The rtpmidi command line.
local rtpmidi = require "rtpmidi"

local M = {}

local USAGE = [[
usage: rtpmidi <command> [options]

commands:
  list        the MIDI ports of each MIDI API (ALSA, JACK), the default marked;
              with --network the sessions on the network (mDNS)
  stream      stream a MIDI input to a peer and the peer to a MIDI output
              (RTP-MIDI with the recovery journal, or AppleMIDI with --applemidi)
  monitor     print the RTP-MIDI, RTCP and AppleMIDI packets arriving on a port
  bridge      join an AppleMIDI session and a Network MIDI 2.0 session (UMP over UDP)
  demo        two sessions on loopback stream a phrase of MIDI notes and print
              what crossed the wire (no MIDI hardware needed)
  run         run a Lua script on the loop; --watch reloads it on save
  serve       a daemon keeping an AppleMIDI session, its peers and MIDI ports up
  status      what the running `rtpmidi serve` daemons have connected
  version     print the version
  help        this text

Run `rtpmidi help <command>` for a command's options. Exit codes: 0 done
(Ctrl-C included), 1 a failure at run time, 2 a usage error.
]]

local monitor = require "rtpmidi.monitor"

-- A string from elsewhere (a peer's session name, a packet, a device's
-- name) as it may be printed on a terminal (issue #16, finding 10: a peer
-- named "\27[2J" cleared it): C0 controls, DEL, C1 controls (U+0080..
-- U+009F, which some terminals obey as ESC sequences), the bidirectional
-- overrides and isolates (U+202A..U+202E, U+2066..U+2069: text shown in
-- another order than it is) and octets that are not UTF-8 are written as
-- \xNN or \u{NNNN}; a backslash as \\. Other UTF-8 text stays as it is.
local function printable(s)
  s = tostring(s)
  if not s:find("[%z\1-\31\127-\255\\]") then return s end
  local out, i, n = {}, 1, #s
  while i <= n do
    local b = s:byte(i)
    local len = b < 0x80 and 1 or b >= 0xC2 and b <= 0xDF and 2 or b >= 0xE0 and b <= 0xEF and 3
      or b >= 0xF0 and b <= 0xF4 and 4 or 0
    local cp
    if len == 1 then
      cp = b
    elseif len > 1 and i + len - 1 <= n then
      cp = b & (0x7F >> len)
      for k = i + 1, i + len - 1 do
        local c = s:byte(k)
        if c & 0xC0 ~= 0x80 then cp = nil break end
        cp = cp << 6 | (c & 0x3F)
      end
      -- overlong forms, surrogates and beyond U+10FFFF are not UTF-8
      if cp and (cp < ({ 0, 0x80, 0x800, 0x10000 })[len] or (cp >= 0xD800 and cp <= 0xDFFF) or cp > 0x10FFFF) then
        cp = nil
      end
    end
    if not cp then
      out[#out + 1] = ("\\x%02X"):format(b)
      i = i + 1
    else
      if cp < 0x20 or cp == 0x7F then
        out[#out + 1] = ("\\x%02X"):format(cp)
      elseif cp == 0x5C then
        out[#out + 1] = "\\\\"
      elseif (cp >= 0x80 and cp <= 0x9F) or (cp >= 0x202A and cp <= 0x202E) or (cp >= 0x2066 and cp <= 0x2069) then
        out[#out + 1] = ("\\u{%04X}"):format(cp)
      else
        out[#out + 1] = s:sub(i, i + len - 1)
      end
      i = i + len
    end
  end
  return table.concat(out)
end
M.printable = printable

-- An address and port as the CLI, serve and the monitor print them:
-- "10.0.0.2:5004", and an IPv6 address in brackets, "[fe80::1%eth0]:5004"
-- (RFC 3986 3.2.2; serve's configuration reads it back), printable().
-- A host name has no colon and stays as it is.
local function hostport(host, port)
  host = printable(host)
  if host:find(":", 1, true) then host = "[" .. host .. "]" end
  return host .. ":" .. tostring(port)
end
M.hostport = hostport

-- A usage error: one line saying what is wrong, one saying where help is.
local function usage_error(cmd, msg)
  io.stderr:write("rtpmidi ", cmd, ": ", msg, "\n", "see `rtpmidi help ", cmd, "`\n")
  return 2
end
local hex, describe_midi = monitor.hex, function(msg)
  if #msg ~= 3 then return "" end
  local kind = msg:byte(1) & 0xF0
  if kind == 0x80 or kind == 0x90 then
    -- the demo's columns: "note on  ch1  C4   vel 100"
    local ch, n, v = (msg:byte(1) & 0x0F) + 1, msg:byte(2), msg:byte(3)
    if kind == 0x90 and v > 0 then return ("note on  ch%-2d %-4s vel %d"):format(ch, monitor.note_name(n), v) end
    return ("note off ch%-2d %-4s"):format(ch, monitor.note_name(n))
  end
  return hex(msg)
end

local DEMO_HELP = [[
usage: rtpmidi demo [--port N] [--quiet]

Two MIDI sessions on 127.0.0.1 (ports N and N+2; default 5004) play a short
phrase to each other as RTP-MIDI (RFC 6295) and print each message as it
arrives, with its time after the first note. Exits 0 when every message
arrived intact and in order.
]]

function M.demo(args)
  local port, quiet = 5004, false
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "--help" or a == "-h" then io.write(DEMO_HELP) return 0
    elseif a == "--port" then port = tonumber(args[i + 1]); i = i + 1
    elseif a == "--quiet" then quiet = true
    else return usage_error("demo", "unknown option " .. a) end
    i = i + 1
  end
  if not port or port < 1 or port > 65531 or port % 1 ~= 0 then
    return usage_error("demo", "--port needs a port number")
  end
  local control = rtpmidi.RTPControl()
  -- A phrase: a C major arpeggio up and down in 8th notes at 240 BPM, with
  -- a chord at the end (three notes in one packet).
  local steps = {}
  for _, n in ipairs{ 60, 64, 67, 72, 67, 64 } do
    steps[#steps + 1] = string.char(0x90, n, 100)
    steps[#steps + 1] = string.char(0x80, n, 0)
  end
  steps[#steps + 1] = "\x90\x3c\x64\x90\x40\x64\x90\x43\x64"
  steps[#steps + 1] = "\x80\x3c\x00\x80\x40\x00\x80\x43\x00"
  local expected = {}
  for _, s in ipairs(steps) do
    for m in s:gmatch("[\x80-\xef][\x00-\x7f][\x00-\x7f]") do expected[#expected + 1] = m end
  end
  local received, first = {}, nil
  local keyboard = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = port + 2,
    receiving_port = port, tool_name = "rtpmidi demo keyboard" }
  local synth = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = port,
    receiving_port = port + 2, tool_name = "rtpmidi demo synth",
    incoming_midi = function(_, msg, time, recovered)
      received[#received + 1] = msg
      first = first or time
      if not quiet then
        print(("  %8.1f ms  %-9s  %s%s"):format(time - first, hex(msg), describe_midi(msg),
          recovered and "  (recovered)" or ""))
      end
      if #received == #expected then control:stop() end
    end }
  local ck, cs = control:add_session(keyboard), control:add_session(synth)
  for _, c in ipairs{ ck, cs } do
    local ok, err = control:start_session(c)
    if not ok then
      io.stderr:write("rtpmidi demo: cannot open port: ", err, " (try --port)\n")
      control:remove_session(ck); control:remove_session(cs)
      return 1
    end
  end
  if not quiet then
    print(("rtpmidi %s demo: RTP-MIDI from 127.0.0.1:%d to 127.0.0.1:%d, %d messages")
      :format(rtpmidi._VERSION, port, port + 2, #expected))
  end
  local next_step = 1
  local player = rtpmidi.every(60, function(t)
    local s = steps[next_step]
    if not s then t:cancel() return end
    assert(keyboard:send_midi(s))
    next_step = next_step + 1
  end)
  local gave_up = false
  local watchdog = rtpmidi.after(5000, function() gave_up = true; control:stop() end)
  control:run()
  player:cancel(); watchdog:cancel()
  local st = synth:stats()
  control:remove_session(ck); control:remove_session(cs)
  local intact = #received == #expected
  for k = 1, #expected do intact = intact and received[k] == expected[k] end
  if not quiet then
    print(("%d of %d messages arrived intact and in order, in %d RTP packets (%d payload octets)")
      :format(#received, #expected, st.packets_received, st.bytes_received))
  end
  if gave_up then io.stderr:write("rtpmidi demo: timed out\n") end
  return intact and 0 or 1
end

-- Shared by the commands ------------------------------------------------------

-- Parses args against spec: { {short, long, key, arg = "NAME", kind = "port"|"ms"|nil}, ... }.
-- Returns opts, positional; "help"; or nil, message (a usage error).
local function parse(args, spec)
  local by = {}
  for _, o in ipairs(spec) do
    if o[1] then by["-" .. o[1]] = o end
    by["--" .. o[2]] = o
  end
  local opts, positional = {}, {}
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "-h" or a == "--help" then return "help" end
    local name, inline = a:match("^(%-%-[^=]+)=(.*)$")
    name = name or a
    local o = by[name]
    if o then
      if o.arg then
        local v = inline
        if v == nil then
          i = i + 1
          v = args[i]
          -- `-a -v` is a forgotten value, not a host named "-v"
          if v ~= nil and v:sub(1, 1) == "-" and #v > 1 then v = nil end
        end
        if v == nil then return nil, ("option %s needs %s"):format(name, o.arg) end
        if o.kind == "port" or o.kind == "port0" then
          local n, lo = math.tointeger(tonumber(v)), o.kind == "port0" and 0 or 1
          if not n or n < lo or n > 65535 then
            return nil, ("option %s needs a port %d..65535, got '%s'"):format(name, lo, v)
          end
          v = n
        elseif o.kind == "ms" then
          local n = tonumber(v)
          if not n or n < 0 then return nil, ("option %s needs milliseconds >= 0, got '%s'"):format(name, v) end
          v = n
        elseif o.kind == "count" then
          local n = tonumber(v)
          if not n or n <= 0 then return nil, ("option %s needs a number > 0, got '%s'"):format(name, v) end
          v = n
        end
        opts[o[3]] = v
      else
        if inline then return nil, ("option %s takes no value"):format(name) end
        opts[o[3]] = true
      end
    elseif a:sub(1, 1) == "-" and #a > 1 then
      return nil, "unknown option " .. a
    else
      positional[#positional + 1] = a
    end
    i = i + 1
  end
  return opts, positional
end


local function failure(cmd, msg)
  io.stderr:write("rtpmidi ", cmd, ": ", tostring(msg), "\n")
  return 1
end

-- The first SIGINT or SIGTERM calls fn(name); a second one ends the process
-- at once by its signal (130 for Ctrl-C). Returns the function that cancels.
local function on_stop_signals(fn)
  return require("rtpmidi.control").catch_signals(fn)
end

-- The REPL runs when standard input is a terminal (or with --repl), unless --no-repl.
local function want_repl(opts)
  if opts.no_repl then return false end
  return opts.repl or require("rtpmidi.core").isatty(0)
end

-- list ------------------------------------------------------------------------

local LIST_HELP = [[
usage: rtpmidi list [--api API] [-v]
       rtpmidi list --network [--time MS]

Lists the MIDI ports of each MIDI API RtMidi was built with (alsa, jack):
inputs (what `stream -i` takes: keyboards, other programs' outputs) and
outputs (what `stream -o` takes: synths), with their indexes. `*` marks the
default: the first port of the first API that has ports, which is what a
port opened with no API and no name gets. An API that cannot be used right
now (no ALSA sequencer, no JACK server running) says so. `stream -i N` and
`-o N` take these indexes: of --api's list, or of the list marked `*`.

  --api API       only this API
  -v, --verbose   let the MIDI libraries' own messages through (hidden otherwise)

With --network, lists instead the sessions mDNS/DNS-SD finds on the local
network (through avahi-daemon), browsing for MS milliseconds: AppleMIDI
sessions (_apple-midi._udp; `stream --applemidi NAME -a ADDRESS -s PORT` or a
session's invite(address, port) joins one) and Network MIDI 2.0 endpoints
(_midi2._udp, with their UMP endpoint name and product instance id). One
line each: name, host, address, port. Nothing is advertised while it looks.

  -n, --network   the sessions on the network instead of the MIDI ports
  -t, --time MS   how long to browse (2000)
]]

-- Browses each kind of session for ms milliseconds and prints what was
-- found. 0, or 1 without discovery in this build.
function M.print_network(ms)
  local core = require "rtpmidi.core"
  local kinds = { { "_apple-midi._udp", "AppleMIDI" }, { "_midi2._udp", "Network MIDI 2.0" } }
  local browsers = {}
  for i, k in ipairs(kinds) do
    local b, err = core.browse(k[1])
    if not b then
      for _, o in ipairs(browsers) do o:close() end
      io.stderr:write("rtpmidi list: ", err, "\n")
      return 1
    end
    browsers[i] = b
  end
  local done = false
  local t = rtpmidi.after(ms, function() done = true end)
  while not done do core.run("once") end
  t:cancel()
  for i, k in ipairs(kinds) do
    local found = browsers[i]:found()
    browsers[i]:close()
    table.sort(found, function(a, b) return a.name < b.name end)
    print(("%s (%s):"):format(k[1], k[2]))
    if #found == 0 then print("  none found") end
    local rows, width = {}, { 4, 4, 7 }
    for j, f in ipairs(found) do
      rows[j] = { printable(f.name), printable(f.host), printable(f.address), f }
      for c = 1, 3 do width[c] = math.max(width[c], #rows[j][c]) end
    end
    local fmt = ("  %%-%ds  %%-%ds  %%-%ds  %%s"):format(width[1], width[2], width[3])
    if #found > 0 then print(fmt:format("name", "host", "address", "port")) end
    for _, r in ipairs(rows) do
      local f, extra = r[4], ""
      if f.endpoint_name or f.product_instance_id then
        extra = ("  endpoint \"%s\" product instance id \"%s\""):format(printable(f.endpoint_name or ""),
          printable(f.product_instance_id or ""))
      end
      print(fmt:format(r[1], r[2], r[3], f.port) .. extra)
    end
  end
  return 0
end

--- The ports of every API: { {api=, inputs=, outputs=, err=}, ... } with
-- default_in / default_out set on the entries holding the defaults.
function M.ports(only_api)
  local report = {}
  for _, api in ipairs(rtpmidi.midi_apis()) do
    if not only_api or api == only_api then
      local ins, ierr = rtpmidi.MidiIn.ports(api)
      local outs, oerr = rtpmidi.MidiOut.ports(api)
      local e = { api = api, inputs = ins or {}, outputs = outs or {}, err = ierr or oerr }
      if not e.err and #e.inputs == 0 and #e.outputs == 0 then
        -- a JACK client is made even with no server: only opening a port tells
        local probe, perr = rtpmidi.MidiOut{ api = api, virtual = "rtpmidi-list-probe" }
        if probe then probe:close() else e.err = perr end
      end
      report[#report + 1] = e
    end
  end
  for _, kind in ipairs{ "inputs", "outputs" } do
    for _, e in ipairs(report) do
      if #e[kind] > 0 then e["default_" .. kind] = e[kind][1].index break end
    end
  end
  return report
end

function M.print_ports(only_api)
  local report = M.ports(only_api)
  if #report == 0 then
    print(only_api and ("no MIDI API named '%s' (built with: %s)"):format(only_api,
      table.concat(rtpmidi.midi_apis(), ", ")) or "no MIDI API")
    return only_api and 2 or 1
  end
  for _, e in ipairs(report) do
    print(e.api .. ":")
    if e.err then
      local msg = tostring(e.err):gsub("^" .. e.api .. ": ", "")
      if e.api == "jack" and msg:find("JACK server", 1, true) then
        msg = "no JACK server running (start one, e.g. `jackd -d dummy`, or set JACK_DEFAULT_SERVER)"
      end
      print("  not available: " .. msg)
    else
      for _, kind in ipairs{ "inputs", "outputs" } do
        local list = e[kind]
        if #list == 0 then
          print(("  %s: none"):format(kind))
        else
          print(("  %s:"):format(kind))
          for _, p in ipairs(list) do
            print(("  %s %2d  %s"):format(e["default_" .. kind] == p.index and "*" or " ", p.index, printable(p.name)))
          end
        end
      end
    end
  end
  return 0
end

function M.list(args)
  local opts, err = parse(args, { { nil, "api", "api", arg = "API" }, { "v", "verbose", "verbose" },
    { "n", "network", "network" }, { "t", "time", "time", arg = "MS", kind = "ms" } })
  if opts == "help" then io.write(LIST_HELP) return 0 end
  if not opts then return usage_error("list", err) end
  if opts.verbose then require("rtpmidi.midi").set_verbose(true) end
  if #err > 0 then return usage_error("list", "unexpected argument " .. err[1]) end
  if opts.network then
    if opts.api then return usage_error("list", "--api lists MIDI ports, not the network") end
    return M.print_network(opts.time or 2000)
  end
  if opts.time then return usage_error("list", "--time goes with --network") end
  return M.print_ports(opts.api)
end

-- stream ----------------------------------------------------------------------

local STREAM_HELP = [[
usage: rtpmidi stream -a HOST [-s PORT] [-r PORT] [-i IN] [-o OUT] [-L MS] [-b MS]
                      [--no-journal] [-v]
       rtpmidi stream --applemidi NAME [-a HOST] [-s PORT] [-r PORT] [-i IN] [-o OUT] ...
       rtpmidi stream -l

Streams a local MIDI input to a peer and what the peer sends to a local MIDI
output, as RTP-MIDI (RFC 6295) with the recovery journal, until Ctrl-C.
Ctrl-C ends the session cleanly: the peer gets an RTCP BYE (AppleMIDI: BY),
every note still sounding on the output is turned off, and the exit code is 0.

  -a, --address HOST       the peer (host name or IP address)
  -s, --send-port PORT     the peer's RTP port (5004; 0: receive only); AppleMIDI: its control port
  -r, --receive-port PORT  our RTP port (5004; 0: send only); RTCP uses the next one
  -i, --input IN           MIDI input to send: a port name, part of one, or the index
                           `rtpmidi list` shows
  -o, --output OUT         MIDI output to play on (the same)
  -V, --virtual NAME       make virtual ports "NAME in" / "NAME out" for what -i/-o leave out
      --api API            MIDI API: alsa, jack (default: the first with ports)
  -L, --latency MS         played this long after it was sent, to absorb jitter (20)
  -b, --jitter-buffer MS   how long a packet may wait for reordering (10)
  -j, --no-journal         no recovery journal (RFC 6295 section 4): losses are not repaired
      --applemidi NAME     speak Apple's session protocol as NAME (macOS, iOS, rtpMIDI):
                           invite HOST at -s PORT, or with no -a wait to be invited on -r PORT
  -l, --list               list the MIDI ports, as `rtpmidi list`
  -v, --verbose            print every MIDI message that goes through, and the MIDI
                           libraries' own messages
      --repl / --no-repl   a Lua prompt on standard input (default: when it is a terminal)
      --no-status          no status line (shown when standard output is a terminal)

The status line: the peer (RTP-MIDI: up once its packets arrive; AppleMIDI:
how many participants), MIDI messages sent and the guard packets sent
apart (journal-only packets after the last note, so that the peer can
repair a loss), messages received, packets lost, messages the journal
repaired; for RTP-MIDI the round-trip time (from RTCP), the jitter, and
"plays +L": what arrives plays at its sending time plus -L; for AppleMIDI
"one-way": each participant's delay, measured by the clock sync (CK).

At the prompt, `session` is the session, `input` and `output` the MIDI ports,
`stats()` the counters, `send(bytes)` sends MIDI to the peer, `quit()` stops.
]]

local STREAM_OPTIONS = {
  { "a", "address", "address", arg = "HOST" },
  { "s", "send-port", "send_port", arg = "PORT", kind = "port0" },
  { "r", "receive-port", "receive_port", arg = "PORT", kind = "port0" },
  { "i", "input", "input", arg = "IN" },
  { "o", "output", "output", arg = "OUT" },
  { "V", "virtual", "virtual", arg = "NAME" },
  { nil, "api", "api", arg = "API" },
  { "L", "latency", "latency", arg = "MS", kind = "ms" },
  { "b", "jitter-buffer", "jitter_buffer", arg = "MS", kind = "ms" },
  { "j", "no-journal", "no_journal" },
  { nil, "applemidi", "applemidi", arg = "NAME" },
  { "l", "list", "list" },
  { "v", "verbose", "verbose" },
  { nil, "repl", "repl" },
  { nil, "no-repl", "no_repl" },
  { nil, "no-status", "no_status" },
}

-- -i/-o N: the port `rtpmidi list` shows as N (in --api's list, or in the
-- list of the API marked default), by its name. The name is taken before
-- any port of ours opens: our own ports then join the lists and move the
-- indexes (-o 0 once connected the stream's own input to itself).
-- Returns api, port (a name), or nil, nil, message.
function M.resolve_port(kind, value, api)
  local n = math.tointeger(tonumber(value))
  if not n or tostring(n) ~= value then return api, value end
  local what = kind == "inputs" and "input" or "output"
  for _, e in ipairs(M.ports(api)) do
    if (api and e.api == api) or (not api and e["default_" .. kind]) then
      for _, p in ipairs(e[kind]) do
        if p.index == n then return e.api, p.name end
      end
      return nil, nil, ("%s: no MIDI %s %d (`rtpmidi list` shows %d)"):format(e.api, what, n, #e[kind])
    end
  end
  return nil, nil, ("no MIDI %s ports%s (see `rtpmidi list`)"):format(what, api and (" in " .. api) or "")
end

-- Opens the MIDI ports the options name: input, output (each may be nil),
-- or nil, message.
local function open_ports(opts, latency)
  local inp, out, err
  local in_api, in_port, out_api, out_port
  if opts.input then
    in_api, in_port, err = M.resolve_port("inputs", opts.input, opts.api)
    if err then return nil, nil, "MIDI input: " .. err end
  end
  if opts.output then
    out_api, out_port, err = M.resolve_port("outputs", opts.output, opts.api)
    if err then return nil, nil, "MIDI output: " .. err end
  end
  if opts.input then
    inp, err = rtpmidi.MidiIn{ api = in_api, port = in_port, client = "rtpmidi stream", port_name = "to peer" }
    if not inp then return nil, nil, "MIDI input: " .. tostring(err) end
  elseif opts.virtual then
    inp, err = rtpmidi.MidiIn{ api = opts.api, virtual = opts.virtual .. " in" }
    if not inp then return nil, nil, "virtual MIDI input: " .. tostring(err) end
  end
  if opts.output then
    out, err = rtpmidi.MidiOut{ api = out_api, port = out_port, latency = latency, client = "rtpmidi stream",
                                port_name = "from peer" }
  elseif opts.virtual then
    out, err = rtpmidi.MidiOut{ api = opts.api, virtual = opts.virtual .. " out", latency = latency }
  end
  if opts.output or opts.virtual then
    if not out then
      if inp then inp:close() end
      return nil, nil, "MIDI output: " .. tostring(err)
    end
  end
  return inp, out
end

local function fmt_ms(v) return v and ("%.1f ms"):format(v) or "-" end

-- The status line's text for a MidiSession or an AppleMidiSession. MIDI
-- messages and guard packets (journal-only packets that keep the peer's
-- recovery going after the last note) are counted apart. "latency" means a
-- different thing in each mode, so the line says which: RTP-MIDI plays what
-- arrives at its sending time plus -L ("plays +20 ms"); AppleMIDI measures
-- each participant's one-way delay by clock sync ("one-way 0.3 ms").
function M.status_text(session)
  local st = session:stats()
  local sent = ("sent %d msg + %d guard"):format(st.messages_sent or 0, st.guard_packets or st.guard_sent or 0)
  local received = ("received %d msg"):format(st.messages_received or 0)
  if session.participants then
    local ps = session:participants()
    local lat = {}
    for _, p in ipairs(ps) do if p.latency then lat[#lat + 1] = ("%.1f"):format(p.latency) end end
    return ("peers %d | %s | %s | lost %d | repaired %d | one-way %s"):format(
      #ps, sent, received, st.lost or 0, st.messages_recovered or 0,
      #lat > 0 and (table.concat(lat, "/") .. " ms") or "-")
  end
  local peer = (st.peer_ssrc or 0) ~= 0 and not session._dropped
  return ("peer %s | %s | %s | lost %d | repaired %d | rtt %s | jitter %s | plays +%s"):format(
    peer and "up" or "-", sent, received, st.lost or 0, st.messages_recovered or 0,
    fmt_ms(st.rtt), fmt_ms(st.jitter), fmt_ms(session:get_latency()))
end

function M.stream(args)
  local opts, rest = parse(args, STREAM_OPTIONS)
  if opts == "help" then io.write(STREAM_HELP) return 0 end
  if not opts then return usage_error("stream", rest) end
  if #rest > 0 then return usage_error("stream", "unexpected argument " .. rest[1]) end
  if opts.list then return M.print_ports(opts.api) end
  if not opts.address and not opts.applemidi then
    return usage_error("stream", "-a HOST is needed (or --applemidi NAME to wait for invitations)")
  end
  if opts.applemidi and (#opts.applemidi == 0 or #opts.applemidi > 64) then
    return usage_error("stream", "--applemidi needs a session name of 1..64 octets")
  end
  if opts.api then
    local known = false
    for _, a in ipairs(rtpmidi.midi_apis()) do known = known or a == opts.api end
    if not known then
      return usage_error("stream", ("--api: no MIDI API '%s' (built with: %s)"):format(opts.api,
        table.concat(rtpmidi.midi_apis(), ", ")))
    end
  end
  local latency = opts.latency or 20
  local jitter = opts.jitter_buffer or 10
  local send_port, recv_port = opts.send_port or 5004, opts.receive_port or 5004
  if opts.applemidi and (send_port == 0 or recv_port == 0) then
    return usage_error("stream", "-s 0 / -r 0 (one direction only) are for RTP-MIDI, not --applemidi")
  end
  if send_port == 0 and recv_port == 0 then
    return usage_error("stream", "-s 0 and -r 0 together leave nothing to stream")
  end
  if not opts.applemidi and send_port == recv_port and send_port ~= 0 and M.is_loopback(opts.address) then
    return usage_error("stream", ("%s is our own port: give the peer's port with -s or ours with -r")
      :format(hostport(opts.address, send_port)))
  end
  local verbose = opts.verbose
  if verbose then require("rtpmidi.midi").set_verbose(true) end
  local log = function(...) io.stderr:write("rtpmidi stream: ", ...) io.stderr:write("\n") end

  local Apple = opts.applemidi and rtpmidi.AppleMidiSession
  if opts.applemidi and type(Apple) ~= "table" then
    return failure("stream", "--applemidi: AppleMIDI sessions are not available in this build")
  end

  local inp, out, perr = open_ports(opts, latency)
  if perr then return failure("stream", perr) end
  if not inp and not out then
    log("no MIDI ports given (-i, -o or -V): nothing to play or send here; -v prints what arrives")
  end

  local control = rtpmidi.RTPControl()
  local session
  local function show(dir, msg, extra)
    print(("%s %-22s %s%s"):format(dir, hex(msg), monitor.describe_midi(msg), extra or ""))
  end
  if opts.applemidi then
    session = Apple{
      name = opts.applemidi, port = recv_port, recovery = not opts.no_journal, jitter_buffer_size = jitter,
      incoming_midi = function(_, msg, time, recovered, p)
        if verbose then show("<-", msg, (recovered and "  (recovered)" or "") .. (p and ("  from " .. printable(p.name)) or "")) end
        if out then out:send(msg, time) end
      end,
      participant_joined = function(_, p)
        log(("%s joined (%s)"):format(printable(p.name), hostport(p.address, p.port or 0)))
      end,
      participant_left = function(_, p, reason)
        log(("%s left: %s"):format(printable(p.name), printable(reason)))
        if out and #session:participants() == 0 then out:all_notes_off() end
      end,
      invitation_failed = function(_, address, port, reason)
        log(("invitation to %s failed: %s"):format(hostport(address, port or 0), printable(reason)))
        -- the one peer this command was asked to reach is not there
        if opts.address and #session:participants() == 0 then M.fail_stream() end
      end,
    }
  else
    session = rtpmidi.MidiSession{
      peer_address = opts.address, sending_port = send_port, receiving_port = recv_port,
      latency = latency, jitter_buffer_size = jitter, recovery = not opts.no_journal,
      tool_name = "rtpmidi stream " .. rtpmidi._VERSION,
      incoming_midi = function(self, msg, time, recovered)
        self._dropped = nil
        if verbose then show("<-", msg, recovered and "  (recovered)" or "") end
        if self.midi_out then self.midi_out:send(msg, time) end
      end,
      drop_call = function(self, _, reason, detail)
        self._dropped = true
        log(("peer %s: %s%s"):format(printable(opts.address), printable(reason),
          detail and detail ~= "" and (" (" .. printable(detail) .. ")") or ""))
        -- a host that does not resolve (or sockets that cannot open) ends the command
        if detail and (detail:find("^cannot resolve") or detail:find("^cannot open")) then M.fail_stream() end
      end,
    }
    session.midi_out = out  -- closed, all notes off first, when the session is removed
  end
  if inp then
    inp.on_message = function(_, bytes, time)
      if verbose then show("->", bytes) end
      if opts.applemidi then session:send_midi(bytes) else session:send_midi(bytes, time) end
    end
    if not opts.applemidi then session.midi_in = inp end
  end

  local cookie = control:add_session(session)
  local ok, err = control:start_session(cookie)
  if not ok then
    control:remove_session(cookie)
    if opts.applemidi then
      if inp then inp:close() end
      if out then out:close() end
    end
    return failure("stream", ("cannot start the session on port %d: %s"):format(recv_port, tostring(err)))
  end
  if opts.applemidi then
    if opts.address then
      -- a host that is no address nor name raises: a message like the others
      local pok, iok, ierr = pcall(session.invite, session, opts.address, send_port)
      if not pok then iok, ierr = nil, (tostring(iok):gsub("^.-: bad argument", "bad argument")) end
      if not iok then
        control:remove_session(cookie)
        if inp then inp:close() end
        if out then out:close() end
        return failure("stream", "cannot invite " .. opts.address .. ": " .. tostring(ierr))
      end
      log(("AppleMIDI session '%s' on port %d, inviting %s"):format(opts.applemidi, session:local_port(),
        hostport(opts.address, send_port)))
    else
      log(("AppleMIDI session '%s' on port %d, waiting for invitations"):format(opts.applemidi, session:local_port()))
    end
  else
    log(("streaming with %s from port %d, journal %s, latency %g ms, jitter buffer %g ms"):format(
      hostport(opts.address, send_port), session:local_port(), opts.no_journal and "off" or "on", latency, jitter))
  end
  log(("input: %s, output: %s (Ctrl-C stops)"):format(inp and inp:port_name() or "none", out and out:port_name() or "none"))

  local core = require "rtpmidi.core"
  local status, repl, cancel_signals
  local stopping, exit_code = false, 0
  local function stop(why)
    if stopping then return end
    stopping = true
    if repl then repl:close() end
    if status then status:close() end
    if why then log(why .. ", stopping" .. (why:match("^SIG") and " (again to quit at once)" or "")) end
    -- BYE to the peer, all notes off on the output; then give the MIDI
    -- output a moment to play them before the loop ends and the ports close
    control:stop_session(cookie)
    if opts.applemidi and out then out:all_notes_off() end
    rtpmidi.after(100, function() core.stop_loop() end)
  end
  cancel_signals = on_stop_signals(stop)
  M.fail_stream = function()
    exit_code = 1
    rtpmidi.after(0, function() stop() end)
  end
  if not opts.no_status and core.isatty(1) then
    status = require("rtpmidi.term").status_line(function() return M.status_text(session) end, 1000)
  end
  if want_repl(opts) then
    local env = {
      rtpmidi = rtpmidi, session = session, control = control, input = inp, output = out,
      stats = function() return session:stats() end,
      send = function(bytes) return session:send_midi(bytes) end,
      quit = function() stop() end,
    }
    local rerr
    repl, rerr = require("rtpmidi.term").repl{ env = env, prompt = "stream> ", on_eof = function() stop("end of input") end }
    if not repl then log("no prompt: ", tostring(rerr)) end
  end
  control:run()
  if not stopping then stop() ; control:run() end
  cancel_signals()
  control:remove_session(cookie)
  if opts.applemidi then
    if inp then inp:close() end
    if out then out:close() end
  end
  return exit_code
end

--- Whether host names this machine's loopback (where -s = -r is our own port).
function M.is_loopback(host)
  return host == "localhost" or host == "::1" or host:match("^127%.%d+%.%d+%.%d+$") ~= nil
end

-- monitor ---------------------------------------------------------------------

local MONITOR_HELP = [[
usage: rtpmidi monitor PORT [--bind ADDRESS] [-c COUNT] [-t SECONDS] [-x]

Listens on UDP PORT and PORT+1 and prints one line per packet that arrives:
RTP-MIDI (RFC 6295: each MIDI command, and the recovery journal's size and
table of contents), RTCP (SR, RR, SDES, BYE), AppleMIDI session commands
(IN, OK, NO, BY, CK, RS) and Network MIDI 2.0 packets (session commands, and
each Universal MIDI Packet of UMP Data). It never answers: point a sender at
PORT, or run it where a session's peer would be.

  --bind ADDRESS    the local address to listen on (0.0.0.0)
  -c, --count N     exit after N packets
  -t, --time S      exit after S seconds
  -x, --hex         also print each packet in hex
]]

function M.monitor(args)
  local opts, rest = parse(args, {
    { nil, "bind", "bind", arg = "ADDRESS" },
    { "c", "count", "count", arg = "N", kind = "count" },
    { "t", "time", "time", arg = "SECONDS", kind = "count" },
    { "x", "hex", "hex" },
  })
  if opts == "help" then io.write(MONITOR_HELP) return 0 end
  if not opts then return usage_error("monitor", rest) end
  if #rest ~= 1 then return usage_error("monitor", "one PORT expected") end
  local port = math.tointeger(tonumber(rest[1]))
  if not port or port < 1 or port > 65534 then
    return usage_error("monitor", "PORT must be 1..65534, got " .. rest[1])
  end
  local core = require "rtpmidi.core"
  local bind = opts.bind or "0.0.0.0"
  local okb, bad = pcall(core.udp, bind, 0)
  if not okb then return usage_error("monitor", "--bind: " .. tostring(bad)) end
  if bad then bad:close() end
  local sockets = {}
  local function close_all() for _, s in ipairs(sockets) do s:close() end end
  for _, p in ipairs{ port, port + 1 } do
    local s, err = core.udp(bind, p)
    if not s then close_all() return failure("monitor", ("cannot listen on %s: %s"):format(hostport(bind, p), err)) end
    sockets[#sockets + 1] = s
  end
  io.stderr:write(("rtpmidi monitor: listening on %s and %d (Ctrl-C stops)\n"):format(hostport(bind, port), port + 1))
  io.stdout:setvbuf("line")
  local t0, count, finished = rtpmidi.now(), 0, false
  local timer, cancel_signals
  local function finish()
    if finished then return end
    finished = true
    if cancel_signals then cancel_signals() end
    if timer then timer:cancel() end
    close_all()
  end
  for i, s in ipairs(sockets) do
    local local_port = port + i - 1
    s:recv(function(data, host, from)
      if finished then return end
      count = count + 1
      print(("%9.3f %s -> %d  %s"):format((rtpmidi.now() - t0) / 1000, hostport(host, from), local_port,
        printable(monitor.describe(data))))
      if opts.hex then print("          " .. hex(data)) end
      if opts.count and count >= opts.count then finish() end
    end)
  end
  if opts.time then timer = rtpmidi.after(opts.time * 1000, finish) end
  cancel_signals = on_stop_signals(function(name)
    io.stderr:write("rtpmidi monitor: ", name, ", stopping\n")
    finish()
  end)
  -- the sockets keep the loop alive until finish() closes them
  core.run("default")
  finish()
  return 0
end

-- bridge ----------------------------------------------------------------------

-- The command lives in rtpmidi.bridge, with the bridge itself.
function M.bridge(args)
  return require("rtpmidi.bridge").command(args, { parse = parse, usage_error = usage_error, failure = failure,
    on_stop_signals = on_stop_signals, printable = printable, hex = hex })
end

local RUN_HELP = [[
usage: rtpmidi run SCRIPT.lua [--watch] [--interval MS] [--budget MS] [--repl | --no-repl] [--status]
                           [ARGS...]

Runs a Lua script on the event loop until it stops the control, nothing is
left to do, or Ctrl-C. With --watch, saving the script reloads it while its
sessions and ports stay up: the script names them with
  keep("name", function() return <new object> end)
and a reload finds them again by name; what the script assigns to them
(callbacks, routes) is swapped in at once when it finishes. A version that
fails to load or run leaves the previous one running and prints the error;
an empty file, or one caught half-saved, is not loaded. A callback error that
repeats prints once, then as a count; a version that fails 10 times within
10 s gives way to the previous good version's code (the file stays as it is).

Arguments after the script that are not options of `run` (and every one
after `--`) go to the script: as `...` and in the table `arg` (arg[0] is the
script). Inside the script, `rtpmidi` is the module; its after/every timers belong to
the script's current version and stop when a newer version takes over.

A callback (a timer, incoming_midi, ...) that runs longer than --budget MS
(200; 0: no limit) is stopped with an error and the loop goes on: a loop
that never ends does not freeze the sessions, and Ctrl-C still works.

When standard input is a terminal (or with --repl), a Lua prompt evaluates
what you type on the running loop: the script's kept objects are there by
name, with `rtpmidi`, `control`, `reload()` and `quit()`. --status shows a
status line (when standard output is a terminal) for the sessions the
control holds.
]]

function M.run(args)
  local path, watch, interval, repl_opt, status_opt, budget
  local script_args = {}
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "--" and path then
      table.move(args, i + 1, #args, #script_args + 1, script_args)
      break
    elseif a == "--help" or a == "-h" then io.write(RUN_HELP) return 0
    elseif a == "--watch" or a == "-w" then watch = true
    elseif a == "--interval" then
      interval = tonumber(args[i + 1]); i = i + 1
      if not interval or interval < 1 then return usage_error("run", "--interval needs milliseconds >= 1") end
    elseif a == "--budget" then
      budget = tonumber(args[i + 1]); i = i + 1
      if not budget or budget < 0 then return usage_error("run", "--budget needs milliseconds >= 0") end
    elseif a == "--repl" then repl_opt = true
    elseif a == "--no-repl" then repl_opt = false
    elseif a == "--status" then status_opt = true
    elseif not path and a:sub(1, 1) == "-" then
      return usage_error("run", "unknown option " .. a)
    elseif not path then path = a
    else script_args[#script_args + 1] = a end
    i = i + 1
  end
  if not path then return usage_error("run", "a script is needed") end
  if budget then rtpmidi.set_callback_budget(budget) end
  local core = require "rtpmidi.core"
  local Live = require "rtpmidi.live"
  -- a version that keeps failing goes back to the previous one (--watch)
  local live = Live.new(path, { args = script_args, restore_after = watch and 10 or false })
  -- a callback error that repeats prints once, then as a count
  rtpmidi.on_error = function(message) live:report_error(message) end
  local want_prompt = repl_opt == true or (repl_opt == nil and core.isatty(0))
  -- output of the script never breaks the line typed at the prompt: the
  -- hooks must be in before the script keeps its own `print`
  if want_prompt and core.isatty(0) and core.isatty(1) then require("rtpmidi.term").hook_output() end
  local ok, err = live:load()
  if not ok then
    io.stderr:write("rtpmidi run: ", tostring(err), "\n")
    live:stop()
    return 1
  end
  local control = rtpmidi.RTPControl()
  if control.stopped_by then
    -- the script ran the loop itself and Ctrl-C ended it: that was the end
    live:stop()
    return 0
  end
  if watch then
    live:watch(math.floor(interval or 100))
    io.stderr:write(("rtpmidi: running %s, reloading on save (Ctrl-C stops)\n"):format(path))
  end
  local repl, status, cancel_signals
  local stopped = false
  -- The end (Ctrl-C, quit(), end of input, or the script done): the
  -- script's objects close, every session says BYE, every MIDI output turns
  -- its notes off, and the loop ends once those have gone out. The signals
  -- stay caught until then: a second Ctrl-C ends the process at once.
  local function stop(name)
    if stopped then return end
    stopped = true
    if repl then repl:close() end
    if status then status:close() end
    if name then
      io.stderr:write("rtpmidi: ", name, ", stopping", name:match("^SIG") and " (again to quit at once)" or "", "\n")
    end
    live:stop()
    control:shutdown()
  end
  cancel_signals = on_stop_signals(stop)
  if status_opt and core.isatty(1) then
    status = require("rtpmidi.term").status_line(function()
      local parts = {}
      for _, c in ipairs(control:cookies()) do
        local s = control:get_session(c)
        if s.stats and (s.get_latency or s.participants) then parts[#parts + 1] = M.status_text(s) end
      end
      return #parts > 0 and table.concat(parts, " || ") or "no MIDI session"
    end, 1000)
  end
  if want_prompt then
    local env = setmetatable({
      rtpmidi = rtpmidi, control = control, live = live,
      reload = function() return live:reload() end,
      quit = function() stop() end,
    }, { __index = function(_, k) return live.objects[k] end })
    local rerr
    repl, rerr = require("rtpmidi.term").repl{ env = env, prompt = "run> ",
      on_eof = function() stop("end of input") end }
    if not repl then io.stderr:write("rtpmidi run: no prompt: ", tostring(rerr), "\n") end
  end
  control:run()
  if not stopped then
    stop()
    control:run()
  end
  cancel_signals()
  return 0
end

-- serve / status ------------------------------------------------------------

local SERVE_HELP = [[
usage: rtpmidi serve CONFIG.lua [-v]

Keeps an AppleMIDI session and its MIDI ports up, as a daemon (a systemd
unit: examples/serve/rtpmidi.service). CONFIG.lua returns a table:

  return {
    name = "studio", port = 5004,            -- the session (advertised by mDNS with Avahi)
    peers = { "10.0.0.2:5004",               -- invited, and invited again whenever gone
              { name = "Bob's MacBook" } },  -- found by the name it advertises
    input = "keyboard", output = "synth",    -- MIDI ports: names, or `rtpmidi list` indexes
    api = "jack", latency = 20,              -- output plays at sending time + latency (ms)
    reconnect = 5,                           -- seconds between attempts (peers, ports)
  }

Peers that invite it are accepted too. A MIDI port that is not there yet is
opened when it appears. `rtpmidi status` asks the running daemons what is
connected. Ctrl-C or SIGTERM: BY to every participant, notes off, exit 0.

  -v, --verbose   let the MIDI libraries' own messages through
]]

local STATUS_HELP = [[
usage: rtpmidi status [NAME]

Asks the running `rtpmidi serve` daemons (or the one serving session NAME)
what is connected: each configured peer and its state, other participants,
the MIDI ports, and the counters. They leave their local status port in
$RTPMIDI_RUN_DIR, else $XDG_RUNTIME_DIR/rtpmidi, else /tmp/rtpmidi-$USER.
Exit 1 when none runs or one does not answer.
]]

function M.serve(args)
  local opts, rest = parse(args, { { "v", "verbose", "verbose" } })
  if opts == "help" then io.write(SERVE_HELP) return 0 end
  if not opts then return usage_error("serve", rest) end
  if #rest ~= 1 then return usage_error("serve", "one CONFIG.lua expected") end
  if opts.verbose then require("rtpmidi.midi").set_verbose(true) end
  local Serve = require "rtpmidi.serve"
  local cfg, err = Serve.read_config(rest[1])
  if not cfg then return failure("serve", err) end
  if not rtpmidi.AppleMidiSession then return failure("serve", "AppleMIDI sessions are not in this build") end
  local daemon, serr = Serve.start(cfg)
  if not daemon then return failure("serve", serr) end
  local stopping = false
  local cancel = on_stop_signals(function(name)
    if stopping then return end
    stopping = true
    io.stderr:write("rtpmidi serve: ", name, ", stopping (again to quit at once)\n")
    daemon:stop()
    rtpmidi.after(100, function() require("rtpmidi.core").stop_loop() end)
  end)
  require("rtpmidi.core").run("default")
  cancel()
  daemon:stop()
  return 0
end

function M.status(args)
  local opts, rest = parse(args, {})
  if opts == "help" then io.write(STATUS_HELP) return 0 end
  if not opts then return usage_error("status", rest) end
  if #rest > 1 then return usage_error("status", "at most one NAME expected") end
  return require("rtpmidi.serve").query(rest[1])
end

function M.main(args)
  args = args or {}
  local cmd = args[1]
  local rest = table.move(args, 2, #args, 1, {})
  if cmd == "help" and rest[1] then
    local commands = { demo = M.demo, run = M.run, list = M.list, stream = M.stream, monitor = M.monitor,
                       serve = M.serve, status = M.status, bridge = M.bridge }
    local f = commands[rest[1]]
    if not f then
      io.stderr:write("rtpmidi help: no command '", rest[1], "' (", "bridge, demo, list, monitor, run, serve, status, stream)\n")
      return 2
    end
    return f{ "--help" }
  end
  if cmd == nil or cmd == "help" or cmd == "--help" or cmd == "-h" then
    io.write(USAGE)
    return cmd == nil and 2 or 0
  elseif cmd == "version" or cmd == "--version" then
    print("rtpmidi " .. rtpmidi._VERSION)
    return 0
  elseif cmd == "demo" then
    return M.demo(rest)
  elseif cmd == "run" then
    return M.run(rest)
  elseif cmd == "list" then
    return M.list(rest)
  elseif cmd == "stream" then
    return M.stream(rest)
  elseif cmd == "monitor" then
    return M.monitor(rest)
  elseif cmd == "serve" then
    return M.serve(rest)
  elseif cmd == "status" then
    return M.status(rest)
  elseif cmd == "bridge" then
    return M.bridge(rest)
  end
  io.stderr:write("rtpmidi: unknown command '", tostring(cmd), "'\nsee `rtpmidi help`\n")
  return 2
end

return M
