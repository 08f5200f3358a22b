/* rtpmidi.core.codec_*: the pure codecs for tools, monitors and tests. */
#include "applemidi.h"
#include "journal.h"
#include "lbind.h"
#include "midi_cmd.h"
#include "midi_msg.h"
#include "rtcp.h"
#include "rtp.h"

#include <stdio.h>
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

/* ---- the recovery journal as a table (RFC 6295 section 5, appendices A, B) ----
 * Decoded by rmp_ej_parse; the field names are the RFC's, flags are booleans. */

#define SETB(k, v) (lua_pushboolean(L, (v) != 0), lua_setfield(L, -2, (k)))
#define SETI(k, v) (lua_pushinteger(L, (lua_Integer)(v)), lua_setfield(L, -2, (k)))

static void push_undef(lua_State *L, const char *k, const rmp_ej_undef_field *u) {
  lua_createtable(L, 0, 7);
  SETB("s", u->s);
  SETB("c", u->c);
  SETB("v", u->v);
  SETB("l", u->l);
  SETI("dsz", u->dsz);
  SETI("length", u->length);
  if (u->c) SETI("count", u->count);
  lua_setfield(L, -2, k);
}

static void push_x_logs(lua_State *L, const rmp_ej_chap_x *x) {
  lua_createtable(L, x->nlogs, 0);
  size_t o = 0;
  for (int i = 1; o < x->raw_len; i++) {
    rmp_ej_x_log g;
    int r = rmp_ej_x_log_decode(x->raw + o, x->raw_len - o, &g);
    if (r <= 0) break; /* cannot happen: rmp_ej_chap_x_decode walked the same list */
    o += (size_t)r;
    lua_createtable(L, 0, 10);
    SETB("s", g.s);
    SETB("t", g.t);
    SETB("c", g.c);
    SETB("f", g.f);
    SETB("d", g.d);
    SETB("l", g.l);
    SETI("sta", g.sta);
    if (g.t) SETI("tcount", g.tcount);
    if (g.c) SETI("count", g.count);
    if (g.f) SETI("first", g.first);
    if (g.d) {
      /* the data octets, the end mark (MSB of the last one) removed */
      luaL_Buffer b;
      luaL_buffinit(L, &b);
      for (uint16_t k = 0; k < g.data_len; k++) luaL_addchar(&b, (char)(g.data[k] & 0x7F));
      luaL_pushresult(&b);
      lua_setfield(L, -2, "data");
    }
    lua_rawseti(L, -2, i);
  }
  lua_setfield(L, -2, "logs");
}

