/* RtMidi clients and ports: API names, the default API, listing and lookup
 * of ports by index or name. Shared by MIDI input and output. */
#include "midi_port.h"
#include "errbuf.h"
#include "runtime.h"
#ifdef RTPMIDI_HAVE_JACK
#include "midi_jack.h"
#endif

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Names RtMidi gives its APIs (rtmidi_api_name), by enum value. */
static const char *const API_NAMES[RTMIDI_API_NUM] = {
  [RTMIDI_API_UNSPECIFIED] = "unspecified",
  [RTMIDI_API_MACOSX_CORE] = "core",
  [RTMIDI_API_LINUX_ALSA] = "alsa",
  [RTMIDI_API_UNIX_JACK] = "jack",
  [RTMIDI_API_WINDOWS_MM] = "winmm",
  [RTMIDI_API_RTMIDI_DUMMY] = "dummy",
};


bool rtpmidi_midi_available(void) { return true; }

bool rtpmidi_midi_jack_one_client(void) { return rmc_midi_own_jack(RTMIDI_API_UNIX_JACK); }

const char *rmc_midi_api_name(enum RtMidiApi api) {
  if ((int)api < 0 || api >= RTMIDI_API_NUM) return "?";
  return API_NAMES[api];
}

bool rmc_midi_own_jack(enum RtMidiApi api) {
#ifdef RTPMIDI_HAVE_JACK
  return api == RTMIDI_API_UNIX_JACK;
#else
  (void)api;
  return false;
#endif
}

/* The APIs we can use: RtMidi's, and JACK through our own backend when
 * libjack was found even if RtMidi was built without it. */
static int compiled(enum RtMidiApi *apis, int n) {
  int got = rtmidi_get_compiled_api(apis, (unsigned)n);
  got = got < 0 ? 0 : (got > n ? n : got);
#ifdef RTPMIDI_HAVE_JACK
  bool has = false;
  for (int i = 0; i < got; i++) has = has || apis[i] == RTMIDI_API_UNIX_JACK;
  if (!has && got < n) apis[got++] = RTMIDI_API_UNIX_JACK;
#endif
  return got;
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
    rmc_errbuf_set(err, errlen, "unknown MIDI API '%s' (\"alsa\", \"jack\", \"core\" or \"winmm\" expected)", name);
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
  rmc_errbuf_set(err, errlen, "%s: this MIDI API is not compiled into RtMidi", name);
  return UV_ENOTSUP;
}

static RtMidiPtr create_one(bool input, enum RtMidiApi api, const char *client) {
  RtMidiPtr dev = input ? rtmidi_in_create(api, client, 100) : rtmidi_out_create(api, client);
  if (dev && !dev->ok) {
    rmc_midi_free(input, dev);
    return NULL;
  }
  return dev;
}

void rmc_midi_free(bool input, RtMidiPtr dev) {
  if (!dev) return;
  if (input) rtmidi_in_free(dev);
  else rtmidi_out_free(dev);
}

/* Whether api has ports in this direction (a JACK server that answers counts
 * as usable: *usable). RtMidi's clients are made and freed for the question;
 * JACK is asked through our backend, whose single client is the process's. */
static RtMidiPtr probe(bool input, enum RtMidiApi api, const char *client, bool *usable, bool *has_ports) {
  *usable = *has_ports = false;
  if (rmc_midi_own_jack(api)) {
#ifdef RTPMIDI_HAVE_JACK
    int n = rmj_list(input, NULL, NULL, NULL, 0);
    *usable = n >= 0;
    *has_ports = n > 0;
#endif
    return NULL;
  }
  RtMidiPtr dev = create_one(input, api, client);
  if (!dev) return NULL;
  dev->ok = true;
  *usable = true;
  *has_ports = rtmidi_get_port_count(dev) > 0 && dev->ok;
  return dev;
}

