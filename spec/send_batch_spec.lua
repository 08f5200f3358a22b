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
end)
