/* Tests for rtcp: byte vectors written out by hand from RFC 3550 6.4-6.7,
 * compound validation (A.2), truncation at every length, per-type parsers,
 * NTP/DLSR/RTT helpers and the A.7 transmission interval. Run under
 * -fsanitize=address,undefined: truncated inputs are copied to exact-size
 * heap buffers so any read past the end is caught. */
#include "check.h"
#include "rtcp.h"

#include <stdlib.h>

/* ---- hand-written vectors ---- */

/* SR, SSRC 0x11223344, one report block. */
static const uint8_t SR1[] = {
    0x81, 0xC8, 0x00, 0x0C, /* V=2 P=0 RC=1, PT=200 SR, length 12 (52 bytes) */
    0x11, 0x22, 0x33, 0x44, /* SSRC of sender */
    0x83, 0xAA, 0x7E, 0x80, /* NTP seconds 0x83AA7E80 (1970-01-01) */
    0x80, 0x00, 0x00, 0x00, /* NTP fraction 0.5 */
    0x00, 0x01, 0x5F, 0x90, /* RTP timestamp 90000 */
    0x00, 0x00, 0x00, 0x0A, /* sender's packet count 10 */
    0x00, 0x00, 0x03, 0xE8, /* sender's octet count 1000 */
    0x55, 0x66, 0x77, 0x88, /* block 1: SSRC_1 */
    0x40, 0xFF, 0xFF, 0xFD, /* fraction lost 64/256, cumulative lost -3 (24-bit) */
    0x00, 0x01, 0x00, 0x05, /* extended highest seq: cycles 1, seq 5 */
    0x00, 0x00, 0x00, 0x20, /* interarrival jitter 32 */
    0xAA, 0xBB, 0xCC, 0xDD, /* LSR */
    0x00, 0x01, 0x80, 0x00, /* DLSR 1.5 s */
};

/* Empty RR (no report blocks), SSRC 0x0A0B0C0D. */
static const uint8_t RR0[] = {
    0x80, 0xC9, 0x00, 0x01, /* V=2 P=0 RC=0, PT=201 RR, length 1 (8 bytes) */
    0x0A, 0x0B, 0x0C, 0x0D, /* SSRC of packet sender */
};

/* RR with two report blocks, SSRC 0x0A0B0C0D. */
static const uint8_t RR2[] = {
    0x82, 0xC9, 0x00, 0x0D, /* V=2 P=0 RC=2, PT=201 RR, length 13 (56 bytes) */
    0x0A, 0x0B, 0x0C, 0x0D, /* SSRC of packet sender */
    0x00, 0x00, 0x00, 0x01, /* block 1: SSRC 1 */
    0x00, 0x00, 0x00, 0x00, /* fraction 0, cumulative 0 */
    0x00, 0x00, 0xFF, 0xFF, /* ext highest seq 65535 */
    0x00, 0x00, 0x00, 0x00, /* jitter 0 */
    0x00, 0x00, 0x00, 0x00, /* LSR 0 (no SR yet) */
    0x00, 0x00, 0x00, 0x00, /* DLSR 0 */
    0x00, 0x00, 0x00, 0x02, /* block 2: SSRC 2 */
    0xFF, 0x7F, 0xFF, 0xFF, /* fraction 255, cumulative +8388607 (max) */
    0xFF, 0xFF, 0xFF, 0xFF, /* ext highest seq 0xFFFFFFFF */
    0x12, 0x34, 0x56, 0x78, /* jitter */
    0x7E, 0x80, 0x80, 0x00, /* LSR */
    0x00, 0x00, 0x00, 0x01, /* DLSR 1/65536 s */
};

/* SDES, one chunk: CNAME "user@host", TOOL "rtpmidi". Items end on a 32-bit
 * boundary, so a whole word of nulls terminates the list. */
static const uint8_t SDES1[] = {
    0x81, 0xCA, 0x00, 0x07,                               /* V=2 SC=1, PT=202, length 7 (32 bytes) */
    0x11, 0x22, 0x33, 0x44,                               /* chunk SSRC */
    0x01, 0x09, 'u', 's', 'e', 'r', '@', 'h', 'o', 's', 't', /* CNAME, len 9 */
    0x06, 0x07, 'r', 't', 'p', 'm', 'i', 'd', 'i',       /* TOOL, len 7 */
    0x00, 0x00, 0x00, 0x00,                               /* END + padding to 32 bits */
};

/* SDES, two chunks: first CNAME "abc" + PRIV, second with no items. */
static const uint8_t SDES2[] = {
    0x82, 0xCA, 0x00, 0x07,             /* V=2 SC=2, PT=202, length 7 (32 bytes) */
    0x00, 0x00, 0x00, 0x07,             /* chunk 1 SSRC 7 */
    0x01, 0x03, 'a', 'b', 'c',          /* CNAME "abc" */
    0x08, 0x04, 0x01, 'x', 'y', 'z',    /* PRIV len 4: prefix len 1 "x", value "yz" */
    0x07, 0x00,                         /* NOTE, empty */
    0x00, 0x00, 0x00,                   /* END + pad: chunk is 4+5+6+2+3 = 20 bytes */
    0x00, 0x00, 0x00, 0x08,             /* chunk 2 SSRC 8 */
    0x00, 0x00, 0x00, 0x00,             /* END + pad (no items) */
};

/* BYE, one SSRC, no reason. */
static const uint8_t BYE1[] = {
    0x81, 0xCB, 0x00, 0x01, /* V=2 SC=1, PT=203, length 1 (8 bytes) */
    0x11, 0x22, 0x33, 0x44, /* SSRC */
};

/* BYE, two SSRCs, reason "done" (length octet + 4 chars + 3 pad). */
static const uint8_t BYE2R[] = {
    0x82, 0xCB, 0x00, 0x04,          /* V=2 SC=2, PT=203, length 4 (20 bytes) */
    0x11, 0x22, 0x33, 0x44,          /* SSRC 1 */
    0x55, 0x66, 0x77, 0x88,          /* SSRC 2 */
    0x04, 'd', 'o', 'n', 'e', 0x00, 0x00, 0x00, /* reason length 4, "done", pad */
};

/* APP, subtype 1, name "RMID", 4 data bytes. */
static const uint8_t APP1[] = {
    0x81, 0xCC, 0x00, 0x03, /* V=2 subtype=1, PT=204, length 3 (16 bytes) */
    0x11, 0x22, 0x33, 0x44, /* SSRC */
    'R', 'M', 'I', 'D',     /* name */
    0xDE, 0xAD, 0xBE, 0xEF, /* application-dependent data */
};

