/* Reorder buffer keyed by extended sequence numbers. See jitter_buffer.h.
 *
 * Layout: slot (head + d) % cap holds sequence number next_seq + d for
 * 0 <= d < cap (the window). Slots behind the window keep the number and the
 * RELEASED mark of the packet last released there, which is how duplicates
 * of released packets are recognised. */
#include "jitter_buffer.h"

#include <string.h>

enum { SLOT_EMPTY = 0, SLOT_WAITING = 1, SLOT_RELEASED = 2 };

static uint32_t slot_idx(const rmp_jb_t *jb, int64_t d) {
  if (d >= 0 && d < (int64_t)jb->cap) { /* in the window: no division */
    uint32_t i = jb->head + (uint32_t)d;
    return i >= jb->cap ? i - jb->cap : i;
  }
  int64_t i = ((int64_t)jb->head + d) % (int64_t)jb->cap;
  if (i < 0) i += jb->cap;
  return (uint32_t)i;
}

static void advance(rmp_jb_t *jb, uint32_t n) {
  jb->next_seq += n;
  if (n < jb->cap) { /* head < cap: one subtraction at most, no division */
    uint32_t h = jb->head + n;
    jb->head = h >= jb->cap ? h - jb->cap : h;
  } else {
    jb->head = (uint32_t)(((uint64_t)jb->head + n % jb->cap) % jb->cap);
  }
}

static uint64_t deadline_of(const rmp_jb_t *jb, uint64_t arrival) {
  uint64_t d = arrival + jb->wait_us;
  return d < arrival ? UINT64_MAX : d; /* saturate */
}

int rmp_jb_init(rmp_jb_t *jb, rmp_jb_slot_t *slots, uint32_t capacity, uint64_t wait_us) {
  if (!jb || capacity > 0x7fffffffu) return RMP_EJB_INVAL;
  if (!slots || slots == jb->inl) { /* the buffer's own slots */
    slots = jb->inl;
    if (capacity == 0 || capacity > RMP_JB_INLINE) capacity = RMP_JB_INLINE;
  }
  if (capacity == 0) return RMP_EJB_INVAL;
  memset(jb, 0, sizeof *jb);
  memset(slots, 0, sizeof *slots * capacity);
  jb->slots = slots;
  jb->cap = capacity;
  jb->wait_us = wait_us;
  return 0;
}

int rmp_jb_reset(rmp_jb_t *jb) {
  if (jb->count) return RMP_EJB_INVAL;
  rmp_jb_stats_t st = jb->stats;
  rmp_jb_slot_t *slots = jb->slots;
  uint32_t cap = jb->cap;
  uint64_t wait = jb->wait_us;
  rmp_jb_init(jb, slots, cap, wait);
  jb->stats = st;
  return 0;
}

uint32_t rmp_jb_count(const rmp_jb_t *jb) { return jb->count; }

/* Earliest arrival among the buffered packets (count > 0). */
static uint64_t min_arrival(rmp_jb_t *jb) {
  if (!jb->min_valid) {
    uint64_t m = UINT64_MAX;
    for (uint32_t i = 0; i < jb->cap; i++)
      if (jb->slots[i].state == SLOT_WAITING && jb->slots[i].e.arrival_us < m)
        m = jb->slots[i].e.arrival_us;
    jb->min_arrival = m;
    jb->min_valid = 1;
  }
  return jb->min_arrival;
}

/* Highest buffered sequence number whose arrival satisfies pred, as an
 * offset from next_seq; returns 0 if none (callers ensure there is one). */
static uint32_t highest_waiting_offset(const rmp_jb_t *jb, int only_expired, uint64_t now) {
  uint32_t best = 0;
  for (uint32_t i = 0; i < jb->cap; i++) {
    const rmp_jb_slot_t *s = &jb->slots[i];
    if (s->state != SLOT_WAITING) continue;
    if (only_expired && deadline_of(jb, s->e.arrival_us) > now) continue;
    uint32_t off = s->e.ext_seq - jb->next_seq;
    if (off > best) best = off;
  }
  return best;
}

