/* MIDI output through RtMidi, now or at a given time.
 *
 * Messages without a time go to RtMidi at once from the loop's thread.
 * Scheduled messages go to a thread of the port's own, started with the first
 * of them: libuv's timers count whole milliseconds, too coarse for MIDI, so
 * that thread keeps a heap ordered by (due time, arrival) and sleeps on a
 * condition variable bound to CLOCK_MONOTONIC (uv_hrtime's clock) until
 * SPIN_NS before the earliest one, then spins on the clock for the rest:
 * messages leave within microseconds of their time, in order, and the loop is
 * never blocked. A new message due earlier wakes the thread. One mutex makes
 * RtMidi's output (not thread-safe) one caller at a time, and the notes that
 * sound are tracked there from what is actually played, for all_notes_off. */
#include "midi_bytes.h"
#include "midi_port.h"
#include "runtime.h"
#ifdef RTPMIDI_HAVE_JACK
#include "midi_jack.h"
#endif

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#define SPIN_NS 100000u       /* the last 0.1 ms before a message is spun, not slept */
#define LATE_NS 1000000u      /* later than this counts as late */
#define DEFAULT_MAX_PENDING 65536u
#define SMALL 16

typedef struct pending {
  uint64_t due_ns, seq;
  uint32_t len;
  uint8_t *big;               /* heap copy when len > SMALL */
  uint8_t small[SMALL];
} pending;

struct rtpmidi_midi_out {
  RtMidiPtr dev;              /* RtMidi's client, or NULL for ... */
#ifdef RTPMIDI_HAVE_JACK
  rmj_port *jack;             /* ... our JACK backend's port (midi_jack.c) */
#endif
  enum RtMidiApi api;
  char *port_name;
  double latency_ms;
  size_t max_pending;
  int rt_priority;
  bool closed;

  pthread_mutex_t send_lock;  /* RtMidi output, notes[] and the counters */
  uint16_t notes[16][8];      /* sounding notes: a bit per key per channel */
  rtpmidi_midi_out_stats st;

  pthread_mutex_t q_lock;     /* the heap and the thread's state */
  pthread_cond_t q_cond;
  pending *heap;
  size_t n, size;
  uint64_t next_seq;
  bool thread_started, stopping;
  pthread_t thread;
};

/* ---- playing (send_lock held) ---- */

static void track(rtpmidi_midi_out *o, const uint8_t *m, size_t len) {
  if (len != 3) return;
  uint8_t kind = m[0] & 0xF0, ch = m[0] & 0x0F, key = m[1];
  uint16_t bit = (uint16_t)(1u << (key & 15));
  if (kind == 0x90 && m[2] > 0) o->notes[ch][key >> 4] |= bit;
  else if (kind == 0x80 || kind == 0x90) o->notes[ch][key >> 4] &= (uint16_t)~bit;
  else if (kind == 0xB0 && (key == 123 || key == 120)) memset(o->notes[ch], 0, sizeof o->notes[ch]);
}

static int play_one(void *ud, const uint8_t *m, size_t len) {
  rtpmidi_midi_out *o = ud;
#ifdef RTPMIDI_HAVE_JACK
  if (o->jack) {
    /* Into the port's ring; JACK's process thread plays it next cycle. A
     * full ring or a dead server is refused here and counted. */
    if (rmj_write(o->jack, m, len) != 0) {
      o->st.errors++;
      return UV_EIO;
    }
    o->st.sent++;
    track(o, m, len);
    return 0;
  }
#endif
  o->dev->ok = true;
  int r = rtmidi_out_send_message(o->dev, m, (int)len);
  if (r != 0 || !o->dev->ok) {
    o->st.errors++;
    return UV_EIO;
  }
  o->st.sent++;
  track(o, m, len);
  return 0;
}

static int play(rtpmidi_midi_out *o, const uint8_t *b, size_t len) {
  const char *why;
  pthread_mutex_lock(&o->send_lock);
  int r = rmc_midi_split(b, len, play_one, o, &why);
  pthread_mutex_unlock(&o->send_lock);
  return r;
}

/* ---- the heap ---- */

