/* Helpers of the C tests that open MIDI ports on JACK through the public API
 * (test_jack_*.c, run through with_jackd.sh): port configurations, and
 * running the loop until enough messages arrived, with a watchdog. */
#ifndef RTPMIDI_TEST_JACK_UTIL_H
#define RTPMIDI_TEST_JACK_UTIL_H

#include "rtpmidi.h"

#include <stdbool.h>
#include <string.h>
#include <uv.h>

/* A MidiIn on JACK: a port named name of the process's client, client. */
static inline rtpmidi_midi_in_config jack_in_config(const char *client, const char *name) {
  rtpmidi_midi_in_config ic;
  memset(&ic, 0, sizeof ic);
  ic.port.api = "jack";
  ic.port.client_name = client;
  ic.port.virtual_name = name;
  ic.port.index = -1;
  return ic;
}

/* A MidiOut on JACK connected to the port called port. */
static inline rtpmidi_midi_out_config jack_out_config(const char *client, const char *port) {
  rtpmidi_midi_out_config oc;
  memset(&oc, 0, sizeof oc);
  oc.port.api = "jack";
  oc.port.client_name = client;
  oc.port.port = port;
  oc.port.index = -1;
  return oc;
}

/* Runs loop until *count reaches want or ms milliseconds passed (input
 * comes from JACK's thread through the MidiIn's async handle, so the loop
 * is polled); whether it did. */
static inline bool jack_poll_until(uv_loop_t *loop, const int *count, int want, unsigned ms) {
  uint64_t until = uv_hrtime() + (uint64_t)ms * 1000000u;
  while (*count < want && uv_hrtime() < until) {
    uv_run(loop, UV_RUN_NOWAIT);
    uv_sleep(1);
  }
  return *count >= want;
}

/* Frees the runtime, runs loop to its end and closes it: uv_loop_close's result. */
static inline int jack_loop_end(uv_loop_t *loop, rtpmidi_runtime *rt) {
  rtpmidi_runtime_free(rt);
  while (uv_run(loop, UV_RUN_NOWAIT)) {
  }
  return uv_loop_close(loop);
}

#endif
