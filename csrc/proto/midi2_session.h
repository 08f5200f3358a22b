/* Network MIDI 2.0 session machine, socket-free: one UDP endpoint's worth
 * of sessions (a host with several clients, or a client with the hosts it
 * invited), driven by
 *     rmp_m2s_on_packet(now, bytes, len, from)   a datagram arrived
 *     rmp_m2s_tick(now)                          time passed
 *     rmp_m2s_next_deadline()                    when tick is due next
 * and the calls of the application (invite, send, reset, bye). What it wants
 * to send waits in an outbox of datagrams (rmp_m2s_pop_datagram); what
 * happened, in a queue of events (rmp_m2s_pop_event). Drain both after each
 * call. Times are microseconds on any monotonic clock.
 *
 * Pure protocol code: libc only, no I/O, no clock reads, no allocation: the
 * caller provides the (large, fixed-size) rmp_m2s struct, SHA-256 and
 * random octets as function pointers.
 *
 * Behaviour, and the implementation each part follows ([Z] Zephyr, [A]
 * amidi2net, [W] Windows MIDI Services; see midi2.h):
 *  - Invitation: a client repeats its Invitation every invite_retry_ms and
 *    gives up after invite_retries with Bye 0x80 ([W] ServicePendingInvitation,
 *    MIDI_NETWORK_MAX_INVITATION_ATTEMPTS 5); after Pending it stops
 *    repeating and waits up to pending_timeout_ms ([W] 120 s). Capabilities
 *    announce what credentials the client holds ([A] send_invitation).
 *  - Authentication: a host with a shared secret or users answers an
 *    Invitation whose capabilities allow it with Authentication Required
 *    (0x12) or User Authentication Required (0x13) and a fresh 16-octet
 *    nonce ([Z] [A]); a client without matching capabilities gets Bye 0x45
 *    ([A] auth_forced, [W]). The client answers with SHA-256(nonce || secret)
 *    or SHA-256(nonce || user || password) ([Z] netmidi2_auth_session, [A]
 *    auth.c). A wrong digest (or an unknown user) is answered with a new
 *    nonce and state 1 ([Z] AUTH_STATE_INCORRECT_DIGEST); the client then
 *    gives up with Bye 0x80 ([A] "Invalid auth: state") and reports it;
 *    after auth_attempts wrong digests the host says Bye 0x43.
 *  - UMP Data: each send takes the next 16-bit sequence number (the first
 *    is 0 [W] [Z]) per peer and goes out with the previous `fec` commands
 *    before it, oldest first ([W] SendQueuedMidiMessagesToNetwork, [A]
 *    submit_ump_data); datagrams stay within 1400 octets. A bounded history
 *    answers Retransmit Requests (count 0: everything from that number [W]);
 *    what it no longer holds is a Retransmit Error with the earliest number
 *    it has ([W] HandleIncomingRetransmitRequest).
 *  - Receiving: commands are delivered in sequence order; FEC copies of
 *    delivered ones are skipped ([W] [A] session_read_ump). A gap left after a
 *    whole datagram holds later commands back and sends a Retransmit Request
 *    at once, again every rtx_ms, at most rtx_tries times ([W]
 *    MIDI_NETWORK_MAX_RETRANSMIT_REQUEST_ATTEMPTS 3); a Retransmit Error, a
 *    NAK of the request or the last try gives the gap up (an event counts
 *    the loss) and releases what was held.
 *  - Idle: after data, `fec` (at least one) zero-length UMP Data commands
 *    follow tail_ms apart so a lost last datagram is recovered ([A]
 *    process_zerolength_ump_timeout); then one every keepalive_ms ([W] the
 *    empty-queue keep-alive).
 *  - Liveness: after ping_ms without a datagram from a peer, Ping, again
 *    every ping_retry_ms; after ping_retries unanswered ones, Bye 0x04 and
 *    the session ends ([W] ConnectionWatcherThreadWorker, [A]
 *    process_session_timeout, [Z] Bye with reason 0x04).
 *  - Session Reset restarts both directions' sequence numbers at 0 and empties
 *    the history ([Z] tx/rx_ump_seq = 0, [W] ResetSequenceNumbers); Bye is
 *    repeated until Bye Reply (bye_retries, [W] MIDI_NETWORK_BYE_MAX_ATTEMPTS 3).
 *  - Hostile input: only the peer's address and port reach its session;
 *    malformed commands from a peer get NAK 0x03, unknown ones NAK 0x01
 *    ([Z]), a NAK is never answered; UMP Data, Retransmit and Session Reset
 *    from an address without a session get Bye 0x05 ([A] [W]); answers to
 *    addresses without a session are limited to stranger_budget a second.
 *  - UMP Stream Endpoint / Function Block Discovery and Stream Configuration
 *    Requests are answered from the endpoint name and product instance id
 *    (answer_stream); they are delivered as well.
 */
