/* libFuzzer target: the UMP helpers (ump.c). Input: the first octet picks a
 * group; the rest is read twice, as big-endian UMP words and as a MIDI 1.0
 * byte stream.
 *
 * Words: the iterator covers the input exactly; every message converts to
 * at most RMP_UMP_MIDI1_MAX octets of MIDI 1.0, and those octets converted
 * back give one UMP form that converts to the same octets again; MT 4
 * down-converts and translates back up without leaving MT 4; stream
 * discovery answers are whole 4-word messages whose texts read back.
 * Bytes: MIDI 1.0 -> UMP gives whole messages of the chosen group, and
 * UMP -> MIDI 1.0 -> UMP is a fixed point. */
#include <string.h>

#include "fuzz_common.h"
#include "ump.h"

#define MAXW 1024

static uint32_t words[MAXW], again[MAXW * 3], third[MAXW * 3];
static uint8_t bytes[MAXW * 3 * RMP_UMP_MIDI1_MAX], bytes2[MAXW * 3 * RMP_UMP_MIDI1_MAX];

static size_t to_bytes(const uint32_t *w, size_t n, uint8_t *out, size_t cap) {
  rmp_ump_iter it;
  rmp_ump_iter_init(&it, w, n);
  const uint32_t *m;
  unsigned len;
  size_t k = 0;
  while (rmp_ump_next(&it, &m, &len) == 1) {
    int r = rmp_ump_to_midi1(m, len, out + k, cap - k);
    FUZZ_ASSERT(r >= 0 && r <= RMP_UMP_MIDI1_MAX);
    k += (size_t)r;
  }
  return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  unsigned group = data[0] & 15;
  const uint8_t *in = data + 1;
  size_t n = size - 1;

  /* ---- as words ---- */
  size_t nw = n / 4 < MAXW ? n / 4 : MAXW;
  rmp_ump_load_be(in, nw, words);
  rmp_ump_iter it;
  rmp_ump_iter_init(&it, words, nw);
  const uint32_t *m;
  unsigned len;
  size_t covered = 0;
  int rc;
  rmp_ump_upgrade up;
  rmp_ump_upgrade_init(&up);
  rmp_ump_endpoint ep = {"fuzz endpoint name that is long", "fuzz-piid", 2};
  while ((rc = rmp_ump_next(&it, &m, &len)) == 1) {
    FUZZ_ASSERT(m == words + covered && len == rmp_ump_words(m[0]));
    covered += len;
    uint8_t b[RMP_UMP_MIDI1_MAX];
    int k = rmp_ump_to_midi1(m, len, b, sizeof b);
    FUZZ_ASSERT(k >= 0);
    if (k > 0) {
      /* bytes -> UMP -> bytes: the same bytes, except a SysEx7 fragment
       * (no F0 and no F7) whose bytes are data without a status */
      rmp_ump_m1in c;
      rmp_ump_from_midi1_init(&c, rmp_ump_group(m[0]));
      uint32_t w[8];
      size_t used;
      size_t kw = rmp_ump_from_midi1(&c, b, (size_t)k, w, 8, &used);
      FUZZ_ASSERT(used == (size_t)k && rmp_ump_whole(w, kw));
      uint8_t b2[64];
      size_t k2 = to_bytes(w, kw, b2, sizeof b2);
      unsigned mt = rmp_ump_type(m[0]), st = (m[0] >> 20) & 0xF;
      if (mt != RMP_UMP_MT_DATA64) FUZZ_ASSERT(k2 == (size_t)k && memcmp(b, b2, k2) == 0);
      else if (st == RMP_UMP_SX_COMPLETE) FUZZ_ASSERT(k2 == (size_t)k && memcmp(b, b2, k2) == 0);
    }
    if (rmp_ump_type(m[0]) == RMP_UMP_MT_MIDI2) {
      uint32_t d[4], u2[2];
      int kd = rmp_ump_downgrade_msg(m, d);
      FUZZ_ASSERT(kd >= 0 && kd <= 4);
      for (int i = 0; i < kd; i++) {
        FUZZ_ASSERT(rmp_ump_type(d[i]) == RMP_UMP_MT_MIDI1);
        int ku = rmp_ump_upgrade_msg(&up, d[i], u2);
        FUZZ_ASSERT(ku == 0 || (ku == 2 && rmp_ump_type(u2[0]) == RMP_UMP_MT_MIDI2));
      }
    }
    if (rmp_ump_type(m[0]) == RMP_UMP_MT_STREAM) {
      uint32_t ans[64];
      int ka = rmp_ump_stream_answer(&ep, m, len, ans, 64);
      FUZZ_ASSERT(ka >= 0 && ka % 4 == 0);
      char text[128] = "";
      size_t tl = 0;
      for (int i = 0; i < ka; i += 4) {
        FUZZ_ASSERT(rmp_ump_type(ans[i]) == RMP_UMP_MT_STREAM);
        int t = rmp_ump_stream_text(ans + i, text, sizeof text, &tl);
        if (t == 1) FUZZ_ASSERT(strcmp(text, ep.name) == 0 || strcmp(text, ep.piid) == 0);
      }
      tl = 0;
      if (rmp_ump_stream_text(m, text, sizeof text, &tl) >= 0) FUZZ_ASSERT(tl < sizeof text && text[tl] == 0);
    }
  }
  if (rc == 0) FUZZ_ASSERT(covered == nw && rmp_ump_whole(words, nw));
  else FUZZ_ASSERT(rc == -1 && !rmp_ump_whole(words, nw));

  /* ---- as MIDI 1.0 bytes ---- */
  rmp_ump_m1in c;
  rmp_ump_from_midi1_init(&c, group);
  size_t used;
  size_t k = rmp_ump_from_midi1(&c, in, n, again, MAXW * 3, &used);
  FUZZ_ASSERT(used == n || k + 3 > MAXW * 3);
  FUZZ_ASSERT(rmp_ump_whole(again, k));
  rmp_ump_iter_init(&it, again, k);
  while (rmp_ump_next(&it, &m, &len) == 1) FUZZ_ASSERT(rmp_ump_group(m[0]) == group);
  /* what came out converts to bytes that convert to the same UMP again,
   * as long as every SysEx ended (an unfinished one is still held) */
  size_t kb = to_bytes(again, k, bytes, sizeof bytes);
  if (!c.in_sysex) {
    rmp_ump_m1in c2;
    rmp_ump_from_midi1_init(&c2, group);
    size_t k3 = rmp_ump_from_midi1(&c2, bytes, kb, third, MAXW * 3, &used);
    FUZZ_ASSERT(used == kb && c2.dropped == 0);
    FUZZ_ASSERT(k3 == k && memcmp(third, again, k * 4) == 0);
    size_t kb2 = to_bytes(third, k3, bytes2, sizeof bytes2);
    FUZZ_ASSERT(kb2 == kb && memcmp(bytes, bytes2, kb) == 0);
  }
  return 0;
}
