/* One RTP MIDI stream: sending with the recovery journal and guard packets,
 * receiving with journal repair and time mapping (midi_stream.h). */
#include "midi_stream.h"

#include <math.h>
#include <stdint.h>
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

/* ---- a SysEx in parts (midi_stream.h) ---- */

/* When the peer's last new feedback came (rmp_stream_tx_ack has no clock:
 * the next call that has one takes it). */
static void stamp_feedback(rmp_stream_tx *tx, double now) {
  if (!tx->fb_new) return;
  tx->fb_new = false;
  tx->fb_at = now;
}

static bool is_sysex(const rmp_cmd_msg *m) { return m->len >= 2 && m->data[0] == 0xF0; }

/* Data octets of a SysEx. */
static size_t sx_data(const rmp_cmd_msg *m) { return m->len - 2; }

size_t rmp_stream_tx_sx_room(rmp_stream_tx *tx, const rmp_stream_config *c, double now) {
  size_t jcap = journal_cap(c);
  /* open loop, nothing would confirm the parts: no wait (midi_stream.h) */
  if (!c->recovery || !tx->feedback || jcap < RMP_STREAM_SX_SLACK + 64) return SIZE_MAX;
  stamp_feedback(tx, now);
  size_t room = RMP_EJ_X_PART_MAX, used = tx->j ? tx->j->len : RMP_EJ_HDR_SIZE;
  if (tx->j) {
    size_t r = rmp_ej_send_part_room(&tx->j->s);
    if (r < room) room = r;
  }
  /* what the journal of the next packet can still take beside what it has */
  size_t lim = jcap > used + RMP_STREAM_SX_SLACK ? jcap - used - RMP_STREAM_SX_SLACK : 0;
  if (lim < room) room = lim;
  /* wait only for a peer whose feedback is recent: one that answers
   * slowly (MidiSession's default RTCP interval, 5 s) or no longer would
   * hold everything after the SysEx for seconds */
  tx->sx_stalled = room < RMP_STREAM_SX_MIN_PART && now - tx->fb_at < RMP_STREAM_SX_STALL_MS;
  if (tx->sx_stalled) return 0;
  return room < RMP_STREAM_SX_MIN_PART ? SIZE_MAX : room;
}

int rmp_stream_section(rmp_cmd_encoder *enc, const rmp_stream_config *c, const rmp_cmd_msg *msgs,
                       size_t n, size_t jlen, size_t sx_room, uint8_t *out, size_t cap,
                       rmp_stream_info *info) {
  memset(info, 0, sizeof *info);
  size_t budget = c->payload_budget > jlen ? c->payload_budget - jlen : 0;
  if (budget < RMP_CMD_MIN_BUDGET) budget = RMP_CMD_MIN_BUDGET;
  info->sx_from = enc->sysex_off;
  if (sx_room != SIZE_MAX && n > 0) {
    const rmp_cmd_msg *m = &msgs[0];
    /* a SysEx in parts: one that goes on, or one too long for the recency
     * log or (with a delta and the header) for this section; a packet of
     * its own, with at most sx_room data octets (the encoder's segment of a
     * section of budget b holds at most b - 4) */
    if (m->data && is_sysex(m) && (enc->sysex_off > 0 || sx_data(m) > RMP_EJ_X_MAX_DATA || m->len + 6 > budget)) {
      if (sx_room < RMP_STREAM_SX_MIN_PART) return 0;
      if (budget > sx_room + 4) budget = sx_room + 4;
      n = 1;
    } else {
      /* a later SysEx that may need parts starts a packet */
      for (size_t k = 1; k < n; k++)
        if (msgs[k].data && is_sysex(&msgs[k]) && (sx_data(&msgs[k]) > RMP_EJ_X_MAX_DATA || msgs[k].len > sx_room)) {
          n = k;
          break;
        }
    }
  }
  int r = rmp_cmd_encode(enc, msgs, n, false, budget, out, cap, &info->cmd);
  if (r >= 0 && info->cmd.sysex_partial) info->sx_to = enc->sysex_off;
  return r;
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
                         uint16_t seq, const rmp_cmd_msg *msgs, size_t n, double now, uint8_t *out,
                         size_t cap, rmp_stream_info *info, size_t *jlen) {
  *jlen = rmp_stream_tx_journal(tx, c, seq, n > 0);
  if (*jlen >= cap) return RMP_E_NO_SPACE;
  size_t room = rmp_stream_tx_sx_room(tx, c, now);
  int s = rmp_stream_section(enc, c, msgs, n, *jlen, room, out, cap - *jlen, info);
  if (s <= 0) return s;
  return rmp_stream_tx_append(tx, out, (size_t)s, cap);
}

/* A part of a SysEx in parts: the data octets of m from offset `from`
 * (F0 at 0) up to `to`. A part that goes on one this journal did not see
 * start (a receiver that joined in its middle) is not journalled: the
 * journal would code its tail as a whole. */
