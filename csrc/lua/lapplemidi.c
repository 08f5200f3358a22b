/* rtpmidi.core.applemidi: an AppleMIDI session as a userdata. The Lua object
 * that owns it (an AppleMidiSession) receives incoming_midi,
 * participant_joined, participant_left, participant_synced and
 * invitation_failed. Each participant is one Lua table for as long as it is
 * in the session (the same table in every callback and in participants()). */
#include "lpeered.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define APPLE_MT "rtpmidi.AppleMidiCore"
#define MAX_ACCEPT 256

/* The userdata: an rml_peered (lpeered.h: start, stop, close, the
 * callbacks and methods alike with Network MIDI 2.0's), its core the
 * AppleMIDI session; its peers the participants. */
typedef struct rml_apple {
  rml_peered p;      /* first */
  lua_Integer cookie;
} rml_apple;

static rml_apple *check_apple(lua_State *L) { return (rml_apple *)rml_peered_check(L, APPLE_MT); }
static rtpmidi_apple *core(rml_apple *la) { return la->p.core; }

static void set_fields(lua_State *L, const void *peer) {
  const rtpmidi_apple_peer *p = peer;
#define SETI(k, v) (lua_pushinteger(L, (lua_Integer)(v)), lua_setfield(L, -2, k))
#define SETN(k, v) (lua_pushnumber(L, (v)), lua_setfield(L, -2, k))
#define SETB(k, v) (lua_pushboolean(L, (v)), lua_setfield(L, -2, k))
#define SETS(k, v) (lua_pushstring(L, (v)), lua_setfield(L, -2, k))
  SETI("id", p->id);
  SETS("name", p->name);
  SETS("address", p->address);
  SETI("port", p->port);
  SETI("ssrc", p->ssrc);
  SETB("initiator", p->initiator);
  if (p->invited_as) SETS("invited_as", p->invited_as);
  SETB("synced", p->synced);
  SETN("latency", p->latency_ms);
  SETN("offset", p->offset_ms);
  SETI("packets_received", p->packets_received);
  SETI("packets_sent", p->packets_sent);
  SETI("lost", p->lost);
  SETI("messages_recovered", p->messages_recovered);
  SETI("ck_exchanges", p->ck_exchanges);
  SETI("rs_sent", p->rs_sent);
  SETI("rs_received", p->rs_received);
  SETI("checkpoint", p->checkpoint);
  SETI("seq", p->seq);
  SETB("journal_sender", p->journal_sender);
  SETB("journal_receiver", p->journal_receiver);
  SETB("unconfirmed", p->unconfirmed);
  SETB("recovery", p->recovery);
  SETB("timestamps_swapped", p->timestamps_swapped);
  SETI("ck_impossible", p->ck_impossible);
}

static int core_start(void *a) { return rtpmidi_apple_start(a); }
static void core_stop(void *a) { rtpmidi_apple_stop(a); }
static void core_free(void *a) { rtpmidi_apple_free(a); }
static bool core_started(void *a) { return rtpmidi_apple_started(a); }
static int core_port(void *a) { return rtpmidi_apple_port(a); }
static int core_disconnect(void *a, uint32_t id) { return rtpmidi_apple_disconnect(a, id); }
static size_t core_discovered(void *a, rtpmidi_service *v, size_t n) { return rtpmidi_apple_discovered(a, v, n); }
/* stop: participant_left(p, "stopped") for each participant (the callback
 * may stop, close or restart the session) */
static const rml_core_ops APPLE_OPS = {core_start, core_stop, core_free, core_started,
                                       core_port, core_disconnect, core_discovered, set_fields};
_Static_assert(offsetof(rtpmidi_apple_peer, id) == 0, "lpeered.h: the id first");

/* Refreshes the participant's table if it was made: a table nobody asked
 * for yet (no callback, no participants()) is not made just to be kept
 * fresh, which saves about a kilobyte per participant of a session that
 * only keeps the connection up. rml_peered_push_peer makes it, fresh, when
 * needed. */
