/* Universal MIDI Packet (UMP): message sizes, a word iterator, the default
 * translation between the MIDI 1.0 byte stream and UMP, MIDI 1.0 <-> 2.0
 * channel voice conversion with the default scaling, and answers to UMP
 * Stream discovery from an endpoint's own description.
 *
 * Pure protocol code: libc only, no I/O, no clock, no allocation. Words are
 * host-order uint32_t; on the wire (Network MIDI 2.0) they are big-endian.
 *
 * Where the facts come from (the UMP specification M2-104-UM needs a
 * registration, so they are taken from public implementations):
 *  - message sizes per message type: Windows MIDI Services
 *    (microsoft/MIDI, GetUmpLengthInMidiWordsFromMessageType: MT 0,1,2,6,7 ->
 *    1 word; 3,4,8,9,A -> 2; B,C -> 3; 5,D,E,F -> 4) and Zephyr
 *    (include/zephyr/audio/midi.h, UMP_NUM_WORDS_LOOKUP_TABLE: the same).
 *  - SysEx7 (MT 3) layout, MIDI 2.0 channel voice (MT 4) fields, the
 *    min-center-max upscaling and the shift downscaling: the Linux kernel's
 *    sound/core/ump_convert.c (upscale_7_to_16bit: v << 9, and when v > 0x40
 *    the low 6 bits repeated below; downscale_16_to_7bit: >> 9; a MIDI 2.0
 *    Note On whose velocity downscales to 0 becomes velocity 1; a MIDI 1.0
 *    Note On with velocity 0 becomes a Note Off) and MIDIKit
 *    (orchetect/MIDIKit, scaled16Bit(from7Bit): the same bit repeat).
 *  - UMP Stream (MT F) statuses and layouts: Windows MIDI Services
 *    (src/api/Inc/midi_ump_message_defs.h: discovery 0x000, endpoint info
 *    0x001, device identity 0x002, endpoint name 0x003, product instance id
 *    0x004, stream configuration request/notification 0x005/0x006, function
 *    block discovery/info/name 0x010/0x011/0x012; 14 name bytes per packet,
 *    names up to 98 bytes, product instance id up to 42) and Zephyr
 *    (lib/midi2/ump_stream_responder.c: the Endpoint Info and Function Block
 *    Info bit positions, form in bits 27..26 of word 0).
 */
#ifndef RTPMIDI_PROTO_UMP_H
#define RTPMIDI_PROTO_UMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Message types (bits 31..28 of the first word). */
enum rmp_ump_mt {
  RMP_UMP_MT_UTILITY = 0x0,  /* 32-bit: NOOP, JR clock/timestamp, delta clock */
  RMP_UMP_MT_SYSTEM = 0x1,   /* 32-bit: system common and real time */
  RMP_UMP_MT_MIDI1 = 0x2,    /* 32-bit: MIDI 1.0 channel voice */
  RMP_UMP_MT_DATA64 = 0x3,   /* 64-bit: SysEx7 */
  RMP_UMP_MT_MIDI2 = 0x4,    /* 64-bit: MIDI 2.0 channel voice */
  RMP_UMP_MT_DATA128 = 0x5,  /* 128-bit: SysEx8 and mixed data set */
  RMP_UMP_MT_FLEX = 0xD,     /* 128-bit: flex data */
  RMP_UMP_MT_STREAM = 0xF    /* 128-bit: UMP stream */
};

/* SysEx7 (MT 3) and SysEx8 (MT 5) status nibble (bits 23..20). */
enum { RMP_UMP_SX_COMPLETE = 0, RMP_UMP_SX_START = 1, RMP_UMP_SX_CONTINUE = 2, RMP_UMP_SX_END = 3 };

/* MIDI 2.0 channel voice status nibbles (bits 23..20 of an MT 4 word 0). */
enum {
  RMP_UMP_M2_PER_NOTE_RCC = 0x0, RMP_UMP_M2_PER_NOTE_ACC = 0x1,
  RMP_UMP_M2_RPN = 0x2, RMP_UMP_M2_NRPN = 0x3,
  RMP_UMP_M2_REL_RPN = 0x4, RMP_UMP_M2_REL_NRPN = 0x5,
  RMP_UMP_M2_PER_NOTE_PITCH = 0x6,
  RMP_UMP_M2_NOTE_OFF = 0x8, RMP_UMP_M2_NOTE_ON = 0x9, RMP_UMP_M2_POLY_PRESSURE = 0xA,
  RMP_UMP_M2_CC = 0xB, RMP_UMP_M2_PROGRAM = 0xC, RMP_UMP_M2_CHANNEL_PRESSURE = 0xD,
  RMP_UMP_M2_PITCH_BEND = 0xE, RMP_UMP_M2_PER_NOTE_MGMT = 0xF
};

