/* The MIDI payload of an AppleMIDI session: one MIDI stream (midi_stream.h)
 * per participant.
 *
 * Sending: the messages given in one loop turn (flusher.h) are encoded into
 * command sections once, each sized for the largest journal of the
 * participants it goes to; each connected participant gets them in its own
 * RTP packet (its own sequence numbers) with its own recovery journal, and
 * guard packets after the last one (midi_stream.h's policy, g =
 * guard_interval), which its RS ends.
 *
 * Receiving, per participant: RTP header -> sequence tracking (A.1) ->
 * jitter buffer -> its stream (journal repair, commands, time mapping). */
#include "applemidi_internal.h"
#include "rtp.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CLOCK_RATE 10000.0

/* ---- the session's side ---- */

static void on_flush(void *owner) { rtpmidi_apple_flush(owner); }

void rmc_ap_midi_init(rtpmidi_apple *a, void (*accepted)(rtpmidi_apple *a, ap_peer *p, uint16_t seq),
                      void (*flushed)(rtpmidi_apple *a)) {
  a->midi.accepted = accepted;
  a->midi.flushed = flushed;
  const rtpmidi_apple_config *c = &a->cfg;
  a->midi.sc = (rmp_stream_config){.rate = CLOCK_RATE,
                                   .payload_budget = c->payload_budget,
                                   .max_sysex = c->max_sysex,
                                   .journal_history = (uint16_t)c->journal_history,
                                   .recovery = c->recovery,
                                   .guard_ms = c->guard_ms,
                                   .ignore_s_bits = c->journal_ignore_s_bits,
                                   .ignore_y = c->journal_ignore_y};
  a->midi.sc_other = a->midi.sc;
  a->midi.sc_other.recovery = !c->recovery;
  rmc_flusher_init(&a->midi.out, a->rt, on_flush, NULL, a);
  rmp_cmd_encoder_init(&a->midi.enc);
}

void rmc_ap_midi_stop(rtpmidi_apple *a) {
  rtpmidi_apple_flush(a);
  rmc_flusher_clear(&a->midi.out);
}

void rmc_ap_midi_free(rtpmidi_apple *a) { rmc_flusher_close(&a->midi.out); }

void rmc_ap_midi_stats(const rtpmidi_apple *a, rtpmidi_apple_stats *st) {
  const rmp_stream_counts *n = &a->midi.rc;
  st->messages_received = n->messages;
  st->messages_recovered = n->recovered;
  st->malformed += n->malformed;
  st->duplicate += n->duplicates;
  st->journal_errors = n->bad_journals;
  st->sysex_dropped = n->sysex_dropped;
  st->repairs_over_budget = n->over_budget;
  st->unconfirmed = 0;
  for (const ap_peer *p = a->peers; p; p = p->next)
    if (p->state == AP_CONNECTED && rmp_stream_tx_unconfirmed(&p->media.tx)) st->unconfirmed++;
}

/* ---- a participant's stream ---- */

/* The stream config of p: the session's, with p's recovery. */
static const rmp_stream_config *peer_sc(const rtpmidi_apple *a, const ap_peer *p) {
  return p->media.recovery == a->midi.sc.recovery ? &a->midi.sc : &a->midi.sc_other;
}

void rmc_ap_set_recovery(ap_peer *p, bool recovery) {
  ap_media *m = &p->media;
  if (m->recovery == recovery) return;
  m->recovery = recovery;
  if (!recovery) {
    /* no more journals to it (one made for it goes: a new stream state,
     * which numbers nothing yet and takes no RS; our sequence numbers go
     * on), none read from it */
    rmp_stream_tx_free(&m->tx);
    rmp_stream_tx_init(&m->tx);
    rmp_stream_rx_free(&m->rx);
    rmp_stream_rx_init(&m->rx);
  }
}

/* Its state starts small: the jitter buffer's slots and what the stream
 * makes on first use (midi_stream.h). */
void rmc_ap_peer_media_init(ap_peer *p) {
  rmp_stream_tx_init(&p->media.tx);
  rmp_stream_rx_init(&p->media.rx);
  rmp_seq_init(&p->media.rseq, 1);
  rmc_random(&p->media.seq, sizeof p->media.seq);
}

