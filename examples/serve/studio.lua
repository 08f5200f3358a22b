-- A configuration for `rtpmidi serve` (see `rtpmidi help serve`): the
-- session "studio" on port 5004, a keyboard and a synth on JACK, a Mac
-- invited by its address and a MacBook found by the name it advertises.
--
--   rtpmidi serve examples/serve/studio.lua
--   rtpmidi status
return {
  name = "studio",
  port = 5004,
  peers = {
    "10.0.0.2:5004",
    { name = "Bob's MacBook" },
  },
  api = "jack",
  input = "keyboard",
  output = "synth",
  latency = 20,
  reconnect = 5,
}
