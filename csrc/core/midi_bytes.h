/* MIDI bytes as given to a MIDI output: split into complete messages.
 * Shared by midi_out.c and rtpmidi_midi_check_bytes, which exists with or
 * without RtMidi. Not public. */
#ifndef RMC_MIDI_BYTES_H
#define RMC_MIDI_BYTES_H

#include <stddef.h>
#include <stdint.h>

typedef int (*rmc_midi_msg_fn)(void *ud, const uint8_t *msg, size_t len);

/* Splits bytes into complete messages (running status for channel messages;
 * real-time bytes stand alone) and calls fn for each; with fn NULL it only
 * checks. Returns 0, a negative value from fn, or UV_EINVAL with *why. */
int rmc_midi_split(const uint8_t *b, size_t len, rmc_midi_msg_fn fn, void *ud, const char **why);

/* Whether bytes (at least one) are complete messages: 0 or UV_EINVAL with *why. */
int rmc_midi_check(const uint8_t *bytes, size_t len, const char **why);

#endif
