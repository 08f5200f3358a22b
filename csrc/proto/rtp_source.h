/* The RFC 3550 source machine: every decision one RTP session makes about
 * its remote source and about its own SSRC, without sockets, clocks or
 * timers. Shaped like a parser grown up:
 *
 *   rmp_src_on_rtp(m, now, bytes, len, from, &pkt)   a datagram on the RTP port
 *   rmp_src_on_rtcp(m, now, bytes, len, from)        a datagram on the RTCP port
 *   rmp_src_on_error(m, now, channel, dest, detail)  an ICMP error of a send
 *   rmp_src_tick(m, now)                             time passed
 *   rmp_src_next_deadline(m, &at)                    when to tick next
 *   rmp_src_poll(m, &out)                            what to send, what happened
 *
 * What it decides (RFC 3550 section numbers):
 *  - source filter: a datagram is taken only from the configured peer's
 *    host; with accept_any_source, from the first host heard (NAT), which
 *    the destinations then follow;
 *  - the peer's SSRC: learned from its first packet (RTP or RTCP); another
 *    SSRC from the peer's host is counted (unknown_ssrc) and dropped, except
 *    after a drop, when it is a restarted peer and is taken at once;
 *  - loops and collisions (8.2): our SSRC from our own address is a loop
 *    (counted, dropped); from the peer's host it is a collision: a BYE for
 *    the old SSRC, a new random one, and its source transport address
 *    joins the list of conflicting addresses (8.2; up to
 *    RMP_SRC_CONFLICTS, each kept 10 RTCP intervals after its last
 *    conflict): more of our SSRC from a listed address is a loop
 *    (counted, dropped), and at most one collision per RTCP interval
 *    changes our SSRC -- a forger with our SSRC from ever new ports gets
 *    no flood of BYEs and new SSRCs;
 *  - sequence numbers (A.1, with a probation of cfg.probation packets; the
 *    session's is one: the configured peer's first packet is accepted at
 *    once) and jitter (A.8); a packet that jumps ahead is held until its
 *    successor confirms it, the run reaches it, or cfg.hold_us pass
 *    (rtp_seq.h: one forged packet must not mute the real stream);
 *  - timeout: nothing heard from the peer for `timeout_us` forgets it and
 *    reports the drop "timeout"; every drop ("timeout", "bye", "network")
 *    is reported once, until the peer is heard again; an ICMP error read
 *    when nothing was sent since the peer was last heard is about a
 *    datagram older than that proof of life (a restarted peer): no drop;
 *  - RTCP: compound SR or RR + SDES (CNAME, TOOL) on the randomised
 *    interval of 6.3 / A.7 (the first after half the minimum); the peer's
 *    SR (for our LSR/DLSR), its report blocks about us (RTT of 6.4.1), its
 *    SDES, its BYE (forgets it; a drop "bye" unless the reason is the one
 *    we give after a collision). The peer's RTCP is taken only from where
 *    its first came from (until a drop): an SR, report, SDES or BYE
 *    forged from another port of its host is foreign. A receive-only
 *    session sends its reports there (not wherever the last claimed to);
 *  - a peer without an RTCP port (issue 18: MIDIMonster's direct mode,
 *    many hardware boxes): an ICMP error for the RTCP channel while the
 *    peer's RTP flows (heard within the timeout) waits RMP_SRC_RTCP_GRACE_US:
 *    RTP from the peer meanwhile shows a peer without RTCP, not a lost
 *    one: counted (rtcp_unreachable), and no RTCP is sent there any more
 *    (reports, BYE) until the peer's own RTCP shows it has a port or the
 *    session opens again. Nothing meanwhile (a killed peer: its RTP
 *    stopped with it) is the drop "network" at the end of the wait. Its
 *    RTP and its silence still decide liveness.
 *
 * What it leaves to the caller: sockets and timers, the reorder buffer
 * (jitter_buffer.h: the machine gives each accepted packet its extended
 * sequence number and says when the buffer must be flushed), the payload.
 *
 * Pure protocol code: no I/O, no clock reads, no allocation. Time is
 * `now`, monotonic microseconds; the wall clock (SR timestamps, RTT) is
 * now + an offset given at open. Randomness and "is this address one of
 * ours" come through callbacks. Everything the machine produces waits in
 * an outbox (datagrams and events, in order) until rmp_src_poll() takes it.
 */
