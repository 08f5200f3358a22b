/* MIDI 1.0 message helpers and streaming raw-MIDI parser. See midi_msg.h. */
#include "midi_msg.h"

#include <string.h>

const char *rmp_strerror(int err) {
  switch (err) {
  case RMP_OK: return "ok";
  case RMP_E_ARG: return "bad argument";
  case RMP_E_LEN_PAST_END: return "command section LEN runs past the end of the buffer";
  case RMP_E_SHORT_HEADER: return "buffer too short for the command section header";
  case RMP_E_DELTA_NO_CMD: return "delta time with no command after it";
  case RMP_E_DELTA_TOO_LONG: return "delta time longer than 4 octets";
  case RMP_E_NO_STATUS: return "data byte with no status byte (no running status available)";
  case RMP_E_STATUS_IN_DATA: return "status byte inside message data where not allowed";
  case RMP_E_TRUNCATED: return "truncated MIDI message";
  case RMP_E_SYSEX_TOO_LONG: return "SysEx larger than the reassembly buffer";
  case RMP_E_SYSEX_NO_START: return "SysEx segment without a start segment";
  case RMP_E_SYSEX_INCOMPLETE: return "SysEx never finished before a new SysEx started";
  case RMP_E_STRAY_EOX: return "end of SysEx (0xF7) outside a SysEx";
  case RMP_E_BAD_MSG: return "not one complete valid MIDI message";
  case RMP_E_DELTA_RANGE: return "delta time too large (max 0x0FFFFFFF ticks)";
  case RMP_E_NO_SPACE: return "output buffer or payload budget too small";
  case RMP_E_SYSEX_MISMATCH: return "continuing a split SysEx but the message differs";
  default: return "unknown error";
  }
}

rmp_midi_kind rmp_midi_kind_of(uint8_t s) {
  if (s < 0x80) return RMP_MIDI_NONE;
  switch (s >> 4) {
  case 0x8: return RMP_MIDI_NOTE_OFF;
  case 0x9: return RMP_MIDI_NOTE_ON;
  case 0xA: return RMP_MIDI_POLY_PRESSURE;
  case 0xB: return RMP_MIDI_CONTROL_CHANGE;
  case 0xC: return RMP_MIDI_PROGRAM_CHANGE;
  case 0xD: return RMP_MIDI_CHANNEL_PRESSURE;
  case 0xE: return RMP_MIDI_PITCH_BEND;
  default: break;
  }
  switch (s) {
  case 0xF0: return RMP_MIDI_SYSEX;
  case 0xF1: return RMP_MIDI_MTC_QUARTER_FRAME;
  case 0xF2: return RMP_MIDI_SONG_POSITION;
  case 0xF3: return RMP_MIDI_SONG_SELECT;
  case 0xF4: case 0xF5: return RMP_MIDI_COMMON_UNDEFINED;
  case 0xF6: return RMP_MIDI_TUNE_REQUEST;
  case 0xF7: return RMP_MIDI_EOX;
  case 0xF8: return RMP_MIDI_CLOCK;
  case 0xF9: case 0xFD: return RMP_MIDI_REALTIME_UNDEFINED;
  case 0xFA: return RMP_MIDI_START;
  case 0xFB: return RMP_MIDI_CONTINUE;
  case 0xFC: return RMP_MIDI_STOP;
  case 0xFE: return RMP_MIDI_ACTIVE_SENSING;
  default: return RMP_MIDI_RESET; /* 0xFF */
  }
}

const char *rmp_midi_kind_name(rmp_midi_kind k) {
  switch (k) {
  case RMP_MIDI_NONE: return "none";
  case RMP_MIDI_NOTE_OFF: return "note_off";
  case RMP_MIDI_NOTE_ON: return "note_on";
  case RMP_MIDI_POLY_PRESSURE: return "poly_pressure";
  case RMP_MIDI_CONTROL_CHANGE: return "control_change";
  case RMP_MIDI_PROGRAM_CHANGE: return "program_change";
  case RMP_MIDI_CHANNEL_PRESSURE: return "channel_pressure";
  case RMP_MIDI_PITCH_BEND: return "pitch_bend";
  case RMP_MIDI_SYSEX: return "sysex";
  case RMP_MIDI_MTC_QUARTER_FRAME: return "mtc_quarter_frame";
  case RMP_MIDI_SONG_POSITION: return "song_position";
  case RMP_MIDI_SONG_SELECT: return "song_select";
  case RMP_MIDI_COMMON_UNDEFINED: return "common_undefined";
  case RMP_MIDI_TUNE_REQUEST: return "tune_request";
  case RMP_MIDI_EOX: return "eox";
  case RMP_MIDI_CLOCK: return "clock";
  case RMP_MIDI_REALTIME_UNDEFINED: return "realtime_undefined";
  case RMP_MIDI_START: return "start";
  case RMP_MIDI_CONTINUE: return "continue";
  case RMP_MIDI_STOP: return "stop";
  case RMP_MIDI_ACTIVE_SENSING: return "active_sensing";
  case RMP_MIDI_RESET: return "reset";
  }
  return "unknown";
}

int rmp_midi_msg_len(uint8_t s) {
  if (s < 0x80) return 0;
  if (s < 0xF0) {
    uint8_t hi = s >> 4;
    return (hi == 0xC || hi == 0xD) ? 2 : 3;
  }
  switch (s) {
  case 0xF0: return -1;
  case 0xF1: case 0xF3: return 2;
  case 0xF2: return 3;
  default: return 1; /* F4 F5 F6 F7, real-time F8-FF */
  }
}

