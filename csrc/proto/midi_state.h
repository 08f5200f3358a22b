/* midi_state.h -- a model of a MIDI 1.0 receiver's state.
 *
 * Pure protocol code: no I/O, no clock. The model is updated
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
 * Reset All Controllers (121) follows MIDI RP-015 (midi_state.c). Reset
 * State commands (RFC 6295 A.1: System Reset, GM System On/Off/Disable,
 * GM2 On, DLS On/Off) return every channel to power-up; System Reset also
 * the sequencer, song select and time code. Not modelled: other SysEx
 * contents, omni/mono/poly modes (only counted).
 *
 * Controllers 6, 38, 96 and 97 outside a parameter transaction (nothing
 * selected, the null parameter, or after a 121) are general-purpose
 * controllers (A.3.4): their value is kept in cc[] like any controller.
 *
 * RPN/NRPN: a parameter slot is created when a selection completes (the
 * LSB, 98 or 100, arrives and the pair is not the null parameter) or when
 * Data Entry / Increment / Decrement addresses a parameter. Beyond
 * RMP_MS_MAX_PARAMS per channel the least recently addressed parameter is
 * forgotten (the journal sender then moves its checkpoint past that
 * parameter's last change, journal_send.c). Data Entry MSB
 * (6) forgets the LSB (38) given before it (RFC 6295 A.4.2.1: an ENTRY-LSB
 * that precedes the ENTRY-MSB is not coded).
 *
 * The selected parameter number follows RFC 6295 A.1 ("parameter system
 * transaction"), because that is what Chapter M protects: an MSB (99/101)
 * selects (MSB, 0) (type 3 variant: "the LSB value 0x00 is assumed"); an
 * LSB (98/100) selects (MSB, LSB) with the MSB of the most recent 99 or 101
 * (type 2 variant), one register for both kinds, as the single PENDING/Q
 * field of Chapter M has it. The selection (kind, MSB, LSB) is then the
 * whole parameter-number state, and Chapter M always codes it: P/PENDING
 * for a pending MSB, E = 1 and the last log for a transaction in progress,
 * E = 0 for the null parameter. A model with a pair of registers per kind
 * (MIDI 1.0 leaves lone MSB/LSB handling to the device, "respond
 * accordingly") holds registers of the kind not selected that no journal
 * can carry: the NRPN LSB register written in a lost packet before an RPN
 * pair is coded nowhere, and a later lone 99 makes the two sides diverge.
 * Receivers repair with whole pairs, so a device of either kind ends on the
 * same selection. Power-up selection: the null parameter (127/127).
 *
 * Note reference counts (A.7.1): NoteOn +1, NoteOff (or NoteOn velocity 0)
 * -1 but never below 0, reset by 120, 123-127 and Reset State commands.
 *
 * MTC: rmp_ms_compare compares what Chapter F (B.4) can code: the last
 * complete frame (COMPLETE: a run of 8 quarter frames, 0..7 forward or 7..0
 * reverse, or a Full Frame SysEx F0 7F cc 01 01 hr mn sc fr F7) and, when
 * the most recent quarter frames are a run in progress (PARTIAL: forward
 * 0..POINT < 7, reverse 7..POINT > 0), its direction, POINT and the nibbles
 * of the run. Registers written by quarter frames outside such a run (out
 * of order, or after POINT) are not journal state: B.4.1 calls such a
 * sequence illegal and a journal codes it with neither COMPLETE nor PARTIAL.
 * A Full Frame ends any run.
 */
#ifndef RMP_MIDI_STATE_H
#define RMP_MIDI_STATE_H

#include <stddef.h>
#include <stdint.h>

/* Memory (issue #20): a channel's state is made on the first message for
 * that channel, its RPN/NRPN parameter slots on the first parameter
 * addressed, through the allocator the owner gives (rmp_ms_init_alloc;
 * libc malloc/free by default). Never per message: once per channel, once
 * per parameter table. A channel never made reads as the power-up one
 * (rmp_ms_chan). When memory runs out the channel is marked broken: its
 * messages are no longer modelled (the journal sender then stops coding it
 * and moves its checkpoint past them, the receiver stops repairing it)
 * until a Reset State command returns every channel to power-up. */
typedef struct rmp_ms_alloc {
  void *(*alloc)(void *ud, size_t n);        /* n octets, or NULL */
  void (*free)(void *ud, void *p, size_t n); /* p from alloc(n) */
  void *ud;
} rmp_ms_alloc;

#define RMP_MS_MAX_PARAMS 64   /* distinct RPN/NRPN parameters kept per channel; beyond
                                * it the least recently used one is forgotten */

enum { RMP_MS_SEL_NONE = 0, RMP_MS_SEL_RPN = 1, RMP_MS_SEL_NRPN = 2 };

/* How a controller number is protected by the journal (RFC 6295 A.3.4
 * defaults, with the parameter-system controllers moved to Chapter M). */