static void refresh_peer(rml_peered *s, const rtpmidi_apple_peer *p) {
  lua_State *L = s->st->L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, s->peers_ref);
  if (lua_rawgeti(L, -1, p->id) == LUA_TTABLE) set_fields(L, p);
  lua_pop(L, 2);
}

static void on_midi(void *ud, const rtpmidi_apple_peer *p, const uint8_t *msg, size_t len,
                    double time_ms, bool recovered) {
  rml_peered_on_midi(ud, p, msg, len, time_ms, recovered);
}

static void on_joined(void *ud, const rtpmidi_apple_peer *p) {
  rml_peered *s = ud;
  if (s->peers_ref == LUA_NOREF) return;
  /* the facade's per-participant options (applemidi.lua), before anything
   * is sent to it and before the application hears of it */
  if (rml_push_method(s->st, s->owner_ref, "_participant_options")) {
    rml_peered_push_peer(s->st->L, s, p, true);
    rml_call(s->st, 2); /* may close the session: participant_joined checks */
  } else {
    rml_peer_forget(s->st->L, s->peers_ref, p->id); /* made fresh below */
  }
  rml_peered_on_peer(s, "participant_joined", p, false);
}

static void on_synced(void *ud, const rtpmidi_apple_peer *p) {
  rml_peered *s = ud;
  if (s->peers_ref == LUA_NOREF) return;
  refresh_peer(s, p);
  rml_peered_on_peer(s, "participant_synced", p, false);
}

/* The participant's table leaves the session before participant_left runs:
 * the callback may close the session (control:remove_session, "tear down
 * when empty"). */
static void on_left(void *ud, const rtpmidi_apple_peer *p, const char *reason) {
  rml_peered_on_left(ud, "participant_left", p, reason);
}

static void on_invite_failed(void *ud, const char *address, int port, const char *reason) {
  rml_peered_on_invite_failed(ud, address, port, reason);
}

