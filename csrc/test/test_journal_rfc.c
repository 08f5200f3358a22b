/* test_journal_rfc.c -- the RFC 6295 MUSTs of issue 17, each on byte
 * vectors or on a virtual sender -> receiver round trip (no sockets): what
 * the sender puts on the wire, and what the receiver plays after a loss. */
#include "check.h"
#include "journal.h"

/* ---- a virtual link ------------------------------------------------------- */
typedef struct { uint8_t b[16]; uint8_t n; } msg;
#define M1(a) { { (a) }, 1 }
#define M2(a, b) { { (a), (b) }, 2 }
#define M3(a, b, c) { { (a), (b), (c) }, 3 }

static rmp_ej_sender s;
static rmp_ej_receiver r;
static uint8_t jbuf[1500];
static int jlen;

/* What the receiver played as repairs. */
static uint8_t rep[4096][3];
static uint8_t rep_len[4096];
static int nrep;
static void on_rep(void *ud, const uint8_t *m, size_t n) {
  (void)ud;
  if (nrep < 4096) {
    memset(rep[nrep], 0, 3);
    memcpy(rep[nrep], m, n < 3 ? n : 3);
    rep_len[nrep] = (uint8_t)n;
  }
  nrep++;
}
static int rep_count(uint8_t a, int b, int c) {
  int k = 0;
  for (int i = 0; i < nrep && i < 4096; i++)
    if (rep[i][0] == a && (b < 0 || rep[i][1] == b) && (c < 0 || rep[i][2] == c)) k++;
  return k;
}
static int rep_at(uint8_t a, int b, int c) {
  for (int i = 0; i < nrep && i < 4096; i++)
    if (rep[i][0] == a && (b < 0 || rep[i][1] == b) && (c < 0 || rep[i][2] == c)) return i;
  return -1;
}

static void link_init(const rmp_ej_send_config *cfg) {
  static const rmp_ej_send_config zero = { 0, 0, 0 };
  rmp_ej_send_init(&s, cfg ? cfg : &zero);
  rmp_ej_recv_init(&r);
  nrep = 0;
}

/* Packet seq with messages m[0..n): its journal is encoded, the messages
 * recorded; delivered (the journal first, then the messages) unless lost.
 * Returns rmp_ej_recv_packet's flags (0 when lost). */
static int pkt(uint16_t seq, int deliver, const msg *m, int n) {
  jlen = rmp_ej_send_encode(&s, seq, jbuf, sizeof jbuf);
  CHECK(jlen >= 0);
  for (int i = 0; i < n; i++) rmp_ej_send_record(&s, seq, m[i].b, m[i].n);
  if (!deliver) return 0;
  int f = rmp_ej_recv_packet(&r, seq, jlen > 0 ? jbuf : NULL, jlen > 0 ? (size_t)jlen : 0, on_rep, NULL);
  for (int i = 0; i < n; i++) rmp_ej_recv_apply(&r, m[i].b, m[i].n);
  return f;
}
#define PKT(seq, deliver, ...) \
  pkt((seq), (deliver), (const msg[]){ __VA_ARGS__ }, (int)(sizeof((const msg[]){ __VA_ARGS__ }) / sizeof(msg)))
#define EMPTY(seq, deliver) pkt((seq), (deliver), NULL, 0)

static unsigned diff(void) {
  rmp_ms_diff d;
  unsigned n = rmp_ms_compare(&s.st, &r.st, &d);
  if (n)
    fprintf(stderr, "  state differs: %u (stuck %u missing %u vel %u ctl %u prog %u bend %u chpres %u poly %u "
            "param %u sys %u ref %u)\n", n, d.stuck_notes, d.missing_notes, d.wrong_velocity, d.wrong_ctl,
            d.wrong_program, d.wrong_bend, d.wrong_pressure, d.wrong_poly, d.wrong_param, d.wrong_system,
            d.wrong_refcount);
  return n;
}

