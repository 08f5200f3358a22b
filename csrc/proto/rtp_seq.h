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
 *   rmp_seq_set_hold(&s, reorder_wait_us);      // how long a jump waits (below)
 *   ...
 *   uint32_t ext;
 *   int r = rmp_seq_receive(&s, seq, rtp_ts, now_us, clock_rate, &ext);
 *   if (r == RMP_SEQ_HELD || r == RMP_SEQ_BAD) keep[s.held_slot] = copy (replacing);
 *   if (r == RMP_SEQ_RESYNC) flush/reset downstream state (s.undo: see below);
 *   if (r == RMP_SEQ_VALID || r == RMP_SEQ_MISORDERED || r == RMP_SEQ_RESYNC)
 *     for each release (s.release[0 .. s.n_release), ascending):
 *       deliver keep[slot] with its ext, before this packet when `before`;
 *     deliver(this, ext);
 *   ... when rmp_seq_hold_deadline() passes: rmp_seq_hold_expire(), then
 *       deliver the releases the same way
 *   rmp_seq_report_t rep; rmp_seq_report(&s, &rep);  // once per RTCP report
 *
 * Held jumps (a hostile network; not in A.1). A.1 takes any forward jump
 * below MAX_DROPOUT at once: one packet forged with the peer's SSRC and a
 * sequence number a little ahead (the peer's address is easy to forge on a
 * LAN, its SSRC is on the wire) would move the highest number, and every
 * real packet after it would be "misordered", late for a reorder buffer:
 * muted. Here a packet more than one ahead of the highest is held (HELD,
 * in one of RMP_SEQ_HOLDS slots; a very large jump is BAD as in A.1 and
 * held in slot RMP_SEQ_HOLDS) and counts only when
 *   - another packet ahead lands within RMP_SEQ_MAX_REORDER of it (a loss:
 *     the packets after it corroborate it; for a very large jump only its
 *     successor does, A.1's resync), or
 *   - the current run reaches the number just before it and it was at most
 *     MAX_REORDER ahead when it came (it was reordered); one farther ahead
 *     is then dropped: the real packet of that number comes in its turn, or
 *   - (rmp_seq_set_hold) its wait ran out while the run stood still: a real
 *     loss followed by silence. The jump is then taken on trust ("tentative")
 *     and undone when two packets in a row come from the run it left (from
 *     the old highest up): RESYNC, with s.undo set and s.undo_last the last
 *     number of that run before the jump, so that a journal receiver sees a
 *     loss from there instead of a new start. A wait of 0 takes every jump
 *     at once on trust (nothing waits, as a reorder buffer of 0).
 * What a single forged packet can do is then: be delivered (nothing tells
 * it from the peer's without authentication) -- at worst in place of a real
 * packet when it guessed a number within MAX_REORDER of the stream's -- but
 * not hold back the real stream. Two consecutive forged packets (which
 * needs the sequence numbers: a sniffer) are a confirmed loss, as A.1 takes
 * two for a resync.
 */
#ifndef RTPMIDI_PROTO_RTP_SEQ_H
#define RTPMIDI_PROTO_RTP_SEQ_H

#include <stdbool.h>
#include <stdint.h>

/* RFC 3550 A.1 constants. */
#define RMP_SEQ_MIN_SEQUENTIAL 2u   /* packets in sequence before a source is valid */
#define RMP_SEQ_MAX_DROPOUT 3000u   /* largest forward jump accepted as loss */
#define RMP_SEQ_MAX_MISORDER 100u   /* largest backward step accepted as misorder */
#define RMP_SEQ_MOD 65536u
/* Held jumps (above): packets this close corroborate each other; a held
 * packet at most this far ahead is taken as reordered when the run reaches
 * it. */
#define RMP_SEQ_MAX_REORDER 16u
/* Slots for packets held ahead (plus one for a very large jump). */
#define RMP_SEQ_HOLDS 8u
/* rmp_seq_set_hold: held jumps never expire by time (the default). */
#define RMP_SEQ_HOLD_FOREVER UINT64_MAX

/* Result of rmp_seq_update()/rmp_seq_receive(). Non-negative: these are
 * classifications, not errors. A packet "counts" (is included in received
 * and may be delivered) for VALID, MISORDERED and RESYNC. */
enum {
  RMP_SEQ_VALID = 0,      /* the next in sequence (or a confirmed jump): new highest */
  RMP_SEQ_MISORDERED = 1, /* at or behind the highest (duplicate or reordered); counted
                             as received as in A.1; *ext_seq gives its place */
  RMP_SEQ_RESYNC = 2,     /* second packet in sequence after a large jump (A.1 bad_seq
                             logic), or the run left by a jump taken on trust going on:
                             state was re-initialised; ext numbering restarts at this
                             seq with cycles 0 -- reset any reorder buffer and what
                             follows the sequence (a journal receiver) */
  RMP_SEQ_PROBATION = 3,  /* source not yet valid; packet should be discarded */
  RMP_SEQ_BAD = 4,        /* very large jump: held (the A.1 bad_seq); a resync if the
                             next packet is its successor */
  RMP_SEQ_HELD = 5,       /* a forward jump (2 .. MAX_DROPOUT - 1 ahead): held in slot
                             held_slot until confirmed (above); *ext_seq is the place
                             it would take */
  RMP_SEQ_HELD_DUP = 6    /* a copy of a packet held: a duplicate, drop it */
};

/* A held packet that counts now (after an update or rmp_seq_hold_expire). */
typedef struct rmp_seq_release {
  uint32_t ext;            /* its extended sequence number */
  uint8_t slot;            /* the slot its copy was kept in */
  uint8_t before;          /* deliver it before the packet just classified */
} rmp_seq_release;

typedef struct rmp_seq_hold {
  uint8_t used;
  uint8_t reordered;       /* it came after a higher one held */
  uint16_t seq;
  uint16_t dist;           /* how far ahead of the highest it came */
  uint16_t max_then;       /* the highest then */
  uint64_t at_us;          /* when it came (rmp_seq_receive) */
} rmp_seq_hold;

typedef struct rmp_seq {
  uint16_t max_seq;        /* highest seq number seen */
  uint32_t cycles;         /* count of seq wraps, shifted left 16 */
  uint32_t base_seq;       /* first seq of the valid run */
  uint32_t bad_seq;        /* the very large jump held, + 1 (A.1 bad_seq), or
                             RMP_SEQ_MOD + 1 */
  uint32_t probation;      /* sequential packets still needed */
  uint32_t min_sequential; /* configured probation length (>= 1) */
  uint32_t received;       /* packets received (counted ones) */
  uint32_t expected_prior; /* expected at last report */
  uint32_t received_prior; /* received at last report */
  uint32_t transit;        /* relative transit time of previous packet (RTP units) */
  uint32_t jitter;         /* jitter estimate, scaled by 16 (A.8 integer form) */
  uint8_t started;         /* a packet has been seen */
  uint8_t have_transit;    /* transit holds a value */
  /* held jumps */
  rmp_seq_hold held[RMP_SEQ_HOLDS + 1]; /* the last: a very large jump (A.1 bad_seq) */
  uint8_t n_held;          /* slots of held[] in use: 0 spares the in-order path its scans */
  uint8_t held_slot;       /* HELD/BAD: where it went */
  uint8_t n_release;       /* what counts now (see rmp_seq_release), ascending */
  rmp_seq_release release[RMP_SEQ_HOLDS + 1];
  uint8_t tentative;       /* the last jump was taken on trust (its wait ran out) */
  uint8_t old_last_valid;  /* tentative: a packet of the run it left came */
  uint16_t old_next;       /* tentative: the next number of the run it left */
  uint16_t old_last;       /* ... and the last of that run that came since */
  uint8_t undo;            /* the last RESYNC undid a jump taken on trust ... */
  uint16_t undo_last;      /* ... and the run goes on after this number */
  uint64_t hold_us;        /* how long a held jump waits (RMP_SEQ_HOLD_FOREVER) */
  uint64_t arrival_us;     /* the packet being classified (rmp_seq_receive) */
  uint64_t held_dropped;   /* held packets that never counted (replaced, dropped) */
  uint64_t held_duplicates; /* HELD_DUP */
  uint64_t reordered;      /* counted packets that came after a higher one held */
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

/* A.1 update_seq for one received seq, with held jumps (above). Returns an
 * RMP_SEQ_* classification and, if ext_seq is non-NULL, stores the packet's
 * 32-bit extended sequence number (for MISORDERED, its place behind the
 * highest; for HELD, the place it would take; for PROBATION/BAD,
 * cycles+seq). Held jumps do not expire by time here (no time given). */
int rmp_seq_update(rmp_seq_t *s, uint16_t seq, uint32_t *ext_seq);

/* How long a held forward jump waits (from its arrival, as given to
 * rmp_seq_receive) for a packet that confirms it; RMP_SEQ_HOLD_FOREVER (the
 * default) keeps it until one comes; 0 takes every jump at once, on trust.
 * A reorder buffer's wait is the natural value: a loss then costs what it
 * costs without held jumps. */
void rmp_seq_set_hold(rmp_seq_t *s, uint64_t hold_us);
/* When the held jump's wait runs out; false when none waits with a limit. */
bool rmp_seq_hold_deadline(const rmp_seq_t *s, uint64_t *at);
/* At now: held jumps whose wait ran out are taken on trust (the run stood
 * still since: see above) or dropped (it went on). Returns true when one
 * counts now: s.release[0] says which (deliver its copy). Call until false. */
bool rmp_seq_hold_expire(rmp_seq_t *s, uint64_t now_us);

/* A.8: update the interarrival jitter with one packet's RTP timestamp and its
 * arrival time. The first call only records the transit time. */
void rmp_seq_jitter(rmp_seq_t *s, uint32_t rtp_ts, uint64_t arrival_us, uint32_t clock_rate);

/* rmp_seq_update() and, if the packet counts (VALID/MISORDERED/RESYNC), the
 * jitter update. On RESYNC the jitter transit baseline is restarted. A
 * held packet's arrival time starts its wait (rmp_seq_set_hold). */
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
