/* The RFC 3550 source machine (rtp_source.h). */
#include "rtp_source.h"

#include "rtcp.h"

#include <stdio.h>
#include <string.h>

/* UDP and IPv4 headers, for the average RTCP size of 6.3.3. */
#define UDP_IP_OVERHEAD 28

/* ---- liveness ---- */

void rmp_alive_start(rmp_alive *a, uint64_t now, uint64_t timeout_us) {
  a->last_heard_us = now;
  a->timeout_us = timeout_us;
  a->running = true;
  a->gone = false;
}

void rmp_alive_stop(rmp_alive *a) {
  a->running = false;
  a->gone = false;
}

void rmp_alive_heard(rmp_alive *a, uint64_t now) {
  a->last_heard_us = now;
  a->gone = false;
}

bool rmp_alive_expired(rmp_alive *a, uint64_t now) {
  uint64_t at;
  if (!rmp_alive_deadline(a, &at) || now < at) return false;
  a->gone = true;
  return true;
}

bool rmp_alive_drop(rmp_alive *a) {
  if (a->gone) return false;
  a->gone = true;
  return true;
}

bool rmp_alive_deadline(const rmp_alive *a, uint64_t *at) {
  if (!a->running || a->gone) return false;
  *at = a->last_heard_us + a->timeout_us;
  return true;
}

/* ---- the outbox ----
 * A ring of events; what they carry (datagrams, strings) lives in an arena
 * that empties when the outbox has been read to the end, so that pointers
 * handed out stay valid until then, even when the caller's handling of one
 * event makes more (an error while sending a datagram). */

static rmp_src_out *push(rmp_src *m, int kind) {
  if (m->out_n == RMP_SRC_OUT_MAX) {
    m->st.events_lost++;
    return NULL;
  }
  rmp_src_out *o = &m->out[(m->out_head + m->out_n) % RMP_SRC_OUT_MAX];
  memset(o, 0, sizeof *o);
  o->kind = kind;
  m->out_n++;
  return o;
}

static const uint8_t *keep(rmp_src *m, const void *data, size_t len) {
  if (len > RMP_SRC_ARENA - m->arena_used) return NULL;
  uint8_t *p = m->arena + m->arena_used;
  memcpy(p, data, len);
  m->arena_used += len;
  return p;
}

static const char *keep_str(rmp_src *m, const char *s) {
  const char *k = (const char *)keep(m, s, strlen(s) + 1);
  return k ? k : "";
}

static void push_datagram(rmp_src *m, const uint8_t *buf, size_t len, const rmp_addr *to) {
  const uint8_t *d = keep(m, buf, len);
  rmp_src_out *o = d ? push(m, RMP_SRC_OUT_DATAGRAM) : NULL;
  if (!o) {
    if (!d) m->st.events_lost++;
    return;
  }
  o->to = *to;
  o->data = d;
  o->len = len;
}

static void push_drop(rmp_src *m, const char *reason, const char *detail) {
  rmp_src_out *o = push(m, RMP_SRC_OUT_DROP);
  if (!o) return;
  o->reason = reason;
  o->detail = keep_str(m, detail ? detail : "");
}

int rmp_src_poll(rmp_src *m, rmp_src_out *out) {
  if (!m->out_n) {
    m->arena_used = 0;
    m->out_head = 0;
    return 0;
  }
  *out = m->out[m->out_head];
  m->out_head = (m->out_head + 1) % RMP_SRC_OUT_MAX;
  m->out_n--;
  return 1;
}

static void clear_outbox(rmp_src *m) {
  m->out_head = m->out_n = 0;
  m->arena_used = 0;
}

/* ---- clocks and randomness ---- */

static uint64_t wall_us(const rmp_src *m, uint64_t now) {
  return (uint64_t)((int64_t)now + m->wall_offset_us);
}

uint32_t rmp_src_media_time(const rmp_src *m, uint64_t now) {
  double ticks = (double)now * (double)m->cfg.clock_rate / 1e6;
  return m->cfg.ts_offset + (uint32_t)(uint64_t)ticks;
}

/* A uniform number in [0, 1): 53 random bits. */
static double random01(rmp_src *m) {
  uint64_t r = m->cfg.random ? m->cfg.random(m->cfg.ud) : 0;
  return (double)(r >> 11) / 9007199254740992.0;
}

