/* An AppleMIDI session on libuv: the pump around the protocol machine of
 * csrc/proto/am_session.h. It owns the control port P and the data port
 * P+1 (two endpoints, endpoint.h), one timer driven by the machine's and
 * the MIDI stream's deadlines, and host-name resolution for invitations;
 * after every call into the machine it drains the outbox: datagrams go to
 * the endpoints, events become the session's callbacks. Every protocol
 * decision (invitations, retries, CK, RS, BY, timeouts, limits) is the
 * machine's. The MIDI payload is in applemidi_midi.c.
 *
 * Lifetime: a participant is an ap_peer, made for the machine and released
 * by it; released ones are freed by the sweep when the last callback left
 * the session (busy == 0). The session itself is freed once it is freed by
 * its owner, no callback is running and every handle went through its close
 * callback. */
#include "applemidi_internal.h"
#include "slack.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEF_GUARD 50.0
#define DEF_MAX_SYSEX (1u << 20)
#define DEF_JOURNAL_HISTORY 512u
#define MAX_JOURNAL_HISTORY 32767u


/* ---- lifetime ---- */

static void free_peer(ap_peer *p) {
  rmc_ap_peer_media_free(p);
  free(p->invited_as);
  free(p);
}

static void sweep(rtpmidi_apple *a) {
  for (ap_peer **pp = &a->peers; *pp;) {
    ap_peer *p = *pp;
    if (p->released) {
      *pp = p->next;
      free_peer(p);
    } else {
      pp = &p->next;
    }
  }
}

static void release(rtpmidi_apple *a) {
  if (!a->freed || a->open_handles || a->busy) return;
  rmc_runtime_leave(&a->member);
  rmp_ams_free(&a->m);
  while (a->peers) {
    ap_peer *p = a->peers;
    a->peers = p->next;
    free_peer(p);
  }
  free(a->accept);
  free(a->name);
  free(a->bind_address);
  rmc_ap_midi_free(a);
  free(a);
}

static void schedule(rtpmidi_apple *a);

static void enter(rtpmidi_apple *a) { a->busy++; }

static void leave(rtpmidi_apple *a) {
  if (--a->busy) return;
  sweep(a);
  if (a->freed) {
    release(a);
    return;
  }
  schedule(a);
}

static void on_handle_closed(void *owner) {
  rtpmidi_apple *a = owner;
  a->open_handles--;
  release(a);
}

static rmc_owned_handle *new_handle(rtpmidi_apple *a) { return rmc_owned_handle_new(a, on_handle_closed); }
static void close_handle(rmc_owned_handle **slot) { rmc_owned_handle_close(slot); }

static void close_endpoint(rtpmidi_apple *a, rmc_endpoint **ep) {
  a->send_errors += rmc_endpoint_send_errors(*ep);
  rmc_endpoint_close(*ep);
  *ep = NULL;
}

/* ---- the machine's memory and randomness ---- */

static rmp_ams_peer *peer_alloc(void *ud) {
  rtpmidi_apple *a = ud;
  ap_peer *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->state = AP_PENDING;
  rmc_ap_peer_media_init(p);
  p->media.recovery = a->cfg.recovery;
  p->next = a->peers;
  a->peers = p;
  return &p->mp;
}

static void peer_release(void *ud, rmp_ams_peer *mp) {
  (void)ud;
  ap_peer *p = AP_PEER(mp);
  p->state = AP_DEAD;
  p->released = true;
}

static uint32_t draw(void *ud) {
  (void)ud;
  uint32_t x;
  rmc_random(&x, sizeof x);
  return x;
}

/* ---- participants ---- */

/* p->addr follows the machine's control address of p. */
static void refresh_addr(ap_peer *p) {
  if (p->addr[0] && rmp_addr_equal(&p->addr_of, &p->mp.ctrl)) return;
  p->addr_of = p->mp.ctrl;
  rmc_addr_text(&p->mp.ctrl, p->addr, sizeof p->addr);
}


