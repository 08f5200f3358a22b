local rtpmidi = require "rtpmidi"
local H = require "helper"

describe("Tempo", function()
  after_each(H.assert_clean)

  it("calls jobs on the beat grid and sends 24 clocks a beat without drifting", function()
    local clock = rtpmidi.Tempo{ bpm = 600 } -- a beat every 100 ms
    local sent, beats = {}, {}
    clock:send_clock(function(b) sent[#sent + 1] = { b, rtpmidi.now() } end)
    clock:every(1, function(beat) beats[#beats + 1] = { beat, rtpmidi.now() } end)
    clock:start()
    local t0 = clock.anchor_time
    H.run_until(function() return #beats >= 5 end, "five beats", 5000)
    clock:stop()
    assert.are.equal("\xFA", sent[1][1])
    assert.are.equal("\xFC", sent[#sent][1])
    local clocks = 0
    for _, s in ipairs(sent) do if s[1] == "\xF8" then clocks = clocks + 1 end end
    -- beats 0..4 played: 4 beats of 24 ticks, plus the tick on beat 4 itself
    assert.is_true(clocks >= 4 * 24 + 1, "clocks: " .. clocks)
    for i, b in ipairs(beats) do
      assert.are.equal(i - 1, b[1])
      local late = b[2] - (t0 + (i - 1) * 100)
      assert.is_true(late >= 0 and late < 50, ("beat %d late by %.2f ms"):format(i - 1, late))
    end
  end)

  it("changes tempo while running, keeping the position", function()
    local clock = rtpmidi.Tempo{ bpm = 600 }
    local beats = {}
    clock:every(1, function(beat) beats[#beats + 1] = { beat, rtpmidi.now() } end)
    clock:start()
    H.run_until(function() return #beats >= 2 end, "two beats")
    clock:set_bpm(1200) -- 50 ms a beat from here
    H.run_until(function() return #beats >= 5 end, "three more beats")
    clock:stop()
    local gap = beats[5][2] - beats[4][2]
    assert.is_true(gap > 40 and gap < 60, "gap " .. gap)
    assert.are.same({ 0, 1, 2, 3, 4 }, { beats[1][1], beats[2][1], beats[3][1], beats[4][1], beats[5][1] })
    local bar, in_bar = clock:bar()
    assert.are.equal(1, bar)
    assert.is_true(in_bar >= 0 and in_bar < 1)
  end)

  it("follows a peer's clock", function()
    local clock = rtpmidi.Tempo{ bpm = 60 }
    assert.is_true(clock:follow("\xFA", 0))
    for i = 0, 48 do clock:follow("\xF8", 1000 + i * 20.8333333) end -- 120 BPM
    assert.is_true(math.abs(clock.bpm - 120) < 0.01, "bpm " .. clock.bpm)
    assert.is_true(clock.running)
    assert.is_true(clock:follow("\xFC"))
    assert.is_false(clock.running)
    assert.is_false(clock:follow("\x90\x3c\x64"))
    assert.error_matches(function() clock:set_bpm(0) end, "bad argument 'bpm'")
    assert.error_matches(function() rtpmidi.Tempo{ beats_per_bar = 0 } end, "bad argument 'beats_per_bar'")
  end)
end)
