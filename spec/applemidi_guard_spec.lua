-- AppleMidiSession guard packets after the last MIDI packet to a
-- participant (the guard policy of csrc/proto/midi_stream.h, g =
-- guard_interval): five open-loop ones, at g, 3g, 7g, 15g and 31g after it,
-- then, for a participant that sends RS (receiver feedback) and whose last
-- RS does not cover that packet, one a second, at most 30. Without them,
-- the loss of the last packet and of its open-loop guards, with nothing sent
-- after it, is never repaired (a stuck note).
--
-- The fault injector (spec/fault_injector.lua) relays RTP sessions (RTP on
-- P, RTCP on P+1, one way each); AppleMIDI answers on the port an invitation
-- came from, so this spec uses the two-way relay H.apple_relay
-- (spec/helper.lua): A invites the relay, the relay speaks to B from
-- sockets of its own, and loses the next `drop_next` RTP packets from A.
local rtpmidi = require "rtpmidi"
local H = require "helper"

local control = rtpmidi.RTPControl()

local FAST = { invite_interval = 50, ck_fast_interval = 100, ck_interval = 300 }

local function session(opts) return H.apple(control, FAST, opts) end

describe("AppleMidiSession guard packets", function()
  local rel
  after_each(function()
    if rel then rel:close(); rel = nil end
    H.assert_clean()
  end)

  -- A -> relay -> B, joined, and one controller through (B's first RTP
  -- packet); returns a, b, what B received ({ m =, recovered = }).
  local function pair(b_opts)
    local got = {}
    local bo = { incoming_midi = function(_, m, _, recovered) got[#got + 1] = { m = m, recovered = recovered } end }
    for k, v in pairs(b_opts) do bo[k] = v end
    local b = session(bo)
    rel = H.apple_relay(b.config.port)
    local joined = 0
    local a = session{ guard_interval = 50, participant_joined = function() joined = joined + 1 end }
    a:invite("127.0.0.1", rel.port)
    H.run_until(function() return joined == 1 and #b:participants() == 1 end, "joined through the relay")
    assert(a:send_midi("\xB0\x07\x64"))
    H.run_until(function() return #got == 1 end, "the controller")
    return a, b, got
  end

  it("repeat late, once a second, until the participant's RS covers the last packet", function()
    local a, b, got = pair{ rs_interval = 50 }
    -- B gives feedback: its RS confirmed the controller, and its guards are over
    H.run_until(function() return a:participants()[1].rs_received >= 1 end, "an RS from B")
    H.run_for(400)
    local g0 = a:stats().guard_sent
    assert.are.equal(0, a:stats().unconfirmed)
    -- the note-on's packet is lost, and so are the five open-loop guards after it
    rel.drop_next = 6
    local t0 = rtpmidi.now()
    assert(a:send_midi("\x90\x3C\x64"))
    H.run_for(400)
    assert.are.equal(1, a:stats().unconfirmed)
    assert.is_true(a:participants()[1].unconfirmed)
    H.run_until(function() return #got == 2 end, "the note-on, repaired by a late guard", 5000)
    local took = rtpmidi.now() - t0
    assert.are.same({ m = "\x90\x3C\x64", recovered = true }, got[2])
    assert.are.equal(6, rel.dropped)
    assert.is_true(b:stats().messages_recovered >= 1)
    assert.is_true(b:stats().lost >= 6)
    -- open-loop at 50, 150, 350, 750 and 1550 ms (lost), the first late one a second later
    assert.is_true(took >= 2500, ("repaired after %.0f ms"):format(took))
    assert.is_true(a:stats().guard_sent - g0 >= 6)
    -- B's RS for the late guard covers the note-on's packet: no more guards
    local rs = a:participants()[1].rs_received
    H.run_until(function() return a:participants()[1].rs_received > rs end, "B's RS after the repair", 3000)
    local g1 = a:stats().guard_sent
    assert.are.equal(0, a:stats().unconfirmed)
    assert.is_false(a:participants()[1].unconfirmed)
    H.run_for(2200)
    assert.are.equal(g1, a:stats().guard_sent)
    assert.are.equal(2, #got)
  end)

  it("a participant that never sends RS gets the open-loop guards only", function()
    -- B's RS would come after an hour: it never gives feedback in this test
    local a, _, got = pair{ rs_interval = 3600000 }
    H.run_for(400)
    assert.are.equal(0, a:participants()[1].rs_received)
    local g0 = a:stats().guard_sent
    rel.drop_next = 6
    assert(a:send_midi("\x90\x3C\x64"))
    H.run_for(2400)
    -- the five open-loop guards (the last at 1550 ms), lost: nothing else
    -- went out, nothing repaired
    assert.are.equal(5, a:stats().guard_sent - g0)
    assert.are.equal(1, a:stats().unconfirmed) -- nobody confirmed the note-on
    assert.are.equal(6, rel.dropped)
    assert.are.equal(1, #got)
  end)
end)
