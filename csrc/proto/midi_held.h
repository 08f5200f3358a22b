/* midi_held.h -- what a stream of MIDI 1.0 messages left sounding at the
 * receiver it went to: the notes on and the pedals down, per channel, and
 * the messages that release them.
 *
 * A session keeps one per remote sender, fed with every message it
 * delivers from that sender (the journal's repairs included); when the
 * sender goes away without ending its notes (it left, timed out, its
 * process died), the session delivers the releases so that a synthesizer
 * behind it does not hang on those notes (issue #16, finding 8).
 *
 * Pure protocol code: no I/O, no clock, no allocation; 272 octets.
 *
 * Facts from the MIDI 1.0 Detailed Specification (4.2, Channel Voice and
 * Channel Mode messages): a Note On with velocity 0 is a Note Off; a Note
 * Off without velocity sensing uses 64; controllers 64 (damper/sustain),
 * 66 (sostenuto), 67 (soft) and 69 (hold 2) are switches, on at 64..127;
 * All Sound Off (120), All Notes Off (123) and Omni Off/On, Mono, Poly On
 * (124-127, which also turn all notes off) end the channel's notes (a note
 * held by the damper sounds on until the pedal is released, which is why
 * the pedals are kept apart); Reset All Controllers (121) returns the
 * pedals to off (MIDI RP-015); System Reset (FF) resets everything. */
#ifndef RMP_MIDI_HELD_H
#define RMP_MIDI_HELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The pedals kept: their controller numbers. */
#define RMP_HELD_NPEDALS 4
extern const uint8_t RMP_HELD_PEDALS[RMP_HELD_NPEDALS]; /* 64, 66, 67, 69 */

typedef struct rmp_held {
  uint8_t notes[16][16];  /* bit n % 8 of notes[ch][n / 8]: note n sounds on channel ch */
  uint8_t pedals[16];     /* bit i: pedal RMP_HELD_PEDALS[i] is down on channel ch */
} rmp_held;

/* Zero it, or call this: nothing held. */
void rmp_held_init(rmp_held *h);
/* One complete message (status first, no running status) as delivered.
 * Anything else (SysEx, system messages but Reset, short ones) changes
 * nothing. */
void rmp_held_apply(rmp_held *h, const uint8_t *msg, size_t len);
/* Whether any note sounds or any pedal is down. */
bool rmp_held_any(const rmp_held *h);
/* The next release, forgotten as it is returned: Note Off (8n nn 40) for
 * each note on, lowest channel and note first, then Control Change
 * (Bn cc 00) for each pedal down. Writes 3 octets to out and returns 3, or
 * returns 0 when nothing is held. */
size_t rmp_held_next_release(rmp_held *h, uint8_t out[3]);

#endif
