-- The recovery journal end to end: two MidiSessions through a seeded fault
-- injector. After a random musical stream, the receiver's MIDI state equals
-- the sender's; with recovery off the same losses leave damage.
local rtpmidi = require "rtpmidi"
local H = require "helper"
local FI = require "fault_injector"

-- A model of a MIDI receiver: what is sounding and every setting.
local function new_state()
  local st = { ch = {}, song = nil, mtc = {} }
  for c = 0, 15 do
    st.ch[c] = { notes = {}, cc = {}, program = nil, bend = nil, pressure = nil, rpn = {}, sel = nil }
  end
  return st
end

local PARAM_CCS = { [6] = true, [38] = true, [96] = true, [97] = true, [98] = true, [99] = true,
                    [100] = true, [101] = true }

local function apply(st, m)
  local s, d1, d2 = m:byte(1, 3)
  if s < 0xF0 then
    local c, kind = st.ch[s & 0x0F], s & 0xF0
    if kind == 0x90 and d2 > 0 then c.notes[d1] = d2
    elseif kind == 0x80 or kind == 0x90 then c.notes[d1] = nil
    elseif kind == 0xB0 then
      -- RPN (101/100) and NRPN (99/98) are separate registers; data entry
      -- goes to the pair written last, as a MIDI device does it
      if d1 >= 98 and d1 <= 101 then
        c.reg = c.reg or {}
        c.reg[d1] = d2
        c.sel_kind = (d1 >= 100) and "rpn" or "nrpn"
      elseif d1 == 6 or d1 == 38 then
        local reg = c.reg or {}
        local msb, lsb
        if c.sel_kind == "rpn" then msb, lsb = reg[101], reg[100] else msb, lsb = reg[99], reg[98] end
        if c.sel_kind and msb and lsb then
          local key = ("%s:%d:%d:%s"):format(c.sel_kind, msb, lsb, d1 == 6 and "msb" or "lsb")
          c.rpn[key] = d2
        end
      elseif d1 == 123 or d1 == 120 then c.notes = {}
      elseif d1 < 120 then c.cc[d1] = d2 end
    elseif kind == 0xC0 then c.program = d1
    elseif kind == 0xD0 then c.pressure = d1
    elseif kind == 0xE0 then c.bend = d1 | (d2 << 7) end
  elseif s == 0xF2 then st.song = d1 | (d2 << 7)
  elseif s == 0xF1 then st.mtc[d1 >> 4] = d1 & 0x0F end
end