#ifndef RMP_RTP_SOURCE_H
#define RMP_RTP_SOURCE_H

#include "addr.h"
#include "rtp.h"
#include "rtp_seq.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- liveness: a timeout reported once per silence ----
 * Reusable by any machine with a peer that may fall silent: heard() at
 * every sign of life, expired() when time passed, drop() for any other
 * end (a BYE, an ICMP error). After a drop nothing more is reported until
 * the peer is heard again, which re-arms the timeout. */
typedef struct rmp_alive {
  uint64_t last_heard_us;
  uint64_t timeout_us;
  bool running;  /* started: the timeout applies */
  bool gone;     /* a drop was reported; nothing more until heard */
} rmp_alive;

/* Starts watching at now (as if heard then). */
void rmp_alive_start(rmp_alive *a, uint64_t now, uint64_t timeout_us);
void rmp_alive_stop(rmp_alive *a);
/* The peer was heard at now: re-arms after a drop. */
void rmp_alive_heard(rmp_alive *a, uint64_t now);
/* True once when the timeout ran out by now (the drop is then reported:
 * gone). */
bool rmp_alive_expired(rmp_alive *a, uint64_t now);
/* Reports a drop: true when this is the first since the peer was heard. */
bool rmp_alive_drop(rmp_alive *a);
/* When the timeout runs out; false while none is armed (stopped, gone). */
bool rmp_alive_deadline(const rmp_alive *a, uint64_t *at);

/* ---- the machine ---- */

/* Which socket a datagram came on, or an error is about. */
enum { RMP_SRC_RTP = 0, RMP_SRC_RTCP = 1 };

/* The BYE reason we give after a collision: a peer's BYE with this reason
 * is a new SSRC coming, not a drop. */
#define RMP_SRC_COLLISION_REASON "SSRC collision"

/* Room for one compound RTCP packet: SR or RR with one report block (52),
 * SDES with CNAME and TOOL of 255 octets each (524), BYE with a reason of
 * 255 octets (264). */
#define RMP_SRC_RTCP_MAX 1024

/* How long an ICMP error for the peer's RTCP port waits for its RTP. */
#define RMP_SRC_RTCP_GRACE_US 2000000u

typedef struct rmp_src_config {
  uint32_t ssrc;            /* our first SSRC */
  uint32_t ts_offset;       /* our media clock: ts_offset + now * clock_rate (SR) */
  uint32_t clock_rate;      /* RTP timestamp units per second (> 0) */
  uint8_t payload_type;     /* the only one accepted */
  uint8_t probation;        /* packets in sequence before a source's are delivered
                               (A.1 MIN_SEQUENTIAL, RMP_SEQ_MIN_SEQUENTIAL); 0 or 1:
                               the first at once (the configured peer) */
  uint16_t peer_port;       /* the peer's RTP port we send to; 0: receive only
                               (RTCP then goes where the peer's comes from) */
  bool accept_any_source;   /* lock to the first host heard (NAT) */
  uint64_t timeout_us;      /* silence before the drop "timeout" (> 0) */
  uint64_t hold_us;         /* how long a packet that jumps ahead waits to be confirmed
                               (rtp_seq.h held jumps; the reorder buffer's wait is the
                               natural value; 0: taken at the next rmp_src_hold_expire) */
  double rtcp_interval_s;   /* minimum RTCP interval (6.2; > 0) */
  const char *cname, *tool; /* SDES items (<= 255 octets), kept by pointer; tool may be NULL */
  /* 64 random bits (a new SSRC, the interval's randomisation). */
  uint64_t (*random)(void *ud);
  /* True when `from` is our own socket for `channel` (a looped-back packet
   * of ours). Asked only for packets carrying our SSRC. */
  bool (*is_own)(void *ud, int channel, const rmp_addr *from);
  void *ud;
} rmp_src_config;

/* What the machine counts (the session's statistics; the reorder buffer's
 * lost/duplicate/late/reordered are the caller's). */
