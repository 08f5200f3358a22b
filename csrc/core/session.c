/* An RTP session on libuv (RFC 3550): sockets, sending, receiving through
 * sequence tracking and the jitter buffer, source and SSRC checks, drops.
 * RTCP lives in session_rtcp.c.
 *
 * Receive path: socket -> parse -> loop check -> source check -> SSRC check
 * -> rmp_seq (A.1, min_sequential 1: the configured peer's first packet is
 * accepted at once, so nothing is lost to probation) -> rmp_jb -> on_rtp.
 * A packet that is the next expected one is delivered straight from the
 * runtime's receive buffer; only a packet that must wait is copied. */
#include "session_internal.h"
#include "rtp.h"
#include "slack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <netinet/in.h>
#include <sys/socket.h>
#endif

/* Marks "the datagram in the receive buffer" (s->cur) in the jitter buffer. */
static char in_place;

typedef struct rmc_pkt {
  uint32_t ts;
  bool marker;
  size_t len;
  uint8_t data[];
} rmc_pkt;

uint64_t rmc_now_us(void) { return uv_hrtime() / 1000u; }

static char *dup_str(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static void release(rtpmidi_session *s) {
  if (!s->freed || s->open_handles) return;
  free(s->peer_address);
  free(s->tool_name);
  free(s->bind_address);
  free(s->cname);
  free(s->slots);
  free(s);
}

void rmc_runtime_unlink(rtpmidi_runtime *rt, rtpmidi_session *s) {
  for (rtpmidi_session **p = &rt->sessions; *p; p = &(*p)->next) {
    if (*p == s) { *p = s->next; return; }
  }
}

static int literal_addr(const char *host, int port, struct sockaddr_storage *out) {
  memset(out, 0, sizeof *out);
  if (uv_ip4_addr(host, port, (struct sockaddr_in *)out) == 0) return 0;
  if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)out) == 0) return 0;
  return UV_EINVAL;
}

static void set_port(struct sockaddr_storage *a, int port) {
  if (a->ss_family == AF_INET) ((struct sockaddr_in *)a)->sin_port = htons((uint16_t)port);
  else ((struct sockaddr_in6 *)a)->sin6_port = htons((uint16_t)port);
}

static int get_port(const struct sockaddr *a) {
  if (a->sa_family == AF_INET) return ntohs(((const struct sockaddr_in *)a)->sin_port);
  if (a->sa_family == AF_INET6) return ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
  return 0;
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
  return dup_str(buf);
}

int rtpmidi_session_new(rtpmidi_runtime *rt, const rtpmidi_session_config *cfg,
                        const rtpmidi_session_events *ev, void *ud,
                        rtpmidi_session **out, const char **err) {
  static const char *dummy;
  if (!err) err = &dummy;
  *err = NULL;
  if (!cfg->peer_address || !cfg->peer_address[0]) { *err = "peer_address"; return UV_EINVAL; }
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
  s->peer_address = dup_str(cfg->peer_address);
  s->tool_name = dup_str(cfg->tool_name ? cfg->tool_name : "rtpmidi");
  s->bind_address = dup_str(cfg->bind_address);
  s->cname = cfg->cname ? dup_str(cfg->cname) : default_cname();
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
  s->ts_offset = r[1];
  s->ssrc = r[2];
  s->st.rtt_ms = -1;
  s->next = rt->sessions;
  rt->sessions = s;
  *out = s;
  return 0;
}

/* ---- handles ---- */

static void on_handle_closed(uv_handle_t *h) {
  rmc_handle *u = h->data;
  rtpmidi_session *s = u->owner;
  free(u);
  if (s) {
    s->open_handles--;
    release(s);
  }
}

static void close_handle(rmc_handle **slot) {
  rmc_handle *u = *slot;
  if (!u) return;
  *slot = NULL;
  if (uv_handle_get_type(&u->u.h) == UV_UDP) {
    /* Stopped inside its own burst: libuv makes no UV_UDP_MMSG_FREE call
     * then. (rtpmidi_session_stop flushed the queue with its BYE.) */
    if (u->owner) rmc_burst_forget(u->owner->rt, &u->u.udp);
    uv_udp_recv_stop(&u->u.udp);
  }
  uv_close(&u->u.h, on_handle_closed);
}

