/* RTCP (RFC 3550 section 6): builders, a zero-copy parser for compound
 * packets, NTP/LSR/DLSR/RTT helpers and the transmission interval (6.3/A.7).
 *
 * Pure protocol code: no I/O, no clock reads, no random reads, no allocation.
 *
 * Building: each rmp_rtcp_build_*() writes one RTCP packet into a caller
 * buffer and returns its length (a multiple of 4) or a negative RMP_ERTCP_*
 * code; nothing is written past `cap`. Build a compound packet by calling
 * them one after another at increasing offsets (SR or RR first, then SDES
 * with CNAME, then BYE/APP as needed).
 *
 * Parsing (no callbacks, no allocation; results point into the caller's
 * buffer, which must outlive them):
 *
 *   int n = rmp_rtcp_validate_compound(buf, len);   // RFC 3550 A.2 checks
 *   if (n < 0) drop;
 *   rmp_rtcp_iter_t it; rmp_rtcp_hdr_t h;
 *   rmp_rtcp_iter_init(&it, buf, len);
 *   while (rmp_rtcp_iter_next(&it, &h) > 0) {
 *     switch (h.pt) {
 *     case RMP_RTCP_SR: case RMP_RTCP_RR: {
 *       rmp_rtcp_report_t r; rmp_rtcp_parse_report(&h, &r); ... }  // all RC (<= 31) blocks
 *     case RMP_RTCP_SDES: {
 *       rmp_rtcp_sdes_iter_t si; rmp_rtcp_sdes_item_t item; uint32_t ssrc;
 *       rmp_rtcp_sdes_init(&si, &h);
 *       while (rmp_rtcp_sdes_next(&si, &ssrc, &item) > 0) ... }      // every item, any type
 *     case RMP_RTCP_BYE: rmp_rtcp_parse_bye(&h, &bye); ...            // all SC (<= 31) SSRCs
 *     case RMP_RTCP_APP: rmp_rtcp_parse_app(&h, &app); ...
 *     default: skip (unknown types are walked over by their length)
 *     }
 *   }
 *
 * The per-type structs have fixed maxima equal to the protocol maxima (the
 * 5-bit count fields allow at most 31 report blocks / SSRCs), so nothing is
 * ever truncated. Per-type parsers check the body against the count and
 * return a negative code if it does not fit.
 */
#ifndef RTPMIDI_PROTO_RTCP_H
#define RTPMIDI_PROTO_RTCP_H

#include <stddef.h>
#include <stdint.h>

/* Error codes (negative; own range so they do not collide with other
 * modules' codes). */
enum {
  RMP_ERTCP_TRUNCATED = -101, /* buffer ends inside a header/body, or a length
                                 field points past the end */
  RMP_ERTCP_VERSION = -102,   /* version is not 2 */
  RMP_ERTCP_FIRST = -103,     /* compound does not start with SR or RR */
  RMP_ERTCP_PADDING = -104,   /* padding on a packet that is not the last, or
                                 a bad padding count */
  RMP_ERTCP_LENGTH = -105,    /* body too short for its count, or bad layout */
  RMP_ERTCP_NOSPACE = -106,   /* builder: output buffer too small */
  RMP_ERTCP_INVAL = -107,     /* builder: argument out of range */
  RMP_ERTCP_TYPE = -108,      /* per-type parser given another packet type */
  RMP_ERTCP_NORTT = -109      /* RTT not computable (LSR 0 or negative) */
};

/* A short description of an RMP_ERTCP_* code ("ok" for >= 0). */
const char *rmp_rtcp_strerror(int err);

/* Packet types. */
enum {
  RMP_RTCP_SR = 200,
  RMP_RTCP_RR = 201,
  RMP_RTCP_SDES = 202,
  RMP_RTCP_BYE = 203,
  RMP_RTCP_APP = 204
};

/* SDES item types. */
enum {
  RMP_SDES_END = 0,
  RMP_SDES_CNAME = 1,
  RMP_SDES_NAME = 2,
  RMP_SDES_EMAIL = 3,
  RMP_SDES_PHONE = 4,
  RMP_SDES_LOC = 5,
  RMP_SDES_TOOL = 6,
  RMP_SDES_NOTE = 7,
  RMP_SDES_PRIV = 8
};

#define RMP_RTCP_MAX_COUNT 31 /* 5-bit RC/SC field */

/* Sender info of an SR (RFC 3550 6.4.1). */
typedef struct rmp_rtcp_sender_info {
  uint64_t ntp;          /* NTP timestamp, 32.32 fixed point */
  uint32_t rtp_ts;       /* RTP timestamp matching ntp */
  uint32_t packet_count; /* sender's packet count */
  uint32_t octet_count;  /* sender's payload octet count */
} rmp_rtcp_sender_info_t;

