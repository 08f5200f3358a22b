/* Unit tests for csrc/proto/applemidi.c (AppleMIDI session packet codec).
 * All expected byte vectors are written out by hand, field by field. */
#include <stdlib.h>
#include <string.h>

#include "applemidi.h"
#include "check.h"

/* Parse from a heap copy of exactly len octets, so that ASan reports any
 * read past the end. */
static int parse_exact(const uint8_t *src, size_t len, rmp_am_packet *out) {
  uint8_t *p = malloc(len ? len : 1);
  if (!p) abort();
  if (len) memcpy(p, src, len);
  int r = rmp_am_parse(p, len, out);
  free(p);
  return r;
}

/* ---- hand-computed vectors ---------------------------------------------- */

static const uint8_t V_IN[] = {
  0xff, 0xff,             /* signature */
  0x49, 0x4e,             /* 'I' 'N' */
  0x00, 0x00, 0x00, 0x02, /* protocol version 2 */
  0x12, 0x34, 0x56, 0x78, /* initiator token 0x12345678 */
  0xaa, 0xbb, 0xcc, 0xdd, /* SSRC 0xAABBCCDD */
  0x4c, 0x75, 0x61, 0x00  /* name "Lua" + NUL */
};

static const uint8_t V_OK[] = {
  0xff, 0xff,             /* signature */
  0x4f, 0x4b,             /* 'O' 'K' */
  0x00, 0x00, 0x00, 0x02, /* version 2 */
  0x12, 0x34, 0x56, 0x78, /* token (echoes the initiator's) */
  0x01, 0x02, 0x03, 0x04  /* SSRC 0x01020304, no name */
};

static const uint8_t V_NO[] = {
  0xff, 0xff,             /* signature */
  0x4e, 0x4f,             /* 'N' 'O' */
  0x00, 0x00, 0x00, 0x02, /* version 2 */
  0xfe, 0xdc, 0xba, 0x98, /* token 0xFEDCBA98 */
  0x00, 0x00, 0x00, 0x01, /* SSRC 1 */
  0x00                    /* empty name: just the NUL */
};

static const uint8_t V_BY[] = {
  0xff, 0xff,             /* signature */
  0x42, 0x59,             /* 'B' 'Y' */
  0x00, 0x00, 0x00, 0x02, /* version 2 */
  0x12, 0x34, 0x56, 0x78, /* token */
  0xaa, 0xbb, 0xcc, 0xdd  /* SSRC */
};

static const uint8_t V_CK[] = {
  0xff, 0xff,                                     /* signature */
  0x43, 0x4b,                                     /* 'C' 'K' */
  0x01, 0x02, 0x03, 0x04,                         /* SSRC 0x01020304 */
  0x01,                                           /* count 1 */
  0x00, 0x00, 0x00,                               /* padding */
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x27, 0x10, /* ts1 = 10000 (1 s) */
  0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, /* ts2 = 2^32 */
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00  /* ts3 = 0 */
};

static const uint8_t V_RS[] = {
  0xff, 0xff,             /* signature */
  0x52, 0x53,             /* 'R' 'S' */
  0xde, 0xad, 0xbe, 0xef, /* SSRC 0xDEADBEEF */
  0x12, 0x34, 0x00, 0x00  /* seq 0x1234 in the high 16 bits, low 16 zero */
};

static const uint8_t V_RL[] = {
  0xff, 0xff,             /* signature */
  0x52, 0x4c,             /* 'R' 'L' (bit-rate limit, unsupported) */
  0xde, 0xad, 0xbe, 0xef, /* SSRC */
  0x00, 0x00, 0x10, 0x00  /* limit */
};

/* ---- captured from node-rtpmidi 1.0.0 -----------------------------------
 * tshark -i lo, two spec/peers/node_peer.js instances on 127.0.0.1: peerA
 * (control 5006, SSRC 0xA6D6EC9D) invited peerB (control 5004, SSRC
 * 0x474CAAF1). See spec/peers/README.md. Frame numbers are from that capture. */

/* frame 1: peerA 5006 -> 5004, IN */
static const uint8_t CAP_IN[] = {
  0xff, 0xff, 0x49, 0x4e, /* sig, 'IN' */
  0x00, 0x00, 0x00, 0x02, /* version 2 */
  0x81, 0xe3, 0x85, 0xb5, /* token */
  0xa6, 0xd6, 0xec, 0x9d, /* SSRC peerA */
  0x70, 0x65, 0x65, 0x72, 0x41, 0x00 /* "peerA" NUL */
};
/* frame 2: peerB 5004 -> 5006, OK */
static const uint8_t CAP_OK[] = {
  0xff, 0xff, 0x4f, 0x4b, /* sig, 'OK' */
  0x00, 0x00, 0x00, 0x02, /* version 2 */
  0x81, 0xe3, 0x85, 0xb5, /* token (peerA's) */
  0x47, 0x4c, 0xaa, 0xf1, /* SSRC peerB */
  0x70, 0x65, 0x65, 0x72, 0x42, 0x00 /* "peerB" NUL */
};
/* frames 5, 6, 7: CK exchange initiated by peerA on the data ports.
 * node-rtpmidi writes only the low 32 bits of each timestamp. */
