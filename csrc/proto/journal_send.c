/* journal_send.c -- recovery journal sender (RFC 6295 section 4 and
 * appendices A/B; RFC 4696 sections on the checkpoint history).
 *
 * The sender keeps a MIDI state model (midi_state.h) plus, for every
 * element of it, the extended RTP seqnum of the packet that last changed it.
 * The journal of packet I codes every element last changed in the
 * checkpoint history [checkpoint, I-1], with its current value.
 *
 * Choices made here (documented for interop review):
 *  - S bits: S = 1 on a structure iff it codes an element last changed in
 *    packet I-1 (propagated up to the chapter, channel and journal headers).
 *    Chapter N has no S bit in its header; its B bit is set the same way.
 *  - Chapter C: controllers in the checkpoint history are logged in the
 *    order of their last change. 64-69 get a toggle-tool log (toggle count
 *    mod 64) followed by a value-tool log; 120, 121, 123-127 a count-tool
 *    log; 6, 38, 96, 97 are never in C (Chapter M codes them); every other
 *    controller, including the parameter selectors 98-101, a value log.
 *    Because of the ordering, the last of the 98-101 logs tells whether RPN
 *    or NRPN is the selected kind.
 *  - Chapter M: one log per parameter touched in the history; J/K carry the
 *    last Data Entry MSB/LSB, L (A-BUTTON) the net number of increments
 *    minus decrements since then (G = 1: negative). No PENDING, E = 0.
 *  - Chapter N: a note log for every note on whose last NoteOn/NoteOff is in
 *    the history, an OFFBITS bit for every such note now off. Y = 1 when the
 *    onset is at most cfg.y_window packets old.
 *  - Chapter E: release velocities != 64 of notes released in the history.
 *  - Chapter Q: N = running, C = 1, TOP:CLOCK = clocks since position 0.
 *  - Chapter F: C = 1, Q = 1, COMPLETE = the eight quarter-frame nibble
 *    registers MT0..MT7, POINT = last quarter-frame type. (A simplification
 *    of B.4: COMPLETE carries the current registers rather than only the
 *    last complete frame; PARTIAL is not sent.)
 *  - Chapter X (SysEx) is not generated.
 */
#include "journal.h"

#include <string.h>

void rmp_ej_send_init(rmp_ej_sender *s, const rmp_ej_send_config *cfg) {
  memset(s, 0, sizeof *s);
  if (cfg) s->cfg = *cfg;
  rmp_ms_init(&s->st);
}

static uint32_t ext_of(const rmp_ej_sender *s, uint16_t seq) {
  int16_t d = (int16_t)(uint16_t)(seq - (uint16_t)s->last);
  return (uint32_t)((int64_t)s->last + d);
}

static uint32_t ext_seq(rmp_ej_sender *s, uint16_t seq) {
  if (!s->have_seq) {
    s->have_seq = 1;
    s->last = 0x10000u + seq;
    s->checkpoint = s->last;
    return s->last;
  }
  uint32_t e = ext_of(s, seq);
  if (e > s->last) s->last = e;
  return e;
}

