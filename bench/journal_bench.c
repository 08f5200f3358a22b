/* The recovery journal in C (csrc/proto/journal.h), without sockets.
 *   journal_bench [iterations [notes feedback]]
 * With notes and feedback (0/1), only that encode case runs (for an
 * instruction count under valgrind --tool=callgrind
 * --toggle-collect=rmp_ej_send_encode: the machine's timing is noisy).
 *
 * encode: rmp_ej_send_encode per packet against polyphony. k notes struck in
 * one packet and held, then one pitch bend per packet; each packet's journal
 * is encoded before its message is recorded (as MidiSession does). Without
 * feedback the checkpoint stays before the chord (the 256-packet open-loop
 * bound of MidiSession is not reached: 200 packets); with feedback each
 * packet is preceded by an acknowledgement (rmp_ej_send_ack) of the packet
 * sent 16 before it, as a receiver report a little behind would do. Prints ns per encode and octets per journal.
 *
 * repair: the same traffic as bench/lua_journal.lua repair (each packet: a
 * controller, a note on, and the note off of a note struck 30 packets
 * earlier). The receiver has every packet up to 49, packets 50..(49+burst)
 * are lost, and rmp_ej_recv_packet gets the next packet's journal: the time
 * of that repair (from a saved receiver state, many times) in µs, and of a
 * packet without a loss for comparison. */
#include "bench_util.h"
#include "journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAP 1200

static rmp_ej_sender snd;
static rmp_ej_receiver rcv, saved;
static uint8_t jbuf[CAP];
static volatile unsigned sink;

static void emit_count(void *ud, const uint8_t *msg, size_t len) {
  (void)msg;
  unsigned *n = ud;
  *n += 1;
  sink += (unsigned)len;
}

/* With feedback, the receiver's report confirms the packet sent FB_LAG
 * packets ago (a report every few packets, a little behind). */
#define FB_LAG 16

static const rmp_ej_send_config CFG = {.max_history = 256, .max_size = CAP / 2, .y_window = 64};

/* A receiver's deep copy (its tables are its own): dst's are freed first. */
static void recv_copy(rmp_ej_receiver *dst, const rmp_ej_receiver *src) {
  rmp_ej_recv_free(dst);
  *dst = *src;
  if (rmp_ms_copy(&dst->st, &src->st) < 0) abort();
  for (int ch = 0; ch < 16; ch++) {
    if (!src->note_seq[ch]) continue;
    dst->note_seq[ch] = rmp_ms_mem(&dst->st, 128 * sizeof *src->note_seq[ch]);
    if (!dst->note_seq[ch]) abort();
    memcpy(dst->note_seq[ch], src->note_seq[ch], 128 * sizeof *src->note_seq[ch]);
  }
}

static void encode_bench(int k, int feedback, long iters) {
  const int packets = 200;
  long rounds = iters / packets;
  if (rounds < 1) rounds = 1;
  double ns = 0, octets = 0, best = 0;
  long n = 0;
  int bad = 0;
  for (long r = 0; r < rounds; r++) {
    rmp_ej_send_free(&snd);
    rmp_ej_send_init(&snd, &CFG);
    uint16_t seq = 1000;
    int j = rmp_ej_send_encode(&snd, seq, jbuf, sizeof jbuf);
    if (j < 0) bad = 1;
    for (int note = 0; note < k; note++) {
      uint8_t m[3] = {0x90, (uint8_t)note, 100};
      rmp_ej_send_record(&snd, seq, m, 3);
    }
    double round_ns = 0;
    for (int i = 1; i <= packets; i++) {
      seq++;
      if (feedback && i > FB_LAG) rmp_ej_send_ack(&snd, (uint16_t)(seq - FB_LAG));
      double t0 = bench_now_ns();
      j = rmp_ej_send_encode(&snd, seq, jbuf, sizeof jbuf);
      round_ns += bench_now_ns() - t0;
      if (j < 0) bad = 1; else octets += j;
      n++;
      uint8_t m[3] = {0xE0, (uint8_t)(i & 0x7f), (uint8_t)((i >> 7) & 0x7f)};
      rmp_ej_send_record(&snd, seq, m, 3);
    }
    ns += round_ns;
    if (r == 0 || round_ns < best) best = round_ns;
  }
  printf("BENCH kind=journal_c name=encode_%s_poly_%d what=\"rmp_ej_send_encode, %d notes held, %s\" "
         "notes_held=%d encodes=%ld ns_per_encode=%.1f ns_per_encode_best_round=%.1f octets_per_journal=%.2f "
         "status=%s\n",
         feedback ? "fb" : "nofb", k, k, feedback ? "acknowledged 16 packets behind" : "no feedback", k, n,
         ns / (double)n, best / packets, octets / (double)n, bad ? "encode-error" : "ok");
}