static void push_system(lua_State *L, const rmp_ej_sys *sj) {
  lua_createtable(L, 0, 8);
  SETB("s", sj->s);
  SETI("length", sj->length);
  if (sj->toc & RMP_EJ_SYS_D) {
    const rmp_ej_chap_d *d = &sj->d;
    lua_createtable(L, 0, 8);
    SETB("s", d->s);
    if (d->toc & RMP_EJ_D_B) {
      lua_createtable(L, 0, 2);
      SETB("s", d->reset_s);
      SETI("count", d->reset_count);
      lua_setfield(L, -2, "reset");
    }
    if (d->toc & RMP_EJ_D_G) {
      lua_createtable(L, 0, 2);
      SETB("s", d->tune_s);
      SETI("count", d->tune_count);
      lua_setfield(L, -2, "tune");
    }
    if (d->toc & RMP_EJ_D_H) {
      lua_createtable(L, 0, 2);
      SETB("s", d->song_s);
      SETI("song", d->song);
      lua_setfield(L, -2, "song_select");
    }
    if (d->toc & RMP_EJ_D_J) push_undef(L, "j", &d->j);
    if (d->toc & RMP_EJ_D_K) push_undef(L, "k", &d->k);
    if (d->toc & RMP_EJ_D_Y) push_undef(L, "y", &d->y);
    if (d->toc & RMP_EJ_D_Z) push_undef(L, "z", &d->z);
    lua_setfield(L, -2, "D");
  }
  if (sj->toc & RMP_EJ_SYS_V) {
    lua_createtable(L, 0, 2);
    SETB("s", sj->v.s);
    SETI("count", sj->v.count);
    lua_setfield(L, -2, "V");
  }
  if (sj->toc & RMP_EJ_SYS_Q) {
    const rmp_ej_chap_q *q = &sj->q;
    lua_createtable(L, 0, 7);
    SETB("s", q->s);
    SETB("n", q->n);
    SETB("d", q->d);
    SETB("c", q->c);
    SETB("t", q->t);
    SETI("clock", q->clock); /* TOP:CLOCK, 19 bits (TOP alone when C is false) */
    if (q->t) SETI("timetools", q->timetools);
    lua_setfield(L, -2, "Q");
  }
  if (sj->toc & RMP_EJ_SYS_F) {
    const rmp_ej_chap_f *f = &sj->f;
    lua_createtable(L, 0, 8);
    SETB("s", f->s);
    SETB("c", f->c);
    SETB("p", f->p);
    SETB("q", f->q);
    SETB("d", f->d);
    SETI("point", f->point);
    if (f->c) SETI("complete", f->complete);
    if (f->p) SETI("partial", f->partial);
    lua_setfield(L, -2, "F");
  }
  if (sj->toc & RMP_EJ_SYS_X) {
    lua_createtable(L, 0, 2);
    SETB("s", sj->x.s);
    push_x_logs(L, &sj->x);
    lua_setfield(L, -2, "X");
  }
}

static const char *const TOOLS[] = {"value", "toggle", "count"};

/* rmp_ej_parse's channel callback: appends the channel's table to the list
 * on the top of the stack. */
