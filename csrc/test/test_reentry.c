/* Freeing a session from inside each of its own callbacks (issue 16), with
 * real sockets on loopback and a bounded loop: rtpmidi_session_free in
 * on_rtp (from a received burst, from the jitter buffer's timer, from the
 * session's own stop), on_drop ("timeout", "bye", "network" from inside a
 * send and from a host name that does not resolve) and on_receiver_report;
 * rtpmidi_midi_session_free in on_midi (first message of a packet, a
 * journal repair) and on_drop (timeout, BYE, inside its own flush);
 * rtpmidi_apple_free in on_joined (both sides), on_synced, on_midi, on_left
 * ("bye", "stopped" inside rtpmidi_apple_stop, "disconnected" inside
 * rtpmidi_apple_disconnect) and on_invite_failed ("rejected", "timeout",
 * "unresolved"). Each case checks that the callback ran and freed the
 * session, that no callback came after the free returned, that every handle
 * closes, and (run under AddressSanitizer, with its leak checker) that
 * nothing freed is used and nothing is left allocated. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "rtpmidi.h"

static uv_loop_t loop;
static rtpmidi_runtime *rt;
static uv_timer_t tick; /* wakes uv_run(UV_RUN_ONCE) so that the deadlines are seen */

/* ---- the loop ---- */

static void on_tick(uv_timer_t *t) { (void)t; }

typedef bool (*cond_fn)(void *arg);

/* Runs the loop until cond(arg), at most ms milliseconds. */
static bool run_until(cond_fn cond, void *arg, double ms) {
  double end = rtpmidi_now_ms() + ms;
  while (!cond(arg)) {
    if (rtpmidi_now_ms() > end) return false;
    uv_run(&loop, UV_RUN_ONCE);
  }
  return true;
}

static bool never(void *arg) { (void)arg; return false; }
static void run_for(double ms) { run_until(never, NULL, ms); }

static void count_handle(uv_handle_t *h, void *arg) {
  if (h != (uv_handle_t *)&tick && !uv_is_closing(h)) ++*(int *)arg;
}

static int open_handles(void) {
  int n = 0;
  uv_walk(&loop, count_handle, &n);
  return n;
}

static bool all_closed(void *arg) {
  (void)arg;
  /* closing handles are alive until their close callback: let them run */
  uv_run(&loop, UV_RUN_NOWAIT);
  return open_handles() == 0;
}

/* ---- ports ---- */

