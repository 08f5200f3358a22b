/* Unit tests for the RTP MIDI command section (RFC 6295 section 3).
 * Expected packet bytes are written out by hand from the RFC layout:
 *   header |B|J|Z|P|LEN| (B=1: 12-bit LEN over two octets), then
 *   [delta if Z] cmd, delta, cmd, ...; delta = 7-bit groups, MSB = more.
 * The last test is a seeded round trip (raw MIDI -> parser -> encoder ->
 * decoder); pass a seed as argv[1] to reproduce a failure. */
#include "midi_cmd.h"
#include "midi_msg.h"
#include "check.h"

#include <stdlib.h>

/* ---------- helpers ---------- */

typedef struct {
  uint8_t bytes[8192];
  size_t nbytes;
  int lens[512];       /* message length, or the non-fatal error */
  uint32_t times[512];
  uint32_t deltas[512];
  int n;
  int rc;              /* final iter_next result: 0 or fatal error */
  int init_rc;
  rmp_cmd_header hdr;
} dec_out;

static void decode(rmp_cmd_decoder *d, const uint8_t *buf, size_t len, dec_out *o) {
  memset(o, 0, sizeof *o);
  /* copy to an exact-size heap block so ASan sees any read past len */
  uint8_t *copy = malloc(len ? len : 1);
  if (len) memcpy(copy, buf, len);
  rmp_cmd_iter it;
  o->init_rc = rmp_cmd_iter_init(&it, d, copy, len);
  o->hdr = it.hdr;
  if (o->init_rc < 0) { o->rc = o->init_rc; free(copy); return; }
  rmp_cmd_event ev;
  int rc;
  while ((rc = rmp_cmd_iter_next(&it, &ev)) == 1) {
    if (o->n >= 512) break;
    if (ev.error) {
      o->lens[o->n] = ev.error;
    } else {
      CHECK(ev.len > 0 && o->nbytes + ev.len <= sizeof o->bytes);
      memcpy(o->bytes + o->nbytes, ev.data, ev.len);
      o->nbytes += ev.len;
      o->lens[o->n] = (int)ev.len;
      CHECK_INT(ev.kind, rmp_midi_kind_of(ev.data[0]));
    }
    o->times[o->n] = ev.time;
    o->deltas[o->n] = ev.delta;
    o->n++;
  }
  o->rc = rc;
  CHECK_INT(rmp_cmd_iter_next(&it, &ev), rc); /* end/error is sticky */
  free(copy);
}

static int encode(rmp_cmd_encoder *e, const rmp_cmd_msg *m, size_t n, bool j, size_t budget,
                  uint8_t *out, size_t cap, rmp_cmd_enc_info *info) {
  rmp_cmd_enc_info tmp;
  return rmp_cmd_encode(e, m, n, j, budget, out, cap, info ? info : &tmp);
}

#define M(d, ...) { (d), (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}) }

/* ---------- header and delta times ---------- */

static void test_header(void) {
  rmp_cmd_header h;
  static const uint8_t empty[] = {0x00};              /* B0 J0 Z0 P0 LEN 0 */
  CHECK_INT(rmp_cmd_header_parse(empty, 1, &h), 1);
  CHECK(!h.b && !h.j && !h.z && !h.p && h.len == 0 && h.hdr_len == 1);
  static const uint8_t j3[] = {0x43, 0x90, 0x3C, 0x40, 0xAA}; /* J1 LEN 3, then journal byte */
  CHECK_INT(rmp_cmd_header_parse(j3, sizeof j3, &h), 4);
  CHECK(!h.b && h.j && !h.z && !h.p && h.len == 3);
  static const uint8_t zp[] = {0x30};                 /* Z1 P1 LEN 0 */
  CHECK_INT(rmp_cmd_header_parse(zp, 1, &h), 1);
  CHECK(h.z && h.p && !h.j);
  static const uint8_t b0[] = {0x80, 0x00};           /* B1 LEN 0 (12-bit) */
  CHECK_INT(rmp_cmd_header_parse(b0, 2, &h), 2);
  CHECK(h.b && h.len == 0 && h.hdr_len == 2);
  uint8_t big[2 + 0x102];
  memset(big, 0xF8, sizeof big);
  big[0] = 0x81; big[1] = 0x02;                       /* B1 LEN 0x102 = 258 */
  CHECK_INT(rmp_cmd_header_parse(big, sizeof big, &h), 260);
  CHECK_INT(h.len, 258);
  CHECK_INT(rmp_cmd_header_parse(big, sizeof big - 1, &h), RMP_E_LEN_PAST_END);
  static const uint8_t b12[] = {0x8F, 0xFF};          /* LEN 4095, no list */
  CHECK_INT(rmp_cmd_header_parse(b12, 2, &h), RMP_E_LEN_PAST_END);
  CHECK_INT(h.len, 4095);
  static const uint8_t past[] = {0x05, 0x90, 0x3C};   /* LEN 5, only 2 octets */
  CHECK_INT(rmp_cmd_header_parse(past, sizeof past, &h), RMP_E_LEN_PAST_END);
  CHECK_INT(rmp_cmd_header_parse(empty, 0, &h), RMP_E_SHORT_HEADER);
  CHECK_INT(rmp_cmd_header_parse(b0, 1, &h), RMP_E_SHORT_HEADER);
  CHECK_INT(rmp_cmd_header_parse(NULL, 1, &h), RMP_E_ARG);
}

static void test_delta(void) {
  uint8_t b[4];
  uint32_t d;
  /* RFC 6295 delta time: 0ddddddd | 1ccccccc 0ddddddd | ... up to 4 octets */
  static const struct { uint32_t v; uint8_t n; uint8_t enc[4]; } tab[] = {
      {0x00, 1, {0x00}},
      {0x7F, 1, {0x7F}},
      {0x80, 2, {0x81, 0x00}},
      {0x3FFF, 2, {0xFF, 0x7F}},
      {0x4000, 3, {0x81, 0x80, 0x00}},
      {0x1FFFFF, 3, {0xFF, 0xFF, 0x7F}},
      {0x200000, 4, {0x81, 0x80, 0x80, 0x00}},
      {0x0FFFFFFF, 4, {0xFF, 0xFF, 0xFF, 0x7F}},
      {1000, 2, {0x87, 0x68}},          /* 1000 = 7*128 + 104 */
  };
  for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
    CHECK_INT(rmp_delta_size(tab[i].v), tab[i].n);
    CHECK_INT(rmp_delta_encode(tab[i].v, b), tab[i].n);
    CHECK_MEM(b, tab[i].n, tab[i].enc, tab[i].n);
    CHECK_INT(rmp_delta_decode(tab[i].enc, tab[i].n, &d), tab[i].n);
    CHECK_INT(d, tab[i].v);
    CHECK_INT(rmp_delta_decode(tab[i].enc, tab[i].n - 1u, &d), RMP_E_TRUNCATED);
  }
  CHECK_INT(rmp_delta_size(0x10000000), RMP_E_DELTA_RANGE);
  CHECK_INT(rmp_delta_encode(0xFFFFFFFF, b), RMP_E_DELTA_RANGE);
  static const uint8_t five[] = {0x81, 0x81, 0x81, 0x81, 0x00};
  CHECK_INT(rmp_delta_decode(five, 5, &d), RMP_E_DELTA_TOO_LONG);
}