/* Packet i of the repair traffic. */
static size_t repair_packet(int i, uint8_t m[3][3]) {
  size_t n = 0;
  m[n][0] = 0xB0; m[n][1] = 16; m[n][2] = (uint8_t)(i % 128); n++;
  m[n][0] = 0x90; m[n][1] = (uint8_t)(10 + i % 100); m[n][2] = 100; n++;
  if (i > 30) { m[n][0] = 0x80; m[n][1] = (uint8_t)(10 + (i - 30) % 100); m[n][2] = 64; n++; }
  return n;
}

static void repair_bench(int burst, long iters) {
  rmp_ej_send_free(&snd);
  rmp_ej_send_init(&snd, &CFG);
  rmp_ej_recv_free(&rcv);
  rmp_ej_recv_init(&rcv);
  const int first_lost = 50;
  const uint16_t base = 60000; /* crosses the 16-bit wrap on the way */
  unsigned dummy = 0;
  int i;
  for (i = 1; i < first_lost + burst; i++) {
    uint16_t seq = (uint16_t)(base + i);
    int j = rmp_ej_send_encode(&snd, seq, jbuf, sizeof jbuf);
    uint8_t m[3][3];
    size_t n = repair_packet(i, m);
    if (i < first_lost) {
      rmp_ej_recv_packet(&rcv, seq, j > 0 ? jbuf : NULL, j > 0 ? (size_t)j : 0, emit_count, &dummy);
      for (size_t k = 0; k < n; k++) rmp_ej_recv_apply(&rcv, m[k], 3);
    }
    for (size_t k = 0; k < n; k++) rmp_ej_send_record(&snd, seq, m[k], 3);
  }
  /* the first packet after the burst */
  uint16_t seq = (uint16_t)(base + i);
  int jlen = rmp_ej_send_encode(&snd, seq, jbuf, sizeof jbuf);
  recv_copy(&saved, &rcv);
  unsigned repaired = 0;
  int flags = 0;
  double t0 = bench_now_ns();
  for (long it = 0; it < iters; it++) {
    recv_copy(&rcv, &saved);
    repaired = 0;
    flags = rmp_ej_recv_packet(&rcv, seq, jbuf, (size_t)jlen, emit_count, &repaired);
  }
  double repair_us = (bench_now_ns() - t0) / (double)iters / 1000.0;
  /* the cost of copying the state alone, taken off */
  t0 = bench_now_ns();
  for (long it = 0; it < iters; it++) {
    recv_copy(&rcv, &saved);
    sink += rcv.last;
  }
  double copy_us = (bench_now_ns() - t0) / (double)iters / 1000.0;
  /* a packet without a loss (the journal is not read) */
  recv_copy(&rcv, &saved);
  rcv.last = (uint16_t)(seq - 1);
  recv_copy(&saved, &rcv);
  t0 = bench_now_ns();
  for (long it = 0; it < iters; it++) {
    recv_copy(&rcv, &saved);
    rmp_ej_recv_packet(&rcv, seq, jbuf, (size_t)jlen, emit_count, &dummy);
  }
  double noloss_us = (bench_now_ns() - t0) / (double)iters / 1000.0;
  int ok = (flags & RMP_EJ_R_REPAIRED) && repaired > 0;
  printf("BENCH kind=journal_c name=repair_burst%d what=\"rmp_ej_recv_packet after %d lost packets\" "
         "iterations=%ld journal_octets=%d repaired_msgs=%u repair_us=%.3f no_loss_us=%.3f "
         "state_copy_us=%.3f status=%s\n",
         burst, burst, iters, jlen, repaired, repair_us - copy_us, fmax(noloss_us - copy_us, 0.0), copy_us,
         ok ? "ok" : "not-repaired");
}

int main(int argc, char **argv) {
  long iters = argc > 1 ? atol(argv[1]) : 200000;
  if (argc > 3) { /* one encode case */
    encode_bench(atoi(argv[2]), atoi(argv[3]), iters);
    rmp_ej_send_free(&snd);
    return 0;
  }
  static const int POLY[] = {0, 4, 8, 16, 32, 64, 128};
  for (size_t p = 0; p < sizeof POLY / sizeof POLY[0]; p++) {
    encode_bench(POLY[p], 0, iters);
    encode_bench(POLY[p], 1, iters);
  }
  repair_bench(20, iters / 20 > 0 ? iters / 20 : 1);
  fflush(stdout);
  return 0;
}