static const uint8_t CAP_CK0[] = {
  0xff, 0xff, 0x43, 0x4b, 0xa6, 0xd6, 0xec, 0x9d, /* 'CK', SSRC peerA */
  0x00, 0x00, 0x00, 0x00,                         /* count 0, padding */
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x75, 0xb6, /* ts1 = 30134 */
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* ts2 = 0 */
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00  /* ts3 = 0 */
};
static const uint8_t CAP_CK1[] = {
  0xff, 0xff, 0x43, 0x4b, 0x47, 0x4c, 0xaa, 0xf1, /* 'CK', SSRC peerB */
  0x01, 0x00, 0x00, 0x00,                         /* count 1, padding */
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x75, 0xb6, /* ts1 = 30134 (copied) */
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x89, 0x46, /* ts2 = 35142 */
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x89, 0x46  /* ts3 = 35142 (node fills it too) */
};
static const uint8_t CAP_CK2[] = {
  0xff, 0xff, 0x43, 0x4b, 0xa6, 0xd6, 0xec, 0x9d, /* 'CK', SSRC peerA */
  0x02, 0x00, 0x00, 0x00,                         /* count 2, padding */
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x75, 0xb6, /* ts1 = 30134 */
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x89, 0x46, /* ts2 = 35142 */
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x75, 0xe9  /* ts3 = 30185 */
};
/* frame 19: a later count-0 CK from peerA: node-rtpmidi puts
 * now - timeDifference in ts2 and now + latency in ts3. */
static const uint8_t CAP_CK0_LATER[] = {
  0xff, 0xff, 0x43, 0x4b, 0xa6, 0xd6, 0xec, 0x9d, /* 'CK', SSRC peerA */
  0x00, 0x00, 0x00, 0x00,                         /* count 0, padding */
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xb0, 0x4f, /* ts1 = 45135 */
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc3, 0xdf, /* ts2 = 50143 */
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xb0, 0x82  /* ts3 = 45186 */
};
/* frame 17: peerB 5004 -> 5006, RS */
static const uint8_t CAP_RS[] = {
  0xff, 0xff, 0x52, 0x53, /* sig, 'RS' */
  0x47, 0x4c, 0xaa, 0xf1, /* SSRC peerB */
  0xfd, 0x68, 0x00, 0x00  /* seq 0xFD68 = 64872 in the high 16 bits */
};
/* frame 22: peerA 5006 -> 5004, BY. node-rtpmidi appends the REMOTE
 * session's name as it stored it (with its NUL) plus another NUL. */
static const uint8_t CAP_BY[] = {
  0xff, 0xff, 0x42, 0x59, /* sig, 'BY' */
  0x00, 0x00, 0x00, 0x02, /* version 2 */
  0x81, 0xe3, 0x85, 0xb5, /* token */
  0xa6, 0xd6, 0xec, 0x9d, /* SSRC peerA */
  0x70, 0x65, 0x65, 0x72, 0x42, 0x00, 0x00 /* "peerB" NUL NUL */
};
/* frame 9: RTP-MIDI on the data port (not AppleMIDI): V=2, PT 0x61, seq
 * 0xFD66, ts 0x000075EF, SSRC peerA, command section len 3: 90 3c 64. */
static const uint8_t CAP_RTP[] = {
  0x80, 0x61, 0xfd, 0x66, 0x00, 0x00, 0x75, 0xef,
  0xa6, 0xd6, 0xec, 0x9d, 0x03, 0x90, 0x3c, 0x64
};

/* ---- tests ---------------------------------------------------------------- */

static void test_vectors_encode(void) {
  uint8_t b[RMP_AM_MAX_LEN];
  CHECK_INT(rmp_am_encode_invite(b, sizeof b, RMP_AM_IN, 0x12345678u, 0xAABBCCDDu, "Lua"),
            (int)sizeof V_IN);
  CHECK_MEM(b, sizeof V_IN, V_IN, sizeof V_IN);
  CHECK_INT(rmp_am_encode_invite(b, sizeof b, RMP_AM_OK, 0x12345678u, 0x01020304u, NULL),
            (int)sizeof V_OK);
  CHECK_MEM(b, sizeof V_OK, V_OK, sizeof V_OK);
  CHECK_INT(rmp_am_encode_invite(b, sizeof b, RMP_AM_NO, 0xFEDCBA98u, 1u, ""), (int)sizeof V_NO);
  CHECK_MEM(b, sizeof V_NO, V_NO, sizeof V_NO);
  CHECK_INT(rmp_am_encode_bye(b, sizeof b, 0x12345678u, 0xAABBCCDDu), (int)sizeof V_BY);
  CHECK_MEM(b, sizeof V_BY, V_BY, sizeof V_BY);
  const uint64_t ts[3] = {10000u, 0x100000000ull, 0u};
  CHECK_INT(rmp_am_encode_ck(b, sizeof b, 0x01020304u, 1, ts), (int)sizeof V_CK);
  CHECK_MEM(b, sizeof V_CK, V_CK, sizeof V_CK);
  CHECK_INT(rmp_am_encode_rs(b, sizeof b, 0xDEADBEEFu, 0x1234), (int)sizeof V_RS);
  CHECK_MEM(b, sizeof V_RS, V_RS, sizeof V_RS);
}

