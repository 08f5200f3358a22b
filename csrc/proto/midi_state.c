/* midi_state.c -- model of a MIDI receiver's state (see midi_state.h). */
#include "midi_state.h"

#include <stdlib.h>
#include <string.h>

/* A channel at power-up: nothing received (a device keeps its own
 * defaults), toggle and count tool counters 0 (RFC 6295 A.3.2: the
 * controllers with a toggle counter default to "off"), release velocity
 * 64, bend centred, the null parameter selected. */
#define V8 64, 64, 64, 64, 64, 64, 64, 64
#define V64 V8, V8, V8, V8, V8, V8, V8, V8
static const rmp_ms_channel POWER_UP = {
  .off_vel = { V64, V64 },
  .bend = 8192,
  .sel_msb = 127,
  .sel_lsb = 127,
  .msb_kinds = RMP_MS_SEL_RPN | RMP_MS_SEL_NRPN,
};
#undef V64
#undef V8

static void *libc_alloc(void *ud, size_t n) { (void)ud; return malloc(n); }
static void libc_free(void *ud, void *p, size_t n) { (void)ud; (void)n; free(p); }
static const rmp_ms_alloc LIBC = { libc_alloc, libc_free, NULL };

void *rmp_ms_mem(rmp_midi_state *st, size_t n) {
  void *p = st->al.alloc(st->al.ud, n);
  if (!p) st->alloc_failed++;
  else memset(p, 0, n);
  return p;
}

void rmp_ms_unmem(rmp_midi_state *st, void *p, size_t n) {
  if (p) st->al.free(st->al.ud, p, n);
}

void rmp_ms_init_alloc(rmp_midi_state *st, const rmp_ms_alloc *al) {
  memset(st, 0, sizeof *st);
  st->al = al && al->alloc && al->free ? *al : LIBC;
}

void rmp_ms_init(rmp_midi_state *st) { rmp_ms_init_alloc(st, NULL); }

static void chan_release(rmp_midi_state *st, rmp_ms_channel *c) {
  rmp_ms_unmem(st, c->pp, sizeof *c->pp);
  c->pp = NULL;
}

void rmp_ms_chan_drop(rmp_midi_state *st, int ch) {
  rmp_ms_channel *c = st->ch[ch];
  if (!c) return;
  chan_release(st, c);
  rmp_ms_unmem(st, c, sizeof *c);
  st->ch[ch] = NULL;
}

void rmp_ms_free(rmp_midi_state *st) {
  for (int ch = 0; ch < 16; ch++) rmp_ms_chan_drop(st, ch);
  rmp_ms_alloc al = st->al;
  unsigned failed = st->alloc_failed;
  rmp_ms_init_alloc(st, &al);
  st->alloc_failed = failed;
}

int rmp_ms_copy(rmp_midi_state *dst, const rmp_midi_state *src) {
  *dst = *src;
  for (int ch = 0; ch < 16; ch++) dst->ch[ch] = NULL;
  for (int ch = 0; ch < 16; ch++) {
    const rmp_ms_channel *c = src->ch[ch];
    if (!c) continue;
    rmp_ms_channel *d = rmp_ms_mem(dst, sizeof *d);
    if (!d) { rmp_ms_free(dst); return -1; }
    *d = *c;
    d->pp = NULL;
    dst->ch[ch] = d;
    if (c->pp) {
      if (!(d->pp = rmp_ms_mem(dst, sizeof *d->pp))) { rmp_ms_free(dst); return -1; }
      *d->pp = *c->pp;
    }
  }
  return 0;
}

const rmp_ms_channel *rmp_ms_chan(const rmp_midi_state *st, int ch) {
  return st->ch[ch] ? st->ch[ch] : &POWER_UP;
}

rmp_ms_channel *rmp_ms_chan_w(rmp_midi_state *st, int ch) {
  if (st->broken >> ch & 1) return NULL;
  if (st->ch[ch]) return st->ch[ch];
  rmp_ms_channel *c = st->al.alloc(st->al.ud, sizeof *c);
  if (!c) {
    st->alloc_failed++;
    st->broken |= (uint16_t)(1u << ch);
    return NULL;
  }
  *c = POWER_UP;
  return st->ch[ch] = c;
}

