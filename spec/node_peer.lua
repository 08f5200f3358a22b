-- Runs spec/peers/node_peer.js (node-rtpmidi 1.0.0) as a background process
-- and reads its JSON events (one object per line) while our loop runs.
--
--   local NP = require "node_peer"
--   local ok, why = NP.available()           -- node and node_modules present?
--   local peer = NP.start{ "--port", 5006, "--echo" }
--   peer:wait("synced")                      -- runs the loop until that event (watchdog)
--   peer:stop()                              -- SIGTERM: it sends BY and exits
local rtpmidi = require "rtpmidi"
local H = require "helper"

local NP = {}
NP.__index = NP

local DIR = (os.getenv("RTPMIDI_SOURCE_DIR") or ".") .. "/spec/peers"
local running = {}

local function sh(cmd)
  local p = io.popen(cmd)
  local out = p:read("a")
  p:close()
  return out
end

--- true, or nil and why the peer cannot run here.
function NP.available()
  if sh("command -v node 2>/dev/null") == "" then return nil, "node is not installed" end
  local f = io.open(DIR .. "/node_modules/rtpmidi/package.json")
  if not f then
    return nil, "node-rtpmidi is not installed (cd spec/peers && npm install --omit=optional --ignore-scripts --no-package-lock)"
  end
  f:close()
  return true
end

-- A tiny reader for the peer's flat JSON objects.
local function parse(line)
  local t = {}
  for k, v in line:gmatch('"([%w_]+)":"([^"]*)"') do t[k] = v end
  for k, v in line:gmatch('"([%w_]+)":(%-?[%d%.]+)') do t[k] = tonumber(v) end
  for k, v in line:gmatch('"([%w_]+)":(%a+)') do
    if v == "true" or v == "false" then t[k] = v == "true" end
  end
  return t
end

--- Starts a peer with the given arguments (strings or numbers).
function NP.start(args)
  local parts = {}
  for i, a in ipairs(args) do parts[i] = ("'%s'"):format(tostring(a)) end
  local out = os.tmpname()
  local pid = sh(("cd '%s' && (exec env -u LD_PRELOAD node node_peer.js %s > '%s' 2> '%s.err' < /dev/null & echo $!)")
    :format(DIR, table.concat(parts, " "), out, out))
  local self = setmetatable({ pid = tonumber(pid), out = out, offset = 0, events = {} }, NP)
  assert(self.pid, "cannot start node_peer.js")
  running[self] = true
  return self
end

--- Reads the events printed since the last call; returns the whole list.
function NP:poll()
  local f = io.open(self.out, "rb")
  if not f then return self.events end
  f:seek("set", self.offset)
  local data = f:read("a")
  f:close()
  -- only complete lines
  local last = data:match(".*()\n")
  if last then
    for line in data:sub(1, last):gmatch("[^\n]+") do
      self.events[#self.events + 1] = parse(line)
    end
    self.offset = self.offset + last
  end
  return self.events
end

--- The events named `name` so far.
function NP:all(name)
  local list = {}
  for _, e in ipairs(self:poll()) do
    if e.event == name then list[#list + 1] = e end
  end
  return list
end

--- Runs the loop until cond() holds, polling the peer's output.
function NP.run_until(cond, what, timeout_ms)
  local ticker = rtpmidi.every(10, function() end)
  local ok, err = pcall(H.run_until, cond, what, timeout_ms)
  ticker:cancel()
  if not ok then error(err, 2) end
end

--- Runs the loop until the peer printed `count` (default 1) events named name.
function NP:wait(name, count, timeout_ms)
  count = count or 1
  NP.run_until(function() return #self:all(name) >= count end,
    ("node peer event '%s' x%d (so far: %s)"):format(name, count, self:summary()), timeout_ms or 8000)
  return self:all(name)[count]
end

function NP:summary()
  local names = {}
  for _, e in ipairs(self:poll()) do names[#names + 1] = e.event end
  return table.concat(names, ",")
end

function NP:alive()
  return self.pid and os.execute(("kill -0 %d 2>/dev/null"):format(self.pid)) == true
end

--- SIGTERM (the peer sends BY and exits), then waits for the process to go.
function NP:stop()
  if not self.pid then return end
  os.execute(("kill -TERM %d 2>/dev/null"):format(self.pid))
  local deadline = rtpmidi.now() + 3000
  NP.run_until(function() return not self:alive() or rtpmidi.now() > deadline end, "node peer exit", 5000)
  if self:alive() then os.execute(("kill -KILL %d 2>/dev/null"):format(self.pid)) end
  self:poll()
  self.pid = nil
  running[self] = nil
  os.remove(self.out)
  os.remove(self.out .. ".err")
end

--- Stops every peer still running (for after_each).
function NP.stop_all()
  for peer in pairs(running) do peer:stop() end
end

return NP
