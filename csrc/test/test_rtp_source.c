/* The RFC 3550 source machine (rtp_source.h) on virtual time: a peer that
 * falls silent, one heard again, restarted peers, SSRC collisions and
 * loops, foreign hosts, the RTCP schedule of 6.3 and the RTT of 6.4.1.
 * Every run takes microseconds of real time; no sleeps, no sockets. */
#include "check.h"
#include "rtcp.h"
#include "rtp_source.h"

#include <math.h>
#include <stdlib.h>

/* ---- the world around the machine ---- */

static rmp_addr OWN_RTP, OWN_RTCP;    /* our sockets: 10.0.0.1:5004/5005 */
static rmp_addr PEER_HOST;            /* 10.0.0.2 */
static rmp_addr PEER_RTP, PEER_RTCP;  /* 10.0.0.2:6004/6005 */
static rmp_addr OTHER;                /* 10.0.0.3:6004 */

static rmp_addr addr(const char *ip, uint16_t port) {
  rmp_addr a;
  if (rmp_addr_parse(ip, port, &a)) abort();
  return a;
}

/* A seeded generator (splitmix64); every value handed out is logged. */
typedef struct rng {
  uint64_t x;
  uint64_t log[4096];
  unsigned n;
} rng;

static uint64_t rng_next(void *ud) {
  rng *g = ud;
  uint64_t z = (g->x += 0x9E3779B97F4A7C15u);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  z ^= z >> 31;
  if (g->n < 4096) g->log[g->n++] = z;
  return z;
}

static double rng_unit(uint64_t v) { return (double)(v >> 11) / 9007199254740992.0; }

static bool is_own(void *ud, int channel, const rmp_addr *a) {
  (void)ud;
  return rmp_addr_equal(a, channel == RMP_SRC_RTCP ? &OWN_RTCP : &OWN_RTP);
}

#define OUR_SSRC 0x0A0A0A0Au
#define PEER_SSRC 0x0B0B0B0Bu
#define T0 1000000u                        /* virtual time of open: 1 s */
#define WALL0 (1700000000ull * 1000000u)   /* the wall clock then (Unix µs) */

static rmp_src_config config(rng *g, double timeout_s, double rtcp_interval_s) {
  rmp_src_config c = {
      .ssrc = OUR_SSRC,
      .ts_offset = 1000,
      .clock_rate = 10000,
      .payload_type = 97,
      .peer_port = 6004,
      .accept_any_source = false,
      .timeout_us = (uint64_t)(timeout_s * 1e6),
      .hold_us = 10000,
      .rtcp_interval_s = rtcp_interval_s,
      .cname = "me@test",
      .tool = "test",
      .random = rng_next,
      .is_own = is_own,
      .ud = g,
  };
  return c;
}

/* What came out of the outbox, with the time it came. */
typedef struct ev {
  uint64_t at;
  rmp_src_out o;
  uint8_t data[RMP_SRC_RTCP_MAX];
  char reason[32], detail[256];
} ev;

static ev evs[512];
static int nev;

static void collect(rmp_src *m, uint64_t now) {
  rmp_src_out o;
  while (rmp_src_poll(m, &o)) {
    if (nev == 512) abort();
    ev *e = &evs[nev++];
    e->at = now;
    e->o = o;
    e->reason[0] = e->detail[0] = '\0';
    if (o.kind == RMP_SRC_OUT_DATAGRAM) {
      memcpy(e->data, o.data, o.len);
      e->o.data = e->data;
    } else if (o.kind == RMP_SRC_OUT_DROP) {
      snprintf(e->reason, sizeof e->reason, "%s", o.reason);
      snprintf(e->detail, sizeof e->detail, "%s", o.detail);
    }
  }
}

/* Advances virtual time to `end` the way the runtime does: tick at each
 * deadline, take the outbox. */
static void run_until(rmp_src *m, uint64_t *now, uint64_t end) {
  uint64_t at, again;
  while (rmp_src_next_deadline(m, &at) && at <= end) {
    if (at > *now) *now = at;
    rmp_src_tick(m, *now);
    collect(m, *now);
    /* A tick at a deadline deals with it: the next one is later. */
    if (rmp_src_next_deadline(m, &again) && again <= *now) {
      CHECK(again > *now);
      break;
    }
  }
  *now = end;
}

static int count(int kind) {
  int n = 0;
  for (int i = 0; i < nev; i++) n += evs[i].o.kind == kind;
  return n;
}

static const ev *find(int kind, int nth) {
  for (int i = 0; i < nev; i++) {
    if (evs[i].o.kind == kind && nth-- == 0) return &evs[i];
  }
  return NULL;
}

static size_t rtp(uint8_t *b, uint32_t ssrc, uint16_t seq, uint32_t ts, uint8_t pt) {
  rmp_rtp_write_header(b, pt, false, seq, ts, ssrc);
  memcpy(b + RMP_RTP_HEADER_LEN, "\x02\x90\x3c", 3);
  return RMP_RTP_HEADER_LEN + 3;
}

static int feed_rtp(rmp_src *m, uint64_t now, uint32_t ssrc, uint16_t seq, const rmp_addr *from) {
  uint8_t b[64];
  rmp_src_pkt pkt;
  int r = rmp_src_on_rtp(m, now, b, rtp(b, ssrc, seq, seq * 10u, 97), from, &pkt);
  collect(m, now);
  return r;
}

/* A compound RR (with an optional block about `about`) + BYE from ssrc. */
static size_t rr_bye(uint8_t *b, uint32_t ssrc, const char *reason) {
  int n = rmp_rtcp_build_rr(b, 512, ssrc, NULL, 0);
  int k = rmp_rtcp_build_bye(b + n, 512 - (size_t)n, &ssrc, 1, reason);
  return (size_t)(n + k);
}

static void open_at(rmp_src *m, const rmp_src_config *c, uint64_t now) {
  rmp_src_init(m, c);
  rmp_src_open(m, now, &PEER_HOST, WALL0);
  nev = 0;
}

/* The usual machine: a peer at 10.0.0.2:6004, seeded, opened at T0. */
static rng G;
static rmp_src M;

static rmp_src *start(uint64_t seed, double timeout_s, double rtcp_interval_s) {
  G = (rng){.x = seed};
  rmp_src_config c = config(&G, timeout_s, rtcp_interval_s);
  open_at(&M, &c, T0);
  return &M;
}

/* ---- silence ---- */

static void test_timeout_once_and_rearm(void) {
  uint64_t now = T0;
  rmp_src *m = start(1, 25, 5);
  CHECK_INT(feed_rtp(m, now, PEER_SSRC, 100, &PEER_RTP), RMP_SRC_ACCEPT);
  uint64_t heard = now;
  /* One microsecond short of the timeout: nothing. */
  run_until(m, &now, heard + 25000000 - 1);
  CHECK_INT(count(RMP_SRC_OUT_DROP), 0);
  CHECK(count(RMP_SRC_OUT_DATAGRAM) >= 4); /* reports went on meanwhile */
  /* At the timeout, exactly: the peer forgotten (a recovery follows), then
   * one drop "timeout". */
  run_until(m, &now, heard + 25000000);
  CHECK_INT(count(RMP_SRC_OUT_DROP), 1);
  const ev *d = find(RMP_SRC_OUT_DROP, 0), *f = find(RMP_SRC_OUT_FORGET, 0);
  CHECK(d && f && f < d);
  if (d && f) {
    CHECK_INT(d->at, heard + 25000000);
    CHECK(strcmp(d->reason, "timeout") == 0);
    CHECK(strcmp(d->detail, "nothing from the peer for 25 s") == 0);
    CHECK(f->o.recovery);
  }
  CHECK(!rmp_src_get_stats(m)->have_peer_ssrc);
  /* Ten more minutes of silence: no second drop, reports go on. */
  int reports = count(RMP_SRC_OUT_DATAGRAM);
  run_until(m, &now, now + 600000000);
  CHECK_INT(count(RMP_SRC_OUT_DROP), 1);
  CHECK(count(RMP_SRC_OUT_DATAGRAM) > reports + 100);

  /* Heard again: re-armed from then, a second drop 25 s later. */
  heard = now;
  CHECK_INT(feed_rtp(m, now, PEER_SSRC, 500, &PEER_RTP), RMP_SRC_ACCEPT);
  CHECK(rmp_src_get_stats(m)->have_peer_ssrc);
  run_until(m, &now, heard + 25000000 - 1);
  CHECK_INT(count(RMP_SRC_OUT_DROP), 1);
  run_until(m, &now, heard + 25000000);
  CHECK_INT(count(RMP_SRC_OUT_DROP), 2);
  d = find(RMP_SRC_OUT_DROP, 1);
  CHECK(d && d->at == heard + 25000000 && strcmp(d->reason, "timeout") == 0);
}

