/* rtpmidi.core.codec_*: the pure codecs for tools, monitors and tests. */
#include "lbind.h"
#include "midi_cmd.h"
#include "midi_msg.h"
#include "rtp.h"

#include <stdlib.h>
#include <string.h>

static lua_Integer int_field(lua_State *L, int t, const char *k, lua_Integer def, lua_Integer lo,
                             lua_Integer hi) {
  lua_Integer v = def;
  if (lua_getfield(L, t, k) != LUA_TNIL) {
    int ok;
    v = lua_tointegerx(L, -1, &ok);
    if (!ok || v < lo || v > hi) {
      luaL_error(L, "bad argument '%s' (integer %I..%I expected)", k, lo, hi);
    }
  }
  lua_pop(L, 1);
  return v;
}

/* encode_rtp{ payload_type=, sequence=, timestamp=, ssrc=, marker=, payload= } */
static int l_encode_rtp(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  uint8_t pt = (uint8_t)int_field(L, 1, "payload_type", 96, 0, 127);
  uint16_t seq = (uint16_t)int_field(L, 1, "sequence", 0, 0, 0xFFFF);
  uint32_t ts = (uint32_t)int_field(L, 1, "timestamp", 0, 0, 0xFFFFFFFF);
  uint32_t ssrc = (uint32_t)int_field(L, 1, "ssrc", 0, 0, 0xFFFFFFFF);
  lua_getfield(L, 1, "marker");
  bool marker = lua_toboolean(L, -1);
  lua_getfield(L, 1, "payload");
  size_t n = 0;
  const char *payload = lua_isnil(L, -1) ? "" : lua_tolstring(L, -1, &n);
  if (!payload) return luaL_error(L, "bad argument 'payload' (string expected)");
  luaL_Buffer b;
  uint8_t *p = (uint8_t *)luaL_buffinitsize(L, &b, RMP_RTP_HEADER_LEN + n);
  rmp_rtp_write_header(p, pt, marker, seq, ts, ssrc);
  memcpy(p + RMP_RTP_HEADER_LEN, payload, n);
  luaL_pushresultsize(&b, RMP_RTP_HEADER_LEN + n);
  return 1;
}

static int push_err(lua_State *L, const char *what, const char *why) {
  lua_pushnil(L);
  lua_pushfstring(L, "%s: %s", what, why);
  return 2;
}

static int l_decode_rtp(lua_State *L) {
  size_t n;
  const uint8_t *p = (const uint8_t *)luaL_checklstring(L, 1, &n);
  rmp_rtp_header h;
  int r = rmp_rtp_parse(p, n, &h);
  if (r < 0) return push_err(L, "bad RTP packet", rmp_rtp_strerror(r));
  lua_createtable(L, 0, 10);
  lua_pushinteger(L, 2), lua_setfield(L, -2, "version");
  lua_pushinteger(L, h.payload_type), lua_setfield(L, -2, "payload_type");
  lua_pushinteger(L, h.sequence), lua_setfield(L, -2, "sequence");
  lua_pushinteger(L, h.timestamp), lua_setfield(L, -2, "timestamp");
  lua_pushinteger(L, h.ssrc), lua_setfield(L, -2, "ssrc");
  lua_pushboolean(L, h.marker), lua_setfield(L, -2, "marker");
  lua_pushboolean(L, h.padding), lua_setfield(L, -2, "padding");
  lua_pushboolean(L, h.extension), lua_setfield(L, -2, "extension");
  lua_createtable(L, h.csrc_count, 0);
  for (int i = 0; i < h.csrc_count; i++) {
    lua_pushinteger(L, h.csrc[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "csrc");
  lua_pushlstring(L, (const char *)p + h.payload_offset, h.payload_len);
  lua_setfield(L, -2, "payload");
  return 1;
}

/* encode_midi_payload({ {delta=, bytes=}, ... }, { budget=, journal= })
 *   -> payload, count of commands encoded (the rest did not fit) | nil, err */
static int l_encode_midi_payload(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  size_t budget = RMP_CMD_DEFAULT_BUDGET;
  size_t jlen = 0;
  const char *journal = NULL;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    budget = (size_t)int_field(L, 2, "budget", RMP_CMD_DEFAULT_BUDGET, RMP_CMD_MIN_BUDGET, 4097);
    lua_getfield(L, 2, "journal");
    if (!lua_isnil(L, -1)) {
      journal = lua_tolstring(L, -1, &jlen);
      if (!journal) return luaL_error(L, "bad argument 'journal' (string expected)");
    }
    lua_pop(L, 1); /* the string stays referenced by the options table */
  }
  lua_Integer n = luaL_len(L, 1);
  rmp_cmd_msg *msgs = lua_newuserdatauv(L, sizeof *msgs * (size_t)(n ? n : 1), 0);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, i);
    if (!lua_istable(L, -1)) return luaL_error(L, "bad argument 'commands' (command %I is not a table)", i);
    lua_getfield(L, -1, "bytes");
    size_t len;
    const char *bytes = lua_tolstring(L, -1, &len);
    if (!bytes) return luaL_error(L, "bad argument 'commands' (command %I has no bytes)", i);
    lua_getfield(L, -2, "delta");
    int ok = 1;
    lua_Integer d = lua_isnil(L, -1) ? 0 : lua_tointegerx(L, -1, &ok);
    if (!ok || d < 0 || d > RMP_CMD_MAX_DELTA)
      return luaL_error(L, "bad argument 'commands' (command %I: delta 0..%d expected)", i, (int)RMP_CMD_MAX_DELTA);
    int v = rmp_midi_msg_validate((const uint8_t *)bytes, len);
    if (v < 0) return luaL_error(L, "bad argument 'commands' (command %I: %s)", i, rmp_strerror(v));
    msgs[i - 1] = (rmp_cmd_msg){(uint32_t)d, (const uint8_t *)bytes, len};
    lua_pop(L, 3); /* the strings stay referenced by the commands table */
  }
  uint8_t out[4200];
  rmp_cmd_encoder enc;
  rmp_cmd_encoder_init(&enc);
  rmp_cmd_enc_info info;
  int r = rmp_cmd_encode(&enc, msgs, (size_t)n, journal != NULL, budget, out, sizeof out, &info);
  if (r < 0) return push_err(L, "cannot encode", rmp_strerror(r));
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addlstring(&b, (const char *)out, (size_t)r);
  if (journal) luaL_addlstring(&b, journal, jlen);
  luaL_pushresult(&b);
  lua_pushinteger(L, (lua_Integer)info.nmsgs);
  return 2;
}

