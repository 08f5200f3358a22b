/* RTCP builders/parser/helpers, RFC 3550 section 6 and appendix A.2/A.7.
 * See rtcp.h. */
#include "rtcp.h"

#include <string.h>

/* ---- byte helpers ---- */

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static size_t pad4(size_t n) { return (n + 3u) & ~(size_t)3u; }

/* Common header: V=2, P=0, count, pt, length in words minus one. */
static void put_header(uint8_t *p, unsigned count, uint8_t pt, size_t total_len) {
  p[0] = (uint8_t)(0x80u | (count & 0x1fu));
  p[1] = pt;
  uint16_t words = (uint16_t)(total_len / 4u - 1u);
  p[2] = (uint8_t)(words >> 8);
  p[3] = (uint8_t)words;
}

/* Largest RTCP packet the 16-bit length field can describe. */
#define MAX_PKT ((size_t)65536u * 4u)

static int32_t clamp24(int32_t v) {
  if (v > 0x7fffff) return 0x7fffff;
  if (v < -0x800000) return -0x800000;
  return v;
}

static void put_rb(uint8_t *p, const rmp_rtcp_rb_t *rb) {
  put32(p, rb->ssrc);
  uint32_t lost = (uint32_t)clamp24(rb->cumulative_lost) & 0xffffffu;
  put32(p + 4, ((uint32_t)rb->fraction_lost << 24) | lost);
  put32(p + 8, rb->ext_highest_seq);
  put32(p + 12, rb->jitter);
  put32(p + 16, rb->lsr);
  put32(p + 20, rb->dlsr);
}

static void get_rb(const uint8_t *p, rmp_rtcp_rb_t *rb) {
  rb->ssrc = get32(p);
  uint32_t w = get32(p + 4);
  rb->fraction_lost = (uint8_t)(w >> 24);
  uint32_t lost = w & 0xffffffu;
  /* sign-extend the 24-bit two's complement value */
  rb->cumulative_lost = (lost & 0x800000u) ? (int32_t)lost - 0x1000000 : (int32_t)lost;
  rb->ext_highest_seq = get32(p + 8);
  rb->jitter = get32(p + 12);
  rb->lsr = get32(p + 16);
  rb->dlsr = get32(p + 20);
}

/* ---- builders ---- */

int rmp_rtcp_build_sr(uint8_t *buf, size_t cap, uint32_t ssrc, const rmp_rtcp_sender_info_t *si,
                      const rmp_rtcp_rb_t *rbs, unsigned n_rb) {
  if (n_rb > RMP_RTCP_MAX_COUNT || !si || (n_rb && !rbs)) return RMP_ERTCP_INVAL;
  size_t len = 28u + 24u * n_rb;
  if (!buf || cap < len) return RMP_ERTCP_NOSPACE;
  put_header(buf, n_rb, RMP_RTCP_SR, len);
  put32(buf + 4, ssrc);
  put32(buf + 8, (uint32_t)(si->ntp >> 32));
  put32(buf + 12, (uint32_t)si->ntp);
  put32(buf + 16, si->rtp_ts);
  put32(buf + 20, si->packet_count);
  put32(buf + 24, si->octet_count);
  for (unsigned i = 0; i < n_rb; i++) put_rb(buf + 28 + 24 * i, &rbs[i]);
  return (int)len;
}

int rmp_rtcp_build_rr(uint8_t *buf, size_t cap, uint32_t ssrc, const rmp_rtcp_rb_t *rbs,
                      unsigned n_rb) {
  if (n_rb > RMP_RTCP_MAX_COUNT || (n_rb && !rbs)) return RMP_ERTCP_INVAL;
  size_t len = 8u + 24u * n_rb;
  if (!buf || cap < len) return RMP_ERTCP_NOSPACE;
  put_header(buf, n_rb, RMP_RTCP_RR, len);
  put32(buf + 4, ssrc);
  for (unsigned i = 0; i < n_rb; i++) put_rb(buf + 8 + 24 * i, &rbs[i]);
  return (int)len;
}

