/* libFuzzer target: a whole session on virtual time, composed of the pure
 * pieces as the core composes them, fed arbitrary datagrams from several
 * sources (issue 16):
 *
 *   MidiSession (session.c, midi_session.c): the RFC 3550 source machine
 *     (rtp_source.h) -> copies of the packets it holds (rtp_seq.h held
 *     jumps) -> the reorder buffer (jitter_buffer.h) -> the MIDI stream
 *     receiver (midi_stream.h); the machine's outbox: RTCP datagrams, the
 *     peer forgotten (flush, restart), drops (what the peer left sounding
 *     released), receiver reports; time: the buffer's and the held packets'
 *     exact deadlines, the machine's ticks;
 *   AppleMidiSession (applemidi_session.c, applemidi_midi.c): the AppleMIDI
 *     machine (am_session.h) with, per participant, sequence tracking with
 *     held jumps, a reorder buffer and a MIDI stream receiver; a
 *     participant that leaves has what it left sounding released.
 *
 * The first input octet picks the session kind and a few knobs; the rest is
 * a script: datagrams (raw, or built from fields that reuse the SSRCs and
 * sequence numbers in play, with MIDI payloads made of the input), from the
 * peer's ports, another port of its host, another host and our own
 * sockets; ICMP errors; time passing deadline by deadline.
 *
 * Invariants, after every step:
 *  - no crash, no undefined behaviour, no leak (ASan, UBSan);
 *  - what is delivered is whole MIDI: a status octet and the data octets it
 *    takes (SysEx from F0 to F7), every data octet below 0x80, at a finite
 *    time; what the reorder buffer releases comes in increasing order
 *    (until a restart);
 *  - budgets hold: the repairs one packet makes stay within the journal
 *    receiver's per-packet budget (when the receiver has one), a release
 *    makes at most a Note Off per note and a pedal up per pedal, and never
 *    more packets are held than the tracker has slots;
 *  - deadlines move forward: after the timer ran at a deadline, the next
 *    one of the reorder buffer and of the held packets is later;
 *  - what the machines send is well formed (compound RTCP; AppleMIDI
 *    commands) and goes to the peer's host (MidiSession). */
#include <math.h>
#include <string.h>

#include "am_session.h"
#include "fuzz_common.h"
#include "jitter_buffer.h"
#include "journal.h"
#include "midi_stream.h"
#include "rtcp.h"
#include "rtp.h"
#include "rtp_source.h"

#define JB_SLOTS 32
#define MAX_PAYLOAD 1500
#define STEPS 1024

/* ---- what is delivered ---- */

/* The octets a status takes, with it (0: a SysEx, up to F7). */
static size_t status_len(uint8_t s) {
  if (s < 0xF0) return (s & 0xE0) == 0xC0 ? 2 : 3; /* C0, D0: two */
  switch (s) {
  case 0xF0: return 0;
  case 0xF1: case 0xF3: return 2;
  case 0xF2: return 3;
  default: return 1; /* F4..FF: no data octets (F7 alone is not delivered) */
  }
}

static void check_whole_midi(const uint8_t *m, size_t len, double t) {
  FUZZ_ASSERT(len >= 1 && m[0] >= 0x80);
  FUZZ_ASSERT(!isnan(t) && !isinf(t));
  size_t want = status_len(m[0]);
  if (want == 0) {
    FUZZ_ASSERT(len >= 2 && m[len - 1] == 0xF7);
    for (size_t i = 1; i + 1 < len; i++) FUZZ_ASSERT(m[i] < 0x80);
  } else {
    FUZZ_ASSERT(m[0] != 0xF7 && len == want);
    for (size_t i = 1; i < len; i++) FUZZ_ASSERT(m[i] < 0x80);
  }
}

typedef struct tally {
  unsigned long messages, recovered, released;
  unsigned long in_call; /* delivered by the call being made */
  unsigned long recovered_in_call;
} tally;

static int on_msg(void *ud, const uint8_t *m, size_t len, double t, bool recovered) {
  tally *y = ud;
  check_whole_midi(m, len, t);
  y->messages++;
  y->in_call++;
  if (recovered) {
    y->recovered++;
    y->recovered_in_call++;
  }
  return 0;
}

