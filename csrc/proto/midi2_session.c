/* Network MIDI 2.0 session machine: see midi2_session.h for the behaviour
 * and the implementations each part follows ([Z] Zephyr, [A] amidi2net,
 * [W] Windows MIDI Services). */
#include "midi2_session.h"

#include <string.h>

#include "ump.h"

#define NEVER UINT64_MAX
static uint64_t ms(uint32_t v) { return (uint64_t)v * 1000u; }
static uint64_t at(uint64_t now, uint32_t delay_ms) { return now + ms(delay_ms); }
static uint64_t min64(uint64_t a, uint64_t b) { return a < b ? a : b; }

void rmp_m2s_config_defaults(rmp_m2s_config *c) {
  memset(c, 0, sizeof *c);
  c->role = RMP_M2S_HOST;
  c->max_clients = RMP_M2S_MAX_PEERS;
  c->fec = 2;                     /* [W] MIDI_NETWORK_FEC_PACKET_COUNT_DEFAULT */
  c->history = 64;
  c->invite_retry_ms = 1000;
  c->invite_retries = 5;          /* [W] MIDI_NETWORK_MAX_INVITATION_ATTEMPTS */
  c->pending_timeout_ms = 120000; /* [W] MIDI_NETWORK_INVITATION_PENDING_TIMEOUT_DEFAULT */
  c->auth_attempts = 3;
  c->ping_ms = 2000;              /* [W] MIDI_NETWORK_OUTBOUND_PING_INTERVAL_DEFAULT */
  c->ping_retry_ms = 1000;
  c->ping_retries = 3;
  c->tail_ms = 50;
  c->keepalive_ms = 1000;
  c->rtx_ms = 50;
  c->rtx_tries = 3;               /* [W] MIDI_NETWORK_MAX_RETRANSMIT_REQUEST_ATTEMPTS */
  c->reset_retry_ms = 500;
  c->reset_retries = 3;
  c->bye_retry_ms = 500;          /* [W] MIDI_NETWORK_BYE_REPLY_TIMEOUT_MILLISECONDS */
  c->bye_retries = 3;             /* [W] MIDI_NETWORK_BYE_MAX_ATTEMPTS */
  c->stranger_budget = 32;
  c->answer_stream = true;
}

static bool copy_text(char *dst, size_t cap, const char *src) {
  size_t n = src ? strlen(src) : 0;
  if (n >= cap) return false;
  if (n) memcpy(dst, src, n);
  dst[n] = 0;
  return true;
}

int rmp_m2s_init(rmp_m2s *s, const rmp_m2s_config *cfg) {
  if (!s || !cfg) return RMP_M2S_EINVAL;
  memset(s, 0, sizeof *s);
  s->cfg = *cfg;
  rmp_m2s_config *c = &s->cfg;
  if (c->role != RMP_M2S_HOST && c->role != RMP_M2S_CLIENT) return RMP_M2S_EINVAL;
  if (!copy_text(s->name, sizeof s->name, cfg->name) || !copy_text(s->piid, sizeof s->piid, cfg->piid))
    return RMP_M2S_EINVAL;
  if (!copy_text(s->secret, sizeof s->secret, cfg->secret)) return RMP_M2S_EINVAL;
  s->has_secret = cfg->secret != NULL;
  if (cfg->n_users > RMP_M2S_MAX_USERS || (cfg->n_users && !cfg->users)) return RMP_M2S_EINVAL;
  for (size_t i = 0; i < cfg->n_users; i++) {
    if (!cfg->users[i].name || !cfg->users[i].password ||
        !copy_text(s->user_names[i], sizeof s->user_names[i], cfg->users[i].name) ||
        !copy_text(s->user_pw[i], sizeof s->user_pw[i], cfg->users[i].password))
      return RMP_M2S_EINVAL;
    s->users[i].name = s->user_names[i];
    s->users[i].password = s->user_pw[i];
  }
  c->name = s->name;
  c->piid = s->piid;
  c->secret = s->has_secret ? s->secret : NULL;
  c->users = c->n_users ? s->users : NULL;
  if (c->fec > RMP_M2S_MAX_FEC || c->history > RMP_M2S_HIST || c->history < c->fec) return RMP_M2S_EINVAL;
  if (c->max_clients == 0 || c->max_clients > RMP_M2S_MAX_PEERS) return RMP_M2S_EINVAL;
  if ((s->has_secret || c->n_users) && (!c->sha256 || !c->random)) return RMP_M2S_EINVAL;
  if (c->invite_retries == 0 || c->ping_retries == 0 || c->bye_retries == 0 || c->reset_retries == 0)
    return RMP_M2S_EINVAL;
  return 0;
}

/* ---- peers ---- */

static rmp_m2s_peer *by_addr(rmp_m2s *s, const rmp_addr *a) {
  for (int i = 0; i < RMP_M2S_MAX_PEERS; i++)
    if (s->peers[i].state != RMP_M2S_FREE && rmp_addr_equal(&s->peers[i].addr, a)) return &s->peers[i];
  return NULL;
}

static rmp_m2s_peer *by_id(rmp_m2s *s, uint32_t id) {
  if (id == 0) return NULL;
  for (int i = 0; i < RMP_M2S_MAX_PEERS; i++)
    if (s->peers[i].state != RMP_M2S_FREE && s->peers[i].id == id) return &s->peers[i];
  return NULL;
}

static unsigned count_clients(const rmp_m2s *s) {
  unsigned n = 0;
  for (int i = 0; i < RMP_M2S_MAX_PEERS; i++)
    n += s->peers[i].state != RMP_M2S_FREE && !s->peers[i].invited_by_us;
  return n;
}

static rmp_m2s_peer *alloc_peer(rmp_m2s *s, const rmp_addr *a) {
  for (int i = 0; i < RMP_M2S_MAX_PEERS; i++) {
    rmp_m2s_peer *p = &s->peers[i];
    if (p->state != RMP_M2S_FREE) continue;
    /* only the header: the history and receive buffers are reset on use */
    memset(p, 0, offsetof(rmp_m2s_peer, hist));
    memset(p->rx, 0, sizeof p->rx);
    p->addr = *a;
    if (++s->next_id == 0) ++s->next_id;
    p->id = s->next_id;
    return p;
  }
  return NULL;
}

static bool joined_state(int st) { return st == RMP_M2S_ESTABLISHED || st == RMP_M2S_RESETTING; }

/* ---- outbox and events ---- */

static void ob_push(rmp_m2s *s, const rmp_addr *to, const uint8_t *buf, size_t len) {
  if (s->ob_count == RMP_M2S_OUTBOX) {
    s->stats.outbox_dropped++;
    return;
  }
  unsigned i = (s->ob_first + s->ob_count++) % RMP_M2S_OUTBOX;
  memcpy(s->ob[i].buf, buf, len);
  s->ob[i].len = (uint16_t)len;
  s->ob[i].to = *to;
  s->stats.datagrams_out++;
}