/* RtMidi 5.0 opens one JACK client (and one ALSA sequencer client) per
 * RtMidiIn / RtMidiOut object, in its MidiInJack::connect /
 * MidiOutJack::connect, and its C API cannot share one. So JACK goes
 * through our own backend (midi_jack.c: one client per process, one port
 * per MidiIn / MidiOut) whenever libjack was found at build time, whether
 * "jack" is asked for or the default choice lands on it; RtMidi keeps ALSA
 * and the rest (and JACK when built without libjack). */
int rmc_midi_choose(bool input, enum RtMidiApi api, const char *client, enum RtMidiApi *used,
                    RtMidiPtr *dev, char *err, size_t errlen) {
  if (!client) client = "rtpmidi";
  *dev = NULL;
  if (api != RTMIDI_API_UNSPECIFIED) {
    *used = api;
    if (rmc_midi_own_jack(api)) return 0;
    *dev = create_one(input, api, client);
    if (!*dev) {
      if (api == RTMIDI_API_LINUX_ALSA)
        rmc_errbuf_set(err, errlen, "alsa: cannot open the ALSA sequencer (is /dev/snd/seq there?)");
      else
        rmc_errbuf_set(err, errlen, "%s: cannot create a MIDI %s client", rmc_midi_api_name(api),
            input ? "input" : "output");
      return UV_EIO;
    }
    return 0;
  }
  /* RtMidi's own choice gives up when its first API fails (ALSA with no
   * sequencer), so choose here: the first API with ports, else the first
   * that can be used at all. */
  enum RtMidiApi apis[RTMIDI_API_NUM];
  int got = compiled(apis, RTMIDI_API_NUM);
  RtMidiPtr fallback = NULL;
  enum RtMidiApi fallback_api = RTMIDI_API_UNSPECIFIED;
  bool have_fallback = false;
  for (int i = 0; i < got; i++) {
    if (apis[i] == RTMIDI_API_RTMIDI_DUMMY) continue;
    bool usable, has_ports;
    RtMidiPtr d = probe(input, apis[i], client, &usable, &has_ports);
    if (!usable) continue;
    if (has_ports) {
      rmc_midi_free(input, fallback);
      *used = apis[i];
      *dev = d;
      return 0;
    }
    if (!have_fallback) {
      have_fallback = true;
      fallback = d;
      fallback_api = apis[i];
    } else {
      rmc_midi_free(input, d);
    }
  }
  if (!have_fallback) {
    rmc_errbuf_set(err, errlen, "no MIDI API can be used (none of the compiled ones could create a client)");
    return UV_EIO;
  }
  *used = fallback_api;
  *dev = fallback;
  return 0;
}

char *rmc_midi_port_name(RtMidiPtr dev, unsigned i) {
  int len = 0;
  dev->ok = true;
  rtmidi_get_port_name(dev, i, NULL, &len);
  if (!dev->ok || len <= 1) return NULL;
  char *name = calloc(1, (size_t)len + 1);
  if (!name) return NULL;
  int cap = len + 1;
  rtmidi_get_port_name(dev, i, name, &cap);
  if (!dev->ok) {
    free(name);
    return NULL;
  }
  name[len] = '\0';
  return name;
}

static unsigned port_count(RtMidiPtr dev) {
  dev->ok = true;
  unsigned n = rtmidi_get_port_count(dev);
  if (!dev->ok || n > 100000) return 0;
  return n;
}