/* ---- the pump ---- */

/* Drains the machine's outbox: datagrams to the endpoints, events to the
 * callbacks (which may call back into the session: what they make is
 * drained by their own pump, in order). */
static void pump(rtpmidi_apple *a) {
  rmp_ams_out o;
  while (rmp_ams_pop(&a->m, &o)) {
    ap_peer *p = o.peer ? AP_PEER(o.peer) : NULL;
    if (p) refresh_addr(p);
    rtpmidi_apple_peer info;
    switch (o.kind) {
    case RMP_AMS_SEND:
      /* a failure is the endpoint's to count (send_errors) */
      rmc_endpoint_send(o.port == RMP_AMS_DATA ? a->data : a->ctrl, o.data, o.len, &o.to);
      break;
    case RMP_AMS_EV_JOINED:
      p->state = AP_CONNECTED;
      if (a->ev.on_joined) {
        rmc_ap_fill_peer(p, &info);
        a->ev.on_joined(a->ud, &info);
      }
      break;
    case RMP_AMS_EV_LEFT:
      /* what it sent before its BY and still waits for reordering plays first */
      if (o.reason == RMP_AMS_BYE && p->state == AP_CONNECTED) rmc_ap_media_drain(a, p);
      /* and what it left sounding is released on our side; not when our
       * own session stops: nothing is delivered after a stop (its owner
       * ends its outputs, as MidiOut does when its session goes) */
      if (p->state == AP_CONNECTED && o.reason != RMP_AMS_STOPPED) rmc_ap_media_release(a, p);
      p->state = AP_DEAD;
      if (a->ev.on_left) {
        rmc_ap_fill_peer(p, &info);
        a->ev.on_left(a->ud, &info, rmp_ams_reason_name(o.reason));
      }
      break;
    case RMP_AMS_EV_SYNCED:
      if (p->state == AP_CONNECTED && a->ev.on_synced) {
        rmc_ap_fill_peer(p, &info);
        a->ev.on_synced(a->ud, &info);
      }
      break;
    case RMP_AMS_EV_INVITE_FAILED:
      if (a->ev.on_invite_failed)
        a->ev.on_invite_failed(a->ud, p->addr, p->mp.ctrl.port, rmp_ams_reason_name(o.reason));
      break;
    case RMP_AMS_EV_ACK:
      if (p->state != AP_CONNECTED) break;
      rmc_ap_on_rs(a, p, o.seq, o.raw);
      break;
    }
  }
}

/* The joined participant an RTP packet from `from` with this SSRC belongs
 * to (the machine decides, and counts the others), or NULL. */
static ap_peer *rtp_peer(rtpmidi_apple *a, uint32_t ssrc, const rmp_addr *from) {
  rmp_ams_peer *mp = rmp_ams_rtp_participant(&a->m, rmc_ap_now(), ssrc, from);
  if (!mp) return NULL;
  ap_peer *p = AP_PEER(mp);
  if (p->state != AP_CONNECTED) return NULL;
  refresh_addr(p);
  return p;
}

/* The media layer accepted p's RTP packet seq: RS reports it. */
static void rtp_accepted(rtpmidi_apple *a, ap_peer *p, uint16_t seq) {
  rmp_ams_rtp_received(&a->m, &p->mp, rmc_ap_now(), seq);
}

/* ---- the endpoints and the timer ---- */

/* A BY from where a participant with its SSRC joined: only then is the data
 * port read ahead of the loop (anyone can send FF FF 'B' 'Y'; the machine
 * decides what the BY does). */
static bool bye_from_participant(const rtpmidi_apple *a, const uint8_t *buf, size_t len,
                                 const rmp_addr *from) {
  rmp_am_packet pk;
  if (len < 4 || buf[2] != 'B' || buf[3] != 'Y' || rmp_am_parse(buf, len, &pk) < 0 || pk.cmd != RMP_AM_BY)
    return false;
  for (const rmp_ams_peer *mp = a->m.peers; mp; mp = mp->next)
    if (mp->have_ssrc && mp->ssrc == pk.u.by.ssrc && rmp_addr_equal(&mp->ctrl, from)) return true;
  return false;
}