/* Compound SR + SDES. */
static const uint8_t SR_SDES[] = {
    0x80, 0xC8, 0x00, 0x06, /* SR, RC=0, length 6 (28 bytes) */
    0x11, 0x22, 0x33, 0x44, /* SSRC */
    0x00, 0x00, 0x00, 0x01, /* NTP seconds 1 */
    0x00, 0x00, 0x00, 0x00, /* NTP fraction 0 */
    0x00, 0x00, 0x00, 0x64, /* RTP ts 100 */
    0x00, 0x00, 0x00, 0x02, /* packets 2 */
    0x00, 0x00, 0x00, 0x10, /* octets 16 */
    0x81, 0xCA, 0x00, 0x03, /* SDES SC=1, length 3 (16 bytes) */
    0x11, 0x22, 0x33, 0x44, /* chunk SSRC */
    0x01, 0x05, 'a', 'l', 'i', 'c', 'e', /* CNAME "alice" */
    0x00,                   /* END (7 + 1 = 8, already aligned) */
};

/* Compound RR (empty) + SDES + BYE with reason, BYE padded (P=1, 4 octets). */
static const uint8_t RR_SDES_BYE[] = {
    0x80, 0xC9, 0x00, 0x01, /* RR, RC=0, length 1 */
    0x11, 0x22, 0x33, 0x44, /* SSRC */
    0x81, 0xCA, 0x00, 0x02, /* SDES SC=1, length 2 (12 bytes) */
    0x11, 0x22, 0x33, 0x44, /* chunk SSRC */
    0x01, 0x01, 'x', 0x00,  /* CNAME "x", END */
    0xA1, 0xCB, 0x00, 0x03, /* V=2 P=1 SC=1, BYE, length 3 (16 bytes incl. padding) */
    0x11, 0x22, 0x33, 0x44, /* SSRC */
    0x02, 'o', 'k', 0x00,   /* reason length 2 "ok", pad */
    0x00, 0x00, 0x00, 0x04, /* padding: 4 octets, last one is the count */
};

/* Compound RR + unknown type 205 + APP + SDES: unknown and APP are skipped. */
static const uint8_t RR_UNK_APP_SDES[] = {
    0x80, 0xC9, 0x00, 0x01, /* RR, RC=0 */
    0x11, 0x22, 0x33, 0x44,
    0x81, 0xCD, 0x00, 0x02, /* PT=205 (unknown here), FMT=1, length 2 (12 bytes) */
    0x11, 0x22, 0x33, 0x44,
    0x99, 0x99, 0x99, 0x99,
    0x80, 0xCC, 0x00, 0x02, /* APP subtype 0, length 2, no data */
    0x11, 0x22, 0x33, 0x44,
    'T', 'E', 'S', 'T',
    0x81, 0xCA, 0x00, 0x02, /* SDES SC=1, length 2 */
    0x11, 0x22, 0x33, 0x44,
    0x01, 0x01, 'y', 0x00,
};

/* ---- helpers ---- */

static uint8_t *dup_exact(const uint8_t *p, size_t n) {
  uint8_t *q = malloc(n ? n : 1);
  if (n) memcpy(q, p, n);
  return q;
}

static int validate_copy(const uint8_t *p, size_t n) {
  uint8_t *q = dup_exact(p, n);
  int r = rmp_rtcp_validate_compound(q, n);
  free(q);
  return r;
}

/* Walk a compound and run every per-type parser; returns the number of
 * packets or a negative code. Used on arbitrary input under ASan. */
static int walk_all(const uint8_t *p, size_t n) {
  rmp_rtcp_iter_t it;
  rmp_rtcp_hdr_t h;
  int r, count = 0;
  rmp_rtcp_iter_init(&it, p, n);
  while ((r = rmp_rtcp_iter_next(&it, &h)) > 0) {
    count++;
    rmp_rtcp_report_t rep;
    rmp_rtcp_bye_t bye;
    rmp_rtcp_app_t app;
    rmp_rtcp_sdes_iter_t si;
    rmp_rtcp_sdes_item_t item;
    uint32_t ssrc;
    volatile unsigned sum = 0;
    switch (h.pt) {
      case RMP_RTCP_SR:
      case RMP_RTCP_RR:
        if (rmp_rtcp_parse_report(&h, &rep) == 0)
          for (size_t i = 0; i < rep.ext_len; i++) sum += rep.ext[i];
        break;
      case RMP_RTCP_SDES:
        rmp_rtcp_sdes_init(&si, &h);
        while (rmp_rtcp_sdes_next(&si, &ssrc, &item) > 0)
          for (unsigned i = 0; i < item.len; i++) sum += item.data[i];
        break;
      case RMP_RTCP_BYE:
        if (rmp_rtcp_parse_bye(&h, &bye) == 0 && bye.has_reason)
          for (unsigned i = 0; i < bye.reason_len; i++) sum += bye.reason[i];
        break;
      case RMP_RTCP_APP:
        if (rmp_rtcp_parse_app(&h, &app) == 0)
          for (size_t i = 0; i < app.data_len; i++) sum += app.data[i];
        break;
      default:
        break;
    }
    (void)sum;
  }
  return r < 0 ? r : count;
}

/* Every proper prefix of a valid compound must be rejected, without reading
 * past it -- except prefixes that end exactly on a packet boundary, which
 * are themselves valid (shorter) compounds: RTCP cannot tell those from a
 * complete datagram, so they must be accepted with exactly that length. */
static void check_all_truncations(const uint8_t *p, size_t n) {
  int bad = 0;
  size_t next_boundary = 0;
  for (size_t l = 0; l < n; l++) {
    int r = validate_copy(p, l);
    if (l == next_boundary && l > 0) {
      if (r != (int)l) bad++;
    } else if (r >= 0) {
      bad++;
    }
    if (l == next_boundary) next_boundary += ((size_t)((p[l + 2] << 8) | p[l + 3]) + 1u) * 4u;
    uint8_t *q = dup_exact(p, l);
    walk_all(q, l);
    free(q);
  }
  CHECK_INT(bad, 0);
  CHECK_INT(next_boundary, n);
  CHECK_INT(validate_copy(p, n), (int)n);
}

/* ---- tests ---- */