int rmp_ms_chan_idle(const rmp_ms_channel *c) {
  if (c->pp) return 0;
  rmp_ms_channel t = *c;
  memset(t.cc_known, 0, sizeof t.cc_known);
  t.bend_known = t.pressure_known = 0;
  return memcmp(&t, &POWER_UP, sizeof t) == 0;
}

/* A channel back at power-up (a Reset State command): its memory is kept. */
static void channel_init(rmp_midi_state *st, rmp_ms_channel *c) {
  chan_release(st, c);
  *c = POWER_UP;
}

int rmp_ms_ctl_class(uint8_t ctl) {
  if (ctl == 6 || ctl == 38 || ctl == 96 || ctl == 97) return RMP_MS_CTL_PARAM;
  if (ctl >= 98 && ctl <= 101) return RMP_MS_CTL_SELECT;
  if (ctl >= 64 && ctl <= 69) return RMP_MS_CTL_TOGGLE;
  if (ctl == 120 || ctl == 121 || (ctl >= 123 && ctl <= 127)) return RMP_MS_CTL_COUNT;
  return RMP_MS_CTL_VALUE;
}

int rmp_ms_cc_count_idx(uint8_t ctl) {
  if (ctl >= 64 && ctl <= 69) return ctl - 64;
  if (ctl >= 120 && ctl <= 127) return ctl - 120 + 6;
  return -1;
}

uint8_t rmp_ms_cc_count(const rmp_ms_channel *c, uint8_t ctl) {
  int i = rmp_ms_cc_count_idx(ctl);
  return i < 0 ? 0 : c->cc_count[i];
}

void rmp_ms_set_cc_count(rmp_ms_channel *c, uint8_t ctl, uint8_t v) {
  int i = rmp_ms_cc_count_idx(ctl);
  if (i >= 0) c->cc_count[i] = v & 63;
}

void rmp_ms_param_touch(rmp_ms_channel *c, const rmp_ms_param *p) {
  rmp_ms_params *t = c->pp;
  if (!t) return;
  uint8_t i = (uint8_t)(p - t->param);
  int k = 0;
  while (k < t->nporder && t->porder[k] != i) k++;
  if (k == t->nporder) {
    if (t->nporder >= RMP_MS_MAX_PARAMS) return; /* cannot happen: one entry per slot in use */
    t->nporder++;
  }
  for (; k + 1 < t->nporder; k++) t->porder[k] = t->porder[k + 1];
  t->porder[t->nporder - 1] = i;
}

const rmp_ms_param *rmp_ms_param_get(const rmp_ms_channel *c, int nrpn, uint8_t pmsb, uint8_t plsb) {
  return rmp_ms_param_find((rmp_ms_channel *)c, nrpn, pmsb, plsb, 0);
}

rmp_ms_param *rmp_ms_param_find(rmp_ms_channel *c, int nrpn, uint8_t pmsb, uint8_t plsb, int create) {
  rmp_ms_params *t = c->pp;
  if (!t) return NULL;
  rmp_ms_param *free_slot = NULL;
  for (int i = 0; i < RMP_MS_MAX_PARAMS; i++) {
    rmp_ms_param *p = &t->param[i];
    if (!p->used) {
      if (!free_slot) free_slot = p;
      continue;
    }
    if (p->nrpn == (nrpn != 0) && p->pmsb == pmsb && p->plsb == plsb) return p;
  }
  if (!create) return NULL;
  if (!free_slot) {
    /* all in use: forget the least recently used parameter */
    free_slot = &t->param[t->porder[0]];
    t->nporder--;
    memmove(t->porder, t->porder + 1, t->nporder);
  }
  memset(free_slot, 0, sizeof *free_slot);
  free_slot->used = 1;
  free_slot->nrpn = (uint8_t)(nrpn != 0);
  free_slot->pmsb = pmsb;
  free_slot->plsb = plsb;
  return free_slot;
}

/* A slot for the parameter, its table made on first use; NULL when memory
 * ran out (the channel is then broken: its parameters are not modelled). */
