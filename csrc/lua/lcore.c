/* rtpmidi.core: the module, its per-state data, the loop and the one
 * protected-call routine every callback goes through. */
#include "lbind.h"
#include "rtpmidi_lua.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

int rml_push_stopping(lua_State *L) {
  lua_pushnil(L);
  lua_pushliteral(L, "EBUSY: the session is stopping (a callback of its stop cannot start it)");
  lua_pushliteral(L, "EBUSY");
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

int rml_new_result(lua_State *L, int r, const rtpmidi_error *e) {
  if (r == UV_EINVAL && e->field) return rml_arg_error(L, e->field, "invalid value");
  if (r) return rml_push_uv_error(L, r);
  return 1;
}

int rml_arg_error(lua_State *L, const char *name, const char *msg) {
  return luaL_error(L, "bad argument '%s' (%s)", name, msg);
}

static void opt_bad(lua_State *L, const char *k, const char *want) {
  rml_arg_error(L, k, lua_pushfstring(L, "%s expected, got %s", want, luaL_typename(L, -1)));
}

lua_Integer rml_opt_int(lua_State *L, int t, const char *k, lua_Integer def) {
  lua_Integer v = def;
  if (lua_getfield(L, t, k) != LUA_TNIL) {
    int ok;
    v = lua_tointegerx(L, -1, &ok);
    if (!ok || lua_type(L, -1) != LUA_TNUMBER) opt_bad(L, k, "integer");
  }
  lua_pop(L, 1);
  return v;
}

double rml_opt_num(lua_State *L, int t, const char *k, double def) {
  double v = def;
  int ty = lua_getfield(L, t, k);
  if (ty == LUA_TNUMBER) v = lua_tonumber(L, -1);
  else if (ty != LUA_TNIL) opt_bad(L, k, "number");
  lua_pop(L, 1);
  return v;
}

bool rml_opt_bool(lua_State *L, int t, const char *k, bool def) {
  bool v = def;
  int ty = lua_getfield(L, t, k);
  if (ty == LUA_TBOOLEAN) v = lua_toboolean(L, -1);
  else if (ty != LUA_TNIL) opt_bad(L, k, "boolean");
  lua_pop(L, 1);
  return v;
}

const char *rml_opt_str(lua_State *L, int t, const char *k) {
  const char *v = NULL;
  int ty = lua_getfield(L, t, k);
  if (ty == LUA_TSTRING) v = lua_tostring(L, -1);
  else if (ty != LUA_TNIL) opt_bad(L, k, "string");
  lua_pop(L, 1); /* the string stays alive in the table */
  return v;
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

/* The watchdog ----------------------------------------------------------
 * A callback that does not return (`while true do end` in a timer) would
 * hold the loop forever: no packet, no timer, no Ctrl-C. Each outermost
 * callback counts one generation; a thread looks while the loop runs, and
 * when one generation has run longer than the budget it sends SIGURG to the loop's
 * thread, whose handler sets a debug hook (as lua.c does for Ctrl-C: the
 * one thing a signal handler may do to a running Lua state); the hook
 * checks again on the Lua thread and raises an error in the callback, which
 * the protected call reports, and the loop goes on (see wd_hook: what
 * counts past the budget is CPU time running Lua). No hook is set while
 * callbacks keep to their budget: they run at full speed (a count hook
 * costs every Lua instruction ~20%). SIGURG is ignored by default, so a
 * stray one harms nothing. One watchdog per process: the Lua state that
 * loaded rtpmidi.core first. Not covered: C calls that block (they cannot
 * be interrupted), and coroutines made before the callback started (a hook
 * belongs to one Lua thread). */
#define WD_DEFAULT_BUDGET_MS 200

static struct watchdog {
  rml_state *owner;            /* the state watched */
  uv_thread_t thread;
  pthread_t loop_thread;
  uv_mutex_t lock;
  uv_cond_t cond;
  int started, quit, loops;    /* loops: l_run calls in progress */
  atomic_uint_fast64_t budget_ns;   /* 0: off */
  /* Each outermost callback (and each return from a loop run inside one)
   * is a new generation: a counter, not a clock read per callback (one
   * showed in the per-packet profile). The thread times a generation from
   * when it first sees it, so a callback is stopped after budget to
   * budget + budget/4 of running, never sooner. */
  atomic_uint_fast64_t gen;
  atomic_uint_fast64_t signal_gen;  /* the generation the last SIGURG was for */
  atomic_int busy;             /* an outermost callback runs */
  lua_State *L;                /* the Lua thread it runs on (for the signal handler) */
} wd = {.budget_ns = (uint64_t)WD_DEFAULT_BUDGET_MS * 1000000u};

/* CPU time of the calling thread, in ns. */
static uint64_t thread_cpu_ns(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Past its budget, a callback is watched as it runs Lua: it is stopped once
 * it has kept the CPU busy for a quarter of the budget more (at least 10
 * ms). Time spent waiting in a C call (a JACK client opening, a DNS reply)
 * takes no CPU, so a slow but working callback is not stopped for it. */
static volatile sig_atomic_t wd_fresh;   /* the signal set the hook anew */
static uint64_t wd_cpu_start;

static void wd_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  uint64_t budget = atomic_load(&wd.budget_ns);
  if (!atomic_load(&wd.busy) || !budget || atomic_load(&wd.gen) != atomic_load(&wd.signal_gen)) {
    lua_sethook(L, NULL, 0, 0);
    return;
  }
  uint64_t cpu = thread_cpu_ns();
  if (wd_fresh) {
    wd_fresh = 0;
    wd_cpu_start = cpu;
    lua_sethook(L, wd_hook, LUA_MASKCOUNT, 1000);
    return;
  }
  uint64_t grace = budget / 4 > 10000000u ? budget / 4 : 10000000u;
  if (cpu - wd_cpu_start < grace) return;
  lua_sethook(L, NULL, 0, 0);
  /* the next look at this callback is one budget after the signal (the
   * thread timed anew from there) */
  lua_pushfstring(L, "callback stopped by the watchdog: it ran longer than %d ms "
                  "(rtpmidi.set_callback_budget)", (int)(budget / 1000000u));
  lua_error(L);
}

static void wd_signal(int sig) {
  (void)sig;
  lua_State *L = wd.L;
  /* a hook of someone else's (a debugger, a profiler) is left alone, and
   * ours, once set, keeps counting */
  if (L && atomic_load(&wd.busy) && lua_gethook(L) == NULL) {
    wd_fresh = 1;
    lua_sethook(L, wd_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
  }
}

static void wd_thread(void *arg) {
  (void)arg;
  uint64_t seen_gen = 0, seen_since = 0;
  bool seen = false;
  uv_mutex_lock(&wd.lock);
  while (!wd.quit) {
    uint64_t budget = atomic_load(&wd.budget_ns);
    if (!budget || wd.loops == 0) {
      uv_cond_wait(&wd.cond, &wd.lock);
      continue;
    }
    uv_cond_timedwait(&wd.cond, &wd.lock, budget / 4);
    if (wd.quit || wd.loops == 0) continue;
    if (!atomic_load(&wd.busy)) {
      seen = false;
      continue;
    }
    uint64_t g = atomic_load(&wd.gen), now = uv_hrtime();
    if (!seen || g != seen_gen) {
      seen = true;
      seen_gen = g;
      seen_since = now;
    } else if (now - seen_since >= budget) {
      seen_since = now;   /* the next look at it: one budget from now */
      atomic_store(&wd.signal_gen, g);
      pthread_kill(wd.loop_thread, SIGURG);
    }
  }
  uv_mutex_unlock(&wd.lock);
}

/* Starts the watchdog for st, on the thread that runs its loop. */
static void wd_start(rml_state *st) {
  if (wd.started) return;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = wd_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (uv_mutex_init(&wd.lock)) return;
  if (uv_cond_init(&wd.cond)) {
    uv_mutex_destroy(&wd.lock);
    return;
  }
  wd.owner = st;
  wd.loop_thread = pthread_self();
  wd.quit = 0;
  wd.loops = 0;
  sigaction(SIGURG, &sa, NULL);
  if (uv_thread_create(&wd.thread, wd_thread, NULL)) {
    uv_cond_destroy(&wd.cond);
    uv_mutex_destroy(&wd.lock);
    wd.owner = NULL;
    return;
  }
  wd.started = 1;
}

static void wd_stop(rml_state *st) {
  if (!wd.started || wd.owner != st) return;
  uv_mutex_lock(&wd.lock);
  wd.quit = 1;
  uv_cond_signal(&wd.cond);
  uv_mutex_unlock(&wd.lock);
  uv_thread_join(&wd.thread);
  uv_cond_destroy(&wd.cond);
  uv_mutex_destroy(&wd.lock);
  signal(SIGURG, SIG_DFL);
  wd.started = 0;
  wd.owner = NULL;
  wd.L = NULL;
}

static void wd_loops(int delta) {
  uv_mutex_lock(&wd.lock);
  wd.loops += delta;
  uv_cond_signal(&wd.cond);
  uv_mutex_unlock(&wd.lock);
}

int rml_pcall(rml_state *st, lua_State *L, int nargs) {
  int base = lua_gettop(L) - nargs;   /* the function's index */
  /* rml_push_method put the handler below the function: no rotation of the
   * stack to insert it (what any other caller gets) */
  if (base > 1 && lua_tocfunction(L, base - 1) == traceback) {
    base--;
  } else {
    lua_pushcfunction(L, traceback);
    lua_insert(L, base);
  }
  /* the outermost callback of the watched state starts its budget */
  int outer = st == wd.owner && !atomic_load_explicit(&wd.busy, memory_order_relaxed);
  if (outer) {
    wd.L = L;
    atomic_store(&wd.gen, atomic_load_explicit(&wd.gen, memory_order_relaxed) + 1);
    atomic_store(&wd.busy, 1);
  }
  int ok = lua_pcall(L, nargs, 0, base) == LUA_OK;
  if (outer) {
    atomic_store(&wd.busy, 0);
    if (lua_gethook(L) == wd_hook) lua_sethook(L, NULL, 0, 0);
  }
  if (!ok) report(st, L, lua_gettop(L));
  lua_settop(L, base - 1); /* the handler (and the message): no lua_remove, a
                              rotation that counts once per packet */
  return ok;
}

int rml_call(rml_state *st, int nargs) { return rml_pcall(st, st->L, nargs); }

/* Pushes the Lua string name, interned once per state (lbind.h). */
static void push_key(rml_state *st, const char *name) {
  lua_State *L = st->L;
  enum { N = sizeof st->keys / sizeof st->keys[0] };
  unsigned h = (unsigned)(((uintptr_t)name >> 3) % N);
  for (unsigned i = 0; i < N; i++) {
    struct rml_key *k = &st->keys[(h + i) % N];
    if (k->name == name) {
      lua_rawgeti(L, LUA_REGISTRYINDEX, k->ref);
      return;
    }
    if (!k->name) {
      lua_pushstring(L, name);
      lua_pushvalue(L, -1);
      k->ref = luaL_ref(L, LUA_REGISTRYINDEX);
      k->name = name;
      return;
    }
  }
  lua_pushstring(L, name); /* more names than slots: the slow way */
}

int rml_push_method(rml_state *st, int owner_ref, const char *name) {
  lua_State *L = st->L;
  if (owner_ref == LUA_NOREF) return 0;
  /* handler, then the owner twice: the lookup turns the upper copy into
   * the function, which one swap puts below the owner */
  lua_pushcfunction(L, traceback);
  lua_rawgeti(L, LUA_REGISTRYINDEX, owner_ref);
  lua_pushvalue(L, -1);
  push_key(st, name);
  if (lua_gettable(L, -2) != LUA_TFUNCTION) {
    lua_settop(L, -5);
    return 0;
  }
  /* handler, owner, owner, fn -> handler, fn, owner */
  lua_copy(L, -1, -3);
  lua_settop(L, -2);
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

void rml_open_class(lua_State *L, const char *tname, const luaL_Reg *methods, lua_CFunction gc,
                    const char *name, lua_CFunction ctor) {
  rml_new_class(L, tname, methods);
  lua_pushcfunction(L, gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  lua_pushcfunction(L, ctor);
  lua_setfield(L, -2, name);
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

void *rml_self_tagged(lua_State *L, const void *tag, const char *tname) {
  if (lua_type(L, 1) == LUA_TUSERDATA && lua_rawlen(L, 1) >= sizeof(const void *)) {
    const void *const *p = lua_touserdata(L, 1);
    if (*p == tag) return (void *)p;
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
  wd_stop(st);
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

/* core.address(text): the IP literal as sessions write addresses
 * (rtpmidi_address_text), or nil for what is no literal (a host name). */
static int l_address(lua_State *L) {
  char out[64];
  if (rtpmidi_address_text(luaL_checkstring(L, 1), out, sizeof out)) return 0;
  lua_pushstring(L, out);
  return 1;
}

static int l_run(lua_State *L) {
  static const char *const modes[] = {"default", "once", "nowait", NULL};
  static const uv_run_mode values[] = {UV_RUN_DEFAULT, UV_RUN_ONCE, UV_RUN_NOWAIT};
  int mode = luaL_checkoption(L, 1, "default", modes);
  rml_state *st = rml_get_state(L);
  /* A loop run inside a callback waits, it is not stuck: the callbacks it
   * runs get budgets of their own, and the one around it a fresh one after. */
  int watched = st == wd.owner || (!wd.started && (wd_start(st), wd.started));
  int was_busy = watched && atomic_load(&wd.busy);
  lua_State *was_L = wd.L;
  if (watched) {
    atomic_store(&wd.busy, 0);
    wd_loops(1);
  }
  int alive = uv_run(st->loop, values[mode]) != 0;
  if (watched) {
    wd_loops(-1);
    wd.L = was_L;
    atomic_store(&wd.gen, atomic_load(&wd.gen) + 1);   /* a fresh budget */
    atomic_store(&wd.busy, was_busy);
  }
  lua_pushboolean(L, alive);
  return 1;
}

/* set_callback_budget(ms): how long one callback may run before the
 * watchdog stops it (0 or nil: never). Returns the previous budget. */
static int l_set_callback_budget(lua_State *L) {
  lua_Number ms = luaL_optnumber(L, 1, 0);
  if (!(ms >= 0) || ms > 3.6e6) return rml_arg_error(L, "ms", "milliseconds 0..3600000 expected");
  uint64_t old = atomic_exchange(&wd.budget_ns, (uint64_t)(ms * 1e6));
  if (wd.started) wd_loops(0);   /* the thread sees the new budget now */
  lua_pushnumber(L, (lua_Number)old / 1e6);
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

/* quiet(fn, ...): calls fn(...) with standard error (fd 2) sent to
 * /dev/null, for C libraries that print on their own (RtMidi, JACK and ALSA
 * write a screenful when no server runs; our own message carries what
 * matters). Returns fn's results; an error is raised again after fd 2 is
 * back. Other threads writing meanwhile are silenced too. */
static int l_quiet(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  fflush(stderr);
  int saved = dup(2);
  int null = saved >= 0 ? open("/dev/null", O_WRONLY | O_CLOEXEC) : -1;
  if (null >= 0) {
    dup2(null, 2);
    close(null);
  }
  int r = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
  fflush(stderr);
  if (saved >= 0) {
    dup2(saved, 2);
    close(saved);
  }
  if (r != LUA_OK) return lua_error(L);
  return lua_gettop(L);
}

static const luaL_Reg functions[] = {
  {"now", l_now},
  {"address", l_address},
  {"run", l_run},
  {"stop_loop", l_stop_loop},
  {"handles", l_handles},
  {"set_error_handler", l_set_error_handler},
  {"call", l_call},
  {"quiet", l_quiet},
  {"set_callback_budget", l_set_callback_budget},
  {NULL, NULL},
};

/* luv (the libuv binding, Debian lua-luv) runs its own loop: when it is
 * installed, rtpmidi runs on that loop, so that uv.run() drives our sessions
 * and control:run() drives luv's handles. luv keeps its context in the
 * registry under "luv_context"; its first member is the loop (luv_ctx_t in
 * luv.h, the same since luv 1.30; luv_loop() reads it so). Read here rather
 * than through luv_loop(): that would make luv a link dependency, and luv is
 * optional. RTPMIDI_NO_LUV=1 keeps a loop of our own. */
static uv_loop_t *luv_loop_of(lua_State *L) {
  const char *no = getenv("RTPMIDI_NO_LUV");
  if (no && *no && strcmp(no, "0") != 0) return NULL;
  lua_getglobal(L, "require");
  lua_pushliteral(L, "luv");
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {   /* not installed */
    lua_pop(L, 1);
    return NULL;
  }
  /* luv closes its loop when its module table is collected: held here, it
   * lives as long as the state does, even when package.loaded.luv is
   * dropped (busted's insulation between spec files does so) */
  lua_setfield(L, LUA_REGISTRYINDEX, "rtpmidi.luv");
  uv_loop_t *loop = NULL;
  lua_getfield(L, LUA_REGISTRYINDEX, "luv_context");
  if (lua_type(L, -1) == LUA_TUSERDATA && lua_rawlen(L, -1) >= sizeof(uv_loop_t *))
    loop = *(uv_loop_t **)lua_touserdata(L, -1);
  lua_pop(L, 1);
  return loop;
}

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
      /* luv's loop, when luv is there. The state gets its finalizer after
       * luv's loop got its own, so Lua runs ours first (finalizers run in
       * the reverse order of marking): our handles are closing by the
       * time luv's loop closes what is left and runs the loop to the end. */
      st->loop = luv_loop_of(L);
    }
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
  rml_open_midi2(L);
  rml_open_watch(L);
  rml_open_signal(L);
  rml_open_timer(L);
  rml_open_udp(L);
  rml_open_stdin(L);
  rml_open_midi(L);
  return 1;
}