int rmp_rtcp_build_sdes(uint8_t *buf, size_t cap, const rmp_rtcp_sdes_chunk_t *chunks,
                        unsigned n_chunks) {
  if (n_chunks > RMP_RTCP_MAX_COUNT || (n_chunks && !chunks)) return RMP_ERTCP_INVAL;
  /* Size first, so nothing is written when it does not fit. */
  size_t len = 4;
  for (unsigned c = 0; c < n_chunks; c++) {
    size_t clen = 4;
    if (chunks[c].n_items && !chunks[c].items) return RMP_ERTCP_INVAL;
    for (unsigned i = 0; i < chunks[c].n_items; i++) {
      const rmp_rtcp_sdes_item_t *it = &chunks[c].items[i];
      if (it->type == RMP_SDES_END || (it->len && !it->data)) return RMP_ERTCP_INVAL;
      clen += 2u + it->len;
    }
    len += pad4(clen + 1u); /* at least one null octet, then pad to 32 bits */
    if (len > MAX_PKT) return RMP_ERTCP_INVAL;
  }
  if (!buf || cap < len) return RMP_ERTCP_NOSPACE;
  put_header(buf, n_chunks, RMP_RTCP_SDES, len);
  size_t off = 4;
  for (unsigned c = 0; c < n_chunks; c++) {
    size_t start = off;
    put32(buf + off, chunks[c].ssrc);
    off += 4;
    for (unsigned i = 0; i < chunks[c].n_items; i++) {
      const rmp_rtcp_sdes_item_t *it = &chunks[c].items[i];
      buf[off++] = it->type;
      buf[off++] = it->len;
      if (it->len) memcpy(buf + off, it->data, it->len);
      off += it->len;
    }
    size_t end = start + pad4(off - start + 1u);
    memset(buf + off, 0, end - off);
    off = end;
  }
  return (int)len;
}

int rmp_rtcp_build_sdes_cname(uint8_t *buf, size_t cap, uint32_t ssrc, const char *cname,
                              const char *tool) {
  if (!cname) return RMP_ERTCP_INVAL;
  size_t cl = strlen(cname), tl = tool ? strlen(tool) : 0;
  if (cl > 255 || tl > 255) return RMP_ERTCP_INVAL;
  rmp_rtcp_sdes_item_t items[2] = {
      {RMP_SDES_CNAME, (uint8_t)cl, (const uint8_t *)cname},
      {RMP_SDES_TOOL, (uint8_t)tl, (const uint8_t *)tool},
  };
  rmp_rtcp_sdes_chunk_t chunk = {ssrc, items, tool ? 2u : 1u};
  return rmp_rtcp_build_sdes(buf, cap, &chunk, 1);
}

int rmp_rtcp_build_bye(uint8_t *buf, size_t cap, const uint32_t *ssrcs, unsigned n,
                       const char *reason) {
  if (n > RMP_RTCP_MAX_COUNT || (n && !ssrcs)) return RMP_ERTCP_INVAL;
  size_t rl = reason ? strlen(reason) : 0;
  if (rl > 255) return RMP_ERTCP_INVAL;
  size_t len = 4u + 4u * n + (reason ? pad4(1u + rl) : 0u);
  if (!buf || cap < len) return RMP_ERTCP_NOSPACE;
  put_header(buf, n, RMP_RTCP_BYE, len);
  for (unsigned i = 0; i < n; i++) put32(buf + 4 + 4 * i, ssrcs[i]);
  if (reason) {
    size_t off = 4u + 4u * n;
    buf[off] = (uint8_t)rl;
    if (rl) memcpy(buf + off + 1, reason, rl);
    memset(buf + off + 1 + rl, 0, len - (off + 1 + rl));
  }
  return (int)len;
}

