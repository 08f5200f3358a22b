-- The AppleMIDI <-> Network MIDI 2.0 bridge (rtpmidi.bridge, `rtpmidi
-- bridge`; examples/bridge.lua: spec/examples_spec.lua) on loopback: a phrase from an
-- AppleMidiSession through the bridge to a Midi2Session client, which
-- sends it back; MIDI 2.0 values on the UMP side are the 7-bit ones
-- upscaled by the default min-center-max rule, and what comes back is
-- what went, byte for byte. Loss on each side is repaired by that side's
-- own mechanism (the recovery journal; FEC and retransmission).
local rtpmidi = require "rtpmidi"
local core = require "rtpmidi.core"
local codec = rtpmidi.codec
local Bridge = require "rtpmidi.bridge"
local H = require "helper"
local P = require "proc"

local control = rtpmidi.RTPControl()

local APPLE_FAST = { invite_interval = 50, ck_fast_interval = 100, ck_interval = 300, rs_interval = 200 }
local M2_FAST = { invite_interval = 100, ping_interval = 300, ping_retry = 100, ping_retries = 2, keepalive = 200 }

local function merge(...)
  local t = {}
  for i = 1, select("#", ...) do
    for k, v in pairs(select(i, ...) or {}) do t[k] = v end
  end
  return t
end

local function hex(s) return (s:gsub(".", function(c) return ("%02X "):format(c:byte()) end)) end

-- Min-center-max upscaling, written out from its definition (not from our
-- C code): the value shifted up; above the center the bits below the top
-- one repeated to fill the new low bits (Linux sound/core/ump_convert.c,
-- upscale_7_to_16bit: (v << 9) | (r << 3) | (r >> 3) with r = v & 0x3F;
-- upscale_7_to_32bit: (v << 25) | r << 19 | r << 13 | r << 7 | r << 1 | r >> 5).
local function up7_16(v)
  if v <= 64 then return v << 9 end
  local r = v & 0x3F
  return v << 9 | r << 3 | r >> 3
end
local function up7_32(v)
  if v <= 64 then return v << 25 end
  local r = v & 0x3F
  return v << 25 | r << 19 | r << 13 | r << 7 | r << 1 | r >> 5
end

