/* Discovery of AppleMIDI sessions through Avahi (mDNS/DNS-SD), when it was
 * found at build time (RTPMIDI_HAVE_AVAHI): a started session advertises
 * itself as _apple-midi._udp on its control port and browses for the others.
 *
 * Avahi runs in a thread of its own (avahi's threaded poll); what browsing
 * finds is kept in a list under a mutex that the loop's thread reads
 * (rtpmidi_apple_discovered). Nothing from that thread touches the session
 * or the host. Without avahi-daemon, one log line says so and the session
 * works without discovery. */
#include "applemidi_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FOUND 64

#ifdef RTPMIDI_HAVE_AVAHI
#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-client/publish.h>
#include <avahi-common/error.h>
#include <avahi-common/thread-watch.h>

#define SERVICE_TYPE "_apple-midi._udp"

typedef struct ap_discovery {
  AvahiThreadedPoll *poll;
  AvahiClient *client;
  AvahiEntryGroup *group;
  AvahiServiceBrowser *browser;
  char name[RTPMIDI_APPLE_NAME_MAX + 1];
  int port;
  uv_mutex_t lock;
  rtpmidi_apple_service found[MAX_FOUND];
  size_t nfound;
} ap_discovery;

static void on_group(AvahiEntryGroup *g, AvahiEntryGroupState state, void *ud) {
  (void)g;
  (void)ud;
  if (state == AVAHI_ENTRY_GROUP_COLLISION || state == AVAHI_ENTRY_GROUP_FAILURE)
    fprintf(stderr, "rtpmidi: mDNS: cannot advertise the AppleMIDI session (name in use or failure)\n");
}

static void on_resolved(AvahiServiceResolver *r, AvahiIfIndex iface, AvahiProtocol proto,
                        AvahiResolverEvent ev, const char *name, const char *type,
                        const char *domain, const char *host, const AvahiAddress *addr,
                        uint16_t port, AvahiStringList *txt, AvahiLookupResultFlags flags,
                        void *ud) {
  (void)iface; (void)proto; (void)type; (void)domain; (void)host; (void)txt; (void)flags;
  ap_discovery *d = ud;
  if (ev == AVAHI_RESOLVER_FOUND && addr) {
    rtpmidi_apple_service s;
    memset(&s, 0, sizeof s);
    snprintf(s.name, sizeof s.name, "%s", name);
    avahi_address_snprint(s.address, sizeof s.address, addr);
    s.port = port;
    uv_mutex_lock(&d->lock);
    size_t i = 0;
    while (i < d->nfound && strcmp(d->found[i].name, s.name) != 0) i++;
    if (i < MAX_FOUND) {
      d->found[i] = s;
      if (i == d->nfound) d->nfound++;
    }
    uv_mutex_unlock(&d->lock);
  }
  avahi_service_resolver_free(r);
}

static void on_browse(AvahiServiceBrowser *b, AvahiIfIndex iface, AvahiProtocol proto,
                      AvahiBrowserEvent ev, const char *name, const char *type,
                      const char *domain, AvahiLookupResultFlags flags, void *ud) {
  (void)b; (void)flags;
  ap_discovery *d = ud;
  if (ev == AVAHI_BROWSER_NEW) {
    avahi_service_resolver_new(d->client, iface, proto, name, type, domain, AVAHI_PROTO_INET, 0,
                               on_resolved, d);
  } else if (ev == AVAHI_BROWSER_REMOVE) {
    uv_mutex_lock(&d->lock);
    for (size_t i = 0; i < d->nfound; i++) {
      if (strcmp(d->found[i].name, name) == 0) {
        d->found[i] = d->found[--d->nfound];
        break;
      }
    }
    uv_mutex_unlock(&d->lock);
  }
}

static void on_client(AvahiClient *c, AvahiClientState state, void *ud) {
  ap_discovery *d = ud;
  if (state != AVAHI_CLIENT_S_RUNNING) return;
  d->client = c; /* called from inside avahi_client_new too */
  if (!d->group) {
    d->group = avahi_entry_group_new(c, on_group, d);
    if (d->group) {
      avahi_entry_group_add_service(d->group, AVAHI_IF_UNSPEC, AVAHI_PROTO_INET, 0, d->name,
                                    SERVICE_TYPE, NULL, NULL, (uint16_t)d->port, NULL);
      avahi_entry_group_commit(d->group);
    }
  }
  if (!d->browser)
    d->browser = avahi_service_browser_new(c, AVAHI_IF_UNSPEC, AVAHI_PROTO_INET, SERVICE_TYPE,
                                           NULL, 0, on_browse, d);
}

void *rmc_ap_discovery_start(rtpmidi_apple *a) {
  static bool said;
  ap_discovery *d = calloc(1, sizeof *d);
  if (!d) return NULL;
  snprintf(d->name, sizeof d->name, "%s", a->name);
  d->port = a->port;
  d->poll = avahi_threaded_poll_new();
  if (!d->poll || uv_mutex_init(&d->lock)) {
    if (d->poll) avahi_threaded_poll_free(d->poll);
    free(d);
    return NULL;
  }
  int err = 0;
  d->client = avahi_client_new(avahi_threaded_poll_get(d->poll), 0, on_client, d, &err);
  if (!d->client) {
    if (!said) {
      said = true;
      fprintf(stderr, "rtpmidi: mDNS discovery is off: %s (is avahi-daemon running?)\n",
              avahi_strerror(err));
    }
    avahi_threaded_poll_free(d->poll);
    uv_mutex_destroy(&d->lock);
    free(d);
    return NULL;
  }
  if (avahi_threaded_poll_start(d->poll) < 0) {
    avahi_client_free(d->client);
    avahi_threaded_poll_free(d->poll);
    uv_mutex_destroy(&d->lock);
    free(d);
    return NULL;
  }
  return d;
}

void rmc_ap_discovery_stop(void *p) {
  ap_discovery *d = p;
  if (!d) return;
  avahi_threaded_poll_stop(d->poll);
  avahi_client_free(d->client); /* frees the group, browser and resolvers */
  avahi_threaded_poll_free(d->poll);
  uv_mutex_destroy(&d->lock);
  free(d);
}

bool rtpmidi_apple_discovery_available(void) { return true; }

size_t rtpmidi_apple_discovered(rtpmidi_apple *a, rtpmidi_apple_service *out, size_t n) {
  ap_discovery *d = a->discovery;
  if (!d) return 0;
  uv_mutex_lock(&d->lock);
  size_t k = d->nfound;
  for (size_t i = 0; i < k && i < n; i++) out[i] = d->found[i];
  uv_mutex_unlock(&d->lock);
  return k;
}

#else

void *rmc_ap_discovery_start(rtpmidi_apple *a) {
  (void)a;
  return NULL;
}

void rmc_ap_discovery_stop(void *d) { (void)d; }

bool rtpmidi_apple_discovery_available(void) { return false; }

size_t rtpmidi_apple_discovered(rtpmidi_apple *a, rtpmidi_apple_service *out, size_t n) {
  (void)a; (void)out; (void)n;
  return 0;
}

#endif