static void test_parse_sr(void) {
  rmp_rtcp_hdr_t h;
  CHECK_INT(rmp_rtcp_parse_header(SR1, sizeof SR1, &h), 52);
  CHECK_INT(h.pt, RMP_RTCP_SR);
  CHECK_INT(h.count, 1);
  CHECK_INT(h.padding, 0);
  CHECK_INT(h.body_len, 48);
  rmp_rtcp_report_t r;
  CHECK_INT(rmp_rtcp_parse_report(&h, &r), 0);
  CHECK_INT(r.is_sr, 1);
  CHECK_INT(r.ssrc, 0x11223344);
  CHECK(r.si.ntp == 0x83AA7E8080000000ull);
  CHECK_INT(r.si.rtp_ts, 90000);
  CHECK_INT(r.si.packet_count, 10);
  CHECK_INT(r.si.octet_count, 1000);
  CHECK_INT(r.n_rb, 1);
  CHECK_INT(r.rb[0].ssrc, 0x55667788);
  CHECK_INT(r.rb[0].fraction_lost, 64);
  CHECK_INT(r.rb[0].cumulative_lost, -3);
  CHECK_INT(r.rb[0].ext_highest_seq, 0x00010005);
  CHECK_INT(r.rb[0].jitter, 32);
  CHECK_INT(r.rb[0].lsr, 0xAABBCCDD);
  CHECK_INT(r.rb[0].dlsr, 0x00018000);
  CHECK_INT(r.ext_len, 0);
  /* A single SR is a valid (if unusual) compound. */
  CHECK_INT(rmp_rtcp_validate_compound(SR1, sizeof SR1), 52);
  /* Wrong-type parsers refuse it. */
  rmp_rtcp_bye_t bye;
  rmp_rtcp_app_t app;
  rmp_rtcp_sdes_iter_t si;
  CHECK_INT(rmp_rtcp_parse_bye(&h, &bye), RMP_ERTCP_TYPE);
  CHECK_INT(rmp_rtcp_parse_app(&h, &app), RMP_ERTCP_TYPE);
  CHECK_INT(rmp_rtcp_sdes_init(&si, &h), RMP_ERTCP_TYPE);
}

static void test_parse_rr(void) {
  rmp_rtcp_hdr_t h;
  rmp_rtcp_report_t r;
  CHECK_INT(rmp_rtcp_parse_header(RR0, sizeof RR0, &h), 8);
  CHECK_INT(rmp_rtcp_parse_report(&h, &r), 0);
  CHECK_INT(r.is_sr, 0);
  CHECK_INT(r.ssrc, 0x0A0B0C0D);
  CHECK_INT(r.n_rb, 0);
  CHECK_INT(rmp_rtcp_validate_compound(RR0, sizeof RR0), 8);

  CHECK_INT(rmp_rtcp_parse_header(RR2, sizeof RR2, &h), 56);
  CHECK_INT(rmp_rtcp_parse_report(&h, &r), 0);
  CHECK_INT(r.n_rb, 2);
  CHECK_INT(r.rb[0].ssrc, 1);
  CHECK_INT(r.rb[0].ext_highest_seq, 65535);
  CHECK_INT(r.rb[0].lsr, 0);
  CHECK_INT(r.rb[1].ssrc, 2);
  CHECK_INT(r.rb[1].fraction_lost, 255);
  CHECK_INT(r.rb[1].cumulative_lost, 0x7fffff);
  CHECK_INT(r.rb[1].ext_highest_seq, 0xFFFFFFFFu);
  CHECK_INT(r.rb[1].jitter, 0x12345678);
  CHECK_INT(r.rb[1].lsr, 0x7E808000);
  CHECK_INT(r.rb[1].dlsr, 1);

  /* Most negative 24-bit value. */
  uint8_t rr[sizeof RR2];
  memcpy(rr, RR2, sizeof rr);
  rr[13] = 0x80; rr[14] = 0x00; rr[15] = 0x00; /* block 1 cumulative lost 0x800000 */
  rmp_rtcp_parse_header(rr, sizeof rr, &h);
  rmp_rtcp_parse_report(&h, &r);
  CHECK_INT(r.rb[0].cumulative_lost, -0x800000);

  /* RC says 2 blocks but the length holds 1: per-type parse fails. */
  memcpy(rr, RR2, sizeof rr);
  rr[3] = 0x07; /* length 7: 32 bytes = header + SSRC + 1 block */
  CHECK_INT(rmp_rtcp_parse_header(rr, sizeof rr, &h), 32);
  CHECK_INT(rmp_rtcp_parse_report(&h, &r), RMP_ERTCP_LENGTH);

  /* A profile-specific extension after the blocks is exposed. */
  static const uint8_t rr_ext[] = {
      0x80, 0xC9, 0x00, 0x02, /* RR RC=0 length 2 (12 bytes) */
      0x0A, 0x0B, 0x0C, 0x0D, /* SSRC */
      0xCA, 0xFE, 0xBA, 0xBE, /* profile-specific extension */
  };
  CHECK_INT(rmp_rtcp_parse_header(rr_ext, sizeof rr_ext, &h), 12);
  CHECK_INT(rmp_rtcp_parse_report(&h, &r), 0);
  CHECK_INT(r.ext_len, 4);
  CHECK_MEM(r.ext, r.ext_len, "\xCA\xFE\xBA\xBE", 4);
}

