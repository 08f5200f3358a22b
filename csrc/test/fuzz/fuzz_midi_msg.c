/* libFuzzer target: the raw MIDI byte-stream parser and the message helpers
 * (midi_msg.c). Input: octets as read from a MIDI port; the first octet
 * also picks the SysEx buffer size (0..63).
 *
 * The stream is parsed twice, in one call per event and one octet at a
 * time; both must give the same events, every message event must be one
 * complete valid MIDI message, and every call must make progress. */
#include <string.h>

#include "fuzz_common.h"
#include "midi_msg.h"

#define MAX_EV 4096

typedef struct {
  uint8_t b[64];
  size_t len;
  int error;
} ev_copy;

static ev_copy ev_a[MAX_EV], ev_b[MAX_EV];

static void check_event(const rmp_midi_parser *p, const rmp_midi_event *ev) {
  if (ev->len > 0) {
    FUZZ_ASSERT(ev->error == 0);
    FUZZ_ASSERT(rmp_midi_msg_validate(ev->data, ev->len) == RMP_OK);
    FUZZ_ASSERT(ev->kind == rmp_midi_kind_of(ev->data[0]));
    if (ev->data[0] == 0xF0) FUZZ_ASSERT(fuzz_within(ev->data, ev->len, p->sysex_buf, p->sysex_cap));
    else FUZZ_ASSERT(ev->len <= 3);
  } else {
    FUZZ_ASSERT(ev->error == RMP_E_TRUNCATED || ev->error == RMP_E_SYSEX_TOO_LONG ||
                ev->error == RMP_E_STRAY_EOX || ev->error == RMP_E_NO_STATUS);
  }
}

static void record(ev_copy *dst, size_t *n, const rmp_midi_event *ev) {
  if (*n >= MAX_EV) return;
  ev_copy *c = &dst[(*n)++];
  c->len = ev->len;
  c->error = ev->error;
  if (ev->len) memcpy(c->b, ev->data, ev->len < sizeof c->b ? ev->len : sizeof c->b);
}

static int has_event(const rmp_midi_event *ev) { return ev->len > 0 || ev->error != 0; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t cap = size ? data[0] % 64u : 0;
  uint8_t sx_a[64], sx_b[64];
  rmp_midi_parser pa, pb;
  rmp_midi_event ev;
  size_t na = 0, nb = 0;

  /* Whole buffer, one call per event. */
  rmp_midi_parser_init(&pa, sx_a, cap);
  size_t off = 0, calls = 0;
  while (off < size) {
    size_t used = rmp_midi_parser_feed(&pa, data + off, size - off, &ev);
    FUZZ_ASSERT(used <= size - off);
    FUZZ_ASSERT(used > 0 || has_event(&ev)); /* progress */
    FUZZ_ASSERT(++calls <= 2 * size + 2);
    if (has_event(&ev)) { check_event(&pa, &ev); record(ev_a, &na, &ev); }
    off += used;
  }

  /* One octet at a time. */
  rmp_midi_parser_init(&pb, sx_b, cap);
  for (size_t i = 0; i < size; i++) {
    size_t guard = 0;
    for (;;) {
      size_t used = rmp_midi_parser_feed(&pb, data + i, 1, &ev);
      FUZZ_ASSERT(used <= 1 && ++guard <= 3);
      if (has_event(&ev)) { check_event(&pb, &ev); record(ev_b, &nb, &ev); }
      if (used == 1) break;
      FUZZ_ASSERT(has_event(&ev));
    }
  }
  FUZZ_ASSERT(na == nb);
  for (size_t i = 0; i < na; i++) {
    FUZZ_ASSERT(ev_a[i].len == ev_b[i].len && ev_a[i].error == ev_b[i].error);
    size_t l = ev_a[i].len < sizeof ev_a[i].b ? ev_a[i].len : sizeof ev_a[i].b;
    FUZZ_ASSERT(memcmp(ev_a[i].b, ev_b[i].b, l) == 0);
  }
  FUZZ_ASSERT(rmp_midi_parser_pending(&pa) == rmp_midi_parser_pending(&pb));
  rmp_midi_parser_reset(&pa, true);
  FUZZ_ASSERT(!rmp_midi_parser_pending(&pa));

  /* The helpers on the raw input. */
  int rc = rmp_midi_msg_validate(data, size);
  (void)rmp_strerror(rc);
  if (rc == RMP_OK) {
    /* A valid message parses back to itself (SysEx if it fits the buffer). */
    rmp_midi_parser pc;
    uint8_t sx_c[64];
    rmp_midi_parser_init(&pc, sx_c, sizeof sx_c);
    size_t used = rmp_midi_parser_feed(&pc, data, size, &ev);
    if (data[0] != 0xF0 || size <= sizeof sx_c) {
      FUZZ_ASSERT(used == size && ev.len == size && memcmp(ev.data, data, size) == 0);
    }
  }
  for (size_t i = 0; i < size && i < 4; i++) {
    int l = rmp_midi_msg_len(data[i]);
    FUZZ_ASSERT(l >= -1 && l <= 3);
    (void)rmp_midi_kind_name(rmp_midi_kind_of(data[i]));
  }
  return 0;
}