bool rmp_m2s_pop_datagram(rmp_m2s *s, rmp_m2s_dgram *out) {
  if (!s->ob_count) return false;
  unsigned i = s->ob_first;
  out->buf = s->ob[i].buf;
  out->len = s->ob[i].len;
  out->to = s->ob[i].to;
  s->ob_first = (s->ob_first + 1) % RMP_M2S_OUTBOX;
  s->ob_count--;
  return true;
}

static rmp_m2s_event *ev_push(rmp_m2s *s, int type, const rmp_m2s_peer *p, uint64_t now) {
  if (s->ev_count == RMP_M2S_EVENTS) {
    s->stats.events_dropped++;
    return NULL;
  }
  rmp_m2s_event *e = &s->ev[(s->ev_first + s->ev_count++) % RMP_M2S_EVENTS];
  memset(e, 0, sizeof *e);
  e->type = type;
  e->peer = p->id;
  e->addr = p->addr;
  e->time = now;
  return e;
}

bool rmp_m2s_pop_event(rmp_m2s *s, rmp_m2s_event *out) {
  if (!s->ev_count) return false;
  *out = s->ev[s->ev_first];
  s->ev_first = (s->ev_first + 1) % RMP_M2S_EVENTS;
  if (--s->ev_count == 0) s->ev_wused = 0; /* words stay until the next call */
  return true;
}

/* One command alone in a datagram. */
static void send_cmd(rmp_m2s *s, const rmp_addr *to, const rmp_m2_cmd *c) {
  uint8_t buf[RMP_M2_MAX_DATAGRAM];
  rmp_m2_writer w;
  rmp_m2_writer_init(&w, buf, sizeof buf);
  if (rmp_m2_writer_add(&w, c) == 0) ob_push(s, to, buf, w.len);
}

static void send_simple(rmp_m2s *s, const rmp_addr *to, uint8_t code) {
  rmp_m2_cmd c = {.code = code};
  send_cmd(s, to, &c);
}

static void send_bye(rmp_m2s *s, const rmp_addr *to, uint8_t reason) {
  rmp_m2_cmd c = {.code = RMP_M2_BYE};
  c.u.bye.reason = reason;
  send_cmd(s, to, &c);
}

static void send_nak(rmp_m2s *s, const rmp_addr *to, uint8_t reason, uint32_t header) {
  rmp_m2_cmd c = {.code = RMP_M2_NAK};
  c.u.nak.reason = reason;
  c.u.nak.header = header;
  send_cmd(s, to, &c);
  s->stats.naks_out++;
}

/* May we answer an address without a session? At most one answer per
 * datagram (*once) and stranger_budget a second. */
static bool stranger_ok(rmp_m2s *s, uint64_t now, bool *once) {
  if (*once) return false;
  if (now - s->budget_start >= 1000000u || now < s->budget_start) {
    s->budget_start = now;
    s->budget_used = 0;
  }
  if (s->budget_used >= s->cfg.stranger_budget) {
    s->stats.suppressed++;
    return false;
  }
  s->budget_used++;
  *once = true;
  return true;
}

/* Ends a session: a LEFT event when it had joined or was our invitation. */
static void end_peer(rmp_m2s *s, rmp_m2s_peer *p, uint64_t now, int cause, uint8_t reason) {
  if (p->joined || p->invited_by_us) {
    rmp_m2s_event *e = ev_push(s, RMP_M2S_EV_LEFT, p, now);
    if (e) {
      e->cause = cause;
      e->reason = reason;
    }
  }
  p->state = RMP_M2S_FREE;
  p->id = 0;
}

/* ---- history (sent UMP Data, for FEC and retransmission) ---- */

static void hist_clear(rmp_m2s_peer *p) {
  p->h_first = p->h_count = 0;
  p->h_wfirst = p->h_wused = 0;
}

static void hist_add(rmp_m2s *s, rmp_m2s_peer *p, uint16_t seq, const uint32_t *w, unsigned n) {
  unsigned cap = s->cfg.history;
  if (cap == 0) return;
  while (p->h_count && (p->h_count >= cap || p->h_wused + n > RMP_M2S_HIST_WORDS)) {
    rmp_m2s_hist_ent *o = &p->hist[p->h_first];
    p->h_wfirst = (p->h_wfirst + o->len) % RMP_M2S_HIST_WORDS;
    p->h_wused -= o->len;
    p->h_first = (p->h_first + 1) % RMP_M2S_HIST;
    p->h_count--;
  }
  rmp_m2s_hist_ent *e = &p->hist[(p->h_first + p->h_count++) % RMP_M2S_HIST];
  e->seq = seq;
  e->len = (uint8_t)n;
  e->off = (uint16_t)((p->h_wfirst + p->h_wused) % RMP_M2S_HIST_WORDS);
  for (unsigned i = 0; i < n; i++) p->hwords[(e->off + i) % RMP_M2S_HIST_WORDS] = w[i];
  p->h_wused += n;
}

/* The k-th oldest history entry as a UMP Data command (words copied to w). */
static void hist_cmd(const rmp_m2s_peer *p, unsigned k, uint32_t w[RMP_M2_MAX_UMP_WORDS], rmp_m2_cmd *c) {
  const rmp_m2s_hist_ent *e = &p->hist[(p->h_first + k) % RMP_M2S_HIST];
  for (unsigned i = 0; i < e->len; i++) w[i] = p->hwords[(e->off + i) % RMP_M2S_HIST_WORDS];
  memset(c, 0, sizeof *c);
  c->code = RMP_M2_UMP_DATA;
  c->u.ump.seq = e->seq;
  c->u.ump.nwords = e->len;
  c->u.ump.words = w;
}

/* Starts a UMP Data datagram with the last `fec` commands sent, oldest
 * first, keeping room for `room` more octets; the newest are kept when not
 * all fit ([W] "we keep the newest and drop the oldest"). */
static void start_data_dgram(rmp_m2s *s, rmp_m2s_peer *p, rmp_m2_writer *w, uint8_t *buf, size_t room) {
  rmp_m2_writer_init(w, buf, RMP_M2_MAX_DATAGRAM);
  unsigned n = s->cfg.fec < p->h_count ? s->cfg.fec : p->h_count;
  size_t budget = RMP_M2_MAX_DATAGRAM - RMP_M2_SIG_LEN - room, take = 0, used = 0;
  while (take < n) {
    const rmp_m2s_hist_ent *e = &p->hist[(p->h_first + p->h_count - 1 - take) % RMP_M2S_HIST];
    size_t cost = RMP_M2_HEADER_LEN + 4u * e->len;
    if (used + cost > budget) break;
    used += cost;
    take++;
  }
  for (size_t k = p->h_count - take; k < p->h_count; k++) {
    uint32_t words[RMP_M2_MAX_UMP_WORDS];
    rmp_m2_cmd c;
    hist_cmd(p, (unsigned)k, words, &c);
    rmp_m2_writer_add(w, &c);
  }
}

