-- The recovery journal through MidiSession (one process, 127.0.0.1).
--   lua5.4 bench/lua_journal.lua poly   <first_port> <packets> <feedback_warmup_ms>
--   lua5.4 bench/lua_journal.lua repair <first_port> <bursts> <burst_len>
-- poly: journal octets per packet (stats().journal_bytes_sent / packets_sent)
--   against polyphony: k notes struck in one packet and held, then a pitch
--   bend per packet. With feedback: the peer is a MidiSession and both send
--   RTCP every ~20 ms (rtcp_interval = 0.02), whose receiver reports move the
--   checkpoint; measured over <packets> packets, one a millisecond, after
--   <feedback_warmup_ms>. Without feedback: recovery on, the peer a raw UDP
--   sink (core.udp) that never reports; measured over the <packets> packets
--   right after the chord (the open-loop bound of MidiSession keeps 256).
--   One BENCH line per polyphony (kind "journal").
-- repair: A sends to B through spec/fault_injector.lua, one packet a
--   millisecond, each with a controller (its index), a note on and the note
--   off of a note struck 30 packets earlier; the injector drops <burst_len>
--   consecutive packets, <bursts> times. B (jitter_buffer_size = 0: a gap is
--   a loss at once) repairs from the journal of the first packet after each
--   burst. Repair time: from the injector forwarding that packet to the last
--   repaired message delivered by incoming_midi; compared with the same for
--   packets without a loss (forwarded -> their own message delivered).
package.path = (arg[0]:match("^(.*/)") or "./") .. "?.lua;"
  .. (arg[0]:match("^(.*/)") or "./") .. "../spec/?.lua;" .. package.path
local rtpmidi = require "rtpmidi"
local core = require "rtpmidi.core"
local B = require "benchlib"

local mode = arg[1]
local control = rtpmidi.RTPControl()
local now = rtpmidi.now

-- Runs the loop until done() or ms pass; the sessions keep running.
local function run_until(ms, done)
  local t_end = now() + ms
  local tick = rtpmidi.every(1, function(h)
    if now() >= t_end or (done and done()) then h:cancel() core.stop_loop() end
  end)
  control:run()
  tick:cancel()
end

