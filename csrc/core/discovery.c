/* mDNS/DNS-SD discovery through Avahi on one thread for the whole process
 * (discovery.h).
 *
 * Shared by every session, browser, uv loop and Lua state of the process:
 *
 *   - G (below) holds, under G.lock, the count of started discoveries, a
 *     queue of publish/unpublish commands and the service types: one entry
 *     per type ever browsed, with the list of who reads it and what the
 *     thread found for it. Nothing holds G.lock across a D-Bus call, so the
 *     loop's thread never waits behind Avahi (issue #18, finding 1).
 *   - The first start makes the thread (an `engine`: its pipe, its
 *     AvahiSimplePoll, one AvahiClient, one more per GROUPS_PER_CONN
 *     published sessions: the daemon's limit); every start and stop queues its
 *     commands and writes a byte on the pipe. The thread connects to
 *     avahi-daemon, keeps one entry group per published session and one
 *     service browser per type somebody browses, and posts each change of
 *     a type's results to its readers with uv_async_send (one uv_async per
 *     started discovery, on that discovery's loop).
 *   - What fails is tried again after a wait (rmc_disc_retry: 1 s doubling
 *     to 60 s): a type's browser (AVAHI_BROWSER_FAILURE, or the daemon
 *     would not make it), a client the bus or the daemon refused. When the
 *     daemon leaves the bus (a restart) the client fails: browsers, their
 *     resolvers and what they found go; a new client waits for the daemon
 *     (NO_FAIL) and the browsers are made again once it runs. A host-name
 *     collision (S_COLLISION, S_REGISTERING) leaves browsers as they are:
 *     only the entry groups are reset.
 *   - When the last discovery stops and the queue is empty, the thread
 *     leaves G (the next start makes a new one) and frees its client on its
 *     own: the loop never waits for that. A start that comes while the thread
 *     is still busy (a bus that does not answer) keeps that thread.
 *
 * The loop's thread never touches Avahi: not even avahi_threaded_poll_lock,
 * since Avahi's own thread holds that lock while its callbacks wait on
 * D-Bus (a resolver made in a browse callback waits for the daemon's
 * answer). The code stays loaded for as long as the thread may run: the
 * Lua module is linked -z nodelete (CMakeLists.txt). */
#include "discovery.h"
#include "runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* ---- what browsing found for one type (discovery.h) ---- */

static bool is_v4(const char *address) { return strchr(address, ':') == NULL; }

static bool key_eq(const rmc_disc_key *a, const rmc_disc_key *b) {
  return a->iface == b->iface && a->proto == b->proto && strcmp(a->name, b->name) == 0 &&
         strcmp(a->domain, b->domain) == 0;
}

/* Grows *v (of *cap elements of size) to hold one more than n, up to RMC_DISC_MAX. */
static bool grow(void **v, size_t *cap, size_t n, size_t size) {
  if (n < *cap) return true;
  if (*cap >= RMC_DISC_MAX) return false;
  size_t c = *cap ? *cap * 2 : 4;
  if (c > RMC_DISC_MAX) c = RMC_DISC_MAX;
  void *p = realloc(*v, c * size);
  if (!p) return false;
  *v = p;
  *cap = c;
  return true;
}

static size_t found_index(const rmc_disc_list *l, const rmc_disc_key *k) {
  size_t i = 0;
  while (i < l->nfound && !key_eq(&l->found[i].key, k)) i++;
  return i;
}

static void pending_drop(rmc_disc_list *l, size_t i) { l->pending[i] = l->pending[--l->npending]; }

void **rmc_disc_list_admit(rmc_disc_list *l, const rmc_disc_key *k) {
  for (size_t i = 0; i < l->npending; i++)
    if (key_eq(&l->pending[i].key, k)) return NULL; /* its resolver answers */
  /* A full list takes no new result: no resolver for it either, so that a
   * host announcing thousands of services (hostile LAN) does not spend
   * the client's objects (avahi-daemon allows 1,024) that our own
   * publications need, nor a D-Bus round trip each. */
  if (l->nfound + l->npending >= RMC_DISC_MAX) return NULL;
  if (!grow((void **)&l->pending, &l->cappending, l->npending, sizeof *l->pending)) return NULL;
  rmc_disc_pending *p = &l->pending[l->npending++];
  p->key = *k;
  p->resolver = NULL;
  return &p->resolver;
}

void *rmc_disc_list_remove(rmc_disc_list *l, const rmc_disc_key *k, bool *changed) {
  *changed = false;
  void *r = NULL;
  for (size_t i = 0; i < l->npending; i++) {
    if (key_eq(&l->pending[i].key, k)) {
      r = l->pending[i].resolver;
      pending_drop(l, i);
      break;
    }
  }
  size_t i = found_index(l, k);
  if (i < l->nfound) {
    l->found[i] = l->found[--l->nfound];
    *changed = true;
  }
  return r;
}

