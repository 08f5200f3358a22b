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

/* Which families a socket reaches (a bit set). */
enum { RMC_REACH_V4 = 1, RMC_REACH_V6 = 2, RMC_REACH_BOTH = 3 };

/* Opens a socket bound to bind_address and port (0: any), reading from the
 * loop at once. bind_address is an IP literal (rmc_addr_parse: an IPv6 one
 * may name its scope "%eth0"); "::" is dual-stack (IPV6_V6ONLY off: IPv4
 * peers too, seen as their IPv4 address). NULL: any address of `family`:
 * RMP_AF_INET "0.0.0.0", RMP_AF_INET6 "::" (dual-stack), RMP_AF_NONE "::"
 * dual-stack, or "0.0.0.0" when the host has no IPv6. ops is kept by
 * pointer (static storage). Returns 0 or a negative UV_E* code (UV_EINVAL:
 * bind_address is no address). */
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
/* The families it reaches: RMC_REACH_* (0 for NULL). */
int rmc_endpoint_reach(const rmc_endpoint *ep);
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
/* ICMP port unreachable errors not sent by the host they are about (their
 * offender is another): forged, not reported (endpoint.c, report_errors). */
uint64_t rmc_endpoint_foreign_icmp(const rmc_endpoint *ep);
/* Datagrams dropped because RMC_SEND_QUEUE_MAX octets already waited. */
uint64_t rmc_endpoint_send_dropped(const rmc_endpoint *ep);
/* Octets waiting for the socket now. */
size_t rmc_endpoint_send_queued(const rmc_endpoint *ep);
/* The libuv handle (tests: to see and seed its send queue; never close it). */
uv_udp_t *rmc_endpoint_udp(rmc_endpoint *ep);
/* True when `a` is this endpoint itself: our port on a local address
 * (a packet of ours that looped back). */
bool rmc_endpoint_is_own(const rmc_endpoint *ep, const rmp_addr *a);

/* What a socket bound to bind_address reaches (RMC_REACH_*): NULL and "::"
 * both families (a host without IPv6: IPv4 only, which rmc_endpoint_reach
 * tells once it is open), an IPv4 address IPv4, another IPv6 address IPv6.
 * 0 when bind_address is no address. */
int rmc_bind_reach(const char *bind_address);
/* Whether a socket reaching `reach` (RMC_REACH_*) can send to a. */
bool rmc_reaches(int reach, const rmp_addr *a);

/* Resolves host off the loop (uv_getaddrinfo) to datagram addresses a
 * socket reaching `reach` (RMC_REACH_*) can use: cb gets them, to be
 * picked with rmc_pick_addr. A name may resolve to IPv6 only ("%scope"
 * literals such as "fe80::1%eth0" resolve too). 0 or a negative UV_E*
 * code (cb is not called then). */
int rmc_resolve_host(uv_loop_t *loop, uv_getaddrinfo_t *req, uv_getaddrinfo_cb cb, const char *host,
                     int reach);
/* The address to use among getaddrinfo's results for a socket reaching
 * `reach`: the first IPv4 one (most peers listen on IPv4; a dual-stack
 * name keeps working with IPv4-only peers), else the first IPv6 one. The
 * port is left 0. Returns 0, or -1 when none fits. */
int rmc_pick_addr(const struct addrinfo *res, int reach, rmp_addr *out);

/* Parses an IP literal as rmp_addr_parse does, with what needs the system:
 * an IPv6 scope given as an interface name ("fe80::1%eth0"). An
 * IPv4-mapped literal becomes its IPv4 address. 0, or -1 when text is no
 * literal (or names no interface). */
int rmc_addr_parse(const char *text, uint16_t port, rmp_addr *out);
/* The IP of a as the user reads and writes it (no port): IPv4 dotted
 * (also when it came as ::ffff:a.b.c.d), IPv6 with its scope as the
 * interface's name ("fe80::1%eth0"; the number when the interface is
 * gone). rmc_addr_parse reads it back. Returns its length; n >=
 * RMP_ADDR_TEXT always suffices. */
size_t rmc_addr_text(const rmp_addr *a, char *out, size_t n);

/* struct sockaddr <-> rmp_addr. An IPv4-mapped source (a dual-stack
 * socket's IPv4 peer) becomes its IPv4 address: the machines and the user
 * see one form for one host. */
void rmc_addr_from_sockaddr(const struct sockaddr *sa, rmp_addr *out);
/* Fills ss for a socket of `family` (an IPv4 address is mapped to
 * ::ffff:a.b.c.d for an IPv6 socket): the returned length of it, the rest
 * is left as it was. Returns that length, 0 when it cannot be reached from
 * such a socket. */
int rmc_addr_to_sockaddr(const rmp_addr *a, int family, struct sockaddr_storage *ss);

#endif
