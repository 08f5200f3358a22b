/* Tests for the reorder buffer. Build with rtp_seq.c as well (the last test
 * feeds it extended numbers produced by the sequence tracker):
 *   gcc ... -Icsrc/proto csrc/proto/jitter_buffer.c csrc/proto/rtp_seq.c \
 *       csrc/test/test_jitter_buffer.c */
#include "check.h"

#include <string.h>
#include "jitter_buffer.h"
#include "rtp_seq.h"

#define WAIT 10000u /* 10 ms */

static int payload[64]; /* distinct addresses used as opaque data */

/* Pop one packet and check its fields; returns 1 if one was popped. */
#define POP_EXPECT(jb, now, seq, lost, reord) do { \
    rmp_jb_out_t o_; \
    int r_ = rmp_jb_pop((jb), (now), &o_); \
    CHECK_INT(r_, 1); \
    if (r_ == 1) { \
      CHECK_INT(o_.e.ext_seq, (seq)); \
      CHECK_INT(o_.lost_before, (lost)); \
      CHECK_INT(o_.reordered, (reord)); \
    } \
  } while (0)

#define POP_NONE(jb, now) do { rmp_jb_out_t o_; CHECK_INT(rmp_jb_pop((jb), (now), &o_), 0); } while (0)

static void test_init(void) {
  rmp_jb_t jb;
  rmp_jb_slot_t slots[4];
  CHECK_INT(rmp_jb_init(&jb, slots, 0, WAIT), RMP_EJB_INVAL);
  CHECK_INT(rmp_jb_init(NULL, slots, 4, WAIT), RMP_EJB_INVAL);
  CHECK_INT(rmp_jb_init(&jb, slots, 4, WAIT), 0);
  uint64_t dl = 123;
  CHECK_INT(rmp_jb_next_deadline(&jb, &dl), 0);
  POP_NONE(&jb, 0);
}

/* No slot array (jitter_buffer_size 0, issue #20): the buffer's own
 * RMP_JB_INLINE slots. With no wait every packet goes out as it comes,
 * gaps declared lost at once; a duplicate of a packet just released is
 * still a duplicate; a jump far ahead is taken. */
static void test_inline_no_wait(void) {
  rmp_jb_t jb;
  CHECK_INT(rmp_jb_init(&jb, NULL, 128, 0), 0);
  CHECK(jb.slots == jb.inl);
  CHECK_INT(jb.cap, RMP_JB_INLINE);
  CHECK_INT(rmp_jb_push(&jb, 100, 1000, &payload[0]), RMP_JB_READY);
  POP_EXPECT(&jb, 1000, 100, 0, 0);
  CHECK_INT(rmp_jb_push(&jb, 101, 1001, &payload[1]), RMP_JB_READY);
  POP_EXPECT(&jb, 1001, 101, 0, 0);
  CHECK_INT(rmp_jb_push(&jb, 101, 1002, &payload[1]), RMP_EJB_DUPLICATE);
  CHECK_INT(rmp_jb_push(&jb, 100, 1002, &payload[0]), RMP_EJB_DUPLICATE);
  /* 102, 103 lost: 104 waits for nothing */
  CHECK_INT(rmp_jb_push(&jb, 104, 1003, &payload[4]), RMP_JB_QUEUED);
  POP_EXPECT(&jb, 1003, 104, 2, 0);
  CHECK_INT(rmp_jb_push(&jb, 103, 1004, &payload[3]), RMP_EJB_LATE);
  /* far ahead of the 4-slot window */
  CHECK_INT(rmp_jb_push(&jb, 1000, 1005, &payload[5]), RMP_JB_QUEUED);
  POP_EXPECT(&jb, 1005, 1000, 895, 0);
  POP_NONE(&jb, 1006);
  /* reset keeps the inline slots */
  CHECK_INT(rmp_jb_reset(&jb), 0);
  CHECK(jb.slots == jb.inl);
  CHECK_INT(rmp_jb_push(&jb, 7, 2000, &payload[7]), RMP_JB_READY);
  POP_EXPECT(&jb, 2000, 7, 0, 0);
  CHECK_INT(jb.stats.lost, 897);
}

