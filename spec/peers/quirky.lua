-- Scripted peers that behave as the implementations musicians run do
-- (issue 18), for spec/interop_spec.lua. Each is driven by the caller's
-- loop: plain UDP sockets of rtpmidi.core (loopback only) and the packet
-- codecs of rtpmidi.codec. The behaviour of each peer is as the issue
-- describes it (observed against the real programs); nothing here is
-- copied from them.
--
--   Q.direct_rtp{ port=, to_port= }            MIDIMonster's rtpmidi "direct" mode and
--                                               many hardware boxes: RTP-MIDI on one port,
--                                               no RTCP port at all
--   Q.apple{ port=, name=, quirks={...} }       an AppleMIDI session with quirks:
--     bye_both      (rtpmidid) counts a session ended only when BY came on both ports
--     rs_low16      (rtpmidid) RS with the sequence number in the low 16 bits
--     rs_stale      RS that never confirms anything: it names the packet before the
--                   first one received
--     feedback_data (raveloxmidi) after every RTP packet, an RS on the data port
--                   carrying OUR SSRC (the one in the packet it answers)
--     data_ssrc     (pymidi) a data-port OK (and its data traffic) from another SSRC
--     host_order    (MIDIMonster) RTP and CK timestamps in host (little-endian) order
--     strict_y      (pymidi) misreads journals with S=1, Y=0: counted in .crashes
--     strict_journal (rtpmidid) "throws" on a journal covering >= 2 channels
--                   with P/C/M/W chapters: counted in .crashes, the packet lost
local core = require "rtpmidi.core"
local codec = require "rtpmidi.codec"
local rtpmidi = require "rtpmidi"

local Q = {}
local HOST = "127.0.0.1"

-- Every datagram the peers send or receive: { time=, sport=, dport=, data= }
-- (spec/peers/pcap.lua writes them for tshark).
Q.captured = {}
local function udp(port)
  local s = assert(core.udp(HOST, port))
  local me = s:port()
  local w = { raw = s }
  function w:send(data, _, to)
    Q.captured[#Q.captured + 1] = { time = rtpmidi.now() / 1000, sport = me, dport = to, data = data }
    return s:send(data, HOST, to)
  end
  function w:recv(fn)
    s:recv(function(data, host, from)
      Q.captured[#Q.captured + 1] = { time = rtpmidi.now() / 1000, sport = from, dport = me, data = data }
      fn(data, host, from)
    end)
  end
  function w:port() return me end
  function w:close() s:close() end
  return w
end

local function bswap32(v)
  return ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >> 8) & 0xff00) | (v >> 24)
end
local function bswap64(v)
  local hi, lo = (v >> 32) & 0xffffffff, v & 0xffffffff
  return (bswap32(lo) << 32) | bswap32(hi)
end
Q.bswap32 = bswap32

-- 10 kHz clock from the loop's clock.
local function clock10k() return math.floor(rtpmidi.now() * 10) end

local function rtp_midi(seq, ts, ssrc, bytes, journal)
  local payload = assert(codec.encode_midi_payload({ { delta = 0, bytes = bytes } }, journal and { journal = journal } or nil))
  return codec.encode_rtp{ payload_type = 97, sequence = seq & 0xffff, timestamp = ts & 0xffffffff,
                           ssrc = ssrc, marker = true, payload = payload }
end
Q.rtp_midi = rtp_midi

---------------------------------------------------------------------------
-- RTP without RTCP

