/* Unit tests for midi_msg: message lengths, kinds, validation, and the
 * streaming raw-MIDI parser. Expected bytes are written out by hand. */
#include "midi_msg.h"
#include "check.h"

/* Collected parser output: messages concatenated, plus per-event lengths/errors. */
typedef struct {
  uint8_t bytes[4096];
  size_t nbytes;
  int lens[256];   /* message length, or the (negative) error */
  int n;
} out_t;

static void run(rmp_midi_parser *p, const uint8_t *in, size_t len, out_t *o, int chunk) {
  memset(o, 0, sizeof *o);
  size_t off = 0;
  while (off < len) {
    size_t lim = chunk > 0 && (size_t)chunk < len - off ? (size_t)chunk : len - off;
    size_t used = 0;
    while (used < lim) {
      rmp_midi_event ev;
      used += rmp_midi_parser_feed(p, in + off + used, lim - used, &ev);
      if (ev.len) {
        memcpy(o->bytes + o->nbytes, ev.data, ev.len);
        o->nbytes += ev.len;
        o->lens[o->n++] = (int)ev.len;
      } else if (ev.error) {
        o->lens[o->n++] = ev.error;
      }
    }
    off += lim;
  }
}

static void test_len_kind(void) {
  /* channel voice: 8x 9x Ax Bx Ex = 3 bytes, Cx Dx = 2 bytes */
  CHECK_INT(rmp_midi_msg_len(0x80), 3);
  CHECK_INT(rmp_midi_msg_len(0x9F), 3);
  CHECK_INT(rmp_midi_msg_len(0xA3), 3);
  CHECK_INT(rmp_midi_msg_len(0xB0), 3);
  CHECK_INT(rmp_midi_msg_len(0xC5), 2);
  CHECK_INT(rmp_midi_msg_len(0xDF), 2);
  CHECK_INT(rmp_midi_msg_len(0xE0), 3);
  CHECK_INT(rmp_midi_msg_len(0xF0), -1); /* SysEx: variable */
  CHECK_INT(rmp_midi_msg_len(0xF1), 2);  /* MTC quarter frame */
  CHECK_INT(rmp_midi_msg_len(0xF2), 3);  /* song position */
  CHECK_INT(rmp_midi_msg_len(0xF3), 2);  /* song select */
  CHECK_INT(rmp_midi_msg_len(0xF4), 1);
  CHECK_INT(rmp_midi_msg_len(0xF5), 1);
  CHECK_INT(rmp_midi_msg_len(0xF6), 1);  /* tune request */
  CHECK_INT(rmp_midi_msg_len(0xF7), 1);
  for (int s = 0xF8; s <= 0xFF; s++) CHECK_INT(rmp_midi_msg_len((uint8_t)s), 1);
  for (int s = 0; s < 0x80; s++) CHECK_INT(rmp_midi_msg_len((uint8_t)s), 0);

  CHECK_INT(rmp_midi_kind_of(0x00), RMP_MIDI_NONE);
  CHECK_INT(rmp_midi_kind_of(0x81), RMP_MIDI_NOTE_OFF);
  CHECK_INT(rmp_midi_kind_of(0x92), RMP_MIDI_NOTE_ON);
  CHECK_INT(rmp_midi_kind_of(0xA3), RMP_MIDI_POLY_PRESSURE);
  CHECK_INT(rmp_midi_kind_of(0xB4), RMP_MIDI_CONTROL_CHANGE);
  CHECK_INT(rmp_midi_kind_of(0xC5), RMP_MIDI_PROGRAM_CHANGE);
  CHECK_INT(rmp_midi_kind_of(0xD6), RMP_MIDI_CHANNEL_PRESSURE);
  CHECK_INT(rmp_midi_kind_of(0xE7), RMP_MIDI_PITCH_BEND);
  CHECK_INT(rmp_midi_kind_of(0xF0), RMP_MIDI_SYSEX);
  CHECK_INT(rmp_midi_kind_of(0xF1), RMP_MIDI_MTC_QUARTER_FRAME);
  CHECK_INT(rmp_midi_kind_of(0xF2), RMP_MIDI_SONG_POSITION);
  CHECK_INT(rmp_midi_kind_of(0xF3), RMP_MIDI_SONG_SELECT);
  CHECK_INT(rmp_midi_kind_of(0xF4), RMP_MIDI_COMMON_UNDEFINED);
  CHECK_INT(rmp_midi_kind_of(0xF6), RMP_MIDI_TUNE_REQUEST);
  CHECK_INT(rmp_midi_kind_of(0xF7), RMP_MIDI_EOX);
  CHECK_INT(rmp_midi_kind_of(0xF8), RMP_MIDI_CLOCK);
  CHECK_INT(rmp_midi_kind_of(0xF9), RMP_MIDI_REALTIME_UNDEFINED);
  CHECK_INT(rmp_midi_kind_of(0xFA), RMP_MIDI_START);
  CHECK_INT(rmp_midi_kind_of(0xFB), RMP_MIDI_CONTINUE);
  CHECK_INT(rmp_midi_kind_of(0xFC), RMP_MIDI_STOP);
  CHECK_INT(rmp_midi_kind_of(0xFD), RMP_MIDI_REALTIME_UNDEFINED);
  CHECK_INT(rmp_midi_kind_of(0xFE), RMP_MIDI_ACTIVE_SENSING);
  CHECK_INT(rmp_midi_kind_of(0xFF), RMP_MIDI_RESET);
  CHECK(strcmp(rmp_midi_kind_name(RMP_MIDI_NOTE_ON), "note_on") == 0);
  CHECK(strcmp(rmp_midi_kind_name(RMP_MIDI_SYSEX), "sysex") == 0);
  for (int k = RMP_MIDI_NONE; k <= RMP_MIDI_RESET; k++)
    CHECK(strcmp(rmp_midi_kind_name((rmp_midi_kind)k), "unknown") != 0);

  CHECK(rmp_midi_is_channel(0x80) && rmp_midi_is_channel(0xEF) && !rmp_midi_is_channel(0xF0));
  CHECK(rmp_midi_is_realtime(0xF8) && !rmp_midi_is_realtime(0xF7));
  CHECK(rmp_midi_is_common(0xF0) && rmp_midi_is_common(0xF7) && !rmp_midi_is_common(0xF8));
  for (int e = 0; e >= RMP_E_SYSEX_MISMATCH; e--) CHECK(strcmp(rmp_strerror(e), "unknown error") != 0);
  CHECK(strcmp(rmp_strerror(-999), "unknown error") == 0);
}

