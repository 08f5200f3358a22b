/* Unit tests for ump.c: message sizes, the word iterator, value scaling,
 * MIDI 1.0 bytes <-> UMP, MIDI 1.0 <-> 2.0 channel voice, UMP Stream
 * answers. Expected words are written out from facts quoted (with their
 * source) in the comments; the seeded round trips take a seed as argv[1]. */
#include "ump.h"
#include "check.h"

#include <stdlib.h>

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 11);
}

/* ---------- sizes ---------- */

static void test_sizes(void) {
  /* Windows MIDI Services, GetUmpLengthInMidiWordsFromMessageType:
   *   case 0x0, 0x1, 0x2, 0x6, 0x7: return 1;  case 0x3, 0x4, 0x8, 0x9, 0xA: return 2;
   *   case 0xB, 0xC: return 3;  case 0x5, 0xD, 0xE, 0xF: return 4;
   * Zephyr include/zephyr/audio/midi.h, UMP_NUM_WORDS_LOOKUP_TABLE (words - 1,
   * two bits per MT): 0,0,0,1, 1,3,0,0, 1,1,1,2, 2,3,3,3. */
  static const unsigned windows[16] = {1, 1, 1, 2, 2, 4, 1, 1, 2, 2, 2, 3, 3, 4, 4, 4};
  static const unsigned zephyr_minus_one[16] = {0, 0, 0, 1, 1, 3, 0, 0, 1, 1, 1, 2, 2, 3, 3, 3};
  for (unsigned mt = 0; mt < 16; mt++) {
    CHECK_INT(rmp_ump_words_for_type(mt), windows[mt]);
    CHECK_INT(rmp_ump_words_for_type(mt), zephyr_minus_one[mt] + 1);
    CHECK_INT(rmp_ump_words((uint32_t)mt << 28 | 0x0ABCDEF), windows[mt]);
  }
  CHECK_INT(rmp_ump_words(0x20903C64), 1);  /* MIDI 1.0 note on */
  CHECK_INT(rmp_ump_words(0x40903C00), 2);  /* MIDI 2.0 note on */
  CHECK_INT(rmp_ump_words(0xF0000101), 4);  /* endpoint discovery */
}

static void test_iterator(void) {
  const uint32_t w[] = {0x20903C64, 0x40903C00, 0xFFFF0000, 0x10F80000, 0x30047E7F, 0x09010000,
                        0x50000000, 1, 2, 3};
  rmp_ump_iter it;
  rmp_ump_iter_init(&it, w, 10);
  const uint32_t *m;
  unsigned len;
  unsigned lens[8], n = 0;
  int rc;
  while ((rc = rmp_ump_next(&it, &m, &len)) == 1 && n < 8) lens[n++] = len;
  CHECK_INT(rc, 0);
  CHECK_INT(n, 5);
  CHECK_INT(lens[0], 1);
  CHECK_INT(lens[1], 2);
  CHECK_INT(lens[2], 1);
  CHECK_INT(lens[3], 2);
  CHECK_INT(lens[4], 4);
  CHECK(rmp_ump_whole(w, 10));
  CHECK(!rmp_ump_whole(w, 9));  /* the 128-bit message is cut */
  CHECK(!rmp_ump_whole(w, 2));  /* MT 4 needs two words */
  CHECK(rmp_ump_whole(w, 0));
  rmp_ump_iter_init(&it, w, 9);
  n = 0;
  while ((rc = rmp_ump_next(&it, &m, &len)) == 1) n++;
  CHECK_INT(rc, -1);
  CHECK_INT(n, 4);
  CHECK_INT(rmp_ump_next(&it, &m, &len), 0); /* stays at the end */

  uint8_t be[8];
  uint32_t back[2];
  rmp_ump_store_be(w, 2, be);
  const uint8_t want[8] = {0x20, 0x90, 0x3C, 0x64, 0x40, 0x90, 0x3C, 0x00};
  CHECK_MEM(be, 8, want, 8);
  rmp_ump_load_be(be, 2, back);
  CHECK(back[0] == w[0] && back[1] == w[1]);
}

/* ---------- scaling ---------- */

