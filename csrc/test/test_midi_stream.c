/* test_midi_stream.c -- one RTP MIDI stream (midi_stream.h) on virtual
 * time: a sender and a receiver joined by hand, packets lost on purpose.
 * The guard schedule is checked against the policy the header documents. */
#include "check.h"
#include "midi_stream.h"

#include <math.h>
#include <stdlib.h>

/* ---- what the receiver delivered ---- */

typedef struct got_msg {
  uint8_t m[8];
  size_t len;
  double t;
  bool recovered;
} got_msg;

static got_msg got[64];
static int ngot;
static int stop_after = -1; /* deliver returns "stop" after this many */

static int on_msg(void *ud, const uint8_t *msg, size_t len, double t, bool recovered) {
  (void)ud;
  if (ngot < 64) {
    got[ngot].len = len;
    memcpy(got[ngot].m, msg, len < 8 ? len : 8);
    got[ngot].t = t;
    got[ngot].recovered = recovered;
  }
  ngot++;
  return stop_after >= 0 && ngot >= stop_after;
}

static bool got_is(int i, const uint8_t *m, size_t len, bool recovered) {
  return i < ngot && got[i].len == len && memcmp(got[i].m, m, len) == 0 && got[i].recovered == recovered;
}

static const rmp_stream_config CFG = {.rate = 10000.0, .payload_budget = 1200, .max_sysex = 1024,
                                      .journal_history = 256, .recovery = true, .guard_ms = 20.0};

static const uint8_t ON60[] = {0x90, 0x3C, 0x64}, ON62[] = {0x90, 0x3E, 0x64}, OFF60[] = {0x80, 0x3C, 0x40};
static const uint8_t OFF62[] = {0x80, 0x3E, 0x40};

/* One packet with the given messages (delta 0 each) from tx as seq, at
 * now: its payload in out, recorded as sent. Returns its size. */
static int send1(rmp_stream_tx *tx, const rmp_stream_config *c, rmp_cmd_encoder *enc, uint16_t seq,
                 const uint8_t *m, size_t mlen, double now, uint8_t *out, size_t cap) {
  rmp_cmd_msg msg = {0, m, mlen};
  rmp_stream_info info;
  size_t jlen;
  int n = rmp_stream_tx_packet(tx, c, enc, seq, &msg, m ? 1 : 0, now, out, cap, &info, &jlen);
  if (n > 0) rmp_stream_tx_sent(tx, c, seq, &msg, &info, now);
  return n;
}

/* ---- a lost packet repaired by the next packet's journal ---- */

static void test_round_trip_repair(void) {
  rmp_stream_tx tx;
  rmp_stream_rx rx;
  rmp_cmd_encoder enc;
  rmp_stream_counts n = {0};
  rmp_stream_tx_init(&tx);
  rmp_stream_rx_init(&rx);
  rmp_cmd_encoder_init(&enc);
  uint8_t p[1500];
  ngot = 0;
  /* nothing allocated before the first packet in each direction */
  CHECK(!rmp_stream_tx_has_journal(&tx));
  CHECK(rx.jr == NULL && rx.sysex == NULL);

  int len = send1(&tx, &CFG, &enc, 100, ON60, 3, 0.0, p, sizeof p);
  CHECK(rmp_stream_tx_has_journal(&tx));
  /* the first packet has nothing to journal: the 3-octet empty journal
   * (Y = A = 0, RFC 6295 section 5) all the same, J = 1 */
  CHECK_INT(p[0] & 0x40, 0x40);
  CHECK_INT(len, 4 + 3);
  CHECK_INT(p[4] & 0x60, 0);
  CHECK_INT(rmp_stream_rx_packet(&rx, &CFG, 100, 1000, p, (size_t)len, 5.0, on_msg, NULL, &n), RMP_STREAM_RX_OK);
  CHECK(rx.jr != NULL);
  CHECK(rx.sysex == NULL); /* no SysEx yet */
  CHECK_INT(ngot, 1);
  CHECK(got_is(0, ON60, 3, false));

  /* packet 101 (the note-on of 62) is lost */
  send1(&tx, &CFG, &enc, 101, ON62, 3, 10.0, p, sizeof p);
  len = send1(&tx, &CFG, &enc, 102, OFF60, 3, 20.0, p, sizeof p);
  CHECK(p[0] & 0x40); /* J: the journal of 100..101 follows */
  ngot = 0;
  CHECK_INT(rmp_stream_rx_packet(&rx, &CFG, 102, 1200, p, (size_t)len, 25.0, on_msg, NULL, &n), RMP_STREAM_RX_OK);
  /* the repair first (recovered), then the packet's own command */
  CHECK_INT(ngot, 2);
  CHECK(got_is(0, ON62, 3, true));
  CHECK(got_is(1, OFF60, 3, false));
  /* the repair has the packet's time: its timestamp, 20 ms after the first's */
  CHECK(fabs(got[0].t - got[1].t) < 1e-9);
  CHECK(fabs(got[1].t - 25.0) < 1e-9);
  CHECK_INT(n.messages, 2);
  CHECK_INT(n.recovered, 1);
  CHECK_INT(n.repairs, 1);
  CHECK_INT(n.unrecovered, 0);

  /* packet 103 (the note-off of 62) is lost and nothing follows: the first
   * guard, due 20 ms after it, repairs it */
  send1(&tx, &CFG, &enc, 103, OFF62, 3, 30.0, p, sizeof p);
  CHECK(rmp_stream_tx_unconfirmed(&tx));
  CHECK(fabs(rmp_stream_tx_deadline(&tx) - 50.0) < 1e-9);
  CHECK_INT(rmp_stream_tx_guard(&tx, &CFG, 104, 49.9, p, sizeof p), 0); /* not yet */
  len = rmp_stream_tx_guard(&tx, &CFG, 104, 50.0, p, sizeof p);
  CHECK(len > 1);
  CHECK_INT(p[0], 0x40); /* an empty command section, J = 1 */
  ngot = 0;
  CHECK_INT(rmp_stream_rx_packet(&rx, &CFG, 104, 1500, p, (size_t)len, 55.0, on_msg, NULL, &n), RMP_STREAM_RX_OK);
  CHECK_INT(ngot, 1);
  CHECK(got_is(0, OFF62, 3, true));
  CHECK_INT(n.repairs, 2);
  /* the receiver's report of 104 confirms 103: the guards end */
  rmp_stream_tx_ack(&tx, 104);
  CHECK(!rmp_stream_tx_unconfirmed(&tx));
  CHECK(rmp_stream_tx_deadline(&tx) == INFINITY);
  CHECK_INT(rmp_stream_tx_checkpoint(&tx), 105);
  rmp_stream_tx_free(&tx);
  rmp_stream_rx_free(&rx);
}

