/* mDNS/DNS-SD discovery through Avahi, for any session kind: advertises a
 * service (`_apple-midi._udp`, `_midi2._udp`) while a session is started and
 * browses for the others of that type. Not part of the public API.
 *
 * Avahi's client library talks to avahi-daemon over D-Bus with blocking
 * calls (avahi_client_new, entry groups, browsers and resolvers each wait
 * for the daemon's answer, up to D-Bus's 25 s timeout, and a bus that never
 * answers holds them that long every time). None of that may run on the
 * loop's thread (issue #18, finding 1), so each started discovery has a
 * thread of its own running an Avahi poll:
 *
 *   - rmc_discovery_start makes a pipe, a uv_async and the thread, and
 *     returns: nothing on the loop's thread talks to D-Bus or waits;
 *   - the thread connects to avahi-daemon, publishes, browses and
 *     resolves; each change of what it found is copied under a mutex that
 *     nothing holds across a D-Bus call and posted to the loop with
 *     uv_async_send; the loop's copy is what rmc_discovery_found reads;
 *   - rmc_discovery_stop tells the thread to end (a byte on the pipe),
 *     closes the uv_async and returns: the thread frees the client (more
 *     D-Bus calls: only it waits for them) and its memory, detached.
 *
 * Without Avahi at build time (RTPMIDI_HAVE_AVAHI) start returns NULL. */
#ifndef RMC_DISCOVERY_H
#define RMC_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "rtpmidi.h"

typedef struct rmc_discovery rmc_discovery;

#define RMC_DISCOVERY_MAX_TXT 4
#define RMC_DISCOVERY_MAX_FOUND 64

typedef struct rmc_discovery_config {
  const char *type;  /* "_apple-midi._udp", "_midi2._udp" */
  const char *name;  /* the instance name to publish (cut to 63 octets); NULL: browse only */
  int port;
  /* TXT records "key=value" to publish with it (NULL-ended, may be NULL) */
  const char *txt[RMC_DISCOVERY_MAX_TXT + 1];
} rmc_discovery_config;

/* Starts advertising and browsing on a thread of its own (above); never
 * waits for D-Bus. NULL without Avahi, or when out of memory or threads
 * (the session then runs without discovery). */
rmc_discovery *rmc_discovery_start(uv_loop_t *loop, const rmc_discovery_config *cfg);
/* Ends it and returns at once; the thread finishes on its own. NULL is fine. */
void rmc_discovery_stop(rmc_discovery *d);
/* What browsing found so far, as the loop last saw it: returns how many
 * there are, fills up to n. */
size_t rmc_discovery_found(const rmc_discovery *d, rtpmidi_service *out, size_t n);
/* Whether Avahi was compiled in. */
bool rmc_discovery_available(void);

#endif
