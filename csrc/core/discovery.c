/* mDNS/DNS-SD discovery through Avahi on a thread of its own (discovery.h).
 *
 * Two halves share `disc_shared` (reference counted, freed by whichever
 * lets go last): the loop's half (rmc_discovery: the uv_async and the copy
 * discovered() reads) and the Avahi thread. The mutex guards only the
 * shared list, the stop flag and whether the async may still be sent; no
 * one holds it across a D-Bus call, so the loop never waits behind Avahi.
 *
 * The loop's thread never touches Avahi: not even avahi_threaded_poll_lock,
 * since Avahi's own thread holds that lock while its callbacks wait on
 * D-Bus (a resolver made in a browse callback waits for the daemon's
 * answer). Our thread runs an AvahiSimplePoll and hears "stop" on a pipe. */
#include "discovery.h"
#include "runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef RTPMIDI_HAVE_AVAHI
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/simple-watch.h>
#include <avahi-common/strlst.h>

/* DNS labels (a service instance name is one) are at most 63 octets (RFC 6763, 4.1.1). */
#define LABEL_MAX 63

typedef struct disc_shared {
  uv_mutex_t lock;
  unsigned refs;                 /* the loop's half and the thread */
  bool stop;                     /* the loop let go: end the thread */
  uv_async_t *async;             /* NULL once the loop let go */
  int wake[2];                   /* the loop writes a byte to [1] after setting stop */
  rtpmidi_service found[RMC_DISCOVERY_MAX_FOUND];
  size_t nfound;
  /* the thread's own (set before it starts, then only it reads them) */
  char type[32];
  char name[LABEL_MAX + 1];
  int port;
  char *txt[RMC_DISCOVERY_MAX_TXT];
  size_t ntxt;
  AvahiSimplePoll *poll;
  AvahiClient *client;
  AvahiEntryGroup *group;
  AvahiServiceBrowser *browser;
  bool ran;                      /* the daemon is there (RUNNING seen) */
  bool said_waiting;             /* "off until avahi-daemon runs" said, or "went away" */
  bool reconnect, quit;          /* after this dispatch: a new client, or end */
} disc_shared;

struct rmc_discovery {
  uv_async_t async;              /* first: freed with the whole in its close callback */
  disc_shared *s;
  rtpmidi_service seen[RMC_DISCOVERY_MAX_FOUND];
  size_t nseen;
};

static void shared_release(disc_shared *s) {
  uv_mutex_lock(&s->lock);
  bool last = --s->refs == 0;
  uv_mutex_unlock(&s->lock);
  if (!last) return;
  close(s->wake[0]);
  close(s->wake[1]);
  for (size_t i = 0; i < s->ntxt; i++) free(s->txt[i]);
  uv_mutex_destroy(&s->lock);
  free(s);
}

/* One line per process for each kind of trouble: the session goes on without. */
static void say_once(atomic_bool *said, const char *fmt, const char *a, const char *b) {
  if (atomic_exchange(said, true)) return;
  fprintf(stderr, fmt, a, b);
}
static atomic_bool said_off, said_collision, said_gone;

/* ---- the Avahi thread ---- */

static bool stopping(disc_shared *s) {
  uv_mutex_lock(&s->lock);
  bool r = s->stop;
  uv_mutex_unlock(&s->lock);
  return r;
}

/* The loop is told the list changed (its async callback copies it). */
static void post_locked(disc_shared *s) {
  if (s->async) uv_async_send(s->async);
}

static void copy_label(char *dst, size_t cap, const char *src) {
  size_t n = strlen(src);
  if (n >= cap) {
    n = cap - 1;
    while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80) n--; /* a whole UTF-8 character */
  }
  memcpy(dst, src, n);
  dst[n] = '\0';
}

static void txt_value(AvahiStringList *txt, const char *key, char *out, size_t cap) {
  out[0] = '\0';
  AvahiStringList *e = avahi_string_list_find(txt, key);
  char *k = NULL, *v = NULL;
  if (e && avahi_string_list_get_pair(e, &k, &v, NULL) == 0 && v) copy_label(out, cap, v);
  avahi_free(k);
  avahi_free(v);
}

