/* The send queue of a MIDI session (midi_queue.h). */
#include "midi_queue.h"
#include "midi_msg.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t n = *cap ? *cap : 16;
  while (n < need) n *= 2;
  void *r = realloc(*p, n * elem);
  if (!r) return UV_ENOMEM;
  *p = r;
  *cap = n;
  return 0;
}

static int push(rmc_midi_queue *q, const uint8_t *msg, size_t len, double t_ms) {
  if (grow((void **)&q->bytes, &q->cap, q->len + len, 1) ||
      grow((void **)&q->msgs, &q->mcap, q->n + 1, sizeof *q->msgs))
    return UV_ENOMEM;
  memcpy(q->bytes + q->len, msg, len);
  q->msgs[q->n++] = (rmc_midi_queued){q->len, len, t_ms};
  q->len += len;
  return 0;
}

int rmc_midi_queue_add(rmc_midi_queue *q, const uint8_t *bytes, size_t len, double t_ms,
                       const char **err) {
  /* A SysEx in the input is never longer than the input. */
  if (memchr(bytes, 0xF0, len) && grow((void **)&q->scratch, &q->scratch_cap, len, 1))
    return UV_ENOMEM;
  size_t n0 = q->n, len0 = q->len;
  rmp_midi_parser p;
  rmp_midi_parser_init(&p, q->scratch, q->scratch_cap);
  size_t pos = 0;
  int r = 0;
  bool oom = false; /* kept apart: RMP_E_* and UV_E* codes overlap (-12) */
  for (;;) {
    rmp_midi_event e;
    pos += rmp_midi_parser_feed(&p, bytes + pos, len - pos, &e);
    if (e.error) { r = e.error; break; }
    if (e.len) {
      if (push(q, e.data, e.len, t_ms)) { oom = true; break; }
      continue;
    }
    if (pos >= len) break;
  }
  if (!r && !oom && rmp_midi_parser_pending(&p)) r = RMP_E_TRUNCATED;
  if (r || oom) {
    /* All or nothing: forget what this call queued. */
    q->n = n0;
    q->len = len0;
    *err = oom ? "out of memory" : rmp_strerror(r);
    return oom ? UV_ENOMEM : UV_EINVAL;
  }
  return 0;
}

rmp_cmd_msg *rmc_midi_queue_commands(rmc_midi_queue *q, double rate) {
  if (grow((void **)&q->cmds, &q->cmds_cap, q->n, sizeof *q->cmds)) return NULL;
  /* Delta times from when each message was given, in RTP ticks. */
  double t0 = q->msgs[0].t_ms;
  uint64_t prev = 0;
  for (size_t i = 0; i < q->n; i++) {
    uint64_t ticks = (uint64_t)llround((q->msgs[i].t_ms - t0) * rate / 1000.0);
    if (ticks < prev) ticks = prev;
    q->cmds[i] = (rmp_cmd_msg){(uint32_t)(ticks - prev), q->bytes + q->msgs[i].off, q->msgs[i].len};
    prev = ticks;
  }
  return q->cmds;
}

void rmc_midi_queue_drop(rmc_midi_queue *q, size_t k) {
  if (k >= q->n) {
    rmc_midi_queue_clear(q);
    return;
  }
  size_t off = q->msgs[k].off;
  memmove(q->bytes, q->bytes + off, q->len - off);
  q->len -= off;
  memmove(q->msgs, q->msgs + k, (q->n - k) * sizeof *q->msgs);
  q->n -= k;
  for (size_t i = 0; i < q->n; i++) q->msgs[i].off -= off;
}

void rmc_midi_queue_clear(rmc_midi_queue *q) {
  q->n = 0;
  q->len = 0;
}

void rmc_midi_queue_free(rmc_midi_queue *q) {
  free(q->bytes);
  free(q->msgs);
  free(q->scratch);
  free(q->cmds);
  *q = (rmc_midi_queue){0};
}
