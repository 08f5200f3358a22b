/* RTP MIDI command section (RFC 6295 section 3), without the recovery journal.
 *
 *   header:  |B|J|Z|P|LEN(4)|            (B = 0, LEN <= 15)
 *            |B|J|Z|P|LEN(4 high)|LEN(8 low)|  (B = 1, LEN <= 4095)
 *   list:    [Delta Time 0 if Z] Command 0, Delta Time 1, Command 1, ...
 *
 * Delta times are 1-4 octets, 7 bits each, high bit = "more octets follow";
 * each codes ticks since the previous command (the first: since the RTP
 * timestamp). P (phantom) only says the source stream used running status
 * for the first command: per RFC 6295 the first command in the list must
 * still carry its status octet, so the decoder just reports P.
 *
 * Pure protocol code: libc only, no I/O, no clock, no allocation; all state
 * is in fixed-size structs and the caller provides every buffer.
 * Error codes (enum rmp_err, RMP_E_*) and rmp_strerror() are in midi_msg.h.
 */
#ifndef RTPMIDI_PROTO_MIDI_CMD_H
#define RTPMIDI_PROTO_MIDI_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "midi_msg.h"

#define RMP_CMD_DEFAULT_BUDGET 1200u   /* octets of command section per packet */
#define RMP_CMD_MIN_BUDGET 16u         /* smallest budget the encoder accepts */
#define RMP_CMD_MAX_LIST 4095u         /* LEN is 12 bits */
#define RMP_CMD_MAX_DELTA 0x0FFFFFFFu  /* 4 octets x 7 bits */
/* A SysEx that does not fit whole is started in a packet that already holds
 * other commands only if at least this many data bytes fit in it. */
#define RMP_CMD_MIN_SYSEX_SEGMENT 32u

/* ---- header ---- */
typedef struct rmp_cmd_header {
  bool b, j, z, p;
  uint16_t len;      /* LEN: octets of MIDI list */
  uint8_t hdr_len;   /* 1 or 2 */
} rmp_cmd_header;

/* Parse the header at buf. Returns the size of the whole command section
 * (hdr_len + LEN, so the journal, if J, starts there) or a negative rmp_err:
 * RMP_E_SHORT_HEADER, RMP_E_LEN_PAST_END. */
int rmp_cmd_header_parse(const uint8_t *buf, size_t len, rmp_cmd_header *h);

/* ---- delta times ---- */
/* Octets needed for a delta (1-4), or RMP_E_DELTA_RANGE. */
int rmp_delta_size(uint32_t delta);
/* Write delta into out[0..4). Returns octets written (1-4) or RMP_E_DELTA_RANGE. */
int rmp_delta_encode(uint32_t delta, uint8_t out[4]);
/* Read a delta from buf[0..len). Returns octets consumed (1-4), or
 * RMP_E_TRUNCATED (continuation past len), RMP_E_DELTA_TOO_LONG (> 4 octets). */
int rmp_delta_decode(const uint8_t *buf, size_t len, uint32_t *delta);

/* ---- encoder ---- */
typedef struct rmp_cmd_msg {
  uint32_t delta;        /* ticks since the previous message (msgs[0]: since the
                            RTP timestamp of the packet being built) */
  const uint8_t *data;   /* one complete MIDI message, status byte first;
                            SysEx as F0 ... F7 (any length) */
  size_t len;
} rmp_cmd_msg;

/* Remembers a SysEx split across packets. Zero it (or call init) first. */
typedef struct rmp_cmd_encoder {
  size_t sysex_off;      /* 0, or offset in the current SysEx of the next data byte to send */
  size_t sysex_len;      /* length of the SysEx being split (checked on the next call) */
} rmp_cmd_encoder;

typedef struct rmp_cmd_enc_info {
  size_t nmsgs;          /* messages from msgs[] fully sent in this section */
  uint32_t ticks;        /* sum of the delta times written (advance the RTP timestamp by this) */
  bool sysex_partial;    /* msgs[nmsgs] is a SysEx partly sent: pass it first next time */
  size_t list_len;       /* LEN of the section */
} rmp_cmd_enc_info;

void rmp_cmd_encoder_init(rmp_cmd_encoder *enc);

