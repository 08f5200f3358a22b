/* The MIDI payload of an AppleMIDI session (RFC 6295).
 *
 * Sending: the messages given in one loop turn are encoded into command
 * sections once; each connected participant gets them in its own RTP packet
 * (its own sequence numbers) with its own recovery journal, and guard
 * packets (no commands, the journal only) after the last one, so that the
 * loss of the last packet is repaired as well (see GUARD_OPEN below).
 *
 * Receiving, per participant: RTP header -> sequence tracking (A.1) ->
 * jitter buffer -> journal (after a loss: repairs first, delivered with
 * recovered = true) -> the packet's own commands. */
#include "applemidi_internal.h"
#include "rtp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CLOCK_RATE 10000.0

/* Guard packets after the last packet of commands to a participant (RFC
 * 4696 section 7), as MidiSession's: GUARD_OPEN open-loop ones, guard_ms
 * after that packet and 4 * guard_ms after the first guard. Then, when the
 * participant has shown that it gives feedback (it has sent us an RS) and
 * its last RS does not cover that packet, one guard every LATE_GUARD_MS, at
 * most MAX_LATE_GUARDS of them: when the open-loop guards are lost as well
 * and nothing follows, the receiver would otherwise never repair the loss
 * (a stuck note). An RS for that packet or a later one stops them. A
 * participant that never sends RS gets the open-loop guards only. */
#define GUARD_OPEN 2u
#define LATE_GUARD_MS 1000.0
#define MAX_LATE_GUARDS 30u

/* A participant's media state starts small: the jitter buffer's slots, the
 * SysEx buffer and the journal's sender and receiver (~56 KiB together) are
 * made when first used, so that a participant that only keeps the session
 * up (CK, RS) costs about a kilobyte, and one that only sends or only
 * receives does not pay for the other direction. Each starts in the state
 * it would have had from the start: nothing changes on the wire. */
void rmc_ap_peer_media_init(ap_peer *p) {
  rmp_cmd_decoder_init(&p->dec, NULL, 0);
  rmp_seq_init(&p->rseq, 1);
  rmc_random(&p->seq, sizeof p->seq);
}

void rmc_ap_peer_media_free(ap_peer *p) {
  rmp_jb_out_t o;
  while (rmp_jb_flush(&p->jb, &o)) free(o.e.data);
  free(p->sysex);
  p->sysex = NULL;
  free(p->slots);
  p->slots = NULL;
  free(p->js);
  p->js = NULL;
  free(p->jr);
  p->jr = NULL;
}

/* The journal sender for p, made for the first packet of commands it gets.
 * An RS before that would have been ignored (nothing sent): a sender made
 * now is the one made at the start would be. Open-loop bound when RS never
 * comes: journal_history packets. */
static rmp_ej_sender *sender(rtpmidi_apple *a, ap_peer *p) {
  if (!p->js && (p->js = malloc(sizeof *p->js))) {
    rmp_ej_send_config jc = {(uint16_t)a->cfg.journal_history, 0, 0};
    rmp_ej_send_init(p->js, &jc);
  }
  return p->js;
}

static rmp_ej_receiver *receiver(ap_peer *p) {
  if (!p->jr && (p->jr = malloc(sizeof *p->jr))) rmp_ej_recv_init(p->jr);
  return p->jr;
}

void rmc_ap_free_queue(rtpmidi_apple *a) { rmc_midi_queue_free(&a->q); }

/* ---- sending ---- */

int rtpmidi_apple_send(rtpmidi_apple *a, const uint8_t *bytes, size_t len, const char **err) {
  static const char *dummy;
  if (!err) err = &dummy;
  *err = NULL;
  if (!a->started) return UV_ENOTCONN;
  size_t qn0 = a->q.n;
  int r = rmc_midi_queue_add(&a->q, bytes, len, rmc_ap_now(), err);
  if (r) return r;
  if (a->q.n > qn0) rmc_ap_want_flush(a);
  return 0;
}

