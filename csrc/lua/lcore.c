/* rtpmidi.core: the module, its per-state data, the loop and the one
 * protected-call routine every callback goes through. */
#include "lbind.h"
#include "rtpmidi_lua.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef RTPMIDI_VERSION
#define RTPMIDI_VERSION "0.0.0"
#endif

static const char STATE_KEY[] = "rtpmidi.state";
static const char LOOP_KEY[] = "rtpmidi.host_loop";

void rtpmidi_lua_set_loop(lua_State *L, uv_loop_t *loop) {
  lua_pushlightuserdata(L, loop);
  lua_setfield(L, LUA_REGISTRYINDEX, LOOP_KEY);
}

rml_state *rml_get_state(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, STATE_KEY);
  rml_state *st = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (!st) luaL_error(L, "rtpmidi.core is not initialised in this Lua state");
  return st;
}

int rml_push_uv_error(lua_State *L, int err) {
  lua_pushnil(L);
  lua_pushfstring(L, "%s: %s", uv_err_name(err), uv_strerror(err));
  lua_pushstring(L, uv_err_name(err));
  return 3;
}

int rml_push_result(lua_State *L, int r, const char *invalid_midi) {
  if (r == UV_EINVAL && invalid_midi) {
    lua_pushnil(L);
    lua_pushfstring(L, "invalid MIDI: %s", invalid_midi);
    lua_pushliteral(L, "EINVAL");
    return 3;
  }
  if (r) return rml_push_uv_error(L, r);
  lua_pushboolean(L, 1);
  return 1;
}

int rml_arg_error(lua_State *L, const char *name, const char *msg) {
  return luaL_error(L, "bad argument '%s' (%s)", name, msg);
}

static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (!msg) msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  luaL_traceback(L, L, msg, 1);
  return 1;
}

static void report(rml_state *st, lua_State *L, int msg_index) {
  if (st->error_ref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, st->error_ref);
    lua_pushvalue(L, msg_index);
    if (lua_pcall(L, 1, 0, 0) == LUA_OK) return;
    fprintf(stderr, "rtpmidi: the error handler failed: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  fprintf(stderr, "rtpmidi: error in callback: %s\n", lua_tostring(L, msg_index));
}

int rml_pcall(rml_state *st, lua_State *L, int nargs) {
  int base = lua_gettop(L) - nargs;   /* the function's index */
  lua_pushcfunction(L, traceback);
  lua_insert(L, base);
  int ok = lua_pcall(L, nargs, 0, base) == LUA_OK;
  if (!ok) report(st, L, lua_gettop(L));
  lua_settop(L, base - 1); /* the handler (and the message): no lua_remove, a
                              rotation that counts once per packet */
  return ok;
}

int rml_call(rml_state *st, int nargs) { return rml_pcall(st, st->L, nargs); }

int rml_push_method(rml_state *st, int owner_ref, const char *name) {
  lua_State *L = st->L;
  if (owner_ref == LUA_NOREF) return 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, owner_ref);
  if (lua_getfield(L, -1, name) != LUA_TFUNCTION) {
    lua_pop(L, 2);
    return 0;
  }
  lua_insert(L, -2);
  return 1;
}

