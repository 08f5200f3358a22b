/* test_journal_converge.c -- end-to-end proof that the recovery journal
 * works: a seeded random musical stream (10,000 messages on 16 channels:
 * overlapping notes, sustain and sostenuto pedals, controllers, bank and
 * program changes, pitch bend, channel and poly pressure, RPN/NRPN with data
 * entry and increment/decrement, All Notes Off, Reset All Controllers, song
 * position, start/stop/continue, clock, MTC quarter frames, song select,
 * tune request) is
 * packetised, passed through a seeded fault injector (1%, 10%, 30%, 50%
 * random loss; bursts of 20 consecutive lost packets), and received:
 *  - with recovery: after the stream the receiver's state equals the
 *    sender's exactly (no stuck note, every controller, program, bank,
 *    bend, pressure, parameter and system state equal);
 *  - without recovery: the damage is counted and must be non-zero.
 * Runs with feedback (checkpoint trimmed by receiver reports) and open loop
 * (history and size bounds), and prints journal size against polyphony. */
#include <stdarg.h>
#include <stdlib.h>

#include "check.h"
#include "journal.h"

#define NMSG 10000

typedef struct { uint8_t b[3]; uint8_t n; } msg_t;

static uint64_t rs;
static uint32_t rnd(void) {
  rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17;
  return (uint32_t)(rs >> 11);
}
static uint32_t rn(uint32_t n) { return rnd() % n; }

static msg_t stream[NMSG + 8];
static int nstream;

static void push(uint8_t a, uint8_t b, uint8_t c, uint8_t n, rmp_midi_state *g) {
  msg_t m = { { a, b, c }, n };
  stream[nstream++] = m;
  rmp_ms_apply(g, m.b, m.n);
}

static void gen_stream(uint64_t seed) {
  static rmp_midi_state g;
  rmp_ms_free(&g); /* the previous stream's */
  rmp_ms_init(&g);
  rs = seed;
  nstream = 0;
  uint8_t mtc_next = 0;
  while (nstream < NMSG) {
    uint8_t ch = (uint8_t)rn(16);
    const rmp_ms_channel *c = rmp_ms_chan(&g, ch);
    uint32_t r = rn(1000);
    if (r < 350) {
      uint8_t n = (uint8_t)(36 + rn(48));
      if (c->note_vel[n]) push((uint8_t)(0x80 | ch), n, (uint8_t)rn(128), 3, &g);
      else push((uint8_t)(0x90 | ch), n, (uint8_t)(1 + rn(127)), 3, &g);
    } else if (r < 600) {
      int start = (int)rn(128), found = -1;
      for (int k = 0; k < 128; k++) if (c->note_vel[(start + k) & 127]) { found = (start + k) & 127; break; }
      if (found < 0) push((uint8_t)(0x90 | ch), (uint8_t)(36 + rn(48)), (uint8_t)(1 + rn(127)), 3, &g);
      else if (rn(2)) push((uint8_t)(0x80 | ch), (uint8_t)found, (uint8_t)rn(128), 3, &g);
      else push((uint8_t)(0x90 | ch), (uint8_t)found, 0, 3, &g);
    } else if (r < 640) {
      uint8_t ctl = r < 625 ? 64 : 66;
      push((uint8_t)(0xB0 | ch), ctl, c->cc[ctl] >= 64 ? 0 : 127, 3, &g);
    } else if (r < 720) {
      static const uint8_t ctls[] = { 1, 2, 5, 7, 10, 11, 71, 74, 91, 93 };
      push((uint8_t)(0xB0 | ch), ctls[rn(10)], (uint8_t)rn(128), 3, &g);
    } else if (r < 740) {
      push((uint8_t)(0xB0 | ch), 0, (uint8_t)rn(4), 3, &g);
      push((uint8_t)(0xB0 | ch), 32, (uint8_t)rn(4), 3, &g);
      push((uint8_t)(0xC0 | ch), (uint8_t)rn(128), 0, 2, &g);
    } else if (r < 800) {
      uint16_t b = (uint16_t)rn(16384);
      push((uint8_t)(0xE0 | ch), (uint8_t)(b & 127), (uint8_t)(b >> 7), 3, &g);
    } else if (r < 830) {
      push((uint8_t)(0xD0 | ch), (uint8_t)rn(128), 0, 2, &g);
    } else if (r < 870) {
      push((uint8_t)(0xA0 | ch), (uint8_t)(36 + rn(48)), (uint8_t)rn(128), 3, &g);
    } else if (r < 910) {
      switch (rn(8)) {
      case 0: push((uint8_t)(0xB0 | ch), 101, 0, 3, &g); push((uint8_t)(0xB0 | ch), 100, (uint8_t)rn(3), 3, &g); break;
      case 1: push((uint8_t)(0xB0 | ch), 99, (uint8_t)(1 + rn(2)), 3, &g); push((uint8_t)(0xB0 | ch), 98, (uint8_t)rn(4), 3, &g); break;
      case 2: case 3: push((uint8_t)(0xB0 | ch), 6, (uint8_t)rn(128), 3, &g); break;
      case 4: push((uint8_t)(0xB0 | ch), 38, (uint8_t)rn(128), 3, &g); break;
      case 5: push((uint8_t)(0xB0 | ch), 96, 0, 3, &g); break;
      case 6: push((uint8_t)(0xB0 | ch), 97, 0, 3, &g); break;
      default: push((uint8_t)(0xB0 | ch), 101, 127, 3, &g); push((uint8_t)(0xB0 | ch), 100, 127, 3, &g); break;
      }
    } else if (r < 915) {
      push((uint8_t)(0xB0 | ch), 123, 0, 3, &g);
    } else if (r < 920) {
      push((uint8_t)(0xB0 | ch), 121, 0, 3, &g);
    } else {
      uint32_t k = rn(100);
      if (k < 40) push(0xF8, 0, 0, 1, &g);
      else if (k < 60) { push(0xF1, (uint8_t)(mtc_next << 4 | rn(16)), 0, 2, &g); mtc_next = (mtc_next + 1) & 7; }
      else if (k < 68) { uint16_t p = (uint16_t)rn(2000); push(0xF2, (uint8_t)(p & 127), (uint8_t)(p >> 7), 3, &g); }
      else if (k < 74) push(0xFA, 0, 0, 1, &g);
      else if (k < 82) push(0xFC, 0, 0, 1, &g);
      else if (k < 88) push(0xFB, 0, 0, 1, &g);
      else if (k < 95) push(0xF3, (uint8_t)rn(128), 0, 2, &g);
      else if (k < 97 && rn(8) == 0) push(0xFF, 0, 0, 1, &g); /* System Reset: back to power-up */
      else push(0xF6, 0, 0, 1, &g);
    }
  }
}

