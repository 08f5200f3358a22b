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
 *   (off: every loss is repaired as a multiple loss).
 *
 * Checked: every journal re-encodes to its own octets, the cheap size walk
 * agrees, the receiver accepts every journal and emits only valid MIDI,
 * and the state converges: receiver == sender (rmp_ms_compare) after the
 * final packet, when no loss was uncovered and no repair went over the
 * receiver's budget. The convergence check is on by
 * default, so CI gates on it; RTPMIDI_FUZZ_CONVERGE=0 turns it off (to
 * look for crashes only while a divergence is being fixed). SysEx of up to
 * 16 octets is part of the stream (Chapter X). */
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

static void on_emit(void *ud, const uint8_t *m, size_t n) {
  (void)ud;
  FUZZ_ASSERT(n >= 1 && rmp_midi_msg_validate(m, n) == RMP_OK);
}

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

  rmp_ej_send_config sc = { 0, 0, (uint16_t)((cfg & 2) ? 8 : 0) };
  size_t cap = 1400;
  if (cfg & 0x20) { sc.max_history = 64; sc.max_size = 400; }
  rmp_ej_send_init(&snd, &sc);
  rmp_ej_recv_init(&rcv);
  rcv.cfg.trust_s_bits = (cfg & 0x40) != 0;
  static const unsigned loss_pct[4] = { 0, 10, 30, 60 };
  unsigned loss = loss_pct[(cfg >> 2) & 3];
  unsigned per_pkt = (cfg & 1) ? 16 : 4;
  uint16_t seq = (uint16_t)(0xFFF0u + (fuzz_rand(&rs) & 31)); /* crosses the wrap */
  static uint8_t jbuf[1500];
  size_t i = 0;
  unsigned packets = 0;
  int guard = 0;
  for (;;) {
    int last = i >= nmsg;
    size_t k = last ? 0 : 1 + fuzz_rand(&rs) % per_pkt;
    if (i + k > nmsg) k = nmsg - i;
    int jl = rmp_ej_send_encode(&snd, seq, jbuf, cap);
    FUZZ_ASSERT(jl >= 0 && (size_t)jl <= cap);
    if (sc.max_size) FUZZ_ASSERT(jl <= sc.max_size);
    if (jl > 0) check_journal(jbuf, (size_t)jl);
    for (size_t m = 0; m < k; m++) rmp_ej_send_record(&snd, seq, msgs[i + m].b, msgs[i + m].n);
    /* The first packet and the final guard packet always arrive. */
    int lost = packets > 0 && !last && fuzz_rand(&rs) % 100 < loss;
    if (!lost) {
      int f = rmp_ej_recv_packet(&rcv, seq, jl > 0 ? jbuf : NULL, (size_t)jl, on_emit, NULL);
      FUZZ_ASSERT(f >= 0 && !(f & RMP_EJ_R_LATE));
      for (size_t m = 0; m < k; m++) rmp_ej_recv_apply(&rcv, msgs[i + m].b, msgs[i + m].n);
    }
    if ((cfg & 0x10) && packets % 8 == 7 && rcv.have_seq) rmp_ej_send_ack(&snd, rcv.last);
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
    }
    FUZZ_ASSERT(diff == 0);
    /* The SysEx counts are not compared: SysEx lost before a Reset State
     * command are inactive and not journalled (RFC 6295 A.1), so the
     * receiver's count lags until the next Chapter X resynchronises it. */
  }
  return 0;
}
