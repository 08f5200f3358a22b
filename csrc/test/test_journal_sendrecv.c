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
  rmp_ej_send_config cfg = { 0, 0, 0 };
  rmp_ej_send_init(&s, &cfg);
  uint8_t out[256];
  static const uint8_t on[] = { 0x90, 0x3C, 0x64 }, off[] = { 0x80, 0x3C, 0x40 };
  CHECK_INT(rmp_ej_send_encode(&s, 100, out, sizeof out), 0);
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
  CHECK_INT(rmp_ej_send_encode(&s, 104, out, sizeof out), 0);
  /* a budget below the header size yields an empty journal, not an error */
  rmp_ej_send_record(&s, 104, on, 3);
  CHECK_INT(rmp_ej_send_encode(&s, 105, out, 2), 0);
}

static void test_receiver_notes(void) {
  rmp_ej_recv_init(&r);
  ngot = 0;
  CHECK_INT(rmp_ej_recv_packet(&r, 99, NULL, 0, rec, NULL), 0);
  /* 100 lost; 101 arrives: single loss, journal S=0 -> NoteOn replayed */
  CHECK_INT(rmp_ej_recv_packet(&r, 101, j101, sizeof j101, rec, NULL), RMP_EJ_R_LOSS | RMP_EJ_R_REPAIRED);
  CHECK_INT(ngot, 1);
  static const uint8_t on[] = { 0x90, 0x3C, 0x64 };
  CHECK_MEM(got[0], got_len[0], on, 3);
  CHECK_INT(r.st.ch[0].note_vel[60], 100);
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
  rmp_ej_recv_init(&r);
  ngot = 0;
  rmp_ej_recv_packet(&r, 99, NULL, 0, rec, NULL);
  rmp_ej_recv_apply(&r, on, 3);
  CHECK_INT(rmp_ej_recv_packet(&r, 102, j102, sizeof j102, rec, NULL), RMP_EJ_R_LOSS | RMP_EJ_R_REPAIRED);
  CHECK_INT(ngot, 1);
  static const uint8_t off[] = { 0x80, 0x3C, 0x40 };
  CHECK_MEM(got[0], got_len[0], off, 3);
  CHECK_INT(r.st.ch[0].note_vel[60], 0);

  /* checkpoint after the first lost packet: flagged uncovered */
  rmp_ej_recv_init(&r);
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
  rmp_ej_send_config cfg = { 0, 0, 0 };
  rmp_ej_send_init(&s, &cfg);
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
  rmp_ej_recv_init(&r);
  ngot = 0;
  rmp_ej_recv_packet(&r, 9, NULL, 0, rec, NULL);
  rmp_ej_recv_packet(&r, 13, jped, sizeof jped, rec, NULL);
  CHECK_INT(ngot, 1);
  CHECK_MEM(got[0], got_len[0], dn, 3);
  /* receiver got the first press only: even difference -> re-pedal (up, down) */
  rmp_ej_recv_init(&r);
  ngot = 0;
  rmp_ej_recv_packet(&r, 10, NULL, 0, rec, NULL);
  rmp_ej_recv_apply(&r, dn, 3);
  rmp_ej_recv_packet(&r, 13, jped, sizeof jped, rec, NULL);
  CHECK_INT(ngot, 2);
  CHECK_MEM(got[0], got_len[0], up, 3);
  CHECK_MEM(got[1], got_len[1], dn, 3);
  CHECK_INT(rmp_ms_cc_count(&r.st.ch[0], 64), 3);
}

