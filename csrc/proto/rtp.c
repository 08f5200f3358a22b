#include "rtp.h"

static uint16_t rd16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static uint32_t rd32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

int rmp_rtp_parse(const uint8_t *buf, size_t len, rmp_rtp_header *h) {
  if (len < RMP_RTP_HEADER_LEN) return RMP_ERTP_SHORT;
  if ((buf[0] >> 6) != 2) return RMP_ERTP_VERSION;
  h->padding = (buf[0] & 0x20) != 0;
  h->extension = (buf[0] & 0x10) != 0;
  h->csrc_count = buf[0] & 0x0f;
  h->marker = (buf[1] & 0x80) != 0;
  h->payload_type = buf[1] & 0x7f;
  if (h->payload_type >= 72 && h->payload_type <= 76) return RMP_ERTP_RTCP;
  h->sequence = rd16(buf + 2);
  h->timestamp = rd32(buf + 4);
  h->ssrc = rd32(buf + 8);
  size_t off = RMP_RTP_HEADER_LEN;
  if (len - off < (size_t)h->csrc_count * 4) return RMP_ERTP_SHORT;
  for (unsigned i = 0; i < h->csrc_count; i++, off += 4) h->csrc[i] = rd32(buf + off);
  h->ext_profile = 0;
  h->ext_words = 0;
  if (h->extension) {
    if (len - off < 4) return RMP_ERTP_SHORT;
    h->ext_profile = rd16(buf + off);
    h->ext_words = rd16(buf + off + 2);
    off += 4;
    if (len - off < (size_t)h->ext_words * 4) return RMP_ERTP_SHORT;
    off += (size_t)h->ext_words * 4;
  }
  size_t end = len;
  if (h->padding) {
    uint8_t pad = buf[len - 1];
    if (pad == 0 || pad > len - off) return RMP_ERTP_PADDING;
    end -= pad;
  }
  h->payload_offset = off;
  h->payload_len = end - off;
  return (int)off;
}

void rmp_rtp_write_header(uint8_t *buf, uint8_t payload_type, bool marker,
                          uint16_t sequence, uint32_t timestamp, uint32_t ssrc) {
  buf[0] = 0x80;
  buf[1] = (uint8_t)((marker ? 0x80 : 0) | (payload_type & 0x7f));
  buf[2] = (uint8_t)(sequence >> 8);
  buf[3] = (uint8_t)sequence;
  buf[4] = (uint8_t)(timestamp >> 24);
  buf[5] = (uint8_t)(timestamp >> 16);
  buf[6] = (uint8_t)(timestamp >> 8);
  buf[7] = (uint8_t)timestamp;
  buf[8] = (uint8_t)(ssrc >> 24);
  buf[9] = (uint8_t)(ssrc >> 16);
  buf[10] = (uint8_t)(ssrc >> 8);
  buf[11] = (uint8_t)ssrc;
}

const char *rmp_rtp_strerror(int err) {
  switch (err) {
  case RMP_ERTP_SHORT: return "truncated RTP packet";
  case RMP_ERTP_VERSION: return "RTP version is not 2";
  case RMP_ERTP_PADDING: return "bad RTP padding";
  case RMP_ERTP_RTCP: return "RTCP packet on the RTP port";
  default: return "unknown RTP error";
  }
}

double rmp_ts_anchor_local(const rmp_ts_anchor *a, int64_t ticks, double rate) {
  return a->anchor_ms + (double)(ticks - a->anchor_ts) * 1000.0 / rate;
}

void rmp_ts_anchor_update(rmp_ts_anchor *a, uint32_t ts, uint32_t end_ticks, double now_ms,
                          double rate) {
  if (!a->anchored) {
    a->anchored = true;
    a->ext_ts = ts;
    a->anchor_ts = a->ext_ts;
    a->anchor_ms = now_ms;
  } else {
    a->ext_ts += (int32_t)(ts - a->last_ts);
  }
  a->last_ts = ts;
  int64_t end = a->ext_ts + end_ticks;
  double t = rmp_ts_anchor_local(a, end, rate);
  /* Earlier than its time can be: less transit than the anchor had. Much
   * later (over 2 s): the sender's clock jumped. Either way, re-anchor. */
  if (t > now_ms || now_ms - t > 2000.0) {
    a->anchor_ts = end;
    a->anchor_ms = now_ms;
  }
}
