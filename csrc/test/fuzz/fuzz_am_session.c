/* libFuzzer target: the AppleMIDI session machine (am_session.c) on virtual
 * time. The input is a script: datagrams from four hosts on either port
 * (raw octets, or IN/OK/NO/BY/CK/RS built from fields that reuse the
 * tokens and SSRCs in play, so that the machine's deeper states are
 * reached), RTP seen on the data port, time passing, our invitations,
 * disconnections and stops. After every step the outbox is drained and
 * checked: datagrams parse and go to a port; JOINED, LEFT, SYNCED and ACK
 * name a participant in the right state; no more participants than
 * max_participants; deadlines are numbers. Issue #16: a datagram naming a
 * participant goes to its addresses, and a joined participant's addresses
 * never move (nothing from elsewhere can redirect it); no answer to a
 * datagram (OK, NO, CK) is larger than that datagram. CK packets can echo
 * the timestamps the machine sent, so that whole exchanges happen. At the
 * end, every participant is handed back exactly once. */
#include <math.h>
#include <string.h>

#include "am_session.h"
#include "fuzz_common.h"

#define HOSTS 4
#define MAX_IDS 16384
#define TOKENS 8

typedef struct world {
  rmp_ams m;
  uint64_t rnd;
  long allocs, releases;
  uint32_t tokens[TOKENS];    /* the last tokens the machine drew */
  unsigned ntokens;
  uint8_t joined[MAX_IDS];    /* 1 while joined as far as the events said */
  uint8_t failed[MAX_IDS];
  rmp_addr bound[MAX_IDS][2]; /* its control and data addresses when it joined */
  uint64_t ck_ts[4][3];       /* the last CKs the machine sent */
  unsigned nck;
  size_t in_len;              /* the datagram being handled (0: a tick or a call) */
} world;

static rmp_ams_peer *w_alloc(void *ud) {
  world *w = ud;
  w->allocs++;
  return calloc(1, sizeof(rmp_ams_peer));
}

static void w_release(void *ud, rmp_ams_peer *p) {
  world *w = ud;
  w->releases++;
  FUZZ_ASSERT(p->state == RMP_AMS_GONE && p->queued == 0);
  if (p->id < MAX_IDS) FUZZ_ASSERT(!w->joined[p->id]); /* its LEFT went out first */
  free(p);
}

static uint32_t w_random(void *ud) {
  world *w = ud;
  uint32_t t = fuzz_rand(&w->rnd);
  w->tokens[w->ntokens++ % TOKENS] = t;
  return t;
}

static rmp_addr host(unsigned i, int port) {
  uint8_t ip[4] = {10, 0, 0, (uint8_t)(2 + i % HOSTS)};
  return rmp_addr_v4(ip, (uint16_t)(5004 + port));
}

