/* Tests of the Network MIDI 2.0 session machine (midi2_session.c) on
 * virtual time: several machines over a fake network that delays, drops
 * and records datagrams. No sockets, no clock.
 *
 * Pass a seed as argv[1] to rerun the random-loss test with other losses. */
#include "midi2_session.h"
#include "ump.h"
#include "check.h"

#include <openssl/evp.h>
#include <stdlib.h>

/* ---------- crypto for the machines (libcrypto; a fixed random) ---------- */

static int sha256(void *ctx, const uint8_t *d, size_t n, uint8_t out[32]) {
  (void)ctx;
  unsigned len = 0;
  return EVP_Digest(d, n, out, &len, EVP_sha256(), NULL) == 1 ? 0 : -1;
}

static uint64_t rng = 0x1234567887654321ull;
static uint32_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 11);
}
static int random_bytes(void *ctx, uint8_t *out, size_t n) {
  (void)ctx;
  for (size_t i = 0; i < n; i++) out[i] = (uint8_t)rnd();
  return 0;
}

/* ---------- nodes and network ---------- */

#define MAX_NODES 6
#define MAX_LOG 20000
#define MAX_WORDS 200000
#define MAX_FLIGHT 4096

typedef struct {
  int type, cause;
  uint32_t peer, count;
  uint8_t reason;
  bool remote, recovered;
  uint16_t seq, nwords;
  size_t off;
  uint64_t time;
  uint32_t header;
} ev_rec;

typedef struct {
  rmp_m2s m;
  rmp_addr addr;
  bool up;
  ev_rec ev[MAX_LOG];
  size_t nev;
  uint32_t words[MAX_WORDS];
  size_t nwords;
  unsigned sent[256];    /* commands sent, by code */
  unsigned bye_reasons[256];
  unsigned zero_len;     /* datagrams sent whose fresh UMP Data command is zero-length */
} node;

static node nodes[MAX_NODES];
static int nnodes;

typedef struct {
  uint64_t at;
  int from, to;
  size_t len;
  uint8_t buf[RMP_M2_MAX_DATAGRAM];
  rmp_addr src;
} flight;
static flight fl[MAX_FLIGHT];
static size_t nfl;
static uint64_t now;
static uint64_t latency = 1000;
static unsigned to_nowhere;

/* Drop policy: return true to lose the datagram. `k` counts datagrams from
 * `from` to `to` that carried UMP Data since the policy was set. */
typedef bool (*drop_fn)(int from, int to, const uint8_t *buf, size_t len, unsigned k);
static drop_fn dropper;
static unsigned data_count[MAX_NODES][MAX_NODES];
static unsigned dropped_total;

/* Captured datagrams (for byte-level checks of what went out). */
typedef struct {
  int from;
  size_t len;
  uint8_t buf[RMP_M2_MAX_DATAGRAM];
} capture;
static capture caps[64];
static size_t ncaps;
static int capture_code = -1;

static rmp_addr addr_of(int i, uint16_t port) {
  uint8_t ip[4] = {10, 0, 0, (uint8_t)(i + 1)};
  return rmp_addr_v4(ip, port);
}

static int node_of(const rmp_addr *a) {
  for (int i = 0; i < nnodes; i++)
    if (nodes[i].up && rmp_addr_equal(&nodes[i].addr, a)) return i;
  return -1;
}

static void set_drop(drop_fn f) {
  dropper = f;
  memset(data_count, 0, sizeof data_count);
}

static bool has_ump_data(const uint8_t *buf, size_t len) {
  rmp_m2_reader r;
  rmp_m2_cmd c;
  if (rmp_m2_reader_init(&r, buf, len) < 0) return false;
  while (rmp_m2_read(&r, &c) == 1)
    if (c.code == RMP_M2_UMP_DATA) return true;
  return false;
}

static void account(node *n, const uint8_t *buf, size_t len) {
  rmp_m2_reader r;
  rmp_m2_cmd c;
  if (rmp_m2_reader_init(&r, buf, len) < 0) return;
  int last_ump_words = -1; /* the last UMP Data command is the fresh one; before it come FEC copies */
  while (rmp_m2_read(&r, &c) == 1) {
    n->sent[c.code]++;
    if (c.code == RMP_M2_BYE) n->bye_reasons[c.u.bye.reason]++;
    if (c.code == RMP_M2_UMP_DATA) last_ump_words = c.u.ump.nwords;
  }
  if (last_ump_words == 0) n->zero_len++;
}

/* Moves a node's outbox into the network and its events into its log. */
static void drain(int i) {
  node *n = &nodes[i];
  rmp_m2s_dgram d;
  while (rmp_m2s_pop_datagram(&n->m, &d)) {
    account(n, d.buf, d.len);
    if (capture_code >= 0 && ncaps < 64 && d.len > 4 && d.buf[4] == capture_code) {
      caps[ncaps].from = i;
      caps[ncaps].len = d.len;
      memcpy(caps[ncaps++].buf, d.buf, d.len);
    }
    int to = node_of(&d.to);
    if (to < 0) {
      to_nowhere++;
      continue;
    }
    if (has_ump_data(d.buf, d.len)) {
      unsigned k = data_count[i][to]++;
      if (dropper && dropper(i, to, d.buf, d.len, k)) {
        dropped_total++;
        continue;
      }
    } else if (dropper && dropper(i, to, d.buf, d.len, ~0u)) {
      dropped_total++;
      continue;
    }
    if (nfl == MAX_FLIGHT) abort();
    flight *f = &fl[nfl++];
    f->at = now + latency;
    f->from = i;
    f->to = to;
    f->len = d.len;
    f->src = n->addr;
    memcpy(f->buf, d.buf, d.len);
  }
  rmp_m2s_event e;
  while (rmp_m2s_pop_event(&n->m, &e)) {
    if (n->nev == MAX_LOG) abort();
    ev_rec *r = &n->ev[n->nev++];
    memset(r, 0, sizeof *r);
    r->type = e.type;
    r->cause = e.cause;
    r->peer = e.peer;
    r->count = e.count;
    r->reason = e.reason;
    r->remote = e.remote;
    r->recovered = e.recovered;
    r->seq = e.seq;
    r->time = e.time;
    r->header = e.header;
    if (e.type == RMP_M2S_EV_UMP) {
      if (n->nwords + e.nwords > MAX_WORDS) abort();
      r->off = n->nwords;
      r->nwords = e.nwords;
      memcpy(n->words + n->nwords, e.words, 4u * e.nwords);
      n->nwords += e.nwords;
    }
  }
}

static void drain_all(void) {
  for (int i = 0; i < nnodes; i++)
    if (nodes[i].up) drain(i);
}

