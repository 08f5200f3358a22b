/* One UDP endpoint for every session kind (endpoint.h). */
#include "endpoint.h"

#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <errno.h>
#include <linux/errqueue.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <sys/socket.h>
#endif

struct rmc_endpoint {
  uv_udp_t udp;
  rtpmidi_runtime *rt;
  const rmc_endpoint_ops *ops;
  void *owner;          /* NULL once closed */
  int family, port;
  int reach;            /* RMC_REACH_* */
  uint64_t send_errors;
  uint64_t send_dropped; /* the send queue was full (also in send_errors) */
  uint64_t foreign_icmp;  /* port unreachable from another host than the one it names */
  /* One read per wake (on_alloc): datagrams of the recvmmsg batch being
   * delivered, of the wake so far, and whether the last batch came back short. */
  unsigned batch_n, wake_n;
  bool short_batch;
  /* The burst goes on into libuv's next recvmmsg of this wake (on_recv):
   * its end, and the one sendmmsg of what it queued, wait for that. */
  bool burst_held;
  /* The last destination sent to, as the system's address (a session sends
   * to one peer: converted once, not per datagram). */
  bool have_dest;
  rmp_addr dest;
  struct sockaddr_storage dest_ss;
  socklen_t dest_len;
  /* The last IPv4 source heard from, as read and as converted (a session
   * hears one peer: converted once, not per datagram). */
  bool have_src4;
  struct sockaddr_in src4;
  rmp_addr src4_addr;
};

typedef struct send_req {
  uv_udp_send_t req;
  uint8_t data[];
} send_req;

void rmc_addr_from_sockaddr(const struct sockaddr *sa, rmp_addr *out) {
  if (sa && sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    *out = rmp_addr_v4((const uint8_t *)&in->sin_addr, ntohs(in->sin_port));
  } else if (sa && sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    *out = rmp_addr_unmap(
        rmp_addr_v6((const uint8_t *)&in6->sin6_addr, ntohs(in6->sin6_port), in6->sin6_scope_id));
  } else {
    memset(out, 0, sizeof *out);
  }
}

int rmc_addr_to_sockaddr(const rmp_addr *a, int family, struct sockaddr_storage *ss) {
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  /* Only the address that is filled in is cleared: this runs for every
   * datagram sent, and sockaddr_storage is 128 octets. */
  ss->ss_family = AF_UNSPEC;
  if (family == RMP_AF_INET) {
    const uint8_t *v4 = a->family == RMP_AF_INET ? a->ip
                        : (a->family == RMP_AF_INET6 && !memcmp(a->ip, mapped, 12)) ? a->ip + 12 : NULL;
    if (!v4) return 0;
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    memset(in, 0, sizeof *in);
    in->sin_family = AF_INET;
    in->sin_port = htons(a->port);
    memcpy(&in->sin_addr, v4, 4);
    return (int)sizeof *in;
  }
  if (family == RMP_AF_INET6 && a->family != RMP_AF_NONE) {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    memset(in6, 0, sizeof *in6);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(a->port);
    if (a->family == RMP_AF_INET) {
      memcpy(&in6->sin6_addr, mapped, 12);
      memcpy((uint8_t *)&in6->sin6_addr + 12, a->ip, 4);
    } else {
      memcpy(&in6->sin6_addr, a->ip, 16);
      in6->sin6_scope_id = a->scope;
    }
    return (int)sizeof *in6;
  }
  return 0;
}

int rmc_bind_reach(const char *bind_address) {
  static const uint8_t ANY6[16] = {0};
  if (!bind_address) return RMC_REACH_BOTH;
  rmp_addr b;
  if (rmc_addr_parse(bind_address, 0, &b)) return 0;
  if (b.family == RMP_AF_INET) return RMC_REACH_V4;
  return memcmp(b.ip, ANY6, 16) == 0 && !b.scope ? RMC_REACH_BOTH : RMC_REACH_V6;
}