/* ---- RTCP building ---- */

/* SR (when we sent since the last report and allow_sr) or RR, with a
 * report block about the peer once we received from it; then SDES CNAME
 * and TOOL. Returns the length, or < 0. */
static int build_report(rmp_src *m, uint64_t now, uint32_t ssrc, bool allow_sr, uint8_t *buf, size_t cap) {
  rmp_rtcp_rb_t rb;
  unsigned n_rb = 0;
  if (m->have_peer && rmp_seq_expected(&m->seq) > 0) {
    rmp_seq_report_t rep;
    rmp_seq_report(&m->seq, &rep);
    rb.ssrc = m->st.peer_ssrc;
    rb.fraction_lost = rep.fraction_lost;
    rb.cumulative_lost = rep.cumulative_lost;
    rb.ext_highest_seq = rep.ext_highest_seq;
    rb.jitter = rep.jitter;
    rb.lsr = m->last_sr_mid;
    rb.dlsr = m->last_sr_mid ? rmp_rtcp_dlsr_from_us(now - m->last_sr_us) : 0;
    n_rb = 1;
  }
  int n;
  if (allow_sr && m->sent_since_report) {
    rmp_rtcp_sender_info_t si;
    si.ntp = rmp_ntp_from_unix_us(wall_us(m, now));
    si.rtp_ts = rmp_src_media_time(m, now);
    si.packet_count = m->sr_packets;
    si.octet_count = m->sr_octets;
    n = rmp_rtcp_build_sr(buf, cap, ssrc, &si, &rb, n_rb);
  } else {
    n = rmp_rtcp_build_rr(buf, cap, ssrc, &rb, n_rb);
  }
  if (n < 0) return n;
  int k = rmp_rtcp_build_sdes_cname(buf + n, cap - (size_t)n, ssrc, m->cfg.cname ? m->cfg.cname : "",
                                    m->cfg.tool);
  if (k < 0) return k;
  return n + k;
}

static void count_sent(rmp_src *m, size_t len) {
  m->sent_since_heard = true;
  m->st.rtcp_sent++;
  m->avg_rtcp_size = rmp_rtcp_avg_size(m->avg_rtcp_size, len + UDP_IP_OVERHEAD);
}

/* RR + SDES + BYE for ssrc into buf. Returns the length, 0 when there is
 * nowhere to send it. */
static size_t build_bye(rmp_src *m, uint64_t now, uint32_t ssrc, const char *reason, uint8_t *buf,
                        size_t cap) {
  if (!m->have_peer_rtcp) return 0;
  int n = build_report(m, now, ssrc, false, buf, cap);
  if (n <= 0) return 0;
  int k = rmp_rtcp_build_bye(buf + n, cap - (size_t)n, &ssrc, 1, reason);
  if (k < 0) return 0;
  count_sent(m, (size_t)(n + k));
  return (size_t)(n + k);
}

size_t rmp_src_bye(rmp_src *m, uint64_t now, const char *reason, uint8_t *buf, size_t cap, rmp_addr *to) {
  if (!m->open || m->rtcp_off) return 0;
  size_t n = build_bye(m, now, m->ssrc, reason, buf, cap);
  if (n) *to = m->peer_rtcp;
  return n;
}

static void schedule(rmp_src *m, uint64_t now) {
  /* Two members: us and the peer (6.3.1 with members = 2). */
  uint32_t senders = (m->sent_since_report ? 1u : 0u) + (m->have_peer ? 1u : 0u);
  m->report_at = now + rmp_rtcp_interval_us(2, senders, 0, m->sent_since_report, m->avg_rtcp_size,
                                            m->rtcp_initial, m->cfg.rtcp_interval_s, random01(m));
}

static void send_report(rmp_src *m, uint64_t now) {
  if (!m->have_peer_rtcp || m->rtcp_off) return;
  uint8_t buf[RMP_SRC_RTCP_MAX];
  int n = build_report(m, now, m->ssrc, true, buf, sizeof buf);
  if (n <= 0) return;
  m->sent_since_report = false;
  count_sent(m, (size_t)n);
  push_datagram(m, buf, (size_t)n, &m->peer_rtcp);
}

/* ---- set-up ---- */

