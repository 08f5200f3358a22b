/* journal_chapters.c -- wire codec of the RTP MIDI recovery journal:
 * journal header, system journal and chapters D V Q F X (RFC 6295 appendix
 * B), channel journal and chapters P C M W N E T A (appendix A).
 *
 * Encoders return octets written or RMP_EJ_ENOSPACE / RMP_EJ_EINVAL.
 * Decoders return octets consumed or RMP_EJ_ETRUNC / RMP_EJ_EBADLEN /
 * RMP_EJ_EINVAL, and never read past len. */
#include "journal.h"

#include <string.h>

#define NEED(n) do { if (len < (size_t)(n)) return RMP_EJ_ETRUNC; } while (0)
#define ROOM(n) do { if (cap < (size_t)(n)) return RMP_EJ_ENOSPACE; } while (0)
#define BIT(x) ((uint8_t)((x) ? 1 : 0))
#define CHK7(v) do { if ((v) > 127) return RMP_EJ_EINVAL; } while (0)

static uint16_t get16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

/* ---- journal header -------------------------------------------------------- */
int rmp_ej_hdr_encode(const rmp_ej_hdr *h, uint8_t *out, size_t cap) {
  ROOM(3);
  if (h->totchan > 15) return RMP_EJ_EINVAL;
  out[0] = (uint8_t)(BIT(h->s) << 7 | BIT(h->y) << 6 | BIT(h->a) << 5 | BIT(h->h) << 4 | h->totchan);
  put16(out + 1, h->checkpoint);
  return 3;
}

int rmp_ej_hdr_decode(const uint8_t *buf, size_t len, rmp_ej_hdr *h) {
  NEED(3);
  h->s = buf[0] >> 7;
  h->y = (buf[0] >> 6) & 1;
  h->a = (buf[0] >> 5) & 1;
  h->h = (buf[0] >> 4) & 1;
  h->totchan = buf[0] & 15;
  h->checkpoint = get16(buf + 1);
  return 3;
}

/* ---- chapter P ----------------------------------------------------------------- */
int rmp_ej_chap_p_encode(const rmp_ej_chap_p *p, uint8_t *out, size_t cap) {
  ROOM(3);
  CHK7(p->program); CHK7(p->bank_msb); CHK7(p->bank_lsb);
  out[0] = (uint8_t)(BIT(p->s) << 7 | p->program);
  out[1] = (uint8_t)(BIT(p->b) << 7 | p->bank_msb);
  out[2] = (uint8_t)(BIT(p->x) << 7 | p->bank_lsb);
  return 3;
}

int rmp_ej_chap_p_decode(const uint8_t *buf, size_t len, rmp_ej_chap_p *p) {
  NEED(3);
  p->s = buf[0] >> 7; p->program = buf[0] & 127;
  p->b = buf[1] >> 7; p->bank_msb = buf[1] & 127;
  p->x = buf[2] >> 7; p->bank_lsb = buf[2] & 127;
  return 3;
}

/* ---- chapter C ----------------------------------------------------------------- */
int rmp_ej_chap_c_encode(const rmp_ej_chap_c *c, uint8_t *out, size_t cap) {
  if (c->count < 1 || c->count > RMP_EJ_MAX_CTL_LOGS) return RMP_EJ_EINVAL;
  size_t n = 1 + 2u * c->count;
  ROOM(n);
  out[0] = (uint8_t)(BIT(c->s) << 7 | (c->count - 1));
  for (unsigned i = 0; i < c->count; i++) {
    const rmp_ej_ctl_log *l = &c->log[i];
    CHK7(l->number);
    out[1 + 2 * i] = (uint8_t)(BIT(l->s) << 7 | l->number);
    if (l->tool == RMP_EJ_TOOL_VALUE) {
      CHK7(l->value);
      out[2 + 2 * i] = l->value;
    } else if (l->tool == RMP_EJ_TOOL_TOGGLE || l->tool == RMP_EJ_TOOL_COUNT) {
      if (l->value > 63) return RMP_EJ_EINVAL;
      /* RFC 6295 A.3.2, Figure A.3.3: |1|T|ALT|, T = 0 toggle tool, T = 1 count tool */
      out[2 + 2 * i] = (uint8_t)(0x80 | (l->tool == RMP_EJ_TOOL_COUNT ? 0x40 : 0) | l->value);
    } else {
      return RMP_EJ_EINVAL;
    }
  }
  return (int)n;
}

int rmp_ej_chap_c_decode(const uint8_t *buf, size_t len, rmp_ej_chap_c *c) {
  NEED(1);
  c->s = buf[0] >> 7;
  c->count = (uint16_t)((buf[0] & 127) + 1);
  size_t n = 1 + 2u * c->count;
  NEED(n);
  for (unsigned i = 0; i < c->count; i++) {
    rmp_ej_ctl_log *l = &c->log[i];
    uint8_t a = buf[1 + 2 * i], b = buf[2 + 2 * i];
    l->s = a >> 7;
    l->number = a & 127;
    if (b & 0x80) {
      l->tool = (b & 0x40) ? RMP_EJ_TOOL_COUNT : RMP_EJ_TOOL_TOGGLE;
      l->value = b & 63;
    } else {
      l->tool = RMP_EJ_TOOL_VALUE;
      l->value = b & 127;
    }
  }
  return (int)n;
}