/* ---------- encoder, hand-computed packets ---------- */

static void test_encode_basic(void) {
  rmp_cmd_encoder e;
  uint8_t out[4200];
  rmp_cmd_enc_info info;
  rmp_cmd_encoder_init(&e);

  { /* one note on, delta 0: Z=0, LEN=3 */
    rmp_cmd_msg m[] = {M(0, 0x90, 0x3C, 0x64)};
    static const uint8_t want[] = {0x03, 0x90, 0x3C, 0x64};
    int n = encode(&e, m, 1, false, 0, out, sizeof out, &info);
    CHECK_MEM(out, n, want, sizeof want);
    CHECK_INT(info.nmsgs, 1);
    CHECK_INT(info.ticks, 0);
    CHECK(!info.sysex_partial);
  }
  { /* J bit */
    rmp_cmd_msg m[] = {M(0, 0x90, 0x3C, 0x64)};
    static const uint8_t want[] = {0x43, 0x90, 0x3C, 0x64}; /* 0 1 0 0 | 0011 */
    int n = encode(&e, m, 1, true, 0, out, sizeof out, NULL);
    CHECK_MEM(out, n, want, sizeof want);
  }
  { /* first delta 5: Z=1, delta 05 precedes the command, LEN=4 */
    rmp_cmd_msg m[] = {M(5, 0x90, 0x3C, 0x64)};
    static const uint8_t want[] = {0x24, 0x05, 0x90, 0x3C, 0x64};
    int n = encode(&e, m, 1, false, 0, out, sizeof out, &info);
    CHECK_MEM(out, n, want, sizeof want);
    CHECK_INT(info.ticks, 5);
  }
  { /* first delta 0x4000: 3-octet delta 81 80 00 */
    rmp_cmd_msg m[] = {M(0x4000, 0xF8)};
    static const uint8_t want[] = {0x24, 0x81, 0x80, 0x00, 0xF8};
    int n = encode(&e, m, 1, false, 0, out, sizeof out, NULL);
    CHECK_MEM(out, n, want, sizeof want);
  }
  { /* running status on output; note off keeps its own status */
    rmp_cmd_msg m[] = {M(0, 0x90, 0x3C, 0x64), M(0, 0x90, 0x3E, 0x64), M(10, 0x80, 0x3C, 0x00),
                       M(1, 0x80, 0x3E, 0x00)};
    static const uint8_t want[] = {0x0D,              /* LEN 13 */
                                   0x90, 0x3C, 0x64,  /* note on */
                                   0x00, 0x3E, 0x64,  /* delta 0, running status */
                                   0x0A, 0x80, 0x3C, 0x00, /* delta 10, note off */
                                   0x01, 0x3E, 0x00}; /* delta 1, running status */
    int n = encode(&e, m, 4, false, 0, out, sizeof out, &info);
    CHECK_MEM(out, n, want, sizeof want);
    CHECK_INT(info.ticks, 11);
  }
  { /* real-time does not cancel running status */
    rmp_cmd_msg m[] = {M(0, 0x90, 0x3C, 0x64), M(0, 0xF8), M(0, 0x90, 0x3E, 0x64)};
    static const uint8_t want[] = {0x08, 0x90, 0x3C, 0x64, 0x00, 0xF8, 0x00, 0x3E, 0x64};
    int n = encode(&e, m, 3, false, 0, out, sizeof out, NULL);
    CHECK_MEM(out, n, want, sizeof want);
  }
  { /* system common cancels running status */
    rmp_cmd_msg m[] = {M(0, 0x90, 0x3C, 0x64), M(0, 0xF6), M(0, 0x90, 0x3E, 0x64)};
    static const uint8_t want[] = {0x09, 0x90, 0x3C, 0x64, 0x00, 0xF6, 0x00, 0x90, 0x3E, 0x64};
    int n = encode(&e, m, 3, false, 0, out, sizeof out, NULL);
    CHECK_MEM(out, n, want, sizeof want);
  }
  { /* SysEx cancels running status */
    rmp_cmd_msg m[] = {M(0, 0xB0, 0x07, 0x64), M(0, 0xF0, 0x01, 0xF7), M(0, 0xB0, 0x07, 0x65)};
    static const uint8_t want[] = {0x0B, 0xB0, 0x07, 0x64, 0x00, 0xF0, 0x01, 0xF7,
                                   0x00, 0xB0, 0x07, 0x65};
    int n = encode(&e, m, 3, false, 0, out, sizeof out, NULL);
    CHECK_MEM(out, n, want, sizeof want);
  }
  { /* exactly 15 octets: still the short header */
    rmp_cmd_msg m[] = {M(0, 0x90, 0x01, 0x02), M(0, 0x91, 0x01, 0x02), M(0, 0x92, 0x01, 0x02),
                       M(0, 0x93, 0x01, 0x02)};
    static const uint8_t want[] = {0x0F, 0x90, 0x01, 0x02, 0x00, 0x91, 0x01, 0x02,
                                   0x00, 0x92, 0x01, 0x02, 0x00, 0x93, 0x01, 0x02};
    int n = encode(&e, m, 4, false, 0, out, sizeof out, NULL);
    CHECK_MEM(out, n, want, sizeof want);
  }
  { /* 16+ octets: long header B=1 (19 = 0x13) */
    rmp_cmd_msg m[] = {M(0, 0x90, 0x3C, 0x64), M(0, 0x91, 0x3C, 0x64), M(0, 0x92, 0x3C, 0x64),
                       M(0, 0x93, 0x3C, 0x64), M(0, 0x94, 0x3C, 0x64)};
    static const uint8_t want[] = {0x80, 0x13, 0x90, 0x3C, 0x64, 0x00, 0x91, 0x3C, 0x64,
                                   0x00, 0x92, 0x3C, 0x64, 0x00, 0x93, 0x3C, 0x64,
                                   0x00, 0x94, 0x3C, 0x64};
    int n = encode(&e, m, 5, true, 0, out, sizeof out, NULL);
    CHECK_MEM(out + 2, n - 2, want + 2, sizeof want - 2);
    CHECK_INT(n, sizeof want);
    CHECK_INT(out[0], 0xC0);  /* B1 J1 Z0 P0, LEN high nibble 0 */
    CHECK_INT(out[1], 0x13);
  }
  { /* empty */
    static const uint8_t want[] = {0x40};
    int n = encode(&e, NULL, 0, true, 0, out, sizeof out, &info);
    CHECK_MEM(out, n, want, sizeof want);
    CHECK_INT(info.nmsgs, 0);
  }
}