#ifndef RTPMIDI_PROTO_MIDI2_SESSION_H
#define RTPMIDI_PROTO_MIDI2_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "midi2.h"

#define RMP_M2S_MAX_PEERS 16       /* sessions per machine */
#define RMP_M2S_MAX_FEC 10         /* [W] MIDI_NETWORK_FEC_PACKET_COUNT_UPPER_BOUND */
#define RMP_M2S_HIST 128           /* UMP Data commands kept per peer, at most */
#define RMP_M2S_HIST_WORDS 2048    /* their words */
#define RMP_M2S_RX_SLOTS 64        /* commands held behind a gap */
#define RMP_M2S_RX_WORDS 1024
#define RMP_M2S_OUTBOX 64          /* datagrams waiting to be sent */
#define RMP_M2S_EVENTS 256
#define RMP_M2S_EVENT_WORDS 8192
#define RMP_M2S_MAX_USERS 8

enum rmp_m2s_role { RMP_M2S_HOST = 0, RMP_M2S_CLIENT = 1 };

/* Errors (negative). */
enum {
  RMP_M2S_EINVAL = -1,  /* bad argument / configuration */
  RMP_M2S_ENOPEER = -2, /* no such session */
  RMP_M2S_EFULL = -3,   /* no free session slot */
  RMP_M2S_EBUSY = -4,   /* already a session with that address, or not in a state for it */
  RMP_M2S_ECRYPTO = -5  /* the hash or random function failed */
};

typedef struct rmp_m2s_user {
  const char *name, *password;
} rmp_m2s_user;

/* Credentials for an invitation (all NULL: none). */
typedef struct rmp_m2s_auth {
  const char *secret;          /* shared secret */
  const char *user, *password; /* user authentication */
} rmp_m2s_auth;

typedef int (*rmp_m2s_random_fn)(void *ctx, uint8_t *out, size_t n);

typedef struct rmp_m2s_config {
  int role;                    /* RMP_M2S_HOST: accepts invitations */
  const char *name;            /* endpoint name (<= 98 octets UTF-8) */
  const char *piid;            /* product instance id (<= 42 octets) */
  /* host: require authentication (both may be set; the client's
   * capabilities choose; user authentication first) */
  const char *secret;
  const rmp_m2s_user *users;
  size_t n_users;
  unsigned max_clients;        /* host: sessions at once (<= RMP_M2S_MAX_PEERS) */
  unsigned fec;                /* previous commands repeated in each UMP Data datagram */
  unsigned history;            /* commands kept for retransmission (>= fec, <= RMP_M2S_HIST) */
  uint32_t invite_retry_ms;
  unsigned invite_retries;
  uint32_t pending_timeout_ms;
  unsigned auth_attempts;      /* host: wrong digests before Bye 0x43 */
  uint32_t ping_ms, ping_retry_ms;
  unsigned ping_retries;
  uint32_t tail_ms, keepalive_ms; /* 0: off */
  uint32_t rtx_ms;
  unsigned rtx_tries;
  uint32_t reset_retry_ms, bye_retry_ms;
  unsigned reset_retries, bye_retries;
  unsigned stranger_budget;    /* answers a second to addresses without a session */
  bool answer_stream;          /* answer UMP Stream discovery */
  rmp_m2_sha256_fn sha256;     /* needed for authentication */
  rmp_m2s_random_fn random;    /* nonces, first ping id; needed by a host with authentication */
  void *crypto_ctx;
} rmp_m2s_config;

/* Defaults: host, fec 2, history 64, invitation every 1000 ms x 5, pending
 * 120 s, 3 auth attempts, ping after 2000 ms then every 1000 ms x 3, tail
 * 50 ms, keepalive 1000 ms, retransmit 50 ms x 3, reset 500 ms x 3, bye
 * 500 ms x 3, 32 stranger answers a second, answer_stream on, max_clients 16. */
void rmp_m2s_config_defaults(rmp_m2s_config *c);

enum rmp_m2s_state {
  RMP_M2S_FREE = 0,
  RMP_M2S_INVITING,     /* client: Invitation sent */
  RMP_M2S_PENDING,      /* client: host said Pending */
  RMP_M2S_AUTHING,      /* client: digest sent */
  RMP_M2S_AUTH_WAIT,    /* host: nonce sent, waiting for the digest */
  RMP_M2S_ESTABLISHED,
  RMP_M2S_RESETTING,    /* Session Reset sent, waiting for the reply */
  RMP_M2S_BYEING        /* Bye sent, waiting for the reply */
};