static bool is_v4(const char *address) { return strchr(address, ':') == NULL; }

static void on_resolved(AvahiServiceResolver *r, AvahiIfIndex iface, AvahiProtocol proto,
                        AvahiResolverEvent ev, const char *name, const char *type,
                        const char *domain, const char *host, const AvahiAddress *addr,
                        uint16_t port, AvahiStringList *txt, AvahiLookupResultFlags flags,
                        void *ud) {
  (void)proto; (void)type; (void)domain; (void)flags;
  disc_shared *s = ud;
  if (ev == AVAHI_RESOLVER_FOUND && addr && name) {
    rtpmidi_service e;
    memset(&e, 0, sizeof e);
    copy_label(e.name, sizeof e.name, name);
    copy_label(e.host, sizeof e.host, host ? host : "");
    avahi_address_snprint(e.address, sizeof e.address, addr);
    if (addr->proto == AVAHI_PROTO_INET6 && addr->data.ipv6.address[0] == 0xfe &&
        (addr->data.ipv6.address[1] & 0xc0) == 0x80) {
      /* link-local: the interface goes with it ("fe80::1%eth0") */
      char ifname[IF_NAMESIZE];
      size_t len = strlen(e.address);
      if (iface > 0 && if_indextoname((unsigned)iface, ifname) &&
          len + 1 + strlen(ifname) < sizeof e.address)
        snprintf(e.address + len, sizeof e.address - len, "%%%s", ifname);
    }
    e.port = port;
    /* Network MIDI 2.0's TXT records (names as Windows MIDI Services
     * publishes and reads them: microsoft/MIDI,
     * src/api/Transport/UdpNetworkMidi2Transport/MidiNetworkAdvertiser.cpp) */
    txt_value(txt, "UMPEndpointName", e.endpoint_name, sizeof e.endpoint_name);
    txt_value(txt, "ProductInstanceId", e.product_instance_id, sizeof e.product_instance_id);
    uv_mutex_lock(&s->lock);
    size_t i = 0;
    while (i < s->nfound && strcmp(s->found[i].name, e.name) != 0) i++;
    /* one entry per name: an IPv4 address wins (our sessions bind IPv4 by default) */
    bool keep = i < s->nfound && is_v4(s->found[i].address) && !is_v4(e.address);
    if (i < RMC_DISCOVERY_MAX_FOUND && !keep) {
      s->found[i] = e;
      if (i == s->nfound) s->nfound++;
      post_locked(s);
    }
    uv_mutex_unlock(&s->lock);
  }
  avahi_service_resolver_free(r);
}

static void on_browse(AvahiServiceBrowser *b, AvahiIfIndex iface, AvahiProtocol proto,
                      AvahiBrowserEvent ev, const char *name, const char *type,
                      const char *domain, AvahiLookupResultFlags flags, void *ud) {
  (void)b; (void)flags;
  disc_shared *s = ud;
  if (ev == AVAHI_BROWSER_NEW) {
    /* waits for the daemon: on this thread only */
    avahi_service_resolver_new(s->client, iface, proto, name, type, domain, AVAHI_PROTO_UNSPEC, 0,
                               on_resolved, s);
  } else if (ev == AVAHI_BROWSER_REMOVE) {
    uv_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->nfound; i++) {
      if (strcmp(s->found[i].name, name) == 0) {
        s->found[i] = s->found[--s->nfound];
        post_locked(s);
        break;
      }
    }
    uv_mutex_unlock(&s->lock);
  }
}

static void publish(disc_shared *s);

