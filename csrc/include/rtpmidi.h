/* rtpmidi: the public C API of the runtime, usable without Lua.
 *
 * A runtime belongs to one libuv loop (the host's or our own). Sessions are
 * RTP endpoints on that loop: they own their sockets and timers, and call the
 * host back from the loop's thread only. Every function here must be called
 * on the loop's thread.
 *
 * Configurations: a configuration struct set to zero (memset, or = {0}) and
 * given only what has no default (a peer address, a port) is valid, and each
 * zero field means the default written beside it. Where zero is a value of
 * its own (a port of 0, a jitter buffer of 0 ms, a flag that is off) the
 * comment says so.
 *
 * Building against the installed library:
 *   cc prog.c $(pkg-config --cflags --libs rtpmidi)
 * (examples/c/two_sessions.c; docs/api.md, "The C library"). */
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

/* Errors. Every function returns 0 or a negative libuv code (UV_EINVAL,
 * UV_ENOTCONN, ...; uv_strerror and uv_err_name read them). A function that
 * can say more than its code takes, as its last argument, an optional
 * rtpmidi_error *: NULL, or a struct that it fills when it fails (and leaves
 * alone when it succeeds):
 *   field    the configuration field or argument that is wrong ("payload",
 *            "port", "bytes", ...) when the code is UV_EINVAL for a misuse;
 *            NULL for a failure at run time (no such MIDI port, no server);
 *   message  what happened, in words: never empty after a failure.
 * A constructor (_new, _open) sets *out to the object on success and to
 * NULL on failure. */
#define RTPMIDI_ERROR_MAX 1024 /* room for a message listing MIDI ports */
typedef struct rtpmidi_error {
  const char *field;           /* a static string, or NULL */
  char message[RTPMIDI_ERROR_MAX];
} rtpmidi_error;

/* Creates a runtime on loop (never NULL). Returns NULL when out of memory. */
rtpmidi_runtime *rtpmidi_runtime_new(uv_loop_t *loop);
uv_loop_t *rtpmidi_runtime_loop(rtpmidi_runtime *rt);
/* Ends the runtime. It knows every object made on it (sessions, MIDI
 * sessions, AppleMIDI sessions, Network MIDI 2.0 sessions, MIDI inputs; a
 * MIDI output has no part in the loop and is not one of them) and stops
 * each one the host has not freed yet: no callback runs from this call on, queued messages are
 * dropped, sessions say goodbye (RTCP BYE, AppleMIDI BY) and close their
 * sockets and timers, MIDI inputs close their ports. Those objects stay
 * valid but inert: their functions return UV_ENOTCONN (start, send,
 * invite) or report a stopped object, and the host frees each of them as
 * usual. So any order of freeing is safe: the runtime first, last, or in
 * the middle, even from inside a callback. rt itself must not be used
 * afterwards; its memory goes when the last of its objects is freed and
 * their handles closed (run the loop: it then ends with nothing left). */
void rtpmidi_runtime_free(rtpmidi_runtime *rt);

/* Monotonic time in milliseconds with sub-millisecond resolution. */
double rtpmidi_now_ms(void);

/* An IP literal in the form sessions write addresses (participants,
 * callbacks, discovery): IPv4 dotted (also for ::ffff:a.b.c.d), IPv6 as
 * inet_ntop writes it, a link-local scope as the interface's name
 * ("FE80:0::1%2" -> "fe80::1%eth0"). Writes it to out (n >= 64 always
 * suffices). 0, or UV_EINVAL when text is no IP literal (a host name) or
 * names no interface. */
int rtpmidi_address_text(const char *text, char *out, size_t n);

typedef struct rtpmidi_session_config {
  const char *peer_address;  /* IPv4 or IPv6 literal, or a host name (resolved at start
                                without blocking; IPv4 results preferred) */
  int sending_port;          /* the peer's RTP port we send to; 0: receive only */
  int receiving_port;        /* our RTP port; 0: send only (replies and ICMP errors
                                still reach an ephemeral port) */
  int payload_type;          /* 0..127, sent and expected; no default: 0 is PCMU's
                                static type (a MIDI session maps 0 to 97) */
  double jitter_buffer_ms;   /* how long a packet may wait for reordering; 0: none,
                                each packet is delivered as it comes */
  const char *tool_name;     /* RTCP SDES TOOL; NULL: "rtpmidi" */
  const char *bind_address;  /* local IP literal to bind ("::": both families);
                                NULL: any address of the peer's family */
  uint32_t clock_rate;       /* RTP timestamp units per second; 0: 10000 */
  /* RFC 3550 options; zero/false/NULL selects the default. */
  double rtcp_interval;      /* minimum RTCP report interval in seconds (default 5) */
  double timeout;            /* seconds of silence from the peer before on_drop("timeout")
                                (default: five RTCP intervals, at least 25 s) */
  bool accept_any_source;    /* accept the first source address (NAT) and lock to it */
  unsigned jitter_buffer_packets; /* packets that may wait for reordering; 0: 128 (2..32768) */
  bool fixed_start_sequence; /* use start_sequence instead of a random first seq */
  uint16_t start_sequence;   /* the first RTP sequence number sent */
  const char *cname;         /* RTCP SDES CNAME; NULL: "<user>@<hostname>" */
} rtpmidi_session_config;

/* What the peer reported about our stream in an RTCP SR/RR report block. */
typedef struct rtpmidi_receiver_report {
  uint32_t ext_highest_seq;  /* extended highest sequence number it received from us */
  uint8_t fraction_lost;     /* since its previous report, /256 */
  int32_t cumulative_lost;
  uint32_t jitter;           /* RTP timestamp units */
  double rtt_ms;             /* round-trip time, or -1 when not computable */
} rtpmidi_receiver_report;