/* Every command family, deltas of 1-4 octets, running status. Used by both
 * the encoder and decoder tests. */
static const rmp_cmd_msg families[] = {
    M(0, 0x80, 0x3C, 0x40),                 /* note off */
    M(1, 0xA0, 0x3C, 0x10),                 /* poly pressure */
    M(0x7F, 0xB0, 0x07, 0x64),              /* control change */
    M(0x80, 0xC0, 0x05),                    /* program change */
    M(0x3FFF, 0xD0, 0x20),                  /* channel pressure */
    M(0x4000, 0xE0, 0x00, 0x40),            /* pitch bend */
    M(0x1FFFFF, 0xF1, 0x23),                /* MTC quarter frame */
    M(0x200000, 0xF2, 0x10, 0x20),          /* song position */
    M(0x0FFFFFFF, 0xF3, 0x05),              /* song select */
    M(2, 0xF6),                             /* tune request */
    M(0, 0xF8), M(0, 0xFA), M(0, 0xFB), M(0, 0xFC), M(0, 0xFE), M(0, 0xFF), /* real-time */
    M(3, 0xF0, 0x7E, 0x7F, 0x09, 0x01, 0xF7), /* SysEx (GM system on) */
    M(0, 0x90, 0x3C, 0x64),                 /* note on */
    M(0, 0x90, 0x3E, 0x64),                 /* note on, running status */
    M(0, 0xF8),                             /* clock */
    M(0, 0x90, 0x40, 0x64),                 /* note on, running status kept over clock */
};
#define NFAM (sizeof families / sizeof families[0])

static const uint8_t families_pkt[] = {
    0x80, 0x4C,                    /* B1 J0 Z0 P0, LEN = 76 */
    0x80, 0x3C, 0x40,              /* (no delta: Z=0) note off */
    0x01, 0xA0, 0x3C, 0x10,        /* delta 1, poly pressure */
    0x7F, 0xB0, 0x07, 0x64,        /* delta 127, CC */
    0x81, 0x00, 0xC0, 0x05,        /* delta 128, program */
    0xFF, 0x7F, 0xD0, 0x20,        /* delta 16383, channel pressure */
    0x81, 0x80, 0x00, 0xE0, 0x00, 0x40, /* delta 16384, pitch bend */
    0xFF, 0xFF, 0x7F, 0xF1, 0x23,  /* delta 2097151, MTC QF */
    0x81, 0x80, 0x80, 0x00, 0xF2, 0x10, 0x20, /* delta 2097152, song position */
    0xFF, 0xFF, 0xFF, 0x7F, 0xF3, 0x05, /* delta 268435455, song select */
    0x02, 0xF6,                    /* delta 2, tune request */
    0x00, 0xF8, 0x00, 0xFA, 0x00, 0xFB, 0x00, 0xFC, 0x00, 0xFE, 0x00, 0xFF,
    0x03, 0xF0, 0x7E, 0x7F, 0x09, 0x01, 0xF7, /* delta 3, SysEx */
    0x00, 0x90, 0x3C, 0x64,        /* note on (status: SysEx cancelled running status) */
    0x00, 0x3E, 0x64,              /* running status */
    0x00, 0xF8,
    0x00, 0x40, 0x64,              /* running status across real-time */
};

static void test_families(void) {
  rmp_cmd_encoder e;
  rmp_cmd_encoder_init(&e);
  uint8_t out[200];
  rmp_cmd_enc_info info;
  int n = encode(&e, families, NFAM, false, 0, out, sizeof out, &info);
  CHECK_MEM(out, n, families_pkt, sizeof families_pkt);
  CHECK_INT(info.nmsgs, NFAM);
  CHECK_INT(info.list_len, 76);
  /* 1+127+128+16383+16384+2097151+2097152+268435455+2+3 */
  CHECK_INT(info.ticks, 272662786u);

  rmp_cmd_decoder d;
  uint8_t sx[64];
  rmp_cmd_decoder_init(&d, sx, sizeof sx);
  dec_out o;
  decode(&d, families_pkt, sizeof families_pkt, &o);
  CHECK_INT(o.init_rc, sizeof families_pkt);
  CHECK_INT(o.rc, 0);
  CHECK_INT(o.n, NFAM);
  size_t off = 0;
  uint32_t t = 0;
  for (size_t i = 0; i < NFAM && (int)i < o.n; i++) {
    t += families[i].delta;
    CHECK_INT(o.lens[i], families[i].len);
    CHECK_MEM(o.bytes + off, families[i].len, families[i].data, families[i].len);
    CHECK_INT(o.times[i], t);
    CHECK_INT(o.deltas[i], families[i].delta);
    off += families[i].len;
  }
  CHECK_INT(o.times[8], 272662781u); /* song select */
}

static void test_encode_errors(void) {
  rmp_cmd_encoder e;
  rmp_cmd_encoder_init(&e);
  uint8_t out[64];
  rmp_cmd_enc_info info;
  rmp_cmd_msg bad0[] = {M(0, 0x3C, 0x64)};
  CHECK_INT(encode(&e, bad0, 1, false, 0, out, sizeof out, &info), RMP_E_NO_STATUS);
  rmp_cmd_msg bad1[] = {M(0, 0x90, 0x3C)};
  CHECK_INT(encode(&e, bad1, 1, false, 0, out, sizeof out, &info), RMP_E_TRUNCATED);
  rmp_cmd_msg bad2[] = {M(0, 0xF0, 0x01, 0xF8, 0xF7)};
  CHECK_INT(encode(&e, bad2, 1, false, 0, out, sizeof out, &info), RMP_E_STATUS_IN_DATA);
  rmp_cmd_msg bad3[] = {M(0x10000000, 0xF8)};
  CHECK_INT(encode(&e, bad3, 1, false, 0, out, sizeof out, &info), RMP_E_DELTA_RANGE);
  rmp_cmd_msg bad4[] = {M(0, 0xF7)};
  CHECK_INT(encode(&e, bad4, 1, false, 0, out, sizeof out, &info), RMP_E_STRAY_EOX);
  rmp_cmd_msg bad5[] = {{0, NULL, 3}};
  CHECK_INT(encode(&e, bad5, 1, false, 0, out, sizeof out, &info), RMP_E_BAD_MSG);
  /* a bad message after good ones ends the section before it */
  rmp_cmd_msg mixed[] = {M(0, 0xF8), M(0, 0x90, 0x3C)};
  static const uint8_t want[] = {0x01, 0xF8};
  int n = encode(&e, mixed, 2, false, 0, out, sizeof out, &info);
  CHECK_MEM(out, n, want, sizeof want);
  CHECK_INT(info.nmsgs, 1);
  CHECK_INT(encode(&e, mixed + 1, 1, false, 0, out, sizeof out, &info), RMP_E_TRUNCATED);
  /* budget too small */
  rmp_cmd_msg ok[] = {M(0, 0xF8)};
  CHECK_INT(encode(&e, ok, 1, false, 15, out, sizeof out, &info), RMP_E_NO_SPACE);
  CHECK_INT(encode(&e, ok, 1, false, 0, out, 15, &info), RMP_E_NO_SPACE);
  CHECK_INT(rmp_cmd_encode(NULL, ok, 1, false, 0, out, sizeof out, &info), RMP_E_ARG);
  CHECK_INT(rmp_cmd_encode(&e, NULL, 1, false, 0, out, sizeof out, &info), RMP_E_ARG);
  /* budget: messages that do not fit wait for the next packet */
  rmp_cmd_msg notes[] = {M(0, 0x90, 0x01, 0x02), M(1, 0x91, 0x01, 0x02), M(2, 0x92, 0x01, 0x02),
                         M(3, 0x93, 0x01, 0x02), M(4, 0x94, 0x01, 0x02)};
  n = encode(&e, notes, 5, false, 16, out, sizeof out, &info);
  /* room = 16 - 2 = 14: 3 + 4 + 4 = 11, a 4th would be 15 */
  static const uint8_t want16[] = {0x0B, 0x90, 0x01, 0x02, 0x01, 0x91, 0x01, 0x02,
                                   0x02, 0x92, 0x01, 0x02};
  CHECK_MEM(out, n, want16, sizeof want16);
  CHECK_INT(info.nmsgs, 3);
  CHECK_INT(info.ticks, 3);
  n = encode(&e, notes + 3, 2, false, 16, out, sizeof out, &info);
  static const uint8_t want16b[] = {0x28, 0x03, 0x93, 0x01, 0x02, 0x04, 0x94, 0x01, 0x02};
  CHECK_MEM(out, n, want16b, sizeof want16b); /* Z=1 LEN 8 */
  CHECK_INT(info.nmsgs, 2);
}

