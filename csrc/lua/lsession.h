/* What the bindings of the sessions holding one RTP session (lsession.c:
 * the RTP session itself; lmidisession.c: an RFC 6295 MIDI session) do
 * alike around their core: the owner held while started, with the cookie
 * its callbacks get; the RTP session's stop run with `stopping` raised (its
 * callbacks see a session that is not started, lbind.h); close and __gc
 * freeing the core; started(), media_time() and local_port() of the RTP
 * session. Each userdata is one of these. */
#ifndef RTPMIDI_LUA_LSESSION_H
#define RTPMIDI_LUA_LSESSION_H

#include "lbind.h"

typedef struct rml_session {
  const void *tag;          /* the class's tag: first (lbind.h, rml_self_tagged) */
  void *core;               /* the core object; NULL once closed */
  rtpmidi_session *s;       /* its RTP session (the core of an RTPSession); NULL once closed */
  void (*free)(void *core);
  rml_state *st;
  int owner_ref;            /* the owning Lua object while started */
  int stopping;             /* inside method stop (lbind.h) */
  lua_Integer cookie;
} rml_session;

/* Pushes a new userdata of the class (tag, tname) with no core yet. */
rml_session *rml_session_push(lua_State *L, rml_state *st, const void *tag, const char *tname,
                              void (*free_core)(void *core));
/* The binding object a method was called on, raising when it is closed. */
rml_session *rml_session_check(lua_State *L, const void *tag, const char *tname);

/* method start(owner, cookie) -> true | nil, err, code */
int rml_session_start(lua_State *L, rml_session *ls);
/* method stop(): the RTP session's stop (it delivers what the jitter
 * buffer holds) and the owner let go. */
int rml_session_stop(lua_State *L, rml_session *ls);
/* method close() */
int rml_session_close(lua_State *L, rml_session *ls);
/* __gc: frees the core, no Lua call */
int rml_session_gc(rml_session *ls);
int rml_session_started(lua_State *L, rml_session *ls);
int rml_session_media_time(lua_State *L, rml_session *ls);
int rml_session_local_port(lua_State *L, rml_session *ls);

#endif