typedef struct rtpmidi_session_events {
  /* One RTP payload, in sequence order. recovery: packets were lost before it. */
  void (*on_rtp)(void *ud, uint32_t timestamp, const uint8_t *payload, size_t len,
                 bool recovery, bool marker);
  /* The session lost its peer: reason "timeout", "bye", "network", ... */
  void (*on_drop)(void *ud, const char *reason, const char *detail);
  /* The peer sent a report block about our SSRC (optional). The payload
   * layer trims its recovery-journal checkpoint from ext_highest_seq; the
   * extended numbers count from the 16-bit sequence numbers we sent (see
   * rtpmidi_session_next_seq). */
  void (*on_receiver_report)(void *ud, const rtpmidi_receiver_report *rr);
  /* The peer's sequence numbering starts again (optional), before the first
   * payload of the new run. resume_after < 0: it restarted it (a resync,
   * RFC 3550 A.1) or came back with a new SSRC: what follows sequence
   * numbers (a journal receiver) starts afresh. 0..65535: a jump ahead
   * taken on trust was undone (a forged packet: the real stream went on
   * where it was): the stream goes on after that sequence number, what lay
   * between was lost. */
  void (*on_resync)(void *ud, int32_t resume_after);
} rtpmidi_session_events;

typedef struct rtpmidi_session_stats {
  uint64_t packets_sent, bytes_sent, packets_received, bytes_received;
  uint64_t malformed, foreign, lost, duplicate, late, reordered;
  uint32_t ssrc, peer_ssrc;
  /* RFC 3550 additions */
  uint64_t rtcp_sent, rtcp_received;   /* compound RTCP packets */
  uint64_t ssrc_collisions;            /* collisions (8.2): we took a new SSRC */
  uint64_t loops;                      /* our own packets looped back, dropped */
  uint64_t unknown_ssrc;               /* from the peer's address with another SSRC
                                          (also counted in foreign) */
  uint64_t rtcp_unreachable;           /* ICMP errors for the peer's RTCP port while its
                                          RTP flows: no drop, our RTCP stops */
  uint64_t foreign_errors;             /* ICMP errors ignored: about a destination that is
                                          not the peer's, or a port unreachable from
                                          another host than the one it names */
  double jitter_ms;                    /* A.8 interarrival jitter of the peer's stream */
  double rtt_ms;                       /* round-trip time, < 0 until known */
  bool have_peer_ssrc;
  uint8_t remote_fraction_lost;        /* the peer's last report about our stream */
  int32_t remote_lost;
  double remote_jitter_ms;
  char peer_cname[256], peer_tool[256]; /* from the peer's SDES, "" until known */
  /* Datagrams (RTP and RTCP) the system refused. A send from inside on_rtp
   * may wait for the end of the burst being delivered (one system call for
   * all of them): its error, if any, comes later, through on_drop
   * ("network"), and is counted here; any other send returns its error. */
  uint64_t send_errors;
  /* Datagrams dropped (also in send_errors) because 256 KiB already waited
   * for a socket whose buffer was full: what waits is bounded. */
  uint64_t send_dropped;
} rtpmidi_session_stats;

/* Checks cfg and creates a stopped session. Returns 0, UV_EINVAL (err->field
 * names what is wrong in cfg) or UV_ENOMEM. */
int rtpmidi_session_new(rtpmidi_runtime *rt, const rtpmidi_session_config *cfg,
                        const rtpmidi_session_events *ev, void *ud,
                        rtpmidi_session **out, rtpmidi_error *err);
/* Binds the sockets and starts receiving. Returns 0 or a negative UV_E* code;
 * a started session is left as it is. */
int rtpmidi_session_start(rtpmidi_session *s);
/* Stops receiving and closes the sockets; harmless when stopped. */
void rtpmidi_session_stop(rtpmidi_session *s);
bool rtpmidi_session_started(const rtpmidi_session *s);
/* Sends one RTP packet with the next sequence number. Returns 0 or a negative
 * UV_E* code (UV_ENOTCONN when stopped or receive-only). Called from on_rtp
 * while a burst of datagrams read together is delivered, the packet leaves
 * with the others sent meanwhile right after the burst's last on_rtp (one
 * sendmmsg); a system error then reaches on_drop ("network") and the
 * send_errors counter instead of the return value. */
int rtpmidi_session_send(rtpmidi_session *s, const uint8_t *payload, size_t len,
                         uint32_t timestamp, bool marker);
/* The sequence number the next rtpmidi_session_send() will use. */
uint16_t rtpmidi_session_next_seq(const rtpmidi_session *s);
/* Inside on_rtp: the RTP sequence number of the packet being delivered. */
uint16_t rtpmidi_session_delivering_seq(const rtpmidi_session *s);
/* The RTP timestamp for "now" on this session's media clock. */
uint32_t rtpmidi_session_media_time(const rtpmidi_session *s);
void rtpmidi_session_get_stats(const rtpmidi_session *s, rtpmidi_session_stats *st);
/* Counts a packet whose payload did not parse (for payload layers on top). */
void rtpmidi_session_count_malformed(rtpmidi_session *s);
/* The local RTP port once started (useful with receiving_port 0). */
int rtpmidi_session_local_port(const rtpmidi_session *s);
/* Stops the session, detaches the callbacks and frees it once its handles
 * are closed (the loop runs that). The pointer must not be used afterwards.
 * Before or after rtpmidi_runtime_free, from anywhere on the loop's thread,
 * a callback of its own included. */
void rtpmidi_session_free(rtpmidi_session *s);


/* ---- MIDI sessions: the RFC 6295 payload on top of an RTP session ---- */

typedef struct rtpmidi_midi_session rtpmidi_midi_session;