static void test_vectors_parse(void) {
  rmp_am_packet p;
  CHECK_INT(parse_exact(V_IN, sizeof V_IN, &p), 20);
  CHECK_INT(p.cmd, RMP_AM_IN);
  CHECK_INT(p.u.inv.version, 2);
  CHECK_INT(p.u.inv.token, 0x12345678u);
  CHECK_INT(p.u.inv.ssrc, 0xAABBCCDDu);
  CHECK_INT(p.u.inv.has_name, 1);
  CHECK_INT(p.u.inv.name_len, 3);
  CHECK(strcmp(p.u.inv.name, "Lua") == 0);

  CHECK_INT(parse_exact(V_OK, sizeof V_OK, &p), 16);
  CHECK_INT(p.cmd, RMP_AM_OK);
  CHECK_INT(p.u.inv.token, 0x12345678u);
  CHECK_INT(p.u.inv.ssrc, 0x01020304u);
  CHECK_INT(p.u.inv.has_name, 0);
  CHECK_INT(p.u.inv.name_len, 0);
  CHECK(p.u.inv.name[0] == '\0');

  CHECK_INT(parse_exact(V_NO, sizeof V_NO, &p), 17);
  CHECK_INT(p.cmd, RMP_AM_NO);
  CHECK_INT(p.u.inv.token, 0xFEDCBA98u);
  CHECK_INT(p.u.inv.ssrc, 1);
  CHECK_INT(p.u.inv.has_name, 1);
  CHECK_INT(p.u.inv.name_len, 0);

  CHECK_INT(parse_exact(V_BY, sizeof V_BY, &p), 16);
  CHECK_INT(p.cmd, RMP_AM_BY);
  CHECK_INT(p.u.by.version, 2);
  CHECK_INT(p.u.by.token, 0x12345678u);
  CHECK_INT(p.u.by.ssrc, 0xAABBCCDDu);

  CHECK_INT(parse_exact(V_CK, sizeof V_CK, &p), 36);
  CHECK_INT(p.cmd, RMP_AM_CK);
  CHECK_INT(p.u.ck.ssrc, 0x01020304u);
  CHECK_INT(p.u.ck.count, 1);
  CHECK(p.u.ck.ts[0] == 10000u);
  CHECK(p.u.ck.ts[1] == 0x100000000ull);
  CHECK(p.u.ck.ts[2] == 0u);

  CHECK_INT(parse_exact(V_RS, sizeof V_RS, &p), 12);
  CHECK_INT(p.cmd, RMP_AM_RS);
  CHECK_INT(p.u.rs.ssrc, 0xDEADBEEFu);
  CHECK_INT(p.u.rs.seq, 0x1234);
  CHECK_INT(p.u.rs.raw, 0x12340000u);
}

/* parse -> rmp_am_encode gives back the same octets */
static void roundtrip(const uint8_t *v, size_t n) {
  rmp_am_packet p;
  uint8_t b[RMP_AM_MAX_LEN];
  CHECK_INT(parse_exact(v, n, &p), (int)n);
  CHECK_INT(rmp_am_encode(b, sizeof b, &p), (int)n);
  CHECK_MEM(b, n, v, n);
}

