/* libFuzzer round trip of the recovery journal: a sender state built from
 * a message stream derived from the input -> rmp_ej_send_encode -> decode
 * (rmp_ej_parse) -> the same octets when re-encoded; and a receiver that
 * loses packets, repairs from the journals and ends in the sender's state.
 *
 * Input: |cfg|seed|raw MIDI...|
 *   The raw MIDI octets go through the raw parser (midi_msg.c): valid
 *   messages whatever the octets. Packet sizes (1..4 messages, or 1..16)
 *   and losses come from a generator seeded by `seed`.
 *   cfg bit 0: up to 16 messages per packet; bit 1: Y window of 8 packets;
 *   bits 2-3: loss rate 0/10/30/60 %; bit 4: receiver feedback every 8
 *   packets; bit 5: open-loop bounds (64 packets, 400 octets), which may
 *   trim the history, so convergence is then checked only when the
 *   receiver reported no uncovered loss; bit 6: use the S-bit shortcut
 *   (off: every loss is repaired as a multiple loss); bit 7: the sender's
 *   clock (rmp_ej_send_encode_at, packets 1-50 ms apart: Y from elapsed
 *   time) and SysEx sent in two parts in two packets (Chapter X partial
 *   forms, rmp_ej_send_record_part / rmp_ej_recv_part): every SysEx the
 *   receiver reassembles is the one sent, and without a Reset State command
 *   in the stream and no uncovered loss, every one arrives, once.
 *
 * Checked: every journal re-encodes to its own octets, the cheap size walk
 * agrees, the receiver accepts every journal and emits only valid MIDI,
 * and the state converges: receiver == sender (rmp_ms_compare) after the
 * final packet, when no loss was uncovered and no repair went over the
 * receiver's budget. The convergence check is on by
 * default, so CI gates on it; RTPMIDI_FUZZ_CONVERGE=0 turns it off (to
 * look for crashes only while a divergence is being fixed); RTPMIDI_FUZZ_TRACE=1
 * prints each packet, its messages and whether it was lost. SysEx of up to
 * 16 octets is part of the stream (Chapter X). */
#include <stddef.h>
#include <string.h>

#include "fuzz_common.h"
#include "journal.h"
#include "midi_msg.h"

#define MAX_MSGS 2048

typedef struct {
  uint8_t b[16];
  uint8_t n;
} msg_t;

static msg_t msgs[MAX_MSGS];
static rmp_ej_sender snd;
static rmp_ej_receiver rcv;

/* The receiver's reassembly of SysEx in parts, checked against what was
 * sent: the data octets of every SysEx sent in parts, in order. */
typedef struct {
  uint8_t buf[16];
  size_t len;
  unsigned next, got, sent; /* next: where to look in sent_list; got: reassembled */
  const msg_t *sent_list[MAX_MSGS];
} px_state;
static px_state px;
static int trace = -1; /* RTPMIDI_FUZZ_TRACE=1: each packet, its messages and fate, on stderr */
static void px_add(const uint8_t *d, size_t n, int first, int end) {
  if (trace > 0) {
    fprintf(stderr, "    receiver part%s%s:", first ? " first" : "", end ? " end" : "");
    for (size_t o = 0; o < n; o++) fprintf(stderr, " %02X", d[o]);
    fputc('\n', stderr);
  }
  if (first) px.len = 0;
  FUZZ_ASSERT(px.len + n <= sizeof px.buf);
  memcpy(px.buf + px.len, d, n);
  px.len += n;
  if (end) {
    /* it is one of those sent, at or after the next expected one */
    int found = 0;
    while (px.next < px.sent && !found) {
      const msg_t *m = px.sent_list[px.next++];
      found = m->n - 2u == px.len && memcmp(m->b + 1, px.buf, px.len) == 0;
    }
    FUZZ_ASSERT(found);
    px.got++;
  }
}
static void on_part(void *ud, const uint8_t *d, size_t n, int first, int end) {
  (void)ud;
  if (end == RMP_EJ_PART_CANCEL) { /* a System Reset ended it (journal_recv.c) */
    px.len = 0;
    return;
  }
  px_add(d, n, first, end);
}

/* Repairs: valid MIDI; a SysEx sent in parts may also be replayed whole
 * (a finished log that holds it all, for a receiver that has none of it). */