static int open_timer(rtpmidi_session *s, rmc_handle **slot) {
  rmc_handle *u = calloc(1, sizeof *u);
  if (!u) return UV_ENOMEM;
  int r = uv_timer_init(s->rt->loop, &u->u.timer);
  if (r) { free(u); return r; }
  u->owner = s;
  u->u.h.data = u;
  s->open_handles++;
  *slot = u;
  return 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  rmc_handle *u = h->data;
  if (!u->owner) { buf->base = NULL; buf->len = 0; return; }
  buf->base = u->owner->rt->recv_buffer;
  buf->len = sizeof u->owner->rt->recv_buffer;
}

static int open_udp(rtpmidi_session *s, int port, uv_udp_recv_cb cb, rmc_handle **slot) {
  rmc_handle *u = calloc(1, sizeof *u);
  if (!u) return UV_ENOMEM;
  int r = uv_udp_init_ex(s->rt->loop, &u->u.udp, AF_UNSPEC | UV_UDP_RECVMMSG);
  if (r) { free(u); return r; }
  u->owner = s;
  u->u.h.data = u;
  s->open_handles++;
  *slot = u;
  struct sockaddr_storage local;
  const char *bind = s->bind_address;
  if (!bind) bind = s->peer.ss_family == AF_INET6 ? "::" : "0.0.0.0";
  r = literal_addr(bind, port, &local);
  if (!r && local.ss_family != s->peer.ss_family) r = UV_EAFNOSUPPORT;
  if (!r) r = uv_udp_bind(&u->u.udp, (const struct sockaddr *)&local, 0);
  if (!r) {
    /* Room for bursts (a SysEx dump, a busy loop turn): ask for 1 MiB each
     * way; the kernel may give less, which is fine. */
    int size = 1 << 20;
    uv_recv_buffer_size(&u->u.h, &size);
    size = 1 << 20;
    uv_send_buffer_size(&u->u.h, &size);
#ifdef __linux__
    /* ICMP errors (port unreachable) reach an unconnected UDP socket only
     * with IP_RECVERR: they come back as ECONNREFUSED from recv or send. */
    uv_os_fd_t fd;
    if (uv_fileno(&u->u.h, &fd) == 0) {
      int on = 1;
      if (local.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof on);
      else setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof on);
    }
#endif
  }
  if (!r) r = uv_udp_recv_start(&u->u.udp, on_alloc, cb);
  if (r) close_handle(slot);
  return r;
}

void rmc_drain_errors(rmc_handle *sock) {
#ifdef __linux__
  /* The error queue would otherwise keep the socket readable forever. */
  uv_os_fd_t fd;
  if (!sock || uv_fileno(&sock->u.h, &fd)) return;
  char data[256], control[512];
  for (int i = 0; i < 64; i++) {
    struct iovec iov = {data, sizeof data};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    if (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) break;
  }
#else
  (void)sock;
#endif
}

/* ---- drops and the peer ---- */

static void idle_arm(rtpmidi_session *s);

void rmc_drop(rtpmidi_session *s, const char *reason, const char *detail) {
  if (s->peer_gone) return;
  s->peer_gone = true;
  if (s->idle_timer) uv_timer_stop(&s->idle_timer->u.timer);
  if (s->ev.on_drop) s->ev.on_drop(s->ud, reason, detail ? detail : "");
}

void rmc_heard(rtpmidi_session *s, uint64_t now) {
  s->last_heard_us = now;
  if (s->peer_gone) {
    s->peer_gone = false;
    idle_arm(s);
  }
}

static void on_idle_timer(uv_timer_t *t) {
  rmc_handle *u = t->data;
  rtpmidi_session *s = u->owner;
  if (!s || s->peer_gone) return;
  uint64_t limit = (uint64_t)(s->cfg.timeout * 1e6);
  if (rmc_now_us() - s->last_heard_us + 500 >= limit) {
    char detail[96];
    snprintf(detail, sizeof detail, "nothing from the peer for %g s", s->cfg.timeout);
    unsigned gen = s->gen;
    rmc_forget_peer(s);
    if (gen != s->gen) return;
    s->pending_recovery = true; /* whatever it sent meanwhile is lost */
    rmc_drop(s, "timeout", detail);
  } else {
    idle_arm(s);
  }
}