static void test_roundtrip(void) {
  roundtrip(V_IN, sizeof V_IN);
  roundtrip(V_OK, sizeof V_OK);
  roundtrip(V_NO, sizeof V_NO);
  roundtrip(V_BY, sizeof V_BY);
  roundtrip(V_CK, sizeof V_CK);
  roundtrip(V_RS, sizeof V_RS);
  roundtrip(CAP_IN, sizeof CAP_IN);
  roundtrip(CAP_CK2, sizeof CAP_CK2);
  roundtrip(CAP_RS, sizeof CAP_RS);

  /* struct -> encode -> parse -> same fields, for every command */
  rmp_am_packet a, b;
  uint8_t buf[RMP_AM_MAX_LEN];
  memset(&a, 0, sizeof a);
  a.cmd = RMP_AM_CK;
  a.u.ck.ssrc = 0x80000001u;
  a.u.ck.count = 2;
  a.u.ck.ts[0] = 0xFFFFFFFFFFFFFFFFull;
  a.u.ck.ts[1] = 0x0123456789ABCDEFull;
  a.u.ck.ts[2] = 1;
  CHECK_INT(rmp_am_encode(buf, sizeof buf, &a), 36);
  CHECK_INT(rmp_am_parse(buf, 36, &b), 36);
  CHECK_INT(b.u.ck.count, 2);
  CHECK(b.u.ck.ts[0] == a.u.ck.ts[0] && b.u.ck.ts[1] == a.u.ck.ts[1] &&
        b.u.ck.ts[2] == a.u.ck.ts[2]);

  memset(&a, 0, sizeof a);
  a.cmd = RMP_AM_RS;
  a.u.rs.ssrc = 7;
  a.u.rs.seq = 0xFFFF;
  CHECK_INT(rmp_am_encode(buf, sizeof buf, &a), 12);
  CHECK_INT(rmp_am_parse(buf, 12, &b), 12);
  CHECK_INT(b.u.rs.seq, 0xFFFF);
  CHECK_INT(b.u.rs.raw, 0xFFFF0000u);

  memset(&a, 0, sizeof a);
  a.cmd = RMP_AM_OK;
  a.u.inv.version = 2;
  a.u.inv.token = 0xCAFEBABEu;
  a.u.inv.ssrc = 0x11223344u;
  a.u.inv.has_name = 1;
  memcpy(a.u.inv.name, "Session \xc3\xa9", 11); /* "Session é" + NUL */
  CHECK_INT(rmp_am_encode(buf, sizeof buf, &a), 16 + 10 + 1);
  CHECK_INT(rmp_am_parse(buf, 27, &b), 27);
  CHECK_INT(b.cmd, RMP_AM_OK);
  CHECK_INT(b.u.inv.token, 0xCAFEBABEu);
  CHECK_INT(b.u.inv.ssrc, 0x11223344u);
  CHECK_INT(b.u.inv.name_len, 10);
  CHECK(strcmp(b.u.inv.name, "Session \xc3\xa9") == 0);

  /* unknown cmd cannot be encoded */
  a.cmd = RMP_AM_RL;
  CHECK_INT(rmp_am_encode(buf, sizeof buf, &a), RMP_EAINVAL);
  CHECK_INT(rmp_am_encode(buf, sizeof buf, NULL), RMP_EAINVAL);
}

/* Every prefix shorter than the full packet fails (except where a prefix is
 * itself a valid packet: an IN/OK/NO cut right after the SSRC is a valid
 * packet without name). Exact-size heap copies catch over-reads. */
static void truncations(const uint8_t *v, size_t n, int named) {
  rmp_am_packet p;
  for (size_t l = 0; l < n; l++) {
    int r = parse_exact(v, l, &p);
    int want;
    if (l < 4) want = RMP_EATRUNC;
    else if (l < 16) want = RMP_EALEN;
    else if (named && l == 16) want = 16;
    else if (named) want = RMP_EANAMETRUNC;
    else want = RMP_EALEN;
    if (r != want) fprintf(stderr, "  truncation at %zu of %zu\n", l, n);
    CHECK_INT(r, want);
  }
}

static void test_truncation(void) {
  truncations(V_IN, sizeof V_IN, 1);
  truncations(V_NO, sizeof V_NO, 1);
  truncations(V_OK, sizeof V_OK, 0);
  truncations(V_BY, sizeof V_BY, 0);
  truncations(V_CK, sizeof V_CK, 0);
  truncations(V_RS, sizeof V_RS, 0);
  truncations(CAP_OK, sizeof CAP_OK, 1);
  /* a 1-octet buffer holding 0xFF: still too short */
  rmp_am_packet p;
  CHECK_INT(parse_exact(V_IN, 1, &p), RMP_EATRUNC);
  CHECK_INT(rmp_am_parse(NULL, 0, &p), RMP_EATRUNC);
  CHECK_INT(rmp_am_parse(NULL, 5, &p), RMP_EAINVAL);
  CHECK_INT(rmp_am_parse(V_IN, sizeof V_IN, NULL), RMP_EAINVAL);
}

static void test_wrong_length(void) {
  rmp_am_packet p;
  uint8_t b[64];
  /* CK one octet too long, RS one too long */
  memset(b, 0, sizeof b);
  memcpy(b, V_CK, sizeof V_CK);
  CHECK_INT(parse_exact(b, 37, &p), RMP_EALEN);
  memcpy(b, V_RS, sizeof V_RS);
  CHECK_INT(parse_exact(b, 13, &p), RMP_EALEN);
  /* BY with trailing octets (node-rtpmidi style) is accepted, 16 consumed */
  memcpy(b, V_BY, sizeof V_BY);
  b[16] = 'x';
  b[17] = 0;
  CHECK_INT(parse_exact(b, 18, &p), 16);
  /* IN with octets after the name's NUL: consumed stops at the NUL */
  memcpy(b, V_IN, sizeof V_IN);
  b[20] = 0xAB;
  b[21] = 0xCD;
  CHECK_INT(parse_exact(b, 22, &p), 20);
  CHECK(strcmp(p.u.inv.name, "Lua") == 0);
}

