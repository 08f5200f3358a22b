/* A MIDI session: one RFC 6295 MIDI stream (midi_stream.h) on top of an
 * RTP session (session.c). Sending gathers the messages given in one loop
 * turn into one packet (flusher.h); the peer's RTCP receiver reports are the
 * stream's feedback; guard packets leave on the flusher's timer. */
#include "flusher.h"
#include "midi_stream.h"
#include "runtime.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_SYSEX (1u << 20)
#define DEFAULT_JOURNAL_HISTORY 256u
#define MAX_JOURNAL_HISTORY 32767u /* half the sequence space */
#define MAX_PACKET 1500
/* g of the guard policy (midi_stream.h): guards at 20, 60, 140, 300, 620 ms */
#define GUARD_MS 20.0

struct rtpmidi_midi_session {
  rtpmidi_session *rtp;
  rtpmidi_midi_events ev;
  void *ud;
  rtpmidi_midi_config cfg;
  rmp_stream_config sc;
  rmc_flusher out;       /* the send queue and when it leaves */
  rmp_cmd_encoder enc;
  rmp_stream_tx tx;
  rmp_stream_rx rx;
  rmp_stream_counts rc;
  rtpmidi_midi_stats st;
  unsigned busy;         /* inside on_rtp or a send: freeing waits until it returns */
  bool dead;
  rmc_member member;     /* in rt's list until destroyed (runtime.h) */
};

static void on_rtp(void *ud, uint32_t timestamp, const uint8_t *payload, size_t len,
                   bool recovery, bool marker);
static void destroy(rtpmidi_midi_session *m);

/* The peer's numbering starts again: so does the journal receiver's; or a
 * forged jump was undone: it goes on from the real stream's last packet. */
static void on_resync(void *ud, int32_t resume_after) {
  rtpmidi_midi_session *m = ud;
  if (resume_after < 0) rmp_stream_rx_restart(&m->rx);
  else rmp_stream_rx_resume(&m->rx, (uint16_t)resume_after);
}

static int deliver(void *ud, const uint8_t *msg, size_t len, double time_ms, bool recovered);

/* The peer is gone (timeout, BYE, network): what it left sounding is
 * released through on_midi first (recovered, midi_stream.h), then the drop
 * is reported. */
static void on_drop(void *ud, const char *reason, const char *detail) {
  rtpmidi_midi_session *m = ud;
  m->busy++;
  rmp_stream_rx_release(&m->rx, rtpmidi_now_ms(), deliver, m, &m->rc);
  if (!m->dead && m->ev.on_drop) m->ev.on_drop(m->ud, reason, detail);
  if (--m->busy == 0 && m->dead) destroy(m);
}

/* The guard timer follows the stream's schedule. */
static void arm_guard(rtpmidi_midi_session *m) {
  rmc_flusher_wake_at(&m->out, rmp_stream_tx_deadline(&m->tx), rtpmidi_now_ms());
}

/* Feedback from the peer's RTCP reports: the journal's checkpoint moves,
 * the guards may end, or go on late. */
static void on_report(void *ud, const rtpmidi_receiver_report *rr) {
  rtpmidi_midi_session *m = ud;
  /* what waits for feedback (a SysEx in parts, midi_stream.h) may go on */
  if (rmp_stream_tx_ack(&m->tx, (uint16_t)rr->ext_highest_seq) > 0) rmc_flusher_kick(&m->out);
  arm_guard(m);
}

static void on_guard(void *owner) {
  rtpmidi_midi_session *m = owner;
  if (!rtpmidi_session_started(m->rtp)) return;
  /* a SysEx in parts that waited long enough goes now */
  if (m->out.q.n) rmc_flusher_kick(&m->out);
  uint8_t pkt[MAX_PACKET];
  double now = rtpmidi_now_ms();
  int n = rmp_stream_tx_guard(&m->tx, &m->sc, rtpmidi_session_next_seq(m->rtp), now, pkt, sizeof pkt);
  m->busy++;
  if (n > 0 && rtpmidi_session_send(m->rtp, pkt, (size_t)n, rtpmidi_session_media_time(m->rtp), false) == 0) {
    m->st.guard_packets++;
    m->st.journal_bytes_sent += (uint64_t)n - 1;
  }
  if (!m->dead) arm_guard(m);
  if (--m->busy == 0 && m->dead) destroy(m);
}

