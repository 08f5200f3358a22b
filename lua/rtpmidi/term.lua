-- Terminal helpers for the command line: a Lua REPL on standard input that
-- runs on the loop (it never blocks it), and a status line at the bottom of
-- the terminal refreshed while the loop runs.
local core = require "rtpmidi.core"
local rtpmidi = require "rtpmidi"

local M = {}

local function write(s)
  io.stdout:write(s)
  io.stdout:flush()
end

-- Readable values for the REPL: tables one level deep, sorted keys.
local function show(v, depth)
  depth = depth or 0
  if type(v) == "string" then return ("%q"):format(v):gsub("\\\n", "\\n") end
  if type(v) ~= "table" or depth > 0 or (getmetatable(v) and getmetatable(v).__tostring) then
    return tostring(v)
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  if #keys > 40 then return tostring(v) .. (" (%d keys)"):format(#keys) end
  table.sort(keys, function(a, b)
    if type(a) == type(b) and (type(a) == "number" or type(a) == "string") then return a < b end
    return type(a) < type(b)
  end)
  local parts = {}
  for _, k in ipairs(keys) do
    local key = type(k) == "string" and k:match("^[%a_][%w_]*$") and k or "[" .. show(k, 1) .. "]"
    parts[#parts + 1] = key .. " = " .. show(v[k], depth + 1)
  end
  return "{ " .. table.concat(parts, ", ") .. " }"
end
M.show = show

-- Output around a line being typed --------------------------------------
-- While a line editor shows a prompt, whatever the program prints (a log
-- line, a script's print, a callback error) must not land in the middle of
-- the line being typed: the writes to standard output and error go through
-- hooks that take the prompt line away first and draw it again after a
-- complete line.

local hooked = { editor = nil }
local raw_write = getmetatable(io.stdout).__index.write

local function tty_write(s)
  raw_write(io.stdout, s)
  io.stdout:flush()
end

--- Routes print, io.write and writes to io.stdout/io.stderr around the
-- active line editor (idempotent). Call it before a script captures print.
function M.hook_output()
  if hooked.installed then return end
  hooked.installed = true
  local methods = getmetatable(io.stdout).__index
  methods.write = function(f, ...)
    local ed = hooked.editor
    if not ed or (f ~= io.stdout and f ~= io.stderr) then return raw_write(f, ...) end
    ed:hide()
    local r = table.pack(raw_write(f, ...))
    f:flush()
    local n = select("#", ...)
    local last = n > 0 and tostring((select(n, ...))) or ""
    ed:output_done(last == "" and nil or last:sub(-1) == "\n")
    return table.unpack(r, 1, r.n)
  end
  io.write = function(...) return io.output():write(...) end
  print = function(...)
    local n = select("#", ...)
    local parts = {}
    for i = 1, n do parts[i] = tostring((select(i, ...))) end
    io.stdout:write(table.concat(parts, "\t"), "\n")
  end
end

-- The line editor ----------------------------------------------------------
-- One line, edited in place: Left/Right (Ctrl-B/F), Home/End (Ctrl-A/E),
-- Ctrl-Left/Right and Alt-B/F by word, Backspace, Delete, Ctrl-K/U/W to
-- cut, Up/Down (Ctrl-P/N) through the history, Tab completes a name,
-- Ctrl-L redraws, Ctrl-D on an empty line ends the input. A line wider than
-- the terminal scrolls sideways.

local Editor = {}
Editor.__index = Editor

local HISTORY_MAX = 500

local function chars_of(s)
  local t = {}
  for c in s:gmatch(utf8.charpattern) do t[#t + 1] = c end
  return t
end

function Editor.new(opts)
  local self = setmetatable({
    prompt = opts.prompt or "> ",
    chars = {}, pos = 0, offset = 0,
    history = {}, hpos = nil, draft = nil,
    pending = "", shown = false, busy = false, partial = false,
    on_line = opts.on_line, on_eof = opts.on_eof, complete = opts.complete,
    history_file = opts.history_file,
  }, Editor)
  if self.history_file then
    local f = io.open(self.history_file, "r")
    if f then
      for l in f:lines() do self.history[#self.history + 1] = l end
      f:close()
      while #self.history > HISTORY_MAX do table.remove(self.history, 1) end
    end
  end
  return self
end

function Editor:text() return table.concat(self.chars) end

function Editor:set_text(s)
  self.chars = chars_of(s)
  self.pos = #self.chars
end

--- Draws the prompt and the line, the cursor in place.
function Editor:render()
  if self.closed or self.busy then return end
  local cols = core.tty_size(1) or 80
  local room = math.max(cols - #self.prompt - 1, 8)
  local n = #self.chars
  if self.pos < self.offset then self.offset = self.pos end
  if self.pos > self.offset + room then self.offset = self.pos - room end
  if n - self.offset < room then self.offset = math.max(0, n - room) end
  local last = math.min(n, self.offset + room)
  local s = "\r" .. self.prompt .. table.concat(self.chars, "", self.offset + 1, last) .. "\27[K"
  if last > self.pos then s = s .. ("\27[%dD"):format(last - self.pos) end
  tty_write(s)
  self.shown = true
end

--- Takes the prompt line off the screen (before other output).
function Editor:hide()
  if self.partial_timer then self.partial_timer:cancel(); self.partial_timer = nil end
  if self.shown then
    tty_write("\r\27[K")
    self.shown = false
  end
end

-- After other output: a complete line gets the prompt drawn again at once;
-- a partial one (no newline yet) gets it on the next loop turn, on a line
-- of its own.
function Editor:output_done(complete)
  if self.closed or self.busy then return end
  if complete == nil then complete = not self.partial end
  self.partial = not complete
  if complete then
    self:render()
  else
    self.partial_timer = rtpmidi.after(0, function()
      self.partial_timer = nil
      if self.partial then tty_write("\n") self.partial = false end
      self:render()
    end)
  end
end

function Editor:insert(c)
  table.insert(self.chars, self.pos + 1, c)
  self.pos = self.pos + 1
end

local function is_word(c) return c:match("^[%w_]$") ~= nil or #c > 1 end

function Editor:word_left()
  local p = self.pos
  while p > 0 and not is_word(self.chars[p]) do p = p - 1 end
  while p > 0 and is_word(self.chars[p]) do p = p - 1 end
  return p
end

function Editor:word_right()
  local p, n = self.pos, #self.chars
  while p < n and not is_word(self.chars[p + 1]) do p = p + 1 end
  while p < n and is_word(self.chars[p + 1]) do p = p + 1 end
  return p
end

function Editor:cut(from, to)   -- chars from+1 .. to
  for _ = from + 1, to do table.remove(self.chars, from + 1) end
  self.pos = from
end

function Editor:browse(delta)
  local h = self.history
  if #h == 0 then return end
  local i = self.hpos or (#h + 1)
  i = math.max(1, math.min(#h + 1, i + delta))
  if i == (self.hpos or #h + 1) then return end
  if not self.hpos then self.draft = self:text() end
  self.hpos = i <= #h and i or nil
  self:set_text(self.hpos and h[self.hpos] or self.draft or "")
end

function Editor:accept()
  local line = self:text()
  self.pos = #self.chars
  self:render()
  tty_write("\n")
  self.shown = false
  self.chars, self.pos, self.offset, self.hpos, self.draft = {}, 0, 0, nil, nil
  if line:find("%S") and line ~= self.history[#self.history] then
    self.history[#self.history + 1] = line
    if #self.history > HISTORY_MAX then table.remove(self.history, 1) end
    if self.history_file then
      local f = io.open(self.history_file, "a")
      if f then f:write(line, "\n") f:close() end
    end
  end
  self.busy = true
  local ok, err = pcall(self.on_line, line)
  self.busy = false
  if not ok then io.stdout:write(tostring(err), "\n") end
end

function Editor:tab()
  if not self.complete then return end
  local before = table.concat(self.chars, "", 1, self.pos)
  local word = before:match("[%w_%.:]*$")
  local list = self.complete(word) or {}
  if #list == 0 then return end
  local common = list[1]
  for i = 2, #list do
    local a, k = list[i], 0
    while k < #common and k < #a and common:byte(k + 1) == a:byte(k + 1) do k = k + 1 end
    common = common:sub(1, k)
  end
  if #common > #word then
    for c in common:sub(#word + 1):gmatch(utf8.charpattern) do self:insert(c) end
  elseif #list > 1 then
    self:hide()
    tty_write(table.concat(list, "  ") .. "\n")
  end
end

local CONTROL = {
  [1] = function(e) e.pos = 0 end,                                   -- Ctrl-A
  [2] = function(e) e.pos = math.max(0, e.pos - 1) end,              -- Ctrl-B
  [4] = function(e)                                                  -- Ctrl-D
    if #e.chars == 0 then
      e:hide()
      if e.on_eof then e.on_eof() end
    elseif e.pos < #e.chars then e:cut(e.pos, e.pos + 1) end
  end,
  [5] = function(e) e.pos = #e.chars end,                            -- Ctrl-E
  [6] = function(e) e.pos = math.min(#e.chars, e.pos + 1) end,       -- Ctrl-F
  [8] = function(e) if e.pos > 0 then e:cut(e.pos - 1, e.pos) end end, -- Ctrl-H
  [9] = function(e) e:tab() end,
  [10] = function(e) e:accept() end,                                 -- Enter
  [13] = function(e) e:accept() end,
  [11] = function(e) e:cut(e.pos, #e.chars) end,                     -- Ctrl-K
  [12] = function(e) tty_write("\27[H\27[2J") e.shown = false end,   -- Ctrl-L
  [14] = function(e) e:browse(1) end,                                -- Ctrl-N
  [16] = function(e) e:browse(-1) end,                               -- Ctrl-P
  [21] = function(e) e:cut(0, e.pos) end,                            -- Ctrl-U
  [23] = function(e) e:cut(e:word_left(), e.pos) end,                -- Ctrl-W
  [127] = function(e) if e.pos > 0 then e:cut(e.pos - 1, e.pos) end end, -- Backspace
}

local CSI = {
  A = function(e) e:browse(-1) end, B = function(e) e:browse(1) end,
  C = function(e, p) e.pos = p:find("5") and e:word_right() or math.min(#e.chars, e.pos + 1) end,
  D = function(e, p) e.pos = p:find("5") and e:word_left() or math.max(0, e.pos - 1) end,
  H = function(e) e.pos = 0 end, F = function(e) e.pos = #e.chars end,
  ["~"] = function(e, p)
    local k = tonumber(p:match("^%d+"))
    if k == 1 or k == 7 then e.pos = 0
    elseif k == 4 or k == 8 then e.pos = #e.chars
    elseif k == 3 and e.pos < #e.chars then e:cut(e.pos, e.pos + 1) end
  end,
}

local ALT = {
  b = function(e) e.pos = e:word_left() end,
  f = function(e) e.pos = e:word_right() end,
  ["\127"] = function(e) e:cut(e:word_left(), e.pos) end,
}

--- Takes the bytes the terminal sent: keys, escape sequences, pasted text.
function Editor:feed(data)
  data = self.pending .. data
  self.pending = ""
  local i, n = 1, #data
  while i <= n and not self.closed do
    local c = data:byte(i)
    if c == 27 then
      local nxt = data:sub(i + 1, i + 1)
      if nxt == "" then self.pending = data:sub(i) break end
      if nxt == "[" then
        local params, final, j = data:match("^([%d;]*)([@-~])()", i + 2)
        if not final then
          if data:sub(i + 2):match("^[%d;]*$") then self.pending = data:sub(i) break end
          i = i + 2
        else
          local f = CSI[final]
          if f then f(self, params) end
          i = j
        end
      elseif nxt == "O" then
        local k = data:sub(i + 2, i + 2)
        if k == "" then self.pending = data:sub(i) break end
        local f = CSI[k]
        if f then f(self, "") end
        i = i + 3
      else
        local f = ALT[nxt]
        if f then f(self) end
        i = i + 2
      end
    elseif c < 32 or c == 127 then
      local f = CONTROL[c]
      if f then f(self) end
      i = i + 1
    else
      local len = c >= 0xF0 and 4 or c >= 0xE0 and 3 or c >= 0xC0 and 2 or 1
      if i + len - 1 > n then self.pending = data:sub(i) break end
      self:insert(data:sub(i, i + len - 1))
      i = i + len
    end
  end
  if self.hpos == nil and self.draft then self.draft = nil end
  self:render()
end

function Editor:close()
  if self.closed then return end
  self:hide()
  self.closed = true
  if self.partial_timer then self.partial_timer:cancel(); self.partial_timer = nil end
  if hooked.editor == self then hooked.editor = nil end
end

M.Editor = Editor

-- Names for Tab: the fields of env (then _G), or of the table a dotted
-- prefix names ("session.st" -> session's methods and fields).
local function completer(env)
  return function(word)
    local base, sep, prefix = word:match("^(.*)([%.:])([%w_]*)$")
    local t
    if base then
      local ok, v = pcall(load("return " .. base, "=complete", "t", env))
      if not ok then return {} end
      t = v
    else
      prefix, t = word, nil
    end
    local seen, list = {}, {}
    local function add_keys(tbl, depth)
      if depth > 4 then return end
      if type(tbl) == "table" then
        for k in pairs(tbl) do
          if type(k) == "string" and k:match("^[%a_][%w_]*$") and k:sub(1, #prefix) == prefix and not seen[k] then
            seen[k] = true
            list[#list + 1] = (base and (base .. sep) or "") .. k
          end
        end
      end
      local mt = getmetatable(tbl)
      if type(mt) == "table" and type(mt.__index) == "table" then add_keys(mt.__index, depth + 1) end
    end
    if base then add_keys(t, 0) else add_keys(env, 0); add_keys(_G, 0) end
    table.sort(list)
    return list
  end
end

--- Starts a REPL on standard input. opts:
--   env      the table names are looked up in (then _G)
--   on_eof   called when standard input ends (Ctrl-D)
--   prompt   (default "rtpmidi> ")
--   history_file  where the history is kept (default $RTPMIDI_HISTORY, or
--                 ~/.rtpmidi_history; false: not kept)
-- On a terminal, lines are edited in place (see the line editor above) and
-- output never breaks the line being typed; from a pipe, lines are read as
-- they come. An error prints in one line, without a traceback.
-- Returns the REPL (with :close()), or nil, err.
function M.repl(opts)
  opts = opts or {}
  local prompt = opts.prompt or "rtpmidi> "
  local repl = { buffer = nil, pending = "" }
  local env = setmetatable({}, { __index = function(_, k)
    local e = opts.env
    if e then
      local v = e[k]
      if v ~= nil then return v end
    end
    return _G[k]
  end })
  env.print = function(...)
    local n = select("#", ...)
    local parts = {}
    for i = 1, n do parts[i] = tostring((select(i, ...))) end
    write(table.concat(parts, "\t") .. "\n")
  end

  -- the message alone: where it happened, not the whole stack
  local function message_only(e)
    if type(e) == "string" then return e end
    local mt = getmetatable(e)
    if mt and mt.__tostring then return tostring(e) end
    return ("(error object is a %s value)"):format(type(e))
  end

  local function eval(source)
    local chunk, err = load("return " .. source, "=stdin", "t", env)
    if not chunk then chunk, err = load(source, "=stdin", "t", env) end
    if not chunk then
      if err:match("<eof>$") then return "more" end
      write(err .. "\n")
      return
    end
    local res = table.pack(xpcall(chunk, message_only))
    if not res[1] then
      write(tostring(res[2]) .. "\n")
      return
    end
    if res.n > 1 then
      local parts = {}
      for i = 2, res.n do parts[#parts + 1] = show(res[i]) end
      write(table.concat(parts, "\t") .. "\n")
    end
  end

  local function line(text)
    local source = repl.buffer and (repl.buffer .. "\n" .. text) or text
    if source:match("^%s*$") then repl.buffer = nil; return end
    if eval(source) == "more" then
      repl.buffer = source
      return "more"
    end
    repl.buffer = nil
  end

  local keys = core.isatty(0) and core.isatty(1)
  local editor
  local function eof()
    if repl.pending ~= "" then line(repl.pending) end
    repl.pending = ""
    repl:close()
    if opts.on_eof then opts.on_eof() end
  end
  if keys then
    M.hook_output()
    local history_file = opts.history_file
    if history_file == nil then
      history_file = os.getenv("RTPMIDI_HISTORY")
      if not history_file and os.getenv("HOME") then history_file = os.getenv("HOME") .. "/.rtpmidi_history" end
    end
    editor = Editor.new{ prompt = prompt, history_file = history_file or nil, complete = completer(env),
      on_line = function(text)
        editor.prompt = line(text) == "more" and ">> " or prompt
      end,
      on_eof = function() tty_write("\n") eof() end }
  end

  local handle, err = core.stdin(function(data)
    if data == nil then
      if editor then editor:close() end
      eof()
      return
    end
    if editor then editor:feed(data) return end
    local text = repl.pending .. data
    for l in text:gmatch("([^\n]*)\n") do
      if line((l:gsub("\r$", ""))) == "more" then
        write(">> ")
      end
      if repl.closed then return end
      if not repl.buffer then write(prompt) end
    end
    repl.pending = text:match("([^\n]*)$")
  end, keys)
  if not handle then return nil, err end
  repl.handle = handle
  repl.editor = editor
  function repl:close()
    if self.closed then return end
    self.closed = true
    if editor then editor:close() end
    self.handle:close()
  end
  if editor then
    hooked.editor = editor
    editor:render()
  else
    write(prompt)
  end
  return repl
end

--- A status line: fn() returns the text; redrawn every interval_ms (1000)
-- at the bottom of the terminal (a scroll region keeps the rest of the
-- output above it), or on the current line when the size is unknown. It
-- follows the terminal's size (SIGWINCH, and a look at each refresh).
-- Returns an object with :refresh() and :close().
function M.status_line(fn, interval_ms)
  local line = { closed = false }
  local cols, rows
  -- room for the line at the bottom, and the scroll region above it (a
  -- terminal resets the region when it is resized)
  local function place()
    local again = rows ~= nil
    cols, rows = core.tty_size(1)
    -- after a resize the old line is somewhere below the cursor (where the
    -- terminal's reflow put it): clear everything below the cursor
    if again then tty_write("\0277\27[J\0278") end
    if rows and rows > 2 then
      tty_write(("\n\27[1A\0277\27[1;%dr\0278"):format(rows - 1))
    end
  end
  place()
  local function resized()
    local c, r = core.tty_size(1)
    if c == cols and r == rows then return false end
    place()
    if hooked.editor then hooked.editor:render() end
    return true
  end
  function line:refresh()
    if self.closed then return end
    resized()
    local ok, text = pcall(fn)
    if not ok then text = "status: " .. tostring(text) end
    text = tostring(text)
    if cols and #text > cols - 1 then text = text:sub(1, cols - 1) end
    if rows and rows > 2 then
      tty_write(("\0277\27[%d;1H\27[2K%s\0278"):format(rows, text))
    else
      tty_write("\r\27[K" .. text)
    end
  end
  line.timer = rtpmidi.every(interval_ms or 1000, function() line:refresh() end)
  local ok, winch = pcall(core.signal, "SIGWINCH", function() line:refresh() end)
  line.winch = ok and winch or nil
  function line:close()
    if self.closed then return end
    self.closed = true
    self.timer:cancel()
    if self.winch then self.winch:cancel() end
    if rows and rows > 2 then
      tty_write(("\0277\27[r\27[%d;1H\27[2K\0278"):format(rows))
    else
      tty_write("\r\27[K")
    end
  end
  line:refresh()
  return line
end

return M
