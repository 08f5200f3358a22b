-- Lua-side abuse: sessions removed, stopped, re-added from inside their own
-- callbacks, errors in every kind of callback, timers cancelled inside
-- themselves, a live reload from inside the route it replaces, sessions
-- freed with messages still queued, and garbage collection of sessions
-- nobody holds while the loop runs. Nothing may crash, and after cleanup no
-- uv handle may be left (leaks are valgrind's: cmake/tests.cmake).
local rtpmidi = require "rtpmidi"
local core = require "rtpmidi.core"
local Live = require "rtpmidi.live"
local H = require "helper"

local control = rtpmidi.RTPControl()

local function add(s)
  control:add_session(s)
  return s
end

-- Two MidiSessions on loopback: A sends to B. extra: B's options/callbacks.
local function midi_pair(extra, extra_a)
  local pa, pb = H.port(), H.port()
  local ta = { peer_address = "127.0.0.1", sending_port = pb, receiving_port = pa }
  for k, v in pairs(extra_a or {}) do ta[k] = v end
  local tb = { peer_address = "127.0.0.1", sending_port = pa, receiving_port = pb }
  for k, v in pairs(extra or {}) do tb[k] = v end
  local a, b = add(rtpmidi.MidiSession(ta)), add(rtpmidi.MidiSession(tb))
  assert(control:start_session(b.cookie))
  assert(control:start_session(a.cookie))
  return a, b
end

local function notes(n, base)
  local t = {}
  for i = 1, n do t[i] = string.char(0x90, (base or 0) + i % 128, 100) end
  return table.concat(t)
end

describe("Lua-side abuse", function()
  local timers, extra_cleanup = {}, {}
  after_each(function()
    for _, t in ipairs(timers) do t:cancel() end
    for _, f in ipairs(extra_cleanup) do f() end
    timers, extra_cleanup = {}, {}
    H.assert_clean()
  end)
  local function every(ms, fn)
    local t = rtpmidi.every(ms, fn)
    timers[#timers + 1] = t
    return t
  end

  it("removes a session from inside its own incoming_rtp, incoming_midi and drop_call", function()
    -- incoming_rtp: a burst of packets, the first callback removes the session
    local pa, pb = H.port(), H.port()
    local calls = 0
    local a = add(rtpmidi.RTPSession{ peer_address = "127.0.0.1", sending_port = pb, receiving_port = pa, payload = 96 })
    local b = add(rtpmidi.RTPSession{ peer_address = "127.0.0.1", sending_port = pa, receiving_port = pb, payload = 96,
      jitter_buffer_size = 50,
      incoming_rtp = function(self)
        calls = calls + 1
        control:remove_session(self.cookie)
      end })
    assert(control:start())
    -- out of order, so that packets wait in the jitter buffer when it goes
    for i = 1, 20 do assert(a:send_data(("%d"):format(i))) end
    H.run_until(function() return calls > 0 end, "incoming_rtp")
    H.run_for(80)
    assert.are.equal(1, calls)
    assert.is_nil(b._core)
    assert.is_false(b:is_started())

    -- incoming_midi: ten messages in one packet, removed at the first
    local got = 0
    local a2, b2
    a2, b2 = midi_pair{ incoming_midi = function(self)
      got = got + 1
      control:remove_session(self.cookie)
    end }
    assert(a2:send_midi(notes(10)))
    H.run_until(function() return got > 0 end, "incoming_midi")
    H.run_for(50)
    assert.are.equal(1, got)
    assert.is_nil(b2._core)

    -- drop_call: the peer says BYE, the session removes itself there
    local drops = {}
    local a3, b3 = midi_pair{ drop_call = function(self, cookie, reason)
      drops[#drops + 1] = reason
      assert.are.equal(self.cookie, cookie)
      control:remove_session(cookie)
    end }
    assert(a3:send_midi("\x90\x3c\x40"))
    H.run_until(function() return b3:stats().messages_received == 1 end, "a message")
    control:stop_session(a3.cookie)
    H.run_until(function() return #drops == 1 end, "drop_call")
    assert.are.same({ "bye" }, drops)
    assert.is_nil(b3._core)
  end)

  it("control:stop() from inside a callback stops every session and makes run() return", function()
    local got = 0
    local a, b = midi_pair{ incoming_midi = function()
      got = got + 1
      if got == 3 then control:stop() end
    end }
    local fired = false
    local watchdog = rtpmidi.after(5000, function() fired = true; control:stop() end)
    local sender = every(5, function() a:send_midi("\x90\x3c\x40") end)
    control:run()
    watchdog:cancel()
    sender:cancel()
    assert.is_false(fired)
    assert.are.equal(3, got)
    assert.is_false(a:is_started())
    assert.is_false(b:is_started())
    -- and they start again
    assert(control:start())
    assert.is_true(b:is_started())
  end)

  it("removes, re-adds and restarts a session from inside its callback, and it goes on receiving", function()
    local got, cookies = {}, {}
    local a
    a = midi_pair({ incoming_midi = function(self, m)
      got[#got + 1] = m:byte(2)
      if #got == 5 then
        local old = self.cookie
        control:remove_session(old)
        local c = control:add_session(self)
        assert(control:start_session(c))
        cookies[#cookies + 1] = { old, c }
      end
    end }, { jitter_buffer_size = 0 })
    local n = 0
    every(3, function()
      if n < 40 then n = n + 1; a:send_midi(string.char(0x90, n, 64)) end
    end)
    H.run_until(function() return #got >= 30 end, "messages after the restart")
    assert.are.equal(1, #cookies)
    assert.are_not.equal(cookies[1][1], cookies[1][2])
    -- in order; at most what was in flight while it was gone is missing
    for i = 2, #got do assert.is_true(got[i] > got[i - 1]) end
  end)

  it("reports errors from every kind of callback through rtpmidi.on_error, and the loop goes on", function()
    local errors = H.capture_errors(function(errors)
      -- RTP session: start, incoming_rtp, stop
      local pa, pb = H.port(), H.port()
      local ok_rtp = 0
      local a = add(rtpmidi.RTPSession{ peer_address = "127.0.0.1", sending_port = pb, receiving_port = pa, payload = 96,
        start = function() error("boom in start") end })
      local b = add(rtpmidi.RTPSession{ peer_address = "127.0.0.1", sending_port = pa, receiving_port = pb, payload = 96,
        incoming_rtp = function(_, _, _, p)
          if p == "bad" then error("boom in incoming_rtp") end
          ok_rtp = ok_rtp + 1
        end,
        stop = function() error("boom in stop") end,
        drop_call = function() error("boom in drop_call") end })
      -- a start callback's error is start_session's result, not a report
      local sok, serr, scode = control:start()
      assert.is_nil(sok)
      assert.matches("boom in start", serr, 1, true)
      assert.are.equal("ECALLBACK", scode)
      a.start = nil
      assert(control:start())
      assert(a:send_data("bad"))
      assert(a:send_data("good"))
      H.run_until(function() return ok_rtp == 1 end, "the packet after the failing one")
      control:stop_session(a.cookie)  -- B: drop_call("bye") fails
      H.run_until(function() return table.concat(errors):find("boom in drop_call", 1, true) end, "the drop_call error")
      control:stop_session(b.cookie)  -- B: stop fails
      -- MidiSession: incoming_midi
      local got = 0
      local ma = midi_pair{ incoming_midi = function(_, m)
        got = got + 1
        if m:byte(2) % 2 == 0 then error("boom in incoming_midi") end
      end }
      assert(ma:send_midi(notes(10)))
      H.run_until(function() return got == 10 end, "every message despite the errors")
      -- timers: once and repeating (which keeps repeating)
      local ticks = 0
      rtpmidi.after(1, function() error("boom in after") end)
      local failing = every(2, function() ticks = ticks + 1; error("boom in every") end)
      H.run_until(function() return ticks >= 3 end, "a failing timer repeating")
      failing:cancel()
      -- raw UDP receive callback
      local u = assert(core.udp("127.0.0.1", 0))
      extra_cleanup[#extra_cleanup + 1] = function() u:close() end
      local seen = 0
      u:recv(function() seen = seen + 1; error("boom in udp") end)
      for _ = 1, 2 do assert(u:send("x", "127.0.0.1", u:port())) end
      H.run_until(function() return seen == 2 end, "two datagrams")
      -- AppleMidiSession: joined, synced, midi, left, invitation_failed
      local FAST = { invite_interval = 30, invite_tries = 2, ck_fast_interval = 50 }
      local function apple(t)
        t.port = H.port()
        for k, v in pairs(FAST) do t[k] = v end
        local s = add(rtpmidi.AppleMidiSession(t))
        assert(control:start_session(s.cookie))
        return s
      end
      local seen_apple = {}
      local function boom(name)
        return function() seen_apple[name] = true; error("boom in " .. name) end
      end
      local x = apple{ participant_joined = boom("participant_joined"), participant_synced = boom("participant_synced"),
                       invitation_failed = boom("invitation_failed") }
      local y = apple{ incoming_midi = boom("incoming_midi"), participant_left = boom("participant_left") }
      assert(x:invite("127.0.0.1", y.config.port))
      assert(x:invite("127.0.0.1", H.port())) -- nobody there
      H.run_until(function() return seen_apple.participant_joined and seen_apple.participant_synced end, "joined and synced")
      assert(x:send_midi("\x90\x3c\x40"))
      H.run_until(function() return seen_apple.incoming_midi and seen_apple.invitation_failed end,
                  "apple incoming_midi and invitation_failed")
      control:stop_session(x.cookie)
      H.run_until(function() return seen_apple.participant_left end, "participant_left")
    end)
    local want = { "incoming_rtp", "drop_call", "stop", "incoming_midi", "after", "every", "udp",
                   "participant_joined", "participant_synced", "incoming_midi", "participant_left", "invitation_failed" }
    local all = table.concat(errors, "\n")
    for _, w in ipairs(want) do assert.matches("boom in " .. w, all, 1, true) end
    -- each with its traceback
    assert.matches("stack traceback", errors[1], 1, true)
    -- an on_error that fails itself does not take the loop down either
    local saved = rtpmidi.on_error
    rtpmidi.on_error = function() error("the handler fails too") end
    local after = false
    rtpmidi.after(1, function() error("boom") end)
    rtpmidi.after(3, function() after = true end)
    H.run_until(function() return after end, "a timer after the failing handler")
    rtpmidi.on_error = saved
  end)

  it("cancels timers from inside themselves, once and repeating, twice", function()
    local once, rep, other = 0, 0, 0
    local t1
    t1 = rtpmidi.after(1, function(h)
      once = once + 1
      h:cancel(); h:cancel(); t1:cancel()
    end)
    rtpmidi.every(1, function(h)
      rep = rep + 1
      if rep == 3 then h:cancel(); h:cancel() end
    end)
    -- a timer that cancels another one due in the same loop turn
    local victim = rtpmidi.after(5, function() other = other + 100 end)
    rtpmidi.after(5, function() other = other + 1; victim:cancel() end)
    H.run_for(60)
    assert.are.equal(1, once)
    assert.are.equal(3, rep)
    assert.is_true(other == 1 or other == 101)
    assert.is_false(t1:active())
  end)

  it("reloads a live script from inside the route it replaces, during traffic", function()
    local path = os.tmpname()
    extra_cleanup[#extra_cleanup + 1] = function() os.remove(path) end
    local p_script, p_test = H.port(), H.port()
    local SCRIPT = [[
local control = rtpmidi.RTPControl()
local net = keep("net", function()
  local s = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = %d, receiving_port = %d }
  assert(control:start_session(control:add_session(s)))
  return s
end)
local n = 0
net.incoming_midi = function(self, m)
  n = n + 1
  self:send_midi(string.char(0x90, %d, 64))
  if n == 10 and RELOAD and self.version_tag ~= 2 then RELOAD() end
end
rtpmidi.every(5, function() end)
]]
    local function write(v)
      local f = assert(io.open(path, "wb"))
      f:write(SCRIPT:format(p_test, p_script, v) .. ("net.version_tag = %d\n"):format(v))
      f:close()
    end
    write(1)
    local live = Live.new(path, { log = function() end })
    extra_cleanup[#extra_cleanup + 1] = function() live:stop() end
    _G.RELOAD = function() write(2); assert(live:reload()) end
    extra_cleanup[#extra_cleanup + 1] = function() _G.RELOAD = nil end
    assert(live:load())
    local echoes = {}
    local tester = add(rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = p_script, receiving_port = p_test,
      incoming_midi = function(_, m) echoes[#echoes + 1] = m:byte(2) end })
    assert(control:start_session(tester.cookie))
    local sent = 0
    every(2, function()
      if sent < 40 and sent - #echoes < 8 then sent = sent + 1; tester:send_midi("\x90\x3c\x64") end
    end)
    H.run_until(function() return #echoes == 40 end, "40 echoes")
    assert.are.equal(1, echoes[1])
    assert.are.equal(2, echoes[40])
    assert.are.equal(2, live.version)
    live:stop()
  end)

  it("frees a MidiSession whose send queue is full, through remove_session and through __gc", function()
    local a, b = midi_pair({}, {})
    -- thousands of messages and a long SysEx queued in this loop turn ...
    for _ = 1, 50 do assert(a:send_midi(notes(100))) end
    assert(a:send_midi("\xf0" .. ("\x11"):rep(20000) .. "\xf7"))
    -- ... and the session goes before the turn ends
    control:remove_session(a.cookie)
    assert.is_nil(a._core)
    -- (stopping flushes what was queued)
    H.run_until(function() return b:stats().messages_received == 5001 end, "the flushed queue")
    -- the same with a core session nobody holds any more
    local c = core.midi_session{ peer_address = "127.0.0.1", sending_port = b:local_port(), receiving_port = H.port(),
                                 payload = 97 }
    assert(c:start({}, 12345))
    for _ = 1, 20 do assert(c:send_midi(notes(100))) end
    c = nil -- luacheck: ignore
    collectgarbage("collect")
    collectgarbage("collect")
    H.run_for(30)
  end)

  it("collects sessions nobody holds while the loop runs and traffic flows", function()
    local a, b = midi_pair()
    local n, sent = 0, 0
    b.incoming_midi = function() n = n + 1 end
    every(1, function()
      if sent < 200 then sent = sent + 1; a:send_midi("\x90\x3c\x40") end
    end)
    local ports = {}
    for i = 1, 20 do
      -- started core sessions (an RTP one, a MIDI one, an AppleMIDI one) whose
      -- only reference goes away at once
      local p = H.port()
      ports[#ports + 1] = p
      local kind = i % 3
      local s
      if kind == 0 then
        s = core.session{ peer_address = "127.0.0.1", sending_port = p, receiving_port = p, payload = 96 }
      elseif kind == 1 then
        s = core.midi_session{ peer_address = "127.0.0.1", sending_port = p, receiving_port = p, payload = 97 }
      else
        s = core.applemidi{ name = "gc", port = p }
      end
      assert(s:start({ incoming_rtp = function() end }, 1000 + i))
      if kind == 1 then s:send_midi("\x90\x3c\x40") end
      s = nil -- luacheck: ignore
      if i % 5 == 0 then collectgarbage("collect") end
      H.run_for(2)
    end
    collectgarbage("collect")
    collectgarbage("collect")
    -- packets to where they were go nowhere, and the registered pair goes on
    local u = assert(core.udp("127.0.0.1", 0))
    extra_cleanup[#extra_cleanup + 1] = function() u:close() end
    for _, p in ipairs(ports) do u:send("\x80\x61\0\1\0\0\0\1\0\0\0\1\0", "127.0.0.1", p) end
    H.run_until(function() return n == 200 end, "the registered pair's 200 messages")
    assert.are.equal(200, b:stats().messages_received)
  end)
end)
