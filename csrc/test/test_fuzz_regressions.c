/* test_fuzz_regressions.c -- inputs found by the libFuzzer targets of
 * csrc/test/fuzz (issue 10), kept as unit tests: each asserts that the code
 * rejects or handles the input safely.
 *
 * Journal divergences found by fuzz_journal_roundtrip's convergence check
 * (the inputs are in csrc/test/fuzz/known/): the receiver handles these
 * streams safely and, since issue 5, ends in the sender's state (asserted):
 *  - NRPN LSB before MSB: with a lone parameter number MSB pending
 *    (Chapter M P = 1, PENDING codes the MSB only) the receiver now also
 *    restores the LSB register from the most recent parameter log of that
 *    kind (journal_recv.c).
 *  - MTC quarter frames out of order / a register after POINT: Chapter F
 *    codes only COMPLETE and a forward PARTIAL run (B.4.1 calls other
 *    sequences illegal); rmp_ms_compare now compares exactly that.
 *  - Parameter divergence: an NRPN LSB written in a lost packet, then an
 *    RPN pair, then a received lone NRPN MSB. The model kept a register
 *    pair per kind, and no journal codes the registers of the kind not
 *    selected. The model now follows the RFC 6295 A.1 variants (midi_state.h),
 *    whose whole state Chapter M codes.
 *  - MTC stray frame: the receiver skipped the Chapter F repair when its
 *    nibbles matched PARTIAL without being a forward run; it now checks
 *    the run too.
 *  - MTC run broken: a quarter frame out of order in a lost packet ends
 *    the sender's run; its Chapter F then has POINT 7 without PARTIAL,
 *    which the receiver ignored, so a later frame 7 completed a frame on
 *    the receiver only. The receiver now leaves its run.
 *  - Button count over 127: the receiver replayed at most 127 increments
 *    per parameter; it now replays the whole A-BUTTON count (<= 16383),
 *    bounded only by the per-journal limit. */
#include <string.h>

#include "check.h"
#include "journal.h"
#include "midi_cmd.h"

/* ---- command section: delta times whose sum passes 2^32 ---------------- */
/* fuzz_cmd_roundtrip input 01 00 ff 00 d8 00 ff ff ...: 4-octet deltas of up
 * to 0x0FFFFFFF on 1-octet commands make the section's tick sum wrap. The
 * encoder's info.ticks and the decoder's event times are RTP timestamp
 * offsets: both wrap modulo 2^32 and must agree. */
static void test_cmd_delta_sum_wraps(void) {
  static const uint8_t pressure[] = { 0xD8, 0x00 }, reset[] = { 0xFF };
  rmp_cmd_msg m[40];
  uint32_t want[40], t = 0;
  for (int i = 0; i < 40; i++) {
    m[i].delta = RMP_CMD_MAX_DELTA - (uint32_t)i;
    m[i].data = i % 3 ? reset : pressure;
    m[i].len = i % 3 ? 1 : 2;
    t += m[i].delta;
    want[i] = t;
  }
  rmp_cmd_encoder enc;
  rmp_cmd_encoder_init(&enc);
  uint8_t out[400];
  rmp_cmd_enc_info info;
  int n = rmp_cmd_encode(&enc, m, 40, false, sizeof out, out, sizeof out, &info);
  CHECK(n > 0);
  CHECK_INT(info.nmsgs, 40);
  CHECK_INT(info.ticks, t); /* wrapped sum */
  rmp_cmd_decoder dec;
  rmp_cmd_decoder_init(&dec, NULL, 0);
  rmp_cmd_iter it;
  CHECK_INT(rmp_cmd_iter_init(&it, &dec, out, (size_t)n), n);
  rmp_cmd_event ev;
  int k = 0, rc;
  while ((rc = rmp_cmd_iter_next(&it, &ev)) == 1) {
    if (k < 40) {
      CHECK_INT(ev.time, want[k]);
      CHECK_INT(ev.delta, m[k].delta);
      CHECK_MEM(ev.data, ev.len, m[k].data, m[k].len);
    }
    k++;
  }
  CHECK_INT(rc, 0);
  CHECK_INT(k, 40);
}

/* ---- journal: repairs that used to diverge (issue 10 fuzzing, fixed in issue 5) ---- */
static int emitted, bad_emit;
static void on_emit(void *ud, const uint8_t *m, size_t n) {
  (void)ud;
  emitted++;
  if (rmp_midi_msg_validate(m, n) != RMP_OK) bad_emit++;
}

static rmp_ej_sender snd;
static rmp_ej_receiver rcv;

/* Packet i (seq 100 + i) carries msgs[i]; packets lost_from..lost_to are
 * lost; one more packet (no MIDI, journal only) follows. Returns the number
 * of state differences after the repair. */
