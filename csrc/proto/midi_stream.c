/* One RTP MIDI stream: sending with the recovery journal and guard packets,
 * receiving with journal repair and time mapping (midi_stream.h). */
#include "midi_stream.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The journal's sender, with room for the journal of the packet being
 * built (prepared before the command section is sized, appended after). */
struct rmp_stream_journal {
  rmp_ej_sender s;
  uint16_t len;
  uint8_t buf[RMP_STREAM_MAX_JOURNAL];
};

/* The journal takes at most half of the payload (midi_stream.h). */
static size_t journal_cap(const rmp_stream_config *c) {
  size_t cap = c->payload_budget / 2;
  return cap < RMP_STREAM_MAX_JOURNAL ? cap : RMP_STREAM_MAX_JOURNAL;
}

/* ---- sending ---- */

/* One more packet sent after the last acknowledged one. */
static void count_unacked(rmp_stream_tx *tx) {
  if (tx->unacked < 0x8000) tx->unacked++;
}

void rmp_stream_tx_init(rmp_stream_tx *tx) { memset(tx, 0, sizeof *tx); }

void rmp_stream_tx_free(rmp_stream_tx *tx) {
  if (tx->j) rmp_ej_send_free(&tx->j->s);
  free(tx->j);
  tx->j = NULL;
}

/* The sender, for the first packet with commands. Made now, it is in the
 * state one made at the start would be: before a packet with commands
 * nothing was journalled, and every acknowledgement was of nothing. Open
 * loop (no feedback), it reaches back journal_history packets. */
static struct rmp_stream_journal *open_journal(rmp_stream_tx *tx, const rmp_stream_config *c) {
  tx->j = malloc(sizeof *tx->j);
  if (!tx->j) return NULL;
  rmp_ej_send_config jc = {.max_history = c->journal_history,
                           .max_size = (uint16_t)journal_cap(c),
                           .y_window = RMP_STREAM_Y_WINDOW};
  rmp_ej_send_init(&tx->j->s, &jc);
  tx->j->len = 0;
  return tx->j;
}

size_t rmp_stream_tx_journal(rmp_stream_tx *tx, const rmp_stream_config *c, uint16_t seq,
                             bool commands) {
  if (!tx->j && !(c->recovery && commands && open_journal(tx, c))) return 0;
  int n = rmp_ej_send_encode(&tx->j->s, seq, tx->j->buf, journal_cap(c));
  tx->j->len = (uint16_t)(n > 0 ? n : 0); /* an error cannot happen within the bounds: send without */
  return tx->j->len;
}

int rmp_stream_section(rmp_cmd_encoder *enc, const rmp_stream_config *c, const rmp_cmd_msg *msgs,
                       size_t n, size_t jlen, uint8_t *out, size_t cap, rmp_cmd_enc_info *info) {
  size_t budget = c->payload_budget > jlen ? c->payload_budget - jlen : 0;
  if (budget < RMP_CMD_MIN_BUDGET) budget = RMP_CMD_MIN_BUDGET;
  return rmp_cmd_encode(enc, msgs, n, false, budget, out, cap, info);
}

int rmp_stream_tx_append(const rmp_stream_tx *tx, uint8_t *out, size_t slen, size_t cap) {
  size_t jlen = tx->j ? tx->j->len : 0;
  if (slen + jlen > cap) return -1;
  /* J is bit 6 of the first octet in both header forms (RFC 6295 3.1) */
  if (jlen) {
    out[0] |= 0x40;
    memcpy(out + slen, tx->j->buf, jlen);
  } else {
    out[0] &= (uint8_t)~0x40;
  }
  return (int)(slen + jlen);
}

int rmp_stream_tx_packet(rmp_stream_tx *tx, const rmp_stream_config *c, rmp_cmd_encoder *enc,
                         uint16_t seq, const rmp_cmd_msg *msgs, size_t n, uint8_t *out, size_t cap,
                         rmp_cmd_enc_info *info, size_t *jlen) {
  *jlen = rmp_stream_tx_journal(tx, c, seq, n > 0);
  if (*jlen >= cap) return RMP_E_NO_SPACE;
  int s = rmp_stream_section(enc, c, msgs, n, *jlen, out, cap - *jlen, info);
  if (s < 0) return s;
  return rmp_stream_tx_append(tx, out, (size_t)s, cap);
}

