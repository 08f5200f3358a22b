/* An AppleMIDI session on libuv: the control port P and the data port P+1,
 * invitations both ways (IN/OK/NO with retries), clock sync (CK), receiver
 * feedback (RS), session end (BY), participant timeouts, and one timer that
 * serves every participant's deadlines. The MIDI payload is in
 * applemidi_midi.c.
 *
 * Lifetime: participants removed while a callback runs are only marked
 * AP_DEAD; the last callback to leave the session (busy == 0) frees them.
 * The session itself is freed once it is freed by its owner, no callback is
 * running and every handle went through its close callback. */
#include "applemidi_internal.h"
#include "slack.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEF_INVITE_TRIES 12
#define DEF_INVITE_INTERVAL 1500.0
#define DEF_CK_FAST_COUNT 6
#define DEF_CK_FAST_INTERVAL 1500.0
#define DEF_CK_INTERVAL 10000.0
#define DEF_TIMEOUT 60000.0
#define DEF_RS_INTERVAL 1000.0
#define DEF_GUARD 50.0
#define DEF_MAX_SYSEX (1u << 20)
#define DEF_MAX_PARTICIPANTS 32
#define DEF_INVITATIONS_PER_SECOND 20.0
#define DEF_JOURNAL_HISTORY 512u
#define MAX_JOURNAL_HISTORY 32767u

double rmc_ap_now(void) { return rtpmidi_now_ms(); }
uint64_t rmc_ap_clock(double now_ms) { return (uint64_t)(now_ms * 10.0); }

