/* The shared part of the session-with-peers bindings: lpeered.h. */
#include "lpeered.h"

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

void rml_peered_stop(rml_peered p) {
  (*p.stopping)++;
  p.ops->stop(p.core);
  (*p.stopping)--;
}

int rml_peered_start(lua_State *L, rml_peered p) {
  luaL_checktype(L, 2, LUA_TTABLE);
  if (*p.stopping) return rml_push_stopping(L);
  rml_hold_owner(L, p.owner_ref, 2);
  int r = p.ops->start(p.core);
  if (r) return rml_push_uv_error(L, r);
  lua_pushboolean(L, 1);
  return 1;
}

int rml_peered_l_stop(lua_State *L, rml_peered p) {
  if (p.core) rml_peered_stop(p);
  rml_release_owner(L, p.owner_ref);
  return 0;
}

bool rml_peered_close(lua_State *L, rml_peered p) {
  bool freed = false;
  if (p.core && *p.peers_ref != LUA_NOREF) {
    rml_peered_stop(p);
    if (*p.peers_ref != LUA_NOREF) { /* unless a callback of the stop closed it */
      p.ops->free(p.core);
      luaL_unref(L, LUA_REGISTRYINDEX, *p.peers_ref);
      *p.peers_ref = LUA_NOREF;
      freed = true;
    }
  }
  rml_release_owner(L, p.owner_ref);
  return freed;
}

int rml_peered_started(lua_State *L, rml_peered p) {
  lua_pushboolean(L, p.core && !*p.stopping && p.ops->started(p.core));
  return 1;
}
