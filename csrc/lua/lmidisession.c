/* rtpmidi.core.midi_session: an RFC 6295 MIDI session as a userdata. The Lua
 * object that owns it (a MidiSession) receives incoming_midi and drop_call. */
#include "lsession.h"

#include <stdint.h>
#include <string.h>

#define MIDI_SESSION_MT "rtpmidi.MidiSessionCore"

static const char MIDI_TAG = 'm'; /* rml_self_tagged */

/* The userdata: an rml_session (lsession.h) whose core is the MIDI
 * session, its RTP session the one the MIDI session holds. */
typedef rml_session rml_midi;

static rml_midi *self(lua_State *L) { return rml_self_tagged(L, &MIDI_TAG, MIDI_SESSION_MT); }
static rml_midi *check_midi(lua_State *L) { return rml_session_check(L, &MIDI_TAG, MIDI_SESSION_MT); }
static rtpmidi_midi_session *core(rml_midi *lm) { return lm->core; }
static void free_core(void *m) { rtpmidi_midi_session_free(m); }

static void on_midi(void *ud, const uint8_t *msg, size_t len, double time_ms, bool recovered) {
  rml_midi *lm = ud;
  if (!rml_push_method(lm->st, lm->owner_ref, "incoming_midi")) return;
  lua_State *L = lm->st->L;
  lua_pushlstring(L, (const char *)msg, len);
  lua_pushnumber(L, time_ms);
  lua_pushboolean(L, recovered);
  rml_call(lm->st, 4);
}

/* Two calls: _silence (no note left sounding on the output device when the
 * peer is gone), then drop_call. Both are on the stack before the first
 * runs: it may close the session, after which nothing of lm may be used
 * (lbind.h). */
static void on_drop(void *ud, const char *reason, const char *detail) {
  rml_midi *lm = ud;
  rml_state *st = lm->st;
  lua_State *L = st->L;
  int drop = rml_push_method(st, lm->owner_ref, "drop_call");
  if (drop) {
    lua_pushinteger(L, lm->cookie);
    lua_pushstring(L, reason);
    lua_pushstring(L, detail);
  }
  if (rml_push_method(st, lm->owner_ref, "_silence")) rml_call(st, 1);
  if (drop) rml_call(st, 4);
}

static int l_midi_session(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  rml_state *st = rml_get_state(L);
  rtpmidi_midi_config cfg;
  memset(&cfg, 0, sizeof cfg);
  /* missing options stay 0: the C core's defaults (payload type 97 for -1) */
  rml_read_session_config(L, 1, &cfg.rtp);
  lua_getfield(L, 1, "payload_budget");
  lua_Integer budget = luaL_optinteger(L, -1, 0);
  cfg.payload_budget = budget < 0 ? SIZE_MAX : (size_t)budget; /* refused by the C core */
  lua_getfield(L, 1, "max_sysex");
  lua_Integer max_sysex = luaL_optinteger(L, -1, 0);
  if (max_sysex < 0) return rml_arg_error(L, "max_sysex", "octets >= 1 expected");
  cfg.max_sysex = (size_t)max_sysex;
  lua_getfield(L, 1, "recovery");
  cfg.recovery = lua_toboolean(L, -1);
  /* the journal receiver's options: nil is the RFC's behaviour (true) */
  lua_getfield(L, 1, "journal_trust_s_bits");
  cfg.journal_ignore_s_bits = !lua_isnil(L, -1) && !lua_toboolean(L, -1);
  lua_getfield(L, 1, "journal_honor_y");
  cfg.journal_ignore_y = !lua_isnil(L, -1) && !lua_toboolean(L, -1);
  lua_pop(L, 5);
  cfg.journal_history = rml_opt_uint_sat(L, 1, "journal_history");
  rml_midi *lm = rml_session_push(L, st, &MIDI_TAG, MIDI_SESSION_MT, free_core);
  rtpmidi_midi_events ev = {.on_midi = on_midi, .on_drop = on_drop};
  rtpmidi_error e;
  rtpmidi_midi_session *m = NULL;
  int r = rtpmidi_midi_session_new(st->rt, &cfg, &ev, lm, &m, &e);
  if (m) {
    lm->core = m;
    lm->s = rtpmidi_midi_session_rtp(m);
  }
  return rml_new_result(L, r, &e);
}

