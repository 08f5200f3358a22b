/* Network MIDI 2.0 (UDP) packet codec: "User Datagram Protocol for
 * Universal MIDI Packets", MIDI Association document M2-124-UM.
 *
 * Pure protocol code: libc only, no I/O, no clock, no allocation. Parsing
 * never reads past len and points into the caller's buffer (no copies).
 *
 * The specification needs a registration, so every fact here is taken from
 * public implementations and the comments name them:
 *   [Z] Zephyr, subsys/net/lib/midi2/netmidi2.c and include/zephyr/net/midi2.h
 *   [A] ALSA amidi2net (tiwai/amidi2net), packet.h, packet.c, common.c, auth.c
 *   [W] Windows MIDI Services (microsoft/MIDI),
 *       src/api/Transport/UdpNetworkMidi2Transport: MidiNetworkMessages.h,
 *       MidiNetworkDataWriter.cpp, MidiNetworkConnection.cpp, transport_defs.h
 *   [P] pymidi2 (titouanc/pymidi2), pymidi2/udp.py (same author as [Z])
 *
 * A datagram [Z][A][W]:
 *   "MIDI" (4 octets; [W] MIDI_UDP_PAYLOAD_HEADER 0x4D494449)
 *   then command packets, each:
 *   | code (8) | payload length in 32-bit words (8) | command-specific data (16, big-endian) |
 *   payload (length * 4 octets)
 * ([Z] sess_buf_add_header, [A] packet.h "command-code | payload-words |
 * data (16bit)", [W] InternalWriteCommandHeader).
 *
 * Commands (code: command-specific data; payload):
 *   01 Invitation            name words << 8 | capabilities; name, product instance id
 *   02 Invitation w/ auth    0; SHA-256 digest (8 words)                  [A] {8, 8}
 *   03 Invitation w/ user    0; digest (8 words), user name
 *   10 Accepted              name words << 8 | 0; name, product instance id
 *   11 Pending               as 10
 *   12 Auth Required         name words << 8 | state; nonce (16 octets, 4 words), name, piid
 *   13 User Auth Required    as 12
 *   20 Ping                  0; ping id (1 word)                          [A] {1, 1}, [Z] NAKs other lengths
 *   21 Ping Reply            0; the ping id
 *   80 Retransmit Request    sequence number; count << 16 (0: all)        [W] WriteCommandRetransmitRequest
 *   81 Retransmit Error      reason << 8; sequence number << 16           [A] cmd_fill_retransmit_err, [W]
 *   82 Session Reset         0; none
 *   83 Session Reset Reply   0; none
 *   8F NAK                   reason << 8; NAKed command header, text      ([A] uses 0x7F: accepted too)
 *   F0 Bye                   reason << 8; text
 *   F1 Bye Reply             0; none
 *   FF UMP Data              sequence number; 0-64 words of whole UMP     [W] MIDI_MAX_UMP_WORDS_PER_PACKET 64
 * Texts are UTF-8 padded with zero octets to a word; a reader stops at the
 * first zero ([W] ReadUtf8String). [Z] and [W] use ceil(len / 4) words, [A]
 * always adds a terminator ((len + 4) / 4): both are read; we write the former.
 */
#ifndef RTPMIDI_PROTO_MIDI2_H
#define RTPMIDI_PROTO_MIDI2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RMP_M2_PORT 5673          /* [Z] samples/net/midi2 MY_PORT */
#define RMP_M2_SIG_LEN 4
#define RMP_M2_HEADER_LEN 4
#define RMP_M2_MAX_DATAGRAM 1400  /* [W] MIDI_NETWORK_MAX_UDP_PAYLOAD_BYTES, [A] UMP_NET_MAX_BUF_SIZE */
#define RMP_M2_MAX_PAYLOAD_WORDS 255
#define RMP_M2_MAX_UMP_WORDS 64   /* [W] MIDI_MAX_UMP_WORDS_PER_PACKET, [A] {0, 64} */
#define RMP_M2_NONCE_LEN 16       /* [Z] NETMIDI2_NONCE_SIZE, [A] crypto_nonce[16] */
#define RMP_M2_DIGEST_LEN 32      /* [Z] NETMIDI2_DIGEST_SIZE (SHA-256) */
#define RMP_M2_NAME_MAX 98        /* [W] MIDI_MAX_UMP_ENDPOINT_NAME_BYTE_COUNT */
#define RMP_M2_PIID_MAX 42        /* [W] MIDI_MAX_UMP_PRODUCT_INSTANCE_ID_BYTE_COUNT */
#define RMP_M2_CRED_MAX 255       /* our bound on a secret, user name or password */
#define RMP_M2_TEXT_MAX 1016      /* NAK/Bye text we write: 254 words ([W] MIDI_MAX_NAK_MESSAGE_BYTE_COUNT) */

