/* Network MIDI 2.0 sessions on the runtime (rtpmidi.h): a thin pump around
 * the socket-free machine of csrc/proto/midi2_session.h. One UDP endpoint
 * (endpoint.h) brings datagrams to rmp_m2s_on_packet, one uv timer calls
 * rmp_m2s_tick at rmp_m2s_next_deadline, and after each of those (and each
 * call of the API) the machine's outbox goes to the socket and its events
 * to the callbacks. SHA-256 comes from libcrypto, nonces from the system.
 *
 * Lifetime: callbacks may stop, restart or free the session. While one runs
 * (busy > 0) a free only marks it; the last callback to return frees it.
 * The timer is its own allocation, closed and freed by libuv. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discovery.h"
#include "endpoint.h"
#include "midi_bytes.h"
#include "midi2_session.h"
#include "rtpmidi.h"
#include "runtime.h"
#include "ump.h"

#define MAX_SESSIONS RMP_M2S_MAX_PEERS
#define DEFAULT_MAX_SYSEX (1u << 20)

typedef struct m2_timer {
  uv_timer_t t;
  rtpmidi_midi2 *owner; /* NULL once the session let go */
} m2_timer;

/* A session that joined: what its callbacks show after the machine forgot
 * it, and the SysEx being reassembled from it. */
typedef struct m2_known {
  bool used, initiator;
  uint32_t id;
  rmp_addr addr;
  char name[RMP_M2_NAME_MAX + 1], piid[RMP_M2_PIID_MAX + 1];
  uint8_t *sx;
  size_t sx_len, sx_cap;
  bool sx_open;
} m2_known;

/* An invitation waiting for a host name's address. */
typedef struct m2_resolve {
  struct m2_resolve *next;
  uv_getaddrinfo_t req;
  rtpmidi_midi2 *owner; /* NULL once the session stopped */
  char *host, *secret, *user, *password;
  int port;
} m2_resolve;

struct rtpmidi_midi2 {
  rtpmidi_runtime *rt;
  rtpmidi_midi2_events ev;
  void *ud;
  char *name, *piid, *bind_address, *secret;
  rmp_m2s_user users[RMP_M2S_MAX_USERS];
  size_t n_users;
  int port;
  size_t max_sysex;
  rmp_m2s_config mc;
  rmp_m2s *m;
  rmc_endpoint *ep;
  m2_timer *timer;
  bool started, freed;
  bool inert;           /* rt was freed: stopped for good */
  bool dispatching;     /* a pump is giving out events (pump) */
  rmc_member member;    /* in rt's list until released (runtime.h) */
  unsigned busy;
  m2_known known[MAX_SESSIONS];
  m2_resolve *resolving;
  rmc_discovery *discovery; /* _midi2._udp while started (discovery.h) */
  uint64_t ump_sent, ump_received, sysex_dropped, send_errors;
};

/* ---- helpers ---- */

static uint64_t now_us(void) { return (uint64_t)(rtpmidi_now_ms() * 1000.0); }

static int sha256(void *ctx, const uint8_t *data, size_t len, uint8_t out[32]) {
  (void)ctx;
  unsigned n = 0;
  return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 && n == 32 ? 0 : -1;
}

static int random_bytes(void *ctx, uint8_t *out, size_t n) {
  (void)ctx;
  rmc_random(out, n);
  return 0;
}

static m2_known *known_by_id(rtpmidi_midi2 *m, uint32_t id) {
  for (int i = 0; i < MAX_SESSIONS; i++)
    if (m->known[i].used && m->known[i].id == id) return &m->known[i];
  return NULL;
}

static void forget(m2_known *k) {
  free(k->sx);
  memset(k, 0, sizeof *k);
}

/* Fills p from k; text holds the address (RMP_ADDR_TEXT). */
static void fill_peer(rtpmidi_midi2 *m, const m2_known *k, rtpmidi_midi2_peer *p, char *text) {
  rmc_addr_text(&k->addr, text, RMP_ADDR_TEXT);
  p->id = k->id;
  p->name = k->name;
  p->product_instance_id = k->piid;
  p->address = text;
  p->port = k->addr.port;
  p->initiator = k->initiator;
  p->rtt_ms = 0;
  rmp_m2s_peer_info pi;
  if (m->m && rmp_m2s_peer_get(m->m, k->id, &pi) == 0) p->rtt_ms = (double)pi.rtt / 1000.0;
}

