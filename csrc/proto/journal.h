/* journal.h -- RTP MIDI recovery journal (RFC 6295 sections 4-6, appendices
 * A and B; sender/receiver guidance of RFC 4696).
 *
 * Pure protocol code: libc only, no I/O, no clock reads. Callers provide
 * output buffers. The sender's and the receiver's state grow with use
 * (issue #20): per channel, per chapter, the SysEx store, made on first use
 * through the allocator of their config (midi_state.h rmp_ms_alloc; libc
 * by default), never per packet; the sender frees a channel's tables once
 * the checkpoint has passed all they hold. rmp_ej_send_free /
 * rmp_ej_recv_free release everything.
 *
 * Layers:
 *   1. Wire codec (journal_chapters.c): journal header, system journal and
 *      chapters D V Q F X (X as a list of command logs), channel journal header and
 *      chapters P C M W N E T A. Decoders take (buf, len), never read past
 *      len and return octets consumed or a negative RMP_EJ_E* code.
 *   2. Decode-to-structure walk (rmp_ej_parse) for the Lua layer.
 *   3. Sender (journal_send.c): state from every message sent, checkpoint,
 *      trimming by feedback or by an open-loop bound, journal encoding.
 *   4. Receiver (journal_recv.c): state from delivered messages, loss
 *      detection, repair commands emitted through a callback.
 *
 * Wire layouts and bit polarities were checked against the text of RFC 6295
 * and against Wireshark's rtpmidi dissector (see the comment at the top of
 * journal_send.c). S bits (A.1): S = 1 by default; S = 0 on a structure that
 * codes a command of packet I-1 (the packet just before the one carrying
 * the journal), and then on every structure that contains it, up to the
 * journal header. A receiver that lost exactly one packet only needs the
 * structures with S = 0.
 */
#ifndef RMP_JOURNAL_H
#define RMP_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "midi_state.h"

/* ---- errors ------------------------------------------------------------ */
enum rmp_ej_err {
  RMP_EJ_ETRUNC = -1,   /* buffer ends inside a structure */
  RMP_EJ_EBADLEN = -2,  /* a LENGTH field disagrees with the content */
  RMP_EJ_EINVAL = -3,   /* an invalid field value (or invalid struct to encode) */
  RMP_EJ_ENOSPACE = -4, /* output buffer / field range too small */
  RMP_EJ_EABORT = -5    /* a parse callback asked to stop */
};
/* A short description of an RMP_EJ_E* code ("ok" for >= 0). */
const char *rmp_ej_strerror(int err);

/* ---- journal header (RFC 6295 5, Figure 8) ----------------------------- */
typedef struct {
  uint8_t s, y, a, h;   /* single-loss, system journal, channel journals, enhanced C */
  uint8_t totchan;      /* number of channel journals minus one (0-15) */
  uint16_t checkpoint;  /* checkpoint packet seqnum */
} rmp_ej_hdr;

#define RMP_EJ_HDR_SIZE 3

/* ---- channel chapters (appendix A) --------------------------------------- */
#define RMP_EJ_TOC_P 0x80
#define RMP_EJ_TOC_C 0x40
#define RMP_EJ_TOC_M 0x20
#define RMP_EJ_TOC_W 0x10
#define RMP_EJ_TOC_N 0x08
#define RMP_EJ_TOC_E 0x04
#define RMP_EJ_TOC_T 0x02
#define RMP_EJ_TOC_A 0x01

/* Chapter P: |S|PROGRAM|B|BANK-MSB|X|BANK-LSB| */
typedef struct { uint8_t s, program, b, bank_msb, x, bank_lsb; } rmp_ej_chap_p;

/* Chapter C log: |S|NUMBER| then |A=0|VALUE| or |A=1|T|ALT(6)|.
 * T = 0: toggle tool, T = 1: count tool (RFC 6295 A.3.2). When one command
 * is coded by several tools the logs come in the order count, value,
 * toggle (A.3.3). */
enum { RMP_EJ_TOOL_VALUE = 0, RMP_EJ_TOOL_TOGGLE = 1, RMP_EJ_TOOL_COUNT = 2 };
typedef struct { uint8_t s, number, tool, value; } rmp_ej_ctl_log;
#define RMP_EJ_MAX_CTL_LOGS 128
typedef struct {
  uint8_t s;
  uint16_t count; /* 1..128 (LEN + 1) */
  rmp_ej_ctl_log log[RMP_EJ_MAX_CTL_LOGS];
} rmp_ej_chap_c;

/* Chapter M parameter log (A.4). Field octets are kept whole:
 * entry_msb/entry_lsb/count = |X|7 bits|, a_button = |G|X|14 bits|,
 * c_button = |G|R|14 bits|. flags = |J|K|L|M|N|T|V|R| (presence J..N). */