/* ---- the guard schedule ---- */

/* Sends every guard that comes due until none does (or max), from seq on,
 * each exactly at its deadline; returns how many and their times. */
static int run_guards(rmp_stream_tx *tx, const rmp_stream_config *c, uint16_t *seq, double *times, int max) {
  uint8_t p[1500];
  int k = 0;
  while (k < max) {
    double due = rmp_stream_tx_deadline(tx);
    if (due == INFINITY) break;
    int n = rmp_stream_tx_guard(tx, c, *seq, due, p, sizeof p);
    if (n <= 0) break;
    times[k++] = due;
    (*seq)++;
  }
  return k;
}

static void test_guard_schedule(void) {
  rmp_stream_tx tx;
  rmp_cmd_encoder enc;
  uint8_t p[1500];
  double t[64];
  rmp_stream_tx_init(&tx);
  rmp_cmd_encoder_init(&enc);

  /* nothing sent: no guard */
  CHECK(rmp_stream_tx_deadline(&tx) == INFINITY);
  CHECK_INT(rmp_stream_tx_guard(&tx, &CFG, 1, 1e9, p, sizeof p), 0);

  /* open loop, no feedback: g, 3g, 7g, 15g, 31g after the packet, then none */
  send1(&tx, &CFG, &enc, 500, ON60, 3, 1000.0, p, sizeof p);
  uint16_t seq = 501;
  int k = run_guards(&tx, &CFG, &seq, t, 64);
  CHECK_INT(k, 5);
  static const double open20[] = {1020, 1060, 1140, 1300, 1620};
  for (int i = 0; i < 5 && i < k; i++) CHECK(fabs(t[i] - open20[i]) < 1e-9);
  CHECK(rmp_stream_tx_unconfirmed(&tx)); /* still: nobody confirmed it */
  CHECK(rmp_stream_tx_deadline(&tx) == INFINITY);

  /* feedback that does not cover the packet (an older one): late guards,
   * one a second after the last, at most 30 */
  rmp_stream_tx_ack(&tx, 499);
  CHECK(rmp_stream_tx_unconfirmed(&tx));
  CHECK(fabs(rmp_stream_tx_deadline(&tx) - 2620.0) < 1e-9);
  k = run_guards(&tx, &CFG, &seq, t, 64);
  CHECK_INT(k, 30);
  CHECK(fabs(t[0] - 2620.0) < 1e-9);
  CHECK(fabs(t[29] - 31620.0) < 1e-9);
  CHECK(rmp_stream_tx_deadline(&tx) == INFINITY);

  /* a new packet with commands starts the schedule again; the peer gives
   * feedback, so late guards follow the open-loop ones, until it confirms */
  send1(&tx, &CFG, &enc, seq++, ON62, 3, 40000.0, p, sizeof p);
  uint16_t cmd = (uint16_t)(seq - 1);
  k = run_guards(&tx, &CFG, &seq, t, 7);
  CHECK_INT(k, 7);
  CHECK(fabs(t[4] - 40620.0) < 1e-9);
  CHECK(fabs(t[5] - 41620.0) < 1e-9);
  CHECK(fabs(t[6] - 42620.0) < 1e-9);
  /* an ack of a guard sent after it confirms the packet: no more guards */
  rmp_stream_tx_ack(&tx, (uint16_t)(cmd + 3));
  CHECK(!rmp_stream_tx_unconfirmed(&tx));
  CHECK(rmp_stream_tx_deadline(&tx) == INFINITY);
  CHECK_INT(rmp_stream_tx_guard(&tx, &CFG, seq, 1e9, p, sizeof p), 0);

  /* an ack of the packet itself, before any guard */
  send1(&tx, &CFG, &enc, seq, OFF60, 3, 50000.0, p, sizeof p);
  CHECK(fabs(rmp_stream_tx_deadline(&tx) - 50020.0) < 1e-9);
  rmp_stream_tx_ack(&tx, seq);
  CHECK(rmp_stream_tx_deadline(&tx) == INFINITY);
  seq++;
  /* an ack of a packet not sent yet confirms nothing */
  send1(&tx, &CFG, &enc, seq, OFF62, 3, 60000.0, p, sizeof p);
  rmp_stream_tx_ack(&tx, (uint16_t)(seq + 5));
  CHECK(rmp_stream_tx_unconfirmed(&tx));
  rmp_stream_tx_free(&tx);

  /* AppleMIDI's guard_interval is g: 50 ms gives 50, 150, 350, 750, 1550 */
  rmp_stream_config c50 = CFG;
  c50.guard_ms = 50.0;
  rmp_stream_tx_init(&tx);
  send1(&tx, &c50, &enc, 7, ON60, 3, 0.0, p, sizeof p);
  seq = 8;
  k = run_guards(&tx, &c50, &seq, t, 64);
  CHECK_INT(k, 5);
  static const double open50[] = {50, 150, 350, 750, 1550};
  for (int i = 0; i < 5 && i < k; i++) CHECK(fabs(t[i] - open50[i]) < 1e-9);
  rmp_stream_tx_free(&tx);

  /* a guard left late goes when served; the next gap counts from then */
  rmp_stream_tx_init(&tx);
  send1(&tx, &CFG, &enc, 1, ON60, 3, 0.0, p, sizeof p);
  CHECK(rmp_stream_tx_guard(&tx, &CFG, 2, 35.0, p, sizeof p) > 0);
  CHECK(fabs(rmp_stream_tx_deadline(&tx) - 75.0) < 1e-9);
  rmp_stream_tx_free(&tx);

  /* nothing left to protect (the history bound of 1 packet has passed the
   * note): the guard is not sent and the schedule ends */
  rmp_stream_config c1 = CFG;
  c1.journal_history = 1;
  rmp_stream_tx_init(&tx);
  send1(&tx, &c1, &enc, 1, ON60, 3, 0.0, p, sizeof p);
  CHECK(rmp_stream_tx_guard(&tx, &c1, 2, 20.0, p, sizeof p) > 0); /* covers packet 1 */
  CHECK_INT(rmp_stream_tx_guard(&tx, &c1, 3, 60.0, p, sizeof p), 0);
  CHECK(!rmp_stream_tx_unconfirmed(&tx));
  CHECK(rmp_stream_tx_deadline(&tx) == INFINITY);
  rmp_stream_tx_free(&tx);

  /* recovery off: no journal, no guards */
  rmp_stream_config off = CFG;
  off.recovery = false;
  rmp_stream_tx_init(&tx);
  int n = send1(&tx, &off, &enc, 1, ON60, 3, 0.0, p, sizeof p);
  CHECK_INT(n, 4);
  CHECK(!rmp_stream_tx_has_journal(&tx));
  CHECK(rmp_stream_tx_deadline(&tx) == INFINITY);
  CHECK(!rmp_stream_tx_unconfirmed(&tx));
  rmp_stream_tx_free(&tx);
}

