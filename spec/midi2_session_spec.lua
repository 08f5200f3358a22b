-- Midi2Session (Network MIDI 2.0, UMP over UDP) between sessions of ours on
-- loopback, both roles: invitations plain and with each authentication,
-- UMP of every message type both ways, MIDI 1.0 through the translation,
-- loss repaired by FEC and by retransmission through a lossy relay, ping
-- timeout, session reset, bye both ways, several clients, misuse.
local rtpmidi = require "rtpmidi"
local core = require "rtpmidi.core"
local codec = rtpmidi.codec
local H = require "helper"

local control = rtpmidi.RTPControl()

-- Fast timings: the specs run in a fraction of the real ones.
local FAST = { invite_interval = 100, ping_interval = 300, ping_retry = 100, ping_retries = 2, keepalive = 200 }

local function merge(...)
  local t = {}
  for i = 1, select("#", ...) do
    for k, v in pairs(select(i, ...) or {}) do t[k] = v end
  end
  return t
end

-- Records the callbacks of a session.
local function recorder()
  local r = { joined = {}, left = {}, ump = {}, words = {}, midi = {}, failed = {} }
  r.cb = {
    client_joined = function(_, c) r.joined[#r.joined + 1] = c end,
    client_left = function(_, c, reason) r.left[#r.left + 1] = { c = c, reason = reason } end,
    incoming_ump = function(_, words, time, c)
      r.ump[#r.ump + 1] = { words = words, time = time, c = c }
      for _, w in ipairs(words) do r.words[#r.words + 1] = w end
    end,
    incoming_midi = function(_, bytes, time, recovered, c)
      r.midi[#r.midi + 1] = { bytes = bytes, time = time, recovered = recovered, c = c }
    end,
    invitation_failed = function(_, address, port, reason)
      r.failed[#r.failed + 1] = { address = address, port = port, reason = reason }
    end,
  }
  return r
end

local function session(r, ...)
  local s = rtpmidi.Midi2Session(merge(FAST, { port = H.port() }, r and r.cb, ...))
  control:add_session(s)
  assert(control:start_session(s.cookie))
  return s
end

-- A host and a client that joined it.
local function pair(hopts, copts)
  local hr, cr = recorder(), recorder()
  local h = session(hr, { name = "studio host", product_instance_id = "H-1", role = "host" }, hopts)
  local c = session(cr, { name = "laptop", product_instance_id = "C-1", role = "client" }, copts)
  assert(c:invite("127.0.0.1", h:local_port()))
  H.run_until(function() return #hr.joined == 1 and #cr.joined == 1 end, "both sides joined")
  return h, c, hr, cr
end

-- A relay on loopback between a client (which invites r.port) and the host
-- at host_port. Datagrams from the host that carry UMP Data are counted
-- (r.data) and lost when drop(n, commands) says so; r.cut loses everything
-- both ways. r.log keeps the decoded commands each way.
local function relay(host_port, drop)
  local r = { port = H.port(), data = 0, dropped = 0, cut = false, log = { down = {}, up = {} } }
  local sock = assert(core.udp("127.0.0.1", r.port))
  local client_port
  sock:recv(function(data, _, from)
    local cmds = codec.decode_midi2(data) or {}
    if from == host_port then
      for _, c in ipairs(cmds) do r.log.down[#r.log.down + 1] = c end
      if r.cut or not client_port then return end
      local has_data = false
      for _, c in ipairs(cmds) do has_data = has_data or c.code == 0xFF end
      if has_data then
        r.data = r.data + 1
        if drop and drop(r.data, cmds) then
          r.dropped = r.dropped + 1
          return
        end
      end
      sock:send(data, "127.0.0.1", client_port)
    else
      client_port = from
      for _, c in ipairs(cmds) do r.log.up[#r.log.up + 1] = c end
      if r.cut then return end
      sock:send(data, "127.0.0.1", host_port)
    end
  end)
  function r:close() sock:close() end
  return r
end

local function hex(words)
  local t = {}
  for i, w in ipairs(words) do t[i] = ("%08X"):format(w) end
  return table.concat(t, " ")
end

describe("Midi2Session", function()
  after_each(function() H.assert_clean() end)

  it("invites a host and both sides see the other's endpoint name and product instance id", function()
    local h, c, hr, cr = pair()
    local on_host, on_client = hr.joined[1], cr.joined[1]
    assert.equal("laptop", on_host.name)
    assert.equal("C-1", on_host.product_instance_id)
    assert.equal("127.0.0.1", on_host.address)
    assert.is_false(on_host.initiator)
    assert.equal("studio host", on_client.name)
    assert.equal("H-1", on_client.product_instance_id)
    assert.equal(h:local_port(), on_client.port)
    assert.is_true(on_client.initiator)
    assert.equal(1, #h:clients())
    assert.equal(on_host, h:clients()[1]) -- the same table in callbacks and clients()
    assert.equal(1, c:stats().clients)
  end)

  it("refuses a wrong shared secret, then accepts the right one", function()
    local hr, cr = recorder(), recorder()
    local h = session(hr, { role = "host", secret = "s3cret" })
    local c = session(cr, { role = "client" })
    assert(c:invite("127.0.0.1", h:local_port(), { secret = "wrong" }))
    H.run_until(function() return #cr.failed == 1 end, "the invitation to fail")
    assert.equal("auth_failed", cr.failed[1].reason)
    assert.equal(h:local_port(), cr.failed[1].port)
    assert.equal(0, #hr.joined)
    assert.equal(1, h:stats().auth_failures)
    -- no credentials at all: the host has no method in common with us
    assert(c:invite("127.0.0.1", h:local_port()))
    H.run_until(function() return #cr.failed == 2 end, "the second invitation to fail")
    assert.equal("refused", cr.failed[2].reason)
    assert(c:invite("127.0.0.1", h:local_port(), { secret = "s3cret" }))
    H.run_until(function() return #hr.joined == 1 and #cr.joined == 1 end, "joining with the secret")
  end)

  it("refuses a wrong password and an unknown user, then accepts the right user", function()
    local hr, cr = recorder(), recorder()
    local h = session(hr, { role = "host", users = { alice = "wonderland", bob = "builder" } })
    local c = session(cr, { role = "client" })
    assert(c:invite("127.0.0.1", h:local_port(), { user = "alice", password = "looking-glass" }))
    H.run_until(function() return #cr.failed == 1 end, "the wrong password to fail")
    assert(c:invite("127.0.0.1", h:local_port(), { user = "mallory", password = "x" }))
    H.run_until(function() return #cr.failed == 2 end, "the unknown user to fail")
    assert.same({ "auth_failed", "auth_failed" }, { cr.failed[1].reason, cr.failed[2].reason })
    assert(c:invite("127.0.0.1", h:local_port(), { user = "bob", password = "builder" }))
    H.run_until(function() return #hr.joined == 1 and #cr.joined == 1 end, "bob joining")
    assert.equal(2, h:stats().auth_failures)
  end)

  -- One message of every type: utility, system, MIDI 1.0 channel voice,
  -- SysEx7, MIDI 2.0 channel voice, SysEx8, the reserved sizes, flex data,
  -- UMP stream (a notification: not answered).
  local ALL = {
    0x00100123, 0x10F80000, 0x13F21020, 0x20903C64, 0x2FC50700,
    0x30160102, 0x03040506, 0x30310700, 0x00000000,
    0x40913C00, 0xFFFF0000, 0x40220001, 0x80000000,
    0x50000D01, 0x02030405, 0x06070809, 0x0A0B0C0D,
    0x60000001, 0x70000002, 0x80000003, 0x00000004, 0x90000005, 0x00000006,
    0xA0000007, 0x00000008, 0xB0000009, 0x0000000A, 0x0000000B, 0xC000000C, 0x0000000D, 0x0000000E,
    0xD0100001, 0x00000078, 0x00000000, 0x00000000, 0xE0000010, 1, 2, 3,
    0xF4036162, 0x63646566, 0x6768696A, 0x6B6C6D6E,
  }

  it("carries UMP of every message type both ways, bit-exact, one message per incoming_ump", function()
    local h, c, hr, cr = pair()
    assert.equal(1, h:send_ump(ALL))
    assert.equal(1, c:send_ump(ALL))
    H.run_until(function() return #hr.words == #ALL and #cr.words == #ALL end, "the words both ways")
    assert.equal(hex(ALL), hex(cr.words))
    assert.equal(hex(ALL), hex(hr.words))
    assert.equal(20, #cr.ump) -- the messages of ALL
    assert.equal(4, #cr.ump[#cr.ump].words)
    assert.equal("laptop", hr.ump[1].c.name)
    -- words as separate arguments, to one client
    assert.equal(1, h:send_ump_to(hr.joined[1], 0x40913C00, 0x12340000))
    H.run_until(function() return #cr.words == #ALL + 2 end, "two more words")
    assert.equal("40913C00 12340000", hex({ cr.words[#ALL + 1], cr.words[#ALL + 2] }))
  end)

  it("keeps a datagram's messages in order when incoming_ump sends back at once (an echo, a bridge)", function()
    -- 100 words: more than one UMP Data command holds (64), so one datagram
    -- carries two commands; the echo calls into the session between them
    local h, c, hr, cr = pair()
    c.incoming_ump = function(s, words, time, from)
      cr.cb.incoming_ump(s, words, time, from)
      assert(s:send_ump(words))
    end
    local words = {}
    for i = 0, 49 do words[#words + 1] = 0x20B00700 | i; words[#words + 1] = 0x20B00800 | i end
    assert.equal(1, h:send_ump(words))
    H.run_until(function() return #hr.words == #words end, "the words there and back")
    assert.equal(hex(words), hex(cr.words))
    assert.equal(hex(words), hex(hr.words))
  end)

  it("sends MIDI 1.0 as UMP and delivers UMP as MIDI 1.0 (SysEx reassembled, MIDI 2.0 down-converted)", function()
    local h, c, hr, cr = pair()
    local sysex = "\xF0\x7E\x7F" .. string.rep("\x11\x22\x33", 40) .. "\xF7"
    assert.equal(1, c:send_midi("\x90\x3C\x64\x3E\x50" .. sysex .. "\xB0\x07\x7F"))
    H.run_until(function() return #hr.midi == 4 end, "four MIDI messages")
    assert.equal("\x90\x3C\x64", hr.midi[1].bytes)
    assert.equal("\x90\x3E\x50", hr.midi[2].bytes) -- running status expanded
    assert.equal(sysex, hr.midi[3].bytes)
    assert.equal("\xB0\x07\x7F", hr.midi[4].bytes)
    assert.equal(0x20903C64, hr.ump[1].words[1]) -- MIDI 1.0 channel voice in UMP
    -- MIDI 2.0 channel voice from the host reaches incoming_midi scaled down:
    -- velocity 0x8000 -> 64, controller 0xFFFFFFFF -> 127, RPN -> CC 101/100/6/38
    assert(h:send_ump(0x40913C00, 0x80000000, 0x40B10700, 0xFFFFFFFF, 0x40210002, 0x80000000))
    H.run_until(function() return #cr.midi == 6 end, "six MIDI messages")
    assert.equal("\x91\x3C\x40", cr.midi[1].bytes)
    assert.equal("\xB1\x07\x7F", cr.midi[2].bytes)
    assert.equal("\xB1\x65\x00\xB1\x64\x02\xB1\x06\x40\xB1\x26\x00",
      cr.midi[3].bytes .. cr.midi[4].bytes .. cr.midi[5].bytes .. cr.midi[6].bytes)
    -- not MIDI
    local ok, err, code = c:send_midi("\x3C\x64")
    assert.is_nil(ok)
    assert.equal("EINVAL", code)
    assert.matches("invalid MIDI", err)
  end)

  it("recovers single losses from FEC through a lossy relay, exactly and in order", function()
    local hr, cr = recorder(), recorder()
    local h = session(hr, { role = "host" })
    local c = session(cr, { role = "client" })
    local r = relay(h:local_port(), function(n) return n % 3 == 2 end)
    assert(c:invite("127.0.0.1", r.port))
    H.run_until(function() return #hr.joined == 1 and #cr.joined == 1 end, "joining through the relay")
    local sent = {}
    local i = 0
    local t
    t = rtpmidi.every(5, function()
      i = i + 1
      local w = (i % 2 == 1 and 0x20900000 or 0x20800000) | ((36 + (i // 2) % 48) << 8) | (i % 2 == 1 and 100 or 0)
      sent[#sent + 1] = w
      h:send_ump(w)
      if i == 60 then t:cancel() end
    end)
    H.run_until(function() return #cr.words == 60 end, "60 messages through the relay")
    r:close()
    assert.equal(hex(sent), hex(cr.words))
    assert.is_true(r.dropped >= 20)
    local st = c:stats()
    assert.is_true(st.recovered_fec >= 19)
    assert.equal(0, st.lost)
    assert.equal(0, st.retransmit_requests_sent) -- FEC alone
    local recovered = 0
    for _, m in ipairs(cr.midi) do if m.recovered then recovered = recovered + 1 end end
    assert.is_true(recovered >= 19)
  end)

  it("recovers bursts by retransmission through a lossy relay: exact, in order, no stuck notes", function()
    local hr, cr = recorder(), recorder()
    local h = session(hr, { role = "host" })
    local c = session(cr, { role = "client" })
    -- six in a row lost, twice: more than FEC (2) repairs
    local r = relay(h:local_port(), function(n) return (n >= 10 and n < 16) or (n >= 40 and n < 46) end)
    assert(c:invite("127.0.0.1", r.port))
    H.run_until(function() return #hr.joined == 1 and #cr.joined == 1 end, "joining through the relay")
    local sent, i, t = {}, 0, nil
    t = rtpmidi.every(3, function()
      i = i + 1
      local note = 36 + (i - 1) // 2 % 48
      local m = i % 2 == 1 and { 0x40900000 | note << 8, (i * 997 % 0xFFFF + 1) << 16 }
        or { 0x40800000 | note << 8, 0 }
      sent[#sent + 1], sent[#sent + 2] = m[1], m[2]
      h:send_ump(m)
      if i == 80 then t:cancel() end
    end)
    H.run_until(function() return #cr.words == 160 end, "80 notes through the relay")
    r:close()
    assert.equal(hex(sent), hex(cr.words))
    local sounding = {}
    for _, m in ipairs(cr.midi) do
      local st, note = m.bytes:byte(1) & 0xF0, m.bytes:byte(2)
      sounding[note] = (sounding[note] or 0) + (st == 0x90 and 1 or -1)
    end
    for note, n in pairs(sounding) do assert.equal(0, n, "note " .. note .. " stuck") end
    local st = c:stats()
    assert.is_true(st.retransmit_requests_sent >= 2)
    assert.is_true(h:stats().retransmitted >= 8)
    assert.equal(0, st.lost)
    assert.equal(12, r.dropped)
  end)

  it("ends the session on both sides when pings go unanswered", function()
    local hr, cr = recorder(), recorder()
    local h = session(hr, { role = "host" })
    local c = session(cr, { role = "client" })
    local r = relay(h:local_port())
    assert(c:invite("127.0.0.1", r.port))
    H.run_until(function() return #hr.joined == 1 and #cr.joined == 1 end, "joining through the relay")
    H.run_for(500) -- keep-alives keep it up meanwhile
    assert.equal(0, #cr.left)
    r.cut = true
    local t0 = rtpmidi.now()
    H.run_until(function() return #hr.left == 1 and #cr.left == 1 end, "both sides to time out", 3000)
    r:close()
    assert.equal("timeout", cr.left[1].reason)
    assert.equal("timeout", hr.left[1].reason)
    -- ping after 300 ms of silence, again after 100 ms, then Bye: about 500 ms
    assert.is_true(rtpmidi.now() - t0 < 1500)
    assert.is_true(c:stats().pings_sent >= 2)
    assert.equal(0, #h:clients())
  end)

  it("resets the session: sequence numbers start again at 0 and data goes on", function()
    local hr, cr = recorder(), recorder()
    local h = session(hr, { role = "host" })
    local c = session(cr, { role = "client" })
    local r = relay(h:local_port())
    assert(c:invite("127.0.0.1", r.port))
    H.run_until(function() return #hr.joined == 1 and #cr.joined == 1 end, "joining through the relay")
    for n = 1, 5 do h:send_ump(0x20903C00 | n) end
    H.run_until(function() return #cr.words == 5 end, "five messages")
    local function last_seq()
      for k = #r.log.down, 1, -1 do
        local cmd = r.log.down[k]
        if cmd.code == 0xFF and #cmd.words > 0 then return cmd.sequence end
      end
    end
    assert.is_true(last_seq() >= 4)
    assert(c:reset(cr.joined[1]))
    local function saw(code)
      for _, cmd in ipairs(r.log.down) do if cmd.code == code then return true end end
    end
    H.run_until(function() return saw(0x83) end, "the Session Reset Reply")
    h:send_ump(0x20907F7F)
    H.run_until(function() return #cr.words == 6 end, "the message after the reset")
    assert.equal(0x20907F7F, cr.words[6])
    assert.equal(0, last_seq())
    assert.equal(0, c:stats().lost)
    r:close()
  end)

  it("says bye both ways", function()
    local h, c, hr, cr = pair()
    assert.is_true(c:disconnect(cr.joined[1]))
    H.run_until(function() return #hr.left == 1 and #cr.left == 1 end, "both sides to end")
    assert.equal("bye", hr.left[1].reason)
    assert.equal("disconnected", cr.left[1].reason)
    assert.equal("laptop", hr.left[1].c.name)
    assert.equal(0, #h:clients())
    -- again, and the host ends it
    assert(c:invite("127.0.0.1", h:local_port()))
    H.run_until(function() return #hr.joined == 2 and #cr.joined == 2 end, "joining again")
    assert.is_true(h:disconnect(h:clients()[1]))
    H.run_until(function() return #hr.left == 2 and #cr.left == 2 end, "both sides to end again")
    assert.equal("bye", cr.left[2].reason)
    assert.equal("disconnected", hr.left[2].reason)
    -- stopping says bye to everyone: "stopped" here, "bye" there
    assert(c:invite("127.0.0.1", h:local_port()))
    H.run_until(function() return #hr.joined == 3 and #cr.joined == 3 end, "joining a third time")
    control:stop_session(c.cookie)
    assert.equal("stopped", cr.left[3].reason)
    H.run_until(function() return #hr.left == 3 end, "the host to hear the bye")
    assert.equal("bye", hr.left[3].reason)
  end)

  it("serves several clients: each one's data tagged, a broadcast to all, a refusal past max_clients", function()
    local hr = recorder()
    local h = session(hr, { role = "host", max_clients = 2 })
    local rs, cs = {}, {}
    for k = 1, 3 do
      rs[k] = recorder()
      cs[k] = session(rs[k], { role = "client", name = "client " .. k })
    end
    assert(cs[1]:invite("127.0.0.1", h:local_port()))
    assert(cs[2]:invite("127.0.0.1", h:local_port()))
    H.run_until(function() return #hr.joined == 2 end, "two clients")
    assert(cs[3]:invite("127.0.0.1", h:local_port()))
    H.run_until(function() return #rs[3].failed == 1 end, "the third refused")
    assert.equal("refused", rs[3].failed[1].reason)
    cs[1]:send_ump(0x20901111)
    cs[2]:send_ump(0x20902222)
    H.run_until(function() return #hr.ump == 2 end, "both clients' data")
    local by = {}
    for _, u in ipairs(hr.ump) do by[u.c.name] = u.words[1] end
    assert.equal(0x20901111, by["client 1"])
    assert.equal(0x20902222, by["client 2"])
    assert.equal(2, h:send_ump(0x10F80000))
    H.run_until(function() return #rs[1].ump == 1 and #rs[2].ump == 1 end, "the broadcast")
  end)

  it("answers UMP Stream endpoint discovery from its own name and product instance id", function()
    local h, c, hr, cr = pair({ answer_stream = true })
    c:send_ump(0xF0000101, 0x1F, 0, 0)
    H.run_until(function() return #cr.ump >= 4 end, "the notifications")
    assert.equal(0xF0010101, cr.ump[1].words[1])        -- Endpoint Info, UMP 1.1
    local name = string.pack(">I4I4I4I4", table.unpack(cr.ump[2].words)):sub(3):gsub("%z+$", "")
    assert.equal("studio host", name)
    assert.equal(0xF0060200, cr.ump[4].words[1])        -- Stream Configuration: MIDI 2.0
    assert.equal(1, #hr.ump)                            -- the host saw the discovery too
  end)

  it("reports an invitation nobody answers", function()
    local cr = recorder()
    local c = session(cr, { role = "client", invite_interval = 30, invite_tries = 3 })
    assert(c:invite("127.0.0.1", H.port()))
    H.run_until(function() return #cr.failed == 1 end, "the invitation to fail")
    assert.equal("timeout", cr.failed[1].reason)
  end)

  it("lets a callback stop or remove its own session", function()
    -- removed from inside incoming_ump while more messages of the datagram wait
    local h, c, hr = pair()
    local seen = 0
    function h:incoming_ump()
      seen = seen + 1
      control:remove_session(self.cookie)
    end
    assert(c:send_ump(0x20903C64, 0x20903E64, 0x20904064))
    H.run_until(function() return seen >= 1 end, "the first message")
    H.run_for(50)
    assert.equal(1, seen)
    assert.is_nil(h.cookie)
    -- stopped from inside client_joined, removed from inside client_left
    local hr2, cr2 = recorder(), recorder()
    local h2 = session(hr2, { role = "host" })
    local c2 = session(cr2, { role = "client" })
    function c2:client_joined() control:stop_session(self.cookie) end
    function c2:client_left(_, why)
      cr2.why = why
      control:remove_session(self.cookie)
    end
    assert(c2:invite("127.0.0.1", h2:local_port()))
    H.run_until(function() return cr2.why ~= nil end, "the client to stop itself")
    assert.equal("stopped", cr2.why)
    H.run_until(function() return #hr2.left == 1 end, "the host to hear the bye")
    assert.equal(1, #hr.left) -- h's removal said "stopped" to its callback
    assert.equal("stopped", hr.left[1].reason)
  end)

  it("refuses misuse, naming the argument", function()
    assert.has_error(function() rtpmidi.Midi2Session{ rol = "host" } end,
      "bad argument 'rol' (unknown option); did you mean 'role'?")
    assert.has_error(function() rtpmidi.Midi2Session{ role = "server" } end,
      "bad argument 'role' (\"host\" or \"client\" expected)")
    assert.has_error(function() rtpmidi.Midi2Session{ fec = 11 } end,
      "bad argument 'fec' (commands repeated in each datagram, 0..10 expected, got 11)")
    assert.has_error(function() rtpmidi.Midi2Session{ name = string.rep("x", 99) } end)
    assert.has_error(function() rtpmidi.Midi2Session{ users = "alice" } end)
    assert.has_error(function() rtpmidi.Midi2Session{ fec = 4, history = 3 } end)
    local s = session(nil, { role = "client" })
    assert.has_error(function() s:invite("127.0.0.1", 0) end)
    assert.has_error(function() s:invite("127.0.0.1", 5673, { user = "alice" }) end)
    assert.has_error(function() s:send_ump() end)
    assert.has_error(function() s:send_ump(0x40903C00) end) -- half a MIDI 2.0 message
    assert.has_error(function() s:send_midi(42) end)
    assert.has_error(function() s:reset({}) end)
    assert.equal(0, s:send_ump(0x20903C64)) -- nobody to send to
  end)
end)
