/* Zeroed configurations mean the defaults that rtpmidi.h writes beside each
 * field: through the public API only, on loopback. A MIDI session given no
 * more than its peer and ports streams with payload type 97 and a 10 kHz
 * media clock, and its messages carry finite, plausible times; an AppleMIDI
 * session given nothing streams too; a MIDI port configuration that names
 * only a virtual port is valid. */
#include "capi_util.h"
#include "check.h"

#include <math.h>

#define NOTES 5

/* ---- two zeroed MIDI sessions stream notes ---- */

typedef struct stream_test {
  uv_loop_t *loop;
  rtpmidi_midi_session *tx, *rx;
  uv_timer_t pace;
  int sent, got;
  double sent_ms[NOTES], time_ms[NOTES], arrived_ms[NOTES];
  uint8_t bytes[NOTES][3];
  size_t len[NOTES];
  bool recovered, done;
} stream_test;

static void stream_on_midi(void *ud, const uint8_t *msg, size_t len, double time_ms, bool recovered) {
  stream_test *t = ud;
  if (t->got < NOTES) {
    memcpy(t->bytes[t->got], msg, len < 3 ? len : 3);
    t->len[t->got] = len;
    t->time_ms[t->got] = time_ms;
    t->arrived_ms[t->got] = rtpmidi_now_ms();
  }
  t->recovered = t->recovered || recovered;
  if (++t->got == NOTES) t->done = true;
}

static void on_pace(uv_timer_t *h) {
  stream_test *t = h->data;
  uint8_t note[3] = {0x90, (uint8_t)(60 + t->sent), 100};
  t->sent_ms[t->sent] = rtpmidi_now_ms();
  CHECK_INT(rtpmidi_midi_session_send(t->tx, note, 3, NULL), 0);
  if (++t->sent == NOTES) uv_timer_stop(h);
}

/* A MIDI session with every field zero but the peer and the ports. */
static int zeroed_midi(rtpmidi_runtime *rt, int send_to, int listen_on, const rtpmidi_midi_events *ev,
                       void *ud, rtpmidi_midi_session **out) {
  rtpmidi_midi_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.rtp.peer_address = "127.0.0.1";
  cfg.rtp.sending_port = send_to;
  cfg.rtp.receiving_port = listen_on;
  rtpmidi_error err;
  int r = rtpmidi_midi_session_new(rt, &cfg, ev, ud, out, &err);
  if (r) {
    fprintf(stderr, "midi_session_new: %s\n", err.message);
    return r;
  }
  r = rtpmidi_session_start(rtpmidi_midi_session_rtp(*out));
  if (r) {
    rtpmidi_midi_session_free(*out);
    *out = NULL;
  }
  return r;
}

static void test_zeroed_midi_streams(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  rtpmidi_runtime *rt = rtpmidi_runtime_new(&loop);
  stream_test t;
  memset(&t, 0, sizeof t);
  t.loop = &loop;
  rtpmidi_midi_events ev = {.on_midi = stream_on_midi};
  int port = 0, r = UV_EADDRINUSE;
  for (int i = 0; i < 20 && r == UV_EADDRINUSE; i++) r = zeroed_midi(rt, 0, port = capi_port(), &ev, &t, &t.rx);
  CHECK_INT(r, 0);
  CHECK_INT(zeroed_midi(rt, port, 0, NULL, NULL, &t.tx), 0);
  if (!t.rx || !t.tx) return;
  uv_timer_init(&loop, &t.pace);
  t.pace.data = &t;
  uv_timer_start(&t.pace, on_pace, 0, 3);
  CHECK(capi_run_until(&loop, &t.done, 5000));
  CHECK_INT(t.got, NOTES);
  CHECK(!t.recovered);
  for (int i = 0; i < t.got && i < NOTES; i++) {
    uint8_t want[3] = {0x90, (uint8_t)(60 + i), 100};
    CHECK_MEM(t.bytes[i], t.len[i], want, 3);
    /* Finite, and between when it was given and when it arrived: the
     * sender's RTP time mapped to ours (0.1 ms ticks, hence the margin). */
    CHECK(isfinite(t.time_ms[i]));
    if (!(t.time_ms[i] >= t.sent_ms[i] - 0.5 && t.time_ms[i] <= t.arrived_ms[i] + 0.5))
      fprintf(stderr, "note %d: sent %.3f, time %.3f, arrived %.3f\n", i, t.sent_ms[i], t.time_ms[i],
              t.arrived_ms[i]);
    CHECK(t.time_ms[i] >= t.sent_ms[i] - 0.5);
    CHECK(t.time_ms[i] <= t.arrived_ms[i] + 0.5);
  }
  rtpmidi_session_stats st;
  rtpmidi_session_get_stats(rtpmidi_midi_session_rtp(t.rx), &st);
  CHECK(isfinite(st.jitter_ms) && st.jitter_ms >= 0 && st.jitter_ms < 1000);
  CHECK_INT(st.malformed, 0);
  uv_close((uv_handle_t *)&t.pace, NULL);
  rtpmidi_midi_session_free(t.tx);
  rtpmidi_midi_session_free(t.rx);
  rtpmidi_runtime_free(rt);
  int closed;
  CHECK_INT(capi_drain(&loop, &closed), 0);
  CHECK_INT(closed, 0);
}