/* Runs the network and the machines until `until` (virtual us). */
static void run_until(uint64_t until) {
  for (int guard = 0; guard < 1000000; guard++) {
    drain_all();
    uint64_t next = UINT64_MAX;
    for (size_t k = 0; k < nfl; k++)
      if (fl[k].at < next) next = fl[k].at;
    for (int i = 0; i < nnodes; i++)
      if (nodes[i].up) {
        uint64_t d = rmp_m2s_next_deadline(&nodes[i].m);
        if (d < next) next = d;
      }
    if (next > until) {
      now = until;
      return;
    }
    if (next > now) now = next;
    /* deliver what is due, in order of sending */
    size_t k = 0;
    while (k < nfl) {
      if (fl[k].at <= now) {
        flight f = fl[k];
        memmove(&fl[k], &fl[k + 1], (nfl - k - 1) * sizeof fl[0]);
        nfl--;
        if (nodes[f.to].up) {
          rmp_m2s_on_packet(&nodes[f.to].m, now, f.buf, f.len, &f.src);
          drain(f.to);
        }
      } else {
        k++;
      }
    }
    for (int i = 0; i < nnodes; i++)
      if (nodes[i].up && rmp_m2s_next_deadline(&nodes[i].m) <= now) {
        rmp_m2s_tick(&nodes[i].m, now);
        drain(i);
      }
  }
  fprintf(stderr, "run_until: a deadline that does not move (now %llu)\n", (unsigned long long)now);
  abort();
}
static void run_ms(uint64_t v) { run_until(now + v * 1000); }

static void reset_world(void) {
  memset(nodes, 0, sizeof nodes);
  nnodes = 0;
  nfl = 0;
  now = 1000000;
  latency = 1000;
  to_nowhere = 0;
  dropper = NULL;
  dropped_total = 0;
  ncaps = 0;
  capture_code = -1;
  memset(data_count, 0, sizeof data_count);
}

static rmp_m2s_config base_config(int role, const char *name, const char *piid) {
  rmp_m2s_config c;
  rmp_m2s_config_defaults(&c);
  c.role = role;
  c.name = name;
  c.piid = piid;
  c.sha256 = sha256;
  c.random = random_bytes;
  return c;
}

static int add_node(const rmp_m2s_config *c, uint16_t port) {
  int i = nnodes++;
  nodes[i].addr = addr_of(i, port);
  nodes[i].up = true;
  CHECK_INT(rmp_m2s_init(&nodes[i].m, c), 0);
  return i;
}

static int count_ev(int n, int type) {
  int k = 0;
  for (size_t i = 0; i < nodes[n].nev; i++) k += nodes[n].ev[i].type == type;
  return k;
}

static const ev_rec *last_ev(int n, int type) {
  for (size_t i = nodes[n].nev; i-- > 0;)
    if (nodes[n].ev[i].type == type) return &nodes[n].ev[i];
  return NULL;
}

static uint32_t invite(int from, int to, const rmp_m2s_auth *auth) {
  uint32_t id = 0;
  CHECK_INT(rmp_m2s_invite(&nodes[from].m, now, &nodes[to].addr, auth, &id), 0);
  drain(from);
  return id;
}

/* The session id node `a` has for node `b` (0: none). */
static uint32_t peer_id(int a, int b) {
  uint32_t ids[RMP_M2S_MAX_PEERS];
  size_t n = rmp_m2s_peers(&nodes[a].m, ids, RMP_M2S_MAX_PEERS);
  for (size_t i = 0; i < n; i++) {
    rmp_m2s_peer_info pi;
    if (rmp_m2s_peer_get(&nodes[a].m, ids[i], &pi) == 0 && rmp_addr_equal(&pi.addr, &nodes[b].addr)) return ids[i];
  }
  return 0;
}

static bool established(int a, int b) {
  rmp_m2s_peer_info pi;
  uint32_t id = peer_id(a, b);
  return id && rmp_m2s_peer_get(&nodes[a].m, id, &pi) == 0 && pi.state == RMP_M2S_ESTABLISHED;
}

/* The words node n received from peer `peer` (0: any), concatenated. */
static size_t received(int n, uint32_t peer, uint32_t *out, size_t cap) {
  size_t k = 0;
  for (size_t i = 0; i < nodes[n].nev; i++) {
    const ev_rec *e = &nodes[n].ev[i];
    if (e->type != RMP_M2S_EV_UMP || (peer && e->peer != peer)) continue;
    for (size_t j = 0; j < e->nwords && k < cap; j++) out[k++] = nodes[n].words[e->off + j];
  }
  return k;
}

static void send_words(int n, uint32_t peer, const uint32_t *w, size_t k) {
  int rc = rmp_m2s_send(&nodes[n].m, now, peer, w, k);
  CHECK(rc >= 1);
  drain(n);
}

static int pair(int *host, int *client, unsigned fec) {
  rmp_m2s_config hc = base_config(RMP_M2S_HOST, "studio host", "H-1");
  rmp_m2s_config cc = base_config(RMP_M2S_CLIENT, "laptop", "C-1");
  hc.fec = cc.fec = fec;
  *host = add_node(&hc, 5673);
  *client = add_node(&cc, 40000);
  invite(*client, *host, NULL);
  run_ms(20);
  CHECK(established(*client, *host));
  CHECK(established(*host, *client));
  return 0;
}

/* ---------- tests ---------- */

static void test_config(void) {
  rmp_m2s_config c;
  static rmp_m2s m;
  rmp_m2s_config_defaults(&c);
  CHECK_INT(rmp_m2s_init(&m, &c), 0);
  c.fec = 11;
  CHECK_INT(rmp_m2s_init(&m, &c), RMP_M2S_EINVAL);
  rmp_m2s_config_defaults(&c);
  c.history = 1;
  CHECK_INT(rmp_m2s_init(&m, &c), RMP_M2S_EINVAL); /* history < fec */
  rmp_m2s_config_defaults(&c);
  char longname[RMP_M2_NAME_MAX + 2];
  memset(longname, 'x', sizeof longname);
  longname[sizeof longname - 1] = 0;
  c.name = longname;
  CHECK_INT(rmp_m2s_init(&m, &c), RMP_M2S_EINVAL);
  rmp_m2s_config_defaults(&c);
  c.secret = "s";
  CHECK_INT(rmp_m2s_init(&m, &c), RMP_M2S_EINVAL); /* authentication needs sha256 and random */
  c.sha256 = sha256;
  c.random = random_bytes;
  CHECK_INT(rmp_m2s_init(&m, &c), 0);
  rmp_m2s_config_defaults(&c);
  c.max_clients = 0;
  CHECK_INT(rmp_m2s_init(&m, &c), RMP_M2S_EINVAL);
  rmp_m2s_config_defaults(&c);
  CHECK_INT(rmp_m2s_init(&m, &c), 0);
  CHECK_INT(rmp_m2s_next_deadline(&m), UINT64_MAX);
  uint32_t w = 0x40903C00; /* half a message */
  CHECK_INT(rmp_m2s_send(&m, 0, 0, &w, 1), RMP_M2S_EINVAL);
  uint32_t note = 0x20903C64;
  CHECK_INT(rmp_m2s_send(&m, 0, 0, &note, 1), 0); /* nobody to send to */
  CHECK_INT(rmp_m2s_send(&m, 0, 77, &note, 1), RMP_M2S_ENOPEER);
  rmp_addr none = {0};
  CHECK_INT(rmp_m2s_invite(&m, 0, &none, NULL, NULL), RMP_M2S_EINVAL);
  rmp_m2s_auth half = {NULL, "user", NULL};
  rmp_addr a = addr_of(9, 1);
  CHECK_INT(rmp_m2s_invite(&m, 0, &a, &half, NULL), RMP_M2S_EINVAL);
}

