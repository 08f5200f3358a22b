/* rtpmidi.core.midi2: a Network MIDI 2.0 session as a userdata, and the
 * codec.encode_midi2 / codec.decode_midi2 functions. The Lua object that
 * owns a session (a Midi2Session) receives incoming_ump, incoming_midi,
 * client_joined, client_left and invitation_failed. Each session peer is
 * one Lua table for as long as it is in the session (the same table in
 * every callback and in clients()). */
#include "lpeered.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "midi2.h"
#include "ump.h"

#define MIDI2_MT "rtpmidi.Midi2Core"
#define MAX_USERS 8
#define MAX_CLIENTS 16 /* RMP_M2S_MAX_PEERS */

/* The userdata: an rml_peered (lpeered.h: start, stop, close, the
 * callbacks and methods alike with AppleMIDI's), its core the Network
 * MIDI 2.0 session; its peers the clients. */
typedef rml_peered rml_midi2;

static rml_midi2 *check_m2(lua_State *L) { return rml_peered_check(L, MIDI2_MT); }
static rtpmidi_midi2 *core(rml_midi2 *lm) { return lm->core; }

static void set_fields(lua_State *L, const void *peer) {
  const rtpmidi_midi2_peer *p = peer;
  lua_pushinteger(L, p->id), lua_setfield(L, -2, "id");
  lua_pushstring(L, p->name), lua_setfield(L, -2, "name");
  lua_pushstring(L, p->product_instance_id), lua_setfield(L, -2, "product_instance_id");
  lua_pushstring(L, p->address), lua_setfield(L, -2, "address");
  lua_pushinteger(L, p->port), lua_setfield(L, -2, "port");
  lua_pushboolean(L, p->initiator), lua_setfield(L, -2, "initiator");
  lua_pushnumber(L, p->rtt_ms), lua_setfield(L, -2, "rtt");
}

static int m2_start(void *m) { return rtpmidi_midi2_start(m); }
static void m2_stop(void *m) { rtpmidi_midi2_stop(m); }
static void m2_free(void *m) { rtpmidi_midi2_free(m); }
static bool m2_started(void *m) { return rtpmidi_midi2_started(m); }
static int m2_port(void *m) { return rtpmidi_midi2_port(m); }
static int m2_disconnect(void *m, uint32_t id) { return rtpmidi_midi2_disconnect(m, id); }
static size_t m2_discovered(void *m, rtpmidi_service *v, size_t n) { return rtpmidi_midi2_discovered(m, v, n); }
static const rml_core_ops M2_OPS = {m2_start, m2_stop, m2_free, m2_started,
                                    m2_port, m2_disconnect, m2_discovered, set_fields};
_Static_assert(offsetof(rtpmidi_midi2_peer, id) == 0, "lpeered.h: the id first");