static void test_parse_sdes(void) {
  rmp_rtcp_hdr_t h;
  rmp_rtcp_sdes_iter_t si;
  rmp_rtcp_sdes_item_t item;
  uint32_t ssrc = 0;
  CHECK_INT(rmp_rtcp_parse_header(SDES1, sizeof SDES1, &h), 32);
  CHECK_INT(rmp_rtcp_sdes_init(&si, &h), 0);
  CHECK_INT(rmp_rtcp_sdes_next(&si, &ssrc, &item), 1);
  CHECK_INT(ssrc, 0x11223344);
  CHECK_INT(item.type, RMP_SDES_CNAME);
  CHECK_MEM(item.data, item.len, "user@host", 9);
  CHECK_INT(rmp_rtcp_sdes_next(&si, &ssrc, &item), 1);
  CHECK_INT(item.type, RMP_SDES_TOOL);
  CHECK_MEM(item.data, item.len, "rtpmidi", 7);
  CHECK_INT(rmp_rtcp_sdes_next(&si, &ssrc, &item), 0);
  CHECK_INT(rmp_rtcp_sdes_next(&si, &ssrc, &item), 0); /* stays at end */

  CHECK_INT(rmp_rtcp_parse_header(SDES2, sizeof SDES2, &h), 32);
  rmp_rtcp_sdes_init(&si, &h);
  CHECK_INT(rmp_rtcp_sdes_next(&si, &ssrc, &item), 1);
  CHECK_INT(ssrc, 7);
  CHECK_INT(item.type, RMP_SDES_CNAME);
  CHECK_MEM(item.data, item.len, "abc", 3);
  CHECK_INT(rmp_rtcp_sdes_next(&si, &ssrc, &item), 1);
  CHECK_INT(item.type, RMP_SDES_PRIV);
  CHECK_MEM(item.data, item.len, "\x01xyz", 4);
  CHECK_INT(rmp_rtcp_sdes_next(&si, &ssrc, &item), 1);
  CHECK_INT(item.type, RMP_SDES_NOTE);
  CHECK_INT(item.len, 0);
  CHECK_INT(rmp_rtcp_sdes_next(&si, &ssrc, &item), 0); /* chunk 2 has no items */
  CHECK_INT(si.chunks_left, 0);

  /* Malformed: no END octet before the end of the body. */
  static const uint8_t no_end[] = {
      0x81, 0xCA, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, /* SC=1, len 2, SSRC 1 */
      0x01, 0x02, 'a', 'b',                           /* CNAME "ab", no null */
  };
  rmp_rtcp_parse_header(no_end, sizeof no_end, &h);
  rmp_rtcp_sdes_init(&si, &h);
  CHECK_INT(rmp_rtcp_sdes_next(&si, &ssrc, &item), 1);
  CHECK_INT(rmp_rtcp_sdes_next(&si, &ssrc, &item), RMP_ERTCP_LENGTH);
  /* Malformed: item length past the body. */
  static const uint8_t item_long[] = {
      0x81, 0xCA, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01,
      0x01, 0x09, 'a', 'b', /* CNAME says 9 octets, 2 present */
  };
  rmp_rtcp_parse_header(item_long, sizeof item_long, &h);
  rmp_rtcp_sdes_init(&si, &h);
  CHECK_INT(rmp_rtcp_sdes_next(&si, &ssrc, &item), RMP_ERTCP_LENGTH);
  /* Malformed: SC says 2 chunks, only 1 present. */
  uint8_t two[sizeof SDES1];
  memcpy(two, SDES1, sizeof two);
  two[0] = 0x82;
  rmp_rtcp_parse_header(two, sizeof two, &h);
  rmp_rtcp_sdes_init(&si, &h);
  CHECK_INT(rmp_rtcp_sdes_next(&si, &ssrc, &item), 1);
  CHECK_INT(rmp_rtcp_sdes_next(&si, &ssrc, &item), 1);
  CHECK_INT(rmp_rtcp_sdes_next(&si, &ssrc, &item), RMP_ERTCP_LENGTH);
  /* Malformed: SC says 0 chunks but there is data. */
  two[0] = 0x80;
  rmp_rtcp_parse_header(two, sizeof two, &h);
  rmp_rtcp_sdes_init(&si, &h);
  CHECK_INT(rmp_rtcp_sdes_next(&si, &ssrc, &item), RMP_ERTCP_LENGTH);
}

static void test_parse_bye_app(void) {
  rmp_rtcp_hdr_t h;
  rmp_rtcp_bye_t b;
  CHECK_INT(rmp_rtcp_parse_header(BYE1, sizeof BYE1, &h), 8);
  CHECK_INT(rmp_rtcp_parse_bye(&h, &b), 0);
  CHECK_INT(b.n_ssrc, 1);
  CHECK_INT(b.ssrc[0], 0x11223344);
  CHECK_INT(b.has_reason, 0);

  CHECK_INT(rmp_rtcp_parse_header(BYE2R, sizeof BYE2R, &h), 20);
  CHECK_INT(rmp_rtcp_parse_bye(&h, &b), 0);
  CHECK_INT(b.n_ssrc, 2);
  CHECK_INT(b.ssrc[1], 0x55667788);
  CHECK_INT(b.has_reason, 1);
  CHECK_MEM(b.reason, b.reason_len, "done", 4);

  uint8_t bad[sizeof BYE2R];
  memcpy(bad, BYE2R, sizeof bad);
  bad[12] = 8; /* reason length 8 but only 7 octets follow */
  rmp_rtcp_parse_header(bad, sizeof bad, &h);
  CHECK_INT(rmp_rtcp_parse_bye(&h, &b), RMP_ERTCP_LENGTH);
  bad[12] = 7; /* exactly fits */
  rmp_rtcp_parse_header(bad, sizeof bad, &h);
  CHECK_INT(rmp_rtcp_parse_bye(&h, &b), 0);
  CHECK_INT(b.reason_len, 7);
  memcpy(bad, BYE1, sizeof BYE1);
  bad[0] = 0x83; /* SC=3 but one SSRC */
  rmp_rtcp_parse_header(bad, sizeof BYE1, &h);
  CHECK_INT(rmp_rtcp_parse_bye(&h, &b), RMP_ERTCP_LENGTH);

  rmp_rtcp_app_t a;
  CHECK_INT(rmp_rtcp_parse_header(APP1, sizeof APP1, &h), 16);
  CHECK_INT(rmp_rtcp_parse_app(&h, &a), 0);
  CHECK_INT(a.subtype, 1);
  CHECK_INT(a.ssrc, 0x11223344);
  CHECK_MEM(a.name, 4, "RMID", 4);
  CHECK_MEM(a.data, a.data_len, "\xDE\xAD\xBE\xEF", 4);
  static const uint8_t app_short[] = {0x80, 0xCC, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44};
  rmp_rtcp_parse_header(app_short, sizeof app_short, &h);
  CHECK_INT(rmp_rtcp_parse_app(&h, &a), RMP_ERTCP_LENGTH);
}

