/* The AppleMIDI session protocol as a socket-free machine (am_session.h). */
#include "am_session.h"

#include <math.h>
#include <string.h>

/* ---- the outbox ---- */

static bool room(const rmp_ams *m, unsigned n) { return RMP_AMS_OUTBOX - m->count >= n; }

/* A new output naming p (or nobody), or NULL when the outbox is full. */
static rmp_ams_out *push(rmp_ams *m, rmp_ams_out_kind kind, rmp_ams_peer *p) {
  if (m->count == RMP_AMS_OUTBOX) {
    m->st.outbox_full++;
    return NULL;
  }
  rmp_ams_out *o = &m->out[(m->head + m->count) % RMP_AMS_OUTBOX];
  m->count++;
  o->kind = kind;
  o->peer = p;
  o->reason = RMP_AMS_BYE;
  o->seq = 0;
  o->raw = 0;
  o->port = RMP_AMS_CTRL;
  o->len = 0;
  memset(&o->to, 0, sizeof o->to);
  if (p) p->queued++;
  return o;
}

static void event(rmp_ams *m, rmp_ams_out_kind kind, rmp_ams_peer *p, rmp_ams_reason reason) {
  rmp_ams_out *o = push(m, kind, p);
  if (o) o->reason = reason;
}

/* A datagram to `to` on port, its octets to be written by the caller. */
static rmp_ams_out *datagram(rmp_ams *m, rmp_ams_peer *p, int port, const rmp_addr *to) {
  rmp_ams_out *o = push(m, RMP_AMS_SEND, p);
  if (!o) return NULL;
  o->port = port;
  o->to = *to;
  return o;
}

/* The datagram o (the newest output) holds n octets; n <= 0 (an encoder
 * refused, which these buffers never make it do) takes it back. */
static void sent(rmp_ams *m, rmp_ams_out *o, int n) {
  if (n > 0) {
    o->len = (size_t)n;
    m->st.control_sent++;
    return;
  }
  m->count--;
  if (o->peer) o->peer->queued--;
}

static void send_invite_cmd(rmp_ams *m, rmp_ams_peer *p, int port, uint16_t cmd, uint32_t token,
                            const rmp_addr *to) {
  rmp_ams_out *o = datagram(m, p, port, to);
  if (o) sent(m, o, rmp_am_encode_invite(o->data, sizeof o->data, cmd, token, m->cfg.ssrc, m->cfg.name));
}

/* BY on the control port, and on the data port when it is part of the
 * session (its data IN answered, or ours sent): both halves end (issue 18,
 * item 3). */
static void send_bye(rmp_ams *m, rmp_ams_peer *p) {
  rmp_ams_out *o = datagram(m, p, RMP_AMS_CTRL, &p->ctrl);
  if (o) sent(m, o, rmp_am_encode_bye(o->data, sizeof o->data, p->token, m->cfg.ssrc));
  if (p->state != RMP_AMS_JOINED && p->state != RMP_AMS_INVITE_DATA) return;
  o = datagram(m, p, RMP_AMS_DATA, &p->data);
  if (o) sent(m, o, rmp_am_encode_bye(o->data, sizeof o->data, p->token, m->cfg.ssrc));
}

static void send_ck(rmp_ams *m, rmp_ams_peer *p, uint8_t count, const uint64_t ts[3]) {
  rmp_ams_out *o = datagram(m, p, RMP_AMS_DATA, &p->data);
  if (o) sent(m, o, rmp_am_encode_ck(o->data, sizeof o->data, m->cfg.ssrc, count, ts));
}

static void send_rs(rmp_ams *m, rmp_ams_peer *p) {
  rmp_ams_out *o = datagram(m, p, RMP_AMS_CTRL, &p->ctrl);
  if (o) sent(m, o, rmp_am_encode_rs(o->data, sizeof o->data, m->cfg.ssrc, p->last_rx_seq));
}

/* Hands GONE participants that no output names back to the embedder. */
static void collect(rmp_ams *m) {
  if (!m->gone) return;
  m->gone = false;
  for (rmp_ams_peer **pp = &m->peers; *pp;) {
    rmp_ams_peer *p = *pp;
    if (p->state == RMP_AMS_GONE && p->queued == 0) {
      *pp = p->next;
      m->cfg.release(m->cfg.ud, p);
    } else {
      if (p->state == RMP_AMS_GONE) m->gone = true;
      pp = &p->next;
    }
  }
}

bool rmp_ams_pop(rmp_ams *m, rmp_ams_out *out) {
  collect(m);
  if (m->count == 0) return false;
  *out = m->out[m->head];
  m->head = (m->head + 1) % RMP_AMS_OUTBOX;
  m->count--;
  if (out->peer) out->peer->queued--;
  return true;
}

/* ---- set-up ---- */