void rmp_src_init(rmp_src *m, const rmp_src_config *cfg) {
  memset(m, 0, sizeof *m);
  m->cfg = *cfg;
  m->ssrc = cfg->ssrc;
  m->st.rtt_ms = -1;
  rmp_seq_init(&m->seq, m->cfg.probation);
  rmp_seq_set_hold(&m->seq, m->cfg.hold_us);
}

static void reset_peer(rmp_src *m) {
  m->have_rtcp_from = false;
  m->st.held_duplicates += m->seq.held_duplicates;
  m->st.held_reordered += m->seq.reordered;
  m->st.held_dropped += m->seq.held_dropped;
  m->have_peer = false;
  m->have_rtp = false;
  m->heard_rtcp = false;
  m->rtcp_error = false;
  m->st.have_peer_ssrc = false;
  rmp_seq_init(&m->seq, m->cfg.probation);
  rmp_seq_set_hold(&m->seq, m->cfg.hold_us);
  m->last_sr_mid = 0;
}

void rmp_src_open(rmp_src *m, uint64_t now, const rmp_addr *peer_host, uint64_t wall) {
  uint16_t port = m->cfg.peer_port;
  m->peer = rmp_addr_with_port(*peer_host, port);
  m->have_peer_rtcp = port > 0 && port < 65535;
  if (m->have_peer_rtcp) m->peer_rtcp = rmp_addr_with_port(*peer_host, (uint16_t)(port + 1));
  m->src_locked = false;
  m->rtcp_off = false;
  m->rtcp_error = false;
  m->wall_offset_us = (int64_t)wall - (int64_t)now;
  reset_peer(m);
  rmp_alive_start(&m->alive, now, m->cfg.timeout_us);
  clear_outbox(m);
  m->rtcp_initial = true; /* 6.2: the first report after half the minimum */
  m->avg_rtcp_size = 100 + UDP_IP_OVERHEAD;
  m->open = true;
  schedule(m, now);
}

void rmp_src_close(rmp_src *m) {
  m->open = false;
  rmp_alive_stop(&m->alive);
  clear_outbox(m);
}

/* ---- the peer ---- */

void rmp_src_drop(rmp_src *m, const char *reason, const char *detail) {
  if (rmp_alive_drop(&m->alive)) push_drop(m, reason, detail);
}

/* Forgets the peer's SSRC and reception state (its BYE, a timeout, a
 * restart). */
static void forget(rmp_src *m, bool recovery) {
  reset_peer(m);
  rmp_src_out *o = push(m, RMP_SRC_OUT_FORGET);
  if (o) o->recovery = recovery;
}

static void learn(rmp_src *m, uint32_t ssrc) {
  m->have_peer = true;
  m->st.have_peer_ssrc = true;
  m->st.peer_ssrc = ssrc;
}

/* Source filter: may `from` send to us? */
static bool acceptable(const rmp_src *m, const rmp_addr *from) {
  if (m->cfg.accept_any_source && !m->src_locked) return from->family == m->peer.family;
  return rmp_addr_same_host(from, &m->peer);
}

/* accept_any_source: the first host that sends a well-formed packet
 * becomes the peer (NAT); our destinations follow it. */
static void lock_source(rmp_src *m, const rmp_addr *from) {
  if (!m->cfg.accept_any_source || m->src_locked) return;
  m->src_locked = true;
  uint16_t port = m->cfg.peer_port;
  /* Receive only: the peer is where it sends from. */
  m->peer = port ? rmp_addr_with_port(*from, port) : *from;
  if (m->have_peer_rtcp) m->peer_rtcp = rmp_addr_with_port(*from, (uint16_t)(port + 1));
}

static void count_bad(rmp_src *m, const rmp_addr *from) {
  if (acceptable(m, from)) m->st.malformed++;
  else m->st.foreign++;
}

/* A packet from an acceptable host carries our SSRC and does not come from
 * our own socket: somebody else chose it, or our packets loop back through
 * another address (8.2). The first time from an address we say BYE for it
 * and take another; the address joins the list of conflicting addresses,
 * and what comes from a listed address is a loop: ignored (8.2: "choose a
 * new identifier only once and thereafter ignore packets from the looping
 * source transport address ... to avoid a flood of BYE packets"). At most
 * one change per RTCP interval: addresses are cheap to forge. */