/* ---- the payload type on the wire ---- */

typedef struct pt_test {
  int rtp97, rtp96;
  bool done;
} pt_test;

static void on_rtp97(void *ud, uint32_t ts, const uint8_t *payload, size_t len, bool recovery, bool marker) {
  (void)ts; (void)payload; (void)len; (void)recovery; (void)marker;
  pt_test *t = ud;
  t->rtp97++;
  t->done = true;
}

static void on_rtp96(void *ud, uint32_t ts, const uint8_t *payload, size_t len, bool recovery, bool marker) {
  (void)ts; (void)payload; (void)len; (void)recovery; (void)marker;
  ((pt_test *)ud)->rtp96++;
}

static int raw_receiver(rtpmidi_runtime *rt, int pt, const rtpmidi_session_events *ev, void *ud,
                        rtpmidi_session **out, int *port) {
  int r = UV_EADDRINUSE;
  for (int i = 0; i < 20 && r == UV_EADDRINUSE; i++) {
    rtpmidi_session_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.peer_address = "127.0.0.1";
    cfg.receiving_port = *port = capi_port();
    cfg.payload_type = pt;
    r = rtpmidi_session_new(rt, &cfg, ev, ud, out, NULL);
    if (r) return r;
    r = rtpmidi_session_start(*out);
    if (r) rtpmidi_session_free(*out);
  }
  return r;
}

static void test_payload_type_on_the_wire(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  rtpmidi_runtime *rt = rtpmidi_runtime_new(&loop);
  pt_test t;
  memset(&t, 0, sizeof t);
  rtpmidi_session_events e97 = {.on_rtp = on_rtp97}, e96 = {.on_rtp = on_rtp96};
  rtpmidi_session *r97 = NULL, *r96 = NULL;
  rtpmidi_midi_session *to97 = NULL, *to96 = NULL;
  int p97 = 0, p96 = 0;
  CHECK_INT(raw_receiver(rt, 97, &e97, &t, &r97, &p97), 0);
  CHECK_INT(raw_receiver(rt, 96, &e96, &t, &r96, &p96), 0);
  CHECK_INT(zeroed_midi(rt, p97, 0, NULL, NULL, &to97), 0);
  CHECK_INT(zeroed_midi(rt, p96, 0, NULL, NULL, &to96), 0);
  static const uint8_t note[3] = {0x90, 64, 1};
  /* the 96 receiver gets its packet first: the 97 one ends the wait */
  CHECK_INT(rtpmidi_midi_session_send(to96, note, 3, NULL), 0);
  CHECK_INT(rtpmidi_midi_session_flush(to96), 0);
  CHECK_INT(rtpmidi_midi_session_send(to97, note, 3, NULL), 0);
  CHECK(capi_run_until(&loop, &t.done, 5000));
  CHECK_INT(t.rtp97, 1);
  rtpmidi_session_stats st;
  rtpmidi_session_get_stats(r96, &st);
  CHECK_INT(t.rtp96, 0);
  CHECK_INT(st.malformed, 1); /* from the peer, with a payload type it does not expect */
  rtpmidi_session_get_stats(r97, &st);
  CHECK_INT(st.malformed, 0);
  rtpmidi_midi_session_free(to97);
  rtpmidi_midi_session_free(to96);
  rtpmidi_session_free(r97);
  rtpmidi_session_free(r96);
  rtpmidi_runtime_free(rt);
  int closed;
  CHECK_INT(capi_drain(&loop, &closed), 0);
  CHECK_INT(closed, 0);
}

/* ---- what is refused, and the media clock ---- */

