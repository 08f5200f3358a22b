-- The watchdog (#19): a callback that never returns is stopped with an
-- error after the callback budget, the loop goes on, and Ctrl-C still works
-- (under `rtpmidi run --watch`, on a terminal).
local rtpmidi = require "rtpmidi"
local core = require "rtpmidi.core"
local H = require "helper"
local P = require "proc"
local T = require "tty"

describe("the callback watchdog", function()
  local errors
  local saved_on_error = rtpmidi.on_error
  before_each(function()
    errors = {}
    rtpmidi.on_error = function(msg) errors[#errors + 1] = msg end
  end)
  after_each(function()
    rtpmidi.on_error = saved_on_error
    rtpmidi.set_callback_budget(200)
    T.kill_all()
    P.kill_all()
    H.assert_clean()
  end)

  it("stops a callback that never returns after the budget; the loop goes on", function()
    assert.are.equal(200, rtpmidi.set_callback_budget(50))   -- the default, then ours
    local ticks, stuck_at = 0, nil
    local ticker = rtpmidi.every(5, function() ticks = ticks + 1 end)
    rtpmidi.after(1, function()
      stuck_at = rtpmidi.now()
      while true do end
    end)
    H.run_until(function() return #errors > 0 end, "the watchdog's error", 5000)
    local took = rtpmidi.now() - stuck_at
    assert.is_true(took >= 50, ("stopped after %.1f ms, before its budget"):format(took))
    assert.matches("callback stopped by the watchdog: it ran longer than 50 ms", errors[1], 1, true)
    assert.matches("watchdog_spec.lua:%d+", errors[1])   -- the traceback says where it was stuck
    local before = ticks
    H.run_until(function() return ticks >= before + 5 end, "the loop to go on", 5000)
    ticker:cancel()
    assert.are.equal(1, #errors)
  end)

  it("leaves callbacks within the budget, a loop run inside a callback, and waiting in C alone", function()
    rtpmidi.set_callback_budget(50)
    local done = {}
    rtpmidi.after(1, function()
      local t = rtpmidi.now()
      while rtpmidi.now() - t < 30 do end      -- busy, within the budget
      done[#done + 1] = "busy 30 ms"
    end)
    rtpmidi.after(2, function()
      H.run_for(200)                            -- waits on the loop: not stuck
      done[#done + 1] = "nested loop"
    end)
    rtpmidi.after(3, function()
      -- waits 200 ms in a C call (as opening a JACK client can), then runs
      -- on: no CPU spent, not stuck
      local f = assert(io.popen("sleep 0.2; echo done"))
      local out = f:read("a")
      f:close()
      for _ = 1, 1000 do local _ = {} end
      done[#done + 1] = "waited in C: " .. out:gsub("%s", "")
    end)
    H.run_until(function() return #done == 3 end, "the three callbacks", 5000)
    table.sort(done)   -- (the third timer runs inside the nested loop)
    assert.are.same({ "busy 30 ms", "nested loop", "waited in C: done" }, done)
    assert.are.same({}, errors)
  end)

  it("0 turns it off; bad budgets raise naming the argument", function()
    rtpmidi.set_callback_budget(0)
    local finished = false
    rtpmidi.after(1, function()
      local t = rtpmidi.now()
      while rtpmidi.now() - t < 300 do end
      finished = true
    end)
    H.run_until(function() return finished end, "the long callback", 5000)
    assert.are.same({}, errors)
    assert.are.equal(0, rtpmidi.set_callback_budget(false))
    assert.has_error(function() rtpmidi.set_callback_budget(-1) end,
      "bad argument 'ms' to 'set_callback_budget' (milliseconds >= 0 expected, got -1)")
    assert.has_error(function() rtpmidi.set_callback_budget("x") end)
  end)

  it("costs the callbacks nothing while they keep to it (no hook is set)", function()
    local hook
    rtpmidi.after(1, function() hook = debug.gethook() or "none" end)
    H.run_until(function() return hook ~= nil end, "the callback", 5000)
    assert.are.equal("none", hook)
  end)

  it("under `rtpmidi run --watch`, a stuck timer is stopped, the script's other timer goes on, Ctrl-C ends it", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write([[
local n = 0
rtpmidi.every(100, function() n = n + 1; print("tick " .. n) end)
rtpmidi.after(50, function() while true do end end)
]])
    f:close()
    local term = T.start({ "lua5.4", P.root .. "/bin/rtpmidi", "run", path, "--watch", "--no-repl" }, P.lua_env())
    term:wait_for(function(t) return t:screen():find("callback stopped by the watchdog", 1, true) end,
      "the watchdog's message", 10000)
    term:wait_for(function(t) return t:screen():find("tick 5", 1, true) end, "the other timer", 10000)
    term:keys("C-c")
    assert.are.equal(0, (term:wait_exit(5000)))
    os.remove(path)
  end)
end)
