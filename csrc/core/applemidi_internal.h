/* The AppleMIDI session's state, shared by applemidi_session.c (sockets,
 * invitations, CK, RS, BY, participants, timers) and applemidi_midi.c (the
 * RFC 6295 payload: one MIDI stream per participant, midi_stream.h, with its
 * RTP header, sequence tracking and jitter buffer). Not public. */
#ifndef RMC_APPLEMIDI_INTERNAL_H
#define RMC_APPLEMIDI_INTERNAL_H

#include "applemidi.h"
#include "flusher.h"
#include "jitter_buffer.h"
#include "midi_stream.h"
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
  } u;
  rtpmidi_apple *owner; /* NULL once the session let go */
} ap_handle;

typedef struct ap_pkt {   /* an RTP payload waiting in a jitter buffer */
  uint32_t ts;
  size_t len;
  uint8_t data[];
} ap_pkt;

/* The MIDI stream to and from one participant (applemidi_midi.c). What it
 * holds beyond this (the journal's sender and receiver, the SysEx buffer,
 * the jitter buffer's slots) is made when first used: a participant that
 * only keeps the session up (CK, RS) costs about a kilobyte. */
typedef struct ap_media {
  rmp_stream_tx tx;
  rmp_stream_rx rx;
  uint16_t seq;                    /* the next RTP sequence number we send it */
  rmp_seq_t rseq;                  /* its sequence numbers (RFC 3550 A.1) */
  rmp_jb_t jb;                     /* zeroed until the first RTP packet */
  rmp_jb_slot_t *slots;            /* jitter_buffer_packets of them, from the first RTP packet */
  uint64_t packets_received, packets_sent, lost, messages_recovered;
} ap_media;

/* What the session's streams share (applemidi_midi.c). */
typedef struct ap_midi {
  rmp_stream_config sc;
  rmc_flusher out;                 /* the messages to send, and when they leave */
  rmp_cmd_encoder enc;             /* one command section for every participant */
  rmp_stream_counts rc;            /* what the participants' streams received */
} ap_midi;

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
  uint64_t ck_exchanges, rs_sent, rs_received;
  ap_media media;
} ap_peer;

struct rtpmidi_apple {
  rtpmidi_runtime *rt;
  rtpmidi_apple_config cfg;
  char *name, *bind_address;
  char **accept_list;
  rtpmidi_apple_events ev;
  void *ud;
  uint32_t ssrc;
  int port;                       /* bound control port */
  ap_handle *ctrl, *data, *timer;
  unsigned open_handles;
  bool started, freed;
  unsigned busy;                  /* inside a callback: sweeping and freeing wait */
  unsigned gen;                   /* bumped by stop */
  ap_peer *peers;
  uint32_t next_id;
  void *discovery;
  rtpmidi_apple_stats st;
  ap_midi midi;
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

/* applemidi_midi.c: the session's sending side (a->midi) */
void rmc_ap_midi_init(rtpmidi_apple *a);   /* once a->cfg has its defaults */
void rmc_ap_midi_stop(rtpmidi_apple *a);   /* what is queued leaves; then nothing waits */
void rmc_ap_midi_free(rtpmidi_apple *a);
/* Adds what the streams counted to st (messages, malformed, ...). */
void rmc_ap_midi_stats(const rtpmidi_apple *a, rtpmidi_apple_stats *st);
/* applemidi_midi.c: a participant's stream (p->media) */
void rmc_ap_peer_media_init(ap_peer *p);
void rmc_ap_peer_media_free(ap_peer *p);
/* p's stream figures in out (packets, lost, journal, seq, unconfirmed). */
void rmc_ap_media_fill(const ap_peer *p, rtpmidi_apple_peer *out);
void rmc_ap_on_rtp(rtpmidi_apple *a, const uint8_t *buf, size_t len, const struct sockaddr *from);
void rmc_ap_service_media(rtpmidi_apple *a, ap_peer *p, double now);
/* The earliest time media work is due for p (or +inf). */
double rmc_ap_media_deadline(ap_peer *p);
/* An RS from p: seq is the last packet of ours it received. */
void rmc_ap_on_rs(ap_peer *p, uint16_t seq);

/* applemidi_discovery.c */
void *rmc_ap_discovery_start(rtpmidi_apple *a);
void rmc_ap_discovery_stop(void *d);

#endif
