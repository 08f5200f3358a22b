/* libFuzzer target: the Network MIDI 2.0 packet parser (midi2.c).
 * Input: one datagram as received on the UDP port.
 *
 * Every command the reader returns lies inside the input, its texts and
 * UMP words too; the reader always makes progress. A command that parses
 * is written again and read back to the same fields (texts compare by
 * content: the input may pad them more than we do). */
#include <string.h>

#include "fuzz_common.h"
#include "midi2.h"
#include "ump.h"

static int is_err(int rc) { return rc >= RMP_M2_EUMP && rc <= RMP_M2_ETRUNC; }

static int same_str(rmp_m2_str a, rmp_m2_str b) { return a.len == b.len && memcmp(a.p, b.p, a.len) == 0; }

static void check_inside(const rmp_m2_cmd *c, const uint8_t *data, size_t size) {
  FUZZ_ASSERT(fuzz_within(c->payload, (size_t)c->words * 4, data, size));
  fuzz_touch(c->payload, (size_t)c->words * 4);
  switch (c->code) {
  case RMP_M2_INVITATION: case RMP_M2_ACCEPTED: case RMP_M2_PENDING:
    FUZZ_ASSERT(fuzz_within((const uint8_t *)c->u.inv.name.p, c->u.inv.name.len, data, size));
    FUZZ_ASSERT(fuzz_within((const uint8_t *)c->u.inv.piid.p, c->u.inv.piid.len, data, size));
    FUZZ_ASSERT(!memchr(c->u.inv.name.p, 0, c->u.inv.name.len));
    break;
  case RMP_M2_AUTH_REQUIRED: case RMP_M2_USER_AUTH_REQUIRED:
    FUZZ_ASSERT(fuzz_within(c->u.req.nonce, RMP_M2_NONCE_LEN, data, size));
    FUZZ_ASSERT(fuzz_within((const uint8_t *)c->u.req.name.p, c->u.req.name.len, data, size));
    FUZZ_ASSERT(fuzz_within((const uint8_t *)c->u.req.piid.p, c->u.req.piid.len, data, size));
    break;
  case RMP_M2_INVITATION_AUTH: case RMP_M2_INVITATION_USER_AUTH:
    FUZZ_ASSERT(fuzz_within(c->u.auth.digest, RMP_M2_DIGEST_LEN, data, size));
    if (c->u.auth.user.len) FUZZ_ASSERT(fuzz_within((const uint8_t *)c->u.auth.user.p, c->u.auth.user.len, data, size));
    break;
  case RMP_M2_NAK:
    FUZZ_ASSERT(fuzz_within((const uint8_t *)c->u.nak.text.p, c->u.nak.text.len, data, size));
    break;
  case RMP_M2_BYE:
    FUZZ_ASSERT(fuzz_within((const uint8_t *)c->u.bye.text.p, c->u.bye.text.len, data, size));
    break;
  case RMP_M2_UMP_DATA: {
    FUZZ_ASSERT(c->u.ump.nwords <= RMP_M2_MAX_UMP_WORDS);
    FUZZ_ASSERT(fuzz_within(c->u.ump.be, (size_t)c->u.ump.nwords * 4, data, size));
    uint32_t w[RMP_M2_MAX_UMP_WORDS];
    rmp_ump_load_be(c->u.ump.be, c->u.ump.nwords, w);
    FUZZ_ASSERT(rmp_ump_whole(w, c->u.ump.nwords));
    break;
  }
  default: break;
  }
}

