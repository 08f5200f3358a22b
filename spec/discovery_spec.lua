-- Discovery's surface where no avahi-daemon runs (the usual test machine):
-- sessions start and stop at once and find nothing, misuse raises naming
-- the argument, and `rtpmidi list --network` says what it found (nothing)
-- or refuses bad options. Real mDNS between two avahi-daemons:
-- spec/discovery_netns.sh (CTest netns/discovery, root only).
local rtpmidi = require "rtpmidi"
local core = require "rtpmidi.core"
local H = require "helper"
local P = require "proc"

-- a system bus nobody listens on: the same on every machine (a running
-- system avahi-daemon cannot make results appear)
local NO_BUS = { DBUS_SYSTEM_BUS_ADDRESS = "unix:path=/nonexistent/rtpmidi-no-bus" }

describe("discovery without avahi-daemon", function()
  after_each(function() P.kill_all() end)

  it("browse() refuses what is not a DNS-SD service type, naming the argument", function()
    for _, bad in ipairs{ "", "apple-midi", "_apple-midi", "_apple-midi._sctp", "_a b._udp",
                          "_" .. ("x"):rep(16) .. "._udp" } do
      local ok, err = pcall(core.browse, bad)
      assert.is_false(ok, bad)
      assert.matches("bad argument 'type'", err, 1, true)
    end
    if not rtpmidi.AppleMidiSession.discovery_available() then
      local b, err = core.browse("_apple-midi._udp")
      assert.is_nil(b)
      assert.matches("no mDNS discovery in this build", err, 1, true)
      return
    end
    local b = assert(core.browse("_midi2._udp"))
    assert.are.same({}, b:found())
    b:close()
    b:close() -- twice is harmless
    assert.are.same({}, b:found())
  end)

  it("discovered() is a list on both session kinds, empty while stopped", function()
    local control = rtpmidi.RTPControl()
    local a = rtpmidi.AppleMidiSession{ name = "disc-spec-a", port = 0 }
    local m = rtpmidi.Midi2Session{ name = "disc-spec-m", port = 0 }
    assert.are.same({}, a:discovered())
    assert.are.same({}, m:discovered())
    assert(control:start_session(control:add_session(a)))
    assert(control:start_session(control:add_session(m)))
    H.run_for(100)
    assert.are.equal("table", type(a:discovered()))
    assert.are.equal("table", type(m:discovered()))
    control:stop_session(a.cookie)
    control:stop_session(m.cookie)
    assert.are.same({}, a:discovered())
    assert.are.same({}, m:discovered())
    assert.are.equal(rtpmidi.AppleMidiSession.discovery_available(), rtpmidi.Midi2Session.discovery_available())
  end)

  it("`rtpmidi list --network` browses for --time ms and prints both kinds", function()
    local t0 = rtpmidi.now()
    local p = P.rtpmidi({ "list", "--network", "--time", "300" }, NO_BUS)
    local rc = p:wait_exit(10000)
    if not rtpmidi.AppleMidiSession.discovery_available() then
      assert.are.equal(1, rc)
      assert.matches("no mDNS discovery in this build", p:stderr(), 1, true)
      return
    end
    assert.are.equal(0, rc, p:stderr())
    assert.is_true(rtpmidi.now() - t0 >= 300)
    assert.are.equal("_apple-midi._udp (AppleMIDI):\n  none found\n_midi2._udp (Network MIDI 2.0):\n  none found\n",
      p:stdout())
    assert.matches("mDNS discovery is off", p:stderr(), 1, true)
  end)

  it("`rtpmidi list` refuses --time without --network and --api with it", function()
    for _, c in ipairs{
      { { "list", "--time", "100" }, "rtpmidi list: --time goes with --network" },
      { { "list", "--network", "--api", "jack" }, "rtpmidi list: --api lists MIDI ports, not the network" },
      { { "list", "--network", "--time", "soon" }, "rtpmidi list: option --time needs milliseconds >= 0, got 'soon'" },
    } do
      local p = P.rtpmidi(c[1])
      assert.are.equal(2, p:wait_exit(10000))
      assert.are.equal(c[2] .. "\nsee `rtpmidi help list`\n", p:stderr())
    end
    local p = P.rtpmidi{ "help", "list" }
    assert.are.equal(0, p:wait_exit(10000))
    assert.matches("rtpmidi list --network [--time MS]", p:stdout(), 1, true)
  end)
end)