void rmp_ej_send_record(rmp_ej_sender *s, uint16_t seq, const uint8_t *msg, size_t len) {
  if (!msg || len < 1 || !(msg[0] & 0x80)) return;
  uint32_t e = ext_seq(s, seq);
  uint8_t st = msg[0];
  if (st < 0xF0) {
    int ch = st & 15;
    rmp_ej_send_chan *sc = &s->seq[ch];
    rmp_ms_channel *c = &s->st.ch[ch];
    uint8_t kind = st & 0xF0;
    size_t need = (kind == 0xC0 || kind == 0xD0) ? 2 : 3;
    if (len < need) return;
    uint8_t d1 = msg[1] & 127;
    sc->any = e;
    switch (kind) {
    case 0x80: case 0x90: sc->note[d1] = e; break;
    case 0xA0: sc->poly[d1] = e; break;
    case 0xB0: {
      int cls = rmp_ms_ctl_class(d1);
      if (cls == RMP_MS_CTL_PARAM) {
        rmp_ms_apply(&s->st, msg, len);
        int nrpn;
        uint8_t pm, pl;
        if (rmp_ms_selected(c, &nrpn, &pm, &pl)) {
          rmp_ms_param *p = rmp_ms_param_find(c, nrpn, pm, pl, 0);
          if (p) sc->param[p - c->param] = e;
        }
        return;
      }
      sc->ctl[d1] = e;
      if (d1 == 120 || d1 == 123)
        for (int n = 0; n < 128; n++)
          if (c->note_vel[n]) sc->note[n] = e;
      break;
    }
    case 0xC0: sc->prog = e; break;
    case 0xD0: sc->cpres = e; break;
    case 0xE0: sc->bend = e; break;
    }
  } else {
    switch (st) {
    case 0xF1: s->f_seq = e; break;
    case 0xF2: case 0xF8: case 0xFA: case 0xFB: case 0xFC: s->q_seq = e; break;
    case 0xF3: s->song_seq = e; break;
    case 0xF4: s->undef_seq[0] = e; break;
    case 0xF5: s->undef_seq[1] = e; break;
    case 0xF9: s->undef_seq[2] = e; break;
    case 0xFD: s->undef_seq[3] = e; break;
    case 0xF6: s->tune_seq = e; break;
    case 0xFE: s->sense_seq = e; break;
    case 0xFF: s->reset_seq = e; break;
    default: return; /* SysEx: not journalled */
    }
    s->sys_any = e;
  }
  rmp_ms_apply(&s->st, msg, len);
}

void rmp_ej_send_ack(rmp_ej_sender *s, uint16_t seq) {
  if (!s->have_seq) return;
  uint32_t cp = ext_of(s, seq) + 1;
  if (cp > s->checkpoint && cp <= s->last + 1) s->checkpoint = cp;
}

uint16_t rmp_ej_send_checkpoint(const rmp_ej_sender *s) { return (uint16_t)s->checkpoint; }

/* ---- journal construction ------------------------------------------------------- */
typedef struct { uint32_t cp, cur; } win;

static int in_win(const win *w, uint32_t x) { return x != 0 && x >= w->cp && x < w->cur; }
static uint8_t s_bit(const win *w, uint32_t x) { return (uint8_t)(x != 0 && x + 1 == w->cur); }