static void on_emit(void *ud, const uint8_t *m, size_t n) {
  (void)ud;
  if (trace > 0) {
    fprintf(stderr, "    repair:");
    for (size_t o = 0; o < n; o++) fprintf(stderr, " %02X", m[o]);
    fputc('\n', stderr);
  }
  FUZZ_ASSERT(n >= 1 && rmp_midi_msg_validate(m, n) == RMP_OK);
  if (m[0] != 0xF0) return;
  for (unsigned k = px.next; k < px.sent; k++)
    if (px.sent_list[k]->n == n && memcmp(px.sent_list[k]->b, m, n) == 0) {
      px.next = k + 1;
      px.got++;
      return;
    }
}

static void on_emit(void *ud, const uint8_t *m, size_t n);

typedef struct {
  const uint8_t *buf;
  size_t len, off;
  int started;
  const rmp_ej_hdr *hdr;
  const rmp_ej_sys *sys;
} walk_ctx;

/* Each decoded channel journal re-encodes to the octets it came from. */
static int reencode_chan(void *ud, const rmp_ej_chan *cj) {
  walk_ctx *w = ud;
  if (!w->started) {
    w->off = RMP_EJ_HDR_SIZE + (w->hdr->y ? w->sys->length : 0u);
    w->started = 1;
  }
  static uint8_t tmp[1100];
  int r = rmp_ej_chan_encode(cj, tmp, sizeof tmp);
  FUZZ_ASSERT(r == cj->length && w->off + (size_t)r <= w->len);
  FUZZ_ASSERT(memcmp(tmp, w->buf + w->off, (size_t)r) == 0);
  w->off += (size_t)r;
  return 0;
}