/* Sends one RTP packet to p: header, the command section (J set when a
 * journal follows), p's journal. */
static int send_section(rtpmidi_apple *a, ap_peer *p, const uint8_t *sect, size_t slen, uint32_t ts) {
  uint8_t pkt[AP_MAX_PACKET];
  rmp_rtp_write_header(pkt, AP_PAYLOAD_TYPE, false, p->seq, ts, a->ssrc);
  memcpy(pkt + RMP_RTP_HEADER_LEN, sect, slen);
  size_t n = RMP_RTP_HEADER_LEN + slen;
  /* Without memory for the sender the packet goes out without a journal. */
  if (a->cfg.recovery && sender(a, p)) {
    int jl = rmp_ej_send_encode(p->js, p->seq, pkt + n, sizeof pkt - n);
    if (jl > 0) {
      pkt[RMP_RTP_HEADER_LEN] |= 0x40; /* J */
      n += (size_t)jl;
    }
  }
  int r = rmc_ap_send_media(a, p, pkt, n);
  p->packets_sent++;
  a->st.packets_sent++;
  return r;
}

int rtpmidi_apple_flush(rtpmidi_apple *a) {
  rmc_ap_flushed(a);
  if (a->q.n == 0 || a->flushing) return 0;
  a->flushing = true;
  rmp_cmd_msg *cmds = rmc_midi_queue_commands(&a->q, CLOCK_RATE);
  if (!cmds) {
    a->flushing = false;
    rmc_midi_queue_clear(&a->q);
    return UV_ENOMEM;
  }
  uint32_t ts = (uint32_t)rmc_ap_clock(a->q.msgs[0].t_ms);
  double now = rmc_ap_now();
  size_t done = 0;
  int r = 0;
  uint8_t sect[AP_MAX_PACKET];
  while (done < a->q.n) {
    rmp_cmd_enc_info info;
    int n = rmp_cmd_encode(&a->enc, cmds + done, a->q.n - done, false, a->cfg.payload_budget, sect,
                           sizeof sect, &info);
    if (n < 0) {
      rmp_cmd_encoder_init(&a->enc);
      r = UV_EINVAL;
      break;
    }
    for (ap_peer *p = a->peers; p; p = p->next) {
      if (p->state != AP_CONNECTED) continue;
      int sr = send_section(a, p, sect, (size_t)n, ts);
      if (sr && !r) r = sr;
      if (p->js) {
        for (size_t i = 0; i < info.nmsgs; i++)
          rmp_ej_send_record(p->js, p->seq, cmds[done + i].data, cmds[done + i].len);
        p->last_cmd_seq = p->seq;
        p->unconfirmed = true;
        p->guards_sent = 0;
        p->next_guard = now + a->cfg.guard_ms;
      }
      p->seq++;
    }
    ts += info.ticks;
    a->st.messages_sent += info.nmsgs;
    done += info.nmsgs;
  }
  rmc_midi_queue_clear(&a->q);
  a->flushing = false;
  if (!a->busy) rmc_ap_schedule(a);
  return r;
}

/* ---- receiving ---- */

/* The local time of p's RTP time (ticks, unwrapped): rtp.h's anchor. */
static double local_time(const ap_peer *p, int64_t ticks) {
  return rmp_ts_anchor_local(&p->clock, ticks, CLOCK_RATE);
}

typedef struct repair_ctx {
  rtpmidi_apple *a;
  ap_peer *p;
  double time;
} repair_ctx;

static void emit_repair(void *ud, const uint8_t *msg, size_t len) {
  repair_ctx *x = ud;
  if (x->p->state != AP_CONNECTED) return;
  x->p->messages_recovered++;
  x->a->st.messages_recovered++;
  if (x->a->ev.on_midi) {
    rtpmidi_apple_peer info;
    rmc_ap_fill_peer(x->p, &info);
    x->a->ev.on_midi(x->a->ud, &info, msg, len, x->time, true);
  }
}

