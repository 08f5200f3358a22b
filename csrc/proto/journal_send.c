/* journal_send.c -- recovery journal sender (RFC 6295 section 4 and
 * appendices A/B; RFC 4696 sections on the checkpoint history).
 *
 * The sender keeps a MIDI state model (midi_state.h) plus, for every
 * element of it, a 16-bit tag of the packet that last changed it (journal.h:
 * read as an age, swept every RMP_EJ_SWEEP packets so that it never aliases;
 * the history is at most RMP_EJ_MAX_HISTORY packets). The journal of packet
 * I codes every element last changed in the checkpoint history
 * [checkpoint, I-1], with its current value.
 *
 * Sources. Layouts and semantics were checked against the text of RFC 6295
 * (a copy vendored as docs/rfcs/rfc6295.txt in the public repository
 * davidmoreno/rtpmidid, read through the search tool) and against
 * Wireshark's rtpmidi dissector (its field masks from `tshark -G fields`,
 * its parsing code read for facts); csrc/test/tshark_journal.sh compares
 * every field of a journal for each chapter form with tshark 4.0.
 *
 * Confirmed (RFC section, then the behaviour here):
 *  - S bits (A.1): "As a rule, S bits MUST be set to 1", except an element
 *    coding a command of packet I-1 has S = 0, and so do all elements
 *    containing it up to the journal header. (The first draft had this
 *    inverted.) Receivers after a single loss need only S = 0 structures.
 *  - Chapter N B bit (A.6.1): S-bit function for the NoteOff bitfield; 1 by
 *    default, 0 if packet I-1 holds a NoteOff for the channel (we also count
 *    notes silenced by 120/123-127 in I-1). Note logs oldest first (A.1
 *    oldest-first rule). LEN/LOW/HIGH as coded before (confirmed).
 *  - Chapter C (A.3.2): A = 1 selects ALT; T = 0 toggle tool, T = 1 count
 *    tool (the first draft had it inverted). Toggle count: all toggles mod
 *    64 including the one coded; count tool: all commands mod 64. Several
 *    tools for one command come in the order count, value, toggle (A.3.3);
 *    the list is oldest first. Controllers 6, 38, 96-101 MUST NOT be coded
 *    in Chapter C when they take part in a parameter transaction (A.3.4),
 *    and MUST be when they are general-purpose (no parameter selected, the
 *    null parameter, after a 121): they are then value-tool logs here;
 *    98-101 are taken as parameter selectors (the RFC's SHOULD) and go to
 *    Chapter M. Tools: 64-69 value + toggle, 120/121/123-127 count (A.3.3
 *    names 123 as the count tool's example; the receiver replays the
 *    default value 0), everything else value.
 *  - Chapter M (A.4): LENGTH counts the whole chapter including its 2-octet
 *    header (A.1 LENGTH rule; the dissector subtracts 2). Logs one per
 *    parameter changed in the history (all of them, A.4.1), oldest
 *    transaction first; V = 1 on every log (value tool),
 *    J/K/L as the data; A-BUTTON |G|X|14 bits|, G = 1 negative. ENTRY-LSB is
 *    not sent when it precedes the last ENTRY-MSB. P = 1 with PENDING (Q = 1
 *    NRPN) when the most recent transaction command (98-101, or 6/38/96/97
 *    with a parameter selected) is an MSB; otherwise E = 1 when a non-null
 *    parameter is selected (transaction in progress), else 0. U/W/Z
 *    computed by the codec. A-BUTTON counts up to 16383 and the receiver
 *    replays the whole count (bounded per journal, not per parameter).
 *  - Parameter selection (A.1 "parameter system transaction"): a lone MSB
 *    selects (MSB, 0) (type 3 variant), a lone LSB takes the MSB of the most
 *    recent 99 or 101 (type 2 variant, one register for both kinds, as the
 *    single PENDING/Q field has it). So the whole selection state is what
 *    Chapter M codes (P/PENDING, E and the last log). A model with a
 *    register pair per kind keeps state no journal carries (the
 *    "param-divergence" fuzz case). The receiver sends whole pairs, so a
 *    device keeping register pairs ends on the same parameter; it re-sends
 *    a pair the model already has when the model assumed its LSB.
 *  - Reset All Controllers (121, RP-015 in midi_state.c): Chapters W, T and
 *    A code only C-active commands (after the last 121: A.5, A.8, A.9);
 *    Chapter C omits logs of the controllers 121 resets (1, 11, 64-67) when
 *    their last command precedes it (A.3.1 MAY), since the replayed 121
 *    restores them, and lists the 121 first among the commands of its
 *    packet; Chapter M keeps its logs (RP-015 keeps parameter values), with
 *    X = 1 on ENTRY-MSB / ENTRY-LSB / A-BUTTON older than the last 121 and
 *    C-BUTTON (the presses after it) when it differs from A-BUTTON and
 *    A-BUTTON's X = 0 (A.4.2.1); after a 121 P = 0 and E = 0 (the model's
 *    selection is null). Chapter P X = 1 when a 121 lies between the bank
 *    select MSB and the program change (A.2).
 *  - Chapter P (A.2): B = 1 only when a Bank Select MSB (0) preceded the
 *    program change (an LSB alone does not); BANK-LSB is the 32 sent
 *    between that 0 and the program change, else 0 (midi_state.h).
 *  - Chapter A X bit (A.9): 1 when the logged poly pressure precedes a
 *    120/123-127; tracked per note.
 *  - Chapter T (A.8): only N-active and C-active pressure; 120/123-127 end
 *    it (the model clears channel pressure there).
 *  - Chapter E (A.7): V = 1 release velocity for a NoteOff with velocity !=
 *    64 (NoteOn velocity 0 counts as 64). V = 0 reference counts (A.7.1:
 *    NoteOn +1, NoteOff -1 not below 0, reset by 120/123-127, coded as 127
 *    from 127 up) when the note is on with a count > 1 or off with a count
 *    > 0 (A.7.2); at most 128 logs, V = 1 logs dropped first. The receiver
 *    plays NoteOns / NoteOffs until its count and on/off state match.
 *  - Chapter D (B.1): Reset/Tune COUNT mod 128, undefined commands' COUNT 8
 *    bits mod 256; LENGTH includes the field header.
 *  - Chapter Q (B.3): TOP:CLOCK = 19-bit position in clocks; D = 0 with the
 *    position of the next clock to play; C = 0 for "start of song after
 *    Start", C = 1 otherwise.
 *  - Chapter F (B.4): COMPLETE = the last complete frame: a quarter frame
 *    run (Q = 1; forward 0..7 offset by +2 frames when D = 0, reverse 7..0
 *    as sent when D = 1) or a Full Frame (Q = 0, HR MN SC FR); PARTIAL (P =
 *    1, POINT = last type) for a run in progress (forward 0..POINT < 7,
 *    reverse 7..POINT > 0); without it POINT = 7 (D = 0) or 0 (D = 1). D is
 *    the direction of the run, 0 after a Full Frame or an illegal sequence.
 *    Quarter frames outside such a run (out of order, registers outside
 *    the run) have no coding (B.4.1: "illegal command sequence"), so
 *    rmp_ms_compare compares only COMPLETE and the partial run. A receiver
 *    still in a run when the journal has no PARTIAL leaves it (in its
 *    model).
 *  - Chapter X (B.5): a list of command logs with no chapter header, oldest
 *    first; the first log's S bit is the chapter's, its own ("phantom") S
 *    is the OR of the first two logs' S bits. Log layout |S|T|C|F|D|L|STA|
 *    [TCOUNT] [COUNT] [FIRST 1-4 octets] [DATA, MSB set on the last octet].
 *    We send the recency tool (L = 0) for every SysEx type: the most recent
 *    instance of each type in the history, with COUNT (SysEx commands in
 *    the session history after it, mod 256; B.5.3: if COUNT is used, the
 *    final log MUST have it, so every log has it), STA = 3, F = 0 and DATA
 *    = all data octets. Types (B.5.2 exceptions): identical data octets for
 *    every SysEx; same parameter for GM mode (F0 7E cc 09 xx F7) and DLS on/
 *    off (F0 7E cc 0A xx F7), Device Control 04 01..04 (master volume,
 *    balance, tunings), per device ID. An MTC Full Frame is coded in
 *    Chapter F (COMPLETE with Q = 0), not here (B.4, B.5.2), but counts for
 *    COUNT. GM System On/Off/Disable, GM2 On, DLS On/Off and System Reset
 *    are Reset State commands (A.1): everything before them (SysEx and
 *    every other chapter's commands) becomes inactive and is no longer
 *    coded. Size: the store holds RMP_EJ_X_MAX_LOGS logs of at most
 *    RMP_EJ_X_MAX_DATA data octets; a longer SysEx recorded whole, or one
 *    pushed out of a full store, moves the checkpoint past its packet (a
 *    receiver that lost it sees an uncovered loss), and the budget trimming
 *    drops the oldest logs like any other change. A SysEx sent in parts
 *    (rmp_ej_send_record_part) has one log of its own (list tool, L = 1):
 *    STA = 0 while unfinished, FIRST = its first data octet in the history,
 *    DATA from there; the sender stalls while RMP_EJ_X_PART_MAX octets are
 *    unconfirmed (rmp_ej_send_part_room). The receiver replays, in list
 *    order, the logs whose COUNT is ahead of its own SysEx count, then takes
 *    the final log's COUNT over; the parts of a SysEx in parts go to the
 *    caller's reassembly.
 *  - Reset State commands reset every channel's state in the model (System
 *    Reset also the sequencer, song select and MTC; the GM/DLS SysEx only
 *    the synthesizer's channels, see midi_state.c), and the tags of what
 *    came before: no chapter codes it.
 *  - Within a packet, Chapter C logs follow the order of the commands (the
 *    index of a controller's last command in its packet, cord[]), so an
 *    LSB sent before its MSB and a controller set after a 121 keep their
 *    place; Chapter M keeps the order of the transactions (the model's
 *    least-recently-used order of parameters, which is also the one
 *    forgotten first beyond RMP_MS_MAX_PARAMS: the checkpoint then moves
 *    past its last change).
 *  - Chapter N's Y bit: from elapsed time with rmp_ej_send_encode_at (the
 *    times of the last RMP_EJ_PTIMES packets), from a packet count with
 *    rmp_ej_send_encode.
 *  - The empty journal (3 octets) when nothing is in the history.
 *
 * Still simplified / not done:
 *  - Chapter X: no cancelled SysEx (STA = 1), no TCOUNT. The receiver's
 *    SysEx count lags after SysEx lost before a Reset State command
 *    (inactive, so not coded) until the next Chapter X; meanwhile it may
 *    replay a logged SysEx it already had.
 *  - Chapter D undefined System Common logs always use COUNT with DSZ = 0
 *    (VALUE for commands with data octets is not sent).
 *  - 121: with the pedal logs before a 121 omitted, a receiver that lost a
 *    pedal press and the 121 after it counts 2 toggles fewer than the
 *    sender; a later toggle log then makes it re-pedal (off, on) once,
 *    ending in the right state. 121 with a non-zero value (DLS 2 semantics,
 *    A.3.3) is treated like RP-015's.
 *  - Chapters N, E and A list the logs of one packet in note order.
 *  - A change recorded for a packet more than RMP_EJ_MAX_HISTORY packets
 *    behind the newest one gets no tag (it can never be journalled).
 */
