-- The README's examples run as they are: what a new user pastes first
-- must do what the text says (#19: the session example once sent to its
-- own port and printed nothing).
local H = require "helper"
local P = require "proc"

local function readme_block(after_heading)
  local f = assert(io.open(P.root .. "/README.md"))
  local text = f:read("a")
  f:close()
  local section = assert(text:match("\n## " .. after_heading .. "\n(.-)\n## "), after_heading)
  return assert(section:match("```lua\n(.-)```"), "a Lua block under " .. after_heading)
end

describe("README", function()
  after_each(function() P.kill_all() end)

  it("'A session in Lua' prints the packets it streams between its two sessions", function()
    local code = readme_block("A session in Lua")
    -- the example's ports, moved to free ones so that parallel specs do not collide
    local pa, pb = H.port(), H.port()
    local n
    code, n = code:gsub("5004", tostring(pa)):gsub("5006", tostring(pb))
    assert.is_true(n > 0)
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write(code)
    f:close()
    local p = P.spawn({ "lua5.4", path }, P.lua_env())
    p:wait_for(function(self) return select(2, self:stdout():gsub("packet of 4 octets at %d+", "")) >= 2 end,
      "two packets printed", 10000)
    p:kill()
    os.remove(path)
  end)
end)
