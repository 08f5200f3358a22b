/* AppleMIDI session protocol packet codec. See applemidi.h. */
#include "applemidi.h"

#include <string.h>

static uint16_t rd16(const uint8_t *p) {
  return (uint16_t)(((unsigned)p[0] << 8) | p[1]);
}

static uint32_t rd32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) |
         (uint32_t)p[3];
}

static uint64_t rd64(const uint8_t *p) {
  return ((uint64_t)rd32(p) << 32) | rd32(p + 4);
}

static void wr16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static void wr64(uint8_t *p, uint64_t v) {
  wr32(p, (uint32_t)(v >> 32));
  wr32(p + 4, (uint32_t)v);
}

static void wr_header(uint8_t *p, uint16_t cmd) {
  wr16(p, (uint16_t)RMP_AM_SIGNATURE);
  wr16(p + 2, cmd);
}

int rmp_am_is_applemidi(const uint8_t *buf, size_t len) {
  return buf != NULL && len >= 2 && buf[0] == 0xFF && buf[1] == 0xFF;
}

/* IN / OK / NO: 16 fixed octets, then an optional NUL-terminated name. */
static int parse_invite(const uint8_t *buf, size_t len, rmp_am_invite *inv) {
  if (len < RMP_AM_INVITE_LEN) return RMP_EALEN;
  inv->version = rd32(buf + 4);
  inv->token = rd32(buf + 8);
  inv->ssrc = rd32(buf + 12);
  if (len == RMP_AM_INVITE_LEN) return RMP_AM_INVITE_LEN; /* no name */

  const uint8_t *name = buf + RMP_AM_INVITE_LEN;
  size_t avail = len - RMP_AM_INVITE_LEN;
  /* Look for the NUL among at most NAME_MAX + 1 octets, never beyond len. */
  size_t scan = avail < (size_t)RMP_AM_NAME_MAX + 1 ? avail : (size_t)RMP_AM_NAME_MAX + 1;
  size_t i;
  for (i = 0; i < scan; i++)
    if (name[i] == 0) break;
  if (i == scan) {
    /* No NUL found: either the packet ended or the name is too long. */
    return avail <= (size_t)RMP_AM_NAME_MAX ? RMP_EANAMETRUNC : RMP_EANAMELONG;
  }
  memcpy(inv->name, name, i);
  inv->name[i] = '\0';
  inv->name_len = i;
  inv->has_name = 1;
  return (int)(RMP_AM_INVITE_LEN + i + 1);
}

int rmp_am_parse(const uint8_t *buf, size_t len, rmp_am_packet *out) {
  if (out == NULL) return RMP_EAINVAL;
  memset(out, 0, sizeof *out);
  if (buf == NULL) return len == 0 ? RMP_EATRUNC : RMP_EAINVAL;
  if (len < 2) return RMP_EATRUNC;
  if (rd16(buf) != RMP_AM_SIGNATURE) return RMP_EASIG;
  if (len < RMP_AM_HEADER_LEN) return RMP_EATRUNC;
  out->cmd = rd16(buf + 2);

  switch (out->cmd) {
    case RMP_AM_IN:
    case RMP_AM_OK:
    case RMP_AM_NO:
      return parse_invite(buf, len, &out->u.inv);

    case RMP_AM_BY:
      if (len < RMP_AM_INVITE_LEN) return RMP_EALEN;
      out->u.by.version = rd32(buf + 4);
      out->u.by.token = rd32(buf + 8);
      out->u.by.ssrc = rd32(buf + 12);
      return RMP_AM_INVITE_LEN;

    case RMP_AM_CK:
      if (len != RMP_AM_CK_LEN) return RMP_EALEN;
      out->u.ck.ssrc = rd32(buf + 4);
      out->u.ck.count = buf[8];
      memcpy(out->u.ck.padding, buf + 9, 3);
      for (int k = 0; k < 3; k++) out->u.ck.ts[k] = rd64(buf + 12 + 8 * k);
      if (out->u.ck.count > 2) return RMP_EACKCOUNT;
      return RMP_AM_CK_LEN;

    case RMP_AM_RS:
      if (len != RMP_AM_RS_LEN) return RMP_EALEN;
      out->u.rs.ssrc = rd32(buf + 4);
      out->u.rs.raw = rd32(buf + 8);
      out->u.rs.seq = (uint16_t)(out->u.rs.raw >> 16);
      return RMP_AM_RS_LEN;

    default:
      return RMP_EAUNKNOWN;
  }
}

