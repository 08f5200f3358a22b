/* The AppleMIDI session machine (csrc/proto/am_session.h) on virtual time:
 * machines wired through a fake network that delays and drops datagrams,
 * each with its own clock. Every time below is exact: the simulation runs
 * each machine at its deadlines and delivers each datagram at its arrival
 * time, in milliseconds of test time, with no sleeping. */
#include "am_session.h"
#include "check.h"

#include <math.h>
#include <stdlib.h>

/* ---- the simulated world ---- */

#define MAX_NODES 4
#define MAX_FLIGHT 4096
#define MAX_LOG 256

typedef struct logged {
  rmp_ams_out_kind kind;
  rmp_ams_reason reason;
  double t;                    /* simulation time */
  uint32_t id, ssrc;
  char name[RMP_AM_NAME_MAX + 1];
  double latency_ms, offset_ms;
  uint16_t seq;
  uint32_t raw;
  rmp_addr addr;               /* INVITE_FAILED: the address invited */
} logged;

typedef struct node {
  rmp_ams m;
  rmp_addr ctrl;               /* its control port; data is ctrl.port + 1 */
  double skew;                 /* its clock = simulation time + skew */
  uint32_t rnd;
  bool mute;                   /* everything it sends is lost */
  long allocs, releases;
  logged log[MAX_LOG];
  int nlog;
  /* what it sent, by command and port */
  int sent_in[2], sent_ok[2], sent_no[2], sent_by, sent_by_port[2], sent_ck[3], sent_rs;
  double last_rx;              /* when a datagram last reached it */
} node;

typedef struct flight {
  double at;
  long order;
  int port;
  rmp_addr from, to;
  size_t len;
  uint8_t data[RMP_AM_MAX_LEN];
} flight;

typedef struct net {
  double now;
  double delay;                /* one way, ms */
  node *nodes[MAX_NODES];
  int nnodes;
  flight fl[MAX_FLIGHT];
  int nfl;
  long order;
  long nowhere;                /* datagrams to an address no node has */
  rmp_addr tap;                /* datagrams sent to this host (any port) are counted: */
  long tap_count, tap_bytes;   /* what a forger there receives */
  /* drops: return true to lose the datagram */
  bool (*drop)(struct net *n, node *from, const rmp_ams_out *o);
  int drop_state;
} net;

static rmp_ams_peer *t_alloc(void *ud) {
  node *nd = ud;
  nd->allocs++;
  return calloc(1, sizeof(rmp_ams_peer));
}

static void t_release(void *ud, rmp_ams_peer *p) {
  node *nd = ud;
  nd->releases++;
  memset(p, 0xA5, sizeof *p); /* a use after release reads garbage (and ASan sees the free) */
  free(p);
}

static uint32_t t_random(void *ud) {
  node *nd = ud;
  nd->rnd = nd->rnd * 1103515245u + 12345u;
  return nd->rnd;
}

static rmp_addr addr(const char *ip, uint16_t port) {
  rmp_addr a;
  rmp_addr_parse(ip, port, &a);
  return a;
}


static node *node_new(net *n, const char *ip, uint16_t port, const rmp_ams_config *cfg0, double skew) {
  node *nd = calloc(1, sizeof *nd);
  nd->ctrl = addr(ip, port);
  nd->skew = skew;
  nd->rnd = port * 7919u + 1;
  nd->last_rx = -1;
  rmp_ams_config c = *cfg0;
  c.alloc = t_alloc;
  c.release = t_release;
  c.random = t_random;
  c.ud = nd;
  CHECK_INT(rmp_ams_init(&nd->m, &c), 0);
  n->nodes[n->nnodes++] = nd;
  return nd;
}

/* A config with everything at its default but our SSRC and name. */
static rmp_ams_config conf(uint32_t ssrc, const char *name) {
  rmp_ams_config c;
  memset(&c, 0, sizeof c);
  c.ssrc = ssrc;
  c.name = name;
  return c;
}

/* A node with the default config. */
static node *add(net *n, const char *ip, uint16_t port, uint32_t ssrc, const char *name, double skew) {
  rmp_ams_config c = conf(ssrc, name);
  return node_new(n, ip, port, &c, skew);
}

/* A config for a machine driven by hand, outside the network. */
static rmp_ams_config base_config(node *nd, uint32_t ssrc, const char *name) {
  rmp_ams_config c = conf(ssrc, name);
  c.alloc = t_alloc;
  c.release = t_release;
  c.random = t_random;
  c.ud = nd;
  return c;
}

/* Takes a node off the network (a process that died) and frees it. */
static void node_kill(net *n, node *nd) {
  for (int i = 0; i < n->nnodes; i++) {
    if (n->nodes[i] != nd) continue;
    n->nodes[i] = n->nodes[--n->nnodes];
    break;
  }
  rmp_ams_free(&nd->m);
  CHECK_INT(nd->allocs, nd->releases);
  free(nd);
}

static double node_time(const net *n, const node *nd) { return n->now + nd->skew; }

static void count_sent(node *nd, const rmp_ams_out *o) {
  rmp_am_packet pk;
  if (rmp_am_parse(o->data, o->len, &pk) < 0) return;
  switch (pk.cmd) {
  case RMP_AM_IN: nd->sent_in[o->port]++; break;
  case RMP_AM_OK: nd->sent_ok[o->port]++; break;
  case RMP_AM_NO: nd->sent_no[o->port]++; break;
  case RMP_AM_BY: nd->sent_by++; nd->sent_by_port[o->port]++; break;
  case RMP_AM_CK: nd->sent_ck[pk.u.ck.count]++; break;
  case RMP_AM_RS: nd->sent_rs++; break;
  }
}

static void record(net *n, node *nd, const rmp_ams_out *o) {
  if (nd->nlog == MAX_LOG) return;
  logged *l = &nd->log[nd->nlog++];
  memset(l, 0, sizeof *l);
  l->kind = o->kind;
  l->reason = o->reason;
  l->t = n->now;
  l->seq = o->seq;
  l->raw = o->raw;
  if (o->peer) {
    /* the participant stays readable while its event is handled */
    l->id = o->peer->id;
    l->ssrc = o->peer->ssrc;
    memcpy(l->name, o->peer->name, sizeof l->name);
    l->latency_ms = o->peer->latency_ms;
    l->offset_ms = o->peer->offset_ms;
    l->addr = o->peer->ctrl;
  }
}

static void drain(net *n, node *nd) {
  rmp_ams_out o;
  while (rmp_ams_pop(&nd->m, &o)) {
    if (o.kind != RMP_AMS_SEND) {
      record(n, nd, &o);
      continue;
    }
    count_sent(nd, &o);
    if (n->tap.family && rmp_addr_same_host(&o.to, &n->tap)) {
      n->tap_count++;
      n->tap_bytes += (long)o.len;
    }
    if (nd->mute || (n->drop && n->drop(n, nd, &o))) continue;
    if (n->nfl == MAX_FLIGHT) continue;
    flight *f = &n->fl[n->nfl++];
    f->at = n->now + n->delay;
    f->order = n->order++;
    f->port = o.port;
    f->from = rmp_addr_with_port(nd->ctrl, (uint16_t)(nd->ctrl.port + o.port));
    f->to = o.to;
    f->len = o.len;
    memcpy(f->data, o.data, o.len);
  }
}

static node *node_at(net *n, const rmp_addr *to, int *port) {
  for (int i = 0; i < n->nnodes; i++) {
    node *nd = n->nodes[i];
    if (!rmp_addr_same_host(&nd->ctrl, to)) continue;
    if (to->port == nd->ctrl.port) { *port = RMP_AMS_CTRL; return nd; }
    if (to->port == nd->ctrl.port + 1) { *port = RMP_AMS_DATA; return nd; }
  }
  return NULL;
}

static void deliver(net *n, const flight *f) {
  int port;
  node *nd = node_at(n, &f->to, &port);
  if (!nd) {
    n->nowhere++;
    return;
  }
  CHECK_INT(port, f->port); /* sent from the port it goes to */
  nd->last_rx = n->now;
  rmp_ams_on_packet(&nd->m, node_time(n, nd), port, f->data, f->len, &f->from);
  drain(n, nd);
}

static double node_deadline(const node *nd) {
  return rmp_ams_next_deadline(&nd->m, NULL, NULL) - nd->skew;
}

/* Runs the world until `until` (simulation time). */
static void run_until(net *n, double until) {
  int spins = 0;
  for (;;) {
    double next = INFINITY;
    for (int i = 0; i < n->nfl; i++) next = fmin(next, n->fl[i].at);
    for (int i = 0; i < n->nnodes; i++) next = fmin(next, node_deadline(n->nodes[i]));
    if (next > until) break;
    if (next > n->now) {
      n->now = next;
      spins = 0;
    } else if (++spins > 10000) {
      /* a deadline that a tick does not move: the machine would spin */
      CHECK(!"deadline stuck");
      fprintf(stderr, "  stuck at %.3f\n", n->now);
      break;
    }
    /* datagrams due now, in the order sent */
    for (;;) {
      int best = -1;
      for (int i = 0; i < n->nfl; i++)
        if (n->fl[i].at <= n->now && (best < 0 || n->fl[i].order < n->fl[best].order)) best = i;
      if (best < 0) break;
      flight f = n->fl[best];
      n->fl[best] = n->fl[--n->nfl];
      deliver(n, &f);
    }
    for (int i = 0; i < n->nnodes; i++) {
      node *nd = n->nodes[i];
      double due = rmp_ams_next_deadline(&nd->m, NULL, NULL);
      if (due - nd->skew > n->now) continue;
      /* its own clock, not earlier than what fell due (rounding of skew) */
      double t = fmax(node_time(n, nd), due);
      while (rmp_ams_tick(&nd->m, t)) drain(n, nd);
      drain(n, nd);
    }
  }
  n->now = until;
}

static void net_free(net *n) {
  while (n->nnodes) node_kill(n, n->nodes[0]);
  free(n);
}

static net *net_new(double delay) {
  net *n = calloc(1, sizeof *n);
  n->delay = delay;
  return n;
}

static rmp_ams_peer *invite(net *n, node *from, node *to) {
  rmp_ams_peer *p = rmp_ams_invite(&from->m, node_time(n, from), &to->ctrl);
  drain(n, from);
  return p;
}

static int count_events(const node *nd, rmp_ams_out_kind kind) {
  int k = 0;
  for (int i = 0; i < nd->nlog; i++) k += nd->log[i].kind == kind;
  return k;
}

static const logged *find_event(const node *nd, rmp_ams_out_kind kind, int nth) {
  for (int i = 0; i < nd->nlog; i++)
    if (nd->log[i].kind == kind && nth-- == 0) return &nd->log[i];
  return NULL;
}

static size_t joined_count(const node *nd) {
  size_t k = 0;
  for (const rmp_ams_peer *p = nd->m.peers; p; p = p->next) k += p->state == RMP_AMS_JOINED;
  return k;
}