-- Differences between two states, with the count of stuck notes.
local function compare(a, b)
  local diffs, stuck = {}, 0
  local function diff(what, x, y)
    if x ~= y then diffs[#diffs + 1] = ("%s: sender %s, receiver %s"):format(what, tostring(x), tostring(y)) end
  end
  for c = 0, 15 do
    local x, y = a.ch[c], b.ch[c]
    for n = 0, 127 do
      if x.notes[n] == nil and y.notes[n] ~= nil then stuck = stuck + 1 end
      diff(("ch%d note %d"):format(c + 1, n), x.notes[n] ~= nil, y.notes[n] ~= nil)
    end
    for k = 0, 119 do
      if not PARAM_CCS[k] then diff(("ch%d cc %d"):format(c + 1, k), x.cc[k], y.cc[k]) end
    end
    diff(("ch%d program"):format(c + 1), x.program, y.program)
    diff(("ch%d bend"):format(c + 1), x.bend, y.bend)
    diff(("ch%d pressure"):format(c + 1), x.pressure, y.pressure)
    for k, v in pairs(x.rpn) do diff(("ch%d %s"):format(c + 1, k), v, y.rpn[k]) end
  end
  diff("song position", a.song, b.song)
  return diffs, stuck
end

-- A seeded musical stream: overlapping notes on all 16 channels, sustain,
-- controllers, program and bank changes, bend, both pressures, RPN/NRPN,
-- song position and MTC.
local function stream(seed, n)
  local x = seed
  local function rand(k)
    x = (x * 6364136223846793005 + 1442695040888963407) & 0x7FFFFFFFFFFFFFFF
    return (x >> 20) % k
  end
  local out, on = {}, {}
  for c = 0, 15 do on[c] = {} end
  while #out < n do
    local c, r = rand(16), rand(100)
    local function add(...) out[#out + 1] = string.char(...) end
    if r < 30 then
      local note = 36 + rand(48)
      add(0x90 + c, note, 1 + rand(127)); on[c][note] = true
    elseif r < 55 then
      local list = {}
      for note in pairs(on[c]) do list[#list + 1] = note end
      table.sort(list)
      if #list > 0 then
        local note = list[1 + rand(#list)]
        add(rand(2) == 0 and 0x80 + c or 0x90 + c, note, 0); on[c][note] = nil
      end
    elseif r < 62 then add(0xB0 + c, 64, rand(2) * 127)                         -- sustain
    elseif r < 72 then add(0xB0 + c, ({ 1, 7, 10, 11, 71, 74, 91, 93 })[1 + rand(8)], rand(128))
    elseif r < 76 then add(0xB0 + c, 0, rand(4)); add(0xB0 + c, 32, rand(8)); add(0xC0 + c, rand(128))
    elseif r < 84 then add(0xE0 + c, rand(128), rand(128))
    elseif r < 88 then add(0xD0 + c, rand(128))
    elseif r < 91 then add(0xA0 + c, 36 + rand(48), rand(128))
    elseif r < 94 then
      local msb_cc, lsb_cc = 101, 100
      if rand(2) == 0 then msb_cc, lsb_cc = 99, 98 end
      add(0xB0 + c, msb_cc, 0); add(0xB0 + c, lsb_cc, rand(6)); add(0xB0 + c, 6, rand(128))
    elseif r < 97 then add(0xF2, rand(128), rand(16))
    else add(0xF1, (rand(8) << 4) | rand(16)) end
  end
  return out
end

describe("the recovery journal", function()
  local control = rtpmidi.RTPControl()
  local injector
  after_each(function()
    if injector then injector:close() end
    injector = nil
    H.assert_clean()
  end)

  local function run(opts)
    local pa, pb, p, q = H.port(), H.port(), H.port(), H.port()
    injector = FI.new{ a_port = pa, b_port = pb, p = p, q = q, seed = opts.seed, loss = opts.loss or 0,
                       drop = opts.drop }
    local sent_state, got_state = new_state(), new_state()
    local received, recovered = 0, 0
    local a = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = p, receiving_port = pa,
                                   recovery = opts.recovery, rtcp_interval = 0.2 }
    local b = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = q, receiving_port = pb,
                                   recovery = opts.recovery, rtcp_interval = 0.2, jitter_buffer_size = 5,
      incoming_midi = function(_, m, _, rec)
        apply(got_state, m)
        received = received + 1
        if rec then recovered = recovered + 1 end
      end }
    control:add_session(a); control:add_session(b)
    assert(control:start())
    local msgs = stream(opts.seed, opts.n)
    local i = 0
    local pacer = rtpmidi.every(1, function(t)
      -- a few messages per packet, a window of packets in flight
      if injector.seen - b:stats().packets_received - #injector.dropped < 16 then
        for _ = 1, 4 do
          i = i + 1
          if i > #msgs then t:cancel() return end
          apply(sent_state, msgs[i])
          assert(a:send_midi(msgs[i]))
        end
      end
    end)
    H.run_until(function() return i > #msgs end, "the stream to be sent", 60000)
    pacer:cancel()
    -- the guard packets settle the end of the stream: wait until B's reports
    -- confirm A's last packet with commands (guards go on until they do)
    H.run_until(function() return not a:stats().unconfirmed end, "B to confirm the last packet", 30000)
    -- a confirmed packet may still sit in B's jitter buffer: give delivery up
    -- to 2 s to converge (the assertions below report what still differs)
    pcall(H.run_until, function() return #compare(sent_state, got_state) == 0 end, "convergence", 2000)
    local diffs, stuck = compare(sent_state, got_state)
    local st_a, st_b = a:stats(), b:stats()
    control:remove_session(a.cookie); control:remove_session(b.cookie)
    return { diffs = diffs, stuck = stuck, recovered = recovered, a = st_a, b = st_b,
             lost = #injector.dropped }
  end

  for _, loss in ipairs{ 0.01, 0.10, 0.30, 0.50 } do
    it(("converges under %d%% random loss"):format(math.floor(loss * 100)), function()
      local r = run{ seed = 7 + math.floor(loss * 100), loss = loss, n = 3000 }
      assert.is_true(r.lost > 0, "the injector lost nothing")
      assert.are.same({}, r.diffs)
      assert.are.equal(0, r.stuck)
      assert.is_true(r.b.repairs > 0, "no repair happened")
      assert.are.equal(0, r.b.bad_journals)
    end)
  end

  it("converges after bursts of 20 consecutive lost packets", function()
    local drop = {}
    for _, start in ipairs{ 50, 200, 400 } do
      for k = start, start + 19 do drop[k] = true end
    end
    local r = run{ seed = 3, drop = drop, n = 3000 }
    assert.are.equal(60, r.lost)
    assert.are.same({}, r.diffs)
    assert.is_true(r.recovered > 0)
  end)

  it("keeps sending guard packets until the peer confirms the last one", function()
    -- the note-on and the five open-loop guards after it are lost: only a
    -- later guard, sent because B's reports have not confirmed the note's
    -- packet, can repair it
    local pa, pb, p, q = H.port(), H.port(), H.port(), H.port()
    injector = FI.new{ a_port = pa, b_port = pb, p = p, q = q, seed = 1 }
    local got, recovered = 0, false
    local a = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = p, receiving_port = pa,
                                   rtcp_interval = 0.2 }
    local b = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = q, receiving_port = pb,
                                   rtcp_interval = 0.2,
      incoming_midi = function(_, m, _, rec)
        got = got + 1
        recovered = recovered or (rec and m == "\x90\x3C\x64")
      end }
    control:add_session(a); control:add_session(b)
    assert(control:start())
    assert(a:send_midi("\xB0\x07\x64"))
    H.run_until(function() return got == 1 end, "the controller")
    -- B's reports confirm it: A knows B gives feedback, and no guard is due
    H.run_until(function() return not a:stats().unconfirmed end, "B to confirm the controller")
    for k = injector.seen + 1, injector.seen + 6 do injector.drop_set[k] = true end
    assert(a:send_midi("\x90\x3C\x64"))
    H.run_until(function() return recovered end, "the note-on, repaired by a late guard", 10000)
    assert.are.equal(6, #injector.dropped)
    assert.is_true(a:stats().guard_packets >= 6, "guards: " .. a:stats().guard_packets)
    H.run_until(function() return not a:stats().unconfirmed end, "B to confirm the note")
    -- confirmed: no more guards
    local guards = a:stats().guard_packets
    H.run_for(1300)
    assert.are.equal(guards, a:stats().guard_packets)
    control:remove_session(a.cookie); control:remove_session(b.cookie)
  end)

  it("shows the damage with recovery off, so the journal matters", function()
    local r = run{ seed = 17, loss = 0.10, n = 3000, recovery = false }
    assert.is_true(r.lost > 0)
    assert.is_true(#r.diffs > 0, "no damage without the journal?")
    assert.is_true(r.stuck > 0, "no stuck note without the journal?")
    assert.are.equal(0, r.recovered)
    assert.are.equal(0, r.a.journal_bytes_sent)
    print(("\n  recovery off at 10%% loss: %d differences, %d stuck notes"):format(#r.diffs, r.stuck))
  end)
end)

-- ---- issue 17's must-show stream, end to end ------------------------------
-- A model of a MIDI device for it: as above, plus RPN/NRPN values with
-- Data Increment / Decrement, general-purpose 6/38/96/97 when no parameter
-- is selected, GM System On (every channel back to power-up), the
-- sequencer (running, position in clocks, clocks received) and MTC (the
-- last complete frame, quarter frames or a Full Frame, and the forward run
-- in progress).
local function new_device()
  local d = { ch = {}, seq = { running = false, pos = 0, clocks = 0 }, mtc = {}, sysex = {} }
  for c = 0, 15 do d.ch[c] = { notes = {}, cc = {}, val = {}, reg = {} } end
  return d
end

local function device_apply(d, m)
  local s, d1, d2 = m:byte(1, 3)
  if s < 0xF0 then
    local c, kind = d.ch[s & 0x0F], s & 0xF0
    if kind == 0x90 and d2 > 0 then c.notes[d1] = d2
    elseif kind == 0x80 or kind == 0x90 then c.notes[d1] = nil
    elseif kind == 0xB0 then
      if d1 >= 98 and d1 <= 101 then
        c.reg[d1] = d2
        c.kind = d1 >= 100 and "rpn" or "nrpn"
      elseif d1 == 6 or d1 == 38 or d1 == 96 or d1 == 97 then
        local msb, lsb
        if c.kind == "rpn" then msb, lsb = c.reg[101], c.reg[100] else msb, lsb = c.reg[99], c.reg[98] end
        if c.kind and msb and lsb and not (msb == 127 and lsb == 127) then
          local key = ("%s:%d:%d"):format(c.kind, msb, lsb)
          local v = c.val[key] or { inc = 0 }
          c.val[key] = v
          if d1 == 6 then v.msb, v.lsb, v.inc = d2, nil, 0
          elseif d1 == 38 then v.lsb, v.inc = d2, 0
          elseif d1 == 96 then v.inc = v.inc + 1
          else v.inc = v.inc - 1 end
        else
          c.cc[d1] = d2 -- a general-purpose controller (RFC 6295 A.3.4)
        end
      elseif d1 == 123 or d1 == 120 then c.notes = {}
      elseif d1 < 120 then c.cc[d1] = d2 end
    elseif kind == 0xC0 then c.program = d1
    elseif kind == 0xD0 then c.pressure = d1
    elseif kind == 0xE0 then c.bend = d1 | (d2 << 7) end
  elseif s == 0xF8 then
    d.seq.clocks = d.seq.clocks + 1
    if d.seq.running then d.seq.pos = d.seq.pos + 1 end
  elseif s == 0xFA then d.seq.running, d.seq.pos = true, 0
  elseif s == 0xFB then d.seq.running = true
  elseif s == 0xFC then d.seq.running = false
  elseif s == 0xF2 then d.seq.pos = 6 * (d1 | (d2 << 7))
  elseif s == 0xF1 then
    local t, n, run = d1 >> 4, d1 & 15, d.mtc.run
    if t == 0 then d.mtc.run = { n }
    elseif run and #run == t then
      run[t + 1] = n
      if t == 7 then d.mtc.complete, d.mtc.run = table.concat(run, ","), nil end
    else d.mtc.run = nil end
  elseif s == 0xF0 and #m == 6 and m:byte(2) == 0x7E and m:byte(4) == 0x09 and m:byte(5) == 0x01 then
    for c = 0, 15 do d.ch[c] = { notes = {}, cc = {}, val = {}, reg = {} } end -- GM System On
  elseif s == 0xF0 and #m > 256 then
    d.sysex[#d.sysex + 1] = m -- a SysEx the journal codes in parts (RFC 6295 B.5)
  elseif s == 0xF0 and #m == 10 and m:byte(2) == 0x7F and m:byte(4) == 0x01 and m:byte(5) == 0x01 then
    d.mtc.complete, d.mtc.run = "FF:" .. m:sub(6, 9):gsub(".", function(x) return x:byte() .. "," end), nil
  end
end

local function device_compare(a, b)
  local diffs, stuck = {}, 0
  local function diff(what, x, y)
    if x ~= y then diffs[#diffs + 1] = ("%s: sender %s, receiver %s"):format(what, tostring(x), tostring(y)) end
  end
  for c = 0, 15 do
    local x, y = a.ch[c], b.ch[c]
    for n = 0, 127 do
      if x.notes[n] == nil and y.notes[n] ~= nil then stuck = stuck + 1 end
      diff(("ch%d note %d"):format(c + 1, n), x.notes[n], y.notes[n])
    end
    for k = 0, 119 do
      if k < 98 or k > 101 then diff(("ch%d cc %d"):format(c + 1, k), x.cc[k], y.cc[k]) end
    end
    diff(("ch%d program"):format(c + 1), x.program, y.program)
    diff(("ch%d bend"):format(c + 1), x.bend, y.bend)
    diff(("ch%d pressure"):format(c + 1), x.pressure, y.pressure)
    for k, v in pairs(x.val) do
      local w = y.val[k] or {}
      diff(("ch%d %s"):format(c + 1, k), ("%s/%s%+d"):format(v.msb, v.lsb, v.inc),
           ("%s/%s%+d"):format(w.msb, w.lsb, w.inc or 0))
    end
  end
  diff("long SysEx received", #a.sysex, #b.sysex)
  for i = 1, #a.sysex do
    if a.sysex[i] ~= b.sysex[i] then
      diffs[#diffs + 1] = ("SysEx %d: %d octets sent, %s received"):format(i, #a.sysex[i],
        b.sysex[i] and (#b.sysex[i] .. " different octets") or "none")
    end
  end
  diff("sequencer running", a.seq.running, b.seq.running)
  diff("sequencer position", a.seq.pos, b.seq.pos)
  diff("MTC frame", a.mtc.complete, b.mtc.complete)
  diff("MTC run", a.mtc.run and table.concat(a.mtc.run, ","), b.mtc.run and table.concat(b.mtc.run, ","))
  return diffs, stuck
end

-- The stream: every channel's 40 NRPNs set, then edited with Data Entry,
-- Increment and Decrement, under notes, sustain and controllers; MIDI Clock
-- with Stop, Song Position (while stopped), Continue and Start; a lone CC 6
-- (after the null parameter); GM System On mid-stream; a 2 KB SysEx (its
-- parts paced by B's feedback, midi_stream.h); MTC quarter frames with a
-- Full Frame locate.
local function sysex_2k(seed)
  local t = { 0xF0, 0x7D }
  for i = 3, 2047 do t[i] = (i * 37 + seed) % 128 end
  t[2048] = 0xF7
  return string.char(table.unpack(t))
end

local function show_stream(seed, n)
  local x = seed
  local function rand(k)
    x = (x * 6364136223846793005 + 1442695040888963407) & 0x7FFFFFFFFFFFFFFF
    return (x >> 20) % k
  end
  local out, on, nset = {}, {}, {}
  for c = 0, 15 do on[c], nset[c] = {}, 0 end
  local function add(...) out[#out + 1] = string.char(...) end
  local running, mtc_t, frame, gm, ff, cc6, big = true, 0, 0, false, false, false, false
  add(0xFA)
  while #out < n do
    local c, r = rand(16), rand(1000)
    if not big and #out > n * 3 // 5 then
      out[#out + 1] = sysex_2k(seed); big = true
    elseif not gm and #out > n // 2 then
      add(0xF0, 0x7E, 0x7F, 0x09, 0x01, 0xF7); gm = true
      for k = 0, 15 do on[k], nset[k] = {}, 0 end
    elseif not cc6 and #out > n * 3 // 4 then
      add(0xB5, 101, 127); add(0xB5, 100, 127); add(0xB5, 6, 42); cc6 = true
    elseif r < 200 then
      if running then add(0xF8) end
    elseif r < 230 then
      if not ff and #out > n // 3 then
        add(0xF0, 0x7F, 0x7F, 0x01, 0x01, 0x21, 0x00, 0x01, 0x00, 0xF7); ff = true
        frame, mtc_t = 3600, 0
      else
        local fr, sc, mn = frame % 25, (frame // 25) % 60, (frame // 1500) % 60
        local v = { fr & 15, fr >> 4, sc & 15, sc >> 4, mn & 15, mn >> 4, 0, 2 }
        add(0xF1, (mtc_t << 4) | v[mtc_t + 1])
        mtc_t = mtc_t + 1
        if mtc_t == 8 then mtc_t, frame = 0, frame + 2 end
      end
    elseif r < 236 then
      if running then add(0xFC); running = false
      elseif rand(3) == 0 then local p = rand(1000); add(0xF2, p & 127, p >> 7)
      else add(rand(4) == 0 and 0xFA or 0xFB); running = true end
    elseif r < 480 then
      local note = 36 + rand(48)
      if on[c][note] then add(0x80 + c, note, rand(128)); on[c][note] = nil
      else add(0x90 + c, note, 1 + rand(127)); on[c][note] = true end
    elseif r < 510 then add(0xB0 + c, 64, rand(2) * 127)
    elseif r < 560 then add(0xB0 + c, ({ 1, 7, 10, 11, 71, 74, 91 })[1 + rand(7)], rand(128))
    elseif r < 580 then add(0xC0 + c, rand(128))
    elseif r < 620 then add(0xE0 + c, rand(128), rand(128))
    else
      local p
      if nset[c] < 40 then p = nset[c]; nset[c] = nset[c] + 1 else p = rand(40) end
      add(0xB0 + c, 99, 2); add(0xB0 + c, 98, p)
      local k = rand(4)
      if k == 0 or nset[c] <= 40 then add(0xB0 + c, 6, rand(128)) end
      if k == 1 then add(0xB0 + c, 38, rand(128)) end
      if k == 2 then for _ = 1, 1 + rand(3) do add(0xB0 + c, 96, 0) end end
      if k == 3 then add(0xB0 + c, 97, 0) end
    end
  end
  if not running then add(0xFB) end
  add(0xF8)
  return out
end

describe("the recovery journal, issue 17's stream", function()
  local control = rtpmidi.RTPControl()
  local codec = rtpmidi.codec
  local injector
  after_each(function()
    if injector then injector:close() end
    injector = nil
    H.assert_clean()
  end)

  local TRANSPORT = { [0xFA] = true, [0xFB] = true, [0xFC] = true, [0xF2] = true }

  local function run(opts)
    local pa, pb, p, q = H.port(), H.port(), H.port(), H.port()
    injector = FI.new{ a_port = pa, b_port = pb, p = p, q = q, seed = opts.seed, loss = opts.loss or 0,
                       drop = opts.drop }
    local sent, got = new_device(), new_device()
    local recovered_transport = 0
    -- what B played of the transport (and clocks by repair), in order, with
    -- the sequence number of the last packet the relay had forwarded then
    -- (for the failure message)
    local trace = {}
    local a = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = p, receiving_port = pa,
                                   rtcp_interval = 0.05 }
    local b = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = q, receiving_port = pb,
                                   rtcp_interval = 0.05, jitter_buffer_size = 5,
      incoming_midi = function(_, m, _, rec)
        device_apply(got, m)
        if rec and TRANSPORT[m:byte(1)] then recovered_transport = recovered_transport + 1 end
        if TRANSPORT[m:byte(1)] or rec and m:byte(1) == 0xF8 then
          local last = injector.arrivals[#injector.arrivals]
          local b1 = m:byte(1)
          trace[#trace + 1] = { at = last and last.seq or 0, b = b1, rec = rec,
                                pos = b1 == 0xF2 and 6 * (m:byte(2) | (m:byte(3) << 7)) or nil }
        end
      end }
    control:add_session(a); control:add_session(b)
    assert(control:start())
    local msgs = show_stream(opts.seed, opts.n)
    local i = 0
    local pacer = rtpmidi.every(1, function(t)
      -- a window of packets in flight, and of messages A holds back (while
      -- the parts of the 2 KB SysEx wait for B's feedback, midi_stream.h)
      if injector.seen - b:stats().packets_received - #injector.dropped < 8
         and i - a:stats().messages_sent < 12 then
        for _ = 1, 3 do
          i = i + 1
          if i > #msgs then t:cancel() return end
          if opts.burst_at_sysex and #msgs[i] > 256 then
            -- a burst of 20 from the SysEx's first part on
            for k = injector.seen + 1, injector.seen + 20 do injector.drop_set[k] = true end
          end
          device_apply(sent, msgs[i])
          assert(a:send_midi(msgs[i]))
        end
      end
    end)
    H.run_until(function() return i > #msgs end, "the stream to be sent", 60000)
    pacer:cancel()
    H.run_until(function() return not a:stats().unconfirmed end, "B to confirm the last packet", 30000)
    pcall(H.run_until, function() return #device_compare(sent, got) == 0 end, "convergence", 2000)
    local diffs, stuck = device_compare(sent, got)
    -- the transport commands in the packets the relay lost
    local lost_transport = 0
    local lost_trace = {}
    for index, data in pairs(injector.dropped_data) do
      local rtp = assert(codec.decode_rtp(data))
      local midi = assert(codec.decode_midi_payload(rtp.payload))
      for _, cmd in ipairs(midi.commands) do
        local b1 = cmd.bytes:byte(1)
        if TRANSPORT[b1] then lost_transport = lost_transport + 1 end
        if TRANSPORT[b1] or b1 == 0xF8 then
          local spp = b1 == 0xF2 and 6 * (cmd.bytes:byte(2) | (cmd.bytes:byte(3) << 7)) or nil
          lost_trace[#lost_trace + 1] = { at = rtp.sequence, index = index, b = b1, pos = spp }
        end
      end
    end
    -- the packets lost with a part of the 2 KB SysEx (12 octets of it, at
    -- least one of every 16)
    local big, lost_parts = sysex_2k(opts.seed), 0
    for _, data in pairs(injector.dropped_data) do
      for off = 2, #big - 12, 16 do
        if data:find(big:sub(off, off + 11), 1, true) then lost_parts = lost_parts + 1 break end
      end
    end
    local st_b, st_a = b:stats(), a:stats()
    control:remove_session(a.cookie); control:remove_session(b.cookie)
    return { diffs = diffs, stuck = stuck, b = st_b, lost = #injector.dropped, sent = sent, got = got,
             lost_transport = lost_transport, recovered_transport = recovered_transport, n = #msgs,
             lost_parts = lost_parts, trace = trace, lost_trace = lost_trace,
             arrivals = injector.arrivals, dropped_data = injector.dropped_data, a = st_a }
  end

  -- The transport B played by repair, each with what the relay lost just
  -- before it and the transport B played around it: the evidence for a
  -- repair that played a command no lost packet held. Packets are named by
  -- their RTP sequence number (@: the last one the relay had forwarded).
  local function transport_story(r)
    local function before(x, y) return ((y - x) & 0xFFFF) < 0x8000 end -- x at or before y
    local function name(e)
      local n = ({ [0xFA] = "Start", [0xFB] = "Continue", [0xFC] = "Stop", [0xF2] = "SPP",
                   [0xF8] = "Clock" })[e.b]
      return e.pos and ("%s(%d)"):format(n, e.pos) or n
    end
    table.sort(r.lost_trace, function(x, y) return x.index < y.index end)
    local by_seq = {}
    for _, a in ipairs(r.arrivals) do by_seq[a.seq] = by_seq[a.seq] or a.data end
    for _, d in pairs(r.dropped_data) do
      local rtp = codec.decode_rtp(d)
      if rtp then by_seq[rtp.sequence] = { dropped = d } end
    end
    local lines, done = {}, {}
    for k, e in ipairs(r.trace) do
      if e.rec and e.b ~= 0xF8 and not done[e.at] then
        done[e.at] = true
        local lost, played = {}, {}
        for _, l in ipairs(r.lost_trace) do
          if before(l.at, e.at) and not before(l.at, (e.at - 40) & 0xFFFF) then
            lost[#lost + 1] = ("seq %d %s"):format(l.at, name(l))
          end
        end
        for j = math.max(1, k - 4), math.min(#r.trace, k + 6) do
          local t = r.trace[j]
          played[#played + 1] = ("%s%s@%d"):format(t.rec and "repaired " or "", name(t), t.at)
        end
        lines[#lines + 1] = ("  repair near seq %d: lost before it [%s]; B played [%s]"):format(e.at,
          table.concat(lost, ", "), table.concat(played, ", "))
        -- the packets before it as A sent them: sequence number, what the
        -- relay did, the status octets, the journal's checkpoint and Q
        for back = 12, 0, -1 do
          local sq = (e.at - back) & 0xFFFF
          local data, fate = by_seq[sq], "passed"
          if type(data) == "table" then data, fate = data.dropped, "DROPPED" end
          if data then
            local rtp = codec.decode_rtp(data)
            local midi = rtp and codec.decode_midi_payload(rtp.payload)
            local st = {}
            for _, cmd in ipairs(midi and midi.commands or {}) do
              st[#st + 1] = ("%02X"):format(cmd.bytes:byte(1))
            end
            local j, q = midi and midi.journal, nil
            q = j and j.system and j.system.Q
            lines[#lines + 1] = ("    seq %d %s [%s] journal%s%s"):format(sq, fate,
              table.concat(st, " "), j and (" checkpoint " .. tostring(j.checkpoint)) or " none",
              q and (" Q n=%s c=%s d=%s clock=%d s=%s"):format(tostring(q.n), tostring(q.c),
                tostring(q.d), q.clock, tostring(q.s)) or "")
          end
        end
      end
    end
    lines[#lines + 1] = ("  A: send errors %s, send queue drops %s; B: lost %s, late %s, duplicate %s, "
      .. "reordered %s"):format(tostring(r.a.send_errors), tostring(r.a.send_dropped), tostring(r.b.lost),
      tostring(r.b.late), tostring(r.b.duplicate), tostring(r.b.reordered))
    return table.concat(lines, "\n")
  end

  local function check(r, label)
    print(("\n  %s: %d messages, %d packets lost (%d with a part of the 2 KB SysEx; B counted %d, %d late), %d repairs, clocks %d/%d, transport lost %d, replayed %d"):format(
      label, r.n, r.lost, r.lost_parts, r.b.lost or -1, r.b.late or 0, r.b.messages_recovered, r.got.seq.clocks,
      r.sent.seq.clocks, r.lost_transport, r.recovered_transport))
    assert.is_true(r.lost > 0, "the relay lost nothing")
    assert.are.equal(1, #r.sent.sysex)
    assert.are.same({}, r.diffs)
    assert.are.equal(0, r.stuck)
    assert.are.equal(r.sent.seq.clocks, r.got.seq.clocks)
    -- Repairs play no transport command that was not lost. Lost for B is what
    -- the relay dropped and, on a loaded machine, a packet that came after
    -- its jitter-buffer wait (counted late, repaired from the next journal):
    -- each such packet carries at most the pacer's 3 messages.
    local late_bound = 3 * (r.b.late or 0)
    local ok = r.recovered_transport <= r.lost_transport + late_bound
    assert.is_true(ok, not ok and ("repair played %d transport commands, %d were lost (+%d late):\n%s"):format(
      r.recovered_transport, r.lost_transport, late_bound, transport_story(r)) or nil)
    assert.are.equal(0, r.b.unrecovered)
    assert.are.equal(0, r.b.bad_journals)
  end

  for _, loss in ipairs{ 0.10, 0.30 } do
    it(("converges under %d%% random loss"):format(math.floor(loss * 100)), function()
      check(run{ seed = 40 + math.floor(loss * 100), loss = loss, n = 6000 }, ("%d%% loss"):format(math.floor(loss * 100)))
    end)
  end

  it("converges after bursts of 20 consecutive lost packets", function()
    local drop = {}
    for _, start in ipairs{ 100, 500, 900 } do
      for k = start, start + 19 do drop[k] = true end
    end
    -- and one from the SysEx's first part on
    local r = run{ seed = 5, drop = drop, n = 6000, burst_at_sysex = true }
    assert.are.equal(80, r.lost)
    assert.is_true(r.lost_parts > 0, "the burst at the SysEx lost none of it")
    check(r, "bursts of 20")
  end)
end)

-- ---- a 2 KB SysEx through AppleMIDI (issue 17 item 8) ---------------------
-- The SysEx goes in parts paced by B's RS (csrc/proto/midi_stream.h),
-- through the two-way relay of spec/helper.lua, which loses A's RTP packets
-- at random or in a burst of 20 from the SysEx's first part on; it arrives
-- once, exact, before the note-off sent after it.
describe("a 2 KB SysEx through AppleMidiSession", function()
  local control = rtpmidi.RTPControl()
  local rel
  after_each(function()
    if rel then rel:close(); rel = nil end
    H.assert_clean()
  end)
  local FAST = { invite_interval = 50, ck_fast_interval = 100, ck_interval = 300, rs_interval = 50,
                 guard_interval = 20 }

  local function run(seed, loss, burst)
    local big = sysex_2k(seed)
    local x, armed, first, lost, lost_parts = seed, false, nil, 0, 0
    local function drop(n, data)
      if not armed then return false end
      first = first or n
      local d
      if burst then d = n < first + 20
      else
        x = (x * 6364136223846793005 + 1442695040888963407) & 0x7FFFFFFFFFFFFFFF
        d = (x >> 20) % 1000 < loss * 1000
      end
      if d then
        lost = lost + 1
        for off = 2, #big - 12, 16 do
          if data:find(big:sub(off, off + 11), 1, true) then lost_parts = lost_parts + 1 break end
        end
      end
      return d
    end
    local got = {}
    local b = H.apple(control, FAST, { incoming_midi = function(_, m) got[#got + 1] = m end })
    rel = H.apple_relay(b.config.port, drop)
    local joined = 0
    local a = H.apple(control, FAST, { participant_joined = function() joined = joined + 1 end })
    a:invite("127.0.0.1", rel.port)
    H.run_until(function() return joined == 1 and #b:participants() == 1 end, "joined through the relay")
    -- B's RS for a first note: A knows B gives feedback
    assert(a:send_midi("\x90\x3C\x64"))
    H.run_until(function() return #got == 1 and a:participants()[1].rs_received >= 1 end, "an RS from B")
    armed = true
    assert(a:send_midi(big))
    assert(a:send_midi("\x80\x3C\x40"))
    H.run_until(function() return got[#got] == "\x80\x3C\x40" end, "the note-off after the SysEx", 20000)
    print(("\n  AppleMIDI, %s: %d packets lost (%d with octets of the SysEx)"):format(
      burst and "a burst of 20" or ("%d%% loss"):format(math.floor(loss * 100)), lost, lost_parts))
    assert.are.same({ "\x90\x3C\x64", big, "\x80\x3C\x40" }, got)
    assert.are.equal(0, b:stats().sysex_dropped)
    control:remove_session(a.cookie); control:remove_session(b.cookie)
    rel:close(); rel = nil
    return lost, lost_parts
  end

  it("arrives exact under 10% and 30% random loss", function()
    local parts = 0
    for seed = 1, 3 do
      parts = parts + select(2, run(seed, 0.10))
      parts = parts + select(2, run(seed + 10, 0.30))
    end
    assert.is_true(parts > 0, "no part of the SysEx was lost")
  end)

  it("arrives exact after a burst of 20 lost packets from its first part on", function()
    local lost, parts = run(21, 0, true)
    assert.are.equal(20, lost)
    assert.is_true(parts > 0)
  end)
end)

-- ---- receiver options for senders that get the journal wrong -------------
-- A forged sender in the manner of one common implementation: S = 1 on
-- every structure (header, channel journal, chapter, log), checkpoint at
-- its first packet (it never removes logs), and Y = 0 on its note logs.
-- Each option, against the RFC default, changes what B plays after a loss.
describe("the journal receiver's options", function()
  local control = rtpmidi.RTPControl()
  local own = H.owned()
  after_each(function()
    own.release()
    H.assert_clean()
  end)

  local function rtp(seq, payload)
    return string.pack(">BBI2I4I4", 0x80, 97, seq, seq * 10, 0x5EED) .. payload
  end
  -- command section (one 3-octet command) with J = 1, then the journal:
  -- header |S=1|Y=0|A=1|H=0|TOTCHAN=0| checkpoint 1, one channel journal
  -- |S=1|CHAN=0|H=0|LENGTH| TOC, chapter(s) with S = 1
  local function packet(seq, cmd, toc, chapters)
    local chan = string.pack(">BBB", 0x80, 3 + #chapters, toc) .. chapters
    return rtp(seq, string.char(0x40 | #cmd) .. cmd .. string.pack(">BI2", 0xA0, 1) .. chan)
  end
  -- Chapter C, one log: |S=1|LEN=0| |S=1|NUMBER=7| |A=0|VALUE|
  local function chapter_c(volume) return string.char(0x80, 0x80 | 7, volume) end
  -- Chapter N, one log: |B=1|LEN=1| |LOW=15|HIGH=0| |S=1|NOTENUM| |Y=0|VELOCITY|
  local function chapter_n(note, vel) return string.char(0x81, 0xF0, 0x80 | note, vel) end

  -- B receives the packets given (seq -> datagram) in order; returns what
  -- it delivered as recovered.
  local function run(opts, packets, last)
    local sock = own.udp("127.0.0.1", 0)
    local pb = H.port()
    local repaired = {}
    local t = { peer_address = "127.0.0.1", sending_port = sock:port(), receiving_port = pb,
                rtcp_interval = 5, jitter_buffer_size = 0,
                incoming_midi = function(_, m, _, rec) if rec then repaired[#repaired + 1] = m end end }
    for k, v in pairs(opts) do t[k] = v end
    local b = rtpmidi.MidiSession(t)
    control:add_session(b)
    assert(control:start())
    for seq = 1, last do
      if packets[seq] then sock:send(packets[seq], "127.0.0.1", pb) end
    end
    local n = 0
    for _ in pairs(packets) do n = n + 1 end
    H.run_until(function() return b:stats().packets_received == n end, "B to take every packet")
    H.run_for(50)
    -- (leaving, B releases what sounds: not part of the repair)
    local got = { table.unpack(repaired) }
    control:remove_session(b.cookie)
    return got
  end

  it("journal_trust_s_bits = false reads a journal whose S bits are all 1 after a single loss", function()
    -- volume 100, then 50 in packet 4 (lost); packet 5's journal codes it
    -- with S = 1 like everything else
    local packets = {
      [1] = rtp(1, "\x03\xB0\x07\x64"), [2] = rtp(2, "\x03\xB0\x01\x05"), [3] = rtp(3, "\x03\xB0\x01\x06"),
      [5] = packet(5, "\xB0\x01\x07", 0x40, chapter_c(50)),
    }
    assert.are.same({}, run({}, packets, 5)) -- RFC 6295 A.1: nothing with S = 0, nothing lost
    assert.are.same({ "\xB0\x07\x32" }, run({ journal_trust_s_bits = false }, packets, 5))
    assert.are.same({}, run({ journal_trust_s_bits = true }, packets, 5))
  end)

  it("journal_honor_y = false plays the NoteOn of a Y = 0 log", function()
    -- a note struck in packet 4 (lost, like 5); packet 6's journal has its
    -- log with Y = 0
    local packets = {
      [1] = rtp(1, "\x03\xB0\x01\x05"), [2] = rtp(2, "\x03\xB0\x01\x06"), [3] = rtp(3, "\x03\xB0\x01\x07"),
      [6] = packet(6, "\xB0\x01\x08", 0x08, chapter_n(64, 90)),
    }
    assert.are.same({}, run({}, packets, 6)) -- RFC 4696 7.2: a late onset is not played
    assert.are.same({ "\x90\x40\x5A" }, run({ journal_honor_y = false }, packets, 6))
  end)

  it("are booleans", function()
    assert.has_error(function() rtpmidi.MidiSession{ journal_trust_s_bits = 1 } end)
    assert.has_error(function() rtpmidi.AppleMidiSession{ journal_honor_y = "no" } end)
  end)
end)
