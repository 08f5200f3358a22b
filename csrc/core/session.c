/* An RTP session on libuv (RFC 3550): two endpoints (RTP and RTCP), one
 * timer, the reorder buffer, and the calls into the source machine
 * (csrc/proto/rtp_source.h), which makes every protocol decision: source
 * and SSRC checks, loops and collisions, the timeout, RTCP.
 *
 * Receive path: endpoint -> rmp_src_on_rtp (parse, loop, source, SSRC,
 * A.1 sequence: the configured peer's first packet is accepted at once) ->
 * rmp_jb -> on_rtp. A packet that is the next expected one is delivered
 * straight from the runtime's receive buffer; only a packet that must wait
 * is copied. What the machine decides besides (datagrams to send, the peer
 * forgotten, drops, receiver reports) waits in its outbox and is handled by
 * drain(), in order. */
#include "session_internal.h"
#include "slack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* At most this many datagrams per socket are read before a timeout is
 * decided (on_timer): a stopped process finds up to its socket buffer. */
#define RMC_READ_BEFORE_TIMEOUT 4096u

/* Marks "the datagram in the receive buffer" (s->cur) in the jitter buffer. */
static char in_place;

typedef struct rmc_pkt {
  uint64_t arrival;  /* held copies: when it came */
  uint16_t seq;      /* held copies: its number */
  uint32_t ts;
  bool marker;
  size_t len;
  uint8_t data[];
} rmc_pkt;