/* ---- time mapping ---- */

static void test_time_mapping(void) {
  rmp_stream_rx rx;
  rmp_stream_counts n = {0};
  rmp_stream_rx_init(&rx);
  rmp_stream_config c = CFG;
  c.recovery = false;
  /* commands at 0, 10 and 25 ticks (10 kHz) after timestamp 5000 */
  static const uint8_t p1[] = {0x2A, 0x00, 0x90, 0x3C, 0x64, 0x0A, 0x3E, 0x64, 0x0F, 0x40, 0x64};
  ngot = 0;
  CHECK_INT(rmp_stream_rx_packet(&rx, &c, 1, 5000, p1, sizeof p1, 500.0, on_msg, NULL, &n), RMP_STREAM_RX_OK);
  CHECK_INT(ngot, 3);
  /* the packet left no earlier than its last command: that is now */
  CHECK(fabs(got[0].t - 497.5) < 1e-9);
  CHECK(fabs(got[1].t - 498.5) < 1e-9);
  CHECK(fabs(got[2].t - 500.0) < 1e-9);
  CHECK(rx.jr == NULL); /* recovery off: no journal receiver */
  /* 100 ticks (10 ms) later, with 1 ms more transit: mapped on the anchor */
  static const uint8_t p2[] = {0x03, 0x80, 0x3C, 0x40};
  ngot = 0;
  CHECK_INT(rmp_stream_rx_packet(&rx, &c, 2, 5100, p2, sizeof p2, 511.0, on_msg, NULL, &n), RMP_STREAM_RX_OK);
  CHECK_INT(ngot, 1);
  CHECK(fabs(got[0].t - 507.5) < 1e-9);
  /* the timestamp wraps: times go on */
  rmp_stream_rx_free(&rx);
  rmp_stream_rx_init(&rx);
  ngot = 0;
  rmp_stream_rx_packet(&rx, &c, 1, 0xFFFFFFF0u, p2, sizeof p2, 100.0, on_msg, NULL, &n);
  rmp_stream_rx_packet(&rx, &c, 2, 0x10u, p2, sizeof p2, 103.2, on_msg, NULL, &n);
  CHECK_INT(ngot, 2);
  CHECK(fabs(got[1].t - 103.2) < 1e-9); /* 32 ticks = 3.2 ms later */
  rmp_stream_rx_free(&rx);
}

/* ---- malformed sections, duplicates, restarts, SysEx, stopping ---- */