/* The Linux kernel's sound/core/ump_convert.c, written out:
 *   upscale_7_to_16bit(s):  v = s << 9; if s <= 0x40 return v;
 *                           r = s & 0x3f; return v | (r << 3) | (r >> 3)
 *   upscale_7_to_32bit(s):  v = s << 25; ... v | r<<19 | r<<13 | r<<7 | r<<1 | r>>5
 *   upscale_14_to_32bit(s): v = s << 18; if s <= 0x2000 ...; r = s & 0x1fff;
 *                           v | r<<5 | r>>8 */
static uint32_t kernel_7_16(uint32_t s) {
  uint32_t v = s << 9, r = s & 0x3f;
  return s <= 0x40 ? v : v | r << 3 | r >> 3;
}
static uint32_t kernel_7_32(uint32_t s) {
  uint32_t v = s << 25, r = s & 0x3f;
  return s <= 0x40 ? v : v | r << 19 | r << 13 | r << 7 | r << 1 | r >> 5;
}
static uint32_t kernel_14_32(uint32_t s) {
  uint32_t v = s << 18, r = s & 0x1fff;
  return s <= 0x2000 ? v : v | r << 5 | r >> 8;
}

static void test_scaling(void) {
  /* min, center, max */
  CHECK_INT(rmp_ump_scale_up(0, 7, 16), 0);
  CHECK_INT(rmp_ump_scale_up(0x40, 7, 16), 0x8000);
  CHECK_INT(rmp_ump_scale_up(0x7F, 7, 16), 0xFFFF);
  CHECK_INT(rmp_ump_scale_up(0x7F, 7, 32), 0xFFFFFFFFu);
  CHECK_INT(rmp_ump_scale_up(0x40, 7, 32), 0x80000000u);
  CHECK_INT(rmp_ump_scale_up(0x2000, 14, 32), 0x80000000u);
  CHECK_INT(rmp_ump_scale_up(0x3FFF, 14, 32), 0xFFFFFFFFu);
  CHECK_INT(rmp_ump_scale_up(0x41, 7, 16), 0x8208);
  int bad16 = 0, bad32 = 0, bad14 = 0, trip = 0, mono = 0;
  uint32_t prev16 = 0, prev32 = 0;
  for (uint32_t s = 0; s < 128; s++) {
    uint32_t a = rmp_ump_scale_up(s, 7, 16), b = rmp_ump_scale_up(s, 7, 32);
    bad16 += a != kernel_7_16(s);
    bad32 += b != kernel_7_32(s);
    trip += rmp_ump_scale_down(a, 16, 7) != s || rmp_ump_scale_down(b, 32, 7) != s;
    if (s) mono += a <= prev16 || b <= prev32;
    prev16 = a;
    prev32 = b;
  }
  uint32_t prev = 0;
  for (uint32_t s = 0; s < 16384; s++) {
    uint32_t c = rmp_ump_scale_up(s, 14, 32);
    bad14 += c != kernel_14_32(s);
    trip += rmp_ump_scale_down(c, 32, 14) != s;
    if (s) mono += c <= prev;
    prev = c;
  }
  CHECK_INT(bad16, 0);
  CHECK_INT(bad32, 0);
  CHECK_INT(bad14, 0);
  CHECK_INT(trip, 0);
  CHECK_INT(mono, 0);
  /* The kernel's downscale: 32 -> 7 is >> 25, 16 -> 7 is >> 9, 32 -> 14 is >> 18. */
  CHECK_INT(rmp_ump_scale_down(0xABCDEF01u, 32, 7), 0xABCDEF01u >> 25);
  CHECK_INT(rmp_ump_scale_down(0xABCD, 16, 7), 0xABCD >> 9);
  CHECK_INT(rmp_ump_scale_down(0xABCDEF01u, 32, 14), 0xABCDEF01u >> 18);
  /* out of range arguments leave the value alone */
  CHECK_INT(rmp_ump_scale_up(5, 7, 7), 5);
  CHECK_INT(rmp_ump_scale_down(5, 7, 7), 5);
}

/* ---------- MIDI 1.0 bytes -> UMP ---------- */

