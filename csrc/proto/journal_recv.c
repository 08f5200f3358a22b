/* journal_recv.c -- recovery journal receiver (RFC 6295 section 4,
 * RFC 4696 receiver guidance).
 *
 * The receiver keeps a MIDI state model from delivered messages. After a
 * loss, and for the first packet of a stream (section 4), it compares the
 * journal of the packet that ends the loss with that model and emits the
 * MIDI commands that bring the model (and the synth fed by the emit
 * callback) to the state the sender had after packet I-1: note-offs for
 * notes that must no longer sound, note-ons for notes that must (not
 * played for Y = 0 logs with honor_y; struck again when the receiver's own
 * NoteOn precedes the checkpoint, RFC 4696 7.2), controllers (toggle and
 * count tools included; general-purpose 6/38/96/97 with no parameter
 * selected), program with bank, RPN/NRPN values and selection, pitch
 * wheel, pressures, and system state (song select, tune request, the
 * sequencer by catching up clocks where it can, MTC with Full Frame and
 * reverse runs), lost SysEx commands logged in Chapter X (replayed whole,
 * or handed to the caller's reassembly for a SysEx in parts), and a lost
 * Reset State command first. Each emitted message is also applied to the
 * model. A loss the journal does not cover releases the notes and pedals
 * the journal does not confirm. Every repair has a budget (journal.h,
 * rmp_ej_recv_config); what it does not allow is counted, not played.
 * Without a loss the journal is not read at all.
 */
#include "journal.h"

#include <limits.h>
#include <string.h>

void rmp_ej_recv_config_init(rmp_ej_recv_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->trust_s_bits = 1;
  cfg->honor_y = 1;
  cfg->packet_max = 4096;
  cfg->rate = 4096;
  cfg->burst = 8192;
}

void rmp_ej_recv_init_cfg(rmp_ej_receiver *r, const rmp_ej_recv_config *cfg) {
  memset(r, 0, sizeof *r);
  if (cfg) r->cfg = *cfg;
  else rmp_ej_recv_config_init(&r->cfg);
  rmp_ms_init_alloc(&r->st, r->cfg.alloc);
  r->cfg.alloc = NULL; /* copied into st.al */
}

void rmp_ej_recv_free(rmp_ej_receiver *r) {
  for (int ch = 0; ch < 16; ch++) {
    rmp_ms_unmem(&r->st, r->note_seq[ch], 128 * sizeof *r->note_seq[ch]);
    r->note_seq[ch] = NULL;
  }
  rmp_ms_free(&r->st);
}

size_t rmp_ej_recv_mem(const rmp_ej_receiver *r) {
  size_t n = sizeof *r;
  for (int ch = 0; ch < 16; ch++) {
    const rmp_ms_channel *c = r->st.ch[ch];
    if (c) n += sizeof *c + (c->pp ? sizeof *c->pp : 0);
    if (r->note_seq[ch]) n += 128 * sizeof *r->note_seq[ch];
  }
  return n;
}

void rmp_ej_recv_init(rmp_ej_receiver *r) { rmp_ej_recv_init_cfg(r, NULL); }

void rmp_ej_recv_refill(rmp_ej_receiver *r, uint32_t now_ms) {
  uint64_t cap = (uint64_t)r->cfg.burst * 1000u;
  if (!r->bucket_on) {
    r->bucket_on = 1;
    r->tokens = cap;
  } else {
    uint32_t dt = now_ms - r->bucket_ms;
    if (dt < 0x80000000u) { /* a clock that went back refills nothing */
      r->tokens += (uint64_t)dt * r->cfg.rate;
      if (r->tokens > cap) r->tokens = cap;
    }
  }
  r->bucket_ms = now_ms;
}

/* A complete SysEx F0 <data 0-127...> F7 (what the sender counts). */
static int sysex_ok(const uint8_t *msg, size_t len) {
  if (len < 2 || msg[0] != 0xF0 || msg[len - 1] != 0xF7) return 0;
  for (size_t i = 1; i + 1 < len; i++)
    if (msg[i] & 0x80) return 0;
  return 1;
}

/* FNV-1a over the data octets of a SysEx (the MSB of each masked: a
 * Chapter X DATA field sets it on its last octet). */
static uint32_t fnv(uint32_t h, const uint8_t *d, size_t n);
static uint32_t sx_hash(const uint8_t *d, size_t n) { return fnv(2166136261u, d, n); }

/* Whether a Chapter X log of a SysEx in parts codes the one the caller is
 * reassembling. Its COUNT says so, but the receiver numbered a SysEx whose
 * first part it received itself, and its count may lag the sender's after
 * a loss no journal codes: then a log from the first octet (F = 0) that
 * begins with the octets the caller holds, or one from FIRST within them
 * (the sender keeps one SysEx in parts in its journal at a time). */
static int part_mine(const rmp_ej_receiver *r, const rmp_ej_x_log *l) {
  if (!r->part_open) return 0;
  if (l->count == r->part_count) return 1;
  if (!l->f) return l->data_len >= r->part_have && sx_hash(l->data, r->part_have) == r->part_hash;
  return l->first <= r->part_have;
}

static void sx_seen_hash(rmp_ej_receiver *r, uint32_t hash, size_t n, uint16_t seq) {
  rmp_ej_sx_seen *e = &r->sx_seen[r->sx_next];
  r->sx_next = (uint8_t)((r->sx_next + 1) % RMP_EJ_SX_SEEN);
  e->hash = hash;
  e->len = (uint16_t)(n > 0xFFFF ? 0xFFFF : n);
  e->seq = seq;
  e->used = 1;
}

static void sx_seen(rmp_ej_receiver *r, const uint8_t *d, size_t n, uint16_t seq) {
  sx_seen_hash(r, sx_hash(d, n), n, seq);
}

/* Whether the receiver got (or replayed) a SysEx with these data octets in
 * the checkpoint history [cp, seq] of the journal being applied. */