/* ---- lifetime ---- */

static void release(rtpmidi_midi2 *m) {
  if (!m->freed || m->busy) return;
  rmc_runtime_leave(&m->member);
  for (int i = 0; i < MAX_SESSIONS; i++) forget(&m->known[i]);
  free(m->name);
  free(m->piid);
  free(m->bind_address);
  free(m->secret);
  for (size_t i = 0; i < m->n_users; i++) {
    free((char *)m->users[i].name);
    free((char *)m->users[i].password);
  }
  free(m->m);
  free(m);
}

static void schedule(rtpmidi_midi2 *m);
static void enter(rtpmidi_midi2 *m) { m->busy++; }
static void leave(rtpmidi_midi2 *m) {
  if (--m->busy) return;
  if (m->freed) {
    release(m);
    return;
  }
  schedule(m);
}

static void on_timer_closed(uv_handle_t *h) { free(h->data); }

static void close_timer(rtpmidi_midi2 *m) {
  m2_timer *t = m->timer;
  if (!t) return;
  m->timer = NULL;
  t->owner = NULL;
  uv_timer_stop(&t->t);
  uv_close((uv_handle_t *)&t->t, on_timer_closed);
}

/* ---- the pump ---- */

static void flush_out(rtpmidi_midi2 *m) {
  rmp_m2s_dgram d;
  while (rmp_m2s_pop_datagram(m->m, &d)) {
    if (!m->ep) continue; /* stopped: nothing leaves */
    if (rmc_endpoint_send(m->ep, d.buf, d.len, &d.to) < 0) m->send_errors++;
  }
}

static const char *left_reason(int cause) {
  switch (cause) {
  case RMP_M2S_LEFT_BYE: return "bye";
  case RMP_M2S_LEFT_LOCAL: return "disconnected";
  case RMP_M2S_LEFT_TIMEOUT: return "timeout";
  case RMP_M2S_LEFT_INVITE_FAILED: return "timeout";
  case RMP_M2S_LEFT_AUTH_FAILED: return "auth_failed";
  default: return "refused";
  }
}

/* One complete MIDI 1.0 message to on_midi. */
static void midi_out(rtpmidi_midi2 *m, const m2_known *k, const uint8_t *b, size_t n, double t, bool rec) {
  if (!m->ev.on_midi || n == 0) return;
  rtpmidi_midi2_peer p;
  char text[RMP_ADDR_TEXT];
  fill_peer(m, k, &p, text);
  m->ev.on_midi(m->ud, &p, b, n, t, rec);
}

/* SysEx7 packets of k reassembled (F0 ... F7), within max_sysex. */
static void sysex_in(rtpmidi_midi2 *m, m2_known *k, const uint32_t *w, double t, bool rec) {
  uint8_t b[8];
  int n = rmp_ump_to_midi1(w, 2, b, sizeof b);
  if (n <= 0) return;
  unsigned st = (w[0] >> 20) & 0xF;
  if (st == RMP_UMP_SX_COMPLETE) {
    k->sx_open = false;
    midi_out(m, k, b, (size_t)n, t, rec);
    return;
  }
  if (st == RMP_UMP_SX_START) {
    k->sx_len = 0;
    k->sx_open = true;
  } else if (!k->sx_open) {
    m->sysex_dropped += st == RMP_UMP_SX_END; /* the rest of one we did not see start */
    return;
  }
  if (k->sx_len + (size_t)n > m->max_sysex) {
    k->sx_open = false;
    m->sysex_dropped++;
    return;
  }
  if (k->sx_len + (size_t)n > k->sx_cap) {
    size_t cap = k->sx_cap ? k->sx_cap * 2 : 256;
    while (cap < k->sx_len + (size_t)n) cap *= 2;
    if (cap > m->max_sysex) cap = m->max_sysex;
    uint8_t *nb = realloc(k->sx, cap);
    if (!nb) {
      k->sx_open = false;
      m->sysex_dropped++;
      return;
    }
    k->sx = nb;
    k->sx_cap = cap;
  }
  memcpy(k->sx + k->sx_len, b, (size_t)n);
  k->sx_len += (size_t)n;
  if (st == RMP_UMP_SX_END) {
    k->sx_open = false;
    midi_out(m, k, k->sx, k->sx_len, t, rec);
  }
}

