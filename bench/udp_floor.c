/* The floor: a plain UDP ping-pong on 127.0.0.1 with blocking sockets, no
 * event loop, no RTP. Two processes, started by bench/run.sh:
 *
 *   udp_floor echo    <local_port> <peer_port> [timeout_s]
 *   udp_floor latency <local_port> <peer_port> <round_trips> <warmup> [timeout_s]
 *   udp_floor throughput <port_a> <port_b> <packets> <window> [timeout_s]
 *   udp_floor throughput_batch <port_a> <port_b> <packets> <window> [timeout_s]
 *
 * The echo side sends every datagram back until it gets "BYE" or has been
 * idle for timeout_s. The measuring side times each round trip with
 * CLOCK_MONOTONIC and prints one BENCH line (see bench/README.md) with the
 * one-way latency (RTT/2) in microseconds. Datagrams are 16 octets, the size
 * of an RTP packet carrying a 4-octet MIDI payload, like the other latency
 * benchmarks.
 *
 * throughput: one process, socket A sends to socket B; each datagram B
 * receives lets A send one more, so at most <window> are in flight: the
 * kernel's cost of the same pattern as capi_bench/lua_throughput.
 *
 * throughput_batch: the same with the system calls a libuv loop can batch:
 * B reads up to BATCH datagrams with one recvmmsg (libuv's UV_UDP_RECVMMSG
 * reads 20), and A answers them with one sendmmsg, as the runtime's send
 * queue does at the end of a received burst. Each datagram names its
 * destination, as the sessions' do (their sockets cannot be connected: the
 * peer may send from any port), which costs a route lookup per datagram
 * that a connected send skips. The floor to compare the sessions with. */
#define _POSIX_C_SOURCE 200809L

#include "bench_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define DGRAM 16
#define BATCH 20 /* datagrams per recvmmsg, as libuv's UV_UDP_RECVMMSG */

static int open_socket_as(int local_port, int peer_port, double timeout_s, bool connected) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) bench_die("socket");
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((uint16_t)local_port);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) bench_die("bind");
  a.sin_port = htons((uint16_t)peer_port);
  if (connected && connect(fd, (struct sockaddr *)&a, sizeof a) < 0) bench_die("connect");
  struct timeval tv = {(time_t)timeout_s, (suseconds_t)((timeout_s - (double)(time_t)timeout_s) * 1e6)};
  if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0) bench_die("SO_RCVTIMEO");
  return fd;
}

static int open_socket(int local_port, int peer_port, double timeout_s) {
  return open_socket_as(local_port, peer_port, timeout_s, true);
}

static int echo(int local_port, int peer_port, double timeout_s) {
  int fd = open_socket(local_port, peer_port, timeout_s);
  unsigned char buf[2048];
  long n = 0;
  for (;;) {
    ssize_t r = recv(fd, buf, sizeof buf, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == ECONNREFUSED) continue; /* an ICMP error from before the peer was up */
      fprintf(stderr, "udp_floor echo: idle for %.1f s after %ld datagrams, stopping\n", timeout_s, n);
      close(fd);
      return 1;
    }
    if (r == 3 && memcmp(buf, "BYE", 3) == 0) break;
    n++;
    while (send(fd, buf, (size_t)r, 0) < 0 && (errno == EINTR || errno == ECONNREFUSED)) {}
  }
  close(fd);
  return 0;
}

/* Sends probe id and waits for its echo; returns the round trip in ns, or -1
 * when it did not come back before the socket's receive timeout. */