static size_t conv(unsigned group, const uint8_t *b, size_t n, uint32_t *out, size_t cap, uint32_t *dropped) {
  rmp_ump_m1in c;
  rmp_ump_from_midi1_init(&c, group);
  size_t used = 0;
  size_t k = rmp_ump_from_midi1(&c, b, n, out, cap, &used);
  if (dropped) *dropped = c.dropped;
  CHECK_INT(used, n);
  return k;
}

#define CONV(group, bytes, want) do { \
    const uint8_t in_[] = bytes; \
    const uint32_t want_[] = want; \
    uint32_t got_[64]; \
    size_t k_ = conv(group, in_, sizeof in_, got_, 64, NULL); \
    CHECK_INT(k_, sizeof want_ / 4); \
    if (k_ == sizeof want_ / 4) CHECK(memcmp(got_, want_, sizeof want_) == 0); \
    else for (size_t i_ = 0; i_ < k_; i_++) fprintf(stderr, "  got %08x\n", (unsigned)got_[i_]); \
  } while (0)
#define B(...) {__VA_ARGS__}

static void test_from_midi1(void) {
  /* MT 2: 0x2 | group | status | data1 | data2 (kernel cvt_legacy_cmd_to_ump, MIDI 1.0 protocol) */
  CONV(0, B(0x90, 0x3C, 0x64), B(0x20903C64));
  CONV(3, B(0x90, 0x3C, 0x64), B(0x23903C64));
  /* running status */
  CONV(0, B(0x90, 0x3C, 0x64, 0x3E, 0x50, 0x3C, 0x00), B(0x20903C64, 0x20903E50, 0x20903C00));
  /* one data byte: program change, channel pressure */
  CONV(0, B(0xC5, 0x07, 0x08), B(0x20C50700, 0x20C50800));
  CONV(0, B(0xD1, 0x70), B(0x20D17000));
  CONV(0, B(0xE0, 0x00, 0x40), B(0x20E00040));
  /* real time inside a message and inside a SysEx comes out at once */
  CONV(0, B(0x90, 0x3C, 0xF8, 0x64), B(0x10F80000, 0x20903C64));
  CONV(0, B(0xF0, 0x01, 0xFE, 0x02, 0xF7), B(0x10FE0000, 0x30020102, 0x00000000));
  /* ... after a full held SysEx7 packet */
  CONV(0, B(0xF0, 1, 2, 3, 4, 5, 6, 0xF8, 7, 0xF7), B(0x30160102, 0x03040506, 0x10F80000, 0x30310700, 0x00000000));
  /* system common: F1 nd, F2 ll mm, F3 ss, F6; they cancel running status */
  CONV(0, B(0xF2, 0x10, 0x20), B(0x10F21020));
  CONV(0, B(0xF1, 0x35, 0xF3, 0x05, 0xF6), B(0x10F13500, 0x10F30500, 0x10F60000));
  CONV(0, B(0x90, 0x3C, 0x64, 0xF6, 0x3E, 0x50), B(0x20903C64, 0x10F60000));
  /* SysEx7 (kernel cvt_legacy_sysex_to_ump): word 0 = 0x3 | group | status<<4 | count,
   * then the bytes from bits 15..8 of word 0 on; status 0 complete, 1 start,
   * 2 continue, 3 end. */
  CONV(0, B(0xF0, 0x7E, 0x7F, 0x09, 0x01, 0xF7), B(0x30047E7F, 0x09010000));
  CONV(0, B(0xF0, 0xF7), B(0x30000000, 0x00000000));
  CONV(0, B(0xF0, 1, 2, 3, 4, 5, 6, 0xF7), B(0x30060102, 0x03040506));
  CONV(0, B(0xF0, 1, 2, 3, 4, 5, 6, 7, 0xF7), B(0x30160102, 0x03040506, 0x30310700, 0x00000000));
  CONV(2, B(0xF0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0xF7),
       B(0x32160102, 0x03040506, 0x32360708, 0x090A0B0C));
  CONV(0, B(0xF0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 0xF7),
       B(0x30160102, 0x03040506, 0x30260708, 0x090A0B0C, 0x30310D00, 0x00000000));
  /* a status byte ends an open SysEx */
  CONV(0, B(0xF0, 1, 2, 0x90, 0x3C, 0x64), B(0x30020102, 0x00000000, 0x20903C64));
  /* what makes no message is dropped and counted */
  uint32_t out[8], dropped = 0;
  const uint8_t junk[] = {0x3C, 0x64, 0xF7, 0xF4, 0xF5, 0xF9, 0xFD, 0x90, 0x3C, 0x64};
  CHECK_INT(conv(0, junk, sizeof junk, out, 8, &dropped), 1);
  CHECK_INT(dropped, 7);
  CHECK_INT(out[0], 0x20903C64);
  /* F4 cancels running status */
  const uint8_t f4[] = {0x90, 0x3C, 0x64, 0xF4, 0x3E, 0x50};
  CHECK_INT(conv(0, f4, sizeof f4, out, 8, &dropped), 1);
  CHECK_INT(dropped, 3);
}

