-- The prompt of `rtpmidi run` on a real terminal (#19): lines are edited in
-- place (cursor keys, Home/End, Delete, Backspace), Up/Down bring back
-- earlier lines (kept in a history file), Tab completes names, log lines
-- printed while a line is being typed never break it (the prompt and the
-- line are drawn again below them), an error prints in one line without a
-- traceback, and the terminal is left as it was found.
local H = require "helper"
local P = require "proc"
local T = require "tty"

local function count(s, plain)
  local n, i = 0, 1
  while true do
    local a, b = s:find(plain, i, true)
    if not a then return n end
    n, i = n + 1, b + 1
  end
end

describe("the rtpmidi prompt on a terminal", function()
  local files = {}
  local function tmp(text)
    local path = os.tmpname()
    files[#files + 1] = path
    if text then
      local f = assert(io.open(path, "w"))
      f:write(text)
      f:close()
    else
      os.remove(path)
    end
    return path
  end
  after_each(function()
    T.kill_all()
    for _, f in ipairs(files) do os.remove(f) end
    files = {}
    H.assert_clean()
  end)

  -- the script logs a numbered line to standard error every 40 ms
  local function start(history)
    local script = tmp([[
local n = 0
rtpmidi.every(40, function() n = n + 1; io.stderr:write("log line ", n, "\n") end)
]])
    local term = T.start({ "lua5.4", P.root .. "/bin/rtpmidi", "run", script },
      P.lua_env{ RTPMIDI_HISTORY = history }, { cols = 80, rows = 30 })
    term:wait_for(function(t) return t:screen():find("run> ", 1, true) end, "the prompt", 10000)
    return term
  end

  local function logs_seen(term)
    local n = 0
    for k in term:screen():gmatch("log line (%d+)") do n = math.max(n, tonumber(k)) end
    return n
  end

  -- Waits until the output has scrolled on by a few log lines, then gives
  -- the bottom line (where the prompt is).
  local function after_some_logs(term)
    local seen = logs_seen(term)
    term:wait_for(function(t) return logs_seen(t) >= seen + 3 end, "more log lines", 5000)
    return term:last_line()
  end

  it("keeps the line being typed whole below the log lines, and edits it in place", function()
    local history = tmp()
    local term = start(history)
    term:type("x = 1 + 2")
    assert.are.equal("run> x = 1 + 2", after_some_logs(term))
    -- Home, over "x = ", Delete the 1, type 40
    term:keys("Home", "Right", "Right", "Right", "Right", "DC")
    term:type("40")
    assert.are.equal("run> x = 40 + 2", after_some_logs(term))
    term:keys("Enter")
    term:type("x * 10")
    term:keys("Enter")
    term:wait_for(function(t) return t:screen():find("\n420\n", 1, true) end, "the result", 5000)
    -- no log line ever took part of the typed line
    for l in term:screen():gmatch("[^\n]+") do
      if l:find("log line", 1, true) then assert.matches("^log line %d+$", l) end
    end

    -- Up twice brings back "x = 40 + 2": change its end and run it again
    term:keys("Up", "Up")
    assert.are.equal("run> x = 40 + 2", after_some_logs(term))
    term:keys("BSpace")
    term:type("3")
    term:keys("Enter")
    term:type("x")
    term:keys("Enter")
    term:wait_for(function(t) return t:screen():find("\n43\n", 1, true) end, "the edited line's result", 5000)

    -- Tab completes a name; Ctrl-U clears the line
    term:type("rtpmidi.set_callback_bu")
    term:keys("Tab")
    assert.are.equal("run> rtpmidi.set_callback_budget", after_some_logs(term))
    term:keys("C-u")
    assert.are.equal("run>", after_some_logs(term))

    term:keys("C-c")
    assert.are.equal(0, (term:wait_exit(5000)))
    -- the terminal is as it was: line at a time, with echo
    local modes = term:modes_after()
    assert.matches("[^-]icanon", modes)
    assert.matches("[^-]echo ", modes)
    -- the lines typed are in the history file, once each in a row
    local f = assert(io.open(history))
    local kept = f:read("a")
    f:close()
    assert.are.equal("x = 40 + 2\nx * 10\nx = 40 + 3\nx\n", kept)
  end)

  it("says an error in one line, without a traceback, and goes on", function()
    local term = start(tmp())
    term:type("error('boom')")
    term:keys("Enter")
    term:type("local t = nil; return t.field")
    term:keys("Enter")
    term:type("for i = 1,")
    term:keys("Enter")
    term:type("2 do print('line ' .. i) end")
    term:keys("Enter")
    term:wait_for(function(t) return t:screen():find("line 2", 1, true) end, "the two-line statement", 5000)
    local screen = term:screen()
    assert.matches("\nstdin:1: boom\n", screen, 1, true)
    assert.matches("\nstdin:1: attempt to index a nil value (local 't')\n", screen, 1, true)
    assert.are.equal(0, count(screen, "traceback"))
    assert.matches(">> 2 do print", screen, 1, true)   -- the continuation prompt
    term:keys("C-d")
    assert.are.equal(0, (term:wait_exit(5000)))
    assert.matches("end of input, stopping", term:screen(), 1, true)
  end)
end)
