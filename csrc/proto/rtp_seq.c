/* RTP sequence tracking, RFC 3550 A.1 / A.3 / A.8, with held jumps. See
 * rtp_seq.h. */
#include "rtp_seq.h"

#include <string.h>

#define FAR RMP_SEQ_HOLDS /* the slot of a very large jump */

static void unhold(rmp_seq_t *s, unsigned i, bool dropped) {
  if (!s->held[i].used) return;
  if (dropped) s->held_dropped++;
  s->held[i].used = 0;
  s->n_held--;
  if (i == FAR) s->bad_seq = RMP_SEQ_MOD + 1; /* so seq == bad_seq is false */
}

static void unhold_all(rmp_seq_t *s) {
  for (unsigned i = 0; i <= FAR; i++) unhold(s, i, true);
}

/* A.1 init_seq: start a new valid run at seq. */
static void seq_restart(rmp_seq_t *s, uint16_t seq) {
  s->base_seq = seq;
  s->max_seq = seq;
  unhold_all(s);
  s->tentative = 0;
  s->cycles = 0;
  s->received = 0;
  s->received_prior = 0;
  s->expected_prior = 0;
}

void rmp_seq_init(rmp_seq_t *s, unsigned min_sequential) {
  memset(s, 0, sizeof *s);
  s->min_sequential = min_sequential ? min_sequential : 1;
  s->bad_seq = RMP_SEQ_MOD + 1;
  s->hold_us = RMP_SEQ_HOLD_FOREVER;
}

void rmp_seq_set_hold(rmp_seq_t *s, uint64_t hold_us) { s->hold_us = hold_us; }

static uint32_t ext_of(const rmp_seq_t *s, uint16_t seq) {
  /* Place of seq relative to the highest: behind it by (max_seq - seq) mod 2^16. */
  uint16_t back = (uint16_t)(s->max_seq - seq);
  return rmp_seq_ext_max(s) - back;
}

/* How far ahead of the highest seq is (0: not ahead, or too far). */
static uint16_t ahead(const rmp_seq_t *s, uint16_t seq) {
  uint16_t d = (uint16_t)(seq - s->max_seq);
  return d < RMP_SEQ_MAX_DROPOUT ? d : 0;
}

/* seq (ahead of the highest, by less than 2^16) becomes the highest: A.1's
 * "in order, with permissible gap"; it counts as received. */
static uint32_t advance(rmp_seq_t *s, uint16_t seq) {
  if (seq < s->max_seq) s->cycles += RMP_SEQ_MOD; /* wrapped */
  s->max_seq = seq;
  s->received++;
  return rmp_seq_ext_max(s);
}

static void add_release(rmp_seq_t *s, unsigned slot, uint32_t ext, bool before) {
  if (s->held[slot].reordered) s->reordered++;
  rmp_seq_release *r = &s->release[s->n_release++];
  r->ext = ext;
  r->slot = (uint8_t)slot;
  r->before = before;
  unhold(s, slot, false);
}

/* Near holds that the highest caught up with or passed are dropped: the
 * one just after it counts (after the packet just classified) when it was
 * close, as a reordered packet; the others were never the stream's. */
static void catch_up(rmp_seq_t *s) {
  bool more = true;
  while (more) {
    more = false;
    for (unsigned i = 0; i < FAR; i++) {
      rmp_seq_hold *h = &s->held[i];
      if (!h->used) continue;
      if (h->seq == (uint16_t)(s->max_seq + 1) && h->dist <= RMP_SEQ_MAX_REORDER) {
        add_release(s, i, advance(s, h->seq), false);
        more = true;
      } else if (!ahead(s, h->seq)) {
        unhold(s, i, true);
      }
    }
  }
  if (s->held[FAR].used && s->held[FAR].seq == s->max_seq) unhold(s, FAR, true);
}

/* Whether a packet held ahead is higher than seq (ahead too): seq came
 * after it, reordered. */
static bool higher_held(const rmp_seq_t *s, uint16_t seq) {
  uint16_t d = (uint16_t)(seq - s->max_seq);
  for (unsigned i = 0; i < FAR; i++)
    if (s->held[i].used && (uint16_t)(s->held[i].seq - s->max_seq) > d) return true;
  return false;
}

/* The slot holding seq, or -1. */
static int held_at(const rmp_seq_t *s, uint16_t seq) {
  for (unsigned i = 0; i < FAR; i++)
    if (s->held[i].used && s->held[i].seq == seq) return (int)i;
  return -1;
}

