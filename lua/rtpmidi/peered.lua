--- What the session classes over a core object with peers share
-- (AppleMidiSession, Midi2Session): whether started, the ENOTCONN answer,
-- and the methods that only read the core (stats, port, discovery). The C
-- side of the same split is csrc/lua/lpeered.c.
local core = require "rtpmidi.core"
local options = require "rtpmidi.options"

local P = {}

function P.bad(name, msg)
  options.raise(("bad argument '%s' (%s)"):format(name, msg))
end

function P.started(self)
  return self._core ~= nil and self._core:started()
end

function P.not_started()
  return nil, "ENOTCONN: session is not started", "ENOTCONN"
end

--- Adds the read-only methods to Class.
function P.install(Class)
  function Class:stats() return self._core and self._core:stats() or {} end
  --- The (control) port once started, 0 before.
  function Class:local_port() return P.started(self) and self._core:local_port() or 0 end
  function Class:is_started() return P.started(self) end
  --- What mDNS found (Avahi, on a thread of its own); {} while stopped.
  function Class:discovered()
    if not P.started(self) then return {} end
    return self._core:discovered()
  end
  --- Whether mDNS/DNS-SD discovery (Avahi) was compiled in.
  function Class.discovery_available() return core.applemidi_discovery() end
end

return P
