/* Byte-level tests of the Network MIDI 2.0 packet codec (midi2.c).
 *
 * Every expected datagram is written out from what public implementations
 * put on the wire, quoted with its source:
 *   [Z] Zephyr subsys/net/lib/midi2/netmidi2.c
 *   [A] ALSA amidi2net (tiwai/amidi2net) packet.c / common.c / auth.c
 *   [W] Windows MIDI Services src/api/Transport/UdpNetworkMidi2Transport/
 *       MidiNetworkDataWriter.cpp
 *   [P] pymidi2 (titouanc/pymidi2) pymidi2/udp.py, pymidi2/transport.py and
 *       tests/test_midiudp.py (test_pymidi2 below)
 * and each layout is checked against at least two of them. */
#include "midi2.h"
#include "check.h"

#include <openssl/evp.h>
#include <stdlib.h>

/* Parses exactly one command of a datagram (copied to an exact-size heap
 * block so ASan sees any read past the end). */
static int parse1(const uint8_t *buf, size_t len, rmp_m2_cmd *c, uint8_t **keep) {
  uint8_t *copy = malloc(len ? len : 1);
  memcpy(copy, buf, len);
  *keep = copy;
  rmp_m2_reader r;
  int rc = rmp_m2_reader_init(&r, copy, len);
  if (rc < 0) return rc;
  rc = rmp_m2_read(&r, c);
  if (rc == 1) {
    rmp_m2_cmd end;
    CHECK_INT(rmp_m2_read(&r, &end), 0);
  }
  return rc;
}

/* Encodes one command into a datagram and compares with want. */
static void encode_is(const rmp_m2_cmd *c, const uint8_t *want, size_t want_len, int line) {
  uint8_t buf[1500];
  rmp_m2_writer w;
  CHECK_INT(rmp_m2_writer_init(&w, buf, sizeof buf), 0);
  int rc = rmp_m2_writer_add(&w, c);
  if (rc != 0) fprintf(stderr, "line %d: add -> %d\n", line, rc);
  CHECK_INT(rc, 0);
  CHECK_MEM(buf, w.len, want, want_len);
  CHECK_INT(rmp_m2_cmd_size(c), (int)want_len - 4);
}
#define ENCODE_IS(c, ...) do { \
    const uint8_t want_[] = {__VA_ARGS__}; \
    encode_is(c, want_, sizeof want_, __LINE__); \
  } while (0)