typedef struct {
  const char *name;
  int loss_pct;   /* random loss, percent */
  int burst;      /* 1: bursts of 20 consecutive losses (1% chance per packet) */
  int feedback;   /* receiver reports every 8 packets (reports are lost too) */
  int recovery;   /* receiver uses the journal */
  int budget;     /* journal size budget in octets (0: 1400) */
} run_cfg;

typedef struct {
  unsigned packets, lost, diff, uncovered, repairs, errors, over_budget;
  rmp_ms_diff d;
  double size_sum[6];
  unsigned size_n[6];
  int size_max;
} run_res;

static rmp_ej_sender snd;
static rmp_ej_receiver rcv;
static unsigned emitted;
static void on_emit(void *ud, const uint8_t *m, size_t n) { (void)ud; (void)m; (void)n; emitted++; }

static int poly_bucket(const rmp_midi_state *st) {
  int n = 0;
  for (int c = 0; c < 16; c++) for (int k = 0; k < 128; k++) n += rmp_ms_chan(st, c)->note_vel[k] != 0;
  return n < 4 ? 0 : n < 8 ? 1 : n < 16 ? 2 : n < 32 ? 3 : n < 64 ? 4 : 5;
}

static int lost_now(const run_cfg *cfg, int *burst_left) {
  if (*burst_left > 0) { (*burst_left)--; return 1; }
  if (cfg->burst && rn(100) == 0) { *burst_left = 19; return 1; }
  return (int)rn(100) < cfg->loss_pct;
}