local function median(xs)
  local t = table.move(xs, 1, #xs, 1, {})
  table.sort(t)
  if #t == 0 then return 0 / 0 end
  return t[(#t + 1) // 2]
end

if mode == "poly" then
  local port, packets, warm_ms = B.arg(2), B.arg(3, 200), B.arg(4, 300)
  local POLY = { 0, 4, 8, 16, 32, 64, 128 }
  local function chord(k)
    local t = {}
    for n = 0, k - 1 do t[#t + 1] = string.char(0x90, n, 100) end
    return table.concat(t)
  end
  local function bend(i) return string.char(0xE0, i & 0x7f, (i >> 7) & 0x7f) end

  -- journal octets per packet over the next `count` packets, one a ms
  -- (paced) or as fast as flush() sends them
  local function measure(a, count, paced)
    local st0 = a:stats()
    local i = 0
    if paced then
      run_until(count * 5 + 2000, function()
        if i < count then i = i + 1; a:send_midi(bend(i)); a:flush() end
        return i >= count
      end)
    else
      for j = 1, count do a:send_midi(bend(j)); a:flush() end
    end
    local st = a:stats()
    local n = st.packets_sent - st0.packets_sent
    return (st.journal_bytes_sent - st0.journal_bytes_sent) / math.max(n, 1), n, st
  end

  for _, k in ipairs(POLY) do
    -- with feedback
    local pa, pb = port, port + 2
    port = port + 4
    local a = B.midi_session(pa, pb, { rtcp_interval = 0.02, incoming_midi = function() end })
    local b = B.midi_session(pb, pa, { rtcp_interval = 0.02, incoming_midi = function() end })
    a:send_midi(chord(k)); a:flush()
    local i = 0
    run_until(warm_ms, function()
      i = i + 1; a:send_midi(bend(i)); a:flush()
      return false
    end)
    local fb, fb_n = measure(a, packets, true)
    local rtcp = b:stats().rtcp_sent
    control:remove_session(a.cookie)
    control:remove_session(b.cookie)
    -- without feedback: a raw sink that never reports
    pa, pb = port, port + 2
    port = port + 4
    local sinks = { assert(core.udp("127.0.0.1", pb)), assert(core.udp("127.0.0.1", pb + 1)) }
    for _, s in ipairs(sinks) do s:recv(function() end) end
    a = B.midi_session(pa, pb, { incoming_midi = function() end })
    a:send_midi(chord(k)); a:flush()
    local nofb, nofb_n = measure(a, packets, false)
    run_until(20)
    control:remove_session(a.cookie)
    for _, s in ipairs(sinks) do s:close() end
    B.line("journal", ("poly_%d"):format(k), {
      { "what", ("%d notes held"):format(k) }, { "notes_held", k },
      { "with_feedback_octets_per_packet", fb }, { "packets_fb", fb_n }, { "peer_rtcp_reports", rtcp },
      { "without_feedback_octets_per_packet", nofb }, { "packets_nofb", nofb_n },
      { "status", (fb_n >= packets and nofb_n >= packets and rtcp > 0) and "ok"
        or (rtcp == 0 and "no RTCP from the peer" or "short") },
    })
  end
  os.exit(0)

elseif mode == "repair" then
  local FI = require "fault_injector"
  local port, bursts, burst_len = B.arg(2), B.arg(3, 5), B.arg(4, 20)
  local pa, pb, p, q = port, port + 2, port + 4, port + 6
  local SPACING, FIRST = 100, 50           -- a burst every 100 packets from packet 50
  local drop = {}
  for bi = 0, bursts - 1 do
    for i = 0, burst_len - 1 do drop[FIRST + bi * SPACING + i] = true end
  end
  local total = FIRST + (bursts - 1) * SPACING + burst_len + 30
  local fi = FI.new{ a_port = pa, b_port = pb, p = p, q = q, drop = drop, protect = 0 }
  local fwd_t = {}
  local from_a = fi._from_a
  fi._from_a = function(self, ...)
    fwd_t[self.seen + 1] = now()
    return from_a(self, ...)
  end
  local normal, repairs = {}, {}          -- forwarded -> delivered (ms)
  local cur_repair                        -- the repair being delivered
  local a = B.midi_session(pa, p, { incoming_midi = function() end })
  local b = B.midi_session(pb, q, { incoming_midi = function(_, m, _, recovered)
    local t = now()
    if recovered then
      if not cur_repair then
        cur_repair = { first = t, n = 0, index = fi.seen }
        repairs[#repairs + 1] = cur_repair
      end
      cur_repair.n = cur_repair.n + 1
      cur_repair.last = t
      return
    end
    if m:byte(1) == 0xB0 and m:byte(2) == 16 then
      -- the packet's own first message: its index is the latest forwarded
      -- one with that value mod 128
      local v, i = m:byte(3), fi.seen
      while i > 0 and i % 128 ~= v do i = i - 1 end
      if cur_repair then
        cur_repair.own = t - (fwd_t[i] or t)
        cur_repair.repair = cur_repair.last - (fwd_t[i] or t)
        cur_repair = nil
      elseif not drop[i - 1] and fwd_t[i] then
        normal[#normal + 1] = t - fwd_t[i]
      end
    end
  end })
  local sent = 0
  local function packet(i)
    local on = 10 + i % 100
    local off = 10 + (i - 30) % 100
    local msg = string.char(0xB0, 16, i % 128, 0x90, on, 100)
    if i > 30 then msg = msg .. string.char(0x80, off, 64) end
    return msg
  end
  run_until(total * 5 + 3000, function()
    if sent < total then sent = sent + 1; a:send_midi(packet(sent)); a:flush() end
    return sent >= total and fi.seen >= total and b:stats().packets_received >= total - bursts * burst_len
  end)
  run_until(50)
  local rep, own, counts = {}, {}, {}
  for _, r in ipairs(repairs) do
    if r.repair then rep[#rep + 1] = r.repair * 1000; own[#own + 1] = r.own * 1000; counts[#counts + 1] = r.n end
  end
  local base = {}
  for i, v in ipairs(normal) do base[i] = v * 1000 end
  local st = b:stats()
  B.line("journal", ("repair_burst%d"):format(burst_len), {
    { "what", ("MidiSession, %d lost packets, jitter_buffer_size 0, Lua callbacks"):format(burst_len) },
    { "bursts", #rep }, { "repaired_msgs_per_burst", median(counts) },
    { "repair_us", median(rep) }, { "max_repair_us", rep[1] and math.max(table.unpack(rep)) or 0 / 0 },
    { "first_packet_delivered_us", median(own) }, { "no_loss_delivered_us", median(base) },
    { "recovery_cost_us", median(own) - median(base) },
    { "lost", st.lost }, { "messages_recovered", st.messages_recovered },
    { "status", #rep == bursts and "ok" or ("%d of %d bursts repaired"):format(#rep, bursts) },
  })
  fi:close()
  os.exit(#rep == bursts and 0 or 1)

else
  io.stderr:write("usage: lua_journal.lua poly|repair ... (see the top of the file)\n")
  os.exit(2)
end
