-- Readable one-line descriptions of what crosses the wire: MIDI messages,
-- RTP-MIDI packets (RFC 6295: the command section and the recovery journal's
-- table of contents), RTCP compound packets (RFC 3550) and AppleMIDI session
-- commands, Network MIDI 2.0 packets (UMP over UDP: session commands and
-- the Universal MIDI Packets of UMP Data). Used by `rtpmidi monitor`; pure
-- functions on strings. The
-- packets are read by rtpmidi.codec, i.e. by the parsers the sessions use.
local codec = require "rtpmidi.codec"

local M = {}

local NOTE_NAMES = { "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B" }

function M.note_name(n)
  return NOTE_NAMES[n % 12 + 1] .. (n // 12 - 1)
end

function M.hex(s)
  return (s:gsub(".", function(c) return ("%02x "):format(c:byte()) end):gsub(" $", ""))
end

local SYSTEM = {
  [0xF1] = "MTC quarter frame", [0xF2] = "song position", [0xF3] = "song select",
  [0xF6] = "tune request", [0xF8] = "clock", [0xFA] = "start", [0xFB] = "continue",
  [0xFC] = "stop", [0xFE] = "active sensing", [0xFF] = "reset",
}

--- One MIDI message, e.g. "note on ch1 C4 vel 100".
function M.describe_midi(msg)
  local status, d1, d2 = msg:byte(1, 3)
  if not status then return "(empty)" end
  if status >= 0xF0 then
    if status == 0xF0 or status == 0xF7 then return ("sysex %d octets"):format(#msg) end
    if status == 0xF2 and d2 then return ("song position %d"):format(d1 | (d2 << 7)) end
    return SYSTEM[status] or M.hex(msg)
  end
  local kind, ch = status & 0xF0, (status & 0x0F) + 1
  d1, d2 = d1 or 0, d2 or 0
  if kind == 0x90 and d2 > 0 then
    return ("note on ch%d %s vel %d"):format(ch, M.note_name(d1), d2)
  elseif kind == 0x80 or kind == 0x90 then
    return ("note off ch%d %s"):format(ch, M.note_name(d1))
  elseif kind == 0xA0 then
    return ("aftertouch ch%d %s %d"):format(ch, M.note_name(d1), d2)
  elseif kind == 0xB0 then
    return ("cc ch%d %d = %d"):format(ch, d1, d2)
  elseif kind == 0xC0 then
    return ("program ch%d %d"):format(ch, d1)
  elseif kind == 0xD0 then
    return ("pressure ch%d %d"):format(ch, d1)
  else
    return ("pitch bend ch%d %d"):format(ch, (d1 | (d2 << 7)) - 8192)
  end
end

local CHAPTERS = { "P", "C", "M", "W", "N", "E", "T", "A" }
local SYS_CHAPTERS = { "D", "V", "Q", "F", "X" }

local function toc(t, names)
  local out = {}
  for _, name in ipairs(names) do
    if t[name] then out[#out + 1] = name end
  end
  return table.concat(out)
end

--- The recovery journal as rtpmidi.codec.decode_midi_payload decodes it
-- (RFC 6295 section 5 and appendices A and B), in one line: "journal 23
-- octets, checkpoint 1234, system [Q], channel 1 [N] 10 [PC], flags SH"
-- (S: single-packet loss, H: enhanced Chapter C).
function M.describe_journal(j)
  if j.error then return ("journal %d octets (%s)"):format(#j.raw, j.error) end
  local parts = { ("journal %d octets, checkpoint %d"):format(#j.raw, j.checkpoint) }
  if j.system then parts[#parts + 1] = "system [" .. toc(j.system, SYS_CHAPTERS) .. "]" end
  if #j.channels > 0 then
    local chans = {}
    for _, c in ipairs(j.channels) do chans[#chans + 1] = ("%d [%s]"):format(c.chan + 1, toc(c, CHAPTERS)) end
    parts[#parts + 1] = "channel " .. table.concat(chans, " ")
  end
  local flags = (j.s and "S" or "") .. (j.h and "H" or "")
  if flags ~= "" then parts[#parts + 1] = "flags " .. flags end
  return table.concat(parts, ", ")
end

local APPLE = {
  IN = "invitation", OK = "invitation accepted", NO = "invitation rejected", BY = "end of session",
  CK = "clock sync", RS = "receiver feedback",
}

--- An AppleMIDI session packet (0xFFFF signature), or nil when it is not one.
function M.describe_applemidi(data)
  if data:sub(1, 2) ~= "\xFF\xFF" then return nil end
  local t, err = codec.decode_applemidi(data)
  if not t then return ("AppleMIDI, %d octets (%s)"):format(#data, err) end
  local what = ("AppleMIDI %s (%s)"):format(t.command, APPLE[t.command])
  if t.command == "CK" then
    local ts = t.timestamps
    return ("%s ssrc 0x%08x count %d timestamps %d %d %d"):format(what, t.ssrc, t.count, ts[1], ts[2], ts[3])
  elseif t.command == "RS" then
    return ("%s ssrc 0x%08x seq %d"):format(what, t.ssrc, t.seq)
  end
  return ("%s version %d token 0x%08x ssrc 0x%08x%s"):format(what, t.version, t.token, t.ssrc,
    t.name and (" name %q"):format(t.name) or "")
end

--- An RTCP compound packet (a second octet of 192..223, RFC 5761 section
-- 4), or nil when it is not one.
function M.describe_rtcp(data)
  local pt = data:byte(2)
  if not pt or pt < 192 or pt > 223 then return nil end
  local list, err = codec.decode_rtcp(data)
  if not list then return ("RTCP, %d octets (%s)"):format(#data, err) end
  local parts = {}
  for _, p in ipairs(list) do
    if p.type == "SR" or p.type == "RR" then
      parts[#parts + 1] = ("%s ssrc 0x%08x, %d report block(s)"):format(p.type, p.ssrc, #p.reports)
    elseif p.type == "SDES" then
      local items = {}
      for _, it in ipairs(p.items) do items[#items + 1] = ("%s=%q"):format(it.type, it.value) end
      parts[#parts + 1] = "SDES " .. table.concat(items, " ")
    elseif p.type == "BYE" then
      parts[#parts + 1] = ("BYE %d source(s)%s"):format(#p.ssrcs, p.reason and (" %q"):format(p.reason) or "")
    else
      parts[#parts + 1] = p.type or ("type " .. p.pt)
    end
  end
  return "RTCP " .. table.concat(parts, "; ")
end

--- An RTP packet carrying MIDI (or another payload), or nil, err.
function M.describe_rtp(data)
  local rtp, err = codec.decode_rtp(data)
  if not rtp then return nil, err end
  local head = ("RTP pt %d seq %d ts %d ssrc 0x%08x%s"):format(rtp.payload_type, rtp.sequence,
    rtp.timestamp, rtp.ssrc, rtp.marker and " M" or "")
  local midi = codec.decode_midi_payload(rtp.payload)
  if not midi then return ("%s, %d payload octets (not MIDI)"):format(head, #rtp.payload) end
  local msgs = {}
  for _, c in ipairs(midi.commands) do
    msgs[#msgs + 1] = (c.delta > 0 and ("+%d "):format(c.delta) or "") .. M.describe_midi(c.bytes)
  end
  local out = head .. ", MIDI " .. (#msgs > 0 and table.concat(msgs, "; ") or "(no commands)")
  if midi.journal then out = out .. " | " .. M.describe_journal(midi.journal) end
  return out
end

-- UMP ------------------------------------------------------------------------
-- Message sizes and layouts as csrc/proto/ump.h cites them (Windows MIDI
-- Services, Zephyr, the Linux kernel's sound/core/ump_convert.c).

local UMP_WORDS = { [0] = 1, 1, 1, 2, 2, 4, 1, 1, 2, 2, 2, 3, 3, 4, 4, 4 }
M.UMP_WORDS = UMP_WORDS

local M2_STATUS = {
  [0x0] = "per-note rcc", [0x1] = "per-note acc", [0x2] = "rpn", [0x3] = "nrpn",
  [0x4] = "relative rpn", [0x5] = "relative nrpn", [0x6] = "per-note pitch bend",
  [0x8] = "note off", [0x9] = "note on", [0xA] = "poly pressure", [0xB] = "cc", [0xC] = "program",
  [0xD] = "pressure", [0xE] = "pitch bend", [0xF] = "per-note management",
}
local SX_STATUS = { [0] = "complete", "start", "continue", "end" }
local STREAM_STATUS = {
  [0x000] = "endpoint discovery", [0x001] = "endpoint info", [0x002] = "device identity",
  [0x003] = "endpoint name", [0x004] = "product instance id", [0x005] = "stream configuration request",
  [0x006] = "stream configuration notification", [0x010] = "function block discovery",
  [0x011] = "function block info", [0x012] = "function block name", [0x020] = "start of clip",
  [0x021] = "end of clip",
}
local UTILITY = { [0] = "noop", "jr clock", "jr timestamp", "delta clockstamp tpq", "delta clockstamp" }

--- One UMP message (a list of its words, host order), e.g. "g0 MIDI 2.0
-- note on ch1 C4 vel 0xc924" or "g0 note on ch1 C4 vel 100" (MT 2).
function M.describe_ump(w)
  local w0 = w[1] or 0
  local mt, group = w0 >> 28, w0 >> 24 & 0xF
  local g = ("g%d "):format(group)
  if mt == 0x0 then
    local st = w0 >> 20 & 0xF
    return ("utility %s"):format(UTILITY[st] or ("status %d"):format(st))
  elseif mt == 0x1 or mt == 0x2 then
    local bytes = codec.ump_to_midi1({ w0 })
    return g .. (#bytes > 0 and M.describe_midi(bytes) or ("%08x"):format(w0))
  elseif mt == 0x3 then
    local n = w0 >> 16 & 0xF
    return ("%ssysex7 %s %d octets"):format(g, SX_STATUS[w0 >> 20 & 0xF] or "?", n)
  elseif mt == 0x4 then
    local st, ch, b2, b3, v = w0 >> 20 & 0xF, (w0 >> 16 & 0xF) + 1, w0 >> 8 & 0xFF, w0 & 0xFF, w[2] or 0
    local name = ("%sMIDI 2.0 %s ch%d"):format(g, M2_STATUS[st] or ("status %x"):format(st), ch)
    if st == 0x8 or st == 0x9 then
      return ("%s %s vel 0x%04x%s"):format(name, M.note_name(b2 & 0x7F), v >> 16,
        b3 ~= 0 and (" attr %d 0x%04x"):format(b3, v & 0xFFFF) or "")
    elseif st == 0xA or st <= 0x1 or st == 0x6 then
      return ("%s %s %s0x%08x"):format(name, M.note_name(b2 & 0x7F), st <= 1 and ("#%d = "):format(b3) or "", v)
    elseif st == 0xB then
      return ("%s %d = 0x%08x"):format(name, b2 & 0x7F, v)
    elseif st == 0xC then
      local bank = (b3 & 1) == 1 and (" bank %d/%d"):format(v >> 8 & 0x7F, v & 0x7F) or ""
      return ("%s %d%s"):format(name, v >> 24 & 0x7F, bank)
    elseif st >= 0x2 and st <= 0x5 then
      return ("%s %d/%d = 0x%08x"):format(name, b2 & 0x7F, b3 & 0x7F, v)
    elseif st == 0xF then
      return ("%s %s flags %d"):format(name, M.note_name(b2 & 0x7F), b3)
    end
    return ("%s 0x%08x"):format(name, v)
  elseif mt == 0x5 then
    local st = w0 >> 20 & 0xF
    if st >= 8 then return ("%smixed data set %s"):format(g, st == 8 and "header" or "payload") end
    return ("%ssysex8 %s %d octets"):format(g, SX_STATUS[st] or "?", w0 >> 16 & 0xF)
  elseif mt == 0xD then
    return ("%sflex data bank %d status %d"):format(g, w0 >> 8 & 0xFF, w0 & 0xFF)
  elseif mt == 0xF then
    local st = w0 >> 16 & 0x3FF
    return "stream " .. (STREAM_STATUS[st] or ("status 0x%03x"):format(st))
  end
  local t = {}
  for i, x in ipairs(w) do t[i] = ("%08x"):format(x) end
  return ("MT %x %s"):format(mt, table.concat(t, " "))
end

--- The UMP messages in a list of words, one description each (a message
-- cut short at the end is said so).
function M.describe_ump_words(words)
  local out, i = {}, 1
  while i <= #words do
    local n = UMP_WORDS[words[i] >> 28]
    if i + n - 1 > #words then
      out[#out + 1] = ("(%d words cut short)"):format(#words - i + 1)
      break
    end
    out[#out + 1] = M.describe_ump(table.move(words, i, i + n - 1, 1, {}))
    i = i + n
  end
  return out
end

local NAK_REASONS = { [0x00] = "other", [0x01] = "command not supported", [0x02] = "command not expected",
  [0x03] = "command malformed", [0x20] = "bad ping reply" }
local BYE_REASONS = {
  [0x00] = "unknown", [0x01] = "user terminated", [0x02] = "power down", [0x03] = "too many missing packets",
  [0x04] = "timeout", [0x05] = "session not established", [0x06] = "no pending session",
  [0x07] = "protocol error", [0x40] = "too many sessions", [0x41] = "missing prior authentication",
  [0x42] = "user did not accept", [0x43] = "authentication failed", [0x44] = "user not found",
  [0x45] = "no matching authentication method", [0x80] = "invitation canceled",
}

local function reason(list, r) return (("0x%02x %s"):format(r, list[r] or ""):gsub(" $", "")) end

--- One Network MIDI 2.0 command as decode_midi2 reads it.
function M.describe_midi2_command(c)
  if c.error then return ("%s (%s)"):format(c.command or "command", c.error) end
  local code, what = c.code, c.command
  if code == 0x01 or code == 0x10 or code == 0x11 then
    return ("%s name %q%s%s"):format(what, c.name, c.product_instance_id ~= "" and (" piid %q"):format(c.product_instance_id) or "",
      code == 0x01 and (" capabilities 0x%02x"):format(c.capabilities) or "")
  elseif code == 0x12 or code == 0x13 then
    return ("%s state %d name %q"):format(what, c.state, c.name)
  elseif code == 0x02 or code == 0x03 then
    return ("%s%s"):format(what, code == 0x03 and (" user %q"):format(c.user) or "")
  elseif code == 0x20 or code == 0x21 then
    return ("%s id 0x%08x"):format(what, c.id)
  elseif code == 0x80 then
    return ("%s seq %d count %d"):format(what, c.sequence, c.count)
  elseif code == 0x81 then
    return ("%s seq %d reason 0x%02x"):format(what, c.sequence, c.reason)
  elseif code == 0x8F then
    return ("%s %s%s"):format(what, reason(NAK_REASONS, c.reason), c.text ~= "" and (" %q"):format(c.text) or "")
  elseif code == 0xF0 then
    return ("%s %s%s"):format(what, reason(BYE_REASONS, c.reason), c.text ~= "" and (" %q"):format(c.text) or "")
  elseif code == 0xFF then
    if #c.words == 0 then return ("UMP Data seq %d (empty)"):format(c.sequence) end
    return ("UMP Data seq %d: %s"):format(c.sequence, table.concat(M.describe_ump_words(c.words), "; "))
  end
  return what
end

--- A Network MIDI 2.0 packet (the "MIDI" signature), or nil when it is
-- not one: "Network MIDI 2.0 Ping id 0x00000001 | UMP Data seq 3: ...".
function M.describe_midi2(data)
  if data:sub(1, 4) ~= "MIDI" then return nil end
  local list, err = codec.decode_midi2(data)
  if not list then return ("Network MIDI 2.0, %d octets (%s)"):format(#data, err) end
  if #list == 0 then return "Network MIDI 2.0 (no commands)" end
  local parts = {}
  for i, c in ipairs(list) do parts[i] = M.describe_midi2_command(c) end
  return "Network MIDI 2.0 " .. table.concat(parts, " | ")
end

--- Whatever arrived: AppleMIDI, RTCP, Network MIDI 2.0, or RTP(-MIDI).
function M.describe(data)
  local s = M.describe_applemidi(data) or M.describe_rtcp(data) or M.describe_midi2(data)
  if s then return s end
  local r, err = M.describe_rtp(data)
  if r then return r end
  return ("%d octets, not RTP (%s): %s"):format(#data, tostring(err), M.hex(data:sub(1, 16)))
end

return M