static void test_validate(void) {
  static const uint8_t note_on[] = {0x90, 0x3C, 0x64};     /* ch1 note 60 vel 100 */
  static const uint8_t prog[] = {0xC1, 0x05};              /* ch2 program 5 */
  static const uint8_t sx[] = {0xF0, 0x7E, 0x7F, 0x09, 0x01, 0xF7}; /* GM on */
  static const uint8_t sx_empty[] = {0xF0, 0xF7};
  static const uint8_t clock[] = {0xF8};
  static const uint8_t tune[] = {0xF6};
  CHECK_INT(rmp_midi_msg_validate(note_on, 3), RMP_OK);
  CHECK_INT(rmp_midi_msg_validate(note_on, 2), RMP_E_TRUNCATED);
  CHECK_INT(rmp_midi_msg_validate(prog, 2), RMP_OK);
  CHECK_INT(rmp_midi_msg_validate(note_on, 0), RMP_E_BAD_MSG);
  CHECK_INT(rmp_midi_msg_validate(NULL, 3), RMP_E_BAD_MSG);
  CHECK_INT(rmp_midi_msg_validate(sx, sizeof sx), RMP_OK);
  CHECK_INT(rmp_midi_msg_validate(sx, sizeof sx - 1), RMP_E_TRUNCATED);
  CHECK_INT(rmp_midi_msg_validate(sx_empty, 2), RMP_OK);
  CHECK_INT(rmp_midi_msg_validate(sx_empty, 1), RMP_E_TRUNCATED);
  CHECK_INT(rmp_midi_msg_validate(clock, 1), RMP_OK);
  CHECK_INT(rmp_midi_msg_validate(tune, 1), RMP_OK);
  {
    static const uint8_t m[] = {0x90, 0x3C, 0x64, 0x00};  /* one byte too many */
    CHECK_INT(rmp_midi_msg_validate(m, 4), RMP_E_BAD_MSG);
  }
  {
    static const uint8_t m[] = {0x3C, 0x64};              /* no status */
    CHECK_INT(rmp_midi_msg_validate(m, 2), RMP_E_NO_STATUS);
  }
  {
    static const uint8_t m[] = {0x90, 0x3C, 0xF8};        /* status in data */
    CHECK_INT(rmp_midi_msg_validate(m, 3), RMP_E_STATUS_IN_DATA);
  }
  {
    static const uint8_t m[] = {0xF0, 0x01, 0xF8, 0x02, 0xF7}; /* RT inside: not one message */
    CHECK_INT(rmp_midi_msg_validate(m, 5), RMP_E_STATUS_IN_DATA);
  }
  {
    static const uint8_t m[] = {0xF0, 0x01, 0x90};
    CHECK_INT(rmp_midi_msg_validate(m, 3), RMP_E_STATUS_IN_DATA);
  }
  {
    static const uint8_t m[] = {0xF7};
    CHECK_INT(rmp_midi_msg_validate(m, 1), RMP_E_STRAY_EOX);
  }
}