/* The MIDI 1.0 form of one UMP message, to on_midi. */
static void midi_in(rtpmidi_midi2 *m, m2_known *k, const uint32_t *w, unsigned len, double t, bool rec) {
  uint8_t b[RMP_UMP_MIDI1_MAX];
  switch (rmp_ump_type(w[0])) {
  case RMP_UMP_MT_SYSTEM:
  case RMP_UMP_MT_MIDI1: {
    int n = rmp_ump_to_midi1(w, len, b, sizeof b);
    if (n > 0) midi_out(m, k, b, (size_t)n, t, rec);
    return;
  }
  case RMP_UMP_MT_MIDI2: {
    uint32_t d[4];
    int kd = rmp_ump_downgrade_msg(w, d);
    for (int i = 0; i < kd && !m->freed; i++) {
      int n = rmp_ump_to_midi1(&d[i], 1, b, sizeof b);
      if (n > 0) midi_out(m, k, b, (size_t)n, t, rec);
    }
    return;
  }
  case RMP_UMP_MT_DATA64:
    sysex_in(m, k, w, t, rec);
    return;
  default:
    return; /* no MIDI 1.0 form */
  }
}

static void dispatch(rtpmidi_midi2 *m, const rmp_m2s_event *e) {
  char text[RMP_ADDR_TEXT];
  rtpmidi_midi2_peer p;
  switch (e->type) {
  case RMP_M2S_EV_JOINED: {
    rmp_m2s_peer_info pi;
    if (rmp_m2s_peer_get(m->m, e->peer, &pi) != 0) return;
    m2_known *k = NULL;
    for (int i = 0; i < MAX_SESSIONS && !k; i++)
      if (!m->known[i].used) k = &m->known[i];
    if (!k) return;
    memset(k, 0, sizeof *k);
    k->used = true;
    k->id = e->peer;
    k->addr = pi.addr;
    k->initiator = pi.invited_by_us;
    snprintf(k->name, sizeof k->name, "%s", pi.name);
    snprintf(k->piid, sizeof k->piid, "%s", pi.piid);
    fill_peer(m, k, &p, text);
    if (m->ev.on_joined) m->ev.on_joined(m->ud, &p);
    return;
  }
  case RMP_M2S_EV_LEFT: {
    m2_known *k = known_by_id(m, e->peer);
    if (k) {
      /* bookkeeping first: the callback may free the session */
      m2_known copy = *k;
      k->sx = NULL;
      forget(k);
      fill_peer(m, &copy, &p, text);
      free(copy.sx);
      if (m->ev.on_left) m->ev.on_left(m->ud, &p, left_reason(e->cause));
    } else if (m->ev.on_invite_failed) {
      rmc_addr_text(&e->addr, text, sizeof text);
      m->ev.on_invite_failed(m->ud, text, e->addr.port, left_reason(e->cause));
    }
    return;
  }
  case RMP_M2S_EV_UMP: {
    m2_known *k = known_by_id(m, e->peer);
    if (!k) return;
    uint32_t w[RMP_M2_MAX_UMP_WORDS];
    size_t n = e->nwords;
    memcpy(w, e->words, 4 * n); /* the event's words live until the next call into the machine */
    uint32_t id = e->peer;
    double t = (double)e->time / 1000.0;
    rmp_ump_iter it;
    rmp_ump_iter_init(&it, w, n);
    const uint32_t *msg;
    unsigned len;
    while (rmp_ump_next(&it, &msg, &len) == 1) {
      m->ump_received++;
      if (m->ev.on_ump) {
        fill_peer(m, k, &p, text);
        m->ev.on_ump(m->ud, &p, msg, len, t, e->recovered);
      }
      /* a callback may have freed the session, stopped it or ended the peer */
      if (m->freed || (k = known_by_id(m, id)) == NULL) return;
      midi_in(m, k, msg, len, t, e->recovered);
      if (m->freed || (k = known_by_id(m, id)) == NULL) return;
    }
    return;
  }
  default:
    return; /* LOST, RESET, PENDING, NAK: counted by the machine */
  }
}

