/* MIDI input through RtMidi, or through our JACK backend (midi_jack.c).
 *
 * RtMidi calls us on its own thread (its ALSA reader), our JACK backend on
 * JACK's process thread. That thread never touches the host: it copies each message into a
 * single-producer single-consumer ring of bytes and wakes the loop with
 * uv_async_send. It never blocks and never allocates: when the ring is full
 * the message is counted and dropped. On the loop, the async callback drains
 * the ring in order and calls on_message for each message. */
#include "midi_port.h"
#include "runtime.h"
#ifdef RTPMIDI_HAVE_JACK
#include "midi_jack.h"
#endif

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_QUEUE (256u * 1024u)
#define WRAP_MARK UINT32_MAX

/* A record in the ring: this header, then len bytes, padded to 8. */
typedef struct rec_header {
  uint32_t len;
  uint32_t pad;
  uint64_t time_ns;
} rec_header;

struct rtpmidi_midi_in {
  uv_async_t async;           /* first: freed with the object in its close callback */
  RtMidiPtr dev;              /* NULL once closed */
#ifdef RTPMIDI_HAVE_JACK
  rmj_port *jack;             /* our JACK backend's port instead; NULL once closed */
#endif
  atomic_bool server_down;    /* set on JACK's thread: the server shut down */
  bool down_reported;
  enum RtMidiApi api;
  char *port_name;
  rtpmidi_midi_in_events ev;
  void *ud;
  bool closed;                /* the port is closed and the handle closing */
  bool host_closed;           /* the host let go (rtpmidi_midi_in_close) */
  bool handle_closed;         /* the async handle went through its close callback */
  rmc_member member;          /* in its runtime's list until freed (runtime.h) */
  /* the ring: written by RtMidi's thread, read by the loop */
  uint8_t *ring;
  size_t cap, mask;           /* cap: a power of two */
  _Atomic size_t head;        /* written up to here (producer) */
  _Atomic size_t tail;        /* read up to here (consumer) */
  _Atomic uint64_t dropped;
  uint64_t received;
};

static size_t rec_size(size_t len) { return sizeof(rec_header) + ((len + 7u) & ~(size_t)7u); }

/* The producer's thread (RtMidi's or JACK's): copies one message into the
 * ring, or counts it dropped; never blocks, never allocates. */
static void ring_put(void *ud, const uint8_t *msg, size_t len, uint64_t now) {
  struct rtpmidi_midi_in *in = ud;
  if (!msg || len == 0) return;
  size_t need = rec_size(len);
  size_t head = atomic_load_explicit(&in->head, memory_order_relaxed);
  size_t tail = atomic_load_explicit(&in->tail, memory_order_acquire);
  size_t free_bytes = in->cap - (head - tail);
  size_t to_end = in->cap - (head & in->mask);
  size_t total = need <= to_end ? need : to_end + need;
  if (len > UINT32_MAX - 1 || need > in->cap || total > free_bytes) {
    atomic_fetch_add_explicit(&in->dropped, 1, memory_order_relaxed);
    uv_async_send(&in->async);
    return;
  }
  if (need > to_end) {
    /* Not enough room before the end: mark the rest as skipped (to_end is a
     * multiple of 8, so a header's length field fits). */
    uint32_t mark = WRAP_MARK;
    memcpy(in->ring + (head & in->mask), &mark, sizeof mark);
    head += to_end;
  }
  rec_header h = {(uint32_t)len, 0, now};
  uint8_t *p = in->ring + (head & in->mask);
  memcpy(p, &h, sizeof h);
  memcpy(p + sizeof h, msg, len);
  atomic_store_explicit(&in->head, head + need, memory_order_release);
  uv_async_send(&in->async);
}

/* RtMidi's thread. */
static void on_rtmidi(double stamp, const unsigned char *msg, size_t len, void *ud) {
  (void)stamp;
  ring_put(ud, msg, len, uv_hrtime());
}