/* Words of whole messages from w[0..n), at most RMP_M2_MAX_UMP_WORDS. */
static size_t chunk_len(const uint32_t *w, size_t n) {
  size_t k = 0;
  while (k < n) {
    size_t m = rmp_ump_words(w[k]);
    if (k + m > RMP_M2_MAX_UMP_WORDS) break;
    k += m;
  }
  return k;
}

/* Sends w[0..n) (whole messages; n == 0: a zero-length keep-alive, w then
 * no_words) as UMP Data commands, each with the next sequence number. */
static const uint32_t no_words[1];
static void send_data(rmp_m2s *s, rmp_m2s_peer *p, uint64_t now, const uint32_t *w, size_t n) {
  uint8_t buf[RMP_M2_MAX_DATAGRAM];
  rmp_m2_writer wr;
  bool open = false;
  size_t pos = 0;
  do {
    size_t k = chunk_len(w + pos, n - pos);
    size_t size = RMP_M2_HEADER_LEN + 4 * k;
    if (!open || wr.len + size > RMP_M2_MAX_DATAGRAM) {
      if (open) ob_push(s, &p->addr, buf, wr.len);
      start_data_dgram(s, p, &wr, buf, size);
      open = true;
    }
    rmp_m2_cmd c = {.code = RMP_M2_UMP_DATA};
    c.u.ump.seq = p->tx_next++;
    c.u.ump.nwords = (uint8_t)k;
    c.u.ump.words = w + pos;
    rmp_m2_writer_add(&wr, &c);
    hist_add(s, p, c.u.ump.seq, w + pos, (unsigned)k);
    pos += k;
  } while (pos < n);
  ob_push(s, &p->addr, buf, wr.len);
  p->t_keepalive = s->cfg.keepalive_ms ? at(now, s->cfg.keepalive_ms) : NEVER;
}

static void send_user_data(rmp_m2s *s, rmp_m2s_peer *p, uint64_t now, const uint32_t *w, size_t n) {
  send_data(s, p, now, w, n);
  if (s->cfg.tail_ms) {
    p->tail_left = s->cfg.fec ? s->cfg.fec : 1;
    p->t_tail = at(now, s->cfg.tail_ms);
  }
}

/* Answers a Retransmit Request ([W] HandleIncomingRetransmitRequest). */
static void retransmit(rmp_m2s *s, rmp_m2s_peer *p, const rmp_m2_cmd *req) {
  s->stats.rtx_requests_in++;
  if (s->cfg.history == 0) {
    send_nak(s, &p->addr, RMP_M2_NAK_NOT_SUPPORTED, req->header);
    return;
  }
  unsigned k = 0;
  while (k < p->h_count && p->hist[(p->h_first + k) % RMP_M2S_HIST].seq != req->u.rtx.seq) k++;
  if (k == p->h_count) {
    rmp_m2_cmd e = {.code = RMP_M2_RETRANSMIT_ERROR};
    e.u.rtx_err.reason = RMP_M2_RTX_NO_DATA;
    e.u.rtx_err.seq = p->h_count ? p->hist[p->h_first].seq : p->tx_next; /* earliest available [W] */
    send_cmd(s, &p->addr, &e);
    s->stats.rtx_errors_out++;
    return;
  }
  unsigned avail = p->h_count - k;
  unsigned count = req->u.rtx.count == 0 || req->u.rtx.count > avail ? avail : req->u.rtx.count;
  uint8_t buf[RMP_M2_MAX_DATAGRAM];
  rmp_m2_writer wr;
  rmp_m2_writer_init(&wr, buf, sizeof buf);
  for (unsigned i = 0; i < count; i++) {
    uint32_t words[RMP_M2_MAX_UMP_WORDS];
    rmp_m2_cmd c;
    hist_cmd(p, k + i, words, &c);
    if (wr.len + RMP_M2_HEADER_LEN + 4u * c.u.ump.nwords > RMP_M2_MAX_DATAGRAM) {
      ob_push(s, &p->addr, buf, wr.len);
      rmp_m2_writer_init(&wr, buf, sizeof buf);
    }
    rmp_m2_writer_add(&wr, &c);
    s->stats.retransmitted++;
  }
  ob_push(s, &p->addr, buf, wr.len);
}

/* ---- receiving UMP Data ---- */

static void rx_clear(rmp_m2s_peer *p) {
  memset(p->rx, 0, sizeof p->rx);
  p->rx_held = p->rx_wused = 0;
  p->rtx_out = false;
  p->rtx_tries = 0;
}

static void reset_seqs(rmp_m2s_peer *p) {
  p->tx_next = 0;
  hist_clear(p);
  p->rx_next = 0;
  p->rx_max = 0;
  p->rx_any = false;
  rx_clear(p);
  p->tail_left = 0;
}

static void deliver(rmp_m2s *s, rmp_m2s_peer *p, uint64_t now, uint16_t seq, const uint32_t *w, unsigned n,
                    bool recovered, bool fec) {
  s->stats.ump_in++;
  if (recovered) {
    if (fec) s->stats.recovered_fec++;
    else s->stats.recovered_rtx++;
  }
  if (n == 0) return; /* a keep-alive */
  rmp_m2s_event *e = NULL;
  if (s->ev_wused + n <= RMP_M2S_EVENT_WORDS) e = ev_push(s, RMP_M2S_EV_UMP, p, now);
  else s->stats.events_dropped++;
  if (e) {
    uint32_t *dst = s->ev_words + s->ev_wused;
    memcpy(dst, w, 4u * n);
    s->ev_wused += n;
    e->words = dst;
    e->nwords = (uint16_t)n;
    e->seq = seq;
    e->recovered = recovered;
  }
  if (!s->cfg.answer_stream) return;
  rmp_ump_iter it;
  rmp_ump_iter_init(&it, w, n);
  const uint32_t *m;
  unsigned len;
  rmp_ump_endpoint ep = {s->name, s->piid, 2};
  while (rmp_ump_next(&it, &m, &len) == 1) {
    if (rmp_ump_type(m[0]) != RMP_UMP_MT_STREAM) continue;
    uint32_t ans[64];
    int k = rmp_ump_stream_answer(&ep, m, len, ans, 64);
    if (k > 0 && p->state == RMP_M2S_ESTABLISHED) send_user_data(s, p, now, ans, (size_t)k);
  }
}