typedef struct rtpmidi_midi_config {
  /* The RTP session underneath, its zeros as there, except the payload
   * type: a MIDI stream uses a dynamic type (RFC 3551 section 3), 96..127;
   * 0 (or -1) selects 97, and 1..95 are refused (UV_EINVAL, "payload"). */
  rtpmidi_session_config rtp;
  size_t payload_budget;       /* octets of MIDI payload (command section and journal)
                                  per packet; 0: 1200 */
  size_t max_sysex;            /* largest SysEx reassembled from the network; 0: 1 MiB */
  bool recovery;               /* send and read the recovery journal (false: without;
                                  the Lua MidiSession's default is true) */
  unsigned journal_history;    /* the journal reaches back at most this many packets
                                  when no feedback trims it (1..32767); 0: 256 */
  /* Receiving from senders that get the journal wrong (docs/api.md, "The
   * recovery journal"); false is RFC 6295's behaviour: */
  bool journal_ignore_s_bits;  /* read the whole journal after every loss, not only its
                                  S = 0 parts after a single one (Lua journal_trust_s_bits
                                  = false) */
  bool journal_ignore_y;       /* play the NoteOns of Y = 0 logs too (Lua journal_honor_y
                                  = false) */
} rtpmidi_midi_config;

typedef struct rtpmidi_midi_events {
  /* One complete MIDI message. time_ms is on the rtpmidi_now_ms() clock: the
   * packet's RTP timestamp plus the command's delta, mapped to local time.
   * recovered: made by the recovery journal after a loss -- or, when the
   * peer is gone (just before on_drop), a Note Off for each note it left
   * sounding and a Control Change 64..69 to 0 for each pedal it left down,
   * so that a route to a MIDI output silences what it left. */
  void (*on_midi)(void *ud, const uint8_t *msg, size_t len, double time_ms, bool recovered);
  void (*on_drop)(void *ud, const char *reason, const char *detail);
} rtpmidi_midi_events;

typedef struct rtpmidi_midi_stats {
  uint64_t messages_sent, messages_received, messages_recovered;
  uint64_t malformed_payloads, sysex_dropped;
  uint64_t journal_bytes_sent;     /* recovery journal octets in our packets */
  uint64_t guard_packets;          /* journal-only packets after the last command */
  uint64_t repairs;                /* losses repaired from a journal */
  uint64_t unrecovered;            /* losses the journal did not cover */
  uint64_t bad_journals;           /* journals that did not parse (commands kept) */
  uint64_t messages_released;      /* note offs and pedal ups made when the peer went away */
  uint64_t repairs_over_budget;    /* repair messages a journal asked for beyond the budget
                                      (4,096 a packet, 4,096 a second): counted, not played */
  uint16_t checkpoint;             /* our journal's checkpoint sequence number */
  bool unconfirmed;                /* the peer's reports have not yet confirmed our last
                                      packet with commands (guard packets still go out) */
  bool journal_sender;             /* the sending journal's state exists: made with the
                                      first packet that carries commands */
  bool journal_receiver;           /* the receiving journal's state exists: made with the
                                      first packet received */
} rtpmidi_midi_stats;

/* As rtpmidi_session_new, for cfg's fields and those of cfg->rtp. */
int rtpmidi_midi_session_new(rtpmidi_runtime *rt, const rtpmidi_midi_config *cfg,
                             const rtpmidi_midi_events *ev, void *ud,
                             rtpmidi_midi_session **out, rtpmidi_error *err);
/* The RTP session underneath: start, stop, stats, local port. */
rtpmidi_session *rtpmidi_midi_session_rtp(rtpmidi_midi_session *m);
/* Queues one or more complete MIDI messages (raw bytes; running status and
 * real-time bytes inside SysEx allowed). Everything queued in one loop turn
 * leaves in one packet (more when it exceeds the payload budget), with
 * delta times from when each was given; what callbacks of a received burst
 * queue leaves at that burst's end. Returns 0, or UV_EINVAL when the bytes
 * are not complete MIDI messages (err->field "bytes", err->message says
 * why; nothing queued), or UV_ENOTCONN when the session cannot send. */
int rtpmidi_midi_session_send(rtpmidi_midi_session *m, const uint8_t *bytes, size_t len,
                              rtpmidi_error *err);
/* The same, for bytes that arrived at time_ms (rtpmidi_now_ms() clock, not
 * later than now), e.g. from a MIDI input: the delta times follow it. */
int rtpmidi_midi_session_send_at(rtpmidi_midi_session *m, const uint8_t *bytes, size_t len,
                                 double time_ms, rtpmidi_error *err);
/* Sends what is queued now instead of at the end of the loop turn. */
int rtpmidi_midi_session_flush(rtpmidi_midi_session *m);
void rtpmidi_midi_session_get_stats(const rtpmidi_midi_session *m, rtpmidi_midi_stats *st);
/* Frees the session and the RTP session underneath, as rtpmidi_session_free. */
void rtpmidi_midi_session_free(rtpmidi_midi_session *m);

/* ======================================================================
 * MIDI ports through RtMidi (csrc/core/midi_in.c, midi_out.c, midi_port.c),
 * and JACK through libjack when found at build time (csrc/core/midi_jack.c:
 * one JACK client per process, one JACK port per rtpmidi_midi_in / _out).
 *
 * Functions here are called on the loop's thread. RtMidi's and JACK's
 * threads never call the host: input is queued and handed to the loop with
 * uv_async_send; scheduled output is played by a thread of the port's own.
 *
 * RtMidi is optional at build time (RTPMIDI_RTMIDI). Without it these
 * functions still exist: rtpmidi_midi_available() is false, no API is
 * listed, and listing or opening a port returns UV_ENOTSUP with err saying
 * "rtpmidi was built without RtMidi".
 * ====================================================================== */

typedef struct rtpmidi_midi_in rtpmidi_midi_in;
typedef struct rtpmidi_midi_out rtpmidi_midi_out;

/* Whether MIDI ports are compiled in (RtMidi was found at build time). */
bool rtpmidi_midi_available(void);

/* Whether JACK goes through our own libjack backend: one JACK client per
 * process (false: RtMidi's, one client per port, or no MIDI at all). */
bool rtpmidi_midi_jack_one_client(void);

/* The MIDI APIs compiled into RtMidi ("alsa", "jack", ...): fills up to n
 * names (static strings) and returns how many there are. */
int rtpmidi_midi_apis(const char **names, int n);

typedef void (*rtpmidi_midi_port_fn)(void *ud, int index, const char *name);