bool rmc_disc_list_resolved(rmc_disc_list *l, void *r, const rtpmidi_service *s) {
  size_t p = 0;
  while (p < l->npending && (!r || l->pending[p].resolver != r)) p++;
  if (p == l->npending) return false; /* not in flight: it went away meanwhile */
  rmc_disc_key pk = l->pending[p].key; /* what its REMOVE will name */
  pending_drop(l, p);
  /* one entry per interface and protocol it was browsed on (a REMOVE
   * names those): rmc_disc_list_rows makes the rows of them */
  size_t i = found_index(l, &pk);
  if (i == l->nfound && !grow((void **)&l->found, &l->capfound, l->nfound, sizeof *l->found)) return false;
  l->found[i].key = pk;
  l->found[i].svc = *s;
  if (i == l->nfound) l->nfound++;
  return true;
}

void rmc_disc_list_unresolved(rmc_disc_list *l, void *r) {
  for (size_t i = 0; i < l->npending; i++) {
    if (l->pending[i].resolver == r) {
      pending_drop(l, i);
      return;
    }
  }
}

bool rmc_disc_list_clear_found(rmc_disc_list *l) {
  bool changed = l->nfound > 0;
  l->nfound = 0;
  return changed;
}

void *rmc_disc_list_pop_pending(rmc_disc_list *l) {
  while (l->npending) {
    void *r = l->pending[--l->npending].resolver;
    if (r) return r;
  }
  return NULL;
}

/* Whether found[i] makes a row: one per name and address (a service seen
 * on two interfaces, or over IPv4 and IPv6, may resolve to one address),
 * and while a name has an IPv4 address only its IPv4 ones (our sessions
 * bind IPv4 by default; a single interface shows one row, as Avahi's
 * answers for it were shown before they were kept apart). */
static bool is_row(const rmc_disc_list *l, size_t i) {
  const rtpmidi_service *s = &l->found[i].svc;
  bool v4 = is_v4(s->address);
  for (size_t j = 0; j < l->nfound; j++) {
    const rtpmidi_service *o = &l->found[j].svc;
    if (j == i || strcmp(o->name, s->name) != 0) continue;
    if (!v4 && is_v4(o->address)) return false;
    if (j < i && strcmp(o->address, s->address) == 0) return false;
  }
  return true;
}

size_t rmc_disc_list_rows(const rmc_disc_list *l, rtpmidi_service *out, size_t n) {
  size_t rows = 0;
  for (size_t i = 0; i < l->nfound; i++) {
    if (!is_row(l, i)) continue;
    if (rows < n) out[rows] = l->found[i].svc;
    rows++;
  }
  return rows;
}

void rmc_disc_retry_failed(rmc_disc_retry *r, uint64_t now) {
  uint32_t d = r->delay ? r->delay * 2 : RMC_DISC_RETRY_FIRST_MS;
  r->delay = d > RMC_DISC_RETRY_MAX_MS ? RMC_DISC_RETRY_MAX_MS : d;
  r->at = now + r->delay;
}

void rmc_disc_retry_ok(rmc_disc_retry *r) { r->at = r->delay = 0; }

uint64_t rmc_disc_retry_wait(const rmc_disc_retry *r, uint64_t now) { return r->at > now ? r->at - now : 0; }

void rmc_disc_list_free(rmc_disc_list *l) {
  free(l->found);
  free(l->pending);
  memset(l, 0, sizeof *l);
}

#ifdef RTPMIDI_HAVE_AVAHI
#include <stdatomic.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/simple-watch.h>
#include <avahi-common/strlst.h>

/* A name cut to cap - 1 octets, never inside a UTF-8 character. */
static void copy_label(char *dst, size_t cap, const char *src) {
  size_t n = strlen(src);
  if (n >= cap) {
    n = cap - 1;
    while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80) n--; /* a whole UTF-8 character */
  }
  memcpy(dst, src, n);
  dst[n] = '\0';
}

/* DNS labels (a service instance name is one) are at most 63 octets (RFC 6763, 4.1.1). */
#define LABEL_MAX 63
/* A connection to avahi-daemon holds at most objects-per-client-max entry
 * groups, browsers and resolvers (1024 unless configured otherwise:
 * avahi-daemon.conf(5), "Too many objects for client" in its log); past
 * GROUPS_PER_CONN published sessions the thread opens another (at most
 * MAX_CONNS). The first also holds the browsers and their resolvers. */
#define GROUPS_PER_CONN 768
#define MAX_CONNS 16

typedef struct disc_pub disc_pub;
typedef struct engine engine;

typedef struct conn {
  engine *e;
  AvahiClient *c;
  unsigned groups;        /* publications given to it */
  bool running;           /* the client is in AVAHI_CLIENT_S_RUNNING */
  bool reconnect, quit;   /* after this dispatch: a new client, or none */
} conn;

/* A command from the loop to the thread; each publication carries its two. */
typedef struct disc_cmd {
  struct disc_cmd *next;  /* in G.cmds */
  disc_pub *pub;
  bool publish;           /* else withdraw it and free it */
} disc_cmd;

/* One published session: made by the loop at start, then the thread's
 * (it frees it on the "off" command). */
