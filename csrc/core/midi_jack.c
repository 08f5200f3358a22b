/* MIDI ports on JACK through libjack: one client per process (midi_jack.h).
 *
 * Threads. Opening, closing and listing run on the caller's thread under
 * `lock` (a mutex JACK's threads never take). The process callback runs on
 * JACK's real-time thread and neither locks nor allocates: it sees the ports
 * through a fixed table of atomic slots, and
 *  - for an input, hands each event (its frame time turned into uv_hrtime()'s
 *    clock) to the port's deliver function, which copies it into the
 *    MidiIn's single-producer ring and wakes the loop with uv_async_send;
 *  - for an output, drains the port's jack_ringbuffer (filled by
 *    rmj_write) into the port's buffer with jack_midi_event_write.
 * A port leaving the table is waited for: rmj_close empties its slot, then
 * waits until no process cycle that could have read it is still running.
 *
 * SysEx and the period's buffer. A message goes to JACK whole, as one event
 * (JACK MIDI events are complete messages). One that does not fit in what is
 * left of this period's buffer waits for the next period (order is kept); one
 * that cannot fit even in an empty buffer (jack_midi_max_event_size of a
 * cleared buffer) is dropped and counted (rmj_dropped). jackd2 gives MIDI
 * port buffers a fixed size independent of the period (32 KiB,
 * BUFFER_SIZE_MAX * sizeof(float) in its JackMidiPort.cpp), so a 1 KiB SysEx
 * goes through even at a 16-frame period.
 *
 * Server shutdown (jack_on_shutdown, on a JACK thread): every port's down
 * function runs (a flag and uv_async_send); writes then fail with UV_EIO, and
 * the dead client is closed with the last port.
 *
 * The client's lifetime. Once open, the client stays (with no ports) when the
 * last port closes, until the process exits, the server shuts down, or a
 * port asks for another client name while it has no ports. libjack 1.9.21
 * (Debian 12) crashes now and then in a thread of its own while
 * jack_client_close runs (about one close in a thousand in
 * c/test_capi_teardown_midi_in, which opens and closes a client for each
 * teardown order; RtMidi 5.0, which closed a client per port, crashed about
 * as often): a live-coded script that re-creates its ports on every reload
 * would meet it on stage. Keeping the client makes that close rare (once a
 * process), and a port opens faster. The same libjack thread also crashes,
 * more rarely, while jack_port_unregister runs (seen once in ~1,300 port
 * closes with the client kept); that one is libjack's to fix. */
#include "midi_jack.h"
#include "errbuf.h"

#include <jack/jack.h>
#include <jack/midiport.h>
#include <jack/ringbuffer.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define MAX_PORTS 256
#define DEFAULT_OUT_RING (64u * 1024u)
#define SYSEX_MAX (64u * 1024u)   /* a SysEx in pieces is put together up to this */