static void on_group(AvahiEntryGroup *g, AvahiEntryGroupState state, void *ud) {
  disc_shared *s = ud;
  if (state == AVAHI_ENTRY_GROUP_COLLISION) {
    /* another service has the name: take "name #2" (Avahi's rule), as Apple's do */
    char *alt = avahi_alternative_service_name(s->name);
    if (alt) {
      say_once(&said_collision, "rtpmidi: mDNS: the name \"%s\" is taken on the network: advertised as \"%s\"\n",
               s->name, alt);
      copy_label(s->name, sizeof s->name, alt);
      avahi_free(alt);
    }
    avahi_entry_group_reset(g);
    publish(s);
  } else if (state == AVAHI_ENTRY_GROUP_FAILURE) {
    say_once(&said_collision, "rtpmidi: mDNS: cannot advertise \"%s\": %s\n", s->name,
             avahi_strerror(avahi_client_errno(avahi_entry_group_get_client(g))));
  }
}

static void publish(disc_shared *s) {
  if (!s->name[0] || !s->client) return;
  if (!s->group) s->group = avahi_entry_group_new(s->client, on_group, s);
  if (!s->group || !avahi_entry_group_is_empty(s->group)) return;
  AvahiStringList *txt = NULL;
  for (size_t i = s->ntxt; i-- > 0;) txt = avahi_string_list_add(txt, s->txt[i]);
  int r = avahi_entry_group_add_service_strlst(s->group, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, 0, s->name,
                                               s->type, NULL, NULL, (uint16_t)s->port, txt);
  avahi_string_list_free(txt);
  if (r == AVAHI_ERR_COLLISION) {
    on_group(s->group, AVAHI_ENTRY_GROUP_COLLISION, s);
    return;
  }
  if (r == 0) avahi_entry_group_commit(s->group);
}

/* The daemon went away (or the bus): what it found is gone, and so are
 * the group and browser it held for us. */
static void forget_daemon(disc_shared *s) {
  if (s->group) avahi_entry_group_free(s->group);
  if (s->browser) avahi_service_browser_free(s->browser);
  s->group = NULL;
  s->browser = NULL;
  s->ran = false;
  uv_mutex_lock(&s->lock);
  if (s->nfound) {
    s->nfound = 0;
    post_locked(s);
  }
  uv_mutex_unlock(&s->lock);
}

static void on_client(AvahiClient *c, AvahiClientState state, void *ud) {
  disc_shared *s = ud;
  s->client = c; /* called from inside avahi_client_new too */
  switch (state) {
  case AVAHI_CLIENT_S_RUNNING:
    s->ran = true;
    publish(s);
    if (!s->browser)
      s->browser = avahi_service_browser_new(c, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, s->type, NULL, 0,
                                             on_browse, s);
    break;
  case AVAHI_CLIENT_S_COLLISION:
  case AVAHI_CLIENT_S_REGISTERING:
    /* the host's name changes: publish again once it runs */
    if (s->group) avahi_entry_group_reset(s->group);
    break;
  case AVAHI_CLIENT_FAILURE:
    /* The daemon left the bus (a restart) or the bus went away: nothing
     * comes back on this client. run() makes a new one, which waits for a
     * daemon (AVAHI_CLIENT_NO_FAIL), as Avahi's own tools do. */
    forget_daemon(s);
    if (avahi_client_errno(c) == AVAHI_ERR_DISCONNECTED) {
      say_once(&said_gone, "rtpmidi: mDNS: avahi-daemon went away; %s%s\n", "discovery resumes when it is back",
               "");
      s->reconnect = true;
      s->said_waiting = true; /* "went away" said it */
    } else {
      say_once(&said_off, "rtpmidi: mDNS discovery stopped: %s%s\n", avahi_strerror(avahi_client_errno(c)), "");
      s->quit = true;
    }
    break;
  case AVAHI_CLIENT_CONNECTING:
    /* no daemon on the bus (AVAHI_CLIENT_NO_FAIL): at start, or it went
     * away (a restart); RUNNING follows when one appears */
    if (!s->said_waiting && !s->ran) {
      s->said_waiting = true;
      say_once(&said_off, "rtpmidi: mDNS discovery is off until avahi-daemon runs: %s%s\n",
               avahi_strerror(AVAHI_ERR_NO_DAEMON), "");
    }
    forget_daemon(s);
    break;
  }
}

