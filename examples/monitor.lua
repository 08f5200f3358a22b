-- A MIDI monitor: listens on a port for one peer's RTP-MIDI and prints every
-- message (with its time, and whether the recovery journal made it after a
-- loss), then the session's counters once a second.
--
--   lua5.4 examples/monitor.lua [SECONDS] [port=5004]
--
-- With no port, a stand-in sender on loopback plays to it. `rtpmidi monitor
-- PORT` shows the packets themselves (journal, RTCP, AppleMIDI) instead.
-- SECONDS: how long to run (default 5, or $RTPMIDI_EXAMPLE_SECONDS; 0: until Ctrl-C).
local rtpmidi = require "rtpmidi"
local describe = require("rtpmidi.monitor").describe_midi

local opt = {}
for _, a in ipairs(arg or {}) do
  local k, v = a:match("^(%w+)=(.*)$")
  if k then opt[k] = v elseif tonumber(a) then opt.seconds = a end
end
local seconds = tonumber(opt.seconds or os.getenv("RTPMIDI_EXAMPLE_SECONDS") or 5)
local port = tonumber(opt.port or os.getenv("RTPMIDI_EXAMPLE_PORT") or 5004)
local control = rtpmidi.RTPControl()
local t0 = rtpmidi.now()

local count = 0
local mon = rtpmidi.MidiSession{
  peer_address = "127.0.0.1", receiving_port = port, accept_any_source = true, tool_name = "monitor",
  incoming_midi = function(_, msg, time, recovered)
    count = count + 1
    print(("%8.1f ms  %-30s%s"):format(time - t0, describe(msg), recovered and "  (recovered)" or ""))
  end,
  drop_call = function(_, _, reason, detail) print(("peer gone: %s %s"):format(reason, detail)) end,
}
local ok, err = control:start_session(control:add_session(mon))
if not ok then io.stderr:write("cannot listen on port ", port, ": ", err, "\n") os.exit(1) end

rtpmidi.every(1000, function()
  local st = mon:stats()
  print(("-- %d packets, %d messages, lost %d, repaired %d, jitter %.2f ms, peer %s"):format(
    st.packets_received, st.messages_received, st.lost, st.messages_recovered, st.jitter or 0,
    st.peer_tool or "?"))
end)

if not opt.port then
  local sender = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = port, tool_name = "stand-in sender",
                                      rtcp_interval = 1 }
  assert(control:start_session(control:add_session(sender)))
  local k = 0
  rtpmidi.every(100, function()
    k = k + 1
    if k % 4 == 1 then sender:send_midi(string.char(0x90, 60 + k % 12, 100))
    elseif k % 4 == 3 then sender:send_midi(string.char(0x80, 60 + (k - 2) % 12, 0))
    elseif k % 8 == 0 then sender:send_midi(string.char(0xB0, 1, k % 128))
    else sender:send_midi(string.char(0xE0, 0, 64 + k % 8)) end
  end)
end

if seconds > 0 then rtpmidi.after(seconds * 1000, function() control:stop() end) end
print(("monitoring RTP-MIDI on port %d"):format(port))
control:run()
for _, c in ipairs(control:cookies()) do control:remove_session(c) end
print(("%d messages"):format(count))
os.exit((opt.port or count > 0) and 0 or 1)
