/* mDNS/DNS-SD discovery through Avahi, for any session kind: advertises a
 * service (`_apple-midi._udp`, `_midi2._udp`) while a session is started and
 * browses for the others of that type. Not part of the public API.
 *
 * Avahi's client library talks to avahi-daemon over D-Bus with blocking
 * calls (avahi_client_new, entry groups, browsers and resolvers each wait
 * for the daemon's answer, up to D-Bus's 25 s timeout, and a bus that never
 * answers holds them that long every time). None of that may run on the
 * loop's thread (issue #18, finding 1), nor may each session cost a thread,
 * a D-Bus connection and a copy of every result (issue #20): the process
 * has ONE Avahi thread and one AvahiClient (one more per 768 published
 * sessions, avahi-daemon's limit per client: discovery.c), shared by all
 * sessions, browsers, loops and Lua states, made by the first start and
 * ended after the last stop:
 *
 *   - rmc_discovery_start queues "publish" (when a name is given) for the
 *     thread, joins the readers of its service type and returns: nothing on
 *     the loop's thread talks to D-Bus or waits (a mutex guards only the
 *     queue and the results, and nothing holds it across a D-Bus call);
 *   - the thread keeps one entry group per published session and one
 *     browser per service type, and posts each change of a type's results
 *     to its readers' loops (one uv_async each); the loop's copy, sized to
 *     what was found, is what rmc_discovery_found reads;
 *   - rmc_discovery_stop queues "unpublish", closes the uv_async and
 *     returns; the thread withdraws the service and, after the last stop,
 *     frees the client (more D-Bus calls: only it waits for them) and ends.
 *
 * After fork() without exec the child has no thread: its next start makes
 * its own (discovery.c: fork_child; off in a child forked while the
 * parent's thread was inside libdbus, which is not fork-safe).
 *
 * Without Avahi at build time (RTPMIDI_HAVE_AVAHI) start returns NULL. */
#ifndef RMC_DISCOVERY_H
#define RMC_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "rtpmidi.h"

typedef struct rmc_discovery rmc_discovery;

#define RMC_DISCOVERY_MAX_TXT 4

typedef struct rmc_discovery_config {
  const char *type;  /* "_apple-midi._udp", "_midi2._udp" */
  const char *name;  /* the instance name to publish (cut to 63 octets); NULL: browse only */
  int port;
  /* TXT records "key=value" to publish with it (NULL-ended, may be NULL) */
  const char *txt[RMC_DISCOVERY_MAX_TXT + 1];
} rmc_discovery_config;

/* Starts advertising and browsing on the process's Avahi thread (above); never
 * waits for D-Bus. NULL without Avahi, or when out of memory or threads
 * (the session then runs without discovery). */
rmc_discovery *rmc_discovery_start(uv_loop_t *loop, const rmc_discovery_config *cfg);
/* Ends it and returns at once; the thread withdraws it on its own. NULL is fine. */
void rmc_discovery_stop(rmc_discovery *d);
/* What browsing found so far, as the loop last saw it: returns how many
 * there are, fills up to n. */
size_t rmc_discovery_found(const rmc_discovery *d, rtpmidi_service *out, size_t n);
/* Whether Avahi was compiled in. */
bool rmc_discovery_available(void);
/* Whether no Avahi thread of the process is busy (each waits in poll(), or
 * there is none): a child forked now may use discovery (discovery.c,
 * fork_child; for tests). */
bool rmc_discovery_quiet(void);

/* ---- What browsing found for one service type ----
 * The Avahi thread's bookkeeping for a type, kept apart from Avahi so that
 * it is tested on its own (csrc/test/test_discovery_list.c): the browser's
 * events go in (NEW: admit, REMOVE: remove, a resolver's answer: resolved
 * or unresolved), the rows users see come out. No locking here: discovery.c
 * calls these under its lock and makes no Avahi call in them. */

/* Results and resolutions in flight, per type: a network publishing more is
 * not kept whole. */