static void on_wake(AvahiWatch *w, int fd, AvahiWatchEvent ev, void *ud) {
  (void)w; (void)ev;
  disc_shared *s = ud;
  char buf[16];
  while (read(fd, buf, sizeof buf) > 0) {}
  if (stopping(s)) avahi_simple_poll_quit(s->poll);
}

static void *run(void *arg) {
  disc_shared *s = arg;
  s->poll = avahi_simple_poll_new();
  AvahiWatch *w = NULL;
  if (s->poll) {
    const AvahiPoll *api = avahi_simple_poll_get(s->poll);
    w = api->watch_new(api, s->wake[0], AVAHI_WATCH_IN, on_wake, s);
  }
  while (w && !stopping(s)) {
    int err = 0;
    s->reconnect = s->quit = false;
    /* D-Bus: connects and asks the daemon's state, waiting for the answers;
     * without a daemon on the bus the client waits for one (NO_FAIL) */
    AvahiClient *c = avahi_client_new(avahi_simple_poll_get(s->poll), AVAHI_CLIENT_NO_FAIL, on_client, s, &err);
    if (!c) {
      /* no system bus (NO_FAIL waits for the daemon, not for the bus) */
      say_once(&said_off, "rtpmidi: mDNS discovery is off: %s%s\n", avahi_strerror(err),
               " (is avahi-daemon running?)");
      break;
    }
    s->client = c;
    while (!stopping(s) && !s->reconnect && !s->quit && avahi_simple_poll_iterate(s->poll, -1) == 0) {}
    avahi_client_free(c); /* frees the group, browser and resolvers (disconnected first: no calls) */
    s->client = NULL;
    s->group = NULL;
    s->browser = NULL;
    if (!s->reconnect) break;
  }
  if (w) avahi_simple_poll_get(s->poll)->watch_free(w);
  if (s->poll) avahi_simple_poll_free(s->poll);
  shared_release(s);
  return NULL;
}

/* ---- the loop's half ---- */

static void on_async(uv_async_t *a) {
  rmc_discovery *d = a->data;
  disc_shared *s = d->s;
  if (!s) return;
  uv_mutex_lock(&s->lock);
  d->nseen = s->nfound;
  memcpy(d->seen, s->found, s->nfound * sizeof s->found[0]);
  uv_mutex_unlock(&s->lock);
}

static void on_async_closed(uv_handle_t *h) { free(h->data); }

rmc_discovery *rmc_discovery_start(uv_loop_t *loop, const rmc_discovery_config *cfg) {
  rmc_discovery *d = calloc(1, sizeof *d);
  disc_shared *s = calloc(1, sizeof *s);
  if (!d || !s) goto fail_mem;
  copy_label(s->type, sizeof s->type, cfg->type);
  copy_label(s->name, sizeof s->name, cfg->name ? cfg->name : "");
  s->port = cfg->port;
  for (size_t i = 0; i < RMC_DISCOVERY_MAX_TXT && cfg->txt[i]; i++) {
    s->txt[i] = strdup(cfg->txt[i]);
    if (!s->txt[i]) goto fail_txt;
    s->ntxt++;
  }
  if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) != 0) goto fail_txt;
  if (uv_mutex_init(&s->lock) != 0) goto fail_pipe;
  if (uv_async_init(loop, &d->async, on_async) != 0) goto fail_lock;
  d->async.data = d;
  d->s = s;
  s->async = &d->async;
  s->refs = 2;
  /* The thread is detached (it ends on its own, whenever D-Bus lets it)
   * and takes no signal: the host's handlers run on the loop's thread. */
  pthread_attr_t attr;
  pthread_t t;
  sigset_t all, old;
  sigfillset(&all);
  int r = pthread_attr_init(&attr);
  if (r == 0) {
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    r = pthread_create(&t, &attr, run, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
  }
  if (r != 0) {
    d->s = NULL;
    uv_close((uv_handle_t *)&d->async, on_async_closed);
    uv_mutex_destroy(&s->lock);
    close(s->wake[0]);
    close(s->wake[1]);
    for (size_t i = 0; i < s->ntxt; i++) free(s->txt[i]);
    free(s);
    return NULL;
  }
  return d;

fail_lock:
  uv_mutex_destroy(&s->lock);
fail_pipe:
  close(s->wake[0]);
  close(s->wake[1]);
fail_txt:
  for (size_t i = 0; i < s->ntxt; i++) free(s->txt[i]);
fail_mem:
  free(s);
  free(d);
  return NULL;
}

