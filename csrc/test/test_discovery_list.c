/* What browsing found for one service type (discovery.h, rmc_disc_list):
 * the Avahi browser's events driven by hand, in the orders the daemon may
 * send them, without Avahi. Resolvers are stand-in pointers.
 *
 *   - resolvers in flight are tracked: a REMOVE before the resolver's
 *     answer cancels it (the list hands it back to be freed) and an answer
 *     that comes anyway adds nothing (no ghost of a service that is gone);
 *     NEW for a result already being resolved makes no second resolver;
 *     the results and the resolvers in flight together are bounded
 *     (RMC_DISC_MAX), whatever a host announces. */
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
  CHECK(!rmc_disc_list_resolved(&l, R(1), &k, &s));
  CHECK_INT(rows(&l, NULL, 0), 0);
  CHECK(rmc_disc_list_pop_pending(&l) == NULL);

  /* the service comes back: a new resolver, its answer counts */
  CHECK(browse_new(&l, k, R(2)));
  CHECK(rmc_disc_list_resolved(&l, R(2), &k, &s));
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
  CHECK(!rmc_disc_list_resolved(&l, R(3), &k, &s));
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
    rmc_disc_key k = key(2, 0, name);
    rtpmidi_service s = svc(name, "10.0.0.9", 5004 + i);
    CHECK(rmc_disc_list_resolved(&l, R(i), &k, &s));
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

int main(void) {
  test_remove_before_found();
  test_failed_and_twice();
  test_bounded();
  return check_report();
}
