-- Re-entry: every callback of every session class calls, from inside
-- itself, each method of the control on its own session (stop, remove,
-- stop and start again, stop everything), starts another session, and
-- sends (AppleMIDI also invites). Each callback is driven for real over
-- loopback sockets, some in several ways: from the loop, from inside the
-- session's own stop (participant_left "stopped", packets the jitter buffer
-- releases), from inside its own send (a drop on an ICMP error), and the
-- stop callback from remove_session and control:stop(). Each row asserts
-- that the method did what it does outside a callback (a callback run by
-- the session's own stop sees it stopping: sends and invites get ENOTCONN,
-- a start EBUSY), that the subject still receives when it is still
-- started, that a session pair of its own still delivers afterwards (the
-- loop goes on), that no error was reported, and (after_each) that no
-- handle was left open. Under AddressSanitizer (`ctest --test-dir
-- build-asan -R reentry`) it shows that no callback of the binding or the
-- core uses what the method freed (issue 16, finding 2: participant_left
-- calling control:remove_session crashed).
local rtpmidi = require "rtpmidi"
local core = require "rtpmidi.core"
local H = require "helper"
local J = require "jack"

local control = rtpmidi.RTPControl()

-- Fast AppleMIDI timings so that rows take milliseconds.
local FAST = { invite_interval = 50, ck_fast_interval = 100, ck_interval = 300, rs_interval = 200 }
local LOCAL = "127.0.0.1"

-- Calls fn now and every ms milliseconds until cond() (with a watchdog):
-- RTP's first packet from a source is held on probation, and JACK
-- connections take a few cycles.
local function keep_trying(ms, fn, cond, what)
  fn()
  local t = rtpmidi.every(ms, fn)
  local ok, err = pcall(H.run_until, cond, what)
  t:cancel()
  if not ok then error(err, 0) end
end

