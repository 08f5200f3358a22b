local rtpmidi = require "rtpmidi"
local H = require "helper"

describe("RTPSession over loopback", function()
  local control = rtpmidi.RTPControl()
  after_each(H.assert_clean)

  it("exchanges 1,000 packets each way, once each, in order, intact", function()
    local pa, pb = H.port(), H.port()
    local N = 1000
    local got = { a = {}, b = {} }
    local function receiver(name)
      return function(self, cookie, timestamp, packet, read_recovery_journal)
        assert.are.equal(self.cookie, cookie)
        local list = got[name]
        list[#list + 1] = { ts = timestamp, packet = packet, rj = read_recovery_journal }
      end
    end
    local a = rtpmidi.RTPSession{ peer_address = "127.0.0.1", sending_port = pb, receiving_port = pa,
                                  payload = 96, incoming_rtp = receiver("a") }
    local b = rtpmidi.RTPSession{ peer_address = "127.0.0.1", sending_port = pa, receiving_port = pb,
                                  payload = 96, incoming_rtp = receiver("b") }
    local ca, cb = control:add_session(a), control:add_session(b)
    assert.is_true(control:start_session(ca))
    assert.is_true(control:start_session(cb))

    local function payload(from, i) return ("%s-%04d-"):format(from, i) .. ("x"):rep(i % 50) end
    -- A window of 64 packets in flight each way, so that a busy machine
    -- cannot overflow the kernel's socket buffers: UDP on loopback drops
    -- what does not fit, and this test is about our code losing nothing.
    local sent = 0
    local pacer = rtpmidi.every(1, function(t)
      while sent < N and sent - #got.a < 64 and sent - #got.b < 64 do
        sent = sent + 1
        assert(a:send_data(payload("a", sent), sent * 7))
        assert(b:send_data(payload("b", sent), 0xFFFFFFFF - sent))
      end
      if sent == N then t:cancel() end
    end)
    H.run_until(function() return #got.a == N and #got.b == N end, "1,000 packets each way", 10000)
    pacer:cancel()
    H.run_for(20) -- nothing more may arrive
    assert.are.equal(N, #got.a)
    assert.are.equal(N, #got.b)
    for i = 1, N do
      assert.are.same({ ts = 0xFFFFFFFF - i, packet = payload("b", i), rj = false }, got.a[i])
      assert.are.same({ ts = i * 7, packet = payload("a", i), rj = false }, got.b[i])
    end
    assert.are.equal(N, a:stats().packets_sent)
    assert.are.equal(N, b:stats().packets_received)
  end)

  it("builds subclasses with extend and positional init", function()
    local Stream = rtpmidi.RTPSession:extend()
    function Stream:init(peer, sp, rp, jb)
      rtpmidi.RTPSession.init(self, peer, sp, rp, 96, jb, "ExampleStream")
    end
    local received = {}
    function Stream:incoming_rtp(_, ts, packet) received[#received + 1] = { ts, packet } end
    local started, stopped = 0, 0
    function Stream:start() started = started + 1 end
    function Stream:stop() stopped = stopped + 1 end

    local p1, p2 = H.port(), H.port()
    local s1, s2 = Stream("127.0.0.1", p2, p1, 5), Stream("::1", p1, p2)
    assert.is_true(s1:is_a(rtpmidi.RTPSession))
    assert.are.equal("ExampleStream", s1.config.tool_name)
    assert.are.equal(5, s1.config.jitter_buffer_size)
    local c1 = control:add_session(s1)
    local s2v4 = Stream("127.0.0.1", p1, p2)
    local c2 = control:add_session(s2v4)
    assert.are_not.equal(c1, c2)
    assert.are.equal(s1, control:get_session(c1))
    assert.is_true(control:start())
    assert.are.equal(2, started)
    assert(s1:send_data("ping", 42))
    H.run_until(function() return #received == 1 end, "ping")
    assert.are.same({ 42, "ping" }, received[1])
    control:stop_session(c1)
    assert.are.equal(1, stopped)
    control:stop_session(c1) -- idempotent: stop is called once
    assert.are.equal(1, stopped)
    local ok, err = s1:send_data("late")
    assert.is_nil(ok)
    assert.matches("not started", err)
    -- a stopped session can start again
    assert.is_true(control:start_session(c1))
    assert.are.equal(3, started)
    assert.is_not_nil(s2) -- built, never registered
  end)

  it("exchanges packets over IPv6", function()
    local p1, p2 = H.port(), H.port()
    local got
    local s1 = rtpmidi.RTPSession{ peer_address = "::1", sending_port = p2, receiving_port = p1, payload = 97 }
    local s2 = rtpmidi.RTPSession{ peer_address = "::1", sending_port = p1, receiving_port = p2, payload = 97,
      incoming_rtp = function(_, _, ts, packet) got = { ts, packet } end }
    control:add_session(s1); control:add_session(s2)
    assert.is_true(control:start())
    assert(s1:send_data("six", 6))
    H.run_until(function() return got end, "a packet over ::1")
    assert.are.same({ 6, "six" }, got)
  end)

  it("puts a real RFC 3550 header on the wire", function()
    local codec_port, p2 = H.port(), H.port()
    -- a raw receiver: a session with payload 96 reading what a sender sends
    local raw
    local rx = rtpmidi.RTPSession{ peer_address = "127.0.0.1", receiving_port = p2, payload = 96,
      incoming_rtp = function(_, _, ts, packet) raw = { ts, packet } end }
    local tx = rtpmidi.RTPSession{ peer_address = "127.0.0.1", sending_port = p2, receiving_port = codec_port, payload = 96 }
    control:add_session(rx); control:add_session(tx)
    assert.is_true(control:start())
    assert(tx:send_data("abc", 0x01020304, true))
    H.run_until(function() return raw end, "one packet")
    assert.are.same({ 0x01020304, "abc" }, raw)
    local st_tx, st_rx = tx:stats(), rx:stats()
    assert.are.equal(st_tx.ssrc, st_rx.peer_ssrc)
    assert.are.equal(3, st_rx.bytes_received)
  end)
  it("declares the oldest gap lost when jitter_buffer_packets fill up", function()
    local core = require "rtpmidi.core"
    local pr = H.port()
    local got = {}
    local rx = rtpmidi.RTPSession{ peer_address = "127.0.0.1", receiving_port = pr, payload = 96,
      jitter_buffer_size = 5000, jitter_buffer_packets = 4,
      incoming_rtp = function(_, _, ts, _, rj) got[#got + 1] = { ts, rj } end }
    control:add_session(rx)
    assert(control:start())
    local u = assert(core.udp("127.0.0.1", 0))
    local function send(seq)
      assert(u:send(rtpmidi.codec.encode_rtp{ payload_type = 96, sequence = seq, timestamp = seq, ssrc = 7,
                                               payload = "x" }, "127.0.0.1", pr))
    end
    send(100)                                  -- delivered at once
    H.run_until(function() return #got == 1 end, "the first packet")
    local t0 = rtpmidi.now()
    for seq = 102, 106 do send(seq) end        -- 101 is missing; 5 packets wait in a 4-packet buffer
    H.run_until(function() return #got >= 2 end, "the buffer to give up on 101", 3000)
    -- long before the 5 s wait ran out: the full buffer declared the gap lost
    assert.is_true(rtpmidi.now() - t0 < 2000)
    assert.are.same({ 102, true }, got[2])
    u:close()
    assert.error_matches(function()
      rtpmidi.RTPSession{ peer_address = "127.0.0.1", receiving_port = H.port(), payload = 96, jitter_buffer_packets = 1 }
    end, "bad argument 'jitter_buffer_packets'")
  end)
end)