/* Lists the input ports (sources we can read) or output ports (destinations
 * we can write) of api ("alsa", "jack"; NULL: the default), calling fn once
 * per port. Returns how many there are, or a negative UV_E* code: UV_EINVAL
 * for an API name RtMidi does not know (err->field "api"), UV_ENOTSUP for
 * one not compiled in, UV_EIO when the API cannot be used (no ALSA
 * sequencer, no JACK server). JACK lists other clients' ports only: the
 * process's own never move the indices (names still find them). */
int rtpmidi_midi_in_ports(const char *api, rtpmidi_midi_port_fn fn, void *ud, rtpmidi_error *err);
int rtpmidi_midi_out_ports(const char *api, rtpmidi_midi_port_fn fn, void *ud, rtpmidi_error *err);

typedef struct rtpmidi_midi_port_config {
  const char *api;           /* "alsa", "jack", ...; NULL: the first compiled API with ports */
  const char *client_name;   /* our client's name; NULL: "rtpmidi" */
  const char *port;          /* connect to this port: its name or a unique part of it */
  int index;                 /* ... or to the port of this index (when port and
                                virtual_name are NULL; 0: the first port; -1: none) */
  const char *virtual_name;  /* or open a virtual port of this name that others connect
                                to (index then stays 0 or -1) */
  const char *port_name;     /* our end's name when connecting; NULL: "in" / "out" */
} rtpmidi_midi_port_config;

/* ---- input ---- */

typedef struct rtpmidi_midi_in_config {
  rtpmidi_midi_port_config port;
  /* What RtMidi delivers; false filters it out (the Lua MidiIn's defaults
   * are sysex and clock true, active_sensing false). */
  bool sysex;                /* SysEx */
  bool clock;                /* timing: clock F8 and MTC quarter frames F1 */
  bool active_sensing;       /* active sensing FE */
  size_t queue_bytes;        /* the queue between RtMidi's thread and the loop; 0: 256 KiB */
} rtpmidi_midi_in_config;

typedef struct rtpmidi_midi_in_events {
  /* One complete MIDI message, on the loop's thread. time_ms: rtpmidi_now_ms()
   * when RtMidi handed it over (taken on RtMidi's thread). */
  void (*on_message)(void *ud, const uint8_t *msg, size_t len, double time_ms);
  /* The port stopped working (the JACK server shut down: code UV_EIO), on
   * the loop's thread, once; the port stays open until closed. May be NULL. */
  void (*on_error)(void *ud, int code, const char *message);
} rtpmidi_midi_in_events;

typedef struct rtpmidi_midi_in_stats {
  uint64_t received;         /* delivered to on_message */
  uint64_t dropped;          /* lost because the queue was full */
} rtpmidi_midi_in_stats;

/* Opens an input port. Returns 0, or UV_EINVAL with err->field naming the
 * field (misuse), or another negative UV_E* code for a failure at run time
 * (no such port: UV_ENOENT, the message lists those there are; no server:
 * UV_EIO; built without RtMidi: UV_ENOTSUP). */
int rtpmidi_midi_in_open(rtpmidi_runtime *rt, const rtpmidi_midi_in_config *cfg,
                         const rtpmidi_midi_in_events *ev, void *ud, rtpmidi_midi_in **out,
                         rtpmidi_error *err);
const char *rtpmidi_midi_in_api(const rtpmidi_midi_in *in);
/* The port we connected to, or our virtual port's name. */
const char *rtpmidi_midi_in_port_name(const rtpmidi_midi_in *in);
void rtpmidi_midi_in_get_stats(const rtpmidi_midi_in *in, rtpmidi_midi_in_stats *st);
/* Closes the port (RtMidi's thread is gone when this returns), drops what is
 * still queued and frees the object once its handle is closed. Before or
 * after rtpmidi_runtime_free (which closes the port but leaves the object
 * to this call). */
void rtpmidi_midi_in_close(rtpmidi_midi_in *in);

/* ---- output ---- */

typedef struct rtpmidi_midi_out_config {
  rtpmidi_midi_port_config port;
  double latency_ms;         /* added to the time of scheduled messages; 0: none */
  size_t max_pending;        /* scheduled messages waiting at most; 0: 65536 */
  int rt_priority;           /* SCHED_FIFO priority of the scheduling thread when the
                              * system allows it (below JACK's 10); 0: normal scheduling */
} rtpmidi_midi_out_config;

typedef struct rtpmidi_midi_out_stats {
  uint64_t sent;             /* MIDI messages handed to RtMidi */
  uint64_t scheduled;        /* send_at calls queued */
  uint64_t late;             /* scheduled messages played more than 1 ms after their time */
  uint64_t cancelled;        /* scheduled messages dropped by cancel_pending or close */
  uint64_t errors;           /* RtMidi refused a message */
  double max_late_ms;        /* the worst lateness of a scheduled message */
  double total_late_ms;      /* summed lateness (mean: total / played on time or not) */
  uint64_t played;           /* scheduled messages played */
} rtpmidi_midi_out_stats;

/* Opens an output port: as rtpmidi_midi_in_open. */
int rtpmidi_midi_out_open(const rtpmidi_midi_out_config *cfg, rtpmidi_midi_out **out,
                          rtpmidi_error *err);
const char *rtpmidi_midi_out_api(const rtpmidi_midi_out *o);
const char *rtpmidi_midi_out_port_name(const rtpmidi_midi_out *o);
/* Checks that bytes are complete MIDI messages (running status allowed,
 * real-time bytes anywhere outside SysEx). Returns 0 or UV_EINVAL (field
 * "bytes", the message says why). */
int rtpmidi_midi_check_bytes(const uint8_t *bytes, size_t len, rtpmidi_error *err);
/* Plays bytes (one or more complete messages) now. Returns 0, UV_EINVAL when
 * they are not complete messages, UV_EIO when RtMidi refused one. */
int rtpmidi_midi_out_send(rtpmidi_midi_out *o, const uint8_t *bytes, size_t len);
/* Plays bytes at time_ms + latency on the rtpmidi_now_ms() clock (now when
 * that is past). Messages due at the same time keep their order. Returns 0,
 * UV_EINVAL (bytes), UV_ENOBUFS (too many pending) or UV_ENOMEM. */
