/* An RTP session on libuv: sockets, sending, receiving and the callbacks. */
#include "runtime.h"
#include "rtp.h"

#include <stdlib.h>
#include <string.h>

typedef struct rmc_udp {
  uv_udp_t handle;
  rtpmidi_session *owner;   /* NULL once the session let go of it */
} rmc_udp;

struct rtpmidi_session {
  rtpmidi_runtime *rt;
  rtpmidi_session *next;
  rtpmidi_session_config cfg;
  char *peer_address, *tool_name, *bind_address;  /* owned copies */
  rtpmidi_session_events ev;
  void *ud;
  struct sockaddr_storage peer;
  rmc_udp *rtp;             /* NULL while stopped */
  unsigned open_handles;    /* handles not yet through their close callback */
  bool freed;
  uint16_t seq;
  uint32_t ssrc, ts_offset;
  rtpmidi_session_stats st;
};

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
  free(s);
}

void rmc_runtime_unlink(rtpmidi_runtime *rt, rtpmidi_session *s) {
  for (rtpmidi_session **p = &rt->sessions; *p; p = &(*p)->next) {
    if (*p == s) { *p = s->next; return; }
  }
}

static int resolve(const char *host, int port, struct sockaddr_storage *out) {
  memset(out, 0, sizeof *out);
  if (uv_ip4_addr(host, port, (struct sockaddr_in *)out) == 0) return 0;
  if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)out) == 0) return 0;
  return UV_EINVAL;
}

int rtpmidi_session_new(rtpmidi_runtime *rt, const rtpmidi_session_config *cfg,
                        const rtpmidi_session_events *ev, void *ud,
                        rtpmidi_session **out, const char **err) {
  static const char *dummy;
  if (!err) err = &dummy;
  *err = NULL;
  if (!cfg->peer_address) { *err = "peer_address"; return UV_EINVAL; }
  if (cfg->sending_port < 0 || cfg->sending_port > 65535) { *err = "sending_port"; return UV_EINVAL; }
  if (cfg->receiving_port < 0 || cfg->receiving_port > 65535) { *err = "receiving_port"; return UV_EINVAL; }
  if (!cfg->sending_port && !cfg->receiving_port) { *err = "sending_port"; return UV_EINVAL; }
  if (cfg->payload_type < 0 || cfg->payload_type > 127) { *err = "payload"; return UV_EINVAL; }
  if (cfg->jitter_buffer_ms < 0) { *err = "jitter_buffer_size"; return UV_EINVAL; }
  rtpmidi_session *s = calloc(1, sizeof *s);
  if (!s) return UV_ENOMEM;
  s->cfg = *cfg;
  s->peer_address = dup_str(cfg->peer_address);
  s->tool_name = dup_str(cfg->tool_name ? cfg->tool_name : "rtpmidi");
  s->bind_address = dup_str(cfg->bind_address);
  if (!s->peer_address || !s->tool_name || (cfg->bind_address && !s->bind_address)) {
    s->freed = true;
    release(s);
    return UV_ENOMEM;
  }
  s->cfg.peer_address = s->peer_address;
  s->cfg.tool_name = s->tool_name;
  s->cfg.bind_address = s->bind_address;
  if (!s->cfg.clock_rate) s->cfg.clock_rate = 10000;
  if (ev) s->ev = *ev;
  s->ud = ud;
  s->rt = rt;
  uint32_t r[3];
  rmc_random(r, sizeof r);
  s->seq = (uint16_t)r[0];
  s->ts_offset = r[1];
  s->ssrc = r[2];
  s->next = rt->sessions;
  rt->sessions = s;
  *out = s;
  return 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  rmc_udp *u = h->data;
  if (!u->owner) { buf->base = NULL; buf->len = 0; return; }
  buf->base = u->owner->rt->recv_buffer;
  buf->len = sizeof u->owner->rt->recv_buffer;
}

static bool same_host(const struct sockaddr *a, const struct sockaddr_storage *b) {
  if (a->sa_family != b->ss_family) return false;
  if (a->sa_family == AF_INET)
    return ((const struct sockaddr_in *)a)->sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
  if (a->sa_family == AF_INET6)
    return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
  return false;
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags) {
  rmc_udp *u = h->data;
  rtpmidi_session *s = u->owner;
  if (!s || nread == 0 || !addr) return;
  if (nread < 0) return; /* ICMP errors and the like: drop_call comes with RTCP */
  if (flags & UV_UDP_PARTIAL) { s->st.malformed++; return; }
  if (!same_host(addr, &s->peer)) { s->st.foreign++; return; }
  rmp_rtp_header hdr;
  const uint8_t *p = (const uint8_t *)buf->base;
  if (rmp_rtp_parse(p, (size_t)nread, &hdr) < 0 || hdr.payload_type != s->cfg.payload_type) {
    s->st.malformed++;
    return;
  }
  s->st.packets_received++;
  s->st.bytes_received += hdr.payload_len;
  s->st.peer_ssrc = hdr.ssrc;
  if (s->ev.on_rtp)
    s->ev.on_rtp(s->ud, hdr.timestamp, p + hdr.payload_offset, hdr.payload_len, false, hdr.marker);
}

static void on_udp_closed(uv_handle_t *h) {
  rmc_udp *u = h->data;
  rtpmidi_session *s = u->owner;
  free(u);
  if (s) {
    s->open_handles--;
    release(s);
  }
}