static void check_journal(const uint8_t *j, size_t jl) {
  FUZZ_ASSERT(rmp_ej_journal_size(j, jl) == (int)jl);
  static rmp_ej_sys sys;
  static rmp_ej_chan scratch;
  rmp_ej_hdr hdr;
  walk_ctx w = { j, jl, 0, 0, &hdr, &sys };
  FUZZ_ASSERT(rmp_ej_parse(j, jl, &hdr, &sys, &scratch, reencode_chan, &w) == (int)jl);
  uint8_t h3[RMP_EJ_HDR_SIZE];
  FUZZ_ASSERT(rmp_ej_hdr_encode(&hdr, h3, sizeof h3) == RMP_EJ_HDR_SIZE && memcmp(h3, j, 3) == 0);
  if (hdr.y) {
    static uint8_t tmp[1100];
    int r = rmp_ej_sys_encode(&sys, tmp, sizeof tmp);
    FUZZ_ASSERT(r == sys.length && memcmp(tmp, j + RMP_EJ_HDR_SIZE, (size_t)r) == 0);
  }
  if (hdr.a) FUZZ_ASSERT(w.started && w.off == jl);
  else FUZZ_ASSERT((size_t)RMP_EJ_HDR_SIZE + (hdr.y ? sys.length : 0u) == jl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_in in;
  fuzz_in_init(&in, data, size);
  uint8_t cfg = fuzz_u8(&in);
  uint64_t rs = 0xD1B54A32D192ED03ull ^ ((uint64_t)fuzz_u8(&in) << 17);
  const uint8_t *raw = data + in.off;
  size_t raw_len = fuzz_left(&in);

  /* Messages from the raw stream (SysEx of up to 16 octets included). */
  uint8_t sx[16];
  rmp_midi_parser mp;
  rmp_midi_event ev;
  rmp_midi_parser_init(&mp, sx, sizeof sx);
  size_t nmsg = 0, off = 0;
  while (off < raw_len && nmsg < MAX_MSGS) {
    size_t used = rmp_midi_parser_feed(&mp, raw + off, raw_len - off, &ev);
    off += used;
    if (ev.len && ev.len <= sizeof msgs[0].b) {
      memcpy(msgs[nmsg].b, ev.data, ev.len);
      msgs[nmsg].n = (uint8_t)ev.len;
      nmsg++;
    } else if (!used && !ev.len && !ev.error) {
      break;
    }
  }

  rmp_ej_send_config sc = { .y_window = (uint16_t)((cfg & 2) ? 8 : 0) };
  size_t cap = 1400;
  if (cfg & 0x20) { sc.max_history = 64; sc.max_size = 400; }
  rmp_ej_send_free(&snd); rmp_ej_send_init(&snd, &sc);
  rmp_ej_recv_free(&rcv); rmp_ej_recv_init(&rcv);
  rcv.cfg.trust_s_bits = (cfg & 0x40) != 0;
  int timed = (cfg & 0x80) != 0;
  rmp_ej_recv_set_part_fn(&rcv, on_part, NULL);
  memset(&px, 0, offsetof(px_state, sent_list));
  uint32_t now = 0;
  int rs_seen = 0;
  size_t part2 = 0; /* a SysEx whose second part goes in the next packet: its index + 1 */
  static const unsigned loss_pct[4] = { 0, 10, 30, 60 };
  unsigned loss = loss_pct[(cfg >> 2) & 3];
  unsigned per_pkt = (cfg & 1) ? 16 : 4;
  uint16_t seq = (uint16_t)(0xFFF0u + (fuzz_rand(&rs) & 31)); /* crosses the wrap */
  static uint8_t jbuf[1500];
  if (trace < 0) {
    const char *e = getenv("RTPMIDI_FUZZ_TRACE");
    trace = e && *e == '1';
  }
  size_t i = 0;
  unsigned packets = 0;
  int guard = 0;
  for (;;) {
    int last = i >= nmsg && !part2;
    size_t k = last ? 0 : 1 + fuzz_rand(&rs) % per_pkt;
    if (i + k > nmsg) k = nmsg - i;
    /* a SysEx in parts: its first half alone in this packet, the rest
     * alone in the next (Reset State and Full Frame SysEx stay whole, the
     * models take them whole) */
    const msg_t *pm = NULL;
    size_t poff = 0, plen = 0;
    int pfirst = 0, pend = 0;
    if (part2) {
      pm = &msgs[part2 - 1];
      poff = (pm->n - 2u) / 2;
      plen = pm->n - 2u - poff;
      pend = 1;
      part2 = 0;
      k = 0;
    } else if (timed) {
      for (size_t m = 0; m < k; m++) {
        const msg_t *c = &msgs[i + m];
        if (c->b[0] != 0xF0 || c->n < 4 || rmp_ms_is_reset_state(c->b, c->n) || rmp_ms_is_full_frame(c->b, c->n))
          continue;
        if (rmp_ej_send_part_room(&snd) < c->n - 2u) continue; /* stalled: this one goes whole */
        /* its octets identify it in the checks: only a SysEx sent once */
        int twice = 0;
        for (size_t o = 0; o < nmsg && !twice; o++)
          twice = o != i + m && msgs[o].n == c->n && memcmp(msgs[o].b, c->b, c->n) == 0;
        if (twice) continue;
        if (m) { k = m; break; } /* up to it, it goes next */
        pm = c;
        plen = (c->n - 2u) / 2;
        pfirst = 1;
        pend = plen == c->n - 2u;
        if (!pend) part2 = i + 1;
        k = 0;
        i++;
        px.sent_list[px.sent++] = c;
        break;
      }
    }
    now += 1 + fuzz_rand(&rs) % 50;
    int jl = timed ? rmp_ej_send_encode_at(&snd, seq, now, jbuf, cap) : rmp_ej_send_encode(&snd, seq, jbuf, cap);
    FUZZ_ASSERT(jl >= 0 && (size_t)jl <= cap);
    if (sc.max_size) FUZZ_ASSERT(jl <= sc.max_size);
    if (jl > 0) check_journal(jbuf, (size_t)jl);
    for (size_t m = 0; m < k; m++) {
      rmp_ej_send_record(&snd, seq, msgs[i + m].b, msgs[i + m].n);
      rs_seen |= rmp_ms_is_reset_state(msgs[i + m].b, msgs[i + m].n);
    }
    if (pm) rmp_ej_send_record_part(&snd, seq, pm->b + 1 + poff, plen, pfirst, pend);
    /* The first packet and the final guard packet always arrive. */
    int lost = packets > 0 && !last && fuzz_rand(&rs) % 100 < loss;
    if (trace) {
      fprintf(stderr, "seq %5u %s journal %3d:", seq, lost ? "LOST" : "ok  ", jl);
      for (size_t m = 0; m < k; m++) {
        fputc(' ', stderr);
        for (unsigned o = 0; o < msgs[i + m].n; o++) fprintf(stderr, "%02X", msgs[i + m].b[o]);
      }
      if (pm) fprintf(stderr, " part(%zu+%zu%s%s)", poff, plen, pfirst ? " first" : "", pend ? " end" : "");
      fputs("\n    journal", stderr);
      for (int o = 0; o < jl; o++) fprintf(stderr, " %02X", jbuf[o]);
      fputc('\n', stderr);
    }
    if (!lost) {
      int f = rmp_ej_recv_packet(&rcv, seq, jl > 0 ? jbuf : NULL, (size_t)jl, on_emit, NULL);
      FUZZ_ASSERT(f >= 0 && !(f & RMP_EJ_R_LATE));
      if (pm && rmp_ej_recv_part(&rcv, pm->b + 1 + poff, plen, pfirst, pend))
        px_add(pm->b + 1 + poff, plen, pfirst, pend);
      for (size_t m = 0; m < k; m++) rmp_ej_recv_apply(&rcv, msgs[i + m].b, msgs[i + m].n);
      if (trace > 0)
        fprintf(stderr, "    receiver x_count %u part_open %d part_count %u part_have %u; sender x_count %u\n",
                rcv.x_count, rcv.part_open, rcv.part_count, (unsigned)rcv.part_have, snd.x_count);
    }
    if ((cfg & 0x10) && packets % 8 == 7 && rcv.have_seq) {
      if (trace) fprintf(stderr, "ack %u\n", rcv.last);
      rmp_ej_send_ack(&snd, rcv.last);
    }
    packets++;
    i += k;
    seq++;
    if (last && ++guard >= 1) break;
  }

  static int converge = -1;
  if (converge < 0) {
    const char *e = getenv("RTPMIDI_FUZZ_CONVERGE");
    converge = !(e && *e == '0');
  }
  /* A repair over the receiver's budget (journal.h) is counted, not
   * played: only then may the states differ. */
  if (converge && rcv.uncovered == 0 && rcv.over_budget == 0) {
    rmp_ms_diff d;
    unsigned diff = rmp_ms_compare(&snd.st, &rcv.st, &d);
    if (diff) {
      fprintf(stderr, "state differs after repair: %u (stuck %u missing %u vel %u ctl %u prog %u "
              "bend %u chpres %u poly %u param %u sys %u ref %u)\n", diff, d.stuck_notes, d.missing_notes,
              d.wrong_velocity, d.wrong_ctl, d.wrong_program, d.wrong_bend, d.wrong_pressure,
              d.wrong_poly, d.wrong_param, d.wrong_system, d.wrong_refcount);
      if (d.wrong_system && trace > 0) {
        const rmp_midi_state *w = &snd.st, *g = &rcv.st;
        fprintf(stderr, "  song %d/%u vs %d/%u; seq %d/%u vs %d/%u; mtc valid %d run %d rev %d point %d "
                "complete %d/%08X ff %d vs valid %d run %d rev %d point %d complete %d/%08X ff %d\n",
                w->song_valid, w->song, g->song_valid, g->song, w->seq_running, (unsigned)w->seq_pos,
                g->seq_running, (unsigned)g->seq_pos, w->mtc_valid, w->mtc_run, w->mtc_rev, w->mtc_point,
                w->mtc_complete_valid, (unsigned)w->mtc_complete, w->mtc_complete_ff, g->mtc_valid, g->mtc_run,
                g->mtc_rev, g->mtc_point, g->mtc_complete_valid, (unsigned)g->mtc_complete, g->mtc_complete_ff);
      }
    }
    FUZZ_ASSERT(diff == 0);
    /* SysEx in parts: each arrived, once, unless a Reset State command
     * made one inactive before the receiver had it (A.1) */
    if (!rs_seen) FUZZ_ASSERT(px.got == px.sent);
    /* The SysEx counts are not compared: SysEx lost before a Reset State
     * command are inactive and not journalled (RFC 6295 A.1), so the
     * receiver's count lags until the next Chapter X resynchronises it. */
  }
  return 0;
}