/* Command codes: [Z] COMMAND_*, [A] UMP_NET_*, [W] MidiNetworkCommandCode, [P] CommandCode. */
enum rmp_m2_code {
  RMP_M2_INVITATION = 0x01,
  RMP_M2_INVITATION_AUTH = 0x02,
  RMP_M2_INVITATION_USER_AUTH = 0x03,
  RMP_M2_ACCEPTED = 0x10,
  RMP_M2_PENDING = 0x11,
  RMP_M2_AUTH_REQUIRED = 0x12,
  RMP_M2_USER_AUTH_REQUIRED = 0x13,
  RMP_M2_PING = 0x20,
  RMP_M2_PING_REPLY = 0x21,
  RMP_M2_RETRANSMIT_REQUEST = 0x80,
  RMP_M2_RETRANSMIT_ERROR = 0x81,
  RMP_M2_SESSION_RESET = 0x82,
  RMP_M2_SESSION_RESET_REPLY = 0x83,
  RMP_M2_NAK = 0x8F,
  RMP_M2_BYE = 0xF0,
  RMP_M2_BYE_REPLY = 0xF1,
  RMP_M2_UMP_DATA = 0xFF
};
#define RMP_M2_NAK_ALSA 0x7F /* [A] UMP_NET_NAK: read as a NAK */

/* Capabilities of an Invitation (bitmap) [Z] CLIENT_CAP_*, [A], [W]. */
enum { RMP_M2_CAP_AUTH = 1 << 0, RMP_M2_CAP_USER_AUTH = 1 << 1 };
/* Authentication state of 12/13 [Z] AUTH_STATE_*, [A]. */
enum { RMP_M2_AUTH_FIRST = 0, RMP_M2_AUTH_INCORRECT = 1, RMP_M2_AUTH_USER_NOT_FOUND = 2 };
/* NAK reasons [Z] NAK_*, [A], [W]. */
enum {
  RMP_M2_NAK_OTHER = 0x00, RMP_M2_NAK_NOT_SUPPORTED = 0x01, RMP_M2_NAK_NOT_EXPECTED = 0x02,
  RMP_M2_NAK_MALFORMED = 0x03, RMP_M2_NAK_BAD_PING_REPLY = 0x20
};
/* Bye reasons [A] UMP_NET_BYE_REASON_*, [W] MidiNetworkCommandByeReason. */
enum {
  RMP_M2_BYE_UNKNOWN = 0x00, RMP_M2_BYE_USER_TERMINATED = 0x01, RMP_M2_BYE_POWER_DOWN = 0x02,
  RMP_M2_BYE_TOO_MANY_MISSING = 0x03, RMP_M2_BYE_TIMEOUT = 0x04, RMP_M2_BYE_NOT_ESTABLISHED = 0x05,
  RMP_M2_BYE_NO_PENDING = 0x06, RMP_M2_BYE_PROTOCOL_ERROR = 0x07,
  RMP_M2_BYE_TOO_MANY_SESSIONS = 0x40, RMP_M2_BYE_AUTH_MISSING_PRIOR = 0x41,
  RMP_M2_BYE_USER_DID_NOT_ACCEPT = 0x42, RMP_M2_BYE_AUTH_FAILED = 0x43,
  RMP_M2_BYE_USER_NOT_FOUND = 0x44, RMP_M2_BYE_NO_MATCHING_AUTH = 0x45,
  RMP_M2_BYE_INVITATION_CANCELED = 0x80
};
/* Retransmit Error reasons [A], [W]. */
enum { RMP_M2_RTX_UNKNOWN = 0, RMP_M2_RTX_NO_DATA = 1 };

/* Errors (negative). */
enum rmp_m2_err {
  RMP_M2_ETRUNC = -1,   /* shorter than a signature / header, or a payload runs past the end */
  RMP_M2_ESIG = -2,     /* no "MIDI" signature */
  RMP_M2_EUNKNOWN = -3, /* unknown command code (the command is skipped; fields are set) */
  RMP_M2_ELEN = -4,     /* wrong payload length for the command (skipped; fields are set) */
  RMP_M2_EUMP = -5,     /* UMP Data whose words are not whole messages (skipped) */
  RMP_M2_ENOSPACE = -6, /* encode: does not fit */
  RMP_M2_EINVAL = -7    /* encode: bad field (text too long, unknown code, ...) */
};

/* A text inside a packet: not NUL-terminated; trailing zero padding removed. */
typedef struct rmp_m2_str {
  const char *p;
  size_t len;
} rmp_m2_str;