int rtpmidi_midi_out_send_at(rtpmidi_midi_out *o, const uint8_t *bytes, size_t len, double time_ms);
void rtpmidi_midi_out_set_latency(rtpmidi_midi_out *o, double ms);
double rtpmidi_midi_out_latency(const rtpmidi_midi_out *o);
/* Note off for every note sounding (as tracked from what was played), then
 * All Notes Off (CC 123) on each of the 16 channels. Returns how many
 * messages it sent. */
int rtpmidi_midi_out_all_notes_off(rtpmidi_midi_out *o);
/* Drops the scheduled messages not played yet; returns how many. */
size_t rtpmidi_midi_out_cancel_pending(rtpmidi_midi_out *o);
size_t rtpmidi_midi_out_pending(rtpmidi_midi_out *o);
void rtpmidi_midi_out_get_stats(rtpmidi_midi_out *o, rtpmidi_midi_out_stats *st);
/* Drops pending messages, sends all notes off, closes the port and frees. */
void rtpmidi_midi_out_close(rtpmidi_midi_out *o);

/* Selects the JACK server that JACK clients opened from now on connect to
 * (the JACK_DEFAULT_SERVER environment variable); NULL: the default one. */
void rtpmidi_midi_set_jack_server(const char *name);

/* ======================================================================
 * AppleMIDI sessions: Apple's session protocol (csrc/core/applemidi_*.c)
 *
 * One session binds a control port P and a data port P+1 and holds any
 * number of participants. It answers invitations (IN -> OK/NO), invites
 * (IN with retries on both ports), keeps each participant's clock in sync
 * (CK), sends receiver feedback (RS) and ends sessions (BY). MIDI goes to
 * every participant and comes from all of them, RFC 6295 payload with a
 * recovery journal per participant (trimmed by that participant's RS).
 * ====================================================================== */

typedef struct rtpmidi_apple rtpmidi_apple;
#define RTPMIDI_APPLE_NAME_MAX 64  /* longest session name on the wire (octets) */

typedef enum rtpmidi_apple_accept {
  RTPMIDI_APPLE_ACCEPT_ANY = 0,   /* every invitation */
  RTPMIDI_APPLE_ACCEPT_NONE = 1,  /* none: answered with NO */
  RTPMIDI_APPLE_ACCEPT_LIST = 2   /* only from the addresses in accept_list */
} rtpmidi_apple_accept;

typedef struct rtpmidi_apple_config {
  const char *name;               /* our session name (cut to 64 octets on the wire);
                                     NULL: "rtpmidi" */
  int port;                       /* control port P (data: P+1); 0: a free pair */
  const char *bind_address;       /* IPv4 or IPv6 literal to bind ("fe80::1%eth0");
                                     NULL or "::": both families (dual-stack;
                                     NULL: 0.0.0.0 on a host without IPv6) */
  rtpmidi_apple_accept accept;    /* 0: RTPMIDI_APPLE_ACCEPT_ANY */
  const char *const *accept_list; /* IPv4 or IPv6 literals (ACCEPT_LIST); another
                                     string: UV_EINVAL, "accept" */
  size_t accept_count;
  uint32_t ssrc;                  /* 0: random */
  /* timings; zero selects the default */
  int invite_tries;               /* IN sent at most this often per port (12) */
  double invite_interval_ms;      /* between them (1500) */
  int ck_fast_count;              /* first CK exchanges at the fast interval (6) */
  double ck_fast_interval_ms;     /* (1500) */
  double ck_interval_ms;          /* afterwards (10000) */
  double timeout_ms;              /* nothing (CK, RTP) from a participant this long: it left,
                                   * "timeout" (60000) */
  double rs_interval_ms;          /* RS while data arrives (1000) */
  double guard_ms;                /* g of the guard policy (midi_stream.h), 50: guards at
                                   * g, 3g, 7g, 15g, 31g after MIDI, then one a second, at
                                   * most 30, while the participant sends RS that do not
                                   * cover our last packet */
  double jitter_buffer_ms;        /* how long a packet may wait for reordering (0: none) */
  size_t payload_budget;          /* MIDI payload octets per packet, journal included (1200) */
  size_t max_sysex;               /* largest SysEx reassembled (1 MiB) */
  bool recovery;                  /* send and read the recovery journal (false: without;
                                     the Lua AppleMidiSession's default is true) */
  bool reinvite;                  /* invite again a participant we invited that timed out */
  /* limits against hostile or broken peers; zero selects the default */
  size_t max_participants;        /* participants, joined or being invited, at most (32) */
  double invitations_per_second;  /* IN from unknown SSRCs answered at most this often,
                                     with a burst of one second's worth (20) */
  unsigned journal_history;       /* journal history in packets without RS, 1..32767 (512) */
  unsigned jitter_buffer_packets; /* reorder slots per participant, 2..32768 (64) */
  /* as rtpmidi_midi_config's: false is RFC 6295's behaviour */
  bool journal_ignore_s_bits;     /* Lua journal_trust_s_bits = false */
  bool journal_ignore_y;          /* Lua journal_honor_y = false */
} rtpmidi_apple_config;

typedef struct rtpmidi_apple_peer {
  uint32_t id;                    /* stable within the session, never reused */
  const char *name;
  const char *address;            /* IP literal */
  int port;                       /* its control port (data: port + 1) */
  uint32_t ssrc;
  bool initiator;                 /* we invited it */
  const char *invited_as;         /* the host name we invited it by (rtpmidi_apple_invite
                                     with a name, not an address), or NULL */
  bool synced;                    /* a CK exchange completed */
  double latency_ms;              /* one-way, from the last CK exchange */
  double offset_ms;               /* its clock minus ours */
  uint64_t packets_received, packets_sent, lost, messages_recovered;
  uint64_t ck_exchanges, rs_sent, rs_received;
  uint16_t checkpoint;            /* our journal's checkpoint for it */
  uint16_t seq;                   /* the RTP sequence number we send it next */
  bool journal_sender;            /* our journal's state for it exists: made with the
                                     first packet of commands we send it */
  bool journal_receiver;          /* the state for its journal exists: made with the
                                     first RTP packet it sends us */
  bool unconfirmed;               /* its RS has not covered our last packet of commands
                                     (guards go on while it sends RS) */
  bool recovery;                  /* the recovery journal, to it and from it */
  bool timestamps_swapped;        /* its CK and RTP timestamps come in host (little-endian)
                                     byte order (MIDIMonster): read swapped */
  uint64_t ck_impossible;         /* its CK exchanges whose numbers fit neither byte order */
} rtpmidi_apple_peer;

