-- A pcap file of UDP datagrams over 127.0.0.1, for tshark (LINKTYPE_RAW:
-- each record an IPv4 packet). The specs record what their scripted peers
-- send and receive (quirky.lua) and have tshark dissect it.
local P = {}

local function csum(hdr)
  local sum = 0
  for i = 1, #hdr, 2 do sum = sum + (hdr:byte(i) << 8 | hdr:byte(i + 1)) end
  while sum > 0xffff do sum = (sum & 0xffff) + (sum >> 16) end
  return (~sum) & 0xffff
end

local function ipv4_udp(sport, dport, data, id)
  local udp = string.pack(">I2I2I2I2", sport, dport, 8 + #data, 0) .. data -- checksum 0: none (IPv4)
  local total = 20 + #udp
  local lo = "\127\0\0\1"
  local h = string.pack(">BBI2I2I2BBI2", 0x45, 0, total, id & 0xffff, 0, 64, 17, 0) .. lo .. lo
  h = h:sub(1, 10) .. string.pack(">I2", csum(h)) .. h:sub(13)
  return h .. udp
end

--- Writes records { {time=seconds, sport=, dport=, data=}, ... } to path.
function P.write(path, records)
  local f = assert(io.open(path, "wb"))
  f:write(string.pack("<I4I2I2i4I4I4I4", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 101))
  for i, r in ipairs(records) do
    local pkt = ipv4_udp(r.sport, r.dport, r.data, i)
    local sec = math.floor(r.time)
    f:write(string.pack("<I4I4I4I4", sec, math.floor((r.time - sec) * 1e6), #pkt, #pkt), pkt)
  end
  f:close()
end

return P
