/* A forged IPv4-mapped source (hostile LAN, issue 18 item 10 turned
 * around). A dual-stack socket takes IPv4 peers as ::ffff:a.b.c.d, and the
 * endpoint reads that as the IPv4 address a.b.c.d (rmp_addr_unmap). An IPv6
 * datagram whose source is itself ::ffff:a.b.c.d reached the same socket
 * (Linux 6.18 delivers it, also from another host over a real link: seen
 * across a veth pair between two network namespaces), and was then
 * a.b.c.d: any IPv4 address, 127.0.0.1 included, which the IPv4 stack
 * never takes from outside. A LAN host could pass `accept = {"127.0.0.1"}`
 * or speak as a participant on this machine. Such an address must not
 * appear on the wire (RFC 4291 2.5.5.2; draft-itojun-v6ops-v4mapped-
 * harmful-02): the endpoint's IPv6 sockets drop it.
 *
 * Real sockets on loopback; the forged datagram comes from a raw IPv6
 * socket (root or CAP_NET_RAW, else skipped with 77). */
#include "check.h"
#include "endpoint.h"
#include "runtime.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static unsigned received;
static rmp_addr last_from;

static void on_recv(void *owner, rmc_endpoint *ep, const uint8_t *buf, size_t len, const rmp_addr *from) {
  (void)owner;
  (void)ep;
  (void)buf;
  (void)len;
  received++;
  last_from = *from;
}

static void on_error(void *owner, rmc_endpoint *ep, int err, const rmp_addr *dest) {
  (void)owner;
  (void)ep;
  (void)err;
  (void)dest;
}

static const rmc_endpoint_ops OPS = {on_recv, on_error};

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s) {
  for (size_t i = 0; i + 1 < n; i += 2) s += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (n & 1) s += (uint32_t)(p[n - 1] << 8);
  return s;
}

/* An IPv6 UDP datagram from src:40000 to ::1:dport, written whole
 * (IPPROTO_RAW: the header is ours, RFC 8200 3; checksum RFC 8200 8.1). */
static int send_v6(int raw, const char *src, uint16_t dport) {
  uint8_t pkt[40 + 8 + 4];
  memset(pkt, 0, sizeof pkt);
  const uint16_t ulen = 8 + 4;
  pkt[0] = 0x60;
  pkt[4] = 0;
  pkt[5] = (uint8_t)ulen;
  pkt[6] = IPPROTO_UDP;
  pkt[7] = 64;
  if (inet_pton(AF_INET6, src, pkt + 8) != 1 || inet_pton(AF_INET6, "::1", pkt + 24) != 1) return -1;
  uint8_t *u = pkt + 40;
  u[0] = 40000 >> 8;
  u[1] = 40000 & 0xFF;
  u[2] = (uint8_t)(dport >> 8);
  u[3] = (uint8_t)dport;
  u[5] = (uint8_t)ulen;
  memcpy(u + 8, "hey!", 4);
  uint32_t s = sum16(pkt + 8, 32, 0) + ulen + IPPROTO_UDP;
  s = sum16(u, ulen, s);
  while (s >> 16) s = (s & 0xFFFF) + (s >> 16);
  uint16_t c = (uint16_t)~s;
  if (!c) c = 0xFFFF;
  u[6] = (uint8_t)(c >> 8);
  u[7] = (uint8_t)c;
  struct sockaddr_in6 to = {.sin6_family = AF_INET6};
  inet_pton(AF_INET6, "::1", &to.sin6_addr);
  return sendto(raw, pkt, sizeof pkt, 0, (struct sockaddr *)&to, sizeof to) == (ssize_t)sizeof pkt ? 0 : -1;
}

static void spin(uv_loop_t *loop) {
  for (int i = 0; i < 20; i++) {
    uv_run(loop, UV_RUN_NOWAIT);
    usleep(2000);
  }
}

int main(void) {
  int raw = socket(AF_INET6, SOCK_RAW, IPPROTO_RAW);
  if (raw < 0) {
    printf("skipped: a raw IPv6 socket needs root or CAP_NET_RAW (%s)\n", strerror(errno));
    return 77;
  }
  uv_loop_t loop;
  CHECK_INT(uv_loop_init(&loop), 0);
  rtpmidi_runtime *rt = rtpmidi_runtime_new(&loop);
  CHECK(rt != NULL);
  rmc_endpoint *us = NULL, *v4 = NULL, *v6 = NULL;
  int owner = 0;
  /* the sessions' default: "::", dual-stack */
  int r = rmc_endpoint_open(rt, NULL, RMP_AF_NONE, 0, &OPS, &owner, &us);
  if (r || rmc_endpoint_reach(us) != RMC_REACH_BOTH) {
    printf("skipped: no dual-stack socket on this host (%d)\n", r);
    close(raw);
    if (!r) rmc_endpoint_close(us);
    rtpmidi_runtime_free(rt);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return 77;
  }
  uint16_t port = (uint16_t)rmc_endpoint_port(us);

  /* forged: IPv6 with an IPv4-mapped source, loopback's and a LAN host's */
  CHECK_INT(send_v6(raw, "::ffff:127.0.0.1", port), 0);
  CHECK_INT(send_v6(raw, "::ffff:10.0.0.7", port), 0);
  spin(&loop);
  CHECK_INT(received, 0);

  /* a real IPv4 peer, and a real IPv6 one, still come through */
  CHECK_INT(rmc_endpoint_open(rt, "127.0.0.1", RMP_AF_INET, 0, &OPS, &owner, &v4), 0);
  CHECK_INT(rmc_endpoint_open(rt, "::1", RMP_AF_INET6, 0, &OPS, &owner, &v6), 0);
  const uint8_t hey[4] = {'h', 'e', 'y', '!'};
  rmp_addr to4 = rmp_addr_v4((const uint8_t[]){127, 0, 0, 1}, port);
  CHECK_INT(rmc_endpoint_send(v4, hey, sizeof hey, &to4), 0);
  spin(&loop);
  CHECK_INT(received, 1);
  CHECK(last_from.family == RMP_AF_INET && last_from.port == rmc_endpoint_port(v4));
  rmp_addr to6;
  CHECK_INT(rmp_addr_parse("::1", port, &to6), 0);
  CHECK_INT(rmc_endpoint_send(v6, hey, sizeof hey, &to6), 0);
  CHECK_INT(send_v6(raw, "::1", port), 0);
  spin(&loop);
  CHECK_INT(received, 3);
  CHECK(last_from.family == RMP_AF_INET6);

  close(raw);
  rmc_endpoint_close(us);
  rmc_endpoint_close(v4);
  rmc_endpoint_close(v6);
  rtpmidi_runtime_free(rt);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_INT(uv_loop_close(&loop), 0);
  return check_report();
}