function Q.direct_rtp(o)
  local p = { got = {}, ssrc = o.ssrc or 0x4D4D4D01, seq = 1, sent = 0 }
  p.sock = udp(o.port)
  p.port = p.sock:port()
  p.sock:recv(function(data)
    local t = codec.decode_rtp(data)
    if t then p.got[#p.got + 1] = t end
  end)
  function p:send(bytes)
    self.sock:send(rtp_midi(self.seq, clock10k(), self.ssrc, bytes), HOST, o.to_port)
    self.seq, self.sent = self.seq + 1, self.sent + 1
  end
  function p:close() self.sock:close() end
  return p
end

---------------------------------------------------------------------------
-- AppleMIDI

local function invitation(cmd, token, ssrc, name)
  return "\xff\xff" .. cmd .. string.pack(">I4I4I4", 2, token, ssrc) .. (name and name .. "\0" or "")
end
Q.invitation = invitation

function Q.apple(o)
  local q = o.quirks or {}
  local p = { name = o.name or "quirky", ssrc = o.ssrc or 0x51000001, data_ssrc = o.data_ssrc or 0x51000002,
              got = {}, midi = {}, crashes = 0, bye = { ctrl = 0, data = 0 }, seq = 100,
              state = "idle", quirks = q, rtp_received = 0 }
  p.ctrl = udp(o.port)
  p.data = udp(o.port + 1)
  p.port = o.port
  local function dssrc() return q.data_ssrc and p.data_ssrc or p.ssrc end

  local function on_rtp(data, from)
    local t = codec.decode_rtp(data)
    if not t then return end
    p.rtp_received = p.rtp_received + 1
    p.remote_ssrc = p.remote_ssrc or t.ssrc
    p.last_seq = t.sequence
    p.first_seq = p.first_seq or t.sequence
    local m = codec.decode_midi_payload(t.payload)
    if m and m.journal then p.journals = (p.journals or 0) + 1 end
    if m and q.strict_journal and m.journal and m.journal.channels then
      local n = 0
      for _, c in ipairs(m.journal.channels) do
        if c.P or c.C or c.M or c.W then n = n + 1 end
      end
      if n >= 2 then p.crashes = p.crashes + 1 return end
    end
    if m and q.strict_y and m.journal and m.journal.s and not m.journal.y then
      p.crashes = p.crashes + 1
      return
    end
    if m then
      for _, c in ipairs(m.commands) do p.midi[#p.midi + 1] = c.bytes end
    end
    if q.feedback_data then
      -- one per packet, on the data port, with the SSRC of the packet's sender
      p.data:send("\xff\xffRS" .. string.pack(">I4I4", t.ssrc, (t.sequence & 0xffff) << 16), HOST, from)
    end
  end

  local function on_am(which, data, from)
    local t = codec.decode_applemidi(data)
    if not t then return on_rtp(data, from) end
    t.on = which
    p.got[#p.got + 1] = t
    if t.command == "IN" then
      p.remote_ssrc = t.ssrc
      p.token = t.token
      local ssrc = which == "data" and dssrc() or p.ssrc
      local sock = which == "data" and p.data or p.ctrl
      sock:send(invitation("OK", t.token, ssrc, p.name), HOST, from)
      if which == "data" then p.state = "joined"; p.peer_data = from end
      if which == "ctrl" then p.peer_ctrl = from end
    elseif t.command == "OK" then
      p.remote_ssrc = t.ssrc
      if which == "ctrl" then
        p.data:send(invitation("IN", p.token, dssrc(), p.name), HOST, from + 1)
        p.peer_ctrl, p.peer_data = from, from + 1
      else
        p.state = "joined"
        if p.on_joined then p.on_joined() end
      end
    elseif t.command == "BY" then
      p.bye[which] = p.bye[which] + 1
      local ended = q.bye_both and (p.bye.ctrl > 0 and p.bye.data > 0) or (not q.bye_both)
      if ended then p.state = "ended" else p.state = "half-open" end
    elseif t.command == "CK" then
      local ts = t.timestamps or t.ts
      if t.count == 0 then
        local now = clock10k()
        if q.host_order then now = bswap64(now) end
        p.data:send("\xff\xffCK" .. string.pack(">I4B", dssrc(), 1) .. "\0\0\0" ..
                    string.pack(">I8I8I8", ts[1], now, 0), HOST, from)
      end
    end
  end
  p.ctrl:recv(function(data, _, from) on_am("ctrl", data, from) end)
  p.data:recv(function(data, _, from) on_am("data", data, from) end)

  function p:invite(port)
    self.token = o.token or 0x70707070
    self.ctrl:send(invitation("IN", self.token, self.ssrc, self.name), HOST, port)
  end
  -- a MIDI packet to the session joined (its data port)
  function p:send_midi(bytes)
    local ts = clock10k()
    self.sent_ts = self.sent_ts or {}
    self.sent_ts[#self.sent_ts + 1] = ts
    if q.host_order then ts = bswap32(ts & 0xffffffff) end
    self.data:send(rtp_midi(self.seq, ts, dssrc(), bytes), HOST, self.peer_data)
    self.seq = self.seq + 1
  end
  -- an RS to the session for the last packet received
  function p:send_rs()
    local seq = q.rs_stale and (self.first_seq - 1) or self.last_seq
    local v = q.rs_low16 and (seq & 0xffff) or ((seq & 0xffff) << 16)
    self.ctrl:send("\xff\xffRS" .. string.pack(">I4I4", self.ssrc, v), HOST, self.peer_ctrl)
  end
  -- BY to the session joined: data port first, then control, as rtpmidid does
  function p:bye_both_ports()
    local by = "\xff\xffBY" .. string.pack(">I4I4I4", 2, self.token, self.ssrc)
    self.data:send("\xff\xffBY" .. string.pack(">I4I4I4", 2, self.token, dssrc()), HOST, self.peer_data)
    self.ctrl:send(by, HOST, self.peer_ctrl)
  end
  function p:count(cmd, on)
    local n = 0
    for _, t in ipairs(self.got) do
      if t.command == cmd and (not on or t.on == on) then n = n + 1 end
    end
    return n
  end
  function p:close() self.ctrl:close(); self.data:close() end
  return p
end

return Q