static int push_channel(void *ud, const rmp_ej_chan *cj) {
  lua_State *L = ud;
  lua_createtable(L, 0, 8);
  SETI("chan", cj->chan); /* 0..15 as on the wire (MIDI channel chan + 1) */
  SETB("s", cj->s);
  SETB("h", cj->h);
  SETI("length", cj->length);
  if (cj->toc & RMP_EJ_TOC_P) {
    const rmp_ej_chap_p *p = &cj->p;
    lua_createtable(L, 0, 6);
    SETB("s", p->s);
    SETI("program", p->program);
    SETB("b", p->b);
    SETI("bank_msb", p->bank_msb);
    SETB("x", p->x);
    SETI("bank_lsb", p->bank_lsb);
    lua_setfield(L, -2, "P");
  }
  if (cj->toc & RMP_EJ_TOC_C) {
    const rmp_ej_chap_c *c = &cj->c;
    lua_createtable(L, 0, 2);
    SETB("s", c->s);
    lua_createtable(L, c->count, 0);
    for (unsigned i = 0; i < c->count; i++) {
      const rmp_ej_ctl_log *g = &c->log[i];
      lua_createtable(L, 0, 4);
      SETB("s", g->s);
      SETI("number", g->number);
      lua_pushstring(L, g->tool < 3 ? TOOLS[g->tool] : "value");
      lua_setfield(L, -2, "tool");
      SETI("value", g->value);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "logs");
    lua_setfield(L, -2, "C");
  }
  if (cj->toc & RMP_EJ_TOC_M) {
    const rmp_ej_chap_m *m = &cj->m;
    lua_createtable(L, 0, 9);
    SETB("s", m->s);
    SETB("p", m->p);
    SETB("e", m->e);
    SETB("u", m->u);
    SETB("w", m->w);
    SETB("z", m->z);
    if (m->p) {
      SETB("pending_q", m->pending_q);
      SETI("pending", m->pending);
    }
    lua_createtable(L, m->count, 0);
    for (unsigned i = 0; i < m->count; i++) {
      const rmp_ej_param_log *g = &m->log[i];
      lua_createtable(L, 0, 16);
      SETB("s", g->s);
      SETB("q", g->q);
      SETI("pnum_lsb", g->pnum_lsb);
      SETI("pnum_msb", g->pnum_msb);
      SETB("t", g->flags & RMP_EJ_M_T);
      SETB("v", g->flags & RMP_EJ_M_V);
      SETB("r", g->flags & RMP_EJ_M_R);
      if (g->flags & RMP_EJ_M_J) { SETI("entry_msb", g->entry_msb & 0x7F); SETB("entry_msb_x", g->entry_msb & 0x80); }
      if (g->flags & RMP_EJ_M_K) { SETI("entry_lsb", g->entry_lsb & 0x7F); SETB("entry_lsb_x", g->entry_lsb & 0x80); }
      if (g->flags & RMP_EJ_M_L) {
        SETI("a_button", g->a_button & 0x3FFF);
        SETB("a_button_g", g->a_button & 0x8000);
        SETB("a_button_x", g->a_button & 0x4000);
      }
      if (g->flags & RMP_EJ_M_M) {
        SETI("c_button", g->c_button & 0x3FFF);
        SETB("c_button_g", g->c_button & 0x8000);
        SETB("c_button_r", g->c_button & 0x4000);
      }
      if (g->flags & RMP_EJ_M_N) { SETI("count", g->count & 0x7F); SETB("count_x", g->count & 0x80); }
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "logs");
    lua_setfield(L, -2, "M");
  }
  if (cj->toc & RMP_EJ_TOC_W) {
    lua_createtable(L, 0, 4);
    SETB("s", cj->w.s);
    SETI("first", cj->w.first);
    SETB("r", cj->w.r);
    SETI("second", cj->w.second);
    lua_setfield(L, -2, "W");
  }
  if (cj->toc & RMP_EJ_TOC_N) {
    const rmp_ej_chap_n *n = &cj->n;
    lua_createtable(L, 0, 5);
    SETB("b", n->b);
    SETI("low", n->low);
    SETI("high", n->high);
    lua_createtable(L, n->count, 0);
    for (unsigned i = 0; i < n->count; i++) {
      const rmp_ej_note_log *g = &n->log[i];
      lua_createtable(L, 0, 4);
      SETB("s", g->s);
      SETI("note", g->notenum);
      SETB("y", g->y);
      SETI("velocity", g->velocity);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "logs");
    /* the notes OFFBITS flags (note n: offbits[n >> 3] & 0x80 >> (n & 7)) */
    lua_newtable(L);
    int k = 0;
    for (int note = 0; note < 128; note++) {
      if (n->offbits[note >> 3] & (0x80 >> (note & 7))) {
        lua_pushinteger(L, note);
        lua_rawseti(L, -2, ++k);
      }
    }
    lua_setfield(L, -2, "offbits");
    lua_setfield(L, -2, "N");
  }
  if (cj->toc & RMP_EJ_TOC_E) {
    const rmp_ej_chap_e *e = &cj->e;
    lua_createtable(L, 0, 2);
    SETB("s", e->s);
    lua_createtable(L, e->count, 0);
    for (unsigned i = 0; i < e->count; i++) {
      const rmp_ej_extra_log *g = &e->log[i];
      lua_createtable(L, 0, 4);
      SETB("s", g->s);
      SETI("note", g->notenum);
      SETB("v", g->v);
      SETI("value", g->value); /* V: release velocity; otherwise a count */
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "logs");
    lua_setfield(L, -2, "E");
  }
  if (cj->toc & RMP_EJ_TOC_T) {
    lua_createtable(L, 0, 2);
    SETB("s", cj->t.s);
    SETI("pressure", cj->t.pressure);
    lua_setfield(L, -2, "T");
  }
  if (cj->toc & RMP_EJ_TOC_A) {
    const rmp_ej_chap_a *a = &cj->a;
    lua_createtable(L, 0, 2);
    SETB("s", a->s);
    lua_createtable(L, a->count, 0);
    for (unsigned i = 0; i < a->count; i++) {
      const rmp_ej_poly_log *g = &a->log[i];
      lua_createtable(L, 0, 4);
      SETB("s", g->s);
      SETI("note", g->notenum);
      SETB("x", g->x);
      SETI("pressure", g->pressure);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "logs");
    lua_setfield(L, -2, "A");
  }
  lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
  return 0;
}