/* ---------- SysEx segmentation ---------- */

static void test_sysex_segments(void) {
  rmp_cmd_encoder e;
  rmp_cmd_encoder_init(&e);
  uint8_t out[64];
  rmp_cmd_enc_info info;
  /* F0, 30 data bytes 01..1E, F7 = 32 octets, delta 3, budget 16 (list room 14) */
  uint8_t sx[32];
  sx[0] = 0xF0;
  for (int i = 1; i <= 30; i++) sx[i] = (uint8_t)i;
  sx[31] = 0xF7;
  rmp_cmd_msg m[] = {{3, sx, sizeof sx}, M(0, 0xF8)};

  /* first segment: delta 03, F0, 11 data (14 - 1 - 2), F0 */
  static const uint8_t p1[] = {0x2E, 0x03, 0xF0, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
                               0x07, 0x08, 0x09, 0x0A, 0x0B, 0xF0};
  int n = encode(&e, m, 2, false, 16, out, sizeof out, &info);
  CHECK_MEM(out, n, p1, sizeof p1);
  CHECK_INT(info.nmsgs, 0);
  CHECK(info.sysex_partial);
  CHECK_INT(info.ticks, 3);
  /* middle segment: no delta (Z=0), F7, 12 data, F0 */
  static const uint8_t p2[] = {0x0E, 0xF7, 0x0C, 0x0D, 0x0E, 0x0F, 0x10, 0x11, 0x12,
                               0x13, 0x14, 0x15, 0x16, 0x17, 0xF0};
  n = encode(&e, m, 2, false, 16, out, sizeof out, &info);
  CHECK_MEM(out, n, p2, sizeof p2);
  CHECK_INT(info.nmsgs, 0);
  CHECK(info.sysex_partial);
  CHECK_INT(info.ticks, 0);
  /* last segment F7 18..1E F7, then the clock */
  static const uint8_t p3[] = {0x0B, 0xF7, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0xF7,
                               0x00, 0xF8};
  n = encode(&e, m, 2, false, 16, out, sizeof out, &info);
  CHECK_MEM(out, n, p3, sizeof p3);
  CHECK_INT(info.nmsgs, 2);
  CHECK(!info.sysex_partial);

  /* continuing with a different message is refused */
  rmp_cmd_encoder_init(&e);
  encode(&e, m, 2, false, 16, out, sizeof out, &info);
  rmp_cmd_msg other[] = {M(0, 0xF0, 0x01, 0xF7)};
  CHECK_INT(encode(&e, other, 1, false, 16, out, sizeof out, &info), RMP_E_SYSEX_MISMATCH);

  /* decode the three packets: one SysEx, then the clock */
  rmp_cmd_decoder d;
  uint8_t buf[64];
  rmp_cmd_decoder_init(&d, buf, sizeof buf);
  dec_out o;
  decode(&d, p1, sizeof p1, &o);
  CHECK_INT(o.rc, 0);
  CHECK_INT(o.n, 0);
  decode(&d, p2, sizeof p2, &o);
  CHECK_INT(o.n, 0);
  decode(&d, p3, sizeof p3, &o);
  CHECK_INT(o.n, 2);
  CHECK_MEM(o.bytes, o.nbytes - 1, sx, sizeof sx);
  CHECK_INT(o.bytes[32], 0xF8);

  /* a note then a SysEx too big for the rest: if >= 32 data bytes fit the
   * SysEx starts in the same packet, else in the next one */
  uint8_t big[202];
  big[0] = 0xF0;
  memset(big + 1, 0x55, 200);
  big[201] = 0xF7;
  rmp_cmd_msg m2[] = {M(0, 0x90, 0x3C, 0x64), {0, big, sizeof big}};
  uint8_t out2[300];
  rmp_cmd_encoder_init(&e);
  n = encode(&e, m2, 2, false, 64, out2, sizeof out2, &info);
  /* room 62: note 3, delta 1 + F0 + 56 data + F0 = 59 -> 62 octets */
  CHECK_INT(n, 64);
  CHECK_INT(info.nmsgs, 1);
  CHECK(info.sysex_partial);
  CHECK_INT(out2[0], 0x80);
  CHECK_INT(out2[1], 62);
  CHECK_INT(out2[5], 0x00);
  CHECK_INT(out2[6], 0xF0);
  CHECK_INT(out2[63], 0xF0);
  rmp_cmd_encoder_init(&e);
  n = encode(&e, m2, 2, false, 40, out2, sizeof out2, &info);
  /* room 38: 3 + 1 + 2 leaves 32 data bytes: still starts here */
  CHECK_INT(info.nmsgs, 1);
  CHECK(info.sysex_partial);
  rmp_cmd_encoder_init(&e);
  n = encode(&e, m2, 2, false, 39, out2, sizeof out2, &info);
  /* room 37: only 31 data bytes would fit: SysEx waits for the next packet */
  static const uint8_t want39[] = {0x03, 0x90, 0x3C, 0x64};
  CHECK_MEM(out2, n, want39, sizeof want39);
  CHECK_INT(info.nmsgs, 1);
  CHECK(!info.sysex_partial);
}

/* ---------- decoder, hand-written packets ---------- */

