/* MIDI ports through JACK, one client per process (midi_jack.h).
 *
 * A client holds up to MAX_PORTS ports in slots that JACK's process thread
 * reads without a lock: a port is published into its slot once it is ready,
 * and on close its slot is emptied and the closing thread waits until the
 * process callback that may still hold it has returned (the cycle counter
 * is odd while a callback runs) before the port is unregistered and freed.
 * An input hands each message to its fn on JACK's thread (midi_in.c copies
 * it into its ring); an output is fed through a jack_ringbuffer (one writer,
 * JACK's thread the reader) and written into the port's buffer each cycle,
 * at its start, in order; what does not fit a cycle waits for the next. */
#include "midi_jack.h"

#include <errno.h>
#include <jack/jack.h>
#include <jack/midiport.h>
#include <jack/ringbuffer.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#define MAX_PORTS 64
#define OUT_RING (64u * 1024u)    /* an output's queue toward JACK, in bytes */
#define SYSEX_MAX (64u * 1024u)   /* a SysEx split over JACK events is put back together up to this */

struct rmj_port {
  rmj_client *c;
  jack_port_t *port;
  bool input;
  int slot;
  rmj_message_fn fn;
  void *ud;
  rmj_input_filter filter;
  /* input, JACK's thread only: a SysEx arriving in pieces */
  uint8_t *sysex;
  size_t sysex_len;
  bool in_sysex, sysex_overflow;
  /* output */
  jack_ringbuffer_t *ring;
};