typedef struct rmp_src_stats {
  uint64_t packets_sent, bytes_sent;       /* RTP, as told by rmp_src_sent_rtp */
  uint64_t packets_received, bytes_received; /* RTP accepted from the peer */
  uint64_t malformed;      /* from an acceptable source but not parsed / wrong type */
  uint64_t foreign;        /* from another host, or with an unknown SSRC */
  uint64_t unknown_ssrc;   /* from the peer's host with another SSRC (also foreign) */
  uint64_t loops;          /* ours, looped back (also from a listed conflicting address,
                              or a collision within an RTCP interval of the last one) */
  uint64_t ssrc_collisions; /* we took a new SSRC */
  uint64_t rtcp_sent, rtcp_received;
  uint64_t events_lost;    /* the outbox was full (never in normal use) */
  uint64_t stale_errors;   /* ICMP errors about datagrams sent before the peer was
                              last heard (a restart): no drop */
  uint64_t rtcp_unreachable; /* ICMP errors for the peer's RTCP port while its RTP
                              flows (a peer without RTCP): no drop, RTCP stops */
  uint64_t foreign_errors; /* ICMP errors about a destination that is not the
                              peer's address on that socket: ignored */
  /* held packets (rtp_seq.h) of SSRCs forgotten; add the current one's
   * (rmp_src_held_duplicates, ...) */
  uint64_t held_duplicates, held_reordered, held_dropped;
  bool have_peer_ssrc;
  uint32_t peer_ssrc;      /* kept after the peer is forgotten */
  double rtt_ms;           /* < 0 until known */
  uint8_t remote_fraction_lost;
  int32_t remote_lost;
  uint32_t remote_jitter;  /* RTP units */
  char peer_cname[256], peer_tool[256];
} rmp_src_stats;

/* What the peer reported about our stream in a report block. */
typedef struct rmp_src_report {
  uint32_t ext_highest_seq;
  uint8_t fraction_lost;
  int32_t cumulative_lost;
  uint32_t jitter;          /* RTP units */
  double rtt_ms;            /* -1 when not computable */
} rmp_src_report;

enum {
  RMP_SRC_OUT_DATAGRAM = 1, /* send data/len to `to` from the RTCP socket */
  RMP_SRC_OUT_FORGET,       /* the peer's SSRC was forgotten: flush the reorder
                               buffer (its packets are delivered), then reset it */
  RMP_SRC_OUT_DROP,         /* the peer is lost: reason, detail */
  RMP_SRC_OUT_REPORT,       /* a report block about our stream: report */
  RMP_SRC_OUT_COLLISION     /* we changed SSRC: old_ssrc -> new_ssrc */
};

typedef struct rmp_src_out {
  int kind;
  rmp_addr to;              /* DATAGRAM */
  const uint8_t *data;      /* DATAGRAM: valid until rmp_src_poll returns 0 */
  size_t len;
  const char *reason;       /* DROP: "timeout", "bye", "network", ... */
  const char *detail;       /* DROP: never NULL; valid as data */
  bool recovery;            /* FORGET: the next packet delivered follows a loss */
  rmp_src_report report;    /* REPORT */
  uint32_t old_ssrc, new_ssrc; /* COLLISION */
} rmp_src_out;

/* Results of rmp_src_on_rtp: accepted (>= 0) or why not (< 0). */
enum {
  RMP_SRC_ACCEPT = 0,       /* deliver: pkt filled */
  RMP_SRC_RESYNC = 1,       /* deliver after flushing the reorder buffer: the
                               peer restarted its numbering (A.1) and what lay
                               between is unknown (a recovery) */
  RMP_SRC_MALFORMED = -1,
  RMP_SRC_FOREIGN = -2,     /* another host */
  RMP_SRC_UNKNOWN_SSRC = -3,
  RMP_SRC_LOOP = -4,
  RMP_SRC_COLLISION = -5,   /* our SSRC from the peer: we changed ours */
  RMP_SRC_SEQ_WAIT = -6,    /* A.1 keeps it out (probation, a very large jump) */
  RMP_SRC_CLOSED = -7,      /* not open */
  RMP_SRC_HELD = -8,        /* ahead of the next: held (rtp_seq.h). Keep a copy in slot
                               pkt.held_slot (it replaces what was kept there): a later
                               packet releases it (pkt.release), or
                               rmp_src_hold_expire, or it never counts */
  RMP_SRC_HELD_DUP = -9     /* a copy of a packet held: a duplicate */
};

