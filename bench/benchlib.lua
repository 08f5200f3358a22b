-- Shared by the Lua benchmarks: arguments, percentiles, CPU time and the
-- BENCH result lines that bench/run.sh gathers (format in bench/README.md).
local rtpmidi = require "rtpmidi"
local core = require "rtpmidi.core"

local B = {}

B.MIDI = "\x03\x90\x3c\x64"   -- an RFC 6295 command section: LEN=3, note on

--- Integer (or number) argument i of the script, or default.
function B.arg(i, default)
  local v = arg[i]
  if v == nil then return default end
  return math.tointeger(tonumber(v)) or tonumber(v) or v
end

--- CPU seconds (user + system) of this process so far.
B.cpu = os.clock

--- Nearest-rank percentile of a sorted array, p in (0, 1].
function B.percentile(sorted, p)
  local n = #sorted
  if n == 0 then return 0 / 0 end
  local k = math.ceil(p * n)
  if k < 1 then k = 1 elseif k > n then k = n end
  return sorted[k]
end

local function fmt(v)
  if math.type(v) == "integer" then return tostring(v) end
  if type(v) == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return "nan" end
    return ("%.3f"):format(v)
  end
  v = tostring(v)
  if v:find("[%s\"]") then return '"' .. v:gsub('"', "'") .. '"' end
  return v
end