static void idle_arm(rtpmidi_session *s) {
  if (!s->idle_timer) return;
  uint64_t limit = (uint64_t)(s->cfg.timeout * 1e6), now = rmc_now_us();
  uint64_t due = s->last_heard_us + limit;
  uint64_t ms = due > now ? (due - now + 999) / 1000 : 0;
  /* Many sessions' timeouts share wakeups (slack.h): at most 1/16 later. */
  uv_timer_start(&s->idle_timer->u.timer, on_idle_timer, rmc_slack_ms(s->rt->loop, ms), 0);
}

void rmc_net_error(rtpmidi_session *s, rmc_handle *sock, int err) {
  rmc_drain_errors(sock);
  if (!s->ready) return;
  char detail[128];
  snprintf(detail, sizeof detail, "%s: %s", uv_err_name(err), uv_strerror(err));
  rmc_drop(s, "network", detail);
}

static bool same_host(const struct sockaddr *a, const struct sockaddr_storage *b) {
  if (a->sa_family != b->ss_family) return false;
  if (a->sa_family == AF_INET)
    return ((const struct sockaddr_in *)a)->sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
  if (a->sa_family == AF_INET6)
    return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
  return false;
}

bool rmc_source_ok(rtpmidi_session *s, const struct sockaddr *addr) {
  if (!s->cfg.accept_any_source) return same_host(addr, &s->peer);
  if (!s->src_locked) {
    /* NAT: the first source that reaches us becomes the peer. */
    if (addr->sa_family != s->peer.ss_family) return false;
    memset(&s->src, 0, sizeof s->src);
    memcpy(&s->src, addr, addr->sa_family == AF_INET ? sizeof(struct sockaddr_in)
                                                     : sizeof(struct sockaddr_in6));
    s->src_locked = true;
    if (!s->cfg.sending_port) {
      /* Replies go back where it came from. */
      memcpy(&s->peer, &s->src, sizeof s->peer);
    } else {
      int port = get_port((const struct sockaddr *)&s->peer);
      memcpy(&s->peer, &s->src, sizeof s->peer);
      set_port(&s->peer, port);
      if (s->have_peer_rtcp) {
        memcpy(&s->peer_rtcp, &s->src, sizeof s->peer_rtcp);
        set_port(&s->peer_rtcp, port < 65535 ? port + 1 : 0);
      }
    }
    return true;
  }
  return same_host(addr, &s->src);
}

static bool is_local_host(const struct sockaddr *a) {
  if (a->sa_family == AF_INET) {
    uint32_t ip = ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr);
    if ((ip >> 24) == 127) return true;
  } else if (a->sa_family == AF_INET6) {
    static const uint8_t lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    if (!memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, lo, 16)) return true;
  } else {
    return false;
  }
  /* Rare (our SSRC seen on the wire): asking the system is fine. */
  uv_interface_address_t *ifs;
  int n;
  bool found = false;
  if (uv_interface_addresses(&ifs, &n) == 0) {
    for (int i = 0; i < n && !found; i++) {
      struct sockaddr_storage ss;
      memset(&ss, 0, sizeof ss);
      memcpy(&ss, &ifs[i].address, sizeof ifs[i].address);
      found = same_host(a, &ss);
    }
    uv_free_interface_addresses(ifs, n);
  }
  return found;
}

bool rmc_is_own_address(const struct sockaddr *addr, rmc_handle *sock) {
  if (!sock) return false;
  struct sockaddr_storage me;
  int n = sizeof me;
  if (uv_udp_getsockname(&sock->u.udp, (struct sockaddr *)&me, &n)) return false;
  if (get_port(addr) != get_port((struct sockaddr *)&me)) return false;
  return is_local_host(addr);
}

void rmc_own_ssrc(rtpmidi_session *s, const struct sockaddr *addr, rmc_handle *from) {
  if (rmc_is_own_address(addr, from)) {
    s->st.loops++; /* our own packet came back: drop it */
    return;
  }
  /* Somebody else chose our SSRC (8.2): say BYE for it and take another. */
  uint32_t old = s->ssrc, r;
  do rmc_random(&r, sizeof r); while (r == old || (s->have_peer && r == s->st.peer_ssrc));
  rmc_rtcp_send_bye(s, old, "SSRC collision");
  s->ssrc = r;
  s->sr_packets = s->sr_octets = 0;
  s->st.ssrc_collisions++;
}