int rmp_ams_init(rmp_ams *m, const rmp_ams_config *cfg) {
  if (!m || !cfg || !cfg->alloc || !cfg->release || !cfg->random) return RMP_EAINVAL;
  memset(m, 0, sizeof *m);
  m->cfg = *cfg;
  rmp_ams_config *c = &m->cfg;
  if (!c->name) c->name = "";
  if (c->invite_tries <= 0) c->invite_tries = RMP_AMS_DEF_INVITE_TRIES;
  if (!(c->invite_interval_ms > 0)) c->invite_interval_ms = RMP_AMS_DEF_INVITE_INTERVAL;
  if (c->ck_fast_count <= 0) c->ck_fast_count = RMP_AMS_DEF_CK_FAST_COUNT;
  if (!(c->ck_fast_interval_ms > 0)) c->ck_fast_interval_ms = RMP_AMS_DEF_CK_FAST_INTERVAL;
  if (!(c->ck_interval_ms > 0)) c->ck_interval_ms = RMP_AMS_DEF_CK_INTERVAL;
  if (!(c->timeout_ms > 0)) c->timeout_ms = RMP_AMS_DEF_TIMEOUT;
  if (!(c->pending_timeout_ms > 0)) c->pending_timeout_ms = RMP_AMS_DEF_PENDING_TIMEOUT;
  if (!c->pending_per_host) c->pending_per_host = RMP_AMS_DEF_PENDING_PER_HOST;
  if (!(c->rs_interval_ms > 0)) c->rs_interval_ms = RMP_AMS_DEF_RS_INTERVAL;
  if (!c->max_participants) c->max_participants = RMP_AMS_DEF_MAX_PARTICIPANTS;
  if (!(c->invitations_per_second > 0)) c->invitations_per_second = RMP_AMS_DEF_INVITATIONS_PER_SECOND;
  if (!c->accept_list) c->accept_count = 0;
  return 0;
}

void rmp_ams_free(rmp_ams *m) {
  m->head = m->count = 0;
  while (m->peers) {
    rmp_ams_peer *p = m->peers;
    m->peers = p->next;
    m->cfg.release(m->cfg.ud, p);
  }
  m->gone = false;
}

uint64_t rmp_ams_clock(double now_ms) {
  return now_ms > 0 ? (uint64_t)(now_ms * 10.0 + 0.5) : 0;
}

const char *rmp_ams_reason_name(rmp_ams_reason r) {
  switch (r) {
  case RMP_AMS_BYE: return "bye";
  case RMP_AMS_TIMEOUT: return "timeout";
  case RMP_AMS_STOPPED: return "stopped";
  case RMP_AMS_DISCONNECTED: return "disconnected";
  case RMP_AMS_REJECTED: return "rejected";
  case RMP_AMS_RESTARTED: return "restarted";
  }
  return "unknown";
}

/* ---- participants ---- */

void rmp_ams_reserve(rmp_ams *m, size_t n) { m->reserved = n; }

size_t rmp_ams_live(const rmp_ams *m) {
  size_t n = m->reserved;
  for (const rmp_ams_peer *p = m->peers; p; p = p->next) n += p->state != RMP_AMS_GONE;
  return n;
}

size_t rmp_ams_pending(const rmp_ams *m) {
  size_t n = 0;
  for (const rmp_ams_peer *p = m->peers; p; p = p->next) n += p->state == RMP_AMS_AWAIT_DATA;
  return n;
}

/* Pending invitations from the host of `from`. */
static size_t pending_from(const rmp_ams *m, const rmp_addr *from) {
  size_t n = 0;
  for (const rmp_ams_peer *p = m->peers; p; p = p->next)
    n += p->state == RMP_AMS_AWAIT_DATA && rmp_addr_same_host(&p->ctrl, from);
  return n;
}

/* The pending invitation heard from longest ago, or NULL. */
static rmp_ams_peer *oldest_pending(rmp_ams *m) {
  rmp_ams_peer *o = NULL;
  for (rmp_ams_peer *p = m->peers; p; p = p->next)
    if (p->state == RMP_AMS_AWAIT_DATA && (!o || p->last_heard <= o->last_heard)) o = p;
  return o;
}

rmp_ams_peer *rmp_ams_find(const rmp_ams *m, uint32_t id) {
  for (rmp_ams_peer *p = m->peers; p; p = p->next)
    if (p->id == id && p->state != RMP_AMS_GONE) return p;
  return NULL;
}

/* The participant with this SSRC, or with it as its data port's alias. */
static rmp_ams_peer *find_ssrc(rmp_ams *m, uint32_t ssrc) {
  for (rmp_ams_peer *p = m->peers; p; p = p->next)
    if (p->state != RMP_AMS_GONE && p->have_ssrc && (p->ssrc == ssrc || (p->have_alias && p->alias_ssrc == ssrc)))
      return p;
  return NULL;
}