void rmp_stream_tx_sent(rmp_stream_tx *tx, const rmp_stream_config *c, uint16_t seq,
                        const rmp_cmd_msg *msgs, const rmp_cmd_enc_info *info, double now) {
  tx->last_seq = seq;
  tx->sent = true;
  count_unacked(tx);
  if (!tx->j || info->nmsgs + info->sysex_partial == 0) return;
  for (size_t i = 0; i < info->nmsgs; i++) rmp_ej_send_record(&tx->j->s, seq, msgs[i].data, msgs[i].len);
  tx->last_cmd_seq = seq;
  tx->unconfirmed = true;
  tx->guards_sent = 0;
  tx->next_guard = now + c->guard_ms;
}

int rmp_stream_tx_ack(rmp_stream_tx *tx, uint16_t seq) {
  /* how far seq is behind the last packet sent: 0x8000 and over is ahead */
  uint16_t behind = (uint16_t)(tx->last_seq - seq);
  if (!tx->sent || behind >= 0x8000) return -1;
  tx->feedback = true;
  if (behind >= tx->unacked) return 0; /* confirmed before */
  tx->unacked = behind;
  if (tx->j) rmp_ej_send_ack(&tx->j->s, seq);
  /* seq confirms last_cmd_seq when it is that packet or one sent after it:
   * in [last_cmd_seq, last_seq], modulo 2^16 */
  if (tx->unconfirmed &&
      (uint16_t)(seq - tx->last_cmd_seq) <= (uint16_t)(tx->last_seq - tx->last_cmd_seq))
    tx->unconfirmed = false;
  return 1;
}

double rmp_stream_tx_deadline(const rmp_stream_tx *tx) {
  if (!tx->j || !tx->unconfirmed) return INFINITY;
  if (tx->guards_sent < RMP_STREAM_OPEN_GUARDS) return tx->next_guard;
  if (tx->feedback && tx->guards_sent < RMP_STREAM_OPEN_GUARDS + RMP_STREAM_LATE_GUARDS)
    return tx->next_guard;
  return INFINITY;
}

int rmp_stream_tx_guard(rmp_stream_tx *tx, const rmp_stream_config *c, uint16_t seq, double now,
                        uint8_t *out, size_t cap) {
  if (cap < 2 || now < rmp_stream_tx_deadline(tx)) return 0;
  size_t jcap = journal_cap(c);
  if (jcap > cap - 1) jcap = cap - 1;
  int n = rmp_ej_send_encode(&tx->j->s, seq, out + 1, jcap);
  /* An empty journal (its checkpoint is past every change): nothing to
   * protect. With recovery on it is still the 3-octet header, Y = A = 0
   * (RFC 6295 section 5), which a packet of commands carries. */
  if (n <= 3) {
    tx->unconfirmed = false;
    return 0;
  }
  out[0] = 0x40; /* B=0 J=1 Z=0 P=0 LEN=0 */
  tx->last_seq = seq;
  tx->sent = true;
  count_unacked(tx);
  /* the open-loop gaps double: g, 2g, 4g, ... (guards at g, 3g, 7g, ...) */
  tx->guards_sent++;
  tx->next_guard = now + (tx->guards_sent < RMP_STREAM_OPEN_GUARDS
                              ? c->guard_ms * (double)(1u << tx->guards_sent)
                              : RMP_STREAM_LATE_GUARD_MS);
  return 1 + n;
}

bool rmp_stream_tx_unconfirmed(const rmp_stream_tx *tx) { return tx->j && tx->unconfirmed; }
bool rmp_stream_tx_has_journal(const rmp_stream_tx *tx) { return tx->j != NULL; }
uint16_t rmp_stream_tx_checkpoint(const rmp_stream_tx *tx) {
  return tx->j ? rmp_ej_send_checkpoint(&tx->j->s) : 0;
}

/* ---- receiving ---- */

void rmp_stream_rx_init(rmp_stream_rx *rx) {
  memset(rx, 0, sizeof *rx);
  rmp_cmd_decoder_init(&rx->dec, NULL, 0);
}

