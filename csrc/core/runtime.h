/* Internals shared by the core's files. Not part of the public API. */
#ifndef RMC_RUNTIME_H
#define RMC_RUNTIME_H

#include "rtpmidi.h"

/* Room for 20 datagrams of up to 64 KiB: RTP sockets read with recvmmsg,
 * one system call for a burst of packets (libuv splits the buffer). */
#define RMC_RECV_BUFFER (20 * 65536)

/* The send queue (runtime.c): datagrams that sessions send while the runtime
 * delivers a burst read with recvmmsg wait until its last callback returned
 * and leave together through sendmmsg, one system call per socket instead of
 * one per datagram. At most RMC_SENDQ_MAX datagrams and RMC_SENDQ_BYTES
 * octets wait; more flushes first. */
#define RMC_SENDQ_MAX 64
#define RMC_SENDQ_BYTES 65536

/* What the queue calls for a queued datagram that did not leave in a batch:
 * send it the single way and report an error to the socket's owner (its
 * sender was told "sent"). `first` is what the batched attempt returned for
 * it (a negative libuv error), or 0 when none was made. */
typedef void (*rmc_send_single_fn)(uv_udp_t *udp, const uint8_t *buf, size_t len,
                                   const struct sockaddr *to, int first);

typedef struct rmc_queued {
  uv_udp_t *udp;
  rmc_send_single_fn single;
  uint32_t off, len; /* in sendq_data */
  union {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
  } to;
} rmc_queued;

/* A flush owed at the end of the burst being delivered: a MIDI session's
 * messages given from the burst's callbacks (an echo, a relay) leave when
 * its last datagram was handled, with the send queue, instead of after the
 * loop turn's poll phase, which first makes one more read that finds
 * nothing. The session's own end-of-turn flush stays armed: a hook that
 * does not run (its socket closed inside the burst) costs nothing. */
typedef struct rmc_burst_hook {
  struct rmc_burst_hook *next;
  void (*run)(void *owner);
  void *owner;
  bool queued;
} rmc_burst_hook;

/* An object of the runtime: every session, MIDI session, AppleMIDI session
 * and MIDI input joins its runtime when made (rmc_runtime_join) and leaves
 * when its memory is released (rmc_runtime_leave), after its host freed it
 * and its handles closed. rtpmidi_runtime_free ends every member the host
 * has not freed yet (*host_freed false) in two rounds: first it forgets
 * every member's host callbacks (zeroes its events struct: none runs from
 * here on), then calls each one's `close`: stop, close every handle, and
 * be inert (the host's calls return UV_ENOTCONN or do nothing, and its
 * free still releases the object). The first round is over for every
 * member before the second begins, so that what one member's stop sends or
 * delivers reaches no host. The runtime's own memory goes when it was freed
 * and its last member left. */
typedef struct rmc_member {
  struct rmc_member *prev, *next;
  rtpmidi_runtime *rt;
  void *owner;                          /* NULL: not joined */
  void *events;                         /* the host's callbacks, events_size octets */
  size_t events_size;
  const bool *host_freed;               /* the host's free is under way: it ends alone */
  void (*close)(void *owner);
} rmc_member;

struct rtpmidi_runtime {
  uv_loop_t *loop;
  rmc_member *members;         /* every object not yet released */
  bool closed;                 /* rtpmidi_runtime_free was called */
  char recv_buffer[RMC_RECV_BUFFER]; /* consumed in the callbacks of one read */
  /* The socket whose burst is being delivered (NULL: none): sends queue
   * while it is set. */
  uv_udp_t *batch_udp;
  uint64_t burst_us;           /* when its recvmmsg returned (rmc_now_us) */
  rmc_burst_hook *hooks;       /* to run at the burst's end, before the queue leaves */
  bool running_hooks;
  bool flushing;               /* sends from callbacks of a flush go straight out */
  bool no_sendmmsg;            /* the system has none: never queue */
  unsigned sendq_n;
  size_t sendq_bytes;
  rmc_queued sendq[RMC_SENDQ_MAX];
  uint8_t sendq_data[RMC_SENDQ_BYTES];
};