static void test_in_order(void) {
  rmp_jb_t jb;
  rmp_jb_slot_t slots[8];
  rmp_jb_init(&jb, slots, 8, WAIT);
  for (uint32_t i = 0; i < 20; i++) {
    /* each packet is released immediately, before any time passes */
    CHECK_INT(rmp_jb_push(&jb, 100 + i, 1000 * i, &payload[i]), RMP_JB_READY);
    uint64_t dl = 99;
    CHECK_INT(rmp_jb_next_deadline(&jb, &dl), 1);
    CHECK_INT(dl, 0);
    rmp_jb_out_t o;
    CHECK_INT(rmp_jb_pop(&jb, 1000 * i, &o), 1);
    CHECK_INT(o.e.ext_seq, 100 + i);
    CHECK(o.e.data == &payload[i]);
    CHECK_INT(o.e.arrival_us, 1000 * i);
    CHECK_INT(o.lost_before, 0);
    CHECK_INT(o.reordered, 0);
    POP_NONE(&jb, 1000 * i);
    CHECK_INT(rmp_jb_next_deadline(&jb, &dl), 0);
  }
  CHECK_INT(jb.stats.released, 20);
  CHECK_INT(jb.stats.lost, 0);
  /* Several in-order pushes before a pop are all ready. */
  CHECK_INT(rmp_jb_push(&jb, 120, 0, NULL), RMP_JB_READY);
  CHECK_INT(rmp_jb_push(&jb, 121, 0, NULL), RMP_JB_READY);
  POP_EXPECT(&jb, 0, 120, 0, 0);
  POP_EXPECT(&jb, 0, 121, 0, 0);
  POP_NONE(&jb, 0);
}

static void test_reorder_within_wait(void) {
  rmp_jb_t jb;
  rmp_jb_slot_t slots[8];
  rmp_jb_init(&jb, slots, 8, WAIT);
  CHECK_INT(rmp_jb_push(&jb, 1, 0, NULL), RMP_JB_READY);
  POP_EXPECT(&jb, 0, 1, 0, 0);
  CHECK_INT(rmp_jb_push(&jb, 3, 1000, &payload[3]), RMP_JB_QUEUED);
  POP_NONE(&jb, 1000);
  uint64_t dl = 0;
  CHECK_INT(rmp_jb_next_deadline(&jb, &dl), 1);
  CHECK_INT(dl, 1000 + WAIT);
  CHECK_INT(rmp_jb_push(&jb, 4, 1500, &payload[4]), RMP_JB_QUEUED);
  CHECK_INT(rmp_jb_push(&jb, 2, 2000, &payload[2]), RMP_JB_READY);
  CHECK_INT(rmp_jb_count(&jb), 3);
  rmp_jb_out_t o;
  CHECK_INT(rmp_jb_pop(&jb, 2000, &o), 1);
  CHECK_INT(o.e.ext_seq, 2);
  CHECK(o.e.data == &payload[2]);
  CHECK_INT(o.reordered, 1); /* arrived after 3 and 4 */
  CHECK_INT(o.lost_before, 0);
  POP_EXPECT(&jb, 2000, 3, 0, 0);
  POP_EXPECT(&jb, 2000, 4, 0, 0);
  POP_NONE(&jb, 2000);
  CHECK_INT(jb.stats.reordered, 1);
  CHECK_INT(jb.stats.lost, 0);
  CHECK_INT(rmp_jb_count(&jb), 0);
}