/* core.applemidi{ name=, port=, accept="anyone"|"none"|{addresses}, ... } */
static int l_applemidi(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  rml_state *st = rml_get_state(L);
  rtpmidi_apple_config cfg;
  memset(&cfg, 0, sizeof cfg);
  lua_getfield(L, 1, "name");
  cfg.name = lua_tostring(L, -1);           /* kept on the stack until new() */
  lua_getfield(L, 1, "bind_address");
  cfg.bind_address = lua_tostring(L, -1);
  /* missing options stay 0: the C core's defaults; values a C field cannot
   * hold become ones the C core refuses */
  lua_Integer port = rml_opt_int(L, 1, "port", 0);
  cfg.port = port < 0 || port > 65535 ? -1 : (int)port;
  lua_Integer ssrc = rml_opt_int(L, 1, "ssrc", 0);
  if (ssrc < 0 || ssrc > UINT32_MAX) return rml_arg_error(L, "ssrc", "integer 1..4294967295 expected");
  cfg.ssrc = (uint32_t)ssrc;
  cfg.invite_tries = (int)rml_opt_int(L, 1, "invite_tries", 0);
  cfg.invite_interval_ms = rml_opt_num(L, 1, "invite_interval", 0);
  cfg.ck_fast_count = (int)rml_opt_int(L, 1, "ck_fast_count", 0);
  cfg.ck_fast_interval_ms = rml_opt_num(L, 1, "ck_fast_interval", 0);
  cfg.ck_interval_ms = rml_opt_num(L, 1, "ck_interval", 0);
  cfg.timeout_ms = rml_opt_num(L, 1, "timeout", 0) * 1000.0;
  cfg.rs_interval_ms = rml_opt_num(L, 1, "rs_interval", 0);
  cfg.guard_ms = rml_opt_num(L, 1, "guard_interval", 0);
  cfg.jitter_buffer_ms = rml_opt_num(L, 1, "jitter_buffer_size", 0);
  lua_Integer budget = rml_opt_int(L, 1, "payload_budget", 0);
  cfg.payload_budget = budget < 0 ? SIZE_MAX : (size_t)budget;
  lua_Integer max_sysex = rml_opt_int(L, 1, "max_sysex", 0);
  if (max_sysex < 0) return rml_arg_error(L, "max_sysex", "octets >= 1 expected");
  cfg.max_sysex = (size_t)max_sysex;
  cfg.recovery = rml_opt_bool(L, 1, "recovery", false);
  cfg.reinvite = rml_opt_bool(L, 1, "reinvite", false);
  cfg.journal_ignore_s_bits = !rml_opt_bool(L, 1, "journal_trust_s_bits", true);
  cfg.journal_ignore_y = !rml_opt_bool(L, 1, "journal_honor_y", true);
  lua_Integer maxp = rml_opt_int(L, 1, "max_participants", 0);
  if (maxp < 0) return rml_arg_error(L, "max_participants", "integer >= 1 expected");
  cfg.max_participants = (size_t)maxp;
  cfg.invitations_per_second = rml_opt_num(L, 1, "invitations_per_second", 0);
  cfg.journal_history = rml_opt_uint_sat(L, 1, "journal_history");
  cfg.jitter_buffer_packets = rml_opt_uint_sat(L, 1, "jitter_buffer_packets");
  const char *list[MAX_ACCEPT];
  int t = lua_getfield(L, 1, "accept");   /* stays on the stack: its strings live there */
  if (t == LUA_TNIL) {
    cfg.accept = RTPMIDI_APPLE_ACCEPT_ANY;
  } else if (t == LUA_TSTRING) {
    const char *s = lua_tostring(L, -1);
    if (strcmp(s, "anyone") == 0) cfg.accept = RTPMIDI_APPLE_ACCEPT_ANY;
    else if (strcmp(s, "none") == 0) cfg.accept = RTPMIDI_APPLE_ACCEPT_NONE;
    else return rml_arg_error(L, "accept", "\"anyone\", \"none\" or a list of addresses expected");
  } else if (t == LUA_TTABLE) {
    cfg.accept = RTPMIDI_APPLE_ACCEPT_LIST;
    lua_Integer n = luaL_len(L, -1);
    if (n > MAX_ACCEPT) return rml_arg_error(L, "accept", "at most 256 addresses");
    for (lua_Integer i = 1; i <= n; i++) {
      lua_rawgeti(L, -1, i);
      if (lua_type(L, -1) != LUA_TSTRING) return rml_arg_error(L, "accept", "address strings expected");
      list[i - 1] = lua_tostring(L, -1);
      lua_pop(L, 1); /* the table keeps the string alive */
    }
    cfg.accept_list = list;
    cfg.accept_count = (size_t)n;
  } else {
    return rml_arg_error(L, "accept", "\"anyone\", \"none\" or a list of addresses expected");
  }
  rml_apple *la = (rml_apple *)rml_peered_new(L, st, &APPLE_OPS, APPLE_MT, sizeof *la);
  rtpmidi_apple_events ev = {.on_midi = on_midi, .on_joined = on_joined, .on_left = on_left,
                             .on_synced = on_synced, .on_invite_failed = on_invite_failed};
  rtpmidi_error e;
  rtpmidi_apple *a = NULL;
  int r = rtpmidi_apple_new(st->rt, &cfg, &ev, la, &a, &e);
  la->p.core = a;
  return rml_new_result(L, r, &e);
}