static int sx_recent(const rmp_ej_receiver *r, const uint8_t *d, size_t n, uint16_t seq, uint16_t cp) {
  uint32_t h = sx_hash(d, n);
  uint16_t cp_age = (uint16_t)(seq - cp);
  for (int i = 0; i < RMP_EJ_SX_SEEN; i++) {
    const rmp_ej_sx_seen *e = &r->sx_seen[i];
    if (e->used && e->len == n && e->hash == h && (uint16_t)(seq - e->seq) <= cp_age) return 1;
  }
  return 0;
}

static void model_apply(rmp_ej_receiver *r, const uint8_t *m, size_t n, uint16_t seq);

void rmp_ej_recv_set_part_fn(rmp_ej_receiver *r, rmp_ej_part_fn fn, void *ud) {
  r->part_fn = fn;
  r->part_ud = ud;
}

/* FNV-1a over data octets, from h (the MSB masked: a Chapter X DATA field
 * sets it on its last octet). */
static uint32_t fnv(uint32_t h, const uint8_t *d, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ (d[i] & 127)) * 16777619u;
  return h;
}
#define FNV0 2166136261u

int rmp_ej_recv_part(rmp_ej_receiver *r, const uint8_t *data, size_t n, int first, int end) {
  if (first) {
    /* it enters the session history with its first part (B.5.3) */
    r->x_count++;
    r->part_open = 1;
    r->part_count = r->x_count;
    r->part_have = 0;
    r->part_hash = FNV0;
  } else if (!r->part_open) {
    return 0;
  }
  r->part_have += (uint32_t)n;
  r->part_hash = fnv(r->part_hash, data, n);
  if (end) {
    r->part_open = 0;
    sx_seen_hash(r, r->part_hash, r->part_have, r->last);
  }
  return 1;
}

void rmp_ej_recv_apply(rmp_ej_receiver *r, const uint8_t *msg, size_t len) {
  if (!msg) return;
  model_apply(r, msg, len, r->last); /* first: a Reset State command forgets the SysEx before it */
  if (sysex_ok(msg, len) && !rmp_ms_is_full_frame(msg, len)) { /* what COUNT counts (journal.h) */
    r->x_count++;
    sx_seen(r, msg + 1, len - 2, r->last);
  }
}

typedef struct {
  rmp_ej_receiver *r;
  rmp_ej_emit_fn emit;
  void *ud;
  int skip_s; /* single-packet loss: skip S = 1 structures (A.1) */
  unsigned emitted;
  unsigned budget;  /* what this repair may play (rmp_ej_recv_config) */
  uint16_t seq, cp; /* the packet whose journal this is, and its checkpoint */
} repair_ctx;

/* Commands the budget still allows. */
static unsigned room(const repair_ctx *x) { return x->emitted < x->budget ? x->budget - x->emitted : 0; }

/* A Reset State command makes every SysEx before it inactive (A.1): the
 * sender's Chapter X logs none of them any more, so none is one the
 * receiver may take a log for (sx_recent). */
static void sx_forget(rmp_ej_receiver *r) {
  for (int i = 0; i < RMP_EJ_SX_SEEN; i++) r->sx_seen[i].used = 0;
}

/* The SysEx in parts the caller is putting together, if any, is dropped. */
static void part_cancel(rmp_ej_receiver *r) {
  if (!r->part_open) return;
  r->part_open = 0;
  if (r->part_fn) r->part_fn(r->part_ud, NULL, 0, 0, RMP_EJ_PART_CANCEL);
}

/* A System Reset, received or repaired (played or not: a repair over the
 * budget still happened at the sender): COUNT starts again (journal.h:
 * COUNT); the sender no longer codes a SysEx in parts it was sending, and
 * COUNT no longer tells which one a log is, so the caller's is dropped. */
static void system_reset(rmp_ej_receiver *r) {
  r->x_count = 0;
  sx_forget(r);
  part_cancel(r);
}

/* The model takes a message; a NoteOn is stamped with the packet it came
 * with (RFC 4696 7.2: for a repair, the packet whose journal it came from).
 * It also keeps what the SysEx count needs (sx_forget, journal.h: COUNT). */
static void model_apply(rmp_ej_receiver *r, const uint8_t *m, size_t n, uint16_t seq) {
  if (rmp_ms_is_reset_state(m, n)) sx_forget(r);
  if (n && m[0] == 0xFF) system_reset(r);
  rmp_ms_apply(&r->st, m, n);
  if (n >= 3 && (m[0] & 0xF0) == 0x90 && (m[2] & 127)) {
    /* the table is made with the channel's first NoteOn; without memory
     * a note reads as struck at packet 0 (a repair may strike it again) */
    uint16_t **t = &r->note_seq[m[0] & 15];
    if (!*t) *t = rmp_ms_mem(&r->st, 128 * sizeof **t);
    if (*t) (*t)[m[1] & 127] = seq;
  }
}

/* The packet of the last NoteOn of note n on channel ch (0: none kept). */
static uint16_t note_seq(const rmp_ej_receiver *r, int ch, uint8_t n) {
  return r->note_seq[ch] ? r->note_seq[ch][n] : 0;
}

/* Play one repair command (and apply it to the model), if the budget
 * allows: returns 0, counted in over_budget, when it does not. */
static int emit_msg(repair_ctx *x, const uint8_t *m, size_t n) {
  if (!room(x)) {
    x->r->over_budget++;
    return 0;
  }
  x->emitted++;
  if (x->emit) x->emit(x->ud, m, n);
  model_apply(x->r, m, n, x->seq);
  x->r->repairs++;
  return 1;
}

static int out(repair_ctx *x, uint8_t a, uint8_t b, uint8_t c, size_t n) {
  uint8_t m[3] = { a, b, c };
  return emit_msg(x, m, n);
}

static void cc(repair_ctx *x, int ch, uint8_t n, uint8_t v) { out(x, (uint8_t)(0xB0 | ch), n, v, 3); }

