-- `make dist` makes a source rock of the last commit, and that rock installs
-- with luarocks into an empty tree as a user of a rock server would install
-- it: nothing fetched (the rock holds the sources), the command and the
-- module run from that tree. Every command runs under `timeout`: a hang fails
-- with its name instead of waiting for CTest.
local ROOT = os.getenv("RTPMIDI_SOURCE_DIR") or "."

local function quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- What the specs' environment sets for the build tree (and ASan's preload)
-- is not what a user of the rock has.
local CLEAN = "env -u LD_PRELOAD -u ASAN_OPTIONS -u UBSAN_OPTIONS -u LUA_PATH -u LUA_CPATH"
  .. " -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u LUA_INIT -u LUA_INIT_5_4 "

-- Runs a shell command; returns its exit code and its output (stdout and stderr).
local function sh(cmd, seconds)
  local log = os.tmpname()
  local ok, how, code = os.execute(("timeout %d sh -c %s >%s 2>&1"):format(seconds, quote(cmd), quote(log)))
  local f = io.open(log, "rb")
  local out = f and f:read("a") or ""
  if f then f:close() end
  os.remove(log)
  if how == "signal" then code = 128 + code end
  return ok and 0 or code, out
end

local function must(cmd, seconds, what)
  local code, out = sh(cmd, seconds)
  if code == 124 then error(("%s: still running after %d s:\n%s"):format(what, seconds, out), 2) end
  if code ~= 0 then error(("%s: exit %d:\n%s"):format(what, code, out), 2) end
  return out
end

local function version()
  local f = assert(io.open(ROOT .. "/CMakeLists.txt"))
  local v = f:read("a"):match("project%(rtpmidi VERSION ([%d.]+)")
  f:close()
  return assert(v, "no project(rtpmidi VERSION ...) in CMakeLists.txt")
end

describe("make dist", function()
  local tmp

  setup(function()
    assert(sh("command -v luarocks && command -v git && command -v make", 10) == 0,
      "make dist needs luarocks, git and make (make deps-test)")
    assert(sh("git -C " .. quote(ROOT) .. " rev-parse --verify -q HEAD", 10) == 0,
      ROOT .. " is not a git checkout with a commit: make dist archives HEAD")
    tmp = must("mktemp -d /tmp/rtpmidi-dist-XXXXXX", 10, "mktemp"):match("[^\n]+")
  end)
  teardown(function()
    if tmp and tmp:match("^/tmp/rtpmidi%-dist%-") then os.execute("rm -rf " .. quote(tmp)) end
  end)

  it("makes a source rock that luarocks installs into an empty tree, and the command runs from there", function()
    local v = version()
    local out = must(("%s make -s -C %s dist DIST=%s"):format(CLEAN, quote(ROOT), quote(tmp .. "/dist")),
      60, "make dist")
    local rock = ("%s/dist/rtpmidi-%s-1.src.rock"):format(tmp, v)
    assert.matches(rock, out, 1, true)
    -- the rock: its rockspec (a release's version, the tarball as source) and the tarball
    local list = must("unzip -l " .. quote(rock), 10, "unzip -l")
    assert.matches(("rtpmidi%%-%s%%-1%%.rockspec"):format(v:gsub("%.", "%%.")), list)
    assert.matches(("rtpmidi%%-%s%%.tar%%.gz"):format(v:gsub("%.", "%%.")), list)
    local spec = must(("unzip -p %s rtpmidi-%s-1.rockspec"):format(quote(rock), v), 10, "unzip -p")
    assert.matches(('version = "%s-1"'):format(v), spec, 1, true)
    assert.matches(('dir = "rtpmidi-%s"'):format(v), spec, 1, true)
    assert.matches('md5 = "%x+"', spec)
    assert.not_matches("git+file", spec, 1, true)

    -- An empty tree; no rock server to ask (an empty directory as the only
    -- one: a dependency it would have to fetch fails instead).
    local tree, servers = tmp .. "/tree", tmp .. "/no-server"
    must("mkdir -p " .. quote(servers), 5, "mkdir")
    must(("cd %s && %s CMAKE_BUILD_PARALLEL_LEVEL=2 luarocks --lua-version=5.4 --tree=%s --only-server=%s install %s")
      :format(quote(tmp), CLEAN, quote(tree), quote(servers), quote(rock)), 600, "luarocks install")

    -- the installed command, as luarocks wrapped it
    local help = must(CLEAN .. quote(tree .. "/bin/rtpmidi") .. " help", 20, "rtpmidi help")
    assert.matches("^usage: rtpmidi ", help)
    assert.matches("stream", help, 1, true)
    assert.matches("rtpmidi " .. v, must(CLEAN .. quote(tree .. "/bin/rtpmidi") .. " version", 20, "rtpmidi version"),
      1, true)

    -- the module from the tree's path: the C core is the tree's, and a
    -- payload goes through the codec and back
    local script = [[
      local tree = assert(os.getenv("TREE"))
      local rtpmidi = require "rtpmidi"
      for _, m in ipairs({ "rtpmidi", "rtpmidi.core" }) do
        local where = package.searchpath(m, m == "rtpmidi.core" and package.cpath or package.path)
        assert(where and where:sub(1, #tree) == tree, m .. " is not from the tree: " .. tostring(where))
      end
      local codec = rtpmidi.codec
      local payload = assert(codec.encode_midi_payload({ { bytes = "\x90\x3c\x64" }, { delta = 10, bytes = "\x80\x3c\x00" } }))
      local packet = codec.encode_rtp{ payload_type = 97, sequence = 4242, timestamp = 77, ssrc = 0x1234, payload = payload }
      local rtp = assert(codec.decode_rtp(packet))
      assert(rtp.sequence == 4242 and rtp.ssrc == 0x1234 and rtp.payload_type == 97, "RTP header")
      local p = assert(codec.decode_midi_payload(rtp.payload))
      assert(#p.commands == 2 and p.commands[1].bytes == "\x90\x3c\x64" and p.commands[2].bytes == "\x80\x3c\x00",
        "MIDI commands")
      print("round trip " .. rtpmidi._VERSION)
    ]]
    local rt = must(("%s TREE=%s sh -c %s"):format(CLEAN, quote(tree), quote(
      ('eval "$(luarocks --lua-version=5.4 --tree=%s path)" && lua5.4 -e %s'):format(quote(tree), quote(script)))),
      30, "the codec from the tree")
    assert.matches("round trip " .. v, rt, 1, true)
  end)
end)
