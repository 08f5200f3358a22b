/* What browsing found for one service type (discovery.h, rmc_disc_list):
 * the Avahi browser's events driven by hand, in the orders the daemon may
 * send them, without Avahi. Resolvers are stand-in pointers.
 *
 *   - resolvers in flight are tracked: a REMOVE before the resolver's
 *     answer cancels it (the list hands it back to be freed) and an answer
 *     that comes anyway adds nothing (no ghost of a service that is gone);
 *     NEW for a result already being resolved makes no second resolver;
 *     the results and the resolvers in flight together are bounded
 *     (RMC_DISC_MAX), whatever a host announces;
 *   - a result is kept per interface and protocol it was browsed on: a
 *     service seen on two interfaces, or over IPv4 and IPv6, stays while
 *     one of them remains; the rows users see are one per service and
 *     address, IPv4 first (as before for a single interface: one row);
 *   - what failed on the Avahi thread (a browser, a client) is tried again
 *     after 1 s, then twice as long each time up to 60 s, and from 1 s
 *     again once it worked (rmc_disc_retry, on virtual time). */
#include "check.h"
#include "discovery.h"

#include <stdlib.h>

/* The daemon's stand-ins for resolvers: distinct addresses. */
static char resolvers[4 * RMC_DISC_MAX];
#define R(i) ((void *)&resolvers[i])

static rmc_disc_key key(int iface, int proto, const char *name) {
  rmc_disc_key k;
  memset(&k, 0, sizeof k);
  k.iface = iface;
  k.proto = proto;
  snprintf(k.name, sizeof k.name, "%s", name);
  snprintf(k.domain, sizeof k.domain, "local");
  return k;
}

static rtpmidi_service svc(const char *name, const char *address, int port) {
  rtpmidi_service s;
  memset(&s, 0, sizeof s);
  snprintf(s.name, sizeof s.name, "%s", name);
  snprintf(s.host, sizeof s.host, "%s.local", name);
  snprintf(s.address, sizeof s.address, "%s", address);
  s.port = port;
  return s;
}

/* NEW k: the list wants a resolver; it gets r. */
static bool browse_new(rmc_disc_list *l, rmc_disc_key k, void *r) {
  void **slot = rmc_disc_list_admit(l, &k);
  if (slot) *slot = r;
  return slot != NULL;
}

static size_t rows(const rmc_disc_list *l, rtpmidi_service *out, size_t n) {
  return rmc_disc_list_rows(l, out, n);
}

static void drain(rmc_disc_list *l) {
  rmc_disc_list_clear_found(l);
  while (rmc_disc_list_pop_pending(l)) {}
  rmc_disc_list_free(l);
}

/* REMOVE before the resolver answers: the resolver is handed back to be
 * cancelled, and its answer, should it still come, adds nothing. */
static void test_remove_before_found(void) {
  rmc_disc_list l = {0};
  rmc_disc_key k = key(2, 0, "studio");
  CHECK(browse_new(&l, k, R(1)));
  bool changed = true;
  CHECK(rmc_disc_list_remove(&l, &k, &changed) == R(1));
  CHECK(!changed);
  rtpmidi_service s = svc("studio", "10.0.0.1", 5004);
  CHECK(!rmc_disc_list_resolved(&l, R(1), &s));
  CHECK_INT(rows(&l, NULL, 0), 0);
  CHECK(rmc_disc_list_pop_pending(&l) == NULL);

  /* the service comes back: a new resolver, its answer counts */
  CHECK(browse_new(&l, k, R(2)));
  CHECK(rmc_disc_list_resolved(&l, R(2), &s));
  rtpmidi_service out[2];
  CHECK_INT(rows(&l, out, 2), 1);
  CHECK(strcmp(out[0].address, "10.0.0.1") == 0);
  /* the resolver that answered is done: nothing left to cancel */
  CHECK(rmc_disc_list_pop_pending(&l) == NULL);
  CHECK(rmc_disc_list_remove(&l, &k, &changed) == NULL);
  CHECK(changed);
  CHECK_INT(rows(&l, NULL, 0), 0);
  drain(&l);
}

/* A resolver that fails, or was never made, frees its place; a second NEW
 * for what is being resolved makes no second resolver. */
