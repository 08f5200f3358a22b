-- IPv6 (issue 18, item 10): Macs and rtpmidid publish and accept IPv6, often
-- link-local with a scope. Over ::1 (and a link-local address when the host
-- has one): AppleMIDI invitations each way and MIDI both ways, a default
-- session (dual-stack) with IPv4 and IPv6 participants at once, each
-- address as the user writes it (127.0.0.1 dotted, never ::ffff:127.0.0.1;
-- fe80::1%eth0 with the interface's name), bind_address "::1" and "::",
-- MidiSession and Midi2Session peers over IPv6, a host name that resolves
-- to IPv6 only (in a mount namespace of its own whose /etc/hosts says so),
-- and the hostile rules: a forged packet from another port of a
-- participant's host, or from the other family's loopback, is refused.
local rtpmidi = require "rtpmidi"
local core = require "rtpmidi.core"
local H = require "helper"
local P = require "proc"

local control = rtpmidi.RTPControl()

-- Whether this host has ::1: a socket binds to it.
local HAVE_V6 = (function()
  local s = core.udp("::1", 0)
  if not s then return false end
  s:close()
  return true
end)()
local NO_V6 = "the host has no IPv6 loopback (::1): `ip -6 addr` shows none"

local FAST = { invite_interval = 50, ck_fast_interval = 100, ck_interval = 300, rs_interval = 100 }

local function apple(opts) return H.apple(control, FAST, opts) end

-- Records the callbacks of an AppleMidiSession.
local function recorder(name)
  local r = { joined = {}, left = {}, midi = {}, failed = {} }
  r.cb = {
    name = name,
    participant_joined = function(_, p) r.joined[#r.joined + 1] = p end,
    participant_left = function(_, p, reason) r.left[#r.left + 1] = { p = p, reason = reason } end,
    incoming_midi = function(_, m, _, _, p) r.midi[#r.midi + 1] = { m = m, from = p.address } end,
    invitation_failed = function(_, address, port, reason)
      r.failed[#r.failed + 1] = { address = address, port = port, reason = reason }
    end,
  }
  return r
end

local function with(r, extra)
  local t = {}
  for k, v in pairs(r.cb) do t[k] = v end
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end

local function addresses(s)
  local t = {}
  for _, p in ipairs(s:participants()) do t[#t + 1] = p.address end
  table.sort(t)
  return t
end

-- AppleMIDI and RTP packets by hand.
local function invitation(cmd, token, ssrc, name)
  return "\xff\xff" .. cmd .. string.pack(">I4I4I4", 2, token, ssrc) .. (name and name .. "\0" or "")
end
local function rtp(seq, ts, ssrc, payload)
  return string.pack(">BBI2I4I4", 0x80, 97, seq & 0xffff, ts & 0xffffffff, ssrc) .. payload
end

-- The host's first link-local IPv6 address with its interface ("fe80::..",
-- "eth0"), or nil.
local function link_local()
  local p = io.popen("ip -6 -o addr show scope link 2>/dev/null")
  if not p then return nil end
  local out = p:read("a")
  p:close()
  for ifname, ip in out:gmatch("%d+:%s+([%w%.%-_]+)%s+inet6%s+(fe80:[%x:]+)/") do return ip, ifname end
  return nil
end

describe("IPv6", function()
  local own = H.owned()
  after_each(function()
    own.release()
    P.kill_all()
    H.assert_clean()
  end)

  it("AppleMIDI over ::1: an invitation each way, MIDI both ways, participants at ::1", function()
    if not HAVE_V6 then return pending(NO_V6) end
    local ra, rb = recorder("A"), recorder("B")
    local a = apple(with(ra, { bind_address = "::1" }))
    local b = apple(with(rb)) -- default: both families
    assert.is_true(a:invite("::1", b.config.port))
    H.run_until(function() return #ra.joined == 1 and #rb.joined == 1 end, "A and B joined over ::1", 3000)
    assert.are.equal("::1", ra.joined[1].address)
    assert.are.equal(b.config.port, ra.joined[1].port)
    assert.are.equal("::1", rb.joined[1].address)
    assert.are.equal(a.config.port, rb.joined[1].port)
    assert.are.same({ "::1" }, addresses(a))
    assert.are.same({ "::1" }, addresses(b))
    assert(a:send_midi("\x90\x3c\x64"))
    assert(b:send_midi("\xb0\x07\x20"))
    H.run_until(function() return #ra.midi == 1 and #rb.midi == 1 end, "MIDI both ways", 3000)
    assert.are.same({ m = "\x90\x3c\x64", from = "::1" }, rb.midi[1])
    assert.are.same({ m = "\xb0\x07\x20", from = "::1" }, ra.midi[1])

    -- and the other way: the default session invites the one bound to ::1
    local rc = recorder("C")
    local c = apple(with(rc))
    assert.is_true(c:invite("::1", a.config.port))
    H.run_until(function() return #rc.joined == 1 and #ra.joined == 2 end, "C joined A", 3000)
    assert.are.equal("::1", rc.joined[1].address)
    assert.are.equal("C", ra.joined[2].name)
    assert.are.equal(c.config.port, ra.joined[2].port)
    assert(c:send_midi("\xe0\x00\x40"))
    H.run_until(function() return #ra.midi == 2 end, "C's MIDI at A", 3000)
    assert.are.same({ m = "\xe0\x00\x40", from = "::1" }, ra.midi[2])
  end)

  for _, bind in ipairs{ "default", "::" } do
    it(("a session bound to %s takes IPv4 and IPv6 participants at once, each in its own form"):format(bind),
      function()
      if not HAVE_V6 then return pending(NO_V6) end
      local rh, r4, r6 = recorder("H"), recorder("four"), recorder("six")
      local h = apple(with(rh, { bind_address = bind ~= "default" and bind or nil }))
      local p4 = apple(with(r4, { bind_address = "127.0.0.1" }))
      local p6 = apple(with(r6, { bind_address = "::1" }))
      assert.is_true(p4:invite("127.0.0.1", h.config.port))
      assert.is_true(p6:invite("::1", h.config.port))
      H.run_until(function() return #rh.joined == 2 and #r4.joined == 1 and #r6.joined == 1 end,
        "both joined", 3000)
      -- the IPv4 one came through the dual-stack socket as ::ffff:127.0.0.1
      assert.are.same({ "127.0.0.1", "::1" }, addresses(h))
      for _, p in ipairs(h:participants()) do
        assert.are.equal(p.name == "four" and p4.config.port or p6.config.port, p.port)
      end
      assert(h:send_midi("\x90\x40\x7f"))
      assert(p4:send_midi("\x91\x41\x7f"))
      assert(p6:send_midi("\x92\x42\x7f"))
      H.run_until(function() return #rh.midi == 2 and #r4.midi == 1 and #r6.midi == 1 end, "MIDI everywhere", 3000)
      assert.are.same({ m = "\x90\x40\x7f", from = "127.0.0.1" }, r4.midi[1])
      assert.are.same({ m = "\x90\x40\x7f", from = "::1" }, r6.midi[1])
      local from = {}
      for _, m in ipairs(rh.midi) do from[m.m] = m.from end
      assert.are.same({ ["\x91\x41\x7f"] = "127.0.0.1", ["\x92\x42\x7f"] = "::1" }, from)
      -- the session knows each one as one participant: a BY from each ends it
      p4:disconnect(p4:participants()[1])
      p6:disconnect(p6:participants()[1])
      H.run_until(function() return #rh.left == 2 end, "both left", 3000)
      for _, l in ipairs(rh.left) do assert.are.equal("bye", l.reason) end
    end)
  end

  it("a link-local address with its interface: invited as fe80::..%eth0, reported the same", function()
    if not HAVE_V6 then return pending(NO_V6) end
    local ip, ifname = link_local()
    if not ip then return pending("no link-local IPv6 address here (`ip -6 addr show scope link`)") end
    local text = ip .. "%" .. ifname
    local ra, rb = recorder("A"), recorder("B")
    local a = apple(with(ra))
    local b = apple(with(rb, { bind_address = text }))
    assert.is_true(a:invite(text, b.config.port))
    H.run_until(function() return #ra.joined == 1 and #rb.joined == 1 end, "joined over " .. text, 3000)
    assert.are.equal(text, ra.joined[1].address)
    assert.are.equal(text, rb.joined[1].address)
    assert(a:send_midi("\x90\x3c\x64"))
    H.run_until(function() return #rb.midi == 1 end, "MIDI over " .. text, 3000)
    assert.are.same({ m = "\x90\x3c\x64", from = text }, rb.midi[1])
    -- the address a participant reports is one invite takes back
    local rc = recorder("C")
    local c = apple(with(rc, { bind_address = "::" }))
    assert.is_true(c:invite(ra.joined[1].address, b.config.port))
    H.run_until(function() return #rc.joined == 1 end, "C joined through the reported address", 3000)
  end)

  it("hostile rules over IPv6: another port of the participant's host, or the other family, is refused",
    function()
    if not HAVE_V6 then return pending(NO_V6) end
    local ra = recorder("A")
    local a = apple(with(ra)) -- dual-stack
    local Pc = a.config.port
    -- raw participants driven by hand, one per family, on ports of the same number
    local function raw(host, port, ssrc, token, name)
      local r = { ssrc = ssrc, token = token, got = {} }
      r.c = own.udp(host, port)
      r.d = own.udp(host, port + 1)
      r.c:recv(function(data) r.got[#r.got + 1] = data end)
      r.d:recv(function(data) r.got[#r.got + 1] = data end)
      r.c:send(invitation("IN", token, ssrc, name), host, Pc)
      H.run_until(function() return #r.got >= 1 end, name .. "'s OK", 2000)
      r.d:send(invitation("IN", token, ssrc, name), host, Pc + 1)
      return r
    end
    local port = H.port()
    local six = raw("::1", port, 0x66666666, 0x1111, "six")
    local four = raw("127.0.0.1", port, 0x44444444, 0x2222, "four")
    H.run_until(function() return #ra.joined == 2 end, "both raw participants joined", 2000)
    assert.are.same({ "127.0.0.1", "::1" }, addresses(a))
    local base = a:stats()
    -- forgers: another port of ::1 with six's SSRC and token, and ::1 on
    -- four's very port numbers with four's (an IPv4 host is not ::1)
    local near_c, near_d = own.udp("::1", 0), own.udp("::1", 0)
    local near = { near_c, near_d }
    local seen_by_forgers = 0
    for _, s in ipairs(near) do s:recv(function() seen_by_forgers = seen_by_forgers + 1 end) end
    local forged = 0
    for round = 1, 10 do
      near_c:send(invitation("IN", six.token, six.ssrc, "six"), "::1", Pc)
      near_d:send(rtp(100 + round, round, six.ssrc, "\x03\x90\x3c\x7f"), "::1", Pc + 1)
      near_c:send(invitation("BY", six.token, six.ssrc), "::1", Pc)
      -- from ::1:port (six's socket, not four's host) as four
      six.d:send(rtp(200 + round, round, four.ssrc, "\x03\x91\x3c\x7f"), "::1", Pc + 1)
      six.c:send(invitation("BY", four.token, four.ssrc), "::1", Pc)
      forged = forged + 5
    end
    H.run_until(function()
      local st = a:stats()
      return (st.foreign - base.foreign) + (st.unsolicited - base.unsolicited) == forged
    end, "the forged packets counted", 3000)
    H.run_for(100)
    assert.are.equal(0, #ra.midi)
    assert.are.equal(0, #ra.left)
    assert.are.equal(0, seen_by_forgers)
    assert.are.same({ "127.0.0.1", "::1" }, addresses(a))
    -- each participant's own packets still count
    six.d:send(rtp(1, 1, six.ssrc, "\x03\x92\x3c\x7f"), "::1", Pc + 1)
    four.d:send(rtp(1, 1, four.ssrc, "\x03\x93\x3c\x7f"), "127.0.0.1", Pc + 1)
    H.run_until(function() return #ra.midi == 2 end, "the participants' own MIDI", 2000)
    local from = {}
    for _, m in ipairs(ra.midi) do from[m.m] = m.from end
    assert.are.same({ ["\x92\x3c\x7f"] = "::1", ["\x93\x3c\x7f"] = "127.0.0.1" }, from)
    four.c:send(invitation("BY", four.token, four.ssrc), "127.0.0.1", Pc)
    six.c:send(invitation("BY", six.token, six.ssrc), "::1", Pc)
    H.run_until(function() return #ra.left == 2 end, "both left by their own BY", 2000)
  end)

  it("MidiSession to ::1, and one bound to :: with an IPv4 peer", function()
    if not HAVE_V6 then return pending(NO_V6) end
    local function pair(peer_a, peer_b, opts_a)
      local pa, pb = H.port(), H.port()
      local got = { a = {}, b = {} }
      local ta = { peer_address = peer_a, sending_port = pb, receiving_port = pa,
                   incoming_midi = function(_, m) got.a[#got.a + 1] = m end }
      for k, v in pairs(opts_a or {}) do ta[k] = v end
      local a = rtpmidi.MidiSession(ta)
      local b = rtpmidi.MidiSession{ peer_address = peer_b, sending_port = pa, receiving_port = pb,
                                     incoming_midi = function(_, m) got.b[#got.b + 1] = m end }
      control:add_session(a); control:add_session(b)
      assert(control:start())
      for i = 1, 20 do
        assert(a:send_midi(string.char(0x90, i, 100)))
        assert(b:send_midi(string.char(0x80, i, 0)))
      end
      H.run_until(function() return #got.a == 20 and #got.b == 20 end, "20 messages each way", 3000)
      for i = 1, 20 do
        assert.are.equal(string.char(0x90, i, 100), got.b[i])
        assert.are.equal(string.char(0x80, i, 0), got.a[i])
      end
      local sa = a:stats()
      control:remove_session(a.cookie); control:remove_session(b.cookie)
      return sa
    end
    pair("::1", "::1")
    pair("::1", "::1", { bind_address = "::1" })
    -- a dual-stack socket sees its IPv4 peer as ::ffff:127.0.0.1: the peer
    -- all the same, nothing counted as foreign
    local st = pair("127.0.0.1", "127.0.0.1", { bind_address = "::" })
    assert.are.equal(0, st.foreign)
    -- a bind address that cannot reach the peer's family
    local s = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = H.port(), bind_address = "::1" }
    control:add_session(s)
    assert.is_falsy(control:start_session(s.cookie))
    control:remove_session(s.cookie)
  end)

  it("Midi2Session over ::1 and IPv4 to one dual-stack host", function()
    if not HAVE_V6 then return pending(NO_V6) end
    local joined = {}
    local function m2(opts)
      local t = { port = H.port(), name = opts.name,
                  client_joined = function(self, c) joined[#joined + 1] = { at = self.config.name, c = c } end }
      for k, v in pairs(opts) do t[k] = v end
      local s = rtpmidi.Midi2Session(t)
      control:add_session(s)
      assert(control:start_session(s.cookie))
      return s
    end
    local h = m2{ name = "host", role = "host" }
    local c6 = m2{ name = "c6", role = "client", bind_address = "::1" }
    local c4 = m2{ name = "c4", role = "client", bind_address = "127.0.0.1" }
    assert(c6:invite("::1", h:local_port()))
    assert(c4:invite("127.0.0.1", h:local_port()))
    H.run_until(function() return #joined == 4 end, "both clients joined", 3000)
    local at_host = {}
    for _, j in ipairs(joined) do
      if j.at == "host" then at_host[j.c.name] = j.c.address
      else assert.are.equal(j.at == "c6" and "::1" or "127.0.0.1", j.c.address) end
    end
    assert.are.same({ c6 = "::1", c4 = "127.0.0.1" }, at_host)
  end)

  it("a host name that resolves to IPv6 only: AppleMIDI, MidiSession and Midi2Session reach it", function()
    if not HAVE_V6 then return pending(NO_V6) end
    -- a mount namespace whose /etc/hosts names ::1 (and nothing else) rtpmidi-v6-only
    if not os.execute("unshare -m true 2>/dev/null") then
      return pending("mount namespaces are not permitted here (unshare -m): no /etc/hosts of our own")
    end
    local NAME = "rtpmidi-v6-only"
    local hosts = os.tmpname()
    local f = assert(io.open(hosts, "w"))
    local sys = io.open("/etc/hosts")
    f:write("::1 ", NAME, "\n", sys and sys:read("a") or "")
    if sys then sys:close() end
    f:close()
    local script = os.tmpname()
    f = assert(io.open(script, "w"))
    f:write([[
      local rtpmidi = require "rtpmidi"
      local NAME, pa, pb = ...
      pa, pb = tonumber(pa), tonumber(pb)
      local control = rtpmidi.RTPControl()
      local out = {}
      local function done() return out.apple and out.midi and out.midi2 end
      local a = rtpmidi.AppleMidiSession{ name = "a", port = 0,
        invitation_failed = function(_, addr, _, why) out.apple = "failed " .. addr .. " " .. why end }
      local b = rtpmidi.AppleMidiSession{ name = "b", port = 0,
        participant_joined = function(_, p) out.apple = "joined " .. p.address end }
      control:add_session(a); control:add_session(b)
      assert(control:start())
      assert(a:invite(NAME, b:local_port()))
      -- a MidiSession whose peer is the name, to one whose peer is ::1
      local ma = rtpmidi.MidiSession{ peer_address = NAME, sending_port = pb, receiving_port = pa }
      local mb = rtpmidi.MidiSession{ peer_address = "::1", sending_port = pa, receiving_port = pb,
        incoming_midi = function(_, m) out.midi = ("%02x"):format(m:byte(1)) end }
      control:add_session(ma); control:add_session(mb)
      assert(control:start())
      local h = rtpmidi.Midi2Session{ name = "h", role = "host", port = 0 }
      local c = rtpmidi.Midi2Session{ name = "c", role = "client", port = 0,
        client_joined = function(_, x) out.midi2 = "joined " .. x.address end,
        invitation_failed = function(_, addr, _, why) out.midi2 = "failed " .. addr .. " " .. why end }
      control:add_session(h); control:add_session(c)
      assert(control:start())
      assert(c:invite(NAME, h:local_port()))
      local tick = rtpmidi.every(20, function()
        if not out.midi then ma:send_midi("\x90\x3c\x64") end
        if done() then control:stop() end
      end)
      rtpmidi.after(5000, function() control:stop() end)
      control:run()
      tick:cancel()
      print("apple", out.apple)
      print("midi", out.midi)
      print("midi2", out.midi2)
      os.exit(done() and 0 or 1)
    ]])
    f:close()
    local p = P.spawn({ "unshare", "-m", "sh", "-c",
      ('mount --bind %s /etc/hosts && exec lua5.4 %s %s %d %d'):format(P.quote(hosts), P.quote(script), NAME,
        H.port(), H.port()) },
      P.lua_env())
    local rc = p:wait_exit(15000)
    local out, err = p:stdout(), p:stderr()
    p:kill()
    os.remove(hosts); os.remove(script)
    assert.are.equal(0, rc, out .. err)
    assert.matches("apple\tjoined ::1\n", out)
    assert.matches("midi\t90\n", out)
    assert.matches("midi2\tjoined ::1\n", out)
  end)

  it("leaves an IPv6 capture that tshark decodes without malformed packets", function()
    if not HAVE_V6 then return pending(NO_V6) end
    local function sh(cmd) local f = io.popen(cmd); local o = f:read("a"); f:close(); return o end
    if sh("id -u"):match("%d+") ~= "0" then return pending("live capture on lo needs root") end
    if sh("command -v tshark 2>/dev/null") == "" then return pending("tshark is not installed") end
    local ra, rb = recorder("A"), recorder("B")
    local a = apple(with(ra, { bind_address = "::1" }))
    local b = apple(with(rb))
    local Pa, Pb = a.config.port, b.config.port
    -- tshark decodes as it captures (-l: a line per packet at once); a probe
    -- datagram to a port nobody uses marks where the capture stands
    local probe_port = H.port()
    local prober = own.udp("::1", 0)
    local log, errlog = os.tmpname(), os.tmpname()
    -- tshark runs without the sanitizer runtimes that check-asan preloads
    local tpid = tonumber(sh(("(exec env -u LD_PRELOAD tshark -i lo -l -f 'ip6 and udp and (port %d or port %d "
      .. "or port %d or port %d or port %d)' -T fields -E separator='|' -e applemidi.command -e _ws.malformed "
      .. "-e ipv6.src -e udp.dstport -e frame.protocols > '%s' 2> '%s' < /dev/null & echo $!)")
      :format(Pa, Pa + 1, Pb, Pb + 1, probe_port, log, errlog)))
    local function stop_tshark()
      if tpid then os.execute("kill -INT " .. tpid .. " 2>/dev/null"); tpid = nil end
    end
    local function read(path) local f = io.open(path); local t = f and f:read("a") or ""; if f then f:close() end; return t end
    local function probes() return select(2, read(log):gsub("|" .. probe_port .. "|", "")) end
    local function mark(n, what)
      local ticker = own.every(50, function() prober:send("probe", "::1", probe_port) end)
      H.run_until(function() return probes() >= n end, what, 40000)
      ticker:cancel()
    end
    local ok, err = pcall(function()
      mark(1, "tshark to capture")
      assert.is_true(a:invite("::1", Pb))
      H.run_until(function() return #ra.joined == 1 and #rb.joined == 1 end, "joined over ::1", 3000)
      H.run_until(function() return a:participants()[1].synced end, "CK over ::1", 3000)
      for i = 1, 3 do
        assert(a:send_midi(string.char(0x90, 60 + i, 100)))
        assert(b:send_midi(string.char(0xb0, i, 64)))
        H.run_for(30)
      end
      H.run_until(function() return #ra.midi == 3 and #rb.midi == 3 end, "MIDI both ways", 3000)
      H.run_until(function() return a:participants()[1].rs_received >= 1 end, "RS over ::1", 3000)
      a:disconnect(a:participants()[1]) -- BY
      H.run_until(function() return #rb.left == 1 end, "BY over ::1", 3000)
      mark(probes() + 1, "tshark to see the end of the exchange")
    end)
    stop_tshark()
    local out = read(log) .. ""
    os.remove(log); os.remove(errlog)
    if not ok then error(err, 0) end
    local cmds, malformed, midi, lines, v6 = {}, 0, 0, 0, 0
    for line in out:gmatch("[^\n]+") do
      local cmd, mal, src, port, protos = line:match("^([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$")
      if tonumber(port) ~= probe_port then
        lines = lines + 1
        if src == "::1" then v6 = v6 + 1 end
        if mal ~= "" or protos:find("malformed") then malformed = malformed + 1 end
        if cmd ~= "" then
          local c = string.char(tonumber(cmd:sub(3, 4), 16), tonumber(cmd:sub(5, 6), 16))
          cmds[c] = (cmds[c] or 0) + 1
        end
        if protos:find("rtpmidi") then midi = midi + 1 end
      end
    end
    assert.are.equal(0, malformed, out)
    for _, c in ipairs{ "IN", "OK", "CK", "RS", "BY" } do
      assert.is_true((cmds[c] or 0) >= 1, "no " .. c .. " in the capture: " .. out)
    end
    assert.is_true(cmds.IN >= 2 and cmds.OK >= 2, "IN/OK on both ports: " .. out)
    assert.is_true(midi >= 6, "3 messages each way: " .. out)
    assert.are.equal(lines, v6, "every packet over ::1")
  end)

  it("serve's configuration reads IPv6 peers: [addr]:port, or an address alone", function()
    local serve = require "rtpmidi.serve"
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write('return { peers = { "[fe80::1%eth0]:5006", "::1", "[::1]", "10.0.0.2:5008", "mac.local" } }')
    f:close()
    local cfg, err = serve.read_config(path)
    os.remove(path)
    assert.is_nil(err)
    assert.are.same({ { host = "fe80::1%eth0", port = 5006 }, { host = "::1", port = 5004 },
                      { host = "::1", port = 5004 }, { host = "10.0.0.2", port = 5008 },
                      { host = "mac.local", port = 5004 } }, cfg.peers)
  end)

  it("options and invitations take IPv6 and refuse what is no address, naming it", function()
    local function err(fn) local ok, e = pcall(fn); assert.is_false(ok); return tostring(e) end
    assert.matches("'bind_address'", err(function() rtpmidi.AppleMidiSession{ bind_address = "::1::" } end))
    assert.matches("'bind_address'",
      err(function() rtpmidi.AppleMidiSession{ bind_address = "fe80::1%nosuchif0" } end))
    assert.matches("'bind_address'", err(function() rtpmidi.Midi2Session{ bind_address = "localhost" } end))
    assert.matches("'bind_address'",
      err(function() rtpmidi.MidiSession{ peer_address = "::1", sending_port = 5004, bind_address = "x" } end))
    assert.matches("'accept'", err(function() rtpmidi.AppleMidiSession{ accept = { "::1", "nope" } } end))
    if not HAVE_V6 then return pending(NO_V6) end
    -- accept lists take IPv6 addresses
    local ra, rb = recorder("A"), recorder("B")
    local a = apple(with(ra, { accept = { "::1" } }))
    local b = apple(with(rb, { bind_address = "::1" }))
    local v4 = apple{ bind_address = "127.0.0.1" }
    assert.is_true(b:invite("::1", a.config.port))
    H.run_until(function() return #ra.joined == 1 end, "::1 accepted", 3000)
    local rv = recorder("V")
    local v4b = apple(with(rv, { bind_address = "127.0.0.1" }))
    assert.is_true(v4b:invite("127.0.0.1", a.config.port))
    H.run_until(function() return #rv.failed == 1 end, "127.0.0.1 refused", 3000)
    assert.are.equal("rejected", rv.failed[1].reason)
    -- a session bound to one family cannot invite the other
    assert.matches("'host'", err(function() b:invite("127.0.0.1", 5004) end))
    assert.matches("'host'", err(function() v4:invite("::1", 5004) end))
  end)
end)
