-- Sends made from incoming_rtp while a burst of datagrams (one recvmmsg) is
-- delivered wait for the burst's end and leave together through sendmmsg
-- (csrc/core/runtime.c). What that must not change: order, completeness,
-- BYE after the data, errors reported (later, through drop_call "network"
-- and stats().send_errors, instead of send_data's return value).
local rtpmidi = require "rtpmidi"
local H = require "helper"

describe("sends batched at the end of a received burst", function()
  local control = rtpmidi.RTPControl()
  after_each(H.assert_clean)

  local function pair(on_a, on_b, opts_b)
    local pa, pb = H.port(), H.port()
    local a = rtpmidi.RTPSession{ peer_address = "127.0.0.1", sending_port = pb, receiving_port = pa,
                                  payload = 96, jitter_buffer_size = 0, incoming_rtp = on_a }
    local ob = { peer_address = "127.0.0.1", sending_port = pa, receiving_port = pb,
                 payload = 96, jitter_buffer_size = 0, incoming_rtp = on_b }
    for k, v in pairs(opts_b or {}) do ob[k] = v end
    local b = rtpmidi.RTPSession(ob)
    assert.is_true(control:start_session(control:add_session(a)))
    assert.is_true(control:start_session(control:add_session(b)))
    return a, b
  end

  it("delivers many sends from one callback and from every packet of bursts, in order", function()
    local N, ECHO = 300, 100 -- 300 from one callback: more than one queue's worth (64)
    local got = {}
    local a = pair(function(_, _, ts, packet) got[#got + 1] = { ts, packet } end,
      function(self, _, ts, packet)
        if packet == "go" then
          for i = 1, N do assert(self:send_data(("burst %d"):format(i), i)) end
        else
          assert(self:send_data("echo " .. packet, ts)) -- one send per packet of the burst
        end
      end)
    H.run_until(function() return a:is_started() end, "start")
    assert(a:send_data("go", 0))
    H.run_until(function() return #got == N end, "the 300 sends of one callback")
    -- 100 back to back: B reads them in bursts and answers each
    for i = 1, ECHO do assert(a:send_data(tostring(i), N + i)) end
    H.run_until(function() return #got == N + ECHO end, "100 echoes")
    H.run_for(20)
    assert.are.equal(N + ECHO, #got)
    for i = 1, N do assert.are.same({ i, ("burst %d"):format(i) }, got[i]) end
    for i = 1, ECHO do assert.are.same({ N + i, "echo " .. i }, got[N + i]) end
    local st = a:stats()
    assert.are.equal(0, st.lost)
    assert.are.equal(0, st.reordered)
  end)

  it("sends what a callback queued before the BYE of a stop in the same callback", function()
    local order = {}
    local a
    a = pair(function(_, _, _, packet) order[#order + 1] = packet end,
      function(self, cookie, _, packet)
        if packet ~= "stop" then return end
        for i = 1, 3 do assert(self:send_data("last " .. i)) end
        control:stop_session(cookie)
      end)
    a.drop_call = function(_, _, reason) order[#order + 1] = "drop " .. reason end
    H.run_until(function() return a:is_started() end, "start")
    assert(a:send_data("stop"))
    H.run_until(function() return #order == 4 end, "three packets and the BYE")
    assert.are.same({ "last 1", "last 2", "last 3", "drop bye" }, order)
  end)

  it("reports an error of a batched send through drop_call and send_errors", function()
    -- A broadcast address without SO_BROADCAST: the system refuses every
    -- datagram (EACCES; ENETUNREACH without a route).
    local drops = {}
    local x = rtpmidi.RTPSession{ peer_address = "255.255.255.255", sending_port = H.port(), payload = 96,
      rtcp_interval = 60, -- no RTCP report (refused too) during the test
      drop_call = function(_, _, reason, detail) drops[#drops + 1] = { reason, detail } end }
    assert.is_true(control:start_session(control:add_session(x)))
    -- Outside a burst the error is send_data's.
    local ok, err = x:send_data("now")
    assert.is_nil(ok)
    assert.matches("^E[A-Z]+: ", err)
    local code = err:match("^(E[A-Z]+):")
    local errors = x:stats().send_errors
    assert.are.equal(1, errors)
    -- Inside one it comes later: the send was queued.
    local queued
    local a = pair(function() end, function()
      if queued == nil then queued = x:send_data("batched") end
    end)
    H.run_until(function() return a:is_started() end, "start")
    assert(a:send_data("go"))
    H.run_until(function() return #drops > 0 end, "the drop")
    assert.is_true(queued)
    assert.are.equal("network", drops[1][1])
    assert.matches(code, drops[1][2])
    assert.are.equal(errors + 1, x:stats().send_errors)
  end)

  it("copes with a drop_call that stops the session in the middle of a full queue's flush", function()
    local drops, results = 0, nil
    local x
    x = rtpmidi.RTPSession{ peer_address = "255.255.255.255", sending_port = H.port(), payload = 96,
      rtcp_interval = 60,
      drop_call = function(_, cookie)
        drops = drops + 1
        control:stop_session(cookie)
      end }
    assert.is_true(control:start_session(control:add_session(x)))
    -- 100 sends in one callback: the 65th finds the queue full and flushes it;
    -- the first datagram is refused, drop_call stops x, the rest is dropped.
    local a = pair(function() end, function()
      if results then return end
      results = {}
      for i = 1, 100 do results[i] = { x:send_data("m" .. i) } end
    end)
    H.run_until(function() return a:is_started() end, "start")
    assert(a:send_data("go"))
    H.run_until(function() return results ~= nil end, "the burst")
    assert.are.equal(1, drops)
    assert.is_false(x:is_started())
    for i = 1, 64 do assert.are.same({ true }, results[i]) end
    for i = 65, 100 do
      assert.is_nil(results[i][1])
      assert.are.equal("ENOTCONN", results[i][3])
    end
  end)

  -- MidiSession: messages given from the callbacks of a received burst leave
  -- at its end (runtime.h, rmc_burst_hook), not after the loop turn's poll.
  describe("MidiSession messages given during a burst", function()
    local function mpair(opts_a, opts_b)
      local pa, pb = H.port(), H.port()
      local ta = { peer_address = "127.0.0.1", sending_port = pb, receiving_port = pa, jitter_buffer_size = 0 }
      local tb = { peer_address = "127.0.0.1", sending_port = pa, receiving_port = pb, jitter_buffer_size = 0 }
      for k, v in pairs(opts_a or {}) do ta[k] = v end
      for k, v in pairs(opts_b or {}) do tb[k] = v end
      local a, b = rtpmidi.MidiSession(ta), rtpmidi.MidiSession(tb)
      assert(control:start_session(control:add_session(a)))
      assert(control:start_session(control:add_session(b)))
      return a, b
    end

    it("relays through a third session: every message, in order, a burst's messages together", function()
      local N = 300
      local got = {}
      -- (C's stop makes D release the note C left on: recovered, not counted)
      local c, d = mpair(nil, { incoming_midi = function(_, m, _, recovered)
        if not recovered then got[#got + 1] = m end
      end })
      -- B's callbacks give to C: C's packets leave at the end of B's bursts
      local a, b = mpair(nil, { incoming_midi = function(_, m) assert(c:send_midi(m)) end })
      H.run_until(function() return a:is_started() and d:is_started() end, "start")
      for i = 1, N do
        assert(a:send_midi(string.char(0xB0 + i % 16, i % 120, i // 120)))
        assert(a:flush()) -- one packet each: B reads them in bursts
      end
      H.run_until(function() return #got == N end, "300 messages relayed", 5000)
      for i = 1, N do assert.are.equal(string.char(0xB0 + i % 16, i % 120, i // 120), got[i]) end
      local sc = c:stats()
      assert.is_true(sc.packets_sent < N, ("C sent %d packets for %d messages"):format(sc.packets_sent, N))
      assert.are.equal(0, d:stats().lost)
      assert.are.equal(N, b:stats().messages_received) -- (guard packets may follow the 300)
    end)

    it("gives up a session's burst-end flush when a callback stops or removes it", function()
      -- (under ASan, CI's check-asan: a removed session's flush owed must not run)
      local stopped, removed
      local got = {}
      -- (C's stop makes D release the note C left on: recovered, not counted)
      local c, d = mpair(nil, { incoming_midi = function(_, m, _, recovered)
        if not recovered then got[#got + 1] = m end
      end })
      local e = mpair()
      local a = mpair(nil, { incoming_midi = function(_, m)
        if m == "\xfa" then
          assert(c:send_midi("\x90\x40\x40"))
          control:stop_session(c.cookie) -- the stop sends what was queued, once
          stopped = { c:send_midi("\x90\x41\x40") }
        elseif m == "\xfb" then
          assert(e:send_midi("\x90\x42\x40"))
          control:remove_session(e.cookie) -- freed with its flush owed
          removed = true
        end
      end })
      H.run_until(function() return a:is_started() and d:is_started() end, "start")
      assert(a:send_midi("\xfa")); assert(a:flush())
      assert(a:send_midi("\xfb")); assert(a:flush())
      H.run_until(function() return stopped and removed end, "both callbacks", 3000)
      assert.are.equal("ENOTCONN", stopped[3])
      H.run_for(50)
      assert.are.same({ "\x90\x40\x40" }, got)
      assert.is_false(c:is_started())
      -- the loop goes on: a restarted C reaches D again
      assert(control:start_session(c.cookie))
      assert(c:send_midi("\x90\x43\x40"))
      H.run_until(function() return #got == 2 end, "C after its restart", 3000)
      assert.are.same({ "\x90\x40\x40", "\x90\x43\x40" }, got)
    end)
  end)
end)
