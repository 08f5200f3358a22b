/* When a MIDI session's queued messages leave (flusher.h). */
#include "flusher.h"

#include <math.h>
#include <stdlib.h>

typedef struct rmc_flusher_handles {
  uv_idle_t idle;   /* keeps the loop from blocking while messages wait */
  uv_check_t check; /* flushes them after the loop turn's callbacks */
  uv_timer_t timer; /* rmc_flusher_wake_at */
  rmc_flusher *f;   /* NULL once the owner let go */
  int open;
} rmc_flusher_handles;

static void on_closed(uv_handle_t *h) {
  rmc_flusher_handles *b = h->data;
  if (--b->open == 0) free(b);
}

static void on_check(uv_check_t *h) {
  rmc_flusher_handles *b = h->data;
  if (b->f) b->f->flush(b->f->owner);
}

static void on_idle(uv_idle_t *h) { (void)h; }

static void on_timer(uv_timer_t *h) {
  rmc_flusher_handles *b = h->data;
  if (b->f && b->f->wake) b->f->wake(b->f->owner);
}

static void on_burst_end(void *owner) {
  rmc_flusher *f = owner;
  f->flush(f->owner);
}

void rmc_flusher_init(rmc_flusher *f, rtpmidi_runtime *rt, rmc_flusher_fn flush, rmc_flusher_fn wake,
                      void *owner) {
  *f = (rmc_flusher){.rt = rt, .flush = flush, .wake = wake, .owner = owner};
  f->burst.run = on_burst_end;
  f->burst.owner = f;
}

static int open_handles(rmc_flusher *f) {
  rmc_flusher_handles *b = calloc(1, sizeof *b);
  if (!b) return UV_ENOMEM;
  b->f = f;
  uv_idle_init(f->rt->loop, &b->idle);
  uv_check_init(f->rt->loop, &b->check);
  uv_timer_init(f->rt->loop, &b->timer);
  b->idle.data = b->check.data = b->timer.data = b;
  b->open = 3;
  /* These only run while messages wait: they must not keep the loop alive
   * on their own. */
  uv_unref((uv_handle_t *)&b->idle);
  uv_unref((uv_handle_t *)&b->check);
  f->h = b;
  return 0;
}

int rmc_flusher_add(rmc_flusher *f, const uint8_t *bytes, size_t len, double now_ms, double time_ms,
                    const char **err) {
  if (!f->h && open_handles(f)) return UV_ENOMEM;
  /* A time from a MIDI input (when the bytes arrived there) may be earlier
   * than now; one from the future would make a negative delta. */
  double t = time_ms >= 0 && time_ms < now_ms ? time_ms : now_ms;
  if (f->q.n && t < f->q.msgs[f->q.n - 1].t_ms) t = f->q.msgs[f->q.n - 1].t_ms;
  size_t n0 = f->q.n;
  int r = rmc_midi_queue_add(&f->q, bytes, len, t, err);
  if (r || f->q.n == n0) return r;
  /* Given while a received burst is delivered: the packet leaves at the
   * burst's end. Otherwise, or should that not come, after the loop turn's
   * callbacks. */
  rmc_burst_defer(f->rt, &f->burst);
  if (!uv_is_active((uv_handle_t *)&f->h->check)) {
    uv_idle_start(&f->h->idle, on_idle);
    uv_check_start(&f->h->check, on_check);
  }
  return 0;
}

static void stop_handles(rmc_flusher *f) {
  if (!f->h) return;
  uv_idle_stop(&f->h->idle);
  uv_check_stop(&f->h->check);
}

rmp_cmd_msg *rmc_flusher_begin(rmc_flusher *f, double rate, size_t *n, double *t0_ms, int *r) {
  *r = 0;
  stop_handles(f);
  if (f->q.n == 0 || f->flushing) return NULL;
  rmp_cmd_msg *cmds = rmc_midi_queue_commands(&f->q, rate);
  if (!cmds) {
    rmc_midi_queue_clear(&f->q);
    *r = UV_ENOMEM;
    return NULL;
  }
  f->flushing = true;
  *n = f->q.n;
  *t0_ms = f->q.msgs[0].t_ms;
  return cmds;
}

void rmc_flusher_end(rmc_flusher *f) {
  rmc_midi_queue_clear(&f->q);
  f->flushing = false;
}

void rmc_flusher_end_sent(rmc_flusher *f, size_t sent) {
  rmc_midi_queue_drop(&f->q, sent);
  f->flushing = false;
}

void rmc_flusher_kick(rmc_flusher *f) {
  if (!f->h || !f->q.n || f->flushing || uv_is_active((uv_handle_t *)&f->h->check)) return;
  uv_idle_start(&f->h->idle, on_idle);
  uv_check_start(&f->h->check, on_check);
}

void rmc_flusher_clear(rmc_flusher *f) {
  rmc_burst_cancel(f->rt, &f->burst);
  stop_handles(f);
  rmc_midi_queue_clear(&f->q);
}

void rmc_flusher_wake_at(rmc_flusher *f, double due_ms, double now_ms) {
  if (!f->h) return;
  if (due_ms == INFINITY) {
    uv_timer_stop(&f->h->timer);
    return;
  }
  double wait = ceil(due_ms - now_ms);
  /* The loop's clock is cached and rounded down: refresh it so that the
   * timer does not fire early. */
  uv_update_time(f->rt->loop);
  uv_timer_start(&f->h->timer, on_timer, wait > 0 ? (uint64_t)wait : 0, 0);
}

void rmc_flusher_close(rmc_flusher *f) {
  rmc_burst_cancel(f->rt, &f->burst);
  if (f->h) {
    f->h->f = NULL;
    uv_close((uv_handle_t *)&f->h->idle, on_closed);
    uv_close((uv_handle_t *)&f->h->check, on_closed);
    uv_close((uv_handle_t *)&f->h->timer, on_closed);
    f->h = NULL;
  }
  rmc_midi_queue_free(&f->q);
}
