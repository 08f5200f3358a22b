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

function Live.new(path, opts)
  opts = opts or {}
  return setmetatable({
    path = path,
    objects = {},          -- name -> real object, across reloads
    generation = nil,      -- the running version: { timers = {...}, names = {...} }
    log = opts.log or function(msg) io.stderr:write(msg, "\n") end,
    args = opts.args or {},  -- the script's arguments: `...` and `arg`
    version = 0,
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

--- Loads and runs the script (again). Returns true, or nil and the error;
-- on failure the previous version stays in place.
function Live:load()
  local f = io.open(self.path, "rb")
  if not f then return nil, "cannot open " .. self.path end
  local source = f:read("a")
  f:close()
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

--- Reloads now, logging the outcome.
function Live:reload()
  local ok, err = self:load()
  if ok then
    self.log(("rtpmidi: reloaded %s (version %d)"):format(self.path, self.version))
  else
    self.log(("rtpmidi: reload of %s failed, version %d keeps running:\n%s")
      :format(self.path, self.version, tostring(err)))
  end
  return ok, err
end

--- Reloads whenever the file changes. Returns the watch handle. A save
-- often reaches the disk in steps (truncate, then write): the reload waits
-- until the file has been still for `settle_ms` (default 50).
function Live:watch(interval_ms, settle_ms)
  local core = require "rtpmidi.core"
  settle_ms = settle_ms or 50
  self.watcher = assert(core.watch(self.path, interval_ms or 100, function()
    if self.settle then self.settle:cancel() end
    self.settle = rtpmidi.after(settle_ms, function()
      self.settle = nil
      self:reload()
    end)
  end))
  return self.watcher
end

function Live:stop()
  if self.watcher then self.watcher:cancel(); self.watcher = nil end
  if self.settle then self.settle:cancel(); self.settle = nil end
  if self.generation then cancel_all(self.generation.timers) end
  for name, obj in pairs(self.objects) do
    close_object(obj)
    self.objects[name] = nil
  end
end

return Live
