/* MIDI 1.0 message helpers and a streaming parser of raw MIDI bytes.
 *
 * Pure protocol code: libc only, no I/O, no clock, no allocation. The
 * streaming parser takes a caller-provided buffer for SysEx reassembly.
 *
 * Error codes (enum rmp_err, prefix RMP_E) are shared with midi_cmd.h.
 */
#ifndef RTPMIDI_PROTO_MIDI_MSG_H
#define RTPMIDI_PROTO_MIDI_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Error codes: every failing function returns one of these (negative). */
enum rmp_err {
  RMP_OK = 0,
  RMP_E_ARG = -1,              /* bad argument (NULL pointer, bad size) */
  RMP_E_LEN_PAST_END = -2,     /* command section LEN runs past the buffer */
  RMP_E_SHORT_HEADER = -3,     /* buffer too short for the section header */
  RMP_E_DELTA_NO_CMD = -4,     /* MIDI list ends with a delta time and no command */
  RMP_E_DELTA_TOO_LONG = -5,   /* delta time longer than 4 octets */
  RMP_E_NO_STATUS = -6,        /* data byte with no status (no running status) */
  RMP_E_STATUS_IN_DATA = -7,   /* status byte inside a message where not allowed */
  RMP_E_TRUNCATED = -8,        /* message cut short (end of data, or status interrupted it) */
  RMP_E_SYSEX_TOO_LONG = -9,   /* SysEx larger than the reassembly buffer (dropped) */
  RMP_E_SYSEX_NO_START = -10,  /* SysEx continuation/end segment without a start (dropped) */
  RMP_E_SYSEX_INCOMPLETE = -11,/* SysEx start never finished (new SysEx began; dropped) */
  RMP_E_STRAY_EOX = -12,       /* 0xF7 outside a SysEx (raw MIDI) */
  RMP_E_BAD_MSG = -13,         /* encoder input is not one complete valid MIDI message */
  RMP_E_DELTA_RANGE = -14,     /* delta time > 0x0FFFFFFF (does not fit 4 octets) */
  RMP_E_NO_SPACE = -15,        /* output buffer/budget too small to make progress */
  RMP_E_SYSEX_MISMATCH = -16   /* encoder: continuing a split SysEx but msgs[0] is not it */
};

/* Readable text for an rmp_err value (never NULL). */
const char *rmp_strerror(int err);

/* Kinds of MIDI 1.0 messages, by status byte. */
typedef enum rmp_midi_kind {
  RMP_MIDI_NONE = 0,           /* not a status byte (data byte 0x00-0x7F) */
  /* channel voice (0x80-0xEF) */
  RMP_MIDI_NOTE_OFF,           /* 8n kk vv */
  RMP_MIDI_NOTE_ON,            /* 9n kk vv */
  RMP_MIDI_POLY_PRESSURE,      /* An kk pp */
  RMP_MIDI_CONTROL_CHANGE,     /* Bn cc vv */
  RMP_MIDI_PROGRAM_CHANGE,     /* Cn pp */
  RMP_MIDI_CHANNEL_PRESSURE,   /* Dn pp */
  RMP_MIDI_PITCH_BEND,         /* En ll mm */
  /* system exclusive */
  RMP_MIDI_SYSEX,              /* F0 ... F7 */
  /* system common */
  RMP_MIDI_MTC_QUARTER_FRAME,  /* F1 nd */
  RMP_MIDI_SONG_POSITION,      /* F2 ll mm */
  RMP_MIDI_SONG_SELECT,        /* F3 ss */
  RMP_MIDI_COMMON_UNDEFINED,   /* F4, F5 */
  RMP_MIDI_TUNE_REQUEST,       /* F6 */
  RMP_MIDI_EOX,                /* F7 (only meaningful as the end of a SysEx) */
  /* system real-time (single byte, allowed anywhere) */
  RMP_MIDI_CLOCK,              /* F8 */
  RMP_MIDI_REALTIME_UNDEFINED, /* F9, FD */
  RMP_MIDI_START,              /* FA */
  RMP_MIDI_CONTINUE,           /* FB */
  RMP_MIDI_STOP,               /* FC */
  RMP_MIDI_ACTIVE_SENSING,     /* FE */
  RMP_MIDI_RESET               /* FF */
} rmp_midi_kind;

