/* A MIDI session: RFC 6295's MIDI command section on top of an RTP session.
 * Sending gathers the messages given in one loop turn into one packet;
 * receiving decodes each packet into messages with their times. */
#include "runtime.h"
#include "journal.h"
#include "midi_cmd.h"
#include "midi_msg.h"
#include "midi_queue.h"
#include "rtp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_SYSEX (1u << 20)
#define DEFAULT_JOURNAL_HISTORY 256u
#define MAX_JOURNAL_HISTORY 32767u /* half the sequence space */
#define MAX_PACKET 1500

typedef struct turn_handles {
  uv_idle_t idle;    /* keeps the loop from blocking while messages wait */
  uv_check_t check;  /* flushes them after the loop turn's callbacks */
  uv_timer_t guard;  /* journal-only packets after the last command */
  rtpmidi_midi_session *owner;
  int open;
} turn_handles;

/* Guard packets after the last packet with commands, so that its loss is
 * repaired even when nothing follows it (RFC 4696 section 7): delays from
 * the last packet, in ms. Then, when the peer gives feedback (RTCP receiver
 * reports) but has not confirmed the last packet, one guard a second, at most
 * MAX_LATE_GUARDS of them: at 50% loss the open-loop five are all lost about
 * once in 32 stream endings, and the last notes would stay wrong for good. A
 * peer that never reports gets the open-loop five only. */
static const unsigned GUARD_DELAYS[] = {20, 60, 140, 300, 620};
#define N_GUARDS (sizeof GUARD_DELAYS / sizeof GUARD_DELAYS[0])
#define LATE_GUARD_MS 1000u
#define MAX_LATE_GUARDS 30u

struct rtpmidi_midi_session {
  rtpmidi_session *rtp;
  rtpmidi_midi_events ev;
  void *ud;
  rtpmidi_midi_config cfg;
  rtpmidi_runtime *rt;
  turn_handles *turn;    /* made by the first send: a session that only receives has none */
  rmc_burst_hook burst;  /* flushes at the end of a received burst (runtime.h) */
  bool flushing;
  /* sending */
  rmc_midi_queue q;
  rmp_cmd_encoder enc;
  /* receiving */
  rmp_cmd_decoder dec;
  uint8_t *sysex;        /* max_sysex octets, allocated with the first SysEx received */
  rmp_ts_anchor clock;   /* the peer's RTP time to ours */
  /* The recovery journal: the sender's state (~37 KiB) is allocated with the
   * first packet that carries commands, the receiver's (~17 KiB) with the
   * first packet received, so that an idle, send-only or receive-only
   * session does not pay for what it does not use. NULL until then, and
   * always when recovery is off. Both begin in the state a fresh one has
   * at its first packet, so allocating them late changes nothing on the
   * wire. */
  rmp_ej_sender *jsend;
  rmp_ej_receiver *jrecv;
  uint16_t last_cmd_seq;   /* the last packet that carried commands */
  bool cmd_sent;           /* last_cmd_seq is set */
  unsigned guards_sent;
  bool feedback;           /* the peer has sent a receiver report */
  double delivering_time;  /* time of the packet being delivered (repairs) */
  rtpmidi_midi_stats st;
  unsigned busy;         /* inside on_rtp or a send: freeing waits until it returns */
  bool dead;
};

static void on_rtp(void *ud, uint32_t timestamp, const uint8_t *payload, size_t len,
                   bool recovery, bool marker);
static void destroy(rtpmidi_midi_session *m);
static void on_drop(void *ud, const char *reason, const char *detail) {
  rtpmidi_midi_session *m = ud;
  if (m->ev.on_drop) m->ev.on_drop(m->ud, reason, detail);
}

static void on_turn_closed(uv_handle_t *h) {
  turn_handles *t = h->data;
  if (--t->open == 0) free(t);
}

static void on_check(uv_check_t *h) {
  turn_handles *t = h->data;
  if (t->owner) rtpmidi_midi_session_flush(t->owner);
}

static void on_idle(uv_idle_t *h) { (void)h; }

static void on_burst_end(void *owner) { rtpmidi_midi_session_flush(owner); }

