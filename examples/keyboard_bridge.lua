-- A keyboard on the network: what a MIDI input plays goes to a peer as
-- RTP-MIDI with the recovery journal.
--
--   lua5.4 examples/keyboard_bridge.lua [SECONDS] [in=PORT] [api=jack] [host=HOST] [port=PORT]
--
-- in: the MIDI input (a name, part of one, or an index; `rtpmidi list` shows
-- them). host, port: the peer (default 127.0.0.1:5004). With no input, a
-- built-in player stands in for the keyboard and a listener on loopback
-- prints what crossed the network. SECONDS: how long to run (default 5, or
-- $RTPMIDI_EXAMPLE_SECONDS; 0: until Ctrl-C).
local rtpmidi = require "rtpmidi"

local opt = {}
for _, a in ipairs(arg or {}) do
  local k, v = a:match("^(%w+)=(.*)$")
  if k then opt[k] = v elseif tonumber(a) then opt.seconds = a end
end
local seconds = tonumber(opt.seconds or os.getenv("RTPMIDI_EXAMPLE_SECONDS") or 5)
local host, port = opt.host or "127.0.0.1", tonumber(opt.port or os.getenv("RTPMIDI_EXAMPLE_PORT") or 5004)
local control = rtpmidi.RTPControl()

-- The bridge: a send-only MIDI session; its input device feeds it.
local bridge = rtpmidi.MidiSession{ peer_address = host, sending_port = port, api = opt.api,
                                    tool_name = "keyboard bridge" }
if opt["in"] then
  local ok, err = bridge:set_device_in(tonumber(opt["in"]) or opt["in"])
  if not ok then io.stderr:write(err, "\n") os.exit(1) end
end
control:start_session(control:add_session(bridge))

local heard = 0
if not opt["in"] then
  -- stand-ins: a player for the keyboard, a listener for the far end
  local listener = rtpmidi.MidiSession{ peer_address = "127.0.0.1", receiving_port = port,
    incoming_midi = function(_, msg, time, recovered)
      heard = heard + 1
      print(("far end got %s%s"):format((msg:gsub(".", function(c) return ("%02x "):format(c:byte()) end)),
        recovered and "(recovered)" or ""))
    end }
  assert(control:start_session(control:add_session(listener)))
  local chord = { 48, 55, 60, 64 }
  local k = 0
  rtpmidi.every(200, function()
    k = k + 1
    local n = chord[(k - 1) % #chord + 1]
    bridge:send_midi(string.char(0x90, n, 90))           -- what the input would do
    rtpmidi.after(150, function() bridge:send_midi(string.char(0x80, n, 0)) end)
  end)
end

if seconds > 0 then rtpmidi.after(seconds * 1000, function() control:stop() end) end
print(("bridging %s to %s (RTP-MIDI, journal on)"):format(opt["in"] or "a built-in player",
  (host:find(":", 1, true) and "[%s]:%d" or "%s:%d"):format(host, port)))
control:run()
local st = bridge:stats()
for _, c in ipairs(control:cookies()) do control:remove_session(c) end
print(("sent %d messages in %d packets"):format(st.messages_sent, st.packets_sent))
os.exit((opt["in"] or heard > 0) and 0 or 1)