static void test_bad_signature(void) {
  rmp_am_packet p;
  uint8_t b[sizeof V_IN];
  memcpy(b, V_IN, sizeof b);
  b[1] = 0xfe; /* 0xFFFE */
  CHECK_INT(parse_exact(b, sizeof b, &p), RMP_EASIG);
  b[0] = 0x00;
  b[1] = 0xff; /* 0x00FF */
  CHECK_INT(parse_exact(b, sizeof b, &p), RMP_EASIG);
  CHECK_INT(parse_exact(b, 2, &p), RMP_EASIG); /* signature alone is enough to judge */
  CHECK_INT(parse_exact(CAP_RTP, sizeof CAP_RTP, &p), RMP_EASIG);
  CHECK_INT(rmp_am_is_applemidi(CAP_RTP, sizeof CAP_RTP), 0);
  CHECK_INT(rmp_am_is_applemidi(V_IN, sizeof V_IN), 1);
  CHECK_INT(rmp_am_is_applemidi(V_IN, 1), 0);
  CHECK_INT(rmp_am_is_applemidi(NULL, 4), 0);
}

static void test_unknown(void) {
  rmp_am_packet p;
  CHECK_INT(parse_exact(V_RL, sizeof V_RL, &p), RMP_EAUNKNOWN);
  CHECK_INT(p.cmd, RMP_AM_RL);
  CHECK(strcmp(rmp_am_cmd_name(p.cmd), "RL") == 0);
  const uint8_t zz[] = {0xff, 0xff, 0x5a, 0x5a}; /* 'ZZ', header only */
  CHECK_INT(parse_exact(zz, sizeof zz, &p), RMP_EAUNKNOWN);
  CHECK_INT(p.cmd, 0x5a5a);
  CHECK(strcmp(rmp_am_cmd_name(p.cmd), "unknown") == 0);
}

static void test_names_parse(void) {
  rmp_am_packet p;
  uint8_t b[16 + 80];
  memcpy(b, V_OK, 16);
  /* 64-octet name + NUL: accepted */
  memset(b + 16, 'n', 64);
  b[16 + 64] = 0;
  CHECK_INT(parse_exact(b, 16 + 65, &p), 81);
  CHECK_INT(p.u.inv.name_len, 64);
  CHECK_INT(strlen(p.u.inv.name), 64);
  CHECK_INT(p.u.inv.name[63], 'n');
  /* 65-octet name + NUL: too long */
  memset(b + 16, 'n', 65);
  b[16 + 65] = 0;
  CHECK_INT(parse_exact(b, 16 + 66, &p), RMP_EANAMELONG);
  /* 80 octets, no NUL at all: too long (more than 64 without NUL) */
  memset(b + 16, 'n', 80);
  CHECK_INT(parse_exact(b, 16 + 80, &p), RMP_EANAMELONG);
  /* exactly 65 octets, no NUL: too long */
  CHECK_INT(parse_exact(b, 16 + 65, &p), RMP_EANAMELONG);
  /* exactly 64 octets, no NUL: truncated */
  CHECK_INT(parse_exact(b, 16 + 64, &p), RMP_EANAMETRUNC);
  /* "abc" without NUL: truncated */
  memcpy(b + 16, "abc", 3);
  CHECK_INT(parse_exact(b, 19, &p), RMP_EANAMETRUNC);
}

static void test_names_encode(void) {
  uint8_t b[RMP_AM_MAX_LEN + 8];
  rmp_am_packet p;
  char name[80];

  /* 70 ASCII octets -> cut to 64 */
  memset(name, 'x', 70);
  name[70] = 0;
  CHECK_INT(rmp_am_encode_invite(b, sizeof b, RMP_AM_IN, 1, 2, name), 16 + 64 + 1);
  CHECK_INT(parse_exact(b, 81, &p), 81);
  CHECK_INT(p.u.inv.name_len, 64);

  /* 63 'a' + "é" (c3 a9) = 65 octets: the é would be split -> 63 */
  memset(name, 'a', 63);
  memcpy(name + 63, "\xc3\xa9", 3);
  CHECK_INT(rmp_am_encode_invite(b, sizeof b, RMP_AM_IN, 1, 2, name), 16 + 63 + 1);
  CHECK_INT(b[16 + 62], 'a');
  CHECK_INT(b[16 + 63], 0);

  /* 62 'a' + "é" = 64 octets: fits whole */
  memset(name, 'a', 62);
  memcpy(name + 62, "\xc3\xa9", 3);
  CHECK_INT(rmp_am_encode_invite(b, sizeof b, RMP_AM_IN, 1, 2, name), 16 + 64 + 1);
  CHECK_INT(b[16 + 62], 0xc3);
  CHECK_INT(b[16 + 63], 0xa9);
  CHECK_INT(b[16 + 64], 0);

  /* 62 'a' + "€" (e2 82 ac) = 65 octets -> 62 */
  memset(name, 'a', 62);
  memcpy(name + 62, "\xe2\x82\xac", 4);
  CHECK_INT(rmp_am_encode_invite(b, sizeof b, RMP_AM_IN, 1, 2, name), 16 + 62 + 1);
  CHECK_INT(b[16 + 62], 0);

  /* 61 'a' + U+1F3B9 (f0 9f 8e b9) = 65 octets -> 61 */
  memset(name, 'a', 61);
  memcpy(name + 61, "\xf0\x9f\x8e\xb9", 5);
  CHECK_INT(rmp_am_encode_invite(b, sizeof b, RMP_AM_IN, 1, 2, name), 16 + 61 + 1);
  /* 60 'a' + U+1F3B9 = 64: fits */
  memset(name, 'a', 60);
  memcpy(name + 60, "\xf0\x9f\x8e\xb9", 5);
  CHECK_INT(rmp_am_encode_invite(b, sizeof b, RMP_AM_IN, 1, 2, name), 16 + 64 + 1);

  /* the encoder never reads past the 65th octet of the name: a 65-octet
   * heap buffer without NUL is fine */
  char *raw = malloc(65);
  memset(raw, 'z', 65);
  CHECK_INT(rmp_am_encode_invite(b, sizeof b, RMP_AM_IN, 1, 2, raw), 16 + 64 + 1);
  free(raw);
}

