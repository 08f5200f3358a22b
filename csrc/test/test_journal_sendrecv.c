/* test_journal_sendrecv.c -- sender output (bytes, S bits, checkpoint,
 * trimming by feedback) and receiver repairs, on small hand-worked cases. */
#include "check.h"
#include "journal.h"

static uint8_t got[64][3];
static size_t got_len[64];
static int ngot;
static void rec(void *ud, const uint8_t *m, size_t n) {
  (void)ud;
  if (ngot < 64) { memcpy(got[ngot], m, n); got_len[ngot] = n; ngot++; }
}

static rmp_ej_sender s;
static rmp_ej_receiver r;

/* S bits (RFC 6295 A.1): 1 by default, 0 on what codes a command of
 * packet I-1 and on everything containing it.
 * Journal of packet 101 after NoteOn 0x3C vel 100 in packet 100 (= I-1):
 * header |S=0|Y=0|A=1|H=0|TOTCHAN=0| = 20, checkpoint 100 = 00 64
 * channel |S=0|CHAN=0|H=0|LENGTH=7| = 00 07, TOC N = 08
 * N |B=1|LEN=1| = 81 (no NoteOff in 100), |LOW=15|HIGH=1| = F1,
 *   |S=0|60| = 3C, |Y=1|100| = E4 */
static const uint8_t j101[] = { 0x20, 0x00, 0x64, 0x00, 0x07, 0x08, 0x81, 0xF1, 0x3C, 0xE4 };
/* packet 102 after NoteOff 0x3C (release 64) in packet 101 (= I-1):
 * header 20 00 64; channel |S=0|LENGTH=6| = 00 06, TOC 08;
 * N |B=0|LEN=0| = 00 (NoteOff in I-1), |LOW=7|HIGH=7| = 77, OFFBITS note 60 = 08 */
static const uint8_t j102[] = { 0x20, 0x00, 0x64, 0x00, 0x06, 0x08, 0x00, 0x77, 0x08 };
/* packet 103 (packet 102 carried nothing): same content, every S bit (and B) 1 */
static const uint8_t j103[] = { 0xA0, 0x00, 0x64, 0x80, 0x06, 0x08, 0x80, 0x77, 0x08 };

static void test_sender_notes(void) {
  rmp_ej_send_config cfg = { 0 };
  rmp_ej_send_free(&s); rmp_ej_send_init(&s, &cfg);
  uint8_t out[256];
  static const uint8_t on[] = { 0x90, 0x3C, 0x64 }, off[] = { 0x80, 0x3C, 0x40 };
  CHECK_INT(rmp_ej_send_encode(&s, 100, out, sizeof out), 3); /* the empty journal */
  rmp_ej_send_record(&s, 100, on, 3);
  CHECK_INT(rmp_ej_send_encode(&s, 101, out, sizeof out), (int)sizeof j101);
  CHECK_MEM(out, sizeof j101, j101, sizeof j101);
  rmp_ej_send_record(&s, 101, off, 3);
  CHECK_INT(rmp_ej_send_encode(&s, 102, out, sizeof out), (int)sizeof j102);
  CHECK_MEM(out, sizeof j102, j102, sizeof j102);
  CHECK_INT(rmp_ej_send_encode(&s, 103, out, sizeof out), (int)sizeof j103);
  CHECK_MEM(out, sizeof j103, j103, sizeof j103);
  CHECK_INT(rmp_ej_send_checkpoint(&s), 100);
  rmp_ej_send_ack(&s, 102); /* receiver has everything up to 102 */
  CHECK_INT(rmp_ej_send_checkpoint(&s), 103);
  CHECK_INT(rmp_ej_send_encode(&s, 104, out, sizeof out), 3);
  /* a budget below the header size yields an empty journal, not an error */
  rmp_ej_send_record(&s, 104, on, 3);
  CHECK_INT(rmp_ej_send_encode(&s, 105, out, 2), 0);
}

static void test_receiver_notes(void) {
  rmp_ej_recv_free(&r); rmp_ej_recv_init(&r);
  ngot = 0;
  CHECK_INT(rmp_ej_recv_packet(&r, 99, NULL, 0, rec, NULL), RMP_EJ_R_FIRST);
  /* 100 lost; 101 arrives: single loss, journal S=0 -> NoteOn replayed */
  CHECK_INT(rmp_ej_recv_packet(&r, 101, j101, sizeof j101, rec, NULL), RMP_EJ_R_LOSS | RMP_EJ_R_REPAIRED);
  CHECK_INT(ngot, 1);
  static const uint8_t on[] = { 0x90, 0x3C, 0x64 };
  CHECK_MEM(got[0], got_len[0], on, 3);
  CHECK_INT(rmp_ms_chan(&r.st, 0)->note_vel[60], 100);
  rmp_ej_recv_apply(&r, (const uint8_t[]){ 0x80, 0x3C, 0x40 }, 3);
  /* 102 lost; 103's journal has S=1: nothing about 102, skipped */
  CHECK_INT(rmp_ej_recv_packet(&r, 103, j103, sizeof j103, rec, NULL), RMP_EJ_R_LOSS | RMP_EJ_R_REPAIRED);
  CHECK_INT(ngot, 1);
  /* no loss: the journal is not even looked at (garbage is fine) */
  CHECK_INT(rmp_ej_recv_packet(&r, 104, (const uint8_t[]){ 0xFF }, 1, rec, NULL), 0);
  /* duplicate / late */
  CHECK_INT(rmp_ej_recv_packet(&r, 104, NULL, 0, rec, NULL), RMP_EJ_R_LATE);
  CHECK_INT(rmp_ej_recv_packet(&r, 90, NULL, 0, rec, NULL), RMP_EJ_R_LATE);

  /* a receiver that holds the note and lost 100..101: note-off replayed */
  rmp_ej_recv_free(&r); rmp_ej_recv_init(&r);
  ngot = 0;
  rmp_ej_recv_packet(&r, 99, NULL, 0, rec, NULL);
  rmp_ej_recv_apply(&r, on, 3);
  CHECK_INT(rmp_ej_recv_packet(&r, 102, j102, sizeof j102, rec, NULL), RMP_EJ_R_LOSS | RMP_EJ_R_REPAIRED);
  CHECK_INT(ngot, 1);
  static const uint8_t off[] = { 0x80, 0x3C, 0x40 };
  CHECK_MEM(got[0], got_len[0], off, 3);
  CHECK_INT(rmp_ms_chan(&r.st, 0)->note_vel[60], 0);

  /* checkpoint after the first lost packet: flagged uncovered */
  rmp_ej_recv_free(&r); rmp_ej_recv_init(&r);
  rmp_ej_recv_packet(&r, 90, NULL, 0, rec, NULL);
  CHECK_INT(rmp_ej_recv_packet(&r, 101, j101, sizeof j101, rec, NULL),
            RMP_EJ_R_LOSS | RMP_EJ_R_REPAIRED | RMP_EJ_R_UNCOVERED);
  /* loss without a journal */
  CHECK_INT(rmp_ej_recv_packet(&r, 110, NULL, 0, rec, NULL), RMP_EJ_R_LOSS | RMP_EJ_R_NOJOURNAL);
  /* loss with a malformed journal: error, and nothing emitted */
  ngot = 0;
  static const uint8_t badj[] = { 0x20, 0x00, 0x64, 0x00, 0x09, 0x08, 0x81, 0xF1, 0x3C, 0xE4 };
  CHECK_INT(rmp_ej_recv_packet(&r, 112, badj, sizeof badj, rec, NULL), RMP_EJ_ETRUNC);
  CHECK_INT(ngot, 0);
}

