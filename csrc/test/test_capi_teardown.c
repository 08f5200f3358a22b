/* Any teardown order is safe (rtpmidi.h, rtpmidi_runtime_free): through the
 * public API only, a runtime and its objects are freed in every order, with
 * traffic in flight, and the loop must then end by itself with nothing left
 * (uv_run returns 0, uv_loop_close succeeds). Run under ASan with leak
 * detection (the CTest test sets detect_leaks=1): a use after free, a double
 * free or an object never released fails it.
 *
 * Two sets of objects, each freed in every order:
 *   1. the runtime, a pair of MIDI sessions streaming to each other, a raw
 *      RTP session sending into the second one's socket (payload type 96:
 *      counted malformed there, so that its bursts mix two sources) and a
 *      pair of joined AppleMIDI sessions (720 orders). With
 *      RTPMIDI_TEST_MIDI_IN=1 (a JACK server runs) a MIDI input takes the
 *      raw session's place;
 *   2. the runtime, a pair of joined Network MIDI 2.0 sessions and the pair
 *      of MIDI sessions (120 orders).
 * Each order is run three ways:
 *   queued:  from the top level, right after sends were queued and a raw
 *            packet sent (nothing flushed yet);
 *   midi:    from inside the receiving MIDI session's first on_midi, while
 *            a burst of its datagrams is being delivered and its echo waits
 *            for the burst's end;
 *   apple / midi2: the same from inside an AppleMIDI (set 1) or a Network
 *            MIDI 2.0 (set 2) on_midi.
 * After the runtime is freed, the objects still held must be inert (start,
 * send and invite return UV_ENOTCONN) and no callback may run. */
#include "capi_util.h"
#include "check.h"

enum kind { K_RUNTIME, K_MIDI0, K_MIDI1, K_RAW, K_APPLE0, K_APPLE1, K_IN, K_M2HOST, K_M2CLIENT, K_COUNT };
static const char *const KIND_NAMES[K_COUNT] = {"runtime", "midi0", "midi1", "raw", "apple0", "apple1",
                                                "midi_in", "midi2_host", "midi2_client"};
enum mode { MODE_QUEUED, MODE_MIDI, MODE_APPLE, MODE_MIDI2, MODE_COUNT };
static const char *const MODE_NAMES[MODE_COUNT] = {"queued", "midi", "apple", "midi2"};

#define BURST 8 /* packets the first MIDI session sends before the teardown */

typedef struct scen {
  uv_loop_t loop;
  rtpmidi_runtime *rt;
  rtpmidi_midi_session *m[2];
  rtpmidi_session *raw;
  rtpmidi_apple *a[2];
  rtpmidi_midi_in *in;
  rtpmidi_midi2 *n2[2];        /* [0] the host, [1] the client that invites it */
  bool made[K_COUNT];
  bool with_in;
  enum mode mode;
  const int *order;
  int n;
  bool freed[K_COUNT];
  bool torn, joined_both, joined2_both;
  int joined, joined2;
  int late;            /* callbacks after the runtime or their object was freed */
  int midi_received;
  char where[160];
} scen;

static bool gone(const scen *sc, int k) { return sc->freed[K_RUNTIME] || sc->freed[k]; }

/* ---- freeing ---- */