/* Monotonic microseconds (the loop's clock source, not its cached time). */
uint64_t rmc_now_us(void);
/* Registers owner with rt (rmc_member above). */
void rmc_runtime_join(rtpmidi_runtime *rt, rmc_member *m, void *owner, void *events,
                      size_t events_size, const bool *host_freed, void (*close)(void *owner));
/* owner's memory is being released: it leaves its runtime, which goes too
 * when it was freed and owner was its last member. Harmless for a member
 * that never joined (zeroed). */
void rmc_runtime_leave(rmc_member *m);
/* Queues a datagram for udp until the end of the burst being delivered.
 * Returns false (nothing queued, the queue flushed) when it must go out now
 * instead: no burst, a flush running, or too large to queue. */
bool rmc_sendq_add(rtpmidi_runtime *rt, uv_udp_t *udp, rmc_send_single_fn single, const uint8_t *buf,
                   size_t len, const struct sockaddr *to);
/* Every receive callback of a socket read with UV_UDP_RECVMMSG starts
 * here: a datagram of a burst marks it (sends queue from now on, burst_us
 * is its arrival time), the burst's end (UV_UDP_MMSG_FREE) flushes the
 * queue. Returns false for that end call, which carries no datagram. */
bool rmc_burst(rtpmidi_runtime *rt, uv_udp_t *udp, unsigned flags);
/* udp stops receiving (closed inside its own burst, when libuv makes no
 * UV_UDP_MMSG_FREE call): it no longer marks a burst. */
void rmc_burst_forget(rtpmidi_runtime *rt, uv_udp_t *udp);
/* Asks for h to run at the end of the burst being delivered. Returns false
 * (nothing asked) when no burst is, or its hooks are running. */
bool rmc_burst_defer(rtpmidi_runtime *rt, rmc_burst_hook *h);
/* Takes h back (its owner goes away). */
void rmc_burst_cancel(rtpmidi_runtime *rt, rmc_burst_hook *h);
/* Sends everything queued, in order. Errors of queued datagrams go to their
 * socket's rmc_send_single_fn (a session counts them in send_errors and
 * reports them through on_drop "network"); callbacks may run. */
void rmc_sendq_flush(rtpmidi_runtime *rt);
/* Fills buf with n random octets from the system's source. */
void rmc_random(void *buf, size_t n);
/* A copy of the string s to free(); NULL for NULL (an option left out) and
 * when out of memory. */
char *rmc_dup_str(const char *s);

/* The constructors and sends behind rtpmidi.h's, which api_errors.c wraps
 * to fill an rtpmidi_error: *bad (may be NULL) receives the name of the
 * wrong field, or for a send the reason the bytes are not MIDI; a static
 * string either way. */
int rmc_session_new(rtpmidi_runtime *rt, const rtpmidi_session_config *cfg,
                    const rtpmidi_session_events *ev, void *ud, rtpmidi_session **out,
                    const char **bad);
int rmc_midi_session_new(rtpmidi_runtime *rt, const rtpmidi_midi_config *cfg,
                         const rtpmidi_midi_events *ev, void *ud, rtpmidi_midi_session **out,
                         const char **bad);
int rmc_midi_session_send_at(rtpmidi_midi_session *m, const uint8_t *bytes, size_t len,
                             double time_ms, const char **why);
int rmc_apple_new(rtpmidi_runtime *rt, const rtpmidi_apple_config *cfg,
                  const rtpmidi_apple_events *ev, void *ud, rtpmidi_apple **out, const char **bad);
int rmc_apple_send(rtpmidi_apple *a, const uint8_t *bytes, size_t len, const char **why);
int rmc_midi2_new(rtpmidi_runtime *rt, const rtpmidi_midi2_config *cfg, const rtpmidi_midi2_events *ev,
                  void *ud, rtpmidi_midi2 **out, const char **bad);
int rmc_midi2_send_midi(rtpmidi_midi2 *m, const uint8_t *bytes, size_t len, const char **why);
/* Fills err (when not NULL) for a failure r: field, and a message from fmt
 * or, with fmt NULL or empty, from the field and the code. */
void rmc_error(rtpmidi_error *err, int r, const char *field, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__((format(printf, 4, 5)))
#endif
  ;

#endif