/* Sustain pedal 127, 0, 127 in packets 10, 11, 12; journal of 13 (the last
 * press is in I-1 = 12, so S = 0 throughout):
 * header |S=0|Y=0|A=1|H=0|TOTCHAN=0| = 20, checkpoint 10 = 00 0A
 * channel 0 |S=0|CHAN=0|H=0|LENGTH=8| = 00 08, TOC C = 40
 * C |S=0|LEN=1| = 01; value tool first, then toggle tool (A.3.3 order):
 *   |S=0|64| = 40, |A=0|VALUE=127| = 7F; |S=0|64| = 40, |A=1|T=0|ALT=3| = 83 */
static const uint8_t jped[] = { 0x20, 0x00, 0x0A, 0x00, 0x08, 0x40, 0x01, 0x40, 0x7F, 0x40, 0x83 };

static void test_pedal(void) {
  rmp_ej_send_config cfg = { 0 };
  rmp_ej_send_free(&s); rmp_ej_send_init(&s, &cfg);
  uint8_t out[64];
  static const uint8_t dn[] = { 0xB0, 64, 127 }, up[] = { 0xB0, 64, 0 };
  rmp_ej_send_encode(&s, 10, out, sizeof out);
  rmp_ej_send_record(&s, 10, dn, 3);
  rmp_ej_send_encode(&s, 11, out, sizeof out);
  rmp_ej_send_record(&s, 11, up, 3);
  rmp_ej_send_encode(&s, 12, out, sizeof out);
  rmp_ej_send_record(&s, 12, dn, 3);
  CHECK_INT(rmp_ej_send_encode(&s, 13, out, sizeof out), (int)sizeof jped);
  CHECK_MEM(out, sizeof jped, jped, sizeof jped);

  /* receiver lost all three: odd toggle difference -> one pedal down */
  rmp_ej_recv_free(&r); rmp_ej_recv_init(&r);
  ngot = 0;
  rmp_ej_recv_packet(&r, 9, NULL, 0, rec, NULL);
  rmp_ej_recv_packet(&r, 13, jped, sizeof jped, rec, NULL);
  CHECK_INT(ngot, 1);
  CHECK_MEM(got[0], got_len[0], dn, 3);
  /* receiver got the first press only: even difference -> re-pedal (up, down) */
  rmp_ej_recv_free(&r); rmp_ej_recv_init(&r);
  ngot = 0;
  rmp_ej_recv_packet(&r, 10, NULL, 0, rec, NULL);
  rmp_ej_recv_apply(&r, dn, 3);
  rmp_ej_recv_packet(&r, 13, jped, sizeof jped, rec, NULL);
  CHECK_INT(ngot, 2);
  CHECK_MEM(got[0], got_len[0], up, 3);
  CHECK_MEM(got[1], got_len[1], dn, 3);
  CHECK_INT(rmp_ms_cc_count(rmp_ms_chan(&r.st, 0), 64), 3);
}

/* Program change with bank, RPN data entry, pitch bend, on channel 2. */
static void test_program_param(void) {
  rmp_ej_send_config cfg = { 0 };
  rmp_ej_send_free(&s); rmp_ej_send_init(&s, &cfg);
  rmp_ej_recv_free(&r); rmp_ej_recv_init(&r);
  uint8_t out[128];
  static const uint8_t m[][3] = {
    { 0xB2, 0, 1 }, { 0xB2, 32, 2 }, { 0xC2, 9, 0 },          /* bank 1/2, program 9 */
    { 0xB2, 101, 0 }, { 0xB2, 100, 0 }, { 0xB2, 6, 12 },      /* RPN 0/0 = 12 */
    { 0xB2, 96, 0 }, { 0xE2, 0x11, 0x22 },                     /* increment, bend */
  };
  static const size_t ml[] = { 3, 3, 2, 3, 3, 3, 3, 3 };
  rmp_ej_recv_packet(&r, 0, NULL, 0, rec, NULL);
  uint16_t seq = 1;
  for (int i = 0; i < 8; i++, seq++) {
    rmp_ej_send_encode(&s, seq, out, sizeof out);
    rmp_ej_send_record(&s, seq, m[i], ml[i]);
  }
  int jl = rmp_ej_send_encode(&s, seq, out, sizeof out);
  CHECK(jl > 0);
  ngot = 0;
  CHECK_INT(rmp_ej_recv_packet(&r, seq, out, (size_t)jl, rec, NULL), RMP_EJ_R_LOSS | RMP_EJ_R_REPAIRED);
  CHECK_INT(rmp_ms_compare(&s.st, &r.st, NULL), 0);
  /* P: B0-style bank 0x01/0x02 then program 9 come first */
  CHECK(ngot >= 3);
  static const uint8_t b0[] = { 0xB2, 0, 1 }, b32[] = { 0xB2, 32, 2 }, pc[] = { 0xC2, 9 };
  CHECK_MEM(got[0], got_len[0], b0, 3);
  CHECK_MEM(got[1], got_len[1], b32, 3);
  CHECK_MEM(got[2], got_len[2], pc, 2);
  /* decode-to-structure: the channel journal has P, C, M and W */
  rmp_ej_hdr h;
  static rmp_ej_chan cj;
  CHECK_INT(rmp_ej_parse(out, (size_t)jl, &h, NULL, &cj, NULL, NULL), jl);
  CHECK_INT(cj.chan, 2);
  CHECK_INT(cj.toc, RMP_EJ_TOC_P | RMP_EJ_TOC_C | RMP_EJ_TOC_M | RMP_EJ_TOC_W);
  CHECK(cj.m.count == 1 && cj.m.log[0].q == 0 && (cj.m.log[0].flags & RMP_EJ_M_J) && cj.m.log[0].entry_msb == 12);
  CHECK(cj.m.log[0].a_button == 1);
  CHECK(cj.p.b == 1 && cj.p.bank_msb == 1 && cj.p.bank_lsb == 2 && cj.p.program == 9);
}

