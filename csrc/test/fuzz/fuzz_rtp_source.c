/* libFuzzer target: the RFC 3550 source machine (rtp_source.c) driven by a
 * script on virtual time: datagrams (raw, or RTP and RTCP built from a few
 * fields so that SSRCs, sequence numbers and report blocks line up) from
 * several sources (the peer's ports, another host, our own sockets), ICMP
 * errors, sends, restarts, and time passing deadline by deadline as the
 * runtime does it. After every step the outbox is read and checked:
 *  - every datagram is a valid compound RTCP packet of at most
 *    RMP_SRC_RTCP_MAX octets, sent to the peer's host (no accept_any_source);
 *  - a drop is reported once: between two drops the peer was heard (an RTP
 *    or RTCP packet taken) or the machine reopened;
 *  - nothing is lost from the outbox; a tick at a deadline moves it later;
 *  - our SSRC never equals the peer's after a collision. */
#include <string.h>

#include "fuzz_common.h"
#include "rtcp.h"
#include "rtp_source.h"

static rmp_addr PEER_HOST, SOURCES[5];

static bool is_own(void *ud, int channel, const rmp_addr *a) {
  (void)ud;
  return rmp_addr_equal(a, &SOURCES[channel == RMP_SRC_RTCP ? 4 : 3]);
}

static uint64_t gen_random(void *ud) {
  uint64_t *s = ud;
  uint64_t hi = fuzz_rand(s);
  return hi << 32 | fuzz_rand(s);
}

typedef struct world {
  rmp_src m;
  uint64_t now;
  uint64_t rng;
  bool any_source;
  bool dropped;          /* a drop was reported ... */
  uint64_t heard_at_drop; /* ... when the peer had been heard this often */
} world;

static uint64_t heard(const rmp_src *m) {
  const rmp_src_stats *st = rmp_src_get_stats(m);
  return st->packets_received + st->rtcp_received;
}

static void take_outbox(world *w) {
  rmp_src_out o;
  while (rmp_src_poll(&w->m, &o)) {
    switch (o.kind) {
    case RMP_SRC_OUT_DATAGRAM:
      FUZZ_ASSERT(o.len > 0 && o.len <= RMP_SRC_RTCP_MAX);
      FUZZ_ASSERT(rmp_rtcp_validate_compound(o.data, o.len) == (int)o.len);
      if (!w->any_source) FUZZ_ASSERT(rmp_addr_same_host(&o.to, &PEER_HOST));
      break;
    case RMP_SRC_OUT_DROP:
      FUZZ_ASSERT(o.reason && o.detail);
      (void)fuzz_touch((const uint8_t *)o.detail, strlen(o.detail));
      FUZZ_ASSERT(!w->dropped || heard(&w->m) > w->heard_at_drop);
      w->dropped = true;
      w->heard_at_drop = heard(&w->m);
      break;
    case RMP_SRC_OUT_COLLISION:
      FUZZ_ASSERT(o.new_ssrc != o.old_ssrc && o.new_ssrc == rmp_src_ssrc(&w->m));
      if (rmp_src_get_stats(&w->m)->have_peer_ssrc)
        FUZZ_ASSERT(o.new_ssrc != rmp_src_get_stats(&w->m)->peer_ssrc);
      break;
    case RMP_SRC_OUT_REPORT:
      FUZZ_ASSERT(o.report.rtt_ms == -1 || o.report.rtt_ms >= 0);
      break;
    case RMP_SRC_OUT_FORGET:
      break;
    default:
      FUZZ_ASSERT(0);
    }
  }
  FUZZ_ASSERT(rmp_src_get_stats(&w->m)->events_lost == 0);
  FUZZ_ASSERT(rmp_src_get_stats(&w->m)->unknown_ssrc <= rmp_src_get_stats(&w->m)->foreign);
}

static uint32_t pick_ssrc(world *w, fuzz_in *in) {
  switch (fuzz_u8(in) % 4) {
  case 0: return rmp_src_ssrc(&w->m);
  case 1: return 0x0B0B0B0Bu;
  case 2: return 0x5EED;
  default: return fuzz_u32(in);
  }
}

