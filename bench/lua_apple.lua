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
local core = require "rtpmidi.core"
local B = require "benchlib"

local mode = arg[1]
local control = rtpmidi.RTPControl()
local now, cpu = rtpmidi.now, B.cpu

-- Whether AppleMidiSession is there at all.
local function unavailable()
  if not rtpmidi.AppleMidiSession then return "rtpmidi.AppleMidiSession does not exist" end
  if not core.applemidi then return "the C core has no AppleMIDI sessions (core.applemidi)" end
  return nil
end

local function not_available(kind, name, why)
  B.line(kind, name, { { "status", "not available" }, { "why", why } })
  os.exit(0)
end

-- An AppleMidiSession on 127.0.0.1, registered and started.
local function apple(port, opts)
  local t = { name = "bench " .. port, port = port, bind_address = "127.0.0.1",
              jitter_buffer_size = 0 }
  for k, v in pairs(opts or {}) do t[k] = v end
  local s = rtpmidi.AppleMidiSession(t)
  local ok, err = control:start_session(control:add_session(s))
  if not ok then
    io.stderr:write(("lua_apple: cannot open port %d: %s\n"):format(port, err))
    os.exit(3)
  end
  return s
end

if mode == "echo" then
  local port, idle_s = B.arg(2), B.arg(3, 5)
  if unavailable() then return end
  local echoed, at_last_tick, joined = 0, -1, false
  apple(port, {
    participant_joined = function() joined = true end,
    participant_left = function() control:stop() end,
    incoming_midi = function(self, message)
      echoed = echoed + 1
      self:send_midi(message)
    end,
  })
  rtpmidi.every(idle_s * 1000, function()
    if echoed == at_last_tick then
      io.stderr:write(("lua_apple echo: idle for %s s after %d messages (joined: %s), stopping\n")
        :format(idle_s, echoed, tostring(joined)))
      control:stop()
    end
    at_last_tick = echoed
  end)
  control:run()

elseif mode == "latency" then
  local port, peer_port = B.arg(2), B.arg(3)
  local n, warmup, timeout_s, name = B.arg(4, 20000), B.arg(5, 2000), B.arg(6, 20), arg[7] or "applemidi"
  local what = name == "applemidi" and "AppleMidiSession to AppleMidiSession, Lua callbacks, 2 processes"
    or "AppleMidiSession to node-rtpmidi (its echo), 2 processes"
  local why = unavailable()
  if why then not_available("latency", name, why) end
  local rtt, id, sent_at, expect = {}, 0, 0, nil
  local measuring, seen, lost, joined_at, failed = false, 0, 0, nil, nil
  local s
  local function probe()
    id = (id + 1) & 0x3fff
    expect = B.probe_msg(id)
    sent_at = now()
    s:send_midi(expect)
  end
  local started = now()
  s = apple(port, {
    ck_fast_interval = 200,
    participant_joined = function() joined_at = now() end,
    invitation_failed = function(_, _, _, reason) failed = reason; control:stop() end,
    incoming_midi = function(_, message)
      local t = now()
      if message ~= expect then return end
      if not measuring then measuring = true
      else
        seen = seen + 1
        if seen > warmup then rtt[#rtt + 1] = (t - sent_at) * 1000 end
      end
      if #rtt >= n then control:stop() return end
      probe()
    end,
  })
  B.every(50, function(t)
    if t - started > timeout_s * 1000 then control:stop() return end
    if not joined_at then return end
    -- until the peer echoes (node-rtpmidi: after its own CK exchange), probe
    -- every tick; later a probe not back within a second is lost
    if not measuring or t - sent_at > 1000 then
      if measuring then lost = lost + 1 end
      probe()
    end
  end)
  s:invite("127.0.0.1", peer_port)
  control:run()   -- stop() sends BY: the echo side leaves
  if not measuring then
    B.line("latency", name, { { "status", "failed" },
      { "why", failed and ("invitation " .. failed) or (joined_at and "peer never echoed" or "never joined") } })
    os.exit(1)
  end
  B.latency_line(name, what, rtt, lost, #rtt >= n and "ok" or "timeout")
  os.exit(#rtt >= n and 0 or 1)

elseif mode == "throughput" then
  local port_a, port_b, total, window, timeout_s, batch =
    B.arg(2), B.arg(3), B.arg(4, 200000), B.arg(5, 256), B.arg(6, 20), arg[7] == "batch"
  local name = batch and "applemidi_1proc_batch" or "applemidi_1proc"
  local why = unavailable()
  if why then not_available("midi_throughput", name, why) end
  local ON, OFF = "\x90\x3c\x64", "\x80\x3c\x40"
  local sent, received, t0, c0, st0 = 0, 0, nil, nil, nil
  local a
  local function send_one()
    sent = sent + 1
    a:send_midi(sent & 1 == 1 and ON or OFF)
    if not batch then a:flush() end
  end
  apple(port_b, { incoming_midi = function()
    received = received + 1
    if sent < total then send_one()
    elseif received == total then control:stop() end
  end })
  a = apple(port_a, { participant_joined = function()
    t0, c0, st0 = now(), cpu(), a:stats()
    while sent < window and sent < total do send_one() end
  end })
  local started, last, last_change = now(), -1, now()
  B.every(250, function(t)
    if received ~= last then last, last_change = received, t end
    if t - started > timeout_s * 1000 or (t0 and t - last_change > 2000) then control:stop() end
  end)
  a:invite("127.0.0.1", port_b)
  control:run()
  if not t0 then
    B.line("midi_throughput", name, { { "status", "failed" }, { "why", "never joined" } })
    os.exit(1)
  end
  local secs, c = (now() - t0) / 1000, cpu() - c0
  local packets = a:stats().packets_sent - st0.packets_sent
  B.line("midi_throughput", name, {
    { "what", batch and "AppleMidiSession, Lua callbacks, 1 process, a loop turn's messages per packet"
                     or "AppleMidiSession, Lua callbacks, 1 process, 1 message per packet (flush)" },
    { "messages", received }, { "lost", sent - received }, { "packets", packets },
    { "msgs_per_packet", received / math.max(packets, 1) }, { "seconds", secs },
    { "msgs_per_s", math.floor(received / secs + 0.5) }, { "pps", math.floor(packets / secs + 0.5) },
    { "cpu_s_per_mmsg", c / (received / 1e6) },
    { "status", received == total and "ok" or "incomplete" },
  })
  os.exit(received == total and 0 or 1)

else
  io.stderr:write("usage: lua_apple.lua echo|latency|throughput ... (see the top of the file)\n")
  os.exit(2)
end