typedef struct rtpmidi_apple_events {
  /* One MIDI message from p; time_ms on the rtpmidi_now_ms() clock;
   * recovered: made by the recovery journal after a loss, or by the
   * session when p leaves (BY, timeout, restart, disconnect: any reason
   * but our own stop) with notes sounding or pedals down
   * from its messages: a Note Off (8n nn 40) for each such note and a
   * Control Change 0 for each pedal (64, 66, 67, 69), just before on_left. */
  void (*on_midi)(void *ud, const rtpmidi_apple_peer *p, const uint8_t *msg, size_t len,
                  double time_ms, bool recovered);
  void (*on_joined)(void *ud, const rtpmidi_apple_peer *p);
  /* reason: "bye", "timeout", "stopped", "disconnected", "restarted" (its
   * session came back with a new SSRC, from the same ports under the same
   * name, and invited us again: the new participant replaces it) */
  void (*on_left)(void *ud, const rtpmidi_apple_peer *p, const char *reason);
  void (*on_synced)(void *ud, const rtpmidi_apple_peer *p);   /* optional */
  /* An invitation we sent failed: reason "rejected" (NO), "timeout", "bye",
   * "unresolved" (a host name without an address the session reaches). */
  void (*on_invite_failed)(void *ud, const char *address, int port, const char *reason);
} rtpmidi_apple_events;

typedef struct rtpmidi_apple_stats {
  uint32_t ssrc;
  int port;                       /* control port, 0 while stopped */
  uint64_t control_sent, control_received;     /* AppleMIDI command packets */
  uint64_t packets_sent, packets_received;     /* RTP-MIDI */
  uint64_t messages_sent, messages_received, messages_recovered;
  uint64_t lost, duplicate, guard_sent, rs_sent, rs_received, ck_exchanges;
  uint64_t invitations_refused;   /* NO sent */
  uint64_t invitations_dropped;   /* IN over invitations_per_second, or a fifth waiting
                                   * invitation from one host: not answered */
  uint64_t unconfirmed;           /* connected participants whose RS has not covered our
                                   * last packet of commands to them */
  uint64_t send_errors;           /* datagrams the system refused (also those queued during a
                                   * received burst, whose sender was told "sent") */
  /* dropped and counted */
  uint64_t bad_signature, unknown_command, bad_name, malformed, unknown_ssrc, foreign;
  uint64_t journal_errors, sysex_dropped;
  uint64_t repairs_over_budget;   /* repair messages journals asked for beyond the budget
                                   * (per participant: 4,096 a packet, 4,096 a second) */
  uint64_t ck_impossible;         /* CK exchanges whose numbers fit neither byte order: no
                                   * measurement (the participant stays) */
  uint64_t timestamps_swapped;    /* participants found writing timestamps in host order */
  uint64_t unsolicited;           /* from a participant's own address, answering nothing of
                                   * ours: a CK1 or CK2 that does not echo our open CK0 or CK1,
                                   * an RS for a packet we did not send or that was confirmed */
  uint64_t pending;               /* invitations answered on the control port, waiting for the
                                   * data port (each holds a participant slot for 5 s at most) */
  uint64_t released;              /* Note Offs and pedal releases delivered (on_midi, recovered)
                                   * for participants that left with notes sounding */
} rtpmidi_apple_stats;

/* Checks cfg (UV_EINVAL with err->field naming the field) and creates a
 * stopped session. */
int rtpmidi_apple_new(rtpmidi_runtime *rt, const rtpmidi_apple_config *cfg,
                      const rtpmidi_apple_events *ev, void *ud, rtpmidi_apple **out,
                      rtpmidi_error *err);
/* Binds P and P+1 and starts answering. 0 or a negative UV_E* code. */
int rtpmidi_apple_start(rtpmidi_apple *a);
/* Sends BY to every participant (on_left "stopped"), closes the sockets. */
void rtpmidi_apple_stop(rtpmidi_apple *a);
bool rtpmidi_apple_started(const rtpmidi_apple *a);
int rtpmidi_apple_port(const rtpmidi_apple *a);
/* Invites address control port `port`: an IPv4 or IPv6 literal ("::1",
 * "fe80::1%eth0"), or a host name resolved off the loop (IPv4 preferred,
 * else IPv6: "localhost", "studio.local" with mDNS name resolution). 0,
 * UV_EINVAL, UV_EAFNOSUPPORT (a literal of a family bind_address does not
 * reach), UV_ENOBUFS (max_participants), UV_ENOTCONN (stopped). The outcome
 * arrives as on_joined or on_invite_failed (reason "unresolved" for a name
 * without an address the session reaches). */
int rtpmidi_apple_invite(rtpmidi_apple *a, const char *address, int port);
/* Ends the session with participant id (BY; on_left "disconnected"). 0 or UV_ENOENT. */
int rtpmidi_apple_disconnect(rtpmidi_apple *a, uint32_t id);
/* Queues complete MIDI messages for every participant; what is queued in
 * one loop turn (or in the callbacks of one received burst) leaves
 * together. 0, UV_EINVAL (as rtpmidi_midi_session_send), UV_ENOTCONN. */
int rtpmidi_apple_send(rtpmidi_apple *a, const uint8_t *bytes, size_t len, rtpmidi_error *err);
int rtpmidi_apple_flush(rtpmidi_apple *a);
/* Fills up to n joined participants; returns how many there are. The
 * strings stay valid until the loop runs again. */