static void test_parser_basic(void) {
  uint8_t sxbuf[64];
  rmp_midi_parser p;
  out_t o;
  /* note on with running status (two more notes), program change, CC */
  static const uint8_t in[] = {
      0x90, 0x3C, 0x64,  /* note on ch1 60 100 */
      0x3E, 0x64,        /* running status: note on 62 100 */
      0x40, 0x00,        /* running status: note on 64 0 */
      0xC2, 0x07,        /* program change ch3 7 */
      0x08,              /* running status program change 8 */
      0xB0, 0x07, 0x7F,  /* CC7 127 */
  };
  static const uint8_t want[] = {0x90, 0x3C, 0x64, 0x90, 0x3E, 0x64, 0x90, 0x40, 0x00,
                                 0xC2, 0x07, 0xC2, 0x08, 0xB0, 0x07, 0x7F};
  for (int chunk = 0; chunk <= 3; chunk++) {
    rmp_midi_parser_init(&p, sxbuf, sizeof sxbuf);
    run(&p, in, sizeof in, &o, chunk);
    CHECK_MEM(o.bytes, o.nbytes, want, sizeof want);
    CHECK_INT(o.n, 6);
    CHECK(!rmp_midi_parser_pending(&p));
  }

  /* real-time inside a channel message and inside SysEx; SysEx cancels running status */
  static const uint8_t in2[] = {
      0x90, 0xF8, 0x3C, 0xFE, 0x64,   /* note on split by clock and active sensing */
      0xF0, 0x43, 0xFA, 0x10, 0xF7,   /* SysEx with Start inside */
      0x3C,                           /* data byte: no running status after SysEx */
      0xF2, 0x10, 0x20,               /* song position */
      0xF1, 0x35,                     /* MTC quarter frame */
      0xF3, 0x02,                     /* song select */
      0xF6,                           /* tune request */
      0xFF,                           /* reset */
  };
  static const uint8_t want2[] = {0xF8, 0xFE, 0x90, 0x3C, 0x64, 0xFA, 0xF0, 0x43, 0x10, 0xF7,
                                  0xF2, 0x10, 0x20, 0xF1, 0x35, 0xF3, 0x02, 0xF6, 0xFF};
  static const int lens2[] = {1, 1, 3, 1, 4, RMP_E_NO_STATUS, 3, 2, 2, 1, 1};
  for (int chunk = 0; chunk <= 2; chunk++) {
    rmp_midi_parser_init(&p, sxbuf, sizeof sxbuf);
    run(&p, in2, sizeof in2, &o, chunk);
    CHECK_MEM(o.bytes, o.nbytes, want2, sizeof want2);
    CHECK_INT(o.n, 11);
    for (int i = 0; i < 11 && i < o.n; i++) CHECK_INT(o.lens[i], lens2[i]);
  }
}