static const rmp_ams_peer *only_joined(const node *nd) {
  for (const rmp_ams_peer *p = nd->m.peers; p; p = p->next)
    if (p->state == RMP_AMS_JOINED) return p;
  return NULL;
}

/* ---- tests ---- */

/* Loses the first `drop_state` control-port INs. */
static bool drop_first_ins(net *n, node *from, const rmp_ams_out *o) {
  (void)from;
  if (o->port == RMP_AMS_CTRL && o->len >= 4 && o->data[2] == 'I' && o->data[3] == 'N' && n->drop_state > 0) {
    n->drop_state--;
    return true;
  }
  return false;
}

static void test_invitation_lost_twice(void) {
  net *n = net_new(1.0);
  node *a = add(n, "10.0.0.1", 5004, 0xA, "A", 0);
  node *b = add(n, "10.0.0.2", 6000, 0xB, "B", 0);
  n->drop = drop_first_ins;
  n->drop_state = 2;
  CHECK(invite(n, a, b) != NULL);
  run_until(n, 10000);
  /* IN at 0 and 1500 lost, the one at 3000 arrives at 3001; OK at 3002; the
   * data IN arrives at 3003 (B joined), its OK at 3004 (A joined) */
  CHECK_INT(a->sent_in[RMP_AMS_CTRL], 3);
  CHECK_INT(a->sent_in[RMP_AMS_DATA], 1);
  CHECK_INT(b->sent_ok[RMP_AMS_CTRL], 1);
  CHECK_INT(b->sent_ok[RMP_AMS_DATA], 1);
  CHECK_INT(count_events(a, RMP_AMS_EV_JOINED), 1);
  CHECK_INT(count_events(b, RMP_AMS_EV_JOINED), 1);
  CHECK_INT(count_events(a, RMP_AMS_EV_INVITE_FAILED), 0);
  const logged *ja = find_event(a, RMP_AMS_EV_JOINED, 0), *jb = find_event(b, RMP_AMS_EV_JOINED, 0);
  CHECK(ja && ja->t == 3004.0);
  CHECK(jb && jb->t == 3003.0);
  CHECK(ja && ja->ssrc == 0xB && strcmp(ja->name, "B") == 0);
  CHECK(jb && jb->ssrc == 0xA && strcmp(jb->name, "A") == 0);
  /* the first CK exchange: CK0 at 3004, CK1 back at 3006, CK2 at B 3007 */
  const logged *sa = find_event(a, RMP_AMS_EV_SYNCED, 0), *sb = find_event(b, RMP_AMS_EV_SYNCED, 0);
  CHECK(sa && sa->t == 3006.0 && sa->latency_ms == 1.0 && sa->offset_ms == 0.0);
  CHECK(sb && sb->t == 3007.0 && sb->latency_ms == 1.0 && sb->offset_ms == 0.0);
  CHECK_INT(rmp_ams_live(&a->m), 1);
  net_free(n);
}

/* CK with a 10 ms one-way delay each way between clocks `skew` apart. */
static void ck_exchange(double skew) {
  net *n = net_new(10.0);
  node *a = add(n, "10.0.0.1", 5004, 0xA, "A", 100000.0);
  node *b = add(n, "10.0.0.2", 5004, 0xB, "B", 100000.0 + skew);
  invite(n, a, b);
  run_until(n, 1000);
  /* IN 0 -> OK 20 -> data IN 20 -> B joined 30, A joined 40; CK0 at 40,
   * CK1 from B at 50 (B's time 50 + skew), back at 60: A measures; CK2
   * reaches B at 70: B measures */
  const logged *ja = find_event(a, RMP_AMS_EV_JOINED, 0), *jb = find_event(b, RMP_AMS_EV_JOINED, 0);
  CHECK(ja && ja->t == 40.0);
  CHECK(jb && jb->t == 30.0);
  const logged *sa = find_event(a, RMP_AMS_EV_SYNCED, 0), *sb = find_event(b, RMP_AMS_EV_SYNCED, 0);
  CHECK(sa && sa->t == 60.0);
  CHECK(sb && sb->t == 70.0);
  if (sa && sb) {
    CHECK(sa->latency_ms == 10.0);
    CHECK(sb->latency_ms == 10.0);
    /* its clock minus ours */
    CHECK(sa->offset_ms == skew);
    CHECK(sb->offset_ms == -skew);
    if (sa->offset_ms != skew || sb->offset_ms != -skew)
      fprintf(stderr, "  skew %.3f: A sees %.3f, B sees %.3f\n", skew, sa->offset_ms, sb->offset_ms);
  }
  /* six exchanges at the fast interval (1500), then at the slow one */
  CHECK_INT(a->sent_ck[0], 1);
  /* the 7th CK0 at 40 + 5 x 1500 + 10000, its CK2 at B 30 ms later */
  run_until(n, 40 + 5 * 1500 + 10000 + 30);
  CHECK_INT(a->sent_ck[0], 7);
  CHECK_INT(b->sent_ck[1], 7);
  CHECK_INT(a->sent_ck[2], 7);
  CHECK_INT(b->sent_ck[0] + a->sent_ck[1] + b->sent_ck[2], 0); /* the responder never starts one */
  const rmp_ams_peer *pa = only_joined(a), *pb = only_joined(b);
  CHECK(pa && pa->ck_exchanges == 7 && pa->synced);
  CHECK(pb && pb->ck_exchanges == 7 && pb->synced);
  CHECK_INT(a->m.st.ck_exchanges, 7);
  net_free(n);
}

static void test_ck(void) {
  ck_exchange(0.0);
  ck_exchange(1234.5);
  ck_exchange(-777.7);
}

static void test_silent_participant(void) {
  for (int reinvite = 0; reinvite < 2; reinvite++) {
    net *n = net_new(1.0);
    rmp_ams_config c = conf(0xA, "A");
    c.reinvite = reinvite;
    node *a = node_new(n, "10.0.0.1", 5004, &c, 0);
    node *b = add(n, "10.0.0.2", 5004, 0xB, "B", 0);
    invite(n, a, b);
    run_until(n, 5000);
    CHECK_INT(joined_count(a), 1);
    b->mute = true; /* from 5000 on nothing of B's arrives */
    /* CK0 at 4, 1504, 3004, 4504: the last CK1 arrived at 4506 */
    const rmp_ams_peer *p = only_joined(a);
    CHECK(p && p->last_heard == 4506.0);
    double due = 4506.0 + RMP_AMS_DEF_TIMEOUT;
    run_until(n, due - 0.001);
    CHECK_INT(count_events(a, RMP_AMS_EV_LEFT), 0);
    CHECK_INT(joined_count(a), 1);
    int ins = a->sent_in[RMP_AMS_CTRL];
    run_until(n, 5000 + 61000);
    CHECK_INT(count_events(a, RMP_AMS_EV_LEFT), 1);
    const logged *l = find_event(a, RMP_AMS_EV_LEFT, 0);
    CHECK(l && l->t == due && l->reason == RMP_AMS_TIMEOUT && l->ssrc == 0xB);
    CHECK_INT(joined_count(a), 0);
    /* B still hears A's CK0s until A let it go: it did not time out */
    CHECK_INT(count_events(b, RMP_AMS_EV_LEFT), 0);
    if (reinvite) {
      /* invited again at once, and every invite_interval until it gives up */
      CHECK_INT(a->sent_in[RMP_AMS_CTRL] - ins, 1 + (int)((5000 + 61000 - due) / RMP_AMS_DEF_INVITE_INTERVAL));
      CHECK_INT(rmp_ams_live(&a->m), 1);
    } else {
      CHECK_INT(a->sent_in[RMP_AMS_CTRL], ins);
      CHECK_INT(rmp_ams_live(&a->m), 0);
    }
    net_free(n);
  }
}

static void test_restarted_peer(void) {
  net *n = net_new(1.0);
  node *a = add(n, "10.0.0.1", 5004, 0xA, "A", 0);
  node *b = add(n, "10.0.0.2", 5004, 0xB1, "B", 0);
  invite(n, b, a);
  run_until(n, 2000);
  CHECK_INT(joined_count(a), 1);
  uint32_t old_id = only_joined(a)->id;
  /* B dies without BY and comes back on its ports with a new SSRC */
  node_kill(n, b);
  run_until(n, 3000);
  node *b2 = add(n, "10.0.0.2", 5004, 0xB2, "B", 0);
  invite(n, b2, a);
  run_until(n, 4000);
  CHECK_INT(count_events(a, RMP_AMS_EV_LEFT), 1);
  const logged *l = find_event(a, RMP_AMS_EV_LEFT, 0);
  CHECK(l && l->reason == RMP_AMS_RESTARTED && l->ssrc == 0xB1 && l->id == old_id && l->t == 3001.0);
  CHECK_INT(count_events(a, RMP_AMS_EV_JOINED), 2);
  const logged *j = find_event(a, RMP_AMS_EV_JOINED, 1);
  CHECK(j && j->ssrc == 0xB2 && j->id != old_id && j->t == 3003.0);
  CHECK_INT(joined_count(a), 1);
  CHECK_INT(rmp_ams_live(&a->m), 1);
  CHECK_INT(count_events(b2, RMP_AMS_EV_JOINED), 1);
  /* the same endpoint under another name is another session: both stay */
  node *c1 = add(n, "10.0.0.3", 5004, 0xC1, "C", 0);
  invite(n, c1, a);
  run_until(n, 5000);
  node_kill(n, c1);
  node *c2 = add(n, "10.0.0.3", 5004, 0xC2, "C renamed", 0);
  invite(n, c2, a);
  run_until(n, 6000);
  CHECK_INT(count_events(a, RMP_AMS_EV_LEFT), 1);
  CHECK_INT(joined_count(a), 3);
  /* and a session of the same name on another port of that host too */
  node *c3 = add(n, "10.0.0.3", 5006, 0xC3, "C renamed", 0);
  invite(n, c3, a);
  run_until(n, 7000);
  CHECK_INT(count_events(a, RMP_AMS_EV_LEFT), 1);
  CHECK_INT(joined_count(a), 4);
  net_free(n);
}