--- Prints one BENCH line: fields is an array of {key, value} pairs.
function B.line(kind, name, fields)
  local out = { "BENCH", "kind=" .. kind, "name=" .. name }
  for _, kv in ipairs(fields) do out[#out + 1] = kv[1] .. "=" .. fmt(kv[2]) end
  io.write(table.concat(out, " "), "\n")
  io.flush()
end

--- When BENCH_DAT_DIR is set, appends the one-way latencies (RTT/2, µs), one
-- a line, to $BENCH_DAT_DIR/<name>.dat (bench/run.sh plots them). one_way:
-- the samples are one-way times already (not halved).
function B.write_dat(name, rtt_us, one_way)
  local dir = os.getenv("BENCH_DAT_DIR")
  if not dir or dir == "" then return end
  local f = io.open(dir .. "/" .. name .. ".dat", "a")
  if not f then return end
  local out = {}
  local d = one_way and 1 or 2
  for i, v in ipairs(rtt_us) do out[i] = ("%.3f"):format(v / d) end
  out[#out + 1] = ""
  f:write(table.concat(out, "\n"))
  f:close()
end

--- Prints the latency line from round trips in microseconds (one way = RTT/2)
-- and writes the samples (B.write_dat).
function B.latency_line(name, what, rtt_us, lost, status)
  B.write_dat(name, rtt_us)
  table.sort(rtt_us)
  local half = function(v) return ("%.2f"):format(v / 2) end
  B.line("latency", name, {
    { "what", what }, { "n", #rtt_us }, { "lost", lost },
    { "p50_us", half(B.percentile(rtt_us, 0.50)) }, { "p99_us", half(B.percentile(rtt_us, 0.99)) },
    { "max_us", half(rtt_us[#rtt_us] or 0 / 0) }, { "status", status },
  })
end

--- Registers session s with control and starts it. When its port cannot be
-- opened: returns nil and the error if may_fail, else says so on stderr
-- (as who) and exits with 3. Returns s otherwise.
function B.start_session(control, s, port, who, may_fail)
  local cookie = control:add_session(s)
  local ok, err = control:start_session(cookie)
  if not ok then
    control:remove_session(cookie)
    if may_fail then return nil, err end
    io.stderr:write(("%s: cannot open port %d: %s\n"):format(who or "bench", port, err))
    os.exit(3)
  end
  return s
end

--- A session on 127.0.0.1 from local_port to peer_port whose incoming_rtp
-- is on_rtp(self, cookie, timestamp, packet, recovery); registered and started.
function B.session(local_port, peer_port, on_rtp)
  local s = rtpmidi.RTPSession{ peer_address = "127.0.0.1", bind_address = "127.0.0.1",
    sending_port = peer_port, receiving_port = local_port, payload = 96,
    jitter_buffer_size = 0, tool_name = "rtpmidi bench", incoming_rtp = on_rtp }
  return B.start_session(rtpmidi.RTPControl(), s, local_port)
end

--- A session of class (a constructor of the facade: rtpmidi.MidiSession,
-- ...) from the options defaults with opts (optional) laid over them,
-- registered with control and started (B.start_session, as who; opts.may_fail
-- is its may_fail, not an option).
function B.open_session(control, class, port, who, defaults, opts)
  for k, v in pairs(opts or {}) do if k ~= "may_fail" then defaults[k] = v end end
  return B.start_session(control, class(defaults), port, who, opts and opts.may_fail)
end

--- A MidiSession on 127.0.0.1 from local_port to peer_port, registered and
-- started; opts (optional) adds or overrides options and callbacks.
-- Returns the session, or nil and the error when the port is taken and
-- opts.may_fail is set (otherwise the process exits).
function B.midi_session(local_port, peer_port, opts)
  return B.open_session(rtpmidi.RTPControl(), rtpmidi.MidiSession, local_port, "bench",
    { peer_address = "127.0.0.1", bind_address = "127.0.0.1", sending_port = peer_port,
      receiving_port = local_port, jitter_buffer_size = 0, tool_name = "rtpmidi bench" }, opts)
end

--- The 14-bit probe id as a MIDI message (a pitch bend on channel 1: its
-- journal chapter is two octets whatever the value).
function B.probe_msg(id)
  return string.char(0xE0, id & 0x7f, (id >> 7) & 0x7f)
end

--- The message that tells a MIDI echo side to stop (a SysEx for
-- non-commercial use: F0 7D "BYE" F7).
B.MIDI_BYE = "\xF0\x7D\x42\x59\x45\xF7"

--- Resident set size of this process in KiB (VmRSS), or nil.
function B.rss_kib()
  local f = io.open("/proc/self/status")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmRSS:%s*(%d+)"))
end

--- Calls fn(now_ms) every ms milliseconds until the loop stops.
function B.every(ms, fn)
  return rtpmidi.every(ms, function() fn(rtpmidi.now()) end)
end

--- Why the session class rtpmidi[class] cannot be benchmarked, or nil: the
-- facade has no such class, or the C core has no core[core_field] (what:
-- the core's sessions, in words).
function B.unavailable(class, core_field, what)
  if not rtpmidi[class] then return ("rtpmidi.%s does not exist"):format(class) end
  if not core[core_field] then return ("the C core has no %s (core.%s)"):format(what, core_field) end
  return nil
end

--- Prints the row of a benchmark that cannot run here, saying why, and exits 0.
function B.not_available(kind, name, why)
  B.line(kind, name, { { "status", "not available" }, { "why", why } })
  os.exit(0)
end

--- B.throughput's send and packets for a session with send_midi (MidiSession,
-- AppleMidiSession): Note On and Note Off alternately, each flushed into a
-- packet of its own unless batch (then a loop turn's messages share one);
-- packets counts the session's RTP packets sent.
function B.note_sender(session, batch)
  local ON, OFF = "\x90\x3c\x64", "\x80\x3c\x40"
  local function send(i)
    session:send_midi(i & 1 == 1 and ON or OFF)
    if not batch then session:flush() end
  end
  return send, function() return session:stats().packets_sent end
end

--- The echo side's stop: every idle_s seconds, stops control when count()
-- has not moved since the last tick, saying so on stderr as
-- "<who> echo: idle for <idle_s> s after <count> messages<note()>".
function B.stop_when_idle(control, idle_s, who, count, note)
  local at_last_tick = -1
  return rtpmidi.every(idle_s * 1000, function()
    local c = count()
    if c == at_last_tick then
      io.stderr:write(("%s echo: idle for %s s after %d messages%s, stopping\n")
        :format(who, idle_s, c, note and note() or ""))
      control:stop()
    end
    at_last_tick = c
  end)
end

--- The measuring side of a ping-pong latency run, whatever carries the probe.
-- o: control, n (round trips measured), warmup (round trips before them),
-- timeout_s, probe(id) -> the probe for id (a value the echo brings back,
-- compared with ==), send(probe) sends it, ready() (optional) -> whether
-- probing may start (the session has joined). Returns pp:
--   pp.answer(v)  from the receive callback, v the probe value that came back:
--                 a round trip when it is the one in flight, then the next probe
--   pp.probe()    sends the next probe (to start at once, before control:run)
--   pp.finish(name, what, why)  after control:run: prints the latency line
--                 (or a failed one with why when the echo never answered) and exits.
-- Until the echo answers, a probe goes out every 50 ms tick; later a probe not
-- back within a second is lost and the next goes out. Stops control after n.
function B.pingpong(o)
  local now = rtpmidi.now
  local control, n, warmup, probe_of, send, ready = o.control, o.n, o.warmup, o.probe, o.send, o.ready
  local rtt, id, sent_at, expect = {}, 0, 0, nil
  local measuring, seen, lost = false, 0, 0
  local pp = {}
  function pp.probe()
    id = id + 1
    expect = probe_of(id)
    sent_at = now()
    send(expect)
  end
  function pp.answer(v)
    local t = now()
    if v ~= expect then return end     -- a late echo of an earlier probe
    if not measuring then
      measuring = true                 -- the echo side is up
    else
      seen = seen + 1
      if seen > warmup then rtt[#rtt + 1] = (t - sent_at) * 1000 end
    end
    if #rtt >= n then control:stop() return end
    pp.probe()
  end
  local started = now()
  B.every(50, function(t)
    if t - started > o.timeout_s * 1000 then control:stop() return end
    if ready and not ready() then return end
    if not measuring or t - sent_at > 1000 then
      if measuring then lost = lost + 1 end
      pp.probe()
    end
  end)
  function pp.finish(name, what, why)
    if not measuring then
      B.line("latency", name, { { "status", "failed" }, { "why", why } })
      os.exit(1)
    end
    B.latency_line(name, what, rtt, lost, #rtt >= n and "ok" or "timeout")
    os.exit(#rtt >= n and 0 or 1)
  end
  return pp
end

--- The echo side of a session protocol with invitations (AppleMidiSession,
-- Midi2Session): open(h) makes the session, its callbacks calling h.joined()
-- when the peer joins, h.left() when it leaves (control stops) and
-- h.echoed() for each message sent back. Runs until the peer leaves or
-- nothing was echoed for idle_s (B.stop_when_idle, as who).
function B.echo_until_left(control, idle_s, who, open)
  local echoed, joined = 0, false
  open{ joined = function() joined = true end, left = function() control:stop() end,
        echoed = function() echoed = echoed + 1 end }
  B.stop_when_idle(control, idle_s, who, function() return echoed end,
    function() return (" (joined: %s)"):format(tostring(joined)) end)
  control:run()
end

--- B.pingpong from a session that invites the echo side at peer_port (a
-- session protocol with invitations): o as for B.pingpong but send(s, probe)
-- with the session, plus peer_port, name, what and open(h), which makes the
-- session, its callbacks calling h.joined() on joining, h.failed(reason)
-- when the invitation fails and h.answer(v) with each probe value that comes
-- back. Probes go out once joined; control:stop() ends the session (the
-- echo side is told it left). Prints the result and exits.
function B.invite_pingpong(o)
  local joined, failed, s = false, nil, nil
  local pp = B.pingpong{ control = o.control, n = o.n, warmup = o.warmup, timeout_s = o.timeout_s,
    probe = o.probe, send = function(v) o.send(s, v) end, ready = function() return joined end }
  s = o.open{ joined = function() joined = true end, answer = pp.answer,
              failed = function(reason) failed = reason; o.control:stop() end }
  s:invite("127.0.0.1", o.peer_port)
  o.control:run()
  pp.finish(o.name, o.what,
    failed and ("invitation " .. failed) or (joined and "peer never echoed" or "never joined"))
end

--- One process's throughput run, windowed: o: control, total (messages),
-- window (at most in flight), timeout_s, send(i) sends message i (1, 2, ...),
-- packets() -> the sending side's packet counter now. Returns tp:
--   tp.begin()     starts the clock and fills the window (at once, or when
--                  the sessions have joined)
--   tp.received()  from the receiving side's callback: one more arrived; the
--                  next goes out; after the last, control stops
--   tp.result()    after control:run: nil when begin was never called, else
--                  { sent, received, total, seconds, cpu_s, packets }.
-- Control stops at timeout_s, or when nothing arrived for 2 s after begin.
function B.throughput(o)
  local now = rtpmidi.now
  local control, total, window, send, packets = o.control, o.total, o.window, o.send, o.packets
  local sent, received, t0, c0, p0, p1 = 0, 0, nil, nil, nil, nil
  local tp = {}
  local function send_one()
    sent = sent + 1
    send(sent)
  end
  function tp.begin()
    t0, c0, p0 = now(), B.cpu(), packets()
    while sent < window and sent < total do send_one() end
  end
  function tp.received()
    received = received + 1
    if sent < total then send_one()
    elseif received == total then
      p1 = packets()   -- before the stop: a stopped session's counters may be gone
      control:stop()
    end
  end
  local started, last, last_change = now(), -1, now()
  B.every(250, function(t)
    if received ~= last then last, last_change = received, t end
    if t - started > o.timeout_s * 1000 or (t0 and t - last_change > 2000) then control:stop() end
  end)
  function tp.result()
    if not t0 then return nil end
    local secs, c = (now() - t0) / 1000, B.cpu() - c0
    return { sent = sent, received = received, total = total, seconds = secs, cpu_s = c,
             packets = (p1 or packets()) - p0 }
  end
  return tp
end

--- The midi_throughput line of a B.throughput result r (nil: a failed row,
-- the sessions never joined); extra: fields put before status (optional).
-- Exits: 0 when every message arrived.
function B.throughput_line(name, what, r, extra)
  if not r then
    B.line("midi_throughput", name, { { "status", "failed" }, { "why", "never joined" } })
    os.exit(1)
  end
  local received, packets, secs = r.received, r.packets, r.seconds
  local fields = {
    { "what", what },
    { "messages", received }, { "lost", r.sent - received }, { "packets", packets },
    { "msgs_per_packet", received / math.max(packets, 1) }, { "seconds", secs },
    { "msgs_per_s", math.floor(received / secs + 0.5) }, { "pps", math.floor(packets / secs + 0.5) },
    { "cpu_s_per_mmsg", r.cpu_s / (received / 1e6) },
  }
  for _, kv in ipairs(extra or {}) do fields[#fields + 1] = kv end
  fields[#fields + 1] = { "status", received == r.total and "ok" or "incomplete" }
  B.line("midi_throughput", name, fields)
  os.exit(received == r.total and 0 or 1)
end

return B
