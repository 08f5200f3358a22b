/* A MidiOut opened onto a port and written to at once delivers the message:
 * open returns only once the process cycles use the new connection
 * (midi_jack.c, settle). jack_connect returns when the server has recorded
 * the connection; jackd2 switches the graph at a cycle's start, so a message
 * drained by a cycle that began before the switch goes nowhere. The window is
 * the time from a cycle's start to our client's turn in it: a "hog" client
 * ahead of ours in the graph (its output feeds our input) spends most of each
 * period, so our turn comes late in every cycle and nearly every connection
 * lands in that window. Needs a JACK server (csrc/test/with_jackd.sh). */
#include "check.h"
#include "jack_util.h"
#include "rtpmidi.h"

#include <jack/jack.h>
#include <jack/midiport.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <uv.h>

#define ROUNDS 30

static jack_port_t *hog_port;
static uint64_t hog_ns;   /* how long the hog runs each cycle */

static int hog_process(jack_nframes_t n, void *arg) {
  (void)arg;
  jack_midi_clear_buffer(jack_port_get_buffer(hog_port, n));
  uint64_t until = uv_hrtime() + hog_ns;
  while (uv_hrtime() < until) {
  }
  return 0;
}

static int heard[128];

static void on_message(void *ud, const uint8_t *msg, size_t len, double t) {
  (void)ud, (void)t;
  if (len == 3 && msg[0] == 0x90 && msg[2] > 0) heard[msg[1] & 0x7F]++;
}

int main(void) {
  jack_client_t *hog = jack_client_open("hog", JackNoStartServer, NULL);
  if (!hog) {
    printf("no JACK server: skipped\n");
    return 77;
  }
  /* 60% of the period: late in the cycle without making it late */
  hog_ns = (uint64_t)jack_get_buffer_size(hog) * 600000000u / jack_get_sample_rate(hog);
  hog_port = jack_port_register(hog, "out", JACK_DEFAULT_MIDI_TYPE, JackPortIsOutput, 0);
  jack_set_process_callback(hog, hog_process, NULL);
  CHECK(hog_port != NULL && jack_activate(hog) == 0);

  uv_loop_t loop;
  uv_loop_init(&loop);
  rtpmidi_runtime *rt = rtpmidi_runtime_new(&loop);
  rtpmidi_midi_in_config ic = jack_in_config("settle", "sink");
  rtpmidi_midi_in_events ev = {.on_message = on_message};
  rtpmidi_midi_in *in = NULL;
  rtpmidi_error err;
  CHECK_INT(rtpmidi_midi_in_open(rt, &ic, &ev, NULL, &in, &err), 0);
  if (!in) return check_report();
  /* the hog runs before our client in every cycle, once the cycles use
   * this connection (jack_port_connected_to reads the graph they use) */
  CHECK_INT(jack_connect(hog, "hog:out", "settle:sink"), 0);
  for (int k = 0; k < 1000 && !jack_port_connected_to(hog_port, "settle:sink"); k++) uv_sleep(1);
  CHECK(jack_port_connected_to(hog_port, "settle:sink"));

  int lost = 0;
  uint64_t open_ns = 0;
  for (int r = 0; r < ROUNDS; r++) {
    rtpmidi_midi_out_config oc = jack_out_config("settle", "settle:sink");
    rtpmidi_midi_out *out = NULL;
    uint64_t t0 = uv_hrtime();
    CHECK_INT(rtpmidi_midi_out_open(&oc, &out, &err), 0);
    open_ns += uv_hrtime() - t0;
    if (!out) break;
    uint8_t note[] = {0x90, (uint8_t)r, 0x64};
    CHECK_INT(rtpmidi_midi_out_send(out, note, sizeof note), 0);
    if (!jack_poll_until(&loop, &heard[r], 1, 300)) lost++;
    rtpmidi_midi_out_close(out);
  }
  printf("period %u frames at %u Hz, the hog %.2f ms of it: %d of %d notes sent right after open lost;"
         " open took %.2f ms on average\n", jack_get_buffer_size(hog), jack_get_sample_rate(hog),
         hog_ns / 1e6, lost, ROUNDS, open_ns / 1e6 / ROUNDS);
  CHECK_INT(lost, 0);

  rtpmidi_midi_in_close(in);
  CHECK_INT(jack_loop_end(&loop, rt), 0);
  jack_client_close(hog);
  return check_report();
}