int rmp_jb_push(rmp_jb_t *jb, uint32_t ext_seq, uint64_t arrival_us, void *data) {
  if (!jb->started) {
    jb->started = 1;
    jb->next_seq = ext_seq;
    jb->highest = ext_seq;
    jb->head = 0;
  }
  int32_t d = (int32_t)(ext_seq - jb->next_seq);
  if (d < 0) {
    if ((int64_t)-(int64_t)d <= (int64_t)jb->cap) {
      const rmp_jb_slot_t *s = &jb->slots[slot_idx(jb, d)];
      if (s->state == SLOT_RELEASED && s->e.ext_seq == ext_seq) {
        jb->stats.duplicate++;
        return RMP_EJB_DUPLICATE;
      }
    }
    jb->stats.late++;
    return RMP_EJB_LATE;
  }
  if ((uint32_t)d >= jb->cap) {
    /* Beyond the window: the new window starts at new_next. */
    uint32_t new_next = ext_seq - jb->cap + 1;
    uint32_t shift = new_next - jb->next_seq; /* > 0 */
    if (jb->count) {
      /* Any buffered packet below new_next must be released first. */
      uint32_t best = 0;
      int found = 0;
      for (uint32_t i = 0; i < jb->cap; i++) {
        const rmp_jb_slot_t *s = &jb->slots[i];
        if (s->state != SLOT_WAITING) continue;
        uint32_t off = s->e.ext_seq - jb->next_seq;
        if (off < shift && (!found || off > best)) { best = off; found = 1; }
      }
      if (found) {
        uint32_t until = jb->next_seq + best;
        if (!jb->forcing || (int32_t)(until - jb->force_until) > 0) jb->force_until = until;
        jb->forcing = 1;
        jb->stats.full++;
        return RMP_EJB_FULL;
      }
    }
    /* Nothing buffered below new_next: the skipped numbers are lost. */
    jb->pending_lost += shift;
    jb->stats.lost += shift;
    advance(jb, shift);
    d = (int32_t)(jb->cap - 1);
  }
  rmp_jb_slot_t *s = &jb->slots[slot_idx(jb, d)];
  if (s->state == SLOT_WAITING) { /* within the window, so it is this number */
    jb->stats.duplicate++;
    return RMP_EJB_DUPLICATE;
  }
  s->e.ext_seq = ext_seq;
  s->e.arrival_us = arrival_us;
  s->e.data = data;
  s->state = SLOT_WAITING;
  s->reordered = (int32_t)(ext_seq - jb->highest) < 0;
  if (!s->reordered) jb->highest = ext_seq;
  if (jb->count == 0) {
    jb->min_arrival = arrival_us;
    jb->min_valid = 1;
  } else if (jb->min_valid && arrival_us < jb->min_arrival) {
    jb->min_arrival = arrival_us;
  }
  jb->count++;
  jb->stats.pushed++;
  return (jb->slots[jb->head].state == SLOT_WAITING || jb->forcing) ? RMP_JB_READY
                                                                     : RMP_JB_QUEUED;
}