static void test_midi_payload_types(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  rtpmidi_runtime *rt = rtpmidi_runtime_new(&loop);
  static const struct { int pt; int want; } cases[] = {
    {0, 0}, {-1, 0}, {96, 0}, {97, 0}, {127, 0}, {1, UV_EINVAL}, {95, UV_EINVAL}, {128, UV_EINVAL}, {-2, UV_EINVAL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    rtpmidi_midi_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.rtp.peer_address = "127.0.0.1";
    cfg.rtp.sending_port = 5004;
    cfg.rtp.payload_type = cases[i].pt;
    rtpmidi_midi_session *m = NULL;
    rtpmidi_error err = {.field = "untouched", .message = "untouched"};
    int r = rtpmidi_midi_session_new(rt, &cfg, NULL, NULL, &m, &err);
    if (r != cases[i].want) fprintf(stderr, "payload_type %d\n", cases[i].pt);
    CHECK_INT(r, cases[i].want);
    if (r) {
      CHECK(err.field && strcmp(err.field, "payload") == 0);
      CHECK(strcmp(err.message, "invalid payload") == 0);
      CHECK(m == NULL);
    } else {
      /* left alone on success */
      CHECK(strcmp(err.field, "untouched") == 0 && strcmp(err.message, "untouched") == 0);
      rtpmidi_midi_session_free(m);
    }
  }
  rtpmidi_runtime_free(rt);
  int closed;
  CHECK_INT(capi_drain(&loop, &closed), 0);
  CHECK_INT(closed, 0);
}

static void test_default_media_clock(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  rtpmidi_runtime *rt = rtpmidi_runtime_new(&loop);
  rtpmidi_session_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.peer_address = "127.0.0.1";
  cfg.sending_port = 5004;
  rtpmidi_session *s = NULL;
  CHECK_INT(rtpmidi_session_new(rt, &cfg, NULL, NULL, &s, NULL), 0);
  if (!s) return;
  /* The media clock counts 10000 ticks a second: measured over 20 ms of
   * the same monotonic clock (read, not slept). */
  double t0 = rtpmidi_now_ms();
  uint32_t m0 = rtpmidi_session_media_time(s);
  double t1;
  while ((t1 = rtpmidi_now_ms()) < t0 + 20) {
  }
  uint32_t m1 = rtpmidi_session_media_time(s);
  double ticks = (double)(uint32_t)(m1 - m0), want = (t1 - t0) * 10.0;
  if (fabs(ticks - want) > 2) fprintf(stderr, "%.0f ticks in %.3f ms\n", ticks, t1 - t0);
  CHECK(fabs(ticks - want) <= 2);
  rtpmidi_session_free(s);
  rtpmidi_runtime_free(rt);
  int closed;
  CHECK_INT(capi_drain(&loop, &closed), 0);
  CHECK_INT(closed, 0);
}

/* ---- AppleMIDI with a zeroed configuration ---- */

typedef struct apple_test {
  int joined;
  double sent_ms, time_ms, arrived_ms;
  uint8_t msg[3];
  size_t len;
  bool both_joined, got;
} apple_test;

static void apple_on_joined(void *ud, const rtpmidi_apple_peer *p) {
  (void)p;
  apple_test *t = ud;
  if (++t->joined == 2) t->both_joined = true;
}

static void apple_on_midi(void *ud, const rtpmidi_apple_peer *p, const uint8_t *msg, size_t len,
                          double time_ms, bool recovered) {
  (void)p;
  (void)recovered;
  apple_test *t = ud;
  memcpy(t->msg, msg, len < 3 ? len : 3);
  t->len = len;
  t->time_ms = time_ms;
  t->arrived_ms = rtpmidi_now_ms();
  t->got = true;
}

static void test_zeroed_apple_streams(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  rtpmidi_runtime *rt = rtpmidi_runtime_new(&loop);
  apple_test t;
  memset(&t, 0, sizeof t);
  rtpmidi_apple_config cfg;
  memset(&cfg, 0, sizeof cfg); /* name "rtpmidi", a free port pair, accept any, defaults */
  rtpmidi_apple_events ev = {.on_midi = apple_on_midi, .on_joined = apple_on_joined};
  rtpmidi_apple *a = NULL, *b = NULL;
  CHECK_INT(rtpmidi_apple_new(rt, &cfg, &ev, &t, &a, NULL), 0);
  CHECK_INT(rtpmidi_apple_new(rt, &cfg, &ev, &t, &b, NULL), 0);
  if (!a || !b) return;
  CHECK_INT(rtpmidi_apple_start(a), 0);
  CHECK_INT(rtpmidi_apple_start(b), 0);
  CHECK(rtpmidi_apple_port(b) > 0);
  CHECK_INT(rtpmidi_apple_invite(a, "127.0.0.1", rtpmidi_apple_port(b)), 0);
  CHECK(capi_run_until(&loop, &t.both_joined, 5000));
  static const uint8_t note[3] = {0x91, 62, 90};
  t.sent_ms = rtpmidi_now_ms();
  CHECK_INT(rtpmidi_apple_send(a, note, 3, NULL), 0);
  CHECK(capi_run_until(&loop, &t.got, 5000));
  CHECK_MEM(t.msg, t.len, note, 3);
  CHECK(isfinite(t.time_ms));
  if (!(t.time_ms >= t.sent_ms - 0.5 && t.time_ms <= t.arrived_ms + 0.5))
    fprintf(stderr, "apple: sent %.3f, time %.3f, arrived %.3f\n", t.sent_ms, t.time_ms, t.arrived_ms);
  CHECK(t.time_ms >= t.sent_ms - 0.5 && t.time_ms <= t.arrived_ms + 0.5);
  rtpmidi_apple_free(a);
  rtpmidi_apple_free(b);
  rtpmidi_runtime_free(rt);
  int closed;
  CHECK_INT(capi_drain(&loop, &closed), 0);
  CHECK_INT(closed, 0);
}

/* ---- MIDI ports: a configuration with only a virtual name is valid ---- */

static void test_zeroed_port_configs(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  rtpmidi_runtime *rt = rtpmidi_runtime_new(&loop);
  rtpmidi_midi_out_config oc;
  memset(&oc, 0, sizeof oc);
  oc.port.virtual_name = "rtpmidi test";
  rtpmidi_midi_out *o = NULL;
  rtpmidi_error err;
  /* Past the configuration check: opened, or refused by the system (no
   * ALSA sequencer, no JACK server: UV_EIO), or not compiled in; a failure
   * at run time names no field and says what happened. */
  int r = rtpmidi_midi_out_open(&oc, &o, &err);
  if (r) printf("midi out: %s: %s\n", uv_err_name(r), err.message);
  CHECK(r == 0 || r == UV_EIO || r == UV_ENOTSUP);
  if (r) CHECK(err.field == NULL && err.message[0] != '\0');
  if (!r) rtpmidi_midi_out_close(o);
  rtpmidi_midi_in_config ic;
  memset(&ic, 0, sizeof ic);
  ic.port.virtual_name = "rtpmidi test";
  rtpmidi_midi_in *in = NULL;
  r = rtpmidi_midi_in_open(rt, &ic, NULL, NULL, &in, &err);
  if (r) printf("midi in: %s: %s\n", uv_err_name(r), err.message);
  CHECK(r == 0 || r == UV_EIO || r == UV_ENOTSUP);
  if (r) CHECK(err.field == NULL && err.message[0] != '\0' && in == NULL);
  if (!r) rtpmidi_midi_in_close(in);
  /* Both a virtual name and a port index other than 0 is a mistake. */
  ic.port.index = 2;
  r = rtpmidi_midi_in_open(rt, &ic, NULL, NULL, &in, &err);
  CHECK(r == UV_EINVAL || r == UV_ENOTSUP);
  if (r == UV_EINVAL) CHECK(err.field && strcmp(err.field, "virtual") == 0);
  rtpmidi_runtime_free(rt);
  int closed;
  CHECK_INT(capi_drain(&loop, &closed), 0);
  CHECK_INT(closed, 0);
}

/* ---- one error convention: rtpmidi_error ---- */

static void test_error_convention(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  rtpmidi_runtime *rt = rtpmidi_runtime_new(&loop);
  rtpmidi_error err;
  /* constructors: UV_EINVAL names the field, *out is NULL */
  rtpmidi_session_config sc;
  memset(&sc, 0, sizeof sc);
  sc.peer_address = "127.0.0.1";
  sc.sending_port = 70000;
  rtpmidi_session *s = (rtpmidi_session *)&err; /* anything but NULL */
  CHECK_INT(rtpmidi_session_new(rt, &sc, NULL, NULL, &s, &err), UV_EINVAL);
  CHECK(s == NULL);
  CHECK(err.field && strcmp(err.field, "sending_port") == 0);
  CHECK(strcmp(err.message, "invalid sending_port") == 0);
  CHECK_INT(rtpmidi_session_new(rt, &sc, NULL, NULL, &s, NULL), UV_EINVAL); /* err is optional */
  rtpmidi_apple_config ac;
  memset(&ac, 0, sizeof ac);
  ac.port = -5;
  rtpmidi_apple *a = (rtpmidi_apple *)&err;
  CHECK_INT(rtpmidi_apple_new(rt, &ac, NULL, NULL, &a, &err), UV_EINVAL);
  CHECK(a == NULL);
  CHECK(err.field && strcmp(err.field, "port") == 0);
  /* sends: bytes that are not MIDI name "bytes" and say why */
  static const uint8_t cut[2] = {0x90, 60}, stray[1] = {0xF7}, note[3] = {0x90, 60, 1};
  CHECK_INT(rtpmidi_midi_check_bytes(stray, 1, &err), UV_EINVAL);
  CHECK(err.field && strcmp(err.field, "bytes") == 0);
  CHECK(strcmp(err.message, "an F7 outside a SysEx") == 0);
  CHECK_INT(rtpmidi_midi_check_bytes(note, 3, NULL), 0);
  rtpmidi_midi_config mc;
  memset(&mc, 0, sizeof mc);
  mc.rtp.peer_address = "127.0.0.1";
  mc.rtp.sending_port = capi_port();
  rtpmidi_midi_session *m = NULL;
  CHECK_INT(rtpmidi_midi_session_new(rt, &mc, NULL, NULL, &m, &err), 0);
  CHECK_INT(rtpmidi_midi_session_send(m, note, 3, &err), UV_ENOTCONN); /* not started */
  CHECK(err.field == NULL && strstr(err.message, "ENOTCONN") != NULL);
  CHECK_INT(rtpmidi_session_start(rtpmidi_midi_session_rtp(m)), 0);
  CHECK_INT(rtpmidi_midi_session_send(m, cut, 2, &err), UV_EINVAL);
  CHECK(err.field && strcmp(err.field, "bytes") == 0);
  CHECK(strcmp(err.message, "truncated MIDI message") == 0);
  CHECK_INT(rtpmidi_midi_session_send_at(m, cut, 2, rtpmidi_now_ms(), NULL), UV_EINVAL);
  CHECK_INT(rtpmidi_apple_new(rt, &(rtpmidi_apple_config){0}, NULL, NULL, &a, &err), 0);
  CHECK_INT(rtpmidi_apple_start(a), 0);
  CHECK_INT(rtpmidi_apple_send(a, stray, 1, &err), UV_EINVAL); /* not "out of memory" (both -12) */
  CHECK(err.field && strcmp(err.field, "bytes") == 0);
  CHECK(strstr(err.message, "0xF7") != NULL);
  /* MIDI ports: a misuse names the field; a failure at run time does not */
  int r = rtpmidi_midi_in_ports("nope", NULL, NULL, &err);
  CHECK(r == UV_EINVAL || r == UV_ENOTSUP);
  if (r == UV_EINVAL) CHECK(err.field && strcmp(err.field, "api") == 0 && strstr(err.message, "nope"));
  else CHECK(err.field == NULL && strstr(err.message, "without RtMidi"));
  rtpmidi_midi_out_config oc;
  memset(&oc, 0, sizeof oc);
  oc.port.virtual_name = "x";
  oc.latency_ms = -1;
  rtpmidi_midi_out *o = (rtpmidi_midi_out *)&err;
  r = rtpmidi_midi_out_open(&oc, &o, &err);
  CHECK(o == NULL);
  CHECK(r == UV_EINVAL || r == UV_ENOTSUP);
  if (r == UV_EINVAL) CHECK(err.field && strcmp(err.field, "latency") == 0 && strcmp(err.message, "invalid latency") == 0);
  rtpmidi_apple_free(a);
  rtpmidi_midi_session_free(m);
  rtpmidi_runtime_free(rt);
  int closed;
  CHECK_INT(capi_drain(&loop, &closed), 0);
  CHECK_INT(closed, 0);
}

int main(void) {
  test_zeroed_midi_streams();
  test_payload_type_on_the_wire();
  test_midi_payload_types();
  test_default_media_clock();
  test_zeroed_apple_streams();
  test_zeroed_port_configs();
  test_error_convention();
  return check_report();
}