static void test_loss_after_wait(void) {
  rmp_jb_t jb;
  rmp_jb_slot_t slots[8];
  rmp_jb_init(&jb, slots, 8, WAIT);
  rmp_jb_push(&jb, 1, 0, NULL);
  POP_EXPECT(&jb, 0, 1, 0, 0);
  CHECK_INT(rmp_jb_push(&jb, 3, 1000, NULL), RMP_JB_QUEUED); /* 2 missing */
  CHECK_INT(rmp_jb_push(&jb, 5, 3000, NULL), RMP_JB_QUEUED); /* 4 missing */
  POP_NONE(&jb, 1000 + WAIT - 1);
  uint64_t dl = 0;
  rmp_jb_next_deadline(&jb, &dl);
  CHECK_INT(dl, 1000 + WAIT);
  /* 3's wait runs out: 2 is lost; 5 still waits for 4. */
  POP_EXPECT(&jb, 1000 + WAIT, 3, 1, 0);
  POP_NONE(&jb, 1000 + WAIT);
  rmp_jb_next_deadline(&jb, &dl);
  CHECK_INT(dl, 3000 + WAIT);
  POP_NONE(&jb, 3000 + WAIT - 1);
  POP_EXPECT(&jb, 3000 + WAIT, 5, 1, 0);
  POP_NONE(&jb, 3000 + WAIT);
  CHECK_INT(jb.stats.lost, 2);
  /* The lost ones arriving now are late; the released ones duplicates. */
  CHECK_INT(rmp_jb_push(&jb, 2, 20000, NULL), RMP_EJB_LATE);
  CHECK_INT(rmp_jb_push(&jb, 4, 20000, NULL), RMP_EJB_LATE);
  CHECK_INT(rmp_jb_push(&jb, 3, 20000, NULL), RMP_EJB_DUPLICATE);
  CHECK_INT(rmp_jb_push(&jb, 5, 20000, NULL), RMP_EJB_DUPLICATE);
  CHECK_INT(rmp_jb_push(&jb, 1, 20000, NULL), RMP_EJB_DUPLICATE);
  CHECK_INT(jb.stats.late, 2);
  CHECK_INT(jb.stats.duplicate, 3);
  CHECK_INT(rmp_jb_count(&jb), 0);

  /* A burst loss of 4 (6..9), declared at once, reported on the next packet. */
  CHECK_INT(rmp_jb_push(&jb, 10, 30000, NULL), RMP_JB_QUEUED); /* 6..9 missing */
  POP_EXPECT(&jb, 30000 + WAIT, 10, 4, 0);

  /* A higher packet that arrived first waits only its own wait: 13 arrives
   * at t=100000, 12 at 105000, 11 never. When 13's wait ends, 11 is lost and
   * 12 and 13 are released even though 12 has waited only 5 ms. */
  CHECK_INT(rmp_jb_push(&jb, 13, 100000, NULL), RMP_JB_QUEUED);
  CHECK_INT(rmp_jb_push(&jb, 12, 105000, NULL), RMP_JB_QUEUED);
  rmp_jb_next_deadline(&jb, &dl);
  CHECK_INT(dl, 100000 + WAIT);
  POP_NONE(&jb, 100000 + WAIT - 1);
  POP_EXPECT(&jb, 100000 + WAIT, 12, 1, 1);
  POP_EXPECT(&jb, 100000 + WAIT, 13, 0, 0);
  POP_NONE(&jb, 100000 + WAIT);
  /* If the missing one arrives in time after all, nothing is lost. */
  CHECK_INT(rmp_jb_push(&jb, 16, 200000, NULL), RMP_JB_QUEUED);
  CHECK_INT(rmp_jb_push(&jb, 15, 201000, NULL), RMP_JB_QUEUED);
  CHECK_INT(rmp_jb_push(&jb, 14, 209999, NULL), RMP_JB_READY);
  POP_EXPECT(&jb, 209999, 14, 0, 1);
  POP_EXPECT(&jb, 209999, 15, 0, 1);
  POP_EXPECT(&jb, 209999, 16, 0, 0);
}

static void test_deadline_recompute(void) {
  rmp_jb_t jb;
  rmp_jb_slot_t slots[8];
  rmp_jb_init(&jb, slots, 8, WAIT);
  rmp_jb_push(&jb, 0, 0, NULL);
  POP_EXPECT(&jb, 0, 0, 0, 0);
  rmp_jb_push(&jb, 2, 1000, NULL);
  rmp_jb_push(&jb, 4, 2000, NULL);
  uint64_t dl = 0;
  rmp_jb_next_deadline(&jb, &dl);
  CHECK_INT(dl, 1000 + WAIT);
  CHECK_INT(rmp_jb_push(&jb, 1, 2500, NULL), RMP_JB_READY);
  POP_EXPECT(&jb, 2500, 1, 0, 1);
  POP_EXPECT(&jb, 2500, 2, 0, 0);
  POP_NONE(&jb, 2500);
  /* the earliest (2) is gone; now 4 (arrived 2000) decides */
  rmp_jb_next_deadline(&jb, &dl);
  CHECK_INT(dl, 2000 + WAIT);
}