/* ---- chapter M ----------------------------------------------------------------- */
static size_t m_log_size(uint8_t flags, int omit_msb) {
  size_t n = omit_msb ? 2 : 3;
  if (flags & RMP_EJ_M_J) n += 1;
  if (flags & RMP_EJ_M_K) n += 1;
  if (flags & RMP_EJ_M_L) n += 2;
  if (flags & RMP_EJ_M_M) n += 2;
  if (flags & RMP_EJ_M_N) n += 1;
  return n;
}

int rmp_ej_chap_m_encode(const rmp_ej_chap_m *m, uint8_t *out, size_t cap) {
  if (m->count > RMP_EJ_MAX_PARAM_LOGS) return RMP_EJ_EINVAL;
  int all_rpn = m->count > 0, all_nrpn = m->count > 0, all_z = m->count > 0;
  for (unsigned i = 0; i < m->count; i++) {
    const rmp_ej_param_log *l = &m->log[i];
    CHK7(l->pnum_lsb); CHK7(l->pnum_msb);
    if (l->q) all_rpn = 0; else all_nrpn = 0;
    if (l->pnum_msb) all_z = 0;
  }
  int omit = all_z && (all_rpn || all_nrpn);
  size_t n = 2 + (m->p ? 1 : 0);
  for (unsigned i = 0; i < m->count; i++) n += m_log_size(m->log[i].flags, omit);
  if (n > 1023) return RMP_EJ_ENOSPACE;
  ROOM(n);
  put16(out, (uint16_t)(BIT(m->s) << 15 | BIT(m->p) << 14 | BIT(m->e) << 13 | (all_rpn ? 1 : 0) << 12 |
                        (all_nrpn ? 1 : 0) << 11 | all_z << 10 | n));
  size_t o = 2;
  if (m->p) {
    CHK7(m->pending);
    out[o++] = (uint8_t)(BIT(m->pending_q) << 7 | m->pending);
  }
  for (unsigned i = 0; i < m->count; i++) {
    const rmp_ej_param_log *l = &m->log[i];
    out[o++] = (uint8_t)(BIT(l->s) << 7 | l->pnum_lsb);
    if (!omit) out[o++] = (uint8_t)(BIT(l->q) << 7 | l->pnum_msb);
    out[o++] = l->flags;
    if (l->flags & RMP_EJ_M_J) out[o++] = l->entry_msb;
    if (l->flags & RMP_EJ_M_K) out[o++] = l->entry_lsb;
    if (l->flags & RMP_EJ_M_L) { put16(out + o, l->a_button); o += 2; }
    if (l->flags & RMP_EJ_M_M) { put16(out + o, l->c_button); o += 2; }
    if (l->flags & RMP_EJ_M_N) out[o++] = l->count;
  }
  return (int)o;
}

int rmp_ej_chap_m_decode(const uint8_t *buf, size_t len, rmp_ej_chap_m *m) {
  NEED(2);
  uint16_t h = get16(buf);
  m->s = (uint8_t)(h >> 15);
  m->p = (h >> 14) & 1;
  m->e = (h >> 13) & 1;
  m->u = (h >> 12) & 1;
  m->w = (h >> 11) & 1;
  m->z = (h >> 10) & 1;
  size_t length = h & 0x3FF;
  if (length < 2u + m->p) return RMP_EJ_EBADLEN;
  NEED(length);
  int omit = m->z && (m->u || m->w);
  size_t o = 2;
  m->pending_q = m->pending = 0;
  if (m->p) {
    m->pending_q = buf[o] >> 7;
    m->pending = buf[o] & 127;
    o++;
  }
  m->count = 0;
  while (o < length) {
    size_t hdr = omit ? 2 : 3;
    if (o + hdr > length) return RMP_EJ_EBADLEN;
    uint8_t flags = buf[o + hdr - 1];
    size_t sz = m_log_size(flags, omit);
    if (o + sz > length) return RMP_EJ_EBADLEN;
    if (m->count >= RMP_EJ_MAX_PARAM_LOGS) return RMP_EJ_ENOSPACE;
    rmp_ej_param_log *l = &m->log[m->count++];
    memset(l, 0, sizeof *l);
    l->s = buf[o] >> 7;
    l->pnum_lsb = buf[o] & 127;
    if (omit) {
      l->q = m->w ? 1 : 0;
      l->pnum_msb = 0;
    } else {
      l->q = buf[o + 1] >> 7;
      l->pnum_msb = buf[o + 1] & 127;
    }
    l->flags = flags;
    size_t f = o + hdr;
    if (flags & RMP_EJ_M_J) l->entry_msb = buf[f++];
    if (flags & RMP_EJ_M_K) l->entry_lsb = buf[f++];
    if (flags & RMP_EJ_M_L) { l->a_button = get16(buf + f); f += 2; }
    if (flags & RMP_EJ_M_M) { l->c_button = get16(buf + f); f += 2; }
    if (flags & RMP_EJ_M_N) l->count = buf[f++];
    o = f;
  }
  return (int)length;
}