/* Length of name to encode: stop at NUL, at most RMP_AM_NAME_MAX octets, and
 * if cut, back off so that a UTF-8 multi-octet sequence is not split. */
static size_t name_encode_len(const char *name) {
  const unsigned char *s = (const unsigned char *)name;
  size_t n = 0;
  while (n <= (size_t)RMP_AM_NAME_MAX && s[n] != 0) n++;
  if (n <= (size_t)RMP_AM_NAME_MAX) return n; /* fits whole */
  n = RMP_AM_NAME_MAX;
  /* s[n] is the first octet dropped; if it is a continuation octet
   * (10xxxxxx), the character it belongs to starts earlier: drop it too. */
  while (n > 0 && (s[n] & 0xC0) == 0x80) n--;
  return n;
}

static int encode_invite_v(uint8_t *buf, size_t cap, uint16_t cmd, uint32_t version,
                           uint32_t token, uint32_t ssrc, const char *name) {
  if (buf == NULL) return RMP_EAINVAL;
  if (cmd != RMP_AM_IN && cmd != RMP_AM_OK && cmd != RMP_AM_NO) return RMP_EAINVAL;
  size_t nlen = name ? name_encode_len(name) : 0;
  size_t total = RMP_AM_INVITE_LEN + (name ? nlen + 1 : 0);
  if (cap < total) return RMP_EABUF;
  wr_header(buf, cmd);
  wr32(buf + 4, version);
  wr32(buf + 8, token);
  wr32(buf + 12, ssrc);
  if (name) {
    memcpy(buf + RMP_AM_INVITE_LEN, name, nlen);
    buf[RMP_AM_INVITE_LEN + nlen] = 0;
  }
  return (int)total;
}

int rmp_am_encode_invite(uint8_t *buf, size_t cap, uint16_t cmd, uint32_t token,
                         uint32_t ssrc, const char *name) {
  return encode_invite_v(buf, cap, cmd, RMP_AM_VERSION, token, ssrc, name);
}

static int encode_bye_v(uint8_t *buf, size_t cap, uint32_t version, uint32_t token,
                        uint32_t ssrc) {
  if (buf == NULL) return RMP_EAINVAL;
  if (cap < RMP_AM_INVITE_LEN) return RMP_EABUF;
  wr_header(buf, RMP_AM_BY);
  wr32(buf + 4, version);
  wr32(buf + 8, token);
  wr32(buf + 12, ssrc);
  return RMP_AM_INVITE_LEN;
}

int rmp_am_encode_bye(uint8_t *buf, size_t cap, uint32_t token, uint32_t ssrc) {
  return encode_bye_v(buf, cap, RMP_AM_VERSION, token, ssrc);
}

int rmp_am_encode_ck(uint8_t *buf, size_t cap, uint32_t ssrc, uint8_t count,
                     const uint64_t ts[3]) {
  if (buf == NULL || ts == NULL || count > 2) return RMP_EAINVAL;
  if (cap < RMP_AM_CK_LEN) return RMP_EABUF;
  wr_header(buf, RMP_AM_CK);
  wr32(buf + 4, ssrc);
  buf[8] = count;
  buf[9] = buf[10] = buf[11] = 0;
  for (int k = 0; k < 3; k++) wr64(buf + 12 + 8 * k, ts[k]);
  return RMP_AM_CK_LEN;
}

