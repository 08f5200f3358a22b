/* Tests for rtp_seq: RFC 3550 A.1 probation/wrap/resync/misorder, A.3 loss
 * and fraction, A.8 jitter against hand-computed values. */
#include "check.h"
#include "rtp_seq.h"

/* The first packet released by the last update: before (1) or after (2)
 * the one classified, 0 when none; its extended number in *ext. */
enum { REL_NONE = 0, REL_BEFORE = 1, REL_AFTER = 2 };
static int released(const rmp_seq_t *s, uint32_t *ext) {
  if (!s->n_release) return REL_NONE;
  if (ext) *ext = s->release[0].ext;
  return s->release[0].before ? REL_BEFORE : REL_AFTER;
}

/* rmp_seq_hold_expire, with the packet taken in *ext. */
static bool expire(rmp_seq_t *s, uint64_t now, uint32_t *ext) {
  if (!rmp_seq_hold_expire(s, now)) return false;
  *ext = s->release[0].ext;
  return true;
}

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
  /* gap across the wrap: 1 -> 5 (3 lost), held until 6 confirms it */
  CHECK_INT(rmp_seq_update(&s, 5, &ext), RMP_SEQ_HELD);
  CHECK_INT(ext, 65541);
  CHECK_INT(rmp_seq_ext_max(&s), 65537);
  CHECK_INT(rmp_seq_update(&s, 6, &ext), RMP_SEQ_VALID);
  CHECK_INT(ext, 65542);
  CHECK_INT(released(&s, &ext), REL_BEFORE);
  CHECK_INT(ext, 65541);
  /* gap that wraps: max 6 -> 65535 would be a step back of 7: misorder */
  CHECK_INT(rmp_seq_update(&s, 65535, &ext), RMP_SEQ_MISORDERED);
  CHECK_INT(ext, 65535);
  CHECK_INT(released(&s, NULL), REL_NONE);

  /* Second wrap, jumping over 0 with a gap: 65530 -> 3 (udelta 9). */
  rmp_seq_init(&s, 1);
  s.cycles = 0; /* explicit */
  CHECK_INT(rmp_seq_update(&s, 65530, &ext), RMP_SEQ_VALID);
  CHECK_INT(rmp_seq_update(&s, 3, &ext), RMP_SEQ_HELD);
  CHECK_INT(ext, 65536 + 3);
  CHECK_INT(rmp_seq_update(&s, 4, &ext), RMP_SEQ_VALID);
  CHECK_INT(ext, 65536 + 4);
  CHECK_INT(released(&s, &ext), REL_BEFORE);
  CHECK_INT(ext, 65536 + 3);
  CHECK_INT(rmp_seq_expected(&s), 11);
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
  rmp_seq_update(&s, 14, NULL); /* 12, 13 lost; 14 held */
  CHECK_INT(rmp_seq_update(&s, 15, NULL), RMP_SEQ_VALID); /* ... and confirmed */
  CHECK_INT(rmp_seq_expected(&s), 6);
  CHECK_INT(s.received, 4);
  rmp_seq_report(&s, &r);
  CHECK_INT(r.cumulative_lost, 2);
  CHECK_INT(r.fraction_lost, 85); /* (2 << 8) / 6 = 512 / 6 = 85 */
  CHECK_INT(r.ext_highest_seq, 15);
  CHECK_INT(r.expected, 6);
  CHECK_INT(r.received, 4);
  rmp_seq_update(&s, 16, NULL);
  rmp_seq_update(&s, 17, NULL);
  rmp_seq_report(&s, &r);
  CHECK_INT(r.fraction_lost, 0); /* interval: expected 2, received 2 */
  CHECK_INT(r.cumulative_lost, 2);
  CHECK_INT(r.ext_highest_seq, 17);
  /* Interval with 3 of 5 lost: 18, 19, 20 lost, 21 and 22 received. */
  rmp_seq_update(&s, 21, NULL);
  rmp_seq_update(&s, 22, NULL);
  rmp_seq_report(&s, &r);
  CHECK_INT(r.fraction_lost, 153); /* (3 << 8) / 5 */
  CHECK_INT(r.cumulative_lost, 5);
  /* Empty interval: nothing expected -> fraction 0. */
  rmp_seq_report(&s, &r);
  CHECK_INT(r.fraction_lost, 0);
  /* Duplicates make the interval's loss negative -> fraction 0, and can
   * make the cumulative count go down (A.3). */
  rmp_seq_update(&s, 23, NULL);
  rmp_seq_update(&s, 23, NULL);
  rmp_seq_update(&s, 23, NULL);
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
  /* Jump of 2999 is still a loss (udelta < MAX_DROPOUT), once confirmed. */
  CHECK_INT(rmp_seq_update(&s, 4000, &ext), RMP_SEQ_HELD);
  CHECK_INT(ext, 4000);
  CHECK_INT(rmp_seq_update(&s, 4001, &ext), RMP_SEQ_VALID);
  CHECK_INT(ext, 4001);
  CHECK_INT(released(&s, &ext), REL_BEFORE);
  CHECK_INT(ext, 4000);
  /* Jump of 3000 is too large: bad, remembered as bad_seq = 7002. */
  CHECK_INT(rmp_seq_update(&s, 7001, &ext), RMP_SEQ_BAD);
  CHECK_INT(s.bad_seq, 7002);
  CHECK_INT(s.received, 4);
  CHECK_INT(rmp_seq_ext_max(&s), 4001);
  /* Not the successor: another bad one. */
  CHECK_INT(rmp_seq_update(&s, 9000, &ext), RMP_SEQ_BAD);
  CHECK_INT(s.bad_seq, 9001);
  /* Normal traffic continues unaffected (the far one stays held). */
  CHECK_INT(rmp_seq_update(&s, 4002, &ext), RMP_SEQ_VALID);
  CHECK_INT(released(&s, NULL), REL_NONE);
  /* Two sequential packets after a jump: re-sync, both counted (A.1 keeps
   * the first out; here it was held and is released before). */
  CHECK_INT(rmp_seq_update(&s, 20000, &ext), RMP_SEQ_BAD);
  CHECK_INT(rmp_seq_update(&s, 20001, &ext), RMP_SEQ_RESYNC);
  CHECK_INT(ext, 20001);
  CHECK_INT(released(&s, &ext), REL_BEFORE);
  CHECK_INT(ext, 20000);
  CHECK_INT(s.base_seq, 20000);
  CHECK_INT(s.received, 2);
  CHECK_INT(rmp_seq_expected(&s), 2);
  CHECK_INT(rmp_seq_update(&s, 20002, &ext), RMP_SEQ_VALID);
  CHECK_INT(ext, 20002);
  /* bad_seq wraps: jump to 65535, then 0 re-syncs; the held one's place is
   * just before 0 (mod 2^32). */
  CHECK_INT(rmp_seq_update(&s, 65535, &ext), RMP_SEQ_BAD);
  CHECK_INT(s.bad_seq, 0);
  CHECK_INT(rmp_seq_update(&s, 0, &ext), RMP_SEQ_RESYNC);
  CHECK_INT(ext, 65536);
  CHECK_INT(released(&s, &ext), REL_BEFORE);
  CHECK_INT(ext, 65535);
  /* A step back larger than MAX_MISORDER is a large jump, not misorder. */
  rmp_seq_init(&s, 1);
  rmp_seq_update(&s, 500, NULL);
  /* udelta = 65536 - back; A.1 treats udelta <= 65536 - MAX_MISORDER as a
   * jump, so a step back of 99 is misorder and a step back of 100 is not. */
  CHECK_INT(rmp_seq_update(&s, 401, &ext), RMP_SEQ_MISORDERED); /* back 99 */
  CHECK_INT(ext, 401);
  CHECK_INT(rmp_seq_update(&s, 400, &ext), RMP_SEQ_BAD);        /* back 100 */
}