typedef struct rmp_m2_cmd {
  uint8_t code;      /* enum rmp_m2_code (a received 0x7F NAK reads as 0x8F) */
  uint8_t words;     /* payload length as received (encode: computed) */
  uint16_t data;     /* command-specific data as received (encode: computed) */
  uint32_t header;   /* the header word as received, for a NAK */
  const uint8_t *payload; /* the payload as received */
  union {
    struct { uint8_t caps; rmp_m2_str name, piid; } inv;       /* 01, 10, 11 */
    struct { uint8_t state; const uint8_t *nonce; rmp_m2_str name, piid; } req; /* 12, 13 */
    struct { const uint8_t *digest; rmp_m2_str user; } auth;   /* 02, 03 */
    struct { uint32_t id; } ping;                              /* 20, 21 */
    struct { uint16_t seq, count; } rtx;                       /* 80 */
    struct { uint8_t reason; uint16_t seq; } rtx_err;          /* 81 */
    struct { uint8_t reason; uint32_t header; rmp_m2_str text; } nak; /* 8F */
    struct { uint8_t reason; rmp_m2_str text; } bye;           /* F0 */
    struct {
      uint16_t seq;
      uint8_t nwords;
      const uint8_t *be;     /* parse: big-endian words in the packet */
      const uint32_t *words; /* encode: host-order words (NULL: use be) */
    } ump;                                                     /* FF */
  } u;
} rmp_m2_cmd;

/* 0 when buf starts with "MIDI", RMP_M2_ETRUNC / RMP_M2_ESIG otherwise. */
int rmp_m2_check(const uint8_t *buf, size_t len);

/* Reads the command packets after the signature. */
typedef struct rmp_m2_reader {
  const uint8_t *p;
  size_t len, off;
} rmp_m2_reader;
/* Checks the signature (as rmp_m2_check) and starts after it. */
int rmp_m2_reader_init(rmp_m2_reader *r, const uint8_t *buf, size_t len);
/* 1: *c is the next command; 0: end of the datagram; < 0: enum rmp_m2_err
 * for this command. After ETRUNC the reader is at the end; after EUNKNOWN,
 * ELEN or EUMP it is past the command (code, words, data, header set). */
int rmp_m2_read(rmp_m2_reader *r, rmp_m2_cmd *c);

/* Writes "MIDI" (4). */
int rmp_m2_write_sig(uint8_t *buf, size_t cap);
/* Octets the command takes (header + payload), or RMP_M2_EINVAL. */
int rmp_m2_cmd_size(const rmp_m2_cmd *c);
/* Writes one command packet from the fields of u (words/data are computed;
 * an unknown code is written with c->data and c->payload[0 .. 4*c->words)).
 * Returns the octets written or RMP_M2_ENOSPACE / RMP_M2_EINVAL. */
int rmp_m2_write(uint8_t *buf, size_t cap, const rmp_m2_cmd *c);

/* Builds a datagram: the signature, then commands while they fit. */
typedef struct rmp_m2_writer {
  uint8_t *buf;
  size_t cap, len;
} rmp_m2_writer;
int rmp_m2_writer_init(rmp_m2_writer *w, uint8_t *buf, size_t cap);
/* 0, or RMP_M2_ENOSPACE (nothing written) / RMP_M2_EINVAL. */
int rmp_m2_writer_add(rmp_m2_writer *w, const rmp_m2_cmd *c);

/* A str from a C string (NULL: empty). */
rmp_m2_str rmp_m2_cstr(const char *s);

/* SHA-256 of data[0..len) into out: 0 on success. Given by the caller
 * (csrc/proto has no crypto); the runtime and the tests use libcrypto. */
typedef int (*rmp_m2_sha256_fn)(void *ctx, const uint8_t *data, size_t len, uint8_t out[32]);
/* The authentication digest: SHA-256(nonce || secret) for shared-secret
 * authentication, SHA-256(nonce || user || password) for user
 * authentication (password != NULL), the octets of the texts without any
 * terminator ([Z] netmidi2_auth_session: hash_update(nonce), then the
 * secret, or the user name then the password; [A] auth_sha256_digest and
 * user_auth_sha256_digest: EVP_DigestUpdate(nonce, 16), then the same).
 * Returns 0, RMP_M2_EINVAL (a text over RMP_M2_CRED_MAX) or the hash's error. */
int rmp_m2_digest(rmp_m2_sha256_fn fn, void *ctx, const uint8_t nonce[16], const char *secret_or_user,
                  size_t a_len, const char *password, size_t b_len, uint8_t out[32]);

/* Names for diagnostics ("Invitation", ...; "unknown"). */
const char *rmp_m2_code_name(uint8_t code);
const char *rmp_m2_strerror(int err);

static inline int16_t rmp_m2_seq_diff(uint16_t a, uint16_t b) { return (int16_t)(uint16_t)(a - b); }

#endif