#define RMP_EJ_M_J 0x80
#define RMP_EJ_M_K 0x40
#define RMP_EJ_M_L 0x20
#define RMP_EJ_M_M 0x10
#define RMP_EJ_M_N 0x08
#define RMP_EJ_M_T 0x04
#define RMP_EJ_M_V 0x02
#define RMP_EJ_M_R 0x01
typedef struct {
  uint8_t s, q;              /* q = 1: NRPN, 0: RPN */
  uint8_t pnum_lsb, pnum_msb;
  uint8_t flags;
  uint8_t entry_msb, entry_lsb;
  uint16_t a_button, c_button;
  uint8_t count;
} rmp_ej_param_log;
#define RMP_EJ_MAX_PARAM_LOGS 128 /* decoder capacity; our sender logs RMP_MS_MAX_PARAMS at most */
/* Chapter M: |S|P|E|U|W|Z|LENGTH(10)| [|Q|PENDING|] logs...
 * LENGTH counts the whole chapter (header, PENDING and logs). The encoder
 * computes U, W and Z from the logs (and omits PNUM-MSB when Z and U or W);
 * the decoder reports them. */
typedef struct {
  uint8_t s, p, e, u, w, z;
  uint8_t pending_q, pending;
  uint16_t count;
  rmp_ej_param_log log[RMP_EJ_MAX_PARAM_LOGS];
} rmp_ej_chap_m;

/* Chapter W: |S|FIRST|R|SECOND| (FIRST = LSB data octet of the bend) */
typedef struct { uint8_t s, first, r, second; } rmp_ej_chap_w;

/* Chapter N: |B|LEN|LOW|HIGH| logs |S|NOTENUM|Y|VELOCITY| then OFFBITS
 * octets LOW..HIGH. offbits[] is indexed by note/8 over the whole range;
 * the most significant bit of an octet is the lowest note:
 * note n is off-flagged iff offbits[n >> 3] & (0x80 >> (n & 7)).
 * The encoder derives LOW/HIGH from offbits[]; the decoder reports them. */
typedef struct { uint8_t s, notenum, y, velocity; } rmp_ej_note_log;
typedef struct {
  uint8_t b;
  uint16_t count; /* 0..128 */
  rmp_ej_note_log log[128];
  uint8_t offbits[16];
  uint8_t low, high;
} rmp_ej_chap_n;

/* Chapter E: |S|LEN| logs |S|NOTENUM|V|COUNT/VEL|. V = 1: release velocity. */
typedef struct { uint8_t s, notenum, v, value; } rmp_ej_extra_log;
typedef struct { uint8_t s; uint16_t count; rmp_ej_extra_log log[128]; } rmp_ej_chap_e;

/* Chapter T: |S|PRESSURE| */
typedef struct { uint8_t s, pressure; } rmp_ej_chap_t;

/* Chapter A: |S|LEN| logs |S|NOTENUM|X|PRESSURE| */
typedef struct { uint8_t s, notenum, x, pressure; } rmp_ej_poly_log;
typedef struct { uint8_t s; uint16_t count; rmp_ej_poly_log log[128]; } rmp_ej_chap_a;

/* Channel journal: |S|CHAN|H|LENGTH(10)|P|C|M|W|N|E|T|A| chapters in TOC order.
 * LENGTH counts the whole channel journal including its 3-octet header. */
typedef struct {
  uint8_t s, chan, h;
  uint8_t toc;
  uint16_t length; /* decoded; ignored by the encoder */
  rmp_ej_chap_p p;
  rmp_ej_chap_c c;
  rmp_ej_chap_m m;
  rmp_ej_chap_w w;
  rmp_ej_chap_n n;
  rmp_ej_chap_e e;
  rmp_ej_chap_t t;
  rmp_ej_chap_a a;
} rmp_ej_chan;

/* ---- system chapters (appendix B) ---------------------------------------- */
#define RMP_EJ_SYS_D 0x40
#define RMP_EJ_SYS_V 0x20
#define RMP_EJ_SYS_Q 0x10
#define RMP_EJ_SYS_F 0x08
#define RMP_EJ_SYS_X 0x04

#define RMP_EJ_D_B 0x40
#define RMP_EJ_D_G 0x20
#define RMP_EJ_D_H 0x10
#define RMP_EJ_D_J 0x08
#define RMP_EJ_D_K 0x04
#define RMP_EJ_D_Y 0x02
#define RMP_EJ_D_Z 0x01

/* Undefined system command field of chapter D. Common (J: 0xF4, K: 0xF5):
 * |S|C|V|L|DSZ(2)|LENGTH(10)| [COUNT] [VALUE] [LEGAL]; realtime (Y: 0xF9,
 * Z: 0xFD): |S|C|L|LENGTH(5)| [COUNT] [LEGAL]. The encoder writes only the
 * COUNT form; the decoder accepts all and reports offsets of VALUE/LEGAL
 * relative to the field start. */