static void on_flush(void *owner) { rtpmidi_midi_session_flush(owner); }

/* rtpmidi_runtime_free (runtime.h): no callbacks, then nothing queued and
 * no handle of its own; the RTP session underneath stops by itself, so
 * every send returns UV_ENOTCONN from then on. */
static void midi_close(void *owner) {
  rtpmidi_midi_session *m = owner;
  rmc_flusher_close(&m->out);
}

int rmc_midi_session_new(rtpmidi_runtime *rt, const rtpmidi_midi_config *cfg,
                         const rtpmidi_midi_events *ev, void *ud,
                         rtpmidi_midi_session **out, const char **err) {
  rtpmidi_midi_session *m = calloc(1, sizeof *m);
  if (!m) return UV_ENOMEM;
  m->cfg = *cfg;
  /* RFC 6295 streams use a dynamic payload type (RFC 3551 section 3):
   * 96..127; 0 (PCMU's static type, never MIDI) and -1 select 97. */
  if (m->cfg.rtp.payload_type == 0 || m->cfg.rtp.payload_type == -1) m->cfg.rtp.payload_type = 97;
  if (m->cfg.rtp.payload_type < 96 || m->cfg.rtp.payload_type > 127) {
    if (err) *err = "payload";
    free(m);
    return UV_EINVAL;
  }
  /* The RTP session defaults its own copy; the times here read this one. */
  if (!m->cfg.rtp.clock_rate) m->cfg.rtp.clock_rate = 10000;
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
                                .on_receiver_report = on_report, .on_resync = on_resync};
  int r = rmc_session_new(rt, &m->cfg.rtp, &rev, m, &m->rtp, err);
  if (r) {
    free(m);
    return r;
  }
  m->sc = (rmp_stream_config){
      .rate = (double)(m->cfg.rtp.clock_rate ? m->cfg.rtp.clock_rate : 10000),
      .payload_budget = m->cfg.payload_budget,
      .max_sysex = m->cfg.max_sysex,
      .journal_history = (uint16_t)m->cfg.journal_history,
      .recovery = m->cfg.recovery,
      .guard_ms = GUARD_MS,
      .ignore_s_bits = m->cfg.journal_ignore_s_bits,
      .ignore_y = m->cfg.journal_ignore_y};
  rmc_flusher_init(&m->out, rt, on_flush, on_guard, m);
  rmp_cmd_encoder_init(&m->enc);
  rmp_stream_tx_init(&m->tx);
  rmp_stream_rx_init(&m->rx);
  rmc_runtime_join(rt, &m->member, m, &m->ev, sizeof m->ev, &m->dead, midi_close);
  *out = m;
  return 0;
}

rtpmidi_session *rtpmidi_midi_session_rtp(rtpmidi_midi_session *m) { return m->rtp; }

int rmc_midi_session_send_at(rtpmidi_midi_session *m, const uint8_t *bytes, size_t len,
                             double time_ms, const char **err) {
  static const char *dummy;
  if (!err) err = &dummy;
  *err = NULL;
  if (!rtpmidi_session_started(m->rtp)) return UV_ENOTCONN;
  return rmc_flusher_add(&m->out, bytes, len, rtpmidi_now_ms(), time_ms, err);
}