static void test_parser_errors(void) {
  uint8_t sxbuf[8];
  rmp_midi_parser p;
  out_t o;
  /* stray data, stray F7, note cut by a status, dropped-F7 SysEx, oversize SysEx */
  static const uint8_t in[] = {
      0x12,                                  /* data with no status -> error */
      0xF7,                                  /* stray EOX -> error */
      0x90, 0x3C,                            /* cut short by ... */
      0x80, 0x3C, 0x00,                      /* ... a note off */
      0xF0, 0x01, 0x02,                      /* SysEx ended by a status (dropped F7) */
      0xB1, 0x40, 0x7F,                      /* CC64 */
      0xF0, 1, 2, 3, 4, 5, 6, 7, 8, 0xF7,    /* 11 bytes > 8 byte buffer */
      0xF6,
  };
  static const uint8_t want[] = {0x80, 0x3C, 0x00, 0xF0, 0x01, 0x02, 0xF7, 0xB1, 0x40, 0x7F, 0xF6};
  static const int lens[] = {RMP_E_NO_STATUS, RMP_E_STRAY_EOX, RMP_E_TRUNCATED, 3, 4, 3,
                             RMP_E_SYSEX_TOO_LONG, 1};
  rmp_midi_parser_init(&p, sxbuf, sizeof sxbuf);
  run(&p, in, sizeof in, &o, 0);
  CHECK_MEM(o.bytes, o.nbytes, want, sizeof want);
  CHECK_INT(o.n, 8);
  for (int i = 0; i < 8 && i < o.n; i++) CHECK_INT(o.lens[i], lens[i]);

  /* pending / reset */
  static const uint8_t part[] = {0x90, 0x3C};
  rmp_midi_parser_init(&p, sxbuf, sizeof sxbuf);
  run(&p, part, sizeof part, &o, 0);
  CHECK_INT(o.n, 0);
  CHECK(rmp_midi_parser_pending(&p));
  rmp_midi_parser_reset(&p, false);
  CHECK(!rmp_midi_parser_pending(&p));
  static const uint8_t more[] = {0x3C, 0x00};  /* running status 0x90 kept */
  static const uint8_t want3[] = {0x90, 0x3C, 0x00};
  run(&p, more, sizeof more, &o, 0);
  CHECK_MEM(o.bytes, o.nbytes, want3, sizeof want3);
  rmp_midi_parser_reset(&p, true);
  run(&p, more, sizeof more, &o, 0);
  CHECK_INT(o.n, 2);
  CHECK_INT(o.lens[0], RMP_E_NO_STATUS);

  /* no SysEx buffer at all */
  static const uint8_t sx[] = {0xF0, 0x01, 0xF7, 0xF8};
  rmp_midi_parser_init(&p, NULL, 0);
  run(&p, sx, sizeof sx, &o, 0);
  CHECK_INT(o.n, 2);
  CHECK_INT(o.lens[0], RMP_E_SYSEX_TOO_LONG);
  CHECK_INT(o.lens[1], 1);

  /* a SysEx that exactly fills the buffer */
  static const uint8_t sx8[] = {0xF0, 1, 2, 3, 4, 5, 6, 0xF7};
  rmp_midi_parser_init(&p, sxbuf, sizeof sxbuf);
  run(&p, sx8, sizeof sx8, &o, 0);
  CHECK_MEM(o.bytes, o.nbytes, sx8, sizeof sx8);
  /* undefined F4/F5 and F9/FD pass through as 1-byte messages */
  static const uint8_t und[] = {0x90, 0x01, 0x02, 0xF4, 0x03, 0xF5, 0xF9, 0xFD};
  static const uint8_t wantu[] = {0x90, 0x01, 0x02, 0xF4, 0xF5, 0xF9, 0xFD};
  run(&p, und, sizeof und, &o, 0);
  CHECK_MEM(o.bytes, o.nbytes, wantu, sizeof wantu);
  CHECK_INT(o.lens[2], RMP_E_NO_STATUS); /* 0x03 after F4: running status cancelled */
  /* NULL input is harmless */
  rmp_midi_event ev;
  CHECK_INT(rmp_midi_parser_feed(&p, NULL, 5, &ev), 0);
}

int main(void) {
  test_len_kind();
  test_validate();
  test_parser_basic();
  test_parser_errors();
  return check_report();
}