static void test_failed_and_twice(void) {
  rmc_disc_list l = {0};
  rmc_disc_key k = key(2, 0, "a");
  CHECK(browse_new(&l, k, R(1)));
  CHECK(!browse_new(&l, k, R(2)));
  rmc_disc_list_unresolved(&l, R(1));
  CHECK(rmc_disc_list_pop_pending(&l) == NULL);
  CHECK(browse_new(&l, k, NULL)); /* avahi_service_resolver_new failed */
  rmc_disc_list_unresolved(&l, NULL);
  CHECK(rmc_disc_list_pop_pending(&l) == NULL);
  /* an answer from a resolver the list never had adds nothing */
  rtpmidi_service s = svc("a", "10.0.0.1", 5004);
  CHECK(!rmc_disc_list_resolved(&l, R(3), &s));
  CHECK_INT(rows(&l, NULL, 0), 0);
  drain(&l);
}

/* A host announcing many services: resolvers in flight count against the
 * bound as results do, so at most RMC_DISC_MAX are ever made at once. */
static void test_bounded(void) {
  rmc_disc_list l = {0};
  char name[32];
  for (int i = 0; i < RMC_DISC_MAX; i++) {
    snprintf(name, sizeof name, "s%d", i);
    CHECK(browse_new(&l, key(2, 0, name), R(i)));
  }
  CHECK(!browse_new(&l, key(2, 0, "one-more"), R(RMC_DISC_MAX)));
  /* half answer: still full (results and resolvers in flight) */
  for (int i = 0; i < RMC_DISC_MAX / 2; i++) {
    snprintf(name, sizeof name, "s%d", i);
    rtpmidi_service s = svc(name, "10.0.0.9", 5004 + i);
    CHECK(rmc_disc_list_resolved(&l, R(i), &s));
  }
  CHECK(!browse_new(&l, key(2, 0, "one-more"), R(RMC_DISC_MAX)));
  CHECK_INT(rows(&l, NULL, 0), RMC_DISC_MAX / 2);
  /* one in flight removed: room for one */
  snprintf(name, sizeof name, "s%d", RMC_DISC_MAX - 1);
  rmc_disc_key last = key(2, 0, name);
  bool changed;
  CHECK(rmc_disc_list_remove(&l, &last, &changed) == R(RMC_DISC_MAX - 1));
  CHECK(browse_new(&l, key(2, 0, "one-more"), R(RMC_DISC_MAX)));
  CHECK(!browse_new(&l, key(2, 0, "two-more"), R(RMC_DISC_MAX + 1)));
  /* the rest is handed back to be cancelled, each once */
  size_t popped = 0;
  for (void *r; (r = rmc_disc_list_pop_pending(&l));) {
    CHECK((char *)r >= resolvers && (char *)r < resolvers + sizeof resolvers);
    popped++;
  }
  CHECK_INT(popped, RMC_DISC_MAX / 2);
  CHECK(rmc_disc_list_clear_found(&l));
  CHECK_INT(rows(&l, NULL, 0), 0);
  drain(&l);
}

/* The resolvers of a result browsed on (iface, proto) answer s. */
static void seen(rmc_disc_list *l, int iface, int proto, rtpmidi_service s, void *r) {
  CHECK(browse_new(l, key(iface, proto, s.name), r));
  CHECK(rmc_disc_list_resolved(l, r, &s));
}

static bool gone(rmc_disc_list *l, int iface, int proto, const char *name) {
  rmc_disc_key k = key(iface, proto, name);
  bool changed;
  CHECK(rmc_disc_list_remove(l, &k, &changed) == NULL);
  return changed;
}

enum { INET = 0, INET6 = 1 }; /* AVAHI_PROTO_INET, AVAHI_PROTO_INET6 */

/* One service on two interfaces: one goes, the other stays. */
static void test_two_interfaces(void) {
  rmc_disc_list l = {0};
  seen(&l, 2, INET, svc("studio", "10.0.0.1", 5004), R(1));
  seen(&l, 3, INET, svc("studio", "192.168.1.5", 5004), R(2));
  rtpmidi_service out[4];
  CHECK_INT(rows(&l, out, 4), 2);
  CHECK(gone(&l, 3, INET, "studio"));
  CHECK_INT(rows(&l, out, 4), 1);
  CHECK(strcmp(out[0].address, "10.0.0.1") == 0);
  /* a REMOVE for an interface it was never seen on changes nothing */
  CHECK(!gone(&l, 4, INET, "studio"));
  CHECK_INT(rows(&l, out, 4), 1);
  CHECK(gone(&l, 2, INET, "studio"));
  CHECK_INT(rows(&l, out, 4), 0);
  drain(&l);
}

