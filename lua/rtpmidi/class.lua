-- A minimal class system: Class:extend() makes a subclass, Class(...) makes
-- an instance and calls its init.
local Class = {}
Class.__index = Class

local function call(cls, ...)
  local obj = setmetatable({}, cls)
  obj:init(...)
  return obj
end

function Class:extend(fields)
  local sub = {}
  for k, v in pairs(fields or {}) do sub[k] = v end
  sub.__index = sub
  sub.__call = call
  sub.super = self
  return setmetatable(sub, self)
end

function Class:init() end

function Class:is_a(cls)
  local mt = getmetatable(self)
  while mt do
    if mt == cls then return true end
    mt = mt.super
  end
  return false
end

Class.__call = call
return setmetatable(Class, { __call = call })
