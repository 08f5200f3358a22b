-- Shared by the specs: run the loop until something happens (with a
-- watchdog), pick free ports, and check that nothing was left open.
local rtpmidi = require "rtpmidi"
local core = require "rtpmidi.core"

local H = {}

--- Runs the loop until cond() is true. Fails the test with `what` when
-- timeout_ms (default 5000) pass first.
function H.run_until(cond, what, timeout_ms)
  timeout_ms = timeout_ms or 5000
  local expired = false
  local watchdog = rtpmidi.after(timeout_ms, function() expired = true end)
  while not cond() do
    if expired then
      error(("watchdog: gave up after %d ms waiting for %s"):format(timeout_ms, what or "a condition"), 2)
    end
    core.run("once")
  end
  watchdog:cancel()
end

--- Runs the loop for ms milliseconds (to let things that must NOT happen
-- have their chance).
function H.run_for(ms)
  local done = false
  rtpmidi.after(ms, function() done = true end)
  while not done do core.run("once") end
end

-- Specs run in parallel processes: seed from the system so that each
-- process starts from its own range of ports.
do
  local f = io.open("/dev/urandom", "rb")
  local seed = f and f:read(8) or tostring(os.time())
  if f then f:close() end
  math.randomseed(string.unpack("<i8", (seed .. ("\0"):rep(8)):sub(1, 8)))
end
-- Below the system's ephemeral range (32768 up on Linux), where the
-- send-only sessions and clients of every process running take theirs.
local PORT_LO, PORT_HI = 20000, 32000
local next_port = PORT_LO + 4 * math.random(0, (PORT_HI - PORT_LO) // 4)

-- Whether nobody holds UDP port p on any address: a bind to it succeeds
-- (the socket closes at once).
local function free(p)
  local s = core.udp("0.0.0.0", p)
  if not s then return false end
  s:close()
  return true
end

--- An even UDP port, with port+1 free too (RTCP, AppleMIDI's data port),
-- not handed out by this run yet and free when asked for: specs of other
-- processes (ctest -j) that hold ports from their own ranges are skipped.
function H.port() return H.port_block(2) end

--- The first of n consecutive free UDP ports (an even one), handed out as
-- H.port does.
function H.port_block(n)
  local step = 4 * ((n + 3) // 4)
  for _ = 1, (PORT_HI - PORT_LO) // step do
    if next_port + step > PORT_HI then next_port = PORT_LO end
    local p, ok = next_port, true
    next_port = next_port + step
    for i = 0, n - 1 do
      if not free(p + i) then ok = false break end
    end
    if ok then return p end
  end
  error(("H.port: no %d free UDP ports in a row between %d and %d"):format(n, PORT_LO, PORT_HI))
end

--- Removes every session from the control, lets the loop close their
-- handles, and returns the handles still open (count, type names).
function H.cleanup()
  local control = rtpmidi.RTPControl()
  for _, cookie in ipairs(control:cookies()) do control:remove_session(cookie) end
  for _ = 1, 10 do
    if core.handles() == 0 then break end
    core.run("nowait")
  end
  return core.handles()
end

--- For after_each: fails when a handle was left open.
function H.assert_clean()
  local n, types = H.cleanup()
  if n ~= 0 then
    error(("%d handle(s) left open after the test: %s"):format(n, table.concat(types, ", ")), 2)
  end
end

--- Starts an AppleMidiSession on control: its options are { port = H.port() }
-- with each of the option tables given (nil ones skipped) merged over it,
-- left to right, later ones winning (a spec's fast timings, then a test's
-- own options).
function H.apple(control, ...)
  local t = { port = H.port() }
  for i = 1, select("#", ...) do
    for k, v in pairs(select(i, ...) or {}) do t[k] = v end
  end
  local s = rtpmidi.AppleMidiSession(t)
  control:add_session(s)
  assert(control:start_session(s.cookie))
  return s
end

--- A two-way relay between an AppleMIDI initiator A and a session on b_port
-- (AppleMIDI answers on the port an invitation came from, which a one-way
-- relay such as spec/fault_injector.lua cannot serve): A invites r.port, the
-- relay speaks to B from sockets of its own, and loses chosen RTP packets
-- from A (on the data port, r.port + 1): the next r.drop_next ones (a count,
-- 0 at first), and those for which drop(n, data) is true, n counting A's RTP
-- packets from 1 (r.rtp). r.dropped and r.passed count A's RTP packets lost
-- and forwarded. r:close() closes its sockets.
function H.apple_relay(b_port, drop)
  local r = { port = H.port(), rtp = 0, dropped = 0, passed = 0, drop_next = 0, socks = {} }
  local back = {}
  for i = 1, 2 do
    local face_a = assert(core.udp("127.0.0.1", r.port + i - 1))
    local face_b = assert(core.udp("127.0.0.1", H.port()))
    r.socks[#r.socks + 1] = face_a
    r.socks[#r.socks + 1] = face_b
    face_a:recv(function(data, _, from)
      back[i] = from
      if i == 2 and data:byte(1) & 0xC0 == 0x80 then
        r.rtp = r.rtp + 1
        if r.drop_next > 0 then
          r.drop_next = r.drop_next - 1
          r.dropped = r.dropped + 1
          return
        end
        if drop and drop(r.rtp, data) then
          r.dropped = r.dropped + 1
          return
        end
        r.passed = r.passed + 1
      end
      face_b:send(data, "127.0.0.1", b_port + i - 1)
    end)
    face_b:recv(function(data) if back[i] then face_a:send(data, "127.0.0.1", back[i]) end end)
  end
  function r:close() for _, s in ipairs(self.socks) do s:close() end end
  return r
end

--- A spec's own sockets and timers, all let go by one call (after_each):
-- local own = H.owned(); own.udp(host, port); own.every(ms, fn); own.release().
function H.owned()
  local own, sockets, timers = {}, {}, {}
  function own.udp(host, port)
    local s = assert(core.udp(host, port or 0))
    sockets[#sockets + 1] = s
    return s
  end
  function own.every(ms, fn)
    local t = rtpmidi.every(ms, fn)
    timers[#timers + 1] = t
    return t
  end
  function own.release()
    for _, t in ipairs(timers) do t:cancel() end
    for _, s in ipairs(sockets) do s:close() end
    sockets, timers = {}, {}
  end
  return own
end

--- Collects what rtpmidi.on_error reports while fn runs.
function H.capture_errors(fn)
  local errors = {}
  local saved = rtpmidi.on_error
  rtpmidi.on_error = function(msg) errors[#errors + 1] = msg end
  local ok, err = pcall(fn, errors)
  rtpmidi.on_error = saved
  if not ok then error(err, 0) end
  return errors
end

return H