static void test_compounds(void) {
  rmp_rtcp_iter_t it;
  rmp_rtcp_hdr_t h;

  CHECK_INT(rmp_rtcp_validate_compound(SR_SDES, sizeof SR_SDES), 44);
  rmp_rtcp_iter_init(&it, SR_SDES, sizeof SR_SDES);
  CHECK_INT(rmp_rtcp_iter_next(&it, &h), 28);
  CHECK_INT(h.pt, RMP_RTCP_SR);
  rmp_rtcp_report_t r;
  CHECK_INT(rmp_rtcp_parse_report(&h, &r), 0);
  CHECK(r.si.ntp == 0x0000000100000000ull);
  CHECK_INT(r.si.rtp_ts, 100);
  CHECK_INT(r.si.packet_count, 2);
  CHECK_INT(r.si.octet_count, 16);
  CHECK_INT(rmp_rtcp_iter_next(&it, &h), 16);
  CHECK_INT(h.pt, RMP_RTCP_SDES);
  rmp_rtcp_sdes_iter_t si;
  rmp_rtcp_sdes_item_t item;
  uint32_t ssrc;
  rmp_rtcp_sdes_init(&si, &h);
  CHECK_INT(rmp_rtcp_sdes_next(&si, &ssrc, &item), 1);
  CHECK_MEM(item.data, item.len, "alice", 5);
  CHECK_INT(rmp_rtcp_sdes_next(&si, &ssrc, &item), 0);
  CHECK_INT(rmp_rtcp_iter_next(&it, &h), 0);
  CHECK_INT(walk_all(SR_SDES, sizeof SR_SDES), 2);

  CHECK_INT(rmp_rtcp_validate_compound(RR_SDES_BYE, sizeof RR_SDES_BYE), 36);
  rmp_rtcp_iter_init(&it, RR_SDES_BYE, sizeof RR_SDES_BYE);
  CHECK_INT(rmp_rtcp_iter_next(&it, &h), 8);
  CHECK_INT(h.pt, RMP_RTCP_RR);
  CHECK_INT(rmp_rtcp_iter_next(&it, &h), 12);
  CHECK_INT(h.pt, RMP_RTCP_SDES);
  CHECK_INT(rmp_rtcp_iter_next(&it, &h), 16);
  CHECK_INT(h.pt, RMP_RTCP_BYE);
  CHECK_INT(h.padding, 1);
  CHECK_INT(h.body_len, 8); /* 12 - 4 padding */
  rmp_rtcp_bye_t b;
  CHECK_INT(rmp_rtcp_parse_bye(&h, &b), 0);
  CHECK_MEM(b.reason, b.reason_len, "ok", 2);
  CHECK_INT(rmp_rtcp_iter_next(&it, &h), 0);

  CHECK_INT(rmp_rtcp_validate_compound(RR_UNK_APP_SDES, sizeof RR_UNK_APP_SDES), 44);
  CHECK_INT(walk_all(RR_UNK_APP_SDES, sizeof RR_UNK_APP_SDES), 4);
  rmp_rtcp_iter_init(&it, RR_UNK_APP_SDES, sizeof RR_UNK_APP_SDES);
  rmp_rtcp_iter_next(&it, &h);
  CHECK_INT(rmp_rtcp_iter_next(&it, &h), 12);
  CHECK_INT(h.pt, 205);
  CHECK_INT(rmp_rtcp_iter_next(&it, &h), 12);
  CHECK_INT(h.pt, RMP_RTCP_APP);
  rmp_rtcp_app_t a;
  CHECK_INT(rmp_rtcp_parse_app(&h, &a), 0);
  CHECK_INT(a.data_len, 0);
  CHECK_INT(rmp_rtcp_iter_next(&it, &h), 12);
  CHECK_INT(h.pt, RMP_RTCP_SDES);
}

static void test_validation_errors(void) {
  uint8_t b[64];

  /* Truncation at every length, for every vector (single packets and compounds). */
  check_all_truncations(SR1, sizeof SR1);
  check_all_truncations(RR0, sizeof RR0);
  check_all_truncations(RR2, sizeof RR2);
  check_all_truncations(SR_SDES, sizeof SR_SDES);
  check_all_truncations(RR_SDES_BYE, sizeof RR_SDES_BYE);
  check_all_truncations(RR_UNK_APP_SDES, sizeof RR_UNK_APP_SDES);
  /* SDES/BYE/APP alone are not valid compounds (first must be SR/RR)... */
  CHECK_INT(rmp_rtcp_validate_compound(SDES1, sizeof SDES1), RMP_ERTCP_FIRST);
  CHECK_INT(rmp_rtcp_validate_compound(BYE1, sizeof BYE1), RMP_ERTCP_FIRST);
  CHECK_INT(rmp_rtcp_validate_compound(APP1, sizeof APP1), RMP_ERTCP_FIRST);
  /* ...but each packet alone is parsed by the header parser, and no prefix is. */
  const uint8_t *single[] = {SDES1, SDES2, BYE1, BYE2R, APP1};
  const size_t single_len[] = {sizeof SDES1, sizeof SDES2, sizeof BYE1, sizeof BYE2R, sizeof APP1};
  for (unsigned k = 0; k < 5; k++) {
    rmp_rtcp_hdr_t h;
    int bad = 0;
    for (size_t l = 0; l < single_len[k]; l++) {
      uint8_t *q = dup_exact(single[k], l);
      if (rmp_rtcp_parse_header(q, l, &h) != RMP_ERTCP_TRUNCATED) bad++;
      walk_all(q, l);
      free(q);
    }
    CHECK_INT(bad, 0);
    CHECK_INT(rmp_rtcp_parse_header(single[k], single_len[k], &h), (int)single_len[k]);
  }

  /* Length of the last packet points one word past the end. */
  memcpy(b, SR_SDES, sizeof SR_SDES);
  b[31] = 0x04;
  CHECK_INT(validate_copy(b, sizeof SR_SDES), RMP_ERTCP_TRUNCATED);
  /* Length of the first packet points far past the end. */
  memcpy(b, SR_SDES, sizeof SR_SDES);
  b[2] = 0xFF; b[3] = 0xFF;
  CHECK_INT(validate_copy(b, sizeof SR_SDES), RMP_ERTCP_TRUNCATED);
  /* Length too short: the SR's length 5 makes the rest misaligned garbage. */
  memcpy(b, SR_SDES, sizeof SR_SDES);
  b[3] = 0x05; /* 24 bytes; next "header" is 00 00 00 10 -> version 0 */
  CHECK_INT(validate_copy(b, sizeof SR_SDES), RMP_ERTCP_VERSION);
  /* Trailing bytes after the last packet. */
  memcpy(b, RR0, sizeof RR0);
  b[8] = 0x80; b[9] = 0xC9;
  CHECK_INT(validate_copy(b, sizeof RR0 + 2), RMP_ERTCP_TRUNCATED);
  memset(b + 8, 0, 4);
  CHECK_INT(validate_copy(b, sizeof RR0 + 4), RMP_ERTCP_VERSION);
  /* Wrong version on the first and on a later packet. */
  memcpy(b, SR_SDES, sizeof SR_SDES);
  b[0] = 0x40;
  CHECK_INT(validate_copy(b, sizeof SR_SDES), RMP_ERTCP_VERSION);
  memcpy(b, SR_SDES, sizeof SR_SDES);
  b[28] = 0xC1; /* V=3 */
  CHECK_INT(validate_copy(b, sizeof SR_SDES), RMP_ERTCP_VERSION);
  /* First packet not SR/RR: SDES first. */
  memcpy(b, SDES1, sizeof SDES1);
  memcpy(b + sizeof SDES1, RR0, sizeof RR0);
  CHECK_INT(validate_copy(b, sizeof SDES1 + sizeof RR0), RMP_ERTCP_FIRST);
  /* Padding on a packet that is not the last: P set on the SR of SR+SDES,
   * with its last octet (octet count low byte 0x10 = 16) as a valid count. */
  memcpy(b, SR_SDES, sizeof SR_SDES);
  b[0] = 0xA0;
  CHECK_INT(validate_copy(b, sizeof SR_SDES), RMP_ERTCP_PADDING);
  /* Padding count 0, and padding count larger than the packet body. */
  memcpy(b, RR_SDES_BYE, sizeof RR_SDES_BYE);
  b[sizeof RR_SDES_BYE - 1] = 0;
  CHECK_INT(validate_copy(b, sizeof RR_SDES_BYE), RMP_ERTCP_PADDING);
  b[sizeof RR_SDES_BYE - 1] = 13; /* body is 12 octets */
  CHECK_INT(validate_copy(b, sizeof RR_SDES_BYE), RMP_ERTCP_PADDING);
  b[sizeof RR_SDES_BYE - 1] = 12; /* whole body is padding: allowed */
  CHECK_INT(validate_copy(b, sizeof RR_SDES_BYE), (int)sizeof RR_SDES_BYE);
  /* A lone padded RR is accepted (first and last). */
  static const uint8_t rr_pad[] = {0xA0, 0xC9, 0x00, 0x02, 0x0A, 0x0B, 0x0C, 0x0D,
                                   0x00, 0x00, 0x00, 0x04};
  CHECK_INT(validate_copy(rr_pad, sizeof rr_pad), 12);
  CHECK_INT(rmp_rtcp_validate_compound(NULL, 0), RMP_ERTCP_TRUNCATED);
}