static void collision(rmp_src *m, uint64_t now, const rmp_addr *from) {
  uint64_t keep = (uint64_t)(10.0 * m->cfg.rtcp_interval_s * 1e6);
  int slot = -1, oldest = 0;
  for (int i = 0; i < RMP_SRC_CONFLICTS; i++) {
    if (m->conflicts[i].used && now - m->conflicts[i].last_us > keep) m->conflicts[i].used = false;
    if (m->conflicts[i].used && rmp_addr_equal(&m->conflicts[i].addr, from)) {
      m->conflicts[i].last_us = now;
      m->st.loops++;
      return;
    }
    if (!m->conflicts[i].used) slot = i;
    else if (m->conflicts[i].last_us < m->conflicts[oldest].last_us) oldest = i;
  }
  if (slot < 0) slot = oldest;
  m->conflicts[slot].used = true;
  m->conflicts[slot].addr = *from;
  m->conflicts[slot].last_us = now;
  if (m->collided && now - m->last_collision_us < (uint64_t)(m->cfg.rtcp_interval_s * 1e6)) {
    m->st.loops++;
    return;
  }
  m->collided = true;
  m->last_collision_us = now;
  uint32_t old = m->ssrc, r = old;
  /* A random one that is neither ours nor the peer's (counting up from
   * the last draw should the generator keep giving those). */
  for (int i = 0; r == old || (m->have_peer && r == m->st.peer_ssrc); i++)
    r = m->cfg.random && i < 8 ? (uint32_t)m->cfg.random(m->cfg.ud) : r + 1;
  uint8_t buf[RMP_SRC_RTCP_MAX];
  size_t n = m->rtcp_off ? 0 : build_bye(m, now, old, RMP_SRC_COLLISION_REASON, buf, sizeof buf);
  if (n) push_datagram(m, buf, n, &m->peer_rtcp);
  m->ssrc = r;
  m->sr_packets = m->sr_octets = 0;
  m->st.ssrc_collisions++;
  rmp_src_out *o = push(m, RMP_SRC_OUT_COLLISION);
  if (o) {
    o->old_ssrc = old;
    o->new_ssrc = r;
  }
}

/* The peer's SSRC check, shared by RTP and RTCP. Returns false (counted)
 * for an SSRC that is not the peer's. */
static bool peer_ssrc_ok(rmp_src *m, uint32_t ssrc) {
  if (!m->have_peer) {
    learn(m, ssrc);
    return true;
  }
  if (ssrc == m->st.peer_ssrc) return true;
  if (m->alive.gone) {
    /* After a drop (a killed peer's ICMP error, its silence, its BYE), a
     * new SSRC from its host is the peer restarted: taken at once. */
    forget(m, false);
    learn(m, ssrc);
    return true;
  }
  m->st.unknown_ssrc++;
  m->st.foreign++;
  return false;
}

int rmp_src_on_rtp(rmp_src *m, uint64_t now, const uint8_t *buf, size_t len, const rmp_addr *from,
                   rmp_src_pkt *pkt) {
  if (!m->open) return RMP_SRC_CLOSED;
  rmp_rtp_header *h = &pkt->h;
  if (rmp_rtp_parse(buf, len, h) < 0) {
    count_bad(m, from);
    return acceptable(m, from) ? RMP_SRC_MALFORMED : RMP_SRC_FOREIGN;
  }
  if (h->ssrc == m->ssrc && m->cfg.is_own && m->cfg.is_own(m->cfg.ud, RMP_SRC_RTP, from)) {
    m->st.loops++;
    return RMP_SRC_LOOP;
  }
  if (!acceptable(m, from)) {
    m->st.foreign++;
    return RMP_SRC_FOREIGN;
  }
  if (h->payload_type != m->cfg.payload_type) {
    m->st.malformed++;
    return RMP_SRC_MALFORMED;
  }
  lock_source(m, from);
  if (h->ssrc == m->ssrc) {
    collision(m, now, from);
    return RMP_SRC_COLLISION;
  }
  if (!peer_ssrc_ok(m, h->ssrc)) return RMP_SRC_UNKNOWN_SSRC;
  rmp_alive_heard(&m->alive, now);
  m->sent_since_heard = false;
  m->have_rtp = true;
  m->last_rtp_us = now;
  if (m->rtcp_error) {
    /* its RTCP port bounced, its RTP goes on: a peer without RTCP */
    m->rtcp_error = false;
    m->st.rtcp_unreachable++;
    m->rtcp_off = true;
  }
  if (!m->cfg.peer_port && !m->have_peer_rtcp && from->port < 65535) {
    /* Receive only: reports go to the port above its RTP port (6.1
     * convention) until its own RTCP says where it is. */
    m->peer_rtcp = rmp_addr_with_port(*from, (uint16_t)(from->port + 1));
    m->have_peer_rtcp = true;
  }
  m->st.packets_received++;
  m->st.bytes_received += h->payload_len;
  int r = rmp_seq_receive(&m->seq, h->sequence, h->timestamp, now, m->cfg.clock_rate, &pkt->ext_seq);
  pkt->release = m->seq.release;
  pkt->n_release = 0;
  pkt->held_slot = m->seq.held_slot;
  pkt->undo = m->seq.undo;
  pkt->undo_last = m->seq.undo_last;
  if (r == RMP_SEQ_PROBATION) return RMP_SRC_SEQ_WAIT;
  if (r == RMP_SEQ_HELD || r == RMP_SEQ_BAD) return RMP_SRC_HELD;
  if (r == RMP_SEQ_HELD_DUP) return RMP_SRC_HELD_DUP;
  pkt->n_release = m->seq.n_release;
  return r == RMP_SEQ_RESYNC ? RMP_SRC_RESYNC : RMP_SRC_ACCEPT;
}

