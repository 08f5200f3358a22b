/* When what a MIDI session is given to send leaves: the messages given in
 * one loop turn leave together, after the turn's callbacks (a uv_check,
 * with a uv_idle so that the loop does not block in between); those given
 * while a received burst is delivered (an echo, a relay) leave at the
 * burst's end, with the burst's answers (runtime.h's burst hook). Shared by
 * MidiSession (midi_session.c) and AppleMIDI (applemidi_midi.c), with the
 * queue they send from (midi_queue.h) and a timer for what the owner wants
 * to do later (MidiSession's guard packets). Not public.
 *
 * The handles are made with the first message queued (a session that never
 * sends has none) and live in a block of their own, closed by
 * rmc_flusher_close and freed by their last close callback: the owner may go
 * at once. */
#ifndef RMC_FLUSHER_H
#define RMC_FLUSHER_H

#include "midi_queue.h"
#include "runtime.h"

typedef void (*rmc_flusher_fn)(void *owner);

typedef struct rmc_flusher {
  rtpmidi_runtime *rt;
  struct rmc_flusher_handles *h; /* NULL until the first message */
  rmc_burst_hook burst;
  rmc_midi_queue q;
  rmc_flusher_fn flush;          /* sends what is queued (calls begin and end) */
  rmc_flusher_fn wake;           /* the timer of rmc_flusher_wake_at (may be NULL) */
  void *owner;
  bool flushing;
} rmc_flusher;

void rmc_flusher_init(rmc_flusher *f, rtpmidi_runtime *rt, rmc_flusher_fn flush, rmc_flusher_fn wake,
                      void *owner);

/* Queues the messages in bytes[0..len) (all or nothing, as
 * rmc_midi_queue_add), given at time_ms (< 0: now; never later than now,
 * nor earlier than the message queued before), and arms the flush. */
int rmc_flusher_add(rmc_flusher *f, const uint8_t *bytes, size_t len, double now_ms, double time_ms,
                    const char **err);

/* A flush starts: the handles stop; returns the queued messages as commands
 * (delta times in ticks of rate Hz; *n of them, the first given at *t0_ms),
 * or NULL when nothing is queued, a flush is running, or out of memory
 * (*r = UV_ENOMEM; the queue is dropped). Pair with rmc_flusher_end. */
rmp_cmd_msg *rmc_flusher_begin(rmc_flusher *f, double rate, size_t *n, double *t0_ms, int *r);
/* The flush is over: the queue is empty. */
void rmc_flusher_end(rmc_flusher *f);
/* The flush is over having sent the first `sent` of the *n messages: the
 * rest stays queued, in order, for a later flush (a stream that waits for
 * its peer's feedback, midi_stream.h's SysEx in parts); rmc_flusher_kick or
 * the next message queued starts it. */
void rmc_flusher_end_sent(rmc_flusher *f, size_t sent);
/* Arms the flush of what is queued (after the loop turn's callbacks). */
void rmc_flusher_kick(rmc_flusher *f);

/* Drops what is queued and stops the handles (the session stops). */
void rmc_flusher_clear(rmc_flusher *f);

/* Calls wake(owner) at due_ms (on the rtpmidi_now_ms() clock, not before);
 * INFINITY stops the timer. Only once something was queued (no handles
 * before). */
void rmc_flusher_wake_at(rmc_flusher *f, double due_ms, double now_ms);

/* The owner goes: the hook is taken back, the handles close, the queue's
 * memory goes. f may be freed at once. */
void rmc_flusher_close(rmc_flusher *f);

#endif