/* ---- chapter W ----------------------------------------------------------------- */
int rmp_ej_chap_w_encode(const rmp_ej_chap_w *w, uint8_t *out, size_t cap) {
  ROOM(2);
  CHK7(w->first); CHK7(w->second);
  out[0] = (uint8_t)(BIT(w->s) << 7 | w->first);
  out[1] = (uint8_t)(BIT(w->r) << 7 | w->second);
  return 2;
}

int rmp_ej_chap_w_decode(const uint8_t *buf, size_t len, rmp_ej_chap_w *w) {
  NEED(2);
  w->s = buf[0] >> 7; w->first = buf[0] & 127;
  w->r = buf[1] >> 7; w->second = buf[1] & 127;
  return 2;
}

/* ---- chapter N ----------------------------------------------------------------- */
int rmp_ej_chap_n_encode(const rmp_ej_chap_n *n, uint8_t *out, size_t cap) {
  if (n->count > 128) return RMP_EJ_EINVAL;
  int low = -1, high = -1;
  for (int i = 0; i < 16; i++)
    if (n->offbits[i]) { if (low < 0) low = i; high = i; }
  uint8_t lenf, lowf, highf;
  size_t noct = 0;
  if (low >= 0) {
    if (n->count == 128) return RMP_EJ_EINVAL; /* 128 logs leave no room for OFFBITS */
    lenf = (uint8_t)n->count; lowf = (uint8_t)low; highf = (uint8_t)high;
    noct = (size_t)(high - low + 1);
  } else if (n->count == 128) {
    lenf = 127; lowf = 15; highf = 0;
  } else {
    lenf = (uint8_t)n->count; lowf = 15; highf = 1;
  }
  size_t sz = 2 + 2u * n->count + noct;
  ROOM(sz);
  out[0] = (uint8_t)(BIT(n->b) << 7 | lenf);
  out[1] = (uint8_t)(lowf << 4 | highf);
  size_t o = 2;
  for (unsigned i = 0; i < n->count; i++) {
    const rmp_ej_note_log *l = &n->log[i];
    CHK7(l->notenum); CHK7(l->velocity);
    if (l->velocity == 0) return RMP_EJ_EINVAL;
    out[o++] = (uint8_t)(BIT(l->s) << 7 | l->notenum);
    out[o++] = (uint8_t)(BIT(l->y) << 7 | l->velocity);
  }
  for (size_t i = 0; i < noct; i++) out[o++] = n->offbits[(size_t)low + i];
  return (int)o;
}

int rmp_ej_chap_n_decode(const uint8_t *buf, size_t len, rmp_ej_chap_n *n) {
  NEED(2);
  n->b = buf[0] >> 7;
  unsigned count = buf[0] & 127;
  n->low = buf[1] >> 4;
  n->high = buf[1] & 15;
  size_t noct;
  if (n->low <= n->high) noct = (size_t)(n->high - n->low + 1);
  else if (n->low == 15 && (n->high == 0 || n->high == 1)) {
    noct = 0;
    if (n->high == 0 && count == 127) count = 128;
  } else return RMP_EJ_EINVAL;
  n->count = (uint16_t)count;
  size_t sz = 2 + 2u * count + noct;
  NEED(sz);
  size_t o = 2;
  for (unsigned i = 0; i < count; i++) {
    rmp_ej_note_log *l = &n->log[i];
    l->s = buf[o] >> 7; l->notenum = buf[o] & 127; o++;
    l->y = buf[o] >> 7; l->velocity = buf[o] & 127; o++;
  }
  memset(n->offbits, 0, sizeof n->offbits);
  for (size_t i = 0; i < noct; i++) n->offbits[n->low + i] = buf[o++];
  return (int)o;
}

/* ---- chapters E, T, A ---------------------------------------------------------- */
static int pairs_encode(uint8_t s, unsigned count, const uint8_t (*pairs)[4], uint8_t *out, size_t cap) {
  /* pairs[i] = {s, note, flag, value} */
  if (count < 1 || count > 128) return RMP_EJ_EINVAL;
  size_t sz = 1 + 2u * count;
  ROOM(sz);
  out[0] = (uint8_t)(BIT(s) << 7 | (count - 1));
  for (unsigned i = 0; i < count; i++) {
    CHK7(pairs[i][1]); CHK7(pairs[i][3]);
    out[1 + 2 * i] = (uint8_t)(BIT(pairs[i][0]) << 7 | pairs[i][1]);
    out[2 + 2 * i] = (uint8_t)(BIT(pairs[i][2]) << 7 | pairs[i][3]);
  }
  return (int)sz;
}

