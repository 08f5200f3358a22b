/* rtpmidi: the public C API of the runtime, usable without Lua.
 *
 * A runtime belongs to one libuv loop (the host's or our own). Sessions are
 * RTP endpoints on that loop: they own their sockets and timers, and call the
 * host back from the loop's thread only. Every function here must be called
 * on the loop's thread. */
#ifndef RTPMIDI_H
#define RTPMIDI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rtpmidi_runtime rtpmidi_runtime;
typedef struct rtpmidi_session rtpmidi_session;

/* Creates a runtime on loop (never NULL). Returns NULL when out of memory. */
rtpmidi_runtime *rtpmidi_runtime_new(uv_loop_t *loop);
uv_loop_t *rtpmidi_runtime_loop(rtpmidi_runtime *rt);
/* Closes every session of the runtime and frees it once their handles are
 * closed (the loop must run for that to happen). */
void rtpmidi_runtime_free(rtpmidi_runtime *rt);

/* Monotonic time in milliseconds with sub-millisecond resolution. */
double rtpmidi_now_ms(void);

typedef struct rtpmidi_session_config {
  const char *peer_address;  /* IPv4 or IPv6 literal */
  int sending_port;          /* the peer's RTP port we send to; 0: receive only */
  int receiving_port;        /* our RTP port; 0: send only */
  int payload_type;          /* 0..127 */
  double jitter_buffer_ms;   /* how long a packet may wait for reordering */
  const char *tool_name;     /* RTCP SDES TOOL */
  const char *bind_address;  /* local address to bind; NULL: any */
  uint32_t clock_rate;       /* RTP timestamp units per second */
} rtpmidi_session_config;

typedef struct rtpmidi_session_events {
  /* One RTP payload, in sequence order. recovery: packets were lost before it. */
  void (*on_rtp)(void *ud, uint32_t timestamp, const uint8_t *payload, size_t len,
                 bool recovery, bool marker);
  /* The session lost its peer: reason "timeout", "bye", "network", ... */
  void (*on_drop)(void *ud, const char *reason, const char *detail);
} rtpmidi_session_events;

typedef struct rtpmidi_session_stats {
  uint64_t packets_sent, bytes_sent, packets_received, bytes_received;
  uint64_t malformed, foreign, lost, duplicate, late, reordered;
  uint32_t ssrc, peer_ssrc;
} rtpmidi_session_stats;

/* Checks cfg and creates a stopped session. Returns 0 or a negative UV_E*
 * code; *err names what is wrong when the configuration is invalid. */
int rtpmidi_session_new(rtpmidi_runtime *rt, const rtpmidi_session_config *cfg,
                        const rtpmidi_session_events *ev, void *ud,
                        rtpmidi_session **out, const char **err);
/* Binds the sockets and starts receiving. Returns 0 or a negative UV_E* code;
 * a started session is left as it is. */
int rtpmidi_session_start(rtpmidi_session *s);
/* Stops receiving and closes the sockets; harmless when stopped. */
void rtpmidi_session_stop(rtpmidi_session *s);
bool rtpmidi_session_started(const rtpmidi_session *s);
/* Sends one RTP packet with the next sequence number. Returns 0 or a negative
 * UV_E* code (UV_ENOTCONN when stopped or receive-only). */
int rtpmidi_session_send(rtpmidi_session *s, const uint8_t *payload, size_t len,
                         uint32_t timestamp, bool marker);
/* The RTP timestamp for "now" on this session's media clock. */
uint32_t rtpmidi_session_media_time(const rtpmidi_session *s);
void rtpmidi_session_get_stats(const rtpmidi_session *s, rtpmidi_session_stats *st);
/* Counts a packet whose payload did not parse (for payload layers on top). */
void rtpmidi_session_count_malformed(rtpmidi_session *s);
/* The local RTP port once started (useful with receiving_port 0). */
int rtpmidi_session_local_port(const rtpmidi_session *s);
/* Stops the session, detaches the callbacks and frees it once its handles
 * are closed. The pointer must not be used afterwards. */
void rtpmidi_session_free(rtpmidi_session *s);

#ifdef __cplusplus
}
#endif
#endif
