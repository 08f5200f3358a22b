-- Scale: N session pairs in one process on 127.0.0.1, timers running
-- (MidiSession: RTCP every rtcp_interval, default 5 s; AppleMidiSession: CK).
--   lua5.4 bench/lua_scale.lua <midi|apple> <pairs> <first_port> <idle_s> <probe_round_trips> <probe_warmup> [timeout_s]
-- Measures, in this order:
--   resident memory per idle session: VmRSS (/proc/self/status) after
--     creating the N pairs (and, for AppleMidiSession, all of them joined)
--     minus VmRSS before, divided by 2N;
--   CPU at idle: getrusage (os.clock) over idle_s seconds of the loop with
--     no MIDI, as a percentage of one core;
--   resident memory per active session: the same after every session sent
--     ACTIVE_MSGS (3 messages on channel 1) to its peer and received the
--     peer's, so that each holds the state of traffic both ways (the
--     journal's sender and receiver, the jitter buffer, the send queue);
--     the _active line also prints the idle figure beside it and what the
--     traffic added (issue #20: the goal is 16 KiB a session after it);
--   latency under load: a ping-pong of probe_round_trips on pair 1 (send_midi
--     -> incoming_midi -> send_midi back, one process) while the N pairs exist.
-- Prints two BENCH lines of kind "scale": <name> (idle memory, idle CPU,
-- probe) and <name>_active (memory with traffic). Needs 2 sockets per
-- session: when the open-files limit is too low it says so instead of running.
package.path = (arg[0]:match("^(.*/)") or "./") .. "?.lua;" .. package.path
local rtpmidi = require "rtpmidi"
local core = require "rtpmidi.core"
local B = require "benchlib"

local kind, pairs_n, first_port = arg[1], B.arg(2), B.arg(3)
local idle_s, probe_n, probe_warmup, timeout_s = B.arg(4, 10), B.arg(5, 2000), B.arg(6, 200), B.arg(7, 60)
local control = rtpmidi.RTPControl()
local now, cpu = rtpmidi.now, B.cpu
local name = ("%s_%d"):format(kind == "apple" and "applemidi" or "midisession", pairs_n)
local what = kind == "apple" and "AppleMidiSession pairs, CK running" or "MidiSession pairs, RTCP running"
-- note on, volume, note off on channel 1: one packet each way per pair
local ACTIVE_MSGS = "\x90\x3C\x64\xB0\x07\x64\x80\x3C\x40"
local ACTIVE_N = 3

local function fail(status, why)
  B.line("scale", name, { { "what", what }, { "pairs", pairs_n }, { "status", status }, { "why", why } })
  os.exit(status == "not available" and 0 or 1)
end

if kind == "apple" and not (rtpmidi.AppleMidiSession and core.applemidi) then
  fail("not available", "AppleMidiSession is not in this build")
end

-- Two sockets per session, two sessions per pair, plus a few of our own.
local function fd_limit()
  local f = io.open("/proc/self/limits")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return tonumber(s:match("Max open files%s+(%d+)"))
end
local function open_fds()
  local p = io.popen("ls /proc/" .. (io.open("/proc/self/stat"):read("n") or "self") .. "/fd 2>/dev/null | wc -l")
  local n = p and tonumber(p:read("a")) or nil
  if p then p:close() end
  return n
end
local need = pairs_n * 4 + 64
local limit = fd_limit()
if limit and limit < need then
  fail("fd limit", ("%d open files needed, the limit is %d (ulimit -n)"):format(need, limit))
end

collectgarbage()
collectgarbage()
local rss0, lua0 = B.rss_kib(), collectgarbage("count")
local t_setup = now()
local port = first_port
local sessions = {}          -- every session, A and B alternately
local probe_a, probe_b       -- pair 1
local probe = { expect = nil, on_echo = nil }
local joined, received = 0, 0

-- The callbacks are the classes' methods, not closures of each session: the
-- Lua heap holds what a session costs, not what the benchmark adds. Pair 1
-- has a probe_in field for the ping-pong.
local function incoming(self, m)
  received = received + 1
  if self.probe_in then self.probe_in(self, m) end
end
local function echo(self, m) if m == probe.expect then self:send_midi(m) end end
local function echoed(_, m) if probe.on_echo then probe.on_echo(m) end end

if kind == "midi" then
  local Midi = rtpmidi.MidiSession:extend{ incoming_midi = incoming }
  local function midi(local_port, peer_port)
    local s = Midi{ peer_address = "127.0.0.1", bind_address = "127.0.0.1", sending_port = peer_port,
                    receiving_port = local_port, jitter_buffer_size = 0, tool_name = "rtpmidi bench" }
    local cookie = control:add_session(s)
    if not control:start_session(cookie) then control:remove_session(cookie) return nil end
    return s
  end
  for i = 1, pairs_n do
    local a, b
    while true do
      if port > 65530 then fail("failed", "ran out of ports") end
      local pb, pa = port, port + 2
      port = port + 4
      b = midi(pb, pa)
      if b then
        a = midi(pa, pb)
        if a then break end
        control:remove_session(b.cookie)
      end
    end
    sessions[#sessions + 1] = a
    sessions[#sessions + 1] = b
    if i == 1 then probe_a, probe_b = a, b end
  end
  joined = pairs_n
else
  -- A invites B and counts the joins.
  local AppleB = rtpmidi.AppleMidiSession:extend{ incoming_midi = incoming }
  local AppleA = AppleB:extend{ participant_joined = function() joined = joined + 1 end }
  local function apple(class, p)
    local s = class{ name = "s" .. p, port = p, bind_address = "127.0.0.1", jitter_buffer_size = 0 }
    local cookie = control:add_session(s)
    local ok = control:start_session(cookie)
    if not ok then control:remove_session(cookie) return nil end
    return s
  end
  for i = 1, pairs_n do
    local a, b
    while true do
      if port > 65530 then fail("failed", "ran out of ports") end
      local pb, pa = port, port + 2
      port = port + 4
      b = apple(AppleB, pb)
      if b then
        a = apple(AppleA, pa)
        if a then a:invite("127.0.0.1", pb) break end
        control:remove_session(b.cookie)
      end
    end
    sessions[#sessions + 1] = a
    sessions[#sessions + 1] = b
    if i == 1 then probe_a, probe_b = a, b end
  end
end
probe_b.probe_in, probe_a.probe_in = echo, echoed

-- Runs the loop for ms milliseconds (or until done() is true); leaves it
-- with core.stop_loop, which (unlike control:stop()) keeps the sessions.
local function run_for(ms, done)
  local t_end = now() + ms
  local tick = rtpmidi.every(done and 5 or ms, function(h)
    if now() >= t_end or (done and done()) then h:cancel() core.stop_loop() end
  end)
  control:run()
  tick:cancel()
end

-- settle: every invitation answered (AppleMIDI), the first packets out
run_for(math.max(timeout_s * 1000 / 2, 1000), function() return joined >= pairs_n end)
if joined < pairs_n then fail("failed", ("%d of %d pairs joined"):format(joined, pairs_n)) end
run_for(300)
local setup_s = (now() - t_setup) / 1000
collectgarbage()
collectgarbage()
local rss1, lua1 = B.rss_kib(), collectgarbage("count")
local fds = open_fds()

-- idle
local c0, w0 = cpu(), now()
run_for(idle_s * 1000)
local idle_cpu = (cpu() - c0) / ((now() - w0) / 1000)

-- active: every session sends to its peer (one packet, then the journal's
-- guard packets), and receives the peer's
local t_active = now()
for _, s in ipairs(sessions) do assert(s:send_midi(ACTIVE_MSGS)) end
local want = 2 * pairs_n * ACTIVE_N
run_for(timeout_s * 1000, function() return received >= want end)
local active_got, active_s = received, (now() - t_active) / 1000
run_for(300)
collectgarbage()
collectgarbage()
local rss2, lua2 = B.rss_kib(), collectgarbage("count")

-- probe on pair 1
local rtt, id, sent_at, seen, lost = {}, 0, 0, 0, 0
local function send_probe()
  id = (id + 1) & 0x3fff
  probe.expect = B.probe_msg(id)
  sent_at = now()
  probe_a:send_midi(probe.expect)
end
probe.on_echo = function(m)
  local t = now()
  if m ~= probe.expect then return end
  seen = seen + 1
  if seen > probe_warmup then rtt[#rtt + 1] = (t - sent_at) * 1000 end
  if #rtt < probe_n then send_probe() end
end
local probe_started = now()
local watchdog = rtpmidi.every(100, function()
  if now() - sent_at > 1000 then lost = lost + 1 send_probe() end
end)
send_probe()
run_for(timeout_s * 1000, function() return #rtt >= probe_n or now() - probe_started > timeout_s * 1000 end)
watchdog:cancel()

local rtcp, ck = 0, 0
for _, s in ipairs(sessions) do
  local st = s:stats()
  rtcp = rtcp + (st.rtcp_sent or 0)
  ck = ck + (st.ck_exchanges or 0)
end
table.sort(rtt)
local fields = {
  { "what", what }, { "pairs", pairs_n }, { "sessions", 2 * pairs_n }, { "fds", fds or "?" },
  { "setup_s", setup_s },
  { "rss_kib_per_session", (rss1 - rss0) / (2 * pairs_n) },
  { "lua_kib_per_session", (lua1 - lua0) / (2 * pairs_n) },
  { "idle_s", idle_s }, { "idle_cpu_pct", idle_cpu * 100 },
  { "probe_p50_us", B.percentile(rtt, 0.5) / 2 }, { "probe_p99_us", B.percentile(rtt, 0.99) / 2 },
  { "probe_max_us", (rtt[#rtt] or 0 / 0) / 2 }, { "probe_n", #rtt },
}
if kind == "apple" then fields[#fields + 1] = { "ck_exchanges", ck }
else fields[#fields + 1] = { "rtcp_sent", rtcp } end
fields[#fields + 1] = { "status", #rtt >= probe_n and "ok" or "probe timeout" }
B.line("scale", name, fields)
B.line("scale", name .. "_active", {
  { "what", what:match("^%S+") .. " pairs after 3 MIDI messages each way on channel 1" },
  { "pairs", pairs_n }, { "sessions", 2 * pairs_n }, { "fds", fds or "?" },
  { "rss_kib_per_session", (rss2 - rss0) / (2 * pairs_n) },
  { "rss_kib_per_session_idle", (rss1 - rss0) / (2 * pairs_n) },
  { "rss_kib_per_session_traffic", (rss2 - rss1) / (2 * pairs_n) },
  { "lua_kib_per_session", (lua2 - lua0) / (2 * pairs_n) },
  { "messages", active_got }, { "delivery_s", active_s },
  { "status", active_got >= want and "ok" or ("%d of %d messages received"):format(active_got, want) },
})
-- leaving without stopping 2N sessions one by one: the process exits
os.exit(#rtt >= probe_n and active_got >= want and 0 or 1)