/* ---- RTCP receiving ---- */

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void copy_item(char *dst, const rmp_rtcp_sdes_item_t *it) {
  memcpy(dst, it->data, it->len); /* len <= 255, dst holds 256 */
  dst[it->len] = '\0';
}

static void on_report_block(rmp_src *m, uint64_t now, const rmp_rtcp_rb_t *rb) {
  rmp_src_report rr;
  rr.ext_highest_seq = rb->ext_highest_seq;
  rr.fraction_lost = rb->fraction_lost;
  rr.cumulative_lost = rb->cumulative_lost;
  rr.jitter = rb->jitter;
  rr.rtt_ms = -1;
  if (rb->lsr) {
    /* 6.4.1: RTT = A - LSR - DLSR, A the arrival time in the middle 32
     * bits of NTP. */
    uint32_t a = rmp_ntp_mid32(rmp_ntp_from_unix_us(wall_us(m, now))), rtt;
    if (rmp_rtcp_rtt(a, rb->lsr, rb->dlsr, &rtt) == 0) {
      rr.rtt_ms = (double)rtt * 1000.0 / 65536.0;
    } else {
      /* On a fast link the three roundings can make A - LSR a hair smaller
       * than DLSR: that is a round trip of about zero. */
      int32_t d = (int32_t)(a - rb->lsr - rb->dlsr);
      if (d < 0 && d > -8) rr.rtt_ms = 0;
    }
  }
  if (rr.rtt_ms >= 0) m->st.rtt_ms = rr.rtt_ms;
  m->st.remote_fraction_lost = rb->fraction_lost;
  m->st.remote_lost = rb->cumulative_lost;
  m->st.remote_jitter = rb->jitter;
  /* A compound may carry many blocks about us: when the outbox runs short,
   * the newest replaces the last one queued (the others keep their room). */
  if (m->out_n >= RMP_SRC_OUT_MAX - 3) {
    rmp_src_out *last = &m->out[(m->out_head + m->out_n - 1) % RMP_SRC_OUT_MAX];
    if (m->out_n && last->kind == RMP_SRC_OUT_REPORT) last->report = rr;
    else m->st.events_lost++;
    return;
  }
  rmp_src_out *o = push(m, RMP_SRC_OUT_REPORT);
  if (o) o->report = rr;
}