static void run(const run_cfg *cfg, uint64_t seed, run_res *res) {
  memset(res, 0, sizeof *res);
  rmp_ej_send_config sc = { .y_window = 8 };
  size_t budget = cfg->budget ? (size_t)cfg->budget : 1400;
  if (!cfg->feedback) { sc.max_history = 64; sc.max_size = (uint16_t)budget; }
  rmp_ej_send_free(&snd); rmp_ej_send_init(&snd, &sc);
  rmp_ej_recv_free(&rcv); rmp_ej_recv_init(&rcv);
  emitted = 0;
  rs = seed;
  uint16_t seq = (uint16_t)(0xFF00 + rn(64)); /* crosses the 16-bit wrap */
  int i = 0, burst_left = 0, guard = 0;
  static uint8_t jbuf[1500];
  for (;;) {
    int guard_pkt = i >= nstream; /* after the stream: journal-only guard packets */
    int k = guard_pkt ? 0 : (int)(1 + rn(4));
    if (i + k > nstream) k = nstream - i;
    int jl = rmp_ej_send_encode(&snd, seq, jbuf, budget);
    if (jl < 0) { res->errors++; jl = 0; }
    if (jl > 0 && rmp_ej_journal_size(jbuf, (size_t)jl) != jl) res->errors++;
    if ((size_t)jl > budget) res->over_budget++;
    int b = poly_bucket(&snd.st);
    res->size_sum[b] += jl;
    res->size_n[b]++;
    if (jl > res->size_max) res->size_max = jl;
    for (int m = 0; m < k; m++) rmp_ej_send_record(&snd, seq, stream[i + m].b, stream[i + m].n);
    res->packets++;
    int lost = lost_now(cfg, &burst_left);
    if (lost) res->lost++;
    else {
      int f = rmp_ej_recv_packet(&rcv, seq, cfg->recovery ? jbuf : NULL, cfg->recovery ? (size_t)jl : 0, on_emit, NULL);
      if (f < 0) res->errors++;
      for (int m = 0; m < k; m++) rmp_ej_recv_apply(&rcv, stream[i + m].b, stream[i + m].n);
    }
    if (cfg->feedback && res->packets % 8 == 0 && rcv.have_seq && !lost_now(cfg, &burst_left))
      rmp_ej_send_ack(&snd, rcv.last);
    i += k;
    seq++;
    if (guard_pkt && (!lost || ++guard > 1000)) break;
  }
  res->uncovered = rcv.uncovered;
  res->repairs = emitted;
  res->diff = rmp_ms_compare(&snd.st, &rcv.st, &res->d);
}

static void print_res(const run_cfg *cfg, const run_res *r) {
  printf("  %-34s packets %5u lost %4u  repairs %5u  diff %4u (stuck %u missing %u vel %u ctl %u prog %u bend %u chpres %u poly %u param %u sys %u)\n",
         cfg->name, r->packets, r->lost, r->repairs, r->diff, r->d.stuck_notes, r->d.missing_notes,
         r->d.wrong_velocity, r->d.wrong_ctl, r->d.wrong_program, r->d.wrong_bend, r->d.wrong_pressure,
         r->d.wrong_poly, r->d.wrong_param, r->d.wrong_system);
}

/* ---- a long session: the 16-bit last-change tags (journal.h) ------------- */
/* 250,000 packets: the 15-bit tags wrap 7 times. A few elements change once
 * early, stay idle for far longer than 2^15 packets, and change again late:
 * program on channel 9, volume on channel 10, an NRPN value on channel 11,
 * a SysEx and a song select. Each journal must code each of them exactly
 * when its last change lies in the journal's checkpoint history (a stale tag
 * aliasing back into the history would bring it back), and the receiver
 * must track the sender. Closed loop: 5% loss, a report every 8 packets.
 * Open loop without bounds and without loss: the history is cut at
 * RMP_EJ_MAX_HISTORY packets, so the 16-bit checkpoint never aliases. */
#define LONG_PACKETS 250000
enum { EV_PROG, EV_VOL, EV_NRPN, EV_SYSEX, EV_SONG, EV_N };
static const long ev_at[EV_N][2] = { { 10, 200000 }, { 20, 180000 }, { 30, 150000 }, { 40, 120000 }, { 50, 230000 } };

typedef struct { int chans; } chan_seen;
static int on_chan_seen(void *ud, const rmp_ej_chan *cj) {
  ((chan_seen *)ud)->chans |= 1 << cj->chan;
  return 0;
}

static size_t long_packet(long p, int busy, uint8_t m[4][8], size_t *len) {
  size_t k = 0;
  int ev = -1;
  for (int e = 0; e < EV_N; e++)
    if (p == ev_at[e][0] || p == ev_at[e][1]) ev = e;
  uint8_t v = (uint8_t)(p & 127);
  switch (ev) {
  case EV_PROG: m[k][0] = 0xC9; m[k][1] = v; len[k++] = 2; break;
  case EV_VOL: m[k][0] = 0xBA; m[k][1] = 7; m[k][2] = v; len[k++] = 3; break;
  case EV_NRPN:
    m[k][0] = 0xBB; m[k][1] = 99; m[k][2] = 1; len[k++] = 3;
    m[k][0] = 0xBB; m[k][1] = 98; m[k][2] = 2; len[k++] = 3;
    m[k][0] = 0xBB; m[k][1] = 6; m[k][2] = v; len[k++] = 3;
    break;
  case EV_SYSEX: memcpy(m[k], (const uint8_t[]){ 0xF0, 0x7D, 0x01, v, 0xF7 }, 5); len[k++] = 5; break;
  case EV_SONG: m[k][0] = 0xF3; m[k][1] = v; len[k++] = 2; break;
  default: break;
  }
  /* background traffic: a bend every packet; with busy, notes on 0-3 */
  m[k][0] = 0xE0; m[k][1] = v; m[k][2] = (uint8_t)((p >> 7) & 127); len[k++] = 3;
  if (busy && k < 4) {
    uint8_t ch = (uint8_t)(p & 3), note = (uint8_t)(48 + (p >> 2) % 24);
    m[k][0] = (uint8_t)((p & 4 ? 0x80 : 0x90) | ch); m[k][1] = note; m[k][2] = 100; len[k++] = 3;
  }
  return k;
}

