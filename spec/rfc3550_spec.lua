-- RTPSession as a complete RFC 3550 endpoint: sequence numbers across the
-- wrap, the jitter buffer under injected faults, RTCP (SR/RR/SDES/BYE, RTT),
-- drops, SSRC collisions and loops, source filtering, host names.
local rtpmidi = require "rtpmidi"
local core = require "rtpmidi.core"
local H = require "helper"
local FI = require "fault_injector"

local control = rtpmidi.RTPControl()

local function rtp(seq, ts, ssrc, payload, pt)
  return string.pack(">BBI2I4I4", 0x80, pt or 96, seq & 0xffff, ts, ssrc) .. (payload or "")
end

local function session(t)
  t.peer_address = t.peer_address or "127.0.0.1"
  t.payload = t.payload or 96
  local s = rtpmidi.RTPSession(t)
  control:add_session(s)
  return s
end

describe("RFC 3550 endpoint", function()
  local injector, sockets, timers
  before_each(function() sockets, timers = {}, {} end)
  after_each(function()
    for _, t in ipairs(timers) do t:cancel() end
    if injector then injector:close(); injector = nil end
    for _, s in ipairs(sockets) do s:close() end
    H.assert_clean()
  end)

  local function every(ms, fn)
    local t = rtpmidi.every(ms, fn)
    timers[#timers + 1] = t
    return t
  end

  local function udp(port, host)
    local s = assert(core.udp(host or "127.0.0.1", port or 0))
    sockets[#sockets + 1] = s
    return s
  end

  -- A sends N packets to B through the injector; returns what B got.
  local function run_faults(opts)
    local pa, pb, p, q = H.port(), H.port(), H.port(), H.port()
    injector = FI.new{ a_port = pa, b_port = pb, p = p, q = q, seed = opts.seed, loss = opts.loss,
                       reorder = opts.reorder, duplicate = opts.duplicate, delay = opts.delay }
    local got = {}
    local a = session{ sending_port = p, receiving_port = pa, start_sequence = opts.start_sequence,
                       rtcp_interval = opts.rtcp_interval, tool_name = "fault-A" }
    local b = session{ sending_port = q, receiving_port = pb, jitter_buffer_size = opts.jitter,
                       rtcp_interval = opts.rtcp_interval, tool_name = "fault-B",
      incoming_rtp = function(_, _, ts, packet, rj)
        got[#got + 1] = { index = tonumber(packet:match("^(%d+)")), rj = rj, ts = ts }
      end }
    assert(control:start_session(b.cookie))
    assert(control:start_session(a.cookie))
    local N, sent = opts.n, 0
    local pacer = every(1, function(t)
      -- a window of packets in flight, so that loopback never overflows
      for _ = 1, 2 do
        if sent < N and sent - injector.seen < 32 then
          sent = sent + 1
          assert(a:send_data(("%d-"):format(sent) .. ("x"):rep(sent % 17), sent * 10))
        end
      end
      if sent == N and injector.seen == N then t:cancel() end
    end)
    H.run_until(function() return injector.seen == N end, "the injector to see every packet", 20000)
    pacer:cancel()
    injector:flush()
    return a, b, got
  end

  local function check_against(expect, got, b)
    -- until B released (or gave up on) everything up to the highest packet
    H.run_until(function() return #got + b:stats().lost >= #expect.delivered + expect.lost end,
                "every packet delivered or declared lost", 10000)
    H.run_for(50) -- nothing more may come
    assert.are.equal(#expect.delivered, #got)
    for i, e in ipairs(expect.delivered) do
      if got[i].index ~= e.index or got[i].rj ~= e.rj then
        error(("delivery %d: got packet %s rj=%s, want packet %d rj=%s"):format(
          i, tostring(got[i].index), tostring(got[i].rj), e.index, tostring(e.rj)))
      end
      assert.are.equal(e.index * 10, got[i].ts)
    end
    local st = b:stats()
    for _, k in ipairs{ "lost", "duplicate", "late", "reordered", "packets_received", "bytes_received" } do
      assert.are.equal(expect[k], st[k], k)
    end
  end

  for _, seed in ipairs{ 7, 1234 } do
    it(("delivers exactly what the fault injector let through, across the wrap (seed %d)"):format(seed), function()
      local a, b, got = run_faults{ seed = seed, n = 3000, loss = 0.03, reorder = 0.05, duplicate = 0.03,
                                    jitter = 250, start_sequence = 65535 - 1500, rtcp_interval = 0.1 }
      local expect = injector:expected()
      assert.is_true(#injector.dropped > 50 and expect.reordered > 50 and expect.duplicate > 50)
      -- the sequence numbers on the wire crossed 65535 -> 0
      local wrapped = false
      for i = 2, #injector.arrivals do
        if injector.arrivals[i].seq < 100 and injector.arrivals[i - 1].seq > 65000 then wrapped = true end
      end
      assert.is_true(wrapped)
      check_against(expect, got, b)
      -- B's receiver reports tell A the RFC 3550 cumulative loss (duplicates
      -- count as received) and the extended highest sequence number
      H.run_until(function() return a:stats().remote_lost == expect.lost - expect.duplicate end,
                  "B's report of the loss", 5000)
      local st = b:stats()
      assert.are.equal(a:stats().ssrc, st.peer_ssrc)
      assert.is_number(st.jitter)
      assert.are.equal(0, st.malformed + st.foreign + st.unknown_ssrc + st.loops)
    end)
  end

  it("with jitter_buffer_size 0 waits for nothing: a gap is a loss at once, the packet after it late", function()
    local _, b, got = run_faults{ seed = 99, n = 1000, reorder = 0.05, duplicate = 0.02, jitter = 0 }
    -- expected from the log: in arrival order, anything behind the release point is late (or a duplicate)
    local e = { delivered = {}, lost = 0, duplicate = 0, late = 0, reordered = 0,
                packets_received = #injector.arrivals, bytes_received = 0 }
    local nxt, done = nil, {}
    for _, arr in ipairs(injector.arrivals) do
      local i = arr.index
      e.bytes_received = e.bytes_received + #arr.data - 12
      nxt = nxt or i
      if i < nxt then
        if done[i] then e.duplicate = e.duplicate + 1 else e.late = e.late + 1 end
      else
        e.lost = e.lost + (i - nxt)
        e.delivered[#e.delivered + 1] = { index = i, rj = i > nxt }
        done[i] = true
        nxt = i + 1
      end
    end
    assert.is_true(e.late > 20)
    check_against(e, got, b)
  end)

  it("declares a packet late when it comes after its wait ran out", function()
    local pa, pb, p, q = H.port(), H.port(), H.port(), H.port()
    injector = FI.new{ a_port = pa, b_port = pb, p = p, q = q, delay = { [5] = 150 } }
    local got = {}
    local a = session{ sending_port = p, receiving_port = pa }
    local b = session{ sending_port = q, receiving_port = pb, jitter_buffer_size = 20,
      incoming_rtp = function(_, _, _, packet, rj) got[#got + 1] = { tonumber(packet), rj } end }
    assert(control:start())
    for i = 1, 10 do assert(a:send_data(tostring(i), i)) end
    H.run_until(function() return #injector.arrivals == 10 end, "the delayed packet")
    for i = 11, 20 do assert(a:send_data(tostring(i), i)) end
    H.run_until(function() return #got == 19 end, "19 packets")
    local want = {}
    for i = 1, 20 do if i ~= 5 then want[#want + 1] = { i, i == 6 } end end
    assert.are.same(want, got)
    local st = b:stats()
    assert.are.same({ 1, 1, 0, 0, 20 }, { st.lost, st.late, st.reordered, st.duplicate, st.packets_received })
  end)

  it("sends SR, RR, SDES (CNAME, TOOL) and BYE that tshark decodes, and measures the round trip", function()
    local pa, pb, p, q = H.port(), H.port(), H.port(), H.port()
    injector = FI.new{ a_port = pa, b_port = pb, p = p, q = q }
    local drops = {}
    local a = session{ sending_port = p, receiving_port = pa, rtcp_interval = 0.1, cname = "alice@spec",
                       tool_name = "rtpmidi-spec-A" }
    local b = session{ sending_port = q, receiving_port = pb, rtcp_interval = 0.1, tool_name = "rtpmidi-spec-B",
      drop_call = function(self, cookie, reason, detail) drops[#drops + 1] = { self.cookie == cookie, reason, detail } end }
    assert(control:start())
    local n = 0
    local pacer = every(20, function() n = n + 1; assert(a:send_data(n .. " note", nil)) end)
    H.run_until(function()
      local sa, sb = a:stats(), b:stats()
      return sa.rtt and sb.peer_tool and sa.peer_tool and sa.rtcp_received >= 3 and sb.rtcp_received >= 3
    end, "RTCP both ways and a round-trip time")
    pacer:cancel()
    local sa, sb = a:stats(), b:stats()
    assert.are.equal("alice@spec", sb.peer_cname)
    assert.are.equal("rtpmidi-spec-A", sb.peer_tool)
    assert.are.equal("rtpmidi-spec-B", sa.peer_tool)
    assert.matches("@", sa.peer_cname)
    assert.is_true(sa.rtt >= 0 and sa.rtt < 100)
    assert.is_nil(sb.rtt) -- B sent no SR, so A's reports carry no LSR for it
    control:stop_session(a.cookie)
    H.run_until(function() return #drops == 1 end, "B's drop_call for A's BYE")
    assert.are.same({ true, "bye", "session stopped" }, drops[1])
    H.run_for(50)
    assert.are.equal(1, #drops)

    local pcap = os.tmpname()
    injector:write_pcap(pcap)
    local tshark = io.popen("command -v tshark"):read("*l")
    if not tshark then
      os.remove(pcap)
      pending("tshark is not installed: the capture was not decoded")
      return
    end
    local cmd = ("tshark -r %s -d udp.port==%d,rtp -d udp.port==%d,rtp -d udp.port==%d,rtcp -d udp.port==%d,rtcp " ..
                 "-T fields -E separator=/t -e rtcp.pt -e rtcp.sdes.text -e _ws.malformed -e _ws.expert.severity 2>/dev/null")
                :format(pcap, p, q, p + 1, q + 1)
    local out = io.popen(cmd):read("*a")
    if os.getenv("RTPMIDI_KEEP_PCAP") then os.rename(pcap, os.getenv("RTPMIDI_KEEP_PCAP")) end
    os.remove(pcap)
    local types, texts = {}, {}
    for line in out:gmatch("[^\n]+") do
      local pt, text, malformed = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)")
      assert(pt, "tshark: " .. line)
      assert.are.equal("", malformed, "malformed packet: " .. line)
      for v in pt:gmatch("%d+") do types[tonumber(v)] = true end
      for v in text:gmatch("[^,]+") do texts[v] = true end
    end
    assert.is_true(types[200] and types[201] and types[202] and types[203], "SR, RR, SDES, BYE in:\n" .. out)
    assert.is_true(texts["rtpmidi-spec-A"] and texts["rtpmidi-spec-B"] and texts["alice@spec"], out)
    assert.is_true(texts["session stopped"], out)
  end)

  describe("drop_call", function()
    local function drops_of(t)
      local list = {}
      t.drop_call = function(self, cookie, reason, detail)
        assert.are.equal(self.cookie, cookie)
        list[#list + 1] = { reason, detail }
      end
      return list
    end

    it("fires 'timeout' once per silence, also for a peer that never appears", function()
      local pa, pb = H.port(), H.port()
      local sink, sink_rtcp = udp(pb), udp(pb + 1) -- listens, never answers: no ICMP
      sink:recv(function() end); sink_rtcp:recv(function() end)
      local t = { sending_port = pb, receiving_port = pa, timeout = 0.3, rtcp_interval = 0.05 }
      local drops = drops_of(t)
      local a = session(t)
      assert(control:start_session(a.cookie))
      H.run_until(function() return #drops == 1 end, "a timeout")
      assert.are.equal("timeout", drops[1][1])
      assert.matches("0.3 s", drops[1][2])
      H.run_for(500)
      assert.are.equal(1, #drops)
      -- the peer speaks, then falls silent again: a second timeout
      local got
      a.incoming_rtp = function(_, _, _, packet) got = packet end
      assert(sink:send(rtp(1, 1, 0x5eed, "back"), "127.0.0.1", pa))
      H.run_until(function() return got end, "the peer's packet")
      H.run_until(function() return #drops == 2 end, "the second timeout")
      assert.are.equal("timeout", drops[2][1])
      assert.is_true(a:is_started()) -- a drop does not stop the session
    end)

    it("fires 'bye' with the peer's reason when it stops; the session goes on", function()
      local pa, pb = H.port(), H.port()
      local t = { sending_port = pb, receiving_port = pa }
      local drops = drops_of(t)
      local got = {}
      t.incoming_rtp = function(_, _, _, packet) got[#got + 1] = packet end
      local a = session(t)
      local b = session{ sending_port = pa, receiving_port = pb }
      assert(control:start())
      assert(b:send_data("one"))
      H.run_until(function() return #got == 1 end, "a packet")
      control:stop_session(b.cookie)
      H.run_until(function() return #drops == 1 end, "the BYE")
      assert.are.same({ "bye", "session stopped" }, drops[1])
      assert(a:send_data("to nobody")) -- ICMP after the BYE: no second drop
      H.run_for(100)
      assert.are.equal(1, #drops)
      assert(control:start_session(b.cookie))
      assert(b:send_data("two"))
      H.run_until(function() return #got == 2 end, "a packet after the restart")
      assert.are.equal("two", got[2])
    end)

    it("fires 'network' once when the peer's port is closed", function()
      local pa, closed = H.port(), H.port()
      local t = { sending_port = closed, receiving_port = pa, timeout = 0.3 }
      local drops = drops_of(t)
      local a = session(t)
      assert(control:start_session(a.cookie))
      local n = 0
      local pacer = every(10, function() n = n + 1; a:send_data("x") end)
      H.run_until(function() return #drops == 1 end, "the ICMP error")
      H.run_until(function() return n >= 20 end, "more sends")
      pacer:cancel()
      H.run_for(400) -- past the timeout: still one drop for one event
      assert.are.equal(1, #drops)
      assert.are.equal("network", drops[1][1])
      assert.matches("ECONNREFUSED", drops[1][2])
    end)

    it("fires 'network' when the host name does not resolve; 'localhost' works", function()
      local t = { peer_address = "no-such-host.invalid", sending_port = H.port(), receiving_port = H.port() }
      local drops = drops_of(t)
      local s = session(t)
      assert.is_true(control:start_session(s.cookie))
      H.run_until(function() return #drops == 1 end, "the resolver's answer", 15000)
      assert.are.equal("network", drops[1][1])
      assert.matches("cannot resolve host: no%-such%-host%.invalid", drops[1][2])

      local pa, pb = H.port(), H.port()
      local got
      local a = session{ peer_address = "localhost", sending_port = pb, receiving_port = pa }
      session{ peer_address = "127.0.0.1", sending_port = pa, receiving_port = pb,
               incoming_rtp = function(_, _, _, packet) got = packet end }
      assert(control:start())
      local ok, err = a:send_data("early")
      if not ok then assert.matches("EAGAIN", err) end
      H.run_until(function() return a:local_port() == pa end, "the resolution of localhost", 15000)
      assert(a:send_data("hello"))
      H.run_until(function() return got == "hello" or got == "early" end, "a packet to localhost")
    end)
  end)

  it("raises naming the option for bad RFC 3550 options", function()
    local function bad(k, v)
      local t = { peer_address = "127.0.0.1", sending_port = 5004, payload = 96 }
      t[k] = v
      assert.error_matches(function() rtpmidi.RTPSession(t) end, "bad argument '" .. k .. "'")
    end
    bad("rtcp_interval", 0); bad("rtcp_interval", "5"); bad("timeout", -1); bad("timeout", {})
    bad("accept_any_source", 1); bad("start_sequence", 65536); bad("start_sequence", 1.5)
    bad("cname", ""); bad("cname", ("x"):rep(256)); bad("tool_name", ("x"):rep(256))
    local ok = rtpmidi.RTPSession{ peer_address = "127.0.0.1", sending_port = 5004, payload = 96,
      rtcp_interval = 0.5, timeout = 2, accept_any_source = false, start_sequence = 0, cname = "me@here" }
    assert.are.equal(0.5, ok.config.rtcp_interval)
    assert.are.equal(0, ok.config.start_sequence)
  end)

  describe("SSRC and source checks", function()
    it("takes a new SSRC on a collision, says BYE for the old one, and goes on", function()
      local pa, pb = H.port(), H.port()
      local got, drops = {}, {}
      local a = session{ sending_port = pb, receiving_port = pa,
        incoming_rtp = function(_, _, _, packet) got[#got + 1] = packet end,
        drop_call = function(_, _, reason) drops[#drops + 1] = reason end }
      local b = session{ sending_port = pa, receiving_port = pb }
      assert(control:start())
      assert(b:send_data("before"))
      H.run_until(function() return #got == 1 end, "a packet")
      local old = b:stats().ssrc
      local intruder = udp()
      assert(intruder:send(rtp(7, 7, old, "mine"), "127.0.0.1", pb))
      H.run_until(function() return b:stats().ssrc_collisions == 1 end, "the collision")
      assert.are_not.equal(old, b:stats().ssrc)
      assert(b:send_data("after"))
      H.run_until(function() return #got == 2 end, "a packet with the new SSRC")
      assert.are.same({ "before", "after" }, got)
      assert.are.equal(b:stats().ssrc, a:stats().peer_ssrc)
      assert.are.same({}, drops) -- a collision is not a drop
    end)

    it("drops its own packets looped back", function()
      local p = H.port()
      local got = 0
      local s = session{ sending_port = p, receiving_port = p, incoming_rtp = function() got = got + 1 end }
      assert(control:start_session(s.cookie))
      for _ = 1, 3 do assert(s:send_data("echo")) end
      H.run_until(function() return s:stats().loops == 3 end, "three loops")
      assert.are.equal(0, got)
      assert.are.equal(0, s:stats().ssrc_collisions)
    end)

    it("counts other sources and unknown SSRCs as foreign", function()
      local pa, pb = H.port(), H.port()
      local got = {}
      local a = session{ sending_port = pb, receiving_port = pa,
        incoming_rtp = function(_, _, _, packet) got[#got + 1] = packet end }
      local b = session{ sending_port = pa, receiving_port = pb }
      assert(control:start())
      assert(b:send_data("real"))
      H.run_until(function() return #got == 1 end, "a packet")
      local elsewhere = udp(0, "127.0.0.2")
      assert(elsewhere:send(rtp(1, 1, 0x1234, "spoof"), "127.0.0.1", pa))
      local same_host = udp()
      assert(same_host:send(rtp(1, 1, 0x4321, "other ssrc"), "127.0.0.1", pa))
      H.run_until(function() return a:stats().foreign == 2 end, "two foreign packets")
      assert.are.equal(1, a:stats().unknown_ssrc)
      assert.are.same({ "real" }, got)
    end)

    it("with accept_any_source locks to the first source", function()
      local pa = H.port()
      local got = {}
      local a = session{ peer_address = "192.0.2.1", receiving_port = pa, accept_any_source = true,
        incoming_rtp = function(_, _, _, packet) got[#got + 1] = packet end }
      assert(control:start_session(a.cookie))
      local first, second = udp(0, "127.0.0.2"), udp()
      assert(first:send(rtp(1, 1, 0x1111, "first"), "127.0.0.1", pa))
      H.run_until(function() return #got == 1 end, "the first source")
      assert(second:send(rtp(2, 2, 0x1111, "second"), "127.0.0.1", pa))
      assert(first:send(rtp(2, 2, 0x1111, "again"), "127.0.0.1", pa))
      H.run_until(function() return #got == 2 end, "the locked source")
      assert.are.same({ "first", "again" }, got)
      assert.are.equal(1, a:stats().foreign)
    end)
  end)
end)