static void on_recv(void *owner, rmc_endpoint *ep, const uint8_t *buf, size_t len, const rmp_addr *from) {
  rtpmidi_apple *a = owner;
  bool data = ep == a->data;
  enter(a);
  if (data && len >= 1 && (buf[0] & 0xC0) == 0x80) {
    rmp_rtp_header h;
    ap_peer *p;
    if (rmp_rtp_parse(buf, len, &h) < 0) a->st.malformed++;
    else if ((p = rtp_peer(a, h.ssrc, from))) rmc_ap_on_rtp(a, p, buf, &h);
  } else {
    /* A BY on the control port may overtake the participant's last MIDI,
     * sent before it on the data port (two sockets: the loop reads them in
     * any order). What already waits on the data port is read first, so
     * those notes play before the participant leaves. */
    if (!data && bye_from_participant(a, buf, len, from)) rmc_endpoint_read_pending(a->data, 64);
    rmp_ams_on_packet(&a->m, rmc_ap_now(), data ? RMP_AMS_DATA : RMP_AMS_CTRL, buf, len, from);
    pump(a);
  }
  leave(a);
}

/* ICMP errors are not acted on yet: a participant that went away times out. */
static const rmc_endpoint_ops ENDPOINT_OPS = {on_recv, NULL};

static void on_timer(uv_timer_t *h) {
  rmc_owned_handle *u = h->data;
  rtpmidi_apple *a = u->owner;
  enter(a);
  double now = rmc_ap_now();
  unsigned gen = a->gen;
  while (rmp_ams_tick(&a->m, now) && gen == a->gen) pump(a);
  pump(a);
  for (ap_peer *p = a->peers; p && gen == a->gen; p = p->next)
    if (p->state == AP_CONNECTED) rmc_ap_service_media(a, p, now);
  leave(a);
}

static uint64_t wait_ms(double due, double now) {
  double wait = due - now;
  return wait <= 0 ? 0 : (uint64_t)ceil(wait);
}

/* One timer for the machine's deadlines and every participant's media.
 * The machine's lenient ones (timeouts, CK, RS) may run a little late and
 * share wakeups with other sessions' (slack.h); invitations, guard packets
 * and the jitter buffer are served on time. */
static void schedule(rtpmidi_apple *a) {
  if (!a->timer || a->busy) return;
  double due, upkeep;
  rmp_ams_next_deadline(&a->m, &due, &upkeep);
  for (ap_peer *p = a->peers; p; p = p->next) {
    if (p->state != AP_CONNECTED) continue;
    double d = rmc_ap_media_deadline(p);
    if (d < due) due = d;
  }
  if (due == INFINITY && upkeep == INFINITY) {
    uv_timer_stop(&a->timer->u.timer);
    return;
  }
  double now = rmc_ap_now();
  uint64_t ms = UINT64_MAX;
  if (due != INFINITY) ms = wait_ms(due, now);
  if (upkeep != INFINITY) {
    /* from the loop's clock, which may lag ours: late, never early */
    uv_loop_t *loop = a->rt->loop;
    uint64_t m = rmc_slack_ms(loop, wait_ms(upkeep, (double)uv_now(loop)));
    if (m < ms) ms = m;
  }
  uv_timer_start(&a->timer->u.timer, on_timer, ms, 0);
}

/* A flush of the media layer sent packets: guards are due from now. */
static void flushed(rtpmidi_apple *a) {
  if (!a->busy) schedule(a);
}

/* ---- the public API ---- */

/* rtpmidi_runtime_free (runtime.h): no callbacks, then stopped (BY to
 * every participant) with every handle closed, for good. */
static void apple_close(void *owner) {
  rtpmidi_apple *a = owner;
  rtpmidi_apple_stop(a);
  rmc_ap_midi_free(a); /* the flusher's handles close; release does it again, harmlessly */
  a->inert = true;
}

