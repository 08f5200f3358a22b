/* midi_state.h -- a model of a MIDI 1.0 receiver's state.
 *
 * Pure protocol code: no I/O, no clock, no allocation. The model is updated
 * from complete MIDI messages (status byte always present, no running
 * status). It is what the recovery journal protects: the sender keeps one to
 * know what to journal, the receiver keeps one to compare with the journal,
 * and tests compare two of them.
 *
 * What is modelled (per channel): notes on (with on-velocity), last release
 * velocity per note, poly pressure, controller values, toggle / command
 * counts (mod 64, the Chapter C toggle and count tools), program with the
 * bank in effect when it was selected, pitch bend, channel pressure, the
 * RPN/NRPN selection and per-parameter data entry (MSB, LSB, net
 * increment/decrement count). System: song select, sequencer position
 * (MIDI clocks) and run state, MTC quarter-frame registers, counts of
 * tune request, reset, active sensing and undefined commands.
 *
 * Not modelled: SysEx contents, Reset All Controllers (121) / System Reset
 * side effects (only counted), omni/mono/poly modes (only counted).
 */
#ifndef RMP_MIDI_STATE_H
#define RMP_MIDI_STATE_H

#include <stddef.h>
#include <stdint.h>

#define RMP_MS_MAX_PARAMS 32   /* distinct RPN/NRPN parameters kept per channel */

enum { RMP_MS_SEL_NONE = 0, RMP_MS_SEL_RPN = 1, RMP_MS_SEL_NRPN = 2 };

/* How a controller number is protected by the journal (RFC 6295 A.3.4
 * defaults, with the parameter-system controllers moved to Chapter M). */
enum {
  RMP_MS_CTL_VALUE = 0,   /* Chapter C value tool */
  RMP_MS_CTL_TOGGLE = 1,  /* Chapter C toggle tool (64-69), value logged too */
  RMP_MS_CTL_COUNT = 2,   /* Chapter C count tool (120, 121, 123-127) */
  RMP_MS_CTL_PARAM = 3    /* Chapter M (6, 38, 96, 97) */
};

typedef struct {
  uint8_t used, nrpn, pmsb, plsb;      /* identity: kind and number */
  uint8_t has_msb, has_lsb, msb, lsb;  /* last Data Entry MSB / LSB */
  int16_t buttons;                     /* net increments-decrements since entry */
} rmp_ms_param;

typedef struct {
  uint8_t note_vel[128];  /* 0 = off, else the on-velocity */
  uint8_t off_vel[128];   /* release velocity of the last NoteOff */
  uint8_t poly[128];      /* poly pressure */
  uint8_t cc[128];        /* controller values */
  uint8_t cc_count[128];  /* toggle tool / count tool counters, mod 64 */
  uint8_t program, prog_bank_msb, prog_bank_lsb, prog_valid;
  uint8_t bank_seen;      /* a bank select (0 or 32) was ever seen */
  uint16_t bend;          /* 14 bit, 8192 = centre */
  uint8_t chan_pressure;
  uint8_t sel;            /* RMP_MS_SEL_*: which pair (101/100 or 99/98) was written last */
  rmp_ms_param param[RMP_MS_MAX_PARAMS];
} rmp_ms_channel;

typedef struct {
  rmp_ms_channel ch[16];
  uint8_t song, song_valid;
  uint8_t seq_running;
  uint32_t seq_pos;        /* MIDI clocks since song position 0 (19 bits) */
  uint8_t mtc_nib[8], mtc_point, mtc_valid;
  uint8_t reset_count, tune_count, sense_count; /* mod 128 */
  uint8_t undef_count[4];                       /* F4 F5 F9 FD, mod 256 */
} rmp_midi_state;

typedef struct {
  unsigned stuck_notes;    /* on in got, off in want */
  unsigned missing_notes;  /* on in want, off in got */
  unsigned wrong_velocity; /* on in both, velocities differ */
  unsigned wrong_ctl;
  unsigned wrong_program;
  unsigned wrong_bend;
  unsigned wrong_pressure; /* channel pressure */
  unsigned wrong_poly;
  unsigned wrong_param;    /* RPN/NRPN selection or values */
  unsigned wrong_system;
} rmp_ms_diff;

void rmp_ms_init(rmp_midi_state *st);
/* Update the model from one complete message. Malformed or short messages
 * are ignored. */
void rmp_ms_apply(rmp_midi_state *st, const uint8_t *msg, size_t len);
/* Classify a controller number (RMP_MS_CTL_*). */
int rmp_ms_ctl_class(uint8_t ctl);
/* Find a parameter slot; with create != 0 allocate one (NULL when full). */
rmp_ms_param *rmp_ms_param_find(rmp_ms_channel *c, int nrpn, uint8_t pmsb, uint8_t plsb, int create);
/* The parameter addressed by Data Entry now: sets *nrpn, *pmsb, *plsb and
 * returns 1, or 0 if none (never selected, or the null parameter 127/127). */
int rmp_ms_selected(const rmp_ms_channel *c, int *nrpn, uint8_t *pmsb, uint8_t *plsb);
/* Compare; fills *d (may be NULL) and returns the total number of differences. */
unsigned rmp_ms_compare(const rmp_midi_state *want, const rmp_midi_state *got, rmp_ms_diff *d);

#endif