static void test_receiver_edges(void) {
  rmp_stream_rx rx;
  rmp_stream_counts n = {0};
  rmp_stream_rx_init(&rx);
  /* a valid command, then a delta whose continuation runs past the list:
   * the whole section is dropped, the valid command too */
  static const uint8_t bad[] = {0x04, 0x90, 0x3C, 0x64, 0x85};
  ngot = 0;
  CHECK_INT(rmp_stream_rx_packet(&rx, &CFG, 1, 0, bad, sizeof bad, 0.0, on_msg, NULL, &n),
            RMP_STREAM_RX_MALFORMED);
  CHECK_INT(ngot, 0);
  CHECK_INT(n.malformed, 1);
  CHECK(rx.jr == NULL); /* nothing was read past the section's check */
  static const uint8_t shorthdr[] = {0x85, 0x90};
  CHECK_INT(rmp_stream_rx_packet(&rx, &CFG, 1, 0, shorthdr, sizeof shorthdr, 0.0, on_msg, NULL, &n),
            RMP_STREAM_RX_MALFORMED);
  CHECK_INT(n.malformed, 2);

  static const uint8_t note[] = {0x03, 0x90, 0x3C, 0x64};
  CHECK_INT(rmp_stream_rx_packet(&rx, &CFG, 10, 0, note, sizeof note, 0.0, on_msg, NULL, &n), RMP_STREAM_RX_OK);
  CHECK_INT(rmp_stream_rx_packet(&rx, &CFG, 11, 0, note, sizeof note, 0.0, on_msg, NULL, &n), RMP_STREAM_RX_OK);
  CHECK_INT(ngot, 2);
  /* the same packet again: dropped */
  CHECK_INT(rmp_stream_rx_packet(&rx, &CFG, 11, 0, note, sizeof note, 0.0, on_msg, NULL, &n),
            RMP_STREAM_RX_DUPLICATE);
  CHECK_INT(n.duplicates, 1);
  CHECK_INT(ngot, 2);
  /* an older number: the sender restarted its numbering, and is heard */
  CHECK_INT(rmp_stream_rx_packet(&rx, &CFG, 3, 0, note, sizeof note, 0.0, on_msg, NULL, &n), RMP_STREAM_RX_OK);
  CHECK_INT(rmp_stream_rx_packet(&rx, &CFG, 4, 0, note, sizeof note, 0.0, on_msg, NULL, &n), RMP_STREAM_RX_OK);
  CHECK_INT(ngot, 4);
  CHECK_INT(n.unrecovered, 0);

  /* the SysEx buffer comes with the first SysEx */
  CHECK(rx.sysex == NULL);
  static const uint8_t sx[] = {0x05, 0xF0, 0x01, 0x02, 0x03, 0xF7};
  ngot = 0;
  CHECK_INT(rmp_stream_rx_packet(&rx, &CFG, 5, 0, sx, sizeof sx, 0.0, on_msg, NULL, &n), RMP_STREAM_RX_OK);
  CHECK(rx.sysex != NULL);
  CHECK_INT(ngot, 1);
  CHECK_INT(got[0].len, 5);

  /* the application stops delivery (its session went away) after one */
  static const uint8_t two[] = {0x06, 0x90, 0x3C, 0x64, 0x00, 0x3E, 0x64};
  ngot = 0;
  stop_after = 1;
  CHECK_INT(rmp_stream_rx_packet(&rx, &CFG, 6, 0, two, sizeof two, 0.0, on_msg, NULL, &n), RMP_STREAM_RX_STOPPED);
  stop_after = -1;
  CHECK_INT(ngot, 1);
  rmp_stream_rx_free(&rx);
  CHECK(rx.sysex == NULL && rx.jr == NULL);
}

/* ---- payload layout: within the budget, journal at most half ---- */

static void test_payload_budget(void) {
  rmp_stream_config c = CFG;
  c.payload_budget = 48;
  rmp_stream_tx tx;
  rmp_cmd_encoder enc;
  rmp_stream_tx_init(&tx);
  rmp_cmd_encoder_init(&enc);
  uint8_t p[1500];
  /* 40 notes held, one a packet: the journal would grow past 24 octets */
  for (int i = 0; i < 40; i++) {
    uint8_t on[3] = {0x90, (uint8_t)(40 + i), 0x64};
    int n = send1(&tx, &c, &enc, (uint16_t)i, on, 3, i, p, sizeof p);
    CHECK(n > 0 && n <= 48);
  }
  /* several messages: the section takes what the journal leaves */
  rmp_cmd_msg msgs[20];
  uint8_t bytes[20][3];
  for (int i = 0; i < 20; i++) {
    bytes[i][0] = 0xB0;
    bytes[i][1] = (uint8_t)i;
    bytes[i][2] = 1;
    msgs[i] = (rmp_cmd_msg){0, bytes[i], 3};
  }
  rmp_stream_info info;
  size_t jlen;
  int n = rmp_stream_tx_packet(&tx, &c, &enc, 40, msgs, 20, 0, p, sizeof p, &info, &jlen);
  CHECK(jlen > 0 && jlen <= 24);
  CHECK(n > 0 && n <= 48);
  CHECK(info.cmd.nmsgs > 0 && info.cmd.nmsgs < 20);
  rmp_stream_tx_free(&tx);

  /* one section for two receivers: sized for the larger journal, each
   * packet carries its own */
  rmp_stream_tx a, b;
  rmp_stream_tx_init(&a);
  rmp_stream_tx_init(&b);
  send1(&a, &CFG, &enc, 1, ON60, 3, 0, p, sizeof p); /* a has a history, b none */
  size_t ja = rmp_stream_tx_journal(&a, &CFG, 2, true);
  size_t jb = rmp_stream_tx_journal(&b, &CFG, 9, true);
  CHECK(ja > 0);
  CHECK_INT(jb, 3); /* the empty journal */
  uint8_t sect[1500];
  rmp_cmd_msg m = {0, ON62, 3};
  int sl = rmp_stream_section(&enc, &CFG, &m, 1, ja, SIZE_MAX, sect, sizeof sect - ja, &info);
  CHECK_INT(sl, 4);
  CHECK_INT(rmp_stream_tx_append(&a, sect, (size_t)sl, sizeof sect), sl + (int)ja);
  CHECK(sect[0] & 0x40);
  CHECK_INT(rmp_stream_tx_append(&b, sect, (size_t)sl, sizeof sect), sl + 3);
  CHECK(sect[0] & 0x40);
  CHECK(rmp_stream_tx_has_journal(&b)); /* made for its first packet with commands */
  rmp_stream_tx_free(&a);
  rmp_stream_tx_free(&b);

  /* a packet without commands does not make the journal's sender */
  rmp_stream_tx_init(&a);
  CHECK_INT(rmp_stream_tx_journal(&a, &CFG, 1, false), 0);
  CHECK(!rmp_stream_tx_has_journal(&a));
  rmp_stream_tx_free(&a);
}

