/* Internals of the Lua binding. */
#ifndef RML_BIND_H
#define RML_BIND_H

#include <lauxlib.h>
#include <lua.h>

#include "rtpmidi.h"

typedef struct rml_state {
  lua_State *L;          /* the main thread: callbacks always run there */
  uv_loop_t *loop;
  uv_loop_t own_loop;
  int owns_loop;
  rtpmidi_runtime *rt;
  int error_ref;         /* Lua function reporting callback errors */
  /* The callback names rml_push_method was given, interned once: the
   * registry refs of their Lua strings, found by the C pointer (names are
   * string literals), so that a lookup hashes and compares no string. */
  struct rml_key { const char *name; int ref; } keys[16];
} rml_state;

rml_state *rml_get_state(lua_State *L);
/* Calls the function below nargs arguments on st->L in protected mode; an
 * error is reported with its traceback through the error handler and the
 * loop goes on. Returns 1 when the call succeeded (its results popped).
 *
 * Re-entry: the Lua code called may do anything to the object whose
 * callback runs: stop it, close it (control:remove_session) and drop every
 * reference to it, after which a garbage collection step frees its
 * userdata. A C callback therefore uses nothing of its binding object (the
 * userdata, its refs, its core pointer) once a call into Lua returned:
 * what a second call needs is pushed before the first (lmidisession.c's
 * on_drop), bookkeeping is done before the call (lapplemidi.c's on_left).
 * The core objects themselves may be freed from inside their callbacks
 * (csrc/test/test_reentry.c). */
int rml_call(rml_state *st, int nargs);
/* The same on another thread (a coroutine calling into us). */
int rml_pcall(rml_state *st, lua_State *L, int nargs);
/* The Lua object that owns a core object (a session) receives its callbacks
 * as methods. rml_push_method pushes the message handler, owner[name] and
 * the owner on st->L for rml_call (which then finds its handler in place),
 * or returns 0 (nothing pushed) when there is no such function or no owner.
 * name: a string literal (its key is interned once, found by its address).
 * The method is looked up on each call (a script may redefine it at any
 * time, live coding does); the lookup is one gettable with a ready key.
 * The owner is held in the registry while the object runs. */
int rml_push_method(rml_state *st, int owner_ref, const char *name);
void rml_hold_owner(lua_State *L, int *owner_ref, int idx);
/* Makes the metatable tname (unless it exists) with the methods as its
 * __index, each holding the metatable as its upvalue for rml_self; leaves
 * the metatable on the stack. */
void rml_new_class(lua_State *L, const char *tname, const luaL_Reg *methods);
/* A session class: rml_new_class with gc as __gc, and ctor as the field
 * `name` of the module table (at the top of the stack). */
void rml_open_class(lua_State *L, const char *tname, const luaL_Reg *methods, lua_CFunction gc,
                    const char *name, lua_CFunction ctor);
/* The userdata at index 1 of a method made by rml_new_class. luaL_checkudata
 * finds the metatable by name, a string compare on every call (sends run
 * once per packet and showed in profiles): the upvalue spares it. A
 * mismatch goes to luaL_checkudata for its usual error. */
void *rml_self(lua_State *L, const char *tname);
/* The same by a tag: the userdata's first member is `const void *tag`,
 * set to the class's tag (the address of a static object of its file) when
 * made. A look at two words instead of fetching and comparing the metatable
 * (twice per send_data: started() and send()). A Lua script cannot forge a
 * full userdata's contents, and one shorter than a pointer is not looked at;
 * a mismatch goes to luaL_checkudata for its usual error. */
void *rml_self_tagged(lua_State *L, const void *tag, const char *tname);
void rml_release_owner(lua_State *L, int *owner_ref);
/* A session's stop runs callbacks (AppleMIDI's participant_left "stopped",
 * packets the jitter buffer releases, a drop reported by the last send).
 * While it runs, the binding's started() says false (sends and invites from
 * those callbacks get ENOTCONN instead of being lost with the sockets) and
 * start() refuses with this: pushes nil, message, "EBUSY"; returns 3. */
int rml_push_stopping(lua_State *L);
/* Pushes nil, "ECODE: message", "ECODE" and returns 3. */
int rml_push_uv_error(lua_State *L, int err);
/* Pushes true for r == 0, else nil, message, code; with invalid_midi (the
 * reason bytes given to send were not MIDI) the message says so. */
int rml_push_result(lua_State *L, int r, const char *invalid_midi);
/* s:send(data, timestamp|nil, marker) for any session holding an RTP session:
 * arguments from index 2; returns rml_push_result's values. */
int rml_session_send(lua_State *L, rtpmidi_session *s);
/* Raises "bad argument 'name' (msg)". */
int rml_arg_error(lua_State *L, const char *name, const char *msg);
/* Option k of the table at t, def when missing; any other type raises
 * naming k. A string stays alive in the table (the stack is as before). */
lua_Integer rml_opt_int(lua_State *L, int t, const char *k, lua_Integer def);
double rml_opt_num(lua_State *L, int t, const char *k, double def);
bool rml_opt_bool(lua_State *L, int t, const char *k, bool def);
const char *rml_opt_str(lua_State *L, int t, const char *k);
/* The end of a constructor that made its userdata (on top) with a core
 * *_new returning r: 1 (the userdata), or a raise naming the refused field,
 * or nil, err, code for a failure at run time. */
int rml_new_result(lua_State *L, int r, const rtpmidi_error *e);

void rml_read_session_config(lua_State *L, int idx, rtpmidi_session_config *cfg);
/* The integer option k of the table at t for an unsigned C field: missing
 * is 0, and a value the field cannot hold becomes UINT_MAX (which the C
 * core's range checks refuse) instead of wrapping into range. */
unsigned rml_opt_uint_sat(lua_State *L, int t, const char *k);
void rml_push_session_stats(lua_State *L, const rtpmidi_session *s);

void rml_open_session(lua_State *L);
void rml_open_midi_session(lua_State *L);
void rml_open_applemidi(lua_State *L);
/* Pushes discovered services as { {name=, host=, address=, port=
 * [, endpoint_name=, product_instance_id=]}, ... } (lapplemidi.c). */
void rml_push_services(lua_State *L, const rtpmidi_service *v, size_t n);
void rml_open_codec(lua_State *L);
void rml_open_midi2(lua_State *L); /* after rml_open_codec: adds to its table */
void rml_open_watch(lua_State *L);
void rml_open_signal(lua_State *L);
void rml_open_timer(lua_State *L);
void rml_open_udp(lua_State *L);
void rml_open_stdin(lua_State *L);
void rml_open_midi(lua_State *L);

#endif