enum {
  RMP_MS_CTL_VALUE = 0,   /* Chapter C value tool */
  RMP_MS_CTL_TOGGLE = 1,  /* Chapter C toggle tool (64-69), value logged too */
  RMP_MS_CTL_COUNT = 2,   /* Chapter C count tool (120, 121, 123-127) */
  RMP_MS_CTL_PARAM = 3,   /* Chapter M (6, 38, 96, 97) */
  RMP_MS_CTL_SELECT = 4   /* Chapter M (98-101: parameter number selection) */
};

/* Controllers with a toggle/count counter: 64-69 (toggle) and 120-127
 * (count; 122 is unused). rmp_ms_cc_count_idx maps them to 0..13, others
 * to -1. */
#define RMP_MS_NCOUNT 14

typedef struct {
  uint8_t used, nrpn, pmsb, plsb;      /* identity: kind and number */
  uint8_t has_msb, has_lsb, msb, lsb;  /* last Data Entry MSB / LSB */
  int16_t buttons;                     /* net increments-decrements since entry */
  uint8_t btn;                         /* any 96/97 since the last Data Entry */
} rmp_ms_param;

typedef struct {
  uint8_t note_vel[128];  /* 0 = off, else the on-velocity */
  uint8_t off_vel[128];   /* release velocity of the last NoteOff */
  uint8_t note_ref[128];  /* NoteOn/NoteOff reference count (RFC 6295 A.7.1),
                           * kept at 127 at most: COUNT/VEL codes >= 127 as 127 */
  uint8_t poly[128];      /* poly pressure */
  uint8_t cc[128];        /* controller values */
  uint8_t cc_count[RMP_MS_NCOUNT]; /* toggle / count tool counters, mod 64 */
  /* Program with the bank as Chapter P codes it (RFC 6295 A.2): prog_b = 1
   * when a Bank Select MSB (0) preceded the program change; the bank LSB
   * is that of a 32 between that 0 and the program change, else 0. */
  uint8_t program, prog_bank_msb, prog_bank_lsb, prog_valid, prog_b;
  uint8_t msb_seen;       /* a Bank Select MSB (0) was seen */
  uint8_t lsb_after_msb;  /* a Bank Select LSB (32) came after the last 0 */
  uint16_t bend;          /* 14 bit, 8192 = centre */
  uint8_t chan_pressure;
  /* What was ever received: a receiver's MIDI device keeps its own defaults
   * for the rest, so a repair must send a logged value it never had. */
  uint8_t cc_known[16];   /* bitmap by controller number */
  uint8_t bend_known, pressure_known;
  uint8_t sel;            /* RMP_MS_SEL_*: kind of the last parameter number command */
  uint8_t sel_msb, sel_lsb; /* the parameter number selected (127/127: the null parameter) */
  uint8_t pending;        /* 99 or 101 when that MSB is the most recent transaction command
                           * (Chapter M P = 1, A.4), else 0 */
  /* Whether a device that keeps a register pair per kind selects the same
   * parameter: sel_pair = 1 when the selection was completed by an LSB
   * while that kind's MSB register held sel_msb (msb_kinds: the kinds,
   * RMP_MS_SEL_* bits, whose MSB register equals sel_msb: the one the last
   * MSB wrote, or both after 121 and at power-up). A receiver re-sends the
   * whole pair otherwise. */
  uint8_t sel_pair, msb_kinds;
  struct rmp_ms_params *pp; /* parameter slots: NULL until a parameter is addressed */
} rmp_ms_channel;

typedef struct rmp_ms_params {
  rmp_ms_param param[RMP_MS_MAX_PARAMS];
  /* the slots in use, least recently addressed by a transaction command
   * first (Chapter M's oldest-first order, and the one forgotten first) */
  uint8_t porder[RMP_MS_MAX_PARAMS];
  uint8_t nporder;
} rmp_ms_params;

typedef struct {
  rmp_ms_channel *ch[16];  /* NULL: never used (power-up state); read through rmp_ms_chan */
  rmp_ms_alloc al;
  uint16_t broken;         /* channels whose state could not be made (bit per channel) */
  unsigned alloc_failed;   /* allocations that failed (this state's and its owner's) */
  uint8_t song, song_valid;
  uint8_t seq_running;
  uint8_t seq_started;     /* the last of Start / Continue was Start */
  uint32_t seq_pos;        /* MIDI clocks since song position 0 (19 bits) */
  uint8_t mtc_nib[8], mtc_point, mtc_valid;
  uint8_t mtc_run;         /* the quarter frames since the last 0 (forward) or 7 (reverse)
                            * came in a row: 0..mtc_point, or 7 down to mtc_point */
  uint8_t mtc_rev;         /* that run is reverse (tape moving backwards, B.4) */
  uint8_t mtc_complete_valid;
  uint8_t mtc_complete_ff; /* the last complete frame was a Full Frame (Chapter F Q = 0):
                            * mtc_complete is then HR MN SC FR, HR in the top octet */
  uint8_t mtc_complete_rev; /* it was a reverse run (not compared: Chapter F codes one D
                             * bit for the tape, not one for COMPLETE) */
  uint32_t mtc_complete;   /* MT0..MT7 of the last complete run, MT0 in the top nibble */
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
  unsigned wrong_refcount; /* note reference counts (Chapter E) */
} rmp_ms_diff;

