/* The AppleMIDI session protocol as a socket-free machine: participants,
 * invitations both ways (IN/OK/NO with retries on the control then the data
 * port), clock sync (CK), receiver feedback (RS), session end (BY),
 * timeouts, the invitation rate limit and the participant cap.
 *
 * Pure protocol code: libc only, no I/O, no clock reads (time comes in as
 * milliseconds, a double), no randomness of its own (tokens come from the
 * config's `random`), no allocation (a participant's storage comes from the
 * config's `alloc`, which the runtime makes part of its own per-participant
 * record). The runtime (csrc/core/applemidi_session.c) feeds it:
 *
 *   rmp_ams_on_packet   an AppleMIDI command datagram on the control or data port
 *   rmp_ams_rtp_participant / rmp_ams_rtp_received
 *                       the data port's RTP: whose it is, and what to report in RS
 *   rmp_ams_invite / rmp_ams_disconnect / rmp_ams_stop
 *   rmp_ams_tick        at rmp_ams_next_deadline
 *
 * and after every call drains the outbox with rmp_ams_pop: datagrams to
 * send (port, destination, octets) and events (joined, left, synced,
 * invite_failed, ack). Nothing is sent or reported from inside a call, so
 * a callback the runtime runs for an event may call into the machine again.
 *
 * Packet layouts are applemidi.h's. Facts from Apple's protocol as observed
 * on the wire (the protocol has no published specification; RFC 6295 cites
 * it as "Apple's session initiation protocol"):
 *  - the initiator sends IN on the control port P; the responder answers OK
 *    (or NO) from P; the initiator then sends IN on the data port P+1 with
 *    the same token, answered OK from P+1: the session is up;
 *  - the initiator starts clock sync: CK0 (ts1) -> CK1 (ts1, ts2) ->
 *    CK2 (ts1, ts2, ts3) on the data port, timestamps in 100 us units;
 *    each side measures, the initiator on CK1, the responder on CK2.
 *    MIDIMonster writes its timestamps (CK and RTP) in host byte order
 *    (issue 18, item 7): a measurement whose numbers are impossible (a
 *    clock of the peer's at or over RMP_AMS_CK_CLOCK_MAX, a round trip
 *    over RMP_AMS_CK_RTT_MAX) is tried with the peer's timestamps
 *    byte-swapped; when that one is possible the participant is marked
 *    (ts_swapped: the runtime swaps its RTP timestamps too), otherwise the
 *    exchange is counted (ck_impossible) and changes nothing. The first
 *    exchange measured settles the order for the session: later ones that
 *    fit only the other order are impossible too (a forged one must not
 *    make us read the real peer's RTP swapped). Either way
 *    the participant stays: its CK is a sign of life;
 *  - RS on the control port carries the RTP sequence number of the last
 *    packet received, in the high 16 bits (the low 16 zero). rtpmidid puts
 *    it in the low 16 bits (the high 16 zero; issue 18, item 5): an RS
 *    whose halves say which form it has (one half zero, the other not)
 *    settles the participant's form (rs_form), which then reads the RS
 *    whose halves do not say (both non-zero); both zero is 0 in either.
 *    raveloxmidi sends its RS on the data port, one per packet received,
 *    with the SSRC of that packet, ours (issue 18, item 6): an RS with our
 *    SSRC from the data address of one joined participant is its RS,
 *    unless that participant sent an RS with its own SSRC (rs_own): our
 *    SSRC is known to anyone who invited us, its is not, so for a peer
 *    that showed the usual form the other is a forgery (foreign);
 *  - BY ends the session (the token of the invitation, our SSRC). We send
 *    it on the control port and, once the participant's data port is in
 *    the session, on the data port too, as rtpmidid does (issue 18, item
 *    3: rtpmidid stays half-open until both came and invites again); the
 *    second BY of a peer that does the same is expected, not counted.
 *
 * Who speaks for a participant (issue #16, finding 1: a LAN where anyone
 * can send UDP from any address). A participant is bound to the addresses
 * it joined from: its control address (host and port) from its first IN or
 * our invitation, its data address from its data IN or its data OK (until
 * then any port of its control host). A packet with its SSRC from anywhere
 * else (IN, OK, NO, CK, RS, BY, RTP) changes nothing, gets no answer and
 * is counted as foreign; such an IN takes no invitation token either. A BY
 * must carry the token of the invitation that made the participant. A CK1
 * is taken only when it echoes the timestamp of our open CK0, a CK2 only
 * when it echoes both of our open CK1 (counted as unsolicited otherwise).
 * What this cannot stop: a host that sees the traffic and sends from the
 * participant's exact address with its token (no authentication exists in
 * the protocol). */