static bool str_is(rmp_m2_str s, const char *want) {
  return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

static void test_signature(void) {
  const uint8_t ok[] = {'M', 'I', 'D', 'I'};
  const uint8_t bad[] = {'M', 'I', 'D', 'X', 0x20, 0x01, 0, 0, 1, 2, 3, 4};
  CHECK_INT(rmp_m2_check(ok, 4), 0);
  CHECK_INT(rmp_m2_check(ok, 3), RMP_M2_ETRUNC);
  CHECK_INT(rmp_m2_check(bad, sizeof bad), RMP_M2_ESIG);
  CHECK_INT(rmp_m2_check(NULL, 0), RMP_M2_ETRUNC);
  /* a bare signature is a datagram with no commands */
  rmp_m2_reader r;
  rmp_m2_cmd c;
  CHECK_INT(rmp_m2_reader_init(&r, ok, 4), 0);
  CHECK_INT(rmp_m2_read(&r, &c), 0);
  CHECK_INT(rmp_m2_reader_init(&r, bad, sizeof bad), RMP_M2_ESIG);
  CHECK_INT(rmp_m2_read(&r, &c), 0);
}

static void test_invitation(void) {
  /* [A] __cmd_fill_invitation: buf[0] = cmd; buf[1] = payload words;
   *     buf[2] = ep_name words; buf[3] = caps; name, then product id.
   * [W] WriteCommandInvitation: InternalWriteCommandHeader(Invitation,
   *     payloadLengthIn32BitWords, umpEndpointNameLengthIn32BitWords, capabilities),
   *     WritePaddedString(name), WritePaddedString(productInstanceId).
   * Capabilities [Z][A][W]: bit 0 auth, bit 1 user auth. */
  rmp_m2_cmd c = {.code = RMP_M2_INVITATION};
  c.u.inv.caps = RMP_M2_CAP_AUTH | RMP_M2_CAP_USER_AUTH;
  c.u.inv.name = rmp_m2_cstr("studio");
  c.u.inv.piid = rmp_m2_cstr("P1");
  ENCODE_IS(&c, 'M', 'I', 'D', 'I', 0x01, 0x03, 0x02, 0x03,
            's', 't', 'u', 'd', 'i', 'o', 0, 0, 'P', '1', 0, 0);
  /* [A] pads every string with a terminator ((len + 4) / 4 words): a 4-octet
   * name takes 2 words. Read as the same name. */
  const uint8_t alsa[] = {'M', 'I', 'D', 'I', 0x01, 0x04, 0x02, 0x01, 'a', 'b', 'c', 'd', 0, 0, 0, 0,
                          'p', 'r', 'o', 'd', 0, 0, 0, 0};
  rmp_m2_cmd p;
  uint8_t *keep;
  CHECK_INT(parse1(alsa, sizeof alsa, &p, &keep), 1);
  CHECK_INT(p.code, RMP_M2_INVITATION);
  CHECK_INT(p.u.inv.caps, 1);
  CHECK(str_is(p.u.inv.name, "abcd"));
  CHECK(str_is(p.u.inv.piid, "prod"));
  CHECK_INT(p.header, 0x01040201);
  free(keep);
  /* [Z] netmidi2_send_invitation_reply: specific_data = (namelen_words << 8) |
   * authentication_state, namelen_words = DIV_ROUND_UP(namelen, 4), no
   * terminator; Accepted = 0x10. A 6-octet name and an empty product id: */
  const uint8_t zephyr[] = {'M', 'I', 'D', 'I', 0x10, 0x02, 0x02, 0x00, 'z', 'e', 'p', 'h', 'y', 'r', 0, 0};
  CHECK_INT(parse1(zephyr, sizeof zephyr, &p, &keep), 1);
  CHECK_INT(p.code, RMP_M2_ACCEPTED);
  CHECK(str_is(p.u.inv.name, "zephyr"));
  CHECK(str_is(p.u.inv.piid, ""));
  free(keep);
  rmp_m2_cmd acc = {.code = RMP_M2_ACCEPTED};
  acc.u.inv.name = rmp_m2_cstr("zephyr");
  ENCODE_IS(&acc, 'M', 'I', 'D', 'I', 0x10, 0x02, 0x02, 0x00, 'z', 'e', 'p', 'h', 'y', 'r', 0, 0);
  /* Pending (0x11) has the Accepted layout ([A] cmd_fill_invitation_reply_pending) */
  acc.code = RMP_M2_PENDING;
  acc.u.inv.name = rmp_m2_cstr("");
  acc.u.inv.piid = rmp_m2_cstr("abcde");
  ENCODE_IS(&acc, 'M', 'I', 'D', 'I', 0x11, 0x02, 0x00, 0x00, 'a', 'b', 'c', 'd', 'e', 0, 0, 0);
  /* a name length beyond the payload is malformed ([W] "Invitation declares
   * an endpoint name longer than its payload") */
  const uint8_t longname[] = {'M', 'I', 'D', 'I', 0x01, 0x01, 0x02, 0x00, 'a', 'b', 'c', 'd'};
  CHECK_INT(parse1(longname, sizeof longname, &p, &keep), RMP_M2_ELEN);
  CHECK_INT(p.code, RMP_M2_INVITATION);
  free(keep);
}

static void test_authentication(void) {
  uint8_t nonce[16], digest[32];
  for (int i = 0; i < 16; i++) nonce[i] = (uint8_t)(0xA0 + i);
  for (int i = 0; i < 32; i++) digest[i] = (uint8_t)i;
  /* [A] __cmd_fill_invitation_reply_auth_req: buf[1] = 4 + name + prod words,
   * buf[2] = name words, buf[3] = state, nonce (16) at +4, then the strings.
   * [Z] netmidi2_send_invitation_reply: total_words += nonce words, the nonce
   * first, then name and product instance id; 0x12 for a shared secret, 0x13
   * for users; state 0 first request, 1 incorrect digest. */
  rmp_m2_cmd c = {.code = RMP_M2_AUTH_REQUIRED};
  c.u.req.state = RMP_M2_AUTH_INCORRECT;
  c.u.req.nonce = nonce;
  c.u.req.name = rmp_m2_cstr("h");
  ENCODE_IS(&c, 'M', 'I', 'D', 'I', 0x12, 0x05, 0x01, 0x01,
            0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xAB, 0xAC, 0xAD, 0xAE, 0xAF,
            'h', 0, 0, 0);
  const uint8_t req[] = {'M', 'I', 'D', 'I', 0x13, 0x06, 0x01, 0x00,
                         1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 'h', 'o', 's', 't', 'p', 'i', 0, 0};
  rmp_m2_cmd p;
  uint8_t *keep;
  CHECK_INT(parse1(req, sizeof req, &p, &keep), 1);
  CHECK_INT(p.code, RMP_M2_USER_AUTH_REQUIRED);
  CHECK_INT(p.u.req.state, 0);
  CHECK(p.u.req.nonce && p.u.req.nonce[0] == 1 && p.u.req.nonce[15] == 16);
  CHECK(str_is(p.u.req.name, "host"));
  CHECK(str_is(p.u.req.piid, "pi"));
  free(keep);
  /* [A] cmd_fill_invitation_with_auth: buf[0] = 0x02; buf[1] = 8; buf[2] = buf[3] = 0;
   * the 32-octet digest. [Z] reads the digest from the payload start. */
  rmp_m2_cmd a = {.code = RMP_M2_INVITATION_AUTH};
  a.u.auth.digest = digest;
  ENCODE_IS(&a, 'M', 'I', 'D', 'I', 0x02, 0x08, 0x00, 0x00,
            0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,
            27, 28, 29, 30, 31);
  /* [A] cmd_fill_invitation_with_user_auth: 0x03, 8 + user words, 0, 0, digest,
   * user name. [Z] finds the user in the payload after the digest. */
  a.code = RMP_M2_INVITATION_USER_AUTH;
  a.u.auth.user = rmp_m2_cstr("alice");
  ENCODE_IS(&a, 'M', 'I', 'D', 'I', 0x03, 0x0A, 0x00, 0x00,
            0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,
            27, 28, 29, 30, 31, 'a', 'l', 'i', 'c', 'e', 0, 0, 0);
  uint8_t buf[64];
  size_t n = 4;
  memcpy(buf, "MIDI", 4);
  n += (size_t)rmp_m2_write(buf + 4, sizeof buf - 4, &a);
  CHECK_INT(parse1(buf, n, &p, &keep), 1);
  CHECK(str_is(p.u.auth.user, "alice"));
  CHECK(p.u.auth.digest && memcmp(p.u.auth.digest, digest, 32) == 0);
  free(keep);
  /* a digest shorter than 8 words is malformed ([A] {8, 8}) */
  const uint8_t shortd[] = {'M', 'I', 'D', 'I', 0x02, 0x01, 0, 0, 1, 2, 3, 4};
  CHECK_INT(parse1(shortd, sizeof shortd, &p, &keep), RMP_M2_ELEN);
  free(keep);
}

static int sha256_evp(void *ctx, const uint8_t *data, size_t len, uint8_t out[32]) {
  (void)ctx;
  unsigned n = 0;
  return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 && n == 32 ? 0 : -1;
}

/* The digest as [A] auth.c computes it: EVP_DigestUpdate(nonce, 16), then
 * the secret, or the user name then the password. */
static void alsa_digest(const uint8_t nonce[16], const char *a, const char *b, uint8_t out[32]) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  unsigned n = 0;
  EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
  EVP_DigestUpdate(ctx, nonce, 16);
  EVP_DigestUpdate(ctx, a, strlen(a));
  if (b) EVP_DigestUpdate(ctx, b, strlen(b));
  EVP_DigestFinal_ex(ctx, out, &n);
  EVP_MD_CTX_free(ctx);
}