-- Records every callback of s in s.seen[name] (a list of argument lists);
-- hook(name, self, ...) runs after the record.
local function watch(s, names, hook)
  s.seen = {}
  for _, name in ipairs(names) do
    s.seen[name] = {}
    s[name] = function(self, ...)
      local list = self.seen[name]
      list[#list + 1] = table.pack(...)
      if hook then hook(name, self, ...) end
    end
  end
  return s
end

local function count(s, name) return #s.seen[name] end

-- Whether the recorded callback `name` of s got `value` as argument i.
local function got(s, name, i, value)
  for _, args in ipairs(s.seen[name]) do
    if args[i] == value then return true end
  end
  return false
end

local function started(s) return s:is_started() end

-- ---- RTPSession and MidiSession -----------------------------------------
-- The subject S and its peer P send to each other; T is a registered session
-- left stopped (for start_session). S times out after 0.3 s of silence
-- (drop_call "timeout"): P sends no RTCP in that time, so P stays up and
-- can receive what S sends from inside drop_call.

local function rtp_kit(name, class, opts, incoming, payload_arg, send)
  local kit = { name = name, callbacks = { "start", "stop", incoming, "drop_call" }, drivers = {} }

  local function new(rp, sp, extra)
    local t = { peer_address = LOCAL, sending_port = sp, receiving_port = rp }
    for k, v in pairs(opts) do t[k] = v end
    for k, v in pairs(extra or {}) do t[k] = v end
    return class(t)
  end

  function kit.make(env, r, hook, extra)
    local ps, pp = H.port(), H.port()
    local sopts = { timeout = r.label == "drop_call" and 0.3 or nil }
    for k, v in pairs(r.make or {}) do sopts[k] = v end
    for k, v in pairs(extra or {}) do sopts[k] = v end
    env.S = watch(new(ps, pp, sopts), kit.callbacks, hook)
    env.P = watch(new(pp, ps, { rtcp_interval = 3600 }), kit.callbacks)
    env.T = watch(new(H.port(), H.port()), kit.callbacks)
    for _, s in ipairs{ env.S, env.P, env.T } do control:add_session(s) end
    if not r.peer_stopped then assert(control:start_session(env.P.cookie)) end
    if r.cb ~= "start" then assert(control:start_session(env.S.cookie)) end
  end

  kit.drivers.start = function(env) assert(control:start_session(env.S.cookie)) end
  kit.drivers.stop = function(env) assert(control:stop_session(env.S.cookie)) end
  kit.drivers[incoming] = function(env)
    keep_trying(20, function() send(env.P, "drive") end,
      function() return count(env.S, incoming) > 0 end, name .. " " .. incoming)
  end
  kit.drivers.drop_call = function(env)
    H.run_until(function() return count(env.S, "drop_call") > 0 end, "drop_call (timeout)", 3000)
    assert.are.equal("timeout", env.S.seen.drop_call[1][2])
  end

  kit.extra = {
    -- Packets waiting in S's jitter buffer for a gap to fill are delivered
    -- by its stop: a raw socket sends n, n+1, then n+3; S holds n+3 (for up
    -- to a second) until control:stop_session releases it.
    {
      cb = incoming, label = incoming .. " (released by its own stop)", stopping = true,
      make = { jitter_buffer_size = 1000 },
      drive = function(env)
        env.armed = false
        local raw = assert(core.udp(LOCAL, 0))
        local ssrc, seq = 0x5EED0001, 100
        local function rtp(n, word)
          return string.pack(">BBI2I4I4", 0x80, kit.payload_type, (seq + n) & 0xFFFF, 1000 * n, ssrc) ..
                 kit.rtp_payload(word)
        end
        local port = env.S:local_port()
        keep_trying(20, function()
          seq = seq + 2 -- a fresh pair each try (the first may wait on probation)
          raw:send(rtp(0, "drive"), LOCAL, port)
          raw:send(rtp(1, "drive"), LOCAL, port)
        end, function() return count(env.S, incoming) > 0 end, "a first packet through")
        raw:send(rtp(3, "held"), LOCAL, port)
        H.run_for(50) -- it arrives, and waits
        assert.is_false(got(env.S, incoming, payload_arg, kit.wire("held")))
        env.armed = true
        assert(control:stop_session(env.S.cookie))
        raw:close()
        assert.is_true(got(env.S, incoming, payload_arg, kit.wire("held")), "the held packet was not released")
      end,
    },
    -- The peer's host name does not resolve (glibc refuses an empty label
    -- without a query): the drop comes from the resolver's callback.
    {
      cb = "drop_call", label = "drop_call (\"network\", its peer's name does not resolve)",
      make = { peer_address = "a..invalid" }, methods = { send = false }, no_probe = true,
      drive = function(env)
        H.run_until(function() return count(env.S, "drop_call") > 0 end, "drop_call (unresolved)")
        assert.are.equal("network", env.S.seen.drop_call[1][2])
        assert.matches("cannot resolve", env.S.seen.drop_call[1][3])
      end,
    },
    -- A send that finds an ICMP error (port unreachable) of the one before
    -- reports a drop from inside itself: P is not listening. (On loopback
    -- the error is there when the first send returns.)
    {
      cb = "drop_call", label = "drop_call (\"network\", from inside its own send)", methods = { send = false },
      peer_stopped = true,
      drive = function(env)
        local inside = false
        keep_trying(20, function()
          for _ = 1, 2 do -- the second finds the first's error, the loop not run in between
            if count(env.S, "drop_call") > 0 then return end
            kit.send_now(env.S, "drive")
            inside = count(env.S, "drop_call") > 0
          end
        end, function() return count(env.S, "drop_call") > 0 end, "drop_call (network)")
        assert.are.equal("network", env.S.seen.drop_call[1][2])
        assert.is_true(inside, "the drop was not reported from inside the send")
      end,
    },
  }

  function kit.send(env, self) return send(self, "sent-from-callback") end
  function kit.sent_arrived(env)
    H.run_until(function() return got(env.P, incoming, payload_arg, kit.wire("sent-from-callback")) end,
      "what the callback sent, at the peer")
  end

  -- S still receives: P sends until S hears it.
  function kit.probe(env)
    if not started(env.P) then assert(control:start_session(env.P.cookie)) end
    keep_trying(20, function() send(env.P, "probe") end,
      function() return got(env.S, incoming, payload_arg, kit.wire("probe")) end, name .. " still receiving")
  end
  return kit
