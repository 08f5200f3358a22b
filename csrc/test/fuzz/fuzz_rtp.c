/* libFuzzer target: the RTP fixed header parser (rtp.c).
 * Input: one datagram as received on the RTP port. */
#include <string.h>

#include "fuzz_common.h"
#include "rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  rmp_rtp_header h;
  memset(&h, 0xA5, sizeof h);
  int rc = rmp_rtp_parse(data, size, &h);
  (void)rmp_rtp_strerror(rc);
  if (rc < 0) {
    FUZZ_ASSERT(rc == RMP_ERTP_SHORT || rc == RMP_ERTP_VERSION || rc == RMP_ERTP_PADDING ||
                rc == RMP_ERTP_RTCP);
    return 0;
  }
  FUZZ_ASSERT(rc >= RMP_RTP_HEADER_LEN);
  FUZZ_ASSERT((size_t)rc == h.payload_offset);
  FUZZ_ASSERT(h.csrc_count <= RMP_RTP_MAX_CSRC);
  FUZZ_ASSERT(h.payload_type < 128 && !(h.payload_type >= 72 && h.payload_type <= 76));
  FUZZ_ASSERT(h.payload_offset == RMP_RTP_HEADER_LEN + 4u * h.csrc_count +
                                      (h.extension ? 4u + 4u * h.ext_words : 0u));
  FUZZ_ASSERT(fuzz_within(data + h.payload_offset, h.payload_len, data, size));
  if (!h.padding) FUZZ_ASSERT(h.payload_offset + h.payload_len == size);
  else FUZZ_ASSERT(h.payload_offset + h.payload_len + data[size - 1] == size);
  (void)fuzz_touch(data + h.payload_offset, h.payload_len);

  /* The writer's 12 octets parse back to the same fields. */
  uint8_t out[RMP_RTP_HEADER_LEN];
  rmp_rtp_write_header(out, h.payload_type, h.marker, h.sequence, h.timestamp, h.ssrc);
  rmp_rtp_header h2;
  FUZZ_ASSERT(rmp_rtp_parse(out, sizeof out, &h2) == RMP_RTP_HEADER_LEN);
  FUZZ_ASSERT(h2.payload_type == h.payload_type && h2.marker == h.marker &&
              h2.sequence == h.sequence && h2.timestamp == h.timestamp && h2.ssrc == h.ssrc &&
              h2.payload_len == 0 && !h2.padding && !h2.extension && h2.csrc_count == 0);
  if (!h.padding && !h.extension && h.csrc_count == 0)
    FUZZ_ASSERT(memcmp(out + 1, data + 1, RMP_RTP_HEADER_LEN - 1) == 0);
  return 0;
}