/* ---- one incoming stream: reorder buffer, held copies, receiver ---- */

typedef struct pkt {
  uint64_t arrival;
  uint16_t seq;
  uint32_t ts;
  size_t len;
  uint8_t data[];
} pkt;

typedef struct stream {
  rmp_jb_t jb;
  rmp_jb_slot_t slots[JB_SLOTS];
  pkt *held[RMP_SEQ_HOLDS + 1];
  rmp_stream_rx rx;
  bool have_out;
  uint32_t last_out; /* the last extended number the buffer released */
  tally y;
} stream;

static rmp_stream_config SC;

static void stream_init(stream *s, uint64_t wait_us) {
  memset(s, 0, sizeof *s);
  FUZZ_ASSERT(rmp_jb_init(&s->jb, s->slots, JB_SLOTS, wait_us) == 0);
  rmp_stream_rx_init(&s->rx);
}

static pkt *copy_pkt(const uint8_t *payload, size_t len, uint16_t seq, uint32_t ts, uint64_t arrival) {
  pkt *p = malloc(sizeof *p + len);
  p->arrival = arrival;
  p->seq = seq;
  p->ts = ts;
  p->len = len;
  if (len) memcpy(p->data, payload, len);
  return p;
}

/* One packet out of the buffer into the receiver. */
static void deliver(stream *s, const rmp_jb_out_t *o, double now_ms) {
  pkt *p = o->e.data;
  if (s->have_out) FUZZ_ASSERT((int32_t)(o->e.ext_seq - s->last_out) > 0);
  s->have_out = true;
  s->last_out = o->e.ext_seq;
  s->y.in_call = s->y.recovered_in_call = 0;
  rmp_stream_counts n = {0};
  rmp_stream_rx_packet(&s->rx, &SC, (uint16_t)o->e.ext_seq, p->ts, p->data, p->len, now_ms, on_msg, &s->y, &n);
  /* the repairs of one packet stay within its budget (journal.h) */
#ifdef RMP_EJ_BUDGET_BASE
  FUZZ_ASSERT(s->y.recovered_in_call <= RMP_EJ_BUDGET_BASE + RMP_EJ_BUDGET_PER_OCTET * p->len);
#else
  FUZZ_ASSERT(s->y.recovered_in_call <= 16u * 16384u + 16u * 1024u);
#endif
  free(p);
}

static void pop_due(stream *s, uint64_t now_us) {
  rmp_jb_out_t o;
  while (rmp_jb_pop(&s->jb, now_us, &o)) deliver(s, &o, (double)now_us / 1000.0);
}

static void push(stream *s, uint32_t ext, uint64_t arrival, uint64_t now_us, pkt *p) {
  int r = rmp_jb_push(&s->jb, ext, arrival, p);
  if (r == RMP_EJB_FULL) {
    pop_due(s, now_us);
    r = rmp_jb_push(&s->jb, ext, arrival, p);
    FUZZ_ASSERT(r != RMP_EJB_FULL);
  }
  if (r < 0) free(p);
  pop_due(s, now_us);
}

static void flush(stream *s, uint64_t now_us) {
  rmp_jb_out_t o;
  while (rmp_jb_flush(&s->jb, &o)) deliver(s, &o, (double)now_us / 1000.0);
  FUZZ_ASSERT(rmp_jb_reset(&s->jb) == 0);
  s->have_out = false;
}

static void free_held(stream *s) {
  for (unsigned i = 0; i <= RMP_SEQ_HOLDS; i++) {
    free(s->held[i]);
    s->held[i] = NULL;
  }
}

static void keep_held(stream *s, unsigned slot, pkt *p) {
  FUZZ_ASSERT(slot <= RMP_SEQ_HOLDS);
  free(s->held[slot]);
  s->held[slot] = p;
}

