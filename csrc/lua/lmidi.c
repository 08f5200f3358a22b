/* rtpmidi.core MIDI ports: RtMidi inputs and outputs as userdata. An input's
 * owner (a MidiIn object) receives on_message(bytes, time) from the loop. */
#include "lbind.h"

#include <math.h>
#include <string.h>

#define MIDI_IN_MT "rtpmidi.MidiInPort"
#define MIDI_OUT_MT "rtpmidi.MidiOutPort"

typedef struct rml_midi_in {
  rtpmidi_midi_in *in;      /* NULL once closed */
  rml_state *st;
  int owner_ref;
} rml_midi_in;

typedef struct rml_midi_out {
  rtpmidi_midi_out *o;      /* NULL once closed */
} rml_midi_out;

/* ---- options ---- */

/* api, client, port (name or index), virtual, port_name */
static void port_config(lua_State *L, int t, rtpmidi_midi_port_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->index = -1;
  cfg->api = rml_opt_str(L, t, "api");
  cfg->client_name = rml_opt_str(L, t, "client");
  cfg->virtual_name = rml_opt_str(L, t, "virtual");
  cfg->port_name = rml_opt_str(L, t, "port_name");
  int ty = lua_getfield(L, t, "port");
  if (ty == LUA_TSTRING) {
    cfg->port = lua_tostring(L, -1);
  } else if (ty == LUA_TNUMBER) {
    int isint;
    lua_Integer i = lua_tointegerx(L, -1, &isint);
    if (!isint || i < 0 || i > 0x7fffffff)
      rml_arg_error(L, "port", lua_pushfstring(L, "port index >= 0 expected, got %s", lua_tostring(L, -1)));
    cfg->index = (int)i;
  } else if (ty != LUA_TNIL) {
    rml_arg_error(L, "port", lua_pushfstring(L, "port name or index expected, got %s", luaL_typename(L, -1)));
  }
  lua_pop(L, 1);
  /* The C side takes index 0 beside a virtual name for a zeroed field. */
  if (cfg->virtual_name && ty != LUA_TNIL) rml_arg_error(L, "virtual", "give either port or virtual, not both");
}

static int open_failed(lua_State *L, int r, const rtpmidi_error *e) {
  if (r == UV_EINVAL && e->field) return rml_arg_error(L, e->field, e->message);
  lua_pushnil(L);
  lua_pushstring(L, e->message);
  lua_pushstring(L, uv_err_name(r));
  return 3;
}

/* ---- module functions ---- */

static int l_midi_available(lua_State *L) {
  lua_pushboolean(L, rtpmidi_midi_available());
  return 1;
}