static void test_decode_misc(void) {
  rmp_cmd_decoder d;
  uint8_t sx[64];
  rmp_cmd_decoder_init(&d, sx, sizeof sx);
  dec_out o;

  { /* the common one-note packet */
    static const uint8_t p[] = {0x03, 0x90, 0x48, 0x6F};
    static const uint8_t w[] = {0x90, 0x48, 0x6F};
    decode(&d, p, sizeof p, &o);
    CHECK_INT(o.rc, 0);
    CHECK_MEM(o.bytes, o.nbytes, w, sizeof w);
  }
  { /* running status on input, with delta times */
    static const uint8_t p[] = {0x09, 0x90, 0x3C, 0x64, /* note on */
                                0x00, 0x3E, 0x64,       /* delta 0, running */
                                0x05, 0x40, 0x00};      /* delta 5, running */
    static const uint8_t w[] = {0x90, 0x3C, 0x64, 0x90, 0x3E, 0x64, 0x90, 0x40, 0x00};
    decode(&d, p, sizeof p, &o);
    CHECK_INT(o.rc, 0);
    CHECK_MEM(o.bytes, o.nbytes, w, sizeof w);
    CHECK_INT(o.n, 3);
    CHECK_INT(o.times[2], 5);
    CHECK_INT(o.deltas[2], 5);
  }
  { /* Z=1 with program change and running status:
       delta 0x80 (81 00), C3 01, delta 2, running 02 */
    static const uint8_t p[] = {0x26, 0x81, 0x00, 0xC3, 0x01, 0x02, 0x02};
    static const uint8_t w[] = {0xC3, 0x01, 0xC3, 0x02};
    decode(&d, p, sizeof p, &o);
    CHECK_INT(o.rc, 0);
    CHECK_MEM(o.bytes, o.nbytes, w, sizeof w);
    CHECK_INT(o.times[0], 128);
    CHECK_INT(o.times[1], 130);
    CHECK_INT(o.deltas[1], 2);
  }
  { /* P=1: reported; the first command still has its status octet */
    static const uint8_t p[] = {0x13, 0x90, 0x3C, 0x64};
    static const uint8_t w[] = {0x90, 0x3C, 0x64};
    decode(&d, p, sizeof p, &o);
    CHECK(o.hdr.p);
    CHECK_INT(o.rc, 0);
    CHECK_MEM(o.bytes, o.nbytes, w, sizeof w);
  }
  { /* journal after the section: iter_init returns where it starts */
    static const uint8_t p[] = {0x41, 0xF8, 0x12, 0x34};
    decode(&d, p, sizeof p, &o);
    CHECK_INT(o.init_rc, 2);
    CHECK(o.hdr.j);
    CHECK_INT(o.n, 1);
  }
  { /* empty list */
    static const uint8_t p[] = {0x00};
    decode(&d, p, sizeof p, &o);
    CHECK_INT(o.rc, 0);
    CHECK_INT(o.n, 0);
  }
  { /* undefined system common F4 (1 octet, cancels running status), F9/FD real-time */
    static const uint8_t p[] = {0x05, 0xF4, 0x00, 0xF9, 0x00, 0xFD};
    static const uint8_t w[] = {0xF4, 0xF9, 0xFD};
    decode(&d, p, sizeof p, &o);
    CHECK_INT(o.rc, 0);
    CHECK_MEM(o.bytes, o.nbytes, w, sizeof w);
    CHECK_INT(o.n, 3);
  }
}

static void test_decode_sysex(void) {
  rmp_cmd_decoder d;
  uint8_t sx[16];
  rmp_cmd_decoder_init(&d, sx, sizeof sx);
  dec_out o;

  /* segmented over 3 packets, clock inside the middle segment */
  static const uint8_t p1[] = {0x05, 0xF0, 0x7D, 0x01, 0x02, 0xF0};
  static const uint8_t p2[] = {0x05, 0xF7, 0x03, 0xF8, 0x04, 0xF0};
  static const uint8_t p3[] = {0x07, 0xF7, 0x05, 0xF7, 0x00, 0x90, 0x3C, 0x64};
  decode(&d, p1, sizeof p1, &o);
  CHECK_INT(o.rc, 0);
  CHECK_INT(o.n, 0);
  decode(&d, p2, sizeof p2, &o);
  CHECK_INT(o.rc, 0);
  CHECK_INT(o.n, 1);
  CHECK_INT(o.bytes[0], 0xF8);
  decode(&d, p3, sizeof p3, &o);
  CHECK_INT(o.rc, 0);
  static const uint8_t w3[] = {0xF0, 0x7D, 0x01, 0x02, 0x03, 0x04, 0x05, 0xF7, 0x90, 0x3C, 0x64};
  CHECK_MEM(o.bytes, o.nbytes, w3, sizeof w3);
  CHECK_INT(o.n, 2);

  /* whole SysEx with real-time bytes inside: they come first, in order */
  static const uint8_t p4[] = {0x08, 0xF0, 0x01, 0xFE, 0x02, 0xFA, 0xF7, 0x00, 0xFC};
  static const uint8_t w4[] = {0xFE, 0xFA, 0xF0, 0x01, 0x02, 0xF7, 0xFC};
  decode(&d, p4, sizeof p4, &o);
  CHECK_INT(o.rc, 0);
  CHECK_MEM(o.bytes, o.nbytes, w4, sizeof w4);
  CHECK_INT(o.n, 4);

  /* cancel: F0 7D 01 F0 | F7 02 F4 -> nothing delivered; then a note */
  static const uint8_t c1[] = {0x04, 0xF0, 0x7D, 0x01, 0xF0};
  static const uint8_t c2[] = {0x07, 0xF7, 0x02, 0xF4, 0x00, 0x90, 0x3C, 0x64};
  decode(&d, c1, sizeof c1, &o);
  CHECK_INT(o.n, 0);
  decode(&d, c2, sizeof c2, &o);
  CHECK_INT(o.rc, 0);
  CHECK_INT(o.n, 1);
  CHECK_INT(o.nbytes, 3);
  CHECK_INT(d.n_sysex_cancelled, 1);
  /* after a cancel, a following end segment has no start */
  static const uint8_t c3[] = {0x03, 0xF7, 0x01, 0xF7};
  decode(&d, c3, sizeof c3, &o);
  CHECK_INT(o.n, 1);
  CHECK_INT(o.lens[0], RMP_E_SYSEX_NO_START);
  CHECK_INT(d.n_sysex_no_start, 1);

  /* middle + end without start (first packet lost): one error at the end */
  static const uint8_t l1[] = {0x03, 0xF7, 0x01, 0xF0};
  decode(&d, l1, sizeof l1, &o);
  CHECK_INT(o.n, 0);
  decode(&d, c3, sizeof c3, &o);
  CHECK_INT(o.n, 1);
  CHECK_INT(o.lens[0], RMP_E_SYSEX_NO_START);

  /* start, then a new start: the first is incomplete */
  static const uint8_t i1[] = {0x03, 0xF0, 0x01, 0xF0};
  static const uint8_t i2[] = {0x03, 0xF0, 0x02, 0xF7};
  decode(&d, i1, sizeof i1, &o);
  decode(&d, i2, sizeof i2, &o);
  CHECK_INT(o.n, 2);
  CHECK_INT(o.lens[0], RMP_E_SYSEX_INCOMPLETE);
  static const uint8_t wi[] = {0xF0, 0x02, 0xF7};
  CHECK_MEM(o.bytes, o.nbytes, wi, sizeof wi);
  CHECK_INT(d.n_sysex_incomplete, 1);

  /* oversize (buffer 16): error event, counted, rest still decoded */
  static const uint8_t big[] = {0x80, 0x17,                 /* B1 LEN 23 */
                                0xF0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0xF7,
                                0x00, 0x90, 0x3C, 0x64,
                                0x00, 0xF8};
  decode(&d, big, sizeof big, &o);
  CHECK_INT(o.rc, 0);
  CHECK_INT(o.n, 3);
  CHECK_INT(o.lens[0], RMP_E_SYSEX_TOO_LONG);
  static const uint8_t wb[] = {0x90, 0x3C, 0x64, 0xF8};
  CHECK_MEM(o.bytes, o.nbytes, wb, sizeof wb);
  CHECK_INT(d.n_sysex_too_long, 1);
  /* exactly the buffer size is fine */
  static const uint8_t fit[] = {0x80, 0x10, 0xF0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xF7};
  decode(&d, fit, sizeof fit, &o);
  CHECK_INT(o.n, 1);
  CHECK_MEM(o.bytes, o.nbytes, fit + 2, 16);
  /* oversize across segments */
  static const uint8_t s1[] = {0x0A, 0xF0, 1, 2, 3, 4, 5, 6, 7, 8, 0xF0};
  static const uint8_t s2[] = {0x0A, 0xF7, 1, 2, 3, 4, 5, 6, 7, 8, 0xF7};
  decode(&d, s1, sizeof s1, &o);
  decode(&d, s2, sizeof s2, &o);
  CHECK_INT(o.n, 1);
  CHECK_INT(o.lens[0], RMP_E_SYSEX_TOO_LONG);
  /* reset forgets a partial SysEx */
  decode(&d, i1, sizeof i1, &o);
  rmp_cmd_decoder_reset(&d);
  decode(&d, c3, sizeof c3, &o);
  CHECK_INT(o.lens[0], RMP_E_SYSEX_NO_START);
}