static void hex_to(const char *hex, uint8_t *out) {
  for (int i = 0; i < 32; i++) {
    unsigned v;
    sscanf(hex + 2 * i, "%2x", &v);
    out[i] = (uint8_t)v;
  }
}

static void test_digest(void) {
  uint8_t nonce[16], got[32], want[32];
  for (int i = 0; i < 16; i++) nonce[i] = (uint8_t)i;
  /* [Z] netmidi2_auth_session: hash_update(nonce, NETMIDI2_NONCE_SIZE), then
   * hash_compute(shared_auth_secret, strlen); users: the name, then the
   * password. Known answers (Python hashlib.sha256(bytes(range(16)) + ...)): */
  CHECK_INT(rmp_m2_digest(sha256_evp, NULL, nonce, "secret", 6, NULL, 0, got), 0);
  hex_to("67557c0d86179c45199f096d85b7aeb2b8b34bf423c403ba517f72bcc5913c4c", want);
  CHECK_MEM(got, 32, want, 32);
  alsa_digest(nonce, "secret", NULL, want);
  CHECK_MEM(got, 32, want, 32);
  CHECK_INT(rmp_m2_digest(sha256_evp, NULL, nonce, "alice", 5, "wonderland", 10, got), 0);
  hex_to("cb84576cba1c0c3ff181c00eb92d598f34d7edd0bbca365f8cd66292d7b994ed", want);
  CHECK_MEM(got, 32, want, 32);
  alsa_digest(nonce, "alice", "wonderland", want);
  CHECK_MEM(got, 32, want, 32);
  char big[RMP_M2_CRED_MAX + 2];
  memset(big, 'x', sizeof big);
  CHECK_INT(rmp_m2_digest(sha256_evp, NULL, nonce, big, sizeof big, NULL, 0, got), RMP_M2_EINVAL);
  CHECK_INT(rmp_m2_digest(NULL, NULL, nonce, "a", 1, NULL, 0, got), RMP_M2_EINVAL);
}

