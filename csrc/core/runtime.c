#include "session_internal.h"

#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <errno.h>
#include <sys/socket.h>
#endif

static void drop_hooks(rtpmidi_runtime *rt);

rtpmidi_runtime *rtpmidi_runtime_new(uv_loop_t *loop) {
  rtpmidi_runtime *rt = calloc(1, sizeof *rt);
  if (!rt) return NULL;
  rt->loop = loop;
  return rt;
}

uv_loop_t *rtpmidi_runtime_loop(rtpmidi_runtime *rt) { return rt->loop; }

void rmc_runtime_join(rtpmidi_runtime *rt, rmc_member *m, void *owner, void *events,
                      size_t events_size, const bool *host_freed, void (*close)(void *owner)) {
  m->rt = rt;
  m->owner = owner;
  m->events = events;
  m->events_size = events_size;
  m->host_freed = host_freed;
  m->close = close;
  m->prev = NULL;
  m->next = rt->members;
  if (rt->members) rt->members->prev = m;
  rt->members = m;
}

void rmc_runtime_leave(rmc_member *m) {
  if (!m->owner) return;
  rtpmidi_runtime *rt = m->rt;
  if (m->prev) m->prev->next = m->next;
  else rt->members = m->next;
  if (m->next) m->next->prev = m->prev;
  m->owner = NULL;
  m->prev = m->next = NULL;
  if (rt->closed && !rt->members) free(rt);
}

enum { DETACH, CLOSE };

/* One round over the members the host has not freed (runtime.h). A close
 * never releases a member (the host has not freed it), but the list is
 * walked with the next one in hand all the same. */
static void shutdown_round(rtpmidi_runtime *rt, int round) {
  for (rmc_member *m = rt->members, *next; m; m = next) {
    next = m->next;
    if (*m->host_freed) continue;
    if (round == DETACH) memset(m->events, 0, m->events_size);
    else m->close(m->owner);
  }
}

void rtpmidi_runtime_free(rtpmidi_runtime *rt) {
  if (!rt || rt->closed) return;
  rt->closed = true;
  shutdown_round(rt, DETACH);
  /* What the burst being delivered queued leaves while its sockets are
   * open (its errors reach nobody now); from here on nothing queues: the
   * stops below send their goodbyes at once, and the burst's end, should
   * it come, finds none. */
  rmc_sendq_flush(rt);
  drop_hooks(rt);
  rt->batch_udp = NULL;
  shutdown_round(rt, CLOSE);
  if (!rt->members) free(rt);
}

double rtpmidi_now_ms(void) { return (double)uv_hrtime() / 1e6; }
uint64_t rmc_now_us(void) { return uv_hrtime() / 1000u; }

void rmc_random(void *buf, size_t n) {
  if (uv_random(NULL, NULL, buf, n, 0, NULL) != 0) {
    /* The system's source failed: mix the clock in so values still differ. */
    uint64_t t = uv_hrtime();
    unsigned char *p = buf;
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(t >> ((i % 8) * 8)) ^ (unsigned char)(i * 131);
  }
}

