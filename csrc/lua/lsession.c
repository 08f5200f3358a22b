/* rtpmidi.core.session: an RTP session as a userdata. The Lua object that owns
 * it (an RTPSession) receives the callbacks as methods. */
#include "lsession.h"

#include <limits.h>
#include <stdbool.h>
#include <string.h>

#define SESSION_MT "rtpmidi.Session"

static const char SESSION_TAG = 's'; /* rml_self_tagged */

static rml_session *to_session(lua_State *L) { return rml_self_tagged(L, &SESSION_TAG, SESSION_MT); }
static rml_session *check_session(lua_State *L) { return rml_session_check(L, &SESSION_TAG, SESSION_MT); }

static void on_rtp(void *ud, uint32_t ts, const uint8_t *payload, size_t len, bool recovery,
                   bool marker) {
  (void)marker;
  rml_session *ls = ud;
  if (!rml_push_method(ls->st, ls->owner_ref, "incoming_rtp")) return;
  lua_State *L = ls->st->L;
  lua_pushinteger(L, ls->cookie);
  lua_pushinteger(L, ts);
  lua_pushlstring(L, (const char *)payload, len);
  lua_pushboolean(L, recovery);
  rml_call(ls->st, 5);
}

static void on_drop(void *ud, const char *reason, const char *detail) {
  rml_session *ls = ud;
  if (!rml_push_method(ls->st, ls->owner_ref, "drop_call")) return;
  lua_State *L = ls->st->L;
  lua_pushinteger(L, ls->cookie);
  lua_pushstring(L, reason);
  lua_pushstring(L, detail);
  rml_call(ls->st, 4);
}

/* An integer option for an int field: a value an int cannot hold becomes
 * one the C core refuses (INT_MIN / INT_MAX) instead of wrapping into range. */
static int opt_int_sat(lua_State *L, int t, const char *k, lua_Integer def) {
  lua_Integer v = rml_opt_int(L, t, k, def);
  return v < INT_MIN ? INT_MIN : v > INT_MAX ? INT_MAX : (int)v;
}

/* The same for an unsigned field: negative or too large becomes UINT_MAX. */
unsigned rml_opt_uint_sat(lua_State *L, int t, const char *k) {
  lua_Integer v = rml_opt_int(L, t, k, 0);
  return v < 0 || (lua_Unsigned)v > UINT_MAX ? UINT_MAX : (unsigned)v;
}

/* Reads the RTP options of a session from the table at idx (shared by every
 * kind of session) into the C config; a missing option leaves its field 0
 * (or -1 for the payload type): the C core's default. The checks are the C
 * core's (rtpmidi_session_new), but for what the C fields cannot hold.
 * Strings stay alive in that table. */
void rml_read_session_config(lua_State *L, int idx, rtpmidi_session_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->peer_address = rml_opt_str(L, idx, "peer_address");
  cfg->sending_port = opt_int_sat(L, idx, "sending_port", 0);
  cfg->receiving_port = opt_int_sat(L, idx, "receiving_port", 0);
  cfg->payload_type = opt_int_sat(L, idx, "payload", -1);
  cfg->jitter_buffer_ms = rml_opt_num(L, idx, "jitter_buffer_size", 0);
  cfg->tool_name = rml_opt_str(L, idx, "tool_name");
  cfg->bind_address = rml_opt_str(L, idx, "bind_address");
  lua_Integer rate = rml_opt_int(L, idx, "clock_rate", 0);
  if (rate < 0 || rate > UINT32_MAX) rml_arg_error(L, "clock_rate", "units per second 1..4294967295 expected");
  cfg->clock_rate = (uint32_t)rate;
  cfg->rtcp_interval = rml_opt_num(L, idx, "rtcp_interval", 0);
  cfg->timeout = rml_opt_num(L, idx, "timeout", 0);
  lua_getfield(L, idx, "accept_any_source");
  cfg->accept_any_source = lua_toboolean(L, -1);
  lua_pop(L, 1);
  cfg->jitter_buffer_packets = rml_opt_uint_sat(L, idx, "jitter_buffer_packets");
  /* the C config holds a flag and a 16-bit number */
  lua_Integer seq = rml_opt_int(L, idx, "start_sequence", -1);
  if (seq < -1 || seq > 65535) rml_arg_error(L, "start_sequence", "integer 0..65535 expected");
  cfg->fixed_start_sequence = seq >= 0;
  cfg->start_sequence = (uint16_t)(seq >= 0 ? seq : 0);
  cfg->cname = rml_opt_str(L, idx, "cname");
}

static void free_session(void *s) { rtpmidi_session_free(s); }

/* session{ peer_address=, sending_port=, receiving_port=, payload=,
 *          jitter_buffer_size=, tool_name=, bind_address=, clock_rate= } */
static int l_session(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  rml_state *st = rml_get_state(L);
  rtpmidi_session_config cfg;
  rml_read_session_config(L, 1, &cfg);
  rml_session *ls = rml_session_push(L, st, &SESSION_TAG, SESSION_MT, free_session);
  rtpmidi_session_events ev = {.on_rtp = on_rtp, .on_drop = on_drop};
  rtpmidi_error e;
  int r = rtpmidi_session_new(st->rt, &cfg, &ev, ls, &ls->s, &e);
  ls->core = ls->s;
  return rml_new_result(L, r, &e);
}