static void test_invite_plain(void) {
  reset_world();
  rmp_m2s_config hc = base_config(RMP_M2S_HOST, "studio host", "H-1");
  rmp_m2s_config cc = base_config(RMP_M2S_CLIENT, "laptop", "C-1");
  int h = add_node(&hc, 5673), c = add_node(&cc, 40000);
  uint64_t t0 = now;
  uint32_t id = invite(c, h, NULL);
  CHECK(id != 0);
  run_ms(20);
  CHECK_INT(count_ev(c, RMP_M2S_EV_JOINED), 1);
  CHECK_INT(count_ev(h, RMP_M2S_EV_JOINED), 1);
  CHECK_INT(last_ev(c, RMP_M2S_EV_JOINED)->peer, id);
  CHECK_INT(last_ev(c, RMP_M2S_EV_JOINED)->time, t0 + 2 * latency); /* one round trip */
  rmp_m2s_peer_info pi;
  CHECK_INT(rmp_m2s_peer_get(&nodes[c].m, id, &pi), 0);
  CHECK(strcmp(pi.name, "studio host") == 0 && strcmp(pi.piid, "H-1") == 0);
  CHECK(pi.invited_by_us);
  CHECK_INT(rmp_m2s_peer_get(&nodes[h].m, peer_id(h, c), &pi), 0);
  CHECK(strcmp(pi.name, "laptop") == 0 && strcmp(pi.piid, "C-1") == 0);
  CHECK(!pi.invited_by_us);
  CHECK_INT(nodes[c].sent[RMP_M2_INVITATION], 1);
  CHECK_INT(nodes[h].sent[RMP_M2_ACCEPTED], 1);
  /* a second invitation to the same address is refused */
  CHECK_INT(rmp_m2s_invite(&nodes[c].m, now, &nodes[h].addr, NULL, NULL), RMP_M2S_EBUSY);
}

static bool drop_first_accept(int from, int to, const uint8_t *buf, size_t len, unsigned k) {
  (void)from; (void)to; (void)k;
  static int seen;
  if (len > 4 && buf[4] == RMP_M2_ACCEPTED && seen++ == 0) return true;
  return false;
}

static void test_invite_lost_accept(void) {
  /* The first Accepted is lost: the client repeats its Invitation after
   * invite_retry_ms and the host accepts again ([W]). */
  reset_world();
  rmp_m2s_config hc = base_config(RMP_M2S_HOST, "h", "");
  rmp_m2s_config cc = base_config(RMP_M2S_CLIENT, "c", "");
  int h = add_node(&hc, 5673), c = add_node(&cc, 40000);
  capture_code = RMP_M2_ACCEPTED;
  set_drop(drop_first_accept);
  invite(c, h, NULL);
  run_ms(500);
  CHECK(!established(c, h));
  CHECK(established(h, c));
  run_ms(600);
  CHECK(established(c, h));
  CHECK_INT(nodes[c].sent[RMP_M2_INVITATION], 2);
  CHECK_INT(nodes[h].sent[RMP_M2_ACCEPTED], 2);
  CHECK_INT(count_ev(h, RMP_M2S_EV_JOINED), 1);
}

static void test_invite_gives_up(void) {
  /* Nobody answers: 5 Invitations one second apart, then Bye 0x80 ([W]). */
  reset_world();
  rmp_m2s_config cc = base_config(RMP_M2S_CLIENT, "c", "");
  int c = add_node(&cc, 40000);
  rmp_addr nowhere = addr_of(5, 5673);
  uint32_t id = 0;
  uint64_t t0 = now;
  CHECK_INT(rmp_m2s_invite(&nodes[c].m, now, &nowhere, NULL, &id), 0);
  drain(c);
  run_ms(10000);
  CHECK_INT(nodes[c].sent[RMP_M2_INVITATION], 5);
  CHECK_INT(nodes[c].bye_reasons[RMP_M2_BYE_INVITATION_CANCELED], 1);
  const ev_rec *e = last_ev(c, RMP_M2S_EV_LEFT);
  CHECK(e && e->cause == RMP_M2S_LEFT_INVITE_FAILED && e->peer == id);
  CHECK(e && e->time == t0 + 5000000);
  CHECK_INT(rmp_m2s_peers(&nodes[c].m, &id, 1), 0);
  CHECK_INT(rmp_m2s_next_deadline(&nodes[c].m), UINT64_MAX);
}

/* Every message type, both ways, bit-exact. */
static const uint32_t all_types[] = {
  0x00100123,                                     /* MT 0 utility: JR clock */
  0x10F80000, 0x13F21020, 0x10F60000,             /* MT 1 system */
  0x20903C64, 0x2FC50700,                         /* MT 2 MIDI 1.0 channel voice */
  0x30160102, 0x03040506, 0x30310700, 0x00000000, /* MT 3 SysEx7 start, end */
  0x40913C00, 0xFFFF0000, 0x40220001, 0x80000000, /* MT 4 MIDI 2.0 note on, RPN */
  0x50000D01, 0x02030405, 0x06070809, 0x0A0B0C0D, /* MT 5 SysEx8 complete */
  0x60000001,                                     /* MT 6 (reserved, 32-bit) */
  0x70000002,                                     /* MT 7 (reserved, 32-bit) */
  0x80000003, 0x00000004,                         /* MT 8 (reserved, 64-bit) */
  0x90000005, 0x00000006,                         /* MT 9 */
  0xA0000007, 0x00000008,                         /* MT A */
  0xB0000009, 0x0000000A, 0x0000000B,             /* MT B (96-bit) */
  0xC000000C, 0x0000000D, 0x0000000E,             /* MT C */
  0xD0100001, 0x00000078, 0x00000000, 0x00000000, /* MT D flex data: set tempo */
  0xE0000010, 1, 2, 3,                            /* MT E */
  0xF4030000 | 'a' << 8 | 'b', 0x63646566, 0x6768696A, 0x6B6C6D6E, /* MT F name notification (start) */
};

static void test_every_type(void) {
  reset_world();
  int h, c;
  pair(&h, &c, 2);
  size_t n = sizeof all_types / 4;
  /* one message per send, client -> host */
  rmp_ump_iter it;
  rmp_ump_iter_init(&it, all_types, n);
  const uint32_t *m;
  unsigned len;
  while (rmp_ump_next(&it, &m, &len) == 1) {
    send_words(c, peer_id(c, h), m, len);
    run_ms(1);
  }
  /* all in one send, host -> client (to all) */
  send_words(h, 0, all_types, n);
  run_ms(300);
  static uint32_t got[4096];
  size_t k = received(h, peer_id(h, c), got, 4096);
  CHECK_MEM(got, 4 * k, all_types, sizeof all_types);
  k = received(c, 0, got, 4096);
  CHECK_MEM(got, 4 * k, all_types, sizeof all_types);
  /* a send larger than one UMP Data command (64 words) and than a datagram */
  static uint32_t big[600];
  for (int i = 0; i < 600; i++) big[i] = 0x20900000u | (uint32_t)(i & 0x7F) << 8 | (uint32_t)(i % 127 + 1);
  size_t before = nodes[c].nwords;
  send_words(h, 0, big, 600);
  run_ms(300);
  CHECK_INT(nodes[c].nwords - before, 600);
  CHECK(memcmp(nodes[c].words + before, big, sizeof big) == 0);
  CHECK_INT(nodes[c].m.stats.lost, 0);
  CHECK_INT(nodes[c].m.stats.rtx_requests_out, 0);
}

