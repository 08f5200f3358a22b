/* midi_stream.h -- one RTP MIDI stream (RFC 6295): what a MidiSession and
 * each AppleMIDI participant send and receive, without sockets or clocks.
 *
 * Sending (rmp_stream_tx): a packet's payload is its command section and,
 * with recovery on, the recovery journal of everything sent before it
 * (checkpoint .. seq - 1). After the last packet with commands come guard
 * packets (an empty command section and the journal) until the peer
 * confirms that packet (the guard policy below).
 *
 * Receiving (rmp_stream_rx): one packet at a time, in sequence order (the
 * RTP layer in front of it tracks sequence numbers and waits for late
 * packets): the whole command section is checked first (a malformed one is
 * dropped whole, nothing delivered); after a loss the journal's repairs are
 * delivered (recovered = true), then the packet's own commands, each with
 * its local time (the packet's RTP timestamp plus the command's delta,
 * mapped through rtp.h's rmp_ts_anchor).
 *
 * Payload layout (both directions of every session kind): the journal takes
 * at most half of payload_budget (the sender trims its history to fit); the
 * command section takes payload_budget minus the journal that goes with it
 * (at least RMP_CMD_MIN_BUDGET), so that a payload stays within
 * payload_budget. A session that sends one section to several receivers
 * (AppleMIDI's participants) sizes it for the largest of their journals.
 *
 * Guard policy (RFC 4696 section 7: the loss of the last packet is repaired
 * only by a packet that follows it). With g = guard_ms, after the last
 * packet with commands, sent at t:
 *   - open loop: RMP_STREAM_OPEN_GUARDS guards, at t + g, t + 3g, t + 7g,
 *     t + 15g, t + 31g (each gap twice the one before, counted from when the
 *     previous guard left);
 *   - then, while the peer gives feedback (it has acknowledged something of
 *     ours: an RTCP receiver report, an AppleMIDI RS) and has not confirmed
 *     that packet, one every RMP_STREAM_LATE_GUARD_MS, at most
 *     RMP_STREAM_LATE_GUARDS of them: when the open-loop guards are lost
 *     as well the loss would otherwise never be repaired (a stuck note). A
 *     peer that never gives feedback gets the open-loop guards only.
 * The peer confirms the packet by acknowledging it or any packet sent after
 * it; a packet with commands starts the schedule again; guards go only with
 * recovery on, and a guard whose journal would be empty (nothing left to
 * protect) is not sent and ends the schedule. MidiSession uses g = 20 ms
 * (guards at 20, 60, 140, 300, 620 ms); AppleMIDI g = guard_interval (50 ms:
 * 50, 150, 350, 750, 1550 ms).
 *
 * Memory: the journal's sender (~1.5 KiB with its buffer; its tables grow
 * per channel and chapter used, journal.h) is made with the first packet
 * that carries commands, its receiver (~0.6 KiB, and per channel used)
 * with the first packet received,
 * the SysEx buffer (max_sysex) with the first SysEx received: a stream that
 * never sends allocates no sender, and so on. Each begins in the state a
 * fresh one has at that point, so allocating late changes nothing on the
 * wire. Without memory a packet goes without a journal / is read without
 * repair / its SysEx is dropped, and the next packet tries again. These are
 * the only allocations here (malloc, once each; the journal's own tables
 * come from its allocator, journal.h); rmp_stream_*_free releases them.
 *
 * Pure protocol code: libc only, no I/O, time passed in (ms, any origin).
 */
#ifndef RMP_MIDI_STREAM_H
#define RMP_MIDI_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal.h"
#include "midi_cmd.h"
#include "rtp.h"

#define RMP_STREAM_OPEN_GUARDS 5u
#define RMP_STREAM_LATE_GUARD_MS 1000.0
#define RMP_STREAM_LATE_GUARDS 30u
/* The journal of a payload of at most 1488 octets (1500 less an RTP header). */
#define RMP_STREAM_MAX_JOURNAL 744u
/* y_window of the journal sender (journal.h): notes struck within this many
 * packets are journalled with Y = 1. */
#define RMP_STREAM_Y_WINDOW 64u

/* What the streams of one session share; set once, read by every call. */
typedef struct rmp_stream_config {
  double rate;              /* RTP clock, Hz (> 0) */
  size_t payload_budget;    /* octets of payload per packet (RMP_CMD_MIN_BUDGET..1488) */
  size_t max_sysex;         /* the largest SysEx reassembled from the network */
  uint16_t journal_history; /* packets the journal reaches back when no feedback trims it */
  bool recovery;            /* send and read the recovery journal */
  double guard_ms;          /* g of the guard policy */
} rmp_stream_config;

/* ---- sending ---- */

struct rmp_stream_journal; /* the journal's sender and its last encoding */