static int build_chan(rmp_ej_sender *s, const win *w, int ch, rmp_ej_chan *cj) {
  const rmp_ej_send_chan *sc = &s->seq[ch];
  const rmp_ms_channel *c = &s->st.ch[ch];
  uint8_t anys = 0;
  cj->s = 0; cj->chan = (uint8_t)ch; cj->h = 0; cj->toc = 0;

  if (in_win(w, sc->prog)) {
    rmp_ej_chap_p *p = &cj->p;
    p->s = s_bit(w, sc->prog);
    p->program = c->program;
    p->b = c->bank_seen;
    p->bank_msb = c->bank_seen ? c->prog_bank_msb : 0;
    p->bank_lsb = c->bank_seen ? c->prog_bank_lsb : 0;
    p->x = 0;
    anys |= p->s;
    cj->toc |= RMP_EJ_TOC_P;
  }

  /* Chapter C: controllers in the history, ordered by last change. */
  {
    uint8_t order[128];
    int k = 0;
    for (int n = 0; n < 128; n++) {
      if (!in_win(w, sc->ctl[n]) || rmp_ms_ctl_class((uint8_t)n) == RMP_MS_CTL_PARAM) continue;
      int j = k++;
      while (j > 0 && sc->ctl[order[j - 1]] > sc->ctl[n]) { order[j] = order[j - 1]; j--; }
      order[j] = (uint8_t)n;
    }
    rmp_ej_chap_c *cc = &cj->c;
    cc->count = 0;
    cc->s = 0;
    for (int i = 0; i < k; i++) {
      uint8_t n = order[i];
      uint8_t sb = s_bit(w, sc->ctl[n]);
      int cls = rmp_ms_ctl_class(n);
      int nlogs = cls == RMP_MS_CTL_TOGGLE ? 2 : 1;
      if (cc->count + nlogs > RMP_EJ_MAX_CTL_LOGS) return RMP_EJ_ENOSPACE;
      if (cls == RMP_MS_CTL_TOGGLE) {
        cc->log[cc->count++] = (rmp_ej_ctl_log){ sb, n, RMP_EJ_TOOL_TOGGLE, (uint8_t)(c->cc_count[n] & 63) };
        cc->log[cc->count++] = (rmp_ej_ctl_log){ sb, n, RMP_EJ_TOOL_VALUE, c->cc[n] };
      } else if (cls == RMP_MS_CTL_COUNT) {
        cc->log[cc->count++] = (rmp_ej_ctl_log){ sb, n, RMP_EJ_TOOL_COUNT, (uint8_t)(c->cc_count[n] & 63) };
      } else {
        cc->log[cc->count++] = (rmp_ej_ctl_log){ sb, n, RMP_EJ_TOOL_VALUE, c->cc[n] };
      }
      cc->s |= sb;
    }
    if (cc->count) { cj->toc |= RMP_EJ_TOC_C; anys |= cc->s; }
  }

  /* Chapter M */
  {
    rmp_ej_chap_m *m = &cj->m;
    memset(m, 0, offsetof(rmp_ej_chap_m, log));
    for (int i = 0; i < RMP_MS_MAX_PARAMS; i++) {
      const rmp_ms_param *p = &c->param[i];
      if (!p->used || !in_win(w, sc->param[i])) continue;
      if (m->count >= RMP_EJ_MAX_PARAM_LOGS) return RMP_EJ_ENOSPACE;
      rmp_ej_param_log *l = &m->log[m->count++];
      memset(l, 0, sizeof *l);
      l->s = s_bit(w, sc->param[i]);
      l->q = p->nrpn;
      l->pnum_msb = p->pmsb;
      l->pnum_lsb = p->plsb;
      if (p->has_msb) { l->flags |= RMP_EJ_M_J; l->entry_msb = p->msb & 127; }
      if (p->has_lsb) { l->flags |= RMP_EJ_M_K; l->entry_lsb = p->lsb & 127; }
      if (p->buttons) {
        int b = p->buttons < 0 ? -p->buttons : p->buttons;
        l->flags |= RMP_EJ_M_L;
        l->a_button = (uint16_t)((p->buttons < 0 ? 0x8000 : 0) | (b & 0x3FFF));
      }
      m->s |= l->s;
    }
    if (m->count) { cj->toc |= RMP_EJ_TOC_M; anys |= m->s; }
  }

  if (in_win(w, sc->bend)) {
    cj->w = (rmp_ej_chap_w){ s_bit(w, sc->bend), (uint8_t)(c->bend & 127), 0, (uint8_t)((c->bend >> 7) & 127) };
    anys |= cj->w.s;
    cj->toc |= RMP_EJ_TOC_W;
  }

  /* Chapters N and E */
  {
    rmp_ej_chap_n *nn = &cj->n;
    rmp_ej_chap_e *ee = &cj->e;
    nn->b = 0; nn->count = 0;
    memset(nn->offbits, 0, sizeof nn->offbits);
    ee->s = 0; ee->count = 0;
    int any_off = 0;
    for (int n = 0; n < 128; n++) {
      uint32_t x = sc->note[n];
      if (!in_win(w, x)) continue;
      uint8_t sb = s_bit(w, x);
      if (c->note_vel[n]) {
        uint8_t y = (uint8_t)(s->cfg.y_window == 0 || w->cur - x <= s->cfg.y_window);
        nn->log[nn->count++] = (rmp_ej_note_log){ sb, (uint8_t)n, y, c->note_vel[n] };
      } else {
        nn->offbits[n >> 3] |= (uint8_t)(0x80 >> (n & 7));
        any_off = 1;
        if (c->off_vel[n] != 64) ee->log[ee->count++] = (rmp_ej_extra_log){ sb, (uint8_t)n, 1, c->off_vel[n] };
        ee->s |= sb;
      }
      nn->b |= sb;
    }
    if (nn->count || any_off) { cj->toc |= RMP_EJ_TOC_N; anys |= nn->b; }
    if (ee->count) { cj->toc |= RMP_EJ_TOC_E; anys |= ee->s; }
  }

  if (in_win(w, sc->cpres)) {
    cj->t = (rmp_ej_chap_t){ s_bit(w, sc->cpres), c->chan_pressure };
    anys |= cj->t.s;
    cj->toc |= RMP_EJ_TOC_T;
  }

  {
    rmp_ej_chap_a *a = &cj->a;
    a->s = 0; a->count = 0;
    for (int n = 0; n < 128; n++) {
      if (!in_win(w, sc->poly[n])) continue;
      uint8_t sb = s_bit(w, sc->poly[n]);
      a->log[a->count++] = (rmp_ej_poly_log){ sb, (uint8_t)n, 0, c->poly[n] };
      a->s |= sb;
    }
    if (a->count) { cj->toc |= RMP_EJ_TOC_A; anys |= a->s; }
  }
  cj->s = anys;
  return cj->toc ? 1 : 0;
}

