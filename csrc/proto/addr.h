/* A network address as a plain value: what the socket-free machines of
 * csrc/proto compare, store and hand back, without <sys/socket.h>. The
 * runtime (csrc/core/endpoint.c) converts it from and to struct sockaddr.
 * Every "is this the same host / the same endpoint" decision is made here,
 * once. */
#ifndef RMP_ADDR_H
#define RMP_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { RMP_AF_NONE = 0, RMP_AF_INET = 4, RMP_AF_INET6 = 6 };

typedef struct rmp_addr {
  uint8_t family;   /* RMP_AF_*; zeroed: no address */
  uint8_t ip[16];   /* network order; IPv4 in the first 4 octets, the rest zero */
  uint16_t port;    /* host order */
  uint32_t scope;   /* IPv6 scope id (link-local), else 0 */
} rmp_addr;

/* Longest text rmp_addr_format writes, with its NUL ("[v6%scope]:port"). */
#define RMP_ADDR_TEXT 64

/* An IPv4 address from its 4 octets (network order) and a port. */
rmp_addr rmp_addr_v4(const uint8_t ip[4], uint16_t port);
/* An IPv6 address from its 16 octets, port and scope id. */
rmp_addr rmp_addr_v6(const uint8_t ip[16], uint16_t port, uint32_t scope);
/* The same address with another port. */
rmp_addr rmp_addr_with_port(rmp_addr a, uint16_t port);
/* The IPv4 form of an IPv4-mapped IPv6 address (::ffff:a.b.c.d, what a
 * dual-stack socket reports for an IPv4 peer): a.b.c.d, same port. Any
 * other address is returned as it is. */
rmp_addr rmp_addr_unmap(rmp_addr a);
/* Same family and IP (and scope for IPv6); ports are not compared. An
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the same host as a.b.c.d. */
bool rmp_addr_same_host(const rmp_addr *a, const rmp_addr *b);
/* Same host and same port. */
bool rmp_addr_equal(const rmp_addr *a, const rmp_addr *b);
/* 127.0.0.0/8 or ::1 (or ::ffff:127.x.y.z). */
bool rmp_addr_is_loopback(const rmp_addr *a);
/* The IP as text ("10.0.0.2", "fe80::1%3"), no port; an IPv4-mapped
 * address as its IPv4 form. Returns its length,
 * or 0 (and "") for no address. n >= RMP_ADDR_TEXT always suffices. */
size_t rmp_addr_host(const rmp_addr *a, char *out, size_t n);
/* Parses an IPv4 or IPv6 literal (an IPv6 one may end in "%<number>"),
 * no host names. Returns 0, or -1 when it is not a literal. */
int rmp_addr_parse(const char *text, uint16_t port, rmp_addr *out);

#endif