/* The journal sender, made for the first packet with commands. Open loop:
 * the journal takes at most half the payload budget and reaches back at
 * most journal_history packets; feedback trims it much sooner. */
static int open_sender(rtpmidi_midi_session *m) {
  m->jsend = malloc(sizeof *m->jsend);
  if (!m->jsend) return UV_ENOMEM;
  rmp_ej_send_config jc = {.max_history = (uint16_t)m->cfg.journal_history,
                           .max_size = (uint16_t)(m->cfg.payload_budget / 2), .y_window = 64};
  rmp_ej_send_init(m->jsend, &jc);
  return 0;
}

/* The journal receiver, made for the first packet received. */
static int open_receiver(rtpmidi_midi_session *m) {
  m->jrecv = malloc(sizeof *m->jrecv);
  if (!m->jrecv) return UV_ENOMEM;
  rmp_ej_recv_init(m->jrecv);
  return 0;
}

/* Feedback from the peer's RTCP reports: its journal checkpoint can move. */
static void on_report(void *ud, const rtpmidi_receiver_report *rr) {
  rtpmidi_midi_session *m = ud;
  m->feedback = true;
  if (m->jsend) rmp_ej_send_ack(m->jsend, (uint16_t)rr->ext_highest_seq);
}

/* The peer confirmed (through its reports) the last packet with commands,
 * or nothing was sent: no guard is needed. */
static bool acknowledged(const rtpmidi_midi_session *m) {
  if (!m->jsend || !m->cmd_sent) return true;
  uint16_t ahead = (uint16_t)(rmp_ej_send_checkpoint(m->jsend) - m->last_cmd_seq);
  return ahead != 0 && ahead < 0x8000;
}

static int send_packet(rtpmidi_midi_session *m, const rmp_cmd_msg *msgs, size_t n, uint32_t ts,
                       rmp_cmd_enc_info *info);
static void arm_guard(rtpmidi_midi_session *m);

/* A send may report a drop (an ICMP error of an earlier datagram) whose
 * callback frees the session: code that sends holds it (busy) and lets go
 * with let_go, which frees it when that happened. Returns true then. */
static bool let_go(rtpmidi_midi_session *m) {
  if (--m->busy || !m->dead) return false;
  destroy(m);
  return true;
}

static void on_guard(uv_timer_t *h) {
  turn_handles *t = h->data;
  rtpmidi_midi_session *m = t->owner;
  if (!m || !m->jsend || !rtpmidi_session_started(m->rtp)) return;
  if (acknowledged(m)) return; /* nothing left to protect */
  rmp_cmd_enc_info info;
  m->busy++;
  if (send_packet(m, NULL, 0, rtpmidi_session_media_time(m->rtp), &info) == 0) m->st.guard_packets++;
  m->guards_sent++;
  if (!m->dead) arm_guard(m);
  let_go(m);
}

static void arm_guard(rtpmidi_midi_session *m) {
  if (!m->jsend) return;
  if (m->guards_sent < N_GUARDS) {
    unsigned prev = m->guards_sent ? GUARD_DELAYS[m->guards_sent - 1] : 0;
    uv_timer_start(&m->turn->guard, on_guard, GUARD_DELAYS[m->guards_sent] - prev, 0);
  } else if (m->feedback && m->guards_sent < N_GUARDS + MAX_LATE_GUARDS) {
    uv_timer_start(&m->turn->guard, on_guard, LATE_GUARD_MS, 0);
  }
}

/* One packet: the command section for msgs[0..n) that fits, then the
 * journal of everything before this packet. */