static bool before(const pending *a, const pending *b) {
  return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->seq < b->seq);
}

static void heap_push(rtpmidi_midi_out *o, const pending *p) {
  size_t i = o->n++;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!before(p, &o->heap[parent])) break;
    o->heap[i] = o->heap[parent];
    i = parent;
  }
  o->heap[i] = *p;
}

static void heap_pop(rtpmidi_midi_out *o, pending *out) {
  *out = o->heap[0];
  pending last = o->heap[--o->n];
  size_t i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= o->n) break;
    if (c + 1 < o->n && before(&o->heap[c + 1], &o->heap[c])) c++;
    if (!before(&o->heap[c], &last)) break;
    o->heap[i] = o->heap[c];
    i = c;
  }
  if (o->n) o->heap[i] = last;
}

static const uint8_t *pending_bytes(const pending *p) { return p->big ? p->big : p->small; }

/* ---- the output thread ---- */

static struct timespec abs_time(uint64_t ns) {
  struct timespec ts;
  ts.tv_sec = (time_t)(ns / 1000000000u);
  ts.tv_nsec = (long)(ns % 1000000000u);
  return ts;
}

static void *out_thread(void *arg) {
  rtpmidi_midi_out *o = arg;
#if defined(__linux__) && defined(PR_SET_TIMERSLACK)
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);  /* wake when asked, not up to 50 us later */
#endif
  if (o->rt_priority > 0) {
    /* Real-time scheduling when allowed, so that a busy machine does not
     * delay the wake-up by milliseconds; refused: normal scheduling. */
    struct sched_param sp;
    memset(&sp, 0, sizeof sp);
    sp.sched_priority = o->rt_priority;
    (void)pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
  }
  pthread_mutex_lock(&o->q_lock);
  while (!o->stopping) {
    if (o->n == 0) {
      pthread_cond_wait(&o->q_cond, &o->q_lock);
      continue;
    }
    uint64_t due = o->heap[0].due_ns, now = uv_hrtime();
    if (due > now + SPIN_NS) {
      struct timespec ts = abs_time(due - SPIN_NS);
      pthread_cond_timedwait(&o->q_cond, &o->q_lock, &ts);
      continue;
    }
    if (due > now) {
      /* Spin the last stretch with the queue unlocked, then look again: a
       * message due even earlier may have come meanwhile. */
      pthread_mutex_unlock(&o->q_lock);
      while (uv_hrtime() < due) {
      }
      pthread_mutex_lock(&o->q_lock);
      continue;
    }
    pending p;
    heap_pop(o, &p);
    pthread_mutex_unlock(&o->q_lock);
    uint64_t at = uv_hrtime();
    play(o, pending_bytes(&p), p.len);
    free(p.big);
    double late = (double)(at - p.due_ns) / 1e6;
    pthread_mutex_lock(&o->send_lock);
    o->st.played++;
    o->st.total_late_ms += late;
    if (late > o->st.max_late_ms) o->st.max_late_ms = late;
    if (at - p.due_ns > LATE_NS) o->st.late++;
    pthread_mutex_unlock(&o->send_lock);
    pthread_mutex_lock(&o->q_lock);
  }
  pthread_mutex_unlock(&o->q_lock);
  return NULL;
}

/* ---- the API ---- */