#ifdef RTPMIDI_HAVE_JACK
/* JACK's thread: a message dropped before the ring (a SysEx too long). */
static void on_drop(void *ud) {
  struct rtpmidi_midi_in *in = ud;
  atomic_fetch_add_explicit(&in->dropped, 1, memory_order_relaxed);
}

/* A JACK thread: the server is gone; the loop reports it. */
static void on_down(void *ud) {
  struct rtpmidi_midi_in *in = ud;
  atomic_store(&in->server_down, true);
  uv_async_send(&in->async);
}
#endif

/* The loop's thread. */
static void on_async(uv_async_t *a) {
  struct rtpmidi_midi_in *in = a->data;
  size_t head = atomic_load_explicit(&in->head, memory_order_acquire);
  size_t tail = atomic_load_explicit(&in->tail, memory_order_relaxed);
  while (tail != head && !in->closed) {
    uint8_t *p = in->ring + (tail & in->mask);
    rec_header h;
    memcpy(&h.len, p, sizeof h.len);
    if (h.len == WRAP_MARK) {
      tail += in->cap - (tail & in->mask);
      continue;
    }
    memcpy(&h, p, sizeof h);
    in->received++;
    /* The callback may close us: the memory stays until the close callback. */
    if (in->ev.on_message) in->ev.on_message(in->ud, p + sizeof h, h.len, (double)h.time_ns / 1e6);
    tail += rec_size(h.len);
    atomic_store_explicit(&in->tail, tail, memory_order_release);
  }
  atomic_store_explicit(&in->tail, tail, memory_order_release);
  if (!in->closed && !in->down_reported && atomic_load(&in->server_down)) {
    in->down_reported = true;
    if (in->ev.on_error) in->ev.on_error(in->ud, UV_EIO, "jack: the JACK server has shut down");
  }
}

/* The memory goes when both the host and libuv are done with it: the
 * runtime's end closes the port first, the host's close comes later. */
static void release(struct rtpmidi_midi_in *in) {
  if (!in->host_closed || !in->handle_closed) return;
  rmc_runtime_leave(&in->member);
  free(in->ring);
  free(in->port_name);
  free(in);
}

static void on_closed(uv_handle_t *h) {
  struct rtpmidi_midi_in *in = h->data;
  in->handle_closed = true;
  release(in);
}

/* Stops RtMidi's thread and closes the handle; what is queued is dropped. */
static void close_port(struct rtpmidi_midi_in *in) {
  if (in->closed) return;
  in->closed = true;
  if (in->dev) {
    /* Freeing RtMidi's object stops its thread (or deactivates the JACK
     * client): after this no callback runs and nothing calls uv_async_send. */
    rtmidi_close_port(in->dev);
    rtmidi_in_free(in->dev);
    in->dev = NULL;
  }
#ifdef RTPMIDI_HAVE_JACK
  /* After this, JACK's process thread no longer sees the port. */
  rmj_close(in->jack);
  in->jack = NULL;
#endif
  uv_close((uv_handle_t *)&in->async, on_closed);
}

/* rtpmidi_runtime_free (runtime.h): no callbacks, then the port closed. */
static void in_close(void *owner) { close_port(owner); }

static size_t pow2_at_least(size_t n) {
  size_t c = 4096;
  while (c < n && c < ((size_t)1 << 30)) c <<= 1;
  return c;
}

