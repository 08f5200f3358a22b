#include "runtime.h"

#include <stdlib.h>
#include <string.h>

rtpmidi_runtime *rtpmidi_runtime_new(uv_loop_t *loop) {
  rtpmidi_runtime *rt = calloc(1, sizeof *rt);
  if (!rt) return NULL;
  rt->loop = loop;
  return rt;
}

uv_loop_t *rtpmidi_runtime_loop(rtpmidi_runtime *rt) { return rt->loop; }

void rtpmidi_runtime_free(rtpmidi_runtime *rt) {
  if (!rt) return;
  rt->freeing = true;
  while (rt->sessions) rtpmidi_session_free(rt->sessions);
  free(rt);
}

double rtpmidi_now_ms(void) { return (double)uv_hrtime() / 1e6; }

void rmc_random(void *buf, size_t n) {
  if (uv_random(NULL, NULL, buf, n, 0, NULL) != 0) {
    /* The system's source failed: mix the clock in so values still differ. */
    uint64_t t = uv_hrtime();
    unsigned char *p = buf;
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(t >> ((i % 8) * 8)) ^ (unsigned char)(i * 131);
  }
}
