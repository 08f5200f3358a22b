local rtpmidi = require "rtpmidi"
local H = require "helper"

describe("the rtpmidi module", function()
  after_each(H.assert_clean)

  it("has one RTPControl", function()
    assert.are.equal(rtpmidi.RTPControl(), rtpmidi.RTPControl())
  end)

  it("publishes the CMake project version", function()
    local f = assert(io.open((os.getenv("RTPMIDI_SOURCE_DIR") or ".") .. "/CMakeLists.txt"))
    local version = f:read("a"):match("project%(rtpmidi VERSION ([%d%.]+)")
    f:close()
    assert.is_string(version)
    assert.are.equal(version, rtpmidi._VERSION)
    assert.are.equal(version, require("rtpmidi.core")._VERSION)
  end)

  it("has a monotonic clock with sub-millisecond resolution", function()
    local last, smallest = rtpmidi.now(), math.huge
    for _ = 1, 10000 do
      local t = rtpmidi.now()
      assert(t >= last, "clock went backwards")
      if t > last then smallest = math.min(smallest, t - last) end
      last = t
    end
    -- the smallest step seen between two readings is far below a millisecond
    assert.is_true(smallest < 0.01, ("smallest step %.6f ms"):format(smallest))
  end)

  it("runs after and every timers on the loop, and cancels them", function()
    local t0 = rtpmidi.now()
    local order, ticks = {}, 0
    local at
    rtpmidi.after(20, function() order[#order + 1] = "after20"; at = rtpmidi.now() end)
    rtpmidi.after(5, function() order[#order + 1] = "after5" end)
    local cancelled = rtpmidi.after(10, function() order[#order + 1] = "cancelled" end)
    cancelled:cancel()
    cancelled:cancel() -- harmless twice
    assert.is_false(cancelled:active())
    local every = rtpmidi.every(2, function(h)
      ticks = ticks + 1
      if ticks == 5 then h:cancel() end
    end)
    H.run_until(function() return at and ticks >= 5 end, "timers")
    assert.are.same({ "after5", "after20" }, order)
    assert.is_true(at - t0 >= 20, "after(20) fired early: " .. (at - t0))
    assert.are.equal(5, ticks)
    assert.is_false(every:active())
    H.run_for(10)
    assert.are.equal(5, ticks)
  end)

  it("RTPControl:run returns after stop()", function()
    local control = rtpmidi.RTPControl()
    local p = H.port()
    local c = control:add_session(rtpmidi.RTPSession{ peer_address = "127.0.0.1", receiving_port = p, payload = 96 })
    assert(control:start_session(c))
    local stopped_at
    local watchdog = rtpmidi.after(5000, function() error("control:run() did not return") end)
    rtpmidi.after(10, function() stopped_at = rtpmidi.now(); control:stop() end)
    control:run()
    watchdog:cancel()
    assert.is_number(stopped_at)
    assert.is_false(control:get_session(c):is_started())
  end)
end)
