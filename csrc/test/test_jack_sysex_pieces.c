/* A SysEx that another JACK client writes in several events reaches a MidiIn
 * whole (midi_jack.c puts the pieces together, real-time bytes in between
 * stay messages of their own); one longer than 64 KiB is dropped whole and
 * counted. Needs a JACK server (run through csrc/test/with_jackd.sh). */
#include "check.h"
#include "jack_util.h"
#include "rtpmidi.h"

#include <jack/jack.h>
#include <jack/midiport.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <uv.h>

/* ---- the writer: a JACK client of its own, one piece per cycle ---- */

#define MAX_PIECES 32
static jack_port_t *wport;
static const uint8_t *pieces[MAX_PIECES];
static size_t piece_len[MAX_PIECES];
static atomic_int npieces, next_piece;

static int on_process(jack_nframes_t n, void *arg) {
  (void)arg;
  void *buf = jack_port_get_buffer(wport, n);
  jack_midi_clear_buffer(buf);
  int k = atomic_load(&next_piece);
  if (k < atomic_load(&npieces) && jack_midi_event_write(buf, 0, pieces[k], piece_len[k]) == 0)
    atomic_store(&next_piece, k + 1);
  return 0;
}

static void play(int count) {
  atomic_store(&next_piece, 0);
  atomic_store(&npieces, count);
}

/* ---- the reader: our MidiIn ---- */

typedef struct got {
  uint8_t *bytes[64];
  size_t len[64];
  int n;
} got;

static void on_message(void *ud, const uint8_t *msg, size_t len, double t) {
  (void)t;
  got *g = ud;
  if (g->n >= 64) return;
  g->bytes[g->n] = malloc(len);
  memcpy(g->bytes[g->n], msg, len);
  g->len[g->n++] = len;
}

static void clear(got *g) {
  for (int i = 0; i < g->n; i++) free(g->bytes[i]);
  g->n = 0;
}

static uv_loop_t loop;

int main(void) {
  jack_client_t *wc = jack_client_open("pieces", JackNoStartServer, NULL);
  if (!wc) {
    printf("no JACK server: skipped\n");
    return 77;
  }
  wport = jack_port_register(wc, "out", JACK_DEFAULT_MIDI_TYPE, JackPortIsOutput, 0);
  jack_set_process_callback(wc, on_process, NULL);
  CHECK(wport != NULL && jack_activate(wc) == 0);

  uv_loop_init(&loop);
  rtpmidi_runtime *rt = rtpmidi_runtime_new(&loop);
  got g = {0};
  rtpmidi_midi_in_config ic = jack_in_config("sysex-reader", "sink");
  ic.sysex = ic.clock = true;
  rtpmidi_midi_in_events ev = {.on_message = on_message};
  rtpmidi_midi_in *in = NULL;
  rtpmidi_error err;
  CHECK_INT(rtpmidi_midi_in_open(rt, &ic, &ev, &g, &in, &err), 0);
  if (!in) return 1;
  CHECK_INT(jack_connect(wc, "pieces:out", "sysex-reader:sink"), 0);

  /* the connection takes a cycle or two: a note until one arrives */
  static const uint8_t note[] = {0x90, 0x3C, 0x64};
  pieces[0] = note;
  piece_len[0] = sizeof note;
  for (int k = 0; k < 100 && g.n == 0; k++) {
    play(1);
    uv_sleep(10);
    uv_run(&loop, UV_RUN_NOWAIT);
  }
  CHECK(g.n > 0);
  uv_sleep(20);
  uv_run(&loop, UV_RUN_NOWAIT);
  clear(&g);

  /* 3000 octets in three pieces, a clock byte between the first two */
  static uint8_t sysex[3000];
  sysex[0] = 0xF0;
  for (int i = 1; i < 2999; i++) sysex[i] = (uint8_t)((i * 37 + 11) % 128);
  sysex[2999] = 0xF7;
  static const uint8_t clock[] = {0xF8};
  pieces[0] = sysex;
  piece_len[0] = 1000;
  pieces[1] = clock;
  piece_len[1] = 1;
  pieces[2] = sysex + 1000;
  piece_len[2] = 1000;
  pieces[3] = sysex + 2000;
  piece_len[3] = 1000;
  pieces[4] = note;
  piece_len[4] = sizeof note;
  play(5);
  CHECK(jack_poll_until(&loop, &g.n, 3, 5000));
  CHECK_INT(g.n, 3);
  if (g.n == 3) {
    CHECK_MEM(g.bytes[0], g.len[0], clock, sizeof clock);
    CHECK_MEM(g.bytes[1], g.len[1], sysex, sizeof sysex);
    CHECK_MEM(g.bytes[2], g.len[2], note, sizeof note);
  }
  clear(&g);

  /* 80,000 octets in pieces of 8,000: longer than 64 KiB, dropped whole */
  static uint8_t big[80000];
  memset(big, 0x11, sizeof big);
  big[0] = 0xF0;
  big[sizeof big - 1] = 0xF7;
  for (int k = 0; k < 10; k++) {
    pieces[k] = big + k * 8000;
    piece_len[k] = 8000;
  }
  pieces[10] = note;
  piece_len[10] = sizeof note;
  play(11);
  CHECK(jack_poll_until(&loop, &g.n, 1, 5000));
  CHECK_INT(g.n, 1);
  if (g.n == 1) CHECK_MEM(g.bytes[0], g.len[0], note, sizeof note);
  rtpmidi_midi_in_stats st;
  rtpmidi_midi_in_get_stats(in, &st);
  CHECK_INT(st.dropped, 1);
  clear(&g);

  rtpmidi_midi_in_close(in);
  CHECK_INT(jack_loop_end(&loop, rt), 0);
  jack_client_close(wc);
  return check_report();
}
