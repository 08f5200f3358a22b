/* What a MIDI stream left sounding, and its releases (midi_held.h). */
#include "check.h"
#include "midi_held.h"

static void apply3(rmp_held *h, uint8_t a, uint8_t b, uint8_t c) {
  uint8_t m[3] = {a, b, c};
  rmp_held_apply(h, m, 3);
}

/* Every release, in order, as one string of octets; returns its length. */
static size_t releases(rmp_held *h, uint8_t *out, size_t cap) {
  size_t n = 0;
  uint8_t m[3];
  while (n + 3 <= cap && rmp_held_next_release(h, m) == 3) {
    memcpy(out + n, m, 3);
    n += 3;
  }
  return n;
}

static void test_notes_and_pedals(void) {
  rmp_held h;
  rmp_held_init(&h);
  uint8_t r[64 * 3];
  CHECK(!rmp_held_any(&h));
  CHECK_INT(releases(&h, r, sizeof r), 0);
  apply3(&h, 0x90, 60, 100);   /* on, then off: nothing */
  apply3(&h, 0x80, 60, 10);
  apply3(&h, 0x91, 61, 100);   /* on, then on with velocity 0: nothing */
  apply3(&h, 0x91, 61, 0);
  CHECK(!rmp_held_any(&h));
  apply3(&h, 0x9F, 127, 1);    /* sounding: ch 16 note 127, ch 1 notes 0 and 64 */
  apply3(&h, 0x90, 64, 90);
  apply3(&h, 0x90, 0, 90);
  apply3(&h, 0x90, 64, 91);    /* struck again: one release */
  apply3(&h, 0xB2, 64, 127);   /* damper down on ch 3, soft pedal on ch 3, hold 2 on ch 1 */
  apply3(&h, 0xB2, 67, 64);
  apply3(&h, 0xB0, 69, 100);
  apply3(&h, 0xB0, 66, 63);    /* sostenuto: 63 is off */
  apply3(&h, 0xB0, 7, 127);    /* a volume is no pedal */
  CHECK(rmp_held_any(&h));
  static const uint8_t want[] = {0x80, 0, 0x40, 0x80, 64, 0x40, 0x8F, 127, 0x40,
                                 0xB0, 69, 0, 0xB2, 64, 0, 0xB2, 67, 0};
  size_t n = releases(&h, r, sizeof r);
  CHECK_MEM(r, n, want, sizeof want);
  CHECK(!rmp_held_any(&h));
}

static void test_mode_messages(void) {
  rmp_held h;
  rmp_held_init(&h);
  uint8_t r[64 * 3];
  /* All Sound Off, All Notes Off and 124..127 end the channel's notes, not
   * its pedals (a damped note sounds until the pedal is up) */
  for (uint8_t ctl = 120; ctl < 128; ctl++) {
    if (ctl == 121 || ctl == 122) continue;
    apply3(&h, 0x95, 40, 80);
    apply3(&h, 0x96, 41, 80);
    apply3(&h, 0xB5, 64, 127);
    apply3(&h, 0xB5, ctl, 0);
    static const uint8_t want[] = {0x86, 41, 0x40, 0xB5, 64, 0};
    size_t n = releases(&h, r, sizeof r);
    CHECK_MEM(r, n, want, sizeof want);
  }
  /* Reset All Controllers lifts the pedals, keeps the notes; 122 (local
   * control) does nothing */
  apply3(&h, 0x95, 40, 80);
  apply3(&h, 0xB5, 64, 127);
  apply3(&h, 0xB5, 66, 127);
  apply3(&h, 0xB5, 122, 0);
  apply3(&h, 0xB5, 121, 0);
  static const uint8_t want1[] = {0x85, 40, 0x40};
  size_t n = releases(&h, r, sizeof r);
  CHECK_MEM(r, n, want1, sizeof want1);
  /* System Reset ends all */
  apply3(&h, 0x95, 40, 80);
  apply3(&h, 0xB9, 67, 127);
  uint8_t reset = 0xFF;
  rmp_held_apply(&h, &reset, 1);
  CHECK(!rmp_held_any(&h));
  /* what is not a complete channel message changes nothing */
  static const uint8_t junk[][3] = {{0x90, 0x80, 1}, {0x90, 1, 0x80}, {0x40, 1, 1}, {0xF2, 1, 1}};
  for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) rmp_held_apply(&h, junk[i], 3);
  static const uint8_t two[2] = {0x90, 60};
  rmp_held_apply(&h, two, 2);
  static const uint8_t sysex[5] = {0xF0, 0x7E, 0x90, 0x3C, 0xF7};
  rmp_held_apply(&h, sysex, 5);
  CHECK(!rmp_held_any(&h));
}

/* Every note of every channel and every pedal: 2048 + 64 releases. */
static void test_everything(void) {
  rmp_held h;
  rmp_held_init(&h);
  for (unsigned ch = 0; ch < 16; ch++) {
    for (unsigned n = 0; n < 128; n++) apply3(&h, (uint8_t)(0x90 | ch), (uint8_t)n, 1);
    for (int i = 0; i < RMP_HELD_NPEDALS; i++) apply3(&h, (uint8_t)(0xB0 | ch), RMP_HELD_PEDALS[i], 127);
  }
  uint8_t m[3];
  unsigned count = 0, offs = 0, ups = 0, last = 0;
  bool ordered = true;
  while (rmp_held_next_release(&h, m) == 3) {
    count++;
    unsigned key = (unsigned)((m[0] & 0xF0) == 0x80 ? 0 : 1) << 12 | (unsigned)(m[0] & 15) << 7 | m[1];
    if (count > 1 && key <= last) ordered = false;
    last = key;
    if ((m[0] & 0xF0) == 0x80) offs++;
    else if ((m[0] & 0xF0) == 0xB0 && m[2] == 0) ups++;
  }
  CHECK_INT(count, 16 * 128 + 16 * RMP_HELD_NPEDALS);
  CHECK_INT(offs, 16 * 128);
  CHECK_INT(ups, 16 * RMP_HELD_NPEDALS);
  CHECK(ordered);
  CHECK(!rmp_held_any(&h));
  CHECK_INT(sizeof(rmp_held), 272);
}

int main(void) {
  test_notes_and_pedals();
  test_mode_messages();
  test_everything();
  return check_report();
}
