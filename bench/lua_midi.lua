-- MidiSession (RFC 6295, recovery journal on): latency and throughput with
-- Lua callbacks, send_midi -> incoming_midi.
--   lua5.4 bench/lua_midi.lua echo       <local_port> <peer_port> [idle_s]
--   lua5.4 bench/lua_midi.lua latency    <local_port> <peer_port> <round_trips> <warmup> [timeout_s]
--   lua5.4 bench/lua_midi.lua throughput <port_a> <port_b> <messages> <window> [timeout_s] [batch]
-- echo/latency: two processes; the probe is a pitch bend whose 14-bit value
-- is its id, sent back by the echo side's incoming_midi; the echo side stops
-- on B.MIDI_BYE or when idle for idle_s.
-- throughput: one process, session A to session B; every message B counts in
-- incoming_midi lets A send one more, at most <window> in flight. Without
-- "batch" each send_midi is flushed (one message per packet, like
-- lua_throughput.lua); with it, what one loop turn gives leaves in one packet.
package.path = (arg[0]:match("^(.*/)") or "./") .. "?.lua;" .. package.path
local rtpmidi = require "rtpmidi"
local B = require "benchlib"

local mode = arg[1]
local control = rtpmidi.RTPControl()
local now, cpu = rtpmidi.now, B.cpu

if mode == "echo" then
  local local_port, peer_port, idle_s = B.arg(2), B.arg(3), B.arg(4, 5)
  local echoed, at_last_tick = 0, -1
  B.midi_session(local_port, peer_port, { incoming_midi = function(self, message)
    if message == B.MIDI_BYE then control:stop() return end
    echoed = echoed + 1
    self:send_midi(message)
  end })
  rtpmidi.every(idle_s * 1000, function()
    if echoed == at_last_tick then
      io.stderr:write(("lua_midi echo: idle for %s s after %d messages, stopping\n"):format(idle_s, echoed))
      control:stop()
    end
    at_last_tick = echoed
  end)
  control:run()

elseif mode == "latency" then
  local local_port, peer_port = B.arg(2), B.arg(3)
  local n, warmup, timeout_s = B.arg(4, 20000), B.arg(5, 2000), B.arg(6, 20)
  local rtt, id, sent_at, expect = {}, 0, 0, nil
  local measuring, seen, lost = false, 0, 0
  local session
  local function probe()
    id = (id + 1) & 0x3fff
    expect = B.probe_msg(id)
    sent_at = now()
    session:send_midi(expect)
  end
  session = B.midi_session(local_port, peer_port, { incoming_midi = function(_, message)
    local t = now()
    if message ~= expect then return end
    if not measuring then measuring = true
    else
      seen = seen + 1
      if seen > warmup then rtt[#rtt + 1] = (t - sent_at) * 1000 end
    end
    if #rtt >= n then control:stop() return end
    probe()
  end })
  local started = now()
  B.every(50, function(t)
    if t - started > timeout_s * 1000 then control:stop() return end
    if not measuring or t - sent_at > 1000 then
      if measuring then lost = lost + 1 end
      probe()
    end
  end)
  probe()
  control:run()
  -- control:stop() stopped the session: a second one says goodbye
  local bye = B.midi_session(0, peer_port)
  bye:send_midi(B.MIDI_BYE)
  bye:flush()
  if not measuring then
    B.line("latency", "midisession", { { "status", "failed" }, { "why", "echo side never answered" } })
    os.exit(1)
  end
  B.latency_line("midisession", "MidiSession send_midi -> incoming_midi, journal on, 2 processes",
    rtt, lost, #rtt >= n and "ok" or "timeout")
  os.exit(#rtt >= n and 0 or 1)

elseif mode == "throughput" then
  local port_a, port_b, total, window, timeout_s, batch =
    B.arg(2), B.arg(3), B.arg(4, 200000), B.arg(5, 256), B.arg(6, 20), arg[7] == "batch"
  local ON, OFF = "\x90\x3c\x64", "\x80\x3c\x40"
  local sent, received = 0, 0
  local a
  local function send_one()
    sent = sent + 1
    a:send_midi(sent & 1 == 1 and ON or OFF)
    if not batch then a:flush() end
  end
  a = B.midi_session(port_a, port_b, { incoming_midi = function() end })
  local b = B.midi_session(port_b, port_a, { incoming_midi = function()
    received = received + 1
    if sent < total then send_one()
    elseif received == total then control:stop() end
  end })
  local started, last, last_change = now(), -1, now()
  B.every(250, function(t)
    if received ~= last then last, last_change = received, t end
    if t - started > timeout_s * 1000 or t - last_change > 2000 then control:stop() end
  end)
  local t0, c0 = now(), cpu()
  local st0 = a:stats()
  while sent < window and sent < total do send_one() end
  control:run()
  local secs, c = (now() - t0) / 1000, cpu() - c0
  local st = a:stats()
  local packets = st.packets_sent - st0.packets_sent
  local name = batch and "midisession_1proc_batch" or "midisession_1proc"
  B.line("midi_throughput", name, {
    { "what", batch and "MidiSession, Lua callbacks, 1 process, a loop turn's messages per packet"
                     or "MidiSession, Lua callbacks, 1 process, 1 message per packet (flush)" },
    { "messages", received }, { "lost", sent - received }, { "packets", packets },
    { "msgs_per_packet", received / math.max(packets, 1) }, { "seconds", secs },
    { "msgs_per_s", math.floor(received / secs + 0.5) }, { "pps", math.floor(packets / secs + 0.5) },
    { "cpu_s_per_mmsg", c / (received / 1e6) },
    { "journal_octets_per_packet", (st.journal_bytes_sent or 0) / math.max(st.packets_sent, 1) },
    { "status", received == total and "ok" or "incomplete" },
  })
  local _ = b
  os.exit(received == total and 0 or 1)

else
  io.stderr:write("usage: lua_midi.lua echo|latency|throughput ... (see the top of the file)\n")
  os.exit(2)
end