static void test_rejected(void) {
  net *n = net_new(1.0);
  node *a = add(n, "10.0.0.1", 5004, 0xA, "A", 0);
  rmp_ams_config c = conf(0xB, "closed");
  c.accept = RMP_AMS_ACCEPT_NONE;
  node *b = node_new(n, "10.0.0.2", 5004, &c, 0);
  rmp_addr only[2] = {addr("10.0.0.9", 0), addr("10.0.0.1", 1)};
  c.ssrc = 0xC;
  c.name = "picky";
  c.accept = RMP_AMS_ACCEPT_LIST;
  c.accept_list = only;
  c.accept_count = 1;
  node *pc = node_new(n, "10.0.0.3", 5004, &c, 0);
  c.ssrc = 0xD;
  c.name = "listed";
  c.accept_count = 2;
  node *d = node_new(n, "10.0.0.4", 5004, &c, 0);
  invite(n, a, b);
  invite(n, a, pc);
  invite(n, a, d);
  run_until(n, 100);
  CHECK_INT(count_events(a, RMP_AMS_EV_INVITE_FAILED), 2);
  for (int i = 0; i < 2; i++) {
    const logged *f = find_event(a, RMP_AMS_EV_INVITE_FAILED, i);
    CHECK(f && f->reason == RMP_AMS_REJECTED && f->t == 2.0);
  }
  const logged *f = find_event(a, RMP_AMS_EV_INVITE_FAILED, 0);
  CHECK(f && rmp_addr_equal(&f->addr, &b->ctrl));
  CHECK_INT(b->sent_no[RMP_AMS_CTRL], 1);
  CHECK_INT(b->m.st.invitations_refused, 1);
  CHECK_INT(pc->m.st.invitations_refused, 1);
  CHECK_INT(a->sent_in[RMP_AMS_CTRL], 3); /* no retry after NO */
  CHECK_INT(count_events(a, RMP_AMS_EV_JOINED), 1);
  CHECK_INT(count_events(d, RMP_AMS_EV_JOINED), 1);
  CHECK_INT(rmp_ams_live(&a->m), 1);
  CHECK_INT(rmp_ams_live(&b->m) + rmp_ams_live(&pc->m), 0);
  net_free(n);
}

static void test_bye(void) {
  net *n = net_new(1.0);
  node *a = add(n, "10.0.0.1", 5004, 0xA, "A", 0);
  node *b = add(n, "10.0.0.2", 5004, 0xB, "B", 0);
  node *cn = add(n, "10.0.0.3", 5004, 0xC, "C", 0);
  invite(n, a, b);
  run_until(n, 100);
  /* ours: "disconnected" at once; theirs: "bye" when the BY arrives */
  rmp_ams_disconnect(&a->m, (rmp_ams_peer *)only_joined(a));
  drain(n, a);
  const logged *l = find_event(a, RMP_AMS_EV_LEFT, 0);
  CHECK(l && l->reason == RMP_AMS_DISCONNECTED && l->t == 100.0 && l->ssrc == 0xB);
  /* issue 18, item 3: on both ports, as rtpmidid sends and expects it */
  CHECK_INT(a->sent_by_port[RMP_AMS_CTRL], 1);
  CHECK_INT(a->sent_by_port[RMP_AMS_DATA], 1);
  run_until(n, 200);
  l = find_event(b, RMP_AMS_EV_LEFT, 0);
  CHECK(l && l->reason == RMP_AMS_BYE && l->t == 101.0 && l->ssrc == 0xA);
  CHECK_INT(count_events(b, RMP_AMS_EV_LEFT), 1);
  /* the second BY ends nothing more and is no stranger's */
  CHECK_INT(b->m.st.unknown_ssrc, 0);
  CHECK_INT(b->m.st.foreign, 0);
  CHECK_INT(joined_count(a) + joined_count(b), 0);
  /* the other way: B invites, then ends it */
  invite(n, b, a);
  run_until(n, 300);
  CHECK_INT(joined_count(a), 1);
  rmp_ams_disconnect(&b->m, (rmp_ams_peer *)only_joined(b));
  drain(n, b);
  run_until(n, 400);
  l = find_event(a, RMP_AMS_EV_LEFT, 1);
  CHECK(l && l->reason == RMP_AMS_BYE && l->t == 301.0);
  /* a BY of its SSRC from another host is not its */
  invite(n, a, b);
  invite(n, a, cn);
  run_until(n, 500);
  CHECK_INT(joined_count(a), 2);
  uint8_t by[RMP_AM_INVITE_LEN];
  int len = rmp_am_encode_bye(by, sizeof by, 1, 0xB);
  rmp_addr spoof = addr("10.0.0.66", 5004);
  rmp_ams_on_packet(&a->m, 500, RMP_AMS_CTRL, by, (size_t)len, &spoof);
  drain(n, a);
  CHECK_INT(a->m.st.foreign, 1);
  CHECK_INT(joined_count(a), 2);
  /* stop: BY to everyone, each "stopped" here and "bye" there */
  CHECK(!rmp_ams_stop(&a->m));
  drain(n, a);
  CHECK_INT(count_events(a, RMP_AMS_EV_LEFT), 4);
  CHECK(find_event(a, RMP_AMS_EV_LEFT, 2)->reason == RMP_AMS_STOPPED);
  CHECK(find_event(a, RMP_AMS_EV_LEFT, 3)->reason == RMP_AMS_STOPPED);
  run_until(n, 600);
  CHECK_INT(count_events(b, RMP_AMS_EV_LEFT), 3);
  CHECK(find_event(b, RMP_AMS_EV_LEFT, 2)->reason == RMP_AMS_BYE);
  CHECK_INT(count_events(cn, RMP_AMS_EV_LEFT), 1);
  CHECK(find_event(cn, RMP_AMS_EV_LEFT, 0)->reason == RMP_AMS_BYE);
  CHECK_INT(rmp_ams_live(&a->m) + rmp_ams_live(&b->m) + rmp_ams_live(&cn->m), 0);
  CHECK_INT(a->allocs, a->releases);
  CHECK_INT(b->m.st.unknown_ssrc + cn->m.st.unknown_ssrc, 0);
  /* a BY for an SSRC that never was here is still counted */
  len = rmp_am_encode_bye(by, sizeof by, 77, 0xDD);
  rmp_addr bctl = addr("10.0.0.2", 5004);
  rmp_ams_on_packet(&a->m, 600, RMP_AMS_CTRL, by, (size_t)len, &bctl);
  CHECK_INT(a->m.st.unknown_ssrc, 1);
  /* an invitation that only reached the control port ends there only */
  int ctrl0 = a->sent_by_port[RMP_AMS_CTRL], data0 = a->sent_by_port[RMP_AMS_DATA];
  rmp_addr nobody = addr("10.0.0.9", 5004);
  rmp_ams_peer *q = rmp_ams_invite(&a->m, 600, &nobody);
  drain(n, a);
  rmp_ams_disconnect(&a->m, q);
  drain(n, a);
  CHECK_INT(a->sent_by_port[RMP_AMS_CTRL], ctrl0 + 1);
  CHECK_INT(a->sent_by_port[RMP_AMS_DATA], data0);
  net_free(n);
}

/* An IN for a machine, from `ip`:5004 (control port), as a stranger sends it. */
static void feed_in(rmp_ams *m, double now, int port, const char *ip, uint32_t token, uint32_t ssrc) {
  uint8_t buf[RMP_AM_MAX_LEN];
  int len = rmp_am_encode_invite(buf, sizeof buf, RMP_AM_IN, token, ssrc, "x");
  rmp_addr from = addr(ip, (uint16_t)(5004 + port));
  rmp_ams_on_packet(m, now, port, buf, (size_t)len, &from);
}

/* Pops everything; returns how many OK and NO it held. */
static void pop_answers(rmp_ams *m, int *ok, int *no) {
  rmp_ams_out o;
  while (rmp_ams_pop(m, &o)) {
    if (o.kind != RMP_AMS_SEND) continue;
    if (o.data[2] == 'O') (*ok)++;
    if (o.data[2] == 'N') (*no)++;
  }
}

static void test_limits(void) {
  node nd;
  memset(&nd, 0, sizeof nd);
  rmp_ams_config c = base_config(&nd, 0xA, "A");
  c.invitations_per_second = 2;
  c.max_participants = 3;
  CHECK_INT(rmp_ams_init(&nd.m, &c), 0);
  int ok = 0, no = 0;
  char ip[32];
  /* five at once: the bucket holds two */
  for (int i = 0; i < 5; i++) {
    snprintf(ip, sizeof ip, "10.1.0.%d", i + 1);
    feed_in(&nd.m, 1000, RMP_AMS_CTRL, ip, 100 + (uint32_t)i, 1000 + (uint32_t)i);
  }
  pop_answers(&nd.m, &ok, &no);
  CHECK_INT(ok, 2);
  CHECK_INT(no, 0);
  CHECK_INT(nd.m.st.invitations_dropped, 3);
  /* half a second later one more token */
  feed_in(&nd.m, 1499, RMP_AMS_CTRL, "10.1.1.1", 200, 2000);
  feed_in(&nd.m, 1500, RMP_AMS_CTRL, "10.1.1.2", 201, 2001);
  feed_in(&nd.m, 1500, RMP_AMS_CTRL, "10.1.1.3", 202, 2002);
  pop_answers(&nd.m, &ok, &no);
  CHECK_INT(ok, 3);
  CHECK_INT(nd.m.st.invitations_dropped, 5);
  CHECK_INT(rmp_ams_live(&nd.m), 3);
  /* a known SSRC completing its join needs no token, even with none left */
  feed_in(&nd.m, 1500, RMP_AMS_DATA, "10.1.0.1", 100, 1000);
  pop_answers(&nd.m, &ok, &no);
  CHECK_INT(ok, 4);
  CHECK_INT(nd.m.st.invitations_dropped, 5);
  CHECK_INT(rmp_ams_pending(&nd.m), 2);
  /* full, with invitations still waiting for their data IN: the oldest of
   * them (10.1.0.2, since 1000) makes room for the new one */
  feed_in(&nd.m, 2000, RMP_AMS_CTRL, "10.1.2.1", 300, 3000);
  pop_answers(&nd.m, &ok, &no);
  CHECK_INT(ok, 5);
  CHECK_INT(no, 0);
  CHECK_INT(rmp_ams_live(&nd.m), 3);
  CHECK_INT(rmp_ams_pending(&nd.m), 2);
  /* its data IN now finds nothing pending: a join of its own, with a token */
  feed_in(&nd.m, 2000, RMP_AMS_DATA, "10.1.0.2", 101, 1001);
  pop_answers(&nd.m, &ok, &no);
  CHECK_INT(ok, 5);
  CHECK_INT(nd.m.st.invitations_dropped, 6);
  /* full of joined ones: the next one with a token gets NO, and so does
   * our own invitation */
  feed_in(&nd.m, 2000, RMP_AMS_DATA, "10.1.1.2", 201, 2001);
  feed_in(&nd.m, 2000, RMP_AMS_DATA, "10.1.2.1", 300, 3000);
  pop_answers(&nd.m, &ok, &no);
  CHECK_INT(ok, 7);
  CHECK_INT(rmp_ams_pending(&nd.m), 0);
  feed_in(&nd.m, 2500, RMP_AMS_CTRL, "10.1.2.2", 301, 3001);
  pop_answers(&nd.m, &ok, &no);
  CHECK_INT(no, 1);
  CHECK_INT(nd.m.st.invitations_refused, 1);
  rmp_addr far = addr("10.9.9.9", 5004);
  CHECK(rmp_ams_invite(&nd.m, 2500, &far) == NULL);
  /* reserved slots (names being resolved) count as well */
  rmp_ams_disconnect(&nd.m, rmp_ams_find(&nd.m, 1));
  pop_answers(&nd.m, &ok, &no);
  CHECK_INT(rmp_ams_live(&nd.m), 2);
  rmp_ams_reserve(&nd.m, 1);
  CHECK(rmp_ams_invite(&nd.m, 2000, &far) == NULL);
  rmp_ams_reserve(&nd.m, 0);
  CHECK(rmp_ams_invite(&nd.m, 2000, &far) != NULL);
  /* pending joins (control OK only) go after pending_timeout */
  rmp_ams_stop(&nd.m);
  pop_answers(&nd.m, &ok, &no);
  rmp_ams_free(&nd.m);
  CHECK_INT(nd.allocs, nd.releases);

  c.max_participants = 0;
  c.invitations_per_second = 1000;
  c.pending_timeout_ms = 5000;
  CHECK_INT(rmp_ams_init(&nd.m, &c), 0);
  feed_in(&nd.m, 0, RMP_AMS_CTRL, "10.2.0.1", 1, 77);
  pop_answers(&nd.m, &ok, &no);
  CHECK_INT(rmp_ams_live(&nd.m), 1);
  double lenient;
  rmp_ams_next_deadline(&nd.m, NULL, &lenient);
  CHECK(lenient == 5000.0);
  CHECK(!rmp_ams_tick(&nd.m, 4999));
  CHECK_INT(rmp_ams_live(&nd.m), 1);
  CHECK(!rmp_ams_tick(&nd.m, 5000));
  CHECK_INT(rmp_ams_live(&nd.m), 0);
  rmp_ams_out o;
  CHECK(!rmp_ams_pop(&nd.m, &o)); /* gone without an event */
  CHECK_INT(nd.allocs, nd.releases);
  rmp_ams_free(&nd.m);
}