static int l_start(lua_State *L) { return rml_session_start(L, check_midi(L)); }

static int l_stop(lua_State *L) {
  rml_midi *lm = self(L);  /* index 1 keeps it alive through the callbacks */
  if (lm->core) {
    /* a drop reported by the send, which may close the session */
    lm->stopping++;
    rtpmidi_midi_session_flush(core(lm));
    lm->stopping--;
  }
  return rml_session_stop(L, lm);
}

static int l_close(lua_State *L) { return rml_session_close(L, self(L)); }

/* m:send_midi(bytes[, time]) -> true | nil, err, code */
static int l_send_midi(lua_State *L) {
  rml_midi *lm = check_midi(L);
  size_t n;
  const char *bytes = luaL_checklstring(L, 2, &n);
  double t = luaL_optnumber(L, 3, -1);
  rtpmidi_error e;
  int r = rtpmidi_midi_session_send_at(core(lm), (const uint8_t *)bytes, n, t, &e);
  return rml_push_result(L, r, r == UV_EINVAL ? e.message : NULL);
}

static int l_flush(lua_State *L) {
  return rml_push_result(L, rtpmidi_midi_session_flush(core(check_midi(L))), NULL);
}

/* m:send(data, timestamp, marker): a raw RTP packet (RTPSession:send_data). */
static int l_send(lua_State *L) { return rml_session_send(L, check_midi(L)->s); }

static int l_started(lua_State *L) { return rml_session_started(L, self(L)); }
static int l_media_time(lua_State *L) { return rml_session_media_time(L, check_midi(L)); }
static int l_local_port(lua_State *L) { return rml_session_local_port(L, check_midi(L)); }

static int l_stats(lua_State *L) {
  rml_midi *lm = check_midi(L);
  rml_push_session_stats(L, lm->s);
  rtpmidi_midi_stats ms;
  rtpmidi_midi_session_get_stats(core(lm), &ms);
#define SET(name) (lua_pushinteger(L, (lua_Integer)ms.name), lua_setfield(L, -2, #name))
  SET(messages_sent);
  SET(messages_received);
  SET(messages_recovered);
  SET(malformed_payloads);
  SET(sysex_dropped);
  SET(journal_bytes_sent);
  SET(guard_packets);
  SET(repairs);
  SET(unrecovered);
  SET(bad_journals);
  SET(messages_released);
  SET(repairs_over_budget);
  SET(checkpoint);
#undef SET
  lua_pushboolean(L, ms.unconfirmed);
  lua_setfield(L, -2, "unconfirmed");
  lua_pushboolean(L, ms.journal_sender);
  lua_setfield(L, -2, "journal_sender");
  lua_pushboolean(L, ms.journal_receiver);
  lua_setfield(L, -2, "journal_receiver");
  return 1;
}

static int l_gc(lua_State *L) {
  return rml_session_gc(luaL_checkudata(L, 1, MIDI_SESSION_MT)); /* __gc: no method upvalue */
}

static const luaL_Reg methods[] = {
  {"start", l_start},
  {"stop", l_stop},
  {"close", l_close},
  {"send", l_send},
  {"send_midi", l_send_midi},
  {"flush", l_flush},
  {"started", l_started},
  {"media_time", l_media_time},
  {"local_port", l_local_port},
  {"stats", l_stats},
  {NULL, NULL},
};

void rml_open_midi_session(lua_State *L) {
  rml_open_class(L, MIDI_SESSION_MT, methods, l_gc, "midi_session", l_midi_session);
}