static void test_ping_reset_bye(void) {
  /* [A] cmd_fill_ping: 0x20, 1, 0, 0, ping id; [W] WriteCommandPing:
   * InternalWriteCommandHeader(Ping, 1, 0), WriteUInt32(pingId). */
  rmp_m2_cmd c = {.code = RMP_M2_PING};
  c.u.ping.id = 0x12345678;
  ENCODE_IS(&c, 'M', 'I', 'D', 'I', 0x20, 0x01, 0x00, 0x00, 0x12, 0x34, 0x56, 0x78);
  /* [Z] replies to a Ping with netmidi2_quick_reply(COMMAND_PING_REPLY, 0,
   * the id, 1): 0x21, 1, 0, 0, id ([A] cmd_fill_ping_reply the same). */
  c.code = RMP_M2_PING_REPLY;
  ENCODE_IS(&c, 'M', 'I', 'D', 'I', 0x21, 0x01, 0x00, 0x00, 0x12, 0x34, 0x56, 0x78);
  /* a ping of 2 words is malformed ([Z] "Invalid payload length for PING
   * packet", NAKed); the reader still goes on to the next command */
  const uint8_t two[] = {'M', 'I', 'D', 'I', 0x20, 0x02, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0x21, 0x01, 0, 0, 9, 9, 9, 9};
  rmp_m2_reader r;
  rmp_m2_cmd p;
  CHECK_INT(rmp_m2_reader_init(&r, two, sizeof two), 0);
  CHECK_INT(rmp_m2_read(&r, &p), RMP_M2_ELEN);
  CHECK_INT(p.header, 0x20020000);
  CHECK_INT(rmp_m2_read(&r, &p), 1);
  CHECK_INT(p.code, RMP_M2_PING_REPLY);
  CHECK_INT(p.u.ping.id, 0x09090909);
  CHECK_INT(rmp_m2_read(&r, &p), 0);
  /* [A] cmd_fill_session_reset: 0x82, 0, 0, 0; cmd_fill_session_reset_reply:
   * 0x83, 0, 0, 0; [W] WriteCommandSessionReset(Reply): header with
   * MIDI_COMMAND_PAYLOAD_LENGTH_NO_PAYLOAD and 0. */
  rmp_m2_cmd s = {.code = RMP_M2_SESSION_RESET};
  ENCODE_IS(&s, 'M', 'I', 'D', 'I', 0x82, 0x00, 0x00, 0x00);
  s.code = RMP_M2_SESSION_RESET_REPLY;
  ENCODE_IS(&s, 'M', 'I', 'D', 'I', 0x83, 0x00, 0x00, 0x00);
  /* [Z] netmidi2_free_inactive_sessions sends {COMMAND_BYE, 0, 0x04, 0}: Bye,
   * no payload, reason Timeout (0x04) in byte 2. [A] cmd_fill_bye: 0xF0,
   * text words, reason, 0, text. [W] WriteCommandBye: header(Bye, text words,
   * reason, 0). */
  rmp_m2_cmd b = {.code = RMP_M2_BYE};
  b.u.bye.reason = RMP_M2_BYE_TIMEOUT;
  ENCODE_IS(&b, 'M', 'I', 'D', 'I', 0xF0, 0x00, 0x04, 0x00);
  b.u.bye.reason = RMP_M2_BYE_USER_TERMINATED;
  b.u.bye.text = rmp_m2_cstr("bye!!");
  ENCODE_IS(&b, 'M', 'I', 'D', 'I', 0xF0, 0x02, 0x01, 0x00, 'b', 'y', 'e', '!', '!', 0, 0, 0);
  /* [Z] replies COMMAND_BYE_REPLY, 0, NULL, 0; [A] cmd_fill_bye_reply */
  rmp_m2_cmd br = {.code = RMP_M2_BYE_REPLY};
  ENCODE_IS(&br, 'M', 'I', 'D', 'I', 0xF1, 0x00, 0x00, 0x00);
  const uint8_t zbye[] = {'M', 'I', 'D', 'I', 0xF0, 0, 0x04, 0};
  uint8_t *keep;
  CHECK_INT(parse1(zbye, sizeof zbye, &p, &keep), 1);
  CHECK_INT(p.code, RMP_M2_BYE);
  CHECK_INT(p.u.bye.reason, RMP_M2_BYE_TIMEOUT);
  CHECK_INT(p.u.bye.text.len, 0);
  free(keep);
  /* [A] {0, 0}: a reset with a payload is malformed */
  const uint8_t rs[] = {'M', 'I', 'D', 'I', 0x82, 0x01, 0, 0, 0, 0, 0, 0};
  CHECK_INT(parse1(rs, sizeof rs, &p, &keep), RMP_M2_ELEN);
  free(keep);
}

static void test_nak(void) {
  /* [Z] netmidi2_quick_nak: netmidi2_quick_reply(COMMAND_NAK (0x8F),
   * nak_reason << 8, &nakd_cmd_header, 1). [W] WriteCommandNAK: header(NAK,
   * 1 + text words, reason, 0), the original header, text. */
  rmp_m2_cmd c = {.code = RMP_M2_NAK};
  c.u.nak.reason = RMP_M2_NAK_NOT_SUPPORTED;
  c.u.nak.header = 0x55010203;
  ENCODE_IS(&c, 'M', 'I', 'D', 'I', 0x8F, 0x01, 0x01, 0x00, 0x55, 0x01, 0x02, 0x03);
  c.u.nak.reason = RMP_M2_NAK_MALFORMED;
  c.u.nak.text = rmp_m2_cstr("no");
  ENCODE_IS(&c, 'M', 'I', 'D', 'I', 0x8F, 0x02, 0x03, 0x00, 0x55, 0x01, 0x02, 0x03, 'n', 'o', 0, 0);
  /* [A] cmd_fill_nak writes UMP_NET_NAK = 0x7f, reason in buf[2]: read as a
   * NAK (answering it as an unknown command would NAK a NAK forever). */
  const uint8_t alsa[] = {'M', 'I', 'D', 'I', 0x7F, 0x01, 0x02, 0x00, 0xFF, 0x01, 0x00, 0x05};
  rmp_m2_cmd p;
  uint8_t *keep;
  CHECK_INT(parse1(alsa, sizeof alsa, &p, &keep), 1);
  CHECK_INT(p.code, RMP_M2_NAK);
  CHECK_INT(p.u.nak.reason, RMP_M2_NAK_NOT_EXPECTED);
  CHECK_INT(p.u.nak.header, 0xFF010005);
  free(keep);
}

