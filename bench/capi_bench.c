/* Benchmarks of the C API (csrc/include/rtpmidi.h) on a libuv loop, without
 * Lua. Started by bench/run.sh:
 *
 *   capi_bench echo       <local_port> <peer_port> [timeout_s]
 *   capi_bench latency    <local_port> <peer_port> <round_trips> <warmup> [timeout_s]
 *   capi_bench throughput <port_a> <port_b> <packets> <window> [timeout_s]
 *
 * echo/latency: a ping-pong between two processes through rtpmidi sessions;
 * the probe's id travels as the RTP timestamp and the echo side sends every
 * payload back with the timestamp it came with. throughput: one process,
 * session A sends to session B; every packet B receives lets A send one more,
 * so at most <window> packets are in flight and the kernel drops nothing.
 * Each prints one BENCH line (bench/README.md). */
#define _POSIX_C_SOURCE 200809L

#include "bench_util.h"
#include "rtpmidi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t MIDI[4] = {0x03, 0x90, 0x3c, 0x64}; /* LEN=3, note on */

typedef struct bench {
  uv_loop_t loop;
  uv_timer_t timer;
  rtpmidi_runtime *rt;
  rtpmidi_session *a, *b;
  const char *name;
  double timeout_s, started_ns, last_ns;
  bool done;
  /* echo */
  long echoed, echoed_at_last_tick;
  /* latency */
  uint32_t id;
  bool measuring;
  long n, warmup, seen, got, lost;
  double sent_ns, *rtt;
  /* throughput */
  long packets, window, sent, received, received_at_last_tick;
  double cpu0, t_first;
} bench;

static void finish(bench *b) {
  b->done = true;
  uv_stop(&b->loop);
}

static rtpmidi_session *open_session(bench *b, int local_port, int peer_port, void (*on_rtp)(void *, uint32_t, const uint8_t *, size_t, bool, bool)) {
  rtpmidi_session_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.peer_address = "127.0.0.1";
  cfg.bind_address = "127.0.0.1";
  cfg.sending_port = peer_port;
  cfg.receiving_port = local_port;
  cfg.payload_type = 96;
  cfg.jitter_buffer_ms = 0;
  cfg.tool_name = "rtpmidi bench";
  cfg.clock_rate = 10000;
  rtpmidi_session_events ev = {.on_rtp = on_rtp};
  rtpmidi_session *s;
  rtpmidi_error err;
  int r = rtpmidi_session_new(b->rt, &cfg, &ev, b, &s, &err);
  if (r) {
    fprintf(stderr, "capi_bench: session: %s\n", err.message);
    exit(3);
  }
  r = rtpmidi_session_start(s);
  if (r) {
    fprintf(stderr, "capi_bench: start on port %d: %s\n", local_port, uv_strerror(r));
    exit(3);
  }
  return s;
}

static void setup(bench *b, double timeout_s) {
  if (uv_loop_init(&b->loop)) bench_die("uv_loop_init");
  b->rt = rtpmidi_runtime_new(&b->loop);
  if (!b->rt) bench_die("rtpmidi_runtime_new");
  uv_timer_init(&b->loop, &b->timer);
  b->timer.data = b;
  b->timeout_s = timeout_s;
  b->started_ns = bench_now_ns();
}

static void teardown(bench *b) {
  uv_close((uv_handle_t *)&b->timer, NULL);
  rtpmidi_runtime_free(b->rt);
  uv_run(&b->loop, UV_RUN_DEFAULT);
  uv_loop_close(&b->loop);
}

/* ---- echo ---- */

static void echo_rtp(void *ud, uint32_t ts, const uint8_t *p, size_t len, bool recovery, bool marker) {
  (void)recovery;
  bench *b = ud;
  if (len == 3 && memcmp(p, "BYE", 3) == 0) { finish(b); return; }
  b->echoed++;
  rtpmidi_session_send(b->a, p, len, ts, marker);
}

static void echo_tick(uv_timer_t *t) {
  bench *b = t->data;
  if (b->echoed == b->echoed_at_last_tick) {
    fprintf(stderr, "capi_bench echo: idle for %.1f s after %ld packets, stopping\n", b->timeout_s, b->echoed);
    finish(b);
  }
  b->echoed_at_last_tick = b->echoed;
}

static int run_echo(int local_port, int peer_port, double timeout_s) {
  bench b;
  memset(&b, 0, sizeof b);
  setup(&b, timeout_s);
  b.a = open_session(&b, local_port, peer_port, echo_rtp);
  b.echoed_at_last_tick = -1;
  uint64_t ms = (uint64_t)(timeout_s * 1000);
  uv_timer_start(&b.timer, echo_tick, ms, ms);
  uv_run(&b.loop, UV_RUN_DEFAULT);
  teardown(&b);
  return 0;
}

/* ---- latency ---- */

static void send_probe(bench *b) {
  b->id++;
  b->sent_ns = bench_now_ns();
  rtpmidi_session_send(b->a, MIDI, sizeof MIDI, b->id, false);
}

