-- AppleMidiSession (Apple's session protocol, RFC 6295 payload, journal on):
-- latency and throughput with Lua callbacks.
--   lua5.4 bench/lua_apple.lua echo       <port> [idle_s]
--   lua5.4 bench/lua_apple.lua latency    <port> <peer_port> <round_trips> <warmup> [timeout_s] [name]
--   lua5.4 bench/lua_apple.lua throughput <port_a> <port_b> <messages> <window> [timeout_s] [batch]
-- Ports are control ports (even; the data port is one more). echo: waits for
-- an invitation and sends every message back; stops when the participant
-- leaves (BY) or when idle for idle_s. latency: invites <peer_port> (an echo
-- side of ours or bench/node_rtpmidi.js echo), then a ping-pong of pitch
-- bends whose value is the probe's id; name is the result's row (default
-- "applemidi"). throughput: one process, session A invites B and sends;
-- each message B counts lets A send one more (at most <window> in flight).
-- When AppleMidiSession is not usable, prints a row that says why.
package.path = (arg[0]:match("^(.*/)") or "./") .. "?.lua;" .. package.path
local rtpmidi = require "rtpmidi"
local B = require "benchlib"

local mode = arg[1]
local control = rtpmidi.RTPControl()

local function unavailable() return B.unavailable("AppleMidiSession", "applemidi", "AppleMIDI sessions") end
local not_available = B.not_available

-- An AppleMidiSession on 127.0.0.1, registered and started.
local function apple(port, opts)
  return B.open_session(control, rtpmidi.AppleMidiSession, port, "lua_apple",
    { name = "bench " .. port, port = port, bind_address = "127.0.0.1", jitter_buffer_size = 0 }, opts)
end

if mode == "echo" then
  local port, idle_s = B.arg(2), B.arg(3, 5)
  if unavailable() then return end
  B.echo_until_left(control, idle_s, "lua_apple", function(h)
    apple(port, {
      participant_joined = h.joined,
      participant_left = h.left,
      incoming_midi = function(self, message)
        h.echoed()
        self:send_midi(message)
      end,
    })
  end)

elseif mode == "latency" then
  local port, peer_port = B.arg(2), B.arg(3)
  local n, warmup, timeout_s, name = B.arg(4, 20000), B.arg(5, 2000), B.arg(6, 20), arg[7] or "applemidi"
  local what = name == "applemidi" and "AppleMidiSession to AppleMidiSession, Lua callbacks, 2 processes"
    or "AppleMidiSession to node-rtpmidi (its echo), 2 processes"
  local why = unavailable()
  if why then not_available("latency", name, why) end
  -- until the peer echoes (node-rtpmidi: after its own CK exchange), a probe
  -- every tick; stop() sends BY: the echo side leaves
  B.invite_pingpong{ control = control, n = n, warmup = warmup, timeout_s = timeout_s,
    peer_port = peer_port, name = name, what = what,
    probe = B.probe_msg, send = function(s, m) s:send_midi(m) end,
    open = function(h)
      return apple(port, {
        ck_fast_interval = 200,
        participant_joined = h.joined,
        invitation_failed = function(_, _, _, reason) h.failed(reason) end,
        incoming_midi = function(_, message) h.answer(message) end,
      })
    end }

elseif mode == "throughput" then
  local port_a, port_b, total, window, timeout_s, batch =
    B.arg(2), B.arg(3), B.arg(4, 200000), B.arg(5, 256), B.arg(6, 20), arg[7] == "batch"
  local name = batch and "applemidi_1proc_batch" or "applemidi_1proc"
  local why = unavailable()
  if why then not_available("midi_throughput", name, why) end
  local tp
  local a = apple(port_a, { participant_joined = function() tp.begin() end })
  local send, packets = B.note_sender(a, batch)
  tp = B.throughput{ control = control, total = total, window = window, timeout_s = timeout_s,
    send = send, packets = packets }
  apple(port_b, { incoming_midi = tp.received })
  a:invite("127.0.0.1", port_b)
  control:run()
  B.throughput_line(name, batch and "AppleMidiSession, Lua callbacks, 1 process, a loop turn's messages per packet"
                                 or "AppleMidiSession, Lua callbacks, 1 process, 1 message per packet (flush)", tp.result())

else
  io.stderr:write("usage: lua_apple.lua echo|latency|throughput ... (see the top of the file)\n")
  os.exit(2)
end
