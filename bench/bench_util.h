/* Shared by the C benchmarks: the clock, CPU time, percentiles and the
 * BENCH result lines that bench/run.sh gathers (format in bench/README.md). */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static inline double bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* User plus system CPU seconds of this process so far. */
static inline double bench_cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static inline void bench_die(const char *what) {
  perror(what);
  exit(3);
}

static inline int bench_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted[0..n-1], p in (0, 1]. */
static inline double bench_percentile(const double *sorted, long n, double p) {
  if (n <= 0) return NAN;
  long k = (long)ceil(p * (double)n);
  if (k < 1) k = 1;
  if (k > n) k = n;
  return sorted[k - 1];
}

/* When BENCH_DAT_DIR is set, appends the one-way latencies (RTT/2, µs), one
 * a line, to $BENCH_DAT_DIR/<name>.dat (every round adds its samples; the
 * plot in bench/run.sh draws their distribution). */
static inline void bench_write_dat(const char *name, const double *rtt_ns, long n) {
  const char *dir = getenv("BENCH_DAT_DIR");
  if (!dir || !*dir) return;
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.dat", dir, name);
  FILE *f = fopen(path, "a");
  if (!f) return;
  for (long i = 0; i < n; i++) fprintf(f, "%.3f\n", rtt_ns[i] / 2000.0);
  fclose(f);
}

/* Sorts the round trips (ns), writes the samples (bench_write_dat) and
 * prints the one-way latency line. */
static inline void bench_latency_line(const char *name, const char *what, double *rtt_ns, long n,
                                      long lost, const char *status) {
  bench_write_dat(name, rtt_ns, n);
  qsort(rtt_ns, (size_t)n, sizeof *rtt_ns, bench_cmp_double);
  /* one way = RTT / 2, in microseconds */
  double f = 1.0 / 2000.0;
  printf("BENCH kind=latency name=%s what=\"%s\" n=%ld lost=%ld p50_us=%.2f p99_us=%.2f "
         "max_us=%.2f status=%s\n",
         name, what, n, lost, bench_percentile(rtt_ns, n, 0.50) * f,
         bench_percentile(rtt_ns, n, 0.99) * f, n ? rtt_ns[n - 1] * f : NAN, status);
  fflush(stdout);
}

static inline void bench_timeout_line(const char *kind, const char *name, const char *why) {
  printf("BENCH kind=%s name=%s status=failed why=\"%s\"\n", kind, name, why);
  fflush(stdout);
}

#endif