bool rmc_reaches(int reach, const rmp_addr *a) {
  rmp_addr x = rmp_addr_unmap(*a);
  if (x.family == RMP_AF_INET) return (reach & RMC_REACH_V4) != 0;
  if (x.family == RMP_AF_INET6) return (reach & RMC_REACH_V6) != 0;
  return false;
}

int rmc_resolve_host(uv_loop_t *loop, uv_getaddrinfo_t *req, uv_getaddrinfo_cb cb, const char *host,
                     int reach) {
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  /* No AI_ADDRCONFIG: it hides ::1 ("localhost") on a host whose only IPv6
   * address is the loopback one. */
  hints.ai_family = reach == RMC_REACH_V4 ? AF_INET : reach == RMC_REACH_V6 ? AF_INET6 : AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  return uv_getaddrinfo(loop, req, cb, host, NULL, &hints);
}

int rmc_pick_addr(const struct addrinfo *res, int reach, rmp_addr *out) {
  bool found = false;
  for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    rmp_addr a;
    rmc_addr_from_sockaddr(ai->ai_addr, &a);
    if (!rmc_reaches(reach, &a)) continue;
    if (!found || (a.family == RMP_AF_INET && out->family != RMP_AF_INET)) {
      *out = a;
      found = true;
    }
    if (out->family == RMP_AF_INET) break;
  }
  if (found) out->port = 0;
  return found ? 0 : -1;
}

int rmc_addr_parse(const char *text, uint16_t port, rmp_addr *out) {
  if (!text) return -1;
  if (rmp_addr_parse(text, port, out) == 0) {
    *out = rmp_addr_unmap(*out);
    return 0;
  }
  /* "fe80::1%eth0": the scope as an interface name (RFC 4007 11.2 leaves
   * the zone's text to the system; the interface's index is its id). */
  const char *pct = strchr(text, '%');
  if (!pct || !pct[1] || strlen(pct + 1) >= IF_NAMESIZE) return -1;
  unsigned idx = if_nametoindex(pct + 1);
  if (!idx) return -1;
  char lit[RMP_ADDR_TEXT];
  int n = snprintf(lit, sizeof lit, "%.*s%%%u", (int)(pct - text), text, idx);
  if (n < 0 || (size_t)n >= sizeof lit) return -1;
  if (rmp_addr_parse(lit, port, out) || out->family != RMP_AF_INET6) return -1;
  return 0;
}

size_t rmc_addr_text(const rmp_addr *a, char *out, size_t n) {
  rmp_addr x = rmp_addr_unmap(*a);
  char ifname[IF_NAMESIZE];
  if (x.family != RMP_AF_INET6 || !x.scope || !if_indextoname(x.scope, ifname))
    return rmp_addr_host(&x, out, n);
  char buf[RMP_ADDR_TEXT];
  rmp_addr noscope = x;
  noscope.scope = 0;
  rmp_addr_host(&noscope, buf, sizeof buf);
  size_t len = strlen(buf);
  snprintf(buf + len, sizeof buf - len, "%%%s", ifname);
  if (n) snprintf(out, n, "%s", buf);
  return strlen(buf);
}

int rtpmidi_address_text(const char *text, char *out, size_t n) {
  rmp_addr a;
  if (rmc_addr_parse(text, 0, &a)) return UV_EINVAL;
  rmc_addr_text(&a, out, n);
  return 0;
}

/* ---- errors ---- */

/* Reads the socket's error queue (IP_RECVERR): each entry is an ICMP error
 * about a datagram we sent, with that datagram's destination in msg_name
 * (ip(7), IP_RECVERR). Reported one by one; without entries, once with no
 * destination. Returns false when the owner closed the endpoint meanwhile. */
