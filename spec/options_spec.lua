-- Options in one place (rtpmidi.options): for every class an unknown key
-- raises naming it (with a hint when a known key is close), a bad value
-- raises naming the option, the error points at the line of the caller (the
-- table form, the positional form, a subclass's init), and valid options
-- still make a working object.
local rtpmidi = require "rtpmidi"
local core = require "rtpmidi.core"
local options = require "rtpmidi.options"
local H = require "helper"

-- The error f raises (it must raise).
local function raised(f)
  local ok, err = pcall(f)
  assert(not ok, "no error raised")
  return tostring(err)
end

-- Asserts that err is "spec/options_spec.lua:<line>: <message>".
local function at_line(err, line)
  local file, l = err:match("^(.-):(%d+): ")
  assert(file, "no position in: " .. err)
  assert.matches("options_spec%.lua$", file)
  assert.are.equal(line, tonumber(l), err)
  assert.is_nil(err:find("class.lua", 1, true), err)
end

local function here() return debug.getinfo(2, "l").currentline end

describe("options", function()
  local control = rtpmidi.RTPControl()
  after_each(H.assert_clean)

  local function rtp(over)
    local t = { peer_address = "127.0.0.1", sending_port = H.port(), receiving_port = H.port(), payload = 96 }
    for k, v in pairs(over or {}) do t[k] = v end
    return t
  end

  describe("an unknown key raises for every class, naming it", function()
    it("RTPSession, with a hint for a close known key", function()
      local err, line = raised(function() rtpmidi.RTPSession(rtp{ recieving_port = 5004 }) end), here()
      assert.matches("bad argument 'recieving_port' %(unknown option%); did you mean 'receiving_port'%?$", err)
      at_line(err, line)
    end)

    it("MidiSession, callbacks included", function()
      local err = raised(function() rtpmidi.MidiSession(rtp{ lattency = 5 }) end)
      assert.matches("bad argument 'lattency' %(unknown option%); did you mean 'latency'%?", err)
      -- a misspelt callback is an unknown key, not a silent field
      err = raised(function() rtpmidi.MidiSession(rtp{ incomming_midi = function() end }) end)
      assert.matches("bad argument 'incomming_midi' %(unknown option%); did you mean 'incoming_midi'%?", err)
    end)

    it("AppleMidiSession", function()
      local err, line = raised(function() rtpmidi.AppleMidiSession{ ck_intervall = 500 } end), here()
      assert.matches("bad argument 'ck_intervall' %(unknown option%); did you mean 'ck_interval'%?", err)
      at_line(err, line)
    end)

    it("MidiIn and MidiOut", function()
      local err, line = raised(function() rtpmidi.MidiIn{ prot = 0 } end), here()
      assert.matches("bad argument 'prot' %(unknown option%); did you mean 'port'%?", err)
      at_line(err, line)
      err = raised(function() rtpmidi.MidiOut{ virtual = "x", latancy = 5 } end)
      assert.matches("bad argument 'latancy' %(unknown option%); did you mean 'latency'%?", err)
    end)

    it("without a hint when nothing is close, and for keys that are not names", function()
      local err = raised(function() rtpmidi.AppleMidiSession{ colour = "blue" } end)
      assert.are.equal("bad argument 'colour' (unknown option)", err:match("bad argument.*$"))
      err = raised(function() rtpmidi.RTPSession(rtp{ [1] = "x" }) end)
      assert.matches("bad argument '1' %(unknown option%)$", err)
      -- a method's name with a value that is not a function does not replace it
      err = raised(function() rtpmidi.RTPSession(rtp{ send_data = 5 }) end)
      assert.matches("bad argument 'send_data' %(unknown option%)$", err)
    end)
  end)

  describe("a bad value raises naming the option, at the caller's line", function()
    it("a kind checked in Lua", function()
      local err, line = raised(function() rtpmidi.RTPSession(rtp{ accept_any_source = 1 }) end), here()
      assert.matches("bad argument 'accept_any_source' %(boolean expected, got 1%)$", err)
      at_line(err, line)
    end)

    it("a range the C core checks, reported with the option's description", function()
      local err, line = raised(function() rtpmidi.RTPSession(rtp{ jitter_buffer_size = -1 }) end), here()
      assert.matches("bad argument 'jitter_buffer_size' %(milliseconds 0%.%.60000 expected, got %-1%)$", err)
      at_line(err, line)
      err, line = raised(function() rtpmidi.MidiSession(rtp{ payload_budget = 5 }) end), here()
      assert.matches("bad argument 'payload_budget' %(octets 16%.%.1488 expected, got 5%)$", err)
      at_line(err, line)
      err, line = raised(function() rtpmidi.AppleMidiSession{ port = 65535 } end), here()
      assert.matches("bad argument 'port' %(control port 0%.%.65534", err)
      at_line(err, line)
    end)

    it("one option of a group the C core names together ('interval')", function()
      local err = raised(function() rtpmidi.AppleMidiSession{ ck_interval = 500, rs_interval = -5 } end)
      assert.matches("bad argument 'rs_interval' %(milliseconds > 0 expected, got %-5%)$", err)
      err = raised(function() rtpmidi.AppleMidiSession{ timeout = -1 } end)
      assert.matches("bad argument 'timeout' %(seconds > 0 expected, got %-1%)$", err)
    end)

    it("what a C field cannot hold, checked by the binding", function()
      local err = raised(function() rtpmidi.RTPSession(rtp{ start_sequence = 65536 }) end)
      assert.matches("bad argument 'start_sequence' %(integer 0%.%.65535 expected, got 65536%)$", err)
      err = raised(function() rtpmidi.AppleMidiSession{ ssrc = -1 } end)
      assert.matches("bad argument 'ssrc' %(integer 1%.%.4294967295 expected, got %-1%)$", err)
      -- a port past what an int holds does not wrap into range
      err = raised(function() rtpmidi.RTPSession(rtp{ receiving_port = (1 << 32) + 5004 }) end)
      assert.matches("bad argument 'receiving_port'", err)
      err = raised(function() rtpmidi.MidiSession(rtp{ journal_history = -(1 << 32) + 5 }) end)
      assert.matches("bad argument 'journal_history'", err)
    end)

    it("a 0 the C API would read as its default", function()
      for k, set in pairs{ rtcp_interval = rtpmidi.RTPSession, clock_rate = rtpmidi.RTPSession,
                           journal_history = rtpmidi.MidiSession, max_sysex = rtpmidi.MidiSession } do
        local err = raised(function() set(rtp{ [k] = 0 }) end)
        assert.matches("bad argument '" .. k .. "' %(.* expected, got 0%)$", err)
      end
      local err = raised(function() rtpmidi.AppleMidiSession{ ck_fast_count = 0 } end)
      assert.matches("bad argument 'ck_fast_count' %(integer >= 1 expected, got 0%)$", err)
      err = raised(function() rtpmidi.MidiIn{ virtual = "x", queue_size = 0 } end)
      assert.matches("bad argument 'queue_size'", err)
    end)

    it("MidiIn and MidiOut: the C core says why", function()
      local err, line = raised(function() rtpmidi.MidiIn{ port = 0, virtual = "x" } end), here()
      assert.matches("bad argument 'virtual' %(give either port or virtual, not both%)$", err)
      at_line(err, line)
      err, line = raised(function() rtpmidi.MidiOut{ virtual = "x", latency = -1 } end), here()
      assert.matches("bad argument 'latency' %(milliseconds >= 0 expected, got %-1%)$", err)
      at_line(err, line)
      err = raised(function() rtpmidi.MidiIn{ port = 0, sysex = "yes" } end)
      assert.matches("bad argument 'sysex' %(boolean expected, got yes%)$", err)
    end)
  end)

  describe("the error points at the user's line", function()
    it("in the positional form", function()
      local err, line = raised(function() rtpmidi.RTPSession("127.0.0.1", 5004, 5006, 200) end), here()
      assert.matches("bad argument 'payload' %(RTP payload type 0%.%.127 expected, got 200%)$", err)
      at_line(err, line)
      err, line = raised(function() rtpmidi.MidiSession("127.0.0.1", 5004, 5006, -20) end), here()
      assert.matches("bad argument 'jitter_buffer_size' %(milliseconds 0%.%.60000 expected, got %-20%)$", err)
      at_line(err, line)
      err, line = raised(function() rtpmidi.RTPSession("127.0.0.1", 5004, 5006, 96, 10, "t", "extra") end), here()
      assert.matches("bad argument #7", err)
      at_line(err, line)
    end)

    it("in a subclass whose init calls the base init (class.lua's __call path)", function()
      local Stream = rtpmidi.RTPSession:extend()
      local init_line
      function Stream:init(peer, sport, rport)
        init_line = here(); rtpmidi.RTPSession.init(self, peer, sport, rport, 96, -5, "Stream")
      end
      local err = raised(function() Stream("127.0.0.1", 5004, 5006) end)
      assert.matches("bad argument 'jitter_buffer_size' %(milliseconds 0%.%.60000 expected, got %-5%)$", err)
      at_line(err, init_line)
      -- the table form from a subclass, and one more level of subclass
      local Tabled = Stream:extend()
      function Tabled:init(port)
        init_line = here(); rtpmidi.RTPSession.init(self, { peer_address = "127.0.0.1", sending_port = port, payload = 96, bogus = 1 })
      end
      err = raised(function() Tabled(5004) end)
      assert.matches("bad argument 'bogus' %(unknown option%)", err)
      at_line(err, init_line)
      -- a MidiSession subclass calling MidiSession.init
      local Ms = rtpmidi.MidiSession:extend()
      function Ms:init() init_line = here(); rtpmidi.MidiSession.init(self, rtp{ recovery = "yes" }) end
      err = raised(function() Ms() end)
      assert.matches("bad argument 'recovery' %(boolean expected, got yes%)", err)
      at_line(err, init_line)
    end)

    it("through pcall, and for checks made when the session is added", function()
      local ok, err = pcall(rtpmidi.AppleMidiSession, { journal_history = 40000 }); local line = here()
      assert.is_false(ok)
      assert.matches("bad argument 'journal_history' %(integer 1%.%.32767 %(packets%) expected, got 40000%)$", err)
      at_line(err, line)
      local s = rtpmidi.RTPSession(rtp{ incoming_rtp = "not a function" })
      err, line = raised(function() control:add_session(s) end), here()
      assert.matches("bad argument 'incoming_rtp' %(callback must be a function, got string%)$", err)
      at_line(err, line)
    end)
  end)

  describe("valid options still work", function()
    it("the defaults: ours in config, the C core's left out (and seen on the wire)", function()
      local sink = assert(core.udp("127.0.0.1", 0))
      local got
      sink:recv(function(data) got = got or data end)
      local s = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = sink:port() }
      assert.are.equal(10, s.config.jitter_buffer_size)
      assert.are.equal(20, s.config.latency)
      assert.is_true(s.config.recovery)
      assert.is_nil(s.config.payload)     -- the C core's 97
      assert.is_nil(s.config.clock_rate)  -- the C core's 10000
      assert(control:start_session(control:add_session(s)))
      assert(s:send_midi("\x90\x3c\x64"))
      H.run_until(function() return got end, "the packet")
      sink:close()
      local r = assert(rtpmidi.codec.decode_rtp(got))
      assert.are.equal(97, r.payload_type)
      local m = assert(rtpmidi.codec.decode_midi_payload(r.payload))
      assert.are.equal("\x90\x3c\x64", m.commands[1].bytes)
    end)

    it("every class, from the table and positional forms, callbacks included", function()
      local function cb() end
      local a = rtpmidi.RTPSession(rtp{ clock_rate = 48000, rtcp_interval = 0.5, timeout = 3, start_sequence = 0,
                                        cname = "me@here", jitter_buffer_packets = 16, incoming_rtp = cb })
      assert.are.equal(cb, a.incoming_rtp)
      assert.are.equal(48000, a.config.clock_rate)
      local b = rtpmidi.RTPSession("127.0.0.1", H.port(), H.port(), 0) -- payload type 0 is a real one
      assert.are.equal(0, b.config.payload)
      local c = rtpmidi.MidiSession("127.0.0.1", H.port(), H.port(), 15)
      assert.are.same({ 20, 15 }, { c.config.latency, c.config.jitter_buffer_size })
      local d = rtpmidi.AppleMidiSession{ name = "opts", port = H.port(), accept = { "127.0.0.1" },
                                          ck_interval = 500, timeout = 5, max_participants = 2,
                                          participant_joined = cb }
      assert.are.equal(cb, d.participant_joined)
      for _, s in ipairs{ a, b, c, d } do
        local cookie = control:add_session(s)
        assert.is_true(control:start_session(cookie))
      end
      assert.are.equal(d.config.port, d:local_port())
      -- a port that cannot open is a failure at run time, not misuse: nil, message
      local ok, port = pcall(rtpmidi.MidiOut, { api = "jack", virtual = "options spec", latency = 5, realtime = false })
      assert.is_true(ok, port)
      if port then port:close() end
    end)
  end)

  describe("the option tables", function()
    it("suggest only close names", function()
      assert.are.equal("receiving_port", options.suggest("recieving_port", { "sending_port", "receiving_port" }))
      assert.are.equal("port", options.suggest("prot", { "port", "api" }))
      assert.is_nil(options.suggest("colour", { "port", "accept", "name" }))
      assert.are.equal(1, options.distance("ab", "ba"))
      assert.are.equal(3, options.distance("kitten", "sitting"))
    end)

    it("leave C defaults to C and document every option", function()
      local doc = assert(io.open((os.getenv("RTPMIDI_SOURCE_DIR") or ".") .. "/docs/api.md")):read("a")
      for _, class in ipairs{ "RTPSession", "MidiSession", "AppleMidiSession", "MidiIn", "MidiOut" } do
        local set = options[class]
        assert.are.equal(set, rtpmidi[class].OPTIONS)
        for _, o in ipairs(set.list) do
          assert.is_truthy(doc:find("`" .. o.name .. "`", 1, true), class .. "." .. o.name .. " is not in docs/api.md")
          assert.is_truthy(o.expect, o.name)
          -- a default here is for an option the C API has none for: never
          -- one whose 0 means "the C default"
          assert.is_false(o.default ~= nil and o.nonzero == true, o.name)
        end
      end
    end)
  end)
end)