/* Pushes the journal at p (n octets) as a table: { raw=, size=, s=, y=, a=,
 * h=, checkpoint=, system=|nil, channels={...} }, or { raw=, error= } when
 * it does not parse. */
static void push_journal(lua_State *L, const uint8_t *p, size_t n) {
  lua_createtable(L, 0, 9);
  lua_pushlstring(L, (const char *)p, n);
  lua_setfield(L, -2, "raw");
  /* the decoded structures are too large for a C stack frame on every call */
  rmp_ej_sys *sys = lua_newuserdatauv(L, sizeof *sys, 0);
  rmp_ej_chan *scratch = lua_newuserdatauv(L, sizeof *scratch, 0);
  lua_newtable(L); /* channels */
  rmp_ej_hdr hdr;
  int r = rmp_ej_parse(p, n, &hdr, sys, scratch, push_channel, L);
  if (r < 0) {
    lua_pop(L, 3);
    lua_pushstring(L, rmp_ej_strerror(r));
    lua_setfield(L, -2, "error");
    return;
  }
  lua_setfield(L, -4, "channels");
  lua_pop(L, 1); /* scratch */
  if (hdr.y) {
    push_system(L, sys);
    lua_setfield(L, -3, "system");
  }
  lua_pop(L, 1); /* sys */
  SETI("size", r); /* octets of journal; any after it are not part of it */
  SETB("s", hdr.s);
  SETB("y", hdr.y);
  SETB("a", hdr.a);
  SETB("h", hdr.h);
  SETI("totchan", hdr.totchan);
  SETI("checkpoint", hdr.checkpoint);
}

/* decode_midi_payload(payload) -> { commands = { {delta=, time=, bytes=} ... },
 *   journal = table|nil, b=, j=, z=, p=, length= } | nil, err */
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
  if (it.hdr.j) {
    push_journal(L, p + size, n - (size_t)size);
    lua_setfield(L, -2, "journal");
  }
  return 1;
}

/* ---- AppleMIDI session commands ---- */

static char *cmd_text(uint16_t cmd, char out[8]) {
  unsigned char c1 = (unsigned char)(cmd >> 8), c2 = (unsigned char)cmd;
  if (c1 >= 0x20 && c1 < 0x7F && c2 >= 0x20 && c2 < 0x7F) snprintf(out, 8, "%c%c", c1, c2);
  else snprintf(out, 8, "%04x", cmd);
  return out;
}

/* decode_applemidi(packet) -> { command = "IN"|"OK"|"NO"|"BY"|"CK"|"RS", ... } | nil, err
 *   IN OK NO: version, token, ssrc, name (nil when the packet has none)
 *   BY: version, token, ssrc
 *   CK: ssrc, count, timestamps = { ts1, ts2, ts3 } (100 us units; Lua
 *       integers, so a value from 2^63 up reads as negative)
 *   RS: ssrc, seq (the high 16 bits of the field), field (all 32 bits) */
