-- The options of every class, in one place.
--
-- Each class has one table here: for each option its kind (the Lua type its
-- value must have), the C field it becomes, its default when the C API has
-- none, and the description its error message uses. Who checks what:
--
--   * here, in Lua: the kind; unknown keys (with a "did you mean" hint);
--     0 where the C API reads 0 as "use your default" (`nonzero`: the C
--     default comes from nil, a 0 would silently mean something else); and
--     the rules of options that never reach C (`min`, `max`, `len`);
--   * in C: every range of a C field. The C core checks its config and
--     names the field it refuses; the binding checks what the C field cannot
--     hold (a negative count, a sequence number over 16 bits). Nothing here
--     repeats those checks: a refusal comes back from the C constructor, and
--     is reported with the option's description.
--
-- Defaults: a C default stays in C (the option is left out, the C field
-- stays 0); `default` is only for options the C API has no default for
-- (jitter_buffer_size 10 ms, recovery on, a MidiSession's latency).
--
-- Every error is raised at the line of the caller outside rtpmidi: the
-- table or positional constructor, or the init of a subclass that calls
-- the base class's init.
local core = require "rtpmidi.core"

local M = {}

-- ---------------------------------------------------------------------------
-- Raising at the caller's line

-- The directory of rtpmidi's Lua files ("@/.../lua/rtpmidi/"): frames from
-- there (class.lua's constructor, a base class's init, this file) are ours.
local LIB = debug.getinfo(1, "S").source:match("^(@.*[/\\])")

local function ours(info)
  return info.what == "C" or (LIB ~= nil and info.source:sub(1, #LIB) == LIB)
end

--- Raises msg at the line of the first caller that is neither rtpmidi's
-- Lua code nor a C function (a pcall): the user's line.
function M.raise(msg)
  local level = 2
  while true do
    local info = debug.getinfo(level, "S")
    if not info then level = 2 break end
    if not ours(info) then break end
    level = level + 1
  end
  error(msg, level)
end

-- ---------------------------------------------------------------------------
-- "did you mean": optimal string alignment distance (Damerau-Levenshtein
-- where a swap of two neighbours counts one edit)

local function distance(a, b)
  local la, lb = #a, #b
  local d = {}
  for i = 0, la do d[i] = { [0] = i } end
  for j = 0, lb do d[0][j] = j end
  for i = 1, la do
    for j = 1, lb do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      local v = math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if i > 1 and j > 1 and a:byte(i) == b:byte(j - 1) and a:byte(i - 1) == b:byte(j) then
        v = math.min(v, d[i - 2][j - 2] + 1)
      end
      d[i][j] = v
    end
  end
  return d[la][lb]
end
M.distance = distance

--- The candidate closest to name, when it is close enough to be a typo: at
-- most one edit per three characters (one at least, three at most).
function M.suggest(name, candidates)
  local best, best_d
  for _, c in ipairs(candidates) do
    local d = distance(name:lower(), c)
    if not best_d or d < best_d then best, best_d = c, d end
  end
  if best_d and best_d <= math.max(1, math.min(3, #name // 3)) then return best end
end

-- ---------------------------------------------------------------------------
-- The classes' options

local KINDS = {
  string = function(v) return type(v) == "string" end,
  integer = function(v) return math.type(v) == "integer" end,
  number = function(v) return type(v) == "number" end,
  boolean = function(v) return type(v) == "boolean" end,
  ["string|integer"] = function(v) return type(v) == "string" or math.type(v) == "integer" end,
  ["string|table"] = function(v) return type(v) == "string" or type(v) == "table" end,
  table = function(v) return type(v) == "table" end,
}

-- Builds a class's option set: list is { { name, kind, fields... }, ... },
-- in the order the documentation gives them.
local function class(spec)
  local set = { positional = spec.positional, callbacks = spec.callbacks, list = {}, by_name = {} }
  for _, e in ipairs(spec) do
    local opt = {}
    for k, v in pairs(e) do opt[k] = v end
    opt.name, opt.kind = e[1], e[2]
    opt[1], opt[2] = nil, nil
    assert(KINDS[opt.kind], opt.kind)
    set.list[#set.list + 1] = opt
    set.by_name[opt.name] = opt
  end
  return set
end

M.class = class -- for option sets kept beside their class (rtpmidi.midi2)

local function extend(base, spec)
  local all = {}
  for _, o in ipairs(base.list) do
    if not spec.drop or not spec.drop[o.name] then
      local e = { o.name, o.kind }
      for k, v in pairs(o) do if k ~= "name" and k ~= "kind" then e[k] = v end end
      all[#all + 1] = e
    end
  end
  for _, e in ipairs(spec) do all[#all + 1] = e end
  all.positional, all.callbacks = spec.positional, spec.callbacks
  return class(all)
end

-- The C core reports both ports 0 under 'sending_port'.
local function need_a_port(cfg)
  if (cfg.sending_port or 0) == 0 and (cfg.receiving_port or 0) == 0 then
    return "a session needs a sending_port, a receiving_port or both"
  end
end

-- RTPSession: rtpmidi_session_config (csrc/include/rtpmidi.h)
M.RTPSession = class {
  positional = { "peer_address", "sending_port", "receiving_port", "payload", "jitter_buffer_size", "tool_name" },
  callbacks = { "incoming_rtp", "start", "stop", "drop_call" },
  { "peer_address", "string", c = "peer_address", expect = "host name or address" },
  { "sending_port", "integer", c = "sending_port", expect = "port 0..65535", why = need_a_port },
  { "receiving_port", "integer", c = "receiving_port", expect = "port 0..65535", why = need_a_port },
  { "payload", "integer", c = "payload_type", expect = "RTP payload type 0..127" },
  { "jitter_buffer_size", "number", c = "jitter_buffer_ms", default = 10, expect = "milliseconds 0..60000" },
  { "tool_name", "string", c = "tool_name", default = "rtpmidi " .. core._VERSION,
    expect = "string of at most 255 octets" },
  { "bind_address", "string", c = "bind_address", expect = "local address" },
  { "clock_rate", "integer", c = "clock_rate", nonzero = true, expect = "units per second 1..4294967295" },
  { "rtcp_interval", "number", c = "rtcp_interval", nonzero = true, expect = "seconds > 0, at most 3600" },
  { "timeout", "number", c = "timeout", nonzero = true, expect = "seconds > 0, at most 86400" },
  { "accept_any_source", "boolean", c = "accept_any_source", expect = "boolean" },
  { "start_sequence", "integer", c = "start_sequence", expect = "integer 0..65535" },
  { "cname", "string", c = "cname", expect = "string of 1..255 octets" },
  { "jitter_buffer_packets", "integer", c = "jitter_buffer_packets", nonzero = true,
    expect = "integer 2..32768 (packets)" },
}

-- MidiSession: rtpmidi_midi_config; payload 97 when not given (the C default)
M.MidiSession = extend(M.RTPSession, {
  -- the seed document's MidiSession(peer_address, sending_port=0,
  -- receiving_port=0, jitter_buffer_size=10) (how-to-use-rtp.txt)
  positional = { "peer_address", "sending_port", "receiving_port", "jitter_buffer_size" },
  callbacks = { "incoming_midi", "start", "stop", "drop_call" },
  { "latency", "number", min = 0, default = 20, expect = "milliseconds >= 0" },
  { "recovery", "boolean", c = "recovery", default = true, expect = "boolean" },
  { "payload_budget", "integer", c = "payload_budget", nonzero = true, expect = "octets 16..1488" },
  { "max_sysex", "integer", c = "max_sysex", nonzero = true, expect = "octets >= 1" },
  { "journal_history", "integer", c = "journal_history", nonzero = true,
    expect = "integer 1..32767 (packets)" },
  -- the journal receiver's options (docs/api.md); the C default (nil) is the RFC's
  { "journal_trust_s_bits", "boolean", c = "journal_ignore_s_bits", expect = "boolean" },
  { "journal_honor_y", "boolean", c = "journal_ignore_y", expect = "boolean" },
  { "api", "string", expect = "MIDI API name" },
  { "device_in", "string|integer", expect = "port name or index" },
  { "device_out", "string|integer", expect = "port name or index" },
})

-- One AppleMIDI participant's options (issue 18, item 8): the third
-- argument of invite(host, port, options), and each rule of an
-- AppleMidiSession's `peers`, which also says whom it is for (`name`: its
-- session name, `address`: its IP literal; both given: both must match).
-- Not C options: the facade applies them when the participant joins
-- (applemidi.lua), through rtpmidi_apple_set_recovery.
M.AppleMidiPeer = class {
  { "recovery", "boolean", expect = "boolean" },
}
M.AppleMidiPeerRule = extend(M.AppleMidiPeer, {
  { "name", "string", expect = "session name" },
  { "address", "string", expect = "IP literal" },
})

-- AppleMidiSession's `peers`: a list of rules, each with a name or an address.
local function check_peer_rules(rules)
  local out = {}
  for i, r in ipairs(rules) do
    local where = ("peers[%d]."):format(i)
    local c = M.check(M.AppleMidiPeerRule, r, where)
    if c.name == nil and c.address == nil then
      M.raise(("bad argument 'peers[%d]' (a rule needs a name or an address)"):format(i))
    end
    out[i] = c
  end
  for k in pairs(rules) do
    if math.type(k) ~= "integer" or k < 1 or k > #rules then
      M.raise(("bad argument 'peers' (a list of rules expected, got key %s)"):format(tostring(k)))
    end
  end
  return out
end

-- AppleMidiSession: rtpmidi_apple_config; the C core reports a bad
-- interval of any kind as 'interval' (c_err)
M.AppleMidiSession = class {
  callbacks = { "incoming_midi", "participant_joined", "participant_left", "participant_synced",
                "invitation_failed", "start", "stop" },
  { "name", "string", c = "name", len = { 1, 64 }, expect = "session name of 1..64 octets" },
  { "port", "integer", c = "port", default = 5004,
    expect = "control port 0..65534 (the data port is port+1; 0: a free pair)" },
  { "bind_address", "string", c = "bind_address", expect = "IPv4 or IPv6 address (\"::\": both)" },
  { "accept", "string|table", c = "accept", c_says = true,
    expect = '"anyone", "none" or a list of addresses' },
  { "ssrc", "integer", c = "ssrc", nonzero = true, expect = "integer 1..4294967295" },
  { "recovery", "boolean", c = "recovery", default = true, expect = "boolean" },
  { "peers", "table", check = check_peer_rules,
    expect = "list of rules { name=, address=, recovery= }" },
  { "reinvite", "boolean", c = "reinvite", expect = "boolean" },
  { "invite_tries", "integer", c = "invite_tries", nonzero = true, expect = "integer >= 1" },
  { "invite_interval", "number", c = "invite_interval_ms", c_err = "interval", nonzero = true,
    expect = "milliseconds > 0" },
  { "ck_fast_count", "integer", c = "ck_fast_count", nonzero = true, expect = "integer >= 1" },
  { "ck_fast_interval", "number", c = "ck_fast_interval_ms", c_err = "interval", nonzero = true,
    expect = "milliseconds > 0" },
  { "ck_interval", "number", c = "ck_interval_ms", c_err = "interval", nonzero = true,
    expect = "milliseconds > 0" },
  { "timeout", "number", c = "timeout_ms", c_err = "interval", nonzero = true, expect = "seconds > 0" },
  { "rs_interval", "number", c = "rs_interval_ms", c_err = "interval", nonzero = true,
    expect = "milliseconds > 0" },
  { "guard_interval", "number", c = "guard_ms", c_err = "interval", nonzero = true,
    expect = "milliseconds > 0" },
  { "jitter_buffer_size", "number", c = "jitter_buffer_ms", default = 10, expect = "milliseconds 0..10000" },
  { "payload_budget", "integer", c = "payload_budget", nonzero = true, expect = "octets 16..1200" },
  { "max_sysex", "integer", c = "max_sysex", nonzero = true, expect = "octets >= 1" },
  { "max_participants", "integer", c = "max_participants", nonzero = true, expect = "integer >= 1" },
  { "invitations_per_second", "number", c = "invitations_per_second", nonzero = true,
    expect = "invitations per second > 0, at most 1000000" },
  { "journal_history", "integer", c = "journal_history", nonzero = true,
    expect = "integer 1..32767 (packets)" },
  { "jitter_buffer_packets", "integer", c = "jitter_buffer_packets", nonzero = true,
    expect = "integer 2..32768 (packets)" },
  { "journal_trust_s_bits", "boolean", c = "journal_ignore_s_bits", expect = "boolean" },
  { "journal_honor_y", "boolean", c = "journal_ignore_y", expect = "boolean" },
}

-- MIDI ports: rtpmidi_midi_port_config and the in/out configs. The C core
-- says why a port, a virtual port or an API is refused (c_says).
local PORT = {
  { "api", "string", c = "port.api", c_says = true, expect = "MIDI API name" },
  { "port", "string|integer", c = "port.port / port.index", c_says = true, expect = "port name or index" },
  { "virtual", "string", c = "port.virtual_name", c_says = true, expect = "port name" },
  { "client", "string", c = "port.client_name", expect = "client name" },
  { "port_name", "string", c = "port.port_name", expect = "port name" },
}
local function port_class(extra)
  local spec = { callbacks = extra.callbacks }
  for _, e in ipairs(PORT) do spec[#spec + 1] = e end
  for _, e in ipairs(extra) do spec[#spec + 1] = e end
  return class(spec)
end

M.MidiIn = port_class {
  callbacks = { "on_message", "on_error" },
  { "sysex", "boolean", c = "sysex", default = true, expect = "boolean" },
  { "clock", "boolean", c = "clock", default = true, expect = "boolean" },
  { "active_sensing", "boolean", c = "active_sensing", expect = "boolean" },
  { "queue_size", "integer", c = "queue_bytes", nonzero = true, expect = "bytes 1..2^30" },
}

M.MidiOut = port_class {
  callbacks = {},
  { "latency", "number", c = "latency_ms", expect = "milliseconds >= 0" },
  { "max_pending", "integer", c = "max_pending", nonzero = true, expect = "messages 1..10^8" },
  { "realtime", "boolean", c = "rt_priority", default = true, expect = "boolean" },
}

-- ---------------------------------------------------------------------------
-- Reading options

local function show(v)
  if type(v) == "string" then
    if #v > 40 then return ("a string of %d octets"):format(#v) end
    return v
  elseif type(v) == "table" or type(v) == "function" or type(v) == "userdata" or type(v) == "thread" then
    return type(v)
  end
  return tostring(v)
end

local function bad_value(opt, v, cfg)
  local why = opt.why and opt.why(cfg)
  if why then M.raise(("bad argument '%s' (%s)"):format(opt.name, why)) end
  M.raise(("bad argument '%s' (%s expected, got %s)"):format(opt.name, opt.expect, show(v)))
end

local function names(set)
  local out = {}
  for _, o in ipairs(set.list) do out[#out + 1] = o.name end
  for _, c in ipairs(set.callbacks or {}) do out[#out + 1] = c end
  return out
end

local function unknown(set, key)
  local msg = ("bad argument '%s' (unknown option)"):format(tostring(key))
  local hint = type(key) == "string" and M.suggest(key, names(set))
  if hint then msg = msg .. ("; did you mean '%s'?"):format(hint) end
  M.raise(msg)
end

-- A callback (any value: add_session checks it is a function), or a
-- function that replaces a method of the class.
local function is_callback(set, obj, key, value)
  for _, c in ipairs(set.callbacks or {}) do
    if c == key then return true end
  end
  return type(value) == "function" and type(obj[key]) == "function"
end

--- Checks a table of a class's options (no callbacks, no defaults):
-- unknown keys and wrong kinds raise at the caller's line, naming the
-- option as `where` + its name. Returns a copy.
function M.check(set, t, where)
  where = where or ""
  if type(t) ~= "table" then
    M.raise(("bad argument '%s' (table expected, got %s)"):format(where ~= "" and where:gsub("%.$", "") or "options",
      type(t)))
  end
  local out = {}
  for k, v in pairs(t) do
    local opt = type(k) == "string" and set.by_name[k]
    if not opt then
      local hint = type(k) == "string" and M.suggest(k, names(set))
      M.raise(("bad argument '%s%s' (unknown option)%s"):format(where, tostring(k),
        hint and ("; did you mean '%s'?"):format(hint) or ""))
    end
    if not KINDS[opt.kind](v) then
      M.raise(("bad argument '%s%s' (%s expected, got %s)"):format(where, k, opt.expect, show(v)))
    end
    out[k] = v
  end
  return out
end

--- Reads a class's options into a config table for the C constructor.
-- args: the constructor's arguments, either one options table or the
-- class's positional arguments. A table's callbacks (and functions that
-- replace methods) go onto obj. Raises at the caller's line for an unknown
-- key or a value of the wrong kind. Returns the config: the options given,
-- and the defaults of those the C API has none for.
function M.read(set, obj, n, ...)
  local given = {}
  local first = ...
  if type(first) == "table" and n == 1 then
    for k, v in pairs(first) do
      local opt = type(k) == "string" and set.by_name[k]
      if opt then
        given[k] = v
      elseif type(k) == "string" and is_callback(set, obj, k, v) then
        obj[k] = v
      else
        unknown(set, k)
      end
    end
  elseif set.positional then
    for i, name in ipairs(set.positional) do given[name] = (select(i, ...)) end
    if n > #set.positional then
      M.raise(("bad argument #%d (at most %d arguments expected, got %d)"):format(#set.positional + 1,
        #set.positional, n))
    end
  elseif first == nil and n <= 1 then
    -- no options: every default
  else
    M.raise(("bad argument 'options' (table expected, got %s)"):format(type(first)))
  end
  local cfg = {}
  for _, opt in ipairs(set.list) do
    local v = given[opt.name]
    if v == nil then
      v = opt.default
    else
      if not KINDS[opt.kind](v) then bad_value(opt, v, given) end
      if opt.nonzero and v == 0 then bad_value(opt, v, given) end
      if (opt.min and v < opt.min) or (opt.max and v > opt.max) then bad_value(opt, v, given) end
      if opt.len and (#v < opt.len[1] or #v > opt.len[2]) then bad_value(opt, v, given) end
      if opt.check then v = opt.check(v) end
    end
    cfg[opt.name] = v
  end
  return cfg
end

-- The option a C refusal names: by its Lua name, its C field, or the name
-- the C core gives a group of fields (only those given can be at fault).
local function refused(set, cfg, name)
  local opt = set.by_name[name]
  if opt then return { opt } end
  local found = {}
  for _, o in ipairs(set.list) do
    if o.c == name or (o.c_err == name and cfg[o.name] ~= nil) then found[#found + 1] = o end
  end
  return found
end

--- Calls the C constructor ctor(cfg, ...) and returns what it returns. When
-- it refuses an option ("bad argument 'x' (...)"), raises at the caller's
-- line naming the option, with its description and the value given.
function M.create(set, ctor, cfg, ...)
  local res = table.pack(pcall(ctor, cfg, ...))
  if res[1] then return table.unpack(res, 2, res.n) end
  local err = res[2]
  local name, said = tostring(err):match("^bad argument '([^']+)' %((.*)%)$")
  if not name then M.raise(err) end
  local opts = refused(set, cfg, name)
  if #opts > 1 then
    -- a group name: ask the C core about each option of the group alone
    local culprits = {}
    for _, o in ipairs(opts) do
      local alone = {}
      for k, v in pairs(cfg) do alone[k] = v end
      for _, other in ipairs(opts) do
        if other ~= o then alone[other.name] = nil end
      end
      local ok, obj = pcall(ctor, alone, ...)
      if not ok then
        culprits[#culprits + 1] = o
      elseif type(obj) == "userdata" and obj.close then
        obj:close()
      end
    end
    if #culprits > 0 then opts = culprits end
  end
  if #opts == 1 then
    local opt = opts[1]
    if opt.c_says and said ~= "invalid value" then
      M.raise(("bad argument '%s' (%s)"):format(opt.name, said))
    end
    bad_value(opt, cfg[opt.name], cfg)
  elseif #opts > 1 then
    local list = {}
    for i, o in ipairs(opts) do list[i] = "'" .. o.name .. "'" end
    M.raise(("bad argument %s (%s expected)"):format(table.concat(list, " or "), opts[1].expect))
  end
  M.raise(err)
end

return M
