/* Network MIDI 2.0 packet codec: see midi2.h for the layouts and where
 * each fact comes from ([Z] Zephyr, [A] amidi2net, [W] Windows MIDI
 * Services, [P] pymidi2). */
#include "midi2.h"

#include <string.h>

#include "ump.h"

static const uint8_t sig[4] = {'M', 'I', 'D', 'I'};

int rmp_m2_check(const uint8_t *buf, size_t len) {
  if (!buf || len < RMP_M2_SIG_LEN) return RMP_M2_ETRUNC;
  return memcmp(buf, sig, 4) == 0 ? 0 : RMP_M2_ESIG;
}

int rmp_m2_reader_init(rmp_m2_reader *r, const uint8_t *buf, size_t len) {
  r->p = buf;
  r->len = len;
  r->off = len;
  int rc = rmp_m2_check(buf, len);
  if (rc == 0) r->off = RMP_M2_SIG_LEN;
  return rc;
}

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A text field of n octets: up to the first zero ([W] ReadUtf8String). */
static rmp_m2_str text_at(const uint8_t *p, size_t n) {
  rmp_m2_str s = {(const char *)p, 0};
  const uint8_t *z = n ? memchr(p, 0, n) : NULL;
  s.len = z ? (size_t)(z - p) : n;
  return s;
}

/* True when the n big-endian words at p are whole UMP messages. */
static bool whole_be(const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    size_t k = rmp_ump_words(be32(p + 4 * i));
    if (k > n - i) return false;
    i += k;
  }
  return true;
}

int rmp_m2_read(rmp_m2_reader *r, rmp_m2_cmd *c) {
  memset(c, 0, sizeof *c);
  if (r->off >= r->len) return 0;
  if (r->len - r->off < RMP_M2_HEADER_LEN) {
    r->off = r->len;
    return RMP_M2_ETRUNC;
  }
  const uint8_t *p = r->p + r->off;
  c->header = be32(p);
  c->code = p[0];
  c->words = p[1];
  c->data = be16(p + 2);
  size_t plen = (size_t)c->words * 4;
  if (plen > r->len - r->off - RMP_M2_HEADER_LEN) {
    r->off = r->len;
    return RMP_M2_ETRUNC;
  }
  const uint8_t *pl = p + RMP_M2_HEADER_LEN;
  c->payload = pl;
  r->off += RMP_M2_HEADER_LEN + plen;
  unsigned w = c->words, hi = c->data >> 8, lo = c->data & 0xFF;
  if (c->code == RMP_M2_NAK_ALSA) c->code = RMP_M2_NAK; /* [A] sends NAK as 0x7F */
  switch (c->code) {
  case RMP_M2_INVITATION:
  case RMP_M2_ACCEPTED:
  case RMP_M2_PENDING:
    /* [W] "the name length is a portion of the payload": name words in byte 2 */
    if (hi > w) return RMP_M2_ELEN;
    c->u.inv.caps = (uint8_t)lo;
    c->u.inv.name = text_at(pl, hi * 4);
    c->u.inv.piid = text_at(pl + hi * 4, (w - hi) * 4);
    return 1;
  case RMP_M2_AUTH_REQUIRED:
  case RMP_M2_USER_AUTH_REQUIRED:
    /* nonce (4 words) first, then name and product instance id ([A] packet.c
     * __cmd_fill_invitation_reply_auth_req; [Z] netmidi2_send_invitation_reply) */
    if (w < 4 || hi > w - 4) return RMP_M2_ELEN;
    c->u.req.state = (uint8_t)lo;
    c->u.req.nonce = pl;
    c->u.req.name = text_at(pl + RMP_M2_NONCE_LEN, hi * 4);
    c->u.req.piid = text_at(pl + RMP_M2_NONCE_LEN + hi * 4, (w - 4 - hi) * 4);
    return 1;
  case RMP_M2_INVITATION_AUTH:
  case RMP_M2_INVITATION_USER_AUTH:
    /* digest, 8 words ([A] {8, 8} and {8, 255}; [Z] "Incomplete authentication digest") */
    if (w < 8) return RMP_M2_ELEN;
    c->u.auth.digest = pl;
    if (c->code == RMP_M2_INVITATION_USER_AUTH) c->u.auth.user = text_at(pl + 32, (w - 8) * 4);
    return 1;
  case RMP_M2_PING:
  case RMP_M2_PING_REPLY:
    if (w != 1) return RMP_M2_ELEN; /* [Z] "Invalid payload length for PING packet" */
    c->u.ping.id = be32(pl);
    return 1;
  case RMP_M2_RETRANSMIT_REQUEST:
    if (w != 1) return RMP_M2_ELEN;
    c->u.rtx.seq = c->data;
    c->u.rtx.count = be16(pl); /* [W] numberOfUmpCommands, then 16 reserved bits */
    return 1;
  case RMP_M2_RETRANSMIT_ERROR:
    if (w != 1) return RMP_M2_ELEN;
    c->u.rtx_err.reason = (uint8_t)hi;
    c->u.rtx_err.seq = be16(pl);
    return 1;
  case RMP_M2_SESSION_RESET:
  case RMP_M2_SESSION_RESET_REPLY:
  case RMP_M2_BYE_REPLY:
    return w == 0 ? 1 : RMP_M2_ELEN; /* [A] {0, 0} */
  case RMP_M2_NAK:
    if (w < 1) return RMP_M2_ELEN;
    c->u.nak.reason = (uint8_t)hi;
    c->u.nak.header = be32(pl);
    c->u.nak.text = text_at(pl + 4, (w - 1) * 4);
    return 1;
  case RMP_M2_BYE:
    c->u.bye.reason = (uint8_t)hi;
    c->u.bye.text = text_at(pl, w * 4);
    return 1;
  case RMP_M2_UMP_DATA:
    if (w > RMP_M2_MAX_UMP_WORDS) return RMP_M2_ELEN;
    c->u.ump.seq = c->data;
    c->u.ump.nwords = (uint8_t)w;
    c->u.ump.be = pl;
    /* [Z] "Invalid UMP payload size for its message type" is NAKed as malformed */
    if (!whole_be(pl, w)) return RMP_M2_EUMP;
    return 1;
  default:
    return RMP_M2_EUNKNOWN;
  }
}

