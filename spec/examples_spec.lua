-- Every example runs as it is, as a subprocess (under a watchdog), and exits
-- 0 by itself having done what it says.
local H = require "helper"
local P = require "proc"

describe("examples", function()
  after_each(function()
    P.kill_all()
    H.assert_clean()
  end)

  -- Runs an example with its built-in defaults: a short duration, and a base
  -- port of its own ($RTPMIDI_EXAMPLE_PORT; the next 11 are free too).
  local function example(name, args, env)
    local base = H.port_block(12)          -- base .. base+11 belong to this run
    local argv = { "lua5.4", P.root .. "/examples/" .. name }
    for _, a in ipairs(args or {}) do argv[#argv + 1] = a end
    local vars = { RTPMIDI_EXAMPLE_PORT = tostring(base) }
    for k, v in pairs(env or {}) do vars[k] = v end
    local p = P.spawn(argv, P.lua_env(vars))
    local code = p:wait_exit(20000)
    local out = p:stdout()
    assert.are.equal(0, code, out .. p:stderr())
    return out, p
  end

  it("loopback.lua exchanges its packets", function()
    local out = example("loopback.lua")
    assert.matches("a received 3, b received 3", out)
  end)

  it("midisession.lua: the original guide's MidiSession subclass streams a scale", function()
    local out = example("midisession.lua", { "1" })
    assert.matches("receiver plays 90 60 100", out, 1, true)
    assert.matches("the receiver got %d+ MIDI messages", out)
  end)

  it("keyboard_bridge.lua sends a keyboard's notes to a peer", function()
    local out = example("keyboard_bridge.lua", { "1" })
    assert.matches("far end got 90 30 5a", out, 1, true)
    assert.matches("sent %d+ messages in %d+ packets", out)
  end)

  it("synth_receiver.lua plays what arrives at its time plus the latency", function()
    local out = example("synth_receiver.lua", { "1", "latency=30" })
    assert.matches("playing 30 ms after sending time", out, 1, true)
    assert.matches("plays at +[%d.]+ ms: 90  60  80", out)
    assert.matches("received %d+ messages, 0 lost packets", out)
  end)

  it("router.lua routes by channel and transposes", function()
    local out = example("router.lua", { "2" })
    assert.matches("lead  ch1  90  7%d 100", out)        -- channel 1, an octave up
    assert.matches("drums ch10 90  36 100", out, 1, true) -- channel 10, as it is
    assert.matches("lead  ch2  90  6%d 100", out)         -- others to both
    assert.matches("drums ch2  90  6%d 100", out)
    assert.not_matches("drums ch1 ", out, 1, true)
    assert.not_matches("lead  ch10", out, 1, true)
  end)

  it("monitor.lua prints each message and the counters", function()
    local out = example("monitor.lua", { "2" })
    assert.matches("ms  note on ch1 ", out, 1, true)
    assert.matches("pitch bend ch1", out, 1, true)
    assert.matches("-- %d+ packets, %d+ messages, lost 0, repaired 0, jitter [%d.]+ ms, peer [^\n]+", out)
  end)

  it("arpeggiator.lua plays alone", function()
    local out = example("arpeggiator.lua", { "1" })
    assert.matches("C4 D#4 G4 A#4 G4 D#4 C5", out, 1, true)
  end)

  it("arpeggiator.lua runs under `rtpmidi run --watch` and stops by itself", function()
    local base = H.port()
    local p = P.rtpmidi({ "run", P.root .. "/examples/arpeggiator.lua", "--watch" },
      { RTPMIDI_EXAMPLE_PORT = tostring(base), RTPMIDI_EXAMPLE_SECONDS = "1" })
    assert.are.equal(0, p:wait_exit(20000), p:stderr())
    assert.matches("C4 D#4 G4 A#4", p:stdout(), 1, true)
    assert.matches("reloading on save", p:stderr(), 1, true)
  end)

  it("applemidi_host.lua lets a participant join, hears it, echoes it", function()
    local out = example("applemidi_host.lua", { "3" })
    assert.matches("stand-in Mac joined from 127.0.0.1", out, 1, true)
    assert.matches("from stand-in Mac: note on ch1 C4 vel 100", out, 1, true)
    assert.matches("the stand-in Mac heard 6 echoes", out, 1, true)
    assert.matches("stand-in Mac left (bye)", out, 1, true)
  end)

  it("bridge.lua routes a stand-in AppleMIDI keyboard to a Network MIDI 2.0 synth and back", function()
    local out = example("bridge.lua", { "1" })
    assert.matches("synth got 40903C00 C9240000", out, 1, true) -- velocity 100 upscaled to 16 bits
    assert.matches("keyboard got back 90 3C 64", out, 1, true)
    assert.matches("every message came back as it went", out, 1, true)
  end)

  it("rtpmidi demo streams its phrase", function()
    local p = P.rtpmidi({ "demo", "--port", tostring(H.port()) })
    assert.are.equal(0, p:wait_exit(20000), p:stderr())
    local out = p:stdout()
    assert.matches("note on  ch1  C4   vel 100", out, 1, true)
    assert.matches("18 of 18 messages arrived intact and in order", out, 1, true)
  end)

  it("every example in examples/ has a spec here", function()
    local f = assert(io.open(P.root .. "/spec/examples_spec.lua"))
    local me = f:read("a")
    f:close()
    local ls = assert(io.popen("ls " .. P.quote(P.root .. "/examples")))
    for name in ls:lines() do
      if name:match("%.lua$") then
        assert.is_truthy(me:find('"' .. name .. '"', 1, true), name .. " is not run by a spec")
      end
    end
    ls:close()
  end)
end)