struct disc_pub {
  disc_cmd on, off;
  disc_pub *next;          /* the thread's: in e->pubs */
  conn *conn;              /* the thread's: the client it is published with */
  AvahiEntryGroup *group;  /* the thread's */
  char type[32];
  char name[LABEL_MAX + 1];
  int port;
  char *txt[RMC_DISCOVERY_MAX_TXT];
  size_t ntxt;
  unsigned epoch;          /* G.epoch when started: else the thread it was for is a parent's */
};

/* What a type's browsing found, as the loops read it: made on demand from
 * the thread's list after each change, sized to it and shared by every
 * reader that took it (a reference each); freed by whoever lets go last. */
typedef struct disc_snap {
  atomic_uint refs;
  size_t n;
  rtpmidi_service v[];
} disc_snap;

/* A service type browsed in this process: never freed (a few per process),
 * so a resolver or a queued look never finds it gone. */
typedef struct disc_type {
  struct disc_type *next;         /* G.types, appended under G.lock */
  char type[32];
  rmc_discovery *readers;         /* under G.lock */
  rmc_disc_list list;              /* under G.lock: what browsing found */
  disc_snap *snap;                /* under G.lock: `found` as readers take it; NULL: not made yet */
  AvahiServiceBrowser *browser;   /* the thread's */
  bool browser_failed;            /* the thread's: AVAHI_BROWSER_FAILURE came */
  rmc_disc_retry retry;           /* the thread's: when to make the browser again */
} disc_type;

struct rmc_discovery {
  uv_async_t async;               /* first: freed with the whole in its close callback */
  disc_type *t;
  disc_pub *pub;                  /* NULL: browse only */
  rmc_discovery *prev, *next;     /* in t->readers, under G.lock */
  disc_snap *seen;                /* what found() reads (a reference); NULL: none found */
};

/* The thread's own, one per thread. */
struct engine {
  int wake[2];            /* the loop writes a byte on [1] (under G.lock) */
  AvahiSimplePoll *poll;
  AvahiWatch *watch;
  conn conns[MAX_CONNS];  /* [0]: browsers too */
  size_t nconns;
  disc_pub *pubs;         /* published (or waiting for the daemon) */
  unsigned starts_seen;   /* G.starts when it last tried to connect */
  rmc_disc_retry connect; /* when to try the clients that are missing again */
  bool ran;               /* the daemon was there once */
  bool said_waiting;      /* "off until avahi-daemon runs" said, or "went away" */
};

static struct {
  pthread_mutex_t lock;
  unsigned users;         /* started discoveries */
  unsigned starts;        /* counts starts: a thread without a client tries again at once */
  engine *e;              /* the thread, until it decided to end */
  disc_cmd *cmds, **cmds_tail;
  disc_type *types;
  unsigned epoch;         /* counts forks: a child's publications are not its parent's */
  bool dbus_unsafe;       /* forked while an Avahi thread was in libdbus: fork_child */
} G = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Avahi threads of this process not waiting in poll(): each may be in
 * libdbus, holding its process-wide locks (fork_child). */
static atomic_int busy_threads;

/* One line per process for each kind of trouble: the session goes on without. */
static void say_once(atomic_bool *said, const char *fmt, const char *a, const char *b) {
  if (atomic_exchange(said, true)) return;
  fprintf(stderr, fmt, a, b);
}
static atomic_bool said_off, said_collision, said_gone, said_browse, said_fork;

static void snap_release(disc_snap *v) {
  if (v && atomic_fetch_sub(&v->refs, 1) == 1) free(v);
}

/* ---- under G.lock ---- */

/* The list changed: readers take a new snapshot. */
static void post_locked(disc_type *t) {
  snap_release(t->snap);
  t->snap = NULL;
  for (rmc_discovery *d = t->readers; d; d = d->next) uv_async_send(&d->async);
}

static void clear_found_locked(disc_type *t) {
  if (rmc_disc_list_clear_found(&t->list)) post_locked(t);
}

static void wake_locked(void) {
  if (!G.e) return;
  ssize_t w = write(G.e->wake[1], "x", 1); /* nonblocking; a full pipe wakes it as well */
  (void)w;
}

static void enqueue_locked(disc_cmd *c) {
  if (!G.cmds_tail) G.cmds_tail = &G.cmds;
  c->next = NULL;
  *G.cmds_tail = c;
  G.cmds_tail = &c->next;
}

static disc_type *type_next(disc_type *t) {
  pthread_mutex_lock(&G.lock);
  disc_type *n = t ? t->next : G.types;
  pthread_mutex_unlock(&G.lock);
  return n;
}

/* ---- the Avahi thread ---- */

static void txt_value(AvahiStringList *txt, const char *key, char *out, size_t cap) {
  out[0] = '\0';
  AvahiStringList *e = avahi_string_list_find(txt, key);
  char *k = NULL, *v = NULL;
  if (e && avahi_string_list_get_pair(e, &k, &v, NULL) == 0 && v) copy_label(out, cap, v);
  avahi_free(k);
  avahi_free(v);
}