#ifndef RTPMIDI_PROTO_AM_SESSION_H
#define RTPMIDI_PROTO_AM_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "applemidi.h"

/* The two ports of a session. */
enum { RMP_AMS_CTRL = 0, RMP_AMS_DATA = 1 };

/* The form of a participant's RS (rmp_ams_peer.rs_form). */
enum { RMP_AMS_RS_UNKNOWN = 0, RMP_AMS_RS_HIGH = 1, RMP_AMS_RS_LOW = 2 };

/* A CK timestamp of the peer's (100 us units) at or over this is no clock
 * (about 890 years), nor is a round trip over RMP_AMS_CK_RTT_MAX (60 s). */
#define RMP_AMS_CK_CLOCK_MAX (1ull << 48)
#define RMP_AMS_CK_RTT_MAX 600000u

/* Defaults of a zeroed config field. */
#define RMP_AMS_DEF_INVITE_TRIES 12
#define RMP_AMS_DEF_INVITE_INTERVAL 1500.0
#define RMP_AMS_DEF_CK_FAST_COUNT 6
#define RMP_AMS_DEF_CK_FAST_INTERVAL 1500.0
#define RMP_AMS_DEF_CK_INTERVAL 10000.0
#define RMP_AMS_DEF_TIMEOUT 60000.0
#define RMP_AMS_DEF_PENDING_TIMEOUT 5000.0
#define RMP_AMS_DEF_PENDING_PER_HOST 4
#define RMP_AMS_DEF_RS_INTERVAL 1000.0
#define RMP_AMS_DEF_MAX_PARTICIPANTS 32
#define RMP_AMS_DEF_INVITATIONS_PER_SECOND 20.0

/* Outputs waiting to be popped, at most. A pump that drains after every
 * call never fills it: one datagram produces at most RMP_AMS_PER_CALL of
 * them, and bulk work (tick, stop) stops short and says "more" when full. */
#define RMP_AMS_OUTBOX 8
#define RMP_AMS_PER_CALL 4

typedef enum rmp_ams_state {
  RMP_AMS_INVITE_CTRL, /* we invited: IN on the control port, waiting for OK */
  RMP_AMS_INVITE_DATA, /* its control OK came: IN on the data port, waiting for OK */
  RMP_AMS_AWAIT_DATA,  /* we answered its control IN: waiting for its data IN */
  RMP_AMS_JOINED,
  RMP_AMS_GONE         /* removed: handed back through `release` once nothing refers to it */
} rmp_ams_state;

typedef enum rmp_ams_accept {
  RMP_AMS_ACCEPT_ANY = 0,  /* every invitation */
  RMP_AMS_ACCEPT_NONE = 1, /* none: NO */
  RMP_AMS_ACCEPT_LIST = 2  /* only from the hosts of accept_list */
} rmp_ams_accept;

