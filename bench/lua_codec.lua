-- The same codec through rtpmidi.codec from Lua: messages per second encoded
-- (encode_midi_payload on packets of 32 messages) and decoded
-- (decode_midi_payload, one table per message).
--   lua5.4 bench/lua_codec.lua MESSAGES
package.path = (arg[0]:match("^(.*/)") or "./") .. "?.lua;" .. package.path
local B = require "benchlib"
local rtpmidi = require "rtpmidi"
local codec = rtpmidi.codec
local rtpmidi_now = rtpmidi.now

local n = tonumber(arg[1]) or 200000
local per_packet = 32
local seed = 12345
local function rand(k) seed = (seed * 1103515245 + 12345) % 2147483648; return seed % k end
local cmds = {}
for i = 1, n do
  local k, ch = rand(100), rand(16)
  local bytes
  if k < 60 then bytes = string.char(0x90 + ch, rand(128), rand(128))
  elseif k < 85 then bytes = string.char(0xB0 + ch, rand(120), rand(128))
  elseif k < 95 then bytes = string.char(0xE0 + ch, rand(128), rand(128))
  else bytes = "\xF8" end
  cmds[i] = { delta = rand(4) == 0 and rand(200) or 0, bytes = bytes }
end
local batches = {}
for i = 1, n, per_packet do batches[#batches + 1] = table.move(cmds, i, math.min(n, i + per_packet - 1), 1, {}) end

local payloads = {}
local now = rtpmidi_now
local t0 = now()
for i, batch in ipairs(batches) do
  local p, count = codec.encode_midi_payload(batch)
  assert(p and count == #batch, "encode")
  payloads[i] = p
end
local enc_s = (now() - t0) / 1000
local got = 0
t0 = now()
for _, p in ipairs(payloads) do
  local d = assert(codec.decode_midi_payload(p))
  got = got + #d.commands
end
local dec_s = (now() - t0) / 1000
local status = got == n and "ok" or "count-mismatch"
B.line("codec", "lua_encode", { { "what", "rtpmidi.codec.encode_midi_payload" }, { "messages", n },
  { "packets", #payloads }, { "msgs_per_s", math.floor(n / enc_s) }, { "ns_per_msg", enc_s * 1e9 / n },
  { "status", status } })
B.line("codec", "lua_decode", { { "what", "rtpmidi.codec.decode_midi_payload" }, { "messages", got },
  { "packets", #payloads }, { "msgs_per_s", math.floor(got / dec_s) },
  { "ns_per_msg", dec_s * 1e9 / math.max(got, 1) }, { "status", status } })