/* ---- sending ---- */

typedef struct rmc_send_req {
  uv_udp_send_t req;
  uint8_t data[];
} rmc_send_req;

static void on_sent(uv_udp_send_t *req, int status) {
  (void)status;
  free(req);
}

int rmc_send_after(rtpmidi_session *s, rmc_handle *sock, const uint8_t *buf, size_t len,
                   const struct sockaddr *to, int r) {
  uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
  if (r == UV_ECONNREFUSED || r == UV_EHOSTUNREACH || r == UV_ENETUNREACH) {
    /* An ICMP error from an earlier datagram, reported now: it was read. */
    unsigned gen = s->gen;
    rmc_net_error(s, sock, r);
    if (gen != s->gen || !s->ready) return UV_ENOTCONN;
    r = uv_udp_try_send(&sock->u.udp, &b, 1, to);
  }
  if (r == UV_EAGAIN) {
    /* The socket is busy: libuv sends a copy when it can. */
    rmc_send_req *req = malloc(sizeof *req + len);
    if (!req) return UV_ENOMEM;
    memcpy(req->data, buf, len);
    b = uv_buf_init((char *)req->data, (unsigned)len);
    r = uv_udp_send(&req->req, &sock->u.udp, &b, 1, to, on_sent);
    if (r) free(req);
  }
  if (r < 0) s->st.send_errors++;
  return r < 0 ? r : 0;
}

int rmc_send_now(rtpmidi_session *s, rmc_handle *sock, const uint8_t *buf, size_t len,
                 const struct sockaddr *to) {
  uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
  return rmc_send_after(s, sock, buf, len, to, uv_udp_try_send(&sock->u.udp, &b, 1, to));
}

/* A queued datagram that did not leave in a batch (runtime.c). */
static void send_single(uv_udp_t *udp, const uint8_t *buf, size_t len, const struct sockaddr *to,
                        int first) {
  rmc_handle *sock = udp->data;
  rtpmidi_session *s = sock->owner;
  if (!s) return;
  int r = first ? rmc_send_after(s, sock, buf, len, to, first) : rmc_send_now(s, sock, buf, len, to);
  /* Its sender was told "sent": the error reaches it as a drop. */
  if (r < 0 && r != UV_ENOTCONN) rmc_net_error(s, sock, r);
}

int rmc_send(rtpmidi_session *s, rmc_handle *sock, const uint8_t *buf, size_t len,
             const struct sockaddr *to) {
  unsigned gen = s->gen;
  if (rmc_sendq_add(s->rt, &sock->u.udp, send_single, buf, len, to)) return 0;
  /* A full queue was flushed first: a callback of that may have stopped us. */
  if (gen != s->gen) return UV_ENOTCONN;
  return rmc_send_now(s, sock, buf, len, to);
}

int rtpmidi_session_send(rtpmidi_session *s, const uint8_t *payload, size_t len,
                         uint32_t timestamp, bool marker) {
  if (s->started && !s->ready && s->resolving) return UV_EAGAIN;
  if (!s->ready || !s->cfg.sending_port) return UV_ENOTCONN;
  if (len > 65507 - RMP_RTP_HEADER_LEN) return UV_EMSGSIZE;
  uint8_t stackbuf[1500];
  size_t n = RMP_RTP_HEADER_LEN + len;
  uint8_t *pkt = n <= sizeof stackbuf ? stackbuf : malloc(n);
  if (!pkt) return UV_ENOMEM;
  rmp_rtp_write_header(pkt, (uint8_t)s->cfg.payload_type, marker, s->seq, timestamp, s->ssrc);
  if (len) memcpy(pkt + RMP_RTP_HEADER_LEN, payload, len);
  int r = rmc_send(s, s->rtp, pkt, n, (const struct sockaddr *)&s->peer);
  if (pkt != stackbuf) free(pkt);
  if (r < 0) return r;
  s->seq++;
  s->st.packets_sent++;
  s->st.bytes_sent += len;
  s->sr_packets++;
  s->sr_octets += (uint32_t)len;
  s->sent_since_report = true;
  return 0;
}

uint16_t rtpmidi_session_next_seq(const rtpmidi_session *s) { return s->seq; }

uint16_t rtpmidi_session_delivering_seq(const rtpmidi_session *s) { return s->delivering_seq; }