int rmp_ej_chap_e_encode(const rmp_ej_chap_e *e, uint8_t *out, size_t cap) {
  _Static_assert(sizeof(rmp_ej_extra_log) == 4, "log layout");
  return pairs_encode(e->s, e->count, (const uint8_t (*)[4])(const void *)e->log, out, cap);
}

int rmp_ej_chap_a_encode(const rmp_ej_chap_a *a, uint8_t *out, size_t cap) {
  _Static_assert(sizeof(rmp_ej_poly_log) == 4, "log layout");
  return pairs_encode(a->s, a->count, (const uint8_t (*)[4])(const void *)a->log, out, cap);
}

static int pairs_decode(const uint8_t *buf, size_t len, uint8_t *s, uint16_t *count, uint8_t (*pairs)[4]) {
  NEED(1);
  *s = buf[0] >> 7;
  *count = (uint16_t)((buf[0] & 127) + 1);
  size_t sz = 1 + 2u * *count;
  NEED(sz);
  for (unsigned i = 0; i < *count; i++) {
    pairs[i][0] = buf[1 + 2 * i] >> 7;
    pairs[i][1] = buf[1 + 2 * i] & 127;
    pairs[i][2] = buf[2 + 2 * i] >> 7;
    pairs[i][3] = buf[2 + 2 * i] & 127;
  }
  return (int)sz;
}

int rmp_ej_chap_e_decode(const uint8_t *buf, size_t len, rmp_ej_chap_e *e) {
  return pairs_decode(buf, len, &e->s, &e->count, (uint8_t (*)[4])(void *)e->log);
}

int rmp_ej_chap_a_decode(const uint8_t *buf, size_t len, rmp_ej_chap_a *a) {
  return pairs_decode(buf, len, &a->s, &a->count, (uint8_t (*)[4])(void *)a->log);
}

int rmp_ej_chap_t_encode(const rmp_ej_chap_t *t, uint8_t *out, size_t cap) {
  ROOM(1);
  CHK7(t->pressure);
  out[0] = (uint8_t)(BIT(t->s) << 7 | t->pressure);
  return 1;
}

int rmp_ej_chap_t_decode(const uint8_t *buf, size_t len, rmp_ej_chap_t *t) {
  NEED(1);
  t->s = buf[0] >> 7;
  t->pressure = buf[0] & 127;
  return 1;
}

/* ---- channel journal ------------------------------------------------------------ */
int rmp_ej_chan_encode(const rmp_ej_chan *cj, uint8_t *out, size_t cap) {
  if (cj->chan > 15) return RMP_EJ_EINVAL;
  ROOM(3);
  size_t o = 3;
  int r;
#define PUT(bit, fn, field) \
  if (cj->toc & (bit)) { r = fn(&cj->field, out + o, cap - o); if (r < 0) return r; o += (size_t)r; }
  PUT(RMP_EJ_TOC_P, rmp_ej_chap_p_encode, p)
  PUT(RMP_EJ_TOC_C, rmp_ej_chap_c_encode, c)
  PUT(RMP_EJ_TOC_M, rmp_ej_chap_m_encode, m)
  PUT(RMP_EJ_TOC_W, rmp_ej_chap_w_encode, w)
  PUT(RMP_EJ_TOC_N, rmp_ej_chap_n_encode, n)
  PUT(RMP_EJ_TOC_E, rmp_ej_chap_e_encode, e)
  PUT(RMP_EJ_TOC_T, rmp_ej_chap_t_encode, t)
  PUT(RMP_EJ_TOC_A, rmp_ej_chap_a_encode, a)
#undef PUT
  if (o > 1023) return RMP_EJ_ENOSPACE;
  out[0] = (uint8_t)(BIT(cj->s) << 7 | cj->chan << 3 | BIT(cj->h) << 2 | (o >> 8));
  out[1] = (uint8_t)o;
  out[2] = cj->toc;
  return (int)o;
}

