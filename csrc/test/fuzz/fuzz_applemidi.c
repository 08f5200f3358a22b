/* libFuzzer target: the AppleMIDI session protocol parser (applemidi.c).
 * Input: one datagram as received on the control or data port.
 * A packet that parses is re-encoded and must parse back to the same
 * fields; the CK computation never fails in an unexpected way. */
#include <string.h>

#include "applemidi.h"
#include "fuzz_common.h"

static int is_am_err(int rc) { return rc <= RMP_EATRUNC && rc >= RMP_EACKTIME; }

static int same_packet(const rmp_am_packet *a, const rmp_am_packet *b) {
  if (a->cmd != b->cmd) return 0;
  switch (a->cmd) {
  case RMP_AM_IN: case RMP_AM_OK: case RMP_AM_NO:
    return a->u.inv.version == b->u.inv.version && a->u.inv.token == b->u.inv.token &&
           a->u.inv.ssrc == b->u.inv.ssrc && a->u.inv.has_name == b->u.inv.has_name &&
           a->u.inv.name_len == b->u.inv.name_len &&
           memcmp(a->u.inv.name, b->u.inv.name, a->u.inv.name_len + 1) == 0;
  case RMP_AM_BY:
    return a->u.by.version == b->u.by.version && a->u.by.token == b->u.by.token &&
           a->u.by.ssrc == b->u.by.ssrc;
  case RMP_AM_CK:
    return a->u.ck.ssrc == b->u.ck.ssrc && a->u.ck.count == b->u.ck.count &&
           memcmp(a->u.ck.ts, b->u.ck.ts, sizeof a->u.ck.ts) == 0;
  case RMP_AM_RS:
    return a->u.rs.ssrc == b->u.rs.ssrc && a->u.rs.seq == b->u.rs.seq;
  default:
    return 0;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  rmp_am_packet pkt;
  memset(&pkt, 0x5A, sizeof pkt);
  int rc = rmp_am_parse(data, size, &pkt);
  (void)rmp_am_strerror(rc);
  (void)rmp_am_cmd_name(pkt.cmd);
  FUZZ_ASSERT(rmp_am_is_applemidi(data, size) == (size >= 2 && data[0] == 0xFF && data[1] == 0xFF));
  if (rc < 0) {
    FUZZ_ASSERT(is_am_err(rc));
    return 0;
  }
  FUZZ_ASSERT(rc >= RMP_AM_RS_LEN && (size_t)rc <= size);
  switch (pkt.cmd) {
  case RMP_AM_IN: case RMP_AM_OK: case RMP_AM_NO:
    FUZZ_ASSERT(pkt.u.inv.name_len <= RMP_AM_NAME_MAX);
    FUZZ_ASSERT(strlen(pkt.u.inv.name) == pkt.u.inv.name_len);
    FUZZ_ASSERT((size_t)rc == RMP_AM_INVITE_LEN + (pkt.u.inv.has_name ? pkt.u.inv.name_len + 1 : 0));
    FUZZ_ASSERT(memcmp(pkt.u.inv.name, data + RMP_AM_INVITE_LEN, pkt.u.inv.has_name ? pkt.u.inv.name_len : 0) == 0);
    break;
  case RMP_AM_BY: FUZZ_ASSERT(rc == RMP_AM_INVITE_LEN); break;
  case RMP_AM_CK: FUZZ_ASSERT(rc == RMP_AM_CK_LEN && pkt.u.ck.count <= 2); break;
  case RMP_AM_RS: FUZZ_ASSERT(rc == RMP_AM_RS_LEN); break;
  default: FUZZ_ASSERT(0);
  }

  uint8_t out[RMP_AM_MAX_LEN];
  int n = rmp_am_encode(out, sizeof out, &pkt);
  FUZZ_ASSERT(n == rc);
  rmp_am_packet back;
  FUZZ_ASSERT(rmp_am_parse(out, (size_t)n, &back) == n);
  FUZZ_ASSERT(same_packet(&pkt, &back));
  /* Octets the parser consumed come back unchanged (CK padding is zeroed). */
  if (pkt.cmd == RMP_AM_CK) FUZZ_ASSERT(memcmp(out, data, 9) == 0 && memcmp(out + 12, data + 12, 24) == 0);
  else if (pkt.cmd == RMP_AM_RS) FUZZ_ASSERT(memcmp(out, data, 10) == 0);
  else FUZZ_ASSERT(memcmp(out, data, (size_t)n) == 0);
  /* Too small a buffer is refused without writing past it. */
  FUZZ_ASSERT(rmp_am_encode(out, (size_t)n - 1, &pkt) == RMP_EABUF);

  if (pkt.cmd == RMP_AM_CK) {
    rmp_am_ck_result res;
    int c = rmp_am_ck_compute(&pkt.u.ck, &res);
    if (c == 0) {
      FUZZ_ASSERT(pkt.u.ck.count == 2 && pkt.u.ck.ts[2] >= pkt.u.ck.ts[0]);
      FUZZ_ASSERT(res.rtt == pkt.u.ck.ts[2] - pkt.u.ck.ts[0] && res.latency == res.rtt / 2);
      /* ts2 == ts1 + latency + offset (mod 2^64) */
      FUZZ_ASSERT(pkt.u.ck.ts[0] + res.latency + (uint64_t)res.offset == pkt.u.ck.ts[1]);
    } else {
      FUZZ_ASSERT(c == RMP_EACKCOUNT || c == RMP_EACKTIME);
    }
  }
  return 0;
}