static int l_midi_apis(lua_State *L) {
  const char *names[16];
  int n = rtpmidi_midi_apis(names, 16);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n && i < 16; i++) {
    lua_pushstring(L, names[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static void add_port(void *ud, int index, const char *name) {
  lua_State *L = ud;
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, index);
  lua_setfield(L, -2, "index");
  lua_pushstring(L, name);
  lua_setfield(L, -2, "name");
  lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
}

/* midi_ports("in" | "out", api) -> { {index=, name=}, ... } | nil, err, code */
static int l_midi_ports(lua_State *L) {
  static const char *const kinds[] = {"in", "out", NULL};
  int kind = luaL_checkoption(L, 1, NULL, kinds);
  const char *api = NULL;
  if (!lua_isnoneornil(L, 2)) {
    if (lua_type(L, 2) != LUA_TSTRING)
      return rml_arg_error(L, "api", lua_pushfstring(L, "string expected, got %s", luaL_typename(L, 2)));
    api = lua_tostring(L, 2);
  }
  rtpmidi_error e;
  lua_newtable(L);
  int r = kind == 0 ? rtpmidi_midi_in_ports(api, add_port, L, &e) : rtpmidi_midi_out_ports(api, add_port, L, &e);
  if (r < 0) return open_failed(L, r, &e);
  return 1;
}

static int l_jack_one_client(lua_State *L) {
  lua_pushboolean(L, rtpmidi_midi_jack_one_client());
  return 1;
}

static int l_set_jack_server(lua_State *L) {
  rtpmidi_midi_set_jack_server(luaL_optstring(L, 1, NULL));
  return 0;
}

/* ---- input ---- */

static void on_message(void *ud, const uint8_t *msg, size_t len, double time_ms) {
  rml_midi_in *mi = ud;
  lua_State *L = mi->st->L;
  if (mi->owner_ref == LUA_NOREF) return;
  lua_rawgeti(L, LUA_REGISTRYINDEX, mi->owner_ref);
  if (lua_getfield(L, -1, "on_message") != LUA_TFUNCTION) {
    lua_pop(L, 2);
    return;
  }
  lua_insert(L, -2);
  lua_pushlstring(L, (const char *)msg, len);
  lua_pushnumber(L, time_ms);
  rml_call(mi->st, 3);
}

static int raise_message(lua_State *L) { return lua_error(L); }

/* The port stopped working (the JACK server went away): owner:on_error(message,
 * code) when defined, else the message goes to rtpmidi.on_error like any
 * callback error. */
static void on_error(void *ud, int code, const char *message) {
  rml_midi_in *mi = ud;
  lua_State *L = mi->st->L;
  if (mi->owner_ref == LUA_NOREF) return;
  lua_rawgeti(L, LUA_REGISTRYINDEX, mi->owner_ref);
  if (lua_getfield(L, -1, "on_error") == LUA_TFUNCTION) {
    lua_insert(L, -2);
    lua_pushstring(L, message);
    lua_pushinteger(L, code);
    rml_call(mi->st, 3);
    return;
  }
  lua_pop(L, 2);
  lua_pushcfunction(L, raise_message);
  lua_pushfstring(L, "MIDI input: %s", message);
  rml_call(mi->st, 1);
}

static void in_close(lua_State *L, rml_midi_in *mi) {
  if (mi->in) {
    rtpmidi_midi_in_close(mi->in);
    mi->in = NULL;
  }
  luaL_unref(L, LUA_REGISTRYINDEX, mi->owner_ref);
  mi->owner_ref = LUA_NOREF;
}

/* A build without RtMidi has no ports: making one is a mistake of the
 * program, not a condition of the moment (listing them returns nil, err). */
static void need_rtmidi(lua_State *L) {
  if (!rtpmidi_midi_available())
    luaL_error(L, "rtpmidi was built without RtMidi: MIDI ports are unavailable");
}

/* midi_in(cfg, owner) -> port | nil, err, code */
static int l_midi_in(lua_State *L) {
  need_rtmidi(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  rml_state *st = rml_get_state(L);
  rtpmidi_midi_in_config cfg;
  memset(&cfg, 0, sizeof cfg);
  port_config(L, 1, &cfg.port);
  /* missing options stay 0/false; rtpmidi.options gives sysex and clock true */
  cfg.sysex = rml_opt_bool(L, 1, "sysex", false);
  cfg.clock = rml_opt_bool(L, 1, "clock", false);
  cfg.active_sensing = rml_opt_bool(L, 1, "active_sensing", false);
  double q = rml_opt_num(L, 1, "queue_size", 0);
  if (!(q >= 0 && q <= 1 << 30)) return rml_arg_error(L, "queue_size", "bytes 0..2^30 expected");
  cfg.queue_bytes = (size_t)q;
  rml_midi_in *mi = lua_newuserdatauv(L, sizeof *mi, 0);
  memset(mi, 0, sizeof *mi);
  mi->st = st;
  mi->owner_ref = LUA_NOREF;
  luaL_setmetatable(L, MIDI_IN_MT);
  rtpmidi_midi_in_events ev = {on_message, on_error};
  rtpmidi_error e;
  int r = rtpmidi_midi_in_open(st->rt, &cfg, &ev, mi, &mi->in, &e);
  if (r) return open_failed(L, r, &e);
  lua_pushvalue(L, 2);
  mi->owner_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 1;
}

static rml_midi_in *check_in(lua_State *L) {
  rml_midi_in *mi = luaL_checkudata(L, 1, MIDI_IN_MT);
  if (!mi->in) luaL_error(L, "MIDI input port is closed");
  return mi;
}

static int in_l_close(lua_State *L) {
  in_close(L, luaL_checkudata(L, 1, MIDI_IN_MT));
  return 0;
}

static int in_l_is_open(lua_State *L) {
  lua_pushboolean(L, ((rml_midi_in *)luaL_checkudata(L, 1, MIDI_IN_MT))->in != NULL);
  return 1;
}

static int in_l_api(lua_State *L) {
  lua_pushstring(L, rtpmidi_midi_in_api(check_in(L)->in));
  return 1;
}

static int in_l_port_name(lua_State *L) {
  lua_pushstring(L, rtpmidi_midi_in_port_name(check_in(L)->in));
  return 1;
}

static int in_l_stats(lua_State *L) {
  rtpmidi_midi_in_stats s;
  rtpmidi_midi_in_get_stats(check_in(L)->in, &s);
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, (lua_Integer)s.received);
  lua_setfield(L, -2, "received");
  lua_pushinteger(L, (lua_Integer)s.dropped);
  lua_setfield(L, -2, "dropped");
  return 1;
}

static int in_l_gc(lua_State *L) {
  in_close(L, luaL_checkudata(L, 1, MIDI_IN_MT));
  return 0;
}

/* ---- output ---- */

/* midi_out(cfg) -> port | nil, err, code */
static int l_midi_out(lua_State *L) {
  need_rtmidi(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  rtpmidi_midi_out_config cfg;
  memset(&cfg, 0, sizeof cfg);
  port_config(L, 1, &cfg.port);
  cfg.latency_ms = rml_opt_num(L, 1, "latency", 0);
  if (!(cfg.latency_ms >= 0 && cfg.latency_ms < 1e9))
    return rml_arg_error(L, "latency", "milliseconds >= 0 expected");
  double mp = rml_opt_num(L, 1, "max_pending", 0);
  if (!(mp >= 0 && mp <= 1e8)) return rml_arg_error(L, "max_pending", "a count >= 0 expected");
  cfg.max_pending = (size_t)mp;
  cfg.rt_priority = rml_opt_bool(L, 1, "realtime", false) ? 5 : 0; /* rtpmidi.options: true */
  rml_midi_out *mo = lua_newuserdatauv(L, sizeof *mo, 0);
  memset(mo, 0, sizeof *mo);
  luaL_setmetatable(L, MIDI_OUT_MT);
  rtpmidi_error e;
  int r = rtpmidi_midi_out_open(&cfg, &mo->o, &e);
  if (r) return open_failed(L, r, &e);
  return 1;
}

static rml_midi_out *check_out(lua_State *L) {
  rml_midi_out *mo = luaL_checkudata(L, 1, MIDI_OUT_MT);
  if (!mo->o) luaL_error(L, "MIDI output port is closed");
  return mo;
}

/* send(bytes[, time]) -> true | nil, err, code */
static int out_l_send(lua_State *L) {
  rml_midi_out *mo = check_out(L);
  if (lua_type(L, 2) != LUA_TSTRING)
    return rml_arg_error(L, "bytes", lua_pushfstring(L, "string of MIDI bytes expected, got %s", luaL_typename(L, 2)));
  size_t len;
  const uint8_t *b = (const uint8_t *)lua_tolstring(L, 2, &len);
  rtpmidi_error e;
  if (rtpmidi_midi_check_bytes(b, len, &e))
    return rml_arg_error(L, "bytes", lua_pushfstring(L, "complete MIDI messages expected: %s", e.message));
  int r;
  if (lua_isnoneornil(L, 3)) {
    r = rtpmidi_midi_out_send(mo->o, b, len);
  } else {
    if (lua_type(L, 3) != LUA_TNUMBER)
      return rml_arg_error(L, "time", lua_pushfstring(L, "milliseconds (rtpmidi.now() clock) expected, got %s", luaL_typename(L, 3)));
    double t = lua_tonumber(L, 3);
    if (!isfinite(t)) return rml_arg_error(L, "time", "a finite number expected");
    r = rtpmidi_midi_out_send_at(mo->o, b, len, t);
  }
  if (r) return rml_push_uv_error(L, r);
  lua_pushboolean(L, 1);
  return 1;
}

static int out_l_all_notes_off(lua_State *L) {
  lua_pushinteger(L, rtpmidi_midi_out_all_notes_off(check_out(L)->o));
  return 1;
}

static int out_l_set_latency(lua_State *L) {
  rml_midi_out *mo = check_out(L);
  if (lua_type(L, 2) != LUA_TNUMBER || !(lua_tonumber(L, 2) >= 0) || !(lua_tonumber(L, 2) < 1e9))
    return rml_arg_error(L, "latency", "milliseconds >= 0 expected");
  rtpmidi_midi_out_set_latency(mo->o, lua_tonumber(L, 2));
  return 0;
}

static int out_l_latency(lua_State *L) {
  lua_pushnumber(L, rtpmidi_midi_out_latency(check_out(L)->o));
  return 1;
}

static int out_l_cancel_pending(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)rtpmidi_midi_out_cancel_pending(check_out(L)->o));
  return 1;
}

static int out_l_pending(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)rtpmidi_midi_out_pending(check_out(L)->o));
  return 1;
}