static uint64_t unix_us(void) {
  uv_timeval64_t tv;
  if (uv_gettimeofday(&tv)) return 0;
  return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

/* When the datagram being handled arrived: the datagrams of a burst read
 * with recvmmsg were all in the socket when it returned (runtime.c). */
static uint64_t arrival_us(const rtpmidi_session *s) {
  return s->rt->batch_udp ? s->rt->burst_us : rmc_now_us();
}

static void release(rtpmidi_session *s) {
  if (!s->freed || s->open_handles) return;
  rmc_runtime_leave(&s->member);
  free(s->peer_address);
  free(s->tool_name);
  free(s->bind_address);
  free(s->cname);
  if (s->slots != s->jb.inl) free(s->slots);
  free(s);
}

static char *default_cname(void) {
  char host[256] = "localhost", user[128] = "rtpmidi", buf[400];
  size_t n = sizeof host;
  uv_os_gethostname(host, &n);
  uv_passwd_t pw;
  if (uv_os_get_passwd(&pw) == 0) {
    snprintf(user, sizeof user, "%s", pw.username);
    uv_os_free_passwd(&pw);
  }
  snprintf(buf, sizeof buf, "%s@%s", user, host);
  buf[255] = '\0'; /* an SDES item holds 255 octets */
  return rmc_dup_str(buf);
}

/* ---- what the machine asks of the runtime ---- */

/* 64 random bits for the machine (a new SSRC, the RTCP interval). No
 * secrecy is asked of it: a generator (splitmix64) seeded once per thread
 * from the system saves the getrandom system call each report would make. */
static uint64_t machine_random(void *ud) {
  (void)ud;
  static _Thread_local uint64_t x;
  while (!x) rmc_random(&x, sizeof x);
  uint64_t z = (x += 0x9E3779B97F4A7C15u);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  return z ^ (z >> 31);
}

static bool machine_is_own(void *ud, int channel, const rmp_addr *from) {
  rtpmidi_session *s = ud;
  return rmc_endpoint_is_own(channel == RMP_SRC_RTCP ? s->rtcp : s->rtp, from);
}

/* rtpmidi_runtime_free (runtime.h): no callbacks, then stopped for good. */
static void session_close(void *owner) {
  rtpmidi_session *s = owner;
  rtpmidi_session_stop(s);
  s->inert = true;
}

int rmc_session_new(rtpmidi_runtime *rt, const rtpmidi_session_config *cfg,
                    const rtpmidi_session_events *ev, void *ud,
                    rtpmidi_session **out, const char **err) {
  static const char *dummy;
  if (!err) err = &dummy;
  *err = NULL;
  if (!cfg->peer_address || !cfg->peer_address[0]) { *err = "peer_address"; return UV_EINVAL; }
  if (cfg->bind_address && !rmc_bind_reach(cfg->bind_address)) { *err = "bind_address"; return UV_EINVAL; }
  if (cfg->sending_port < 0 || cfg->sending_port > 65535) { *err = "sending_port"; return UV_EINVAL; }
  if (cfg->receiving_port < 0 || cfg->receiving_port > 65535) { *err = "receiving_port"; return UV_EINVAL; }
  if (cfg->jitter_buffer_packets == 1 || cfg->jitter_buffer_packets > 32768) {
    *err = "jitter_buffer_packets";
    return UV_EINVAL;
  }
  if (!cfg->sending_port && !cfg->receiving_port) { *err = "sending_port"; return UV_EINVAL; }
  if (cfg->payload_type < 0 || cfg->payload_type > 127) { *err = "payload"; return UV_EINVAL; }
  if (!(cfg->jitter_buffer_ms >= 0) || cfg->jitter_buffer_ms > 60000) { *err = "jitter_buffer_size"; return UV_EINVAL; }
  if (!(cfg->rtcp_interval >= 0) || cfg->rtcp_interval > 3600) { *err = "rtcp_interval"; return UV_EINVAL; }
  if (!(cfg->timeout >= 0) || cfg->timeout > 86400) { *err = "timeout"; return UV_EINVAL; }
  if (cfg->tool_name && strlen(cfg->tool_name) > 255) { *err = "tool_name"; return UV_EINVAL; }
  if (cfg->cname && (strlen(cfg->cname) > 255 || !cfg->cname[0])) { *err = "cname"; return UV_EINVAL; }
  rtpmidi_session *s = calloc(1, sizeof *s);
  if (!s) return UV_ENOMEM;
  s->cfg = *cfg;
  if (!s->cfg.jitter_buffer_packets) s->cfg.jitter_buffer_packets = RMC_JB_CAPACITY;
  s->peer_address = rmc_dup_str(cfg->peer_address);
  s->tool_name = rmc_dup_str(cfg->tool_name ? cfg->tool_name : "rtpmidi");
  s->bind_address = rmc_dup_str(cfg->bind_address);
  s->cname = cfg->cname ? rmc_dup_str(cfg->cname) : default_cname();
  if (!s->peer_address || !s->tool_name || (cfg->bind_address && !s->bind_address) || !s->cname) {
    s->freed = true;
    release(s);
    return UV_ENOMEM;
  }
  s->cfg.peer_address = s->peer_address;
  s->cfg.tool_name = s->tool_name;
  s->cfg.bind_address = s->bind_address;
  s->cfg.cname = s->cname;
  if (!s->cfg.clock_rate) s->cfg.clock_rate = 10000;
  if (!(s->cfg.rtcp_interval > 0)) s->cfg.rtcp_interval = 5.0;
  if (!(s->cfg.timeout > 0)) {
    s->cfg.timeout = 5 * s->cfg.rtcp_interval;
    if (s->cfg.timeout < 25) s->cfg.timeout = 25;
  }
  if (ev) s->ev = *ev;
  s->ud = ud;
  s->rt = rt;
  uint32_t r[3];
  rmc_random(r, sizeof r);
  s->seq = cfg->fixed_start_sequence ? cfg->start_sequence : (uint16_t)r[0];
  rmp_src_config mc = {
    .ssrc = r[2],
    .ts_offset = r[1],
    .clock_rate = s->cfg.clock_rate,
    .payload_type = (uint8_t)s->cfg.payload_type,
    .peer_port = (uint16_t)s->cfg.sending_port,
    .accept_any_source = s->cfg.accept_any_source,
    .timeout_us = (uint64_t)(s->cfg.timeout * 1e6),
    /* A packet that jumps ahead waits for its successor as long as one
     * after a gap waits in the reorder buffer (rtp_seq.h). */
    .hold_us = (uint64_t)(s->cfg.jitter_buffer_ms * 1000.0),
    .rtcp_interval_s = s->cfg.rtcp_interval,
    .cname = s->cname,
    .tool = s->tool_name,
    .random = machine_random,
    .is_own = machine_is_own,
    .ud = s,
  };
  rmp_src_init(&s->src, &mc);
  rmc_runtime_join(rt, &s->member, s, &s->ev, sizeof s->ev, &s->freed, session_close);
  *out = s;
  return 0;
}

/* ---- the timer ---- */

static void on_timer_closed(uv_handle_t *h) {
  rmc_timer *t = h->data;
  rtpmidi_session *s = t->owner;
  free(t);
  s->open_handles--;
  release(s);
}

static int open_timer(rtpmidi_session *s) {
  rmc_timer *t = calloc(1, sizeof *t);
  if (!t) return UV_ENOMEM;
  int r = uv_timer_init(s->rt->loop, &t->timer);
  if (r) { free(t); return r; }
  t->owner = s;
  t->timer.data = t;
  s->open_handles++;
  s->timer = t;
  s->armed = false;
  return 0;
}

static void close_timer(rtpmidi_session *s) {
  rmc_timer *t = s->timer;
  if (!t) return;
  s->timer = NULL;
  s->armed = false;
  uv_close((uv_handle_t *)&t->timer, on_timer_closed);
}

static void on_timer(uv_timer_t *h);

static uint64_t ms_until(uint64_t at, uint64_t base) {
  return at > base ? (at - base + 999) / 1000 : 0;
}

/* Arms the timer for the earliest of the machine's deadline (RTCP report,
 * timeout: these may run a little late and share wakeups with other
 * sessions, slack.h) and the reorder buffer's or the held packet's (exact). A timer already
 * armed early enough is left alone: firing early costs a look, no more. */
static void schedule(rtpmidi_session *s) {
  if (!s->timer) return;
  uint64_t src_at = 0, jb_at = 0;
  bool hs = rmp_src_next_deadline(&s->src, &src_at);
  bool hj = s->jb.count && rmp_jb_next_deadline(&s->jb, &jb_at); /* empty: none */
  uint64_t hold_at;
  if (rmp_src_hold_deadline(&s->src, &hold_at) && (!hj || hold_at < jb_at)) {
    jb_at = hold_at; /* exact too: a held packet is one waiting for reordering */
    hj = true;
  }
  if (s->armed && (!hs || src_at >= s->armed_src_at) && (!hj || jb_at >= s->armed_fire_us)) return;
  if (!hs && !hj) {
    uv_timer_stop(&s->timer->timer);
    s->armed = false;
    return;
  }
  /* The loop's clock is cached: refresh it so that the timer does not fire
   * early, and count from it, the clock the timer runs on. */
  uv_loop_t *loop = s->rt->loop;
  uv_update_time(loop);
  uint64_t now_ms = uv_now(loop), base = now_ms * 1000, ms = UINT64_MAX;
  if (hs) ms = rmc_slack_ms(loop, ms_until(src_at, base));
  if (hj && ms_until(jb_at, base) < ms) ms = ms_until(jb_at, base);
  s->armed = true;
  s->armed_fire_us = (now_ms + ms) * 1000;
  s->armed_src_at = hs ? src_at : UINT64_MAX;
  uv_timer_start(&s->timer->timer, on_timer, ms, 0);
}

/* ---- receiving: the reorder buffer ---- */

static void deliver(rtpmidi_session *s, const rmp_jb_out_t *o) {
  bool recovery = o->lost_before > 0 || s->pending_recovery;
  s->pending_recovery = false;
  s->delivering_seq = (uint16_t)o->e.ext_seq;
  if (o->e.data == &in_place) {
    if (s->ev.on_rtp) s->ev.on_rtp(s->ud, s->cur.ts, s->cur.payload, s->cur.len, recovery, s->cur.marker);
  } else {
    rmc_pkt *p = o->e.data;
    if (s->ev.on_rtp) s->ev.on_rtp(s->ud, p->ts, p->data, p->len, recovery, p->marker);
    free(p);
  }
}

/* Releases what is due. Returns false when a callback stopped the session. */
static bool release_due(rtpmidi_session *s, uint64_t now_us) {
  unsigned gen = s->gen;
  rmp_jb_out_t o;
  while (rmp_jb_pop(&s->jb, now_us, &o)) {
    deliver(s, &o);
    if (gen != s->gen) return false;
  }
  return true;
}

/* Everything buffered goes out now, gaps declared lost (stop, resync, the
 * peer forgotten). With deliver_them false the packets are freed instead
 * (the session is being freed). */
static void flush_jb(rtpmidi_session *s, bool deliver_them) {
  rmp_jb_out_t o;
  while (rmp_jb_flush(&s->jb, &o)) {
    if (deliver_them) deliver(s, &o);
    else if (o.e.data != &in_place) free(o.e.data);
  }
  rmp_jb_reset(&s->jb);
}

static void free_held(rtpmidi_session *s) {
  for (unsigned i = 0; i < RMP_SRC_HOLD_SLOTS; i++) {
    free(s->held[i]);
    s->held[i] = NULL;
  }
  s->n_held = 0;
}

/* Into the reorder buffer, and what is due out. Returns false when a
 * callback stopped the session. data (not in_place) is freed when the
 * buffer does not take it. */
static bool push_pkt(rtpmidi_session *s, uint32_t ext, uint64_t arrival, uint64_t now, void *data) {
  int pr = rmp_jb_push(&s->jb, ext, arrival, data);
  if (pr == RMP_EJB_FULL) {
    /* Far ahead: release what the window leaves behind, then try again. */
    if (!release_due(s, now)) {
      if (data != &in_place) free(data);
      return false;
    }
    pr = rmp_jb_push(&s->jb, ext, arrival, data);
  }
  if (pr < 0) {
    if (data != &in_place) free(data); /* duplicate or late: counted by the buffer */
    return true;
  }
  return release_due(s, now);
}

/* The copy kept of a held packet that counts now (NULL when there is none:
 * out of memory when it came). */
static rmc_pkt *take_held(rtpmidi_session *s, const rmp_seq_release *r) {
  rmc_pkt *p = r->slot < RMP_SRC_HOLD_SLOTS ? s->held[r->slot] : NULL;
  if (!p) return NULL;
  s->held[r->slot] = NULL;
  s->n_held--;
  if (p->seq != (uint16_t)r->ext) {
    free(p); /* cannot happen: the machine and the slots go together */
    return NULL;
  }
  return p;
}

/* Held copies that count now, before (or after) the packet being handled.
 * Returns false when a callback stopped the session. */
static bool push_released(rtpmidi_session *s, const rmp_seq_release *rel, unsigned n, bool before,
                          uint64_t now) {
  unsigned gen = s->gen;
  for (unsigned i = 0; i < n; i++) {
    if (!rel[i].before != !before) continue;
    rmc_pkt *p = take_held(s, &rel[i]);
    if (p && (gen != s->gen || !push_pkt(s, rel[i].ext, p->arrival, now, p))) return false;
  }
  return gen == s->gen;
}

/* The jitter buffer's slots (4 KiB by default), made with the first RTP
 * packet: a session that only sends, or has heard nothing but RTCP yet,
 * does not pay for them. Until then the buffer is all zero, empty. At
 * size 0 (no wait) the buffer's own few slots do (jitter_buffer.h). */
static void reset_jb(rtpmidi_session *s) {
  rmp_jb_init(&s->jb, s->slots, s->cfg.jitter_buffer_packets, (uint64_t)(s->cfg.jitter_buffer_ms * 1000.0));
}

static int open_jb(rtpmidi_session *s) {
  s->slots = s->cfg.jitter_buffer_ms == 0 ? s->jb.inl : malloc(s->cfg.jitter_buffer_packets * sizeof *s->slots);
  if (!s->slots) return UV_ENOMEM;
  reset_jb(s);
  return 0;
}

/* ---- what the machine decided ---- */

/* Handles the machine's outbox in order, then re-arms the timer. Callbacks
 * may run; one that stops the session ends it. Made re-entrant safe: what
 * a callback adds (an ICMP error reported while sending) is handled by the
 * loop already running. */
static void drain(rtpmidi_session *s) {
  if (s->draining) return;
  unsigned gen = s->gen;
  s->draining = true;
  rmp_src_out o;
  while (gen == s->gen && rmp_src_poll(&s->src, &o)) {
    switch (o.kind) {
    case RMP_SRC_OUT_DATAGRAM:
      rmc_endpoint_send(s->rtcp, o.data, o.len, &o.to);
      break;
    case RMP_SRC_OUT_FORGET:
      /* What waits from the forgotten SSRC goes out first; what it had
       * held was never confirmed. The next SSRC numbers afresh. */
      free_held(s);
      flush_jb(s, true);
      if (gen == s->gen && o.recovery) s->pending_recovery = true;
      if (gen == s->gen && s->ev.on_resync) s->ev.on_resync(s->ud, -1);
      break;
    case RMP_SRC_OUT_DROP:
      if (s->ev.on_drop) s->ev.on_drop(s->ud, o.reason, o.detail);
      break;
    case RMP_SRC_OUT_REPORT:
      if (s->ev.on_receiver_report) {
        rtpmidi_receiver_report rr = {
          .ext_highest_seq = o.report.ext_highest_seq,
          .fraction_lost = o.report.fraction_lost,
          .cumulative_lost = o.report.cumulative_lost,
          .jitter = o.report.jitter,
          .rtt_ms = o.report.rtt_ms,
        };
        s->ev.on_receiver_report(s->ud, &rr);
      }
      break;
    default:
      break; /* a collision: the machine counted it and said BYE */
    }
  }
  if (gen != s->gen) return; /* stopped: the flag went with the old run */
  s->draining = false;
  schedule(s);
}

static void on_timer(uv_timer_t *h) {
  rtpmidi_session *s = ((rmc_timer *)h->data)->owner;
  s->armed = false;
  uint64_t now = rmc_now_us();
  if (!release_due(s, now)) return;
  const rmp_seq_release *rel;
  unsigned nrel;
  uint64_t due;
  if (rmp_alive_deadline(&s->src.alive, &due) && now >= due) {
    /* A timeout is due: what the peer sent may be waiting in the sockets
     * (this process was stopped, the loop was busy; timers run before the
     * loop polls). Read it first: a packet from the peer re-arms it. */
    unsigned gen = s->gen;
    rmc_endpoint_read_pending(s->rtp, RMC_READ_BEFORE_TIMEOUT);
    if (gen != s->gen) return;
    rmc_endpoint_read_pending(s->rtcp, RMC_READ_BEFORE_TIMEOUT);
    if (gen != s->gen) return;
    now = rmc_now_us();
  }
  while (rmp_src_hold_expire(&s->src, now, &rel, &nrel)) {
    /* Nothing confirmed a packet held: taken now, on trust (rtp_seq.h). */
    rmp_seq_release r[RMP_SRC_HOLD_SLOTS];
    memcpy(r, rel, nrel * sizeof *r);
    if (!push_released(s, r, nrel, true, now) || !push_released(s, r, nrel, false, now)) return;
  }
  rmp_src_tick(&s->src, now);
  drain(s);
}

static bool push_cur(rtpmidi_session *s, const rmp_src_pkt *pkt, uint64_t now);

static void on_rtp_datagram(void *owner, rmc_endpoint *ep, const uint8_t *buf, size_t len,
                            const rmp_addr *from) {
  (void)ep;
  rtpmidi_session *s = owner;
  uint64_t now = arrival_us(s);
  unsigned gen = s->gen;
  /* A peer heard again after a drop has a timeout again: the one deadline
   * of the machine that a packet can bring forward. */
  bool was_gone = s->src.alive.gone;
  rmp_src_pkt pkt;
  int r = rmp_src_on_rtp(&s->src, now, buf, len, from, &pkt);
  /* A collision's BYE; a restarted peer's old packets delivered first. */
  if (s->src.out_n) {
    drain(s);
    if (gen != s->gen) return;
  }
  if (r == RMP_SRC_HELD_DUP) {
    s->held_dups++;
    return;
  }
  if (r == RMP_SRC_HELD) {
    /* Ahead of the next: a copy waits for what confirms it (rtp_seq.h). */
    const rmp_rtp_header *h = &pkt.h;
    rmc_pkt *p = malloc(sizeof *p + h->payload_len);
    unsigned slot = pkt.held_slot;
    if (s->held[slot]) {
      free(s->held[slot]);
      s->held[slot] = NULL;
      s->n_held--;
    }
    if (!p) return; /* out of memory: as if lost on the way */
    p->arrival = now;
    p->seq = h->sequence;
    p->ts = h->timestamp;
    p->marker = h->marker;
    p->len = h->payload_len;
    if (h->payload_len) memcpy(p->data, buf + h->payload_offset, h->payload_len);
    s->held[slot] = p;
    s->n_held++;
    schedule(s);
    return;
  }
  if (r < 0) return;
  if (!s->slots && open_jb(s)) return; /* out of memory: as if lost on the way */
  if (r == RMP_SRC_RESYNC) {
    /* The sender restarted its numbering (or a jump taken on trust was
     * undone): what waits goes out, and the numbers in between are
     * unknown. */
    flush_jb(s, true);
    if (gen != s->gen) return;
    s->pending_recovery = true;
    if (s->ev.on_resync) s->ev.on_resync(s->ud, pkt.undo ? (int32_t)pkt.undo_last : -1);
    if (gen != s->gen) return;
  }
  /* Packets held before, now confirmed: around this one, in order. The
   * list lives in the machine: copy it (callbacks may call into it). */
  rmp_seq_release rel[RMP_SRC_HOLD_SLOTS];
  unsigned nrel = pkt.n_release;
  if (nrel) memcpy(rel, pkt.release, nrel * sizeof *rel);
  if (nrel && !push_released(s, rel, nrel, true, now)) return;
  const rmp_rtp_header *h = &pkt.h;
  s->cur.payload = buf + h->payload_offset;
  s->cur.len = h->payload_len;
  s->cur.ts = h->timestamp;
  s->cur.marker = h->marker;
  /* Nothing waits and this one need not: straight out, no copy, no slot
   * (rmp_jb_pass: the next one, or any one at size 0). */
  rmp_jb_out_t o;
  if (rmp_jb_pass(&s->jb, pkt.ext_seq, now, &in_place, &o)) {
    deliver(s, &o);
    if (gen != s->gen) return;
  } else if (!push_cur(s, &pkt, now)) {
    return;
  }
  if (nrel && !push_released(s, rel, nrel, false, now)) return;
  s->cur.payload = NULL;
  /* Per packet, only what may need the timer earlier: a packet waiting in
   * the buffer, a timeout armed again. */
  if (!s->armed || s->jb.count || was_gone) schedule(s);
}

/* The packet being handled (s->cur) into the reorder buffer, and what is
 * due out. Returns false when a callback stopped the session, or it was
 * dropped (out of memory). */
static bool push_cur(rtpmidi_session *s, const rmp_src_pkt *pkt, uint64_t now) {
  const rmp_rtp_header *h = &pkt->h;
  /* The next expected packet (or any packet when nothing may wait) leaves
   * in this call: no copy. (jb.started/next_seq are read, never written.) */
  bool direct = !s->jb.started || pkt->ext_seq == s->jb.next_seq || s->jb.wait_us == 0;
  void *data = &in_place;
  if (!direct) {
    rmc_pkt *p = malloc(sizeof *p + h->payload_len);
    if (!p) { /* out of memory: as if lost on the way */
      s->cur.payload = NULL;
      return false;
    }
    p->ts = h->timestamp;
    p->marker = h->marker;
    p->len = h->payload_len;
    if (h->payload_len) memcpy(p->data, s->cur.payload, h->payload_len);
    data = p;
  }
  return push_pkt(s, pkt->ext_seq, now, now, data);
}

static void on_rtcp_datagram(void *owner, rmc_endpoint *ep, const uint8_t *buf, size_t len,
                             const rmp_addr *from) {
  (void)ep;
  rtpmidi_session *s = owner;
  rmp_src_on_rtcp(&s->src, arrival_us(s), buf, len, from);
  drain(s);
}

/* A socket error: ICMP port or host unreachable for a datagram we sent, or
 * a queued datagram the system refused. */
static void on_endpoint_error(void *owner, rmc_endpoint *ep, int err, const rmp_addr *dest) {
  rtpmidi_session *s = owner;
  if (!s->ready || s->stopping) return;
  char detail[128];
  snprintf(detail, sizeof detail, "%s: %s", uv_err_name(err), uv_strerror(err));
  rmp_src_on_error(&s->src, rmc_now_us(), ep == s->rtcp ? RMP_SRC_RTCP : RMP_SRC_RTP, dest, detail);
  drain(s);
}

static const rmc_endpoint_ops rtp_ops = {on_rtp_datagram, on_endpoint_error};
static const rmc_endpoint_ops rtcp_ops = {on_rtcp_datagram, on_endpoint_error};

/* ---- sending ---- */

int rtpmidi_session_send(rtpmidi_session *s, const uint8_t *payload, size_t len,
                         uint32_t timestamp, bool marker) {
  if (s->started && !s->ready && s->resolving) return UV_EAGAIN;
  if (!s->ready || !s->cfg.sending_port) return UV_ENOTCONN;
  if (len > 65507 - RMP_RTP_HEADER_LEN) return UV_EMSGSIZE;
  uint8_t stackbuf[1500];
  size_t n = RMP_RTP_HEADER_LEN + len;
  uint8_t *pkt = n <= sizeof stackbuf ? stackbuf : malloc(n);
  if (!pkt) return UV_ENOMEM;
  rmp_rtp_write_header(pkt, (uint8_t)s->cfg.payload_type, marker, s->seq, timestamp, rmp_src_ssrc(&s->src));
  if (len) memcpy(pkt + RMP_RTP_HEADER_LEN, payload, len);
  int r = rmc_endpoint_send(s->rtp, pkt, n, rmp_src_rtp_dest(&s->src));
  if (pkt != stackbuf) free(pkt);
  if (r < 0) return r;
  s->seq++;
  rmp_src_sent_rtp(&s->src, len);
  return 0;
}

uint16_t rtpmidi_session_next_seq(const rtpmidi_session *s) { return s->seq; }

uint16_t rtpmidi_session_delivering_seq(const rtpmidi_session *s) { return s->delivering_seq; }

/* ---- start and stop ---- */

static void close_all(rtpmidi_session *s) {
  s->send_errors_base += rmc_endpoint_send_errors(s->rtp) + rmc_endpoint_send_errors(s->rtcp);
  s->send_dropped_base += rmc_endpoint_send_dropped(s->rtp) + rmc_endpoint_send_dropped(s->rtcp);
  /* Closing flushes what the runtime queued, ours included, first. */
  rmc_endpoint_close(s->rtp);
  rmc_endpoint_close(s->rtcp);
  s->rtp = s->rtcp = NULL;
  close_timer(s);
  if (s->resolving) {
    /* Its callback still runs (UV_ECANCELED or late), notices it is no
     * longer current, and frees it. */
    uv_cancel((uv_req_t *)&s->resolving->req);
    s->resolving = NULL;
  }
  rmp_src_close(&s->src);
  s->ready = false;
}

static int open_all(rtpmidi_session *s, const rmp_addr *peer) {
  /* The sockets are of the peer's family; a bind address must reach it
   * ("::" reaches both). */
  int family = peer->family;
  int reach = rmc_bind_reach(s->bind_address);
  if (!reach) return UV_EINVAL;
  if (!rmc_reaches(reach, peer)) return UV_EAFNOSUPPORT;
  /* The RTP socket listens on receiving_port (or an ephemeral port for a
   * send-only session, so the peer's replies and ICMP errors still reach
   * us); RTCP on the port above it (ephemeral for a send-only session). */
  int rport = s->cfg.receiving_port;
  int r = rmc_endpoint_open(s->rt, s->bind_address, family, rport, &rtp_ops, s, &s->rtp);
  if (!r)
    r = rmc_endpoint_open(s->rt, s->bind_address, family, rport && rport < 65535 ? rport + 1 : 0,
                          &rtcp_ops, s, &s->rtcp);
  if (!r) r = open_timer(s);
  if (r) { close_all(s); return r; }
  s->ready = true;
  rmp_src_open(&s->src, rmc_now_us(), peer, unix_us());
  schedule(s);
  return 0;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  rmc_resolve *rq = req->data;
  rtpmidi_session *s = rq->owner;
  rmp_addr peer;
  bool pick = status == 0 && rmc_pick_addr(res, rmc_bind_reach(s->bind_address), &peer) == 0;
  if (s->resolving == rq && !s->freed) {
    s->resolving = NULL;
    char detail[300];
    if (!pick) {
      snprintf(detail, sizeof detail, "cannot resolve host: %s: %s", s->peer_address,
               uv_strerror(status ? status : UV_EAI_ADDRFAMILY));
      rmp_src_drop(&s->src, "network", detail);
    } else {
      int r = open_all(s, &peer);
      if (r) {
        snprintf(detail, sizeof detail, "cannot open the sockets: %s: %s", uv_err_name(r), uv_strerror(r));
        rmp_src_drop(&s->src, "network", detail);
      }
    }
    /* The request still counts (open_handles): on_drop may free the session. */
    drain(s);
  }
  uv_freeaddrinfo(res);
  free(rq);
  /* Counted until here: a drop above may free the session (its callback
   * calls rtpmidi_session_free), which must not release it under us. */
  s->open_handles--;
  release(s);
}

int rtpmidi_session_start(rtpmidi_session *s) {
  if (s->inert) return UV_ENOTCONN;
  if (s->freed || s->stopping) return UV_EINVAL;
  if (s->started) return 0;
  if (s->slots) reset_jb(s);
  s->pending_recovery = false;
  s->cur.payload = NULL;
  s->draining = false;
  rmp_addr peer;
  if (rmc_addr_parse(s->peer_address, 0, &peer) == 0) {
    int r = open_all(s, &peer);
    if (r) return r;
    s->started = true;
    return 0;
  }
  /* A host name: resolve without blocking the loop; the sockets open when
   * the answer comes (a failure reaches on_drop as "network"). */
  rmc_resolve *rq = calloc(1, sizeof *rq);
  if (!rq) return UV_ENOMEM;
  rq->owner = s;
  rq->req.data = rq;
  /* a bound address decides the family the peer must have */
  int r = rmc_resolve_host(s->rt->loop, &rq->req, on_resolved, s->peer_address,
                           rmc_bind_reach(s->bind_address));
  if (r) { free(rq); return r; }
  s->resolving = rq;
  s->open_handles++;
  s->started = true;
  return 0;
}

void rtpmidi_session_stop(rtpmidi_session *s) {
  if (!s->started || s->stopping) return;
  s->stopping = true;
  s->gen++;
  if (s->ready) {
    /* The BYE joins what the runtime queued (for every session); closing
     * the endpoints below sends all of it first. */
    uint8_t buf[RMP_SRC_RTCP_MAX];
    rmp_addr to;
    size_t n = rmp_src_bye(&s->src, rmc_now_us(), "session stopped", buf, sizeof buf, &to);
    if (n) rmc_endpoint_send(s->rtcp, buf, n, &to);
  }
  /* What waits is delivered now (callbacks may run): packets held ahead
   * whose wait would run out with nothing else heard (rtp_seq.h) join the
   * jitter buffer, then it is flushed. */
  const rmp_seq_release *rel;
  unsigned nrel;
  while (s->slots && rmp_src_hold_expire(&s->src, UINT64_MAX, &rel, &nrel)) {
    for (unsigned i = 0; i < nrel; i++) {
      rmc_pkt *p = take_held(s, &rel[i]);
      if (p && rmp_jb_push(&s->jb, rel[i].ext, p->arrival, p) < 0) free(p);
    }
  }
  free_held(s);
  flush_jb(s, true);
  s->jb_base.lost += s->jb.stats.lost;
  s->jb_base.duplicate += s->jb.stats.duplicate;
  s->jb_base.late += s->jb.stats.late;
  s->jb_base.reordered += s->jb.stats.reordered;
  memset(&s->jb.stats, 0, sizeof s->jb.stats);
  close_all(s);
  s->started = false;
  s->stopping = false;
}

bool rtpmidi_session_started(const rtpmidi_session *s) { return s->started; }

uint32_t rtpmidi_session_media_time(const rtpmidi_session *s) {
  double ticks = rtpmidi_now_ms() * (double)s->cfg.clock_rate / 1000.0;
  return s->src.cfg.ts_offset + (uint32_t)(uint64_t)ticks;
}

void rtpmidi_session_get_stats(const rtpmidi_session *s, rtpmidi_session_stats *st) {
  const rmp_src_stats *m = rmp_src_get_stats(&s->src);
  memset(st, 0, sizeof *st);
  st->packets_sent = m->packets_sent;
  st->bytes_sent = m->bytes_sent;
  st->packets_received = m->packets_received;
  st->bytes_received = m->bytes_received;
  st->malformed = m->malformed;
  st->foreign = m->foreign;
  st->ssrc = rmp_src_ssrc(&s->src);
  st->peer_ssrc = m->peer_ssrc;
  st->rtcp_sent = m->rtcp_sent;
  st->rtcp_received = m->rtcp_received;
  st->ssrc_collisions = m->ssrc_collisions;
  st->loops = m->loops;
  st->unknown_ssrc = m->unknown_ssrc;
  st->rtcp_unreachable = m->rtcp_unreachable;
  st->foreign_errors = m->foreign_errors + rmc_endpoint_foreign_icmp(s->rtp) + rmc_endpoint_foreign_icmp(s->rtcp);
  st->rtt_ms = m->rtt_ms;
  st->have_peer_ssrc = m->have_peer_ssrc;
  st->remote_fraction_lost = m->remote_fraction_lost;
  st->remote_lost = m->remote_lost;
  st->remote_jitter_ms = (double)m->remote_jitter * 1000.0 / (double)s->cfg.clock_rate;
  memcpy(st->peer_cname, m->peer_cname, sizeof st->peer_cname);
  memcpy(st->peer_tool, m->peer_tool, sizeof st->peer_tool);
  st->send_errors = s->send_errors_base + rmc_endpoint_send_errors(s->rtp) + rmc_endpoint_send_errors(s->rtcp);
  st->send_dropped = s->send_dropped_base + rmc_endpoint_send_dropped(s->rtp) + rmc_endpoint_send_dropped(s->rtcp);
  st->lost = s->jb_base.lost + s->jb.stats.lost;
  st->duplicate = s->jb_base.duplicate + s->jb.stats.duplicate + s->held_dups;
  st->late = s->jb_base.late + s->jb.stats.late;
  st->reordered = s->jb_base.reordered + s->jb.stats.reordered + rmp_src_reordered(&s->src);
  st->jitter_ms = (double)rmp_src_jitter(&s->src) * 1000.0 / (double)s->cfg.clock_rate;
}

void rtpmidi_session_count_malformed(rtpmidi_session *s) { rmp_src_count_malformed(&s->src); }

int rtpmidi_session_local_port(const rtpmidi_session *s) { return rmc_endpoint_port(s->rtp); }

void rtpmidi_session_free(rtpmidi_session *s) {
  if (!s || s->freed) return;
  /* No callbacks from here on: what waits in the jitter buffer is freed. */
  memset(&s->ev, 0, sizeof s->ev);
  s->ud = NULL;
  rtpmidi_session_stop(s);
  flush_jb(s, false);
  free_held(s);
  s->freed = true;
  release(s);
}
