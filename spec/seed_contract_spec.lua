-- The original guide's contract (how-to-use-rtp.txt, #19): its positional
-- MidiSession(peer_address, sending_port, receiving_port, jitter_buffer_size)
-- means what it says; get_session() with something that is not a cookie
-- raises (the guide's own example passes the session); a start callback
-- that raises makes start_session return nil, err and leaves the session
-- stopped.
local rtpmidi = require "rtpmidi"
local H = require "helper"

describe("the original guide's contract", function()
  local control = rtpmidi.RTPControl()
  after_each(function()
    H.cleanup()
    H.assert_clean()
  end)

  it("MidiSession(peer, sending_port, receiving_port, jitter_buffer_size) streams with that jitter buffer", function()
    local pa, pb = H.port(), H.port()
    local a = rtpmidi.MidiSession("127.0.0.1", pb, pa, 25)
    local got = {}
    local b = rtpmidi.MidiSession("127.0.0.1", pa, pb)
    function b:incoming_midi(m) got[#got + 1] = m end
    assert.are.equal(25, a.config.jitter_buffer_size)
    assert.are.equal(10, b.config.jitter_buffer_size)    -- the guide's default
    assert.are.equal(20, a:get_latency())                 -- not the 4th argument
    assert(control:start_session(control:add_session(a)))
    assert(control:start_session(control:add_session(b)))
    assert(a:send_midi("\x90\x3c\x64"))
    H.run_until(function() return #got == 1 end, "the note")
    assert.are.equal("\x90\x3c\x64", got[1])
  end)

  it("get_session raises for what is not a cookie, and says so for the session itself", function()
    local s = rtpmidi.MidiSession("127.0.0.1", H.port(), H.port())
    local cookie = control:add_session(s)
    assert.are.equal(s, control:get_session(cookie))
    assert.error_matches(function() control:get_session(s) end,
      "bad argument 'cookie' %(a cookie from add_session expected, got the session itself: pass the cookie")
    assert.error_matches(function() control:get_session("1") end,
      "bad argument 'cookie' %(a cookie from add_session expected, got string%)")
    assert.error_matches(function() control:get_session(nil) end, "got nil")
    assert.error_matches(function() control:get_session(1.5) end, "got number")
    control:remove_session(cookie)
    assert.is_nil(control:get_session(cookie))            -- a cookie no longer registered
  end)

  it("a start callback that raises: start_session returns nil, err and the session stays stopped", function()
    local reported = {}
    local saved = rtpmidi.on_error
    rtpmidi.on_error = function(m) reported[#reported + 1] = m end
    local s = rtpmidi.MidiSession("127.0.0.1", H.port(), H.port())
    function s:start() error("no MIDI device") end
    local cookie = control:add_session(s)
    local ok, err, code = control:start_session(cookie)
    rtpmidi.on_error = saved
    assert.is_nil(ok)
    assert.matches("^start callback failed: .*seed_contract_spec.lua:%d+: no MIDI device$", err)
    assert.are.equal("ECALLBACK", code)
    assert.is_false(s:is_started())
    assert.are.same({}, reported)                          -- returned, not reported as well
    -- control:start() gives the same first error
    local ok2, err2 = control:start()
    assert.is_nil(ok2)
    assert.matches("no MIDI device", err2)
    -- once the callback works, the session starts
    function s:start() self.began = true end
    assert.is_true(control:start_session(cookie))
    assert.is_true(s.began and s:is_started())
  end)
end)
