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

if mode == "echo" then
  local local_port, peer_port, idle_s = B.arg(2), B.arg(3), B.arg(4, 5)
  local echoed = 0
  B.midi_session(local_port, peer_port, { incoming_midi = function(self, message)
    if message == B.MIDI_BYE then control:stop() return end
    echoed = echoed + 1
    self:send_midi(message)
  end })
  B.stop_when_idle(control, idle_s, "lua_midi", function() return echoed end)
  control:run()

elseif mode == "latency" then
  local local_port, peer_port = B.arg(2), B.arg(3)
  local n, warmup, timeout_s = B.arg(4, 20000), B.arg(5, 2000), B.arg(6, 20)
  local session
  local pp = B.pingpong{ control = control, n = n, warmup = warmup, timeout_s = timeout_s,
    probe = B.probe_msg, send = function(m) session:send_midi(m) end }
  session = B.midi_session(local_port, peer_port, { incoming_midi = function(_, message) pp.answer(message) end })
  pp.probe()
  control:run()
  -- control:stop() stopped the session: a second one says goodbye
  local bye = B.midi_session(0, peer_port)
  bye:send_midi(B.MIDI_BYE)
  bye:flush()
  pp.finish("midisession", "MidiSession send_midi -> incoming_midi, journal on, 2 processes",
    "echo side never answered")

elseif mode == "throughput" then
  local port_a, port_b, total, window, timeout_s, batch =
    B.arg(2), B.arg(3), B.arg(4, 200000), B.arg(5, 256), B.arg(6, 20), arg[7] == "batch"
  local a = B.midi_session(port_a, port_b, { incoming_midi = function() end })
  local send, packets = B.note_sender(a, batch)
  local tp = B.throughput{ control = control, total = total, window = window, timeout_s = timeout_s,
    send = send, packets = packets }
  local b = B.midi_session(port_b, port_a, { incoming_midi = tp.received })
  tp.begin()
  control:run()
  local st = a:stats()
  local name = batch and "midisession_1proc_batch" or "midisession_1proc"
  B.throughput_line(name, batch and "MidiSession, Lua callbacks, 1 process, a loop turn's messages per packet"
                                 or "MidiSession, Lua callbacks, 1 process, 1 message per packet (flush)",
    tp.result(),
    { { "journal_octets_per_packet", (st.journal_bytes_sent or 0) / math.max(st.packets_sent, 1) } })
  local _ = b

else
  io.stderr:write("usage: lua_midi.lua echo|latency|throughput ... (see the top of the file)\n")
  os.exit(2)
end