static bool report_errors(rmc_endpoint *ep, int err) {
  bool any = false;
#ifdef __linux__
  uv_os_fd_t fd;
  if (uv_fileno((uv_handle_t *)&ep->udp, &fd) == 0) {
    /* A bound number of entries: the queue would otherwise keep the socket
     * readable for ever. */
    for (int i = 0; i < 64; i++) {
      struct sockaddr_storage dest;
      char data[64], control[512];
      struct iovec iov = {data, sizeof data};
      struct msghdr msg;
      memset(&msg, 0, sizeof msg);
      memset(&dest, 0, sizeof dest);
      msg.msg_name = &dest;
      msg.msg_namelen = sizeof dest;
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      if (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) break;
      int e = err;
      rmp_addr d, offender;
      rmc_addr_from_sockaddr((struct sockaddr *)&dest, &d);
      bool forged = false;
      for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
            (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
          const struct sock_extended_err *ee = (const struct sock_extended_err *)CMSG_DATA(c);
          if (ee->ee_errno) e = -(int)ee->ee_errno;
          /* A port unreachable comes from the host whose port is closed
           * (RFC 1122 3.2.2.1; Linux answers from the address the datagram
           * went to). The kernel queues one whose quoted header matches us
           * from whichever host sent it: one from another host than the
           * one it names is forged (hostile LAN), and not reported. */
          if ((ee->ee_origin == SO_EE_ORIGIN_ICMP || ee->ee_origin == SO_EE_ORIGIN_ICMP6) &&
              ee->ee_errno == ECONNREFUSED && d.family) {
            rmc_addr_from_sockaddr(SO_EE_OFFENDER(ee), &offender);
            forged = !rmp_addr_same_host(&offender, &d);
          }
        }
      }
      if (!ep->owner) continue; /* drained for a closed endpoint */
      any = true;
      if (forged) {
        ep->foreign_icmp++;
        continue;
      }
      if (ep->ops->error) ep->ops->error(ep->owner, ep, e, d.family ? &d : NULL);
    }
  }
#endif
  if (!any && ep->owner && ep->ops->error) ep->ops->error(ep->owner, ep, err, NULL);
  return ep->owner != NULL;
}

static bool is_icmp_error(int r) {
  return r == UV_ECONNREFUSED || r == UV_EHOSTUNREACH || r == UV_ENETUNREACH;
}

static void on_sent(uv_udp_send_t *req, int status) {
  (void)status;
  free(req);
}

/* Sends now after a first attempt (uv_udp_try_send or sendmmsg) returned r. */
static int send_after(rmc_endpoint *ep, const uint8_t *buf, size_t len, const struct sockaddr *to, int r) {
  uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
  if (is_icmp_error(r)) {
    /* An ICMP error of an earlier datagram, reported on this send. */
    if (!report_errors(ep, r) || uv_is_closing((uv_handle_t *)&ep->udp)) return UV_ENOTCONN;
    r = uv_udp_try_send(&ep->udp, &b, 1, to);
  }
  if (r == UV_EAGAIN && uv_udp_get_send_queue_size(&ep->udp) + len > RMC_SEND_QUEUE_MAX) {
    /* What waits for the socket is bounded: a peer that cannot keep up (or
     * a link that stalls) must not take our memory. Dropped and counted;
     * the recovery journal repairs a loss like any other. */
    ep->send_dropped++;
    r = UV_ENOBUFS;
  } else if (r == UV_EAGAIN) {
    /* The socket buffer is full: libuv sends a copy when it can. */
    send_req *req = malloc(sizeof *req + len);
    if (!req) {
      r = UV_ENOMEM;
    } else {
      memcpy(req->data, buf, len);
      b = uv_buf_init((char *)req->data, (unsigned)len);
      r = uv_udp_send(&req->req, &ep->udp, &b, 1, to, on_sent);
      if (r) free(req);
    }
  }
  if (r < 0) ep->send_errors++;
  return r < 0 ? r : 0;
}

/* A queued datagram that did not leave in a batch (runtime.c): its sender
 * was told "sent", so a failure reaches ops->error. */
