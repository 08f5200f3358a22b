-- State made on first use (issue 9, memory per session): the recovery
-- journal's sender exists only once a packet with commands went out, its
-- receiver only once a packet came in, so that an idle session, or one that
-- only sends or only receives, does not pay for what it does not use. The
-- stats say which exist (journal_sender, journal_receiver); a message sent
-- after an idle period is journalled and repaired as any other.
local rtpmidi = require "rtpmidi"
local H = require "helper"
local FI = require "fault_injector"

local control = rtpmidi.RTPControl()

local function flags(st) return { sender = st.journal_sender, receiver = st.journal_receiver } end
local NONE = { sender = false, receiver = false }

describe("MidiSession journal state", function()
  local injector
  after_each(function()
    if injector then injector:close() end
    injector = nil
    H.assert_clean()
  end)

  -- A -> injector -> B; B's messages in got: { m =, recovered = }
  local function pair(opts)
    opts = opts or {}
    local pa, pb, p, q = H.port(), H.port(), H.port(), H.port()
    injector = FI.new{ a_port = pa, b_port = pb, p = p, q = q, seed = 1 }
    local got = {}
    local a = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = p, receiving_port = pa,
                                   rtcp_interval = 0.1, recovery = opts.recovery }
    local b = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = q, receiving_port = pb,
                                   rtcp_interval = 0.1, recovery = opts.recovery,
      incoming_midi = function(_, m, _, recovered) got[#got + 1] = { m = m, recovered = recovered } end }
    control:add_session(a); control:add_session(b)
    assert(control:start())
    -- idle but alive: RTCP both ways, no MIDI
    H.run_until(function() return a:stats().rtcp_received > 0 and b:stats().rtcp_received > 0 end,
      "RTCP both ways")
    return a, b, got
  end

  it("makes none at idle, then only the side each session uses", function()
    local a, b, got = pair()
    assert.are.same(NONE, flags(a:stats()))
    assert.are.same(NONE, flags(b:stats()))
    assert(a:send_midi("\xB0\x07\x64"))
    H.run_until(function() return #got == 1 end, "the controller")
    H.run_until(function() return not a:stats().unconfirmed end, "B to confirm it")
    -- A only sent commands, B only received them (RTCP makes no journal state)
    assert.are.same({ sender = true, receiver = false }, flags(a:stats()))
    assert.are.same({ sender = false, receiver = true }, flags(b:stats()))
    assert.is_true(a:stats().rtcp_received > 1)
    control:remove_session(a.cookie); control:remove_session(b.cookie)
  end)

  it("repairs the loss of the first message after an idle period", function()
    local a, b, got = pair()
    assert(a:send_midi("\xB0\x07\x64"))
    H.run_until(function() return #got == 1 end, "the controller")
    H.run_until(function() return not a:stats().unconfirmed end, "B to confirm it")
    -- idle: the guard packets are over, only RTCP goes on
    local guards = a:stats().guard_packets
    H.run_for(700)
    assert.are.equal(guards, a:stats().guard_packets)
    -- the packet of the note-on is lost: a guard packet's journal repairs it
    injector.drop_set[injector.seen + 1] = true
    assert(a:send_midi("\x90\x3C\x64"))
    H.run_until(function() return #got == 2 end, "the note-on, repaired")
    assert.are.same({ m = "\x90\x3C\x64", recovered = true }, got[2])
    assert.are.equal(1, #injector.dropped)
    assert.are.equal(1, b:stats().repairs)
    assert.are.equal(0, b:stats().unrecovered)
    assert.is_true(a:stats().journal_bytes_sent > 0)
    assert.are.same({ sender = false, receiver = true }, flags(b:stats()))
    control:remove_session(a.cookie); control:remove_session(b.cookie)
  end)

  it("reassembles the first SysEx, split across packets, after other messages", function()
    -- the SysEx buffer is made by the packet with its first segment
    local a, b, got = pair()
    assert(a:send_midi("\x90\x3C\x64"))
    H.run_until(function() return #got == 1 end, "the note")
    local t = {} -- 3,002 octets: three packets at the 1,200-octet payload budget
    for i = 1, 3000 do t[i] = string.char(i % 128) end
    local sysex = "\xF0" .. table.concat(t) .. "\xF7"
    assert(a:send_midi(sysex))
    H.run_until(function() return #got == 2 end, "the SysEx")
    assert.is_true(got[2].m == sysex)
    assert.are.equal(0, b:stats().sysex_dropped)
    control:remove_session(a.cookie); control:remove_session(b.cookie)
  end)

  it("makes none with recovery off, whatever the traffic", function()
    local a, b, got = pair{ recovery = false }
    assert(a:send_midi("\x90\x3C\x64"))
    assert(b:send_midi("\x90\x3E\x64"))
    H.run_until(function() return #got == 1 and a:stats().messages_received == 1 end, "both notes")
    assert.are.same(NONE, flags(a:stats()))
    assert.are.same(NONE, flags(b:stats()))
    assert.are.equal(0, a:stats().journal_bytes_sent)
    control:remove_session(a.cookie); control:remove_session(b.cookie)
  end)
end)

describe("AppleMidiSession journal state", function()
  local rel
  after_each(function()
    if rel then rel:close(); rel = nil end
    H.assert_clean()
  end)

  local FAST = { invite_interval = 50, ck_fast_interval = 100, ck_interval = 300, rs_interval = 100,
                 guard_interval = 20 }
  local function session(opts) return H.apple(control, { bind_address = "127.0.0.1" }, FAST, opts) end

  it("makes it per participant and direction, and repairs the first message after an idle period", function()
    local got = {}
    local b = session{ incoming_midi = function(_, m, _, recovered) got[#got + 1] = { m = m, recovered = recovered } end }
    rel = H.apple_relay(b.config.port)
    local joined = 0
    local a = session{ participant_joined = function() joined = joined + 1 end }
    a:invite("127.0.0.1", rel.port)
    H.run_until(function() return joined == 1 and #b:participants() == 1 end, "joined")
    H.run_until(function() return a:participants()[1].ck_exchanges >= 2 end, "CK exchanges")
    local function pa() return flags(a:participants()[1]) end
    local function pb() return flags(b:participants()[1]) end
    assert.are.same(NONE, pa())
    assert.are.same(NONE, pb())
    assert(a:send_midi("\xB0\x07\x64"))
    H.run_until(function() return #got == 1 end, "the controller")
    assert.are.same({ sender = true, receiver = false }, pa())
    assert.are.same({ sender = false, receiver = true }, pb())
    -- idle until B's RS confirmed it and the guards are over
    H.run_until(function() return a:participants()[1].rs_received >= 1 end, "an RS")
    H.run_for(300)
    -- the packet of the note-on is lost: a guard packet's journal repairs it
    rel.drop_next = 1
    assert(a:send_midi("\x90\x3C\x64"))
    H.run_until(function() return #got == 2 end, "the note-on, repaired")
    assert.are.same({ m = "\x90\x3C\x64", recovered = true }, got[2])
    assert.are.equal(1, rel.dropped)
    assert.are.same({ sender = false, receiver = true }, pb())
    control:remove_session(a.cookie); control:remove_session(b.cookie)
  end)
end)