/* ---- 5. the empty journal (RFC 6295 section 5) ---------------------------- */
/* With recovery on, every packet has a journal; with nothing to code it is
 * the 3-octet empty journal |S=1|Y=0|A=0|H=0|TOTCHAN=0| + checkpoint, so a
 * receiver can still check that a loss is covered. */
static void test_empty_journal(void) {
  link_init(NULL);
  uint8_t out[16];
  CHECK_INT(rmp_ej_send_encode(&s, 100, out, sizeof out), 3);
  CHECK_MEM(out, 3, ((const uint8_t[]){ 0x80, 0x00, 0x64 }), 3);
  rmp_ej_send_record(&s, 100, (const uint8_t[]){ 0x90, 60, 100 }, 3);
  rmp_ej_send_ack(&s, 100);
  CHECK_INT(rmp_ej_send_encode(&s, 101, out, sizeof out), 3);
  CHECK_MEM(out, 3, ((const uint8_t[]){ 0x80, 0x00, 0x65 }), 3);
  /* a budget below the header: no journal at all (J = 0) */
  CHECK_INT(rmp_ej_send_encode(&s, 102, out, 2), 0);

  /* the receiver: a loss ended by an empty journal that covers it is a
   * covered loss (nothing to repair); one that does not cover it is not */
  rmp_ej_recv_init(&r);
  nrep = 0;
  rmp_ej_recv_packet(&r, 99, (const uint8_t[]){ 0x80, 0x00, 0x63 }, 3, on_rep, NULL);
  CHECK_INT(rmp_ej_recv_packet(&r, 102, (const uint8_t[]){ 0x80, 0x00, 0x64 }, 3, on_rep, NULL),
            RMP_EJ_R_LOSS | RMP_EJ_R_REPAIRED);
  CHECK_INT(rmp_ej_recv_packet(&r, 105, (const uint8_t[]){ 0x80, 0x00, 0x68 }, 3, on_rep, NULL),
            RMP_EJ_R_LOSS | RMP_EJ_R_REPAIRED | RMP_EJ_R_UNCOVERED);
  CHECK_INT(nrep, 0);
}

/* ---- 2. the first packet (RFC 6295 section 4) ----------------------------- */
/* "A receiver MUST process the first received packet in a stream as if it
 * were a packet that ends a loss event": program, volume and sustain sent
 * before the receiver's first packet are repaired from its journal. */
static void test_first_packet(void) {
  link_init(NULL);
  PKT(10, 0, M2(0xC3, 5), M3(0xB3, 7, 90), M3(0xB3, 64, 127));
  int f = EMPTY(11, 1);
  CHECK(f & RMP_EJ_R_FIRST);
  CHECK(f & RMP_EJ_R_REPAIRED);
  CHECK(!(f & (RMP_EJ_R_UNCOVERED | RMP_EJ_R_LOSS)));
  CHECK(rep_at(0xC3, 5, -1) >= 0);
  CHECK(rep_at(0xB3, 7, 90) >= 0);
  CHECK(rep_at(0xB3, 64, 127) >= 0);
  CHECK_INT(diff(), 0);
  /* the S bits do not apply: the journal of 12 codes packet 10 with S = 1
   * (packet 11 was empty), and a first packet is a multiple loss */
  link_init(NULL);
  PKT(10, 0, M2(0xC3, 5));
  EMPTY(11, 0);
  CHECK(EMPTY(12, 1) & RMP_EJ_R_REPAIRED);
  CHECK_INT(rep_count(0xC3, 5, -1), 1);
  /* a first packet whose journal has nothing to repair is not a repair */
  link_init(NULL);
  CHECK_INT(PKT(10, 1, M3(0x90, 60, 100)), RMP_EJ_R_FIRST);
  CHECK_INT(nrep, 0);
}

int main(void) {
  test_empty_journal();
  test_first_packet();
  return check_report();
}