/* Why a participant left or an invitation failed. */
typedef enum rmp_ams_reason {
  RMP_AMS_BYE,          /* it sent BY */
  RMP_AMS_TIMEOUT,      /* left: nothing heard for timeout_ms; invitation: invite_tries unanswered */
  RMP_AMS_STOPPED,      /* rmp_ams_stop */
  RMP_AMS_DISCONNECTED, /* rmp_ams_disconnect */
  RMP_AMS_REJECTED,     /* invitation answered with NO */
  RMP_AMS_RESTARTED     /* its session came back (same control endpoint and name, new SSRC)
                         * and invited us again: the new one replaces it */
} rmp_ams_reason;

typedef struct rmp_ams_peer {
  struct rmp_ams_peer *next;   /* the machine's list */
  uint32_t id;                 /* 1, 2, ...: never reused within a machine */
  rmp_ams_state state;
  bool initiator;              /* we invited it */
  bool have_ssrc;              /* ssrc and name are known (from its IN or OK) */
  bool synced;                 /* a CK exchange completed */
  char name[RMP_AM_NAME_MAX + 1];
  rmp_addr ctrl, data;         /* where its control and data packets come from and go to */
  bool data_bound;             /* data is the address its data port answered from (not a guess) */
  uint32_t token;              /* the invitation's (ours or its) */
  uint32_t ssrc;
  /* The SSRC its data port answered with when that is not `ssrc` (issue 18,
   * item 4: pymidi's data-port OK, and data IN, carry another SSRC than its
   * control port's, and so do its CK and RTP): an alias of the same
   * participant, bound by its host and the invitation's token. */
  bool have_alias;
  uint32_t alias_ssrc;
  /* invitation: IN sent on the current port, and when the next one is due */
  unsigned tries;
  double next_invite;
  /* clock sync */
  unsigned ck_rounds;          /* CK0 sent since it joined (we are the initiator) */
  double next_ck;
  uint64_t ck_ts1;             /* timestamp of our last CK0 (0: none yet) */
  bool ck_open;                /* that CK0 is not answered yet: a CK1 must echo ck_ts1 */
  bool ck_reply_open;          /* our CK1 is not answered yet: a CK2 must echo ... */
  uint64_t ck_reply_ts[2];     /* ... its timestamps 1 and 2 */
  bool ts_swapped;             /* its CK and RTP timestamps are in little-endian order */
  bool ts_order_known;         /* an exchange was measured: ts_swapped is settled */
  uint64_t ck_impossible;      /* exchanges whose numbers fit neither byte order */
  double latency_ms;           /* one-way, from the last exchange */
  double offset_ms;            /* its clock minus ours */
  double last_heard;           /* its last sign of life: IN, CK, RTP */
  /* receiver feedback: an RS with last_rx_seq is due at next_rs */
  bool rx_since_rs;
  uint16_t last_rx_seq;
  double next_rs;
  /* which half of its RS carries the sequence number (RMP_AMS_RS_*), once
   * an RS showed it */
  uint8_t rs_form;
  /* it sent an RS with its own SSRC: an RS with ours on its data port is
   * then not its (raveloxmidi's form, see above), but forged */
  bool rs_own;
  /* counters */
  uint64_t ck_exchanges, rs_sent, rs_received;
  /* outputs in the outbox that name it: it is released after they went */
  unsigned queued;
} rmp_ams_peer;