static void run_long(int closed_loop) {
  rmp_ej_send_config cfg = { 0 };
  rmp_ej_send_free(&snd); rmp_ej_send_init(&snd, &cfg);
  rmp_ej_recv_free(&rcv); rmp_ej_recv_init(&rcv);
  rs = closed_loop ? 0x51ED2701u : 0x0B5E55EDu;
  const uint16_t seq0 = 0xFFF0;
  static uint8_t jbuf[1500];
  static rmp_ej_sys sys;
  static rmp_ej_chan scratch;
  long last[EV_N];
  for (int e = 0; e < EV_N; e++) last[e] = -1;
  unsigned wrong = 0, checked = 0, max_hist = 0, errors = 0, diverged = 0, lost = 0;
  for (long p = 0; p <= LONG_PACKETS; p++) {
    uint16_t seq = (uint16_t)(seq0 + p);
    int jl = rmp_ej_send_encode(&snd, seq, jbuf, sizeof jbuf);
    if (jl < 0) { errors++; jl = 0; }
    /* what the journal codes against what it must code */
    rmp_ej_hdr h;
    chan_seen cs = { 0 };
    long cp = p; /* history [cp, p) */
    if (jl > 0) {
      if (rmp_ej_parse(jbuf, (size_t)jl, &h, &sys, &scratch, on_chan_seen, &cs) != jl) errors++;
      cp = p - (uint16_t)(seq - h.checkpoint);
    } else {
      sys.toc = 0;
    }
    if ((unsigned)(p - cp) > max_hist) max_hist = (unsigned)(p - cp);
    int want[EV_N], have[EV_N];
    for (int e = 0; e < EV_N; e++) want[e] = last[e] >= cp && last[e] < p;
    have[EV_PROG] = (cs.chans >> 9) & 1;
    have[EV_VOL] = (cs.chans >> 10) & 1;
    have[EV_NRPN] = (cs.chans >> 11) & 1;
    have[EV_SYSEX] = (sys.toc & RMP_EJ_SYS_X) != 0;
    have[EV_SONG] = (sys.toc & RMP_EJ_SYS_D) && (sys.d.toc & RMP_EJ_D_H);
    for (int e = 0; e < EV_N; e++) {
      if (want[e] != have[e]) wrong++;
      checked++;
    }
    if (p == LONG_PACKETS) break; /* the last journal only checks */
    uint8_t m[4][8];
    size_t len[4];
    size_t k = long_packet(p, closed_loop, m, len);
    for (size_t i = 0; i < k; i++) rmp_ej_send_record(&snd, seq, m[i], len[i]);
    for (int e = 0; e < EV_N; e++)
      if (p == ev_at[e][0] || p == ev_at[e][1]) last[e] = p;
    int is_lost = closed_loop && p > 0 && rn(100) < 5;
    if (is_lost) {
      lost++;
      continue;
    }
    if (rmp_ej_recv_packet(&rcv, seq, jl > 0 ? jbuf : NULL, (size_t)jl, NULL, NULL) < 0) errors++;
    for (size_t i = 0; i < k; i++) rmp_ej_recv_apply(&rcv, m[i], len[i]);
    if (closed_loop && p % 8 == 7) rmp_ej_send_ack(&snd, seq);
    if (closed_loop && p % 997 == 0 && rmp_ms_compare(&snd.st, &rcv.st, NULL)) diverged++;
  }
  printf("long session (%s): %d packets, %u lost, longest history %u, %u journal checks, %u wrong\n",
         closed_loop ? "closed loop, 5% loss" : "open loop", LONG_PACKETS, lost, max_hist, checked, wrong);
  CHECK_INT(errors, 0);
  CHECK_INT(wrong, 0);
  CHECK(max_hist <= RMP_EJ_MAX_HISTORY);
  if (closed_loop) {
    CHECK(lost > 0);
    CHECK_INT(diverged, 0);
    CHECK_INT(rcv.uncovered, 0);
    CHECK_INT(rmp_ms_compare(&snd.st, &rcv.st, NULL), 0);
  } else {
    CHECK_INT(max_hist, RMP_EJ_MAX_HISTORY); /* the bound was reached, and held */
  }
}