static int send_packet(rtpmidi_midi_session *m, const rmp_cmd_msg *msgs, size_t n, uint32_t ts,
                       rmp_cmd_enc_info *info) {
  uint8_t pkt[MAX_PACKET];
  uint8_t journal[MAX_PACKET];
  uint16_t seq = rtpmidi_session_next_seq(m->rtp);
  int jlen = 0;
  /* A sender made at creation would have ignored every acknowledgement
   * until now (nothing sent yet): one made now is in the same state. */
  if (m->cfg.recovery && n > 0 && !m->jsend && open_sender(m)) return UV_ENOMEM;
  if (m->jsend) {
    jlen = rmp_ej_send_encode(m->jsend, seq, journal, m->cfg.payload_budget / 2);
    if (jlen < 0) jlen = 0; /* cannot happen within the bounds; send without */
  }
  size_t budget = m->cfg.payload_budget - (size_t)jlen;
  if (budget < RMP_CMD_MIN_BUDGET) budget = RMP_CMD_MIN_BUDGET;
  int len = rmp_cmd_encode(&m->enc, msgs, n, jlen > 0, budget, pkt, sizeof pkt - (size_t)jlen, info);
  if (len < 0) return len;
  memcpy(pkt + len, journal, (size_t)jlen);
  int r = rtpmidi_session_send(m->rtp, pkt, (size_t)len + (size_t)jlen, ts, false);
  if (r) return r;
  m->st.journal_bytes_sent += (uint64_t)jlen;
  if (m->jsend && info->nmsgs + info->sysex_partial > 0) {
    for (size_t i = 0; i < info->nmsgs; i++) rmp_ej_send_record(m->jsend, seq, msgs[i].data, msgs[i].len);
    m->last_cmd_seq = seq;
    m->cmd_sent = true;
    m->guards_sent = 0;
  }
  return 0;
}

int rtpmidi_midi_session_new(rtpmidi_runtime *rt, const rtpmidi_midi_config *cfg,
                             const rtpmidi_midi_events *ev, void *ud,
                             rtpmidi_midi_session **out, const char **err) {
  rtpmidi_midi_session *m = calloc(1, sizeof *m);
  if (!m) return UV_ENOMEM;
  m->cfg = *cfg;
  if (m->cfg.rtp.payload_type < 0) m->cfg.rtp.payload_type = 97;
  if (!m->cfg.payload_budget) m->cfg.payload_budget = RMP_CMD_DEFAULT_BUDGET;
  if (m->cfg.payload_budget < RMP_CMD_MIN_BUDGET || m->cfg.payload_budget > MAX_PACKET - 12) {
    if (err) *err = "payload_budget";
    free(m);
    return UV_EINVAL;
  }
  if (!m->cfg.journal_history) m->cfg.journal_history = DEFAULT_JOURNAL_HISTORY;
  if (m->cfg.journal_history > MAX_JOURNAL_HISTORY) {
    if (err) *err = "journal_history";
    free(m);
    return UV_EINVAL;
  }
  if (!m->cfg.max_sysex) m->cfg.max_sysex = DEFAULT_MAX_SYSEX;
  if (ev) m->ev = *ev;
  m->ud = ud;
  rtpmidi_session_events rev = {.on_rtp = on_rtp, .on_drop = on_drop,
                                .on_receiver_report = on_report};
  int r = rtpmidi_session_new(rt, &m->cfg.rtp, &rev, m, &m->rtp, err);
  if (r) {
    free(m);
    return r;
  }
  m->rt = rt;
  m->burst.run = on_burst_end;
  m->burst.owner = m;
  rmp_cmd_encoder_init(&m->enc);
  rmp_cmd_decoder_init(&m->dec, NULL, 0);
  *out = m;
  return 0;
}

rtpmidi_session *rtpmidi_midi_session_rtp(rtpmidi_midi_session *m) { return m->rtp; }

/* The handles of sending, made with the first message queued. */
static int open_turn(rtpmidi_midi_session *m) {
  turn_handles *t = calloc(1, sizeof *t);
  if (!t) return UV_ENOMEM;
  t->owner = m;
  uv_idle_init(m->rt->loop, &t->idle);
  uv_check_init(m->rt->loop, &t->check);
  uv_timer_init(m->rt->loop, &t->guard);
  t->idle.data = t->check.data = t->guard.data = t;
  t->open = 3;
  /* These handles only run while messages wait: they must not keep the loop
   * alive on their own. */
  uv_unref((uv_handle_t *)&t->idle);
  uv_unref((uv_handle_t *)&t->check);
  m->turn = t;
  return 0;
}

