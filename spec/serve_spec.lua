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
