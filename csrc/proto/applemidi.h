/* AppleMIDI session protocol ("Apple Network MIDI") packet codec.
 *
 * Pure protocol code: libc only, no I/O, no clock reads, no allocation.
 * All multi-octet fields are big-endian (network order).
 *
 * Every AppleMIDI command packet starts with a 4-octet header:
 *
 *   0      1      2      3
 *   +------+------+------+------+
 *   | 0xFF | 0xFF |  c1  |  c2  |   signature 0xFFFF, command = two ASCII chars
 *   +------+------+------+------+
 *
 * Commands handled here (P = control port, P+1 = data port):
 *
 *   IN/OK/NO (invitation / accepted / rejected), sent on P and on P+1:
 *     header(4) | version u32 (=2) | initiator token u32 | SSRC u32 |
 *     [name: UTF-8, NUL-terminated, optional]          -> 16 octets + name
 *   BY (end session): header(4) | version u32 | token u32 | SSRC u32 -> 16
 *     (node-rtpmidi 1.0.0 appends a NUL-terminated name; octets after the
 *     first 16 are ignored by the parser)
 *   CK (clock sync), on P+1:
 *     header(4) | SSRC u32 | count u8 | padding 3 octets |
 *     timestamp1 u64 | timestamp2 u64 | timestamp3 u64          -> 36
 *     Timestamps are in units of 100 microseconds (10 kHz clock).
 *     count 0: initiator fills ts1; count 1: responder fills ts2;
 *     count 2: initiator fills ts3.
 *   RS (receiver feedback), on P:
 *     header(4) | SSRC u32 | seq u32                              -> 12
 *     Apple places the 16-bit RTP sequence number of the last packet
 *     received in the HIGH 16 bits of the 32-bit field; the low 16 bits are
 *     zero.  Decoded as seq = field >> 16; encoded as seq << 16.
 *
 * Other commands (e.g. RL, "receive bit-rate limit", 0x524C) are reported as
 * RMP_EAUNKNOWN with rmp_am_packet.cmd still set, so callers can count them.
 */
#ifndef RTPMIDI_PROTO_APPLEMIDI_H
#define RTPMIDI_PROTO_APPLEMIDI_H

#include <stddef.h>
#include <stdint.h>

#define RMP_AM_SIGNATURE 0xFFFFu
#define RMP_AM_VERSION 2u
/* Longest session name accepted/produced, in octets, NOT counting the NUL. */
#define RMP_AM_NAME_MAX 64
#define RMP_AM_HEADER_LEN 4
#define RMP_AM_INVITE_LEN 16 /* IN/OK/NO without name; BY */
#define RMP_AM_CK_LEN 36
#define RMP_AM_RS_LEN 12
/* Largest packet rmp_am_encode*() can produce (invitation + 64-octet name + NUL). */
#define RMP_AM_MAX_LEN (RMP_AM_INVITE_LEN + RMP_AM_NAME_MAX + 1)

/* Command codes: first ASCII char in the high octet. */
enum rmp_am_cmd {
  RMP_AM_IN = 0x494E, /* 'I''N' invitation */
  RMP_AM_OK = 0x4F4B, /* 'O''K' invitation accepted */
  RMP_AM_NO = 0x4E4F, /* 'N''O' invitation rejected */
  RMP_AM_BY = 0x4259, /* 'B''Y' end of session */
  RMP_AM_CK = 0x434B, /* 'C''K' clock synchronisation */
  RMP_AM_RS = 0x5253, /* 'R''S' receiver feedback */
  RMP_AM_RL = 0x524C  /* 'R''L' bit-rate limit: recognised by name only, parsed as unknown */
};

/* Error codes (all negative). */
enum rmp_am_err {
  RMP_EATRUNC = -1,     /* shorter than the 4-octet header */
  RMP_EASIG = -2,       /* signature is not 0xFFFF */
  RMP_EAUNKNOWN = -3,   /* command not supported (packet.cmd is set) */
  RMP_EALEN = -4,       /* wrong length for the command */
  RMP_EANAMETRUNC = -5, /* name has no NUL within the packet */
  RMP_EANAMELONG = -6,  /* name longer than RMP_AM_NAME_MAX octets */
  RMP_EACKCOUNT = -7,   /* CK count is not 0, 1 or 2 */
  RMP_EABUF = -8,       /* encode: output buffer too small */
  RMP_EAINVAL = -9,     /* bad argument (NULL pointer, wrong command, ...) */
  RMP_EACKTIME = -10    /* CK: timestamp3 earlier than timestamp1 */
};

/* IN, OK, NO. */
typedef struct rmp_am_invite {
  uint32_t version; /* 2 for Apple; reported, not enforced */
  uint32_t token;   /* initiator token */
  uint32_t ssrc;
  int has_name;     /* 0: packet ended after SSRC (16 octets) */
  size_t name_len;  /* octets before the NUL, <= RMP_AM_NAME_MAX */
  char name[RMP_AM_NAME_MAX + 1]; /* NUL-terminated copy ("" if none) */
} rmp_am_invite;