end

-- RTPSession: payloads as they are; MidiSession: a MIDI message per word.
-- "drive" is a note-off: a loss after it (the held packet's row) leaves no
-- note sounding for the receiver to release (recovered) before "held".
local NOTES = { drive = "\x80\x3c\x40", probe = "\x90\x3d\x41", ["sent-from-callback"] = "\x90\x3e\x42",
                held = "\x90\x40\x44" }

local RTP = rtp_kit("RTPSession", rtpmidi.RTPSession, { payload = 96 }, "incoming_rtp", 3,
  function(s, word) return s:send_data(word) end)
RTP.wire = function(word) return word end
RTP.payload_type = 96
RTP.rtp_payload = RTP.wire
RTP.send_now = function(s, word) return s:send_data(word) end

local MIDI = rtp_kit("MidiSession", rtpmidi.MidiSession, {}, "incoming_midi", 1,
  function(s, word) return s:send_midi(NOTES[word]) end)
MIDI.wire = function(word) return NOTES[word] end
MIDI.payload_type = 97
-- a command section without journal: a short header (length) and the note
MIDI.rtp_payload = function(word) return string.char(#NOTES[word]) .. NOTES[word] end
-- sent now, not at the end of the loop turn
MIDI.send_now = function(s, word)
  local ok, err, code = s:send_midi(NOTES[word])
  if not ok then return ok, err, code end
  return s:flush()
end

-- ---- AppleMidiSession ----------------------------------------------------
-- S with participants B1 and B2 (of ours), X to invite, R refusing every
-- invitation (invitation_failed "rejected"), T registered and stopped.

local APPLE = {
  name = "AppleMidiSession",
  callbacks = { "incoming_midi", "participant_joined", "participant_left", "participant_synced",
                "invitation_failed", "start", "stop" },
  drivers = {},
}

local function apple(name, extra, start, hook)
  local t = { port = H.port(), name = name }
  for k, v in pairs(FAST) do t[k] = v end
  for k, v in pairs(extra or {}) do t[k] = v end
  local s = watch(rtpmidi.AppleMidiSession(t), APPLE.callbacks, hook)
  control:add_session(s)
  if start ~= false then assert(control:start_session(s.cookie)) end
  return s
end

-- Whether a (by name) is among s's participants.
local function joined_with(s, name)
  for _, args in ipairs(s.seen.participant_joined) do
    if args[1].name == name then return true end
  end
  return false
end

-- S invites b and waits until both sides have joined.
local function join(env, b)
  assert(env.S:invite(LOCAL, b.config.port))
  H.run_until(function() return joined_with(env.S, b.config.name) and joined_with(b, env.S.config.name) end,
    "S and " .. b.config.name .. " joined")
end

function APPLE.make(env, r, hook)
  -- S invites the others: its name is as long as theirs, since an OK is
  -- never larger than the IN it answers (theirs would be cut to fit)
  env.S = apple("S0", nil, false, hook)
  env.B1, env.B2, env.X = apple("B1"), apple("B2"), apple("X")
  env.R = apple("R", { accept = "none" })
  env.T = apple("T", nil, false)
  env.by_name = { B1 = env.B1, B2 = env.B2, X = env.X }
  if r.cb ~= "start" then assert(control:start_session(env.S.cookie)) end
end

APPLE.drivers.start = function(env) assert(control:start_session(env.S.cookie)) end
APPLE.drivers.stop = function(env)
  join(env, env.B1)
  assert(control:stop_session(env.S.cookie))
end
APPLE.drivers.participant_joined = function(env) join(env, env.B1) end
APPLE.drivers.participant_synced = function(env)
  assert(env.S:invite(LOCAL, env.B1.config.port))
  H.run_until(function() return count(env.S, "participant_synced") > 0 end, "participant_synced")
end
APPLE.drivers.incoming_midi = function(env)
  join(env, env.B1)
  join(env, env.B2)
  assert(env.B1:send_midi(NOTES.drive))
  H.run_until(function() return count(env.S, "incoming_midi") > 0 end, "incoming_midi")
end
APPLE.drivers.participant_left = function(env)
  join(env, env.B1)
  join(env, env.B2)
  control:remove_session(env.B1.cookie) -- BY
  H.run_until(function() return count(env.S, "participant_left") > 0 end, "participant_left")
  assert.are.equal("bye", env.S.seen.participant_left[1][2])
end
APPLE.drivers.invitation_failed = function(env)
  join(env, env.B1) -- a participant to send to
  assert(env.S:invite(LOCAL, env.R.config.port))
  H.run_until(function() return count(env.S, "invitation_failed") > 0 end, "invitation_failed")
  assert.are.equal("rejected", env.S.seen.invitation_failed[1][3])
end

-- participant_left for other reasons than a BY: its own stop (the callback
-- then runs inside the core's stop), its removal, a disconnect.
local function left_by(how)
  return function(env)
    join(env, env.B1)
    join(env, env.B2)
    if how == "disconnect" then
      local p
      for _, q in ipairs(env.S:participants()) do if q.name == "B1" then p = q end end
      assert.is_true(env.S:disconnect(p))
    else
      assert(control[how](control, env.S.cookie))
    end
    H.run_until(function() return count(env.S, "participant_left") > 0 end, "participant_left")
    local reason = env.S.seen.participant_left[1][2]
    assert.are.equal(how == "disconnect" and "disconnected" or "stopped", reason)
  end
end

APPLE.extra = {
  { cb = "participant_left", label = "participant_left (\"stopped\", by control:stop_session)", stopping = true,
    drive = left_by("stop_session") },
  { cb = "participant_left", label = "participant_left (\"stopped\", by control:remove_session)", stopping = true,
    removes = true, drive = left_by("remove_session") },
  { cb = "participant_left", label = "participant_left (\"disconnected\", by disconnect)",
    drive = left_by("disconnect") },
}

function APPLE.send(env, self) return self:send_midi(NOTES["sent-from-callback"]) end
function APPLE.sent_arrived(env)
  -- every participant S had when it sent
  for _, name in ipairs(env.at_call.participants) do
    local b = env.by_name[name]
    H.run_until(function() return got(b, "incoming_midi", 1, NOTES["sent-from-callback"]) end,
      "what the callback sent, at " .. name)
  end
end

-- S still receives: a new session invites it and sends until S hears it.
function APPLE.probe(env)
  local q = apple("Q0") -- as long as "S0": the OK to its IN holds all of S0
  env.by_name.Q = q
  assert(q:invite(LOCAL, env.S:local_port()))
  H.run_until(function() return joined_with(q, "S0") end, "Q joined S")
  keep_trying(20, function() q:send_midi(NOTES.probe) end,
    function() return got(env.S, "incoming_midi", 1, NOTES.probe) end, "S still receiving")
end

-- ---- MidiIn (on JACK's dummy backend) ------------------------------------
-- A MidiSession S whose input device is a JACK port played by the test; the
-- MidiIn's on_message calls the method on S (removing S closes that MidiIn
-- from inside its own callback).

local MIDIIN = { name = "MidiIn", callbacks = { "on_message" }, drivers = {}, jack = true }
local jack_ok, jack_why
local kbds = {}

function MIDIIN.make(env, _, hook)
  local kbd_name = J.unique("reentry-kbd")
  env.kbd = assert(rtpmidi.MidiOut{ api = "jack", virtual = kbd_name })
  kbds[#kbds + 1] = env.kbd
  MIDI.make(env, { cb = "incoming_midi", label = "incoming_midi" }, nil, { api = "jack" })
  assert(env.S:set_device_in(kbd_name))
  local forward = env.S.midi_in.on_message
  env.fired = 0
  local S = env.S
  function S.midi_in:on_message(bytes, time)
    env.fired = env.fired + 1
    if env.fired == 1 then hook("on_message", S, bytes, time) else forward(self, bytes, time) end
  end
end

MIDIIN.drivers.on_message = function(env)
  -- JACK connections take a few cycles: play until one arrives
  keep_trying(20, function() env.kbd:send(NOTES.drive) end, function() return env.fired > 0 end,
    "MidiIn on_message")
end
MIDIIN.send, MIDIIN.sent_arrived, MIDIIN.probe = MIDI.send, MIDI.sent_arrived, MIDI.probe
MIDIIN.wire = MIDI.wire

-- ---- the methods ---------------------------------------------------------
-- call(env, self) runs inside the callback (its results are kept in
-- env.result); check(env) runs once the driver saw the callback.

local METHODS = {
  {
    name = "control:stop_session(own cookie)", key = "stop_session",
    call = function(_, self) return control:stop_session(self.cookie) end,
    check = function(env)
      assert.is_true(env.result[1])
      assert.is_false(started(env.S))
      if not env.row.removes then assert.is_not_nil(control:get_session(env.cookie)) end
    end,
  },
  {
    name = "control:remove_session(own cookie)", key = "remove_session",
    call = function(_, self) return control:remove_session(self.cookie) end,
    check = function(env)
      assert.are.equal(env.S, env.result[1])
      assert.is_nil(control:get_session(env.cookie))
      assert.is_nil(env.S._core)
      assert.is_false(started(env.S))
    end,
  },
  {
    name = "control:stop_session + start_session(own cookie)", key = "restart",
    call = function(_, self)
      control:stop_session(self.cookie)
      return control:start_session(self.cookie)
    end,
    check = function(env)
      if env.row.stopping then
        -- a callback of its own stop cannot start it again
        assert.are.same({ nil, "EBUSY", n = 3 }, { env.result[1], env.result[3], n = 3 })
        assert.is_false(started(env.S))
      else
        assert.is_true(env.result[1])
        assert.is_true(started(env.S))
      end
    end,
  },
  {
    name = "control:start_session(another session)", key = "start_other",
    call = function(env) return control:start_session(env.T.cookie) end,
    check = function(env)
      assert.is_true(env.result[1])
      assert.is_true(started(env.T))
      assert.is_true(env.T:local_port() > 0)
    end,
  },
  {
    name = "control:stop()", key = "stop_all",
    call = function() return control:stop() end,
    check = function()
      for _, cookie in ipairs(control:cookies()) do
        assert.is_false(started(control:get_session(cookie)), "session " .. cookie .. " still started")
      end
    end,
  },
  {
    name = "send", key = "send",
    call = function(env, self) return env.kit.send(env, self) end,
    check = function(env)
      if env.at_call.started then
        assert.is_true(env.result[1])
        env.kit.sent_arrived(env)
      else
        assert.are.same({ nil, "ENOTCONN: session is not started", "ENOTCONN", n = 3 }, env.result)
      end
    end,
  },
  {
    name = "invite", key = "invite",
    only = "AppleMidiSession",
    call = function(env, self) return self:invite(LOCAL, env.X.config.port) end,
    check = function(env)
      if env.at_call.started then
        assert.is_true(env.result[1])
        H.run_until(function() return joined_with(env.X, "S0") end, "X joined by the invitation")
      else
        assert.are.same({ nil, "ENOTCONN: session is not started", "ENOTCONN", n = 3 }, env.result)
      end
    end,
  },
}

-- ---- the table -----------------------------------------------------------

-- The stop callback also runs inside remove_session and control:stop(): the
-- methods whose effect does not depend on who stopped the session.
local STOP_BY = {
  { cb = "stop", label = "stop (by control:remove_session)", removes = true,
    methods = { restart = false },
    drive = function(env) assert.are.equal(env.S, control:remove_session(env.S.cookie)) end },
  { cb = "stop", label = "stop (by control:stop())",
    methods = { start_other = false },  -- control:stop() may stop it next
    drive = function() control:stop() end },
}

-- Every row of a kit: its callbacks driven the usual way, then the others.
local function rows(kit)
  local list = {}
  for _, cb in ipairs(kit.callbacks) do
    list[#list + 1] = { cb = cb, label = cb, drive = kit.drivers[cb] }
    if cb == "stop" then
      for _, r in ipairs(STOP_BY) do list[#list + 1] = r end
    end
  end
  for _, r in ipairs(kit.extra or {}) do list[#list + 1] = r end
  return list
end

-- Two RTPSessions of the row's own: W1 sends until W2 receives.
local function witness()
  local pa, pb = H.port(), H.port()
  local w1 = watch(rtpmidi.RTPSession{ peer_address = LOCAL, sending_port = pb, receiving_port = pa, payload = 96 },
    { "incoming_rtp" })
  local w2 = watch(rtpmidi.RTPSession{ peer_address = LOCAL, sending_port = pa, receiving_port = pb, payload = 96 },
    { "incoming_rtp" })
  control:add_session(w1)
  control:add_session(w2)
  assert(control:start_session(w1.cookie))
  assert(control:start_session(w2.cookie))
  return function()
    for _, w in ipairs{ w1, w2 } do
      if not started(w) then assert(control:start_session(w.cookie)) end
    end
    keep_trying(20, function() w1:send_data("witness") end,
      function() return got(w2, "incoming_rtp", 3, "witness") end, "the witness pair delivering")
  end
end

local function row(kit, r, method)
  local cb = r.cb
  return function()
    if kit.jack and not jack_ok then
      pending(jack_why)
      return
    end
    local errors = H.capture_errors(function()
      local delivers = witness()
      local env = { kit = kit, row = r }
      local function hook(name, self)
        if name ~= cb or env.called or env.armed == false then return end
        env.called = true -- once: the method may run this callback again (start)
        env.at_call = { started = started(self), participants = {} }
        if kit == APPLE and env.at_call.started then
          for i, p in ipairs(self:participants()) do env.at_call.participants[i] = p.name end
        end
        env.result = table.pack(method.call(env, self))
      end
      kit.make(env, r, hook)
      env.cookie = env.S.cookie
      r.drive(env)
      assert.is_not_nil(env.result, "the callback did not call the method")
      method.check(env)
      -- the subject, if still started, still receives
      if started(env.S) and not r.no_probe then kit.probe(env) end
      -- the loop goes on
      delivers()
    end)
    assert.are.same({}, errors)
  end
end

describe("re-entry: a callback calls a method of the control on its own session", function()
  setup(function()
    if not J.available() then
      jack_why = "jackd is not installed: the MidiIn rows need JACK's dummy backend"
      return
    end
    local has_jack = false
    for _, api in ipairs(rtpmidi.midi_apis()) do has_jack = has_jack or api == "jack" end
    if not has_jack then
      jack_why = "built without RtMidi's JACK API"
      return
    end
    local ok, err = pcall(J.start)
    jack_ok, jack_why = ok, not ok and ("the JACK dummy server did not start: " .. tostring(err)) or nil
  end)
  teardown(function()
    for _, k in ipairs(kbds) do k:close() end
    if jack_ok then J.stop() end
  end)
  after_each(H.assert_clean)

  for _, kit in ipairs{ RTP, MIDI, APPLE, MIDIIN } do
    for _, r in ipairs(rows(kit)) do
      for _, method in ipairs(METHODS) do
        if (not method.only or method.only == kit.name) and not (r.methods and r.methods[method.key] == false) then
          it(("%s %s -> %s"):format(kit.name, r.label, method.name), row(kit, r, method))
        end
      end
    end
  end
end)
