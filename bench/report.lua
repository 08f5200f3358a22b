-- Turns the lines gathered by bench/run.sh into the markdown report.
--   lua5.4 bench/report.lua <raw file>
-- Input lines (everything else is ignored):
--   META key="value"                     the machine and the run, for the header
--   BENCH kind=K name=N key=value ...    one result (see bench/README.md)
-- Results of the same kind and name from several rounds are merged (median of
-- each numeric field; max of max_*; sum of n and lost). Every kind gets a
-- table: known kinds with chosen columns, others with every key they have.

local function parse_fields(s)
  local t, order = {}, {}
  local i = 1
  while true do
    local k, e = s:match("^%s*([%w_]+)=()", i)
    if not k then break end
    local v, ni
    if s:sub(e, e) == '"' then
      local close = s:find('"', e + 1, true) or #s + 1
      v, ni = s:sub(e + 1, close - 1), close + 1
    else
      v = s:match("^%S*", e)
      ni = e + #v
      v = tonumber(v) or v
    end
    if t[k] == nil then order[#order + 1] = k end
    t[k] = v
    i = ni
  end
  return t, order
end

local meta, meta_order = {}, {}
local groups, group_order = {}, {}      -- groups["kind/name"] = { rows }
local kinds, kind_order = {}, {}        -- kinds[kind] = { names in order, keys in order }

local path = assert(arg[1], "usage: report.lua <raw file>")
for line in io.lines(path) do
  local rest = line:match("^META%s+(.*)$")
  if rest then
    local t, order = parse_fields(rest)
    for _, k in ipairs(order) do
      if meta[k] == nil then meta_order[#meta_order + 1] = k end
      meta[k] = t[k]
    end
  end
  rest = line:match("^BENCH%s+(.*)$")
  if rest then
    local t, order = parse_fields(rest)
    if t.kind and t.name then
      local key = t.kind .. "/" .. t.name
      if not groups[key] then
        groups[key] = {}
        group_order[#group_order + 1] = key
        local k = kinds[t.kind]
        if not k then
          k = { names = {}, keys = {}, seen = {} }
          kinds[t.kind] = k
          kind_order[#kind_order + 1] = t.kind
        end
        k.names[#k.names + 1] = t.name
      end
      local k = kinds[t.kind]
      for _, f in ipairs(order) do
        if not k.seen[f] then k.seen[f] = true; k.keys[#k.keys + 1] = f end
      end
      table.insert(groups[key], t)
    end
  end
end

local function median(xs)
  table.sort(xs)
  local n = #xs
  if n == 0 then return nil end
  if n % 2 == 1 then return xs[(n + 1) // 2] end
  return (xs[n // 2] + xs[n // 2 + 1]) / 2
end

-- Merges the rounds of one benchmark into one row.
-- Rounds that failed are left out of the figures when some succeeded.
local function merge(all)
  local rows, failed = {}, {}
  for _, r in ipairs(all) do
    if r.status == "ok" then rows[#rows + 1] = r else failed[#failed + 1] = r.status or "?" end
  end
  if #rows == 0 then rows, failed = all, {} end
  local out = { runs = #rows }
  local keys = {}
  for _, r in ipairs(rows) do for k in pairs(r) do keys[k] = true end end
  for k in pairs(keys) do
    local nums, first = {}, nil
    for _, r in ipairs(rows) do
      local v = r[k]
      if type(v) == "number" then nums[#nums + 1] = v end
      if first == nil then first = v end
    end
    if k == "status" then
      out[k] = "ok"
      for _, r in ipairs(rows) do if r.status ~= "ok" then out[k] = r.status end end
      if #failed > 0 then
        out[k] = ("%s; %d of %d rounds left out (%s)"):format(out[k], #failed, #all,
          table.concat(failed, ", "))
      end
    elseif #nums > 0 and #nums == #rows then
      if k:match("^max") then out[k] = math.max(table.unpack(nums))
      elseif k == "n" or k == "lost" then
        local s = 0
        for _, v in ipairs(nums) do s = s + v end
        out[k] = s
      else out[k] = median(nums) end
    else
      out[k] = first
    end
  end
  return out
end

local R = {}   -- R[kind][name] = merged row
for _, key in ipairs(group_order) do
  local kind, name = key:match("^(.-)/(.*)$")
  R[kind] = R[kind] or {}
  R[kind][name] = merge(groups[key])
end

local function commas(v)
  local s, n = ("%.0f"):format(v), 1
  while n > 0 do s, n = s:gsub("^(-?%d+)(%d%d%d)", "%1,%2") end
  return s
end

local function num(v, fmt)
  if type(v) ~= "number" then return v == nil and "" or tostring(v) end
  if v ~= v then return "n/a" end
  if fmt then return fmt:format(v) end
  if v == math.floor(v) and math.abs(v) < 1e15 then return commas(v) end
  return ("%.2f"):format(v)
end

local function ratio(a, b)
  if type(a) ~= "number" or type(b) ~= "number" or b == 0 then return nil end
  return a / b
end

local out = {}
local function w(s) out[#out + 1] = s or "" end
-- Columns named in LEFT are text (left-aligned); the others are numbers.
local LEFT = { benchmark = true, what = true, status = true, goal = true, result = true }
local function table_md(header, rows)
  w("| " .. table.concat(header, " | ") .. " |")
  local sep = {}
  for i = 1, #header do sep[i] = LEFT[header[i]] and "---" or "--:" end
  w("|" .. table.concat(sep, "|") .. "|")
  for _, r in ipairs(rows) do w("| " .. table.concat(r, " | ") .. " |") end
  w()
end

-- The header: the machine and the run.
w("# rtpmidi benchmarks")
w()
local META_LABELS = {
  date = "date", cpu = "CPU", cores = "cores", kernel = "kernel", load = "load", virt = "virtualisation",
  lua = "Lua", libuv = "libuv", cc = "compiler", build_type = "build type", commit = "commit",
  pinning = "CPU pinning", settings = "settings",
}
for _, k in ipairs(meta_order) do
  w(("- **%s**: %s"):format(META_LABELS[k] or k, tostring(meta[k])))
end
w()

-- Latency.
local floor = R.latency and R.latency.udp_floor
if R.latency then
  w("## One-way latency on loopback (RTT/2, µs)")
  w()
  local rows = {}
  for _, name in ipairs(kinds.latency.names) do
    local r = R.latency[name]
    local p50r = floor and ratio(r.p50_us, floor.p50_us)
    local p99r = floor and ratio(r.p99_us, floor.p99_us)
    rows[#rows + 1] = { "`" .. name .. "`", r.what or "", num(r.runs), num(r.n), num(r.lost),
      num(r.p50_us, "%.2f"), num(r.p99_us, "%.2f"), num(r.max_us, "%.1f"),
      p50r and ("%.2fx"):format(p50r) or "", p99r and ("%.2fx"):format(p99r) or "",
      r.status or "" }
  end
  table_md({ "benchmark", "what", "runs", "round trips", "lost", "p50", "p99", "max",
    "p50 / floor", "p99 / floor", "status" }, rows)
end

-- Throughput.
if R.throughput then
  w("## Throughput on loopback")
  w()
  local tfloor = R.throughput.udp_floor_1proc
  local rows = {}
  for _, name in ipairs(kinds.throughput.names) do
    local r = R.throughput[name]
    local split = ""
    if r.send_cpu_s_per_mpkt then
      split = num(r.send_cpu_s_per_mpkt, "%.2f") .. " + " .. num(r.recv_cpu_s_per_mpkt, "%.2f")
    end
    local fr = tfloor and ratio(r.pps, tfloor.pps)
    -- CPU-bound rate: the busier process sets the pace
    local bound = r.cpu_s_per_mpkt
    if type(r.send_cpu_s_per_mpkt) == "number" and type(r.recv_cpu_s_per_mpkt) == "number" then
      bound = math.max(r.send_cpu_s_per_mpkt, r.recv_cpu_s_per_mpkt)
    end
    if type(bound) ~= "number" or bound ~= bound or bound <= 0 then bound = nil end
    rows[#rows + 1] = { "`" .. name .. "`", r.what or "", num(r.procs), num(r.packets), num(r.lost),
      num(r.seconds, "%.2f"), type(r.pps) == "number" and commas(r.pps) or "",
      fr and ("%.2fx"):format(fr) or "", num(r.cpu_s_per_mpkt, "%.2f"), split,
      bound and commas(1e6 / bound) or "",
      r.status or "" }
  end
  table_md({ "benchmark", "what", "procs", "packets", "lost", "seconds", "packets/s",
    "pps / floor", "CPU s / Mpkt", "send + recv CPU", "CPU-bound pps", "status" }, rows)
  w("Packets per second is wall-clock time and moves with whatever else the machine runs;")
  w("CPU seconds per million packets (getrusage user + system, both processes summed) is")
  w("steadier. *CPU-bound pps* is 10⁶ / (CPU s per Mpkt of the busier process): what one")
  w("fully available core per process would sustain. On loopback the sender's system call")
  w("also runs the receiving half of the kernel's network stack, so the split leans to the sender.")
  w()
end

-- Any other kind: every key it has.
for _, kind in ipairs(kind_order) do
  if kind ~= "latency" and kind ~= "throughput" then
    w("## " .. kind)
    w()
    local keys = {}
    for _, k in ipairs(kinds[kind].keys) do
      if k ~= "kind" and k ~= "name" then keys[#keys + 1] = k end
    end
    local rows = {}
    for _, name in ipairs(kinds[kind].names) do
      local r = R[kind][name]
      local row = { "`" .. name .. "`" }
      for _, k in ipairs(keys) do row[#row + 1] = num(r[k]) end
      rows[#rows + 1] = row
    end
    table.insert(keys, 1, "benchmark")
    table_md(keys, rows)
  end
end

-- Goals (issue 9), from this run only.
local function get(kind, name, field)
  return R[kind] and R[kind][name] and R[kind][name][field]
end
local GOALS = {
  { "Lua one-way p50 within 1.3x of the UDP floor", "≤ 1.30x",
    function() return ratio(get("latency", "lua", "p50_us"), get("latency", "udp_floor", "p50_us")) end,
    function(v) return v <= 1.3 end, "%.2fx" },
  { "Lua one-way p99 within 2x of the UDP floor", "≤ 2.00x",
    function() return ratio(get("latency", "lua", "p99_us"), get("latency", "udp_floor", "p99_us")) end,
    function(v) return v <= 2.0 end, "%.2fx" },
  { "packets/s with Lua callbacks on one core (`lua_1proc`)", "≥ 200,000",
    function() return get("throughput", "lua_1proc", "pps") end,
    function(v) return v >= 200000 end, "%s", commas },
}
w("## Goals (issue 9), measured in this run")
w()
local rows = {}
for _, g in ipairs(GOALS) do
  local v = g[3]()
  local met = v == nil and "not measured" or (g[4](v) and "**met**" or "**not met**")
  local shown = v and (g[6] and g[6](v) or g[5]:format(v)) or ""
  rows[#rows + 1] = { g[1], g[2], shown, met }
end
table_md({ "goal", "target", "measured", "result" }, rows)

io.write(table.concat(out, "\n"), "\n")
