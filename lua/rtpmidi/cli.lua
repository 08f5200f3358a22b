-- The rtpmidi command line.
local rtpmidi = require "rtpmidi"

local M = {}

local USAGE = [[
usage: rtpmidi <command> [options]

commands:
  demo        two sessions on loopback stream a phrase of MIDI notes and print
              what crossed the wire (no MIDI hardware needed)
  run         run a Lua script on the loop; --watch reloads it on save
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
  if #msg ~= 3 then return "" end
  local kind, ch = status & 0xF0, (status & 0x0F) + 1
  if kind == 0x90 and d2 > 0 then
    return ("note on  ch%-2d %-4s vel %d"):format(ch, note_name(d1), d2)
  elseif kind == 0x80 or kind == 0x90 then
    return ("note off ch%-2d %-4s"):format(ch, note_name(d1))
  end
  return hex(msg)
end

local DEMO_HELP = [[
usage: rtpmidi demo [--port N] [--quiet]

Two MIDI sessions on 127.0.0.1 (ports N and N+2; default 5004) play a short
phrase to each other as RTP-MIDI (RFC 6295) and print each message as it
arrives, with its time after the first note. Exits 0 when every message
arrived intact and in order.
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
  if not port or port < 1 or port > 65531 or port % 1 ~= 0 then
    io.stderr:write("rtpmidi demo: --port needs a port number\n") return 2
  end
  local control = rtpmidi.RTPControl()
  -- A phrase: a C major arpeggio up and down in 8th notes at 240 BPM, with
  -- a chord at the end (three notes in one packet).
  local steps = {}
  for _, n in ipairs{ 60, 64, 67, 72, 67, 64 } do
    steps[#steps + 1] = string.char(0x90, n, 100)
    steps[#steps + 1] = string.char(0x80, n, 0)
  end
  steps[#steps + 1] = "\x90\x3c\x64\x90\x40\x64\x90\x43\x64"
  steps[#steps + 1] = "\x80\x3c\x00\x80\x40\x00\x80\x43\x00"
  local expected = {}
  for _, s in ipairs(steps) do
    for m in s:gmatch("[\x80-\xef][\x00-\x7f][\x00-\x7f]") do expected[#expected + 1] = m end
  end
  local received, first = {}, nil
  local keyboard = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = port + 2,
    receiving_port = port, tool_name = "rtpmidi demo keyboard" }
  local synth = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = port,
    receiving_port = port + 2, tool_name = "rtpmidi demo synth",
    incoming_midi = function(_, msg, time, recovered)
      received[#received + 1] = msg
      first = first or time
      if not quiet then
        print(("  %8.1f ms  %-9s  %s%s"):format(time - first, hex(msg), describe_midi(msg),
          recovered and "  (recovered)" or ""))
      end
      if #received == #expected then control:stop() end
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
    print(("rtpmidi %s demo: RTP-MIDI from 127.0.0.1:%d to 127.0.0.1:%d, %d messages")
      :format(rtpmidi._VERSION, port, port + 2, #expected))
  end
  local next_step = 1
  local player = rtpmidi.every(60, function(t)
    local s = steps[next_step]
    if not s then t:cancel() return end
    assert(keyboard:send_midi(s))
    next_step = next_step + 1
  end)
  local gave_up = false
  local watchdog = rtpmidi.after(5000, function() gave_up = true; control:stop() end)
  control:run()
  player:cancel(); watchdog:cancel()
  local st = synth:stats()
  control:remove_session(ck); control:remove_session(cs)
  local intact = #received == #expected
  for k = 1, #expected do intact = intact and received[k] == expected[k] end
  if not quiet then
    print(("%d of %d messages arrived intact and in order, in %d RTP packets (%d payload octets)")
      :format(#received, #expected, st.packets_received, st.bytes_received))
  end
  if gave_up then io.stderr:write("rtpmidi demo: timed out\n") end
  return intact and 0 or 1
end

local RUN_HELP = [[
usage: rtpmidi run SCRIPT.lua [--watch] [--interval MS]

Runs a Lua script on the event loop until it stops the control, nothing is
left to do, or Ctrl-C. With --watch, saving the script reloads it while its
sessions and ports stay up: the script names them with
  keep("name", function() return <new object> end)
and a reload finds them again by name; what the script assigns to them
(callbacks, routes) is swapped in at once when it finishes. A version that
fails to load or run leaves the previous one running and prints the error.

Inside the script, `rtpmidi` is the module; its after/every timers belong to
the script's current version and stop when a newer version takes over.
]]

local function on_stop_signals(fn)
  local core = require "rtpmidi.core"
  local handles = {}
  for _, name in ipairs{ "SIGINT", "SIGTERM" } do
    handles[#handles + 1] = core.signal(name, function() fn(name) end)
  end
  return function() for _, h in ipairs(handles) do h:cancel() end end
end

function M.run(args)
  local path, watch, interval
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "--help" or a == "-h" then io.write(RUN_HELP) return 0
    elseif a == "--watch" or a == "-w" then watch = true
    elseif a == "--interval" then interval = tonumber(args[i + 1]); i = i + 1
    elseif a:sub(1, 1) == "-" then
      io.stderr:write("rtpmidi run: unknown option ", a, "\n", RUN_HELP) return 2
    elseif not path then path = a
    else io.stderr:write("rtpmidi run: one script at a time\n") return 2 end
    i = i + 1
  end
  if not path then io.stderr:write(RUN_HELP) return 2 end
  local Live = require "rtpmidi.live"
  local live = Live.new(path)
  local ok, err = live:load()
  if not ok then
    io.stderr:write("rtpmidi run: ", tostring(err), "\n")
    return 1
  end
  if watch then
    live:watch(interval or 100)
    io.stderr:write(("rtpmidi: running %s, reloading on save (Ctrl-C stops)\n"):format(path))
  end
  local control = rtpmidi.RTPControl()
  local cancel_signals
  cancel_signals = on_stop_signals(function(name)
    io.stderr:write("rtpmidi: ", name, ", stopping\n")
    cancel_signals()
    live:stop()
    control:stop()
  end)
  control:run()
  cancel_signals()
  live:stop()
  return 0
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
  elseif cmd == "run" then
    return M.run(rest)
  end
  io.stderr:write("rtpmidi: unknown command '", tostring(cmd), "'\n", USAGE)
  return 2
end

return M