static void test_fuzz(void) {
  /* Pseudo-random inputs (fixed LCG) built from valid headers with random
   * counts/lengths/contents: must never crash or read out of bounds. */
  uint32_t x = 12345;
  int accepted = 0;
  for (int iter = 0; iter < 20000; iter++) {
    size_t n = 0;
    uint8_t tmp[96];
    x = x * 1103515245u + 12345u;
    size_t len = (x >> 16) % sizeof tmp;
    for (size_t i = 0; i < len; i++) {
      x = x * 1103515245u + 12345u;
      tmp[i] = (uint8_t)(x >> 16);
    }
    /* bias towards plausible headers: every 4th octet group starts V=2 */
    for (size_t i = 0; i + 4 <= len; i += 4 * (1 + (tmp[i] & 3))) {
      tmp[i] = (uint8_t)(0x80 | (tmp[i] & 0x3f));
      tmp[i + 1] = (uint8_t)(200 + (tmp[i + 1] % 6));
      tmp[i + 2] = 0;
      tmp[i + 3] = (uint8_t)(tmp[i + 3] % 8);
    }
    n = len;
    uint8_t *q = dup_exact(tmp, n);
    if (rmp_rtcp_validate_compound(q, n) >= 0) accepted++;
    walk_all(q, n);
    free(q);
  }
  /* Mutations of the valid vectors: 1-3 random bytes replaced. */
  const uint8_t *vec[] = {SR1, RR2, SR_SDES, RR_SDES_BYE, RR_UNK_APP_SDES};
  const size_t vec_len[] = {sizeof SR1, sizeof RR2, sizeof SR_SDES, sizeof RR_SDES_BYE,
                            sizeof RR_UNK_APP_SDES};
  for (unsigned k = 0; k < 5; k++) {
    for (int iter = 0; iter < 4000; iter++) {
      uint8_t *q = dup_exact(vec[k], vec_len[k]);
      x = x * 1103515245u + 12345u;
      int flips = 1 + (int)((x >> 16) % 3);
      for (int f = 0; f < flips; f++) {
        x = x * 1103515245u + 12345u;
        size_t pos = (x >> 16) % vec_len[k];
        x = x * 1103515245u + 12345u;
        q[pos] = (uint8_t)(x >> 16);
      }
      if (rmp_rtcp_validate_compound(q, vec_len[k]) >= 0) accepted++;
      walk_all(q, vec_len[k]);
      free(q);
    }
  }
  CHECK(accepted > 0); /* the point is surviving ASan/UBSan */
}

/* ---- builders against the hand vectors ---- */

