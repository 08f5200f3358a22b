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
 * protect) is not sent and ends the schedule; while a SysEx in parts waits
 * for feedback (below) the late guards go every RMP_STREAM_SX_GUARD_GAP g. MidiSession uses g = 20 ms
 * (guards at 20, 60, 140, 300, 620 ms); AppleMIDI g = guard_interval (50 ms:
 * 50, 150, 350, 750, 1550 ms).
 *
 * SysEx in parts (RFC 6295 B.5's partial forms, Figure B.5.1: STA, F and
 * FIRST (Figure B.5.2), the list tool L = 1 (B.5.2), COUNT (B.5.3); issue
 * #17 item 8). B.5.2 names the choice made here: "if a sender uses the
 * closed-loop sending policy for SysEx commands, the RTP packet size may
 * always be capped by stalling the stream". A
 * SysEx the journal's recency log cannot hold (more than RMP_EJ_X_MAX_DATA
 * data octets) or that goes in several packets (segments, section 3.2) is
 * journalled as one Chapter X log of its own (journal.h,
 * rmp_ej_send_record_part): STA = 0 while unfinished, FIRST = its first
 * octet not yet confirmed, DATA from there. The journal holds at most
 * RMP_EJ_X_PART_MAX unconfirmed octets of it (and no more than its size
 * budget leaves), so the stream paces it by the peer's feedback: each
 * packet carries at most what the journal can still hold (rmp_stream_tx_sx_room),
 * a packet of its own, and when nothing fits the SysEx -- and every
 * message after it, to keep their order -- waits (the section is 0: the
 * session keeps them queued) until the peer confirms what went before --
 * while the peer's last feedback is younger than RMP_STREAM_SX_STALL_MS:
 * a peer whose feedback is slower (RTCP's default 5 s interval) or that
 * stopped giving it, or never gave any (open loop), is not waited for, and
 * what the journal cannot hold goes unprotected (a receiver that loses a
 * part of it sees an uncovered loss and drops it). Receiving, each segment goes to the journal receiver
 * (rmp_ej_recv_part) and repairs of a SysEx in parts are appended to the
 * one being reassembled; a part that does not follow what the receiver
 * holds drops that SysEx (counted in sysex_dropped).
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
#include "midi_held.h"
#include "rtp.h"

#define RMP_STREAM_OPEN_GUARDS 5u
#define RMP_STREAM_LATE_GUARD_MS 1000.0
#define RMP_STREAM_LATE_GUARDS 30u
/* The journal of a payload of at most 1488 octets (1500 less an RTP header). */
#define RMP_STREAM_MAX_JOURNAL 744u
/* y_window of the journal sender (journal.h): notes struck within this many
 * packets are journalled with Y = 1. */
#define RMP_STREAM_Y_WINDOW 64u
/* A SysEx in parts waits for the peer's feedback only while its last
 * feedback is younger than this; then it goes unprotected. */
#define RMP_STREAM_SX_STALL_MS 2000.0
/* The smallest part worth a packet (a section of RMP_CMD_MIN_BUDGET octets
 * carries 12 data octets), and the journal octets kept free beside a part
 * for the log's own fields and the other chapters of its packet. */
#define RMP_STREAM_SX_MIN_PART 12u
/* While a SysEx in parts waits, the late guards (a repair of its lost
 * parts, and what the peer's feedback then confirms) go every this many
 * g instead of every RMP_STREAM_LATE_GUARD_MS. */
#define RMP_STREAM_SX_GUARD_GAP 4.0
#define RMP_STREAM_SX_SLACK 24u

/* What the streams of one session share; set once, read by every call. */
typedef struct rmp_stream_config {
  double rate;              /* RTP clock, Hz (> 0) */
  size_t payload_budget;    /* octets of payload per packet (RMP_CMD_MIN_BUDGET..1488) */
  size_t max_sysex;         /* the largest SysEx reassembled from the network */
  uint16_t journal_history; /* packets the journal reaches back when no feedback trims it */
  bool recovery;            /* send and read the recovery journal */
  double guard_ms;          /* g of the guard policy */
  /* receiver options for senders that get the journal wrong (journal.h's
   * rmp_ej_recv_config; zero is the RFC's behaviour): */
  bool ignore_s_bits;       /* trust_s_bits = 0: read the whole journal after any loss */
  bool ignore_y;            /* honor_y = 0: play the NoteOns of Y = 0 logs too */
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
  size_t sx_len;                /* a SysEx in parts being sent: its length (0: none) */
  size_t sx_next;               /* its offset (F0 at 0) of the first octet not sent */
  bool sx_stalled;              /* it waits for feedback (rmp_stream_tx_sx_room) */
  bool fb_new;                  /* new feedback, its time not taken yet */
  double fb_at;                 /* when the last new feedback came */
} rmp_stream_tx;

/* What a section holds (rmp_stream_section). */
typedef struct rmp_stream_info {
  rmp_cmd_enc_info cmd;         /* of msgs */
  size_t sx_from;               /* msgs[0] continues a SysEx from this offset (0: it does not) */
  size_t sx_to;                 /* msgs[cmd.nmsgs] is a SysEx sent up to this offset (cmd.sysex_partial) */
} rmp_stream_info;

void rmp_stream_tx_init(rmp_stream_tx *tx);
void rmp_stream_tx_free(rmp_stream_tx *tx);

/* Prepares the journal of packet seq (before recording that packet's
 * messages). commands: the packet will carry commands (the journal's sender
 * is made for the first such packet, with recovery on). Returns the journal's
 * size (0: none, the packet goes with J = 0), kept for rmp_stream_tx_append. */
size_t rmp_stream_tx_journal(rmp_stream_tx *tx, const rmp_stream_config *c, uint16_t seq,
                             bool commands);

/* Data octets of a SysEx in parts the next packet to tx may carry (after
 * rmp_stream_tx_journal for it), at now: SIZE_MAX when there is no limit
 * (recovery off, a journal too small for parts, no feedback within
 * RMP_STREAM_SX_STALL_MS), 0 when it must wait for feedback. */
size_t rmp_stream_tx_sx_room(rmp_stream_tx *tx, const rmp_stream_config *c, double now);

/* Encodes the command section for msgs[0..n) into out, sized for a journal
 * of jlen octets (the payload layout above), a SysEx in parts within
 * sx_room (the least of the receivers' rmp_stream_tx_sx_room); J is left
 * to rmp_stream_tx_append. Returns the section's size, 0 when msgs[0]
 * must wait (nothing encoded: keep msgs for later), or a negative rmp_err. */
int rmp_stream_section(rmp_cmd_encoder *enc, const rmp_stream_config *c, const rmp_cmd_msg *msgs,
                       size_t n, size_t jlen, size_t sx_room, uint8_t *out, size_t cap,
                       rmp_stream_info *info);

/* The section is at out[0..slen): sets its J bit when the prepared journal
 * is not empty and appends the journal. Returns the payload's size, or -1
 * when it does not fit in cap. */
int rmp_stream_tx_append(const rmp_stream_tx *tx, uint8_t *out, size_t slen, size_t cap);

/* The four above for one receiver: a whole payload for packet seq at now
 * into out (info: what of msgs it holds; *jlen: its journal's size).
 * Returns the payload's size, 0 when msgs[0] must wait, or a negative
 * rmp_err. */
int rmp_stream_tx_packet(rmp_stream_tx *tx, const rmp_stream_config *c, rmp_cmd_encoder *enc,
                         uint16_t seq, const rmp_cmd_msg *msgs, size_t n, double now, uint8_t *out,
                         size_t cap, rmp_stream_info *info, size_t *jlen);

/* Packet seq, holding what info says of msgs, left at now: its messages go
 * into the journal (a SysEx in parts as its parts); a packet with
 * commands starts the guard schedule. */
void rmp_stream_tx_sent(rmp_stream_tx *tx, const rmp_stream_config *c, uint16_t seq,
                        const rmp_cmd_msg *msgs, const rmp_stream_info *info, double now);

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

/* When the next guard is due, or a SysEx in parts stops waiting for
 * feedback (ms), or INFINITY when neither. */
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
   * and repairs): notes on and pedals down (midi_held.h) -- for
   * rmp_stream_rx_release, with or without the journal */
  rmp_held held;
  void *rep;                /* the repair in progress (midi_stream.c), for a SysEx in parts */
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
 * of its end, not a message of the peer's): the releases midi_held.h
 * makes, a Note Off (velocity 64) for each note on, then a Control Change
 * to 0 for each pedal down (damper, sostenuto, soft, hold 2). A route to a MIDI output then
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