void rmp_stream_rx_free(rmp_stream_rx *rx) {
  free(rx->sysex);
  if (rx->jr) rmp_ej_recv_free(rx->jr);
  free(rx->jr);
  rmp_stream_rx_init(rx);
}

void rmp_stream_rx_restart(rmp_stream_rx *rx) {
  if (rx->jr) rx->jr->have_seq = 0;
  memset(&rx->clock, 0, sizeof rx->clock);
}

void rmp_stream_rx_resume(rmp_stream_rx *rx, uint16_t last_seq) {
  if (!rx->jr) return;
  rx->jr->have_seq = 1;
  rx->jr->last = last_seq;
}

/* The SysEx buffer is made for the first packet that starts a SysEx, as
 * seen by the buffer-less decoder `probe` that looked at the packet first.
 * Without memory the SysEx is dropped as too long, as any that does not fit. */
static void sysex_on_demand(rmp_stream_rx *rx, const rmp_cmd_decoder *probe, size_t cap) {
  if (rx->sysex || !rmp_cmd_decoder_sysex_seen(probe)) return;
  rx->sysex = malloc(cap);
  if (rx->sysex) rmp_cmd_decoder_set_buffer(&rx->dec, rx->sysex, cap);
}

/* What sounds at the application (rmp_stream_rx.sounding, .pedals): every
 * message delivered goes through here. */
static void track(rmp_stream_rx *rx, const uint8_t *m, size_t len) {
  if (len == 1 && m[0] == 0xFF) { /* System Reset */
    memset(rx->sounding, 0, sizeof rx->sounding);
    memset(rx->pedals, 0, sizeof rx->pedals);
    return;
  }
  if (len < 3) return;
  unsigned ch = m[0] & 0x0F, st = m[0] & 0xF0;
  uint8_t bit = (uint8_t)(1u << (m[1] & 7));
  uint8_t *byte = &rx->sounding[ch][(m[1] & 0x7F) >> 3];
  if (st == 0x90 && m[2]) *byte |= bit;
  else if (st == 0x80 || st == 0x90) *byte &= (uint8_t)~bit;
  else if (st == 0xB0 && m[1] >= 64 && m[1] <= 69) {
    uint8_t p = (uint8_t)(1u << (m[1] - 64));
    if (m[2] >= 64) rx->pedals[ch] |= p;
    else rx->pedals[ch] &= (uint8_t)~p;
  } else if (st == 0xB0 && (m[1] == 120 || m[1] >= 123)) {
    /* All Sound Off, All Notes Off, the mode messages (which end notes) */
    memset(rx->sounding[ch], 0, sizeof rx->sounding[ch]);
  } else if (st == 0xB0 && m[1] == 121) {
    rx->pedals[ch] = 0; /* Reset All Controllers (RP-015: the pedals up) */
  }
}

unsigned rmp_stream_rx_release(rmp_stream_rx *rx, double now, rmp_stream_deliver_fn deliver, void *ud,
                               rmp_stream_counts *n) {
  unsigned k = 0;
  for (unsigned ch = 0; ch < 16; ch++) {
    uint8_t m[3];
    for (unsigned note = 0; note < 128; note++) {
      if (!(rx->sounding[ch][note >> 3] & (1u << (note & 7)))) continue;
      m[0] = (uint8_t)(0x80 | ch);
      m[1] = (uint8_t)note;
      m[2] = 0x40;
      track(rx, m, 3);
      if (rx->jr) rmp_ej_recv_apply(rx->jr, m, 3);
      k++;
      n->released++;
      if (deliver(ud, m, 3, now, true)) return k;
    }
    for (unsigned c = 64; c <= 69; c++) {
      if (!(rx->pedals[ch] & (1u << (c - 64)))) continue;
      m[0] = (uint8_t)(0xB0 | ch);
      m[1] = (uint8_t)c;
      m[2] = 0;
      track(rx, m, 3);
      if (rx->jr) rmp_ej_recv_apply(rx->jr, m, 3);
      k++;
      n->released++;
      if (deliver(ud, m, 3, now, true)) return k;
    }
  }
  return k;
}