static void test_never_heard_times_out_once(void) {
  uint64_t now = T0;
  rmp_src *m = start(2, 0.3, 0.05);
  run_until(m, &now, T0 + 10000000);
  CHECK_INT(count(RMP_SRC_OUT_DROP), 1);
  const ev *d = find(RMP_SRC_OUT_DROP, 0);
  CHECK(d && d->at == T0 + 300000);
  CHECK(d && strcmp(d->detail, "nothing from the peer for 0.3 s") == 0);
}

/* RTCP counts as life as much as RTP. */
static void test_rtcp_keeps_alive(void) {
  uint64_t now = T0;
  rmp_src *m = start(3, 1, 5);
  uint8_t b[512];
  int n = rmp_rtcp_build_rr(b, sizeof b, PEER_SSRC, NULL, 0);
  for (int i = 0; i < 10; i++) {
    run_until(m, &now, now + 900000);
    rmp_src_on_rtcp(m, now, b, (size_t)n, &PEER_RTCP);
    collect(m, now);
  }
  CHECK_INT(count(RMP_SRC_OUT_DROP), 0);
  CHECK_INT(rmp_src_get_stats(m)->rtcp_received, 10);
  CHECK_INT(rmp_src_get_stats(m)->peer_ssrc, PEER_SSRC);
}

/* ---- restarted peers ---- */

static void test_restart_after_bye(void) {
  uint64_t now = T0;
  rmp_src *m = start(4, 25, 5);
  for (uint16_t i = 0; i < 5; i++) CHECK_INT(feed_rtp(m, now += 1000, PEER_SSRC, i, &PEER_RTP), RMP_SRC_ACCEPT);
  uint8_t b[512];
  size_t n = rr_bye(b, PEER_SSRC, "quit");
  rmp_src_on_rtcp(m, now, b, n, &PEER_RTCP);
  collect(m, now);
  CHECK_INT(count(RMP_SRC_OUT_FORGET), 1);
  CHECK_INT(count(RMP_SRC_OUT_DROP), 1);
  const ev *d = find(RMP_SRC_OUT_DROP, 0);
  CHECK(d && strcmp(d->reason, "bye") == 0 && strcmp(d->detail, "quit") == 0);
  CHECK(!find(RMP_SRC_OUT_FORGET, 0)->o.recovery);
  /* The restarted peer: a new SSRC and new numbering, taken at once. */
  CHECK_INT(feed_rtp(m, now += 1000, 0x5EED, 40000, &PEER_RTP), RMP_SRC_ACCEPT);
  const rmp_src_stats *st = rmp_src_get_stats(m);
  CHECK_INT(st->peer_ssrc, 0x5EED);
  CHECK_INT(st->unknown_ssrc, 0);
  CHECK_INT(st->packets_received, 6);
  /* A second BYE for a forgotten SSRC, or its packets, end nothing. */
  rmp_src_on_rtcp(m, now, b, n, &PEER_RTCP);
  collect(m, now);
  CHECK_INT(count(RMP_SRC_OUT_DROP), 1);
  CHECK_INT(feed_rtp(m, now, PEER_SSRC, 6, &PEER_RTP), RMP_SRC_UNKNOWN_SSRC);
}

static void test_restart_after_timeout(void) {
  uint64_t now = T0;
  rmp_src *m = start(5, 2, 5);
  CHECK_INT(feed_rtp(m, now, PEER_SSRC, 1, &PEER_RTP), RMP_SRC_ACCEPT);
  run_until(m, &now, now + 2000000);
  CHECK_INT(count(RMP_SRC_OUT_DROP), 1);
  CHECK_INT(feed_rtp(m, now += 10, 0x5EED, 7, &PEER_RTP), RMP_SRC_ACCEPT);
  CHECK_INT(rmp_src_get_stats(m)->peer_ssrc, 0x5EED);
  CHECK_INT(rmp_src_get_stats(m)->unknown_ssrc, 0);
}

/* Issue 16 finding 5: an ICMP error of a killed peer is a drop that does
 * not forget its SSRC; the restarted peer's new one is taken at once. */
static void test_restart_after_network_error(void) {
  uint64_t now = T0;
  rmp_src *m = start(6, 25, 5);
  CHECK_INT(feed_rtp(m, now, PEER_SSRC, 1, &PEER_RTP), RMP_SRC_ACCEPT);
  /* Before any drop, another SSRC from the peer's host is an intruder. */
  CHECK_INT(feed_rtp(m, now, 0x5EED, 1, &PEER_RTP), RMP_SRC_UNKNOWN_SSRC);
  CHECK_INT(rmp_src_get_stats(m)->unknown_ssrc, 1);
  CHECK_INT(rmp_src_get_stats(m)->foreign, 1);
  /* An error with nothing sent since the peer was heard is stale (it is
   * about a datagram older than that sign of life): no drop. */
  rmp_src_on_error(m, now, RMP_SRC_RTCP, &PEER_RTCP, "ECONNREFUSED: connection refused");
  collect(m, now);
  CHECK_INT(count(RMP_SRC_OUT_DROP), 0);
  CHECK_INT(rmp_src_get_stats(m)->stale_errors, 1);
  rmp_src_sent_rtp(m, 3);
  rmp_src_on_error(m, now, RMP_SRC_RTP, &PEER_RTP, "ECONNREFUSED: connection refused");
  rmp_src_on_error(m, now, RMP_SRC_RTCP, &PEER_RTCP, "ECONNREFUSED: connection refused");
  collect(m, now);
  CHECK_INT(count(RMP_SRC_OUT_DROP), 1);
  CHECK_INT(rmp_src_get_stats(m)->stale_errors, 1);
  CHECK(strcmp(find(RMP_SRC_OUT_DROP, 0)->reason, "network") == 0);
  CHECK(strcmp(find(RMP_SRC_OUT_DROP, 0)->detail, "ECONNREFUSED: connection refused") == 0);
  /* No timeout follows a drop. */
  run_until(m, &now, now + 100000000);
  CHECK_INT(count(RMP_SRC_OUT_DROP), 1);
  CHECK_INT(count(RMP_SRC_OUT_FORGET), 0);
  /* The restarted peer. */
  CHECK_INT(feed_rtp(m, now, 0x5EED, 9000, &PEER_RTP), RMP_SRC_ACCEPT);
  CHECK_INT(count(RMP_SRC_OUT_FORGET), 1);
  CHECK_INT(rmp_src_get_stats(m)->peer_ssrc, 0x5EED);
  CHECK_INT(rmp_src_get_stats(m)->unknown_ssrc, 1);
  /* ... and it is watched again. */
  uint64_t heard = now;
  run_until(m, &now, heard + 25000000);
  CHECK_INT(count(RMP_SRC_OUT_DROP), 2);
  CHECK_INT(find(RMP_SRC_OUT_DROP, 1)->at, heard + 25000000);
}

/* Issue 18, item 2: a peer without an RTCP port (MIDIMonster's direct
 * mode). Each report bounces while its RTP flows: counted, no drop, and no
 * more reports there; its silence still ends it, an error for its RTP port
 * still does, and its own RTCP turns our reports back on. */