static void close_udp(rtpmidi_session *s, rmc_udp **slot) {
  rmc_udp *u = *slot;
  if (!u) return;
  *slot = NULL;
  uv_udp_recv_stop(&u->handle);
  uv_close((uv_handle_t *)&u->handle, on_udp_closed);
  (void)s;
}

static int open_udp(rtpmidi_session *s, int port, bool receive, rmc_udp **slot) {
  rmc_udp *u = calloc(1, sizeof *u);
  if (!u) return UV_ENOMEM;
  int r = uv_udp_init(s->rt->loop, &u->handle);
  if (r) { free(u); return r; }
  u->owner = s;
  u->handle.data = u;
  s->open_handles++;
  *slot = u;
  struct sockaddr_storage local;
  const char *bind = s->bind_address;
  if (!bind) bind = s->peer.ss_family == AF_INET6 ? "::" : "0.0.0.0";
  r = resolve(bind, port, &local);
  if (!r) r = uv_udp_bind(&u->handle, (const struct sockaddr *)&local, 0);
  if (!r) {
    /* Room for bursts (a SysEx dump, a busy loop turn): ask for 1 MiB each
     * way; the kernel may give less, which is fine. */
    int size = 1 << 20;
    uv_recv_buffer_size((uv_handle_t *)&u->handle, &size);
    size = 1 << 20;
    uv_send_buffer_size((uv_handle_t *)&u->handle, &size);
  }
  if (!r && receive) r = uv_udp_recv_start(&u->handle, on_alloc, on_recv);
  if (r) close_udp(s, slot);
  return r;
}

int rtpmidi_session_start(rtpmidi_session *s) {
  if (s->freed) return UV_EINVAL;
  if (s->rtp) return 0;
  int r = resolve(s->peer_address, s->cfg.sending_port, &s->peer);
  if (r) return r;
  /* The RTP socket listens on receiving_port (or an ephemeral port for a
   * send-only session, so the peer's replies and ICMP errors still reach us). */
  return open_udp(s, s->cfg.receiving_port, true, &s->rtp);
}

void rtpmidi_session_stop(rtpmidi_session *s) { close_udp(s, &s->rtp); }

bool rtpmidi_session_started(const rtpmidi_session *s) { return s->rtp != NULL; }

uint32_t rtpmidi_session_media_time(const rtpmidi_session *s) {
  double ticks = rtpmidi_now_ms() * (double)s->cfg.clock_rate / 1000.0;
  return s->ts_offset + (uint32_t)(uint64_t)ticks;
}

typedef struct rmc_send_req {
  uv_udp_send_t req;
  uint8_t data[];
} rmc_send_req;

static void on_sent(uv_udp_send_t *req, int status) {
  (void)status;
  free(req);
}

int rtpmidi_session_send(rtpmidi_session *s, const uint8_t *payload, size_t len,
                         uint32_t timestamp, bool marker) {
  if (!s->rtp || !s->cfg.sending_port) return UV_ENOTCONN;
  if (len > 65507 - RMP_RTP_HEADER_LEN) return UV_EMSGSIZE;
  uint8_t stackbuf[1500];
  size_t n = RMP_RTP_HEADER_LEN + len;
  uint8_t *pkt = n <= sizeof stackbuf ? stackbuf : malloc(n);
  if (!pkt) return UV_ENOMEM;
  rmp_rtp_write_header(pkt, (uint8_t)s->cfg.payload_type, marker, s->seq, timestamp, s->ssrc);
  if (len) memcpy(pkt + RMP_RTP_HEADER_LEN, payload, len);
  uv_buf_t b = uv_buf_init((char *)pkt, (unsigned)n);
  /* Try the immediate path first; queue a copy only when the socket is busy. */
  int r = uv_udp_try_send(&s->rtp->handle, &b, 1, (const struct sockaddr *)&s->peer);
  if (r == UV_EAGAIN) {
    rmc_send_req *req = malloc(sizeof *req + n);
    if (!req) r = UV_ENOMEM;
    else {
      memcpy(req->data, pkt, n);
      b = uv_buf_init((char *)req->data, (unsigned)n);
      r = uv_udp_send(&req->req, &s->rtp->handle, &b, 1, (const struct sockaddr *)&s->peer, on_sent);
      if (r) free(req);
      else r = (int)n;
    }
  }
  if (pkt != stackbuf) free(pkt);
  if (r < 0) return r;
  s->seq++;
  s->st.packets_sent++;
  s->st.bytes_sent += len;
  return 0;
}

void rtpmidi_session_get_stats(const rtpmidi_session *s, rtpmidi_session_stats *st) {
  *st = s->st;
  st->ssrc = s->ssrc;
}

void rtpmidi_session_count_malformed(rtpmidi_session *s) { s->st.malformed++; }

int rtpmidi_session_local_port(const rtpmidi_session *s) {
  if (!s->rtp) return 0;
  struct sockaddr_storage a;
  int n = sizeof a;
  if (uv_udp_getsockname(&s->rtp->handle, (struct sockaddr *)&a, &n)) return 0;
  if (a.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&a)->sin_port);
  return ntohs(((struct sockaddr_in6 *)&a)->sin6_port);
}

void rtpmidi_session_free(rtpmidi_session *s) {
  if (!s || s->freed) return;
  rtpmidi_session_stop(s);
  memset(&s->ev, 0, sizeof s->ev);
  s->ud = NULL;
  s->freed = true;
  rmc_runtime_unlink(s->rt, s);
  release(s);
}