/* ---- receiving ---- */

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

/* Everything buffered goes out now, gaps declared lost (stop, resync). With
 * deliver false the packets are freed instead (the session is being freed). */
static void flush_jb(rtpmidi_session *s, bool deliver_them) {
  rmp_jb_out_t o;
  while (rmp_jb_flush(&s->jb, &o)) {
    if (deliver_them) deliver(s, &o);
    else if (o.e.data != &in_place) free(o.e.data);
  }
  rmp_jb_reset(&s->jb);
}

static void on_jb_timer(uv_timer_t *t);

static void schedule_jb(rtpmidi_session *s) {
  if (!s->jb_timer) return;
  uint64_t deadline;
  if (!rmp_jb_next_deadline(&s->jb, &deadline)) {
    uv_timer_stop(&s->jb_timer->u.timer);
    return;
  }
  uint64_t now = rmc_now_us();
  uint64_t ms = deadline > now ? (deadline - now + 999) / 1000 : 0;
  /* The loop's clock is cached and rounded down: refresh it so that the
   * timer does not fire early. */
  uv_update_time(s->rt->loop);
  uv_timer_start(&s->jb_timer->u.timer, on_jb_timer, ms, 0);
}

static void on_jb_timer(uv_timer_t *t) {
  rmc_handle *u = t->data;
  rtpmidi_session *s = u->owner;
  if (!s) return;
  if (release_due(s, rmc_now_us())) schedule_jb(s);
}

void rmc_forget_peer(rtpmidi_session *s) {
  flush_jb(s, true);
  s->have_peer = false;
  s->st.have_peer_ssrc = false;
  rmp_seq_init(&s->seq_in, 1);
  s->last_sr_mid = 0;
  if (s->jb_timer) uv_timer_stop(&s->jb_timer->u.timer);
}

/* The jitter buffer's slots (4 KiB by default), made with the first RTP
 * packet: a session that only sends, or has heard nothing but RTCP yet,
 * does not pay for them. Until then the buffer is all zero, empty. */
static void reset_jb(rtpmidi_session *s) {
  rmp_jb_init(&s->jb, s->slots, s->cfg.jitter_buffer_packets, (uint64_t)(s->cfg.jitter_buffer_ms * 1000.0));
}

static int open_jb(rtpmidi_session *s) {
  s->slots = malloc(s->cfg.jitter_buffer_packets * sizeof *s->slots);
  if (!s->slots) return UV_ENOMEM;
  reset_jb(s);
  return 0;
}

static void rtp_input(rtpmidi_session *s, const rmp_rtp_header *h, const uint8_t *payload,
                      uint64_t now) {
  if (!s->slots && open_jb(s)) return; /* out of memory: as if lost on the way */
  uint32_t ext;
  int r = rmp_seq_receive(&s->seq_in, h->sequence, h->timestamp, now, s->cfg.clock_rate, &ext);
  if (r == RMP_SEQ_PROBATION || r == RMP_SEQ_BAD) return; /* A.1: waits for a second one */
  unsigned gen = s->gen;
  if (r == RMP_SEQ_RESYNC) {
    /* The sender restarted its numbering: what waits goes out, and the
     * numbers in between are unknown. */
    flush_jb(s, true);
    if (gen != s->gen) return;
    s->pending_recovery = true;
  }
  s->cur.payload = payload;
  s->cur.len = h->payload_len;
  s->cur.ts = h->timestamp;
  s->cur.marker = h->marker;
  /* The next expected packet (or any packet when nothing may wait) leaves
   * in this call: no copy. (jb.started/next_seq are read, never written.) */
  bool direct = !s->jb.started || ext == s->jb.next_seq || s->jb.wait_us == 0;
  void *data = &in_place;
  if (!direct) {
    rmc_pkt *p = malloc(sizeof *p + h->payload_len);
    if (!p) return; /* out of memory: as if lost on the way */
    p->ts = h->timestamp;
    p->marker = h->marker;
    p->len = h->payload_len;
    if (h->payload_len) memcpy(p->data, payload, h->payload_len);
    data = p;
  }
  int pr = rmp_jb_push(&s->jb, ext, now, data);
  if (pr == RMP_EJB_FULL) {
    /* Far ahead: release what the window leaves behind, then try again. */
    if (!release_due(s, now)) {
      if (data != &in_place) free(data);
      return;
    }
    pr = rmp_jb_push(&s->jb, ext, now, data);
  }
  if (pr < 0) {
    if (data != &in_place) free(data); /* duplicate or late: counted by the buffer */
  } else if (!release_due(s, now)) {
    return;
  }
  s->cur.payload = NULL;
  schedule_jb(s);
}