void rml_hold_owner(lua_State *L, int *owner_ref, int idx) {
  if (*owner_ref != LUA_NOREF) return;
  lua_pushvalue(L, idx);
  *owner_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

void rml_new_class(lua_State *L, const char *tname, const luaL_Reg *methods) {
  if (!luaL_newmetatable(L, tname)) return;
  lua_newtable(L);
  lua_pushvalue(L, -2);
  luaL_setfuncs(L, methods, 1);
  lua_setfield(L, -2, "__index");
}

void *rml_self(lua_State *L, const char *tname) {
  void *p = lua_touserdata(L, 1);
  if (p && lua_getmetatable(L, 1)) {
    int ok = lua_rawequal(L, -1, lua_upvalueindex(1));
    lua_pop(L, 1);
    if (ok) return p;
  }
  return luaL_checkudata(L, 1, tname);
}

void rml_release_owner(lua_State *L, int *owner_ref) {
  luaL_unref(L, LUA_REGISTRYINDEX, *owner_ref);
  *owner_ref = LUA_NOREF;
}

/* Closing every handle left on our own loop when the Lua state goes away. */
static void close_walk(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

static int state_gc(lua_State *L) {
  rml_state *st = lua_touserdata(L, 1);
  if (st->rt) {
    rtpmidi_runtime_free(st->rt);
    st->rt = NULL;
  }
  if (st->owns_loop) {
    /* Handles still open belong to collected objects whose memory is freed in
     * their close callbacks: give those callbacks a chance to run. */
    uv_run(st->loop, UV_RUN_NOWAIT);
    uv_walk(st->loop, close_walk, NULL);
    uv_run(st->loop, UV_RUN_NOWAIT);
    uv_loop_close(st->loop);
    st->owns_loop = 0;
  }
  return 0;
}

static int l_now(lua_State *L) {
  lua_pushnumber(L, rtpmidi_now_ms());
  return 1;
}

static int l_run(lua_State *L) {
  static const char *const modes[] = {"default", "once", "nowait", NULL};
  static const uv_run_mode values[] = {UV_RUN_DEFAULT, UV_RUN_ONCE, UV_RUN_NOWAIT};
  int mode = luaL_checkoption(L, 1, "default", modes);
  rml_state *st = rml_get_state(L);
  lua_pushboolean(L, uv_run(st->loop, values[mode]) != 0);
  return 1;
}

static int l_stop_loop(lua_State *L) {
  uv_stop(rml_get_state(L)->loop);
  return 0;
}

typedef struct walk_ctx { lua_State *L; int n; } walk_ctx;

static void count_walk(uv_handle_t *h, void *arg) {
  walk_ctx *w = arg;
  if (uv_is_closing(h)) return;
  w->n++;
  lua_pushstring(w->L, uv_handle_type_name(uv_handle_get_type(h)));
  lua_rawseti(w->L, -2, w->n);
}

/* handles() -> count, { type names }: the handles open on the loop. */
static int l_handles(lua_State *L) {
  rml_state *st = rml_get_state(L);
  walk_ctx w = {L, 0};
  lua_newtable(L);
  uv_walk(st->loop, count_walk, &w);
  lua_pushinteger(L, w.n);
  lua_insert(L, -2);
  return 2;
}

static int l_set_error_handler(lua_State *L) {
  rml_state *st = rml_get_state(L);
  if (!lua_isnoneornil(L, 1)) luaL_checktype(L, 1, LUA_TFUNCTION);
  luaL_unref(L, LUA_REGISTRYINDEX, st->error_ref);
  st->error_ref = LUA_NOREF;
  if (!lua_isnoneornil(L, 1)) {
    lua_pushvalue(L, 1);
    st->error_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  return 0;
}

/* call(fn, ...): runs fn through the same routine as loop callbacks (for
 * the Lua side's start/stop callbacks). Returns true when it succeeded. */
static int l_call(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_pushboolean(L, rml_pcall(rml_get_state(L), L, lua_gettop(L) - 1));
  return 1;
}

/* die(name): ends the process by the signal ("SIGINT", "SIGTERM") as if it
 * were not caught, so that the parent sees how it ended (a shell: 130 for
 * SIGINT). A terminal in raw mode is put back first. */
static int l_die(lua_State *L) {
  static const char *const names[] = {"SIGINT", "SIGTERM", NULL};
  static const int nums[] = {SIGINT, SIGTERM};
  int sig = nums[luaL_checkoption(L, 1, NULL, names)];
  uv_tty_reset_mode();
  fflush(NULL);
  signal(sig, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  raise(sig);
  _exit(128 + sig); /* not reached */
}

static const luaL_Reg functions[] = {
  {"now", l_now},
  {"run", l_run},
  {"stop_loop", l_stop_loop},
  {"handles", l_handles},
  {"set_error_handler", l_set_error_handler},
  {"call", l_call},
  {"die", l_die},
  {NULL, NULL},
};

int luaopen_rtpmidi_core(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, STATE_KEY);
  int have_state = !lua_isnil(L, -1);
  lua_pop(L, 1);
  if (!have_state) {
    rml_state *st = lua_newuserdatauv(L, sizeof *st, 0);
    memset(st, 0, sizeof *st);
    st->error_ref = LUA_NOREF;
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    st->L = lua_tothread(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, LOOP_KEY);
    st->loop = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (!st->loop) {
      int r = uv_loop_init(&st->own_loop);
      if (r) return luaL_error(L, "rtpmidi: cannot create the event loop: %s", uv_strerror(r));
      st->loop = &st->own_loop;
      st->owns_loop = 1;
    }
    st->rt = rtpmidi_runtime_new(st->loop);
    if (!st->rt) return luaL_error(L, "rtpmidi: out of memory");
    lua_newtable(L);
    lua_pushcfunction(L, state_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, STATE_KEY);
  }
  lua_newtable(L);
  luaL_setfuncs(L, functions, 0);
  lua_pushstring(L, RTPMIDI_VERSION);
  lua_setfield(L, -2, "_VERSION");
  rml_open_session(L);
  rml_open_midi_session(L);
  rml_open_applemidi(L);
  rml_open_codec(L);
  rml_open_watch(L);
  rml_open_signal(L);
  rml_open_timer(L);
  rml_open_udp(L);
  rml_open_stdin(L);
  rml_open_midi(L);
  return 1;
}