#include "journal.h"

#include <stdint.h>
#include <string.h>

void rmp_ej_send_init(rmp_ej_sender *s, const rmp_ej_send_config *cfg) {
  memset(s, 0, sizeof *s);
  if (cfg) s->cfg = *cfg;
  s->y_ms = RMP_EJ_Y_MS;
  rmp_ms_init_alloc(&s->st, s->cfg.alloc);
  s->cfg.alloc = NULL; /* copied into st.al */
}

void rmp_ej_send_set_y_ms(rmp_ej_sender *s, uint16_t ms) { s->y_ms = ms; }

static uint32_t ext_of(const rmp_ej_sender *s, uint16_t seq) {
  int16_t d = (int16_t)(uint16_t)(seq - (uint16_t)s->last);
  return s->last + (uint32_t)(int32_t)d;
}

/* ---- last-change tags (journal.h) ------------------------------------------ */
static rmp_ej_tag tag_of(uint32_t e) { return (rmp_ej_tag)(0x8000u | (e & 0x7FFFu)); }
/* Packets between the tag's packet and ref (exact below 2^15). */
static uint32_t tag_age(uint32_t ref, rmp_ej_tag t) { return (ref - t) & 0x7FFFu; }

/* Clear the tag if, once the highest seqnum moves from old to now, it is
 * older than any history can reach. */
static void age_out(rmp_ej_tag *t, uint32_t old, uint32_t now) {
  if (*t && tag_age(old, *t) + (now - old) > RMP_EJ_MAX_HISTORY) *t = 0;
}

/* ---- tables made on first use (journal.h, issue #20) ------------------------ */
static void *mem(rmp_ej_sender *s, size_t n) { return rmp_ms_mem(&s->st, n); }
#define UNMEM(s, p) do { rmp_ms_unmem(&(s)->st, (p), sizeof *(p)); (p) = NULL; } while (0)

static void chan_drop(rmp_ej_sender *s, int ch) {
  rmp_ej_send_chan *sc = s->seq[ch];
  if (!sc) return;
  UNMEM(s, sc->notes);
  UNMEM(s, sc->ctls);
  UNMEM(s, sc->polys);
  UNMEM(s, s->seq[ch]);
}

static void set_add(rmp_ej_set128 *k, uint8_t n) { k->w[n >> 5] |= 1u << (n & 31); }
static void set_del(rmp_ej_set128 *k, uint8_t n) { k->w[n >> 5] &= ~(1u << (n & 31)); }

/* The newest of two tags (0 = none). */
static rmp_ej_tag newer(const rmp_ej_sender *s, rmp_ej_tag a, rmp_ej_tag b) {
  if (!a) return b;
  if (!b) return a;
  return tag_age(s->last, b) <= tag_age(s->last, a) ? b : a;
}

/* The tag of number n in a chapter table: its set and dirty mark follow. */
#define PUT(s, tb, n, t) do { (tb)->tag[n] = (t); \
    if (t) { set_add(&(tb)->set, (n)); (tb)->newest = newer((s), (tb)->newest, (t)); } \
    else set_del(&(tb)->set, (n)); } while (0)

/* The numbers of a set, in order: for (int n = -1; (n = set_next(k, n)) >= 0;) */
static int set_next(const rmp_ej_set128 *k, int n) {
  n++;
  while (n < 128) {
    uint32_t w = k->w[n >> 5] >> (n & 31);
    if (w) return n + __builtin_ctz(w);
    n = (n | 31) + 1;
  }
  return -1;
}

/* Memory ran out for channel ch's state: the journal stops coding it (its
 * tables go, the model forgets it, midi_state.h "broken") until a Reset
 * State command, and the checkpoint moves past packet t, so that a
 * receiver that lost it sees an uncovered loss (RFC 6295 4: a sender may
 * move its checkpoint forward at any time) instead of a silent gap. */
static void floor_at(rmp_ej_sender *s, rmp_ej_tag t);
static void chan_broken(rmp_ej_sender *s, int ch, rmp_ej_tag t) {
  s->st.broken |= (uint16_t)(1u << ch);
  chan_drop(s, ch);
  UNMEM(s, s->pm[ch]);
  rmp_ms_chan_drop(&s->st, ch);
  floor_at(s, t);
}

/* Table *pp of channel ch, made on first use (NULL: memory ran out, the
 * channel is then broken). */
static void *table(rmp_ej_sender *s, int ch, void **pp, size_t n, rmp_ej_tag t) {
  if (*pp) return *pp;
  void *p = mem(s, n);
  if (!p) {
    chan_broken(s, ch, t); /* frees pp's owner: not read after */
    return NULL;
  }
  return *pp = p;
}
#define TABLE(s, ch, field, t) table((s), (ch), (void **)&(field), sizeof *(field), (t))

void rmp_ej_send_free(rmp_ej_sender *s) {
  for (int ch = 0; ch < 16; ch++) {
    chan_drop(s, ch);
    UNMEM(s, s->pm[ch]);
  }
  for (int i = 0; i < RMP_EJ_X_MAX_LOGS; i++) UNMEM(s, s->x[i]);
  UNMEM(s, s->part);
  UNMEM(s, s->pt);
  rmp_ms_free(&s->st);
}

size_t rmp_ej_send_mem(const rmp_ej_sender *s) {
  size_t n = sizeof *s;
  for (int ch = 0; ch < 16; ch++) {
    const rmp_ej_send_chan *sc = s->seq[ch];
    const rmp_ms_channel *c = s->st.ch[ch];
    if (c) n += sizeof *c + (c->pp ? sizeof *c->pp : 0);
    if (s->pm[ch]) n += sizeof *s->pm[ch];
    if (!sc) continue;
    n += sizeof *sc;
    if (sc->notes) n += sizeof *sc->notes;
    if (sc->ctls) n += sizeof *sc->ctls;
    if (sc->polys) n += sizeof *sc->polys;
  }
  for (int i = 0; i < RMP_EJ_X_MAX_LOGS; i++)
    if (s->x[i]) n += sizeof *s->x[i];
  if (s->part) n += sizeof *s->part;
  if (s->pt) n += sizeof *s->pt;
  return n;
}