/* Its data port speaks with another SSRC than its control port: an alias
 * (an SSRC no other participant has, and not ours). False, and counted as
 * foreign, when it is taken. */
static bool set_alias(rmp_ams *m, rmp_ams_peer *p, uint32_t ssrc) {
  if (ssrc == p->ssrc) return true;
  rmp_ams_peer *other = find_ssrc(m, ssrc);
  if (ssrc == m->cfg.ssrc || (other && other != p)) {
    m->st.foreign++;
    return false;
  }
  p->have_alias = true;
  p->alias_ssrc = ssrc;
  return true;
}

/* Our invitation in `state` with this token. */
static rmp_ams_peer *find_invite(rmp_ams *m, uint32_t token, rmp_ams_state state) {
  for (rmp_ams_peer *p = m->peers; p; p = p->next)
    if (p->state == state && p->initiator && p->token == token) return p;
  return NULL;
}

static rmp_ams_peer *new_peer(rmp_ams *m, double now, const rmp_addr *ctrl) {
  rmp_ams_peer *p = m->cfg.alloc(m->cfg.ud);
  if (!p) return NULL;
  memset(p, 0, sizeof *p);
  p->id = ++m->next_id;
  p->ctrl = *ctrl;
  p->data = rmp_addr_with_port(*ctrl, (uint16_t)(ctrl->port + 1));
  p->last_heard = now;
  p->next = m->peers;
  m->peers = p;
  return p;
}

static void set_name(rmp_ams_peer *p, const rmp_am_invite *inv) {
  memcpy(p->name, inv->name, inv->name_len);
  p->name[inv->name_len] = '\0';
}

/* p's session ends: a BY for it that comes after is expected. */
static void remember_end(rmp_ams *m, const rmp_ams_peer *p) {
  if (!p->have_ssrc) return;
  m->ended[m->ended_next].ssrc = p->ssrc;
  m->ended[m->ended_next].token = p->token;
  m->ended_next = (m->ended_next + 1) % (sizeof m->ended / sizeof m->ended[0]);
}

static bool just_ended(const rmp_ams *m, uint32_t ssrc, uint32_t token) {
  for (size_t i = 0; i < sizeof m->ended / sizeof m->ended[0]; i++)
    if (m->ended[i].ssrc == ssrc && m->ended[i].token == token && (ssrc || token)) return true;
  return false;
}

/* Removes p; one that had joined is reported as left. */
static void drop(rmp_ams *m, rmp_ams_peer *p, rmp_ams_reason reason) {
  if (p->state == RMP_AMS_GONE) return;
  remember_end(m, p);
  bool was_joined = p->state == RMP_AMS_JOINED;
  p->state = RMP_AMS_GONE;
  m->gone = true;
  if (was_joined) event(m, RMP_AMS_EV_LEFT, p, reason);
}

static void invite_failed(rmp_ams *m, rmp_ams_peer *p, rmp_ams_reason reason) {
  remember_end(m, p);
  p->state = RMP_AMS_GONE;
  m->gone = true;
  event(m, RMP_AMS_EV_INVITE_FAILED, p, reason);
}

static void joined(rmp_ams *m, rmp_ams_peer *p, double now) {
  p->state = RMP_AMS_JOINED;
  p->ck_rounds = 0;
  p->last_heard = now;
  event(m, RMP_AMS_EV_JOINED, p, RMP_AMS_BYE);
}

rmp_ams_peer *rmp_ams_invite(rmp_ams *m, double now, const rmp_addr *ctrl) {
  if (rmp_ams_live(m) >= m->cfg.max_participants) return NULL;
  rmp_ams_peer *p = new_peer(m, now, ctrl);
  if (!p) return NULL;
  p->initiator = true;
  p->state = RMP_AMS_INVITE_CTRL;
  while (!p->token) p->token = m->cfg.random(m->cfg.ud);
  p->tries = 1;
  p->next_invite = now + m->cfg.invite_interval_ms;
  send_invite_cmd(m, p, RMP_AMS_CTRL, RMP_AM_IN, p->token, &p->ctrl);
  return p;
}

void rmp_ams_disconnect(rmp_ams *m, rmp_ams_peer *p) {
  if (!p || p->state == RMP_AMS_GONE) return;
  send_bye(m, p);
  drop(m, p, RMP_AMS_DISCONNECTED);
}

bool rmp_ams_stop(rmp_ams *m) {
  for (rmp_ams_peer *p = m->peers; p; p = p->next) {
    if (p->state == RMP_AMS_GONE) continue;
    if (!room(m, RMP_AMS_PER_CALL)) return true;
    send_bye(m, p);
    drop(m, p, RMP_AMS_STOPPED);
  }
  return false;
}

/* ---- receiving ---- */