int rmc_apple_new(rtpmidi_runtime *rt, const rtpmidi_apple_config *cfg,
                  const rtpmidi_apple_events *ev, void *ud, rtpmidi_apple **out,
                  const char **err) {
  static const char *dummy;
  if (!err) err = &dummy;
  *err = NULL;
  if (cfg->port < 0 || cfg->port > 65534) { *err = "port"; return UV_EINVAL; }
  if (cfg->accept > RTPMIDI_APPLE_ACCEPT_LIST) { *err = "accept"; return UV_EINVAL; }
  if (cfg->accept == RTPMIDI_APPLE_ACCEPT_LIST && cfg->accept_count && !cfg->accept_list) {
    *err = "accept";
    return UV_EINVAL;
  }
  if (cfg->bind_address && !rmc_bind_reach(cfg->bind_address)) { *err = "bind_address"; return UV_EINVAL; }
  if (cfg->invite_tries < 0) { *err = "invite_tries"; return UV_EINVAL; }
  if (cfg->ck_fast_count < 0) { *err = "ck_fast_count"; return UV_EINVAL; }
  if (!(cfg->jitter_buffer_ms >= 0) || cfg->jitter_buffer_ms > 10000) { *err = "jitter_buffer_size"; return UV_EINVAL; }
  if (!(cfg->invite_interval_ms >= 0) || !(cfg->ck_fast_interval_ms >= 0) || !(cfg->ck_interval_ms >= 0) ||
      !(cfg->timeout_ms >= 0) || !(cfg->rs_interval_ms >= 0) || !(cfg->guard_ms >= 0)) {
    *err = "interval";
    return UV_EINVAL;
  }
  if (!(cfg->invitations_per_second >= 0) || cfg->invitations_per_second > 1e6) {
    *err = "invitations_per_second";
    return UV_EINVAL;
  }
  if (cfg->journal_history > MAX_JOURNAL_HISTORY) { *err = "journal_history"; return UV_EINVAL; }
  if (cfg->jitter_buffer_packets == 1 || cfg->jitter_buffer_packets > AP_JB_MAX_CAPACITY) {
    *err = "jitter_buffer_packets";
    return UV_EINVAL;
  }
  if (cfg->payload_budget && (cfg->payload_budget < RMP_CMD_MIN_BUDGET || cfg->payload_budget > 1200)) {
    *err = "payload_budget";
    return UV_EINVAL;
  }
  size_t naccept = cfg->accept == RTPMIDI_APPLE_ACCEPT_LIST ? cfg->accept_count : 0;
  rmp_addr probe;
  for (size_t i = 0; i < naccept; i++)
    if (!cfg->accept_list[i] || rmc_addr_parse(cfg->accept_list[i], 0, &probe)) {
      *err = "accept";
      return UV_EINVAL;
    }
  rtpmidi_apple *a = calloc(1, sizeof *a);
  if (!a) return UV_ENOMEM;
  a->rt = rt;
  a->cfg = *cfg;
  /* The MIDI stream's defaults; the protocol's are the machine's. */
  rtpmidi_apple_config *c = &a->cfg;
  if (!c->guard_ms) c->guard_ms = DEF_GUARD;
  if (!c->payload_budget) c->payload_budget = RMP_CMD_DEFAULT_BUDGET;
  if (!c->max_sysex) c->max_sysex = DEF_MAX_SYSEX;
  if (!c->journal_history) c->journal_history = DEF_JOURNAL_HISTORY;
  if (!c->jitter_buffer_packets) c->jitter_buffer_packets = AP_JB_CAPACITY;
  a->name = strdup(cfg->name ? cfg->name : "rtpmidi");
  a->bind_address = cfg->bind_address ? strdup(cfg->bind_address) : NULL;
  c->name = a->name;
  c->bind_address = a->bind_address;
  c->accept_list = NULL;
  c->accept_count = naccept;
  bool oom = !a->name || (cfg->bind_address && !a->bind_address);
  if (!oom && naccept) {
    /* IP literals (checked above) */
    a->accept = calloc(naccept, sizeof *a->accept);
    oom = !a->accept;
    for (size_t i = 0; !oom && i < naccept; i++) rmc_addr_parse(cfg->accept_list[i], 0, &a->accept[i]);
  }
  a->ssrc = cfg->ssrc;
  while (!a->ssrc) rmc_random(&a->ssrc, sizeof a->ssrc);
  rmp_ams_config mc = {
    .ssrc = a->ssrc,
    .name = a->name,
    .invite_tries = cfg->invite_tries,
    .invite_interval_ms = cfg->invite_interval_ms,
    .ck_fast_count = cfg->ck_fast_count,
    .ck_fast_interval_ms = cfg->ck_fast_interval_ms,
    .ck_interval_ms = cfg->ck_interval_ms,
    .timeout_ms = cfg->timeout_ms,
    .rs_interval_ms = cfg->rs_interval_ms,
    .reinvite = cfg->reinvite,
    .max_participants = cfg->max_participants,
    .invitations_per_second = cfg->invitations_per_second,
    .accept = (rmp_ams_accept)cfg->accept,
    .accept_list = a->accept,
    .accept_count = naccept,
    .alloc = peer_alloc,
    .release = peer_release,
    .random = draw,
    .ud = a,
  };
  rmp_ams_init(&a->m, &mc);
  rmc_ap_midi_init(a, rtp_accepted, flushed);
  if (oom) {
    a->freed = true;
    release(a);
    return UV_ENOMEM;
  }
  if (ev) a->ev = *ev;
  a->ud = ud;
  rmc_runtime_join(rt, &a->member, a, &a->ev, sizeof a->ev, &a->freed, apple_close);
  *out = a;
  return 0;
}