static rmp_m2s_rx_slot *rx_find(rmp_m2s_peer *p, uint16_t seq) {
  for (int i = 0; i < RMP_M2S_RX_SLOTS; i++)
    if (p->rx[i].used && p->rx[i].seq == seq) return &p->rx[i];
  return NULL;
}

/* Delivers held commands that are next in order. */
static void rx_drain(rmp_m2s *s, rmp_m2s_peer *p, uint64_t now) {
  rmp_m2s_rx_slot *sl;
  while (p->rx_held && (sl = rx_find(p, p->rx_next)) != NULL) {
    deliver(s, p, now, sl->seq, p->rwords + sl->off, sl->len, sl->recovered, false);
    sl->used = false;
    p->rx_held--;
    p->rx_next++;
  }
  if (p->rx_held == 0) {
    p->rx_wused = 0;
    p->rtx_out = false;
  }
}

/* The lowest held sequence number (rx_held > 0). */
static uint16_t rx_first_held(const rmp_m2s_peer *p) {
  uint16_t best = 0;
  int bd = 0x10000;
  for (int i = 0; i < RMP_M2S_RX_SLOTS; i++) {
    if (!p->rx[i].used) continue;
    int d = rmp_m2_seq_diff(p->rx[i].seq, p->rx_next);
    if (d < bd) {
      bd = d;
      best = p->rx[i].seq;
    }
  }
  return best;
}

/* Gives up the gap before the first held command and delivers what follows. */
static void rx_give_up(rmp_m2s *s, rmp_m2s_peer *p, uint64_t now) {
  if (!p->rx_held) return;
  uint16_t first = rx_first_held(p);
  uint32_t lost = (uint16_t)(first - p->rx_next);
  s->stats.lost += lost;
  rmp_m2s_event *e = ev_push(s, RMP_M2S_EV_LOST, p, now);
  if (e) e->count = lost;
  p->rx_next = first;
  p->rtx_out = false;
  p->rtx_tries = 0;
  rx_drain(s, p, now);
}

static void rx_ump(rmp_m2s *s, rmp_m2s_peer *p, uint64_t now, const rmp_m2_cmd *c, bool fec_pos) {
  uint16_t seq = c->u.ump.seq;
  unsigned n = c->u.ump.nwords;
  uint32_t w[RMP_M2_MAX_UMP_WORDS];
  rmp_ump_load_be(c->u.ump.be, n, w);
  bool late = p->rx_any && rmp_m2_seq_diff(seq, p->rx_max) <= 0;
  for (;;) {
    int d = rmp_m2_seq_diff(seq, p->rx_next);
    if (d < 0 || (d > 0 && rx_find(p, seq))) {
      s->stats.dup_in++;
      return;
    }
    if (d == 0) {
      deliver(s, p, now, seq, w, n, fec_pos || late, fec_pos);
      p->rx_next++;
      rx_drain(s, p, now);
      return;
    }
    /* ahead of a gap: hold it, if there is room */
    if (p->rx_held < RMP_M2S_RX_SLOTS && p->rx_wused + n <= RMP_M2S_RX_WORDS) {
      for (int i = 0; i < RMP_M2S_RX_SLOTS; i++) {
        rmp_m2s_rx_slot *sl = &p->rx[i];
        if (sl->used) continue;
        sl->used = true;
        sl->seq = seq;
        sl->len = (uint8_t)n;
        sl->off = (uint16_t)p->rx_wused;
        sl->recovered = fec_pos || late;
        memcpy(p->rwords + p->rx_wused, w, 4u * n);
        p->rx_wused += n;
        p->rx_held++;
        return;
      }
    }
    if (!p->rx_held) {
      /* nothing held and no room: cannot happen with n <= 64; resync */
      p->rx_next = seq;
      continue;
    }
    rx_give_up(s, p, now); /* full: give the oldest gap up, then try again */
  }
}

static void send_rtx_request(rmp_m2s *s, rmp_m2s_peer *p, uint64_t now) {
  rmp_m2_cmd c = {.code = RMP_M2_RETRANSMIT_REQUEST};
  c.u.rtx.seq = p->rx_next;
  c.u.rtx.count = (uint16_t)(rx_first_held(p) - p->rx_next);
  send_cmd(s, &p->addr, &c);
  s->stats.rtx_requests_out++;
  p->rtx_out = true;
  p->rtx_seq = p->rx_next;
  p->rtx_tries++;
  p->t_rtx = at(now, s->cfg.rtx_ms);
}

/* After a datagram: a gap that FEC did not fill asks for a retransmission. */
static void rx_after(rmp_m2s *s, rmp_m2s_peer *p, uint64_t now) {
  if (!p->rx_held) return;
  if (p->remote_no_rtx || s->cfg.rtx_tries == 0) {
    rx_give_up(s, p, now);
    return;
  }
  if (p->rtx_out && p->rtx_seq == p->rx_next) return; /* already asked; wait */
  p->rtx_tries = 0;
  send_rtx_request(s, p, now);
}

/* ---- session establishment ---- */

static void establish(rmp_m2s *s, rmp_m2s_peer *p, uint64_t now) {
  p->state = RMP_M2S_ESTABLISHED;
  p->joined = true;
  reset_seqs(p);
  p->pings_out = 0;
  p->t_ping = at(now, s->cfg.ping_ms);
  p->t_keepalive = s->cfg.keepalive_ms ? at(now, s->cfg.keepalive_ms) : NEVER;
  memset(p->nonce, 0, sizeof p->nonce);
  ev_push(s, RMP_M2S_EV_JOINED, p, now);
}

static void copy_str(char *dst, size_t cap, rmp_m2_str src) {
  size_t n = src.len < cap - 1 ? src.len : cap - 1;
  if (n) memcpy(dst, src.p, n);
  dst[n] = 0;
}

static void send_invitation(rmp_m2s *s, rmp_m2s_peer *p) {
  rmp_m2_cmd c = {.code = RMP_M2_INVITATION};
  c.u.inv.caps = (uint8_t)((p->secret[0] ? RMP_M2_CAP_AUTH : 0) | (p->user[0] ? RMP_M2_CAP_USER_AUTH : 0));
  c.u.inv.name = rmp_m2_cstr(s->name);
  c.u.inv.piid = rmp_m2_cstr(s->piid);
  send_cmd(s, &p->addr, &c);
}

static void send_accepted(rmp_m2s *s, const rmp_m2s_peer *p) {
  rmp_m2_cmd c = {.code = RMP_M2_ACCEPTED};
  c.u.inv.name = rmp_m2_cstr(s->name);
  c.u.inv.piid = rmp_m2_cstr(s->piid);
  send_cmd(s, &p->addr, &c);
}