static void test_from_midi1_cap(void) {
  /* A full output stops before the byte whose words do not fit. */
  const uint8_t b[] = {0x90, 0x3C, 0x64, 0x3E, 0x50, 0xF0, 1, 2, 3, 4, 5, 6, 7, 0xF7};
  rmp_ump_m1in c;
  rmp_ump_from_midi1_init(&c, 0);
  uint32_t out[16];
  size_t used = 0, total = 0, pos = 0;
  int rounds = 0;
  while (pos < sizeof b && rounds++ < 20) {
    size_t k = rmp_ump_from_midi1(&c, b + pos, sizeof b - pos, out + total, 1, &used);
    total += k;
    pos += used;
    CHECK(k <= 1);
    if (k == 0 && used == 0) {
      /* one word of room is too little for a SysEx7 packet: give two */
      k = rmp_ump_from_midi1(&c, b + pos, sizeof b - pos, out + total, 2, &used);
      CHECK_INT(k, 2);
      total += k;
      pos += used;
    }
  }
  CHECK_INT(pos, sizeof b);
  const uint32_t want[] = {0x20903C64, 0x20903E50, 0x30160102, 0x03040506, 0x30310700, 0x00000000};
  CHECK_INT(total, 6);
  CHECK(memcmp(out, want, sizeof want) == 0);
}

/* ---------- UMP -> MIDI 1.0 bytes ---------- */

#define TOBYTES(words, want) do { \
    const uint32_t in_[] = words; \
    const uint8_t want_[] = want; \
    uint8_t got_[RMP_UMP_MIDI1_MAX]; \
    int n_ = rmp_ump_to_midi1(in_, sizeof in_ / 4, got_, sizeof got_); \
    CHECK_MEM(got_, n_ < 0 ? 0 : n_, want_, sizeof want_); \
  } while (0)