void rmc_ap_peer_media_free(ap_peer *p) {
  ap_media *m = &p->media;
  rmp_jb_out_t o;
  while (rmp_jb_flush(&m->jb, &o)) free(o.e.data);
  if (m->slots != m->jb.inl) free(m->slots);
  m->slots = NULL;
  for (unsigned i = 0; i <= RMP_SEQ_HOLDS; i++) {
    free(m->held[i]);
    m->held[i] = NULL;
  }
  rmp_stream_tx_free(&m->tx);
  rmp_stream_rx_free(&m->rx);
}

void rmc_ap_fill_peer(const ap_peer *p, rtpmidi_apple_peer *o) {
  const rmp_ams_peer *mp = &p->mp;
  memset(o, 0, sizeof *o);
  o->id = mp->id;
  o->name = mp->name;
  o->address = p->addr;
  o->invited_as = p->invited_as;
  o->port = mp->ctrl.port;
  o->ssrc = mp->ssrc;
  o->initiator = mp->initiator;
  o->synced = mp->synced;
  o->latency_ms = mp->latency_ms;
  o->offset_ms = mp->offset_ms;
  o->ck_exchanges = mp->ck_exchanges;
  o->rs_sent = mp->rs_sent;
  o->rs_received = mp->rs_received;
  const ap_media *m = &p->media;
  o->packets_received = m->packets_received;
  o->packets_sent = m->packets_sent;
  o->lost = m->lost;
  o->messages_recovered = m->messages_recovered;
  o->checkpoint = rmp_stream_tx_checkpoint(&m->tx);
  o->seq = m->seq;
  o->journal_sender = rmp_stream_tx_has_journal(&m->tx);
  o->journal_receiver = m->rx.jr != NULL;
  o->unconfirmed = rmp_stream_tx_unconfirmed(&m->tx);
  o->recovery = m->recovery;
  o->timestamps_swapped = mp->ts_swapped;
  o->ck_impossible = mp->ck_impossible;
}

/* ---- sending ---- */

int rmc_apple_send(rtpmidi_apple *a, const uint8_t *bytes, size_t len, const char **err) {
  static const char *dummy;
  if (!err) err = &dummy;
  *err = NULL;
  if (!a->started) return UV_ENOTCONN;
  return rmc_flusher_add(&a->midi.out, bytes, len, rmc_ap_now(), -1, err);
}

/* Sends the RTP packet whose payload (len octets) follows the header room
 * at pkt, as p's next packet. */
static int send_rtp(rtpmidi_apple *a, ap_peer *p, uint8_t *pkt, size_t len, uint32_t ts) {
  rmp_rtp_write_header(pkt, AP_PAYLOAD_TYPE, false, p->media.seq, ts, a->ssrc);
  int r = rmc_endpoint_send(a->data, pkt, RMP_RTP_HEADER_LEN + len, &p->mp.data);
  p->media.seq++;
  p->media.packets_sent++;
  a->st.packets_sent++;
  return r;
}