/* ---- the RTP layer resyncs (rtp_seq.h) ---- */

/* A forged packet far ahead was taken on trust and delivered; the real
 * stream's first packet after it was late; its second undoes the jump:
 * resume from the real stream's last packet, and its journal repairs the
 * one lost meanwhile. A restart reads the next packet as a first. */
static void test_resume_and_restart(void) {
  rmp_stream_tx tx;
  rmp_stream_rx rx;
  rmp_cmd_encoder enc;
  rmp_stream_counts n = {0};
  rmp_stream_tx_init(&tx);
  rmp_stream_rx_init(&rx);
  rmp_cmd_encoder_init(&enc);
  uint8_t p[1500];
  int len = send1(&tx, &CFG, &enc, 100, ON60, 3, 0.0, p, sizeof p);
  ngot = 0;
  rmp_stream_rx_packet(&rx, &CFG, 100, 1000, p, (size_t)len, 5.0, on_msg, NULL, &n);
  /* the forgery: 140, no journal */
  static const uint8_t forged[] = {0x03, 0x9F, 0x3C, 0x40};
  CHECK_INT(rmp_stream_rx_packet(&rx, &CFG, 140, 1100, forged, sizeof forged, 10.0, on_msg, NULL, &n),
            RMP_STREAM_RX_OK);
  CHECK_INT(n.unrecovered, 1);
  /* the real 101 (note on 62) came late and was dropped by the RTP layer;
   * 102 undoes the jump */
  send1(&tx, &CFG, &enc, 101, ON62, 3, 10.0, p, sizeof p);
  len = send1(&tx, &CFG, &enc, 102, OFF60, 3, 20.0, p, sizeof p);
  rmp_stream_rx_resume(&rx, 100);
  ngot = 0;
  CHECK_INT(rmp_stream_rx_packet(&rx, &CFG, 102, 1200, p, (size_t)len, 25.0, on_msg, NULL, &n), RMP_STREAM_RX_OK);
  /* the forgery's uncovered loss released note 60 (journal_recv.c); the
   * journal of 102 strikes it again, and brings the lost note on 62 */
  CHECK_INT(ngot, 3);
  CHECK(got_is(0, ON60, 3, true));
  CHECK(got_is(1, ON62, 3, true));
  CHECK(got_is(2, OFF60, 3, false));
  CHECK_INT(n.repairs, 1);
  /* Without the resume, 102 after 140 would have been taken as a restart:
   * no repair. Now a real restart: numbering and timestamps start again. */
  rmp_stream_rx_restart(&rx);
  CHECK(!rx.clock.anchored);
  len = send1(&tx, &CFG, &enc, 103, OFF62, 3, 30.0, p, sizeof p);
  ngot = 0;
  CHECK_INT(rmp_stream_rx_packet(&rx, &CFG, 7, 5, p, (size_t)len, 500.0, on_msg, NULL, &n), RMP_STREAM_RX_OK);
  CHECK_INT(ngot, 1); /* its own command only: no repair */
  CHECK(got_is(0, OFF62, 3, false));
  CHECK(fabs(got[0].t - 500.0) < 1e-9); /* anchored afresh */
  CHECK_INT(n.repairs, 1);
  /* resume before the receiver exists: harmless */
  rmp_stream_rx r2;
  rmp_stream_rx_init(&r2);
  rmp_stream_rx_resume(&r2, 5);
  rmp_stream_rx_restart(&r2);
  CHECK(r2.jr == NULL);
  rmp_stream_tx_free(&tx);
  rmp_stream_rx_free(&rx);
}

/* ---- the peer gone: what it left sounding is released ---- */