/* The held copies that count now, before or after the current packet. */
static void push_released(stream *s, const rmp_seq_release *rel, unsigned n, bool before, uint64_t now_us) {
  FUZZ_ASSERT(n <= RMP_SEQ_HOLDS + 1);
  for (unsigned i = 0; i < n; i++) {
    if (i) FUZZ_ASSERT((int32_t)(rel[i].ext - rel[i - 1].ext) > 0); /* ascending */
    if (!rel[i].before != !before) continue;
    FUZZ_ASSERT(rel[i].slot <= RMP_SEQ_HOLDS);
    pkt *p = s->held[rel[i].slot];
    s->held[rel[i].slot] = NULL;
    if (!p) continue;
    FUZZ_ASSERT(p->seq == (uint16_t)rel[i].ext);
    push(s, rel[i].ext, p->arrival, now_us, p);
  }
}

/* The peer went away: what it left sounding is released. */
static void release(stream *s, double now_ms) {
  rmp_stream_counts n = {0};
  s->y.in_call = 0;
  unsigned k = rmp_stream_rx_release(&s->rx, now_ms, on_msg, &s->y, &n);
  FUZZ_ASSERT(k == s->y.in_call && k == n.released && k <= 16u * (128u + 6u));
  s->y.released += k;
  /* nothing sounds afterwards */
  FUZZ_ASSERT(rmp_stream_rx_release(&s->rx, now_ms, on_msg, &s->y, &n) == 0);
}

static void stream_free(stream *s) {
  rmp_jb_out_t o;
  while (rmp_jb_flush(&s->jb, &o)) free(o.e.data);
  free_held(s);
  rmp_stream_rx_free(&s->rx);
}

/* A MIDI payload: a command section header and octets of the input (often
 * a well-formed note, controller or journal-bearing section). */
static size_t make_payload(fuzz_in *in, uint8_t *out) {
  uint8_t kind = fuzz_u8(in);
  size_t n;
  switch (kind % 4) {
  case 0: { /* one channel message, maybe with a journal of input octets */
    uint8_t st = (uint8_t)(0x80 | (fuzz_u8(in) & 0x7F));
    out[0] = (uint8_t)(kind & 0x40);
    out[1] = st;
    out[2] = fuzz_u8(in) & 0x7F;
    out[3] = fuzz_u8(in) & 0x7F;
    size_t len = st >= 0xF0 ? 1 : status_len(st);
    out[0] |= (uint8_t)len;
    n = 1 + len;
    if (out[0] & 0x40) {
      size_t j = fuzz_u8(in) % 96;
      for (size_t i = 0; i < j; i++) out[n++] = fuzz_u8(in);
    }
    break;
  }
  case 1: /* a journal-only guard of input octets */
    out[0] = 0x40;
    n = 1 + fuzz_u8(in) % 200;
    for (size_t i = 1; i < n; i++) out[i] = fuzz_u8(in);
    break;
  default: /* raw */
    n = fuzz_u16(in) % 600;
    for (size_t i = 0; i < n; i++) out[i] = fuzz_u8(in);
    break;
  }
  return n;
}

/* ---- MidiSession ---- */

static rmp_addr PEER_HOST, SOURCES[6];

static bool is_own(void *ud, int channel, const rmp_addr *a) {
  (void)ud;
  return rmp_addr_equal(a, &SOURCES[channel == RMP_SRC_RTCP ? 5 : 4]);
}

static uint64_t gen_random(void *ud) {
  uint64_t *r = ud;
  uint64_t hi = fuzz_rand(r);
  return hi << 32 | fuzz_rand(r);
}

typedef struct msess {
  rmp_src m;
  stream s;
  uint64_t now, rng;
  uint16_t next_seq; /* the peer's, as the script numbers it */
} msess;

static void m_outbox(msess *w) {
  rmp_src_out o;
  while (rmp_src_poll(&w->m, &o)) {
    switch (o.kind) {
    case RMP_SRC_OUT_DATAGRAM:
      FUZZ_ASSERT(o.len > 0 && o.len <= RMP_SRC_RTCP_MAX);
      FUZZ_ASSERT(rmp_rtcp_validate_compound(o.data, o.len) == (int)o.len);
      FUZZ_ASSERT(rmp_addr_same_host(&o.to, &PEER_HOST));
      break;
    case RMP_SRC_OUT_FORGET: /* session.c drain(): flush, drop what is held, restart */
      free_held(&w->s);
      flush(&w->s, w->now);
      rmp_stream_rx_restart(&w->s.rx);
      break;
    case RMP_SRC_OUT_DROP: /* midi_session.c on_drop() */
      release(&w->s, (double)w->now / 1000.0);
      break;
    default:
      break;
    }
  }
}

