-- The command line as a new user meets it (#19): usage errors in one line
-- with a pointer to `rtpmidi help CMD`, flags never taken as values,
-- sending to our own port refused, one-direction streams, a host that does
-- not resolve ends the command with 1, and a script's own arguments.
local rtpmidi = require "rtpmidi"
local H = require "helper"
local P = require "proc"

describe("rtpmidi command line", function()
  after_each(function()
    P.kill_all()
    H.assert_clean()
  end)

  local function run(args, timeout)
    local p = P.rtpmidi(args)
    local rc = p:wait_exit(timeout or 10000)
    return rc, p:stdout(), p:stderr()
  end

  it("says a usage error in one line and where the help is", function()
    local cases = {
      { { "stream", "-a", "-v" }, "rtpmidi stream: option -a needs HOST" },
      { { "stream", "-a", "127.0.0.1", "-L", "--verbose" }, "rtpmidi stream: option -L needs MS" },
      { { "stream", "-a", "127.0.0.1" }, "127.0.0.1:5004 is our own port" },
      { { "stream", "-a", "localhost", "-s", "6000", "-r", "6000" }, "localhost:6000 is our own port" },
      { { "stream", "-a", "127.0.0.1", "-s", "0", "-r", "0" }, "-s 0 and -r 0 together leave nothing" },
      { { "stream", "--applemidi", "x", "-r", "0" }, "not --applemidi" },
      { { "monitor", "--bogus" }, "rtpmidi monitor: unknown option --bogus" },
      { { "demo", "--port" }, "rtpmidi demo: --port needs a port number" },
    }
    for _, c in ipairs(cases) do
      local rc, _, err = run(c[1])
      local what = table.concat(c[1], " ")
      assert.are.equal(2, rc, what)
      assert.matches(c[2], err, 1, true)
      local cmd = c[1][1]
      assert.are.equal(("%s\nsee `rtpmidi help %s`\n"):format(err:match("^[^\n]*"), cmd), err, what)
    end
  end)

  it("prints a command's help with `rtpmidi help CMD`", function()
    for _, cmd in ipairs{ "list", "stream", "monitor", "run", "demo" } do
      local rc, out = run{ "help", cmd }
      assert.are.equal(0, rc, cmd)
      assert.matches("^usage: rtpmidi " .. cmd, out)
    end
    local rc, _, err = run{ "help", "nope" }
    assert.are.equal(2, rc)
    assert.matches("no command 'nope'", err, 1, true)
  end)

  it("exits 1 with one line when the peer's host does not resolve", function()
    local rc, _, err = run({ "stream", "-a", "no-such-host.invalid", "-r", tostring(H.port()),
      "--no-repl", "--no-status" }, 20000)
    assert.are.equal(1, rc)
    assert.matches("cannot resolve host: no-such-host.invalid", err, 1, true)
    rc, _, err = run({ "stream", "--applemidi", "cli", "-a", "no-such-host.invalid", "-r", tostring(H.port()),
      "--no-repl", "--no-status" }, 20000)
    assert.are.equal(1, rc)
    assert.matches("invitation to no-such-host.invalid:5004 failed: unresolved", err, 1, true)
  end)

  it("streams one way with -s 0 (receive only) and -r 0 (send only)", function()
    -- the receive-only command listens; a send-only session of ours streams to it
    local port = H.port()
    local p = P.rtpmidi{ "stream", "-a", "127.0.0.1", "-s", "0", "-r", tostring(port), "-v", "-j",
      "--no-repl", "--no-status" }
    p:wait_for(function(self) return self:stderr():find("journal off", 1, true) end, "the receiver to start")
    local control = rtpmidi.RTPControl()
    local tx = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = port, receiving_port = 0 }
    control:add_session(tx)
    assert(control:start_session(tx.cookie))
    local t = rtpmidi.every(50, function() tx:send_midi("\x90\x3c\x64") end)
    p:wait_for(function(self) return self:stdout():find("<- 90 3c 64", 1, true) end, "the note at the receiver")
    t:cancel()
    control:remove_session(tx.cookie)
    p:signal("INT")
    assert.are.equal(0, p:wait_exit(10000))
  end)

  it("hands a script the arguments after it", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write([[print(select("#", ...), table.concat({ ... }, "|"), arg[0] ~= nil, arg[1], arg[#arg])]])
    f:close()
    local rc, out = run{ "run", path, "one", "two words", "--no-repl", "--", "--x" }
    os.remove(path)
    assert.are.equal(0, rc)
    assert.are.equal("3\tone|two words|--x\ttrue\tone\t--x\n", out)
  end)
end)