static void check_inert(scen *sc) {
  static const uint8_t note[3] = {0x90, 1, 1};
  for (int i = 0; i < 2; i++) {
    if (sc->made[K_MIDI0 + i] && !sc->freed[K_MIDI0 + i]) {
      CHECK_INT(rtpmidi_midi_session_send(sc->m[i], note, 3, NULL), UV_ENOTCONN);
      CHECK_INT(rtpmidi_midi_session_flush(sc->m[i]), 0);
      CHECK_INT(rtpmidi_session_start(rtpmidi_midi_session_rtp(sc->m[i])), UV_ENOTCONN);
      CHECK(!rtpmidi_session_started(rtpmidi_midi_session_rtp(sc->m[i])));
    }
    if (sc->made[K_APPLE0 + i] && !sc->freed[K_APPLE0 + i]) {
      CHECK_INT(rtpmidi_apple_send(sc->a[i], note, 3, NULL), UV_ENOTCONN);
      CHECK_INT(rtpmidi_apple_invite(sc->a[i], "127.0.0.1", 5004), UV_ENOTCONN);
      CHECK_INT(rtpmidi_apple_start(sc->a[i]), UV_ENOTCONN);
      CHECK_INT(rtpmidi_apple_participants(sc->a[i], NULL, 0), 0);
      CHECK_INT(rtpmidi_apple_port(sc->a[i]), 0);
    }
  }
  for (int i = 0; i < 2; i++) {
    if (sc->made[K_M2HOST + i] && !sc->freed[K_M2HOST + i]) {
      CHECK_INT(rtpmidi_midi2_send_midi(sc->n2[i], note, 3, NULL), UV_ENOTCONN);
      CHECK_INT(rtpmidi_midi2_invite(sc->n2[i], "127.0.0.1", 5673, NULL, NULL, NULL), UV_ENOTCONN);
      CHECK_INT(rtpmidi_midi2_start(sc->n2[i]), UV_ENOTCONN);
      CHECK_INT(rtpmidi_midi2_peers(sc->n2[i], NULL, 0), 0);
      CHECK_INT(rtpmidi_midi2_port(sc->n2[i]), 0);
    }
  }
  if (sc->made[K_RAW] && !sc->freed[K_RAW]) {
    CHECK_INT(rtpmidi_session_send(sc->raw, note, 3, 0, false), UV_ENOTCONN);
    CHECK_INT(rtpmidi_session_start(sc->raw), UV_ENOTCONN);
  }
  if (sc->made[K_IN] && !sc->freed[K_IN]) {
    rtpmidi_midi_in_stats st;
    rtpmidi_midi_in_get_stats(sc->in, &st);
    CHECK(rtpmidi_midi_in_port_name(sc->in) != NULL);
  }
}

static void free_one(scen *sc, int k) {
  sc->freed[k] = true;
  switch (k) {
  case K_RUNTIME:
    rtpmidi_runtime_free(sc->rt);
    check_inert(sc);
    break;
  case K_MIDI0: case K_MIDI1: rtpmidi_midi_session_free(sc->m[k - K_MIDI0]); break;
  case K_RAW: rtpmidi_session_free(sc->raw); break;
  case K_APPLE0: case K_APPLE1: rtpmidi_apple_free(sc->a[k - K_APPLE0]); break;
  case K_IN: rtpmidi_midi_in_close(sc->in); break;
  case K_M2HOST: case K_M2CLIENT: rtpmidi_midi2_free(sc->n2[k - K_M2HOST]); break;
  default: break;
  }
}

static void teardown(scen *sc) {
  if (sc->torn) return;
  sc->torn = true;
  for (int i = 0; i < sc->n; i++) free_one(sc, sc->order[i]);
}

/* ---- callbacks ---- */

static void m0_on_midi(void *ud, const uint8_t *msg, size_t len, double t, bool rec) {
  (void)msg; (void)len; (void)t; (void)rec;
  scen *sc = ud;
  if (gone(sc, K_MIDI0)) sc->late++;
}

static void m1_on_midi(void *ud, const uint8_t *msg, size_t len, double t, bool rec) {
  (void)t; (void)rec;
  scen *sc = ud;
  if (gone(sc, K_MIDI1)) {
    sc->late++;
    return;
  }
  sc->midi_received++;
  if (sc->mode == MODE_MIDI && !sc->torn) {
    /* an echo: queued for the end of the burst being delivered */
    CHECK_INT(rtpmidi_midi_session_send(sc->m[1], msg, len, NULL), 0);
    teardown(sc);
  }
}

static void on_drop(void *ud, const char *reason, const char *detail) {
  (void)reason; (void)detail;
  scen *sc = ud;
  if (sc->freed[K_RUNTIME]) sc->late++;
}