size_t rtpmidi_apple_participants(rtpmidi_apple *a, rtpmidi_apple_peer *out, size_t n);
/* The recovery journal for one participant (issue 18, item 8: rtpmidid's
 * parser throws on some journals, pymidi misreads others): sent to it and
 * read from it, or neither. A participant starts with the session's
 * `recovery`; set it from on_joined, before anything is sent to it (turned
 * off later, the journal state kept for it is dropped). 0, or UV_ENOENT. */
int rtpmidi_apple_set_recovery(rtpmidi_apple *a, uint32_t id, bool recovery);
void rtpmidi_apple_get_stats(const rtpmidi_apple *a, rtpmidi_apple_stats *st);
/* Stops (BY), detaches the callbacks and frees once the handles are closed;
 * before or after rtpmidi_runtime_free, as rtpmidi_session_free. */
void rtpmidi_apple_free(rtpmidi_apple *a);
/* Discovery (mDNS/DNS-SD through Avahi, when compiled in): a started
 * session advertises itself (AppleMIDI: _apple-midi._udp on its control
 * port; Network MIDI 2.0: _midi2._udp) and browses for the others of its
 * kind. Avahi runs on a thread of its own: starting and stopping a session
 * never wait for avahi-daemon or D-Bus, and what browsing finds reaches the
 * loop's thread a little later (discovered() reads the loop's copy).
 * Returns whether Avahi was compiled in. */
bool rtpmidi_discovery_available(void);
bool rtpmidi_apple_discovery_available(void); /* the same */
/* A service browsing found, resolved. */
typedef struct rtpmidi_service {
  char name[RTPMIDI_APPLE_NAME_MAX + 1]; /* its DNS-SD instance name (at most 63 octets) */
  char host[256];                  /* the host it runs on ("studio.local") */
  char address[64];                /* an IP literal: IPv4 when it has one, else IPv6 */
  int port;                        /* AppleMIDI: the control port */
  /* _midi2._udp only, from its TXT records ("" when absent) */
  char endpoint_name[99];          /* UMPEndpointName */
  char product_instance_id[43];    /* ProductInstanceId */
} rtpmidi_service;
typedef rtpmidi_service rtpmidi_apple_service;
/* A browser: browses for one service type without advertising anything
 * (`rtpmidi list --network`). type: "_apple-midi._udp", "_midi2._udp" or
 * another DNS-SD type "_name._udp" / "_name._tcp". 0, UV_EINVAL (type),
 * UV_ENOTSUP (no Avahi in this build), UV_ENOMEM. A member of rt like a
 * session: rtpmidi_runtime_free ends its browsing; free it either way. */
typedef struct rtpmidi_browser rtpmidi_browser;
int rtpmidi_browser_new(rtpmidi_runtime *rt, const char *type, rtpmidi_browser **out);
/* What it found so far, as rtpmidi_apple_discovered. */
size_t rtpmidi_browser_found(const rtpmidi_browser *b, rtpmidi_service *out, size_t n);
void rtpmidi_browser_free(rtpmidi_browser *b);
/* The _apple-midi._udp sessions browsing found so far (our own included),
 * resolved to an address and control port. Returns how many there are and
 * fills up to n. Empty while stopped, without Avahi or when avahi-daemon is
 * not running. */
size_t rtpmidi_apple_discovered(rtpmidi_apple *a, rtpmidi_apple_service *out, size_t n);

/* ======================================================================
 * Network MIDI 2.0 sessions: UMP over UDP, MIDI Association M2-124-UM
 * (csrc/core/midi2_session.c over csrc/proto/midi2_session.h)
 *
 * One UDP port. A host answers invitations from any number of clients
 * (with a shared secret or user names and passwords when configured); any
 * session may invite hosts. UMP Data goes to every established session with
 * forward error correction (the previous `fec` commands repeated in each
 * datagram) and comes in order, gaps repaired by retransmission. Pings,
 * keep-alives, session reset and bye as the specification says.
 * ====================================================================== */

typedef struct rtpmidi_midi2 rtpmidi_midi2;

typedef enum rtpmidi_midi2_role {
  RTPMIDI_MIDI2_HOST = 0,         /* accepts invitations */
  RTPMIDI_MIDI2_CLIENT = 1        /* refuses them (NAK); invites hosts */
} rtpmidi_midi2_role;

typedef struct rtpmidi_midi2_user {
  const char *name, *password;
} rtpmidi_midi2_user;

#define RTPMIDI_MIDI2_PORT 5673    /* the default UDP port */
#define RTPMIDI_MIDI2_NO_FEC (-1)  /* fec: send each command once */

typedef struct rtpmidi_midi2_config {
  const char *name;               /* UMP endpoint name (at most 98 octets); NULL: "rtpmidi" */
  const char *product_instance_id;/* at most 42 octets; NULL: none */
  rtpmidi_midi2_role role;
  int port;                       /* UDP port; 0: any free one */
  const char *bind_address;       /* IPv4 or IPv6 literal; NULL or "::": both
                                     families (NULL: 0.0.0.0 without IPv6) */
  /* a host requires one of these when set (the client's capabilities pick) */
  const char *secret;
  const rtpmidi_midi2_user *users;
  size_t n_users;                 /* at most 8 */
  /* zero selects the default */
  unsigned max_clients;           /* host: sessions at once, at most 16 (16) */
  int fec;                        /* previous commands in each datagram 0..10 (2);
                                     RTPMIDI_MIDI2_NO_FEC: none */
  unsigned history;               /* commands kept for retransmission (64, at most 128) */
  double ping_ms;                 /* silence before a ping (2000) */
  double ping_retry_ms;           /* between unanswered pings (1000) */
  unsigned ping_retries;          /* unanswered pings before Bye "timeout" (3) */
  double keepalive_ms;            /* an empty UMP Data command when idle this long (1000) */
  double invite_interval_ms;      /* between invitations (1000) */
  unsigned invite_tries;          /* invitations before giving up (5) */
  size_t max_sysex;               /* largest SysEx reassembled for on_midi (1 MiB) */
  bool no_stream_answers;         /* do not answer UMP Stream discovery */
} rtpmidi_midi2_config;