static char *dup_str(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

/* ---- lifetime ---- */

static void free_peer(ap_peer *p) {
  rmc_ap_peer_media_free(p);
  free(p);
}

static void sweep(rtpmidi_apple *a) {
  for (ap_peer **pp = &a->peers; *pp;) {
    ap_peer *p = *pp;
    if (p->state == AP_DEAD) {
      *pp = p->next;
      free_peer(p);
    } else {
      pp = &p->next;
    }
  }
}

static void release(rtpmidi_apple *a) {
  if (!a->freed || a->open_handles || a->busy) return;
  while (a->peers) {
    ap_peer *p = a->peers;
    a->peers = p->next;
    free_peer(p);
  }
  for (size_t i = 0; i < a->cfg.accept_count; i++) free(a->accept_list[i]);
  free(a->accept_list);
  free(a->name);
  free(a->bind_address);
  rmc_ap_midi_free(a);
  free(a);
}

static void enter(rtpmidi_apple *a) { a->busy++; }

static void leave(rtpmidi_apple *a) {
  if (--a->busy) return;
  sweep(a);
  if (a->freed) {
    release(a);
    return;
  }
  rmc_ap_schedule(a);
}

static void on_handle_closed(uv_handle_t *h) {
  ap_handle *u = h->data;
  rtpmidi_apple *a = u->owner;
  free(u);
  if (a) {
    a->open_handles--;
    release(a);
  }
}

static void close_handle(ap_handle **slot) {
  ap_handle *u = *slot;
  if (!u) return;
  *slot = NULL;
  if (uv_handle_get_type(&u->u.h) == UV_UDP) {
    /* Closed inside its own burst: libuv makes no UV_UDP_MMSG_FREE call. */
    if (u->owner) rmc_burst_forget(u->owner->rt, &u->u.udp);
    uv_udp_recv_stop(&u->u.udp);
  }
  uv_close(&u->u.h, on_handle_closed);
}

static ap_handle *new_handle(rtpmidi_apple *a) {
  ap_handle *u = calloc(1, sizeof *u);
  if (!u) return NULL;
  u->owner = a;
  u->u.h.data = u;
  return u;
}

/* ---- addresses ---- */

static void addr_name(const struct sockaddr *sa, char *out, size_t n) {
  out[0] = '\0';
  if (sa->sa_family == AF_INET) uv_ip4_name((const struct sockaddr_in *)sa, out, n);
  else if (sa->sa_family == AF_INET6) uv_ip6_name((const struct sockaddr_in6 *)sa, out, n);
}

static int addr_port(const struct sockaddr *sa) {
  if (sa->sa_family == AF_INET) return ntohs(((const struct sockaddr_in *)sa)->sin_port);
  if (sa->sa_family == AF_INET6) return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
  return 0;
}

static void set_port(struct sockaddr_storage *ss, int port) {
  if (ss->ss_family == AF_INET) ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
  else if (ss->ss_family == AF_INET6) ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

/* Whether a packet comes from a participant's host (any port). */
static bool from_host(const struct sockaddr *x, const struct sockaddr_storage *y) {
  if (x->sa_family != y->ss_family) return false;
  if (x->sa_family == AF_INET)
    return ((const struct sockaddr_in *)x)->sin_addr.s_addr == ((const struct sockaddr_in *)y)->sin_addr.s_addr;
  if (x->sa_family == AF_INET6)
    return memcmp(&((const struct sockaddr_in6 *)x)->sin6_addr, &((const struct sockaddr_in6 *)y)->sin6_addr,
                  sizeof(struct in6_addr)) == 0;
  return false;
}

static void copy_addr(struct sockaddr_storage *dst, const struct sockaddr *src) {
  memset(dst, 0, sizeof *dst);
  memcpy(dst, src, src->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
}

/* ---- sending ---- */

typedef struct ap_send_req {
  uv_udp_send_t req;
  uint8_t data[];
} ap_send_req;

static void on_sent(uv_udp_send_t *req, int status) {
  (void)status;
  free(req);
}

/* Sends now, after a first attempt that returned r: an ICMP error of an
 * earlier datagram (reported now, on this send) gets one more try; a busy
 * socket gets a copy that libuv sends when it can. */
static int send_after(rtpmidi_apple *a, ap_handle *sock, const uint8_t *buf, size_t len,
                      const struct sockaddr *to, int r) {
  uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
  if (r == UV_ECONNREFUSED || r == UV_EHOSTUNREACH || r == UV_ENETUNREACH)
    r = uv_udp_try_send(&sock->u.udp, &b, 1, to);
  if (r == UV_EAGAIN) {
    ap_send_req *req = malloc(sizeof *req + len);
    if (!req) {
      r = UV_ENOMEM;
    } else {
      memcpy(req->data, buf, len);
      b = uv_buf_init((char *)req->data, (unsigned)len);
      r = uv_udp_send(&req->req, &sock->u.udp, &b, 1, to, on_sent);
      if (r) free(req);
    }
  }
  if (r < 0) a->st.send_errors++;
  return r < 0 ? r : 0;
}

/* A queued datagram that did not leave in a batch (runtime.c): its sender
 * was told "sent", so an error is only counted (send_errors). */
static void send_single(uv_udp_t *udp, const uint8_t *buf, size_t len, const struct sockaddr *to,
                        int first) {
  ap_handle *sock = udp->data;
  if (!sock->owner) return;
  if (!first) {
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
    first = uv_udp_try_send(&sock->u.udp, &b, 1, to);
  }
  send_after(sock->owner, sock, buf, len, to, first);
}

int rmc_ap_send(rtpmidi_apple *a, ap_handle *sock, const uint8_t *buf, size_t len,
                const struct sockaddr_storage *to) {
  if (!sock) return UV_ENOTCONN;
  const struct sockaddr *sa = (const struct sockaddr *)to;
  /* Inside a burst being delivered: it leaves with the others at its end. */
  if (rmc_sendq_add(a->rt, &sock->u.udp, send_single, buf, len, sa)) return 0;
  /* A full queue was flushed first: a callback of that may have stopped us. */
  if (uv_is_closing(&sock->u.h)) return UV_ENOTCONN;
  uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
  return send_after(a, sock, buf, len, sa, uv_udp_try_send(&sock->u.udp, &b, 1, sa));
}

static void send_control(rtpmidi_apple *a, ap_handle *sock, const uint8_t *buf, int n,
                         const struct sockaddr_storage *to) {
  if (n <= 0) return;
  if (rmc_ap_send(a, sock, buf, (size_t)n, to) == 0) a->st.control_sent++;
}

static void send_invite_cmd(rtpmidi_apple *a, ap_handle *sock, uint16_t cmd, uint32_t token,
                            const struct sockaddr_storage *to) {
  uint8_t buf[RMP_AM_MAX_LEN];
  send_control(a, sock, buf, rmp_am_encode_invite(buf, sizeof buf, cmd, token, a->ssrc, a->name), to);
}

static void send_bye(rtpmidi_apple *a, ap_peer *p) {
  uint8_t buf[RMP_AM_INVITE_LEN];
  send_control(a, a->ctrl, buf, rmp_am_encode_bye(buf, sizeof buf, p->token, a->ssrc), &p->ctrl);
}

static void send_ck(rtpmidi_apple *a, ap_peer *p, uint8_t count, const uint64_t ts[3]) {
  uint8_t buf[RMP_AM_CK_LEN];
  send_control(a, a->data, buf, rmp_am_encode_ck(buf, sizeof buf, a->ssrc, count, ts), &p->data);
}

/* ---- participants ---- */

void rmc_ap_fill_peer(const ap_peer *p, rtpmidi_apple_peer *o) {
  memset(o, 0, sizeof *o);
  o->id = p->id;
  o->name = p->name;
  o->address = p->addr;
  o->port = p->port;
  o->ssrc = p->ssrc;
  o->initiator = p->initiator;
  o->synced = p->synced;
  o->latency_ms = p->latency_ms;
  o->offset_ms = p->offset_ms;
  o->ck_exchanges = p->ck_exchanges;
  o->rs_sent = p->rs_sent;
  o->rs_received = p->rs_received;
  rmc_ap_media_fill(p, o);
}

static ap_peer *new_peer(rtpmidi_apple *a, const struct sockaddr *ctrl, int ctrl_port) {
  ap_peer *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->id = ++a->next_id;
  copy_addr(&p->ctrl, ctrl);
  set_port(&p->ctrl, ctrl_port);
  p->data = p->ctrl;
  set_port(&p->data, ctrl_port + 1);
  p->port = ctrl_port;
  addr_name(ctrl, p->addr, sizeof p->addr);
  p->last_heard = rmc_ap_now();
  rmc_ap_peer_media_init(p);
  p->next = a->peers;
  a->peers = p;
  return p;
}

static ap_peer *find_ssrc(rtpmidi_apple *a, uint32_t ssrc) {
  for (ap_peer *p = a->peers; p; p = p->next)
    if (p->state != AP_DEAD && p->have_ssrc && p->ssrc == ssrc) return p;
  return NULL;
}

static ap_peer *find_invite(rtpmidi_apple *a, uint32_t token, ap_state state) {
  for (ap_peer *p = a->peers; p; p = p->next)
    if (p->state == state && p->initiator && p->token == token) return p;
  return NULL;
}

static void set_name(ap_peer *p, const rmp_am_invite *inv) {
  memcpy(p->name, inv->name, inv->name_len);
  p->name[inv->name_len] = '\0';
}

static void joined(rtpmidi_apple *a, ap_peer *p) {
  p->state = AP_CONNECTED;
  p->joined = true;
  p->tries = 0; /* from now on: CK rounds sent */
  p->last_heard = rmc_ap_now();
  if (a->ev.on_joined) {
    rtpmidi_apple_peer info;
    rmc_ap_fill_peer(p, &info);
    a->ev.on_joined(a->ud, &info);
  }
}

static void invite_failed(rtpmidi_apple *a, ap_peer *p, const char *reason) {
  p->state = AP_DEAD;
  if (a->ev.on_invite_failed) a->ev.on_invite_failed(a->ud, p->addr, p->port, reason);
}

static int start_invite(rtpmidi_apple *a, const struct sockaddr *to, int port);
static void cancel_resolves(rtpmidi_apple *a);

/* Removes p; a joined participant is reported as left. */
static void drop_peer(rtpmidi_apple *a, ap_peer *p, const char *reason) {
  if (p->state == AP_DEAD) return;
  bool was_joined = p->joined;
  p->state = AP_DEAD;
  if (was_joined && a->ev.on_left) {
    rtpmidi_apple_peer info;
    rmc_ap_fill_peer(p, &info);
    a->ev.on_left(a->ud, &info, reason);
  }
}

static bool accepted(rtpmidi_apple *a, const struct sockaddr *from) {
  if (a->cfg.accept == RTPMIDI_APPLE_ACCEPT_ANY) return true;
  if (a->cfg.accept == RTPMIDI_APPLE_ACCEPT_NONE) return false;
  char host[64];
  addr_name(from, host, sizeof host);
  for (size_t i = 0; i < a->cfg.accept_count; i++)
    if (strcmp(host, a->accept_list[i]) == 0) return true;
  return false;
}

/* ---- the protocol ---- */

/* Participants joined or on their way (not removed). */
static size_t live_peers(const rtpmidi_apple *a) {
  size_t n = a->nresolving; /* invitations to host names count from the start */
  for (const ap_peer *p = a->peers; p; p = p->next) n += p->state != AP_DEAD;
  return n;
}

/* One invitation from an unknown SSRC may be answered: takes a token of the
 * bucket (refilled at invitations_per_second, one second's worth at most). */
static bool take_invite_token(rtpmidi_apple *a) {
  double now = rmc_ap_now(), rate = a->cfg.invitations_per_second;
  double cap = rate < 1 ? 1 : rate;
  a->invite_tokens += (now - a->invite_refill_ms) * rate / 1000.0;
  if (a->invite_tokens > cap) a->invite_tokens = cap;
  a->invite_refill_ms = now;
  if (a->invite_tokens < 1) return false;
  a->invite_tokens -= 1;
  return true;
}

static void on_in(rtpmidi_apple *a, bool data_port, const rmp_am_invite *inv,
                  const struct sockaddr *from) {
  ap_handle *sock = data_port ? a->data : a->ctrl;
  struct sockaddr_storage to;
  copy_addr(&to, from);
  ap_peer *p = find_ssrc(a, inv->ssrc);
  /* A flood of invitations is neither answered nor remembered beyond the
   * rate (not even with NO: we do not reflect a flood). */
  if (!p && !take_invite_token(a)) {
    a->st.invitations_dropped++;
    return;
  }
  if (inv->version != RMP_AM_VERSION || !accepted(a, from) || inv->ssrc == a->ssrc ||
      (!p && live_peers(a) >= a->cfg.max_participants)) {
    send_invite_cmd(a, sock, RMP_AM_NO, inv->token, &to);
    a->st.invitations_refused++;
    return;
  }
  if (!p) {
    int port = addr_port(from);
    if (data_port) port--;
    p = new_peer(a, from, port);
    if (!p) return;
    p->ssrc = inv->ssrc;
    p->have_ssrc = true;
    p->token = inv->token;
    set_name(p, inv);
    p->state = AP_AWAIT_DATA;
  } else if (!p->initiator) {
    p->token = inv->token;
  }
  if (data_port) p->data = to;
  else p->ctrl = to;
  send_invite_cmd(a, sock, RMP_AM_OK, inv->token, &to);
  if (data_port && p->state == AP_AWAIT_DATA) joined(a, p);
}

static void on_ok(rtpmidi_apple *a, bool data_port, const rmp_am_invite *inv,
                  const struct sockaddr *from) {
  ap_peer *p = find_invite(a, inv->token, data_port ? AP_INVITE_DATA : AP_INVITE_CTRL);
  if (!p) return; /* a repeated answer */
  if (!data_port) {
    ap_peer *other = find_ssrc(a, inv->ssrc);
    if (other && other != p) { /* already in session with it (it invited us too) */
      p->state = AP_DEAD;
      return;
    }
    p->ssrc = inv->ssrc;
    p->have_ssrc = true;
    set_name(p, inv);
    p->state = AP_INVITE_DATA;
    p->tries = 0;
    p->next_invite = rmc_ap_now(); /* the data-port IN goes out at once */
  } else {
    copy_addr(&p->data, from);
    p->next_ck = rmc_ap_now();
    joined(a, p);
  }
}

static void ck_done(rtpmidi_apple *a, ap_peer *p, uint64_t latency, int64_t offset) {
  p->synced = true;
  p->latency_ms = (double)latency / 10.0;
  p->offset_ms = (double)offset / 10.0;
  p->ck_exchanges++;
  a->st.ck_exchanges++;
  if (a->ev.on_synced) {
    rtpmidi_apple_peer info;
    rmc_ap_fill_peer(p, &info);
    a->ev.on_synced(a->ud, &info);
  }
}

static void on_ck(rtpmidi_apple *a, const rmp_am_ck *ck, const struct sockaddr *from) {
  ap_peer *p = find_ssrc(a, ck->ssrc);
  if (!p || p->state != AP_CONNECTED) {
    a->st.unknown_ssrc++;
    return;
  }
  if (!from_host(from, &p->ctrl)) { /* its SSRC from another host: spoofed */
    a->st.foreign++;
    return;
  }
  double now = rmc_ap_now();
  p->last_heard = now;
  rmp_am_ck_result res;
  if (ck->count == 0) {
    uint64_t ts[3] = {ck->ts[0], rmc_ap_clock(now), 0};
    send_ck(a, p, 1, ts);
  } else if (ck->count == 1) {
    /* the answer to our CK0: close the exchange and measure */
    rmp_am_ck c = *ck;
    c.count = 2;
    c.ts[2] = rmc_ap_clock(now);
    send_ck(a, p, 2, c.ts);
    if (rmp_am_ck_compute(&c, &res) == 0) ck_done(a, p, res.latency, res.offset);
  } else {
    /* the end of its exchange: we were the responder, offset is ours - its */
    if (rmp_am_ck_compute(ck, &res) == 0) ck_done(a, p, res.latency, -res.offset);
  }
}

static void on_by(rtpmidi_apple *a, const rmp_am_bye *by, const struct sockaddr *from) {
  ap_peer *p = find_ssrc(a, by->ssrc);
  if (!p) {
    a->st.unknown_ssrc++;
    return;
  }
  if (!from_host(from, &p->ctrl)) {
    a->st.foreign++;
    return;
  }
  if (p->joined) drop_peer(a, p, "bye");
  else if (p->initiator) invite_failed(a, p, "bye");
  else p->state = AP_DEAD;
}

static void on_packet(rtpmidi_apple *a, bool data_port, const uint8_t *buf, size_t len,
                      const struct sockaddr *from) {
  if (data_port && len >= 1 && (buf[0] & 0xC0) == 0x80) {
    rmc_ap_on_rtp(a, buf, len, from);
    return;
  }
  rmp_am_packet pk;
  int r = rmp_am_parse(buf, len, &pk);
  if (r < 0) {
    switch (r) {
    case RMP_EATRUNC: case RMP_EASIG: a->st.bad_signature++; break;
    case RMP_EAUNKNOWN: a->st.unknown_command++; break;
    case RMP_EANAMETRUNC: case RMP_EANAMELONG: a->st.bad_name++; break;
    default: a->st.malformed++; break;
    }
    return;
  }
  a->st.control_received++;
  switch (pk.cmd) {
  case RMP_AM_IN: on_in(a, data_port, &pk.u.inv, from); break;
  case RMP_AM_OK: on_ok(a, data_port, &pk.u.inv, from); break;
  case RMP_AM_NO: {
    ap_peer *p = find_invite(a, pk.u.inv.token, data_port ? AP_INVITE_DATA : AP_INVITE_CTRL);
    if (p) invite_failed(a, p, "rejected");
    break;
  }
  case RMP_AM_BY: on_by(a, &pk.u.by, from); break;
  case RMP_AM_CK: on_ck(a, &pk.u.ck, from); break;
  case RMP_AM_RS: {
    ap_peer *p = find_ssrc(a, pk.u.rs.ssrc);
    if (!p || p->state != AP_CONNECTED) {
      a->st.unknown_ssrc++;
      break;
    }
    if (!from_host(from, &p->ctrl)) {
      a->st.foreign++;
      break;
    }
    p->rs_received++;
    a->st.rs_received++;
    rmc_ap_on_rs(p, pk.u.rs.seq);
    break;
  }
  default: a->st.unknown_command++; break;
  }
}

/* ---- sockets and the timer ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  ap_handle *u = h->data;
  if (!u->owner) {
    buf->base = NULL;
    buf->len = 0;
    return;
  }
  buf->base = u->owner->rt->recv_buffer;
  buf->len = sizeof u->owner->rt->recv_buffer;
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags) {
  ap_handle *u = h->data;
  rtpmidi_apple *a = u->owner;
  if (!a) return;
  /* A burst read with recvmmsg: what its callbacks send leaves at its end,
   * one sendmmsg per socket (runtime.c). */
  if (!rmc_burst(a->rt, h, flags)) return;
  if (nread < 0 || !addr) return;
  enter(a);
  on_packet(a, u == a->data, (const uint8_t *)buf->base, (size_t)nread, addr);
  leave(a);
}

static int open_udp(rtpmidi_apple *a, int port, ap_handle **slot) {
  ap_handle *u = new_handle(a);
  if (!u) return UV_ENOMEM;
  int r = uv_udp_init_ex(a->rt->loop, &u->u.udp, AF_UNSPEC | UV_UDP_RECVMMSG);
  if (r) {
    free(u);
    return r;
  }
  a->open_handles++;
  *slot = u;
  struct sockaddr_in local;
  r = uv_ip4_addr(a->bind_address ? a->bind_address : "0.0.0.0", port, &local);
  if (!r) r = uv_udp_bind(&u->u.udp, (const struct sockaddr *)&local, 0);
  if (!r) {
    int size = 1 << 20;
    uv_recv_buffer_size(&u->u.h, &size);
    size = 1 << 20;
    uv_send_buffer_size(&u->u.h, &size);
    r = uv_udp_recv_start(&u->u.udp, on_alloc, on_recv);
  }
  if (r) close_handle(slot);
  return r;
}

static int local_port(ap_handle *u) {
  struct sockaddr_storage ss;
  int n = sizeof ss;
  if (!u || uv_udp_getsockname(&u->u.udp, (struct sockaddr *)&ss, &n)) return 0;
  return addr_port((struct sockaddr *)&ss);
}

static void serve_peer(rtpmidi_apple *a, ap_peer *p, double now) {
  const rtpmidi_apple_config *c = &a->cfg;
  switch (p->state) {
  case AP_INVITE_CTRL:
  case AP_INVITE_DATA:
    if (now < p->next_invite) return;
    if (p->tries >= c->invite_tries) {
      invite_failed(a, p, "timeout");
      return;
    }
    p->tries++;
    p->next_invite = now + c->invite_interval_ms;
    if (p->state == AP_INVITE_CTRL) send_invite_cmd(a, a->ctrl, RMP_AM_IN, p->token, &p->ctrl);
    else send_invite_cmd(a, a->data, RMP_AM_IN, p->token, &p->data);
    return;
  case AP_AWAIT_DATA:
    if (now - p->last_heard > c->timeout_ms) p->state = AP_DEAD;
    return;
  case AP_CONNECTED:
    if (now - p->last_heard > c->timeout_ms) {
      struct sockaddr_storage again = p->ctrl;
      bool reinvite = p->initiator && c->reinvite;
      drop_peer(a, p, "timeout");
      if (reinvite && a->started) start_invite(a, (struct sockaddr *)&again, addr_port((struct sockaddr *)&again));
      return;
    }
    if (p->initiator && now >= p->next_ck) {
      uint64_t ts[3] = {rmc_ap_clock(now), 0, 0};
      send_ck(a, p, 0, ts);
      p->tries++; /* counts CK rounds once connected */
      p->next_ck = now + (p->tries < c->ck_fast_count ? c->ck_fast_interval_ms : c->ck_interval_ms);
    }
    if (p->rx_since_rs && now >= p->next_rs) {
      uint8_t buf[RMP_AM_RS_LEN];
      int n = rmp_am_encode_rs(buf, sizeof buf, a->ssrc, p->last_rx_seq);
      send_control(a, a->ctrl, buf, n, &p->ctrl);
      p->rs_sent++;
      a->st.rs_sent++;
      p->rx_since_rs = false;
      p->next_rs = now + c->rs_interval_ms;
    }
    rmc_ap_service_media(a, p, now);
    return;
  case AP_DEAD:
    return;
  }
}

static void on_timer(uv_timer_t *h) {
  ap_handle *u = h->data;
  rtpmidi_apple *a = u->owner;
  if (!a) return;
  enter(a);
  double now = rmc_ap_now();
  unsigned gen = a->gen;
  for (ap_peer *p = a->peers; p && gen == a->gen; p = p->next) serve_peer(a, p, now);
  leave(a);
}

static uint64_t wait_ms(double due, double now) {
  double wait = due - now;
  return wait <= 0 ? 0 : (uint64_t)ceil(wait);
}

/* One timer for every participant's deadlines. Those of the session's
 * upkeep (timeouts, CK, RS) may run a little late and share wakeups with
 * other sessions' (slack.h); invitations, guard packets and the jitter
 * buffer are served on time. */
void rmc_ap_schedule(rtpmidi_apple *a) {
  if (!a->timer || a->busy) return;
  double due = INFINITY, upkeep = INFINITY;
  const rtpmidi_apple_config *c = &a->cfg;
  for (ap_peer *p = a->peers; p; p = p->next) {
    double d = INFINITY, u = INFINITY;
    switch (p->state) {
    case AP_INVITE_CTRL: case AP_INVITE_DATA: d = p->next_invite; break;
    case AP_AWAIT_DATA: u = p->last_heard + c->timeout_ms + 1; break;
    case AP_CONNECTED:
      u = p->last_heard + c->timeout_ms + 1;
      if (p->initiator && p->next_ck < u) u = p->next_ck;
      if (p->rx_since_rs && p->next_rs < u) u = p->next_rs;
      d = rmc_ap_media_deadline(p);
      break;
    case AP_DEAD: break;
    }
    if (d < due) due = d;
    if (u < upkeep) upkeep = u;
  }
  if (due == INFINITY && upkeep == INFINITY) {
    uv_timer_stop(&a->timer->u.timer);
    return;
  }
  double now = rmc_ap_now();
  uint64_t ms = UINT64_MAX;
  if (due != INFINITY) ms = wait_ms(due, now);
  if (upkeep != INFINITY) {
    /* from the loop's clock, which may lag ours: late, never early */
    uv_loop_t *loop = a->rt->loop;
    uint64_t m = rmc_slack_ms(loop, wait_ms(upkeep, (double)uv_now(loop)));
    if (m < ms) ms = m;
  }
  uv_timer_start(&a->timer->u.timer, on_timer, ms, 0);
}

/* ---- the public API ---- */

int rtpmidi_apple_new(rtpmidi_runtime *rt, const rtpmidi_apple_config *cfg,
                      const rtpmidi_apple_events *ev, void *ud, rtpmidi_apple **out,
                      const char **err) {
  static const char *dummy;
  if (!err) err = &dummy;
  *err = NULL;
  if (cfg->port < 0 || cfg->port > 65534) { *err = "port"; return UV_EINVAL; }
  if (cfg->accept > RTPMIDI_APPLE_ACCEPT_LIST) { *err = "accept"; return UV_EINVAL; }
  if (cfg->accept == RTPMIDI_APPLE_ACCEPT_LIST && cfg->accept_count && !cfg->accept_list) {
    *err = "accept";
    return UV_EINVAL;
  }
  struct sockaddr_in probe;
  if (cfg->bind_address && uv_ip4_addr(cfg->bind_address, 0, &probe)) { *err = "bind_address"; return UV_EINVAL; }
  if (cfg->invite_tries < 0) { *err = "invite_tries"; return UV_EINVAL; }
  if (cfg->ck_fast_count < 0) { *err = "ck_fast_count"; return UV_EINVAL; }
  if (!(cfg->jitter_buffer_ms >= 0) || cfg->jitter_buffer_ms > 10000) { *err = "jitter_buffer_size"; return UV_EINVAL; }
  if (!(cfg->invite_interval_ms >= 0) || !(cfg->ck_fast_interval_ms >= 0) || !(cfg->ck_interval_ms >= 0) ||
      !(cfg->timeout_ms >= 0) || !(cfg->rs_interval_ms >= 0) || !(cfg->guard_ms >= 0)) {
    *err = "interval";
    return UV_EINVAL;
  }
  if (!(cfg->invitations_per_second >= 0) || cfg->invitations_per_second > 1e6) {
    *err = "invitations_per_second";
    return UV_EINVAL;
  }
  if (cfg->journal_history > MAX_JOURNAL_HISTORY) { *err = "journal_history"; return UV_EINVAL; }
  if (cfg->jitter_buffer_packets == 1 || cfg->jitter_buffer_packets > AP_JB_MAX_CAPACITY) {
    *err = "jitter_buffer_packets";
    return UV_EINVAL;
  }
  if (cfg->payload_budget && (cfg->payload_budget < RMP_CMD_MIN_BUDGET || cfg->payload_budget > 1200)) {
    *err = "payload_budget";
    return UV_EINVAL;
  }
  rtpmidi_apple *a = calloc(1, sizeof *a);
  if (!a) return UV_ENOMEM;
  a->rt = rt;
  a->cfg = *cfg;
  rtpmidi_apple_config *c = &a->cfg;
  if (!c->invite_tries) c->invite_tries = DEF_INVITE_TRIES;
  if (!c->invite_interval_ms) c->invite_interval_ms = DEF_INVITE_INTERVAL;
  if (!c->ck_fast_count) c->ck_fast_count = DEF_CK_FAST_COUNT;
  if (!c->ck_fast_interval_ms) c->ck_fast_interval_ms = DEF_CK_FAST_INTERVAL;
  if (!c->ck_interval_ms) c->ck_interval_ms = DEF_CK_INTERVAL;
  if (!c->timeout_ms) c->timeout_ms = DEF_TIMEOUT;
  if (!c->rs_interval_ms) c->rs_interval_ms = DEF_RS_INTERVAL;
  if (!c->guard_ms) c->guard_ms = DEF_GUARD;
  if (!c->payload_budget) c->payload_budget = RMP_CMD_DEFAULT_BUDGET;
  if (!c->max_sysex) c->max_sysex = DEF_MAX_SYSEX;
  if (!c->max_participants) c->max_participants = DEF_MAX_PARTICIPANTS;
  if (!c->invitations_per_second) c->invitations_per_second = DEF_INVITATIONS_PER_SECOND;
  if (!c->journal_history) c->journal_history = DEF_JOURNAL_HISTORY;
  if (!c->jitter_buffer_packets) c->jitter_buffer_packets = AP_JB_CAPACITY;
  a->invite_tokens = c->invitations_per_second < 1 ? 1 : c->invitations_per_second;
  a->invite_refill_ms = rmc_ap_now();
  a->name = dup_str(cfg->name ? cfg->name : "rtpmidi");
  a->bind_address = cfg->bind_address ? dup_str(cfg->bind_address) : NULL;
  c->name = a->name;
  c->bind_address = a->bind_address;
  bool oom = !a->name || (cfg->bind_address && !a->bind_address);
  if (c->accept == RTPMIDI_APPLE_ACCEPT_LIST && c->accept_count) {
    a->accept_list = calloc(c->accept_count, sizeof(char *));
    oom = oom || !a->accept_list;
    for (size_t i = 0; !oom && i < c->accept_count; i++) {
      /* keep the address in the form addr_name() prints */
      struct sockaddr_storage ss;
      char norm[64];
      const char *s = cfg->accept_list[i];
      if (!s) { *err = "accept"; a->freed = true; c->accept_count = i; release(a); return UV_EINVAL; }
      if (uv_ip4_addr(s, 0, (struct sockaddr_in *)&ss) == 0 || uv_ip6_addr(s, 0, (struct sockaddr_in6 *)&ss) == 0) {
        addr_name((struct sockaddr *)&ss, norm, sizeof norm);
        s = norm;
      }
      a->accept_list[i] = dup_str(s);
      oom = !a->accept_list[i];
    }
  } else {
    c->accept_count = 0;
  }
  c->accept_list = NULL;
  rmc_ap_midi_init(a);
  if (oom) {
    a->freed = true;
    release(a);
    return UV_ENOMEM;
  }
  a->ssrc = cfg->ssrc;
  while (!a->ssrc) rmc_random(&a->ssrc, sizeof a->ssrc);
  if (ev) a->ev = *ev;
  a->ud = ud;
  *out = a;
  return 0;
}

int rtpmidi_apple_start(rtpmidi_apple *a) {
  if (a->freed) return UV_EINVAL;
  if (a->started) return 0;
  int r = UV_EADDRINUSE;
  for (int attempt = 0; attempt < (a->cfg.port ? 1 : 64); attempt++) {
    int port = a->cfg.port;
    if (!port) {
      uint16_t rnd;
      rmc_random(&rnd, sizeof rnd);
      port = 20000 + 2 * (rnd % 20000);
    }
    r = open_udp(a, port, &a->ctrl);
    if (!r) {
      port = local_port(a->ctrl);
      r = port > 0 && port < 65535 ? open_udp(a, port + 1, &a->data) : UV_EADDRINUSE;
      if (r) close_handle(&a->ctrl);
    }
    if (!r) {
      a->port = port;
      break;
    }
    if (r != UV_EADDRINUSE) break;
  }
  if (r) return r;
  a->timer = new_handle(a);
  if (!a->timer) {
    close_handle(&a->ctrl);
    close_handle(&a->data);
    return UV_ENOMEM;
  }
  uv_timer_init(a->rt->loop, &a->timer->u.timer);
  a->open_handles++;
  a->started = true;
  a->st.port = a->port;
  a->discovery = rmc_ap_discovery_start(a);
  return 0;
}

void rtpmidi_apple_stop(rtpmidi_apple *a) {
  if (!a->started) return;
  enter(a);
  rmc_ap_midi_stop(a);
  cancel_resolves(a);
  a->gen++;
  for (ap_peer *p = a->peers; p; p = p->next) {
    if (p->state == AP_DEAD) continue;
    send_bye(a, p);
    drop_peer(a, p, "stopped");
  }
  /* Its BYs, and whatever a burst being delivered queued, leave before the
   * sockets close. */
  rmc_sendq_flush(a->rt);
  if (a->discovery) {
    rmc_ap_discovery_stop(a->discovery);
    a->discovery = NULL;
  }
  a->started = false;
  a->port = 0;
  a->st.port = 0;
  close_handle(&a->ctrl);
  close_handle(&a->data);
  close_handle(&a->timer);
  leave(a);
}

bool rtpmidi_apple_started(const rtpmidi_apple *a) { return a->started; }
int rtpmidi_apple_port(const rtpmidi_apple *a) { return a->port; }

static int start_invite(rtpmidi_apple *a, const struct sockaddr *to, int port) {
  ap_peer *p = new_peer(a, to, port);
  if (!p) return UV_ENOMEM;
  p->initiator = true;
  p->state = AP_INVITE_CTRL;
  while (!p->token) rmc_random(&p->token, sizeof p->token);
  p->next_invite = rmc_ap_now();
  return 0;
}

/* An invitation to a host name, waiting for its address (uv_getaddrinfo,
 * off the loop). The session stays allocated until every callback came
 * (open_handles); a stop cancels what it can and forgets the rest. */
typedef struct ap_resolve {
  uv_getaddrinfo_t req;
  rtpmidi_apple *owner;
  struct ap_resolve *next;
  unsigned gen;     /* the session's stop count when asked */
  int port;
  char host[];
} ap_resolve;

static void unlink_resolve(rtpmidi_apple *a, ap_resolve *q) {
  for (ap_resolve **pp = &a->resolving; *pp; pp = &(*pp)->next) {
    if (*pp == q) {
      *pp = q->next;
      a->nresolving--;
      return;
    }
  }
}

static void on_invite_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  ap_resolve *q = req->data;
  rtpmidi_apple *a = q->owner;
  a->open_handles--;
  unlink_resolve(a, q);
  if (!a->freed && a->started && q->gen == a->gen) {
    enter(a);
    const struct addrinfo *pick = NULL;
    for (const struct addrinfo *ai = res; ai && status == 0; ai = ai->ai_next)
      if (ai->ai_family == AF_INET) { pick = ai; break; }
    if (!pick || start_invite(a, pick->ai_addr, q->port) != 0) {
      if (a->ev.on_invite_failed) a->ev.on_invite_failed(a->ud, q->host, q->port, pick ? "no memory" : "unresolved");
    }
    leave(a);
  }
  uv_freeaddrinfo(res);
  free(q);
  release(a);
}

/* Cancels the resolutions a stop leaves behind (their callbacks still come,
 * as UV_ECANCELED or late, and find the session stopped). */
static void cancel_resolves(rtpmidi_apple *a) {
  for (ap_resolve *q = a->resolving; q; q = q->next) uv_cancel((uv_req_t *)&q->req);
  a->resolving = NULL;
  a->nresolving = 0;
}

int rtpmidi_apple_invite(rtpmidi_apple *a, const char *address, int port) {
  if (!a->started) return UV_ENOTCONN;
  if (!address || !*address || port < 1 || port > 65534) return UV_EINVAL;
  if (live_peers(a) >= a->cfg.max_participants) return UV_ENOBUFS;
  struct sockaddr_in to;
  if (uv_ip4_addr(address, port, &to) == 0) {
    enter(a);
    int r = start_invite(a, (const struct sockaddr *)&to, port);
    leave(a);
    return r;
  }
  /* A host name: its address comes later, the outcome as ever through
   * on_joined or on_invite_failed ("unresolved"). Letters, digits, '-',
   * '_' and '.' only (an IPv6 literal is refused: the sockets are IPv4). */
  size_t n = strlen(address);
  if (n > 253) return UV_EINVAL;
  for (size_t i = 0; i < n; i++) {
    char c = address[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.';
    if (!ok) return UV_EINVAL;
  }
  ap_resolve *q = calloc(1, sizeof *q + n + 1);
  if (!q) return UV_ENOMEM;
  memcpy(q->host, address, n + 1);
  q->owner = a;
  q->gen = a->gen;
  q->port = port;
  q->req.data = q;
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  int r = uv_getaddrinfo(a->rt->loop, &q->req, on_invite_resolved, q->host, NULL, &hints);
  if (r) {
    free(q);
    return r;
  }
  q->next = a->resolving;
  a->resolving = q;
  a->nresolving++;
  a->open_handles++;
  return 0;
}

int rtpmidi_apple_disconnect(rtpmidi_apple *a, uint32_t id) {
  for (ap_peer *p = a->peers; p; p = p->next) {
    if (p->id != id || p->state == AP_DEAD) continue;
    enter(a);
    send_bye(a, p);
    drop_peer(a, p, "disconnected");
    leave(a);
    return 0;
  }
  return UV_ENOENT;
}

size_t rtpmidi_apple_participants(rtpmidi_apple *a, rtpmidi_apple_peer *out, size_t n) {
  size_t k = 0;
  for (ap_peer *p = a->peers; p; p = p->next) {
    if (p->state != AP_CONNECTED) continue;
    if (k < n) rmc_ap_fill_peer(p, &out[k]);
    k++;
  }
  return k;
}

void rtpmidi_apple_get_stats(const rtpmidi_apple *a, rtpmidi_apple_stats *st) {
  *st = a->st;
  st->ssrc = a->ssrc;
  rmc_ap_midi_stats(a, st);
}

void rtpmidi_apple_free(rtpmidi_apple *a) {
  if (!a || a->freed) return;
  rtpmidi_apple_stop(a);
  a->freed = true;
  memset(&a->ev, 0, sizeof a->ev);
  release(a);
}
