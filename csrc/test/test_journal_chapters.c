/* test_journal_chapters.c -- recovery journal wire codec against vectors
 * computed by hand from the figures of RFC 6295 (section 5, appendices A
 * and B). Every decode also runs on every truncated prefix of the vector,
 * from an exactly sized heap copy, so ASan catches any read past len. */
#include <stdlib.h>

#include "check.h"
#include "journal.h"

static uint8_t *heap_copy(const uint8_t *p, size_t n) {
  uint8_t *h = malloc(n ? n : 1);
  if (n) memcpy(h, p, n);
  return h;
}

/* Decode every strict prefix: each must fail (negative), never crash. */
#define CHECK_PREFIXES(fn, type, vec) do { \
    for (size_t k_ = 0; k_ < sizeof(vec); k_++) { \
      uint8_t *h_ = heap_copy(vec, k_); type t_; \
      CHECK(fn(h_, k_, &t_) < 0); free(h_); } \
  } while (0)

static void test_header(void) {
  /* S=1 Y=0 A=1 H=0 TOTCHAN=2 -> 1010 0010; checkpoint 0x1234 */
  static const uint8_t v[] = { 0xA2, 0x12, 0x34 };
  rmp_ej_hdr h = { 1, 0, 1, 0, 2, 0x1234 }, d;
  uint8_t out[8];
  CHECK_INT(rmp_ej_hdr_encode(&h, out, sizeof out), 3);
  CHECK_MEM(out, 3, v, 3);
  CHECK_INT(rmp_ej_hdr_decode(v, 3, &d), 3);
  CHECK(d.s == 1 && d.y == 0 && d.a == 1 && d.h == 0 && d.totchan == 2 && d.checkpoint == 0x1234);
  CHECK_INT(rmp_ej_hdr_encode(&h, out, 2), RMP_EJ_ENOSPACE);
  CHECK_PREFIXES(rmp_ej_hdr_decode, rmp_ej_hdr, v);
}

static void test_p(void) {
  /* |S=0|PROGRAM=5| |B=1|BANK-MSB=2| |X=0|BANK-LSB=3| */
  static const uint8_t v[] = { 0x05, 0x82, 0x03 };
  rmp_ej_chap_p p = { 0, 5, 1, 2, 0, 3 }, d;
  uint8_t out[8];
  CHECK_INT(rmp_ej_chap_p_encode(&p, out, sizeof out), 3);
  CHECK_MEM(out, 3, v, 3);
  CHECK_INT(rmp_ej_chap_p_decode(v, 3, &d), 3);
  CHECK(d.s == 0 && d.program == 5 && d.b == 1 && d.bank_msb == 2 && d.x == 0 && d.bank_lsb == 3);
  p.program = 128;
  CHECK_INT(rmp_ej_chap_p_encode(&p, out, sizeof out), RMP_EJ_EINVAL);
  CHECK_PREFIXES(rmp_ej_chap_p_decode, rmp_ej_chap_p, v);
}

static rmp_ej_chap_c cbuf, cdec;
static void test_c(void) {
  /* |S=1|LEN=2|                              -> 0x82
   * log 1: |S=0|NUMBER=7|  |A=0|VALUE=100|    -> 07 64
   * log 2: |S=1|NUMBER=64| |A=1|T=0|ALT=3|    -> C0 83   (toggle tool: T = 0, A.3.2)
   * log 3: |S=0|NUMBER=123||A=1|T=1|ALT=2|    -> 7B C2   (count tool: T = 1) */
  static const uint8_t v[] = { 0x82, 0x07, 0x64, 0xC0, 0x83, 0x7B, 0xC2 };
  memset(&cbuf, 0, sizeof cbuf);
  cbuf.s = 1;
  cbuf.count = 3;
  cbuf.log[0] = (rmp_ej_ctl_log){ 0, 7, RMP_EJ_TOOL_VALUE, 100 };
  cbuf.log[1] = (rmp_ej_ctl_log){ 1, 64, RMP_EJ_TOOL_TOGGLE, 3 };
  cbuf.log[2] = (rmp_ej_ctl_log){ 0, 123, RMP_EJ_TOOL_COUNT, 2 };
  uint8_t out[16];
  CHECK_INT(rmp_ej_chap_c_encode(&cbuf, out, sizeof out), 7);
  CHECK_MEM(out, 7, v, sizeof v);
  CHECK_INT(rmp_ej_chap_c_decode(v, sizeof v, &cdec), 7);
  CHECK_INT(cdec.s, 1);
  CHECK_INT(cdec.count, 3);
  CHECK(cdec.log[0].s == 0 && cdec.log[0].number == 7 && cdec.log[0].tool == RMP_EJ_TOOL_VALUE && cdec.log[0].value == 100);
  CHECK(cdec.log[1].s == 1 && cdec.log[1].number == 64 && cdec.log[1].tool == RMP_EJ_TOOL_TOGGLE && cdec.log[1].value == 3);
  CHECK(cdec.log[2].s == 0 && cdec.log[2].number == 123 && cdec.log[2].tool == RMP_EJ_TOOL_COUNT && cdec.log[2].value == 2);
  CHECK_INT(rmp_ej_chap_c_encode(&cbuf, out, 6), RMP_EJ_ENOSPACE);
  cbuf.log[1].value = 64; /* ALT is 6 bits */
  CHECK_INT(rmp_ej_chap_c_encode(&cbuf, out, sizeof out), RMP_EJ_EINVAL);
  cbuf.count = 0;
  CHECK_INT(rmp_ej_chap_c_encode(&cbuf, out, sizeof out), RMP_EJ_EINVAL);
  CHECK_PREFIXES(rmp_ej_chap_c_decode, rmp_ej_chap_c, v);
}