static void test_release(void) {
  rmp_stream_tx tx;
  rmp_stream_rx rx;
  rmp_cmd_encoder enc;
  rmp_stream_counts n = {0};
  rmp_stream_tx_init(&tx);
  rmp_stream_rx_init(&rx);
  rmp_cmd_encoder_init(&enc);
  uint8_t p[1500];
  static const uint8_t SUS[] = {0xB1, 64, 127}, SOFT[] = {0xB1, 67, 100}, ON_CH2[] = {0x91, 0x40, 0x50};
  static const uint8_t SOST_UP[] = {0xB1, 66, 0};
  uint16_t seq = 500;
  const uint8_t *msgs[] = {ON60, ON62, OFF62, SUS, SOFT, ON_CH2, SOST_UP};
  const size_t lens[] = {3, 3, 3, 3, 3, 3, 3};
  for (unsigned i = 0; i < 7; i++) {
    int len = send1(&tx, &CFG, &enc, seq, msgs[i], lens[i], i, p, sizeof p);
    rmp_stream_rx_packet(&rx, &CFG, seq++, 100 * i, p, (size_t)len, i, on_msg, NULL, &n);
  }
  /* 60 on channel 1; 64 on channel 2 with sustain and soft down */
  ngot = 0;
  CHECK_INT(rmp_stream_rx_release(&rx, 77.0, on_msg, NULL, &n), 4);
  static const uint8_t OFF60_64[] = {0x80, 0x3C, 0x40}, OFF_CH2[] = {0x81, 0x40, 0x40};
  static const uint8_t SUS_UP[] = {0xB1, 64, 0}, SOFT_UP[] = {0xB1, 67, 0};
  CHECK(got_is(0, OFF60_64, 3, true));
  CHECK(got_is(1, OFF_CH2, 3, true));
  CHECK(got_is(2, SUS_UP, 3, true));
  CHECK(got_is(3, SOFT_UP, 3, true));
  CHECK(fabs(got[0].t - 77.0) < 1e-9);
  CHECK_INT(n.released, 4);
  /* nothing more sounds */
  ngot = 0;
  CHECK_INT(rmp_stream_rx_release(&rx, 78.0, on_msg, NULL, &n), 0);
  CHECK_INT(ngot, 0);
  /* the journal receiver knows it: the peer comes back after losing a
   * packet, its journal says 60 is still on -- repaired (sounds again) */
  send1(&tx, &CFG, &enc, seq++, ON62, 3, 10, p, sizeof p); /* lost */
  int len = send1(&tx, &CFG, &enc, seq, OFF62, 3, 11, p, sizeof p);
  ngot = 0;
  rmp_stream_rx_packet(&rx, &CFG, seq++, 2000, p, (size_t)len, 12, on_msg, NULL, &n);
  bool on60 = false;
  for (int i = 0; i < ngot; i++) on60 |= got_is(i, ON60, 3, true);
  CHECK(on60);
  /* all notes off, mode messages, reset all controllers, system reset */
  rmp_stream_rx r2;
  rmp_stream_rx_init(&r2);
  rmp_stream_config nojournal = CFG;
  nojournal.recovery = false;
  static const uint8_t sec[] = {0x0B, 0x90, 0x3C, 0x40, 0x00, 0xB0, 0x40, 0x7F, 0x00, 0x92, 0x10, 0x01};
  CHECK_INT(rmp_stream_rx_packet(&r2, &nojournal, 1, 0, sec, sizeof sec, 0.0, on_msg, NULL, &n), RMP_STREAM_RX_OK);
  CHECK(r2.jr == NULL);
  static const uint8_t anoff[] = {0x03, 0xB0, 123, 0};
  rmp_stream_rx_packet(&r2, &nojournal, 2, 0, anoff, sizeof anoff, 0.0, on_msg, NULL, &n);
  ngot = 0;
  CHECK_INT(rmp_stream_rx_release(&r2, 0.0, on_msg, NULL, &n), 2); /* sustain ch 1, note 16 ch 3 */
  static const uint8_t on2[] = {0x07, 0x92, 0x10, 0x01, 0x00, 0xB2, 0x40, 0x7F};
  rmp_stream_rx_packet(&r2, &nojournal, 3, 0, on2, sizeof on2, 0.0, on_msg, NULL, &n);
  static const uint8_t rac[] = {0x03, 0xB2, 121, 0};
  rmp_stream_rx_packet(&r2, &nojournal, 4, 0, rac, sizeof rac, 0.0, on_msg, NULL, &n);
  ngot = 0;
  CHECK_INT(rmp_stream_rx_release(&r2, 0.0, on_msg, NULL, &n), 1); /* the note; the pedal was reset */
  rmp_stream_rx_packet(&r2, &nojournal, 5, 0, on2, sizeof on2, 0.0, on_msg, NULL, &n);
  static const uint8_t reset[] = {0x01, 0xFF};
  rmp_stream_rx_packet(&r2, &nojournal, 6, 0, reset, sizeof reset, 0.0, on_msg, NULL, &n);
  CHECK_INT(rmp_stream_rx_release(&r2, 0.0, on_msg, NULL, &n), 0);
  /* deliver asking to stop: the rest stays for later */
  rmp_stream_rx_packet(&r2, &nojournal, 7, 0, sec, sizeof sec, 0.0, on_msg, NULL, &n);
  ngot = 0;
  stop_after = 1;
  CHECK_INT(rmp_stream_rx_release(&r2, 0.0, on_msg, NULL, &n), 1);
  stop_after = -1;
  CHECK_INT(rmp_stream_rx_release(&r2, 0.0, on_msg, NULL, &n), 2);
  rmp_stream_rx_free(&r2);
  rmp_stream_tx_free(&tx);
  rmp_stream_rx_free(&rx);
}

/* ---- feedback is taken only for packets sent and not yet confirmed ---- */

/* Issue #16, finding 4: a forged RS (or RTCP RR) for a packet the peer
 * never received moved the checkpoint past the loss. An ack moves it only
 * within the packets sent since the last one confirmed. */
