/* rtpmidi.core.stdin(fn[, keys]): reads standard input on the loop without
 * blocking it (a REPL for the command line). fn(data) is called with each
 * chunk read (a line at a time from a terminal in its normal mode), fn(nil,
 * "EOF") at the end, fn(nil, "ECODE: message") on an error; reading stops
 * after either. With keys true and a terminal on standard input, the
 * terminal gives each key as it is typed, without echo (a line editor draws
 * the line): canonical mode and echo are off, signals stay on (Ctrl-C is
 * still SIGINT, Ctrl-Z still stops), and the terminal is put back on close
 * and at exit. Returns a handle with :close() (idempotent), or
 * nil, err, code. The handle does not keep the loop alive. Not part of the
 * documented API.
 *
 *   core.isatty(fd)   -> boolean: whether fd (0, 1, 2) is a terminal
 *   core.tty_size(fd) -> columns, rows of the terminal on fd, or nil
 */
#include "lbind.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

/* The terminal's settings before keys mode, put back by tty_restore. */
static struct termios saved_termios;
static int termios_saved, atexit_done;

static void tty_restore(void) {
  if (!termios_saved) return;
  termios_saved = 0;
  tcsetattr(0, TCSANOW, &saved_termios);
}

static int tty_keys_mode(void) {
  struct termios t;
  if (tcgetattr(0, &t) != 0) return -1;
  if (!termios_saved) {
    saved_termios = t;
    termios_saved = 1;
    if (!atexit_done) atexit_done = atexit(tty_restore) == 0;
  }
  t.c_lflag &= ~(tcflag_t)(ICANON | ECHO | IEXTEN);
  t.c_iflag &= ~(tcflag_t)IXON;   /* Ctrl-S / Ctrl-Q reach the editor */
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 0;
  return tcsetattr(0, TCSANOW, &t);
}

#define STDIN_MT "rtpmidi.Stdin"

typedef struct rml_stdin_impl {
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tty_t tty;
    uv_pipe_t pipe;
  } h;
  int is_tty;
  struct rml_stdin *ud; /* NULL once the Lua side let go */
  char buf[4096];
} rml_stdin_impl;

typedef struct rml_stdin {
  rml_stdin_impl *impl; /* NULL once closed */
  rml_state *st;
  int fn_ref, self_ref;
} rml_stdin;

static void on_closed(uv_handle_t *h) { free(h->data); }

static void close_impl(rml_stdin *s) {
  if (!s->impl) return;
  rml_stdin_impl *impl = s->impl;
  s->impl = NULL;
  impl->ud = NULL;
  uv_read_stop(&impl->h.stream);
  if (impl->is_tty) {
    uv_tty_reset_mode();
    tty_restore();
  }
  uv_close(&impl->h.handle, on_closed);
}

static void finish(lua_State *L, rml_stdin *s) {
  close_impl(s);
  luaL_unref(L, LUA_REGISTRYINDEX, s->fn_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, s->self_ref);
  s->fn_ref = s->self_ref = LUA_NOREF;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  rml_stdin_impl *impl = h->data;
  buf->base = impl->buf;
  buf->len = sizeof impl->buf;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  rml_stdin_impl *impl = stream->data;
  rml_stdin *s = impl->ud;
  if (!s || nread == 0) return;
  lua_State *L = s->st->L;
  int fn_ref = s->fn_ref, self_ref = s->self_ref;
  if (nread < 0) {
    /* the end: stop reading, then tell Lua (which may close the handle) */
    uv_read_stop(stream);
    lua_rawgeti(L, LUA_REGISTRYINDEX, fn_ref);
    lua_pushnil(L);
    if (nread == UV_EOF) lua_pushliteral(L, "EOF");
    else lua_pushfstring(L, "%s: %s", uv_err_name((int)nread), uv_strerror((int)nread));
    s->fn_ref = s->self_ref = LUA_NOREF; /* refs released below, after the call */
    rml_call(s->st, 2);
    luaL_unref(L, LUA_REGISTRYINDEX, fn_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, self_ref);
    return;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, fn_ref);
  lua_pushlstring(L, buf->base, (size_t)nread);
  rml_call(s->st, 1);
}