static rmp_ej_chap_m mbuf, mdec;
static void test_m(void) {
  /* One RPN log, PNUM 0/0 (all RPN -> U=1, all PNUM-MSB zero -> Z=1, so
   * PNUM-MSB octets are omitted):
   * header |S=1|P=0|E=0|U=1|W=0|Z=1|LENGTH=6|  -> 1001 0100 0000 0110 = 94 06
   * log    |S=1|PNUM-LSB=0|                    -> 80
   *        |J=1|K=1|L=0|M=0|N=0|T=0|V=1|R=0|   -> C2   (value tool: V = 1, A.4.2)
   *        |X=0|ENTRY-MSB=2|                   -> 02
   *        |X=0|ENTRY-LSB=0|                   -> 00 */
  static const uint8_t v1[] = { 0x94, 0x06, 0x80, 0xC2, 0x02, 0x00 };
  memset(&mbuf, 0, sizeof mbuf);
  mbuf.s = 1;
  mbuf.count = 1;
  mbuf.log[0] = (rmp_ej_param_log){ .s = 1, .q = 0, .pnum_lsb = 0, .pnum_msb = 0,
                                    .flags = RMP_EJ_M_J | RMP_EJ_M_K | RMP_EJ_M_V, .entry_msb = 2, .entry_lsb = 0 };
  uint8_t out[32];
  CHECK_INT(rmp_ej_chap_m_encode(&mbuf, out, sizeof out), 6);
  CHECK_MEM(out, 6, v1, sizeof v1);
  CHECK_INT(rmp_ej_chap_m_decode(v1, sizeof v1, &mdec), 6);
  CHECK(mdec.s == 1 && mdec.p == 0 && mdec.u == 1 && mdec.w == 0 && mdec.z == 1 && mdec.count == 1);
  CHECK(mdec.log[0].s == 1 && mdec.log[0].q == 0 && mdec.log[0].pnum_msb == 0 && mdec.log[0].pnum_lsb == 0);
  CHECK(mdec.log[0].flags == 0xC2 && mdec.log[0].entry_msb == 2 && mdec.log[0].entry_lsb == 0);
  CHECK_PREFIXES(rmp_ej_chap_m_decode, rmp_ej_chap_m, v1);

  /* Mixed NRPN 1/2 and RPN 0/1 -> U=0 W=0 Z=0, PNUM-MSB present:
   * header |S=0|P=0|E=0|U=0|W=0|Z=0|LENGTH=11|         -> 00 0B
   * log 1  |S=0|PNUM-LSB=2| |Q=1|PNUM-MSB=1|           -> 02 81
   *        |J=0|K=0|L=1|...|                            -> 20
   *        A-BUTTON |G=1|X=0|14 bits = 3|              -> 80 03
   * log 2  |S=0|PNUM-LSB=1| |Q=0|PNUM-MSB=0|           -> 01 00
   *        |J=0|K=1|...|                                -> 40
   *        |X=0|ENTRY-LSB=0x40|                        -> 40 */
  static const uint8_t v2[] = { 0x00, 0x0B, 0x02, 0x81, 0x20, 0x80, 0x03, 0x01, 0x00, 0x40, 0x40 };
  memset(&mbuf, 0, sizeof mbuf);
  mbuf.count = 2;
  mbuf.log[0] = (rmp_ej_param_log){ .q = 1, .pnum_lsb = 2, .pnum_msb = 1, .flags = RMP_EJ_M_L, .a_button = 0x8003 };
  mbuf.log[1] = (rmp_ej_param_log){ .q = 0, .pnum_lsb = 1, .pnum_msb = 0, .flags = RMP_EJ_M_K, .entry_lsb = 0x40 };
  CHECK_INT(rmp_ej_chap_m_encode(&mbuf, out, sizeof out), 11);
  CHECK_MEM(out, 11, v2, sizeof v2);
  CHECK_INT(rmp_ej_chap_m_decode(v2, sizeof v2, &mdec), 11);
  CHECK(mdec.u == 0 && mdec.w == 0 && mdec.z == 0 && mdec.count == 2);
  CHECK(mdec.log[0].q == 1 && mdec.log[0].pnum_msb == 1 && mdec.log[0].pnum_lsb == 2 && mdec.log[0].a_button == 0x8003);
  CHECK(mdec.log[1].q == 0 && mdec.log[1].pnum_lsb == 1 && mdec.log[1].entry_lsb == 0x40);
  CHECK_PREFIXES(rmp_ej_chap_m_decode, rmp_ej_chap_m, v2);

  /* PENDING octet: |S=0|P=1|...|LENGTH=3| |Q=1|PENDING=5| -> 40 03 85 */
  static const uint8_t v3[] = { 0x40, 0x03, 0x85 };
  memset(&mbuf, 0, sizeof mbuf);
  mbuf.p = 1; mbuf.pending_q = 1; mbuf.pending = 5;
  CHECK_INT(rmp_ej_chap_m_encode(&mbuf, out, sizeof out), 3);
  CHECK_MEM(out, 3, v3, sizeof v3);
  CHECK_INT(rmp_ej_chap_m_decode(v3, 3, &mdec), 3);
  CHECK(mdec.p == 1 && mdec.pending_q == 1 && mdec.pending == 5 && mdec.count == 0);

  /* LENGTH ending inside a log */
  static const uint8_t bad1[] = { 0x94, 0x05, 0x80, 0xC0, 0x02, 0x00 };
  CHECK_INT(rmp_ej_chap_m_decode(bad1, sizeof bad1, &mdec), RMP_EJ_EBADLEN);
  /* LENGTH below the header size */
  static const uint8_t bad2[] = { 0x94, 0x01 };
  CHECK_INT(rmp_ej_chap_m_decode(bad2, sizeof bad2, &mdec), RMP_EJ_EBADLEN);
  /* LENGTH past the buffer */
  uint8_t *h = heap_copy(v1, sizeof v1);
  h[1] = 0x07;
  CHECK_INT(rmp_ej_chap_m_decode(h, sizeof v1, &mdec), RMP_EJ_ETRUNC);
  free(h);
}