/* The packet seq (ahead of the highest) and the held packets in sequence
 * with it on either side corroborate each other: they all count, in order.
 * Returns seq's extended number. */
static uint32_t take_run(rmp_seq_t *s, uint16_t seq) {
  bool reordered = higher_held(s, seq);
  uint16_t lo = seq;
  int i;
  while ((i = held_at(s, (uint16_t)(lo - 1))) >= 0 && ahead(s, (uint16_t)(lo - 1))) lo--;
  /* Held packets a little before the run (a loss between them and it)
   * came from the same stretch of the stream: they count first. */
  for (;;) {
    int best = -1;
    for (unsigned k = 0; k < FAR; k++) {
      const rmp_seq_hold *h = &s->held[k];
      uint16_t back = (uint16_t)(lo - h->seq);
      if (h->used && back > 1 && back <= RMP_SEQ_MAX_REORDER && ahead(s, h->seq) &&
          (best < 0 || (uint16_t)(h->seq - s->max_seq) < (uint16_t)(s->held[best].seq - s->max_seq)))
        best = (int)k;
    }
    if (best < 0) break;
    add_release(s, (unsigned)best, advance(s, s->held[best].seq), true);
  }
  for (uint16_t q = lo; q != seq; q++) add_release(s, (unsigned)held_at(s, q), advance(s, q), true);
  uint32_t ext = advance(s, seq);
  for (uint16_t q = (uint16_t)(seq + 1); (i = held_at(s, q)) >= 0; q++)
    add_release(s, (unsigned)i, advance(s, q), false);
  if (reordered) s->reordered++;
  return ext;
}

/* A near jump waits in a slot (the oldest goes when all are taken). */
static int hold_near(rmp_seq_t *s, uint16_t seq, uint16_t dist, uint32_t *ext_seq) {
  unsigned slot = 0;
  for (unsigned i = 0; i < FAR; i++) {
    if (!s->held[i].used) { slot = i; break; }
    if (s->held[i].at_us < s->held[slot].at_us) slot = i;
  }
  unhold(s, slot, true);
  rmp_seq_hold *h = &s->held[slot];
  h->reordered = higher_held(s, seq);
  h->used = 1;
  s->n_held++;
  h->seq = seq;
  h->dist = dist;
  h->max_then = s->max_seq;
  h->at_us = s->arrival_us;
  s->held_slot = (uint8_t)slot;
  *ext_seq = rmp_seq_ext_max(s) + dist;
  return RMP_SEQ_HELD;
}

/* The jump to seq is taken on trust; the run it leaves is remembered (while
 * one taken on trust is not confirmed, the first run it left). */
static uint32_t take_on_trust(rmp_seq_t *s, uint16_t seq) {
  if (!s->tentative) {
    s->tentative = 1;
    s->old_next = (uint16_t)(s->max_seq + 1);
    s->old_last_valid = 0;
  }
  return advance(s, seq);
}

