/* The public constructors and sends of rtpmidi.h with their one error
 * convention (rtpmidi_error): the core's functions say what is wrong with a
 * static string, and these put it where the host reads it. */
#include "runtime.h"

#include <stdarg.h>
#include <stdio.h>

void rmc_error(rtpmidi_error *err, int r, const char *field, const char *fmt, ...) {
  if (!err) return;
  err->field = field;
  err->message[0] = '\0';
  if (fmt && fmt[0]) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
  }
  if (err->message[0]) return;
  if (field && r == UV_EINVAL) snprintf(err->message, sizeof err->message, "invalid %s", field);
  else snprintf(err->message, sizeof err->message, "%s: %s", uv_err_name(r), uv_strerror(r));
}

/* A constructor's failure: a field name for UV_EINVAL, else the code. */
static int made(int r, const char *bad, rtpmidi_error *err) {
  if (r) rmc_error(err, r, r == UV_EINVAL ? bad : NULL, NULL);
  return r;
}

/* A send's failure: bytes that are not MIDI, with the reason, or the code
 * (r >= 0 is a success: a count for some). */
static int sent(int r, const char *why, rtpmidi_error *err) {
  if (r == UV_EINVAL) rmc_error(err, r, "bytes", "%s", why ? why : "not complete MIDI messages");
  else if (r < 0) rmc_error(err, r, NULL, NULL);
  return r;
}

int rtpmidi_session_new(rtpmidi_runtime *rt, const rtpmidi_session_config *cfg,
                        const rtpmidi_session_events *ev, void *ud, rtpmidi_session **out,
                        rtpmidi_error *err) {
  const char *bad = NULL;
  int r = rmc_session_new(rt, cfg, ev, ud, out, &bad);
  if (r) *out = NULL;
  return made(r, bad, err);
}

int rtpmidi_midi_session_new(rtpmidi_runtime *rt, const rtpmidi_midi_config *cfg,
                             const rtpmidi_midi_events *ev, void *ud, rtpmidi_midi_session **out,
                             rtpmidi_error *err) {
  const char *bad = NULL;
  int r = rmc_midi_session_new(rt, cfg, ev, ud, out, &bad);
  if (r) *out = NULL;
  return made(r, bad, err);
}

int rtpmidi_apple_new(rtpmidi_runtime *rt, const rtpmidi_apple_config *cfg,
                      const rtpmidi_apple_events *ev, void *ud, rtpmidi_apple **out,
                      rtpmidi_error *err) {
  const char *bad = NULL;
  int r = rmc_apple_new(rt, cfg, ev, ud, out, &bad);
  if (r) *out = NULL;
  return made(r, bad, err);
}

int rtpmidi_midi2_new(rtpmidi_runtime *rt, const rtpmidi_midi2_config *cfg,
                      const rtpmidi_midi2_events *ev, void *ud, rtpmidi_midi2 **out,
                      rtpmidi_error *err) {
  const char *bad = NULL;
  int r = rmc_midi2_new(rt, cfg, ev, ud, out, &bad);
  if (r && out) *out = NULL;
  return made(r, bad, err);
}

int rtpmidi_midi2_send_midi(rtpmidi_midi2 *m, const uint8_t *bytes, size_t len, rtpmidi_error *err) {
  const char *why = NULL;
  int r = rmc_midi2_send_midi(m, bytes, len, &why);
  return sent(r, why, err);
}

int rtpmidi_midi_session_send(rtpmidi_midi_session *m, const uint8_t *bytes, size_t len,
                              rtpmidi_error *err) {
  const char *why = NULL;
  int r = rmc_midi_session_send_at(m, bytes, len, -1, &why);
  return sent(r, why, err);
}

int rtpmidi_midi_session_send_at(rtpmidi_midi_session *m, const uint8_t *bytes, size_t len,
                                 double time_ms, rtpmidi_error *err) {
  const char *why = NULL;
  int r = rmc_midi_session_send_at(m, bytes, len, time_ms, &why);
  return sent(r, why, err);
}

int rtpmidi_apple_send(rtpmidi_apple *a, const uint8_t *bytes, size_t len, rtpmidi_error *err) {
  const char *why = NULL;
  int r = rmc_apple_send(a, bytes, len, &why);
  return sent(r, why, err);
}
