/* Discovery never holds the loop (issue #18, finding 1): with a system bus
 * that accepts connections and never answers (a listening Unix socket
 * nobody reads, named by DBUS_SYSTEM_BUS_ADDRESS, which libdbus and so
 * Avahi's client use for the system bus), an AppleMIDI session and a
 * Network MIDI 2.0 session start, run and stop while a 10 ms timer keeps
 * firing: the largest gap between its ticks stays under 100 ms, start and
 * stop return at once, and the loop ends when everything is freed (no
 * handle waits for the Avahi thread, which is still stuck in D-Bus).
 * Avahi's client connects with blocking D-Bus calls: before discovery had
 * a thread of its own, start took D-Bus's whole timeout (25 s).
 * Then 100 AppleMIDI and 100 Network MIDI 2.0 sessions start and stop
 * together against the same bus: the gap bound holds and the process runs
 * one discovery thread for all of them (discovery.c: one Avahi thread per
 * process), counted in /proc/self/task.
 * Exit 77 (skipped) without Avahi compiled in. */
#include "capi_util.h"
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

typedef struct {
  uint64_t last, max_gap;
  unsigned ticks;
} ticker;

static void on_tick(uv_timer_t *t) {
  ticker *k = t->data;
  uint64_t now = uv_hrtime();
  if (k->last && now - k->last > k->max_gap) k->max_gap = now - k->last;
  k->last = now;
  k->ticks++;
}

static double ms_since(uint64_t t0) { return (double)(uv_hrtime() - t0) / 1e6; }

/* Runs the loop for ms milliseconds. */
static void run_for(uv_loop_t *loop, unsigned ms) {
  bool never = false;
  capi_run_until(loop, &never, ms);
}

/* Whether a connection waits on the listening socket (the bus's client came). */
static bool pending_connection(int lfd) {
  struct pollfd p = {.fd = lfd, .events = POLLIN};
  return poll(&p, 1, 0) == 1;
}

static int hung_bus(char *path, size_t cap) {
  snprintf(path, cap, "/tmp/rtpmidi-hung-bus-%d", (int)getpid());
  unlink(path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 64) != 0) {
    perror("hung bus");
    exit(1);
  }
  return fd;
}

typedef enum { APPLE, MIDI2 } kind;