/* Program change with bank, RPN data entry, pitch bend, on channel 2. */
static void test_program_param(void) {
  rmp_ej_send_config cfg = { 0, 0, 0 };
  rmp_ej_send_init(&s, &cfg);
  rmp_ej_recv_init(&r);
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
  rmp_ej_send_config cfg = { 0, 0, 0 };
  rmp_ej_send_init(&s, &cfg);
  rmp_ej_recv_init(&r);
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

/* A controller the receiver never had is repaired even when the journal's
 * value equals the model's zero: the device behind the receiver keeps its
 * own default (volume 100, say) until it is told. */
static void test_unknown_controller(void) {
  static rmp_ej_sender snd;
  static rmp_ej_receiver rcv;
  rmp_ej_send_config cfg = {0, 0, 0};
  rmp_ej_send_init(&snd, &cfg);
  rmp_ej_recv_init(&rcv);
  repairs_t rep = {{{0}}, 0};
  uint8_t j[512];
  static const uint8_t on[3] = {0x90, 60, 100}, vol0[3] = {0xB0, 7, 0}, bend[3] = {0xE0, 0, 64};
  int n = rmp_ej_send_encode(&snd, 1, j, sizeof j); /* packet 1: delivered */
  CHECK(rmp_ej_recv_packet(&rcv, 1, n > 0 ? j : NULL, n > 0 ? (size_t)n : 0, on_repair_msg, &rep) >= 0);
  rmp_ej_send_record(&snd, 1, on, 3);
  rmp_ej_recv_apply(&rcv, on, 3);
  n = rmp_ej_send_encode(&snd, 2, j, sizeof j);     /* packet 2: lost */
  rmp_ej_send_record(&snd, 2, vol0, 3);
  rmp_ej_send_record(&snd, 2, bend, 3);             /* bend to the centre, the model's default */
  n = rmp_ej_send_encode(&snd, 3, j, sizeof j);     /* packet 3: arrives after the loss */
  CHECK(n > 0);
  int f = rmp_ej_recv_packet(&rcv, 3, j, (size_t)n, on_repair_msg, &rep);
  CHECK(f >= 0 && (f & RMP_EJ_R_LOSS) && (f & RMP_EJ_R_REPAIRED));
  int saw_vol = 0, saw_bend = 0;
  for (int i = 0; i < rep.n; i++) {
    if (memcmp(rep.bytes[i], vol0, 3) == 0) saw_vol = 1;
    if (memcmp(rep.bytes[i], bend, 3) == 0) saw_bend = 1;
  }
  CHECK(saw_vol);
  CHECK(saw_bend);
}

/* The RPN selection is repaired when the receiver got only half of it: its
 * LSB register was never received, even though the model's zero matches. */
static void test_unknown_selection(void) {
  static rmp_ej_sender snd;
  static rmp_ej_receiver rcv;
  rmp_ej_send_config cfg = {0, 0, 0};
  rmp_ej_send_init(&snd, &cfg);
  rmp_ej_recv_init(&rcv);
  repairs_t rep = {{{0}}, 0};
  uint8_t j[512];
  static const uint8_t sel_msb[3] = {0xB0, 101, 0}, sel_lsb[3] = {0xB0, 100, 0}, entry[3] = {0xB0, 6, 10};
  int n = rmp_ej_send_encode(&snd, 1, j, sizeof j); /* packet 1: delivered */
  CHECK(rmp_ej_recv_packet(&rcv, 1, n > 0 ? j : NULL, n > 0 ? (size_t)n : 0, on_repair_msg, &rep) >= 0);
  rmp_ej_send_record(&snd, 1, sel_msb, 3);
  rmp_ej_recv_apply(&rcv, sel_msb, 3);
  n = rmp_ej_send_encode(&snd, 2, j, sizeof j);     /* packet 2: lost */
  rmp_ej_send_record(&snd, 2, sel_lsb, 3);
  rmp_ej_send_record(&snd, 2, entry, 3);
  n = rmp_ej_send_encode(&snd, 3, j, sizeof j);     /* packet 3 */
  CHECK(n > 0);
  int f = rmp_ej_recv_packet(&rcv, 3, j, (size_t)n, on_repair_msg, &rep);
  CHECK(f >= 0 && (f & RMP_EJ_R_REPAIRED));
  int at_lsb = -1, at_entry = -1;
  for (int i = 0; i < rep.n; i++) {
    if (memcmp(rep.bytes[i], sel_lsb, 3) == 0) at_lsb = i;
    if (memcmp(rep.bytes[i], entry, 3) == 0) at_entry = i;
  }
  CHECK(at_lsb >= 0);
  CHECK(at_entry > at_lsb);
}

int main(void) {
  test_unknown_selection();
  test_unknown_controller();
  test_sender_notes();
  test_receiver_notes();
  test_pedal();
  test_program_param();
  test_system();
  return check_report();
}
