-- Live coding: run a script on the loop and reload it when it changes,
-- keeping its named sessions and ports up.
--
-- A script names what must survive a reload with keep(name, factory): the
-- first run builds the object, later runs get the same object back (same
-- sockets, same SSRC). What a script assigns to a kept object (callbacks,
-- routes) is collected while it runs and applied all at once when it
-- finishes; a script that fails to load or run changes nothing, and the
-- previous version keeps running. Timers a version started are cancelled
-- when a newer version takes over.
local rtpmidi = require "rtpmidi"

local Live = {}
Live.__index = Live

-- opts: log (function(msg)), args (the script's arguments), restore_after
-- (errors of one version within restore_window_ms that send it back to the
-- previous good version; 10, false: never), restore_window_ms (10000),
-- repeat_ms (a repeating error's count is printed at most this often; 5000),
-- suspect_ms (how long a file that looks cut short must stay unchanged
-- before it is taken as meant; 500), shrink (a file smaller than this
-- fraction of the last good version looks cut short; 0.5).
function Live.new(path, opts)
  opts = opts or {}
  local restore_after = opts.restore_after
  if restore_after == nil then restore_after = 10 end
  return setmetatable({
    path = path,
    objects = {},          -- name -> real object, across reloads
    generation = nil,      -- the running version: { timers = {...}, names = {...} }
    log = opts.log or function(msg) io.stderr:write(msg, "\n") end,
    args = opts.args or {},  -- the script's arguments: `...` and `arg`
    version = 0,
    good = {},             -- { {version=, source=}, ... }: versions that loaded, newest last
    restore_after = restore_after,
    restore_window_ms = opts.restore_window_ms or 10000,
    repeat_ms = opts.repeat_ms or 5000,
    suspect_ms = opts.suspect_ms or 500,
    shrink = opts.shrink or 0.5,
    err = nil,             -- the last error reported: { key=, count=, pending=, printed=, version= }
    recent = {},           -- times of the current version's errors (restore_window_ms)
  }, Live)
end

-- A view of an object whose writes are held until the version commits.
local function proxy_for(obj, pending)
  local writes = pending[obj]
  if not writes then
    writes = {}
    pending[obj] = writes
  end
  local proxy = {}
  return setmetatable(proxy, {
    __index = function(_, k)
      local v = writes[k]
      if v == nil then v = obj[k] end
      if type(v) == "function" then
        return function(self, ...)
          if self == proxy then self = obj end
          return v(self, ...)
        end
      end
      return v
    end,
    __newindex = function(_, k, v) writes[k] = v end,
    __tostring = function() return "live:" .. tostring(obj) end,
    __live_object = obj,
  })
end

-- The environment one version of the script runs in.
function Live:environment(gen, pending)
  local live = self
  local timers = gen.timers
  local function track(h) timers[#timers + 1] = h; return h end
  local view = setmetatable({
    after = function(ms, fn) return track(rtpmidi.after(ms, fn)) end,
    every = function(ms, fn) return track(rtpmidi.every(ms, fn)) end,
    keep = function(name, factory) return live:keep(gen, pending, name, factory) end,
  }, { __index = rtpmidi })
  local env = setmetatable({
    rtpmidi = view,
    keep = view.keep,
    require = function(name)
      if name == "rtpmidi" then return view end
      return require(name)
    end,
  }, { __index = _G })
  return env
end

function Live:keep(gen, pending, name, factory)
  if type(name) ~= "string" then
    error("bad argument 'name' to 'keep' (string expected, got " .. type(name) .. ")", 3)
  end
  if type(factory) ~= "function" then
    error("bad argument 'factory' to 'keep' (function expected, got " .. type(factory) .. ")", 3)
  end
  gen.names[name] = true
  local obj = self.objects[name]
  if obj == nil then
    obj = factory()
    if obj == nil then error("keep '" .. name .. "': the factory returned nil", 3) end
    gen.created[name] = obj
  end
  if type(obj) ~= "table" then return obj end
  return proxy_for(obj, pending)
end

local function cancel_all(list)
  for _, h in ipairs(list) do
    if h.cancel then h:cancel() end
  end
end

local function close_object(obj)
  local control = rtpmidi.RTPControl()
  if type(obj) ~= "table" then return end
  if obj.cookie and control:get_session(obj.cookie) == obj then
    control:remove_session(obj.cookie)
  elseif type(obj.close) == "function" then
    pcall(obj.close, obj)
  end
end

function Live:read()
  local f = io.open(self.path, "rb")
  if not f then return nil, "cannot open " .. self.path end
  local source = f:read("a")
  f:close()
  return source
end

local GOOD_KEPT = 16   -- good versions remembered for going back

--- Loads and runs the script (again), or the given source. Returns true, or
-- nil and the error; on failure the previous version stays in place. An
-- empty file (an editor mid-save) is never loaded.
function Live:load(source)
  if source == nil then
    local err
    source, err = self:read()
    if not source then return nil, err end
  end
  if not source:find("%S") then
    return nil, self.path .. " is empty", "empty"
  end
  local gen = { timers = {}, names = {}, created = {} }
  local pending = {}
  local env = self:environment(gen, pending)
  env.arg = table.move(self.args, 1, #self.args, 1, { [0] = self.path })
  local chunk, err = load(source, "@" .. self.path, "t", env)
  local ok = chunk ~= nil
  if ok then
    ok, err = xpcall(chunk, debug.traceback, table.unpack(self.args))
  end
  if not ok then
    cancel_all(gen.timers)
    for _, obj in pairs(gen.created) do close_object(obj) end
    return nil, err
  end
  -- Commit: new objects join, writes land at once, the old version's timers
  -- stop, and objects the new version no longer names are closed.
  for name, obj in pairs(gen.created) do self.objects[name] = obj end
  for obj, writes in pairs(pending) do
    for k, v in pairs(writes) do obj[k] = v end
  end
  local old = self.generation
  self.generation = gen
  self.version = self.version + 1
  self:flush_errors()
  self.recent = {}
  self.good[#self.good + 1] = { version = self.version, source = source }
  if #self.good > GOOD_KEPT then table.remove(self.good, 1) end
  if old then
    cancel_all(old.timers)
    for name, obj in pairs(self.objects) do
      if not gen.names[name] then
        close_object(obj)
        self.objects[name] = nil
      end
    end
  end
  return true
end

--- Reloads now (or the given source), logging the outcome.
function Live:reload(source)
  local ok, err, why = self:load(source)
  if ok then
    self.log(("rtpmidi: reloaded %s (version %d)"):format(self.path, self.version))
  elseif why == "empty" then
    self.log(("rtpmidi: %s is empty: not loaded, version %d keeps running"):format(self.path, self.version))
  else
    self.log(("rtpmidi: reload of %s failed, version %d keeps running:\n%s")
      :format(self.path, self.version, tostring(err)))
  end
  return ok, err
end

-- Whether source looks like a save caught half-way: it does not compile and
-- the compiler ran out of text (it ends mid-token or mid-block), or it is
-- much smaller than the version running.
function Live:looks_cut(source)
  local _, err = load(source, "=check", "t", {})
  if err and err:find("<eof>", 1, true) then return true end
  local last = self.good[#self.good]
  return last ~= nil and #source < #last.source * self.shrink
end

--- The file changed (and has been still since): reload it, unless it is
-- empty (never loaded) or looks cut short, which must stay as it is for
-- suspect_ms before it is taken as meant.
function Live:changed()
  local source = self:read()
  if not source then return end
  if source == self.waiting_for then return end   -- already waiting on this text
  if self.recheck then self.recheck:cancel(); self.recheck = nil end
  if not source:find("%S") then
    self.log(("rtpmidi: %s is empty: not loaded, version %d keeps running"):format(self.path, self.version))
    return
  end
  if self:looks_cut(source) then
    self.waiting_for = source
    self.recheck = rtpmidi.after(self.suspect_ms, function()
      self.recheck, self.waiting_for = nil, nil
      if self:read() == source then self:reload(source) end
    end)
    return
  end
  self.waiting_for = nil
  self:reload(source)
end

--- Reloads whenever the file changes. Returns the watch handle. A save
-- often reaches the disk in steps (truncate, then write): the reload waits
-- until the file has been still for `settle_ms` (default 50), and longer for
-- a file that looks cut short (see changed()).
function Live:watch(interval_ms, settle_ms)
  local core = require "rtpmidi.core"
  settle_ms = settle_ms or 50
  self.watcher = assert(core.watch(self.path, interval_ms or 100, function()
    if self.settle then self.settle:cancel() end
    self.settle = rtpmidi.after(settle_ms, function()
      self.settle = nil
      self:changed()
    end)
  end))
  return self.watcher
end

-- Errors -----------------------------------------------------------------
-- A callback error that repeats (a route failing on every note, a timer
-- failing on every tick) prints once in full, then as a count at most every
-- repeat_ms; when one version has failed restore_after times within
-- restore_window_ms, the previous good version's code is loaded again.

local function first_line(msg) return (msg:match("^[^\n]*")) end

-- Prints the count of repeats not printed yet.
function Live:flush_errors()
  local e = self.err
  if e and e.pending > 0 then
    self.log(("rtpmidi: the same error %d more time%s (%d in all): %s"):format(e.pending,
      e.pending == 1 and "" or "s", e.count, e.key))
    e.pending = 0
  end
end

--- Reports a callback error (the command line's rtpmidi.on_error).
function Live:report_error(message)
  local msg, now = tostring(message), rtpmidi.now()
  local key, e = first_line(msg), self.err
  if e and e.key == key and e.version == self.version then
    e.count, e.pending = e.count + 1, e.pending + 1
    if now - e.printed >= self.repeat_ms then
      self:flush_errors()
      e.printed = now
    end
  else
    self:flush_errors()
    self.err = { key = key, count = 1, pending = 0, printed = now, version = self.version }
    self.log("rtpmidi: error in callback: " .. msg)
  end
  -- the version's errors within the window
  local recent = self.recent
  recent[#recent + 1] = now
  while recent[1] and now - recent[1] > self.restore_window_ms do table.remove(recent, 1) end
  if self.restore_after and #recent >= self.restore_after and not self.restoring
     and self.stuck_version ~= self.version then
    self.recent = {}
    self:restore(key, #recent)
  end
end

--- Goes back to the previous good version's code (the file stays as it is:
-- the next save loads again). Returns true when it did.
function Live:restore(why, count)
  local bad = self.version
  local good = self.good
  if good[#good] and good[#good].version == bad then table.remove(good) end
  local prev = good[#good]
  self:flush_errors()
  if not prev then
    self.log(("rtpmidi: version %d failed %d times (%s); there is no earlier version to go back to")
      :format(bad, count, why))
    self.stuck_version = bad   -- said once
    return false
  end
  table.remove(good)     -- it comes back as the newest version
  self.restoring = true
  local ok, err = self:load(prev.source)
  self.restoring = false
  if not ok then
    good[#good + 1] = prev
    self.log(("rtpmidi: version %d failed %d times (%s); going back to version %d failed too: %s")
      :format(bad, count, why, prev.version, tostring(err)))
    return false
  end
  self.log(("rtpmidi: version %d failed %d times (%s): back to the code of version %d, now version %d; "
    .. "save the file to try again"):format(bad, count, why, prev.version, self.version))
  return true
end

function Live:stop()
  if self.watcher then self.watcher:cancel(); self.watcher = nil end
  if self.settle then self.settle:cancel(); self.settle = nil end
  if self.recheck then self.recheck:cancel(); self.recheck = nil end
  self:flush_errors()
  if self.generation then cancel_all(self.generation.timers) end
  for name, obj in pairs(self.objects) do
    close_object(obj)
    self.objects[name] = nil
  end
end

return Live
