/* MIDI clients and ports: API names, the default API, listing and lookup
 * of ports by index or name. Shared by MIDI input and output.
 *
 * Every API goes through RtMidi but JACK, when built with its headers: RtMidi
 * 5.0 opens a JACK client for each RtMidiIn / RtMidiOut object (in its
 * MidiInJack::connect / MidiOutJack::connect) and its C API cannot share one,
 * so a process with three ports showed three clients, "rtpmidi",
 * "rtpmidi-01", "rtpmidi-02". midi_jack.c keeps one client per process (per
 * client name) with a port for each MidiIn and MidiOut, named as given. */
#include "midi_port.h"
#include "runtime.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Names RtMidi gives its APIs (rtmidi_api_name), by enum value. */
static const char *const API_NAMES[RTMIDI_API_NUM] = {
  [RTMIDI_API_UNSPECIFIED] = "unspecified",
  [RTMIDI_API_MACOSX_CORE] = "core",
  [RTMIDI_API_LINUX_ALSA] = "alsa",
  [RTMIDI_API_UNIX_JACK] = "jack",
  [RTMIDI_API_WINDOWS_MM] = "winmm",
  [RTMIDI_API_RTMIDI_DUMMY] = "dummy",
};

static void fmt(char *err, size_t errlen, const char *f, ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, f);
  vsnprintf(err, errlen, f, ap);
  va_end(ap);
}

/* Appends to err (already holding a string), truncating. */
static void append(char *err, size_t errlen, const char *f, ...) {
  if (!err || !errlen) return;
  size_t used = strlen(err);
  if (used + 1 >= errlen) return;
  va_list ap;
  va_start(ap, f);
  vsnprintf(err + used, errlen - used, f, ap);
  va_end(ap);
}

static unsigned port_count(rmc_dev *dev);

bool rtpmidi_midi_available(void) { return true; }

const char *rmc_midi_api_name(enum RtMidiApi api) {
  if ((int)api < 0 || api >= RTMIDI_API_NUM) return "?";
  return API_NAMES[api];
}

static int compiled(enum RtMidiApi *apis, int n) {
  int got = rtmidi_get_compiled_api(apis, (unsigned)n);
  return got < 0 ? 0 : (got > n ? n : got);
}

int rtpmidi_midi_apis(const char **names, int n) {
  enum RtMidiApi apis[RTMIDI_API_NUM];
  int got = compiled(apis, RTMIDI_API_NUM), k = 0;
  for (int i = 0; i < got; i++) {
    if (apis[i] == RTMIDI_API_RTMIDI_DUMMY) continue;
    if (names && k < n) names[k] = rmc_midi_api_name(apis[i]);
    k++;
  }
  return k;
}

int rmc_midi_api(const char *name, enum RtMidiApi *api, char *err, size_t errlen) {
  *api = RTMIDI_API_UNSPECIFIED;
  if (!name) return 0;
  int found = -1;
  for (int i = 1; i < RTMIDI_API_NUM; i++)
    if (strcmp(name, API_NAMES[i]) == 0) found = i;
  if (found < 0 || found == RTMIDI_API_RTMIDI_DUMMY) {
    fmt(err, errlen, "unknown MIDI API '%s' (\"alsa\", \"jack\", \"core\" or \"winmm\" expected)", name);
    return UV_EINVAL;
  }
  enum RtMidiApi apis[RTMIDI_API_NUM];
  int got = compiled(apis, RTMIDI_API_NUM);
  for (int i = 0; i < got; i++) {
    if ((int)apis[i] == found) {
      *api = apis[i];
      return 0;
    }
  }
  fmt(err, errlen, "%s: this MIDI API is not compiled into RtMidi", name);
  return UV_ENOTSUP;
}

#ifdef RTPMIDI_HAVE_JACK
#define OURS_JACK(api) ((api) == RTMIDI_API_UNIX_JACK)
#else
#define OURS_JACK(api) false
#endif

static rmc_dev *create_one(bool input, enum RtMidiApi api, const char *client) {
  rmc_dev *dev = calloc(1, sizeof *dev);
  if (!dev) return NULL;
  dev->input = input;
  dev->api = api;
  if (OURS_JACK(api)) {
#ifdef RTPMIDI_HAVE_JACK
    /* No server: a client that lists no ports and opens none, as RtMidi's. */
    dev->jack = rmj_client_get(client);
#endif
    return dev;
  }
  dev->rt = input ? rtmidi_in_create(api, client, 100) : rtmidi_out_create(api, client);
  if (!dev->rt || !dev->rt->ok) {
    rmc_midi_free(dev);
    return NULL;
  }
  return dev;
}

