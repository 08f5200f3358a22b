-- MIDI-in to MIDI-out latency through two MidiSessions with latency 0 (issue
-- 6), next to the same path without the network (JACK alone), measured in
-- the same run on a JACK server with the dummy backend:
--   keyboard port -> MidiIn -> MidiSession A -> UDP -> MidiSession B -> MidiOut -> synth port
--   keyboard port -> synth port                     (the JACK floor)
-- then the precision of scheduled output, each message at its time + a
-- latency of 20 ms (kind=midi_sched; the targets the JACK specs used to assert):
--   MidiOut:send(bytes, time), latency 20 -> synth port
--   keyboard port -> MidiIn -> MidiSession A -> UDP -> MidiSession B (latency 20) -> MidiOut -> synth port
--   lua5.4 bench/midi_e2e.lua <port> <notes> [timeout_s]
-- (scheduled: max(2, notes / 200) phrases of 60 messages a path).
-- Prints BENCH kind=latency lines (one way, µs; not RTT/2: each sample is one way).
package.path = (arg[0]:match("^(.*/)") or "./") .. "?.lua;" ..
               (arg[0]:match("^(.*/)") or "./") .. "../spec/?.lua;" .. package.path
local B = require "benchlib"
local rtpmidi = require "rtpmidi"
local core = require "rtpmidi.core"
local J = require "jack"

local port = B.arg(1, 25300)
local N = B.arg(2, 2000)
local timeout_s = B.arg(3, 30)