static void test_rtcp_unreachable_while_rtp_flows(void) {
  uint64_t now = T0;
  rmp_src *m = start(18, 25, 1);
  CHECK_INT(feed_rtp(m, now, PEER_SSRC, 1, &PEER_RTP), RMP_SRC_ACCEPT);
  /* a report goes, and bounces, while RTP goes on arriving */
  run_until(m, &now, now + 3000000);
  int reports = count(RMP_SRC_OUT_DATAGRAM);
  CHECK(reports >= 1);
  CHECK_INT(feed_rtp(m, now, PEER_SSRC, 2, &PEER_RTP), RMP_SRC_ACCEPT);
  rmp_src_sent_rtp(m, 3);
  rmp_src_on_error(m, now, RMP_SRC_RTCP, &PEER_RTCP, "ECONNREFUSED: connection refused");
  collect(m, now);
  CHECK_INT(count(RMP_SRC_OUT_DROP), 0);
  CHECK_INT(rmp_src_get_stats(m)->rtcp_unreachable, 0); /* not yet: its RTP tells */
  uint64_t at;
  CHECK(rmp_src_next_deadline(m, &at) && at <= now + RMP_SRC_RTCP_GRACE_US);
  run_until(m, &now, now + 500000);
  CHECK_INT(feed_rtp(m, now, PEER_SSRC, 3, &PEER_RTP), RMP_SRC_ACCEPT);
  CHECK_INT(rmp_src_get_stats(m)->rtcp_unreachable, 1);
  reports = count(RMP_SRC_OUT_DATAGRAM);
  /* no more reports, no BYE at the end either; RTP keeps it alive */
  for (uint16_t s = 4; s < 20; s++) {
    run_until(m, &now, now + 1000000);
    CHECK_INT(feed_rtp(m, now, PEER_SSRC, s, &PEER_RTP), RMP_SRC_ACCEPT);
  }
  CHECK_INT(count(RMP_SRC_OUT_DATAGRAM), reports);
  CHECK_INT(count(RMP_SRC_OUT_DROP), 0);
  uint8_t buf[RMP_SRC_RTCP_MAX];
  rmp_addr to;
  CHECK_INT(rmp_src_bye(m, now, "stop", buf, sizeof buf, &to), 0);
  /* its own RTCP: it has a port after all, reports resume */
  uint8_t b[64];
  int n = rmp_rtcp_build_rr(b, sizeof b, PEER_SSRC, NULL, 0);
  rmp_src_on_rtcp(m, now, b, (size_t)n, &PEER_RTCP);
  run_until(m, &now, now + 3000000);
  CHECK(count(RMP_SRC_OUT_DATAGRAM) > reports);
  /* an error for its RTP port is a lost peer */
  rmp_src_sent_rtp(m, 3);
  rmp_src_on_error(m, now, RMP_SRC_RTP, &PEER_RTP, "ECONNREFUSED: connection refused");
  collect(m, now);
  CHECK_INT(count(RMP_SRC_OUT_DROP), 1);
  CHECK(strcmp(find(RMP_SRC_OUT_DROP, 0)->reason, "network") == 0);

  /* a killed peer: its RTP stopped with it; the bounce of our next report
   * is the drop "network" once the grace passed without its RTP */
  now = T0;
  m = start(20, 25, 5);
  CHECK_INT(feed_rtp(m, now, PEER_SSRC, 1, &PEER_RTP), RMP_SRC_ACCEPT);
  now += 300000;
  rmp_src_sent_rtp(m, 3);
  rmp_src_on_error(m, now, RMP_SRC_RTCP, &PEER_RTCP, "ECONNREFUSED: killed");
  uint64_t err_at = now;
  run_until(m, &now, err_at + RMP_SRC_RTCP_GRACE_US - 1);
  CHECK_INT(count(RMP_SRC_OUT_DROP), 0);
  run_until(m, &now, err_at + RMP_SRC_RTCP_GRACE_US);
  CHECK_INT(count(RMP_SRC_OUT_DROP), 1);
  CHECK(find(RMP_SRC_OUT_DROP, 0) && find(RMP_SRC_OUT_DROP, 0)->at == err_at + RMP_SRC_RTCP_GRACE_US);
  CHECK(strcmp(find(RMP_SRC_OUT_DROP, 0)->reason, "network") == 0);
  CHECK(strcmp(find(RMP_SRC_OUT_DROP, 0)->detail, "ECONNREFUSED: killed") == 0);
  CHECK_INT(rmp_src_get_stats(m)->rtcp_unreachable, 0);

  /* A peer whose RTCP we heard had an RTCP port: when that port bounces
   * while its RTP was flowing a moment ago, the peer was killed (no BYE),
   * not a peer without RTCP: a drop at once (spec/hostile_lan_rtp_spec,
   * "5 Restart"). */
  now = T0;
  m = start(21, 25, 1);
  CHECK_INT(feed_rtp(m, now, PEER_SSRC, 1, &PEER_RTP), RMP_SRC_ACCEPT);
  rmp_src_on_rtcp(m, now, b, (size_t)n, &PEER_RTCP);
  run_until(m, &now, now + 100000);
  CHECK_INT(feed_rtp(m, now, PEER_SSRC, 2, &PEER_RTP), RMP_SRC_ACCEPT);
  rmp_src_sent_rtp(m, 3);
  rmp_src_on_error(m, now, RMP_SRC_RTCP, &PEER_RTCP, "ECONNREFUSED: connection refused");
  collect(m, now);
  CHECK_INT(count(RMP_SRC_OUT_DROP), 1);
  CHECK_INT(rmp_src_get_stats(m)->rtcp_unreachable, 0);

  /* with no RTP ever heard from it (only our sends), an RTCP bounce is a
   * drop at once, as before */
  now = T0;
  m = start(19, 25, 5);
  rmp_src_sent_rtp(m, 3);
  rmp_src_on_error(m, now, RMP_SRC_RTCP, &PEER_RTCP, "ECONNREFUSED: connection refused");
  collect(m, now);
  CHECK_INT(count(RMP_SRC_OUT_DROP), 1);
  CHECK_INT(rmp_src_get_stats(m)->rtcp_unreachable, 0);
}

/* Hostile LAN: an ICMP error is anyone's to send (the kernel queues one
 * whose quoted header matches our socket, whatever its source), so one
 * quoting a destination we never sent to -- another host, another port of
 * the peer's, the peer's RTCP address on the RTP socket -- dropped the
 * session. Now ignored (foreign_errors); the peer's own address still
 * counts. */
static void test_forged_icmp_for_another_destination(void) {
  uint64_t now = T0;
  rmp_src *m = start(22, 25, 5);
  CHECK_INT(feed_rtp(m, now, PEER_SSRC, 1, &PEER_RTP), RMP_SRC_ACCEPT);
  rmp_src_sent_rtp(m, 3);
  rmp_addr other_port = addr("10.0.0.2", 7000);
  rmp_src_on_error(m, now, RMP_SRC_RTP, &OTHER, "ECONNREFUSED: forged");
  rmp_src_on_error(m, now, RMP_SRC_RTP, &other_port, "ECONNREFUSED: forged");
  rmp_src_on_error(m, now, RMP_SRC_RTP, &PEER_RTCP, "ECONNREFUSED: forged");
  rmp_src_on_error(m, now, RMP_SRC_RTCP, &PEER_RTP, "ECONNREFUSED: forged");
  rmp_src_on_error(m, now, RMP_SRC_RTCP, &OTHER, "ECONNREFUSED: forged");
  collect(m, now);
  CHECK_INT(count(RMP_SRC_OUT_DROP), 0);
  CHECK_INT(rmp_src_get_stats(m)->foreign_errors, 5);
  /* nothing armed either: no grace that would end in a drop */
  run_until(m, &now, now + 2 * RMP_SRC_RTCP_GRACE_US);
  CHECK_INT(count(RMP_SRC_OUT_DROP), 0);
  /* the peer's RTP address bouncing is still a lost peer */
  rmp_src_sent_rtp(m, 3);
  rmp_src_on_error(m, now, RMP_SRC_RTP, &PEER_RTP, "ECONNREFUSED: connection refused");
  collect(m, now);
  CHECK_INT(count(RMP_SRC_OUT_DROP), 1);
  CHECK_INT(rmp_src_get_stats(m)->foreign_errors, 5);
}

/* ---- collisions, loops, foreign hosts ---- */