static void test_encode_errors(void) {
  uint8_t b[RMP_AM_MAX_LEN];
  const uint64_t ts[3] = {1, 2, 3};
  CHECK_INT(rmp_am_encode_invite(b, 19, RMP_AM_IN, 1, 2, "Lua"), RMP_EABUF);
  CHECK_INT(rmp_am_encode_invite(b, 20, RMP_AM_IN, 1, 2, "Lua"), 20);
  CHECK_INT(rmp_am_encode_invite(b, 15, RMP_AM_OK, 1, 2, NULL), RMP_EABUF);
  CHECK_INT(rmp_am_encode_invite(b, sizeof b, RMP_AM_BY, 1, 2, NULL), RMP_EAINVAL);
  CHECK_INT(rmp_am_encode_invite(NULL, sizeof b, RMP_AM_IN, 1, 2, NULL), RMP_EAINVAL);
  CHECK_INT(rmp_am_encode_bye(b, 15, 1, 2), RMP_EABUF);
  CHECK_INT(rmp_am_encode_ck(b, 35, 1, 0, ts), RMP_EABUF);
  CHECK_INT(rmp_am_encode_ck(b, sizeof b, 1, 3, ts), RMP_EAINVAL);
  CHECK_INT(rmp_am_encode_ck(b, sizeof b, 1, 0, NULL), RMP_EAINVAL);
  CHECK_INT(rmp_am_encode_rs(b, 11, 1, 2), RMP_EABUF);
}

static void test_ck_count(void) {
  rmp_am_packet p;
  uint8_t b[sizeof V_CK];
  memcpy(b, V_CK, sizeof b);
  b[8] = 3; /* count 3 */
  CHECK_INT(parse_exact(b, sizeof b, &p), RMP_EACKCOUNT);
  b[8] = 2;
  CHECK_INT(parse_exact(b, sizeof b, &p), 36);
}

static rmp_am_ck mk_ck(uint8_t count, uint64_t t1, uint64_t t2, uint64_t t3) {
  rmp_am_ck c;
  memset(&c, 0, sizeof c);
  c.count = count;
  c.ts[0] = t1;
  c.ts[1] = t2;
  c.ts[2] = t3;
  return c;
}

static void test_ck_compute(void) {
  rmp_am_ck_result r;
  rmp_am_ck c;

  /* t1=1000, t2=51000, t3=1100: rtt 100, latency 50,
   * offset = 51000 - (1000 + 50) = 49950 */
  c = mk_ck(2, 1000, 51000, 1100);
  CHECK_INT(rmp_am_ck_compute(&c, &r), 0);
  CHECK_INT(r.rtt, 100);
  CHECK_INT(r.latency, 50);
  CHECK_INT(r.offset, 49950);

  /* responder clock behind: t1=100000, t2=500, t3=100040: rtt 40,
   * latency 20, offset = 500 - 100020 = -99520 */
  c = mk_ck(2, 100000, 500, 100040);
  CHECK_INT(rmp_am_ck_compute(&c, &r), 0);
  CHECK_INT(r.rtt, 40);
  CHECK_INT(r.latency, 20);
  CHECK_INT(r.offset, -99520);

  /* odd rtt truncates: t1=10, t2=10, t3=13: rtt 3, latency 1,
   * offset = 10 - (10 + 1) = -1 */
  c = mk_ck(2, 10, 10, 13);
  CHECK_INT(rmp_am_ck_compute(&c, &r), 0);
  CHECK_INT(r.rtt, 3);
  CHECK_INT(r.latency, 1);
  CHECK_INT(r.offset, -1);

  /* zero rtt, same clock: offset 0 */
  c = mk_ck(2, 5, 5, 5);
  CHECK_INT(rmp_am_ck_compute(&c, &r), 0);
  CHECK_INT(r.rtt, 0);
  CHECK_INT(r.offset, 0);

  /* near the top of the range, (t1 + t3) would overflow but the result does
   * not: t1 = 2^64-11, t3 = 2^64-1, rtt 10, mid 2^64-6, t2 = 2^64-4 -> +2 */
  c = mk_ck(2, UINT64_MAX - 10, UINT64_MAX - 3, UINT64_MAX);
  CHECK_INT(rmp_am_ck_compute(&c, &r), 0);
  CHECK_INT(r.rtt, 10);
  CHECK_INT(r.latency, 5);
  CHECK_INT(r.offset, 2);

  /* errors */
  c = mk_ck(1, 1, 2, 3);
  CHECK_INT(rmp_am_ck_compute(&c, &r), RMP_EACKCOUNT);
  c = mk_ck(2, 100, 50, 99); /* t3 < t1 */
  CHECK_INT(rmp_am_ck_compute(&c, &r), RMP_EACKTIME);
  c = mk_ck(2, 0, UINT64_MAX, 0); /* offset 2^64-1 does not fit int64 */
  CHECK_INT(rmp_am_ck_compute(&c, &r), RMP_EACKTIME);
  c = mk_ck(2, 0, (uint64_t)INT64_MAX, 0); /* fits exactly */
  CHECK_INT(rmp_am_ck_compute(&c, &r), 0);
  CHECK(r.offset == INT64_MAX);
  c = mk_ck(2, UINT64_MAX, 0, UINT64_MAX); /* -(2^64-1): does not fit */
  CHECK_INT(rmp_am_ck_compute(&c, &r), RMP_EACKTIME);
  CHECK_INT(rmp_am_ck_compute(NULL, &r), RMP_EAINVAL);
  CHECK_INT(rmp_am_ck_compute(&c, NULL), RMP_EAINVAL);
}