static void sweep(rmp_ej_sender *s, uint32_t now) {
  uint32_t o = s->last;
  for (int ch = 0; ch < 16; ch++) {
    if (s->pm[ch]) {
      for (int i = 0; i < RMP_MS_MAX_PARAMS; i++) age_out(&s->pm[ch]->param[i], o, now);
      age_out(&s->pm[ch]->newest, o, now);
    }
    rmp_ej_send_chan *sc = s->seq[ch];
    if (!sc) continue;
#define SWEEP_TABLE(tb) do { if (tb) { \
      for (int n = -1; (n = set_next(&(tb)->set, n)) >= 0;) { \
        age_out(&(tb)->tag[n], o, now); \
        if (!(tb)->tag[n]) set_del(&(tb)->set, (uint8_t)n); } \
      age_out(&(tb)->newest, o, now); } } while (0)
    SWEEP_TABLE(sc->notes);
    SWEEP_TABLE(sc->ctls);
    SWEEP_TABLE(sc->polys);
#undef SWEEP_TABLE
    age_out(&sc->prog, o, now);
    age_out(&sc->bend, o, now);
    age_out(&sc->cpres, o, now);
    age_out(&sc->any, o, now);
    age_out(&sc->noteoff, o, now);
    age_out(&sc->psel, o, now);
  }
  rmp_ej_tag *sys[] = { &s->q_seq, &s->f_seq, &s->song_seq, &s->tune_seq, &s->reset_seq, &s->sense_seq,
                        &s->undef_seq[0], &s->undef_seq[1], &s->undef_seq[2], &s->undef_seq[3],
                        &s->sys_any, &s->floor };
  for (size_t i = 0; i < sizeof sys / sizeof sys[0]; i++) age_out(sys[i], o, now);
  for (int i = 0; i < RMP_EJ_X_MAX_LOGS; i++)
    if (s->x[i]) age_out(&s->x[i]->seq, o, now);
  for (int i = 0; s->part && i < s->part->nseg; i++) age_out(&s->part->seg_t[i], o, now);
}

static uint32_t ext_seq(rmp_ej_sender *s, uint16_t seq) {
  if (!s->have_seq) {
    s->have_seq = 1;
    s->last = 0x10000u + seq;
    s->checkpoint = s->last;
    return s->last;
  }
  uint32_t e = ext_of(s, seq);
  if ((int32_t)(e - s->last) > 0) {
    /* at least once every RMP_EJ_SWEEP packets, and on any jump past a
     * multiple of it */
    if ((e ^ s->last) >= RMP_EJ_SWEEP) sweep(s, e);
    s->last = e;
  }
  return e;
}

/* The tag of a change in packet e. A packet more than a history behind the
 * newest one can never be journalled (and its tag could outlive a sweep):
 * no tag. */
static rmp_ej_tag change_tag(const rmp_ej_sender *s, uint32_t e) {
  return s->last - e > RMP_EJ_MAX_HISTORY ? 0 : tag_of(e);
}

/* The change was before the checkpoint (or never happened). */
static int before_cp(const rmp_ej_sender *s, rmp_ej_tag t) {
  return !t || (int32_t)tag_age(s->last, t) > (int32_t)(s->last - s->checkpoint);
}

/* Chapter M X bits of a parameter slot (rmp_ej_send_params.px). */
#define PX_MSB 1
#define PX_LSB 2
#define PX_BTN 4

/* ---- Chapter X store (B.5.2) -------------------------------------------------- */
/* SysEx types. Two exceptions to "every command has its own type" (B.5.2):
 *  - identical data octets: same type (applied to every SysEx, class 0);
 *  - same parameter, for these Universal SysEx (device ID included):
 *    GM mode F0 7E cc 09 00..03 F7, DLS F0 7E cc 0A 01..02 F7 (the Reset
 *    State commands, A.1; another sub-ID under 09 or 0A is no GM/DLS mode
 *    command, and only identical octets are its type), Device Control
 *    F0 7F cc 04 01..04 ... F7 (master volume, balance, fine and coarse
 *    tuning), MTC Full Frame F0 7F cc 01 01 hr mn sc fr F7. */
enum { XC_OCTETS = 0, XC_GM = 1, XC_DLS = 2, XC_DEVCTL = 3, XC_FULLFRAME = 4 };

/* msg: a whole SysEx F0 ... F7. Which commands are Reset State commands or
 * Full Frames is midi_state.c's decision. */
static uint8_t x_class(const uint8_t *msg, size_t len) {
  if (rmp_ms_is_reset_state(msg, len)) return msg[3] == 0x09 ? XC_GM : XC_DLS;
  if (rmp_ms_is_full_frame(msg, len)) return XC_FULLFRAME;
  if (len >= 6 && msg[1] == 0x7F && msg[3] == 0x04 && msg[4] >= 1 && msg[4] <= 4) return XC_DEVCTL;
  return XC_OCTETS;
}

static int x_same_type(const rmp_ej_x_entry *x, uint8_t cls, const uint8_t *d, size_t n) {
  if (!x || !x->seq || x->cls != cls) return 0;
  if (cls == XC_OCTETS) return x->len == n && memcmp(x->data, d, n) == 0;
  return x->data[1] == d[1] && (cls != XC_DEVCTL || x->data[3] == d[3]);
}

/* A complete SysEx F0 <data 0-127...> F7. */
static int sysex_ok(const uint8_t *msg, size_t len) {
  if (len < 2 || msg[0] != 0xF0 || msg[len - 1] != 0xF7) return 0;
  for (size_t i = 1; i + 1 < len; i++)
    if (msg[i] & 0x80) return 0;
  return 1;
}

static void x_clear(rmp_ej_sender *s) {
  for (int i = 0; i < RMP_EJ_X_MAX_LOGS; i++) UNMEM(s, s->x[i]);
  UNMEM(s, s->part);
}

/* The newest packet whose change the journal can no longer code: the
 * checkpoint stays after it. */
static void floor_at(rmp_ej_sender *s, rmp_ej_tag t) {
  if (t && (!s->floor || tag_age(s->last, t) < tag_age(s->last, s->floor))) s->floor = t;
}

/* COUNT is modulo 256 (B.5.3): a receiver reads a log whose COUNT is up to
 * 127 ahead of its own count as one it lacks, so a log 128 SysEx old would
 * look new again and be played twice (found by the round-trip fuzzer: a
 * finished SysEx in parts kept 131 SysEx on while nothing confirmed it).
 * After each SysEx, a log that old is no longer coded and the checkpoint
 * moves past it. A SysEx in parts still being sent is not: the stream sends
 * nothing else meanwhile. */
static void x_age(rmp_ej_sender *s) {
  for (int i = 0; i < RMP_EJ_X_MAX_LOGS; i++)
    if (s->x[i] && s->x[i]->seq && (uint8_t)(s->x_count - s->x[i]->count) >= 128) {
      floor_at(s, s->x[i]->seq);
      UNMEM(s, s->x[i]);
    }
  rmp_ej_x_part *p = s->part;
  if (p && p->state == 2 && (uint8_t)(s->x_count - p->count) >= 128) {
    if (p->nseg) floor_at(s, p->seg_t[p->nseg - 1]);
    UNMEM(s, s->part);
  }
}

static void x_record(rmp_ej_sender *s, rmp_ej_tag t, const uint8_t *msg, size_t len) {
  const uint8_t *d = msg + 1;
  size_t n = len - 2;
  s->sys_any = t;
  uint8_t cls = x_class(msg, len);
  /* an MTC Full Frame is coded in Chapter F, not here (B.4, B.5.2), and
   * not counted (COUNT, journal.h) */
  if (cls == XC_FULLFRAME) return;
  s->x_count++;
  x_age(s);
  s->x_ord++;
  /* a Reset State command has cleared the store before (reset_state):
   * earlier SysEx are inactive (A.1) */
  rmp_ej_x_entry *slot = NULL;
  for (int i = 0; i < RMP_EJ_X_MAX_LOGS && !slot; i++)
    if (x_same_type(s->x[i], cls, d, n)) slot = s->x[i];
  if (n > RMP_EJ_X_MAX_DATA) {
    /* not loggable: keep the checkpoint after it (and drop the older
     * instance of its type, which the recency tool no longer codes) */
    if (slot) slot->seq = 0;
    floor_at(s, t);
    return;
  }
  for (int i = 0; i < RMP_EJ_X_MAX_LOGS && !slot; i++)
    if (s->x[i] && before_cp(s, s->x[i]->seq)) slot = s->x[i];
  for (int i = 0; i < RMP_EJ_X_MAX_LOGS && !slot; i++)
    if (!s->x[i]) {
      /* an entry made for it; without memory it cannot be logged: the
       * checkpoint moves past it, as for one too long */
      if (!(slot = s->x[i] = mem(s, sizeof *slot))) {
        floor_at(s, t);
        return;
      }
    }
  if (!slot) {
    /* store full: the oldest entry goes, and the checkpoint past it */
    slot = s->x[0];
    for (int i = 1; i < RMP_EJ_X_MAX_LOGS; i++)
      if ((int32_t)(s->x[i]->ord - slot->ord) < 0) slot = s->x[i];
    floor_at(s, slot->seq);
  }
  slot->seq = t;
  slot->ord = s->x_ord;
  slot->count = s->x_count;
  slot->cls = cls;
  slot->len = (uint16_t)n;
  memcpy(slot->data, d, n);
}