static unsigned replay(const char *name, const uint8_t (*msgs)[3], const size_t *lens, int n,
                       int lost_from, int lost_to) {
  rmp_ej_send_config cfg = { 0 };
  rmp_ej_send_free(&snd); rmp_ej_send_init(&snd, &cfg);
  rmp_ej_recv_free(&rcv); rmp_ej_recv_init(&rcv);
  emitted = bad_emit = 0;
  uint8_t j[1500];
  for (int i = 0; i <= n; i++) {
    uint16_t seq = (uint16_t)(100 + i);
    int jl = rmp_ej_send_encode(&snd, seq, j, sizeof j);
    CHECK(jl >= 0);
    if (jl > 0) CHECK_INT(rmp_ej_journal_size(j, (size_t)jl), jl);
    if (i < n) rmp_ej_send_record(&snd, seq, msgs[i], lens[i]);
    if (i >= lost_from && i <= lost_to) continue;
    int f = rmp_ej_recv_packet(&rcv, seq, jl > 0 ? j : NULL, (size_t)jl, on_emit, NULL);
    if (i == lost_to + 1) CHECK_INT(f, RMP_EJ_R_LOSS | RMP_EJ_R_REPAIRED);
    else CHECK_INT(f & ~RMP_EJ_R_FIRST, 0);
    if (i < n) rmp_ej_recv_apply(&rcv, msgs[i], lens[i]);
  }
  CHECK_INT(bad_emit, 0);
  CHECK_INT(rcv.uncovered, 0);
  rmp_ms_diff d;
  unsigned diff = rmp_ms_compare(&snd.st, &rcv.st, &d);
  if (diff)
    printf("journal divergence (%s): %u difference(s), param %u, system %u\n", name, diff,
           d.wrong_param, d.wrong_system);
  CHECK_INT(diff, 0);
  return diff;
}

static void test_journal_known_divergences(void) {
  /* known/journal_roundtrip-nrpn-lsb-before-msb: NRPN LSB (98) sent before
   * the MSB (99); both lost. The lone 99 selects 99/0 (RFC 6295 A.1 type 3
   * variant); Chapter M codes it as P = 1, PENDING 99, and the repair
   * sends the pair 99 = 99, 98 = 0. */
  static const uint8_t a[][3] = { { 0xBF, 0x25, 0x63 }, { 0xBF, 0x62, 0x63 }, { 0xBF, 0x63, 0x63 } };
  static const size_t al[] = { 3, 3, 3 };
  replay("NRPN LSB before MSB", a, al, 3, 1, 2);
  {
    int n;
    uint8_t pm, pl;
    CHECK(rmp_ms_selected(rmp_ms_chan(&rcv.st, 15), &n, &pm, &pl) && n == 1 && pm == 99 && pl == 0);
  }
  /* known/journal_roundtrip-mtc-out-of-order: quarter frames 6 then 2 (not
   * a run from frame 0): Chapter F carries POINT 7 with neither COMPLETE
   * nor PARTIAL (an illegal sequence, B.4.1); the registers it cannot code
   * are not compared. */
  static const uint8_t b[][3] = { { 0xF1, 0x60, 0 }, { 0xF1, 0x26, 0 } };
  static const size_t bl[] = { 2, 2 };
  replay("MTC quarter frames out of order", b, bl, 2, 1, 1);
  /* known/journal_roundtrip-mtc-stale-after-point: frame 7 (value 2), then
   * a new run starts at frame 0. PARTIAL codes frames 0..POINT only, and
   * rmp_ms_compare compares frames 0..POINT of a partial run. */
  static const uint8_t c[][3] = { { 0xF8, 0, 0 }, { 0xF1, 0x72, 0 }, { 0xF1, 0x00, 0 } };
  static const size_t cl[] = { 1, 2, 2 };
  replay("MTC register after POINT", c, cl, 3, 1, 2);
  /* known/journal_roundtrip-param-divergence: NRPN 1/5 selected and
   * received; lost: NRPN LSB 0x4F (NRPN 1/0x4F), RPN 0/0x44 and its Data
   * Entry LSB; then a lone NRPN MSB 0 arrives after the repair. It selects
   * NRPN 0/0 on both sides (A.1 type 3 variant). With a register pair per
   * kind the sender selected 0/0x4F and the receiver 0/5. */
  static const uint8_t d[][3] = { { 0xB0, 99, 1 }, { 0xB0, 98, 5 }, { 0xB0, 98, 0x4F }, { 0xB0, 101, 0 },
                                  { 0xB0, 100, 0x44 }, { 0xB0, 38, 0x63 }, { 0xB0, 99, 0 } };
  static const size_t dl[] = { 3, 3, 3, 3, 3, 3, 3 };
  replay("NRPN LSB lost before an RPN pair", d, dl, 7, 2, 5);
  {
    int n;
    uint8_t pm, pl;
    CHECK(rmp_ms_selected(rmp_ms_chan(&rcv.st, 0), &n, &pm, &pl) && n == 1 && pm == 0 && pl == 0);
    const rmp_ms_param *p = rmp_ms_param_get(rmp_ms_chan(&rcv.st, 0), 0, 0, 0x44);
    CHECK(p && p->has_lsb && p->lsb == 0x63);
  }
  /* known/journal_roundtrip-mtc-stray-frame: a stray quarter frame 1
   * (MT1 = 4) arrives; the run 0 (MT0 = 0), 1 (MT1 = 4) is lost. The
   * receiver's nibbles equal PARTIAL (MT0 is its initial 0) but are no
   * run: it must replay frames 0 and 1, else frame 2 continues the
   * sender's run only. */
  static const uint8_t e[][3] = { { 0xF1, 0x14, 0 }, { 0xF1, 0x00, 0 }, { 0xF1, 0x14, 0 }, { 0xF1, 0x2E, 0 } };
  static const size_t el[] = { 2, 2, 2, 2 };
  replay("MTC stray frame", e, el, 4, 1, 2);
  CHECK(rcv.st.mtc_run && rcv.st.mtc_point == 2);
  /* known/journal_roundtrip-mtc-run-broken: frames 0..6 (a forward run),
   * then frame 6 again (lost: the run ends, B.4.1), then frame 7: the
   * sender completes no frame, and neither must the receiver. */
  static const uint8_t g[][3] = { { 0xF1, 0x00, 0 }, { 0xF1, 0x11, 0 }, { 0xF1, 0x22, 0 }, { 0xF1, 0x33, 0 },
                                  { 0xF1, 0x44, 0 }, { 0xF1, 0x55, 0 }, { 0xF1, 0x66, 0 }, { 0xF1, 0x66, 0 },
                                  { 0xF1, 0x77, 0 } };
  static const size_t gl[] = { 2, 2, 2, 2, 2, 2, 2, 2, 2 };
  replay("MTC run broken", g, gl, 9, 7, 7);
  CHECK(!rcv.st.mtc_complete_valid);
  /* known/journal_roundtrip-button-count-over-127: RPN 0/0 = 1, then 143
   * Data Decrements, all lost: A-BUTTON codes -143, and the repair plays
   * all 143 (it used to stop at 127 per parameter). */
  static uint8_t f[146][3];
  static size_t fl[146];
  static const uint8_t fsel[3][3] = { { 0xB0, 101, 0 }, { 0xB0, 100, 0 }, { 0xB0, 6, 1 } };
  for (int i = 0; i < 146; i++) {
    memcpy(f[i], i < 3 ? fsel[i] : (const uint8_t[3]){ 0xB0, 97, 0 }, 3);
    fl[i] = 3;
  }
  replay("143 decrements", (const uint8_t (*)[3])f, fl, 146, 3, 145);
  {
    const rmp_ms_param *p = rmp_ms_param_get(rmp_ms_chan(&rcv.st, 0), 0, 0, 0);
    CHECK(p && p->buttons == -143);
  }
}