static void test_w(void) {
  /* |S=1|FIRST=0| |R=0|SECOND=0x40|  (bend 8192) */
  static const uint8_t v[] = { 0x80, 0x40 };
  rmp_ej_chap_w w = { 1, 0, 0, 0x40 }, d;
  uint8_t out[4];
  CHECK_INT(rmp_ej_chap_w_encode(&w, out, sizeof out), 2);
  CHECK_MEM(out, 2, v, 2);
  CHECK_INT(rmp_ej_chap_w_decode(v, 2, &d), 2);
  CHECK(d.s == 1 && d.first == 0 && d.r == 0 && d.second == 0x40);
  CHECK_PREFIXES(rmp_ej_chap_w_decode, rmp_ej_chap_w, v);
}

static rmp_ej_chap_n nbuf, ndec;
static void test_n(void) {
  /* |B=0|LEN=2| |LOW=7|HIGH=8|                   -> 02 78
   * log |S=1|NOTENUM=60| |Y=1|VELOCITY=100|      -> BC E4
   * log |S=0|NOTENUM=64| |Y=0|VELOCITY=0x50|     -> 40 50
   * OFFBITS octet 7 (notes 56-63), note 62 = 6th bit from MSB -> 02
   * OFFBITS octet 8 (notes 64-71), note 67 = 3rd bit from MSB -> 10 */
  static const uint8_t v[] = { 0x02, 0x78, 0xBC, 0xE4, 0x40, 0x50, 0x02, 0x10 };
  memset(&nbuf, 0, sizeof nbuf);
  nbuf.count = 2;
  nbuf.log[0] = (rmp_ej_note_log){ 1, 60, 1, 100 };
  nbuf.log[1] = (rmp_ej_note_log){ 0, 64, 0, 0x50 };
  nbuf.offbits[62 >> 3] |= 0x80 >> (62 & 7);
  nbuf.offbits[67 >> 3] |= 0x80 >> (67 & 7);
  uint8_t out[300];
  CHECK_INT(rmp_ej_chap_n_encode(&nbuf, out, sizeof out), 8);
  CHECK_MEM(out, 8, v, sizeof v);
  CHECK_INT(rmp_ej_chap_n_decode(v, sizeof v, &ndec), 8);
  CHECK(ndec.b == 0 && ndec.count == 2 && ndec.low == 7 && ndec.high == 8);
  CHECK(ndec.log[0].s == 1 && ndec.log[0].notenum == 60 && ndec.log[0].y == 1 && ndec.log[0].velocity == 100);
  CHECK(ndec.log[1].s == 0 && ndec.log[1].notenum == 64 && ndec.log[1].y == 0 && ndec.log[1].velocity == 0x50);
  CHECK_INT(ndec.offbits[7], 0x02);
  CHECK_INT(ndec.offbits[8], 0x10);
  CHECK_INT(ndec.offbits[0] | ndec.offbits[6] | ndec.offbits[9] | ndec.offbits[15], 0);
  CHECK_PREFIXES(rmp_ej_chap_n_decode, rmp_ej_chap_n, v);

  /* No OFFBITS: LOW=15 HIGH=1. |B=1|LEN=1| F1 |S=0|60| |Y=1|1| */
  static const uint8_t v2[] = { 0x81, 0xF1, 0x3C, 0x81 };
  memset(&nbuf, 0, sizeof nbuf);
  nbuf.b = 1;
  nbuf.count = 1;
  nbuf.log[0] = (rmp_ej_note_log){ 0, 60, 1, 1 };
  CHECK_INT(rmp_ej_chap_n_encode(&nbuf, out, sizeof out), 4);
  CHECK_MEM(out, 4, v2, sizeof v2);
  CHECK_INT(rmp_ej_chap_n_decode(v2, sizeof v2, &ndec), 4);
  CHECK(ndec.b == 1 && ndec.count == 1 && ndec.log[0].velocity == 1);

  /* Only OFFBITS: note 0 and note 127 -> LOW=0 HIGH=15, 16 octets */
  memset(&nbuf, 0, sizeof nbuf);
  nbuf.offbits[0] = 0x80;
  nbuf.offbits[15] = 0x01;
  static const uint8_t v3[] = { 0x00, 0x0F, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01 };
  CHECK_INT(rmp_ej_chap_n_encode(&nbuf, out, sizeof out), 18);
  CHECK_MEM(out, 18, v3, sizeof v3);

  /* 128 logs: LEN=127 with LOW=15 HIGH=0 */
  memset(&nbuf, 0, sizeof nbuf);
  nbuf.count = 128;
  for (int i = 0; i < 128; i++) nbuf.log[i] = (rmp_ej_note_log){ 0, (uint8_t)i, 0, 9 };
  CHECK_INT(rmp_ej_chap_n_encode(&nbuf, out, sizeof out), 258);
  CHECK_INT(out[0], 0x7F);
  CHECK_INT(out[1], 0xF0);
  CHECK_INT(rmp_ej_chap_n_decode(out, 258, &ndec), 258);
  CHECK_INT(ndec.count, 128);
  CHECK_INT(ndec.log[127].notenum, 127);
  nbuf.offbits[3] = 1; /* cannot code OFFBITS with 128 logs */
  CHECK_INT(rmp_ej_chap_n_encode(&nbuf, out, sizeof out), RMP_EJ_EINVAL);
  /* velocity 0 is not a note log */
  memset(&nbuf, 0, sizeof nbuf);
  nbuf.count = 1;
  CHECK_INT(rmp_ej_chap_n_encode(&nbuf, out, sizeof out), RMP_EJ_EINVAL);
  /* LOW > HIGH other than 15/0 and 15/1 is invalid */
  static const uint8_t bad[] = { 0x00, 0x95 };
  CHECK_INT(rmp_ej_chap_n_decode(bad, sizeof bad, &ndec), RMP_EJ_EINVAL);
}