static void raw_on_rtp(void *ud, uint32_t ts, const uint8_t *p, size_t len, bool rec, bool marker) {
  (void)ts; (void)p; (void)len; (void)rec; (void)marker;
  scen *sc = ud;
  if (gone(sc, K_RAW)) sc->late++;
}

static void apple_on_joined(void *ud, const rtpmidi_apple_peer *p) {
  (void)p;
  scen *sc = ud;
  if (sc->freed[K_RUNTIME]) sc->late++;
  if (++sc->joined == 2) sc->joined_both = true;
}

static void apple_on_left(void *ud, const rtpmidi_apple_peer *p, const char *reason) {
  (void)p; (void)reason;
  scen *sc = ud;
  if (sc->freed[K_RUNTIME]) sc->late++;
}

static void a0_on_midi(void *ud, const rtpmidi_apple_peer *p, const uint8_t *msg, size_t len, double t,
                       bool rec) {
  (void)p; (void)msg; (void)len; (void)t; (void)rec;
  scen *sc = ud;
  if (gone(sc, K_APPLE0)) sc->late++;
}

static void a1_on_midi(void *ud, const rtpmidi_apple_peer *p, const uint8_t *msg, size_t len, double t,
                       bool rec) {
  (void)p; (void)t; (void)rec;
  scen *sc = ud;
  if (gone(sc, K_APPLE1)) {
    sc->late++;
    return;
  }
  if (sc->mode == MODE_APPLE && !sc->torn) {
    CHECK_INT(rtpmidi_apple_send(sc->a[1], msg, len, NULL), 0);
    teardown(sc);
  }
}

static void m2_on_joined(void *ud, const rtpmidi_midi2_peer *p) {
  (void)p;
  scen *sc = ud;
  if (sc->freed[K_RUNTIME]) sc->late++;
  if (++sc->joined2 == 2) sc->joined2_both = true;
}

static void m2_on_left(void *ud, const rtpmidi_midi2_peer *p, const char *reason) {
  (void)p; (void)reason;
  scen *sc = ud;
  if (sc->freed[K_RUNTIME]) sc->late++;
}

static void m2client_on_midi(void *ud, const rtpmidi_midi2_peer *p, const uint8_t *msg, size_t len, double t,
                             bool rec) {
  (void)p; (void)msg; (void)len; (void)t; (void)rec;
  scen *sc = ud;
  if (gone(sc, K_M2CLIENT)) sc->late++;
}

static void m2host_on_midi(void *ud, const rtpmidi_midi2_peer *p, const uint8_t *msg, size_t len, double t,
                           bool rec) {
  (void)p; (void)t; (void)rec;
  scen *sc = ud;
  if (gone(sc, K_M2HOST)) {
    sc->late++;
    return;
  }
  if (sc->mode == MODE_MIDI2 && !sc->torn) {
    CHECK(rtpmidi_midi2_send_midi(sc->n2[0], msg, len, NULL) >= 0);
    teardown(sc);
  }
}

static void in_on_message(void *ud, const uint8_t *msg, size_t len, double t) {
  (void)msg; (void)len; (void)t;
  scen *sc = ud;
  if (gone(sc, K_IN)) sc->late++;
}

/* ---- making them ---- */

static int midi_session(scen *sc, int send_to, int listen_on, rtpmidi_midi_session **out,
                        void (*on_midi)(void *, const uint8_t *, size_t, double, bool)) {
  rtpmidi_midi_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.rtp.peer_address = "127.0.0.1";
  cfg.rtp.sending_port = send_to;
  cfg.rtp.receiving_port = listen_on;
  cfg.rtp.jitter_buffer_ms = 5; /* packets may wait in the jitter buffer */
  cfg.recovery = true;          /* journals, and guard packets on a timer */
  rtpmidi_midi_events ev = {.on_midi = on_midi, .on_drop = on_drop};
  int r = rtpmidi_midi_session_new(sc->rt, &cfg, &ev, sc, out, NULL);
  if (r) return r;
  r = rtpmidi_session_start(rtpmidi_midi_session_rtp(*out));
  if (r) {
    rtpmidi_midi_session_free(*out);
    *out = NULL;
  }
  return r;
}

