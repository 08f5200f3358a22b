-- The network to a synth: MIDI from a peer plays on a MIDI output, each
-- message at its sending time plus a fixed latency, so network jitter does
-- not become timing jitter.
--
--   lua5.4 examples/synth_receiver.lua [SECONDS] [out=PORT] [api=jack] [port=5004] [latency=20]
--
-- It listens on `port` and plays what the first peer to send there sends.
-- With no output port, it prints each message with the time it would play
-- (and a sender on loopback plays a phrase to it). SECONDS: how long to run
-- (default 5, or $RTPMIDI_EXAMPLE_SECONDS; 0: until Ctrl-C).
local rtpmidi = require "rtpmidi"

local opt = {}
for _, a in ipairs(arg or {}) do
  local k, v = a:match("^(%w+)=(.*)$")
  if k then opt[k] = v elseif tonumber(a) then opt.seconds = a end
end
local seconds = tonumber(opt.seconds or os.getenv("RTPMIDI_EXAMPLE_SECONDS") or 5)
local port, latency = tonumber(opt.port or os.getenv("RTPMIDI_EXAMPLE_PORT") or 5004), tonumber(opt.latency or 20)
local control = rtpmidi.RTPControl()

local t0 = rtpmidi.now()
local played = 0
local synth = rtpmidi.MidiSession{
  peer_address = "127.0.0.1", receiving_port = port, accept_any_source = true,  -- any peer: the first one
  latency = latency, jitter_buffer_size = 10, api = opt.api, tool_name = "synth receiver",
}
if opt.out then
  local ok, err = synth:set_device_out(tonumber(opt.out) or opt.out)
  if not ok then io.stderr:write(err, "\n") os.exit(1) end
  -- the default incoming_midi plays on the output at time + latency
else
  function synth:incoming_midi(msg, time, recovered)
    played = played + 1
    local s, n, v = msg:byte(1, 3)
    print(("plays at %7.1f ms: %02x %3d %3d%s"):format(time + self:get_latency() - t0, s, n, v or 0,
      recovered and "  (recovered by the journal)" or ""))
  end
end
function synth:drop_call(_, reason, detail) print("peer gone: " .. reason .. " " .. detail) end
local ok, err = control:start_session(control:add_session(synth))
if not ok then io.stderr:write("cannot listen on port ", port, ": ", err, "\n") os.exit(1) end

if not opt.out then
  -- a stand-in for the far keyboard
  local keys = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = port, tool_name = "keys" }
  assert(control:start_session(control:add_session(keys)))
  local notes, k = { 60, 67, 64, 72 }, 0
  rtpmidi.every(125, function()
    k = k + 1
    local n = notes[(k - 1) % #notes + 1]
    keys:send_midi(string.char(0x90, n, 80))
    rtpmidi.after(100, function() keys:send_midi(string.char(0x80, n, 0)) end)
  end)
end

if seconds > 0 then rtpmidi.after(seconds * 1000, function() control:stop() end) end
print(("listening on port %d, playing %d ms after sending time on %s"):format(port, latency, opt.out or "standard output"))
control:run()   -- stopping the session turns every sounding note off
local st = synth:stats()
for _, c in ipairs(control:cookies()) do control:remove_session(c) end
print(("received %d messages, %d lost packets, %d repaired"):format(st.messages_received, st.lost, st.messages_recovered))
os.exit((opt.out or played > 0) and 0 or 1)