int rmp_ej_chan_decode(const uint8_t *buf, size_t len, rmp_ej_chan *cj) {
  NEED(3);
  cj->s = buf[0] >> 7;
  cj->chan = (buf[0] >> 3) & 15;
  cj->h = (buf[0] >> 2) & 1;
  cj->length = (uint16_t)(((buf[0] & 3) << 8) | buf[1]);
  cj->toc = buf[2];
  if (cj->length < 3) return RMP_EJ_EBADLEN;
  NEED(cj->length);
  size_t end = cj->length, o = 3;
  int r;
#define GET(bit, fn, field) \
  if (cj->toc & (bit)) { r = fn(buf + o, end - o, &cj->field); if (r < 0) return r == RMP_EJ_ETRUNC ? RMP_EJ_EBADLEN : r; o += (size_t)r; }
  GET(RMP_EJ_TOC_P, rmp_ej_chap_p_decode, p)
  GET(RMP_EJ_TOC_C, rmp_ej_chap_c_decode, c)
  GET(RMP_EJ_TOC_M, rmp_ej_chap_m_decode, m)
  GET(RMP_EJ_TOC_W, rmp_ej_chap_w_decode, w)
  GET(RMP_EJ_TOC_N, rmp_ej_chap_n_decode, n)
  GET(RMP_EJ_TOC_E, rmp_ej_chap_e_decode, e)
  GET(RMP_EJ_TOC_T, rmp_ej_chap_t_decode, t)
  GET(RMP_EJ_TOC_A, rmp_ej_chap_a_decode, a)
#undef GET
  if (o != end) return RMP_EJ_EBADLEN;
  return (int)end;
}

/* ---- system chapters ------------------------------------------------------------- */
static int undef_encode(const rmp_ej_undef_field *f, int realtime, uint8_t *out, size_t cap) {
  if (realtime) {
    ROOM(2);
    out[0] = (uint8_t)(BIT(f->s) << 7 | 0x40 | 2); /* C = 1, LENGTH = 2 */
    out[1] = f->count;
    return 2;
  }
  ROOM(3);
  put16(out, (uint16_t)(BIT(f->s) << 15 | 0x4000 | (f->dsz & 3) << 10 | 3)); /* C = 1, LENGTH = 3 */
  out[2] = f->count;
  return 3;
}

static int undef_decode(const uint8_t *buf, size_t len, int realtime, rmp_ej_undef_field *f) {
  memset(f, 0, sizeof *f);
  size_t hl = realtime ? 1 : 2;
  NEED(hl);
  if (realtime) {
    f->s = buf[0] >> 7; f->c = (buf[0] >> 6) & 1; f->l = (buf[0] >> 5) & 1;
    f->length = buf[0] & 31;
  } else {
    uint16_t h = get16(buf);
    f->s = (uint8_t)(h >> 15); f->c = (h >> 14) & 1; f->v = (h >> 13) & 1; f->l = (h >> 12) & 1;
    f->dsz = (h >> 10) & 3;
    f->length = h & 0x3FF;
  }
  if (f->length < hl + f->c) return RMP_EJ_EBADLEN;
  NEED(f->length);
  if (f->c) f->count = buf[hl];
  if (f->v) {
    /* VALUE (B.1.2): after COUNT, to the octet with its MSB set */
    size_t o = hl + f->c, start = o;
    while (o < f->length && !(buf[o] & 0x80)) o++;
    if (o >= f->length) return RMP_EJ_EBADLEN;
    f->value_off = (uint16_t)start;
    f->value_len = (uint16_t)(o + 1 - start);
  }
  return f->length;
}

int rmp_ej_chap_d_encode(const rmp_ej_chap_d *d, uint8_t *out, size_t cap) {
  ROOM(1);
  if (d->toc & 0x80) return RMP_EJ_EINVAL;
  out[0] = (uint8_t)(BIT(d->s) << 7 | d->toc);
  size_t o = 1;
  int r;
  if (d->toc & RMP_EJ_D_B) { ROOM(o + 1); CHK7(d->reset_count); out[o++] = (uint8_t)(BIT(d->reset_s) << 7 | d->reset_count); }
  if (d->toc & RMP_EJ_D_G) { ROOM(o + 1); CHK7(d->tune_count); out[o++] = (uint8_t)(BIT(d->tune_s) << 7 | d->tune_count); }
  if (d->toc & RMP_EJ_D_H) { ROOM(o + 1); CHK7(d->song); out[o++] = (uint8_t)(BIT(d->song_s) << 7 | d->song); }
  if (d->toc & RMP_EJ_D_J) { r = undef_encode(&d->j, 0, out + o, cap - o); if (r < 0) return r; o += (size_t)r; }
  if (d->toc & RMP_EJ_D_K) { r = undef_encode(&d->k, 0, out + o, cap - o); if (r < 0) return r; o += (size_t)r; }
  if (d->toc & RMP_EJ_D_Y) { r = undef_encode(&d->y, 1, out + o, cap - o); if (r < 0) return r; o += (size_t)r; }
  if (d->toc & RMP_EJ_D_Z) { r = undef_encode(&d->z, 1, out + o, cap - o); if (r < 0) return r; o += (size_t)r; }
  return (int)o;
}

