/* rtpmidi.core.udp: a raw UDP socket for specs and tools (fault injectors,
 * packet generators, monitors). Not part of the documented API.
 *
 *   local u = core.udp("127.0.0.1", port)      -- bound; or nil, err, code
 *   u:recv(function(data, host, port) end)     -- nil stops receiving
 *   u:send(data, host, port)                   -- true | nil, err, code
 *   u:port(); u:close()
 */
#include "lbind.h"

#include <stdlib.h>
#include <string.h>

#define UDP_MT "rtpmidi.Udp"

typedef struct rml_udp_impl {
  uv_udp_t handle;
  struct rml_udp *ud; /* NULL once the Lua side let go */
  char buf[65536];
} rml_udp_impl;

typedef struct rml_udp {
  rml_udp_impl *impl; /* NULL once closed */
  rml_state *st;
  int fn_ref, self_ref;
} rml_udp;

static void on_closed(uv_handle_t *h) { free(h->data); }

static void close_udp(lua_State *L, rml_udp *u) {
  if (u->impl) {
    uv_udp_recv_stop(&u->impl->handle);
    u->impl->ud = NULL;
    uv_close((uv_handle_t *)&u->impl->handle, on_closed);
    u->impl = NULL;
  }
  if (L) {
    luaL_unref(L, LUA_REGISTRYINDEX, u->fn_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, u->self_ref);
  }
  u->fn_ref = u->self_ref = LUA_NOREF;
}

static int to_addr(const char *host, int port, struct sockaddr_storage *a) {
  memset(a, 0, sizeof *a);
  if (uv_ip4_addr(host, port, (struct sockaddr_in *)a) == 0) return 0;
  if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)a) == 0) return 0;
  return UV_EINVAL;
}

static int push_addr(lua_State *L, const struct sockaddr *a) {
  char host[64] = "";
  int port = 0;
  if (a->sa_family == AF_INET) {
    uv_ip4_name((const struct sockaddr_in *)a, host, sizeof host);
    port = ntohs(((const struct sockaddr_in *)a)->sin_port);
  } else if (a->sa_family == AF_INET6) {
    uv_ip6_name((const struct sockaddr_in6 *)a, host, sizeof host);
    port = ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
  }
  lua_pushstring(L, host);
  lua_pushinteger(L, port);
  return 2;
}

static rml_udp *check_udp(lua_State *L) {
  rml_udp *u = luaL_checkudata(L, 1, UDP_MT);
  if (!u->impl) luaL_error(L, "udp socket is closed");
  return u;
}

static int l_udp(lua_State *L) {
  rml_state *st = rml_get_state(L);
  const char *host = luaL_checkstring(L, 1);
  lua_Integer port = luaL_optinteger(L, 2, 0);
  if (port < 0 || port > 65535) return rml_arg_error(L, "port", "integer 0..65535 expected");
  struct sockaddr_storage a;
  if (to_addr(host, (int)port, &a)) return rml_arg_error(L, "host", "IPv4 or IPv6 literal expected");
  rml_udp *u = lua_newuserdatauv(L, sizeof *u, 0);
  memset(u, 0, sizeof *u);
  u->fn_ref = u->self_ref = LUA_NOREF;
  u->st = st;
  luaL_setmetatable(L, UDP_MT);
  u->impl = calloc(1, sizeof *u->impl);
  if (!u->impl) return luaL_error(L, "out of memory");
  int r = uv_udp_init(st->loop, &u->impl->handle);
  if (r) {
    free(u->impl);
    u->impl = NULL;
    return rml_push_uv_error(L, r);
  }
  u->impl->handle.data = u->impl;
  u->impl->ud = u;
  r = uv_udp_bind(&u->impl->handle, (const struct sockaddr *)&a, 0);
  if (r) {
    close_udp(L, u);
    return rml_push_uv_error(L, r);
  }
  int size = 1 << 20;
  uv_recv_buffer_size((uv_handle_t *)&u->impl->handle, &size);
  return 1;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  rml_udp_impl *impl = h->data;
  buf->base = impl->buf;
  buf->len = sizeof impl->buf;
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags) {
  (void)flags;
  rml_udp_impl *impl = h->data;
  rml_udp *u = impl->ud;
  if (!u || nread < 0 || !addr || u->fn_ref == LUA_NOREF) return;
  lua_State *L = u->st->L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, u->fn_ref);
  lua_pushlstring(L, buf->base, (size_t)nread);
  push_addr(L, addr);
  rml_call(u->st, 3);
}

static int l_recv(lua_State *L) {
  rml_udp *u = check_udp(L);
  luaL_unref(L, LUA_REGISTRYINDEX, u->fn_ref);
  u->fn_ref = LUA_NOREF;
  if (lua_isnoneornil(L, 2)) {
    uv_udp_recv_stop(&u->impl->handle);
    luaL_unref(L, LUA_REGISTRYINDEX, u->self_ref);
    u->self_ref = LUA_NOREF;
    return 0;
  }
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_pushvalue(L, 2);
  u->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  if (u->self_ref == LUA_NOREF) { /* a receiving socket keeps itself alive */
    lua_pushvalue(L, 1);
    u->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  int r = uv_udp_recv_start(&u->impl->handle, on_alloc, on_recv);
  if (r && r != UV_EALREADY) return rml_push_uv_error(L, r);
  lua_pushboolean(L, 1);
  return 1;
}

typedef struct send_req {
  uv_udp_send_t req;
  char data[];
} send_req;

static void on_sent(uv_udp_send_t *req, int status) {
  (void)status;
  free(req);
}

static int l_send(lua_State *L) {
  rml_udp *u = check_udp(L);
  size_t n;
  const char *data = luaL_checklstring(L, 2, &n);
  const char *host = luaL_checkstring(L, 3);
  lua_Integer port = luaL_checkinteger(L, 4);
  struct sockaddr_storage a;
  if (port < 1 || port > 65535) return rml_arg_error(L, "port", "integer 1..65535 expected");
  if (to_addr(host, (int)port, &a)) return rml_arg_error(L, "host", "IPv4 or IPv6 literal expected");
  send_req *req = malloc(sizeof *req + (n ? n : 1));
  if (!req) return luaL_error(L, "out of memory");
  memcpy(req->data, data, n);
  uv_buf_t b = uv_buf_init(req->data, (unsigned)n);
  int r = uv_udp_send(&req->req, &u->impl->handle, &b, 1, (const struct sockaddr *)&a, on_sent);
  if (r) {
    free(req);
    return rml_push_uv_error(L, r);
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int l_port(lua_State *L) {
  rml_udp *u = check_udp(L);
  struct sockaddr_storage a;
  int len = sizeof a;
  if (uv_udp_getsockname(&u->impl->handle, (struct sockaddr *)&a, &len)) return 0;
  push_addr(L, (struct sockaddr *)&a);
  lua_remove(L, -2);
  return 1;
}

static int l_close(lua_State *L) {
  close_udp(L, luaL_checkudata(L, 1, UDP_MT));
  return 0;
}

static int l_gc(lua_State *L) {
  rml_udp *u = luaL_checkudata(L, 1, UDP_MT);
  close_udp(NULL, u);
  return 0;
}

static const luaL_Reg methods[] = {
  {"recv", l_recv},
  {"send", l_send},
  {"port", l_port},
  {"close", l_close},
  {NULL, NULL},
};

void rml_open_udp(lua_State *L) {
  if (luaL_newmetatable(L, UDP_MT)) {
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  lua_pushcfunction(L, l_udp);
  lua_setfield(L, -2, "udp");
}
