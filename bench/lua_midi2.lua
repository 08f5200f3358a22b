-- Midi2Session (Network MIDI 2.0: UMP over UDP, FEC on): latency and
-- throughput with Lua callbacks, beside lua_apple.lua's AppleMidiSession rows.
--   lua5.4 bench/lua_midi2.lua echo       <port> [idle_s]
--   lua5.4 bench/lua_midi2.lua latency    <port> <peer_port> <round_trips> <warmup> [timeout_s]
--   lua5.4 bench/lua_midi2.lua throughput <port_a> <port_b> <messages> <window> [timeout_s] [fec]
-- echo: a host that waits for a client and sends every UMP message back
-- (send_ump of the words incoming_ump gave); stops when the client leaves
-- (Bye) or when idle for idle_s. latency: a client that invites <peer_port>,
-- then a ping-pong of MIDI 1.0 pitch bends in UMP (MT 2, one word, the
-- probe's id as the value: the 3 octets of the RTP-MIDI rows' probe).
-- throughput: one process, client A invites host B and sends Note On / Note
-- Off alternately as UMP; each message B counts lets A send one more (at
-- most <window> in flight). fec: commands repeated in each datagram (the
-- session's default, 2, when left out; the row is midi2_1proc, or
-- midi2_1proc_fecN for another N). Every send_ump is one datagram.
-- When Midi2Session is not usable, prints a row that says why.
package.path = (arg[0]:match("^(.*/)") or "./") .. "?.lua;" .. package.path
local rtpmidi = require "rtpmidi"
local B = require "benchlib"

local mode = arg[1]
local control = rtpmidi.RTPControl()

local function unavailable() return B.unavailable("Midi2Session", "midi2", "Network MIDI 2.0 sessions") end
local not_available = B.not_available

-- A Midi2Session on 127.0.0.1, registered and started.
local function midi2(port, opts)
  return B.open_session(control, rtpmidi.Midi2Session, port, "lua_midi2",
    { name = "bench " .. port, port = port, bind_address = "127.0.0.1" }, opts)
end

-- The probe: MIDI 1.0 pitch bend in UMP (MT 2, group 0, channel 1), its
-- 14-bit value the id (B.probe_msg's message, as one UMP word).
local function probe_word(id)
  return 0x20E00000 | (id & 0x7f) << 8 | (id >> 7) & 0x7f
end

if mode == "echo" then
  local port, idle_s = B.arg(2), B.arg(3, 5)
  if unavailable() then return end
  B.echo_until_left(control, idle_s, "lua_midi2", function(h)
    midi2(port, {
      role = "host",
      client_joined = h.joined,
      client_left = h.left,
      incoming_ump = function(self, words)
        h.echoed()
        self:send_ump(words)
      end,
    })
  end)

elseif mode == "latency" then
  local port, peer_port = B.arg(2), B.arg(3)
  local n, warmup, timeout_s = B.arg(4, 20000), B.arg(5, 2000), B.arg(6, 20)
  local name, what = "midi2", "Midi2Session to Midi2Session, Lua callbacks, 2 processes"
  local why = unavailable()
  if why then not_available("latency", name, why) end
  -- stop() sends Bye: the echo side leaves
  B.invite_pingpong{ control = control, n = n, warmup = warmup, timeout_s = timeout_s,
    peer_port = peer_port, name = name, what = what,
    probe = probe_word, send = function(s, w) s:send_ump(w) end,
    open = function(h)
      return midi2(port, {
        role = "client",
        client_joined = h.joined,
        invitation_failed = function(_, _, _, reason) h.failed(reason) end,
        incoming_ump = function(_, words) h.answer(words[1]) end,
      })
    end }

elseif mode == "throughput" then
  local port_a, port_b, total, window, timeout_s =
    B.arg(2), B.arg(3), B.arg(4, 200000), B.arg(5, 256), B.arg(6, 20)
  local fec = arg[7] and math.tointeger(tonumber(arg[7])) or nil
  local name = fec and ("midi2_1proc_fec" .. fec) or "midi2_1proc"
  local why = unavailable()
  if why then not_available("midi_throughput", name, why) end
  local ON, OFF = 0x20903C64, 0x20803C40 -- MIDI 1.0 channel voice in UMP: the 3 octets of the others' rows
  local a
  local tp = B.throughput{ control = control, total = total, window = window, timeout_s = timeout_s,
    send = function(i) a:send_ump(i & 1 == 1 and ON or OFF) end,
    packets = function() return a:stats().datagrams_sent or 0 end }
  midi2(port_b, { role = "host", fec = fec, incoming_ump = tp.received })
  a = midi2(port_a, { role = "client", fec = fec, client_joined = function() tp.begin() end })
  a:invite("127.0.0.1", port_b)
  control:run()
  B.throughput_line(name,
    ("Midi2Session, Lua callbacks, 1 process, 1 message per datagram, FEC %d"):format(fec or 2), tp.result())

else
  io.stderr:write("usage: lua_midi2.lua echo|latency|throughput ... (see the top of the file)\n")
  os.exit(2)
end