/* 120 and 123-127 on a channel: earlier note commands and channel pressure
 * stop being N-active (A.1):
 * the notes that sound (or are referenced) change in packet t, so that
 * Chapter N logs them off; poly pressure logs get X = 1 (A.9). Before the
 * model applies the command. Returns whether a note was silenced. */
static int silence(rmp_ej_sender *s, int ch, const rmp_ms_channel *c, rmp_ej_tag t) {
  rmp_ej_send_chan *sc = s->seq[ch];
  int silenced = 0;
  for (int n = 0; n < 128; n++)
    if (c->note_vel[n] || c->note_ref[n]) {
      if (!TABLE(s, ch, sc->notes, t)) return 0;
      PUT(s, sc->notes, n, t);
      silenced = 1;
    }
  if (silenced) sc->noteoff = t;
  sc->cpres = 0;
  rmp_ej_send_polys *a = sc->polys;
  for (int n = -1; a && (n = set_next(&a->set, n)) >= 0;) a->polyx[n >> 3] |= (uint8_t)(0x80 >> (n & 7));
  return silenced;
}

/* A Reset State command (A.1): every command before it is inactive, and
 * no chapter codes it any more (a receiver that lost the reset replays it,
 * from Chapter D or X, and with it the power-up state). On every channel;
 * System Reset also ends the sequencer, song select, time code and the
 * other system commands (midi_state.c). Chapter X: earlier SysEx. */
static void reset_state(rmp_ej_sender *s, int system) {
  for (int ch = 0; ch < 16; ch++) {
    chan_drop(s, ch);
    UNMEM(s, s->pm[ch]);
  }
  s->rst_bank = 0;
  x_clear(s);
  if (!system) return;
  s->x_count = 0; /* COUNT starts again (journal.h) */
  s->q_seq = s->f_seq = s->song_seq = s->tune_seq = s->sense_seq = 0;
  memset(s->undef_seq, 0, sizeof s->undef_seq);
}

void rmp_ej_send_record(rmp_ej_sender *s, uint16_t seq, const uint8_t *msg, size_t len) {
  if (!msg || len < 1 || !(msg[0] & 0x80)) return;
  uint32_t e = ext_seq(s, seq);
  rmp_ej_tag t = change_tag(s, e);
  /* the index of the command in its packet (command order within a
   * packet, for Chapter C) */
  if (e != s->pkt_ext) { s->pkt_ext = e; s->pkt_cmds = 0; }
  uint8_t ci = s->pkt_cmds;
  if (s->pkt_cmds < 255) s->pkt_cmds++;
  uint8_t st = msg[0];
  if (st < 0xF0) {
    int ch = st & 15;
    uint8_t kind = st & 0xF0;
    size_t need = (kind == 0xC0 || kind == 0xD0) ? 2 : 3;
    if (len < need) return;
    /* the channel's model and journal state, made on its first message */
    rmp_ms_channel *c = rmp_ms_chan_w(&s->st, ch);
    if (!c) { /* broken (journal.h): not coded */
      floor_at(s, t);
      return;
    }
    rmp_ej_send_chan *sc = TABLE(s, ch, s->seq[ch], t);
    if (!sc) return;
    uint8_t d1 = msg[1] & 127;
    sc->any = newer(s, sc->any, t);
    switch (kind) {
    case 0x80:
    case 0x90:
      if (!TABLE(s, ch, sc->notes, t)) return;
      PUT(s, sc->notes, d1, t);
      if (kind == 0x80 || !(msg[2] & 127)) sc->noteoff = t;
      break;
    case 0xA0:
      if (!TABLE(s, ch, sc->polys, t)) return;
      PUT(s, sc->polys, d1, t);
      sc->polys->polyx[d1 >> 3] &= (uint8_t)~(0x80 >> (d1 & 7));
      break;
    case 0xB0: {
      int cls = rmp_ms_ctl_class(d1);
      int nrpn;
      uint8_t pm, pl;
      if (cls == RMP_MS_CTL_PARAM && !rmp_ms_selected(c, &nrpn, &pm, &pl)) {
        /* outside a transaction: a general-purpose controller, coded in
         * Chapter C (A.3.4) */
        if (!TABLE(s, ch, sc->ctls, t)) return;
        PUT(s, sc->ctls, d1, t);
        sc->ctls->cord[d1] = ci;
        break;
      }
      if (cls == RMP_MS_CTL_PARAM || cls == RMP_MS_CTL_SELECT) {
        rmp_ej_send_params *sp = TABLE(s, ch, s->pm[ch], t);
        if (!sp) return;
        /* the model may forget its least recently used parameter to make
         * room for a new one: the journal can no longer code that one, so
         * the checkpoint moves past its last change (as for a SysEx that
         * does not fit) */
        rmp_ms_params *pp = c->pp;
        uint8_t victim = pp && pp->nporder == RMP_MS_MAX_PARAMS ? pp->porder[0] : RMP_MS_MAX_PARAMS;
        rmp_ms_param was = victim < RMP_MS_MAX_PARAMS ? pp->param[victim] : (rmp_ms_param){ 0 };
        rmp_ms_apply(&s->st, msg, len);
        if (s->st.broken >> ch & 1) { /* no memory for the model's parameter table */
          chan_broken(s, ch, t);
          return;
        }
        if (victim < RMP_MS_MAX_PARAMS) {
          const rmp_ms_param *now = &pp->param[victim];
          if (!now->used || now->nrpn != was.nrpn || now->pmsb != was.pmsb || now->plsb != was.plsb) {
            rmp_ej_tag old = sp->param[victim];
            floor_at(s, old);
            sp->param[victim] = 0;
            sp->px[victim] = 0;
            sp->cbtn[victim] = 0;
          }
        }
        if (cls == RMP_MS_CTL_SELECT) sc->psel = t;
        if ((cls == RMP_MS_CTL_PARAM || d1 == 98 || d1 == 100) && rmp_ms_selected(c, &nrpn, &pm, &pl)) {
          rmp_ms_param *p = rmp_ms_param_find(c, nrpn, pm, pl, 0);
          if (p) {
            uint8_t i = (uint8_t)(p - c->pp->param);
            sp->param[i] = t;
            sp->newest = newer(s, sp->newest, t);
            /* what the command makes recent again (the model resets the
             * LSB and the presses on 6, the presses on 38) */
            if (d1 == 6) { sp->px[i] = 0; sp->cbtn[i] = 0; }
            else if (d1 == 38) { sp->px[i] &= (uint8_t)~(PX_LSB | PX_BTN); sp->cbtn[i] = 0; }
            else if (d1 == 96 || d1 == 97) {
              sp->px[i] &= (uint8_t)~PX_BTN;
              if (d1 == 96 && sp->cbtn[i] < 16383) sp->cbtn[i]++;
              if (d1 == 97 && sp->cbtn[i] > -16383) sp->cbtn[i]--;
            }
          }
        }
        return;
      }
      if (!TABLE(s, ch, sc->ctls, t)) return;
      PUT(s, sc->ctls, d1, t);
      sc->ctls->cord[d1] = ci;
      if (d1 == 0) s->rst_bank &= (uint16_t)~(1u << ch);
      if (d1 == 121) {
        /* Commands before a Reset All Controllers are no longer C-active:
         * Chapters W, T and A code only later ones (A.5, A.8, A.9), and the
         * controllers RP-015 resets need no log either (A.3.1 MAY): the
         * replayed 121 restores all of them. */
        static const uint8_t reset[] = { 1, 11, 64, 65, 66, 67 };
        for (size_t k = 0; k < sizeof reset; k++) PUT(s, sc->ctls, reset[k], 0);
        sc->bend = 0;
        sc->cpres = 0;
        UNMEM(s, sc->polys);
        s->rst_bank |= (uint16_t)(1u << ch);
        /* parameter values stay (RP-015), but what precedes the 121 gets
         * X = 1 and C-BUTTON counts from here (A.4.2.1) */
        rmp_ej_send_params *sp = s->pm[ch];
        for (int i = 0; sp && c->pp && i < RMP_MS_MAX_PARAMS; i++) {
          const rmp_ms_param *p = &c->pp->param[i];
          sp->px[i] = (uint8_t)((p->has_msb ? PX_MSB : 0) | (p->has_lsb ? PX_LSB : 0) | (p->btn ? PX_BTN : 0));
          sp->cbtn[i] = 0;
        }
      }
      if (d1 == 120 || d1 >= 123) {
        (void)silence(s, ch, c, t);
        if (!s->seq[ch]) return; /* no memory for the notes: broken */
      }
      break;
    }
    case 0xC0: sc->prog = t; sc->progx = (uint8_t)(s->rst_bank >> ch & 1); break;
    case 0xD0: sc->cpres = t; break;
    case 0xE0: sc->bend = t; break;
    }
  } else {
    switch (st) {
    case 0xF1: s->f_seq = t; break;
    case 0xF2: case 0xF8: case 0xFA: case 0xFB: case 0xFC: s->q_seq = t; break;
    case 0xF3: s->song_seq = t; break;
    case 0xF4: s->undef_seq[0] = t; break;
    case 0xF5: s->undef_seq[1] = t; break;
    case 0xF9: s->undef_seq[2] = t; break;
    case 0xFD: s->undef_seq[3] = t; break;
    case 0xF6: s->tune_seq = t; break;
    case 0xFE: s->sense_seq = t; break;
    case 0xFF: reset_state(s, 1); s->reset_seq = t; break; /* a Reset State command (A.1) */
    case 0xF0:
      if (!sysex_ok(msg, len)) return;
      /* GM/GM2/DLS on or off: a Reset State command, logged in Chapter X
       * (a receiver replays it, A.1) */
      if (rmp_ms_is_reset_state(msg, len)) reset_state(s, 0);
      x_record(s, t, msg, len);
      if (rmp_ms_is_full_frame(msg, len)) s->f_seq = t; /* Chapter F, Q = 0 */
      rmp_ms_apply(&s->st, msg, len);
      return;
    default: return;
    }
    s->sys_any = t;
  }
  rmp_ms_apply(&s->st, msg, len);
}