static int out_l_stats(lua_State *L) {
  rtpmidi_midi_out_stats s;
  rtpmidi_midi_out_get_stats(check_out(L)->o, &s);
  lua_createtable(L, 0, 8);
  lua_pushinteger(L, (lua_Integer)s.sent);
  lua_setfield(L, -2, "sent");
  lua_pushinteger(L, (lua_Integer)s.scheduled);
  lua_setfield(L, -2, "scheduled");
  lua_pushinteger(L, (lua_Integer)s.played);
  lua_setfield(L, -2, "played");
  lua_pushinteger(L, (lua_Integer)s.late);
  lua_setfield(L, -2, "late");
  lua_pushinteger(L, (lua_Integer)s.cancelled);
  lua_setfield(L, -2, "cancelled");
  lua_pushinteger(L, (lua_Integer)s.errors);
  lua_setfield(L, -2, "errors");
  lua_pushnumber(L, s.max_late_ms);
  lua_setfield(L, -2, "max_late_ms");
  lua_pushnumber(L, s.played ? s.total_late_ms / (double)s.played : 0);
  lua_setfield(L, -2, "mean_late_ms");
  return 1;
}

static int out_l_api(lua_State *L) {
  lua_pushstring(L, rtpmidi_midi_out_api(check_out(L)->o));
  return 1;
}

