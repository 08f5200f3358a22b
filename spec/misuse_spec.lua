local rtpmidi = require "rtpmidi"
local H = require "helper"

describe("misuse and run-time failures", function()
  local control = rtpmidi.RTPControl()
  after_each(H.assert_clean)

  local function session(over)
    local t = { peer_address = "127.0.0.1", sending_port = H.port(), receiving_port = H.port(), payload = 96 }
    for k, v in pairs(over) do t[k] = v end
    return rtpmidi.RTPSession(t)
  end

  it("raises naming the argument", function()
    assert.has_error(function() rtpmidi.RTPSession{ peer_address = "127.0.0.1", payload = 96 } end,
      "bad argument 'sending_port' (a session needs a sending_port, a receiving_port or both)")
    assert.error_matches(function() session{ sending_port = 0, receiving_port = 0 } end, "'sending_port'")
    assert.error_matches(function() session{ sending_port = false } end, "bad argument 'sending_port'")
    assert.error_matches(function() session{ payload = 128 } end, "bad argument 'payload'")
    assert.error_matches(function() session{ payload = -1 } end, "bad argument 'payload'")
    assert.error_matches(function() session{ payload = 96.5 } end, "bad argument 'payload'")
    assert.error_matches(function() session{ peer_address = false } end, "bad argument 'peer_address'")
    assert.error_matches(function() rtpmidi.RTPSession(nil, 5004, 5004, 96) end, "bad argument 'peer_address'")
    assert.error_matches(function() session{ receiving_port = 70000 } end, "bad argument 'receiving_port'")
    assert.error_matches(function() session{ jitter_buffer_size = -1 } end, "bad argument 'jitter_buffer_size'")
    assert.error_matches(function() session{ tool_name = 5 } end, "bad argument 'tool_name'")
    local s = session{ incoming_rtp = "not a function" }
    assert.error_matches(function() control:add_session(s) end, "bad argument 'incoming_rtp'")
    local s2 = session{}
    s2.drop_call = 42
    assert.error_matches(function() control:add_session(s2) end, "bad argument 'drop_call'")
    assert.error_matches(function() control:add_session("x") end, "bad argument 'session'")
    assert.error_matches(function() control:start_session(12345) end, "bad argument 'cookie'")
    local ok_s = session{}
    local c = control:add_session(ok_s)
    assert(control:start_session(c))
    assert.error_matches(function() ok_s:send_data(5) end, "bad argument 'data'")
    assert.error_matches(function() ok_s:send_data("x", 1.5) end, "bad argument 'timestamp'")
    assert.error_matches(function() rtpmidi.after("soon", print) end, "bad argument 'ms'")
    assert.error_matches(function() rtpmidi.after(1, nil) end, "bad argument 'fn'")
    assert.error_matches(function() rtpmidi.every(0, print) end, "bad argument 'ms'")
  end)

  it("returns nil and 'address already in use' for a busy port; the others go on", function()
    local busy, other, peer = H.port(), H.port(), H.port()
    local first = session{ receiving_port = busy }
    local clash = session{ receiving_port = busy }
    local got
    local good = session{ receiving_port = other, sending_port = peer }
    local listener = session{ receiving_port = peer, sending_port = other,
      incoming_rtp = function(_, _, _, p) got = p end }
    local c1, c2 = control:add_session(first), control:add_session(clash)
    local c3, c4 = control:add_session(good), control:add_session(listener)
    assert.is_true(control:start_session(c1))
    local ok, err, code = control:start_session(c2)
    assert.is_nil(ok)
    assert.matches("address already in use", err)
    assert.are.equal("EADDRINUSE", code)
    assert.is_false(clash:is_started())
    assert.is_true(control:start_session(c3))
    assert.is_true(control:start_session(c4))
    assert(good:send_data("still here", 1))
    H.run_until(function() return got end, "a packet on the other sessions")
    assert.are.equal("still here", got)
    -- start() reports the failure and starts the rest
    control:stop()
    local all_ok, all_err = control:start()
    assert.is_nil(all_ok)
    assert.matches("address already in use", all_err)
    assert.is_true(first:is_started() and good:is_started() and listener:is_started())
  end)

  it("reports an error in incoming_rtp with a traceback and keeps delivering", function()
    local p1, p2 = H.port(), H.port()
    local seen = {}
    local tx = session{ receiving_port = p1, sending_port = p2 }
    local rx = session{ receiving_port = p2, sending_port = p1,
      incoming_rtp = function(_, _, _, packet)
        seen[#seen + 1] = packet
        if packet == "boom" then error("exploded on purpose") end
      end }
    control:add_session(tx); control:add_session(rx)
    assert(control:start())
    local errors = H.capture_errors(function()
      for _, p in ipairs{ "one", "boom", "three", "four" } do assert(tx:send_data(p, 0)) end
      H.run_until(function() return #seen == 4 end, "four packets")
    end)
    assert.are.same({ "one", "boom", "three", "four" }, seen)
    assert.are.equal(1, #errors)
    assert.matches("exploded on purpose", errors[1])
    assert.matches("stack traceback", errors[1])
    assert.matches("misuse_spec.lua", errors[1])
  end)

  it("returns a start callback's error from start_session, and reports a timer's", function()
    local s = session{ start = function() error("start failed") end }
    local c = control:add_session(s)
    local fired = false
    local ok, err, code
    local errors = H.capture_errors(function()
      ok, err, code = control:start_session(c)
      rtpmidi.after(1, function() error("timer failed") end)
      rtpmidi.after(2, function() fired = true end)
      H.run_until(function() return fired end, "the second timer")
    end)
    assert.is_nil(ok)
    assert.matches("start failed", err)
    assert.are.equal("ECALLBACK", code)
    assert.are.equal(1, #errors)
    assert.matches("timer failed", errors[1])
  end)
end)