/* Why a session ended (event LEFT). */
enum rmp_m2s_cause {
  RMP_M2S_LEFT_BYE = 1,          /* the peer said Bye (reason: its reason) */
  RMP_M2S_LEFT_LOCAL,            /* we said Bye (reply or not) */
  RMP_M2S_LEFT_TIMEOUT,          /* pings went unanswered */
  RMP_M2S_LEFT_INVITE_FAILED,    /* no answer to the Invitation, or Pending too long */
  RMP_M2S_LEFT_AUTH_FAILED,      /* the host refused our digest (reason: its auth state) */
  RMP_M2S_LEFT_REFUSED           /* the host said Bye or NAK to the Invitation (reason: its code) */
};

enum rmp_m2s_ev_type {
  RMP_M2S_EV_JOINED = 1, /* a session is established */
  RMP_M2S_EV_LEFT,       /* a session ended (or an invitation failed) */
  RMP_M2S_EV_UMP,        /* UMP Data delivered, in order */
  RMP_M2S_EV_LOST,       /* commands given up (count) */
  RMP_M2S_EV_RESET,      /* the sequence numbers restarted (remote: the peer asked) */
  RMP_M2S_EV_PENDING,    /* the host answered Pending */
  RMP_M2S_EV_NAK         /* the peer NAKed one of our commands */
};

typedef struct rmp_m2s_event {
  int type;
  uint32_t peer;           /* session id */
  uint64_t time;
  rmp_addr addr;           /* the peer's address */
  int cause;               /* LEFT: enum rmp_m2s_cause */
  uint8_t reason;          /* LEFT: Bye reason / auth state; NAK: NAK reason */
  bool remote;             /* RESET: asked by the peer */
  uint32_t header;         /* NAK: the header of our command */
  uint32_t count;          /* LOST */
  uint16_t seq;            /* UMP: sequence number */
  bool recovered;          /* UMP: delivered from an FEC copy or a retransmission */
  const uint32_t *words;   /* UMP: whole messages (valid until the next call into the machine) */
  uint16_t nwords;
} rmp_m2s_event;

typedef struct rmp_m2s_dgram {
  const uint8_t *buf;      /* valid until the next call into the machine */
  size_t len;
  rmp_addr to;
} rmp_m2s_dgram;

typedef struct rmp_m2s_stats {
  uint64_t datagrams_in, datagrams_out;
  uint64_t bad;            /* datagrams / commands that did not parse */
  uint64_t foreign;        /* commands from addresses without a session that made no session */
  uint64_t naks_in, naks_out;
  uint64_t ump_in, dup_in; /* UMP Data commands delivered / already had */
  uint64_t recovered_fec, recovered_rtx, lost;
  uint64_t rtx_requests_out, rtx_requests_in, retransmitted, rtx_errors_out;
  uint64_t pings_out, keepalives_out;
  uint64_t auth_failures;
  uint64_t suppressed;     /* answers to strangers not sent (budget) */
  uint64_t outbox_dropped, events_dropped;
} rmp_m2s_stats;

typedef struct rmp_m2s_hist_ent {
  uint16_t seq;
  uint8_t len;
  uint16_t off;
} rmp_m2s_hist_ent;

typedef struct rmp_m2s_rx_slot {
  uint16_t seq;
  uint8_t len;
  bool used, recovered;
  uint16_t off;
} rmp_m2s_rx_slot;

typedef struct rmp_m2s_peer {
  uint8_t state;
  bool invited_by_us;          /* we are its client */
  bool joined;
  uint32_t id;
  rmp_addr addr;
  char name[RMP_M2_NAME_MAX + 1], piid[RMP_M2_PIID_MAX + 1];
  uint8_t caps;                /* its Invitation's capabilities */
  uint8_t bye_reason;          /* ours, repeated while leaving */
  /* authentication */
  char secret[RMP_M2_CRED_MAX + 1], user[RMP_M2_CRED_MAX + 1], password[RMP_M2_CRED_MAX + 1];
  uint8_t method;              /* host: 0x12 or 0x13 asked for */
  uint8_t nonce[RMP_M2_NONCE_LEN];
  unsigned auth_fails;
  /* timers */
  uint64_t t_state;            /* invitation / pending / auth / reset / bye deadline */
  unsigned tries;
  uint64_t t_ping;
  unsigned pings_out;
  uint32_t ping_id;
  uint64_t ping_sent, rtt;
  uint64_t t_tail, t_keepalive;
  unsigned tail_left;
  /* sending: a ring of history entries and one of their words */
  uint16_t tx_next;
  unsigned h_first, h_count, h_wfirst, h_wused;
  /* receiving */
  uint16_t rx_next, rx_max;
  bool rx_any;
  unsigned rx_held, rx_wused;
  bool rtx_out, remote_no_rtx;
  uint16_t rtx_seq;
  unsigned rtx_tries;
  uint64_t t_rtx;
  /* the buffers last (a new session clears only what is above) */
  rmp_m2s_hist_ent hist[RMP_M2S_HIST];
  uint32_t hwords[RMP_M2S_HIST_WORDS];
  rmp_m2s_rx_slot rx[RMP_M2S_RX_SLOTS];
  uint32_t rwords[RMP_M2S_RX_WORDS];
} rmp_m2s_peer;

