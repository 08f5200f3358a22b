-- Ctrl-C and SIGTERM stop every script cleanly (#19), scripts that call
-- control:run() themselves included: the peer gets its RTCP BYE (AppleMIDI:
-- BY), every note sounding on a MIDI output is turned off, the script goes
-- on after control:run() and the process exits 0; a second Ctrl-C while it
-- stops ends it at once (130). Ctrl-C is typed on a real terminal (tmux).
local rtpmidi = require "rtpmidi"
local H = require "helper"
local J = require "jack"
local P = require "proc"
local T = require "tty"

local function script_file(text)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

local function readme_block(after_heading)
  local f = assert(io.open(P.root .. "/README.md"))
  local text = f:read("a")
  f:close()
  local section = assert(text:match("\n## " .. after_heading .. "\n(.-)\n## "), after_heading)
  return assert(section:match("```lua\n(.-)```"), "a Lua block under " .. after_heading)
end

local function count(s, pattern) return select(2, s:gsub(pattern, "")) end

describe("stopping a script", function()
  local control = rtpmidi.RTPControl()
  local opened, paths = {}, {}

  setup(function() J.start() end)
  teardown(function()
    T.kill_all()
    P.kill_all()
    J.stop()
  end)
  after_each(function()
    T.kill_all()
    P.kill_all()
    H.cleanup()
    for _, p in ipairs(opened) do p:close() end
    opened = {}
    for _, path in ipairs(paths) do os.remove(path) end
    paths = {}
    H.assert_clean()
  end)

  local function file(text)
    local path = script_file(text)
    paths[#paths + 1] = path
    return path
  end

  local function env(extra)
    local e = P.lua_env(extra)
    e.JACK_DEFAULT_SERVER = J.name
    return e
  end

  it("the README's session example: one Ctrl-C ends it with 0, no 'interrupted!'", function()
    local code = readme_block("A session in Lua"):gsub("5004", tostring(H.port())):gsub("5006", tostring(H.port()))
    local term = T.start({ "lua5.4", file(code) }, env())
    term:wait_for(function(t) return count(t:screen(), "packet of 4 octets") >= 2 end, "two packets printed", 10000)
    term:keys("C-c")
    local rc, sig = term:wait_exit(5000)
    local screen = term:screen()
    assert.are.equal(0, rc, screen)
    assert.is_nil(sig)
    assert.matches("SIGINT, stopping", screen, 1, true)
    assert.not_matches("interrupted", screen, 1, true)
    assert.not_matches("error", screen, 1, true)
  end)

  it("Ctrl-C on a script with a MIDI session and outputs: BYE to the peer, every note off, the script goes on, 0",
    function()
    local synth_name, other_name = J.unique("spec-synth"), J.unique("spec-other")
    local heard, other_heard = {}, {}
    local synth = assert(rtpmidi.MidiIn{ api = "jack", virtual = synth_name })
    opened[#opened + 1] = synth
    function synth:on_message(bytes) heard[#heard + 1] = bytes end
    local other = assert(rtpmidi.MidiIn{ api = "jack", virtual = other_name })
    opened[#opened + 1] = other
    function other:on_message(bytes) other_heard[#other_heard + 1] = bytes end
    local p_spec, p_script = H.port(), H.port()
    local drops = {}
    local peer = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = p_script, receiving_port = p_spec,
      drop_call = function(_, _, reason, detail) drops[#drops + 1] = { reason = reason, detail = detail } end }
    assert(control:start_session(control:add_session(peer)))
    local term = T.start({ "lua5.4", file(([[
local rtpmidi = require "rtpmidi"
local control = rtpmidi.RTPControl()
-- what the peer plays sounds on %q; a note of our own holds on %q
local s = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = %d, receiving_port = %d,
                               api = "jack", device_out = %q, latency = 0 }
assert(control:start_session(control:add_session(s)))
local other = assert(rtpmidi.MidiOut{ api = "jack", port = %q })
other:send("\x90\x40\x64")
print("ready")
local got = control:run()
print("after run: " .. tostring(got))
]]):format(synth_name, other_name, p_spec, p_script, synth_name, other_name)) }, env())
    term:wait_for(function(t) return t:screen():find("ready", 1, true) end, "the script to start", 10000)
    -- the script's note on the other output, then the peer's note through the session
    term:wait_for(function() return other_heard[1] == "\x90\x40\x64" end, "the script's own note", 5000)
    local probe = rtpmidi.every(50, function() peer:send_midi("\x90\x3c\x64") end)
    term:wait_for(function() return heard[1] == "\x90\x3c\x64" end, "the peer's note at the synth", 10000)
    probe:cancel()
    H.run_for(50)
    for k = #drops, 1, -1 do drops[k] = nil end

    term:keys("C-c")
    -- the BYE (a report the peer sent meanwhile may come back as "network"
    -- first: the script's port is closed soon after)
    local function bye()
      for _, d in ipairs(drops) do if d.reason == "bye" then return d end end
    end
    term:wait_for(bye, "the peer's drop_call(\"bye\") after Ctrl-C", 5000)
    assert.are.equal("session stopped", bye().detail)
    local rc = term:wait_exit(5000)
    local screen = term:screen()
    assert.are.equal(0, rc, screen)
    assert.matches("after run: SIGINT", screen, 1, true)
    assert.not_matches("interrupted", screen, 1, true)
    local function has_off(list, note)
      for _, m in ipairs(list) do
        if m == string.char(0x80, note, 0) or m == string.char(0x90, note, 0) then return true end
      end
      return false
    end
    assert.is_true(has_off(heard, 0x3c), "no note-off for the peer's C4 on the session's output")
    assert.is_true(has_off(other_heard, 0x40), "no note-off for the script's E4 on its own output")
  end)

  it("SIGTERM ends an AppleMIDI script: the participant gets BY, the exit code is 0", function()
    local p_spec, p_script = H.port(), H.port()
    local joined, left = {}, {}
    local apple = rtpmidi.AppleMidiSession{ name = "spec host", port = p_spec,
      participant_joined = function(_, p) joined[#joined + 1] = p.name end,
      participant_left = function(_, p, reason) left[#left + 1] = { name = p.name, reason = reason } end }
    assert(control:start_session(control:add_session(apple)))
    local proc = P.spawn({ "lua5.4", file(([[
local rtpmidi = require "rtpmidi"
local control = rtpmidi.RTPControl()
local apple = rtpmidi.AppleMidiSession{ name = "script", port = %d }
assert(control:start_session(control:add_session(apple)))
assert(apple:invite("127.0.0.1", %d))
control:run()
]]):format(p_script, p_spec)) }, env())
    proc:wait_for(function() return #joined > 0 end, "the script to join", 10000)
    assert.are.equal("script", joined[1])
    proc:signal("TERM")
    proc:wait_for(function() return #left > 0 end, "the participant to leave", 5000)
    assert.are.same({ name = "script", reason = "bye" }, left[1])
    assert.are.equal(0, proc:wait_exit(5000))
    assert.matches("SIGTERM, stopping", proc:stderr(), 1, true)
  end)

  it("a second Ctrl-C while the script stops ends it at once: 130 (SIGINT)", function()
    local term = T.start({ "lua5.4", file(([[
local rtpmidi = require "rtpmidi"
if rtpmidi.set_callback_budget then rtpmidi.set_callback_budget(0) end
local control = rtpmidi.RTPControl()
local s = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = %d, receiving_port = %d }
function s:stop()      -- a slow goodbye: the second Ctrl-C comes during it
  print("stop callback")
  local t = rtpmidi.now()
  while rtpmidi.now() - t < 10000 do end
  print("stop callback done")
end
assert(control:start_session(control:add_session(s)))
print("ready")
control:run()
print("after run")
]]):format(H.port(), H.port())) }, env())
    term:wait_for(function(t) return t:screen():find("ready", 1, true) end, "the script to start", 10000)
    term:keys("C-c")
    term:wait_for(function(t) return t:screen():find("stop callback", 1, true) end, "the slow stop", 5000)
    term:keys("C-c")
    local rc, sig = term:wait_exit(8000)
    local screen = term:screen()
    assert.are.equal(2, sig, screen)
    assert.are.equal(130, rc)
    assert.not_matches("after run", screen, 1, true)
  end)

  it("a script that runs the loop itself under `rtpmidi run` ends with one Ctrl-C, exit 0", function()
    local code = readme_block("A session in Lua"):gsub("5004", tostring(H.port())):gsub("5006", tostring(H.port()))
    local term = T.start({ "lua5.4", P.root .. "/bin/rtpmidi", "run", file(code), "--no-repl" }, env())
    term:wait_for(function(t) return count(t:screen(), "packet of 4 octets") >= 1 end, "a packet printed", 10000)
    term:keys("C-c")
    local rc = term:wait_exit(5000)
    assert.are.equal(0, rc, term:screen())
    assert.not_matches("interrupted", term:screen(), 1, true)
  end)

  it("a script whose JACK server shuts down hears on_error and exits without libjack's noise", function()
    -- a server of its own, stopped cleanly (SIGTERM: its registry slot is freed)
    local srv = J.server("rtpmidi-stop-" .. J.unique("srv"))
    finally(srv.stop)
    local e = env()
    e.JACK_DEFAULT_SERVER = srv.name
    -- The script ends once the server is gone: jackd 1.9.21 dies of SIGPIPE
    -- (its registry slot lost, see J.reclaim) when a client leaves while it
    -- shuts down.
    local gone = os.tmpname()
    os.remove(gone)
    paths[#paths + 1] = gone
    local proc = P.spawn({ "lua5.4", file(([[
local rtpmidi = require "rtpmidi"
local control = rtpmidi.RTPControl()
local inp = assert(rtpmidi.MidiIn{ api = "jack", virtual = "in" })
function inp:on_error(message)
  print("on_error: " .. message)
  rtpmidi.every(20, function()
    if io.open(%q) then control:stop() end
  end)
end
print("open")
control:run()
print("after run")
]]):format(gone)) }, e)
    proc:wait_for(function(p) return p:stdout():find("open", 1, true) end, "the port to open", 10000)
    os.execute("kill " .. srv.pid)
    proc:wait_for(function(p) return p:stdout():find("on_error", 1, true) end, "on_error in the script", 10000)
    proc:wait_for(function() return not os.execute("kill -0 " .. srv.pid .. " 2>/dev/null") end,
      "jackd to exit", 10000)
    srv.pid = nil
    assert(io.open(gone, "w")):close()
    assert.are.equal(0, proc:wait_exit(10000), proc:stdout() .. proc:stderr())
    assert.matches("on_error: jack: the JACK server has shut down", proc:stdout(), 1, true)
    assert.matches("after run", proc:stdout(), 1, true)
    -- before: "Server is not running" twice, from the client closed at exit
    assert.are.equal("", proc:stderr())
  end)

  -- The examples that run until Ctrl-C with SECONDS = 0; each has a
  -- stand-in peer of its own and prints what it does.
  -- (The examples exit 1 when their stand-in traffic did not flow: the
  -- spec waits for the line that shows it did.)
  local working = {
    ["applemidi_host.lua"] = "from stand%-in Mac: note on",
    ["arpeggiator.lua"] = "C4 D#4 G4",
    ["keyboard_bridge.lua"] = "far end got 90",
    ["midisession.lua"] = "receiver plays 90",
    ["monitor.lua"] = "note on ch1",
    ["router.lua"] = "drums ch10 90",
    ["synth_receiver.lua"] = "plays at +[%d.]+ ms: 90",
  }
  for _, name in ipairs{ "applemidi_host.lua", "arpeggiator.lua", "keyboard_bridge.lua", "midisession.lua",
                         "monitor.lua", "router.lua", "synth_receiver.lua" } do
    it("examples/" .. name .. " with 0 seconds stops on SIGINT and exits 0", function()
      local p = P.spawn({ "lua5.4", P.root .. "/examples/" .. name, "0" },
        env{ RTPMIDI_EXAMPLE_PORT = tostring(H.port_block(12)) })
      p:wait_for(function(s) return s:stdout():find(working[name]) end, "its traffic", 10000)
      p:signal("INT")
      assert.are.equal(0, p:wait_exit(5000), p:stdout() .. p:stderr())
      assert.not_matches("interrupted", p:stderr(), 1, true)
      assert.not_matches("error", p:stderr(), 1, true)
    end)
  end
end)