static void on_rtp_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                        unsigned flags) {
  rmc_handle *u = h->data;
  rtpmidi_session *s = u->owner;
  if (!s) return;
  rtpmidi_runtime *rt = s->rt;
  if (!rmc_burst(rt, h, flags)) return;
  if (nread < 0) { rmc_net_error(s, u, (int)nread); return; }
  if (nread == 0 || !addr) return;
  if (flags & UV_UDP_PARTIAL) { s->st.malformed++; return; }
  rmp_rtp_header hdr;
  const uint8_t *p = (const uint8_t *)buf->base;
  if (rmp_rtp_parse(p, (size_t)nread, &hdr) < 0) {
    if (rmc_source_ok(s, addr)) s->st.malformed++;
    else s->st.foreign++;
    return;
  }
  if (hdr.ssrc == s->ssrc && rmc_is_own_address(addr, u)) { s->st.loops++; return; }
  if (!rmc_source_ok(s, addr)) { s->st.foreign++; return; }
  if (hdr.payload_type != s->cfg.payload_type) { s->st.malformed++; return; }
  if (hdr.ssrc == s->ssrc) { rmc_own_ssrc(s, addr, u); return; }
  if (!s->have_peer) {
    s->have_peer = true;
    s->st.have_peer_ssrc = true;
    s->st.peer_ssrc = hdr.ssrc;
  } else if (hdr.ssrc != s->st.peer_ssrc) {
    s->st.unknown_ssrc++;
    s->st.foreign++;
    return;
  }
  uint64_t now = (flags & UV_UDP_MMSG_CHUNK) ? rt->burst_us : rmc_now_us();
  rmc_heard(s, now);
  if (!s->cfg.sending_port && !s->have_peer_rtcp) {
    int port = get_port(addr);
    rmc_rtcp_learn_peer(s, addr, port < 65535 ? port + 1 : 0);
  }
  s->st.packets_received++;
  s->st.bytes_received += hdr.payload_len;
  rtp_input(s, &hdr, p + hdr.payload_offset, now);
}

/* ---- start and stop ---- */

static void close_all(rtpmidi_session *s) {
  close_handle(&s->rtp);
  close_handle(&s->rtcp);
  close_handle(&s->jb_timer);
  close_handle(&s->rtcp_timer);
  close_handle(&s->idle_timer);
  if (s->resolving) {
    /* Its callback still runs (UV_ECANCELED or late), notices it is no
     * longer current, and frees it. */
    uv_cancel((uv_req_t *)&s->resolving->req);
    s->resolving = NULL;
  }
  s->ready = false;
}

static int open_all(rtpmidi_session *s) {
  s->peer_rtcp = s->peer;
  s->have_peer_rtcp = s->cfg.sending_port > 0 && s->cfg.sending_port < 65535;
  if (s->have_peer_rtcp) set_port(&s->peer_rtcp, s->cfg.sending_port + 1);
  /* The RTP socket listens on receiving_port (or an ephemeral port for a
   * send-only session, so the peer's replies and ICMP errors still reach
   * us); RTCP on the port above it (ephemeral for a send-only session). */
  int rport = s->cfg.receiving_port;
  int r = open_udp(s, rport, on_rtp_recv, &s->rtp);
  if (!r) r = open_udp(s, rport && rport < 65535 ? rport + 1 : 0, rmc_rtcp_on_recv, &s->rtcp);
  if (!r) r = open_timer(s, &s->jb_timer);
  if (!r) r = open_timer(s, &s->rtcp_timer);
  if (!r) r = open_timer(s, &s->idle_timer);
  if (r) { close_all(s); return r; }
  s->ready = true;
  s->last_heard_us = rmc_now_us();
  s->peer_gone = false;
  idle_arm(s);
  rmc_rtcp_start(s);
  return 0;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  rmc_resolve *rq = req->data;
  rtpmidi_session *s = rq->owner;
  const struct addrinfo *pick = NULL;
  for (const struct addrinfo *a = res; a && status == 0; a = a->ai_next) {
    if (a->ai_family == AF_INET) { pick = a; break; } /* IPv4 preferred */
    if (a->ai_family == AF_INET6 && !pick) pick = a;
  }
  if (s->resolving == rq && !s->freed) {
    s->resolving = NULL;
    char detail[300];
    if (!pick) {
      snprintf(detail, sizeof detail, "cannot resolve host: %s: %s", s->peer_address,
               uv_strerror(status ? status : UV_EAI_ADDRFAMILY));
      rmc_drop(s, "network", detail);
    } else {
      memset(&s->peer, 0, sizeof s->peer);
      memcpy(&s->peer, pick->ai_addr, pick->ai_addrlen);
      set_port(&s->peer, s->cfg.sending_port);
      int r = open_all(s);
      if (r) {
        snprintf(detail, sizeof detail, "cannot open the sockets: %s: %s", uv_err_name(r), uv_strerror(r));
        rmc_drop(s, "network", detail);
      }
    }
  }
  uv_freeaddrinfo(res);
  free(rq);
  /* Counted until here: a drop above may free the session (its callback
   * calls rtpmidi_session_free), which must not release it under us. */
  s->open_handles--;
  release(s);
}

