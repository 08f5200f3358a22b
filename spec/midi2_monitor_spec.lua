-- `rtpmidi monitor` and rtpmidi.monitor on Network MIDI 2.0 packets: the
-- session commands and each Universal MIDI Packet of UMP Data in one line,
-- through rtpmidi.codec.decode_midi2 (the parser the sessions use).
local rtpmidi = require "rtpmidi"
local codec = rtpmidi.codec
local monitor = require "rtpmidi.monitor"
local H = require "helper"
local P = require "proc"

local control = rtpmidi.RTPControl()

describe("rtpmidi.monitor on Network MIDI 2.0", function()
  it("describes one UMP message of each type", function()
    local cases = {
      { { 0x00000000 }, "utility noop" },
      { { 0x0020ABCD }, "utility jr timestamp" },
      { { 0x12F80000 }, "g2 clock" },
      { { 0x10F20102 }, "g0 song position 257" },
      { { 0x21903C64 }, "g1 note on ch1 C4 vel 100" },
      { { 0x2FB50740 }, "g15 cc ch6 7 = 64" },
      { { 0x30160102, 0x03040506 }, "g0 sysex7 start 6 octets" },
      { { 0x30320102, 0 }, "g0 sysex7 end 2 octets" },
      { { 0x40903C00, 0xC9240000 }, "g0 MIDI 2.0 note on ch1 C4 vel 0xc924" },
      { { 0x40813D03, 0x80001234 }, "g0 MIDI 2.0 note off ch2 C#4 vel 0x8000 attr 3 0x1234" },
      { { 0x40BF0100, 0xFFFFFFFF }, "g0 MIDI 2.0 cc ch16 1 = 0xffffffff" },
      { { 0x40C10001, 0x11000503 }, "g0 MIDI 2.0 program ch2 17 bank 5/3" },
      { { 0x40C10000, 0x11000000 }, "g0 MIDI 2.0 program ch2 17" },
      { { 0x40200000, 0x04000000 }, "g0 MIDI 2.0 rpn ch1 0/0 = 0x04000000" },
      { { 0x40E00000, 0x80000000 }, "g0 MIDI 2.0 pitch bend ch1 0x80000000" },
      { { 0x40D30000, 0x40000000 }, "g0 MIDI 2.0 pressure ch4 0x40000000" },
      { { 0x40A03C00, 0x12345678 }, "g0 MIDI 2.0 poly pressure ch1 C4 0x12345678" },
      { { 0x40113C07, 0x00000001 }, "g0 MIDI 2.0 per-note acc ch2 C4 #7 = 0x00000001" },
      { { 0x40013C07, 0x00000001 }, "g0 MIDI 2.0 per-note rcc ch2 C4 #7 = 0x00000001" },
      { { 0x51050000, 0, 0, 0 }, "g1 sysex8 complete 5 octets" },
      { { 0x50800000, 0, 0, 0 }, "g0 mixed data set header" },
      { { 0xD0100001, 0, 0, 0 }, "g0 flex data bank 0 status 1" },
      { { 0xF0000101, 0x1F000000, 0, 0 }, "stream endpoint discovery" },
      { { 0xF0110000, 0, 0, 0 }, "stream function block info" },
      { { 0x60000000 }, "MT 6 60000000" },
    }
    for _, c in ipairs(cases) do assert.equal(c[2], monitor.describe_ump(c[1])) end
  end)

  it("describes every session command, in one line per datagram", function()
    local d = monitor.describe
    assert.equal('Network MIDI 2.0 Invitation name "laptop" piid "C-1" capabilities 0x03',
      d(codec.encode_midi2{ code = 0x01, name = "laptop", product_instance_id = "C-1", capabilities = 3 }))
    assert.equal('Network MIDI 2.0 Invitation Reply: Accepted name "studio"',
      d(codec.encode_midi2{ code = 0x10, name = "studio" }))
    assert.equal('Network MIDI 2.0 Invitation Reply: Authentication Required state 0 name "studio"',
      d(codec.encode_midi2{ code = 0x12, nonce = ("n"):rep(16), name = "studio" }))
    assert.equal('Network MIDI 2.0 Invitation with User Authentication user "alice"',
      d(codec.encode_midi2{ code = 0x03, digest = ("d"):rep(32), user = "alice" }))
    assert.equal("Network MIDI 2.0 Ping id 0x0000002a | Ping Reply id 0x00000007",
      d(codec.encode_midi2{ { code = 0x20, id = 42 }, { code = 0x21, id = 7 } }))
    assert.equal("Network MIDI 2.0 Retransmit Request seq 10 count 3",
      d(codec.encode_midi2{ code = 0x80, sequence = 10, count = 3 }))
    assert.equal("Network MIDI 2.0 Retransmit Error seq 4 reason 0x01",
      d(codec.encode_midi2{ code = 0x81, sequence = 4, reason = 1 }))
    assert.equal("Network MIDI 2.0 Session Reset | Session Reset Reply",
      d(codec.encode_midi2{ { code = 0x82 }, { code = 0x83 } }))
    assert.equal('Network MIDI 2.0 NAK 0x03 command malformed "bad length"',
      d(codec.encode_midi2{ code = 0x8F, reason = 3, header = 0x20010000, text = "bad length" }))
    assert.equal("Network MIDI 2.0 Bye 0x43 authentication failed | Bye Reply",
      d(codec.encode_midi2{ { code = 0xF0, reason = 0x43 }, { code = 0xF1 } }))
    assert.equal("Network MIDI 2.0 UMP Data seq 9: g0 MIDI 2.0 note on ch1 C4 vel 0xc924; g0 cc ch1 7 = 100",
      d(codec.encode_midi2{ code = 0xFF, sequence = 9, words = { 0x40903C00, 0xC9240000, 0x20B00764 } }))
    assert.equal("Network MIDI 2.0 UMP Data seq 1 (empty)", d(codec.encode_midi2{ code = 0xFF, sequence = 1 }))
    -- FEC: the previous commands ride along, each in its own part
    assert.equal("Network MIDI 2.0 UMP Data seq 1: g0 clock | UMP Data seq 2: g0 start",
      d(codec.encode_midi2{ { code = 0xFF, sequence = 1, words = { 0x10F80000 } },
                            { code = 0xFF, sequence = 2, words = { 0x10FA0000 } } }))
  end)

  it("says what is wrong with a packet that does not parse", function()
    local d = monitor.describe
    assert.equal("Network MIDI 2.0 (no commands)", d("MIDI"))
    assert.equal("Network MIDI 2.0 UMP Data (truncated)", d("MIDI\xFF\x05\x00\x00"))
    assert.equal("Network MIDI 2.0 Ping id 0x00000001 | command (truncated)",
      d("MIDI\x20\x01\x00\x00\x00\x00\x00\x01\x99"))
    -- a UMP Data payload whose last message is cut short: the parser refuses it
    assert.matches("^Network MIDI 2.0 UMP Data %(", d("MIDI\xFF\x01\x00\x00\x40\x90\x3C\x00"))
  end)
end)

