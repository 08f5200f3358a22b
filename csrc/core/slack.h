/* Timers that may run a little late share loop turns (issue 9: idle CPU
 * with many sessions). RTCP reports, peer timeouts and AppleMIDI clock sync
 * fall due every few seconds per session; at 1,000 sessions, each on its
 * own millisecond, each would be a wakeup of its own (an epoll_wait and a
 * context switch) for one datagram. Rounded up to a slot boundary on the
 * loop's clock, the timers of many sessions fall due in the same loop turn
 * and the datagrams they send are read back in one epoll_wait.
 *
 * The slot is the largest power of two milliseconds not above 1/16 of the
 * wait, at most 64 ms: a report due in 5 s goes out at most 64 ms (1.3%)
 * later, one due in 100 ms at most 4 ms later, and a wait under 32 ms is
 * not moved. Powers of two, so that slots of different sizes share their
 * boundaries. Not for timers whose lateness is heard or seen (jitter
 * buffer, guard packets, invitations). Not part of the public API. */
#ifndef RMC_SLACK_H
#define RMC_SLACK_H

#include <stdint.h>
#include <uv.h>

#define RMC_SLACK_MAX_MS 64u

/* The timeout to give uv_timer_start for a wait of ms (>= ms). */
static inline uint64_t rmc_slack_ms(uv_loop_t *loop, uint64_t ms) {
  uint64_t slot = 1;
  while (slot < RMC_SLACK_MAX_MS && slot * 2 * 16 <= ms) slot *= 2;
  uint64_t now = uv_now(loop);
  return (now + ms + slot - 1) / slot * slot - now;
}

#endif