/* System chapters: song select, sequencer and MTC recovered. */
static void test_system(void) {
  rmp_ej_send_config cfg = { 0 };
  rmp_ej_send_free(&s); rmp_ej_send_init(&s, &cfg);
  rmp_ej_recv_free(&r); rmp_ej_recv_init(&r);
  uint8_t out[128];
  static const uint8_t m[][3] = {
    { 0xF3, 5, 0 }, { 0xF2, 10, 0 }, { 0xFB, 0, 0 }, { 0xF8, 0, 0 }, { 0xF8, 0, 0 },
    { 0xF1, 0x03, 0 }, { 0xF1, 0x14, 0 }, { 0xF6, 0, 0 },
  };
  static const size_t ml[] = { 2, 3, 1, 1, 1, 2, 2, 1 };
  rmp_ej_recv_packet(&r, 0, NULL, 0, rec, NULL);
  uint16_t seq = 1;
  for (int i = 0; i < 8; i++, seq++) {
    rmp_ej_send_encode(&s, seq, out, sizeof out);
    rmp_ej_send_record(&s, seq, m[i], ml[i]);
  }
  int jl = rmp_ej_send_encode(&s, seq, out, sizeof out);
  CHECK(jl > 0);
  rmp_ej_hdr h;
  rmp_ej_sys sj;
  CHECK_INT(rmp_ej_parse(out, (size_t)jl, &h, &sj, NULL, NULL, NULL), jl);
  CHECK(h.y == 1 && h.a == 0);
  CHECK(sj.q.n == 1 && sj.q.clock == 62); /* 10 * 6 + 2 clocks, running */
  /* quarter frames 0 and 1 only: no complete frame yet, PARTIAL MT0..MT1 */
  CHECK(sj.f.c == 0 && sj.f.p == 1 && sj.f.point == 1 && sj.f.partial == 0x34000000u);
  CHECK(sj.d.song == 5 && sj.d.tune_count == 1);
  ngot = 0;
  CHECK_INT(rmp_ej_recv_packet(&r, seq, out, (size_t)jl, rec, NULL), RMP_EJ_R_LOSS | RMP_EJ_R_REPAIRED);
  CHECK_INT(rmp_ms_compare(&s.st, &r.st, NULL), 0);
  CHECK_INT(r.st.tune_count, 1);
}

/* Repairs collected by on_repair_msg. */
typedef struct { uint8_t bytes[64][3]; int n; } repairs_t;

static void on_repair_msg(void *ud, const uint8_t *msg, size_t len) {
  repairs_t *rp = ud;
  if (rp->n < 64 && len <= 3) memcpy(rp->bytes[rp->n++], msg, len);
}

/* Packet 1 (messages p1) reaches the receiver, packet 2 (p2) is lost:
 * returns what the receiver makes of packet 3's journal, its repairs in rep. */
static int lose_packet_2(const uint8_t (*p1)[3], int n1, const uint8_t (*p2)[3], int n2, repairs_t *rep) {
  rmp_ej_send_config cfg = { 0 };
  rmp_ej_send_free(&s); rmp_ej_send_init(&s, &cfg);
  rmp_ej_recv_free(&r); rmp_ej_recv_init(&r);
  uint8_t j[512];
  int n = rmp_ej_send_encode(&s, 1, j, sizeof j);
  CHECK(rmp_ej_recv_packet(&r, 1, n > 0 ? j : NULL, n > 0 ? (size_t)n : 0, on_repair_msg, rep) >= 0);
  for (int i = 0; i < n1; i++) { rmp_ej_send_record(&s, 1, p1[i], 3); rmp_ej_recv_apply(&r, p1[i], 3); }
  rmp_ej_send_encode(&s, 2, j, sizeof j);
  for (int i = 0; i < n2; i++) rmp_ej_send_record(&s, 2, p2[i], 3);
  n = rmp_ej_send_encode(&s, 3, j, sizeof j);
  CHECK(n > 0);
  return rmp_ej_recv_packet(&r, 3, j, n > 0 ? (size_t)n : 0, on_repair_msg, rep);
}

/* Where the repairs hold msg: its index, or -1. */
static int repair_at(const repairs_t *rep, const uint8_t msg[3]) {
  for (int i = 0; i < rep->n; i++)
    if (memcmp(rep->bytes[i], msg, 3) == 0) return i;
  return -1;
}

/* A controller the receiver never had is repaired even when the journal's
 * value equals the model's zero: the device behind the receiver keeps its
 * own default (volume 100, say) until it is told. */
static void test_unknown_controller(void) {
  repairs_t rep = {{{0}}, 0};
  static const uint8_t p1[][3] = { {0x90, 60, 100} };
  /* volume 0, and bend to the centre, the model's default */
  static const uint8_t p2[][3] = { {0xB0, 7, 0}, {0xE0, 0, 64} };
  int f = lose_packet_2(p1, 1, p2, 2, &rep);
  CHECK(f >= 0 && (f & RMP_EJ_R_LOSS) && (f & RMP_EJ_R_REPAIRED));
  CHECK(repair_at(&rep, p2[0]) >= 0);
  CHECK(repair_at(&rep, p2[1]) >= 0);
}

/* The RPN selection is repaired when the receiver got only half of it: its
 * LSB register was never received, even though the model's zero matches. */
static void test_unknown_selection(void) {
  repairs_t rep = {{{0}}, 0};
  static const uint8_t p1[][3] = { {0xB0, 101, 0} };
  static const uint8_t p2[][3] = { {0xB0, 100, 0}, {0xB0, 6, 10} }; /* LSB, Data Entry */
  int f = lose_packet_2(p1, 1, p2, 2, &rep);
  CHECK(f >= 0 && (f & RMP_EJ_R_REPAIRED));
  int at_lsb = repair_at(&rep, p2[0]), at_entry = repair_at(&rep, p2[1]);
  CHECK(at_lsb >= 0);
  CHECK(at_entry > at_lsb);
}