/* ---- a SysEx in parts (rmp_ej_x_part) ------------------------------------ */
/* Forget the parts before the checkpoint (confirmed: no journal codes
 * them), and a finished SysEx once none is left. */
static void part_prune(rmp_ej_sender *s) {
  rmp_ej_x_part *p = s->part;
  if (!p) return;
  int k = 0;
  while (k < p->nseg && before_cp(s, p->seg_t[k])) k++;
  if (k) {
    uint32_t nb = k < p->nseg ? p->seg_off[k] : p->end;
    memmove(p->data, p->data + (nb - p->base), p->end - nb);
    p->base = nb;
    p->nseg = (uint8_t)(p->nseg - k);
    memmove(p->seg_off, p->seg_off + k, p->nseg * sizeof p->seg_off[0]);
    memmove(p->seg_t, p->seg_t + k, p->nseg * sizeof p->seg_t[0]);
  }
  if (p->state == 2 && !p->nseg) p->state = 0;
}

size_t rmp_ej_send_part_room(rmp_ej_sender *s) {
  part_prune(s);
  if (!s->part || s->part->state == 0) return RMP_EJ_X_PART_MAX;
  if (s->part->state == 2) return 0; /* the last one is not confirmed yet: wait */
  return RMP_EJ_X_PART_MAX - (s->part->end - s->part->base);
}

void rmp_ej_send_record_part(rmp_ej_sender *s, uint16_t seq, const uint8_t *data, size_t n, int first,
                             int end) {
  rmp_ej_tag t = change_tag(s, ext_seq(s, seq));
  rmp_ej_x_part *p = s->part;
  for (size_t i = 0; i < n; i++)
    if (data[i] & 0x80) return;
  if (!first && s->part_nomem) { /* its start could not be kept: neither can this */
    floor_at(s, t);
    return;
  }
  if (!first && (!p || p->state != 1)) return; /* no SysEx in parts is being sent */
  s->sys_any = t;
  if (first) {
    /* one SysEx in parts at a time in the journal: one still in the
     * history (the caller did not wait for rmp_ej_send_part_room) is no
     * longer coded, and the checkpoint moves past it */
    part_prune(s);
    if (p && p->state && p->nseg) floor_at(s, p->seg_t[p->nseg - 1]);
    /* a command enters the session history with its first part (B.5.3) */
    s->x_count++;
    x_age(s);
    p = s->part; /* x_age may have let it go */
    s->x_ord++;
    s->part_nomem = 0;
    if (!p && !(p = s->part = mem(s, sizeof *p))) {
      /* no memory to keep it: not coded, the checkpoint moves past it */
      s->part_nomem = !end;
      floor_at(s, t);
      return;
    }
    memset(p, 0, offsetof(rmp_ej_x_part, data));
    p->state = 1;
    p->count = s->x_count;
    p->ord = s->x_ord;
  }
  part_prune(s);
  /* room: the oldest parts go, and the checkpoint past them */
  while (p->nseg && (p->end - p->base + n > RMP_EJ_X_PART_MAX || p->nseg == RMP_EJ_X_PART_SEGS)) {
    floor_at(s, p->seg_t[0]);
    uint32_t nb = p->nseg > 1 ? p->seg_off[1] : p->end;
    memmove(p->data, p->data + (nb - p->base), p->end - nb);
    p->base = nb;
    p->nseg--;
    memmove(p->seg_off, p->seg_off + 1, p->nseg * sizeof p->seg_off[0]);
    memmove(p->seg_t, p->seg_t + 1, p->nseg * sizeof p->seg_t[0]);
  }
  if (n > RMP_EJ_X_PART_MAX) {
    /* a part no journal can hold: not coded, the checkpoint moves past it */
    floor_at(s, t);
    p->end += (uint32_t)n;
    p->base = p->end;
  } else {
    p->seg_off[p->nseg] = p->end;
    p->seg_t[p->nseg] = t;
    p->nseg++;
    memcpy(p->data + (p->end - p->base), data, n);
    p->end += (uint32_t)n;
  }
  if (end) p->state = 2;
  if (!p->nseg && p->state == 2) p->state = 0;
}

/* The checkpoint moved: the tables whose newest change it passed go (no
 * journal codes them again), and with them a channel's model when it is at
 * power-up (a later message makes it again, in that state). */
static void reclaim(rmp_ej_sender *s) {
  for (int ch = 0; ch < 16; ch++) {
    rmp_ej_send_chan *sc = s->seq[ch];
    if (!sc) continue;
    if (before_cp(s, sc->any)) {
      chan_drop(s, ch);
      const rmp_ms_channel *c = s->st.ch[ch];
      if (c && !s->pm[ch] && rmp_ms_chan_idle(c)) rmp_ms_chan_drop(&s->st, ch);
      continue;
    }
    if (sc->notes && before_cp(s, sc->notes->newest)) UNMEM(s, sc->notes);
    if (sc->ctls && before_cp(s, sc->ctls->newest)) UNMEM(s, sc->ctls);
    if (sc->polys && before_cp(s, sc->polys->newest)) UNMEM(s, sc->polys);
  }
  for (int i = 0; i < RMP_EJ_X_MAX_LOGS; i++)
    if (s->x[i] && before_cp(s, s->x[i]->seq)) UNMEM(s, s->x[i]);
  part_prune(s);
  if (s->part && !s->part->state) UNMEM(s, s->part);
}

void rmp_ej_send_ack(rmp_ej_sender *s, uint16_t seq) {
  if (!s->have_seq) return;
  uint32_t cp = ext_of(s, seq) + 1;
  if ((int32_t)(cp - s->checkpoint) > 0 && (int32_t)(cp - (s->last + 1)) <= 0) {
    s->checkpoint = cp;
    reclaim(s);
  }
}

uint16_t rmp_ej_send_checkpoint(const rmp_ej_sender *s) { return (uint16_t)s->checkpoint; }

/* ---- journal construction ------------------------------------------------------- */
/* The checkpoint history of packet cur: packets cp = cur - len .. cur - 1,
 * i.e. changes aged 1..len. */
typedef struct { uint32_t cp, cur, len; } win;

static int in_win(const win *w, rmp_ej_tag t) {
  uint32_t a = tag_age(w->cur, t);
  return t && a >= 1 && a <= w->len;
}
/* A change in the history or in packet cur itself (a quick test for "has
 * anything of this channel changed since the checkpoint"). */
static int since_cp(const win *w, rmp_ej_tag t) { return t && tag_age(w->cur, t) <= w->len; }
/* The change was in packet I-1: its structures get S = 0 (A.1). */
static int prev(const win *w, rmp_ej_tag t) { return t && tag_age(w->cur, t) == 1; }
static uint8_t s_bit(const win *w, rmp_ej_tag t) { return (uint8_t)!prev(w, t); }

/* The numbers of a chapter table whose tag is in the window, oldest
 * first (A.1 oldest-first rule). Changes in the same packet come in
 * command order when ord (the command's index in its packet) is given,
 * else in number order. Visits only the numbers with a tag (the table's
 * set), and drops from it those the checkpoint passed. Returns the count. */