/* Sends what the machine wants sent and gives its events to the callbacks
 * (which may call in again: the loop goes on until both are empty). Events
 * go out from the outermost pump only. A callback that calls back into the
 * session (send_ump from incoming_ump, as an echo or a bridge does) gets
 * what that call sent on its way, and the events still queued
 * (the next UMP Data commands of the same datagram) follow, in order, once
 * the callback returns: given out from the inner pump, they overtook the
 * rest of the message being delivered (spec/midi2_bridge_spec.lua, SysEx).
 * m stays valid meanwhile: every pump runs between enter and leave. */
static void pump(rtpmidi_midi2 *m) {
  flush_out(m);
  if (m->dispatching) return;
  m->dispatching = true;
  while (!m->freed) {
    flush_out(m);
    rmp_m2s_event e;
    if (!rmp_m2s_pop_event(m->m, &e)) break;
    dispatch(m, &e);
  }
  m->dispatching = false;
}

static void on_timer(uv_timer_t *h) {
  m2_timer *t = h->data;
  rtpmidi_midi2 *m = t->owner;
  if (!m || !m->started) return;
  enter(m);
  rmp_m2s_tick(m->m, now_us());
  pump(m);
  leave(m);
}

static void schedule(rtpmidi_midi2 *m) {
  if (!m->timer || m->freed || !m->started) return;
  uint64_t d = rmp_m2s_next_deadline(m->m);
  if (d == UINT64_MAX) {
    uv_timer_stop(&m->timer->t);
    return;
  }
  uint64_t now = now_us();
  uint64_t ms = d <= now ? 0 : (d - now + 999) / 1000;
  uv_timer_start(&m->timer->t, on_timer, ms, 0);
}

static void on_recv(void *owner, rmc_endpoint *ep, const uint8_t *buf, size_t len, const rmp_addr *from) {
  (void)ep;
  rtpmidi_midi2 *m = owner;
  if (!m->started) return;
  enter(m);
  rmp_m2s_on_packet(m->m, now_us(), buf, len, from);
  pump(m);
  leave(m);
}

static void on_error(void *owner, rmc_endpoint *ep, int err, const rmp_addr *dest) {
  (void)ep;
  (void)err;
  (void)dest;
  rtpmidi_midi2 *m = owner;
  m->send_errors++; /* an unreachable peer: its pings go unanswered and it times out */
}

static const rmc_endpoint_ops endpoint_ops = {on_recv, on_error};

/* ---- the API ---- */

static bool bad_ms(double v) { return !(v >= 0 && v <= 3600000.0); }

/* rtpmidi_runtime_free (runtime.h): no callbacks, then stopped (Bye to
 * every session) with its socket and timer closed, for good. */
static void midi2_close(void *owner) {
  rtpmidi_midi2 *m = owner;
  rtpmidi_midi2_stop(m);
  m->inert = true;
}

