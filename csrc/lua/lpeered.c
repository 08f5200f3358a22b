/* The shared part of the session-with-peers bindings: lpeered.h. */
#include "lpeered.h"

#include <string.h>

rml_peered *rml_peered_new(lua_State *L, rml_state *st, const rml_core_ops *ops, const char *tname,
                           size_t size) {
  rml_peered *p = lua_newuserdatauv(L, size, 0);
  memset(p, 0, size);
  p->ops = ops;
  p->st = st;
  p->owner_ref = LUA_NOREF;
  lua_newtable(L);
  p->peers_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  luaL_setmetatable(L, tname);
  return p;
}

rml_peered *rml_peered_check(lua_State *L, const char *tname) {
  rml_peered *p = rml_self(L, tname);
  if (!p->core) luaL_error(L, "session is closed");
  return p;
}

bool rml_peer_push(lua_State *L, int peers_ref, uint32_t id) {
  bool made = false;
  lua_rawgeti(L, LUA_REGISTRYINDEX, peers_ref);
  if (lua_rawgeti(L, -1, id) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_rawseti(L, -3, id);
    made = true;
  }
  lua_remove(L, -2);
  return made;
}

void rml_peer_forget(lua_State *L, int peers_ref, uint32_t id) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, peers_ref);
  lua_pushnil(L);
  lua_rawseti(L, -2, id);
  lua_pop(L, 1);
}

/* The id of a core's peer record: its first member (C11 6.7.2.1: a
 * pointer to a struct, converted, points to its first member). */
static uint32_t peer_id(const void *peer) { return *(const uint32_t *)peer; }

void rml_peered_push_peer(lua_State *L, rml_peered *p, const void *peer, bool refresh) {
  if (rml_peer_push(L, p->peers_ref, peer_id(peer)) || refresh) p->ops->set_fields(L, peer);
}

bool rml_peered_method(rml_peered *p, const char *name) {
  return p->peers_ref != LUA_NOREF && rml_push_method(p->st, p->owner_ref, name);
}

void rml_peered_on_midi(rml_peered *p, const void *peer, const uint8_t *msg, size_t len, double time_ms,
                        bool recovered) {
  if (!rml_peered_method(p, "incoming_midi")) return;
  lua_State *L = p->st->L;
  lua_pushlstring(L, (const char *)msg, len);
  lua_pushnumber(L, time_ms);
  lua_pushboolean(L, recovered);
  rml_peered_push_peer(L, p, peer, false);
  rml_call(p->st, 5);
}

void rml_peered_on_peer(rml_peered *p, const char *name, const void *peer, bool refresh) {
  if (!rml_peered_method(p, name)) return;
  rml_peered_push_peer(p->st->L, p, peer, refresh);
  rml_call(p->st, 2);
}

void rml_peered_on_left(rml_peered *p, const char *name, const void *peer, const char *reason) {
  rml_state *st = p->st;
  lua_State *L = st->L;
  if (p->peers_ref == LUA_NOREF) return;
  if (!rml_push_method(st, p->owner_ref, name)) {
    rml_peer_forget(L, p->peers_ref, peer_id(peer));
    return;
  }
  rml_peered_push_peer(L, p, peer, true);
  rml_peer_forget(L, p->peers_ref, peer_id(peer));
  lua_pushstring(L, reason);
  rml_call(st, 3);
}

void rml_peered_on_invite_failed(rml_peered *p, const char *address, int port, const char *reason) {
  if (!rml_peered_method(p, "invitation_failed")) return;
  lua_State *L = p->st->L;
  lua_pushstring(L, address);
  lua_pushinteger(L, port);
  lua_pushstring(L, reason);
  rml_call(p->st, 4);
}

void rml_peered_stop(rml_peered *p) {
  p->stopping++;
  p->ops->stop(p->core);
  p->stopping--;
}

int rml_peered_start(lua_State *L, rml_peered *p) {
  luaL_checktype(L, 2, LUA_TTABLE);
  if (p->stopping) return rml_push_stopping(L);
  rml_hold_owner(L, &p->owner_ref, 2);
  int r = p->ops->start(p->core);
  if (r) return rml_push_uv_error(L, r);
  lua_pushboolean(L, 1);
  return 1;
}

int rml_peered_l_stop(lua_State *L, rml_peered *p) {
  if (p->core) rml_peered_stop(p);
  rml_release_owner(L, &p->owner_ref);
  return 0;
}

int rml_peered_close(lua_State *L, rml_peered *p) {
  if (p->core && p->peers_ref != LUA_NOREF) {
    rml_peered_stop(p);
    if (p->peers_ref != LUA_NOREF) { /* unless a callback of the stop closed it */
      p->ops->free(p->core);
      p->core = NULL;
      luaL_unref(L, LUA_REGISTRYINDEX, p->peers_ref);
      p->peers_ref = LUA_NOREF;
    }
  }
  rml_release_owner(L, &p->owner_ref);
  return 0;
}

int rml_peered_started(lua_State *L, rml_peered *p) {
  lua_pushboolean(L, p->core && !p->stopping && p->ops->started(p->core));
  return 1;
}

int rml_peered_gc(rml_peered *p) {
  if (p->core) {
    p->owner_ref = LUA_NOREF;
    p->peers_ref = LUA_NOREF;
    p->ops->free(p->core);
    p->core = NULL;
  }
  return 0;
}

int rml_peered_local_port(lua_State *L, rml_peered *p) {
  lua_pushinteger(L, p->ops->port(p->core));
  return 1;
}

int rml_peered_disconnect(lua_State *L, rml_peered *p) {
  lua_pushboolean(L, p->ops->disconnect(p->core, (uint32_t)luaL_checkinteger(L, 2)) == 0);
  return 1;
}

int rml_peered_discovered(lua_State *L, rml_peered *p) {
  rtpmidi_service v[64];
  size_t n = p->ops->discovered(p->core, v, 64);
  rml_push_services(L, v, n < 64 ? n : 64);
  return 1;
}

int rml_peered_invite_result(lua_State *L, int r) {
  if (r == UV_EINVAL) return rml_arg_error(L, "host", "IP address or host name expected");
  if (r == UV_EAFNOSUPPORT)
    return rml_arg_error(L, "host", "an address of the family the session's bind_address reaches expected");
  if (r) return rml_push_uv_error(L, r);
  lua_pushboolean(L, 1);
  return 1;
}

int rml_peered_push_list(lua_State *L, rml_peered *p, const void *v, size_t n, size_t size) {
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    rml_peered_push_peer(L, p, (const char *)v + i * size, true);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}