static void send_single(uv_udp_t *udp, const uint8_t *buf, size_t len, const struct sockaddr *to,
                        int first) {
  rmc_endpoint *ep = udp->data;
  if (!ep->owner) return;
  if (!first) {
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
    first = uv_udp_try_send(&ep->udp, &b, 1, to);
  }
  int r = send_after(ep, buf, len, to, first);
  /* (A full send queue is ours, not the network's: counted, not reported.) */
  if (r < 0 && r != UV_ENOTCONN && r != UV_ENOBUFS && ep->owner && ep->ops->error) {
    rmp_addr d;
    rmc_addr_from_sockaddr(to, &d);
    ep->ops->error(ep->owner, ep, r, &d);
  }
}

static bool same_dest(const rmp_addr *a, const rmp_addr *b) {
  return a->family == b->family && a->port == b->port && a->scope == b->scope && memcmp(a->ip, b->ip, 16) == 0;
}

int rmc_endpoint_send(rmc_endpoint *ep, const uint8_t *buf, size_t len, const rmp_addr *to) {
  if (!ep || !ep->owner) return UV_ENOTCONN;
  if (!ep->have_dest || !same_dest(to, &ep->dest)) {
    int n;
    ep->have_dest = false;
    if (!rmc_reaches(ep->reach, to) || !(n = rmc_addr_to_sockaddr(to, ep->family, &ep->dest_ss)))
      return UV_EAFNOSUPPORT;
    ep->dest = *to;
    ep->dest_len = (socklen_t)n;
    ep->have_dest = true;
  }
  /* A copy: an error reported while sending may send elsewhere. */
  struct sockaddr_storage ss;
  memcpy(&ss, &ep->dest_ss, sizeof(struct sockaddr_in6)); /* fixed: inlined; covers both families */
  const struct sockaddr *sa = (const struct sockaddr *)&ss;
  if (rmc_sendq_add(ep->rt, &ep->udp, send_single, buf, len, sa)) return 0;
  /* A full queue was flushed first: a callback of that may have closed us. */
  if (!ep->owner || uv_is_closing((uv_handle_t *)&ep->udp)) return UV_ENOTCONN;
  uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
  return send_after(ep, buf, len, sa, uv_udp_try_send(&ep->udp, &b, 1, sa));
}

uint64_t rmc_endpoint_send_errors(const rmc_endpoint *ep) { return ep ? ep->send_errors : 0; }

uint64_t rmc_endpoint_send_dropped(const rmc_endpoint *ep) { return ep ? ep->send_dropped : 0; }

size_t rmc_endpoint_send_queued(const rmc_endpoint *ep) {
  return ep ? uv_udp_get_send_queue_size(&ep->udp) : 0;
}

uv_udp_t *rmc_endpoint_udp(rmc_endpoint *ep) { return ep ? &ep->udp : NULL; }

unsigned rmc_endpoint_read_pending(rmc_endpoint *ep, unsigned max) {
  unsigned n = 0;
#ifdef __linux__
  uv_os_fd_t fd;
  if (!ep || !ep->owner || uv_fileno((uv_handle_t *)&ep->udp, &fd) != 0) return 0;
  /* Not the runtime's receive buffer: the datagram being handled (the one
   * that asked for this read) may still be in it. Rare: a BY, a timeout. */
  enum { CAP = 65536 };
  uint8_t *buf = malloc(CAP);
  if (!buf) return 0;
  while (n < max && ep->owner) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    ssize_t k = recvfrom(fd, buf, CAP, MSG_DONTWAIT, (struct sockaddr *)&ss, &sl);
    if (k < 0) {
      if (errno == EINTR) continue;
      if (is_icmp_error(-errno) && report_errors(ep, -errno)) continue;
      break; /* EAGAIN: nothing more waits */
    }
    rmp_addr from;
    rmc_addr_from_sockaddr((struct sockaddr *)&ss, &from);
    ep->ops->recv(ep->owner, ep, buf, (size_t)k, &from);
    n++;
  }
  free(buf);
#else
  (void)ep;
  (void)max;
#endif
  return n;
}

/* ---- receiving ---- */