int rmc_midi2_new(rtpmidi_runtime *rt, const rtpmidi_midi2_config *cfg, const rtpmidi_midi2_events *ev,
                  void *ud, rtpmidi_midi2 **out, const char **err) {
  static const char *dummy;
  if (!err) err = &dummy;
  *err = NULL;
  if (!rt || !cfg || !out) return UV_EINVAL;
  const char *name = cfg->name ? cfg->name : "rtpmidi";
#define REFUSE(field) do { *err = field; return UV_EINVAL; } while (0)
  if (strlen(name) > RMP_M2_NAME_MAX) REFUSE("name");
  if (cfg->product_instance_id && strlen(cfg->product_instance_id) > RMP_M2_PIID_MAX)
    REFUSE("product_instance_id");
  if (cfg->role != RTPMIDI_MIDI2_HOST && cfg->role != RTPMIDI_MIDI2_CLIENT) REFUSE("role");
  if (cfg->port < 0 || cfg->port > 65535) REFUSE("port");
  if (cfg->bind_address && !rmc_bind_reach(cfg->bind_address)) REFUSE("bind_address");
  if (cfg->secret && (!*cfg->secret || strlen(cfg->secret) > RMP_M2_CRED_MAX)) REFUSE("secret");
  if (cfg->n_users > RMP_M2S_MAX_USERS || (cfg->n_users && !cfg->users)) REFUSE("users");
  for (size_t i = 0; i < cfg->n_users; i++)
    if (!cfg->users[i].name || !*cfg->users[i].name || strlen(cfg->users[i].name) > RMP_M2_CRED_MAX ||
        !cfg->users[i].password || strlen(cfg->users[i].password) > RMP_M2_CRED_MAX)
      REFUSE("users");
  if (cfg->max_clients > RMP_M2S_MAX_PEERS) REFUSE("max_clients");
  if (cfg->fec < RTPMIDI_MIDI2_NO_FEC || cfg->fec > RMP_M2S_MAX_FEC) REFUSE("fec");
  if (cfg->history > RMP_M2S_HIST) REFUSE("history");
  if (bad_ms(cfg->ping_ms)) REFUSE("ping_ms");
  if (bad_ms(cfg->ping_retry_ms)) REFUSE("ping_retry_ms");
  if (bad_ms(cfg->keepalive_ms)) REFUSE("keepalive_ms");
  if (bad_ms(cfg->invite_interval_ms)) REFUSE("invite_interval_ms");
  if (cfg->ping_retries > 1000) REFUSE("ping_retries");
  if (cfg->invite_tries > 1000) REFUSE("invite_tries");

  rmp_m2s_config mc;
  rmp_m2s_config_defaults(&mc);
  mc.role = cfg->role == RTPMIDI_MIDI2_CLIENT ? RMP_M2S_CLIENT : RMP_M2S_HOST;
  if (cfg->max_clients) mc.max_clients = cfg->max_clients;
  if (cfg->fec == RTPMIDI_MIDI2_NO_FEC) mc.fec = 0;
  else if (cfg->fec) mc.fec = (unsigned)cfg->fec;
  if (cfg->history) mc.history = cfg->history;
  if (mc.history < mc.fec) REFUSE("history");
  if (cfg->ping_ms > 0) mc.ping_ms = (uint32_t)(cfg->ping_ms + 0.5);
  if (cfg->ping_retry_ms > 0) mc.ping_retry_ms = (uint32_t)(cfg->ping_retry_ms + 0.5);
  if (cfg->ping_retries) mc.ping_retries = cfg->ping_retries;
  if (cfg->keepalive_ms > 0) mc.keepalive_ms = (uint32_t)(cfg->keepalive_ms + 0.5);
  if (cfg->invite_interval_ms > 0) mc.invite_retry_ms = (uint32_t)(cfg->invite_interval_ms + 0.5);
  if (cfg->invite_tries) mc.invite_retries = cfg->invite_tries;
  mc.answer_stream = !cfg->no_stream_answers;
  mc.sha256 = sha256;
  mc.random = random_bytes;
#undef REFUSE

  rtpmidi_midi2 *m = calloc(1, sizeof *m);
  if (!m) return UV_ENOMEM;
  m->m = calloc(1, sizeof *m->m);
  m->rt = rt;
  if (ev) m->ev = *ev;
  m->ud = ud;
  m->port = cfg->port;
  m->max_sysex = cfg->max_sysex ? cfg->max_sysex : DEFAULT_MAX_SYSEX;
  m->name = rmc_dup_str(name);
  m->piid = rmc_dup_str(cfg->product_instance_id ? cfg->product_instance_id : "");
  m->bind_address = rmc_dup_str(cfg->bind_address);
  m->secret = rmc_dup_str(cfg->secret);
  m->n_users = cfg->n_users;
  bool oom = !m->m || !m->name || !m->piid || (cfg->bind_address && !m->bind_address) ||
             (cfg->secret && !m->secret);
  for (size_t i = 0; i < cfg->n_users; i++) {
    m->users[i].name = rmc_dup_str(cfg->users[i].name);
    m->users[i].password = rmc_dup_str(cfg->users[i].password);
    oom = oom || !m->users[i].name || !m->users[i].password;
  }
  mc.name = m->name;
  mc.piid = m->piid;
  mc.secret = m->secret;
  mc.users = m->n_users ? m->users : NULL;
  mc.n_users = m->n_users;
  m->mc = mc;
  if (oom) {
    m->freed = true;
    release(m);
    return UV_ENOMEM;
  }
  if (rmp_m2s_init(m->m, &m->mc) != 0) { /* the checks above cover what it refuses */
    m->freed = true;
    release(m);
    *err = "name";
    return UV_EINVAL;
  }
  rmc_runtime_join(rt, &m->member, m, &m->ev, sizeof m->ev, &m->freed, midi2_close);
  *out = m;
  return 0;
}