static rmp_ms_param *param_slot(rmp_midi_state *st, int ch, rmp_ms_channel *c, int nrpn, uint8_t pm, uint8_t pl) {
  if (!c->pp && !(c->pp = rmp_ms_mem(st, sizeof *c->pp))) {
    st->broken |= (uint16_t)(1u << ch);
    return NULL;
  }
  return rmp_ms_param_find(c, nrpn, pm, pl, 1);
}

int rmp_ms_selected(const rmp_ms_channel *c, int *nrpn, uint8_t *pmsb, uint8_t *plsb) {
  if (c->sel == RMP_MS_SEL_NONE || (c->sel_msb == 127 && c->sel_lsb == 127)) return 0;
  *nrpn = c->sel == RMP_MS_SEL_NRPN;
  *pmsb = c->sel_msb;
  *plsb = c->sel_lsb;
  return 1;
}

static void all_notes_off(rmp_ms_channel *c) {
  memset(c->note_vel, 0, sizeof c->note_vel);
  memset(c->note_ref, 0, sizeof c->note_ref);
}

static void apply_cc(rmp_midi_state *st, int ch, rmp_ms_channel *c, uint8_t ctl, uint8_t v);

/* Reset All Controllers (121), MIDI RP-015: modulation 0, expression 127,
 * pedals 64-67 off (their toggles counted, RFC 6295 A.3.2), RPN/NRPN
 * selection null, pitch bend centre, channel and poly pressure 0. Left
 * alone: bank select, volume, pan, the other controllers, program, notes,
 * RPN/NRPN values (RFC 6295 A.2, A.3.1, A.4). What it sets is known to the
 * device behind a receiver afterwards, like a value it received. */
static void reset_controllers(rmp_midi_state *st, int ch, rmp_ms_channel *c) {
  static const uint8_t reset[][2] = { { 1, 0 }, { 11, 127 }, { 64, 0 }, { 65, 0 }, { 66, 0 }, { 67, 0 } };
  for (size_t i = 0; i < sizeof reset / sizeof reset[0]; i++) {
    uint8_t n = reset[i][0];
    apply_cc(st, ch, c, n, reset[i][1]);
    c->cc_known[n >> 3] |= (uint8_t)(1u << (n & 7));
  }
  c->sel_msb = c->sel_lsb = 127;
  c->pending = 0;
  c->msb_kinds = RMP_MS_SEL_RPN | RMP_MS_SEL_NRPN;
  c->sel_pair = 1;
  c->bend = 8192;
  c->bend_known = 1;
  c->chan_pressure = 0;
  c->pressure_known = 1;
  memset(c->poly, 0, sizeof c->poly);
}

