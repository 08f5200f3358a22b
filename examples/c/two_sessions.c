/* Two MIDI sessions on loopback, through the installed C library:
 *
 *   cc two_sessions.c $(pkg-config --cflags --libs rtpmidi) -o two_sessions
 *   ./two_sessions [port]
 *
 * The receiver listens on `port` (default: a free one it finds), the sender
 * sends it a Note On, and the program exits 0 only when exactly those bytes
 * arrived, at a plausible time. A watchdog timer fails it after 5 seconds.
 * Everything is freed before the end and the loop must close cleanly: no
 * handle of the library is left behind. */
#include <rtpmidi.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t NOTE_ON[3] = {0x90, 60, 100};

typedef struct app {
  uv_loop_t loop;
  uv_timer_t watchdog;
  rtpmidi_runtime *rt;
  rtpmidi_midi_session *tx, *rx;
  double sent_ms;
  int result; /* 0: passed; 1: wrong or no message */
  bool done;
} app;

/* Frees everything the program made; the loop then has nothing left to run. */
static void finish(app *a, int result) {
  if (a->done) return;
  a->done = true;
  a->result = result;
  rtpmidi_midi_session_free(a->tx);
  rtpmidi_midi_session_free(a->rx);
  rtpmidi_runtime_free(a->rt);
  uv_close((uv_handle_t *)&a->watchdog, NULL);
}

static void on_midi(void *ud, const uint8_t *msg, size_t len, double time_ms, bool recovered) {
  app *a = ud;
  double now = rtpmidi_now_ms();
  printf("received %zu bytes:", len);
  for (size_t i = 0; i < len; i++) printf(" %02X", msg[i]);
  printf(" at %+.3f ms from sending%s\n", time_ms - a->sent_ms, recovered ? " (recovered)" : "");
  bool same = len == sizeof NOTE_ON && memcmp(msg, NOTE_ON, len) == 0;
  /* The message's time maps the sender's clock to ours: it lies between
   * the send and now, give or take a millisecond of rounding. */
  bool timely = isfinite(time_ms) && time_ms >= a->sent_ms - 1 && time_ms <= now + 1;
  if (!same) fprintf(stderr, "two_sessions: not the Note On that was sent\n");
  if (!timely) fprintf(stderr, "two_sessions: implausible time %f (sent %f, now %f)\n", time_ms, a->sent_ms, now);
  finish(a, same && timely && !recovered ? 0 : 1);
}

static void on_drop(void *ud, const char *reason, const char *detail) {
  (void)ud;
  fprintf(stderr, "two_sessions: session dropped: %s %s\n", reason, detail);
}

static void on_watchdog(uv_timer_t *t) {
  app *a = t->data;
  fprintf(stderr, "two_sessions: nothing arrived within 5 s\n");
  finish(a, 1);
}

/* A session with everything else zero: the defaults of rtpmidi.h. */
static int make(app *a, int sending_port, int receiving_port, rtpmidi_midi_session **out) {
  rtpmidi_midi_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.rtp.peer_address = "127.0.0.1";
  cfg.rtp.sending_port = sending_port;
  cfg.rtp.receiving_port = receiving_port;
  cfg.recovery = true;
  rtpmidi_midi_events ev = {.on_midi = on_midi, .on_drop = on_drop};
  rtpmidi_error err;
  int r = rtpmidi_midi_session_new(a->rt, &cfg, &ev, a, out, &err);
  if (r) {
    fprintf(stderr, "two_sessions: midi_session_new: %s\n", err.message);
    return r;
  }
  r = rtpmidi_session_start(rtpmidi_midi_session_rtp(*out));
  if (r) {
    rtpmidi_midi_session_free(*out);
    *out = NULL;
  }
  return r;
}

int main(int argc, char **argv) {
  app a;
  memset(&a, 0, sizeof a);
  a.result = 1;
  if (uv_loop_init(&a.loop)) return 1;
  a.rt = rtpmidi_runtime_new(&a.loop);
  if (!a.rt) return 1;

  /* The receiver: the port asked for, or a free one. */
  int port = argc > 1 ? atoi(argv[1]) : 0;
  int r = UV_EADDRINUSE;
  for (int attempt = 0; attempt < 50 && r == UV_EADDRINUSE; attempt++) {
    int p = port ? port : 20000 + (int)((uv_hrtime() / 1000 + (uint64_t)attempt * 7919) % 20000) * 2;
    r = make(&a, 0, p, &a.rx);
    if (!r) port = p;
    else if (port && argc > 1) break;
  }
  if (r) {
    fprintf(stderr, "two_sessions: cannot start the receiver: %s\n", uv_strerror(r));
    return 1;
  }
  /* The sender: sends to that port (and listens on a port of its own). */
  r = make(&a, port, 0, &a.tx);
  if (r) {
    fprintf(stderr, "two_sessions: cannot start the sender: %s\n", uv_strerror(r));
    return 1;
  }

  uv_timer_init(&a.loop, &a.watchdog);
  a.watchdog.data = &a;
  uv_timer_start(&a.watchdog, on_watchdog, 5000, 0);

  a.sent_ms = rtpmidi_now_ms();
  rtpmidi_error err;
  r = rtpmidi_midi_session_send(a.tx, NOTE_ON, sizeof NOTE_ON, &err);
  if (r) {
    fprintf(stderr, "two_sessions: send: %s\n", err.message);
    return 1;
  }
  printf("sent 90 3C 64 to 127.0.0.1:%d\n", port);

  int left = uv_run(&a.loop, UV_RUN_DEFAULT);
  int closed = uv_loop_close(&a.loop);
  if (left || closed) {
    fprintf(stderr, "two_sessions: the loop did not end cleanly (run %d, close %s)\n", left,
            closed ? uv_err_name(closed) : "ok");
    return 1;
  }
  return a.result;
}
