/* The RTP session's state, shared by session.c (lifecycle, RTP, jitter
 * buffer, drops) and session_rtcp.c (RTCP reports, SDES, BYE, RTT,
 * collisions seen in RTCP). Not part of the public API. */
#ifndef RMC_SESSION_INTERNAL_H
#define RMC_SESSION_INTERNAL_H

#include "jitter_buffer.h"
#include "rtp_seq.h"
#include "runtime.h"

/* Slots of the reorder buffer: the farthest a packet may run ahead of the
 * next one to release before the oldest gap is declared lost. */
#define RMC_JB_CAPACITY 128 /* default jitter_buffer_packets */

/* A libuv handle owned by a session; freed in its close callback. */
typedef struct rmc_handle {
  union {
    uv_handle_t h;
    uv_udp_t udp;
    uv_timer_t timer;
  } u;
  rtpmidi_session *owner; /* NULL once the session let go of it */
} rmc_handle;

typedef struct rmc_resolve {
  uv_getaddrinfo_t req;
  rtpmidi_session *owner; /* kept alive (open_handles) until the callback ran */
} rmc_resolve;

struct rtpmidi_session {
  rtpmidi_runtime *rt;
  rmc_member member;                 /* in rt's list until released (runtime.h) */
  bool inert;                        /* rt was freed: stopped for good */
  rtpmidi_session_config cfg;
  char *peer_address, *tool_name, *bind_address, *cname; /* owned copies */
  rtpmidi_session_events ev;
  void *ud;
  uint16_t delivering_seq;           /* the packet on_rtp is delivering */

  /* addresses */
  struct sockaddr_storage peer;      /* RTP destination; its host is the accepted source */
  struct sockaddr_storage peer_rtcp; /* RTCP destination */
  bool have_peer_rtcp;
  struct sockaddr_storage src;       /* accept_any_source: the source we locked to */
  bool src_locked;

  /* handles (NULL while stopped) */
  rmc_handle *rtp, *rtcp, *jb_timer, *rtcp_timer, *idle_timer;
  rmc_resolve *resolving;
  unsigned open_handles; /* handles and requests not yet through their callback */
  bool started;          /* start was called (sockets open, or resolving) */
  bool ready;            /* sockets open */
  bool stopping;
  bool freed;
  unsigned gen;          /* bumped by every stop: callbacks check it to notice one */

  /* sending */
  uint16_t seq;
  uint32_t ssrc, ts_offset;
  uint32_t sr_packets, sr_octets; /* for the SR of the current SSRC */
  bool sent_since_report;

  /* receiving */
  bool have_peer;         /* the peer's SSRC is known */
  bool peer_gone;         /* a drop was reported; no other until the peer is heard */
  bool pending_recovery;  /* the next delivered packet gets read_recovery_journal */
  uint64_t last_heard_us;
  rmp_seq_t seq_in;
  rmp_jb_t jb;
  rmp_jb_slot_t *slots;   /* NULL until the first RTP packet (open_jb) */
  rmp_jb_stats_t jb_base; /* jitter-buffer counters of earlier runs */
  struct {                /* the datagram being handled (delivered without a copy) */
    const uint8_t *payload;
    size_t len;
    uint32_t ts;
    bool marker;
  } cur;

  /* RTCP */
  uint32_t last_sr_mid;   /* middle 32 bits of the NTP time of the peer's last SR */
  uint64_t last_sr_us;    /* when it arrived (monotonic) */
  double avg_rtcp_size;
  bool rtcp_initial;

  rtpmidi_session_stats st;
};

/* session.c */
uint64_t rmc_now_us(void);
/* The peer was heard at now (rmc_now_us). */
void rmc_heard(rtpmidi_session *s, uint64_t now);
/* Reports a drop once: nothing more until the peer is heard again. */
void rmc_drop(rtpmidi_session *s, const char *reason, const char *detail);
/* Forgets the peer's SSRC and reception state (after its BYE or a timeout). */
void rmc_forget_peer(rtpmidi_session *s);
/* Source filter: true when addr may send to us (locks accept_any_source). */
bool rmc_source_ok(rtpmidi_session *s, const struct sockaddr *addr);
/* A packet carries our SSRC: loop (our own, from our own address) or
 * collision (8.2). Counts it, and on a collision takes a new SSRC and says
 * BYE for the old one. `from` is the socket it arrived on. */
void rmc_own_ssrc(rtpmidi_session *s, const struct sockaddr *addr, rmc_handle *from);
/* True when addr is one of ours: a local address and the port of `sock`. */
bool rmc_is_own_address(const struct sockaddr *addr, rmc_handle *sock);
/* Sends a datagram: into the runtime's send queue while a burst is being
 * delivered (runtime.h; 0 then means queued), else now (rmc_send_now). */
int rmc_send(rtpmidi_session *s, rmc_handle *sock, const uint8_t *buf, size_t len,
             const struct sockaddr *to);
/* Sends a datagram now: an ICMP error of an earlier datagram is reported
 * (on_drop "network") and the send tried again; when the socket is busy
 * libuv sends a copy later. Returns 0 or the error, counted in send_errors. */
int rmc_send_now(rtpmidi_session *s, rmc_handle *sock, const uint8_t *buf, size_t len,
                 const struct sockaddr *to);
/* The same, after a first attempt (uv_udp_try_send, sendmmsg) returned r. */
int rmc_send_after(rtpmidi_session *s, rmc_handle *sock, const uint8_t *buf, size_t len,
                   const struct sockaddr *to, int r);
/* A socket error (ICMP port unreachable and the like). */
void rmc_net_error(rtpmidi_session *s, rmc_handle *sock, int err);
void rmc_drain_errors(rmc_handle *sock);

/* session_rtcp.c */
void rmc_rtcp_start(rtpmidi_session *s);
/* Sends BYE for ssrc (with reason) in a compound RR + SDES + BYE. */
void rmc_rtcp_send_bye(rtpmidi_session *s, uint32_t ssrc, const char *reason);
void rmc_rtcp_on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                      unsigned flags);
/* Where RTCP goes when the peer's sending port is not configured. */
void rmc_rtcp_learn_peer(rtpmidi_session *s, const struct sockaddr *addr, int port);

#endif