static void apply_cc(rmp_midi_state *st, int ch, rmp_ms_channel *c, uint8_t ctl, uint8_t v) {
  switch (rmp_ms_ctl_class(ctl)) {
  case RMP_MS_CTL_TOGGLE:
    if ((v >= 64) != (c->cc[ctl] >= 64)) rmp_ms_set_cc_count(c, ctl, (uint8_t)(rmp_ms_cc_count(c, ctl) + 1));
    c->cc[ctl] = v;
    break;
  case RMP_MS_CTL_COUNT:
    rmp_ms_set_cc_count(c, ctl, (uint8_t)(rmp_ms_cc_count(c, ctl) + 1));
    /* 120 and 123-127 end every note (All Sound Off, All Notes Off and
     * the omni/mono/poly messages, which imply it); channel pressure is
     * tied to note activity and is cleared too (RFC 6295 A.8: Chapter T
     * only codes N-active pressure) */
    if (ctl == 120 || ctl >= 123) { all_notes_off(c); c->chan_pressure = 0; }
    if (ctl == 121) reset_controllers(st, ch, c);
    break;
  case RMP_MS_CTL_SELECT: {
    /* RFC 6295 A.1 variants (see midi_state.h) */
    c->sel = ctl <= 99 ? RMP_MS_SEL_NRPN : RMP_MS_SEL_RPN;
    if (ctl == 99 || ctl == 101) {
      c->sel_msb = v;
      c->sel_lsb = 0;
      c->pending = ctl;
      c->msb_kinds = c->sel;
      c->sel_pair = 0;
      break;
    }
    c->sel_lsb = v;
    c->pending = 0;
    c->sel_pair = (c->msb_kinds & c->sel) != 0;
    int nrpn;
    uint8_t pm, pl;
    rmp_ms_param *p;
    if (rmp_ms_selected(c, &nrpn, &pm, &pl) && (p = param_slot(st, ch, c, nrpn, pm, pl)) != NULL) rmp_ms_param_touch(c, p);
    break;
  }
  case RMP_MS_CTL_PARAM: {
    int nrpn;
    uint8_t pm, pl;
    if (!rmp_ms_selected(c, &nrpn, &pm, &pl)) { /* no transaction: a general-purpose use (A.3.4) */
      c->cc[ctl] = v;
      break;
    }
    c->pending = 0; /* a transaction command after the MSB: no longer pending (A.4 P bit) */
    rmp_ms_param *p = param_slot(st, ch, c, nrpn, pm, pl);
    if (!p) break;
    rmp_ms_param_touch(c, p);
    if (ctl == 6) { p->has_msb = 1; p->msb = v; p->has_lsb = 0; p->lsb = 0; p->buttons = 0; p->btn = 0; }
    else if (ctl == 38) { p->has_lsb = 1; p->lsb = v; p->buttons = 0; p->btn = 0; }
    /* count magnitude limited to 16383 (A.4.2.1 A-BUTTON) */
    else if (ctl == 96) { if (p->buttons < 16383) p->buttons++; p->btn = 1; }
    else { if (p->buttons > -16383) p->buttons--; p->btn = 1; }
    break;
  }
  default:
    c->cc[ctl] = v;
    if (ctl == 0) { c->msb_seen = 1; c->lsb_after_msb = 0; }
    if (ctl == 32) c->lsb_after_msb = 1;
    break;
  }
}

int rmp_ms_is_reset_state(const uint8_t *msg, size_t len) {
  if (!msg || len < 1) return 0;
  if (msg[0] == 0xFF) return 1;
  if (len != 6 || msg[0] != 0xF0 || msg[1] != 0x7E || (msg[2] & 0x80) || msg[5] != 0xF7) return 0;
  /* GM: 01 System On, 02 System Off (the GM spec), 00 the Disable RFC 6295
   * A.1 lists, 03 GM2 System On */
  if (msg[3] == 0x09) return msg[4] <= 0x03;
  if (msg[3] == 0x0A) return msg[4] == 0x01 || msg[4] == 0x02;
  return 0;
}

int rmp_ms_is_full_frame(const uint8_t *msg, size_t len) {
  if (!msg || len != 10 || msg[0] != 0xF0 || msg[1] != 0x7F || msg[3] != 0x01 || msg[4] != 0x01 || msg[9] != 0xF7)
    return 0;
  for (int i = 2; i < 9; i++)
    if (msg[i] & 0x80) return 0;
  return 1;
}

/* A Reset State command (RFC 6295 A.1) returns the renderer to power-up:
 * every channel as rmp_ms_init leaves it. System Reset (FF) resets every
 * receiver, the sequencer and time code too; the GM/DLS SysEx address the
 * synthesizer, and leave them (journal_send.c). The session counts (reset,
 * tune request, active sensing, undefined commands) go on. */
static void reset_state(rmp_midi_state *st, int system) {
  for (int ch = 0; ch < 16; ch++)
    if (st->ch[ch]) channel_init(st, st->ch[ch]);
  st->broken = 0; /* every channel at power-up: known again */
  if (!system) return;
  st->song = 0;
  st->song_valid = 0;
  st->seq_running = st->seq_started = 0;
  st->seq_pos = 0;
  memset(st->mtc_nib, 0, sizeof st->mtc_nib);
  st->mtc_point = st->mtc_valid = st->mtc_run = st->mtc_rev = 0;
  st->mtc_complete_valid = st->mtc_complete_ff = st->mtc_complete_rev = 0;
  st->mtc_complete = 0;
}