static int l_decode_applemidi(lua_State *L) {
  size_t n;
  const uint8_t *p = (const uint8_t *)luaL_checklstring(L, 1, &n);
  rmp_am_packet pkt;
  int r = rmp_am_parse(p, n, &pkt);
  if (r < 0) {
    char cmd[8];
    lua_pushnil(L);
    if (r == RMP_EAUNKNOWN) lua_pushfstring(L, "bad AppleMIDI packet: unknown command %s", cmd_text(pkt.cmd, cmd));
    else lua_pushfstring(L, "bad AppleMIDI packet: %s", rmp_am_strerror(r));
    return 2;
  }
  lua_createtable(L, 0, 6);
  lua_pushstring(L, rmp_am_cmd_name(pkt.cmd));
  lua_setfield(L, -2, "command");
  switch (pkt.cmd) {
  case RMP_AM_IN: case RMP_AM_OK: case RMP_AM_NO:
    SETI("version", pkt.u.inv.version);
    SETI("token", pkt.u.inv.token);
    SETI("ssrc", pkt.u.inv.ssrc);
    if (pkt.u.inv.has_name) {
      lua_pushlstring(L, pkt.u.inv.name, pkt.u.inv.name_len);
      lua_setfield(L, -2, "name");
    }
    break;
  case RMP_AM_BY:
    SETI("version", pkt.u.by.version);
    SETI("token", pkt.u.by.token);
    SETI("ssrc", pkt.u.by.ssrc);
    break;
  case RMP_AM_CK:
    SETI("ssrc", pkt.u.ck.ssrc);
    SETI("count", pkt.u.ck.count);
    lua_createtable(L, 3, 0);
    for (int i = 0; i < 3; i++) {
      lua_pushinteger(L, (lua_Integer)pkt.u.ck.ts[i]);
      lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "timestamps");
    break;
  case RMP_AM_RS:
    SETI("ssrc", pkt.u.rs.ssrc);
    SETI("seq", pkt.u.rs.seq);
    SETI("field", pkt.u.rs.raw);
    break;
  default:
    break;
  }
  return 1;
}

/* ---- RTCP compound packets (RFC 3550 section 6) ---- */

static void push_reports(lua_State *L, const rmp_rtcp_report_t *rep) {
  lua_createtable(L, (int)rep->n_rb, 0);
  for (unsigned i = 0; i < rep->n_rb; i++) {
    const rmp_rtcp_rb_t *b = &rep->rb[i];
    lua_createtable(L, 0, 7);
    SETI("ssrc", b->ssrc);
    SETI("fraction_lost", b->fraction_lost);
    SETI("cumulative_lost", b->cumulative_lost);
    SETI("ext_highest_seq", b->ext_highest_seq);
    SETI("jitter", b->jitter);
    SETI("lsr", b->lsr);
    SETI("dlsr", b->dlsr);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "reports");
}

static const char *const SDES_NAMES[] = {"end", "cname", "name", "email", "phone", "loc", "tool", "note", "priv"};

static int rtcp_error(lua_State *L, int r) {
  lua_pushnil(L);
  lua_pushfstring(L, "bad RTCP packet: %s", rmp_rtcp_strerror(r));
  return 2;
}

/* decode_rtcp(packet) -> { {type=, pt=, count=, padding=, length=, ...}, ... } | nil, err
 * One table per packet of the compound, which must pass RFC 3550 A.2:
 *   SR: ssrc, ntp_sec, ntp_frac, rtp_timestamp, packet_count, octet_count, reports
 *   RR: ssrc, reports; each report { ssrc, fraction_lost, cumulative_lost,
 *       ext_highest_seq, jitter, lsr, dlsr }
 *   SDES: items = { {ssrc=, type="cname"|..., item=number, value=string}, ... }
 *   BYE: ssrcs = {...}, reason = string|nil
 *   APP: subtype, ssrc, name (4 octets), data */
