-- Interop with the peers musicians already run (issue 18): rtpmidid,
-- raveloxmidi, MIDIMonster, pymidi. Each is a scripted peer of
-- spec/peers/quirky.lua that behaves as the issue describes; every exchange
-- runs over loopback.
local rtpmidi = require "rtpmidi"
local H = require "helper"
local Q = require "peers.quirky"

local control = rtpmidi.RTPControl()

describe("interop", function()
  local peers = {}
  local function peer(p) peers[#peers + 1] = p; return p end
  after_each(function()
    for _, p in ipairs(peers) do p:close() end
    peers = {}
    H.assert_clean()
  end)

  -- An AppleMidiSession on a free pair, started, with its callbacks logging.
  local function apple(opts)
    local log = { joined = {}, left = {}, midi = {}, failed = {}, synced = {} }
    local t = {
      name = "us", port = H.port(),
      participant_joined = function(_, p) log.joined[#log.joined + 1] = p end,
      participant_left = function(_, p, why) log.left[#log.left + 1] = { p, why } end,
      participant_synced = function(_, p) log.synced[#log.synced + 1] = p end,
      incoming_midi = function(_, m, time, rec, p) log.midi[#log.midi + 1] = { m, rec, p, time } end,
      invitation_failed = function(_, a, port, why) log.failed[#log.failed + 1] = { a, port, why } end,
    }
    for k, v in pairs(opts or {}) do t[k] = v end
    local s = rtpmidi.AppleMidiSession(t)
    assert(control:start_session(control:add_session(s)))
    return s, log
  end

  describe("rtpmidid", function()
    it("gets our BY on both ports and is not left half-open", function()
      local s, log = apple()
      local r = peer(Q.apple{ port = H.port(), name = "rtpmidid", quirks = { bye_both = true } })
      r:invite(s.config.port)
      H.run_until(function() return #log.joined == 1 and r.state == "joined" end, "rtpmidid joined")
      s:disconnect(log.joined[1])
      H.run_until(function() return r.state == "ended" end, "BY on both ports")
      assert.are.equal(1, r.bye.ctrl)
      assert.are.equal(1, r.bye.data)
      control:remove_session(s.cookie)
    end)

    it("sends BY on both ports: one participant_left, nothing counted", function()
      local s, log = apple()
      local r = peer(Q.apple{ port = H.port(), name = "rtpmidid", quirks = { bye_both = true } })
      r:invite(s.config.port)
      H.run_until(function() return #log.joined == 1 and r.state == "joined" end, "rtpmidid joined")
      r:bye_both_ports()
      H.run_until(function() return #log.left == 1 end, "its BY")
      H.run_for(100)
      assert.are.equal("bye", log.left[1][2])
      assert.are.equal(1, #log.left)
      local st = s:stats()
      assert.are.equal(0, st.unknown_ssrc)
      assert.are.equal(0, st.foreign)
      control:remove_session(s.cookie)
    end)
  end)

  describe("RS forms", function()
    -- our burst, its RS, then time for guards: guard_interval 10 ms puts the
    -- open-loop five at 10..310 ms, late ones (feedback) one a second
    local function burst_then_rs(quirks)
      local s, log = apple{ guard_interval = 10 }
      local r = peer(Q.apple{ port = H.port(), name = "rs", quirks = quirks })
      r:invite(s.config.port)
      H.run_until(function() return #log.joined == 1 and r.state == "joined" end, "joined")
      assert(s:send_midi("\x90\x3c\x64\x91\x3d\x64"))
      H.run_until(function() return #r.midi >= 2 end, "our burst at the peer")
      r:send_rs()
      H.run_for(2600)
      return s, log
    end

    it("reads rtpmidid's RS (sequence number in the low 16 bits): confirmed, guards end", function()
      local s = burst_then_rs{ rs_low16 = true }
      local p = s:participants()[1]
      assert.is_false(p.unconfirmed)
      assert.are.equal(1, p.rs_received)
      assert.is_true(s:stats().guard_sent <= 5)
      assert.are.equal(0, s:stats().unsolicited)
      control:remove_session(s.cookie)
    end)

    it("gives a participant whose RS never confirms the open-loop guards only", function()
      local s = burst_then_rs{ rs_stale = true }
      local p = s:participants()[1]
      assert.is_true(p.unconfirmed)
      assert.are.equal(5, s:stats().guard_sent)  -- not 5 + one a second
      assert.are.equal(1, s:stats().unsolicited)
      control:remove_session(s.cookie)
    end)
  end)

  describe("raveloxmidi", function()
    it("its feedback on the data port with our SSRC is its RS", function()
      local s, log = apple{ guard_interval = 10 }
      local r = peer(Q.apple{ port = H.port(), name = "raveloxmidi", quirks = { feedback_data = true } })
      r:invite(s.config.port)
      H.run_until(function() return #log.joined == 1 and r.state == "joined" end, "joined")
      for i = 1, 3 do
        assert(s:send_midi(string.char(0x90, 60 + i, 100)))
        H.run_for(30)
      end
      H.run_until(function() return s:participants()[1].rs_received >= 3 end, "its feedback as RS")
      H.run_for(400)
      local p, st = s:participants()[1], s:stats()
      assert.is_false(p.unconfirmed)
      assert.are.equal(0, st.unknown_ssrc)
      assert.are.equal(0, st.foreign)
      control:remove_session(s.cookie)
    end)
  end)

  describe("pymidi", function()
    it("answers on its data port with another SSRC: an alias, CK completes, its MIDI plays", function()
      local s, log = apple{ ck_fast_interval = 50 }
      local py = peer(Q.apple{ port = H.port(), name = "pymidi", quirks = { data_ssrc = true } })
      assert(s:invite("127.0.0.1", py.port))
      H.run_until(function() return #log.joined == 1 and py.state == "joined" end, "pymidi joined")
      H.run_until(function() return #log.synced >= 1 end, "the CK exchange")
      assert.is_true(s:participants()[1].synced)
      assert.are.equal(py.ssrc, s:participants()[1].ssrc)
      py:send_midi("\x90\x3c\x64")
      H.run_until(function() return #log.midi == 1 end, "its MIDI")
      assert.are.equal("\x90\x3c\x64", log.midi[1][1])
      local st = s:stats()
      assert.are.equal(0, st.unknown_ssrc)
      assert.are.equal(0, st.foreign)
      control:remove_session(s.cookie)
    end)
  end)

  describe("MIDIMonster AppleMIDI mode (timestamps in host byte order)", function()
    it("is detected, reported, and its MIDI keeps its timing", function()
      local s, log = apple{ ck_fast_interval = 50 }
      local mm = peer(Q.apple{ port = H.port(), name = "midimonster", quirks = { host_order = true } })
      assert(s:invite("127.0.0.1", mm.port))
      H.run_until(function() return #log.synced >= 1 and mm.state == "joined" end, "the CK exchange")
      local p = s:participants()[1]
      assert.is_true(p.timestamps_swapped)
      assert.is_true(p.latency >= 0 and p.latency < 100)
      assert.are.equal(1, s:stats().timestamps_swapped)
      assert.are.equal(0, s:stats().ck_impossible)
      local n = 0
      local pacer = rtpmidi.every(40, function(t)
        n = n + 1
        mm:send_midi(string.char(0x90, 60 + n, 100))
        if n == 5 then t:cancel() end
      end)
      H.run_until(function() return #log.midi == 5 end, "its MIDI", 5000)
      pacer:cancel()
      -- sent about 40 ms apart, played so (the session stayed up, and no
      -- time of 14,049,450 ms)
      for i = 2, 5 do
        local gap = log.midi[i][4] - log.midi[i - 1][4]
        local sent = (mm.sent_ts[i] - mm.sent_ts[i - 1]) / 10
        assert(math.abs(gap - sent) < 15, ("message %d: %.4f ms after the one before, sent %.1f ms after"):format(i, gap, sent))
        assert(log.midi[i][4] <= rtpmidi.now() and log.midi[i][4] > rtpmidi.now() - 2000)
      end
      assert.is_true(s:participants()[1] ~= nil)
      control:remove_session(s.cookie)
    end)
  end)

  describe("recovery per participant", function()
    -- program changes and pitch bends on two channels: a journal with
    -- chapters P and W for channels 1 and 2 (what rtpmidid's parser throws on)
    local MIDI = "\xC0\x05\xC1\x06\xE0\x00\x50\xE1\x00\x30"

    local function join(s, log, q, name, how, opts)
      local before = #log.joined
      if how == "invite" then
        assert(s:invite("127.0.0.1", q.port, opts))
      else
        q:invite(s.config.port)
      end
      H.run_until(function() return #log.joined == before + 1 and q.state == "joined" end, name .. " joined")
      return log.joined[#log.joined]
    end

    it("a rule by name keeps the journal off for rtpmidid and on for the others", function()
      local s, log = apple{ guard_interval = 10, peers = { { name = "rtpmidid", recovery = false } } }
      local r = peer(Q.apple{ port = H.port(), name = "rtpmidid", ssrc = 0x61, quirks = { strict_journal = true } })
      local mac = peer(Q.apple{ port = H.port(), name = "mac", ssrc = 0x62 })
      local pr = join(s, log, r, "rtpmidid", "accept")
      local pm = join(s, log, mac, "mac", "accept")
      assert.is_false(pr.recovery)
      assert.is_true(pm.recovery)
      assert(s:send_midi(MIDI))
      H.run_until(function() return #r.midi == 4 and #mac.midi == 4 end, "the MIDI at both")
      H.run_for(400) -- guards
      assert.are.equal(0, r.crashes)
      assert.is_nil(r.journals)
      assert.is_true(mac.journals >= 1)
      assert.is_false(s:participants()[1].recovery == s:participants()[2].recovery)
      control:remove_session(s.cookie)
    end)

    it("invite(host, port, {recovery=false}); without it rtpmidid chokes", function()
      local s, log = apple{ guard_interval = 10 }
      local off = peer(Q.apple{ port = H.port(), name = "rtpmidid", ssrc = 0x71, quirks = { strict_journal = true } })
      local on = peer(Q.apple{ port = H.port(), name = "rtpmidid", ssrc = 0x72, quirks = { strict_journal = true } })
      local p_off = join(s, log, off, "the one invited without", "invite", { recovery = false })
      local p_on = join(s, log, on, "the one invited with", "invite")
      assert.is_false(p_off.recovery)
      assert.is_true(p_on.recovery)
      assert(s:send_midi(MIDI))
      H.run_until(function() return #off.midi == 4 end, "the MIDI")
      H.run_until(function() return on.crashes >= 1 end, "the journal it cannot parse")
      assert.are.equal(0, off.crashes)
      control:remove_session(s.cookie)
    end)

    it("a rule by address keeps it off for pymidi, which misreads S=1, Y=0 journals", function()
      local s, log = apple{ guard_interval = 10, peers = { { address = "127.0.0.1", name = "pymidi", recovery = false } } }
      local py = peer(Q.apple{ port = H.port(), name = "pymidi", ssrc = 0x81, quirks = { strict_y = true, data_ssrc = true } })
      local other = peer(Q.apple{ port = H.port(), name = "pymidi2", ssrc = 0x83, quirks = { strict_y = true } })
      local p = join(s, log, py, "pymidi", "invite")
      local q = join(s, log, other, "another pymidi the rule does not name", "invite")
      assert.is_false(p.recovery)
      assert.is_true(q.recovery)
      for i = 1, 3 do
        assert(s:send_midi(string.char(0x90, 60 + i, 100)))
        H.run_for(30)
      end
      H.run_until(function() return #py.midi == 3 end, "the MIDI")
      H.run_until(function() return other.crashes >= 1 end, "a journal it misreads")
      assert.are.equal(0, py.crashes)
      control:remove_session(s.cookie)
    end)

    it("checks the options it is given", function()
      local s = apple()
      assert.has_error(function() s:invite("127.0.0.1", 5004, { recovery = 1 }) end,
        "bad argument 'options.recovery' (boolean expected, got 1)")
      assert.has_error(function() s:invite("127.0.0.1", 5004, { recovry = false }) end,
        "bad argument 'options.recovry' (unknown option); did you mean 'recovery'?")
      assert.has_error(function() rtpmidi.AppleMidiSession{ peers = { { recovery = false } } } end,
        "bad argument 'peers[1]' (a rule needs a name or an address)")
      assert.has_error(function() rtpmidi.AppleMidiSession{ peers = { { name = "x", recovery = "no" } } } end,
        "bad argument 'peers[1].recovery' (boolean expected, got no)")
      assert.has_error(function() rtpmidi.AppleMidiSession{ peers = "x" } end)
      control:remove_session(s.cookie)
    end)
  end)

  describe("a peer that plays but never starts CK", function()
    it("is not timed out while its RTP comes; its silence ends it", function()
      local s, log = apple{ timeout = 1 }
      local q = peer(Q.apple{ port = H.port(), name = "no-ck" })
      q:invite(s.config.port) -- it invites: CK is its to start, and it never does
      H.run_until(function() return #log.joined == 1 and q.state == "joined" end, "joined")
      local n = 0
      local pacer = rtpmidi.every(200, function() n = n + 1; q:send_midi(n % 2 == 1 and "\x90\x3c\x5a" or "\x80\x3c\x40") end)
      H.run_for(2500)
      pacer:cancel()
      assert.are.same({}, log.left)
      assert.is_true(#log.midi >= 10)
      assert.are.equal(0, q:count("CK"))
      H.run_until(function() return #log.left == 1 end, "its timeout", 3000)
      assert.are.equal("timeout", log.left[1][2])
      control:remove_session(s.cookie)
    end)
  end)

  describe("MIDIMonster direct mode (RTP, no RTCP port)", function()
    it("keeps playing when our RTCP bounces while its RTP flows", function()
      local mine, theirs = H.port(), H.port()
      local got, drops, recovered = {}, {}, 0
      local s = rtpmidi.MidiSession{
        peer_address = "127.0.0.1", sending_port = theirs, receiving_port = mine, rtcp_interval = 0.1,
        timeout = 2,
        incoming_midi = function(_, m, _, rec) got[#got + 1] = m; if rec then recovered = recovered + 1 end end,
        drop_call = function(_, _, reason, detail) drops[#drops + 1] = { reason, detail } end,
      }
      control:add_session(s)
      -- its RTP port only: theirs + 1 stays closed
      local mm = peer(Q.direct_rtp{ port = theirs, to_port = mine })
      assert(control:start_session(s.cookie))
      local note = 0
      local pacer = rtpmidi.every(20, function()
        note = note + 1
        mm:send(string.char(note % 2 == 1 and 0x90 or 0x80, 60, 100))
      end)
      H.run_until(function() return s:stats().rtcp_unreachable >= 1 end, "our RTCP to bounce", 5000)
      local sent_then = s:stats().rtcp_sent
      -- we play to it meanwhile: our RTP reaches its port
      assert(s:send_midi("\x90\x40\x50"))
      H.run_for(1500)
      pacer:cancel()
      H.run_until(function() return #mm.got >= 1 end, "our MIDI at the peer")
      local st = s:stats()
      assert.are.same({}, drops)
      assert.are.equal(0, recovered)              -- no notes made up: no all-notes-off
      assert.are.equal(0, st.messages_released)
      assert.are.equal(1, st.rtcp_unreachable)
      assert.are.equal(sent_then, st.rtcp_sent)   -- no more RTCP to the closed port
      assert.is_true(#got >= mm.sent - 2)
      -- its silence still ends it, once
      H.run_until(function() return #drops == 1 end, "the timeout", 5000)
      assert.are.equal("timeout", drops[1][1])
      control:remove_session(s.cookie)
    end)
  end)
end)

-- Everything the scripted peers sent and received above (Q.captured), as a
-- pcap, dissected by tshark: no malformed packet, no expert error. Runs
-- after the exchanges of this file (busted runs a file's tests in order).
describe("interop capture", function()
  local function sh(cmd) local f = io.popen(cmd); local o = f:read("a"); f:close(); return o end

  it("tshark finds no malformed packet in the exchanges above", function()
    if sh("command -v tshark 2>/dev/null") == "" then pending("tshark is not installed") return end
    assert.is_true(#Q.captured >= 100, "the exchanges above ran (got " .. #Q.captured .. " datagrams)")
    local pcap = os.tmpname()
    require("peers.pcap").write(pcap, Q.captured)
    -- AppleMIDI by tshark's heuristic; RTP without a session (MIDIMonster's
    -- direct mode) by RTP's, its payload type 97 as RTP-MIDI
    local out = sh(("env -u LD_PRELOAD tshark -r '%s' -o rtp.heuristic_rtp:TRUE -d rtp.pt==97,rtpmidi "
      .. "-T fields -E separator='|' -e frame.number -e applemidi.command -e rtpmidi.j_flag "
      .. "-e _ws.malformed -e _ws.expert.severity -e frame.protocols 2>&1"):format(pcap))
    os.remove(pcap)
    local frames, malformed, cmds, midi = 0, {}, {}, 0
    for line in out:gmatch("[^\n]+") do
      local n, cmd, j, mal, sev, protos = line:match("^(%d+)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$")
      if n then
        frames = frames + 1
        if mal ~= "" or protos:find("malformed") or (sev ~= "" and tonumber(sev) and tonumber(sev) >= 8388608) then
          malformed[#malformed + 1] = n .. ": " .. protos
        end
        for c in cmd:gmatch("[^,]+") do cmds[c] = (cmds[c] or 0) + 1 end
        if protos:find("rtpmidi") then midi = midi + 1 end
      end
    end
    assert.are.equal(#Q.captured, frames, out:sub(1, 400))
    print(("\n  [interop capture] %d datagrams, %d RTP-MIDI, AppleMIDI: %s"):format(frames, midi, (function() local t = {} for c, k in pairs(cmds) do t[#t + 1] = c .. "=" .. k end table.sort(t) return table.concat(t, " ") end)()))
    assert.are.same({}, malformed)
    assert.is_true(midi >= 20, "RTP-MIDI packets dissected: " .. midi)
    local seen = {}
    for c in pairs(cmds) do seen[#seen + 1] = c end
    table.sort(seen)
    assert.is_true(#seen >= 5, "AppleMIDI commands dissected: " .. table.concat(seen, " "))
  end)
end)
