-- For specs that need MIDI ports: a JACK server on the dummy backend (no
-- sound card needed). Each spec process starts its own server under a unique
-- name and points RtMidi's JACK clients at it (JACK_DEFAULT_SERVER, set in
-- this process through rtpmidi.set_jack_server), so specs running in parallel
-- never share one. When JACK_DEFAULT_SERVER already names a running server,
-- that one is used and left running.
local rtpmidi = require "rtpmidi"

-- Read once: set_jack_server changes the variable in this process.
local ORIGINAL_SERVER = os.getenv("JACK_DEFAULT_SERVER")

local J = {
  -- A short period so that JACK's cycle (period / rate) stays well under a
  -- millisecond: MIDI goes through JACK once per cycle.
  rate = 48000,
  period = 16,
}

local function sh(cmd)
  local ok = os.execute(cmd)
  return ok == true or ok == 0
end

local function quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function random_hex(n)
  local f = io.open("/dev/urandom", "rb")
  local bytes = f and f:read(n) or tostring(os.time()):sub(1, n)
  if f then f:close() end
  return (bytes:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

--- Whether jackd and its tools are installed.
function J.available()
  return sh("command -v jackd >/dev/null 2>&1 && command -v jack_wait >/dev/null 2>&1")
end

local function running(name)
  return sh(("JACK_DEFAULT_SERVER=%s jack_wait -c >/dev/null 2>&1"):format(quote(name)))
end

--- Starts a server (or finds the one JACK_DEFAULT_SERVER names) and waits
-- until it accepts clients. Returns its name, or raises.
function J.start()
  if J.name then return J.name end
  local given = ORIGINAL_SERVER
  if given and given ~= "" and running(given) then
    J.name, J.owned = given, false
    rtpmidi.set_jack_server(given)
    return given
  end
  local name = "rtpmidi-spec-" .. random_hex(6)
  J.log = os.tmpname()
  -- Real-time scheduling when the system allows it (JACK's client threads in
  -- this process follow the server's mode): on a loaded machine a server
  -- without it misses cycles and drops events.
  J.realtime = sh("chrt -f 1 true >/dev/null 2>&1")
  local cmd = ("jackd -n %s %s -S -d dummy -r %d -p %d </dev/null >%s 2>&1 & echo $!")
    :format(quote(name), J.realtime and "--realtime" or "--no-realtime", J.rate, J.period, quote(J.log))
  local p = assert(io.popen(cmd, "r"))
  local pid = p:read("*l")
  p:close()
  assert(pid and pid:match("^%d+$"), "could not start jackd")
  J.name, J.pid, J.owned = name, pid, true
  if not sh(("JACK_DEFAULT_SERVER=%s jack_wait -w -t 10 >/dev/null 2>&1"):format(quote(name))) then
    local log = J.read_file(J.log)
    J.stop()
    -- a registry full of servers that died: freed, then once more
    if log:find("Too many servers", 1, true) and not J.reclaimed then
      J.reclaimed = J.reclaim()
      return J.start()
    end
    error("jackd did not start within 10 s:\n" .. log)
  end
  rtpmidi.set_jack_server(name)
  return name
end

--- Ends the process pid with SIGTERM (a jackd frees its registry slot) and
-- waits until it is gone; SIGKILL after 5 s.
function J.stop_pid(pid)
  sh("kill " .. pid .. " 2>/dev/null")
  for _ = 1, 100 do
    if not sh("kill -0 " .. pid .. " 2>/dev/null") then return end
    sh("sleep 0.05")
  end
  sh("kill -9 " .. pid .. " 2>/dev/null")
end

--- Stops the server if this process started it, and waits until it is gone.
function J.stop()
  if J.owned and J.pid then
    J.stop_pid(J.pid)
    if J.log and not os.getenv("RTPMIDI_KEEP_JACK_LOG") then os.remove(J.log) end
  end
  J.name, J.pid, J.owned, J.log = nil, nil, nil, nil
  rtpmidi.set_jack_server(ORIGINAL_SERVER)
end

--- Starts one more server, named name, on the dummy backend with its output
-- in the file log; its pid once it accepts clients, else nil (it is killed).
function J.try_server(name, log)
  local p = assert(io.popen(("jackd -n %s --no-realtime -S -d dummy -r %d -p %d </dev/null >%s 2>&1 & echo $!")
    :format(quote(name), J.rate, J.period, quote(log))))
  local pid = p:read("l")
  p:close()
  if sh(("JACK_DEFAULT_SERVER=%s jack_wait -w -t 10 >/dev/null 2>&1"):format(quote(name))) then return pid end
  sh("kill -9 " .. pid .. " 2>/dev/null")
end

--- A file's text ("" when it cannot be read).
function J.read_file(path)
  local f = io.open(path)
  local text = f and f:read("a") or ""
  if f then f:close() end
  return text
end

--- Frees the slots of jackd2's registry (8 servers, /dev/shm/jack-shm-registry)
-- that servers which died without leaving hold: jackd2 reuses a dead
-- server's slot only for a server of the same name, so each name found there
-- is started and stopped (a name still running refuses to start, harmlessly).
-- Servers die so when killed with SIGKILL, and jackd 1.9.21 dies of SIGPIPE
-- when a client leaves while it shuts down; on a machine that runs the specs
-- often such slots pile up until no server starts.
function J.reclaim()
  local names = {}
  for name in J.read_file("/dev/shm/jack-shm-registry"):gmatch("jack%-%d+:([%w%._%-]+):") do
    names[#names + 1] = name
  end
  for _, name in ipairs(names) do
    local log = os.tmpname()
    local pid = J.try_server(name, log)
    if pid then J.stop_pid(pid) end
    os.remove(log)
  end
  return #names
end

--- A server of a spec's own besides J.start's: { name, pid, log, stop() }.
-- jackd2 keeps at most 8 servers in its registry and other spec processes
-- start and stop theirs: a full registry is waited out (up to 30 s). Raises
-- with jackd's output if it does not start. stop() ends it with SIGTERM
-- (its registry slot freed), SIGKILL after 5 s.
function J.server(name)
  local srv = { name = name, log = os.tmpname() }
  local deadline = rtpmidi.now() + 30000
  while true do
    srv.pid = J.try_server(name, srv.log)
    if srv.pid then break end
    local text = J.read_file(srv.log)
    if not text:find("Too many servers", 1, true) or rtpmidi.now() > deadline then
      os.remove(srv.log)
      error("jackd " .. name .. " did not start:\n" .. text)
    end
    if not srv.reclaimed then srv.reclaimed = J.reclaim() end
    sh("sleep 0.5")
  end
  function srv.stop()
    if srv.pid then J.stop_pid(srv.pid) end
    srv.pid = nil
    os.remove(srv.log)
  end
  return srv
end

--- Connects two JACK ports (source, destination) by their full names.
function J.connect(from, to)
  return sh(("jack_connect -s %s %s %s >/dev/null 2>&1"):format(quote(J.name), quote(from), quote(to)))
end

--- A name no other spec process will use for a port.
function J.unique(prefix)
  return (prefix or "port") .. "-" .. random_hex(4)
end

return J