int rmp_rtcp_build_app(uint8_t *buf, size_t cap, uint8_t subtype, uint32_t ssrc,
                       const uint8_t name[4], const uint8_t *data, size_t data_len) {
  if (subtype > 31 || !name || (data_len % 4u) != 0 || (data_len && !data) ||
      data_len > MAX_PKT - 12u)
    return RMP_ERTCP_INVAL;
  size_t len = 12u + data_len;
  if (!buf || cap < len) return RMP_ERTCP_NOSPACE;
  put_header(buf, subtype, RMP_RTCP_APP, len);
  put32(buf + 4, ssrc);
  memcpy(buf + 8, name, 4);
  if (data_len) memcpy(buf + 12, data, data_len);
  return (int)len;
}

/* ---- parsing ---- */

int rmp_rtcp_parse_header(const uint8_t *buf, size_t len, rmp_rtcp_hdr_t *h) {
  if (!buf || len < 4) return RMP_ERTCP_TRUNCATED;
  if ((buf[0] >> 6) != 2) return RMP_ERTCP_VERSION;
  size_t pkt_len = ((size_t)((buf[2] << 8) | buf[3]) + 1u) * 4u;
  if (pkt_len > len) return RMP_ERTCP_TRUNCATED;
  size_t pad = 0;
  uint8_t p = (buf[0] >> 5) & 1u;
  if (p) {
    pad = buf[pkt_len - 1];
    if (pad == 0 || pad > pkt_len - 4u) return RMP_ERTCP_PADDING;
  }
  h->padding = p;
  h->count = buf[0] & 0x1fu;
  h->pt = buf[1];
  h->pkt = buf;
  h->pkt_len = pkt_len;
  h->body = buf + 4;
  h->body_len = pkt_len - 4u - pad;
  return (int)pkt_len;
}

void rmp_rtcp_iter_init(rmp_rtcp_iter_t *it, const uint8_t *buf, size_t len) {
  it->buf = buf;
  it->len = buf ? len : 0;
  it->off = 0;
}

int rmp_rtcp_iter_next(rmp_rtcp_iter_t *it, rmp_rtcp_hdr_t *h) {
  if (it->off >= it->len) return 0;
  int r = rmp_rtcp_parse_header(it->buf + it->off, it->len - it->off, h);
  if (r > 0) it->off += (size_t)r;
  return r;
}

int rmp_rtcp_validate_compound(const uint8_t *buf, size_t len) {
  if (!buf || len == 0) return RMP_ERTCP_TRUNCATED;
  if (len > 0x7fffffffu) return RMP_ERTCP_LENGTH; /* result must fit an int */
  rmp_rtcp_iter_t it;
  rmp_rtcp_hdr_t h;
  rmp_rtcp_iter_init(&it, buf, len);
  int first = 1, r;
  while ((r = rmp_rtcp_iter_next(&it, &h)) > 0) {
    if (first && h.pt != RMP_RTCP_SR && h.pt != RMP_RTCP_RR) return RMP_ERTCP_FIRST;
    first = 0;
    /* Padding is only allowed on the last packet of the compound. */
    if (h.padding && it.off != len) return RMP_ERTCP_PADDING;
  }
  if (r < 0) return r;
  /* The walk consumed exactly len bytes (each step is bounded by len). */
  return (int)len;
}

int rmp_rtcp_parse_report(const rmp_rtcp_hdr_t *h, rmp_rtcp_report_t *out) {
  if (h->pt != RMP_RTCP_SR && h->pt != RMP_RTCP_RR) return RMP_ERTCP_TYPE;
  memset(out, 0, sizeof *out);
  out->is_sr = h->pt == RMP_RTCP_SR;
  size_t fixed = out->is_sr ? 24u : 4u; /* SSRC (+ sender info) */
  size_t need = fixed + 24u * h->count;
  if (h->body_len < need) return RMP_ERTCP_LENGTH;
  const uint8_t *p = h->body;
  out->ssrc = get32(p);
  if (out->is_sr) {
    out->si.ntp = ((uint64_t)get32(p + 4) << 32) | get32(p + 8);
    out->si.rtp_ts = get32(p + 12);
    out->si.packet_count = get32(p + 16);
    out->si.octet_count = get32(p + 20);
  }
  out->n_rb = h->count;
  for (unsigned i = 0; i < out->n_rb; i++) get_rb(p + fixed + 24u * i, &out->rb[i]);
  out->ext = p + need;
  out->ext_len = h->body_len - need;
  return 0;
}