static void test_collision_and_loop(void) {
  uint64_t now = T0;
  rmp_src *m = start(7, 25, 5);
  CHECK_INT(feed_rtp(m, now, PEER_SSRC, 1, &PEER_RTP), RMP_SRC_ACCEPT);
  /* Our own packet from our own address: a loop, nothing else. */
  CHECK_INT(feed_rtp(m, now, OUR_SSRC, 1, &OWN_RTP), RMP_SRC_LOOP);
  CHECK_INT(rmp_src_get_stats(m)->loops, 1);
  CHECK_INT(rmp_src_ssrc(m), OUR_SSRC);
  CHECK_INT(nev, 0);
  /* Our SSRC from the peer's host: a collision. */
  unsigned before = G.n;
  CHECK_INT(feed_rtp(m, now, OUR_SSRC, 2, &PEER_RTP), RMP_SRC_COLLISION);
  CHECK_INT(G.n, before + 1); /* one draw made the new SSRC */
  uint32_t fresh = (uint32_t)G.log[before];
  CHECK_INT(rmp_src_ssrc(m), fresh);
  CHECK_INT(rmp_src_get_stats(m)->ssrc_collisions, 1);
  CHECK_INT(count(RMP_SRC_OUT_DATAGRAM), 1);
  CHECK_INT(count(RMP_SRC_OUT_COLLISION), 1);
  const ev *bye = find(RMP_SRC_OUT_DATAGRAM, 0), *col = find(RMP_SRC_OUT_COLLISION, 0);
  CHECK(bye < col);
  CHECK_INT(col->o.old_ssrc, OUR_SSRC);
  CHECK_INT(col->o.new_ssrc, fresh);
  /* The BYE goes to the peer's RTCP port: RR + SDES + BYE for the old SSRC. */
  CHECK(rmp_addr_equal(&bye->o.to, &PEER_RTCP));
  CHECK_INT(rmp_rtcp_validate_compound(bye->data, bye->o.len), (int)bye->o.len);
  rmp_rtcp_iter_t it;
  rmp_rtcp_hdr_t h;
  int types[4] = {0}, k = 0;
  rmp_rtcp_bye_t b;
  memset(&b, 0, sizeof b);
  rmp_rtcp_iter_init(&it, bye->data, bye->o.len);
  while (rmp_rtcp_iter_next(&it, &h) > 0 && k < 4) {
    types[k++] = h.pt;
    if (h.pt == RMP_RTCP_BYE) rmp_rtcp_parse_bye(&h, &b);
  }
  CHECK_INT(k, 3);
  CHECK(types[0] == RMP_RTCP_RR && types[1] == RMP_RTCP_SDES && types[2] == RMP_RTCP_BYE);
  CHECK(b.n_ssrc == 1 && b.ssrc[0] == OUR_SSRC);
  CHECK(b.has_reason && b.reason_len == 14 && memcmp(b.reason, "SSRC collision", 14) == 0);
  CHECK_INT(rmp_src_get_stats(m)->rtcp_sent, 1);
  /* A collision is not a drop, and the peer stays. */
  CHECK_INT(count(RMP_SRC_OUT_DROP), 0);
  CHECK_INT(feed_rtp(m, now, PEER_SSRC, 2, &PEER_RTP), RMP_SRC_ACCEPT);
  /* The old SSRC from our own address now is nobody's: the peer's host is
   * not ours, so it is foreign. */
  CHECK_INT(feed_rtp(m, now, OUR_SSRC, 3, &OWN_RTP), RMP_SRC_FOREIGN);
  CHECK_INT(rmp_src_get_stats(m)->loops, 1);
  /* More of it from the same address is a loop now (8.2's list of
   * conflicting addresses): no BYE, no new SSRC. */
  nev = 0;
  CHECK_INT(feed_rtp(m, now, fresh, 4, &PEER_RTP), RMP_SRC_COLLISION);
  CHECK_INT(rmp_src_ssrc(m), fresh);
  /* ... and so is one from another address within an RTCP interval: the
   * address is listed, the SSRC stays. */
  rmp_addr port2 = rmp_addr_with_port(PEER_HOST, 7777);
  CHECK_INT(feed_rtp(m, now + 4000000, fresh, 5, &port2), RMP_SRC_COLLISION);
  CHECK_INT(rmp_src_ssrc(m), fresh);
  CHECK_INT(nev, 0);
  CHECK_INT(rmp_src_get_stats(m)->loops, 3);
  CHECK_INT(rmp_src_get_stats(m)->ssrc_collisions, 1);
  /* A collision seen in RTCP, an RTCP interval later, from an address not
   * listed. */
  now += 5000000;
  uint8_t r[64];
  int n = rmp_rtcp_build_rr(r, sizeof r, fresh, NULL, 0);
  nev = 0;
  rmp_src_on_rtcp(m, now, r, (size_t)n, &PEER_RTCP);
  collect(m, now);
  CHECK_INT(rmp_src_get_stats(m)->ssrc_collisions, 2);
  CHECK_INT(count(RMP_SRC_OUT_COLLISION), 1);
  CHECK(rmp_src_ssrc(m) != fresh && rmp_src_ssrc(m) != PEER_SSRC);
  /* ... and a loop seen in RTCP. */
  n = rmp_rtcp_build_rr(r, sizeof r, rmp_src_ssrc(m), NULL, 0);
  rmp_src_on_rtcp(m, now, r, (size_t)n, &OWN_RTCP);
  CHECK_INT(rmp_src_get_stats(m)->loops, 4);
  CHECK_INT(rmp_src_get_stats(m)->ssrc_collisions, 2);
  /* 10 RTCP intervals after its last conflict an address leaves the list:
   * a collision from it changes our SSRC again. */
  now += 50000001;
  nev = 0;
  CHECK_INT(feed_rtp(m, now, rmp_src_ssrc(m), 6, &PEER_RTP), RMP_SRC_COLLISION);
  collect(m, now);
  CHECK_INT(rmp_src_get_stats(m)->ssrc_collisions, 3);
  CHECK_INT(count(RMP_SRC_OUT_COLLISION), 1);
}

/* The peer's RTCP comes from one address: a BYE with its SSRC from another
 * port of its host is foreign (no drop); a receive-only session's reports
 * are not redirected by later RTCP from elsewhere. */
static void test_rtcp_source_port(void) {
  uint64_t now = T0;
  rmp_src *m = start(18, 25, 5);
  CHECK_INT(feed_rtp(m, now, PEER_SSRC, 1, &PEER_RTP), RMP_SRC_ACCEPT);
  uint8_t b[512];
  int n = rmp_rtcp_build_rr(b, sizeof b, PEER_SSRC, NULL, 0);
  rmp_src_on_rtcp(m, now, b, (size_t)n, &PEER_RTCP);
  rmp_addr forged = rmp_addr_with_port(PEER_HOST, 9999);
  size_t k = rr_bye(b, PEER_SSRC, "forged");
  nev = 0;
  rmp_src_on_rtcp(m, now, b, k, &forged);
  collect(m, now);
  CHECK_INT(count(RMP_SRC_OUT_DROP), 0);
  CHECK_INT(count(RMP_SRC_OUT_FORGET), 0);
  CHECK_INT(rmp_src_get_stats(m)->foreign, 1);
  CHECK_INT(feed_rtp(m, now, PEER_SSRC, 2, &PEER_RTP), RMP_SRC_ACCEPT);
  /* from its RTCP port it is the peer's BYE */
  rmp_src_on_rtcp(m, now, b, k, &PEER_RTCP);
  collect(m, now);
  CHECK_INT(count(RMP_SRC_OUT_DROP), 1);

  /* receive only */
  G = (rng){.x = 19};
  rmp_src_config c = config(&G, 25, 5);
  c.peer_port = 0;
  open_at(&M, &c, now);
  m = &M;
  rmp_addr src = rmp_addr_with_port(PEER_HOST, 7000), rsrc = rmp_addr_with_port(PEER_HOST, 7001);
  CHECK_INT(feed_rtp(m, now, PEER_SSRC, 1, &src), RMP_SRC_ACCEPT);
  n = rmp_rtcp_build_rr(b, sizeof b, PEER_SSRC, NULL, 0);
  rmp_src_on_rtcp(m, now, b, (size_t)n, &rsrc);
  rmp_src_on_rtcp(m, now, b, (size_t)n, &forged); /* 8 octets: a redirect attempt */
  nev = 0;
  run_until(m, &now, now + 30000000);
  CHECK(count(RMP_SRC_OUT_DATAGRAM) > 0);
  for (int i = 0; i < nev; i++)
    if (evs[i].o.kind == RMP_SRC_OUT_DATAGRAM) CHECK(rmp_addr_equal(&evs[i].o.to, &rsrc));
}