/* Select a parameter number (both octets) unless it is already selected. */
static void select_param(repair_ctx *x, int ch, int nrpn, uint8_t pm, uint8_t pl, int force) {
  const rmp_ms_channel *c = rmp_ms_chan(&x->r->st, ch);
  int n;
  uint8_t m, l;
  /* Both registers of the pair must have been received, and the model's
   * selection must be one a device keeping register pairs holds too (not
   * an LSB assumed after a lone MSB, midi_state.h): a device's own values
   * are not ours to assume. */
  uint8_t hi = nrpn ? 99 : 101, lo = nrpn ? 98 : 100;
  int known = ((c->cc_known[hi >> 3] >> (hi & 7)) & 1) && ((c->cc_known[lo >> 3] >> (lo & 7)) & 1) && c->sel_pair;
  if (!force && known && rmp_ms_selected(c, &n, &m, &l) && n == nrpn && m == pm && l == pl) return;
  if (nrpn) { cc(x, ch, 99, pm); cc(x, ch, 98, pl); }
  else { cc(x, ch, 101, pm); cc(x, ch, 100, pl); }
}

static void repair_ctl(repair_ctx *x, int ch, const rmp_ej_ctl_log *l) {
  rmp_ms_channel *c = rmp_ms_chan_w(&x->r->st, ch);
  if (!c) return; /* broken (midi_state.h): not repaired */
  uint8_t n = l->number;
  int cls = rmp_ms_ctl_class(n);
  if (cls == RMP_MS_CTL_SELECT) return; /* 98-101 belong to Chapter M */
  if (l->tool == RMP_EJ_TOOL_VALUE) {
    int known = (c->cc_known[n >> 3] >> (n & 7)) & 1;
    /* Bank Select: the order of the last 0 and 32 decides the bank of the
     * next program change (A.2, midi_state.h); the list is in command
     * order, so a log also replays when only that order differs */
    int order = (n == 0 && (c->lsb_after_msb || !c->msb_seen)) || (n == 32 && c->msb_seen && !c->lsb_after_msb);
    if (known && c->cc[n] == l->value && !order) return;
    int nrpn;
    uint8_t pm, pl;
    if (cls == RMP_MS_CTL_PARAM && rmp_ms_selected(c, &nrpn, &pm, &pl)) {
      /* a general-purpose 6, 38, 96 or 97 (A.3.4) was sent with no
       * parameter selected: so is its repair (Chapter M, replayed next,
       * selects again what the sender has selected) */
      cc(x, ch, 101, 127);
      cc(x, ch, 100, 127);
    }
    cc(x, ch, n, l->value);
    return;
  }
  if (cls == RMP_MS_CTL_PARAM) return;
  if (rmp_ms_cc_count_idx(n) < 0) return; /* a toggle / count tool we keep no counter for */
  unsigned d = (unsigned)(l->value - rmp_ms_cc_count(c, n)) & 63;
  if (!d) return;
  if (l->tool == RMP_EJ_TOOL_TOGGLE) {
    cc(x, ch, n, c->cc[n] >= 64 ? 0 : 127);
    if (!(d & 1)) cc(x, ch, n, c->cc[n] >= 64 ? 0 : 127); /* an even number was lost: re-pedal */
  } else {
    cc(x, ch, n, 0); /* count tool: the default value (A.3.3) */
  }
  rmp_ms_set_cc_count(c, n, l->value);
}