static void test_names_and_errors(void) {
  CHECK(strcmp(rmp_am_cmd_name(RMP_AM_IN), "IN") == 0);
  CHECK(strcmp(rmp_am_cmd_name(RMP_AM_OK), "OK") == 0);
  CHECK(strcmp(rmp_am_cmd_name(RMP_AM_NO), "NO") == 0);
  CHECK(strcmp(rmp_am_cmd_name(RMP_AM_BY), "BY") == 0);
  CHECK(strcmp(rmp_am_cmd_name(RMP_AM_CK), "CK") == 0);
  CHECK(strcmp(rmp_am_cmd_name(RMP_AM_RS), "RS") == 0);
  CHECK(strcmp(rmp_am_cmd_name(0), "unknown") == 0);
  CHECK(strcmp(rmp_am_strerror(0), "ok") == 0);
  CHECK(strcmp(rmp_am_strerror(36), "ok") == 0);
  CHECK(strcmp(rmp_am_strerror(-999), "unknown error") == 0);
  /* every error code has its own message */
  for (int e = RMP_EACKTIME; e <= RMP_EATRUNC; e++) {
    CHECK(strcmp(rmp_am_strerror(e), "unknown error") != 0);
    for (int f = e + 1; f <= RMP_EATRUNC; f++)
      CHECK(strcmp(rmp_am_strerror(e), rmp_am_strerror(f)) != 0);
  }
}