/* BY. */
typedef struct rmp_am_bye {
  uint32_t version;
  uint32_t token;
  uint32_t ssrc;
} rmp_am_bye;

/* CK. */
typedef struct rmp_am_ck {
  uint32_t ssrc;
  uint8_t count;       /* 0, 1 or 2 */
  uint8_t padding[3];  /* as received; encoded as zero */
  uint64_t ts[3];      /* ts[0] = timestamp1 ... ts[2] = timestamp3, 100 us units */
} rmp_am_ck;

/* RS. */
typedef struct rmp_am_rs {
  uint32_t ssrc;
  uint16_t seq;  /* RTP sequence number = high 16 bits of the field */
  uint32_t raw;  /* the whole 32-bit field as received */
} rmp_am_rs;

typedef struct rmp_am_packet {
  uint16_t cmd; /* enum rmp_am_cmd, or the raw code of an unknown command */
  union {
    rmp_am_invite inv; /* cmd IN, OK, NO */
    rmp_am_bye by;     /* cmd BY */
    rmp_am_ck ck;      /* cmd CK */
    rmp_am_rs rs;      /* cmd RS */
  } u;
} rmp_am_packet;

/* Result of a completed CK exchange (see rmp_am_ck_compute). */
typedef struct rmp_am_ck_result {
  uint64_t rtt;     /* ts3 - ts1 */
  uint64_t latency; /* one-way estimate: rtt / 2 (truncated) */
  int64_t offset;   /* responder clock - initiator clock: ts2 - (ts1 + rtt/2) */
} rmp_am_ck_result;

/* 1 if buf starts with the AppleMIDI signature 0xFFFF (len >= 2), else 0.
 * RTP packets start with 0x80.., so this demultiplexes the data port. */
int rmp_am_is_applemidi(const uint8_t *buf, size_t len);

/* Parse one AppleMIDI packet. Returns octets consumed (> 0) or a negative
 * enum rmp_am_err. Never reads buf[len] or beyond. out is always written
 * (zeroed first); on RMP_EAUNKNOWN out->cmd holds the unknown code.
 * Octets after the NUL of an IN/OK/NO name and after the 16 octets of BY are
 * ignored (not counted as consumed); CK must be exactly 36 and RS exactly 12. */
int rmp_am_parse(const uint8_t *buf, size_t len, rmp_am_packet *out);

/* Encode IN, OK or NO (cmd) with version 2. name may be NULL (no name field)
 * or a NUL-terminated UTF-8 string; names longer than RMP_AM_NAME_MAX octets
 * are cut at the last UTF-8 character boundary that fits. Returns octets
 * written or RMP_EABUF / RMP_EAINVAL. */
int rmp_am_encode_invite(uint8_t *buf, size_t cap, uint16_t cmd, uint32_t token,
                         uint32_t ssrc, const char *name);

/* Encode BY (version 2, 16 octets). */
int rmp_am_encode_bye(uint8_t *buf, size_t cap, uint32_t token, uint32_t ssrc);

/* Encode CK (36 octets); count must be 0..2; ts[3] are the three timestamps. */
int rmp_am_encode_ck(uint8_t *buf, size_t cap, uint32_t ssrc, uint8_t count,
                     const uint64_t ts[3]);

/* Encode RS (12 octets) with seq in the high 16 bits of the field. */
int rmp_am_encode_rs(uint8_t *buf, size_t cap, uint32_t ssrc, uint16_t seq);

/* Encode any supported packet from a decoded struct (IN/OK/NO keep their
 * version field; BY keeps its version; RS writes rs.seq << 16). */
int rmp_am_encode(uint8_t *buf, size_t cap, const rmp_am_packet *pkt);

/* Offset and latency from a completed exchange (ck->count == 2), where
 * ts1, ts3 are on the initiator's clock and ts2 on the responder's:
 *   rtt     = ts3 - ts1
 *   latency = rtt / 2                      (one-way, integer division)
 *   offset  = ts2 - (ts1 + rtt / 2)        (responder clock - initiator clock)
 * so responder_time ~= initiator_time + offset. The responder uses -offset.
 * Returns 0, RMP_EACKCOUNT (count != 2), RMP_EACKTIME (ts3 < ts1, or the
 * offset does not fit int64) or RMP_EAINVAL (NULL). */
int rmp_am_ck_compute(const rmp_am_ck *ck, rmp_am_ck_result *res);

/* Two-letter name of a command ("IN", ..., "RL") or "unknown". */
const char *rmp_am_cmd_name(uint16_t cmd);

/* Short description of an rmp_am_err code ("ok" for >= 0). */
const char *rmp_am_strerror(int err);

#endif