static void test_duplicate_buffered(void) {
  rmp_jb_t jb;
  rmp_jb_slot_t slots[8];
  rmp_jb_init(&jb, slots, 8, WAIT);
  rmp_jb_push(&jb, 50, 0, NULL);
  CHECK_INT(rmp_jb_push(&jb, 52, 0, &payload[0]), RMP_JB_READY); /* 50 is ready */
  /* second copy rejected; the caller keeps (and frees) payload[1] */
  CHECK_INT(rmp_jb_push(&jb, 52, 10, &payload[1]), RMP_EJB_DUPLICATE);
  CHECK_INT(rmp_jb_count(&jb), 2);
  rmp_jb_out_t o;
  CHECK_INT(rmp_jb_pop(&jb, 0, &o), 1);
  CHECK_INT(o.e.ext_seq, 50);
  CHECK_INT(rmp_jb_push(&jb, 50, 10, NULL), RMP_EJB_DUPLICATE); /* released one */
  CHECK_INT(rmp_jb_flush(&jb, &o), 1);
  CHECK_INT(o.e.ext_seq, 52);
  CHECK(o.e.data == &payload[0]); /* the first copy is kept */
  CHECK_INT(o.lost_before, 1);
  /* Far older than the remembered window: reported LATE. */
  CHECK_INT(rmp_jb_push(&jb, 40, 10, NULL), RMP_EJB_LATE);
  /* Start point: anything before the first packet is late. */
  rmp_jb_init(&jb, slots, 8, WAIT);
  rmp_jb_push(&jb, 1000, 0, NULL);
  CHECK_INT(rmp_jb_push(&jb, 999, 0, NULL), RMP_EJB_LATE);
}

static void test_wrap16(void) {
  /* Extended numbers across 65535 -> 65536 (16-bit 0xFFFF -> 0x0000). */
  rmp_jb_t jb;
  rmp_jb_slot_t slots[8];
  rmp_jb_init(&jb, slots, 8, WAIT);
  CHECK_INT(rmp_jb_push(&jb, 65534, 0, NULL), RMP_JB_READY);
  POP_EXPECT(&jb, 0, 65534, 0, 0);
  CHECK_INT(rmp_jb_push(&jb, 65536, 10, NULL), RMP_JB_QUEUED);
  CHECK_INT(rmp_jb_push(&jb, 65537, 20, NULL), RMP_JB_QUEUED);
  CHECK_INT(rmp_jb_push(&jb, 65535, 30, NULL), RMP_JB_READY);
  POP_EXPECT(&jb, 30, 65535, 0, 1);
  POP_EXPECT(&jb, 30, 65536, 0, 0);
  POP_EXPECT(&jb, 30, 65537, 0, 0);
  /* loss across the wrap of the second cycle: 131071 missing */
  CHECK_INT(rmp_jb_push(&jb, 131070, 100, NULL), RMP_JB_QUEUED); /* 65538.. missing */
  POP_EXPECT(&jb, 100 + WAIT, 131070, 131070 - 65538, 0);
  CHECK_INT(rmp_jb_push(&jb, 131072, 200, NULL), RMP_JB_QUEUED);
  POP_EXPECT(&jb, 200 + WAIT, 131072, 1, 0);
  CHECK_INT(rmp_jb_push(&jb, 131071, 300, NULL), RMP_EJB_LATE);
}

static void test_wrap32(void) {
  rmp_jb_t jb;
  rmp_jb_slot_t slots[5]; /* not a power of two on purpose */
  rmp_jb_init(&jb, slots, 5, WAIT);
  CHECK_INT(rmp_jb_push(&jb, 0xFFFFFFFEu, 0, NULL), RMP_JB_READY);
  /* READY: the head (0xFFFFFFFE) has not been popped yet */
  CHECK_INT(rmp_jb_push(&jb, 0x00000000u, 0, NULL), RMP_JB_READY);
  CHECK_INT(rmp_jb_push(&jb, 0x00000002u, 0, NULL), RMP_JB_READY);
  CHECK_INT(rmp_jb_push(&jb, 0xFFFFFFFFu, 0, NULL), RMP_JB_READY);
  POP_EXPECT(&jb, 0, 0xFFFFFFFEu, 0, 0);
  POP_EXPECT(&jb, 0, 0xFFFFFFFFu, 0, 1);
  POP_EXPECT(&jb, 0, 0x00000000u, 0, 0);
  POP_NONE(&jb, 0);
  POP_EXPECT(&jb, WAIT, 0x00000002u, 1, 0);
  CHECK_INT(rmp_jb_push(&jb, 0xFFFFFFFFu, 0, NULL), RMP_EJB_DUPLICATE);
  CHECK_INT(rmp_jb_push(&jb, 0x00000001u, 0, NULL), RMP_EJB_LATE);
  CHECK_INT(rmp_jb_push(&jb, 0x00000003u, 0, NULL), RMP_JB_READY);
  POP_EXPECT(&jb, 0, 3, 0, 0);
}