/* A receiver probes each packet with a decoder that has no SysEx buffer and
 * makes its buffer when the probe saw a SysEx start: a whole SysEx or a
 * first segment, and not a packet without one. The buffer given then
 * reassembles the next SysEx. */
static void test_sysex_probe(void) {
  static const uint8_t plain[] = {0x03, 0x90, 0x3C, 0x64};
  static const uint8_t whole[] = {0x04, 0xF0, 0x7D, 0x01, 0xF7};
  static const uint8_t first[] = {0x04, 0xF0, 0x7D, 0x01, 0xF0};
  rmp_cmd_decoder probe;
  dec_out o;
  rmp_cmd_decoder_init(&probe, NULL, 0);
  decode(&probe, plain, sizeof plain, &o);
  CHECK(!rmp_cmd_decoder_sysex_seen(&probe));
  decode(&probe, whole, sizeof whole, &o);
  CHECK(rmp_cmd_decoder_sysex_seen(&probe));
  rmp_cmd_decoder_init(&probe, NULL, 0);
  decode(&probe, first, sizeof first, &o);
  CHECK(rmp_cmd_decoder_sysex_seen(&probe));

  rmp_cmd_decoder d;
  uint8_t sx[8];
  rmp_cmd_decoder_init(&d, NULL, 0);
  rmp_cmd_decoder_set_buffer(&d, sx, sizeof sx);
  decode(&d, whole, sizeof whole, &o);
  CHECK_INT(o.rc, 0);
  CHECK_INT(o.n, 1);
  CHECK_INT(o.lens[0], 4);
  CHECK(memcmp(o.bytes, "\xF0\x7D\x01\xF7", 4) == 0);
}

static void test_decode_errors(void) {
  rmp_cmd_decoder d;
  uint8_t sx[16];
  rmp_cmd_decoder_init(&d, sx, sizeof sx);
  dec_out o;
  static const struct { const char *name; uint8_t p[12]; size_t len; int nev; int rc; } cases[] = {
      {"LEN past end", {0x05, 0x90, 0x3C}, 3, 0, RMP_E_LEN_PAST_END},
      {"long LEN past end", {0x80, 0x04, 0x90, 0x3C, 0x64}, 5, 0, RMP_E_LEN_PAST_END},
      {"short header", {0x80}, 1, 0, RMP_E_SHORT_HEADER},
      {"Z delta, no command", {0x21, 0x05}, 2, 0, RMP_E_DELTA_NO_CMD},
      {"delta after command, no command", {0x04, 0x90, 0x3C, 0x64, 0x00}, 5, 1, RMP_E_DELTA_NO_CMD},
      {"delta cut (continuation)", {0x05, 0x90, 0x3C, 0x64, 0x81, 0x81}, 6, 1, RMP_E_DELTA_NO_CMD},
      {"delta of 5 octets", {0x26, 0x81, 0x81, 0x81, 0x81, 0x00, 0xF8}, 7, 0, RMP_E_DELTA_TOO_LONG},
      {"data with no status", {0x02, 0x3C, 0x64}, 3, 0, RMP_E_NO_STATUS},
      {"data with no status, P=1", {0x12, 0x3C, 0x64}, 3, 0, RMP_E_NO_STATUS},
      {"running status cancelled by common", {0x07, 0x90, 0x3C, 0x64, 0x00, 0xF6, 0x00, 0x3E},
       8, 2, RMP_E_NO_STATUS},
      {"running status cancelled by SysEx", {0x08, 0x90, 0x3C, 0x64, 0x00, 0xF0, 0xF7, 0x00, 0x3E},
       9, 2, RMP_E_NO_STATUS},
      {"status in channel data", {0x03, 0x90, 0x3C, 0x80}, 4, 0, RMP_E_STATUS_IN_DATA},
      {"real-time in channel data", {0x03, 0x90, 0x3C, 0xF8}, 4, 0, RMP_E_STATUS_IN_DATA},
      {"status in SysEx data", {0x04, 0xF0, 0x01, 0x90, 0xF7}, 5, 0, RMP_E_STATUS_IN_DATA},
      {"common in SysEx data", {0x04, 0xF0, 0x01, 0xF6, 0xF7}, 5, 0, RMP_E_STATUS_IN_DATA},
      {"truncated note", {0x02, 0x90, 0x3C}, 3, 0, RMP_E_TRUNCATED},
      {"truncated song position", {0x02, 0xF2, 0x10}, 3, 0, RMP_E_TRUNCATED},
      {"truncated running status", {0x05, 0x90, 0x3C, 0x64, 0x00, 0x3E}, 6, 1, RMP_E_TRUNCATED},
      {"unterminated SysEx", {0x02, 0xF0, 0x01}, 3, 0, RMP_E_TRUNCATED},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    rmp_cmd_decoder_reset(&d);
    decode(&d, cases[i].p, cases[i].len, &o);
    if (o.rc != cases[i].rc || o.n != cases[i].nev)
      fprintf(stderr, "case '%s': rc %d (%s) n %d\n", cases[i].name, o.rc, rmp_strerror(o.rc), o.n);
    CHECK_INT(o.rc, cases[i].rc);
    CHECK_INT(o.n, cases[i].nev);
  }
  rmp_cmd_iter it;
  CHECK_INT(rmp_cmd_iter_init(&it, NULL, cases[0].p, 3), RMP_E_ARG);
  CHECK_INT(rmp_cmd_iter_init(&it, &d, NULL, 3), RMP_E_ARG);
  CHECK_INT(rmp_cmd_iter_next(&it, NULL), RMP_E_ARG);
}