int rtpmidi_apple_start(rtpmidi_apple *a) {
  if (a->inert) return UV_ENOTCONN;
  if (a->freed) return UV_EINVAL;
  if (a->started) return 0;
  int r = UV_EADDRINUSE;
  for (int attempt = 0; attempt < (a->cfg.port ? 1 : 64); attempt++) {
    int port = a->cfg.port;
    if (!port) {
      uint16_t rnd;
      rmc_random(&rnd, sizeof rnd);
      port = 20000 + 2 * (rnd % 20000);
    }
    r = rmc_endpoint_open(a->rt, a->bind_address, RMP_AF_NONE, port, &ENDPOINT_OPS, a, &a->ctrl);
    if (!r) {
      port = rmc_endpoint_port(a->ctrl);
      r = port > 0 && port < 65535
            ? rmc_endpoint_open(a->rt, a->bind_address, rmc_endpoint_family(a->ctrl), port + 1,
                                &ENDPOINT_OPS, a, &a->data)
            : UV_EADDRINUSE;
      if (r) close_endpoint(a, &a->ctrl);
    }
    if (!r) {
      a->port = port;
      break;
    }
    if (r != UV_EADDRINUSE) break;
  }
  if (r) return r;
  a->timer = new_handle(a);
  if (!a->timer) {
    close_endpoint(a, &a->ctrl);
    close_endpoint(a, &a->data);
    return UV_ENOMEM;
  }
  uv_timer_init(a->rt->loop, &a->timer->u.timer);
  a->open_handles++;
  a->started = true;
  a->st.port = a->port;
  a->discovery = rmc_ap_discovery_start(a);
  return 0;
}

static void cancel_resolves(rtpmidi_apple *a);