/* A lone NRPN MSB selects 0/0 in the model (the LSB assumed, RFC 6295 A.1
 * type 3 variant) while a device keeping register pairs still holds the
 * LSB 3 from before: after the loss of "98 = 0, 6 = 88" the repair sends the
 * whole pair before the Data Entry, although the model's selection already
 * matches. (Found by spec/journal_spec: the device's NRPN 0/3 got 88.) */
static void test_assumed_lsb(void) {
  repairs_t rep = {{{0}}, 0};
  static const uint8_t p1[][3] = { {0xB0, 99, 0}, {0xB0, 98, 3}, {0xB0, 6, 37}, {0xB0, 99, 0} };
  static const uint8_t p2[][3] = { {0xB0, 98, 0}, {0xB0, 6, 88} };
  CHECK(lose_packet_2(p1, 4, p2, 2, &rep) & RMP_EJ_R_REPAIRED);
  static const uint8_t want[][3] = { {0xB0, 99, 0}, {0xB0, 98, 0}, {0xB0, 6, 88} };
  CHECK_INT(rep.n, 3);
  for (int i = 0; i < 3 && i < rep.n; i++) CHECK_MEM(rep.bytes[i], 3, want[i], 3);
  CHECK_INT(rmp_ms_compare(&s.st, &r.st, NULL), 0);
}

/* ---- Chapter E reference counts (RFC 6295 A.7) ---------------------------- */
/* NoteOn 60 v100 (packet 100), NoteOn 60 v90 (101), NoteOff 60 v64 (102):
 * the note is off with reference count 1. Journal of 103 (checkpoint 100):
 * header |S=0|Y=0|A=1|H=0|TOTCHAN=0| = 20, 00 64
 * channel |S=0|CHAN=0|H=0|LENGTH=9| = 00 09 (3 + N 3 + E 3), TOC N+E = 0C
 * N |B=0|LEN=0| = 00 (NoteOff in 102), |LOW=7|HIGH=7| = 77, OFFBITS 08
 * E |S=0|LEN=0| = 00, |S=0|NOTENUM=60| = 3C, |V=0|COUNT=1| = 01 */
static const uint8_t j_ref[] = { 0x20, 0x00, 0x64, 0x00, 0x09, 0x0C, 0x00, 0x77, 0x08, 0x00, 0x3C, 0x01 };

static void test_note_refcount(void) {
  static const uint8_t on1[] = { 0x90, 60, 100 }, on2[] = { 0x90, 60, 90 }, off[] = { 0x80, 60, 64 };
  const uint8_t *m[3] = { on1, on2, off };
  rmp_ej_send_config cfg = { 0 };
  uint8_t out[256];
  /* receivers that got 0, 1 or 2 of the three commands */
  for (int got_n = 0; got_n < 3; got_n++) {
    rmp_ej_send_free(&s); rmp_ej_send_init(&s, &cfg);
    rmp_ej_recv_free(&r); rmp_ej_recv_init(&r);
    rmp_ej_recv_packet(&r, 99, NULL, 0, rec, NULL);
    for (int i = 0; i < 3; i++) {
      rmp_ej_send_encode(&s, (uint16_t)(100 + i), out, sizeof out);
      rmp_ej_send_record(&s, (uint16_t)(100 + i), m[i], 3);
      if (i < got_n) {
        CHECK_INT(rmp_ej_recv_packet(&r, (uint16_t)(100 + i), NULL, 0, rec, NULL), 0);
        rmp_ej_recv_apply(&r, m[i], 3);
      }
    }
    int jl = rmp_ej_send_encode(&s, 103, out, sizeof out);
    CHECK_INT(jl, (int)sizeof j_ref);
    CHECK_MEM(out, (size_t)jl, j_ref, sizeof j_ref);
    CHECK_INT(rmp_ms_chan(&s.st, 0)->note_ref[60], 1);
    ngot = 0;
    CHECK_INT(rmp_ej_recv_packet(&r, 103, out, (size_t)jl, rec, NULL), RMP_EJ_R_LOSS | RMP_EJ_R_REPAIRED);
    CHECK_INT(rmp_ms_chan(&r.st, 0)->note_ref[60], 1);
    CHECK_INT(rmp_ms_chan(&r.st, 0)->note_vel[60], 0);
    CHECK_INT(rmp_ms_compare(&s.st, &r.st, NULL), 0);
    /* got on1 only: NoteOn (second voice) then NoteOff; got both: NoteOff */
    if (got_n == 2) CHECK_INT(ngot, 1);
    if (got_n == 1) CHECK_INT(ngot, 2);
  }
  /* two overlapping NoteOns lost: the receiver replays both (V = 0 count 2
   * on an N log) */
  rmp_ej_send_free(&s); rmp_ej_send_init(&s, &cfg);
  rmp_ej_recv_free(&r); rmp_ej_recv_init(&r);
  rmp_ej_recv_packet(&r, 99, NULL, 0, rec, NULL);
  rmp_ej_send_encode(&s, 100, out, sizeof out);
  rmp_ej_send_record(&s, 100, on1, 3);
  rmp_ej_send_record(&s, 100, on2, 3);
  int jl = rmp_ej_send_encode(&s, 101, out, sizeof out);
  rmp_ej_hdr h;
  static rmp_ej_chan cj;
  CHECK_INT(rmp_ej_parse(out, (size_t)jl, &h, NULL, &cj, NULL, NULL), jl);
  CHECK(cj.toc == (RMP_EJ_TOC_N | RMP_EJ_TOC_E) && cj.e.count == 1 && cj.e.log[0].v == 0 && cj.e.log[0].value == 2);
  ngot = 0;
  CHECK_INT(rmp_ej_recv_packet(&r, 101, out, (size_t)jl, rec, NULL), RMP_EJ_R_LOSS | RMP_EJ_R_REPAIRED);
  CHECK_INT(ngot, 2);
  CHECK(got[0][0] == 0x90 && got[1][0] == 0x90 && got[1][2] == 90);
  CHECK_INT(rmp_ms_compare(&s.st, &r.st, NULL), 0);
}

/* ---- Chapter X (RFC 6295 B.5) ---------------------------------------------- */
static uint8_t xgot[16][400];
static size_t xgot_len[16];
static int nxgot;
static void xrec(void *ud, const uint8_t *m, size_t n) {
  (void)ud;
  if (nxgot < 16 && n <= sizeof xgot[0]) { memcpy(xgot[nxgot], m, n); xgot_len[nxgot] = n; }
  nxgot++;
}

