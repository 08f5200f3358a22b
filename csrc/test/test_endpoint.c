/* The endpoint's send queue has a bound (issue 16, finding 9): a socket
 * whose buffer is full gets copies that libuv sends later, at most
 * RMC_SEND_QUEUE_MAX octets of them; beyond, datagrams are dropped and
 * counted, never reported as a network error.
 *
 * A full socket buffer cannot be made on loopback (the kernel hands the
 * datagram to the receiver at once), but libuv's own rule is the same one:
 * while its send queue holds a datagram, uv_udp_try_send says EAGAIN. The
 * test puts one datagram in that queue (uv_udp_send), then sends a burst
 * within the same loop turn: every datagram after it meets "EAGAIN", as
 * behind a full buffer. Then the loop runs and what was queued leaves. */
#include "check.h"
#include "endpoint.h"
#include "runtime.h"

#include <stdlib.h>
#include <string.h>

static unsigned received, errors;
static size_t received_octets;
/* test_one_read: the datagram whose arrival sends one more, and where to */
static unsigned echo_at;
static rmc_endpoint *echo_from;
static rmp_addr echo_to;

static void on_recv(void *owner, rmc_endpoint *ep, const uint8_t *buf, size_t len, const rmp_addr *from) {
  (void)owner;
  (void)ep;
  (void)buf;
  (void)from;
  received++;
  received_octets += len;
  /* queued in the burst, sent (and on loopback delivered) at its end */
  if (received == echo_at) CHECK_INT(rmc_endpoint_send(echo_from, buf, len, &echo_to), 0);
}

static void on_error(void *owner, rmc_endpoint *ep, int err, const rmp_addr *dest) {
  (void)owner;
  (void)ep;
  (void)err;
  (void)dest;
  errors++;
}

static const rmc_endpoint_ops OPS = {on_recv, on_error};

static void on_seed_sent(uv_udp_send_t *req, int status) {
  (void)status;
  free(req);
}

static void test_bound(void) {
  uv_loop_t loop;
  CHECK_INT(uv_loop_init(&loop), 0);
  rtpmidi_runtime *rt = rtpmidi_runtime_new(&loop);
  CHECK(rt != NULL);
  rmc_endpoint *tx = NULL, *rx = NULL;
  int owner = 0;
  CHECK_INT(rmc_endpoint_open(rt, "127.0.0.1", RMP_AF_INET, 0, &OPS, &owner, &tx), 0);
  CHECK_INT(rmc_endpoint_open(rt, "127.0.0.1", RMP_AF_INET, 0, &OPS, &owner, &rx), 0);
  rmp_addr to;
  CHECK_INT(rmp_addr_parse("127.0.0.1", (uint16_t)rmc_endpoint_port(rx), &to), 0);
  /* the receiver keeps up: a large buffer */
  int big = 8 << 20;
  uv_recv_buffer_size((uv_handle_t *)rmc_endpoint_udp(rx), &big);

  enum { N = 1000, SIZE = 1000 };
  static uint8_t data[SIZE];
  memset(data, 0x55, sizeof data);
  /* one datagram in libuv's queue: the socket is "busy" until the loop runs */
  struct sockaddr_storage ss;
  CHECK(rmc_addr_to_sockaddr(&to, RMP_AF_INET, &ss) > 0);
  uv_udp_send_t *seed = malloc(sizeof *seed);
  uv_buf_t b = uv_buf_init((char *)data, SIZE);
  CHECK_INT(uv_udp_send(seed, rmc_endpoint_udp(tx), &b, 1, (const struct sockaddr *)&ss, on_seed_sent), 0);
  CHECK(rmc_endpoint_send_queued(tx) == SIZE);

  unsigned ok = 0, nobufs = 0;
  for (unsigned i = 0; i < N; i++) {
    int r = rmc_endpoint_send(tx, data, SIZE, &to);
    if (r == 0) ok++;
    else if (r == UV_ENOBUFS) nobufs++;
  }
  /* 256 KiB of copies at most, with the seed */
  unsigned fit = RMC_SEND_QUEUE_MAX / SIZE - 1;
  CHECK_INT(ok, fit);
  CHECK_INT(nobufs, N - fit);
  CHECK(rmc_endpoint_send_queued(tx) <= RMC_SEND_QUEUE_MAX);
  CHECK_INT(rmc_endpoint_send_dropped(tx), N - fit);
  CHECK_INT(rmc_endpoint_send_errors(tx), N - fit);
  CHECK_INT(errors, 0); /* not a network error */

  /* the loop runs: what waited leaves, in full */
  for (int i = 0; i < 200 && received < fit + 1; i++) uv_run(&loop, UV_RUN_NOWAIT);
  CHECK_INT(received, fit + 1);
  CHECK_INT(received_octets, (size_t)(fit + 1) * SIZE);
  CHECK_INT(rmc_endpoint_send_queued(tx), 0);
  /* and sends go straight out again */
  CHECK_INT(rmc_endpoint_send(tx, data, SIZE, &to), 0);
  CHECK_INT(rmc_endpoint_send_queued(tx), 0);
  for (int i = 0; i < 200 && received < fit + 2; i++) uv_run(&loop, UV_RUN_NOWAIT);
  CHECK_INT(received, fit + 2);
  CHECK_INT(rmc_endpoint_send_dropped(tx), N - fit);

  rmc_endpoint_close(tx);
  rmc_endpoint_close(rx);
  rtpmidi_runtime_free(rt);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_INT(uv_loop_close(&loop), 0);
}

