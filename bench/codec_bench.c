/* The MIDI command-section codec in C: messages per second encoded into
 * packets within the default budget, and decoded back.
 *   codec_bench MESSAGES */
#include "bench_util.h"
#include "midi_cmd.h"
#include "midi_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t rng = 12345;
static uint32_t next(void) {
  rng = rng * 1103515245u + 12345u;
  return rng >> 8;
}

/* A musical mix: mostly notes and controllers, some pressure and bend, an
 * occasional short SysEx and clock. */
static size_t make_msg(uint8_t *m) {
  uint32_t k = next() % 100;
  uint8_t ch = (uint8_t)(next() % 16);
  if (k < 60) { m[0] = (uint8_t)((next() & 1 ? 0x90 : 0x80) | ch); m[1] = next() & 0x7f; m[2] = next() & 0x7f; return 3; }
  if (k < 80) { m[0] = 0xB0 | ch; m[1] = next() % 120; m[2] = next() & 0x7f; return 3; }
  if (k < 88) { m[0] = 0xE0 | ch; m[1] = next() & 0x7f; m[2] = next() & 0x7f; return 3; }
  if (k < 94) { m[0] = 0xD0 | ch; m[1] = next() & 0x7f; return 2; }
  if (k < 98) { m[0] = 0xF8; return 1; }
  size_t n = 8 + next() % 24;
  m[0] = 0xF0;
  for (size_t i = 1; i < n - 1; i++) m[i] = next() & 0x7f;
  m[n - 1] = 0xF7;
  return n;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000000;
  uint8_t *bytes = malloc((size_t)n * 32);
  rmp_cmd_msg *msgs = malloc(sizeof *msgs * (size_t)n);
  uint8_t *packets = malloc((size_t)n * 40 + 4096);
  size_t *plen = malloc(sizeof *plen * (size_t)n);
  if (!bytes || !msgs || !packets || !plen) bench_die("malloc");
  size_t off = 0;
  for (long i = 0; i < n; i++) {
    size_t len = make_msg(bytes + off);
    msgs[i] = (rmp_cmd_msg){(uint32_t)(next() % 4 == 0 ? next() % 200 : 0), bytes + off, len};
    off += len;
  }
  /* encode: as many messages per packet as fit in the default budget */
  rmp_cmd_encoder enc;
  rmp_cmd_encoder_init(&enc);
  long done = 0, npk = 0;
  size_t out = 0;
  double t0 = bench_now_ns();
  while (done < n) {
    rmp_cmd_enc_info info;
    int r = rmp_cmd_encode(&enc, msgs + done, (size_t)(n - done), false, 0, packets + out, 1500, &info);
    if (r < 0) bench_die("encode");
    plen[npk++] = (size_t)r;
    out += (size_t)r;
    done += (long)info.nmsgs;
  }
  double enc_s = (bench_now_ns() - t0) / 1e9;
  /* decode them all */
  static uint8_t sysex[65536];
  rmp_cmd_decoder dec;
  rmp_cmd_decoder_init(&dec, sysex, sizeof sysex);
  long got = 0;
  size_t pos = 0;
  uint64_t check = 0;
  t0 = bench_now_ns();
  for (long p = 0; p < npk; p++) {
    rmp_cmd_iter it;
    rmp_cmd_event e;
    if (rmp_cmd_iter_init(&it, &dec, packets + pos, plen[p]) < 0) bench_die("decode");
    int r;
    while ((r = rmp_cmd_iter_next(&it, &e)) == 1) {
      got++;
      check += e.data[0];
    }
    if (r < 0) bench_die("decode");
    pos += plen[p];
  }
  double dec_s = (bench_now_ns() - t0) / 1e9;
  const char *status = got == n ? "ok" : "count-mismatch";
  printf("BENCH kind=codec name=c_encode what=\"C command-section encoder\" messages=%ld packets=%ld "
         "msgs_per_s=%.0f ns_per_msg=%.1f octets_per_msg=%.2f status=%s\n",
         n, npk, n / enc_s, enc_s * 1e9 / n, (double)out / n, status);
  printf("BENCH kind=codec name=c_decode what=\"C command-section decoder\" messages=%ld packets=%ld "
         "msgs_per_s=%.0f ns_per_msg=%.1f checksum=%llu status=%s\n",
         got, npk, got / dec_s, dec_s * 1e9 / (got ? got : 1), (unsigned long long)check, status);
  free(bytes);
  free(msgs);
  free(packets);
  free(plen);
  return got == n ? 0 : 1;
}
