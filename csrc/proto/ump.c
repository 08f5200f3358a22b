/* Universal MIDI Packet helpers: see ump.h for what each part does and where
 * its facts come from. */
#include "ump.h"

#include <string.h>

/* Words per message type, MT 0..F (Windows MIDI Services
 * GetUmpLengthInMidiWordsFromMessageType; Zephyr UMP_NUM_WORDS). */
static const uint8_t ump_words[16] = {1, 1, 1, 2, 2, 4, 1, 1, 2, 2, 2, 3, 3, 4, 4, 4};

unsigned rmp_ump_words_for_type(unsigned mt) { return ump_words[mt & 0xF]; }

void rmp_ump_iter_init(rmp_ump_iter *it, const uint32_t *words, size_t n) {
  it->w = words;
  it->n = words ? n : 0;
  it->pos = 0;
}

int rmp_ump_next(rmp_ump_iter *it, const uint32_t **msg, unsigned *len) {
  if (it->pos >= it->n) return 0;
  unsigned k = rmp_ump_words(it->w[it->pos]);
  if (k > it->n - it->pos) {
    it->pos = it->n;
    return -1;
  }
  *msg = it->w + it->pos;
  *len = k;
  it->pos += k;
  return 1;
}

bool rmp_ump_whole(const uint32_t *words, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned k = rmp_ump_words(words[i]);
    if (k > n - i) return false;
    i += k;
  }
  return true;
}