typedef struct {
  uint8_t s, c, v, l, dsz;
  uint8_t count;
  uint16_t length;
  /* VALUE (common commands, V = 1, RFC 6295 B.1.2: the data octets of the
   * most recent command of the type, the last with its MSB set): where it
   * is, relative to the field start, and how long (0: none). The decoder
   * checks that it ends within LENGTH. */
  uint16_t value_off, value_len;
} rmp_ej_undef_field;

typedef struct {
  uint8_t s;
  uint8_t toc; /* RMP_EJ_D_* */
  uint8_t reset_s, reset_count;
  uint8_t tune_s, tune_count;
  uint8_t song_s, song;
  rmp_ej_undef_field j, k, y, z;
} rmp_ej_chap_d;

typedef struct { uint8_t s, count; } rmp_ej_chap_v;

/* Chapter Q: |S|N|D|C|T|TOP(3)| [CLOCK(16)] [TIMETOOLS(24)].
 * clock = TOP:CLOCK as one 19-bit number (CLOCK bits zero when c == 0). */
typedef struct { uint8_t s, n, d, c, t; uint32_t clock; uint32_t timetools; } rmp_ej_chap_q;

/* Chapter F: |S|C|P|Q|D|POINT(3)| [COMPLETE(32)] [PARTIAL(32)] */
typedef struct { uint8_t s, c, p, q, d, point; uint32_t complete, partial; } rmp_ej_chap_f;

/* Chapter X (B.5): a list of command logs to the end of the system journal,
 * no chapter header. The fields s..first are those of the first log;
 * data_off/data_len the span after the first log's FIRST field (relative to
 * the chapter start). The decoder checks that the span is a whole list of
 * logs (rmp_ej_x_log_decode), counts them (nlogs) and points raw/raw_len at
 * the chapter octets in the decoded buffer; rmp_ej_sys_encode copies
 * raw/raw_len (validated the same way) when the X bit is set. */
typedef struct {
  uint8_t s, t, c, f, d, l, sta;
  uint8_t tcount, count;
  uint32_t first;
  uint16_t data_off, data_len; /* relative to the chapter start */
  uint16_t nlogs;
  uint16_t raw_len;
  const uint8_t *raw;
} rmp_ej_chap_x;

/* One Chapter X command log (Figure B.5.1):
 * |S|T|C|F|D|L|STA(2)| [TCOUNT] [COUNT] [FIRST: 1-4 octets, 7 bits each,
 * MSB = more] [DATA: data octets, MSB set on the last one only].
 * STA: 0 unfinished, 1 cancelled, 2 dropped F7, 3 other finished.
 * data/data_len: the DATA octets. The encoder takes plain 7-bit data octets
 * and sets the MSB of the last; the decoder points into the buffer (the
 * last octet still has its MSB set: mask with 0x7F). d = 1 needs
 * data_len >= 1. */
typedef struct {
  uint8_t s, t, c, f, d, l, sta;
  uint8_t tcount, count;
  uint32_t first;              /* < 2^28 */
  const uint8_t *data;
  uint16_t data_len;
} rmp_ej_x_log;
int rmp_ej_x_log_encode(const rmp_ej_x_log *l, uint8_t *out, size_t cap);
int rmp_ej_x_log_decode(const uint8_t *buf, size_t len, rmp_ej_x_log *l);
/* The S bit of log i of a Chapter X list of n logs (B.5.1): log 0 carries
 * the chapter's S bit, its own ("phantom") S bit is the OR of the first two
 * logs' S bits. */
uint8_t rmp_ej_x_log_s(uint8_t s0, uint8_t s1, unsigned i, unsigned n, uint8_t si);

/* System journal: |S|D|V|Q|F|X|LENGTH(10)| chapters D V Q F X.
 * LENGTH counts the whole system journal including its header. */
typedef struct {
  uint8_t s;
  uint8_t toc; /* RMP_EJ_SYS_* */
  uint16_t length;
  rmp_ej_chap_d d;
  rmp_ej_chap_v v;
  rmp_ej_chap_q q;
  rmp_ej_chap_f f;
  rmp_ej_chap_x x;
} rmp_ej_sys;

/* ---- codec --------------------------------------------------------------- */
int rmp_ej_hdr_encode(const rmp_ej_hdr *h, uint8_t *out, size_t cap);
int rmp_ej_hdr_decode(const uint8_t *buf, size_t len, rmp_ej_hdr *h);