static void on_ump(void *ud, const rtpmidi_midi2_peer *p, const uint32_t *w, size_t n, double t, bool rec) {
  rml_midi2 *lm = ud;
  (void)rec;
  if (!rml_peered_method(lm, "incoming_ump")) return;
  lua_State *L = lm->st->L;
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_pushinteger(L, w[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_pushnumber(L, t);
  rml_peered_push_peer(L, lm, p, false);
  rml_call(lm->st, 4);
}

static void on_midi(void *ud, const rtpmidi_midi2_peer *p, const uint8_t *msg, size_t len, double t, bool rec) {
  rml_peered_on_midi(ud, p, msg, len, t, rec);
}

static void on_joined(void *ud, const rtpmidi_midi2_peer *p) {
  rml_peered_on_peer(ud, "client_joined", p, true);
}

static void on_left(void *ud, const rtpmidi_midi2_peer *p, const char *reason) {
  rml_peered_on_left(ud, "client_left", p, reason);
}

static void on_invite_failed(void *ud, const char *address, int port, const char *reason) {
  rml_peered_on_invite_failed(ud, address, port, reason);
}

/* ---- options ---- */

static unsigned uint_or_bad(lua_Integer v) { return v < 0 || v > 100000 ? 100000u : (unsigned)v; }

/* core.midi2{ name=, product_instance_id=, role="host"|"client", port=, bind_address=,
 *             secret=, users={ name = password, ... }, max_clients=, fec=, history=,
 *             ping_interval=, ping_retry=, ping_retries=, keepalive=, invite_interval=,
 *             invite_tries=, max_sysex=, answer_stream= } */
static int l_midi2(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  rml_state *st = rml_get_state(L);
  rtpmidi_midi2_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.name = rml_opt_str(L, 1, "name");
  cfg.product_instance_id = rml_opt_str(L, 1, "product_instance_id");
  cfg.bind_address = rml_opt_str(L, 1, "bind_address");
  cfg.secret = rml_opt_str(L, 1, "secret");
  const char *role = rml_opt_str(L, 1, "role");
  if (!role || strcmp(role, "host") == 0) cfg.role = RTPMIDI_MIDI2_HOST;
  else if (strcmp(role, "client") == 0) cfg.role = RTPMIDI_MIDI2_CLIENT;
  else return rml_arg_error(L, "role", "\"host\" or \"client\" expected");
  lua_Integer port = rml_opt_int(L, 1, "port", RTPMIDI_MIDI2_PORT);
  cfg.port = port < 0 || port > 65535 ? -1 : (int)port;
  rtpmidi_midi2_user users[MAX_USERS];
  int t = lua_getfield(L, 1, "users"); /* stays on the stack: its strings live there */
  if (t == LUA_TTABLE) {
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
        return rml_arg_error(L, "users", "a table of user name = password strings expected");
      if (cfg.n_users == MAX_USERS) return rml_arg_error(L, "users", "at most 8 users");
      users[cfg.n_users].name = lua_tostring(L, -2);
      users[cfg.n_users].password = lua_tostring(L, -1);
      cfg.n_users++;
      lua_pop(L, 1);
    }
    cfg.users = users;
  } else if (t != LUA_TNIL) {
    return rml_arg_error(L, "users", "a table of user name = password strings expected");
  }
  cfg.max_clients = uint_or_bad(rml_opt_int(L, 1, "max_clients", 0));
  lua_getfield(L, 1, "fec");
  if (!lua_isnil(L, -1)) {
    lua_Integer fec = luaL_checkinteger(L, -1);
    cfg.fec = fec == 0 ? RTPMIDI_MIDI2_NO_FEC : fec < 0 || fec > 1000 ? 1000 : (int)fec;
  }
  lua_pop(L, 1);
  cfg.history = uint_or_bad(rml_opt_int(L, 1, "history", 0));
  cfg.ping_ms = rml_opt_num(L, 1, "ping_interval", 0);
  cfg.ping_retry_ms = rml_opt_num(L, 1, "ping_retry", 0);
  cfg.ping_retries = uint_or_bad(rml_opt_int(L, 1, "ping_retries", 0));
  cfg.keepalive_ms = rml_opt_num(L, 1, "keepalive", 0);
  cfg.invite_interval_ms = rml_opt_num(L, 1, "invite_interval", 0);
  cfg.invite_tries = uint_or_bad(rml_opt_int(L, 1, "invite_tries", 0));
  lua_Integer max_sysex = rml_opt_int(L, 1, "max_sysex", 0);
  if (max_sysex < 0) return rml_arg_error(L, "max_sysex", "octets >= 1 expected");
  cfg.max_sysex = (size_t)max_sysex;
  lua_getfield(L, 1, "answer_stream");
  cfg.no_stream_answers = !lua_isnil(L, -1) && !lua_toboolean(L, -1);
  lua_pop(L, 1);

  rml_midi2 *lm = rml_peered_new(L, st, &M2_OPS, MIDI2_MT, sizeof *lm);
  rtpmidi_midi2_events ev = {.on_ump = on_ump, .on_midi = on_midi, .on_joined = on_joined, .on_left = on_left,
                             .on_invite_failed = on_invite_failed};
  rtpmidi_error e;
  rtpmidi_midi2 *m = NULL;
  int r = rtpmidi_midi2_new(st->rt, &cfg, &ev, lm, &m, &e);
  lm->core = m;
  const char *bad = r == UV_EINVAL ? e.field : NULL;
  if (bad) {
    /* the C field's name -> the option's */
    static const char *const map[][2] = {
      {"ping_ms", "ping_interval"}, {"ping_retry_ms", "ping_retry"}, {"keepalive_ms", "keepalive"},
      {"invite_interval_ms", "invite_interval"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
      if (strcmp(bad, map[i][0]) == 0) bad = map[i][1];
    return rml_arg_error(L, bad, "invalid value");
  }
  if (r) return rml_push_uv_error(L, r);
  return 1;
}

/* ---- methods ---- */

static int l_start(lua_State *L) { return rml_peered_start(L, check_m2(L)); }
static int l_stop(lua_State *L) { return rml_peered_l_stop(L, rml_self(L, MIDI2_MT)); }
static int l_started(lua_State *L) { return rml_peered_started(L, rml_self(L, MIDI2_MT)); }
static int l_close(lua_State *L) { return rml_peered_close(L, rml_self(L, MIDI2_MT)); }
static int l_local_port(lua_State *L) { return rml_peered_local_port(L, check_m2(L)); }
static int l_disconnect(lua_State *L) { return rml_peered_disconnect(L, check_m2(L)); }

/* invite(host, port, secret, user, password) -> true | nil, err, code */
static int l_invite(lua_State *L) {
  rml_midi2 *lm = check_m2(L);
  const char *host = luaL_checkstring(L, 2);
  lua_Integer port = luaL_checkinteger(L, 3);
  const char *secret = luaL_optstring(L, 4, NULL), *user = luaL_optstring(L, 5, NULL),
             *password = luaL_optstring(L, 6, NULL);
  if (port < 1 || port > 65535) return rml_arg_error(L, "port", "UDP port 1..65535 expected");
  int r = rtpmidi_midi2_invite(core(lm), host, (int)port, secret, user, password);
  if (r == UV_EINVAL) {
    if ((user == NULL) != (password == NULL)) return rml_arg_error(L, "password", "user and password go together");
    if (secret && (!*secret || strlen(secret) > RMP_M2_CRED_MAX))
      return rml_arg_error(L, "secret", "string of 1..255 octets expected");
    if (user) return rml_arg_error(L, "user", "user name and password of 1..255 octets expected");
  }
  return rml_peered_invite_result(L, r);
}

/* Reads UMP words from the table at idx into a new buffer (*n words). */
static uint32_t *read_words(lua_State *L, int idx, size_t *n, const char *arg) {
  lua_Integer len = luaL_len(L, idx);
  if (len < 0 || len > 1 << 20) luaL_error(L, "bad argument '%s' (too many words)", arg);
  uint32_t *w = lua_newuserdatauv(L, (size_t)len * 4 + 4, 0); /* freed by the GC */
  for (lua_Integer i = 1; i <= len; i++) {
    lua_rawgeti(L, idx, i);
    int ok;
    lua_Integer v = lua_tointegerx(L, -1, &ok);
    if (!ok || v < 0 || v > 0xFFFFFFFF)
      luaL_error(L, "bad argument '%s' (word %d: integer 0..0xFFFFFFFF expected)", arg, (int)i);
    w[i - 1] = (uint32_t)v;
    lua_pop(L, 1);
  }
  *n = (size_t)len;
  return w;
}

/* send_ump(peer_id, { words }) -> sessions it went to | nil, err, code */
static int l_send_ump(lua_State *L) {
  rml_midi2 *lm = check_m2(L);
  lua_Integer peer = luaL_checkinteger(L, 2);
  luaL_checktype(L, 3, LUA_TTABLE);
  size_t n;
  uint32_t *w = read_words(L, 3, &n, "words");
  if (!rmp_ump_whole(w, n)) return rml_arg_error(L, "words", "whole UMP messages expected");
  int r = rtpmidi_midi2_send_ump(core(lm), (uint32_t)peer, w, n);
  if (r < 0) return rml_push_uv_error(L, r);
  lua_pushinteger(L, r);
  return 1;
}

static int l_send_midi(lua_State *L) {
  rml_midi2 *lm = check_m2(L);
  size_t n;
  const char *bytes = luaL_checklstring(L, 2, &n);
  rtpmidi_error e;
  int r = rtpmidi_midi2_send_midi(core(lm), (const uint8_t *)bytes, n, &e);
  if (r >= 0) {
    lua_pushinteger(L, r);
    return 1;
  }
  return rml_push_result(L, r, r == UV_EINVAL ? e.message : NULL);
}

static int l_reset(lua_State *L) {
  rml_midi2 *lm = check_m2(L);
  int r = rtpmidi_midi2_reset(core(lm), (uint32_t)luaL_checkinteger(L, 2));
  if (r) return rml_push_uv_error(L, r);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_clients(lua_State *L) {
  rml_midi2 *lm = check_m2(L);
  rtpmidi_midi2_peer v[MAX_CLIENTS];
  size_t n = rtpmidi_midi2_peers(core(lm), v, MAX_CLIENTS);
  if (n > MAX_CLIENTS) n = MAX_CLIENTS;
  return rml_peered_push_list(L, lm, v, n, sizeof *v);
}

static int l_stats(lua_State *L) {
  rml_midi2 *lm = check_m2(L);
  rtpmidi_midi2_stats s;
  rtpmidi_midi2_get_stats(core(lm), &s);
  lua_newtable(L);
#define SET(name) (lua_pushinteger(L, (lua_Integer)s.name), lua_setfield(L, -2, #name))
  SET(port);
  SET(datagrams_sent); SET(datagrams_received); SET(ump_sent); SET(ump_received);
  SET(recovered_fec); SET(recovered_retransmit); SET(lost); SET(duplicate);
  SET(retransmit_requests_sent); SET(retransmit_requests_received); SET(retransmitted);
  SET(pings_sent); SET(keepalives_sent); SET(naks_sent); SET(naks_received); SET(auth_failures);
  SET(malformed); SET(foreign); SET(suppressed); SET(sysex_dropped); SET(send_errors); SET(clients);
#undef SET
  return 1;
}

static int l_gc(lua_State *L) {
  return rml_peered_gc(luaL_checkudata(L, 1, MIDI2_MT)); /* __gc: no method upvalue */
}

/* discovered() -> { {name=, host=, address=, port=, endpoint_name=, product_instance_id=}, ... } */
static int l_discovered(lua_State *L) { return rml_peered_discovered(L, check_m2(L)); }

static const luaL_Reg methods[] = {
  {"discovered", l_discovered},
  {"start", l_start},
  {"stop", l_stop},
  {"close", l_close},
  {"started", l_started},
  {"local_port", l_local_port},
  {"invite", l_invite},
  {"send_ump", l_send_ump},
  {"send_midi", l_send_midi},
  {"reset", l_reset},
  {"disconnect", l_disconnect},
  {"clients", l_clients},
  {"stats", l_stats},
  {NULL, NULL},
};

/* ==== codec.encode_midi2 / codec.decode_midi2 ==== */

static void set_str(lua_State *L, const char *k, rmp_m2_str s) {
  lua_pushlstring(L, s.p, s.len);
  lua_setfield(L, -2, k);
}
static void set_int(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

/* decode_midi2(packet) -> { {code=, command=, ...}, ... } | nil, err */
static int l_decode_midi2(lua_State *L) {
  size_t n;
  const uint8_t *p = (const uint8_t *)luaL_checklstring(L, 1, &n);
  rmp_m2_reader r;
  int rc = rmp_m2_reader_init(&r, p, n);
  if (rc < 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "bad Network MIDI 2.0 packet: %s", rmp_m2_strerror(rc));
    return 2;
  }
  lua_newtable(L);
  rmp_m2_cmd c;
  lua_Integer k = 0;
  while ((rc = rmp_m2_read(&r, &c)) != 0) {
    if (rc == RMP_M2_ETRUNC && !c.header && !c.words && !c.code) {
      /* not even a whole header */
      lua_createtable(L, 0, 2);
      lua_pushstring(L, rmp_m2_strerror(rc));
      lua_setfield(L, -2, "error");
      lua_rawseti(L, -2, ++k);
      continue;
    }
    lua_createtable(L, 0, 6);
    set_int(L, "code", c.code);
    lua_pushstring(L, rmp_m2_code_name(c.code));
    lua_setfield(L, -2, "command");
    set_int(L, "data", c.data);
    if (rc < 0) {
      lua_pushstring(L, rmp_m2_strerror(rc));
      lua_setfield(L, -2, "error");
      lua_rawseti(L, -2, ++k);
      continue;
    }
    switch (c.code) {
    case RMP_M2_INVITATION:
    case RMP_M2_ACCEPTED:
    case RMP_M2_PENDING:
      set_str(L, "name", c.u.inv.name);
      set_str(L, "product_instance_id", c.u.inv.piid);
      if (c.code == RMP_M2_INVITATION) set_int(L, "capabilities", c.u.inv.caps);
      break;
    case RMP_M2_AUTH_REQUIRED:
    case RMP_M2_USER_AUTH_REQUIRED:
      set_int(L, "state", c.u.req.state);
      lua_pushlstring(L, (const char *)c.u.req.nonce, RMP_M2_NONCE_LEN);
      lua_setfield(L, -2, "nonce");
      set_str(L, "name", c.u.req.name);
      set_str(L, "product_instance_id", c.u.req.piid);
      break;
    case RMP_M2_INVITATION_AUTH:
    case RMP_M2_INVITATION_USER_AUTH:
      lua_pushlstring(L, (const char *)c.u.auth.digest, RMP_M2_DIGEST_LEN);
      lua_setfield(L, -2, "digest");
      if (c.code == RMP_M2_INVITATION_USER_AUTH) set_str(L, "user", c.u.auth.user);
      break;
    case RMP_M2_PING:
    case RMP_M2_PING_REPLY:
      set_int(L, "id", c.u.ping.id);
      break;
    case RMP_M2_RETRANSMIT_REQUEST:
      set_int(L, "sequence", c.u.rtx.seq);
      set_int(L, "count", c.u.rtx.count);
      break;
    case RMP_M2_RETRANSMIT_ERROR:
      set_int(L, "reason", c.u.rtx_err.reason);
      set_int(L, "sequence", c.u.rtx_err.seq);
      break;
    case RMP_M2_NAK:
      set_int(L, "reason", c.u.nak.reason);
      set_int(L, "header", c.u.nak.header);
      set_str(L, "text", c.u.nak.text);
      break;
    case RMP_M2_BYE:
      set_int(L, "reason", c.u.bye.reason);
      set_str(L, "text", c.u.bye.text);
      break;
    case RMP_M2_UMP_DATA: {
      set_int(L, "sequence", c.u.ump.seq);
      uint32_t w[RMP_M2_MAX_UMP_WORDS];
      rmp_ump_load_be(c.u.ump.be, c.u.ump.nwords, w);
      lua_createtable(L, c.u.ump.nwords, 0);
      for (unsigned i = 0; i < c.u.ump.nwords; i++) {
        lua_pushinteger(L, w[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
      }
      lua_setfield(L, -2, "words");
      break;
    }
    default:
      break;
    }
    lua_rawseti(L, -2, ++k);
  }
  return 1;
}

static lua_Integer int_in(lua_State *L, int t, const char *k, lua_Integer def, lua_Integer lo, lua_Integer hi) {
  lua_Integer v = def;
  if (lua_getfield(L, t, k) != LUA_TNIL) {
    int ok;
    v = lua_tointegerx(L, -1, &ok);
    if (!ok || v < lo || v > hi) luaL_error(L, "bad argument '%s' (integer %I..%I expected)", k, lo, hi);
  }
  lua_pop(L, 1);
  return v;
}

/* A text field (kept on the stack) of at most max octets. */
static rmp_m2_str str_in(lua_State *L, int t, const char *k, size_t max) {
  rmp_m2_str s = {"", 0};
  int ty = lua_getfield(L, t, k);
  if (ty == LUA_TNIL) return s;
  if (ty != LUA_TSTRING) luaL_error(L, "bad argument '%s' (string expected)", k);
  s.p = lua_tolstring(L, -1, &s.len);
  if (s.len > max) luaL_error(L, "bad argument '%s' (at most %d octets)", k, (int)max);
  return s;
}

static const uint8_t *bytes_in(lua_State *L, int t, const char *k, size_t len) {
  size_t n = 0;
  if (lua_getfield(L, t, k) != LUA_TSTRING || (lua_tolstring(L, -1, &n), n != len))
    luaL_error(L, "bad argument '%s' (string of %d octets expected)", k, (int)len);
  return (const uint8_t *)lua_tostring(L, -1);
}

/* One command table (at t) appended to the writer. */
static void encode_one(lua_State *L, int t, rmp_m2_writer *w) {
  int top = lua_gettop(L);
  rmp_m2_cmd c;
  memset(&c, 0, sizeof c);
  c.code = (uint8_t)int_in(L, t, "code", -1, 0, 255);
  uint32_t words[RMP_M2_MAX_UMP_WORDS];
  switch (c.code) {
  case RMP_M2_INVITATION:
  case RMP_M2_ACCEPTED:
  case RMP_M2_PENDING:
    c.u.inv.caps = (uint8_t)int_in(L, t, "capabilities", 0, 0, 255);
    c.u.inv.name = str_in(L, t, "name", RMP_M2_NAME_MAX);
    c.u.inv.piid = str_in(L, t, "product_instance_id", RMP_M2_PIID_MAX);
    break;
  case RMP_M2_AUTH_REQUIRED:
  case RMP_M2_USER_AUTH_REQUIRED:
    c.u.req.state = (uint8_t)int_in(L, t, "state", 0, 0, 255);
    c.u.req.nonce = bytes_in(L, t, "nonce", RMP_M2_NONCE_LEN);
    c.u.req.name = str_in(L, t, "name", RMP_M2_NAME_MAX);
    c.u.req.piid = str_in(L, t, "product_instance_id", RMP_M2_PIID_MAX);
    break;
  case RMP_M2_INVITATION_AUTH:
  case RMP_M2_INVITATION_USER_AUTH:
    c.u.auth.digest = bytes_in(L, t, "digest", RMP_M2_DIGEST_LEN);
    if (c.code == RMP_M2_INVITATION_USER_AUTH) c.u.auth.user = str_in(L, t, "user", RMP_M2_CRED_MAX);
    break;
  case RMP_M2_PING:
  case RMP_M2_PING_REPLY:
    c.u.ping.id = (uint32_t)int_in(L, t, "id", 0, 0, 0xFFFFFFFF);
    break;
  case RMP_M2_RETRANSMIT_REQUEST:
    c.u.rtx.seq = (uint16_t)int_in(L, t, "sequence", 0, 0, 0xFFFF);
    c.u.rtx.count = (uint16_t)int_in(L, t, "count", 0, 0, 0xFFFF);
    break;
  case RMP_M2_RETRANSMIT_ERROR:
    c.u.rtx_err.reason = (uint8_t)int_in(L, t, "reason", 0, 0, 255);
    c.u.rtx_err.seq = (uint16_t)int_in(L, t, "sequence", 0, 0, 0xFFFF);
    break;
  case RMP_M2_NAK:
    c.u.nak.reason = (uint8_t)int_in(L, t, "reason", 0, 0, 255);
    c.u.nak.header = (uint32_t)int_in(L, t, "header", 0, 0, 0xFFFFFFFF);
    c.u.nak.text = str_in(L, t, "text", RMP_M2_TEXT_MAX);
    break;
  case RMP_M2_BYE:
    c.u.bye.reason = (uint8_t)int_in(L, t, "reason", 0, 0, 255);
    c.u.bye.text = str_in(L, t, "text", RMP_M2_TEXT_MAX);
    break;
  case RMP_M2_SESSION_RESET:
  case RMP_M2_SESSION_RESET_REPLY:
  case RMP_M2_BYE_REPLY:
    break;
  case RMP_M2_UMP_DATA: {
    c.u.ump.seq = (uint16_t)int_in(L, t, "sequence", 0, 0, 0xFFFF);
    if (lua_getfield(L, t, "words") != LUA_TNIL) {
      if (!lua_istable(L, -1)) luaL_error(L, "bad argument 'words' (table of UMP words expected)");
      lua_Integer n = luaL_len(L, -1);
      if (n > RMP_M2_MAX_UMP_WORDS) luaL_error(L, "bad argument 'words' (at most 64 words)");
      for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        int ok;
        lua_Integer v = lua_tointegerx(L, -1, &ok);
        if (!ok || v < 0 || v > 0xFFFFFFFF) luaL_error(L, "bad argument 'words' (integers 0..0xFFFFFFFF expected)");
        words[i - 1] = (uint32_t)v;
        lua_pop(L, 1);
      }
      c.u.ump.nwords = (uint8_t)n;
      c.u.ump.words = words;
      if (!rmp_ump_whole(words, (size_t)n)) luaL_error(L, "bad argument 'words' (whole UMP messages expected)");
    }
    break;
  }
  default:
    luaL_error(L, "bad argument 'code' (a Network MIDI 2.0 command code expected)");
  }
  int r = rmp_m2_writer_add(w, &c);
  if (r == RMP_M2_ENOSPACE) luaL_error(L, "bad argument 'commands' (more than a datagram holds)");
  if (r < 0) luaL_error(L, "bad argument 'code' (%s)", rmp_m2_strerror(r));
  lua_settop(L, top);
}

/* encode_midi2(command) or encode_midi2{ command, command, ... } -> packet */
static int l_encode_midi2(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  uint8_t *buf = lua_newuserdatauv(L, 65536, 0);
  rmp_m2_writer w;
  rmp_m2_writer_init(&w, buf, 65536);
  if (lua_getfield(L, 1, "code") != LUA_TNIL) {
    lua_pop(L, 1);
    encode_one(L, 1, &w);
  } else {
    lua_pop(L, 1);
    lua_Integer n = luaL_len(L, 1);
    for (lua_Integer i = 1; i <= n; i++) {
      if (lua_rawgeti(L, 1, i) != LUA_TTABLE) luaL_error(L, "bad argument 'commands' (command tables expected)");
      encode_one(L, lua_gettop(L), &w);
      lua_pop(L, 1);
    }
  }
  lua_pushlstring(L, (const char *)buf, w.len);
  return 1;
}

/* ==== codec.ump_translator / codec.ump_to_midi1 ==== */

/* The translation between MIDI 1.0 bytes and UMP of csrc/proto/ump.c, for
 * Lua code that routes one into the other (rtpmidi.bridge). It keeps the
 * state of one source: running status and an open SysEx of the byte
 * stream, and (protocol 2) the Bank Select and (N)RPN controllers that
 * MIDI 2.0 carries in one message with what they belong to. */
#define XLAT_MT "rtpmidi.UmpTranslator"

typedef struct rml_xlat {
  rmp_ump_m1in in;
  rmp_ump_upgrade up;
  bool midi2;      /* MIDI 1.0 channel voice -> MT 4 (upscaled), else MT 2 */
} rml_xlat;

/* ump_translator{ group = 0, protocol = 2 } */
static int l_ump_translator(lua_State *L) {
  lua_Integer group = 0, protocol = 2;
  if (!lua_isnoneornil(L, 1)) {
    luaL_checktype(L, 1, LUA_TTABLE);
    group = int_in(L, 1, "group", 0, 0, 15);
    protocol = int_in(L, 1, "protocol", 2, 1, 2);
  }
  rml_xlat *x = lua_newuserdatauv(L, sizeof *x, 0);
  memset(x, 0, sizeof *x);
  rmp_ump_from_midi1_init(&x->in, (unsigned)group);
  rmp_ump_upgrade_init(&x->up);
  x->midi2 = protocol == 2;
  luaL_setmetatable(L, XLAT_MT);
  return 1;
}

/* translator:to_ump(bytes) -> { words } (whole messages; what a message
 * still needs is kept for the next call) */
static int l_xlat_to_ump(lua_State *L) {
  rml_xlat *x = rml_self(L, XLAT_MT);
  size_t len;
  const uint8_t *b = (const uint8_t *)luaL_checklstring(L, 2, &len);
  lua_createtable(L, (int)(len / 3 * 2), 0);
  lua_Integer k = 0;
  for (size_t i = 0; i < len; i++) {
    uint32_t w[4], up[2];
    int n = rmp_ump_from_midi1_byte(&x->in, b[i], w);
    if (n <= 0) continue;
    const uint32_t *out = w;
    if (x->midi2 && rmp_ump_type(w[0]) == RMP_UMP_MT_MIDI1) {
      n = rmp_ump_upgrade_msg(&x->up, w[0], up);
      out = up;
    }
    for (int j = 0; j < n; j++) {
      lua_pushinteger(L, out[j]);
      lua_rawseti(L, -2, ++k);
    }
  }
  return 1;
}

/* ump_to_midi1({ words }) -> bytes: each whole message's MIDI 1.0 form
 * (MIDI 2.0 channel voice down-scaled; SysEx7 packets as their bytes, F0
 * before a start, F7 after an end); messages without one are left out. */
static int l_ump_to_midi1(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  size_t n;
  uint32_t *w = read_words(L, 1, &n, "words");
  if (!rmp_ump_whole(w, n)) return rml_arg_error(L, "words", "whole UMP messages expected");
  luaL_Buffer out;
  luaL_buffinit(L, &out);
  rmp_ump_iter it;
  rmp_ump_iter_init(&it, w, n);
  const uint32_t *msg;
  unsigned len;
  while (rmp_ump_next(&it, &msg, &len) == 1) {
    uint8_t b[RMP_UMP_MIDI1_MAX];
    int k = rmp_ump_to_midi1(msg, len, b, sizeof b);
    if (k > 0) luaL_addlstring(&out, (const char *)b, (size_t)k);
  }
  luaL_pushresult(&out);
  return 1;
}

static const luaL_Reg xlat_methods[] = {
  {"to_ump", l_xlat_to_ump},
  {NULL, NULL},
};

void rml_open_midi2(lua_State *L) {
  rml_open_class(L, MIDI2_MT, methods, l_gc, "midi2", l_midi2);
  /* the codec table of rml_open_codec */
  if (lua_getfield(L, -1, "codec") == LUA_TTABLE) {
    lua_pushcfunction(L, l_encode_midi2);
    lua_setfield(L, -2, "encode_midi2");
    lua_pushcfunction(L, l_decode_midi2);
    lua_setfield(L, -2, "decode_midi2");
    rml_new_class(L, XLAT_MT, xlat_methods);
    lua_pop(L, 1);
    lua_pushcfunction(L, l_ump_translator);
    lua_setfield(L, -2, "ump_translator");
    lua_pushcfunction(L, l_ump_to_midi1);
    lua_setfield(L, -2, "ump_to_midi1");
  }
  lua_pop(L, 1);
}