void rmp_ms_apply(rmp_midi_state *st, const uint8_t *msg, size_t len) {
  if (!msg || len < 1 || !(msg[0] & 0x80)) return;
  uint8_t s = msg[0];
  if (s < 0xF0) {
    rmp_ms_channel *c = rmp_ms_chan_w(st, s & 15);
    if (!c) return; /* broken: not modelled (midi_state.h) */
    uint8_t kind = s & 0xF0;
    size_t need = (kind == 0xC0 || kind == 0xD0) ? 2 : 3;
    if (len < need) return;
    uint8_t d1 = msg[1] & 127, d2 = need == 3 ? (msg[2] & 127) : 0;
    switch (kind) {
    case 0x80: c->note_vel[d1] = 0; c->off_vel[d1] = d2; if (c->note_ref[d1]) c->note_ref[d1]--; break;
    case 0x90:
      if (d2 == 0) { c->note_vel[d1] = 0; c->off_vel[d1] = 64; if (c->note_ref[d1]) c->note_ref[d1]--; }
      else { c->note_vel[d1] = d2; if (c->note_ref[d1] < 127) c->note_ref[d1]++; }
      break;
    case 0xA0: c->poly[d1] = d2; break;
    case 0xB0:
      c->cc_known[d1 >> 3] |= (uint8_t)(1u << (d1 & 7));
      apply_cc(st, s & 15, c, d1, d2);
      break;
    case 0xC0:
      c->program = d1;
      c->prog_b = c->msb_seen;
      c->prog_bank_msb = c->msb_seen ? c->cc[0] : 0;
      c->prog_bank_lsb = c->msb_seen && c->lsb_after_msb ? c->cc[32] : 0;
      c->prog_valid = 1;
      break;
    case 0xD0: c->chan_pressure = d1; c->pressure_known = 1; break;
    case 0xE0: c->bend = (uint16_t)(d1 | (d2 << 7)); c->bend_known = 1; break;
    }
    return;
  }
  switch (s) {
  case 0xF1: {
    if (len < 2) return;
    uint8_t type = (msg[1] >> 4) & 7;
    st->mtc_nib[type] = msg[1] & 15;
    /* a forward run is 0, 1, ... in a row, and 7 completes a frame; a
     * reverse run (B.4) is 7, 6, ... and 0 completes it. A run goes on
     * before a new one starts (7 after 6 is the end of a forward run). */
    int fwd = st->mtc_run && !st->mtc_rev && st->mtc_point < 7 && st->mtc_point + 1 == type;
    int rev = st->mtc_run && st->mtc_rev && st->mtc_point > 0 && st->mtc_point - 1 == type;
    int done = (fwd && type == 7) || (rev && type == 0);
    if (!fwd && !rev) {
      st->mtc_run = type == 0 || type == 7;
      st->mtc_rev = type == 7;
    }
    st->mtc_point = type;
    st->mtc_valid = 1;
    if (done) {
      st->mtc_complete = 0;
      for (int i = 0; i < 8; i++) st->mtc_complete = st->mtc_complete << 4 | st->mtc_nib[i];
      st->mtc_complete_valid = 1;
      st->mtc_complete_ff = 0;
      st->mtc_complete_rev = st->mtc_rev;
    }
    break;
  }
  case 0xF2:
    if (len < 3) return;
    st->seq_pos = (uint32_t)((msg[1] & 127) | ((msg[2] & 127) << 7)) * 6u;
    break;
  case 0xF3:
    if (len < 2) return;
    st->song = msg[1] & 127;
    st->song_valid = 1;
    break;
  case 0xF4: st->undef_count[0]++; break;
  case 0xF5: st->undef_count[1]++; break;
  case 0xF6: st->tune_count = (uint8_t)((st->tune_count + 1) & 127); break;
  case 0xF8: if (st->seq_running && st->seq_pos < 0x7FFFF) st->seq_pos++; break;
  case 0xF9: st->undef_count[2]++; break;
  case 0xFA: st->seq_running = 1; st->seq_pos = 0; st->seq_started = 1; break;
  case 0xFB: st->seq_running = 1; st->seq_started = 0; break;
  case 0xFC: st->seq_running = 0; break;
  case 0xFD: st->undef_count[3]++; break;
  case 0xFE: st->sense_count = (uint8_t)((st->sense_count + 1) & 127); break;
  case 0xFF:
    st->reset_count = (uint8_t)((st->reset_count + 1) & 127);
    reset_state(st, 1);
    break;
  case 0xF0:
    /* SysEx is not modelled, but for the Reset State ones and the MTC Full
     * Frame (a complete frame; it ends any quarter frame run) */
    if (rmp_ms_is_reset_state(msg, len)) reset_state(st, 0);
    else if (rmp_ms_is_full_frame(msg, len)) {
      st->mtc_complete = (uint32_t)msg[5] << 24 | (uint32_t)msg[6] << 16 | (uint32_t)msg[7] << 8 | msg[8];
      st->mtc_complete_valid = 1;
      st->mtc_complete_ff = 1;
      st->mtc_complete_rev = 0;
      st->mtc_valid = 1;
      st->mtc_run = 0;
      st->mtc_rev = 0;
      st->mtc_point = 7;
    }
    break;
  default: break;
  }
}

