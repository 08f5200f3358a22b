-- An attacker on the LAN against AppleMIDI (issue #16): each test carries
-- out one attack with real sockets on 127.0.0.0/8 (the attacker forges from
-- 127.0.0.2, or from another port of a participant's host, or - standing in
-- for one that spoofs a participant's exact address - from the participant's
-- own socket), and asserts that the harm is gone while a real stream between
-- two sessions goes on, every message once, in order, none made up.
local rtpmidi = require "rtpmidi"
local core = require "rtpmidi.core"
local H = require "helper"

local control = rtpmidi.RTPControl()

local FAST = { invite_interval = 50, ck_fast_interval = 100, ck_interval = 300, rs_interval = 100 }

local EVIL = "127.0.0.2"

-- A legitimate message numbered i: pitch bend carries 14 bits.
local function message(i)
  return string.char(0xE0 | (i // 16384 % 16), i % 128, i // 128 % 128)
end

-- AppleMIDI packets by hand.
local function am(cmd, body) return "\xff\xff" .. cmd .. body end
local function invitation(cmd, token, ssrc, name)
  return am(cmd, string.pack(">I4I4I4", 2, token, ssrc) .. (name and name .. "\0" or ""))
end
local function ck(ssrc, count, t1, t2, t3)
  return am("CK", string.pack(">I4Bxxx", ssrc, count) .. string.pack(">I8I8I8", t1 or 0, t2 or 0, t3 or 0))
end
local function rs(ssrc, seq) return am("RS", string.pack(">I4I4", ssrc, (seq & 0xffff) << 16)) end
local function rtp(seq, ts, ssrc, payload)
  return string.pack(">BBI2I4I4", 0x80, 97, seq & 0xffff, ts & 0xffffffff, ssrc) .. payload
end

local function parse_am(d)
  if #d < 4 or d:sub(1, 2) ~= "\xff\xff" then return nil end
  local t = { cmd = d:sub(3, 4) }
  if t.cmd == "IN" or t.cmd == "OK" or t.cmd == "NO" or t.cmd == "BY" then
    t.version, t.token, t.ssrc = string.unpack(">I4I4I4", d, 5)
    t.name = #d > 16 and d:sub(17):match("^[^%z]*") or nil
  elseif t.cmd == "CK" then
    t.ssrc, t.count = string.unpack(">I4B", d, 5)
    t.ts = { string.unpack(">I8I8I8", d, 13) }
  end
  return t
end

local function merge(t, extra)
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end

local function note(fmt, ...)
  io.stderr:write("\n  [hostile lan] ", fmt:format(...))
end

describe("hostile LAN: AppleMIDI", function()
  local own = H.owned()
  local udp, every = own.udp, own.every
  after_each(function()
    own.release()
    H.assert_clean()
  end)

  local function apple(opts) return H.apple(control, FAST, opts) end

  -- What a socket receives: every datagram and their octets.
  local function listener(host, port)
    local l = { n = 0, bytes = 0, got = {} }
    l.sock = udp(host, port)
    l.port = l.sock:port()
    l.sock:recv(function(d, _, from)
      l.n, l.bytes = l.n + 1, l.bytes + #d
      l.got[#l.got + 1] = { data = d, from = from, am = parse_am(d) }
      if l.on then l.on(d, from) end
    end)
    function l:send(d, port) assert(self.sock:send(d, "127.0.0.1", port)) end
    function l:last(cmd)
      for i = #self.got, 1, -1 do
        local a = self.got[i].am
        if a and a.cmd == cmd then return a end
      end
    end
    return l
  end

  -- Checks the real messages as they come: message(0), message(1), ...,
  -- each once, in order, none recovered.
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

  -- A real stream between two sessions, both ways: x:send_midi reaches y and
  -- the other way round, a window of 32 messages ahead of what arrived.
  -- pair.check() stops it, waits for the rest and asserts it was exact.
  local function duplex(x, y, gx, gy)
    local pair = { sent_x = 0, sent_y = 0, on = true }
    every(2, function()
      if not pair.on then return end
      if pair.sent_x - gy.n < 32 then
        assert(x:send_midi(message(pair.sent_x)))
        pair.sent_x = pair.sent_x + 1
      end
      if pair.sent_y - gx.n < 32 then
        assert(y:send_midi(message(pair.sent_y)))
        pair.sent_y = pair.sent_y + 1
      end
    end)
    function pair.check()
      pair.on = false
      H.run_until(function() return gx.n == pair.sent_y and gy.n == pair.sent_x end, "the real stream", 10000)
      assert.is_nil(gx.bad)
      assert.is_nil(gy.bad)
      assert.is_true(pair.sent_x > 0 and pair.sent_y > 0)
      return pair.sent_x, pair.sent_y
    end
    -- stops sending and waits until what was sent arrived; resume() goes on
    function pair.pause()
      pair.on = false
      H.run_until(function() return gx.n == pair.sent_y and gy.n == pair.sent_x end, "the real stream", 10000)
    end
    function pair.resume() pair.on = true end
    function pair.more(n)
      local x0, y0 = gx.n, gy.n
      H.run_until(function() return gx.n >= x0 + n and gy.n >= y0 + n end, "more of the real stream", 10000)
    end
    return pair
  end

  -- A relay that B invites A through, on both ports, and that sees every
  -- AppleMIDI packet on the way (an attacker that sniffs the LAN learns
  -- the token, the SSRC and the name). A sees B at the relay's addresses.
  -- r.to_b(port_index, data), when set, sees A's datagrams to B first and
  -- returns false to lose one.
  local function sniffing_relay(a_port)
    local r = { port = H.port(), seen = {} }
    local back = {}
    for i = 1, 2 do
      local face_b = udp("127.0.0.1", r.port + i - 1)
      local face_a = udp("127.0.0.1")
      face_b:recv(function(d, _, from)
        back[i] = from
        local t = parse_am(d)
        if t then r.seen[#r.seen + 1] = t end
        face_a:send(d, "127.0.0.1", a_port + i - 1)
      end)
      face_a:recv(function(d)
        if r.to_b and not r.to_b(i, d) then return end
        if back[i] then face_b:send(d, "127.0.0.1", back[i]) end
      end)
    end
    return r
  end

  -- A session "studio" (the victim) and "keys", which invites it through a
  -- sniffing relay; both stream both ways from the start.
  local function studio_and_keys(opts_a, opts_b)
    local ga, gb = in_order(), in_order()
    local joined = 0
    local o = { a_left = {}, b_left = {}, log = {} }
    local a = apple(merge({ name = "studio",
      incoming_midi = function(_, m, _, recovered, p)
        if p and p.name == "keys" then ga.add(m, recovered)
        else
          o.other = (o.other or 0) + 1
          o.log[#o.log + 1] = { p.name, m, recovered }
        end
      end,
      participant_joined = function() joined = joined + 1 end,
      participant_left = function(_, p, reason)
        o.a_left[#o.a_left + 1] = p.name .. " " .. reason
        o.log[#o.log + 1] = { p.name, "left", reason }
      end,
    }, opts_a))
    o.b_notes = {}
    local b = apple(merge({ name = "keys",
      incoming_midi = function(_, m, _, recovered)
        -- the real stream is pitch bend; the tests' own notes are kept apart
        if m:byte(1) & 0xF0 == 0xE0 then gb.add(m, recovered)
        else o.b_notes[#o.b_notes + 1] = { m = m, recovered = recovered } end
      end,
      participant_joined = function() joined = joined + 1 end,
      participant_left = function(_, p, reason) o.b_left[#o.b_left + 1] = p.name .. " " .. reason end,
    }, opts_b))
    local relay = sniffing_relay(a.config.port)
    assert(b:invite("127.0.0.1", relay.port))
    H.run_until(function() return joined == 2 end, "keys joined studio", 3000)
    o.a, o.b, o.ga, o.gb, o.relay = a, b, ga, gb, relay
    o.ssrc_b = b:stats().ssrc
    for _, t in ipairs(relay.seen) do
      if t.cmd == "IN" and t.ssrc == o.ssrc_b then o.token_b = t.token end
    end
    assert.is_not_nil(o.token_b)
    o.stream = duplex(b, a, gb, ga)
    o.stream.more(20)
    return o
  end

  -- ---------------------------------------------------------------------
  it("finding 1: an IN with a participant's SSRC from elsewhere takes nothing over", function()
    local s = studio_and_keys()
    local a, P = s.a, s.a.config.port
    local where = a:participants()[1]
    assert.are.equal("keys", where.name)
    -- the attacker knows the token, the SSRC and the name (sniffed), and
    -- forges from another host and from another port of the relay's host
    local evil_c, evil_d = listener(EVIL), listener(EVIL)
    local near_c, near_d = listener("127.0.0.1"), listener("127.0.0.1")
    local base = a:stats()
    local forged = 0
    for round = 1, 25 do
      for _, pair in ipairs{ { evil_c, evil_d }, { near_c, near_d } } do
        pair[1]:send(invitation("IN", s.token_b, s.ssrc_b, "keys"), P)
        pair[2]:send(invitation("IN", s.token_b, s.ssrc_b, "keys"), P + 1)
        -- and MIDI injected as the participant's: notes, never pitch bend
        pair[2]:send(rtp(40000 + round, round * 100, s.ssrc_b, "\x03\x90\x3c\x7f"), P + 1)
        forged = forged + 3
      end
    end
    H.run_until(function() return a:stats().foreign - base.foreign == forged end, "the forged packets", 3000)
    s.stream.more(50)     -- the studio keeps streaming to its participant meanwhile
    local sent_b, sent_a = s.stream.check()
    -- nothing reached the attacker: no OK, no NO, none of the MIDI stream
    for _, l in ipairs{ evil_c, evil_d, near_c, near_d } do assert.are.equal(0, l.n) end
    -- the participant is where it was, and nothing else joined or left
    local now = a:participants()
    assert.are.equal(1, #now)
    assert.are.equal(where.address, now[1].address)
    assert.are.equal(where.port, now[1].port)
    assert.are.same({}, s.a_left)
    assert.is_nil(s.other)
    local st = a:stats()
    assert.are.equal(0, st.invitations_dropped + st.invitations_refused)
    assert.are.equal(sent_b, st.messages_received) -- only the real ones were played
    note("finding 1: %d forged IN/RTP with the participant's SSRC and token -> 0 octets to the forger, " ..
         "foreign %d; real stream %d + %d messages exact", forged, st.foreign - base.foreign, sent_b, sent_a)
  end)

  it("finding 1: a BY needs the participant's token; CK1 and CK2 only answer ours", function()
    local s = studio_and_keys()
    local a, P = s.a, s.a.config.port
    -- a raw participant R, driven by hand: an attacker that spoofs R's exact
    -- address is played here by R's own sockets
    local rc, rd = listener("127.0.0.1", H.port()), nil
    rd = listener("127.0.0.1", rc.port + 1)
    local R_SSRC, R_TOKEN = 0x5eed1234, 0x1badcafe
    rc:send(invitation("IN", R_TOKEN, R_SSRC, "raw"), P)
    H.run_until(function() return rc:last("OK") ~= nil end, "OK on the control port", 2000)
    rd:send(invitation("IN", R_TOKEN, R_SSRC, "raw"), P + 1)
    H.run_until(function() return #a:participants() == 2 end, "R joined", 2000)
    local base = a:stats()
    -- BY without the token, from R's own ports: nothing ends
    rc:send(invitation("BY", R_TOKEN ~ 1, R_SSRC), P)
    rd:send(invitation("BY", 0, R_SSRC), P + 1)
    -- CK1 and CK2 that answer no CK of the studio's
    rd:send(ck(R_SSRC, 1, 1234, 5678), P + 1)
    rd:send(ck(R_SSRC, 2, 1234, 5678, 9999), P + 1)
    H.run_until(function()
      local st = a:stats()
      return st.foreign - base.foreign == 2 and st.unsolicited - base.unsolicited == 2
    end, "the forged BY and CK counted", 2000)
    assert.are.equal(2, #a:participants())
    assert.are.same({}, s.a_left)
    local function r_of() for _, p in ipairs(a:participants()) do if p.ssrc == R_SSRC then return p end end end
    assert.is_false(r_of().synced)
    assert.are.equal(0, a:stats().ck_exchanges - base.ck_exchanges)
    -- R's own CK0 is answered, and its CK2 echoing that answer closes the exchange
    rd:send(ck(R_SSRC, 0, 1000), P + 1)
    H.run_until(function() return rd:last("CK") ~= nil end, "CK1", 2000)
    local ck1 = rd:last("CK")
    assert.are.equal(1, ck1.count)
    assert.are.equal(1000, ck1.ts[1])
    -- a replay with other timestamps is still not ours
    rd:send(ck(R_SSRC, 2, 1000, ck1.ts[2] + 1, 1100), P + 1)
    rd:send(ck(R_SSRC, 2, 1000, ck1.ts[2], 1100), P + 1)
    H.run_until(function() return r_of() and r_of().synced end, "R synced", 2000)
    assert.are.equal(base.unsolicited + 3, a:stats().unsolicited)
    -- with the token, R's BY ends it
    rc:send(invitation("BY", R_TOKEN, R_SSRC), P)
    H.run_until(function() return #s.a_left == 1 end, "R left", 2000)
    assert.are.equal("raw bye", s.a_left[1])
    s.stream.check()
    assert.are.equal(1, #a:participants())
  end)

  -- ---------------------------------------------------------------------
  it("finding 4: a forged RS does not move the journal's checkpoint past a loss", function()
    local s = studio_and_keys()
    local a, P = s.a, s.a.config.port
    local evil, near = listener(EVIL), listener("127.0.0.1")
    local drop_note, dropped
    -- the relay loses the studio's packet with note 61 to keys; an attacker
    -- that saw it go by says at once, as keys, "received"
    s.relay.to_b = function(i, d)
      if i == 2 and drop_note and d:byte(1) & 0xC0 == 0x80 and d:find("\x90\x3d", 13, true) then
        drop_note = false
        dropped = string.unpack(">I2", d, 3)
        evil:send(rs(s.ssrc_b, dropped), P)
        near:send(rs(s.ssrc_b, dropped), P)
        return false
      end
      return true
    end
    s.stream.pause()
    local base = a:stats()
    drop_note = true
    assert(a:send_midi("\x90\x3d\x64"))
    assert(a:flush())
    H.run_until(function() return a:stats().foreign - base.foreign == 2 end, "the forged RS", 2000)
    -- the checkpoint did not pass the lost packet: its journal still holds note 61
    local keys = a:participants()[1]
    assert.are_not.equal((dropped + 1) & 0xffff, keys.checkpoint)
    assert(a:send_midi("\x90\x3e\x64"))
    H.run_until(function() return #s.b_notes == 2 end, "notes 61 and 62 at keys", 3000)
    -- 61 came back from the journal (a guard's or the next packet's), then 62
    assert.are.same({ { m = "\x90\x3d\x64", recovered = true }, { m = "\x90\x3e\x64", recovered = false } },
      s.b_notes)
    s.stream.resume()
    s.stream.more(20)
    s.stream.check()
    assert.are.equal(0, evil.n + near.n)
  end)

  it("finding 4: an RS from the participant is taken only for a packet sent and not yet confirmed", function()
    local s = studio_and_keys()
    local a, P = s.a, s.a.config.port
    local rc = listener("127.0.0.1", H.port())
    local rd = listener("127.0.0.1", rc.port + 1)
    local R_SSRC, R_TOKEN = 0x5eed0004, 0x70c0
    local last -- the last RTP sequence number the studio sent R
    rd.on = function(d) if d:byte(1) & 0xC0 == 0x80 then last = string.unpack(">I2", d, 3) end end
    rc:send(invitation("IN", R_TOKEN, R_SSRC, "raw"), P)
    H.run_until(function() return rc:last("OK") ~= nil end, "OK", 2000)
    rd:send(invitation("IN", R_TOKEN, R_SSRC, "raw"), P + 1)
    local function r_of() for _, p in ipairs(a:participants()) do if p.ssrc == R_SSRC then return p end end end
    H.run_until(function() return r_of() ~= nil end, "R joined", 2000)
    s.stream.more(10)
    s.stream.pause()  -- the studio's sequence numbers to R stand still
    H.run_until(function() return last ~= nil end, "the studio's RTP at R", 2000)
    local before = r_of().checkpoint
    local base = a:stats()
    -- ahead of anything sent: not taken, counted
    rc:send(rs(R_SSRC, last + 1), P)
    rc:send(rs(R_SSRC, last + 100), P)
    H.run_until(function() return a:stats().unsolicited - base.unsolicited == 2 end, "the RS counted", 2000)
    assert.are.equal(before, r_of().checkpoint)
    assert.is_true(r_of().unconfirmed)
    -- the last packet sent: taken, everything confirmed
    rc:send(rs(R_SSRC, last), P)
    H.run_until(function() return r_of().checkpoint == (last + 1) & 0xffff end, "the checkpoint moved", 2000)
    assert.is_false(r_of().unconfirmed)
    -- older ones change nothing, and are not counted (a peer repeats its RS)
    rc:send(rs(R_SSRC, last - 3), P)
    rc:send(rs(R_SSRC, last), P)
    H.run_until(function() return a:stats().rs_received - base.rs_received == 5 end, "all five RS", 2000)
    assert.are.equal((last + 1) & 0xffff, r_of().checkpoint)
    assert.are.equal(base.unsolicited + 2, a:stats().unsolicited)
    s.stream.resume()
    s.stream.more(10)
    s.stream.check()
  end)

  -- ---------------------------------------------------------------------
  it("finding 6: invitations that never come on the data port do not keep the session full", function()
    local s = studio_and_keys({ max_participants = 8 })
    local a, P = s.a, s.a.config.port
    local base = a:stats()
    -- one host: 31 invitations on the control port only, each its own session
    local one = listener(EVIL)
    for i = 1, 31 do one:send(invitation("IN", 1000 + i, 0x7000 + i, "slot" .. i), P) end
    H.run_until(function() return a:stats().invitations_dropped - base.invitations_dropped == 27 end,
      "the invitations of one host", 2000)
    assert.are.equal(4, a:stats().pending)
    H.run_until(function() return one.n == 4 end, "4 OK", 2000)
    -- and from 8 more hosts: the session is full (keys and 7 waiting)
    local many = {}
    for h = 3, 10 do
      local l = listener("127.0.0." .. h)
      many[#many + 1] = l
      l:send(invitation("IN", 2000 + h, 0x7100 + h, "host" .. h), P)
    end
    H.run_until(function()
      local n = 0
      for _, l in ipairs(many) do n = n + l.n end
      return n == 8
    end, "8 OK", 2000)
    assert.are.equal(7, a:stats().pending)
    assert.are.equal(0, a:stats().invitations_refused)
    -- a real session still gets in, in the slot of the oldest waiting one
    local joined, failed = false, nil
    local c = apple{ name = "late", participant_joined = function() joined = true end,
      invitation_failed = function(_, _, _, reason) failed = reason end }
    assert(c:invite("127.0.0.1", P))
    H.run_until(function() return joined or failed end, "late joined", 3000)
    assert.is_nil(failed)
    assert.are.equal(2, #a:participants())
    assert.are.equal(6, a:stats().pending)
    -- the waiting ones leave 5 s after their IN, without an event
    local t0 = rtpmidi.now()
    H.run_until(function() return a:stats().pending == 0 end, "the waiting invitations to go", 8000)
    local waited = rtpmidi.now() - t0
    assert.are.same({}, s.a_left)
    s.stream.check()
    assert.are.equal(2, #a:participants())
    note("finding 6: 31 IN from one host -> 4 waiting, 27 dropped; 8 hosts -> full; a real session joined; " ..
         "the waiting ones gone %.1f s later", waited / 1000)
  end)

  -- ---------------------------------------------------------------------
  it("finding 7: no answer to a forged source is larger than what it sent (the table)", function()
    local LONG = "studio " .. ("\xc3\xa9"):rep(28) .. "!"     -- 64 octets, two-octet characters
    assert.are.equal(64, #LONG)
    local s = studio_and_keys({ name = LONG })
    local a, P = s.a, s.a.config.port
    -- a raw participant R: the markers that show a row was handled, and the
    -- one row from a participant's own address
    local rc = listener("127.0.0.1", H.port())
    local rd = listener("127.0.0.1", rc.port + 1)
    local R_SSRC, R_TOKEN = 0x5eed0007, 0x7007
    rc:send(invitation("IN", R_TOKEN, R_SSRC, "raw"), P)
    H.run_until(function() return rc:last("OK") ~= nil end, "OK", 2000)
    rd:send(invitation("IN", R_TOKEN, R_SSRC, "raw"), P + 1)
    H.run_until(function() return #a:participants() == 2 end, "R joined", 2000)
    local seq = 0
    local function junk(n)
      local t = {}
      for i = 1, n do t[i] = string.char((i * 37 + n) % 256) end
      return table.concat(t)
    end
    local SB, TB = s.ssrc_b, s.token_b
    local rows = {
      { "IN, control port, 1-octet name", 0, function(i) return invitation("IN", 100 + i, 0x3100 + i, "x") end },
      { "IN, control port, no name", 0, function(i) return invitation("IN", 200 + i, 0x3200 + i) end },
      { "IN, control port, 64-octet name", 0, function(i) return invitation("IN", 300 + i, 0x3300 + i, ("n"):rep(64)) end },
      { "IN, data port only", 1, function(i) return invitation("IN", 400 + i, 0x3400 + i, "x") end },
      { "IN, version 3", 0, function(i)
        return "\xff\xffIN" .. string.pack(">I4I4I4", 3, 500 + i, 0x3500 + i) .. "x\0" end },
      { "IN, a participant's SSRC and token", 0, function() return invitation("IN", TB, SB, "keys") end },
      { "IN, data port, a participant's SSRC and token", 1, function() return invitation("IN", TB, SB, "keys") end },
      { "CK0, a participant's SSRC", 1, function(i) return ck(SB, 0, i) end },
      { "CK0, unknown SSRC", 1, function(i) return ck(0x3600 + i, 0, i) end },
      { "CK1/CK2, a participant's SSRC", 1, function(i) return ck(SB, 1 + i % 2, i, i, i) end },
      { "RS, a participant's SSRC", 0, function(i) return rs(SB, i) end },
      { "BY, a participant's SSRC and token", 0, function() return invitation("BY", TB, SB) end },
      { "garbage, control port", 0, function(i) return junk(1 + i * 7) end },
      { "garbage, data port", 1, function(i) return junk(2 + i * 5) end },
      { "RTP, a participant's SSRC", 1, function(i) seq = seq + 1; return rtp(seq, i, SB, "\x03\x90\x3c\x7f") end },
      { "RTP, unknown SSRC", 1, function(i) return rtp(i, i, 0x3700 + i, "\x03\x90\x3c\x7f") end },
    }
    local N = 4
    local lines = {}
    local function row(label, sender, make, port, marker_port, host)
      local bytes_in, biggest = 0, 0
      for i = 1, N do
        local d = make(i)
        bytes_in = bytes_in + #d
        if #d > biggest then biggest = #d end
        sender:send(d, P + port)
      end
      -- a marker from R behind them on the same port: its answer comes after theirs
      local before = #(marker_port == 0 and rc or rd).got
      if marker_port == 0 then rc:send(invitation("IN", R_TOKEN, R_SSRC, "raw"), P)
      else rd:send(ck(R_SSRC, 0, 77), P + 1) end
      H.run_until(function()
        local l = marker_port == 0 and rc or rd
        for k = before + 1, #l.got do
          local t = l.got[k].am
          if t and (t.cmd == "OK" or t.cmd == "CK") then return true end
        end
      end, "the marker of " .. label, 2000)
      H.run_for(20)
      local out, largest = 0, 0
      for _, g in ipairs(sender.got) do
        if g.am or g.data:byte(1) & 0xC0 ~= 0x80 then
          out = out + #g.data
          if #g.data > largest then largest = #g.data end
        else
          out = out + #g.data -- RTP: our MIDI stream reaching the forger
          largest = math.huge
        end
      end
      local ratio = out / bytes_in
      lines[#lines + 1] = ("  %-46s %-12s %3d %6d %6d %3d %6.2f"):format(label, host, N, bytes_in, out, #sender.got, ratio)
      assert.is_true(ratio <= 1, label .. ": ratio " .. ratio)
      assert.is_true(largest <= biggest, label .. ": an answer of " .. largest .. " octets")
    end
    for k, r in ipairs(rows) do
      local host = "127.0.0." .. (19 + k)
      local l = listener(host)
      row(r[1], l, r[3], r[2], r[2], host)
      l.sock:close()
    end
    -- from a participant's exact address (R's own socket standing in for a
    -- forger that spoofs it): its CK0 is answered with a CK1 of the same size
    local n0 = #rd.got
    local shadow = { got = {}, send = function(_, d, port) rd:send(d, port) end }
    local bytes_in = 0
    for i = 1, N do
      local d = ck(R_SSRC, 0, 1000 + i)
      bytes_in = bytes_in + #d
      shadow:send(d, P + 1)
    end
    H.run_until(function()
      local k = 0
      for j = n0 + 1, #rd.got do if rd.got[j].am and rd.got[j].am.cmd == "CK" then k = k + 1 end end
      return k == N
    end, "the CK1s", 2000)
    local out = 0
    for j = n0 + 1, #rd.got do
      local g = rd.got[j]
      if g.am and g.am.cmd == "CK" then out = out + #g.data end
    end
    lines[#lines + 1] = ("  %-46s %-12s %3d %6d %6d %3d %6.2f"):format("CK0 from a participant's own address", "127.0.0.1",
      N, bytes_in, out, N, out / bytes_in)
    assert.are.equal(bytes_in, out)
    local sent_b, sent_a = s.stream.check()
    io.stderr:write("\n  [hostile lan] finding 7: what a forged source gets back (studio named with 64 octets)\n",
      ("  %-46s %-12s %3s %6s %6s %3s %6s\n"):format("stimulus", "from", "n", "in", "out", "pkt", "ratio"),
      table.concat(lines, "\n"), "\n",
      ("  real stream meanwhile: %d + %d messages exact\n"):format(sent_b, sent_a))
  end)

  -- ---------------------------------------------------------------------
  it("finding 8: a participant that leaves or times out gets its notes and pedals released", function()
    local s = studio_and_keys({ timeout = 1 })
    local a, P = s.a, s.a.config.port
    local function log_of(name)
      local t = {}
      for _, e in ipairs(s.log) do if e[1] == name then t[#t + 1] = { e[2], e[3] } end end
      return t
    end
    -- a session "piano" plays two notes and holds the damper, then goes (BY)
    local piano_joined = false
    local piano = apple{ name = "piano", participant_joined = function() piano_joined = true end }
    assert(piano:invite("127.0.0.1", P))
    H.run_until(function() return piano_joined and #a:participants() == 2 end, "piano joined", 3000)
    assert(piano:send_midi("\x90\x3c\x64\x91\x40\x50\xb0\x40\x7f\x90\x43\x64\x80\x43\x00"))
    H.run_until(function() return #log_of("piano") == 5 end, "piano's notes at the studio", 2000)
    local base = a:stats()
    control:remove_session(piano.cookie)
    H.run_until(function() return #s.a_left == 1 end, "piano left", 2000)
    assert.are.same({
      { "\x90\x3c\x64", false }, { "\x91\x40\x50", false }, { "\xb0\x40\x7f", false },
      { "\x90\x43\x64", false }, { "\x80\x43\x00", false },
      -- at once, before participant_left, made up by the studio: ch 1 note 60, ch 2 note 64, damper
      { "\x80\x3c\x40", true }, { "\x81\x40\x40", true }, { "\xb0\x40\x00", true },
      { "left", "bye" },
    }, log_of("piano"))
    assert.are.equal(3, a:stats().released - base.released)
    -- a raw participant R plays a note and holds sostenuto, then freezes
    local rc = listener("127.0.0.1", H.port())
    local rd = listener("127.0.0.1", rc.port + 1)
    local R_SSRC, R_TOKEN = 0x5eed0008, 0x8008
    rc:send(invitation("IN", R_TOKEN, R_SSRC, "raw"), P)
    H.run_until(function() return rc:last("OK") ~= nil end, "OK", 2000)
    rd:send(invitation("IN", R_TOKEN, R_SSRC, "raw"), P + 1)
    H.run_until(function() return #a:participants() == 2 end, "R joined", 2000)
    rd:send(rtp(100, 1000, R_SSRC, "\x03\x92\x46\x64"), P + 1)
    rd:send(rtp(101, 1010, R_SSRC, "\x03\xb2\x42\x7f"), P + 1)
    H.run_until(function() return #log_of("raw") == 2 end, "R's note at the studio", 2000)
    local t0 = rtpmidi.now()
    H.run_until(function() return #s.a_left == 2 end, "R timed out", 4000)
    local waited = rtpmidi.now() - t0
    assert.are.same({
      { "\x92\x46\x64", false }, { "\xb2\x42\x7f", false },
      { "\x82\x46\x40", true }, { "\xb2\x42\x00", true },
      { "left", "timeout" },
    }, log_of("raw"))
    -- keys, alive all along, streamed exactly and lost nothing
    local sent_b, sent_a = s.stream.check()
    assert.are.equal(1, #a:participants())
    note("finding 8: piano's BY -> 2 note offs and the damper released before participant_left; " ..
         "raw froze -> released at its timeout (%.0f ms); real stream %d + %d exact", waited, sent_b, sent_a)
  end)

  -- ---------------------------------------------------------------------
  describe("finding 10: the command prints remote strings escaped", function()
    local P = require "proc"
    after_each(function() P.kill_all() end)
    local EVIL_NAME = "\27[2J\27[H\7evil\194\15531m\226\128\174"   -- clear, home, bell, C1 CSI, RLO
    local SHOWN = "\\x1B[2J\\x1B[H\\x07evil\\u{009B}31m\\u{202E}"
    -- nothing a terminal would obey: no C0 control but newline, no DEL, no C1, no RLO
    local function inert(out)
      for i = 1, #out do
        local b = out:byte(i)
        if (b < 0x20 and b ~= 10) or b == 0x7F then return false, ("octet %d at %d"):format(b, i) end
      end
      if out:find("\194[\128-\159]") or out:find("\226\128[\170-\174]") then return false, "C1 or bidi" end
      return true
    end

    it("stream: a participant's name, in what it logs and in -v", function()
      local port = H.port()
      local p = P.rtpmidi({ "stream", "--applemidi", "studio", "-r", tostring(port), "-v", "--no-repl", "--no-status" })
      p:wait_for(function(x) return x:stderr():find("waiting for invitations", 1, true) end, "the session", 10000)
      local joined = false
      local evil = apple{ name = EVIL_NAME, participant_joined = function() joined = true end }
      assert(evil:invite("127.0.0.1", port))
      p:wait_for(function(x) return x:stderr():find("joined", 1, true) end, "the join logged", 5000)
      H.run_until(function() return joined end, "joined", 3000)
      for i = 0, 9 do assert(evil:send_midi(string.char(0x90, 60 + i, 100))) end
      p:wait_for(function(x) return select(2, x:stdout():gsub("\n", "")) >= 10 end, "the notes printed", 5000)
      control:remove_session(evil.cookie)
      p:wait_for(function(x) return x:stderr():find("left: bye", 1, true) end, "the leave logged", 5000)
      p:signal("INT")
      assert.are.equal(0, p:wait_exit(5000))
      local out, err = p:stdout(), p:stderr()
      assert(inert(out))
      assert(inert(err))
      assert.matches(SHOWN .. " joined (127.0.0.1:", err, 1, true)
      assert.matches(SHOWN .. " left: bye", err, 1, true)
      assert.matches("from " .. SHOWN, out, 1, true)
      -- every note arrived and was shown, in order
      local n = 0
      for line in out:gmatch("[^\n]+") do
        if line:find("from " .. SHOWN, 1, true) and line:find("note on", 1, true) then n = n + 1 end
      end
      assert.are.equal(10, n)
    end)

    it("serve and status: a participant's name in the log and in the status", function()
      local run_dir = os.tmpname()
      os.remove(run_dir)
      local cfg = os.tmpname()
      local port = H.port()
      local f = assert(io.open(cfg, "w"))
      f:write(("return { name = \"studio\", port = %d, peers = {} }\n"):format(port))
      f:close()
      local env = { RTPMIDI_RUN_DIR = run_dir }
      local d = P.rtpmidi({ "serve", cfg }, env)
      d:wait_for(function(x) return x:stderr():find("on port", 1, true) end, "the daemon", 10000)
      local joined = false
      local evil = apple{ name = EVIL_NAME, participant_joined = function() joined = true end }
      assert(evil:invite("127.0.0.1", port))
      H.run_until(function() return joined end, "joined", 3000)
      d:wait_for(function(x) return x:stderr():find("joined", 1, true) end, "the join logged", 5000)
      local st = P.rtpmidi({ "status" }, env)
      assert.are.equal(0, st:wait_exit(30000))
      local out = st:stdout()
      d:signal("TERM")
      d:wait_exit(10000)
      os.remove(cfg)
      os.execute("rm -rf " .. P.quote(run_dir))
      assert(inert(out))
      assert(inert(d:stderr()))
      assert.matches("also connected: '" .. SHOWN .. "'", out, 1, true)
      assert.matches(SHOWN .. " joined", d:stderr(), 1, true)
    end)

    it("monitor: a name in an invitation", function()
      local port = H.port()
      local m = P.rtpmidi({ "monitor", tostring(port), "--bind", "127.0.0.1", "-c", "1" })
      m:wait_for(function(x) return x:stderr():find("listening", 1, true) end, "the monitor", 10000)
      local l = listener("127.0.0.1")
      l:send(invitation("IN", 1, 2, EVIL_NAME), port)
      assert.are.equal(0, m:wait_exit(5000))
      local out = m:stdout()
      assert(inert(out))
      assert.matches("AppleMIDI IN", out, 1, true)
      assert.matches("evil", out, 1, true)
    end)
  end)
end)