/* Browsed over IPv4 and IPv6 on one interface: one row while either is
 * there, the IPv4 address while there is one. */
static void test_two_protocols(void) {
  rmc_disc_list l = {0};
  rtpmidi_service out[4];
  /* both resolve to the same IPv4 address: one row */
  seen(&l, 2, INET, svc("a", "10.0.0.1", 5004), R(1));
  seen(&l, 2, INET6, svc("a", "10.0.0.1", 5004), R(2));
  CHECK_INT(rows(&l, out, 4), 1);
  CHECK(gone(&l, 2, INET6, "a"));
  CHECK_INT(rows(&l, out, 4), 1);
  CHECK(strcmp(out[0].address, "10.0.0.1") == 0);
  CHECK(gone(&l, 2, INET, "a"));
  CHECK_INT(rows(&l, out, 4), 0);

  /* IPv4 and link-local IPv6: the IPv4 one is shown, the IPv6 one when
   * it is all that is left, whatever came first */
  seen(&l, 2, INET6, svc("b", "fe80::1%veth0", 5006), R(3));
  seen(&l, 2, INET, svc("b", "10.0.0.2", 5004), R(4));
  CHECK_INT(rows(&l, out, 4), 1);
  CHECK(strcmp(out[0].address, "10.0.0.2") == 0);
  CHECK_INT(out[0].port, 5004);
  CHECK(gone(&l, 2, INET, "b"));
  CHECK_INT(rows(&l, out, 4), 1);
  CHECK(strcmp(out[0].address, "fe80::1%veth0") == 0);
  CHECK_INT(out[0].port, 5006);
  drain(&l);
}

/* A single interface as before: one row per name, as resolved. */
static void test_rows(void) {
  rmc_disc_list l = {0};
  rtpmidi_service a = svc("a", "10.0.0.1", 5004), b = svc("b", "10.0.0.2", 5008);
  snprintf(b.endpoint_name, sizeof b.endpoint_name, "Synth");
  snprintf(b.product_instance_id, sizeof b.product_instance_id, "SN-1");
  seen(&l, 2, INET, a, R(1));
  seen(&l, 2, INET, b, R(2));
  rtpmidi_service out[4];
  CHECK_INT(rows(&l, out, 1), 2); /* how many there are, one filled */
  CHECK_INT(rows(&l, out, 4), 2);
  CHECK(memcmp(&out[0], &a, sizeof a) == 0);
  CHECK(memcmp(&out[1], &b, sizeof b) == 0);
  /* resolved again (the daemon's answer changed): the new one */
  rtpmidi_service b2 = svc("b", "10.0.0.3", 5010);
  CHECK(gone(&l, 2, INET, "b"));
  seen(&l, 2, INET, b2, R(3));
  CHECK_INT(rows(&l, out, 4), 2);
  CHECK(strcmp(out[1].address, "10.0.0.3") == 0);
  drain(&l);
}

static void test_retry(void) {
  rmc_disc_retry r = {0};
  CHECK_INT(rmc_disc_retry_wait(&r, 5000), 0); /* never failed: now */
  rmc_disc_retry_failed(&r, 5000);
  CHECK_INT(rmc_disc_retry_wait(&r, 5000), 1000);
  CHECK_INT(rmc_disc_retry_wait(&r, 5999), 1);
  CHECK_INT(rmc_disc_retry_wait(&r, 6000), 0);
  /* failing again at each try: 2, 4, 8, 16, 32 s, then 60 s, and stays */
  uint64_t now = 6000;
  const unsigned want[] = {2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    rmc_disc_retry_failed(&r, now);
    CHECK_INT(rmc_disc_retry_wait(&r, now), want[i]);
    CHECK(rmc_disc_retry_wait(&r, now + want[i] - 1) > 0);
    now += want[i];
    CHECK_INT(rmc_disc_retry_wait(&r, now), 0);
  }
  /* it worked: now, and the next failure waits 1 s */
  rmc_disc_retry_ok(&r);
  CHECK_INT(rmc_disc_retry_wait(&r, now), 0);
  rmc_disc_retry_failed(&r, now);
  CHECK_INT(rmc_disc_retry_wait(&r, now), 1000);
  /* a clock read before the failure was recorded: no wrap */
  CHECK_INT(rmc_disc_retry_wait(&r, now - 10), 1010);
}

int main(void) {
  test_remove_before_found();
  test_failed_and_twice();
  test_bounded();
  test_two_interfaces();
  test_two_protocols();
  test_rows();
  test_retry();
  return check_report();
}