static int oldest_first(const rmp_ej_sender *s, const win *w, rmp_ej_tag *key, rmp_ej_set128 *set,
                        const uint8_t *ord, uint8_t *order, int (*want)(uint8_t)) {
  uint32_t age[128];
  int k = 0;
  for (int n = -1; (n = set_next(set, n)) >= 0;) {
    if (!in_win(w, key[n])) {
      if (before_cp(s, key[n])) { key[n] = 0; set_del(set, (uint8_t)n); }
      continue;
    }
    if (want && !want((uint8_t)n)) continue;
    uint32_t a = age[n] = tag_age(w->cur, key[n]);
    int j = k++;
    while (j > 0 && (age[order[j - 1]] < a || (ord && age[order[j - 1]] == a && ord[order[j - 1]] > ord[n]))) {
      order[j] = order[j - 1];
      j--;
    }
    order[j] = (uint8_t)n;
  }
  return k;
}

/* 98-101 are always parameter selectors (A.3.4 SHOULD); 6, 38, 96 and 97
 * have a Chapter C tag only from their general-purpose uses. */
static int chapter_c_ctl(uint8_t n) { return rmp_ms_ctl_class(n) != RMP_MS_CTL_SELECT; }

static int build_chan(rmp_ej_sender *s, const win *w, int ch, rmp_ej_chan *cj) {
  const rmp_ej_send_chan *sc = s->seq[ch];
  const rmp_ms_channel *c = rmp_ms_chan(&s->st, ch);
  const rmp_ej_send_params *sp = s->pm[ch];
  uint8_t order[128];
  int anyprev = 0;
  cj->s = 1; cj->chan = (uint8_t)ch; cj->h = 0; cj->toc = 0;

  if (in_win(w, sc->prog)) {
    rmp_ej_chap_p *p = &cj->p;
    p->s = s_bit(w, sc->prog);
    p->program = c->program;
    p->b = c->prog_b; /* a Bank Select MSB before the program change (A.2) */
    p->bank_msb = c->prog_bank_msb;
    p->bank_lsb = c->prog_bank_lsb;
    p->x = (uint8_t)(c->prog_b && sc->progx); /* a 121 between bank MSB and program (A.2) */
    anyprev |= !p->s;
    cj->toc |= RMP_EJ_TOC_P;
  }

  /* Chapter C: controllers in the history, oldest first in command order
   * (A.3.3, A.1): a receiver replays the list in order, so an LSB sent
   * before its MSB, or a controller set after a 121, keeps its place.
   * Tools in the order count, value, toggle. */
  rmp_ej_send_ctls *ct = sc->ctls;
  if (ct && since_cp(w, ct->newest)) { /* the chapter's dirty mark */
    int k = oldest_first(s, w, ct->tag, &ct->set, ct->cord, order, chapter_c_ctl);
    rmp_ej_chap_c *cc = &cj->c;
    cc->count = 0;
    int cprev = 0;
    for (int i = 0; i < k; i++) {
      uint8_t n = order[i];
      uint8_t sb = s_bit(w, ct->tag[n]);
      int cls = rmp_ms_ctl_class(n);
      int nlogs = cls == RMP_MS_CTL_TOGGLE ? 2 : 1;
      if (cc->count + nlogs > RMP_EJ_MAX_CTL_LOGS) return RMP_EJ_ENOSPACE;
      if (cls == RMP_MS_CTL_TOGGLE) {
        cc->log[cc->count++] = (rmp_ej_ctl_log){ sb, n, RMP_EJ_TOOL_VALUE, c->cc[n] };
        cc->log[cc->count++] = (rmp_ej_ctl_log){ sb, n, RMP_EJ_TOOL_TOGGLE, rmp_ms_cc_count(c, n) };
      } else if (cls == RMP_MS_CTL_COUNT) {
        cc->log[cc->count++] = (rmp_ej_ctl_log){ sb, n, RMP_EJ_TOOL_COUNT, rmp_ms_cc_count(c, n) };
      } else {
        cc->log[cc->count++] = (rmp_ej_ctl_log){ sb, n, RMP_EJ_TOOL_VALUE, c->cc[n] };
      }
      cprev |= !sb;
    }
    cc->s = (uint8_t)!cprev;
    if (cc->count) { cj->toc |= RMP_EJ_TOC_C; anyprev |= cprev; }
  }

  /* Chapter M (A.4): one log per parameter touched in the history, in the
   * order of their last transaction; value tool (V = 1) with ENTRY-MSB,
   * ENTRY-LSB and A-BUTTON. P/PENDING for a lone parameter number MSB, E
   * for a transaction in progress. */
  if ((sp && since_cp(w, sp->newest)) || in_win(w, sc->psel)) { /* the chapter's dirty marks */
    rmp_ej_chap_m *m = &cj->m;
    memset(m, 0, offsetof(rmp_ej_chap_m, log));
    int mprev = prev(w, sc->psel);
    const rmp_ms_params *pp = sp && since_cp(w, sp->newest) ? c->pp : NULL;
    for (int k = 0; pp && k < pp->nporder; k++) {
      uint8_t i = pp->porder[k];
      const rmp_ms_param *p = &pp->param[i];
      if (!p->used || !in_win(w, sp->param[i])) continue;
      if (m->count >= RMP_EJ_MAX_PARAM_LOGS) return RMP_EJ_ENOSPACE;
      rmp_ej_param_log *l = &m->log[m->count++];
      memset(l, 0, sizeof *l);
      l->s = s_bit(w, sp->param[i]);
      l->q = p->nrpn;
      l->pnum_msb = p->pmsb;
      l->pnum_lsb = p->plsb;
      l->flags = RMP_EJ_M_V;
      uint8_t px = sp->px[i];
      if (p->has_msb) { l->flags |= RMP_EJ_M_J; l->entry_msb = (uint8_t)((px & PX_MSB ? 0x80 : 0) | (p->msb & 127)); }
      if (p->has_lsb) { l->flags |= RMP_EJ_M_K; l->entry_lsb = (uint8_t)((px & PX_LSB ? 0x80 : 0) | (p->lsb & 127)); }
      if (p->btn || p->buttons) {
        int b = p->buttons < 0 ? -p->buttons : p->buttons;
        l->flags |= RMP_EJ_M_L;
        l->a_button = (uint16_t)((p->buttons < 0 ? 0x8000 : 0) | (px & PX_BTN ? 0x4000 : 0) | (b & 0x3FFF));
        /* C-BUTTON: the presses after the last 121; omitted when they are
         * all before it (X = 1) or when it equals A-BUTTON (A.4.2.1) */
        int cb = sp->cbtn[i];
        if (!(px & PX_BTN) && cb != p->buttons) {
          l->flags |= RMP_EJ_M_M;
          l->c_button = (uint16_t)((cb < 0 ? 0x8000 : 0) | ((cb < 0 ? -cb : cb) & 0x3FFF));
        }
      }
      mprev |= !l->s;
    }
    if (m->count || in_win(w, sc->psel)) {
      int nrpn;
      uint8_t pm, pl;
      if (c->pending) {
        /* the most recent transaction command is an MSB: P = 1, E = 0 (A.4) */
        m->p = 1;
        m->pending_q = c->pending == 99;
        m->pending = c->sel_msb;
      } else {
        m->e = (uint8_t)rmp_ms_selected(c, &nrpn, &pm, &pl);
      }
      m->s = (uint8_t)!mprev;
      cj->toc |= RMP_EJ_TOC_M;
      anyprev |= mprev;
    }
  }

  if (in_win(w, sc->bend)) {
    cj->w = (rmp_ej_chap_w){ s_bit(w, sc->bend), (uint8_t)(c->bend & 127), 0, (uint8_t)((c->bend >> 7) & 127) };
    anyprev |= !cj->w.s;
    cj->toc |= RMP_EJ_TOC_W;
  }

  /* Chapters N and E: notes whose last command is in the history, oldest
   * first; B = 0 when packet I-1 holds a NoteOff for the channel (A.6.1). */
  rmp_ej_send_notes *nt = sc->notes;
  if (nt && since_cp(w, nt->newest)) { /* the chapters' dirty mark */
    rmp_ej_chap_n *nn = &cj->n;
    rmp_ej_chap_e *ee = &cj->e;
    int nprev = prev(w, sc->noteoff), eprev = 0;
    nn->b = (uint8_t)!nprev;
    nn->count = 0;
    memset(nn->offbits, 0, sizeof nn->offbits);
    ee->count = 0;
    int any_off = 0;
    int k = oldest_first(s, w, nt->tag, &nt->set, NULL, order, NULL);
    /* Chapter E (A.7.2): a V = 0 reference count log when the count is > 1
     * for a note that is on, > 0 for a note that is off; a V = 1 release
     * velocity log for a NoteOff with velocity != 64. At most 128 logs: V = 1
     * logs are dropped first (never V = 0 ones; there are at most 128). */
    int nref = 0;
    for (int i = 0; i < k; i++) {
      uint8_t n = order[i];
      if (c->note_ref[n] > (c->note_vel[n] ? 1 : 0)) nref++;
    }
    int vel_room = 128 - nref;
    for (int i = 0; i < k; i++) {
      uint8_t n = order[i];
      uint32_t age = tag_age(w->cur, nt->tag[n]); /* in the history: >= 1 */
      uint8_t sb = (uint8_t)(age != 1);
      if (c->note_vel[n]) {
        uint8_t y = (uint8_t)(age <= s->y_age); /* struck recently enough (encode) */
        nn->log[nn->count++] = (rmp_ej_note_log){ sb, n, y, c->note_vel[n] };
        nprev |= !sb;
        if (c->note_ref[n] > 1) {
          ee->log[ee->count++] = (rmp_ej_extra_log){ sb, n, 0, c->note_ref[n] };
          eprev |= !sb;
        }
      } else {
        nn->offbits[n >> 3] |= (uint8_t)(0x80 >> (n & 7));
        any_off = 1;
        if (c->note_ref[n] > 0) {
          ee->log[ee->count++] = (rmp_ej_extra_log){ sb, n, 0, c->note_ref[n] };
          eprev |= !sb;
        }
        if (c->off_vel[n] != 64 && vel_room > 0) {
          vel_room--;
          ee->log[ee->count++] = (rmp_ej_extra_log){ sb, n, 1, c->off_vel[n] };
          eprev |= !sb;
        }
      }
    }
    if (nn->count || any_off) { cj->toc |= RMP_EJ_TOC_N; anyprev |= nprev; }
    ee->s = (uint8_t)!eprev;
    if (ee->count) { cj->toc |= RMP_EJ_TOC_E; anyprev |= eprev; }
  }

  if (in_win(w, sc->cpres)) {
    cj->t = (rmp_ej_chap_t){ s_bit(w, sc->cpres), c->chan_pressure };
    anyprev |= !cj->t.s;
    cj->toc |= RMP_EJ_TOC_T;
  }

  rmp_ej_send_polys *pa = sc->polys;
  if (pa && since_cp(w, pa->newest)) { /* the chapter's dirty mark */
    rmp_ej_chap_a *a = &cj->a;
    a->count = 0;
    int aprev = 0;
    int k = oldest_first(s, w, pa->tag, &pa->set, NULL, order, NULL);
    for (int i = 0; i < k; i++) {
      uint8_t n = order[i];
      uint8_t sb = s_bit(w, pa->tag[n]);
      uint8_t x = (uint8_t)((pa->polyx[n >> 3] >> (7 - (n & 7))) & 1);
      a->log[a->count++] = (rmp_ej_poly_log){ sb, n, x, c->poly[n] };
      aprev |= !sb;
    }
    a->s = (uint8_t)!aprev;
    if (a->count) { cj->toc |= RMP_EJ_TOC_A; anyprev |= aprev; }
  }
  cj->s = (uint8_t)!anyprev;
  return cj->toc ? 1 : 0;
}