/* Zero it (or call init) to start. */
typedef struct rmp_stream_tx {
  struct rmp_stream_journal *j; /* NULL until the first packet with commands */
  uint16_t last_seq;            /* the last packet sent (with sent) */
  uint16_t last_cmd_seq;        /* the last packet with commands (with unconfirmed) */
  bool sent;                    /* a packet went out */
  bool unconfirmed;             /* guards protect last_cmd_seq */
  bool feedback;                /* the peer has acknowledged something */
  uint16_t unacked;             /* packets sent since the last one acknowledged (or since the
                                 * start), at most 0x8000: acks within them are new */
  uint8_t guards_sent;          /* since last_cmd_seq */
  double next_guard;            /* when the next one is due (see rmp_stream_tx_deadline) */
} rmp_stream_tx;

void rmp_stream_tx_init(rmp_stream_tx *tx);
void rmp_stream_tx_free(rmp_stream_tx *tx);

/* Prepares the journal of packet seq (before recording that packet's
 * messages). commands: the packet will carry commands (the journal's sender
 * is made for the first such packet, with recovery on). Returns the journal's
 * size (0: none, the packet goes with J = 0), kept for rmp_stream_tx_append. */
size_t rmp_stream_tx_journal(rmp_stream_tx *tx, const rmp_stream_config *c, uint16_t seq,
                             bool commands);

/* Encodes the command section for msgs[0..n) into out, sized for a journal
 * of jlen octets (the payload layout above); J is left to
 * rmp_stream_tx_append. Returns the section's size or a negative rmp_err. */
int rmp_stream_section(rmp_cmd_encoder *enc, const rmp_stream_config *c, const rmp_cmd_msg *msgs,
                       size_t n, size_t jlen, uint8_t *out, size_t cap, rmp_cmd_enc_info *info);

/* The section is at out[0..slen): sets its J bit when the prepared journal
 * is not empty and appends the journal. Returns the payload's size, or -1
 * when it does not fit in cap. */
int rmp_stream_tx_append(const rmp_stream_tx *tx, uint8_t *out, size_t slen, size_t cap);

/* The three above for one receiver: a whole payload for packet seq into out
 * (info: what of msgs it holds; *jlen: its journal's size). Returns the
 * payload's size or a negative rmp_err. */
int rmp_stream_tx_packet(rmp_stream_tx *tx, const rmp_stream_config *c, rmp_cmd_encoder *enc,
                         uint16_t seq, const rmp_cmd_msg *msgs, size_t n, uint8_t *out, size_t cap,
                         rmp_cmd_enc_info *info, size_t *jlen);

/* Packet seq, holding what info says of msgs, left at now: its messages go
 * into the journal; a packet with commands starts the guard schedule. */
void rmp_stream_tx_sent(rmp_stream_tx *tx, const rmp_stream_config *c, uint16_t seq,
                        const rmp_cmd_msg *msgs, const rmp_cmd_enc_info *info, double now);

/* Feedback: the peer received everything up to seq (RTCP RR extended highest
 * sequence number, AppleMIDI RS). Taken only for a packet we sent and that
 * no earlier feedback confirmed (issue #16, finding 4: a forged ack must not
 * move the checkpoint past packets the peer never received, or past any
 * packet not sent yet): then it trims the journal's checkpoint, ends the
 * guards when seq is the last packet with commands or a later one, and
 * returns 1. Feedback for a packet confirmed before (or the one just
 * before our first: an RTP receiver's report during its probation, RFC
 * 3550 A.1) changes nothing but says the peer gives feedback: 0. Feedback
 * for a packet not sent (ahead of the last one, or nothing sent yet) is
 * ignored whole: -1 (the session counts it). */
int rmp_stream_tx_ack(rmp_stream_tx *tx, uint16_t seq);

/* When the next guard is due (ms), or INFINITY when none is. */
double rmp_stream_tx_deadline(const rmp_stream_tx *tx);

/* A guard packet for seq, when one is due at now: its payload into out
 * (returns its size; it counts as sent: send it as packet seq), or 0 when
 * none is due or nothing is left to protect (the schedule ends). */
int rmp_stream_tx_guard(rmp_stream_tx *tx, const rmp_stream_config *c, uint16_t seq, double now,
                        uint8_t *out, size_t cap);

/* Whether guards protect the last packet with commands (it was sent with
 * recovery on and the peer has not confirmed it). */
bool rmp_stream_tx_unconfirmed(const rmp_stream_tx *tx);
/* Whether the journal's sender exists, and its checkpoint (0 without). */
bool rmp_stream_tx_has_journal(const rmp_stream_tx *tx);
uint16_t rmp_stream_tx_checkpoint(const rmp_stream_tx *tx);