void rmc_discovery_stop(rmc_discovery *d) {
  if (!d) return;
  disc_shared *s = d->s;
  d->s = NULL;
  uv_mutex_lock(&s->lock);
  s->stop = true;
  s->async = NULL; /* the thread sends nothing more to the loop */
  ssize_t w = write(s->wake[1], "x", 1); /* nonblocking; a full pipe wakes it as well */
  (void)w;
  uv_mutex_unlock(&s->lock);
  shared_release(s);
  uv_close((uv_handle_t *)&d->async, on_async_closed);
}

size_t rmc_discovery_found(const rmc_discovery *d, rtpmidi_service *out, size_t n) {
  if (!d) return 0;
  for (size_t i = 0; i < d->nseen && i < n; i++) out[i] = d->seen[i];
  return d->nseen;
}

bool rmc_discovery_available(void) { return true; }

#else

rmc_discovery *rmc_discovery_start(uv_loop_t *loop, const rmc_discovery_config *cfg) {
  (void)loop; (void)cfg;
  return NULL;
}

void rmc_discovery_stop(rmc_discovery *d) { (void)d; }

size_t rmc_discovery_found(const rmc_discovery *d, rtpmidi_service *out, size_t n) {
  (void)d; (void)out; (void)n;
  return 0;
}

bool rmc_discovery_available(void) { return false; }

#endif

bool rtpmidi_discovery_available(void) { return rmc_discovery_available(); }

/* ---- rtpmidi_browser: browsing alone ---- */

struct rtpmidi_browser {
  rmc_member member;  /* in rt's list until freed (runtime.h) */
  rmc_discovery *d;   /* NULL once rt was freed */
  bool freed;
  char no_events;     /* what the runtime zeroes: a browser calls nobody */
};

static void browser_close(void *owner) {
  rtpmidi_browser *b = owner;
  rmc_discovery_stop(b->d);
  b->d = NULL;
}

/* "_name._udp" or "_name._tcp" (RFC 6763, 7: a service name of letters,
 * digits and hyphens, at most 15 characters). */
static bool service_type_ok(const char *t) {
  size_t n = t ? strlen(t) : 0;
  if (n < 7 || n > 21 || t[0] != '_') return false;
  if (strcmp(t + n - 5, "._udp") != 0 && strcmp(t + n - 5, "._tcp") != 0) return false;
  for (size_t i = 1; i < n - 5; i++) {
    char c = t[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

int rtpmidi_browser_new(rtpmidi_runtime *rt, const char *type, rtpmidi_browser **out) {
  *out = NULL;
  if (!rt || !service_type_ok(type)) return UV_EINVAL;
  if (!rmc_discovery_available()) return UV_ENOTSUP;
  rtpmidi_browser *b = calloc(1, sizeof *b);
  if (!b) return UV_ENOMEM;
  rmc_discovery_config cfg = {.type = type};
  b->d = rmc_discovery_start(rt->loop, &cfg);
  if (!b->d) {
    free(b);
    return UV_ENOMEM;
  }
  rmc_runtime_join(rt, &b->member, b, &b->no_events, sizeof b->no_events, &b->freed, browser_close);
  *out = b;
  return 0;
}

size_t rtpmidi_browser_found(const rtpmidi_browser *b, rtpmidi_service *out, size_t n) {
  return b ? rmc_discovery_found(b->d, out, n) : 0;
}

void rtpmidi_browser_free(rtpmidi_browser *b) {
  if (!b) return;
  b->freed = true;
  browser_close(b);
  rmc_runtime_leave(&b->member);
  free(b);
}
