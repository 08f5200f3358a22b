-- A UDP relay between two RTP sessions that loses, reorders, duplicates and
-- delays the RTP packets of one direction at set rates, from a seeded
-- generator, and keeps a log of what it did (so a spec can compute what the
-- receiver must report). It also records every datagram it forwards, which
-- write_pcap() turns into a capture file for tshark.
--
--   A (receiving_port pa, sending_port P)  <->  injector  <->  B (receiving_port pb, sending_port Q)
--   P   : RTP from A   -> faults -> pb        P+1 : RTCP from A -> pb+1
--   Q   : RTP from B   ->           pa        Q+1 : RTCP from B -> pa+1
local core = require "rtpmidi.core"
local rtpmidi = require "rtpmidi"

local FI = {}
FI.__index = FI

-- A 64-bit LCG (Knuth's MMIX constants): the same numbers for a seed on
-- every machine, independent of math.random.
local function generator(seed)
  local x = seed
  return function()
    x = x * 6364136223846793005 + 1442695040888963407
    return ((x >> 11) & ((1 << 53) - 1)) / (1 << 53)
  end
end

--- opts: a_port, b_port (the sessions' receiving ports), p, q (the
-- injector's ports, each with port+1 free), seed, loss, reorder, duplicate
-- (rates 0..1 for A->B RTP), protect (the first packets pass untouched,
-- default 5), delay = { [index] = ms } (hold those packets that long),
-- drop = { [index] = true } (lose exactly those packets, e.g. a burst),
-- host (default 127.0.0.1).
function FI.new(opts)
  local self = setmetatable({
    host = opts.host or "127.0.0.1",
    rand = generator(opts.seed or 1),
    loss = opts.loss or 0, reorder = opts.reorder or 0, duplicate = opts.duplicate or 0,
    protect = opts.protect or 5, delay = opts.delay or {}, drop_set = opts.drop or {},
    seen = 0,            -- RTP packets from A
    arrivals = {},       -- what B receives, in order: { index=, seq=, data= }
    dropped = {},        -- indices
    dropped_data = {},   -- index -> the datagram lost
    actions = {},        -- per index: "pass", "drop", "hold", "dup", "delay"
    records = {},        -- every forwarded datagram: { t=, sport=, dport=, data= }
    sockets = {}, timers = {},
  }, FI)
  local function open(port, to_port, handler)
    local s = assert(core.udp(self.host, port))
    self.sockets[#self.sockets + 1] = s
    s:recv(function(data, _, _)
      if handler then handler(s, port, to_port, data)
      else self:_forward(s, port, to_port, data) end
    end)
    return s
  end
  open(opts.p, opts.b_port, function(s, port, to, data) self:_from_a(s, port, to, data) end)
  open(opts.p + 1, opts.b_port + 1)
  open(opts.q, opts.a_port)
  open(opts.q + 1, opts.a_port + 1)
  return self
end

function FI:_forward(sock, sport, dport, data)
  self.records[#self.records + 1] = { t = rtpmidi.now(), sport = sport, dport = dport, data = data }
  assert(sock:send(data, self.host, dport))
end

-- The packet's index in A's sending order: the payload starts with it.
local function index_of(data)
  local seq = string.unpack(">I2", data, 3)
  return tonumber(data:sub(13):match("^(%d+)")), seq
end

function FI:_deliver(sock, sport, dport, data)
  local index, seq = index_of(data)
  index = index or #self.arrivals + 1
  self.arrivals[#self.arrivals + 1] = { index = index, seq = seq, data = data }
  self:_forward(sock, sport, dport, data)
end

function FI:_from_a(sock, sport, dport, data)
  self.seen = self.seen + 1
  local index = index_of(data) or self.seen
  local action = "pass"
  if self.drop_set[index] then
    action = "drop"
  elseif self.delay[index] then
    action = "delay"
  elseif index > self.protect then
    local r = self.rand()
    if r < self.loss then action = "drop"
    elseif r < self.loss + self.reorder then action = self.held and "pass" or "hold"
    elseif r < self.loss + self.reorder + self.duplicate then action = "dup" end
  end
  self.actions[index] = action
  if action == "drop" then
    self.dropped[#self.dropped + 1] = index
    self.dropped_data[index] = data
  elseif action == "hold" then
    self.held = { sock, sport, dport, data }
  elseif action == "delay" then
    self.timers[#self.timers + 1] = rtpmidi.after(self.delay[index], function()
      self:_deliver(sock, sport, dport, data)
    end)
  else
    self:_deliver(sock, sport, dport, data)
    if action == "dup" then self:_deliver(sock, sport, dport, data) end
    -- a held packet goes out right behind the next one forwarded
    if self.held then
      local h = self.held
      self.held = nil
      self:_deliver(h[1], h[2], h[3], h[4])
    end
  end
end

--- Forwards a packet still held (at the end of a run).
function FI:flush()
  if self.held then
    local h = self.held
    self.held = nil
    self:_deliver(h[1], h[2], h[3], h[4])
  end
end

--- What an ideal receiver (one whose reorder buffer waits long enough for
-- every reordered packet) must report, from the injector's log: the packets
-- it delivers in order with their read_recovery_journal flags, and its
-- counters.
function FI:expected()
  local seen, highest = {}, nil
  local e = { delivered = {}, lost = 0, duplicate = 0, late = 0, reordered = 0,
              packets_received = #self.arrivals, bytes_received = 0 }
  for _, a in ipairs(self.arrivals) do
    e.bytes_received = e.bytes_received + #a.data - 12
    if seen[a.index] then
      e.duplicate = e.duplicate + 1
    else
      seen[a.index] = true
      if highest and a.index < highest then e.reordered = e.reordered + 1 end
      if not highest or a.index > highest then highest = a.index end
    end
  end
  local first = self.arrivals[1] and self.arrivals[1].index
  local gap = false
  for i = first or 1, highest or 0 do
    if seen[i] then
      e.delivered[#e.delivered + 1] = { index = i, rj = gap }
      gap = false
    else
      e.lost = e.lost + 1
      gap = true
    end
  end
  return e
end

function FI:close()
  for _, t in ipairs(self.timers) do t:cancel() end
  for _, s in ipairs(self.sockets) do s:close() end
  self.sockets, self.timers = {}, {}
end

--- Writes what was forwarded as a pcap file (LINKTYPE_RAW, IPv4/UDP from
-- 127.0.0.1 to 127.0.0.1, UDP checksum 0 as IPv4 allows).
function FI:write_pcap(path)
  local f = assert(io.open(path, "wb"))
  f:write(string.pack("<I4I2I2i4I4I4I4", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 101))
  local function checksum(hdr)
    local sum = 0
    for i = 1, #hdr, 2 do sum = sum + string.unpack(">I2", hdr, i) end
    while sum > 0xffff do sum = (sum & 0xffff) + (sum >> 16) end
    return (~sum) & 0xffff
  end
  for id, r in ipairs(self.records) do
    local udp_len = 8 + #r.data
    local total = 20 + udp_len
    local ip = string.pack(">BBI2I2I2BBI2I4I4", 0x45, 0, total, id & 0xffff, 0, 64, 17, 0,
                           0x7f000001, 0x7f000001)
    ip = ip:sub(1, 10) .. string.pack(">I2", checksum(ip)) .. ip:sub(13)
    local pkt = ip .. string.pack(">I2I2I2I2", r.sport, r.dport, udp_len, 0) .. r.data
    local ms = r.t
    f:write(string.pack("<I4I4I4I4", math.floor(ms / 1000), math.floor((ms % 1000) * 1000),
                        #pkt, #pkt))
    f:write(pkt)
  end
  f:close()
end

return FI