struct rmj_client {
  jack_client_t *jc;
  char *name, *server;           /* as asked, to find it again */
  int refs;                      /* under lock */
  atomic_bool dead;              /* the server shut us down */
  atomic_uint cycle;             /* odd while the process callback runs */
  _Atomic(rmj_port *) slots[MAX_PORTS];  /* what the callback serves */
  bool used[MAX_PORTS];          /* slots taken, under lock (a port is in its slot once ready) */
  rmj_client *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static rmj_client *clients;

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

/* ---- JACK's thread ---- */

/* RtMidi's filters (rtmidi_in_ignore_types): SysEx; MIDI time code quarter
 * frames and clock; active sensing. */
static bool filtered(const rmj_port *p, uint8_t status) {
  if (status == 0xF0) return p->filter.sysex;
  if (status == 0xF1 || status == 0xF8) return p->filter.clock;
  if (status == 0xFE) return p->filter.active_sensing;
  return false;
}

static void deliver_sysex_piece(rmj_port *p, const uint8_t *b, size_t len) {
  if (!p->sysex_overflow) {
    if (p->sysex_len + len > SYSEX_MAX) {
      p->sysex_overflow = true;   /* dropped whole: a piece of a SysEx is not a message */
    } else {
      memcpy(p->sysex + p->sysex_len, b, len);
      p->sysex_len += len;
    }
  }
  p->in_sysex = b[len - 1] != 0xF7;
  if (!p->in_sysex) {
    if (!p->sysex_overflow && !p->filter.sysex) p->fn(0, p->sysex, p->sysex_len, p->ud);
    p->sysex_len = 0;
    p->sysex_overflow = false;
  }
}

static void read_input(rmj_port *p, jack_nframes_t n) {
  void *buf = jack_port_get_buffer(p->port, n);
  if (!buf) return;
  uint32_t count = jack_midi_get_event_count(buf);
  for (uint32_t i = 0; i < count; i++) {
    jack_midi_event_t ev;
    if (jack_midi_event_get(&ev, buf, i) != 0 || ev.size == 0) continue;
    const uint8_t *b = ev.buffer;
    if (b[0] == 0xF0 || (p->in_sysex && b[0] < 0x80)) {
      /* A SysEx, or the rest of one: JACK may carry a long one in pieces
       * (RtMidi puts them together too). Real-time bytes in between are
       * messages of their own. */
      if (b[0] == 0xF0) {
        p->sysex_len = 0;
        p->sysex_overflow = false;
      }
      deliver_sysex_piece(p, b, ev.size);
      continue;
    }
    if (b[0] < 0xF8) p->in_sysex = false;   /* a status byte ends a SysEx left open */
    if (filtered(p, b[0])) continue;
    p->fn(0, b, ev.size, p->ud);
  }
}

static void write_output(rmj_port *p, jack_nframes_t n) {
  void *buf = jack_port_get_buffer(p->port, n);
  if (!buf) return;
  jack_midi_clear_buffer(buf);
  for (;;) {
    size_t avail = jack_ringbuffer_read_space(p->ring);
    uint32_t len;
    if (avail < sizeof len) break;
    jack_ringbuffer_peek(p->ring, (char *)&len, sizeof len);
    if (avail < sizeof len + len) break;   /* the writer is between the length and the bytes */
    jack_midi_data_t *dst = jack_midi_event_reserve(buf, 0, len);
    if (!dst) break;                        /* this cycle's buffer is full: the next one */
    jack_ringbuffer_read_advance(p->ring, sizeof len);
    jack_ringbuffer_read(p->ring, (char *)dst, len);
  }
}

static int process(jack_nframes_t n, void *arg) {
  rmj_client *c = arg;
  atomic_fetch_add(&c->cycle, 1);
  for (int i = 0; i < MAX_PORTS; i++) {
    rmj_port *p = atomic_load(&c->slots[i]);
    if (!p) continue;
    if (p->input) read_input(p, n);
    else write_output(p, n);
  }
  atomic_fetch_add(&c->cycle, 1);
  return 0;
}

static void on_shutdown(void *arg) {
  rmj_client *c = arg;
  atomic_store(&c->dead, true);
}

/* ---- the client ---- */

rmj_client *rmj_client_get(const char *name) {
  const char *server = getenv("JACK_DEFAULT_SERVER");
  if (!server) server = "";
  pthread_mutex_lock(&lock);
  for (rmj_client *c = clients; c; c = c->next) {
    if (!atomic_load(&c->dead) && strcmp(c->name, name) == 0 && strcmp(c->server, server) == 0) {
      c->refs++;
      pthread_mutex_unlock(&lock);
      return c;
    }
  }
  rmj_client *c = calloc(1, sizeof *c);
  if (!c || !(c->name = dup_str(name)) || !(c->server = dup_str(server))) goto fail;
  /* Not JackUseExactName: a name another process holds gets JACK's suffix. */
  /* A server that is there but slow to answer (a loaded machine, the close
   * of our previous client still under way) is asked again; one that is not
   * there (JackServerFailed) is not. */
  jack_status_t status = 0;
  for (int attempt = 0; attempt < 3 && !c->jc; attempt++) {
    if (attempt) {
      struct timespec pause = {0, 20 * 1000 * 1000};
      nanosleep(&pause, NULL);
    }
    c->jc = jack_client_open(name, JackNoStartServer, &status);
    if (status & JackServerFailed) break;
  }
  if (!c->jc) goto fail;
  if (jack_set_process_callback(c->jc, process, c) != 0) goto fail;
  jack_on_shutdown(c->jc, on_shutdown, c);
  if (jack_activate(c->jc) != 0) goto fail;
  c->refs = 1;
  c->next = clients;
  clients = c;
  pthread_mutex_unlock(&lock);
  return c;
fail:
  pthread_mutex_unlock(&lock);
  if (c) {
    if (c->jc) jack_client_close(c->jc);
    free(c->name);
    free(c->server);
    free(c);
  }
  return NULL;
}

void rmj_client_put(rmj_client *c) {
  if (!c) return;
  pthread_mutex_lock(&lock);
  if (--c->refs > 0) {
    pthread_mutex_unlock(&lock);
    return;
  }
  for (rmj_client **pp = &clients; *pp; pp = &(*pp)->next) {
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  }
  pthread_mutex_unlock(&lock);
  jack_client_close(c->jc);   /* deactivates first: no callback after this */
  free(c->name);
  free(c->server);
  free(c);
}

const char **rmj_ports(rmj_client *c, bool input) {
  if (!c || atomic_load(&c->dead)) return NULL;
  return jack_get_ports(c->jc, NULL, JACK_DEFAULT_MIDI_TYPE, input ? JackPortIsOutput : JackPortIsInput);
}

void rmj_free_names(const char **names) {
  if (names) jack_free((void *)names);
}

/* ---- ports ---- */

/* Until a process callback that may have read the slot before it was
 * emptied has returned (half a second at most: a server that died in the
 * middle of one never ends it). */
static void wait_cycle(rmj_client *c) {
  unsigned v = atomic_load(&c->cycle);
  if (!(v & 1u)) return;
  for (int i = 0; i < 5000 && atomic_load(&c->cycle) == v && !atomic_load(&c->dead); i++) {
    struct timespec pause = {0, 100 * 1000};
    nanosleep(&pause, NULL);
  }
}

static jack_port_t *register_unique(rmj_client *c, const char *own, bool input) {
  unsigned long flags = input ? JackPortIsInput : JackPortIsOutput;
  jack_port_t *port = jack_port_register(c->jc, own, JACK_DEFAULT_MIDI_TYPE, flags, 0);
  char name[256];
  for (int k = 2; !port && k < 100; k++) {
    snprintf(name, sizeof name, "%s-%d", own, k);
    char full[512];
    snprintf(full, sizeof full, "%s:%s", jack_get_client_name(c->jc), name);
    if (jack_port_by_name(c->jc, full)) continue;   /* taken: the next number */
    port = jack_port_register(c->jc, name, JACK_DEFAULT_MIDI_TYPE, flags, 0);
    if (!port) break;                               /* refused for another reason */
  }
  return port;
}

static void release_slot(rmj_port *p) {
  pthread_mutex_lock(&lock);
  p->c->used[p->slot] = false;
  pthread_mutex_unlock(&lock);
}

static void free_port(rmj_port *p) {
  if (p->ring) jack_ringbuffer_free(p->ring);
  free(p->sysex);
  free(p);
}

rmj_port *rmj_port_open(rmj_client *c, bool input, const char *own, const char *target, rmj_message_fn fn,
                        void *ud, rmj_input_filter filter, int *code) {
  *code = UV_EIO;
  if (!c || atomic_load(&c->dead)) return NULL;
  rmj_port *p = calloc(1, sizeof *p);
  if (!p) {
    *code = UV_ENOMEM;
    return NULL;
  }
  p->c = c;
  p->input = input;
  p->fn = fn;
  p->ud = ud;
  p->filter = filter;
  p->slot = -1;
  if (input) p->sysex = malloc(SYSEX_MAX);
  else p->ring = jack_ringbuffer_create(OUT_RING);
  if (input ? !p->sysex : !p->ring) {
    free_port(p);
    *code = UV_ENOMEM;
    return NULL;
  }
  pthread_mutex_lock(&lock);
  for (int i = 0; i < MAX_PORTS && p->slot < 0; i++) {
    if (!c->used[i]) {
      p->slot = i;
      c->used[i] = true;
    }
  }
  pthread_mutex_unlock(&lock);
  if (p->slot < 0) {
    free_port(p);
    *code = UV_ENOSPC;
    return NULL;
  }
  p->port = register_unique(c, own, input);
  if (!p->port) {
    release_slot(p);
    free_port(p);
    return NULL;
  }
  if (target) {
    const char *ours = jack_port_name(p->port);
    int r = input ? jack_connect(c->jc, target, ours) : jack_connect(c->jc, ours, target);
    if (r != 0 && r != EEXIST) {
      jack_port_unregister(c->jc, p->port);
      release_slot(p);
      free_port(p);
      return NULL;
    }
  }
  atomic_store(&c->slots[p->slot], p);
  *code = 0;
  return p;
}

int rmj_send(rmj_port *p, const uint8_t *msg, size_t len) {
  if (atomic_load(&p->c->dead)) return UV_EPIPE;
  uint32_t n = (uint32_t)len;
  if (len > OUT_RING || jack_ringbuffer_write_space(p->ring) < sizeof n + len) return UV_ENOBUFS;
  jack_ringbuffer_write(p->ring, (const char *)&n, sizeof n);
  jack_ringbuffer_write(p->ring, (const char *)msg, len);
  return 0;
}

/* An output's last messages (the notes off of a close) leave before its port
 * goes: until JACK has taken them all and one more cycle has ended, so that
 * the ports reading ours have had them (a quarter second at most). */
static void drain(rmj_port *p) {
  rmj_client *c = p->c;
  unsigned start = 0;
  bool drained = false;
  for (int i = 0; i < 2500 && !atomic_load(&c->dead); i++) {
    if (!drained && jack_ringbuffer_read_space(p->ring) == 0) {
      drained = true;
      start = atomic_load(&c->cycle);
    }
    if (drained && atomic_load(&c->cycle) >= start + 3) return;
    struct timespec pause = {0, 100 * 1000};
    nanosleep(&pause, NULL);
  }
}

void rmj_port_close(rmj_port *p) {
  if (!p) return;
  rmj_client *c = p->c;
  if (!p->input) drain(p);
  atomic_store(&c->slots[p->slot], NULL);
  wait_cycle(c);
  jack_port_unregister(c->jc, p->port);
  release_slot(p);
  free_port(p);
}