/* Advertises _midi2._udp with the TXT records UMPEndpointName and
 * ProductInstanceId, the keys Windows MIDI Services publishes and reads
 * (microsoft/MIDI, src/api/Transport/UdpNetworkMidi2Transport/
 * MidiNetworkAdvertiser.cpp); Zephyr's sample (samples/net/midi2/src/main.c)
 * registers the same service type "_midi2", "_udp", "local" for its host. */
static void start_discovery(rtpmidi_midi2 *m) {
  char name_txt[16 + RMP_M2_NAME_MAX + 1], piid_txt[18 + RMP_M2_PIID_MAX + 1];
  snprintf(name_txt, sizeof name_txt, "UMPEndpointName=%s", m->name);
  snprintf(piid_txt, sizeof piid_txt, "ProductInstanceId=%s", m->piid ? m->piid : "");
  /* a host advertises itself; a client (which refuses invitations) only browses */
  rmc_discovery_config cfg = {.type = "_midi2._udp",
                              .name = m->mc.role == RMP_M2S_HOST ? m->name : NULL,
                              .port = rmc_endpoint_port(m->ep),
                              .txt = {name_txt, m->piid && m->piid[0] ? piid_txt : NULL}};
  m->discovery = rmc_discovery_start(m->rt->loop, &cfg);
}

size_t rtpmidi_midi2_discovered(rtpmidi_midi2 *m, rtpmidi_service *out, size_t n) {
  return m && m->started ? rmc_discovery_found(m->discovery, out, n) : 0;
}

int rtpmidi_midi2_start(rtpmidi_midi2 *m) {
  if (m && m->inert) return UV_ENOTCONN;
  if (!m || m->freed) return UV_EINVAL;
  if (m->started) return 0;
  m2_timer *t = calloc(1, sizeof *t);
  if (!t) return UV_ENOMEM;
  int r = rmc_endpoint_open(m->rt, m->bind_address, RMP_AF_NONE, m->port, &endpoint_ops, m, &m->ep);
  if (r) {
    free(t);
    m->ep = NULL;
    return r;
  }
  uv_timer_init(m->rt->loop, &t->t);
  t->t.data = t;
  t->owner = m;
  m->timer = t;
  rmp_m2s_init(m->m, &m->mc); /* a fresh machine: no sessions, numbers from 0 */
  m->started = true;
  start_discovery(m);
  return 0;
}

void rtpmidi_midi2_stop(rtpmidi_midi2 *m) {
  if (!m || !m->started) return;
  enter(m);
  /* Bye to everyone (once: the socket closes now), then a fresh machine. */
  rmp_m2s_bye(m->m, now_us(), 0, RMP_M2_BYE_USER_TERMINATED);
  flush_out(m);
  m->started = false;
  rmc_discovery_stop(m->discovery); /* returns at once (discovery.h) */
  m->discovery = NULL;
  for (m2_resolve *q = m->resolving; q; q = q->next) q->owner = NULL;
  m->resolving = NULL;
  rmc_endpoint_close(m->ep);
  m->ep = NULL;
  close_timer(m);
  rmp_m2s_init(m->m, &m->mc);
  /* participant_left "stopped", from a copy: callbacks may restart or free */
  m2_known left[MAX_SESSIONS];
  int n = 0;
  for (int i = 0; i < MAX_SESSIONS; i++)
    if (m->known[i].used) {
      left[n] = m->known[i];
      left[n++].sx = NULL;
      forget(&m->known[i]);
    }
  for (int i = 0; i < n && !m->freed; i++) {
    rtpmidi_midi2_peer p;
    char text[RMP_ADDR_TEXT];
    fill_peer(m, &left[i], &p, text);
    if (m->ev.on_left) m->ev.on_left(m->ud, &p, "stopped");
  }
  leave(m);
}

bool rtpmidi_midi2_started(const rtpmidi_midi2 *m) { return m && m->started; }

int rtpmidi_midi2_port(const rtpmidi_midi2 *m) { return m && m->started ? rmc_endpoint_port(m->ep) : 0; }