/* Chapter X (B.5): one log per stored SysEx in the history, oldest first;
 * recency tool (L = 0), COUNT on every log (so the final one has it, B.5.3),
 * STA = 3 finished, DATA = all data octets (F = 0). A SysEx in parts: one
 * log with the list tool (L = 1: a type of its own, B.5.2), STA = 0 while
 * unfinished, FIRST = its first data octet in the history (F = 0 when that
 * is the first), DATA from there. The first log
 * carries the chapter S bit: 0 if any log codes a command of packet I-1.
 * Returns the octets written to xbuf, 0 for none, or a negative error. */
#define PART_LOG RMP_EJ_X_MAX_LOGS
static int build_x(rmp_ej_sender *s, const win *w, uint8_t *xbuf, size_t cap, int *xprev) {
  uint8_t idx[RMP_EJ_X_MAX_LOGS + 1];
  int n = 0;
  static const rmp_ej_x_part none;
  const rmp_ej_x_part *p = s->part ? s->part : &none;
  int pk = 0; /* the first part in the history */
  while (pk < p->nseg && !in_win(w, p->seg_t[pk])) pk++;
  int part = p->state && pk < p->nseg;
  for (int i = 0; i <= RMP_EJ_X_MAX_LOGS; i++) {
    uint32_t ord;
    if (i == PART_LOG) {
      if (!part) continue;
      ord = p->ord;
    } else {
      if (!s->x[i] || !in_win(w, s->x[i]->seq)) continue;
      ord = s->x[i]->ord;
    }
    int j = n++;
    while (j > 0 && (int32_t)((idx[j - 1] == PART_LOG ? p->ord : s->x[idx[j - 1]]->ord) - ord) > 0) {
      idx[j] = idx[j - 1];
      j--;
    }
    idx[j] = (uint8_t)i;
  }
  *xprev = 0;
  for (int k = 0; k < n; k++)
    *xprev |= idx[k] == PART_LOG ? prev(w, p->seg_t[p->nseg - 1]) : prev(w, s->x[idx[k]]->seq);
  size_t o = 0;
  for (int k = 0; k < n; k++) {
    rmp_ej_x_log l;
    memset(&l, 0, sizeof l);
    l.c = 1;
    if (idx[k] == PART_LOG) {
      uint32_t first = p->seg_off[pk];
      l.s = s_bit(w, p->seg_t[p->nseg - 1]);
      l.count = p->count;
      l.sta = p->state == 2 ? 3 : 0;
      l.l = 1; /* the list tool (its own SysEx type): a receiver tells it from the recency logs */
      l.f = first > 0;
      l.first = first;
      l.data = p->data + (first - p->base);
      l.data_len = (uint16_t)(p->end - first);
      l.d = l.data_len > 0;
    } else {
      const rmp_ej_x_entry *x = s->x[idx[k]];
      l.s = s_bit(w, x->seq);
      l.count = x->count;
      l.d = (uint8_t)(x->len > 0);
      l.sta = 3;
      l.data = x->data;
      l.data_len = x->len;
    }
    if (k == 0) l.s = (uint8_t)!*xprev;
    int r = rmp_ej_x_log_encode(&l, xbuf + o, cap - o);
    if (r < 0) return r;
    o += (size_t)r;
  }
  return (int)o;
}

static int build_sys(rmp_ej_sender *s, const win *w, rmp_ej_sys *sj, uint8_t *xbuf, size_t xcap) {
  const rmp_midi_state *st = &s->st;
  memset(sj, 0, sizeof *sj);
  rmp_ej_chap_d *d = &sj->d;
  int dprev = 0, anyprev = 0;
  if (in_win(w, s->reset_seq)) { d->toc |= RMP_EJ_D_B; d->reset_s = s_bit(w, s->reset_seq); d->reset_count = st->reset_count & 127; dprev |= !d->reset_s; }
  if (in_win(w, s->tune_seq)) { d->toc |= RMP_EJ_D_G; d->tune_s = s_bit(w, s->tune_seq); d->tune_count = st->tune_count & 127; dprev |= !d->tune_s; }
  if (in_win(w, s->song_seq) && st->song_valid) { d->toc |= RMP_EJ_D_H; d->song_s = s_bit(w, s->song_seq); d->song = st->song; dprev |= !d->song_s; }
  rmp_ej_undef_field *uf[4] = { &d->j, &d->k, &d->y, &d->z };
  static const uint8_t ubit[4] = { RMP_EJ_D_J, RMP_EJ_D_K, RMP_EJ_D_Y, RMP_EJ_D_Z };
  for (int i = 0; i < 4; i++) {
    if (!in_win(w, s->undef_seq[i])) continue;
    d->toc |= ubit[i];
    uf[i]->s = s_bit(w, s->undef_seq[i]);
    uf[i]->c = 1;
    uf[i]->count = st->undef_count[i];
    dprev |= !uf[i]->s;
  }
  d->s = (uint8_t)!dprev;
  if (d->toc) { sj->toc |= RMP_EJ_SYS_D; anyprev |= dprev; }
  if (in_win(w, s->sense_seq)) {
    sj->v.s = s_bit(w, s->sense_seq);
    sj->v.count = st->sense_count & 127;
    sj->toc |= RMP_EJ_SYS_V;
    anyprev |= !sj->v.s;
  }
  if (in_win(w, s->q_seq)) {
    rmp_ej_chap_q *q = &sj->q;
    q->s = s_bit(w, s->q_seq);
    q->n = st->seq_running;
    q->d = 0; /* the coded position is the next one to play (B.3) */
    /* start of the song after Start (more recent than Continue): C = 0 */
    q->c = (uint8_t)!(st->seq_running && st->seq_pos == 0 && st->seq_started);
    q->clock = q->c ? st->seq_pos & 0x7FFFF : 0;
    sj->toc |= RMP_EJ_SYS_Q;
    anyprev |= !q->s;
  }
  if (in_win(w, s->f_seq) && st->mtc_valid) {
    rmp_ej_chap_f *f = &sj->f;
    f->s = s_bit(w, s->f_seq);
    /* D: the direction of the quarter frame run (B.4); after a Full Frame
     * or an illegal sequence it is indeterminate: 0 */
    f->d = (uint8_t)(st->mtc_run && st->mtc_rev);
    if (st->mtc_complete_valid) {
      f->c = 1;
      if (st->mtc_complete_ff) {
        f->q = 0; /* a Full Frame: HR MN SC FR */
        f->complete = st->mtc_complete;
      } else {
        /* quarter frames: 2 frames ahead when coded for forward motion; a
         * receiver reads the offset from D (a frame completed in the other
         * direction before the tape turned is coded as D reads it) */
        f->q = 1;
        f->complete = f->d ? st->mtc_complete : rmp_ms_mtc_offset(st->mtc_complete, 2);
      }
    }
    if (rmp_ms_mtc_partial(st)) {
      f->p = 1;
      f->point = st->mtc_point;
      f->partial = 0;
      for (int i = 0; i < 8; i++) {
        int in = f->d ? i >= st->mtc_point : i <= st->mtc_point;
        f->partial = f->partial << 4 | (in ? st->mtc_nib[i] & 15 : 0);
      }
    } else {
      f->point = f->d ? 0 : 7;
    }
    sj->toc |= RMP_EJ_SYS_F;
    anyprev |= !f->s;
  }
  {
    int xprev;
    int r = build_x(s, w, xbuf, xcap, &xprev);
    if (r < 0) return r;
    if (r > 0) {
      sj->x.raw = xbuf;
      sj->x.raw_len = (uint16_t)r;
      sj->toc |= RMP_EJ_SYS_X;
      anyprev |= xprev;
    }
  }
  sj->s = (uint8_t)!anyprev;
  return sj->toc ? 1 : 0;
}