/* A forger with our SSRC from ever new ports: one BYE and one new SSRC per
 * RTCP interval at most, whatever the rate. */
static void test_collision_flood(void) {
  uint64_t now = T0;
  rmp_src *m = start(17, 25, 5);
  CHECK_INT(feed_rtp(m, now, PEER_SSRC, 1, &PEER_RTP), RMP_SRC_ACCEPT);
  nev = 0;
  for (unsigned i = 0; i < 1000; i++) {
    rmp_addr from = rmp_addr_with_port(PEER_HOST, (uint16_t)(20000 + i));
    uint64_t t = now + (uint64_t)i * 20000; /* 50 a second for 20 s */
    CHECK_INT(feed_rtp(m, t, rmp_src_ssrc(m), (uint16_t)i, &from), RMP_SRC_COLLISION);
  }
  /* 20 s: four intervals of 5 s, one change each */
  CHECK_INT(rmp_src_get_stats(m)->ssrc_collisions, 4);
  CHECK_INT(count(RMP_SRC_OUT_DATAGRAM), 4);
  CHECK_INT(rmp_src_get_stats(m)->loops, 996);
}

/* A generator that keeps giving our SSRC still ends in a new one. */
static uint64_t stuck_random(void *ud) {
  (void)ud;
  return OUR_SSRC;
}

static void test_collision_with_a_stuck_generator(void) {
  uint64_t now = T0;
  G = (rng){.x = 21};
  rmp_src_config c = config(&G, 25, 5);
  c.random = stuck_random;
  open_at(&M, &c, now);
  CHECK_INT(feed_rtp(&M, now, OUR_SSRC + 1, 1, &PEER_RTP), RMP_SRC_ACCEPT); /* the peer: ours + 1 */
  CHECK_INT(feed_rtp(&M, now, OUR_SSRC, 2, &PEER_RTP), RMP_SRC_COLLISION);
  CHECK_INT(rmp_src_ssrc(&M), OUR_SSRC + 2);
}

/* The peer's BYE after it changed SSRC on a collision: forgotten, no drop. */
static void test_peer_collision_bye_is_no_drop(void) {
  uint64_t now = T0;
  rmp_src *m = start(8, 25, 5);
  CHECK_INT(feed_rtp(m, now, PEER_SSRC, 1, &PEER_RTP), RMP_SRC_ACCEPT);
  uint8_t b[512];
  size_t n = rr_bye(b, PEER_SSRC, RMP_SRC_COLLISION_REASON);
  rmp_src_on_rtcp(m, now, b, n, &PEER_RTCP);
  collect(m, now);
  CHECK_INT(count(RMP_SRC_OUT_FORGET), 1);
  CHECK_INT(count(RMP_SRC_OUT_DROP), 0);
  CHECK_INT(feed_rtp(m, now, 0xC0FFEE, 2, &PEER_RTP), RMP_SRC_ACCEPT);
  CHECK_INT(rmp_src_get_stats(m)->peer_ssrc, 0xC0FFEE);
}

static void test_foreign_and_malformed(void) {
  uint64_t now = T0;
  rmp_src *m = start(9, 25, 5);
  CHECK_INT(feed_rtp(m, now, PEER_SSRC, 1, &PEER_RTP), RMP_SRC_ACCEPT);
  /* The peer's SSRC from another host: foreign, not delivered. */
  CHECK_INT(feed_rtp(m, now, PEER_SSRC, 2, &OTHER), RMP_SRC_FOREIGN);
  /* A forged BYE from another host ends nothing. */
  uint8_t b[512];
  size_t n = rr_bye(b, PEER_SSRC, "forged");
  rmp_src_on_rtcp(m, now, b, n, &OTHER);
  collect(m, now);
  const rmp_src_stats *st = rmp_src_get_stats(m);
  CHECK_INT(st->foreign, 2);
  CHECK_INT(st->packets_received, 1);
  CHECK_INT(st->rtcp_received, 0);
  CHECK_INT(nev, 0);
  /* From the peer's host, another port: bad bytes are malformed there. */
  rmp_addr other_port = rmp_addr_with_port(PEER_HOST, 9999);
  uint8_t bad[16] = {0x40};
  rmp_src_pkt pkt;
  CHECK_INT(rmp_src_on_rtp(m, now, bad, sizeof bad, &other_port, &pkt), RMP_SRC_MALFORMED);
  CHECK_INT(rmp_src_on_rtp(m, now, bad, sizeof bad, &OTHER, &pkt), RMP_SRC_FOREIGN);
  uint8_t p[64];
  size_t len = rtp(p, PEER_SSRC, 3, 30, 96); /* wrong payload type */
  CHECK_INT(rmp_src_on_rtp(m, now, p, len, &PEER_RTP, &pkt), RMP_SRC_MALFORMED);
  rmp_src_on_rtcp(m, now, bad, sizeof bad, &PEER_RTCP);
  CHECK_INT(st->malformed, 3);
  CHECK_INT(st->foreign, 3);
  /* The accepted packet's place and payload. */
  len = rtp(p, PEER_SSRC, 2, 30, 97);
  CHECK_INT(rmp_src_on_rtp(m, now, p, len, &PEER_RTP, &pkt), RMP_SRC_ACCEPT);
  CHECK_INT(pkt.ext_seq, 2);
  CHECK_INT(pkt.h.payload_offset, 12);
  CHECK_INT(pkt.h.payload_len, 3);
  CHECK_INT(st->bytes_received, 6);
}

static void test_accept_any_source(void) {
  rng g = {.x = 10};
  rmp_src_config c = config(&g, 25, 5);
  c.accept_any_source = true;
  rmp_src m;
  uint64_t now = T0;
  rmp_src_init(&m, &c);
  rmp_addr nowhere = addr("192.0.2.1", 0);
  rmp_src_open(&m, now, &nowhere, WALL0);
  /* Garbage does not lock the source. */
  uint8_t bad[8] = {0x80};
  rmp_src_pkt pkt;
  CHECK_INT(rmp_src_on_rtp(&m, now, bad, sizeof bad, &OTHER, &pkt), RMP_SRC_MALFORMED);
  /* The first well-formed packet does; destinations follow it. */
  rmp_addr nat = addr("10.0.0.7", 40000);
  CHECK_INT(feed_rtp(&m, now, PEER_SSRC, 1, &nat), RMP_SRC_ACCEPT);
  CHECK_INT(feed_rtp(&m, now, PEER_SSRC, 2, &OTHER), RMP_SRC_FOREIGN);
  CHECK_INT(feed_rtp(&m, now, PEER_SSRC, 2, &nat), RMP_SRC_ACCEPT);
  rmp_addr want = addr("10.0.0.7", 6004);
  CHECK(rmp_addr_equal(rmp_src_rtp_dest(&m), &want));
  run_until(&m, &now, now + 10000000);
  const ev *d = find(RMP_SRC_OUT_DATAGRAM, 0);
  want.port = 6005;
  CHECK(d && rmp_addr_equal(&d->o.to, &want));
  /* An IPv6 source never matched an IPv4 peer. */
  rmp_addr v6 = addr("::1", 5000);
  CHECK_INT(feed_rtp(&m, now, PEER_SSRC, 4, &v6), RMP_SRC_FOREIGN);
}

/* Receive only: reports go to the port above the peer's RTP port, then to
 * where its own reports come from. */
