/* What the bindings of sessions with peers (lapplemidi.c: AppleMIDI
 * participants; lmidi2.c: Network MIDI 2.0 clients) do alike around their
 * core: one Lua table per peer, kept by id in a registry table for as long
 * as the peer is in the session; the owner held while started; the core's
 * stop run with `stopping` raised (its callbacks see a session that is not
 * started, lbind.h); close freeing the core unless a callback of that stop
 * closed it first. The binding keeps its own typed fields and names them
 * here by address. */
#ifndef RTPMIDI_LUA_LPEERED_H
#define RTPMIDI_LUA_LPEERED_H

#include "lbind.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct rml_core_ops {
  int (*start)(void *core);
  void (*stop)(void *core);
  void (*free)(void *core);
  bool (*started)(void *core);
} rml_core_ops;

typedef struct rml_peered {
  const rml_core_ops *ops;
  void *core;      /* the binding's core; NULL once closed */
  int *owner_ref;  /* the owning Lua object (LUA_NOREF: none) */
  int *peers_ref;  /* id -> peer table; LUA_NOREF once closed */
  int *stopping;   /* inside the core's stop */
} rml_peered;

/* Pushes the peer's table (made, and registered, on first sight). True
 * when it was made now: its fields are to be filled. */
bool rml_peer_push(lua_State *L, int peers_ref, uint32_t id);
/* The peer leaves: its table is no longer the session's. */
void rml_peer_forget(lua_State *L, int peers_ref, uint32_t id);

/* The core's stop, with *stopping raised while it runs. */
void rml_peered_stop(rml_peered p);
/* method start(owner): holds the owner (index 2) and starts the core.
 * true | nil, err, code. */
int rml_peered_start(lua_State *L, rml_peered p);
/* method stop(): stops the core (when open) and lets the owner go. */
int rml_peered_l_stop(lua_State *L, rml_peered p);
/* method close(): stops, frees the core and its peers' tables, lets the
 * owner go. True when it freed the core now: the binding sets its core
 * pointer to NULL (a callback of the stop may have closed it already). */
bool rml_peered_close(lua_State *L, rml_peered p);
/* method started() */
int rml_peered_started(lua_State *L, rml_peered p);

#endif