/* One read per wake. libuv reads a readable socket until recvmmsg says
 * EAGAIN (or 32 datagrams were read): after a batch that came back short the
 * socket was empty, and that last call costs a system call per wake for
 * nothing (a ping-pong pays it on every datagram). libuv's read loop
 * (src/unix/udp.c, uv__udp_recvmsg, libuv 1.x) asks for a buffer before each
 * recvmmsg, and an empty buffer ends the loop (one UV_ENOBUFS call, which
 * on_recv ignores): so after a short batch the next buffer is empty. A
 * datagram that arrives meanwhile wakes the loop again (epoll is level-
 * triggered). wake_n mirrors libuv's budget of 32 a wake, so that the mark is
 * not left for the next wake when libuv stops by itself; were the two ever to
 * disagree, the cost is one empty wake, never a datagram. */
enum { BATCH_MAX = RMC_RECV_BUFFER / 65536 < 20 ? RMC_RECV_BUFFER / 65536 : 20, WAKE_MAX = 32 };

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  rmc_endpoint *ep = h->data;
  if (!ep->owner || ep->short_batch) {
    ep->short_batch = false;
    ep->wake_n = 0;
    buf->base = NULL;
    buf->len = 0;
    return;
  }
  buf->base = ep->rt->recv_buffer;
  buf->len = sizeof ep->rt->recv_buffer;
}

/* One sendmmsg per wake. A full batch is followed, in the same wake, by
 * libuv's next recvmmsg (up to its budget): the burst then goes on through
 * it, so that what the callbacks of both send leaves in one sendmmsg at the
 * wake's end, as a blocking reader answering each recvmmsg with a sendmmsg
 * would not do better (bench/README.md: two reads of 20, one send of 40).
 * Held only when libuv surely calls again: its next recvmmsg ends with
 * UV_UDP_MMSG_FREE (datagrams) or a call without an address (EAGAIN, an
 * error), and the budget (wake_n) is the one libuv counts; a close inside
 * the burst forgets it (rmc_endpoint_close). */
static void end_held_burst(rmc_endpoint *ep) {
  if (!ep->burst_held) return;
  ep->burst_held = false;
  rmc_burst(ep->rt, &ep->udp, UV_UDP_MMSG_FREE);
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags) {
  rmc_endpoint *ep = h->data;
  if (!ep->owner) return;
  if (flags & UV_UDP_MMSG_CHUNK) {
    /* a held burst's next batch: its datagrams arrived by this read */
    if (ep->burst_held && ep->batch_n == 0 && ep->rt->batch_udp == h) ep->rt->burst_us = rmc_now_us();
    ep->batch_n++;
  } else if (flags & UV_UDP_MMSG_FREE) {
    /* the batch's end (on_alloc): short, libuv's loop goes on to EAGAIN */
    ep->wake_n += ep->batch_n;
    if (ep->wake_n >= WAKE_MAX) ep->wake_n = 0; /* libuv stops by itself */
    else ep->short_batch = ep->batch_n < BATCH_MAX;
    ep->batch_n = 0;
    if (ep->wake_n && !ep->short_batch && ep->rt->batch_udp == h) {
      ep->burst_held = true; /* libuv reads again now: the burst goes on */
      return;
    }
    ep->burst_held = false; /* ends below (rmc_burst) */
  } else if (!addr) {
    ep->wake_n = 0; /* EAGAIN, an error, or our own UV_ENOBUFS: the wake ends */
    end_held_burst(ep);
    if (!ep->owner || nread == UV_ENOBUFS) return;
  }
  /* A burst read with recvmmsg: what its callbacks send leaves at its end,
   * one sendmmsg per socket (runtime.c). */
  if (!rmc_burst(ep->rt, h, flags)) return;
  if (nread < 0) {
    if (is_icmp_error((int)nread)) report_errors(ep, (int)nread);
    return;
  }
  if (!addr) return;
  rmp_addr from;
  if (addr->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
    if (!ep->have_src4 || in->sin_port != ep->src4.sin_port || in->sin_addr.s_addr != ep->src4.sin_addr.s_addr) {
      ep->src4 = *in;
      rmc_addr_from_sockaddr(addr, &ep->src4_addr);
      ep->have_src4 = true;
    }
    from = ep->src4_addr;
  } else {
    rmc_addr_from_sockaddr(addr, &from);
  }
  ep->ops->recv(ep->owner, ep, (const uint8_t *)buf->base, (size_t)nread, &from);
}