/* session.c on_timer(): what is due leaves; held packets whose wait ran out
 * are taken; the machine ticks. */
static void m_timer(msess *w) {
  pop_due(&w->s, w->now);
  const rmp_seq_release *rel;
  unsigned n;
  while (rmp_src_hold_expire(&w->m, w->now, &rel, &n)) {
    rmp_seq_release r[RMP_SRC_HOLD_SLOTS];
    memcpy(r, rel, n * sizeof *r);
    push_released(&w->s, r, n, true, w->now);
    push_released(&w->s, r, n, false, w->now);
  }
  rmp_src_tick(&w->m, w->now);
  m_outbox(w);
  uint64_t at;
  if (w->s.jb.count && rmp_jb_next_deadline(&w->s.jb, &at)) FUZZ_ASSERT(at > w->now);
  if (rmp_src_hold_deadline(&w->m, &at)) FUZZ_ASSERT(at > w->now);
}

/* session.c on_rtp_datagram() */
static void m_rtp(msess *w, const uint8_t *buf, size_t len, const rmp_addr *from) {
  rmp_src_pkt pkt_;
  int r = rmp_src_on_rtp(&w->m, w->now, buf, len, from, &pkt_);
  m_outbox(w);
  const rmp_rtp_header *h = &pkt_.h;
  if (r == RMP_SRC_HELD) {
    keep_held(&w->s, pkt_.held_slot, copy_pkt(buf + h->payload_offset, h->payload_len, h->sequence, h->timestamp, w->now));
    return;
  }
  if (r < 0) return;
  FUZZ_ASSERT(fuzz_within(buf + h->payload_offset, h->payload_len, buf, len));
  if (r == RMP_SRC_RESYNC) {
    flush(&w->s, w->now);
    if (pkt_.undo) rmp_stream_rx_resume(&w->s.rx, pkt_.undo_last);
    else rmp_stream_rx_restart(&w->s.rx);
  }
  rmp_seq_release rel[RMP_SRC_HOLD_SLOTS];
  unsigned n = pkt_.n_release;
  FUZZ_ASSERT(n <= RMP_SRC_HOLD_SLOTS);
  memcpy(rel, pkt_.release, n * sizeof *rel);
  push_released(&w->s, rel, n, true, w->now);
  push(&w->s, pkt_.ext_seq, w->now, w->now,
       copy_pkt(buf + h->payload_offset, h->payload_len, h->sequence, h->timestamp, w->now));
  push_released(&w->s, rel, n, false, w->now);
}