static bool setup(scen *sc) {
  if (uv_loop_init(&sc->loop)) return false;
  sc->rt = rtpmidi_runtime_new(&sc->loop);
  if (!sc->rt) return false;
  int r = UV_EADDRINUSE, p0 = 0, p1 = 0;
  for (int i = 0; i < 20 && r == UV_EADDRINUSE; i++) {
    p0 = capi_port();
    p1 = capi_port();
    if (p0 == p1) continue;
    r = midi_session(sc, p1, p0, &sc->m[0], m0_on_midi);
    if (!r) {
      r = midi_session(sc, p0, p1, &sc->m[1], m1_on_midi);
      if (r) rtpmidi_midi_session_free(sc->m[0]);
    }
  }
  if (r) {
    fprintf(stderr, "setup: MIDI sessions: %s\n", uv_err_name(r));
    return false;
  }
  if (sc->made[K_RAW]) {
    rtpmidi_session_config rc;
    memset(&rc, 0, sizeof rc);
    rc.peer_address = "127.0.0.1";
    rc.sending_port = p1;
    rc.payload_type = 96;
    rtpmidi_session_events rev = {.on_rtp = raw_on_rtp, .on_drop = on_drop};
    if (rtpmidi_session_new(sc->rt, &rc, &rev, sc, &sc->raw, NULL) || rtpmidi_session_start(sc->raw)) {
      fprintf(stderr, "setup: raw session\n");
      return false;
    }
  }
  if (sc->made[K_APPLE0]) {
    rtpmidi_apple_config ac;
    memset(&ac, 0, sizeof ac);
    ac.recovery = true;
    rtpmidi_apple_events e0 = {.on_midi = a0_on_midi, .on_joined = apple_on_joined, .on_left = apple_on_left};
    rtpmidi_apple_events e1 = {.on_midi = a1_on_midi, .on_joined = apple_on_joined, .on_left = apple_on_left};
    if (rtpmidi_apple_new(sc->rt, &ac, &e0, sc, &sc->a[0], NULL) ||
        rtpmidi_apple_new(sc->rt, &ac, &e1, sc, &sc->a[1], NULL) || rtpmidi_apple_start(sc->a[0]) ||
        rtpmidi_apple_start(sc->a[1]) ||
        rtpmidi_apple_invite(sc->a[0], "127.0.0.1", rtpmidi_apple_port(sc->a[1]))) {
      fprintf(stderr, "setup: AppleMIDI sessions\n");
      return false;
    }
  } else {
    sc->joined_both = true;
  }
  if (sc->made[K_M2HOST]) {
    rtpmidi_midi2_config hc, cc;
    memset(&hc, 0, sizeof hc);
    memset(&cc, 0, sizeof cc);
    hc.bind_address = cc.bind_address = "127.0.0.1";
    cc.role = RTPMIDI_MIDI2_CLIENT;
    rtpmidi_midi2_events he = {.on_midi = m2host_on_midi, .on_joined = m2_on_joined, .on_left = m2_on_left};
    rtpmidi_midi2_events ce = {.on_midi = m2client_on_midi, .on_joined = m2_on_joined, .on_left = m2_on_left};
    if (rtpmidi_midi2_new(sc->rt, &hc, &he, sc, &sc->n2[0], NULL) ||
        rtpmidi_midi2_new(sc->rt, &cc, &ce, sc, &sc->n2[1], NULL) || rtpmidi_midi2_start(sc->n2[0]) ||
        rtpmidi_midi2_start(sc->n2[1]) ||
        rtpmidi_midi2_invite(sc->n2[1], "127.0.0.1", rtpmidi_midi2_port(sc->n2[0]), NULL, NULL, NULL)) {
      fprintf(stderr, "setup: Network MIDI 2.0 sessions\n");
      return false;
    }
  } else {
    sc->joined2_both = true;
  }
  if (sc->made[K_IN]) {
    rtpmidi_midi_in_config ic;
    memset(&ic, 0, sizeof ic);
    ic.port.api = "jack";
    ic.port.virtual_name = "rtpmidi teardown";
    rtpmidi_midi_in_events iev = {.on_message = in_on_message};
    rtpmidi_error err;
    r = rtpmidi_midi_in_open(sc->rt, &ic, &iev, sc, &sc->in, &err);
    if (r) {
      fprintf(stderr, "setup: MIDI input: %s\n", err.message);
      return false;
    }
  }
  if (!capi_run_until(&sc->loop, &sc->joined_both, 5000)) {
    fprintf(stderr, "setup: the AppleMIDI sessions did not join\n");
    return false;
  }
  if (!capi_run_until(&sc->loop, &sc->joined2_both, 5000)) {
    fprintf(stderr, "setup: the Network MIDI 2.0 sessions did not join\n");
    return false;
  }
  return true;
}

