-- RTP sessions on a hostile LAN (issue 16): an attacker on the same network
-- sends UDP with any source address it likes and has sniffed the SSRCs.
-- Each test carries out one attack with real sockets on 127.0.0.0/8 (the
-- forger's sockets are bound to the peer's address, 127.0.0.1, or to
-- another one, 127.0.0.2) while a real stream runs between two sessions,
-- and asserts that the harm is gone and the real stream stays exact.
local rtpmidi = require "rtpmidi"
local core = require "rtpmidi.core"
local H = require "helper"
local P = require "proc"

local control = rtpmidi.RTPControl()

local function note(fmt, ...)
  io.stderr:write("\n  [hostile-lan] ", fmt:format(...))
end

local function rtp(seq, ts, ssrc, payload, pt)
  return string.pack(">BBI2I4I4", 0x80, pt or 97, seq & 0xffff, ts & 0xffffffff, ssrc) .. (payload or "")
end

-- A real message numbered i: pitch bend carries 14 bits (channels 1..15).
local function message(i)
  return string.char(0xE0 | (i // 16384 % 15), i % 128, i // 128 % 128)
end
-- What the forger puts in its packets: a note on channel 16, so that what
-- of it gets through is told apart from the real stream.
local FORGED_NOTE = "\x9f\x3c\x40"
local FORGED_PAYLOAD = "\x03" .. FORGED_NOTE

-- Checks the real messages as they come, in order.
local function in_order()
  local c = { n = 0, recovered = 0, forged = 0, released = 0 }
  function c.add(m, recovered)
    if m == FORGED_NOTE then
      c.forged = c.forged + 1
      return
    end
    if m:byte(1) & 0xF0 ~= 0xE0 or m:byte(1) == 0xEF then
      -- the forged note let go again (a repair, or a release: recovered)
      assert(recovered and m:byte(1) & 0x0F == 0x0F, "a message from nowhere: " .. m)
      c.released = c.released + 1
      return
    end
    if recovered and c.allow_recovered then
      -- a repair from the journal: the latest value, which skips none
      c.recovered = c.recovered + 1
      local want = message(c.n)
      if m ~= want then
        c.bad = c.bad or ("repaired message %d: got %q, want %q"):format(c.n, m, want)
      end
      c.n = c.n + 1
      return
    end
    if not c.bad and (m ~= message(c.n) or recovered) then
      c.bad = ("real message %d: got %q recovered=%s"):format(c.n, m, tostring(recovered))
    end
    c.n = c.n + 1
  end
  return c
end

describe("RTP sessions on a hostile LAN", function()
  local own = H.owned()
  local udp, every = own.udp, own.every
  after_each(function()
    P.kill_all()
    own.release()
    H.assert_clean()
  end)

  -- Two MidiSessions on 127.0.0.1, A -> B; A numbers from start_sequence.
  local function midi_pair(opts_b)
    local pa, pb = H.port(), H.port()
    local got = in_order()
    local a = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = pb, receiving_port = pa,
                                   start_sequence = 1000, rtcp_interval = 0.1 }
    local tb = { peer_address = "127.0.0.1", sending_port = pa, receiving_port = pb, rtcp_interval = 0.1,
      incoming_midi = function(_, m, _, recovered) got.add(m, recovered) end }
    for k, v in pairs(opts_b or {}) do tb[k] = v end
    local b = rtpmidi.MidiSession(tb)
    control:add_session(a)
    control:add_session(b)
    assert(control:start())
    return a, b, got, pa, pb
  end
  -- A's next sequence number (start_sequence + what it sent, guards too).
  local function next_seq(a) return (1000 + a:stats().packets_sent) & 0xffff end

  -- ---- finding 4: a forged jump ahead mutes the real stream ----

  it("4 Mute: forged RTP a little ahead, from the peer's IP with its SSRC, mutes nothing", function()
    local a, b, got, _, pb = midi_pair()
    assert(a:send_midi(message(0)))
    H.run_until(function() return got.n == 1 end, "the first real message")
    local ssrc = a:stats().ssrc
    assert.are.equal(ssrc, b:stats().peer_ssrc)
    local forger = udp("127.0.0.1") -- the peer's address, another port
    local JUMPS = { 17, 50, 100, 101, 1000, 2999 }
    local N, sent, forged = 600, 1, 0
    every(2, function(t)
      if sent == N then t:cancel() return end
      assert(a:send_midi(message(sent)))
      sent = sent + 1
      if sent % 3 == 0 and sent < N then
        -- after this loop turn A's packet has left: forge one ahead of A's
        -- next (none after the last: a forgery in a silence is the next test)
        forged = forged + 1
        local j = JUMPS[forged % #JUMPS + 1]
        rtpmidi.after(0, function()
          assert(forger:send(rtp(next_seq(a) + j - 1, 0, ssrc, FORGED_PAYLOAD), "127.0.0.1", pb))
        end)
      end
    end)
    H.run_until(function() return got.n == N end, "every real message", 20000)
    H.run_for(50)
    assert.is_nil(got.bad)
    assert.are.equal(N, got.n)
    assert.are.equal(0, got.forged)
    local st = b:stats()
    assert.are.equal(0, st.late + st.lost + st.messages_recovered)
    assert.are.equal(N, st.messages_received)
    note("4 mute: %d real messages exact with %d forged jumps (+17..+2999) from the peer's IP; " ..
         "B: late %d, lost %d, packets_received %d", N, forged, st.late, st.lost, st.packets_received)
  end)

  it("4 Mute: a forged jump in a silence is taken on trust, then undone; the journal repairs the gap", function()
    local a, b, got, _, pb = midi_pair()
    got.allow_recovered = true
    local forger = udp("127.0.0.1")
    local ssrc
    local N, sent, forged = 12, 0, 0
    for round = 1, N do
      assert(a:send_midi(message(sent)))
      sent = sent + 1
      H.run_until(function() return got.n == sent end, "real message " .. sent)
      ssrc = ssrc or a:stats().ssrc
      -- the guards end when B confirms A's packet (RTCP), or after 620 ms
      H.run_until(function() return a:stats().unconfirmed == false end, "A's guards to end", 5000)
      H.run_for(30)
      -- a forged packet far ahead, in the silence: nothing confirms it, its
      -- wait (B's jitter buffer, 10 ms) runs out and it is taken on trust
      forged = forged + 1
      assert(forger:send(rtp(next_seq(a) + 40 + round, 0, ssrc, FORGED_PAYLOAD), "127.0.0.1", pb))
      H.run_until(function() return got.forged == forged end, "the forged note (on trust)")
      if round % 2 == 0 then
        -- and the real stream goes on, two packets in a row
        assert(a:send_midi(message(sent)))
        sent = sent + 1
        H.run_for(5)
        assert(a:send_midi(message(sent)))
        sent = sent + 1
        H.run_until(function() return got.n == sent end, "the real messages after it")
      end
    end
    assert.is_nil(got.bad)
    assert.are.equal(sent, got.n)
    local st = b:stats()
    -- each jump undone cost the first real packet after it (the next
    -- message, or A's guard), repaired from the journal of the second: as
    -- recovered, never lost for good
    assert.are.equal(forged, got.recovered)
    -- and each forged note taken on trust is let go again (recovered too)
    assert.are.equal(forged + got.released, st.messages_recovered)
    note("4 mute in silence: %d forged jumps taken on trust and undone; %d real messages, %d of them " ..
         "repaired from the journal, 0 missing", forged, sent, got.recovered)
  end)

  it("4 Mute: the same forgeries against an AppleMidiSession participant's RTP mute nothing", function()
    local got = in_order()
    local FAST = { invite_interval = 50, ck_fast_interval = 100, ck_interval = 300, rs_interval = 200 }
    local v = H.apple(control, FAST, { name = "victim",
      incoming_midi = function(_, m, _, recovered) got.add(m, recovered) end })
    local joined = false
    local l = H.apple(control, FAST, { name = "legit", participant_joined = function() joined = true end })
    assert(l:invite("127.0.0.1", v.config.port))
    H.run_until(function() return joined and #v:participants() == 1 end, "the participant", 3000)
    local ssrc = l:stats().ssrc
    local forger = udp("127.0.0.1")
    local JUMPS = { 17, 50, 100, 101, 1000, 2999 }
    local N, sent, forged = 400, 0, 0
    every(2, function(t)
      if sent == N then t:cancel() return end
      assert(l:send_midi(message(sent)))
      sent = sent + 1
      if sent % 3 == 0 and sent < N then
        forged = forged + 1
        local j = JUMPS[forged % #JUMPS + 1]
        rtpmidi.after(0, function()
          local p = l:participants()[1]
          if p then
            assert(forger:send(rtp(p.seq + j - 1, 0, ssrc, FORGED_PAYLOAD), "127.0.0.1", v.config.port + 1))
          end
        end)
      end
    end)
    H.run_until(function() return got.n == N end, "every real message", 20000)
    H.run_for(50)
    assert.is_nil(got.bad)
    assert.are.equal(0, got.forged)
    local st = v:stats()
    assert.are.equal(0, st.lost + st.messages_recovered)
    note("4 mute (AppleMIDI): %d real messages exact with %d forged jumps", N, forged)
  end)

  -- ---- finding 5: a peer that dies, freezes or restarts ----

  -- A MidiSession in its own process: it sends message(FIRST + i) every
  -- 20 ms to 127.0.0.1:TO (when TO is set), prints "sent i", "got i" for
  -- each real message it receives and "drop reason" for each drop.
  local PEER_SCRIPT = [[
    local rtpmidi = require "rtpmidi"
    local function message(i) return string.char(0xE0 | (i // 16384 % 15), i % 128, i // 128 % 128) end
    local function index(m) return (m:byte(1) & 0x0F) * 16384 + m:byte(3) * 128 + m:byte(2) end
    io.stdout:setvbuf("line")
    local to, on = tonumber(os.getenv("TO")), tonumber(os.getenv("ON"))
    local first = tonumber(os.getenv("FIRST") or "0")
    local s = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = to or 0, receiving_port = on,
      rtcp_interval = 0.1, timeout = tonumber(os.getenv("TIMEOUT") or "30"),
      incoming_midi = function(_, m) print("got " .. index(m)) end,
      drop_call = function(_, _, reason, detail) print("drop " .. reason .. " " .. detail) end }
    local control = rtpmidi.RTPControl()
    control:add_session(s)
    assert(control:start())
    print("ready " .. s:stats().ssrc)
    local i = 0
    if os.getenv("HOLD") then
      -- a note and the sustain pedal, held
      assert(s:send_midi("\x90\x3c\x64"))
      assert(s:send_midi("\xb0\x40\x7f"))
      print("holding")
    elseif to then
      rtpmidi.every(20, function()
        assert(s:send_midi(message(first + i)))
        print("sent " .. (first + i))
        i = i + 1
      end)
    end
    control:run()
  ]]
  local function spawn_peer(env) return P.spawn({ "lua5.4", "-e", PEER_SCRIPT }, P.lua_env(env)) end
  local function lines(p, word)
    local t = {}
    for v in p:stdout():gmatch(word .. " ([^\n]+)") do t[#t + 1] = v end
    return t
  end

  it("5 Restart: a killed peer's ICMP drops it; the restarted peer (new SSRC) is taken at once", function()
    local pa, pb = H.port(), H.port()
    local got, drops = {}, {}
    local b = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = pa, receiving_port = pb,
      rtcp_interval = 0.1,
      incoming_midi = function(_, m, _, recovered)
        got[#got + 1] = { i = (m:byte(1) & 0x0F) * 16384 + m:byte(3) * 128 + m:byte(2), recovered = recovered }
      end,
      drop_call = function(_, _, reason, detail)
        -- (before the first peer runs, B's RTCP to its ports bounces too)
        if #got > 0 then drops[#drops + 1] = reason .. ": " .. detail end
      end }
    control:add_session(b)
    assert(control:start())
    local p1 = spawn_peer{ TO = pb, ON = pa, FIRST = 0 }
    H.run_until(function() return #got >= 20 end, "the first peer's messages", 10000)
    local ssrc1 = b:stats().peer_ssrc
    p1:kill() -- SIGKILL: no BYE; its ports close, B's next RTCP to them bounces (ICMP)
    H.run_until(function() return #drops > 0 end, "B's drop", 5000)
    assert.are.equal("network", drops[1]:match("^(%w+)"))
    local before = #got
    -- the last message of the first run, then the second run from 100000
    for k = 1, before do assert.are.equal(k - 1, got[k].i) end
    local p2 = spawn_peer{ TO = pb, ON = pa, FIRST = 100000 }
    local t0 = rtpmidi.now()
    H.run_until(function() return #got >= before + 20 end, "the restarted peer's messages", 10000)
    local first_ms = rtpmidi.now() - t0
    -- its first message is the first B delivers after the restart: taken at once
    assert.are.equal(100000, got[before + 1].i)
    for k = before + 1, #got do
      assert.are.equal(100000 + k - before - 1, got[k].i)
      assert.is_false(got[k].recovered)
    end
    local st = b:stats()
    assert.are_not.equal(ssrc1, st.peer_ssrc)
    assert.are.equal(0, st.unknown_ssrc)
    assert.are.equal(1, #drops, table.concat(drops, "; "))
    p2:kill()
    note("5 restart: killed peer dropped (%s); restarted peer's SSRC taken from its first packet; " ..
         "%d messages after it, in order, in %.0f ms after spawning", drops[1], #got - before, first_ms)
  end)

  it("5 Freeze: a session stopped (SIGSTOP) longer than its timeout reads what queued before deciding", function()
    local pa, pb = H.port(), H.port()
    -- our side, in its own process, with a short timeout
    local victim = spawn_peer{ ON = pb, TIMEOUT = 0.5 }
    victim:wait_for(function(p) return p:stdout():find("ready") end, "the session in the subprocess")
    local a = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = pb, receiving_port = pa,
                                   rtcp_interval = 0.1 }
    control:add_session(a)
    assert(control:start())
    local sent = 0
    every(10, function()
      assert(a:send_midi(message(sent)))
      sent = sent + 1
    end)
    victim:wait_for(function(p) return #lines(p, "got") >= 20 end, "the first messages")
    victim:signal("STOP")
    local stopped = sent
    H.run_for(1500) -- three timeouts while the peer goes on sending
    local during = sent - stopped
    victim:signal("CONT")
    H.run_for(300)
    local total = sent
    victim:wait_for(function(p) return #lines(p, "got") >= total end, "every message, queued ones first", 10000)
    local got = lines(victim, "got")
    for k = 1, total do assert.are.equal(tostring(k - 1), got[k]) end
    assert.are.same({}, lines(victim, "drop"))
    note("5 freeze: stopped %d ms with a timeout of 500 ms while %d packets queued; no drop, %d messages " ..
         "in order", 1500, during, total)
  end)

  -- ---- finding 7: collisions and amplification ----

  local function rr(ssrc) return string.pack(">BBI2I4", 0x80, 201, 1, ssrc) end
  local function sr(ssrc)
    return string.pack(">BBI2I4I4I4I4I4I4", 0x80, 200, 6, ssrc, 0x83AA7E80, 0, 0, 10, 100)
  end
  local function sdes(ssrc, cname)
    local item = string.pack(">BB", 1, #cname) .. cname
    local chunk = string.pack(">I4", ssrc) .. item .. "\0"
    chunk = chunk .. ("\0"):rep((4 - #chunk % 4) % 4)
    return rr(ssrc) .. string.pack(">BBI2", 0x81, 202, #chunk // 4) .. chunk
  end
  local function bye(ssrc) return rr(ssrc) .. string.pack(">BBI2I4", 0x81, 203, 1, ssrc) end

  it("7 Amplification: no forged stimulus gets more back than it sent; collisions keep a list", function()
    local a, b, got, pa, pb = midi_pair()
    local drops = {}
    b.drop_call = function(_, _, reason) drops[#drops + 1] = reason end
    assert(a:send_midi(message(0)))
    H.run_until(function() return got.n == 1 end, "the first real message")
    local peer_ssrc = a:stats().ssrc
    -- forgers: on another host, and on the peer's host (ever new ports for
    -- the collisions); every byte any of them receives is counted
    local back = {}
    local function forger(host, name)
      local s = udp(host)
      s:recv(function(data) back[name] = (back[name] or 0) + #data end)
      return s
    end
    local sent = 1
    every(2, function()
      if sent < 100000 then
        assert(a:send_midi(message(sent)))
        sent = sent + 1
      end
    end)
    local K = 50
    local stimuli = {
      { "RTP with the peer's SSRC from 127.0.0.2", "127.0.0.2", 0, function(i)
        return rtp(i, 0, peer_ssrc, FORGED_PAYLOAD) end },
      { "RTP with the peer's SSRC from its IP", "127.0.0.1", 0, function(i)
        return rtp(next_seq(a) + 500 + 7 * i, 0, peer_ssrc, FORGED_PAYLOAD) end },
      { "RTCP SR with the peer's SSRC from its IP", "127.0.0.1", 1, function() return sr(peer_ssrc) end },
      { "RTCP RR with the peer's SSRC from its IP", "127.0.0.1", 1, function() return rr(peer_ssrc) end },
      { "RTCP SDES with the peer's SSRC from its IP", "127.0.0.1", 1, function()
        return sdes(peer_ssrc, "forged@cname") end },
      { "RTCP BYE with the peer's SSRC from its IP", "127.0.0.1", 1, function() return bye(peer_ssrc) end },
      { "RTCP BYE with the peer's SSRC from 127.0.0.2", "127.0.0.2", 1, function() return bye(peer_ssrc) end },
      { "RTP with B's SSRC (collision), new port each", "127.0.0.1", 0, function(i)
        return rtp(i, 0, b:stats().ssrc, FORGED_PAYLOAD) end, true },
      { "RTCP RR with B's SSRC (collision), new port each", "127.0.0.1", 1, function()
        return rr(b:stats().ssrc) end, true },
    }
    local rows, t0 = {}, rtpmidi.now()
    local collisions0 = b:stats().ssrc_collisions
    for _, st in ipairs(stimuli) do
      local name, host, off, make, new_ports = st[1], st[2], st[3], st[4], st[5]
      local sock = forger(host, name)
      local bytes_in = 0
      local st0 = b:stats()
      for i = 1, K do
        if new_ports and i > 1 then sock = forger(host, name) end
        local d = make(i)
        bytes_in = bytes_in + #d
        assert(sock:send(d, "127.0.0.1", pb + off))
        if i % 10 == 0 then H.run_for(5) end
      end
      H.run_for(300) -- B's RTCP reports go on meanwhile (every ~0.1 s)
      local st1 = b:stats()
      local counted = {}
      for _, k in ipairs{ "foreign", "unknown_ssrc", "loops", "malformed", "ssrc_collisions" } do
        if st1[k] > st0[k] then counted[#counted + 1] = ("%s %d"):format(k, st1[k] - st0[k]) end
      end
      rows[#rows + 1] = { name, bytes_in, back[name] or 0, table.concat(counted, ", "), st1.foreign - st0.foreign }
    end
    local elapsed_s = (rtpmidi.now() - t0) / 1000
    local done = sent
    H.run_until(function() return got.n == done end, "every real message", 10000)
    -- the table
    io.stderr:write("\n\n  stimulus (x" .. K .. ")                              bytes in   bytes to the forger   ratio" ..
                    "   B counted\n")
    for _, r in ipairs(rows) do
      local ratio = r[3] / r[2]
      io.stderr:write(("  %-52s %8d   %19d   %5.2f   %s\n"):format(r[1], r[2], r[3], ratio, r[4]))
      assert.is_true(ratio <= 1, r[1])
    end
    -- forged RTCP with the peer's SSRC from another port of its host, or
    -- from another host: every one counted foreign, none acted on
    for k = 3, 7 do assert.are.equal(K, rows[k][5], rows[k][1]) end
    assert.are.equal(K, rows[1][5], rows[1][1])
    -- the real stream: exact; forged RTP never delivered; no drop (the
    -- forged BYEs were not the peer's)
    assert.is_nil(got.bad)
    assert.are.equal(0, got.forged)
    assert.are.same({}, drops)
    local st = b:stats()
    assert.are.equal(peer_ssrc, st.peer_ssrc)
    assert.are.equal("", st.peer_cname:match("forged") or "")
    -- 100 collisions from 100 addresses in about 0.7 s: B changed its SSRC
    -- at most once per RTCP interval (0.1 s), not once per forged packet
    local changes = st.ssrc_collisions - collisions0
    assert.is_true(changes >= 1 and changes <= 2 * K // 10, tostring(changes))
    note("7: %d real messages exact while %d stimuli x %d were forged (%.1f s); B changed SSRC %d times " ..
         "for %d colliding packets (loops %d)", got.n, #stimuli, K, elapsed_s, changes, 2 * K, st.loops)
  end)

  it("7 Amplification: a receive-only session's reports are not redirected by forged RTCP", function()
    local pa, pb = H.port(), H.port()
    local got = in_order()
    local a = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = pb, receiving_port = pa,
                                   rtcp_interval = 0.1 }
    local b = rtpmidi.MidiSession{ peer_address = "127.0.0.1", receiving_port = pb, rtcp_interval = 0.1,
      incoming_midi = function(_, m, _, recovered) got.add(m, recovered) end }
    control:add_session(a)
    control:add_session(b)
    assert(control:start())
    assert(a:send_midi(message(0)))
    H.run_until(function() return got.n == 1 and b:stats().rtcp_received > 0 end, "A's first message and RTCP")
    local back, bytes_in = 0, 0
    local f = udp("127.0.0.1")
    f:recv(function(d) back = back + #d end)
    for _ = 1, 20 do
      local d = rr(a:stats().ssrc)
      bytes_in = bytes_in + #d
      assert(f:send(d, "127.0.0.1", pb + 1))
      H.run_for(20)
    end
    H.run_for(500)
    local reports = a:stats().rtcp_received
    io.stderr:write(("\n  %-52s %8d   %19d   %5.2f\n"):format("RTCP RR with the peer's SSRC to a receive-only B",
      bytes_in, back, back / bytes_in))
    assert.are.equal(0, back)
    assert.is_true(reports > 5) -- B's reports still reach A
    assert.is_nil(got.bad)
  end)

  -- ---- finding 8: what a frozen or departed peer left sounding ----

  local function m_bytes(m) return m:byte(1, 3) end
  local function collector()
    local c = { all = {} }
    function c.on_midi(_, m, _, recovered) c.all[#c.all + 1] = { m = m, recovered = recovered } end
    function c.released()
      local t = {}
      for _, e in ipairs(c.all) do
        if e.recovered then t[#t + 1] = ("%02x %02x %02x"):format(m_bytes(e.m)) end
      end
      return t
    end
    return c
  end

  it("8 Notes: a frozen MidiSession peer's note and pedal are released at its timeout", function()
    local pa, pb = H.port(), H.port()
    local c, drops = collector(), {}
    local b = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = pa, receiving_port = pb,
      rtcp_interval = 0.1, timeout = 0.5, incoming_midi = c.on_midi,
      drop_call = function(_, _, reason)
        -- (before the peer runs, B's RTCP to its ports bounces)
        if #c.all > 0 then drops[#drops + 1] = { reason, #c.all } end
      end }
    control:add_session(b)
    assert(control:start())
    local peer = spawn_peer{ TO = pb, ON = pa, HOLD = 1 }
    H.run_until(function() return #c.all == 2 end, "the note and the pedal", 10000)
    H.run_for(700) -- the peer's RTCP keeps it alive past the timeout
    assert.are.same({}, drops)
    peer:signal("STOP")
    local t0 = rtpmidi.now()
    H.run_until(function() return #drops > 0 end, "the timeout", 5000)
    local waited = rtpmidi.now() - t0
    assert.are.equal("timeout", drops[1][1])
    -- released through incoming_midi, before the drop was reported
    assert.are.same({ "80 3c 40", "b0 40 00" }, c.released())
    assert.are.equal(4, drops[1][2])
    assert.are.equal(2, b:stats().messages_released)
    peer:signal("CONT")
    note("8 frozen peer: timeout after %.0f ms; released: %s (recovered = true), then the drop",
         waited, table.concat(c.released(), ", "))
  end)

  it("8 Notes: a MidiSession peer that says BYE has its notes and pedals released", function()
    local pa, pb = H.port(), H.port()
    local c, drops = collector(), {}
    local a = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = pb, receiving_port = pa }
    local b = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = pa, receiving_port = pb,
      incoming_midi = c.on_midi, drop_call = function(_, _, reason) drops[#drops + 1] = reason end }
    control:add_session(a)
    control:add_session(b)
    assert(control:start())
    -- B sends first, so that A's RTCP (and BYE) ports are known to B
    assert(a:send_midi("\x92\x40\x50"))
    assert(a:send_midi("\x92\x41\x50"))
    assert(a:send_midi("\x82\x41\x00"))
    assert(a:send_midi("\xb2\x42\x7f"))
    H.run_until(function() return #c.all == 4 end, "A's messages")
    H.run_until(function() return b:stats().rtcp_received > 0 end, "A's RTCP", 10000)
    control:remove_session(a.cookie) -- stops: its BYE
    H.run_until(function() return #drops > 0 end, "A's BYE")
    assert.are.equal("bye", drops[1])
    assert.are.same({ "82 40 40", "b2 42 00" }, c.released())
  end)
end)