int rmp_seq_update(rmp_seq_t *s, uint16_t seq, uint32_t *ext_seq) {
  uint32_t dummy;
  if (!ext_seq) ext_seq = &dummy;
  s->n_release = 0;
  s->undo = 0;

  if (!s->started) {
    /* First packet: as A.1, init then pretend the previous seq was seq-1. */
    s->started = 1;
    seq_restart(s, seq);
    s->max_seq = (uint16_t)(seq - 1);
    s->probation = s->min_sequential;
  }

  uint16_t udelta = (uint16_t)(seq - s->max_seq);

  if (s->probation) {
    /* Source not valid yet: needs min_sequential packets in sequence. */
    if (seq == (uint16_t)(s->max_seq + 1)) {
      s->probation--;
      s->max_seq = seq;
      if (s->probation == 0) {
        seq_restart(s, seq);
        s->received++;
        *ext_seq = rmp_seq_ext_max(s);
        return RMP_SEQ_VALID;
      }
    } else {
      s->probation = s->min_sequential - 1;
      s->max_seq = seq;
      /* With min_sequential == 1 any first packet is accepted. */
      if (s->probation == 0) {
        seq_restart(s, seq);
        s->received++;
        *ext_seq = rmp_seq_ext_max(s);
        return RMP_SEQ_VALID;
      }
    }
    *ext_seq = s->cycles + seq;
    return RMP_SEQ_PROBATION;
  }

  /* A jump taken on trust, and two packets in a row of the run it left:
   * that run goes on, the jump was not the peer's. */
  if (s->tentative && (uint16_t)(seq - s->old_next) < (uint16_t)(s->max_seq - s->old_next)) {
    if (s->old_last_valid && seq == (uint16_t)(s->old_last + 1)) {
      s->undo = 1;
      s->undo_last = (uint16_t)(s->old_next - 1);
      seq_restart(s, seq);
      s->received++;
      *ext_seq = rmp_seq_ext_max(s);
      return RMP_SEQ_RESYNC;
    }
    s->old_last = seq;
    s->old_last_valid = 1;
  }

  if (udelta == 1) {
    /* In sequence: the run goes on (a jump taken on trust is confirmed). A
     * packet held is higher: this one came after it. */
    s->tentative = 0;
    if (!s->n_held) { /* nothing held: nothing to look through */
      *ext_seq = advance(s, seq);
      return RMP_SEQ_VALID;
    }
    for (unsigned i = 0; i < FAR; i++)
      if (s->held[i].used) {
        s->reordered++;
        break;
      }
    *ext_seq = advance(s, seq);
    catch_up(s);
    return RMP_SEQ_VALID;
  }
  /* A jump; or just past one: a packet in sequence with one held ahead. */
  bool next_to_held = udelta != 0 && udelta <= RMP_SEQ_MOD - RMP_SEQ_MAX_MISORDER &&
                      ((held_at(s, (uint16_t)(seq - 1)) >= 0 && ahead(s, (uint16_t)(seq - 1))) ||
                       held_at(s, (uint16_t)(seq + 1)) >= 0);
  if (udelta != 0 && (udelta < RMP_SEQ_MAX_DROPOUT || next_to_held)) {
    if (held_at(s, seq) >= 0) {
      s->held_duplicates++;
      s->received++; /* as A.1 counts a duplicate */
      *ext_seq = rmp_seq_ext_max(s) + udelta;
      return RMP_SEQ_HELD_DUP;
    }
    if (s->hold_us == 0) {
      /* Nothing waits: on trust at once. */
      *ext_seq = take_on_trust(s, seq);
      catch_up(s);
      return RMP_SEQ_VALID;
    }
    if (next_to_held) {
      /* Two in a row: a loss, confirmed. */
      s->tentative = 0;
      *ext_seq = take_run(s, seq);
      catch_up(s);
      return RMP_SEQ_VALID;
    }
    return hold_near(s, seq, udelta, ext_seq);
  }
  if (udelta != 0 && udelta <= RMP_SEQ_MOD - RMP_SEQ_MAX_MISORDER) {
    /* Very large jump (A.1). */
    if (seq == s->bad_seq) {
      /* Two sequential packets: the sender restarted; re-sync on them (A.1
       * counts the second only: here the first was held). */
      seq_restart(s, (uint16_t)(seq - 1));
      s->received++;
      s->release[0] = (rmp_seq_release){.ext = rmp_seq_ext_max(s), .slot = FAR, .before = 1};
      s->n_release = 1;
      *ext_seq = advance(s, seq);
      return RMP_SEQ_RESYNC;
    }
    unhold(s, FAR, true);
    s->held[FAR] = (rmp_seq_hold){.used = 1, .seq = seq, .dist = udelta, .max_then = s->max_seq,
                                  .at_us = s->arrival_us};
    s->n_held++;
    s->held_slot = FAR;
    s->bad_seq = (uint32_t)((seq + 1u) & (RMP_SEQ_MOD - 1));
    *ext_seq = s->cycles + seq;
    return RMP_SEQ_BAD;
  }
  /* udelta == 0 (duplicate of the highest) or a small step back. Counted as
   * received, as in A.1 (so duplicates can make cumulative lost negative). */
  s->received++;
  *ext_seq = ext_of(s, seq);
  return RMP_SEQ_MISORDERED;
}

bool rmp_seq_hold_deadline(const rmp_seq_t *s, uint64_t *at) {
  if (s->hold_us == RMP_SEQ_HOLD_FOREVER) return false;
  bool any = false;
  for (unsigned i = 0; i < FAR; i++) {
    if (!s->held[i].used) continue;
    uint64_t t = s->held[i].at_us + s->hold_us;
    if (t < s->held[i].at_us) t = UINT64_MAX;
    if (!any || t < *at) *at = t;
    any = true;
  }
  return any;
}

