-- Musical time on the loop: a tempo clock in beats and bars that can change
-- tempo while running, call functions on musical positions, send MIDI clock
-- (F8 at 24 per quarter note, FA start, FC stop) to sessions or ports, and
-- follow the clock a peer sends.
--
--   local clock = rtpmidi.Tempo{ bpm = 120, beats_per_bar = 4 }
--   clock:every(1/4, function(beat) ... end)   -- every 16th note
--   clock:send_clock(session)                  -- anything with send_midi or send
--   clock:start()
local core = require "rtpmidi.core"

local Tempo = {}
Tempo.__index = Tempo

local PPQN = 24

local function check_bpm(bpm, name)
  if type(bpm) ~= "number" or bpm <= 0 or bpm > 3000 then
    error(("bad argument '%s' (beats per minute 0..3000 expected, got %s)"):format(name, tostring(bpm)), 3)
  end
end

function Tempo.new(opts)
  opts = opts or {}
  local bpm = opts.bpm or 120
  check_bpm(bpm, "bpm")
  local bpb = opts.beats_per_bar or 4
  if math.type(bpb) ~= "integer" or bpb < 1 then
    error("bad argument 'beats_per_bar' (positive integer expected, got " .. tostring(bpb) .. ")", 2)
  end
  return setmetatable({
    bpm = bpm, beats_per_bar = bpb,
    running = false,
    anchor_time = nil, anchor_beat = 0, -- position = anchor_beat + (now - anchor_time) * bpm / 60000
    tick = 0,                           -- clock ticks (1/24 beat) played since start
    jobs = {},                          -- { next = beat, every = beats|nil, fn = f }
    outputs = {},
    timer = nil,
    follow_times = {},
  }, Tempo)
end

local function now() return core.now() end

--- The position in beats (0 at start), fractional.
function Tempo:beat()
  if not self.running then return self.anchor_beat end
  return self.anchor_beat + (now() - self.anchor_time) * self.bpm / 60000
end

--- The bar (0-based) and the beat inside it (0-based, fractional).
function Tempo:bar()
  local b = self:beat()
  return b // self.beats_per_bar, b % self.beats_per_bar
end

--- The local time (rtpmidi.now() milliseconds) of a position in beats.
function Tempo:time_of(beat)
  return self.anchor_time + (beat - self.anchor_beat) * 60000 / self.bpm
end

function Tempo:set_bpm(bpm)
  check_bpm(bpm, "bpm")
  if self.running then
    self.anchor_beat = self:beat()
    self.anchor_time = now()
  end
  self.bpm = bpm
  if self.running then self:_schedule() end
end

local function send(out, bytes)
  if type(out) == "function" then return out(bytes) end
  if out.send_midi then return out:send_midi(bytes) end
  return out:send(bytes)
end

local function broadcast(self, bytes)
  for _, out in ipairs(self.outputs) do send(out, bytes) end
end

--- Sends MIDI clock to `out` (a MidiSession, an AppleMidiSession, a MidiOut,
-- or a function taking the bytes) while running.
function Tempo:send_clock(out)
  if type(out) ~= "function" and (type(out) ~= "table" or not (out.send_midi or out.send)) then
    error("bad argument 'out' (a session, a MIDI output or a function expected)", 2)
  end
  self.outputs[#self.outputs + 1] = out
  return self
end

--- Calls fn(beat) at `beat` (a position in beats), once.
function Tempo:at(beat, fn)
  if type(beat) ~= "number" then error("bad argument 'beat' (number expected)", 2) end
  if type(fn) ~= "function" then error("bad argument 'fn' (function expected)", 2) end
  local job = { next = beat, fn = fn }
  self.jobs[#self.jobs + 1] = job
  if self.running then self:_schedule() end
  return job
end

--- Calls fn(beat) every `beats` beats (1 = a quarter note, 1/4 = a 16th),
-- on the grid from position 0.
function Tempo:every(beats, fn)
  if type(beats) ~= "number" or beats <= 0 then error("bad argument 'beats' (number > 0 expected)", 2) end
  if type(fn) ~= "function" then error("bad argument 'fn' (function expected)", 2) end
  local from = self.running and self:beat() or self.anchor_beat
  local job = { next = math.ceil(from / beats - 1e-9) * beats, every = beats, fn = fn }
  self.jobs[#self.jobs + 1] = job
  if self.running then self:_schedule() end
  return job
end

--- Stops a job made by at or every.
function Tempo:cancel(job)
  for i, j in ipairs(self.jobs) do
    if j == job then table.remove(self.jobs, i) return true end
  end
  return false
end

function Tempo:start(beat)
  if self.running then return end
  self.running = true
  self.anchor_beat = beat or 0
  self.anchor_time = now()
  self.tick = math.ceil(self.anchor_beat * PPQN - 1e-9)
  broadcast(self, self.anchor_beat == 0 and "\xFA" or "\xFB")
  self:_schedule()
end

function Tempo:stop()
  if not self.running then return end
  self.anchor_beat = self:beat()
  self.running = false
  if self.timer then self.timer:cancel(); self.timer = nil end
  broadcast(self, "\xFC")
end

-- Runs what is due and sets a timer for the next event: the next clock tick
-- (when sending clock) or the next job, whichever comes first. Times are
-- computed from the anchor, so nothing drifts.
function Tempo:_schedule()
  if self.timer then self.timer:cancel(); self.timer = nil end
  if not self.running then return end
  local pos = self:beat()
  local eps = 1e-6
  if #self.outputs > 0 then
    while self.tick / PPQN <= pos + eps do
      broadcast(self, "\xF8")
      self.tick = self.tick + 1
    end
  end
  -- jobs due now, in position order
  local ran = true
  while ran do
    ran = false
    local due, idx
    for i, j in ipairs(self.jobs) do
      if j.next <= pos + eps and (not due or j.next < due.next) then due, idx = j, i end
    end
    if due then
      ran = true
      local at = due.next
      if due.every then due.next = due.next + due.every else table.remove(self.jobs, idx) end
      core.call(due.fn, at)
      if not self.running then return end
    end
  end
  local next_beat = math.huge
  if #self.outputs > 0 then next_beat = self.tick / PPQN end
  for _, j in ipairs(self.jobs) do next_beat = math.min(next_beat, j.next) end
  if next_beat == math.huge then return end
  local wait = math.max(0, self:time_of(next_beat) - now())
  self.timer = core.timer(wait, 0, function() self.timer = nil; self:_schedule() end)
end

--- Feeds a MIDI message from a peer's clock: F8 ticks set the tempo (from
-- the average of the last 24 intervals), FA starts at 0, FB continues, FC
-- stops. Call it from incoming_midi(message, time). Returns true when the
-- message was a clock message.
function Tempo:follow(message, time)
  local b = message:byte(1)
  time = time or now()
  if b == 0xF8 then
    local t = self.follow_times
    t[#t + 1] = time
    if #t > PPQN + 1 then table.remove(t, 1) end
    if #t >= 3 then
      local interval = (t[#t] - t[1]) / (#t - 1)
      if interval > 0 then
        local bpm = 60000 / (interval * PPQN)
        if bpm > 0 and bpm <= 3000 and math.abs(bpm - self.bpm) > 0.01 then self:set_bpm(bpm) end
      end
    end
    return true
  elseif b == 0xFA then
    self.follow_times = {}
    self:stop(); self:start(0)
    return true
  elseif b == 0xFB then
    self:start(self.anchor_beat)
    return true
  elseif b == 0xFC then
    self:stop()
    return true
  end
  return false
end

setmetatable(Tempo, { __call = function(_, opts) return Tempo.new(opts) end })
return Tempo
