/* Plain address values (csrc/proto/addr.h): the one place that decides
 * whether two datagrams came from the same host or the same endpoint. */
#include "addr.h"
#include "check.h"

static void test_v4(void) {
  rmp_addr a, b, c;
  CHECK_INT(rmp_addr_parse("10.0.0.2", 5004, &a), 0);
  CHECK_INT(a.family, RMP_AF_INET);
  CHECK_INT(a.port, 5004);
  CHECK_INT(rmp_addr_parse("10.0.0.2", 5005, &b), 0);
  CHECK(rmp_addr_same_host(&a, &b));
  CHECK(!rmp_addr_equal(&a, &b));
  b = rmp_addr_with_port(b, 5004);
  CHECK(rmp_addr_equal(&a, &b));
  CHECK_INT(rmp_addr_parse("10.0.0.3", 5004, &c), 0);
  CHECK(!rmp_addr_same_host(&a, &c));
  CHECK(!rmp_addr_is_loopback(&a));
  CHECK_INT(rmp_addr_parse("127.3.4.5", 1, &c), 0);
  CHECK(rmp_addr_is_loopback(&c));
  char t[RMP_ADDR_TEXT];
  CHECK_INT(rmp_addr_host(&a, t, sizeof t), 8);
  CHECK(strcmp(t, "10.0.0.2") == 0);
}

static void test_v6(void) {
  rmp_addr a, b, m, v4;
  CHECK_INT(rmp_addr_parse("fe80::1%3", 5004, &a), 0);
  CHECK_INT(a.family, RMP_AF_INET6);
  CHECK_INT(a.scope, 3);
  CHECK_INT(rmp_addr_parse("fe80::1%4", 5004, &b), 0);
  CHECK(!rmp_addr_same_host(&a, &b)); /* the same link-local IP on another link */
  char t[RMP_ADDR_TEXT];
  rmp_addr_host(&a, t, sizeof t);
  CHECK(strcmp(t, "fe80::1%3") == 0);
  CHECK_INT(rmp_addr_parse("::1", 9, &b), 0);
  CHECK(rmp_addr_is_loopback(&b));
  /* an IPv4-mapped source on a dual-stack socket is the IPv4 host */
  CHECK_INT(rmp_addr_parse("::ffff:10.0.0.2", 1, &m), 0);
  CHECK_INT(rmp_addr_parse("10.0.0.2", 2, &v4), 0);
  CHECK(rmp_addr_same_host(&m, &v4));
  CHECK(rmp_addr_same_host(&v4, &m));
  CHECK_INT(rmp_addr_parse("::ffff:127.0.0.1", 1, &m), 0);
  CHECK(rmp_addr_is_loopback(&m));
}

static void test_bad(void) {
  rmp_addr a;
  memset(&a, 0, sizeof a);
  CHECK_INT(rmp_addr_parse("localhost", 1, &a), -1);
  CHECK_INT(rmp_addr_parse("10.0.0", 1, &a), -1);
  CHECK_INT(rmp_addr_parse("fe80::1%", 1, &a), -1);
  CHECK_INT(rmp_addr_parse("fe80::1%eth0", 1, &a), -1);
  CHECK_INT(rmp_addr_parse(NULL, 1, &a), -1);
  rmp_addr none, other;
  memset(&none, 0, sizeof none);
  memset(&other, 0, sizeof other);
  CHECK(!rmp_addr_same_host(&none, &other)); /* no address is nobody's host */
  char t[8] = "x";
  CHECK_INT(rmp_addr_host(&none, t, sizeof t), 0);
  CHECK(t[0] == '\0');
}

int main(void) {
  test_v4();
  test_v6();
  test_bad();
  return check_report();
}