/* Host: a fresh nonce and Authentication Required of p->method. */
static int send_auth_required(rmp_m2s *s, rmp_m2s_peer *p, uint8_t state) {
  if (s->cfg.random(s->cfg.crypto_ctx, p->nonce, sizeof p->nonce) != 0) return RMP_M2S_ECRYPTO;
  rmp_m2_cmd c = {.code = p->method};
  c.u.req.state = state;
  c.u.req.nonce = p->nonce;
  c.u.req.name = rmp_m2_cstr(s->name);
  c.u.req.piid = rmp_m2_cstr(s->piid);
  send_cmd(s, &p->addr, &c);
  return 0;
}

static uint32_t auth_wait_ms(const rmp_m2s *s) { return s->cfg.invite_retry_ms * s->cfg.invite_retries; }

static void on_invitation(rmp_m2s *s, rmp_m2s_peer *p, const rmp_addr *from, const rmp_m2_cmd *c,
                          uint64_t now, bool *once) {
  if (s->cfg.role != RMP_M2S_HOST || (p && p->invited_by_us)) {
    /* [A] [W]: an invitation to a client is NAKed as not expected */
    if (p || stranger_ok(s, now, once)) send_nak(s, from, RMP_M2_NAK_NOT_EXPECTED, c->header);
    return;
  }
  if (p && joined_state(p->state)) { /* again: our Accepted was lost ([W]) */
    send_accepted(s, p);
    return;
  }
  if (p && p->state == RMP_M2S_BYEING) return;
  if (!p) {
    if (count_clients(s) >= s->cfg.max_clients || !(p = alloc_peer(s, from))) {
      if (stranger_ok(s, now, once)) send_bye(s, from, RMP_M2_BYE_TOO_MANY_SESSIONS); /* [A] */
      return;
    }
    p->state = RMP_M2S_AUTH_WAIT; /* no event for it until it joins */
  }
  copy_str(p->name, sizeof p->name, c->u.inv.name);
  copy_str(p->piid, sizeof p->piid, c->u.inv.piid);
  p->caps = c->u.inv.caps;
  bool need = s->has_secret || s->cfg.n_users;
  if (!need) {
    send_accepted(s, p);
    establish(s, p, now);
    return;
  }
  if (s->cfg.n_users && (p->caps & RMP_M2_CAP_USER_AUTH)) p->method = RMP_M2_USER_AUTH_REQUIRED;
  else if (s->has_secret && (p->caps & RMP_M2_CAP_AUTH)) p->method = RMP_M2_AUTH_REQUIRED;
  else {
    send_bye(s, from, RMP_M2_BYE_NO_MATCHING_AUTH); /* [A] auth_forced, [W] */
    p->state = RMP_M2S_FREE;
    p->id = 0;
    return;
  }
  if (send_auth_required(s, p, RMP_M2_AUTH_FIRST) != 0) {
    p->state = RMP_M2S_FREE;
    p->id = 0;
    return;
  }
  p->t_state = at(now, auth_wait_ms(s));
}

static bool same_digest(const uint8_t *a, const uint8_t *b) {
  uint8_t d = 0;
  for (int i = 0; i < RMP_M2_DIGEST_LEN; i++) d |= (uint8_t)(a[i] ^ b[i]);
  return d == 0;
}

static void on_auth(rmp_m2s *s, rmp_m2s_peer *p, const rmp_addr *from, const rmp_m2_cmd *c, uint64_t now,
                    bool *once) {
  bool user = c->code == RMP_M2_INVITATION_USER_AUTH;
  if (!p || p->state != RMP_M2S_AUTH_WAIT ||
      p->method != (user ? RMP_M2_USER_AUTH_REQUIRED : RMP_M2_AUTH_REQUIRED)) {
    if (p || stranger_ok(s, now, once)) send_nak(s, from, RMP_M2_NAK_NOT_EXPECTED, c->header); /* [Z] [A] */
    return;
  }
  uint8_t want[RMP_M2_DIGEST_LEN];
  int rc = -1;
  if (!user) {
    rc = rmp_m2_digest(s->cfg.sha256, s->cfg.crypto_ctx, p->nonce, s->secret, strlen(s->secret), NULL, 0, want);
  } else {
    for (size_t i = 0; i < s->cfg.n_users; i++) {
      const char *name = s->user_names[i];
      if (strlen(name) == c->u.auth.user.len && memcmp(name, c->u.auth.user.p, c->u.auth.user.len) == 0) {
        rc = rmp_m2_digest(s->cfg.sha256, s->cfg.crypto_ctx, p->nonce, name, strlen(name), s->user_pw[i],
                           strlen(s->user_pw[i]), want);
        break;
      }
    }
  }
  if (rc == 0 && same_digest(want, c->u.auth.digest)) {
    send_accepted(s, p);
    establish(s, p, now);
    return;
  }
  /* a wrong digest and an unknown user look the same (no user list for probes) */
  s->stats.auth_failures++;
  if (++p->auth_fails >= s->cfg.auth_attempts) {
    send_bye(s, from, RMP_M2_BYE_AUTH_FAILED);
    end_peer(s, p, now, RMP_M2S_LEFT_AUTH_FAILED, 0);
    return;
  }
  if (send_auth_required(s, p, RMP_M2_AUTH_INCORRECT) != 0) end_peer(s, p, now, RMP_M2S_LEFT_AUTH_FAILED, 0);
  else p->t_state = at(now, auth_wait_ms(s));
}

static bool inviting(const rmp_m2s_peer *p) {
  return p && p->invited_by_us &&
         (p->state == RMP_M2S_INVITING || p->state == RMP_M2S_PENDING || p->state == RMP_M2S_AUTHING);
}

static void on_auth_required(rmp_m2s *s, rmp_m2s_peer *p, const rmp_m2_cmd *c, uint64_t now) {
  bool user = c->code == RMP_M2_USER_AUTH_REQUIRED;
  if (c->u.req.state != RMP_M2_AUTH_FIRST) {
    /* our digest was refused ([A] client: "Invalid auth: state") */
    send_bye(s, &p->addr, RMP_M2_BYE_INVITATION_CANCELED);
    end_peer(s, p, now, RMP_M2S_LEFT_AUTH_FAILED, c->u.req.state);
    return;
  }
  if (user ? !p->user[0] : !p->secret[0]) {
    send_bye(s, &p->addr, RMP_M2_BYE_INVITATION_CANCELED);
    end_peer(s, p, now, RMP_M2S_LEFT_REFUSED, RMP_M2_BYE_NO_MATCHING_AUTH);
    return;
  }
  uint8_t digest[RMP_M2_DIGEST_LEN];
  int rc = user ? rmp_m2_digest(s->cfg.sha256, s->cfg.crypto_ctx, c->u.req.nonce, p->user, strlen(p->user),
                                p->password, strlen(p->password), digest)
                : rmp_m2_digest(s->cfg.sha256, s->cfg.crypto_ctx, c->u.req.nonce, p->secret, strlen(p->secret),
                                NULL, 0, digest);
  if (rc != 0) {
    send_bye(s, &p->addr, RMP_M2_BYE_INVITATION_CANCELED);
    end_peer(s, p, now, RMP_M2S_LEFT_REFUSED, 0);
    return;
  }
  copy_str(p->name, sizeof p->name, c->u.req.name);
  copy_str(p->piid, sizeof p->piid, c->u.req.piid);
  rmp_m2_cmd a = {.code = user ? RMP_M2_INVITATION_USER_AUTH : RMP_M2_INVITATION_AUTH};
  a.u.auth.digest = digest;
  if (user) a.u.auth.user = rmp_m2_cstr(p->user);
  send_cmd(s, &p->addr, &a);
  p->state = RMP_M2S_AUTHING;
  p->t_state = at(now, s->cfg.invite_retry_ms);
}