static void test_receive_only_learns_rtcp(void) {
  rng g = {.x = 11};
  rmp_src_config c = config(&g, 25, 5);
  c.peer_port = 0;
  rmp_src m;
  uint64_t now = T0;
  open_at(&m, &c, now);
  run_until(&m, &now, now + 20000000);
  CHECK_INT(count(RMP_SRC_OUT_DATAGRAM), 0); /* nowhere to send yet */
  rmp_addr src = rmp_addr_with_port(PEER_HOST, 7000);
  CHECK_INT(feed_rtp(&m, now, PEER_SSRC, 1, &src), RMP_SRC_ACCEPT);
  run_until(&m, &now, now + 10000000);
  const ev *d = find(RMP_SRC_OUT_DATAGRAM, 0);
  rmp_addr want = rmp_addr_with_port(PEER_HOST, 7001);
  CHECK(d && rmp_addr_equal(&d->o.to, &want));
  uint8_t r[64];
  int n = rmp_rtcp_build_rr(r, sizeof r, PEER_SSRC, NULL, 0);
  rmp_addr rsrc = rmp_addr_with_port(PEER_HOST, 7777);
  rmp_src_on_rtcp(&m, now, r, (size_t)n, &rsrc);
  nev = 0;
  run_until(&m, &now, now + 10000000);
  d = find(RMP_SRC_OUT_DATAGRAM, 0);
  CHECK(d && rmp_addr_equal(&d->o.to, &rsrc));
}

/* ---- sequence numbers ---- */

static void test_resync(void) {
  uint64_t now = T0;
  rmp_src *m = start(12, 25, 5);
  CHECK_INT(feed_rtp(m, now, PEER_SSRC, 100, &PEER_RTP), RMP_SRC_ACCEPT);
  CHECK_INT(feed_rtp(m, now, PEER_SSRC, 101, &PEER_RTP), RMP_SRC_ACCEPT);
  /* A jump past MAX_DROPOUT: held once, then (in sequence) a resync that
   * releases it before. */
  CHECK_INT(feed_rtp(m, now, PEER_SSRC, 30000, &PEER_RTP), RMP_SRC_HELD);
  uint8_t b[64];
  rmp_src_pkt pkt;
  size_t len = rtp(b, PEER_SSRC, 30001, 0, 97);
  CHECK_INT(rmp_src_on_rtp(m, now, b, len, &PEER_RTP, &pkt), RMP_SRC_RESYNC);
  CHECK_INT(pkt.ext_seq, 30001);
  CHECK_INT(pkt.n_release, 1);
  CHECK_INT(pkt.release[0].ext, 30000);
  CHECK_INT(pkt.release[0].slot, RMP_SEQ_HOLDS);
  CHECK(pkt.release[0].before);
  len = rtp(b, PEER_SSRC, 30002, 0, 97);
  CHECK_INT(rmp_src_on_rtp(m, now, b, len, &PEER_RTP, &pkt), RMP_SRC_ACCEPT);
  CHECK_INT(pkt.ext_seq, 30002);
  CHECK_INT(pkt.n_release, 0);
  /* The wrap: 65535 -> 0 is the next one, a cycle up; losses of 998 in a
   * row are held, each until its successor confirms it. */
  for (uint32_t s = 31003; s <= 67003; s += 1000) {
    len = rtp(b, PEER_SSRC, (uint16_t)s, 0, 97);
    CHECK_INT(rmp_src_on_rtp(m, now, b, len, &PEER_RTP, &pkt), RMP_SRC_HELD);
    len = rtp(b, PEER_SSRC, (uint16_t)(s + 1), 0, 97);
    CHECK_INT(rmp_src_on_rtp(m, now, b, len, &PEER_RTP, &pkt), RMP_SRC_ACCEPT);
    CHECK_INT(pkt.n_release, 1);
    CHECK_INT(pkt.release[0].ext, s);
  }
  CHECK_INT(pkt.ext_seq, 67004);
}

/* A packet forged with the peer's address and SSRC, a little ahead: held
 * with a deadline (cfg.hold_us); the real stream goes on; taken on trust
 * when nothing else came, undone when the real stream comes back. */
static void test_held_jump(void) {
  uint64_t now = T0, at;
  G = (rng){.x = 21};
  rmp_src_config c = config(&G, 25, 5);
  c.hold_us = 10000;
  open_at(&M, &c, now);
  rmp_src_pkt pkt;
  uint8_t b[64];
  CHECK_INT(feed_rtp(&M, now, PEER_SSRC, 500, &PEER_RTP), RMP_SRC_ACCEPT);
  CHECK(!rmp_src_hold_deadline(&M, &at));
  CHECK_INT(feed_rtp(&M, now, PEER_SSRC, 540, &PEER_RTP), RMP_SRC_HELD);
  CHECK(rmp_src_hold_deadline(&M, &at));
  CHECK_INT(at, now + 10000);
  for (uint16_t q = 501; q < 600; q++) {
    size_t len = rtp(b, PEER_SSRC, q, 0, 97);
    CHECK_INT(rmp_src_on_rtp(&M, now + 1000, b, len, &PEER_RTP, &pkt), RMP_SRC_ACCEPT);
    CHECK_INT(pkt.ext_seq, q);
    CHECK_INT(pkt.n_release, 0);
  }
  CHECK(!rmp_src_hold_deadline(&M, &at));
  /* In a silence: taken when the wait runs out, then undone by two
   * packets in a row of the real stream. */
  now += 1000000;
  CHECK_INT(feed_rtp(&M, now, PEER_SSRC, 650, &PEER_RTP), RMP_SRC_HELD);
  const rmp_seq_release *rel;
  unsigned nrel;
  CHECK(!rmp_src_hold_expire(&M, now + 9999, &rel, &nrel));
  CHECK(rmp_src_hold_expire(&M, now + 10000, &rel, &nrel));
  CHECK_INT(nrel, 1);
  CHECK_INT(rel[0].ext, 650);
  CHECK(!rmp_src_hold_expire(&M, now + 10000, &rel, &nrel));
  size_t len = rtp(b, PEER_SSRC, 600, 0, 97);
  CHECK_INT(rmp_src_on_rtp(&M, now + 20000, b, len, &PEER_RTP, &pkt), RMP_SRC_ACCEPT);
  CHECK_INT(pkt.ext_seq, 600); /* misordered: behind 650 */
  len = rtp(b, PEER_SSRC, 601, 0, 97);
  CHECK_INT(rmp_src_on_rtp(&M, now + 20000, b, len, &PEER_RTP, &pkt), RMP_SRC_RESYNC);
  CHECK(pkt.undo);
  CHECK_INT(pkt.undo_last, 599);
  len = rtp(b, PEER_SSRC, 602, 0, 97);
  CHECK_INT(rmp_src_on_rtp(&M, now + 20000, b, len, &PEER_RTP, &pkt), RMP_SRC_ACCEPT);
  CHECK(!pkt.undo);
  /* A copy of a packet held: a duplicate. */
  CHECK_INT(feed_rtp(&M, now, PEER_SSRC, 610, &PEER_RTP), RMP_SRC_HELD);
  CHECK_INT(feed_rtp(&M, now, PEER_SSRC, 610, &PEER_RTP), RMP_SRC_HELD_DUP);
  CHECK_INT(rmp_src_held_duplicates(&M), 1);
  /* The peer forgotten, nothing is held. */
  CHECK_INT(feed_rtp(&M, now, PEER_SSRC, 700, &PEER_RTP), RMP_SRC_HELD);
  size_t n = rr_bye(b, PEER_SSRC, "quit");
  rmp_src_on_rtcp(&M, now, b, n, &PEER_RTCP);
  collect(&M, now);
  CHECK(!rmp_src_hold_deadline(&M, &at));
}

/* A.1 probation: with two, a new SSRC's first packet waits for a second
 * in sequence; out of sequence it starts again. */
