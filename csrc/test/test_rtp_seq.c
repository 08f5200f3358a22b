/* Tests for rtp_seq: RFC 3550 A.1 probation/wrap/resync/misorder, A.3 loss
 * and fraction, A.8 jitter against hand-computed values. */
#include "check.h"
#include "rtp_seq.h"

static void test_probation(void) {
  rmp_seq_t s;
  uint32_t ext = 0;
  rmp_seq_init(&s, RMP_SEQ_MIN_SEQUENTIAL);
  CHECK_INT(rmp_seq_update(&s, 100, &ext), RMP_SEQ_PROBATION);
  CHECK_INT(rmp_seq_expected(&s), 0);
  CHECK_INT(rmp_seq_update(&s, 101, &ext), RMP_SEQ_VALID);
  CHECK_INT(ext, 101);
  CHECK_INT(s.base_seq, 101); /* A.1: the run starts at the validating packet */
  CHECK_INT(s.received, 1);
  CHECK_INT(rmp_seq_expected(&s), 1);
  CHECK_INT(rmp_seq_update(&s, 102, &ext), RMP_SEQ_VALID);
  CHECK_INT(ext, 102);
  CHECK_INT(rmp_seq_expected(&s), 2);
  CHECK_INT(rmp_seq_cumulative_lost(&s), 0);

  /* Broken probation: a non-sequential packet restarts it. */
  rmp_seq_init(&s, 2);
  CHECK_INT(rmp_seq_update(&s, 100, &ext), RMP_SEQ_PROBATION);
  CHECK_INT(rmp_seq_update(&s, 200, &ext), RMP_SEQ_PROBATION);
  CHECK_INT(rmp_seq_update(&s, 201, &ext), RMP_SEQ_VALID);
  CHECK_INT(ext, 201);

  /* Probation across the 16-bit wrap: 65535 then 0 is in sequence. */
  rmp_seq_init(&s, 2);
  CHECK_INT(rmp_seq_update(&s, 65535, &ext), RMP_SEQ_PROBATION);
  CHECK_INT(rmp_seq_update(&s, 0, &ext), RMP_SEQ_VALID);
  CHECK_INT(ext, 0); /* restarts with cycles 0 at seq 0 */

  /* Longer probation. */
  rmp_seq_init(&s, 3);
  CHECK_INT(rmp_seq_update(&s, 7, &ext), RMP_SEQ_PROBATION);
  CHECK_INT(rmp_seq_update(&s, 8, &ext), RMP_SEQ_PROBATION);
  CHECK_INT(rmp_seq_update(&s, 9, &ext), RMP_SEQ_VALID);

  /* min_sequential 0/1: first packet accepted. */
  rmp_seq_init(&s, 0);
  CHECK_INT(rmp_seq_update(&s, 42, &ext), RMP_SEQ_VALID);
  CHECK_INT(ext, 42);
  CHECK_INT(s.received, 1);
  rmp_seq_init(&s, 1);
  CHECK_INT(rmp_seq_update(&s, 0, NULL), RMP_SEQ_VALID);
}