local function line(name, what, samples, lost, status)
  B.write_dat(name, samples, true)   -- one way already
  table.sort(samples)
  B.line("latency", name, {
    { "what", what }, { "n", #samples }, { "lost", lost },
    { "p50_us", ("%.2f"):format(B.percentile(samples, 0.50) or 0) },
    { "p99_us", ("%.2f"):format(B.percentile(samples, 0.99) or 0) },
    { "max_us", ("%.2f"):format(samples[#samples] or 0) }, { "status", status },
  })
end

local ok, err = pcall(J.start)
if not ok then
  B.line("latency", "midi_in_to_out", { { "what", "MIDI in -> 2 sessions -> MIDI out" }, { "status", "no-jack" } })
  for _, name in ipairs{ "midiout_to_midiin", "through_2_sessions" } do
    B.line("midi_sched", name, { { "status", "no-jack" } })
  end
  io.stderr:write(tostring(err), "\n")
  os.exit(0)
end

-- Sends N notes one at a time from `out`, each after the previous arrived
-- (plus 1-3 ms), and returns the one-way times in µs.
-- A note that has not arrived after 200 ms counts as lost (JACK drops events
-- when a loaded machine makes it miss cycles) and the next one goes.
local function measure(out, heard, deadline)
  local samples, sent_at, k, lost = {}, nil, 0, 0
  local guard
  local function next_note()
    k = k + 1
    if k > N then return end
    sent_at = rtpmidi.now()
    out:send(string.char(0x90, 36 + k % 60, 100))
    guard = rtpmidi.after(200, function()
      lost = lost + 1
      sent_at = nil
      next_note()
    end)
  end
  heard.fn = function(time)
    if not sent_at then return end
    guard:cancel()
    samples[#samples + 1] = (time - sent_at) * 1000
    sent_at = nil
    rtpmidi.after(1 + k % 3, next_note)
  end
  next_note()
  while #samples + lost < N and rtpmidi.now() < deadline do core.run("once") end
  if guard then guard:cancel() end
  heard.fn = nil
  return samples, lost
end

local deadline = rtpmidi.now() + timeout_s * 1000
local kbd_name, synth_name = J.unique("bench-kbd"), J.unique("bench-synth")
local kbd = assert(rtpmidi.MidiOut{ api = "jack", virtual = kbd_name })
local heard = {}
local synth = assert(rtpmidi.MidiIn{ api = "jack", virtual = synth_name })
function synth:on_message(bytes, time) if heard.fn then heard.fn(time, bytes) end end

-- The JACK floor first: keyboard straight into the synth port.
local direct = assert(rtpmidi.MidiOut{ api = "jack", port = synth_name })
local probe = rtpmidi.every(20, function() direct:send("\xB0\x77\x00") end)
heard.fn = function() heard.fn = nil; probe:cancel() end
while heard.fn and rtpmidi.now() < deadline do core.run("once") end
local floor, floor_lost = measure(direct, heard, deadline)
direct:close()

-- Then through two sessions on loopback, latency 0.
local control = rtpmidi.RTPControl()
local a = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = port + 2, receiving_port = port,
                               api = "jack", device_in = kbd_name, latency = 0 }
local b = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = port, receiving_port = port + 2,
                               api = "jack", device_out = synth_name, latency = 0 }
control:add_session(a); control:add_session(b)
assert(control:start())
local started = false
probe = rtpmidi.every(20, function() kbd:send("\xB0\x77\x00") end)
heard.fn = function() started = true end
while not started and rtpmidi.now() < deadline do core.run("once") end
probe:cancel()
local through, through_lost = measure(kbd, heard, deadline)

-- The latency rows first: they stand whatever the scheduled part does.
line("jack_floor", "JACK port -> JACK port, no network", floor, floor_lost,
  #floor + floor_lost == N and "ok" or "timeout")
line("midi_in_to_out", "MIDI in -> MidiSession -> UDP -> MidiSession -> MIDI out, latency 0", through,
  through_lost, #through + through_lost == N and "ok" or "timeout")
-- The same as JACK alone plus what the sessions add, in JACK periods: a
-- note read from the keyboard port in one cycle reaches the synth port in a
-- later one, so the network path costs whole periods plus our own time
-- (issue 20: goal JACK + 1 period + 100 µs).
local period_us = J.period / J.rate * 1e6
local jack50, our50 = B.percentile(floor, 0.50), B.percentile(through, 0.50)
local jack99, our99 = B.percentile(floor, 0.99), B.percentile(through, 0.99)
B.line("midi_e2e", "midi_in_to_out", {
  { "what", "p50: JACK alone + what the two sessions add" },
  { "period_us", ("%.1f"):format(period_us) }, { "period_frames", J.period }, { "rate_hz", J.rate },
  { "jack_p50_us", ("%.2f"):format(jack50) }, { "p50_us", ("%.2f"):format(our50) },
  { "added_p50_us", ("%.2f"):format(our50 - jack50) },
  { "added_p50_periods", ("%.2f"):format((our50 - jack50) / period_us) },
  { "jack_p99_us", ("%.2f"):format(jack99) }, { "p99_us", ("%.2f"):format(our99) },
  { "added_p99_periods", ("%.2f"):format((our99 - jack99) / period_us) },
  { "goal_p50_us", ("%.2f"):format(jack50 + period_us + 100) },
  { "status", (#through > 0 and #floor > 0) and "ok" or "failed" },
})

-- Scheduled output: how close to its time + latency each message plays (the
-- JACK specs assert only that it is played then, not early, in order; the
-- precision targets live here). Phrases of 60 notes at uneven times (4.9 ms
-- apart, give or take 0.6), each phrase's velocity its tag so that a late
-- note of an earlier phrase is not taken for one of this. A note not there
-- 200 ms after its time + latency counts as lost.
local LATENCY, PHRASE = 20, 60
local PHRASES = math.max(2, N // 200)
local sched_deadline = deadline   -- the whole run stops within timeout_s

-- Runs one phrase: send(tag) puts the notes 1..60 out with velocity tag and
-- returns the time the last is due at (before the latency); due(i), once
-- they are in, the time note i was due at. Appends each arrival's
-- |arrival - (time + latency)| in µs to errs; returns how many were lost and
-- how many came early (more than 0.5 ms before their time + latency).
local function phrase(tag, send, due, errs)
  local arrived = {}
  heard.fn = function(time, bytes)
    local st, key, vel = bytes:byte(1, 3)
    if st == 0x90 and vel == tag and key >= 1 and key <= PHRASE then arrived[key] = time end
  end
  local last = send(tag)
  local give_up = math.min(last + LATENCY + 200, sched_deadline)
  local function all() for i = 1, PHRASE do if not arrived[i] then return false end end return true end
  while not all() and rtpmidi.now() < give_up do core.run("once") end
  heard.fn = nil
  local lost, early = 0, 0
  for i = 1, PHRASE do
    local d = due(i)
    if arrived[i] and d then
      local err = arrived[i] - (d + LATENCY)
      if err < -0.5 then early = early + 1 end
      errs[#errs + 1] = math.abs(err) * 1000
    else
      lost = lost + 1
    end
  end
  return lost, early
end

-- The row: n, lost, early, how many within 1 ms, p50/p99/max, the targets
-- (the specs' former 57 of 60 within 1 ms as >= 95 %, p50 <= 600 µs, max <=
-- 5000 µs; none lost, none early) and whether this run met them: ok or missed.
local TARGET_WITHIN, TARGET_P50, TARGET_MAX = 0.95, 600, 5000
local function sched_line(name, what, errs, n, lost, early, complete)
  table.sort(errs)
  local within = 0
  for _, e in ipairs(errs) do if e <= 1000 then within = within + 1 end end
  local frac = n > 0 and within / n or 0
  local p50, p99, max = B.percentile(errs, 0.50), B.percentile(errs, 0.99), errs[#errs]
  local status
  if not complete then status = "timeout"
  elseif n == 0 or #errs == 0 then status = "failed"
  elseif lost == 0 and early == 0 and frac >= TARGET_WITHIN and p50 <= TARGET_P50 and max <= TARGET_MAX then
    status = "ok"
  else status = "missed" end
  B.line("midi_sched", name, {
    { "what", what }, { "latency_ms", LATENCY }, { "n", n }, { "lost", lost }, { "early", early },
    { "within_1ms", within }, { "within_pct", ("%.1f"):format(frac * 100) },
    { "p50_us", ("%.2f"):format(p50) }, { "p99_us", ("%.2f"):format(p99) },
    { "max_us", ("%.2f"):format(max or 0 / 0) },
    { "target_within_pct", ("%.0f"):format(TARGET_WITHIN * 100) }, { "target_p50_us", TARGET_P50 },
    { "target_max_us", TARGET_MAX }, { "status", status },
  })
end

-- (a) MidiOut:send(bytes, time) with latency 20 straight into the synth port
-- (spec/midi_ports_spec.lua's pair): the phrase queued at once, out of order.
local sched = assert(rtpmidi.MidiOut{ api = "jack", port = synth_name, latency = LATENCY })
local connected = false
probe = rtpmidi.every(20, function() sched:send("\xB0\x77\x00") end)
heard.fn = function() connected = true end
while not connected and rtpmidi.now() < sched_deadline do core.run("once") end
probe:cancel()
heard.fn = nil
local order = {}
for i = 1, PHRASE do order[i] = i end
for i = PHRASE, 2, -1 do local j = (i * 31) % i + 1; order[i], order[j] = order[j], order[i] end
local errs_a, n_a, lost_a, early_a, plan = {}, 0, 0, 0, {}
for p = 1, connected and PHRASES or 0 do
  local lost, early = phrase(p % 127 + 1, function(tag)
    local t0 = rtpmidi.now() + 100   -- room to queue the phrase first
    for i = 1, PHRASE do plan[i] = t0 + i * 4.9 + (i * 7919 % 13) / 10 end
    for _, i in ipairs(order) do sched:send(string.char(0x90, i, tag), plan[i]) end
    return plan[PHRASE]
  end, function(i) return plan[i] end, errs_a)
  n_a, lost_a, early_a = n_a + PHRASE, lost_a + lost, early_a + early
  if rtpmidi.now() >= sched_deadline then break end
end
sched:close()
sched_line("midiout_to_midiin", "MidiOut:send(bytes, time), latency 20 -> MidiIn", errs_a, n_a, lost_a, early_a,
  connected and n_a == PHRASES * PHRASE)

-- (b) Through the two sessions, B's latency now 20 (spec/midisession_devices_spec.lua's
-- chain): each note's time is when A's MidiIn got it from the keyboard.
b:set_latency(LATENCY)
core.run("nowait")
local at_a = {}
local forward = a.midi_in.on_message
function a.midi_in:on_message(bytes, time)
  local st, key = bytes:byte(1, 2)
  if st == 0x90 and key then at_a[key] = time end
  forward(self, bytes, time)
end
local errs_b, n_b, lost_b, early_b = {}, 0, 0, 0
for p = 1, PHRASES do
  for k in pairs(at_a) do at_a[k] = nil end
  local lost, early = phrase(p % 127 + 1, function(tag)
    local i, done = 0, false
    local function play_next()
      i = i + 1
      if i > PHRASE then done = true return end
      kbd:send(string.char(0x90, i, tag))
      rtpmidi.after(3 + i % 7, play_next)
    end
    play_next()
    while not done and rtpmidi.now() < sched_deadline do core.run("once") end
    return rtpmidi.now()
  end, function(i) return at_a[i] end, errs_b)
  n_b, lost_b, early_b = n_b + PHRASE, lost_b + lost, early_b + early
  if rtpmidi.now() >= sched_deadline then break end
end
a.midi_in.on_message = forward
sched_line("through_2_sessions", "MIDI in -> MidiSession -> UDP -> MidiSession (latency 20) -> MidiOut",
  errs_b, n_b, lost_b, early_b, n_b == PHRASES * PHRASE)

control:remove_session(a.cookie); control:remove_session(b.cookie)
kbd:close(); synth:close()
core.run("nowait")
J.stop()