/* ---- encoding ---- */

int rmp_m2_write_sig(uint8_t *buf, size_t cap) {
  if (!buf || cap < RMP_M2_SIG_LEN) return RMP_M2_ENOSPACE;
  memcpy(buf, sig, 4);
  return RMP_M2_SIG_LEN;
}

rmp_m2_str rmp_m2_cstr(const char *s) {
  rmp_m2_str r = {s ? s : "", s ? strlen(s) : 0};
  return r;
}

static size_t str_words(rmp_m2_str s) { return (s.len + 3) / 4; }

/* Payload words and command-specific data of c; < 0 when invalid. */
static int layout(const rmp_m2_cmd *c, uint16_t *data) {
  size_t w = 0;
  *data = 0;
  switch (c->code) {
  case RMP_M2_INVITATION:
  case RMP_M2_ACCEPTED:
  case RMP_M2_PENDING:
    if (c->u.inv.name.len > RMP_M2_NAME_MAX || c->u.inv.piid.len > RMP_M2_PIID_MAX) return RMP_M2_EINVAL;
    w = str_words(c->u.inv.name) + str_words(c->u.inv.piid);
    *data = (uint16_t)(str_words(c->u.inv.name) << 8 | c->u.inv.caps);
    break;
  case RMP_M2_AUTH_REQUIRED:
  case RMP_M2_USER_AUTH_REQUIRED:
    if (!c->u.req.nonce || c->u.req.name.len > RMP_M2_NAME_MAX || c->u.req.piid.len > RMP_M2_PIID_MAX)
      return RMP_M2_EINVAL;
    w = 4 + str_words(c->u.req.name) + str_words(c->u.req.piid);
    *data = (uint16_t)(str_words(c->u.req.name) << 8 | c->u.req.state);
    break;
  case RMP_M2_INVITATION_AUTH:
  case RMP_M2_INVITATION_USER_AUTH:
    if (!c->u.auth.digest) return RMP_M2_EINVAL;
    w = 8;
    if (c->code == RMP_M2_INVITATION_USER_AUTH) {
      if (c->u.auth.user.len > RMP_M2_CRED_MAX) return RMP_M2_EINVAL;
      w += str_words(c->u.auth.user);
    }
    break;
  case RMP_M2_PING:
  case RMP_M2_PING_REPLY:
    w = 1;
    break;
  case RMP_M2_RETRANSMIT_REQUEST:
    w = 1;
    *data = c->u.rtx.seq;
    break;
  case RMP_M2_RETRANSMIT_ERROR:
    w = 1;
    *data = (uint16_t)(c->u.rtx_err.reason << 8);
    break;
  case RMP_M2_SESSION_RESET:
  case RMP_M2_SESSION_RESET_REPLY:
  case RMP_M2_BYE_REPLY:
    break;
  case RMP_M2_NAK:
    if (c->u.nak.text.len > RMP_M2_TEXT_MAX) return RMP_M2_EINVAL;
    w = 1 + str_words(c->u.nak.text);
    *data = (uint16_t)(c->u.nak.reason << 8);
    break;
  case RMP_M2_BYE:
    if (c->u.bye.text.len > RMP_M2_TEXT_MAX) return RMP_M2_EINVAL;
    w = str_words(c->u.bye.text);
    *data = (uint16_t)(c->u.bye.reason << 8);
    break;
  case RMP_M2_UMP_DATA:
    w = c->u.ump.nwords;
    if (w > RMP_M2_MAX_UMP_WORDS || (w && !c->u.ump.words && !c->u.ump.be)) return RMP_M2_EINVAL;
    if (c->u.ump.words ? !rmp_ump_whole(c->u.ump.words, w) : (w && !whole_be(c->u.ump.be, w)))
      return RMP_M2_EINVAL;
    *data = c->u.ump.seq;
    break;
  default:
    if (c->words && !c->payload) return RMP_M2_EINVAL;
    w = c->words;
    *data = c->data;
    break;
  }
  if (w > RMP_M2_MAX_PAYLOAD_WORDS) return RMP_M2_EINVAL;
  return (int)w;
}