/* UMP Stream statuses (10 bits, 25..16 of an MT F word 0). */
enum {
  RMP_UMP_ST_EP_DISCOVERY = 0x000, RMP_UMP_ST_EP_INFO = 0x001, RMP_UMP_ST_DEVICE_ID = 0x002,
  RMP_UMP_ST_EP_NAME = 0x003, RMP_UMP_ST_PIID = 0x004, RMP_UMP_ST_CONFIG_REQUEST = 0x005,
  RMP_UMP_ST_CONFIG_NOTIFY = 0x006, RMP_UMP_ST_FB_DISCOVERY = 0x010, RMP_UMP_ST_FB_INFO = 0x011,
  RMP_UMP_ST_FB_NAME = 0x012
};

#define RMP_UMP_MAX_WORDS 4         /* longest message */
#define RMP_UMP_NAME_MAX 98         /* endpoint name, octets (Windows MIDI Services) */
#define RMP_UMP_PIID_MAX 42         /* product instance id, octets (idem) */

static inline unsigned rmp_ump_type(uint32_t w0) { return w0 >> 28; }
static inline unsigned rmp_ump_group(uint32_t w0) { return (w0 >> 24) & 0xF; }

/* Words in a message of type mt (1-4; every type has a size, reserved ones
 * included, so a receiver can skip what it does not know). */
unsigned rmp_ump_words_for_type(unsigned mt);
/* Words in the message whose first word is w0. */
static inline unsigned rmp_ump_words(uint32_t w0) { return rmp_ump_words_for_type(w0 >> 28); }

/* Iterator over whole messages in words[0..n). */
typedef struct rmp_ump_iter {
  const uint32_t *w;
  size_t n, pos;
} rmp_ump_iter;
void rmp_ump_iter_init(rmp_ump_iter *it, const uint32_t *words, size_t n);
/* 1: *msg points at the next message of *len words; 0: end; -1: the last
 * message is cut short (its first word says more words than are left; the
 * iterator then stays at the end). */
int rmp_ump_next(rmp_ump_iter *it, const uint32_t **msg, unsigned *len);
/* True when words[0..n) is a sequence of whole messages (n == 0 included). */
bool rmp_ump_whole(const uint32_t *words, size_t n);

/* Big-endian octets <-> words. */
void rmp_ump_load_be(const uint8_t *p, size_t nwords, uint32_t *out);
void rmp_ump_store_be(const uint32_t *w, size_t nwords, uint8_t *out);

/* ---- value scaling (default MIDI 1.0 <-> 2.0 translation) ---- */

/* Min-center-max upscaling from src_bits to dst_bits (1 <= src < dst <= 32):
 * 0 -> 0, the center (1 << (src-1)) -> the center, the maximum -> the
 * maximum; above the center the low src-1 bits are repeated into the new
 * low bits. */
uint32_t rmp_ump_scale_up(uint32_t v, unsigned src_bits, unsigned dst_bits);
/* Downscaling: the top dst_bits (a shift). scale_down(scale_up(v)) == v. */
uint32_t rmp_ump_scale_down(uint32_t v, unsigned src_bits, unsigned dst_bits);

/* ---- MIDI 1.0 byte stream -> UMP (MT 1, MT 2, MT 3) ---- */

typedef struct rmp_ump_m1in {
  uint8_t group;       /* UMP group of what is produced (0-15) */
  uint8_t status;      /* message being collected (channel voice: also the
                          running status; system common), 0: none */
  uint8_t need, have;  /* data bytes the message needs / has */
  uint8_t data[2];
  bool in_sysex;
  bool sysex_started;  /* a Start packet of this SysEx went out */
  uint8_t sx_len;      /* bytes held for the next SysEx7 packet (0-6) */
  uint8_t sx[6];
  uint32_t dropped;    /* bytes that made no message (data without status, F4, F5, stray F7) */
} rmp_ump_m1in;

void rmp_ump_from_midi1_init(rmp_ump_m1in *c, unsigned group);
/* Feeds one byte. Returns the number of words written to out (0, 1 or 2;
 * out has room for 4). Running status is followed; real-time bytes come out
 * at once, also inside a SysEx (after a full held SysEx7 packet, so they
 * move ahead of at most the bytes of one packet); a SysEx is cut into
 * SysEx7 packets of 6 data bytes, the last one held until it is known to be
 * the end (so F0 + 6 bytes + F7 is one Complete packet); any other status byte ends an
 * open SysEx (an End packet of what was held). */
int rmp_ump_from_midi1_byte(rmp_ump_m1in *c, uint8_t b, uint32_t out[4]);
/* Converts a whole buffer; writes at most cap words (whole messages only).
 * Returns words written; *consumed (optional) = bytes used, less than len
 * only when out is full. */
