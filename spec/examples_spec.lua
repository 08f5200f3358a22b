-- Every example runs as it is, as a subprocess, and exits 0.
local H = require "helper"

local function run(cmd)
  local p = io.popen(cmd .. " 2>&1; echo \"exit=$?\"")
  local out = p:read("a")
  p:close()
  return out, tonumber(out:match("exit=(%d+)%s*$"))
end

describe("examples", function()
  after_each(H.assert_clean)
  local root = os.getenv("RTPMIDI_SOURCE_DIR") or "."
  local build = os.getenv("RTPMIDI_BUILD_DIR") or "build"
  local env = ("LUA_PATH_5_4='%s/lua/?.lua;%s/lua/?/init.lua;;' LUA_CPATH_5_4='%s/?.so;;'"):format(root, root, build)

  it("loopback.lua exchanges its packets", function()
    local out, code = run(("%s timeout 20 lua5.4 %s/examples/loopback.lua"):format(env, root))
    assert.are.equal(0, code, out)
    assert.matches("a received 3, b received 3", out)
  end)

  it("rtpmidi demo streams its phrase", function()
    local out, code = run(("%s timeout 20 lua5.4 %s/bin/rtpmidi demo --port %d"):format(env, root, H.port()))
    assert.are.equal(0, code, out)
    assert.matches("note on  ch1  C4   vel 100", out, 1, true)
    assert.matches("18 of 18 messages arrived intact and in order", out, 1, true)
  end)
end)