int rmp_ej_chap_p_encode(const rmp_ej_chap_p *p, uint8_t *out, size_t cap);
int rmp_ej_chap_p_decode(const uint8_t *buf, size_t len, rmp_ej_chap_p *p);
int rmp_ej_chap_c_encode(const rmp_ej_chap_c *c, uint8_t *out, size_t cap);
int rmp_ej_chap_c_decode(const uint8_t *buf, size_t len, rmp_ej_chap_c *c);
int rmp_ej_chap_m_encode(const rmp_ej_chap_m *m, uint8_t *out, size_t cap);
int rmp_ej_chap_m_decode(const uint8_t *buf, size_t len, rmp_ej_chap_m *m);
int rmp_ej_chap_w_encode(const rmp_ej_chap_w *w, uint8_t *out, size_t cap);
int rmp_ej_chap_w_decode(const uint8_t *buf, size_t len, rmp_ej_chap_w *w);
int rmp_ej_chap_n_encode(const rmp_ej_chap_n *n, uint8_t *out, size_t cap);
int rmp_ej_chap_n_decode(const uint8_t *buf, size_t len, rmp_ej_chap_n *n);
int rmp_ej_chap_e_encode(const rmp_ej_chap_e *e, uint8_t *out, size_t cap);
int rmp_ej_chap_e_decode(const uint8_t *buf, size_t len, rmp_ej_chap_e *e);
int rmp_ej_chap_t_encode(const rmp_ej_chap_t *t, uint8_t *out, size_t cap);
int rmp_ej_chap_t_decode(const uint8_t *buf, size_t len, rmp_ej_chap_t *t);
int rmp_ej_chap_a_encode(const rmp_ej_chap_a *a, uint8_t *out, size_t cap);
int rmp_ej_chap_a_decode(const uint8_t *buf, size_t len, rmp_ej_chap_a *a);
int rmp_ej_chan_encode(const rmp_ej_chan *cj, uint8_t *out, size_t cap);
int rmp_ej_chan_decode(const uint8_t *buf, size_t len, rmp_ej_chan *cj);

int rmp_ej_chap_d_encode(const rmp_ej_chap_d *d, uint8_t *out, size_t cap);
int rmp_ej_chap_d_decode(const uint8_t *buf, size_t len, rmp_ej_chap_d *d);
int rmp_ej_chap_v_encode(const rmp_ej_chap_v *v, uint8_t *out, size_t cap);
int rmp_ej_chap_v_decode(const uint8_t *buf, size_t len, rmp_ej_chap_v *v);
int rmp_ej_chap_q_encode(const rmp_ej_chap_q *q, uint8_t *out, size_t cap);
int rmp_ej_chap_q_decode(const uint8_t *buf, size_t len, rmp_ej_chap_q *q);
int rmp_ej_chap_f_encode(const rmp_ej_chap_f *f, uint8_t *out, size_t cap);
int rmp_ej_chap_f_decode(const uint8_t *buf, size_t len, rmp_ej_chap_f *f);
int rmp_ej_chap_x_decode(const uint8_t *buf, size_t len, rmp_ej_chap_x *x); /* len = rest of system journal */
int rmp_ej_sys_encode(const rmp_ej_sys *sj, uint8_t *out, size_t cap);     /* X: copies x.raw */
int rmp_ej_sys_decode(const uint8_t *buf, size_t len, rmp_ej_sys *sj);

/* Cheap walk over the headers only (journal header, system journal LENGTH,
 * channel journal LENGTHs): returns the total journal size in octets, or a
 * negative error. This is all a receiver without a loss needs. */
int rmp_ej_journal_size(const uint8_t *buf, size_t len);

/* Decode-to-structure walk. hdr receives the journal header; sys (may be
 * NULL) the system journal if present (sys->toc == 0 otherwise); each
 * channel journal is decoded into *scratch and handed to on_chan (may be
 * NULL), which returns 0 to continue or non-zero to stop (RMP_EJ_EABORT).
 * Returns octets consumed or a negative error. */
typedef int (*rmp_ej_chan_fn)(void *ud, const rmp_ej_chan *cj);
int rmp_ej_parse(const uint8_t *buf, size_t len, rmp_ej_hdr *hdr, rmp_ej_sys *sys,
                 rmp_ej_chan *scratch, rmp_ej_chan_fn on_chan, void *ud);

/* ---- sender ---------------------------------------------------------------- */
/* The sender marks every element with the packet that last changed it in a
 * 16-bit tag: 0 = none, else 0x8000 | (extended seqnum mod 2^15). A tag is
 * read as an age (packets before the current one), exact while the age is
 * below 2^15. The history never spans more than RMP_EJ_MAX_HISTORY packets
 * (the checkpoint on the wire is 16 bits: a receiver tells a covered loss
 * from an uncovered one modulo 2^16), and each time the highest seqnum
 * passes a multiple of RMP_EJ_SWEEP the sender clears the tags older than
 * RMP_EJ_MAX_HISTORY: a live tag is always younger than MAX_HISTORY +
 * SWEEP < 2^15 packets, so a stale tag cannot alias back into the history,
 * however many packets the session lasts. */
typedef uint16_t rmp_ej_tag;
#define RMP_EJ_MAX_HISTORY 16384
#define RMP_EJ_SWEEP 8192