int rmp_m2_cmd_size(const rmp_m2_cmd *c) {
  uint16_t data;
  int w = c ? layout(c, &data) : RMP_M2_EINVAL;
  return w < 0 ? w : RMP_M2_HEADER_LEN + 4 * w;
}

/* Copies s and zero-pads it to whole words; returns the octets written. */
static size_t put_text(uint8_t *p, rmp_m2_str s) {
  size_t n = str_words(s) * 4;
  if (s.len) memcpy(p, s.p, s.len);
  memset(p + s.len, 0, n - s.len);
  return n;
}

static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v) {
  put16(p, (uint16_t)(v >> 16));
  put16(p + 2, (uint16_t)v);
}

int rmp_m2_write(uint8_t *buf, size_t cap, const rmp_m2_cmd *c) {
  if (!buf || !c) return RMP_M2_EINVAL;
  uint16_t data;
  int w = layout(c, &data);
  if (w < 0) return w;
  size_t total = RMP_M2_HEADER_LEN + 4 * (size_t)w;
  if (total > cap) return RMP_M2_ENOSPACE;
  uint8_t *p = buf;
  p[0] = c->code;
  p[1] = (uint8_t)w;
  put16(p + 2, data);
  p += RMP_M2_HEADER_LEN;
  switch (c->code) {
  case RMP_M2_INVITATION:
  case RMP_M2_ACCEPTED:
  case RMP_M2_PENDING:
    p += put_text(p, c->u.inv.name);
    put_text(p, c->u.inv.piid);
    break;
  case RMP_M2_AUTH_REQUIRED:
  case RMP_M2_USER_AUTH_REQUIRED:
    memcpy(p, c->u.req.nonce, RMP_M2_NONCE_LEN);
    p += RMP_M2_NONCE_LEN;
    p += put_text(p, c->u.req.name);
    put_text(p, c->u.req.piid);
    break;
  case RMP_M2_INVITATION_AUTH:
  case RMP_M2_INVITATION_USER_AUTH:
    memcpy(p, c->u.auth.digest, RMP_M2_DIGEST_LEN);
    if (c->code == RMP_M2_INVITATION_USER_AUTH) put_text(p + RMP_M2_DIGEST_LEN, c->u.auth.user);
    break;
  case RMP_M2_PING:
  case RMP_M2_PING_REPLY:
    put32(p, c->u.ping.id);
    break;
  case RMP_M2_RETRANSMIT_REQUEST:
    put16(p, c->u.rtx.count);
    put16(p + 2, 0);
    break;
  case RMP_M2_RETRANSMIT_ERROR:
    put16(p, c->u.rtx_err.seq);
    put16(p + 2, 0);
    break;
  case RMP_M2_SESSION_RESET:
  case RMP_M2_SESSION_RESET_REPLY:
  case RMP_M2_BYE_REPLY:
    break;
  case RMP_M2_NAK:
    put32(p, c->u.nak.header);
    put_text(p + 4, c->u.nak.text);
    break;
  case RMP_M2_BYE:
    put_text(p, c->u.bye.text);
    break;
  case RMP_M2_UMP_DATA:
    if (c->u.ump.words) rmp_ump_store_be(c->u.ump.words, (size_t)w, p);
    else if (w) memcpy(p, c->u.ump.be, 4 * (size_t)w);
    break;
  default:
    if (w) memcpy(p, c->payload, 4 * (size_t)w);
    break;
  }
  return (int)total;
}

