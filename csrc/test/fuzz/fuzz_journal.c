/* libFuzzer target: the recovery journal decoders and the receiver's repair
 * (journal_chapters.c, journal_recv.c, midi_state.c).
 *
 * Input: |K|K octets of raw MIDI|journal...|
 *   The K octets are parsed as a MIDI stream (midi_msg.c) and applied to a
 *   fresh receiver: this is the "random state" the journal is compared
 *   with. The rest is the journal of a packet that follows a loss.
 *
 * Checks: rmp_ej_journal_size and rmp_ej_parse stay in bounds, agree with
 * each other, every decoded field is in range; each chapter decoder run on
 * the raw journal octets stays in bounds; the repair (single and multiple
 * loss, through rmp_ej_recv_packet too) emits only complete valid MIDI
 * messages and never fails on a journal that parsed. */
#include <string.h>

#include "fuzz_common.h"
#include "journal.h"
#include "midi_msg.h"

static unsigned long n_emitted, emit_max;

/* Bound on the messages one repair may emit: the receiver's per-packet
 * budget (journal.h: at most packet_max, 4096 by default, for a journal's
 * own repairs) plus what an uncovered loss may release (every note and the
 * six pedals on 16 channels). RTPMIDI_FUZZ_EMIT_MAX overrides it. */
#define EMIT_BOUND (4096ul + 16ul * (128ul + 6ul))
static void on_emit(void *ud, const uint8_t *msg, size_t len) {
  (void)ud;
  /* channel/system commands of 1-3 octets, or a SysEx replayed from
   * Chapter X (F0 ... F7, at most a system journal's worth of data) */
  FUZZ_ASSERT(len >= 1 && (len <= 3 || (msg[0] == 0xF0 && msg[len - 1] == 0xF7 && len <= 1025)));
  FUZZ_ASSERT(rmp_midi_msg_validate(msg, len) == RMP_OK);
  FUZZ_ASSERT(++n_emitted <= emit_max);
}

typedef struct {
  const rmp_ej_hdr *hdr;
  const rmp_ej_sys *sys;
  size_t len, off;
  unsigned nchan;
} walk_ctx;

static int on_chan(void *ud, const rmp_ej_chan *cj) {
  walk_ctx *w = ud;
  if (w->nchan == 0) w->off = RMP_EJ_HDR_SIZE + (w->hdr->y ? w->sys->length : 0u);
  FUZZ_ASSERT(cj->chan <= 15 && cj->s <= 1 && cj->h <= 1);
  FUZZ_ASSERT(cj->length >= 3 && w->off + cj->length <= w->len);
  if (cj->toc & RMP_EJ_TOC_C) FUZZ_ASSERT(cj->c.count >= 1 && cj->c.count <= RMP_EJ_MAX_CTL_LOGS);
  if (cj->toc & RMP_EJ_TOC_M) FUZZ_ASSERT(cj->m.count <= RMP_EJ_MAX_PARAM_LOGS);
  if (cj->toc & RMP_EJ_TOC_N) FUZZ_ASSERT(cj->n.count <= 128 && cj->n.low <= 15 && cj->n.high <= 15);
  if (cj->toc & RMP_EJ_TOC_E) FUZZ_ASSERT(cj->e.count <= 128);
  if (cj->toc & RMP_EJ_TOC_A) FUZZ_ASSERT(cj->a.count <= 128);
  w->off += cj->length;
  w->nchan++;
  return 0;
}

/* Every single-structure decoder on the raw octets: in bounds, and a
 * success consumes no more than it was given. */
static void decode_each(const uint8_t *j, size_t jl) {
  static rmp_ej_chan cj;
  static rmp_ej_sys sj;
  rmp_ej_hdr h;
  int r;
#define TRY(call) do { r = (call); FUZZ_ASSERT(r < 0 ? r >= RMP_EJ_EABORT : (size_t)r <= jl); } while (0)
  TRY(rmp_ej_hdr_decode(j, jl, &h));
  TRY(rmp_ej_chap_p_decode(j, jl, &cj.p));
  TRY(rmp_ej_chap_c_decode(j, jl, &cj.c));
  TRY(rmp_ej_chap_m_decode(j, jl, &cj.m));
  TRY(rmp_ej_chap_w_decode(j, jl, &cj.w));
  TRY(rmp_ej_chap_n_decode(j, jl, &cj.n));
  TRY(rmp_ej_chap_e_decode(j, jl, &cj.e));
  TRY(rmp_ej_chap_t_decode(j, jl, &cj.t));
  TRY(rmp_ej_chap_a_decode(j, jl, &cj.a));
  TRY(rmp_ej_chan_decode(j, jl, &cj));
  TRY(rmp_ej_chap_d_decode(j, jl, &sj.d));
  TRY(rmp_ej_chap_v_decode(j, jl, &sj.v));
  TRY(rmp_ej_chap_q_decode(j, jl, &sj.q));
  TRY(rmp_ej_chap_f_decode(j, jl, &sj.f));
  TRY(rmp_ej_chap_x_decode(j, jl, &sj.x));
  if (r >= 0) FUZZ_ASSERT((size_t)sj.x.data_off + sj.x.data_len <= jl);
  TRY(rmp_ej_sys_decode(j, jl, &sj));
#undef TRY
}

