-- rtpmidi.codec decodes what the C core parses: RTP-MIDI payloads with the
-- recovery journal as a table, AppleMIDI session commands and RTCP compound
-- packets, here on packets other implementations really sent (each cited
-- where it comes from) and on the RTCP our own session sends.
local rtpmidi = require "rtpmidi"
local core = require "rtpmidi.core"
local monitor = require "rtpmidi.monitor"
local H = require "helper"

local codec = rtpmidi.codec

-- "ff ff 49 4e ..." -> the octets
local function bytes(hex)
  return (hex:gsub("%s+", ""):gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end))
end

-- Sent by the Arduino AppleMIDI library, kept as test input in its harness:
-- lathoub/Arduino-AppleMIDI-Library, test/Ethernet.h (commit 07a8f2dc),
-- arrays sysexMalformedTimingClock and noteOnOff.
local ARDUINO_CLOCK = bytes [[
  80 61 85 d9 1a 5f 26 b0 c8 86 76 f9
  41 f8
  c0 85 8b 90 05 d0 00 95 ]]
local ARDUINO_NOTES = bytes [[
  80 61 27 9e 00 1d b5 36 36 09 2f 2a
  46 80 3f 00 00 3d 00
  20 27 34 00 0e 08 02 59 bd 40 bf 40 15 ad 5a df a8 ]]

-- Windows rtpMIDI 1.1.14 (Tobias Erichsen) inviting a Mac, and the Mac's
-- answer, from rtpMIDI's diagnostic log in davidmoreno/rtpmidid issue #24
-- ("TX-CTRL ... Invite(DESKTOP-8S0BNE6)" and "RX-CTRL ... Accepted(net1)").
local IN_WINDOWS = bytes [[
  FF FF 49 4E 00 00 00 02 58 C1 08 F5 79 07 E8 70
  44 45 53 4B 54 4F 50 2D 38 53 30 42 4E 45 36 00 ]]
local OK_MAC = bytes "FF FF 4F 4B 00 00 00 02 58 C1 08 F5 DB 72 48 E9 6E 65 74 31 00"

-- An RS kept as test input by raveloxmidi: ravelox/pimidi,
-- source/parse_test.c (commit 65ee7882), "Feedback buffer". Its low 16
-- bits are not zero: the sequence number is the high half only.
local RS_RAVELOX = bytes "ff ff 52 53 1c 03 73 94 d2 4b a5 7b"
-- node-rtpmidi 1.0.0's RS, frame 17 of our capture (csrc/test/test_applemidi.c).
local RS_NODE = bytes "ff ff 52 53 47 4c aa f1 fd 68 00 00"

-- Windows rtpMIDI 1.1.6 answering a CK0 (count 1), from its diagnostic log
-- in lathoub/Arduino-AppleMIDI-Library issue #25 ("TX-MIDI ... Synchronize").
local CK1_WINDOWS = bytes [[
  FF FF 43 4B 87 F1 D6 75 01 00 00 00
  00 00 00 00 00 06 41 90  00 00 00 00 CF 34 C8 F2  00 00 00 00 00 00 00 00 ]]
-- No capture of a CK0 sent by Windows rtpMIDI with leftovers in ts2 and
-- ts3 was found in public material: this one is built by hand in that
-- shape, from the values of the log above (rtpMIDI's SSRC; ts2 and ts3 left
-- from the previous exchange, as the Mac and node-rtpmidi leave theirs).
local CK0_WINDOWS_SHAPED = bytes [[
  FF FF 43 4B 87 F1 D6 75 00 00 00 00
  00 00 00 00 CF 39 7B 3D  00 00 00 00 CF 34 C8 F2  00 00 00 00 00 06 41 90 ]]
-- node-rtpmidi 1.0.0's later CK0, frame 19 of our capture: it really leaves
-- now - timeDifference in ts2 and now + latency in ts3.
local CK0_NODE = bytes [[
  ff ff 43 4b a6 d6 ec 9d 00 00 00 00
  00 00 00 00 00 00 b0 4f  00 00 00 00 00 00 c3 df  00 00 00 00 00 00 b0 82 ]]