/* GM System On in packet 100. Journal of packet 101 (checkpoint 100):
 * header |S=0|Y=1|A=0|H=0|TOTCHAN=0| = 40, 00 64
 * system |S=0|D=0|V=0|Q=0|F=0|X=1|LENGTH=8| = 04 08
 * X log |S=0|T=0|C=1|F=0|D=1|L=0|STA=3| = 2B (S = 0: packet I-1),
 *   COUNT 01 (first SysEx of the session), DATA 7E 7F 09 81 */
static const uint8_t gm_on[] = { 0xF0, 0x7E, 0x7F, 0x09, 0x01, 0xF7 };
static const uint8_t j_gm[] = { 0x40, 0x00, 0x64, 0x04, 0x08, 0x2B, 0x01, 0x7E, 0x7F, 0x09, 0x81 };

static void test_sysex(void) {
  rmp_ej_send_config cfg = { 0 };
  uint8_t out[1500];
  rmp_ej_send_free(&s); rmp_ej_send_init(&s, &cfg);
  CHECK_INT(rmp_ej_send_encode(&s, 100, out, sizeof out), 3);
  rmp_ej_send_record(&s, 100, gm_on, sizeof gm_on);
  int jl = rmp_ej_send_encode(&s, 101, out, sizeof out);
  CHECK_INT(jl, (int)sizeof j_gm);
  CHECK_MEM(out, (size_t)jl, j_gm, sizeof j_gm);
  /* one packet later every S bit is 1: |S=1|..| = C0; 84 08; AB */
  jl = rmp_ej_send_encode(&s, 102, out, sizeof out);
  CHECK(jl == (int)sizeof j_gm && out[0] == 0xC0 && out[3] == 0x84 && out[5] == 0xAB);

  /* Lost SysEx replayed: packets 100 A, 101 NoteOn, 102 master volume,
   * 103 A again (same type: identical octets, replaces the first log),
   * 104 nothing. The receiver got 100, lost 101..103. */
  static const uint8_t a[] = { 0xF0, 0x7D, 0x01, 0x02, 0xF7 };
  static const uint8_t vol[] = { 0xF0, 0x7F, 0x7F, 0x04, 0x01, 0x00, 0x40, 0xF7 };
  static const uint8_t on[] = { 0x90, 60, 100 };
  const uint8_t *pm[4] = { a, on, vol, a };
  const size_t pl[4] = { sizeof a, 3, sizeof vol, sizeof a };
  for (int variant = 0; variant < 2; variant++) {
    rmp_ej_send_free(&s); rmp_ej_send_init(&s, &cfg);
    rmp_ej_recv_free(&r); rmp_ej_recv_init(&r);
    rmp_ej_recv_packet(&r, 99, NULL, 0, xrec, NULL);
    int lost_from = variant == 0 ? 101 : 103; /* burst, or a single loss (S bits) */
    for (int i = 0; i < 4; i++) {
      uint16_t q = (uint16_t)(100 + i);
      jl = rmp_ej_send_encode(&s, q, out, sizeof out);
      rmp_ej_send_record(&s, q, pm[i], pl[i]);
      if (q < lost_from) {
        rmp_ej_recv_packet(&r, q, jl > 0 ? out : NULL, (size_t)jl, xrec, NULL);
        rmp_ej_recv_apply(&r, pm[i], pl[i]);
      }
    }
    jl = rmp_ej_send_encode(&s, 104, out, sizeof out);
    rmp_ej_hdr h;
    rmp_ej_sys sj;
    CHECK_INT(rmp_ej_parse(out, (size_t)jl, &h, &sj, NULL, NULL, NULL), jl);
    CHECK(h.y && (sj.toc & RMP_EJ_SYS_X) && sj.x.nlogs == 2); /* vol (COUNT 2), then A (COUNT 3) */
    nxgot = 0;
    CHECK_INT(rmp_ej_recv_packet(&r, 104, out, (size_t)jl, xrec, NULL), RMP_EJ_R_LOSS | RMP_EJ_R_REPAIRED);
    if (variant == 0) {
      CHECK_INT(nxgot, 3); /* vol, A, then the NoteOn (system chapters first) */
      CHECK_MEM(xgot[0], xgot_len[0], vol, sizeof vol);
      CHECK_MEM(xgot[1], xgot_len[1], a, sizeof a);
      CHECK_MEM(xgot[2], xgot_len[2], on, 3);
      CHECK_INT(r.x_replayed, 2);
    } else {
      CHECK_INT(nxgot, 1); /* only A: vol (COUNT 2) was received */
      CHECK_MEM(xgot[0], xgot_len[0], a, sizeof a);
      CHECK_INT(r.x_replayed, 1);
    }
    CHECK_INT(r.x_count, 3);
    CHECK_INT(s.x_count, 3);
    CHECK_INT(r.uncovered, 0);
  }

  /* A Reset State SysEx (GM System On) makes earlier SysEx inactive (A.1):
   * only it is logged. */
  rmp_ej_send_free(&s); rmp_ej_send_init(&s, &cfg);
  rmp_ej_send_record(&s, 100, a, sizeof a);
  rmp_ej_send_record(&s, 101, gm_on, sizeof gm_on);
  jl = rmp_ej_send_encode(&s, 102, out, sizeof out);
  {
    rmp_ej_hdr h;
    rmp_ej_sys sj;
    CHECK_INT(rmp_ej_parse(out, (size_t)jl, &h, &sj, NULL, NULL, NULL), jl);
    CHECK(sj.x.nlogs == 1 && sj.x.count == 2);
  }

  /* A SysEx the journal cannot hold (more than RMP_EJ_X_MAX_DATA data
   * octets): the checkpoint moves past it, and a receiver that loses it
   * counts an uncovered loss. */
  static uint8_t big[RMP_EJ_X_MAX_DATA + 10];
  big[0] = 0xF0;
  for (size_t i = 1; i + 1 < sizeof big; i++) big[i] = (uint8_t)(i & 127);
  big[sizeof big - 1] = 0xF7;
  rmp_ej_send_free(&s); rmp_ej_send_init(&s, &cfg);
  rmp_ej_recv_free(&r); rmp_ej_recv_init(&r);
  rmp_ej_recv_packet(&r, 199, NULL, 0, xrec, NULL);
  rmp_ej_send_encode(&s, 200, out, sizeof out);
  rmp_ej_send_record(&s, 200, big, sizeof big);
  rmp_ej_send_record(&s, 200, on, 3);
  jl = rmp_ej_send_encode(&s, 201, out, sizeof out);
  CHECK_INT(rmp_ej_send_checkpoint(&s), 201);
  CHECK_INT(jl, 3); /* the empty journal */
  int f = rmp_ej_recv_packet(&r, 201, NULL, 0, xrec, NULL); /* lost 200 */
  CHECK_INT(f, RMP_EJ_R_LOSS | RMP_EJ_R_NOJOURNAL);
  rmp_ej_send_record(&s, 201, a, sizeof a);
  jl = rmp_ej_send_encode(&s, 202, out, sizeof out);
  rmp_ej_send_encode(&s, 203, out, sizeof out);
  /* a store overflow: 17 different SysEx in one packet, the oldest pushed
   * out; losing that packet is uncovered */
  rmp_ej_send_free(&s); rmp_ej_send_init(&s, &cfg);
  rmp_ej_recv_free(&r); rmp_ej_recv_init(&r);
  rmp_ej_recv_packet(&r, 299, NULL, 0, xrec, NULL);
  rmp_ej_send_encode(&s, 300, out, sizeof out);
  for (int i = 0; i <= RMP_EJ_X_MAX_LOGS; i++) {
    uint8_t sx[] = { 0xF0, 0x7D, (uint8_t)i, 0xF7 };
    rmp_ej_send_record(&s, 300, sx, sizeof sx);
  }
  CHECK_INT(rmp_ej_send_encode(&s, 301, out, sizeof out), 3); /* history emptied: the empty journal */
  rmp_ej_send_record(&s, 301, on, 3);
  jl = rmp_ej_send_encode(&s, 302, out, sizeof out);
  CHECK(jl > 0);
  CHECK_INT(rmp_ej_send_checkpoint(&s), 301);
  f = rmp_ej_recv_packet(&r, 302, out, (size_t)jl, xrec, NULL); /* lost 300, 301 */
  CHECK(f & RMP_EJ_R_UNCOVERED);
  CHECK_INT(r.uncovered, 1);

  /* the size budget: a 200-octet SysEx in a 64-octet journal budget is
   * trimmed out (the journal stays within the budget) */
  rmp_ej_send_config small = { .max_size = 64 };
  rmp_ej_send_free(&s); rmp_ej_send_init(&s, &small);
  static uint8_t mid[202];
  mid[0] = 0xF0;
  for (size_t i = 1; i + 1 < sizeof mid; i++) mid[i] = 0x11;
  mid[sizeof mid - 1] = 0xF7;
  rmp_ej_send_record(&s, 400, mid, sizeof mid);
  rmp_ej_send_record(&s, 401, on, 3);
  jl = rmp_ej_send_encode(&s, 402, out, sizeof out);
  CHECK(jl > 0 && jl <= 64);
  CHECK_INT(rmp_ej_send_checkpoint(&s), 401);
}

