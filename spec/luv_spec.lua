-- One loop with luv (#19): when luv (Debian lua-luv) is installed, rtpmidi
-- runs on luv's loop, so uv.run() drives our sessions and control:run()
-- drives luv's handles. The spec runs one script that takes OSC messages
-- (OSC 1.0: /note ,ii) on a luv UDP socket and plays them through a
-- MidiSession to the spec, under uv.run(); and one where control:run()
-- drives a luv timer.
local rtpmidi = require "rtpmidi"
local H = require "helper"
local P = require "proc"

local have_luv = pcall(require, "luv")

-- An OSC message: the address and the type tags, each padded with NULs to
-- a multiple of 4 octets, then the int32 arguments, big-endian (OSC 1.0).
local function osc(address, ...)
  local function pad(s) return s .. ("\0"):rep(4 - #s % 4) end
  local args = { ... }
  return pad(address) .. pad("," .. ("i"):rep(#args)) .. string.pack((">i4"):rep(#args), ...)
end

local SCRIPT = [[
local uv = require "luv"
local rtpmidi = require "rtpmidi"
local control = rtpmidi.RTPControl()
local midi = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = %d, receiving_port = %d }
local cookie = control:add_session(midi)
assert(control:start_session(cookie))

-- OSC in: "/note" with two int32 (note, velocity) plays a note on; "/quit" ends
local function read_osc(packet)
  local address, pos = string.unpack("z", packet)
  pos = pos + (4 - (pos - 1) %% 4) %% 4
  local tags
  tags, pos = string.unpack("z", packet, pos)
  pos = pos + (4 - (pos - 1) %% 4) %% 4
  local args = {}
  for t in tags:sub(2):gmatch(".") do
    if t ~= "i" then return address, args end
    args[#args + 1], pos = string.unpack(">i4", packet, pos)
  end
  return address, args
end
local udp = uv.new_udp()
assert(udp:bind("127.0.0.1", %d))
udp:recv_start(function(err, data)
  assert(not err, err)
  if not data then return end
  local address, args = read_osc(data)
  if address == "/note" then
    midi:send_midi(string.char(0x90, args[1] & 0x7F, args[2] & 0x7F))
  elseif address == "/quit" then
    udp:close()
    control:remove_session(cookie)   -- BYE; then nothing keeps uv.run() going
  end
end)
io.stderr:write("listening for OSC\n")
uv.run()
io.stderr:write("uv.run() returned\n")
]]

describe("rtpmidi with luv on one loop", function()
  local control = rtpmidi.RTPControl()
  after_each(function()
    P.kill_all()
    H.cleanup()
    H.assert_clean()
  end)

  if not have_luv then
    pending("luv is not installed (apt-get install lua-luv)")
    return
  end
  local uv = require "luv"

  it("an OSC input on a luv UDP socket plays through a MidiSession, all under uv.run()", function()
    local p_spec, p_script, p_osc = H.port(), H.port(), H.port()
    local got, drops = {}, {}
    local peer = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = p_script, receiving_port = p_spec,
      incoming_midi = function(_, m) got[#got + 1] = m end,
      drop_call = function(_, _, reason) drops[#drops + 1] = reason end }
    assert(control:start_session(control:add_session(peer)))
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write(SCRIPT:format(p_spec, p_script, p_osc))
    f:close()
    local proc = P.spawn({ "lua5.4", path }, P.lua_env())
    proc:wait_for(function(s) return s:stderr():find("listening for OSC", 1, true) end, "the script", 10000)
    local out = assert(require("rtpmidi.core").udp("127.0.0.1", 0))
    finally(function() out:close() end)
    for _, n in ipairs{ 60, 64, 67 } do assert(out:send(osc("/note", n, 100), "127.0.0.1", p_osc)) end
    proc:wait_for(function() return #got == 3 end, "three notes from OSC", 5000)
    assert.are.same({ "\x90\x3c\x64", "\x90\x40\x64", "\x90\x43\x64" }, got)
    assert(out:send(osc("/quit"), "127.0.0.1", p_osc))
    proc:wait_for(function()
      for _, d in ipairs(drops) do if d == "bye" then return true end end
    end, "the BYE", 5000)
    assert.are.equal(0, proc:wait_exit(5000))
    assert.matches("uv.run() returned", proc:stderr(), 1, true)
    os.remove(path)
  end)

  it("control:run() drives luv's handles, and uv.run() our timers, in this process too", function()
    local ticks = 0
    local t = uv.new_timer()
    t:start(2, 2, function()
      ticks = ticks + 1
      if ticks == 5 then t:stop() t:close() control:stop() end
    end)
    control:run()
    assert.are.equal(5, ticks)
    local fired = false
    rtpmidi.after(3, function() fired = true end)
    uv.run()        -- nothing of luv's is active: it runs as long as our timer does
    assert.is_true(fired)
  end)
end)