-- The phrase: notes with varied velocities (Note Off with a release
-- velocity), controllers over their range, pressure, pitch bend, a bank and
-- program change, on two channels.
local PHRASE = {
  "\xB0\x07\x00", "\xB0\x07\x40", "\xB0\x07\x7F", "\xB0\x01\x21",
  "\x90\x3C\x01", "\x90\x40\x40", "\x90\x43\x64", "\x91\x24\x7F",
  "\xA0\x40\x55", "\xD0\x33", "\xE0\x00\x40", "\xE0\x7F\x7F", "\xE1\x00\x00",
  "\x80\x3C\x00", "\x80\x40\x40", "\x80\x43\x7F", "\x81\x24\x10",
  "\xB1\x00\x05\xB1\x20\x03\xC1\x11", "\xB0\x40\x7F", "\xB0\x40\x00",
}
-- The same, as the MIDI 1.0 messages that come back (one per send_midi).
local function messages(list)
  local out = {}
  for _, s in ipairs(list) do
    local i = 1
    while i <= #s do
      local st = s:byte(i) & 0xF0
      local n = (st == 0xC0 or st == 0xD0) and 2 or 3
      out[#out + 1] = s:sub(i, i + n - 1)
      i = i + n
    end
  end
  return out
end

-- The MIDI 2.0 channel voice message each PHRASE message must become
-- (computed here from the MIDI 1.0 bytes and the rule above).
local function expected_ump(m)
  local st, ch, d1, d2 = m:byte(1) & 0xF0, m:byte(1) & 0x0F, m:byte(2), m:byte(3) or 0
  local function w0(status, b2, b3) return 0x40000000 | status << 16 | ch << 16 | b2 << 8 | b3 end
  if st == 0x80 or st == 0x90 then return { w0(st, d1, 0), up7_16(d2) << 16 } end
  if st == 0xB0 and (d1 == 0 or d1 == 32) then return nil end -- Bank Select: with the Program Change
  if st == 0xA0 or st == 0xB0 then return { w0(st, d1, 0), up7_32(d2) } end
  if st == 0xD0 then return { w0(st, 0, 0), up7_32(d1) } end
  if st == 0xE0 then
    -- 14 bits, center 0x2000 -> 0x80000000; above it the 13 low bits repeat
    local v = d2 << 7 | d1
    local out = v << 18
    if v > 0x2000 then
      local r = v & 0x1FFF
      out = out | r << 5 | r >> 8
    end
    return { w0(st, 0, 0), out }
  end
end

local function hexw(words) return Bridge.hex_words(words) end

-- An AppleMIDI "keyboard" that invited the bridge's AppleMIDI session, a
-- Network MIDI 2.0 client that joined its Midi2Session (through relays
-- when given), the bridge, and what each end received.
local function rig(o)
  o = o or {}
  local got = { apple = {}, ump = {}, recovered = 0, m2_midi = {} }
  local apple = H.apple(control, APPLE_FAST, { name = "bridge apple" })
  local m2 = rtpmidi.Midi2Session(merge(M2_FAST, { name = "bridge m2", port = H.port(), role = "host" }, o.m2))
  control:add_session(m2)
  assert(control:start_session(m2.cookie))
  local bridge = Bridge.new(apple, m2, o.bridge)
  local joined = { apple = false, m2 = false }
  local keyboard = H.apple(control, APPLE_FAST, {
    name = "keyboard",
    participant_joined = function() joined.apple = true end,
    incoming_midi = function(_, m, _, recovered)
      got.apple[#got.apple + 1] = m
      if recovered then got.recovered = got.recovered + 1 end
    end,
  })
  local client = rtpmidi.Midi2Session(merge(M2_FAST, {
    name = "synth", port = H.port(), role = "client",
    client_joined = function() joined.m2 = true end,
    incoming_ump = function(s, words)
      got.ump[#got.ump + 1] = words
      if o.echo ~= false then assert(s:send_ump(words)) end -- straight back
    end,
  }))
  control:add_session(client)
  assert(control:start_session(client.cookie))
  local apple_port = o.apple_relay and o.apple_relay(apple:local_port()) or apple:local_port()
  local m2_port = o.m2_relay and o.m2_relay(m2:local_port()) or m2:local_port()
  assert(keyboard:invite("127.0.0.1", apple_port))
  assert(client:invite("127.0.0.1", m2_port))
  H.run_until(function() return joined.apple and joined.m2 end, "both ends joined the bridge")
  return { apple = apple, m2 = m2, bridge = bridge, keyboard = keyboard, client = client, got = got }
end

local function play(keyboard, list, gap)
  local i = 0
  local t = rtpmidi.every(gap or 5, function(t)
    i = i + 1
    if not list[i] then t:cancel() return end
    assert(keyboard:send_midi(list[i]))
  end)
  return t
end

describe("rtpmidi.codec.ump_translator", function()
  it("upscales 7-bit velocity to 16 bits and controllers to 32 by min-center-max", function()
    local t = codec.ump_translator()
    for v = 1, 127 do
      local w = t:to_ump(string.char(0x92, 60, v))
      assert.equal(2, #w)
      assert.equal(("%08X %08X"):format(0x40923C00, up7_16(v) << 16), hexw(w), "velocity " .. v)
    end
    for v = 0, 127 do
      local w = t:to_ump(string.char(0xB5, 74, v))
      assert.equal(("%08X %08X"):format(0x40B54A00, up7_32(v)), hexw(w), "controller value " .. v)
    end
    -- the three fixed points of the rule
    assert.equal(0x8000, up7_16(64)); assert.equal(0xFFFF, up7_16(127))
    assert.equal(0x80000000, up7_32(64)); assert.equal(0xFFFFFFFF, up7_32(127))
  end)

  it("gives back every 7-bit and 14-bit value exactly after the round trip", function()
    local t = codec.ump_translator()
    for v = 0, 127 do
      for _, m in ipairs{ string.char(0x80, 61, v), string.char(0xA3, 9, v), string.char(0xB0, 7, v),
                          string.char(0xD4, v), string.char(0xE0, v, 127 - v) } do
        assert.equal(hex(m), hex(codec.ump_to_midi1(t:to_ump(m))))
      end
      if v > 0 then
        local on = string.char(0x9F, 100, v)
        assert.equal(hex(on), hex(codec.ump_to_midi1(t:to_ump(on))))
      end
    end
    -- a MIDI 1.0 Note On of velocity 0 is a Note Off (M2-104-UM's default translation)
    assert.equal("80 3C 00 ", hex(codec.ump_to_midi1(t:to_ump("\x90\x3C\x00"))))
  end)

  it("carries Bank Select with its Program Change, and (N)RPN with its data entry", function()
    local t = codec.ump_translator()
    assert.same({}, t:to_ump("\xB2\x00\x05"))
    assert.same({}, t:to_ump("\xB2\x20\x03"))
    local w = t:to_ump("\xC2\x11")
    assert.equal("40C20001 11000503", hexw(w)) -- Bank Valid, program 0x11, bank 5/3
    assert.equal("B2 00 05 B2 20 03 C2 11 ", hex(codec.ump_to_midi1(w)))
    w = t:to_ump("\xB0\x65\x00\xB0\x64\x00\xB0\x06\x02\xB0\x26\x00")
    assert.equal(2, #w)
    assert.equal(0x40200000, w[1]) -- RPN 0/0 (pitch bend sensitivity)
    assert.equal("B0 65 00 B0 64 00 B0 06 02 B0 26 00 ", hex(codec.ump_to_midi1(w)))
  end)

  it("with protocol 1 keeps MIDI 1.0 channel voice in UMP as it is, in the group asked", function()
    local t = codec.ump_translator{ protocol = 1, group = 3 }
    assert.equal("23903C64", hexw(t:to_ump("\x90\x3C\x64")))
    assert.equal("13F80000", hexw(t:to_ump("\xF8")))
  end)

  it("names the bad argument", function()
    assert.has_error(function() codec.ump_translator{ protocol = 3 } end, "bad argument 'protocol' (integer 1..2 expected)")
    assert.has_error(function() codec.ump_translator{ group = 16 } end, "bad argument 'group' (integer 0..15 expected)")
    assert.has_error(function() codec.ump_to_midi1{ 0x40903C00 } end, "bad argument 'words' (whole UMP messages expected)")
    assert.has_error(function() Bridge.new({}, {}) end, "bad argument 'apple' (an AppleMidiSession expected)")
  end)
end)

describe("the bridge", function()
  local own
  before_each(function() own = H.owned() end)
  after_each(function()
    own.release()
    P.kill_all()
    H.assert_clean()
  end)

  it("carries a phrase from AppleMIDI to a Network MIDI 2.0 client, upscaled, and back exactly", function()
    local r = rig()
    local want = messages(PHRASE)
    local player = play(r.keyboard, PHRASE)
    H.run_until(function() return #r.got.apple >= #want end, "the phrase back at the keyboard", 8000)
    player:cancel()
    -- on the UMP side: MIDI 2.0 channel voice, values upscaled, in order
    local ump = {}
    for _, w in ipairs(r.got.ump) do ump[#ump + 1] = hexw(w) end
    local want_ump = {}
    for _, m in ipairs(want) do
      local e = expected_ump(m)
      if e then want_ump[#want_ump + 1] = hexw(e) end
    end
    -- bank select + program change arrive as one MIDI 2.0 Program Change
    want_ump[#want_ump + 1] = "40C10001 11000503"
    table.sort(want_ump); table.sort(ump) -- (the program change sits mid-phrase)
    assert.same(want_ump, ump)
    -- back at the keyboard: every message as it went, in order
    local back = {}
    for _, m in ipairs(r.got.apple) do back[#back + 1] = hex(m) end
    local sent = {}
    for _, m in ipairs(want) do sent[#sent + 1] = hex(m) end
    assert.same(sent, back)
    local st = r.bridge:stats()
    assert.equal(#want - 2, st.to_midi2) -- CC 0 and CC 32 ride with the program change
    assert.equal(#want, st.to_applemidi)
    assert.equal(0, st.unsent)
  end)

  it("carries a SysEx as SysEx7 packets and back whole, longer than one UMP Data command holds", function()
    local r = rig()
    local body = {}
    for i = 1, 298 do body[i] = string.char((i * 7) % 128) end
    local sx = "\xF0" .. table.concat(body) .. "\xF7"
    assert(r.keyboard:send_midi(sx))
    H.run_until(function() return #r.got.apple >= 1 end, "the SysEx back at the keyboard", 8000)
    assert.equal(hex(sx), hex(r.got.apple[1]))
    -- 298 data octets: 50 SysEx7 packets of 2 words (6 octets each), start to end
    assert.equal(50, #r.got.ump)
    assert.equal(0x3016, r.got.ump[1][1] >> 16)
    assert.equal(0x3034, r.got.ump[50][1] >> 16)
  end)

  it("scales a client's MIDI 2.0 values down for AppleMIDI (velocity >> 9, controllers >> 25)", function()
    local r = rig{ echo = false }
    assert(r.client:send_ump(0x40913C00, 0x8123ABCD))   -- Note On, velocity 0x8123 -> 64
    assert(r.client:send_ump(0x40B10700, 0x01FFFFFF))   -- CC 7 just below the first step -> 0
    assert(r.client:send_ump(0x40B10700, 0xFE000000))   -- -> 127
    assert(r.client:send_ump(0x40913D00, 0x00FF0000))   -- Note On whose velocity is 0 in 7 bits -> 1
    H.run_until(function() return #r.got.apple >= 4 end, "4 messages at the keyboard")
    assert.same({ "91 3C 40 ", "B1 07 00 ", "B1 07 7F ", "91 3D 01 " },
      { hex(r.got.apple[1]), hex(r.got.apple[2]), hex(r.got.apple[3]), hex(r.got.apple[4]) })
  end)

  it("loses nothing when each side loses packets: the journal on one, FEC and retransmission on the other", function()
    local arelay, mrelay
    local r = rig{
      -- the keyboard's RTP packets 3, 7 and 11 are lost on their way to the bridge
      apple_relay = function(port)
        arelay = H.apple_relay(port, function(n) return n == 3 or n == 7 or n == 11 end)
        return arelay.port
      end,
      -- every 4th UMP Data datagram from the bridge to the client is lost
      m2_relay = function(port)
        local sock = own.udp("127.0.0.1", 0)
        local rport = H.port()
        local face = own.udp("127.0.0.1", rport)
        local client_port, n = nil, 0
        mrelay = { dropped = 0 }
        face:recv(function(data, _, from)
          client_port = from
          sock:send(data, "127.0.0.1", port)
        end)
        sock:recv(function(data)
          local has_data = false
          for _, c in ipairs(codec.decode_midi2(data) or {}) do has_data = has_data or c.code == 0xFF end
          if has_data then
            n = n + 1
            if n % 4 == 0 then mrelay.dropped = mrelay.dropped + 1 return end
          end
          if client_port then face:send(data, "127.0.0.1", client_port) end
        end)
        return rport
      end,
    }
    -- 16 notes on and off: what must be sounding at the end is nothing
    local list = {}
    for k = 0, 15 do
      list[#list + 1] = string.char(0x90, 48 + k, 20 + k * 6)
      list[#list + 1] = string.char(0xB0, 74, k * 8)
      list[#list + 1] = string.char(0x80, 48 + k, 0x40)
    end
    local player = play(r.keyboard, list, 15)
    -- the last notes off come through whatever was lost: both ends quiet
    local function sounding_client()
      local on = {}
      for _, w in ipairs(r.got.ump) do
        local st, note = w[1] >> 20 & 0xF, w[1] >> 8 & 0x7F
        if st == 0x9 then on[note] = true elseif st == 0x8 then on[note] = nil end
      end
      return next(on)
    end
    H.run_until(function()
      local last_ump = r.got.ump[#r.got.ump]
      return last_ump and hexw(last_ump) == ("%08X %08X"):format(0x40803F00, 0x80000000) and not sounding_client()
    end, "the last Note Off at the client", 10000)
    player:cancel()
    assert.is_true(arelay.dropped >= 3, "AppleMIDI packets lost: " .. arelay.dropped)
    assert.is_true(mrelay.dropped >= 3, "UMP Data datagrams lost: " .. mrelay.dropped)
    -- the UMP side: every message the bridge sent arrived once, in order (FEC/retransmit)
    local st = r.m2:stats()
    local cst = r.client:stats()
    assert.is_true(cst.recovered_fec + cst.recovered_retransmit >= 1)
    assert.equal(r.bridge:stats().to_midi2, #r.got.ump)
    assert.equal(0, st.send_errors)
    -- the AppleMIDI side: the journal repaired what the relay lost (the
    -- notes the lost packets carried came as recovered messages: no note
    -- stuck on at the client), and the last controller value is the last sent
    assert.is_true(r.apple:stats().messages_recovered >= 1, "messages the journal repaired")
    local last_cc
    for _, w in ipairs(r.got.ump) do if w[1] >> 20 & 0xF == 0xB then last_cc = w[2] end end
    assert.equal(up7_32(15 * 8), last_cc)
    assert.is_nil(sounding_client())
    if arelay then arelay:close() end
  end)

  it("runs as `rtpmidi bridge`: a phrase there and back, Ctrl-C ends it with 0", function()
    local ap, mp = H.port(), H.port()
    local p = P.rtpmidi{ "bridge", "--applemidi", "cli apple", "--midi2", "cli m2", "-p", tostring(ap),
      "-P", tostring(mp), "-v" }
    p:wait_for(function(q) return q:stderr():find("Ctrl-C stops", 1, true) end, "the bridge to start")
    local got, joined = {}, { a = false, m = false }
    local keyboard = H.apple(control, APPLE_FAST, {
      name = "keyboard", participant_joined = function() joined.a = true end,
      incoming_midi = function(_, m) got[#got + 1] = hex(m) end,
    })
    local words = {}
    local client = rtpmidi.Midi2Session(merge(M2_FAST, { name = "synth", port = H.port(), role = "client",
      client_joined = function() joined.m = true end,
      incoming_ump = function(s, w) words[#words + 1] = hexw(w); assert(s:send_ump(w)) end }))
    control:add_session(client)
    assert(control:start_session(client.cookie))
    assert(keyboard:invite("127.0.0.1", ap))
    assert(client:invite("127.0.0.1", mp))
    p:wait_for(function() return joined.a and joined.m end, "both ends joined the bridge")
    local list = { "\x90\x3C\x64", "\xB0\x07\x7F", "\x80\x3C\x40" }
    local player = play(keyboard, list, 10)
    p:wait_for(function() return #got >= 3 end, "the phrase back through the bridge")
    player:cancel()
    assert.same({ "90 3C 64 ", "B0 07 7F ", "80 3C 40 " }, got)
    assert.same({ "40903C00 C9240000", "40B00700 FFFFFFFF", "40803C00 80000000" }, words)
    p:signal("INT")
    assert.equal(0, p:wait_exit(5000))
    local err, out = p:stderr(), p:stdout()
    assert.matches("Network MIDI 2.0: synth joined", err, 1, true)
    assert.matches("AppleMIDI: keyboard joined", err, 1, true)
    assert.matches("3 messages to Network MIDI 2.0, 3 to AppleMIDI, 0 not sent", err, 1, true)
    assert.matches("applemidi -> midi2  90 3c 64", out:lower(), 1, true)
    assert.matches("=> 40903C00 C9240000", out, 1, true)
  end)

  it("runs as `rtpmidi bridge -a HOST:PORT -c HOST:PORT --secret S`: it invites both sides", function()
    local got, host_joined, kb_joined = {}, nil, false
    local keyboard = H.apple(control, APPLE_FAST, {
      name = "keyboard", participant_joined = function() kb_joined = true end,
      incoming_midi = function(_, m) got[#got + 1] = hex(m) end,
    })
    local words = {}
    local host = rtpmidi.Midi2Session(merge(M2_FAST, { name = "studio", port = H.port(), role = "host",
      secret = "s3cret",
      client_joined = function(_, c) host_joined = c end,
      incoming_ump = function(_, w) words[#words + 1] = hexw(w) end }))
    control:add_session(host)
    assert(control:start_session(host.cookie))
    local p = P.rtpmidi{ "bridge", "--applemidi", "cli apple", "--midi2", "cli m2", "-p", tostring(H.port()),
      "-a", "127.0.0.1:" .. keyboard:local_port(), "-c", "127.0.0.1:" .. host:local_port(), "--secret", "s3cret" }
    -- Here the bridge invites: the two sides join when they answer, the
    -- bridge only when their answers arrive, and a message it gets before
    -- then has nowhere to go (counted "not sent"). Its own lines say when.
    p:wait_for(function(q)
      local err = q:stderr()
      return host_joined and kb_joined and err:find("Network MIDI 2.0: studio joined", 1, true)
        and err:find("AppleMIDI: keyboard joined", 1, true)
    end, "the bridge joined both sides", 10000)
    assert.equal("cli m2", host_joined.name)
    -- the host's MIDI 2.0 values reach the keyboard scaled down, and back up
    assert(host:send_ump(0x40923C00, 0xFFFF0000))
    p:wait_for(function() return #got >= 1 end, "the note at the keyboard")
    assert.same({ "92 3C 7F " }, got)
    assert(keyboard:send_midi("\x82\x3C\x40"))
    p:wait_for(function() return #words >= 1 end, "the note off at the host")
    assert.same({ "40823C00 80000000" }, words)
    p:signal("TERM")
    assert.equal(0, p:wait_exit(5000))
    assert.matches("Network MIDI 2.0 client 'cli m2' on port %d+, joining 127.0.0.1:%d+", p:stderr())
  end)

  it("`rtpmidi bridge -c` with a wrong secret ends with exit 1, saying why", function()
    local host = rtpmidi.Midi2Session(merge(M2_FAST, { name = "studio", port = H.port(), role = "host",
      secret = "s3cret" }))
    control:add_session(host)
    assert(control:start_session(host.cookie))
    local p = P.rtpmidi{ "bridge", "--applemidi", "a", "--midi2", "m", "-p", tostring(H.port()),
      "-c", "127.0.0.1:" .. host:local_port(), "--secret", "wrong" }
    assert.equal(1, p:wait_exit(10000))
    assert.matches("Network MIDI 2.0: invitation to 127.0.0.1:%d+ failed: auth_failed", p:stderr())
  end)

  it("`rtpmidi bridge` says what is wrong with its arguments (exit 2)", function()
    for _, case in ipairs{
      { { "bridge", "--applemidi", "x" }, "--applemidi NAME and --midi2 NAME are needed" },
      { { "bridge", "--applemidi", "x", "--midi2", "y", "--protocol", "3" }, "--protocol needs 1 or 2" },
      { { "bridge", "--applemidi", "x", "--midi2", "y", "-c", "host:99999" }, "--connect needs HOST or HOST:PORT" },
    } do
      local p = P.rtpmidi(case[1])
      assert.equal(2, p:wait_exit(5000))
      assert.matches("rtpmidi bridge: " .. case[2], p:stderr(), 1, true)
    end
    local p = P.rtpmidi{ "help", "bridge" }
    assert.equal(0, p:wait_exit(5000))
    assert.matches("usage: rtpmidi bridge", p:stdout(), 1, true)
  end)
end)