int rtpmidi_midi_session_send(rtpmidi_midi_session *m, const uint8_t *bytes, size_t len,
                              const char **err) {
  return rtpmidi_midi_session_send_at(m, bytes, len, -1, err);
}

int rtpmidi_midi_session_send_at(rtpmidi_midi_session *m, const uint8_t *bytes, size_t len,
                                 double time_ms, const char **err) {
  static const char *dummy;
  if (!err) err = &dummy;
  *err = NULL;
  if (!rtpmidi_session_started(m->rtp)) return UV_ENOTCONN;
  if (!m->turn && open_turn(m)) return UV_ENOMEM;
  double now = rtpmidi_now_ms();
  /* A time from a MIDI input (when the bytes arrived there) may be earlier
   * than now; one from the future would make a negative delta. */
  if (time_ms >= 0 && time_ms < now) now = time_ms;
  if (m->q.n && now < m->q.msgs[m->q.n - 1].t_ms) now = m->q.msgs[m->q.n - 1].t_ms;
  size_t qn0 = m->q.n;
  int r = rmc_midi_queue_add(&m->q, bytes, len, now, err);
  if (r) return r;
  if (m->q.n > qn0) {
    /* Given while a received burst is delivered (an echo, a relay): the
     * packet leaves at the burst's end. Otherwise, or should that not come,
     * after the loop turn's callbacks. */
    rmc_burst_defer(m->rt, &m->burst);
    if (!uv_is_active((uv_handle_t *)&m->turn->check)) {
      uv_idle_start(&m->turn->idle, on_idle);
      uv_check_start(&m->turn->check, on_check);
    }
  }
  return 0;
}

int rtpmidi_midi_session_flush(rtpmidi_midi_session *m) {
  if (!m->turn) return 0; /* nothing was ever queued */
  uv_idle_stop(&m->turn->idle);
  uv_check_stop(&m->turn->check);
  if (m->q.n == 0 || m->flushing) return 0;
  m->flushing = true;
  double rate = (double)(m->cfg.rtp.clock_rate ? m->cfg.rtp.clock_rate : 10000);
  rmp_cmd_msg *cmds = rmc_midi_queue_commands(&m->q, rate);
  if (!cmds) {
    m->flushing = false;
    return UV_ENOMEM;
  }
  double t0 = m->q.msgs[0].t_ms;
  uint32_t ts = rtpmidi_session_media_time(m->rtp) -
                (uint32_t)llround((rtpmidi_now_ms() - t0) * rate / 1000.0);
  size_t done = 0;
  int r = 0;
  m->busy++;
  while (done < m->q.n && !m->dead) {
    rmp_cmd_enc_info info;
    r = send_packet(m, cmds + done, m->q.n - done, ts, &info);
    if (r == UV_EINVAL || (r < 0 && r > -100)) {
      /* An encoder error cannot happen for messages the parser accepted;
       * drop the rest rather than loop. */
      rmp_cmd_encoder_init(&m->enc);
      break;
    }
    if (r) break;
    ts += info.ticks;
    m->st.messages_sent += info.nmsgs;
    done += info.nmsgs;
  }
  if (!m->dead) arm_guard(m);
  rmc_midi_queue_clear(&m->q);
  m->flushing = false;
  let_go(m);
  return r;
}

/* The local time of an RTP time (ticks, unwrapped): rtp.h's anchor. */
static double local_time(const rtpmidi_midi_session *m, int64_t ticks) {
  return rmp_ts_anchor_local(&m->clock, ticks, (double)m->cfg.rtp.clock_rate);
}

/* A repair command from the journal, delivered before the packet's own. */
static void on_repair(void *ud, const uint8_t *msg, size_t len) {
  rtpmidi_midi_session *m = ud;
  if (m->dead) return;
  m->st.messages_recovered++;
  if (m->ev.on_midi) m->ev.on_midi(m->ud, msg, len, m->delivering_time, true);
}