static void test_tracker_ext(void) {
  /* 16-bit sequence numbers through the tracker, reordered around the wrap. */
  static const uint16_t arrive[] = {65532, 65533, 65535, 65534, 1, 0, 2};
  static const uint32_t want[] = {65532, 65533, 65534, 65535, 65536, 65537, 65538};
  static const uint8_t want_reord[] = {0, 0, 0, 0, 0, 0, 0}; /* the tracker reordered them */
  rmp_seq_t s;
  rmp_jb_t jb;
  rmp_jb_slot_t slots[16];
  rmp_seq_init(&s, 1);
  rmp_jb_init(&jb, slots, 16, WAIT);
  /* A packet ahead of the next is held by the tracker (rtp_seq.h) and
   * released next to the one that fills the gap: push it then. */
  for (unsigned i = 0; i < sizeof arrive / sizeof arrive[0]; i++) {
    uint32_t ext = 0;
    int r = rmp_seq_update(&s, arrive[i], &ext);
    if (r == RMP_SEQ_HELD) continue;
    CHECK(r == RMP_SEQ_VALID || r == RMP_SEQ_MISORDERED);
    for (unsigned k = 0; k < s.n_release; k++)
      if (s.release[k].before) CHECK(rmp_jb_push(&jb, s.release[k].ext, 100 * i, NULL) >= 0);
    CHECK(rmp_jb_push(&jb, ext, 100 * i, NULL) >= 0);
    for (unsigned k = 0; k < s.n_release; k++)
      if (!s.release[k].before) CHECK(rmp_jb_push(&jb, s.release[k].ext, 100 * i, NULL) >= 0);
  }
  for (unsigned i = 0; i < sizeof want / sizeof want[0]; i++) {
    POP_EXPECT(&jb, 1000, want[i], 0, want_reord[i]);
  }
  POP_NONE(&jb, 1000);
  /* The tracker's cycles bump (ext 65535 -> 65536) is seamless; so is the
   * jump of the ext numbers across 2^32. */
  rmp_seq_init(&s, 1);
  rmp_jb_init(&jb, slots, 16, WAIT);
  uint32_t ext = 0;
  rmp_seq_update(&s, 65534, &ext);
  s.cycles = 0xFFFF0000u; /* pretend 65535 cycles happened: ext = 0xFFFFFFFE */
  ext = rmp_seq_ext_max(&s);
  CHECK_INT(ext, 0xFFFFFFFEu);
  CHECK_INT(rmp_jb_push(&jb, ext, 0, NULL), RMP_JB_READY);
  rmp_seq_update(&s, 0, &ext); /* 65535 missing for now */
  CHECK_INT(ext, 0);
  CHECK_INT(rmp_jb_push(&jb, ext, 0, NULL), RMP_JB_READY); /* 0xFFFFFFFE ready */
  rmp_seq_update(&s, 65535, &ext);
  CHECK_INT(ext, 0xFFFFFFFFu);
  CHECK_INT(rmp_jb_push(&jb, ext, 0, NULL), RMP_JB_READY);
  POP_EXPECT(&jb, 0, 0xFFFFFFFEu, 0, 0);
  POP_EXPECT(&jb, 0, 0xFFFFFFFFu, 0, 1);
  POP_EXPECT(&jb, 0, 0u, 0, 0);
}