int rmp_ej_chap_d_decode(const uint8_t *buf, size_t len, rmp_ej_chap_d *d) {
  NEED(1);
  d->s = buf[0] >> 7;
  d->toc = buf[0] & 127;
  size_t o = 1;
  int r;
  if (d->toc & RMP_EJ_D_B) { NEED(o + 1); d->reset_s = buf[o] >> 7; d->reset_count = buf[o] & 127; o++; }
  if (d->toc & RMP_EJ_D_G) { NEED(o + 1); d->tune_s = buf[o] >> 7; d->tune_count = buf[o] & 127; o++; }
  if (d->toc & RMP_EJ_D_H) { NEED(o + 1); d->song_s = buf[o] >> 7; d->song = buf[o] & 127; o++; }
  if (d->toc & RMP_EJ_D_J) { r = undef_decode(buf + o, len - o, 0, &d->j); if (r < 0) return r; o += (size_t)r; }
  if (d->toc & RMP_EJ_D_K) { r = undef_decode(buf + o, len - o, 0, &d->k); if (r < 0) return r; o += (size_t)r; }
  if (d->toc & RMP_EJ_D_Y) { r = undef_decode(buf + o, len - o, 1, &d->y); if (r < 0) return r; o += (size_t)r; }
  if (d->toc & RMP_EJ_D_Z) { r = undef_decode(buf + o, len - o, 1, &d->z); if (r < 0) return r; o += (size_t)r; }
  return (int)o;
}

int rmp_ej_chap_v_encode(const rmp_ej_chap_v *v, uint8_t *out, size_t cap) {
  ROOM(1);
  CHK7(v->count);
  out[0] = (uint8_t)(BIT(v->s) << 7 | v->count);
  return 1;
}

int rmp_ej_chap_v_decode(const uint8_t *buf, size_t len, rmp_ej_chap_v *v) {
  NEED(1);
  v->s = buf[0] >> 7;
  v->count = buf[0] & 127;
  return 1;
}

int rmp_ej_chap_q_encode(const rmp_ej_chap_q *q, uint8_t *out, size_t cap) {
  size_t n = 1 + (q->c ? 2 : 0) + (q->t ? 3 : 0);
  ROOM(n);
  if (q->clock > 0x7FFFF || q->timetools > 0xFFFFFF) return RMP_EJ_EINVAL;
  if (!q->c && (q->clock & 0xFFFF)) return RMP_EJ_EINVAL;
  out[0] = (uint8_t)(BIT(q->s) << 7 | BIT(q->n) << 6 | BIT(q->d) << 5 | BIT(q->c) << 4 | BIT(q->t) << 3 |
                     (q->clock >> 16));
  size_t o = 1;
  if (q->c) { put16(out + o, (uint16_t)q->clock); o += 2; }
  if (q->t) {
    out[o++] = (uint8_t)(q->timetools >> 16);
    out[o++] = (uint8_t)(q->timetools >> 8);
    out[o++] = (uint8_t)q->timetools;
  }
  return (int)o;
}

int rmp_ej_chap_q_decode(const uint8_t *buf, size_t len, rmp_ej_chap_q *q) {
  NEED(1);
  q->s = buf[0] >> 7; q->n = (buf[0] >> 6) & 1; q->d = (buf[0] >> 5) & 1;
  q->c = (buf[0] >> 4) & 1; q->t = (buf[0] >> 3) & 1;
  q->clock = (uint32_t)(buf[0] & 7) << 16;
  q->timetools = 0;
  size_t o = 1;
  if (q->c) { NEED(o + 2); q->clock |= get16(buf + o); o += 2; }
  if (q->t) {
    NEED(o + 3);
    q->timetools = (uint32_t)buf[o] << 16 | (uint32_t)buf[o + 1] << 8 | buf[o + 2];
    o += 3;
  }
  return (int)o;
}

static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }

int rmp_ej_chap_f_encode(const rmp_ej_chap_f *f, uint8_t *out, size_t cap) {
  size_t n = 1 + (f->c ? 4 : 0) + (f->p ? 4 : 0);
  ROOM(n);
  if (f->point > 7) return RMP_EJ_EINVAL;
  out[0] = (uint8_t)(BIT(f->s) << 7 | BIT(f->c) << 6 | BIT(f->p) << 5 | BIT(f->q) << 4 | BIT(f->d) << 3 | f->point);
  size_t o = 1;
  if (f->c) { put32(out + o, f->complete); o += 4; }
  if (f->p) { put32(out + o, f->partial); o += 4; }
  return (int)o;
}

int rmp_ej_chap_f_decode(const uint8_t *buf, size_t len, rmp_ej_chap_f *f) {
  NEED(1);
  f->s = buf[0] >> 7; f->c = (buf[0] >> 6) & 1; f->p = (buf[0] >> 5) & 1;
  f->q = (buf[0] >> 4) & 1; f->d = (buf[0] >> 3) & 1; f->point = buf[0] & 7;
  f->complete = f->partial = 0;
  size_t o = 1;
  if (f->c) { NEED(o + 4); f->complete = get32(buf + o); o += 4; }
  if (f->p) { NEED(o + 4); f->partial = get32(buf + o); o += 4; }
  return (int)o;
}

/* Chapter X command log (B.5.1). FIRST: 1-4 octets, MSB = 1 on all but the
 * last (Figure B.5.2). DATA: length implied by the MSB of its last octet. */
