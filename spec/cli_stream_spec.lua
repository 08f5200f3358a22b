-- The rtpmidi command as a subprocess: stream (two processes over JACK dummy
-- ports; Ctrl-C), list, monitor, and the exit codes and --help of each
-- subcommand.
local rtpmidi = require "rtpmidi"
local H = require "helper"
local J = require "jack"
local P = require "proc"

describe("rtpmidi command", function()
  local control = rtpmidi.RTPControl()
  local opened = {}

  setup(function() J.start() end)
  teardown(function()
    P.kill_all()
    J.stop()
  end)
  after_each(function()
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

  describe("usage", function()
    it("prints --help for each subcommand and exits 0", function()
      for _, cmd in ipairs{ "list", "stream", "monitor", "run", "demo" } do
        local p = P.rtpmidi({ cmd, "--help" })
        assert.are.equal(0, p:wait_exit(10000), cmd)
        assert.matches("usage: rtpmidi " .. cmd, p:stdout(), 1, true)
        p:kill()
      end
    end)

    it("exits 2 on a usage error, naming what is wrong", function()
      local cases = {
        { { "stream" }, "-a HOST is needed" },
        { { "stream", "-a", "127.0.0.1", "-s", "70000" }, "option -s needs a port" },
        { { "stream", "-a", "127.0.0.1", "--bogus" }, "unknown option --bogus" },
        { { "stream", "-a", "127.0.0.1", "--api", "nope" }, "no MIDI API 'nope'" },
        { { "monitor" }, "one PORT expected" },
        { { "run" }, "a script is needed" },
        { { "frobnicate" }, "unknown command 'frobnicate'" },
      }
      for _, c in ipairs(cases) do
        local p = P.rtpmidi(c[1])
        assert.are.equal(2, p:wait_exit(10000), table.concat(c[1], " "))
        assert.matches(c[2], p:stderr(), 1, true)
        p:kill()
      end
    end)

    it("exits 1 on a failure at run time", function()
      -- a MIDI port that is not there
      local p = P.rtpmidi({ "stream", "-a", "127.0.0.1", "-r", tostring(H.port()), "--api", "jack",
                            "-o", "no-such-port-anywhere", "--no-repl" }, jack_env())
      assert.are.equal(1, p:wait_exit(10000))
      assert.matches("no MIDI output port matches 'no-such-port-anywhere'", p:stderr(), 1, true)
      p:kill()
      -- a port in use
      local port = H.port()
      local busy = rtpmidi.RTPSession{ peer_address = "127.0.0.1", receiving_port = port, payload = 96 }
      assert(control:start_session(control:add_session(busy)))
      p = P.rtpmidi({ "stream", "-a", "127.0.0.1", "-r", tostring(port), "--no-repl" })
      assert.are.equal(1, p:wait_exit(10000))
      assert.matches("cannot start the session on port " .. port, p:stderr(), 1, true)
      p:kill()
    end)
  end)

  it("list shows each API's ports, the default marked, and says when an API has no server", function()
    local name = J.unique("spec-list")
    open(rtpmidi.MidiIn, { api = "jack", virtual = name })
    local p = P.rtpmidi({ "list" }, jack_env())
    assert.are.equal(0, p:wait_exit(10000))
    local out = p:stdout()
    assert.matches("jack:", out, 1, true)
    assert.matches("outputs:", out, 1, true)
    assert.matches(name, out, 1, true)
    assert.matches("%* +0  ", out)                                 -- the default port
    assert.matches("alsa:\n  not available: ", out, 1, true)       -- no /dev/snd here
    p:kill()
    -- with no server at all, JACK says so
    p = P.rtpmidi({ "list", "--api", "jack" }, { JACK_DEFAULT_SERVER = "no-such-server-" .. J.unique() })
    assert.are.equal(0, p:wait_exit(10000))
    assert.matches("jack:\n  not available: no JACK server running", p:stdout(), 1, true)
    p:kill()
    -- stream -l lists as list does
    p = P.rtpmidi({ "stream", "-l", "--api", "jack" }, jack_env())
    assert.are.equal(0, p:wait_exit(10000))
    assert.matches(name, p:stdout(), 1, true)
    p:kill()
  end)

  it("two stream processes carry a phrase from one's input port to the other's output port", function()
    local kbd_name, synth_name = J.unique("spec-kbd"), J.unique("spec-synth")
    local kbd = open(rtpmidi.MidiOut, { api = "jack", virtual = kbd_name })
    local heard = {}
    local synth = open(rtpmidi.MidiIn, { api = "jack", virtual = synth_name })
    function synth:on_message(bytes) heard[#heard + 1] = bytes end
    local pa, pb = H.port(), H.port()
    local a = P.rtpmidi({ "stream", "-a", "127.0.0.1", "-s", tostring(pb), "-r", tostring(pa),
                          "--api", "jack", "-i", kbd_name, "--no-repl" }, jack_env())
    local b = P.rtpmidi({ "stream", "-a", "127.0.0.1", "-s", tostring(pa), "-r", tostring(pb),
                          "--api", "jack", "-o", synth_name, "-L", "5", "-v", "--no-repl" }, jack_env())
    a:wait_for(function(p) return p:stderr():find("input: ", 1, true) end, "stream A to open its ports", 10000)
    b:wait_for(function(p) return p:stderr():find("output: ", 1, true) end, "stream B to open its ports", 10000)
    -- JACK connections and both sockets take a moment: probe until one
    -- message goes all the way
    local probe = rtpmidi.every(50, function() kbd:send("\xB0\x77\x00") end)
    b:wait_for(function() return #heard > 0 end, "a first message through both streams", 10000)
    probe:cancel()
    H.run_for(100)
    for k = #heard, 1, -1 do heard[k] = nil end
    -- the phrase: 24 notes on and off, in order, a little apart
    local phrase = {}
    for k = 1, 12 do
      local n = 48 + k * 2
      phrase[#phrase + 1] = string.char(0x90, n, 60 + k)
      phrase[#phrase + 1] = string.char(0x80, n, 0)
    end
    local k = 0
    local player = rtpmidi.every(8, function(t)
      k = k + 1
      if phrase[k] then kbd:send(phrase[k]) else t:cancel() end
    end)
    b:wait_for(function() return #heard >= #phrase end, "the whole phrase at the synth port", 10000)
    player:cancel()
    assert.are.same(phrase, heard)
    -- -v printed what went through
    b:wait_for(function(p) return p:stdout():find("note on ch1 D3 vel 61", 1, true) end, "the verbose line")
    a:signal("INT"); b:signal("INT")
    assert.are.equal(0, a:wait_exit(5000))
    assert.are.equal(0, b:wait_exit(5000))
  end)

  it("Ctrl-C sends BYE, leaves no note sounding on the output, and exits 0", function()
    local synth_name = J.unique("spec-synth")
    local heard = {}
    local synth = open(rtpmidi.MidiIn, { api = "jack", virtual = synth_name })
    function synth:on_message(bytes) heard[#heard + 1] = bytes end
    local p_spec, p_stream = H.port(), H.port()
    local drops = {}
    local peer = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = p_stream, receiving_port = p_spec,
      drop_call = function(_, _, reason, detail) drops[#drops + 1] = { reason = reason, detail = detail } end }
    assert(control:start_session(control:add_session(peer)))
    local s = P.rtpmidi({ "stream", "-a", "127.0.0.1", "-s", tostring(p_spec), "-r", tostring(p_stream),
                          "--api", "jack", "-o", synth_name, "-L", "5", "--no-repl" }, jack_env())
    s:wait_for(function(p) return p:stderr():find("output: ", 1, true) end, "the stream to open its port", 10000)
    local probe = rtpmidi.every(50, function() peer:send_midi("\xB0\x77\x00") end)
    s:wait_for(function() return #heard > 0 end, "a first message through the stream", 10000)
    probe:cancel()
    H.run_for(50)
    for k = #heard, 1, -1 do heard[k] = nil end
    -- hold a note through the stream
    assert(peer:send_midi("\x90\x3c\x64"))
    s:wait_for(function() return heard[#heard] == "\x90\x3c\x64" end, "the note on at the output port")
    -- Ctrl-C (the probes sent before the stream was up may have caused a
    -- "network" drop: only what comes now counts)
    for k = #drops, 1, -1 do drops[k] = nil end
    s:signal("INT")
    -- the BYE may come second: an RTCP report of ours that reached the
    -- stream's port just after it closed bounces (ICMP, "network") too
    local function bye()
      for _, d in ipairs(drops) do if d.reason == "bye" then return d end end
    end
    s:wait_for(function() return bye() ~= nil end, "the peer's drop_call (bye) after Ctrl-C", 5000)
    assert.are.equal("session stopped", bye().detail)
    assert.are.equal(0, s:wait_exit(5000))
    assert.matches("SIGINT, stopping", s:stderr(), 1, true)
    local off = false
    for _, m in ipairs(heard) do
      off = off or m == "\x80\x3c\x00" or m == "\x90\x3c\x00"
    end
    assert.is_true(off, "no note-off for C4 on the output port")
  end)

  it("monitor prints RTP-MIDI with its journal, RTCP and AppleMIDI commands, one line each", function()
    local port = H.port()
    local m = P.rtpmidi({ "monitor", tostring(port), "--bind", "127.0.0.1", "-t", "20" })
    m:wait_for(function(p) return p:stderr():find("listening", 1, true) end, "the monitor to listen", 10000)
    -- a MIDI session sending to the monitor's port, with a journal after the first note
    local s = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = port, receiving_port = H.port(),
                                   rtcp_interval = 0.2 }
    assert(control:start_session(control:add_session(s)))
    assert(s:send_midi("\x90\x3c\x64"))
    H.run_for(20)
    assert(s:send_midi("\x80\x3c\x00\xB0\x07\x64"))
    m:wait_for(function(p) return p:stdout():find("note off ch1 C4", 1, true) end, "the note off", 5000)
    local out = m:stdout()
    assert.matches("RTP pt 97 seq %d+ ts %d+ ssrc 0x%x+, MIDI note on ch1 C4 vel 100", out)
    assert.matches("note off ch1 C4; cc ch1 7 = 100 | journal %d+ octets, checkpoint %d+, channel 1 %[%u*N%u*%]", out)
    m:wait_for(function(p) return p:stdout():find("RTCP SR", 1, true) end, "an RTCP report", 5000)
    assert.matches("SDES cname=", m:stdout(), 1, true)
    -- an AppleMIDI invitation to the monitor (it never answers)
    if rtpmidi.AppleMidiSession then
      local apple = rtpmidi.AppleMidiSession{ name = "spec inviter", port = H.port(), invite_interval = 100 }
      assert(control:start_session(control:add_session(apple)))
      assert(apple:invite("127.0.0.1", port))
      m:wait_for(function(p) return p:stdout():find("AppleMIDI IN", 1, true) end, "the invitation", 5000)
      assert.matches('AppleMIDI IN %(invitation%).* name "spec inviter"', m:stdout())
    end
    control:stop()
    m:wait_for(function(p) return p:stdout():find("RTCP.*BYE") end, "the BYE", 5000)
    m:signal("INT")
    assert.are.equal(0, m:wait_exit(5000))
  end)

  it("gives a Lua prompt on standard input that runs on the loop", function()
    local fifo = os.tmpname()
    os.remove(fifo)
    assert(os.execute("mkfifo " .. P.quote(fifo)))
    -- read-write: opening does not wait for the reader, and the spec keeps the write end
    local w = assert(io.open(fifo, "r+"))
    local p_spec, p_stream = H.port(), H.port()
    local got = {}
    local peer = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = p_stream, receiving_port = p_spec,
      incoming_midi = function(_, m) got[#got + 1] = m end }
    assert(control:start_session(control:add_session(peer)))
    local s = P.rtpmidi({ "stream", "-a", "127.0.0.1", "-s", tostring(p_spec), "-r", tostring(p_stream), "--repl" },
                        nil, fifo)
    s:wait_for(function(p) return p:stdout():find("stream> ", 1, true) end, "the prompt", 10000)
    w:write("send('\\x90\\x40\\x50')\n")
    w:write("for i = 1,\n")             -- a statement over two lines
    w:write("2 do print('line ' .. i) end\n")
    w:write("stats().packets_sent\n")
    w:flush()
    s:wait_for(function() return got[1] == "\x90\x40\x50" end, "the note sent from the prompt", 5000)
    s:wait_for(function(p) return p:stdout():find("line 2", 1, true) end, "the loop's output")
    s:wait_for(function(p) return p:stdout():find("\n1\n", 1, true) or p:stdout():find(" 1\n", 1, true) end,
      "the packet count")
    w:write("error('oops')\n")
    w:write("quit()\n")
    w:flush()
    assert.are.equal(0, s:wait_exit(5000))
    assert.matches("oops", s:stdout(), 1, true)
    w:close()
    os.remove(fifo)
  end)
end)