int rtpmidi_midi_session_flush(rtpmidi_midi_session *m) {
  size_t n;
  double t0;
  int r;
  rmp_cmd_msg *cmds = rmc_flusher_begin(&m->out, m->sc.rate, &n, &t0, &r);
  if (!cmds) return r;
  m->busy++;
  /* the RTP time of the first message: when it was given */
  double now = rtpmidi_now_ms();
  uint32_t ts = rtpmidi_session_media_time(m->rtp) - (uint32_t)llround((now - t0) * m->sc.rate / 1000.0);
  uint8_t pkt[MAX_PACKET];
  size_t done = 0;
  while (done < n) {
    rmp_stream_info info;
    size_t jlen;
    uint16_t seq = rtpmidi_session_next_seq(m->rtp);
    int len = rmp_stream_tx_packet(&m->tx, &m->sc, &m->enc, seq, cmds + done, n - done, now, pkt,
                                   sizeof pkt, &info, &jlen);
    if (len == 0) break; /* the rest waits for feedback (midi_stream.h) */
    if (len < 0) {
      /* An encoder error cannot happen for messages the parser accepted;
       * drop the rest rather than loop. */
      rmp_cmd_encoder_init(&m->enc);
      r = UV_EINVAL;
      break;
    }
    r = rtpmidi_session_send(m->rtp, pkt, (size_t)len, ts, false);
    if (r || m->dead) break; /* freed from on_drop (a network error): cmds went with it */
    rmp_stream_tx_sent(&m->tx, &m->sc, seq, cmds + done, &info, now);
    m->st.journal_bytes_sent += jlen;
    m->st.messages_sent += info.cmd.nmsgs;
    ts += info.cmd.ticks;
    done += info.cmd.nmsgs;
  }
  if (done < n && !r && !m->dead) rmc_flusher_end_sent(&m->out, done);
  else rmc_flusher_end(&m->out);
  if (!m->dead) arm_guard(m);
  if (--m->busy == 0 && m->dead) destroy(m);
  return r;
}

/* A message of the stream for the application (midi_stream.h). */
static int deliver(void *ud, const uint8_t *msg, size_t len, double time_ms, bool recovered) {
  rtpmidi_midi_session *m = ud;
  if (m->ev.on_midi) m->ev.on_midi(m->ud, msg, len, time_ms, recovered);
  return m->dead; /* freed from inside the callback */
}

static void on_rtp(void *ud, uint32_t timestamp, const uint8_t *payload, size_t len,
                   bool recovery, bool marker) {
  (void)marker;
  (void)recovery; /* the journal receiver tracks sequence numbers itself */
  rtpmidi_midi_session *m = ud;
  m->busy++;
  int r = rmp_stream_rx_packet(&m->rx, &m->sc, rtpmidi_session_delivering_seq(m->rtp), timestamp,
                               payload, len, rtpmidi_now_ms(), deliver, m, &m->rc);
  if (r == RMP_STREAM_RX_MALFORMED && !m->dead) rtpmidi_session_count_malformed(m->rtp);
  if (--m->busy == 0 && m->dead) destroy(m);
}

void rtpmidi_midi_session_get_stats(const rtpmidi_midi_session *m, rtpmidi_midi_stats *st) {
  *st = m->st;
  st->messages_received = m->rc.messages;
  st->messages_recovered = m->rc.recovered;
  st->malformed_payloads = m->rc.malformed;
  st->sysex_dropped = m->rc.sysex_dropped;
  st->repairs = m->rc.repairs;
  st->unrecovered = m->rc.unrecovered;
  st->bad_journals = m->rc.bad_journals;
  st->messages_released = m->rc.released;
  st->repairs_over_budget = m->rc.over_budget;
  st->checkpoint = rmp_stream_tx_checkpoint(&m->tx);
  st->unconfirmed = rmp_stream_tx_unconfirmed(&m->tx);
  st->journal_sender = rmp_stream_tx_has_journal(&m->tx);
  st->journal_receiver = m->rx.jr != NULL;
}

static void destroy(rtpmidi_midi_session *m) {
  rmc_runtime_leave(&m->member);
  rmp_stream_tx_free(&m->tx);
  rmp_stream_rx_free(&m->rx);
  free(m);
}

void rtpmidi_midi_session_free(rtpmidi_midi_session *m) {
  if (!m || m->dead) return;
  m->dead = true;
  m->ev.on_midi = NULL;
  m->ev.on_drop = NULL;
  rmc_flusher_close(&m->out);
  rtpmidi_session_free(m->rtp);
  if (!m->busy) destroy(m);
}