static rmp_ej_chap_e ebuf, edec;
static rmp_ej_chap_a abuf, adec;
static void test_e_t_a(void) {
  /* E: |S=0|LEN=0| |S=0|NOTENUM=62| |V=1|VELOCITY=0x20| -> 00 3E A0 */
  static const uint8_t ve[] = { 0x00, 0x3E, 0xA0 };
  memset(&ebuf, 0, sizeof ebuf);
  ebuf.count = 1;
  ebuf.log[0] = (rmp_ej_extra_log){ 0, 62, 1, 0x20 };
  uint8_t out[300];
  CHECK_INT(rmp_ej_chap_e_encode(&ebuf, out, sizeof out), 3);
  CHECK_MEM(out, 3, ve, sizeof ve);
  CHECK_INT(rmp_ej_chap_e_decode(ve, 3, &edec), 3);
  CHECK(edec.count == 1 && edec.log[0].notenum == 62 && edec.log[0].v == 1 && edec.log[0].value == 0x20);
  CHECK_PREFIXES(rmp_ej_chap_e_decode, rmp_ej_chap_e, ve);
  /* E count form: |S=1|LEN=0| |S=1|NOTENUM=1| |V=0|COUNT=3| -> 80 81 03 */
  static const uint8_t ve2[] = { 0x80, 0x81, 0x03 };
  CHECK_INT(rmp_ej_chap_e_decode(ve2, 3, &edec), 3);
  CHECK(edec.s == 1 && edec.log[0].s == 1 && edec.log[0].notenum == 1 && edec.log[0].v == 0 && edec.log[0].value == 3);

  /* T: |S=1|PRESSURE=0x33| -> B3 */
  static const uint8_t vt[] = { 0xB3 };
  rmp_ej_chap_t t = { 1, 0x33 }, td;
  CHECK_INT(rmp_ej_chap_t_encode(&t, out, sizeof out), 1);
  CHECK_MEM(out, 1, vt, 1);
  CHECK_INT(rmp_ej_chap_t_decode(vt, 1, &td), 1);
  CHECK(td.s == 1 && td.pressure == 0x33);
  CHECK_PREFIXES(rmp_ej_chap_t_decode, rmp_ej_chap_t, vt);

  /* A: |S=0|LEN=1| |S=0|60| |X=0|0x10| |S=1|61| |X=1|0x7F| -> 01 3C 10 BD FF */
  static const uint8_t va[] = { 0x01, 0x3C, 0x10, 0xBD, 0xFF };
  memset(&abuf, 0, sizeof abuf);
  abuf.count = 2;
  abuf.log[0] = (rmp_ej_poly_log){ 0, 60, 0, 0x10 };
  abuf.log[1] = (rmp_ej_poly_log){ 1, 61, 1, 0x7F };
  CHECK_INT(rmp_ej_chap_a_encode(&abuf, out, sizeof out), 5);
  CHECK_MEM(out, 5, va, sizeof va);
  CHECK_INT(rmp_ej_chap_a_decode(va, 5, &adec), 5);
  CHECK(adec.count == 2 && adec.log[1].s == 1 && adec.log[1].notenum == 61 && adec.log[1].x == 1 && adec.log[1].pressure == 127);
  CHECK_PREFIXES(rmp_ej_chap_a_decode, rmp_ej_chap_a, va);
}

static rmp_ej_chan cj, cjd;
/* Channel 3, S=1, TOC = P|W|T, LENGTH = 3 + 3 + 2 + 1 = 9:
 * |S=1|CHAN=3|H=0|LENGTH=9| -> 1 0011 0 00 0000 1001 = 98 09; TOC 1001 0010 = 92
 * P 05 82 03, W 80 40, T B3 */
static const uint8_t vchan[] = { 0x98, 0x09, 0x92, 0x05, 0x82, 0x03, 0x80, 0x40, 0xB3 };
/* System journal: D (G: tune count 1, H: song 5 with S=1), V count 7, Q.
 * D  |S=1|B=0|G=1|H=1|J=0|K=0|Y=0|Z=0| = B0, |S=0|COUNT=1| = 01, |S=1|SONG=5| = 85
 * V  |S=0|COUNT=7| = 07
 * Q  |S=1|N=1|D=0|C=1|T=0|TOP=1| = D1, CLOCK = 00 05
 * header |S=1|D=1|V=1|Q=1|F=0|X=0|LENGTH=9| = 1111 0000 0000 1001 = F0 09 */
static const uint8_t vsys[] = { 0xF0, 0x09, 0xB0, 0x01, 0x85, 0x07, 0xD1, 0x00, 0x05 };