static void test_probation(void) {
  uint64_t now = T0;
  G = (rng){.x = 20};
  rmp_src_config c = config(&G, 25, 5);
  c.probation = RMP_SEQ_MIN_SEQUENTIAL;
  open_at(&M, &c, now);
  CHECK_INT(feed_rtp(&M, now, PEER_SSRC, 10, &PEER_RTP), RMP_SRC_SEQ_WAIT);
  CHECK_INT(feed_rtp(&M, now, PEER_SSRC, 20, &PEER_RTP), RMP_SRC_SEQ_WAIT);
  CHECK_INT(feed_rtp(&M, now, PEER_SSRC, 21, &PEER_RTP), RMP_SRC_ACCEPT);
  CHECK_INT(feed_rtp(&M, now, PEER_SSRC, 22, &PEER_RTP), RMP_SRC_ACCEPT);
  /* Forgotten (its BYE), the next SSRC is on probation again. */
  uint8_t b[512];
  size_t n = rr_bye(b, PEER_SSRC, "quit");
  rmp_src_on_rtcp(&M, now, b, n, &PEER_RTCP);
  collect(&M, now);
  CHECK_INT(feed_rtp(&M, now, 0x5EED, 1, &PEER_RTP), RMP_SRC_SEQ_WAIT);
  CHECK_INT(feed_rtp(&M, now, 0x5EED, 2, &PEER_RTP), RMP_SRC_ACCEPT);
}

/* ---- RTCP ---- */

static const double COMPENSATION = 2.71828182845904523536 - 1.5; /* e - 3/2 (6.3.1) */

/* 6.3.1 with the minimum interval only (no bandwidth given): Tmin, halved
 * for the first report, times a random factor in [0.5, 1.5), divided by
 * e - 3/2. */
static void test_report_interval(void) {
  uint64_t now = T0;
  rmp_src *m = start(13, 1e6, 5);
  CHECK_INT(G.n, 1); /* one draw for the first interval */
  uint64_t at;
  CHECK(rmp_src_next_deadline(m, &at));
  double first = 2.5e6 * (rng_unit(G.log[0]) + 0.5) / COMPENSATION;
  CHECK(fabs((double)(at - T0) - first) <= 1.0);
  CHECK(at - T0 >= (uint64_t)(2.5e6 * 0.5 / COMPENSATION) && at - T0 <= (uint64_t)(2.5e6 * 1.5 / COMPENSATION) + 1);
  run_until(m, &now, at - 1);
  CHECK_INT(count(RMP_SRC_OUT_DATAGRAM), 0);
  run_until(m, &now, at);
  CHECK_INT(count(RMP_SRC_OUT_DATAGRAM), 1);
  CHECK_INT(evs[0].at, at);
  /* 300 reports later: each interval follows its draw, within the bounds,
   * and the draws spread over them. */
  uint64_t lo = UINT64_MAX, hi = 0, prev = at;
  for (int i = 0; i < 300; i++) {
    unsigned k = G.n;
    CHECK(rmp_src_next_deadline(m, &at));
    uint64_t gap = at - prev;
    double want = 5e6 * (rng_unit(G.log[k - 1]) + 0.5) / COMPENSATION;
    CHECK(fabs((double)gap - want) <= 1.0);
    if (gap < lo) lo = gap;
    if (gap > hi) hi = gap;
    run_until(m, &now, at);
    prev = at;
  }
  CHECK(lo >= (uint64_t)(5e6 * 0.5 / COMPENSATION));
  CHECK(hi <= (uint64_t)(5e6 * 1.5 / COMPENSATION) + 1);
  CHECK(hi - lo > (uint64_t)(5e6 * 0.9 / COMPENSATION)); /* the randomisation is there */
  CHECK_INT(count(RMP_SRC_OUT_DATAGRAM), 301);
  CHECK_INT(rmp_src_get_stats(m)->rtcp_sent, 301);
  /* A smaller minimum (rtcp_interval) is honoured. */
  m = start(14, 1e6, 0.1);
  CHECK(rmp_src_next_deadline(m, &at));
  CHECK(fabs((double)(at - T0) - 0.05e6 * (rng_unit(G.log[0]) + 0.5) / COMPENSATION) <= 1.0);
}

/* Runs a twin of a machine to learn when its first report goes out. */
static uint64_t first_report_delay(uint64_t seed) {
  rng g = {.x = seed};
  rmp_src_config c = config(&g, 25, 5);
  rmp_src twin;
  open_at(&twin, &c, T0);
  uint64_t at;
  rmp_src_next_deadline(&twin, &at);
  return at - T0;
}

/* Our SR, the peer's RR about it 62.5 ms later with DLSR 15.625 ms: the
 * round trip is 46.875 ms, exactly (every time on the 1/65536 s grid of
 * NTP's middle 32 bits). */
static void test_rtt_exact(void) {
  uint64_t delay = first_report_delay(15);
  rng g = {.x = 15};
  rmp_src_config c = config(&g, 25, 5);
  rmp_src m;
  rmp_src_init(&m, &c);
  uint64_t now = T0;
  /* The wall clock at open such that the first report leaves at a whole
   * second. */
  rmp_src_open(&m, now, &PEER_HOST, WALL0 - delay);
  nev = 0;
  CHECK_INT(feed_rtp(&m, now, PEER_SSRC, 1, &PEER_RTP), RMP_SRC_ACCEPT);
  rmp_src_sent_rtp(&m, 3);
  rmp_src_sent_rtp(&m, 5);
  run_until(&m, &now, T0 + delay);
  CHECK_INT(count(RMP_SRC_OUT_DATAGRAM), 1);
  const ev *sr = find(RMP_SRC_OUT_DATAGRAM, 0);
  /* The SR: our counts, the wall clock, a report block about the peer. */
  rmp_rtcp_iter_t it;
  rmp_rtcp_hdr_t h;
  rmp_rtcp_report_t rep;
  rmp_rtcp_iter_init(&it, sr->data, sr->o.len);
  CHECK(rmp_rtcp_iter_next(&it, &h) > 0 && h.pt == RMP_RTCP_SR);
  CHECK_INT(rmp_rtcp_parse_report(&h, &rep), 0);
  CHECK_INT(rep.ssrc, OUR_SSRC);
  CHECK_INT(rep.si.packet_count, 2);
  CHECK_INT(rep.si.octet_count, 8);
  CHECK(rep.si.ntp == rmp_ntp_from_unix_us(WALL0));
  CHECK_INT(rep.n_rb, 1);
  CHECK_INT(rep.rb[0].ssrc, PEER_SSRC);
  CHECK_INT(rep.rb[0].ext_highest_seq, 1);
  CHECK_INT(rep.rb[0].lsr, 0); /* no SR from the peer yet */
  /* The peer's RR. */
  rmp_rtcp_rb_t rb = {.ssrc = OUR_SSRC, .fraction_lost = 64, .cumulative_lost = 3,
                      .ext_highest_seq = 0x12345, .jitter = 80,
                      .lsr = rmp_ntp_mid32(rep.si.ntp), .dlsr = 1024 /* 15.625 ms */};
  uint8_t r[128];
  int n = rmp_rtcp_build_rr(r, sizeof r, PEER_SSRC, &rb, 1);
  now = T0 + delay + 62500;
  nev = 0;
  rmp_src_on_rtcp(&m, now, r, (size_t)n, &PEER_RTCP);
  collect(&m, now);
  CHECK_INT(count(RMP_SRC_OUT_REPORT), 1);
  const ev *e = find(RMP_SRC_OUT_REPORT, 0);
  CHECK(e && e->o.report.rtt_ms == 46.875);
  CHECK(e && e->o.report.ext_highest_seq == 0x12345 && e->o.report.fraction_lost == 64 &&
        e->o.report.cumulative_lost == 3 && e->o.report.jitter == 80);
  const rmp_src_stats *st = rmp_src_get_stats(&m);
  CHECK(st->rtt_ms == 46.875);
  CHECK_INT(st->remote_lost, 3);
  CHECK_INT(st->remote_jitter, 80);
  /* A block without LSR: no RTT, the last one kept. */
  rb.lsr = 0;
  n = rmp_rtcp_build_rr(r, sizeof r, PEER_SSRC, &rb, 1);
  rmp_src_on_rtcp(&m, now, r, (size_t)n, &PEER_RTCP);
  collect(&m, now);
  CHECK(find(RMP_SRC_OUT_REPORT, 1) && find(RMP_SRC_OUT_REPORT, 1)->o.report.rtt_ms == -1);
  CHECK(st->rtt_ms == 46.875);
}

