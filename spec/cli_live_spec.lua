-- `rtpmidi run SCRIPT --watch` as a subprocess: the spec rewrites the script
-- while notes flow through it; the new route takes over, the session (its
-- SSRC) stays, nothing is lost, and a broken edit keeps the old route.
local rtpmidi = require "rtpmidi"
local H = require "helper"
local P = require "proc"

local SCRIPT = [[
local control = rtpmidi.RTPControl()
local net = keep("net", function()
  local s = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = %d, receiving_port = %d }
  assert(control:start_session(control:add_session(s)))
  return s
end)
-- the route: echo every note back, transposed
net.incoming_midi = function(self, m)
  local st, n, v = m:byte(1, 3)
  self:send_midi(string.char(st, n + %d, v))
end
]]

local function write(path, text)
  -- write a new file and rename it over the old one, as editors do: the
  -- watcher never sees half a script
  local tmp = path .. ".new"
  local f = assert(io.open(tmp, "wb"))
  f:write(text)
  f:close()
  assert(os.rename(tmp, path))
end

describe("rtpmidi run --watch (subprocess)", function()
  local control = rtpmidi.RTPControl()
  after_each(function()
    P.kill_all()
    H.assert_clean()
  end)

  it("swaps the route during traffic, keeps the session and loses nothing; a broken edit keeps the old route", function()
    local path = os.tmpname()
    os.remove(path)
    path = path .. ".lua"
    local p_script, p_test = H.port(), H.port()
    write(path, SCRIPT:format(p_test, p_script, 12))
    local proc = P.rtpmidi({ "run", path, "--watch", "--interval", "20" })
    proc:wait_for(function(p) return p:stderr():find("reloading on save", 1, true) end, "the script to run", 10000)

    local echoes = {}
    local tester = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = p_script, receiving_port = p_test,
      incoming_midi = function(_, m) echoes[#echoes + 1] = m:byte(2) - 60 end }
    assert(control:start_session(control:add_session(tester)))
    local sent = 0
    local sender = rtpmidi.every(3, function()
      if sent - #echoes < 10 then
        sent = sent + 1
        tester:send_midi("\x90\x3c\x64")
      end
    end)
    proc:wait_for(function() return #echoes >= 50 end, "echoes from version 1", 10000)
    local ssrc = tester:stats().peer_ssrc
    assert.are_not.equal(0, ssrc)
    assert.are.equal(12, echoes[#echoes])

    -- save a new version while notes flow
    write(path, SCRIPT:format(p_test, p_script, 7) .. "\n-- version 2\n")
    proc:wait_for(function() return echoes[#echoes] == 7 end, "the new route", 10000)
    proc:wait_for(function(p) return p:stderr():find("reloaded .* %(version 2%)") end, "the reload message")
    local switched = #echoes
    proc:wait_for(function() return #echoes >= switched + 50 end, "echoes from version 2")

    -- a broken edit: the error shows on stderr and version 2 keeps playing
    write(path, "this is not Lua (\n")
    proc:wait_for(function(p) return p:stderr():find("failed, version 2 keeps running", 1, true) end,
      "the failed reload on stderr", 10000)
    assert.matches("syntax error", proc:stderr(), 1, true)
    local before = #echoes
    proc:wait_for(function() return #echoes >= before + 50 end, "echoes after the broken edit")
    assert.are.equal(7, echoes[#echoes])

    sender:cancel()
    proc:wait_for(function() return #echoes == sent end, "the last echoes")
    local st = tester:stats()
    assert.are.equal(sent, #echoes)            -- every note came back once
    assert.are.equal(0, st.lost)               -- no packet lost either way
    assert.are.equal(ssrc, st.peer_ssrc)       -- the same session all along
    for i = 1, #echoes do assert.is_true(echoes[i] == 12 or echoes[i] == 7) end
    local p_st = tester:stats()
    assert.are.equal(0, p_st.malformed)

    proc:signal("INT")
    assert.are.equal(0, proc:wait_exit(5000))
    os.remove(path)
  end)

  it("exits 1 when the script fails on its first run", function()
    local path = os.tmpname()
    os.remove(path)
    path = path .. ".lua"
    write(path, "error('first run fails')\n")
    local proc = P.rtpmidi({ "run", path })
    assert.are.equal(1, proc:wait_exit(10000))
    assert.matches("first run fails", proc:stderr(), 1, true)
    os.remove(path)
  end)
end)