static void deliver(rtpmidi_apple *a, ap_peer *p, const rmp_jb_out_t *o) {
  ap_pkt *k = o->e.data;
  const uint8_t *pl = k->data;
  size_t len = k->len;
  if (o->lost_before) {
    p->lost += o->lost_before;
    a->st.lost += o->lost_before;
  }
  /* check the whole command section before delivering any of it */
  rmp_cmd_decoder probe;
  rmp_cmd_decoder_init(&probe, NULL, 0);
  rmp_cmd_iter it;
  rmp_cmd_event e;
  int sect = rmp_cmd_iter_init(&it, &probe, pl, len);
  int r = sect;
  uint32_t end_ticks = 0;
  while (r >= 0 && (r = rmp_cmd_iter_next(&it, &e)) == 1) end_ticks = e.time;
  if (r < 0) {
    a->st.malformed++;
    return;
  }
  rmc_sysex_on_demand(&p->dec, &probe, &p->sysex, a->cfg.max_sysex);
  double now = rmc_ap_now();
  rmp_ts_anchor_update(&p->clock, k->ts, end_ticks, now, CLOCK_RATE);
  int64_t base = p->clock.ext_ts;
  /* Without memory for the receiver the packet's commands still go out. */
  if (a->cfg.recovery && receiver(p)) {
    rmp_cmd_header h;
    rmp_cmd_header_parse(pl, len, &h);
    const uint8_t *j = h.j ? pl + sect : NULL;
    size_t jl = h.j ? len - (size_t)sect : 0;
    repair_ctx x = {a, p, local_time(p, base)};
    int f = rmp_ej_recv_packet(p->jr, (uint16_t)o->e.ext_seq, j, jl, emit_repair, &x);
    if (f < 0) a->st.journal_errors++;
    else if (f & RMP_EJ_R_LATE) return;
    if (p->state != AP_CONNECTED) return;
  }
  rmp_cmd_iter_init(&it, &p->dec, pl, len);
  while (rmp_cmd_iter_next(&it, &e) == 1) {
    if (e.error) {
      a->st.sysex_dropped++;
      continue;
    }
    if (p->jr) rmp_ej_recv_apply(p->jr, e.data, e.len);
    a->st.messages_received++;
    if (a->ev.on_midi) {
      rtpmidi_apple_peer info;
      rmc_ap_fill_peer(p, &info);
      a->ev.on_midi(a->ud, &info, e.data, e.len, local_time(p, base + e.time), false);
    }
    if (p->state != AP_CONNECTED) break;
  }
}

static void pop_all(rtpmidi_apple *a, ap_peer *p, uint64_t now_us) {
  rmp_jb_out_t o;
  while (rmp_jb_pop(&p->jb, now_us, &o)) {
    if (p->state == AP_CONNECTED) deliver(a, p, &o);
    free(o.e.data);
  }
}