int rmp_ej_x_log_encode(const rmp_ej_x_log *l, uint8_t *out, size_t cap) {
  if (l->sta > 3 || l->first >= (1u << 28) || (l->d && (!l->data || !l->data_len))) return RMP_EJ_EINVAL;
  ROOM(1);
  out[0] = (uint8_t)(BIT(l->s) << 7 | BIT(l->t) << 6 | BIT(l->c) << 5 | BIT(l->f) << 4 | BIT(l->d) << 3 |
                     BIT(l->l) << 2 | l->sta);
  size_t o = 1;
  if (l->t) { ROOM(o + 1); out[o++] = l->tcount; }
  if (l->c) { ROOM(o + 1); out[o++] = l->count; }
  if (l->f) {
    int n = 1;
    while (n < 4 && (l->first >> (7 * n))) n++;
    ROOM(o + (size_t)n);
    for (int i = n - 1; i >= 0; i--) out[o++] = (uint8_t)(((l->first >> (7 * i)) & 127) | (i ? 0x80 : 0));
  }
  if (l->d) {
    ROOM(o + l->data_len);
    for (unsigned i = 0; i < l->data_len; i++) {
      CHK7(l->data[i]);
      out[o++] = (uint8_t)(l->data[i] | (i + 1 == l->data_len ? 0x80 : 0));
    }
  }
  return (int)o;
}

int rmp_ej_x_log_decode(const uint8_t *buf, size_t len, rmp_ej_x_log *l) {
  NEED(1);
  memset(l, 0, sizeof *l);
  l->s = buf[0] >> 7; l->t = (buf[0] >> 6) & 1; l->c = (buf[0] >> 5) & 1; l->f = (buf[0] >> 4) & 1;
  l->d = (buf[0] >> 3) & 1; l->l = (buf[0] >> 2) & 1; l->sta = buf[0] & 3;
  size_t o = 1;
  if (l->t) { NEED(o + 1); l->tcount = buf[o++]; }
  if (l->c) { NEED(o + 1); l->count = buf[o++]; }
  if (l->f) {
    for (int i = 0;; i++) {
      if (i == 4) return RMP_EJ_EINVAL;
      NEED(o + 1);
      uint8_t b = buf[o++];
      l->first = l->first << 7 | (b & 127);
      if (!(b & 0x80)) break;
    }
  }
  if (l->d) {
    size_t start = o;
    for (;;) {
      NEED(o + 1);
      if (buf[o++] & 0x80) break;
    }
    if (o - start > 0xFFFF) return RMP_EJ_EINVAL;
    l->data = buf + start;
    l->data_len = (uint16_t)(o - start);
  }
  return (int)o;
}

uint8_t rmp_ej_x_log_s(uint8_t s0, uint8_t s1, unsigned i, unsigned n, uint8_t si) {
  if (i) return si;
  return (uint8_t)(n > 1 ? (s0 | s1) : s0);
}

/* Walk a whole log list: returns the number of logs, or an error. */
static int x_walk(const uint8_t *buf, size_t len) {
  size_t o = 0;
  int n = 0;
  rmp_ej_x_log l;
  while (o < len) {
    int r = rmp_ej_x_log_decode(buf + o, len - o, &l);
    if (r < 0) return r == RMP_EJ_ETRUNC ? RMP_EJ_EBADLEN : r;
    o += (size_t)r;
    n++;
  }
  return n;
}

int rmp_ej_chap_x_decode(const uint8_t *buf, size_t len, rmp_ej_chap_x *x) {
  NEED(1);
  memset(x, 0, sizeof *x);
  if (len > 0xFFFF) return RMP_EJ_EBADLEN;
  int n = x_walk(buf, len);
  if (n < 0) return n;
  rmp_ej_x_log l;
  (void)rmp_ej_x_log_decode(buf, len, &l);
  x->s = l.s; x->t = l.t; x->c = l.c; x->f = l.f; x->d = l.d; x->l = l.l; x->sta = l.sta;
  x->tcount = l.tcount; x->count = l.count; x->first = l.first;
  size_t o = 1 + l.t + l.c;
  if (l.f) while (buf[o++] & 0x80) {}
  x->data_off = (uint16_t)o;
  x->data_len = (uint16_t)(len - o);
  x->nlogs = (uint16_t)n;
  x->raw = buf;
  x->raw_len = (uint16_t)len;
  return (int)len;
}

