/* MIDI bytes into messages (midi_bytes.h). */
#include "midi_bytes.h"
#include "runtime.h"

static int data_len(uint8_t status) {
  switch (status & 0xF0) {
    case 0x80: case 0x90: case 0xA0: case 0xB0: case 0xE0: return 2;
    case 0xC0: case 0xD0: return 1;
    default: break;
  }
  switch (status) {
    case 0xF1: case 0xF3: return 1;
    case 0xF2: return 2;
    default: return 0;
  }
}

int rmc_midi_split(const uint8_t *b, size_t len, rmc_midi_msg_fn fn, void *ud, const char **why) {
  uint8_t running = 0, tmp[3];
  size_t i = 0;
  while (i < len) {
    uint8_t c = b[i];
    if (c >= 0xF8) {
      if (fn) { int r = fn(ud, &b[i], 1); if (r) return r; }
      i++;
      continue;
    }
    if (c == 0xF0) {
      size_t j = i + 1;
      while (j < len && b[j] < 0x80) j++;
      if (j >= len) { *why = "a SysEx without its end (F7)"; return UV_EINVAL; }
      if (b[j] != 0xF7) { *why = "a status byte inside a SysEx"; return UV_EINVAL; }
      if (fn) { int r = fn(ud, &b[i], j + 1 - i); if (r) return r; }
      running = 0;
      i = j + 1;
      continue;
    }
    if (c == 0xF7) { *why = "an F7 outside a SysEx"; return UV_EINVAL; }
    uint8_t status;
    if (c >= 0x80) {
      status = c;
      i++;
    } else {
      if (!running) { *why = "a data byte with no status byte before it"; return UV_EINVAL; }
      status = running;
    }
    int n = data_len(status);
    if (len - i < (size_t)n) { *why = "a message cut short"; return UV_EINVAL; }
    tmp[0] = status;
    for (int k = 0; k < n; k++) {
      if (b[i + (size_t)k] >= 0x80) { *why = "a message cut short by a status byte"; return UV_EINVAL; }
      tmp[1 + k] = b[i + (size_t)k];
    }
    i += (size_t)n;
    running = status < 0xF0 ? status : 0;
    if (fn) { int r = fn(ud, tmp, (size_t)n + 1); if (r) return r; }
  }
  return 0;
}

int rmc_midi_check(const uint8_t *bytes, size_t len, const char **why) {
  if (len == 0) { *why = "no MIDI message"; return UV_EINVAL; }
  return rmc_midi_split(bytes, len, NULL, NULL, why);
}

int rtpmidi_midi_check_bytes(const uint8_t *bytes, size_t len, rtpmidi_error *err) {
  const char *why = NULL;
  int r = rmc_midi_check(bytes, len, &why);
  if (r) rmc_error(err, r, "bytes", "%s", why);
  return r;
}

