-- Live coding when things go wrong (#19): a repeating callback error
-- prints once and then as a count; a version that keeps failing gives way
-- to the previous good one, which says so; a file caught mid-save (empty,
-- ending mid-token, or cut short) is never loaded as a version.
local rtpmidi = require "rtpmidi"
local Live = require "rtpmidi.live"
local H = require "helper"
local P = require "proc"

local function write(path, text)
  -- in place, as an editor that truncates and writes does
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function count(s, plain)
  local n, i = 0, 1
  while true do
    local a, b = s:find(plain, i, true)
    if not a then return n end
    n, i = n + 1, b + 1
  end
end

-- A version that says it runs: a heartbeat on standard error every 50 ms.
local function heartbeat(name, extra)
  return ("rtpmidi.every(50, function() io.stderr:write(%q) end)\n%s"):format("tick " .. name .. "\n", extra or "")
end

describe("live coding errors", function()
  local paths = {}
  local function script(text)
    local path = os.tmpname()
    os.remove(path)
    path = path .. ".lua"
    paths[#paths + 1] = path
    write(path, text)
    return path
  end
  after_each(function()
    P.kill_all()
    for _, p in ipairs(paths) do os.remove(p) end
    paths = {}
    H.assert_clean()
  end)

  it("prints a repeating error once, then its count", function()
    local logs = {}
    local live = Live.new(script("-- nothing\n"), { log = function(m) logs[#logs + 1] = m end,
                                                   restore_after = false, repeat_ms = 1e9 })
    assert(live:load())
    for _ = 1, 137 do live:report_error("x.lua:3: boom\nstack traceback:\n\tx.lua:3: in function <x.lua:2>") end
    live:report_error("x.lua:9: another")
    live:stop()
    assert.are.same({
      "rtpmidi: error in callback: x.lua:3: boom\nstack traceback:\n\tx.lua:3: in function <x.lua:2>",
      "rtpmidi: the same error 136 more times (137 in all): x.lua:3: boom",
      "rtpmidi: error in callback: x.lua:9: another",
    }, logs)
  end)

  it("under `rtpmidi run --watch`: a failing version prints once, gives way to the last good one and says so", function()
    local path = script(heartbeat("v1"))
    local p = P.rtpmidi({ "run", path, "--watch", "--interval", "20", "--no-repl" })
    p:wait_for(function(s) return s:stderr():find("tick v1", 1, true) end, "version 1", 10000)
    -- version 2 fails on every tick of its timer (every 20 ms)
    write(path, heartbeat("v2", "rtpmidi.every(20, function() error('boom in v2') end)\n"))
    p:wait_for(function(s) return s:stderr():find("back to the code of version 1", 1, true) end,
      "the restore", 10000)
    local err = p:stderr()
    assert.matches("version 2 failed 10 times %(.-boom in v2%): back to the code of version 1, now version 3", err)
    assert.are.equal(1, count(err, "error in callback:"), err)
    assert.are.equal(1, count(err, "stack traceback"), err)
    assert.matches("the same error 9 more times %(10 in all%): .-boom in v2", err)
    -- version 1's code runs again, and version 2's timers are gone
    local mark = #err
    p:wait_for(function(s) return s:stderr():sub(mark):find("tick v1", 1, true) end, "version 1 again", 5000)
    H.run_for(300)
    assert.are.equal(0, count(p:stderr():sub(mark), "boom in v2"), p:stderr():sub(mark))
    -- a save tries again
    write(path, heartbeat("v4"))
    p:wait_for(function(s) return s:stderr():find("tick v4", 1, true) end, "the next save", 5000)
    assert.matches("reloaded .- %(version 4%)", p:stderr())
    p:signal("INT")
    assert.are.equal(0, p:wait_exit(5000))
  end)

  it("never loads an empty file or one caught mid-save", function()
    -- a long version: what a cut-short save would leave out is most of it
    local v1 = heartbeat("v1", ("-- padding\n"):rep(60))
    local path = script(v1)
    local p = P.rtpmidi({ "run", path, "--watch", "--interval", "20", "--no-repl" })
    p:wait_for(function(s) return s:stderr():find("tick v1", 1, true) end, "version 1", 10000)

    -- emptied (an editor truncating before it writes): not a version
    write(path, "")
    p:wait_for(function(s) return s:stderr():find("is empty: not loaded, version 1 keeps running", 1, true) end,
      "the empty file noticed", 5000)

    -- ends mid-token, then the whole text arrives: only the whole is loaded
    local v2 = heartbeat("v2", ("-- padding\n"):rep(60))
    write(path, v2:sub(1, 30))
    H.run_for(150)
    write(path, v2)
    p:wait_for(function(s) return s:stderr():find("tick v2", 1, true) end, "version 2", 5000)

    -- cut short at a line (it compiles and runs, doing nothing), then whole
    local v3 = heartbeat("v3", ("-- padding\n"):rep(60))
    local cut = ("-- padding\n"):rep(5)
    write(path, cut)
    H.run_for(150)
    write(path, v3)
    p:wait_for(function(s) return s:stderr():find("tick v3", 1, true) end, "version 3", 5000)

    local err = p:stderr()
    assert.matches("reloaded .- %(version 2%)", err)
    assert.matches("reloaded .- %(version 3%)", err)   -- no version in between
    assert.are.equal(0, count(err, "failed"), err)

    -- a file cut short that stays so is taken as meant, after a while
    write(path, "-- nothing left\n")
    p:wait_for(function(s) return s:stderr():find("(version 4)", 1, true) end, "the short file loaded", 5000)
    p:signal("INT")
    assert.are.equal(0, p:wait_exit(5000))
  end)
end)
