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
local core = require "rtpmidi.core"
local B = require "benchlib"

local mode = arg[1]
local control = rtpmidi.RTPControl()
local now, cpu = rtpmidi.now, B.cpu

local function unavailable()
  if not rtpmidi.Midi2Session then return "rtpmidi.Midi2Session does not exist" end
  if not core.midi2 then return "the C core has no Network MIDI 2.0 sessions (core.midi2)" end
  return nil
end

local function not_available(kind, name, why)
  B.line(kind, name, { { "status", "not available" }, { "why", why } })
  os.exit(0)
end

-- A Midi2Session on 127.0.0.1, registered and started.
local function midi2(port, opts)
  local t = { name = "bench " .. port, port = port, bind_address = "127.0.0.1" }
  for k, v in pairs(opts or {}) do t[k] = v end
  local s = rtpmidi.Midi2Session(t)
  local ok, err = control:start_session(control:add_session(s))
  if not ok then
    io.stderr:write(("lua_midi2: cannot open port %d: %s\n"):format(port, err))
    os.exit(3)
  end
  return s
end

-- The probe: MIDI 1.0 pitch bend in UMP (MT 2, group 0, channel 1), its
-- 14-bit value the id (B.probe_msg's message, as one UMP word).
local function probe_word(id)
  return 0x20E00000 | (id & 0x7f) << 8 | (id >> 7) & 0x7f
end

if mode == "echo" then
  local port, idle_s = B.arg(2), B.arg(3, 5)
  if unavailable() then return end
  local echoed, at_last_tick, joined = 0, -1, false
  midi2(port, {
    role = "host",
    client_joined = function() joined = true end,
    client_left = function() control:stop() end,
    incoming_ump = function(self, words)
      echoed = echoed + 1
      self:send_ump(words)
    end,
  })
  rtpmidi.every(idle_s * 1000, function()
    if echoed == at_last_tick then
      io.stderr:write(("lua_midi2 echo: idle for %s s after %d messages (joined: %s), stopping\n")
        :format(idle_s, echoed, tostring(joined)))
      control:stop()
    end
    at_last_tick = echoed
  end)
  control:run()

elseif mode == "latency" then
  local port, peer_port = B.arg(2), B.arg(3)
  local n, warmup, timeout_s = B.arg(4, 20000), B.arg(5, 2000), B.arg(6, 20)
  local name, what = "midi2", "Midi2Session to Midi2Session, Lua callbacks, 2 processes"
  local why = unavailable()
  if why then not_available("latency", name, why) end
  local rtt, id, sent_at, expect = {}, 0, 0, nil
  local measuring, seen, lost, joined_at, failed = false, 0, 0, nil, nil
  local s
  local function probe()
    id = (id + 1) & 0x3fff
    expect = probe_word(id)
    sent_at = now()
    s:send_ump(expect)
  end
  local started = now()
  s = midi2(port, {
    role = "client",
    client_joined = function() joined_at = now() end,
    invitation_failed = function(_, _, _, reason) failed = reason; control:stop() end,
    incoming_ump = function(_, words)
      local t = now()
      if words[1] ~= expect then return end
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
    -- a probe not back within a second is lost
    if not measuring or t - sent_at > 1000 then
      if measuring then lost = lost + 1 end
      probe()
    end
  end)
  s:invite("127.0.0.1", peer_port)
  control:run()   -- stop() sends Bye: the echo side leaves
  if not measuring then
    B.line("latency", name, { { "status", "failed" },
      { "why", failed and ("invitation " .. failed) or (joined_at and "peer never echoed" or "never joined") } })
    os.exit(1)
  end
  B.latency_line(name, what, rtt, lost, #rtt >= n and "ok" or "timeout")
  os.exit(#rtt >= n and 0 or 1)

elseif mode == "throughput" then
  local port_a, port_b, total, window, timeout_s =
    B.arg(2), B.arg(3), B.arg(4, 200000), B.arg(5, 256), B.arg(6, 20)
  local fec = arg[7] and math.tointeger(tonumber(arg[7])) or nil
  local name = fec and ("midi2_1proc_fec" .. fec) or "midi2_1proc"
  local why = unavailable()
  if why then not_available("midi_throughput", name, why) end
  local ON, OFF = 0x20903C64, 0x20803C40 -- MIDI 1.0 channel voice in UMP: the 3 octets of the others' rows
  local sent, received, t0, c0, st0, st1 = 0, 0, nil, nil, nil, nil
  local a
  local function send_one()
    sent = sent + 1
    a:send_ump(sent & 1 == 1 and ON or OFF)
  end
  midi2(port_b, { role = "host", fec = fec, incoming_ump = function()
    received = received + 1
    if sent < total then send_one()
    elseif received == total then st1 = a:stats(); control:stop() end
  end })
  a = midi2(port_a, { role = "client", fec = fec, client_joined = function()
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
  -- (the counters are read before the stop: a stopped session's are gone)
  local packets = ((st1 or a:stats()).datagrams_sent or 0) - st0.datagrams_sent
  B.line("midi_throughput", name, {
    { "what", ("Midi2Session, Lua callbacks, 1 process, 1 message per datagram, FEC %d"):format(fec or 2) },
    { "messages", received }, { "lost", sent - received }, { "packets", packets },
    { "msgs_per_packet", received / math.max(packets, 1) }, { "seconds", secs },
    { "msgs_per_s", math.floor(received / secs + 0.5) }, { "pps", math.floor(packets / secs + 0.5) },
    { "cpu_s_per_mmsg", c / (received / 1e6) },
    { "status", received == total and "ok" or "incomplete" },
  })
  os.exit(received == total and 0 or 1)

else
  io.stderr:write("usage: lua_midi2.lua echo|latency|throughput ... (see the top of the file)\n")
  os.exit(2)
end