static void apply_stream(rmp_ej_receiver *r, const uint8_t *p, size_t n) {
  uint8_t sx[32];
  rmp_midi_parser mp;
  rmp_midi_event ev;
  rmp_midi_parser_init(&mp, sx, sizeof sx);
  size_t off = 0;
  while (off < n) {
    size_t used = rmp_midi_parser_feed(&mp, p + off, n - off, &ev);
    if (ev.len) rmp_ej_recv_apply(r, ev.data, ev.len);
    if (!used && !ev.len && !ev.error) break;
    off += used;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!emit_max) {
    const char *e = getenv("RTPMIDI_FUZZ_EMIT_MAX");
    emit_max = e && *e ? strtoul(e, NULL, 10) : EMIT_BOUND;
  }
  if (size < 1) return 0;
  size_t k = data[0];
  if (k > size - 1) k = size - 1;
  const uint8_t *midi = data + 1, *j = data + 1 + k;
  size_t jl = size - 1 - k;

  decode_each(j, jl);

  int total = rmp_ej_journal_size(j, jl);
  FUZZ_ASSERT(total < 0 ? total >= RMP_EJ_EABORT : (total >= RMP_EJ_HDR_SIZE && (size_t)total <= jl));

  static rmp_ej_sys sys;
  static rmp_ej_chan scratch;
  rmp_ej_hdr hdr;
  walk_ctx w = { &hdr, &sys, jl, 0, 0 };
  int n = rmp_ej_parse(j, jl, &hdr, &sys, &scratch, on_chan, &w);
  if (n >= 0) {
    FUZZ_ASSERT(n == total); /* the cheap walk agrees with the full one */
    FUZZ_ASSERT(hdr.totchan <= 15);
    if (hdr.y) FUZZ_ASSERT(sys.length >= 2 && !(sys.toc & ~0x7Cu));
    else FUZZ_ASSERT(sys.toc == 0);
    FUZZ_ASSERT(w.nchan == (hdr.a ? hdr.totchan + 1u : 0u));
    if (w.nchan) FUZZ_ASSERT(w.off == (size_t)n);
    else FUZZ_ASSERT((size_t)n == RMP_EJ_HDR_SIZE + (hdr.y ? sys.length : 0u));
    /* Parsing without a scratch (headers only) gives the same size. */
    FUZZ_ASSERT(rmp_ej_parse(j, jl, NULL, NULL, NULL, NULL, NULL) == n);
  } else {
    FUZZ_ASSERT(n >= RMP_EJ_EABORT);
  }

  /* The receiver: a state from the MIDI prefix, then the journal applied
   * after a single loss and after a multiple loss. */
  static rmp_ej_receiver r;
  for (int single = 0; single <= 1; single++) {
    rmp_ej_recv_free(&r); rmp_ej_recv_init(&r);
    apply_stream(&r, midi, k);
    n_emitted = 0;
    int rc = rmp_ej_recv_repair(&r, j, jl, single, on_emit, NULL);
    FUZZ_ASSERT(rc == n);
  }
  rmp_ej_recv_free(&r); rmp_ej_recv_init(&r);
  apply_stream(&r, midi, k);
  r.cfg.honor_y = k & 1;
  uint16_t seq = (uint16_t)(k * 257u);
  FUZZ_ASSERT(rmp_ej_recv_packet(&r, seq, NULL, 0, on_emit, NULL) == RMP_EJ_R_FIRST);
  n_emitted = 0;
  int f = rmp_ej_recv_packet(&r, (uint16_t)(seq + 2 + (k & 2)), j, jl, on_emit, NULL);
  if (jl == 0) FUZZ_ASSERT(f == (RMP_EJ_R_LOSS | RMP_EJ_R_NOJOURNAL));
  else if (n >= 0) FUZZ_ASSERT(f >= 0 && (f & RMP_EJ_R_REPAIRED) && (f & RMP_EJ_R_LOSS));
  else FUZZ_ASSERT(f < 0);
  return 0;
}
