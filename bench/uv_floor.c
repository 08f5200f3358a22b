/* The event loop's floor: the same ping-pong as udp_floor (16-octet
 * datagrams, two processes on 127.0.0.1), through libuv as the sessions use
 * it (uv_udp_t read with UV_UDP_RECVMMSG, unconnected, each datagram
 * addressed, uv_udp_try_send) and nothing else: no RTP, no session. The
 * distance from udp_floor to this row is what sleeping in epoll instead of
 * in recv costs any libuv program; the distance from this row to `capi` is
 * ours.
 *
 *   uv_floor echo    <local_port> <peer_port> [timeout_s]
 *   uv_floor latency <local_port> <peer_port> <round_trips> <warmup> [timeout_s]
 */
#include "bench_util.h"

#include <stdint.h>
#include <string.h>
#include <uv.h>

#define DGRAM 16

static struct {
  uv_loop_t *loop;
  uv_udp_t udp;
  uv_timer_t timer;
  struct sockaddr_in peer;
  char buf[20 * 65536];
  /* echo */
  long echoed, at_last_tick;
  double timeout_s;
  /* latency */
  double *rtt, t0, deadline, last_probe;
  long n, warmup, got, seen, lost;
  uint32_t id;
  int waiting; /* a probe is out */
} b;

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h; (void)suggested;
  *buf = uv_buf_init(b.buf, sizeof b.buf);
}

static void send_dgram(const void *data, size_t len) {
  uv_buf_t buf = uv_buf_init((char *)data, (unsigned)len);
  uv_udp_try_send(&b.udp, &buf, 1, (const struct sockaddr *)&b.peer);
}

static void open_udp(int local_port, int peer_port, uv_udp_recv_cb cb) {
  struct sockaddr_in local;
  uv_ip4_addr("127.0.0.1", local_port, &local);
  uv_ip4_addr("127.0.0.1", peer_port, &b.peer);
  if (uv_udp_init_ex(b.loop, &b.udp, AF_UNSPEC | UV_UDP_RECVMMSG) ||
      uv_udp_bind(&b.udp, (const struct sockaddr *)&local, 0) || uv_udp_recv_start(&b.udp, on_alloc, cb)) {
    fprintf(stderr, "uv_floor: cannot open port %d\n", local_port);
    exit(3);
  }
}

static void stop_all(void) {
  uv_close((uv_handle_t *)&b.udp, NULL);
  uv_close((uv_handle_t *)&b.timer, NULL);
}

/* ---- echo ---- */

static void echo_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                      unsigned flags) {
  (void)h; (void)flags;
  if (nread <= 0 || !addr) return;
  if (nread == 3 && memcmp(buf->base, "BYE", 3) == 0) {
    stop_all();
    return;
  }
  b.echoed++;
  send_dgram(buf->base, (size_t)nread);
}

static void echo_tick(uv_timer_t *t) {
  (void)t;
  if (b.echoed == b.at_last_tick) {
    fprintf(stderr, "uv_floor echo: idle for %.1f s after %ld datagrams, stopping\n", b.timeout_s, b.echoed);
    stop_all();
  }
  b.at_last_tick = b.echoed;
}

/* ---- latency ---- */

static void probe(void) {
  uint8_t out[DGRAM];
  memset(out, 0, sizeof out);
  out[0] = 0x80;
  out[1] = 96;
  b.id++;
  memcpy(out + 12, &b.id, 4);
  b.t0 = (double)uv_hrtime();
  b.last_probe = b.t0;
  b.waiting = 1;
  send_dgram(out, sizeof out);
}

static void latency_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                         unsigned flags) {
  (void)h; (void)flags;
  if (nread != DGRAM || !addr) return;
  double t = (double)uv_hrtime();
  uint32_t id;
  memcpy(&id, buf->base + 12, 4);
  if (!b.waiting || id != b.id) return; /* a late echo of a lost probe */
  b.waiting = 0;
  if (b.seen++ >= b.warmup) b.rtt[b.got++] = t - b.t0;
  if (b.got >= b.n) {
    send_dgram("BYE", 3);
    stop_all();
    return;
  }
  probe();
}

static void latency_tick(uv_timer_t *t) {
  (void)t;
  double now = (double)uv_hrtime();
  if (now > b.deadline) {
    stop_all();
    return;
  }
  /* until the echo side is up, and for a probe lost for a second */
  if (!b.waiting || now - b.last_probe > (b.seen ? 1e9 : 5e7)) {
    if (b.waiting && b.seen) b.lost++;
    probe();
  }
}

int main(int argc, char **argv) {
  b.loop = uv_default_loop();
  uv_timer_init(b.loop, &b.timer);
  if (argc >= 4 && strcmp(argv[1], "echo") == 0) {
    b.timeout_s = argc > 4 ? atof(argv[4]) : 10;
    b.at_last_tick = -1;
    open_udp(atoi(argv[2]), atoi(argv[3]), echo_recv);
    uv_timer_start(&b.timer, echo_tick, (uint64_t)(b.timeout_s * 1000), (uint64_t)(b.timeout_s * 1000));
    uv_run(b.loop, UV_RUN_DEFAULT);
    return 0;
  }
  if (argc >= 6 && strcmp(argv[1], "latency") == 0) {
    b.n = atol(argv[4]);
    b.warmup = atol(argv[5]);
    b.deadline = (double)uv_hrtime() + (argc > 6 ? atof(argv[6]) : 20) * 1e9;
    b.rtt = malloc((size_t)b.n * sizeof *b.rtt);
    if (!b.rtt) bench_die("malloc");
    open_udp(atoi(argv[2]), atoi(argv[3]), latency_recv);
    uv_timer_start(&b.timer, latency_tick, 20, 20);
    uv_run(b.loop, UV_RUN_DEFAULT);
    if (!b.seen) {
      bench_timeout_line("latency", "uv_floor", "echo side never answered");
      return 1;
    }
    bench_latency_line("uv_floor", "C, libuv loop (epoll, recvmmsg), no RTP, 2 processes", b.rtt, b.got,
                       b.lost, b.got < b.n ? "timeout" : "ok");
    return b.got < b.n;
  }
  fprintf(stderr,
          "usage: uv_floor echo <local_port> <peer_port> [timeout_s]\n"
          "       uv_floor latency <local_port> <peer_port> <round_trips> <warmup> [timeout_s]\n");
  return 2;
}