static void key_of(rmc_disc_key *k, AvahiIfIndex iface, AvahiProtocol proto, const char *name,
                   const char *domain) {
  memset(k, 0, sizeof *k);
  k->iface = iface;
  k->proto = proto;
  copy_label(k->name, sizeof k->name, name ? name : "");
  copy_label(k->domain, sizeof k->domain, domain ? domain : "");
}

static void on_resolved(AvahiServiceResolver *r, AvahiIfIndex iface, AvahiProtocol proto,
                        AvahiResolverEvent ev, const char *name, const char *type,
                        const char *domain, const char *host, const AvahiAddress *addr,
                        uint16_t port, AvahiStringList *txt, AvahiLookupResultFlags flags,
                        void *ud) {
  (void)proto; (void)type; (void)domain; (void)flags;
  disc_type *t = ud;
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
    pthread_mutex_lock(&G.lock);
    if (rmc_disc_list_resolved(&t->list, r, &e)) post_locked(t);
    pthread_mutex_unlock(&G.lock);
  } else {
    pthread_mutex_lock(&G.lock);
    rmc_disc_list_unresolved(&t->list, r);
    pthread_mutex_unlock(&G.lock);
  }
  avahi_service_resolver_free(r);
}

static void on_browse(AvahiServiceBrowser *b, AvahiIfIndex iface, AvahiProtocol proto,
                      AvahiBrowserEvent ev, const char *name, const char *type,
                      const char *domain, AvahiLookupResultFlags flags, void *ud) {
  (void)flags;
  disc_type *t = ud;
  rmc_disc_key k;
  key_of(&k, iface, proto, name, domain);
  if (ev == AVAHI_BROWSER_NEW) {
    pthread_mutex_lock(&G.lock);
    void **slot = rmc_disc_list_admit(&t->list, &k);
    pthread_mutex_unlock(&G.lock);
    if (!slot) return;
    /* waits for the daemon: on this thread only (which alone changes what
     * is in flight: slot stays valid meanwhile) */
    AvahiServiceResolver *r = avahi_service_resolver_new(avahi_service_browser_get_client(b), iface, proto, name,
                                                         type, domain, AVAHI_PROTO_UNSPEC, 0, on_resolved, t);
    pthread_mutex_lock(&G.lock);
    *slot = r;
    if (!r) rmc_disc_list_unresolved(&t->list, NULL);
    pthread_mutex_unlock(&G.lock);
  } else if (ev == AVAHI_BROWSER_REMOVE) {
    bool changed;
    pthread_mutex_lock(&G.lock);
    AvahiServiceResolver *r = rmc_disc_list_remove(&t->list, &k, &changed);
    if (changed) post_locked(t);
    pthread_mutex_unlock(&G.lock);
    if (r) avahi_service_resolver_free(r); /* it answers nothing more */
  } else if (ev == AVAHI_BROWSER_FAILURE) {
    /* nothing more comes from it: work() ends it, after this dispatch,
     * and makes another after a wait (the daemon may be restarting) */
    t->browser_failed = true;
  } else {
    rmc_disc_retry_ok(&t->retry); /* ALL_FOR_NOW, CACHE_EXHAUSTED: it works */
  }
}

static void publish(disc_pub *p);

static void on_group(AvahiEntryGroup *g, AvahiEntryGroupState state, void *ud) {
  disc_pub *p = ud;
  if (state == AVAHI_ENTRY_GROUP_COLLISION) {
    /* another service has the name: take "name #2" (Avahi's rule), as Apple's do */
    char *alt = avahi_alternative_service_name(p->name);
    if (alt) {
      say_once(&said_collision, "rtpmidi: mDNS: the name \"%s\" is taken on the network: advertised as \"%s\"\n",
               p->name, alt);
      copy_label(p->name, sizeof p->name, alt);
      avahi_free(alt);
    }
    avahi_entry_group_reset(g);
    publish(p);
  } else if (state == AVAHI_ENTRY_GROUP_FAILURE) {
    say_once(&said_collision, "rtpmidi: mDNS: cannot advertise \"%s\": %s\n", p->name,
             avahi_strerror(avahi_client_errno(avahi_entry_group_get_client(g))));
  }
}

static void publish(disc_pub *p) {
  conn *k = p->conn;
  if (!k->running) return;
  if (!p->group) p->group = avahi_entry_group_new(k->c, on_group, p);
  if (!p->group || !avahi_entry_group_is_empty(p->group)) return;
  AvahiStringList *txt = NULL;
  for (size_t i = p->ntxt; i-- > 0;) txt = avahi_string_list_add(txt, p->txt[i]);
  int r = avahi_entry_group_add_service_strlst(p->group, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, 0, p->name,
                                               p->type, NULL, NULL, (uint16_t)p->port, txt);
  avahi_string_list_free(txt);
  if (r == AVAHI_ERR_COLLISION) {
    on_group(p->group, AVAHI_ENTRY_GROUP_COLLISION, p);
    return;
  }
  if (r == 0) avahi_entry_group_commit(p->group);
}

static void pub_free(disc_pub *p) {
  for (size_t i = 0; i < p->ntxt; i++) free(p->txt[i]);
  free(p);
}

