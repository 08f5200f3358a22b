-- Readable one-line descriptions of what crosses the wire: MIDI messages,
-- RTP-MIDI packets (RFC 6295: the command section and the recovery journal's
-- table of contents), RTCP compound packets (RFC 3550) and AppleMIDI session
-- commands. Used by `rtpmidi monitor`; pure functions on strings. The
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

--- Whatever arrived: AppleMIDI, RTCP, or RTP(-MIDI).
function M.describe(data)
  local s = M.describe_applemidi(data) or M.describe_rtcp(data)
  if s then return s end
  local r, err = M.describe_rtp(data)
  if r then return r end
  return ("%d octets, not RTP (%s): %s"):format(#data, tostring(err), M.hex(data:sub(1, 16)))
end

return M
