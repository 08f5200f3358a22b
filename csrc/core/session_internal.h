/* The RTP session's state (session.c). Not part of the public API.
 *
 * Every RFC 3550 decision is the source machine's (csrc/proto/rtp_source.h);
 * the session keeps the sockets (two endpoints, endpoint.h), one timer, the
 * reorder buffer (jitter_buffer.h) and the calls between them. */
#ifndef RMC_SESSION_INTERNAL_H
#define RMC_SESSION_INTERNAL_H

#include "endpoint.h"
#include "jitter_buffer.h"
#include "rtp_source.h"
#include "runtime.h"

/* Slots of the reorder buffer: the farthest a packet may run ahead of the
 * next one to release before the oldest gap is declared lost. */
#define RMC_JB_CAPACITY 128 /* default jitter_buffer_packets */

/* The session's one timer (RTCP, timeout, reorder buffer), freed in its
 * close callback; it keeps the session alive (open_handles) until then. */
typedef struct rmc_timer {
  uv_timer_t timer;
  rtpmidi_session *owner;
} rmc_timer;

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

  /* the RFC 3550 machine: addresses, SSRCs, RTCP, timeout, statistics */
  rmp_src src;

  /* handles (NULL while stopped) */
  rmc_endpoint *rtp, *rtcp;
  rmc_timer *timer;
  rmc_resolve *resolving;
  unsigned open_handles; /* handles and requests not yet through their callback */
  bool started;          /* start was called (sockets open, or resolving) */
  bool ready;            /* sockets open */
  bool stopping;
  bool freed;
  bool draining;         /* the machine's outbox is being handled */
  unsigned gen;          /* bumped by every stop: callbacks check it to notice one */

  /* the timer: armed to fire at armed_fire_us (loop clock), covering the
   * machine's deadline armed_src_at */
  bool armed;
  uint64_t armed_fire_us, armed_src_at;

  /* sending */
  uint16_t seq;
  uint64_t send_errors_base; /* of endpoints closed before */

  /* receiving */
  bool pending_recovery;  /* the next delivered packet gets read_recovery_journal */
  rmp_jb_t jb;
  rmp_jb_slot_t *slots;   /* NULL until the first RTP packet (open_jb) */
  rmp_jb_stats_t jb_base; /* jitter-buffer counters of earlier runs */
  struct {                /* the datagram being handled (delivered without a copy) */
    const uint8_t *payload;
    size_t len;
    uint32_t ts;
    bool marker;
  } cur;
};

/* Monotonic microseconds (uv_hrtime). */
uint64_t rmc_now_us(void);

#endif