static void test_full(void) {
  rmp_jb_t jb;
  rmp_jb_slot_t slots[4];
  rmp_jb_init(&jb, slots, 4, WAIT);
  rmp_jb_push(&jb, 0, 0, NULL);
  POP_EXPECT(&jb, 0, 0, 0, 0);
  /* Window is [1, 5). 1 missing; 2, 3, 4 wait. */
  CHECK_INT(rmp_jb_push(&jb, 2, 0, NULL), RMP_JB_QUEUED);
  CHECK_INT(rmp_jb_push(&jb, 3, 0, NULL), RMP_JB_QUEUED);
  CHECK_INT(rmp_jb_push(&jb, 4, 0, NULL), RMP_JB_QUEUED);
  /* 5 does not fit: the oldest gap (1) is declared lost to make room; nothing
   * buffered lies below the new window [2, 6), so 5 is taken at once. */
  CHECK_INT(rmp_jb_push(&jb, 5, 0, NULL), RMP_JB_READY);
  CHECK_INT(jb.stats.lost, 1);
  POP_EXPECT(&jb, 0, 2, 1, 0);
  POP_EXPECT(&jb, 0, 3, 0, 0);
  POP_EXPECT(&jb, 0, 4, 0, 0);
  POP_EXPECT(&jb, 0, 5, 0, 0);
  POP_NONE(&jb, 0);
  CHECK_INT(rmp_jb_push(&jb, 1, 0, NULL), RMP_EJB_LATE);

  /* Window [6, 10): 6 missing, 8 and 9 wait. 13 needs window [10, 14):
   * 8 and 9 must go out first, so push says FULL and keeps nothing. */
  CHECK_INT(rmp_jb_push(&jb, 8, 0, NULL), RMP_JB_QUEUED);
  CHECK_INT(rmp_jb_push(&jb, 9, 0, NULL), RMP_JB_QUEUED);
  CHECK_INT(rmp_jb_push(&jb, 13, 0, &payload[13]), RMP_EJB_FULL);
  CHECK_INT(rmp_jb_count(&jb), 2);
  CHECK_INT(jb.stats.full, 1);
  uint64_t dl = 99;
  CHECK_INT(rmp_jb_next_deadline(&jb, &dl), 1);
  CHECK_INT(dl, 0); /* due now, no waiting */
  POP_EXPECT(&jb, 0, 8, 2, 0); /* 6, 7 lost */
  POP_EXPECT(&jb, 0, 9, 0, 0);
  POP_NONE(&jb, 0);
  /* Retry succeeds: 13 now fits the window [10, 14) and waits for 10..12. */
  CHECK_INT(rmp_jb_push(&jb, 13, 0, &payload[13]), RMP_JB_QUEUED);
  POP_NONE(&jb, WAIT - 1);
  rmp_jb_out_t o;
  CHECK_INT(rmp_jb_pop(&jb, WAIT, &o), 1);
  CHECK_INT(o.e.ext_seq, 13);
  CHECK_INT(o.lost_before, 3);
  CHECK(o.e.data == &payload[13]);
  CHECK_INT(jb.stats.lost, 1 + 2 + 3);

  /* FULL while a packet is forced out keeps only what is needed: window
   * [14, 18), 15 and 17 wait; 19 needs [16, 20): only 15 must go. */
  CHECK_INT(rmp_jb_push(&jb, 15, 0, NULL), RMP_JB_QUEUED);
  CHECK_INT(rmp_jb_push(&jb, 17, 0, NULL), RMP_JB_QUEUED);
  CHECK_INT(rmp_jb_push(&jb, 19, 0, NULL), RMP_EJB_FULL);
  POP_EXPECT(&jb, 0, 15, 1, 0);
  POP_NONE(&jb, 0); /* 17 still within its wait */
  CHECK_INT(rmp_jb_push(&jb, 19, 0, NULL), RMP_JB_QUEUED);
  POP_EXPECT(&jb, WAIT, 17, 1, 0);
  POP_EXPECT(&jb, WAIT, 19, 1, 0);
  CHECK_INT(jb.stats.pushed, 1 + 4 + 2 + 1 + 3);
  CHECK_INT(jb.stats.released, jb.stats.pushed);
}

