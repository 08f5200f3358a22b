/* RTP fixed header: hand-computed byte vectors (RFC 3550 5.1). */
#include "check.h"
#include "rtp.h"
#include <stdlib.h>

static void test_write(void) {
  uint8_t b[12];
  rmp_rtp_write_header(b, 96, true, 0x1234, 0xdeadbeef, 0x01020304);
  static const uint8_t want[12] = {
    0x80,             /* V=2 P=0 X=0 CC=0 */
    0xe0,             /* M=1 PT=96 (0x60) */
    0x12, 0x34,       /* sequence */
    0xde, 0xad, 0xbe, 0xef, /* timestamp */
    0x01, 0x02, 0x03, 0x04, /* SSRC */
  };
  CHECK_MEM(b, 12, want, 12);
}

static void test_parse_full(void) {
  /* V=2 P=1 X=1 CC=2, M=0 PT=97, seq 0xfffe, ts 7, ssrc 0xaabbccdd,
   * CSRC 1 and 2, extension profile 0xbede with 1 word, payload "hi",
   * then 2 octets of padding (the last says 2). */
  static const uint8_t pkt[] = {
    0xb2, 0x61, 0xff, 0xfe, 0, 0, 0, 7, 0xaa, 0xbb, 0xcc, 0xdd,
    0, 0, 0, 1, 0, 0, 0, 2,
    0xbe, 0xde, 0x00, 0x01, 1, 2, 3, 4,
    'h', 'i', 0x00, 0x02,
  };
  rmp_rtp_header h;
  int off = rmp_rtp_parse(pkt, sizeof pkt, &h);
  CHECK_INT(off, 28);
  CHECK(h.padding && h.extension && !h.marker);
  CHECK_INT(h.payload_type, 97);
  CHECK_INT(h.sequence, 0xfffe);
  CHECK_INT(h.timestamp, 7);
  CHECK_INT(h.ssrc, 0xaabbccdd);
  CHECK_INT(h.csrc_count, 2);
  CHECK_INT(h.csrc[1], 2);
  CHECK_INT(h.ext_profile, 0xbede);
  CHECK_INT(h.ext_words, 1);
  CHECK_INT(h.payload_offset, 28);
  CHECK_INT(h.payload_len, 2);
  CHECK_MEM(pkt + h.payload_offset, h.payload_len, "hi", 2);

  /* Every truncation is rejected, never read past (ASan watches). */
  for (size_t n = 0; n < sizeof pkt; n++) {
    uint8_t *copy = malloc(n ? n : 1);
    memcpy(copy, pkt, n);
    int r = rmp_rtp_parse(copy, n, &h);
    CHECK(r < 0);
    free(copy);
  }
}

static void test_errors(void) {
  rmp_rtp_header h;
  uint8_t v1[12] = {0x40, 0x60};
  CHECK_INT(rmp_rtp_parse(v1, 12, &h), RMP_ERTP_VERSION);
  uint8_t rtcp[12] = {0x80, 0xc8}; /* PT 200 = SR: 0xc8 & 0x7f = 72 */
  CHECK_INT(rmp_rtp_parse(rtcp, 12, &h), RMP_ERTP_RTCP);
  uint8_t pad0[13] = {0xa0, 0x60};
  pad0[12] = 0;
  CHECK_INT(rmp_rtp_parse(pad0, 13, &h), RMP_ERTP_PADDING);
  uint8_t padbig[13] = {0xa0, 0x60};
  padbig[12] = 5;
  CHECK_INT(rmp_rtp_parse(padbig, 13, &h), RMP_ERTP_PADDING);
  CHECK(rmp_rtp_strerror(RMP_ERTP_SHORT)[0] != 0);
}

/* A packet (ts, its last command end ticks after it) arrives at now at
 * 10 kHz; then the anchor is at anchor_ts and ts + end maps to local. */
#define ARRIVE(a, ts, end, now, want_anchor_ts, want_local) do { \
    rmp_ts_anchor_update(&(a), ts, end, now, 10000.0); \
    CHECK_INT((a).anchor_ts, want_anchor_ts); \
    CHECK(rmp_ts_anchor_local(&(a), (a).ext_ts + (end), 10000.0) == (want_local)); \
  } while (0)

static void test_anchor(void) {
  rmp_ts_anchor a = {0};
  /* The first packet anchors: its timestamp is now. */
  ARRIVE(a, 1000, 0, 500.0, 1000, 500.0);
  CHECK(a.anchored);
  CHECK(rmp_ts_anchor_local(&a, 1100, 10000.0) == 510.0);
  /* 20 ms of RTP time 30 ms later: more transit, the anchor stays. */
  ARRIVE(a, 1200, 0, 530.0, 1000, 520.0);
  /* Its last command 10 ms after its timestamp, 5 ms later: less transit
   * (it would map into the future), the anchor moves to that command. */
  ARRIVE(a, 1300, 100, 535.0, 1400, 535.0);
  /* 10 ms of RTP time 2.5 s later: over 2 s late, re-anchored. */
  ARRIVE(a, 1500, 0, 3045.0, 1500, 3045.0);
  /* 1.5 s late is kept: jitter, not a jump. */
  ARRIVE(a, 1600, 0, 4555.0, 1500, 3055.0);
}

/* The 32-bit timestamp wraps; the unwrapped one goes on. */
static void test_anchor_wrap(void) {
  rmp_ts_anchor a = {0};
  rmp_ts_anchor_update(&a, 0xffffff00u, 0, 100.0, 1000.0);
  CHECK_INT(a.ext_ts, 0xffffff00u);
  rmp_ts_anchor_update(&a, 0x00000010u, 0, 400.0, 1000.0);
  CHECK_INT(a.ext_ts, 0x100000010ll);
  CHECK_INT(a.anchor_ts, 0xffffff00u);
  CHECK(rmp_ts_anchor_local(&a, a.ext_ts, 1000.0) == 372.0);
  /* and back across it: an older packet comes out before the anchor */
  rmp_ts_anchor_update(&a, 0xfffffff0u, 0, 410.0, 1000.0);
  CHECK_INT(a.ext_ts, 0xfffffff0u);
  CHECK(rmp_ts_anchor_local(&a, a.ext_ts, 1000.0) == 340.0);
}

int main(void) {
  test_write();
  test_parse_full();
  test_errors();
  test_anchor();
  test_anchor_wrap();
  return check_report();
}