static void test_to_midi1(void) {
  TOBYTES(B(0x20903C64), B(0x90, 0x3C, 0x64));
  TOBYTES(B(0x2FC50700), B(0xC5, 0x07));
  TOBYTES(B(0x10F80000), B(0xF8));
  TOBYTES(B(0x10F21020), B(0xF2, 0x10, 0x20));
  TOBYTES(B(0x10F13500), B(0xF1, 0x35));
  TOBYTES(B(0x30047E7F, 0x09010000), B(0xF0, 0x7E, 0x7F, 0x09, 0x01, 0xF7));
  TOBYTES(B(0x30160102, 0x03040506), B(0xF0, 1, 2, 3, 4, 5, 6));
  TOBYTES(B(0x30260102, 0x03040506), B(1, 2, 3, 4, 5, 6));
  TOBYTES(B(0x30310700, 0x00000000), B(7, 0xF7));
  /* MIDI 2.0 down-converted (kernel cvt_ump_midi2_to_legacy) */
  TOBYTES(B(0x40913C00, 0xFFFF0000), B(0x91, 0x3C, 0x7F));
  TOBYTES(B(0x40913C00, 0x01000000), B(0x91, 0x3C, 0x01)); /* Note On never gets velocity 0 */
  TOBYTES(B(0x40813C00, 0x01000000), B(0x81, 0x3C, 0x00));
  TOBYTES(B(0x40B00700, 0x80000000), B(0xB0, 0x07, 0x40));
  TOBYTES(B(0x40E00000, 0x80000000), B(0xE0, 0x00, 0x40));
  TOBYTES(B(0x40D00000, 0xFFFFFFFF), B(0xD0, 0x7F));
  TOBYTES(B(0x40C00001, 0x05000102), B(0xB0, 0x00, 0x01, 0xB0, 0x20, 0x02, 0xC0, 0x05));
  TOBYTES(B(0x40C00000, 0x05000102), B(0xC0, 0x05));
  TOBYTES(B(0x40220001, 0x80000000), B(0xB2, 101, 0x00, 0xB2, 100, 0x01, 0xB2, 6, 0x40, 0xB2, 38, 0x00));
  TOBYTES(B(0x40330102, 0xFFFFFFFF), B(0xB3, 99, 0x01, 0xB3, 98, 0x02, 0xB3, 6, 0x7F, 0xB3, 38, 0x7F));
  /* no MIDI 1.0 form */
  TOBYTES(B(0x00000000), B());
  TOBYTES(B(0x40003C01, 0x12345678), B());            /* per-note controller */
  TOBYTES(B(0x50000000, 0, 0, 0), B());              /* SysEx8 */
  TOBYTES(B(0xF0000101, 0x1F, 0, 0), B());           /* stream */
  TOBYTES(B(0x10F00000), B());                       /* F0 is no system message */
  TOBYTES(B(0x20F00000), B());
  TOBYTES(B(0x30470000, 0), B());                    /* bad SysEx7 status / count */
  uint8_t small[2];
  const uint32_t note[] = {0x20903C64};
  CHECK_INT(rmp_ump_to_midi1(note, 1, small, 2), -1);
  CHECK_INT(rmp_ump_to_midi1(note, 0, small, 2), 0);
}

/* Random MIDI 1.0 messages -> UMP -> bytes: the same bytes (each message
 * with its status; SysEx of any length). */
static size_t random_stream(uint8_t *b, size_t cap, int msgs) {
  size_t n = 0;
  for (int i = 0; i < msgs && n + 64 < cap; i++) {
    unsigned kind = rnd() % 12;
    if (kind < 7) {
      uint8_t s = (uint8_t)(0x80 | kind << 4 | (rnd() & 15));
      b[n++] = s;
      b[n++] = rnd() & 0x7F;
      if ((s & 0xE0) != 0xC0) b[n++] = rnd() & 0x7F;
    } else if (kind == 7) {
      b[n++] = 0xF0;
      unsigned len = rnd() % 40;
      for (unsigned k = 0; k < len; k++) b[n++] = rnd() & 0x7F;
      b[n++] = 0xF7;
    } else if (kind == 8) {
      static const uint8_t rt[] = {0xF8, 0xFA, 0xFB, 0xFC, 0xFE, 0xFF};
      b[n++] = rt[rnd() % 6];
    } else if (kind == 9) {
      b[n++] = 0xF2;
      b[n++] = rnd() & 0x7F;
      b[n++] = rnd() & 0x7F;
    } else if (kind == 10) {
      b[n++] = rnd() & 1 ? 0xF1 : 0xF3;
      b[n++] = rnd() & 0x7F;
    } else {
      b[n++] = 0xF6;
    }
  }
  return n;
}

static void test_roundtrip_bytes(void) {
  static uint8_t in[20000], back[40000];
  static uint32_t words[20000];
  int bad = 0;
  for (int round = 0; round < 50; round++) {
    size_t n = random_stream(in, sizeof in, 300);
    rmp_ump_m1in c;
    rmp_ump_from_midi1_init(&c, round & 15);
    size_t used;
    size_t k = rmp_ump_from_midi1(&c, in, n, words, 20000, &used);
    if (used != n || c.dropped) bad++;
    CHECK(rmp_ump_whole(words, k));
    rmp_ump_iter it;
    rmp_ump_iter_init(&it, words, k);
    const uint32_t *m;
    unsigned len;
    size_t bn = 0;
    while (rmp_ump_next(&it, &m, &len) == 1) {
      if (rmp_ump_group(m[0]) != (unsigned)(round & 15)) bad++;
      int r = rmp_ump_to_midi1(m, len, back + bn, sizeof back - bn);
      if (r < 0) bad++;
      else bn += (size_t)r;
    }
    if (bn != n || memcmp(in, back, n) != 0) bad++;
  }
  CHECK_INT(bad, 0);
}