static int repair_chan(void *ud, const rmp_ej_chan *cj) {
  repair_ctx *x = ud;
  if (x->skip_s && cj->s) return 0;
  int ch = cj->chan;
  /* the channel's state, made now if it was never used; a broken one
   * (no memory, midi_state.h) is not repaired: its model is not known */
  rmp_ms_channel *c = rmp_ms_chan_w(&x->r->st, ch);
  if (!c) return 0;

  /* P: program with the bank in effect when it was selected (A.2): with
   * B = 1 the Bank Select MSB, then the LSB that followed it (BANK-LSB 0
   * codes none: the MSB alone), then the program change (RFC 4696 7.4).
   * Chapter C, replayed next in command order, sets the bank controllers
   * changed after the program change. */
  if (cj->toc & RMP_EJ_TOC_P) {
    const rmp_ej_chap_p *p = &cj->p;
    uint8_t tb = p->b, tm = tb ? p->bank_msb : 0, tl = tb ? p->bank_lsb : 0;
    if (!c->prog_valid || c->program != p->program || c->prog_b != tb || c->prog_bank_msb != tm ||
        c->prog_bank_lsb != tl) {
      if (tb) {
        cc(x, ch, 0, tm);
        if (tl) cc(x, ch, 32, tl);
      }
      out(x, (uint8_t)(0xC0 | ch), p->program, 0, 2);
    }
  }

  /* C: controllers (A.3); 6, 38, 96-101 belong to Chapter M. A value log
   * followed by a toggle log for the same command: the lost toggles are
   * replayed first, then the value is set. */
  if (cj->toc & RMP_EJ_TOC_C) {
    for (unsigned k = 0; k < cj->c.count; k++) {
      const rmp_ej_ctl_log *l = &cj->c.log[k], *nx = k + 1 < cj->c.count ? &cj->c.log[k + 1] : NULL;
      if (l->tool == RMP_EJ_TOOL_VALUE && nx && nx->tool == RMP_EJ_TOOL_TOGGLE && nx->number == l->number) {
        repair_ctl(x, ch, nx);
        k++;
      }
      repair_ctl(x, ch, l);
    }
  }

  /* M: RPN / NRPN values, every log that differs from the model in list
   * order (oldest transaction first, A.4.1), then the selection: P = 1 codes a pending MSB,
   * which selects (PENDING, 0) (A.1 type 3 variant); otherwise the last log
   * is the transaction in progress when E = 1 (oldest-first order, A.4.1),
   * and E = 0 codes the null parameter. Selections are sent as whole pairs
   * so that a device keeping a register pair per kind ends on the same
   * parameter as the model (midi_state.h). */
  if (cj->toc & RMP_EJ_TOC_M) {
    const rmp_ej_chap_m *m = &cj->m;
    for (unsigned i = 0; i < m->count; i++) {
      const rmp_ej_param_log *l = &m->log[i];
      rmp_ms_param want;
      memset(&want, 0, sizeof want);
      want.has_msb = (l->flags & RMP_EJ_M_J) ? 1 : 0;
      want.msb = want.has_msb ? (l->entry_msb & 127) : 0;
      want.has_lsb = (l->flags & RMP_EJ_M_K) ? 1 : 0;
      want.lsb = want.has_lsb ? (l->entry_lsb & 127) : 0;
      if (l->flags & RMP_EJ_M_L) {
        int v = l->a_button & 0x3FFF;
        want.buttons = (int16_t)((l->a_button & 0x8000) ? -v : v);
      }
      const rmp_ms_param *own = rmp_ms_param_find(c, l->q, l->pnum_msb, l->pnum_lsb, 0);
      if (own && own->has_msb == want.has_msb && own->has_lsb == want.has_lsb && own->buttons == want.buttons &&
          (!want.has_msb || own->msb == want.msb) && (!want.has_lsb || own->lsb == want.lsb))
        continue;
      /* a log without fields the receiver does not know: the parameter was
       * selected in a lost packet; select it too, in list order (A.4.1) */
      select_param(x, ch, l->q, l->pnum_msb, l->pnum_lsb, 0);
      int base = own ? own->buttons : 0;
      if (want.has_msb) { cc(x, ch, 6, want.msb); base = 0; }
      if (want.has_lsb) { cc(x, ch, 38, want.lsb); base = 0; }
      int d = want.buttons - base;
      unsigned need = (unsigned)(d < 0 ? -d : d), k = need < room(x) ? need : room(x);
      for (unsigned b = 0; b < k; b++) cc(x, ch, d > 0 ? 96 : 97, 0);
      x->r->over_budget += need - k;
    }
    int n;
    uint8_t pm, pl;
    if (m->p) {
      select_param(x, ch, m->pending_q, m->pending, 0, 0);
    } else if (m->e && m->count) {
      const rmp_ej_param_log *l = &m->log[m->count - 1];
      select_param(x, ch, l->q, l->pnum_msb, l->pnum_lsb, 0);
    } else if (!m->e && rmp_ms_selected(c, &n, &pm, &pl)) {
      select_param(x, ch, n, 127, 127, 1);
    }
  }

  /* W */
  if (cj->toc & RMP_EJ_TOC_W) {
    uint16_t b = (uint16_t)(cj->w.first | cj->w.second << 7);
    if (!c->bend_known || c->bend != b) out(x, (uint8_t)(0xE0 | ch), cj->w.first, cj->w.second, 3);
  }

  /* N (+E): note-offs first, then note-ons. Chapter E (A.7) V = 0 logs
   * carry the sender's NoteOn/NoteOff reference count for a note; without
   * one the count is implied: 1 for a note logged on, 0 for an off-flagged
   * note. The receiver plays NoteOffs / NoteOns until its own count (and
   * on/off state) matches: overlapping NoteOns lost in a burst are replayed
   * as overlapping NoteOns, extra lost NoteOffs as NoteOffs. */
  if (cj->toc & RMP_EJ_TOC_N) {
    const rmp_ej_chap_n *nn = &cj->n;
    int16_t ref[128];
    uint8_t rv[128];
    memset(rv, 64, sizeof rv);
    for (int n = 0; n < 128; n++) ref[n] = -1;
    if (cj->toc & RMP_EJ_TOC_E)
      for (unsigned i = 0; i < cj->e.count; i++) {
        const rmp_ej_extra_log *l = &cj->e.log[i];
        if (l->v) rv[l->notenum] = l->value;
        else ref[l->notenum] = l->value;
      }
    for (int n = 0; n < 128; n++) {
      if (!(nn->offbits[n >> 3] & (0x80 >> (n & 7)))) continue;
      int want = ref[n] < 0 ? 0 : ref[n];
      /* an off note with a count above ours (or equal, while we still
       * hold it on): the missing NoteOns (a stacking synth still sounds
       * count voices), then NoteOffs down to the count */
      if (c->note_ref[n] < want || (c->note_ref[n] == want && c->note_vel[n]))
        for (int g = 0; g < 128 && c->note_ref[n] < want + 1 && c->note_ref[n] < 127; g++)
          if (!out(x, (uint8_t)(0x90 | ch), (uint8_t)n, 64, 3)) break;
      for (int g = 0; g < 128 && (c->note_vel[n] || c->note_ref[n] > want); g++)
        if (!out(x, (uint8_t)(0x80 | ch), (uint8_t)n, rv[n], 3)) break;
    }
    for (unsigned i = 0; i < nn->count; i++) {
      const rmp_ej_note_log *l = &nn->log[i];
      uint8_t n = l->notenum;
      if (!l->velocity || (nn->offbits[n >> 3] & (0x80 >> (n & 7)))) continue;
      int want = ref[n] < 1 ? 1 : ref[n];
      /* RFC 4696 7.2: the receiver's NoteOn came before the checkpoint, so
       * the log codes a later one: a NoteOff/NoteOn pair was lost between
       * (same velocity or not), and the note is struck again */
      int stale = c->note_vel[n] && (uint16_t)(x->seq - note_seq(x->r, ch, n)) > (uint16_t)(x->seq - x->cp);
      if (c->note_vel[n] == l->velocity && c->note_ref[n] == want && !stale) continue;
      /* Y = 0 (A.6.2, RFC 4696 7.2): the sender advises against a late
       * onset; with honor_y the NoteOns are taken in the model (the note is
       * on at the sender, its NoteOff will come) but not played. The
       * voices to end are ended either way. */
      int play = !(x->r->cfg.honor_y && !l->y);
      uint8_t on[3] = { (uint8_t)(0x90 | ch), n, l->velocity };
      /* down to want - 1 voices (the last NoteOn sets the velocity) */
      for (int g = 0; g < 128 && c->note_ref[n] > want - 1; g++)
        if (!out(x, (uint8_t)(0x80 | ch), n, 64, 3)) break;
      if (c->note_ref[n] > want - 1) continue; /* out of budget */
      for (int g = 0; g < 128 && c->note_ref[n] < want; g++) {
        if (!play) model_apply(x->r, on, 3, x->seq);
        else if (!emit_msg(x, on, 3)) break;
      }
    }
  }

  /* T */
  if ((cj->toc & RMP_EJ_TOC_T) && (!c->pressure_known || c->chan_pressure != cj->t.pressure))
    out(x, (uint8_t)(0xD0 | ch), cj->t.pressure, 0, 2);

  /* A */
  if (cj->toc & RMP_EJ_TOC_A)
    for (unsigned i = 0; i < cj->a.count; i++) {
      const rmp_ej_poly_log *l = &cj->a.log[i];
      if (c->poly[l->notenum] != l->pressure) out(x, (uint8_t)(0xA0 | ch), l->notenum, l->pressure, 3);
    }
  return 0;
}

