/* test_journal_mem.c -- the journal's memory (issue #20): what a session's
 * sender and receiver hold after traffic, counted through the allocator
 * hook of their configs; tables made once, not per packet, and freed when
 * the checkpoint passes them; and what happens when memory runs out (an
 * allocator that fails): counted, the channel no longer coded, the
 * checkpoint past it, the receiver told of an uncovered loss. */
#include "check.h"
#include "journal.h"

#include <stdlib.h>

/* An allocator that counts, and fails when told to. */
typedef struct {
  size_t live, peak;   /* octets */
  unsigned calls;      /* allocations asked for */
  unsigned fail_from;  /* the calls from this one on fail (0: none) */
  unsigned fail_only;  /* only this call fails (0: none) */
} counter;

static void *c_alloc(void *ud, size_t n) {
  counter *k = ud;
  k->calls++;
  if ((k->fail_from && k->calls >= k->fail_from) || k->calls == k->fail_only) return NULL;
  void *p = malloc(n);
  if (p) {
    k->live += n;
    if (k->live > k->peak) k->peak = k->live;
  }
  return p;
}

static void c_free(void *ud, void *p, size_t n) {
  counter *k = ud;
  k->live -= n;
  free(p);
}

static const uint8_t NOTE_ON[] = { 0x91, 0x3C, 0x64 }, VOLUME[] = { 0xB1, 0x07, 0x64 },
                     NOTE_OFF[] = { 0x81, 0x3C, 0x40 };

static uint8_t got[256][3];
static int ngot;
static void rec(void *ud, const uint8_t *m, size_t n) {
  (void)ud;
  if (ngot < 256 && n <= 3) memcpy(got[ngot++], m, n);
}

/* What MidiSession sends in bench/lua_scale.lua: note on, volume, note
 * off on channel 2 in one packet, then guard packets (the journal of
 * each); the receiver gets all of them. Bounds: the struct itself (no
 * table of 16 channels in it) and the tables of one channel. */
#define SENDER_BOUND 4096u
#define RECEIVER_BOUND 2048u