int rmc_midi_list(RtMidiPtr dev, rtpmidi_midi_port_fn fn, void *ud) {
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
  enum RtMidiApi api, used;
  int r = rmc_midi_api(api_name, &api, err, errlen);
  if (r) return r;
  RtMidiPtr dev;
  r = rmc_midi_choose(input, api, "rtpmidi", &used, &dev, err, errlen);
  if (r) return r;
#ifdef RTPMIDI_HAVE_JACK
  if (rmc_midi_own_jack(used)) return rmj_list(input, fn, ud, err, errlen);
#endif
  int n = rmc_midi_list(dev, fn, ud);
  rmc_midi_free(input, dev);
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
    rmc_errbuf_set(err, errlen, "give either port or virtual, not both");
    return UV_EINVAL;
  }
  if (!cfg->virtual_name && !by_port) {
    *bad = "port";
    rmc_errbuf_set(err, errlen, "a port name or index expected (or virtual=name)");
    return UV_EINVAL;
  }
  if (cfg->virtual_name && !cfg->virtual_name[0]) {
    *bad = "virtual";
    rmc_errbuf_set(err, errlen, "a non-empty port name expected");
    return UV_EINVAL;
  }
  if (cfg->port && !cfg->port[0]) {
    *bad = "port";
    rmc_errbuf_set(err, errlen, "a non-empty port name expected");
    return UV_EINVAL;
  }
  return 0;
}

static void list_into(char *err, size_t errlen, RtMidiPtr dev, unsigned n) {
  if (n == 0) {
    rmc_errbuf_append(err, errlen, "; there are no ports");
    return;
  }
  rmc_errbuf_append(err, errlen, "; ports:");
  for (unsigned i = 0; i < n; i++) {
    char *name = rmc_midi_port_name(dev, i);
    rmc_errbuf_append(err, errlen, "%s %u \"%s\"", i ? "," : "", i, name ? name : "?");
    free(name);
  }
}

int rmc_midi_find_port(bool input, RtMidiPtr dev, enum RtMidiApi api,
                       const rtpmidi_midi_port_config *cfg, char *err, size_t errlen) {
  const char *kind = input ? "input" : "output";
  const char *an = rmc_midi_api_name(api);
  unsigned n = port_count(dev);
  if (!cfg->port) {
    if ((unsigned)cfg->index < n) return cfg->index;
    rmc_errbuf_set(err, errlen, "%s: no MIDI %s port %d", an, kind, cfg->index);
    if (n == 0 && api == RTMIDI_API_UNIX_JACK) rmc_errbuf_append(err, errlen, " (is a JACK server running?)");
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
    rmc_errbuf_set(err, errlen, "%s: no MIDI %s port matches '%s'", an, kind, cfg->port);
  else
    rmc_errbuf_set(err, errlen, "%s: '%s' matches %d MIDI %s ports", an, cfg->port, matches, kind);
  if (n == 0 && api == RTMIDI_API_UNIX_JACK) rmc_errbuf_append(err, errlen, " (is a JACK server running?)");
  list_into(err, errlen, dev, n);
  return UV_ENOENT;
}

int rmc_midi_open(bool input, RtMidiPtr dev, enum RtMidiApi api, const rtpmidi_midi_port_config *cfg,
                  char **port_name, char *err, size_t errlen) {
  const char *an = rmc_midi_api_name(api);
  const char *kind = input ? "input" : "output";
  const char *server = api == RTMIDI_API_UNIX_JACK ? " (is a JACK server running?)" : "";
  *port_name = NULL;
  if (cfg->virtual_name) {
    dev->ok = true;
    rtmidi_open_virtual_port(dev, cfg->virtual_name);
    if (!dev->ok) {
      rmc_errbuf_set(err, errlen, "%s: cannot open the virtual MIDI %s port '%s'%s", an, kind,
          cfg->virtual_name, server);
      return UV_EIO;
    }
    size_t len = strlen(cfg->virtual_name) + 1;
    *port_name = malloc(len);
    if (*port_name) memcpy(*port_name, cfg->virtual_name, len);
    return 0;
  }
  int index = rmc_midi_find_port(input, dev, api, cfg, err, errlen);
  if (index < 0) return index;
  *port_name = rmc_midi_port_name(dev, (unsigned)index);
  const char *own = cfg->port_name ? cfg->port_name : (input ? "in" : "out");
  dev->ok = true;
  rtmidi_open_port(dev, (unsigned)index, own);
  if (!dev->ok) {
    rmc_errbuf_set(err, errlen, "%s: cannot open MIDI %s port %d \"%s\"%s", an, kind, index,
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