int rmp_am_encode_rs(uint8_t *buf, size_t cap, uint32_t ssrc, uint16_t seq) {
  if (buf == NULL) return RMP_EAINVAL;
  if (cap < RMP_AM_RS_LEN) return RMP_EABUF;
  wr_header(buf, RMP_AM_RS);
  wr32(buf + 4, ssrc);
  wr32(buf + 8, (uint32_t)seq << 16);
  return RMP_AM_RS_LEN;
}

int rmp_am_encode(uint8_t *buf, size_t cap, const rmp_am_packet *pkt) {
  if (pkt == NULL) return RMP_EAINVAL;
  switch (pkt->cmd) {
    case RMP_AM_IN:
    case RMP_AM_OK:
    case RMP_AM_NO: {
      const rmp_am_invite *inv = &pkt->u.inv;
      /* name[] is always NUL-terminated within its array. */
      char name[RMP_AM_NAME_MAX + 1];
      memcpy(name, inv->name, sizeof name);
      name[RMP_AM_NAME_MAX] = '\0';
      return encode_invite_v(buf, cap, pkt->cmd, inv->version, inv->token, inv->ssrc,
                             inv->has_name ? name : NULL);
    }
    case RMP_AM_BY:
      return encode_bye_v(buf, cap, pkt->u.by.version, pkt->u.by.token, pkt->u.by.ssrc);
    case RMP_AM_CK:
      return rmp_am_encode_ck(buf, cap, pkt->u.ck.ssrc, pkt->u.ck.count, pkt->u.ck.ts);
    case RMP_AM_RS:
      return rmp_am_encode_rs(buf, cap, pkt->u.rs.ssrc, pkt->u.rs.seq);
    default:
      return RMP_EAINVAL;
  }
}

int rmp_am_ck_compute(const rmp_am_ck *ck, rmp_am_ck_result *res) {
  if (ck == NULL || res == NULL) return RMP_EAINVAL;
  if (ck->count != 2) return RMP_EACKCOUNT;
  uint64_t t1 = ck->ts[0], t2 = ck->ts[1], t3 = ck->ts[2];
  if (t3 < t1) return RMP_EACKTIME;
  uint64_t rtt = t3 - t1;
  uint64_t mid = t1 + rtt / 2; /* (t1 + t3) / 2 without overflow */
  int64_t offset;
  if (t2 >= mid) {
    uint64_t d = t2 - mid;
    if (d > (uint64_t)INT64_MAX) return RMP_EACKTIME;
    offset = (int64_t)d;
  } else {
    uint64_t d = mid - t2;
    if (d > (uint64_t)INT64_MAX) return RMP_EACKTIME; /* keeps -d representable */
    offset = -(int64_t)d;
  }
  res->rtt = rtt;
  res->latency = rtt / 2;
  res->offset = offset;
  return 0;
}

const char *rmp_am_cmd_name(uint16_t cmd) {
  switch (cmd) {
    case RMP_AM_IN: return "IN";
    case RMP_AM_OK: return "OK";
    case RMP_AM_NO: return "NO";
    case RMP_AM_BY: return "BY";
    case RMP_AM_CK: return "CK";
    case RMP_AM_RS: return "RS";
    case RMP_AM_RL: return "RL";
    default: return "unknown";
  }
}

const char *rmp_am_strerror(int err) {
  if (err >= 0) return "ok";
  switch (err) {
    case RMP_EATRUNC: return "packet shorter than the AppleMIDI header";
    case RMP_EASIG: return "bad AppleMIDI signature";
    case RMP_EAUNKNOWN: return "unknown AppleMIDI command";
    case RMP_EALEN: return "wrong length for AppleMIDI command";
    case RMP_EANAMETRUNC: return "session name not NUL-terminated";
    case RMP_EANAMELONG: return "session name too long";
    case RMP_EACKCOUNT: return "bad CK count";
    case RMP_EABUF: return "output buffer too small";
    case RMP_EAINVAL: return "invalid argument";
    case RMP_EACKTIME: return "inconsistent CK timestamps";
    default: return "unknown error";
  }
}