static int build(rmp_ej_sender *s, const win *w, uint8_t *out, size_t cap) {
  if (cap < RMP_EJ_HDR_SIZE) return RMP_EJ_ENOSPACE;
  rmp_ej_hdr h = { 1, 0, 0, 0, 0, (uint16_t)w->cp };
  size_t o = RMP_EJ_HDR_SIZE;
  int r;
  if (since_cp(w, s->sys_any)) {
    rmp_ej_sys sj;
    uint8_t xbuf[1024]; /* a system journal is at most 1023 octets */
    r = build_sys(s, w, &sj, xbuf, sizeof xbuf);
    if (r < 0) return r;
    if (r) {
      r = rmp_ej_sys_encode(&sj, out + o, cap - o);
      if (r < 0) return r;
      o += (size_t)r;
      h.y = 1;
      h.s &= sj.s;
    }
  }
  int nch = 0;
  rmp_ej_chan cj; /* decode scratch on the stack: ~3 KB, not in the session */
  for (int ch = 0; ch < 16; ch++) {
    if (!s->seq[ch] || !since_cp(w, s->seq[ch]->any)) continue;
    r = build_chan(s, w, ch, &cj);
    if (r < 0) return r;
    if (!r) continue;
    r = rmp_ej_chan_encode(&cj, out + o, cap - o);
    if (r < 0) return r;
    o += (size_t)r;
    nch++;
    h.s &= cj.s;
  }
  /* Nothing to code: the 3-octet empty journal (section 5), not J = 0, so
   * that a receiver can still check that its loss is covered. */
  h.a = (uint8_t)(nch > 0);
  h.totchan = (uint8_t)(nch ? nch - 1 : 0);
  rmp_ej_hdr_encode(&h, out, cap);
  return (int)o;
}

/* Age of the oldest change in the history, or 0 for none. */
static uint32_t oldest(const rmp_ej_sender *s, const win *w) {
  uint32_t best = 0;
#define CONSIDER(t) do { rmp_ej_tag t_ = (t); uint32_t a_ = tag_age(w->cur, t_); \
    if (in_win(w, t_) && a_ > best) best = a_; } while (0)
#define CONSIDER_TABLE(tb) do { if ((tb) && since_cp(w, (tb)->newest)) \
    for (int n = -1; (n = set_next(&(tb)->set, n)) >= 0;) CONSIDER((tb)->tag[n]); } while (0)
  for (int ch = 0; ch < 16; ch++) {
    const rmp_ej_send_chan *sc = s->seq[ch];
    if (!sc || !since_cp(w, sc->any)) continue;
    CONSIDER_TABLE(sc->notes);
    CONSIDER_TABLE(sc->ctls);
    CONSIDER_TABLE(sc->polys);
    if (s->pm[ch] && since_cp(w, s->pm[ch]->newest))
      for (int i = 0; i < RMP_MS_MAX_PARAMS; i++) CONSIDER(s->pm[ch]->param[i]);
    CONSIDER(sc->prog); CONSIDER(sc->bend); CONSIDER(sc->cpres); CONSIDER(sc->psel);
  }
#undef CONSIDER_TABLE
  CONSIDER(s->q_seq); CONSIDER(s->f_seq); CONSIDER(s->song_seq); CONSIDER(s->tune_seq);
  CONSIDER(s->reset_seq); CONSIDER(s->sense_seq);
  for (int i = 0; i < 4; i++) CONSIDER(s->undef_seq[i]);
  for (int i = 0; i < RMP_EJ_X_MAX_LOGS; i++)
    if (s->x[i]) CONSIDER(s->x[i]->seq);
  for (int i = 0; s->part && i < s->part->nseg; i++) CONSIDER(s->part->seg_t[i]);
#undef CONSIDER
  return best;
}

static int encode(rmp_ej_sender *s, uint16_t seq, uint8_t *out, size_t cap);

int rmp_ej_send_encode(rmp_ej_sender *s, uint16_t seq, uint8_t *out, size_t cap) {
  s->timed = 0;
  return encode(s, seq, out, cap);
}

int rmp_ej_send_encode_at(rmp_ej_sender *s, uint16_t seq, uint32_t now_ms, uint8_t *out, size_t cap) {
  uint32_t e = ext_seq(s, seq), k = e % RMP_EJ_PTIMES;
  /* the packet times, made on the first call; without memory the Y bit
   * comes from the packet window (rmp_ej_send_encode) */
  if (!s->pt && !(s->pt = mem(s, sizeof *s->pt))) return rmp_ej_send_encode(s, seq, out, cap);
  s->pt->ext[k] = e;
  s->pt->ms[k] = now_ms;
  s->now_ms = now_ms;
  s->timed = 1;
  int r = encode(s, seq, out, cap);
  s->timed = 0;
  return r;
}

static int encode(rmp_ej_sender *s, uint16_t seq, uint8_t *out, size_t cap) {
  win w;
  w.cur = ext_seq(s, seq);
  /* Chapter N's Y bit: Y = 1 for notes struck at most y_age packets ago.
   * With the clock, the packets sent within y_ms of this one (their times
   * grow with their seqnums); else the configured packet window. */
  if (s->timed) {
    uint32_t a = 0;
    while (a + 1 < RMP_EJ_PTIMES) {
      uint32_t pe = w.cur - (a + 1), slot = pe % RMP_EJ_PTIMES;
      if (s->pt->ext[slot] != pe || s->now_ms - s->pt->ms[slot] > s->y_ms) break;
      a++;
    }
    s->y_age = a;
  } else {
    s->y_age = s->cfg.y_window ? s->cfg.y_window : UINT32_MAX;
  }
  if (s->cfg.max_size && s->cfg.max_size < cap) cap = s->cfg.max_size;
  uint32_t hist = RMP_EJ_MAX_HISTORY;
  if (s->cfg.max_history && s->cfg.max_history < hist) hist = s->cfg.max_history;
  int32_t len = (int32_t)(w.cur - s->checkpoint);
  if (len < 0) len = 0;
  if ((uint32_t)len > hist) len = (int32_t)hist;
  /* a SysEx that Chapter X cannot hold stays out of the history */
  if (s->floor) {
    uint32_t a = tag_age(w.cur, s->floor);
    if (a <= (uint32_t)len) len = a ? (int32_t)a - 1 : 0;
  }
  w.len = (uint32_t)len;
  w.cp = w.cur - w.len;
  int r;
  for (;;) {
    r = build(s, &w, out, cap);
    if (r != RMP_EJ_ENOSPACE) break;
    uint32_t a = oldest(s, &w);
    if (!a) { r = 0; break; }
    w.len = a - 1; /* trim: drop the oldest change from the history */
    w.cp = w.cur - w.len;
  }
  if (r >= 0 && (int32_t)(w.cp - s->checkpoint) > 0) {
    s->checkpoint = w.cp;
    reclaim(s);
  }
  return r;
}