/* The peer's SR sets our LSR/DLSR; its SDES names it. */
static void test_peer_sr_and_sdes(void) {
  uint64_t now = T0;
  rmp_src *m = start(16, 25, 5);
  uint8_t b[512];
  rmp_rtcp_sender_info_t si = {.ntp = 0x1122334455667788ull, .rtp_ts = 1, .packet_count = 1, .octet_count = 1};
  int n = rmp_rtcp_build_sr(b, sizeof b, PEER_SSRC, &si, NULL, 0);
  n += rmp_rtcp_build_sdes_cname(b + n, sizeof b - (size_t)n, PEER_SSRC, "peer@host", "peertool");
  rmp_src_on_rtcp(m, now, b, (size_t)n, &PEER_RTCP);
  collect(m, now);
  const rmp_src_stats *st = rmp_src_get_stats(m);
  CHECK(strcmp(st->peer_cname, "peer@host") == 0);
  CHECK(strcmp(st->peer_tool, "peertool") == 0);
  CHECK_INT(feed_rtp(m, now, PEER_SSRC, 1, &PEER_RTP), RMP_SRC_ACCEPT);
  /* Our next report echoes its SR: LSR its NTP's middle, DLSR the time
   * since (a multiple of 1/65536 s here: 0.5 s). */
  uint64_t sr_at = now;
  uint64_t at;
  rmp_src_next_deadline(m, &at);
  run_until(m, &now, at);
  const ev *d = find(RMP_SRC_OUT_DATAGRAM, 0);
  rmp_rtcp_iter_t it;
  rmp_rtcp_hdr_t h;
  rmp_rtcp_report_t rep;
  rmp_rtcp_iter_init(&it, d->data, d->o.len);
  CHECK(rmp_rtcp_iter_next(&it, &h) > 0 && h.pt == RMP_RTCP_RR); /* we sent nothing */
  CHECK_INT(rmp_rtcp_parse_report(&h, &rep), 0);
  CHECK_INT(rep.rb[0].lsr, 0x33445566);
  CHECK_INT(rep.rb[0].dlsr, rmp_rtcp_dlsr_from_us(at - sr_at));
  /* A malformed SDES inside a valid compound counts as malformed. */
  n = rmp_rtcp_build_rr(b, sizeof b, PEER_SSRC, NULL, 0);
  static const uint8_t bad_sdes[] = {0x81, 0xCA, 0x00, 0x02, 0, 0, 0, 1, 0x01, 0x20, 'x', 'y'};
  memcpy(b + n, bad_sdes, sizeof bad_sdes);
  uint64_t before = st->malformed;
  rmp_src_on_rtcp(m, now, b, (size_t)n + sizeof bad_sdes, &PEER_RTCP);
  CHECK_INT(st->malformed, before + 1);
}

/* The BYE on stop: RR + SDES + BYE with the reason, counted as sent. */
static void test_bye_on_stop(void) {
  uint64_t now = T0;
  rmp_src *m = start(17, 25, 5);
  uint8_t b[RMP_SRC_RTCP_MAX];
  rmp_addr to;
  size_t n = rmp_src_bye(m, now, "session stopped", b, sizeof b, &to);
  CHECK(n > 0 && rmp_rtcp_validate_compound(b, n) == (int)n);
  CHECK(rmp_addr_equal(&to, &PEER_RTCP));
  CHECK_INT(rmp_src_get_stats(m)->rtcp_sent, 1);
  rmp_src_close(m);
  CHECK(!rmp_src_next_deadline(m, &now));
  CHECK_INT(rmp_src_bye(m, now, "x", b, sizeof b, &to), 0);
  rmp_src_pkt pkt;
  CHECK_INT(rmp_src_on_rtp(m, now, b, n, &PEER_RTP, &pkt), RMP_SRC_CLOSED);
}

/* A compound with 31 report blocks about us in each of many RRs: the
 * outbox keeps room for what matters and the newest report. */
static void test_report_flood(void) {
  uint64_t now = T0;
  rmp_src *m = start(18, 25, 5);
  uint8_t b[8192];
  rmp_rtcp_rb_t rb[31];
  memset(rb, 0, sizeof rb);
  size_t n = 0;
  for (int p = 0; p < 8; p++) {
    for (int i = 0; i < 31; i++) {
      rb[i].ssrc = OUR_SSRC;
      rb[i].ext_highest_seq = (uint32_t)(p * 31 + i);
    }
    n += (size_t)rmp_rtcp_build_rr(b + n, sizeof b - n, PEER_SSRC, rb, 31);
  }
  uint32_t peer = PEER_SSRC;
  n += (size_t)rmp_rtcp_build_bye(b + n, sizeof b - n, &peer, 1, "bye");
  rmp_src_on_rtcp(m, now, b, n, &PEER_RTCP);
  collect(m, now);
  CHECK_INT(count(RMP_SRC_OUT_REPORT), RMP_SRC_OUT_MAX - 3);
  const ev *last = find(RMP_SRC_OUT_REPORT, RMP_SRC_OUT_MAX - 4);
  CHECK(last && last->o.report.ext_highest_seq == 8 * 31 - 1);
  CHECK_INT(count(RMP_SRC_OUT_FORGET), 1);
  CHECK_INT(count(RMP_SRC_OUT_DROP), 1);
}

/* The largest things the outbox holds fit in it: reports and a collision's
 * BYE with a CNAME and a TOOL of 255 octets, a BYE reason of 255. */
static void test_largest_outputs_fit(void) {
  rng g = {.x = 19};
  rmp_src_config c = config(&g, 25, 5);
  char cname[256], tool[256], reason[256];
  memset(cname, 'c', 255);
  memset(tool, 't', 255);
  memset(reason, 'r', 255);
  cname[255] = tool[255] = reason[255] = '\0';
  c.cname = cname;
  c.tool = tool;
  rmp_src m;
  uint64_t now = T0;
  open_at(&m, &c, now);
  CHECK_INT(feed_rtp(&m, now, PEER_SSRC, 1, &PEER_RTP), RMP_SRC_ACCEPT);
  rmp_src_sent_rtp(&m, 10);
  run_until(&m, &now, now + 10000000);
  CHECK(count(RMP_SRC_OUT_DATAGRAM) >= 2);
  CHECK_INT(feed_rtp(&m, now, OUR_SSRC, 2, &PEER_RTP), RMP_SRC_COLLISION);
  const ev *bye = find(RMP_SRC_OUT_DATAGRAM, count(RMP_SRC_OUT_DATAGRAM) - 1);
  CHECK(bye && bye->o.len > 2 * 255 && rmp_rtcp_validate_compound(bye->data, bye->o.len) == (int)bye->o.len);
  uint8_t b[1024];
  size_t n = rr_bye(b, PEER_SSRC, reason);
  rmp_src_on_rtcp(&m, now, b, n, &PEER_RTCP);
  collect(&m, now);
  const ev *d = find(RMP_SRC_OUT_DROP, 0);
  CHECK(d && strcmp(d->detail, reason) == 0);
  CHECK_INT(rmp_src_get_stats(&m)->events_lost, 0);
}

int main(void) {
  OWN_RTP = addr("10.0.0.1", 5004);
  OWN_RTCP = addr("10.0.0.1", 5005);
  PEER_HOST = addr("10.0.0.2", 0);
  PEER_RTP = addr("10.0.0.2", 6004);
  PEER_RTCP = addr("10.0.0.2", 6005);
  OTHER = addr("10.0.0.3", 6004);
  test_timeout_once_and_rearm();
  test_never_heard_times_out_once();
  test_rtcp_keeps_alive();
  test_restart_after_bye();
  test_restart_after_timeout();
  test_restart_after_network_error();
  test_rtcp_unreachable_while_rtp_flows();
  test_forged_icmp_for_another_destination();
  test_collision_and_loop();
  test_collision_flood();
  test_rtcp_source_port();
  test_collision_with_a_stuck_generator();
  test_peer_collision_bye_is_no_drop();
  test_foreign_and_malformed();
  test_accept_any_source();
  test_receive_only_learns_rtcp();
  test_resync();
  test_held_jump();
  test_probation();
  test_report_interval();
  test_rtt_exact();
  test_peer_sr_and_sdes();
  test_bye_on_stop();
  test_report_flood();
  test_largest_outputs_fit();
  return check_report();
}