static void drain(world *w) {
  rmp_ams_out o;
  while (rmp_ams_pop(&w->m, &o)) {
    rmp_ams_peer *p = o.peer;
    uint32_t id = p ? p->id : 0;
    FUZZ_ASSERT(id < MAX_IDS);
    switch (o.kind) {
    case RMP_AMS_SEND: {
      rmp_am_packet pk;
      FUZZ_ASSERT(o.port == RMP_AMS_CTRL || o.port == RMP_AMS_DATA);
      FUZZ_ASSERT(o.len >= RMP_AM_RS_LEN && o.len <= RMP_AM_MAX_LEN);
      FUZZ_ASSERT(rmp_am_parse(o.data, o.len, &pk) > 0);
      FUZZ_ASSERT(o.to.family == RMP_AF_INET);
      if (p) FUZZ_ASSERT(rmp_addr_equal(&o.to, &p->ctrl) || rmp_addr_equal(&o.to, &p->data));
      if (w->in_len && (pk.cmd == RMP_AM_OK || pk.cmd == RMP_AM_NO || pk.cmd == RMP_AM_CK))
        FUZZ_ASSERT(o.len <= w->in_len);
      if (pk.cmd == RMP_AM_CK) memcpy(w->ck_ts[w->nck++ % 4], pk.u.ck.ts, sizeof pk.u.ck.ts);
      break;
    }
    case RMP_AMS_EV_JOINED:
      FUZZ_ASSERT(p && !w->joined[id] && !w->failed[id]);
      w->joined[id] = 1;
      w->bound[id][0] = p->ctrl;
      w->bound[id][1] = p->data;
      break;
    case RMP_AMS_EV_LEFT:
      FUZZ_ASSERT(p && w->joined[id] && p->state == RMP_AMS_GONE);
      w->joined[id] = 0;
      break;
    case RMP_AMS_EV_SYNCED:
    case RMP_AMS_EV_ACK:
      FUZZ_ASSERT(p && w->joined[id]);
      break;
    case RMP_AMS_EV_INVITE_FAILED:
      FUZZ_ASSERT(p && p->initiator && !w->joined[id] && p->state == RMP_AMS_GONE);
      w->failed[id] = 1;
      break;
    }
  }
  for (const rmp_ams_peer *q = w->m.peers; q; q = q->next)
    if (q->state == RMP_AMS_JOINED && q->id < MAX_IDS && w->joined[q->id])
      FUZZ_ASSERT(rmp_addr_equal(&q->ctrl, &w->bound[q->id][0]) && rmp_addr_equal(&q->data, &w->bound[q->id][1]));
  FUZZ_ASSERT(rmp_ams_live(&w->m) <= w->m.cfg.max_participants);
  double e, l, d = rmp_ams_next_deadline(&w->m, &e, &l);
  FUZZ_ASSERT(!isnan(d) && !isnan(e) && !isnan(l));
}

/* A packet built from fields: a command, a token and SSRC from those in
 * play, a name, CK timestamps. */