typedef struct {
  uint16_t max_history; /* open-loop bound in packets (0 = none; RMP_EJ_MAX_HISTORY at most) */
  uint16_t max_size;    /* open-loop bound in octets (0 = none; the per-call cap still applies) */
  uint16_t y_window;    /* rmp_ej_send_encode: Y = 1 for notes struck within this many
                         * packets (0 = always 1); rmp_ej_send_encode_at uses time */
  const rmp_ms_alloc *alloc; /* where the state's tables come from (NULL: libc); copied */
} rmp_ej_send_config;
/* Chapter N's Y bit from elapsed time (A.6.2, RFC 4696 7.2): a NoteOn
 * repaired more than this long after its onset is better skipped. */
#define RMP_EJ_Y_MS 100
/* Packet times the sender keeps for it (the Y bit of a note whose packet
 * is older is 0). */
#define RMP_EJ_PTIMES 128

/* A set of 128 numbers (notes, controllers), a bit each. */
typedef struct { uint32_t w[4]; } rmp_ej_set128;

/* Per-chapter tables of a channel, made on the first change they record
 * and freed once the checkpoint passed their newest one. newest: the tag of
 * the newest change (the chapter's dirty mark: the encoder skips a chapter
 * whose newest change is not in the history); set: the numbers with a
 * tag, so that the encoder visits those only. */
typedef struct {                   /* Chapters N and E */
  rmp_ej_tag newest;
  rmp_ej_set128 set;
  rmp_ej_tag tag[128];
} rmp_ej_send_notes;
typedef struct {                   /* Chapter C */
  rmp_ej_tag newest;
  rmp_ej_set128 set;
  rmp_ej_tag tag[128];
  uint8_t cord[128];               /* a controller's last command: its index in its packet */
} rmp_ej_send_ctls;
typedef struct {                   /* Chapter A */
  rmp_ej_tag newest;
  rmp_ej_set128 set;
  rmp_ej_tag tag[128];
  uint8_t polyx[16];               /* Chapter A X: poly pressure before 120/123-127 */
} rmp_ej_send_polys;

/* A channel's journal state, made on its first message (all NULL/0 =
 * nothing in any history), freed with its tables once the checkpoint has
 * passed its newest change (any). */
typedef struct {
  rmp_ej_send_notes *notes;
  rmp_ej_send_ctls *ctls;
  rmp_ej_send_polys *polys;
  rmp_ej_tag prog, bend, cpres, any; /* tags of the last change (any: the newest of the channel) */
  rmp_ej_tag noteoff;              /* last NoteOff (or notes silenced by 120/123) */
  rmp_ej_tag psel;                 /* last parameter number selector (98-101) */
  uint8_t progx;                   /* Chapter P X: a 121 between bank MSB and program change */
} rmp_ej_send_chan;

/* Chapter M state of a channel, made with its first parameter command and
 * kept while the model keeps parameter slots (px and cbtn outlive the
 * history). Reset All Controllers (121) bookkeeping, by parameter slot:
 * which of ENTRY-MSB / ENTRY-LSB / the last increment precede the last 121
 * (the Chapter M X bits, A.4.2.1), and the C-BUTTON count (presses after
 * it). */
typedef struct {
  rmp_ej_tag newest;               /* the chapter's dirty mark (as in the tables above) */
  rmp_ej_tag param[RMP_MS_MAX_PARAMS];
  uint8_t px[RMP_MS_MAX_PARAMS];
  int16_t cbtn[RMP_MS_MAX_PARAMS];
} rmp_ej_send_params;

/* Chapter X store of the sender: the most recent instance of each SysEx
 * type (B.5.2 recency tool), RMP_EJ_X_MAX_LOGS of them, each at most
 * RMP_EJ_X_MAX_DATA data octets. A SysEx that is longer, or that is pushed
 * out of a full store, cannot be journalled: the checkpoint then moves past
 * its packet (floor), so that a receiver that loses it sees an uncovered
 * loss instead of a silent gap. An entry is made when a SysEx needs it and
 * freed once the checkpoint passed it. */
/* COUNT (B.5.3), as both ends of this library keep it (x_count): the SysEx
 * commands since the session began or since the last System Reset, mod
 * 256, MTC Full Frames not included. B.5.3 counts the session history;
 * restarting at System Reset and leaving out Full Frames make the count
 * exact for a receiver that lost them: SysEx before a System Reset are
 * inactive and no journal logs them (A.1), and a Full Frame is coded in
 * Chapter F, not X (B.4), so neither tells the receiver how many there
 * were or where among the logged ones they came. With the session-history
 * count, the round-trip fuzzer found a receiver taking a lost SysEx for
 * received, or one received for lost (a GM System On struck twice), after
 * such losses. A receiver that keeps the other count still reads every log
 * right after its first repair, which takes the sender's total from the
 * last log (journal_recv.c, repair_x). */
#define RMP_EJ_X_MAX_LOGS 16
#define RMP_EJ_X_MAX_DATA 256
typedef struct {
  uint32_t ord;   /* recording order (oldest-first sort, modulo 2^32) */
  rmp_ej_tag seq; /* tag of its packet, 0 = free slot */
  uint8_t count;  /* COUNT: SysEx commands in the session history after it, mod 256 */
  uint8_t cls;    /* type class (journal_send.c), 0 = identical octets */
  uint16_t len;   /* data octets */
  uint8_t data[RMP_EJ_X_MAX_DATA];
} rmp_ej_x_entry;