static void run_midisession(fuzz_in *in, uint8_t knobs) {
  static msess w;
  memset(&w, 0, sizeof w);
  rmp_addr_parse("10.0.0.2", 0, &PEER_HOST);
  rmp_addr_parse("10.0.0.2", 6004, &SOURCES[0]); /* the peer's RTP */
  rmp_addr_parse("10.0.0.2", 6005, &SOURCES[1]); /* its RTCP */
  rmp_addr_parse("10.0.0.2", 7777, &SOURCES[2]); /* another port of its host: a forger */
  rmp_addr_parse("10.0.0.3", 6004, &SOURCES[3]); /* another host */
  rmp_addr_parse("10.0.0.1", 5004, &SOURCES[4]); /* our RTP */
  rmp_addr_parse("10.0.0.1", 5005, &SOURCES[5]); /* our RTCP */
  w.rng = 0x9E3779B97F4A7C15u ^ fuzz_u16(in);
  w.now = 1000000;
  uint64_t wait_us = (uint64_t)(knobs >> 4) * 5000u; /* the jitter buffer: 0..75 ms */
  rmp_src_config c = {
      .ssrc = 0x0A0A0A0Au,
      .ts_offset = 1000,
      .clock_rate = 10000,
      .payload_type = 97,
      .peer_port = 6004,
      .timeout_us = 1000000u * (1 + fuzz_u8(in) % 30),
      .hold_us = wait_us,
      .rtcp_interval_s = 0.05 + (double)(fuzz_u8(in) % 50) / 10.0,
      .cname = "fuzz@host",
      .tool = "fuzz",
      .random = gen_random,
      .is_own = is_own,
      .ud = &w.rng,
  };
  rmp_src_init(&w.m, &c);
  stream_init(&w.s, wait_us);
  rmp_src_open(&w.m, w.now, &PEER_HOST, 1700000000ull * 1000000u);
  m_outbox(&w);
  w.next_seq = fuzz_u16(in);

  uint8_t buf[2048];
  for (int steps = 0; fuzz_left(in) && steps < STEPS; steps++) {
    const rmp_addr *from = &SOURCES[fuzz_u8(in) % 6];
    switch (fuzz_u8(in) % 8) {
    case 0: case 1: case 2: { /* RTP: the peer's stream, jumps, forgeries */
      uint8_t k = fuzz_u8(in);
      uint32_t ssrc = k % 8 == 7 ? rmp_src_ssrc(&w.m) : k % 8 == 6 ? fuzz_u32(in) : 0x0B0B0B0Bu + k % 2;
      uint16_t seq;
      switch ((k >> 3) % 4) {
      case 0: case 1: seq = w.next_seq++; break;          /* in sequence */
      case 2: seq = (uint16_t)(w.next_seq + (int8_t)fuzz_u8(in)); break; /* near: loss, reorder */
      default: seq = fuzz_u16(in); break;                   /* anywhere */
      }
      rmp_rtp_write_header(buf, (k & 0x80) ? 96 : 97, false, seq, fuzz_u32(in), ssrc);
      size_t n = RMP_RTP_HEADER_LEN + make_payload(in, buf + RMP_RTP_HEADER_LEN);
      m_rtp(&w, buf, n, from);
      break;
    }
    case 3: { /* raw datagram on either port */
      size_t n = fuzz_u16(in) % 1200;
      for (size_t i = 0; i < n; i++) buf[i] = fuzz_u8(in);
      if (fuzz_u8(in) & 1) {
        rmp_src_on_rtcp(&w.m, w.now, buf, n, from);
        m_outbox(&w);
      } else {
        m_rtp(&w, buf, n, from);
      }
      break;
    }
    case 4: { /* RTCP from fields: SR/RR with a block about us, SDES, BYE */
      uint8_t k = fuzz_u8(in);
      uint32_t ssrc = k % 4 == 3 ? rmp_src_ssrc(&w.m) : 0x0B0B0B0Bu + k % 2;
      rmp_rtcp_rb_t rb = {rmp_src_ssrc(&w.m), fuzz_u8(in), 0, fuzz_u32(in), fuzz_u16(in), fuzz_u32(in), fuzz_u16(in)};
      int n = (k & 4) ? rmp_rtcp_build_sr(buf, sizeof buf, ssrc,
                                          &(rmp_rtcp_sender_info_t){fuzz_u64(in), fuzz_u32(in), 1, 1}, &rb, 1)
                      : rmp_rtcp_build_rr(buf, sizeof buf, ssrc, &rb, (k >> 3) & 1);
      if (k & 16) n += rmp_rtcp_build_sdes_cname(buf + n, sizeof buf - (size_t)n, ssrc, "peer@x", "t");
      if (k & 32) n += rmp_rtcp_build_bye(buf + n, sizeof buf - (size_t)n, &ssrc, 1,
                                          (k & 64) ? RMP_SRC_COLLISION_REASON : "quit");
      rmp_src_on_rtcp(&w.m, w.now, buf, (size_t)n, from);
      m_outbox(&w);
      break;
    }
    case 5: /* an ICMP error */
      rmp_src_on_error(&w.m, w.now, fuzz_u8(in) & 1, from, "ECONNREFUSED: connection refused");
      m_outbox(&w);
      break;
    case 6: /* we sent */
      rmp_src_sent_rtp(&w.m, 1 + fuzz_u8(in));
      break;
    case 7: { /* time passes: the timer fires at each deadline on the way */
      uint64_t end = w.now + fuzz_u32(in) % 30000000u;
      for (int guard = 0; guard < 10000; guard++) {
        uint64_t at = UINT64_MAX, t;
        if (w.s.jb.count && rmp_jb_next_deadline(&w.s.jb, &t) && t < at) at = t;
        if (rmp_src_hold_deadline(&w.m, &t) && t < at) at = t;
        if (rmp_src_next_deadline(&w.m, &t) && t < at) at = t;
        if (at > end) break;
        if (at > w.now) w.now = at;
        m_timer(&w);
      }
      w.now = end;
      m_timer(&w);
      break;
    }
    }
  }
  /* stop (session.c rtpmidi_session_stop): held packets whose wait would
   * run out join the buffer, which is flushed */
  const rmp_seq_release *rel;
  unsigned n;
  while (rmp_src_hold_expire(&w.m, UINT64_MAX, &rel, &n)) {
    for (unsigned i = 0; i < n; i++) {
      pkt *p = w.s.held[rel[i].slot];
      w.s.held[rel[i].slot] = NULL;
      if (p && rmp_jb_push(&w.s.jb, rel[i].ext, p->arrival, p) < 0) free(p);
    }
  }
  free_held(&w.s);
  flush(&w.s, w.now);
  rmp_src_close(&w.m);
  FUZZ_ASSERT(rmp_src_get_stats(&w.m)->events_lost == 0);
  stream_free(&w.s);
}

