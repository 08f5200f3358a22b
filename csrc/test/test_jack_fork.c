/* A child forked without exec that exits (exit(), so atexit hooks run) does
 * not close the parent's JACK client: the client kept with no ports
 * (midi_jack.c, "The client's lifetime") is the parent's, and ports opened
 * after the child is gone still carry messages. Needs a JACK server
 * (csrc/test/with_jackd.sh). */
#include "check.h"
#include "jack_util.h"
#include "rtpmidi.h"

#include <jack/jack.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

static int heard;

static void on_message(void *ud, const uint8_t *msg, size_t len, double t) {
  (void)ud, (void)t;
  if (len == 3 && msg[0] == 0x90) heard++;
}

static rtpmidi_midi_in *open_in(rtpmidi_runtime *rt, rtpmidi_error *err) {
  rtpmidi_midi_in_config ic = jack_in_config("forked", "sink");
  rtpmidi_midi_in_events ev = {.on_message = on_message};
  rtpmidi_midi_in *in = NULL;
  rtpmidi_midi_in_open(rt, &ic, &ev, NULL, &in, err);
  return in;
}

int main(void) {
  jack_client_t *observer = jack_client_open("observer", JackNoStartServer, NULL);
  if (!observer) {
    printf("no JACK server: skipped\n");
    return 77;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  rtpmidi_runtime *rt = rtpmidi_runtime_new(&loop);
  rtpmidi_error err;

  /* a port opened and closed: the process's client stays, with no ports */
  rtpmidi_midi_in *in = open_in(rt, &err);
  CHECK(in != NULL);
  rtpmidi_midi_in_close(in);
  while (uv_run(&loop, UV_RUN_NOWAIT)) {
  }

  pid_t child = fork();
  if (child == 0) exit(0);
  int status = 0;
  CHECK_INT((int)waitpid(child, &status, 0), (int)child);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  /* the parent's client: a port opens on it and a message goes through */
  in = open_in(rt, &err);
  CHECK(in != NULL);
  if (!in) {
    printf("after the child's exit: %s\n", err.message);
    return check_report();
  }
  CHECK(jack_port_by_name(observer, "forked:sink") != NULL);
  rtpmidi_midi_out_config oc = jack_out_config("forked", "forked:sink");
  rtpmidi_midi_out *out = NULL;
  CHECK_INT(rtpmidi_midi_out_open(&oc, &out, &err), 0);
  if (out) {
    static const uint8_t note[] = {0x90, 0x3C, 0x64};
    CHECK_INT(rtpmidi_midi_out_send(out, note, sizeof note), 0);
    CHECK(jack_poll_until(&loop, &heard, 1, 2000)); /* the watchdog: 2 s */
    CHECK_INT(heard, 1);
    rtpmidi_midi_out_close(out);
  }
  rtpmidi_midi_in_close(in);
  CHECK_INT(jack_loop_end(&loop, rt), 0);
  jack_client_close(observer);
  return check_report();
}
