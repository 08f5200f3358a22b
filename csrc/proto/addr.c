/* Plain address values (addr.h). inet_pton/inet_ntop are libc: no I/O. */
#include "addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t V4_MAPPED[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

rmp_addr rmp_addr_v4(const uint8_t ip[4], uint16_t port) {
  rmp_addr a;
  memset(&a, 0, sizeof a);
  a.family = RMP_AF_INET;
  memcpy(a.ip, ip, 4);
  a.port = port;
  return a;
}

rmp_addr rmp_addr_v6(const uint8_t ip[16], uint16_t port, uint32_t scope) {
  rmp_addr a;
  memset(&a, 0, sizeof a);
  a.family = RMP_AF_INET6;
  memcpy(a.ip, ip, 16);
  a.port = port;
  a.scope = scope;
  return a;
}

rmp_addr rmp_addr_with_port(rmp_addr a, uint16_t port) {
  a.port = port;
  return a;
}

/* The IPv4 octets of a (an IPv4 address or an IPv4-mapped IPv6 one), or NULL.
 * The mapped form is ::ffff:a.b.c.d (RFC 4291 2.5.5.2). */
static const uint8_t *v4_of(const rmp_addr *a) {
  if (a->family == RMP_AF_INET) return a->ip;
  if (a->family == RMP_AF_INET6 && memcmp(a->ip, V4_MAPPED, 12) == 0) return a->ip + 12;
  return NULL;
}

rmp_addr rmp_addr_unmap(rmp_addr a) {
  if (a.family != RMP_AF_INET6 || memcmp(a.ip, V4_MAPPED, 12) != 0) return a;
  return rmp_addr_v4(a.ip + 12, a.port);
}

bool rmp_addr_same_host(const rmp_addr *a, const rmp_addr *b) {
  if (a->family == RMP_AF_NONE || b->family == RMP_AF_NONE) return false;
  const uint8_t *x = v4_of(a), *y = v4_of(b);
  if (x || y) return x && y && memcmp(x, y, 4) == 0;
  return memcmp(a->ip, b->ip, 16) == 0 && a->scope == b->scope;
}

bool rmp_addr_equal(const rmp_addr *a, const rmp_addr *b) {
  return a->port == b->port && rmp_addr_same_host(a, b);
}

bool rmp_addr_is_loopback(const rmp_addr *a) {
  static const uint8_t LO6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  const uint8_t *v4 = v4_of(a);
  if (v4) return v4[0] == 127;
  return a->family == RMP_AF_INET6 && memcmp(a->ip, LO6, 16) == 0;
}

size_t rmp_addr_host(const rmp_addr *a, char *out, size_t n) {
  char buf[RMP_ADDR_TEXT] = "";
  const uint8_t *v4 = v4_of(a);
  if (v4) {
    inet_ntop(AF_INET, v4, buf, sizeof buf);
  } else if (a->family == RMP_AF_INET6) {
    char v6[INET6_ADDRSTRLEN] = "";
    inet_ntop(AF_INET6, a->ip, v6, sizeof v6);
    if (a->scope) snprintf(buf, sizeof buf, "%s%%%lu", v6, (unsigned long)a->scope);
    else snprintf(buf, sizeof buf, "%s", v6);
  }
  if (n) snprintf(out, n, "%s", buf);
  return strlen(buf);
}

int rmp_addr_parse(const char *text, uint16_t port, rmp_addr *out) {
  uint8_t ip[16];
  if (!text) return -1;
  if (inet_pton(AF_INET, text, ip) == 1) {
    *out = rmp_addr_v4(ip, port);
    return 0;
  }
  char host[INET6_ADDRSTRLEN + 1];
  const char *pct = strchr(text, '%');
  size_t hl = pct ? (size_t)(pct - text) : strlen(text);
  if (hl >= sizeof host) return -1;
  memcpy(host, text, hl);
  host[hl] = '\0';
  unsigned long scope = 0;
  if (pct) {
    char *end;
    if (!pct[1]) return -1;
    scope = strtoul(pct + 1, &end, 10);
    if (*end || scope > UINT32_MAX) return -1; /* interface names are the runtime's to map */
  }
  if (inet_pton(AF_INET6, host, ip) != 1) return -1;
  *out = rmp_addr_v6(ip, port, (uint32_t)scope);
  return 0;
}