void rmc_midi_free(rmc_dev *dev) {
  if (!dev) return;
#ifdef RTPMIDI_HAVE_JACK
  rmj_port_close(dev->port);
  rmj_client_put(dev->jack);
#endif
  if (dev->rt_open) {
    rtmidi_close_port(dev->rt);
    if (!dev->input && dev->api == RTMIDI_API_UNIX_JACK) {
      /* RtMidi 5.0's JACK output frees its ring buffer before it closes its
       * client, while JACK's process thread may still be reading it (a crash
       * seen in the specs). Closing the port first makes that thread stop
       * touching the buffer; give a callback already under way time to end. */
      struct timespec pause = {0, 5 * 1000 * 1000};
      nanosleep(&pause, NULL);
    }
  }
  if (dev->rt) {
    if (dev->input) rtmidi_in_free(dev->rt);
    else rtmidi_out_free(dev->rt);
  }
  free(dev);
}

void rmc_midi_set_input(rmc_dev *dev, RtMidiCCallback fn, void *ud, bool sysex, bool clock,
                        bool active_sensing) {
  dev->fn = fn;
  dev->ud = ud;
  dev->filter = (rmj_input_filter){!sysex, !clock, !active_sensing};
  if (dev->rt) {
    rtmidi_in_set_callback(dev->rt, fn, ud);
    rtmidi_in_ignore_types(dev->rt, !sysex, !clock, !active_sensing);
  }
}

int rmc_midi_send(rmc_dev *dev, const uint8_t *msg, size_t len) {
#ifdef RTPMIDI_HAVE_JACK
  if (!dev->rt) return dev->port ? rmj_send(dev->port, msg, len) : UV_EBADF;
#endif
  dev->rt->ok = true;
  int r = rtmidi_out_send_message(dev->rt, msg, (int)len);
  return r != 0 || !dev->rt->ok ? UV_EIO : 0;
}

rmc_dev *rmc_midi_create(bool input, enum RtMidiApi api, const char *client, char *err, size_t errlen) {
  if (!client) client = "rtpmidi";
  if (api != RTMIDI_API_UNSPECIFIED) {
    rmc_dev *dev = create_one(input, api, client);
    if (!dev) {
      if (api == RTMIDI_API_LINUX_ALSA)
        fmt(err, errlen, "alsa: cannot open the ALSA sequencer (is /dev/snd/seq there?)");
      else
        fmt(err, errlen, "%s: cannot create a MIDI %s client", rmc_midi_api_name(api),
            input ? "input" : "output");
      return NULL;
    }
    return dev;
  }
  /* RtMidi's own choice gives up when its first API fails (ALSA with no
   * sequencer), so choose here: the first API with ports, else the first
   * that can be created at all. */
  enum RtMidiApi apis[RTMIDI_API_NUM];
  int got = compiled(apis, RTMIDI_API_NUM);
  rmc_dev *fallback = NULL;
  for (int i = 0; i < got; i++) {
    if (apis[i] == RTMIDI_API_RTMIDI_DUMMY) continue;
    rmc_dev *dev = create_one(input, apis[i], client);
    if (!dev) continue;
    if (port_count(dev) > 0) {
      rmc_midi_free(fallback);
      return dev;
    }
    if (!fallback) fallback = dev;
    else rmc_midi_free(dev);
  }
  if (!fallback)
    fmt(err, errlen, "no MIDI API can be used (none of the compiled ones could create a client)");
  return fallback;
}

#ifdef RTPMIDI_HAVE_JACK
static char *jack_port_at(rmc_dev *dev, unsigned i, unsigned *count) {
  const char **names = rmj_ports(dev->jack, dev->input);
  unsigned n = 0;
  while (names && names[n]) n++;
  char *name = NULL;
  if (i < n) {
    size_t len = strlen(names[i]) + 1;
    name = malloc(len);
    if (name) memcpy(name, names[i], len);
  }
  rmj_free_names(names);
  if (count) *count = n;
  return name;
}
#endif