describe("rtpmidi monitor", function()
  local own
  before_each(function() own = H.owned() end)
  after_each(function()
    own.release()
    P.kill_all()
    H.assert_clean()
  end)

  it("prints a Midi2Session's invitation and the UMP of UMP Data, one line each", function()
    local port = H.port()
    local m = P.rtpmidi({ "monitor", tostring(port), "--bind", "127.0.0.1", "-t", "20" })
    m:wait_for(function(p) return p:stderr():find("listening", 1, true) end, "the monitor to listen", 10000)
    -- a real client invites the monitor (which never answers)
    local c = rtpmidi.Midi2Session{ name = "spec client", product_instance_id = "S-1", role = "client",
      port = H.port(), invite_interval = 100 }
    assert(control:start_session(control:add_session(c)))
    assert(c:invite("127.0.0.1", port))
    m:wait_for(function(p) return p:stdout():find("Invitation", 1, true) end, "the invitation", 5000)
    assert.matches('127.0.0.1:%d+ %-> %d+  Network MIDI 2.0 Invitation name "spec client" piid "S%-1" capabilities',
      m:stdout())
    -- UMP Data with its FEC copy, as a session sends it
    local sock = own.udp("127.0.0.1", 0)
    sock:send(codec.encode_midi2{ { code = 0xFF, sequence = 0, words = { 0x40903C00, 0xC9240000 } },
                                  { code = 0xFF, sequence = 1, words = { 0x40803C00, 0x80000000 } } },
      "127.0.0.1", port)
    m:wait_for(function(p) return p:stdout():find("UMP Data", 1, true) end, "the UMP Data", 5000)
    assert.matches("UMP Data seq 0: g0 MIDI 2.0 note on ch1 C4 vel 0xc924 | UMP Data seq 1: g0 MIDI 2.0 note off ch1 C4 vel 0x8000",
      m:stdout(), 1, true)
    control:stop()
    m:signal("INT")
    assert.are.equal(0, m:wait_exit(5000))
  end)
end)