static int l_decode_rtcp(lua_State *L) {
  size_t n;
  const uint8_t *p = (const uint8_t *)luaL_checklstring(L, 1, &n);
  int r = rmp_rtcp_validate_compound(p, n);
  if (r < 0) return rtcp_error(L, r);
  /* a report holds up to 31 blocks: not on the C stack of every call */
  rmp_rtcp_report_t *rep = lua_newuserdatauv(L, sizeof *rep, 0);
  lua_newtable(L);
  rmp_rtcp_iter_t it;
  rmp_rtcp_hdr_t h;
  rmp_rtcp_iter_init(&it, p, n);
  int k = 0;
  while ((r = rmp_rtcp_iter_next(&it, &h)) > 0) {
    lua_createtable(L, 0, 10);
    SETI("pt", h.pt);
    SETI("count", h.count);
    SETB("padding", h.padding);
    SETI("length", h.pkt_len);
    const char *type = NULL;
    switch (h.pt) {
    case RMP_RTCP_SR: case RMP_RTCP_RR:
      type = h.pt == RMP_RTCP_SR ? "SR" : "RR";
      r = rmp_rtcp_parse_report(&h, rep);
      if (r < 0) return rtcp_error(L, r);
      SETI("ssrc", rep->ssrc);
      if (rep->is_sr) {
        SETI("ntp_sec", rep->si.ntp >> 32);
        SETI("ntp_frac", rep->si.ntp & 0xFFFFFFFFu);
        SETI("rtp_timestamp", rep->si.rtp_ts);
        SETI("packet_count", rep->si.packet_count);
        SETI("octet_count", rep->si.octet_count);
      }
      push_reports(L, rep);
      break;
    case RMP_RTCP_SDES: {
      type = "SDES";
      rmp_rtcp_sdes_iter_t si;
      rmp_rtcp_sdes_item_t item;
      uint32_t ssrc;
      rmp_rtcp_sdes_init(&si, &h);
      lua_newtable(L);
      int m = 0;
      while ((r = rmp_rtcp_sdes_next(&si, &ssrc, &item)) > 0) {
        lua_createtable(L, 0, 4);
        SETI("ssrc", ssrc);
        SETI("item", item.type);
        lua_pushstring(L, item.type < 9 ? SDES_NAMES[item.type] : "unknown");
        lua_setfield(L, -2, "type");
        lua_pushlstring(L, (const char *)item.data, item.len);
        lua_setfield(L, -2, "value");
        lua_rawseti(L, -2, ++m);
      }
      if (r < 0) return rtcp_error(L, r);
      lua_setfield(L, -2, "items");
      break;
    }
    case RMP_RTCP_BYE: {
      type = "BYE";
      rmp_rtcp_bye_t bye;
      r = rmp_rtcp_parse_bye(&h, &bye);
      if (r < 0) return rtcp_error(L, r);
      lua_createtable(L, (int)bye.n_ssrc, 0);
      for (unsigned i = 0; i < bye.n_ssrc; i++) {
        lua_pushinteger(L, bye.ssrc[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
      }
      lua_setfield(L, -2, "ssrcs");
      if (bye.has_reason) {
        lua_pushlstring(L, (const char *)bye.reason, bye.reason_len);
        lua_setfield(L, -2, "reason");
      }
      break;
    }
    case RMP_RTCP_APP: {
      type = "APP";
      rmp_rtcp_app_t app;
      r = rmp_rtcp_parse_app(&h, &app);
      if (r < 0) return rtcp_error(L, r);
      SETI("subtype", app.subtype);
      SETI("ssrc", app.ssrc);
      lua_pushlstring(L, (const char *)app.name, 4);
      lua_setfield(L, -2, "name");
      lua_pushlstring(L, (const char *)app.data, app.data_len);
      lua_setfield(L, -2, "data");
      break;
    }
    default:
      break; /* another type: its header only */
    }
    if (type) {
      lua_pushstring(L, type);
      lua_setfield(L, -2, "type");
    }
    lua_rawseti(L, -2, ++k);
  }
  if (r < 0) return rtcp_error(L, r);
  return 1;
}

static const luaL_Reg functions[] = {
  {"encode_rtp", l_encode_rtp},
  {"decode_rtp", l_decode_rtp},
  {"encode_midi_payload", l_encode_midi_payload},
  {"decode_midi_payload", l_decode_midi_payload},
  {"decode_applemidi", l_decode_applemidi},
  {"decode_rtcp", l_decode_rtcp},
  {NULL, NULL},
};

void rml_open_codec(lua_State *L) {
  lua_newtable(L);
  luaL_setfuncs(L, functions, 0);
  lua_setfield(L, -2, "codec");
}