size_t rmp_ump_from_midi1(rmp_ump_m1in *c, const uint8_t *bytes, size_t len,
                          uint32_t *out, size_t cap, size_t *consumed);

/* ---- UMP -> MIDI 1.0 bytes ---- */

/* Longest output of one message (MIDI 2.0 RPN: four Control Changes). */
#define RMP_UMP_MIDI1_MAX 12
/* The MIDI 1.0 bytes of one message msg[0..len) (len = its size): MT 1 and
 * MT 2 as they are, MT 3 SysEx7 with F0 before a Start/Complete and F7 after
 * an End/Complete, MT 4 down-converted (velocity >> 9; a Note On whose
 * velocity becomes 0 is sent with 1; controller and pressure values >> 25;
 * pitch bend >> 18; a Program Change with Bank Valid as CC 0, CC 32, then the
 * program; RPN/NRPN as CC 101/100 (99/98), 6, 38). Returns the number of
 * bytes (0 for what has no MIDI 1.0 form: utility, MT 4 per-note and
 * relative messages, SysEx8, flex data, stream) or -1 when out is too small. */
int rmp_ump_to_midi1(const uint32_t *msg, unsigned len, uint8_t *out, size_t cap);

/* ---- MIDI 1.0 channel voice (MT 2) <-> MIDI 2.0 channel voice (MT 4) ---- */

/* State of the MT 2 -> MT 4 translation: Bank Select and (N)RPN controllers
 * of MIDI 1.0 are compound, so they are held per group and channel until
 * the message they belong to (Program Change, Data Entry LSB). */
typedef struct rmp_ump_upgrade_ch {
  uint8_t bank_msb, bank_lsb, rpn_msb, rpn_lsb, nrpn_msb, nrpn_lsb, data_msb;
  uint8_t flags; /* internal */
} rmp_ump_upgrade_ch;
typedef struct rmp_ump_upgrade {
  rmp_ump_upgrade_ch ch[16][16]; /* [group][channel] */
} rmp_ump_upgrade;
void rmp_ump_upgrade_init(rmp_ump_upgrade *u);
/* Translates one MT 2 message (w0) into MT 4. Returns words written to
 * out[2]: 2, or 0 when it was held (CC 0/32, 98-101, 6) or dropped.
 * Values are upscaled (7 -> 16 bit velocity, 7 -> 32 bit controllers and
 * pressures, 14 -> 32 bit pitch bend and (N)RPN data); a Note On with
 * velocity 0 becomes a Note Off with velocity 0. Anything else than MT 2 is
 * not translated (0). */
int rmp_ump_upgrade_msg(rmp_ump_upgrade *u, uint32_t w0, uint32_t out[2]);
/* One MT 4 message -> MT 2 messages (at most 4 words: RPN as four CCs).
 * Returns words written or 0 (no MIDI 1.0 form). */
int rmp_ump_downgrade_msg(const uint32_t msg[2], uint32_t out[4]);

/* ---- UMP Stream answers from an endpoint's own description ---- */

typedef struct rmp_ump_endpoint {
  const char *name;       /* endpoint name (<= 98 octets used), NULL: none */
  const char *piid;       /* product instance id (<= 42 octets used), NULL: none */
  uint8_t protocol;       /* current protocol: 1 MIDI 1.0, 2 MIDI 2.0 */
} rmp_ump_endpoint;

/* The answer to one UMP Stream message msg[0..len): Endpoint Discovery ->
 * Endpoint Info (UMP 1.1, one static function block, MIDI 1.0 and 2.0
 * protocols), Endpoint Name, Product Instance Id and Stream Configuration
 * Notifications as its filter asks; Function Block Discovery (block 0 or
 * 0xFF) -> Function Block 0 Info (active, both directions, groups 0-15) and
 * Name; Stream Configuration Request -> a Notification of the protocol
 * accepted (1 or 2, no JR timestamps). Writes whole 4-word messages to out
 * (cap words) and returns the number of words, 0 when there is nothing to
 * answer, -1 when out is too small. */
int rmp_ump_stream_answer(const rmp_ump_endpoint *ep, const uint32_t *msg, unsigned len,
                          uint32_t *out, size_t cap);
/* Collects the text of Endpoint Name / Product Instance Id / Function Block
 * Name notifications (start, continue, end or complete) into buf (cap with
 * its NUL). Returns 1 when a text is complete in buf, 0 while collecting,
 * -1 for a message that is none of these. *len is kept between calls. */
int rmp_ump_stream_text(const uint32_t msg[4], char *buf, size_t cap, size_t *len);

#endif
