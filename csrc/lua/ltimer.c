/* rtpmidi.core.timer: one-shot and repeating timers on the loop. */
#include "lbind.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TIMER_MT "rtpmidi.Timer"

typedef struct rml_timer_impl {
  uv_timer_t handle;
  struct rml_timer *ud;      /* NULL once the Lua side let go */
} rml_timer_impl;

typedef struct rml_timer {
  rml_timer_impl *impl;      /* NULL once cancelled or fired (one-shot) */
  rml_state *st;
  int fn_ref, self_ref;
  int repeating;
} rml_timer;

static void on_closed(uv_handle_t *h) { free(h->data); }

/* Stops the timer and releases its references; memory goes in on_closed. */
static void finish(lua_State *L, rml_timer *t) {
  if (t->impl) {
    uv_timer_stop(&t->impl->handle);
    t->impl->ud = NULL;
    uv_close((uv_handle_t *)&t->impl->handle, on_closed);
    t->impl = NULL;
  }
  luaL_unref(L, LUA_REGISTRYINDEX, t->fn_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, t->self_ref);
  t->fn_ref = t->self_ref = LUA_NOREF;
}

static void on_timer(uv_timer_t *h) {
  rml_timer_impl *impl = h->data;
  rml_timer *t = impl->ud;
  if (!t) return;
  lua_State *L = t->st->L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->fn_ref);
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->self_ref);   /* fn(handle) */
  if (!t->repeating) {
    /* A one-shot timer is done before its function runs, so the function
     * may start new timers freely; the handle stays referenced on the stack. */
    finish(L, t);
  }
  rml_call(t->st, 1);
}

/* timer(ms, repeat_ms, fn) -> handle; repeat_ms 0: once. */
static int l_timer(lua_State *L) {
  rml_state *st = rml_get_state(L);
  lua_Number ms = luaL_checknumber(L, 1);
  lua_Number rep = luaL_checknumber(L, 2);
  if (ms < 0 || ms != ms) return rml_arg_error(L, "ms", "non-negative number expected");
  if (rep < 0 || rep != rep) return rml_arg_error(L, "repeat", "non-negative number expected");
  if (!lua_isfunction(L, 3)) return rml_arg_error(L, "fn", "function expected");
  rml_timer *t = lua_newuserdatauv(L, sizeof *t, 0);
  memset(t, 0, sizeof *t);
  t->fn_ref = t->self_ref = LUA_NOREF;
  luaL_setmetatable(L, TIMER_MT);
  t->impl = calloc(1, sizeof *t->impl);
  if (!t->impl) return luaL_error(L, "out of memory");
  int r = uv_timer_init(st->loop, &t->impl->handle);
  if (r) {
    free(t->impl);
    t->impl = NULL;
    return rml_push_uv_error(L, r);
  }
  t->impl->handle.data = t->impl;
  t->impl->ud = t;
  t->st = st;
  t->repeating = rep > 0;
  lua_pushvalue(L, 3);
  t->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushvalue(L, -1);
  t->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  /* libuv counts whole milliseconds from the loop time, which is the clock
   * rounded down: add the fraction it dropped so that a timer is never early. */
  uv_update_time(st->loop);
  double frac = (double)uv_hrtime() / 1e6 - (double)uv_now(st->loop);
  uint64_t due = (uint64_t)ceil(ms + frac);
  uint64_t every = rep > 0 ? (uint64_t)ceil(rep) : 0;
  uv_timer_start(&t->impl->handle, on_timer, due, every);
  return 1;
}

static int l_cancel(lua_State *L) {
  finish(L, luaL_checkudata(L, 1, TIMER_MT));
  return 0;
}

static int l_active(lua_State *L) {
  rml_timer *t = luaL_checkudata(L, 1, TIMER_MT);
  lua_pushboolean(L, t->impl != NULL);
  return 1;
}

static int l_gc(lua_State *L) {
  rml_timer *t = luaL_checkudata(L, 1, TIMER_MT);
  if (t->impl) {
    /* Only reachable at lua_close: an active timer holds itself. */
    uv_timer_stop(&t->impl->handle);
    t->impl->ud = NULL;
    uv_close((uv_handle_t *)&t->impl->handle, on_closed);
    t->impl = NULL;
  }
  return 0;
}

static const luaL_Reg methods[] = {
  {"cancel", l_cancel},
  {"active", l_active},
  {NULL, NULL},
};

void rml_open_timer(lua_State *L) {
  if (luaL_newmetatable(L, TIMER_MT)) {
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  lua_pushcfunction(L, l_timer);
  lua_setfield(L, -2, "timer");
}