static void test_retransmit(void) {
  /* [W] WriteCommandRetransmitRequest: header(RetransmitRequest, 1,
   * sequenceNumber), WriteUInt16(numberOfUmpCommands), WriteUInt16(0).
   * [A] cmd_fill_retransmit_req: 0x80, 1, seqno >> 8, seqno & 0xff, four zero
   * octets (count 0: everything from seqno; [W] clamps 0 to all it has). */
  rmp_m2_cmd c = {.code = RMP_M2_RETRANSMIT_REQUEST};
  c.u.rtx.seq = 0x1234;
  c.u.rtx.count = 3;
  ENCODE_IS(&c, 'M', 'I', 'D', 'I', 0x80, 0x01, 0x12, 0x34, 0x00, 0x03, 0x00, 0x00);
  const uint8_t alsa[] = {'M', 'I', 'D', 'I', 0x80, 0x01, 0xAB, 0xCD, 0, 0, 0, 0};
  rmp_m2_cmd p;
  uint8_t *keep;
  CHECK_INT(parse1(alsa, sizeof alsa, &p, &keep), 1);
  CHECK_INT(p.u.rtx.seq, 0xABCD);
  CHECK_INT(p.u.rtx.count, 0);
  free(keep);
  /* [A] cmd_fill_retransmit_err: 0x81, 1, reason, 0, seqno >> 8, seqno & 0xff,
   * 0, 0. [W] WriteCommandRetransmitError: header(RetransmitError, 1,
   * errorReason, 0), WriteUInt16(sequenceNumber), WriteUInt16(0). */
  rmp_m2_cmd e = {.code = RMP_M2_RETRANSMIT_ERROR};
  e.u.rtx_err.reason = RMP_M2_RTX_NO_DATA;
  e.u.rtx_err.seq = 0x0102;
  ENCODE_IS(&e, 'M', 'I', 'D', 'I', 0x81, 0x01, 0x01, 0x00, 0x01, 0x02, 0x00, 0x00);
}

static void test_ump_data(void) {
  /* [A] cmd_fill_ump_data: 0xFF, ump_len, seqno >> 8, seqno & 0xff, the UMP
   * words (network order). [W] WriteCommandUmpMessages:
   * header(UmpData, words.size(), sequenceNumber), WriteUInt32 each word. */
  const uint32_t words[] = {0x20903C64, 0x40913C00, 0xFFFF0000};
  rmp_m2_cmd c = {.code = RMP_M2_UMP_DATA};
  c.u.ump.seq = 0x0102;
  c.u.ump.nwords = 3;
  c.u.ump.words = words;
  ENCODE_IS(&c, 'M', 'I', 'D', 'I', 0xFF, 0x03, 0x01, 0x02,
            0x20, 0x90, 0x3C, 0x64, 0x40, 0x91, 0x3C, 0x00, 0xFF, 0xFF, 0x00, 0x00);
  /* [W] "Can be zero words, in which case a command is still sent out as a
   * keep-alive"; [A] {0, 64} */
  rmp_m2_cmd k = {.code = RMP_M2_UMP_DATA};
  k.u.ump.seq = 7;
  ENCODE_IS(&k, 'M', 'I', 'D', 'I', 0xFF, 0x00, 0x00, 0x07);
  /* Several commands in one datagram, as forward error correction sends the
   * previous ones first ([W] SendQueuedMidiMessagesToNetwork "write oldest
   * first"; [A] submit_ump_data from step_back + fec_count down). */
  const uint8_t fec[] = {'M', 'I', 'D', 'I',
                         0xFF, 0x01, 0x00, 0x01, 0x20, 0x90, 0x3C, 0x64,
                         0xFF, 0x02, 0x00, 0x02, 0x40, 0x80, 0x3C, 0x00, 0x00, 0x00, 0x00, 0x00,
                         0xFF, 0x00, 0x00, 0x03};
  rmp_m2_reader r;
  rmp_m2_cmd p;
  CHECK_INT(rmp_m2_reader_init(&r, fec, sizeof fec), 0);
  CHECK_INT(rmp_m2_read(&r, &p), 1);
  CHECK_INT(p.u.ump.seq, 1);
  CHECK_INT(p.u.ump.nwords, 1);
  CHECK(p.u.ump.be == fec + 8);
  CHECK_INT(rmp_m2_read(&r, &p), 1);
  CHECK_INT(p.u.ump.seq, 2);
  CHECK_INT(p.u.ump.nwords, 2);
  CHECK_INT(rmp_m2_read(&r, &p), 1);
  CHECK_INT(p.u.ump.seq, 3);
  CHECK_INT(p.u.ump.nwords, 0);
  CHECK_INT(rmp_m2_read(&r, &p), 0);
  /* UMP Data whose words are not whole messages is malformed ([Z] "Invalid
   * UMP payload size for its message type"); the next command is still read */
  const uint8_t cut[] = {'M', 'I', 'D', 'I', 0xFF, 0x01, 0x00, 0x09, 0x40, 0x90, 0x3C, 0x00,
                         0x82, 0x00, 0x00, 0x00};
  CHECK_INT(rmp_m2_reader_init(&r, cut, sizeof cut), 0);
  CHECK_INT(rmp_m2_read(&r, &p), RMP_M2_EUMP);
  CHECK_INT(p.u.ump.seq, 9);
  CHECK_INT(rmp_m2_read(&r, &p), 1);
  CHECK_INT(p.code, RMP_M2_SESSION_RESET);
  /* more than 64 words is malformed */
  static uint8_t big[4 + 4 + 65 * 4];
  memcpy(big, "MIDI", 4);
  big[4] = 0xFF;
  big[5] = 65;
  for (int i = 0; i < 65; i++) big[8 + 4 * i] = 0x20;
  uint8_t *keep;
  CHECK_INT(parse1(big, sizeof big, &p, &keep), RMP_M2_ELEN);
  free(keep);
  /* encode refuses what is not whole messages, and more than 64 words */
  const uint32_t half[] = {0x40903C00};
  rmp_m2_cmd h = {.code = RMP_M2_UMP_DATA};
  h.u.ump.nwords = 1;
  h.u.ump.words = half;
  uint8_t buf[300];
  CHECK_INT(rmp_m2_write(buf, sizeof buf, &h), RMP_M2_EINVAL);
  static uint32_t many[65];
  for (int i = 0; i < 65; i++) many[i] = 0x20903C64;
  h.u.ump.words = many;
  h.u.ump.nwords = 65;
  CHECK_INT(rmp_m2_write(buf, sizeof buf, &h), RMP_M2_EINVAL);
  h.u.ump.nwords = 64;
  CHECK_INT(rmp_m2_write(buf, sizeof buf, &h), 4 + 256);
}

