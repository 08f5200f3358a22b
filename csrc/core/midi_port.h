/* Internals shared by midi_in.c and midi_out.c: RtMidi API names, the
 * default API, port listing and lookup by index or name. Not public. */
#ifndef RMC_MIDI_PORT_H
#define RMC_MIDI_PORT_H

#include "rtpmidi.h"

#include <rtmidi/rtmidi_c.h>

/* Maps an API name ("alsa", "jack", ...) to RtMidi's value. Returns 0, or
 * UV_EINVAL for a name RtMidi does not know, or UV_ENOTSUP for one that is
 * not compiled in (err says which). NULL gives RTMIDI_API_UNSPECIFIED. */
int rmc_midi_api(const char *name, enum RtMidiApi *api, char *err, size_t errlen);
const char *rmc_midi_api_name(enum RtMidiApi api);

/* Whether api goes through our own JACK backend (midi_jack.c) rather than
 * RtMidi: JACK, when libjack was found at build time. */
bool rmc_midi_own_jack(enum RtMidiApi api);

/* Chooses the API for a port: api itself, or (UNSPECIFIED) the first
 * usable API that has ports, else the first usable one. *used is the API
 * taken; *dev the RtMidi client made for it, NULL when it is our JACK
 * backend's (rmc_midi_own_jack). Returns 0 or UV_EIO with err filled.
 * RtMidi's own error text is never read (in 5.0.0 it points into a freed
 * exception), so messages here are ours. */
int rmc_midi_choose(bool input, enum RtMidiApi api, const char *client, enum RtMidiApi *used,
                    RtMidiPtr *dev, char *err, size_t errlen);
void rmc_midi_free(bool input, RtMidiPtr dev);

/* The name of port i, malloc'd (NULL when there is no such port). */
char *rmc_midi_port_name(RtMidiPtr dev, unsigned i);

/* Finds the port to connect to: by index (cfg->port NULL) or by name, exact
 * or a unique substring. Returns the index, or a negative UV_E* code with a
 * message listing the ports there are. */
int rmc_midi_find_port(bool input, RtMidiPtr dev, enum RtMidiApi api,
                       const rtpmidi_midi_port_config *cfg, char *err, size_t errlen);

/* Lists the ports of dev through fn; returns their number. */
int rmc_midi_list(RtMidiPtr dev, rtpmidi_midi_port_fn fn, void *ud);

/* Checks a port configuration (misuse). Returns 0 or UV_EINVAL with *bad set. */
int rmc_midi_check_config(const rtpmidi_midi_port_config *cfg, const char **bad, char *err,
                          size_t errlen);

/* Opens the port described by cfg on dev (already configured: callback set for
 * an input). Returns 0 or a negative UV_E* code with err filled; *port_name
 * receives a malloc'd copy of what we connected to (or the virtual name). */
int rmc_midi_open(bool input, RtMidiPtr dev, enum RtMidiApi api, const rtpmidi_midi_port_config *cfg,
                  char **port_name, char *err, size_t errlen);

#endif