/* Held jumps (rtp_seq.h): what one forged packet can do to a real stream. */
static void test_held_jumps(void) {
  rmp_seq_t s;
  uint32_t ext = 0;
  /* A forged packet 50 ahead: held; the real stream goes on, every packet
   * in sequence; when it gets there the forged one is dropped and the real
   * packet of that number counts. */
  rmp_seq_init(&s, 1);
  CHECK_INT(rmp_seq_update(&s, 100, &ext), RMP_SEQ_VALID);
  CHECK_INT(rmp_seq_update(&s, 150, &ext), RMP_SEQ_HELD);
  CHECK_INT(ext, 150);
  for (uint16_t q = 101; q <= 160; q++) {
    CHECK_INT(rmp_seq_update(&s, q, &ext), RMP_SEQ_VALID);
    CHECK_INT(ext, q);
    CHECK_INT(released(&s, NULL), REL_NONE);
  }
  CHECK_INT(s.held_dropped, 1);
  CHECK_INT(rmp_seq_cumulative_lost(&s), 0);
  /* Forged ones every three packets, never two in a row: nothing of the
   * real stream is lost, none of them counts. */
  for (uint16_t q = 161; q <= 400; q++) {
    if (q % 3 == 0) CHECK_INT(rmp_seq_update(&s, (uint16_t)(2 * q + 40), &ext), RMP_SEQ_HELD);
    CHECK_INT(rmp_seq_update(&s, q, &ext), RMP_SEQ_VALID);
    CHECK_INT(ext, q);
    CHECK_INT(released(&s, NULL), REL_NONE);
  }
  CHECK_INT(rmp_seq_cumulative_lost(&s), 0);
  CHECK_INT(s.received, 301);

  /* Two in a row (a loss, or a sniffer's pair) are a confirmed jump. */
  rmp_seq_init(&s, 1);
  rmp_seq_update(&s, 10, NULL);
  CHECK_INT(rmp_seq_update(&s, 30, &ext), RMP_SEQ_HELD);
  CHECK_INT(rmp_seq_update(&s, 31, &ext), RMP_SEQ_VALID);
  CHECK_INT(ext, 31);
  CHECK_INT(released(&s, &ext), REL_BEFORE);
  CHECK_INT(ext, 30);
  CHECK_INT(rmp_seq_cumulative_lost(&s), 19);

  /* Reordered: 501, 503, 502 -> 503 is released after 502. */
  rmp_seq_init(&s, 1);
  rmp_seq_update(&s, 501, NULL);
  CHECK_INT(rmp_seq_update(&s, 503, &ext), RMP_SEQ_HELD);
  CHECK_INT(ext, 503);
  CHECK_INT(rmp_seq_update(&s, 502, &ext), RMP_SEQ_VALID);
  CHECK_INT(ext, 502);
  CHECK_INT(released(&s, &ext), REL_AFTER);
  CHECK_INT(ext, 503);
  CHECK_INT(s.reordered, 1);
  CHECK_INT(rmp_seq_update(&s, 504, &ext), RMP_SEQ_VALID);
  CHECK_INT(s.received, 4);
  /* A loss and a reordering together: 1 lost, then 2, 4, 3 -> 2 and 4 held,
   * 3 joins them: all three count, in order, 4 after 3. */
  rmp_seq_init(&s, 1);
  rmp_seq_update(&s, 0, NULL);
  CHECK_INT(rmp_seq_update(&s, 2, &ext), RMP_SEQ_HELD);
  CHECK_INT(rmp_seq_update(&s, 4, &ext), RMP_SEQ_HELD);
  CHECK_INT(rmp_seq_update(&s, 3, &ext), RMP_SEQ_VALID);
  CHECK_INT(ext, 3);
  CHECK_INT(s.n_release, 2);
  CHECK_INT(s.release[0].ext, 2);
  CHECK_INT(s.release[0].before, 1);
  CHECK_INT(s.release[1].ext, 4);
  CHECK_INT(s.release[1].before, 0);
  CHECK_INT(rmp_seq_ext_max(&s), 4);
  CHECK_INT(s.reordered, 1);
  /* ... and the lost one, late: misordered. */
  CHECK_INT(rmp_seq_update(&s, 1, &ext), RMP_SEQ_MISORDERED);
  CHECK_INT(ext, 1);
  /* Two losses close together: 11 and 13 lost; 12 held alone, then 14, 15
   * in a row: 12 counts with them. */
  rmp_seq_init(&s, 1);
  rmp_seq_update(&s, 10, NULL);
  CHECK_INT(rmp_seq_update(&s, 12, &ext), RMP_SEQ_HELD);
  CHECK_INT(rmp_seq_update(&s, 14, &ext), RMP_SEQ_HELD);
  CHECK_INT(rmp_seq_update(&s, 15, &ext), RMP_SEQ_VALID);
  CHECK_INT(s.n_release, 2);
  CHECK_INT(s.release[0].ext, 12);
  CHECK_INT(s.release[1].ext, 14);
  CHECK(s.release[0].before && s.release[1].before);
  CHECK_INT(s.held_dropped, 0);
  /* A held packet at most MAX_REORDER ahead counts when the run reaches
   * it; one farther is dropped. */
  rmp_seq_init(&s, 1);
  rmp_seq_update(&s, 0, NULL);
  CHECK_INT(rmp_seq_update(&s, RMP_SEQ_MAX_REORDER, &ext), RMP_SEQ_HELD);
  for (uint16_t q = 1; q < RMP_SEQ_MAX_REORDER - 1; q++) rmp_seq_update(&s, q, NULL);
  CHECK_INT(rmp_seq_update(&s, RMP_SEQ_MAX_REORDER - 1, &ext), RMP_SEQ_VALID);
  CHECK_INT(released(&s, &ext), REL_AFTER);
  CHECK_INT(ext, RMP_SEQ_MAX_REORDER);
  rmp_seq_init(&s, 1);
  rmp_seq_update(&s, 0, NULL);
  CHECK_INT(rmp_seq_update(&s, RMP_SEQ_MAX_REORDER + 1, &ext), RMP_SEQ_HELD);
  for (uint16_t q = 1; q <= RMP_SEQ_MAX_REORDER; q++) {
    CHECK_INT(rmp_seq_update(&s, q, &ext), RMP_SEQ_VALID);
    CHECK_INT(released(&s, NULL), REL_NONE);
  }
  CHECK_INT(rmp_seq_update(&s, RMP_SEQ_MAX_REORDER + 1, &ext), RMP_SEQ_VALID);
  CHECK_INT(s.held_dropped, 1);
  /* Eight slots: a ninth jump pushes the oldest out. */
  rmp_seq_init(&s, 1);
  rmp_seq_update(&s, 0, NULL);
  for (unsigned k = 0; k < RMP_SEQ_HOLDS + 1; k++) {
    s.arrival_us = k;
    CHECK_INT(rmp_seq_update(&s, (uint16_t)(100 + 10 * k), &ext), RMP_SEQ_HELD);
  }
  CHECK_INT(s.held_dropped, 1);
  CHECK_INT(rmp_seq_update(&s, 121, &ext), RMP_SEQ_VALID); /* 120 is still there */
  CHECK_INT(s.n_release, 2); /* with 110, just before */
  CHECK_INT(s.release[0].ext, 110);
  CHECK_INT(s.release[1].ext, 120);
  CHECK_INT(rmp_seq_update(&s, 101, &ext), RMP_SEQ_MISORDERED); /* 100 went */

  /* A copy of a packet held is a duplicate and keeps the wait; a
   * duplicate of the highest leaves the hold alone. */
  rmp_seq_init(&s, 1);
  rmp_seq_set_hold(&s, 10000);
  CHECK_INT(rmp_seq_receive(&s, 7, 0, 1000, 10000, &ext), RMP_SEQ_VALID);
  CHECK_INT(rmp_seq_receive(&s, 9, 0, 2000, 10000, &ext), RMP_SEQ_HELD);
  CHECK_INT(rmp_seq_receive(&s, 9, 0, 5000, 10000, &ext), RMP_SEQ_HELD_DUP);
  CHECK_INT(s.held_duplicates, 1);
  CHECK_INT(rmp_seq_receive(&s, 7, 0, 6000, 10000, &ext), RMP_SEQ_MISORDERED);
  uint64_t at = 0;
  CHECK(rmp_seq_hold_deadline(&s, &at));
  CHECK_INT(at, 12000);
  CHECK_INT(s.held_dropped, 0);
  /* Without a limit there is no deadline. */
  rmp_seq_set_hold(&s, RMP_SEQ_HOLD_FOREVER);
  CHECK(!rmp_seq_hold_deadline(&s, &at));
  CHECK(!expire(&s, UINT64_MAX, &ext));
}