int rtpmidi_apple_flush(rtpmidi_apple *a) {
  size_t n;
  double t0;
  int r;
  rmp_cmd_msg *cmds = rmc_flusher_begin(&a->midi.out, CLOCK_RATE, &n, &t0, &r);
  if (!cmds) return r;
  const rmp_stream_config *sc = &a->midi.sc;
  uint32_t ts = (uint32_t)rmc_ap_clock(t0);
  double now = rmc_ap_now();
  /* The section is encoded once, in place after the header room; each
   * participant's packet is its header, that section and its journal. */
  uint8_t pkt[AP_MAX_PACKET];
  uint8_t *sect = pkt + RMP_RTP_HEADER_LEN;
  size_t done = 0;
  while (done < n) {
    size_t jmax = 0, room = SIZE_MAX;
    for (ap_peer *p = a->peers; p; p = p->next) {
      if (p->state != AP_CONNECTED) continue;
      size_t jl = rmp_stream_tx_journal(&p->media.tx, peer_sc(a, p), p->media.seq, true);
      if (jl > jmax) jmax = jl;
      /* a SysEx in parts goes at the pace of the slowest feedback */
      size_t sr = rmp_stream_tx_sx_room(&p->media.tx, peer_sc(a, p), now);
      if (sr < room) room = sr;
    }
    rmp_stream_info info;
    int sl = rmp_stream_section(&a->midi.enc, sc, cmds + done, n - done, jmax, room, sect,
                                sizeof pkt - RMP_RTP_HEADER_LEN - jmax, &info);
    if (sl == 0) break; /* the rest waits for feedback (midi_stream.h) */
    if (sl < 0) {
      rmp_cmd_encoder_init(&a->midi.enc);
      r = UV_EINVAL;
      break;
    }
    for (ap_peer *p = a->peers; p; p = p->next) {
      if (p->state != AP_CONNECTED) continue;
      int len = rmp_stream_tx_append(&p->media.tx, sect, (size_t)sl, sizeof pkt - RMP_RTP_HEADER_LEN);
      rmp_stream_tx_sent(&p->media.tx, peer_sc(a, p), p->media.seq, cmds + done, &info, now);
      int sr = send_rtp(a, p, pkt, (size_t)len, ts);
      if (sr && !r) r = sr;
    }
    ts += info.cmd.ticks;
    a->st.messages_sent += info.cmd.nmsgs;
    done += info.cmd.nmsgs;
  }
  if (done < n && !r) rmc_flusher_end_sent(&a->midi.out, done);
  else rmc_flusher_end(&a->midi.out);
  a->midi.flushed(a);
  return r;
}

/* ---- receiving ---- */

typedef struct deliver_ctx {
  rtpmidi_apple *a;
  ap_peer *p;
} deliver_ctx;

/* A message of p's stream for the application (midi_stream.h). */
static int deliver_msg(void *ud, const uint8_t *msg, size_t len, double time_ms, bool recovered) {
  deliver_ctx *x = ud;
  if (recovered) x->p->media.messages_recovered++;
  if (x->a->ev.on_midi) {
    rtpmidi_apple_peer info;
    rmc_ap_fill_peer(x->p, &info);
    x->a->ev.on_midi(x->a->ud, &info, msg, len, time_ms, recovered);
  }
  return x->p->state != AP_CONNECTED;
}

static void deliver(rtpmidi_apple *a, ap_peer *p, const rmp_jb_out_t *o) {
  ap_pkt *k = o->e.data;
  if (o->lost_before) {
    p->media.lost += o->lost_before;
    a->st.lost += o->lost_before;
  }
  deliver_ctx x = {a, p};
  rmp_stream_rx_packet(&p->media.rx, peer_sc(a, p), (uint16_t)o->e.ext_seq, k->ts, k->data, k->len,
                       rmc_ap_now(), deliver_msg, &x, &a->midi.rc);
}

void rmc_ap_media_drain(rtpmidi_apple *a, ap_peer *p) {
  if (!p->media.slots) return; /* it never sent RTP */
  rmp_jb_out_t o;
  while (rmp_jb_flush(&p->media.jb, &o)) {
    if (p->state == AP_CONNECTED) deliver(a, p, &o);
    free(o.e.data);
  }
  rmp_jb_reset(&p->media.jb);
}

/* Issue #16, finding 8: a participant that goes (BY, timeout, restart,
 * disconnect; not our own stop) without ending its notes left them sounding on
 * whatever plays what on_midi delivers (a MidiOut, a synthesizer): their
 * releases are delivered now, as made up by us (recovered = true), before
 * on_left. Nothing is sent on the network. */
/* A release of what p left sounding (rmp_stream_rx_release), for on_midi
 * whatever p's state now is. */
static int deliver_release(void *ud, const uint8_t *msg, size_t len, double time_ms, bool recovered) {
  deliver_ctx *x = ud;
  x->a->st.released++;
  if (x->a->ev.on_midi) {
    rtpmidi_apple_peer info;
    rmc_ap_fill_peer(x->p, &info);
    x->a->ev.on_midi(x->a->ud, &info, msg, len, time_ms, recovered);
  }
  return 0;
}

void rmc_ap_media_release(rtpmidi_apple *a, ap_peer *p) {
  deliver_ctx x = {a, p};
  rmp_stream_rx_release(&p->media.rx, rmc_ap_now(), deliver_release, &x, &a->midi.rc);
}