static void test_ack_range(void) {
  rmp_stream_tx tx;
  rmp_stream_rx rx;
  rmp_stream_counts n;
  rmp_cmd_encoder enc;
  uint8_t p[1500];
  memset(&n, 0, sizeof n);
  rmp_stream_tx_init(&tx);
  rmp_stream_rx_init(&rx);
  rmp_cmd_encoder_init(&enc);
  CHECK_INT(rmp_stream_tx_ack(&tx, 0), -1); /* nothing sent */
  CHECK(!tx.feedback);
  /* 65534 and 65535 arrive; 0 (note on 62) is lost */
  int len = send1(&tx, &CFG, &enc, 65534, ON60, 3, 0.0, p, sizeof p);
  ngot = 0;
  rmp_stream_rx_packet(&rx, &CFG, 65534, 0, p, (size_t)len, 0.0, on_msg, NULL, &n);
  len = send1(&tx, &CFG, &enc, 65535, OFF60, 3, 1.0, p, sizeof p);
  rmp_stream_rx_packet(&rx, &CFG, 65535, 10, p, (size_t)len, 1.0, on_msg, NULL, &n);
  send1(&tx, &CFG, &enc, 0, ON62, 3, 2.0, p, sizeof p);
  /* the peer says it has 65535: taken */
  CHECK_INT(rmp_stream_tx_ack(&tx, 65535), 1);
  CHECK_INT(rmp_stream_tx_checkpoint(&tx), 0);
  /* forged: 1, 2, 100 were never sent; nothing moves, not even the guards' feedback */
  tx.feedback = false;
  CHECK_INT(rmp_stream_tx_ack(&tx, 1), -1);
  CHECK_INT(rmp_stream_tx_ack(&tx, 2), -1);
  CHECK_INT(rmp_stream_tx_ack(&tx, 100), -1);
  CHECK(!tx.feedback);
  CHECK_INT(rmp_stream_tx_checkpoint(&tx), 0);
  CHECK(rmp_stream_tx_unconfirmed(&tx));
  /* stale: 65535 again, 65534: nothing new (the peer does give feedback) */
  CHECK_INT(rmp_stream_tx_ack(&tx, 65535), 0);
  CHECK_INT(rmp_stream_tx_ack(&tx, 65534), 0);
  CHECK(tx.feedback);
  CHECK_INT(rmp_stream_tx_checkpoint(&tx), 0);
  /* so the next packet's journal still carries the lost note on 62 */
  len = send1(&tx, &CFG, &enc, 1, OFF62, 3, 3.0, p, sizeof p);
  ngot = 0;
  CHECK_INT(rmp_stream_rx_packet(&rx, &CFG, 1, 30, p, (size_t)len, 3.0, on_msg, NULL, &n), RMP_STREAM_RX_OK);
  CHECK(got_is(0, ON62, 3, true));
  CHECK(got_is(1, OFF62, 3, false));
  /* an ack of the last packet sent confirms everything */
  CHECK_INT(rmp_stream_tx_ack(&tx, 1), 1);
  CHECK_INT(rmp_stream_tx_checkpoint(&tx), 2);
  CHECK(!rmp_stream_tx_unconfirmed(&tx));
  CHECK_INT(rmp_stream_tx_ack(&tx, 1), 0);
  CHECK_INT(rmp_stream_tx_ack(&tx, 0), 0);
  CHECK_INT(rmp_stream_tx_ack(&tx, 2), -1);
  /* half the sequence space behind is still "confirmed before", not new */
  CHECK_INT(rmp_stream_tx_ack(&tx, (uint16_t)(1 - 0x7fff)), 0);
  rmp_stream_tx_free(&tx);
  rmp_stream_rx_free(&rx);
}

/* ---- a 2 KB SysEx in parts through lossy packets (midi_stream.h) ---- */
/* The sender's packets are lost at random (or in a burst), and so is the
 * receiver's feedback; the SysEx goes in parts of what the journal can
 * hold, waits for feedback when it is full, and arrives exact, once,
 * followed by the note sent after it. Returns how often the sender
 * waited. */
static uint8_t sx_got[4096];
static size_t sx_got_len;
static int sx_got_n, sx_notes;
static int on_sx(void *ud, const uint8_t *msg, size_t len, double t, bool recovered) {
  (void)ud;
  (void)t;
  (void)recovered;
  if (len > 3) {
    sx_got_n++;
    sx_got_len = len < sizeof sx_got ? len : sizeof sx_got;
    memcpy(sx_got, msg, sx_got_len);
  } else if (len == 3 && msg[0] == 0x90) {
    sx_notes += sx_got_n == 1; /* the note after the SysEx, in order */
  }
  return 0;
}

static uint64_t sx_rng;
static unsigned sx_rand(unsigned k) {
  sx_rng = sx_rng * 6364136223846793005u + 1442695040888963407u;
  return (unsigned)((sx_rng >> 33) % k);
}