void rmp_src_on_rtcp(rmp_src *m, uint64_t now, const uint8_t *buf, size_t len, const rmp_addr *from) {
  if (!m->open) return;
  if (rmp_rtcp_validate_compound(buf, len) < 0) {
    count_bad(m, from);
    return;
  }
  /* The first packet is an SR or RR: its SSRC is the sender's. */
  uint32_t sender = be32(buf + 4);
  if (sender == m->ssrc && m->cfg.is_own && m->cfg.is_own(m->cfg.ud, RMP_SRC_RTCP, from)) {
    m->st.loops++;
    return;
  }
  if (!acceptable(m, from)) {
    m->st.foreign++;
    return;
  }
  lock_source(m, from);
  if (sender == m->ssrc) {
    collision(m, now, from);
    return;
  }
  if (m->have_peer && sender == m->st.peer_ssrc && m->have_rtcp_from &&
      !rmp_addr_equal(from, &m->rtcp_from) && !m->alive.gone) {
    /* The peer's RTCP comes from one socket; another port of its host is
     * not it (a forged SR, report, SDES or BYE). After a drop a restarted
     * peer may come from a new one. */
    m->st.foreign++;
    return;
  }
  if (!peer_ssrc_ok(m, sender)) return;
  if (!m->have_rtcp_from || m->alive.gone) {
    m->rtcp_from = *from;
    m->have_rtcp_from = true;
    if (!m->cfg.peer_port && from->port) {
      /* Receive only: reports go back where the peer's first came from. */
      m->peer_rtcp = *from;
      m->have_peer_rtcp = true;
    }
  }
  rmp_alive_heard(&m->alive, now);
  m->sent_since_heard = false;
  m->rtcp_off = false; /* it has an RTCP port after all */
  m->heard_rtcp = true;
  m->rtcp_error = false;
  m->st.rtcp_received++;
  m->avg_rtcp_size = rmp_rtcp_avg_size(m->avg_rtcp_size, len + UDP_IP_OVERHEAD);
  rmp_rtcp_iter_t it;
  rmp_rtcp_hdr_t hd;
  rmp_rtcp_iter_init(&it, buf, len);
  while (rmp_rtcp_iter_next(&it, &hd) > 0) {
    switch (hd.pt) {
    case RMP_RTCP_SR:
    case RMP_RTCP_RR: {
      rmp_rtcp_report_t r;
      if (rmp_rtcp_parse_report(&hd, &r) < 0) {
        m->st.malformed++;
        return;
      }
      if (r.ssrc != sender) break;
      if (r.is_sr) {
        m->last_sr_mid = rmp_ntp_mid32(r.si.ntp);
        m->last_sr_us = now;
      }
      for (unsigned i = 0; i < r.n_rb; i++) {
        if (r.rb[i].ssrc == m->ssrc) on_report_block(m, now, &r.rb[i]);
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
        if (ssrc != sender) continue;
        if (item.type == RMP_SDES_CNAME) copy_item(m->st.peer_cname, &item);
        else if (item.type == RMP_SDES_TOOL) copy_item(m->st.peer_tool, &item);
      }
      if (k < 0) {
        m->st.malformed++;
        return;
      }
      break;
    }
    case RMP_RTCP_BYE: {
      rmp_rtcp_bye_t bye;
      if (rmp_rtcp_parse_bye(&hd, &bye) < 0) {
        m->st.malformed++;
        return;
      }
      bool ours = false;
      for (unsigned i = 0; i < bye.n_ssrc; i++) ours |= bye.ssrc[i] == sender;
      if (!ours) break;
      char reason[256] = "";
      if (bye.has_reason) {
        memcpy(reason, bye.reason, bye.reason_len);
        reason[bye.reason_len] = '\0';
      }
      forget(m, false);
      /* A peer that left an SSRC after a collision (8.2) goes on with a new
       * one: that is not a drop. */
      if (strcmp(reason, RMP_SRC_COLLISION_REASON) != 0) rmp_src_drop(m, "bye", reason);
      return;
    }
    default:
      break; /* APP and unknown types: walked over by their length */
    }
  }
}

/* ---- errors and time ---- */

/* Whether dest is where channel's socket sends to the peer: its RTP
 * address, or its RTCP one (its host while no port is known). */
static bool peer_dest(const rmp_src *m, int channel, const rmp_addr *dest) {
  const rmp_addr *to = channel == RMP_SRC_RTCP && m->have_peer_rtcp ? &m->peer_rtcp : &m->peer;
  return to->port ? rmp_addr_equal(dest, to) : rmp_addr_same_host(dest, to);
}