static void latency_rtp(void *ud, uint32_t ts, const uint8_t *p, size_t len, bool recovery, bool marker) {
  (void)p; (void)len; (void)recovery; (void)marker;
  bench *b = ud;
  double now = bench_now_ns();
  if (ts != b->id || b->done) return; /* a late echo of an earlier probe */
  if (!b->measuring) b->measuring = true; /* the echo side is up */
  else if (b->seen++ >= b->warmup) b->rtt[b->got++] = now - b->sent_ns;
  if (b->got >= b->n) { finish(b); return; }
  send_probe(b);
}

static void latency_tick(uv_timer_t *t) {
  bench *b = t->data;
  double now = bench_now_ns();
  if (now - b->started_ns > b->timeout_s * 1e9) { finish(b); return; }
  /* Until the echo side answers, probe every tick; later, a probe that has
   * not come back in a second is lost. */
  if (!b->measuring || now - b->sent_ns > 1e9) {
    if (b->measuring) b->lost++;
    send_probe(b);
  }
}

static int run_latency(int local_port, int peer_port, long n, long warmup, double timeout_s) {
  bench b;
  memset(&b, 0, sizeof b);
  setup(&b, timeout_s);
  b.n = n;
  b.warmup = warmup;
  b.rtt = malloc((size_t)n * sizeof *b.rtt);
  if (!b.rtt) bench_die("malloc");
  b.a = open_session(&b, local_port, peer_port, latency_rtp);
  uv_timer_start(&b.timer, latency_tick, 50, 50);
  send_probe(&b);
  uv_run(&b.loop, UV_RUN_DEFAULT);
  rtpmidi_session_send(b.a, (const uint8_t *)"BYE", 3, 0, false);
  if (!b.measuring) bench_timeout_line("latency", "capi", "echo side never answered");
  else
    bench_latency_line("capi", "C API, rtpmidi sessions on libuv, 2 processes", b.rtt, b.got,
                       b.lost, b.got < n ? "timeout" : "ok");
  free(b.rtt);
  teardown(&b);
  return b.got < n;
}

/* ---- throughput ---- */

static void blast(bench *b) {
  while (b->sent < b->packets && b->sent - b->received < b->window) {
    if (rtpmidi_session_send(b->a, MIDI, sizeof MIDI, rtpmidi_session_media_time(b->a), false) == 0)
      b->sent++;
    else
      break;
  }
}

static void sink_rtp(void *ud, uint32_t ts, const uint8_t *p, size_t len, bool recovery, bool marker) {
  (void)ts; (void)p; (void)len; (void)recovery; (void)marker;
  bench *b = ud;
  b->received++;
  if (b->received == b->packets) { finish(b); return; }
  blast(b);
}

static void source_rtp(void *ud, uint32_t ts, const uint8_t *p, size_t len, bool recovery, bool marker) {
  (void)ud; (void)ts; (void)p; (void)len; (void)recovery; (void)marker;
}

static void throughput_tick(uv_timer_t *t) {
  bench *b = t->data;
  double now = bench_now_ns();
  /* Stop on the deadline, or when packets were lost and nothing moved for 2 s. */
  if (now - b->started_ns > b->timeout_s * 1e9 || b->received == b->received_at_last_tick) finish(b);
  b->received_at_last_tick = b->received;
}

static int run_throughput(int port_a, int port_b, long packets, long window, double timeout_s) {
  bench b;
  memset(&b, 0, sizeof b);
  setup(&b, timeout_s);
  b.packets = packets;
  b.window = window;
  b.received_at_last_tick = -1;
  b.a = open_session(&b, port_a, port_b, source_rtp);
  b.b = open_session(&b, port_b, port_a, sink_rtp);
  uv_timer_start(&b.timer, throughput_tick, 2000, 2000);
  double t0 = bench_now_ns(), c0 = bench_cpu_s();
  blast(&b);
  uv_run(&b.loop, UV_RUN_DEFAULT);
  double secs = (bench_now_ns() - t0) / 1e9, cpu = bench_cpu_s() - c0;
  double mp = (double)b.received / 1e6;
  printf("BENCH kind=throughput name=capi_1proc what=\"C API callbacks, 1 process\" procs=1 "
         "packets=%ld lost=%ld seconds=%.3f pps=%.0f cpu_s_per_mpkt=%.3f status=%s\n",
         b.received, b.sent - b.received, secs, (double)b.received / secs, mp > 0 ? cpu / mp : NAN,
         b.received == packets ? "ok" : "incomplete");
  fflush(stdout);
  teardown(&b);
  return b.received != packets;
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "echo") == 0)
    return run_echo(atoi(argv[2]), atoi(argv[3]), argc > 4 ? atof(argv[4]) : 10);
  if (argc >= 6 && strcmp(argv[1], "latency") == 0)
    return run_latency(atoi(argv[2]), atoi(argv[3]), atol(argv[4]), atol(argv[5]),
                       argc > 6 ? atof(argv[6]) : 20);
  if (argc >= 6 && strcmp(argv[1], "throughput") == 0)
    return run_throughput(atoi(argv[2]), atoi(argv[3]), atol(argv[4]), atol(argv[5]),
                          argc > 6 ? atof(argv[6]) : 20);
  fprintf(stderr,
          "usage: capi_bench echo <local_port> <peer_port> [timeout_s]\n"
          "       capi_bench latency <local_port> <peer_port> <round_trips> <warmup> [timeout_s]\n"
          "       capi_bench throughput <port_a> <port_b> <packets> <window> [timeout_s]\n");
  return 2;
}
