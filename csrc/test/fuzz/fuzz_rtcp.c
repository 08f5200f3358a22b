/* libFuzzer target: RTCP compound packets (rtcp.c): validation, the packet
 * iterator, and every per-type parser (SR/RR reports, SDES items, BYE, APP)
 * on every packet, whatever its type, with and without prior validation. */
#include <string.h>

#include "fuzz_common.h"
#include "rtcp.h"

static int is_rtcp_err(int rc) { return rc <= RMP_ERTCP_TRUNCATED && rc >= RMP_ERTCP_NORTT; }

static void check_packet(const uint8_t *buf, size_t len, const rmp_rtcp_hdr_t *h) {
  FUZZ_ASSERT(h->pkt_len >= 4 && h->pkt_len % 4 == 0);
  FUZZ_ASSERT(fuzz_within(h->pkt, h->pkt_len, buf, len));
  FUZZ_ASSERT(h->body == h->pkt + 4 && h->body_len <= h->pkt_len - 4);
  FUZZ_ASSERT(h->count <= RMP_RTCP_MAX_COUNT);
  (void)fuzz_touch(h->body, h->body_len);

  rmp_rtcp_report_t rep;
  int rc = rmp_rtcp_parse_report(h, &rep);
  if (rc == 0) {
    FUZZ_ASSERT(h->pt == RMP_RTCP_SR || h->pt == RMP_RTCP_RR);
    FUZZ_ASSERT(rep.n_rb == h->count && rep.n_rb <= RMP_RTCP_MAX_COUNT);
    FUZZ_ASSERT(fuzz_within(rep.ext, rep.ext_len, h->body, h->body_len));
    (void)fuzz_touch(rep.ext, rep.ext_len);
  } else {
    FUZZ_ASSERT(is_rtcp_err(rc));
  }

  rmp_rtcp_sdes_iter_t si;
  if (rmp_rtcp_sdes_init(&si, h) == 0) {
    FUZZ_ASSERT(h->pt == RMP_RTCP_SDES);
    rmp_rtcp_sdes_item_t item;
    uint32_t ssrc;
    size_t guard = 0;
    while ((rc = rmp_rtcp_sdes_next(&si, &ssrc, &item)) > 0) {
      FUZZ_ASSERT(rc == 1 && item.type != RMP_SDES_END);
      FUZZ_ASSERT(fuzz_within(item.data, item.len, h->body, h->body_len));
      (void)fuzz_touch(item.data, item.len);
      FUZZ_ASSERT(++guard <= h->body_len); /* every item takes >= 2 octets */
    }
    FUZZ_ASSERT(rc == 0 || is_rtcp_err(rc));
  } else {
    FUZZ_ASSERT(h->pt != RMP_RTCP_SDES);
  }

  rmp_rtcp_bye_t bye;
  rc = rmp_rtcp_parse_bye(h, &bye);
  if (rc == 0) {
    FUZZ_ASSERT(bye.n_ssrc == h->count);
    if (bye.has_reason) {
      FUZZ_ASSERT(fuzz_within(bye.reason, bye.reason_len, h->body, h->body_len));
      (void)fuzz_touch(bye.reason, bye.reason_len);
    }
  } else {
    FUZZ_ASSERT(is_rtcp_err(rc));
  }

  rmp_rtcp_app_t app;
  rc = rmp_rtcp_parse_app(h, &app);
  if (rc == 0) {
    FUZZ_ASSERT(app.subtype == h->count);
    FUZZ_ASSERT(fuzz_within(app.data, app.data_len, h->body, h->body_len));
    (void)fuzz_touch(app.data, app.data_len);
  } else {
    FUZZ_ASSERT(is_rtcp_err(rc));
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int valid = rmp_rtcp_validate_compound(data, size);
  FUZZ_ASSERT(valid == (int)size || is_rtcp_err(valid));

  /* Walk whether or not it validated: the iterator must stay in bounds and
   * stop at the first bad packet. */
  rmp_rtcp_iter_t it;
  rmp_rtcp_hdr_t h;
  rmp_rtcp_iter_init(&it, data, size);
  size_t total = 0, npkt = 0;
  int rc;
  while ((rc = rmp_rtcp_iter_next(&it, &h)) > 0) {
    FUZZ_ASSERT((size_t)rc == h.pkt_len && h.pkt == data + total);
    total += (size_t)rc;
    FUZZ_ASSERT(total <= size && ++npkt <= size / 4);
    if (npkt == 1 && valid > 0) FUZZ_ASSERT(h.pt == RMP_RTCP_SR || h.pt == RMP_RTCP_RR);
    check_packet(data, size, &h);
  }
  FUZZ_ASSERT(rc == 0 || is_rtcp_err(rc));
  if (valid > 0) FUZZ_ASSERT(rc == 0 && total == size);
  if (rc == 0) FUZZ_ASSERT(total == size);

  /* A header anywhere in the buffer (not only at packet boundaries). */
  if (size > 0) {
    size_t off = data[0] % size;
    rmp_rtcp_hdr_t h2;
    rc = rmp_rtcp_parse_header(data + off, size - off, &h2);
    if (rc > 0) check_packet(data + off, size - off, &h2);
    else FUZZ_ASSERT(is_rtcp_err(rc));
  }
  return 0;
}
