-- Throughput with Lua callbacks: packets per second and CPU seconds per
-- million packets.
--   lua5.4 bench/lua_throughput.lua 1proc  <port_a> <port_b> <packets> <window> [timeout_s]
--   lua5.4 bench/lua_throughput.lua sink   <local_port> <peer_port> [idle_s] [timeout_s]
--   lua5.4 bench/lua_throughput.lua source <local_port> <peer_port> <packets> <window> [timeout_s]
-- 1proc: session A sends to session B in one process; every packet B counts
-- in incoming_rtp lets A send one more, so at most <window> are in flight
-- and the kernel drops nothing.
-- source/sink: two processes. The sink counts in incoming_rtp and acknowledges
-- every window/4 packets (an RTP packet whose timestamp is the count); the
-- source keeps at most <window> packets unacknowledged. At the end the sink
-- sends its CPU time and the source prints one BENCH line for both sides.
package.path = (arg[0]:match("^(.*/)") or "./") .. "?.lua;" .. package.path
local rtpmidi = require "rtpmidi"
local B = require "benchlib"

local mode = arg[1]
local control = rtpmidi.RTPControl()
local now, cpu, MIDI = rtpmidi.now, B.cpu, B.MIDI

-- Stops the loop when the deadline passed or nothing moved for idle_s.
local function watchdog(timeout_s, idle_s, progress)
  local started, last, last_change = now(), -1, now()
  return B.every(250, function(t)
    local p = progress()
    if p ~= last then last, last_change = p, t end
    if t - started > timeout_s * 1000 or t - last_change > idle_s * 1000 then control:stop() end
  end)
end

local function result(name, what, procs, packets, lost, secs, cpu_fields, status)
  local fields = {
    { "what", what }, { "procs", procs }, { "packets", packets }, { "lost", lost },
    { "seconds", secs }, { "pps", math.floor(packets / secs + 0.5) },
  }
  for _, f in ipairs(cpu_fields) do fields[#fields + 1] = f end
  fields[#fields + 1] = { "status", status }
  B.line("throughput", name, fields)
end

if mode == "1proc" then
  local port_a, port_b, packets, window, timeout_s =
    B.arg(2), B.arg(3), B.arg(4, 1000000), B.arg(5, 256), B.arg(6, 30)
  local sent, received = 0, 0
  local a = B.session(port_a, port_b, function() end)
  B.session(port_b, port_a, function()
    received = received + 1
    if sent < packets then
      a:send_data(MIDI)
      sent = sent + 1
    elseif received == packets then
      control:stop()
    end
  end)
  watchdog(timeout_s, 2, function() return received end)
  local t0, c0 = now(), cpu()
  while sent < window and sent < packets do
    assert(a:send_data(MIDI))
    sent = sent + 1
  end
  control:run()
  local secs, c = (now() - t0) / 1000, cpu() - c0
  result("lua_1proc", "Lua callbacks, 1 process", 1, received, sent - received, secs,
    { { "cpu_s_per_mpkt", c / (received / 1e6) } },
    received == packets and "ok" or "incomplete")
  os.exit(received == packets and 0 or 1)

elseif mode == "sink" then
  local local_port, peer_port, idle_s, timeout_s = B.arg(2), B.arg(3), B.arg(4, 5), B.arg(5, 30)
  local count, c0, ack_every, total = 0, nil, 64, nil
  B.session(local_port, peer_port, function(self, _, timestamp, packet)
    if #packet == 4 then                   -- data
      if count == 0 then c0 = cpu() end
      count = count + 1
      if count % ack_every == 0 or count == total then self:send_data("A", count) end
      if count == total then
        self:send_data(("DONE %.6f"):format(cpu() - c0), count)
        control:stop()
      end
    elseif packet:sub(1, 1) == "H" then    -- hello: "H <packets> <ack_every>"
      local p, e = packet:match("^H (%d+) (%d+)$")
      total, ack_every = math.tointeger(p), math.tointeger(e)
      self:send_data("A", count)
    end
  end)
  watchdog(timeout_s, idle_s, function() return count end)
  control:run()

elseif mode == "source" then
  local local_port, peer_port, packets, window, timeout_s =
    B.arg(2), B.arg(3), B.arg(4, 1000000), B.arg(5, 256), B.arg(6, 30)
  local ack_every = math.max(1, window // 4)
  local sent, acked, up = 0, 0, false
  local t0, c0, secs, c, sink_cpu
  local s
  local function blast()
    local limit = math.min(packets, acked + window)
    while sent < limit do
      s:send_data(MIDI)
      sent = sent + 1
    end
  end
  s = B.session(local_port, peer_port, function(_, _, timestamp, packet)
    if packet == "A" then
      if not up then
        up = true
        t0, c0 = now(), cpu()
      end
      if timestamp > acked then acked = timestamp end
      blast()
    elseif packet:sub(1, 5) == "DONE " then
      secs, c = (now() - t0) / 1000, cpu() - c0
      acked = timestamp
      sink_cpu = tonumber(packet:sub(6))
      control:stop()
    end
  end)
  local hello = ("H %d %d"):format(packets, ack_every)
  local started = now()
  B.every(50, function(t)
    if not up then s:send_data(hello) end  -- until the sink is up
    if t - started > timeout_s * 1000 then control:stop() end
  end)
  s:send_data(hello)
  control:run()
  if not up then
    B.line("throughput", "lua_2proc", { { "status", "failed" }, { "why", "sink never answered" } })
    os.exit(1)
  end
  if not secs then secs, c = (now() - t0) / 1000, cpu() - c0 end
  local mp = acked / 1e6
  local cpu_fields = { { "send_cpu_s_per_mpkt", c / mp } }
  if sink_cpu then   -- the sink reports its CPU time only when it got everything
    cpu_fields = { { "cpu_s_per_mpkt", (c + sink_cpu) / mp }, cpu_fields[1],
                   { "recv_cpu_s_per_mpkt", sink_cpu / mp } }
  end
  result("lua_2proc", "Lua callbacks, 2 processes", 2, acked, sent - acked, secs, cpu_fields,
    acked == packets and sink_cpu and "ok" or "incomplete")
  os.exit(acked == packets and 0 or 1)

else
  io.stderr:write("usage: lua_throughput.lua 1proc|sink|source ... (see the top of the file)\n")
  os.exit(2)
end