static int same_cmd(const rmp_m2_cmd *a, const rmp_m2_cmd *b) {
  if (a->code != b->code) return 0;
  switch (a->code) {
  case RMP_M2_INVITATION: case RMP_M2_ACCEPTED: case RMP_M2_PENDING:
    return a->u.inv.caps == b->u.inv.caps && same_str(a->u.inv.name, b->u.inv.name) &&
           same_str(a->u.inv.piid, b->u.inv.piid);
  case RMP_M2_AUTH_REQUIRED: case RMP_M2_USER_AUTH_REQUIRED:
    return a->u.req.state == b->u.req.state && memcmp(a->u.req.nonce, b->u.req.nonce, 16) == 0 &&
           same_str(a->u.req.name, b->u.req.name) && same_str(a->u.req.piid, b->u.req.piid);
  case RMP_M2_INVITATION_AUTH:
    return memcmp(a->u.auth.digest, b->u.auth.digest, 32) == 0;
  case RMP_M2_INVITATION_USER_AUTH:
    return memcmp(a->u.auth.digest, b->u.auth.digest, 32) == 0 && same_str(a->u.auth.user, b->u.auth.user);
  case RMP_M2_PING: case RMP_M2_PING_REPLY: return a->u.ping.id == b->u.ping.id;
  case RMP_M2_RETRANSMIT_REQUEST: return a->u.rtx.seq == b->u.rtx.seq && a->u.rtx.count == b->u.rtx.count;
  case RMP_M2_RETRANSMIT_ERROR:
    return a->u.rtx_err.seq == b->u.rtx_err.seq && a->u.rtx_err.reason == b->u.rtx_err.reason;
  case RMP_M2_NAK:
    return a->u.nak.reason == b->u.nak.reason && a->u.nak.header == b->u.nak.header &&
           same_str(a->u.nak.text, b->u.nak.text);
  case RMP_M2_BYE: return a->u.bye.reason == b->u.bye.reason && same_str(a->u.bye.text, b->u.bye.text);
  case RMP_M2_UMP_DATA:
    return a->u.ump.seq == b->u.ump.seq && a->u.ump.nwords == b->u.ump.nwords &&
           memcmp(a->u.ump.be, b->u.ump.be, (size_t)a->u.ump.nwords * 4) == 0;
  default: return 1;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  rmp_m2_reader r;
  int rc = rmp_m2_reader_init(&r, data, size);
  FUZZ_ASSERT(rc == rmp_m2_check(data, size));
  if (rc < 0) {
    rmp_m2_cmd c;
    FUZZ_ASSERT(rmp_m2_read(&r, &c) == 0);
    return 0;
  }
  rmp_m2_cmd c;
  size_t steps = 0;
  for (;;) {
    size_t before = r.off;
    rc = rmp_m2_read(&r, &c);
    FUZZ_ASSERT(++steps <= size);
    if (rc == 0) {
      FUZZ_ASSERT(r.off == size);
      break;
    }
    FUZZ_ASSERT(r.off > before && r.off <= size);
    (void)rmp_m2_code_name(c.code);
    (void)rmp_m2_strerror(rc);
    if (rc < 0) {
      FUZZ_ASSERT(is_err(rc));
      if (rc != RMP_M2_ETRUNC) FUZZ_ASSERT(r.off == before + 4 + (size_t)c.words * 4);
      continue;
    }
    FUZZ_ASSERT(rc == 1);
    FUZZ_ASSERT(r.off == before + 4 + (size_t)c.words * 4);
    check_inside(&c, data, size);
    /* write it again: a texts longer than we write (e.g. a name over 98
     * octets) is refused, anything else comes back the same */
    uint8_t out[RMP_M2_HEADER_LEN + 4 * RMP_M2_MAX_PAYLOAD_WORDS];
    int n = rmp_m2_write(out, sizeof out, &c);
    if (n < 0) {
      FUZZ_ASSERT(n == RMP_M2_EINVAL);
      continue;
    }
    FUZZ_ASSERT(n == rmp_m2_cmd_size(&c));
    FUZZ_ASSERT((size_t)n <= (size_t)RMP_M2_HEADER_LEN + (size_t)c.words * 4);
    uint8_t dg[RMP_M2_SIG_LEN + sizeof out];
    memcpy(dg, "MIDI", 4);
    memcpy(dg + 4, out, (size_t)n);
    rmp_m2_reader r2;
    rmp_m2_cmd back;
    FUZZ_ASSERT(rmp_m2_reader_init(&r2, dg, 4 + (size_t)n) == 0);
    FUZZ_ASSERT(rmp_m2_read(&r2, &back) == 1);
    FUZZ_ASSERT(same_cmd(&c, &back));
    FUZZ_ASSERT(rmp_m2_read(&r2, &back) == 0);
    /* too little room is refused */
    FUZZ_ASSERT(rmp_m2_write(out, (size_t)n - 1, &c) == RMP_M2_ENOSPACE);
  }
  return 0;
}
