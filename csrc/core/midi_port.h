/* Internals shared by midi_in.c and midi_out.c: RtMidi API names, the
 * default API, port listing and lookup by index or name. Not public. */
#ifndef RMC_MIDI_PORT_H
#define RMC_MIDI_PORT_H

#include "midi_jack.h"
#include "rtpmidi.h"

#include <rtmidi/rtmidi_c.h>

/* Maps an API name ("alsa", "jack", ...) to RtMidi's value. Returns 0, or
 * UV_EINVAL for a name RtMidi does not know, or UV_ENOTSUP for one that is
 * not compiled in (err says which). NULL gives RTMIDI_API_UNSPECIFIED. */
int rmc_midi_api(const char *name, enum RtMidiApi *api, char *err, size_t errlen);
const char *rmc_midi_api_name(enum RtMidiApi api);

/* A MIDI client of one API, input or output, and once open its port: RtMidi's
 * object, or for JACK (when built with it) a port of the process's one JACK
 * client (midi_jack.h). */
typedef struct rmc_dev {
  bool input;
  enum RtMidiApi api;        /* the API taken */
  RtMidiPtr rt;              /* RtMidi's object, or NULL for our JACK */
  bool rt_open;              /* RtMidi's port is open (to close before freeing) */
  rmj_client *jack;          /* our JACK: the process's client (NULL: no server) */
  rmj_port *port;            /* our JACK: our port, once open */
  RtMidiCCallback fn;        /* an input's callback and filters (rmc_midi_set_input) */
  void *ud;
  rmj_input_filter filter;
} rmc_dev;

/* Creates an input or output client for api (UNSPECIFIED: the first
 * compiled API that has ports, else the first that can be created). Returns
 * NULL with err filled when none can be created; dev->api is the API taken.
 * RtMidi's own error text is never read (in 5.0.0 it points into a freed
 * exception), so messages here are ours. */
rmc_dev *rmc_midi_create(bool input, enum RtMidiApi api, const char *client, char *err, size_t errlen);
/* Closes the port (no callback runs once it returns) and frees dev. */
void rmc_midi_free(rmc_dev *dev);

/* An input's callback (on the library's thread) and what it lets through;
 * before rmc_midi_open. */
void rmc_midi_set_input(rmc_dev *dev, RtMidiCCallback fn, void *ud, bool sysex, bool clock,
                        bool active_sensing);

/* Sends one whole message on an open output: 0 or a negative UV_E* code. */
int rmc_midi_send(rmc_dev *dev, const uint8_t *msg, size_t len);

/* The name of port i, malloc'd (NULL when there is no such port). */
char *rmc_midi_port_name(rmc_dev *dev, unsigned i);

/* Finds the port to connect to: by index (cfg->port NULL) or by name, exact
 * or a unique substring. Returns the index, or a negative UV_E* code with a
 * message listing the ports there are. */
int rmc_midi_find_port(rmc_dev *dev, const rtpmidi_midi_port_config *cfg, char *err, size_t errlen);

/* Lists the ports of dev through fn; returns their number. */
int rmc_midi_list(rmc_dev *dev, rtpmidi_midi_port_fn fn, void *ud);

/* Checks a port configuration (misuse). Returns 0 or UV_EINVAL with *bad set. */
int rmc_midi_check_config(const rtpmidi_midi_port_config *cfg, const char **bad, char *err,
                          size_t errlen);

/* Opens the port described by cfg on dev (an input's callback already set).
 * Returns 0 or a negative UV_E* code with err filled; *port_name receives a
 * malloc'd copy of what we connected to (or the virtual name). */
int rmc_midi_open(rmc_dev *dev, const rtpmidi_midi_port_config *cfg, char **port_name, char *err,
                  size_t errlen);

#endif