/* ---- AppleMidiSession ---- */

#define HOSTS 4

typedef struct apeer {
  rmp_ams_peer mp; /* first: the machine hands out &mp */
  rmp_seq_t seq;
  stream s;
  bool joined;
} apeer;

typedef struct asess {
  rmp_ams m;
  uint64_t rnd;
  long allocs, releases;
  uint64_t wait_us;
  double now;
} asess;

static rmp_ams_peer *a_alloc(void *ud) {
  asess *w = ud;
  apeer *p = calloc(1, sizeof *p);
  w->allocs++;
  rmp_seq_init(&p->seq, 1);
  rmp_seq_set_hold(&p->seq, w->wait_us);
  stream_init(&p->s, w->wait_us);
  return &p->mp;
}

static void a_release(void *ud, rmp_ams_peer *mp) {
  asess *w = ud;
  apeer *p = (apeer *)mp;
  FUZZ_ASSERT(!p->joined);
  w->releases++;
  stream_free(&p->s);
  free(p);
}

static uint32_t a_random(void *ud) { return fuzz_rand(&((asess *)ud)->rnd); }

static rmp_addr a_host(unsigned i, int port) {
  uint8_t ip[4] = {10, 0, 0, (uint8_t)(2 + i % HOSTS)};
  return rmp_addr_v4(ip, (uint16_t)(5004 + port));
}

static void a_drain(asess *w) {
  rmp_ams_out o;
  while (rmp_ams_pop(&w->m, &o)) {
    apeer *p = (apeer *)o.peer;
    switch (o.kind) {
    case RMP_AMS_SEND: {
      rmp_am_packet pk;
      FUZZ_ASSERT(rmp_am_parse(o.data, o.len, &pk) > 0);
      break;
    }
    case RMP_AMS_EV_JOINED:
      FUZZ_ASSERT(p && !p->joined);
      p->joined = true;
      break;
    case RMP_AMS_EV_LEFT: /* applemidi_midi.c: drain its buffer, release its notes */
      FUZZ_ASSERT(p && p->joined);
      flush(&p->s, (uint64_t)(w->now * 1000.0));
      release(&p->s, w->now);
      p->joined = false;
      break;
    default:
      break;
    }
  }
}