static int open_out(const rtpmidi_midi_out_config *cfg, rtpmidi_midi_out **out, const char **bad,
                    char *err, size_t errlen) {
  *bad = NULL;
  *out = NULL;
  if (err && errlen) err[0] = '\0';
  int r = rmc_midi_check_config(&cfg->port, bad, err, errlen);
  if (r) return r;
  if (!(cfg->latency_ms >= 0)) {
    *bad = "latency";
    return UV_EINVAL;
  }
  enum RtMidiApi api;
  r = rmc_midi_api(cfg->port.api, &api, err, errlen);
  if (r == UV_EINVAL) *bad = "api";
  if (r) return r;
  rtpmidi_midi_out *o = calloc(1, sizeof *o);
  if (!o) return UV_ENOMEM;
  o->latency_ms = cfg->latency_ms;
  o->max_pending = cfg->max_pending ? cfg->max_pending : DEFAULT_MAX_PENDING;
  o->rt_priority = cfg->rt_priority;
  r = rmc_midi_choose(false, api, cfg->port.client_name, &o->api, &o->dev, err, errlen);
  if (r) {
    free(o);
    return r;
  }
#ifdef RTPMIDI_HAVE_JACK
  if (rmc_midi_own_jack(o->api)) {
    rmj_open_args a = {.input = false, .cfg = &cfg->port};
    r = rmj_open(&a, &o->jack, &o->port_name, err, errlen);
  } else
#endif
  {
    r = rmc_midi_open(false, o->dev, o->api, &cfg->port, &o->port_name, err, errlen);
  }
  if (r) {
    rmc_midi_free(false, o->dev);
    free(o);
    return r;
  }
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&o->q_cond, &ca);
  pthread_condattr_destroy(&ca);
  /* Priority inheritance: the loop's thread holding a lock the real-time
   * thread waits for runs at the real-time thread's priority meanwhile. */
  pthread_mutexattr_t ma;
  pthread_mutexattr_init(&ma);
  pthread_mutexattr_setprotocol(&ma, PTHREAD_PRIO_INHERIT);
  pthread_mutex_init(&o->q_lock, &ma);
  pthread_mutex_init(&o->send_lock, &ma);
  pthread_mutexattr_destroy(&ma);
  *out = o;
  return 0;
}

/* The public form: one rtpmidi_error for the field and the message. */
int rtpmidi_midi_out_open(const rtpmidi_midi_out_config *cfg, rtpmidi_midi_out **out, rtpmidi_error *err) {
  char msg[RTPMIDI_ERROR_MAX] = "";
  const char *bad = NULL;
  int r = open_out(cfg, out, &bad, msg, sizeof msg);
  if (r) rmc_error(err, r, r == UV_EINVAL ? bad : NULL, "%s", msg);
  return r;
}

const char *rtpmidi_midi_out_api(const rtpmidi_midi_out *o) { return rmc_midi_api_name(o->api); }

const char *rtpmidi_midi_out_port_name(const rtpmidi_midi_out *o) {
  return o->port_name ? o->port_name : "";
}

int rtpmidi_midi_out_send(rtpmidi_midi_out *o, const uint8_t *bytes, size_t len) {
  const char *why;
  int r = rmc_midi_check(bytes, len, &why);
  if (r) return r;
  return play(o, bytes, len);
}

int rtpmidi_midi_out_send_at(rtpmidi_midi_out *o, const uint8_t *bytes, size_t len, double time_ms) {
  const char *why;
  int r = rmc_midi_check(bytes, len, &why);
  if (r) return r;
  if (len > UINT32_MAX) return UV_EINVAL;
  double due_ms = time_ms + o->latency_ms;
  pending p;
  memset(&p, 0, sizeof p);
  p.due_ns = due_ms <= 0 ? 0 : (uint64_t)(due_ms * 1e6 + 0.5);
  p.len = (uint32_t)len;
  if (len > SMALL) {
    p.big = malloc(len);
    if (!p.big) return UV_ENOMEM;
    memcpy(p.big, bytes, len);
  } else {
    memcpy(p.small, bytes, len);
  }
  pthread_mutex_lock(&o->q_lock);
  if (o->n >= o->max_pending) {
    pthread_mutex_unlock(&o->q_lock);
    free(p.big);
    return UV_ENOBUFS;
  }
  if (o->n == o->size) {
    size_t size = o->size ? o->size * 2 : 64;
    pending *h = realloc(o->heap, size * sizeof *h);
    if (!h) {
      pthread_mutex_unlock(&o->q_lock);
      free(p.big);
      return UV_ENOMEM;
    }
    o->heap = h;
    o->size = size;
  }
  if (!o->thread_started) {
    if (pthread_create(&o->thread, NULL, out_thread, o) != 0) {
      pthread_mutex_unlock(&o->q_lock);
      free(p.big);
      return UV_EAGAIN;
    }
    o->thread_started = true;
  }
  p.seq = o->next_seq++;
  bool earliest = o->n == 0 || before(&p, &o->heap[0]);
  heap_push(o, &p);
  pthread_mutex_unlock(&o->q_lock);
  if (earliest) pthread_cond_signal(&o->q_cond);
  pthread_mutex_lock(&o->send_lock);
  o->st.scheduled++;
  pthread_mutex_unlock(&o->send_lock);
  return 0;
}

