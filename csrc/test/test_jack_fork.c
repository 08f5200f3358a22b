/* A child forked without exec that exits (exit(), so atexit hooks run) does
 * not close the parent's JACK client: the client kept with no ports
 * (midi_jack.c, "The client's lifetime") is the parent's, and ports opened
 * after the child is gone still carry messages. Needs a JACK server
 * (csrc/test/with_jackd.sh). */
#include "check.h"
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
  rtpmidi_midi_in_config ic;
  memset(&ic, 0, sizeof ic);
  ic.port.api = "jack";
  ic.port.client_name = "forked";
  ic.port.virtual_name = "sink";
  ic.port.index = -1;
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
  rtpmidi_midi_out_config oc;
  memset(&oc, 0, sizeof oc);
  oc.port.api = "jack";
  oc.port.client_name = "forked";
  oc.port.port = "forked:sink";
  oc.port.index = -1;
  rtpmidi_midi_out *out = NULL;
  CHECK_INT(rtpmidi_midi_out_open(&oc, &out, &err), 0);
  if (out) {
    static const uint8_t note[] = {0x90, 0x3C, 0x64};
    CHECK_INT(rtpmidi_midi_out_send(out, note, sizeof note), 0);
    uint64_t until = uv_hrtime() + 2000000000u;   /* the watchdog: 2 s */
    while (heard == 0 && uv_hrtime() < until) uv_run(&loop, UV_RUN_NOWAIT), uv_sleep(1);
    CHECK_INT(heard, 1);
    rtpmidi_midi_out_close(out);
  }
  rtpmidi_midi_in_close(in);
  rtpmidi_runtime_free(rt);
  while (uv_run(&loop, UV_RUN_NOWAIT)) {
  }
  CHECK_INT(uv_loop_close(&loop), 0);
  jack_client_close(observer);
  return check_report();
}