/* ---- issue 17's must-show stream ------------------------------------------- */
/* 40 NRPNs per channel on 16 channels with Data Increment / Decrement, MIDI
 * Clock with Start / Stop / Continue and Song Position, a lone CC 6, GM
 * System On mid-stream, a 2 KB SysEx (sent in parts, Chapter X partial
 * forms, the sender stalling on unconfirmed octets), MTC quarter frames
 * with a Full Frame locate, under notes, pedals and controllers; at 10% and
 * 30% random loss and bursts of 20, reports lost as often. After the
 * stream: the receiver's state equals the sender's exactly (no stuck note),
 * the SysEx arrived whole, once, and for every loss that lost no transport
 * command (Start, Stop, Continue, Song Position) the repair played exactly
 * the lost clocks and no transport command; where transport commands were
 * lost, it played no more of them than were lost. The sender uses
 * rmp_ej_send_encode_at (Y from elapsed time, a packet every 2 ms), the
 * receiver honours Y (the default). */
#define SHOW_BIG 2048
typedef struct { uint8_t b[16]; uint8_t n; uint8_t big; } show_msg;
static show_msg show[24000];
static int nshow;
static uint8_t show_sysex[SHOW_BIG];

static void sp(rmp_midi_state *g, int n, ...) {
  va_list ap;
  va_start(ap, n);
  show_msg *m = &show[nshow++];
  memset(m, 0, sizeof *m);
  for (int i = 0; i < n; i++) m->b[i] = (uint8_t)va_arg(ap, int);
  m->n = (uint8_t)n;
  va_end(ap);
  rmp_ms_apply(g, m->b, m->n);
}

static void gen_show(uint64_t seed) {
  static rmp_midi_state g;
  rmp_ms_free(&g); /* the previous stream's */
  rmp_ms_init(&g);
  rs = seed;
  nshow = 0;
  for (int i = 0; i < SHOW_BIG; i++) show_sysex[i] = (uint8_t)((i * 31 + 7) & 127);
  int running = 0, mtc_t = 0, frame = 0, gm_done = 0, big_done = 0, ff_done = 0, cc6_done = 0;
  int nrpn_set[16] = { 0 };
  sp(&g, 1, 0xFA);
  running = 1;
  while (nshow < 20000) {
    uint32_t r = rn(1000);
    uint8_t ch = (uint8_t)rn(16);
    const rmp_ms_channel *c = rmp_ms_chan(&g, ch);
    if (nshow > 8000 && !gm_done) { /* GM System On: every channel back to power-up */
      sp(&g, 6, 0xF0, 0x7E, 0x7F, 0x09, 0x01, 0xF7);
      gm_done = 1;
      memset(nrpn_set, 0, sizeof nrpn_set);
      continue;
    }
    if (nshow > 12000 && !big_done) { show[nshow].big = 1; show[nshow].n = 0; nshow++; big_done = 1; continue; }
    if (nshow > 10000 && !cc6_done) {
      sp(&g, 3, 0xB5, 101, 127); sp(&g, 3, 0xB5, 100, 127); sp(&g, 3, 0xB5, 6, 42); /* a lone CC 6 */
      cc6_done = 1;
      continue;
    }
    if (r < 200) {
      if (running) sp(&g, 1, 0xF8);
    } else if (r < 230) {
      /* MTC, forward; a Full Frame locate once */
      if (nshow > 4000 && !ff_done) {
        frame = 3600;
        sp(&g, 10, 0xF0, 0x7F, 0x7F, 0x01, 0x01, 0x21, 0x00, 0x01, 0x00, 0xF7); /* 01:00:01:00, 25 fps */
        mtc_t = 0;
        ff_done = 1;
      } else {
        int fr = frame % 25, sc = (frame / 25) % 60, mn = (frame / 1500) % 60, hr = (frame / 90000) % 24;
        int v[8] = { fr & 15, fr >> 4, sc & 15, sc >> 4, mn & 15, mn >> 4, hr & 15, (hr >> 4) | 2 };
        sp(&g, 2, 0xF1, (mtc_t << 4) | v[mtc_t]);
        if (++mtc_t == 8) { mtc_t = 0; frame += 2; }
      }
    } else if (r < 240) {
      /* transport: Stop; Song Position while stopped; Continue or Start */
      if (running) { sp(&g, 1, 0xFC); running = 0; }
      else if (rn(3) == 0) { uint16_t p = (uint16_t)rn(1000); sp(&g, 3, 0xF2, p & 127, p >> 7); }
      else { sp(&g, 1, rn(4) ? 0xFB : 0xFA); running = 1; }
    } else if (r < 500) {
      uint8_t n = (uint8_t)(36 + rn(48));
      if (c->note_vel[n]) sp(&g, 3, 0x80 | ch, n, (int)rn(128));
      else sp(&g, 3, 0x90 | ch, n, 1 + (int)rn(127));
    } else if (r < 530) {
      sp(&g, 3, 0xB0 | ch, 64, c->cc[64] >= 64 ? 0 : 127);
    } else if (r < 580) {
      static const uint8_t ctls[] = { 1, 7, 10, 11, 71, 74, 91 };
      sp(&g, 3, 0xB0 | ch, ctls[rn(7)], (int)rn(128));
    } else if (r < 600) {
      sp(&g, 3, 0xB0 | ch, 0, (int)rn(3)); sp(&g, 3, 0xB0 | ch, 32, (int)rn(3)); sp(&g, 2, 0xC0 | ch, (int)rn(128));
    } else if (r < 640) {
      uint16_t b = (uint16_t)rn(16384);
      sp(&g, 3, 0xE0 | ch, b & 127, b >> 7);
    } else {
      /* NRPN: every channel's 40 parameters set in turn, then edited */
      int p = nrpn_set[ch] < 40 ? nrpn_set[ch]++ : (int)rn(40);
      sp(&g, 3, 0xB0 | ch, 99, 2);
      sp(&g, 3, 0xB0 | ch, 98, p);
      uint32_t k = rn(4);
      if (k == 0 || nrpn_set[ch] <= 40) sp(&g, 3, 0xB0 | ch, 6, (int)rn(128));
      if (k == 1) sp(&g, 3, 0xB0 | ch, 38, (int)rn(128));
      if (k == 2) { int m = 1 + (int)rn(3); for (int i = 0; i < m; i++) sp(&g, 3, 0xB0 | ch, 96, 0); }
      if (k == 3) sp(&g, 3, 0xB0 | ch, 97, 0);
    }
  }
  if (!running) sp(&g, 1, 0xFB);
}