/* A SysEx sent in parts (the segments of the command section, RFC 6295
 * 3.2), too long for one packet: Chapter X codes it with the partial forms
 * of B.5 (an unfinished log, STA = 0, while it is being sent; FIRST = the
 * first data octet in the checkpoint history, DATA = the octets from
 * there). The sender keeps the unconfirmed octets, RMP_EJ_X_PART_MAX at
 * most: a sender of a longer SysEx stalls (B.5.2) until the receiver's
 * feedback confirms what it sent (rmp_ej_send_part_room). Made with the
 * first part, freed once none is in the history. */
#define RMP_EJ_X_PART_MAX 512
#define RMP_EJ_X_PART_SEGS 16
typedef struct {
  uint8_t state;      /* 0 none, 1 being sent, 2 finished (logged while its parts are in the history) */
  uint8_t count;      /* COUNT: SysEx commands in the session history once it started */
  uint8_t nseg;       /* parts kept */
  uint32_t ord;       /* recording order among the Chapter X logs */
  uint32_t base;      /* offset in the SysEx of data[0] */
  uint32_t end;       /* data octets sent so far */
  uint32_t seg_off[RMP_EJ_X_PART_SEGS]; /* where each part kept starts */
  rmp_ej_tag seg_t[RMP_EJ_X_PART_SEGS]; /* its packet */
  uint8_t data[RMP_EJ_X_PART_MAX];
} rmp_ej_x_part;

/* Times of recent packets (rmp_ej_send_encode_at), made on its first call. */
typedef struct { uint32_t ext[RMP_EJ_PTIMES], ms[RMP_EJ_PTIMES]; } rmp_ej_ptimes;

typedef struct {
  rmp_ej_send_config cfg;
  rmp_midi_state st;   /* its allocator (cfg.alloc) makes the tables below too */
  rmp_ej_send_chan *seq[16];     /* NULL: nothing of the channel in any history */
  rmp_ej_send_params *pm[16];    /* NULL: no parameter addressed */
  uint16_t rst_bank;   /* by channel: a 121 since the last bank select MSB (0) */
  rmp_ej_tag q_seq, f_seq, song_seq, tune_seq, reset_seq, sense_seq, undef_seq[4], sys_any;
  uint32_t last;       /* highest extended seqnum seen (modulo 2^32) */
  uint32_t checkpoint; /* extended checkpoint seqnum */
  int have_seq;
  rmp_ej_x_entry *x[RMP_EJ_X_MAX_LOGS]; /* NULL = free slot */
  rmp_ej_x_part *part; /* a SysEx sent in parts (NULL: none) */
  uint8_t part_nomem;  /* the one being sent could not be kept (no memory): its parts are not coded */
  uint32_t x_ord;      /* SysEx recorded so far */
  rmp_ej_tag floor;    /* newest packet holding a change the journal can no longer code
                        * (a SysEx not in the store, a parameter the model forgot, a
                        * channel whose tables could not be made) */
  uint8_t x_count;     /* SysEx commands sent, mod 256 (COUNT, above) */
  uint32_t pkt_ext;    /* the packet being recorded, and its commands so far */
  uint8_t pkt_cmds;
  rmp_ej_ptimes *pt;   /* times of recent packets (encode_at) */
  uint32_t now_ms;     /* the time of the packet being encoded, and whether there is one */
  uint8_t timed;
  uint16_t y_ms;       /* encode_at: Y = 1 for notes struck this recently (RMP_EJ_Y_MS) */
  uint32_t y_age;      /* the journal being built: Y = 1 for notes this many packets old at most */
} rmp_ej_sender;

void rmp_ej_send_init(rmp_ej_sender *s, const rmp_ej_send_config *cfg);
/* Releases what the sender made (init again to use it). */
void rmp_ej_send_free(rmp_ej_sender *s);
/* Octets the sender holds now: the struct and every table it made. */
size_t rmp_ej_send_mem(const rmp_ej_sender *s);
/* Record one message sent in the packet with RTP seqnum seq. Call
 * rmp_ej_send_encode(seq) for a packet BEFORE recording that packet's
 * messages: the journal of packet I covers packets checkpoint..I-1. */
void rmp_ej_send_record(rmp_ej_sender *s, uint16_t seq, const uint8_t *msg, size_t len);
/* Produce the journal for packet seq into out (at most cap octets, further
 * limited by cfg.max_size). Returns the journal size (0 = nothing to
 * journal: send with J = 0) or a negative error. Trims the checkpoint
 * forward when the history bound or the size budget requires it. */
int rmp_ej_send_encode(rmp_ej_sender *s, uint16_t seq, uint8_t *out, size_t cap);
/* The same, at time now_ms (the caller's clock, for this packet): Chapter
 * N's Y bit then says whether a note was struck within cfg.y_ms. */