static bool accepted(const rmp_ams *m, const rmp_addr *from) {
  switch (m->cfg.accept) {
  case RMP_AMS_ACCEPT_ANY: return true;
  case RMP_AMS_ACCEPT_NONE: return false;
  case RMP_AMS_ACCEPT_LIST:
    for (size_t i = 0; i < m->cfg.accept_count; i++)
      if (rmp_addr_same_host(&m->cfg.accept_list[i], from)) return true;
    return false;
  }
  return false;
}

/* One invitation from an unknown SSRC may be answered: takes a token of the
 * bucket (refilled at invitations_per_second, one second's worth at most,
 * and at least one). */
static bool take_token(rmp_ams *m, double now) {
  double rate = m->cfg.invitations_per_second, cap = rate < 1 ? 1 : rate;
  if (!m->bucket_started) {
    m->bucket_started = true;
    m->tokens = cap;
  } else if (now > m->refill_ms) {
    m->tokens += (now - m->refill_ms) * rate / 1000.0;
    if (m->tokens > cap) m->tokens = cap;
  }
  m->refill_ms = now;
  if (m->tokens < 1) return false;
  m->tokens -= 1;
  return true;
}

/* The earlier incarnation of the session that sends this IN: a participant
 * at the same endpoint (the port the IN came to) with the same name, whose
 * SSRC is another. A session that restarts draws its SSRC at random
 * again (RFC 3550 section 8: SSRCs are chosen randomly) but keeps its ports
 * and name.
 * Sessions on one host that share a name but not their ports are kept
 * apart. */
static rmp_ams_peer *earlier_self(rmp_ams *m, int port, const rmp_am_invite *inv, const rmp_addr *from) {
  for (rmp_ams_peer *p = m->peers; p; p = p->next) {
    if (p->state == RMP_AMS_GONE || !p->have_ssrc || p->ssrc == inv->ssrc) continue;
    const rmp_addr *at = port == RMP_AMS_DATA ? &p->data : &p->ctrl;
    if (rmp_addr_equal(at, from) && strcmp(p->name, inv->name) == 0) return p;
  }
  return NULL;
}

/* No answer to an IN is larger than the IN (issue #16, finding 7: a short
 * IN from a forged address made us send our name there): NO goes without
 * a name, OK with as much of our name as the IN's own datagram had room
 * for (cut at a UTF-8 character boundary; none for an IN without a name).
 * A peer whose name is shorter than ours sees ours shortened. */
static void answer(rmp_ams *m, rmp_ams_peer *p, int port, uint16_t cmd, uint32_t token, const rmp_addr *to,
                   size_t in_len) {
  char name[RMP_AM_NAME_MAX + 1];
  const char *nm = NULL;
  if (cmd == RMP_AM_OK && in_len > RMP_AM_INVITE_LEN) {
    size_t room = in_len - RMP_AM_INVITE_LEN - 1, n = 0; /* octets before the NUL */
    const unsigned char *ours = (const unsigned char *)m->cfg.name;
    if (room > RMP_AM_NAME_MAX) room = RMP_AM_NAME_MAX;
    while (n < room && ours[n]) n++;
    /* ours[n] is the first octet left out: a continuation octet (10xxxxxx)
     * means the character it belongs to does not fit whole */
    if (ours[n])
      while (n > 0 && (ours[n] & 0xC0) == 0x80) n--;
    memcpy(name, ours, n);
    name[n] = '\0';
    nm = name;
  }
  rmp_ams_out *o = datagram(m, p, port, to);
  if (o) sent(m, o, rmp_am_encode_invite(o->data, sizeof o->data, cmd, token, m->cfg.ssrc, nm));
}

static void refuse(rmp_ams *m, int port, const rmp_am_invite *inv, const rmp_addr *from) {
  answer(m, NULL, port, RMP_AM_NO, inv->token, from, 0);
  m->st.invitations_refused++;
}

/* The waiting invitation from the host of `from` with this token. */
static rmp_ams_peer *pending_token(rmp_ams *m, uint32_t token, const rmp_addr *from) {
  for (rmp_ams_peer *p = m->peers; p; p = p->next)
    if (p->state == RMP_AMS_AWAIT_DATA && p->token == token && rmp_addr_same_host(&p->ctrl, from)) return p;
  return NULL;
}

/* Whether `from`, on port, is where p speaks from: the control address it
 * joined from (exactly: host and port), and on the data port the address
 * its data port answered from, or while that is not known yet (its data IN
 * or our data OK has not come) any port of its control host. */
static bool from_participant(const rmp_ams_peer *p, int port, const rmp_addr *from) {
  if (port == RMP_AMS_CTRL) return rmp_addr_equal(from, &p->ctrl);
  return p->data_bound ? rmp_addr_equal(from, &p->data) : rmp_addr_same_host(from, &p->ctrl);
}