/* A Chapter X log with STA = 1 (RFC 6295 B.5.1): the sender cancelled the
 * SysEx (section 3.2: F4 ends it; it still counts in COUNT, B.5.3, and its
 * log MAY carry no DATA, B.5.2). Nothing is replayed: the one the caller
 * reassembles, if it is that one, is dropped (RMP_EJ_PART_CANCEL), and a
 * receiver that lost it takes its COUNT over. */
static void cancel_x(repair_ctx *x, const rmp_ej_x_log *l) {
  rmp_ej_receiver *r = x->r;
  if (!l->c) return;
  if (part_mine(r, l)) {
    r->part_seen = 1;
    part_cancel(r);
    return;
  }
  unsigned ahead = (unsigned)(uint8_t)(l->count - r->x_count);
  if (ahead && ahead < 128) r->x_count = l->count;
}

/* A Chapter X log of a SysEx in parts: the octets from FIRST on. The
 * receiver appends those that follow what the caller holds of that SysEx
 * (its COUNT tells which one it is), or starts it when the log holds its
 * start; a finished log completes it. Octets before FIRST it does not hold
 * cannot be rebuilt (the sender's stall keeps FIRST within what the
 * receiver confirmed having). */
static void repair_part(repair_ctx *x, const rmp_ej_x_log *l) {
  rmp_ej_receiver *r = x->r;
  int fin = l->sta != 0;
  uint32_t first = l->f ? l->first : 0, to = first + l->data_len;
  if (l->sta == 1) {
    cancel_x(x, l);
    return;
  }
  int mine = part_mine(r, l);
  r->part_seen = 1;
  unsigned ahead = (unsigned)(uint8_t)(l->count - r->x_count);
  if (!mine) {
    /* one the receiver has not seen start: from its start, or lost; not
     * one it completed itself in the checkpoint history (its count may lag
     * the sender's after a loss no journal codes) */
    if (ahead == 0 || ahead >= 128) return; /* done with it already */
    if (fin && !first && sx_recent(r, l->data, l->data_len, x->seq, x->cp)) {
      r->x_count = l->count;
      return;
    }
    if (first != 0 || !r->part_fn) {
      r->x_lost++;
      r->x_count = l->count;
      r->part_open = 0;
      return;
    }
  } else if (first > r->part_have || !r->part_fn) {
    r->x_lost++;
    r->part_open = 0;
    return;
  }
  uint32_t from = mine ? r->part_have : 0;
  if (from > to || (from == to && !fin)) return; /* nothing new */
  if (!room(x)) {
    r->over_budget++;
    return;
  }
  x->emitted++;
  r->repairs++;
  uint8_t buf[1024];
  size_t n = to - from;
  if (n > sizeof buf) n = sizeof buf; /* a system journal is < 1024 octets */
  for (size_t i = 0; i < n; i++) buf[i] = l->data[from - first + i] & 127;
  if (!mine) {
    r->x_count = l->count;
    r->part_count = l->count;
  }
  r->part_open = !fin;
  r->part_have = from + (uint32_t)n;
  r->part_hash = fnv(mine ? r->part_hash : FNV0, buf, n);
  if (mine) r->part_count = l->count;
  if (fin) sx_seen_hash(r, r->part_hash, r->part_have, x->seq);
  if (fin) r->x_replayed++;
  r->part_fn(r->part_ud, buf, n, !mine, fin);
}

/* Chapter X (B.5): replay the logged SysEx commands the receiver has not
 * seen. The logs carry COUNT (B.5.3: SysEx commands in the session history
 * just after the logged one, mod 256); the receiver counts the SysEx it
 * received or replayed (x_count). A log whose COUNT is ahead of that count
 * codes a command of a lost packet, and logs come oldest first (B.5), so
 * replaying them in list order keeps the sender's order. Only finished
 * commands with all their data (STA 2 or 3, F = 0) can be replayed; a
 * cancelled one (STA 1) is never replayed (cancel_x); logs without COUNT
 * (with or without TCOUNT, which counts a type only the sender knows) are
 * replayed unless the same octets arrived within the checkpoint history. The final log's COUNT is
 * the sender's total when the most recent SysEx is in the history (it is
 * then logged last): the receiver takes it over, which also resynchronises
 * after losses the journal did not cover. */
static void repair_x(repair_ctx *x, const rmp_ej_chap_x *cx) {
  rmp_ej_receiver *r = x->r;
  size_t o = 0;
  rmp_ej_x_log l;
  int have_last = 0;
  uint8_t last = 0;
  uint8_t m[2 + 1024];
  while (o < cx->raw_len) {
    int n = rmp_ej_x_log_decode(cx->raw + o, cx->raw_len - o, &l);
    if (n < 0) return; /* validated by the parse: cannot happen */
    o += (size_t)n;
    int whole = (l.sta == 2 || l.sta == 3) && !l.f && l.data_len <= sizeof m - 2;
    if (l.sta == 1) {
      have_last = l.c && o == cx->raw_len;
      last = l.count;
      cancel_x(x, &l);
      continue;
    }
    if (l.c && (l.sta == 0 || l.f || l.l)) {
      /* a SysEx in parts (B.5 partial forms, our sender's list tool logs):
       * unfinished, or coded from FIRST on, or finished */
      have_last = o == cx->raw_len;
      last = l.count;
      repair_part(x, &l);
      continue;
    }
    if (l.c) {
      have_last = o == cx->raw_len;
      last = l.count;
      unsigned ahead = (unsigned)(uint8_t)(l.count - r->x_count);
      if (ahead == 0 || ahead >= 128) continue;
    } else {
      /* no COUNT (B.5.3 leaves it to the sender): the log codes a command
       * of the checkpoint history; the receiver has it if it got the same
       * octets in the part of that history that arrived (or replayed them
       * from an earlier journal) */
      have_last = 0;
      if (!whole) continue;
      if (sx_recent(r, l.data, l.data_len, x->seq, x->cp)) continue;
    }
    if (!whole) continue;
    size_t k = 0;
    m[k++] = 0xF0;
    for (unsigned i = 0; i < l.data_len; i++) m[k++] = l.data[i] & 127;
    m[k++] = 0xF7;
    if (!emit_msg(x, m, k)) return;
    r->x_replayed++;
    sx_seen(r, m + 1, k - 2, x->seq);
    if (l.c) r->x_count = l.count;
    else r->x_count++;
  }
  if (have_last) r->x_count = last;
}

