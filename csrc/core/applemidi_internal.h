/* The AppleMIDI session's state, shared by applemidi_session.c (sockets,
 * invitations, CK, RS, BY, participants, timers) and applemidi_midi.c (the
 * RFC 6295 payload: sending with a journal per participant, receiving through
 * sequence tracking, jitter buffer and journal repair). Not public. */
#ifndef RMC_APPLEMIDI_INTERNAL_H
#define RMC_APPLEMIDI_INTERNAL_H

#include "applemidi.h"
#include "jitter_buffer.h"
#include "journal.h"
#include "midi_cmd.h"
#include "midi_queue.h"
#include "rtp.h"
#include "rtp_seq.h"
#include "runtime.h"

#define AP_JB_CAPACITY 64         /* default jitter_buffer_packets */
#define AP_JB_MAX_CAPACITY 32768  /* half the sequence space */
#define AP_MAX_PACKET 1500
#define AP_PAYLOAD_TYPE 97

typedef enum ap_state {
  AP_INVITE_CTRL,   /* we invited: IN on the control port, waiting for OK */
  AP_INVITE_DATA,   /* control OK: IN on the data port, waiting for OK */
  AP_AWAIT_DATA,    /* we answered its control IN: waiting for its data IN */
  AP_CONNECTED,
  AP_DEAD           /* removed; freed by the next sweep */
} ap_state;

typedef struct ap_handle {
  union {
    uv_handle_t h;
    uv_udp_t udp;
    uv_timer_t timer;
    uv_idle_t idle;
    uv_check_t check;
  } u;
  rtpmidi_apple *owner; /* NULL once the session let go */
} ap_handle;

typedef struct ap_pkt {   /* an RTP payload waiting in a jitter buffer */
  uint32_t ts;
  size_t len;
  uint8_t data[];
} ap_pkt;

typedef struct ap_peer {
  struct ap_peer *next;
  uint32_t id;
  ap_state state;
  bool initiator, joined;
  char name[RMP_AM_NAME_MAX + 1];
  char addr[64];
  int port;                        /* control port */
  struct sockaddr_storage ctrl, data;
  uint32_t token, ssrc;
  bool have_ssrc;
  /* invitation */
  int tries;
  double next_invite;
  /* clock sync */
  double next_ck, last_heard;
  bool synced;
  double latency_ms, offset_ms;
  /* receiver feedback */
  bool rx_since_rs;
  uint16_t last_rx_seq;
  double next_rs;
  /* sending */
  uint16_t seq;
  /* The journal's state for this participant, made when first needed (see
   * applemidi_midi.c): the sender's with the first packet of commands sent
   * to it, the receiver's with the first packet it sends us. NULL until
   * then and when recovery is off. */
  rmp_ej_sender *js;
  /* guard packets (only with js; see applemidi_midi.c) */
  uint16_t last_cmd_seq;           /* the last packet of commands sent to it */
  bool unconfirmed;                /* no RS of its has covered last_cmd_seq yet */
  bool feedback;                   /* it has sent us an RS */
  unsigned guards_sent;            /* since last_cmd_seq */
  double next_guard;
  /* receiving */
  rmp_seq_t rseq;
  bool seq_started;
  rmp_jb_t jb;                     /* zeroed until the first RTP packet */
  rmp_jb_slot_t *slots;            /* jitter_buffer_packets of them, from the first RTP packet */
  rmp_ej_receiver *jr;
  rmp_cmd_decoder dec;
  uint8_t *sysex;                  /* max_sysex octets, from the first SysEx received */
  rmp_ts_anchor clock;             /* its RTP time to ours */
  /* counters */
  uint64_t packets_received, packets_sent, lost, messages_recovered;
  uint64_t ck_exchanges, rs_sent, rs_received;
} ap_peer;

struct rtpmidi_apple {
  rtpmidi_runtime *rt;
  rmc_member member;              /* in rt's list until released (runtime.h) */
  bool inert;                     /* rt was freed: stopped for good */
  rtpmidi_apple_config cfg;
  char *name, *bind_address;
  char **accept_list;
  rtpmidi_apple_events ev;
  void *ud;
  uint32_t ssrc;
  int port;                       /* bound control port */
  ap_handle *ctrl, *data, *timer, *idle, *check;
  unsigned open_handles;
  bool started, freed;
  unsigned busy;                  /* inside a callback: sweeping and freeing wait */
  unsigned gen;                   /* bumped by stop */
  ap_peer *peers;
  uint32_t next_id;
  void *discovery;
  rtpmidi_apple_stats st;
  /* sending */
  rmc_midi_queue q;                /* made with the first message sent */
  rmp_cmd_encoder enc;
  bool flushing;
  rmc_burst_hook burst;           /* flushes at the end of a received burst (runtime.h) */
  struct ap_resolve *resolving;   /* invitations waiting for a host name's address */
  size_t nresolving;
  /* invitations from unknown SSRCs: a token bucket (invitations_per_second) */
  double invite_tokens, invite_refill_ms;
};

/* applemidi_session.c */
double rmc_ap_now(void);
uint64_t rmc_ap_clock(double now_ms);  /* 10 kHz CK/RTP clock */
int rmc_ap_send(rtpmidi_apple *a, ap_handle *sock, const uint8_t *buf, size_t len,
                const struct sockaddr_storage *to);
void rmc_ap_schedule(rtpmidi_apple *a);
void rmc_ap_fill_peer(const ap_peer *p, rtpmidi_apple_peer *out);
void rmc_ap_want_flush(rtpmidi_apple *a);  /* flush after this loop turn */
void rmc_ap_flushed(rtpmidi_apple *a);

/* applemidi_midi.c */
void rmc_ap_peer_media_init(ap_peer *p);
void rmc_ap_peer_media_free(ap_peer *p);
void rmc_ap_on_rtp(rtpmidi_apple *a, const uint8_t *buf, size_t len, const struct sockaddr *from);
void rmc_ap_service_media(rtpmidi_apple *a, ap_peer *p, double now);
/* The earliest time media work is due for p (or +inf). */
double rmc_ap_media_deadline(ap_peer *p);
/* An RS from p: seq is the last packet of ours it received. */
void rmc_ap_on_rs(ap_peer *p, uint16_t seq);
void rmc_ap_free_queue(rtpmidi_apple *a);

/* applemidi_discovery.c */
void *rmc_ap_discovery_start(rtpmidi_apple *a);
void rmc_ap_discovery_stop(void *d);

#endif
