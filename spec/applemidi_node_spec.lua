-- AppleMidiSession against node-rtpmidi 1.0.0 (spec/peers/node_peer.js), in
-- both roles, and a live capture of such an exchange decoded by tshark.
-- Pending (with the reason) when node or node-rtpmidi is not installed, and
-- the capture when we are not root or tshark is missing.
local rtpmidi = require "rtpmidi"
local H = require "helper"
local NP = require "node_peer"

local control = rtpmidi.RTPControl()
local available, why = NP.available()

local function recorder()
  local r = { joined = {}, left = {}, midi = {}, failed = {} }
  r.cb = {
    participant_joined = function(_, p) r.joined[#r.joined + 1] = p end,
    participant_left = function(_, p, reason) r.left[#r.left + 1] = { p = p, reason = reason } end,
    incoming_midi = function(_, m, time, recovered, p)
      r.midi[#r.midi + 1] = { m = m, time = time, recovered = recovered, p = p }
    end,
    invitation_failed = function(_, address, port, reason)
      r.failed[#r.failed + 1] = { address = address, port = port, reason = reason }
    end,
  }
  return r
end

local function session(r, opts) return H.apple(control, { name = "lua", invite_interval = 200 }, r.cb, opts) end

local function hex(s)
  return (s:gsub(".", function(c) return ("%02x "):format(c:byte()) end):gsub(" $", ""))
end

-- We invite a node-rtpmidi responder that echoes; returns what happened.
local function exchange_as_initiator(r, s)
  local port = H.port()
  local peer = NP.start{ "--port", port, "--name", "node-resp", "--echo" }
  peer:wait("ready", 1, 20000)
  assert(s:invite("127.0.0.1", port))
  NP.run_until(function() return #r.joined == 1 end, "node-rtpmidi accepts our invitation", 8000)
  -- node-rtpmidi sends only after its own CK exchange, which it starts on our CK2
  peer:wait("synced")
  local msgs = { "\x90\x3c\x64", "\xb0\x07\x50", "\x80\x3c\x40" }
  for _, m in ipairs(msgs) do
    assert(s:send_midi(m))
    H.run_for(30)
  end
  NP.run_until(function() return #r.midi == #msgs end, "node-rtpmidi echoes our MIDI", 8000)
  return peer, msgs, port
end

describe("AppleMidiSession with node-rtpmidi", function()
  after_each(function()
    NP.stop_all()
    H.assert_clean()
  end)

  if not available then
    it("interop (node-rtpmidi)", function() pending(why) end)
    return
  end

  it("invites node-rtpmidi: accepted, CK, MIDI both ways, RS, BY", function()
    local r = recorder()
    local s = session(r, { ck_fast_interval = 300 })
    local peer, msgs = exchange_as_initiator(r, s)
    local p = r.joined[1]
    assert.are.equal("node-resp", p.name)
    assert.is_true(p.initiator)
    -- node-rtpmidi saw our CK0 and CK2 and answered CK1: we measured
    assert.is_true(#peer:all("ck") >= 2)
    NP.run_until(function() return p.synced end, "our CK exchange", 5000)
    assert.is_true(p.latency >= 0 and p.latency < 100, "latency " .. p.latency)
    -- what it received and echoed, in order
    local node_got = peer:all("midi")
    for i, m in ipairs(msgs) do
      assert.are.equal(hex(m), node_got[i].bytes)
      assert.are.equal(m, r.midi[i].m)
      assert.are.equal(p, r.midi[i].p)
      assert.is_false(r.midi[i].recovered)
    end
    -- RS both ways: ours reach it about a second after its data, its RS trims our journal.
    -- node-rtpmidi sends RS one second after the last RTP packet it received, and
    -- our guard packets go on until 31 guard intervals after the last MIDI (1.55 s):
    -- its RS comes about 2.6 s after our last message.
    peer:wait("rs", 1, 5000)
    NP.run_until(function() return s:participants()[1].rs_received >= 1 end, "node-rtpmidi's RS", 8000)
    -- BY from us
    control:stop_session(s.cookie)
    assert.are.equal("stopped", r.left[1].reason)
    peer:wait("bye", 1, 5000)
    peer:stop()
  end)

  it("is invited by node-rtpmidi: accepted, CK answered, MIDI both ways, BY", function()
    local r = recorder()
    local s = session(r)
    local peer = NP.start{ "--port", H.port(), "--name", "node-init", "--echo",
                           "--invite", "127.0.0.1:" .. s.config.port,
                           "--send-hex", "b00140", "--count", 2, "--interval", 50 }
    NP.run_until(function() return #r.joined == 1 end, "node-rtpmidi's invitation", 20000)
    local p = r.joined[1]
    assert.are.equal("node-init", p.name)
    assert.is_false(p.initiator)
    -- it drives the clock sync; we answer CK1 and measure on its CK2
    peer:wait("synced")
    NP.run_until(function() return p.synced end, "CK2 from node-rtpmidi", 8000)
    -- its own messages
    NP.run_until(function() return #r.midi >= 2 end, "node-rtpmidi's messages", 8000)
    assert.are.equal("\xb0\x01\x40", r.midi[1].m)
    assert.are.equal("\xb0\x01\x40", r.midi[2].m)
    -- ours, echoed
    assert(s:send_midi("\x91\x40\x7f"))
    NP.run_until(function() return #r.midi >= 3 end, "the echo", 8000)
    assert.are.equal("\x91\x40\x7f", r.midi[3].m)
    assert.are.equal("91 40 7f", peer:all("midi")[1].bytes)
    -- BY from node-rtpmidi
    peer:stop()
    NP.run_until(function() return #r.left == 1 end, "participant_left", 5000)
    assert.are.equal("bye", r.left[1].reason)
    assert.are.equal(p, r.left[1].p)
    assert.are.equal(0, #s:participants())
    local st = s:stats()
    assert.are.equal(0, st.malformed + st.bad_signature + st.unknown_command + st.bad_name)
  end)

  it("leaves a capture that tshark decodes without malformed packets", function()
    local function sh(cmd) local f = io.popen(cmd); local o = f:read("a"); f:close(); return o end
    -- tshark runs without the sanitizer runtimes that make check-asan preloads
    if sh("id -u"):match("%d+") ~= "0" then pending("live capture on lo needs root") return end
    if sh("command -v tshark 2>/dev/null") == "" then pending("tshark is not installed") return end
    local r = recorder()
    local s = session(r, { ck_fast_interval = 300 })
    local P = s.config.port
    local pcap, log = os.tmpname(), os.tmpname()
    local tpid = tonumber(sh(("(exec env -u LD_PRELOAD tshark -i lo -f 'udp port %d or udp port %d' -w '%s' > '%s' 2>&1 < /dev/null & echo $!)")
      :format(P, P + 1, pcap, log)))
    local function stop_tshark()
      if tpid then os.execute("kill -INT " .. tpid .. " 2>/dev/null"); tpid = nil end
    end
    local ok, err = pcall(function()
      NP.run_until(function()
        local f = io.open(log); local t = f and f:read("a") or ""; if f then f:close() end
        return t:find("Capturing on") ~= nil
      end, "tshark to start capturing", 40000)
      local peer = exchange_as_initiator(r, s)
      NP.run_until(function() return s:participants()[1].rs_received >= 1 end, "RS", 8000)
      control:stop_session(s.cookie) -- BY
      peer:wait("bye", 1, 5000)
      peer:stop()
      H.run_for(300)
      stop_tshark()
      H.run_for(800)
    end)
    stop_tshark()
    if not ok then error(err, 0) end
    -- AppleMIDI is found by tshark's heuristic (this tshark cannot force it with -d udp.port)
    local out = sh(("env -u LD_PRELOAD tshark -r '%s' -T fields -E separator='|' -e applemidi.command -e _ws.malformed "
      .. "-e rtpmidi.j_flag -e rtpmidi.note -e frame.protocols 2>/dev/null"):format(pcap))
    os.remove(pcap); os.remove(log)
    local cmds, malformed, midi, journal = {}, 0, 0, 0
    for line in out:gmatch("[^\n]+") do
      local cmd, mal, j, note, protos = line:match("^([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$")
      if mal ~= "" or protos:find("malformed") then malformed = malformed + 1 end
      if cmd ~= "" then
        local c = string.char(tonumber(cmd:sub(3, 4), 16), tonumber(cmd:sub(5, 6), 16))
        cmds[c] = (cmds[c] or 0) + 1
      end
      if protos:find("rtpmidi") then
        midi = midi + 1
        if j == "1" then journal = journal + 1 end
      end
      _ = note
    end
    assert.are.equal(0, malformed)
    for _, c in ipairs{ "IN", "OK", "CK", "RS", "BY" } do
      assert.is_true((cmds[c] or 0) >= 1, "no " .. c .. " in the capture: " .. out)
    end
    assert.is_true(cmds.IN >= 2 and cmds.OK >= 2, "IN/OK on both ports")
    assert.is_true(cmds.CK >= 3, "a whole CK exchange")
    assert.is_true(midi >= 6, "3 messages each way")
    assert.is_true(journal >= 1, "packets with a recovery journal")
  end)
end)