static int l_stdin(lua_State *L) {
  rml_state *st = rml_get_state(L);
  if (!lua_isfunction(L, 1)) return rml_arg_error(L, "fn", "function expected");
  rml_stdin *s = lua_newuserdatauv(L, sizeof *s, 0);
  memset(s, 0, sizeof *s);
  s->fn_ref = s->self_ref = LUA_NOREF;
  s->st = st;
  luaL_setmetatable(L, STDIN_MT);
  rml_stdin_impl *impl = calloc(1, sizeof *impl);
  if (!impl) return luaL_error(L, "out of memory");
  int r;
  if (uv_guess_handle(0) == UV_TTY) {
    impl->is_tty = 1;
    r = uv_tty_init(st->loop, &impl->h.tty, 0, 1);
    if (r) {
      free(impl);
      return rml_push_uv_error(L, r);
    }
  } else {
    r = uv_pipe_init(st->loop, &impl->h.pipe, 0);
    if (r) {
      free(impl);
      return rml_push_uv_error(L, r);
    }
    /* a copy of fd 0: closing the handle must not close standard input */
    int fd = dup(0);
    r = fd < 0 ? UV_EBADF : uv_pipe_open(&impl->h.pipe, fd);
    if (r) {
      if (fd >= 0) close(fd);
      impl->h.handle.data = impl;
      uv_close(&impl->h.handle, on_closed);
      return rml_push_uv_error(L, r);
    }
  }
  impl->h.handle.data = impl;
  impl->ud = s;
  s->impl = impl;
  if (impl->is_tty && lua_toboolean(L, 2) && tty_keys_mode() != 0) {
    finish(L, s);
    return rml_push_uv_error(L, UV_ENOTTY);
  }
  r = uv_read_start(&impl->h.stream, on_alloc, on_read);
  if (r) {
    finish(L, s);
    return rml_push_uv_error(L, r);
  }
  uv_unref(&impl->h.handle);
  lua_pushvalue(L, 1);
  s->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushvalue(L, -1);
  s->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 1;
}

static int l_close(lua_State *L) {
  finish(L, luaL_checkudata(L, 1, STDIN_MT));
  return 0;
}

static int l_gc(lua_State *L) {
  close_impl(luaL_checkudata(L, 1, STDIN_MT));
  return 0;
}

static int l_isatty(lua_State *L) {
  lua_Integer fd = luaL_optinteger(L, 1, 0);
  if (fd < 0 || fd > 2) return rml_arg_error(L, "fd", "0, 1 or 2 expected");
  lua_pushboolean(L, uv_guess_handle((int)fd) == UV_TTY);
  return 1;
}

static int l_tty_size(lua_State *L) {
  lua_Integer fd = luaL_optinteger(L, 1, 1);
  if (fd < 0 || fd > 2) return rml_arg_error(L, "fd", "0, 1 or 2 expected");
  struct winsize ws;
  if (ioctl((int)fd, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0 || ws.ws_row == 0) return 0;
  lua_pushinteger(L, ws.ws_col);
  lua_pushinteger(L, ws.ws_row);
  return 2;
}

static const luaL_Reg methods[] = {
  {"close", l_close},
  {NULL, NULL},
};

void rml_open_stdin(lua_State *L) {
  if (luaL_newmetatable(L, STDIN_MT)) {
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  lua_pushcfunction(L, l_stdin);
  lua_setfield(L, -2, "stdin");
  lua_pushcfunction(L, l_isatty);
  lua_setfield(L, -2, "isatty");
  lua_pushcfunction(L, l_tty_size);
  lua_setfield(L, -2, "tty_size");
}
