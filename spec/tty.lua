-- A command on a terminal of its own, for the specs that need what only a
-- terminal gives: Ctrl-C as the user types it (SIGINT to the foreground
-- process group), a REPL in raw mode, the screen as the user sees it.
-- Each terminal is a tmux server on a private socket in a directory of its
-- own, so specs running in parallel never share one; T:kill() ends it. The
-- command runs under a small sh launcher that records its exit code.
--
--   local term = T.start({ "lua5.4", "script.lua" }, env, { cols = 100, rows = 20 })
--   term:wait_for(function(t) return t:screen():find("ready") end, "the script to start")
--   term:keys("C-c")           -- tmux key names: C-c, C-d, Enter, Left, Up, ...
--   term:type("print(1)")      -- literal text
--   local code, signal = term:wait_exit(5000)
local rtpmidi = require "rtpmidi"
local H = require "helper"
local P = require "proc"

local T = {}
T.__index = T

local quote = P.quote
local running = {}

local function sh(cmd)
  local ok = os.execute(cmd)
  return ok == true or ok == 0
end

local function capture(cmd)
  local f = assert(io.popen(cmd, "r"))
  local s = f:read("a")
  f:close()
  return s
end

--- Whether tmux is installed.
function T.available()
  return sh("command -v tmux >/dev/null 2>&1")
end

--- Starts argv on a new terminal of cols x rows (100 x 24) with the
-- environment variables in env. The terminal stays after the command ends,
-- so that its exit status and last screen can be read.
function T.start(argv, env, opts)
  assert(T.available(), "tmux is not installed: `make deps-test` (or apt-get install tmux)")
  opts = opts or {}
  local dir = os.tmpname()
  os.remove(dir)
  assert(sh("mkdir -p " .. quote(dir)))
  local self = setmetatable({ dir = dir, socket = dir .. "/tmux", argv = argv }, T)
  -- tmux takes an argument ending in ';' for a command separator: the
  -- environment goes through a launcher instead of the command line
  local lines = {}
  for k, v in pairs(env or {}) do lines[#lines + 1] = ("export %s=%s"):format(k, quote(v)) end
  -- the launcher waits for the command and records its exit code (tmux's
  -- own record of it proved unreliable); it lets SIGINT pass by, and a
  -- caught signal is back to its default action in the command
  lines[#lines + 1] = "trap : INT TERM"
  lines[#lines + 1] = '"$@"'
  -- the exit code, and the terminal's modes as the command left them
  lines[#lines + 1] = ('rc=$?; stty -a >%s 2>&1; echo $rc >%s.tmp; mv %s.tmp %s'):format(quote(dir .. "/stty"),
    quote(dir .. "/rc"), quote(dir .. "/rc"), quote(dir .. "/rc"))
  local f = assert(io.open(dir .. "/launch.sh", "w"))
  f:write(table.concat(lines, "\n"), "\n")
  f:close()
  f = assert(io.open(dir .. "/tmux.conf", "w"))
  f:write("set -g remain-on-exit on\nset -g history-limit 5000\nset -g status off\n")
  f:close()
  local words = {}
  for i, a in ipairs(argv) do
    assert(not a:match(";$"), "an argument ending in ';' cannot be passed through tmux")
    words[i] = quote(a)
  end
  assert(sh(("tmux -S %s -f %s new-session -d -x %d -y %d sh %s %s"):format(quote(self.socket),
    quote(dir .. "/tmux.conf"), opts.cols or 100, opts.rows or 24, quote(dir .. "/launch.sh"),
    table.concat(words, " "))), "tmux did not start")
  running[self] = true
  return self
end

function T:tmux(args)
  return capture(("tmux -S %s %s 2>/dev/null"):format(quote(self.socket), args))
end

--- Sends tmux key names (each an argument: "C-c", "Enter", "Left", ...).
function T:keys(...)
  local words = {}
  for i, k in ipairs{ ... } do words[i] = quote(k) end
  self:tmux("send-keys " .. table.concat(words, " "))
end

--- Types text literally (no key names).
function T:type(text)
  self:tmux("send-keys -l " .. quote(text))
end

--- The screen as it shows now, lines joined where the terminal wrapped
-- them, with the history above it.
function T:screen()
  return self:tmux("capture-pane -p -J -S -")
end

--- The visible screen only, each line as the terminal shows it.
function T:visible()
  return self:tmux("capture-pane -p")
end

--- Resizes the terminal (the program gets SIGWINCH).
function T:resize(cols, rows)
  self:tmux(("resize-window -x %d -y %d"):format(cols, rows))
end

--- nil while the command runs; then its exit code as a shell says it
-- and, for a code above 128, the signal that ended it (code - 128).
function T:exit_status()
  local f = io.open(self.dir .. "/rc")
  if not f then return nil end
  local code = tonumber(f:read("a"):match("%d+"))
  f:close()
  return code, code and code > 128 and code - 128 or nil
end

--- The terminal's modes (`stty -a`) as the command left them, once it ended.
function T:modes_after()
  local f = io.open(self.dir .. "/stty")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

--- The last line of the screen that is not blank.
function T:last_line()
  local last
  for l in self:visible():gmatch("[^\n]*") do
    if l:find("%S") then last = l end
  end
  return last
end

--- Runs the loop until cond(self) holds (polled every 20 ms); fails with
-- what and the screen after timeout_ms.
function T:wait_for(cond, what, timeout_ms)
  local tick = rtpmidi.every(20, function() end)
  local ok, err = pcall(H.run_until, function() return cond(self) end, what, timeout_ms)
  tick:cancel()
  if not ok then
    error(("%s\n--- screen of %s:\n%s"):format(err, table.concat(self.argv, " "), self:screen()), 2)
  end
end

--- Waits until the command ends: its exit code and the signal (or nil).
function T:wait_exit(timeout_ms)
  self:wait_for(function(t) return t:exit_status() ~= nil end, "the command to end", timeout_ms)
  return self:exit_status()
end

--- Ends the terminal (and the command if it still runs) and removes its files.
function T:kill()
  sh(("tmux -S %s kill-server >/dev/null 2>&1"):format(quote(self.socket)))
  running[self] = nil
  if not os.getenv("RTPMIDI_KEEP_SPEC_OUTPUT") then sh("rm -rf " .. quote(self.dir)) end
end

function T.kill_all()
  for t in pairs(running) do t:kill() end
end

return T