static bool drop_every_third(int from, int to, const uint8_t *buf, size_t len, unsigned k) {
  (void)buf; (void)len;
  return from == 0 && to == 1 && k != ~0u && k % 3 == 1;
}

static void test_fec_single_losses(void) {
  reset_world();
  int h, c;
  pair(&h, &c, 2);
  set_drop(drop_every_third);
  static uint32_t sent[120];
  for (int i = 0; i < 120; i++) {
    sent[i] = (i % 2 ? 0x20800000u : 0x20900000u) | (uint32_t)(60 + i / 2 % 24) << 8 | (i % 2 ? 0u : 100u);
    send_words(h, 0, &sent[i], 1);
    run_ms(10);
  }
  run_ms(500);
  static uint32_t got[200];
  size_t k = received(c, 0, got, 200);
  CHECK_INT(k, 120);
  CHECK(memcmp(got, sent, sizeof sent) == 0);
  CHECK(dropped_total >= 40);
  const rmp_m2s_stats *st = &nodes[c].m.stats;
  CHECK_INT(st->rtx_requests_out, 0); /* FEC alone */
  CHECK_INT(st->lost, 0);
  CHECK(st->recovered_fec >= 40);
  int rec = 0;
  for (size_t i = 0; i < nodes[c].nev; i++)
    rec += nodes[c].ev[i].type == RMP_M2S_EV_UMP && nodes[c].ev[i].recovered;
  CHECK(rec >= 39 && rec <= 41);
}

static bool drop_burst(int from, int to, const uint8_t *buf, size_t len, unsigned k) {
  (void)buf; (void)len;
  return from == 0 && to == 1 && k != ~0u && k >= 10 && k < 16; /* six in a row */
}

static void test_retransmit_burst(void) {
  reset_world();
  int h, c;
  pair(&h, &c, 2);
  set_drop(drop_burst);
  static uint32_t sent[40];
  for (int i = 0; i < 40; i++) {
    sent[i] = 0x20B00700u | (uint32_t)i;
    send_words(h, 0, &sent[i], 1);
    run_ms(5);
  }
  run_ms(500);
  static uint32_t got[100];
  size_t k = received(c, 0, got, 100);
  CHECK_INT(k, 40);
  CHECK(memcmp(got, sent, sizeof sent) == 0);
  CHECK_INT(nodes[c].m.stats.lost, 0);
  CHECK_INT(nodes[c].m.stats.rtx_requests_out, 1);
  CHECK_INT(nodes[h].m.stats.rtx_requests_in, 1);
  CHECK_INT(nodes[h].m.stats.retransmitted, 4); /* six lost, FEC gives back the last two */
  /* in order: the seq numbers of the deliveries only go up */
  int order = 0;
  int prev = -1;
  for (size_t i = 0; i < nodes[c].nev; i++)
    if (nodes[c].ev[i].type == RMP_M2S_EV_UMP) {
      order += nodes[c].ev[i].seq <= prev;
      prev = nodes[c].ev[i].seq;
    }
  CHECK_INT(order, 0);
}

static unsigned loss_percent;
static bool drop_random(int from, int to, const uint8_t *buf, size_t len, unsigned k) {
  (void)from; (void)to; (void)buf; (void)len; (void)k;
  return rnd() % 100 < loss_percent;
}

/* Notes both ways over a lossy relay (both directions, every kind of
 * datagram): exact delivery in order, every note ended. */
static void test_random_loss(void) {
  reset_world();
  rmp_m2s_config hc = base_config(RMP_M2S_HOST, "h", "");
  rmp_m2s_config cc = base_config(RMP_M2S_CLIENT, "c", "");
  hc.rtx_tries = cc.rtx_tries = 8;
  int h = add_node(&hc, 5673), c = add_node(&cc, 40000);
  invite(c, h, NULL);
  run_ms(20);
  CHECK(established(c, h));
  loss_percent = 15;
  set_drop(drop_random);
  static uint32_t up[800], down[800];
  size_t nu = 0, nd = 0;
  for (int i = 0; i < 400; i++) {
    uint32_t on = 0x40900000u | (uint32_t)(36 + i % 48) << 8, vel = (uint32_t)(1 + i % 0xFFFF) << 16;
    uint32_t m[2] = {on, vel};
    if (i % 2) {
      send_words(h, 0, m, 2);
      down[nd++] = m[0];
      down[nd++] = m[1];
    } else {
      send_words(c, peer_id(c, h), m, 2);
      up[nu++] = m[0];
      up[nu++] = m[1];
    }
    run_ms(3 + rnd() % 8);
    m[0] = (on & 0xFF0FFFFFu) | 0x00800000u; /* its note off */
    m[1] = 0;
    if (i % 2) {
      send_words(h, 0, m, 2);
      down[nd++] = m[0];
      down[nd++] = m[1];
    } else {
      send_words(c, peer_id(c, h), m, 2);
      up[nu++] = m[0];
      up[nu++] = m[1];
    }
    run_ms(2 + rnd() % 5);
  }
  run_ms(3000);
  static uint32_t got[2000];
  size_t k = received(c, 0, got, 2000);
  CHECK_INT(k, nd);
  CHECK(memcmp(got, down, nd * 4) == 0);
  int stuck = 0;
  for (size_t i = 0; i + 1 < k; i += 2) stuck += (got[i] >> 20 & 0xF) == 9 ? 1 : -1;
  CHECK_INT(stuck, 0);
  k = received(h, 0, got, 2000);
  CHECK_INT(k, nu);
  CHECK(memcmp(got, up, nu * 4) == 0);
  CHECK_INT(nodes[c].m.stats.lost + nodes[h].m.stats.lost, 0);
  CHECK(nodes[c].m.stats.recovered_fec > 0 && nodes[h].m.stats.recovered_fec > 0);
  CHECK(established(c, h) && established(h, c));
  fprintf(stderr, "  random loss: dropped %u; fec %llu/%llu, rtx %llu/%llu, requests %llu/%llu\n", dropped_total,
          (unsigned long long)nodes[c].m.stats.recovered_fec, (unsigned long long)nodes[h].m.stats.recovered_fec,
          (unsigned long long)nodes[c].m.stats.recovered_rtx, (unsigned long long)nodes[h].m.stats.recovered_rtx,
          (unsigned long long)nodes[c].m.stats.rtx_requests_out,
          (unsigned long long)nodes[h].m.stats.rtx_requests_out);
}

static bool drop_long_burst(int from, int to, const uint8_t *buf, size_t len, unsigned k) {
  (void)buf; (void)len;
  return from == 0 && to == 1 && k != ~0u && k >= 10 && k < 30;
}