/* Ends t's browsing: its browser, the resolvers in flight and what they
 * found (the client is still there: a disconnected one frees them without
 * a D-Bus call). */
static void browse_end(disc_type *t) {
  if (t->browser) avahi_service_browser_free(t->browser);
  t->browser = NULL;
  t->browser_failed = false;
  pthread_mutex_lock(&G.lock);
  clear_found_locked(t);
  for (;;) {
    AvahiServiceResolver *r = rmc_disc_list_pop_pending(&t->list);
    if (!r) break;
    pthread_mutex_unlock(&G.lock);
    avahi_service_resolver_free(r);
    pthread_mutex_lock(&G.lock);
  }
  pthread_mutex_unlock(&G.lock);
}

/* The daemon went away (or the bus): the groups this client held are gone,
 * and with the first client the browsers and what they found. */
static void forget_daemon(conn *k) {
  engine *e = k->e;
  k->running = false;
  for (disc_pub *p = e->pubs; p; p = p->next) {
    if (p->conn != k) continue;
    if (p->group) avahi_entry_group_free(p->group);
    p->group = NULL;
  }
  if (k != &e->conns[0]) return;
  for (disc_type *t = type_next(NULL); t; t = type_next(t)) browse_end(t);
}

static void on_client(AvahiClient *c, AvahiClientState state, void *ud) {
  conn *k = ud;
  engine *e = k->e;
  k->c = c; /* called from inside avahi_client_new too */
  switch (state) {
  case AVAHI_CLIENT_S_RUNNING:
    k->running = e->ran = true;
    rmc_disc_retry_ok(&e->connect);
    for (disc_pub *p = e->pubs; p; p = p->next)
      if (p->conn == k) publish(p);
    /* browsers: work() makes them, after this dispatch */
    break;
  case AVAHI_CLIENT_S_COLLISION:
  case AVAHI_CLIENT_S_REGISTERING:
    /* the host's name changes: publish again once it runs */
    k->running = false;
    for (disc_pub *p = e->pubs; p; p = p->next)
      if (p->conn == k && p->group) avahi_entry_group_reset(p->group);
    break;
  case AVAHI_CLIENT_FAILURE:
    /* The daemon left the bus (a restart) or the bus went away: nothing
     * comes back on this client. run() makes a new one, which waits for a
     * daemon (AVAHI_CLIENT_NO_FAIL), as Avahi's own tools do. */
    forget_daemon(k);
    if (avahi_client_errno(c) == AVAHI_ERR_DISCONNECTED) {
      say_once(&said_gone, "rtpmidi: mDNS: avahi-daemon went away; %s%s\n", "discovery resumes when it is back",
               "");
      k->reconnect = true;
      e->said_waiting = true; /* "went away" said it */
    } else {
      say_once(&said_off, "rtpmidi: mDNS discovery stopped: %s%s\n", avahi_strerror(avahi_client_errno(c)),
               "; trying again");
      k->quit = true;
    }
    break;
  case AVAHI_CLIENT_CONNECTING:
    /* no daemon on the bus (AVAHI_CLIENT_NO_FAIL): at start, or it went
     * away (a restart); RUNNING follows when one appears */
    if (!e->said_waiting && !e->ran) {
      e->said_waiting = true;
      say_once(&said_off, "rtpmidi: mDNS discovery is off until avahi-daemon runs: %s%s\n",
               avahi_strerror(AVAHI_ERR_NO_DAEMON), "");
    }
    forget_daemon(k);
    break;
  }
}

/* D-Bus: connects and asks the daemon's state, waiting for the answers;
 * without a daemon on the bus the client waits for one (NO_FAIL). Without
 * a system bus there is no client: the thread stays for the commands and
 * tries again after a wait (e->connect), or at once at the next start. */
static void conn_open(conn *k) {
  k->reconnect = k->quit = k->running = false;
  int err = 0;
  AvahiClient *c = avahi_client_new(avahi_simple_poll_get(k->e->poll), AVAHI_CLIENT_NO_FAIL, on_client, k, &err);
  k->c = c;
  if (!c)
    say_once(&said_off, "rtpmidi: mDNS discovery is off: %s%s\n", avahi_strerror(err),
             " (is avahi-daemon running?); trying again");
}