static int param_equal(const rmp_ms_param *a, const rmp_ms_param *b) {
  if (a->has_msb != b->has_msb || a->has_lsb != b->has_lsb || a->buttons != b->buttons) return 0;
  /* btn is journal bookkeeping, not state a synth sees */
  if (a->has_msb && a->msb != b->msb) return 0;
  if (a->has_lsb && a->lsb != b->lsb) return 0;
  return 1;
}

int rmp_ms_mtc_partial(const rmp_midi_state *st) {
  return st->mtc_valid && st->mtc_run && (st->mtc_rev ? st->mtc_point > 0 : st->mtc_point < 7);
}
#define mtc_partial rmp_ms_mtc_partial

unsigned rmp_ms_compare(const rmp_midi_state *want, const rmp_midi_state *got, rmp_ms_diff *d) {
  rmp_ms_diff z;
  memset(&z, 0, sizeof z);
  for (int ch = 0; ch < 16; ch++) {
    const rmp_ms_channel *w = rmp_ms_chan(want, ch), *g = rmp_ms_chan(got, ch);
    for (int n = 0; n < 128; n++) {
      if (w->note_vel[n] && !g->note_vel[n]) z.missing_notes++;
      else if (!w->note_vel[n] && g->note_vel[n]) z.stuck_notes++;
      else if (w->note_vel[n] != g->note_vel[n]) z.wrong_velocity++;
      if (w->note_ref[n] != g->note_ref[n]) z.wrong_refcount++;
      if (w->poly[n] != g->poly[n]) z.wrong_poly++;
      int cls = rmp_ms_ctl_class((uint8_t)n);
      if (cls != RMP_MS_CTL_COUNT && cls != RMP_MS_CTL_SELECT && w->cc[n] != g->cc[n]) z.wrong_ctl++;
    }
    if (w->prog_valid != g->prog_valid || w->program != g->program || w->prog_b != g->prog_b ||
        w->prog_bank_msb != g->prog_bank_msb || w->prog_bank_lsb != g->prog_bank_lsb)
      z.wrong_program++;
    if (w->bend != g->bend) z.wrong_bend++;
    if (w->chan_pressure != g->chan_pressure) z.wrong_pressure++;
    {
      int wn = 0, gn = 0;
      uint8_t wm = 0, wl = 0, gm = 0, gl = 0;
      int ws = rmp_ms_selected(w, &wn, &wm, &wl), gs = rmp_ms_selected(g, &gn, &gm, &gl);
      if (ws != gs || (ws && (wn != gn || wm != gm || wl != gl))) z.wrong_param++;
    }
    /* a parameter without a slot equals one that holds no data */
    static const rmp_ms_param none;
    for (int i = 0; w->pp && i < RMP_MS_MAX_PARAMS; i++) {
      const rmp_ms_param *p = &w->pp->param[i];
      if (!p->used) continue;
      const rmp_ms_param *q = rmp_ms_param_get(g, p->nrpn, p->pmsb, p->plsb);
      if (!param_equal(p, q ? q : &none)) z.wrong_param++;
    }
    for (int i = 0; g->pp && i < RMP_MS_MAX_PARAMS; i++) {
      const rmp_ms_param *q = &g->pp->param[i];
      if (q->used && !rmp_ms_param_get(w, q->nrpn, q->pmsb, q->plsb) && !param_equal(q, &none))
        z.wrong_param++;
    }
  }
  if (want->song_valid != got->song_valid || want->song != got->song) z.wrong_system++;
  if (want->seq_running != got->seq_running || want->seq_pos != got->seq_pos) z.wrong_system++;
  /* MTC: only what Chapter F codes (see midi_state.h). The last complete
   * forward frame (COMPLETE), then a forward partial run 0..POINT < 7 of the
   * wanted state (PARTIAL). Registers set by quarter frames that are not
   * part of such a run (out of order, or after POINT) are not compared:
   * RFC 6295 B.4.1 gives them no coding (a one-octet Chapter F "codes the
   * presence of an illegal command sequence"), so no receiver can rebuild
   * them and they are not a repair failure. */
  if (want->mtc_complete_valid != got->mtc_complete_valid ||
      (want->mtc_complete_valid &&
       (want->mtc_complete != got->mtc_complete || want->mtc_complete_ff != got->mtc_complete_ff)))
    z.wrong_system++;
  else if (mtc_partial(want)) {
    int lo = want->mtc_rev ? want->mtc_point : 0, hi = want->mtc_rev ? 7 : want->mtc_point;
    if (!got->mtc_valid || !got->mtc_run || got->mtc_rev != want->mtc_rev || got->mtc_point != want->mtc_point ||
        memcmp(want->mtc_nib + lo, got->mtc_nib + lo, (size_t)(hi - lo + 1)) != 0)
      z.wrong_system++;
  }
  if (d) *d = z;
  return z.stuck_notes + z.missing_notes + z.wrong_velocity + z.wrong_ctl + z.wrong_program +
         z.wrong_bend + z.wrong_pressure + z.wrong_poly + z.wrong_param + z.wrong_system +
         z.wrong_refcount;
}

