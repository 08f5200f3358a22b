/* RTP fixed header (RFC 3550 section 5.1): encode and parse; the mapping of
 * a sender's RTP times to local ones. Pure: no I/O. */
#ifndef RMP_RTP_H
#define RMP_RTP_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define RMP_RTP_HEADER_LEN 12
#define RMP_RTP_MAX_CSRC 15

enum {
  RMP_ERTP_SHORT = -1,     /* fewer octets than the header says */
  RMP_ERTP_VERSION = -2,   /* version is not 2 */
  RMP_ERTP_PADDING = -3,   /* padding count is zero or larger than the packet */
  RMP_ERTP_RTCP = -4,      /* payload type 72..76: an RTCP packet on the RTP port */
};

typedef struct rmp_rtp_header {
  bool marker;
  bool padding;
  bool extension;
  uint8_t payload_type;   /* 0..127 */
  uint8_t csrc_count;
  uint16_t sequence;
  uint32_t timestamp;
  uint32_t ssrc;
  uint32_t csrc[RMP_RTP_MAX_CSRC];
  uint16_t ext_profile;    /* header extension, if any */
  uint16_t ext_words;      /* its length in 32-bit words */
  size_t payload_offset;   /* where the payload starts in the buffer */
  size_t payload_len;      /* payload length, padding excluded */
} rmp_rtp_header;

/* Parses the header of an RTP packet. Returns the payload offset (>= 12) or a
 * negative RMP_ERTP_* code. Never reads past len. */
int rmp_rtp_parse(const uint8_t *buf, size_t len, rmp_rtp_header *h);

/* Writes a 12-octet header (no CSRC, no extension, no padding) into buf. */
void rmp_rtp_write_header(uint8_t *buf, uint8_t payload_type, bool marker,
                          uint16_t sequence, uint32_t timestamp, uint32_t ssrc);

/* A readable name for an RMP_ERTP_* code. */
const char *rmp_rtp_strerror(int err);

/* Maps a sender's RTP times to local milliseconds. The anchor is the packet
 * that arrived with the least transit so far. Zero it to start. */
typedef struct rmp_ts_anchor {
  bool anchored;
  int64_t ext_ts;      /* the last packet's timestamp, unwrapped */
  uint32_t last_ts;
  int64_t anchor_ts;   /* ticks (unwrapped) that map to anchor_ms */
  double anchor_ms;
} rmp_ts_anchor;

/* A packet with timestamp ts arrived at now_ms; end_ticks is the time of its
 * last command after ts (the packet left no earlier than that). rate: the
 * RTP clock in Hz. Afterwards a->ext_ts is ts unwrapped. */
void rmp_ts_anchor_update(rmp_ts_anchor *a, uint32_t ts, uint32_t end_ticks, double now_ms,
                          double rate);

/* The local time, in ms, of an RTP time (ticks, unwrapped). */
double rmp_ts_anchor_local(const rmp_ts_anchor *a, int64_t ticks, double rate);

#endif
