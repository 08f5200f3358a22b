/* What a MIDI stream left sounding, and its releases (midi_held.h). */
#include "midi_held.h"

#include <string.h>

const uint8_t RMP_HELD_PEDALS[RMP_HELD_NPEDALS] = {64, 66, 67, 69};

void rmp_held_init(rmp_held *h) { memset(h, 0, sizeof *h); }

static int pedal_index(uint8_t ctl) {
  for (int i = 0; i < RMP_HELD_NPEDALS; i++)
    if (RMP_HELD_PEDALS[i] == ctl) return i;
  return -1;
}

static void note(rmp_held *h, unsigned ch, uint8_t n, bool on) {
  uint8_t bit = (uint8_t)(1u << (n & 7));
  if (on) h->notes[ch][n >> 3] |= bit;
  else h->notes[ch][n >> 3] &= (uint8_t)~bit;
}

void rmp_held_apply(rmp_held *h, const uint8_t *msg, size_t len) {
  if (len == 1 && msg[0] == 0xFF) { /* System Reset */
    rmp_held_init(h);
    return;
  }
  if (len < 3 || msg[0] < 0x80 || msg[0] >= 0xF0 || (msg[1] | msg[2]) & 0x80) return;
  unsigned ch = msg[0] & 0x0F;
  switch (msg[0] & 0xF0) {
  case 0x80: note(h, ch, msg[1], false); break;
  case 0x90: note(h, ch, msg[1], msg[2] != 0); break;
  case 0xB0: {
    uint8_t ctl = msg[1];
    int i = pedal_index(ctl);
    if (i >= 0) {
      if (msg[2] >= 64) h->pedals[ch] |= (uint8_t)(1u << i);
      else h->pedals[ch] &= (uint8_t)~(1u << i);
    } else if (ctl == 121) {
      h->pedals[ch] = 0;
    } else if (ctl == 120 || ctl >= 123) {
      memset(h->notes[ch], 0, sizeof h->notes[ch]);
    }
    break;
  }
  default: break;
  }
}

bool rmp_held_any(const rmp_held *h) {
  static const rmp_held none;
  return memcmp(h, &none, sizeof none) != 0;
}

size_t rmp_held_next_release(rmp_held *h, uint8_t out[3]) {
  for (unsigned ch = 0; ch < 16; ch++)
    for (unsigned k = 0; k < 16; k++) {
      uint8_t b = h->notes[ch][k];
      if (!b) continue;
      unsigned bit = 0;
      while (!(b & (1u << bit))) bit++;
      h->notes[ch][k] &= (uint8_t)~(1u << bit);
      out[0] = (uint8_t)(0x80 | ch);
      out[1] = (uint8_t)(k * 8 + bit);
      out[2] = 0x40;
      return 3;
    }
  for (unsigned ch = 0; ch < 16; ch++) {
    uint8_t b = h->pedals[ch];
    if (!b) continue;
    unsigned i = 0;
    while (!(b & (1u << i))) i++;
    h->pedals[ch] &= (uint8_t)~(1u << i);
    out[0] = (uint8_t)(0xB0 | ch);
    out[1] = RMP_HELD_PEDALS[i];
    out[2] = 0;
    return 3;
  }
  return 0;
}
