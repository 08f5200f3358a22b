/* A forged ICMP port unreachable (hostile LAN, issue 18 item 2 turned
 * around). Linux queues an ICMP error for an unconnected UDP socket with
 * IP_RECVERR when the UDP header it quotes matches the socket, whatever
 * host sent the ICMP: anyone who knows our port and the peer's address
 * could make a session believe the peer's port closed (RTPSession and
 * MidiSession drop the peer: "network"). A real port unreachable comes
 * from the host whose port is closed (RFC 1122 3.2.2.1: the destination
 * host sends it; Linux's icmp_send answers from the address the datagram
 * was sent to), which the error queue names as the offender
 * (SO_EE_OFFENDER, ip(7)). The endpoint reports only those: a forger must
 * now spoof the peer's own address.
 *
 * Real sockets on loopback; the ICMP is made with a raw socket (root or
 * CAP_NET_RAW, else skipped with 77), bound to the address it comes from. */
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

static unsigned errors;
static rmp_addr last_dest;
static bool had_dest;

static void on_recv(void *owner, rmc_endpoint *ep, const uint8_t *buf, size_t len, const rmp_addr *from) {
  (void)owner;
  (void)ep;
  (void)buf;
  (void)len;
  (void)from;
}

static void on_error(void *owner, rmc_endpoint *ep, int err, const rmp_addr *dest) {
  (void)owner;
  (void)ep;
  (void)err;
  errors++;
  had_dest = dest != NULL;
  if (dest) last_dest = *dest;
}

static const rmc_endpoint_ops OPS = {on_recv, on_error};

static uint16_t csum(const uint8_t *p, size_t n) {
  uint32_t s = 0;
  for (size_t i = 0; i + 1 < n; i += 2) s += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (n & 1) s += (uint32_t)(p[n - 1] << 8);
  while (s >> 16) s = (s & 0xFFFF) + (s >> 16);
  return (uint16_t)~s;
}

/* An ICMP destination unreachable, port unreachable (type 3, code 3,
 * RFC 792), from `src`, quoting a UDP datagram from 127.0.0.1:sport to
 * 127.0.0.1:dport. */
static int send_icmp(int raw, const char *src, uint16_t sport, uint16_t dport) {
  struct sockaddr_in me = {.sin_family = AF_INET};
  inet_pton(AF_INET, src, &me.sin_addr);
  if (bind(raw, (struct sockaddr *)&me, sizeof me)) return -1;
  uint8_t b[8 + 20 + 8];
  memset(b, 0, sizeof b);
  b[0] = 3;
  b[1] = 3;
  uint8_t *ip = b + 8;
  ip[0] = 0x45;
  ip[3] = 20 + 8 + 4; /* total length: a 4-octet payload */
  ip[8] = 64;
  ip[9] = IPPROTO_UDP;
  inet_pton(AF_INET, "127.0.0.1", ip + 12);
  inet_pton(AF_INET, "127.0.0.1", ip + 16);
  uint16_t ic = csum(ip, 20);
  ip[10] = (uint8_t)(ic >> 8);
  ip[11] = (uint8_t)ic;
  uint8_t *udp = ip + 20;
  udp[0] = (uint8_t)(sport >> 8);
  udp[1] = (uint8_t)sport;
  udp[2] = (uint8_t)(dport >> 8);
  udp[3] = (uint8_t)dport;
  udp[5] = 12;
  uint16_t c = csum(b, sizeof b);
  b[2] = (uint8_t)(c >> 8);
  b[3] = (uint8_t)c;
  struct sockaddr_in to = {.sin_family = AF_INET};
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  return sendto(raw, b, sizeof b, 0, (struct sockaddr *)&to, sizeof to) == (ssize_t)sizeof b ? 0 : -1;
}

static void spin(uv_loop_t *loop) {
  for (int i = 0; i < 20; i++) {
    uv_run(loop, UV_RUN_NOWAIT);
    usleep(2000);
  }
}

int main(void) {
  int raw1 = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP), raw2 = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
  if (raw1 < 0 || raw2 < 0) {
    printf("skipped: a raw ICMP socket needs root or CAP_NET_RAW (%s)\n", strerror(errno));
    return 77;
  }
  uv_loop_t loop;
  CHECK_INT(uv_loop_init(&loop), 0);
  rtpmidi_runtime *rt = rtpmidi_runtime_new(&loop);
  CHECK(rt != NULL);
  rmc_endpoint *us = NULL, *peer = NULL;
  int owner = 0;
  CHECK_INT(rmc_endpoint_open(rt, "127.0.0.1", RMP_AF_INET, 0, &OPS, &owner, &us), 0);
  CHECK_INT(rmc_endpoint_open(rt, "127.0.0.1", RMP_AF_INET, 0, &OPS, &owner, &peer), 0);
  uint16_t uport = (uint16_t)rmc_endpoint_port(us), pport = (uint16_t)rmc_endpoint_port(peer);
  rmp_addr to = rmp_addr_v4((const uint8_t[]){127, 0, 0, 1}, pport);
  const uint8_t hello[4] = {1, 2, 3, 4};
  CHECK_INT(rmc_endpoint_send(us, hello, sizeof hello, &to), 0);
  spin(&loop);
  CHECK_INT(errors, 0);

  /* from another host (127.0.0.2), about our datagram to the peer: forged */
  CHECK_INT(send_icmp(raw1, "127.0.0.2", uport, pport), 0);
  spin(&loop);
  CHECK_INT(rmc_endpoint_send(us, hello, sizeof hello, &to), 0);
  spin(&loop);
  CHECK_INT(errors, 0);
  CHECK_INT(rmc_endpoint_foreign_icmp(us), 1);

  /* from the peer's own address: as a real one, reported with the peer */
  CHECK_INT(send_icmp(raw2, "127.0.0.1", uport, pport), 0);
  spin(&loop);
  CHECK_INT(rmc_endpoint_send(us, hello, sizeof hello, &to), 0);
  spin(&loop);
  CHECK_INT(errors, 1);
  CHECK(had_dest && rmp_addr_equal(&last_dest, &to));
  CHECK_INT(rmc_endpoint_foreign_icmp(us), 1);

  close(raw1);
  close(raw2);
  rmc_endpoint_close(us);
  rmc_endpoint_close(peer);
  rtpmidi_runtime_free(rt);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_INT(uv_loop_close(&loop), 0);
  return check_report();
}