static void test_retransmit_error(void) {
  /* history 4: a burst of 20 is beyond it; the host answers Retransmit
   * Error, the client counts the loss and goes on in order. */
  reset_world();
  rmp_m2s_config hc = base_config(RMP_M2S_HOST, "h", "");
  rmp_m2s_config cc = base_config(RMP_M2S_CLIENT, "c", "");
  hc.history = 4;
  int h = add_node(&hc, 5673), c = add_node(&cc, 40000);
  invite(c, h, NULL);
  run_ms(20);
  set_drop(drop_long_burst);
  for (int i = 0; i < 40; i++) {
    uint32_t w = 0x20B00700u | (uint32_t)i;
    send_words(h, 0, &w, 1);
    run_ms(2);
  }
  run_ms(500);
  static uint32_t got[100];
  size_t k = received(c, 0, got, 100);
  CHECK_INT(nodes[h].m.stats.rtx_errors_out, 1);
  /* 20 datagrams lost; the next one's FEC gave back 2 of them */
  CHECK_INT(nodes[c].m.stats.lost, 18);
  const ev_rec *e = last_ev(c, RMP_M2S_EV_LOST);
  CHECK(e && e->count == 18);
  CHECK_INT(k, 22);
  int bad = 0;
  for (size_t i = 1; i < k; i++) bad += (got[i] & 0x7F) <= (got[i - 1] & 0x7F);
  CHECK_INT(bad, 0);
  CHECK_INT(got[0] & 0x7F, 0);
  CHECK_INT(got[k - 1] & 0x7F, 39);
}

static bool drop_all(int from, int to, const uint8_t *buf, size_t len, unsigned k) {
  (void)from; (void)to; (void)buf; (void)len; (void)k;
  return true;
}

static void test_ping_timeout(void) {
  reset_world();
  int h, c;
  pair(&h, &c, 2);
  run_ms(5000);
  /* keep-alives flow both ways: no ping was needed */
  CHECK_INT(nodes[c].m.stats.pings_out, 0);
  CHECK(nodes[c].m.stats.keepalives_out >= 4);
  uint64_t cut = now;
  set_drop(drop_all);
  run_ms(10000);
  const ev_rec *e = last_ev(c, RMP_M2S_EV_LEFT);
  CHECK(e && e->cause == RMP_M2S_LEFT_TIMEOUT);
  /* silent since the last datagram before the cut (at most a keep-alive
   * interval earlier): ping at +2 s, +3 s, +4 s, then Bye 0x04 at +5 s */
  if (e) CHECK(e->time > cut + 4000000 - 1 && e->time <= cut + 5000000);
  CHECK_INT(nodes[c].m.stats.pings_out, 3);
  CHECK_INT(nodes[c].bye_reasons[RMP_M2_BYE_TIMEOUT], 1);
  e = last_ev(h, RMP_M2S_EV_LEFT);
  CHECK(e && e->cause == RMP_M2S_LEFT_TIMEOUT);
  CHECK_INT(rmp_m2s_peers(&nodes[h].m, NULL, 0), 0);
}

static void test_ping_answered(void) {
  /* keep-alives off: pings keep the session, the rtt is measured */
  reset_world();
  rmp_m2s_config hc = base_config(RMP_M2S_HOST, "h", "");
  rmp_m2s_config cc = base_config(RMP_M2S_CLIENT, "c", "");
  hc.keepalive_ms = cc.keepalive_ms = 0;
  int h = add_node(&hc, 5673), c = add_node(&cc, 40000);
  uint32_t id = invite(c, h, NULL);
  run_ms(10000);
  CHECK(established(c, h) && established(h, c));
  CHECK(nodes[c].m.stats.pings_out >= 2);
  rmp_m2s_peer_info pi;
  CHECK_INT(rmp_m2s_peer_get(&nodes[c].m, id, &pi), 0);
  CHECK_INT(pi.rtt, 2 * latency);
  CHECK_INT(count_ev(c, RMP_M2S_EV_LEFT), 0);
}

static void test_session_reset(void) {
  reset_world();
  int h, c;
  pair(&h, &c, 2);
  uint32_t hp = peer_id(h, c), cp = peer_id(c, h);
  for (int i = 0; i < 5; i++) {
    uint32_t w = 0x20903C00u | (uint32_t)(i + 1);
    send_words(c, cp, &w, 1);
    run_ms(2);
  }
  run_ms(200);
  rmp_m2s_peer_info pi;
  rmp_m2s_peer_get(&nodes[h].m, hp, &pi);
  CHECK(pi.rx_next >= 5);
  CHECK_INT(rmp_m2s_reset(&nodes[c].m, now, cp), 0);
  drain(c);
  run_ms(20);
  const ev_rec *e = last_ev(h, RMP_M2S_EV_RESET);
  CHECK(e && e->remote);
  e = last_ev(c, RMP_M2S_EV_RESET);
  CHECK(e && !e->remote);
  rmp_m2s_peer_get(&nodes[h].m, hp, &pi);
  CHECK_INT(pi.rx_next, 0);
  CHECK_INT(pi.tx_next, 0);
  rmp_m2s_peer_get(&nodes[c].m, cp, &pi);
  CHECK_INT(pi.tx_next, 0);
  CHECK_INT(pi.rx_next, 0);
  /* after the reset, data is numbered from 0 again and arrives */
  size_t before = nodes[h].nwords;
  uint32_t w = 0x20907F7F;
  send_words(c, cp, &w, 1);
  run_ms(10);
  CHECK_INT(nodes[h].nwords, before + 1);
  CHECK_INT(nodes[h].words[before], 0x20907F7F);
  CHECK_INT(last_ev(h, RMP_M2S_EV_UMP)->seq, 0);
  CHECK_INT(nodes[h].m.stats.lost + nodes[c].m.stats.lost, 0);
  CHECK_INT(rmp_m2s_reset(&nodes[c].m, now, 999), RMP_M2S_ENOPEER);
}

static void test_bye_both_ways(void) {
  reset_world();
  int h, c;
  pair(&h, &c, 2);
  CHECK_INT(rmp_m2s_bye(&nodes[c].m, now, peer_id(c, h), RMP_M2_BYE_USER_TERMINATED), 1);
  drain(c);
  run_ms(20);
  const ev_rec *e = last_ev(h, RMP_M2S_EV_LEFT);
  CHECK(e && e->cause == RMP_M2S_LEFT_BYE && e->reason == RMP_M2_BYE_USER_TERMINATED);
  e = last_ev(c, RMP_M2S_EV_LEFT);
  CHECK(e && e->cause == RMP_M2S_LEFT_LOCAL);
  CHECK_INT(nodes[h].sent[RMP_M2_BYE_REPLY], 1);
  CHECK_INT(nodes[c].sent[RMP_M2_BYE], 1); /* answered at once: no repeat */
  CHECK_INT(rmp_m2s_peers(&nodes[h].m, NULL, 0), 0);
  CHECK_INT(rmp_m2s_peers(&nodes[c].m, NULL, 0), 0);
  /* again, and this time the host ends it */
  invite(c, h, NULL);
  run_ms(20);
  CHECK(established(c, h));
  CHECK_INT(rmp_m2s_bye(&nodes[h].m, now, 0, RMP_M2_BYE_POWER_DOWN), 1);
  drain(h);
  run_ms(20);
  e = last_ev(c, RMP_M2S_EV_LEFT);
  CHECK(e && e->cause == RMP_M2S_LEFT_BYE && e->reason == RMP_M2_BYE_POWER_DOWN);
  e = last_ev(h, RMP_M2S_EV_LEFT);
  CHECK(e && e->cause == RMP_M2S_LEFT_LOCAL);
  /* a Bye nobody answers is repeated bye_retries times, then the session ends */
  invite(c, h, NULL);
  run_ms(20);
  set_drop(drop_all);
  rmp_m2s_bye(&nodes[c].m, now, 0, RMP_M2_BYE_USER_TERMINATED);
  unsigned byes = nodes[c].sent[RMP_M2_BYE];
  drain(c);
  run_ms(3000);
  CHECK_INT(nodes[c].sent[RMP_M2_BYE] - byes, 3);
  CHECK_INT(rmp_m2s_peers(&nodes[c].m, NULL, 0), 0);
}