static void test_flush_reset(void) {
  rmp_jb_t jb;
  rmp_jb_slot_t slots[8];
  rmp_jb_init(&jb, slots, 8, WAIT);
  rmp_jb_push(&jb, 10, 0, &payload[0]);
  rmp_jb_push(&jb, 12, 0, &payload[2]);
  rmp_jb_push(&jb, 15, 0, &payload[5]);
  CHECK_INT(rmp_jb_reset(&jb), RMP_EJB_INVAL); /* not empty */
  rmp_jb_out_t o;
  CHECK_INT(rmp_jb_flush(&jb, &o), 1);
  CHECK_INT(o.e.ext_seq, 10);
  CHECK(o.e.data == &payload[0]);
  CHECK_INT(rmp_jb_flush(&jb, &o), 1);
  CHECK_INT(o.e.ext_seq, 12);
  CHECK_INT(o.lost_before, 1);
  CHECK(o.e.data == &payload[2]);
  CHECK_INT(rmp_jb_flush(&jb, &o), 1);
  CHECK_INT(o.e.ext_seq, 15);
  CHECK_INT(o.lost_before, 2);
  CHECK(o.e.data == &payload[5]);
  CHECK_INT(rmp_jb_flush(&jb, &o), 0);
  CHECK_INT(rmp_jb_reset(&jb), 0);
  CHECK_INT(jb.stats.released, 3);
  /* After reset the next packet is a fresh start, even an older number. */
  CHECK_INT(rmp_jb_push(&jb, 3, 0, NULL), RMP_JB_READY);
  POP_EXPECT(&jb, 0, 3, 0, 0);
  /* Flush with a gap at the head and later packets within their wait. */
  rmp_jb_push(&jb, 6, 0, NULL);
  rmp_jb_push(&jb, 5, 0, NULL);
  CHECK_INT(rmp_jb_flush(&jb, &o), 1);
  CHECK_INT(o.e.ext_seq, 5);
  CHECK_INT(o.lost_before, 1);
  CHECK_INT(o.reordered, 1);
  CHECK_INT(rmp_jb_flush(&jb, &o), 1);
  CHECK_INT(o.e.ext_seq, 6);
  CHECK_INT(rmp_jb_flush(&jb, &o), 0);
}

/* Randomised stream (fixed LCG): reordering, drops, duplicates, jumps,
 * crossing the 32-bit wrap. Invariants: releases are strictly in order, each
 * accepted pointer comes back exactly once, rejected pointers never do, and
 * released + lost covers every number from the first to the last release. */
static void test_random(uint32_t cap, int expect_full) {
  enum { N = 3000, CAP = 16 };
  static uint8_t owner[N * 2];
  memset(owner, 0, sizeof owner); /* 0 unused, 1 in buffer, 2 returned, 3 rejected */
  static uint8_t tokens[N * 2];
  rmp_jb_t jb;
  rmp_jb_slot_t slots[CAP];
  rmp_jb_init(&jb, slots, cap <= CAP ? cap : CAP, 5000);
  uint32_t x = 777, base = 0xFFFFFF00u;
  uint32_t order[N];
  for (uint32_t i = 0; i < N; i++) order[i] = i;
  for (uint32_t i = 0; i + 1 < N; i++) { /* local swaps within 6 positions */
    x = x * 1103515245u + 12345u;
    uint32_t j = i + (x >> 16) % 6;
    if (j < N) { uint32_t t = order[i]; order[i] = order[j]; order[j] = t; }
  }
  int first = 1, order_bad = 0, double_ret = 0;
  uint32_t first_rel = 0, last_rel = 0;
  uint64_t released = 0, lost = 0, now = 0;
  size_t ntok = 0;
  rmp_jb_out_t o;
#define DRAIN(pop_call) \
  while (pop_call) { \
    uint32_t seq_ = o.e.ext_seq; \
    if (first) { first = 0; first_rel = seq_; } \
    else if ((int32_t)(seq_ - last_rel) <= 0) order_bad++; \
    last_rel = seq_; released++; lost += o.lost_before; \
    size_t t_ = (size_t)((uint8_t *)o.e.data - tokens); \
    if (owner[t_] != 1) double_ret++; \
    owner[t_] = 2; \
  }
  for (uint32_t i = 0; i < N; i++) {
    x = x * 1103515245u + 12345u;
    unsigned r = (x >> 16) % 100;
    now += 300 + (x >> 8) % 1500;
    if (r < 5) continue; /* dropped */
    uint32_t seq = base + order[i] + (order[i] > 2000 ? 40 : 0); /* a jump of 40 */
    int copies = r < 10 ? 2 : 1;
    for (int c = 0; c < copies; c++) {
      size_t t = ntok++;
      int pr = rmp_jb_push(&jb, seq, now, &tokens[t]);
      if (pr == RMP_EJB_FULL) {
        DRAIN(rmp_jb_pop(&jb, now, &o));
        pr = rmp_jb_push(&jb, seq, now, &tokens[t]);
        CHECK(pr != RMP_EJB_FULL);
      }
      owner[t] = pr >= 0 ? 1 : 3;
    }
    DRAIN(rmp_jb_pop(&jb, now, &o));
  }
  DRAIN(rmp_jb_flush(&jb, &o));
#undef DRAIN
  int leaked = 0;
  for (size_t t = 0; t < ntok; t++) if (owner[t] == 1) leaked++;
  CHECK_INT(order_bad, 0);
  CHECK_INT(double_ret, 0);
  CHECK_INT(leaked, 0);
  CHECK_INT(rmp_jb_count(&jb), 0);
  CHECK_INT(released, jb.stats.released);
  CHECK_INT(released + lost, (uint32_t)(last_rel - first_rel) + 1u);
  CHECK(jb.stats.duplicate > 0);
  CHECK(jb.stats.reordered > 0);
  CHECK(jb.stats.lost > 0);
  CHECK((int32_t)(last_rel - base) > 0); /* crossed 0xFFFFFFFF -> 0 */
  CHECK(last_rel < 0x10000u);
  CHECK(expect_full ? jb.stats.full > 0 : 1);
}