/* ---- Reset All Controllers (121): MIDI RP-015 in the model, RFC 6295
 * C-active rules in the journal ------------------------------------------ */
static void test_reset_all_model(void) {
  static rmp_midi_state st;
  rmp_ms_free(&st);
  rmp_ms_init(&st);
  static const uint8_t m[][3] = {
    { 0xB3, 1, 10 }, { 0xB3, 11, 20 }, { 0xB3, 7, 100 }, { 0xB3, 10, 30 }, { 0xB3, 0, 2 },
    { 0xB3, 64, 127 }, { 0xB3, 66, 127 }, { 0xB3, 67, 10 }, { 0xB3, 69, 127 }, { 0xB3, 91, 40 },
    { 0xE3, 0, 0 }, { 0xD3, 50, 0 }, { 0xA3, 60, 70 }, { 0xC3, 9, 0 }, { 0x93, 60, 100 },
    { 0xB3, 101, 0 }, { 0xB3, 100, 0 }, { 0xB3, 6, 12 }, { 0xB3, 121, 0 },
  };
  for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) rmp_ms_apply(&st, m[i], (m[i][0] & 0xF0) == 0xC0 || (m[i][0] & 0xF0) == 0xD0 ? 2 : 3);
  const rmp_ms_channel *c = rmp_ms_chan(&st, 3);
  /* reset: modulation 0, expression 127, pedals 64-67 off, bend centre,
   * pressures 0, RPN/NRPN null */
  CHECK_INT(c->cc[1], 0);
  CHECK_INT(c->cc[11], 127);
  CHECK(c->cc[64] == 0 && c->cc[66] == 0 && c->cc[67] == 0);
  CHECK_INT(c->bend, 8192);
  CHECK_INT(c->chan_pressure, 0);
  CHECK_INT(c->poly[60], 0);
  int n;
  uint8_t pm, pl;
  CHECK(!rmp_ms_selected(c, &n, &pm, &pl));
  /* toggles: 64 and 66 went on, then off by the 121 (2 each); 67 stayed
   * off; 121 counted once */
  CHECK_INT(rmp_ms_cc_count(c, 64), 2);
  CHECK_INT(rmp_ms_cc_count(c, 66), 2);
  CHECK_INT(rmp_ms_cc_count(c, 67), 0);
  CHECK_INT(rmp_ms_cc_count(c, 121), 1);
  /* kept: volume, pan, bank, hold 2 (69), effects, program, notes, the
   * RPN value */
  CHECK(c->cc[7] == 100 && c->cc[10] == 30 && c->cc[0] == 2 && c->cc[69] == 127 && c->cc[91] == 40);
  CHECK(c->prog_valid && c->program == 9);
  CHECK_INT(c->note_vel[60], 100);
  const rmp_ms_param *p = rmp_ms_param_find((rmp_ms_channel *)c, 0, 0, 0, 0);
  CHECK(p && p->has_msb && p->msb == 12);
}

/* Packet 10: modulation 10, volume 100, bend, channel pressure, poly
 * pressure on note 60; packet 11: 121. Journal of packet 12 (checkpoint 10):
 * header |S=0|Y=0|A=1|H=0|TOTCHAN=0| = 20, 00 0A
 * channel |S=0|CHAN=0|H=0|LENGTH=8| = 00 08, TOC C = 40
 * C |S=0|LEN=1| = 01: volume |S=1|7| = 87 |A=0|100| = 64, then 121
 *   |S=0|121| = 79 |A=1|T=1|ALT=1| = C1. No modulation log (121 resets
 *   it, A.3.1), no W, T or A (commands before the 121 are not C-active). */
static const uint8_t j_rst[] = { 0x20, 0x00, 0x0A, 0x00, 0x08, 0x40, 0x01, 0x87, 0x64, 0x79, 0xC1 };