static void test_malformed(void) {
  node nd;
  memset(&nd, 0, sizeof nd);
  rmp_ams_config c = base_config(&nd, 0xA, "A");
  CHECK_INT(rmp_ams_init(&nd.m, &c), 0);
  rmp_addr from = addr("10.0.0.2", 5004);
  static const uint8_t sig[] = {0xfe, 0xff, 'I', 'N', 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 9};
  static const uint8_t trunc[] = {0xff};
  static const uint8_t unknown[] = {0xff, 0xff, 'Z', 'Z', 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 9};
  static const uint8_t rl[] = {0xff, 0xff, 'R', 'L', 0, 0, 0, 9, 0, 0, 3, 0xe8};
  static const uint8_t noname[] = {0xff, 0xff, 'I', 'N', 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 9, 'a', 'b'};
  uint8_t ck_short[20] = {0xff, 0xff, 'C', 'K', 0, 0, 0, 9};
  uint8_t ck_count[RMP_AM_CK_LEN] = {0xff, 0xff, 'C', 'K', 0, 0, 0, 9, 3};
  uint8_t longname[RMP_AM_INVITE_LEN + 70];
  memcpy(longname, sig, RMP_AM_INVITE_LEN);
  longname[0] = 0xff;
  memset(longname + RMP_AM_INVITE_LEN, 'n', 65);
  longname[RMP_AM_INVITE_LEN + 65] = 0;
  struct { const uint8_t *b; size_t n; } bad[] = {
    {sig, sizeof sig}, {trunc, sizeof trunc}, {unknown, sizeof unknown}, {rl, sizeof rl},
    {noname, sizeof noname}, {longname, RMP_AM_INVITE_LEN + 66}, {ck_short, sizeof ck_short},
    {ck_count, sizeof ck_count},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    rmp_ams_on_packet(&nd.m, 0, i % 2 ? RMP_AMS_DATA : RMP_AMS_CTRL, bad[i].b, bad[i].n, &from);
  CHECK_INT(nd.m.st.bad_signature, 2);
  CHECK_INT(nd.m.st.unknown_command, 2);
  CHECK_INT(nd.m.st.bad_name, 2);
  CHECK_INT(nd.m.st.malformed, 2);
  CHECK_INT(nd.m.st.control_received, 0);
  rmp_ams_out o;
  CHECK(!rmp_ams_pop(&nd.m, &o));
  CHECK_INT(nd.allocs, 0);
  /* CK, RS and BY of unknown SSRCs: counted, not answered */
  uint8_t buf[RMP_AM_CK_LEN];
  uint64_t ts[3] = {1, 0, 0};
  int n = rmp_am_encode_ck(buf, sizeof buf, 0x77, 0, ts);
  rmp_ams_on_packet(&nd.m, 0, RMP_AMS_DATA, buf, (size_t)n, &from);
  n = rmp_am_encode_rs(buf, sizeof buf, 0x77, 5);
  rmp_ams_on_packet(&nd.m, 0, RMP_AMS_CTRL, buf, (size_t)n, &from);
  n = rmp_am_encode_bye(buf, sizeof buf, 1, 0x77);
  rmp_ams_on_packet(&nd.m, 0, RMP_AMS_CTRL, buf, (size_t)n, &from);
  CHECK_INT(nd.m.st.unknown_ssrc, 3);
  CHECK(!rmp_ams_pop(&nd.m, &o));
  /* an IN with another version, or our own SSRC: NO */
  n = rmp_am_encode_invite(buf, sizeof buf, RMP_AM_IN, 5, 0x99, "v");
  buf[7] = 3;
  rmp_ams_on_packet(&nd.m, 0, RMP_AMS_CTRL, buf, (size_t)n, &from);
  n = rmp_am_encode_invite(buf, sizeof buf, RMP_AM_IN, 6, 0xA, "me");
  rmp_ams_on_packet(&nd.m, 0, RMP_AMS_CTRL, buf, (size_t)n, &from);
  int ok = 0, no = 0;
  pop_answers(&nd.m, &ok, &no);
  CHECK_INT(no, 2);
  CHECK_INT(ok, 0);
  rmp_ams_free(&nd.m);
}

static void test_rtp_and_rs(void) {
  net *n = net_new(1.0);
  node *a = add(n, "10.0.0.1", 5004, 0xA, "A", 0);
  node *b = add(n, "10.0.0.2", 5004, 0xB, "B", 0);
  invite(n, a, b);
  run_until(n, 100);
  rmp_addr bdata = addr("10.0.0.2", 5005), other = addr("10.0.0.3", 5005);
  CHECK(rmp_ams_rtp_participant(&a->m, 100, 0xB, &bdata) == only_joined(a));
  CHECK(rmp_ams_rtp_participant(&a->m, 100, 0xC, &bdata) == NULL);
  CHECK(rmp_ams_rtp_participant(&a->m, 100, 0xB, &other) == NULL);
  CHECK_INT(a->m.st.unknown_ssrc, 1);
  CHECK_INT(a->m.st.foreign, 1);
  /* RTP is a sign of life */
  rmp_ams_peer *pb = rmp_ams_rtp_participant(&a->m, 100, 0xB, &bdata);
  CHECK(pb && pb->last_heard == 100.0);
  /* what the media layer accepted is reported in an RS, rs_interval later */
  rmp_ams_rtp_received(&a->m, pb, 100, 0x1234);
  rmp_ams_rtp_received(&a->m, pb, 150, 0x1235);
  run_until(n, 1099);
  CHECK_INT(a->sent_rs, 0);
  run_until(n, 1200);
  CHECK_INT(a->sent_rs, 1);
  const logged *k = find_event(b, RMP_AMS_EV_ACK, 0);
  CHECK(k && k->seq == 0x1235 && k->raw == 0x12350000u && k->t == 1101.0 && k->ssrc == 0xA);
  CHECK_INT(b->m.st.rs_received, 1);
  /* none while nothing new arrives */
  run_until(n, 5000);
  CHECK_INT(a->sent_rs, 1);
  net_free(n);
}

/* An RS with this SSRC and 32-bit field, as a peer sends it. */
static void feed_rs_on(node *nd, double now, int port, uint32_t ssrc, uint32_t raw, const rmp_addr *from) {
  uint8_t b[12] = {0xff, 0xff, 'R', 'S'};
  for (int i = 0; i < 4; i++) {
    b[4 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
    b[8 + i] = (uint8_t)(raw >> (24 - 8 * i));
  }
  rmp_ams_on_packet(&nd->m, now, port, b, sizeof b, from);
}

static void feed_rs(node *nd, double now, uint32_t ssrc, uint32_t raw, const rmp_addr *from) {
  feed_rs_on(nd, now, RMP_AMS_CTRL, ssrc, raw, from);
}

/* Issue 18, item 5: rtpmidid's RS carries the sequence number in the low
 * 16 bits. The halves say which form an RS has when one is zero and the
 * other not; the participant keeps the form for RS whose halves do not. */
static void test_rs_forms(void) {
  net *n = net_new(1.0);
  node *a = add(n, "10.0.0.1", 5004, 0xA, "A", 0);
  node *b = add(n, "10.0.0.2", 5004, 0xB, "B", 0);
  node *c = add(n, "10.0.0.3", 5004, 0xC, "C", 0);
  invite(n, a, b);
  invite(n, a, c);
  run_until(n, 100);
  rmp_addr bc = addr("10.0.0.2", 5004), cc = addr("10.0.0.3", 5004);
  /* B: Apple's form */
  feed_rs(a, 100, 0xB, 0x12340000u, &bc);
  /* C: rtpmidid's */
  feed_rs(a, 100, 0xC, 0x00001234u, &cc);
  /* both halves non-zero: each read in its participant's form */
  feed_rs(a, 100, 0xB, 0x56780001u, &bc);
  feed_rs(a, 100, 0xC, 0x00015678u, &cc);
  /* zero is zero in either */
  feed_rs(a, 100, 0xC, 0, &cc);
  drain(n, a);
  CHECK_INT(count_events(a, RMP_AMS_EV_ACK), 5);
  const logged *k[5];
  for (int i = 0; i < 5; i++) k[i] = find_event(a, RMP_AMS_EV_ACK, i);
  CHECK(k[0]->ssrc == 0xB && k[0]->seq == 0x1234);
  CHECK(k[1]->ssrc == 0xC && k[1]->seq == 0x1234 && k[1]->raw == 0x1234);
  CHECK(k[2]->ssrc == 0xB && k[2]->seq == 0x5678);
  CHECK(k[3]->ssrc == 0xC && k[3]->seq == 0x5678);
  CHECK(k[4]->ssrc == 0xC && k[4]->seq == 0);
  for (rmp_ams_peer *p = a->m.peers; p; p = p->next)
    CHECK_INT(p->rs_form, p->ssrc == 0xC ? RMP_AMS_RS_LOW : RMP_AMS_RS_HIGH);
  /* a participant that has not shown its form yet reads Apple's */
  node *d = add(n, "10.0.0.4", 5004, 0xD, "D", 0);
  invite(n, a, d);
  run_until(n, 200);
  rmp_addr dc = addr("10.0.0.4", 5004);
  feed_rs(a, 200, 0xD, 0x00020003u, &dc);
  drain(n, a);
  const logged *kd = find_event(a, RMP_AMS_EV_ACK, 5);
  CHECK(kd && kd->ssrc == 0xD && kd->seq == 0x0002);
  net_free(n);
}

/* Issue 18, item 6: raveloxmidi's feedback, an RS on the data port per
 * packet received, with the SSRC of our packet: its RS. */
static void test_feedback_on_data_port(void) {
  net *n = net_new(1.0);
  node *a = add(n, "10.0.0.1", 5004, 0xA, "A", 0);
  node *b = add(n, "10.0.0.2", 5004, 0xB, "B", 0);
  node *c = add(n, "10.0.0.3", 5004, 0xC, "C", 0);
  invite(n, a, b);
  invite(n, a, c);
  run_until(n, 100);
  rmp_addr bd = addr("10.0.0.2", 5005), cd = addr("10.0.0.3", 5005), bc = addr("10.0.0.2", 5004);
  rmp_addr stranger = addr("10.0.0.9", 5005), bother = addr("10.0.0.2", 6000);
  feed_rs_on(a, 100, RMP_AMS_DATA, 0xA, 0x00100000u, &bd);
  feed_rs_on(a, 100, RMP_AMS_DATA, 0xA, 0x00200000u, &cd);
  drain(n, a);
  CHECK_INT(count_events(a, RMP_AMS_EV_ACK), 2);
  const logged *k = find_event(a, RMP_AMS_EV_ACK, 0);
  CHECK(k && k->ssrc == 0xB && k->seq == 0x10);
  k = find_event(a, RMP_AMS_EV_ACK, 1);
  CHECK(k && k->ssrc == 0xC && k->seq == 0x20);
  CHECK_INT(a->m.st.unknown_ssrc, 0);
  /* ours from elsewhere, or on the control port, is nobody's */
  feed_rs_on(a, 100, RMP_AMS_DATA, 0xA, 0x00300000u, &stranger);
  feed_rs_on(a, 100, RMP_AMS_DATA, 0xA, 0x00300000u, &bother);
  feed_rs_on(a, 100, RMP_AMS_CTRL, 0xA, 0x00300000u, &bc);
  drain(n, a);
  CHECK_INT(count_events(a, RMP_AMS_EV_ACK), 2);
  CHECK_INT(a->m.st.unknown_ssrc, 3);
  net_free(n);
}

/* Hostile LAN (issue 18, item 6 turned around): the data-port RS with OUR
 * SSRC needs no secret of the participant's -- ours is in every OK we give
 * to anyone who invites us. A forger sending from B's data address (spoofed
 * source) confirmed our packets to B with it: the journal for B trimmed,
 * B's form of RS (rs_form) moved, B made a peer "that gives feedback".
 * Once B sent an RS of its own, the other form from its address is forged. */
static void test_forged_feedback_with_our_ssrc(void) {
  net *n = net_new(1.0);
  node *a = add(n, "10.0.0.1", 5004, 0xA, "A", 0);
  node *b = add(n, "10.0.0.2", 5004, 0xB, "B", 0);
  invite(n, a, b);
  run_until(n, 100);
  rmp_addr bd = addr("10.0.0.2", 5005), bc = addr("10.0.0.2", 5004);
  /* B's own RS, Apple's form */
  feed_rs(a, 100, 0xB, 0x00100000u, &bc);
  drain(n, a);
  CHECK_INT(count_events(a, RMP_AMS_EV_ACK), 1);
  const rmp_ams_peer *pb = only_joined(a);
  CHECK(pb && pb->rs_own && pb->rs_form == RMP_AMS_RS_HIGH);
  /* the forger, from B's data address, our SSRC, the low-half form and a
   * sequence number of its choice: nothing confirmed, B's form kept */
  uint64_t foreign0 = a->m.st.foreign;
  for (uint32_t seq = 1; seq <= 64; seq++) feed_rs_on(a, 110, RMP_AMS_DATA, 0xA, seq, &bd);
  drain(n, a);
  CHECK_INT(count_events(a, RMP_AMS_EV_ACK), 1);
  CHECK_INT(a->m.st.foreign - foreign0, 64);
  CHECK_INT(pb->rs_received, 1);
  CHECK_INT(pb->rs_form, RMP_AMS_RS_HIGH);
  /* B's own go on */
  feed_rs(a, 120, 0xB, 0x00110000u, &bc);
  drain(n, a);
  CHECK_INT(count_events(a, RMP_AMS_EV_ACK), 2);
  net_free(n);
}

/* Issue 18, item 4: pymidi's data port answers our data IN with another
 * SSRC than its control port's, and its CK and RTP carry that one: an
 * alias of the participant, so the CK exchange completes. */
static void test_data_ssrc_alias(void) {
  node nd;
  memset(&nd, 0, sizeof nd);
  rmp_ams_config c = base_config(&nd, 0xA, "A");
  CHECK_INT(rmp_ams_init(&nd.m, &c), 0);
  rmp_addr pc = addr("10.0.0.2", 5004), pd = addr("10.0.0.2", 5005), other = addr("10.0.0.3", 5005);
  rmp_ams_peer *p = rmp_ams_invite(&nd.m, 0, &pc);
  rmp_ams_out o;
  uint32_t token = 0;
  while (rmp_ams_pop(&nd.m, &o))
    if (o.kind == RMP_AMS_SEND) token = ((uint32_t)o.data[8] << 24) | ((uint32_t)o.data[9] << 16) |
                                        ((uint32_t)o.data[10] << 8) | o.data[11];
  uint8_t buf[RMP_AM_MAX_LEN];
  int n = rmp_am_encode_invite(buf, sizeof buf, RMP_AM_OK, token, 0x1111, "py");
  rmp_ams_on_packet(&nd.m, 10, RMP_AMS_CTRL, buf, (size_t)n, &pc);
  while (rmp_ams_pop(&nd.m, &o)) {}
  n = rmp_am_encode_invite(buf, sizeof buf, RMP_AM_OK, token, 0x2222, "py");
  rmp_ams_on_packet(&nd.m, 20, RMP_AMS_DATA, buf, (size_t)n, &pd);
  int joins = 0;
  uint64_t ck0 = 0;
  while (rmp_ams_pop(&nd.m, &o)) joins += o.kind == RMP_AMS_EV_JOINED;
  CHECK_INT(joins, 1);
  CHECK(p->state == RMP_AMS_JOINED && p->ssrc == 0x1111 && p->have_alias && p->alias_ssrc == 0x2222);
  /* our CK0 goes at once; its CK1 comes with the data port's SSRC */
  CHECK(!rmp_ams_tick(&nd.m, 20));
  while (rmp_ams_pop(&nd.m, &o)) {
    rmp_am_packet pk;
    if (o.kind == RMP_AMS_SEND && rmp_am_parse(o.data, o.len, &pk) >= 0 && pk.cmd == RMP_AM_CK) ck0 = pk.u.ck.ts[0];
  }
  CHECK(ck0 != 0);
  uint64_t ts[3] = {ck0, 12345, 0};
  n = rmp_am_encode_ck(buf, sizeof buf, 0x2222, 1, ts);
  rmp_ams_on_packet(&nd.m, 22, RMP_AMS_DATA, buf, (size_t)n, &pd);
  int synced = 0;
  while (rmp_ams_pop(&nd.m, &o)) synced += o.kind == RMP_AMS_EV_SYNCED;
  CHECK_INT(synced, 1);
  CHECK(p->synced && p->last_heard == 22);
  /* its RTP under either SSRC is its own, from its data address only */
  CHECK(rmp_ams_rtp_participant(&nd.m, 30, 0x2222, &pd) == p);
  CHECK(rmp_ams_rtp_participant(&nd.m, 30, 0x1111, &pd) == p);
  CHECK(rmp_ams_rtp_participant(&nd.m, 30, 0x2222, &other) == NULL);
  CHECK_INT(nd.m.st.unknown_ssrc, 0);
  CHECK_INT(nd.m.st.foreign, 1);
  /* an alias must not be ours or another participant's */
  rmp_addr qc = addr("10.0.0.4", 5004), qd = addr("10.0.0.4", 5005);
  rmp_ams_peer *q = rmp_ams_invite(&nd.m, 40, &qc);
  while (rmp_ams_pop(&nd.m, &o)) {}
  n = rmp_am_encode_invite(buf, sizeof buf, RMP_AM_OK, q->token, 0x3333, "q");
  rmp_ams_on_packet(&nd.m, 41, RMP_AMS_CTRL, buf, (size_t)n, &qc);
  n = rmp_am_encode_invite(buf, sizeof buf, RMP_AM_OK, q->token, 0x2222, "q");
  rmp_ams_on_packet(&nd.m, 42, RMP_AMS_DATA, buf, (size_t)n, &qd);
  while (rmp_ams_pop(&nd.m, &o)) {}
  CHECK(q->state == RMP_AMS_INVITE_DATA && !q->have_alias);
  CHECK_INT(nd.m.st.foreign, 2);
  rmp_ams_free(&nd.m);
  CHECK_INT(nd.allocs, nd.releases);
}

static uint64_t bswap64(uint64_t v) {
  uint64_t r = 0;
  for (int i = 0; i < 8; i++) r = (r << 8) | ((v >> (8 * i)) & 0xFF);
  return r;
}

/* Takes the CK we sent last from the outbox (its count and timestamps). */
static bool pop_ck(rmp_ams *m, rmp_am_ck *ck) {
  rmp_ams_out o;
  bool got = false;
  while (rmp_ams_pop(m, &o)) {
    rmp_am_packet pk;
    if (o.kind == RMP_AMS_SEND && rmp_am_parse(o.data, o.len, &pk) >= 0 && pk.cmd == RMP_AM_CK) {
      *ck = pk.u.ck;
      got = true;
    }
  }
  return got;
}

static int pop_synced(rmp_ams *m) {
  rmp_ams_out o;
  int k = 0;
  while (rmp_ams_pop(m, &o)) k += o.kind == RMP_AMS_EV_SYNCED;
  return k;
}

/* Issue 18, item 7: MIDIMonster writes CK timestamps in host byte order.
 * Its clock reads 10 s (100,000 units) ahead of ours. */
static void test_ck_host_byte_order(void) {
  node nd;
  memset(&nd, 0, sizeof nd);
  rmp_ams_config c = base_config(&nd, 0xA, "A");
  CHECK_INT(rmp_ams_init(&nd.m, &c), 0);
  rmp_addr pc = addr("10.0.0.2", 5004), pd = addr("10.0.0.2", 5005);
  uint8_t buf[RMP_AM_MAX_LEN];
  /* it invites us */
  int n = rmp_am_encode_invite(buf, sizeof buf, RMP_AM_IN, 9, 0x3333, "mm");
  rmp_ams_on_packet(&nd.m, 0, RMP_AMS_CTRL, buf, (size_t)n, &pc);
  rmp_ams_on_packet(&nd.m, 0, RMP_AMS_DATA, buf, (size_t)n, &pd);
  rmp_ams_out o;
  while (rmp_ams_pop(&nd.m, &o)) {}
  rmp_ams_peer *p = nd.m.peers;
  CHECK(p && p->state == RMP_AMS_JOINED);
  /* its exchange: CK0 at its 1000 s (ts1 little-endian), our CK1, its CK2
   * 2 ms later (ts3 little-endian): we measure 1 ms one way, its clock
   * ahead of ours */
  uint64_t t1 = 10000000, ts[3] = {bswap64(t1), 0, 0};
  n = rmp_am_encode_ck(buf, sizeof buf, 0x3333, 0, ts);
  rmp_ams_on_packet(&nd.m, 1000, RMP_AMS_DATA, buf, (size_t)n, &pd);
  rmp_am_ck ck1;
  CHECK(pop_ck(&nd.m, &ck1) && ck1.count == 1 && ck1.ts[0] == bswap64(t1));
  uint64_t k2[3] = {ck1.ts[0], ck1.ts[1], bswap64(t1 + 20)};
  n = rmp_am_encode_ck(buf, sizeof buf, 0x3333, 2, k2);
  rmp_ams_on_packet(&nd.m, 1002, RMP_AMS_DATA, buf, (size_t)n, &pd);
  CHECK_INT(pop_synced(&nd.m), 1);
  CHECK(p->ts_swapped && p->synced);
  CHECK(fabs(p->latency_ms - 1.0) < 1e-9);
  /* its midpoint (10,000,010 units) minus our ts2 (1000 ms, when its CK0 came) */
  CHECK(fabs(p->offset_ms - (1000001.0 - 1000.0)) < 1e-9);
  CHECK_INT(nd.m.st.ts_swapped, 1);
  CHECK_INT(nd.m.st.ck_impossible, 0);
  /* numbers that fit neither order: counted, nothing measured, it stays */
  double lat = p->latency_ms;
  uint64_t bad = 0x00FFFFFFFFFFFF00ull;
  uint64_t b0[3] = {bad, 0, 0};
  n = rmp_am_encode_ck(buf, sizeof buf, 0x3333, 0, b0);
  rmp_ams_on_packet(&nd.m, 2000, RMP_AMS_DATA, buf, (size_t)n, &pd);
  CHECK(pop_ck(&nd.m, &ck1));
  uint64_t b2[3] = {ck1.ts[0], ck1.ts[1], bad + 10};
  n = rmp_am_encode_ck(buf, sizeof buf, 0x3333, 2, b2);
  rmp_ams_on_packet(&nd.m, 2001, RMP_AMS_DATA, buf, (size_t)n, &pd);
  CHECK_INT(pop_synced(&nd.m), 0);
  CHECK_INT(p->ck_impossible, 1);
  CHECK_INT(nd.m.st.ck_impossible, 1);
  CHECK(p->latency_ms == lat && p->state == RMP_AMS_JOINED && p->last_heard == 2001);
  /* ... and it is still alive at the timeout of the first exchange */
  CHECK(!rmp_ams_tick(&nd.m, 61000));
  CHECK(p->state == RMP_AMS_JOINED);
  rmp_ams_free(&nd.m);

  /* we invite it: its CK1's ts2 is little-endian */
  memset(&nd, 0, sizeof nd);
  CHECK_INT(rmp_ams_init(&nd.m, &c), 0);
  c.ud = &nd;
  p = rmp_ams_invite(&nd.m, 0, &pc);
  while (rmp_ams_pop(&nd.m, &o)) {}
  n = rmp_am_encode_invite(buf, sizeof buf, RMP_AM_OK, p->token, 0x3333, "mm");
  rmp_ams_on_packet(&nd.m, 1, RMP_AMS_CTRL, buf, (size_t)n, &pc);
  rmp_ams_on_packet(&nd.m, 2, RMP_AMS_DATA, buf, (size_t)n, &pd);
  while (rmp_ams_pop(&nd.m, &o)) {}
  CHECK(!rmp_ams_tick(&nd.m, 2));
  rmp_am_ck ck0;
  CHECK(pop_ck(&nd.m, &ck0) && ck0.count == 0);
  uint64_t r1[3] = {ck0.ts[0], bswap64(777777), 0};
  n = rmp_am_encode_ck(buf, sizeof buf, 0x3333, 1, r1);
  rmp_ams_on_packet(&nd.m, 4, RMP_AMS_DATA, buf, (size_t)n, &pd);
  CHECK_INT(pop_synced(&nd.m), 1);
  CHECK(p->ts_swapped && fabs(p->latency_ms - 1.0) < 1e-9);
  CHECK(fabs(p->offset_ms - (77777.7 - 3.0)) < 1e-6);
  rmp_ams_free(&nd.m);
  CHECK_INT(nd.allocs, nd.releases);
}

/* Hostile LAN (issue 18, item 7 turned around): a complete CK exchange
 * forged from a participant's data address (its CK0, then a CK2 echoing our
 * CK1: sniffed, or our clock guessed and sprayed) whose numbers fit only
 * little-endian made an Apple peer "swapped": its real RTP timestamps were
 * read byte-swapped until its next exchange. The first exchange settles
 * the order; the forged one is impossible. */
static void test_forged_ck_cannot_flip_order(void) {
  node nd;
  memset(&nd, 0, sizeof nd);
  rmp_ams_config c = base_config(&nd, 0xA, "A");
  CHECK_INT(rmp_ams_init(&nd.m, &c), 0);
  rmp_addr pc = addr("10.0.0.2", 5004), pd = addr("10.0.0.2", 5005);
  uint8_t buf[RMP_AM_MAX_LEN];
  int n = rmp_am_encode_invite(buf, sizeof buf, RMP_AM_IN, 9, 0x3333, "apple");
  rmp_ams_on_packet(&nd.m, 0, RMP_AMS_CTRL, buf, (size_t)n, &pc);
  rmp_ams_on_packet(&nd.m, 0, RMP_AMS_DATA, buf, (size_t)n, &pd);
  rmp_ams_out o;
  while (rmp_ams_pop(&nd.m, &o)) {}
  rmp_ams_peer *p = nd.m.peers;
  CHECK(p && p->state == RMP_AMS_JOINED);
  /* the real peer's exchange, big-endian as the protocol has it */
  uint64_t t1 = 10000000;
  uint64_t ts[3] = {t1, 0, 0};
  n = rmp_am_encode_ck(buf, sizeof buf, 0x3333, 0, ts);
  rmp_ams_on_packet(&nd.m, 1000, RMP_AMS_DATA, buf, (size_t)n, &pd);
  rmp_am_ck ck1;
  CHECK(pop_ck(&nd.m, &ck1));
  uint64_t k2[3] = {ck1.ts[0], ck1.ts[1], t1 + 20};
  n = rmp_am_encode_ck(buf, sizeof buf, 0x3333, 2, k2);
  rmp_ams_on_packet(&nd.m, 1002, RMP_AMS_DATA, buf, (size_t)n, &pd);
  CHECK_INT(pop_synced(&nd.m), 1);
  CHECK(!p->ts_swapped && p->ts_order_known);
  double off = p->offset_ms;
  /* the forger's: CK0 and CK2 with little-endian clocks, echoing ours */
  uint64_t f0[3] = {bswap64(t1 + 50000), 0, 0};
  n = rmp_am_encode_ck(buf, sizeof buf, 0x3333, 0, f0);
  rmp_ams_on_packet(&nd.m, 6000, RMP_AMS_DATA, buf, (size_t)n, &pd);
  CHECK(pop_ck(&nd.m, &ck1));
  uint64_t f2[3] = {ck1.ts[0], ck1.ts[1], bswap64(t1 + 50020)};
  n = rmp_am_encode_ck(buf, sizeof buf, 0x3333, 2, f2);
  rmp_ams_on_packet(&nd.m, 6002, RMP_AMS_DATA, buf, (size_t)n, &pd);
  CHECK_INT(pop_synced(&nd.m), 0);
  CHECK(!p->ts_swapped);
  CHECK_INT(nd.m.st.ts_swapped, 0);
  CHECK_INT(p->ck_impossible, 1);
  CHECK(p->offset_ms == off);
  rmp_ams_free(&nd.m);
  CHECK_INT(nd.allocs, nd.releases);
}

static void test_invite_timeout(void) {
  net *n = net_new(1.0);
  rmp_ams_config c = conf(0xA, "A");
  c.invite_tries = 3;
  node *a = node_new(n, "10.0.0.1", 5004, &c, 0);
  rmp_addr nobody = addr("10.0.0.99", 5004);
  CHECK(rmp_ams_invite(&a->m, 0, &nobody) != NULL);
  drain(n, a);
  run_until(n, 10000);
  CHECK_INT(a->sent_in[RMP_AMS_CTRL], 3);
  CHECK_INT(n->nowhere, 3);
  const logged *f = find_event(a, RMP_AMS_EV_INVITE_FAILED, 0);
  CHECK(f && f->reason == RMP_AMS_TIMEOUT && f->t == 3 * RMP_AMS_DEF_INVITE_INTERVAL);
  CHECK(f && rmp_addr_equal(&f->addr, &nobody));
  CHECK_INT(rmp_ams_live(&a->m), 0);
  CHECK(isinf(rmp_ams_next_deadline(&a->m, NULL, NULL)));
  net_free(n);
}

/* Bulk work larger than the outbox goes out in rounds, nothing lost. */
static void test_outbox_rounds(void) {
  node nd;
  memset(&nd, 0, sizeof nd);
  rmp_ams_config c = base_config(&nd, 0xA, "A");
  c.max_participants = 1000;
  c.invitations_per_second = 1e6;
  CHECK_INT(rmp_ams_init(&nd.m, &c), 0);
  char ip[32];
  int sends = 0;
  rmp_ams_out o;
  for (int i = 0; i < 150; i++) {
    snprintf(ip, sizeof ip, "10.3.%d.%d", i / 200, i % 200 + 1);
    rmp_addr to = addr(ip, 5004);
    CHECK(rmp_ams_invite(&nd.m, 0, &to) != NULL);
    while (rmp_ams_pop(&nd.m, &o)) sends++;
  }
  CHECK_INT(sends, 150);
  int rounds = 0;
  double now = RMP_AMS_DEF_INVITE_INTERVAL;
  CHECK(rmp_ams_next_deadline(&nd.m, NULL, NULL) == now);
  for (;;) {
    bool more = rmp_ams_tick(&nd.m, now);
    rounds++;
    while (rmp_ams_pop(&nd.m, &o)) sends++;
    if (!more) break;
    CHECK(rmp_ams_next_deadline(&nd.m, NULL, NULL) <= now);
  }
  CHECK_INT(sends, 300);
  CHECK(rounds >= 3);
  CHECK_INT(nd.m.st.outbox_full, 0);
  CHECK(rmp_ams_next_deadline(&nd.m, NULL, NULL) == 2 * now);
  /* a pump that does not drain: datagrams beyond the outbox are counted */
  for (int i = 0; i < 100; i++) feed_in(&nd.m, 2 * now, RMP_AMS_CTRL, "10.4.0.1", 1, 5000 + (uint32_t)i);
  CHECK(nd.m.st.outbox_full > 0);
  while (rmp_ams_stop(&nd.m))
    while (rmp_ams_pop(&nd.m, &o)) {}
  while (rmp_ams_pop(&nd.m, &o)) {}
  CHECK_INT(rmp_ams_live(&nd.m), 0);
  CHECK_INT(nd.allocs, nd.releases);
  rmp_ams_free(&nd.m);
}

static void test_defaults(void) {
  node nd;
  memset(&nd, 0, sizeof nd);
  rmp_ams_config c = base_config(&nd, 0xA, NULL);
  CHECK_INT(rmp_ams_init(&nd.m, &c), 0);
  CHECK_INT(nd.m.cfg.invite_tries, RMP_AMS_DEF_INVITE_TRIES);
  CHECK(nd.m.cfg.timeout_ms == RMP_AMS_DEF_TIMEOUT);
  CHECK(nd.m.cfg.pending_timeout_ms == RMP_AMS_DEF_PENDING_TIMEOUT);
  CHECK_INT(nd.m.cfg.pending_per_host, RMP_AMS_DEF_PENDING_PER_HOST);
  CHECK_INT(nd.m.cfg.max_participants, RMP_AMS_DEF_MAX_PARTICIPANTS);
  CHECK(nd.m.cfg.name && !nd.m.cfg.name[0]);
  c.alloc = NULL;
  CHECK_INT(rmp_ams_init(&nd.m, &c), RMP_EAINVAL);
  CHECK(rmp_ams_clock(1234.5) == 12345u);
  CHECK(rmp_ams_clock(-5) == 0u);
  CHECK(strcmp(rmp_ams_reason_name(RMP_AMS_RESTARTED), "restarted") == 0);
}

/* A forged datagram for nd, as if from `from` on port; the machine's
 * answers go out into the network. */
static void forge(net *n, node *nd, int port, const uint8_t *buf, int len, const rmp_addr *from) {
  CHECK(len > 0);
  rmp_ams_on_packet(&nd->m, node_time(n, nd), port, buf, (size_t)len, from);
  drain(n, nd);
}

static const rmp_ams_peer *joined_ssrc(const node *nd, uint32_t ssrc) {
  for (const rmp_ams_peer *p = nd->m.peers; p; p = p->next)
    if (p->state == RMP_AMS_JOINED && p->ssrc == ssrc) return p;
  return NULL;
}

/* Issue #16, finding 1: a participant is bound to the addresses it joined
 * from. INs, BYs, CKs, RSs and RTP with its SSRC from anywhere else change
 * nothing and are not answered; a BY needs its token; a CK1 or CK2 must
 * answer ours. */
static void test_hijack(void) {
  net *n = net_new(1.0);
  node *a = add(n, "10.0.0.1", 5004, 0xA, "A", 0);
  node *b = add(n, "10.0.0.2", 5004, 0xB, "B", 0);     /* invited us */
  node *c = add(n, "10.0.0.3", 5004, 0xC, "C", 0);     /* we invited it */
  invite(n, b, a);
  invite(n, a, c);
  run_until(n, 100);
  const rmp_ams_peer *pb = joined_ssrc(a, 0xB), *pc = joined_ssrc(a, 0xC);
  CHECK(pb && pc);
  if (!pb || !pc) { net_free(n); return; }
  uint32_t tok_b = pb->token, tok_c = pc->token;
  rmp_addr bctrl = b->ctrl, bdata = addr("10.0.0.2", 5005);
  CHECK(rmp_addr_equal(&pb->ctrl, &bctrl) && rmp_addr_equal(&pb->data, &bdata));
  n->tap = addr("10.0.0.66", 0);
  rmp_addr evil_c = addr("10.0.0.66", 5004), evil_d = addr("10.0.0.66", 5005);
  rmp_addr b_other = addr("10.0.0.2", 7001);   /* B's host, another port */
  uint8_t buf[RMP_AM_MAX_LEN];
  uint64_t foreign0 = a->m.st.foreign;
  long ok0 = a->sent_ok[0] + a->sent_ok[1], no0 = a->sent_no[0] + a->sent_no[1];
  /* INs with B's and C's SSRCs, with their very tokens, from the forger and
   * from another port of B's host, on both ports */
  const rmp_addr *froms[] = {&evil_c, &evil_d, &b_other};
  const uint32_t ssrcs[] = {0xB, 0xC}, toks[] = {tok_b, tok_c};
  int forged = 0;
  for (int k = 0; k < 2; k++)
    for (int f = 0; f < 3; f++)
      for (int port = 0; port < 2; port++) {
        forge(n, a, port, buf, rmp_am_encode_invite(buf, sizeof buf, RMP_AM_IN, toks[k], ssrcs[k], "evil"),
              froms[f]);
        forged++;
      }
  CHECK_INT(a->m.st.foreign - foreign0, forged);
  CHECK_INT(a->sent_ok[0] + a->sent_ok[1] - ok0, 0);
  CHECK_INT(a->sent_no[0] + a->sent_no[1] - no0, 0);
  CHECK(rmp_addr_equal(&pb->ctrl, &bctrl) && rmp_addr_equal(&pb->data, &bdata));
  CHECK(rmp_addr_equal(&pc->ctrl, &c->ctrl));
  /* nor do they take invitation tokens: the bucket is as full as before */
  CHECK_INT(a->m.st.invitations_dropped, 0);
  /* its RTP from elsewhere is not its, even from its host */
  CHECK(rmp_ams_rtp_participant(&a->m, 100, 0xB, &b_other) == NULL);
  CHECK(rmp_ams_rtp_participant(&a->m, 100, 0xB, &evil_d) == NULL);
  CHECK(rmp_ams_rtp_participant(&a->m, 100, 0xB, &bdata) == pb);
  /* a BY from B's own control port without B's token ends nothing; nor
   * from elsewhere with it */
  foreign0 = a->m.st.foreign;
  forge(n, a, RMP_AMS_CTRL, buf, rmp_am_encode_bye(buf, sizeof buf, tok_b ^ 1, 0xB), &bctrl);
  forge(n, a, RMP_AMS_CTRL, buf, rmp_am_encode_bye(buf, sizeof buf, tok_b, 0xB), &evil_c);
  forge(n, a, RMP_AMS_DATA, buf, rmp_am_encode_bye(buf, sizeof buf, tok_c, 0xC), &b_other);
  CHECK_INT(a->m.st.foreign - foreign0, 3);
  CHECK_INT(count_events(a, RMP_AMS_EV_LEFT), 0);
  /* CK1 and CK2 that answer nothing of ours: no clock set, no answer */
  run_until(n, 2000); /* CK exchanges with C (we start them) and B (it does) */
  int synced = count_events(a, RMP_AMS_EV_SYNCED);
  int ck2 = a->sent_ck[2], ck1 = a->sent_ck[1];
  uint64_t ts[3] = {12345, 67890, 99999};
  forge(n, a, RMP_AMS_DATA, buf, rmp_am_encode_ck(buf, sizeof buf, 0xC, 1, ts), &pc->data);
  forge(n, a, RMP_AMS_DATA, buf, rmp_am_encode_ck(buf, sizeof buf, 0xB, 2, ts), &bdata);
  /* replays of real ones: the exchange they answered is closed */
  ts[0] = pc->ck_ts1;
  forge(n, a, RMP_AMS_DATA, buf, rmp_am_encode_ck(buf, sizeof buf, 0xC, 1, ts), &pc->data);
  ts[0] = pb->ck_reply_ts[0];
  ts[1] = pb->ck_reply_ts[1];
  forge(n, a, RMP_AMS_DATA, buf, rmp_am_encode_ck(buf, sizeof buf, 0xB, 2, ts), &bdata);
  CHECK_INT(a->m.st.unsolicited, 4);
  CHECK_INT(count_events(a, RMP_AMS_EV_SYNCED), synced);
  CHECK_INT(a->sent_ck[2], ck2);
  /* and a CK0 from elsewhere gets no CK1; from the participant it does */
  forge(n, a, RMP_AMS_DATA, buf, rmp_am_encode_ck(buf, sizeof buf, 0xB, 0, ts), &evil_d);
  CHECK_INT(a->sent_ck[1], ck1);
  forge(n, a, RMP_AMS_DATA, buf, rmp_am_encode_ck(buf, sizeof buf, 0xB, 0, ts), &bdata);
  CHECK_INT(a->sent_ck[1], ck1 + 1);
  /* nothing of all this reached the forger */
  run_until(n, 3000);
  CHECK_INT(n->tap_count, 0);
  CHECK_INT(joined_count(a), 2);
  CHECK(pb->synced && pc->synced);
  /* the real BY, with the token, ends it */
  rmp_ams_disconnect(&b->m, (rmp_ams_peer *)only_joined(b));
  drain(n, b);
  run_until(n, 3100);
  const logged *l = find_event(a, RMP_AMS_EV_LEFT, 0);
  CHECK(l && l->reason == RMP_AMS_BYE && l->ssrc == 0xB);
  net_free(n);
}

/* Our invitation is answered by the session invited, not by whoever knows
 * its token: an OK or NO from another host changes nothing. */
static void test_forged_answers(void) {
  net *n = net_new(1.0);
  node *a = add(n, "10.0.0.1", 5004, 0xA, "A", 0);
  rmp_addr far = addr("10.0.0.2", 5004), evil = addr("10.0.0.66", 5004);
  rmp_ams_peer *p = rmp_ams_invite(&a->m, 0, &far);
  drain(n, a);
  CHECK(p != NULL);
  uint8_t buf[RMP_AM_MAX_LEN];
  forge(n, a, RMP_AMS_CTRL, buf, rmp_am_encode_invite(buf, sizeof buf, RMP_AM_NO, p->token, 0x66, "x"), &evil);
  forge(n, a, RMP_AMS_CTRL, buf, rmp_am_encode_invite(buf, sizeof buf, RMP_AM_OK, p->token, 0x66, "x"), &evil);
  CHECK_INT(a->m.st.foreign, 2);
  CHECK(p->state == RMP_AMS_INVITE_CTRL && !p->have_ssrc);
  CHECK_INT(count_events(a, RMP_AMS_EV_INVITE_FAILED), 0);
  /* the real one's OK, then a forged data OK from elsewhere */
  forge(n, a, RMP_AMS_CTRL, buf, rmp_am_encode_invite(buf, sizeof buf, RMP_AM_OK, p->token, 0x22, "far"), &far);
  CHECK(p->state == RMP_AMS_INVITE_DATA);
  rmp_addr evil_d = addr("10.0.0.66", 5005), far_d = addr("10.0.0.2", 5005);
  forge(n, a, RMP_AMS_DATA, buf, rmp_am_encode_invite(buf, sizeof buf, RMP_AM_OK, p->token, 0x22, "far"), &evil_d);
  CHECK(p->state == RMP_AMS_INVITE_DATA);
  CHECK_INT(a->m.st.foreign, 3);
  forge(n, a, RMP_AMS_DATA, buf, rmp_am_encode_invite(buf, sizeof buf, RMP_AM_OK, p->token, 0x22, "far"), &far_d);
  CHECK(p->state == RMP_AMS_JOINED && rmp_addr_equal(&p->data, &far_d));
  net_free(n);
}

/* Issue #16, finding 6: invitations answered on the control port only held
 * a participant slot for 60 s, so 31 INs a minute kept a session full. */
static void test_slots(void) {
  net *n = net_new(1.0);
  rmp_ams_config c = conf(0xA, "A");
  c.max_participants = 8;
  node *a = node_new(n, "10.0.0.1", 5004, &c, 0);
  uint8_t buf[RMP_AM_MAX_LEN];
  char name[16], ip[32];
  /* one host, 31 INs a minute, each with a new SSRC, never a data IN */
  rmp_addr evil = addr("10.6.0.1", 5004);
  size_t most = 0;
  for (int i = 0; i < 31; i++) {
    run_until(n, 2000.0 * i);
    snprintf(name, sizeof name, "e%d", i); /* not one session restarting: each its own */
    forge(n, a, RMP_AMS_CTRL, buf,
          rmp_am_encode_invite(buf, sizeof buf, RMP_AM_IN, 7u + (uint32_t)i, 0xE000u + (uint32_t)i, name), &evil);
    if (rmp_ams_live(&a->m) > most) most = rmp_ams_live(&a->m);
  }
  /* each held its slot 5 s after its IN: at most 3 at a time (every 2 s) */
  CHECK_INT(most, 3);
  CHECK_INT(a->sent_ok[RMP_AMS_CTRL], 31);
  /* a real session joins at once */
  node *b = add(n, "10.0.0.2", 5004, 0xB, "B", 0);
  invite(n, b, a);
  run_until(n, 60100);
  CHECK(joined_ssrc(a, 0xB) != NULL);
  run_until(n, 61000);
  CHECK_INT(rmp_ams_pending(&a->m), 2); /* those of 58000 and 60000 */
  run_until(n, 65000);
  CHECK_INT(rmp_ams_pending(&a->m), 0);
  /* as fast as the rate allows, from one host: no more than 4 at a time */
  long ok0 = a->sent_ok[RMP_AMS_CTRL];
  for (int i = 0; i < 100; i++) {
    snprintf(name, sizeof name, "f%d", i);
    forge(n, a, RMP_AMS_CTRL, buf,
          rmp_am_encode_invite(buf, sizeof buf, RMP_AM_IN, 100u + (uint32_t)i, 0xE100u + (uint32_t)i, name), &evil);
  }
  CHECK_INT(rmp_ams_pending(&a->m), RMP_AMS_DEF_PENDING_PER_HOST);
  CHECK_INT(a->sent_ok[RMP_AMS_CTRL] - ok0, RMP_AMS_DEF_PENDING_PER_HOST);
  CHECK_INT(a->m.st.invitations_dropped, 100 - RMP_AMS_DEF_PENDING_PER_HOST);
  /* and from many hosts (or forged ones): the session fills up ... */
  for (int i = 0; i < 6; i++) {
    snprintf(ip, sizeof ip, "10.7.0.%d", i + 1);
    rmp_addr h = addr(ip, 5004);
    forge(n, a, RMP_AMS_CTRL, buf,
          rmp_am_encode_invite(buf, sizeof buf, RMP_AM_IN, 200u + (uint32_t)i, 0xE200u + (uint32_t)i, "e"), &h);
  }
  CHECK_INT(rmp_ams_live(&a->m), 8);
  CHECK_INT(a->sent_no[RMP_AMS_CTRL], 0);
  /* ... but a real session still joins, in the slot of the oldest pending one */
  node *d = add(n, "10.0.0.4", 5004, 0xD, "D", 0);
  invite(n, d, a);
  run_until(n, 65100);
  CHECK(joined_ssrc(a, 0xD) != NULL);
  CHECK_INT(rmp_ams_live(&a->m), 8);
  CHECK_INT(rmp_ams_pending(&a->m), 6);
  /* what is left goes 5 s after its IN, without an event */
  int left = count_events(a, RMP_AMS_EV_LEFT);
  run_until(n, 65000 + RMP_AMS_DEF_PENDING_TIMEOUT - 1);
  CHECK_INT(rmp_ams_pending(&a->m), 6);
  run_until(n, 65000 + RMP_AMS_DEF_PENDING_TIMEOUT);
  CHECK_INT(rmp_ams_pending(&a->m), 0);
  CHECK_INT(rmp_ams_live(&a->m), 2);
  CHECK_INT(count_events(a, RMP_AMS_EV_LEFT), left);
  CHECK_INT(count_events(b, RMP_AMS_EV_LEFT) + count_events(d, RMP_AMS_EV_LEFT), 0);
  net_free(n);
}

/* Issue #16, finding 7: no answer to an IN is larger than the IN. Our name
 * is 64 octets of two-octet characters; INs with names of every length
 * come from as many hosts. */
static void test_amplification(void) {
  node nd;
  memset(&nd, 0, sizeof nd);
  char ours[RMP_AM_NAME_MAX + 1];
  for (int i = 0; i < RMP_AM_NAME_MAX; i += 2) memcpy(ours + i, "\xc3\xa9", 2); /* é */
  ours[RMP_AM_NAME_MAX] = '\0';
  rmp_ams_config c = base_config(&nd, 0xA, ours);
  c.invitations_per_second = 1e6;
  c.max_participants = 1000;
  CHECK_INT(rmp_ams_init(&nd.m, &c), 0);
  uint8_t buf[RMP_AM_MAX_LEN];
  char name[RMP_AM_NAME_MAX + 1], ip[32];
  int answers = 0, cut = 0;
  for (int len = -1; len <= RMP_AM_NAME_MAX; len++) {
    for (int port = 0; port < 2; port++) {
      memset(name, 'x', sizeof name);
      name[len < 0 ? 0 : len] = '\0';
      snprintf(ip, sizeof ip, "10.8.%d.%d", port, len + 2);
      rmp_addr from = addr(ip, (uint16_t)(5004 + port));
      int n = rmp_am_encode_invite(buf, sizeof buf, RMP_AM_IN, 1, 0x100u * (uint32_t)(port + 1) + (uint32_t)(len + 1),
                                   len < 0 ? NULL : name);
      rmp_ams_on_packet(&nd.m, 0, port, buf, (size_t)n, &from);
      rmp_ams_out o;
      while (rmp_ams_pop(&nd.m, &o)) {
        if (o.kind != RMP_AMS_SEND) continue;
        answers++;
        CHECK(o.len <= (size_t)n);
        rmp_am_packet pk;
        CHECK(rmp_am_parse(o.data, o.len, &pk) > 0);
        /* OK on the control port; NO to a data IN with nothing before it */
        CHECK_INT(pk.cmd, port == RMP_AMS_CTRL ? RMP_AM_OK : RMP_AM_NO);
        if (pk.cmd == RMP_AM_NO) CHECK(!pk.u.inv.has_name);
        if (pk.cmd != RMP_AM_OK) continue;
        /* our name, or the longest whole-character prefix that fits */
        size_t room = len < 0 ? 0 : (size_t)len;
        CHECK(len >= 0 ? pk.u.inv.has_name : !pk.u.inv.has_name);
        CHECK_INT(pk.u.inv.name_len, room & ~(size_t)1);
        CHECK(memcmp(pk.u.inv.name, ours, pk.u.inv.name_len) == 0);
        cut += pk.u.inv.name_len < RMP_AM_NAME_MAX;
      }
    }
  }
  CHECK_INT(answers, 2 * (RMP_AM_NAME_MAX + 2));
  CHECK_INT(cut, RMP_AM_NAME_MAX + 1);
  CHECK_INT(nd.m.st.invitations_refused, RMP_AM_NAME_MAX + 2);
  /* a NO for another version: no name either */
  rmp_addr v3 = addr("10.8.9.1", 5004);
  int n = rmp_am_encode_invite(buf, sizeof buf, RMP_AM_IN, 1, 0x999, NULL);
  buf[7] = 3;
  rmp_ams_on_packet(&nd.m, 0, RMP_AMS_CTRL, buf, (size_t)n, &v3);
  rmp_ams_out o;
  CHECK(rmp_ams_pop(&nd.m, &o) && o.len == RMP_AM_INVITE_LEN && o.data[2] == 'N');
  /* a peer whose data port says another SSRC than its control port joins
   * (the token of its invitation, from its host), the data port's SSRC an
   * alias of the control port's */
  rmp_addr qc = addr("10.8.10.1", 5004), qd = addr("10.8.10.1", 5005);
  n = rmp_am_encode_invite(buf, sizeof buf, RMP_AM_IN, 77, 0x5001, "q");
  rmp_ams_on_packet(&nd.m, 0, RMP_AMS_CTRL, buf, (size_t)n, &qc);
  n = rmp_am_encode_invite(buf, sizeof buf, RMP_AM_IN, 77, 0x5002, "q");
  rmp_ams_on_packet(&nd.m, 0, RMP_AMS_DATA, buf, (size_t)n, &qd);
  int joins = 0;
  while (rmp_ams_pop(&nd.m, &o)) {
    if (o.kind == RMP_AMS_EV_JOINED) {
      joins++;
      CHECK(o.peer->ssrc == 0x5001 && o.peer->have_alias && o.peer->alias_ssrc == 0x5002 && rmp_addr_equal(&o.peer->ctrl, &qc) && rmp_addr_equal(&o.peer->data, &qd));
    }
    if (o.kind == RMP_AMS_SEND) CHECK(o.len <= (size_t)n);
  }
  CHECK_INT(joins, 1);
  CHECK(rmp_ams_rtp_participant(&nd.m, 0, 0x5002, &qd) != NULL);
  /* a CK0 from it is answered with a CK1 of the same size */
  uint64_t ts[3] = {5, 0, 0};
  n = rmp_am_encode_ck(buf, sizeof buf, 0x5002, 0, ts);
  rmp_ams_on_packet(&nd.m, 0, RMP_AMS_DATA, buf, (size_t)n, &qd);
  CHECK(rmp_ams_pop(&nd.m, &o) && o.kind == RMP_AMS_SEND && o.len == (size_t)n && rmp_addr_equal(&o.to, &qd));
  while (rmp_ams_stop(&nd.m))
    while (rmp_ams_pop(&nd.m, &o)) {}
  while (rmp_ams_pop(&nd.m, &o)) {}
  rmp_ams_free(&nd.m);
  CHECK_INT(nd.allocs, nd.releases);
}

int main(void) {
  test_defaults();
  test_invitation_lost_twice();
  test_ck();
  test_silent_participant();
  test_restarted_peer();
  test_rejected();
  test_bye();
  test_limits();
  test_malformed();
  test_rtp_and_rs();
  test_rs_forms();
  test_forged_feedback_with_our_ssrc();
  test_forged_ck_cannot_flip_order();
  test_feedback_on_data_port();
  test_data_ssrc_alias();
  test_ck_host_byte_order();
  test_invite_timeout();
  test_outbox_rounds();
  test_hijack();
  test_forged_answers();
  test_slots();
  test_amplification();
  return check_report();
}
