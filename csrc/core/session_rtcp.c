/* RTCP for an RTP session (RFC 3550 section 6): compound SR or RR + SDES
 * (CNAME, TOOL) on the 6.3 randomised interval, BYE on stop and on an SSRC
 * collision, and the receiving side: report blocks about us (RTT from
 * LSR/DLSR, on_receiver_report), the peer's SR (for our LSR/DLSR), its
 * SDES, its BYE (on_drop "bye"). APP and unknown types are walked over. */
#include "rtcp.h"
#include "session_internal.h"
#include "slack.h"

#include <stdio.h>
#include <string.h>

/* UDP and IPv4 headers, for the average RTCP size of 6.3.3. */
#define RMC_UDP_IP_OVERHEAD 28

static uint64_t unix_us(void) {
  uv_timeval64_t tv;
  if (uv_gettimeofday(&tv)) return 0;
  return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

void rmc_rtcp_learn_peer(rtpmidi_session *s, const struct sockaddr *addr, int port) {
  if (port <= 0) return;
  memset(&s->peer_rtcp, 0, sizeof s->peer_rtcp);
  memcpy(&s->peer_rtcp, addr, addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                          : sizeof(struct sockaddr_in));
  if (addr->sa_family == AF_INET6) ((struct sockaddr_in6 *)&s->peer_rtcp)->sin6_port = htons((uint16_t)port);
  else ((struct sockaddr_in *)&s->peer_rtcp)->sin_port = htons((uint16_t)port);
  s->have_peer_rtcp = true;
}

/* SR (when we sent since the last report) or RR, with a report block about
 * the peer once we received from it; then SDES CNAME and TOOL. */
static int build_report(rtpmidi_session *s, uint8_t *buf, size_t cap, uint32_t ssrc, bool allow_sr) {
  rmp_rtcp_rb_t rb;
  unsigned n_rb = 0;
  uint64_t now = rmc_now_us();
  if (s->have_peer && rmp_seq_expected(&s->seq_in) > 0) {
    rmp_seq_report_t rep;
    rmp_seq_report(&s->seq_in, &rep);
    rb.ssrc = s->st.peer_ssrc;
    rb.fraction_lost = rep.fraction_lost;
    rb.cumulative_lost = rep.cumulative_lost;
    rb.ext_highest_seq = rep.ext_highest_seq;
    rb.jitter = rep.jitter;
    rb.lsr = s->last_sr_mid;
    rb.dlsr = s->last_sr_mid ? rmp_rtcp_dlsr_from_us(now - s->last_sr_us) : 0;
    n_rb = 1;
  }
  int n;
  if (allow_sr && s->sent_since_report) {
    rmp_rtcp_sender_info_t si;
    si.ntp = rmp_ntp_from_unix_us(unix_us());
    si.rtp_ts = rtpmidi_session_media_time(s);
    si.packet_count = s->sr_packets;
    si.octet_count = s->sr_octets;
    n = rmp_rtcp_build_sr(buf, cap, ssrc, &si, &rb, n_rb);
  } else {
    n = rmp_rtcp_build_rr(buf, cap, ssrc, &rb, n_rb);
  }
  if (n < 0) return n;
  int m = rmp_rtcp_build_sdes_cname(buf + n, cap - (size_t)n, ssrc, s->cname, s->tool_name);
  if (m < 0) return m;
  return n + m;
}

static void count_sent(rtpmidi_session *s, int len) {
  s->st.rtcp_sent++;
  s->avg_rtcp_size = rmp_rtcp_avg_size(s->avg_rtcp_size, (size_t)len + RMC_UDP_IP_OVERHEAD);
}

static void send_report(rtpmidi_session *s) {
  if (!s->have_peer_rtcp || !s->rtcp) return;
  uint8_t buf[1024];
  int n = build_report(s, buf, sizeof buf, s->ssrc, true);
  if (n <= 0) return;
  s->sent_since_report = false;
  if (rmc_send(s, s->rtcp, buf, (size_t)n, (const struct sockaddr *)&s->peer_rtcp) == 0) count_sent(s, n);
}

void rmc_rtcp_send_bye(rtpmidi_session *s, uint32_t ssrc, const char *reason) {
  /* What was sent before the BYE leaves before it (a stop or a collision in
   * the middle of a burst), and before the session's sockets close. */
  rmc_sendq_flush(s->rt);
  if (!s->have_peer_rtcp || !s->rtcp) return;
  uint8_t buf[1024];
  int n = build_report(s, buf, sizeof buf, ssrc, false);
  if (n <= 0) return;
  int m = rmp_rtcp_build_bye(buf + n, sizeof buf - (size_t)n, &ssrc, 1, reason);
  if (m < 0) return;
  n += m;
  /* Straight out (or not at all): the socket may close right after. */
  uv_buf_t b = uv_buf_init((char *)buf, (unsigned)n);
  int r = uv_udp_try_send(&s->rtcp->u.udp, &b, 1, (const struct sockaddr *)&s->peer_rtcp);
  if (r < 0 && r != UV_EAGAIN) {
    rmc_drain_errors(s->rtcp);
    r = uv_udp_try_send(&s->rtcp->u.udp, &b, 1, (const struct sockaddr *)&s->peer_rtcp);
  }
  if (r >= 0) count_sent(s, n);
}

static void on_rtcp_timer(uv_timer_t *t);

/* A uniform number in [0, 1) for the randomised interval (6.3.1). It needs
 * no secrecy: a generator (splitmix64) seeded once per thread from the
 * system saves the getrandom system call each report would make. */
static double interval_random(void) {
  static _Thread_local uint64_t x;
  while (!x) rmc_random(&x, sizeof x);
  uint64_t z = (x += 0x9E3779B97F4A7C15u);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  z ^= z >> 31;
  return (double)(z >> 11) / 9007199254740992.0; /* 53 bits / 2^53 */
}

static void schedule(rtpmidi_session *s) {
  if (!s->rtcp_timer) return;
  /* Two members: us and the peer. */
  uint32_t senders = (s->sent_since_report ? 1u : 0u) + (s->have_peer ? 1u : 0u);
  uint64_t us = rmp_rtcp_interval_us(2, senders, 0, s->sent_since_report, s->avg_rtcp_size,
                                     s->rtcp_initial, s->cfg.rtcp_interval, interval_random());
  /* Reports of many sessions share wakeups (slack.h): at most 1/16 later. */
  uv_timer_start(&s->rtcp_timer->u.timer, on_rtcp_timer, rmc_slack_ms(s->rt->loop, (us + 999) / 1000), 0);
}

static void on_rtcp_timer(uv_timer_t *t) {
  rmc_handle *u = t->data;
  rtpmidi_session *s = u->owner;
  if (!s) return;
  unsigned gen = s->gen;
  send_report(s);
  if (gen != s->gen) return;
  s->rtcp_initial = false;
  schedule(s);
}

void rmc_rtcp_start(rtpmidi_session *s) {
  s->rtcp_initial = true; /* 6.2: the first report after half the minimum */
  s->avg_rtcp_size = 100 + RMC_UDP_IP_OVERHEAD;
  schedule(s);
}

/* ---- receiving ---- */

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void copy_item(char *dst, const rmp_rtcp_sdes_item_t *it) {
  memcpy(dst, it->data, it->len); /* len <= 255, dst holds 256 */
  dst[it->len] = '\0';
}

static void on_report_block(rtpmidi_session *s, const rmp_rtcp_rb_t *rb) {
  rtpmidi_receiver_report rr;
  rr.ext_highest_seq = rb->ext_highest_seq;
  rr.fraction_lost = rb->fraction_lost;
  rr.cumulative_lost = rb->cumulative_lost;
  rr.jitter = rb->jitter;
  rr.rtt_ms = -1;
  if (rb->lsr) {
    uint32_t a = rmp_ntp_mid32(rmp_ntp_from_unix_us(unix_us())), rtt;
    if (rmp_rtcp_rtt(a, rb->lsr, rb->dlsr, &rtt) == 0) {
      rr.rtt_ms = (double)rtt * 1000.0 / 65536.0;
    } else {
      /* On a fast link the three roundings can make A - LSR a hair smaller
       * than DLSR: that is a round trip of about zero. */
      int32_t d = (int32_t)(a - rb->lsr - rb->dlsr);
      if (d < 0 && d > -8) rr.rtt_ms = 0;
    }
  }
  if (rr.rtt_ms >= 0) s->st.rtt_ms = rr.rtt_ms;
  s->st.remote_fraction_lost = rb->fraction_lost;
  s->st.remote_lost = rb->cumulative_lost;
  s->st.remote_jitter_ms = (double)rb->jitter * 1000.0 / (double)s->cfg.clock_rate;
  if (s->ev.on_receiver_report) s->ev.on_receiver_report(s->ud, &rr);
}

void rmc_rtcp_on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                      unsigned flags) {
  rmc_handle *u = h->data;
  rtpmidi_session *s = u->owner;
  if (!s) return;
  if (nread < 0) { rmc_net_error(s, u, (int)nread); return; }
  if (nread == 0 || !addr) return;
  const uint8_t *p = (const uint8_t *)buf->base;
  size_t len = (size_t)nread;
  if ((flags & UV_UDP_PARTIAL) || rmp_rtcp_validate_compound(p, len) < 0) {
    if (rmc_source_ok(s, addr)) s->st.malformed++;
    else s->st.foreign++;
    return;
  }
  /* The first packet is an SR or RR: its SSRC is the sender's. */
  uint32_t sender = be32(p + 4);
  if (sender == s->ssrc && rmc_is_own_address(addr, u)) { s->st.loops++; return; }
  if (!rmc_source_ok(s, addr)) { s->st.foreign++; return; }
  if (sender == s->ssrc) { rmc_own_ssrc(s, addr, u); return; }
  if (!s->have_peer) {
    s->have_peer = true;
    s->st.have_peer_ssrc = true;
    s->st.peer_ssrc = sender;
  } else if (sender != s->st.peer_ssrc) {
    s->st.unknown_ssrc++;
    s->st.foreign++;
    return;
  }
  rmc_heard(s, rmc_now_us());
  s->st.rtcp_received++;
  s->avg_rtcp_size = rmp_rtcp_avg_size(s->avg_rtcp_size, len + RMC_UDP_IP_OVERHEAD);
  if (!s->cfg.sending_port) {
    /* Receive-only: reports go back where the peer's come from. */
    int port = addr->sa_family == AF_INET6 ? ntohs(((const struct sockaddr_in6 *)addr)->sin6_port)
                                           : ntohs(((const struct sockaddr_in *)addr)->sin_port);
    rmc_rtcp_learn_peer(s, addr, port);
  }
  unsigned gen = s->gen;
  uint32_t peer = sender;
  rmp_rtcp_iter_t it;
  rmp_rtcp_hdr_t hd;
  rmp_rtcp_iter_init(&it, p, len);
  while (rmp_rtcp_iter_next(&it, &hd) > 0) {
    switch (hd.pt) {
    case RMP_RTCP_SR:
    case RMP_RTCP_RR: {
      rmp_rtcp_report_t r;
      if (rmp_rtcp_parse_report(&hd, &r) < 0) { s->st.malformed++; return; }
      if (r.ssrc != peer) break;
      if (r.is_sr) {
        s->last_sr_mid = rmp_ntp_mid32(r.si.ntp);
        s->last_sr_us = rmc_now_us();
      }
      for (unsigned i = 0; i < r.n_rb; i++) {
        if (r.rb[i].ssrc != s->ssrc) continue;
        on_report_block(s, &r.rb[i]);
        if (gen != s->gen) return;
      }
      break;
    }
    case RMP_RTCP_SDES: {
      rmp_rtcp_sdes_iter_t si;
      rmp_rtcp_sdes_item_t item;
      uint32_t ssrc;
      int k;
      rmp_rtcp_sdes_init(&si, &hd);
      while ((k = rmp_rtcp_sdes_next(&si, &ssrc, &item)) > 0) {
        if (ssrc != peer) continue;
        if (item.type == RMP_SDES_CNAME) copy_item(s->st.peer_cname, &item);
        else if (item.type == RMP_SDES_TOOL) copy_item(s->st.peer_tool, &item);
      }
      if (k < 0) { s->st.malformed++; return; }
      break;
    }
    case RMP_RTCP_BYE: {
      rmp_rtcp_bye_t bye;
      if (rmp_rtcp_parse_bye(&hd, &bye) < 0) { s->st.malformed++; return; }
      bool ours = false;
      for (unsigned i = 0; i < bye.n_ssrc; i++) ours |= bye.ssrc[i] == peer;
      if (!ours) break;
      char reason[256] = "";
      if (bye.has_reason) {
        memcpy(reason, bye.reason, bye.reason_len);
        reason[bye.reason_len] = '\0';
      }
      rmc_forget_peer(s);
      if (gen != s->gen) return;
      /* A peer that left an SSRC after a collision (8.2) goes on with a new
       * one: that is not a drop (the reason is the one we send then). */
      if (strcmp(reason, "SSRC collision") != 0) rmc_drop(s, "bye", reason);
      return;
    }
    default:
      break; /* APP and unknown types: walked over by their length */
    }
  }
}
