/* Reorder ("jitter") buffer for RTP packets keyed by 32-bit extended
 * sequence numbers. Pure protocol code: no I/O, no clock reads (the caller
 * passes times in microseconds), no allocation (the caller provides the slot
 * array at init, or uses the buffer's own RMP_JB_INLINE slots).
 *
 * Semantics
 *  - The first packet pushed sets the starting point: it is the next packet
 *    to release.
 *  - Packets are released strictly in sequence order by rmp_jb_pop().
 *  - A packet whose predecessors have all been released (or declared lost) is
 *    released at once: push returns RMP_JB_READY and the next pop returns it.
 *    The in-order path is O(1) and never waits.
 *  - A packet waits at most wait_us (from its arrival) for missing
 *    predecessors. When the wait of a buffered packet runs out, every gap
 *    before it is declared lost and the packets up to it are released; the
 *    released packet after a gap carries lost_before = the number of
 *    sequence numbers declared lost just before it (so the caller can e.g.
 *    set read_recovery_journal in RFC 6295).
 *  - The window is [next, next + capacity). A packet beyond it means the
 *    buffer is full: the oldest gap(s) are declared lost to make room. If no
 *    buffered packet lies below the new window, this happens inside push and
 *    the packet is accepted. Otherwise push returns RMP_EJB_FULL without
 *    taking the packet and marks the buffered packets below the new window
 *    as due (their gaps declared lost): pop until it returns 0, then push
 *    the same packet again; the second push cannot return RMP_EJB_FULL.
 *  - A packet already buffered or already released is RMP_EJB_DUPLICATE
 *    (released ones are recognised while they are within `capacity` behind
 *    the release point; older ones are reported as RMP_EJB_LATE).
 *  - A packet whose place was already released or declared lost is
 *    RMP_EJB_LATE.
 *  - Extended numbers are compared with serial arithmetic (mod 2^32), so the
 *    buffer works across 65535 -> 65536 and across 0xFFFFFFFF -> 0, as long as
 *    the caller passes extended numbers (e.g. from rmp_seq_update()). If the
 *    sequence tracker reports RMP_SEQ_RESYNC, flush and reset the buffer.
 *
 * Ownership of the opaque data pointer
 *  - rmp_jb_push() >= 0 (QUEUED/READY): the buffer holds the pointer; it is
 *    handed back exactly once by rmp_jb_pop() or rmp_jb_flush().
 *  - rmp_jb_push() < 0 (DUPLICATE/LATE/FULL/INVAL): the buffer did NOT take
 *    the pointer; the caller still owns it and must free/reuse it.
 *  - On stop: call rmp_jb_flush() until it returns 0 to get every buffered
 *    pointer back, then rmp_jb_reset().
 */
#ifndef RTPMIDI_PROTO_JITTER_BUFFER_H
#define RTPMIDI_PROTO_JITTER_BUFFER_H

#include <stddef.h>
#include <stdint.h>

/* Negative results of rmp_jb_push()/rmp_jb_init()/rmp_jb_reset(). The values
 * are in their own range so they do not collide with other modules' codes. */
enum {
  RMP_EJB_DUPLICATE = -201, /* already buffered or already released */
  RMP_EJB_LATE = -202,      /* its place was already released or declared lost */
  RMP_EJB_FULL = -203,      /* beyond the window; pop, then push again */
  RMP_EJB_INVAL = -204      /* bad argument / state (e.g. reset while not empty) */
};

/* Non-negative results of rmp_jb_push(). */
enum {
  RMP_JB_QUEUED = 0, /* buffered, waiting for predecessors */
  RMP_JB_READY = 1   /* something can be popped now */
};

typedef struct rmp_jb_entry {
  uint32_t ext_seq;
  uint64_t arrival_us;
  void *data; /* opaque, owned by the caller (see ownership above) */
} rmp_jb_entry_t;

/* Storage for one packet. The caller allocates an array of these and hands it
 * to rmp_jb_init(); the fields are private to the buffer. */
typedef struct rmp_jb_slot {
  rmp_jb_entry_t e;
  uint8_t state;
  uint8_t reordered;
} rmp_jb_slot_t;

/* One released packet. */
typedef struct rmp_jb_out {
  rmp_jb_entry_t e;
  uint32_t lost_before; /* seq numbers declared lost immediately before this one */
  uint8_t reordered;    /* it arrived after a higher sequence number */
} rmp_jb_out_t;