static void test_captured_node_rtpmidi(void) {
  rmp_am_packet p;
  rmp_am_ck_result r;

  CHECK_INT(parse_exact(CAP_IN, sizeof CAP_IN, &p), 22);
  CHECK_INT(p.cmd, RMP_AM_IN);
  CHECK_INT(p.u.inv.version, 2);
  CHECK_INT(p.u.inv.token, 0x81e385b5u);
  CHECK_INT(p.u.inv.ssrc, 0xa6d6ec9du);
  CHECK(strcmp(p.u.inv.name, "peerA") == 0);

  CHECK_INT(parse_exact(CAP_OK, sizeof CAP_OK, &p), 22);
  CHECK_INT(p.cmd, RMP_AM_OK);
  CHECK_INT(p.u.inv.token, 0x81e385b5u);
  CHECK_INT(p.u.inv.ssrc, 0x474caaf1u);
  CHECK(strcmp(p.u.inv.name, "peerB") == 0);

  CHECK_INT(parse_exact(CAP_CK0, sizeof CAP_CK0, &p), 36);
  CHECK_INT(p.cmd, RMP_AM_CK);
  CHECK_INT(p.u.ck.ssrc, 0xa6d6ec9du);
  CHECK_INT(p.u.ck.count, 0);
  CHECK(p.u.ck.ts[0] == 30134u && p.u.ck.ts[1] == 0 && p.u.ck.ts[2] == 0);

  CHECK_INT(parse_exact(CAP_CK1, sizeof CAP_CK1, &p), 36);
  CHECK_INT(p.u.ck.ssrc, 0x474caaf1u);
  CHECK_INT(p.u.ck.count, 1);
  CHECK(p.u.ck.ts[0] == 30134u && p.u.ck.ts[1] == 35142u && p.u.ck.ts[2] == 35142u);

  CHECK_INT(parse_exact(CAP_CK2, sizeof CAP_CK2, &p), 36);
  CHECK_INT(p.u.ck.count, 2);
  CHECK(p.u.ck.ts[0] == 30134u && p.u.ck.ts[1] == 35142u && p.u.ck.ts[2] == 30185u);
  /* rtt = 30185 - 30134 = 51, latency 25, offset = 35142 - (30134 + 25) = 4983
   * (peerB's clock is ~0.5 s ahead of peerA's; node-rtpmidi itself computed
   * latency 51 = full rtt and timeDifference -5008 = t3 - t2 - rtt) */
  CHECK_INT(rmp_am_ck_compute(&p.u.ck, &r), 0);
  CHECK_INT(r.rtt, 51);
  CHECK_INT(r.latency, 25);
  CHECK_INT(r.offset, 4983);

  CHECK_INT(parse_exact(CAP_CK0_LATER, sizeof CAP_CK0_LATER, &p), 36);
  CHECK_INT(p.u.ck.count, 0);
  CHECK(p.u.ck.ts[0] == 45135u && p.u.ck.ts[1] == 50143u && p.u.ck.ts[2] == 45186u);

  CHECK_INT(parse_exact(CAP_RS, sizeof CAP_RS, &p), 12);
  CHECK_INT(p.cmd, RMP_AM_RS);
  CHECK_INT(p.u.rs.ssrc, 0x474caaf1u);
  CHECK_INT(p.u.rs.seq, 0xfd68); /* = RTP seq of peerA's last MIDI packet */

  CHECK_INT(parse_exact(CAP_BY, sizeof CAP_BY, &p), 16);
  CHECK_INT(p.cmd, RMP_AM_BY);
  CHECK_INT(p.u.by.version, 2);
  CHECK_INT(p.u.by.token, 0x81e385b5u);
  CHECK_INT(p.u.by.ssrc, 0xa6d6ec9du);

  /* our encoder reproduces node-rtpmidi's IN/OK/CK/RS octet for octet */
  uint8_t b[RMP_AM_MAX_LEN];
  CHECK_INT(rmp_am_encode_invite(b, sizeof b, RMP_AM_IN, 0x81e385b5u, 0xa6d6ec9du, "peerA"), 22);
  CHECK_MEM(b, 22, CAP_IN, sizeof CAP_IN);
  CHECK_INT(rmp_am_encode_invite(b, sizeof b, RMP_AM_OK, 0x81e385b5u, 0x474caaf1u, "peerB"), 22);
  CHECK_MEM(b, 22, CAP_OK, sizeof CAP_OK);
  const uint64_t ts[3] = {30134u, 35142u, 30185u};
  CHECK_INT(rmp_am_encode_ck(b, sizeof b, 0xa6d6ec9du, 2, ts), 36);
  CHECK_MEM(b, 36, CAP_CK2, sizeof CAP_CK2);
  CHECK_INT(rmp_am_encode_rs(b, sizeof b, 0x474caaf1u, 0xfd68), 12);
  CHECK_MEM(b, 12, CAP_RS, sizeof CAP_RS);
}

/* Random packets after a valid header: the parser must stay within bounds
 * (checked by ASan on exact-size copies) and return consistent results. */
static void test_fuzz(void) {
  static const uint16_t cmds[] = {RMP_AM_IN, RMP_AM_OK, RMP_AM_NO, RMP_AM_BY,
                                  RMP_AM_CK, RMP_AM_RS, RMP_AM_RL, 0x0000};
  uint32_t x = 12345;
  int bad = 0;
  for (int i = 0; i < 20000; i++) {
    uint8_t b[100];
    for (size_t k = 0; k < sizeof b; k++) {
      x = x * 1103515245u + 12345u;
      b[k] = (uint8_t)(x >> 16);
      if ((x >> 8) % 5 == 0) b[k] = 0; /* plenty of NULs */
    }
    b[0] = b[1] = 0xff;
    uint16_t c = cmds[(x >> 20) % 8];
    b[2] = (uint8_t)(c >> 8);
    b[3] = (uint8_t)c;
    size_t len = (x >> 4) % sizeof b;
    rmp_am_packet p;
    int r = parse_exact(b, len, &p);
    if (r > (int)len) bad++;
    if (r > 0) {
      uint8_t e[RMP_AM_MAX_LEN];
      int w = rmp_am_encode(e, sizeof e, &p);
      /* re-encoding a parsed packet yields what was consumed */
      if (w != r || memcmp(e, b, (size_t)r) != 0) {
        /* CK padding and the low 16 bits of the RS field are re-encoded
         * as zero: for those only the length must match */
        if (!((p.cmd == RMP_AM_CK || p.cmd == RMP_AM_RS) && w == r)) bad++;
      }
    }
  }
  CHECK_INT(bad, 0);
}

int main(void) {
  test_vectors_encode();
  test_vectors_parse();
  test_roundtrip();
  test_truncation();
  test_wrong_length();
  test_bad_signature();
  test_unknown();
  test_names_parse();
  test_names_encode();
  test_encode_errors();
  test_ck_count();
  test_ck_compute();
  test_names_and_errors();
  test_captured_node_rtpmidi();
  test_fuzz();
  return check_report();
}
