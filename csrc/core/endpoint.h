/* One UDP endpoint of the runtime, used by every session kind: the socket,
 * reading bursts with recvmmsg, batched sends (the runtime's send queue),
 * ICMP errors read from the socket's error queue with the destination that
 * bounced, and address conversion to the plain values of csrc/proto/addr.h.
 * A session owns its endpoints; an endpoint never outlives its runtime.
 * Not part of the public API. */
#ifndef RMC_ENDPOINT_H
#define RMC_ENDPOINT_H

#include "addr.h"
#include "runtime.h"

typedef struct rmc_endpoint rmc_endpoint;

/* The most octets that wait per endpoint for a socket whose buffer is full
 * (copies libuv sends when it can); beyond, a datagram is dropped
 * (UV_ENOBUFS, counted in send_errors and send_dropped). */
#define RMC_SEND_QUEUE_MAX (256u * 1024u)

typedef struct rmc_endpoint_ops {
  /* One datagram. buf is the runtime's receive buffer: valid until return. */
  void (*recv)(void *owner, rmc_endpoint *ep, const uint8_t *buf, size_t len, const rmp_addr *from);
  /* An ICMP error (port or host unreachable) for a datagram we sent to
   * `dest` (NULL when the system did not say which), or a refused send
   * queued during a burst. err is a negative UV_E* code. Optional. */
  void (*error)(void *owner, rmc_endpoint *ep, int err, const rmp_addr *dest);
} rmc_endpoint_ops;

/* Opens a socket bound to bind_address (an IP literal; NULL: any address
 * of `family`, RMP_AF_INET or RMP_AF_INET6) and port (0: any), reading
 * from the loop at once. ops is kept by pointer (static storage). Returns
 * 0 or a negative UV_E* code. */
int rmc_endpoint_open(rtpmidi_runtime *rt, const char *bind_address, int family, int port,
                      const rmc_endpoint_ops *ops, void *owner, rmc_endpoint **out);
/* Stops reading, detaches the owner (no callback after this returns) and
 * frees the endpoint once libuv closed the socket. NULL is fine. Datagrams
 * it queued during a burst still leave first. */
void rmc_endpoint_close(rmc_endpoint *ep);
/* The bound port (0 when unknown). */
int rmc_endpoint_port(const rmc_endpoint *ep);
/* The bound family: RMP_AF_INET or RMP_AF_INET6. */
int rmc_endpoint_family(const rmc_endpoint *ep);
/* Sends a datagram to `to`. While a burst is being delivered it joins the
 * runtime's send queue and leaves at the burst's end (0 then means queued;
 * a later failure reaches ops->error). Otherwise it goes now: an ICMP error
 * of an earlier datagram that the system reports on this send reaches
 * ops->error first and the send is tried once more; a full socket buffer
 * gets a copy that libuv sends later, while at most RMC_SEND_QUEUE_MAX
 * octets wait (beyond: UV_ENOBUFS, counted, never reported to ops->error).
 * Returns 0 or a negative UV_E* code (UV_ENOTCONN once closed, or when
 * ops->error closed it). */
int rmc_endpoint_send(rmc_endpoint *ep, const uint8_t *buf, size_t len, const rmp_addr *to);
/* Reads, now, up to max datagrams already waiting in the socket and hands
 * each to ops->recv (ICMP errors met on the way to ops->error), without
 * waiting for the loop to poll it: what a peer sent on this socket before
 * something it sent on another (AppleMIDI's BY after its last MIDI, on the
 * other port) is then handled first, and what queued while the process was
 * stopped is read before a timeout is decided. Returns how many it read. */
unsigned rmc_endpoint_read_pending(rmc_endpoint *ep, unsigned max);
/* Datagrams the system refused on this endpoint, since it opened (those
 * dropped on a full send queue included). */
uint64_t rmc_endpoint_send_errors(const rmc_endpoint *ep);
/* Datagrams dropped because RMC_SEND_QUEUE_MAX octets already waited. */
uint64_t rmc_endpoint_send_dropped(const rmc_endpoint *ep);
/* Octets waiting for the socket now. */
size_t rmc_endpoint_send_queued(const rmc_endpoint *ep);
/* The libuv handle (tests: to see and seed its send queue; never close it). */
uv_udp_t *rmc_endpoint_udp(rmc_endpoint *ep);
/* True when `a` is this endpoint itself: our port on a local address
 * (a packet of ours that looped back). */
bool rmc_endpoint_is_own(const rmc_endpoint *ep, const rmp_addr *a);

/* Resolves host off the loop (uv_getaddrinfo) to datagram addresses of
 * family (RMP_AF_INET, RMP_AF_INET6, or RMP_AF_NONE: either): cb gets them.
 * 0 or a negative UV_E* code (cb is not called then). */
int rmc_resolve_host(uv_loop_t *loop, uv_getaddrinfo_t *req, uv_getaddrinfo_cb cb, const char *host,
                     int family);

/* struct sockaddr <-> rmp_addr. */
void rmc_addr_from_sockaddr(const struct sockaddr *sa, rmp_addr *out);
/* Fills ss for a socket of `family` (an IPv4 address is mapped to
 * ::ffff:a.b.c.d for an IPv6 socket): the returned length of it, the rest
 * is left as it was. Returns that length, 0 when it cannot be reached from
 * such a socket. */
int rmc_addr_to_sockaddr(const rmp_addr *a, int family, struct sockaddr_storage *ss);

#endif