static void test_bound_after_traffic(void) {
  counter ks = { 0 }, kr = { 0 };
  rmp_ms_alloc as = { c_alloc, c_free, &ks }, ar = { c_alloc, c_free, &kr };
  rmp_ej_send_config sc = { .max_history = 256, .max_size = 372, .y_window = 64, .alloc = &as };
  rmp_ej_recv_config rc;
  rmp_ej_recv_config_init(&rc);
  rc.alloc = &ar;
  static rmp_ej_sender s;
  static rmp_ej_receiver r;
  rmp_ej_send_init(&s, &sc);
  rmp_ej_recv_init_cfg(&r, &rc);
  CHECK_INT(ks.live, 0); /* nothing until the first message */
  CHECK_INT(kr.live, 0);
  uint8_t out[512];
  uint16_t seq = 1000;
  int j = rmp_ej_send_encode(&s, seq, out, sizeof out);
  CHECK(j >= 0);
  rmp_ej_send_record(&s, seq, NOTE_ON, 3);
  rmp_ej_send_record(&s, seq, VOLUME, 3);
  rmp_ej_send_record(&s, seq, NOTE_OFF, 3);
  rmp_ej_recv_packet(&r, seq, j > 0 ? out : NULL, (size_t)(j > 0 ? j : 0), rec, NULL);
  rmp_ej_recv_apply(&r, NOTE_ON, 3);
  rmp_ej_recv_apply(&r, VOLUME, 3);
  rmp_ej_recv_apply(&r, NOTE_OFF, 3);
  for (int g = 0; g < 5; g++) { /* guards */
    seq++;
    j = rmp_ej_send_encode(&s, seq, out, sizeof out);
    CHECK(j > 3);
    rmp_ej_recv_packet(&r, seq, out, (size_t)j, rec, NULL);
  }
  size_t smem = rmp_ej_send_mem(&s), rmem = rmp_ej_recv_mem(&r);
  printf("journal memory after 3 messages: sender %zu octets (%zu in tables), receiver %zu octets (%zu in tables)\n",
         smem, ks.live, rmem, kr.live);
  CHECK(smem <= SENDER_BOUND);
  CHECK(rmem <= RECEIVER_BOUND);
  CHECK_INT(smem, sizeof s + ks.live); /* rmp_ej_send_mem counts every table */
  CHECK_INT(rmem, sizeof r + kr.live);
  CHECK(ks.live > 0 && kr.live > 0);
  /* one channel's tables: the others were never made */
  for (int ch = 0; ch < 16; ch++) {
    CHECK_INT(s.seq[ch] != NULL, ch == 1);
    CHECK_INT(r.st.ch[ch] != NULL, ch == 1);
  }
  CHECK(s.x[0] == NULL && s.part == NULL && s.pt == NULL && s.pm[1] == NULL);

  /* the receiver confirms everything: the sender's journal tables go; the
   * model stays (volume 100 is not power-up) */
  size_t before = ks.live;
  rmp_ej_send_ack(&s, seq);
  CHECK(ks.live < before);
  CHECK(s.seq[1] == NULL);
  CHECK(s.st.ch[1] != NULL);
  CHECK_INT(rmp_ej_send_encode(&s, (uint16_t)(seq + 1), out, sizeof out), 3);
  CHECK_INT(ks.live, sizeof *s.st.ch[1]);

  /* a channel back at power-up and confirmed is dropped whole */
  seq = (uint16_t)(seq + 1);
  static const uint8_t on3[] = { 0x93, 0x40, 0x50 }, off3[] = { 0x83, 0x40, 0x40 };
  rmp_ej_send_record(&s, seq, on3, 3);
  rmp_ej_send_record(&s, seq, off3, 3);
  CHECK(s.st.ch[3] != NULL && s.seq[3] != NULL);
  CHECK(rmp_ej_send_encode(&s, (uint16_t)(seq + 1), out, sizeof out) > 3);
  rmp_ej_send_ack(&s, seq);
  CHECK(s.st.ch[3] == NULL && s.seq[3] == NULL);
  CHECK_INT(ks.live, sizeof *s.st.ch[1]);

  rmp_ej_send_free(&s);
  rmp_ej_recv_free(&r);
  CHECK_INT(ks.live, 0);
  CHECK_INT(kr.live, 0);
}

/* The SysEx store, a SysEx in parts, parameter slots and packet times are
 * made on first use, and the store's entries and the parts go once the
 * checkpoint passed them. */
static void test_first_use_tables(void) {
  counter ks = { 0 };
  rmp_ms_alloc as = { c_alloc, c_free, &ks };
  rmp_ej_send_config sc = { .alloc = &as };
  static rmp_ej_sender s;
  rmp_ej_send_init(&s, &sc);
  uint8_t out[512];
  static const uint8_t sx[] = { 0xF0, 0x7D, 0x11, 0x22, 0xF7 }, part[] = { 0x01, 0x02, 0x03 };
  static const uint8_t rpn[][3] = { { 0xB4, 101, 0 }, { 0xB4, 100, 0 }, { 0xB4, 6, 2 } };
  (void)rmp_ej_send_encode(&s, 50, out, sizeof out);
  CHECK_INT(ks.live, 0);
  rmp_ej_send_record(&s, 50, sx, sizeof sx);
  CHECK(s.x[0] != NULL && s.x[1] == NULL);
  CHECK_INT(ks.live, sizeof *s.x[0]);
  (void)rmp_ej_send_encode(&s, 51, out, sizeof out);
  CHECK(rmp_ej_send_part_room(&s) == RMP_EJ_X_PART_MAX && s.part == NULL);
  rmp_ej_send_record_part(&s, 51, part, sizeof part, 1, 0);
  CHECK(s.part != NULL);
  (void)rmp_ej_send_encode(&s, 52, out, sizeof out);
  rmp_ej_send_record_part(&s, 52, part, sizeof part, 0, 1);
  for (int i = 0; i < 3; i++) rmp_ej_send_record(&s, 52, rpn[i], 3);
  CHECK(s.pm[4] != NULL && s.st.ch[4] != NULL && s.st.ch[4]->pp != NULL);
  CHECK(s.pt == NULL);
  int j = rmp_ej_send_encode_at(&s, 53, 1000, out, sizeof out);
  CHECK(j > 3 && s.pt != NULL);
  /* all of it confirmed: the SysEx entry and the parts go; the parameter
   * tables (what a later Chapter M needs: values, X bits) and the packet
   * times stay */
  rmp_ej_send_ack(&s, 52);
  CHECK(s.x[0] == NULL && s.part == NULL && s.seq[4] == NULL);
  CHECK(s.pm[4] != NULL && s.st.ch[4] != NULL && s.pt != NULL);
  CHECK_INT(rmp_ej_send_mem(&s), sizeof s + ks.live);
  rmp_ej_send_free(&s);
  CHECK_INT(ks.live, 0);
}

