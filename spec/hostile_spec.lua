-- Hostile peers: floods of malformed, spoofed and unknown packets against a
-- MidiSession and an AppleMidiSession that carry real traffic from a
-- legitimate peer at the same time. The real traffic must arrive complete
-- and in order, every bad packet must be counted (per kind, where the
-- counters tell kinds apart), memory must stay flat, and an invitation
-- flood must stay within the session's limits.
local rtpmidi = require "rtpmidi"
local core = require "rtpmidi.core"
local H = require "helper"

local control = rtpmidi.RTPControl()
local codec = rtpmidi.codec

-- ASan keeps freed memory in a quarantine (up to 256 MiB): RSS says nothing there.
local SANITIZED = (os.getenv("LD_PRELOAD") or ""):find("asan") ~= nil

local function rss_kib()
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmRSS:%s*(%d+)"))
end

local function settled_rss()
  collectgarbage("collect")
  collectgarbage("collect")
  return rss_kib()
end

-- A 64-bit LCG: the same packets on every run.
local function generator(seed)
  local x = seed
  return function(n)
    x = x * 6364136223846793005 + 1442695040888963407
    return ((x >> 33) % n)
  end
end

local function bytes(rand, n)
  local t = {}
  for i = 1, n do t[i] = string.char(rand(256)) end
  return table.concat(t)
end

local function rtp(seq, ts, ssrc, payload, pt, first)
  return string.pack(">BBI2I4I4", first or 0x80, pt or 97, seq & 0xffff, ts & 0xffffffff, ssrc) .. (payload or "")
end

