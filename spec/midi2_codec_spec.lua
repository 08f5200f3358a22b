-- rtpmidi.codec.encode_midi2 / decode_midi2: Network MIDI 2.0 datagrams as
-- tables, against the layouts public implementations put on the wire (each
-- cited: [Z] Zephyr subsys/net/lib/midi2/netmidi2.c, [A] ALSA amidi2net
-- packet.c, [W] Windows MIDI Services MidiNetworkDataWriter.cpp), and the
-- Midi2Session options against docs/api.md.
local rtpmidi = require "rtpmidi"
local codec = rtpmidi.codec

local function bytes(hex)
  return (hex:gsub("%s+", ""):gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end))
end

describe("codec.decode_midi2 / encode_midi2", function()
  it("reads an invitation as amidi2net writes it (terminated, word-padded strings)", function()
    -- [A] __cmd_fill_invitation: code, payload words, name words, capabilities;
    -- strings with a terminator: "abcd" takes (4 + 4) / 4 = 2 words
    local d = assert(codec.decode_midi2(bytes [[
      4D 49 44 49  01 04 02 01  61 62 63 64 00 00 00 00  70 72 6F 64 00 00 00 00 ]]))
    assert.equal(1, #d)
    assert.same({ code = 0x01, command = "Invitation", data = 0x0201, capabilities = 1, name = "abcd",
      product_instance_id = "prod" }, d[1])
  end)

  it("writes the Bye Zephyr sends to inactive sessions, and reads it", function()
    -- [Z] netmidi2_free_inactive_sessions: { COMMAND_BYE, 0, 0x04, 0 }
    local p = codec.encode_midi2{ code = 0xF0, reason = 0x04 }
    assert.equal(bytes "4D 49 44 49 F0 00 04 00", p)
    assert.same({ { code = 0xF0, command = "Bye", data = 0x0400, reason = 4, text = "" } }, codec.decode_midi2(p))
  end)

  it("writes UMP Data, FEC copies first, as amidi2net and Windows do", function()
    -- [A] cmd_fill_ump_data: 0xFF, words, seqno high, seqno low, the words;
    -- [W] WriteCommandUmpMessages: header(UmpData, words, sequence), each word
    local p = codec.encode_midi2{
      { code = 0xFF, sequence = 1, words = { 0x20903C64 } },
      { code = 0xFF, sequence = 2, words = { 0x40903C00, 0xFFFF0000 } },
      { code = 0xFF, sequence = 3 }, -- a zero-length keep-alive ([W])
    }
    assert.equal(bytes [[4D 49 44 49  FF 01 00 01 20 90 3C 64
      FF 02 00 02 40 90 3C 00 FF FF 00 00  FF 00 00 03]], p)
    local d = codec.decode_midi2(p)
    assert.equal(3, #d)
    assert.same({ 0x40903C00, 0xFFFF0000 }, d[2].words)
    assert.equal(3, d[3].sequence)
    assert.same({}, d[3].words)
  end)

  it("writes Retransmit Request and Error as Windows and amidi2net do", function()
    -- [W] WriteCommandRetransmitRequest: header(0x80, 1, sequence), count, 0;
    -- [A] cmd_fill_retransmit_err: 0x81, 1, reason, 0, seqno, 0, 0
    assert.equal(bytes "4D 49 44 49 80 01 12 34 00 03 00 00",
      codec.encode_midi2{ code = 0x80, sequence = 0x1234, count = 3 })
    assert.equal(bytes "4D 49 44 49 81 01 01 00 01 02 00 00",
      codec.encode_midi2{ code = 0x81, reason = 1, sequence = 0x0102 })
  end)

  it("writes a NAK as Zephyr does, and reads amidi2net's 0x7F NAK as one", function()
    -- [Z] netmidi2_quick_nak: COMMAND_NAK (0x8F), reason << 8, the NAKed header
    assert.equal(bytes "4D 49 44 49 8F 01 03 00 20 02 00 00",
      codec.encode_midi2{ code = 0x8F, reason = 3, header = 0x20020000 })
    -- [A] UMP_NET_NAK = 0x7f, reason in buf[2]
    local d = codec.decode_midi2(bytes "4D 49 44 49 7F 01 02 00 FF 01 00 05")
    assert.equal("NAK", d[1].command)
    assert.equal(2, d[1].reason)
    assert.equal(0xFF010005, d[1].header)
  end)

  it("round-trips every command", function()
    local nonce, digest = string.rep("\x5A", 16), string.rep("\xA5", 32)
    local cmds = {
      { code = 0x01, capabilities = 3, name = "client", product_instance_id = "C-1" },
      { code = 0x02, digest = digest },
      { code = 0x03, digest = digest, user = "alice" },
      { code = 0x10, name = "host", product_instance_id = "" },
      { code = 0x11, name = "host", product_instance_id = "H" },
      { code = 0x12, state = 0, nonce = nonce, name = "host", product_instance_id = "" },
      { code = 0x13, state = 1, nonce = nonce, name = "", product_instance_id = "" },
      { code = 0x20, id = 7 }, { code = 0x21, id = 0xFFFFFFFF },
      { code = 0x80, sequence = 65535, count = 0 }, { code = 0x81, reason = 1, sequence = 9 },
      { code = 0x82 }, { code = 0x83 },
      { code = 0x8F, reason = 1, header = 0x55000000, text = "no" },
      { code = 0xF0, reason = 0x80, text = "later" }, { code = 0xF1 },
      { code = 0xFF, sequence = 300, words = { 0x10F80000, 0x30160102, 0x03040506 } },
    }
    local d = assert(codec.decode_midi2(codec.encode_midi2(cmds)))
    assert.equal(#cmds, #d)
    for i, c in ipairs(cmds) do
      for k, v in pairs(c) do assert.same(v, d[i][k], ("command %d field %s"):format(i, k)) end
    end
  end)

  it("reports what does not parse", function()
    local none, err = codec.decode_midi2("RTP!")
    assert.is_nil(none)
    assert.matches("no MIDI signature", err)
    local d = codec.decode_midi2(bytes "4D 49 44 49 20 02 00 00 01 02 03 04 05 06 07 08 55 00 00 00")
    assert.equal("wrong payload length", d[1].error)
    assert.equal("unknown command", d[2].error)
    assert.equal(0x55, d[2].code)
    d = codec.decode_midi2(bytes "4D 49 44 49 FF 01 00 00 40 90 3C 00")
    assert.equal("UMP Data not whole messages", d[1].error)
    d = codec.decode_midi2(bytes "4D 49 44 49 FF 04 00 00")
    assert.equal("truncated", d[1].error)
  end)

  it("refuses what cannot be written, naming the field", function()
    assert.has_error(function() codec.encode_midi2{ code = 0x42 } end,
      "bad argument 'code' (a Network MIDI 2.0 command code expected)")
    assert.has_error(function() codec.encode_midi2{ code = 0x01, name = string.rep("n", 99) } end,
      "bad argument 'name' (at most 98 octets)")
    assert.has_error(function() codec.encode_midi2{ code = 0x12, nonce = "short" } end,
      "bad argument 'nonce' (string of 16 octets expected)")
    assert.has_error(function() codec.encode_midi2{ code = 0xFF, words = { 0x40903C00 } } end,
      "bad argument 'words' (whole UMP messages expected)")
    assert.has_error(function() codec.encode_midi2{ code = 0x20, id = -1 } end)
  end)
end)

describe("Midi2Session options", function()
  it("are all in docs/api.md, with what a bad value says", function()
    local doc = assert(io.open((os.getenv("RTPMIDI_SOURCE_DIR") or ".") .. "/docs/api.md")):read("a")
    local section = doc:match("\n## Midi2Session\n(.-)\n## ")
    assert.is_truthy(section, "docs/api.md has no Midi2Session section")
    for _, o in ipairs(rtpmidi.Midi2Session.OPTIONS.list) do
      assert.is_truthy(section:find("`" .. o.name .. "`", 1, true), o.name .. " is not in docs/api.md")
      assert.is_truthy(o.expect, o.name)
      assert.is_false(o.default ~= nil and o.nonzero == true, o.name)
    end
    for _, cb in ipairs(rtpmidi.Midi2Session.CALLBACKS) do
      assert.is_truthy(section:find(cb, 1, true), cb .. " is not in docs/api.md")
    end
  end)
end)
