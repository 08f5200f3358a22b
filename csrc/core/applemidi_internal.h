/* The AppleMIDI session's state, shared by applemidi_session.c (the pump:
 * two endpoints, one timer and the calls into the protocol machine of
 * csrc/proto/am_session.h, which decides invitations, CK, RS, BY and
 * timeouts) and applemidi_midi.c (the RFC 6295 payload: one MIDI stream per
 * participant, midi_stream.h, with its RTP header, sequence tracking and
 * jitter buffer). Not public. */
#ifndef RMC_APPLEMIDI_INTERNAL_H
#define RMC_APPLEMIDI_INTERNAL_H

#include "am_session.h"
#include "applemidi.h"
#include "endpoint.h"
#include "flusher.h"
#include "jitter_buffer.h"
#include "midi_stream.h"
#include "owned_handle.h"
#include "rtp.h"
#include "rtp_seq.h"
#include "runtime.h"

#define AP_JB_CAPACITY 64         /* default jitter_buffer_packets */
#define AP_JB_MAX_CAPACITY 32768  /* half the sequence space */
#define AP_MAX_PACKET 1500
#define AP_PAYLOAD_TYPE 97

typedef enum ap_state {
  AP_PENDING,       /* being invited, or inviting us: not joined yet */
  AP_CONNECTED,     /* joined */
  AP_DEAD           /* left: freed by the next sweep, once the machine released it */
} ap_state;

typedef struct ap_pkt {   /* an RTP payload waiting in a jitter buffer */
  uint64_t arrival_us;     /* held copies (rtp_seq.h): when it came, ... */
  uint16_t seq;            /* ... and its number */
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
  ap_pkt *held[RMP_SEQ_HOLDS + 1]; /* copies of the packets rseq holds, by slot (rtp_seq.h) */
  uint64_t packets_received, packets_sent, lost, messages_recovered;
  bool rs_confirmed;               /* one of its RS confirmed a packet of ours */
  bool recovery;                   /* the journal, to it and from it (rtpmidi_apple_set_recovery) */
} ap_media;

/* What the session's streams share (applemidi_midi.c). */
typedef struct ap_peer ap_peer;

typedef struct ap_midi {
  rmp_stream_config sc;             /* with the session's recovery */
  rmp_stream_config sc_other;       /* the same with the other one (a participant's own) */
  rmc_flusher out;                 /* the messages to send, and when they leave */
  rmp_cmd_encoder enc;             /* one command section for every participant */
  rmp_stream_counts rc;            /* what the participants' streams received */
  /* The pump's (applemidi_session.c), called by the media layer, which
   * calls nothing of the pump's by name: p's RTP packet seq was accepted
   * (RS reports it); a flush sent packets (the timer follows the guards). */
  void (*accepted)(rtpmidi_apple *a, ap_peer *p, uint16_t seq);
  void (*flushed)(rtpmidi_apple *a);
} ap_midi;


/* A participant: the protocol's record (the machine's, am_session.h) and
 * the MIDI stream's state. Made for the machine (its alloc), released by it
 * once it is done, freed by the sweep. */
struct ap_peer {
  struct ap_peer *next;            /* rtpmidi_apple.peers */
  rmp_ams_peer mp;                 /* id, name, addresses, SSRC, CK, RS: the machine's */
  ap_state state;
  bool released;                   /* the machine let go of mp */
  char addr[RMP_ADDR_TEXT];        /* mp.ctrl's host as text, for rtpmidi_apple_peer */
  char *invited_as;                /* the host name we invited it by (rtpmidi_apple_invite), or NULL */
  rmp_addr addr_of;                /* the address addr was made from */
  ap_media media;
};

/* The ap_peer of the machine participant x. */
#define AP_PEER(x) ((ap_peer *)(void *)((char *)(x) - offsetof(ap_peer, mp)))

struct rtpmidi_apple {
  rtpmidi_runtime *rt;
  rmc_member member;              /* in rt's list until released (runtime.h) */
  bool inert;                     /* rt was freed: stopped for good */
  rtpmidi_apple_config cfg;
  char *name, *bind_address;
  rmp_addr *accept;               /* cfg.accept_list as addresses (the machine points here) */
  rtpmidi_apple_events ev;
  void *ud;
  uint32_t ssrc;
  int port;                       /* bound control port */
  rmp_ams m;                      /* the protocol: participants, invitations, CK, RS, BY */
  rmc_endpoint *ctrl, *data;      /* P and P+1 while started */
  uint64_t send_errors;           /* of the endpoints closed so far */
  rmc_owned_handle *timer;
  unsigned open_handles;
  bool started, freed, stopping;
  unsigned busy;                  /* inside a callback: sweeping and freeing wait */
  unsigned gen;                   /* bumped by stop */
  ap_peer *peers;                 /* every participant's record, newest first */
  void *discovery;
  rtpmidi_apple_stats st;         /* the MIDI stream's counters (the machine keeps the protocol's) */
  ap_midi midi;
  struct ap_resolve *resolving;   /* invitations waiting for a host name's address */
  size_t nresolving;
};

/* applemidi_session.c */
static inline double rmc_ap_now(void) { return rtpmidi_now_ms(); }
/* The 10 kHz CK/RTP clock: the machine's. */
static inline uint64_t rmc_ap_clock(double now_ms) { return rmp_ams_clock(now_ms); }

/* applemidi_midi.c: the session's sending side (a->midi) */
/* Once a->cfg has its defaults; with the pump's two calls (ap_midi). */
void rmc_ap_midi_init(rtpmidi_apple *a, void (*accepted)(rtpmidi_apple *a, ap_peer *p, uint16_t seq),
                      void (*flushed)(rtpmidi_apple *a));
/* What the host is told of p (machine and stream figures). */
void rmc_ap_fill_peer(const ap_peer *p, rtpmidi_apple_peer *out);
void rmc_ap_midi_stop(rtpmidi_apple *a);   /* what is queued leaves; then nothing waits */
void rmc_ap_midi_free(rtpmidi_apple *a);
/* Adds what the streams counted to st (messages, malformed, ...). */
void rmc_ap_midi_stats(const rtpmidi_apple *a, rtpmidi_apple_stats *st);
/* applemidi_midi.c: a participant's stream (p->media) */
void rmc_ap_peer_media_init(ap_peer *p);
void rmc_ap_peer_media_free(ap_peer *p);
/* An RTP packet (header h, already parsed) from joined participant p. */
void rmc_ap_on_rtp(rtpmidi_apple *a, ap_peer *p, const uint8_t *buf, const rmp_rtp_header *h);
void rmc_ap_service_media(rtpmidi_apple *a, ap_peer *p, double now);
/* Delivers everything p's jitter buffer holds, gaps declared lost (it said BY). */
void rmc_ap_media_drain(rtpmidi_apple *a, ap_peer *p);
/* p is leaving: delivers a Note Off for every note its messages left on
 * and a Control Change 0 for every pedal left down (recovered = true). */
void rmc_ap_media_release(rtpmidi_apple *a, ap_peer *p);
/* The earliest time media work is due for p (or +inf). */
double rmc_ap_media_deadline(ap_peer *p);
/* An RS from p: seq is the last packet of ours it received (raw: the field). */
void rmc_ap_on_rs(rtpmidi_apple *a, ap_peer *p, uint16_t seq, uint32_t raw);
/* p's recovery journal on or off (rtpmidi_apple_set_recovery). */
void rmc_ap_set_recovery(ap_peer *p, bool recovery);

/* applemidi_discovery.c */
void *rmc_ap_discovery_start(rtpmidi_apple *a);
void rmc_ap_discovery_stop(void *d);

#endif
