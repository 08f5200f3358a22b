-- AppleMidiSession's sends made while a burst of received datagrams is
-- delivered (an echo, a relay) wait for the burst's end and leave together
-- through sendmmsg, as RTPSession's do (csrc/core/runtime.c). What that must
-- not change: every packet and its order, one message per packet when the
-- script flushes each, BY after what the same callback sent, and a stop
-- from inside a burst.
local rtpmidi = require "rtpmidi"
local H = require "helper"

local control = rtpmidi.RTPControl()
local FAST = { invite_interval = 50, ck_fast_interval = 100, ck_interval = 300, rs_interval = 200 }

local function session(opts) return H.apple(control, { jitter_buffer_size = 0 }, FAST, opts) end

local function joined(a, b)
  a:invite("127.0.0.1", b.config.port)
  H.run_until(function() return #a:participants() == 1 and #b:participants() == 1 end, "joined", 3000)
end

describe("AppleMidiSession sends batched at the end of a received burst", function()
  after_each(H.assert_clean)

  it("echoes back-to-back packets in bursts: all of them, in order, one message a packet", function()
    local N = 400 -- more than one send queue (64 datagrams) of echoes
    local got = {}
    local a = session{ incoming_midi = function(_, m) got[#got + 1] = m end }
    local b = session{ incoming_midi = function(self, m)
      assert(self:send_midi(m))
      assert(self:flush()) -- one packet per message: the queue, not the command list, batches
    end }
    joined(a, b)
    local b0, a0 = b:stats(), a:stats()
    -- all sent before the loop runs again: B reads them in bursts of up to 20
    for i = 1, N do
      assert(a:send_midi(string.char(0xB0 + (i % 16), i % 128, (i // 128) % 128)))
      assert(a:flush())
    end
    H.run_until(function() return #got == N end, "400 echoes", 5000)
    H.run_for(20)
    assert.are.equal(N, #got)
    for i = 1, N do assert.are.equal(string.char(0xB0 + (i % 16), i % 128, (i // 128) % 128), got[i]) end
    local sa, sb = a:stats(), b:stats()
    -- one packet of commands per message (guard packets, journal only, may follow)
    assert.are.equal(N, (sb.packets_sent - sb.guard_sent) - (b0.packets_sent - b0.guard_sent))
    assert.are.equal(N, sa.messages_received - a0.messages_received)
    assert.are.equal(0, sa.lost + sa.duplicate + sa.malformed)
    assert.are.equal(0, sb.lost + sb.duplicate + sb.malformed)
    assert.are.equal(0, sb.send_errors)
  end)

  it("sends what a callback sent before the BY of a stop in the same callback", function()
    local got, left = {}, nil
    local released = {}
    local a = session{
      incoming_midi = function(_, m, _, recovered)
        -- B leaves with its notes on: A releases them (recovered) before participant_left
        if recovered then released[#released + 1] = m else got[#got + 1] = m end
      end,
      participant_left = function(_, _, reason) left = { reason = reason, after = #got, released = #released } end,
    }
    local b
    b = session{ incoming_midi = function(self, m)
      if m ~= "\xfc" then return end
      for i = 1, 3 do
        assert(self:send_midi(string.char(0x90, 60 + i, 100)))
        assert(self:flush())
      end
      control:stop_session(b.cookie)
    end }
    joined(a, b)
    assert(a:send_midi("\xfc"))
    H.run_until(function() return left ~= nil end, "B's BY", 3000)
    assert.are.equal("bye", left.reason)
    assert.are.equal(3, left.after) -- the three notes came before the BY
    assert.are.same({ "\x90\x3d\x64", "\x90\x3e\x64", "\x90\x3f\x64" }, got)
    assert.are.equal(3, left.released)
    assert.are.same({ "\x80\x3d\x40", "\x80\x3e\x40", "\x80\x3f\x40" }, released)
    assert.is_false(b:is_started())
  end)

  it("keeps the loop and the other sessions going when a burst's callback stops its session", function()
    local got_c, n_b = {}, 0
    local c = session{ incoming_midi = function(_, m) got_c[#got_c + 1] = m end }
    local a = session()
    local b
    b = session{ incoming_midi = function(self, m)
      n_b = n_b + 1
      assert(self:send_midi(m))
      assert(self:flush())
      if n_b == 5 then control:stop_session(b.cookie) end -- in the middle of a burst
    end }
    joined(a, b)
    c:invite("127.0.0.1", a.config.port)
    H.run_until(function() return #a:participants() == 2 and #c:participants() == 1 end, "C joined", 3000)
    for i = 1, 30 do
      assert(a:send_midi(string.char(0x90, i, 1)))
      assert(a:flush())
    end
    H.run_until(function() return not b:is_started() end, "B stopped", 3000)
    assert.are.equal(5, n_b) -- nothing was delivered to B after its stop
    -- A still serves C: its messages arrived, whole and in order
    H.run_until(function() return #got_c == 30 end, "A's 30 messages at C", 3000)
    for i = 1, 30 do assert.are.equal(string.char(0x90, i, 1), got_c[i]) end
  end)
end)