/* The receiver's reassembly of the SysEx in parts. */
static struct { uint8_t buf[SHOW_BIG + 16]; size_t len; int delivered, good; } srx;
static void srx_add(const uint8_t *d, size_t n, int first, int end) {
  if (first) srx.len = 0;
  if (srx.len + n <= sizeof srx.buf) memcpy(srx.buf + srx.len, d, n);
  srx.len += n;
  if (end) {
    srx.delivered++;
    srx.good += srx.len == SHOW_BIG && memcmp(srx.buf, show_sysex, SHOW_BIG) == 0;
  }
}
static void on_show_part(void *ud, const uint8_t *d, size_t n, int first, int end) {
  (void)ud;
  srx_add(d, n, first, end);
}

/* What one repair played. */
static unsigned rep_clocks, rep_transport;
static void on_show_emit(void *ud, const uint8_t *m, size_t n) {
  (void)ud;
  (void)n;
  if (m[0] == 0xF8) rep_clocks++;
  if (m[0] == 0xFA || m[0] == 0xFB || m[0] == 0xFC || m[0] == 0xF2) rep_transport++;
}

static int is_transport(uint8_t st) { return st == 0xFA || st == 0xFB || st == 0xFC || st == 0xF2; }

typedef struct { const char *name; int loss_pct, burst; } show_cfg;