/* Pushes seq into jb and pops what is due (the FULL path included); the
 * releases are written to out (at most max), their number returned. */
static int push_pop(rmp_jb_t *jb, uint32_t seq, uint64_t now, void *data, rmp_jb_out_t *out, int max) {
  int n = 0, r = rmp_jb_push(jb, seq, now, data);
  if (r == RMP_EJB_FULL) {
    while (n < max && rmp_jb_pop(jb, now, &out[n])) n++;
    r = rmp_jb_push(jb, seq, now, data);
  }
  while (n < max && rmp_jb_pop(jb, now, &out[n])) n++;
  return n;
}

/* rmp_jb_pass is push + pop when it takes a packet: the same releases, the
 * same state after (duplicates and late packets still told apart), on a
 * stream with jumps (past the window too), duplicates and late packets;
 * for a buffer that waits and one that does not, inline slots and given. */
static void test_pass_is_push_pop(uint64_t wait, int inline_slots) {
  rmp_jb_t a, b;
  rmp_jb_slot_t sa[8], sb[8];
  rmp_jb_init(&a, inline_slots ? NULL : sa, 8, wait);
  rmp_jb_init(&b, inline_slots ? NULL : sb, 8, wait);
  uint32_t x = 4242, seq = 0xFFFFFFF0u;
  uint64_t now = 1000;
  int passed = 0, mismatch = 0;
  for (int i = 0; i < 4000; i++) {
    x = x * 1103515245u + 12345u;
    unsigned k = (x >> 16) % 16;
    uint32_t s = k < 10 ? seq++ : k < 12 ? seq + (x >> 20) % 4 : k < 13 ? seq + 5 + (x >> 20) % 20
               : seq - 1 - (x >> 20) % 10;
    if (k >= 10 && k < 13) seq = s + 1;
    now += k == 15 ? wait + 1 : 10;
    rmp_jb_out_t oa[40], ob[40];
    int na;
    if (rmp_jb_pass(&a, s, now, &payload[i % 64], &oa[0])) {
      passed++;
      na = 1;
      CHECK_INT(rmp_jb_pop(&a, now, &oa[1]), 0);
    } else {
      na = push_pop(&a, s, now, &payload[i % 64], oa, 40);
    }
    int nb = push_pop(&b, s, now, &payload[i % 64], ob, 40);
    if (na != nb) mismatch++;
    for (int j = 0; j < na && j < nb; j++)
      if (oa[j].e.ext_seq != ob[j].e.ext_seq || oa[j].e.data != ob[j].e.data ||
          oa[j].lost_before != ob[j].lost_before || oa[j].reordered != ob[j].reordered)
        mismatch++;
    if (a.next_seq != b.next_seq || a.head != b.head || a.count != b.count ||
        memcmp(&a.stats, &b.stats, sizeof a.stats) != 0)
      mismatch++;
  }
  CHECK_INT(mismatch, 0);
  CHECK(passed > 1000); /* the fast path was taken, often */
}

int main(void) {
  test_inline_no_wait();
  test_init();
  test_in_order();
  test_reorder_within_wait();
  test_loss_after_wait();
  test_deadline_recompute();
  test_duplicate_buffered();
  test_wrap16();
  test_wrap32();
  test_tracker_ext();
  test_full();
  test_flush_reset();
  test_random(16, 0);
  test_random(4, 1); /* small: FULL path exercised */
  test_pass_is_push_pop(0, 1);
  test_pass_is_push_pop(0, 0);
  test_pass_is_push_pop(WAIT, 0);
  return check_report();
}