/* The client a new publication goes with: the first with room, or a new one. */
static conn *conn_for_pub(engine *e) {
  for (size_t i = 0; i < e->nconns; i++)
    if (e->conns[i].groups < GROUPS_PER_CONN) return &e->conns[i];
  if (e->nconns < MAX_CONNS && e->conns[0].c) {
    conn *k = &e->conns[e->nconns++];
    k->e = e;
    conn_open(k);
    return k;
  }
  return &e->conns[e->nconns - 1]; /* the daemon refuses what is past its limit */
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The shorter of two waits for avahi_simple_poll_iterate (-1: none). */
static int wait_min(int timeout, uint64_t ms) {
  int w = ms > INT32_MAX ? INT32_MAX : (int)ms;
  return timeout < 0 || w < timeout ? w : timeout;
}

/* The thread's poll(): waiting there it holds none of libdbus's locks. */
static int poll_quiet(struct pollfd *fds, unsigned nfds, int timeout, void *ud) {
  (void)ud;
  atomic_fetch_sub(&busy_threads, 1);
  int r = poll(fds, nfds, timeout);
  atomic_fetch_add(&busy_threads, 1);
  return r;
}

static void on_wake(AvahiWatch *w, int fd, AvahiWatchEvent ev, void *ud) {
  (void)w; (void)ev; (void)ud;
  char buf[64];
  while (read(fd, buf, sizeof buf) > 0) {}
}

/* Does what the loop asked: the queued commands, then a browser for each
 * type somebody reads and none for the others. A browser that failed, or
 * that the daemon would not make, is made again after a wait (what it
 * found goes meanwhile): returns how long until the next is due, in ms
 * (-1: none waits). */
static int work(engine *e) {
  pthread_mutex_lock(&G.lock);
  disc_cmd *c = G.cmds;
  G.cmds = NULL;
  G.cmds_tail = &G.cmds;
  pthread_mutex_unlock(&G.lock);
  while (c) {
    disc_cmd *next = c->next; /* the "off" command goes with its publication */
    disc_pub *p = c->pub;
    if (c->publish) {
      p->conn = conn_for_pub(e);
      p->conn->groups++;
      p->next = e->pubs;
      e->pubs = p;
      publish(p);
    } else {
      for (disc_pub **q = &e->pubs; *q; q = &(*q)->next) {
        if (*q == p) {
          *q = p->next;
          break;
        }
      }
      p->conn->groups--;
      if (p->group) avahi_entry_group_free(p->group); /* withdraws it */
      pub_free(p);
    }
    c = next;
  }
  conn *k = &e->conns[0];
  int timeout = -1;
  for (disc_type *t = type_next(NULL); t; t = type_next(t)) {
    pthread_mutex_lock(&G.lock);
    bool wanted = t->readers != NULL;
    pthread_mutex_unlock(&G.lock);
    if (!wanted) {
      browse_end(t);
      continue;
    }
    if (t->browser_failed) {
      say_once(&said_browse, "rtpmidi: mDNS: browsing for %s failed: %s; trying again\n", t->type,
               k->c ? avahi_strerror(avahi_client_errno(k->c)) : "");
      browse_end(t);
      rmc_disc_retry_failed(&t->retry, now_ms());
    }
    if (t->browser || !k->running) continue;
    uint64_t wait = rmc_disc_retry_wait(&t->retry, now_ms());
    if (wait == 0) {
      t->browser = avahi_service_browser_new(k->c, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, t->type, NULL, 0,
                                             on_browse, t);
      if (t->browser) continue;
      rmc_disc_retry_failed(&t->retry, now_ms());
      wait = rmc_disc_retry_wait(&t->retry, now_ms());
    }
    timeout = wait_min(timeout, wait);
  }
  return timeout;
}

/* Whether to end: nobody uses discovery and no command waits. Then the
 * thread leaves G, and the browsers its client still holds are its own to
 * free: the next thread starts from none. */
static bool leave(engine *e) {
  pthread_mutex_lock(&G.lock);
  bool end = G.users == 0 && G.cmds == NULL;
  if (end) {
    G.e = NULL;
    for (disc_type *t = G.types; t; t = t->next) {
      t->browser = NULL;
      t->browser_failed = false;
      rmc_disc_retry_ok(&t->retry);
      clear_found_locked(t);
      while (rmc_disc_list_pop_pending(&t->list)) {} /* freed with the client */
    }
  }
  pthread_mutex_unlock(&G.lock);
  (void)e;
  return end;
}

static void *run(void *arg) {
  engine *e = arg;
  e->nconns = 1;
  e->conns[0].e = e;
  pthread_mutex_lock(&G.lock);
  e->starts_seen = G.starts;
  pthread_mutex_unlock(&G.lock);
  conn_open(&e->conns[0]);
  if (!e->conns[0].c) rmc_disc_retry_failed(&e->connect, now_ms());
  for (;;) {
    int timeout = work(e);
    if (leave(e)) break;
    bool missing = false;
    for (size_t i = 0; i < e->nconns; i++) missing = missing || !e->conns[i].c;
    if (missing) timeout = wait_min(timeout, rmc_disc_retry_wait(&e->connect, now_ms()));
    avahi_simple_poll_iterate(e->poll, timeout);
    for (size_t i = 0; i < e->nconns; i++) {
      conn *k = &e->conns[i];
      if (k->c && (k->reconnect || k->quit)) {
        bool again = k->reconnect;
        avahi_client_free(k->c); /* frees what it still holds (disconnected: no calls) */
        k->c = NULL;
        k->running = false;
        /* the daemon left the bus: a new client waits for the next one
         * (NO_FAIL); else the bus or the daemon refused us: later */
        if (again) conn_open(k);
        if (!k->c) rmc_disc_retry_failed(&e->connect, now_ms());
      }
    }
    /* A client missing (no bus, or it refused us): tried again after a
     * wait, and at once when a new start comes. */
    pthread_mutex_lock(&G.lock);
    bool started = G.starts != e->starts_seen;
    e->starts_seen = G.starts;
    pthread_mutex_unlock(&G.lock);
    if (started) rmc_disc_retry_ok(&e->connect);
    if (rmc_disc_retry_wait(&e->connect, now_ms()) > 0) continue;
    bool failed = false;
    for (size_t i = 0; i < e->nconns; i++) {
      if (e->conns[i].c) continue;
      conn_open(&e->conns[i]);
      failed = failed || !e->conns[i].c;
    }
    if (failed) rmc_disc_retry_failed(&e->connect, now_ms());
  }
  for (size_t i = 0; i < e->nconns; i++)
    if (e->conns[i].c) avahi_client_free(e->conns[i].c); /* may wait on D-Bus: nobody waits for us */
  avahi_simple_poll_get(e->poll)->watch_free(e->watch);
  avahi_simple_poll_free(e->poll);
  close(e->wake[0]);
  close(e->wake[1]);
  free(e);
  atomic_fetch_sub(&busy_threads, 1);
  return NULL;
}

/* fork() without exec while discovery runs (a host that forks workers, a
 * Lua script calling a library that does): the child has the memory and
 * not the thread. Before the fork G.lock is taken, so that the child gets
 * it in a state that makes sense; after it the parent goes on, and the
 * child forgets the parent's thread (its next start makes its own, with
 * its own connection): no engine, no queued command (they were for the
 * parent's thread: the publications of the "off" ones leak, a few bytes),
 * no browser nor resolver (the parent's client's objects: the child's
 * copies are never touched, nor freed), no result. What the child
 * inherited started stays counted in G.users until the child stops it;
 * its publication was the parent's thread's and is freed by the stop
 * alone (disc_pub.epoch). The parent's D-Bus socket stays open in the
 * child (only the parent's thread knew it) and is never used there.
 *
 * libdbus is not fork-safe: it has process-wide locks (its message cache,
 * its slot allocators), and a child forked while an Avahi thread of its
 * parent was inside libdbus would find one held forever; a thread the
 * child makes would hang on it (seen: the child's avahi_client_new). So
 * the child keeps discovery off (one line says so; sessions run without)
 * unless every Avahi thread of the parent was waiting in poll() at the
 * fork (busy_threads: poll_quiet), and so do its own children. */
static void fork_prepare(void) { pthread_mutex_lock(&G.lock); }

static void fork_parent(void) { pthread_mutex_unlock(&G.lock); }

static void fork_child(void) {
  pthread_mutex_init(&G.lock, NULL); /* the child's one thread holds it: anew */
  G.dbus_unsafe = G.dbus_unsafe || atomic_load(&busy_threads) > 0;
  atomic_store(&busy_threads, 0);
  if (G.e) {
    close(G.e->wake[0]);
    close(G.e->wake[1]);
  }
  G.e = NULL;
  G.epoch++;
  G.cmds = NULL;
  G.cmds_tail = &G.cmds;
  for (disc_type *t = G.types; t; t = t->next) {
    t->browser = NULL;
    t->browser_failed = false;
    rmc_disc_retry_ok(&t->retry);
    while (rmc_disc_list_pop_pending(&t->list)) {}
    rmc_disc_list_clear_found(&t->list); /* no post: the readers' loops are the parent's copies */
    snap_release(t->snap);
    t->snap = NULL;
  }
}

/* Installed once, never removed (POSIX has no way): the code stays loaded
 * (the Lua module is linked -z nodelete, as for the thread). */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void atfork_install(void) { pthread_atfork(fork_prepare, fork_parent, fork_child); }

/* Makes the thread (under G.lock): nothing here talks to D-Bus. */
static engine *engine_start_locked(void) {
  engine *e = calloc(1, sizeof *e);
  if (!e) return NULL;
  if (pipe2(e->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    free(e);
    return NULL;
  }
  e->poll = avahi_simple_poll_new();
  if (e->poll) {
    avahi_simple_poll_set_func(e->poll, poll_quiet, NULL);
    const AvahiPoll *api = avahi_simple_poll_get(e->poll);
    e->watch = api->watch_new(api, e->wake[0], AVAHI_WATCH_IN, on_wake, e);
  }
  /* Detached (it ends on its own, whenever D-Bus lets it) and taking no
   * signal: the host's handlers run on the loop's thread. */
  pthread_attr_t attr;
  pthread_t th;
  sigset_t all, old;
  sigfillset(&all);
  int r = e->watch ? pthread_attr_init(&attr) : -1;
  if (r == 0) {
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    atomic_fetch_add(&busy_threads, 1); /* until it first waits in poll_quiet */
    r = pthread_create(&th, &attr, run, e);
    if (r != 0) atomic_fetch_sub(&busy_threads, 1);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (r == 0) pthread_setname_np(th, "rtpmidi-avahi"); /* as ps and the tests see it */
  }
  if (r != 0) {
    if (e->watch) avahi_simple_poll_get(e->poll)->watch_free(e->watch);
    if (e->poll) avahi_simple_poll_free(e->poll);
    close(e->wake[0]);
    close(e->wake[1]);
    free(e);
    return NULL;
  }
  G.e = e;
  return e;
}

static disc_type *type_get_locked(const char *type) {
  disc_type **q = &G.types;
  for (; *q; q = &(*q)->next)
    if (strcmp((*q)->type, type) == 0) return *q;
  disc_type *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  copy_label(t->type, sizeof t->type, type);
  *q = t;
  return t;
}

/* ---- the loop's half ---- */

/* Takes what the thread found for d's type (on d's loop): the snapshot
 * of the current list, made by the first reader after a change. */
static void take_found_locked(rmc_discovery *d) {
  disc_type *t = d->t;
  size_t n = rmc_disc_list_rows(&t->list, NULL, 0);
  if (n && !t->snap) {
    disc_snap *v = malloc(sizeof *v + n * sizeof v->v[0]);
    if (!v) return; /* the previous one stays */
    atomic_init(&v->refs, 1);
    v->n = rmc_disc_list_rows(&t->list, v->v, n);
    t->snap = v;
  }
  if (d->seen == t->snap) return;
  snap_release(d->seen);
  d->seen = t->snap;
  if (d->seen) atomic_fetch_add(&d->seen->refs, 1);
}

static void on_async(uv_async_t *a) {
  rmc_discovery *d = a->data;
  pthread_mutex_lock(&G.lock);
  take_found_locked(d);
  pthread_mutex_unlock(&G.lock);
}

static void on_async_closed(uv_handle_t *h) { free(h->data); }

static disc_pub *pub_new(const rmc_discovery_config *cfg) {
  disc_pub *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->on = (disc_cmd){.pub = p, .publish = true};
  p->off = (disc_cmd){.pub = p, .publish = false};
  copy_label(p->type, sizeof p->type, cfg->type);
  copy_label(p->name, sizeof p->name, cfg->name);
  p->port = cfg->port;
  for (size_t i = 0; i < RMC_DISCOVERY_MAX_TXT && cfg->txt[i]; i++) {
    p->txt[i] = strdup(cfg->txt[i]);
    if (!p->txt[i]) {
      pub_free(p);
      return NULL;
    }
    p->ntxt++;
  }
  return p;
}

rmc_discovery *rmc_discovery_start(uv_loop_t *loop, const rmc_discovery_config *cfg) {
  pthread_once(&atfork_once, atfork_install); /* before any thread: fork_child */
  rmc_discovery *d = calloc(1, sizeof *d);
  if (!d) return NULL;
  if (cfg->name && cfg->name[0] && !(d->pub = pub_new(cfg))) goto fail;
  if (uv_async_init(loop, &d->async, on_async) != 0) goto fail;
  d->async.data = d;
  pthread_mutex_lock(&G.lock);
  d->t = type_get_locked(cfg->type);
  if (!G.e && G.dbus_unsafe)
    say_once(&said_fork, "rtpmidi: mDNS discovery is off in this process: %s%s\n",
             "forked while its parent's Avahi thread was in D-Bus", " (libdbus is not fork-safe)");
  if (!d->t || (!G.e && (G.dbus_unsafe || !engine_start_locked()))) {
    pthread_mutex_unlock(&G.lock);
    if (d->pub) pub_free(d->pub);
    uv_close((uv_handle_t *)&d->async, on_async_closed);
    return NULL;
  }
  G.users++;
  G.starts++;
  if (d->pub) d->pub->epoch = G.epoch;
  d->next = d->t->readers;
  if (d->next) d->next->prev = d;
  d->t->readers = d;
  if (d->pub) enqueue_locked(&d->pub->on);
  take_found_locked(d); /* what others of its type found already */
  wake_locked();
  pthread_mutex_unlock(&G.lock);
  return d;

fail:
  if (d->pub) pub_free(d->pub);
  free(d);
  return NULL;
}

void rmc_discovery_stop(rmc_discovery *d) {
  if (!d) return;
  pthread_mutex_lock(&G.lock);
  if (d->prev) d->prev->next = d->next;
  else d->t->readers = d->next;
  if (d->next) d->next->prev = d->prev;
  G.users--;
  if (d->pub && d->pub->epoch == G.epoch) enqueue_locked(&d->pub->off); /* the thread frees it */
  else if (d->pub) pub_free(d->pub); /* started before a fork: this process's thread never had it */
  wake_locked();
  pthread_mutex_unlock(&G.lock);
  snap_release(d->seen);
  d->seen = NULL;
  uv_close((uv_handle_t *)&d->async, on_async_closed);
}

size_t rmc_discovery_found(const rmc_discovery *d, rtpmidi_service *out, size_t n) {
  if (!d || !d->seen) return 0;
  for (size_t i = 0; i < d->seen->n && i < n; i++) out[i] = d->seen->v[i];
  return d->seen->n;
}

bool rmc_discovery_available(void) { return true; }

bool rmc_discovery_quiet(void) { return atomic_load(&busy_threads) == 0; }

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

bool rmc_discovery_quiet(void) { return true; }

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