static void test_malformed(void) {
  rmp_m2_reader r;
  rmp_m2_cmd p;
  /* header cut short */
  const uint8_t h3[] = {'M', 'I', 'D', 'I', 0x20, 0x01, 0x00};
  CHECK_INT(rmp_m2_reader_init(&r, h3, sizeof h3), 0);
  CHECK_INT(rmp_m2_read(&r, &p), RMP_M2_ETRUNC);
  CHECK_INT(rmp_m2_read(&r, &p), 0);
  /* payload past the end ([Z] NAKs "Incomplete UDP MIDI command packet payload") */
  const uint8_t past[] = {'M', 'I', 'D', 'I', 0xFF, 0x02, 0x00, 0x00, 0x20, 0x90, 0x3C, 0x64};
  CHECK_INT(rmp_m2_reader_init(&r, past, sizeof past), 0);
  CHECK_INT(rmp_m2_read(&r, &p), RMP_M2_ETRUNC);
  CHECK_INT(rmp_m2_read(&r, &p), 0);
  /* unknown code: skipped with its payload, fields set for the NAK */
  const uint8_t unk[] = {'M', 'I', 'D', 'I', 0x55, 0x01, 0xAB, 0xCD, 1, 2, 3, 4, 0xF1, 0, 0, 0};
  CHECK_INT(rmp_m2_reader_init(&r, unk, sizeof unk), 0);
  CHECK_INT(rmp_m2_read(&r, &p), RMP_M2_EUNKNOWN);
  CHECK_INT(p.code, 0x55);
  CHECK_INT(p.words, 1);
  CHECK_INT(p.header, 0x5501ABCD);
  CHECK_INT(rmp_m2_read(&r, &p), 1);
  CHECK_INT(p.code, RMP_M2_BYE_REPLY);
  /* an unknown command re-encodes as it came */
  rmp_m2_cmd u = {.code = 0x55, .words = 1, .data = 0xABCD, .payload = unk + 8};
  uint8_t buf[16];
  CHECK_INT(rmp_m2_write(buf, sizeof buf, &u), 8);
  CHECK_MEM(buf, 8, unk + 4, 8);
}