/* An accepted RTP packet. */
typedef struct rmp_src_pkt {
  rmp_rtp_header h;         /* the payload is bytes + h.payload_offset */
  uint32_t ext_seq;         /* its extended sequence number (A.1); for HELD, the
                               place it would take */
  unsigned held_slot;       /* HELD: where to keep its copy (< RMP_SRC_HOLD_SLOTS) */
  /* ACCEPT/RESYNC: copies kept that count now, ascending, each before or
   * after this packet (valid until the next call into the machine) */
  const rmp_seq_release *release;
  unsigned n_release;
  bool undo;                /* RESYNC: a jump taken on trust was undone; the run goes
                               on after undo_last (rtp_seq.h) */
  uint16_t undo_last;
} rmp_src_pkt;

/* Slots for copies of held packets (rtp_seq.h). */
#define RMP_SRC_HOLD_SLOTS (RMP_SEQ_HOLDS + 1)

#define RMP_SRC_OUT_MAX 8
#define RMP_SRC_CONFLICTS 8 /* conflicting source transport addresses kept (8.2) */
#define RMP_SRC_ARENA 1024 /* a compound RTCP packet of ours (<= 600) and a drop detail (<= 256) */

typedef struct rmp_src {
  rmp_src_config cfg;
  bool open;
  /* where we send, and whom we accept */
  rmp_addr peer;            /* RTP destination; its host is the accepted source */
  rmp_addr peer_rtcp;       /* RTCP destination (valid when have_peer_rtcp) */
  bool have_peer_rtcp;
  bool rtcp_off;            /* its RTCP port is unreachable while its RTP flows: no RTCP */
  bool have_rtp;            /* RTP from the peer heard, at last_rtp_us */
  bool heard_rtcp;          /* RTCP from the peer since it was learnt: it has an RTCP
                               port, so an ICMP error for that port means it is gone */
  uint64_t last_rtp_us;
  bool rtcp_error;          /* an ICMP error for its RTCP port waits for its RTP ... */
  uint64_t rtcp_error_at;   /* ... since then */
  char rtcp_error_detail[128];
  rmp_addr rtcp_from;       /* where the peer's first RTCP came from: its BYE must too */
  bool have_rtcp_from;
  bool src_locked;          /* accept_any_source: peer follows the first host heard */
  int64_t wall_offset_us;   /* wall clock (Unix µs) - now */
  /* our source */
  uint32_t ssrc;
  uint32_t sr_packets, sr_octets; /* for the SR of the current SSRC */
  bool sent_since_report;
  bool sent_since_heard;    /* we sent (RTP or RTCP) since the peer was last heard */
  /* the peer */
  bool have_peer;
  rmp_seq_t seq;
  rmp_alive alive;
  uint32_t last_sr_mid;     /* middle 32 bits of the NTP time of its last SR */
  uint64_t last_sr_us;      /* when it arrived */
  /* RTCP schedule */
  uint64_t report_at;
  double avg_rtcp_size;
  bool rtcp_initial;
  rmp_src_stats st;
  /* 8.2: source transport addresses that sent our SSRC */
  struct {
    rmp_addr addr;
    uint64_t last_us;
    bool used;
  } conflicts[RMP_SRC_CONFLICTS];
  uint64_t last_collision_us; /* when we last changed SSRC on a collision */
  bool collided;
  /* the outbox */
  rmp_src_out out[RMP_SRC_OUT_MAX];
  unsigned out_head, out_n;
  size_t arena_used;
  uint8_t arena[RMP_SRC_ARENA];
} rmp_src;

/* Sets the machine up, closed. cfg is copied (its strings are kept by
 * pointer). Statistics start at zero and live until the next init. */
void rmp_src_init(rmp_src *m, const rmp_src_config *cfg);
/* Opens at now: the peer's address (its RTP port is cfg.peer_port) and
 * the wall clock at now (Unix µs). Reception starts afresh (no peer SSRC,
 * the outbox emptied, nothing gone); the timeout runs from now; the first
 * RTCP report is scheduled. */