static void on_in(rmp_ams *m, double now, int port, const rmp_am_invite *inv, const rmp_addr *from,
                  size_t len) {
  rmp_ams_peer *p = find_ssrc(m, inv->ssrc);
  /* A participant's SSRC in an IN from elsewhere is not the participant: it
   * neither moves where we send to it nor gets an answer (issue #16,
   * finding 1: a forged data IN took over the whole MIDI stream). The
   * second half of a join carries the token of the first. */
  if (p && (!from_participant(p, port, from) ||
            (port == RMP_AMS_DATA && !p->initiator && p->token != inv->token))) {
    m->st.foreign++;
    return;
  }
  /* A data IN with an SSRC the control IN did not announce completes the
   * invitation from its host with its token (observed: peers whose data
   * port's SSRC differs from their control port's; their RTP carries the
   * data port's). */
  rmp_ams_peer *half = !p && port == RMP_AMS_DATA ? pending_token(m, inv->token, from) : NULL;
  /* A flood of invitations is neither answered nor remembered beyond the
   * rate (not even with NO: a flood is not reflected), nor beyond
   * pending_per_host from one host. */
  if (!p && !half &&
      ((port == RMP_AMS_CTRL && pending_from(m, from) >= m->cfg.pending_per_host) || !take_token(m, now))) {
    m->st.invitations_dropped++;
    return;
  }
  if (inv->version != RMP_AM_VERSION || !accepted(m, from) || inv->ssrc == m->cfg.ssrc) {
    refuse(m, port, inv, from);
    return;
  }
  if (half) {
    if (!set_alias(m, half, inv->ssrc)) return;
    p = half;
  }
  if (!p) {
    /* an invitation starts on the control port: a data IN on its own is
     * none (a single forged datagram made a participant that got our MIDI) */
    if (port == RMP_AMS_DATA) {
      refuse(m, port, inv, from);
      return;
    }
    rmp_ams_peer *old = earlier_self(m, port, inv, from);
    if (old) drop(m, old, RMP_AMS_RESTARTED);
    if (rmp_ams_live(m) >= m->cfg.max_participants) {
      /* full: the oldest invitation that never came on the data port goes */
      rmp_ams_peer *stale = oldest_pending(m);
      if (!stale) {
        refuse(m, port, inv, from);
        return;
      }
      drop(m, stale, RMP_AMS_TIMEOUT);
    }
    p = new_peer(m, now, from);
    if (!p) return;
    p->ssrc = inv->ssrc;
    p->have_ssrc = true;
    p->token = inv->token;
    set_name(p, inv);
    p->state = RMP_AMS_AWAIT_DATA;
  } else if (!p->initiator && port == RMP_AMS_CTRL) {
    p->token = inv->token; /* its session invites us again */
  }
  if (port == RMP_AMS_DATA) {
    p->data = *from;
    p->data_bound = true;
  }
  if (p->state == RMP_AMS_AWAIT_DATA) p->last_heard = now;
  answer(m, p, port, RMP_AM_OK, inv->token, from, len);
  if (port == RMP_AMS_DATA && p->state == RMP_AMS_AWAIT_DATA) joined(m, p, now);
}

static void on_ok(rmp_ams *m, double now, int port, const rmp_am_invite *inv, const rmp_addr *from) {
  rmp_ams_peer *p = find_invite(m, inv->token, port == RMP_AMS_DATA ? RMP_AMS_INVITE_DATA : RMP_AMS_INVITE_CTRL);
  if (!p) return; /* a repeated answer */
  /* the answer comes from the session invited: its control port, its host */
  if (!from_participant(p, port, from)) {
    m->st.foreign++;
    return;
  }
  if (port == RMP_AMS_CTRL) {
    rmp_ams_peer *other = find_ssrc(m, inv->ssrc);
    if (other && other != p) { /* already in session with it: it invited us too */
      drop(m, p, RMP_AMS_BYE);
      return;
    }
    p->ssrc = inv->ssrc;
    p->have_ssrc = true;
    set_name(p, inv);
    p->state = RMP_AMS_INVITE_DATA;
    p->tries = 1;
    p->next_invite = now + m->cfg.invite_interval_ms;
    send_invite_cmd(m, p, RMP_AMS_DATA, RMP_AM_IN, p->token, &p->data);
  } else {
    /* the same session's data port (its host, our token), perhaps with
     * another SSRC */
    if (!set_alias(m, p, inv->ssrc)) return;
    p->data = *from;
    p->data_bound = true;
    p->next_ck = now;
    joined(m, p, now);
  }
}

static uint64_t swap64(uint64_t v) {
  v = ((v & 0x00FF00FF00FF00FFull) << 8) | ((v >> 8) & 0x00FF00FF00FF00FFull);
  v = ((v & 0x0000FFFF0000FFFFull) << 16) | ((v >> 16) & 0x0000FFFF0000FFFFull);
  return (v << 32) | (v >> 32);
}