/* Play n clocks, within the budget (the rest is counted). */
static void clocks(repair_ctx *x, uint32_t n) {
  uint32_t k = n < room(x) ? n : room(x);
  for (uint32_t i = 0; i < k; i++) out(x, 0xF8, 0, 0, 1);
  x->r->over_budget += n - k;
}

/* Clocks a repair plays to catch up with a sequencer that ran on (a burst
 * of 20 packets of clocks at 120 BPM is far below); further behind, the
 * device is relocated with Song Position Pointer instead. */
#define MAX_CATCH_UP 192u

/* Q (B.3): the sequencer. A synced device hears the least that brings it
 * to the sender's state, never a transport command more than the lost
 * packets held: clocks lost while running are played (a Stop + Song
 * Position + Continue for every lost packet of clocks makes synced
 * hardware stumble), then a Stop if the sender stopped; stopped a little
 * behind a sender that ran on (or runs), a Continue with the clocks from
 * there. Otherwise the device is
 * relocated: a Start for the start of the song (it needs no Stop first)
 * and the clocks from there when that takes fewer transport commands, or
 * a Stop and Song Position Pointer (only while stopped, MIDI 1.0) and a
 * Continue with the clocks after the last multiple of 6. */
static void repair_q(repair_ctx *x, const rmp_ej_chap_q *q) {
  rmp_midi_state *st = &x->r->st;
  uint8_t run = q->n;
  /* D = 1: the coded position has played, the next clock plays the one
   * after it; the model holds the next position to play (B.3) */
  uint32_t pos = ((q->c ? q->clock : 0) + q->d) & 0x7FFFF;
  if (st->seq_running == run && st->seq_pos == pos) return;
  uint32_t own = st->seq_pos;
  int near = pos >= own && pos - own <= MAX_CATCH_UP;
  if (st->seq_running && near) {
    clocks(x, pos - own);
    if (!run) out(x, 0xFC, 0, 0, 1);
    return;
  }
  /* C = 0 with N = 1 is the start of the song after a Start (B.3); a
   * stopped sender at a multiple of 6 is where a Song Position put it */
  if (!st->seq_running && near && (run ? q->c : pos > own && pos % 6)) {
    out(x, 0xFB, 0, 0, 1);
    clocks(x, pos - own);
    if (!run) out(x, 0xFC, 0, 0, 1);
    return;
  }
  uint32_t spp = pos / 6, rem = pos % 6;
  if (spp > 16383) { spp = 16383; rem = 0; }
  /* The transport commands of each way: Start (Song Position 0 and
   * Continue in one, needing no Stop first) and the clocks from the start
   * of the song, then a Stop if the sender stopped; or a Stop if running,
   * Song Position if it moves, Continue, the clocks after it and a Stop.
   * The Start when it plays fewer (its clocks within the catch-up): a lost
   * Start and clocks is a Start and those clocks, not Song Position +
   * Continue, a command no lost packet held, and clocks a device that
   * counts them misses. */
  unsigned by_start = 1u + !run;
  unsigned by_spp = (unsigned)(st->seq_running != 0) + (st->seq_pos != spp * 6) +
                    ((run || rem) ? 1u + !run : 0u);
  if ((spp == 0 && (run || rem)) || (pos <= MAX_CATCH_UP && by_start < by_spp)) {
    out(x, 0xFA, 0, 0, 1);
    clocks(x, pos);
    if (!run) out(x, 0xFC, 0, 0, 1);
    return;
  }
  if (st->seq_running) out(x, 0xFC, 0, 0, 1);
  if (st->seq_pos != spp * 6) out(x, 0xF2, (uint8_t)(spp & 127), (uint8_t)(spp >> 7), 3);
  if (run || rem) {
    out(x, 0xFB, 0, 0, 1);
    clocks(x, rem);
    if (!run) out(x, 0xFC, 0, 0, 1);
  }
}

/* A replayed run of quarter frames starts with type `first` (0 forward, 7
 * reverse). When the receiver is one frame short of the end of a run the
 * other way (reverse at 1, forward at 6), that first one would complete
 * that run: a frame the sender never completed (it left the run with a
 * quarter frame out of order, which was lost). One quarter frame out of
 * order in either direction (type 3 or 4: neither the next nor a start)
 * ends the run first, as the lost one did (B.4.1: an illegal sequence); its
 * value is not part of any frame. Found by the round-trip fuzzer. */
static void mtc_break(repair_ctx *x, int first) {
  const rmp_midi_state *st = &x->r->st;
  if (!st->mtc_valid || !st->mtc_run) return;
  int next = st->mtc_rev ? st->mtc_point - 1 : st->mtc_point + 1;
  if (next == first) out(x, 0xF1, (uint8_t)((first == 0 ? 3 : 4) << 4), 0, 2);
}