/* known/journal-button-amplification (fuzz_journal): a 137-octet journal
 * whose Chapter M logs carry large A-BUTTON counts. The repair terminates
 * and emits only valid messages, and the receiver bounds what one journal
 * can make it play by its size (RMP_EJ_BUDGET_BASE + RMP_EJ_BUDGET_PER_OCTET
 * per octet; it used to replay each count as that many single 96/97
 * controllers: about 10^5 messages from one packet, then 16,384); the rest
 * is counted in over_budget. */
static const uint8_t j_buttons[] = {
  0x20, 0x86, 0x20, 0x00, 0x86, 0x20, 0x00, 0x83, 0x77, 0x00, 0x48, 0x48,
  0x48, 0x48, 0x48, 0x48, 0x48, 0x48, 0x48, 0x48, 0x48, 0x48, 0x48, 0x48,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xF9,
  0x00, 0x00, 0x00, 0x28, 0x8B, 0x00, 0x94, 0x01, 0x6F, 0x6F, 0x6F, 0x6F,
  0x6F, 0x7E, 0x7E, 0x7E, 0x7E, 0x7E, 0x7E, 0x7E, 0x00, 0x00, 0x00, 0x00,
  0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39,
  0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39,
  0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39,
  0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39,
  0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39,
  0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0x39, 0xC9, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x54, 0x00, 0x00, 0x00,
};

static void test_journal_button_amplification(void) {
  rmp_ej_recv_free(&rcv); rmp_ej_recv_init(&rcv);
  emitted = bad_emit = 0;
  CHECK_INT(rmp_ej_recv_repair(&rcv, j_buttons, sizeof j_buttons, 0, on_emit, NULL), (int)sizeof j_buttons);
  CHECK_INT(bad_emit, 0);
  CHECK(emitted <= (int)(RMP_EJ_BUDGET_BASE + RMP_EJ_BUDGET_PER_OCTET * sizeof j_buttons));
  CHECK(rcv.over_budget > 0);
  printf("journal of %zu octets: %d repair messages\n", sizeof j_buttons, emitted);
}

int main(void) {
  test_cmd_delta_sum_wraps();
  test_journal_known_divergences();
  test_journal_button_amplification();
  return check_report();
}