static void test_writer_limits(void) {
  char name[RMP_M2_NAME_MAX + 2];
  memset(name, 'n', sizeof name);
  name[RMP_M2_NAME_MAX + 1] = 0;
  rmp_m2_cmd c = {.code = RMP_M2_INVITATION};
  c.u.inv.name = rmp_m2_cstr(name);
  uint8_t buf[RMP_M2_MAX_DATAGRAM];
  CHECK_INT(rmp_m2_write(buf, sizeof buf, &c), RMP_M2_EINVAL);
  name[RMP_M2_NAME_MAX] = 0;
  c.u.inv.name = rmp_m2_cstr(name);
  CHECK_INT(rmp_m2_write(buf, sizeof buf, &c), 4 + 100); /* 98 octets: 25 words */
  rmp_m2_writer w;
  uint8_t small[12];
  CHECK_INT(rmp_m2_writer_init(&w, small, sizeof small), 0);
  rmp_m2_cmd ping = {.code = RMP_M2_PING};
  CHECK_INT(rmp_m2_writer_add(&w, &ping), 0);
  CHECK_INT(w.len, 12);
  CHECK_INT(rmp_m2_writer_add(&w, &ping), RMP_M2_ENOSPACE);
  CHECK_INT(w.len, 12);
  CHECK_INT(rmp_m2_writer_init(&w, small, 3), RMP_M2_ENOSPACE);
  rmp_m2_cmd nn = {.code = RMP_M2_AUTH_REQUIRED};
  CHECK_INT(rmp_m2_write(buf, sizeof buf, &nn), RMP_M2_EINVAL); /* no nonce */
  CHECK(strcmp(rmp_m2_code_name(0x8F), "NAK") == 0);
  CHECK(strcmp(rmp_m2_code_name(0x42), "unknown") == 0);
  CHECK(strcmp(rmp_m2_strerror(RMP_M2_EUMP), "UMP Data not whole messages") == 0);
  CHECK_INT(rmp_m2_seq_diff(1, 65535), 2);
  CHECK_INT(rmp_m2_seq_diff(65535, 1), -2);
}

/* Every command: encode -> parse -> the same fields. */
static void test_roundtrip(void) {
  uint8_t nonce[16] = {9, 8, 7}, digest[32] = {1, 2, 3};
  const uint32_t words[] = {0x10F80000, 0x30160102, 0x03040506};
  rmp_m2_cmd cs[17];
  memset(cs, 0, sizeof cs);
  int n = 0;
  cs[n].code = RMP_M2_INVITATION; cs[n].u.inv.caps = 2; cs[n].u.inv.name = rmp_m2_cstr("a name");
  cs[n++].u.inv.piid = rmp_m2_cstr("an id");
  cs[n].code = RMP_M2_ACCEPTED; cs[n++].u.inv.name = rmp_m2_cstr("x");
  cs[n].code = RMP_M2_PENDING; cs[n++].u.inv.piid = rmp_m2_cstr("yyyy");
  cs[n].code = RMP_M2_AUTH_REQUIRED; cs[n].u.req.nonce = nonce; cs[n++].u.req.name = rmp_m2_cstr("n");
  cs[n].code = RMP_M2_USER_AUTH_REQUIRED; cs[n].u.req.nonce = nonce; cs[n].u.req.state = 1;
  cs[n++].u.req.piid = rmp_m2_cstr("p");
  cs[n].code = RMP_M2_INVITATION_AUTH; cs[n++].u.auth.digest = digest;
  cs[n].code = RMP_M2_INVITATION_USER_AUTH; cs[n].u.auth.digest = digest; cs[n++].u.auth.user = rmp_m2_cstr("u");
  cs[n].code = RMP_M2_PING; cs[n++].u.ping.id = 77;
  cs[n].code = RMP_M2_PING_REPLY; cs[n++].u.ping.id = 78;
  cs[n].code = RMP_M2_RETRANSMIT_REQUEST; cs[n].u.rtx.seq = 65535; cs[n++].u.rtx.count = 9;
  cs[n].code = RMP_M2_RETRANSMIT_ERROR; cs[n].u.rtx_err.seq = 4; cs[n++].u.rtx_err.reason = 1;
  cs[n++].code = RMP_M2_SESSION_RESET;
  cs[n++].code = RMP_M2_SESSION_RESET_REPLY;
  cs[n].code = RMP_M2_NAK; cs[n].u.nak.reason = 3; cs[n].u.nak.header = 0xFF020001;
  cs[n++].u.nak.text = rmp_m2_cstr("bad");
  cs[n].code = RMP_M2_BYE; cs[n].u.bye.reason = 0x80; cs[n++].u.bye.text = rmp_m2_cstr("later");
  cs[n++].code = RMP_M2_BYE_REPLY;
  cs[n].code = RMP_M2_UMP_DATA; cs[n].u.ump.seq = 300; cs[n].u.ump.nwords = 3; cs[n++].u.ump.words = words;
  uint8_t buf[RMP_M2_MAX_DATAGRAM];
  rmp_m2_writer w;
  rmp_m2_writer_init(&w, buf, sizeof buf);
  for (int i = 0; i < n; i++) CHECK_INT(rmp_m2_writer_add(&w, &cs[i]), 0);
  rmp_m2_reader r;
  rmp_m2_cmd p;
  CHECK_INT(rmp_m2_reader_init(&r, buf, w.len), 0);
  int bad = 0;
  for (int i = 0; i < n; i++) {
    if (rmp_m2_read(&r, &p) != 1 || p.code != cs[i].code) { bad++; continue; }
    /* re-encoding what was read gives the same octets */
    uint8_t again[256], orig[256];
    int a = rmp_m2_write(again, sizeof again, &p), o = rmp_m2_write(orig, sizeof orig, &cs[i]);
    if (a != o || a <= 0 || memcmp(again, orig, (size_t)a) != 0) bad++;
  }
  CHECK_INT(bad, 0);
  CHECK_INT(rmp_m2_read(&r, &p), 0);
}