/* A held jump whose wait runs out is taken on trust; the run it left coming
 * back (two in a row) undoes it, the jump's own successor confirms it. */
static void test_hold_expiry(void) {
  rmp_seq_t s;
  uint32_t ext = 0;
  uint64_t at;
  /* A real loss followed by silence: 11 lost, 12 waits 5 ms, then counts. */
  rmp_seq_init(&s, 1);
  rmp_seq_set_hold(&s, 5000);
  CHECK_INT(rmp_seq_receive(&s, 10, 0, 100000, 10000, &ext), RMP_SEQ_VALID);
  CHECK(!rmp_seq_hold_deadline(&s, &at));
  CHECK_INT(rmp_seq_receive(&s, 12, 0, 200000, 10000, &ext), RMP_SEQ_HELD);
  CHECK(rmp_seq_hold_deadline(&s, &at));
  CHECK_INT(at, 205000);
  CHECK(!expire(&s, 204999, &ext));
  CHECK(expire(&s, 205000, &ext));
  CHECK_INT(ext, 12);
  CHECK(!rmp_seq_hold_deadline(&s, &at));
  CHECK_INT(rmp_seq_ext_max(&s), 12);
  CHECK_INT(rmp_seq_cumulative_lost(&s), 1);
  /* The peer goes on after it: confirmed, and 11 coming late is now only
   * misordered (late for a reorder buffer). */
  CHECK_INT(rmp_seq_receive(&s, 13, 0, 300000, 10000, &ext), RMP_SEQ_VALID);
  CHECK_INT(rmp_seq_receive(&s, 11, 0, 310000, 10000, &ext), RMP_SEQ_MISORDERED);
  CHECK_INT(rmp_seq_receive(&s, 12, 0, 310000, 10000, &ext), RMP_SEQ_MISORDERED);

  /* A forged jump of 40 in a silence, taken on trust: two packets in a row
   * of the run it left resync to it, the jump undone. */
  rmp_seq_init(&s, 1);
  rmp_seq_set_hold(&s, 5000);
  CHECK_INT(rmp_seq_receive(&s, 60000, 0, 0, 10000, &ext), RMP_SEQ_VALID);
  CHECK_INT(rmp_seq_receive(&s, 60040, 0, 1000, 10000, &ext), RMP_SEQ_HELD);
  CHECK(expire(&s, 6000, &ext));
  CHECK_INT(ext, 60040);
  /* 60001 lost as well: 60002 is of the old run (misordered), 60003 after it */
  CHECK_INT(rmp_seq_receive(&s, 60002, 0, 900000, 10000, &ext), RMP_SEQ_MISORDERED);
  CHECK_INT(rmp_seq_receive(&s, 60003, 0, 900000, 10000, &ext), RMP_SEQ_RESYNC);
  CHECK_INT(ext, 60003);
  CHECK(s.undo);
  CHECK_INT(s.undo_last, 60000);
  CHECK_INT(released(&s, NULL), REL_NONE);
  for (uint16_t q = 60004; q < 60100; q++) {
    CHECK_INT(rmp_seq_receive(&s, q, 0, 900000, 10000, &ext), RMP_SEQ_VALID);
    CHECK(!s.undo);
  }
  CHECK_INT(rmp_seq_cumulative_lost(&s), 0);
  /* The run went on while it waited: not a loss followed by silence, the
   * packet held is dropped. */
  rmp_seq_init(&s, 1);
  rmp_seq_set_hold(&s, 5000);
  rmp_seq_receive(&s, 1, 0, 0, 10000, &ext);
  CHECK_INT(rmp_seq_receive(&s, 50, 0, 0, 10000, &ext), RMP_SEQ_HELD);
  CHECK_INT(rmp_seq_receive(&s, 2, 0, 1000, 10000, &ext), RMP_SEQ_VALID);
  CHECK(!expire(&s, 6000, &ext));
  CHECK_INT(s.held_dropped, 1);
  CHECK(!rmp_seq_hold_deadline(&s, &at));

  /* Losses between packets that all waited through one silence (30% loss
   * while the sender waits for feedback): 11, 13 and 15 lost, 12, 14 and 16
   * held. The first taken on trust moves the highest, but the run did not
   * go on: the others are of the same stretch and count after it, in
   * order, rather than dropped as strays (a drop the relay never made: the
   * journal then repaired what these packets held, and issue 17's stream
   * counted a Stop replayed that no lost packet held). */
  rmp_seq_init(&s, 1);
  rmp_seq_set_hold(&s, 5000);
  CHECK_INT(rmp_seq_receive(&s, 10, 0, 0, 10000, &ext), RMP_SEQ_VALID);
  CHECK_INT(rmp_seq_receive(&s, 12, 0, 1000, 10000, &ext), RMP_SEQ_HELD);
  CHECK_INT(rmp_seq_receive(&s, 14, 0, 2000, 10000, &ext), RMP_SEQ_HELD);
  CHECK_INT(rmp_seq_receive(&s, 16, 0, 3000, 10000, &ext), RMP_SEQ_HELD);
  CHECK(expire(&s, 9000, &ext));
  CHECK_INT(ext, 12);
  CHECK(expire(&s, 9000, &ext));
  CHECK_INT(ext, 14);
  CHECK(expire(&s, 9000, &ext));
  CHECK_INT(ext, 16);
  CHECK(!expire(&s, 9000, &ext));
  CHECK_INT(s.held_dropped, 0);
  CHECK_INT(rmp_seq_ext_max(&s), 16);
  CHECK_INT(rmp_seq_receive(&s, 17, 0, 10000, 10000, &ext), RMP_SEQ_VALID);
  /* ... and one of them whose own wait has not run out waits on */
  rmp_seq_init(&s, 1);
  rmp_seq_set_hold(&s, 5000);
  rmp_seq_receive(&s, 10, 0, 0, 10000, &ext);
  CHECK_INT(rmp_seq_receive(&s, 12, 0, 1000, 10000, &ext), RMP_SEQ_HELD);
  CHECK_INT(rmp_seq_receive(&s, 14, 0, 4000, 10000, &ext), RMP_SEQ_HELD);
  CHECK(expire(&s, 6000, &ext));
  CHECK_INT(ext, 12);
  CHECK(!expire(&s, 6000, &ext));
  CHECK(rmp_seq_hold_deadline(&s, &at));
  CHECK_INT(at, 9000);
  CHECK_INT(rmp_seq_receive(&s, 15, 0, 7000, 10000, &ext), RMP_SEQ_VALID); /* confirms 14 */
  CHECK_INT(s.n_release, 1);
  CHECK_INT(s.release[0].ext, 14);
  CHECK_INT(s.held_dropped, 0);

  /* A wait of 0: every jump taken at once, on trust, undone the same way;
   * across the wrap the old run is found across it too. */
  rmp_seq_init(&s, 1);
  rmp_seq_set_hold(&s, 0);
  rmp_seq_receive(&s, 65530, 0, 0, 10000, &ext);
  CHECK_INT(rmp_seq_receive(&s, 20, 0, 0, 10000, &ext), RMP_SEQ_VALID);
  CHECK_INT(ext, 65536 + 20);
  CHECK_INT(rmp_seq_receive(&s, 65531, 0, 0, 10000, &ext), RMP_SEQ_MISORDERED);
  CHECK_INT(rmp_seq_receive(&s, 65532, 0, 0, 10000, &ext), RMP_SEQ_RESYNC);
  CHECK_INT(s.undo_last, 65530);
  /* ... while a packet after the jump confirms it: then the old run is
   * only misordered */
  rmp_seq_init(&s, 1);
  rmp_seq_set_hold(&s, 0);
  rmp_seq_receive(&s, 65530, 0, 0, 10000, &ext);
  CHECK_INT(rmp_seq_receive(&s, 20, 0, 0, 10000, &ext), RMP_SEQ_VALID);
  CHECK_INT(rmp_seq_receive(&s, 21, 0, 0, 10000, &ext), RMP_SEQ_VALID);
  CHECK_INT(rmp_seq_receive(&s, 65531, 0, 0, 10000, &ext), RMP_SEQ_MISORDERED);
  CHECK_INT(rmp_seq_receive(&s, 65532, 0, 0, 10000, &ext), RMP_SEQ_MISORDERED);
  CHECK_INT(ext, 65532);
  /* Two jumps on trust in a row: the first run left is the one that wins. */
  rmp_seq_init(&s, 1);
  rmp_seq_set_hold(&s, 0);
  rmp_seq_receive(&s, 1000, 0, 0, 10000, &ext);
  CHECK_INT(rmp_seq_receive(&s, 1050, 0, 0, 10000, &ext), RMP_SEQ_VALID);
  CHECK_INT(rmp_seq_receive(&s, 1090, 0, 0, 10000, &ext), RMP_SEQ_VALID);
  CHECK_INT(rmp_seq_receive(&s, 1001, 0, 0, 10000, &ext), RMP_SEQ_MISORDERED);
  CHECK_INT(rmp_seq_receive(&s, 1002, 0, 0, 10000, &ext), RMP_SEQ_RESYNC);
  CHECK_INT(s.undo_last, 1000);
  /* A very large jump never expires: A.1 wants two in sequence. */
  rmp_seq_init(&s, 1);
  rmp_seq_set_hold(&s, 0);
  rmp_seq_receive(&s, 1, 0, 0, 10000, &ext);
  CHECK_INT(rmp_seq_receive(&s, 30000, 0, 0, 10000, &ext), RMP_SEQ_BAD);
  CHECK(!rmp_seq_hold_deadline(&s, &at));
}