static void run_show(const show_cfg *cfg, uint64_t seed) {
  rmp_ej_send_config sc = { 0 };
  rmp_ej_send_free(&snd); rmp_ej_send_init(&snd, &sc);
  rmp_ej_recv_free(&rcv); rmp_ej_recv_init(&rcv);
  rmp_ej_recv_set_part_fn(&rcv, on_show_part, NULL);
  memset(&srx, 0, sizeof srx);
  rs = seed;
  static uint8_t jbuf[1500];
  uint16_t seq = (uint16_t)(0xFF80 + rn(64));
  int i = 0, burst_left = 0, errors = 0, over = 0;
  size_t big_sent = 0;
  unsigned lost_clocks = 0, lost_transport = 0, packets = 0, lost = 0, events = 0, clean = 0, bad_clock = 0,
           bad_transport = 0, clocks_sent = 0, clocks_got = 0;
  uint32_t now = 1000;
  for (int guard = 0; guard < 3000; seq++, now += 2) {
    int end_of_stream = i >= nshow;
    int k = end_of_stream ? 0 : (int)(1 + rn(4));
    if (i + k > nshow) k = nshow - i;
    for (int m = 0; m < k; m++) if (show[i + m].big) { k = m ? m : 1; break; } /* the big SysEx alone */
    int jl = rmp_ej_send_encode_at(&snd, seq, now, jbuf, sizeof jbuf);
    if (jl < 3) errors++;
    /* the packet's content */
    size_t part = 0;
    int part_first = 0, part_end = 0, advance = k;
    if (k == 1 && show[i].big) {
      size_t room = rmp_ej_send_part_room(&snd);
      part = SHOW_BIG - big_sent;
      if (part > 400) part = 400;
      if (part > room) part = room;
      part_first = big_sent == 0;
      part_end = big_sent + part == SHOW_BIG;
      if (part) rmp_ej_send_record_part(&snd, seq, show_sysex + big_sent, part, part_first, part_end);
      advance = part_end ? 1 : 0;
      k = 0;
    }
    for (int m = 0; m < k; m++) {
      rmp_ej_send_record(&snd, seq, show[i + m].b, show[i + m].n);
      if (show[i + m].b[0] == 0xF8) clocks_sent++;
    }
    packets++;
    const run_cfg loss_cfg = { cfg->name, cfg->loss_pct, cfg->burst, 1, 1, 0 };
    int is_lost = packets > 1 && !end_of_stream && lost_now(&loss_cfg, &burst_left);
    if (is_lost) {
      lost++;
      for (int m = 0; m < k; m++) {
        if (show[i + m].b[0] == 0xF8) lost_clocks++;
        if (is_transport(show[i + m].b[0])) lost_transport++;
      }
    } else {
      rep_clocks = rep_transport = 0;
      int f = rmp_ej_recv_packet(&rcv, seq, jbuf, (size_t)jl, on_show_emit, NULL);
      if (f < 0) errors++;
      if (f & RMP_EJ_R_LOSS) {
        events++;
        if (!lost_transport) {
          clean++;
          if (rep_clocks != lost_clocks) bad_clock++;
          if (rep_transport) bad_transport++;
        } else if (rep_transport > lost_transport) {
          bad_transport++;
        }
      }
      clocks_got += rep_clocks;
      lost_clocks = lost_transport = 0;
      if (part && rmp_ej_recv_part(&rcv, show_sysex + big_sent, part, part_first, part_end))
        srx_add(show_sysex + big_sent, part, part_first, part_end);
      for (int m = 0; m < k; m++) {
        rmp_ej_recv_apply(&rcv, show[i + m].b, show[i + m].n);
        if (show[i + m].b[0] == 0xF8) clocks_got++;
      }
    }
    /* a report per packet, lost as often as the packets (no bursts) */
    const run_cfg report_cfg = { cfg->name, cfg->loss_pct, 0, 1, 1, 0 };
    int no_burst = 0;
    if (!lost_now(&report_cfg, &no_burst) && rcv.have_seq) rmp_ej_send_ack(&snd, rcv.last);
    big_sent += part;
    if (part_end || (k == 0 && advance)) big_sent = part_end ? SHOW_BIG : big_sent;
    i += advance;
    if (end_of_stream) {
      guard++;
      /* until the receiver has confirmed everything */
      if (!is_lost && (uint16_t)(rmp_ej_send_checkpoint(&snd) - seq) == 1) break;
    }
  }
  over = (int)rcv.over_budget;
  rmp_ms_diff d;
  unsigned diff = rmp_ms_compare(&snd.st, &rcv.st, &d);
  printf("  %-22s packets %5u lost %4u  loss events %4u (%u without transport lost)  repairs %6u  diff %u "
         "(stuck %u missing %u ctl %u param %u sys %u)  sysex %d/%d  clocks sent %u got %u\n",
         cfg->name, packets, lost, events, clean, rcv.repairs, diff, d.stuck_notes, d.missing_notes, d.wrong_ctl,
         d.wrong_param, d.wrong_system, srx.good, srx.delivered, clocks_sent, clocks_got);
  CHECK_INT(errors, 0);
  CHECK(lost > 0);
  CHECK_INT(diff, 0);
  CHECK_INT(d.stuck_notes, 0);
  CHECK_INT(rcv.uncovered, 0);
  CHECK_INT(over, 0);
  CHECK_INT(rcv.x_lost, 0);
  CHECK_INT(srx.delivered, 1);
  CHECK_INT(srx.good, 1);
  CHECK_INT(bad_clock, 0);
  CHECK_INT(bad_transport, 0);
  CHECK_INT(clocks_got, clocks_sent); /* clocks delivered + repaired: the sender's count */
  CHECK(clean > 0);
  CHECK_INT(rmp_ms_chan(&snd.st, 5)->cc[6], 42); /* the lone CC 6 is in the state compared */
}

