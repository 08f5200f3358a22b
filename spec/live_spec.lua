local rtpmidi = require "rtpmidi"
local Live = require "rtpmidi.live"
local H = require "helper"

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
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

describe("live reload", function()
  local control = rtpmidi.RTPControl()
  local live
  after_each(function()
    if live then live:stop() end
    live = nil
    H.assert_clean()
  end)

  it("swaps the route during traffic, keeps the session, loses nothing, and survives a broken edit", function()
    local path = os.tmpname()
    local p_script, p_test = H.port(), H.port()
    write(path, SCRIPT:format(p_test, p_script, 12))
    local logs = {}
    live = Live.new(path, { log = function(msg) logs[#logs + 1] = msg end })
    assert(live:load())
    live:watch(10)

    local echoes = {}
    local tester = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = p_script, receiving_port = p_test,
      incoming_midi = function(_, m) echoes[#echoes + 1] = m:byte(2) - 60 end }
    assert(control:start_session(control:add_session(tester)))
    local sent = 0
    local sender = rtpmidi.every(2, function()
      if sent - #echoes < 20 then
        sent = sent + 1
        tester:send_midi("\x90\x3c\x64")
      end
    end)
    H.run_until(function() return #echoes >= 50 end, "echoes from version 1")
    local ssrc = tester:stats().peer_ssrc
    assert.are.equal(12, echoes[#echoes])

    -- save a new version: the route changes while notes flow
    write(path, SCRIPT:format(p_test, p_script, 7) .. "\n-- version 2\n")
    H.run_until(function() return echoes[#echoes] == 7 end, "the new route", 5000)
    local switched = #echoes
    H.run_until(function() return #echoes >= switched + 50 end, "echoes from version 2")
    assert.are.equal(2, live.version)

    -- a broken edit: the error is reported and version 2 keeps running
    write(path, "this is not Lua (\n")
    H.run_until(function() return #logs >= 2 end, "the failed reload to be reported", 5000)
    assert.matches("reload of .* failed, version 2 keeps running", logs[#logs])
    local before = #echoes
    H.run_until(function() return #echoes >= before + 50 end, "echoes after the broken edit")
    assert.are.equal(7, echoes[#echoes])
    -- a script that fails while running changes nothing either
    write(path, SCRIPT:format(p_test, p_script, 1) .. "\nerror('boom')\n")
    H.run_until(function() return #logs >= 3 end, "the second failed reload", 5000)
    assert.matches("boom", logs[#logs])
    before = #echoes
    H.run_until(function() return #echoes >= before + 20 end, "more echoes")
    assert.are.equal(7, echoes[#echoes])

    sender:cancel()
    H.run_until(function() return #echoes == sent end, "the last echoes")
    -- every note came back once: nothing lost across the reloads
    assert.are.equal(sent, #echoes)
    local st = tester:stats()
    assert.are.equal(ssrc, st.peer_ssrc)     -- the same session: its SSRC did not change
    assert.are.equal(0, st.lost)
    for i = 1, #echoes do assert.is_true(echoes[i] == 12 or echoes[i] == 7) end
    os.remove(path)
  end)

  it("cancels the old version's timers and closes what a new version no longer keeps", function()
    local path = os.tmpname()
    local ticks = { a = 0, b = 0 }
    _G.live_ticks = ticks
    write(path, [[
      rtpmidi.every(1, function() live_ticks.a = live_ticks.a + 1 end)
      keep("s", function()
        local s = rtpmidi.RTPSession{ peer_address = "127.0.0.1", receiving_port = ]] .. H.port() .. [[, payload = 96 }
        rtpmidi.RTPControl():add_session(s)
        return s
      end)
    ]])
    live = Live.new(path, { log = function() end })
    assert(live:load())
    H.run_until(function() return ticks.a > 3 end, "version 1 ticks")
    local s = live.objects.s
    assert.is_not_nil(s.cookie)
    write(path, [[ rtpmidi.every(1, function() live_ticks.b = live_ticks.b + 1 end) ]])
    assert(live:reload())
    local a = ticks.a
    H.run_until(function() return ticks.b > 3 end, "version 2 ticks")
    assert.are.equal(a, ticks.a)
    assert.is_nil(live.objects.s)
    assert.is_nil(s.cookie)  -- removed from the control
    _G.live_ticks = nil
    os.remove(path)
  end)
end)