/* ---- what every binding of an rml_session does (lsession.h) ---- */

rml_session *rml_session_push(lua_State *L, rml_state *st, const void *tag, const char *tname,
                              void (*free_core)(void *core)) {
  rml_session *ls = lua_newuserdatauv(L, sizeof *ls, 0);
  memset(ls, 0, sizeof *ls);
  ls->tag = tag;
  ls->free = free_core;
  ls->st = st;
  ls->owner_ref = LUA_NOREF;
  luaL_setmetatable(L, tname);
  return ls;
}

rml_session *rml_session_check(lua_State *L, const void *tag, const char *tname) {
  rml_session *ls = rml_self_tagged(L, tag, tname);
  if (!ls->core) luaL_error(L, "session is closed");
  return ls;
}

int rml_session_start(lua_State *L, rml_session *ls) {
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_Integer cookie = luaL_checkinteger(L, 3);
  if (ls->stopping) return rml_push_stopping(L);
  ls->cookie = cookie;
  int r = rtpmidi_session_start(ls->s);
  if (r) return rml_push_uv_error(L, r);
  rml_hold_owner(L, &ls->owner_ref, 2);
  lua_pushboolean(L, 1);
  return 1;
}

/* index 1 keeps the userdata alive through the callbacks */
int rml_session_stop(lua_State *L, rml_session *ls) {
  if (ls->s) {
    ls->stopping++;
    rtpmidi_session_stop(ls->s);  /* delivers what the jitter buffer holds */
    ls->stopping--;
  }
  rml_release_owner(L, &ls->owner_ref);
  return 0;
}

int rml_session_gc(rml_session *ls) {
  if (ls->core) {
    ls->free(ls->core);
    ls->core = NULL;
    ls->s = NULL;
  }
  return 0;
}

int rml_session_close(lua_State *L, rml_session *ls) {
  rml_session_gc(ls);
  rml_release_owner(L, &ls->owner_ref);
  return 0;
}

int rml_session_started(lua_State *L, rml_session *ls) {
  lua_pushboolean(L, ls->s && !ls->stopping && rtpmidi_session_started(ls->s));
  return 1;
}

int rml_session_media_time(lua_State *L, rml_session *ls) {
  lua_pushinteger(L, rtpmidi_session_media_time(ls->s));
  return 1;
}

int rml_session_local_port(lua_State *L, rml_session *ls) {
  lua_pushinteger(L, rtpmidi_session_local_port(ls->s));
  return 1;
}

/* ---- RTPSession's methods ---- */

static int l_start(lua_State *L) { return rml_session_start(L, check_session(L)); }
static int l_stop(lua_State *L) { return rml_session_stop(L, to_session(L)); }
static int l_close(lua_State *L) { return rml_session_close(L, to_session(L)); }
static int l_started(lua_State *L) { return rml_session_started(L, to_session(L)); }
static int l_media_time(lua_State *L) { return rml_session_media_time(L, check_session(L)); }
static int l_local_port(lua_State *L) { return rml_session_local_port(L, check_session(L)); }

int rml_session_send(lua_State *L, rtpmidi_session *s) {
  size_t n;
  const char *data = luaL_checklstring(L, 2, &n);
  uint32_t ts;
  if (lua_isnoneornil(L, 3)) ts = rtpmidi_session_media_time(s);
  else ts = (uint32_t)luaL_checkinteger(L, 3);
  return rml_push_result(L, rtpmidi_session_send(s, (const uint8_t *)data, n, ts, lua_toboolean(L, 4)), NULL);
}

/* s:send(data, timestamp|nil, marker) -> true | nil, err, code */
static int l_send(lua_State *L) { return rml_session_send(L, check_session(L)->s); }

/* RTPSession:send_data(data, timestamp|nil, marker) -> true | nil, err, code:
 * the facade's method itself (lua/rtpmidi/session.lua), one C call a packet
 * where a Lua method called type(), math.type(), started() and send().
 * self is the Lua object, its field _core the session (upvalue 1 holds the
 * key "_core"). The arguments are checked first, as the facade did: data a
 * string, the timestamp nil or an integer, else a raise naming it at the
 * caller's line; then a session not started (or stopping, or with no core)
 * answers nil, "ENOTCONN: session is not started", "ENOTCONN". A subclass
 * whose _core is another kind of object (it sends through its own
 * started() and send()) is served the same way, through those methods. */
