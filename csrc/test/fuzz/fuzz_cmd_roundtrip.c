/* libFuzzer round trip: MIDI messages -> command sections (rmp_cmd_encode,
 * packet after packet, SysEx split as needed) -> decoder (rmp_cmd_iter)
 * -> the same messages at the same times.
 *
 * Input: |budget(2)|flags|seed|raw MIDI...|
 *   The raw MIDI octets go through the raw parser (midi_msg.c), which
 *   yields valid messages whatever the octets are. Delta times come from a
 *   generator seeded by `seed`, their range from flags bits 0-1; bit 2 sets
 *   J on every section. The budget is 16 + (budget % 1500). */
#include <string.h>

#include "fuzz_common.h"
#include "midi_cmd.h"

#define MAX_MSGS 1024
#define SYSEX_MAX 256

typedef struct {
  uint8_t b[SYSEX_MAX];
  size_t len;
  uint64_t time; /* absolute ticks */
} msg_t;

static msg_t msgs[MAX_MSGS];
static rmp_cmd_msg cmds[MAX_MSGS];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_in in;
  fuzz_in_init(&in, data, size);
  size_t budget = RMP_CMD_MIN_BUDGET + fuzz_u16(&in) % 1500u;
  uint8_t flags = fuzz_u8(&in);
  uint64_t rs = 0x9E3779B97F4A7C15ull ^ fuzz_u8(&in);
  bool journal = (flags & 4) != 0;
  const uint8_t *raw = data + in.off;
  size_t raw_len = fuzz_left(&in);

  /* Messages from the raw stream. */
  uint8_t sx[SYSEX_MAX];
  rmp_midi_parser mp;
  rmp_midi_event ev;
  rmp_midi_parser_init(&mp, sx, sizeof sx);
  size_t nmsg = 0, off = 0;
  uint64_t t = 0;
  while (off < raw_len && nmsg < MAX_MSGS) {
    size_t used = rmp_midi_parser_feed(&mp, raw + off, raw_len - off, &ev);
    off += used;
    if (!ev.len) {
      if (!used && !ev.error) break;
      continue;
    }
    uint32_t d = 0;
    switch (flags & 3) {
    case 1: d = fuzz_rand(&rs) % 128u; break;
    case 2: d = fuzz_rand(&rs) % 20000u; break;
    case 3: d = fuzz_rand(&rs) & RMP_CMD_MAX_DELTA; break;
    default: break;
    }
    t += d;
    msgs[nmsg].len = ev.len;
    memcpy(msgs[nmsg].b, ev.data, ev.len);
    msgs[nmsg].time = t;
    cmds[nmsg].delta = d;
    cmds[nmsg].data = msgs[nmsg].b;
    cmds[nmsg].len = ev.len;
    nmsg++;
  }

  /* Encode packet after packet, decode each at once. */
  rmp_cmd_encoder enc;
  rmp_cmd_encoder_init(&enc);
  uint8_t dsx[SYSEX_MAX];
  rmp_cmd_decoder dec;
  rmp_cmd_decoder_init(&dec, dsx, sizeof dsx);
  static uint8_t pkt[2 + RMP_CMD_MAX_LIST];
  size_t sent = 0, got = 0, packets = 0;
  uint64_t ts = 0; /* RTP timestamp of the packet, in ticks */
  do {
    rmp_cmd_enc_info info;
    int n = rmp_cmd_encode(&enc, cmds + sent, nmsg - sent, journal, budget, pkt, sizeof pkt, &info);
    FUZZ_ASSERT(n >= 1 && (size_t)n <= budget);
    FUZZ_ASSERT(info.nmsgs > 0 || info.sysex_partial || nmsg == sent);
    FUZZ_ASSERT(sent + info.nmsgs <= nmsg);
    FUZZ_ASSERT(++packets <= 4 * (nmsg + 1) + raw_len);

    rmp_cmd_iter it;
    FUZZ_ASSERT(rmp_cmd_iter_init(&it, &dec, pkt, (size_t)n) == n);
    FUZZ_ASSERT(it.hdr.j == journal && !it.hdr.p && it.hdr.len == info.list_len);
    int rc;
    rmp_cmd_event cev;
    while ((rc = rmp_cmd_iter_next(&it, &cev)) == 1) {
      FUZZ_ASSERT(cev.error == 0 && cev.len > 0);
      FUZZ_ASSERT(got < nmsg);
      const msg_t *w = &msgs[got++];
      FUZZ_ASSERT(cev.len == w->len && memcmp(cev.data, w->b, w->len) == 0);
      FUZZ_ASSERT((uint32_t)(ts + cev.time) == (uint32_t)w->time); /* RTP time wraps */
    }
    FUZZ_ASSERT(rc == 0);
    ts += info.ticks;
    sent += info.nmsgs;
    /* The decoder is inside a split SysEx exactly when the encoder is. */
    FUZZ_ASSERT(info.sysex_partial == (enc.sysex_off != 0));
  } while (sent < nmsg);
  FUZZ_ASSERT(got == nmsg);
  FUZZ_ASSERT(enc.sysex_off == 0);
  return 0;
}