typedef struct rtpmidi_midi2_peer {
  uint32_t id;                    /* stable within the session, never reused */
  const char *name;               /* its UMP endpoint name */
  const char *product_instance_id;
  const char *address;            /* IP literal */
  int port;
  bool initiator;                 /* we invited it (it is a host) */
  double rtt_ms;                  /* from the last answered ping; 0: none yet */
} rtpmidi_midi2_peer;

typedef struct rtpmidi_midi2_events {
  /* One UMP message (1-4 words, host order) from p, in order. time_ms on
   * the rtpmidi_now_ms() clock; recovered: from an FEC copy or a
   * retransmission. Optional. */
  void (*on_ump)(void *ud, const rtpmidi_midi2_peer *p, const uint32_t *words, size_t n,
                 double time_ms, bool recovered);
  /* The same as MIDI 1.0: one complete message (MIDI 2.0 channel voice
   * down-converted, SysEx7 reassembled). Optional. */
  void (*on_midi)(void *ud, const rtpmidi_midi2_peer *p, const uint8_t *msg, size_t len,
                  double time_ms, bool recovered);
  void (*on_joined)(void *ud, const rtpmidi_midi2_peer *p);
  /* reason: "bye" (it said Bye), "disconnected" (we did), "timeout", "stopped" */
  void (*on_left)(void *ud, const rtpmidi_midi2_peer *p, const char *reason);
  /* An invitation we sent failed: "timeout", "auth_failed", "refused",
   * "unresolved" (a host name without an address), "disconnected". */
  void (*on_invite_failed)(void *ud, const char *address, int port, const char *reason);
} rtpmidi_midi2_events;

typedef struct rtpmidi_midi2_stats {
  int port;                       /* 0 while stopped */
  uint64_t datagrams_sent, datagrams_received;
  uint64_t ump_sent, ump_received;              /* UMP messages */
  uint64_t recovered_fec, recovered_retransmit, lost, duplicate;
  uint64_t retransmit_requests_sent, retransmit_requests_received, retransmitted;
  uint64_t pings_sent, keepalives_sent, naks_sent, naks_received, auth_failures;
  uint64_t malformed, foreign, suppressed, sysex_dropped, send_errors;
  uint64_t clients;               /* established sessions */
} rtpmidi_midi2_stats;

/* Checks cfg (UV_EINVAL with err->field naming the field) and creates a
 * stopped session. */
int rtpmidi_midi2_new(rtpmidi_runtime *rt, const rtpmidi_midi2_config *cfg,
                      const rtpmidi_midi2_events *ev, void *ud, rtpmidi_midi2 **out,
                      rtpmidi_error *err);
/* Binds the port and starts answering. 0 or a negative UV_E* code. */
int rtpmidi_midi2_start(rtpmidi_midi2 *m);
/* Says Bye to every session (on_left "stopped"), closes the socket. */
void rtpmidi_midi2_stop(rtpmidi_midi2 *m);
bool rtpmidi_midi2_started(const rtpmidi_midi2 *m);
int rtpmidi_midi2_port(const rtpmidi_midi2 *m);
/* Invites the host at address (an IP literal, or a host name resolved off
 * the loop), UDP port `port`, with credentials when it asks for them (any
 * may be NULL). 0, UV_EINVAL, UV_ENOTCONN (stopped), UV_EBUSY (a session
 * with that address), UV_ENOBUFS (no room), UV_EAFNOSUPPORT (a literal of
 * a family bind_address does not reach). The outcome arrives as
 * on_joined or on_invite_failed. */
int rtpmidi_midi2_invite(rtpmidi_midi2 *m, const char *address, int port, const char *secret,
                         const char *user, const char *password);
/* Sends whole UMP messages to session `peer` (0: every established one).
 * Returns how many sessions it went to, or UV_EINVAL (not whole messages),
 * UV_ENOENT (no such session), UV_ENOTCONN (stopped). */
int rtpmidi_midi2_send_ump(rtpmidi_midi2 *m, uint32_t peer, const uint32_t *words, size_t n);
/* Sends complete MIDI 1.0 messages as UMP (MIDI 1.0 channel voice, system,
 * SysEx7 of group 0) to every established session. Returns how many, or
 * UV_EINVAL (as rtpmidi_midi_session_send), UV_ENOTCONN. */
int rtpmidi_midi2_send_midi(rtpmidi_midi2 *m, const uint8_t *bytes, size_t len, rtpmidi_error *err);
/* Session Reset of one session. 0, UV_ENOENT, UV_EBUSY. */
int rtpmidi_midi2_reset(rtpmidi_midi2 *m, uint32_t peer);
/* Bye to one session (0: all); on_left "disconnected" follows. */
int rtpmidi_midi2_disconnect(rtpmidi_midi2 *m, uint32_t peer);
/* Fills up to n established sessions; returns how many there are. The
 * strings stay valid until the loop runs again. */
size_t rtpmidi_midi2_peers(rtpmidi_midi2 *m, rtpmidi_midi2_peer *out, size_t n);
void rtpmidi_midi2_get_stats(const rtpmidi_midi2 *m, rtpmidi_midi2_stats *st);
/* The _midi2._udp endpoints browsing found so far (our own included; a
 * started session advertises itself with TXT records UMPEndpointName and
 * ProductInstanceId), as rtpmidi_apple_discovered. */
size_t rtpmidi_midi2_discovered(rtpmidi_midi2 *m, rtpmidi_service *out, size_t n);
/* Stops, detaches the callbacks and frees (also from inside a callback);
 * before or after rtpmidi_runtime_free, as rtpmidi_session_free. */
void rtpmidi_midi2_free(rtpmidi_midi2 *m);

#ifdef __cplusplus
}
#endif
#endif
