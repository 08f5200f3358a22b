/* Per-source RTP sequence tracking and reception statistics
 * (RFC 3550 appendix A.1 validity/probation, A.3 loss, A.8 jitter).
 *
 * Pure protocol code: no I/O, no clock, no allocation. The caller passes the
 * arrival time in microseconds (any monotonic epoch; only differences matter)
 * and the media clock rate.
 *
 * Typical use for one remote SSRC:
 *
 *   rmp_seq_t s;
 *   rmp_seq_init(&s, RMP_SEQ_MIN_SEQUENTIAL);   // or 1 to accept the first packet
 *   ...
 *   uint32_t ext;
 *   int r = rmp_seq_receive(&s, seq, rtp_ts, now_us, clock_rate, &ext);
 *   if (r == RMP_SEQ_VALID || r == RMP_SEQ_MISORDERED) deliver(ext, ...);
 *   if (r == RMP_SEQ_RESYNC) { flush/reset downstream state, then deliver }
 *   ...
 *   rmp_seq_report_t rep; rmp_seq_report(&s, &rep);  // once per RTCP report
 */
#ifndef RTPMIDI_PROTO_RTP_SEQ_H
#define RTPMIDI_PROTO_RTP_SEQ_H

#include <stdint.h>

/* RFC 3550 A.1 constants. */
#define RMP_SEQ_MIN_SEQUENTIAL 2u   /* packets in sequence before a source is valid */
#define RMP_SEQ_MAX_DROPOUT 3000u   /* largest forward jump accepted as loss */
#define RMP_SEQ_MAX_MISORDER 100u   /* largest backward step accepted as misorder */
#define RMP_SEQ_MOD 65536u

/* Result of rmp_seq_update()/rmp_seq_receive(). Non-negative: these are
 * classifications, not errors. A packet "counts" (is included in received
 * and may be delivered) for VALID, MISORDERED and RESYNC. */
enum {
  RMP_SEQ_VALID = 0,      /* in sequence or forward jump < MAX_DROPOUT: new highest */
  RMP_SEQ_MISORDERED = 1, /* at or behind the highest (duplicate or reordered); counted
                             as received as in A.1; *ext_seq gives its place */
  RMP_SEQ_RESYNC = 2,     /* second packet in sequence after a large jump: state was
                             re-initialised (A.1 bad_seq logic); ext numbering restarts
                             at this seq with cycles 0 — reset any reorder buffer */
  RMP_SEQ_PROBATION = 3,  /* source not yet valid; packet should be discarded */
  RMP_SEQ_BAD = 4         /* very large jump; packet discarded (remembered as bad_seq) */
};

typedef struct rmp_seq {
  uint16_t max_seq;        /* highest seq number seen */
  uint32_t cycles;         /* count of seq wraps, shifted left 16 */
  uint32_t base_seq;       /* first seq of the valid run */
  uint32_t bad_seq;        /* last 'bad' seq + 1 (RMP_SEQ_MOD + 1 = none) */
  uint32_t probation;      /* sequential packets still needed */
  uint32_t min_sequential; /* configured probation length (>= 1) */
  uint32_t received;       /* packets received (counted ones) */
  uint32_t expected_prior; /* expected at last report */
  uint32_t received_prior; /* received at last report */
  uint32_t transit;        /* relative transit time of previous packet (RTP units) */
  uint32_t jitter;         /* jitter estimate, scaled by 16 (A.8 integer form) */
  uint8_t started;         /* a packet has been seen */
  uint8_t have_transit;    /* transit holds a value */
} rmp_seq_t;

/* Numbers for one RTCP report block (RFC 3550 6.4.1); SSRC, LSR and DLSR are
 * the caller's. */
typedef struct rmp_seq_report {
  uint8_t fraction_lost;    /* lost since last report, fixed point /256 */
  int32_t cumulative_lost;  /* clamped to 24-bit signed [-0x800000, 0x7fffff] */
  uint32_t ext_highest_seq; /* cycles + max_seq */
  uint32_t jitter;          /* interarrival jitter in RTP timestamp units */
  uint32_t expected;        /* packets expected since the start (informational) */
  uint32_t received;        /* packets received since the start (informational) */
} rmp_seq_report_t;

/* Reset to "no packet seen". min_sequential is the probation length
 * (RMP_SEQ_MIN_SEQUENTIAL per RFC; 0 or 1 accepts the first packet at once,
 * useful when the session handshake already validated the peer). */
void rmp_seq_init(rmp_seq_t *s, unsigned min_sequential);

/* A.1 update_seq for one received seq. Returns an RMP_SEQ_* classification and,
 * if ext_seq is non-NULL, stores the packet's 32-bit extended sequence number
 * (for MISORDERED, its place behind the highest; for PROBATION/BAD, cycles+seq). */
int rmp_seq_update(rmp_seq_t *s, uint16_t seq, uint32_t *ext_seq);

/* A.8: update the interarrival jitter with one packet's RTP timestamp and its
 * arrival time. The first call only records the transit time. */
void rmp_seq_jitter(rmp_seq_t *s, uint32_t rtp_ts, uint64_t arrival_us, uint32_t clock_rate);

/* rmp_seq_update() and, if the packet counts (VALID/MISORDERED/RESYNC), the
 * jitter update. On RESYNC the jitter transit baseline is restarted. */
int rmp_seq_receive(rmp_seq_t *s, uint16_t seq, uint32_t rtp_ts, uint64_t arrival_us,
                    uint32_t clock_rate, uint32_t *ext_seq);

/* Arrival time in RTP timestamp units (mod 2^32) for a clock rate in Hz. */
uint32_t rmp_seq_us_to_rtp(uint64_t arrival_us, uint32_t clock_rate);

/* cycles + max_seq (the extended highest sequence number received). */
uint32_t rmp_seq_ext_max(const rmp_seq_t *s);

/* Packets expected since the start: ext_max - base_seq + 1 (0 before valid). */
uint32_t rmp_seq_expected(const rmp_seq_t *s);

/* Cumulative lost (expected - received), clamped to 24-bit signed. */
int32_t rmp_seq_cumulative_lost(const rmp_seq_t *s);

/* Jitter estimate in RTP timestamp units. */
uint32_t rmp_seq_jitter_value(const rmp_seq_t *s);

/* Fill a report block's numbers (A.3) and start a new reporting interval
 * (advances expected_prior/received_prior, so call once per report sent). */
void rmp_seq_report(rmp_seq_t *s, rmp_seq_report_t *out);

#endif