char *rmc_midi_port_name(rmc_dev *dev, unsigned i) {
#ifdef RTPMIDI_HAVE_JACK
  if (!dev->rt) return jack_port_at(dev, i, NULL);
#endif
  int len = 0;
  dev->rt->ok = true;
  rtmidi_get_port_name(dev->rt, i, NULL, &len);
  if (!dev->rt->ok || len <= 1) return NULL;
  char *name = calloc(1, (size_t)len + 1);
  if (!name) return NULL;
  int cap = len + 1;
  rtmidi_get_port_name(dev->rt, i, name, &cap);
  if (!dev->rt->ok) {
    free(name);
    return NULL;
  }
  name[len] = '\0';
  return name;
}

static unsigned port_count(rmc_dev *dev) {
#ifdef RTPMIDI_HAVE_JACK
  if (!dev->rt) {
    unsigned n = 0;
    free(jack_port_at(dev, UINT32_MAX, &n));
    return n;
  }
#endif
  dev->rt->ok = true;
  unsigned n = rtmidi_get_port_count(dev->rt);
  if (!dev->rt->ok || n > 100000) return 0;
  return n;
}

int rmc_midi_list(rmc_dev *dev, rtpmidi_midi_port_fn fn, void *ud) {
  unsigned n = port_count(dev);
  int k = 0;
  for (unsigned i = 0; i < n; i++) {
    char *name = rmc_midi_port_name(dev, i);
    if (!name) continue;
    if (fn) fn(ud, (int)i, name);
    free(name);
    k++;
  }
  return k;
}

static int list_ports(bool input, const char *api_name, rtpmidi_midi_port_fn fn, void *ud,
                      char *err, size_t errlen) {
  enum RtMidiApi api;
  int r = rmc_midi_api(api_name, &api, err, errlen);
  if (r) return r;
  rmc_dev *dev = rmc_midi_create(input, api, "rtpmidi", err, errlen);
  if (!dev) return UV_EIO;
  int n = rmc_midi_list(dev, fn, ud);
  rmc_midi_free(dev);
  return n;
}

static int ports(bool input, const char *api, rtpmidi_midi_port_fn fn, void *ud, rtpmidi_error *err) {
  char msg[RTPMIDI_ERROR_MAX] = "";
  int r = list_ports(input, api, fn, ud, msg, sizeof msg);
  if (r < 0) rmc_error(err, r, r == UV_EINVAL ? "api" : NULL, "%s", msg);
  return r;
}

int rtpmidi_midi_in_ports(const char *api, rtpmidi_midi_port_fn fn, void *ud, rtpmidi_error *err) {
  return ports(true, api, fn, ud, err);
}

int rtpmidi_midi_out_ports(const char *api, rtpmidi_midi_port_fn fn, void *ud, rtpmidi_error *err) {
  return ports(false, api, fn, ud, err);
}

int rmc_midi_check_config(const rtpmidi_midi_port_config *cfg, const char **bad, char *err,
                          size_t errlen) {
  /* A zeroed configuration is the first port (index 0); with a virtual
   * name, index 0 is that zero, not a choice. */
  bool by_port = cfg->port != NULL || (cfg->virtual_name ? cfg->index > 0 : cfg->index >= 0);
  if (cfg->virtual_name && by_port) {
    *bad = "virtual";
    fmt(err, errlen, "give either port or virtual, not both");
    return UV_EINVAL;
  }
  if (!cfg->virtual_name && !by_port) {
    *bad = "port";
    fmt(err, errlen, "a port name or index expected (or virtual=name)");
    return UV_EINVAL;
  }
  if (cfg->virtual_name && !cfg->virtual_name[0]) {
    *bad = "virtual";
    fmt(err, errlen, "a non-empty port name expected");
    return UV_EINVAL;
  }
  if (cfg->port && !cfg->port[0]) {
    *bad = "port";
    fmt(err, errlen, "a non-empty port name expected");
    return UV_EINVAL;
  }
  return 0;
}

static void list_into(char *err, size_t errlen, rmc_dev *dev, unsigned n) {
  if (n == 0) {
    append(err, errlen, "; there are no ports");
    return;
  }
  append(err, errlen, "; ports:");
  for (unsigned i = 0; i < n; i++) {
    char *name = rmc_midi_port_name(dev, i);
    append(err, errlen, "%s %u \"%s\"", i ? "," : "", i, name ? name : "?");
    free(name);
  }
}