static int l_start(lua_State *L) {
  rml_apple *la = check_apple(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_Integer cookie = luaL_optinteger(L, 3, 0);
  if (!la->p.stopping) la->cookie = cookie;
  return rml_peered_start(L, &la->p);
}

static int l_stop(lua_State *L) { return rml_peered_l_stop(L, rml_self(L, APPLE_MT)); }
static int l_started(lua_State *L) { return rml_peered_started(L, rml_self(L, APPLE_MT)); }
static int l_close(lua_State *L) { return rml_peered_close(L, rml_self(L, APPLE_MT)); }
static int l_local_port(lua_State *L) { return rml_peered_local_port(L, &check_apple(L)->p); }
static int l_disconnect(lua_State *L) { return rml_peered_disconnect(L, &check_apple(L)->p); }

/* invite(host, port) -> true | nil, err, code */
static int l_invite(lua_State *L) {
  rml_apple *la = check_apple(L);
  const char *host = luaL_checkstring(L, 2);
  lua_Integer port = luaL_checkinteger(L, 3);
  if (port < 1 || port > 65534) return rml_arg_error(L, "port", "control port 1..65534 expected");
  return rml_peered_invite_result(L, rtpmidi_apple_invite(core(la), host, (int)port));
}

/* set_recovery(id, on) -> true | false (no such participant) */
static int l_set_recovery(lua_State *L) {
  rml_apple *la = check_apple(L);
  uint32_t id = (uint32_t)luaL_checkinteger(L, 2);
  luaL_checktype(L, 3, LUA_TBOOLEAN);
  bool on = lua_toboolean(L, 3);
  int r = rtpmidi_apple_set_recovery(core(la), id, on);
  if (r == 0) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, la->p.peers_ref);
    if (lua_rawgeti(L, -1, id) == LUA_TTABLE) {
      lua_pushboolean(L, on);
      lua_setfield(L, -2, "recovery");
    }
    lua_pop(L, 2);
  }
  lua_pushboolean(L, r == 0);
  return 1;
}

static int l_participants(lua_State *L) {
  rml_apple *la = check_apple(L);
  size_t n = rtpmidi_apple_participants(core(la), NULL, 0);
  rtpmidi_apple_peer *v = n ? malloc(n * sizeof *v) : NULL;
  if (n && !v) return luaL_error(L, "out of memory");
  n = rtpmidi_apple_participants(core(la), v, n);
  rml_peered_push_list(L, &la->p, v, n, sizeof *v);
  free(v);
  return 1;
}

static int l_send_midi(lua_State *L) {
  rml_apple *la = check_apple(L);
  size_t n;
  const char *bytes = luaL_checklstring(L, 2, &n);
  rtpmidi_error e;
  int r = rtpmidi_apple_send(core(la), (const uint8_t *)bytes, n, &e);
  return rml_push_result(L, r, r == UV_EINVAL ? e.message : NULL);
}

static int l_flush(lua_State *L) {
  return rml_push_result(L, rtpmidi_apple_flush(core(check_apple(L))), NULL);
}

static int l_stats(lua_State *L) {
  rml_apple *la = check_apple(L);
  rtpmidi_apple_stats s;
  rtpmidi_apple_get_stats(core(la), &s);
  lua_newtable(L);
#define SET(name) (lua_pushinteger(L, (lua_Integer)s.name), lua_setfield(L, -2, #name))
  SET(ssrc); SET(port);
  SET(control_sent); SET(control_received);
  SET(packets_sent); SET(packets_received);
  SET(messages_sent); SET(messages_received); SET(messages_recovered);
  SET(lost); SET(duplicate); SET(guard_sent); SET(rs_sent); SET(rs_received); SET(ck_exchanges); SET(send_errors); SET(unconfirmed);
  SET(invitations_refused); SET(invitations_dropped);
  SET(bad_signature); SET(unknown_command); SET(bad_name); SET(malformed); SET(unknown_ssrc);
  SET(foreign); SET(journal_errors); SET(sysex_dropped); SET(unsolicited); SET(repairs_over_budget);
  SET(pending); SET(released); SET(ck_impossible); SET(timestamps_swapped);
#undef SET
  lua_pushinteger(L, (lua_Integer)rtpmidi_apple_participants(core(la), NULL, 0));
  lua_setfield(L, -2, "participants");
  return 1;
}

