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

--- Starts a REPL on standard input. opts:
--   env      the table names are looked up in (then _G)
--   on_eof   called when standard input ends (Ctrl-D)
--   prompt   (default "rtpmidi> ")
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

  local function eval(source)
    local chunk, err = load("return " .. source, "=stdin", "t", env)
    if not chunk then chunk, err = load(source, "=stdin", "t", env) end
    if not chunk then
      if err:match("<eof>$") then return "more" end
      write(err .. "\n")
      return
    end
    local res = table.pack(xpcall(chunk, debug.traceback))
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
      write(">> ")
      return
    end
    repl.buffer = nil
  end

  local handle, err = core.stdin(function(data)
    if data == nil then
      if repl.pending ~= "" then line(repl.pending) end
      repl.pending = ""
      repl:close()
      if opts.on_eof then opts.on_eof() end
      return
    end
    local text = repl.pending .. data
    for l in text:gmatch("([^\n]*)\n") do
      line((l:gsub("\r$", "")))
      if repl.closed then return end
      if not repl.buffer then write(prompt) end
    end
    repl.pending = text:match("([^\n]*)$")
  end)
  if not handle then return nil, err end
  repl.handle = handle
  function repl:close()
    if self.closed then return end
    self.closed = true
    self.handle:close()
  end
  write(prompt)
  return repl
end

--- A status line: fn() returns the text; redrawn every interval_ms (1000)
-- at the bottom of the terminal (a scroll region keeps the rest of the
-- output above it), or on the current line when the size is unknown.
-- Returns an object with :refresh() and :close().
function M.status_line(fn, interval_ms)
  local cols, rows = core.tty_size(1)
  local line = { closed = false }
  if rows and rows > 2 then
    -- room for the line, then a scroll region above it
    write(("\n\27[1A\0277\27[1;%dr\0278"):format(rows - 1))
  end
  function line:refresh()
    if self.closed then return end
    local ok, text = pcall(fn)
    if not ok then text = "status: " .. tostring(text) end
    text = tostring(text)
    if cols and #text > cols - 1 then text = text:sub(1, cols - 1) end
    if rows and rows > 2 then
      write(("\0277\27[%d;1H\27[2K%s\0278"):format(rows, text))
    else
      write("\r\27[K" .. text)
    end
  end
  line.timer = rtpmidi.every(interval_ms or 1000, function() line:refresh() end)
  function line:close()
    if self.closed then return end
    self.closed = true
    self.timer:cancel()
    if rows and rows > 2 then
      write(("\0277\27[r\27[%d;1H\27[2K\0278"):format(rows))
    else
      write("\r\27[K")
    end
  end
  line:refresh()
  return line
end

return M
