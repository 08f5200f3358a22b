-- The tolerances of issue 18 (spec/interop_spec.lua) seen by an attacker on
-- the same LAN: each way a session now accepts a packet that bends the
-- standard is forged against a peer that does not bend it. The peer is a
-- scripted Apple-like session of spec/peers/quirky.lua on 127.0.0.1; the
-- forger sends from the peer's own sockets, standing in for one that spoofs
-- the peer's exact source address (the most an attacker on the LAN can do
-- without sniffing). What each forgery cost before its fix is in the test's
-- comment; the C tests (csrc/test/test_am_session.c, test_rtp_source.c)
-- show the same on virtual time.
local rtpmidi = require "rtpmidi"
local H = require "helper"
local Q = require "peers.quirky"

local control = rtpmidi.RTPControl()

-- A 64-bit timestamp as a little-endian host writes it.
local function bswap64(v)
  return string.unpack("<I8", string.pack(">I8", v))
end

describe("hostile LAN: the interop tolerances", function()
  local peers = {}
  local own = H.owned()
  local function peer(p) peers[#peers + 1] = p; return p end
  after_each(function()
    own.release()
    for _, p in ipairs(peers) do p:close() end
    peers = {}
    H.assert_clean()
  end)

  local function apple(opts)
    local log = { joined = {}, left = {}, synced = {} }
    local t = {
      name = "us", port = H.port(),
      participant_joined = function(_, p) log.joined[#log.joined + 1] = p end,
      participant_left = function(_, p, why) log.left[#log.left + 1] = { p, why } end,
      participant_synced = function(_, p) log.synced[#log.synced + 1] = p end,
    }
    for k, v in pairs(opts or {}) do t[k] = v end
    local s = rtpmidi.AppleMidiSession(t)
    assert(control:start_session(control:add_session(s)))
    return s, log
  end

  -- raveloxmidi's form of feedback (an RS on the data port with OUR SSRC)
  -- needs no secret of the peer's: our SSRC is in the OK we gave the forger
  -- when it invited us. Before: from an Apple peer's data address it
  -- confirmed our packets (the journal for the peer forgot what the peer
  -- never received) like the peer's own RS.
  it("an RS with our SSRC on an Apple peer's data port is not its RS", function()
    local s, log = apple{ guard_interval = 10 }
    local r = peer(Q.apple{ port = H.port(), name = "apple" })
    r:invite(s.config.port)
    H.run_until(function() return #log.joined == 1 and r.state == "joined" end, "joined")
    local ours = assert(r.remote_ssrc, "our SSRC, from our OK")
    assert(s:send_midi("\x90\x3c\x64"))
    H.run_until(function() return #r.midi >= 1 end, "our MIDI at the peer")
    r:send_rs() -- its own, Apple's form
    H.run_until(function() return s:participants()[1].rs_received == 1 end, "its RS")
    assert.is_false(s:participants()[1].unconfirmed)
    -- our next packet, which the forger says the peer received
    assert(s:send_midi("\x90\x3d\x64"))
    H.run_until(function() return #r.midi >= 2 end, "our second packet at the peer")
    local foreign0 = s:stats().foreign
    for _ = 1, 5 do
      r.data:send("\xff\xffRS" .. string.pack(">I4I4", ours, (r.last_seq & 0xffff) << 16), "127.0.0.1", r.peer_data)
    end
    H.run_until(function() return s:stats().foreign >= foreign0 + 5 end, "the forged RS counted")
    local p = s:participants()[1]
    assert.are.equal(1, p.rs_received)
    assert.is_true(p.unconfirmed)
    -- the peer's own RS still confirms
    r:send_rs()
    H.run_until(function() return s:participants()[1].rs_received == 2 end, "its RS")
    assert.is_false(s:participants()[1].unconfirmed)
    control:remove_session(s.cookie)
  end)

  -- pymidi's data-port SSRC is an alias of the participant. A forger on
  -- another port of its host (or one that sniffed the token) gets neither
  -- the alias nor an alias of its own: its RTP under either SSRC is not
  -- played, and the peer's own still is.
  it("a pymidi peer's alias is not the forger's, nor can it add one", function()
    local played = {}
    local s, log = apple{ ck_fast_interval = 50,
      incoming_midi = function(_, m) played[#played + 1] = m end }
    local py = peer(Q.apple{ port = H.port(), name = "pymidi", quirks = { data_ssrc = true } })
    assert(s:invite("127.0.0.1", py.port))
    H.run_until(function() return #log.joined == 1 and py.state == "joined" end, "pymidi joined")
    local forger = own.udp("127.0.0.1", 0)
    local data_port = s.config.port + 1
    local st0 = s:stats()
    forger:send(Q.rtp_midi(7, 0, py.data_ssrc, "\x90\x40\x7f"), "127.0.0.1", data_port)
    -- the data-port OK and IN with the token it sniffed and an SSRC of its own
    forger:send(Q.invitation("OK", py.token, 0x66666666, "pymidi"), "127.0.0.1", data_port)
    forger:send(Q.invitation("IN", py.token, 0x66666666, "pymidi"), "127.0.0.1", data_port)
    forger:send(Q.rtp_midi(8, 0, 0x66666666, "\x90\x41\x7f"), "127.0.0.1", data_port)
    py:send_midi("\x90\x3c\x64")
    H.run_until(function() return #played >= 1 end, "the peer's own MIDI")
    H.run_for(50)
    assert.are.same({ "\x90\x3c\x64" }, played)
    local st = s:stats()
    assert.is_true(st.foreign > st0.foreign)
    assert.are.equal(1, #s:participants())
    assert.are.equal(py.ssrc, s:participants()[1].ssrc)
    control:remove_session(s.cookie)
  end)

  -- rtpmidid's BY comes on both ports, and we take a BY on the data port
  -- too. A forger on another port of its host with the token and SSRC it
  -- sniffed ends nothing on either port; the real pair ends it once.
  it("a BY forged on either port from another port of the peer's host ends nothing", function()
    local s, log = apple()
    local r = peer(Q.apple{ port = H.port(), name = "rtpmidid", quirks = { bye_both = true } })
    r:invite(s.config.port)
    H.run_until(function() return #log.joined == 1 and r.state == "joined" end, "rtpmidid joined")
    local forger = own.udp("127.0.0.1", 0)
    local heard = 0
    forger:recv(function() heard = heard + 1 end)
    local by = "\xff\xffBY" .. string.pack(">I4I4I4", 2, r.token, r.ssrc)
    local foreign0 = s:stats().foreign
    forger:send(by, "127.0.0.1", s.config.port + 1)
    forger:send(by, "127.0.0.1", s.config.port)
    H.run_until(function() return s:stats().foreign >= foreign0 + 2 end, "the forged BY counted")
    H.run_for(50)
    assert.are.equal(0, #log.left)
    assert.are.equal(1, #s:participants())
    assert.are.equal(0, heard)
    r:bye_both_ports()
    H.run_until(function() return #log.left == 1 end, "its BY")
    H.run_for(50)
    assert.are.equal(1, #log.left)
    assert.are.equal("bye", log.left[1][2])
    assert.are.equal(0, s:stats().unknown_ssrc)
    control:remove_session(s.cookie)
  end)

  -- MIDIMonster's byte order is found on a CK exchange. Before: one forged
  -- exchange (its CK0, then a CK2 echoing our CK1 -- sniffed, or our clock
  -- guessed) whose numbers fit only host order made a real Apple peer
  -- "swapped": its RTP timestamps read byte-swapped until its next exchange.
  it("a forged CK exchange in host order does not make an Apple peer swapped", function()
    local s, log = apple{ ck_fast_interval = 50, ck_fast_count = 1, ck_interval = 60000 }
    local r = peer(Q.apple{ port = H.port(), name = "apple" })
    assert(s:invite("127.0.0.1", r.port))
    H.run_until(function() return #log.synced >= 1 and r.state == "joined" end, "the first CK exchange")
    local p = s:participants()[1]
    assert.is_false(p.timestamps_swapped)
    local ck1_before = r:count("CK")
    local t1 = math.floor(rtpmidi.now() * 10)
    r.data:send("\xff\xffCK" .. string.pack(">I4B", r.ssrc, 0) .. "\0\0\0" ..
                string.pack(">I8I8I8", bswap64(t1), 0, 0), "127.0.0.1", r.peer_data)
    H.run_until(function() return r:count("CK") > ck1_before end, "our CK1 to the forged CK0")
    local ck1
    for i = #r.got, 1, -1 do
      if r.got[i].command == "CK" and r.got[i].count == 1 then ck1 = r.got[i]; break end
    end
    local ts = assert(ck1, "our CK1").timestamps or ck1.ts
    r.data:send("\xff\xffCK" .. string.pack(">I4B", r.ssrc, 2) .. "\0\0\0" ..
                string.pack(">I8I8I8", ts[1], ts[2], bswap64(t1 + 5)), "127.0.0.1", r.peer_data)
    H.run_until(function() return s:stats().ck_impossible >= 1 end, "the forged exchange counted")
    p = s:participants()[1]
    assert.is_false(p.timestamps_swapped)
    assert.are.equal(1, p.ck_impossible)
    assert.are.equal(0, s:stats().timestamps_swapped)
    control:remove_session(s.cookie)
  end)
end)