/* ---- receiving ---- */

/* Counters a receiver adds to (a session may keep one set for many streams). */
typedef struct rmp_stream_counts {
  uint64_t messages;       /* delivered from command sections */
  uint64_t recovered;      /* delivered from journals (repairs) */
  uint64_t malformed;      /* payloads dropped whole */
  uint64_t sysex_dropped;  /* SysEx too long, cancelled, without start or end */
  uint64_t repairs;        /* losses repaired from a journal */
  uint64_t unrecovered;    /* losses the journal did not cover, or without a journal */
  uint64_t bad_journals;   /* journals that did not parse (the commands are kept) */
  uint64_t duplicates;     /* a packet the journal receiver had already seen: dropped */
  uint64_t released;       /* note offs and pedal ups made by rmp_stream_rx_release */
  uint64_t over_budget;    /* repair commands a journal asked for beyond the receiver's
                              budget (per packet, and per second from `now`): not played */
} rmp_stream_counts;

/* One message for the application: time in local ms. Returns non-zero to
 * stop (the receiver went away): nothing more is delivered or read from rx
 * for this packet. */
typedef int (*rmp_stream_deliver_fn)(void *ud, const uint8_t *msg, size_t len, double time_ms,
                                     bool recovered);

/* Zero it (or call init) to start. */
typedef struct rmp_stream_rx {
  rmp_cmd_decoder dec;
  uint8_t *sysex;           /* max_sysex octets, from the first SysEx */
  rmp_ts_anchor clock;      /* the peer's RTP time to ours */
  rmp_ej_receiver *jr;      /* from the first packet, with recovery on */
  /* what of the stream sounds at the application, as delivered (commands
   * and repairs): notes on, and pedals (controllers 64..69) down, a bit
   * each, per channel -- for rmp_stream_rx_release, with or without the
   * journal */
  uint8_t sounding[16][16];
  uint8_t pedals[16];
} rmp_stream_rx;

void rmp_stream_rx_init(rmp_stream_rx *rx);
void rmp_stream_rx_free(rmp_stream_rx *rx);

/* The sender's sequence numbering starts again (the RTP layer in front
 * resynced, or the peer came back with a new SSRC): the next packet is read
 * as the first (no repair: nothing is known about what lay between), and
 * its RTP times anchor the time mapping afresh (a restarted sender picks a
 * new timestamp origin). What the receiver knows sounds is kept: the notes
 * of the old run can still be released (rmp_stream_rx_release). */
void rmp_stream_rx_restart(rmp_stream_rx *rx);

/* A jump ahead the RTP layer had taken on trust was undone (rtp_seq.h: a
 * forged packet; the real stream went on): the next packet follows
 * last_seq, the real stream's last packet before the jump, so that what was
 * lost meanwhile is repaired from its journal. */
void rmp_stream_rx_resume(rmp_stream_rx *rx, uint16_t last_seq);

/* The peer is gone (its timeout, its BYE, a network error; an AppleMIDI
 * participant that left or timed out): what it left sounding is released
 * through deliver, at time now, with recovered = true (the stream's repair
 * of its end, not a message of the peer's): a Note Off (velocity 64) for
 * each note on, then a Control Change to 0 for each pedal down
 * (controllers 64..69), channel by channel. A route to a MIDI output then
 * silences what the peer left, without an All Notes Off for notes of
 * others. What was released is no longer sounding (here and in the
 * journal receiver's state, so that a peer that comes back has its notes
 * repaired from its journal). Returns how many messages were delivered
 * (counted in n->released); stops early when deliver asks. */
unsigned rmp_stream_rx_release(rmp_stream_rx *rx, double now, rmp_stream_deliver_fn deliver, void *ud,
                               rmp_stream_counts *n);

/* Return values of rmp_stream_rx_packet. */
#define RMP_STREAM_RX_OK 0
#define RMP_STREAM_RX_MALFORMED (-1)  /* dropped whole, nothing delivered */
#define RMP_STREAM_RX_DUPLICATE (-2)  /* dropped: seen before */
#define RMP_STREAM_RX_STOPPED 1       /* deliver asked to stop */

/* One packet: its 16-bit sequence number, RTP timestamp and payload,
 * received at now (ms, the clock of the times delivered). A packet the
 * journal receiver sees as older than the last one means the sender's
 * numbering restarted (the RTP layer in front delivers each packet once, in
 * order): the receiver starts again from it, without a repair. */
int rmp_stream_rx_packet(rmp_stream_rx *rx, const rmp_stream_config *c, uint16_t seq, uint32_t ts,
                         const uint8_t *payload, size_t len, double now, rmp_stream_deliver_fn deliver,
                         void *ud, rmp_stream_counts *n);

#endif