static void repair_sys(repair_ctx *x, const rmp_ej_sys *sj) {
  rmp_midi_state *st = &x->r->st;
  if (x->skip_s && sj->s) return;
  /* A lost System Reset first (the sender's Chapter X holds only SysEx sent
   * after the last one), then SysEx (a lost Reset State SysEx, GM/DLS on or
   * off, is replayed there): neither may undo what the other chapters
   * restore after it. The reset ends every note in the model; the channel
   * chapters then bring back those struck after it. One replay however
   * many were lost: the count is taken from the journal. */
  if ((sj->toc & RMP_EJ_SYS_D) && (sj->d.toc & RMP_EJ_D_B)) {
    if (st->reset_count != sj->d.reset_count) {
      out(x, 0xFF, 0, 0, 1);
      system_reset(x->r); /* played or not (budget): found by the round-trip fuzzer */
    }
    st->reset_count = sj->d.reset_count;
  }
  if (sj->toc & RMP_EJ_SYS_X) repair_x(x, &sj->x);
  if (sj->toc & RMP_EJ_SYS_D) {
    const rmp_ej_chap_d *d = &sj->d;
    if ((d->toc & RMP_EJ_D_G) && st->tune_count != d->tune_count) {
      out(x, 0xF6, 0, 0, 1);
      st->tune_count = d->tune_count;
    }
    if ((d->toc & RMP_EJ_D_H) && (!st->song_valid || st->song != d->song)) out(x, 0xF3, d->song, 0, 2);
    const rmp_ej_undef_field *uf[4] = { &d->j, &d->k, &d->y, &d->z };
    static const uint8_t ubit[4] = { RMP_EJ_D_J, RMP_EJ_D_K, RMP_EJ_D_Y, RMP_EJ_D_Z };
    for (int i = 0; i < 4; i++)
      if ((d->toc & ubit[i]) && uf[i]->c) st->undef_count[i] = uf[i]->count;
  }
  if (sj->toc & RMP_EJ_SYS_V) st->sense_count = sj->v.count;
  if (sj->toc & RMP_EJ_SYS_Q) repair_q(x, &sj->q);
  /* F (B.4): COMPLETE is the last complete frame: quarter frames (Q = 1),
   * 2 frames ahead of the series that coded them when D = 0 (forward), as
   * they were when D = 1 (reverse); or a Full Frame (Q = 0, HR MN SC FR),
   * replayed as the Full Frame SysEx to all devices. PARTIAL holds the
   * nibbles of a run in progress (forward 0..POINT, reverse 7..POINT). The
   * receiver compares what the chapter states: the last complete frame, and
   * that its own quarter frames are that same run (equal nibbles that are
   * not a run, e.g. a stray MT1 over the initial MT0, are not). Without
   * PARTIAL the sender is in no run: just after a frame, or after an
   * illegal sequence (B.4.1), which act the same on every later quarter
   * frame. A receiver still in a run leaves it, in its model only: no MIDI
   * command breaks a run without moving the time code, and the chapter
   * does not code one. */
  if (sj->toc & RMP_EJ_SYS_F) {
    const rmp_ej_chap_f *f = &sj->f;
    int ff = f->c && !f->q, qf = f->c && f->q;
    uint32_t base = qf && !f->d ? rmp_ms_mtc_offset(f->complete, -2) : f->complete;
    /* a run in progress has POINT 0..6 forward, 1..7 reverse */
    int partial = f->p && (f->d ? f->point > 0 : f->point < 7);
    int comp_ok = !f->c || (st->mtc_complete_valid && st->mtc_complete == base && st->mtc_complete_ff == ff);
    int part_ok = 1;
    if (partial) {
      part_ok = st->mtc_valid && st->mtc_run && st->mtc_rev == f->d && st->mtc_point == f->point;
      for (int i = 0; part_ok && i < 8; i++)
        if (f->d ? i >= f->point : i <= f->point) part_ok = st->mtc_nib[i] == ((f->partial >> (28 - 4 * i)) & 15);
    }
    /* the complete frame only when it differs (a Full Frame played again
     * is a second locate); the run in progress after it, or when only it
     * differs */
    if (!comp_ok && ff && (base & 0x80808080u) == 0) {
      uint8_t m[10] = { 0xF0, 0x7F, 0x7F, 0x01, 0x01, (uint8_t)(base >> 24), (uint8_t)(base >> 16),
                        (uint8_t)(base >> 8), (uint8_t)base, 0xF7 };
      (void)emit_msg(x, m, sizeof m); /* not a SysEx COUNT counts (journal.h: COUNT) */
    } else if (!comp_ok && qf) {
      mtc_break(x, f->d ? 7 : 0);
      for (int k = 0; k < 8; k++) {
        int t = f->d ? 7 - k : k;
        out(x, 0xF1, (uint8_t)(t << 4 | ((base >> (28 - 4 * t)) & 15)), 0, 2);
      }
    }
    if (partial && (!comp_ok || !part_ok)) {
      mtc_break(x, f->d ? 7 : 0);
      for (int t = f->d ? 7 : 0; f->d ? t >= f->point : t <= f->point; t += f->d ? -1 : 1)
        out(x, 0xF1, (uint8_t)(t << 4 | ((f->partial >> (28 - 4 * t)) & 15)), 0, 2);
    }
    if (!partial && rmp_ms_mtc_partial(st)) st->mtc_run = 0;
  }
}

int rmp_ej_recv_repair(rmp_ej_receiver *r, const uint8_t *journal, size_t jlen, int single_loss,
                       rmp_ej_emit_fn emit, void *ud) {
  rmp_ej_hdr h;
  rmp_ej_sys sj;   /* decode scratch lives on this stack frame, */
  rmp_ej_chan cj;  /* not in the receiver (~3 KB) */
  /* Validate the whole journal before touching any state. */
  int n = rmp_ej_parse(journal, jlen, &h, &sj, &cj, NULL, NULL);
  if (n < 0) return n;
  repair_ctx x = { r, emit, ud, single_loss && r->cfg.trust_s_bits, 0, 0, r->last, h.checkpoint };
  /* the budget: by journal size, then what the per-second bucket holds */
  uint64_t b = RMP_EJ_BUDGET_BASE + (uint64_t)RMP_EJ_BUDGET_PER_OCTET * (uint64_t)n;
  if (b > r->cfg.packet_max) b = r->cfg.packet_max;
  if (r->bucket_on && b > r->tokens / 1000u) b = r->tokens / 1000u;
  x.budget = (unsigned)b;
  if (x.skip_s && h.s) return n; /* packet I-1 held nothing the journal codes */
  if (h.y) repair_sys(&x, &sj);

  if (h.a) (void)rmp_ej_parse(journal, jlen, &h, NULL, &cj, repair_chan, &x); /* parsed once already */
  if (r->bucket_on) r->tokens -= (uint64_t)x.emitted * 1000u;
  return n;
}