/* Every shortening of a valid section (LEN rewritten to k, buffer exactly
 * that long) either decodes to a prefix of the full result and ends with 0,
 * or ends with a clean error after a prefix. Also every cut of the buffer
 * with the original LEN is RMP_E_LEN_PAST_END. */
static void test_truncation(void) {
  rmp_cmd_decoder d;
  uint8_t sx[64];
  rmp_cmd_decoder_init(&d, sx, sizeof sx);
  static dec_out full, o;
  decode(&d, families_pkt, sizeof families_pkt, &full);
  CHECK_INT(full.rc, 0);
  for (size_t cut = 0; cut < sizeof families_pkt; cut++) {
    decode(&d, families_pkt, cut, &o);
    CHECK(o.rc == RMP_E_LEN_PAST_END || o.rc == RMP_E_SHORT_HEADER);
  }
  size_t list = sizeof families_pkt - 2;
  for (size_t k = 0; k <= list; k++) {
    uint8_t buf[sizeof families_pkt];
    memcpy(buf, families_pkt, 2 + k);
    buf[0] = (uint8_t)(0x80 | (k >> 8));
    buf[1] = (uint8_t)(k & 0xFF);
    rmp_cmd_decoder_reset(&d);
    decode(&d, buf, 2 + k, &o);
    CHECK(o.rc <= 0);
    CHECK(o.n <= full.n);
    CHECK(o.nbytes <= full.nbytes && memcmp(o.bytes, full.bytes, o.nbytes) == 0);
    for (int i = 0; i < o.n; i++) {
      CHECK_INT(o.lens[i], full.lens[i]);
      CHECK_INT(o.times[i], full.times[i]);
    }
    if (o.rc == 0 && k < list) {
      /* a clean shorter result must end exactly at a command boundary */
      CHECK(o.n < full.n);
    }
  }
  /* also sweep a SysEx-heavy section */
  static const uint8_t sxp[] = {0x80, 0x12, 0xF0, 0x01, 0xFE, 0x02, 0xF7, 0x00, 0xF7, 0x03,
                                0xF4, 0x00, 0xF0, 0x04, 0xF0, 0x00, 0x90, 0x3C, 0x64, 0xF8};
  for (size_t k = 0; k <= sizeof sxp - 2; k++) {
    uint8_t buf[sizeof sxp];
    memcpy(buf, sxp, 2 + k);
    buf[1] = (uint8_t)k;
    rmp_cmd_decoder_reset(&d);
    decode(&d, buf, 2 + k, &o);
    CHECK(o.rc <= 0);
  }
}

/* ---------- seeded round trip ---------- */

static uint64_t rng_state;
static uint32_t rnd(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}
static uint32_t rndn(uint32_t n) { return n ? rnd() % n : 0; }

typedef struct { size_t off, len; uint32_t delta; } msg_ref;

static const uint8_t rt_bytes[] = {0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE, 0xFF};