#define RMC_DISC_MAX 256

/* A browse result as Avahi names it. */
typedef struct rmc_disc_key {
  int iface, proto;  /* AvahiIfIndex, AvahiProtocol it was browsed on */
  char name[RTPMIDI_APPLE_NAME_MAX + 1];
  char domain[256];
} rmc_disc_key;

typedef struct rmc_disc_entry {
  rmc_disc_key key;
  rtpmidi_service svc;
} rmc_disc_entry;

/* A result being resolved: its resolver (an AvahiServiceResolver). */
typedef struct rmc_disc_pending {
  rmc_disc_key key;
  void *resolver;
} rmc_disc_pending;

typedef struct rmc_disc_list {
  rmc_disc_entry *found;
  size_t nfound, capfound;
  rmc_disc_pending *pending;  /* at most RMC_DISC_MAX - nfound */
  size_t npending, cappending;
} rmc_disc_list;

/* NEW k: where to put the resolver made for it (valid until the next call),
 * or NULL: none to make (one runs for k already, or the list is full:
 * results and resolvers in flight count alike, so a host announcing
 * thousands of services costs at most RMC_DISC_MAX of the client's
 * objects). */
void **rmc_disc_list_admit(rmc_disc_list *l, const rmc_disc_key *k);
/* REMOVE k: returns k's resolver still in flight, for the caller to free
 * (NULL: none); *changed: the rows changed. */
void *rmc_disc_list_remove(rmc_disc_list *l, const rmc_disc_key *k, bool *changed);
/* resolver r found s, for the key it was admitted with: whether the rows
 * changed. An answer from a resolver not in flight (its result was removed
 * meanwhile) adds nothing. Kept per key: a result seen on two interfaces,
 * or over IPv4 and IPv6, is two entries, and a REMOVE takes only its own. */
bool rmc_disc_list_resolved(rmc_disc_list *l, void *r, const rtpmidi_service *s);
/* resolver r failed, or was never made: it is gone. */
void rmc_disc_list_unresolved(rmc_disc_list *l, void *r);
/* Forgets what was found: whether the rows changed. */
bool rmc_disc_list_clear_found(rmc_disc_list *l);
/* Takes one resolver still in flight off the list (for the caller to
 * free), NULL when none is left. */
void *rmc_disc_list_pop_pending(rmc_disc_list *l);
/* The rows users see: one per name and address, only the IPv4 ones while a
 * name has one (for a single interface: one row per name). Returns how
 * many there are, fills up to n. */
size_t rmc_disc_list_rows(const rmc_disc_list *l, rtpmidi_service *out, size_t n);
/* Frees what it holds (after clear_found and every pending popped). */
void rmc_disc_list_free(rmc_disc_list *l);


/* ---- When to try again ----
 * What failed on the Avahi thread is tried again after a wait: a type's
 * browser that failed (AVAHI_BROWSER_FAILURE, or the daemon refused to make
 * one), a client the bus or the daemon refused. The first wait is
 * RMC_DISC_RETRY_FIRST_MS, each failure after that doubles it up to
 * RMC_DISC_RETRY_MAX_MS; once it works (rmc_disc_retry_ok) the next failure
 * waits the first again. Times in ms on a monotonic clock; zeroed: try now.
 * Tested in csrc/test/test_discovery_list.c. */
#define RMC_DISC_RETRY_FIRST_MS 1000
#define RMC_DISC_RETRY_MAX_MS 60000

typedef struct rmc_disc_retry {
  uint64_t at;     /* not before */
  uint32_t delay;  /* the last wait; 0: none failed since it worked */
} rmc_disc_retry;

void rmc_disc_retry_failed(rmc_disc_retry *r, uint64_t now);
void rmc_disc_retry_ok(rmc_disc_retry *r);
/* How long until it may be tried (0: now). */
uint64_t rmc_disc_retry_wait(const rmc_disc_retry *r, uint64_t now);

#endif
