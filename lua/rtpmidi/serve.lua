-- rtpmidi serve: a daemon that keeps an AppleMIDI session and its MIDI
-- ports up. It invites the peers its configuration lists (by address, or by
-- the name they advertise on the network) and invites them again whenever
-- they are gone; it opens its MIDI ports, and keeps trying while they are
-- not there; and it answers `rtpmidi status` on a local socket.
--
-- The configuration is a Lua file that returns a table:
--
--   return {
--     name = "studio",                 -- the session's name (5004 by default: port)
--     port = 5004,
--     peers = { "10.0.0.2:5004", { host = "mac.local", port = 5004 }, { name = "Bob's MacBook" } },
--     input = "keyboard", output = "synth", api = "jack", latency = 20,
--     reconnect = 5,                   -- seconds between attempts
--   }
local rtpmidi = require "rtpmidi"
local core = require "rtpmidi.core"

-- Names from the network, as they may be printed (rtpmidi.cli's printable:
-- issue #16, finding 10).
local function printable(s) return require("rtpmidi.cli").printable(s) end
-- "10.0.0.2:5004", "[fe80::1%eth0]:5004" (rtpmidi.cli's hostport).
local function hostport(host, port) return require("rtpmidi.cli").hostport(host, port) end

local S = {}
S.__index = S

local KEYS = {
  name = "string", port = "number", peers = "table", input = "string|number", output = "string|number",
  api = "string", latency = "number", reconnect = "number", accept = "string|table", status_dir = "string",
}

--- Reads and checks a configuration file. Returns the table, or nil, message.
function S.read_config(path)
  local env = setmetatable({ rtpmidi = rtpmidi }, { __index = _G })
  local chunk, err = loadfile(path, "t", env)
  if not chunk then return nil, err end
  local ok, cfg = pcall(chunk)
  if not ok then return nil, tostring(cfg) end
  if cfg == nil then cfg = env end   -- a file that sets globals instead of returning a table
  if type(cfg) ~= "table" then return nil, path .. ": a table expected, got " .. type(cfg) end
  local out = {}
  for k, kind in pairs(KEYS) do
    local v = rawget(cfg, k)
    if v ~= nil and not kind:find(type(v), 1, true) then
      return nil, ("%s: '%s' must be a %s, got %s"):format(path, k, kind:gsub("|", " or "), type(v))
    end
    out[k] = v
  end
  if cfg ~= env then
    for k in pairs(cfg) do
      if not KEYS[k] then return nil, ("%s: unknown key '%s'"):format(path, tostring(k)) end
    end
  end
  out.name = out.name or "rtpmidi"
  out.port = out.port or 5004
  out.reconnect = out.reconnect or 5
  out.latency = out.latency or 20
  local peers = {}
  for i, p in ipairs(out.peers or {}) do
    local peer
    if type(p) == "string" then
      -- "10.0.0.2:5004", "[fe80::1%eth0]:5004" (RFC 3986 3.2.2), or an
      -- address alone: an IPv6 one has colons of its own
      local host, port = p:match("^%[(.+)%]:(%d+)$")
      if not host and not p:find(":.*:") then host, port = p:match("^(.+):(%d+)$") end
      peer = { host = host or p:match("^%[(.+)%]$") or p, port = tonumber(port) or 5004 }
    elseif type(p) == "table" and (type(p.host) == "string" or type(p.name) == "string") then
      peer = { host = p.host, name = p.name, port = p.port or 5004 }
    else
      return nil, ("%s: peers[%d] must be \"host:port\", { host=, port= } or { name= }"):format(path, i)
    end
    peers[#peers + 1] = peer
  end
  out.peers = peers
  return out
end

--- Where the daemons leave their status port: $RTPMIDI_RUN_DIR, or
-- $XDG_RUNTIME_DIR/rtpmidi, or /tmp/rtpmidi-$USER.
function S.run_dir()
  local d = os.getenv("RTPMIDI_RUN_DIR")
  if d and d ~= "" then return d end
  local x = os.getenv("XDG_RUNTIME_DIR")
  if x and x ~= "" then return x .. "/rtpmidi" end
  return "/tmp/rtpmidi-" .. (os.getenv("USER") or os.getenv("LOGNAME") or "user")
end

local function file_name(name) return (name:gsub("[^%w%-_.]", "_")) .. ".port" end

local function quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- A configured host as participants and invitation_failed carry it: an
-- IP literal of either family in the binding's form ("FE80:0::1%2" is
-- "fe80::1%eth0", "::ffff:10.0.0.2" is "10.0.0.2"); nil for a host name.
local function literal(host) return host and core.address(host) end

--- Starts the daemon (sessions, ports, status socket) on the loop.
-- Returns it, or nil, message.
function S.start(cfg, log)
  local self = setmetatable({ cfg = cfg, log = log or function(m) io.stderr:write("rtpmidi serve: ", m, "\n") end,
                              started = rtpmidi.now(), peers = {} }, S)
  local control = rtpmidi.RTPControl()
  self.control = control
  for _, p in ipairs(cfg.peers) do
    self.peers[#self.peers + 1] = { spec = p, state = "not invited yet", since = rtpmidi.now() }
  end
  self.apple = rtpmidi.AppleMidiSession{
    name = cfg.name, port = cfg.port, accept = cfg.accept,
    incoming_midi = function(_, msg, time)
      if self.out then self.out:send(msg, time) end
    end,
    participant_joined = function(_, p) self:joined(p) end,
    participant_left = function(_, p, reason) self:left(p, reason) end,
    invitation_failed = function(_, address, port, reason) self:failed(address, port, reason) end,
  }
  self.cookie = control:add_session(self.apple)
  local ok, err = control:start_session(self.cookie)
  if not ok then
    control:remove_session(self.cookie)
    return nil, ("cannot open ports %d and %d: %s"):format(cfg.port, cfg.port + 1, tostring(err))
  end
  self.log(("AppleMIDI session '%s' on port %d"):format(cfg.name, self.apple:local_port()))
  local sok, serr = self:open_status()
  if not sok then self.log("no status socket: " .. tostring(serr)) end
  self:tick()
  self.ticker = rtpmidi.every(cfg.reconnect * 1000, function() self:tick() end)
  return self
end

-- Peers ----------------------------------------------------------------------

-- Whether participant p is the configured peer: by name; by address and
-- port for an IP literal. For a host name, by port and: the name our
-- invitation was made by (invited_as), or else the address a participant
-- that answered such an invitation had (peer.learned: a peer that restarts
-- invites us from there); before either is known, by port alone.
local function matches(peer, p)
  local s = peer.spec
  if s.name then return p.name == s.name end
  if p.port ~= s.port then return false end
  local lit = literal(s.host)
  if lit then return p.address == lit end
  if p.invited_as then return p.invited_as == s.host end
  return peer.learned == nil or p.address == peer.learned
end

function S:peer_of(p)
  for _, peer in ipairs(self.peers) do
    if matches(peer, p) then return peer end
  end
end

function S:joined(p)
  local peer = self:peer_of(p)
  self.log(("%s joined (%s)"):format(printable(p.name), hostport(p.address, p.port or 0)))
  if peer then
    peer.state, peer.since, peer.inviting, peer.participant, peer.note = "connected", rtpmidi.now(), nil, p, nil
    if p.invited_as then peer.learned = p.address end
  end
end

function S:left(p, reason)
  self.log(("%s left: %s"):format(printable(p.name), printable(reason)))
  local peer = self:peer_of(p)
  if peer and peer.participant == p then
    peer.state, peer.since, peer.participant = "gone", rtpmidi.now(), nil
    peer.note = "left: " .. tostring(reason)
    -- soon, but not at once: a peer that just said BY is often restarting
    peer.next_try = rtpmidi.now() + math.min(1000, self.cfg.reconnect * 1000)
  end
  if self.out and #self.apple:participants() == 0 then self.out:all_notes_off() end
end

function S:failed(address, port, reason)
  for _, peer in ipairs(self.peers) do
    -- what we invited: a literal or the address found by name (that
    -- address), or a host name (the failure names one of its addresses, or
    -- the name); at the port invited (a peer found by name: its own)
    local lit = literal(peer.inviting)
    if peer.inviting and peer.inviting_port == port and (lit == nil or address == lit) then
      peer.inviting = nil
      peer.state, peer.since = "not answering", rtpmidi.now()
      peer.note = "invitation: " .. tostring(reason)
      return
    end
  end
end

-- Invites every peer that is neither connected nor being invited.
function S:tick()
  local now = rtpmidi.now()
  local participants = self.apple:participants()
  for _, peer in ipairs(self.peers) do
    local connected
    for _, p in ipairs(participants) do
      if matches(peer, p) then connected = p end
    end
    if connected then
      if peer.state ~= "connected" then self:joined(connected) end
    elseif peer.inviting and now - peer.invited_at > 60000 then
      peer.inviting = nil                      -- an answer that never came
    end
    if not connected and not peer.inviting and (not peer.next_try or now >= peer.next_try) then
      self:invite(peer)
    end
  end
  self:open_ports()
end

function S:invite(peer)
  local s = peer.spec
  local host, port = s.host, s.port
  if s.name then
    host = nil
    for _, d in ipairs(self.apple:discovered()) do
      if d.name == s.name and d.name ~= self.cfg.name then host, port = d.address, d.port end
    end
    if not host then
      peer.state = "not found on the network (mDNS)" .. (rtpmidi.AppleMidiSession.discovery_available()
        and "" or ": no discovery in this build")
      return
    end
  end
  local ok, res, err = pcall(self.apple.invite, self.apple, host, port)
  if ok and res then
    peer.inviting, peer.inviting_port, peer.invited_at = host, port, rtpmidi.now()
    if peer.state ~= "connected" then peer.state = "inviting " .. hostport(host, port) end
    if not peer.first_invite then peer.first_invite, peer.since = true, rtpmidi.now() end
  else
    peer.state = "cannot invite: " .. tostring(ok and err or res)
  end
end

-- MIDI ports -------------------------------------------------------------------

function S:open_ports()
  local cfg = self.cfg
  local cli = require "rtpmidi.cli"
  if cfg.input and not self.inp then
    local api, port, err = cli.resolve_port("inputs", tostring(cfg.input), cfg.api)
    if port then
      self.inp, err = rtpmidi.MidiIn{ api = api, port = port, client = "rtpmidi serve", port_name = "to peers",
        on_message = function(_, bytes) self.apple:send_midi(bytes) end }
    end
    if self.inp then
      self.log("input: " .. self.inp:port_name())
      self.in_err = nil
    elseif self.in_err ~= err then
      self.in_err = err
      self.log("input " .. tostring(cfg.input) .. ": " .. tostring(err) .. " (trying again)")
    end
  end
  if cfg.output and not self.out then
    local api, port, err = cli.resolve_port("outputs", tostring(cfg.output), cfg.api)
    if port then
      self.out, err = rtpmidi.MidiOut{ api = api, port = port, latency = cfg.latency, client = "rtpmidi serve",
        port_name = "from peers" }
    end
    if self.out then
      self.log("output: " .. self.out:port_name())
      self.out_err = nil
    elseif self.out_err ~= err then
      self.out_err = err
      self.log("output " .. tostring(cfg.output) .. ": " .. tostring(err) .. " (trying again)")
    end
  end
end

-- Status -----------------------------------------------------------------------

local function ago(ms)
  local s = math.floor(ms / 1000)
  if s < 60 then return s .. " s" end
  if s < 3600 then return ("%d min %d s"):format(s // 60, s % 60) end
  return ("%d h %d min"):format(s // 3600, s % 3600 // 60)
end

--- What `rtpmidi status` prints.
function S:status_text()
  local now, cfg = rtpmidi.now(), self.cfg
  local lines = {
    ("rtpmidi serve '%s' on port %d, up %s"):format(cfg.name, self.apple:local_port(), ago(now - self.started)),
  }
  for _, peer in ipairs(self.peers) do
    local s = peer.spec
    local what = s.name and ("'" .. printable(s.name) .. "'") or hostport(s.host, s.port)
    local state = peer.state
    if peer.participant then
      local p = peer.participant
      state = ("connected as '%s' (%s), one-way %s"):format(printable(p.name), hostport(p.address, p.port or 0),
        p.latency and ("%.1f ms"):format(p.latency) or "-")
    end
    if peer.note and not peer.participant then state = state .. " (" .. peer.note .. ")" end
    lines[#lines + 1] = ("  peer %-24s %s, since %s"):format(what, state, ago(now - peer.since))
  end
  local others = {}
  for _, p in ipairs(self.apple:participants()) do
    if not self:peer_of(p) then
      others[#others + 1] = ("'%s' (%s)"):format(printable(p.name), hostport(p.address, p.port))
    end
  end
  if #others > 0 then lines[#lines + 1] = "  also connected: " .. table.concat(others, ", ") end
  local function port_line(kind, want, port, err)
    if not want then return end
    lines[#lines + 1] = ("  %-6s %s: %s"):format(kind, tostring(want),
      port and ("open (" .. port:port_name() .. ")") or ("not open: " .. tostring(err) .. " (trying again)"))
  end
  port_line("input", cfg.input, self.inp, self.in_err)
  port_line("output", cfg.output, self.out, self.out_err)
  local st = self.apple:stats()
  lines[#lines + 1] = ("  sent %d msg + %d guard, received %d msg, lost %d, repaired %d"):format(
    st.messages_sent or 0, st.guard_sent or 0, st.messages_received or 0, st.lost or 0, st.messages_recovered or 0)
  return table.concat(lines, "\n") .. "\n"
end

-- A UDP socket on 127.0.0.1 answers "status" with status_text(); its port
-- is in run_dir()/NAME.port (the directory only its user can enter).
function S:open_status()
  local dir = self.cfg.status_dir or S.run_dir()
  os.execute(("mkdir -p -m 700 %s 2>/dev/null"):format(quote(dir)))
  local sock, err = core.udp("127.0.0.1", 0)
  if not sock then return nil, err end
  sock:recv(function(data, host, port)
    if data:match("^status") then
      local text = self:status_text()
      sock:send(text, host, port)
    end
  end)
  self.status_sock = sock
  self.status_path = dir .. "/" .. file_name(self.cfg.name)
  local f, ferr = io.open(self.status_path, "w")
  if not f then return nil, ferr end
  f:write(sock:port(), "\n", tostring(self.apple:local_port()), "\n")
  f:close()
  return true
end

--- BY to every participant, notes off, ports and files closed.
function S:stop()
  if self.stopped then return end
  self.stopped = true
  if self.ticker then self.ticker:cancel() end
  if self.status_sock then self.status_sock:close() end
  if self.status_path then os.remove(self.status_path) end
  self.control:remove_session(self.cookie)
  if self.out then self.out:all_notes_off(); self.out:close() end
  if self.inp then self.inp:close() end
end

--- `rtpmidi status [NAME]`: asks the daemons in run_dir() (or NAME) and
-- prints their answers. Returns the exit code.
function S.query(name, dir, timeout_ms)
  dir = dir or S.run_dir()
  local files = {}
  if name then
    files[1] = dir .. "/" .. file_name(name)
  else
    local ls = io.popen(("ls %s 2>/dev/null"):format(quote(dir)))
    for f in ls:lines() do
      if f:match("%.port$") then files[#files + 1] = dir .. "/" .. f end
    end
    ls:close()
  end
  local asked = 0
  local answers, missing = {}, {}
  local sock = assert(core.udp("127.0.0.1", 0))
  local expect = {}
  for _, path in ipairs(files) do
    local f = io.open(path)
    local port = f and tonumber(f:read("l"))
    if f then f:close() end
    if port then
      expect[port] = path
      asked = asked + 1
      sock:send("status\n", "127.0.0.1", port)
    else
      missing[#missing + 1] = path
    end
  end
  if asked == 0 then
    sock:close()
    io.stderr:write(("rtpmidi status: no rtpmidi serve is running%s (nothing in %s)\n"):format(
      name and (" as '" .. name .. "'") or "", dir))
    return 1
  end
  local got = 0
  sock:recv(function(data, _, port)
    if expect[port] then
      answers[#answers + 1] = data
      expect[port] = nil
      got = got + 1
    end
  end)
  local expired = false
  local timer = rtpmidi.after(timeout_ms or 2000, function() expired = true end)
  while got < asked and not expired do core.run("once") end
  timer:cancel()
  sock:close()
  for _, a in ipairs(answers) do io.write(a) end
  local code = 0
  for port, path in pairs(expect) do
    io.stderr:write(("rtpmidi status: %s (port %d) does not answer: not running any more?\n"):format(path, port))
    code = 1
  end
  return code
end

return S