void rmp_src_open(rmp_src *m, uint64_t now, const rmp_addr *peer_host, uint64_t wall_us);
/* Closes: no deadline, no input taken, the outbox emptied. */
void rmp_src_close(rmp_src *m);
/* A drop of the caller's own (e.g. "network", "cannot resolve host: ...")
 * reported once: the same rule as every drop. Works closed too. */
void rmp_src_drop(rmp_src *m, const char *reason, const char *detail);

/* One datagram from the RTP socket. Returns RMP_SRC_ACCEPT or
 * RMP_SRC_RESYNC with *pkt filled, or a negative RMP_SRC_* reason (each
 * counted). Poll afterwards: a collision leaves a BYE in the outbox. */
int rmp_src_on_rtp(rmp_src *m, uint64_t now, const uint8_t *buf, size_t len, const rmp_addr *from,
                   rmp_src_pkt *pkt);
/* One datagram from the RTCP socket (a compound packet). */
void rmp_src_on_rtcp(rmp_src *m, uint64_t now, const uint8_t *buf, size_t len, const rmp_addr *from);
/* The system reported an error (ICMP unreachable) for a datagram sent from
 * `channel`'s socket to dest (NULL: unknown): a drop "network" with detail
 * (unless dest is not where that socket sends to the peer: foreign_errors,
 * nothing else; or nothing was sent since the peer was last heard: stale_errors;
 * or it is about RTCP while the peer's RTP flows: the drop waits
 * RMP_SRC_RTCP_GRACE_US for the peer's RTP, which makes it
 * rtcp_unreachable instead, and RTCP stops). */
void rmp_src_on_error(rmp_src *m, uint64_t now, int channel, const rmp_addr *dest, const char *detail);
/* The held packet's wait (cfg.hold_us): when it runs out; false when no
 * packet is held. Apart from rmp_src_next_deadline, which may run late: a
 * reorder buffer's deadline is exact. */
bool rmp_src_hold_deadline(const rmp_src *m, uint64_t *at);
/* At now: when a held packet's wait ran out, it counts (on trust, see
 * rtp_seq.h) or is dropped. True when copies count now: *rel (n of them,
 * ascending) says which; call until false. */
bool rmp_src_hold_expire(rmp_src *m, uint64_t now, const rmp_seq_release **rel, unsigned *n);
/* Packets held that came twice (not delivered: duplicates), and reordered
 * ones put back in order before a reorder buffer saw them. */
uint64_t rmp_src_held_duplicates(const rmp_src *m);
uint64_t rmp_src_reordered(const rmp_src *m);
/* Held packets that never counted (replaced, passed, the run went on). */
uint64_t rmp_src_held_dropped(const rmp_src *m);
/* Time passed: the timeout, the RTCP report. */
void rmp_src_tick(rmp_src *m, uint64_t now);
/* The earliest time tick has something to do; false when nothing is due
 * ever (closed). */
bool rmp_src_next_deadline(const rmp_src *m, uint64_t *at);
/* Takes the oldest datagram or event: 1 and *out filled, or 0 when the
 * outbox is empty. Pointers in *out stay valid until a call returns 0. */
int rmp_src_poll(rmp_src *m, rmp_src_out *out);

/* Sending. */
uint32_t rmp_src_ssrc(const rmp_src *m);
/* Where our RTP goes (the peer host with cfg.peer_port). */
const rmp_addr *rmp_src_rtp_dest(const rmp_src *m);
/* We sent an RTP packet with a payload of len octets. */
void rmp_src_sent_rtp(rmp_src *m, size_t len);
/* A compound RR + SDES + BYE for our SSRC with reason, for the caller to
 * send at once (the session stops). Returns its length (counted as sent)
 * and *to, or 0 when there is nowhere to send it. */
size_t rmp_src_bye(rmp_src *m, uint64_t now, const char *reason, uint8_t *buf, size_t cap, rmp_addr *to);
/* Counts a packet whose payload did not parse (the layer above). */
void rmp_src_count_malformed(rmp_src *m);

const rmp_src_stats *rmp_src_get_stats(const rmp_src *m);
/* The peer's interarrival jitter (A.8), in RTP units. */
uint32_t rmp_src_jitter(const rmp_src *m);
/* Our media clock at now (ts_offset + now * clock_rate). */
uint32_t rmp_src_media_time(const rmp_src *m, uint64_t now);

#endif
