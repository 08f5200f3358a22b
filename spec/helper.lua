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
local next_port = 20000 + 4 * math.random(0, 5000)

--- An even UDP port (with port+1 free for RTCP) not used by this run yet.
function H.port()
  local p = next_port
  next_port = next_port + 4
  if next_port > 62000 then next_port = 20000 end
  return p
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