/* ---- one command ---- */

static void on_command(rmp_m2s *s, const rmp_addr *from, const rmp_m2_cmd *c, uint64_t now, bool fec_pos,
                       bool *once) {
  rmp_m2s_peer *p = by_addr(s, from);
  switch (c->code) {
  case RMP_M2_INVITATION:
    on_invitation(s, p, from, c, now, once);
    return;
  case RMP_M2_INVITATION_AUTH:
  case RMP_M2_INVITATION_USER_AUTH:
    on_auth(s, p, from, c, now, once);
    return;
  case RMP_M2_ACCEPTED:
    if (inviting(p)) {
      copy_str(p->name, sizeof p->name, c->u.inv.name);
      copy_str(p->piid, sizeof p->piid, c->u.inv.piid);
      establish(s, p, now);
    } else if (!p || !p->invited_by_us || !joined_state(p->state)) {
      if (p) send_nak(s, from, RMP_M2_NAK_NOT_EXPECTED, c->header);
      else s->stats.foreign++;
    } /* else a repeated answer to a repeated invitation */
    return;
  case RMP_M2_PENDING:
    if (p && inviting(p) && p->state == RMP_M2S_INVITING) {
      p->state = RMP_M2S_PENDING; /* stop repeating, wait ([W] HandleIncomingInvitationReplyPending) */
      p->t_state = at(now, s->cfg.pending_timeout_ms);
      copy_str(p->name, sizeof p->name, c->u.inv.name);
      copy_str(p->piid, sizeof p->piid, c->u.inv.piid);
      ev_push(s, RMP_M2S_EV_PENDING, p, now);
    } else if (!p) s->stats.foreign++;
    return;
  case RMP_M2_AUTH_REQUIRED:
  case RMP_M2_USER_AUTH_REQUIRED:
    if (inviting(p)) on_auth_required(s, p, c, now);
    else if (p) send_nak(s, from, RMP_M2_NAK_NOT_EXPECTED, c->header);
    else s->stats.foreign++;
    return;
  case RMP_M2_PING: {
    if (!p && !stranger_ok(s, now, once)) return;
    rmp_m2_cmd r = {.code = RMP_M2_PING_REPLY};
    r.u.ping.id = c->u.ping.id;
    send_cmd(s, from, &r);
    return;
  }
  case RMP_M2_PING_REPLY:
    if (p && p->ping_sent && c->u.ping.id == p->ping_id) {
      p->rtt = now - p->ping_sent;
      p->ping_sent = 0;
    } else if (!p) s->stats.foreign++;
    return;
  case RMP_M2_NAK:
    s->stats.naks_in++;
    if (!p) {
      s->stats.foreign++;
      return;
    }
    {
      rmp_m2s_event *e = ev_push(s, RMP_M2S_EV_NAK, p, now);
      if (e) {
        e->reason = c->u.nak.reason;
        e->header = c->u.nak.header;
      }
    }
    {
      uint8_t code = (uint8_t)(c->u.nak.header >> 24);
      if (code == RMP_M2_RETRANSMIT_REQUEST) {
        /* [W] HandleIncomingNAK: the remote does not retransmit: stop asking */
        if (c->u.nak.reason == RMP_M2_NAK_NOT_SUPPORTED) p->remote_no_rtx = true;
        rx_give_up(s, p, now);
      } else if (inviting(p) && (code == RMP_M2_INVITATION || code == RMP_M2_INVITATION_AUTH ||
                                 code == RMP_M2_INVITATION_USER_AUTH)) {
        end_peer(s, p, now, RMP_M2S_LEFT_REFUSED, c->u.nak.reason);
      }
    }
    return;
  case RMP_M2_BYE:
    if (p || stranger_ok(s, now, once)) send_simple(s, from, RMP_M2_BYE_REPLY);
    if (!p) return;
    if (inviting(p)) end_peer(s, p, now, RMP_M2S_LEFT_REFUSED, c->u.bye.reason);
    else end_peer(s, p, now, RMP_M2S_LEFT_BYE, c->u.bye.reason);
    return;
  case RMP_M2_BYE_REPLY:
    if (p && p->state == RMP_M2S_BYEING) end_peer(s, p, now, RMP_M2S_LEFT_LOCAL, 0);
    else if (!p) s->stats.foreign++;
    return;
  default:
    break;
  }
  /* what needs an established session */
  if (!p || !joined_state(p->state)) {
    if (p && inviting(p)) return; /* the host is ahead of its lost Accepted; our retry fixes it */
    if (p && p->state == RMP_M2S_BYEING) return;
    s->stats.foreign++;
    if (stranger_ok(s, now, once)) send_bye(s, from, RMP_M2_BYE_NOT_ESTABLISHED); /* [A] [W] */
    return;
  }
  switch (c->code) {
  case RMP_M2_UMP_DATA:
    rx_ump(s, p, now, c, fec_pos);
    return;
  case RMP_M2_RETRANSMIT_REQUEST:
    retransmit(s, p, c);
    return;
  case RMP_M2_RETRANSMIT_ERROR:
    rx_give_up(s, p, now); /* [W] HandleIncomingRetransmitError: accept the loss */
    return;
  case RMP_M2_SESSION_RESET: {
    reset_seqs(p);
    p->state = RMP_M2S_ESTABLISHED;
    send_simple(s, from, RMP_M2_SESSION_RESET_REPLY);
    rmp_m2s_event *e = ev_push(s, RMP_M2S_EV_RESET, p, now);
    if (e) e->remote = true;
    return;
  }
  case RMP_M2_SESSION_RESET_REPLY:
    if (p->state == RMP_M2S_RESETTING) {
      reset_seqs(p);
      p->state = RMP_M2S_ESTABLISHED;
      ev_push(s, RMP_M2S_EV_RESET, p, now);
    }
    return;
  default:
    return;
  }
}