/* The measurement of the complete exchange c, whose timestamps in `theirs`
 * (a bit per index) are the peer's, in the byte order `swapped`: 0 and
 * *res, or -1 when its numbers cannot be (am_session.h). */
static int ck_measure(const rmp_am_ck *c, unsigned theirs, bool swapped, rmp_am_ck_result *res) {
  rmp_am_ck k = *c;
  for (int i = 0; i < 3; i++) {
    if (!(theirs & 1u << i)) continue;
    if (swapped) k.ts[i] = swap64(k.ts[i]);
    if (k.ts[i] >= RMP_AMS_CK_CLOCK_MAX) return -1;
  }
  if (rmp_am_ck_compute(&k, res) != 0 || res->rtt > RMP_AMS_CK_RTT_MAX) return -1;
  return 0;
}

static void ck_done(rmp_ams *m, rmp_ams_peer *p, uint64_t latency, int64_t offset) {
  p->synced = true;
  p->latency_ms = (double)latency / 10.0;
  p->offset_ms = (double)offset / 10.0;
  p->ck_exchanges++;
  m->st.ck_exchanges++;
  event(m, RMP_AMS_EV_SYNCED, p, RMP_AMS_BYE);
}

/* The joined participant with this SSRC, if `from` is where it speaks
 * from on port (from_participant); NULL otherwise, counted. */
static rmp_ams_peer *joined_from(rmp_ams *m, uint32_t ssrc, int port, const rmp_addr *from) {
  rmp_ams_peer *p = find_ssrc(m, ssrc);
  if (!p || p->state != RMP_AMS_JOINED) {
    m->st.unknown_ssrc++;
    return NULL;
  }
  if (!from_participant(p, port, from)) { /* its SSRC from elsewhere: spoofed */
    m->st.foreign++;
    return NULL;
  }
  return p;
}

/* The measurement of c in p's byte order, else, while no exchange has
 * settled it, in the other one (which is then p's), else none: counted,
 * nothing changes.
 * The first measured exchange settles the order (ts_order_known): a peer
 * does not change its byte order within a session, so a later exchange
 * that fits only the other one is impossible, not a flip. Else one forged
 * exchange (a forger that echoes our timestamps: sniffed, or our clock
 * guessed and sprayed) made us read the real peer's RTP timestamps swapped
 * until its next exchange. */
static bool ck_result(rmp_ams *m, rmp_ams_peer *p, const rmp_am_ck *c, unsigned theirs, rmp_am_ck_result *res) {
  if (ck_measure(c, theirs, p->ts_swapped, res) == 0) {
    p->ts_order_known = true;
    return true;
  }
  if (!p->ts_order_known && ck_measure(c, theirs, !p->ts_swapped, res) == 0) {
    p->ts_swapped = !p->ts_swapped;
    p->ts_order_known = true;
    if (p->ts_swapped) m->st.ts_swapped++;
    return true;
  }
  p->ck_impossible++;
  m->st.ck_impossible++;
  return false;
}

/* A CK exchange has three steps, each answering the one before: a CK1 is
 * taken only when it echoes the timestamp of our CK0 that is still open, a
 * CK2 only when it echoes both timestamps of our open CK1; each closes what
 * it answers. Anything else (a forged or replayed CK1/CK2, or a late one)
 * would set the participant's clock offset from numbers we never sent. */
static void on_ck(rmp_ams *m, double now, int port, const rmp_am_ck *ck, const rmp_addr *from) {
  rmp_ams_peer *p = joined_from(m, ck->ssrc, port, from);
  if (!p) return;
  rmp_am_ck_result res;
  if (ck->count == 0) {
    uint64_t ts[3] = {ck->ts[0], rmp_ams_clock(now), 0};
    p->last_heard = now;
    send_ck(m, p, 1, ts);
    p->ck_reply_open = true;
    p->ck_reply_ts[0] = ts[0];
    p->ck_reply_ts[1] = ts[1];
  } else if (ck->count == 1) {
    if (!p->ck_open || ck->ts[0] != p->ck_ts1) {
      m->st.unsolicited++;
      return;
    }
    /* the answer to our CK0: close the exchange and measure */
    p->ck_open = false;
    p->last_heard = now;
    rmp_am_ck c = *ck;
    c.count = 2;
    c.ts[2] = rmp_ams_clock(now);
    send_ck(m, p, 2, c.ts);
    if (ck_result(m, p, &c, 1u << 1, &res)) ck_done(m, p, res.latency, res.offset);
  } else {
    if (!p->ck_reply_open || ck->ts[0] != p->ck_reply_ts[0] || ck->ts[1] != p->ck_reply_ts[1]) {
      m->st.unsolicited++;
      return;
    }
    p->ck_reply_open = false;
    p->last_heard = now;
    /* the end of its exchange: we were the responder, its offset is ours - its */
    if (ck_result(m, p, ck, 1u << 0 | 1u << 2, &res)) ck_done(m, p, res.latency, -res.offset);
  }
}