static void pop_all(rtpmidi_apple *a, ap_peer *p, uint64_t now_us) {
  rmp_jb_out_t o;
  while (rmp_jb_pop(&p->media.jb, now_us, &o)) {
    if (p->state == AP_CONNECTED) deliver(a, p, &o);
    free(o.e.data);
  }
}

/* Into p's jitter buffer, and what is due out. */
static void push_pkt(rtpmidi_apple *a, ap_peer *p, uint32_t ext, uint64_t arrival_us, uint64_t now_us,
                     ap_pkt *k) {
  ap_media *m = &p->media;
  if (p->state == AP_CONNECTED) a->midi.accepted(a, p, (uint16_t)ext);
  int pr = rmp_jb_push(&m->jb, ext, arrival_us, k);
  if (pr == RMP_EJB_FULL) {
    pop_all(a, p, now_us);
    pr = rmp_jb_push(&m->jb, ext, arrival_us, k);
  }
  if (pr < 0) {
    free(k);
    a->st.duplicate++;
    return;
  }
  pop_all(a, p, now_us);
}

/* The held copies that count now (rtp_seq.h), before or after the packet
 * being handled. */
static void push_released(rtpmidi_apple *a, ap_peer *p, bool before, uint64_t now_us) {
  ap_media *m = &p->media;
  for (unsigned i = 0; i < m->rseq.n_release; i++) {
    const rmp_seq_release *r = &m->rseq.release[i];
    if (!r->before != !before) continue;
    ap_pkt *k = m->held[r->slot];
    m->held[r->slot] = NULL;
    if (!k) continue;
    if (k->seq != (uint16_t)r->ext) free(k); /* cannot happen: slots go with rseq */
    else push_pkt(a, p, r->ext, k->arrival_us, now_us, k);
  }
}

void rmc_ap_on_rtp(rtpmidi_apple *a, ap_peer *p, const uint8_t *buf, const rmp_rtp_header *hp) {
  rmp_rtp_header h = *hp;
  /* a peer whose CK showed timestamps in host byte order writes its RTP
   * ones so too (MIDIMonster; am_session.h) */
  if (p->mp.ts_swapped) {
    uint32_t t = h.timestamp;
    h.timestamp = (t >> 24) | ((t >> 8) & 0xFF00u) | ((t << 8) & 0xFF0000u) | (t << 24);
  }
  ap_media *m = &p->media;
  if (!m->slots) {
    /* the jitter buffer, with the first RTP packet from p */
    /* at size 0 (no wait) the buffer's own few slots do (jitter_buffer.h) */
    m->slots = a->cfg.jitter_buffer_ms == 0 ? m->jb.inl : malloc(a->cfg.jitter_buffer_packets * sizeof *m->slots);
    if (!m->slots) return; /* out of memory: as if lost on the way */
    rmp_jb_init(&m->jb, m->slots, a->cfg.jitter_buffer_packets, (uint64_t)(a->cfg.jitter_buffer_ms * 1000.0));
    /* a packet that jumps ahead waits as long as one after a gap would */
    rmp_seq_set_hold(&m->rseq, (uint64_t)(a->cfg.jitter_buffer_ms * 1000.0));
  }
  double now = rmc_ap_now();
  uint64_t now_us = (uint64_t)(now * 1000.0);
  uint32_t ext;
  int r = rmp_seq_receive(&m->rseq, h.sequence, h.timestamp, now_us, (uint32_t)CLOCK_RATE, &ext);
  if (r == RMP_SEQ_PROBATION) return;
  m->packets_received++;
  a->st.packets_received++;
  if (r == RMP_SEQ_HELD_DUP) {
    a->st.duplicate++;
    return;
  }
  ap_pkt *k = malloc(sizeof *k + h.payload_len);
  if (k) {
    k->arrival_us = now_us;
    k->seq = h.sequence;
    k->ts = h.timestamp;
    k->len = h.payload_len;
    memcpy(k->data, buf + h.payload_offset, h.payload_len);
  }
  if (r == RMP_SEQ_HELD || r == RMP_SEQ_BAD) {
    /* Ahead of the next: waits for what confirms it (rtp_seq.h); one forged
     * packet must neither mute p's stream nor move what our RS confirms. */
    free(m->held[m->rseq.held_slot]);
    m->held[m->rseq.held_slot] = k;
    return;
  }
  if (r == RMP_SEQ_RESYNC) {
    rmp_jb_out_t o;
    while (rmp_jb_flush(&m->jb, &o)) {
      if (p->state == AP_CONNECTED) deliver(a, p, &o);
      free(o.e.data);
    }
    rmp_jb_reset(&m->jb);
    if (m->rseq.undo) rmp_stream_rx_resume(&m->rx, m->rseq.undo_last);
    else rmp_stream_rx_restart(&m->rx);
  }
  /* rseq's list stays as it is until its next update (delivery does not
   * reach it) */
  push_released(a, p, true, now_us);
  if (k) push_pkt(a, p, ext, now_us, now_us, k);
  push_released(a, p, false, now_us);
}