/* ---------- MIDI 1.0 <-> 2.0 channel voice ---------- */

static void test_upgrade(void) {
  rmp_ump_upgrade u;
  rmp_ump_upgrade_init(&u);
  uint32_t o[2];
  /* MT 4 note: word 0 = 0x4 | group | status | channel | note | attribute type;
   * word 1 = velocity (16 bits) << 16 | attribute (kernel snd_ump_midi2_msg) */
  CHECK_INT(rmp_ump_upgrade_msg(&u, 0x25913C40, o), 2);
  CHECK_INT(o[0], 0x45913C00);
  CHECK_INT(o[1], 0x80000000);
  CHECK_INT(rmp_ump_upgrade_msg(&u, 0x20913C00, o), 2); /* velocity 0: Note Off */
  CHECK_INT(o[0], 0x40813C00);
  CHECK_INT(o[1], 0);
  CHECK_INT(rmp_ump_upgrade_msg(&u, 0x20B0077F, o), 2);
  CHECK_INT(o[0], 0x40B00700);
  CHECK_INT(o[1], 0xFFFFFFFFu);
  CHECK_INT(rmp_ump_upgrade_msg(&u, 0x20E00040, o), 2);
  CHECK_INT(o[0], 0x40E00000);
  CHECK_INT(o[1], 0x80000000u);
  CHECK_INT(rmp_ump_upgrade_msg(&u, 0x20D07F00, o), 2);
  CHECK_INT(o[1], 0xFFFFFFFFu);
  CHECK_INT(rmp_ump_upgrade_msg(&u, 0x20A03C40, o), 2);
  CHECK_INT(o[0], 0x40A03C00);
  CHECK_INT(o[1], 0x80000000u);
  /* Bank Select is held for the Program Change: Bank Valid is bit 0 of
   * byte 3; word 1 = program << 24 | bank MSB << 8 | bank LSB */
  CHECK_INT(rmp_ump_upgrade_msg(&u, 0x20B20001, o), 0);
  CHECK_INT(rmp_ump_upgrade_msg(&u, 0x20B22002, o), 0);
  CHECK_INT(rmp_ump_upgrade_msg(&u, 0x20C20500, o), 2);
  CHECK_INT(o[0], 0x40C20001);
  CHECK_INT(o[1], 0x05000102);
  CHECK_INT(rmp_ump_upgrade_msg(&u, 0x20C20600, o), 2); /* the bank was used up */
  CHECK_INT(o[0], 0x40C20000);
  CHECK_INT(o[1], 0x06000000);
  /* RPN: CC 101, 100, 6 held; CC 38 makes the MT 4 RPN (bank = 101, index = 100) */
  CHECK_INT(rmp_ump_upgrade_msg(&u, 0x20B16500, o), 0);
  CHECK_INT(rmp_ump_upgrade_msg(&u, 0x20B16400, o), 0);
  CHECK_INT(rmp_ump_upgrade_msg(&u, 0x20B10640, o), 0);
  CHECK_INT(rmp_ump_upgrade_msg(&u, 0x20B12600, o), 2);
  CHECK_INT(o[0], 0x40210000);
  CHECK_INT(o[1], 0x80000000u);
  CHECK_INT(rmp_ump_upgrade_msg(&u, 0x20B16301, o), 0); /* now NRPN 1/2 */
  CHECK_INT(rmp_ump_upgrade_msg(&u, 0x20B16202, o), 0);
  CHECK_INT(rmp_ump_upgrade_msg(&u, 0x20B1067F, o), 0);
  CHECK_INT(rmp_ump_upgrade_msg(&u, 0x20B1267F, o), 2);
  CHECK_INT(o[0], 0x40310102);
  CHECK_INT(o[1], 0xFFFFFFFFu);
  /* CC 6 without a parameter selected is a plain controller (other channel) */
  CHECK_INT(rmp_ump_upgrade_msg(&u, 0x20B50640, o), 2);
  CHECK_INT(o[0], 0x40B50600);
  /* only MT 2 */
  CHECK_INT(rmp_ump_upgrade_msg(&u, 0x10F80000, o), 0);
}