/* applemidi_midi.c rmc_ap_on_rtp() for a participant */
static void a_rtp(asess *w, const uint8_t *buf, size_t len, const rmp_addr *from) {
  rmp_rtp_header h;
  if (rmp_rtp_parse(buf, len, &h) < 0) return;
  rmp_ams_peer *mp = rmp_ams_rtp_participant(&w->m, w->now, h.ssrc, from);
  if (!mp) return;
  apeer *p = (apeer *)mp;
  FUZZ_ASSERT(p->joined);
  uint64_t now_us = (uint64_t)(w->now * 1000.0);
  uint32_t ext;
  int r = rmp_seq_receive(&p->seq, h.sequence, h.timestamp, now_us, 10000, &ext);
  if (r == RMP_SEQ_PROBATION || r == RMP_SEQ_HELD_DUP) return;
  pkt *k = copy_pkt(buf + h.payload_offset, h.payload_len, h.sequence, h.timestamp, now_us);
  if (r == RMP_SEQ_HELD || r == RMP_SEQ_BAD) {
    keep_held(&p->s, p->seq.held_slot, k);
    return;
  }
  if (r == RMP_SEQ_RESYNC) {
    flush(&p->s, now_us);
    if (p->seq.undo) rmp_stream_rx_resume(&p->s.rx, p->seq.undo_last);
    else rmp_stream_rx_restart(&p->s.rx);
  }
  rmp_ams_rtp_received(&w->m, mp, w->now, h.sequence);
  push_released(&p->s, p->seq.release, p->seq.n_release, true, now_us);
  push(&p->s, ext, now_us, now_us, k);
  push_released(&p->s, p->seq.release, p->seq.n_release, false, now_us);
}

static void a_service(asess *w) {
  uint64_t now_us = (uint64_t)(w->now * 1000.0);
  for (rmp_ams_peer *mp = w->m.peers; mp; mp = mp->next) {
    apeer *p = (apeer *)mp;
    if (!p->joined) continue;
    pop_due(&p->s, now_us);
    while (rmp_seq_hold_expire(&p->seq, now_us)) {
      push_released(&p->s, p->seq.release, p->seq.n_release, true, now_us);
      push_released(&p->s, p->seq.release, p->seq.n_release, false, now_us);
    }
    uint64_t at;
    if (p->s.jb.count && rmp_jb_next_deadline(&p->s.jb, &at)) FUZZ_ASSERT(at > now_us);
    if (rmp_seq_hold_deadline(&p->seq, &at)) FUZZ_ASSERT(at > now_us);
  }
}