static void test_wrap(void) {
  rmp_seq_t s;
  uint32_t ext = 0;
  rmp_seq_init(&s, 1);
  CHECK_INT(rmp_seq_update(&s, 65534, &ext), RMP_SEQ_VALID);
  CHECK_INT(ext, 65534);
  CHECK_INT(rmp_seq_update(&s, 65535, &ext), RMP_SEQ_VALID);
  CHECK_INT(ext, 65535);
  CHECK_INT(rmp_seq_update(&s, 0, &ext), RMP_SEQ_VALID);
  CHECK_INT(ext, 65536);
  CHECK_INT(s.cycles, 65536);
  CHECK_INT(rmp_seq_update(&s, 1, &ext), RMP_SEQ_VALID);
  CHECK_INT(ext, 65537);
  CHECK_INT(rmp_seq_ext_max(&s), 65537);
  CHECK_INT(rmp_seq_expected(&s), 4);
  /* misordered packet from before the wrap: 65535 arrives again late */
  CHECK_INT(rmp_seq_update(&s, 65533, &ext), RMP_SEQ_MISORDERED);
  CHECK_INT(ext, 65533);
  /* gap across the wrap: 1 -> 5 (3 lost) */
  CHECK_INT(rmp_seq_update(&s, 5, &ext), RMP_SEQ_VALID);
  CHECK_INT(ext, 65541);
  /* gap that wraps: max 5 -> 65535 would be a step back of 6: misorder */
  CHECK_INT(rmp_seq_update(&s, 65535, &ext), RMP_SEQ_MISORDERED);
  CHECK_INT(ext, 65535);

  /* Second wrap, jumping over 0 with a gap: 65530 -> 3 (udelta 9). */
  rmp_seq_init(&s, 1);
  s.cycles = 0; /* explicit */
  CHECK_INT(rmp_seq_update(&s, 65530, &ext), RMP_SEQ_VALID);
  CHECK_INT(rmp_seq_update(&s, 3, &ext), RMP_SEQ_VALID);
  CHECK_INT(ext, 65536 + 3);
  CHECK_INT(rmp_seq_expected(&s), 10);
  CHECK_INT(rmp_seq_cumulative_lost(&s), 8);

  /* Extended numbers near the 32-bit top keep counting modulo 2^32. */
  rmp_seq_init(&s, 1);
  CHECK_INT(rmp_seq_update(&s, 65535, &ext), RMP_SEQ_VALID);
  s.cycles = 0xFFFF0000u; /* as if 65535 wraps already happened */
  CHECK_INT(rmp_seq_ext_max(&s), 0xFFFFFFFFu);
  CHECK_INT(rmp_seq_update(&s, 0, &ext), RMP_SEQ_VALID);
  CHECK_INT(ext, 0); /* 0xFFFFFFFF + 1 mod 2^32 */
}

static void test_loss_and_fraction(void) {
  rmp_seq_t s;
  rmp_seq_report_t r;
  rmp_seq_init(&s, 1);
  rmp_seq_update(&s, 10, NULL);
  rmp_seq_update(&s, 11, NULL);
  rmp_seq_update(&s, 14, NULL); /* 12, 13 lost */
  CHECK_INT(rmp_seq_expected(&s), 5);
  CHECK_INT(s.received, 3);
  rmp_seq_report(&s, &r);
  CHECK_INT(r.cumulative_lost, 2);
  CHECK_INT(r.fraction_lost, 102); /* (2 << 8) / 5 = 512 / 5 = 102 */
  CHECK_INT(r.ext_highest_seq, 14);
  CHECK_INT(r.expected, 5);
  CHECK_INT(r.received, 3);
  rmp_seq_update(&s, 15, NULL);
  rmp_seq_update(&s, 16, NULL);
  rmp_seq_report(&s, &r);
  CHECK_INT(r.fraction_lost, 0); /* interval: expected 2, received 2 */
  CHECK_INT(r.cumulative_lost, 2);
  CHECK_INT(r.ext_highest_seq, 16);
  /* Interval with 3 of 4 lost: 17 lost, 18 lost, 19 lost, 20 received. */
  rmp_seq_update(&s, 20, NULL);
  rmp_seq_report(&s, &r);
  CHECK_INT(r.fraction_lost, 192); /* (3 << 8) / 4 */
  CHECK_INT(r.cumulative_lost, 5);
  /* Empty interval: nothing expected -> fraction 0. */
  rmp_seq_report(&s, &r);
  CHECK_INT(r.fraction_lost, 0);
  /* Duplicates make the interval's loss negative -> fraction 0, and can
   * make the cumulative count go down (A.3). */
  rmp_seq_update(&s, 21, NULL);
  rmp_seq_update(&s, 21, NULL);
  rmp_seq_update(&s, 21, NULL);
  rmp_seq_report(&s, &r);
  CHECK_INT(r.fraction_lost, 0);
  CHECK_INT(r.cumulative_lost, 3);

  /* Clamping of the 24-bit cumulative count. */
  rmp_seq_init(&s, 1);
  rmp_seq_update(&s, 0, NULL);
  s.cycles = 200u * 65536u; /* expected ~ 13.1M, received 1 */
  CHECK_INT(rmp_seq_cumulative_lost(&s), 0x7fffff);
  s.cycles = 0;
  s.received = 0x01000000u; /* far more received than expected */
  CHECK_INT(rmp_seq_cumulative_lost(&s), -0x800000);
}