void rmp_ump_load_be(const uint8_t *p, size_t nwords, uint32_t *out) {
  for (size_t i = 0; i < nwords; i++, p += 4)
    out[i] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void rmp_ump_store_be(const uint32_t *w, size_t nwords, uint8_t *out) {
  for (size_t i = 0; i < nwords; i++, out += 4) {
    out[0] = (uint8_t)(w[i] >> 24);
    out[1] = (uint8_t)(w[i] >> 16);
    out[2] = (uint8_t)(w[i] >> 8);
    out[3] = (uint8_t)w[i];
  }
}

/* ---- scaling ---- */

static uint32_t low_mask(unsigned bits) { return bits >= 32 ? 0xFFFFFFFFu : ((uint32_t)1 << bits) - 1; }

uint32_t rmp_ump_scale_up(uint32_t v, unsigned src_bits, unsigned dst_bits) {
  if (src_bits == 0 || dst_bits > 32 || src_bits >= dst_bits) return v;
  v &= low_mask(src_bits);
  unsigned shift = dst_bits - src_bits;
  uint32_t out = v << shift;
  if (v <= ((uint32_t)1 << (src_bits - 1))) return out; /* 0 .. center: a plain shift */
  /* Above the center the src_bits-1 low bits repeat downwards until the new
   * low bits are filled (the kernel's upscale_7_to_16bit: (r << 3) | (r >> 3)). */
  unsigned rbits = src_bits - 1;
  uint32_t r = v & low_mask(rbits);
  unsigned pos = shift;
  while (pos > 0) {
    if (pos >= rbits) {
      out |= r << (pos - rbits);
      pos -= rbits;
    } else {
      out |= r >> (rbits - pos);
      pos = 0;
    }
  }
  return out;
}

uint32_t rmp_ump_scale_down(uint32_t v, unsigned src_bits, unsigned dst_bits) {
  if (dst_bits == 0 || src_bits > 32 || dst_bits >= src_bits) return v;
  return (v & low_mask(src_bits)) >> (src_bits - dst_bits);
}

/* ---- MIDI 1.0 bytes -> UMP ---- */

void rmp_ump_from_midi1_init(rmp_ump_m1in *c, unsigned group) {
  memset(c, 0, sizeof *c);
  c->group = (uint8_t)(group & 0xF);
}

static uint32_t mt_word(const rmp_ump_m1in *c, unsigned mt) {
  return (uint32_t)mt << 28 | (uint32_t)c->group << 24;
}

/* The held SysEx bytes as one SysEx7 packet; `last`: the SysEx ends here. */
static int sysex_packet(rmp_ump_m1in *c, bool last, uint32_t *out) {
  unsigned st = last ? (c->sysex_started ? RMP_UMP_SX_END : RMP_UMP_SX_COMPLETE)
                     : (c->sysex_started ? RMP_UMP_SX_CONTINUE : RMP_UMP_SX_START);
  uint8_t b[6] = {0};
  memcpy(b, c->sx, c->sx_len);
  out[0] = mt_word(c, RMP_UMP_MT_DATA64) | (uint32_t)st << 20 | (uint32_t)c->sx_len << 16 |
           (uint32_t)b[0] << 8 | b[1];
  out[1] = (uint32_t)b[2] << 24 | (uint32_t)b[3] << 16 | (uint32_t)b[4] << 8 | b[5];
  c->sx_len = 0;
  c->sysex_started = !last;
  if (last) c->in_sysex = false;
  return 2;
}

int rmp_ump_from_midi1_byte(rmp_ump_m1in *c, uint8_t b, uint32_t out[4]) {
  if (b >= 0xF8) {
    /* Real time: at once, also inside a SysEx or a message; F9 and FD are
     * undefined and have no UMP form. */
    if (b == 0xF9 || b == 0xFD) {
      c->dropped++;
      return 0;
    }
    /* A full held SysEx packet goes first, so the real-time byte does not
     * jump ahead of more than the bytes of one packet. */
    int n = c->in_sysex && c->sx_len == 6 ? sysex_packet(c, false, out) : 0;
    out[n] = mt_word(c, RMP_UMP_MT_SYSTEM) | (uint32_t)b << 16;
    return n + 1;
  }
  if (b & 0x80) {
    int n = 0;
    if (c->in_sysex) {
      if (b == 0xF7) return sysex_packet(c, true, out);
      n = sysex_packet(c, true, out); /* any other status ends it */
    } else if (b == 0xF7) {
      c->dropped++;
      return 0;
    }
    c->have = 0;
    if (b < 0xF0) {
      c->status = b;
      c->need = (b & 0xE0) == 0xC0 ? 1 : 2; /* Cn, Dn: one data byte */
      return n;
    }
    c->status = 0; /* system common cancels running status */
    switch (b) {
    case 0xF0:
      c->in_sysex = true;
      c->sysex_started = false;
      c->sx_len = 0;
      break;
    case 0xF1: case 0xF3: c->status = b; c->need = 1; break;
    case 0xF2: c->status = b; c->need = 2; break;
    case 0xF6: out[n++] = mt_word(c, RMP_UMP_MT_SYSTEM) | 0xF6u << 16; break;
    default: c->dropped++; break; /* F4, F5 */
    }
    return n;
  }
  if (c->in_sysex) {
    int n = 0;
    if (c->sx_len == 6) n = sysex_packet(c, false, out);
    c->sx[c->sx_len++] = b;
    return n;
  }
  if (!c->status) {
    c->dropped++;
    return 0;
  }
  c->data[c->have++] = b;
  if (c->have < c->need) return 0;
  c->have = 0;
  uint32_t d1 = c->need == 2 ? c->data[1] : 0;
  if (c->status < 0xF0) {
    out[0] = mt_word(c, RMP_UMP_MT_MIDI1) | (uint32_t)c->status << 16 | (uint32_t)c->data[0] << 8 | d1;
  } else {
    out[0] = mt_word(c, RMP_UMP_MT_SYSTEM) | (uint32_t)c->status << 16 | (uint32_t)c->data[0] << 8 | d1;
    c->status = 0;
  }
  return 1;
}

size_t rmp_ump_from_midi1(rmp_ump_m1in *c, const uint8_t *bytes, size_t len,
                          uint32_t *out, size_t cap, size_t *consumed) {
  size_t n = 0, i = 0;
  for (; i < len; i++) {
    uint32_t w[4];
    /* A byte yields at most 3 words (the end of a SysEx, then F6). */
    if (cap - n < 3) {
      /* Try it on a copy: stop before a byte whose words would not fit. */
      rmp_ump_m1in save = *c;
      int k = rmp_ump_from_midi1_byte(c, bytes[i], w);
      if ((size_t)k > cap - n) {
        *c = save;
        break;
      }
      memcpy(out + n, w, (size_t)k * 4);
      n += (size_t)k;
      continue;
    }
    int k = rmp_ump_from_midi1_byte(c, bytes[i], w);
    memcpy(out + n, w, (size_t)k * 4);
    n += (size_t)k;
  }
  if (consumed) *consumed = i;
  return n;
}

/* ---- MIDI 2.0 <-> MIDI 1.0 channel voice ---- */

enum { UP_BANK = 1, UP_RPN = 2, UP_NRPN = 4, UP_RPN_LAST = 8 };

void rmp_ump_upgrade_init(rmp_ump_upgrade *u) { memset(u, 0, sizeof *u); }

static uint32_t m2_word0(unsigned group, unsigned status, unsigned ch, unsigned b2, unsigned b3) {
  return (uint32_t)RMP_UMP_MT_MIDI2 << 28 | (uint32_t)group << 24 | (uint32_t)status << 20 |
         (uint32_t)ch << 16 | (uint32_t)(b2 & 0xFF) << 8 | (b3 & 0xFF);
}

int rmp_ump_upgrade_msg(rmp_ump_upgrade *u, uint32_t w0, uint32_t out[2]) {
  if (rmp_ump_type(w0) != RMP_UMP_MT_MIDI1) return 0;
  unsigned g = rmp_ump_group(w0), st = (w0 >> 20) & 0xF, ch = (w0 >> 16) & 0xF;
  unsigned d1 = (w0 >> 8) & 0x7F, d2 = w0 & 0x7F;
  rmp_ump_upgrade_ch *c = &u->ch[g][ch];
  switch (st) {
  case 0x9:
    if (d2 == 0) st = 0x8; /* a MIDI 1.0 Note On with velocity 0 is a Note Off */
    /* fall through */
  case 0x8:
    out[0] = m2_word0(g, st, ch, d1, 0);
    out[1] = rmp_ump_scale_up(d2, 7, 16) << 16;
    return 2;
  case 0xA:
    out[0] = m2_word0(g, st, ch, d1, 0);
    out[1] = rmp_ump_scale_up(d2, 7, 32);
    return 2;
  case 0xB:
    switch (d1) {
    case 0: c->bank_msb = (uint8_t)d2; c->flags |= UP_BANK; return 0;
    case 32: c->bank_lsb = (uint8_t)d2; c->flags |= UP_BANK; return 0;
    case 101: c->rpn_msb = (uint8_t)d2; c->flags = (uint8_t)((c->flags | UP_RPN | UP_RPN_LAST)); return 0;
    case 100: c->rpn_lsb = (uint8_t)d2; c->flags = (uint8_t)((c->flags | UP_RPN | UP_RPN_LAST)); return 0;
    case 99: c->nrpn_msb = (uint8_t)d2; c->flags = (uint8_t)((c->flags | UP_NRPN) & ~UP_RPN_LAST); return 0;
    case 98: c->nrpn_lsb = (uint8_t)d2; c->flags = (uint8_t)((c->flags | UP_NRPN) & ~UP_RPN_LAST); return 0;
    case 6:
      if (c->flags & (UP_RPN | UP_NRPN)) {
        c->data_msb = (uint8_t)d2;
        return 0;
      }
      break;
    case 38:
      if (c->flags & (UP_RPN | UP_NRPN)) {
        bool rpn = (c->flags & UP_RPN_LAST) != 0;
        out[0] = m2_word0(g, rpn ? RMP_UMP_M2_RPN : RMP_UMP_M2_NRPN, ch,
                          rpn ? c->rpn_msb : c->nrpn_msb, rpn ? c->rpn_lsb : c->nrpn_lsb);
        out[1] = rmp_ump_scale_up((uint32_t)c->data_msb << 7 | d2, 14, 32);
        return 2;
      }
      break;
    default: break;
    }
    out[0] = m2_word0(g, st, ch, d1, 0);
    out[1] = rmp_ump_scale_up(d2, 7, 32);
    return 2;
  case 0xC:
    if (c->flags & UP_BANK) {
      out[0] = m2_word0(g, st, ch, 0, 1); /* Bank Valid: bit 0 of the option flags */
      out[1] = (uint32_t)d1 << 24 | (uint32_t)c->bank_msb << 8 | c->bank_lsb;
      c->flags &= (uint8_t)~UP_BANK;
    } else {
      out[0] = m2_word0(g, st, ch, 0, 0);
      out[1] = (uint32_t)d1 << 24;
    }
    return 2;
  case 0xD:
    out[0] = m2_word0(g, st, ch, 0, 0);
    out[1] = rmp_ump_scale_up(d1, 7, 32);
    return 2;
  case 0xE:
    out[0] = m2_word0(g, st, ch, 0, 0);
    out[1] = rmp_ump_scale_up(d2 << 7 | d1, 14, 32);
    return 2;
  default:
    return 0;
  }
}

static uint32_t m1_word(unsigned group, unsigned status, unsigned d1, unsigned d2) {
  return (uint32_t)RMP_UMP_MT_MIDI1 << 28 | (uint32_t)group << 24 | (uint32_t)(status & 0xFF) << 16 |
         (uint32_t)(d1 & 0x7F) << 8 | (d2 & 0x7F);
}

int rmp_ump_downgrade_msg(const uint32_t msg[2], uint32_t out[4]) {
  uint32_t w0 = msg[0], w1 = msg[1];
  if (rmp_ump_type(w0) != RMP_UMP_MT_MIDI2) return 0;
  unsigned g = rmp_ump_group(w0), st = (w0 >> 20) & 0xF, ch = (w0 >> 16) & 0xF;
  unsigned b2 = (w0 >> 8) & 0xFF, b3 = w0 & 0xFF;
  unsigned cc = 0xB0 | ch;
  uint32_t v;
  switch (st) {
  case RMP_UMP_M2_NOTE_OFF:
  case RMP_UMP_M2_NOTE_ON:
    v = rmp_ump_scale_down(w1 >> 16, 16, 7);
    if (st == RMP_UMP_M2_NOTE_ON && v == 0) v = 1; /* 0 would mean Note Off in MIDI 1.0 */
    out[0] = m1_word(g, st << 4 | ch, b2, v);
    return 1;
  case RMP_UMP_M2_POLY_PRESSURE:
    out[0] = m1_word(g, st << 4 | ch, b2, rmp_ump_scale_down(w1, 32, 7));
    return 1;
  case RMP_UMP_M2_CC:
    out[0] = m1_word(g, cc, b2, rmp_ump_scale_down(w1, 32, 7));
    return 1;
  case RMP_UMP_M2_PROGRAM:
    if (b3 & 1) {
      out[0] = m1_word(g, cc, 0, (w1 >> 8) & 0x7F);
      out[1] = m1_word(g, cc, 32, w1 & 0x7F);
      out[2] = m1_word(g, 0xC0 | ch, w1 >> 24, 0);
      return 3;
    }
    out[0] = m1_word(g, 0xC0 | ch, w1 >> 24, 0);
    return 1;
  case RMP_UMP_M2_CHANNEL_PRESSURE:
    out[0] = m1_word(g, 0xD0 | ch, rmp_ump_scale_down(w1, 32, 7), 0);
    return 1;
  case RMP_UMP_M2_PITCH_BEND:
    v = rmp_ump_scale_down(w1, 32, 14);
    out[0] = m1_word(g, 0xE0 | ch, v & 0x7F, v >> 7);
    return 1;
  case RMP_UMP_M2_RPN:
  case RMP_UMP_M2_NRPN:
    v = rmp_ump_scale_down(w1, 32, 14);
    out[0] = m1_word(g, cc, st == RMP_UMP_M2_RPN ? 101 : 99, b2);
    out[1] = m1_word(g, cc, st == RMP_UMP_M2_RPN ? 100 : 98, b3);
    out[2] = m1_word(g, cc, 6, v >> 7);
    out[3] = m1_word(g, cc, 38, v & 0x7F);
    return 4;
  default:
    return 0; /* per-note, relative and management messages: no MIDI 1.0 form */
  }
}

/* ---- UMP -> MIDI 1.0 bytes ---- */

static int put_bytes(uint8_t *out, size_t cap, const uint8_t *b, size_t n) {
  if (n > cap) return -1;
  memcpy(out, b, n);
  return (int)n;
}

/* MT 1 / MT 2 word -> bytes (b[0..3)). Returns the count, 0 if invalid. */
static int word_to_bytes(uint32_t w, uint8_t b[3]) {
  unsigned mt = rmp_ump_type(w), s = (w >> 16) & 0xFF;
  b[0] = (uint8_t)s;
  b[1] = (uint8_t)((w >> 8) & 0x7F);
  b[2] = (uint8_t)(w & 0x7F);
  if (mt == RMP_UMP_MT_MIDI1) {
    if (s < 0x80 || s >= 0xF0) return 0;
    return (s & 0xE0) == 0xC0 ? 2 : 3;
  }
  switch (s) {
  case 0xF1: case 0xF3: return 2;
  case 0xF2: return 3;
  case 0xF6: case 0xF8: case 0xFA: case 0xFB: case 0xFC: case 0xFE: case 0xFF: return 1;
  default: return 0;
  }
}

int rmp_ump_to_midi1(const uint32_t *msg, unsigned len, uint8_t *out, size_t cap) {
  if (!msg || len == 0 || len < rmp_ump_words(msg[0])) return 0;
  uint32_t w0 = msg[0];
  uint8_t b[RMP_UMP_MIDI1_MAX];
  switch (rmp_ump_type(w0)) {
  case RMP_UMP_MT_SYSTEM:
  case RMP_UMP_MT_MIDI1: {
    int n = word_to_bytes(w0, b);
    return n ? put_bytes(out, cap, b, (size_t)n) : 0;
  }
  case RMP_UMP_MT_DATA64: {
    unsigned st = (w0 >> 20) & 0xF, k = (w0 >> 16) & 0xF;
    if (st > RMP_UMP_SX_END || k > 6) return 0;
    size_t n = 0;
    if (st == RMP_UMP_SX_COMPLETE || st == RMP_UMP_SX_START) b[n++] = 0xF0;
    uint8_t d[6] = {(uint8_t)(w0 >> 8), (uint8_t)w0, (uint8_t)(msg[1] >> 24), (uint8_t)(msg[1] >> 16),
                    (uint8_t)(msg[1] >> 8), (uint8_t)msg[1]};
    for (unsigned i = 0; i < k; i++) b[n++] = d[i] & 0x7F;
    if (st == RMP_UMP_SX_COMPLETE || st == RMP_UMP_SX_END) b[n++] = 0xF7;
    return put_bytes(out, cap, b, n);
  }
  case RMP_UMP_MT_MIDI2: {
    uint32_t w[4];
    int k = rmp_ump_downgrade_msg(msg, w);
    size_t n = 0;
    for (int i = 0; i < k; i++) n += (size_t)word_to_bytes(w[i], b + n);
    return put_bytes(out, cap, b, n);
  }
  default:
    return 0;
  }
}

/* ---- UMP Stream ---- */

static uint32_t st_word0(unsigned form, unsigned status, unsigned data16) {
  return (uint32_t)RMP_UMP_MT_STREAM << 28 | (uint32_t)(form & 3) << 26 | (uint32_t)(status & 0x3FF) << 16 |
         (data16 & 0xFFFF);
}

/* Text messages: `first` octets of word 0 before the text (2: name and
 * product instance id; 3: function block name, whose byte 2 is the block). */
static int put_text(uint32_t *out, size_t cap, unsigned status, unsigned lead, unsigned first,
                    const char *text, size_t max) {
  size_t len = text ? strlen(text) : 0;
  if (len > max) len = max;
  size_t per = 16 - first, n = 0, i = 0;
  if (len == 0) return 0;
  while (i < len) {
    if (cap - n < 4) return -1;
    size_t take = len - i < per ? len - i : per;
    unsigned form = i == 0 ? (take == len ? 0 : 1) : (i + take == len ? 3 : 2);
    uint8_t b[16] = {0};
    b[0] = (uint8_t)(RMP_UMP_MT_STREAM << 4 | form << 2 | (status >> 8));
    b[1] = (uint8_t)status;
    if (first == 3) b[2] = (uint8_t)lead;
    memcpy(b + first, text + i, take);
    rmp_ump_load_be(b, 4, out + n);
    n += 4;
    i += take;
  }
  return (int)n;
}

static int put4(uint32_t *out, size_t cap, size_t *n, uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
  if (cap - *n < 4) return -1;
  out[*n] = a;
  out[*n + 1] = b;
  out[*n + 2] = c;
  out[*n + 3] = d;
  *n += 4;
  return 0;
}

static int add_text(uint32_t *out, size_t cap, size_t *n, unsigned status, unsigned lead, unsigned first,
                    const char *text, size_t max) {
  int k = put_text(out + *n, cap - *n, status, lead, first, text, max);
  if (k < 0) return -1;
  *n += (size_t)k;
  return 0;
}

int rmp_ump_stream_answer(const rmp_ump_endpoint *ep, const uint32_t *msg, unsigned len,
                          uint32_t *out, size_t cap) {
  if (!ep || !msg || len < 4 || rmp_ump_type(msg[0]) != RMP_UMP_MT_STREAM) return 0;
  unsigned status = (msg[0] >> 16) & 0x3FF;
  unsigned proto = ep->protocol == 1 ? 1 : 2;
  size_t n = 0;
  int rc = 0;
  if (status == RMP_UMP_ST_EP_DISCOVERY) {
    unsigned filter = msg[1] & 0xFF;
    if (filter & 0x01) /* Endpoint Info: UMP 1.1; static, 1 block; M2 (bit 9) and M1 (bit 8) */
      rc |= put4(out, cap, &n, st_word0(0, RMP_UMP_ST_EP_INFO, 0x0101),
                 1u << 31 | 1u << 24 | 1u << 9 | 1u << 8, 0, 0);
    if (filter & 0x04) rc |= add_text(out, cap, &n, RMP_UMP_ST_EP_NAME, 0, 2, ep->name, RMP_UMP_NAME_MAX);
    if (filter & 0x08) rc |= add_text(out, cap, &n, RMP_UMP_ST_PIID, 0, 2, ep->piid, RMP_UMP_PIID_MAX);
    if (filter & 0x10) rc |= put4(out, cap, &n, st_word0(0, RMP_UMP_ST_CONFIG_NOTIFY, proto << 8), 0, 0, 0);
  } else if (status == RMP_UMP_ST_FB_DISCOVERY) {
    unsigned block = (msg[0] >> 8) & 0xFF, filter = msg[0] & 0xFF;
    if (block != 0 && block != 0xFF) return 0;
    if (filter & 0x01) /* active (bit 15), block 0, UI hint both (5..4), both directions (1..0) */
      rc |= put4(out, cap, &n, st_word0(0, RMP_UMP_ST_FB_INFO, 1u << 15 | 3u << 4 | 3u),
                 0u << 24 | 16u << 16, 0, 0); /* first group 0, 16 groups, no MIDI-CI */
    if (filter & 0x02) rc |= add_text(out, cap, &n, RMP_UMP_ST_FB_NAME, 0, 3, ep->name, 91);
  } else if (status == RMP_UMP_ST_CONFIG_REQUEST) {
    unsigned want = (msg[0] >> 8) & 0xFF;
    if (want == 1 || want == 2) proto = want;
    rc |= put4(out, cap, &n, st_word0(0, RMP_UMP_ST_CONFIG_NOTIFY, proto << 8), 0, 0, 0);
  } else {
    return 0;
  }
  return rc ? -1 : (int)n;
}

int rmp_ump_stream_text(const uint32_t msg[4], char *buf, size_t cap, size_t *len) {
  if (rmp_ump_type(msg[0]) != RMP_UMP_MT_STREAM || cap == 0) return -1;
  unsigned status = (msg[0] >> 16) & 0x3FF, form = (msg[0] >> 26) & 3;
  unsigned first;
  if (status == RMP_UMP_ST_EP_NAME || status == RMP_UMP_ST_PIID) first = 2;
  else if (status == RMP_UMP_ST_FB_NAME) first = 3;
  else return -1;
  uint8_t b[16];
  rmp_ump_store_be(msg, 4, b);
  if (form == 0 || form == 1 || *len >= cap) *len = 0;
  for (unsigned i = first; i < 16; i++)
    if (b[i] && *len + 1 < cap) buf[(*len)++] = (char)b[i];
  buf[*len] = 0;
  return form == 0 || form == 3;
}