static void test_reset_all_journal(void) {
  static const uint8_t p10[][3] = { { 0xB0, 1, 10 }, { 0xB0, 7, 100 }, { 0xE0, 0, 0x50 }, { 0xD0, 0x30, 0 }, { 0xA0, 60, 0x20 } };
  static const size_t p10l[] = { 3, 3, 3, 2, 3 };
  static const uint8_t rst[] = { 0xB0, 121, 0 }, vol[] = { 0xB0, 7, 100 };
  rmp_ej_send_config cfg = { 0 };
  uint8_t out[64];
  for (int variant = 0; variant < 2; variant++) {
    /* variant 0: the receiver got packet 10 and lost 11; 1: lost both */
    rmp_ej_send_free(&s); rmp_ej_send_init(&s, &cfg);
    rmp_ej_recv_free(&r); rmp_ej_recv_init(&r);
    rmp_ej_recv_packet(&r, 9, NULL, 0, rec, NULL);
    rmp_ej_send_encode(&s, 10, out, sizeof out);
    for (int i = 0; i < 5; i++) rmp_ej_send_record(&s, 10, p10[i], p10l[i]);
    if (variant == 0) {
      rmp_ej_recv_packet(&r, 10, NULL, 0, rec, NULL);
      for (int i = 0; i < 5; i++) rmp_ej_recv_apply(&r, p10[i], p10l[i]);
    }
    rmp_ej_send_encode(&s, 11, out, sizeof out);
    rmp_ej_send_record(&s, 11, rst, 3);
    CHECK_INT(rmp_ej_send_encode(&s, 12, out, sizeof out), (int)sizeof j_rst);
    CHECK_MEM(out, sizeof j_rst, j_rst, sizeof j_rst);
    ngot = 0;
    CHECK_INT(rmp_ej_recv_packet(&r, 12, j_rst, sizeof j_rst, rec, NULL), RMP_EJ_R_LOSS | RMP_EJ_R_REPAIRED);
    if (variant == 0) {
      CHECK_INT(ngot, 1);
      CHECK_MEM(got[0], got_len[0], rst, 3);
    } else {
      CHECK_INT(ngot, 2);
      CHECK_MEM(got[0], got_len[0], vol, 3);
      CHECK_MEM(got[1], got_len[1], rst, 3);
    }
    CHECK_INT(rmp_ms_compare(&s.st, &r.st, NULL), 0);
    CHECK_INT(rmp_ms_chan(&r.st, 0)->bend, 8192);
  }
  /* a bend after the 121 in the same packet is C-active: Chapter W */
  rmp_ej_send_free(&s); rmp_ej_send_init(&s, &cfg);
  static const uint8_t bend[] = { 0xE0, 0x11, 0x22 };
  rmp_ej_send_encode(&s, 20, out, sizeof out);
  rmp_ej_send_record(&s, 20, bend, 3);
  rmp_ej_send_record(&s, 20, rst, 3);
  rmp_ej_send_record(&s, 20, bend, 3);
  int jl = rmp_ej_send_encode(&s, 21, out, sizeof out);
  static rmp_ej_chan cj;
  rmp_ej_hdr h;
  CHECK_INT(rmp_ej_parse(out, (size_t)jl, &h, NULL, &cj, NULL, NULL), jl);
  CHECK_INT(cj.toc, RMP_EJ_TOC_C | RMP_EJ_TOC_W);
  CHECK(cj.w.first == 0x11 && cj.w.second == 0x22);
}

/* Packet 20: bank MSB 1, RPN 0/0, Data Entry MSB 2, one increment;
 * packet 21: 121, RPN 0/0 again, two increments, program 5.
 * Journal of packet 22 (checkpoint 20):
 * header 20 00 14; channel |S=0|CHAN=0|H=0|LENGTH=20| = 00 14, TOC P C M = E0
 * P |S=0|PROGRAM=5| = 05 |B=1|BANK-MSB=1| = 81 |X=1|BANK-LSB=0| = 80
 *   (X: a 121 between the bank select and the program change, A.2)
 * C |S=0|LEN=1| = 01, |S=1|0| = 80 |A=0|1| = 01, |S=0|121| = 79 C1
 * M |S=0|P=0|E=1|U=1|W=0|Z=1|LENGTH=9| = 34 09; log (Z and U: no
 *   Q/PNUM-MSB octet) |S=0|PNUM-LSB=0| = 00, |J=1|K=0|L=1|M=1|N=0|T=0|V=1|R=0|
 *   = B2, ENTRY-MSB |X=1|2| = 82 (before the 121), A-BUTTON |G=0|X=0|3| =
 *   00 03 (the last press is after it), C-BUTTON |G=0|R=0|2| = 00 02 (the
 *   two presses after it; A.4.2.1). */
static const uint8_t j_rst_m[] = { 0x20, 0x00, 0x14, 0x00, 0x14, 0xE0, 0x05, 0x81, 0x80, 0x01, 0x80, 0x01,
                                   0x79, 0xC1, 0x34, 0x09, 0x00, 0xB2, 0x82, 0x00, 0x03, 0x00, 0x02 };

static void test_reset_all_param(void) {
  static const uint8_t p20[][3] = { { 0xB0, 0, 1 }, { 0xB0, 101, 0 }, { 0xB0, 100, 0 }, { 0xB0, 6, 2 }, { 0xB0, 96, 0 } };
  static const uint8_t p21[][3] = { { 0xB0, 121, 0 }, { 0xB0, 101, 0 }, { 0xB0, 100, 0 }, { 0xB0, 96, 0 },
                                    { 0xB0, 96, 0 }, { 0xC0, 5, 0 } };
  rmp_ej_send_config cfg = { 0 };
  rmp_ej_send_free(&s); rmp_ej_send_init(&s, &cfg);
  rmp_ej_recv_free(&r); rmp_ej_recv_init(&r);
  uint8_t out[64];
  rmp_ej_recv_packet(&r, 19, NULL, 0, rec, NULL);
  rmp_ej_send_encode(&s, 20, out, sizeof out);
  for (int i = 0; i < 5; i++) rmp_ej_send_record(&s, 20, p20[i], 3);
  rmp_ej_send_encode(&s, 21, out, sizeof out);
  for (int i = 0; i < 6; i++) rmp_ej_send_record(&s, 21, p21[i], i == 5 ? 2 : 3);
  CHECK_INT(rmp_ej_send_encode(&s, 22, out, sizeof out), (int)sizeof j_rst_m);
  CHECK_MEM(out, sizeof j_rst_m, j_rst_m, sizeof j_rst_m);
  /* both lost: the receiver ends with RPN 0/0 = 2 plus 3 presses, selected */
  CHECK_INT(rmp_ej_recv_packet(&r, 22, out, sizeof j_rst_m, rec, NULL), RMP_EJ_R_LOSS | RMP_EJ_R_REPAIRED);
  CHECK_INT(rmp_ms_compare(&s.st, &r.st, NULL), 0);
  const rmp_ms_param *p = rmp_ms_param_get(rmp_ms_chan(&r.st, 0), 0, 0, 0);
  CHECK(p && p->has_msb && p->msb == 2 && p->buttons == 3);
}