static void open_machine(world *w) {
  rmp_src_open(&w->m, w->now, &PEER_HOST, 1700000000ull * 1000000u);
  w->dropped = false;
  take_outbox(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static world w;
  rmp_addr_parse("10.0.0.2", 0, &PEER_HOST);
  rmp_addr_parse("10.0.0.2", 6004, &SOURCES[0]);
  rmp_addr_parse("10.0.0.2", 6005, &SOURCES[1]);
  rmp_addr_parse("10.0.0.3", 6004, &SOURCES[2]);
  rmp_addr_parse("10.0.0.1", 5004, &SOURCES[3]);
  rmp_addr_parse("10.0.0.1", 5005, &SOURCES[4]);
  fuzz_in in;
  fuzz_in_init(&in, data, size);
  memset(&w, 0, sizeof w);
  uint8_t flags = fuzz_u8(&in);
  w.rng = 0x9E3779B97F4A7C15u ^ fuzz_u16(&in);
  w.any_source = flags & 1;
  w.now = 1000000;
  rmp_src_config c = {
      .ssrc = 0x0A0A0A0Au,
      .ts_offset = 1000,
      .clock_rate = (flags & 2) ? 10000 : 44100,
      .payload_type = 97,
      .peer_port = (flags & 4) ? 0 : 6004,
      .accept_any_source = w.any_source,
      .timeout_us = 1000000u * (1 + fuzz_u8(&in) % 60),
      .rtcp_interval_s = 0.05 + (double)(fuzz_u8(&in) % 100) / 10.0,
      .cname = "fuzz@host",
      .tool = (flags & 8) ? NULL : "fuzz",
      .random = gen_random,
      .is_own = is_own,
      .ud = &w.rng,
  };
  rmp_src_init(&w.m, &c);
  open_machine(&w);

  uint8_t buf[2048];
  for (int steps = 0; fuzz_left(&in) && steps < 512; steps++) {
    const rmp_addr *from = &SOURCES[fuzz_u8(&in) % 5];
    rmp_src_pkt pkt;
    switch (fuzz_u8(&in) % 9) {
    case 0: { /* a raw datagram on the RTP port */
      size_t n = fuzz_u8(&in);
      for (size_t i = 0; i < n; i++) buf[i] = fuzz_u8(&in);
      int r = rmp_src_on_rtp(&w.m, w.now, buf, n, from, &pkt);
      if (r >= 0) FUZZ_ASSERT(fuzz_within(buf + pkt.h.payload_offset, pkt.h.payload_len, buf, n));
      break;
    }
    case 1: { /* an RTP packet from a few fields */
      uint32_t ssrc = pick_ssrc(&w, &in);
      uint16_t seq = fuzz_u16(&in);
      uint8_t pt = fuzz_u8(&in) & 1 ? 97 : fuzz_u8(&in) & 0x7f;
      rmp_rtp_write_header(buf, pt, false, seq, fuzz_u32(&in), ssrc);
      size_t n = RMP_RTP_HEADER_LEN + fuzz_u8(&in) % 16;
      memset(buf + RMP_RTP_HEADER_LEN, 0x5a, n - RMP_RTP_HEADER_LEN);
      int r = rmp_src_on_rtp(&w.m, w.now, buf, n, from, &pkt);
      if (r >= 0) FUZZ_ASSERT(pkt.h.ssrc == ssrc && (uint16_t)pkt.ext_seq == seq);
      break;
    }
    case 2: { /* a raw datagram on the RTCP port */
      size_t n = fuzz_u16(&in) % 1200;
      for (size_t i = 0; i < n; i++) buf[i] = fuzz_u8(&in);
      rmp_src_on_rtcp(&w.m, w.now, buf, n, from);
      break;
    }
    case 3: { /* a compound from a few fields: SR or RR, blocks, SDES, BYE */
      uint32_t ssrc = pick_ssrc(&w, &in);
      rmp_rtcp_rb_t rb[2];
      unsigned nrb = fuzz_u8(&in) % 3;
      for (unsigned i = 0; i < nrb; i++) {
        rb[i].ssrc = i ? pick_ssrc(&w, &in) : rmp_src_ssrc(&w.m);
        rb[i].fraction_lost = fuzz_u8(&in);
        rb[i].cumulative_lost = (int32_t)(fuzz_u32(&in) & 0x7fffff);
        rb[i].ext_highest_seq = fuzz_u32(&in);
        rb[i].jitter = fuzz_u32(&in);
        rb[i].lsr = fuzz_u32(&in);
        rb[i].dlsr = fuzz_u32(&in);
      }
      uint8_t kinds = fuzz_u8(&in);
      int n;
      if (kinds & 1) {
        rmp_rtcp_sender_info_t si = {fuzz_u64(&in), fuzz_u32(&in), 1, 1};
        n = rmp_rtcp_build_sr(buf, sizeof buf, ssrc, &si, rb, nrb);
      } else {
        n = rmp_rtcp_build_rr(buf, sizeof buf, ssrc, rb, nrb);
      }
      if (kinds & 2) n += rmp_rtcp_build_sdes_cname(buf + n, sizeof buf - (size_t)n, ssrc, "peer@x", "t");
      if (kinds & 4) {
        const char *reason = (kinds & 8) ? RMP_SRC_COLLISION_REASON : (kinds & 16) ? "bye" : NULL;
        n += rmp_rtcp_build_bye(buf + n, sizeof buf - (size_t)n, &ssrc, 1, reason);
      }
      rmp_src_on_rtcp(&w.m, w.now, buf, (size_t)n, from);
      break;
    }
    case 4: { /* time passes, deadline by deadline */
      uint64_t end = w.now + (fuzz_u32(&in) % 120000000u), at;
      while (rmp_src_next_deadline(&w.m, &at) && at <= end) {
        if (at > w.now) w.now = at;
        rmp_src_tick(&w.m, w.now);
        take_outbox(&w);
        FUZZ_ASSERT(!rmp_src_next_deadline(&w.m, &at) || at > w.now);
      }
      w.now = end;
      break;
    }
    case 5: /* an ICMP error */
      rmp_src_on_error(&w.m, w.now, fuzz_u8(&in) & 1, from, "ECONNREFUSED: connection refused");
      break;
    case 6: /* we sent */
      rmp_src_sent_rtp(&w.m, fuzz_u8(&in));
      break;
    case 7: { /* stop and start again */
      rmp_addr to;
      size_t n = rmp_src_bye(&w.m, w.now, "session stopped", buf, sizeof buf, &to);
      if (n) FUZZ_ASSERT(rmp_rtcp_validate_compound(buf, n) == (int)n);
      rmp_src_close(&w.m);
      open_machine(&w);
      break;
    }
    default: /* a few microseconds pass */
      w.now += fuzz_u8(&in);
      break;
    }
    take_outbox(&w);
  }
  return 0;
}
