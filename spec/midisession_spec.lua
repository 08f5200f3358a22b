local rtpmidi = require "rtpmidi"
local H = require "helper"

-- A seeded generator of MIDI messages of every kind.
local function generator(seed)
  local rng_state = seed
  local function rand(n) -- 1..n, a small LCG so the run is the same everywhere
    rng_state = (rng_state * 1103515245 + 12345) % 2147483648
    return rng_state % n + 1
  end
  local function d() return rand(128) - 1 end
  local kinds = {
    function() return string.char(0x90 + rand(16) - 1, d(), rand(127)) end,   -- note on
    function() return string.char(0x80 + rand(16) - 1, d(), d()) end,         -- note off
    function() return string.char(0xA0 + rand(16) - 1, d(), d()) end,         -- poly pressure
    function() return string.char(0xB0 + rand(16) - 1, rand(120) - 1, d()) end, -- control change
    function() return string.char(0xC0 + rand(16) - 1, d()) end,              -- program
    function() return string.char(0xD0 + rand(16) - 1, d()) end,              -- channel pressure
    function() return string.char(0xE0 + rand(16) - 1, d(), d()) end,         -- pitch bend
    function() return string.char(0xF1, d()) end,                             -- MTC quarter frame
    function() return string.char(0xF2, d(), d()) end,                        -- song position
    function() return string.char(0xF3, d()) end,                             -- song select
    function() return "\xF6" end,                                             -- tune request
    function() return string.char(({ 0xF8, 0xFA, 0xFB, 0xFC, 0xFE })[rand(5)]) end, -- real-time
    function()                                                                -- SysEx
      local n = rand(10) == 1 and rand(3000) or rand(40)
      local t = {}
      for i = 1, n do t[i] = string.char(d()) end
      return "\xF0" .. table.concat(t) .. "\xF7"
    end,
  }
  return function() return kinds[rand(#kinds)]() end
end

describe("MidiSession", function()
  local control = rtpmidi.RTPControl()
  after_each(H.assert_clean)

  local function pair(opts_a, opts_b)
    local pa, pb = H.port(), H.port()
    local ta = { peer_address = "127.0.0.1", sending_port = pb, receiving_port = pa }
    local tb = { peer_address = "127.0.0.1", sending_port = pa, receiving_port = pb }
    for k, v in pairs(opts_a or {}) do ta[k] = v end
    for k, v in pairs(opts_b or {}) do tb[k] = v end
    local a, b = rtpmidi.MidiSession(ta), rtpmidi.MidiSession(tb)
    control:add_session(a); control:add_session(b)
    assert(control:start())
    return a, b
  end

  it("carries 10,000 messages of every kind each way, intact and in order", function()
    local N = 10000
    local got = { a = {}, b = {} }
    local a, b = pair({ incoming_midi = function(_, m) got.a[#got.a + 1] = m end },
                      { incoming_midi = function(_, m) got.b[#got.b + 1] = m end })
    local gen_a, gen_b = generator(1), generator(2)
    local sent_a, sent_b = {}, {}
    local pacer = rtpmidi.every(1, function(t)
      -- a window of 200 messages in flight each way, 20 per loop turn
      for _ = 1, 20 do
        if #sent_a < N and #sent_a - #got.b < 200 then
          local m = gen_a(); sent_a[#sent_a + 1] = m; assert(a:send_midi(m))
        end
        if #sent_b < N and #sent_b - #got.a < 200 then
          local m = gen_b(); sent_b[#sent_b + 1] = m; assert(b:send_midi(m))
        end
      end
      if #sent_a == N and #sent_b == N then t:cancel() end
    end)
    H.run_until(function() return #got.a == N and #got.b == N end, "10,000 messages each way", 30000)
    pacer:cancel()
    for i = 1, N do
      if got.b[i] ~= sent_a[i] then error(("a->b message %d differs"):format(i)) end
      if got.a[i] ~= sent_b[i] then error(("b->a message %d differs"):format(i)) end
    end
    local sa, sb = a:stats(), b:stats()
    assert.are.equal(N, sa.messages_sent)
    assert.are.equal(N, sb.messages_received)
    assert.are.equal(0, sb.malformed)
    -- gathering: fewer packets than messages
    assert.is_true(sa.packets_sent < N, "packets " .. sa.packets_sent)
  end)

  it("gathers one loop turn into one packet with delta times from when each was given", function()
    local times, msgs = {}, {}
    local a, b = pair(nil, { incoming_midi = function(_, m, t, rec)
      msgs[#msgs + 1] = m; times[#times + 1] = t; assert.is_false(rec)
    end })
    local span -- the most time that can have passed between the two calls
    rtpmidi.after(1, function()
      local before = rtpmidi.now()
      assert(a:send_midi("\x90\x3c\x64"))
      local t0 = rtpmidi.now()
      while rtpmidi.now() - t0 < 5 do end -- 5 ms pass inside the same turn
      assert(a:send_midi("\x80\x3c\x00\x90\x40\x64"))
      span = rtpmidi.now() - before
    end)
    H.run_until(function() return #msgs == 3 end, "three messages")
    assert.are.same({ "\x90\x3c\x64", "\x80\x3c\x00", "\x90\x40\x64" }, msgs)
    assert.are.equal(1, a:stats().packets_sent)
    local gap = times[2] - times[1]
    -- the delta is the time between the calls, at the clock's 0.1 ms resolution
    assert.is_true(gap >= 4.9 and gap <= span + 0.1, ("gap %.3f ms, calls %.3f ms apart"):format(gap, span))
    assert.are.equal(times[2], times[3])
    -- the time is on the local clock, no later than arrival
    assert.is_true(times[3] <= rtpmidi.now())
  end)

  it("splits a 64 KiB SysEx across packets and reassembles it", function()
    local got
    local a = pair(nil, { incoming_midi = function(_, m) got = m end })
    local t = {}
    for i = 1, 65536 do t[i] = string.char(i % 128) end
    local sysex = "\xF0" .. table.concat(t) .. "\xF7"
    assert(a:send_midi(sysex))
    H.run_until(function() return got end, "the SysEx", 10000)
    assert.are.equal(#sysex, #got)
    assert.is_true(got == sysex)
    assert.is_true(a:stats().packets_sent >= 65538 // 1200)
  end)

  it("works at 44,100 Hz", function()
    local times = {}
    local a = pair({ clock_rate = 44100 }, { clock_rate = 44100, incoming_midi = function(_, _, t) times[#times + 1] = t end })
    assert.are.equal(44100, a.config.clock_rate)
    local span
    rtpmidi.after(1, function()
      local before = rtpmidi.now()
      a:send_midi("\xF8")
      local t0 = rtpmidi.now()
      while rtpmidi.now() - t0 < 2 do end
      a:send_midi("\xF8")
      span = rtpmidi.now() - before
    end)
    H.run_until(function() return #times == 2 end, "two clocks")
    local gap = times[2] - times[1]
    assert.is_true(gap >= 1.97 and gap <= span + 0.03, ("gap %.3f ms, calls %.3f ms apart"):format(gap, span))
  end)

  it("counts and drops malformed payloads, and keeps delivering", function()
    local msgs = {}
    local a, b = pair(nil, { incoming_midi = function(_, m) msgs[#msgs + 1] = m end })
    local bad = {
      "\x05\x90\x3c",          -- LEN past the end
      "\x02\x90\x3c\x64",      -- a delta time... LEN 2 cuts the note on: truncated
      "\x23\x00\x90\x3c",      -- Z: delta 0 then a command cut short
      "\x01\x3c",              -- a data byte with no status
      "\x03\x90\x3c\x90",      -- a status byte inside data
      "\x21\x05",              -- Z and a delta time with no command
      "",                      -- no header at all
    }
    for _, p in ipairs(bad) do assert(a._core:send(p)) end
    assert(a:send_midi("\x90\x3c\x64"))
    H.run_until(function() return #msgs == 1 end, "the good message")
    H.run_for(10)
    assert.are.same({ "\x90\x3c\x64" }, msgs)
    local st = b:stats()
    assert.are.equal(#bad, st.malformed)
    assert.are.equal(#bad, st.malformed_payloads)
  end)

  it("rejects bytes that are not complete MIDI messages, queueing nothing", function()
    local msgs = {}
    local a = pair(nil, { incoming_midi = function(_, m) msgs[#msgs + 1] = m end })
    local ok, err = a:send_midi("\x90\x3c\x64\x3c") -- running status, then a cut message
    assert.is_nil(ok)
    assert.matches("invalid MIDI", err)
    ok, err = a:send_midi("\x3c\x64")
    assert.is_nil(ok)
    assert.matches("invalid MIDI", err)
    assert.error_matches(function() a:send_midi(60) end, "bad argument 'bytes'")
    assert(a:send_midi("\x90\x3c\x64\x3e\x64")) -- running status is fine
    H.run_until(function() return #msgs == 2 end, "two notes")
    assert.are.same({ "\x90\x3c\x64", "\x90\x3e\x64" }, msgs)
  end)

  it("validates its options", function()
    local function ms(over)
      local t = { peer_address = "127.0.0.1", sending_port = 5004 }
      for k, v in pairs(over) do t[k] = v end
      return rtpmidi.MidiSession(t)
    end
    assert.error_matches(function() ms{ latency = -1 } end, "bad argument 'latency'")
    assert.error_matches(function() ms{ recovery = 1 } end, "bad argument 'recovery'")
    assert.error_matches(function() ms{ payload_budget = 0 } end, "bad argument 'payload_budget'")
    assert.error_matches(function() ms{ payload = 300 } end, "bad argument 'payload'")
    local s = ms{}
    -- the payload type is the C core's default (97), left out of the config
    -- (options_spec sees 97 on the wire)
    assert.is_nil(s.config.payload)
    assert.are.equal(20, s.config.latency)
    assert.is_true(s.config.recovery)
    s:set_latency(5)
    assert.are.equal(5, s:get_latency())
    assert.error_matches(function() s:set_latency("x") end, "bad argument 'ms'")
    -- the original guide's positional form: the 4th argument is the jitter
    -- buffer, as how-to-use-rtp.txt has it; the latency keeps its default
    local positional = rtpmidi.MidiSession("127.0.0.1", 5004, 5006, 30)
    assert.are.equal(30, positional.config.jitter_buffer_size)
    assert.are.equal(20, positional.config.latency)
    assert.are.same({ "127.0.0.1", 5004, 5006 }, { positional.config.peer_address,
      positional.config.sending_port, positional.config.receiving_port })
    local defaults = rtpmidi.MidiSession("127.0.0.1", 5004)   -- the guide's defaults
    assert.are.equal(10, defaults.config.jitter_buffer_size)
    -- a 5th argument is not the guide's: it raises rather than mean something else
    assert.error_matches(function() rtpmidi.MidiSession("127.0.0.1", 5004, 5006, 30, 15) end,
      "bad argument #5 %(at most 4 arguments expected, got 5%)")
  end)
end)

describe("rtpmidi.codec", function()
  local codec = rtpmidi.codec

  it("encodes and decodes RTP headers", function()
    local p = codec.encode_rtp{ payload_type = 97, sequence = 0xABCD, timestamp = 0x01020304,
                                ssrc = 0xDEADBEEF, marker = true, payload = "xyz" }
    assert.are.equal("\x80\xE1\xAB\xCD\x01\x02\x03\x04\xDE\xAD\xBE\xEFxyz", p)
    local h = assert(codec.decode_rtp(p))
    assert.are.same({ version = 2, payload_type = 97, sequence = 0xABCD, timestamp = 0x01020304,
                      ssrc = 0xDEADBEEF, marker = true, padding = false, extension = false,
                      csrc = {}, payload = "xyz" }, h)
    local bad, err = codec.decode_rtp("\x80\x60\x00")
    assert.is_nil(bad)
    assert.matches("truncated", err)
    assert.error_matches(function() codec.encode_rtp{ payload_type = 128 } end, "bad argument 'payload_type'")
  end)

  it("encodes MIDI payloads with running status and decodes them", function()
    local payload, n = codec.encode_midi_payload{
      { delta = 0, bytes = "\x90\x3c\x64" },
      { delta = 10, bytes = "\x90\x40\x64" },
      { delta = 200, bytes = "\xF8" },
    }
    assert.are.equal(3, n)
    -- header LEN 9; note on; delta 10; running status 40 64; delta 200 (81 48); F8
    assert.are.equal("\x09\x90\x3c\x64\x0a\x40\x64\x81\x48\xF8", payload)
    local d = assert(codec.decode_midi_payload(payload))
    assert.are.same({
      { delta = 0, time = 0, bytes = "\x90\x3c\x64" },
      { delta = 10, time = 10, bytes = "\x90\x40\x64" },
      { delta = 200, time = 210, bytes = "\xF8" },
    }, d.commands)
    assert.is_false(d.j)
    assert.is_nil(d.journal)
    local with_journal = codec.encode_midi_payload({ { bytes = "\xC0\x05" } }, { journal = "JJ" })
    local dj = assert(codec.decode_midi_payload(with_journal))
    assert.is_true(dj.j)
    -- a journal that does not parse: its octets and why
    assert.are.equal("JJ", dj.journal.raw)
    assert.are.equal("truncated", dj.journal.error)
  end)

  it("returns nil and the reason for bad payloads", function()
    local cases = {
      { "\x05\x90\x3c", "past the end" },
      { "\x01\x3c", "status" },
      { "\x03\x90\x3c\x90", "status" },
      { "\x21\x05", "delta" },
    }
    for _, c in ipairs(cases) do
      local r, err = codec.decode_midi_payload(c[1])
      assert.is_nil(r)
      assert.is_string(err)
      assert.matches(c[2], err:lower(), 1, true)
    end
    assert.error_matches(function() codec.encode_midi_payload{ { bytes = "\x90\x3c" } } end, "bad argument 'commands'")
  end)
end)