int rmp_rtcp_sdes_init(rmp_rtcp_sdes_iter_t *it, const rmp_rtcp_hdr_t *h) {
  if (h->pt != RMP_RTCP_SDES) return RMP_ERTCP_TYPE;
  it->p = h->body;
  it->len = h->body_len;
  it->off = 0;
  it->chunks_left = h->count;
  it->in_chunk = 0;
  it->ssrc = 0;
  return 0;
}

int rmp_rtcp_sdes_next(rmp_rtcp_sdes_iter_t *it, uint32_t *ssrc, rmp_rtcp_sdes_item_t *item) {
  for (;;) {
    if (!it->in_chunk) {
      if (it->chunks_left == 0) {
        /* Nothing may follow the last chunk (padding is already excluded). */
        return it->off == it->len ? 0 : RMP_ERTCP_LENGTH;
      }
      if (it->len - it->off < 4u) return RMP_ERTCP_LENGTH;
      it->ssrc = get32(it->p + it->off);
      it->off += 4;
      it->in_chunk = 1;
    }
    if (it->off >= it->len) return RMP_ERTCP_LENGTH; /* no terminating null */
    uint8_t type = it->p[it->off];
    if (type == RMP_SDES_END) {
      /* End of the item list: skip the null octet(s) up to the next 32-bit
       * boundary (chunks start on 32-bit boundaries within the body). */
      size_t end = pad4(it->off + 1u);
      if (end > it->len) return RMP_ERTCP_LENGTH;
      it->off = end;
      it->in_chunk = 0;
      it->chunks_left--;
      continue;
    }
    if (it->len - it->off < 2u) return RMP_ERTCP_LENGTH;
    uint8_t ilen = it->p[it->off + 1];
    if (it->len - it->off - 2u < ilen) return RMP_ERTCP_LENGTH;
    item->type = type;
    item->len = ilen;
    item->data = it->p + it->off + 2;
    it->off += 2u + ilen;
    if (ssrc) *ssrc = it->ssrc;
    return 1;
  }
}

int rmp_rtcp_parse_bye(const rmp_rtcp_hdr_t *h, rmp_rtcp_bye_t *out) {
  if (h->pt != RMP_RTCP_BYE) return RMP_ERTCP_TYPE;
  memset(out, 0, sizeof *out);
  size_t need = 4u * h->count;
  if (h->body_len < need) return RMP_ERTCP_LENGTH;
  out->n_ssrc = h->count;
  for (unsigned i = 0; i < out->n_ssrc; i++) out->ssrc[i] = get32(h->body + 4u * i);
  if (h->body_len > need) {
    uint8_t rl = h->body[need];
    if (h->body_len - need - 1u < rl) return RMP_ERTCP_LENGTH;
    out->has_reason = 1;
    out->reason_len = rl;
    out->reason = h->body + need + 1;
  }
  return 0;
}

int rmp_rtcp_parse_app(const rmp_rtcp_hdr_t *h, rmp_rtcp_app_t *out) {
  if (h->pt != RMP_RTCP_APP) return RMP_ERTCP_TYPE;
  if (h->body_len < 8u) return RMP_ERTCP_LENGTH;
  out->subtype = h->count;
  out->ssrc = get32(h->body);
  memcpy(out->name, h->body + 4, 4);
  out->data = h->body + 8;
  out->data_len = h->body_len - 8u;
  return 0;
}

/* ---- time helpers ---- */

