/* libFuzzer target: the RTP MIDI command section decoder (midi_cmd.c).
 *
 * Input: command sections back to back, as the payloads of consecutive
 * packets (each section's size comes from its header; what follows it is
 * the next section, a journal being just more octets to decode). Every
 * event of every section is read. Two decoders run:
 *  - `fresh`, initialised for each input with a SysEx buffer of 0..63
 *    octets (size from the first input octet), so a crash reproduces from
 *    the input alone;
 *  - `kept`, a static decoder whose SysEx reassembly state persists across
 *    inputs, as in a long-lived session (a crash found only through it may
 *    need the preceding inputs: rerun the corpus with -runs).
 * Every message event must be one complete valid MIDI message. */
#include <string.h>

#include "fuzz_common.h"
#include "midi_cmd.h"

static uint8_t kept_buf[512];
static rmp_cmd_decoder kept;
static int kept_ready;

static int is_nonfatal(int e) {
  return e == RMP_E_SYSEX_TOO_LONG || e == RMP_E_SYSEX_NO_START || e == RMP_E_SYSEX_INCOMPLETE;
}

static void run_sections(rmp_cmd_decoder *dec, const uint8_t *data, size_t size) {
  size_t off = 0;
  while (off < size) {
    rmp_cmd_iter it;
    const uint8_t *sec = data + off;
    size_t left = size - off;
    int n = rmp_cmd_iter_init(&it, dec, sec, left);
    if (n < 0) {
      FUZZ_ASSERT(n == RMP_E_SHORT_HEADER || n == RMP_E_LEN_PAST_END);
      rmp_cmd_event ev;
      FUZZ_ASSERT(rmp_cmd_iter_next(&it, &ev) == n); /* sticky */
      return;
    }
    FUZZ_ASSERT(n >= 1 && (size_t)n <= left);
    FUZZ_ASSERT(it.hdr.hdr_len + it.hdr.len == (size_t)n);
    rmp_cmd_event ev;
    int rc;
    size_t events = 0;
    uint32_t last = 0;
    while ((rc = rmp_cmd_iter_next(&it, &ev)) == 1) {
      FUZZ_ASSERT(++events <= (size_t)n); /* each event consumes >= 1 octet */
      FUZZ_ASSERT(ev.time >= last);
      if (ev.len > 0) {
        FUZZ_ASSERT(ev.error == 0);
        FUZZ_ASSERT(ev.delta == ev.time - last);
        last = ev.time;
        if (ev.data[0] == 0xF0) {
          FUZZ_ASSERT(dec->sysex_buf && fuzz_within(ev.data, ev.len, dec->sysex_buf, dec->sysex_cap));
        } else {
          FUZZ_ASSERT(ev.len <= 3);
        }
        FUZZ_ASSERT(rmp_midi_msg_validate(ev.data, ev.len) == RMP_OK);
        FUZZ_ASSERT(ev.kind == rmp_midi_kind_of(ev.data[0]));
      } else {
        FUZZ_ASSERT(is_nonfatal(ev.error) && ev.data == NULL);
      }
    }
    FUZZ_ASSERT(rc == 0 || (rc < 0 && rmp_strerror(rc) != NULL));
    if (rc < 0) FUZZ_ASSERT(rmp_cmd_iter_next(&it, &ev) == rc); /* sticky */
    else FUZZ_ASSERT(rmp_cmd_iter_next(&it, &ev) == 0);
    FUZZ_ASSERT(dec->sysex_len <= dec->sysex_cap);
    off += (size_t)n;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!kept_ready) {
    rmp_cmd_decoder_init(&kept, kept_buf, sizeof kept_buf);
    kept_ready = 1;
  }
  uint8_t fresh_buf[64];
  rmp_cmd_decoder fresh;
  size_t cap = size ? data[0] % 64u : 0;
  rmp_cmd_decoder_init(&fresh, cap ? fresh_buf : NULL, cap);
  run_sections(&fresh, data, size);
  run_sections(&kept, data, size);

  /* The header and delta-time helpers on their own. */
  rmp_cmd_header hdr;
  int rc = rmp_cmd_header_parse(data, size, &hdr);
  FUZZ_ASSERT(rc < 0 || (size_t)rc <= size);
  uint32_t delta = 0;
  rc = rmp_delta_decode(data, size, &delta);
  if (rc > 0) {
    uint8_t enc[4];
    FUZZ_ASSERT(rc <= 4 && delta <= RMP_CMD_MAX_DELTA);
    int m = rmp_delta_encode(delta, enc);
    FUZZ_ASSERT(m >= 1 && m <= rc && m == rmp_delta_size(delta));
    uint32_t back = 0;
    FUZZ_ASSERT(rmp_delta_decode(enc, (size_t)m, &back) == m && back == delta);
  } else {
    FUZZ_ASSERT(rc == RMP_E_TRUNCATED || rc == RMP_E_DELTA_TOO_LONG);
  }
  return 0;
}
