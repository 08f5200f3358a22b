-- MIDI-in to MIDI-out latency through two MidiSessions with latency 0 (issue
-- 6), next to the same path without the network (JACK alone), measured in
-- the same run on a JACK server with the dummy backend:
--   keyboard port -> MidiIn -> MidiSession A -> UDP -> MidiSession B -> MidiOut -> synth port
--   keyboard port -> synth port                     (the JACK floor)
--   lua5.4 bench/midi_e2e.lua <port> <notes> [timeout_s]
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
function synth:on_message(_, time) if heard.fn then heard.fn(time) end end

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
control:remove_session(a.cookie); control:remove_session(b.cookie)
kbd:close(); synth:close()
core.run("nowait")
J.stop()

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