static int l_send_data(lua_State *L) {
  size_t n;
  const char *data = lua_type(L, 2) == LUA_TSTRING ? lua_tolstring(L, 2, &n) : NULL;
  if (!data) return rml_arg_error(L, "data", lua_pushfstring(L, "string expected, got %s", luaL_typename(L, 2)));
  bool now = lua_isnoneornil(L, 3);
  if (!now && !lua_isinteger(L, 3))
    return rml_arg_error(L, "timestamp", lua_pushfstring(L, "integer expected, got %s", luaL_tolstring(L, 3, NULL)));
  uint32_t ts = now ? 0 : (uint32_t)lua_tointeger(L, 3);
  bool marker = lua_toboolean(L, 4);
  /* self._core: the instance's own field (a raw get, no metamethod), else
   * as the facade read it (through the class) */
  int top = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  if (lua_type(L, 1) != LUA_TTABLE || lua_rawget(L, 1) == LUA_TNIL) {
    lua_settop(L, top);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_gettable(L, 1);
  }
  rml_session *ls = lua_touserdata(L, -1); /* NULL: not a userdata */
  if (ls && lua_rawlen(L, -1) >= sizeof(rml_session) && ls->tag == &SESSION_TAG) {
    if (!ls->s || ls->stopping || !rtpmidi_session_started(ls->s)) goto notconn;
    if (now) ts = rtpmidi_session_media_time(ls->s);
    return rml_push_result(L, rtpmidi_session_send(ls->s, (const uint8_t *)data, n, ts, marker), NULL);
  }
  /* the rare ways: no core, or another kind (c:started(), c:send(...)) */
  if (!lua_toboolean(L, -1)) goto notconn;
  int c = lua_gettop(L);
  lua_getfield(L, c, "started");
  lua_pushvalue(L, c);
  lua_call(L, 1, 1);
  if (!lua_toboolean(L, -1)) goto notconn;
  lua_settop(L, c);
  int base = lua_gettop(L);
  lua_getfield(L, c, "send");
  lua_pushvalue(L, c);
  lua_pushvalue(L, 2);
  if (top >= 3) lua_pushvalue(L, 3); else lua_pushnil(L);
  if (top >= 4) lua_pushvalue(L, 4); else lua_pushnil(L);
  lua_call(L, 4, LUA_MULTRET);
  return lua_gettop(L) - base;
notconn:
  lua_pushnil(L);
  lua_pushliteral(L, "ENOTCONN: session is not started");
  lua_pushliteral(L, "ENOTCONN");
  return 3;
}

#define SET_COUNTER(name) (lua_pushinteger(L, (lua_Integer)st.name), lua_setfield(L, -2, #name))

/* Pushes a table with the session's counters (shared by every kind of session). */
void rml_push_session_stats(lua_State *L, const rtpmidi_session *s) {
  rtpmidi_session_stats st;
  rtpmidi_session_get_stats(s, &st);
  lua_createtable(L, 0, 30);
  SET_COUNTER(packets_sent);
  SET_COUNTER(bytes_sent);
  SET_COUNTER(packets_received);
  SET_COUNTER(bytes_received);
  SET_COUNTER(malformed);
  SET_COUNTER(foreign);
  SET_COUNTER(lost);
  SET_COUNTER(duplicate);
  SET_COUNTER(late);
  SET_COUNTER(reordered);
  SET_COUNTER(ssrc);
  SET_COUNTER(peer_ssrc);   /* 0 until known */
  SET_COUNTER(rtcp_sent);
  SET_COUNTER(rtcp_received);
  SET_COUNTER(ssrc_collisions);
  SET_COUNTER(loops);
  SET_COUNTER(unknown_ssrc);
  SET_COUNTER(rtcp_unreachable);
  SET_COUNTER(foreign_errors);
  SET_COUNTER(send_errors);
  SET_COUNTER(send_dropped);
  lua_pushnumber(L, st.jitter_ms);
  lua_setfield(L, -2, "jitter");
  if (st.rtt_ms >= 0) {
    lua_pushnumber(L, st.rtt_ms);
    lua_setfield(L, -2, "rtt");
  }
  if (st.peer_cname[0]) {
    lua_pushstring(L, st.peer_cname);
    lua_setfield(L, -2, "peer_cname");
  }
  if (st.peer_tool[0]) {
    lua_pushstring(L, st.peer_tool);
    lua_setfield(L, -2, "peer_tool");
  }
  SET_COUNTER(remote_fraction_lost);
  SET_COUNTER(remote_lost);
  lua_pushnumber(L, st.remote_jitter_ms);
  lua_setfield(L, -2, "remote_jitter");
}

static int l_stats(lua_State *L) {
  rml_push_session_stats(L, check_session(L)->s);
  return 1;
}

static int l_gc(lua_State *L) {
  return rml_session_gc(luaL_checkudata(L, 1, SESSION_MT));
}

static const luaL_Reg methods[] = {
  {"start", l_start},
  {"stop", l_stop},
  {"close", l_close},
  {"send", l_send},
  {"started", l_started},
  {"media_time", l_media_time},
  {"local_port", l_local_port},
  {"stats", l_stats},
  {NULL, NULL},
};

void rml_open_session(lua_State *L) {
  rml_new_class(L, SESSION_MT, methods);
  lua_pushcfunction(L, l_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, l_gc);
  lua_setfield(L, -2, "__close");
  lua_pop(L, 1);
  lua_pushcfunction(L, l_session);
  lua_setfield(L, -2, "session");
  lua_pushliteral(L, "_core");
  lua_pushcclosure(L, l_send_data, 1);
  lua_setfield(L, -2, "session_send_data");
}