void rtpmidi_apple_stop(rtpmidi_apple *a) {
  if (!a->started || a->stopping) return;
  enter(a);
  a->stopping = true;
  rmc_ap_midi_stop(a);
  cancel_resolves(a);
  a->gen++;
  /* BY to every participant (on_left "stopped"); no invitation starts meanwhile */
  while (rmp_ams_stop(&a->m)) pump(a);
  pump(a);
  /* Its BYs, and whatever a burst being delivered queued, leave before the
   * sockets close. */
  rmc_sendq_flush(a->rt);
  if (a->discovery) {
    rmc_ap_discovery_stop(a->discovery);
    a->discovery = NULL;
  }
  a->started = false;
  a->stopping = false;
  a->port = 0;
  a->st.port = 0;
  close_endpoint(a, &a->ctrl);
  close_endpoint(a, &a->data);
  close_handle(&a->timer);
  leave(a);
}

bool rtpmidi_apple_started(const rtpmidi_apple *a) { return a->started; }
int rtpmidi_apple_port(const rtpmidi_apple *a) { return a->port; }

/* Starts an invitation to `ctrl` (found by the host name `as`, or NULL for
 * an address); 0 or UV_ENOMEM (no room or memory). */
static int start_invite(rtpmidi_apple *a, const rmp_addr *ctrl, const char *as) {
  enter(a);
  rmp_ams_peer *p = rmp_ams_invite(&a->m, rmc_ap_now(), ctrl);
  /* the name tells the caller which invitation a participant answered:
   * two hosts may share a port, and a name may have several addresses
   * (without memory for it the participant is simply not named) */
  if (p && as) AP_PEER(p)->invited_as = strdup(as);
  pump(a);
  leave(a);
  return p ? 0 : UV_ENOMEM;
}

/* An invitation to a host name, waiting for its address (uv_getaddrinfo,
 * off the loop). The session stays allocated until every callback came
 * (open_handles); a stop cancels what it can and forgets the rest. Each
 * holds a participant slot meanwhile (rmp_ams_reserve). */
typedef struct ap_resolve {
  uv_getaddrinfo_t req;
  rtpmidi_apple *owner;
  struct ap_resolve *next;
  unsigned gen;     /* the session's stop count when asked */
  int port;
  char host[];
} ap_resolve;

static void set_resolving(rtpmidi_apple *a, size_t n) {
  a->nresolving = n;
  rmp_ams_reserve(&a->m, n);
}

static void unlink_resolve(rtpmidi_apple *a, ap_resolve *q) {
  for (ap_resolve **pp = &a->resolving; *pp; pp = &(*pp)->next) {
    if (*pp == q) {
      *pp = q->next;
      set_resolving(a, a->nresolving - 1);
      return;
    }
  }
}

static void on_invite_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  ap_resolve *q = req->data;
  rtpmidi_apple *a = q->owner;
  a->open_handles--;
  unlink_resolve(a, q);
  if (!a->freed && a->started && !a->stopping && q->gen == a->gen) {
    enter(a);
    rmp_addr to;
    bool pick = status == 0 && rmc_pick_addr(res, rmc_endpoint_reach(a->ctrl), &to) == 0;
    if (pick) to.port = (uint16_t)q->port;
    if (!pick || start_invite(a, &to, q->host) != 0) {
      if (a->ev.on_invite_failed) a->ev.on_invite_failed(a->ud, q->host, q->port, pick ? "no memory" : "unresolved");
    }
    leave(a);
  }
  uv_freeaddrinfo(res);
  free(q);
  release(a);
}

/* Cancels the resolutions a stop leaves behind (their callbacks still come,
 * as UV_ECANCELED or late, and find the session stopped). */
static void cancel_resolves(rtpmidi_apple *a) {
  for (ap_resolve *q = a->resolving; q; q = q->next) uv_cancel((uv_req_t *)&q->req);
  a->resolving = NULL;
  set_resolving(a, 0);
}

