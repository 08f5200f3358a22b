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

int main(void) {
  test_write();
  test_parse_full();
  test_errors();
  return check_report();
}