static int l_gc(lua_State *L) {
  return rml_peered_gc(luaL_checkudata(L, 1, APPLE_MT)); /* __gc: no method upvalue */
}

static void set_field_str(lua_State *L, const char *k, const char *v) {
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

void rml_push_services(lua_State *L, const rtpmidi_service *v, size_t n) {
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_createtable(L, 0, 6);
    set_field_str(L, "name", v[i].name);
    set_field_str(L, "host", v[i].host);
    set_field_str(L, "address", v[i].address);
    lua_pushinteger(L, v[i].port);
    lua_setfield(L, -2, "port");
    if (v[i].endpoint_name[0]) set_field_str(L, "endpoint_name", v[i].endpoint_name);
    if (v[i].product_instance_id[0]) set_field_str(L, "product_instance_id", v[i].product_instance_id);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

/* discovered() -> { {name=, host=, address=, port=}, ... } */
static int l_discovered(lua_State *L) { return rml_peered_discovered(L, &check_apple(L)->p); }

/* browse(type) -> browser (found() -> services as discovered(), close())
 * | nil, err: browsing without advertising (rtpmidi list --network). */
#define BROWSER_MT "rtpmidi.Browser"

static rtpmidi_browser **check_browser(lua_State *L) {
  return luaL_checkudata(L, 1, BROWSER_MT);
}

static int l_browser_found(lua_State *L) {
  rtpmidi_browser **b = check_browser(L);
  rtpmidi_service v[64];
  size_t n = rtpmidi_browser_found(*b, v, 64);
  rml_push_services(L, v, n < 64 ? n : 64);
  return 1;
}

static int l_browser_close(lua_State *L) {
  rtpmidi_browser **b = check_browser(L);
  rtpmidi_browser_free(*b);
  *b = NULL;
  return 0;
}

static int l_browse(lua_State *L) {
  rml_state *st = rml_get_state(L);
  const char *type = luaL_checkstring(L, 1);
  rtpmidi_browser **b = lua_newuserdatauv(L, sizeof *b, 0);
  *b = NULL;
  if (luaL_newmetatable(L, BROWSER_MT)) {
    static const luaL_Reg m[] = {{"found", l_browser_found}, {"close", l_browser_close}, {NULL, NULL}};
    luaL_newlib(L, m);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_browser_close);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  int r = rtpmidi_browser_new(st->rt, type, b);
  if (r == UV_EINVAL) return rml_arg_error(L, "type", "DNS-SD service type such as \"_apple-midi._udp\" expected");
  if (r == UV_ENOTSUP) {
    lua_pushnil(L);
    lua_pushstring(L, "no mDNS discovery in this build (Avahi was not found when it was built)");
    return 2;
  }
  if (r) return rml_push_uv_error(L, r);
  return 1;
}

static int l_discovery(lua_State *L) {
  lua_pushboolean(L, rtpmidi_apple_discovery_available());
  return 1;
}

static const luaL_Reg methods[] = {
  {"start", l_start},
  {"stop", l_stop},
  {"close", l_close},
  {"started", l_started},
  {"local_port", l_local_port},
  {"invite", l_invite},
  {"disconnect", l_disconnect},
  {"set_recovery", l_set_recovery},
  {"participants", l_participants},
  {"send_midi", l_send_midi},
  {"flush", l_flush},
  {"stats", l_stats},
  {"discovered", l_discovered},
  {NULL, NULL},
};

void rml_open_applemidi(lua_State *L) {
  rml_open_class(L, APPLE_MT, methods, l_gc, "applemidi", l_applemidi);
  lua_pushcfunction(L, l_discovery);
  lua_setfield(L, -2, "applemidi_discovery");
  lua_pushcfunction(L, l_browse);
  lua_setfield(L, -2, "browse");
}