int main(void) {
  static const run_cfg cfgs[] = {
    { "1% loss, feedback", 1, 0, 1, 1, 0 },
    { "10% loss, feedback", 10, 0, 1, 1, 0 },
    { "30% loss, feedback", 30, 0, 1, 1, 0 },
    { "50% loss, feedback", 50, 0, 1, 1, 0 },
    { "bursts of 20, feedback", 0, 1, 1, 1, 0 },
    { "1% loss, open loop", 1, 0, 0, 1, 0 },
    { "10% loss, open loop", 10, 0, 0, 1, 0 },
    { "30% loss, open loop", 30, 0, 0, 1, 0 },
    { "50% loss, open loop", 50, 0, 0, 1, 0 },
    { "bursts of 20, open loop", 0, 1, 0, 1, 0 },
  };
  static const uint64_t seeds[] = { 0x9E3779B97F4A7C15ull, 0x0123456789ABCDEFull, 0xDEADBEEFCAFEF00Dull };
  static const char *bucket_name[6] = { "0-3", "4-7", "8-15", "16-31", "32-63", "64+" };
  for (unsigned s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
    gen_stream(seeds[s]);
    printf("seed %u: %d messages\n", s, nstream);
    for (unsigned c = 0; c < sizeof cfgs / sizeof cfgs[0]; c++) {
      run_res with, without;
      run_cfg off = cfgs[c];
      off.recovery = 0;
      run(&cfgs[c], seeds[s] + c, &with);
      run(&off, seeds[s] + c, &without);
      print_res(&cfgs[c], &with);
      printf("  %-34s   without recovery: diff %u (stuck notes %u, missing notes %u, wrong controllers %u)\n", "",
             without.diff, without.d.stuck_notes, without.d.missing_notes, without.d.wrong_ctl);
      CHECK_INT(with.errors, 0);
      CHECK_INT(without.errors, 0);
      CHECK_INT(with.over_budget, 0);
      CHECK_INT(with.diff, 0);
      CHECK_INT(with.uncovered, 0);
      CHECK(with.lost > 0);
      CHECK(without.diff > 0);
      if (s == 0 && (c == 1 || c == 6)) {
        printf("    journal octets per packet by polyphony (%s):", cfgs[c].feedback ? "feedback" : "open loop");
        for (int b = 0; b < 6; b++)
          if (with.size_n[b]) printf("  %s: %.0f", bucket_name[b], with.size_sum[b] / with.size_n[b]);
        printf("  (max %d)\n", with.size_max);
      }
    }
  }
  /* A budget too small for the history: the sender trims its checkpoint to
   * stay inside it; the receiver then sees journals that do not cover some
   * losses and says so (RMP_EJ_R_UNCOVERED). */
  {
    run_cfg tight = { "bursts of 20, open loop, 40-oct budget", 0, 1, 0, 1, 40 };
    run_res r;
    gen_stream(seeds[0]);
    run(&tight, 7, &r);
    print_res(&tight, &r);
    printf("    uncovered losses reported: %u, max journal %d octets\n", r.uncovered, r.size_max);
    CHECK_INT(r.errors, 0);
    CHECK_INT(r.over_budget, 0);
    CHECK(r.size_max <= 40);
    CHECK(r.uncovered > 0);
  }
  {
    static const show_cfg shows[] = { { "10% loss", 10, 0 }, { "30% loss", 30, 0 }, { "bursts of 20", 0, 1 } };
    static const uint64_t show_seeds[] = { 0x5EED0001ull, 0x5EED0002ull };
    for (unsigned k = 0; k < sizeof show_seeds / sizeof show_seeds[0]; k++) {
      gen_show(show_seeds[k]);
      printf("must-show stream %u: %d messages (40 NRPNs x 16 channels, clock + transport, lone CC 6, GM On, "
             "2 KB SysEx, MTC + Full Frame)\n", k, nshow);
      for (unsigned c = 0; c < sizeof shows / sizeof shows[0]; c++) run_show(&shows[c], show_seeds[k] * 31 + c);
    }
  }
  run_long(1);
  run_long(0);
  return check_report();
}
