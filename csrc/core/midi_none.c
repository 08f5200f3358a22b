/* MIDI ports in a build without RtMidi (RTPMIDI_RTMIDI=OFF, or RtMidi not
 * found): the functions exist, so that a program links against either
 * build, and every way to a port says that there is none. No port object
 * can be made, so the functions that take one are never reached with a
 * valid pointer; they do nothing harmful with NULL. */
#include "runtime.h"

#include <stdlib.h>

static int unsupported(rtpmidi_error *err) {
  rmc_error(err, UV_ENOTSUP, NULL, "rtpmidi was built without RtMidi: there are no MIDI ports");
  return UV_ENOTSUP;
}

bool rtpmidi_midi_available(void) { return false; }
bool rtpmidi_midi_jack_one_client(void) { return false; }

int rtpmidi_midi_apis(const char **names, int n) {
  (void)names;
  (void)n;
  return 0;
}

int rtpmidi_midi_in_ports(const char *api, rtpmidi_midi_port_fn fn, void *ud, rtpmidi_error *err) {
  (void)api; (void)fn; (void)ud;
  return unsupported(err);
}

int rtpmidi_midi_out_ports(const char *api, rtpmidi_midi_port_fn fn, void *ud, rtpmidi_error *err) {
  (void)api; (void)fn; (void)ud;
  return unsupported(err);
}

int rtpmidi_midi_in_open(rtpmidi_runtime *rt, const rtpmidi_midi_in_config *cfg,
                         const rtpmidi_midi_in_events *ev, void *ud, rtpmidi_midi_in **out,
                         rtpmidi_error *err) {
  (void)rt; (void)cfg; (void)ev; (void)ud;
  if (out) *out = NULL;
  return unsupported(err);
}

const char *rtpmidi_midi_in_api(const rtpmidi_midi_in *in) { (void)in; return ""; }
const char *rtpmidi_midi_in_port_name(const rtpmidi_midi_in *in) { (void)in; return ""; }
void rtpmidi_midi_in_get_stats(const rtpmidi_midi_in *in, rtpmidi_midi_in_stats *st) {
  (void)in;
  if (st) *st = (rtpmidi_midi_in_stats){0};
}
void rtpmidi_midi_in_close(rtpmidi_midi_in *in) { (void)in; }

int rtpmidi_midi_out_open(const rtpmidi_midi_out_config *cfg, rtpmidi_midi_out **out,
                          rtpmidi_error *err) {
  (void)cfg;
  if (out) *out = NULL;
  return unsupported(err);
}

const char *rtpmidi_midi_out_api(const rtpmidi_midi_out *o) { (void)o; return ""; }
const char *rtpmidi_midi_out_port_name(const rtpmidi_midi_out *o) { (void)o; return ""; }
int rtpmidi_midi_out_send(rtpmidi_midi_out *o, const uint8_t *bytes, size_t len) {
  (void)o; (void)bytes; (void)len;
  return UV_ENOTSUP;
}
int rtpmidi_midi_out_send_at(rtpmidi_midi_out *o, const uint8_t *bytes, size_t len, double time_ms) {
  (void)o; (void)bytes; (void)len; (void)time_ms;
  return UV_ENOTSUP;
}
void rtpmidi_midi_out_set_latency(rtpmidi_midi_out *o, double ms) { (void)o; (void)ms; }
double rtpmidi_midi_out_latency(const rtpmidi_midi_out *o) { (void)o; return 0; }
int rtpmidi_midi_out_all_notes_off(rtpmidi_midi_out *o) { (void)o; return 0; }
size_t rtpmidi_midi_out_cancel_pending(rtpmidi_midi_out *o) { (void)o; return 0; }
size_t rtpmidi_midi_out_pending(rtpmidi_midi_out *o) { (void)o; return 0; }
void rtpmidi_midi_out_get_stats(rtpmidi_midi_out *o, rtpmidi_midi_out_stats *st) {
  (void)o;
  if (st) *st = (rtpmidi_midi_out_stats){0};
}
void rtpmidi_midi_out_close(rtpmidi_midi_out *o) { (void)o; }

/* JACK clients are RtMidi's: the variable is set all the same, for whatever
 * else in the process reads it. */
void rtpmidi_midi_set_jack_server(const char *name) {
  if (name && name[0]) setenv("JACK_DEFAULT_SERVER", name, 1);
  else unsetenv("JACK_DEFAULT_SERVER");
}