/* One read per wake: libuv reads on until recvmmsg says EAGAIN, a system
 * call per wake for nothing once a batch came back short (the socket was
 * empty). A datagram arriving after a short batch waits for the next wake;
 * what a wake's callbacks send leaves at the wake's end. */
static void test_one_read(void) {
  uv_loop_t loop;
  CHECK_INT(uv_loop_init(&loop), 0);
  rtpmidi_runtime *rt = rtpmidi_runtime_new(&loop);
  CHECK(rt != NULL);
  rmc_endpoint *tx = NULL, *rx = NULL;
  int owner = 0;
  CHECK_INT(rmc_endpoint_open(rt, "127.0.0.1", RMP_AF_INET, 0, &OPS, &owner, &tx), 0);
  CHECK_INT(rmc_endpoint_open(rt, "127.0.0.1", RMP_AF_INET, 0, &OPS, &owner, &rx), 0);
  CHECK_INT(rmp_addr_parse("127.0.0.1", (uint16_t)rmc_endpoint_port(rx), &echo_to), 0);
  echo_from = tx;
  static const uint8_t data[16] = {0x80};
  received = 0;
  errors = 0;

  /* a short batch (3 waiting): the datagram its last one sends waits */
  for (int i = 0; i < 3; i++) CHECK_INT(rmc_endpoint_send(tx, data, sizeof data, &echo_to), 0);
  echo_at = 3;
  uv_run(&loop, UV_RUN_NOWAIT);
  CHECK_INT(received, 3);
  for (int i = 0; i < 200 && received < 4; i++) uv_run(&loop, UV_RUN_NOWAIT);
  CHECK_INT(received, 4);

  /* a full batch (25 waiting: 20, then 5): the burst goes on through the
   * 5 read in the same wake, and the one the 20th sends leaves at its end
   * (one sendmmsg a wake, endpoint.c), read by the next wake */
  for (int i = 0; i < 25; i++) CHECK_INT(rmc_endpoint_send(tx, data, sizeof data, &echo_to), 0);
  echo_at = 4 + 20;
  uv_run(&loop, UV_RUN_NOWAIT);
  CHECK_INT(received, 4 + 25);
  for (int i = 0; i < 200 && received < 4 + 26; i++) uv_run(&loop, UV_RUN_NOWAIT);
  CHECK_INT(received, 4 + 26);
  /* and nothing is left behind */
  echo_at = 0;
  for (int i = 0; i < 20; i++) uv_run(&loop, UV_RUN_NOWAIT);
  CHECK_INT(received, 4 + 26);
  CHECK_INT(errors, 0);

  rmc_endpoint_close(tx);
  rmc_endpoint_close(rx);
  rtpmidi_runtime_free(rt);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_INT(uv_loop_close(&loop), 0);
}

int main(void) {
  test_bound();
  test_one_read();
  return check_report();
}
