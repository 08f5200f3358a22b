/* A process that forks without exec while discovery runs (discovery.c:
 * fork_child): the child has the parent's memory but not its Avahi thread.
 * In the child a new discovery start makes a thread of its own (named
 * "rtpmidi-avahi", counted in /proc/self/task), start and stop return at
 * once, the sessions inherited from the parent stop too, and the child's
 * thread then ends; all within a watchdog. Then many forks while the
 * parent's thread is kept busy (starts and stops wake it, and it takes the
 * lock each time): no child finds the lock held by a thread it does not
 * have. The parent goes on: its discovery stops and its thread ends.
 *
 * Needs no daemon nor bus: DBUS_SYSTEM_BUS_ADDRESS names a socket that is
 * not there, so each thread exists while it tries to connect and waits to
 * try again. Exit 77 (skipped) without Avahi compiled in. */
#include "check.h"
#include "discovery.h"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How many threads of this process are the discovery thread. */
static int avahi_threads(void) {
  DIR *d = opendir("/proc/self/task");
  if (!d) return -1;
  int n = 0;
  char path[300], comm[32];
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue; /* it ended meanwhile */
    if (fgets(comm, sizeof comm, f) && strncmp(comm, "rtpmidi-avahi", 13) == 0) n++;
    fclose(f);
  }
  closedir(d);
  return n;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Runs loop until avahi_threads() == want, at most ms; whether it came. */
static bool threads_become(uv_loop_t *loop, int want, double ms) {
  double end = now_ms() + ms;
  while (avahi_threads() != want) {
    if (now_ms() > end) return false;
    uv_run(loop, UV_RUN_NOWAIT);
    usleep(5000);
  }
  return true;
}

static rmc_discovery *start(uv_loop_t *loop, const char *name) {
  rmc_discovery_config cfg = {.type = "_apple-midi._udp", .name = name, .port = 5004};
  return rmc_discovery_start(loop, &cfg);
}

/* The child: what is checked there, as its exit status: 0 all held and
 * discovery ran on a thread of its own, 2 all held and discovery was off
 * (forked while the parent's thread was in libdbus: discovery.c,
 * fork_child), 1 a check failed. */
static int child(uv_loop_t *inherited, rmc_discovery **mine, size_t n) {
  alarm(10); /* the watchdog: a hang ends the child by SIGALRM */
  check_passed_ = check_failed_ = 0; /* its own checks, not the parent's so far */
  CHECK_INT(avahi_threads(), 0); /* threads do not survive fork */
  uv_loop_t loop;
  CHECK_INT(uv_loop_init(&loop), 0);
  double t0 = now_ms();
  rmc_discovery *d = start(&loop, "fork-child");
  CHECK(now_ms() - t0 < 200);
  /* its own thread, not the parent's that is not there */
  if (d) CHECK(threads_become(&loop, 1, 3000));
  t0 = now_ms();
  rmc_discovery_stop(d);
  /* what it inherited: stopped as well, on the loop it came with */
  CHECK_INT(uv_loop_fork(inherited), 0);
  for (size_t i = 0; i < n; i++) rmc_discovery_stop(mine[i]);
  CHECK(now_ms() - t0 < 200);
  /* nothing left started: the child's thread ends */
  CHECK(threads_become(&loop, 0, 5000));
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_INT(uv_loop_close(&loop), 0);
  uv_run(inherited, UV_RUN_DEFAULT);
  return check_failed_ ? 1 : d ? 0 : 2;
}

/* Forks a child; waits for it (at most 15 s: then it is killed). Its exit
 * status, -1 when it hung or was killed by a signal. */
static int fork_child_run(uv_loop_t *loop, rmc_discovery **mine, size_t n) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) _exit(child(loop, mine, n));
  if (pid < 0) return -1;
  int status = 0;
  double end = now_ms() + 15000;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (now_ms() > end) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      fprintf(stderr, "child %d hung\n", (int)pid);
      return -1;
    }
    usleep(2000);
  }
  if (WIFSIGNALED(status)) fprintf(stderr, "child %d: signal %d\n", (int)pid, WTERMSIG(status));
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int main(void) {
  if (!rmc_discovery_available()) {
    printf("skipped: built without Avahi\n");
    return 77;
  }
  setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/rtpmidi-no-bus", 1);
  uv_loop_t loop;
  CHECK_INT(uv_loop_init(&loop), 0);
  rmc_discovery *mine[2];
  mine[0] = start(&loop, "fork-parent");
  rmc_discovery_config browse = {.type = "_midi2._udp"};
  mine[1] = rmc_discovery_start(&loop, &browse);
  CHECK(mine[0] && mine[1]);
  CHECK(threads_become(&loop, 1, 3000));

  /* forked while its thread waits in poll(): the child's discovery runs
   * on a thread of its own (the thread wakes now and then to try the bus
   * again: should a fork meet that, the child's discovery is off, and the
   * next fork tries) */
  int rc = 2;
  for (int i = 0; i < 20 && rc == 2; i++) {
    double end = now_ms() + 3000;
    while (!rmc_discovery_quiet() && now_ms() < end) {
      uv_run(&loop, UV_RUN_NOWAIT);
      usleep(1000);
    }
    rc = fork_child_run(&loop, mine, 2);
  }
  CHECK_INT(rc, 0);

  /* forks while the thread is busy: each start and stop wakes it */
  int bad = 0, own = 0, off = 0;
  for (int i = 0; i < 60; i++) {
    for (int j = 0; j < 20; j++) {
      rmc_discovery *x = start(&loop, "churn");
      rmc_discovery_stop(x);
    }
    rc = fork_child_run(&loop, mine, 2);
    if (rc == 0) own++;
    else if (rc == 2) off++;
    else bad++;
    uv_run(&loop, UV_RUN_NOWAIT);
  }
  printf("60 forks while busy: %d with discovery, %d with it off, %d bad\n", own, off, bad);
  CHECK_INT(bad, 0);

  /* the parent's discovery is as it was: its thread still there, and gone after the last stop */
  CHECK_INT(avahi_threads(), 1);
  rmc_discovery_stop(mine[0]);
  rmc_discovery_stop(mine[1]);
  CHECK(threads_become(&loop, 0, 5000));
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_INT(uv_loop_close(&loop), 0);
  return check_report();
}
