/* Minimal assertion helpers for the C unit tests. Each test program counts
 * its checks and prints "N passed, N failed"; it exits non-zero on failure. */
#ifndef RTPMIDI_TEST_CHECK_H
#define RTPMIDI_TEST_CHECK_H

#include <stdio.h>
#include <string.h>
#include <stdint.h>

static int check_passed_, check_failed_;

#define CHECK(cond) do { \
    if (cond) check_passed_++; \
    else { check_failed_++; fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } \
  } while (0)

#define CHECK_INT(got, want) do { \
    long long g_ = (long long)(got), w_ = (long long)(want); \
    if (g_ == w_) check_passed_++; \
    else { check_failed_++; fprintf(stderr, "%s:%d: %s == %lld, want %lld\n", __FILE__, __LINE__, #got, g_, w_); } \
  } while (0)

static inline void check_hexdump_(const char *tag, const uint8_t *p, size_t n) {
  fprintf(stderr, "  %s (%zu):", tag, n);
  for (size_t i = 0; i < n; i++) fprintf(stderr, " %02x", p[i]);
  fprintf(stderr, "\n");
}

#define CHECK_MEM(got, got_len, want, want_len) do { \
    const uint8_t *g_ = (const uint8_t *)(got), *w_ = (const uint8_t *)(want); \
    size_t gl_ = (size_t)(got_len), wl_ = (size_t)(want_len); \
    if (gl_ == wl_ && memcmp(g_, w_, gl_) == 0) check_passed_++; \
    else { check_failed_++; fprintf(stderr, "%s:%d: bytes differ: %s\n", __FILE__, __LINE__, #got); \
           check_hexdump_("got ", g_, gl_); check_hexdump_("want", w_, wl_); } \
  } while (0)

/* Returns the process exit status. */
static inline int check_report(void) {
  printf("%d passed, %d failed\n", check_passed_, check_failed_);
  return check_failed_ ? 1 : 0;
}

#endif