typedef struct rmp_ams_config {
  uint32_t ssrc;               /* ours; never 0 (the runtime draws it) */
  const char *name;            /* our session name; kept by pointer (cut to 64 octets on the wire) */
  /* timings and limits; zero selects the default (RMP_AMS_DEF_*) */
  int invite_tries;            /* IN sent at most this often per port */
  double invite_interval_ms;   /* between them */
  int ck_fast_count;           /* first CK0s at the fast interval */
  double ck_fast_interval_ms, ck_interval_ms;
  double timeout_ms;           /* a joined participant not heard this long left: TIMEOUT */
  /* An invitation answered on the control port holds a participant slot
   * until its data IN comes (issue #16, finding 6: at 60 s, 31 INs a
   * minute kept a session full): for pending_timeout_ms after its last IN,
   * at most pending_per_host of them from one host (more are dropped,
   * counted in invitations_dropped), and when the session is full a new
   * invitation takes the slot of the oldest of them. A real initiator
   * sends its data IN right after our OK, and again every second or so. */
  double pending_timeout_ms;   /* (RMP_AMS_DEF_PENDING_TIMEOUT) */
  size_t pending_per_host;     /* (RMP_AMS_DEF_PENDING_PER_HOST) */
  double rs_interval_ms;       /* RS at most this often while RTP arrives */
  bool reinvite;               /* invite again a participant we invited that timed out */
  size_t max_participants;     /* joined or on their way, at most */
  double invitations_per_second; /* IN from unknown SSRCs answered at most this often
                                  * (a bucket holding one second's worth, at least one) */
  rmp_ams_accept accept;
  const rmp_addr *accept_list; /* ACCEPT_LIST: hosts (ports ignored); kept by pointer */
  size_t accept_count;
  /* The embedder's memory and randomness. alloc returns zeroed storage for
   * a participant (NULL: none, the invitation is dropped); release gets it
   * back once the machine and its outbox are done with it. random returns
   * 32 random bits (tokens). */
  rmp_ams_peer *(*alloc)(void *ud);
  void (*release)(void *ud, rmp_ams_peer *p);
  uint32_t (*random)(void *ud);
  void *ud;
} rmp_ams_config;

typedef struct rmp_ams_stats {
  uint64_t control_sent, control_received;   /* AppleMIDI command packets */
  uint64_t rs_sent, rs_received, ck_exchanges;
  uint64_t invitations_refused;   /* NO sent */
  uint64_t invitations_dropped;   /* IN over the rate, not answered */
  /* dropped and counted */
  uint64_t bad_signature, unknown_command, bad_name, malformed, unknown_ssrc;
  uint64_t foreign;               /* a participant's SSRC from an address not its own, or a BY
                                   * without its token */
  uint64_t unsolicited;           /* from the participant, answering nothing of ours: a CK1 or
                                   * CK2 that does not echo our open CK0 or CK1 */
  uint64_t outbox_full;           /* datagrams dropped because the outbox was not drained */
  uint64_t ck_impossible;         /* CK exchanges whose numbers fit neither byte order */
  uint64_t ts_swapped;            /* participants found writing timestamps in host order */
} rmp_ams_stats;

typedef enum rmp_ams_out_kind {
  RMP_AMS_SEND,          /* port, to, data[len] */
  RMP_AMS_EV_JOINED,        /* peer */
  RMP_AMS_EV_LEFT,          /* peer, reason */
  RMP_AMS_EV_SYNCED,        /* peer: latency_ms and offset_ms are new */
  RMP_AMS_EV_INVITE_FAILED, /* peer (its ctrl is the address invited), reason */
  RMP_AMS_EV_ACK            /* peer sent RS: seq is the last RTP packet of ours it received */
} rmp_ams_out_kind;

typedef struct rmp_ams_out {
  rmp_ams_out_kind kind;
  rmp_ams_peer *peer;     /* valid until the next rmp_ams_pop; NULL for a reply to a stranger */
  rmp_ams_reason reason;
  uint16_t seq;           /* EV_ACK: the RTP sequence number (the half rs_form says) */
  uint32_t raw;           /* EV_ACK: the RS field as received */
  int port;               /* SEND: RMP_AMS_CTRL or RMP_AMS_DATA */
  rmp_addr to;
  size_t len;
  uint8_t data[RMP_AM_MAX_LEN];
} rmp_ams_out;