static int mtc_fps(unsigned rate) { return rate == 0 ? 24 : rate == 1 ? 25 : 30; }

/* frames of the minute-start that drop-frame time code skips */
static int mtc_skipped(unsigned rate, int mn, int sc, int fr) { return rate == 2 && sc == 0 && fr < 2 && mn % 10 != 0; }

uint32_t rmp_ms_mtc_offset(uint32_t mt, int delta) {
  unsigned n[8];
  for (int i = 0; i < 8; i++) n[i] = (mt >> (28 - 4 * i)) & 15;
  unsigned rate = (n[7] >> 1) & 3;
  int fps = mtc_fps(rate);
  int fr = (int)(n[0] | (n[1] & 1) << 4), sc = (int)(n[2] | (n[3] & 3) << 4);
  int mn = (int)(n[4] | (n[5] & 3) << 4), hr = (int)(n[6] | (n[7] & 1) << 4);
  if (fr >= fps || sc >= 60 || mn >= 60 || hr >= 24 || mtc_skipped(rate, mn, sc, fr)) return mt;
  for (; delta > 0; delta--) {
    do {
      if (++fr < fps) continue;
      fr = 0;
      if (++sc < 60) continue;
      sc = 0;
      if (++mn < 60) continue;
      mn = 0;
      hr = (hr + 1) % 24;
    } while (mtc_skipped(rate, mn, sc, fr));
  }
  for (; delta < 0; delta++) {
    do {
      if (--fr >= 0) continue;
      fr = fps - 1;
      if (--sc >= 0) continue;
      sc = 59;
      if (--mn >= 0) continue;
      mn = 59;
      hr = (hr + 23) % 24;
    } while (mtc_skipped(rate, mn, sc, fr));
  }
  n[0] = (unsigned)fr & 15; n[1] = (n[1] & 14) | ((unsigned)fr >> 4);
  n[2] = (unsigned)sc & 15; n[3] = (n[3] & 12) | ((unsigned)sc >> 4);
  n[4] = (unsigned)mn & 15; n[5] = (n[5] & 12) | ((unsigned)mn >> 4);
  n[6] = (unsigned)hr & 15; n[7] = (n[7] & 14) | ((unsigned)hr >> 4);
  uint32_t r = 0;
  for (int i = 0; i < 8; i++) r = r << 4 | n[i];
  return r;
}