static void test_auth_secret(void) {
  reset_world();
  rmp_m2s_config hc = base_config(RMP_M2S_HOST, "locked", "L");
  hc.secret = "s3cret";
  rmp_m2s_config cc = base_config(RMP_M2S_CLIENT, "c", "");
  int h = add_node(&hc, 5673), c = add_node(&cc, 40000);
  capture_code = RMP_M2_AUTH_REQUIRED;
  /* no credentials: the host has no method in common ([A] auth_forced) */
  invite(c, h, NULL);
  run_ms(20);
  const ev_rec *e = last_ev(c, RMP_M2S_EV_LEFT);
  CHECK(e && e->cause == RMP_M2S_LEFT_REFUSED && e->reason == RMP_M2_BYE_NO_MATCHING_AUTH);
  /* a wrong secret is refused */
  rmp_m2s_auth wrong = {"wrong", NULL, NULL};
  invite(c, h, &wrong);
  run_ms(20);
  e = last_ev(c, RMP_M2S_EV_LEFT);
  CHECK(e && e->cause == RMP_M2S_LEFT_AUTH_FAILED && e->reason == RMP_M2_AUTH_INCORRECT);
  CHECK_INT(nodes[h].m.stats.auth_failures, 1);
  CHECK_INT(count_ev(h, RMP_M2S_EV_JOINED), 0);
  run_ms(100);
  CHECK_INT(rmp_m2s_peers(&nodes[h].m, NULL, 0), 0); /* the client said Bye 0x80 */
  CHECK_INT(nodes[c].bye_reasons[RMP_M2_BYE_INVITATION_CANCELED], 1);
  /* the right one is accepted */
  rmp_m2s_auth right = {"s3cret", NULL, NULL};
  uint32_t id = invite(c, h, &right);
  run_ms(20);
  CHECK(established(c, h) && established(h, c));
  CHECK_INT(last_ev(c, RMP_M2S_EV_JOINED)->peer, id);
  CHECK_INT(count_ev(h, RMP_M2S_EV_JOINED), 1);
  CHECK_INT(nodes[c].sent[RMP_M2_INVITATION_AUTH], 2);
  /* each challenge had a fresh nonce; the last one checks with libcrypto */
  CHECK(ncaps >= 3);
  rmp_m2_reader r;
  rmp_m2_cmd cmd;
  rmp_m2_reader_init(&r, caps[ncaps - 1].buf, caps[ncaps - 1].len);
  CHECK_INT(rmp_m2_read(&r, &cmd), 1);
  CHECK(memcmp(caps[ncaps - 1].buf + 8, caps[ncaps - 2].buf + 8, 16) != 0);
  CHECK(cmd.u.req.name.len == 6 && memcmp(cmd.u.req.name.p, "locked", 6) == 0);
}

static void test_auth_wrong_three_times(void) {
  /* A client that keeps sending wrong digests gets Bye 0x43 after
   * auth_attempts. Driven by hand: the digest is answered to each nonce. */
  reset_world();
  rmp_m2s_config hc = base_config(RMP_M2S_HOST, "h", "");
  hc.secret = "good";
  int h = add_node(&hc, 5673);
  rmp_addr x = addr_of(4, 999);
  uint8_t dg[64];
  rmp_m2_writer w;
  rmp_m2_cmd inv = {.code = RMP_M2_INVITATION};
  inv.u.inv.caps = RMP_M2_CAP_AUTH;
  rmp_m2_writer_init(&w, dg, sizeof dg);
  rmp_m2_writer_add(&w, &inv);
  rmp_m2s_on_packet(&nodes[h].m, now, dg, w.len, &x);
  uint8_t digest[32] = {0};
  rmp_m2_cmd a = {.code = RMP_M2_INVITATION_AUTH};
  a.u.auth.digest = digest;
  for (int i = 0; i < 3; i++) {
    rmp_m2_writer_init(&w, dg, sizeof dg);
    rmp_m2_writer_add(&w, &a);
    rmp_m2s_on_packet(&nodes[h].m, now, dg, w.len, &x);
  }
  drain(h);
  CHECK_INT(nodes[h].sent[RMP_M2_AUTH_REQUIRED], 3); /* first + two retries */
  CHECK_INT(nodes[h].bye_reasons[RMP_M2_BYE_AUTH_FAILED], 1);
  CHECK_INT(nodes[h].m.stats.auth_failures, 3);
  CHECK_INT(rmp_m2s_peers(&nodes[h].m, NULL, 0), 0);
  CHECK_INT(count_ev(h, RMP_M2S_EV_LEFT), 0); /* never joined */
}

/* SHA-256(nonce || user || password) the way [A] auth.c feeds it. */
static void alsa_user_digest(const uint8_t *nonce, const char *u, const char *p, uint8_t out[32]) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  unsigned n = 0;
  EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
  EVP_DigestUpdate(ctx, nonce, 16);
  EVP_DigestUpdate(ctx, u, strlen(u));
  EVP_DigestUpdate(ctx, p, strlen(p));
  EVP_DigestFinal_ex(ctx, out, &n);
  EVP_MD_CTX_free(ctx);
}