static int invite_addr(rtpmidi_midi2 *m, const rmp_addr *to, const char *secret, const char *user,
                       const char *password) {
  rmp_m2s_auth auth = {secret, user, password};
  enter(m);
  int r = rmp_m2s_invite(m->m, now_us(), to, &auth, NULL);
  pump(m);
  leave(m);
  switch (r) {
  case 0: return 0;
  case RMP_M2S_EBUSY: return UV_EBUSY;
  case RMP_M2S_EFULL: return UV_ENOBUFS;
  default: return UV_EINVAL;
  }
}

static void free_resolve(m2_resolve *q) {
  free(q->host);
  free(q->secret);
  free(q->user);
  free(q->password);
  free(q);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  m2_resolve *q = req->data;
  rtpmidi_midi2 *m = q->owner;
  if (m) {
    for (m2_resolve **pp = &m->resolving; *pp; pp = &(*pp)->next)
      if (*pp == q) {
        *pp = q->next;
        break;
      }
  }
  if (m && m->started && !m->freed) {
    enter(m); /* callbacks below may free it: released at the leave */
    rmp_addr to = {0};
    const char *why = "unresolved";
    if (status == 0 && rmc_pick_addr(res, rmc_endpoint_reach(m->ep), &to) == 0) {
      to.port = (uint16_t)q->port;
      why = invite_addr(m, &to, q->secret, q->user, q->password) == 0 ? NULL : "refused";
    }
    if (why && !m->freed && m->ev.on_invite_failed) m->ev.on_invite_failed(m->ud, q->host, q->port, why);
    leave(m);
  }
  uv_freeaddrinfo(res);
  free_resolve(q);
}

int rtpmidi_midi2_invite(rtpmidi_midi2 *m, const char *address, int port, const char *secret, const char *user,
                         const char *password) {
  if (!m || m->freed || !address || !*address || port < 1 || port > 65535) return UV_EINVAL;
  if ((user == NULL) != (password == NULL)) return UV_EINVAL;
  if ((secret && (!*secret || strlen(secret) > RMP_M2_CRED_MAX)) ||
      (user && (!*user || strlen(user) > RMP_M2_CRED_MAX || strlen(password) > RMP_M2_CRED_MAX)))
    return UV_EINVAL;
  if (!m->started) return UV_ENOTCONN;
  rmp_addr to;
  if (rmc_addr_parse(address, (uint16_t)port, &to) == 0) {
    if (!rmc_reaches(rmc_endpoint_reach(m->ep), &to)) return UV_EAFNOSUPPORT;
    return invite_addr(m, &to, secret, user, password);
  }
  m2_resolve *q = calloc(1, sizeof *q);
  if (!q) return UV_ENOMEM;
  q->owner = m;
  q->port = port;
  q->host = rmc_dup_str(address);
  q->secret = rmc_dup_str(secret);
  q->user = rmc_dup_str(user);
  q->password = rmc_dup_str(password);
  q->req.data = q;
  int r = !q->host || (secret && !q->secret) || (user && (!q->user || !q->password))
              ? UV_ENOMEM
              : rmc_resolve_host(m->rt->loop, &q->req, on_resolved, address, rmc_endpoint_reach(m->ep));
  if (r) {
    free_resolve(q);
    return r;
  }
  q->next = m->resolving;
  m->resolving = q;
  return 0;
}

static int send_words(rtpmidi_midi2 *m, uint32_t peer, const uint32_t *w, size_t n) {
  enter(m);
  int r = rmp_m2s_send(m->m, now_us(), peer, w, n);
  if (r > 0) {
    size_t msgs = 0;
    rmp_ump_iter it;
    rmp_ump_iter_init(&it, w, n);
    const uint32_t *msg;
    unsigned len;
    while (rmp_ump_next(&it, &msg, &len) == 1) msgs++;
    m->ump_sent += msgs * (size_t)r;
  }
  pump(m);
  leave(m);
  if (r == RMP_M2S_EINVAL) return UV_EINVAL;
  if (r == RMP_M2S_ENOPEER) return UV_ENOENT;
  return r;
}

int rtpmidi_midi2_send_ump(rtpmidi_midi2 *m, uint32_t peer, const uint32_t *words, size_t n) {
  if (!m || m->freed || (n && !words)) return UV_EINVAL;
  if (!rmp_ump_whole(words, n)) return UV_EINVAL;
  if (!m->started) return UV_ENOTCONN;
  return send_words(m, peer, words, n);
}