void rmp_ms_init(rmp_midi_state *st);
/* The same with an allocator (NULL: libc malloc/free); a copy is kept. */
void rmp_ms_init_alloc(rmp_midi_state *st, const rmp_ms_alloc *al);
/* Releases what the state made (it is then as after rmp_ms_init). */
void rmp_ms_free(rmp_midi_state *st);
/* dst becomes a deep copy of src (dst uninitialised or freed before): 0,
 * or -1 when memory ran out (dst is then freed, as after init). */
int rmp_ms_copy(rmp_midi_state *dst, const rmp_midi_state *src);
/* Memory through the state's allocator (counted in alloc_failed when it
 * fails); rmp_ms_mem zeroes it. For the journal's own per-channel tables. */
void *rmp_ms_mem(rmp_midi_state *st, size_t n);
void rmp_ms_unmem(rmp_midi_state *st, void *p, size_t n);
/* A channel for reading: its state, or the power-up state when it was
 * never made. */
const rmp_ms_channel *rmp_ms_chan(const rmp_midi_state *st, int ch);
/* A channel for writing: made on first use; NULL when it is broken (or
 * memory ran out: it is then broken). */
rmp_ms_channel *rmp_ms_chan_w(rmp_midi_state *st, int ch);
/* Whether a channel is at power-up, but for what a receiver was ever sent
 * (cc_known, bend_known, pressure_known): its state can be dropped. */
int rmp_ms_chan_idle(const rmp_ms_channel *c);
/* Drops channel ch's state (it reads as power-up afterwards). */
void rmp_ms_chan_drop(rmp_midi_state *st, int ch);
/* Update the model from one complete message. Malformed or short messages
 * are ignored. */
void rmp_ms_apply(rmp_midi_state *st, const uint8_t *msg, size_t len);
/* Classify a controller number (RMP_MS_CTL_*). */
int rmp_ms_ctl_class(uint8_t ctl);
/* Whether a complete message is a Reset State command (RFC 6295 A.1):
 * System Reset (FF), General MIDI System On, Off or GM2 On (F0 7E dd 09
 * 01|02|03 F7; 02 is the GM spec's System Off, A.1 names Disable 00: both
 * count), DLS On or Off (F0 7E dd 0A 01|02 F7). The model returns every
 * channel to power-up on them (System Reset: the sequencer and time code
 * too): commands before one are no longer active. */
int rmp_ms_is_reset_state(const uint8_t *msg, size_t len);
/* Whether a complete message is an MTC Full Frame, F0 7F cc 01 01 hr mn sc fr F7. */
int rmp_ms_is_full_frame(const uint8_t *msg, size_t len);
/* Whether the most recent quarter frames are a run in progress (the
 * Chapter F PARTIAL field: forward 0..POINT < 7, reverse 7..POINT > 0). */
int rmp_ms_mtc_partial(const rmp_midi_state *st);
int rmp_ms_cc_count_idx(uint8_t ctl);
/* Toggle / count tool counter of a controller (0 for others). */
uint8_t rmp_ms_cc_count(const rmp_ms_channel *c, uint8_t ctl);
void rmp_ms_set_cc_count(rmp_ms_channel *c, uint8_t ctl, uint8_t v);
/* Find a parameter slot; with create != 0 allocate one, forgetting the
 * least recently used parameter when all RMP_MS_MAX_PARAMS are in use
 * (only in a table already made: rmp_ms_apply makes it). */
rmp_ms_param *rmp_ms_param_find(rmp_ms_channel *c, int nrpn, uint8_t pmsb, uint8_t plsb, int create);
/* The same for reading, on a channel that may be the power-up one. */
const rmp_ms_param *rmp_ms_param_get(const rmp_ms_channel *c, int nrpn, uint8_t pmsb, uint8_t plsb);
/* Mark a slot as the most recently used (rmp_ms_apply does, for every
 * transaction command). */
void rmp_ms_param_touch(rmp_ms_channel *c, const rmp_ms_param *p);
/* The parameter addressed by Data Entry now: sets *nrpn, *pmsb, *plsb and
 * returns 1, or 0 if none (never selected, or the null parameter 127/127). */
int rmp_ms_selected(const rmp_ms_channel *c, int *nrpn, uint8_t *pmsb, uint8_t *plsb);
/* MTC frame arithmetic on MT0..MT7 nibbles packed MT0-first in 32 bits
 * (the Chapter F COMPLETE layout, RFC 6295 Figure B.4.2): move the time
 * code by delta frames (24, 25, 30 drop-frame or 30 fps from MT7), with
 * carries up to the hour (mod 24). Reserved bits are kept. A nibble set
 * that is not a valid time code is returned unchanged, so the function is
 * a bijection and offset(offset(x, d), -d) == x for every x. */
uint32_t rmp_ms_mtc_offset(uint32_t mt, int delta);
/* Compare; fills *d (may be NULL) and returns the total number of differences. */
unsigned rmp_ms_compare(const rmp_midi_state *want, const rmp_midi_state *got, rmp_ms_diff *d);

#endif