/* One reception report block. */
typedef struct rmp_rtcp_rb {
  uint32_t ssrc;            /* source this block is about */
  uint8_t fraction_lost;    /* /256 */
  int32_t cumulative_lost;  /* 24-bit signed on the wire; builders clamp */
  uint32_t ext_highest_seq; /* extended highest sequence number received */
  uint32_t jitter;          /* interarrival jitter, RTP units */
  uint32_t lsr;             /* middle 32 bits of the last SR's NTP, 0 if none */
  uint32_t dlsr;            /* delay since last SR, 1/65536 s */
} rmp_rtcp_rb_t;

/* One parsed RTCP packet within a compound. */
typedef struct rmp_rtcp_hdr {
  uint8_t padding;      /* P bit */
  uint8_t count;        /* RC / SC / APP subtype (5 bits) */
  uint8_t pt;           /* packet type */
  const uint8_t *pkt;   /* the whole packet, header included */
  size_t pkt_len;       /* (length + 1) * 4 */
  const uint8_t *body;  /* after the 4-byte header */
  size_t body_len;      /* without the padding */
} rmp_rtcp_hdr_t;

/* Parsed SR or RR. */
typedef struct rmp_rtcp_report {
  uint8_t is_sr;
  uint32_t ssrc;              /* sender of this report */
  rmp_rtcp_sender_info_t si;  /* SR only (zero for RR) */
  unsigned n_rb;
  rmp_rtcp_rb_t rb[RMP_RTCP_MAX_COUNT];
  const uint8_t *ext;         /* profile-specific extension (may be empty) */
  size_t ext_len;
} rmp_rtcp_report_t;

/* An SDES item (data is not null-terminated). */
typedef struct rmp_rtcp_sdes_item {
  uint8_t type;
  uint8_t len;
  const uint8_t *data;
} rmp_rtcp_sdes_item_t;

/* Input to the SDES builder: one chunk. */
typedef struct rmp_rtcp_sdes_chunk {
  uint32_t ssrc;
  const rmp_rtcp_sdes_item_t *items;
  unsigned n_items;
} rmp_rtcp_sdes_chunk_t;

typedef struct rmp_rtcp_sdes_iter {
  const uint8_t *p;
  size_t len, off;
  unsigned chunks_left;
  uint8_t in_chunk;
  uint32_t ssrc;
} rmp_rtcp_sdes_iter_t;

typedef struct rmp_rtcp_bye {
  unsigned n_ssrc;
  uint32_t ssrc[RMP_RTCP_MAX_COUNT];
  uint8_t has_reason;
  uint8_t reason_len;
  const uint8_t *reason; /* not null-terminated */
} rmp_rtcp_bye_t;

typedef struct rmp_rtcp_app {
  uint8_t subtype;
  uint32_t ssrc;
  uint8_t name[4];
  const uint8_t *data;
  size_t data_len;
} rmp_rtcp_app_t;

typedef struct rmp_rtcp_iter {
  const uint8_t *buf;
  size_t len, off;
} rmp_rtcp_iter_t;

/* ---- Builders: return bytes written or RMP_ERTCP_NOSPACE/INVAL. ---- */

/* SR with n_rb (<= 31) report blocks. Length 28 + 24 * n_rb. */
int rmp_rtcp_build_sr(uint8_t *buf, size_t cap, uint32_t ssrc, const rmp_rtcp_sender_info_t *si,
                      const rmp_rtcp_rb_t *rbs, unsigned n_rb);

/* RR with n_rb (<= 31) report blocks (0 is valid: an empty RR). Length 8 + 24 * n_rb. */
int rmp_rtcp_build_rr(uint8_t *buf, size_t cap, uint32_t ssrc, const rmp_rtcp_rb_t *rbs,
                      unsigned n_rb);

/* SDES with n_chunks (<= 31) chunks; item types must be non-zero. Each chunk
 * is null-terminated and zero-padded to 32 bits. */
int rmp_rtcp_build_sdes(uint8_t *buf, size_t cap, const rmp_rtcp_sdes_chunk_t *chunks,
                        unsigned n_chunks);

/* SDES with one chunk: CNAME and, if tool is non-NULL, TOOL (C strings of at
 * most 255 bytes). */
int rmp_rtcp_build_sdes_cname(uint8_t *buf, size_t cap, uint32_t ssrc, const char *cname,
                              const char *tool);

/* BYE for n (<= 31) SSRCs, with an optional reason (C string <= 255 bytes, or NULL). */
int rmp_rtcp_build_bye(uint8_t *buf, size_t cap, const uint32_t *ssrcs, unsigned n,
                       const char *reason);

/* APP with a 5-bit subtype, 4-byte name and data (data_len a multiple of 4). */
int rmp_rtcp_build_app(uint8_t *buf, size_t cap, uint8_t subtype, uint32_t ssrc,
                       const uint8_t name[4], const uint8_t *data, size_t data_len);