int rmp_ej_send_encode_at(rmp_ej_sender *s, uint16_t seq, uint32_t now_ms, uint8_t *out, size_t cap);
/* The Y window of rmp_ej_send_encode_at in ms (RMP_EJ_Y_MS after init). */
void rmp_ej_send_set_y_ms(rmp_ej_sender *s, uint16_t ms);
/* A SysEx too long for one packet, sent in parts: record each part
 * instead of the whole message, as it goes out in packet seq: its data
 * octets (no F0/F7 status), first = it starts the SysEx, end = it ends it
 * (a part may be both). Call rmp_ej_send_part_room first: a part longer
 * than the room left pushes out the oldest unconfirmed octets, and the
 * checkpoint moves past them (a receiver that lost them sees an uncovered
 * loss). */
void rmp_ej_send_record_part(rmp_ej_sender *s, uint16_t seq, const uint8_t *data, size_t n, int first,
                             int end);
/* Data octets of a SysEx in parts the journal can still hold unconfirmed
 * (0 also while the last one sent in parts is not confirmed: the journal
 * holds one): when 0, the sender stalls (sends journal-only packets, or
 * sends the SysEx after whole if it fits one packet) until feedback moves
 * the checkpoint (RFC 6295 B.5.2). */
size_t rmp_ej_send_part_room(rmp_ej_sender *s);
/* Feedback: the receiver confirms seq (RTCP RR extended highest seqnum or
 * AppleMIDI RS). The checkpoint moves to seq + 1. */
void rmp_ej_send_ack(rmp_ej_sender *s, uint16_t seq);
uint16_t rmp_ej_send_checkpoint(const rmp_ej_sender *s);

/* ---- receiver ---------------------------------------------------------------- */
typedef void (*rmp_ej_emit_fn)(void *ud, const uint8_t *msg, size_t len);
/* Repairs of a SysEx received in parts (rmp_ej_recv_part): n data octets
 * to append to the one the caller reassembles (first: start a new one with
 * them), end: it is complete (deliver it), or RMP_EJ_PART_CANCEL: the
 * sender cancelled it (a Chapter X log with STA = 1, RFC 6295 B.5.1 and
 * section 3.2): drop what is held of it, deliver nothing. */
#define RMP_EJ_PART_CANCEL 2
typedef void (*rmp_ej_part_fn)(void *ud, const uint8_t *data, size_t n, int first, int end);

/* SysEx the receiver got lately, to place Chapter X logs that carry no
 * COUNT (journal_recv.c). */
#define RMP_EJ_SX_SEEN 16
typedef struct { uint32_t hash; uint16_t len, seq; uint8_t used; } rmp_ej_sx_seen;

/* Receiver options. rmp_ej_recv_config_init gives the RFC behaviour; the
 * two journal_* options exist for senders that get the journal wrong.
 *
 * trust_s_bits (journal_trust_s_bits, default 1): after the loss of one
 *   packet, read only the structures with S = 0 (RFC 6295 A.1: they code
 *   the lost packet). A sender that sets S = 1 everywhere (observed: one
 *   common implementation does, and never removes logs) makes every single
 *   loss look empty; 0 reads the whole journal after every loss, at the
 *   cost of comparing structures that cannot have changed.
 * honor_y (journal_honor_y, default 1): do not play the NoteOn of a Chapter
 *   N log with Y = 0 (RFC 4696 7.2: the sender says the note is no longer
 *   "simultaneous"; a late onset sounds like a wrong note). The note is
 *   taken as on in the model all the same, so its NoteOff ends it. A sender
 *   that sets Y = 0 on every log makes repaired notes silent; 0 plays them
 *   all, late ones included.
 * packet_max: repair commands one packet may make the receiver play. The
 *   budget of a packet is min(packet_max, RMP_EJ_BUDGET_BASE +
 *   RMP_EJ_BUDGET_PER_OCTET x journal octets): what an honest journal of
 *   that size can need (an OFFBITS octet codes up to 8 NoteOffs), far
 *   below what a forged count asks (one A-BUTTON: 16,383 increments).
 * rate, burst: the per-second budget, a token bucket of burst commands
 *   that fills at rate per second; on once the caller calls
 *   rmp_ej_recv_refill with its clock (the receiver reads no clock).
 * What a budget does not allow is counted in over_budget, not played (nor
 * applied to the model: a later journal tries again). */
#define RMP_EJ_BUDGET_BASE 256u
#define RMP_EJ_BUDGET_PER_OCTET 8u
typedef struct {
  uint8_t trust_s_bits;
  uint8_t honor_y;
  uint16_t packet_max; /* default 4096 */
  uint32_t rate;       /* per second, default 4096 */
  uint32_t burst;      /* default 8192 */
  const rmp_ms_alloc *alloc; /* where the state's tables come from (NULL: libc); copied */
} rmp_ej_recv_config;