static int build_sys(rmp_ej_sender *s, const win *w, rmp_ej_sys *sj) {
  const rmp_midi_state *st = &s->st;
  memset(sj, 0, sizeof *sj);
  rmp_ej_chap_d *d = &sj->d;
  if (in_win(w, s->reset_seq)) { d->toc |= RMP_EJ_D_B; d->reset_s = s_bit(w, s->reset_seq); d->reset_count = st->reset_count & 127; d->s |= d->reset_s; }
  if (in_win(w, s->tune_seq)) { d->toc |= RMP_EJ_D_G; d->tune_s = s_bit(w, s->tune_seq); d->tune_count = st->tune_count & 127; d->s |= d->tune_s; }
  if (in_win(w, s->song_seq) && st->song_valid) { d->toc |= RMP_EJ_D_H; d->song_s = s_bit(w, s->song_seq); d->song = st->song; d->s |= d->song_s; }
  rmp_ej_undef_field *uf[4] = { &d->j, &d->k, &d->y, &d->z };
  static const uint8_t ubit[4] = { RMP_EJ_D_J, RMP_EJ_D_K, RMP_EJ_D_Y, RMP_EJ_D_Z };
  for (int i = 0; i < 4; i++) {
    if (!in_win(w, s->undef_seq[i])) continue;
    d->toc |= ubit[i];
    uf[i]->s = s_bit(w, s->undef_seq[i]);
    uf[i]->c = 1;
    uf[i]->count = st->undef_count[i];
    d->s |= uf[i]->s;
  }
  if (d->toc) { sj->toc |= RMP_EJ_SYS_D; sj->s |= d->s; }
  if (in_win(w, s->sense_seq)) {
    sj->v.s = s_bit(w, s->sense_seq);
    sj->v.count = st->sense_count & 127;
    sj->toc |= RMP_EJ_SYS_V;
    sj->s |= sj->v.s;
  }
  if (in_win(w, s->q_seq)) {
    rmp_ej_chap_q *q = &sj->q;
    q->s = s_bit(w, s->q_seq);
    q->n = st->seq_running;
    q->c = 1;
    q->clock = st->seq_pos & 0x7FFFF;
    sj->toc |= RMP_EJ_SYS_Q;
    sj->s |= q->s;
  }
  if (in_win(w, s->f_seq) && st->mtc_valid) {
    rmp_ej_chap_f *f = &sj->f;
    f->s = s_bit(w, s->f_seq);
    f->c = 1; f->q = 1; f->p = 0; f->d = 0;
    f->point = st->mtc_point & 7;
    f->complete = 0;
    for (int i = 0; i < 8; i++) f->complete = f->complete << 4 | (st->mtc_nib[i] & 15);
    sj->toc |= RMP_EJ_SYS_F;
    sj->s |= f->s;
  }
  return sj->toc ? 1 : 0;
}

