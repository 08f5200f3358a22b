/* Helpers of the C tests that use the public API (test_capi_*.c): ports on
 * loopback, and running a loop until something happened, with a watchdog. */
#ifndef RTPMIDI_TEST_CAPI_UTIL_H
#define RTPMIDI_TEST_CAPI_UTIL_H

#include "rtpmidi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* An even port in 20000..59998 (RTCP takes the one above), different on
 * each call and in each process. */
static inline int capi_port(void) {
  static uint64_t x;
  if (!x) x = uv_hrtime() ^ ((uint64_t)getpid() << 32) ^ 0x9E3779B97F4A7C15u;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return 20000 + (int)(x % 20000) * 2;
}

static void capi_fire_(uv_timer_t *t) { *(bool *)t->data = true; }

/* Runs loop until *flag is true or ms milliseconds passed; true when *flag. */
static inline bool capi_run_until(uv_loop_t *loop, const bool *flag, unsigned ms) {
  uv_timer_t t;
  bool fired = false;
  uv_timer_init(loop, &t);
  t.data = &fired;
  uv_timer_start(&t, capi_fire_, ms, 0);
  while (!*flag && !fired) uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(loop, UV_RUN_NOWAIT); /* t lives on this stack: its close completes here */
  return *flag;
}

static void capi_print_handle_(uv_handle_t *h, void *arg) {
  (void)arg;
  fprintf(stderr, "  open handle: %s%s%s\n", uv_handle_type_name(uv_handle_get_type(h)),
          uv_is_active(h) ? " (active)" : "", uv_is_closing(h) ? " (closing)" : "");
}

/* Runs loop to its end, as a host does after freeing everything: returns
 * uv_run's value (0: nothing was left active). A watchdog that does not keep
 * the loop alive (unreferenced) stops a loop that would never end, after
 * listing what is still open. Then closes the loop: 0 when no handle at all
 * is left, even an inactive one. */
static inline int capi_drain(uv_loop_t *loop, int *close_result) {
  uv_timer_t t;
  bool fired = false;
  uv_timer_init(loop, &t);
  t.data = &fired;
  uv_timer_start(&t, capi_fire_, 5000, 0);
  uv_unref((uv_handle_t *)&t);
  int left = 0;
  for (;;) {
    left = uv_run(loop, UV_RUN_ONCE);
    if (!left || fired) break;
  }
  if (fired) {
    fprintf(stderr, "the loop did not end within 5 s:\n");
    uv_walk(loop, capi_print_handle_, NULL);
  }
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  if (fired && !left) left = 1;
  *close_result = uv_loop_close(loop);
  if (*close_result) uv_walk(loop, capi_print_handle_, NULL);
  return left;
}

#endif
