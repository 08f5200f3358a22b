/* Embedding rtpmidi's Lua module in a host program. */
#ifndef RTPMIDI_LUA_H
#define RTPMIDI_LUA_H

#include <lua.h>
#include <uv.h>

#if defined(__GNUC__)
#define RTPMIDI_LUA_API __attribute__((visibility("default")))
#else
#define RTPMIDI_LUA_API
#endif

/* Makes the module use the host's loop instead of its own. Call it before the
 * first require "rtpmidi.core" in that Lua state; the host then runs the loop
 * (or lets control:run() run it) and closes it after lua_close. */
RTPMIDI_LUA_API void rtpmidi_lua_set_loop(lua_State *L, uv_loop_t *loop);

RTPMIDI_LUA_API int luaopen_rtpmidi_core(lua_State *L);

#endif
