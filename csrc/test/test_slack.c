/* rmc_slack_ms (csrc/core/slack.h): timers that may run late are moved to
 * slot boundaries on the loop's clock, by less than a slot, a slot being at
 * most 1/16 of the wait and at most 64 ms; waits under 32 ms stay. */
#include "check.h"
#include "slack.h"

/* The slot rmc_slack_ms must use for a wait of ms. */
static uint64_t slot_for(uint64_t ms) {
  uint64_t slot = 1;
  while (slot * 2 <= RMC_SLACK_MAX_MS && slot * 2 * 16 <= ms) slot *= 2;
  return slot;
}

int main(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  uint64_t now = uv_now(&loop);
  static const uint64_t waits[] = {0, 1, 31, 32, 63, 64, 100, 250, 999, 1000, 2500, 5000, 7500, 25000, 3600000};
  for (size_t i = 0; i < sizeof waits / sizeof waits[0]; i++) {
    uint64_t ms = waits[i], t = rmc_slack_ms(&loop, ms), slot = slot_for(ms);
    CHECK(t >= ms);                     /* never early */
    CHECK(t - ms < slot);               /* late by less than a slot */
    CHECK_INT((now + t) % slot, 0);     /* on a boundary of the loop's clock */
    CHECK(slot <= RMC_SLACK_MAX_MS && (slot == 1 || slot * 16 <= ms));
    if (ms < 32) CHECK_INT(t, ms);
  }
  /* RTCP-sized waits of different sessions, due within one slot, fall due
   * in the same loop turn */
  uint64_t boundary = 5000 - (now + 5000) % 64; /* now + boundary: a multiple of 64 */
  CHECK_INT(rmc_slack_ms(&loop, boundary + 1), boundary + 64);
  CHECK_INT(rmc_slack_ms(&loop, boundary + 64), boundary + 64);
  CHECK_INT(slot_for(5000), 64);
  CHECK_INT(slot_for(100), 4);
  uv_loop_close(&loop);
  printf("%d passed, %d failed\n", check_passed_, check_failed_);
  return check_failed_ != 0;
}