static int out_l_port_name(lua_State *L) {
  lua_pushstring(L, rtpmidi_midi_out_port_name(check_out(L)->o));
  return 1;
}

static int out_l_is_open(lua_State *L) {
  lua_pushboolean(L, ((rml_midi_out *)luaL_checkudata(L, 1, MIDI_OUT_MT))->o != NULL);
  return 1;
}

static int out_l_close(lua_State *L) {
  rml_midi_out *mo = luaL_checkudata(L, 1, MIDI_OUT_MT);
  if (mo->o) {
    rtpmidi_midi_out_close(mo->o);
    mo->o = NULL;
  }
  return 0;
}

static const luaL_Reg in_methods[] = {
  {"close", in_l_close},
  {"is_open", in_l_is_open},
  {"api", in_l_api},
  {"port_name", in_l_port_name},
  {"stats", in_l_stats},
  {NULL, NULL},
};

static const luaL_Reg out_methods[] = {
  {"send", out_l_send},
  {"all_notes_off", out_l_all_notes_off},
  {"set_latency", out_l_set_latency},
  {"latency", out_l_latency},
  {"cancel_pending", out_l_cancel_pending},
  {"pending", out_l_pending},
  {"stats", out_l_stats},
  {"api", out_l_api},
  {"port_name", out_l_port_name},
  {"is_open", out_l_is_open},
  {"close", out_l_close},
  {NULL, NULL},
};

static const luaL_Reg functions[] = {
  {"midi_available", l_midi_available},
  {"midi_apis", l_midi_apis},
  {"midi_ports", l_midi_ports},
  {"midi_in", l_midi_in},
  {"midi_out", l_midi_out},
  {"midi_set_jack_server", l_set_jack_server},
  {"midi_jack_one_client", l_jack_one_client},
  {NULL, NULL},
};

void rml_open_midi(lua_State *L) {
  if (luaL_newmetatable(L, MIDI_IN_MT)) {
    luaL_newlib(L, in_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, in_l_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, MIDI_OUT_MT)) {
    luaL_newlib(L, out_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, out_l_close);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  luaL_setfuncs(L, functions, 0);
}