static void run_applemidi(fuzz_in *in, uint8_t knobs) {
  asess *w = calloc(1, sizeof *w);
  w->rnd = 0x9E3779B97F4A7C15ull ^ fuzz_u8(in);
  w->wait_us = (uint64_t)(knobs >> 4) * 5000u;
  rmp_ams_config c;
  memset(&c, 0, sizeof c);
  c.ssrc = 0xA0A0A0A0u;
  c.name = "fuzz";
  c.invite_tries = 2;
  c.invite_interval_ms = 100;
  c.ck_fast_count = 2;
  c.ck_fast_interval_ms = 100;
  c.ck_interval_ms = 500;
  c.timeout_ms = 1000 + 100 * (fuzz_u8(in) % 16);
  c.rs_interval_ms = 50;
  c.max_participants = 1 + fuzz_u8(in) % 4;
  c.invitations_per_second = 50;
  c.accept = RMP_AMS_ACCEPT_ANY;
  c.alloc = a_alloc;
  c.release = a_release;
  c.random = a_random;
  c.ud = w;
  FUZZ_ASSERT(rmp_ams_init(&w->m, &c) == 0);
  w->now = 1000;
  uint16_t next_seq[8] = {0};
  uint8_t buf[2048];
  for (int steps = 0; fuzz_left(in) && steps < STEPS; steps++) {
    uint8_t op = fuzz_u8(in);
    unsigned hi = (op >> 4) % HOSTS;
    int port = (op >> 3) & 1;
    rmp_addr from = a_host(hi, port);
    switch (op & 7) {
    case 0: { /* an invitation from a host, with one of eight SSRCs */
      uint32_t ssrc = 1 + fuzz_u8(in) % 8;
      int n = rmp_am_encode_invite(buf, sizeof buf, RMP_AM_IN, fuzz_u32(in), ssrc, "peer");
      rmp_ams_on_packet(&w->m, w->now, port, buf, (size_t)n, &from);
      break;
    }
    case 1: { /* BY, CK or RS */
      uint32_t ssrc = 1 + fuzz_u8(in) % 8;
      uint8_t k = fuzz_u8(in);
      int n;
      if (k % 3 == 0) n = rmp_am_encode_bye(buf, sizeof buf, fuzz_u32(in), ssrc);
      else if (k % 3 == 1) {
        uint64_t ts[3] = {fuzz_u16(in), fuzz_u16(in), fuzz_u16(in)};
        n = rmp_am_encode_ck(buf, sizeof buf, ssrc, (uint8_t)(k / 3 % 3), ts);
      } else {
        n = rmp_am_encode_rs(buf, sizeof buf, ssrc, fuzz_u16(in));
      }
      rmp_ams_on_packet(&w->m, w->now, port, buf, (size_t)n, &from);
      break;
    }
    case 2: case 3: case 4: { /* RTP on the data port */
      uint8_t k = fuzz_u8(in);
      unsigned si = k % 8;
      uint16_t seq;
      switch ((k >> 3) % 4) {
      case 0: case 1: seq = next_seq[si]++; break;
      case 2: seq = (uint16_t)(next_seq[si] + (int8_t)fuzz_u8(in)); break;
      default: seq = fuzz_u16(in); break;
      }
      rmp_rtp_write_header(buf, 97, false, seq, fuzz_u32(in), 1 + si);
      size_t n = RMP_RTP_HEADER_LEN + make_payload(in, buf + RMP_RTP_HEADER_LEN);
      rmp_addr dfrom = a_host(hi, 1);
      a_rtp(w, buf, n, (k & 0x80) ? &from : &dfrom);
      break;
    }
    case 5: { /* raw octets on either port */
      size_t n = fuzz_u8(in);
      for (size_t i = 0; i < n; i++) buf[i] = fuzz_u8(in);
      if (port == 1 && n >= 1 && (buf[0] & 0xC0) == 0x80) a_rtp(w, buf, n, &from);
      else rmp_ams_on_packet(&w->m, w->now, port, buf, n, &from);
      break;
    }
    case 6: { /* time passes */
      double end = w->now + fuzz_u16(in) % 3000;
      for (int guard = 0; guard < 1000; guard++) {
        double due = rmp_ams_next_deadline(&w->m, NULL, NULL);
        for (rmp_ams_peer *mp = w->m.peers; mp; mp = mp->next) {
          apeer *p = (apeer *)mp;
          uint64_t at;
          if (!p->joined) continue;
          if (p->s.jb.count && rmp_jb_next_deadline(&p->s.jb, &at) && (double)at / 1000.0 < due)
            due = (double)at / 1000.0;
          if (rmp_seq_hold_deadline(&p->seq, &at) && (double)at / 1000.0 < due) due = (double)at / 1000.0;
        }
        if (!(due <= end)) break;
        if (due > w->now) w->now = due;
        while (rmp_ams_tick(&w->m, w->now)) a_drain(w);
        a_drain(w);
        a_service(w);
      }
      w->now = end;
      while (rmp_ams_tick(&w->m, w->now)) a_drain(w);
      a_drain(w);
      a_service(w);
      break;
    }
    case 7: /* we end them all */
      if (fuzz_u8(in) == 0)
        while (rmp_ams_stop(&w->m)) a_drain(w);
      break;
    }
    a_drain(w);
  }
  while (rmp_ams_stop(&w->m)) a_drain(w);
  a_drain(w);
  FUZZ_ASSERT(rmp_ams_live(&w->m) == 0);
  rmp_ams_free(&w->m);
  FUZZ_ASSERT(w->allocs == w->releases);
  free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_in in;
  fuzz_in_init(&in, data, size);
  uint8_t knobs = fuzz_u8(&in);
  SC = (rmp_stream_config){.rate = 10000.0,
                           .payload_budget = 1200,
                           .max_sysex = 64 + (size_t)(knobs & 7) * 256,
                           .journal_history = 256,
                           .recovery = !(knobs & 8),
                           .guard_ms = 20.0};
  if (knobs & 1) run_applemidi(&in, knobs);
  else run_midisession(&in, knobs);
  return 0;
}