/* Traffic in flight: a burst of packets from the first MIDI session, a raw
 * packet into the second one's socket, a message between the AppleMIDI
 * sessions, and more queued behind them (not flushed yet). */
static void send_traffic(scen *sc) {
  for (int i = 0; i < BURST; i++) {
    uint8_t note[3] = {0x90, (uint8_t)(40 + i), 64};
    CHECK_INT(rtpmidi_midi_session_send(sc->m[0], note, 3, NULL), 0);
    CHECK_INT(rtpmidi_midi_session_flush(sc->m[0]), 0);
  }
  static const uint8_t junk[4] = {1, 2, 3, 4};
  if (sc->raw)
    CHECK_INT(rtpmidi_session_send(sc->raw, junk, sizeof junk, rtpmidi_session_media_time(sc->raw), false), 0);
  static const uint8_t cc[3] = {0xB0, 7, 100};
  if (sc->made[K_APPLE0]) {
    CHECK_INT(rtpmidi_apple_send(sc->a[0], cc, 3, NULL), 0);
    CHECK_INT(rtpmidi_apple_flush(sc->a[0]), 0);
  }
  if (sc->made[K_M2HOST]) {
    for (int i = 0; i < BURST; i++) {
      uint8_t note[3] = {0x91, (uint8_t)(50 + i), 70};
      CHECK_INT(rtpmidi_midi2_send_midi(sc->n2[1], note, 3, NULL), 1);
    }
    CHECK_INT(rtpmidi_midi2_send_midi(sc->n2[0], cc, 3, NULL), 1);
  }
  /* queued for the end of this loop turn */
  static const uint8_t off[3] = {0x80, 40, 0};
  CHECK_INT(rtpmidi_midi_session_send(sc->m[0], off, 3, NULL), 0);
  CHECK_INT(rtpmidi_midi_session_send(sc->m[1], off, 3, NULL), 0);
  if (sc->made[K_APPLE1]) CHECK_INT(rtpmidi_apple_send(sc->a[1], off, 3, NULL), 0);
}

static bool run_scenario(scen *sc) {
  int before = check_failed_;
  if (!setup(sc)) {
    CHECK(!"setup");
    return false;
  }
  send_traffic(sc);
  if (sc->mode == MODE_QUEUED) {
    teardown(sc);
  } else if (!capi_run_until(&sc->loop, &sc->torn, 5000)) {
    fprintf(stderr, "no callback came to tear down from\n");
    CHECK(sc->torn);
    teardown(sc); /* all the same, so that the loop can end */
  }
  int closed = 0, left = capi_drain(&sc->loop, &closed);
  CHECK_INT(left, 0);
  CHECK_INT(closed, 0);
  CHECK_INT(sc->late, 0);
  if (check_failed_ != before) {
    fprintf(stderr, "in scenario %s:", MODE_NAMES[sc->mode]);
    for (int i = 0; i < sc->n; i++) fprintf(stderr, " %s", KIND_NAMES[sc->order[i]]);
    fprintf(stderr, "\n");
    return false;
  }
  return true;
}

