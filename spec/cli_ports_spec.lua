-- The command line's MIDI ports and status line (#19): `-i N` / `-o N` are
-- the indexes `rtpmidi list` shows (our own ports, opened later, never move
-- them); the MIDI libraries' own messages are hidden unless -v; the status
-- line counts MIDI messages and guard packets apart, says what its latency
-- is in each mode, and follows the terminal's size.
local rtpmidi = require "rtpmidi"
local cli = require "rtpmidi.cli"
local H = require "helper"
local J = require "jack"
local P = require "proc"
local T = require "tty"

-- `rtpmidi list` output: { inputs = { name = index }, outputs = { ... } } of one API.
local function parse_list(out, api)
  local got, kind, in_api = { inputs = {}, outputs = {} }, nil, false
  for l in out:gmatch("[^\n]+") do
    local a = l:match("^(%w+):$")
    if a then in_api = a == api end
    local k = l:match("^  (%a+):")
    if k then kind = k end
    local idx, name = l:match("^  [ *] +(%d+)  (.+)$")
    if in_api and idx and kind then got[kind][name] = tonumber(idx) end
  end
  return got
end

describe("rtpmidi MIDI ports and status", function()
  local control = rtpmidi.RTPControl()
  local opened = {}

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
    H.assert_clean()
  end)

  local function open(cls, opts)
    local p = assert(cls(opts))
    opened[#opened + 1] = p
    return p
  end

  local function jack_env() return { JACK_DEFAULT_SERVER = J.name } end

  it("-i N and -o N are the ports `rtpmidi list` shows as N", function()
    local heard_a, heard_b = {}, {}
    local a_name, b_name, kbd_name = J.unique("spec-synth-a"), J.unique("spec-synth-b"), J.unique("spec-kbd")
    local synth_a = open(rtpmidi.MidiIn, { api = "jack", virtual = a_name })
    function synth_a:on_message(m) heard_a[#heard_a + 1] = m end
    local synth_b = open(rtpmidi.MidiIn, { api = "jack", virtual = b_name })
    function synth_b:on_message(m) heard_b[#heard_b + 1] = m end
    local kbd = open(rtpmidi.MidiOut, { api = "jack", virtual = kbd_name })

    local l = P.rtpmidi({ "list", "--api", "jack" }, jack_env())
    assert.are.equal(0, l:wait_exit(10000))
    local list = parse_list(l:stdout(), "jack")
    local function index(kind, name)
      for n, i in pairs(list[kind]) do if n:find(name, 1, true) then return i end end
      error(name .. " is not in the list:\n" .. l:stdout())
    end
    local ia, ib, ik = index("outputs", a_name), index("outputs", b_name), index("inputs", kbd_name)

    local p_spec, p_stream = H.port(), H.port()
    local got = {}
    local peer = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = p_stream, receiving_port = p_spec,
      incoming_midi = function(_, m) got[#got + 1] = m end }
    assert(control:start_session(control:add_session(peer)))
    -- the stream opens its input before its output: its own input port
    -- joins the output list then, which must not move -o's index
    local s = P.rtpmidi({ "stream", "-a", "127.0.0.1", "-s", tostring(p_spec), "-r", tostring(p_stream),
      "--api", "jack", "-i", tostring(ik), "-o", tostring(ib), "-L", "0", "--no-repl" }, jack_env())
    s:wait_for(function(p) return p:stderr():find("output: ", 1, true) end, "the stream's ports", 10000)
    assert.matches(("input: [^,]*%s, output: [^\n]*%s"):format(kbd_name:gsub("%-", "%%-"), b_name:gsub("%-", "%%-")),
      s:stderr())
    local probe = rtpmidi.every(50, function() peer:send_midi("\xB0\x77\x00") end)
    s:wait_for(function() return #heard_b > 0 end, "the peer's message at output " .. ib, 10000)
    probe:cancel()
    probe = rtpmidi.every(50, function() kbd:send("\xB0\x76\x00") end)
    s:wait_for(function() return #got > 0 end, "input " .. ik .. " at the peer", 10000)
    probe:cancel()
    assert.are.same({}, heard_a)
    assert.are_not.equal(ia, ib)
    s:signal("INT")
    assert.are.equal(0, s:wait_exit(5000))

    -- one past the last output listed: once the stream's own input port,
    -- opened first and listed last, was taken for it; now one line says so
    local n = 0
    for _ in pairs(list.outputs) do n = n + 1 end
    local bad = P.rtpmidi({ "stream", "-a", "127.0.0.1", "-s", tostring(p_spec), "-r", tostring(H.port()),
      "--api", "jack", "-i", tostring(ik), "-o", tostring(n), "--no-repl" }, jack_env())
    assert.are.equal(1, bad:wait_exit(10000))
    assert.are.equal(("rtpmidi stream: MIDI output: jack: no MIDI output %d (`rtpmidi list` shows %d)\n"):format(n, n),
      bad:stderr())
  end)

  it("an index with no --api is one of the API `rtpmidi list` marks with *", function()
    local name = J.unique("spec-synth")
    open(rtpmidi.MidiIn, { api = "jack", virtual = name })
    for _, e in ipairs(cli.ports()) do
      if e.default_outputs then
        local api, port = cli.resolve_port("outputs", tostring(e.default_outputs), nil)
        assert.are.equal(e.api, api)
        assert.are.equal(e.outputs[1].name, port)
      end
    end
    -- a name stays a name, for the API given
    assert.are.same({ "jack", "synth" }, { cli.resolve_port("outputs", "synth", "jack") })
  end)

  it("hides the MIDI libraries' own messages unless -v", function()
    local env = { JACK_DEFAULT_SERVER = "rtpmidi-spec-no-such-server" }
    local p = P.rtpmidi({ "list" }, env)
    assert.are.equal(0, p:wait_exit(10000))
    local out, err = p:stdout(), p:stderr()
    assert.matches("jack:\n  not available: no JACK server running", out, 1, true)
    assert.are.equal("", err)
    local v = P.rtpmidi({ "list", "-v" }, env)
    assert.are.equal(0, v:wait_exit(10000))
    assert.matches("server", v:stderr())   -- JACK's own words, let through
    assert.are.equal(out, v:stdout())
  end)

  it("counts MIDI messages and guard packets apart, and says what its latency is", function()
    local pa, pb = H.port(), H.port()
    local a = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = pb, receiving_port = pa, latency = 25 }
    local got = 0
    local b = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = pa, receiving_port = pb,
      incoming_midi = function() got = got + 1 end }
    assert(control:start_session(control:add_session(a)))
    assert(control:start_session(control:add_session(b)))
    assert(a:send_midi("\x90\x3c\x64"))
    H.run_for(5)
    assert(a:send_midi("\x80\x3c\x00\x90\x3e\x64"))
    H.run_until(function() return got == 3 and a:stats().guard_packets > 0 end, "the messages and a guard packet")
    local st = a:stats()
    local text = cli.status_text(a)
    assert.matches(("| sent 3 msg + %d guard |"):format(st.guard_packets), text, 1, true)
    assert.is_true(st.packets_sent > 2)      -- the packet count holds both kinds
    assert.matches("| plays %+25%.0 ms$", text)
    assert.matches("received 3 msg", cli.status_text(b), 1, true)
    if rtpmidi.AppleMidiSession then
      local host = rtpmidi.AppleMidiSession{ name = "spec host", port = H.port(), ck_fast_interval = 50 }
      local joined
      local guest = rtpmidi.AppleMidiSession{ name = "spec guest", port = H.port(),
        participant_joined = function() joined = true end }
      assert(control:start_session(control:add_session(host)))
      assert(control:start_session(control:add_session(guest)))
      assert(guest:invite("127.0.0.1", host:local_port()))
      H.run_until(function()
        local ps = host:participants()
        return joined and ps[1] and ps[1].latency ~= nil
      end, "a participant with a measured latency", 5000)
      assert.matches("^peers 1 | sent 0 msg %+ %d+ guard | received 0 msg | .* | one%-way [%d.]+ ms$",
        cli.status_text(host))
    end
  end)

  it("the status line follows the terminal's size", function()
    local term = T.start({ "lua5.4", P.root .. "/bin/rtpmidi", "stream", "-a", "127.0.0.1",
      "-s", tostring(H.port()), "-r", tostring(H.port()), "--no-repl" }, P.lua_env(), { cols = 140, rows = 12 })
    local function bottom(t)
      local rows = {}
      for l in t:visible():gmatch("([^\n]*)\n") do rows[#rows + 1] = l end
      return rows[#rows], #rows, rows
    end
    term:wait_for(function(t) return bottom(t):find("^peer ") end, "the status line at the bottom", 10000)
    assert.matches("plays %+20%.0 ms$", bottom(term))
    term:resize(60, 8)
    term:wait_for(function(t)
      local last, n = bottom(t)
      return n == 8 and last:find("^peer ") and #last == 59
    end, "the status line at the bottom of 60x8, cut to 59 columns", 5000)
    term:resize(150, 16)
    term:wait_for(function(t)
      local last, n = bottom(t)
      return n == 16 and last:find("plays +20.0 ms", 1, true)
    end, "the whole status line at the bottom of 150x16", 5000)
    local _, _, rows = bottom(term)
    for i = 1, #rows - 1 do assert.not_matches("^peer ", rows[i]) end   -- no stale copy left above
    term:keys("C-c")
    assert.are.equal(0, (term:wait_exit(5000)))
  end)
end)