int rmc_midi2_send_midi(rtpmidi_midi2 *m, const uint8_t *bytes, size_t len, const char **err) {
  static const char *dummy;
  if (!err) err = &dummy;
  *err = NULL;
  if (!m || m->freed || (len && !bytes)) return UV_EINVAL;
  int r = rmc_midi_check(bytes, len, err);
  if (r) return r;
  if (!m->started) return UV_ENOTCONN;
  /* a byte makes at most one word more than it takes (SysEx7: 6 bytes in 2 words) */
  size_t cap = len + 4;
  uint32_t stack[256], *w = cap <= 256 ? stack : malloc(cap * sizeof *w);
  if (!w) return UV_ENOMEM;
  rmp_ump_m1in c;
  rmp_ump_from_midi1_init(&c, 0);
  size_t n = rmp_ump_from_midi1(&c, bytes, len, w, cap, NULL);
  r = n ? send_words(m, 0, w, n) : 0;
  if (w != stack) free(w);
  return r;
}

int rtpmidi_midi2_reset(rtpmidi_midi2 *m, uint32_t peer) {
  if (!m || m->freed) return UV_EINVAL;
  if (!m->started) return UV_ENOTCONN;
  enter(m);
  int r = rmp_m2s_reset(m->m, now_us(), peer);
  pump(m);
  leave(m);
  return r == 0 ? 0 : r == RMP_M2S_ENOPEER ? UV_ENOENT : UV_EBUSY;
}

int rtpmidi_midi2_disconnect(rtpmidi_midi2 *m, uint32_t peer) {
  if (!m || m->freed) return UV_EINVAL;
  if (!m->started) return UV_ENOTCONN;
  enter(m);
  int r = rmp_m2s_bye(m->m, now_us(), peer, RMP_M2_BYE_USER_TERMINATED);
  pump(m);
  leave(m);
  return r < 0 ? UV_ENOENT : 0;
}

size_t rtpmidi_midi2_peers(rtpmidi_midi2 *m, rtpmidi_midi2_peer *out, size_t n) {
  static char texts[MAX_SESSIONS][RMP_ADDR_TEXT];
  size_t k = 0;
  if (!m) return 0;
  for (int i = 0; i < MAX_SESSIONS; i++) {
    if (!m->known[i].used) continue;
    if (out && k < n) fill_peer(m, &m->known[i], &out[k], texts[k]);
    k++;
  }
  return k;
}

void rtpmidi_midi2_get_stats(const rtpmidi_midi2 *m, rtpmidi_midi2_stats *st) {
  memset(st, 0, sizeof *st);
  if (!m) return;
  const rmp_m2s_stats *s = &m->m->stats;
  st->port = rtpmidi_midi2_port(m);
  st->datagrams_sent = s->datagrams_out;
  st->datagrams_received = s->datagrams_in;
  st->ump_sent = m->ump_sent;
  st->ump_received = m->ump_received;
  st->recovered_fec = s->recovered_fec;
  st->recovered_retransmit = s->recovered_rtx;
  st->lost = s->lost;
  st->duplicate = s->dup_in;
  st->retransmit_requests_sent = s->rtx_requests_out;
  st->retransmit_requests_received = s->rtx_requests_in;
  st->retransmitted = s->retransmitted;
  st->pings_sent = s->pings_out;
  st->keepalives_sent = s->keepalives_out;
  st->naks_sent = s->naks_out;
  st->naks_received = s->naks_in;
  st->auth_failures = s->auth_failures;
  st->malformed = s->bad;
  st->foreign = s->foreign;
  st->suppressed = s->suppressed;
  st->sysex_dropped = m->sysex_dropped;
  st->send_errors = m->send_errors + rmc_endpoint_send_errors(m->ep);
  for (int i = 0; i < MAX_SESSIONS; i++) st->clients += m->known[i].used;
}

void rtpmidi_midi2_free(rtpmidi_midi2 *m) {
  if (!m || m->freed) return;
  m->freed = true; /* callbacks detached: the stop below calls none */
  enter(m);
  rtpmidi_midi2_stop(m);
  close_timer(m);
  leave(m);
}