/* A BY ends the session it names: it comes from the participant (as any of
 * its packets) and carries the token of the invitation that made it. */
static void on_by(rmp_ams *m, int port, const rmp_am_bye *by, const rmp_addr *from) {
  rmp_ams_peer *p = find_ssrc(m, by->ssrc);
  if (!p) {
    /* the BY of the other port, after the first ended the session */
    if (!just_ended(m, by->ssrc, by->token)) m->st.unknown_ssrc++;
    return;
  }
  if (!from_participant(p, port, from) || by->token != p->token) {
    m->st.foreign++;
    return;
  }
  if (p->state == RMP_AMS_JOINED) drop(m, p, RMP_AMS_BYE);
  else if (p->initiator) invite_failed(m, p, RMP_AMS_BYE);
  else drop(m, p, RMP_AMS_BYE);
}

/* The sequence number an RS field of p carries (am_session.h): Apple's
 * high half, or rtpmidid's low half. A field with one half zero and the
 * other not says which, and p keeps that form; a field with both halves
 * non-zero is read in p's form (Apple's until another showed); 0 is 0. */
static uint16_t rs_seq(rmp_ams_peer *p, uint32_t raw) {
  uint16_t hi = (uint16_t)(raw >> 16), lo = (uint16_t)raw;
  if (hi && !lo) p->rs_form = RMP_AMS_RS_HIGH;
  else if (lo && !hi) p->rs_form = RMP_AMS_RS_LOW;
  return p->rs_form == RMP_AMS_RS_LOW ? lo : hi;
}

/* The one joined participant whose data port `from` is (from_participant);
 * NULL when none is, or more than one may be. */
static rmp_ams_peer *data_sender(rmp_ams *m, const rmp_addr *from) {
  rmp_ams_peer *found = NULL;
  for (rmp_ams_peer *p = m->peers; p; p = p->next) {
    if (p->state != RMP_AMS_JOINED || !from_participant(p, RMP_AMS_DATA, from)) continue;
    if (found) return NULL;
    found = p;
  }
  return found;
}

static void on_rs(rmp_ams *m, int port, const rmp_am_rs *rs, const rmp_addr *from) {
  rmp_ams_peer *p;
  if (port == RMP_AMS_DATA && rs->ssrc == m->cfg.ssrc && (p = data_sender(m, from)) != NULL) {
    /* raveloxmidi's feedback (issue 18, item 6): on the data port, one per
     * packet of ours, with the SSRC of that packet (ours): the RS of the
     * participant it comes from. Ours is no secret (every OK and RTP of
     * ours carries it, to whoever invites us), so this form is the weaker
     * one: a forger with p's data address but not its SSRC. A participant
     * that sent an RS of its own SSRC is not such a peer: for it this form
     * is forged (foreign). */
    if (p->rs_own) {
      m->st.foreign++;
      return;
    }
  } else if (!(p = joined_from(m, rs->ssrc, port, from))) {
    return;
  } else {
    p->rs_own = true;
  }
  p->rs_received++;
  m->st.rs_received++;
  rmp_ams_out *o = push(m, RMP_AMS_EV_ACK, p);
  if (o) {
    o->seq = rs_seq(p, rs->raw);
    o->raw = rs->raw;
  }
}

void rmp_ams_on_packet(rmp_ams *m, double now, int port, const uint8_t *buf, size_t len,
                       const rmp_addr *from) {
  if (!room(m, RMP_AMS_PER_CALL)) {
    m->st.outbox_full++;
    return;
  }
  rmp_am_packet pk;
  int r = rmp_am_parse(buf, len, &pk);
  if (r < 0) {
    switch (r) {
    case RMP_EATRUNC: case RMP_EASIG: m->st.bad_signature++; break;
    case RMP_EAUNKNOWN: m->st.unknown_command++; break;
    case RMP_EANAMETRUNC: case RMP_EANAMELONG: m->st.bad_name++; break;
    default: m->st.malformed++; break;
    }
    return;
  }
  m->st.control_received++;
  switch (pk.cmd) {
  case RMP_AM_IN: on_in(m, now, port, &pk.u.inv, from, len); break;
  case RMP_AM_OK: on_ok(m, now, port, &pk.u.inv, from); break;
  case RMP_AM_NO: {
    rmp_ams_peer *p = find_invite(m, pk.u.inv.token, port == RMP_AMS_DATA ? RMP_AMS_INVITE_DATA : RMP_AMS_INVITE_CTRL);
    if (p && !from_participant(p, port, from)) m->st.foreign++;
    else if (p) invite_failed(m, p, RMP_AMS_REJECTED);
    break;
  }
  case RMP_AM_BY: on_by(m, port, &pk.u.by, from); break;
  case RMP_AM_CK: on_ck(m, now, port, &pk.u.ck, from); break;
  case RMP_AM_RS: on_rs(m, port, &pk.u.rs, from); break;
  default: m->st.unknown_command++; break;
  }
}