/* The next permutation in lexicographic order; false after the last. */
static bool next_permutation(int *a, int n) {
  int i = n - 2;
  while (i >= 0 && a[i] >= a[i + 1]) i--;
  if (i < 0) return false;
  int j = n - 1;
  while (a[j] <= a[i]) j--;
  int t = a[i];
  a[i] = a[j];
  a[j] = t;
  for (int l = i + 1, r = n - 1; l < r; l++, r--) {
    t = a[l];
    a[l] = a[r];
    a[r] = t;
  }
  return true;
}

/* Whether a MIDI input can be opened here (a JACK server runs). */
static bool midi_in_available(void) {
  if (!rtpmidi_midi_available()) return false;
  uv_loop_t loop;
  uv_loop_init(&loop);
  rtpmidi_runtime *rt = rtpmidi_runtime_new(&loop);
  rtpmidi_midi_in_config ic;
  memset(&ic, 0, sizeof ic);
  ic.port.api = "jack";
  ic.port.virtual_name = "rtpmidi probe";
  rtpmidi_midi_in *in = NULL;
  bool ok = rtpmidi_midi_in_open(rt, &ic, NULL, NULL, &in, NULL) == 0;
  if (ok) rtpmidi_midi_in_close(in);
  rtpmidi_runtime_free(rt);
  int closed;
  capi_drain(&loop, &closed);
  return ok;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  /* argv[1]: run every Nth order only (default 1: all of them) */
  long stride = argc > 1 ? strtol(argv[1], NULL, 10) : 1;
  if (stride < 1) stride = 1;
  const char *need_in = getenv("RTPMIDI_TEST_MIDI_IN");
  bool with_in = need_in && need_in[0] == '1';
  if (with_in && !midi_in_available()) {
    fprintf(stderr, "RTPMIDI_TEST_MIDI_IN=1 but no MIDI input can be opened (no JACK server?)\n");
    return 77;
  }
  /* The sets (see the top): six objects, 720 orders a mode; five, 120. */
  static const int set1[] = {K_RUNTIME, K_MIDI0, K_MIDI1, K_RAW, K_APPLE0, K_APPLE1};
  static const int set1_in[] = {K_RUNTIME, K_MIDI0, K_MIDI1, K_IN, K_APPLE0, K_APPLE1};
  static const int set2[] = {K_RUNTIME, K_MIDI0, K_MIDI1, K_M2HOST, K_M2CLIENT};
  static const struct { const int *kinds; int n; enum mode third; } sets[] = {
    {set1, 6, MODE_APPLE}, {set2, 5, MODE_MIDI2}};
  int scenarios = 0, passed = 0;
  for (size_t set = 0; set < sizeof sets / sizeof sets[0]; set++) {
    if (with_in && set > 0) break; /* the JACK variant: the set with the input only */
    const int *kinds = with_in ? set1_in : sets[set].kinds;
    int n = sets[set].n;
    enum mode modes[3] = {MODE_QUEUED, MODE_MIDI, sets[set].third};
    for (int mi = 0; mi < 3; mi++) {
      int order[K_COUNT];
      memcpy(order, kinds, (size_t)n * sizeof order[0]);
      long index = 0;
      do {
        if (index++ % stride) continue;
        scen *sc = calloc(1, sizeof *sc);
        sc->mode = modes[mi];
        sc->order = order;
        sc->n = n;
        sc->with_in = with_in;
        for (int k = 0; k < K_COUNT; k++) sc->freed[k] = true; /* not made */
        for (int i = 0; i < n; i++) {
          sc->made[kinds[i]] = true;
          sc->freed[kinds[i]] = false;
        }
        scenarios++;
        if (run_scenario(sc)) passed++;
        free(sc);
        if (check_failed_ > 50) break; /* enough to go on */
      } while (next_permutation(order, n));
    }
  }
  printf("%d of %d teardown scenarios passed\n", passed, scenarios);
  return check_report();
}