static inline bool rmp_midi_is_status(uint8_t b) { return b >= 0x80; }
static inline bool rmp_midi_is_channel(uint8_t b) { return b >= 0x80 && b < 0xF0; }
static inline bool rmp_midi_is_realtime(uint8_t b) { return b >= 0xF8; }
/* System common including SysEx start/end: 0xF0-0xF7. These cancel running status. */
static inline bool rmp_midi_is_common(uint8_t b) { return b >= 0xF0 && b < 0xF8; }

/* Kind of the message that starts with status byte `status`. */
rmp_midi_kind rmp_midi_kind_of(uint8_t status);

/* Short readable name of a kind, e.g. "note_on" (never NULL). */
const char *rmp_midi_kind_name(rmp_midi_kind kind);

/* Total length in bytes (status included) of a message that starts with
 * `status`: 1, 2 or 3; 0 for a data byte; -1 for SysEx (0xF0, variable). */
int rmp_midi_msg_len(uint8_t status);

/* Check that msg[0..len) is exactly one complete MIDI message with its
 * status byte: channel/common/real-time of the right length with data bytes
 * < 0x80, or SysEx F0 <data...> F7. Returns RMP_OK or a negative rmp_err. */
int rmp_midi_msg_validate(const uint8_t *msg, size_t len);

/* ---- Streaming parser of raw MIDI bytes (as from a MIDI port) ----
 *
 * Handles running status, real-time bytes anywhere (including inside a
 * SysEx and inside a channel message), SysEx into a caller buffer, and the
 * MIDI 1.0 "dropped F7" (any non-real-time status ends a SysEx; the emitted
 * message is normalized to end with F7). Undefined F4/F5 are emitted as
 * 1-byte messages and cancel running status; F9/FD as real-time.
 */
typedef struct rmp_midi_parser {
  uint8_t running;       /* running status (channel voice) or 0 */
  uint8_t msg[3];        /* message being assembled / last short message */
  uint8_t have;          /* bytes in msg */
  uint8_t need;          /* total bytes needed for msg (0 = idle) */
  uint8_t rt;            /* real-time byte being emitted */
  bool in_sysex;
  bool sysex_overflow;
  uint8_t *sysex_buf;    /* caller's buffer, holds F0 ... F7 */
  size_t sysex_cap;
  size_t sysex_len;      /* bytes stored (<= sysex_cap) */
  size_t sysex_total;    /* bytes seen (may exceed sysex_cap) */
} rmp_midi_parser;

typedef struct rmp_midi_event {
  const uint8_t *data;   /* complete message (points into the parser or its SysEx buffer);
                            valid until the next call on the parser */
  size_t len;            /* 0 when error != 0 */
  rmp_midi_kind kind;
  int error;             /* 0, or a negative rmp_err describing bytes that were dropped */
} rmp_midi_event;

/* Prepare a parser. sysex_buf may be NULL (cap 0): every SysEx then reports
 * RMP_E_SYSEX_TOO_LONG. */
void rmp_midi_parser_init(rmp_midi_parser *p, uint8_t *sysex_buf, size_t sysex_cap);

/* Consume bytes from buf[0..len) until one event is ready or the input is
 * used up. Returns the number of bytes consumed (0..len). If an event is
 * ready, *ev is filled and ev->len > 0 (a message) or ev->error != 0 (bytes
 * dropped, with the reason); otherwise ev->len == 0 and ev->error == 0.
 * Call again with buf+consumed until all bytes are consumed and no event. */
size_t rmp_midi_parser_feed(rmp_midi_parser *p, const uint8_t *buf, size_t len, rmp_midi_event *ev);

/* True when the parser is in the middle of a message (a short message
 * missing data bytes, or an open SysEx). */
bool rmp_midi_parser_pending(const rmp_midi_parser *p);

/* Drop any partial message (keeps running status unless reset_running). */
void rmp_midi_parser_reset(rmp_midi_parser *p, bool reset_running);

#endif