#define NTP_UNIX_OFFSET 2208988800u /* seconds from 1900-01-01 to 1970-01-01 */

uint64_t rmp_ntp_from_unix_us(uint64_t unix_us) {
  uint64_t sec = unix_us / 1000000u + NTP_UNIX_OFFSET;
  uint64_t us = unix_us % 1000000u;
  uint64_t frac = (us << 32) / 1000000u; /* us < 2^20, so no overflow */
  return (sec << 32) | frac;             /* seconds wrap mod 2^32 (NTP eras) */
}

uint32_t rmp_ntp_mid32(uint64_t ntp) { return (uint32_t)(ntp >> 16); }

uint32_t rmp_rtcp_dlsr_from_us(uint64_t delay_us) {
  uint64_t sec = delay_us / 1000000u, rem = delay_us % 1000000u;
  if (sec >= 65536u) return UINT32_MAX;
  return (uint32_t)((sec << 16) + (rem << 16) / 1000000u);
}

uint64_t rmp_rtcp_units_to_us(uint32_t units) {
  return ((uint64_t)units * 1000000u + 32768u) >> 16;
}

int rmp_rtcp_rtt(uint32_t arrival_mid32, uint32_t lsr, uint32_t dlsr, uint32_t *rtt) {
  if (lsr == 0) return RMP_ERTCP_NORTT;
  uint32_t since = arrival_mid32 - lsr; /* mod 2^32 */
  if (since < dlsr || since > 0x7fffffffu) return RMP_ERTCP_NORTT;
  *rtt = since - dlsr;
  return 0;
}

/* ---- transmission interval ---- */

uint64_t rmp_rtcp_interval_us(uint32_t members, uint32_t senders, double rtcp_bw, int we_sent,
                              double avg_rtcp_size, int initial, double min_interval_s,
                              double rand01) {
  const double sender_fraction = 0.25, receiver_fraction = 0.75;
  const double compensation = 2.71828182845904523536 - 1.5;
  double min_time = min_interval_s > 0 ? min_interval_s : 5.0;
  if (initial) min_time /= 2;
  if (members == 0) members = 1;
  if (senders > members) senders = members;

  /* Senders get a quarter of the bandwidth when they are at most a quarter of
   * the members; the interval is then computed for our group only. */
  double n = members, bw = rtcp_bw;
  if ((double)senders <= (double)members * sender_fraction) {
    if (we_sent) {
      bw *= sender_fraction;
      n = senders;
    } else {
      bw *= receiver_fraction;
      n = (double)(members - senders);
    }
  }
  double t = bw > 0 ? avg_rtcp_size * n / bw : 0;
  if (!(t >= min_time)) t = min_time; /* also catches NaN */
  if (!(rand01 >= 0)) rand01 = 0;
  if (rand01 > 1) rand01 = 1;
  t = t * (rand01 + 0.5) / compensation;
  double us = t * 1e6 + 0.5;
  if (us >= 18446744073709549568.0) return UINT64_MAX;
  return (uint64_t)us;
}

double rmp_rtcp_avg_size(double avg, size_t packet_size) {
  return avg + ((double)packet_size - avg) / 16.0;
}

const char *rmp_rtcp_strerror(int err) {
  if (err >= 0) return "ok";
  switch (err) {
  case RMP_ERTCP_TRUNCATED: return "truncated (a length points past the end)";
  case RMP_ERTCP_VERSION: return "version is not 2";
  case RMP_ERTCP_FIRST: return "compound does not start with SR or RR";
  case RMP_ERTCP_PADDING: return "bad padding";
  case RMP_ERTCP_LENGTH: return "body does not fit its count";
  case RMP_ERTCP_NOSPACE: return "output buffer too small";
  case RMP_ERTCP_INVAL: return "argument out of range";
  case RMP_ERTCP_TYPE: return "wrong packet type";
  case RMP_ERTCP_NORTT: return "round-trip time not computable";
  default: return "unknown error";
  }
}