char *rmc_dup_str(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

/* ---- the send queue ----
 * A session answering a burst (an echo, a relay, a sender paced by what it
 * receives) would otherwise make one sendmsg per datagram: on loopback that
 * system call, not the network stack, is most of the cost of a packet. Only
 * sends made while a burst is delivered queue, and the burst's end (libuv's
 * UV_UDP_MMSG_FREE callback, right after its last datagram) flushes them:
 * no datagram waits for anything but the callbacks of its own burst, and a
 * send at any other time (a timer, the host's code) goes out at once, its
 * errors returned as before. */

#ifdef __linux__
/* Sends queued datagrams first..end-1, all for one socket. Returns how many
 * it consumed (at least one). */
static unsigned send_run(rtpmidi_runtime *rt, unsigned first, unsigned end) {
  rmc_queued *q = &rt->sendq[first];
  uv_udp_t *udp = q->udp;
  /* Stopped by a callback of this flush: the datagrams went with its socket. */
  if (uv_is_closing((uv_handle_t *)udp)) return end - first;
  const uint8_t *data = rt->sendq_data + q->off;
  uv_os_fd_t fd;
  /* Datagrams libuv holds for this socket (its buffer was full) go first:
   * ours then follow them through libuv (the single way). */
  if (rt->no_sendmmsg || uv_udp_get_send_queue_count(udp) != 0 || uv_fileno((uv_handle_t *)udp, &fd) != 0) {
    q->single(udp, data, q->len, &q->to.sa, 0);
    return 1;
  }
  struct mmsghdr msg[RMC_SENDQ_MAX];
  struct iovec iov[RMC_SENDQ_MAX];
  unsigned n = end - first;
  for (unsigned i = 0; i < n; i++) {
    /* each field set (no memset of the whole array: a wake's 40 headers
     * are 2.5 KiB, which glibc clears with rep stosb) */
    iov[i].iov_base = rt->sendq_data + q[i].off;
    iov[i].iov_len = q[i].len;
    msg[i].msg_len = 0;
    msg[i].msg_hdr.msg_control = NULL;
    msg[i].msg_hdr.msg_controllen = 0;
    msg[i].msg_hdr.msg_flags = 0;
    msg[i].msg_hdr.msg_iov = &iov[i];
    msg[i].msg_hdr.msg_iovlen = 1;
    msg[i].msg_hdr.msg_name = &q[i].to;
    msg[i].msg_hdr.msg_namelen = q[i].to.sa.sa_family == AF_INET6 ? sizeof q[i].to.in6 : sizeof q[i].to.in4;
  }
  int k;
  do k = sendmmsg(fd, msg, n, 0); while (k < 0 && errno == EINTR);
  if (k > 0) return (unsigned)k;
  if (k < 0 && errno == ENOSYS) {
    /* Filtered out (a sandbox): from now on every datagram goes out at once. */
    rt->no_sendmmsg = true;
    q->single(udp, data, q->len, &q->to.sa, 0);
  } else {
    /* The first datagram failed: the single send's handling (an ICMP error
     * of an earlier datagram, a full buffer) decides, as for a send made now. */
    q->single(udp, data, q->len, &q->to.sa, k < 0 ? -errno : UV_EAGAIN);
  }
  return 1;
}
#endif

bool rmc_sendq_add(rtpmidi_runtime *rt, uv_udp_t *udp, rmc_send_single_fn single, const uint8_t *buf,
                   size_t len, const struct sockaddr *to) {
#ifdef __linux__
  if (!rt->batch_udp || rt->flushing || rt->no_sendmmsg) return false;
  if (rt->sendq_n == RMC_SENDQ_MAX || rt->sendq_bytes + len > RMC_SENDQ_BYTES) rmc_sendq_flush(rt);
  /* The flush's callbacks may have stopped the burst's owner, or this
   * socket's (it is closing: its sender sees that). */
  if (!rt->batch_udp || uv_is_closing((uv_handle_t *)udp) || len > RMC_SENDQ_BYTES) return false;
  rmc_queued *q = &rt->sendq[rt->sendq_n++];
  q->udp = udp;
  q->single = single;
  q->off = (uint32_t)rt->sendq_bytes;
  q->len = (uint32_t)len;
  memcpy(&q->to, to, to->sa_family == AF_INET6 ? sizeof q->to.in6 : sizeof q->to.in4);
  memcpy(rt->sendq_data + rt->sendq_bytes, buf, len);
  rt->sendq_bytes += len;
  return true;
#else
  (void)rt; (void)udp; (void)single; (void)buf; (void)len; (void)to;
  return false; /* no sendmmsg: every datagram goes out at once */
#endif
}

/* Drops every deferred hook: none runs. */
static void drop_hooks(rtpmidi_runtime *rt) {
  while (rt->hooks) {
    rmc_burst_hook *h = rt->hooks;
    rt->hooks = h->next;
    h->queued = false;
  }
}

bool rmc_burst(rtpmidi_runtime *rt, uv_udp_t *udp, unsigned flags) {
  if (flags & UV_UDP_MMSG_FREE) {
    if (rt->batch_udp == udp) {
      /* The hooks first, while sends still queue: their packets leave with
       * the others, in the order they were given. A hook asked for while
       * they run waits for its owner's end-of-turn flush. */
      rt->running_hooks = true;
      rmc_burst_hook *fwd = NULL; /* asked for newest first: run oldest first */
      while (rt->hooks) {
        rmc_burst_hook *h = rt->hooks;
        rt->hooks = h->next;
        h->next = fwd;
        fwd = h;
      }
      rt->hooks = fwd;
      while (rt->hooks && rt->batch_udp == udp) {
        rmc_burst_hook *h = rt->hooks;
        rt->hooks = h->next;
        h->queued = false;
        h->run(h->owner);
      }
      rt->running_hooks = false;
      drop_hooks(rt); /* left when a hook's callback closed udp */
      rt->batch_udp = NULL;
      rmc_sendq_flush(rt);
    }
    return false;
  }
  /* The datagrams of a burst were all in the socket when recvmmsg returned:
   * they share that arrival time, one clock read for the burst. */
  if ((flags & UV_UDP_MMSG_CHUNK) && rt->batch_udp != udp) {
    rt->batch_udp = udp;
    rt->burst_us = rmc_now_us();
  }
  return true;
}

void rmc_burst_forget(rtpmidi_runtime *rt, uv_udp_t *udp) {
  if (rt->batch_udp != udp) return;
  rt->batch_udp = NULL;
  drop_hooks(rt);
}

bool rmc_burst_defer(rtpmidi_runtime *rt, rmc_burst_hook *h) {
  if (!rt->batch_udp || rt->running_hooks) return false;
  if (!h->queued) {
    /* newest first; the burst's end runs them in the order first asked for */
    h->next = rt->hooks;
    rt->hooks = h;
    h->queued = true;
  }
  return true;
}

void rmc_burst_cancel(rtpmidi_runtime *rt, rmc_burst_hook *h) {
  if (!h->queued) return;
  for (rmc_burst_hook **pp = &rt->hooks; *pp; pp = &(*pp)->next) {
    if (*pp == h) {
      *pp = h->next;
      break;
    }
  }
  h->queued = false;
}

void rmc_sendq_flush(rtpmidi_runtime *rt) {
#ifdef __linux__
  if (rt->flushing || !rt->sendq_n) return;
  rt->flushing = true;
  unsigned n = rt->sendq_n, i = 0;
  while (i < n) {
    unsigned end = i + 1; /* a run of datagrams for one socket: one sendmmsg */
    while (end < n && rt->sendq[end].udp == rt->sendq[i].udp) end++;
    i += send_run(rt, i, end);
  }
  rt->sendq_n = 0;
  rt->sendq_bytes = 0;
  rt->flushing = false;
#else
  (void)rt;
#endif
}