/* Tables are made once per channel / chapter, never per packet: a long
 * run of traffic on a few channels without feedback makes no more
 * allocations after the first packets (here without an open-loop bound,
 * so that nothing is passed and freed). */
static void test_no_allocation_per_packet(void) {
  counter ks = { 0 };
  rmp_ms_alloc as = { c_alloc, c_free, &ks };
  rmp_ej_send_config sc = { .alloc = &as };
  static rmp_ej_sender s;
  rmp_ej_send_init(&s, &sc);
  uint8_t out[1024];
  unsigned warm = 0;
  for (int i = 0; i < 2000; i++) {
    uint16_t seq = (uint16_t)(5000 + i);
    (void)rmp_ej_send_encode(&s, seq, out, sizeof out);
    int ch = i % 3;
    uint8_t on[3] = { (uint8_t)(0x90 | ch), (uint8_t)(40 + i % 20), 100 };
    uint8_t cc[3] = { (uint8_t)(0xB0 | ch), (uint8_t)(i % 10), (uint8_t)(i & 127) };
    uint8_t bend[3] = { (uint8_t)(0xE0 | ch), 0, (uint8_t)(i & 127) };
    rmp_ej_send_record(&s, seq, on, 3);
    rmp_ej_send_record(&s, seq, cc, 3);
    rmp_ej_send_record(&s, seq, bend, 3);
    if (i == 10) warm = ks.calls;
  }
  CHECK(warm > 0);
  CHECK_INT(ks.calls, warm);
  rmp_ej_send_free(&s);
  CHECK_INT(ks.live, 0);
}

/* Out of memory at the sender: the channel it could not make is not
 * coded, the checkpoint moves past its packet (a receiver that lost it
 * sees an uncovered loss and releases what it holds), the failure is
 * counted; once memory is back a Reset State command makes the channel
 * codable again. */