void rmp_src_on_error(rmp_src *m, uint64_t now, int channel, const rmp_addr *dest, const char *detail) {
  if (!m->open) return;
  if (dest && !peer_dest(m, channel, dest)) {
    /* About a datagram we never sent: the ICMP error quotes another
     * destination. Anyone can send us ICMP (its source is not checked, nor
     * need it be spoofed): one naming any address dropped the session
     * (hostile LAN). The forger must now name the peer's exact address. */
    m->st.foreign_errors++;
    return;
  }
  if (m->have_peer && !m->sent_since_heard && !m->alive.gone) {
    /* About a datagram sent before the peer was last heard: it bounced
     * while the peer restarted, and the peer is back. */
    m->st.stale_errors++;
    return;
  }
  if (channel == RMP_SRC_RTCP && m->have_peer && m->have_rtp && !m->heard_rtcp && !m->alive.gone &&
      now - m->last_rtp_us < m->cfg.timeout_us) {
    /* Its RTCP port is closed while its RTP flowed (issue 18: peers
     * without RTCP, e.g. MIDIMonster's direct mode; or a peer just
     * killed): its RTP within the grace tells which (rtp_source.h). A
     * peer whose RTCP we heard had that port: an error for it is the
     * peer gone (killed, restarted), a drop at once. */
    if (!m->rtcp_error) {
      m->rtcp_error = true;
      m->rtcp_error_at = now;
      snprintf(m->rtcp_error_detail, sizeof m->rtcp_error_detail, "%s", detail ? detail : "");
    }
    return;
  }
  m->rtcp_error = false;
  rmp_src_drop(m, "network", detail);
}

bool rmp_src_hold_deadline(const rmp_src *m, uint64_t *at) {
  return m->open && m->have_peer && rmp_seq_hold_deadline(&m->seq, at);
}

bool rmp_src_hold_expire(rmp_src *m, uint64_t now, const rmp_seq_release **rel, unsigned *n) {
  if (!m->open || !m->have_peer || !rmp_seq_hold_expire(&m->seq, now)) return false;
  *rel = m->seq.release;
  *n = m->seq.n_release;
  return true;
}

uint64_t rmp_src_held_duplicates(const rmp_src *m) { return m->st.held_duplicates + m->seq.held_duplicates; }
uint64_t rmp_src_reordered(const rmp_src *m) { return m->st.held_reordered + m->seq.reordered; }
uint64_t rmp_src_held_dropped(const rmp_src *m) { return m->st.held_dropped + m->seq.held_dropped; }

void rmp_src_tick(rmp_src *m, uint64_t now) {
  if (!m->open) return;
  if (m->rtcp_error && now >= m->rtcp_error_at + RMP_SRC_RTCP_GRACE_US) {
    /* no RTP since its RTCP port bounced: gone */
    m->rtcp_error = false;
    rmp_src_drop(m, "network", m->rtcp_error_detail);
  }
  if (rmp_alive_expired(&m->alive, now)) {
    char detail[96];
    snprintf(detail, sizeof detail, "nothing from the peer for %g s", (double)m->cfg.timeout_us / 1e6);
    /* Whatever it sent meanwhile is lost. */
    forget(m, true);
    push_drop(m, "timeout", detail);
  }
  if (now >= m->report_at) {
    send_report(m, now);
    m->rtcp_initial = false;
    schedule(m, now);
  }
}

bool rmp_src_next_deadline(const rmp_src *m, uint64_t *at) {
  if (!m->open) return false;
  uint64_t t = m->report_at, a;
  if (rmp_alive_deadline(&m->alive, &a) && a < t) t = a;
  if (m->rtcp_error && m->rtcp_error_at + RMP_SRC_RTCP_GRACE_US < t) t = m->rtcp_error_at + RMP_SRC_RTCP_GRACE_US;
  *at = t;
  return true;
}

/* ---- sending and queries ---- */

uint32_t rmp_src_ssrc(const rmp_src *m) { return m->ssrc; }

const rmp_addr *rmp_src_rtp_dest(const rmp_src *m) { return &m->peer; }

void rmp_src_sent_rtp(rmp_src *m, size_t len) {
  m->sent_since_heard = true;
  m->st.packets_sent++;
  m->st.bytes_sent += len;
  m->sr_packets++;
  m->sr_octets += (uint32_t)len;
  m->sent_since_report = true;
}

void rmp_src_count_malformed(rmp_src *m) { m->st.malformed++; }

const rmp_src_stats *rmp_src_get_stats(const rmp_src *m) { return &m->st; }

uint32_t rmp_src_jitter(const rmp_src *m) { return rmp_seq_jitter_value(&m->seq); }