static void record_part(rmp_stream_tx *tx, uint16_t seq, const rmp_cmd_msg *m, size_t from, size_t to,
                        bool end) {
  bool first = from == 0;
  if (first) from = 1;
  else if (tx->sx_len != m->len || tx->sx_next != from) {
    tx->sx_len = 0;
    return;
  }
  rmp_ej_send_record_part(&tx->j->s, seq, m->data + from, to - from, first, end);
  tx->sx_len = end ? 0 : m->len;
  tx->sx_next = to;
}

void rmp_stream_tx_sent(rmp_stream_tx *tx, const rmp_stream_config *c, uint16_t seq,
                        const rmp_cmd_msg *msgs, const rmp_stream_info *info, double now) {
  tx->last_seq = seq;
  tx->sent = true;
  count_unacked(tx);
  stamp_feedback(tx, now);
  size_t nm = info->cmd.nmsgs;
  if (!tx->j || nm + info->cmd.sysex_partial == 0) return;
  for (size_t i = 0; i < nm; i++) {
    const rmp_cmd_msg *m = &msgs[i];
    size_t from = i == 0 ? info->sx_from : 0;
    /* a SysEx in parts (midi_stream.h): its last part, or all of it */
    if (is_sysex(m) && (from > 0 || sx_data(m) > RMP_EJ_X_MAX_DATA)) record_part(tx, seq, m, from, m->len - 1, true);
    else rmp_ej_send_record(&tx->j->s, seq, m->data, m->len);
  }
  if (info->cmd.sysex_partial) record_part(tx, seq, &msgs[nm], nm == 0 ? info->sx_from : 0, info->sx_to, false);
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
  /* The peer makes progress: its time, stamp_feedback. Only an ack that
   * confirms something new counts, or a peer repeating an old one (a frozen
   * or hostile participant) would hold a stalled SysEx, and everything
   * after it, for as long as it repeats (midi_stream.h). */
  tx->fb_new = true;
  tx->unacked = behind;
  if (tx->j) rmp_ej_send_ack(&tx->j->s, seq);
  /* seq confirms last_cmd_seq when it is that packet or one sent after it:
   * in [last_cmd_seq, last_seq], modulo 2^16 */
  if (tx->unconfirmed &&
      (uint16_t)(seq - tx->last_cmd_seq) <= (uint16_t)(tx->last_seq - tx->last_cmd_seq))
    tx->unconfirmed = false;
  return 1;
}

static double guard_deadline(const rmp_stream_tx *tx) {
  if (!tx->j || !tx->unconfirmed) return INFINITY;
  if (tx->guards_sent < RMP_STREAM_OPEN_GUARDS) return tx->next_guard;
  if (tx->feedback && tx->guards_sent < RMP_STREAM_OPEN_GUARDS + RMP_STREAM_LATE_GUARDS)
    return tx->next_guard;
  return INFINITY;
}

double rmp_stream_tx_deadline(const rmp_stream_tx *tx) {
  double d = guard_deadline(tx);
  if (tx->sx_stalled && !tx->fb_new && tx->fb_at + RMP_STREAM_SX_STALL_MS < d) d = tx->fb_at + RMP_STREAM_SX_STALL_MS;
  return d;
}