typedef struct rmp_ams {
  rmp_ams_config cfg;          /* with the defaults filled in */
  rmp_ams_peer *peers;         /* newest first */
  uint32_t next_id;
  size_t reserved;             /* slots held outside (rmp_ams_reserve) */
  double tokens, refill_ms;    /* the invitation bucket */
  bool bucket_started;
  bool more;                   /* a tick stopped short: call it again */
  bool gone;                   /* some participant is GONE */
  rmp_ams_stats st;
  /* sessions that just ended (BY, timeout, ...): the second BY of a peer
   * that sends one on each port is not from an unknown SSRC */
  struct { uint32_t ssrc, token; } ended[4];
  unsigned ended_next;
  unsigned head, count;        /* the outbox ring */
  rmp_ams_out out[RMP_AMS_OUTBOX];
} rmp_ams;

/* Copies cfg and fills its zero fields with the defaults. Returns 0, or
 * RMP_EAINVAL when alloc, release or random is missing. */
int rmp_ams_init(rmp_ams *m, const rmp_ams_config *cfg);
/* Releases every participant (no event) and empties the outbox. */
void rmp_ams_free(rmp_ams *m);

/* An AppleMIDI command datagram that arrived on port from `from`. Bad
 * packets are counted (stats) and dropped. */
void rmp_ams_on_packet(rmp_ams *m, double now, int port, const uint8_t *buf, size_t len,
                       const rmp_addr *from);
/* The joined participant an RTP packet with this SSRC from `from` (on the
 * data port) belongs to: the one with that SSRC, from its host. It counts
 * as a sign of life. NULL otherwise, counted as unknown_ssrc or foreign. */
rmp_ams_peer *rmp_ams_rtp_participant(rmp_ams *m, double now, uint32_t ssrc, const rmp_addr *from);
/* The media layer accepted p's RTP packet `seq`: an RS reports it (at most
 * every rs_interval_ms). */
void rmp_ams_rtp_received(rmp_ams *m, rmp_ams_peer *p, double now, uint16_t seq);

/* Invites the session whose control port is at `ctrl` (data: port + 1):
 * the first IN leaves now. Returns the participant, or NULL when
 * max_participants are there (with the reserved ones) or alloc failed. */
rmp_ams_peer *rmp_ams_invite(rmp_ams *m, double now, const rmp_addr *ctrl);
/* Ends the session with p (BY; LEFT "disconnected" if it had joined). */
void rmp_ams_disconnect(rmp_ams *m, rmp_ams_peer *p);
/* BY to every participant, each LEFT "stopped" (those still being invited
 * go without an event). Returns true when the outbox filled first: drain
 * and call again. */
bool rmp_ams_stop(rmp_ams *m);
/* Runs what is due at `now`: invitation retries and give-ups, CK0,
 * RS, timeouts. Returns true when the outbox filled first: drain and call
 * again. */
bool rmp_ams_tick(rmp_ams *m, double now);
/* When rmp_ams_tick is due next (INFINITY: nothing to do): the earliest of
 * `exact` (invitations: their timing is seen) and `lenient` (timeouts, CK,
 * RS: may run a little late). Either pointer may be NULL. */
double rmp_ams_next_deadline(const rmp_ams *m, double *exact, double *lenient);
/* The next output, in the order made; false when empty. Participants that
 * left are handed back to `release` here, once no output names them. */
bool rmp_ams_pop(rmp_ams *m, rmp_ams_out *out);

/* Slots held outside the machine (invitations waiting for a host name's
 * address): they count against max_participants. */
void rmp_ams_reserve(rmp_ams *m, size_t n);
/* Participants joined or on their way, the reserved ones included. */
size_t rmp_ams_live(const rmp_ams *m);
/* Invitations answered on the control port, waiting for the data port. */
size_t rmp_ams_pending(const rmp_ams *m);
/* The participant with this id that is not GONE, or NULL. */
rmp_ams_peer *rmp_ams_find(const rmp_ams *m, uint32_t id);

/* The 10 kHz clock of CK and RTP timestamps at `now_ms` (rounded). */
uint64_t rmp_ams_clock(double now_ms);
/* "bye", "timeout", "stopped", "disconnected", "rejected", "restarted". */
const char *rmp_ams_reason_name(rmp_ams_reason r);

#endif