int rmp_jb_pass(rmp_jb_t *jb, uint32_t ext_seq, uint64_t arrival_us, void *data, rmp_jb_out_t *out) {
  /* Nothing waits (count 0: nothing is forced either). */
  if (jb->count) return 0;
  if (!jb->started) {
    jb->started = 1;
    jb->next_seq = ext_seq;
    jb->highest = ext_seq;
    jb->head = 0;
  }
  uint32_t d = ext_seq - jb->next_seq;
  if (d == 0 && jb->pending_lost == 0) { /* the next one: the common case, in few steps */
    rmp_jb_slot_t *s = &jb->slots[jb->head];
    s->e.ext_seq = ext_seq;
    s->e.arrival_us = arrival_us;
    s->e.data = NULL;
    s->state = SLOT_RELEASED;
    s->reordered = 0;
    jb->highest = ext_seq;
    out->e.ext_seq = ext_seq;
    out->e.arrival_us = arrival_us;
    out->e.data = data;
    out->lost_before = 0;
    out->reordered = 0;
    jb->stats.pushed++;
    jb->stats.released++;
    jb->next_seq++;
    jb->head = jb->head + 1 == jb->cap ? 0 : jb->head + 1;
    return 1;
  }
  /* The next one; or, when nothing may wait, one after a gap: push would
   * take it and pop release it at once, the gap declared lost. */
  if (d && (jb->wait_us || d > 0x7fffffffu)) return 0;
  rmp_jb_slot_t *s = &jb->slots[slot_idx(jb, (int64_t)d)];
  s->e.ext_seq = ext_seq;
  s->e.arrival_us = arrival_us;
  s->e.data = NULL;
  s->state = SLOT_RELEASED; /* a duplicate of it is told from a late one */
  s->reordered = 0;         /* past everything accepted: nothing was higher */
  jb->highest = ext_seq;
  jb->pending_lost += d;
  jb->stats.lost += d;
  out->e.ext_seq = ext_seq;
  out->e.arrival_us = arrival_us;
  out->e.data = data;
  out->lost_before = jb->pending_lost;
  out->reordered = 0;
  jb->pending_lost = 0;
  jb->stats.pushed++;
  jb->stats.released++;
  advance(jb, d);
  advance(jb, 1);
  return 1;
}

static int pop_inner(rmp_jb_t *jb, uint64_t now_us, int flush, rmp_jb_out_t *out) {
  if (jb->count == 0) {
    jb->forcing = 0;
    return 0;
  }
  for (;;) {
    rmp_jb_slot_t *s = &jb->slots[jb->head];
    if (s->state == SLOT_WAITING) {
      out->e = s->e;
      out->lost_before = jb->pending_lost;
      out->reordered = s->reordered;
      jb->pending_lost = 0;
      s->state = SLOT_RELEASED;
      s->e.data = NULL;
      if (jb->min_valid && s->e.arrival_us == jb->min_arrival) jb->min_valid = 0;
      jb->count--;
      jb->stats.released++;
      if (out->reordered) jb->stats.reordered++;
      advance(jb, 1);
      if (jb->count == 0 || (jb->forcing && (int32_t)(jb->next_seq - jb->force_until) > 0))
        jb->forcing = 0;
      return 1;
    }
    /* The head is a gap. */
    if (flush) {
      jb->force_until = jb->next_seq + highest_waiting_offset(jb, 0, 0);
      jb->forcing = 1;
    } else if (!jb->forcing) {
      if (deadline_of(jb, min_arrival(jb)) > now_us) return 0;
      /* Release everything up to the highest packet whose wait ran out. */
      jb->force_until = jb->next_seq + highest_waiting_offset(jb, 1, now_us);
      jb->forcing = 1;
    }
    /* Declare the run of missing numbers lost (count > 0 bounds it by cap). */
    uint32_t n = 0;
    while (jb->slots[jb->head].state != SLOT_WAITING) {
      advance(jb, 1);
      n++;
    }
    jb->pending_lost += n;
    jb->stats.lost += n;
  }
}

int rmp_jb_pop(rmp_jb_t *jb, uint64_t now_us, rmp_jb_out_t *out) {
  return pop_inner(jb, now_us, 0, out);
}

int rmp_jb_flush(rmp_jb_t *jb, rmp_jb_out_t *out) { return pop_inner(jb, 0, 1, out); }

int rmp_jb_next_deadline(rmp_jb_t *jb, uint64_t *deadline_us) {
  if (jb->count == 0) return 0;
  if (jb->forcing || jb->slots[jb->head].state == SLOT_WAITING) {
    *deadline_us = 0;
    return 1;
  }
  *deadline_us = deadline_of(jb, min_arrival(jb));
  return 1;
}