void rtpmidi_midi_out_set_latency(rtpmidi_midi_out *o, double ms) { o->latency_ms = ms; }
double rtpmidi_midi_out_latency(const rtpmidi_midi_out *o) { return o->latency_ms; }

int rtpmidi_midi_out_all_notes_off(rtpmidi_midi_out *o) {
  int count = 0;
  pthread_mutex_lock(&o->send_lock);
  for (int ch = 0; ch < 16; ch++) {
    for (int key = 0; key < 128; key++) {
      if (!(o->notes[ch][key >> 4] & (1u << (key & 15)))) continue;
      uint8_t m[3] = {(uint8_t)(0x80 | ch), (uint8_t)key, 0};
      if (play_one(o, m, 3) == 0) count++;
    }
  }
  for (int ch = 0; ch < 16; ch++) {
    uint8_t m[3] = {(uint8_t)(0xB0 | ch), 123, 0};
    if (play_one(o, m, 3) == 0) count++;
  }
  memset(o->notes, 0, sizeof o->notes);
  pthread_mutex_unlock(&o->send_lock);
  return count;
}

size_t rtpmidi_midi_out_cancel_pending(rtpmidi_midi_out *o) {
  pthread_mutex_lock(&o->q_lock);
  size_t n = o->n;
  for (size_t i = 0; i < o->n; i++) free(o->heap[i].big);
  o->n = 0;
  pthread_mutex_unlock(&o->q_lock);
  pthread_cond_signal(&o->q_cond);
  pthread_mutex_lock(&o->send_lock);
  o->st.cancelled += n;
  pthread_mutex_unlock(&o->send_lock);
  return n;
}

size_t rtpmidi_midi_out_pending(rtpmidi_midi_out *o) {
  pthread_mutex_lock(&o->q_lock);
  size_t n = o->n;
  pthread_mutex_unlock(&o->q_lock);
  return n;
}

void rtpmidi_midi_out_get_stats(rtpmidi_midi_out *o, rtpmidi_midi_out_stats *st) {
  pthread_mutex_lock(&o->send_lock);
  *st = o->st;
#ifdef RTPMIDI_HAVE_JACK
  if (o->jack) st->errors += rmj_dropped(o->jack); /* too big for a period's buffer */
#endif
  pthread_mutex_unlock(&o->send_lock);
}

void rtpmidi_midi_out_close(rtpmidi_midi_out *o) {
  if (!o || o->closed) return;
  o->closed = true;
  if (o->thread_started) {
    pthread_mutex_lock(&o->q_lock);
    o->stopping = true;
    pthread_mutex_unlock(&o->q_lock);
    pthread_cond_broadcast(&o->q_cond);
    pthread_join(o->thread, NULL);
  }
  rtpmidi_midi_out_cancel_pending(o);
  rtpmidi_midi_out_all_notes_off(o);
#ifdef RTPMIDI_HAVE_JACK
  if (o->jack) {
    /* What is still queued (the notes off just sent) leaves first. */
    rmj_drain(o->jack, 200);
    rmj_close(o->jack);
    o->jack = NULL;
  }
#endif
  if (o->dev) {
    rtmidi_close_port(o->dev);
    /* RtMidi 5.0's JACK output frees its ring buffer before it closes its
     * client, while JACK's process thread may still be reading it (a crash
     * seen in the specs). Closing the port first makes that thread stop
     * touching the buffer; give a callback already under way time to end. */
    struct timespec pause = {0, 5 * 1000 * 1000};
    nanosleep(&pause, NULL);
    rtmidi_out_free(o->dev);
  }
  pthread_mutex_destroy(&o->q_lock);
  pthread_mutex_destroy(&o->send_lock);
  pthread_cond_destroy(&o->q_cond);
  free(o->heap);
  free(o->port_name);
  free(o);
}