int rtpmidi_session_start(rtpmidi_session *s) {
  if (s->freed || s->stopping) return UV_EINVAL;
  if (s->started) return 0;
  rmp_seq_init(&s->seq_in, 1);
  if (s->slots) reset_jb(s);
  s->have_peer = false;
  s->st.have_peer_ssrc = false;
  s->src_locked = false;
  s->pending_recovery = false;
  s->last_sr_mid = 0;
  s->cur.payload = NULL;
  if (literal_addr(s->peer_address, s->cfg.sending_port, &s->peer) == 0) {
    int r = open_all(s);
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
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  if (s->bind_address) {
    struct sockaddr_storage b;
    if (literal_addr(s->bind_address, 0, &b) == 0) hints.ai_family = b.ss_family;
  }
  int r = uv_getaddrinfo(s->rt->loop, &rq->req, on_resolved, s->peer_address, NULL, &hints);
  if (r) { free(rq); return r; }
  s->resolving = rq;
  s->open_handles++;
  s->started = true;
  s->peer_gone = false;
  return 0;
}

void rtpmidi_session_stop(rtpmidi_session *s) {
  if (!s->started || s->stopping) return;
  s->stopping = true;
  s->gen++;
  /* The BYE first sends what the runtime queued (for every session): no
   * datagram waits for a socket that closes below. */
  if (s->ready) rmc_rtcp_send_bye(s, s->ssrc, "session stopped");
  /* What waits in the jitter buffer is delivered now (callbacks may run). */
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
  return s->ts_offset + (uint32_t)(uint64_t)ticks;
}

void rtpmidi_session_get_stats(const rtpmidi_session *s, rtpmidi_session_stats *st) {
  *st = s->st;
  st->ssrc = s->ssrc;
  st->lost = s->jb_base.lost + s->jb.stats.lost;
  st->duplicate = s->jb_base.duplicate + s->jb.stats.duplicate;
  st->late = s->jb_base.late + s->jb.stats.late;
  st->reordered = s->jb_base.reordered + s->jb.stats.reordered;
  st->jitter_ms = (double)rmp_seq_jitter_value(&s->seq_in) * 1000.0 / (double)s->cfg.clock_rate;
}

void rtpmidi_session_count_malformed(rtpmidi_session *s) { s->st.malformed++; }

int rtpmidi_session_local_port(const rtpmidi_session *s) {
  if (!s->rtp) return 0;
  struct sockaddr_storage a;
  int n = sizeof a;
  if (uv_udp_getsockname(&s->rtp->u.udp, (struct sockaddr *)&a, &n)) return 0;
  return get_port((struct sockaddr *)&a);
}

void rtpmidi_session_free(rtpmidi_session *s) {
  if (!s || s->freed) return;
  /* No callbacks from here on: what waits in the jitter buffer is freed. */
  memset(&s->ev, 0, sizeof s->ev);
  s->ud = NULL;
  rtpmidi_session_stop(s);
  flush_jb(s, false);
  s->freed = true;
  rmc_runtime_unlink(s->rt, s);
  release(s);
}