static void test_up_down_roundtrip(void) {
  /* MT 2 -> MT 4 -> MT 2 gives back the MT 2 message (Note On velocity 0
   * comes back as Note Off velocity 0, the MIDI 1.0 meaning it had). */
  rmp_ump_upgrade u;
  rmp_ump_upgrade_init(&u);
  int bad = 0, count = 0;
  for (unsigned st = 0x8; st <= 0xE; st++)
    for (unsigned d1 = 0; d1 < 128; d1 += 7)
      for (unsigned d2 = 0; d2 < 128; d2++) {
        unsigned cc = st == 0xB ? d1 : 0;
        if (st == 0xB && (cc == 0 || cc == 32 || cc == 6 || cc == 38 || (cc >= 98 && cc <= 101))) continue;
        uint32_t w = 0x20000000u | (rnd() & 15) << 24 | st << 20 | (rnd() & 15) << 16 | d1 << 8 |
                     ((st == 0xC || st == 0xD) ? 0 : d2);
        uint32_t m2[2], back[4];
        if (rmp_ump_upgrade_msg(&u, w, m2) != 2) { bad++; continue; }
        int k = rmp_ump_downgrade_msg(m2, back);
        uint32_t want = w;
        if (st == 0x9 && d2 == 0) want = (w & ~0x00F00000u) | 0x00800000u;
        if (k != 1 || back[0] != want) bad++;
        count++;
      }
  CHECK_INT(bad, 0);
  CHECK(count > 10000);
  /* MT 4 with upscaled values -> MT 2 -> MT 4: the same MT 4 */
  bad = 0;
  for (int i = 0; i < 2000; i++) {
    unsigned g = rnd() & 15, ch = rnd() & 15;
    uint32_t m[2], mid[4], back[2];
    switch (rnd() % 4) {
    case 0: /* RPN / NRPN */
      m[0] = 0x40000000u | g << 24 | (rnd() & 1 ? 0x2u : 0x3u) << 20 | ch << 16 | (rnd() & 0x7F) << 8 | (rnd() & 0x7F);
      m[1] = rmp_ump_scale_up(rnd() & 0x3FFF, 14, 32);
      break;
    case 1: /* pitch bend */
      m[0] = 0x40E00000u | g << 24 | ch << 16;
      m[1] = rmp_ump_scale_up(rnd() & 0x3FFF, 14, 32);
      break;
    case 2: /* program with bank */
      m[0] = 0x40C00001u | g << 24 | ch << 16;
      m[1] = (rnd() & 0x7F) << 24 | (rnd() & 0x7F) << 8 | (rnd() & 0x7F);
      break;
    default: /* note on, velocity >= 1 after scaling */
      m[0] = 0x40900000u | g << 24 | ch << 16 | (rnd() & 0x7F) << 8;
      m[1] = rmp_ump_scale_up(1 + rnd() % 127, 7, 16) << 16;
      break;
    }
    int k = rmp_ump_downgrade_msg(m, mid), got = 0;
    for (int j = 0; j < k; j++) {
      int r = rmp_ump_upgrade_msg(&u, mid[j], back);
      if (r == 2) got++;
      else if (r != 0) bad++;
    }
    if (got != 1 || back[0] != m[0] || back[1] != m[1]) bad++;
  }
  CHECK_INT(bad, 0);
}

/* ---------- UMP Stream ---------- */