static int build(rmp_ej_sender *s, const win *w, uint8_t *out, size_t cap) {
  if (cap < RMP_EJ_HDR_SIZE) return RMP_EJ_ENOSPACE;
  rmp_ej_hdr h = { 0, 0, 0, 0, 0, (uint16_t)w->cp };
  size_t o = RMP_EJ_HDR_SIZE;
  int r;
  if ((s->sys_any >= w->cp) && build_sys(s, w, &s->sscratch)) {
    r = rmp_ej_sys_encode(&s->sscratch, out + o, cap - o);
    if (r < 0) return r;
    o += (size_t)r;
    h.y = 1;
    h.s |= s->sscratch.s;
  }
  int nch = 0;
  for (int ch = 0; ch < 16; ch++) {
    if (s->seq[ch].any < w->cp) continue;
    r = build_chan(s, w, ch, &s->scratch);
    if (r < 0) return r;
    if (!r) continue;
    r = rmp_ej_chan_encode(&s->scratch, out + o, cap - o);
    if (r < 0) return r;
    o += (size_t)r;
    nch++;
    h.s |= s->scratch.s;
  }
  if (!h.y && !nch) return 0;
  h.a = (uint8_t)(nch > 0);
  h.totchan = (uint8_t)(nch ? nch - 1 : 0);
  rmp_ej_hdr_encode(&h, out, cap);
  return (int)o;
}

/* Smallest last-change seqnum in [cp, cur), or 0. */
static uint32_t oldest(const rmp_ej_sender *s, const win *w) {
  uint32_t best = 0;
#define CONSIDER(x) do { uint32_t v_ = (x); if (in_win(w, v_) && (!best || v_ < best)) best = v_; } while (0)
  for (int ch = 0; ch < 16; ch++) {
    const rmp_ej_send_chan *sc = &s->seq[ch];
    if (sc->any < w->cp) continue;
    for (int n = 0; n < 128; n++) { CONSIDER(sc->note[n]); CONSIDER(sc->ctl[n]); CONSIDER(sc->poly[n]); }
    for (int i = 0; i < RMP_MS_MAX_PARAMS; i++) CONSIDER(sc->param[i]);
    CONSIDER(sc->prog); CONSIDER(sc->bend); CONSIDER(sc->cpres);
  }
  CONSIDER(s->q_seq); CONSIDER(s->f_seq); CONSIDER(s->song_seq); CONSIDER(s->tune_seq);
  CONSIDER(s->reset_seq); CONSIDER(s->sense_seq);
  for (int i = 0; i < 4; i++) CONSIDER(s->undef_seq[i]);
#undef CONSIDER
  return best;
}

int rmp_ej_send_encode(rmp_ej_sender *s, uint16_t seq, uint8_t *out, size_t cap) {
  win w;
  w.cur = ext_seq(s, seq);
  if (s->cfg.max_size && s->cfg.max_size < cap) cap = s->cfg.max_size;
  w.cp = s->checkpoint;
  if (s->cfg.max_history && w.cur - w.cp > s->cfg.max_history) w.cp = w.cur - s->cfg.max_history;
  if (w.cp > w.cur) w.cp = w.cur;
  int r;
  for (;;) {
    r = build(s, &w, out, cap);
    if (r != RMP_EJ_ENOSPACE) break;
    uint32_t o = oldest(s, &w);
    if (!o) { r = 0; break; }
    w.cp = o + 1; /* trim: drop the oldest change from the history */
  }
  if (r >= 0 && w.cp > s->checkpoint) s->checkpoint = w.cp;
  return r;
}