/* decode_midi_payload(payload) -> { commands = { {delta=, time=, bytes=} ... },
 *   journal = string|nil, b=, j=, z=, p=, length= } | nil, err */
static int l_decode_midi_payload(lua_State *L) {
  size_t n;
  const uint8_t *p = (const uint8_t *)luaL_checklstring(L, 1, &n);
  uint8_t *sysex = lua_newuserdatauv(L, n ? n : 1, 0);
  rmp_cmd_decoder dec;
  rmp_cmd_decoder_init(&dec, sysex, n);
  rmp_cmd_iter it;
  int size = rmp_cmd_iter_init(&it, &dec, p, n);
  if (size < 0) return push_err(L, "bad MIDI payload", rmp_strerror(size));
  lua_createtable(L, 0, 8);
  lua_newtable(L);
  int count = 0, r;
  rmp_cmd_event e;
  while ((r = rmp_cmd_iter_next(&it, &e)) == 1) {
    if (e.error) continue; /* a SysEx segment without its other parts */
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, e.delta), lua_setfield(L, -2, "delta");
    lua_pushinteger(L, e.time), lua_setfield(L, -2, "time");
    lua_pushlstring(L, (const char *)e.data, e.len), lua_setfield(L, -2, "bytes");
    lua_rawseti(L, -2, ++count);
  }
  if (r < 0) return push_err(L, "bad MIDI payload", rmp_strerror(r));
  lua_setfield(L, -2, "commands");
  lua_pushboolean(L, it.hdr.b), lua_setfield(L, -2, "b");
  lua_pushboolean(L, it.hdr.j), lua_setfield(L, -2, "j");
  lua_pushboolean(L, it.hdr.z), lua_setfield(L, -2, "z");
  lua_pushboolean(L, it.hdr.p), lua_setfield(L, -2, "p");
  lua_pushinteger(L, it.hdr.len), lua_setfield(L, -2, "length");
  if (dec.sysex_len) {
    /* A SysEx segment that continues in a later packet. */
    lua_pushlstring(L, (const char *)sysex, dec.sysex_len);
    lua_setfield(L, -2, "sysex_partial");
  }
  if (it.hdr.j && (size_t)size < n) {
    lua_pushlstring(L, (const char *)p + size, n - (size_t)size);
    lua_setfield(L, -2, "journal");
  }
  return 1;
}

static const luaL_Reg functions[] = {
  {"encode_rtp", l_encode_rtp},
  {"decode_rtp", l_decode_rtp},
  {"encode_midi_payload", l_encode_midi_payload},
  {"decode_midi_payload", l_decode_midi_payload},
  {NULL, NULL},
};

void rml_open_codec(lua_State *L) {
  lua_newtable(L);
  luaL_setfuncs(L, functions, 0);
  lua_setfield(L, -2, "codec");
}
