-- The lean callback path (issue 20): what the shortcuts must not change.
-- The binding pushes the message handler under the method, finds callback
-- names by an interned key and self by a tag in the userdata; the method is
-- still looked up on every call, so a script that redefines it (live
-- coding) gets the new one at once; an error is reported with its traceback
-- and the next packet still arrives; sends make nothing on the Lua heap.
local rtpmidi = require "rtpmidi"
local H = require "helper"

describe("the lean callback path", function()
  local control = rtpmidi.RTPControl()
  after_each(H.assert_clean)

  local function pair(on_b)
    local pa, pb = H.port(), H.port()
    local a = rtpmidi.RTPSession{ peer_address = "127.0.0.1", sending_port = pb, receiving_port = pa, payload = 96 }
    local b = rtpmidi.RTPSession{ peer_address = "127.0.0.1", sending_port = pa, receiving_port = pb, payload = 96,
                                  incoming_rtp = on_b }
    assert.is_true(control:start_session(control:add_session(a)))
    assert.is_true(control:start_session(control:add_session(b)))
    return a, b
  end

  it("calls a callback redefined on the object or on its class from the next packet on", function()
    local Kind = rtpmidi.RTPSession:extend()
    local seen = {}
    function Kind:incoming_rtp(_, ts) seen[#seen + 1] = "class 1:" .. ts end
    local pa, pb = H.port(), H.port()
    local a = rtpmidi.RTPSession{ peer_address = "127.0.0.1", sending_port = pb, receiving_port = pa, payload = 96 }
    local b = Kind{ peer_address = "127.0.0.1", sending_port = pa, receiving_port = pb, payload = 96 }
    assert.is_true(control:start_session(control:add_session(a)))
    assert.is_true(control:start_session(control:add_session(b)))
    local function one(ts)
      local n = #seen
      assert(a:send_data("x", ts))
      H.run_until(function() return #seen > n end, "packet " .. ts, 5000)
    end
    one(1)
    b.incoming_rtp = function(_, _, ts) seen[#seen + 1] = "object:" .. ts end
    one(2)
    b.incoming_rtp = nil                       -- the class's again
    one(3)
    function Kind:incoming_rtp(_, ts) seen[#seen + 1] = "class 2:" .. ts end
    one(4)
    assert.are.same({ "class 1:1", "object:2", "class 1:3", "class 2:4" }, seen)
  end)

  it("reports a callback's error with its traceback, and the next packet arrives", function()
    local got = {}
    local a
    local errors = H.capture_errors(function()
      a = pair(function(_, _, ts)
        got[#got + 1] = ts
        if ts == 1 then error("boom at one") end
      end)
      assert(a:send_data("x", 1))
      H.run_until(function() return #got == 1 end, "the first packet", 5000)
      assert(a:send_data("x", 2))
      H.run_until(function() return #got == 2 end, "the packet after the error", 5000)
    end)
    assert.are.same({ 1, 2 }, got)
    assert.are.equal(1, #errors)
    assert.matches("boom at one", errors[1], 1, true)
    assert.matches("stack traceback", errors[1], 1, true)
  end)

  it("refuses a method called on something else, naming the class", function()
    local a = pair()
    local core_session = a._core
    local send = core_session.send
    assert.has_error(function() send({}, "x") end)
    assert.has_error(function() send(io.stdout, "x") end)  -- a full userdata of another kind
    local ok, err = pcall(send, {}, "x")
    assert.is_false(ok)
    assert.matches("rtpmidi.Session", err, 1, true)
  end)

  it("sends with send_data and send_midi without making anything on the Lua heap", function()
    local a = pair(function() end)
    local pm, pn = H.port(), H.port()
    local m = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = pn, receiving_port = pm }
    local n = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = pm, receiving_port = pn }
    assert.is_true(control:start_session(control:add_session(m)))
    assert.is_true(control:start_session(control:add_session(n)))
    local note = "\x90\x3c\x64"
    -- warm: whatever a first call makes once (a key, a cache) is made now
    for _ = 1, 10 do assert(a:send_data("x")); assert(m:send_midi(note)); m:flush() end
    collectgarbage("collect")
    collectgarbage("stop")
    local before = collectgarbage("count")
    for i = 1, 500 do
      assert(a:send_data("x", i))
      assert(m:send_midi(note))
      m:flush()
    end
    local grown = (collectgarbage("count") - before) * 1024
    collectgarbage("restart")
    -- a table a call would be 56 octets or more: 28 KiB for 500
    assert.is_true(grown < 512, ("the Lua heap grew by %d octets over 500 sends"):format(grown))
  end)
end)