static void test_channel_journal(void) {
  memset(&cj, 0, sizeof cj);
  cj.s = 1; cj.chan = 3; cj.toc = RMP_EJ_TOC_P | RMP_EJ_TOC_W | RMP_EJ_TOC_T;
  cj.p = (rmp_ej_chap_p){ 0, 5, 1, 2, 0, 3 };
  cj.w = (rmp_ej_chap_w){ 1, 0, 0, 0x40 };
  cj.t = (rmp_ej_chap_t){ 1, 0x33 };
  uint8_t out[64];
  CHECK_INT(rmp_ej_chan_encode(&cj, out, sizeof out), 9);
  CHECK_MEM(out, 9, vchan, sizeof vchan);
  CHECK_INT(rmp_ej_chan_decode(vchan, sizeof vchan, &cjd), 9);
  CHECK(cjd.s == 1 && cjd.chan == 3 && cjd.h == 0 && cjd.length == 9 && cjd.toc == 0x92);
  CHECK(cjd.p.program == 5 && cjd.w.second == 0x40 && cjd.t.pressure == 0x33);
  CHECK_PREFIXES(rmp_ej_chan_decode, rmp_ej_chan, vchan);
  CHECK_INT(rmp_ej_chan_encode(&cj, out, 8), RMP_EJ_ENOSPACE);

  uint8_t *h = heap_copy(vchan, sizeof vchan);
  h[1] = 0x0A; /* LENGTH one past the end of the buffer */
  CHECK_INT(rmp_ej_chan_decode(h, sizeof vchan, &cjd), RMP_EJ_ETRUNC);
  h[1] = 0x08; /* LENGTH ends inside chapter T */
  CHECK_INT(rmp_ej_chan_decode(h, sizeof vchan, &cjd), RMP_EJ_EBADLEN);
  h[1] = 0x02; /* LENGTH below the header size */
  CHECK_INT(rmp_ej_chan_decode(h, sizeof vchan, &cjd), RMP_EJ_EBADLEN);
  free(h);
  uint8_t longer[10];
  memcpy(longer, vchan, 9);
  longer[1] = 0x0A; longer[9] = 0; /* LENGTH covers a byte no chapter uses */
  h = heap_copy(longer, 10);
  CHECK_INT(rmp_ej_chan_decode(h, 10, &cjd), RMP_EJ_EBADLEN);
  free(h);
}

static void test_system(void) {
  rmp_ej_sys sj, sd;
  memset(&sj, 0, sizeof sj);
  sj.s = 1;
  sj.toc = RMP_EJ_SYS_D | RMP_EJ_SYS_V | RMP_EJ_SYS_Q;
  sj.d.s = 1; sj.d.toc = RMP_EJ_D_G | RMP_EJ_D_H;
  sj.d.tune_count = 1; sj.d.song_s = 1; sj.d.song = 5;
  sj.v.count = 7;
  sj.q = (rmp_ej_chap_q){ 1, 1, 0, 1, 0, 0x10005, 0 };
  uint8_t out[64];
  CHECK_INT(rmp_ej_sys_encode(&sj, out, sizeof out), 9);
  CHECK_MEM(out, 9, vsys, sizeof vsys);
  CHECK_INT(rmp_ej_sys_decode(vsys, sizeof vsys, &sd), 9);
  CHECK(sd.s == 1 && sd.toc == (RMP_EJ_SYS_D | RMP_EJ_SYS_V | RMP_EJ_SYS_Q) && sd.length == 9);
  CHECK(sd.d.toc == (RMP_EJ_D_G | RMP_EJ_D_H) && sd.d.tune_count == 1 && sd.d.song_s == 1 && sd.d.song == 5);
  CHECK(sd.v.count == 7 && sd.q.n == 1 && sd.q.c == 1 && sd.q.clock == 0x10005);
  CHECK_PREFIXES(rmp_ej_sys_decode, rmp_ej_sys, vsys);

  /* F: |S=0|C=1|P=0|Q=1|D=0|POINT=7| = 57, COMPLETE 12 34 56 78 */
  static const uint8_t vf[] = { 0x57, 0x12, 0x34, 0x56, 0x78 };
  rmp_ej_chap_f f = { 0, 1, 0, 1, 0, 7, 0x12345678, 0 }, fd;
  CHECK_INT(rmp_ej_chap_f_encode(&f, out, sizeof out), 5);
  CHECK_MEM(out, 5, vf, sizeof vf);
  CHECK_INT(rmp_ej_chap_f_decode(vf, 5, &fd), 5);
  CHECK(fd.c == 1 && fd.q == 1 && fd.point == 7 && fd.complete == 0x12345678);
  CHECK_PREFIXES(rmp_ej_chap_f_decode, rmp_ej_chap_f, vf);
  /* F with PARTIAL only: |S=1|C=0|P=1|Q=0|D=1|POINT=2| = AA, PARTIAL 00 00 00 0F */
  static const uint8_t vf2[] = { 0xAA, 0x00, 0x00, 0x00, 0x0F };
  CHECK_INT(rmp_ej_chap_f_decode(vf2, 5, &fd), 5);
  CHECK(fd.s == 1 && fd.c == 0 && fd.p == 1 && fd.d == 1 && fd.point == 2 && fd.partial == 15);

  /* Q without CLOCK: |S=0|N=0|D=1|C=0|T=1|TOP=0| = 28, TIMETOOLS 01 02 03 */
  static const uint8_t vq[] = { 0x28, 0x01, 0x02, 0x03 };
  rmp_ej_chap_q qd;
  CHECK_INT(rmp_ej_chap_q_decode(vq, 4, &qd), 4);
  CHECK(qd.d == 1 && qd.c == 0 && qd.t == 1 && qd.timetools == 0x010203 && qd.clock == 0);
  CHECK_PREFIXES(rmp_ej_chap_q_decode, rmp_ej_chap_q, vq);

  /* D with J (0xF4) count field and Z (0xFD) count field:
   * |S=0|B=0|G=0|H=0|J=1|K=0|Y=0|Z=1| = 09
   * J: |S=0|C=1|V=0|L=0|DSZ=0|LENGTH=3| = 40 03, COUNT 05
   * Z: |S=0|C=1|L=0|LENGTH=2| = 42, COUNT 09 */
  static const uint8_t vd[] = { 0x09, 0x40, 0x03, 0x05, 0x42, 0x09 };
  rmp_ej_chap_d d, dd;
  memset(&d, 0, sizeof d);
  d.toc = RMP_EJ_D_J | RMP_EJ_D_Z;
  d.j.c = 1; d.j.count = 5;
  d.z.c = 1; d.z.count = 9;
  CHECK_INT(rmp_ej_chap_d_encode(&d, out, sizeof out), 6);
  CHECK_MEM(out, 6, vd, sizeof vd);
  CHECK_INT(rmp_ej_chap_d_decode(vd, 6, &dd), 6);
  CHECK(dd.j.c == 1 && dd.j.count == 5 && dd.j.length == 3 && dd.z.c == 1 && dd.z.count == 9 && dd.z.length == 2);
  CHECK_PREFIXES(rmp_ej_chap_d_decode, rmp_ej_chap_d, vd);
  /* J field with a LEGAL tail: LENGTH=5: 50 05 (C=1,L=1) COUNT 01 + 2 legal octets */
  static const uint8_t vd2[] = { 0x08, 0x50, 0x05, 0x01, 0xAA, 0xBB };
  CHECK_INT(rmp_ej_chap_d_decode(vd2, 6, &dd), 6);
  CHECK(dd.j.l == 1 && dd.j.count == 1 && dd.j.length == 5);
  /* field LENGTH past the chapter */
  static const uint8_t vd3[] = { 0x08, 0x40, 0x09, 0x01 };
  CHECK(rmp_ej_chap_d_decode(vd3, 4, &dd) < 0);

  /* System journal with chapter X spanning to its end:
   * header |S=0|D=0|V=0|Q=0|F=0|X=1|LENGTH=6| = 04 06
   * X |S=0|T=0|C=1|F=0|D=1|L=0|STA=0| = 28, COUNT 02, DATA 7E 81 (the MSB
   * marks the last DATA octet, B.5.1) */
  static const uint8_t vx[] = { 0x04, 0x06, 0x28, 0x02, 0x7E, 0x81 };
  CHECK_INT(rmp_ej_sys_decode(vx, 6, &sd), 6);
  CHECK(sd.toc == RMP_EJ_SYS_X && sd.x.c == 1 && sd.x.count == 2 && sd.x.d == 1 && sd.x.data_off == 2 && sd.x.data_len == 2);
  CHECK(sd.x.nlogs == 1 && sd.x.raw_len == 4);
  /* DATA that never ends (no octet with the MSB set) is not a log list */
  static const uint8_t vx_bad[] = { 0x04, 0x06, 0x28, 0x02, 0x7E, 0x01 };
  CHECK_INT(rmp_ej_sys_decode(vx_bad, 6, &sd), RMP_EJ_EBADLEN);
}

