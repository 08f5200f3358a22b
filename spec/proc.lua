-- Subprocesses for the specs: the rtpmidi command (or any command) in the
-- background, its standard output and error in files the spec polls while
-- the loop runs, its exit code when it ends, and signals. Every process
-- started here is killed by P.kill_all() (call it in teardown/after_each).
local rtpmidi = require "rtpmidi"
local H = require "helper"

local P = {}
P.__index = P

local ROOT = os.getenv("RTPMIDI_SOURCE_DIR") or "."
local BUILD = os.getenv("RTPMIDI_BUILD_DIR") or "build"
P.root = ROOT

local function quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
P.quote = quote

local function read(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

local running = {}

--- The environment that finds this tree's module and command.
function P.lua_env(extra)
  local env = {
    LUA_PATH_5_4 = ("%s/lua/?.lua;%s/lua/?/init.lua;;"):format(ROOT, ROOT),
    LUA_CPATH_5_4 = ("%s/?.so;;"):format(BUILD),
  }
  for k, v in pairs(extra or {}) do env[k] = v end
  return env
end

--- Starts argv (a list) with env (a table of variables) in the background;
-- stdin: a path (default /dev/null). Returns the process.
function P.spawn(argv, env, stdin)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. quote(dir)))
  local self = setmetatable({ dir = dir, out_path = dir .. "/out", err_path = dir .. "/err",
                              rc_path = dir .. "/rc", argv = argv }, P)
  local vars = {}
  for k, v in pairs(env or {}) do vars[#vars + 1] = k .. "=" .. quote(v) end
  local words = {}
  for i, a in ipairs(argv) do words[i] = quote(a) end
  -- the subshell waits for the command and records its exit code; $! is
  -- the command itself, so signals reach it directly
  local cmd = ("( env %s %s <%s >%s 2>%s & echo $! >%s/pid; wait $!; echo $? >%s.tmp; mv %s.tmp %s ) >/dev/null 2>&1 &")
    :format(table.concat(vars, " "), table.concat(words, " "), quote(stdin or "/dev/null"),
      quote(self.out_path), quote(self.err_path), quote(dir), quote(self.rc_path), quote(self.rc_path),
      quote(self.rc_path))
  assert(os.execute(cmd))
  -- the pid file appears at once
  local tick = rtpmidi.every(5, function() end)
  H.run_until(function()
    local s = read(dir .. "/pid")
    self.pid = s:match("^(%d+)")
    return self.pid ~= nil
  end, "the subprocess to start", 5000)
  tick:cancel()
  running[self] = true
  return self
end

--- The rtpmidi command from this tree: P.rtpmidi({ "stream", ... }, env, stdin).
function P.rtpmidi(args, env, stdin)
  local argv = { "lua5.4", ROOT .. "/bin/rtpmidi" }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  return P.spawn(argv, P.lua_env(env), stdin)
end

function P:stdout() return read(self.out_path) end
function P:stderr() return read(self.err_path) end

--- The exit code once it ended, else nil.
function P:exit_code()
  local s = read(self.rc_path)
  return tonumber(s:match("^(%d+)"))
end

function P:signal(name)
  os.execute(("kill -%s %s 2>/dev/null"):format(name, self.pid))
end

--- Runs the loop until cond(self) is true (the output files are polled every
-- 10 ms); fails with what and both outputs after timeout_ms.
function P:wait_for(cond, what, timeout_ms)
  local tick = rtpmidi.every(10, function() end)
  local ok, err = pcall(H.run_until, function() return cond(self) end, what, timeout_ms)
  tick:cancel()
  if not ok then
    error(("%s\n--- stdout of %s:\n%s\n--- stderr:\n%s"):format(err, table.concat(self.argv, " "),
      self:stdout(), self:stderr()), 2)
  end
end

--- Waits until it exits; returns the exit code.
function P:wait_exit(timeout_ms)
  self:wait_for(function(p) return p:exit_code() ~= nil end, "the subprocess to exit", timeout_ms)
  running[self] = nil
  return self:exit_code()
end

--- Kills it (SIGKILL) if it still runs, and removes its files.
function P:kill()
  if self:exit_code() == nil then
    os.execute(("kill -9 %s 2>/dev/null"):format(self.pid))
    local tick = rtpmidi.every(10, function() end)
    pcall(H.run_until, function() return self:exit_code() ~= nil end, "the killed subprocess", 3000)
    tick:cancel()
  end
  running[self] = nil
  if not os.getenv("RTPMIDI_KEEP_SPEC_OUTPUT") then os.execute("rm -rf " .. quote(self.dir)) end
end

function P.kill_all()
  for p in pairs(running) do p:kill() end
end

return P