typedef struct rmp_m2s {
  rmp_m2s_config cfg;
  char name[RMP_M2_NAME_MAX + 1], piid[RMP_M2_PIID_MAX + 1];
  char secret[RMP_M2_CRED_MAX + 1];
  bool has_secret;
  rmp_m2s_user users[RMP_M2S_MAX_USERS];
  char user_names[RMP_M2S_MAX_USERS][RMP_M2_CRED_MAX + 1];
  char user_pw[RMP_M2S_MAX_USERS][RMP_M2_CRED_MAX + 1];
  uint32_t next_id;
  rmp_m2s_peer peers[RMP_M2S_MAX_PEERS];
  /* stranger budget */
  uint64_t budget_start;
  unsigned budget_used;
  /* outbox */
  unsigned ob_first, ob_count;
  struct { uint16_t len; rmp_addr to; uint8_t buf[RMP_M2_MAX_DATAGRAM]; } ob[RMP_M2S_OUTBOX];
  /* events */
  unsigned ev_first, ev_count, ev_wused;
  rmp_m2s_event ev[RMP_M2S_EVENTS];
  uint32_t ev_words[RMP_M2S_EVENT_WORDS];
  rmp_m2s_stats stats;
} rmp_m2s;

/* A read-only view of a session. */
typedef struct rmp_m2s_peer_info {
  uint32_t id;
  int state;                   /* enum rmp_m2s_state */
  bool invited_by_us;
  rmp_addr addr;
  const char *name, *piid;     /* the peer's */
  uint64_t rtt;                /* last ping round trip, us (0: none yet) */
  uint16_t tx_next, rx_next;
} rmp_m2s_peer_info;

/* Checks and copies the configuration (texts are copied). 0 or RMP_M2S_EINVAL. */
int rmp_m2s_init(rmp_m2s *s, const rmp_m2s_config *cfg);

/* One datagram from `from`. Returns the number of commands handled, or a
 * negative enum rmp_m2_err for a datagram that is not Network MIDI 2.0. */
int rmp_m2s_on_packet(rmp_m2s *s, uint64_t now, const uint8_t *buf, size_t len, const rmp_addr *from);
void rmp_m2s_tick(rmp_m2s *s, uint64_t now);
/* The earliest time tick has something to do; UINT64_MAX: nothing. */
uint64_t rmp_m2s_next_deadline(const rmp_m2s *s);

/* Invites a host (any role may invite). *id gets the session id. 0, or
 * RMP_M2S_EBUSY (a session with that address exists), RMP_M2S_EFULL,
 * RMP_M2S_EINVAL (credential too long, no address). */
int rmp_m2s_invite(rmp_m2s *s, uint64_t now, const rmp_addr *to, const rmp_m2s_auth *auth, uint32_t *id);
/* Sends whole UMP messages (any number of words) to one established session
 * (peer id) or to all (peer 0). Returns the number of sessions it went to,
 * or RMP_M2S_EINVAL (not whole messages) / RMP_M2S_ENOPEER. */
int rmp_m2s_send(rmp_m2s *s, uint64_t now, uint32_t peer, const uint32_t *words, size_t n);
/* Session Reset of an established session. */
int rmp_m2s_reset(rmp_m2s *s, uint64_t now, uint32_t peer);
/* Ends a session (peer 0: all) with a Bye of `reason`; an invitation in
 * progress is cancelled (Bye 0x80). The session ends at the Bye Reply (or
 * after bye_retries). Returns the number of sessions. */
int rmp_m2s_bye(rmp_m2s *s, uint64_t now, uint32_t peer, uint8_t reason);

bool rmp_m2s_pop_datagram(rmp_m2s *s, rmp_m2s_dgram *out);
bool rmp_m2s_pop_event(rmp_m2s *s, rmp_m2s_event *out);

/* 0 and *out, or RMP_M2S_ENOPEER. */
int rmp_m2s_peer_get(const rmp_m2s *s, uint32_t id, rmp_m2s_peer_info *out);
/* Ids of the sessions (any state but free) into ids[0..cap); returns how
 * many there are (ids may be NULL with cap 0). */
size_t rmp_m2s_peers(const rmp_m2s *s, uint32_t *ids, size_t cap);

const char *rmp_m2s_cause_name(int cause);
const char *rmp_m2s_state_name(int state);

#endif