/* Chapter X command logs (RFC 6295 B.5.1, Figures B.5.1 and B.5.2). */
static void test_x(void) {
  uint8_t out[32];
  rmp_ej_x_log l, d;
  /* GM System On data 7E 7F 09 01, recency tool, finished:
   * |S=1|T=0|C=1|F=0|D=1|L=0|STA=3| = 1010 1011 = AB, COUNT = 05,
   * DATA 7E 7F 09 01|80 = 7E 7F 09 81 */
  static const uint8_t gm[] = { 0x7E, 0x7F, 0x09, 0x01 };
  static const uint8_t v1[] = { 0xAB, 0x05, 0x7E, 0x7F, 0x09, 0x81 };
  memset(&l, 0, sizeof l);
  l.s = 1; l.c = 1; l.d = 1; l.sta = 3; l.count = 5; l.data = gm; l.data_len = 4;
  CHECK_INT(rmp_ej_x_log_encode(&l, out, sizeof out), (int)sizeof v1);
  CHECK_MEM(out, sizeof v1, v1, sizeof v1);
  CHECK_INT(rmp_ej_x_log_encode(&l, out, sizeof v1 - 1), RMP_EJ_ENOSPACE);
  CHECK_INT(rmp_ej_x_log_decode(v1, sizeof v1, &d), (int)sizeof v1);
  CHECK(d.s == 1 && d.t == 0 && d.c == 1 && d.f == 0 && d.d == 1 && d.l == 0 && d.sta == 3 && d.count == 5);
  CHECK(d.data == v1 + 2 && d.data_len == 4 && (d.data[3] & 0x7F) == 0x01);
  CHECK_PREFIXES(rmp_ej_x_log_decode, rmp_ej_x_log, v1);
  /* every field: |S=0|T=1|C=1|F=1|D=1|L=1|STA=0| = 0111 1100 = 7C,
   * TCOUNT 10, COUNT 20, FIRST 200 = 1|0000001 0|1001000 = 81 48,
   * DATA 01 02 -> 01 82 */
  static const uint8_t dat2[] = { 0x01, 0x02 };
  static const uint8_t v2[] = { 0x7C, 0x10, 0x20, 0x81, 0x48, 0x01, 0x82 };
  memset(&l, 0, sizeof l);
  l.t = 1; l.c = 1; l.f = 1; l.d = 1; l.l = 1; l.sta = 0; l.tcount = 0x10; l.count = 0x20; l.first = 200;
  l.data = dat2; l.data_len = 2;
  CHECK_INT(rmp_ej_x_log_encode(&l, out, sizeof out), (int)sizeof v2);
  CHECK_MEM(out, sizeof v2, v2, sizeof v2);
  CHECK_INT(rmp_ej_x_log_decode(v2, sizeof v2, &d), (int)sizeof v2);
  CHECK(d.s == 0 && d.t == 1 && d.c == 1 && d.f == 1 && d.d == 1 && d.l == 1 && d.sta == 0);
  CHECK(d.tcount == 0x10 && d.count == 0x20 && d.first == 200 && d.data_len == 2);
  CHECK_PREFIXES(rmp_ej_x_log_decode, rmp_ej_x_log, v2);
  /* four-octet FIRST 0x0FFFFFFF = FF FF FF 7F; a fifth octet is invalid */
  static const uint8_t v3[] = { 0x90, 0xFF, 0xFF, 0xFF, 0x7F };
  CHECK_INT(rmp_ej_x_log_decode(v3, sizeof v3, &d), 5);
  CHECK(d.f == 1 && d.first == 0x0FFFFFFF && d.d == 0);
  static const uint8_t v3bad[] = { 0x90, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F };
  CHECK_INT(rmp_ej_x_log_decode(v3bad, sizeof v3bad, &d), RMP_EJ_EINVAL);
  /* empty SysEx F0 F7: |S=1|T=0|C=1|F=0|D=0|L=0|STA=3| = A3, COUNT 07 */
  static const uint8_t v4[] = { 0xA3, 0x07 };
  memset(&l, 0, sizeof l);
  l.s = 1; l.c = 1; l.sta = 3; l.count = 7;
  CHECK_INT(rmp_ej_x_log_encode(&l, out, sizeof out), 2);
  CHECK_MEM(out, 2, v4, 2);
  /* invalid structures to encode: D = 1 without data, a data octet > 127 */
  l.d = 1;
  CHECK_INT(rmp_ej_x_log_encode(&l, out, sizeof out), RMP_EJ_EINVAL);
  static const uint8_t hi[] = { 0x80 };
  l.data = hi; l.data_len = 1;
  CHECK_INT(rmp_ej_x_log_encode(&l, out, sizeof out), RMP_EJ_EINVAL);

  /* system journal with two logs, v1 then v4:
   * |S=1|D=0|V=0|Q=0|F=0|X=1|LENGTH=10| = 84 0A */
  static const uint8_t vs[] = { 0x84, 0x0A, 0xAB, 0x05, 0x7E, 0x7F, 0x09, 0x81, 0xA3, 0x07 };
  uint8_t *h = heap_copy(vs, sizeof vs);
  rmp_ej_sys sd;
  CHECK_INT(rmp_ej_sys_decode(h, sizeof vs, &sd), (int)sizeof vs);
  CHECK(sd.s == 1 && sd.toc == RMP_EJ_SYS_X && sd.x.nlogs == 2 && sd.x.raw == h + 2 && sd.x.raw_len == 8);
  CHECK(sd.x.s == 1 && sd.x.count == 5 && sd.x.sta == 3);
  CHECK_INT(rmp_ej_sys_encode(&sd, out, sizeof out), (int)sizeof vs);
  CHECK_MEM(out, sizeof vs, vs, sizeof vs);
  free(h);
  CHECK_PREFIXES(rmp_ej_sys_decode, rmp_ej_sys, vs);
  /* X bit set without log octets cannot be encoded */
  memset(&sd, 0, sizeof sd);
  sd.toc = RMP_EJ_SYS_X;
  CHECK_INT(rmp_ej_sys_encode(&sd, out, sizeof out), RMP_EJ_EINVAL);
  /* phantom S bit of the first log (B.5.1): one log: the chapter S bit;
   * several: OR of the first two logs' S bits */
  CHECK_INT(rmp_ej_x_log_s(0, 1, 0, 2, 0), 1);
  CHECK_INT(rmp_ej_x_log_s(0, 0, 0, 2, 0), 0);
  CHECK_INT(rmp_ej_x_log_s(0, 0, 0, 1, 0), 0);
  CHECK_INT(rmp_ej_x_log_s(0, 1, 1, 2, 1), 1);
}

