/* MIDI ports through JACK with one client per process (per client name and
 * server): every MidiIn and MidiOut of the process is a port of that client.
 * RtMidi 5.0 opens a JACK client per RtMidiIn / RtMidiOut object and its C
 * API cannot share one, so JACK is spoken to directly here; the other APIs
 * stay with RtMidi (midi_port.c chooses). Not public. */
#ifndef RMC_MIDI_JACK_H
#define RMC_MIDI_JACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rmj_client rmj_client;
typedef struct rmj_port rmj_port;

/* Called on JACK's process thread for each message arriving at an input:
 * it must not block or allocate. The first argument is unused (0), as
 * RtMidi's RtMidiCCallback, so that one function serves both. */
typedef void (*rmj_message_fn)(double unused, const unsigned char *msg, size_t len, void *ud);

/* The process's client of that name on the server JACK_DEFAULT_SERVER names
 * now, opened at the first call (a reference each call). NULL when no server
 * answers: like RtMidi's, such a client lists no ports and opens none. */
rmj_client *rmj_client_get(const char *name);
void rmj_client_put(rmj_client *c);

/* The MIDI ports an input can read (input true: other ports' outputs) or an
 * output can write; a NULL-terminated array to free with rmj_free_names. */
const char **rmj_ports(rmj_client *c, bool input);
void rmj_free_names(const char **names);

/* Registers our port, named own (made unique within the client with "-2",
 * "-3", ... when taken) and, when target is not NULL, connects it to that
 * port (full name). An input's messages go to fn. Returns NULL with a
 * UV_E* code in *code: UV_EIO (no server, refused), UV_ENOSPC (too many). */
typedef struct rmj_input_filter {
  bool sysex, clock, active_sensing;  /* true: dropped */
} rmj_input_filter;
rmj_port *rmj_port_open(rmj_client *c, bool input, const char *own, const char *target, rmj_message_fn fn,
                        void *ud, rmj_input_filter filter, int *code);

/* Queues a whole message on an output (any thread, one at a time): 0, or
 * UV_ENOBUFS when it does not fit, UV_EPIPE when the server has gone. JACK
 * takes it at its next cycle. */
int rmj_send(rmj_port *p, const uint8_t *msg, size_t len);

/* Unregisters the port; once it returns, JACK's thread no longer touches it
 * (nor calls its fn). The client's reference stays with the caller. */
void rmj_port_close(rmj_port *p);

#endif