static void test_sender_out_of_memory(void) {
  counter ks = { .fail_from = 1 };
  rmp_ms_alloc as = { c_alloc, c_free, &ks };
  rmp_ej_send_config sc = { .alloc = &as };
  static rmp_ej_sender s;
  static rmp_ej_receiver r;
  rmp_ej_send_init(&s, &sc);
  rmp_ej_recv_init(&r);
  uint8_t out[256];
  static const uint8_t on[] = { 0x90, 0x3C, 0x64 };
  /* packet 10: the receiver gets it (empty journal) */
  int j = rmp_ej_send_encode(&s, 10, out, sizeof out);
  CHECK_INT(j, 3);
  CHECK_INT(rmp_ej_recv_packet(&r, 10, out, (size_t)j, rec, NULL), RMP_EJ_R_FIRST);
  (void)rmp_ej_send_encode(&s, 11, out, sizeof out);
  rmp_ej_send_record(&s, 11, on, 3); /* lost; the sender has no memory for its channel */
  CHECK(s.st.alloc_failed > 0);
  CHECK(s.st.broken & 1);
  j = rmp_ej_send_encode(&s, 12, out, sizeof out);
  CHECK_INT(j, 3);                          /* nothing coded */
  CHECK_INT(rmp_ej_send_checkpoint(&s), 12); /* past packet 11 */
  ngot = 0;
  int f = rmp_ej_recv_packet(&r, 12, out, (size_t)j, rec, NULL);
  CHECK(f & RMP_EJ_R_UNCOVERED);
  /* later messages on it: still not coded, the checkpoint follows */
  rmp_ej_send_record(&s, 12, on, 3);
  CHECK_INT(rmp_ej_send_encode(&s, 13, out, sizeof out), 3);
  CHECK_INT(rmp_ej_send_checkpoint(&s), 13);
  /* memory back, a System Reset: the channel is known again (power-up) */
  ks.fail_from = 0;
  static const uint8_t reset[] = { 0xFF };
  rmp_ej_send_record(&s, 13, reset, 1);
  CHECK_INT(s.st.broken, 0);
  (void)rmp_ej_send_encode(&s, 14, out, sizeof out);
  rmp_ej_send_record(&s, 14, on, 3);
  j = rmp_ej_send_encode(&s, 15, out, sizeof out);
  CHECK(j > 3);
  /* the receiver lost 13 and 14: the journal of 15 restores the note */
  ngot = 0;
  f = rmp_ej_recv_packet(&r, 15, out, (size_t)j, rec, NULL);
  CHECK(f & RMP_EJ_R_REPAIRED);
  CHECK(!(f & RMP_EJ_R_UNCOVERED));
  CHECK_INT(rmp_ms_chan(&r.st, 0)->note_vel[0x3C], 0x64);
  rmp_ej_send_free(&s);
  rmp_ej_recv_free(&r);
  CHECK_INT(ks.live, 0);
}

/* Out of memory at the receiver: a repair it cannot model is not played
 * (counted), nothing crashes; another channel is still repaired. */
static void test_receiver_out_of_memory(void) {
  counter kr = { 0 };
  rmp_ms_alloc ar = { c_alloc, c_free, &kr };
  rmp_ej_recv_config rc;
  rmp_ej_recv_config_init(&rc);
  rc.alloc = &ar;
  static rmp_ej_sender s;
  static rmp_ej_receiver r;
  rmp_ej_send_init(&s, NULL);
  rmp_ej_recv_init_cfg(&r, &rc);
  uint8_t out[256];
  int j = rmp_ej_send_encode(&s, 20, out, sizeof out);
  rmp_ej_recv_packet(&r, 20, out, (size_t)j, rec, NULL);
  (void)rmp_ej_send_encode(&s, 21, out, sizeof out);
  static const uint8_t on0[] = { 0x90, 0x3C, 0x64 }, on5[] = { 0x95, 0x40, 0x50 };
  rmp_ej_send_record(&s, 21, on0, 3); /* lost */
  rmp_ej_send_record(&s, 21, on5, 3);
  j = rmp_ej_send_encode(&s, 22, out, sizeof out);
  /* the receiver's first table (channel 0) fails */
  kr.fail_only = kr.calls + 1;
  ngot = 0;
  int f = rmp_ej_recv_packet(&r, 22, out, (size_t)j, rec, NULL);
  CHECK(f & RMP_EJ_R_REPAIRED);
  CHECK(r.st.alloc_failed > 0);
  CHECK(r.st.broken & 1);
  CHECK_INT(rmp_ms_chan(&r.st, 5)->note_vel[0x40], 0x50); /* channel 5 repaired */
  int played5 = 0, played0 = 0;
  for (int i = 0; i < ngot; i++) {
    played5 += got[i][0] == 0x95;
    played0 += (got[i][0] & 15) == 0;
  }
  CHECK_INT(played5, 1);
  CHECK_INT(played0, 0);
  rmp_ej_send_free(&s);
  rmp_ej_recv_free(&r);
  CHECK_INT(kr.live, 0);
}