static void test_build(void) {
  uint8_t b[256];
  rmp_rtcp_sender_info_t si = {0x83AA7E8080000000ull, 90000, 10, 1000};
  rmp_rtcp_rb_t rb = {0x55667788, 64, -3, 0x00010005, 32, 0xAABBCCDD, 0x00018000};
  CHECK_INT(rmp_rtcp_build_sr(b, sizeof b, 0x11223344, &si, &rb, 1), 52);
  CHECK_MEM(b, 52, SR1, sizeof SR1);
  CHECK_INT(rmp_rtcp_build_sr(b, 51, 0x11223344, &si, &rb, 1), RMP_ERTCP_NOSPACE);
  rmp_rtcp_rb_t many[32];
  memset(many, 0, sizeof many);
  CHECK_INT(rmp_rtcp_build_sr(b, sizeof b, 1, &si, many, 32), RMP_ERTCP_INVAL);
  CHECK_INT(rmp_rtcp_build_rr(b, sizeof b, 1, many, 32), RMP_ERTCP_INVAL);
  {
    uint8_t big[28 + 24 * 31];
    CHECK_INT(rmp_rtcp_build_sr(big, sizeof big, 1, &si, many, 31), (int)sizeof big);
    CHECK_INT(big[0], 0x9F); /* V=2 RC=31 */
    CHECK_INT(big[3], (sizeof big) / 4 - 1);
    rmp_rtcp_hdr_t h;
    rmp_rtcp_report_t r;
    rmp_rtcp_parse_header(big, sizeof big, &h);
    CHECK_INT(rmp_rtcp_parse_report(&h, &r), 0);
    CHECK_INT(r.n_rb, 31);
  }

  CHECK_INT(rmp_rtcp_build_rr(b, sizeof b, 0x0A0B0C0D, NULL, 0), 8);
  CHECK_MEM(b, 8, RR0, sizeof RR0);
  rmp_rtcp_rb_t rbs[2] = {
      {1, 0, 0, 65535, 0, 0, 0},
      {2, 255, 0x7fffff, 0xFFFFFFFFu, 0x12345678, 0x7E808000, 1},
  };
  CHECK_INT(rmp_rtcp_build_rr(b, sizeof b, 0x0A0B0C0D, rbs, 2), 56);
  CHECK_MEM(b, 56, RR2, sizeof RR2);
  /* cumulative lost is clamped to 24-bit signed, not truncated */
  rbs[1].cumulative_lost = 0x01000000;
  rmp_rtcp_build_rr(b, sizeof b, 0x0A0B0C0D, rbs, 2);
  CHECK_MEM(b, 56, RR2, sizeof RR2);
  rbs[1].cumulative_lost = -0x01000000;
  rmp_rtcp_build_rr(b, sizeof b, 0x0A0B0C0D, rbs, 2);
  CHECK_MEM(b + 37, 3, "\x80\x00\x00", 3);

  CHECK_INT(rmp_rtcp_build_sdes_cname(b, sizeof b, 0x11223344, "user@host", "rtpmidi"), 32);
  CHECK_MEM(b, 32, SDES1, sizeof SDES1);
  CHECK_INT(rmp_rtcp_build_sdes_cname(b, 31, 0x11223344, "user@host", "rtpmidi"),
            RMP_ERTCP_NOSPACE);
  rmp_rtcp_sdes_item_t items[3] = {
      {RMP_SDES_CNAME, 3, (const uint8_t *)"abc"},
      {RMP_SDES_PRIV, 4, (const uint8_t *)"\x01xyz"},
      {RMP_SDES_NOTE, 0, NULL},
  };
  rmp_rtcp_sdes_chunk_t chunks[2] = {{7, items, 3}, {8, NULL, 0}};
  memset(b, 0xEE, sizeof b); /* padding must be written as zeros */
  CHECK_INT(rmp_rtcp_build_sdes(b, sizeof b, chunks, 2), 32);
  CHECK_MEM(b, 32, SDES2, sizeof SDES2);
  items[0].type = RMP_SDES_END;
  CHECK_INT(rmp_rtcp_build_sdes(b, sizeof b, chunks, 2), RMP_ERTCP_INVAL);
  char long_name[300];
  memset(long_name, 'a', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = 0;
  CHECK_INT(rmp_rtcp_build_sdes_cname(b, sizeof b, 1, long_name, NULL), RMP_ERTCP_INVAL);
  /* SDES CNAME only: "alice" -> 7 octets of item + 1 null = 8, no extra pad */
  CHECK_INT(rmp_rtcp_build_sdes_cname(b, sizeof b, 0x11223344, "alice", NULL), 16);
  CHECK_MEM(b, 16, SR_SDES + 28, 16);

  uint32_t ssrcs[2] = {0x11223344, 0x55667788};
  CHECK_INT(rmp_rtcp_build_bye(b, sizeof b, ssrcs, 1, NULL), 8);
  CHECK_MEM(b, 8, BYE1, sizeof BYE1);
  memset(b, 0xEE, sizeof b);
  CHECK_INT(rmp_rtcp_build_bye(b, sizeof b, ssrcs, 2, "done"), 20);
  CHECK_MEM(b, 20, BYE2R, sizeof BYE2R);
  CHECK_INT(rmp_rtcp_build_bye(b, 19, ssrcs, 2, "done"), RMP_ERTCP_NOSPACE);
  /* empty reason: length octet 0 + 3 pad */
  CHECK_INT(rmp_rtcp_build_bye(b, sizeof b, ssrcs, 1, ""), 12);
  CHECK_MEM(b, 12, "\x81\xCB\x00\x02\x11\x22\x33\x44\x00\x00\x00\x00", 12);

  static const uint8_t name[4] = {'R', 'M', 'I', 'D'};
  static const uint8_t data[4] = {0xDE, 0xAD, 0xBE, 0xEF};
  CHECK_INT(rmp_rtcp_build_app(b, sizeof b, 1, 0x11223344, name, data, 4), 16);
  CHECK_MEM(b, 16, APP1, sizeof APP1);
  CHECK_INT(rmp_rtcp_build_app(b, sizeof b, 1, 0x11223344, name, data, 3), RMP_ERTCP_INVAL);
  CHECK_INT(rmp_rtcp_build_app(b, sizeof b, 32, 0x11223344, name, data, 4), RMP_ERTCP_INVAL);

  /* Compound by concatenation: RR + SDES + BYE equals the hand vector minus
   * the BYE padding (builders never pad). */
  size_t off = 0;
  int r = rmp_rtcp_build_rr(b, sizeof b, 0x11223344, NULL, 0);
  off += (size_t)r;
  rmp_rtcp_sdes_item_t cx = {RMP_SDES_CNAME, 1, (const uint8_t *)"x"};
  rmp_rtcp_sdes_chunk_t ch = {0x11223344, &cx, 1};
  r = rmp_rtcp_build_sdes(b + off, sizeof b - off, &ch, 1);
  off += (size_t)r;
  r = rmp_rtcp_build_bye(b + off, sizeof b - off, ssrcs, 1, "ok");
  off += (size_t)r;
  CHECK_INT(off, 32);
  CHECK_MEM(b, 20, RR_SDES_BYE, 20);
  CHECK_MEM(b + 20, 4, "\x81\xCB\x00\x02", 4); /* BYE, P=0, length 2 */
  CHECK_MEM(b + 24, 8, RR_SDES_BYE + 24, 8);
  CHECK_INT(rmp_rtcp_validate_compound(b, off), 32);
}

static void test_time(void) {
  /* Unix epoch = NTP 2208988800 s = 0x83AA7E80. */
  CHECK(rmp_ntp_from_unix_us(0) == 0x83AA7E8000000000ull);
  CHECK(rmp_ntp_from_unix_us(500000) == 0x83AA7E8080000000ull);      /* + 0.5 s */
  CHECK(rmp_ntp_from_unix_us(1) == 0x83AA7E80000010C6ull);           /* 2^32/1e6 = 4294.97 -> 4294 */
  CHECK(rmp_ntp_from_unix_us(1250000) == 0x83AA7E8140000000ull);     /* + 1.25 s */
  /* NTP era 1 starts at Unix 2085978496 s (2036-02-07): seconds wrap to 0. */
  CHECK(rmp_ntp_from_unix_us(2085978496000000ull) == 0);
  CHECK(rmp_ntp_from_unix_us(2085978497250000ull) == 0x0000000140000000ull);
  CHECK_INT(rmp_ntp_mid32(0x83AA7E8080000000ull), 0x7E808000);
  CHECK_INT(rmp_ntp_mid32(0x0123456789ABCDEFull), 0x456789AB);

  CHECK_INT(rmp_rtcp_dlsr_from_us(1500000), 0x00018000);
  CHECK_INT(rmp_rtcp_dlsr_from_us(5250000), 0x00054000);
  CHECK_INT(rmp_rtcp_dlsr_from_us(1), 0);
  CHECK_INT(rmp_rtcp_dlsr_from_us(16), 1); /* 16 us = 1.048 units */
  CHECK_INT(rmp_rtcp_dlsr_from_us(70000ull * 1000000u), 0xFFFFFFFFu); /* saturates */
  CHECK_INT(rmp_rtcp_units_to_us(0x00018000), 1500000);
  CHECK_INT(rmp_rtcp_units_to_us(1), 15); /* 15.26 us */

  /* RFC 3550 6.4.1 example: A = 0xb7108000, LSR = 0xb7052000,
   * DLSR = 0x00054000 -> 0x00062000 (6.125 s). */
  uint32_t rtt = 0;
  CHECK_INT(rmp_rtcp_rtt(0xB7108000u, 0xB7052000u, 0x00054000u, &rtt), 0);
  CHECK_INT(rtt, 0x00062000);
  CHECK_INT(rmp_rtcp_units_to_us(rtt), 6125000);
  /* Across the 32-bit wrap of the middle bits. */
  CHECK_INT(rmp_rtcp_rtt(0x00001000u, 0xFFFFF000u, 0x00001000u, &rtt), 0);
  CHECK_INT(rtt, 0x1000);
  CHECK_INT(rmp_rtcp_rtt(0x00001000u, 0, 0, &rtt), RMP_ERTCP_NORTT);             /* no SR */
  CHECK_INT(rmp_rtcp_rtt(0xB7108000u, 0xB7052000u, 0x000C0000u, &rtt), RMP_ERTCP_NORTT); /* < 0 */
  CHECK_INT(rmp_rtcp_rtt(0xB7052000u, 0xB7052000u, 0, &rtt), 0);
  CHECK_INT(rtt, 0);
}

static void test_interval(void) {
  /* Expected values: t = max(avg * n / bw, min) * (rand + 0.5) / (e - 1.5),
   * e - 1.5 = 1.2182818284590452, rounded to microseconds. */
  /* members 2, senders 1: 1 > 2/4, so no split; t = 100*2/500 = 0.4 < 5 -> 5;
   * rand 0.5 -> 5 / 1.21828 = 4.1041407 s */
  CHECK_INT(rmp_rtcp_interval_us(2, 1, 500, 1, 100, 0, 0, 0.5), 4104141);
  CHECK_INT(rmp_rtcp_interval_us(2, 1, 500, 1, 100, 0, 5.0, 0.5), 4104141);
  /* members 100, senders 10 <= 25, we sent: bw 1000/4 = 250, n = 10;
   * t = 200*10/250 = 8; rand 0 -> 8*0.5/1.21828 = 3.2833125 s */
  CHECK_INT(rmp_rtcp_interval_us(100, 10, 1000, 1, 200, 0, 5.0, 0.0), 3283313);
  /* same as receiver: bw 750, n = 90; t = 200*90/750 = 24; rand 1 ->
   * 24*1.5/1.21828 = 29.549813 s */
  CHECK_INT(rmp_rtcp_interval_us(100, 10, 1000, 0, 200, 0, 5.0, 1.0), 29549813);
  /* initial: minimum halved to 2.5 s; rand 0.5 -> 2.5/1.21828 = 2.0520703 s */
  CHECK_INT(rmp_rtcp_interval_us(1, 0, 1000, 0, 100, 1, 0, 0.5), 2052070);
  /* reduced minimum 0.5 s: members 10, senders 5 > 2.5: t = 200*10/2000 = 1.0;
   * rand 0.25 -> 0.75/1.21828 = 0.6156211 s */
  CHECK_INT(rmp_rtcp_interval_us(10, 5, 2000, 1, 200, 0, 0.5, 0.25), 615621);
  /* random number is clamped to [0, 1] */
  CHECK_INT(rmp_rtcp_interval_us(2, 1, 500, 1, 100, 0, 5.0, 7.0),
            rmp_rtcp_interval_us(2, 1, 500, 1, 100, 0, 5.0, 1.0));
  CHECK_INT(rmp_rtcp_interval_us(2, 1, 500, 1, 100, 0, 5.0, -1.0),
            rmp_rtcp_interval_us(2, 1, 500, 1, 100, 0, 5.0, 0.0));
  /* no bandwidth: only the minimum applies */
  CHECK_INT(rmp_rtcp_interval_us(2, 1, 0, 1, 100, 0, 5.0, 0.5), 4104141);

  double avg = 100;
  avg = rmp_rtcp_avg_size(avg, 260); /* 100 + 160/16 = 110 */
  CHECK_INT((int)(avg * 1000), 110000);
  avg = rmp_rtcp_avg_size(avg, 94); /* 110 - 16/16 = 109 */
  CHECK_INT((int)(avg * 1000), 109000);
}

static void test_strerror(void) {
  CHECK(strcmp(rmp_rtcp_strerror(RMP_ERTCP_FIRST), "compound does not start with SR or RR") == 0);
  CHECK(strcmp(rmp_rtcp_strerror(0), "ok") == 0);
  CHECK(strcmp(rmp_rtcp_strerror(-1), "unknown error") == 0);
}

int main(void) {
  test_strerror();
  test_parse_sr();
  test_parse_rr();
  test_parse_sdes();
  test_parse_bye_app();
  test_compounds();
  test_validation_errors();
  test_fuzz();
  test_build();
  test_time();
  test_interval();
  return check_report();
}