int rmp_stream_tx_guard(rmp_stream_tx *tx, const rmp_stream_config *c, uint16_t seq, double now,
                        uint8_t *out, size_t cap) {
  stamp_feedback(tx, now);
  if (cap < 2 || now < guard_deadline(tx)) return 0;
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
                          : tx->sx_stalled ? c->guard_ms * RMP_STREAM_SX_GUARD_GAP
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

/* What sounds at the application (rmp_stream_rx.held, midi_held.h): every
 * message delivered goes through here. */
static void track(rmp_stream_rx *rx, const uint8_t *m, size_t len) { rmp_held_apply(&rx->held, m, len); }

unsigned rmp_stream_rx_release(rmp_stream_rx *rx, double now, rmp_stream_deliver_fn deliver, void *ud,
                               rmp_stream_counts *n) {
  unsigned k = 0;
  uint8_t m[3];
  while (rmp_held_next_release(&rx->held, m)) {
    if (rx->jr) rmp_ej_recv_apply(rx->jr, m, 3);
    k++;
    n->released++;
    if (deliver(ud, m, 3, now, true)) return k;
  }
  return k;
}

typedef struct repair_ctx {
  rmp_stream_rx *rx;
  const rmp_stream_config *c;
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

/* The decoder's SysEx reassembly, driven from here for the repairs of a
 * SysEx in parts (midi_cmd.c's states: 0 idle, 1 collecting). */
#define SX_COLLECTING 1
static void sx_put(rmp_cmd_decoder *d, uint8_t b) {
  if (d->sysex_len < d->sysex_cap) d->sysex_buf[d->sysex_len++] = b;
  else d->sysex_overflow = true;
}

/* A repair of a SysEx in parts (journal.h rmp_ej_part_fn): octets the
 * lost packets held, appended to the SysEx being reassembled (or starting
 * it); complete, it is delivered as a repair. */
static void on_repair_part(void *ud, const uint8_t *data, size_t len, int first, int end) {
  rmp_stream_rx *rx = ud;
  repair_ctx *x = rx->rep;
  rmp_cmd_decoder *d = &rx->dec;
  if (!x) return;
  if (end == RMP_EJ_PART_CANCEL) {
    /* the sender cancelled it (RFC 6295 section 3.2) */
    if (d->sysex_state == SX_COLLECTING) x->n->sysex_dropped++;
    rmp_cmd_decoder_reset(d);
    return;
  }
  if (!rx->sysex && (rx->sysex = malloc(x->c->max_sysex)) != NULL)
    rmp_cmd_decoder_set_buffer(d, rx->sysex, x->c->max_sysex);
  if (first) {
    rmp_cmd_decoder_reset(d);
    d->sysex_state = SX_COLLECTING;
    sx_put(d, 0xF0);
  } else if (d->sysex_state != SX_COLLECTING) {
    return;
  }
  for (size_t i = 0; i < len; i++) sx_put(d, data[i] & 0x7F);
  if (!end) return;
  sx_put(d, 0xF7);
  size_t n = d->sysex_len;
  bool over = d->sysex_overflow;
  rmp_cmd_decoder_reset(d);
  if (over) x->n->sysex_dropped++;
  else on_repair(x, d->sysex_buf, n);
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
  if (c->recovery && !rx->jr && (rx->jr = malloc(sizeof *rx->jr)) != NULL) {
    rmp_ej_recv_config jc;
    rmp_ej_recv_config_init(&jc);
    jc.trust_s_bits = !c->ignore_s_bits;
    jc.honor_y = !c->ignore_y;
    rmp_ej_recv_init_cfg(rx->jr, &jc);
    rmp_ej_recv_set_part_fn(rx->jr, on_repair_part, rx);
  }
  if (c->recovery && rx->jr) {
    /* After a loss the journal repairs what the lost packets changed, before
     * this packet's own commands; otherwise only its header is seen. */
    const uint8_t *journal = it.hdr.j ? payload + section : NULL;
    size_t jlen = it.hdr.j ? len - (size_t)section : 0;
    repair_ctx x = {rx, c, deliver, ud, n, rmp_ts_anchor_local(&rx->clock, base, c->rate), false};
    rx->rep = &x;
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
    rx->rep = NULL;
    if (f < 0) n->bad_journals++;
    else {
      if (f & RMP_EJ_R_REPAIRED) n->repairs++;
      if (f & (RMP_EJ_R_UNCOVERED | RMP_EJ_R_NOJOURNAL)) n->unrecovered++;
    }
    if (x.stopped) return RMP_STREAM_RX_STOPPED;
  }
  /* A SysEx in parts (midi_stream.h): the octets of each segment go to the
   * journal receiver, as the sender recorded them. `carry`: the SysEx being
   * reassembled started in an earlier packet (at offset `from`). */
  rmp_cmd_decoder *d = &rx->dec;
  bool carry = rx->jr && d->sysex_state == SX_COLLECTING;
  size_t from = d->sysex_len;
  rmp_cmd_iter_init(&it, d, payload, len);
  while (rmp_cmd_iter_next(&it, &e) == 1) {
    if (e.error) {
      carry = false;
      n->sysex_dropped++;
      continue;
    }
    bool whole = true;
    if (rx->jr && e.len >= 2 && e.data[0] == 0xF0) {
      if (carry) {
        whole = false;
        carry = false;
        if (!rmp_ej_recv_part(rx->jr, e.data + from, e.len - 1 - from, 0, 1)) {
          n->sysex_dropped++; /* it does not follow what the receiver holds */
          continue;
        }
      } else if (e.len - 2 > RMP_EJ_X_MAX_DATA) {
        whole = false;
        rmp_ej_recv_part(rx->jr, e.data + 1, e.len - 2, 1, 1);
      }
    }
    n->messages++;
    if (rx->jr && whole) rmp_ej_recv_apply(rx->jr, e.data, e.len);
    track(rx, e.data, e.len);
    if (deliver(ud, e.data, e.len, rmp_ts_anchor_local(&rx->clock, base + e.time, c->rate), false))
      return RMP_STREAM_RX_STOPPED;
  }
  /* a segment that does not end it: its octets so far */
  if (rx->jr && d->sysex_state == SX_COLLECTING && !d->sysex_overflow) {
    size_t at = carry ? from : 1;
    if (d->sysex_len >= at && !rmp_ej_recv_part(rx->jr, d->sysex_buf + at, d->sysex_len - at, !carry, 0)) {
      n->sysex_dropped++;
      rmp_cmd_decoder_reset(d);
    }
  }
  return RMP_STREAM_RX_OK;
}
