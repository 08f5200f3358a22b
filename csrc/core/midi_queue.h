/* The messages a MIDI session is given to send, queued until its flush:
 * their octets, when each was given, and the commands (with delta times in
 * RTP ticks) they become. Held by a session's flusher (flusher.h), which
 * MidiSession and AppleMIDI send from. Not public. */
#ifndef RMC_MIDI_QUEUE_H
#define RMC_MIDI_QUEUE_H

#include "midi_cmd.h"

#include <stddef.h>
#include <stdint.h>

typedef struct rmc_midi_queued {
  size_t off, len;   /* in bytes */
  double t_ms;       /* when it was given */
} rmc_midi_queued;

/* Zeroed, it is empty and holds no memory: buffers are made when first
 * needed, so that a session that never sends allocates nothing. */
typedef struct rmc_midi_queue {
  uint8_t *bytes;
  size_t len, cap;
  rmc_midi_queued *msgs;
  size_t n, mcap;
  uint8_t *scratch;  /* SysEx assembly */
  size_t scratch_cap;
  rmp_cmd_msg *cmds;
  size_t cmds_cap;
} rmc_midi_queue;

/* Queues the messages in bytes[0..len), each given at t_ms. All or nothing:
 * on an error none of them is queued. Returns 0, UV_ENOMEM or UV_EINVAL
 * (bytes are not whole MIDI messages); *err then says why, except for
 * UV_ENOMEM before parsing, which leaves it alone. */
int rmc_midi_queue_add(rmc_midi_queue *q, const uint8_t *bytes, size_t len, double t_ms,
                       const char **err);

/* The queued messages (at least one) as commands, q->n of them: the first
 * at delta 0, each next at its time after the previous one, in ticks of a
 * rate Hz clock. NULL when out of memory. */
rmp_cmd_msg *rmc_midi_queue_commands(rmc_midi_queue *q, double rate);

/* Drops the first k messages (k <= q->n), keeping the rest in order with
 * the times they were given. */
void rmc_midi_queue_drop(rmc_midi_queue *q, size_t k);

/* Empties the queue; its memory stays for the next messages. */
void rmc_midi_queue_clear(rmc_midi_queue *q);

/* Frees its memory; q is empty and zeroed again. */
void rmc_midi_queue_free(rmc_midi_queue *q);

#endif