/* Every allocation of the sender, one at a time, fails in a run of mixed
 * traffic with losses: the session never crashes or leaks, and every loss
 * is either repaired to the sender's state (on the channels the sender
 * still codes) or reported uncovered. */
static void test_each_allocation_fails(void) {
  static const uint8_t msgs[][3] = {
    { 0x90, 60, 100 }, { 0xB0, 7, 90 }, { 0xB1, 101, 0 }, { 0xB1, 100, 0 }, { 0xB1, 6, 2 },
    { 0xA2, 60, 30 }, { 0x92, 62, 80 }, { 0x80, 60, 64 }, { 0xE3, 0, 70 }, { 0xC4, 5, 0 },
  };
  static const uint8_t sysex[] = { 0xF0, 0x7D, 0x01, 0x02, 0xF7 };
  unsigned total = 0, uncovered = 0;
  for (unsigned nth = 1;; nth++) {
    counter ks = { .fail_only = nth };
    rmp_ms_alloc as = { c_alloc, c_free, &ks };
    rmp_ej_send_config sc = { .alloc = &as };
    static rmp_ej_sender s;
    static rmp_ej_receiver r;
    rmp_ej_send_init(&s, &sc);
    rmp_ej_recv_init(&r);
    uint8_t out[512];
    int bad = 0, diverged = 0;
    uint16_t last_rx = 0;
    for (int i = 0; i < 40; i++) {
      uint16_t seq = (uint16_t)(300 + i);
      int j = rmp_ej_send_encode(&s, seq, out, sizeof out);
      int lost = i % 4 == 2;
      const uint8_t *m = msgs[i % 10];
      size_t ml = (m[0] & 0xF0) == 0xC0 ? 2 : 3;
      if (!lost) {
        last_rx = seq;
        int f = rmp_ej_recv_packet(&r, seq, j > 0 ? out : NULL, (size_t)(j > 0 ? j : 0), NULL, NULL);
        /* after an uncovered loss the receiver released what the journal
         * did not confirm: the states may differ from then on */
        if (f & RMP_EJ_R_UNCOVERED) {
          uncovered += !diverged;
          diverged = 1;
        }
        if ((f & RMP_EJ_R_LOSS) && !diverged) {
          /* covered: the channels the sender codes agree */
          for (int ch = 0; ch < 16; ch++) {
            if (s.st.broken >> ch & 1) continue;
            const rmp_ms_channel *a = rmp_ms_chan(&s.st, ch), *b = rmp_ms_chan(&r.st, ch);
            if (a->note_vel[60] != b->note_vel[60] || a->cc[7] != b->cc[7] || a->program != b->program)
              bad = 1;
          }
        }
        rmp_ej_recv_apply(&r, m, ml);
        if (i % 7 == 0) rmp_ej_recv_apply(&r, sysex, sizeof sysex);
      }
      rmp_ej_send_record(&s, seq, m, ml);
      if (i % 7 == 0) rmp_ej_send_record(&s, seq, sysex, sizeof sysex);
      if (i % 9 == 8) rmp_ej_send_ack(&s, last_rx); /* the receiver's report */
    }
    CHECK(!bad);
    unsigned calls = ks.calls;
    CHECK_INT(s.st.alloc_failed, nth <= calls ? 1 : 0); /* counted, once */
    if (nth > calls) CHECK(!diverged); /* with memory, every loss is covered */
    rmp_ej_send_free(&s);
    rmp_ej_recv_free(&r);
    CHECK_INT(ks.live, 0);
    if (nth > calls) break; /* every allocation of the run has failed once */
    total++;
  }
  CHECK(total >= 8);
  CHECK(uncovered > 0); /* some failures moved the checkpoint past a lost packet */
  printf("each of %u allocations failed in turn: %u runs reported an uncovered loss\n", total, uncovered);
}

int main(void) {
  test_bound_after_traffic();
  test_no_allocation_per_packet();
  test_first_use_tables();
  test_sender_out_of_memory();
  test_receiver_out_of_memory();
  test_each_allocation_fails();
  return check_report();
}