void rmc_ap_on_rtp(rtpmidi_apple *a, const uint8_t *buf, size_t len, const rmp_addr *from) {
  rmp_rtp_header h;
  if (rmp_rtp_parse(buf, len, &h) < 0) {
    a->st.malformed++;
    return;
  }
  ap_peer *p = rmc_ap_rtp_peer(a, h.ssrc, from);
  if (!p) return;
  if (!p->slots) {
    /* the jitter buffer, with the first RTP packet from p */
    p->slots = malloc(a->cfg.jitter_buffer_packets * sizeof *p->slots);
    if (!p->slots) return; /* out of memory: as if lost on the way */
    rmp_jb_init(&p->jb, p->slots, a->cfg.jitter_buffer_packets, (uint64_t)(a->cfg.jitter_buffer_ms * 1000.0));
  }
  double now = rmc_ap_now();
  uint64_t now_us = (uint64_t)(now * 1000.0);
  uint32_t ext;
  int r = rmp_seq_receive(&p->rseq, h.sequence, h.timestamp, now_us, (uint32_t)CLOCK_RATE, &ext);
  if (r == RMP_SEQ_PROBATION || r == RMP_SEQ_BAD) return;
  if (r == RMP_SEQ_RESYNC) {
    rmp_jb_out_t o;
    while (rmp_jb_flush(&p->jb, &o)) {
      if (p->state == AP_CONNECTED) deliver(a, p, &o);
      free(o.e.data);
    }
    rmp_jb_reset(&p->jb);
  }
  p->packets_received++;
  a->st.packets_received++;
  rmc_ap_rtp_received(a, p, h.sequence);
  ap_pkt *k = malloc(sizeof *k + h.payload_len);
  if (!k) return;
  k->ts = h.timestamp;
  k->len = h.payload_len;
  memcpy(k->data, buf + h.payload_offset, h.payload_len);
  int pr = rmp_jb_push(&p->jb, ext, now_us, k);
  if (pr == RMP_EJB_FULL) {
    pop_all(a, p, now_us);
    pr = rmp_jb_push(&p->jb, ext, now_us, k);
  }
  if (pr < 0) {
    free(k);
    a->st.duplicate++;
    return;
  }
  pop_all(a, p, now_us);
}

/* Whether p is owed another guard packet (at next_guard). */
static bool guard_due(const ap_peer *p) {
  if (!p->js || !p->unconfirmed) return false;
  if (p->guards_sent < GUARD_OPEN) return true;
  return p->feedback && p->guards_sent < GUARD_OPEN + MAX_LATE_GUARDS;
}

/* An RS confirms the last packet of commands when its seq is that packet or
 * one sent after it: in [last_cmd_seq, seq - 1], modulo 2^16. */
void rmc_ap_on_rs(ap_peer *p, uint16_t seq) {
  p->feedback = true;
  if (p->unconfirmed &&
      (uint16_t)(seq - p->last_cmd_seq) <= (uint16_t)(p->seq - 1u - p->last_cmd_seq))
    p->unconfirmed = false;
}

double rmc_ap_media_deadline(ap_peer *p) {
  double d = INFINITY;
  if (guard_due(p)) d = p->next_guard;
  uint64_t us;
  if (rmp_jb_next_deadline(&p->jb, &us)) {
    double m = (double)us / 1000.0;
    if (m < d) d = m;
  }
  return d;
}

void rmc_ap_service_media(rtpmidi_apple *a, ap_peer *p, double now) {
  pop_all(a, p, (uint64_t)(now * 1000.0));
  if (p->state != AP_CONNECTED) return;
  if (guard_due(p) && now >= p->next_guard) {
    /* a guard packet: an empty command section carrying the journal */
    uint8_t pkt[AP_MAX_PACKET];
    size_t n = RMP_RTP_HEADER_LEN;
    rmp_rtp_write_header(pkt, AP_PAYLOAD_TYPE, false, p->seq, (uint32_t)rmc_ap_clock(now), a->ssrc);
    int jl = rmp_ej_send_encode(p->js, p->seq, pkt + n + 1, sizeof pkt - n - 1);
    if (jl <= 0) {
      /* an empty journal (its checkpoint is past every change): nothing to protect */
      p->unconfirmed = false;
      return;
    }
    pkt[n] = 0x40; /* B=0 J=1 Z=0 P=0 LEN=0 */
    n += 1 + (size_t)jl;
    rmc_ap_send_media(a, p, pkt, n);
    p->seq++;
    p->packets_sent++;
    a->st.packets_sent++;
    a->st.guard_sent++;
    p->guards_sent++;
    p->next_guard = now + (p->guards_sent < GUARD_OPEN ? 4 * a->cfg.guard_ms : LATE_GUARD_MS);
  }
}