static void test_auth_users(void) {
  reset_world();
  static const rmp_m2s_user users[] = {{"alice", "wonderland"}, {"bob", "builder"}};
  rmp_m2s_config hc = base_config(RMP_M2S_HOST, "h", "");
  hc.users = users;
  hc.n_users = 2;
  rmp_m2s_config cc = base_config(RMP_M2S_CLIENT, "c", "");
  int h = add_node(&hc, 5673), c = add_node(&cc, 40000);
  rmp_m2s_auth wrong = {NULL, "alice", "looking-glass"};
  invite(c, h, &wrong);
  run_ms(20);
  const ev_rec *e = last_ev(c, RMP_M2S_EV_LEFT);
  CHECK(e && e->cause == RMP_M2S_LEFT_AUTH_FAILED);
  rmp_m2s_auth nobody = {NULL, "mallory", "x"};
  invite(c, h, &nobody);
  run_ms(20);
  CHECK_INT(count_ev(c, RMP_M2S_EV_LEFT), 2);
  CHECK_INT(last_ev(c, RMP_M2S_EV_LEFT)->cause, RMP_M2S_LEFT_AUTH_FAILED);
  /* the digest on the wire: nonce of the host's 0x13, user, password */
  ncaps = 0;
  capture_code = RMP_M2_USER_AUTH_REQUIRED;
  rmp_m2s_auth right = {NULL, "bob", "builder"};
  invite(c, h, &right);
  run_ms(1);
  capture_code = RMP_M2_INVITATION_USER_AUTH;
  run_ms(20);
  CHECK(established(c, h) && established(h, c));
  CHECK_INT(ncaps, 2);
  uint8_t want[32];
  alsa_user_digest(caps[0].buf + 8, "bob", "builder", want);
  CHECK_MEM(caps[1].buf + 8, 32, want, 32);
  /* user name after the digest, padded: 'b' 'o' 'b' 0 */
  CHECK_INT(caps[1].buf[5], 9);
  CHECK(memcmp(caps[1].buf + 40, "bob", 4) == 0);
  CHECK_INT(nodes[h].m.stats.auth_failures, 2);
  /* both methods on one host: a client with only a secret uses it */
  reset_world();
  hc.secret = "shared";
  h = add_node(&hc, 5673);
  c = add_node(&cc, 40000);
  rmp_m2s_auth sec = {"shared", NULL, NULL};
  invite(c, h, &sec);
  run_ms(20);
  CHECK(established(c, h));
  CHECK_INT(nodes[h].sent[RMP_M2_AUTH_REQUIRED], 1);
  CHECK_INT(nodes[h].sent[RMP_M2_USER_AUTH_REQUIRED], 0);
}

static void test_several_clients(void) {
  reset_world();
  rmp_m2s_config hc = base_config(RMP_M2S_HOST, "h", "");
  hc.max_clients = 3;
  int h = add_node(&hc, 5673);
  int cl[4];
  for (int i = 0; i < 4; i++) {
    char name[8] = "c0";
    name[1] = (char)('0' + i);
    rmp_m2s_config cc = base_config(RMP_M2S_CLIENT, name, "");
    cl[i] = add_node(&cc, 40000);
  }
  for (int i = 0; i < 3; i++) invite(cl[i], h, NULL);
  run_ms(20);
  for (int i = 0; i < 3; i++) CHECK(established(cl[i], h) && established(h, cl[i]));
  CHECK_INT(count_ev(h, RMP_M2S_EV_JOINED), 3);
  /* a fourth is refused: Bye 0x40 ([A] UMP_NET_BYE_REASON_INV_FAILED_TOO_MANY_SESSIONS) */
  invite(cl[3], h, NULL);
  run_ms(20);
  const ev_rec *e = last_ev(cl[3], RMP_M2S_EV_LEFT);
  CHECK(e && e->cause == RMP_M2S_LEFT_REFUSED && e->reason == RMP_M2_BYE_TOO_MANY_SESSIONS);
  /* each client's data reaches the host tagged with its session */
  for (int i = 0; i < 3; i++) {
    uint32_t w = 0x20900000u | (uint32_t)i << 16 | 0x3C40;
    send_words(cl[i], peer_id(cl[i], h), &w, 1);
  }
  run_ms(20);
  for (int i = 0; i < 3; i++) {
    uint32_t got[4];
    CHECK_INT(received(h, peer_id(h, cl[i]), got, 4), 1);
    CHECK_INT(got[0], 0x20900000u | (uint32_t)i << 16 | 0x3C40);
  }
  /* the host's broadcast reaches all three, and one of them alone */
  uint32_t all = 0x10F80000;
  CHECK_INT(rmp_m2s_send(&nodes[h].m, now, 0, &all, 1), 3);
  uint32_t one = 0x10FA0000;
  CHECK_INT(rmp_m2s_send(&nodes[h].m, now, peer_id(h, cl[1]), &one, 1), 1);
  drain(h);
  run_ms(20);
  for (int i = 0; i < 3; i++) {
    uint32_t got[4];
    size_t k = received(cl[i], 0, got, 4);
    CHECK_INT(k, i == 1 ? 2 : 1);
    CHECK_INT(got[0], 0x10F80000);
  }
}

static bool drop_next_data(int from, int to, const uint8_t *buf, size_t len, unsigned k) {
  (void)to; (void)buf; (void)len;
  return from == 0 && k == 0;
}

static void test_keepalive_tail(void) {
  reset_world();
  int h, c;
  pair(&h, &c, 2);
  unsigned z0 = nodes[h].zero_len;
  uint32_t w = 0x20903C64;
  send_words(h, 0, &w, 1);
  run_ms(120);
  /* two zero-length tail commands 50 ms apart ([A] zero-length UMP after data) */
  CHECK_INT(nodes[h].zero_len - z0, 2);
  run_ms(1000);
  CHECK_INT(nodes[h].zero_len - z0, 3); /* then a keep-alive a second after the last */
  /* a lost last datagram is recovered from the tail's FEC */
  set_drop(drop_next_data);
  w = 0x20803C00;
  send_words(h, 0, &w, 1);
  run_ms(200);
  uint32_t got[8];
  size_t k = received(c, 0, got, 8);
  CHECK_INT(k, 2);
  CHECK_INT(got[1], 0x20803C00);
  CHECK_INT(last_ev(c, RMP_M2S_EV_UMP)->recovered, 1);
  CHECK_INT(nodes[c].m.stats.rtx_requests_out, 0);
}

static void test_stream_discovery(void) {
  reset_world();
  int h, c;
  pair(&h, &c, 2);
  /* Endpoint Discovery, all filters ([W] 0x1F) */
  const uint32_t disc[4] = {0xF0000101, 0x1F, 0, 0};
  send_words(c, peer_id(c, h), disc, 4);
  run_ms(20);
  static uint32_t got[64];
  size_t k = received(c, 0, got, 64);
  CHECK_INT(k, 16); /* info, name ("studio host": one packet), product id, configuration */
  CHECK_INT(got[0], 0xF0010101u);
  char text[128];
  size_t tl = 0;
  CHECK_INT(rmp_ump_stream_text(got + 4, text, sizeof text, &tl), 1);
  CHECK(strcmp(text, "studio host") == 0);
  tl = 0;
  CHECK_INT(rmp_ump_stream_text(got + 8, text, sizeof text, &tl), 1);
  CHECK(strcmp(text, "H-1") == 0);
  /* the host also delivered the discovery itself */
  CHECK_INT(received(h, 0, got, 64), 4);
}

static void inject(int to, const rmp_addr *from, const uint8_t *buf, size_t len) {
  rmp_m2s_on_packet(&nodes[to].m, now, buf, len, from);
  drain(to);
}

