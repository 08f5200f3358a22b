-- Shared by the Lua benchmarks: arguments, percentiles, CPU time and the
-- BENCH result lines that bench/run.sh gathers (format in bench/README.md).
local rtpmidi = require "rtpmidi"

local B = {}

B.MIDI = "\x03\x90\x3c\x64"   -- an RFC 6295 command section: LEN=3, note on

--- Integer (or number) argument i of the script, or default.
function B.arg(i, default)
  local v = arg[i]
  if v == nil then return default end
  return math.tointeger(tonumber(v)) or tonumber(v) or v
end

--- CPU seconds (user + system) of this process so far.
B.cpu = os.clock

--- Nearest-rank percentile of a sorted array, p in (0, 1].
function B.percentile(sorted, p)
  local n = #sorted
  if n == 0 then return 0 / 0 end
  local k = math.ceil(p * n)
  if k < 1 then k = 1 elseif k > n then k = n end
  return sorted[k]
end

local function fmt(v)
  if math.type(v) == "integer" then return tostring(v) end
  if type(v) == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return "nan" end
    return ("%.3f"):format(v)
  end
  v = tostring(v)
  if v:find("[%s\"]") then return '"' .. v:gsub('"', "'") .. '"' end
  return v
end

--- Prints one BENCH line: fields is an array of {key, value} pairs.
function B.line(kind, name, fields)
  local out = { "BENCH", "kind=" .. kind, "name=" .. name }
  for _, kv in ipairs(fields) do out[#out + 1] = kv[1] .. "=" .. fmt(kv[2]) end
  io.write(table.concat(out, " "), "\n")
  io.flush()
end

--- When BENCH_DAT_DIR is set, appends the one-way latencies (RTT/2, µs), one
-- a line, to $BENCH_DAT_DIR/<name>.dat (bench/run.sh plots them). one_way:
-- the samples are one-way times already (not halved).
function B.write_dat(name, rtt_us, one_way)
  local dir = os.getenv("BENCH_DAT_DIR")
  if not dir or dir == "" then return end
  local f = io.open(dir .. "/" .. name .. ".dat", "a")
  if not f then return end
  local out = {}
  local d = one_way and 1 or 2
  for i, v in ipairs(rtt_us) do out[i] = ("%.3f"):format(v / d) end
  out[#out + 1] = ""
  f:write(table.concat(out, "\n"))
  f:close()
end

--- Prints the latency line from round trips in microseconds (one way = RTT/2)
-- and writes the samples (B.write_dat).
function B.latency_line(name, what, rtt_us, lost, status)
  B.write_dat(name, rtt_us)
  table.sort(rtt_us)
  local half = function(v) return ("%.2f"):format(v / 2) end
  B.line("latency", name, {
    { "what", what }, { "n", #rtt_us }, { "lost", lost },
    { "p50_us", half(B.percentile(rtt_us, 0.50)) }, { "p99_us", half(B.percentile(rtt_us, 0.99)) },
    { "max_us", half(rtt_us[#rtt_us] or 0 / 0) }, { "status", status },
  })
end

--- A session on 127.0.0.1 from local_port to peer_port whose incoming_rtp
-- is on_rtp(self, cookie, timestamp, packet, recovery); registered and started.
function B.session(local_port, peer_port, on_rtp)
  local control = rtpmidi.RTPControl()
  local s = rtpmidi.RTPSession{ peer_address = "127.0.0.1", bind_address = "127.0.0.1",
    sending_port = peer_port, receiving_port = local_port, payload = 96,
    jitter_buffer_size = 0, tool_name = "rtpmidi bench", incoming_rtp = on_rtp }
  local cookie = control:add_session(s)
  local ok, err = control:start_session(cookie)
  if not ok then
    io.stderr:write(("bench: cannot open port %d: %s\n"):format(local_port, err))
    os.exit(3)
  end
  return s
end

--- A MidiSession on 127.0.0.1 from local_port to peer_port, registered and
-- started; opts (optional) adds or overrides options and callbacks.
-- Returns the session, or nil and the error when the port is taken and
-- opts.may_fail is set (otherwise the process exits).
function B.midi_session(local_port, peer_port, opts)
  local control = rtpmidi.RTPControl()
  local t = { peer_address = "127.0.0.1", bind_address = "127.0.0.1", sending_port = peer_port,
              receiving_port = local_port, jitter_buffer_size = 0, tool_name = "rtpmidi bench" }
  local may_fail = opts and opts.may_fail
  for k, v in pairs(opts or {}) do if k ~= "may_fail" then t[k] = v end end
  local s = rtpmidi.MidiSession(t)
  local cookie = control:add_session(s)
  local ok, err = control:start_session(cookie)
  if not ok then
    control:remove_session(cookie)
    if may_fail then return nil, err end
    io.stderr:write(("bench: cannot open port %d: %s\n"):format(local_port, err))
    os.exit(3)
  end
  return s
end

--- The 14-bit probe id as a MIDI message (a pitch bend on channel 1: its
-- journal chapter is two octets whatever the value).
function B.probe_msg(id)
  return string.char(0xE0, id & 0x7f, (id >> 7) & 0x7f)
end

--- The message that tells a MIDI echo side to stop (a SysEx for
-- non-commercial use: F0 7D "BYE" F7).
B.MIDI_BYE = "\xF0\x7D\x42\x59\x45\xF7"

--- Resident set size of this process in KiB (VmRSS), or nil.
function B.rss_kib()
  local f = io.open("/proc/self/status")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmRSS:%s*(%d+)"))
end

--- Calls fn(now_ms) every ms milliseconds until the loop stops.
function B.every(ms, fn)
  return rtpmidi.every(ms, function() fn(rtpmidi.now()) end)
end

return B