/* returns 0 on success */
static int roundtrip(uint64_t seed, size_t nmsgs) {
  rng_state = seed ? seed : 1;
  size_t raw_cap = 64u << 20;
  uint8_t *raw = malloc(raw_cap);          /* raw MIDI byte stream */
  uint8_t *exp = malloc(raw_cap);          /* expected messages, concatenated */
  msg_ref *em = malloc(nmsgs * sizeof *em);
  size_t raw_len = 0, exp_len = 0, n = 0;
  uint8_t running = 0;
  int fails = 0;

#define EXP1(b) do { em[n].off = exp_len; em[n].len = 1; exp[exp_len++] = (b); n++; } while (0)
  while (n < nmsgs && raw_len + 70000 * 2 < raw_cap) {
    uint32_t r = rndn(100);
    if (r < 60) { /* channel voice; real-time bytes may interrupt it */
      uint8_t st = (uint8_t)(0x80 | (rndn(7) << 4) | rndn(16));
      if (rndn(3) == 0 && running) st = running; /* encourage running status */
      int len = rmp_midi_msg_len(st);
      uint8_t msg[3] = {st, 0, 0};
      if (st != running || rndn(2) == 0) raw[raw_len++] = st; /* omit status half the time */
      for (int k = 1; k < len; k++) {
        if (rndn(10) == 0 && n + 2 < nmsgs) { /* comes out before the message */
          uint8_t rt = rt_bytes[rndn(8)];
          raw[raw_len++] = rt;
          EXP1(rt);
        }
        msg[k] = (uint8_t)rndn(128);
        raw[raw_len++] = msg[k];
      }
      em[n].off = exp_len;
      em[n].len = (size_t)len;
      memcpy(exp + exp_len, msg, (size_t)len);
      exp_len += (size_t)len;
      n++;
      running = st;
    } else if (r < 70) { /* system common */
      static const uint8_t commons[] = {0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6};
      uint8_t st = commons[rndn(6)];
      int len = rmp_midi_msg_len(st);
      em[n].off = exp_len;
      em[n].len = (size_t)len;
      raw[raw_len++] = st;
      exp[exp_len++] = st;
      for (int k = 1; k < len; k++) {
        uint8_t db = (uint8_t)rndn(128);
        raw[raw_len++] = db;
        exp[exp_len++] = db;
      }
      n++;
      running = 0;
    } else if (r < 88) { /* real-time */
      uint8_t rt = rt_bytes[rndn(8)];
      raw[raw_len++] = rt;
      EXP1(rt);
    } else { /* SysEx, with real-time bytes inside now and then */
      size_t dl;
      uint32_t s = rndn(1000);
      if (s < 5) dl = 60000 + rndn(10000);       /* 64 KiB-ish */
      else if (s < 60) dl = 1000 + rndn(9000);
      else dl = rndn(300);
      size_t n_rt = 0;
      raw[raw_len++] = 0xF0;
      /* RT messages go to exp first, so the SysEx is built in scratch space */
      uint8_t *tmp = raw + raw_cap - 70010;
      size_t tl = 0;
      tmp[tl++] = 0xF0;
      for (size_t k = 0; k < dl; k++) {
        if (rndn(500) == 0 && n + n_rt + 2 < nmsgs) {
          uint8_t rt = rt_bytes[rndn(8)];
          raw[raw_len++] = rt;
          EXP1(rt);
          n_rt++;
        }
        uint8_t db = (uint8_t)rndn(128);
        raw[raw_len++] = db;
        tmp[tl++] = db;
      }
      raw[raw_len++] = 0xF7;
      tmp[tl++] = 0xF7;
      em[n].off = exp_len;
      em[n].len = tl;
      memcpy(exp + exp_len, tmp, tl);
      exp_len += tl;
      n++;
      running = 0;
    }
  }
#undef EXP1

  /* 1) raw parser gives back exactly the expected messages */
  static uint8_t psx[70100];
  rmp_midi_parser p;
  rmp_midi_parser_init(&p, psx, sizeof psx);
  uint8_t *got = malloc(raw_cap);
  msg_ref *gm = malloc(nmsgs * sizeof *gm);
  size_t got_len = 0, ng = 0, pos = 0;
  while (pos < raw_len) {
    rmp_midi_event ev;
    /* feed in random-sized chunks */
    size_t lim = 1 + rndn(64);
    if (lim > raw_len - pos) lim = raw_len - pos;
    size_t used = 0;
    while (used < lim) {
      used += rmp_midi_parser_feed(&p, raw + pos + used, lim - used, &ev);
      if (ev.error) {
        fprintf(stderr, "parser error %d at %zu\n", ev.error, pos + used);
        fails++;
      }
      if (ev.len && ng < nmsgs) {
        gm[ng].off = got_len;
        gm[ng].len = ev.len;
        memcpy(got + got_len, ev.data, ev.len);
        got_len += ev.len;
        ng++;
      }
    }
    pos += lim;
  }
  CHECK_INT(ng, n);
  CHECK(got_len == exp_len && memcmp(got, exp, exp_len) == 0);
  for (size_t i = 0; i < n && i < ng && fails < 5; i++)
    if (gm[i].len != em[i].len || gm[i].off != em[i].off) {
      fprintf(stderr, "parser message %zu: len %zu want %zu\n", i, gm[i].len, em[i].len);
      fails++;
    }

  /* 2) random deltas; encode packet by packet within random budgets; decode */
  uint64_t *abs = malloc(n * sizeof *abs);
  rmp_cmd_msg *cm = malloc(n * sizeof *cm);
  uint64_t t = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t r = rndn(100);
    uint32_t dt = r < 50 ? 0 : r < 80 ? rndn(128) : r < 95 ? rndn(20000) : r < 99 ? rndn(1u << 22)
                                                                                  : rndn(RMP_CMD_MAX_DELTA + 1u);
    t += dt;
    abs[i] = t;
    cm[i].delta = dt;
    cm[i].data = exp + em[i].off;
    cm[i].len = em[i].len;
  }
  static const size_t budgets[] = {16, 17, 40, 100, 1200, 1200, 1200, 4097, 5000};
  static uint8_t pkt[5000];
  static uint8_t dsx[70100];
  rmp_cmd_encoder enc;
  rmp_cmd_encoder_init(&enc);
  rmp_cmd_decoder dec;
  rmp_cmd_decoder_init(&dec, dsx, sizeof dsx);
  size_t next = 0, di = 0, npkts = 0;
  uint32_t ts = 0; /* RTP timestamp of the packet (mod 2^32) */
  while (next < n && fails < 5) {
    size_t budget = budgets[rndn(sizeof budgets / sizeof budgets[0])];
    bool j = rndn(2);
    rmp_cmd_enc_info info;
    /* msgs[0].delta is relative to this packet's timestamp ts, which is the
     * time of the last message (or SysEx segment start) already sent */
    int len = rmp_cmd_encode(&enc, cm + next, n - next, j, budget, pkt, sizeof pkt, &info);
    npkts++;
    if (len < 0) { fprintf(stderr, "encode error %s\n", rmp_strerror(len)); fails++; break; }
    if ((size_t)len > (budget < 4097 ? budget : 4097)) { fprintf(stderr, "over budget\n"); fails++; }
    if (info.nmsgs == 0 && !info.sysex_partial) { fprintf(stderr, "no progress\n"); fails++; break; }
    rmp_cmd_iter it;
    int sl = rmp_cmd_iter_init(&it, &dec, pkt, (size_t)len);
    if (sl != len || it.hdr.j != j || it.hdr.p) { fprintf(stderr, "header mismatch\n"); fails++; }
    rmp_cmd_event ev;
    int rc;
    while ((rc = rmp_cmd_iter_next(&it, &ev)) == 1) {
      if (ev.error) { fprintf(stderr, "decode event error %s\n", rmp_strerror(ev.error)); fails++; continue; }
      if (di >= n || ev.len != em[di].len || memcmp(ev.data, exp + em[di].off, ev.len) != 0) {
        fprintf(stderr, "message %zu differs (len %zu want %zu) in packet %zu\n", di, ev.len,
                di < n ? em[di].len : 0, npkts);
        fails++;
        break;
      }
      if ((uint32_t)(ts + ev.time) != (uint32_t)abs[di]) {
        fprintf(stderr, "message %zu time %u want %u\n", di, (unsigned)(ts + ev.time), (unsigned)abs[di]);
        fails++;
      }
      di++;
    }
    if (rc != 0) { fprintf(stderr, "decode error %s in packet %zu\n", rmp_strerror(rc), npkts); fails++; }
    /* advance: the next packet's timestamp is this one's plus the ticks sent */
    ts += info.ticks;
    next += info.nmsgs;
    if (info.sysex_partial) {
      /* the SysEx's delta was spent on its first segment */
      if (enc.sysex_off == 0) { fprintf(stderr, "partial but no offset\n"); fails++; }
    }
  }
  CHECK_INT(di, n);
  CHECK_INT(fails, 0);
  if (fails || di != n)
    fprintf(stderr, "round trip FAILED: seed %llu (rerun: test_midi_cmd %llu)\n",
            (unsigned long long)seed, (unsigned long long)seed);
  else
    printf("round trip: seed %llu, %zu messages, %zu raw bytes, %zu packets\n",
           (unsigned long long)seed, n, raw_len, npkts);
  free(raw); free(exp); free(em); free(got); free(gm); free(abs); free(cm);
  return fails;
}

int main(int argc, char **argv) {
  uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 20240601u;
  test_header();
  test_delta();
  test_encode_basic();
  test_families();
  test_encode_errors();
  test_sysex_segments();
  test_decode_misc();
  test_decode_sysex();
  test_sysex_probe();
  test_decode_errors();
  test_truncation();
  roundtrip(seed, 100000);
  return check_report();
}