/* pymidi2's own byte-level tests and transport, quoted [P]:
 *  - udp.py CommandPacket: struct "!BBH": command, payload length in words,
 *    specific data (16 bits, big-endian), then the payload; MIDIUDPPacket:
 *    b"MIDI" then the commands, parsed "while buf".
 *  - tests/test_midiudp.py: parse(b"\xff\x01\x12\x34****") is UMP_DATA,
 *    specific_data 0x1234, payload b"****"; two of them back to back leave
 *    the second as the rest; CommandPacket(UMP_DATA, specific_data=2047,
 *    payload=b"Coucou  ") encodes as b"\xff\x02\x07\xffCoucou  ".
 *  - transport.py: send() puts tx_seq in the specific data and the words
 *    big-endian (">I"); the invitation it sends is CommandPacket(INVITATION,
 *    specific_data=ClientCapability.NONE, payload=b""); a Ping is answered
 *    by the same command with the code replaced by PING_REPLY. */
static void test_pymidi2(void) {
  /* "****" is 0x2A2A2A2A: a MIDI 1.0 channel voice message (MT 2), one word */
  const uint8_t one[] = {'M', 'I', 'D', 'I', 0xFF, 0x01, 0x12, 0x34, '*', '*', '*', '*'};
  rmp_m2_cmd p;
  uint8_t *keep;
  CHECK_INT(parse1(one, sizeof one, &p, &keep), 1);
  CHECK_INT(p.code, RMP_M2_UMP_DATA);
  CHECK_INT(p.u.ump.seq, 0x1234);
  CHECK_INT(p.u.ump.nwords, 1);
  CHECK_MEM(p.u.ump.be, 4, "****", 4);
  free(keep);
  const uint8_t two[] = {'M', 'I', 'D', 'I', 0xFF, 0x01, 0x12, 0x34, '*', '*', '*', '*',
                         0xFF, 0x01, 0x12, 0x34, '*', '*', '*', '*'};
  rmp_m2_reader r;
  CHECK_INT(rmp_m2_reader_init(&r, two, sizeof two), 0);
  CHECK_INT(rmp_m2_read(&r, &p), 1);
  CHECK_INT(rmp_m2_read(&r, &p), 1);
  CHECK(p.u.ump.be == two + 16);
  CHECK_INT(rmp_m2_read(&r, &p), 0);
  /* "Coucou  " is 0x436F7563 0x6F752020: a MIDI 2.0 channel voice message
   * (MT 4), two words, so whole UMP as our writer insists */
  const uint32_t coucou[] = {0x436F7563, 0x6F752020};
  rmp_m2_cmd c = {.code = RMP_M2_UMP_DATA};
  c.u.ump.seq = 2047;
  c.u.ump.nwords = 2;
  c.u.ump.words = coucou;
  ENCODE_IS(&c, 'M', 'I', 'D', 'I', 0xFF, 0x02, 0x07, 0xFF, 'C', 'o', 'u', 'c', 'o', 'u', ' ', ' ');
  /* transport.py's invitation: no name, no product instance id, no
   * capabilities: the header alone. Read as an Invitation with empty texts. */
  const uint8_t inv[] = {'M', 'I', 'D', 'I', 0x01, 0x00, 0x00, 0x00};
  CHECK_INT(parse1(inv, sizeof inv, &p, &keep), 1);
  CHECK_INT(p.code, RMP_M2_INVITATION);
  CHECK_INT(p.u.inv.caps, 0);
  CHECK_INT((int)p.u.inv.name.len, 0);
  CHECK_INT((int)p.u.inv.piid.len, 0);
  free(keep);
  /* and ours, written the same way ([Z] and [W] also write no terminator) */
  rmp_m2_cmd ci = {.code = RMP_M2_INVITATION};
  ENCODE_IS(&ci, 'M', 'I', 'D', 'I', 0x01, 0x00, 0x00, 0x00);
  /* transport.py's Ping Reply is the Ping with another code: the same bytes
   * as ours but for the first octet of the command */
  rmp_m2_cmd ping = {.code = RMP_M2_PING}, reply = {.code = RMP_M2_PING_REPLY};
  ping.u.ping.id = reply.u.ping.id = 0xCAFE0001;
  uint8_t a[16], b[16];
  rmp_m2_writer wa, wb;
  rmp_m2_writer_init(&wa, a, sizeof a);
  rmp_m2_writer_init(&wb, b, sizeof b);
  CHECK_INT(rmp_m2_writer_add(&wa, &ping), 0);
  CHECK_INT(rmp_m2_writer_add(&wb, &reply), 0);
  CHECK_INT((int)wa.len, 12);
  CHECK_INT(a[4], 0x20);
  CHECK_INT(b[4], 0x21);
  a[4] = 0x21;
  CHECK_MEM(a, wa.len, b, wb.len);
}

int main(void) {
  test_signature();
  test_invitation();
  test_authentication();
  test_digest();
  test_ping_reset_bye();
  test_nak();
  test_retransmit();
  test_ump_data();
  test_malformed();
  test_writer_limits();
  test_roundtrip();
  test_pymidi2();
  return check_report();
}