static int open_in(rtpmidi_runtime *rt, const rtpmidi_midi_in_config *cfg,
                   const rtpmidi_midi_in_events *ev, void *ud, rtpmidi_midi_in **out,
                   const char **bad, char *err, size_t errlen) {
  *bad = NULL;
  *out = NULL;
  if (err && errlen) err[0] = '\0';
  int r = rmc_midi_check_config(&cfg->port, bad, err, errlen);
  if (r) return r;
  enum RtMidiApi api;
  r = rmc_midi_api(cfg->port.api, &api, err, errlen);
  if (r == UV_EINVAL) *bad = "api";
  if (r) return r;

  struct rtpmidi_midi_in *in = calloc(1, sizeof *in);
  if (!in) return UV_ENOMEM;
  in->cap = pow2_at_least(cfg->queue_bytes ? cfg->queue_bytes : DEFAULT_QUEUE);
  in->mask = in->cap - 1;
  in->ring = malloc(in->cap);
  if (!in->ring) {
    free(in);
    return UV_ENOMEM;
  }
  r = uv_async_init(rtpmidi_runtime_loop(rt), &in->async, on_async);
  if (r) {
    free(in->ring);
    free(in);
    return r;
  }
  in->async.data = in;
  if (ev) in->ev = *ev;
  in->ud = ud;

  r = rmc_midi_choose(true, api, cfg->port.client_name, &in->api, &in->dev, err, errlen);
  if (r) goto fail;
#ifdef RTPMIDI_HAVE_JACK
  if (rmc_midi_own_jack(in->api)) {
    rmj_open_args a = {.input = true, .cfg = &cfg->port, .sysex = cfg->sysex, .clock = cfg->clock,
                       .active_sensing = cfg->active_sensing, .deliver = ring_put,
                       .drop = on_drop, .down = on_down, .ud = in};
    r = rmj_open(&a, &in->jack, &in->port_name, err, errlen);
    if (r) goto fail;
    rmc_runtime_join(rt, &in->member, in, &in->ev, sizeof in->ev, &in->host_closed, in_close);
    *out = in;
    return 0;
  }
#endif
  /* The callback goes in before the port opens, so that nothing lands in
   * RtMidi's own queue. */
  rtmidi_in_set_callback(in->dev, on_rtmidi, in);
  rtmidi_in_ignore_types(in->dev, !cfg->sysex, !cfg->clock, !cfg->active_sensing);
  r = rmc_midi_open(true, in->dev, in->api, &cfg->port, &in->port_name, err, errlen);
  if (r) goto fail;
  rmc_runtime_join(rt, &in->member, in, &in->ev, sizeof in->ev, &in->host_closed, in_close);
  *out = in;
  return 0;

fail:
  if (in->dev) {
    rtmidi_in_free(in->dev);
    in->dev = NULL;
  }
  in->closed = true;
  in->host_closed = true; /* nobody else will: freed in the close callback */
  uv_close((uv_handle_t *)&in->async, on_closed);
  return r;
}

/* The public form: one rtpmidi_error for the field and the message. */
int rtpmidi_midi_in_open(rtpmidi_runtime *rt, const rtpmidi_midi_in_config *cfg,
                         const rtpmidi_midi_in_events *ev, void *ud, rtpmidi_midi_in **out,
                         rtpmidi_error *err) {
  char msg[RTPMIDI_ERROR_MAX] = "";
  const char *bad = NULL;
  int r = open_in(rt, cfg, ev, ud, out, &bad, msg, sizeof msg);
  if (r) rmc_error(err, r, r == UV_EINVAL ? bad : NULL, "%s", msg);
  return r;
}

const char *rtpmidi_midi_in_api(const rtpmidi_midi_in *in) { return rmc_midi_api_name(in->api); }

const char *rtpmidi_midi_in_port_name(const rtpmidi_midi_in *in) {
  return in->port_name ? in->port_name : "";
}

void rtpmidi_midi_in_get_stats(const rtpmidi_midi_in *in, rtpmidi_midi_in_stats *st) {
  st->received = in->received;
  st->dropped = atomic_load_explicit(&((struct rtpmidi_midi_in *)in)->dropped, memory_order_relaxed);
}

void rtpmidi_midi_in_close(rtpmidi_midi_in *in) {
  if (!in || in->host_closed) return;
  in->host_closed = true;
  close_port(in); /* already done when the runtime was freed */
  release(in);
}