/* Reset State commands (RFC 6295 A.1): System Reset and GM/GM2/DLS on or
 * off end every note. Packet 10: C4 on channel 1, E4 on channel 6; 11: the
 * reset; 12: G4 on channel 1. A receiver that got 10 and lost 11 and 12
 * replays the reset first, then G4 only: the notes before the reset stay
 * off, in its device (the reset) and in its model. One that lost 12 only
 * replays G4 (the reset is not repeated). */
static void reset_state_case(const uint8_t *rst, size_t rlen) {
  static const uint8_t c4[] = { 0x90, 0x3C, 0x64 }, e4[] = { 0x95, 0x40, 0x64 }, g4[] = { 0x90, 0x43, 0x50 };
  rmp_ej_send_config cfg = { 0 };
  rmp_ej_send_free(&s); rmp_ej_send_init(&s, &cfg);
  uint8_t out[512];
  rmp_ej_send_encode(&s, 10, out, sizeof out);
  rmp_ej_send_record(&s, 10, c4, 3);
  rmp_ej_send_record(&s, 10, e4, 3);
  rmp_ej_send_encode(&s, 11, out, sizeof out);
  rmp_ej_send_record(&s, 11, rst, rlen);
  CHECK_INT(rmp_ms_chan(&s.st, 0)->note_vel[0x3C], 0);
  CHECK_INT(rmp_ms_chan(&s.st, 5)->note_vel[0x40], 0);
  rmp_ej_send_encode(&s, 12, out, sizeof out);
  rmp_ej_send_record(&s, 12, g4, 3);
  int jl = rmp_ej_send_encode(&s, 13, out, sizeof out);
  CHECK(jl > 0);

  rmp_ej_recv_free(&r); rmp_ej_recv_init(&r);
  nxgot = 0;
  rmp_ej_recv_packet(&r, 10, NULL, 0, xrec, NULL);
  rmp_ej_recv_apply(&r, c4, 3);
  rmp_ej_recv_apply(&r, e4, 3);
  CHECK_INT(rmp_ej_recv_packet(&r, 13, out, (size_t)jl, xrec, NULL), RMP_EJ_R_LOSS | RMP_EJ_R_REPAIRED);
  CHECK_INT(nxgot, 2);
  CHECK_MEM(xgot[0], xgot_len[0], rst, rlen);
  CHECK_MEM(xgot[1], xgot_len[1], g4, 3);
  CHECK_INT(rmp_ms_chan(&r.st, 0)->note_vel[0x3C], 0);
  CHECK_INT(rmp_ms_chan(&r.st, 5)->note_vel[0x40], 0);
  CHECK_INT(rmp_ms_chan(&r.st, 0)->note_vel[0x43], 0x50);
  rmp_ms_diff d;
  CHECK_INT(rmp_ms_compare(&s.st, &r.st, &d), 0);

  rmp_ej_recv_free(&r); rmp_ej_recv_init(&r);
  nxgot = 0;
  rmp_ej_recv_packet(&r, 10, NULL, 0, xrec, NULL);
  rmp_ej_recv_apply(&r, c4, 3);
  rmp_ej_recv_apply(&r, e4, 3);
  rmp_ej_recv_packet(&r, 11, NULL, 0, xrec, NULL);
  rmp_ej_recv_apply(&r, rst, rlen);
  CHECK_INT(rmp_ms_chan(&r.st, 5)->note_vel[0x40], 0);
  CHECK_INT(rmp_ej_recv_packet(&r, 13, out, (size_t)jl, xrec, NULL), RMP_EJ_R_LOSS | RMP_EJ_R_REPAIRED);
  CHECK_INT(nxgot, 1);
  CHECK_MEM(xgot[0], xgot_len[0], g4, 3);
  CHECK_INT(rmp_ms_compare(&s.st, &r.st, &d), 0);
}

static void test_reset_state(void) {
  static const uint8_t sys_reset[] = { 0xFF };
  static const uint8_t gm2_on[] = { 0xF0, 0x7E, 0x10, 0x09, 0x03, 0xF7 };
  static const uint8_t dls_off[] = { 0xF0, 0x7E, 0x7F, 0x0A, 0x02, 0xF7 };
  static const uint8_t gm_disable[] = { 0xF0, 0x7E, 0x7F, 0x09, 0x00, 0xF7 };
  reset_state_case(sys_reset, 1);
  reset_state_case(gm_on, sizeof gm_on);
  reset_state_case(gm2_on, sizeof gm2_on);
  reset_state_case(dls_off, sizeof dls_off);
  reset_state_case(gm_disable, sizeof gm_disable);
  /* what is not one */
  CHECK_INT(rmp_ms_is_reset_state((const uint8_t[]){ 0xF0, 0x7E, 0x7F, 0x09, 0x04, 0xF7 }, 6), 0);
  CHECK_INT(rmp_ms_is_reset_state((const uint8_t[]){ 0xF0, 0x7E, 0x7F, 0x09, 0x02, 0xF7 }, 6), 1); /* GM Off */
  CHECK_INT(rmp_ms_is_reset_state((const uint8_t[]){ 0xF0, 0x7D, 0x7F, 0x09, 0x01, 0xF7 }, 6), 0);
  CHECK_INT(rmp_ms_is_reset_state((const uint8_t[]){ 0xF0, 0x7E, 0x7F, 0x09, 0x01, 0x00, 0xF7 }, 7), 0);
  CHECK_INT(rmp_ms_is_reset_state((const uint8_t[]){ 0xFE }, 1), 0);
}

int main(void) {
  test_reset_state();
  test_note_refcount();
  test_sysex();
  test_unknown_selection();
  test_assumed_lsb();
  test_unknown_controller();
  test_sender_notes();
  test_receiver_notes();
  test_pedal();
  test_program_param();
  test_system();
  test_reset_all_model();
  test_reset_all_journal();
  test_reset_all_param();
  return check_report();
}