static void test_stream(void) {
  rmp_ump_endpoint ep = {"rtpmidi studio endpoint", "piid-0042", 2};
  /* Endpoint Discovery, UMP 1.1, filter 0x1F (Windows:
   * MIDI_ENDPOINT_DISCOVERY_MESSAGE_ALL_FILTER_FLAGS 0x1F) */
  const uint32_t disc[4] = {0xF0000101, 0x0000001F, 0, 0};
  uint32_t out[64];
  int n = rmp_ump_stream_answer(&ep, disc, 4, out, 64);
  /* info (4) + name of 23 octets in two packets (14 per packet) + piid (4) + config (4) */
  CHECK_INT(n, 4 + 8 + 4 + 4);
  /* Endpoint Info Notification (Zephyr make_endpoint_info): status 0x001, UMP
   * 1.1 in the low 16 bits; word 1: static blocks (bit 31), block count
   * (30..24), MIDI 2.0 (bit 9), MIDI 1.0 (bit 8) */
  CHECK_INT(out[0], 0xF0010101u);
  CHECK_INT(out[1], 0x81000300u);
  /* Endpoint Name: form start (1) then end (3) in bits 27..26, status 0x003 */
  CHECK_INT(out[4] >> 16, 0xF403);
  CHECK_INT(out[8] >> 16, 0xFC03);
  CHECK_INT(out[4] & 0xFFFF, 'r' << 8 | 't');
  char text[128];
  size_t tl = 0;
  CHECK_INT(rmp_ump_stream_text(out + 4, text, sizeof text, &tl), 0);
  CHECK_INT(rmp_ump_stream_text(out + 8, text, sizeof text, &tl), 1);
  CHECK(strcmp(text, "rtpmidi studio endpoint") == 0);
  CHECK_INT(out[12] >> 16, 0xF004); /* complete (form 0) product instance id */
  tl = 0;
  CHECK_INT(rmp_ump_stream_text(out + 12, text, sizeof text, &tl), 1);
  CHECK(strcmp(text, "piid-0042") == 0);
  CHECK_INT(out[16], 0xF0060200u); /* stream configuration: MIDI 2.0 */
  /* only the name */
  const uint32_t disc_name[4] = {0xF0000101, 0x04, 0, 0};
  CHECK_INT(rmp_ump_stream_answer(&ep, disc_name, 4, out, 64), 8);
  CHECK_INT(rmp_ump_stream_answer(&ep, disc_name, 4, out, 7), -1);
  /* Function Block Discovery, block 0xFF, filter info + name: Info (active,
   * block 0, UI hint and direction both ways; groups 0..15) and the name
   * (13 octets per packet, block number in byte 2) */
  const uint32_t fbd[4] = {0xF010FF03, 0, 0, 0};
  n = rmp_ump_stream_answer(&ep, fbd, 4, out, 64);
  CHECK_INT(n, 4 + 8);
  CHECK_INT(out[0], 0xF0118033u);
  CHECK_INT(out[1], 0x00100000u);
  CHECK_INT(out[4] >> 8, 0xF41200);
  tl = 0;
  rmp_ump_stream_text(out + 4, text, sizeof text, &tl);
  CHECK_INT(rmp_ump_stream_text(out + 8, text, sizeof text, &tl), 1);
  CHECK(strcmp(text, "rtpmidi studio endpoint") == 0);
  const uint32_t fbd7[4] = {0xF0100703, 0, 0, 0};
  CHECK_INT(rmp_ump_stream_answer(&ep, fbd7, 4, out, 64), 0); /* no block 7 */
  /* Stream Configuration Request for MIDI 1.0 */
  const uint32_t cfg[4] = {0xF0050100, 0, 0, 0};
  CHECK_INT(rmp_ump_stream_answer(&ep, cfg, 4, out, 64), 4);
  CHECK_INT(out[0], 0xF0060100u);
  /* not a discovery */
  const uint32_t note[2] = {0x40903C00, 0};
  CHECK_INT(rmp_ump_stream_answer(&ep, note, 2, out, 64), 0);
  CHECK_INT(rmp_ump_stream_answer(&ep, out, 4, out + 4, 60), 0); /* a notification */
  rmp_ump_endpoint none = {NULL, NULL, 1};
  CHECK_INT(rmp_ump_stream_answer(&none, disc, 4, out, 64), 8); /* info + config only */
  CHECK_INT(out[4], 0xF0060100u);
  const uint32_t note4[4] = {0x40903C00, 0, 0, 0};
  CHECK_INT(rmp_ump_stream_text(note4, text, sizeof text, &tl), -1);
}

int main(int argc, char **argv) {
  if (argc > 1) rng_state = strtoull(argv[1], NULL, 0) | 1;
  test_sizes();
  test_iterator();
  test_scaling();
  test_from_midi1();
  test_from_midi1_cap();
  test_to_midi1();
  test_roundtrip_bytes();
  test_upgrade();
  test_up_down_roundtrip();
  test_stream();
  return check_report();
}