/* Whether seq is a packet we sent p that it has not confirmed: an ack of
 * it would confirm something (rmp_stream_tx_ack returning 1). */
static bool names_unconfirmed(const rmp_stream_tx *tx, uint16_t seq) {
  return tx->sent && (uint16_t)(tx->last_seq - seq) < tx->unacked;
}

/* An RS confirms what p received up to seq (midi_stream.h), taken only for
 * a packet we sent it and it had not confirmed. The machine read seq from
 * the half of the field p's RS use (am_session.h, rs_form: Apple's high
 * half, rtpmidid's low half).
 * Feedback that never confirms anything (issue 18, item 5: a form we
 * misread, a peer that reports something else) must not make it a peer
 * "that gives feedback" (up to 30 late guards after every burst, the
 * journal never trimmed): until one of p's RS has confirmed a packet, an
 * RS that would not is dropped (unsolicited) before it reaches the stream,
 * so p gets the open-loop guards only, as a peer without RS does. */
void rmc_ap_on_rs(rtpmidi_apple *a, ap_peer *p, uint16_t seq, uint32_t raw) {
  (void)raw;
  if (!p->media.rs_confirmed && !names_unconfirmed(&p->media.tx, seq)) {
    a->st.unsolicited++;
    return;
  }
  int r = rmp_stream_tx_ack(&p->media.tx, seq);
  if (r > 0) p->media.rs_confirmed = true;
  if (r < 0) a->st.unsolicited++;
  /* what waits for feedback (a SysEx in parts, midi_stream.h) may go on */
  if (r > 0) rmc_flusher_kick(&a->midi.out);
}

double rmc_ap_media_deadline(ap_peer *p) {
  double d = rmp_stream_tx_deadline(&p->media.tx);
  uint64_t us;
  if (rmp_jb_next_deadline(&p->media.jb, &us)) {
    double m = (double)us / 1000.0;
    if (m < d) d = m;
  }
  if (rmp_seq_hold_deadline(&p->media.rseq, &us)) {
    double m = (double)us / 1000.0;
    if (m < d) d = m;
  }
  return d;
}

void rmc_ap_service_media(rtpmidi_apple *a, ap_peer *p, double now) {
  uint64_t now_us = (uint64_t)(now * 1000.0);
  pop_all(a, p, now_us);
  while (p->state == AP_CONNECTED && rmp_seq_hold_expire(&p->media.rseq, now_us)) {
    /* nothing confirmed a packet held: taken now, on trust (rtp_seq.h) */
    push_released(a, p, true, now_us);
    push_released(a, p, false, now_us);
  }
  if (p->state != AP_CONNECTED) return;
  /* a SysEx in parts that waited long enough goes now */
  if (a->midi.out.q.n) rmc_flusher_kick(&a->midi.out);
  uint8_t pkt[AP_MAX_PACKET];
  int n = rmp_stream_tx_guard(&p->media.tx, peer_sc(a, p), p->media.seq, now, pkt + RMP_RTP_HEADER_LEN,
                              sizeof pkt - RMP_RTP_HEADER_LEN);
  if (n > 0) {
    send_rtp(a, p, pkt, (size_t)n, (uint32_t)rmc_ap_clock(now));
    a->st.guard_sent++;
  }
}