describe("rtpmidi.codec", function()
  after_each(H.assert_clean)

  describe("decode_midi_payload: the journal as a table", function()
    it("an Arduino packet whose journal carries system chapter Q (clock 0x95, checkpoint 0x858B)", function()
      local rtp = assert(codec.decode_rtp(ARDUINO_CLOCK))
      assert.are.same({ 97, 0x85d9, 0xc88676f9 }, { rtp.payload_type, rtp.sequence, rtp.ssrc })
      local p = assert(codec.decode_midi_payload(rtp.payload))
      assert.are.same({ { delta = 0, time = 0, bytes = "\xF8" } }, p.commands)
      assert.is_true(p.j)
      local j = p.journal
      assert.is_nil(j.error)
      assert.are.equal(0x858B, j.checkpoint)
      assert.are.same({ true, true, false, false }, { j.s, j.y, j.a, j.h })
      assert.are.equal(8, j.size)
      assert.are.equal(rtp.payload:sub(3), j.raw)
      assert.are.same({}, j.channels)
      assert.are.equal(5, j.system.length)
      assert.is_true(j.system.s)
      assert.are.same({ s = true, n = true, d = false, c = true, t = false, clock = 0x95 }, j.system.Q)
      assert.is_nil(j.system.D or j.system.V or j.system.F or j.system.X)
      assert.are.equal("RTP pt 97 seq 34265 ts 442443440 ssrc 0xc88676f9, MIDI clock | "
        .. "journal 8 octets, checkpoint 34187, system [Q], flags S", monitor.describe(ARDUINO_CLOCK))
    end)

    it("an Arduino packet whose channel journal carries chapter N with its note logs", function()
      local rtp = assert(codec.decode_rtp(ARDUINO_NOTES))
      local p = assert(codec.decode_midi_payload(rtp.payload))
      assert.are.same({ "\x80\x3f\x00", "\x80\x3d\x00" }, { p.commands[1].bytes, p.commands[2].bytes })
      local j = p.journal
      assert.are.same({ false, false, true, 0, 0x2734 }, { j.s, j.y, j.a, j.totchan, j.checkpoint })
      assert.is_nil(j.system)
      assert.are.equal(1, #j.channels)
      local c = j.channels[1]
      assert.are.same({ 0, false, false, 14 }, { c.chan, c.s, c.h, c.length })
      assert.is_nil(c.P or c.C or c.M or c.W or c.E or c.T or c.A)
      assert.are.same({
        b = false, low = 5, high = 9,
        logs = { { s = true, note = 61, y = false, velocity = 64 }, { s = true, note = 63, y = false, velocity = 64 } },
        -- OFFBITS over notes 40..79, the MSB first: 15 = 43 45 47, ad = 48 50 52 53 55,
        -- 5a = 57 59 60 62, df = 64 65 67..71, a8 = 72 74 76
        offbits = { 43, 45, 47, 48, 50, 52, 53, 55, 57, 59, 60, 62, 64, 65, 67, 68, 69, 70, 71, 72, 74, 76 },
      }, c.N)
      assert.matches("journal 17 octets, checkpoint 10036, channel 1 %[N%]$", monitor.describe(ARDUINO_NOTES))
    end)

    it("a journal that does not parse keeps the commands and says why", function()
      local rtp = assert(codec.decode_rtp(ARDUINO_NOTES))
      -- the channel journal's LENGTH says 14 octets, cut it at 10
      local p = assert(codec.decode_midi_payload(rtp.payload:sub(1, 7 + 3 + 10)))
      assert.are.equal(2, #p.commands)
      assert.are.equal("truncated", p.journal.error)
      assert.is_nil(p.journal.checkpoint)
      -- the whole packet decodes with what we send (the C core's own journal)
      local payload = assert(codec.encode_midi_payload({ { bytes = "\x90\x3c\x64" } }, { journal = rtp.payload:sub(8) }))
      assert.are.equal(0x2734, assert(codec.decode_midi_payload(payload)).journal.checkpoint)
    end)
  end)

  describe("decode_applemidi", function()
    it("an IN with a name (Windows rtpMIDI) and the OK that answered it", function()
      assert.are.same({ command = "IN", version = 2, token = 0x58C108F5, ssrc = 0x7907E870, name = "DESKTOP-8S0BNE6" },
                      codec.decode_applemidi(IN_WINDOWS))
      assert.are.same({ command = "OK", version = 2, token = 0x58C108F5, ssrc = 0xDB7248E9, name = "net1" },
                      codec.decode_applemidi(OK_MAC))
      -- without its name: no name field
      assert.is_nil(codec.decode_applemidi(IN_WINDOWS:sub(1, 16)).name)
      assert.are.equal('AppleMIDI IN (invitation) version 2 token 0x58c108f5 ssrc 0x7907e870 name "DESKTOP-8S0BNE6"',
                       monitor.describe(IN_WINDOWS))
    end)

    it("an RS whose sequence number is the high half of its field", function()
      assert.are.same({ command = "RS", ssrc = 0x1c037394, seq = 0xd24b, field = 0xd24ba57b },
                      codec.decode_applemidi(RS_RAVELOX))
      assert.are.same({ command = "RS", ssrc = 0x474caaf1, seq = 0xfd68, field = 0xfd680000 },
                      codec.decode_applemidi(RS_NODE))
      assert.are.equal("AppleMIDI RS (receiver feedback) ssrc 0x1c037394 seq 53835", monitor.describe(RS_RAVELOX))
    end)

    it("CK0 with nonzero leftover timestamps, and rtpMIDI's CK1", function()
      assert.are.same({ command = "CK", ssrc = 0x87F1D675, count = 0,
                        timestamps = { 0xCF397B3D, 0xCF34C8F2, 0x00064190 } },
                      codec.decode_applemidi(CK0_WINDOWS_SHAPED))
      assert.are.same({ command = "CK", ssrc = 0xa6d6ec9d, count = 0, timestamps = { 45135, 50143, 45186 } },
                      codec.decode_applemidi(CK0_NODE))
      assert.are.same({ command = "CK", ssrc = 0x87F1D675, count = 1, timestamps = { 0x00064190, 0xCF34C8F2, 0 } },
                      codec.decode_applemidi(CK1_WINDOWS))
      assert.are.equal("AppleMIDI CK (clock sync) ssrc 0xa6d6ec9d count 0 timestamps 45135 50143 45186",
                       monitor.describe(CK0_NODE))
    end)

    it("refuses what is not a command it knows, saying why", function()
      local t, err = codec.decode_applemidi(bytes "ff ff 52 4c de ad be ef 00 00 10 00")
      assert.is_nil(t)
      assert.are.equal("bad AppleMIDI packet: unknown command RL", err)
      t, err = codec.decode_applemidi(CK1_WINDOWS:sub(1, 35))
      assert.is_nil(t)
      assert.matches("^bad AppleMIDI packet: ", err)
      assert.is_nil((codec.decode_applemidi(ARDUINO_CLOCK)))
      assert.matches("^AppleMIDI, 11 octets %(bad AppleMIDI packet: ", monitor.describe(CK1_WINDOWS:sub(1, 11)))
    end)
  end)

  describe("decode_rtcp", function()
    it("the compounds our session sends: SR + SDES, and RR + SDES + BYE when it stops", function()
      local control = rtpmidi.RTPControl()
      local port = H.port()
      -- the peer's RTCP port: sending_port + 1
      local sink = assert(core.udp("127.0.0.1", port + 1))
      local got = {}
      sink:recv(function(data) got[#got + 1] = data end)
      local s = rtpmidi.RTPSession{ peer_address = "127.0.0.1", sending_port = port, payload = 96,
                                    tool_name = "codec spec", cname = "spec@localhost", rtcp_interval = 0.2 }
      assert(control:start_session(control:add_session(s)))
      for i = 1, 3 do assert(s:send_data("packet " .. i, i)) end
      local st = s:stats()
      -- a report after data sent: SR (RFC 3550 6.4.1), then SDES
      H.run_until(function() return #got > 0 end, "a report")
      local report = got[1]
      control:stop_session(s.cookie)
      H.run_until(function() return got[#got]:find("session stopped", 1, true) end, "the BYE")
      sink:close()

      local list = assert(codec.decode_rtcp(report))
      assert.are.same({ "SR", "SDES" }, { list[1].type, list[2].type, list[3] })
      local sr = list[1]
      assert.are.same({ 200, st.ssrc, 3, #"packet 1" * 3 }, { sr.pt, sr.ssrc, sr.packet_count, sr.octet_count })
      assert.are.same({}, sr.reports) -- nothing received: no report block
      assert.is_true(sr.ntp_sec > 0)
      local items = {}
      for _, it in ipairs(list[2].items) do
        assert.are.equal(st.ssrc, it.ssrc)
        items[it.type] = it.value
      end
      assert.are.same({ cname = "spec@localhost", tool = "codec spec" }, items)
      assert.are.equal(#report, list[1].length + list[2].length)
      assert.are.equal(('RTCP SR ssrc 0x%08x, 0 report block(s); SDES cname="spec@localhost" tool="codec spec"')
        :format(st.ssrc), monitor.describe(report))

      -- the core sends its BYE after an RR (never an SR), then SDES
      list = assert(codec.decode_rtcp(got[#got]))
      assert.are.same({ "RR", "SDES", "BYE" }, { list[1].type, list[2].type, list[3].type })
      assert.are.equal(st.ssrc, list[1].ssrc)
      assert.are.same({ st.ssrc }, list[3].ssrcs)
      assert.are.equal("session stopped", list[3].reason)
      assert.matches('; BYE 1 source%(s%) "session stopped"$', monitor.describe(got[#got]))
    end)

    it("refuses a compound RFC 3550 A.2 refuses", function()
      -- an SDES alone: a compound starts with SR or RR
      local sdes = bytes "81 ca 00 02 00 00 00 01 01 00 00 00"
      local t, err = codec.decode_rtcp(sdes)
      assert.is_nil(t)
      assert.are.equal("bad RTCP packet: compound does not start with SR or RR", err)
      -- an empty RR followed by a truncated packet
      t, err = codec.decode_rtcp(bytes "80 c9 00 01 00 00 00 01 81 ca 00 05 00 00")
      assert.is_nil(t)
      assert.matches("^bad RTCP packet: ", err)
      -- an empty RR is a compound of one
      assert.are.same({ { type = "RR", pt = 201, count = 0, padding = false, length = 8, ssrc = 1, reports = {} } },
                      codec.decode_rtcp(bytes "80 c9 00 01 00 00 00 01"))
    end)
  end)
end)
