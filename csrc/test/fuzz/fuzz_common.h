/* Shared helpers of the libFuzzer targets in csrc/test/fuzz (see README.md).
 *
 * Every target defines LLVMFuzzerTestOneInput and checks its invariants with
 * FUZZ_ASSERT, which aborts: libFuzzer then saves the input as a crash. */
#ifndef RTPMIDI_FUZZ_COMMON_H
#define RTPMIDI_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond) do { \
    if (!(cond)) { \
      fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      abort(); \
    } \
  } while (0)

/* Reads every octet of p[0..n) so that ASan sees any out-of-bounds span. */
static inline unsigned fuzz_touch(const uint8_t *p, size_t n) {
  unsigned s = 0;
  for (size_t i = 0; i < n; i++) s += p[i];
  return s;
}

/* True if [p, p + n) lies inside [base, base + len). */
static inline int fuzz_within(const uint8_t *p, size_t n, const uint8_t *base, size_t len) {
  return p >= base && (size_t)(p - base) <= len && n <= len - (size_t)(p - base);
}

/* A byte reader over the input: what runs out reads as zero. */
typedef struct {
  const uint8_t *p;
  size_t n, off;
} fuzz_in;

static inline void fuzz_in_init(fuzz_in *in, const uint8_t *p, size_t n) {
  in->p = p;
  in->n = n;
  in->off = 0;
}
static inline size_t fuzz_left(const fuzz_in *in) { return in->n - in->off; }
static inline uint8_t fuzz_u8(fuzz_in *in) { return in->off < in->n ? in->p[in->off++] : 0; }
static inline uint16_t fuzz_u16(fuzz_in *in) {
  uint16_t hi = fuzz_u8(in);
  return (uint16_t)(hi << 8 | fuzz_u8(in));
}
static inline uint32_t fuzz_u32(fuzz_in *in) {
  uint32_t hi = fuzz_u16(in);
  return hi << 16 | fuzz_u16(in);
}
static inline uint64_t fuzz_u64(fuzz_in *in) {
  uint64_t hi = fuzz_u32(in);
  return hi << 32 | fuzz_u32(in);
}

/* A small deterministic generator (xorshift64) for what the input does not
 * steer directly (delta times, packet boundaries, losses). */
static inline uint32_t fuzz_rand(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return (uint32_t)(*s >> 11);
}

#endif
