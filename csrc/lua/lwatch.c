/* rtpmidi.core.watch(path, interval_ms, fn): calls fn(path) on the loop when
 * the file changes (size, time or inode: editors that replace the file are
 * seen too). Returns a handle with :cancel(). */
#include "lbind.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define WATCH_MT "rtpmidi.Watch"

typedef struct rml_watch_impl {
  uv_fs_poll_t handle;
  struct rml_watch *ud;
} rml_watch_impl;

typedef struct rml_watch {
  rml_watch_impl *impl;
  rml_state *st;
  int fn_ref, self_ref;
} rml_watch;

static void on_closed(uv_handle_t *h) { free(h->data); }

static void finish(lua_State *L, rml_watch *w) {
  if (w->impl) {
    uv_fs_poll_stop(&w->impl->handle);
    w->impl->ud = NULL;
    uv_close((uv_handle_t *)&w->impl->handle, on_closed);
    w->impl = NULL;
  }
  luaL_unref(L, LUA_REGISTRYINDEX, w->fn_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, w->self_ref);
  w->fn_ref = w->self_ref = LUA_NOREF;
}

static void on_change(uv_fs_poll_t *h, int status, const uv_stat_t *prev, const uv_stat_t *curr) {
  (void)prev;
  (void)curr;
  rml_watch_impl *impl = h->data;
  rml_watch *w = impl->ud;
  if (!w) return;
  lua_State *L = w->st->L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, w->fn_ref);
  lua_rawgeti(L, LUA_REGISTRYINDEX, w->self_ref);
  if (status < 0) lua_pushstring(L, uv_err_name(status));
  else lua_pushnil(L);
  rml_call(w->st, 2);
}

static int l_watch(lua_State *L) {
  rml_state *st = rml_get_state(L);
  const char *path = luaL_checkstring(L, 1);
  lua_Integer interval = luaL_checkinteger(L, 2);
  if (interval < 1) return rml_arg_error(L, "interval", "milliseconds >= 1 expected");
  if (!lua_isfunction(L, 3)) return rml_arg_error(L, "fn", "function expected");
  rml_watch *w = lua_newuserdatauv(L, sizeof *w, 0);
  memset(w, 0, sizeof *w);
  w->fn_ref = w->self_ref = LUA_NOREF;
  luaL_setmetatable(L, WATCH_MT);
  w->impl = calloc(1, sizeof *w->impl);
  if (!w->impl) return luaL_error(L, "out of memory");
  int r = uv_fs_poll_init(st->loop, &w->impl->handle);
  if (r) {
    free(w->impl);
    w->impl = NULL;
    return rml_push_uv_error(L, r);
  }
  w->impl->handle.data = w->impl;
  w->impl->ud = w;
  w->st = st;
  r = uv_fs_poll_start(&w->impl->handle, on_change, path, (unsigned)interval);
  if (r) {
    finish(L, w);
    return rml_push_uv_error(L, r);
  }
  lua_pushvalue(L, 3);
  w->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushvalue(L, -1);
  w->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 1;
}

static int l_cancel(lua_State *L) {
  finish(L, luaL_checkudata(L, 1, WATCH_MT));
  return 0;
}

static int l_gc(lua_State *L) {
  rml_watch *w = luaL_checkudata(L, 1, WATCH_MT);
  if (w->impl) {
    uv_fs_poll_stop(&w->impl->handle);
    w->impl->ud = NULL;
    uv_close((uv_handle_t *)&w->impl->handle, on_closed);
    w->impl = NULL;
  }
  return 0;
}

static const luaL_Reg methods[] = {
  {"cancel", l_cancel},
  {NULL, NULL},
};

void rml_open_watch(lua_State *L) {
  if (luaL_newmetatable(L, WATCH_MT)) {
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  lua_pushcfunction(L, l_watch);
  lua_setfield(L, -2, "watch");
}

/* rtpmidi.core.signal(name, fn): calls fn(name) on the loop when the process
 * gets the signal ("SIGINT", "SIGTERM", "SIGHUP", "SIGWINCH": the terminal
 * was resized). Returns a handle with
 * :cancel(). The handle does not keep the loop alive. */
#define SIGNAL_MT "rtpmidi.Signal"

typedef struct rml_signal_impl {
  uv_signal_t handle;
  struct rml_signal *ud;
} rml_signal_impl;

typedef struct rml_signal {
  rml_signal_impl *impl;
  rml_state *st;
  int fn_ref, self_ref;
  const char *name;
} rml_signal;

static void sig_finish(lua_State *L, rml_signal *s) {
  if (s->impl) {
    uv_signal_stop(&s->impl->handle);
    s->impl->ud = NULL;
    uv_close((uv_handle_t *)&s->impl->handle, on_closed);
    s->impl = NULL;
  }
  luaL_unref(L, LUA_REGISTRYINDEX, s->fn_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, s->self_ref);
  s->fn_ref = s->self_ref = LUA_NOREF;
}

static void on_signal(uv_signal_t *h, int signum) {
  (void)signum;
  rml_signal_impl *impl = h->data;
  rml_signal *s = impl->ud;
  if (!s) return;
  lua_State *L = s->st->L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, s->fn_ref);
  lua_pushstring(L, s->name);
  rml_call(s->st, 1);
}

static int l_signal(lua_State *L) {
  static const char *const names[] = {"SIGINT", "SIGTERM", "SIGHUP", "SIGWINCH", NULL};
  static const int nums[] = {SIGINT, SIGTERM, SIGHUP, SIGWINCH};
  rml_state *st = rml_get_state(L);
  int which = luaL_checkoption(L, 1, NULL, names);
  if (!lua_isfunction(L, 2)) return rml_arg_error(L, "fn", "function expected");
  rml_signal *s = lua_newuserdatauv(L, sizeof *s, 0);
  memset(s, 0, sizeof *s);
  s->fn_ref = s->self_ref = LUA_NOREF;
  s->name = names[which];
  luaL_setmetatable(L, SIGNAL_MT);
  s->impl = calloc(1, sizeof *s->impl);
  if (!s->impl) return luaL_error(L, "out of memory");
  int r = uv_signal_init(st->loop, &s->impl->handle);
  if (r) {
    free(s->impl);
    s->impl = NULL;
    return rml_push_uv_error(L, r);
  }
  s->impl->handle.data = s->impl;
  s->impl->ud = s;
  s->st = st;
  r = uv_signal_start(&s->impl->handle, on_signal, nums[which]);
  if (r) {
    sig_finish(L, s);
    return rml_push_uv_error(L, r);
  }
  uv_unref((uv_handle_t *)&s->impl->handle);
  lua_pushvalue(L, 2);
  s->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushvalue(L, -1);
  s->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 1;
}

static int l_sig_cancel(lua_State *L) {
  sig_finish(L, luaL_checkudata(L, 1, SIGNAL_MT));
  return 0;
}

static int l_sig_gc(lua_State *L) {
  rml_signal *s = luaL_checkudata(L, 1, SIGNAL_MT);
  if (s->impl) {
    uv_signal_stop(&s->impl->handle);
    s->impl->ud = NULL;
    uv_close((uv_handle_t *)&s->impl->handle, on_closed);
    s->impl = NULL;
  }
  return 0;
}

static const luaL_Reg sig_methods[] = {
  {"cancel", l_sig_cancel},
  {NULL, NULL},
};

void rml_open_signal(lua_State *L) {
  if (luaL_newmetatable(L, SIGNAL_MT)) {
    luaL_newlib(L, sig_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_sig_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  lua_pushcfunction(L, l_signal);
  lua_setfield(L, -2, "signal");
}