static void test_misorder_dup(void) {
  rmp_seq_t s;
  uint32_t ext = 0;
  rmp_seq_init(&s, 1);
  rmp_seq_update(&s, 10, NULL);
  rmp_seq_update(&s, 11, NULL);
  CHECK_INT(rmp_seq_update(&s, 13, &ext), RMP_SEQ_HELD);
  CHECK_INT(rmp_seq_update(&s, 12, &ext), RMP_SEQ_VALID);
  CHECK_INT(ext, 12);
  CHECK_INT(released(&s, &ext), REL_AFTER);
  CHECK_INT(ext, 13);
  CHECK_INT(rmp_seq_ext_max(&s), 13);
  CHECK_INT(s.received, 4);
  CHECK_INT(rmp_seq_update(&s, 12, &ext), RMP_SEQ_MISORDERED);
  CHECK_INT(ext, 12);
  CHECK_INT(rmp_seq_ext_max(&s), 13); /* highest unchanged */
  CHECK_INT(s.received, 5);
  CHECK_INT(rmp_seq_cumulative_lost(&s), -1); /* a duplicate (A.3) */
  CHECK_INT(rmp_seq_update(&s, 13, &ext), RMP_SEQ_MISORDERED); /* duplicate of highest */
  CHECK_INT(ext, 13);
  CHECK_INT(s.received, 6);
  CHECK_INT(rmp_seq_cumulative_lost(&s), -2);
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
  test_held_jumps();
  test_hold_expiry();
  test_misorder_dup();
  test_jitter();
  test_us_to_rtp();
  return check_report();
}