bool rmp_seq_hold_expire(rmp_seq_t *s, uint64_t now_us) {
  s->n_release = 0;
  if (s->hold_us == RMP_SEQ_HOLD_FOREVER) return false;
  for (;;) {
    int due = -1;
    for (unsigned i = 0; i < FAR; i++) {
      const rmp_seq_hold *h = &s->held[i];
      if (h->used && now_us >= h->at_us && now_us - h->at_us >= s->hold_us &&
          (due < 0 || h->at_us < s->held[due].at_us))
        due = (int)i;
    }
    if (due < 0) return false;
    rmp_seq_hold *h = &s->held[due];
    if (h->max_then != s->max_seq || !ahead(s, h->seq)) {
      /* The run went on meanwhile: not a loss followed by silence. */
      unhold(s, (unsigned)due, true);
      continue;
    }
    /* Nothing confirmed it nor came before it: a loss followed by
     * silence, or a forgery. Taken on trust, with the run it leaves. */
    uint16_t was = s->max_seq;
    add_release(s, (unsigned)due, take_on_trust(s, h->seq), true);
    /* Those held ahead of it in the same silence waited as it did: the run
     * did not go on, this jump moved it (a loss between each of them). */
    for (unsigned i = 0; i < FAR; i++)
      if (s->held[i].used && s->held[i].max_then == was && ahead(s, s->held[i].seq))
        s->held[i].max_then = s->max_seq;
    catch_up(s);
    return true;
  }
}

uint32_t rmp_seq_us_to_rtp(uint64_t arrival_us, uint32_t clock_rate) {
  /* Split to avoid overflowing 64 bits; result is taken mod 2^32. */
  uint64_t sec = arrival_us / 1000000u, rem = arrival_us % 1000000u;
  return (uint32_t)(sec * clock_rate + (rem * clock_rate) / 1000000u);
}

void rmp_seq_jitter(rmp_seq_t *s, uint32_t rtp_ts, uint64_t arrival_us, uint32_t clock_rate) {
  uint32_t arrival = rmp_seq_us_to_rtp(arrival_us, clock_rate);
  uint32_t transit = arrival - rtp_ts;
  if (!s->have_transit) {
    s->transit = transit;
    s->have_transit = 1;
    return;
  }
  int32_t d = (int32_t)(transit - s->transit);
  s->transit = transit;
  uint32_t ad = d < 0 ? (uint32_t)0 - (uint32_t)d : (uint32_t)d;
  /* J += (|D| - J)/16 in the scaled-by-16 integer form of A.8. */
  s->jitter += ad - ((s->jitter + 8) >> 4);
}

int rmp_seq_receive(rmp_seq_t *s, uint16_t seq, uint32_t rtp_ts, uint64_t arrival_us,
                    uint32_t clock_rate, uint32_t *ext_seq) {
  s->arrival_us = arrival_us;
  int r = rmp_seq_update(s, seq, ext_seq);
  if (r == RMP_SEQ_RESYNC) s->have_transit = 0;
  if (r == RMP_SEQ_VALID || r == RMP_SEQ_MISORDERED || r == RMP_SEQ_RESYNC)
    rmp_seq_jitter(s, rtp_ts, arrival_us, clock_rate);
  return r;
}

uint32_t rmp_seq_ext_max(const rmp_seq_t *s) { return s->cycles + s->max_seq; }

uint32_t rmp_seq_expected(const rmp_seq_t *s) {
  if (!s->started || s->probation) return 0;
  return rmp_seq_ext_max(s) - s->base_seq + 1;
}

static int32_t clamp24(int64_t v) {
  if (v > 0x7fffff) return 0x7fffff;
  if (v < -0x800000) return -0x800000;
  return (int32_t)v;
}

int32_t rmp_seq_cumulative_lost(const rmp_seq_t *s) {
  return clamp24((int64_t)rmp_seq_expected(s) - (int64_t)s->received);
}

uint32_t rmp_seq_jitter_value(const rmp_seq_t *s) { return s->jitter >> 4; }

void rmp_seq_report(rmp_seq_t *s, rmp_seq_report_t *out) {
  uint32_t expected = rmp_seq_expected(s);
  uint32_t expected_interval = expected - s->expected_prior;
  uint32_t received_interval = s->received - s->received_prior;
  s->expected_prior = expected;
  s->received_prior = s->received;
  int64_t lost_interval = (int64_t)expected_interval - (int64_t)received_interval;
  out->fraction_lost = 0;
  if (expected_interval != 0 && lost_interval > 0) {
    uint64_t f = ((uint64_t)lost_interval << 8) / expected_interval;
    out->fraction_lost = (uint8_t)(f > 255 ? 255 : f); /* 256 would wrap to 0 */
  }
  out->cumulative_lost = rmp_seq_cumulative_lost(s);
  out->ext_highest_seq = rmp_seq_ext_max(s);
  out->jitter = rmp_seq_jitter_value(s);
  out->expected = expected;
  out->received = s->received;
}