rmp_ams_peer *rmp_ams_rtp_participant(rmp_ams *m, double now, uint32_t ssrc, const rmp_addr *from) {
  rmp_ams_peer *p = joined_from(m, ssrc, RMP_AMS_DATA, from);
  if (p) p->last_heard = now;
  return p;
}

void rmp_ams_rtp_received(rmp_ams *m, rmp_ams_peer *p, double now, uint16_t seq) {
  p->last_rx_seq = seq;
  if (!p->rx_since_rs) {
    p->rx_since_rs = true;
    if (p->next_rs <= now) p->next_rs = now + m->cfg.rs_interval_ms;
  }
}

/* ---- time ---- */

static double earliest(double a, double b) { return b < a ? b : a; }

static void serve(rmp_ams *m, rmp_ams_peer *p, double now) {
  const rmp_ams_config *c = &m->cfg;
  switch (p->state) {
  case RMP_AMS_INVITE_CTRL:
  case RMP_AMS_INVITE_DATA:
    if (now < p->next_invite) return;
    if (p->tries >= (unsigned)c->invite_tries) {
      invite_failed(m, p, RMP_AMS_TIMEOUT);
      return;
    }
    p->tries++;
    p->next_invite = now + c->invite_interval_ms;
    if (p->state == RMP_AMS_INVITE_CTRL) send_invite_cmd(m, p, RMP_AMS_CTRL, RMP_AM_IN, p->token, &p->ctrl);
    else send_invite_cmd(m, p, RMP_AMS_DATA, RMP_AM_IN, p->token, &p->data);
    return;
  case RMP_AMS_AWAIT_DATA:
    if (now >= p->last_heard + c->pending_timeout_ms) drop(m, p, RMP_AMS_TIMEOUT);
    return;
  case RMP_AMS_JOINED:
    if (now >= p->last_heard + c->timeout_ms) {
      rmp_addr again = p->ctrl;
      bool reinvite = p->initiator && c->reinvite;
      drop(m, p, RMP_AMS_TIMEOUT);
      if (reinvite) rmp_ams_invite(m, now, &again);
      return;
    }
    if (p->initiator && now >= p->next_ck) {
      uint64_t ts[3] = {rmp_ams_clock(now), 0, 0};
      send_ck(m, p, 0, ts);
      p->ck_ts1 = ts[0];
      p->ck_open = true;
      p->ck_rounds++;
      p->next_ck = now + (p->ck_rounds < (unsigned)c->ck_fast_count ? c->ck_fast_interval_ms : c->ck_interval_ms);
    }
    if (p->rx_since_rs && now >= p->next_rs) {
      send_rs(m, p);
      p->rs_sent++;
      m->st.rs_sent++;
      p->rx_since_rs = false;
      p->next_rs = now + c->rs_interval_ms;
    }
    return;
  case RMP_AMS_GONE:
    return;
  }
}

bool rmp_ams_tick(rmp_ams *m, double now) {
  m->more = false;
  for (rmp_ams_peer *p = m->peers; p; p = p->next) {
    if (p->state == RMP_AMS_GONE) continue;
    if (!room(m, RMP_AMS_PER_CALL)) {
      m->more = true;
      return true;
    }
    serve(m, p, now);
  }
  return false;
}

double rmp_ams_next_deadline(const rmp_ams *m, double *exact, double *lenient) {
  double e = m->more ? -INFINITY : INFINITY, l = INFINITY;
  const rmp_ams_config *c = &m->cfg;
  for (const rmp_ams_peer *p = m->peers; p; p = p->next) {
    switch (p->state) {
    case RMP_AMS_INVITE_CTRL: case RMP_AMS_INVITE_DATA:
      e = earliest(e, p->next_invite);
      break;
    case RMP_AMS_AWAIT_DATA:
      l = earliest(l, p->last_heard + c->pending_timeout_ms);
      break;
    case RMP_AMS_JOINED:
      l = earliest(l, p->last_heard + c->timeout_ms);
      if (p->initiator) l = earliest(l, p->next_ck);
      if (p->rx_since_rs) l = earliest(l, p->next_rs);
      break;
    case RMP_AMS_GONE:
      break;
    }
  }
  if (exact) *exact = e;
  if (lenient) *lenient = l;
  return earliest(e, l);
}
