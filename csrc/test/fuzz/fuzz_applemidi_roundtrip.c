/* libFuzzer round trip: an AppleMIDI packet built from the input is encoded
 * (applemidi.c) and parsed back to the same fields.
 *
 * Input: |kind|fields...|name octets...| where kind picks IN/OK/NO/BY/CK/RS
 * (and, for IN/OK/NO, whether there is a name; the name is the rest of the
 * input, cut at the first NUL, possibly longer than RMP_AM_NAME_MAX so the
 * UTF-8-aware shortening is exercised). */
#include <string.h>

#include "applemidi.h"
#include "fuzz_common.h"

/* The name the encoder is documented to write: at most RMP_AM_NAME_MAX
 * octets, never ending inside a UTF-8 sequence when it had to be cut. */
static size_t expected_name_len(const char *name) {
  size_t n = strlen(name);
  if (n <= RMP_AM_NAME_MAX) return n;
  n = RMP_AM_NAME_MAX;
  while (n > 0 && ((unsigned char)name[n] & 0xC0) == 0x80) n--;
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_in in;
  fuzz_in_init(&in, data, size);
  static const uint16_t cmds[] = { RMP_AM_IN, RMP_AM_OK, RMP_AM_NO, RMP_AM_BY, RMP_AM_CK, RMP_AM_RS };
  uint8_t kind = fuzz_u8(&in);
  uint16_t cmd = cmds[kind % 6];
  uint32_t a = fuzz_u32(&in), b = fuzz_u32(&in);
  uint8_t out[RMP_AM_MAX_LEN];
  rmp_am_packet p;
  int n;

  switch (cmd) {
  case RMP_AM_IN: case RMP_AM_OK: case RMP_AM_NO: {
    char name[512];
    size_t nl = fuzz_left(&in) < sizeof name - 1 ? fuzz_left(&in) : sizeof name - 1;
    memcpy(name, data + in.off, nl);
    name[nl] = 0;
    int with_name = kind & 0x80;
    n = rmp_am_encode_invite(out, sizeof out, cmd, a, b, with_name ? name : NULL);
    size_t want = with_name ? expected_name_len(name) : 0;
    FUZZ_ASSERT(n == (int)(RMP_AM_INVITE_LEN + (with_name ? want + 1 : 0)));
    FUZZ_ASSERT(rmp_am_parse(out, (size_t)n, &p) == n);
    FUZZ_ASSERT(p.cmd == cmd && p.u.inv.version == RMP_AM_VERSION && p.u.inv.token == a &&
                p.u.inv.ssrc == b && p.u.inv.has_name == (with_name != 0));
    FUZZ_ASSERT(p.u.inv.name_len == want && memcmp(p.u.inv.name, name, want) == 0);
    FUZZ_ASSERT(rmp_am_encode_invite(out, (size_t)n - 1, cmd, a, b, with_name ? name : NULL) == RMP_EABUF);
    /* A parsed invitation re-encodes to the same octets. */
    uint8_t again[RMP_AM_MAX_LEN];
    FUZZ_ASSERT(rmp_am_encode(again, sizeof again, &p) == n && memcmp(again, out, (size_t)n) == 0);
    break;
  }
  case RMP_AM_BY:
    n = rmp_am_encode_bye(out, sizeof out, a, b);
    FUZZ_ASSERT(n == RMP_AM_INVITE_LEN && rmp_am_parse(out, (size_t)n, &p) == n);
    FUZZ_ASSERT(p.cmd == RMP_AM_BY && p.u.by.version == RMP_AM_VERSION && p.u.by.token == a &&
                p.u.by.ssrc == b);
    break;
  case RMP_AM_CK: {
    uint8_t count = fuzz_u8(&in);
    uint64_t ts[3] = { fuzz_u64(&in), fuzz_u64(&in), fuzz_u64(&in) };
    n = rmp_am_encode_ck(out, sizeof out, a, count, ts);
    if (count > 2) {
      FUZZ_ASSERT(n == RMP_EAINVAL);
      break;
    }
    FUZZ_ASSERT(n == RMP_AM_CK_LEN && rmp_am_parse(out, (size_t)n, &p) == n);
    FUZZ_ASSERT(p.cmd == RMP_AM_CK && p.u.ck.ssrc == a && p.u.ck.count == count &&
                memcmp(p.u.ck.ts, ts, sizeof ts) == 0);
    FUZZ_ASSERT(p.u.ck.padding[0] == 0 && p.u.ck.padding[1] == 0 && p.u.ck.padding[2] == 0);
    break;
  }
  default: { /* RS */
    uint16_t seq = (uint16_t)b;
    n = rmp_am_encode_rs(out, sizeof out, a, seq);
    FUZZ_ASSERT(n == RMP_AM_RS_LEN && rmp_am_parse(out, (size_t)n, &p) == n);
    FUZZ_ASSERT(p.cmd == RMP_AM_RS && p.u.rs.ssrc == a && p.u.rs.seq == seq &&
                p.u.rs.raw == (uint32_t)seq << 16);
    break;
  }
  }
  return 0;
}