int rmp_ej_sys_encode(const rmp_ej_sys *sj, uint8_t *out, size_t cap) {
  ROOM(2);
  if (sj->toc & (0x80 | 0x03)) return RMP_EJ_EINVAL;
  size_t o = 2;
  int r;
#define PUT(bit, fn, field) \
  if (sj->toc & (bit)) { r = fn(&sj->field, out + o, cap - o); if (r < 0) return r; o += (size_t)r; }
  PUT(RMP_EJ_SYS_D, rmp_ej_chap_d_encode, d)
  PUT(RMP_EJ_SYS_V, rmp_ej_chap_v_encode, v)
  PUT(RMP_EJ_SYS_Q, rmp_ej_chap_q_encode, q)
  PUT(RMP_EJ_SYS_F, rmp_ej_chap_f_encode, f)
#undef PUT
  if (sj->toc & RMP_EJ_SYS_X) {
    if (!sj->x.raw || !sj->x.raw_len) return RMP_EJ_EINVAL;
    r = x_walk(sj->x.raw, sj->x.raw_len);
    if (r < 0) return RMP_EJ_EINVAL;
    ROOM(o + sj->x.raw_len);
    memcpy(out + o, sj->x.raw, sj->x.raw_len);
    o += sj->x.raw_len;
  }
  if (o > 1023) return RMP_EJ_ENOSPACE;
  put16(out, (uint16_t)(BIT(sj->s) << 15 | sj->toc << 8 | o));
  return (int)o;
}

int rmp_ej_sys_decode(const uint8_t *buf, size_t len, rmp_ej_sys *sj) {
  NEED(2);
  uint16_t h = get16(buf);
  sj->s = (uint8_t)(h >> 15);
  sj->toc = (uint8_t)((h >> 8) & 0x7C);
  sj->length = h & 0x3FF;
  if (sj->length < 2) return RMP_EJ_EBADLEN;
  NEED(sj->length);
  size_t end = sj->length, o = 2;
  int r;
#define GET(bit, fn, field) \
  if (sj->toc & (bit)) { r = fn(buf + o, end - o, &sj->field); if (r < 0) return r == RMP_EJ_ETRUNC ? RMP_EJ_EBADLEN : r; o += (size_t)r; }
  GET(RMP_EJ_SYS_D, rmp_ej_chap_d_decode, d)
  GET(RMP_EJ_SYS_V, rmp_ej_chap_v_decode, v)
  GET(RMP_EJ_SYS_Q, rmp_ej_chap_q_decode, q)
  GET(RMP_EJ_SYS_F, rmp_ej_chap_f_decode, f)
  GET(RMP_EJ_SYS_X, rmp_ej_chap_x_decode, x)
#undef GET
  if (o != end) return RMP_EJ_EBADLEN;
  return (int)end;
}

/* ---- whole journal ----------------------------------------------------------------- */
int rmp_ej_journal_size(const uint8_t *buf, size_t len) {
  rmp_ej_hdr h;
  int r = rmp_ej_hdr_decode(buf, len, &h);
  if (r < 0) return r;
  size_t o = 3;
  if (h.y) {
    NEED(o + 2);
    size_t l = get16(buf + o) & 0x3FF;
    if (l < 2) return RMP_EJ_EBADLEN;
    NEED(o + l);
    o += l;
  }
  if (h.a) {
    for (unsigned i = 0; i <= h.totchan; i++) {
      NEED(o + 3);
      size_t l = (size_t)((buf[o] & 3) << 8 | buf[o + 1]);
      if (l < 3) return RMP_EJ_EBADLEN;
      NEED(o + l);
      o += l;
    }
  }
  return (int)o;
}

int rmp_ej_parse(const uint8_t *buf, size_t len, rmp_ej_hdr *hdr, rmp_ej_sys *sys,
                 rmp_ej_chan *scratch, rmp_ej_chan_fn on_chan, void *ud) {
  rmp_ej_hdr hl;
  rmp_ej_sys sl;
  if (!hdr) hdr = &hl;
  if (!sys) sys = &sl;
  int r = rmp_ej_hdr_decode(buf, len, hdr);
  if (r < 0) return r;
  size_t o = 3;
  sys->toc = 0;
  if (hdr->y) {
    r = rmp_ej_sys_decode(buf + o, len - o, sys);
    if (r < 0) return r;
    o += (size_t)r;
  }
  if (hdr->a) {
    for (unsigned i = 0; i <= hdr->totchan; i++) {
      if (!scratch) {
        NEED(o + 3);
        size_t l = (size_t)((buf[o] & 3) << 8 | buf[o + 1]);
        if (l < 3) return RMP_EJ_EBADLEN;
        NEED(o + l);
        o += l;
        continue;
      }
      r = rmp_ej_chan_decode(buf + o, len - o, scratch);
      if (r < 0) return r;
      o += (size_t)r;
      if (on_chan && on_chan(ud, scratch)) return RMP_EJ_EABORT;
    }
  }
  return (int)o;
}

const char *rmp_ej_strerror(int err) {
  if (err >= 0) return "ok";
  switch (err) {
  case RMP_EJ_ETRUNC: return "truncated";
  case RMP_EJ_EBADLEN: return "a LENGTH field disagrees with the content";
  case RMP_EJ_EINVAL: return "invalid field value";
  case RMP_EJ_ENOSPACE: return "no space";
  case RMP_EJ_EABORT: return "aborted";
  default: return "unknown error";
  }
}