/* ---- lifetime ---- */

static void on_closed(uv_handle_t *h) { free(h->data); }

#ifdef __linux__
/* Drops, in the kernel, an IPv6 datagram whose source is IPv4-mapped
 * (::ffff:a.b.c.d). Such an address must not appear on the wire (RFC 4291
 * 2.5.5.2), yet Linux delivers one to a dual-stack socket, which reads it as
 * an IPv4 peer: a LAN host could speak as any IPv4 address, 127.0.0.1
 * included (draft-itojun-v6ops-v4mapped-harmful-02; csrc/test/
 * test_v4mapped_forged.c). The filter reads the network header (SKF_NET_OFF):
 * an IPv4 datagram on the same socket passes. */
static void drop_mapped_sources(uv_os_fd_t fd) {
  static struct sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, (uint32_t)SKF_NET_OFF + 0), /* version */
      BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 4),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, 0, 7),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + 8), /* source, 0..3 */
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 5),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + 12), /* 4..7 */
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + 16), /* 8..11 */
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x0000FFFF, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, 0),          /* mapped: dropped */
      BPF_STMT(BPF_RET | BPF_K, 0xFFFFFFFF), /* the rest: whole */
  };
  struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
  setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
}
#endif

/* Opens one socket bound to local; an IPv6 "::" one dual-stack. */
static int open_at(rtpmidi_runtime *rt, const rmp_addr *local, const rmc_endpoint_ops *ops, void *owner,
                   rmc_endpoint **out) {
  static const uint8_t ANY6[16] = {0};
  bool v6 = local->family == RMP_AF_INET6;
  bool dual = v6 && memcmp(local->ip, ANY6, 16) == 0 && !local->scope;
  rmc_endpoint *ep = calloc(1, sizeof *ep);
  if (!ep) return UV_ENOMEM;
  /* The socket exists from here (not at the bind): IPV6_V6ONLY must be
   * set before it is bound. */
  int r = uv_udp_init_ex(rt->loop, &ep->udp, (v6 ? AF_INET6 : AF_INET) | UV_UDP_RECVMMSG);
  if (r) {
    free(ep);
    return r;
  }
  ep->udp.data = ep;
  ep->rt = rt;
  ep->ops = ops;
  ep->owner = owner;
  ep->family = local->family;
  ep->reach = v6 ? RMC_REACH_V6 : RMC_REACH_V4;
  uv_os_fd_t fd;
  bool has_fd = uv_fileno((uv_handle_t *)&ep->udp, &fd) == 0;
  if (dual && has_fd) {
    /* Off whatever net.ipv6.bindv6only says: IPv4 peers arrive as
     * ::ffff:a.b.c.d (RFC 3493 5.3). */
    int off = 0;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) == 0) ep->reach = RMC_REACH_BOTH;
  }
#ifdef __linux__
  if (v6 && has_fd) drop_mapped_sources(fd);
#endif
  struct sockaddr_storage ss;
  rmc_addr_to_sockaddr(local, local->family, &ss);
  r = uv_udp_bind(&ep->udp, (const struct sockaddr *)&ss, 0);
  if (!r) {
    /* Room for bursts (a SysEx dump, a busy loop turn): ask for 1 MiB each
     * way; the kernel may give less, which is fine. */
    int size = 1 << 20;
    uv_recv_buffer_size((uv_handle_t *)&ep->udp, &size);
    size = 1 << 20;
    uv_send_buffer_size((uv_handle_t *)&ep->udp, &size);
#ifdef __linux__
    /* ICMP errors (port unreachable) reach an unconnected UDP socket only
     * with IP_RECVERR: then as ECONNREFUSED from recv or send, and as an
     * entry of the error queue naming the destination that bounced. A
     * dual-stack socket needs both: ICMPv4 errors for its IPv4 peers are
     * queued by IP_RECVERR (ip(7), ipv6(7)). */
    if (has_fd) {
      int on = 1;
      if (ep->reach & RMC_REACH_V4) setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof on);
      if (v6) setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof on);
    }