static int nchan_seen;
static int count_chan(void *ud, const rmp_ej_chan *c) {
  (void)ud;
  nchan_seen++;
  CHECK_INT(c->chan, 3);
  return 0;
}

static void test_whole(void) {
  /* |S=1|Y=1|A=1|H=0|TOTCHAN=0| = E0, checkpoint 01 02, system journal, channel journal */
  uint8_t v[3 + sizeof vsys + sizeof vchan];
  v[0] = 0xE0; v[1] = 0x01; v[2] = 0x02;
  memcpy(v + 3, vsys, sizeof vsys);
  memcpy(v + 3 + sizeof vsys, vchan, sizeof vchan);
  uint8_t *h = heap_copy(v, sizeof v);
  CHECK_INT(rmp_ej_journal_size(h, sizeof v), (int)sizeof v);
  rmp_ej_hdr hd;
  rmp_ej_sys sd;
  nchan_seen = 0;
  CHECK_INT(rmp_ej_parse(h, sizeof v, &hd, &sd, &cjd, count_chan, NULL), (int)sizeof v);
  CHECK_INT(nchan_seen, 1);
  CHECK(hd.checkpoint == 0x0102 && hd.y && hd.a && sd.v.count == 7);
  free(h);
  for (size_t k = 0; k < sizeof v; k++) {
    h = heap_copy(v, k);
    CHECK(rmp_ej_journal_size(h, k) < 0);
    CHECK(rmp_ej_parse(h, k, &hd, &sd, &cjd, NULL, NULL) < 0);
    free(h);
  }
  /* TOTCHAN says two channel journals, only one present */
  v[0] = 0xE1;
  h = heap_copy(v, sizeof v);
  CHECK_INT(rmp_ej_journal_size(h, sizeof v), RMP_EJ_ETRUNC);
  CHECK_INT(rmp_ej_parse(h, sizeof v, &hd, &sd, &cjd, NULL, NULL), RMP_EJ_ETRUNC);
  free(h);
}

