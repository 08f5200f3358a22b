-- Real discovery through real avahi-daemons (issue #18): this spec runs in
-- network namespace A with its own system bus and avahi-daemon; its peers
-- run in namespace B with theirs, and mDNS crosses the veth pair between
-- them. spec/discovery_netns.sh sets all that up (run it, not this file:
-- `sh spec/discovery_netns.sh build`; CTest: netns/discovery), once on an
-- IPv4 link (10.77.0.1, 10.77.0.2) and then, for the specs tagged
-- #each_link, on IPv6-only links: link-local only ("fe80::...%veth0", as
-- Macs and rtpmidid meet on a link without a router) and with a ULA.
local rtpmidi = require "rtpmidi"
local H = require "helper"
local P = require "proc"

local NSB = os.getenv("RTPMIDI_NETNS_B")
local BUS_B = os.getenv("RTPMIDI_NETNS_BUS_B")
local DIR_A = os.getenv("RTPMIDI_NETNS_DIR_A")
-- the link (v4, v6ll, v6ula) and each side's address on it, as
-- discovered() and participants() write it (the script reads the kernel's)
local LINK = os.getenv("RTPMIDI_NETNS_LINK")
local ADDR_A, ADDR_B = os.getenv("RTPMIDI_NETNS_ADDR_A"), os.getenv("RTPMIDI_NETNS_ADDR_B")
assert(NSB and BUS_B and DIR_A and LINK and ADDR_A and ADDR_B and os.getenv("DBUS_SYSTEM_BUS_ADDRESS"),
  "run through spec/discovery_netns.sh: it makes the namespaces and daemons this spec needs")

-- What the link's addresses must look like: the script's view of the link,
-- checked, so that an IPv4 address on a "v6" link cannot pass.
local SHAPE = { v4 = "^10%.77%.0%.%d$", v6ll = "^fe80::[%x:]+%%veth0$", v6ula = "^fd77::%d$" }
assert(ADDR_A:match(SHAPE[LINK]) and ADDR_B:match(SHAPE[LINK]),
  ("link %s: addresses %s and %s"):format(LINK, ADDR_A, ADDR_B))

-- The pid of A's avahi-daemon (the restart test makes a new one).
local function avahi_a()
  local f = assert(io.open(DIR_A .. "/avahi.pid"))
  local pid = f:read("l")
  f:close()
  return pid
end

local function proc(pid, file)
  local f = io.open("/proc/" .. pid .. "/" .. file)
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- mDNS announces and answers within a second or two; a generous watchdog
local FIND_MS = 20000

-- A peer in namespace B (spec/peers/discovery_peer.lua).
local function peer_in_b(...)
  local argv = { "ip", "netns", "exec", NSB, "env", "DBUS_SYSTEM_BUS_ADDRESS=" .. BUS_B,
    "lua5.4", P.root .. "/spec/peers/discovery_peer.lua", ... }
  local p = P.spawn(argv, P.lua_env())
  p:wait_for(function(q) return q:stdout():match("port (%d+)") end, "the peer in B to start", 10000)
  p.port = tonumber(p:stdout():match("port (%d+)"))
  return p
end

local function hex(s) return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end)) end

local function find(list, name)
  for _, d in ipairs(list) do if d.name == name then return d end end
end