-- A legitimate message numbered i: pitch bend carries 14 bits.
local function message(i)
  return string.char(0xE0 | (i // 16384 % 16), i % 128, i // 128 % 128)
end

-- Checks the real messages as they come (message(0), message(1), ...),
-- without keeping them: memory must not grow with the stream.
local function in_order()
  local c = { n = 0 }
  function c.add(m, recovered)
    if not c.bad and (m ~= message(c.n) or recovered) then
      c.bad = ("real message %d: got %q recovered=%s"):format(c.n, m, tostring(recovered))
    end
    c.n = c.n + 1
  end
  return c
end

local function note(fmt, ...)
  io.stderr:write("\n  [hostile] ", fmt:format(...))
end

describe("hostile peers", function()
  local own = H.owned()
  local udp, every = own.udp, own.every
  after_each(function()
    own.release()
    H.assert_clean()
  end)

  -- Sends `total` packets made by make(i) -> sock, data, host, port at full
  -- rate, at most `window` ahead of what processed() says the victim has
  -- handled (so that loopback never drops one). Calls on_progress(sent).
  local function flood(total, window, make, processed, on_progress)
    local sent = 0
    local t = every(1, function(self)
      local done = processed()
      while sent < total and sent - done < window do
        sent = sent + 1
        local sock, data, host, port = make(sent)
        assert(sock:send(data, host, port))
      end
      if on_progress then on_progress(sent) end
      if sent == total then self:cancel() end
    end)
    return function() return sent end, t
  end

  it("MidiSession: 100,000 malformed, foreign and spoofed packets while a real peer streams", function()
    local pa, pb = H.port(), H.port()
    local got, drops = in_order(), {}
    local a = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = pb, receiving_port = pa }
    local b = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = pa, receiving_port = pb,
      jitter_buffer_size = 20,
      incoming_midi = function(_, m, _, recovered) got.add(m, recovered) end,
      drop_call = function(_, _, reason, detail) drops[#drops + 1] = reason .. ": " .. detail end }
    control:add_session(a)
    control:add_session(b)
    assert(control:start())
    -- the real peer first, so that B knows its SSRC
    assert(a:send_midi(message(0)))
    local legit = 1
    H.run_until(function() return got.n == 1 end, "the real peer's first message")
    local ssrc_a, ssrc_b = a:stats().ssrc, b:stats().ssrc
    assert.are.equal(ssrc_a, b:stats().peer_ssrc)

    local other = udp("127.0.0.1")          -- the peer's address, another port
    local spoof = udp("127.0.0.2")          -- another local address
    local rand = generator(42)
    local function ssrc()
      local s
      repeat s = rand(1 << 31) * 2 + rand(2) until s ~= ssrc_a and s ~= ssrc_b
      return s
    end
    -- kind -> { counters it must move }, builder(i) -> sock, data, port offset
    local kinds = {
      { "rtp truncated", { malformed = 1 }, function() return other, "\x80" .. bytes(rand, rand(11)), 0 end },
      { "rtp version 0/1/3", { malformed = 1 }, function()
        return other, string.char(({ 0x00, 0x40, 0xC0 })[rand(3) + 1]) .. bytes(rand, 11 + rand(40)), 0 end },
      { "rtp bad padding", { malformed = 1 }, function()
        local payload = bytes(rand, rand(8))
        local pad = rand(2) == 0 and 0 or #payload + 2 + rand(200) -- more than it holds
        return other, rtp(rand(65536), 0, ssrc(), payload .. string.char(pad % 256 == 0 and 0 or pad % 256), 97, 0xA0), 0
      end },
      { "rtp csrc/extension past the end", { malformed = 1 }, function()
        return other, string.char(0x80 | 0x0f) .. bytes(rand, 11 + rand(20)), 0 end },
      { "rtcp on the rtp port", { malformed = 1 }, function()
        return other, string.pack(">BBI2I4", 0x80, 200 + rand(5), 1, ssrc()), 0 end },
      { "rtp wrong payload type", { malformed = 1 }, function()
        return other, rtp(rand(65536), rand(1 << 30), ssrc(), bytes(rand, rand(30)), 96), 0 end },
      { "rtp unknown ssrc (bad MIDI payload)", { foreign = 1, unknown_ssrc = 1 }, function()
        return other, rtp(rand(65536), rand(1 << 30), ssrc(), "\x0f\x90" .. bytes(rand, rand(20))), 0 end },
      { "rtp unknown ssrc (journal claiming 1023 octets)", { foreign = 1, unknown_ssrc = 1 }, function()
        return other, rtp(rand(65536), rand(1 << 30), ssrc(), "\x43\xe0\x01\x02\x20\x00\x01\x03\xff\x80"), 0 end },
      { "rtcp garbage", { malformed = 1 }, function()
        return other, string.char(rand(128)) .. bytes(rand, 3 + rand(60)), 1 end },
      { "rtcp length past the end", { malformed = 1 }, function()
        return other, string.pack(">BBI2I4", 0x80, 201, 7 + rand(100), ssrc()) .. bytes(rand, 4), 1 end },
      { "rtcp unknown ssrc", { foreign = 1, unknown_ssrc = 1 }, function()
        return other, string.pack(">BBI2I4", 0x80, 201, 1, ssrc()), 1 end },
      { "spoofed rtp with the peer's ssrc from 127.0.0.2", { foreign = 1 }, function()
        return spoof, rtp(rand(65536), rand(1 << 30), ssrc_a, "\x03\x90\x3c\x40"), 0 end },
      { "spoofed rtcp BYE for the peer from 127.0.0.2", { foreign = 1 }, function()
        return spoof, string.pack(">BBI2I4BBI2I4", 0x80, 201, 1, ssrc_a, 0x81, 203, 1, ssrc_a), 1 end },
      { "garbage from 127.0.0.2", { foreign = 1 }, function()
        return spoof, bytes(rand, 1 + rand(100)), rand(2) end },
    }
    local per_kind, want = {}, { malformed = 0, foreign = 0, unknown_ssrc = 0 }
    local function make(i)
      local k = kinds[(i - 1) % #kinds + 1]
      local sock, data, off = k[3]()
      per_kind[k[1]] = (per_kind[k[1]] or 0) + 1
      for c, n in pairs(k[2]) do want[c] = want[c] + n end
      return sock, data, "127.0.0.1", pb + off
    end
    local function processed()
      local st = b:stats()
      return st.malformed + st.foreign
    end

    -- the real peer streams all along, a window ahead of what B delivered
    local streaming = true
    every(1, function()
      for _ = 1, 4 do
        if streaming and legit - got.n < 64 then
          assert(a:send_midi(message(legit)))
          legit = legit + 1
        end
      end
    end)

    local TOTAL, WARMUP = 100000, 10000
    local rss0
    local t0 = rtpmidi.now()
    local sent = flood(TOTAL, 256, make, processed, function(n)
      if not rss0 and n >= WARMUP and processed() >= WARMUP then rss0 = settled_rss() end
    end)
    H.run_until(function() return sent() == TOTAL and processed() == TOTAL end,
                "every hostile packet handled", 120000)
    local elapsed = rtpmidi.now() - t0
    streaming = false
    H.run_until(function() return got.n == legit end, "the real peer's messages", 10000)
    local rss1 = settled_rss()

    -- the real traffic: complete, in order, nothing made up by the journal
    assert.is_nil(got.bad)
    -- every hostile packet counted, per counter
    local st = b:stats()
    assert.are.equal(want.malformed, st.malformed)
    assert.are.equal(want.foreign, st.foreign)
    assert.are.equal(want.unknown_ssrc, st.unknown_ssrc)
    assert.are.equal(TOTAL, st.malformed + st.foreign)
    assert.are.equal(0, st.malformed_payloads + st.lost + st.duplicate + st.late + st.loops + st.ssrc_collisions)
    assert.are.equal(ssrc_a, st.peer_ssrc)
    assert.are.equal(legit, st.messages_received)
    assert.are.same({}, drops)  -- the spoofed BYE did not end anything
    note("MidiSession: %d hostile packets (%d kinds) in %.0f ms with %d real messages; malformed %d, " ..
         "foreign %d (unknown_ssrc %d); RSS %d -> %d KiB", TOTAL, #kinds, elapsed, legit, st.malformed,
         st.foreign, st.unknown_ssrc, rss0, rss1)
    if not SANITIZED then
      assert.is_true(rss1 - rss0 < 2048, ("RSS grew by %d KiB"):format(rss1 - rss0))
    end
  end)

  it("MidiSession: the peer itself sends bad payloads, huge journals and oversized SysEx among good packets", function()
    local pa, pb = H.port(), H.port()
    local got = {}
    local b = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = pa, receiving_port = pb,
      jitter_buffer_size = 0, max_sysex = 256,
      incoming_midi = function(_, m, _, recovered) got[#got + 1] = { m = m, recovered = recovered } end }
    control:add_session(b)
    assert(control:start())
    local peer = udp("127.0.0.1", pa)       -- the peer's RTP port ...
    udp("127.0.0.1", pa + 1):recv(function() end) -- ... and its RTCP port (B reports there)
    local SSRC = 0x1234567
    local seq, ts, good = 1000, 0, 0
    local want = { malformed = 0, malformed_payloads = 0, bad_journals = 0, sysex_dropped = 0,
                   lost = 0, duplicate = 0 }
    local last_good
    local function good_packet(journal)
      local payload = assert(codec.encode_midi_payload({ { delta = 0, bytes = message(good) } },
                                                      journal and { journal = journal } or nil))
      good = good + 1
      return payload
    end
    local bad_sections = {
      "\x0a\x90\x3c\x40",            -- LEN runs past the end
      "\x8f\xff\x90\x3c\x40",        -- B: a 12-bit LEN far past the end
      "\x03\x3c\x40\x00",            -- a data byte with no status
      "",                            -- no command section at all
      "\x02\x90\x3c",                -- a truncated message
      "\x01\xf7",                    -- a lone end of SysEx
    }
    for _, p in ipairs(bad_sections) do assert.is_nil(codec.decode_midi_payload(p)) end
    -- journals whose chapters claim 1023 octets (system journal; channel journal)
    local huge_journals = { "\x40\x00\x01\x03\xff\x00", "\x20\x00\x01\x03\xff\x80\x01\x02\x03" }
    local big_sysex = assert(codec.encode_midi_payload({ { delta = 0, bytes = "\xf0" .. ("\x01"):rep(298) .. "\xf7" } }))
    local function make(i)
      local kind = (i - 1) % 8
      local data
      ts = ts + 10
      if kind == 0 or kind == 4 then         -- good
        data = rtp(seq, ts, SSRC, good_packet())
        last_good = data
        seq = seq + 1
      elseif kind == 1 then                  -- a bad command section
        data = rtp(seq, ts, SSRC, bad_sections[i // 8 % #bad_sections + 1])
        seq = seq + 1
        want.malformed, want.malformed_payloads = want.malformed + 1, want.malformed_payloads + 1
      elseif kind == 2 then                  -- a loss, then good commands with a journal claiming 1023 octets
        seq = seq + 1
        want.lost = want.lost + 1
        data = rtp(seq, ts, SSRC, good_packet(huge_journals[i // 8 % 2 + 1]))
        seq = seq + 1
        want.bad_journals = want.bad_journals + 1
      elseif kind == 3 then                  -- a SysEx over max_sysex
        data = rtp(seq, ts, SSRC, big_sysex)
        seq = seq + 1
        want.sysex_dropped = want.sysex_dropped + 1
      elseif kind == 5 then                  -- a copy of the last good packet
        data = last_good or rtp(seq - 1, ts, SSRC, "\x00")
        if last_good then want.duplicate = want.duplicate + 1 else want.malformed = want.malformed + 1 end
      elseif kind == 6 then                  -- wrong payload type, the peer's SSRC
        data = rtp(seq, ts, SSRC, good_packet(), 96)
        good = good - 1
        want.malformed = want.malformed + 1
      else                                   -- bad RTP from the peer's own port
        data = string.char(0x40) .. ("\0"):rep(15)
        want.malformed = want.malformed + 1
      end
      return peer, data, "127.0.0.1", pb
    end
    local function processed()
      local st = b:stats()
      return st.packets_received + st.malformed - st.malformed_payloads
    end
    local TOTAL = 24000
    local sent = flood(TOTAL, 128, make, processed)
    H.run_until(function() return sent() == TOTAL and processed() == TOTAL end, "every packet handled", 60000)
    H.run_until(function() return #got == good end, "the good messages", 5000)
    for i = 1, good do
      if got[i].m ~= message(i - 1) or got[i].recovered then
        error(("good message %d: got %q recovered=%s"):format(i, got[i].m, tostring(got[i].recovered)))
      end
    end
    local st = b:stats()
    for k, v in pairs(want) do assert.are.equal(v, st[k], k) end
    assert.are.equal(0, st.foreign + st.late + st.messages_recovered + st.repairs)
    note("MidiSession bad payloads: %d packets, %d good messages delivered; malformed %d (payloads %d), " ..
         "bad_journals %d, sysex_dropped %d, lost %d, duplicate %d", TOTAL, good, st.malformed,
         st.malformed_payloads, st.bad_journals, st.sysex_dropped, st.lost, st.duplicate)
  end)

  -- AppleMIDI by hand
  local function am(cmd, body) return "\xff\xff" .. cmd .. body end
  local function invitation(cmd, token, ssrc, name)
    return am(cmd, string.pack(">I4I4I4", 2, token, ssrc) .. (name and name .. "\0" or ""))
  end

  local AM_FAST = { invite_interval = 50, ck_fast_interval = 100, ck_interval = 300, rs_interval = 200 }
  local function apple(opts) return H.apple(control, AM_FAST, opts) end

  it("AppleMidiSession: 100,000 bad control and data packets while a participant streams", function()
    local got, left = in_order(), {}
    local v = apple{ name = "victim",
      incoming_midi = function(_, m, _, recovered) got.add(m, recovered) end,
      participant_left = function(_, p, reason) left[#left + 1] = p.name .. " " .. reason end }
    local joined = false
    local l = apple{ name = "legit", participant_joined = function() joined = true end }
    assert(l:invite("127.0.0.1", v.config.port))
    H.run_until(function() return joined and #v:participants() == 1 end, "the participant", 3000)
    local ssrc_l, ssrc_v = l:stats().ssrc, v:stats().ssrc
    local P = v.config.port

    local other = udp("127.0.0.1")
    local spoof = udp("127.0.0.2")
    local rand = generator(7)
    local function ssrc()
      local s
      repeat s = rand(1 << 31) * 2 + rand(2) until s ~= ssrc_l and s ~= ssrc_v
      return s
    end
    local long = ("n"):rep(65)
    local kinds = {
      { "wrong signature", "bad_signature", function()
        return other, "\xfe\xff" .. bytes(rand, 2 + rand(30)), rand(2) end },
      { "shorter than a header", "bad_signature", function()
        return other, string.char(0xff) .. bytes(rand, rand(2)), 0 end },
      { "unknown command", "unknown_command", function()
        return other, am("Z" .. string.char(65 + rand(26)), bytes(rand, 12)), rand(2) end },
      { "IN with a name past 64 octets", "bad_name", function()
        return other, invitation("IN", rand(1 << 30), ssrc(), long .. ("x"):rep(rand(100))), rand(2) end },
      { "IN with a name without NUL", "bad_name", function()
        return other, invitation("IN", rand(1 << 30), ssrc()) .. "nameless", rand(2) end },
      { "CK of the wrong length", "malformed", function()
        return other, am("CK", string.pack(">I4", ssrc()) .. bytes(rand, rand(20))), 1 end },
      { "CK with count 3..255", "malformed", function()
        return other, am("CK", string.pack(">I4BBI2I8I8I8", ssrc(), 3 + rand(250), 0, 0, 1, 2, 3)), 1 end },
      { "CK from an unknown SSRC", "unknown_ssrc", function()
        return other, am("CK", string.pack(">I4BBI2I8I8I8", ssrc(), 0, 0, 0, 1, 0, 0)), 1 end },
      { "RS from an unknown SSRC", "unknown_ssrc", function()
        return other, am("RS", string.pack(">I4I4", ssrc(), rand(1 << 30))), 0 end },
      { "BY from an unknown SSRC", "unknown_ssrc", function()
        return other, invitation("BY", rand(1 << 30), ssrc()), 0 end },
      { "RTP from an unknown SSRC", "unknown_ssrc", function()
        return other, rtp(rand(65536), rand(1 << 30), ssrc(), "\x43\xe0\x01\x02\x20\x00\x01\x03\xff\x80"), 1 end },
      { "RTP truncated", "malformed", function()
        return other, "\x80" .. bytes(rand, rand(11)), 1 end },
      { "spoofed RTP with the participant's SSRC from 127.0.0.2", "foreign", function()
        return spoof, rtp(rand(65536), rand(1 << 30), ssrc_l, "\x03\x90\x3c\x40"), 1 end },
      { "spoofed BY for the participant from 127.0.0.2", "foreign", function()
        return spoof, invitation("BY", rand(1 << 30), ssrc_l), 0 end },
      { "spoofed CK for the participant from 127.0.0.2", "foreign", function()
        return spoof, am("CK", string.pack(">I4BBI2I8I8I8", ssrc_l, 0, 0, 0, 1, 0, 0)), 1 end },
      { "spoofed RS for the participant from 127.0.0.2", "foreign", function()
        return spoof, am("RS", string.pack(">I4I4", ssrc_l, 0)), 0 end },
    }
    local COUNTERS = { "bad_signature", "unknown_command", "bad_name", "malformed", "unknown_ssrc", "foreign" }
    local want, base = {}, v:stats()
    for _, c in ipairs(COUNTERS) do want[c] = base[c] end
    local function make(i)
      local k = kinds[(i - 1) % #kinds + 1]
      local sock, data, off = k[3]()
      want[k[2]] = want[k[2]] + 1
      return sock, data, "127.0.0.1", P + off
    end
    local function processed()
      local st, n = v:stats(), 0
      for _, c in ipairs(COUNTERS) do n = n + st[c] - base[c] end
      return n
    end
    local legit, streaming = 0, true
    every(1, function()
      for _ = 1, 4 do
        if streaming and legit - got.n < 64 then
          assert(l:send_midi(message(legit)))
          legit = legit + 1
        end
      end
    end)
    local TOTAL, WARMUP = 100000, 10000
    local rss0
    local t0 = rtpmidi.now()
    local sent = flood(TOTAL, 256, make, processed, function(n)
      if not rss0 and n >= WARMUP and processed() >= WARMUP then rss0 = settled_rss() end
    end)
    H.run_until(function() return sent() == TOTAL and processed() == TOTAL end,
                "every hostile packet handled", 120000)
    local elapsed = rtpmidi.now() - t0
    streaming = false
    H.run_until(function() return got.n == legit end, "the participant's messages", 10000)
    local rss1 = settled_rss()
    assert.is_nil(got.bad)
    local st = v:stats()
    for _, c in ipairs(COUNTERS) do assert.are.equal(want[c], st[c], c) end
    assert.are.equal(0, st.lost + st.duplicate + st.journal_errors)
    assert.are.equal(1, #v:participants())
    assert.are.same({}, left)
    note("AppleMidiSession: %d hostile packets (%d kinds) in %.0f ms with %d real messages; bad_signature %d, " ..
         "unknown_command %d, bad_name %d, malformed %d, unknown_ssrc %d, foreign %d; RSS %d -> %d KiB",
         TOTAL, #kinds, elapsed, legit, st.bad_signature, st.unknown_command, st.bad_name, st.malformed,
         st.unknown_ssrc, st.foreign, rss0, rss1)
    if not SANITIZED then
      assert.is_true(rss1 - rss0 < 2048, ("RSS grew by %d KiB"):format(rss1 - rss0))
    end
  end)

  it("AppleMidiSession: an invitation flood stays within max_participants and invitations_per_second", function()
    local got, joins = {}, 0
    -- the defaults: 32 participants, 20 invitations per second
    local v = apple{ name = "victim",
      participant_joined = function() joins = joins + 1 end,
      incoming_midi = function(_, m) got[#got + 1] = m end }
    local l = apple{ name = "legit" }
    assert(l:invite("127.0.0.1", v.config.port))
    H.run_until(function() return joins == 1 end, "the participant", 3000)
    local P = v.config.port
    local ctrl, data = udp("127.0.0.1"), udp("127.0.0.1")
    local ok, no, token_ssrc = 0, 0, {}
    ctrl:recv(function(d)
      if d:sub(3, 4) == "OK" then
        ok = ok + 1
        local _, token = string.unpack(">I4I4", d, 5)
        -- complete the join on the data port, as a real peer would
        assert(data:send(invitation("IN", token, token_ssrc[token], "flood"), "127.0.0.1", P + 1))
      elseif d:sub(3, 4) == "NO" then
        no = no + 1
      end
    end)
    data:recv(function() end)
    local TOTAL, i = 1000, 0
    local t0 = rtpmidi.now()
    local legit = 0
    -- 1000 invitations, each from a new SSRC, spread over about two seconds
    every(2, function(t)
      for _ = 1, 1 do
        if i < TOTAL then
          i = i + 1
          token_ssrc[i] = 0x50000000 + i
          assert(ctrl:send(invitation("IN", i, token_ssrc[i], "flood" .. i), "127.0.0.1", P))
        end
      end
      legit = legit + 1
      assert(l:send_midi(message(legit)))
      if i == TOTAL then t:cancel() end
    end)
    local function answered()
      local st = v:stats()
      return st.invitations_dropped + st.invitations_refused + ok
    end
    H.run_until(function() return i == TOTAL and answered() == TOTAL end, "every invitation handled", 20000)
    local elapsed = (rtpmidi.now() - t0) / 1000
    H.run_until(function() return joins == 32 and #got == legit end, "the joins and the real messages", 5000)
    local st = v:stats()
    assert.are.equal(31, ok)                     -- 32 participants with the real one
    assert.are.equal(32, #v:participants())
    assert.are.equal(no, st.invitations_refused)
    assert.are.equal(TOTAL, st.invitations_dropped + st.invitations_refused + ok)
    -- answered (OK or NO) at most at the rate, after a burst of one second's worth
    assert.is_true(ok + no <= 20 + 20 * (elapsed + 0.5), ("%d answers in %.2f s"):format(ok + no, elapsed))
    assert.is_true(st.invitations_dropped >= TOTAL - 20 - 20 * elapsed - 1)
    for k = 1, legit do assert.are.equal(message(k), got[k]) end
    note("invitation flood: %d IN in %.2f s -> %d OK, %d NO (full), %d dropped (rate); %d participants; " ..
         "%d real messages delivered", TOTAL, elapsed, ok, no, st.invitations_dropped, #v:participants(), legit)
    -- our own invitations obey the limit too
    local r, err, code = v:invite("127.0.0.1", H.port())
    assert.is_nil(r)
    assert.are.equal("ENOBUFS", code, err)
  end)

  it("limits are options with safe defaults, and misuse names them", function()
    local base = { peer_address = "127.0.0.1", sending_port = H.port(), receiving_port = H.port() }
    local function midi(extra)
      local t = {}
      for k, v in pairs(base) do t[k] = v end
      for k, v in pairs(extra) do t[k] = v end
      return rtpmidi.MidiSession(t)
    end
    for _, v in ipairs{ 0, -1, 32768, 1.5, "8" } do
      assert.has_error(function() midi{ journal_history = v } end,
        ("bad argument 'journal_history' (integer 1..32767 (packets) expected, got %s)"):format(tostring(v)))
    end
    for k, bad in pairs{ max_participants = { 0, 2.5 }, invitations_per_second = { 0, -3, "x" },
                         journal_history = { 0, 40000 }, jitter_buffer_packets = { 1, 40000, 3.5 } } do
      for _, v in ipairs(bad) do
        assert.has_error(function() rtpmidi.AppleMidiSession{ [k] = v } end)
        local ok, err = pcall(rtpmidi.AppleMidiSession, { [k] = v })
        assert.is_false(ok)
        assert.matches("bad argument '" .. k .. "'", err, 1, true)
      end
    end
    -- the journal reaches back journal_history packets when nothing trims it
    local function checkpoints(history)
      local sink = udp("127.0.0.1")
      local last, n = nil, 0
      sink:recv(function(d)
        n = n + 1
        local r = codec.decode_rtp(d)
        local pl = r and codec.decode_midi_payload(r.payload)
        if n <= 40 and pl and pl.journal then last = { r.sequence, pl.journal.checkpoint } end
      end)
      local m = midi{ sending_port = sink:port(), rtcp_interval = 3600, journal_history = history }
      control:add_session(m)
      assert(control:start_session(m.cookie))
      for i = 1, 40 do
        assert(m:send_midi(string.char(0x90, i, 100)))
        assert(m:flush())
      end
      H.run_until(function() return n >= 40 end, "the packets", 2000)
      control:remove_session(m.cookie)
      return (last[1] - last[2]) & 0xffff
    end
    assert.are.equal(4, checkpoints(4))
    assert.are.equal(39, checkpoints(nil))  -- the default (256) keeps all 40
  end)
end)
