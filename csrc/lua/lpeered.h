/* What the bindings of sessions with peers (lapplemidi.c: AppleMIDI
 * participants; lmidi2.c: Network MIDI 2.0 clients) do alike around their
 * core: one Lua table per peer, kept by id in a registry table for as long
 * as the peer is in the session; the owner held while started; the core's
 * stop run with `stopping` raised (its callbacks see a session that is not
 * started, lbind.h); close freeing the core unless a callback of that stop
 * closed it first; the callbacks the two have alike (a message, a peer that
 * joins, leaves or could not be invited); the methods alike. Each binding's
 * userdata begins with an rml_peered, its core reached through the ops. */
#ifndef RTPMIDI_LUA_LPEERED_H
#define RTPMIDI_LUA_LPEERED_H

#include "lbind.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rml_core_ops {
  int (*start)(void *core);
  void (*stop)(void *core);
  void (*free)(void *core);
  bool (*started)(void *core);
  int (*port)(void *core);
  int (*disconnect)(void *core, uint32_t id);
  size_t (*discovered)(void *core, rtpmidi_service *v, size_t n);
  /* Sets the fields of the peer's table (on top) from the core's record of
   * it: a struct whose first member is its uint32_t id (rtpmidi.h). */
  void (*set_fields)(lua_State *L, const void *peer);
} rml_core_ops;

typedef struct rml_peered {
  const rml_core_ops *ops;
  void *core;     /* NULL once closed */
  rml_state *st;
  int owner_ref;  /* the owning Lua object (LUA_NOREF: none) */
  int peers_ref;  /* id -> peer table; LUA_NOREF once closed */
  int stopping;   /* inside the core's stop */
} rml_peered;

/* Pushes a new userdata of size octets (an rml_peered first) of the class
 * tname, with no core yet and no peers. */
rml_peered *rml_peered_new(lua_State *L, rml_state *st, const rml_core_ops *ops, const char *tname,
                           size_t size);
/* The userdata a method of the class tname was called on, raising when it
 * is closed. */
rml_peered *rml_peered_check(lua_State *L, const char *tname);

/* Pushes the peer's table (made, and registered, on first sight). True
 * when it was made now: its fields are to be filled. */
bool rml_peer_push(lua_State *L, int peers_ref, uint32_t id);
/* The peer leaves: its table is no longer the session's. */
void rml_peer_forget(lua_State *L, int peers_ref, uint32_t id);
/* Pushes the peer's table, made on first sight, its fields set when made
 * or with refresh. */
void rml_peered_push_peer(lua_State *L, rml_peered *p, const void *peer, bool refresh);
/* Pushes the owner's method name for rml_call, unless the session is
 * closed or has no such method: then false, nothing pushed. */
bool rml_peered_method(rml_peered *p, const char *name);

/* Callbacks of the core. After a call into Lua nothing of the binding is
 * used (lbind.h). */
/* incoming_midi(bytes, time, recovered, peer) */
void rml_peered_on_midi(rml_peered *p, const void *peer, const uint8_t *msg, size_t len, double time_ms,
                        bool recovered);
/* name(peer): participant_synced, client_joined, ... */
void rml_peered_on_peer(rml_peered *p, const char *name, const void *peer, bool refresh);
/* name(peer, reason): the peer's table leaves the session before the call
 * runs (it may close the session); it stays alive as the argument. */
void rml_peered_on_left(rml_peered *p, const char *name, const void *peer, const char *reason);
/* invitation_failed(address, port, reason) */
void rml_peered_on_invite_failed(rml_peered *p, const char *address, int port, const char *reason);

/* The core's stop, with stopping raised while it runs. */
void rml_peered_stop(rml_peered *p);
/* method start(owner): holds the owner (index 2) and starts the core.
 * true | nil, err, code. */
int rml_peered_start(lua_State *L, rml_peered *p);
/* method stop(): stops the core (when open) and lets the owner go. */
int rml_peered_l_stop(lua_State *L, rml_peered *p);
/* method close(): stops, frees the core and its peers' tables (unless a
 * callback of the stop closed it already), lets the owner go. */
int rml_peered_close(lua_State *L, rml_peered *p);
/* method started() */
int rml_peered_started(lua_State *L, rml_peered *p);
/* __gc: frees the core with no Lua calls from then on (the owner is gone,
 * or the state is closing). */
int rml_peered_gc(rml_peered *p);
/* method local_port() */
int rml_peered_local_port(lua_State *L, rml_peered *p);
/* method disconnect(id) -> true | false (no such peer) */
int rml_peered_disconnect(lua_State *L, rml_peered *p);
/* method discovered() -> services (rml_push_services) */
int rml_peered_discovered(lua_State *L, rml_peered *p);
/* The end of method invite: true, or what r says (a raise naming host for
 * UV_EINVAL and UV_EAFNOSUPPORT, else nil, err, code). */
int rml_peered_invite_result(lua_State *L, int r);
/* method participants() / clients(): the tables of the n peers of v, each
 * size octets, refreshed. */
int rml_peered_push_list(lua_State *L, rml_peered *p, const void *v, size_t n, size_t size);

#endif
