-- Readable one-line descriptions of what crosses the wire: MIDI messages,
-- RTP-MIDI packets (RFC 6295: the command section and the recovery journal's
-- table of contents), RTCP compound packets (RFC 3550) and AppleMIDI session
-- commands. Used by `rtpmidi monitor`; pure functions on strings.
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

--- The recovery journal's header and tables of contents (RFC 6295 section
-- 5 and appendix A): "journal 23 octets, checkpoint 1234, channels 1
-- [N], system [V]" and its flags (S: single-packet loss, H: enhanced
-- Chapter C). Raw journals are parsed here; nothing is repaired.
function M.describe_journal(j)
  if #j < 3 then return ("journal %d octets (truncated)"):format(#j) end
  local h, checkpoint = string.unpack(">B I2", j)
  local s, y, a, hh = h >> 7 & 1, h >> 6 & 1, h >> 5 & 1, h >> 4 & 1
  local totchan = (h & 0x0F) + 1
  local parts = { ("journal %d octets, checkpoint %d"):format(#j, checkpoint) }
  local flags = {}
  if s == 1 then flags[#flags + 1] = "S" end
  if hh == 1 then flags[#flags + 1] = "H" end
  local pos = 4
  if y == 1 then
    if #j < pos + 1 then return table.concat(parts, ", ") .. ", system journal truncated" end
    local w = string.unpack(">I2", j, pos)
    local toc = {}
    for i, name in ipairs(SYS_CHAPTERS) do
      if w >> (15 - i) & 1 == 1 then toc[#toc + 1] = name end
    end
    parts[#parts + 1] = "system [" .. table.concat(toc) .. "]"
    pos = pos + math.max(2, w & 0x3FF)
  end
  if a == 1 then
    local chans = {}
    for _ = 1, totchan do
      if #j < pos + 2 then chans[#chans + 1] = "truncated"; break end
      local w, toc_bits = string.unpack(">I2 B", j, pos)
      local chan = (w >> 11 & 0x0F) + 1
      local toc = {}
      for i, name in ipairs(CHAPTERS) do
        if toc_bits >> (8 - i) & 1 == 1 then toc[#toc + 1] = name end
      end
      chans[#chans + 1] = ("%d [%s]"):format(chan, table.concat(toc))
      pos = pos + math.max(3, w & 0x3FF)
    end
    parts[#parts + 1] = "channel " .. table.concat(chans, " ")
  end
  if #flags > 0 then parts[#parts + 1] = "flags " .. table.concat(flags) end
  return table.concat(parts, ", ")
end

local APPLE = {
  IN = "invitation", OK = "invitation accepted", NO = "invitation rejected", BY = "end of session",
  CK = "clock sync", RS = "receiver feedback",
}

--- An AppleMIDI session packet (0xFFFF signature), or nil when it is not one.
function M.describe_applemidi(data)
  if #data < 4 or data:byte(1) ~= 0xFF or data:byte(2) ~= 0xFF then return nil end
  if codec.decode_applemidi then
    local t = codec.decode_applemidi(data)
    if t and t.command then
      local fields = {}
      for k, v in pairs(t) do
        if k ~= "command" then fields[#fields + 1] = k .. "=" .. tostring(v) end
      end
      table.sort(fields)
      return ("AppleMIDI %s (%s) %s"):format(t.command, APPLE[t.command] or "?", table.concat(fields, " "))
    end
  end
  local cmd = data:sub(3, 4)
  local what = ("AppleMIDI %s (%s)"):format(cmd:match("^%u%u$") and cmd or M.hex(cmd), APPLE[cmd] or "unknown command")
  if (cmd == "IN" or cmd == "OK" or cmd == "NO" or cmd == "BY") and #data >= 16 then
    local version, token, ssrc = string.unpack(">I4 I4 I4", data, 5)
    local name = data:sub(17):match("^([^%z]*)")
    return ("%s version %d token 0x%08x ssrc 0x%08x%s"):format(what, version, token, ssrc,
      name ~= "" and (" name %q"):format(name) or "")
  elseif cmd == "CK" and #data >= 36 then
    local ssrc, count = string.unpack(">I4 B", data, 5)
    local ts = { string.unpack(">I8 I8 I8", data, 13) }
    return ("%s ssrc 0x%08x count %d timestamps %d %d %d"):format(what, ssrc, count, ts[1], ts[2], ts[3])
  elseif cmd == "RS" and #data >= 12 then
    local ssrc, seq = string.unpack(">I4 I4", data, 5)
    return ("%s ssrc 0x%08x seq %d"):format(what, ssrc, seq >> 16)
  end
  return ("%s %d octets"):format(what, #data)
end

local RTCP = { [200] = "SR", [201] = "RR", [202] = "SDES", [203] = "BYE", [204] = "APP" }

--- An RTCP compound packet, or nil when it is not one.
function M.describe_rtcp(data)
  if #data < 8 or data:byte(1) >> 6 ~= 2 or not RTCP[data:byte(2)] then return nil end
  local parts, pos = {}, 1
  while pos + 3 <= #data do
    local b0, pt, len = string.unpack(">B B I2", data, pos)
    local size = (len + 1) * 4
    local name = RTCP[pt] or ("type " .. pt)
    local count = b0 & 0x1F
    local body = data:sub(pos + 4, pos + size - 1)
    if pt == 200 or pt == 201 then
      local ssrc = #body >= 4 and string.unpack(">I4", body) or 0
      parts[#parts + 1] = ("%s ssrc 0x%08x, %d report block(s)"):format(name, ssrc, count)
    elseif pt == 202 and #body >= 4 then
      local items, p = {}, 5
      while p + 1 <= #body do
        local t, l = body:byte(p, p + 1)
        if t == 0 then break end
        local k = ({ "cname", "name", "email", "phone", "loc", "tool", "note", "priv" })[t] or tostring(t)
        items[#items + 1] = ("%s=%q"):format(k, body:sub(p + 2, p + 1 + l))
        p = p + 2 + l
      end
      parts[#parts + 1] = "SDES " .. table.concat(items, " ")
    elseif pt == 203 then
      local reason = ""
      local rp = count * 4 + 1
      if #body > rp then reason = body:sub(rp + 1, rp + body:byte(rp)) end
      parts[#parts + 1] = ("BYE %d source(s)%s"):format(count, reason ~= "" and (" %q"):format(reason) or "")
    else
      parts[#parts + 1] = name
    end
    pos = pos + size
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