static int sysex_stream_run(unsigned loss_pct, int burst_at, uint64_t seed, size_t sxlen) {
  rmp_stream_config c = CFG;
  c.max_sysex = 4096;
  static uint8_t big[2100];
  big[0] = 0xF0;
  for (size_t i = 1; i + 1 < sxlen; i++) big[i] = (uint8_t)((i * 37 + seed) & 0x7F);
  big[sxlen - 1] = 0xF7;
  rmp_cmd_msg msgs[2] = {{0, big, sxlen}, {0, ON60, 3}};
  rmp_stream_tx tx;
  rmp_stream_rx rx;
  rmp_cmd_encoder enc;
  rmp_stream_counts n = {0};
  rmp_stream_tx_init(&tx);
  rmp_stream_rx_init(&rx);
  rmp_cmd_encoder_init(&enc);
  sx_rng = seed;
  sx_got_n = sx_notes = 0;
  sx_got_len = 0;
  uint16_t seq = 100, heard = 0;
  bool any = false;
  int stalls = 0, k = 0, pkts = 0;
  size_t done = 0;
  uint8_t p[1500];
  /* a first packet acknowledged: the peer gives feedback */
  int l0 = send1(&tx, &c, &enc, seq, OFF62, 3, 0, p, sizeof p);
  CHECK(l0 > 0);
  rmp_stream_rx_packet(&rx, &c, seq, 0, p, (size_t)l0, 0, on_sx, NULL, &n);
  CHECK_INT(rmp_stream_tx_ack(&tx, seq), 1);
  heard = seq;
  any = true;
  for (double now = 1; now < 60000 && (done < 2 || rmp_stream_tx_unconfirmed(&tx)); now += 1) {
    int len = 0;
    uint16_t s = (uint16_t)(seq + 1);
    if (done < 2) {
      rmp_stream_info info;
      size_t jlen;
      len = rmp_stream_tx_packet(&tx, &c, &enc, s, msgs + done, 2 - done, now, p, sizeof p, &info, &jlen);
      CHECK(len >= 0);
      if (len == 0) {
        stalls++; /* the guards go on meanwhile */
        len = rmp_stream_tx_guard(&tx, &c, s, now, p, sizeof p);
      } else {
        rmp_stream_tx_sent(&tx, &c, s, msgs + done, &info, now);
        done += info.cmd.nmsgs;
      }
    } else {
      len = rmp_stream_tx_guard(&tx, &c, s, now, p, sizeof p);
    }
    if (len > 0) {
      seq = s;
      pkts++;
      bool lost = burst_at >= 0 ? (pkts >= burst_at && pkts < burst_at + 20) : sx_rand(100) < loss_pct;
      if (!lost) {
        CHECK(rmp_stream_rx_packet(&rx, &c, s, 0, p, (size_t)len, now, on_sx, NULL, &n) == RMP_STREAM_RX_OK);
        heard = s;
        any = true;
      }
    }
    /* feedback every 10 ms, lost like the packets */
    if (++k % 10 == 0 && any && (burst_at >= 0 || sx_rand(100) >= loss_pct)) rmp_stream_tx_ack(&tx, heard);
  }
  CHECK_INT(done, 2);
  CHECK_INT(sx_got_n, 1);
  CHECK_INT(sx_got_len, sxlen);
  CHECK(memcmp(sx_got, big, sxlen) == 0);
  CHECK_INT(sx_notes, 1);
  CHECK_INT(n.unrecovered, 0);
  CHECK_INT(n.sysex_dropped, 0);
  rmp_stream_tx_free(&tx);
  rmp_stream_rx_free(&rx);
  return stalls;
}

static void test_sysex_in_parts(void) {
  int stalls = sysex_stream_run(0, -1, 1, 2050);
  CHECK(stalls > 0); /* 2 KB is more than one journal holds unconfirmed */
  sysex_stream_run(0, -1, 2, 300); /* over 256 data octets, one packet */
  for (uint64_t seed = 1; seed <= 20; seed++) {
    sysex_stream_run(10, -1, seed, 2050);
    sysex_stream_run(30, -1, seed * 7919, 2050);
    sysex_stream_run(30, -1, seed * 31, 300);
    sysex_stream_run(0, (int)seed, seed, 2050); /* 20 packets in a row from the seed-th */
  }
}

/* A peer that never gives feedback is not waited for (nothing would
 * confirm the parts); one that stops giving it is waited for until its
 * last feedback is RMP_STREAM_SX_STALL_MS old, then the rest goes
 * (unprotected), and the deadline says when. One that keeps repeating an
 * old ack (frozen, or hostile: it would mute the stream) is one that stopped:
 * only an ack that confirms something new is progress. */
static void test_sysex_no_feedback(void) {
  rmp_stream_config c = CFG;
  static uint8_t big[2050];
  big[0] = 0xF0;
  for (size_t i = 1; i + 1 < sizeof big; i++) big[i] = (uint8_t)(i & 0x7F);
  big[sizeof big - 1] = 0xF7;
  for (int fb = 0; fb <= 2; fb++) {
    rmp_stream_tx tx;
    rmp_cmd_encoder enc;
    rmp_stream_tx_init(&tx);
    rmp_cmd_encoder_init(&enc);
    uint8_t p[1500];
    send1(&tx, &c, &enc, 1, OFF62, 3, 0, p, sizeof p);
    if (fb) CHECK_INT(rmp_stream_tx_ack(&tx, 1), 1); /* feedback once (taken at t = 1), then never */
    rmp_cmd_msg m = {0, big, sizeof big};
    uint16_t seq = 2;
    int stalls = 0;
    double now = 1, first_stall = -1;
    while (now < 30000) {
      rmp_stream_info info;
      size_t jlen;
      int n = rmp_stream_tx_packet(&tx, &c, &enc, seq, &m, 1, now, p, sizeof p, &info, &jlen);
      CHECK(n >= 0);
      if (n == 0) {
        if (first_stall < 0) {
          first_stall = now;
          CHECK(rmp_stream_tx_deadline(&tx) <= 1 + RMP_STREAM_SX_STALL_MS);
        }
        if (fb == 2) CHECK_INT(rmp_stream_tx_ack(&tx, 1), 0); /* the same old ack, again */
        stalls++;
        now += 100;
        continue;
      }
      rmp_stream_tx_sent(&tx, &c, seq++, &m, &info, now);
      if (info.cmd.nmsgs) break;
      now += 1;
    }
    if (!fb) {
      CHECK_INT(stalls, 0);
      CHECK(now < 100);
    } else {
      CHECK(stalls > 0);
      CHECK(now >= 1 + RMP_STREAM_SX_STALL_MS && now < 1 + RMP_STREAM_SX_STALL_MS + 1000);
    }
    rmp_stream_tx_free(&tx);
  }
}

int main(void) {
  test_ack_range();
  test_round_trip_repair();
  test_guard_schedule();
  test_time_mapping();
  test_receiver_edges();
  test_payload_budget();
  test_resume_and_restart();
  test_release();
  test_sysex_in_parts();
  test_sysex_no_feedback();
  return check_report();
}