int rmp_midi_msg_validate(const uint8_t *msg, size_t len) {
  if (!msg || len == 0) return RMP_E_BAD_MSG;
  uint8_t s = msg[0];
  if (s < 0x80) return RMP_E_NO_STATUS;
  if (s == 0xF7) return RMP_E_STRAY_EOX;
  if (s == 0xF0) {
    if (len < 2) return RMP_E_TRUNCATED;
    for (size_t i = 1; i + 1 < len; i++)
      if (msg[i] >= 0x80) return RMP_E_STATUS_IN_DATA;
    if (msg[len - 1] != 0xF7) return msg[len - 1] < 0x80 ? RMP_E_TRUNCATED : RMP_E_STATUS_IN_DATA;
    return RMP_OK;
  }
  size_t want = (size_t)rmp_midi_msg_len(s);
  for (size_t i = 1; i < len && i < want; i++)
    if (msg[i] >= 0x80) return RMP_E_STATUS_IN_DATA;
  if (len < want) return RMP_E_TRUNCATED;
  if (len > want) return RMP_E_BAD_MSG;
  return RMP_OK;
}

/* ---- streaming parser ---- */

void rmp_midi_parser_init(rmp_midi_parser *p, uint8_t *sysex_buf, size_t sysex_cap) {
  memset(p, 0, sizeof *p);
  p->sysex_buf = sysex_cap ? sysex_buf : NULL;
  p->sysex_cap = sysex_buf ? sysex_cap : 0;
}

bool rmp_midi_parser_pending(const rmp_midi_parser *p) {
  return p->in_sysex || (p->need > 0 && p->have < p->need);
}

void rmp_midi_parser_reset(rmp_midi_parser *p, bool reset_running) {
  p->in_sysex = false;
  p->sysex_overflow = false;
  p->sysex_len = p->sysex_total = 0;
  p->have = p->need = 0;
  if (reset_running) p->running = 0;
}

static void sysex_put(rmp_midi_parser *p, uint8_t b) {
  if (p->sysex_len < p->sysex_cap) p->sysex_buf[p->sysex_len++] = b;
  else p->sysex_overflow = true;
  p->sysex_total++;
}

static void sysex_finish(rmp_midi_parser *p, rmp_midi_event *ev) {
  sysex_put(p, 0xF7);
  p->in_sysex = false;
  if (p->sysex_overflow) {
    ev->error = RMP_E_SYSEX_TOO_LONG;
  } else {
    ev->data = p->sysex_buf;
    ev->len = p->sysex_len;
    ev->kind = RMP_MIDI_SYSEX;
  }
  p->sysex_overflow = false;
}

static void emit_short(rmp_midi_parser *p, rmp_midi_event *ev) {
  ev->data = p->msg;
  ev->len = p->need;
  ev->kind = rmp_midi_kind_of(p->msg[0]);
  p->need = p->have = 0;
}

size_t rmp_midi_parser_feed(rmp_midi_parser *p, const uint8_t *buf, size_t len, rmp_midi_event *ev) {
  ev->data = NULL;
  ev->len = 0;
  ev->kind = RMP_MIDI_NONE;
  ev->error = 0;
  if (!buf) return 0;
  for (size_t i = 0; i < len; i++) {
    uint8_t b = buf[i];
    if (b >= 0xF8) { /* real-time: emitted at once, state untouched */
      p->rt = b;
      ev->data = &p->rt;
      ev->len = 1;
      ev->kind = rmp_midi_kind_of(b);
      return i + 1;
    }
    if (p->in_sysex) {
      if (b < 0x80) { sysex_put(p, b); continue; }
      /* F7 ends it; any other status ends it too (dropped F7), and is then
       * processed on the next call */
      sysex_finish(p, ev);
      return b == 0xF7 ? i + 1 : i;
    }
    if (b >= 0x80) {
      if (p->need > 0 && p->have < p->need) { /* status interrupted a message */
        p->need = p->have = 0;
        ev->error = RMP_E_TRUNCATED;
        return i;
      }
      if (b == 0xF0) {
        p->running = 0;
        p->in_sysex = true;
        p->sysex_overflow = false;
        p->sysex_len = p->sysex_total = 0;
        sysex_put(p, 0xF0);
        continue;
      }
      if (b == 0xF7) {
        p->running = 0;
        ev->error = RMP_E_STRAY_EOX;
        return i + 1;
      }
      p->running = rmp_midi_is_channel(b) ? b : 0;
      p->msg[0] = b;
      p->have = 1;
      p->need = (uint8_t)rmp_midi_msg_len(b);
      if (p->need == 1) { emit_short(p, ev); return i + 1; }
      continue;
    }
    /* data byte */
    if (p->need > 0 && p->have < p->need) {
      p->msg[p->have++] = b;
    } else if (p->running) {
      p->msg[0] = p->running;
      p->msg[1] = b;
      p->have = 2;
      p->need = (uint8_t)rmp_midi_msg_len(p->running);
    } else {
      ev->error = RMP_E_NO_STATUS;
      return i + 1;
    }
    if (p->have == p->need) { emit_short(p, ev); return i + 1; }
  }
  return len;
}