/* Encode one command section into out: as many of msgs[0..n) as fit within
 * min(budget, out_cap) octets (budget 0 = RMP_CMD_DEFAULT_BUDGET; the section
 * never exceeds 2 + 4095 octets). Channel messages with the same status as
 * the previous channel message in the section use running status (SysEx and
 * system common cancel it, real-time does not). A SysEx that does not fit is
 * split into segments (F0..F0, F7..F0, ..., F7..F7); call again with
 * msgs + info->nmsgs (the same SysEx first) until it is all sent; the
 * continuation segments carry delta 0 (the message's delta is used once).
 * J sets the J bit (the caller appends the journal). Z is set iff the first
 * command has a non-zero delta. P is always 0.
 * Returns the section size in octets (>= 1), or a negative rmp_err:
 * RMP_E_ARG, RMP_E_NO_SPACE (budget/out_cap < RMP_CMD_MIN_BUDGET),
 * RMP_E_BAD_MSG / RMP_E_NO_STATUS / ... (msgs[0] invalid; an invalid later
 * message just ends the section before it), RMP_E_DELTA_RANGE,
 * RMP_E_SYSEX_MISMATCH. n == 0 gives an empty section (1 octet). */
int rmp_cmd_encode(rmp_cmd_encoder *enc, const rmp_cmd_msg *msgs, size_t n, bool journal,
                   size_t budget, uint8_t *out, size_t out_cap, rmp_cmd_enc_info *info);

/* ---- decoder ---- */

/* State kept across packets: SysEx reassembly into the caller's buffer. */
typedef struct rmp_cmd_decoder {
  uint8_t *sysex_buf;
  size_t sysex_cap;
  size_t sysex_len;      /* bytes stored (F0 first) */
  uint8_t sysex_state;   /* internal: 0 idle, 1 collecting, 2 skipping */
  bool sysex_overflow;
  unsigned long n_sysex_too_long;    /* SysEx dropped: larger than sysex_cap */
  unsigned long n_sysex_cancelled;   /* F7 ... F4 (or F0 ... F4) seen */
  unsigned long n_sysex_no_start;    /* segments without a start, dropped */
  unsigned long n_sysex_incomplete;  /* started, never finished */
} rmp_cmd_decoder;

void rmp_cmd_decoder_init(rmp_cmd_decoder *d, uint8_t *sysex_buf, size_t sysex_cap);
/* Forget a partly received SysEx (counters kept). */
void rmp_cmd_decoder_reset(rmp_cmd_decoder *d);
/* Whether what d has read started a SysEx: one is being collected, or one
 * was dropped as too long (all are, with no buffer). A receiver probes a
 * packet with a buffer-less decoder to learn whether it needs its buffer. */
bool rmp_cmd_decoder_sysex_seen(const rmp_cmd_decoder *d);
/* Gives d a SysEx buffer from the next SysEx on (not one in progress). */
void rmp_cmd_decoder_set_buffer(rmp_cmd_decoder *d, uint8_t *sysex_buf, size_t sysex_cap);

typedef struct rmp_cmd_event {
  uint32_t time;         /* ticks since the RTP timestamp (sum of delta times) */
  uint32_t delta;        /* ticks since the previous message event of this section
                            (for the first: since the RTP timestamp) */
  const uint8_t *data;   /* complete message with status byte (running status
                            expanded; SysEx reassembled F0 ... F7); valid until
                            the next call on the iterator or decoder */
  size_t len;            /* 0 for an error event */
  rmp_midi_kind kind;
  int error;             /* 0, or a non-fatal rmp_err: RMP_E_SYSEX_TOO_LONG,
                            RMP_E_SYSEX_NO_START, RMP_E_SYSEX_INCOMPLETE */
} rmp_cmd_event;

/* Iterator over the commands of one section. */
typedef struct rmp_cmd_iter {
  rmp_cmd_decoder *dec;
  rmp_cmd_header hdr;
  const uint8_t *list;
  size_t len, pos;
  uint32_t time, last_time;
  uint8_t running;
  bool first;
  bool in_sysex_cmd;     /* in the middle of a SysEx command (after a real-time event) */
  int err;               /* sticky fatal error */
  uint8_t msg[3];
} rmp_cmd_iter;

/* Start iterating the section at buf[0..len). Returns the section size
 * (header + LEN, where a journal would start) or a negative rmp_err. */
int rmp_cmd_iter_init(rmp_cmd_iter *it, rmp_cmd_decoder *dec, const uint8_t *buf, size_t len);

/* Next event. Returns 1 (event in *ev: a message, or a non-fatal error for a
 * dropped SysEx), 0 at the end of the list, or a negative rmp_err for a
 * malformed list (sticky; the rest of the section is not decoded):
 * RMP_E_DELTA_NO_CMD, RMP_E_DELTA_TOO_LONG, RMP_E_NO_STATUS,
 * RMP_E_STATUS_IN_DATA, RMP_E_TRUNCATED. Real-time bytes inside a SysEx come
 * out as their own events, in order, before the SysEx completes. */
int rmp_cmd_iter_next(rmp_cmd_iter *it, rmp_cmd_event *ev);

#endif