/* ---- an uncovered loss ---------------------------------------------------- */
typedef struct {
  uint8_t notes[16][16]; /* bitmaps by note number */
  uint8_t pedals[16];    /* bit k: controller 64 + k */
} confirmed;

static int confirm_chan(void *ud, const rmp_ej_chan *cj) {
  confirmed *k = ud;
  if (cj->toc & RMP_EJ_TOC_N)
    for (unsigned i = 0; i < cj->n.count; i++) {
      uint8_t n = cj->n.log[i].notenum;
      if (cj->n.log[i].velocity && !(cj->n.offbits[n >> 3] & (0x80 >> (n & 7))))
        k->notes[cj->chan][n >> 3] |= (uint8_t)(1u << (n & 7));
    }
  if (cj->toc & RMP_EJ_TOC_C)
    for (unsigned i = 0; i < cj->c.count; i++) {
      const rmp_ej_ctl_log *l = &cj->c.log[i];
      if (l->number >= 64 && l->number <= 69 && l->tool == RMP_EJ_TOOL_VALUE && l->value >= 64)
        k->pedals[cj->chan] |= (uint8_t)(1u << (l->number - 64));
    }
  return 0;
}

/* After a loss the journal does not cover (none, unusable, or a checkpoint
 * after the first lost packet), whatever the lost packets held is unknown:
 * notes that sound and pedals (64-69) that are down, unless the journal
 * confirms them, are released rather than left stuck. Bounded by the
 * receiver's own state, so outside the repair budget. */
static void release(rmp_ej_receiver *r, const uint8_t *j, size_t jl, rmp_ej_emit_fn emit, void *ud) {
  confirmed k;
  memset(&k, 0, sizeof k);
  if (!j) r->part_open = 0; /* whatever the lost packets held of a SysEx in parts is gone */
  if (j) {
    rmp_ej_chan cj;
    if (rmp_ej_parse(j, jl, NULL, NULL, &cj, confirm_chan, &k) < 0) memset(&k, 0, sizeof k);
  }
  repair_ctx x = { r, emit, ud, 0, 0, UINT_MAX, r->last, r->last };
  for (int ch = 0; ch < 16; ch++) {
    const rmp_ms_channel *c = r->st.ch[ch];
    if (!c || (r->st.broken >> ch & 1)) continue; /* never used (nothing sounds), or not known */
    for (int n = 0; n < 128; n++) {
      if (!c->note_vel[n] || (k.notes[ch][n >> 3] >> (n & 7) & 1)) continue;
      for (int g = 0; g < 128 && (c->note_vel[n] || c->note_ref[n]); g++)
        out(&x, (uint8_t)(0x80 | ch), (uint8_t)n, 64, 3);
      r->released++;
    }
    for (int p = 64; p <= 69; p++)
      if (c->cc[p] >= 64 && !(k.pedals[ch] >> (p - 64) & 1)) {
        cc(&x, ch, (uint8_t)p, 0);
        r->released++;
      }
  }
}

int rmp_ej_recv_packet(rmp_ej_receiver *r, uint16_t seq, const uint8_t *journal, size_t jlen,
                       rmp_ej_emit_fn emit, void *ud) {
  if (!r->have_seq) {
    /* "A receiver MUST process the first received packet in a stream as if
     * it were a packet that ends a loss event" (RFC 6295 section 4): what
     * was sent before it is repaired from its journal, as after a multiple
     * loss (no S-bit shortcut). Nothing tells what the history before the
     * checkpoint held: no coverage check. */
    r->have_seq = 1;
    r->last = seq;
    if (!journal || !jlen) return RMP_EJ_R_FIRST;
    unsigned before = r->repairs;
    int e = rmp_ej_recv_repair(r, journal, jlen, 0, emit, ud);
    if (e < 0) return e;
    return RMP_EJ_R_FIRST | (r->repairs != before ? RMP_EJ_R_REPAIRED : 0);
  }
  uint16_t d = (uint16_t)(seq - r->last);
  if (d == 0 || d >= 0x8000) return RMP_EJ_R_LATE;
  uint16_t first_lost = (uint16_t)(r->last + 1);
  r->last = seq;
  if (d == 1) return 0;
  int flags = RMP_EJ_R_LOSS;
  if (!journal || !jlen) {
    release(r, NULL, 0, emit, ud);
    return flags | RMP_EJ_R_NOJOURNAL;
  }
  rmp_ej_hdr h;
  int e = rmp_ej_hdr_decode(journal, jlen, &h);
  if (e >= 0 && (uint16_t)(first_lost - h.checkpoint) >= 0x8000) {
    flags |= RMP_EJ_R_UNCOVERED;
    r->uncovered++;
    /* what was lost may hold the rest of the SysEx in parts the caller is
     * putting together and a System Reset after it (COUNT starts again, and
     * a new one's log can carry the old one's number): it is dropped before
     * the journal is read (found by the round-trip fuzzer) */
    part_cancel(r);
  }
  r->part_seen = 0;
  if (e >= 0) e = rmp_ej_recv_repair(r, journal, jlen, d == 2, emit, ud);
  if (e < 0) {
    release(r, NULL, 0, emit, ud);
    return e;
  }
  if (flags & RMP_EJ_R_UNCOVERED) {
    /* a SysEx in parts the journal does not code may have lost some: the
     * parts that follow would not fit what the caller holds */
    if (!r->part_seen) r->part_open = 0;
    release(r, journal, jlen, emit, ud);
  }
  return flags | RMP_EJ_R_REPAIRED;
}