static void test_resync(void) {
  rmp_seq_t s;
  uint32_t ext = 0;
  rmp_seq_init(&s, 1);
  CHECK_INT(rmp_seq_update(&s, 1000, &ext), RMP_SEQ_VALID);
  CHECK_INT(rmp_seq_update(&s, 1001, &ext), RMP_SEQ_VALID);
  /* Jump of 2999 is still accepted (udelta < MAX_DROPOUT). */
  CHECK_INT(rmp_seq_update(&s, 4000, &ext), RMP_SEQ_VALID);
  CHECK_INT(ext, 4000);
  /* Jump of 3000 is too large: bad, remembered as bad_seq = 7001. */
  CHECK_INT(rmp_seq_update(&s, 7000, &ext), RMP_SEQ_BAD);
  CHECK_INT(s.bad_seq, 7001);
  CHECK_INT(s.received, 3);
  CHECK_INT(rmp_seq_ext_max(&s), 4000);
  /* Not the successor: another bad one. */
  CHECK_INT(rmp_seq_update(&s, 9000, &ext), RMP_SEQ_BAD);
  CHECK_INT(s.bad_seq, 9001);
  /* Normal traffic continues unaffected. */
  CHECK_INT(rmp_seq_update(&s, 4001, &ext), RMP_SEQ_VALID);
  /* Two sequential packets after a jump: re-sync. */
  CHECK_INT(rmp_seq_update(&s, 20000, &ext), RMP_SEQ_BAD);
  CHECK_INT(rmp_seq_update(&s, 20001, &ext), RMP_SEQ_RESYNC);
  CHECK_INT(ext, 20001);
  CHECK_INT(s.base_seq, 20001);
  CHECK_INT(s.received, 1);
  CHECK_INT(rmp_seq_expected(&s), 1);
  CHECK_INT(rmp_seq_update(&s, 20002, &ext), RMP_SEQ_VALID);
  CHECK_INT(ext, 20002);
  /* bad_seq wraps: jump to 65535, then 0 re-syncs. */
  CHECK_INT(rmp_seq_update(&s, 65535, &ext), RMP_SEQ_BAD);
  CHECK_INT(s.bad_seq, 0);
  CHECK_INT(rmp_seq_update(&s, 0, &ext), RMP_SEQ_RESYNC);
  CHECK_INT(ext, 0);
  /* A step back larger than MAX_MISORDER is a large jump, not misorder. */
  rmp_seq_init(&s, 1);
  rmp_seq_update(&s, 500, NULL);
  /* udelta = 65536 - back; A.1 treats udelta <= 65536 - MAX_MISORDER as a
   * jump, so a step back of 99 is misorder and a step back of 100 is not. */
  CHECK_INT(rmp_seq_update(&s, 401, &ext), RMP_SEQ_MISORDERED); /* back 99 */
  CHECK_INT(ext, 401);
  CHECK_INT(rmp_seq_update(&s, 400, &ext), RMP_SEQ_BAD);        /* back 100 */
}

static void test_misorder_dup(void) {
  rmp_seq_t s;
  uint32_t ext = 0;
  rmp_seq_init(&s, 1);
  rmp_seq_update(&s, 10, NULL);
  rmp_seq_update(&s, 11, NULL);
  CHECK_INT(rmp_seq_update(&s, 13, &ext), RMP_SEQ_VALID);
  CHECK_INT(rmp_seq_update(&s, 12, &ext), RMP_SEQ_MISORDERED);
  CHECK_INT(ext, 12);
  CHECK_INT(rmp_seq_ext_max(&s), 13); /* highest unchanged */
  CHECK_INT(s.received, 4);
  CHECK_INT(rmp_seq_cumulative_lost(&s), 0);
  CHECK_INT(rmp_seq_update(&s, 13, &ext), RMP_SEQ_MISORDERED); /* duplicate of highest */
  CHECK_INT(ext, 13);
  CHECK_INT(s.received, 5);
  CHECK_INT(rmp_seq_cumulative_lost(&s), -1);
}