/* Journals sent by the Arduino AppleMIDI library, from the packets of its
 * test harness (lathoub/Arduino-AppleMIDI-Library, test/Ethernet.h at
 * 07a8f2dc: sysexMalformedTimingClock and noteOnOff), read through
 * rmp_ej_parse as the Lua codec does. */
static int n_seen;
static rmp_ej_chan n_chan;
static int keep_chan(void *ud, const rmp_ej_chan *c) {
  (void)ud;
  n_seen++;
  n_chan = *c;
  return 0;
}

static void test_captures(void) {
  /* |S=1|Y=1|A=0|H=0|TOTCHAN=0| checkpoint 0x858B; system journal S=1, Q,
   * LENGTH 5; chapter Q: S=1 N=1 D=0 C=1 T=0 TOP=0, CLOCK 0x0095 */
  static const uint8_t q[] = { 0xc0, 0x85, 0x8b, 0x90, 0x05, 0xd0, 0x00, 0x95 };
  rmp_ej_hdr hd;
  rmp_ej_sys sd;
  uint8_t *h = heap_copy(q, sizeof q);
  n_seen = 0;
  CHECK_INT(rmp_ej_parse(h, sizeof q, &hd, &sd, &cjd, keep_chan, NULL), (int)sizeof q);
  CHECK(hd.s == 1 && hd.y == 1 && hd.a == 0 && hd.checkpoint == 0x858B);
  CHECK_INT(sd.toc, RMP_EJ_SYS_Q);
  CHECK_INT(sd.length, 5);
  CHECK(sd.q.s == 1 && sd.q.n == 1 && sd.q.d == 0 && sd.q.c == 1 && sd.q.t == 0);
  CHECK_INT(sd.q.clock, 0x95);
  CHECK_INT(n_seen, 0);
  free(h);
  /* |S=0|Y=0|A=1|H=0|TOTCHAN=0| checkpoint 0x2734; channel 1 (CHAN 0),
   * LENGTH 14, chapter N: B=0 LEN=2 LOW=5 HIGH=9, logs 61 and 63 at
   * velocity 64 (S=1 Y=0), then the OFFBITS of notes 40..79 */
  static const uint8_t n[] = { 0x20, 0x27, 0x34, 0x00, 0x0e, 0x08, 0x02, 0x59, 0xbd, 0x40,
                               0xbf, 0x40, 0x15, 0xad, 0x5a, 0xdf, 0xa8 };
  h = heap_copy(n, sizeof n);
  n_seen = 0;
  CHECK_INT(rmp_ej_parse(h, sizeof n, &hd, &sd, &cjd, keep_chan, NULL), (int)sizeof n);
  CHECK(hd.s == 0 && hd.y == 0 && hd.a == 1 && hd.totchan == 0 && hd.checkpoint == 0x2734);
  CHECK_INT(sd.toc, 0);
  CHECK_INT(n_seen, 1);
  CHECK(n_chan.chan == 0 && n_chan.length == 14 && n_chan.toc == RMP_EJ_TOC_N);
  CHECK(n_chan.n.b == 0 && n_chan.n.count == 2 && n_chan.n.low == 5 && n_chan.n.high == 9);
  CHECK(n_chan.n.log[0].s == 1 && n_chan.n.log[0].notenum == 61 && n_chan.n.log[0].y == 0 &&
        n_chan.n.log[0].velocity == 64);
  CHECK(n_chan.n.log[1].notenum == 63 && n_chan.n.log[1].velocity == 64);
  CHECK_INT(n_chan.n.offbits[7], 0x5a); /* notes 57, 59, 60, 62 */
  free(h);
  CHECK(strcmp(rmp_ej_strerror(RMP_EJ_ETRUNC), "truncated") == 0);
  CHECK(strcmp(rmp_ej_strerror(3), "ok") == 0);
}

/* Random bytes through every decoder: no crash, no over-read (ASan). */
static void test_fuzz(void) {
  uint32_t x = 12345;
  int bad = 0;
  for (int it = 0; it < 20000; it++) {
    size_t n = (size_t)(it % 64);
    uint8_t *h = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) { x ^= x << 13; x ^= x >> 17; x ^= x << 5; h[i] = (uint8_t)x; }
    int r = rmp_ej_parse(h, n, NULL, NULL, &cjd, NULL, NULL);
    if (r > (int)n) bad++;
    r = rmp_ej_chan_decode(h, n, &cjd);
    if (r > (int)n) bad++;
    rmp_ej_sys sd;
    r = rmp_ej_sys_decode(h, n, &sd);
    if (r > (int)n) bad++;
    r = rmp_ej_chap_m_decode(h, n, &mdec);
    if (r > (int)n) bad++;
    r = rmp_ej_chap_n_decode(h, n, &ndec);
    if (r > (int)n) bad++;
    r = rmp_ej_journal_size(h, n);
    if (r > (int)n) bad++;
    free(h);
  }
  CHECK_INT(bad, 0);
}

int main(void) {
  test_captures();
  test_header();
  test_p();
  test_c();
  test_m();
  test_w();
  test_n();
  test_e_t_a();
  test_channel_journal();
  test_system();
  test_x();
  test_whole();
  test_fuzz();
  return check_report();
}