typedef struct repair_ctx {
  rmp_stream_rx *rx;
  rmp_stream_deliver_fn deliver;
  void *ud;
  rmp_stream_counts *n;
  double time;
  bool stopped;
} repair_ctx;

/* A repair command from the journal, delivered before the packet's own. */
static void on_repair(void *ud, const uint8_t *msg, size_t len) {
  repair_ctx *x = ud;
  if (x->stopped) return;
  x->n->recovered++;
  track(x->rx, msg, len);
  if (x->deliver(x->ud, msg, len, x->time, true)) x->stopped = true;
}

int rmp_stream_rx_packet(rmp_stream_rx *rx, const rmp_stream_config *c, uint16_t seq, uint32_t ts,
                         const uint8_t *payload, size_t len, double now, rmp_stream_deliver_fn deliver,
                         void *ud, rmp_stream_counts *n) {
  /* Check the whole section before delivering any of it: a malformed packet
   * is dropped whole. A decoder without a SysEx buffer has no side effects
   * on the real one. */
  rmp_cmd_decoder probe;
  rmp_cmd_decoder_init(&probe, NULL, 0);
  rmp_cmd_iter it;
  rmp_cmd_event e;
  int section = rmp_cmd_iter_init(&it, &probe, payload, len);
  int r = section;
  uint32_t end_ticks = 0;
  while (r >= 0 && (r = rmp_cmd_iter_next(&it, &e)) == 1) end_ticks = e.time;
  if (r < 0) {
    n->malformed++;
    return RMP_STREAM_RX_MALFORMED;
  }
  sysex_on_demand(rx, &probe, c->max_sysex);
  rmp_ts_anchor_update(&rx->clock, ts, end_ticks, now, c->rate);
  int64_t base = rx->clock.ext_ts;
  /* Without memory for the receiver the packet's own commands still go
   * out; the next packet tries again. */
  if (c->recovery && !rx->jr && (rx->jr = malloc(sizeof *rx->jr)) != NULL) rmp_ej_recv_init(rx->jr);
  if (c->recovery && rx->jr) {
    /* After a loss the journal repairs what the lost packets changed, before
     * this packet's own commands; otherwise only its header is seen. */
    const uint8_t *journal = it.hdr.j ? payload + section : NULL;
    size_t jlen = it.hdr.j ? len - (size_t)section : 0;
    repair_ctx x = {rx, deliver, ud, n, rmp_ts_anchor_local(&rx->clock, base, c->rate), false};
    /* The repair budget per second (#16 finding 3: a 26-octet journal
     * asked for 16,384 messages) refills from the time of the packet. */
    rmp_ej_recv_refill(rx->jr, (uint32_t)(uint64_t)now);
    unsigned long over = rx->jr->over_budget;
    int f = rmp_ej_recv_packet(rx->jr, seq, journal, jlen, on_repair, &x);
    n->over_budget += rx->jr->over_budget - over;
    if (f >= 0 && (f & RMP_EJ_R_LATE)) {
      if (seq == rx->jr->last) {
        n->duplicates++;
        return RMP_STREAM_RX_DUPLICATE;
      }
      /* older than the last: the sender's numbering restarted */
      rx->jr->have_seq = 0;
      f = rmp_ej_recv_packet(rx->jr, seq, NULL, 0, on_repair, &x);
    }
    if (f < 0) n->bad_journals++;
    else {
      if (f & RMP_EJ_R_REPAIRED) n->repairs++;
      if (f & (RMP_EJ_R_UNCOVERED | RMP_EJ_R_NOJOURNAL)) n->unrecovered++;
    }
    if (x.stopped) return RMP_STREAM_RX_STOPPED;
  }
  rmp_cmd_iter_init(&it, &rx->dec, payload, len);
  while (rmp_cmd_iter_next(&it, &e) == 1) {
    if (e.error) {
      n->sysex_dropped++;
      continue;
    }
    n->messages++;
    if (rx->jr) rmp_ej_recv_apply(rx->jr, e.data, e.len);
    track(rx, e.data, e.len);
    if (deliver(ud, e.data, e.len, rmp_ts_anchor_local(&rx->clock, base + e.time, c->rate), false))
      return RMP_STREAM_RX_STOPPED;
  }
  return RMP_STREAM_RX_OK;
}