static void test_jitter(void) {
  /* Clock 1000 Hz: one RTP unit = 1 ms. Packets every 100 units; transit
   * times 1000, 1080, 1000, 1160 -> D = 80, 80, 160.
   * Integer A.8 (J16 = 16*J):  J16 += |D| - ((J16 + 8) >> 4)
   *   80  - (8 >> 4 = 0)    -> 80
   *   80  - (88 >> 4 = 5)   -> 155
   *   160 - (163 >> 4 = 10) -> 305  => J = 305 >> 4 = 19
   * Float A.8: 5, 9.6875, 19.08 -> 19. */
  rmp_seq_t s;
  uint32_t ext;
  rmp_seq_init(&s, 1);
  CHECK_INT(rmp_seq_receive(&s, 1, 0, 1000000, 1000, &ext), RMP_SEQ_VALID);
  CHECK_INT(s.jitter, 0);
  CHECK_INT(rmp_seq_receive(&s, 2, 100, 1180000, 1000, &ext), RMP_SEQ_VALID);
  CHECK_INT(s.jitter, 80);
  CHECK_INT(rmp_seq_receive(&s, 3, 200, 1200000, 1000, &ext), RMP_SEQ_VALID);
  CHECK_INT(s.jitter, 155);
  CHECK_INT(rmp_seq_receive(&s, 4, 300, 1460000, 1000, &ext), RMP_SEQ_VALID);
  CHECK_INT(s.jitter, 305);
  CHECK_INT(rmp_seq_jitter_value(&s), 19);
  rmp_seq_report_t r;
  rmp_seq_report(&s, &r);
  CHECK_INT(r.jitter, 19);

  /* Packets during probation and bad packets do not touch the jitter. */
  rmp_seq_init(&s, 2);
  CHECK_INT(rmp_seq_receive(&s, 1, 0, 5000000, 1000, &ext), RMP_SEQ_PROBATION);
  CHECK_INT(s.have_transit, 0);
  CHECK_INT(rmp_seq_receive(&s, 2, 100, 5100000, 1000, &ext), RMP_SEQ_VALID);
  CHECK_INT(s.have_transit, 1);
  CHECK_INT(rmp_seq_receive(&s, 9000, 999999, 5200000, 1000, &ext), RMP_SEQ_BAD);
  CHECK_INT(s.jitter, 0);
  /* Constant transit: jitter stays 0 (RTP ts wraps 2^32 too). */
  rmp_seq_init(&s, 1);
  rmp_seq_receive(&s, 1, 0xFFFFFF00u, 0, 1000, &ext);
  rmp_seq_receive(&s, 2, 0x00000000u, 256000, 1000, &ext); /* +256 units */
  CHECK_INT(s.jitter, 0);
  /* Arrival earlier than expected counts the same: |D| = 16 -> J16 = 16. */
  rmp_seq_receive(&s, 3, 0x00000100u, 496000, 1000, &ext);
  CHECK_INT(s.jitter, 16);
  CHECK_INT(rmp_seq_jitter_value(&s), 1);
}

static void test_us_to_rtp(void) {
  CHECK_INT(rmp_seq_us_to_rtp(0, 44100), 0);
  CHECK_INT(rmp_seq_us_to_rtp(1000000, 44100), 44100);
  CHECK_INT(rmp_seq_us_to_rtp(1500000, 44100), 66150);
  CHECK_INT(rmp_seq_us_to_rtp(10, 10000), 0);     /* 0.1 unit truncates */
  CHECK_INT(rmp_seq_us_to_rtp(100, 10000), 1);
  /* 100000 s at 90 kHz = 9e9 units, mod 2^32 = 9000000000 - 2*4294967296 */
  CHECK_INT(rmp_seq_us_to_rtp(100000000000ull, 90000), 410065408u);
  /* no overflow for huge times: 2^63 us, rate 1 Hz -> floor(2^63 / 1e6) mod 2^32 */
  CHECK_INT(rmp_seq_us_to_rtp(9223372036854775808ull, 1), (uint32_t)9223372036854ull);
}

int main(void) {
  test_probation();
  test_wrap();
  test_loss_and_fraction();
  test_resync();
  test_misorder_dup();
  test_jitter();
  test_us_to_rtp();
  return check_report();
}
