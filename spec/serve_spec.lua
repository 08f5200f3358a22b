-- `rtpmidi serve CONFIG.lua` and `rtpmidi status` (#19): the daemon invites
-- the peers its configuration lists and invites them again after they
-- leave or while they are not there; it opens its MIDI ports once they
-- appear; `rtpmidi status` asks it what is connected; SIGTERM says BY to
-- every participant and exits 0.
local rtpmidi = require "rtpmidi"
local H = require "helper"
local J = require "jack"
local P = require "proc"

describe("rtpmidi serve", function()
  local control = rtpmidi.RTPControl()
  local run_dir, files, opened

  setup(function() J.start() end)
  teardown(function()
    P.kill_all()
    J.stop()
  end)
  before_each(function()
    run_dir = os.tmpname()
    os.remove(run_dir)
    files, opened = {}, {}
  end)
  after_each(function()
    P.kill_all()
    H.cleanup()
    for _, p in ipairs(opened) do p:close() end
    for _, f in ipairs(files) do os.remove(f) end
    os.execute("rm -rf " .. P.quote(run_dir))
    H.assert_clean()
  end)

  local function env() return { RTPMIDI_RUN_DIR = run_dir, JACK_DEFAULT_SERVER = J.name } end

  local function config(text)
    local path = os.tmpname()
    files[#files + 1] = path
    local f = assert(io.open(path, "w"))
    f:write(text)
    f:close()
    return path
  end

  local function status(name)
    local p = P.rtpmidi(name and { "status", name } or { "status" }, env())
    local rc = p:wait_exit(30000)   -- (a loaded sanitizer run starts a process slowly)
    return rc, p:stdout(), p:stderr()
  end

  if not rtpmidi.AppleMidiSession then
    pending("AppleMIDI is not in this build")
    return
  end

  it("invites its peer, invites it again after it leaves and while it is away, and says so in status", function()
    local p_peer, p_serve = H.port(), H.port()
    local joined, left = 0, {}
    local peer
    local function start_peer()
      peer = rtpmidi.AppleMidiSession{ name = "spec peer", port = p_peer,
        participant_joined = function() joined = joined + 1 end,
        participant_left = function(_, _, reason) left[#left + 1] = reason end }
      assert(control:start_session(control:add_session(peer)))
    end
    start_peer()
    local d = P.rtpmidi({ "serve", config(([[
return { name = "spec serve", port = %d, peers = { "127.0.0.1:%d", { name = "nobody here" } }, reconnect = 0.3 }
]]):format(p_serve, p_peer)) }, env())
    d:wait_for(function() return joined == 1 end, "the daemon to join the peer", 10000)
    d:wait_for(function(p) return p:stderr():find("spec peer joined", 1, true) end, "its log line", 5000)

    local rc, out = status()
    assert.are.equal(0, rc)
    assert.matches("rtpmidi serve 'spec serve' on port " .. p_serve, out, 1, true)
    assert.matches(("peer 127.0.0.1:%d +connected as 'spec peer'"):format(p_peer), out)
    assert.matches("peer 'nobody here' +not found on the network", out)
    local _, by_name = status("spec serve")                     -- by name too
    assert.matches(("peer 127.0.0.1:%d +connected as 'spec peer'"):format(p_peer), by_name)

    -- the peer goes away cleanly (BY) and comes back later: invited again
    control:remove_session(peer.cookie)
    d:wait_for(function(p) return p:stderr():find("spec peer left: bye", 1, true) end, "the daemon to see BY", 5000)
    H.run_for(1500)                              -- away for a few attempts
    rc, out = status()
    assert.matches(("peer 127.0.0.1:%d +inviting 127.0.0.1:%d %%(left: bye%%)"):format(p_peer, p_peer), out)
    start_peer()
    d:wait_for(function() return joined == 2 end, "the daemon to invite the peer again", 10000)

    -- SIGTERM: BY to the peer, the status file gone, exit 0
    for k = #left, 1, -1 do left[k] = nil end   -- ("stopped": the first peer's own end)
    d:signal("TERM")
    d:wait_for(function() return #left > 0 end, "BY from the daemon", 5000)
    assert.are.equal("bye", left[#left])
    assert.are.equal(0, d:wait_exit(5000))
    local rc2, _, err = status()
    assert.are.equal(1, rc2)
    assert.matches("no rtpmidi serve is running", err, 1, true)
  end)

  it("opens its MIDI ports once they appear and routes both ways", function()
    local synth_name, kbd_name = J.unique("spec-synth"), J.unique("spec-kbd")
    local p_peer, p_serve = H.port(), H.port()
    local got_peer, got_synth = {}, {}
    local peer = rtpmidi.AppleMidiSession{ name = "spec peer", port = p_peer,
      incoming_midi = function(_, m) got_peer[#got_peer + 1] = m end }
    assert(control:start_session(control:add_session(peer)))
    local d = P.rtpmidi({ "serve", config(([[
return { name = "spec ports", port = %d, peers = { "127.0.0.1:%d" }, api = "jack",
         input = %q, output = %q, latency = 0, reconnect = 0.3 }
]]):format(p_serve, p_peer, kbd_name, synth_name)) }, env())
    d:wait_for(function() return #peer:participants() == 1 end, "the daemon to join", 10000)
    d:wait_for(function(p) return p:stderr():find("(trying again)", 1, true) end, "the missing ports", 5000)
    local rc, out = status("spec ports")
    assert.are.equal(0, rc)
    assert.matches("output " .. synth_name .. ": not open", out, 1, true)
    -- the ports appear
    local synth = assert(rtpmidi.MidiIn{ api = "jack", virtual = synth_name })
    opened[#opened + 1] = synth
    function synth:on_message(m) got_synth[#got_synth + 1] = m end
    local kbd = assert(rtpmidi.MidiOut{ api = "jack", virtual = kbd_name })
    opened[#opened + 1] = kbd
    d:wait_for(function(p) return p:stderr():find("output: ", 1, true) and p:stderr():find("input: ", 1, true) end,
      "the ports to open", 10000)
    local probe = rtpmidi.every(50, function() peer:send_midi("\xB0\x77\x00") end)
    d:wait_for(function() return #got_synth > 0 end, "the peer's MIDI at the synth", 10000)
    probe:cancel()
    probe = rtpmidi.every(50, function() kbd:send("\xB0\x76\x00") end)
    d:wait_for(function() return #got_peer > 0 end, "the keyboard's MIDI at the peer", 10000)
    probe:cancel()
    rc, out = status("spec ports")
    assert.matches("output " .. synth_name .. ": open", out, 1, true)
    assert.matches("input  " .. kbd_name .. ": open", out, 1, true)
    d:signal("INT")
    assert.are.equal(0, d:wait_exit(5000))
  end)

  it("an IPv6 peer is its address and port: someone else on that port is not it; [addr]:port in logs and status",
    function()
    local core = require "rtpmidi.core"
    local probe = core.udp("::1", 0)
    if not probe then
      pending("the host has no IPv6 loopback (::1): `ip -6 addr` shows none")
      return
    end
    probe:close()
    -- the peer at [::1]:P, spelled in the configuration unlike the binding
    -- writes it; a stranger at 127.0.0.1 on the same port P joins first
    local p_peer, p_serve = H.port(), H.port()
    local d = P.rtpmidi({ "serve", config(([[
return { name = "spec v6", port = %d, peers = { "[0:0::1]:%d" }, reconnect = 0.3 }
]]):format(p_serve, p_peer)) }, env())
    d:wait_for(function(p) return p:stderr():find("on port " .. p_serve, 1, true) end, "the daemon to start", 10000)
    local stranger = rtpmidi.AppleMidiSession{ name = "v4 stranger", port = p_peer, bind_address = "127.0.0.1" }
    assert(control:start_session(control:add_session(stranger)))
    assert(stranger:invite("127.0.0.1", p_serve))
    d:wait_for(function(p) return p:stderr():find(("v4 stranger joined (127.0.0.1:%d)"):format(p_peer), 1, true) end,
      "the stranger to join", 10000)
    local rc, out = status("spec v6")
    assert.are.equal(0, rc)
    -- not taken for the configured peer (which a match by port alone did)
    assert.is_nil(out:find("connected as 'v4 stranger'", 1, true), out)
    assert.matches(("peer %%[0:0::1%%]:%d +%%a"):format(p_peer), out)
    assert.matches(("also connected: 'v4 stranger' (127.0.0.1:%d)"):format(p_peer), out, 1, true)

    -- the peer comes: the daemon invites it, and knows it in the binding's form
    local peer = rtpmidi.AppleMidiSession{ name = "v6 peer", port = p_peer, bind_address = "::1" }
    assert(control:start_session(control:add_session(peer)))
    d:wait_for(function(p) return p:stderr():find(("v6 peer joined ([::1]:%d)"):format(p_peer), 1, true) end,
      "the daemon to join the peer at ::1", 10000)
    assert.are.equal(1, #peer:participants())
    rc, out = status("spec v6")
    assert.matches(("peer %%[0:0::1%%]:%d +connected as 'v6 peer' %%(%%[::1%%]:%d%%), one%%-way"):format(p_peer, p_peer),
      out)
    assert.matches(("also connected: 'v4 stranger' (127.0.0.1:%d)"):format(p_peer), out, 1, true)
    d:signal("TERM")
    assert.are.equal(0, d:wait_exit(5000))
  end)

  it("a peer given by host name is the participant that answered that name, not anyone on its port", function()
    -- the peer is "localhost" at port P; a stranger at 127.0.0.2 on the same
    -- port P joins too (two hosts that share a port, as two Macs on 5004)
    local p_peer, p_serve = H.port(), H.port()
    local peer = rtpmidi.AppleMidiSession{ name = "named peer", port = p_peer, bind_address = "127.0.0.1" }
    assert(control:start_session(control:add_session(peer)))
    local d = P.rtpmidi({ "serve", config(([[
return { name = "spec byname", port = %d, peers = { "localhost:%d" }, reconnect = 0.3 }
]]):format(p_serve, p_peer)) }, env())
    d:wait_for(function(p) return p:stderr():find(("named peer joined (127.0.0.1:%d)"):format(p_peer), 1, true) end,
      "the daemon to invite localhost", 10000)
    local stranger = rtpmidi.AppleMidiSession{ name = "stranger", port = p_peer, bind_address = "127.0.0.2" }
    assert(control:start_session(control:add_session(stranger)))
    assert(stranger:invite("127.0.0.1", p_serve))
    d:wait_for(function(p) return p:stderr():find(("stranger joined (127.0.0.2:%d)"):format(p_peer), 1, true) end,
      "the stranger to join", 10000)
    local rc, out = status("spec byname")
    assert.are.equal(0, rc)
    -- matched by port alone, the stranger was taken for the peer
    assert.matches(("peer localhost:%d +connected as 'named peer' %%(127%%.0%%.0%%.1:%d%%)"):format(p_peer, p_peer), out)
    assert.matches(("also connected: 'stranger' (127.0.0.2:%d)"):format(p_peer), out, 1, true)
    d:signal("TERM")
    assert.are.equal(0, d:wait_exit(5000))
  end)

  it("prints an address and port one way everywhere: IPv6 in brackets, read back by the configuration", function()
    local cli, serve = require "rtpmidi.cli", require "rtpmidi.serve"
    assert.are.equal("10.0.0.2:5004", cli.hostport("10.0.0.2", 5004))
    assert.are.equal("[fd00::2]:5006", cli.hostport("fd00::2", 5006))
    assert.are.equal("[fe80::1%eth0]:5004", cli.hostport("fe80::1%eth0", 5004))
    assert.are.equal("mac.local:5004", cli.hostport("mac.local", 5004))
    assert.are.equal("\\x1B[2J:1", cli.hostport("\27[2J", 1))    -- what came from elsewhere, escaped
    -- what serve and the CLI print is what serve's configuration reads
    local path = config(('return { peers = { %q, %q } }'):format(cli.hostport("fe80::1%eth0", 5004),
      cli.hostport("10.0.0.2", 5008)))
    local cfg = assert(serve.read_config(path))
    assert.are.same({ { host = "fe80::1%eth0", port = 5004 }, { host = "10.0.0.2", port = 5008 } }, cfg.peers)

    -- the monitor's lines: a datagram from [::1]
    local core = require "rtpmidi.core"
    local from = core.udp("::1", 0)
    if not from then return end                  -- (no IPv6 loopback: the rest is shown above)
    local port = H.port()
    local m = P.rtpmidi({ "monitor", tostring(port), "--bind", "::1", "-c", "1" }, env())
    m:wait_for(function(q) return q:stderr():find("listening on [::1]:" .. port .. " and", 1, true) end,
      "the monitor to listen", 10000)
    from:send("\x80\x61\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00", "::1", port)
    assert.are.equal(0, m:wait_exit(10000))
    local from_port = from:port()
    from:close()
    assert.matches(("[::1]:%d -> %d "):format(from_port, port), m:stdout(), 1, true)
  end)

  it("says what is wrong with a configuration in one line", function()
    local cases = {
      { "return { nmae = 'x' }", "unknown key 'nmae'" },
      { "return { port = 'x' }", "'port' must be a number, got string" },
      { "return { peers = { 42 } }", "peers[1] must be" },
      { "return (", "unexpected symbol" },
    }
    for _, c in ipairs(cases) do
      local p = P.rtpmidi({ "serve", config(c[1]) }, env())
      assert.are.equal(1, p:wait_exit(10000))
      assert.matches(c[2], p:stderr(), 1, true)
      assert.are.equal(1, select(2, p:stderr():gsub("\n", "")))
    end
  end)
end)
