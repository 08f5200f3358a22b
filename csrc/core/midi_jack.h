/* MIDI ports on JACK through libjack, with one JACK client per process.
 *
 * RtMidi 5.0 opens a JACK client for every RtMidiIn / RtMidiOut object; this
 * backend opens one client (named by the `client` option of the first port,
 * "rtpmidi" by default) at the first port and closes it with the last, and
 * gives each MidiIn / MidiOut one JACK MIDI port named as asked. Not public:
 * midi_in.c, midi_out.c and midi_port.c call it when the JACK API is chosen
 * and libjack was found at build time (RTPMIDI_HAVE_JACK). */
#ifndef RMC_MIDI_JACK_H
#define RMC_MIDI_JACK_H

#include "rtpmidi.h"

#include <stddef.h>
#include <stdint.h>

typedef struct rmj_port rmj_port;

/* Called on JACK's process thread, once per event that passed the filter:
 * must neither lock nor allocate. time_ns: the event's frame time on
 * uv_hrtime()'s clock. */
typedef void (*rmj_deliver_fn)(void *ud, const uint8_t *msg, size_t len, uint64_t time_ns);
/* Called on a JACK thread when the server shut down or dropped us: may only
 * set flags and wake a loop (uv_async_send). */
typedef void (*rmj_down_fn)(void *ud);

/* Called on JACK's process thread for a message dropped there (a SysEx in
 * pieces longer than 64 KiB): counts it, nothing more. */
typedef void (*rmj_drop_fn)(void *ud);

typedef struct rmj_open_args {
  bool input;
  const rtpmidi_midi_port_config *cfg;
  bool sysex, clock, active_sensing;  /* inputs: what passes */
  size_t out_ring_bytes;              /* outputs: the ring to the process thread; 0: 64 KiB */
  rmj_deliver_fn deliver;             /* inputs */
  rmj_drop_fn drop;                   /* inputs; may be NULL */
  rmj_down_fn down;
  void *ud;
} rmj_open_args;

/* Opens a port (and the process's client if it is the first). Returns 0 or
 * a negative UV_E* code with err filled (UV_EIO: no server; UV_ENOENT: no
 * such port, the message lists those there are). *port_name: malloc'd, what
 * we connected to or the virtual port's name. */
int rmj_open(const rmj_open_args *a, rmj_port **out, char **port_name, char *err, size_t errlen);

/* Closes the port: when this returns no callback for it runs any more. The
 * last port closes the client. */
void rmj_close(rmj_port *p);

/* Outputs: queues one complete message for the next process cycles. Returns
 * 0, UV_ENOBUFS (the ring is full: the caller counts it) or UV_EIO (the
 * server is gone). Callers serialise calls on one port. */
int rmj_write(rmj_port *p, const uint8_t *msg, size_t len);

/* Outputs: waits (at most timeout_ms) until the process thread has taken
 * everything queued, or the server is gone. */
void rmj_drain(rmj_port *p, int timeout_ms);

/* Outputs: messages the process thread could not hand to JACK (larger than
 * a whole period's MIDI buffer, or refused by jack_midi_event_write). */
uint64_t rmj_dropped(const rmj_port *p);

/* The ports other clients offer, as RtMidi's JACK backend lists them:
 * jack_get_ports(JACK_DEFAULT_MIDI_TYPE) with JackPortIsOutput for inputs
 * (sources we read) and JackPortIsInput for outputs, in JACK's order, full
 * "client:port" names, our own client's ports left out (so opening ports
 * never moves the indices `rtpmidi list` showed). fn may be NULL. Returns
 * the count, or UV_EIO with err filled when no server answers. */
int rmj_list(bool input, rtpmidi_midi_port_fn fn, void *ud, char *err, size_t errlen);

#endif