int rmp_m2s_on_packet(rmp_m2s *s, uint64_t now, const uint8_t *buf, size_t len, const rmp_addr *from) {
  s->stats.datagrams_in++;
  rmp_m2_reader r;
  int rc = rmp_m2_reader_init(&r, buf, len);
  if (rc < 0 || !from) {
    s->stats.bad++;
    return rc < 0 ? rc : RMP_M2_EINVAL;
  }
  rmp_m2s_peer *p = by_addr(s, from);
  if (p) {
    p->pings_out = 0;
    p->t_ping = at(now, s->cfg.ping_ms);
  }
  /* First pass: the highest UMP Data sequence number in the datagram, so
   * that a command before it (an FEC copy) can be told from a fresh one. */
  bool any_ump = false;
  uint16_t last_seq = 0;
  rmp_m2_reader scan = r;
  rmp_m2_cmd c;
  while ((rc = rmp_m2_read(&scan, &c)) != 0) {
    if (rc == 1 && c.code == RMP_M2_UMP_DATA) {
      if (!any_ump || rmp_m2_seq_diff(c.u.ump.seq, last_seq) > 0) last_seq = c.u.ump.seq;
      any_ump = true;
    }
  }
  bool once = false;
  int handled = 0;
  while ((rc = rmp_m2_read(&r, &c)) != 0) {
    p = by_addr(s, from);
    if (rc < 0) {
      s->stats.bad++;
      /* [Z] NAKs malformed and unknown commands; only to a session's peer
       * here, and never a NAK */
      bool known = p && p->state != RMP_M2S_FREE;
      if (known && c.header && c.code != RMP_M2_NAK)
        send_nak(s, from, rc == RMP_M2_EUNKNOWN ? RMP_M2_NAK_NOT_SUPPORTED : RMP_M2_NAK_MALFORMED, c.header);
      continue;
    }
    handled++;
    bool fec_pos = c.code == RMP_M2_UMP_DATA && rmp_m2_seq_diff(c.u.ump.seq, last_seq) < 0;
    on_command(s, from, &c, now, fec_pos, &once);
  }
  p = by_addr(s, from);
  if (p && joined_state(p->state)) {
    rx_after(s, p, now);
    if (any_ump && (!p->rx_any || rmp_m2_seq_diff(last_seq, p->rx_max) > 0)) {
      p->rx_max = last_seq;
      p->rx_any = true;
    }
  }
  return handled;
}

/* ---- time ---- */

static void tick_peer(rmp_m2s *s, rmp_m2s_peer *p, uint64_t now) {
  switch (p->state) {
  case RMP_M2S_INVITING:
  case RMP_M2S_AUTHING:
    if (now < p->t_state) return;
    if (p->tries >= s->cfg.invite_retries) {
      send_bye(s, &p->addr, RMP_M2_BYE_INVITATION_CANCELED); /* [W] "a Bye Command with reason 0x80" */
      end_peer(s, p, now, RMP_M2S_LEFT_INVITE_FAILED, 0);
      return;
    }
    p->tries++;
    p->state = RMP_M2S_INVITING; /* a lost digest: start again for a new nonce */
    send_invitation(s, p);
    p->t_state = at(now, s->cfg.invite_retry_ms);
    return;
  case RMP_M2S_PENDING:
    if (now >= p->t_state) {
      send_bye(s, &p->addr, RMP_M2_BYE_INVITATION_CANCELED);
      end_peer(s, p, now, RMP_M2S_LEFT_INVITE_FAILED, 0);
    }
    return;
  case RMP_M2S_AUTH_WAIT:
    if (now >= p->t_state) {
      p->state = RMP_M2S_FREE; /* never joined: gone without a word */
      p->id = 0;
    }
    return;
  case RMP_M2S_BYEING:
    if (now < p->t_state) return;
    if (p->tries >= s->cfg.bye_retries) {
      end_peer(s, p, now, RMP_M2S_LEFT_LOCAL, 0);
      return;
    }
    p->tries++;
    send_bye(s, &p->addr, p->bye_reason);
    p->t_state = at(now, s->cfg.bye_retry_ms);
    return;
  case RMP_M2S_RESETTING:
    if (now >= p->t_state) {
      if (p->tries >= s->cfg.reset_retries) {
        /* no reply: most likely the replies were lost, so reset as asked */
        reset_seqs(p);
        p->state = RMP_M2S_ESTABLISHED;
        ev_push(s, RMP_M2S_EV_RESET, p, now);
      } else {
        p->tries++;
        send_simple(s, &p->addr, RMP_M2_SESSION_RESET);
        p->t_state = at(now, s->cfg.reset_retry_ms);
      }
    }
    break;
  case RMP_M2S_ESTABLISHED:
    break;
  default:
    return;
  }
  /* established (or resetting) */
  if (now >= p->t_ping) {
    if (p->pings_out >= s->cfg.ping_retries) {
      send_bye(s, &p->addr, RMP_M2_BYE_TIMEOUT);
      end_peer(s, p, now, RMP_M2S_LEFT_TIMEOUT, RMP_M2_BYE_TIMEOUT);
      return;
    }
    rmp_m2_cmd c = {.code = RMP_M2_PING};
    c.u.ping.id = ++p->ping_id;
    send_cmd(s, &p->addr, &c);
    s->stats.pings_out++;
    p->ping_sent = now ? now : 1;
    p->pings_out++;
    p->t_ping = at(now, s->cfg.ping_retry_ms);
  }
  if (p->rtx_out && now >= p->t_rtx) {
    if (p->rtx_tries >= s->cfg.rtx_tries) {
      rx_give_up(s, p, now);
      rx_after(s, p, now);
    } else {
      send_rtx_request(s, p, now);
    }
  }
  if (p->state != RMP_M2S_ESTABLISHED) return;
  if (p->tail_left && now >= p->t_tail) {
    p->tail_left--;
    p->t_tail = at(now, s->cfg.tail_ms);
    send_data(s, p, now, no_words, 0);
    s->stats.keepalives_out++;
  } else if (s->cfg.keepalive_ms && now >= p->t_keepalive) {
    send_data(s, p, now, no_words, 0);
    s->stats.keepalives_out++;
  }
}

void rmp_m2s_tick(rmp_m2s *s, uint64_t now) {
  for (int i = 0; i < RMP_M2S_MAX_PEERS; i++)
    if (s->peers[i].state != RMP_M2S_FREE) tick_peer(s, &s->peers[i], now);
}

uint64_t rmp_m2s_next_deadline(const rmp_m2s *s) {
  uint64_t t = NEVER;
  for (int i = 0; i < RMP_M2S_MAX_PEERS; i++) {
    const rmp_m2s_peer *p = &s->peers[i];
    switch (p->state) {
    case RMP_M2S_FREE:
      continue;
    case RMP_M2S_ESTABLISHED:
    case RMP_M2S_RESETTING:
      t = min64(t, p->t_ping);
      if (p->rtx_out) t = min64(t, p->t_rtx);
      if (p->state == RMP_M2S_RESETTING) t = min64(t, p->t_state);
      else {
        if (p->tail_left) t = min64(t, p->t_tail);
        if (s->cfg.keepalive_ms) t = min64(t, p->t_keepalive);
      }
      break;
    default:
      t = min64(t, p->t_state);
      break;
    }
  }
  return t;
}