static void test_strangers_and_malformed(void) {
  reset_world();
  int h, c;
  pair(&h, &c, 2);
  rmp_addr x = addr_of(4, 777); /* no node: what goes there is counted */
  /* UMP Data without a session: Bye 0x05 ([A] [W]) */
  const uint8_t data[] = {'M', 'I', 'D', 'I', 0xFF, 0x01, 0x00, 0x00, 0x20, 0x90, 0x3C, 0x64,
                          0xFF, 0x01, 0x00, 0x01, 0x20, 0x90, 0x3C, 0x64};
  unsigned bye05 = nodes[h].bye_reasons[RMP_M2_BYE_NOT_ESTABLISHED];
  inject(h, &x, data, sizeof data);
  CHECK_INT(nodes[h].bye_reasons[RMP_M2_BYE_NOT_ESTABLISHED] - bye05, 1); /* one per datagram */
  CHECK_INT(count_ev(h, RMP_M2S_EV_UMP), 0);
  /* pings from strangers are answered within the budget */
  const uint8_t ping[] = {'M', 'I', 'D', 'I', 0x20, 0x01, 0x00, 0x00, 1, 2, 3, 4};
  unsigned replies = nodes[h].sent[RMP_M2_PING_REPLY];
  for (int i = 0; i < 100; i++) inject(h, &x, ping, sizeof ping);
  CHECK_INT(nodes[h].sent[RMP_M2_PING_REPLY] - replies, 31); /* 32 a second, one went to the Bye */
  CHECK(nodes[h].m.stats.suppressed >= 69);
  now += 1000000;
  inject(h, &x, ping, sizeof ping);
  CHECK_INT(nodes[h].sent[RMP_M2_PING_REPLY] - replies, 32);
  /* from the client: a malformed ping gets NAK 0x03 with its header, an
   * unknown command NAK 0x01 ([Z]), a NAK nothing */
  rmp_addr ca = nodes[c].addr;
  const uint8_t badping[] = {'M', 'I', 'D', 'I', 0x20, 0x02, 0x00, 0x00, 1, 2, 3, 4, 5, 6, 7, 8,
                             0x55, 0x00, 0x12, 0x34, 0x8F, 0x00, 0x00, 0x00};
  capture_code = RMP_M2_NAK;
  ncaps = 0;
  inject(h, &ca, badping, sizeof badping);
  CHECK_INT(ncaps, 2);
  const uint8_t nak_malformed[] = {'M', 'I', 'D', 'I', 0x8F, 0x01, 0x03, 0x00, 0x20, 0x02, 0x00, 0x00};
  const uint8_t nak_unknown[] = {'M', 'I', 'D', 'I', 0x8F, 0x01, 0x01, 0x00, 0x55, 0x00, 0x12, 0x34};
  CHECK_MEM(caps[0].buf, caps[0].len, nak_malformed, sizeof nak_malformed);
  CHECK_MEM(caps[1].buf, caps[1].len, nak_unknown, sizeof nak_unknown);
  const uint8_t nak[] = {'M', 'I', 'D', 'I', 0x8F, 0x01, 0x01, 0x00, 0x77, 0x00, 0x00, 0x00};
  inject(h, &ca, nak, sizeof nak);
  CHECK_INT(ncaps, 2);
  CHECK_INT(count_ev(h, RMP_M2S_EV_NAK), 1);
  /* not MIDI at all */
  const uint8_t junk[] = {0x80, 0x61, 0, 1};
  uint64_t bad = nodes[h].m.stats.bad;
  CHECK(rmp_m2s_on_packet(&nodes[h].m, now, junk, sizeof junk, &ca) < 0);
  CHECK_INT(nodes[h].m.stats.bad, bad + 1);
  /* the session goes on */
  CHECK(established(h, c));
  uint32_t w = 0x20903C64;
  send_words(c, peer_id(c, h), &w, 1);
  run_ms(10);
  CHECK_INT(count_ev(h, RMP_M2S_EV_UMP), 1);
  /* another address cannot inject into the client's session */
  rmp_addr spoof = addr_of(1, 40001);
  const uint8_t seq5[] = {'M', 'I', 'D', 'I', 0xFF, 0x01, 0x00, 0x01, 0x20, 0x80, 0x3C, 0x00};
  inject(h, &spoof, seq5, sizeof seq5);
  CHECK_INT(count_ev(h, RMP_M2S_EV_UMP), 1);
}

static void test_client_refuses_invitation(void) {
  /* An Invitation to a client is NAKed as not expected ([A] [W]); the
   * inviter reports the refusal. */
  reset_world();
  rmp_m2s_config c1 = base_config(RMP_M2S_CLIENT, "a", "");
  rmp_m2s_config c2 = base_config(RMP_M2S_CLIENT, "b", "");
  int a = add_node(&c1, 40000), b = add_node(&c2, 40000);
  invite(a, b, NULL);
  run_ms(20);
  const ev_rec *e = last_ev(a, RMP_M2S_EV_LEFT);
  CHECK(e && e->cause == RMP_M2S_LEFT_REFUSED && e->reason == RMP_M2_NAK_NOT_EXPECTED);
  CHECK_INT(nodes[b].sent[RMP_M2_NAK], 1);
  CHECK_INT(rmp_m2s_peers(&nodes[b].m, NULL, 0), 0);
}

static void test_pending(void) {
  /* A host that answers Pending: the client stops repeating and waits
   * pending_timeout_ms, then cancels with Bye 0x80. Driven by hand. */
  reset_world();
  rmp_m2s_config cc = base_config(RMP_M2S_CLIENT, "c", "");
  cc.pending_timeout_ms = 3000;
  int c = add_node(&cc, 40000);
  rmp_addr host = addr_of(3, 5673);
  uint32_t id = 0;
  rmp_m2s_invite(&nodes[c].m, now, &host, NULL, &id);
  drain(c);
  uint8_t dg[64];
  rmp_m2_writer w;
  rmp_m2_cmd pend = {.code = RMP_M2_PENDING};
  pend.u.inv.name = rmp_m2_cstr("approver");
  rmp_m2_writer_init(&w, dg, sizeof dg);
  rmp_m2_writer_add(&w, &pend);
  inject(c, &host, dg, w.len);
  CHECK_INT(count_ev(c, RMP_M2S_EV_PENDING), 1);
  run_ms(2900);
  CHECK_INT(nodes[c].sent[RMP_M2_INVITATION], 1);
  run_ms(200);
  const ev_rec *e = last_ev(c, RMP_M2S_EV_LEFT);
  CHECK(e && e->cause == RMP_M2S_LEFT_INVITE_FAILED && e->peer == id);
  CHECK_INT(nodes[c].bye_reasons[RMP_M2_BYE_INVITATION_CANCELED], 1);
}

int main(int argc, char **argv) {
  if (argc > 1) rng = strtoull(argv[1], NULL, 0) | 1;
  test_config();
  test_invite_plain();
  test_invite_lost_accept();
  test_invite_gives_up();
  test_every_type();
  test_fec_single_losses();
  test_retransmit_burst();
  test_random_loss();
  test_retransmit_error();
  test_ping_timeout();
  test_ping_answered();
  test_session_reset();
  test_bye_both_ways();
  test_auth_secret();
  test_auth_wrong_three_times();
  test_auth_users();
  test_several_clients();
  test_keepalive_tail();
  test_stream_discovery();
  test_strangers_and_malformed();
  test_client_refuses_invitation();
  test_pending();
  return check_report();
}