static bool bindable(int port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return false;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

/* An even port p with p and p + 1 free (RTP and RTCP): nobody listens there. */
static int free_pair(void) {
  for (int i = 0; i < 2000; i++) {
    int p = 20000 + 2 * (rand() % 6000);
    if (bindable(p) && bindable(p + 1)) return p;
  }
  return 0;
}

/* A raw UDP socket for hand-made RTP packets. */
static int raw_fd = -1;

static void raw_rtp(int port, int pt, uint16_t seq, uint32_t ts, const uint8_t *payload, size_t len) {
  uint8_t pkt[64];
  pkt[0] = 0x80;
  pkt[1] = (uint8_t)pt;
  pkt[2] = (uint8_t)(seq >> 8);
  pkt[3] = (uint8_t)seq;
  for (int i = 0; i < 4; i++) pkt[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
  const uint32_t ssrc = 0x5EED0001;
  for (int i = 0; i < 4; i++) pkt[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
  memcpy(pkt + 12, payload, len);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (sendto(raw_fd, pkt, 12 + len, 0, (struct sockaddr *)&a, sizeof a) < 0) perror("sendto");
}

/* ---- victims: a session and what its callbacks saw ---- */

enum { C_RTP, C_DROP, C_REPORT, C_MIDI, C_REPAIR, C_JOINED, C_LEFT, C_SYNCED, C_FAILED, C_N };
static const char *const CB[C_N] = {"rtp", "drop", "report", "midi", "repair",
                                    "joined", "left", "synced", "failed"};

typedef enum { K_RTP, K_MIDI, K_APPLE } kind;

typedef struct victim {
  kind k;
  rtpmidi_session *s;
  rtpmidi_midi_session *m;
  rtpmidi_apple *a;
  int free_in;     /* the callback that frees the session (-1: none) */
  int free_at;     /* on its free_at-th call (default the first) */
  bool freed;      /* a callback freed it */
  bool gone;       /* the free returned: no callback may come now */
  int after;       /* callbacks after that (must stay 0) */
  int n[C_N];
  char reason[64]; /* of the last drop, departure or failure */
  char freed_reason[64]; /* of the callback that freed it */
  uint32_t peer_id;
} victim;

static void victim_init(victim *v, kind k, int free_in) {
  memset(v, 0, sizeof *v);
  v->k = k;
  v->free_in = free_in;
  v->free_at = 1;
}

static void free_victim(victim *v) {
  switch (v->k) {
    case K_RTP: rtpmidi_session_free(v->s); break;
    case K_MIDI: rtpmidi_midi_session_free(v->m); break;
    case K_APPLE: rtpmidi_apple_free(v->a); break;
  }
}

static void hit(victim *v, int cb, const char *reason) {
  if (v->gone) {
    v->after++;
    return;
  }
  v->n[cb]++;
  if (reason) snprintf(v->reason, sizeof v->reason, "%s", reason);
  if (!v->freed && cb == v->free_in && v->n[cb] == v->free_at) {
    v->freed = true;
    snprintf(v->freed_reason, sizeof v->freed_reason, "%s", reason ? reason : "");
    free_victim(v);
    v->gone = true;
  }
}

static void rtp_on_rtp(void *ud, uint32_t ts, const uint8_t *p, size_t len, bool recovery, bool marker) {
  (void)ts; (void)p; (void)len; (void)recovery; (void)marker;
  hit(ud, C_RTP, NULL);
}
static void rtp_on_drop(void *ud, const char *reason, const char *detail) {
  (void)detail;
  hit(ud, C_DROP, reason);
}
static void rtp_on_report(void *ud, const rtpmidi_receiver_report *rr) {
  (void)rr;
  hit(ud, C_REPORT, NULL);
}
static void midi_on_midi(void *ud, const uint8_t *msg, size_t len, double t, bool recovered) {
  (void)msg; (void)len; (void)t;
  hit(ud, recovered ? C_REPAIR : C_MIDI, NULL);
}
static void apple_on_midi(void *ud, const rtpmidi_apple_peer *p, const uint8_t *msg, size_t len, double t,
                          bool recovered) {
  (void)p; (void)msg; (void)len; (void)t;
  hit(ud, recovered ? C_REPAIR : C_MIDI, NULL);
}
static void apple_on_joined(void *ud, const rtpmidi_apple_peer *p) {
  victim *v = ud;
  if (!v->gone) v->peer_id = p->id;
  hit(v, C_JOINED, NULL);
}
static void apple_on_left(void *ud, const rtpmidi_apple_peer *p, const char *reason) {
  (void)p;
  hit(ud, C_LEFT, reason);
}
static void apple_on_synced(void *ud, const rtpmidi_apple_peer *p) {
  (void)p;
  hit(ud, C_SYNCED, NULL);
}
static void apple_on_failed(void *ud, const char *address, int port, const char *reason) {
  (void)address; (void)port;
  hit(ud, C_FAILED, reason);
}

static bool is_freed(void *arg) { return ((victim *)arg)->freed; }

/* After the case: the others are freed, every handle closes, and nothing
 * came after the free. */
static void finish(const char *name, victim *v, victim **others, size_t n) {
  if (!v->freed) fprintf(stderr, "%s: the %s callback did not free the session\n", name, CB[v->free_in]);
  CHECK(v->freed);
  run_for(30); /* whatever was in flight for it arrives now */
  for (size_t i = 0; i < n; i++) {
    if (!others[i]->freed) {
      free_victim(others[i]);
      others[i]->gone = true;
    }
  }
  if (!v->freed) free_victim(v);
  v->gone = true;
  bool closed = run_until(all_closed, NULL, 2000);
  if (!closed) fprintf(stderr, "%s: %d handle(s) left open\n", name, open_handles());
  CHECK(closed);
  CHECK_INT(v->after, 0);
  for (size_t i = 0; i < n; i++) CHECK_INT(others[i]->after, 0);
}

/* ---- RTP sessions ---- */

static rtpmidi_session *rtp_new(victim *v, const char *peer, int send_to, int recv_on, double jb_ms,
                                double timeout, double rtcp) {
  rtpmidi_session_config c;
  memset(&c, 0, sizeof c);
  c.peer_address = peer;
  c.sending_port = send_to;
  c.receiving_port = recv_on;
  c.payload_type = 96;
  c.jitter_buffer_ms = jb_ms;
  c.clock_rate = 10000;
  c.timeout = timeout;
  c.rtcp_interval = rtcp;
  rtpmidi_session_events ev = {.on_rtp = rtp_on_rtp, .on_drop = rtp_on_drop, .on_receiver_report = rtp_on_report};
  CHECK_INT(rtpmidi_session_new(rt, &c, &ev, v, &v->s, NULL), 0);
  CHECK_INT(rtpmidi_session_start(v->s), 0);
  return v->s;
}

static bool got_rtp(void *arg) { return ((victim *)arg)->n[C_RTP] > 0; }

static const uint8_t DATA[] = "data";

/* A burst: B frees itself on the first of the datagrams read together. */
static void rtp_free_in_burst(void) {
  int pa = free_pair(), pb = free_pair();
  victim a, b;
  victim_init(&a, K_RTP, -1);
  victim_init(&b, K_RTP, C_RTP);
  rtp_new(&a, "127.0.0.1", pb, pa, 0, 0, 0);
  rtp_new(&b, "127.0.0.1", pa, pb, 0, 0, 0);
  for (int round = 0; round < 50 && !b.freed; round++) {
    for (int i = 0; i < 8; i++) rtpmidi_session_send(a.s, DATA, 4, 0, false);
    run_until(is_freed, &b, 20);
  }
  CHECK_INT(b.n[C_RTP], 1);
  victim *o[] = {&a};
  finish("rtp: on_rtp in a burst", &b, o, 1);
}

/* 10, 11, then 13: 13 waits for 12 in the jitter buffer. B frees itself when
 * 13 comes out: released by the buffer's timer, or by B's stop. */
static void rtp_free_in_held_packet(bool by_stop) {
  int pb = free_pair();
  victim b;
  victim_init(&b, K_RTP, C_RTP);
  b.free_at = 1000; /* not yet */
  rtp_new(&b, "127.0.0.1", free_pair(), pb, by_stop ? 2000 : 30, 0, 0);
  uint16_t seq = 10;
  for (int i = 0; i < 50 && b.n[C_RTP] == 0; i++) {
    raw_rtp(pb, 96, seq, (uint32_t)seq * 100, DATA, 4); /* the first may wait on probation */
    seq++;
    run_for(10);
  }
  CHECK(b.n[C_RTP] > 0);
  b.free_at = b.n[C_RTP] + 1;
  raw_rtp(pb, 96, (uint16_t)(seq + 1), (uint32_t)seq * 100 + 100, DATA, 4); /* seq is missing */
  if (by_stop) {
    run_for(30);
    CHECK_INT(b.n[C_RTP], b.free_at - 1); /* held */
    rtpmidi_session_stop(b.s); /* releases it: B is freed inside */
  } else {
    run_until(is_freed, &b, 1000);
  }
  CHECK_INT(b.n[C_RTP], b.free_at);
  finish(by_stop ? "rtp: on_rtp inside its stop" : "rtp: on_rtp from the jitter buffer's timer", &b, NULL, 0);
}

static void rtp_free_in_timeout(void) {
  victim b;
  victim_init(&b, K_RTP, C_DROP);
  rtp_new(&b, "127.0.0.1", free_pair(), free_pair(), 0, 0.2, 3600);
  run_until(is_freed, &b, 3000);
  CHECK(strcmp(b.freed_reason, "timeout") == 0);
  finish("rtp: on_drop timeout", &b, NULL, 0);
}

static void rtp_free_in_bye(void) {
  int pa = free_pair(), pb = free_pair();
  victim a, b;
  victim_init(&a, K_RTP, -1);
  victim_init(&b, K_RTP, C_DROP);
  rtp_new(&a, "127.0.0.1", pb, pa, 0, 0, 0);
  rtp_new(&b, "127.0.0.1", pa, pb, 0, 0, 0);
  for (int i = 0; i < 50 && !b.n[C_RTP]; i++) {
    rtpmidi_session_send(a.s, DATA, 4, 0, false);
    run_until(got_rtp, &b, 20);
  }
  CHECK(b.n[C_RTP] > 0);
  rtpmidi_session_stop(a.s); /* BYE */
  run_until(is_freed, &b, 2000);
  CHECK(strcmp(b.freed_reason, "bye") == 0);
  victim *o[] = {&a};
  finish("rtp: on_drop bye", &b, o, 1);
}

/* Nobody listens where A sends: the second send finds the ICMP error of the
 * first and reports the drop from inside itself. */
static void rtp_free_in_send(void) {
  victim a;
  victim_init(&a, K_RTP, C_DROP);
  rtp_new(&a, "127.0.0.1", free_pair(), free_pair(), 0, 0, 0);
  int inside = 0;
  for (int i = 0; i < 50 && !a.freed; i++) {
    for (int k = 0; k < 2 && !a.freed; k++) {
      rtpmidi_session_send(a.s, DATA, 4, 0, false);
      inside += a.freed;
    }
    run_for(10);
  }
  CHECK_INT(inside, 1);
  CHECK(strcmp(a.freed_reason, "network") == 0);
  finish("rtp: on_drop network inside a send", &a, NULL, 0);
}

/* A host name that cannot resolve (glibc refuses an empty label without a
 * query): the drop comes from the resolver's callback. */
static void rtp_free_in_unresolved(void) {
  victim a;
  victim_init(&a, K_RTP, C_DROP);
  rtp_new(&a, "a..invalid", 5004, free_pair(), 0, 0, 0);
  run_until(is_freed, &a, 5000);
  CHECK(strcmp(a.freed_reason, "network") == 0);
  finish("rtp: on_drop from the resolver", &a, NULL, 0);
}

/* Both send; B frees itself on A's first report about B's stream. */
static void rtp_free_in_report(void) {
  int pa = free_pair(), pb = free_pair();
  victim a, b;
  victim_init(&a, K_RTP, -1);
  victim_init(&b, K_RTP, C_REPORT);
  rtp_new(&a, "127.0.0.1", pb, pa, 0, 0, 0.05);
  rtp_new(&b, "127.0.0.1", pa, pb, 0, 0, 0.05);
  for (int i = 0; i < 100 && !b.freed; i++) {
    rtpmidi_session_send(b.s, DATA, 4, 0, false);
    rtpmidi_session_send(a.s, DATA, 4, 0, false);
    run_until(is_freed, &b, 20);
  }
  victim *o[] = {&a};
  finish("rtp: on_receiver_report", &b, o, 1);
}

/* B answers each packet of a burst with two to a port where nobody
 * listens: their errors come back through the runtime's send queue (or the
 * socket's error), and the drop frees B. */
static void echo_on_rtp(void *ud, uint32_t ts, const uint8_t *p, size_t len, bool recovery, bool marker) {
  victim *v = ud;
  rtp_on_rtp(ud, ts, p, len, recovery, marker);
  if (!v->gone) {
    rtpmidi_session_send(v->s, DATA, 4, 0, false);
    if (!v->gone) rtpmidi_session_send(v->s, DATA, 4, 0, false);
  }
}

static void rtp_free_in_burst_send_error(void) {
  int pb = free_pair();
  victim a, b;
  victim_init(&a, K_RTP, -1);
  victim_init(&b, K_RTP, C_DROP);
  rtp_new(&a, "127.0.0.1", pb, 0, 0, 0, 0); /* sends only: B's answers reach nobody */
  rtpmidi_session_config c;
  memset(&c, 0, sizeof c);
  c.peer_address = "127.0.0.1";
  c.sending_port = free_pair();
  c.receiving_port = pb;
  c.payload_type = 96;
  c.accept_any_source = true;
  rtpmidi_session_events ev = {.on_rtp = echo_on_rtp, .on_drop = rtp_on_drop};
  CHECK_INT(rtpmidi_session_new(rt, &c, &ev, &b, &b.s, NULL), 0);
  CHECK_INT(rtpmidi_session_start(b.s), 0);
  for (int round = 0; round < 50 && !b.freed; round++) {
    for (int i = 0; i < 6; i++) rtpmidi_session_send(a.s, DATA, 4, 0, false);
    run_until(is_freed, &b, 20);
  }
  CHECK(strcmp(b.freed_reason, "network") == 0);
  victim *o[] = {&a};
  finish("rtp: on_drop from the sends of a burst", &b, o, 1);
}

/* ---- MIDI sessions ---- */

static void midi_new(victim *v, int send_to, int recv_on, double timeout) {
  rtpmidi_midi_config c;
  memset(&c, 0, sizeof c);
  c.rtp.peer_address = "127.0.0.1";
  c.rtp.sending_port = send_to;
  c.rtp.receiving_port = recv_on;
  c.rtp.payload_type = 97;
  c.rtp.clock_rate = 10000;
  c.rtp.timeout = timeout;
  c.rtp.rtcp_interval = timeout > 0 ? 3600 : 0;
  c.recovery = true;
  rtpmidi_midi_events ev = {.on_midi = midi_on_midi, .on_drop = rtp_on_drop};
  CHECK_INT(rtpmidi_midi_session_new(rt, &c, &ev, v, &v->m, NULL), 0);
  CHECK_INT(rtpmidi_session_start(rtpmidi_midi_session_rtp(v->m)), 0);
}

static const uint8_t NOTE_A[] = {0x90, 60, 100}, NOTE_B[] = {0x90, 61, 100}, NOTE_C[] = {0x90, 62, 100};

static void send_note(victim *v, const uint8_t *note) {
  rtpmidi_midi_session_send(v->m, note, 3, NULL);
  rtpmidi_midi_session_flush(v->m);
}

static bool got_midi(void *arg) { return ((victim *)arg)->n[C_MIDI] > 0; }

/* Three messages in a packet: B frees itself on the first. */
static void midi_free_in_message(void) {
  int pa = free_pair(), pb = free_pair();
  victim a, b;
  victim_init(&a, K_MIDI, -1);
  victim_init(&b, K_MIDI, C_MIDI);
  midi_new(&a, pb, pa, 0);
  midi_new(&b, pa, pb, 0);
  for (int i = 0; i < 50 && !b.freed; i++) {
    rtpmidi_midi_session_send(a.m, NOTE_A, 3, NULL);
    rtpmidi_midi_session_send(a.m, NOTE_B, 3, NULL);
    rtpmidi_midi_session_send(a.m, NOTE_C, 3, NULL);
    rtpmidi_midi_session_flush(a.m);
    run_until(is_freed, &b, 20);
  }
  CHECK_INT(b.n[C_MIDI], 1);
  victim *o[] = {&a};
  finish("midi: on_midi, first of a packet", &b, o, 1);
}

/* A -> relay -> B, the relay losing A's second packet with commands: B
 * frees itself on the first message the journal repairs. */
typedef struct relay {
  uv_udp_t h;
  int to, rtp, drop;
  char buf[2048];
} relay;

static void relay_alloc(uv_handle_t *h, size_t n, uv_buf_t *b) {
  (void)n;
  relay *r = h->data;
  *b = uv_buf_init(r->buf, sizeof r->buf);
}

static void relay_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *b, const struct sockaddr *from, unsigned flags) {
  (void)from; (void)flags;
  relay *r = h->data;
  if (n <= 12) return;
  /* RTP with commands (not a journal-only guard: its command section is empty) */
  if (((uint8_t)b->base[12] & 0x0F) != 0 && ++r->rtp == r->drop) return;
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", r->to, &a);
  uv_buf_t out = uv_buf_init(b->base, (unsigned)n);
  uv_udp_try_send(h, &out, 1, (const struct sockaddr *)&a);
}

static void midi_free_in_repair(void) {
  int pa = free_pair(), pb = free_pair(), pr = free_pair();
  victim a, b;
  victim_init(&a, K_MIDI, -1);
  victim_init(&b, K_MIDI, C_REPAIR);
  relay r;
  memset(&r, 0, sizeof r);
  r.to = pb;
  r.drop = 2;
  r.h.data = &r;
  uv_udp_init(&loop, &r.h);
  struct sockaddr_in ra;
  uv_ip4_addr("127.0.0.1", pr, &ra);
  CHECK_INT(uv_udp_bind(&r.h, (const struct sockaddr *)&ra, 0), 0);
  uv_udp_recv_start(&r.h, relay_alloc, relay_recv);
  midi_new(&a, pr, pa, 0);
  midi_new(&b, pa, pb, 0);
  send_note(&a, NOTE_A);
  run_until(got_midi, &b, 1000);
  send_note(&a, NOTE_B); /* lost */
  run_for(5);
  send_note(&a, NOTE_C); /* its journal repairs NOTE_B */
  run_until(is_freed, &b, 1000);
  CHECK_INT(b.n[C_REPAIR], 1);
  CHECK_INT(r.rtp >= 3, 1);
  uv_close((uv_handle_t *)&r.h, NULL);
  victim *o[] = {&a};
  finish("midi: on_midi from the journal", &b, o, 1);
}

static void midi_free_in_timeout(void) {
  victim b;
  victim_init(&b, K_MIDI, C_DROP);
  midi_new(&b, free_pair(), free_pair(), 0.2);
  run_until(is_freed, &b, 3000);
  CHECK(strcmp(b.freed_reason, "timeout") == 0);
  finish("midi: on_drop timeout", &b, NULL, 0);
}

static void midi_free_in_bye(void) {
  int pa = free_pair(), pb = free_pair();
  victim a, b;
  victim_init(&a, K_MIDI, -1);
  victim_init(&b, K_MIDI, C_DROP);
  midi_new(&a, pb, pa, 0);
  midi_new(&b, pa, pb, 0);
  for (int i = 0; i < 50 && !b.n[C_MIDI]; i++) {
    send_note(&a, NOTE_A);
    run_until(got_midi, &b, 20);
  }
  rtpmidi_session_stop(rtpmidi_midi_session_rtp(a.m)); /* BYE */
  run_until(is_freed, &b, 2000);
  CHECK(strcmp(b.freed_reason, "bye") == 0);
  victim *o[] = {&a};
  finish("midi: on_drop bye", &b, o, 1);
}

/* The drop comes from inside rtpmidi_midi_session_flush (its send found the
 * ICMP error of the one before), which goes on after the callback. */
static void midi_free_in_flush(void) {
  victim a;
  victim_init(&a, K_MIDI, C_DROP);
  midi_new(&a, free_pair(), free_pair(), 0);
  int inside = 0;
  for (int i = 0; i < 50 && !a.freed; i++) {
    for (int k = 0; k < 2 && !a.freed; k++) {
      send_note(&a, NOTE_A);
      inside += a.freed;
    }
    run_for(10);
  }
  CHECK_INT(inside, 1);
  CHECK(strcmp(a.freed_reason, "network") == 0);
  finish("midi: on_drop inside its flush", &a, NULL, 0);
}

/* ---- AppleMIDI sessions ---- */

static void apple_new(victim *v, int free_in, rtpmidi_apple_accept accept, int tries) {
  victim_init(v, K_APPLE, free_in);
  rtpmidi_apple_config c;
  memset(&c, 0, sizeof c);
  c.name = "reentry";
  c.accept = accept;
  c.invite_tries = tries;
  c.invite_interval_ms = 20;
  c.ck_fast_interval_ms = 30;
  c.ck_interval_ms = 200;
  c.rs_interval_ms = 100;
  c.jitter_buffer_ms = 0;
  c.recovery = true;
  rtpmidi_apple_events ev = {.on_midi = apple_on_midi, .on_joined = apple_on_joined, .on_left = apple_on_left,
                             .on_synced = apple_on_synced, .on_invite_failed = apple_on_failed};
  CHECK_INT(rtpmidi_apple_new(rt, &c, &ev, v, &v->a, NULL), 0);
  CHECK_INT(rtpmidi_apple_start(v->a), 0);
}

typedef struct pair { victim *x, *y; } pair;
static bool both_joined(void *arg) {
  pair *p = arg;
  return p->x->n[C_JOINED] > 0 && p->y->n[C_JOINED] > 0;
}

static void invite(victim *from, victim *to) {
  CHECK_INT(rtpmidi_apple_invite(from->a, "127.0.0.1", rtpmidi_apple_port(to->a)), 0);
}

/* side 0: the initiator frees itself, 1: the responder. */
static void apple_free_in_joined(int side) {
  victim a, b;
  apple_new(&a, side == 0 ? C_JOINED : -1, RTPMIDI_APPLE_ACCEPT_ANY, 0);
  apple_new(&b, side == 1 ? C_JOINED : -1, RTPMIDI_APPLE_ACCEPT_ANY, 0);
  invite(&a, &b);
  victim *v = side == 0 ? &a : &b, *o[] = {side == 0 ? &b : &a};
  run_until(is_freed, v, 2000);
  finish(side == 0 ? "apple: on_joined (initiator)" : "apple: on_joined (responder)", v, o, 1);
}

static void apple_free_in_synced(void) {
  victim a, b;
  apple_new(&a, C_SYNCED, RTPMIDI_APPLE_ACCEPT_ANY, 0);
  apple_new(&b, -1, RTPMIDI_APPLE_ACCEPT_ANY, 0);
  invite(&a, &b);
  run_until(is_freed, &a, 3000);
  victim *o[] = {&b};
  finish("apple: on_synced", &a, o, 1);
}

static void apple_free_in_midi(void) {
  victim a, b;
  apple_new(&a, C_MIDI, RTPMIDI_APPLE_ACCEPT_ANY, 0);
  apple_new(&b, -1, RTPMIDI_APPLE_ACCEPT_ANY, 0);
  invite(&a, &b);
  pair p = {&a, &b};
  CHECK(run_until(both_joined, &p, 2000));
  for (int i = 0; i < 50 && !a.freed; i++) {
    rtpmidi_apple_send(b.a, NOTE_A, 3, NULL);
    rtpmidi_apple_send(b.a, NOTE_B, 3, NULL);
    rtpmidi_apple_send(b.a, NOTE_C, 3, NULL);
    rtpmidi_apple_flush(b.a);
    run_until(is_freed, &a, 20);
  }
  CHECK_INT(a.n[C_MIDI], 1);
  victim *o[] = {&b};
  finish("apple: on_midi, first of a packet", &a, o, 1);
}

/* how: 0 the participant says BY, 1 A is stopped, 2 A disconnects it. */
static void apple_free_in_left(int how) {
  static const char *const names[] = {"apple: on_left bye", "apple: on_left stopped (inside rtpmidi_apple_stop)",
                                      "apple: on_left disconnected (inside rtpmidi_apple_disconnect)"};
  static const char *const reasons[] = {"bye", "stopped", "disconnected"};
  victim a, b, c;
  apple_new(&a, C_LEFT, RTPMIDI_APPLE_ACCEPT_ANY, 0);
  apple_new(&b, -1, RTPMIDI_APPLE_ACCEPT_ANY, 0);
  apple_new(&c, -1, RTPMIDI_APPLE_ACCEPT_ANY, 0);
  invite(&a, &b);
  pair p = {&a, &b};
  CHECK(run_until(both_joined, &p, 2000));
  uint32_t b_id = a.peer_id;
  invite(&a, &c); /* a second participant, still there when A frees itself */
  pair q = {&a, &c};
  a.n[C_JOINED] = 0;
  CHECK(run_until(both_joined, &q, 2000));
  if (how == 0) {
    rtpmidi_apple_free(b.a);
    b.freed = b.gone = true;
    run_until(is_freed, &a, 2000);
  } else if (how == 1) {
    rtpmidi_apple_stop(a.a);
  } else {
    CHECK_INT(rtpmidi_apple_disconnect(a.a, b_id), 0);
  }
  CHECK(a.freed);
  CHECK(a.n[C_LEFT] >= 1);
  victim *o[] = {&b, &c};
  if (strcmp(a.freed_reason, reasons[how]) != 0) fprintf(stderr, "%s: freed on %s\n", names[how], a.freed_reason);
  CHECK(strcmp(a.freed_reason, reasons[how]) == 0);
  finish(names[how], &a, o, 2);
}

/* how: 0 refused (NO), 1 nobody answers (timeout), 2 a host name that does
 * not resolve. */
static void apple_free_in_invite_failed(int how) {
  static const char *const names[] = {"apple: on_invite_failed rejected", "apple: on_invite_failed timeout",
                                      "apple: on_invite_failed unresolved"};
  static const char *const reasons[] = {"rejected", "timeout", "unresolved"};
  victim a, r;
  apple_new(&a, C_FAILED, RTPMIDI_APPLE_ACCEPT_ANY, 2);
  apple_new(&r, -1, RTPMIDI_APPLE_ACCEPT_NONE, 0);
  if (how == 0) invite(&a, &r);
  else if (how == 1) CHECK_INT(rtpmidi_apple_invite(a.a, "127.0.0.1", free_pair()), 0);
  else CHECK_INT(rtpmidi_apple_invite(a.a, "a..invalid", 5004), 0);
  run_until(is_freed, &a, 5000);
  if (strcmp(a.freed_reason, reasons[how]) != 0) fprintf(stderr, "%s: freed on %s\n", names[how], a.freed_reason);
  CHECK(strcmp(a.freed_reason, reasons[how]) == 0);
  victim *o[] = {&r};
  finish(names[how], &a, o, 1);
}

int main(void) {
  srand((unsigned)getpid() ^ (unsigned)time(NULL));
  CHECK_INT(uv_loop_init(&loop), 0);
  rt = rtpmidi_runtime_new(&loop);
  CHECK(rt != NULL);
  uv_timer_init(&loop, &tick);
  uv_timer_start(&tick, on_tick, 5, 5);
  raw_fd = socket(AF_INET, SOCK_DGRAM, 0);

  rtp_free_in_burst();
  rtp_free_in_held_packet(false);
  rtp_free_in_held_packet(true);
  rtp_free_in_timeout();
  rtp_free_in_bye();
  rtp_free_in_send();
  rtp_free_in_unresolved();
  rtp_free_in_report();
  rtp_free_in_burst_send_error();

  midi_free_in_message();
  midi_free_in_repair();
  midi_free_in_timeout();
  midi_free_in_bye();
  midi_free_in_flush();

  apple_free_in_joined(0);
  apple_free_in_joined(1);
  apple_free_in_synced();
  apple_free_in_midi();
  for (int how = 0; how < 3; how++) apple_free_in_left(how);
  for (int how = 0; how < 3; how++) apple_free_in_invite_failed(how);

  close(raw_fd);
  rtpmidi_runtime_free(rt);
  uv_close((uv_handle_t *)&tick, NULL);
  run_until(all_closed, NULL, 2000);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_INT(uv_loop_close(&loop), 0);
  return check_report();
}
