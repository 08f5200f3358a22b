/* RTP sequence tracking, RFC 3550 A.1 / A.3 / A.8. See rtp_seq.h. */
#include "rtp_seq.h"

#include <string.h>

/* A.1 init_seq: start a new valid run at seq. */
static void seq_restart(rmp_seq_t *s, uint16_t seq) {
  s->base_seq = seq;
  s->max_seq = seq;
  s->bad_seq = RMP_SEQ_MOD + 1; /* so seq == bad_seq is false */
  s->cycles = 0;
  s->received = 0;
  s->received_prior = 0;
  s->expected_prior = 0;
}

void rmp_seq_init(rmp_seq_t *s, unsigned min_sequential) {
  memset(s, 0, sizeof *s);
  s->min_sequential = min_sequential ? min_sequential : 1;
  s->bad_seq = RMP_SEQ_MOD + 1;
}

static uint32_t ext_of(const rmp_seq_t *s, uint16_t seq) {
  /* Place of seq relative to the highest: behind it by (max_seq - seq) mod 2^16. */
  uint16_t back = (uint16_t)(s->max_seq - seq);
  return rmp_seq_ext_max(s) - back;
}

int rmp_seq_update(rmp_seq_t *s, uint16_t seq, uint32_t *ext_seq) {
  uint32_t dummy;
  if (!ext_seq) ext_seq = &dummy;

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

  if (udelta != 0 && udelta < RMP_SEQ_MAX_DROPOUT) {
    /* In order, with permissible gap. */
    if (seq < s->max_seq) s->cycles += RMP_SEQ_MOD; /* wrapped */
    s->max_seq = seq;
    s->received++;
    *ext_seq = rmp_seq_ext_max(s);
    return RMP_SEQ_VALID;
  }
  if (udelta != 0 && udelta <= RMP_SEQ_MOD - RMP_SEQ_MAX_MISORDER) {
    /* Very large jump. */
    if (seq == s->bad_seq) {
      /* Two sequential packets: the sender restarted; re-sync on this one. */
      seq_restart(s, seq);
      s->received++;
      *ext_seq = rmp_seq_ext_max(s);
      return RMP_SEQ_RESYNC;
    }
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