/* ---- Parsing. ---- */

/* Parse one packet header at buf: checks version 2, that the length fits in
 * len, and the padding count. Returns the packet length (bytes consumed). */
int rmp_rtcp_parse_header(const uint8_t *buf, size_t len, rmp_rtcp_hdr_t *h);

/* RFC 3550 A.2 validation of a whole compound: every packet version 2, the
 * first one SR or RR, padding only on the last one, lengths summing exactly
 * to len. Returns len (bytes consumed) or a negative code. A single padded
 * SR/RR is accepted (it is also the last packet). */
int rmp_rtcp_validate_compound(const uint8_t *buf, size_t len);

/* Walk the packets of a compound (header checks only; validate first). */
void rmp_rtcp_iter_init(rmp_rtcp_iter_t *it, const uint8_t *buf, size_t len);

/* Next packet: returns its length (> 0) and fills *h, 0 at the end, or a
 * negative code (the iterator then stays at the bad packet). */
int rmp_rtcp_iter_next(rmp_rtcp_iter_t *it, rmp_rtcp_hdr_t *h);

/* SR or RR body. Returns 0 or a negative code. */
int rmp_rtcp_parse_report(const rmp_rtcp_hdr_t *h, rmp_rtcp_report_t *out);

/* Start walking the items of an SDES packet. Returns 0 or RMP_ERTCP_TYPE. */
int rmp_rtcp_sdes_init(rmp_rtcp_sdes_iter_t *it, const rmp_rtcp_hdr_t *h);

/* Next SDES item (any type except END) with its chunk's SSRC. Returns 1, 0
 * at the end, or a negative code for a malformed chunk. Chunks with no items
 * yield nothing. */
int rmp_rtcp_sdes_next(rmp_rtcp_sdes_iter_t *it, uint32_t *ssrc, rmp_rtcp_sdes_item_t *item);

/* BYE body. Returns 0 or a negative code. */
int rmp_rtcp_parse_bye(const rmp_rtcp_hdr_t *h, rmp_rtcp_bye_t *out);

/* APP body. Returns 0 or a negative code. */
int rmp_rtcp_parse_app(const rmp_rtcp_hdr_t *h, rmp_rtcp_app_t *out);

/* ---- Time helpers. ---- */

/* NTP timestamp (32.32, seconds since 1900, era wraps mod 2^32 s) from
 * microseconds since the Unix epoch (1970). */
uint64_t rmp_ntp_from_unix_us(uint64_t unix_us);

/* Middle 32 bits of an NTP timestamp (the LSR value / the "A" of 6.4.1). */
uint32_t rmp_ntp_mid32(uint64_t ntp);

/* A delay in microseconds as 1/65536 s units (for DLSR; saturates). */
uint32_t rmp_rtcp_dlsr_from_us(uint64_t delay_us);

/* 1/65536 s units to microseconds (rounded). */
uint64_t rmp_rtcp_units_to_us(uint32_t units);

/* Round-trip time of 6.4.1: A - LSR - DLSR in 1/65536 s, where A is the
 * middle 32 bits of the NTP time the report block arrived. Returns 0 and
 * stores *rtt, or RMP_ERTCP_NORTT if lsr is 0 (no SR received yet) or the
 * result would be negative (A - LSR < DLSR). */
int rmp_rtcp_rtt(uint32_t arrival_mid32, uint32_t lsr, uint32_t dlsr, uint32_t *rtt);

/* ---- Transmission interval (RFC 3550 6.3.1 / A.7). ---- */

/* Deterministic-plus-random interval between compound RTCP packets, in
 * microseconds:
 *   members        estimated session members including us (0 treated as 1)
 *   senders        active senders, including us if we sent
 *   rtcp_bw        RTCP bandwidth for all members, octets/s (<= 0: only the
 *                  minimum applies)
 *   we_sent        we sent data in the last two intervals
 *   avg_rtcp_size  average compound size in octets incl. UDP/IP headers
 *   initial        no RTCP sent yet: the minimum is halved
 *   min_interval_s minimum interval in seconds (<= 0: the RFC's 5 s)
 *   rand01         caller's uniform random number in [0, 1] (clamped); the
 *                  interval is multiplied by (rand01 + 0.5) and divided by
 *                  e - 1.5 = 1.21828 (timer reconsideration compensation). */
uint64_t rmp_rtcp_interval_us(uint32_t members, uint32_t senders, double rtcp_bw, int we_sent,
                              double avg_rtcp_size, int initial, double min_interval_s,
                              double rand01);

/* avg_rtcp_size update (6.3.3): avg + (packet_size - avg) / 16, where
 * packet_size includes UDP/IP headers. Call for every RTCP packet sent or
 * received. */
double rmp_rtcp_avg_size(double avg, size_t packet_size);

#endif