describe("discovery between two network namespaces", function()
  local control
  before_each(function() control = rtpmidi.RTPControl() end)
  after_each(function()
    for _, c in ipairs(control:cookies()) do control:stop_session(c) control:remove_session(c) end
    P.kill_all()
    H.run_for(50)
  end)

  it("AppleMIDI: each side finds the other by name; A invites B at the address found; MIDI flows both ways #each_link", function()
    local b = peer_in_b("apple", "disc-peer-B")
    local echoed = {}
    local a = rtpmidi.AppleMidiSession{ name = "disc-node-A", port = 0,
      incoming_midi = function(_, m) echoed[#echoed + 1] = m end }
    assert(control:start_session(control:add_session(a)))

    -- A finds B: its name, B's address on the veth (on an IPv6-only link
    -- an IPv6 one; link-local with the interface), its control port, its host
    local found
    H.run_until(function() found = find(a:discovered(), "disc-peer-B") return found end,
      "disc-peer-B in A's discovered()", FIND_MS)
    assert.are.equal(ADDR_B, found.address)
    assert.are.equal(b.port, found.port)
    assert.are.equal("rtpmidi-b.local", found.host)
    -- our own session is in the list too, on our address
    H.run_until(function() return find(a:discovered(), "disc-node-A") end, "A's own entry", FIND_MS)
    assert.are.equal(ADDR_A, find(a:discovered(), "disc-node-A").address)
    -- B finds A
    b:wait_for(function(q) return q:stdout():find("found disc-node-A " .. ADDR_A .. " " .. a:local_port()
      .. " rtpmidi-a.local", 1, true) end, "B to find disc-node-A", FIND_MS)

    -- A invites B at the address it found
    local joined
    function a:participant_joined(p) joined = p end
    assert(a:invite(found.address, found.port))
    H.run_until(function() return joined end, "B to join", 10000)
    assert.are.equal("disc-peer-B", joined.name)
    assert.are.equal(ADDR_B, joined.address)
    local parts = a:participants()
    assert.are.equal(1, #parts)
    assert.are.same({ "disc-peer-B", ADDR_B, b.port }, { parts[1].name, parts[1].address, parts[1].port })
    b:wait_for(function(q) return q:stdout():find("joined disc-node-A " .. ADDR_A .. "\n", 1, true) end,
      "B to see A join", 5000)

    local phrase = { "\x90\x3c\x64", "\xb0\x07\x50", "\x80\x3c\x00", "\xe0\x00\x40" }
    for _, m in ipairs(phrase) do a:send_midi(m) H.run_for(20) end
    H.run_until(function() return #echoed == #phrase end, "the echoes from B", 5000)
    local got = {}
    for line in b:stdout():gmatch("midi (%x+)") do got[#got + 1] = line end
    local want = {}
    for i, m in ipairs(phrase) do want[i] = hex(m) end
    assert.are.same(want, got)
    assert.are.same(phrase, echoed)

    -- B's session ends: its service leaves A's list (Avahi's goodbye)
    b:signal("TERM")
    assert.are.equal(0, b:wait_exit(5000))
    H.run_until(function() return not find(a:discovered(), "disc-peer-B") end, "disc-peer-B to leave A's list", 10000)
    assert.truthy(find(a:discovered(), "disc-node-A"))
  end)

  it("Network MIDI 2.0: a host's UMPEndpointName and ProductInstanceId are found; a client invites it; MIDI flows #each_link", function()
    local b = peer_in_b("midi2", "disc-m2-host-B", "piid-B-0042")
    local echoed = {}
    local c = rtpmidi.Midi2Session{ name = "disc-m2-client-A", role = "client", port = 0,
      incoming_midi = function(_, m) echoed[#echoed + 1] = m end }
    assert(control:start_session(control:add_session(c)))

    local found
    H.run_until(function() found = find(c:discovered(), "disc-m2-host-B") return found end,
      "disc-m2-host-B in the client's discovered()", FIND_MS)
    assert.are.equal(ADDR_B, found.address)
    assert.are.equal(b.port, found.port)
    assert.are.equal("disc-m2-host-B", found.endpoint_name)
    assert.are.equal("piid-B-0042", found.product_instance_id)
    assert.are.equal("rtpmidi-b.local", found.host)
    -- a client only browses: nobody finds it
    H.run_for(1500)
    assert.is_nil(b:stdout():find("found disc-m2-client-A", 1, true))
    assert.is_nil(find(c:discovered(), "disc-m2-client-A"))

    local joined
    function c:client_joined(p) joined = p end
    assert(c:invite(found.address, found.port))
    H.run_until(function() return joined end, "the host to accept", 10000)
    assert.are.equal("disc-m2-host-B", joined.name)
    assert.are.equal(ADDR_B, joined.address)
    b:wait_for(function(q) return q:stdout():find("joined disc-m2-client-A " .. ADDR_A .. "\n", 1, true) end,
      "the host to see the client join", 5000)
    local phrase = { "\x90\x3c\x64", "\x80\x3c\x00" }
    for _, m in ipairs(phrase) do c:send_midi(m) H.run_for(20) end
    H.run_until(function() return #echoed == #phrase end, "the echoes from B", 5000)
    assert.are.same(phrase, echoed)
    local got = {}
    for line in b:stdout():gmatch("midi (%x+)") do got[#got + 1] = line end
    assert.are.same({ hex(phrase[1]), hex(phrase[2]) }, got)
  end)

  it("a stopped avahi-daemon delays nothing: a 10 ms timer keeps firing through start and stop", function()
    local pid = avahi_a()
    assert.are.equal("avahi-daemon\n", proc(pid, "comm"))
    os.execute("kill -STOP " .. pid)
    local ok, err = pcall(function()
      -- stopped for real (state T) before anything starts
      H.run_until(function() return proc(pid, "stat"):match("^%d+ %b() (%a)") == "T" end, "avahi-daemon to stop", 2000)
      local last, max_gap, ticks = nil, 0, 0
      local tick = rtpmidi.every(10, function()
        local now = rtpmidi.now()
        if last and now - last > max_gap then max_gap = now - last end
        last, ticks = now, ticks + 1
      end)
      H.run_for(50)
      local sessions = {}
      local t0 = rtpmidi.now()
      for i = 1, 3 do
        local s = rtpmidi.AppleMidiSession{ name = "disc-busy-" .. i, port = 0 }
        assert(control:start_session(control:add_session(s)))
        sessions[i] = s
      end
      local m2 = rtpmidi.Midi2Session{ name = "disc-busy-m2", role = "host", port = 0 }
      assert(control:start_session(control:add_session(m2)))
      local start_ms = rtpmidi.now() - t0
      H.run_for(1000)
      -- the daemon answers nothing: nothing found, and nothing waited
      assert.are.same({}, sessions[1]:discovered())
      t0 = rtpmidi.now()
      for _, s in ipairs(sessions) do control:stop_session(s.cookie) end
      control:stop_session(m2.cookie)
      local stop_ms = rtpmidi.now() - t0
      H.run_for(200)
      tick:cancel()
      print(("\nstopped avahi-daemon: start %.1f ms, stop %.1f ms, %d ticks, largest gap %.1f ms")
        :format(start_ms, stop_ms, ticks, max_gap))
      assert.is_true(start_ms < 50, "start took " .. start_ms .. " ms")
      assert.is_true(stop_ms < 50, "stop took " .. stop_ms .. " ms")
      assert.is_true(max_gap < 100, "largest gap " .. max_gap .. " ms")
      assert.is_true(ticks >= 100)
    end)
    os.execute("kill -CONT " .. pid)
    assert(ok, err)
  end)

  it("a restarted avahi-daemon: what it found goes, then comes back, new services are found, and we are advertised again", function()
    local b = peer_in_b("apple", "disc-restart-B")
    local a = rtpmidi.AppleMidiSession{ name = "disc-restart-A", port = 0 }
    assert(control:start_session(control:add_session(a)))
    H.run_until(function() return find(a:discovered(), "disc-restart-B") end, "disc-restart-B", FIND_MS)
    b:wait_for(function(q) return q:stdout():find("found disc-restart-A", 1, true) end, "B to find A", FIND_MS)

    local pid = avahi_a()
    os.execute("kill -TERM " .. pid)
    -- A's list empties (the daemon left the bus); B hears A's goodbye
    H.run_until(function() return #a:discovered() == 0 end, "A's list to empty", 10000)
    b:wait_for(function(q) return q:stdout():find("lost disc-restart-A", 1, true) end, "B to lose A", 10000)
    H.run_until(function() return proc(pid, "comm") == nil end, "the old daemon to exit", 5000)

    assert(os.execute("sh " .. P.quote(DIR_A .. "/avahi-start")))
    H.run_until(function() return find(a:discovered(), "disc-restart-B") end, "disc-restart-B again", FIND_MS)
    b:wait_for(function(q)
      local _, lost_at = q:stdout():find("lost disc-restart-A", 1, true)
      return q:stdout():find("found disc-restart-A", lost_at, true)
    end, "B to find A again", FIND_MS)
    -- browsing was made again, not only the old answers replayed: a
    -- service published after the restart is found, and B's withdrawn
    -- service goes from the list
    local c = peer_in_b("apple", "disc-restart-C")
    H.run_until(function() return find(a:discovered(), "disc-restart-C") end, "disc-restart-C, new after the restart",
      FIND_MS)
    c:signal("TERM")
    H.run_until(function() return not find(a:discovered(), "disc-restart-C") end, "disc-restart-C to go", FIND_MS)
  end)

  it("sessions share the process's Avahi thread; a second session of the same name is advertised as \"name #2\"", function()
    local pid = io.open("/proc/self/stat"):read("n")
    local function threads()
      local n = 0
      for _ in io.popen("ls /proc/" .. pid .. "/task"):lines() do n = n + 1 end
      return n
    end
    local solo = rtpmidi.AppleMidiSession{ name = "disc-solo", port = 0 }
    assert(control:start_session(control:add_session(solo)))
    H.run_until(function() return find(solo:discovered(), "disc-solo") end, "disc-solo in its own list", FIND_MS)
    local before = threads()
    local twins = {}
    for i = 1, 2 do
      twins[i] = rtpmidi.AppleMidiSession{ name = "disc-twin", port = 0 }
      assert(control:start_session(control:add_session(twins[i])))
    end
    local m2 = rtpmidi.Midi2Session{ name = "disc-twin-m2", role = "host", port = 0 }
    assert(control:start_session(control:add_session(m2)))
    H.run_until(function()
      local l = solo:discovered()
      return find(l, "disc-twin") and find(l, "disc-twin #2")
    end, "disc-twin and disc-twin #2 in the list", FIND_MS)
    local ports = { find(solo:discovered(), "disc-twin").port, find(solo:discovered(), "disc-twin #2").port }
    table.sort(ports)
    local want = { twins[1]:local_port(), twins[2]:local_port() }
    table.sort(want)
    assert.are.same(want, ports)
    -- every session reads the same results
    H.run_until(function() return find(twins[2]:discovered(), "disc-twin #2") end, "the twin's list", FIND_MS)
    H.run_until(function() return find(m2:discovered(), "disc-twin-m2") end, "the Network MIDI 2.0 list", FIND_MS)
    -- four sessions, two service types: no thread more than with one session
    assert.is_true(threads() <= before, ("%d threads with one session, %d with four"):format(before, threads()))
    -- a stopped session leaves the list; the others stay
    control:stop_session(twins[1].cookie)
    control:stop_session(twins[2].cookie)
    H.run_until(function() return not find(solo:discovered(), "disc-twin #2") and not find(solo:discovered(), "disc-twin") end,
      "the twins to leave the list", 10000)
    assert.truthy(find(solo:discovered(), "disc-solo"))
  end)

  it("`rtpmidi list --network` prints the sessions found: name, host, address, port #each_link", function()
    local b = peer_in_b("apple", "disc-list-B")
    local m2 = peer_in_b("midi2", "disc-list-m2", "piid-7")
    local cmd = P.rtpmidi({ "list", "--network", "--time", "3000" },
      { DBUS_SYSTEM_BUS_ADDRESS = os.getenv("DBUS_SYSTEM_BUS_ADDRESS") })
    assert.are.equal(0, cmd:wait_exit(15000))
    local out = cmd:stdout()
    local function row(name)
      for line in out:gmatch("[^\n]+") do
        local n, host, addr, port = line:match("^%s*(%S+)%s+(%S+)%s+(%S+)%s+(%d+)")
        if n == name then return { host = host, address = addr, port = tonumber(port) }, line end
      end
    end
    assert.are.same({ host = "rtpmidi-b.local", address = ADDR_B, port = b.port }, row("disc-list-B"),
      "no row for disc-list-B in:\n" .. out)
    assert.are.same({ host = "rtpmidi-b.local", address = ADDR_B, port = m2.port }, row("disc-list-m2"),
      "no row for disc-list-m2 in:\n" .. out)
    -- the two kinds under their own headings
    local apple_at, midi2_at = out:find("_apple-midi._udp", 1, true), out:find("_midi2._udp", 1, true)
    assert.truthy(apple_at and midi2_at, out)
    local b_at, m2_at = out:find("disc-list-B", 1, true), out:find("disc-list-m2", 1, true)
    assert.is_true(apple_at < b_at and b_at < midi2_at and midi2_at < m2_at, out)
    assert.truthy(out:find("piid-7", 1, true), out)
  end)
end)