static void on_rtp(void *ud, uint32_t timestamp, const uint8_t *payload, size_t len,
                   bool recovery, bool marker) {
  (void)marker;
  (void)recovery; /* the journal receiver tracks sequence numbers itself */
  rtpmidi_midi_session *m = ud;
  /* Check the whole section before delivering any of it: a malformed packet
   * is dropped whole. A decoder without a SysEx buffer has no side effects
   * on the real one. */
  rmp_cmd_decoder probe;
  rmp_cmd_decoder_init(&probe, NULL, 0);
  rmp_cmd_iter it;
  rmp_cmd_event e;
  int r = rmp_cmd_iter_init(&it, &probe, payload, len);
  uint32_t end_ticks = 0;
  while (r >= 0 && (r = rmp_cmd_iter_next(&it, &e)) == 1) end_ticks = e.time;
  if (r < 0) {
    m->st.malformed_payloads++;
    rtpmidi_session_count_malformed(m->rtp);
    return;
  }
  rmc_sysex_on_demand(&m->dec, &probe, &m->sysex, m->cfg.max_sysex);
  double now = rtpmidi_now_ms();
  rmp_ts_anchor_update(&m->clock, timestamp, end_ticks, now, (double)m->cfg.rtp.clock_rate);
  m->busy++;
  int64_t base = m->clock.ext_ts;
  int section = rmp_cmd_iter_init(&it, &m->dec, payload, len);
  /* Without memory for the receiver the packet's own commands still go out;
   * the next packet tries again. */
  if (m->cfg.recovery && (m->jrecv || open_receiver(m) == 0)) {
    /* After a loss, the journal repairs what the lost packets changed,
     * before this packet's own commands; otherwise only its header is seen. */
    const uint8_t *journal = it.hdr.j ? payload + section : NULL;
    size_t jlen = it.hdr.j ? len - (size_t)section : 0;
    m->delivering_time = local_time(m, base);
    int f = rmp_ej_recv_packet(m->jrecv, rtpmidi_session_delivering_seq(m->rtp), journal, jlen,
                               on_repair, m);
    if (f < 0) m->st.bad_journals++;
    else {
      if (f & RMP_EJ_R_REPAIRED) m->st.repairs++;
      if (f & (RMP_EJ_R_UNCOVERED | RMP_EJ_R_NOJOURNAL)) m->st.unrecovered++;
    }
    if (m->dead) {
      if (--m->busy == 0) destroy(m);
      return;
    }
  }
  while (rmp_cmd_iter_next(&it, &e) == 1) {
    if (e.error) {
      m->st.sysex_dropped++;
      continue;
    }
    m->st.messages_received++;
    if (m->jrecv) rmp_ej_recv_apply(m->jrecv, e.data, e.len);
    if (m->ev.on_midi) m->ev.on_midi(m->ud, e.data, e.len, local_time(m, base + e.time), false);
    if (m->dead) break; /* freed from inside the callback */
  }
  if (--m->busy == 0 && m->dead) destroy(m);
}

void rtpmidi_midi_session_get_stats(const rtpmidi_midi_session *m, rtpmidi_midi_stats *st) {
  *st = m->st;
  st->checkpoint = m->jsend ? rmp_ej_send_checkpoint(m->jsend) : 0;
  st->unconfirmed = !acknowledged(m);
  st->journal_sender = m->jsend != NULL;
  st->journal_receiver = m->jrecv != NULL;
}

static void destroy(rtpmidi_midi_session *m) {
  free(m->jsend);
  free(m->jrecv);
  rmc_midi_queue_free(&m->q);
  free(m->sysex);
  free(m);
}

void rtpmidi_midi_session_free(rtpmidi_midi_session *m) {
  if (!m || m->dead) return;
  m->dead = true;
  m->ev.on_midi = NULL;
  m->ev.on_drop = NULL;
  rmc_burst_cancel(m->rt, &m->burst);
  if (m->turn) {
    m->turn->owner = NULL;
    uv_close((uv_handle_t *)&m->turn->idle, on_turn_closed);
    uv_close((uv_handle_t *)&m->turn->check, on_turn_closed);
    uv_close((uv_handle_t *)&m->turn->guard, on_turn_closed);
  }
  rtpmidi_session_free(m->rtp);
  if (!m->busy) destroy(m);
}
