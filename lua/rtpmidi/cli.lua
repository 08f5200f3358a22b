-- The rtpmidi command line.
local rtpmidi = require "rtpmidi"

local M = {}

local USAGE = [[
usage: rtpmidi <command> [options]

commands:
  demo        two sessions on loopback stream a phrase of MIDI notes and print
              what crossed the wire (no MIDI hardware needed)
  version     print the version
  help        this text

Run `rtpmidi <command> --help` for a command's options.
]]

local NOTE_NAMES = { "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B" }

local function note_name(n)
  return NOTE_NAMES[n % 12 + 1] .. (n // 12 - 1)
end

local function hex(s)
  return (s:gsub(".", function(c) return ("%02x "):format(c:byte()) end):gsub(" $", ""))
end

local function describe_midi(msg)
  local status, d1, d2 = msg:byte(1, 3)
  local kind, ch = status & 0xF0, (status & 0x0F) + 1
  if kind == 0x90 and d2 > 0 then
    return ("note on  ch%-2d %-4s vel %d"):format(ch, note_name(d1), d2)
  elseif kind == 0x80 or kind == 0x90 then
    return ("note off ch%-2d %-4s"):format(ch, note_name(d1))
  end
  return hex(msg)
end

-- One MIDI command as an RFC 6295 payload: a one-octet header (B=0, J=0,
-- Z=0, P=0, LEN) followed by the command.
local function midi_payload(msg) return string.char(#msg) .. msg end

local DEMO_HELP = [[
usage: rtpmidi demo [--port N] [--quiet]

Two RTP sessions on 127.0.0.1 (ports N and N+2; default 5004) play a short
phrase to each other as RTP-MIDI packets and print each packet as received.
Exits 0 when every note arrived intact.
]]

function M.demo(args)
  local port, quiet = 5004, false
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "--help" or a == "-h" then io.write(DEMO_HELP) return 0
    elseif a == "--port" then port = tonumber(args[i + 1]); i = i + 1
    elseif a == "--quiet" then quiet = true
    else io.stderr:write("rtpmidi demo: unknown option ", a, "\n", DEMO_HELP) return 2 end
    i = i + 1
  end
  if not port or port < 1 or port > 65533 then
    io.stderr:write("rtpmidi demo: --port needs a port number\n") return 2
  end
  local control = rtpmidi.RTPControl()
  -- A phrase: C major arpeggio up and down, 8th notes at 240 BPM.
  local phrase = { 60, 64, 67, 72, 67, 64, 60 }
  local messages = {}
  for _, n in ipairs(phrase) do
    messages[#messages + 1] = string.char(0x90, n, 100)
    messages[#messages + 1] = string.char(0x80, n, 0)
  end
  local received = {}
  local keyboard = rtpmidi.RTPSession{ peer_address = "127.0.0.1", sending_port = port + 2,
    receiving_port = port, payload = 96, tool_name = "rtpmidi demo keyboard" }
  local synth = rtpmidi.RTPSession{ peer_address = "127.0.0.1", sending_port = port,
    receiving_port = port + 2, payload = 96, tool_name = "rtpmidi demo synth",
    incoming_rtp = function(_, _, timestamp, packet, lost)
      local msg = packet:sub(2, 1 + (packet:byte(1) & 0x0F))
      received[#received + 1] = msg
      if not quiet then
        print(("  ts %10d  payload %-12s  %s%s"):format(timestamp, hex(packet), describe_midi(msg),
          lost and "  (after loss)" or ""))
      end
      if #received == #messages then control:stop() end
    end }
  local ck, cs = control:add_session(keyboard), control:add_session(synth)
  for _, c in ipairs{ ck, cs } do
    local ok, err = control:start_session(c)
    if not ok then
      io.stderr:write("rtpmidi demo: cannot open port: ", err, " (try --port)\n")
      control:remove_session(ck); control:remove_session(cs)
      return 1
    end
  end
  if not quiet then
    print(("rtpmidi %s demo: 127.0.0.1:%d -> 127.0.0.1:%d, payload type 96, %d messages")
      :format(rtpmidi._VERSION, port, port + 2, #messages))
  end
  local next_msg = 1
  local player = rtpmidi.every(60, function()
    local msg = messages[next_msg]
    if not msg then return end
    assert(keyboard:send_data(midi_payload(msg)))
    next_msg = next_msg + 1
  end)
  local gave_up = false
  local watchdog = rtpmidi.after(5000, function() gave_up = true; control:stop() end)
  control:run()
  player:cancel(); watchdog:cancel()
  local st = synth:stats()
  control:remove_session(ck); control:remove_session(cs)
  local intact = #received == #messages
  for k = 1, #messages do intact = intact and received[k] == messages[k] end
  if not quiet then
    print(("%d of %d messages arrived intact and in order; %d packets, %d payload octets")
      :format(#received, #messages, st.packets_received, st.bytes_received))
  end
  if gave_up then io.stderr:write("rtpmidi demo: timed out\n") end
  return intact and 0 or 1
end

function M.main(args)
  args = args or {}
  local cmd = args[1]
  local rest = table.move(args, 2, #args, 1, {})
  if cmd == nil or cmd == "help" or cmd == "--help" or cmd == "-h" then
    io.write(USAGE)
    return cmd == nil and 2 or 0
  elseif cmd == "version" or cmd == "--version" then
    print("rtpmidi " .. rtpmidi._VERSION)
    return 0
  elseif cmd == "demo" then
    return M.demo(rest)
  end
  io.stderr:write("rtpmidi: unknown command '", tostring(cmd), "'\n", USAGE)
  return 2
end

return M