int rmc_midi_find_port(rmc_dev *dev, const rtpmidi_midi_port_config *cfg, char *err, size_t errlen) {
  enum RtMidiApi api = dev->api;
  const char *kind = dev->input ? "input" : "output";
  const char *an = rmc_midi_api_name(api);
  unsigned n = port_count(dev);
  if (!cfg->port) {
    if ((unsigned)cfg->index < n) return cfg->index;
    fmt(err, errlen, "%s: no MIDI %s port %d", an, kind, cfg->index);
    if (n == 0 && api == RTMIDI_API_UNIX_JACK) append(err, errlen, " (is a JACK server running?)");
    list_into(err, errlen, dev, n);
    return UV_ENOENT;
  }
  int exact = -1, found = -1, matches = 0;
  for (unsigned i = 0; i < n; i++) {
    char *name = rmc_midi_port_name(dev, i);
    if (!name) continue;
    if (strcmp(name, cfg->port) == 0) exact = (int)i;
    if (strstr(name, cfg->port)) {
      matches++;
      found = (int)i;
    }
    free(name);
  }
  if (exact >= 0) return exact;
  if (matches == 1) return found;
  if (matches == 0)
    fmt(err, errlen, "%s: no MIDI %s port matches '%s'", an, kind, cfg->port);
  else
    fmt(err, errlen, "%s: '%s' matches %d MIDI %s ports", an, cfg->port, matches, kind);
  if (n == 0 && api == RTMIDI_API_UNIX_JACK) append(err, errlen, " (is a JACK server running?)");
  list_into(err, errlen, dev, n);
  return UV_ENOENT;
}

int rmc_midi_open(rmc_dev *dev, const rtpmidi_midi_port_config *cfg, char **port_name, char *err,
                  size_t errlen) {
  enum RtMidiApi api = dev->api;
  bool input = dev->input;
  const char *an = rmc_midi_api_name(api);
  const char *kind = input ? "input" : "output";
  const char *server = api == RTMIDI_API_UNIX_JACK ? " (is a JACK server running?)" : "";
  *port_name = NULL;
  if (cfg->virtual_name) {
    bool ok;
#ifdef RTPMIDI_HAVE_JACK
    int code = UV_EIO;
    if (!dev->rt) {
      dev->port = rmj_port_open(dev->jack, input, cfg->virtual_name, NULL, dev->fn, dev->ud, dev->filter, &code);
      ok = dev->port != NULL;
      if (!ok && code == UV_ENOSPC) server = " (too many ports in this process)";
    } else
#endif
    {
      dev->rt->ok = true;
      rtmidi_open_virtual_port(dev->rt, cfg->virtual_name);
      ok = dev->rt_open = dev->rt->ok;
    }
    if (!ok) {
      fmt(err, errlen, "%s: cannot open the virtual MIDI %s port '%s'%s", an, kind,
          cfg->virtual_name, server);
      return UV_EIO;
    }
    size_t len = strlen(cfg->virtual_name) + 1;
    *port_name = malloc(len);
    if (*port_name) memcpy(*port_name, cfg->virtual_name, len);
    return 0;
  }
  int index = rmc_midi_find_port(dev, cfg, err, errlen);
  if (index < 0) return index;
  *port_name = rmc_midi_port_name(dev, (unsigned)index);
  const char *own = cfg->port_name ? cfg->port_name : (input ? "in" : "out");
  bool ok;
#ifdef RTPMIDI_HAVE_JACK
  if (!dev->rt) {
    int code = UV_EIO;
    dev->port = *port_name ? rmj_port_open(dev->jack, input, own, *port_name, dev->fn, dev->ud, dev->filter, &code)
                           : NULL;
    ok = dev->port != NULL;
    if (!ok && code == UV_ENOSPC) server = " (too many ports in this process)";
  } else
#endif
  {
    dev->rt->ok = true;
    rtmidi_open_port(dev->rt, (unsigned)index, own);
    ok = dev->rt_open = dev->rt->ok;
  }
  if (!ok) {
    fmt(err, errlen, "%s: cannot open MIDI %s port %d \"%s\"%s", an, kind, index,
        *port_name ? *port_name : "?", server);
    free(*port_name);
    *port_name = NULL;
    return UV_EIO;
  }
  return 0;
}

void rtpmidi_midi_set_jack_server(const char *name) {
  if (name && name[0]) setenv("JACK_DEFAULT_SERVER", name, 1);
  else unsetenv("JACK_DEFAULT_SERVER");
}