int rtpmidi_apple_invite(rtpmidi_apple *a, const char *address, int port) {
  if (!a->started || a->stopping) return UV_ENOTCONN;
  if (!address || !*address || port < 1 || port > 65534) return UV_EINVAL;
  if (rmp_ams_live(&a->m) >= a->m.cfg.max_participants) return UV_ENOBUFS;
  rmp_addr ctrl;
  if (rmc_addr_parse(address, (uint16_t)port, &ctrl) == 0) {
    if (!rmc_reaches(rmc_endpoint_reach(a->ctrl), &ctrl)) return UV_EAFNOSUPPORT;
    return start_invite(a, &ctrl, NULL);
  }
  /* A host name: its address comes later, the outcome as ever through
   * on_joined or on_invite_failed ("unresolved"). Letters, digits, '-',
   * '_' and '.' only (IP literals were read above). */
  size_t n = strlen(address);
  if (n > 253) return UV_EINVAL;
  for (size_t i = 0; i < n; i++) {
    char c = address[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.';
    if (!ok) return UV_EINVAL;
  }
  ap_resolve *q = calloc(1, sizeof *q + n + 1);
  if (!q) return UV_ENOMEM;
  memcpy(q->host, address, n + 1);
  q->owner = a;
  q->gen = a->gen;
  q->port = port;
  q->req.data = q;
  int r = rmc_resolve_host(a->rt->loop, &q->req, on_invite_resolved, q->host, rmc_endpoint_reach(a->ctrl));
  if (r) {
    free(q);
    return r;
  }
  q->next = a->resolving;
  a->resolving = q;
  set_resolving(a, a->nresolving + 1);
  a->open_handles++;
  return 0;
}

int rtpmidi_apple_disconnect(rtpmidi_apple *a, uint32_t id) {
  rmp_ams_peer *p = rmp_ams_find(&a->m, id);
  if (!p) return UV_ENOENT;
  enter(a);
  rmp_ams_disconnect(&a->m, p);
  pump(a);
  leave(a);
  return 0;
}

int rtpmidi_apple_set_recovery(rtpmidi_apple *a, uint32_t id, bool recovery) {
  rmp_ams_peer *mp = rmp_ams_find(&a->m, id);
  if (!mp) return UV_ENOENT;
  rmc_ap_set_recovery(AP_PEER(mp), recovery);
  return 0;
}

size_t rtpmidi_apple_participants(rtpmidi_apple *a, rtpmidi_apple_peer *out, size_t n) {
  size_t k = 0;
  for (ap_peer *p = a->peers; p; p = p->next) {
    if (p->state != AP_CONNECTED) continue;
    if (k < n) {
      refresh_addr(p);
      rmc_ap_fill_peer(p, &out[k]);
    }
    k++;
  }
  return k;
}

void rtpmidi_apple_get_stats(const rtpmidi_apple *a, rtpmidi_apple_stats *st) {
  const rmp_ams_stats *ms = &a->m.st;
  *st = a->st;
  st->ssrc = a->ssrc;
  st->control_sent = ms->control_sent;
  st->control_received = ms->control_received;
  st->rs_sent = ms->rs_sent;
  st->rs_received = ms->rs_received;
  st->ck_exchanges = ms->ck_exchanges;
  st->invitations_refused = ms->invitations_refused;
  st->invitations_dropped = ms->invitations_dropped;
  st->bad_signature = ms->bad_signature;
  st->unknown_command = ms->unknown_command;
  st->bad_name = ms->bad_name;
  /* the RTP side counts its own malformed packets; SSRCs are the machine's */
  st->malformed += ms->malformed;
  st->unknown_ssrc = ms->unknown_ssrc;
  st->foreign = ms->foreign;
  st->unsolicited += ms->unsolicited;
  st->ck_impossible = ms->ck_impossible;
  st->timestamps_swapped = ms->ts_swapped;
  st->pending = rmp_ams_pending(&a->m);
  st->send_errors = a->send_errors + rmc_endpoint_send_errors(a->ctrl) + rmc_endpoint_send_errors(a->data);
  rmc_ap_midi_stats(a, st);
}

void rtpmidi_apple_free(rtpmidi_apple *a) {
  if (!a || a->freed) return;
  rtpmidi_apple_stop(a);
  a->freed = true;
  memset(&a->ev, 0, sizeof a->ev);
  release(a);
}