struct rmj_port {
  bool input;
  jack_port_t *port;
  rmj_deliver_fn deliver;
  rmj_down_fn down;
  void *ud;
  bool sysex, clock, active_sensing;
  rmj_drop_fn drop;
  /* inputs, JACK's thread only: a SysEx arriving in pieces */
  uint8_t *sysex_buf;        /* SYSEX_MAX bytes, allocated at open */
  size_t sysex_len;
  bool in_sysex, sysex_overflow;
  jack_ringbuffer_t *ring;   /* outputs: uint32_t length, then the bytes */
  _Atomic uint64_t dropped;
  atomic_bool closing;       /* outputs: the buffer is cleared, nothing written */
  int slot;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static jack_client_t *client;            /* under lock */
static int nports;                       /* under lock */
static char client_asked[128];           /* under lock: the name client was opened with, */
static char server_asked[128];           /* and the server (JACK_DEFAULT_SERVER) it is on */
static bool exit_hook;                   /* under lock: close_at_exit registered */
static _Atomic pid_t client_pid;         /* the process that opened client */
static _Atomic(rmj_port *) slots[MAX_PORTS];
static atomic_bool in_cycle;             /* the process callback is running */
static atomic_bool in_shutdown;          /* the shutdown callback is running */
static _Atomic uint64_t cycles;          /* process callbacks finished */
static atomic_bool down;                 /* the server shut down on us */


/* ---- the process thread ---- */

static bool passes(const rmj_port *p, uint8_t status) {
  if (status == 0xF0) return p->sysex;
  if (status == 0xF8 || status == 0xF1) return p->clock;
  if (status == 0xFE) return p->active_sensing;
  return true;
}

static void drain_output(rmj_port *p, jack_nframes_t nframes) {
  void *buf = jack_port_get_buffer(p->port, nframes);
  if (!buf) return;
  jack_midi_clear_buffer(buf);
  if (atomic_load_explicit(&p->closing, memory_order_relaxed)) return;
  size_t whole = jack_midi_max_event_size(buf);
  for (;;) {
    uint32_t len;
    if (jack_ringbuffer_read_space(p->ring) < sizeof len) break;
    atomic_thread_fence(memory_order_acquire); /* the writer's bytes before its advance */
    jack_ringbuffer_peek(p->ring, (char *)&len, sizeof len);
    if (len > whole) {
      /* Never fits: skip it. */
      jack_ringbuffer_read_advance(p->ring, sizeof len + len);
      atomic_fetch_add_explicit(&p->dropped, 1, memory_order_relaxed);
      continue;
    }
    if (len > jack_midi_max_event_size(buf)) break; /* the next period */
    jack_midi_data_t *dst = jack_midi_event_reserve(buf, 0, len);
    if (!dst) break;
    jack_ringbuffer_read_advance(p->ring, sizeof len);
    /* The writer put the bytes in before advancing its pointer: they are all
     * there. They may wrap around the ring's end. */
    jack_ringbuffer_data_t vec[2];
    jack_ringbuffer_get_read_vector(p->ring, vec);
    size_t first = vec[0].len < len ? vec[0].len : len;
    memcpy(dst, vec[0].buf, first);
    if (first < len) memcpy(dst + first, vec[1].buf, len - first);
    atomic_thread_fence(memory_order_release); /* done reading before the space is reused */
    jack_ringbuffer_read_advance(p->ring, len);
  }
}

/* A SysEx, or a piece of one: JACK carries a long SysEx in several events
 * when a client writes it so (RtMidi's JACK input put such pieces together
 * too). The pieces go into the port's buffer and leave as one message at
 * the piece that ends with F7; one longer than SYSEX_MAX is dropped whole
 * (a part of a SysEx is not a message) and counted. */
static void sysex_piece(rmj_port *p, const uint8_t *b, size_t len, uint64_t t) {
  if (b[0] == 0xF0) {
    p->sysex_len = 0;
    p->sysex_overflow = false;
  }
  if (!p->sysex_overflow) {
    if (p->sysex_len + len > SYSEX_MAX) {
      p->sysex_overflow = true;
    } else {
      memcpy(p->sysex_buf + p->sysex_len, b, len);
      p->sysex_len += len;
    }
  }
  p->in_sysex = b[len - 1] != 0xF7;
  if (p->in_sysex) return;
  if (p->sysex_overflow) {
    if (p->drop) p->drop(p->ud);
  } else {
    p->deliver(p->ud, p->sysex_buf, p->sysex_len, t);
  }
  p->sysex_len = 0;
  p->sysex_overflow = false;
}

static void read_input(rmj_port *p, jack_nframes_t nframes, uint64_t start_ns, uint64_t rate) {
  void *buf = jack_port_get_buffer(p->port, nframes);
  if (!buf) return;
  uint32_t n = jack_midi_get_event_count(buf);
  for (uint32_t i = 0; i < n; i++) {
    jack_midi_event_t ev;
    if (jack_midi_event_get(&ev, buf, i) != 0 || ev.size == 0) continue;
    uint64_t t = start_ns + (uint64_t)ev.time * 1000000000u / rate;
    const uint8_t *b = ev.buffer;
    bool whole = b[0] == 0xF0 && b[ev.size - 1] == 0xF7;
    if (!whole && (b[0] == 0xF0 || (p->in_sysex && b[0] < 0x80))) {
      if (p->sysex_buf) sysex_piece(p, b, ev.size, t);
      continue;
    }
    if (!passes(p, b[0])) continue;
    p->deliver(p->ud, b, ev.size, t);
  }
}

static int on_process(jack_nframes_t nframes, void *arg) {
  (void)arg;
  atomic_store(&in_cycle, true);
  /* Outputs first: an input of ours connected to an output of ours then
   * reads what was written in this same cycle. */
  for (int i = 0; i < MAX_PORTS; i++) {
    rmj_port *p = atomic_load(&slots[i]);
    if (p && !p->input) drain_output(p, nframes);
  }
  /* An event's frame time on our clock: this cycle's frames are anchored
   * here (uv_hrtime, read after the outputs were drained, so that no
   * message of ours is stamped before it was written), each frame 1/rate
   * later. Not jack_frames_to_time: that is JACK's own clock (190 ms apart
   * from uv_hrtime's here) and, on the dummy backend the specs use, its
   * estimate of a cycle's start lags by 7 to 100 ms. So a time is at most
   * about a period later than the frame it was captured at. */
  uint64_t start_ns = uv_hrtime();
  uint64_t rate = jack_get_sample_rate(client);
  if (rate == 0) rate = 48000;
  for (int i = 0; i < MAX_PORTS; i++) {
    rmj_port *p = atomic_load(&slots[i]);
    if (p && p->input) read_input(p, nframes, start_ns, rate);
  }
  atomic_fetch_add(&cycles, 1);
  atomic_store(&in_cycle, false);
  return 0;
}

static void on_shutdown(void *arg) {
  (void)arg;
  atomic_store(&in_shutdown, true);
  atomic_store(&down, true);
  for (int i = 0; i < MAX_PORTS; i++) {
    rmj_port *p = atomic_load(&slots[i]);
    if (p && p->down) p->down(p->ud);
  }
  atomic_store(&in_shutdown, false);
}

/* ---- the client (lock held) ---- */

/* JACK's own messages: while one of our calls runs (under `lock`) they go
 * to standard error, which the Lua layer hides unless verbose (midi.lua's
 * quietly); from JACK's threads at other times (a server that died:
 * "Cannot read socket fd ...") they are dropped, as on_error says it. */
static atomic_bool calling;

static void jack_message(const char *msg) {
  if (atomic_load(&calling)) fprintf(stderr, "%s\n", msg);
}

static void lock_calls(void) {
  pthread_mutex_lock(&lock);
  jack_set_error_function(jack_message);
  jack_set_info_function(jack_message);
  atomic_store(&calling, true);
}

static void unlock_calls(void) {
  atomic_store(&calling, false);
  pthread_mutex_unlock(&lock);
}

/* A server that is there but slow to answer (a loaded machine, our
 * previous client's close still under way) is asked again, up to three
 * times; one that is not there (JackServerFailed) is not. */
static jack_client_t *open_client(const char *name) {
  jack_client_t *c = NULL;
  for (int attempt = 0; attempt < 3 && !c; attempt++) {
    if (attempt) {
      struct timespec pause = {0, 20 * 1000 * 1000};
      nanosleep(&pause, NULL);
    }
    jack_status_t status = 0;
    c = jack_client_open(name, JackNoStartServer, &status);
    if (!c && (status & JackServerFailed)) break;
  }
  return c;
}

/* The server a client opened now goes to (libjack reads the variable at
 * jack_client_open). */
static const char *server_name(void) {
  const char *v = getenv("JACK_DEFAULT_SERVER");
  return v && *v ? v : "default";
}

/* Whether the client kept (with no ports) is the one a port asking for
 * name would open now. */
static bool kept_fits(const char *name) {
  return strcmp(name, client_asked) == 0 && strcmp(server_name(), server_asked) == 0;
}

static void close_client(void) {
  bool dead = atomic_load(&down);
  if (!dead) jack_deactivate(client);
  /* closing the client of a server that is gone: libjack's "Server is not
   * running" (twice) tells nothing on_error has not said */
  bool tell = atomic_exchange(&calling, atomic_load(&calling) && !dead);
  jack_client_close(client);
  atomic_store(&calling, tell);
  client = NULL;
  atomic_store(&down, false);
}

/* The process ends: the client kept with no ports goes (once, cleanly, so
 * the server does not log a client that died). */
static void close_at_exit(void) {
  /* A child forked without exec shares the client's connection to the
   * server: its exit must not close the parent's client (nor take the lock,
   * which a thread of the parent may have held at the fork). */
  if (atomic_load(&client_pid) != getpid()) return;
  lock_calls();
  if (client && nports == 0) close_client();
  unlock_calls();
}

static int ensure_client(const char *name, char *err, size_t errlen) {
  /* the kept client, with no ports, died with its server: a fresh one */
  if (client && nports == 0 && atomic_load(&down)) close_client();
  if (client && atomic_load(&down)) {
    rmc_errbuf_set(err, errlen, "jack: the JACK server has shut down (close the ports to reconnect)");
    return UV_EIO;
  }
  if (!name) name = "rtpmidi";
  /* kept with no ports under another name or on another server: the first
   * port of the new set names the client, as if it had been closed */
  if (client && nports == 0 && !kept_fits(name)) close_client();
  if (client) return 0;
  client = open_client(name);
  if (!client) {
    rmc_errbuf_set(err, errlen, "jack: cannot open a JACK client (is a JACK server running?)");
    return UV_EIO;
  }
  atomic_store(&client_pid, getpid());
  snprintf(client_asked, sizeof client_asked, "%s", name);
  snprintf(server_asked, sizeof server_asked, "%s", server_name());
  atomic_store(&down, false);
  jack_set_process_callback(client, on_process, NULL);
  jack_on_shutdown(client, on_shutdown, NULL);
  if (jack_activate(client) != 0) {
    jack_client_close(client);
    client = NULL;
    rmc_errbuf_set(err, errlen, "jack: cannot activate the JACK client");
    return UV_EIO;
  }
  if (!exit_hook) exit_hook = atexit(close_at_exit) == 0;
  return 0;
}

/* The last port closed: the client stays (see the top of this file), but a
 * dead one goes, so that the next port reconnects. */
static void release_client(void) {
  if (nports > 0 || !client) return;
  if (atomic_load(&down)) close_client();
}

/* ---- listing ---- */

/* The full names of the MIDI ports of the given direction, ours left out
 * when others_only; NULL-terminated, free with jack_free. */
static const char **port_names(jack_client_t *c, bool input, bool others_only, unsigned *count) {
  const char **names = jack_get_ports(c, NULL, JACK_DEFAULT_MIDI_TYPE,
                                      input ? JackPortIsOutput : JackPortIsInput);
  unsigned n = 0;
  if (names) {
    for (unsigned i = 0; names[i]; i++) {
      if (others_only) {
        jack_port_t *jp = jack_port_by_name(c, names[i]);
        if (jp && jack_port_is_mine(c, jp)) continue;
      }
      names[n++] = names[i];
    }
    names[n] = NULL;
  }
  *count = n;
  return names;
}

int rmj_list(bool input, rtpmidi_midi_port_fn fn, void *ud, char *err, size_t errlen) {
  lock_calls();
  /* the client kept with no ports lists its server only while that is the
   * server a client would open now */
  if (client && nports == 0 && strcmp(server_name(), server_asked) != 0) close_client();
  jack_client_t *c = client && !atomic_load(&down) ? client : NULL;
  bool temp = false;
  if (!c) {
    c = open_client("rtpmidi-list");
    temp = true;
  }
  if (!c) {
    rmc_errbuf_set(err, errlen, "jack: cannot open a JACK client (is a JACK server running?)");
    unlock_calls();
    return UV_EIO;
  }
  unsigned n;
  const char **names = port_names(c, input, true, &n);
  /* The names point into the client's shared memory (jackd2): copied into
   * one block before the client may go. */
  size_t bytes = 0;
  for (unsigned i = 0; i < n; i++) bytes += strlen(names[i]) + 1;
  char *copy = n ? malloc(bytes) : NULL;
  if (copy) {
    char *at = copy;
    for (unsigned i = 0; i < n; i++) {
      size_t len = strlen(names[i]) + 1;
      memcpy(at, names[i], len);
      at += len;
    }
  }
  if (names) jack_free(names);
  if (temp) jack_client_close(c);
  unlock_calls();
  if (n && !copy) return UV_ENOMEM;
  /* fn (a Lua binding's) may raise: called with nothing locked. */
  const char *at = copy;
  for (unsigned i = 0; i < n; i++) {
    if (fn) fn(ud, (int)i, at);
    at += strlen(at) + 1;
  }
  free(copy);
  return (int)n;
}

/* With indices: the list rmj_list gives. Without: every port by name. */
static void list_into(char *err, size_t errlen, const char **names, unsigned n, bool indices) {
  if (n == 0) {
    rmc_errbuf_append(err, errlen, "; there are no ports");
    return;
  }
  rmc_errbuf_append(err, errlen, "; ports:");
  for (unsigned i = 0; i < n; i++) {
    if (indices) rmc_errbuf_append(err, errlen, "%s %u \"%s\"", i ? "," : "", i, names[i]);
    else rmc_errbuf_append(err, errlen, "%s \"%s\"", i ? "," : "", names[i]);
  }
}

/* The full name of the port cfg asks for, malloc'd; NULL with err filled.
 * By index: the list rmj_list gives (others' ports). By name: every port,
 * ours too (a process may connect its ports to each other), exact or a
 * unique part. Messages as rmc_midi_find_port's for RtMidi. */
static char *find(bool input, const rtpmidi_midi_port_config *cfg, int *code, char *err, size_t errlen) {
  const char *kind = input ? "input" : "output";
  unsigned n;
  const char **others = port_names(client, input, true, &n);
  char *found_name = NULL;
  *code = UV_ENOENT;
  if (!cfg->port) {
    if ((unsigned)cfg->index < n) {
      found_name = strdup(others[cfg->index]);
    } else {
      rmc_errbuf_set(err, errlen, "jack: no MIDI %s port %d", kind, cfg->index);
      list_into(err, errlen, others, n, true);
    }
    if (others) jack_free(others);
    if (found_name) *code = 0;
    return found_name;
  }
  unsigned all_n;
  const char **all = port_names(client, input, false, &all_n);
  int exact = -1, found = -1, matches = 0;
  for (unsigned i = 0; i < all_n; i++) {
    if (strcmp(all[i], cfg->port) == 0) exact = (int)i;
    if (strstr(all[i], cfg->port)) {
      matches++;
      found = (int)i;
    }
  }
  int pick = exact >= 0 ? exact : matches == 1 ? found : -1;
  if (pick >= 0) {
    found_name = strdup(all[pick]);
    *code = 0;
  } else {
    if (matches == 0)
      rmc_errbuf_set(err, errlen, "jack: no MIDI %s port matches '%s'", kind, cfg->port);
    else
      rmc_errbuf_set(err, errlen, "jack: '%s' matches %d MIDI %s ports", cfg->port, matches, kind);
    list_into(err, errlen, all, all_n, false);
  }
  if (all) jack_free(all);
  if (others) jack_free(others);
  return found_name;
}

/* ---- ports ---- */

static void take_slot(rmj_port *p) {
  for (int i = 0; i < MAX_PORTS; i++) {
    if (atomic_load(&slots[i]) == NULL) {
      p->slot = i;
      atomic_store(&slots[i], p);
      return;
    }
  }
}

/* Empties p's slot and waits until no process cycle can still be using p.
 * A cycle under way always ends (the callback never blocks), so the waits
 * are long (5 s: a thread preempted on a loaded machine); false if one gave
 * up all the same, and then p must not be freed. */
static bool leave_slot(rmj_port *p) {
  if (p->slot < 0) return true;
  atomic_store(&slots[p->slot], NULL);
  p->slot = -1;
  /* The shutdown callback may have read the slot too: it only sets flags. */
  int k = 0;
  for (; k < 50000 && atomic_load(&in_shutdown); k++) {
    struct timespec ts = {0, 100000};
    nanosleep(&ts, NULL);
  }
  if (k == 50000) return false;
  if (!atomic_load(&in_cycle)) return true;
  /* A cycle under way may have read the slot before it emptied: wait for it
   * to end. */
  uint64_t seen = atomic_load(&cycles);
  for (k = 0; k < 50000 && atomic_load(&in_cycle) && atomic_load(&cycles) == seen; k++) {
    struct timespec ts = {0, 100000};
    nanosleep(&ts, NULL);
  }
  return k < 50000;
}

static void free_port(rmj_port *p) {
  if (!p) return;
  if (p->ring) jack_ringbuffer_free(p->ring);
  free(p->sysex_buf);
  free(p);
}

/* jack_connect returns once the server has recorded the connection in
 * the graph's next state; the process cycles use it from the start of a
 * cycle that follows one that ended in time (jackd2's JackEngine::ProcessNext
 * switches states; after a late cycle, ProcessCurrent keeps the old one, so
 * on a loaded machine the switch can wait several cycles). A message written
 * before the switch is drained in a cycle of the old graph, where nobody
 * reads this port, and is lost; an input misses what its source played then.
 * So open returns once the connection shows in the graph the cycles use:
 * jack_port_connected_to reads that state (JackGraphManager::IsConnected,
 * ReadCurrentState). Usually it does at once; at most a second is waited. */
static void settle(rmj_port *p, const char *target) {
  for (int k = 0; k < 10000 && !atomic_load(&down) && !jack_port_connected_to(p->port, target); k++) {
    struct timespec ts = {0, 100000};
    nanosleep(&ts, NULL);
  }
}

int rmj_open(const rmj_open_args *a, rmj_port **out, char **port_name, char *err, size_t errlen) {
  const rtpmidi_midi_port_config *cfg = a->cfg;
  const char *kind = a->input ? "input" : "output";
  *out = NULL;
  *port_name = NULL;
  rmj_port *p = calloc(1, sizeof *p);
  if (!p) return UV_ENOMEM;
  p->input = a->input;
  p->deliver = a->deliver;
  p->down = a->down;
  p->ud = a->ud;
  p->sysex = a->sysex;
  p->clock = a->clock;
  p->active_sensing = a->active_sensing;
  p->drop = a->drop;
  p->slot = -1;
  if (a->input && a->sysex) {
    p->sysex_buf = malloc(SYSEX_MAX);
    if (!p->sysex_buf) {
      free(p);
      return UV_ENOMEM;
    }
  }
  if (!a->input) {
    p->ring = jack_ringbuffer_create(a->out_ring_bytes ? a->out_ring_bytes : DEFAULT_OUT_RING);
    if (!p->ring) {
      free_port(p);
      return UV_ENOMEM;
    }
  }
  lock_calls();
  int r = ensure_client(cfg->client_name, err, errlen);
  if (r) {
    if (cfg->virtual_name && err && errlen) {
      char why[RTPMIDI_ERROR_MAX];
      snprintf(why, sizeof why, "%s", strncmp(err, "jack: ", 6) == 0 ? err + 6 : err);
      rmc_errbuf_set(err, errlen, "jack: cannot open the virtual MIDI %s port '%s': %s", kind, cfg->virtual_name, why);
    }
    goto fail;
  }
  char *target = NULL;
  if (!cfg->virtual_name) {
    target = find(a->input, cfg, &r, err, errlen);
    if (!target) goto fail;
  }
  const char *own = cfg->virtual_name ? cfg->virtual_name
                  : cfg->port_name    ? cfg->port_name
                  : a->input          ? "in" : "out";
  unsigned long flags = a->input ? JackPortIsInput : JackPortIsOutput;
  p->port = jack_port_register(client, own, JACK_DEFAULT_MIDI_TYPE, flags, 0);
  /* A name given is kept or refused; the default "in" / "out" of a port
   * connecting somewhere becomes "in-2", "in-3", ... when taken (with one
   * client per process, ports share its name space). */
  char alt[64];
  for (int k = 2; !p->port && !cfg->virtual_name && !cfg->port_name && k < 1000; k++) {
    snprintf(alt, sizeof alt, "%.40s-%d", own, k);
    p->port = jack_port_register(client, alt, JACK_DEFAULT_MIDI_TYPE, flags, 0);
    if (p->port) own = alt;
  }
  if (!p->port) {
    rmc_errbuf_set(err, errlen, "jack: cannot open the MIDI %s port '%s' (is the name taken in client '%s'?)",
        kind, own, jack_get_client_name(client));
    free(target);
    r = UV_EIO;
    goto fail;
  }
  nports++;
  take_slot(p);
  if (p->slot < 0) {
    rmc_errbuf_set(err, errlen, "jack: too many MIDI ports in one process (%d)", MAX_PORTS);
    r = UV_ENOBUFS;
    goto fail_port;
  }
  if (target) {
    const char *ours = jack_port_name(p->port);
    int c = a->input ? jack_connect(client, target, ours) : jack_connect(client, ours, target);
    if (c != 0 && c != EEXIST) {
      rmc_errbuf_set(err, errlen, "jack: cannot connect to MIDI %s port \"%s\"", kind, target);
      free(target);
      r = UV_EIO;
      goto fail_port;
    }
    *port_name = target;
    settle(p, target);
  } else {
    *port_name = strdup(own);
  }
  unlock_calls();
  *out = p;
  return 0;

fail_port: {
  bool quiet = leave_slot(p);
  jack_port_unregister(client, p->port);
  nports--;
  if (!quiet) p = NULL; /* a cycle may still hold it: kept, not freed */
}
fail:
  release_client();
  unlock_calls();
  free_port(p);
  return r;
}

/* Waits (bounded) until n more process cycles have ended. */
static void wait_cycles(uint64_t n) {
  uint64_t until = atomic_load(&cycles) + n;
  for (int k = 0; k < 2000 && !atomic_load(&down) && atomic_load(&cycles) < until; k++) {
    struct timespec ts = {0, 100000};
    nanosleep(&ts, NULL);
  }
}

void rmj_close(rmj_port *p) {
  if (!p) return;
  lock_calls();
  if (!p->input) {
    /* An output's buffer keeps its last events while the port is
     * registered but out of the table, and an input of ours connected to
     * it would read them again: a full cycle clears it first. */
    atomic_store(&p->closing, true);
    wait_cycles(2);
  }
  bool quiet = leave_slot(p);
  if (client && !atomic_load(&down)) jack_port_unregister(client, p->port);
  nports--;
  release_client();
  unlock_calls();
  if (quiet) free_port(p); /* else a cycle may still hold it: kept, not freed */
}

int rmj_write(rmj_port *p, const uint8_t *msg, size_t len) {
  if (len == 0) return UV_EINVAL; /* an empty event would block the port's queue */
  if (atomic_load(&down)) return UV_EIO;
  uint32_t n = (uint32_t)len;
  if (len > UINT32_MAX || jack_ringbuffer_write_space(p->ring) < sizeof n + len) return UV_ENOBUFS;
  /* Length and bytes are copied into the free space first and published by
   * one advance: the process thread never sees a length without its bytes. */
  jack_ringbuffer_data_t vec[2];
  jack_ringbuffer_get_write_vector(p->ring, vec);
  const uint8_t *parts[2] = {(const uint8_t *)&n, msg};
  size_t sizes[2] = {sizeof n, len};
  size_t v = 0, off = 0;
  for (int k = 0; k < 2; k++) {
    size_t done = 0;
    while (done < sizes[k]) {
      size_t room = vec[v].len - off;
      if (room == 0) {
        v++;
        off = 0;
        continue;
      }
      size_t step = sizes[k] - done < room ? sizes[k] - done : room;
      memcpy(vec[v].buf + off, parts[k] + done, step);
      off += step;
      done += step;
    }
  }
  atomic_thread_fence(memory_order_release); /* the bytes before the advance */
  jack_ringbuffer_write_advance(p->ring, sizeof n + len);
  return 0;
}

uint64_t rmj_dropped(const rmj_port *p) {
  return atomic_load_explicit(&((rmj_port *)p)->dropped, memory_order_relaxed);
}

void rmj_drain(rmj_port *p, int timeout_ms) {
  for (int k = 0; k < timeout_ms * 10; k++) {
    if (atomic_load(&down) || jack_ringbuffer_read_space(p->ring) == 0) return;
    struct timespec ts = {0, 100000};
    nanosleep(&ts, NULL);
  }
}