/* ---- application calls ---- */

int rmp_m2s_invite(rmp_m2s *s, uint64_t now, const rmp_addr *to, const rmp_m2s_auth *auth, uint32_t *id) {
  if (!s || !to || to->family == RMP_AF_NONE) return RMP_M2S_EINVAL;
  const char *secret = auth ? auth->secret : NULL, *user = auth ? auth->user : NULL,
             *password = auth ? auth->password : NULL;
  if ((user != NULL) != (password != NULL)) return RMP_M2S_EINVAL;
  if ((secret && (!*secret || strlen(secret) > RMP_M2_CRED_MAX)) ||
      (user && (!*user || strlen(user) > RMP_M2_CRED_MAX || strlen(password) > RMP_M2_CRED_MAX)))
    return RMP_M2S_EINVAL;
  if ((secret || user) && !s->cfg.sha256) return RMP_M2S_EINVAL;
  if (by_addr(s, to)) return RMP_M2S_EBUSY;
  rmp_m2s_peer *p = alloc_peer(s, to);
  if (!p) return RMP_M2S_EFULL;
  p->invited_by_us = true;
  copy_text(p->secret, sizeof p->secret, secret);
  copy_text(p->user, sizeof p->user, user);
  copy_text(p->password, sizeof p->password, password);
  p->state = RMP_M2S_INVITING;
  p->tries = 1;
  send_invitation(s, p);
  p->t_state = at(now, s->cfg.invite_retry_ms);
  if (s->cfg.random) s->cfg.random(s->cfg.crypto_ctx, (uint8_t *)&p->ping_id, sizeof p->ping_id);
  if (id) *id = p->id;
  return 0;
}

int rmp_m2s_send(rmp_m2s *s, uint64_t now, uint32_t peer, const uint32_t *words, size_t n) {
  if (!s || (n && !words) || !rmp_ump_whole(words, n)) return RMP_M2S_EINVAL;
  if (n == 0) return 0;
  if (peer) {
    rmp_m2s_peer *p = by_id(s, peer);
    if (!p || p->state != RMP_M2S_ESTABLISHED) return RMP_M2S_ENOPEER;
    send_user_data(s, p, now, words, n);
    return 1;
  }
  int count = 0;
  for (int i = 0; i < RMP_M2S_MAX_PEERS; i++) {
    if (s->peers[i].state != RMP_M2S_ESTABLISHED) continue;
    send_user_data(s, &s->peers[i], now, words, n);
    count++;
  }
  return count;
}

int rmp_m2s_reset(rmp_m2s *s, uint64_t now, uint32_t peer) {
  rmp_m2s_peer *p = by_id(s, peer);
  if (!p) return RMP_M2S_ENOPEER;
  if (p->state != RMP_M2S_ESTABLISHED) return RMP_M2S_EBUSY;
  p->state = RMP_M2S_RESETTING;
  p->tries = 1;
  send_simple(s, &p->addr, RMP_M2_SESSION_RESET);
  p->t_state = at(now, s->cfg.reset_retry_ms);
  return 0;
}

static void bye_peer(rmp_m2s *s, rmp_m2s_peer *p, uint64_t now, uint8_t reason) {
  if (p->state == RMP_M2S_BYEING) return;
  if (p->state == RMP_M2S_AUTH_WAIT) { /* never joined */
    send_bye(s, &p->addr, reason);
    p->state = RMP_M2S_FREE;
    p->id = 0;
    return;
  }
  if (inviting(p)) reason = RMP_M2_BYE_INVITATION_CANCELED; /* [W] */
  send_bye(s, &p->addr, reason);
  p->state = RMP_M2S_BYEING;
  p->bye_reason = reason;
  p->tries = 1;
  p->t_state = at(now, s->cfg.bye_retry_ms);
}

int rmp_m2s_bye(rmp_m2s *s, uint64_t now, uint32_t peer, uint8_t reason) {
  if (peer) {
    rmp_m2s_peer *p = by_id(s, peer);
    if (!p) return RMP_M2S_ENOPEER;
    bye_peer(s, p, now, reason);
    return 1;
  }
  int n = 0;
  for (int i = 0; i < RMP_M2S_MAX_PEERS; i++)
    if (s->peers[i].state != RMP_M2S_FREE) {
      bye_peer(s, &s->peers[i], now, reason);
      n++;
    }
  return n;
}

int rmp_m2s_peer_get(const rmp_m2s *s, uint32_t id, rmp_m2s_peer_info *out) {
  const rmp_m2s_peer *p = by_id((rmp_m2s *)s, id);
  if (!p) return RMP_M2S_ENOPEER;
  out->id = p->id;
  out->state = p->state;
  out->invited_by_us = p->invited_by_us;
  out->addr = p->addr;
  out->name = p->name;
  out->piid = p->piid;
  out->rtt = p->rtt;
  out->tx_next = p->tx_next;
  out->rx_next = p->rx_next;
  return 0;
}

size_t rmp_m2s_peers(const rmp_m2s *s, uint32_t *ids, size_t cap) {
  size_t n = 0;
  for (int i = 0; i < RMP_M2S_MAX_PEERS; i++)
    if (s->peers[i].state != RMP_M2S_FREE) {
      if (n < cap) ids[n] = s->peers[i].id;
      n++;
    }
  return n;
}

const char *rmp_m2s_cause_name(int cause) {
  switch (cause) {
  case RMP_M2S_LEFT_BYE: return "bye";
  case RMP_M2S_LEFT_LOCAL: return "local";
  case RMP_M2S_LEFT_TIMEOUT: return "timeout";
  case RMP_M2S_LEFT_INVITE_FAILED: return "invite_failed";
  case RMP_M2S_LEFT_AUTH_FAILED: return "auth_failed";
  case RMP_M2S_LEFT_REFUSED: return "refused";
  default: return "unknown";
  }
}

const char *rmp_m2s_state_name(int state) {
  switch (state) {
  case RMP_M2S_FREE: return "free";
  case RMP_M2S_INVITING: return "inviting";
  case RMP_M2S_PENDING: return "pending";
  case RMP_M2S_AUTHING: return "authenticating";
  case RMP_M2S_AUTH_WAIT: return "auth_wait";
  case RMP_M2S_ESTABLISHED: return "established";
  case RMP_M2S_RESETTING: return "resetting";
  case RMP_M2S_BYEING: return "leaving";
  default: return "unknown";
  }
}