int rmp_m2_writer_init(rmp_m2_writer *w, uint8_t *buf, size_t cap) {
  w->buf = buf;
  w->cap = cap;
  w->len = 0;
  int rc = rmp_m2_write_sig(buf, cap);
  if (rc > 0) w->len = (size_t)rc;
  return rc < 0 ? rc : 0;
}

int rmp_m2_writer_add(rmp_m2_writer *w, const rmp_m2_cmd *c) {
  int rc = rmp_m2_write(w->buf + w->len, w->cap - w->len, c);
  if (rc < 0) return rc;
  w->len += (size_t)rc;
  return 0;
}

int rmp_m2_digest(rmp_m2_sha256_fn fn, void *ctx, const uint8_t nonce[16], const char *a, size_t a_len,
                  const char *b, size_t b_len, uint8_t out[32]) {
  uint8_t buf[RMP_M2_NONCE_LEN + 2 * RMP_M2_CRED_MAX];
  if (!fn || !nonce || a_len > RMP_M2_CRED_MAX || b_len > RMP_M2_CRED_MAX || (a_len && !a) ||
      (b_len && !b))
    return RMP_M2_EINVAL;
  size_t n = 0;
  memcpy(buf, nonce, RMP_M2_NONCE_LEN);
  n += RMP_M2_NONCE_LEN;
  if (a_len) memcpy(buf + n, a, a_len);
  n += a_len;
  if (b_len) memcpy(buf + n, b, b_len);
  n += b_len;
  int rc = fn(ctx, buf, n, out);
  memset(buf, 0, sizeof buf);
  return rc;
}

const char *rmp_m2_code_name(uint8_t code) {
  switch (code) {
  case RMP_M2_INVITATION: return "Invitation";
  case RMP_M2_INVITATION_AUTH: return "Invitation with Authentication";
  case RMP_M2_INVITATION_USER_AUTH: return "Invitation with User Authentication";
  case RMP_M2_ACCEPTED: return "Invitation Reply: Accepted";
  case RMP_M2_PENDING: return "Invitation Reply: Pending";
  case RMP_M2_AUTH_REQUIRED: return "Invitation Reply: Authentication Required";
  case RMP_M2_USER_AUTH_REQUIRED: return "Invitation Reply: User Authentication Required";
  case RMP_M2_PING: return "Ping";
  case RMP_M2_PING_REPLY: return "Ping Reply";
  case RMP_M2_RETRANSMIT_REQUEST: return "Retransmit Request";
  case RMP_M2_RETRANSMIT_ERROR: return "Retransmit Error";
  case RMP_M2_SESSION_RESET: return "Session Reset";
  case RMP_M2_SESSION_RESET_REPLY: return "Session Reset Reply";
  case RMP_M2_NAK: case RMP_M2_NAK_ALSA: return "NAK";
  case RMP_M2_BYE: return "Bye";
  case RMP_M2_BYE_REPLY: return "Bye Reply";
  case RMP_M2_UMP_DATA: return "UMP Data";
  default: return "unknown";
  }
}

const char *rmp_m2_strerror(int err) {
  switch (err) {
  case RMP_M2_ETRUNC: return "truncated";
  case RMP_M2_ESIG: return "no MIDI signature";
  case RMP_M2_EUNKNOWN: return "unknown command";
  case RMP_M2_ELEN: return "wrong payload length";
  case RMP_M2_EUMP: return "UMP Data not whole messages";
  case RMP_M2_ENOSPACE: return "no space";
  case RMP_M2_EINVAL: return "invalid argument";
  default: return err >= 0 ? "ok" : "error";
  }
}