typedef struct rmp_jb_stats {
  uint64_t pushed;    /* accepted by push */
  uint64_t released;  /* returned by pop/flush */
  uint64_t lost;      /* sequence numbers declared lost */
  uint64_t reordered; /* released packets that had arrived out of order */
  uint64_t duplicate; /* rejected as DUPLICATE */
  uint64_t late;      /* rejected as LATE */
  uint64_t full;      /* push returned FULL */
} rmp_jb_stats_t;

/* Slots inside the buffer itself, for a caller that gives none: enough for
 * a buffer that waits 0 (jitter_buffer_size 0: a packet goes out as it
 * comes, so at most one is ever held), which then costs no slot array
 * (issue #20: 4 KiB a session). A duplicate of one of the last
 * RMP_JB_INLINE packets released is still told from a late packet. */
#define RMP_JB_INLINE 4

typedef struct rmp_jb {
  rmp_jb_slot_t *slots;
  rmp_jb_slot_t inl[RMP_JB_INLINE]; /* the slots when the caller gives none */
  uint32_t cap;
  uint32_t head;         /* slot index of next_seq */
  uint32_t count;        /* packets buffered */
  uint32_t next_seq;     /* next sequence number to release */
  uint32_t highest;      /* highest sequence number accepted */
  uint32_t pending_lost; /* lost count to attach to the next released packet */
  uint32_t force_until;  /* while forcing: release through this seq without waiting */
  uint64_t wait_us;
  uint64_t min_arrival;  /* earliest arrival among buffered (valid if min_valid) */
  uint8_t min_valid;
  uint8_t forcing;
  uint8_t started;
  rmp_jb_stats_t stats;
} rmp_jb_t;

/* Set up with a caller-provided array of `capacity` slots (>= 1) and the
 * maximum wait in microseconds; slots NULL: the buffer's own inl[] slots,
 * min(capacity, RMP_JB_INLINE) of them (capacity 0: RMP_JB_INLINE).
 * Returns 0 or RMP_EJB_INVAL. */
int rmp_jb_init(rmp_jb_t *jb, rmp_jb_slot_t *slots, uint32_t capacity, uint64_t wait_us);

/* Offer one packet. Returns RMP_JB_READY/RMP_JB_QUEUED (buffer owns data) or a
 * negative RMP_EJB_* code (caller keeps data). */
int rmp_jb_push(rmp_jb_t *jb, uint32_t ext_seq, uint64_t arrival_us, void *data);

/* The fast path of push + pop for a packet that leaves at once: nothing is
 * buffered, and it is the next one (or, with wait_us 0, any one ahead: the
 * numbers skipped are declared lost, lost_before says how many). Returns 1
 * with *out filled exactly as rmp_jb_push then rmp_jb_pop would have (the
 * buffer does not hold data), or 0 when the caller must push (nothing
 * changed but the starting point, which push would set the same way). */
int rmp_jb_pass(rmp_jb_t *jb, uint32_t ext_seq, uint64_t arrival_us, void *data, rmp_jb_out_t *out);

/* Release the next packet if it is due at time now_us. Returns 1 and fills
 * *out, or 0 if nothing can be released yet. Call until it returns 0. */
int rmp_jb_pop(rmp_jb_t *jb, uint64_t now_us, rmp_jb_out_t *out);

/* When pop should next be called: returns 0 if nothing is buffered (no
 * timer needed); otherwise 1 with *deadline_us set (0 means "now"). */
int rmp_jb_next_deadline(rmp_jb_t *jb, uint64_t *deadline_us);

/* Release the next buffered packet without waiting (gaps declared lost).
 * Returns 1 and fills *out, or 0 when empty. Call until 0 on stop. */
int rmp_jb_flush(rmp_jb_t *jb, rmp_jb_out_t *out);

/* Forget the starting point so the next push starts afresh (e.g. after a
 * sequence resync). The buffer must be empty (flush first): returns 0, or
 * RMP_EJB_INVAL if packets are still buffered. Statistics are kept. */
int rmp_jb_reset(rmp_jb_t *jb);

/* Number of packets buffered. */
uint32_t rmp_jb_count(const rmp_jb_t *jb);

#endif