static size_t build(world *w, fuzz_in *in, uint8_t *buf, size_t cap) {
  static const uint16_t cmds[] = {RMP_AM_IN, RMP_AM_OK, RMP_AM_NO, RMP_AM_BY, RMP_AM_CK, RMP_AM_RS};
  uint8_t k = fuzz_u8(in);
  uint16_t cmd = cmds[k % 6];
  uint8_t t = fuzz_u8(in);
  uint32_t token = t < 128 && w->ntokens ? w->tokens[t % TOKENS] : t;
  uint8_t s = fuzz_u8(in);
  uint32_t ssrc = s % 8 == 7 ? w->m.cfg.ssrc : 1 + s % 8;
  int n;
  switch (cmd) {
  case RMP_AM_BY:
    n = rmp_am_encode_bye(buf, cap, token, ssrc);
    break;
  case RMP_AM_CK: {
    uint64_t ts[3] = {fuzz_u16(in), fuzz_u16(in), fuzz_u16(in)};
    uint8_t echo = fuzz_u8(in);
    if (echo < 192 && w->nck) memcpy(ts, w->ck_ts[echo % 4], sizeof ts); /* one of the machine's */
    n = rmp_am_encode_ck(buf, cap, ssrc, (uint8_t)(k / 6 % 3), ts);
    break;
  }
  case RMP_AM_RS:
    n = rmp_am_encode_rs(buf, cap, ssrc, fuzz_u16(in));
    break;
  default: {
    static const char *names[] = {"a", "b", "", NULL};
    n = rmp_am_encode_invite(buf, cap, cmd, token, ssrc, names[(k / 6) % 4]);
    if (n > 8 && (k & 0x80)) buf[7] = 3; /* another version */
    break;
  }
  }
  return n > 0 ? (size_t)n : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  world *w = calloc(1, sizeof *w);
  fuzz_in in;
  fuzz_in_init(&in, data, size);
  w->rnd = 0x9E3779B97F4A7C15ull ^ fuzz_u8(&in);
  rmp_ams_config c;
  memset(&c, 0, sizeof c);
  c.ssrc = 0xA0A0A0A0u;
  c.name = "fuzz";
  uint8_t knobs = fuzz_u8(&in);
  c.invite_tries = 1 + knobs % 4;
  c.invite_interval_ms = 100;
  c.ck_fast_count = 2;
  c.ck_fast_interval_ms = 100;
  c.ck_interval_ms = 500;
  c.timeout_ms = 1000 + 100 * (knobs >> 4);
  c.pending_timeout_ms = knobs & 8 ? 300 : 0;
  c.rs_interval_ms = 50;
  c.reinvite = knobs & 4;
  c.max_participants = 1 + fuzz_u8(&in) % 6;
  c.invitations_per_second = 1 + fuzz_u8(&in) % 50;
  rmp_addr list[2] = {host(0, 0), host(2, 0)};
  c.accept = (rmp_ams_accept)(fuzz_u8(&in) % 3);
  c.accept_list = list;
  c.accept_count = 2;
  c.alloc = w_alloc;
  c.release = w_release;
  c.random = w_random;
  c.ud = w;
  FUZZ_ASSERT(rmp_ams_init(&w->m, &c) == 0);
  double now = 1000;
  uint8_t buf[RMP_AM_MAX_LEN + 64];
  for (int steps = 0; fuzz_left(&in) && steps < 4096; steps++) {
    uint8_t op = fuzz_u8(&in);
    unsigned h = (op >> 4) % HOSTS;
    int port = (op >> 3) & 1;
    rmp_addr from = host(h, port);
    switch (op & 7) {
    case 0: case 1: case 2: { /* a built packet */
      size_t n = build(w, &in, buf, sizeof buf);
      /* sometimes octets after the name's NUL (or after a BY): part of what came */
      if (n >= RMP_AM_INVITE_LEN && (op & 0x80) && fuzz_u8(&in) < 64) {
        size_t extra = fuzz_u8(&in) % 32;
        memset(buf + n, 0, extra);
        n += extra;
      }
      w->in_len = n;
      rmp_ams_on_packet(&w->m, now, port, buf, n, &from);
      drain(w);
      w->in_len = 0;
      break;
    }
    case 3: { /* raw octets */
      size_t n = fuzz_u8(&in) % sizeof buf;
      for (size_t i = 0; i < n; i++) buf[i] = fuzz_u8(&in);
      w->in_len = n;
      rmp_ams_on_packet(&w->m, now, port, buf, n, &from);
      drain(w);
      w->in_len = 0;
      break;
    }
    case 4: { /* time passes; what is due runs */
      now += fuzz_u16(&in) % 4000;
      double due = rmp_ams_next_deadline(&w->m, NULL, NULL);
      if (due <= now)
        while (rmp_ams_tick(&w->m, now)) drain(w);
      break;
    }
    case 5: { /* RTP on the data port */
      uint8_t s = fuzz_u8(&in);
      rmp_ams_peer *p = rmp_ams_rtp_participant(&w->m, now, 1 + s % 8, &from);
      if (p) {
        FUZZ_ASSERT(p->state == RMP_AMS_JOINED && p->ssrc == 1u + s % 8u);
        rmp_ams_rtp_received(&w->m, p, now, fuzz_u16(&in));
      }
      break;
    }
    case 6: { /* we invite */
      rmp_addr to = host(h, 0);
      rmp_ams_invite(&w->m, now, &to);
      break;
    }
    case 7: { /* we end one, or all */
      uint8_t id = fuzz_u8(&in);
      if (id == 0) {
        while (rmp_ams_stop(&w->m)) drain(w);
      } else {
        rmp_ams_disconnect(&w->m, rmp_ams_find(&w->m, id));
      }
      break;
    }
    }
    drain(w);
  }
  while (rmp_ams_stop(&w->m)) drain(w);
  drain(w);
  FUZZ_ASSERT(rmp_ams_live(&w->m) == 0);
  for (unsigned i = 0; i < MAX_IDS; i++) FUZZ_ASSERT(!w->joined[i]);
  FUZZ_ASSERT(w->allocs == w->releases);
  rmp_ams_free(&w->m);
  free(w);
  return 0;
}