#endif
    struct sockaddr_storage me;
    int n = sizeof me;
    if (uv_udp_getsockname(&ep->udp, (struct sockaddr *)&me, &n) == 0) {
      rmp_addr m;
      rmc_addr_from_sockaddr((struct sockaddr *)&me, &m);
      ep->port = m.port;
    }
    r = uv_udp_recv_start(&ep->udp, on_alloc, on_recv);
  }
  if (r) {
    ep->owner = NULL;
    uv_close((uv_handle_t *)&ep->udp, on_closed);
    return r;
  }
  *out = ep;
  return 0;
}

int rmc_endpoint_open(rtpmidi_runtime *rt, const char *bind_address, int family, int port,
                      const rmc_endpoint_ops *ops, void *owner, rmc_endpoint **out) {
  rmp_addr local;
  if (bind_address) {
    if (rmc_addr_parse(bind_address, (uint16_t)port, &local)) return UV_EINVAL;
    return open_at(rt, &local, ops, owner, out);
  }
  memset(&local, 0, sizeof local);
  local.family = (uint8_t)(family == RMP_AF_INET ? RMP_AF_INET : RMP_AF_INET6);
  local.port = (uint16_t)port;
  int r = open_at(rt, &local, ops, owner, out);
  /* A host without IPv6 (ipv6.disable=1: no AF_INET6 sockets, or no
   * address to bind): IPv4 alone. */
  if (family == RMP_AF_NONE && (r == UV_EAFNOSUPPORT || r == UV_EADDRNOTAVAIL || r == UV_EPROTONOSUPPORT)) {
    local.family = RMP_AF_INET;
    r = open_at(rt, &local, ops, owner, out);
  }
  return r;
}

void rmc_endpoint_close(rmc_endpoint *ep) {
  if (!ep || !ep->owner) return;
  /* What its sessions queued during this burst leaves first, in order. */
  rmc_sendq_flush(ep->rt);
  ep->owner = NULL;
  /* Closed inside its own burst: libuv makes no UV_UDP_MMSG_FREE call. */
  ep->burst_held = false;
  rmc_burst_forget(ep->rt, &ep->udp);
  uv_udp_recv_stop(&ep->udp);
  uv_close((uv_handle_t *)&ep->udp, on_closed);
}

uint64_t rmc_endpoint_foreign_icmp(const rmc_endpoint *ep) { return ep ? ep->foreign_icmp : 0; }
int rmc_endpoint_port(const rmc_endpoint *ep) { return ep ? ep->port : 0; }
int rmc_endpoint_family(const rmc_endpoint *ep) { return ep ? ep->family : 0; }
int rmc_endpoint_reach(const rmc_endpoint *ep) { return ep ? ep->reach : 0; }

/* Whether `a` is one of the machine's own addresses. */
static bool is_local_host(const rmp_addr *a) {
  if (rmp_addr_is_loopback(a)) return true;
  /* Rare (our SSRC seen on the wire): asking the system is fine. */
  uv_interface_address_t *ifs;
  int n;
  bool found = false;
  if (uv_interface_addresses(&ifs, &n) == 0) {
    for (int i = 0; i < n && !found; i++) {
      rmp_addr x;
      rmc_addr_from_sockaddr((const struct sockaddr *)&ifs[i].address, &x);
      found = rmp_addr_same_host(a, &x);
    }
    uv_free_interface_addresses(ifs, n);
  }
  return found;
}

bool rmc_endpoint_is_own(const rmc_endpoint *ep, const rmp_addr *a) {
  return ep && a->port == ep->port && ep->port != 0 && is_local_host(a);
}