typedef struct {
  rmp_ej_recv_config cfg;
  rmp_midi_state st;
  uint16_t last;      /* last seqnum received */
  int have_seq;
  unsigned repairs;   /* counters: commands played by repairs */
  unsigned uncovered; /* losses the journal did not cover */
  unsigned long over_budget; /* repair commands a budget did not allow */
  uint8_t x_count;    /* SysEx commands received or replayed, mod 256 (COUNT, above) */
  unsigned x_replayed; /* SysEx commands replayed from Chapter X */
  rmp_ej_sx_seen sx_seen[RMP_EJ_SX_SEEN]; /* ring, newest at sx_next - 1 */
  uint8_t sx_next;
  uint16_t *note_seq[16];     /* per channel, made with its first NoteOn: the packet of each
                               * note's last NoteOn (RFC 4696 7.2) */
  rmp_ej_part_fn part_fn;     /* a SysEx in parts: the caller's reassembly */
  void *part_ud;
  uint8_t part_open;          /* the caller holds the start of one, part_have octets */
  uint8_t part_count;         /* its Chapter X COUNT */
  uint32_t part_have;
  uint32_t part_hash;         /* of the octets the caller holds (which SysEx it is) */
  uint8_t part_seen;          /* the journal being applied coded it */
  unsigned x_lost;            /* SysEx a journal codes but the receiver cannot rebuild */
  unsigned released;  /* notes and pedals released after uncovered losses */
  uint8_t bucket_on;  /* the per-second budget (rmp_ej_recv_refill) */
  uint32_t bucket_ms; /* the time of the last refill */
  uint64_t tokens;    /* the bucket, in thousandths of a command */
} rmp_ej_receiver;

/* Return flags of rmp_ej_recv_packet (>= 0), or a negative error. */
#define RMP_EJ_R_LOSS      0x01 /* packets were lost before this one */
#define RMP_EJ_R_REPAIRED  0x02 /* the journal was applied */
#define RMP_EJ_R_UNCOVERED 0x04 /* checkpoint is after the first lost packet */
#define RMP_EJ_R_NOJOURNAL 0x08 /* a loss, but the packet has no journal */
#define RMP_EJ_R_LATE      0x10 /* duplicate or out-of-order packet: drop it */
#define RMP_EJ_R_FIRST     0x20 /* the first packet: its journal was read as after a loss (section 4) */

void rmp_ej_recv_config_init(rmp_ej_recv_config *cfg);
/* A receiver with the RFC options (rmp_ej_recv_init) or cfg's. */
void rmp_ej_recv_init(rmp_ej_receiver *r);
void rmp_ej_recv_init_cfg(rmp_ej_receiver *r, const rmp_ej_recv_config *cfg);
/* Releases what the receiver made (init again to use it). */
void rmp_ej_recv_free(rmp_ej_receiver *r);
/* Octets the receiver holds now: the struct and every table it made. */
size_t rmp_ej_recv_mem(const rmp_ej_receiver *r);
/* The per-second repair budget: call with the caller's clock (ms) before
 * rmp_ej_recv_packet; the first call turns it on with a full bucket. */
void rmp_ej_recv_refill(rmp_ej_receiver *r, uint32_t now_ms);
/* Every delivered message, in order, after rmp_ej_recv_packet for its packet. */
void rmp_ej_recv_apply(rmp_ej_receiver *r, const uint8_t *msg, size_t len);
/* Call for every packet received, before applying its messages, with its
 * journal (journal = NULL / jlen = 0 when J = 0). Without a loss the journal
 * is not read. After a loss the journal is validated, then compared with the
 * state, and repair messages are emitted (and applied to the state). */
int rmp_ej_recv_packet(rmp_ej_receiver *r, uint16_t seq, const uint8_t *journal, size_t jlen,
                       rmp_ej_emit_fn emit, void *ud);
/* A SysEx received in parts (the command section's segments, RFC 6295
 * 3.2), after rmp_ej_recv_packet for its packet: n data octets, first = it
 * starts a SysEx, end = it ends it. Returns 1 when the caller appends the
 * octets to the SysEx it reassembles, 0 when it drops them (they do not
 * follow what it holds: a loss the journal did not repair). A SysEx
 * received in parts is not passed to rmp_ej_recv_apply. */
int rmp_ej_recv_part(rmp_ej_receiver *r, const uint8_t *data, size_t n, int first, int end);
/* Where repairs of a SysEx in parts go (Chapter X partial forms); without
 * it such logs are not repaired (counted in x_lost). */
void rmp_ej_recv_set_part_fn(rmp_ej_receiver *r, rmp_ej_part_fn fn, void *ud);
/* Apply a journal unconditionally (single_loss selects the S-bit shortcut). */
int rmp_ej_recv_repair(rmp_ej_receiver *r, const uint8_t *journal, size_t jlen, int single_loss,
                       rmp_ej_emit_fn emit, void *ud);

#endif
