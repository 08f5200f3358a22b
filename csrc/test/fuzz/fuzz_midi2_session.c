/* libFuzzer target: the Network MIDI 2.0 session machine
 * (midi2_session.c) under a hostile network. Input: a script of steps for
 * a host (with a shared secret) and a client: datagrams from one of four
 * addresses (the peer, strangers), time passing, and the application's
 * calls (invite, send, reset, bye). The two machines also hear each other
 * (the outbox of one reaches the other), so real sessions form and the
 * script's datagrams land in them.
 *
 * Invariants: what a machine sends parses (signature, every command); UMP
 * events are whole messages; after tick(now), next_deadline() lies after
 * now (a deadline that does not move would spin the loop). */
#include <string.h>

#include "fuzz_common.h"
#include "midi2.h"
#include "midi2_session.h"
#include "ump.h"

static rmp_m2s host, client;

/* Not SHA-256: fuzzing needs a hash that is deterministic, not a good one. */
static int fake_hash(void *ctx, const uint8_t *d, size_t n, uint8_t out[32]) {
  (void)ctx;
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ d[i]) * 1099511628211ull;
  for (int i = 0; i < 32; i++) out[i] = (uint8_t)(h >> (8 * (i % 8)) ^ (uint8_t)i);
  return 0;
}
static uint64_t rs = 88172645463325252ull;
static int fake_random(void *ctx, uint8_t *out, size_t n) {
  (void)ctx;
  for (size_t i = 0; i < n; i++) out[i] = (uint8_t)fuzz_rand(&rs);
  return 0;
}

static rmp_addr addr(int i) {
  uint8_t ip[4] = {10, 0, 0, (uint8_t)(1 + i)};
  return rmp_addr_v4(ip, (uint16_t)(5000 + i));
}

/* Checks and moves a machine's outbox: datagrams for the other machine are
 * delivered to it; the rest goes nowhere. */
static void drain(rmp_m2s *m, uint64_t now, int self) {
  rmp_m2s_dgram d;
  static uint8_t copy[RMP_M2_MAX_DATAGRAM];
  while (rmp_m2s_pop_datagram(m, &d)) {
    FUZZ_ASSERT(d.len >= 4 && d.len <= RMP_M2_MAX_DATAGRAM);
    rmp_m2_reader r;
    FUZZ_ASSERT(rmp_m2_reader_init(&r, d.buf, d.len) == 0);
    rmp_m2_cmd c;
    int rc;
    while ((rc = rmp_m2_read(&r, &c)) == 1) {}
    FUZZ_ASSERT(rc == 0);
    memcpy(copy, d.buf, d.len);
    size_t len = d.len;
    rmp_addr to = d.to, from = addr(self);
    /* host (0) <-> client (1) */
    rmp_addr other = addr(self ? 0 : 1);
    if (rmp_addr_equal(&to, &other)) rmp_m2s_on_packet(self ? &host : &client, now, copy, len, &from);
  }
  rmp_m2s_event e;
  while (rmp_m2s_pop_event(m, &e))
    if (e.type == RMP_M2S_EV_UMP) FUZZ_ASSERT(e.nwords > 0 && rmp_ump_whole(e.words, e.nwords));
}

static void settle(uint64_t now) {
  for (int round = 0; round < 8; round++) {
    drain(&host, now, 0);
    drain(&client, now, 1);
  }
  /* what is left after 8 rounds is dropped (a lossy network) */
  rmp_m2s_dgram d;
  rmp_m2s_event e;
  while (rmp_m2s_pop_datagram(&host, &d)) {}
  while (rmp_m2s_pop_datagram(&client, &d)) {}
  while (rmp_m2s_pop_event(&host, &e)) {}
  while (rmp_m2s_pop_event(&client, &e)) {}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_in in;
  fuzz_in_init(&in, data, size);
  rmp_m2s_config hc, cc;
  rmp_m2s_config_defaults(&hc);
  hc.name = "host";
  hc.secret = (fuzz_u8(&in) & 1) ? "secret" : NULL;
  hc.sha256 = fake_hash;
  hc.random = fake_random;
  hc.fec = fuzz_u8(&in) % 4;
  hc.history = hc.fec + fuzz_u8(&in) % 8;
  rmp_m2s_config_defaults(&cc);
  cc.role = RMP_M2S_CLIENT;
  cc.sha256 = fake_hash;
  cc.random = fake_random;
  FUZZ_ASSERT(rmp_m2s_init(&host, &hc) == 0);
  FUZZ_ASSERT(rmp_m2s_init(&client, &cc) == 0);
  uint64_t now = 1000000;
  rmp_m2s_auth auth = {"secret", NULL, NULL};
  rmp_addr h = addr(0);
  rmp_m2s_invite(&client, now, &h, &auth, NULL);
  settle(now);
  static uint8_t buf[2048];
  int steps = 0;
  while (fuzz_left(&in) > 0 && steps++ < 200) {
    uint8_t op = fuzz_u8(&in);
    switch (op % 6) {
    case 0:
    case 1: { /* a datagram to the host or the client from address 0..3 */
      rmp_m2s *to = op & 8 ? &client : &host;
      rmp_addr from = addr((op >> 4) & 3);
      size_t len = fuzz_u8(&in);
      if (op & 0x40) len = len * 4 % sizeof buf;
      size_t k = 0;
      if (op & 0x80) {
        memcpy(buf, "MIDI", 4);
        k = 4;
      }
      while (k < len && fuzz_left(&in)) buf[k++] = fuzz_u8(&in);
      rmp_m2s_on_packet(to, now, buf, k, &from);
      break;
    }
    case 2: { /* time passes */
      now += (uint64_t)fuzz_u16(&in) * 100;
      rmp_m2s_tick(&host, now);
      rmp_m2s_tick(&client, now);
      FUZZ_ASSERT(rmp_m2s_next_deadline(&host) > now);
      FUZZ_ASSERT(rmp_m2s_next_deadline(&client) > now);
      break;
    }
    case 3: { /* the application sends */
      uint32_t w[16];
      size_t n = fuzz_u8(&in) % 16;
      for (size_t i = 0; i < n; i++) w[i] = fuzz_u32(&in);
      rmp_m2s *m = op & 8 ? &client : &host;
      int rc = rmp_m2s_send(m, now, 0, w, n);
      FUZZ_ASSERT(rc >= 0 || rc == RMP_M2S_EINVAL);
      FUZZ_ASSERT(rc != RMP_M2S_EINVAL || !rmp_ump_whole(w, n));
      break;
    }
    case 4: { /* invite, reset or bye */
      uint32_t ids[RMP_M2S_MAX_PEERS];
      rmp_m2s *m = op & 8 ? &client : &host;
      size_t n = rmp_m2s_peers(m, ids, RMP_M2S_MAX_PEERS);
      uint8_t what = fuzz_u8(&in);
      if (what % 3 == 0) {
        rmp_addr to = addr(what >> 6);
        rmp_m2s_invite(m, now, &to, (what & 4) ? &auth : NULL, NULL);
      } else if (n) {
        uint32_t id = ids[what % n];
        if (what % 3 == 1) rmp_m2s_reset(m, now, id);
        else rmp_m2s_bye(m, now, (what & 0x20) ? 0 : id, what);
      }
      break;
    }
    default:
      break;
    }
    settle(now);
  }
  return 0;
}