static double probe(int fd, uint32_t id) {
  unsigned char out[DGRAM], in[2048];
  memset(out, 0, sizeof out);
  out[0] = 0x80;
  out[1] = 96;
  memcpy(out + 12, &id, 4);
  double t0 = bench_now_ns();
  if (send(fd, out, sizeof out, 0) < 0) return -1;
  for (;;) {
    ssize_t r = recv(fd, in, sizeof in, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    uint32_t got;
    if (r != DGRAM) continue;
    memcpy(&got, in + 12, 4);
    if (got == id) return bench_now_ns() - t0;
    /* a late echo of an earlier probe: keep waiting for ours */
  }
}

static int latency(int local_port, int peer_port, long n, long warmup, double timeout_s) {
  int fd = open_socket(local_port, peer_port, 0.05);
  double deadline = bench_now_ns() + timeout_s * 1e9;
  uint32_t id = 1;
  /* Wait for the echo side to be up. */
  while (probe(fd, id++) < 0) {
    /* ECONNREFUSED comes back at once while nobody listens: do not spin */
    struct timespec pause = {0, 20 * 1000 * 1000};
    nanosleep(&pause, NULL);
    if (bench_now_ns() > deadline) {
      bench_timeout_line("latency", "udp_floor", "echo side never answered");
      return 1;
    }
  }
  struct timeval tv = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  double *rtt = malloc((size_t)n * sizeof *rtt);
  if (!rtt) bench_die("malloc");
  long got = 0, lost = 0;
  for (long i = 0; i < warmup + n && got < n; i++) {
    if (bench_now_ns() > deadline) break;
    double t = probe(fd, id++);
    if (t < 0) { lost++; continue; }
    if (i >= warmup) rtt[got++] = t;
  }
  while (send(fd, "BYE", 3, 0) < 0 && errno == EINTR) {}
  close(fd);
  bench_latency_line("udp_floor", "C, blocking sockets, 2 processes", rtt, got, lost,
                     got < n ? "timeout" : "ok");
  free(rtt);
  return got < n;
}

/* Prints a one-process throughput line from the run's counts, clock (ns)
 * and CPU time at its start; returns the exit status (1: incomplete). */
static int throughput_line(const char *name, const char *what, long packets, long sent, long received,
                           double t0, double c0) {
  double secs = (bench_now_ns() - t0) / 1e9, cpu = bench_cpu_s() - c0;
  printf("BENCH kind=throughput name=%s what=\"%s\" procs=1 packets=%ld lost=%ld seconds=%.3f pps=%.0f "
         "cpu_s_per_mpkt=%.3f status=%s\n",
         name, what, received, sent - received, secs, (double)received / secs,
         received ? cpu / ((double)received / 1e6) : NAN, received == packets ? "ok" : "incomplete");
  return received != packets;
}

static int throughput(int port_a, int port_b, long packets, long window, double timeout_s) {
  int a = open_socket(port_a, port_b, 2), b = open_socket(port_b, port_a, 2);
  int size = 1 << 20;
  setsockopt(a, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  setsockopt(b, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  unsigned char out[DGRAM] = {0x80, 96}, in[2048];
  long sent = 0, received = 0;
  double t0 = bench_now_ns(), c0 = bench_cpu_s(), deadline = t0 + timeout_s * 1e9;
  for (; sent < window && sent < packets; sent++)
    if (send(a, out, sizeof out, 0) < 0) bench_die("send");
  while (received < packets) {
    ssize_t r = recv(b, in, sizeof in, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      break; /* lost packets: nothing more will come */
    }
    received++;
    if (sent < packets) {
      if (send(a, out, sizeof out, 0) < 0) bench_die("send");
      sent++;
    }
    if ((received & 1023) == 0 && bench_now_ns() > deadline) break;
  }
  int rc = throughput_line("udp_floor_1proc", "C, blocking sockets, 1 process", packets, sent, received, t0, c0);
  close(a);
  close(b);
  return rc;
}

/* Sends n datagrams (msg's template) on fd, BATCH per sendmmsg call. */
static void send_batched(int fd, struct mmsghdr *msg, long n) {
  while (n > 0) {
    int k = sendmmsg(fd, msg, (unsigned)(n < BATCH ? n : BATCH), 0);
    if (k < 0) {
      if (errno == EINTR) continue;
      bench_die("sendmmsg");
    }
    n -= k;
  }
}

static int throughput_batch(int port_a, int port_b, long packets, long window, double timeout_s, bool connected) {
  int a = open_socket_as(port_a, port_b, 2, connected), b = open_socket_as(port_b, port_a, 2, connected);
  int size = 1 << 20;
  setsockopt(a, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  setsockopt(b, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  static unsigned char out[DGRAM] = {0x80, 96}, in[BATCH][2048];
  struct mmsghdr smsg[BATCH], rmsg[BATCH];
  struct iovec siov = {out, sizeof out}, riov[BATCH];
  struct sockaddr_in to;
  memset(&to, 0, sizeof to);
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons((uint16_t)port_b);
  memset(smsg, 0, sizeof smsg);
  memset(rmsg, 0, sizeof rmsg);
  for (int i = 0; i < BATCH; i++) {
    smsg[i].msg_hdr.msg_name = &to;
    smsg[i].msg_hdr.msg_namelen = sizeof to;
    smsg[i].msg_hdr.msg_iov = &siov; /* every datagram is the same 16 octets */
    smsg[i].msg_hdr.msg_iovlen = 1;
    riov[i].iov_base = in[i];
    riov[i].iov_len = sizeof in[i];
    rmsg[i].msg_hdr.msg_iov = &riov[i];
    rmsg[i].msg_hdr.msg_iovlen = 1;
  }
  long sent = window < packets ? window : packets, received = 0;
  double t0 = bench_now_ns(), c0 = bench_cpu_s(), deadline = t0 + timeout_s * 1e9;
  send_batched(a, smsg, sent);
  while (received < packets) {
    int r = recvmmsg(b, rmsg, BATCH, MSG_WAITFORONE, NULL);
    if (r < 0) {
      if (errno == EINTR) continue;
      break; /* lost packets: nothing more will come */
    }
    received += r;
    long more = packets - sent < r ? packets - sent : r;
    send_batched(a, smsg, more);
    sent += more;
    if (bench_now_ns() > deadline) break;
  }
  int rc = connected
               ? throughput_line("udp_floor_batch_1proc", "C, blocking sockets, sendmmsg (addressed) + recvmmsg, 1 process",
                                 packets, sent, received, t0, c0)
               : throughput_line("udp_floor_batch_unconnected_1proc",
                                 "C, blocking unconnected sockets, sendmmsg + recvmmsg, 1 process", packets, sent,
                                 received, t0, c0);
  close(a);
  close(b);
  return rc;
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "echo") == 0)
    return echo(atoi(argv[2]), atoi(argv[3]), argc > 4 ? atof(argv[4]) : 10);
  if (argc >= 6 && strcmp(argv[1], "latency") == 0)
    return latency(atoi(argv[2]), atoi(argv[3]), atol(argv[4]), atol(argv[5]),
                   argc > 6 ? atof(argv[6]) : 20);
  if (argc >= 6 && strcmp(argv[1], "throughput") == 0)
    return throughput(atoi(argv[2]), atoi(argv[3]), atol(argv[4]), atol(argv[5]),
                      argc > 6 ? atof(argv[6]) : 20);
  if (argc >= 6 && strcmp(argv[1], "throughput_batch") == 0)
    return throughput_batch(atoi(argv[2]), atoi(argv[3]), atol(argv[4]), atol(argv[5]),
                            argc > 6 ? atof(argv[6]) : 20, true);
  if (argc >= 6 && strcmp(argv[1], "throughput_batch_unconnected") == 0)
    return throughput_batch(atoi(argv[2]), atoi(argv[3]), atol(argv[4]), atol(argv[5]),
                            argc > 6 ? atof(argv[6]) : 20, false);
  fprintf(stderr,
          "usage: udp_floor echo <local_port> <peer_port> [timeout_s]\n"
          "       udp_floor latency <local_port> <peer_port> <round_trips> <warmup> [timeout_s]\n"
          "       udp_floor throughput <port_a> <port_b> <packets> <window> [timeout_s]\n"
          "       udp_floor throughput_batch <port_a> <port_b> <packets> <window> [timeout_s]\n");
  return 2;
}