/* The process's threads. */
static int tasks(void) {
  DIR *d = opendir("/proc/self/task");
  if (!d) return -1;
  int n = 0;
  for (struct dirent *e; (e = readdir(d));)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

#define MANY 100 /* of each kind */

/* 2 x MANY sessions start, run and stop against the hung bus: none waits,
 * and they share one discovery thread. */
static void many_sessions(uv_loop_t *loop, int lfd, int threads_before) {
  rtpmidi_runtime *rt = rtpmidi_runtime_new(loop);
  ticker tk = {0};
  uv_timer_t t;
  uv_timer_init(loop, &t);
  t.data = &tk;
  uv_timer_start(&t, on_tick, 10, 10);
  run_for(loop, 50);
  static rtpmidi_apple *a[MANY];
  static rtpmidi_midi2 *m[MANY];
  rtpmidi_error err;
  double start_max = 0, stop_max = 0;
  for (int i = 0; i < MANY; i++) {
    char name[32];
    snprintf(name, sizeof name, "hung-many-a%d", i);
    rtpmidi_apple_config ac = {.name = name};
    CHECK_INT(rtpmidi_apple_new(rt, &ac, &(rtpmidi_apple_events){0}, NULL, &a[i], &err), 0);
    snprintf(name, sizeof name, "hung-many-m%d", i);
    rtpmidi_midi2_config mc = {.name = name, .product_instance_id = "piid-many"};
    CHECK_INT(rtpmidi_midi2_new(rt, &mc, &(rtpmidi_midi2_events){0}, NULL, &m[i], &err), 0);
    uint64_t t0 = uv_hrtime();
    CHECK_INT(rtpmidi_apple_start(a[i]), 0);
    CHECK_INT(rtpmidi_midi2_start(m[i]), 0);
    double ms = ms_since(t0);
    if (ms > start_max) start_max = ms;
    if (i % 10 == 9) run_for(loop, 5); /* the timer runs between them */
  }
  bool came = false;
  for (int i = 0; i < 100 && !came; i++) {
    run_for(loop, 10);
    came = pending_connection(lfd);
  }
  CHECK(came);
  run_for(loop, 200);
  int threads = tasks();
  for (int i = 0; i < MANY; i++) {
    uint64_t t0 = uv_hrtime();
    rtpmidi_apple_stop(a[i]);
    rtpmidi_midi2_stop(m[i]);
    double ms = ms_since(t0);
    if (ms > stop_max) stop_max = ms;
    rtpmidi_apple_free(a[i]);
    rtpmidi_midi2_free(m[i]);
    if (i % 10 == 9) run_for(loop, 5);
  }
  run_for(loop, 100);
  uv_timer_stop(&t);
  uv_close((uv_handle_t *)&t, NULL);
  rtpmidi_runtime_free(rt);
  CHECK_INT(uv_run(loop, UV_RUN_DEFAULT), 0);
  double gap_ms = (double)tk.max_gap / 1e6;
  printf("%d sessions: largest start %.2f ms, largest stop %.2f ms, largest gap %.2f ms, "
         "threads %d before, %d with them\n", 2 * MANY, start_max, stop_max, gap_ms, threads_before, threads);
  CHECK(start_max < 50);
  CHECK(stop_max < 50);
  CHECK(gap_ms < 100);
  CHECK_INT(threads, threads_before + 1);
  /* the bus hangs up: the thread, back from D-Bus, ends (nobody uses it) */
  int c;
  while ((c = accept(lfd, NULL, NULL)) >= 0) close(c);
  int left = tasks();
  for (int i = 0; i < 200 && left > threads_before; i++) {
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
    left = tasks();
  }
  printf("after the last stop and the bus's hang-up: %d threads\n", left);
  CHECK_INT(left, threads_before);
}

static void one_session(uv_loop_t *loop, kind k, int lfd) {
  rtpmidi_runtime *rt = rtpmidi_runtime_new(loop);
  ticker tk = {0};
  uv_timer_t t;
  uv_timer_init(loop, &t);
  t.data = &tk;
  uv_timer_start(&t, on_tick, 10, 10);
  run_for(loop, 50);

  rtpmidi_apple *a = NULL;
  rtpmidi_midi2 *m = NULL;
  rtpmidi_error err;
  double start_ms, stop_ms;
  uint64_t t0 = uv_hrtime();
  if (k == APPLE) {
    rtpmidi_apple_config cfg = {.name = "hung-bus-apple"};
    CHECK_INT(rtpmidi_apple_new(rt, &cfg, &(rtpmidi_apple_events){0}, NULL, &a, &err), 0);
    CHECK_INT(rtpmidi_apple_start(a), 0);
  } else {
    rtpmidi_midi2_config cfg = {.name = "hung-bus-midi2", .product_instance_id = "piid-1"};
    CHECK_INT(rtpmidi_midi2_new(rt, &cfg, &(rtpmidi_midi2_events){0}, NULL, &m, &err), 0);
    CHECK_INT(rtpmidi_midi2_start(m), 0);
  }
  start_ms = ms_since(t0);
  /* the Avahi thread reaches the bus and waits there for an answer */
  bool came = false;
  for (int i = 0; i < 100 && !came; i++) {
    run_for(loop, 10);
    came = pending_connection(lfd);
  }
  CHECK(came);
  run_for(loop, 300);
  rtpmidi_service v[4];
  CHECK_INT(k == APPLE ? rtpmidi_apple_discovered(a, v, 4) : rtpmidi_midi2_discovered(m, v, 4), 0);
  t0 = uv_hrtime();
  if (k == APPLE) {
    rtpmidi_apple_stop(a);
    rtpmidi_apple_free(a);
  } else {
    rtpmidi_midi2_stop(m);
    rtpmidi_midi2_free(m);
  }
  stop_ms = ms_since(t0);
  run_for(loop, 100);
  uv_timer_stop(&t);
  uv_close((uv_handle_t *)&t, NULL);
  rtpmidi_runtime_free(rt);
  /* nothing is left to wait for: the loop ends at once */
  t0 = uv_hrtime();
  int left = uv_run(loop, UV_RUN_DEFAULT);
  double drain_ms = ms_since(t0);
  CHECK_INT(left, 0);
  double gap_ms = (double)tk.max_gap / 1e6;
  printf("%s: start %.2f ms, stop+free %.2f ms, drain %.2f ms, %u ticks, largest gap %.2f ms\n",
         k == APPLE ? "AppleMIDI" : "Network MIDI 2.0", start_ms, stop_ms, drain_ms, tk.ticks, gap_ms);
  CHECK(start_ms < 50);
  CHECK(stop_ms < 50);
  CHECK(drain_ms < 100);
  CHECK(gap_ms < 100);
  CHECK(tk.ticks >= 30);
  /* the bus's next client is the next session's */
  int c;
  while ((c = accept(lfd, NULL, NULL)) >= 0) close(c);
}

/* rtpmidi_browser: refuses what is not a service type; browsing alone
 * against the hung bus returns at once too; freed before or after its
 * runtime, the loop ends. */
static void browsers(uv_loop_t *loop) {
  rtpmidi_runtime *rt = rtpmidi_runtime_new(loop);
  rtpmidi_browser *b = NULL;
  const char *bad[] = {NULL, "", "_apple-midi", "apple-midi._udp", "_a b._udp", "_x._sctp",
                       "_abcdefghijklmnop._udp"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECK_INT(rtpmidi_browser_new(rt, bad[i], &b), UV_EINVAL);
    CHECK(b == NULL);
  }
  rtpmidi_browser *b1 = NULL, *b2 = NULL;
  uint64_t t0 = uv_hrtime();
  CHECK_INT(rtpmidi_browser_new(rt, "_apple-midi._udp", &b1), 0);
  CHECK_INT(rtpmidi_browser_new(rt, "_midi2._udp", &b2), 0);
  CHECK(ms_since(t0) < 50);
  run_for(loop, 100);
  rtpmidi_service v[2];
  CHECK_INT(rtpmidi_browser_found(b1, v, 2), 0);
  rtpmidi_browser_free(b1);        /* before its runtime */
  rtpmidi_runtime_free(rt);        /* ends b2's browsing; b2 stays valid */
  CHECK_INT(rtpmidi_browser_found(b2, v, 2), 0);
  CHECK_INT(uv_run(loop, UV_RUN_DEFAULT), 0);
  rtpmidi_browser_free(b2);        /* after it */
  CHECK_INT(uv_run(loop, UV_RUN_DEFAULT), 0);
}

int main(void) {
  if (!rtpmidi_discovery_available()) {
    printf("skipped: built without Avahi (RTPMIDI_AVAHI, libavahi-client-dev)\n");
    return 77;
  }
  char path[108], addr[160];
  int lfd = hung_bus(path, sizeof path);
  fcntl(lfd, F_SETFL, O_NONBLOCK);
  /* before anything in the process opens a bus (libdbus reads it once) */
  snprintf(addr, sizeof addr, "unix:path=%s", path);
  setenv("DBUS_SYSTEM_BUS_ADDRESS", addr, 1);
  /* room for 2 x MANY sessions' sockets */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  /* first: no earlier discovery thread may still be on its way out */
  many_sessions(&loop, lfd, tasks());
  one_session(&loop, APPLE, lfd);
  one_session(&loop, MIDI2, lfd);
  browsers(&loop);
  CHECK_INT(uv_loop_close(&loop), 0);
  close(lfd);
  unlink(path);
  return check_report();
}
