/* Helper for tshark_journal.sh: runs our recovery journal sender over a set
 * of scenarios, one per chapter form, and puts each journal in an RTP MIDI
 * packet with an empty command section (B=0 J=1 Z=0 P=0 LEN=0). Prints
 *   journal_pcap hex     - the RTP packets as text2pcap input
 *   journal_pcap fields  - the tshark field names compared, one per line
 *   journal_pcap expect  - per packet and field, "N<TAB>field<TAB>values"
 *                          (values comma-separated in wire order, the way
 *                          tshark -T fields prints repeated fields)
 * The expectations come from the structures the sender built (decoded back
 * with our own decoder) and each scenario also checks that the journal
 * holds what the scenario is about (e.g. a toggle-tool log with ALT = 3),
 * so a layout error shows as a difference with tshark and a semantic error
 * as a failure here. Exit 1 when a scenario check fails.
 *
 * Wireshark 4.0 quirks encoded here (its field definitions, not our bytes):
 *  - rtpmidi.cj_chapter_e_length / cj_chapter_a_length are read over two
 *    octets, so they show the low 7 bits of the octet after the header
 *    (the first log's NOTENUM); parsing uses the right header octet.
 *  - rtpmidi.sj_chapter_q_tflag has mask 0x80 (it shows the S bit): not
 *    compared; worse, the dissector reads TIMETOOLS when that bit is set,
 *    so a Chapter Q with S = 1 is misparsed (the scenarios here have S = 0;
 *    the stream mode checks such journals by hand). Chapter Q shows
 *    sj_chapter_q_clock (TOP:CLOCK) when C = 1 and sj_chapter_q_top
 *    otherwise.
 *  - Chapter M with P = 1 is misparsed (the PENDING octet is not deducted
 *    from LENGTH), so no scenario here sends P = 1; test_journal_chapters
 *    covers that layout.
 *  - rtpmidi.chanjour_channel prints as 0x%06x.
 *  - Chapter E's V flag is the field rtpmidi.cj_chapter_n_log_vflag.
 *  - Chapter X: only the first command log is dissected (the rest of the
 *    chapter is read as its DATA), and rtpmidi.sj_chapter_x_data shows the
 *    DATA octets before the final one (the octet with the MSB set that ends
 *    the field, B.5.1). The scenario here has one log; test_journal_chapters
 *    and test_journal_sendrecv cover lists of several logs.
 *  - Chapter X with F = 1 (a SysEx in parts): decode_sj_chapter_x returns
 *    before FIRST on an inverted length test, so FIRST and DATA are not
 *    shown; scenario 17 checks those octets by hand.
 *
 *   journal_pcap stream  - every journal of a long random stream (all the
 *                          chapters, issue 17's stream kinds) as packets, for
 *                          tshark_journal.sh's malformed-field check
 *   journal_pcap session - every packet of the stream sender (midi_stream.c)
 *                          with SysEx in parts, command section and journal */
#include "journal.h"
#include "midi_stream.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const fields[] = {
  "rtpmidi.s_flag", "rtpmidi.y_flag", "rtpmidi.a_flag", "rtpmidi.h_flag", "rtpmidi.total_channels",
  "rtpmidi.check_Seq_num",
  /* system journal */
  "rtpmidi.sysjour_toc_s", "rtpmidi.sysjour_toc_d", "rtpmidi.sysjour_toc_v", "rtpmidi.sysjour_toc_q",
  "rtpmidi.sysjour_toc_f", "rtpmidi.sysjour_toc_x", "rtpmidi.cmd_sysjour_len",
  "rtpmidi.sj_chapter_d_sflag", "rtpmidi.sj_chapter_d_bflag", "rtpmidi.sj_chapter_d_gflag",
  "rtpmidi.sj_chapter_d_hflag", "rtpmidi.sj_chapter_d_jflag", "rtpmidi.sj_chapter_d_kflag",
  "rtpmidi.sj_chapter_d_yflag", "rtpmidi.sj_chapter_d_zflag",
  "rtpmidi.sj_chapter_d_reset_sflag", "rtpmidi.cj_chapter_d_reset_count",
  "rtpmidi.sj_chapter_d_tune_sflag", "rtpmidi.cj_chapter_d_tune_count",
  "rtpmidi.sj_chapter_d_song_sel_sflag", "rtpmidi.cj_chapter_d_song_sel_value",
  "rtpmidi.sj_chapter_d_syscom_sflag", "rtpmidi.sj_chapter_d_syscom_cflag", "rtpmidi.sj_chapter_d_syscom_vflag",
  "rtpmidi.sj_chapter_d_syscom_lflag", "rtpmidi.sj_chapter_d_syscom_dsz", "rtpmidi.sj_chapter_d_syscom_len",
  "rtpmidi.sj_chapter_d_syscom_count",
  "rtpmidi.sj_chapter_d_sysreal_sflag", "rtpmidi.sj_chapter_d_sysreal_cflag", "rtpmidi.sj_chapter_d_sysreal_lflag",
  "rtpmidi.sj_chapter_d_sysreal_len", "rtpmidi.sj_chapter_d_sysreal_count",
  "rtpmidi.sj_chapter_v_sflag", "rtpmidi.sj_chapter_v_count",
  "rtpmidi.sj_chapter_q_sflag", "rtpmidi.sj_chapter_q_nflag", "rtpmidi.sj_chapter_q_dflag",
  "rtpmidi.sj_chapter_q_cflag", "rtpmidi.sj_chapter_q_clock", "rtpmidi.sj_chapter_q_top",
  "rtpmidi.sj_chapter_f_sflag", "rtpmidi.sj_chapter_f_cflag", "rtpmidi.sj_chapter_f_pflag",
  "rtpmidi.sj_chapter_f_qflag", "rtpmidi.sj_chapter_f_dflag", "rtpmidi.sj_chapter_f_point",
  "rtpmidi.sj_chapter_f_complete", "rtpmidi.sj_chapter_f_partial",
  "rtpmidi.sj_chapter_f_mt0", "rtpmidi.sj_chapter_f_mt1", "rtpmidi.sj_chapter_f_mt7",
  "rtpmidi.sj_chapter_f_hr", "rtpmidi.sj_chapter_f_mn", "rtpmidi.sj_chapter_f_sc", "rtpmidi.sj_chapter_f_fr",
  "rtpmidi.sj_chapter_x_sflag", "rtpmidi.sj_chapter_x_tflag", "rtpmidi.sj_chapter_x_cflag",
  "rtpmidi.sj_chapter_x_fflag", "rtpmidi.sj_chapter_x_dflag", "rtpmidi.sj_chapter_x_lflag",
  "rtpmidi.sj_chapter_x_sta", "rtpmidi.sj_chapter_x_tcount", "rtpmidi.sj_chapter_x_count",
  "rtpmidi.sj_chapter_x_first_1", "rtpmidi.sj_chapter_x_first_2",
  "rtpmidi.sj_chapter_x_data", "rtpmidi.sj_chapter_x_invalid_data",
  /* channel journals */
  "rtpmidi.chanjour_s", "rtpmidi.chanjour_channel", "rtpmidi.chanjour_h", "rtpmidi.cmd_chanjour_len",
  "rtpmidi.chanjour_toc_p", "rtpmidi.chanjour_toc_c", "rtpmidi.chanjour_toc_m", "rtpmidi.chanjour_toc_w",
  "rtpmidi.chanjour_toc_n", "rtpmidi.chanjour_toc_e", "rtpmidi.chanjour_toc_t", "rtpmidi.chanjour_toc_a",
  "rtpmidi.cj_chapter_p_sflag", "rtpmidi.cj_chapter_p_program", "rtpmidi.cj_chapter_p_bflag",
  "rtpmidi.cj_chapter_p_bank_msb", "rtpmidi.cj_chapter_p_xflag", "rtpmidi.cj_chapter_p_bank_lsb",
  "rtpmidi.cj_chapter_c_sflag", "rtpmidi.cj_chapter_c_length", "rtpmidi.cj_chapter_c_number",
  "rtpmidi.cj_chapter_c_aflag", "rtpmidi.cj_chapter_c_tflag", "rtpmidi.cj_chapter_c_value",
  "rtpmidi.cj_chapter_c_alt",
  "rtpmidi.cj_chapter_m_sflag", "rtpmidi.cj_chapter_m_pflag", "rtpmidi.cj_chapter_m_eflag",
  "rtpmidi.cj_chapter_m_uflag", "rtpmidi.cj_chapter_m_wflag", "rtpmidi.cj_chapter_m_zflag",
  "rtpmidi.cj_chapter_m_length", "rtpmidi.cj_chapter_m_log_sflag", "rtpmidi.cj_chapter_m_log_pnum_lsb",
  "rtpmidi.cj_chapter_m_log_qflag", "rtpmidi.cj_chapter_m_log_pnum_msb", "rtpmidi.cj_chapter_m_log_jflag",
  "rtpmidi.cj_chapter_m_log_kflag", "rtpmidi.cj_chapter_m_log_lflag", "rtpmidi.cj_chapter_m_log_mflag",
  "rtpmidi.cj_chapter_m_log_nflag", "rtpmidi.cj_chapter_m_log_tflag", "rtpmidi.cj_chapter_m_log_vflag",
  "rtpmidi.cj_chapter_m_log_rflag", "rtpmidi.cj_chapter_m_log_msb", "rtpmidi.cj_chapter_m_log_lsb",
  "rtpmidi.cj_chapter_m_log_a_button_gflag", "rtpmidi.cj_chapter_m_log_a_button_xflag",
  "rtpmidi.cj_chapter_m_log_a_button",
  "rtpmidi.cj_chapter_w_sflag", "rtpmidi.cj_chapter_w_first", "rtpmidi.cj_chapter_w_rflag",
  "rtpmidi.cj_chapter_w_second",
  "rtpmidi.cj_chapter_n_bflag", "rtpmidi.cj_chapter_n_length", "rtpmidi.cj_chapter_n_low",
  "rtpmidi.cj_chapter_n_high", "rtpmidi.cj_chapter_n_log_sflag", "rtpmidi.cj_chapter_n_log_note",
  "rtpmidi.cj_chapter_n_log_yflag", "rtpmidi.cj_chapter_n_log_velocity", "rtpmidi.cj_chapter_n_log_octet",
  "rtpmidi.cj_chapter_e_sflag", "rtpmidi.cj_chapter_e_length", "rtpmidi.cj_chapter_e_log_sflag",
  "rtpmidi.cj_chapter_e_log_note", "rtpmidi.cj_chapter_n_log_vflag", "rtpmidi.cj_chapter_e_log_velocity",
  "rtpmidi.cj_chapter_e_log_count",
  "rtpmidi.cj_chapter_t_sflag", "rtpmidi.cj_chapter_t_pressure",
  "rtpmidi.cj_chapter_a_sflag", "rtpmidi.cj_chapter_a_length", "rtpmidi.cj_chapter_a_log_sflag",
  "rtpmidi.cj_chapter_a_log_note", "rtpmidi.cj_chapter_a_log_xflag", "rtpmidi.cj_chapter_a_log_pressure",
};
#define NFIELDS (sizeof fields / sizeof fields[0])

/* ---- per-packet field values ------------------------------------------- */
static char vals[NFIELDS][512];

static void add(const char *name, const char *fmt, ...) {
  for (size_t i = 0; i < NFIELDS; i++) {
    if (strcmp(fields[i], name) != 0) continue;
    size_t n = strlen(vals[i]);
    if (n) { vals[i][n++] = ','; vals[i][n] = 0; }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(vals[i] + n, sizeof vals[i] - n, fmt, ap);
    va_end(ap);
    return;
  }
  fprintf(stderr, "journal_pcap: unknown field %s\n", name);
}
/* Fields Wireshark declares BASE_HEX, with their printed width. */
static int hex_width(const char *name) {
  static const struct { const char *n; int w; } hx[] = {
    { "n_log_octet", 2 }, { "c_value", 2 }, { "c_alt", 2 }, { "p_bank_msb", 2 }, { "p_bank_lsb", 2 },
    { "w_first", 2 }, { "w_second", 2 }, { "m_log_pnum_lsb", 2 }, { "m_log_pnum_msb", 2 },
    { "m_log_msb", 2 }, { "m_log_lsb", 2 }, { "m_log_a_button", 4 }, { "f_mt", 8 }, { "x_sta", 2 },
    { "f_hr", 8 }, { "f_mn", 8 }, { "f_sc", 8 }, { "f_fr", 8 },
  };
  for (size_t i = 0; i < sizeof hx / sizeof hx[0]; i++)
    if (strstr(name, hx[i].n) && !strstr(name, "flag")) return hx[i].w;
  return 0;
}
static void addu(const char *name, unsigned v) {
  int w = hex_width(name);
  if (w) add(name, "0x%0*x", w, v);
  else add(name, "%u", v);
}
#define ADDU(name, v) addu("rtpmidi." name, (unsigned)(v))

static void expect_sys(const uint8_t *j, const rmp_ej_sys *sj) {
  ADDU("sysjour_toc_s", sj->s);
  ADDU("sysjour_toc_d", !!(sj->toc & RMP_EJ_SYS_D));
  ADDU("sysjour_toc_v", !!(sj->toc & RMP_EJ_SYS_V));
  ADDU("sysjour_toc_q", !!(sj->toc & RMP_EJ_SYS_Q));
  ADDU("sysjour_toc_f", !!(sj->toc & RMP_EJ_SYS_F));
  ADDU("sysjour_toc_x", !!(sj->toc & RMP_EJ_SYS_X));
  ADDU("cmd_sysjour_len", sj->length);
  (void)j;
  if (sj->toc & RMP_EJ_SYS_D) {
    const rmp_ej_chap_d *d = &sj->d;
    ADDU("sj_chapter_d_sflag", d->s);
    ADDU("sj_chapter_d_bflag", !!(d->toc & RMP_EJ_D_B));
    ADDU("sj_chapter_d_gflag", !!(d->toc & RMP_EJ_D_G));
    ADDU("sj_chapter_d_hflag", !!(d->toc & RMP_EJ_D_H));
    ADDU("sj_chapter_d_jflag", !!(d->toc & RMP_EJ_D_J));
    ADDU("sj_chapter_d_kflag", !!(d->toc & RMP_EJ_D_K));
    ADDU("sj_chapter_d_yflag", !!(d->toc & RMP_EJ_D_Y));
    ADDU("sj_chapter_d_zflag", !!(d->toc & RMP_EJ_D_Z));
    if (d->toc & RMP_EJ_D_B) { ADDU("sj_chapter_d_reset_sflag", d->reset_s); ADDU("cj_chapter_d_reset_count", d->reset_count); }
    if (d->toc & RMP_EJ_D_G) { ADDU("sj_chapter_d_tune_sflag", d->tune_s); ADDU("cj_chapter_d_tune_count", d->tune_count); }
    if (d->toc & RMP_EJ_D_H) { ADDU("sj_chapter_d_song_sel_sflag", d->song_s); ADDU("cj_chapter_d_song_sel_value", d->song); }
    const rmp_ej_undef_field *com[2] = { &d->j, &d->k };
    for (int i = 0; i < 2; i++) {
      if (!(d->toc & (i ? RMP_EJ_D_K : RMP_EJ_D_J))) continue;
      ADDU("sj_chapter_d_syscom_sflag", com[i]->s);
      ADDU("sj_chapter_d_syscom_cflag", com[i]->c);
      ADDU("sj_chapter_d_syscom_vflag", com[i]->v);
      ADDU("sj_chapter_d_syscom_lflag", com[i]->l);
      ADDU("sj_chapter_d_syscom_dsz", com[i]->dsz);
      ADDU("sj_chapter_d_syscom_len", com[i]->length);
      if (com[i]->c) ADDU("sj_chapter_d_syscom_count", com[i]->count);
    }
    const rmp_ej_undef_field *rt[2] = { &d->y, &d->z };
    for (int i = 0; i < 2; i++) {
      if (!(d->toc & (i ? RMP_EJ_D_Z : RMP_EJ_D_Y))) continue;
      ADDU("sj_chapter_d_sysreal_sflag", rt[i]->s);
      ADDU("sj_chapter_d_sysreal_cflag", rt[i]->c);
      ADDU("sj_chapter_d_sysreal_lflag", rt[i]->l);
      ADDU("sj_chapter_d_sysreal_len", rt[i]->length);
      if (rt[i]->c) ADDU("sj_chapter_d_sysreal_count", rt[i]->count);
    }
  }
  if (sj->toc & RMP_EJ_SYS_V) { ADDU("sj_chapter_v_sflag", sj->v.s); ADDU("sj_chapter_v_count", sj->v.count); }
  if (sj->toc & RMP_EJ_SYS_Q) {
    ADDU("sj_chapter_q_sflag", sj->q.s);
    ADDU("sj_chapter_q_nflag", sj->q.n);
    ADDU("sj_chapter_q_dflag", sj->q.d);
    ADDU("sj_chapter_q_cflag", sj->q.c);
    if (sj->q.c) ADDU("sj_chapter_q_clock", sj->q.clock);
    else ADDU("sj_chapter_q_top", sj->q.clock >> 16);
  }
  if (sj->toc & RMP_EJ_SYS_F) {
    const rmp_ej_chap_f *f = &sj->f;
    ADDU("sj_chapter_f_sflag", f->s);
    ADDU("sj_chapter_f_cflag", f->c);
    ADDU("sj_chapter_f_pflag", f->p);
    ADDU("sj_chapter_f_qflag", f->q);
    ADDU("sj_chapter_f_dflag", f->d);
    ADDU("sj_chapter_f_point", f->point);
    if (f->c) {
      add("rtpmidi.sj_chapter_f_complete", "0x%08x", (unsigned)f->complete);
      if (f->q) {
        ADDU("sj_chapter_f_mt0", f->complete >> 28);
        ADDU("sj_chapter_f_mt1", (f->complete >> 24) & 15);
        ADDU("sj_chapter_f_mt7", f->complete & 15);
      } else { /* a Full Frame: HR MN SC FR (B.4, Figure B.4.3) */
        ADDU("sj_chapter_f_hr", f->complete >> 24);
        ADDU("sj_chapter_f_mn", (f->complete >> 16) & 255);
        ADDU("sj_chapter_f_sc", (f->complete >> 8) & 255);
        ADDU("sj_chapter_f_fr", f->complete & 255);
      }
    }
    if (f->p) {
      add("rtpmidi.sj_chapter_f_partial", "0x%08x", (unsigned)f->partial);
      ADDU("sj_chapter_f_mt0", f->partial >> 28);
      ADDU("sj_chapter_f_mt1", (f->partial >> 24) & 15);
      ADDU("sj_chapter_f_mt7", f->partial & 15);
    }
  }
  if (sj->toc & RMP_EJ_SYS_X) {
    /* every command log of the list (B.5.1); DATA as its wire octets */
    rmp_ej_x_log l;
    for (size_t o = 0; o < sj->x.raw_len;) {
      int r = rmp_ej_x_log_decode(sj->x.raw + o, sj->x.raw_len - o, &l);
      if (r <= 0) break;
      o += (size_t)r;
      ADDU("sj_chapter_x_sflag", l.s); ADDU("sj_chapter_x_tflag", l.t); ADDU("sj_chapter_x_cflag", l.c);
      ADDU("sj_chapter_x_fflag", l.f); ADDU("sj_chapter_x_dflag", l.d); ADDU("sj_chapter_x_lflag", l.l);
      ADDU("sj_chapter_x_sta", l.sta);
      if (l.t) ADDU("sj_chapter_x_tcount", l.tcount);
      if (l.c) ADDU("sj_chapter_x_count", l.count);
      /* Wireshark 4.0 bug: decode_sj_chapter_x in packet-rtp-midi.c tests
       * `if (!(consumed >= max_length) || ...) return -1;` before reading
       * FIRST, the condition inverted: a log with F = 1 ends the dissection
       * after COUNT (no FIRST, no DATA, no error). Such a journal's octets
       * are checked by hand (scenario 17). */
      if (l.f) break;
      if (l.d && l.data_len > 1) { /* Wireshark quirk: without the last (MSB-set) octet */
        char hx[2 * 300 + 1] = "";
        for (unsigned i = 0; i + 1 < l.data_len && i < 300; i++) snprintf(hx + 2 * i, 3, "%02x", l.data[i]);
        add("rtpmidi.sj_chapter_x_data", "%s", hx);
      }
    }
  }
}

static int expect_chan(void *ud, const rmp_ej_chan *cj) {
  (void)ud;
  ADDU("chanjour_s", cj->s);
  add("rtpmidi.chanjour_channel", "0x%06x", (unsigned)cj->chan);
  ADDU("chanjour_h", cj->h);
  ADDU("cmd_chanjour_len", cj->length);
  ADDU("chanjour_toc_p", !!(cj->toc & RMP_EJ_TOC_P));
  ADDU("chanjour_toc_c", !!(cj->toc & RMP_EJ_TOC_C));
  ADDU("chanjour_toc_m", !!(cj->toc & RMP_EJ_TOC_M));
  ADDU("chanjour_toc_w", !!(cj->toc & RMP_EJ_TOC_W));
  ADDU("chanjour_toc_n", !!(cj->toc & RMP_EJ_TOC_N));
  ADDU("chanjour_toc_e", !!(cj->toc & RMP_EJ_TOC_E));
  ADDU("chanjour_toc_t", !!(cj->toc & RMP_EJ_TOC_T));
  ADDU("chanjour_toc_a", !!(cj->toc & RMP_EJ_TOC_A));
  if (cj->toc & RMP_EJ_TOC_P) {
    ADDU("cj_chapter_p_sflag", cj->p.s); ADDU("cj_chapter_p_program", cj->p.program);
    ADDU("cj_chapter_p_bflag", cj->p.b); ADDU("cj_chapter_p_bank_msb", cj->p.bank_msb);
    ADDU("cj_chapter_p_xflag", cj->p.x); ADDU("cj_chapter_p_bank_lsb", cj->p.bank_lsb);
  }
  if (cj->toc & RMP_EJ_TOC_C) {
    ADDU("cj_chapter_c_sflag", cj->c.s);
    ADDU("cj_chapter_c_length", cj->c.count - 1);
    for (unsigned i = 0; i < cj->c.count; i++) {
      const rmp_ej_ctl_log *l = &cj->c.log[i];
      ADDU("cj_chapter_c_sflag", l->s);
      ADDU("cj_chapter_c_number", l->number);
      ADDU("cj_chapter_c_aflag", l->tool != RMP_EJ_TOOL_VALUE);
      if (l->tool == RMP_EJ_TOOL_VALUE) {
        ADDU("cj_chapter_c_value", l->value);
      } else {
        ADDU("cj_chapter_c_tflag", l->tool == RMP_EJ_TOOL_COUNT); /* RFC: T = 1 count, 0 toggle */
        ADDU("cj_chapter_c_alt", l->value);
      }
    }
  }
  if (cj->toc & RMP_EJ_TOC_M) {
    const rmp_ej_chap_m *m = &cj->m;
    ADDU("cj_chapter_m_sflag", m->s); ADDU("cj_chapter_m_pflag", m->p); ADDU("cj_chapter_m_eflag", m->e);
    ADDU("cj_chapter_m_uflag", m->u); ADDU("cj_chapter_m_wflag", m->w); ADDU("cj_chapter_m_zflag", m->z);
    unsigned len = 2 + m->p;
    int omit = m->z && (m->u || m->w);
    for (unsigned i = 0; i < m->count; i++) {
      const rmp_ej_param_log *l = &m->log[i];
      len += (omit ? 2u : 3u) + !!(l->flags & RMP_EJ_M_J) + !!(l->flags & RMP_EJ_M_K) +
             2u * !!(l->flags & RMP_EJ_M_L) + 2u * !!(l->flags & RMP_EJ_M_M) + !!(l->flags & RMP_EJ_M_N);
    }
    ADDU("cj_chapter_m_length", len);
    for (unsigned i = 0; i < m->count; i++) {
      const rmp_ej_param_log *l = &m->log[i];
      ADDU("cj_chapter_m_log_sflag", l->s); ADDU("cj_chapter_m_log_pnum_lsb", l->pnum_lsb);
      if (!omit) { ADDU("cj_chapter_m_log_qflag", l->q); ADDU("cj_chapter_m_log_pnum_msb", l->pnum_msb); }
      ADDU("cj_chapter_m_log_jflag", !!(l->flags & RMP_EJ_M_J));
      ADDU("cj_chapter_m_log_kflag", !!(l->flags & RMP_EJ_M_K));
      ADDU("cj_chapter_m_log_lflag", !!(l->flags & RMP_EJ_M_L));
      ADDU("cj_chapter_m_log_mflag", !!(l->flags & RMP_EJ_M_M));
      ADDU("cj_chapter_m_log_nflag", !!(l->flags & RMP_EJ_M_N));
      ADDU("cj_chapter_m_log_tflag", !!(l->flags & RMP_EJ_M_T));
      ADDU("cj_chapter_m_log_vflag", !!(l->flags & RMP_EJ_M_V));
      ADDU("cj_chapter_m_log_rflag", !!(l->flags & RMP_EJ_M_R));
      if (l->flags & RMP_EJ_M_J) ADDU("cj_chapter_m_log_msb", l->entry_msb & 127);
      if (l->flags & RMP_EJ_M_K) ADDU("cj_chapter_m_log_lsb", l->entry_lsb & 127);
      if (l->flags & RMP_EJ_M_L) {
        ADDU("cj_chapter_m_log_a_button_gflag", l->a_button >> 15);
        ADDU("cj_chapter_m_log_a_button_xflag", (l->a_button >> 14) & 1);
        ADDU("cj_chapter_m_log_a_button", l->a_button & 0x3FFF);
      }
    }
  }
  if (cj->toc & RMP_EJ_TOC_W) {
    ADDU("cj_chapter_w_sflag", cj->w.s); ADDU("cj_chapter_w_first", cj->w.first);
    ADDU("cj_chapter_w_rflag", cj->w.r); ADDU("cj_chapter_w_second", cj->w.second);
  }
  if (cj->toc & RMP_EJ_TOC_N) {
    const rmp_ej_chap_n *n = &cj->n;
    ADDU("cj_chapter_n_bflag", n->b);
    ADDU("cj_chapter_n_length", n->count == 128 ? 127 : n->count);
    ADDU("cj_chapter_n_low", n->low);
    ADDU("cj_chapter_n_high", n->high);
    for (unsigned i = 0; i < n->count; i++) {
      ADDU("cj_chapter_n_log_sflag", n->log[i].s); ADDU("cj_chapter_n_log_note", n->log[i].notenum);
      ADDU("cj_chapter_n_log_yflag", n->log[i].y); ADDU("cj_chapter_n_log_velocity", n->log[i].velocity);
    }
    if (n->low <= n->high)
      for (unsigned o = n->low; o <= n->high; o++) ADDU("cj_chapter_n_log_octet", n->offbits[o]);
  }
  if (cj->toc & RMP_EJ_TOC_E) {
    ADDU("cj_chapter_e_sflag", cj->e.s);
    ADDU("cj_chapter_e_length", cj->e.log[0].notenum); /* Wireshark quirk, see the top */
    for (unsigned i = 0; i < cj->e.count; i++) {
      const rmp_ej_extra_log *l = &cj->e.log[i];
      ADDU("cj_chapter_e_log_sflag", l->s); ADDU("cj_chapter_e_log_note", l->notenum);
      ADDU("cj_chapter_n_log_vflag", l->v);
      if (l->v) ADDU("cj_chapter_e_log_velocity", l->value);
      else ADDU("cj_chapter_e_log_count", l->value);
    }
  }
  if (cj->toc & RMP_EJ_TOC_T) { ADDU("cj_chapter_t_sflag", cj->t.s); ADDU("cj_chapter_t_pressure", cj->t.pressure); }
  if (cj->toc & RMP_EJ_TOC_A) {
    ADDU("cj_chapter_a_sflag", cj->a.s);
    ADDU("cj_chapter_a_length", cj->a.log[0].notenum); /* Wireshark quirk */
    for (unsigned i = 0; i < cj->a.count; i++) {
      const rmp_ej_poly_log *l = &cj->a.log[i];
      ADDU("cj_chapter_a_log_sflag", l->s); ADDU("cj_chapter_a_log_note", l->notenum);
      ADDU("cj_chapter_a_log_xflag", l->x); ADDU("cj_chapter_a_log_pressure", l->pressure);
    }
  }
  return 0;
}

/* ---- scenarios ------------------------------------------------------------ */
typedef struct { uint8_t b[12]; uint8_t n; uint8_t pkt; } ev;
#define E3(p, a, b, c) { { a, b, c, 0 }, 3, p }
#define E2(p, a, b) { { a, b, 0, 0 }, 2, p }
#define E1(p, a) { { a, 0, 0, 0 }, 1, p }
#define END { { 0 }, 0, 0 }

/* Each scenario: messages in packets 1..k of a fresh sender; the journal of
 * the packet after the last one is the one put on the wire. */
static const ev sc_notes[] = { /* N: note logs and OFFBITS, B = 0; E: release velocity */
  E3(1, 0x90, 60, 100), E3(1, 0x90, 64, 90), E3(2, 0x90, 67, 80), E3(2, 0x80, 60, 64),
  E3(3, 0x80, 64, 20), E3(3, 0x90, 72, 1), END };
static const ev sc_offonly[] = { /* N with OFFBITS only, over two octets; older packet: S = 1, B = 1 */
  E3(1, 0x91, 10, 5), E3(2, 0x81, 10, 64), E3(2, 0x91, 23, 0), E1(3, 0xFE), END };
static const ev sc_ctl[] = { /* C: value, toggle (64) and count (123) tools */
  E3(1, 0xB2, 7, 100), E3(1, 0xB2, 64, 127), E3(2, 0xB2, 64, 0), E3(2, 0xB2, 64, 127),
  E3(2, 0xB2, 10, 3), E3(3, 0xB2, 123, 0), E3(3, 0xB2, 123, 0), END };
static const ev sc_prog[] = { /* P with bank, W, T on channel 16 */
  E3(1, 0xBF, 0, 1), E3(1, 0xBF, 32, 2), E2(1, 0xCF, 9), E3(2, 0xEF, 0x11, 0x22), E2(2, 0xDF, 0x33), END };
static const ev sc_rpn[] = { /* M: RPN 0/0 entry MSB/LSB; U = 1, Z = 1 (short log headers) */
  E3(1, 0xB0, 101, 0), E3(1, 0xB0, 100, 0), E3(1, 0xB0, 6, 2), E3(2, 0xB0, 38, 64), END };
static const ev sc_nrpn[] = { /* M: NRPN 1/2 with decrements (G = 1), RPN 0/1: mixed, full headers; E = 1 */
  E3(1, 0xB1, 99, 1), E3(1, 0xB1, 98, 2), E3(1, 0xB1, 97, 0), E3(1, 0xB1, 97, 0),
  E3(2, 0xB1, 101, 0), E3(2, 0xB1, 100, 1), E3(2, 0xB1, 6, 5), END };
static const ev sc_poly[] = { /* A: X = 1 after All Notes Off; E count is not sent */
  E3(1, 0xA3, 40, 10), E3(1, 0xB3, 123, 0), E3(2, 0xA3, 41, 20), END };
static const ev sc_sys[] = { /* D (reset, tune, song, F4, F9), V, Q with CLOCK */
  E1(1, 0xFF), E1(1, 0xF6), E2(1, 0xF3, 5), E1(1, 0xF4), E1(2, 0xF9), E1(2, 0xFE),
  E3(2, 0xF2, 10, 0), E1(2, 0xFB), E1(3, 0xF8), END };
static const ev sc_start[] = { /* Q after Start: C = 0 (B.3) */
  E1(1, 0xFA), E1(1, 0xFD), END };
static const ev sc_mtc[] = { /* F: COMPLETE (Q = 1, +2 frames) and PARTIAL */
  E2(1, 0xF1, 0x03), E2(1, 0xF1, 0x12), E2(1, 0xF1, 0x24), E2(1, 0xF1, 0x30),
  E2(1, 0xF1, 0x45), E2(1, 0xF1, 0x50), E2(1, 0xF1, 0x61), E2(1, 0xF1, 0x76),
  E2(2, 0xF1, 0x04), E2(2, 0xF1, 0x11), E2(2, 0xF1, 0x22), END };
static const ev sc_mtc7[] = { /* F: COMPLETE only, POINT = 7 */
  E2(1, 0xF1, 0x00), E2(1, 0xF1, 0x10), E2(1, 0xF1, 0x20), E2(1, 0xF1, 0x30),
  E2(1, 0xF1, 0x40), E2(1, 0xF1, 0x50), E2(1, 0xF1, 0x60), E2(1, 0xF1, 0x70), END };

static const ev sc_sysex[] = { /* X: one log (recency tool, COUNT, DATA); A is replaced by its
                                * repeat (same octets, one type) and B is dropped by the GM System
                                * On after it (a Reset State command, A.1): GM On is the only log */
  { { 0xF0, 0x7D, 0x01, 0x02, 0xF7 }, 5, 1 }, { { 0xF0, 0x7D, 0x05, 0xF7 }, 4, 1 },
  { { 0xF0, 0x7D, 0x01, 0x02, 0xF7 }, 5, 2 }, { { 0xF0, 0x7E, 0x7F, 0x09, 0x01, 0xF7 }, 6, 2 }, END };
static const ev sc_refcount[] = { /* E: V = 0 reference counts (on note count 2, off note count 1) */
  E3(1, 0x94, 60, 100), E3(1, 0x94, 60, 90), E3(1, 0x94, 62, 80), E3(2, 0x94, 62, 70),
  E3(2, 0x84, 62, 30), END };

static const ev sc_empty[] = { END }; /* the empty journal: header only (section 5) */
static const ev sc_gp6[] = { /* C: a general-purpose Data Entry (no parameter selected, A.3.4);
                              * P: a program after a Bank Select LSB alone (B = 0, A.2) */
  E3(1, 0xB6, 6, 42), E3(1, 0xB6, 32, 3), E2(2, 0xC6, 7), END };
static const ev sc_ff[] = { /* F: a Full Frame, COMPLETE with Q = 0 (B.4) */
  { { 0xF0, 0x7F, 0x7F, 0x01, 0x01, 0x21, 0x02, 0x03, 0x04, 0xF7 }, 10, 1 }, END };
static const ev sc_rev[] = { /* F: reverse tape, D = 1, COMPLETE as sent, PARTIAL 7..5 */
  E2(1, 0xF1, 0x72), E2(1, 0xF1, 0x61), E2(1, 0xF1, 0x50), E2(1, 0xF1, 0x42),
  E2(1, 0xF1, 0x30), E2(1, 0xF1, 0x23), E2(1, 0xF1, 0x11), E2(1, 0xF1, 0x04),
  E2(2, 0xF1, 0x73), E2(2, 0xF1, 0x60), E2(2, 0xF1, 0x51), END };
/* X: a SysEx in parts (rmp_ej_send_record_part), unfinished, FIRST = 4: its
 * packet-1 part confirmed, packet 2 sent 3 more octets. Built in main. */
static const ev sc_part[] = { END };

static const ev *const scenarios[] = { sc_notes, sc_offonly, sc_ctl, sc_prog, sc_rpn, sc_nrpn,
                                       sc_poly, sc_sys, sc_start, sc_mtc, sc_mtc7, sc_sysex, sc_refcount,
                                       sc_empty, sc_gp6, sc_ff, sc_rev, sc_part };
#define NSC (sizeof scenarios / sizeof scenarios[0])

static int fails;
#define WANT(c) do { if (!(c)) { fprintf(stderr, "journal_pcap: scenario %zu: %s\n", k, #c); fails++; } } while (0)

/* What each scenario is about, checked on the decoded journal. */
static void check(size_t k, const rmp_ej_hdr *h, const rmp_ej_sys *sj, const rmp_ej_chan *cj) {
  switch (k) {
  case 0: /* notes 64 (off, vel 20), 60 (off), 67, 72 on; NoteOff in I-1 */
    WANT(h->s == 0 && cj->s == 0 && cj->n.b == 0 && cj->n.count == 2);
    WANT(cj->n.log[0].notenum == 67 && cj->n.log[0].s == 1 && cj->n.log[1].notenum == 72 && cj->n.log[1].s == 0);
    WANT(cj->n.low == 7 && cj->n.high == 8 && cj->n.offbits[7] == 0x08 && cj->n.offbits[8] == 0x80);
    WANT((cj->toc & RMP_EJ_TOC_E) && cj->e.count == 1 && cj->e.log[0].notenum == 64 && cj->e.log[0].value == 20);
    break;
  case 1:
    WANT(h->s == 0 && cj->s == 1 && cj->n.b == 1 && cj->n.count == 0 && cj->n.low == 1 && cj->n.high == 2);
    break;
  case 2: /* oldest first, in command order within a packet: 7 value, 64 value + toggle (3
           * toggles), 10 value, 123 count 2 */
    WANT(cj->c.count == 5 && cj->c.log[0].number == 7 && cj->c.log[1].number == 64 && cj->c.log[3].number == 10);
    WANT(cj->c.log[1].tool == RMP_EJ_TOOL_VALUE && cj->c.log[2].tool == RMP_EJ_TOOL_TOGGLE && cj->c.log[2].value == 3);
    WANT(cj->c.log[4].number == 123 && cj->c.log[4].tool == RMP_EJ_TOOL_COUNT && cj->c.log[4].value == 2);
    WANT(cj->c.log[4].s == 0 && cj->c.log[0].s == 1 && cj->c.s == 0);
    break;
  case 3:
    WANT(cj->chan == 15 && cj->p.b == 1 && cj->p.bank_msb == 1 && cj->p.bank_lsb == 2 && cj->p.program == 9);
    WANT(cj->w.first == 0x11 && cj->w.second == 0x22 && cj->t.pressure == 0x33 && cj->p.s == 1 && cj->w.s == 0);
    break;
  case 4:
    WANT(cj->m.count == 1 && cj->m.u == 1 && cj->m.z == 1 && cj->m.e == 1 && cj->m.p == 0);
    WANT(cj->m.log[0].flags == (RMP_EJ_M_J | RMP_EJ_M_K | RMP_EJ_M_V) && cj->m.log[0].entry_msb == 2 &&
         cj->m.log[0].entry_lsb == 64);
    break;
  case 5:
    WANT(cj->m.count == 2 && cj->m.u == 0 && cj->m.w == 0 && cj->m.e == 1);
    WANT(cj->m.log[0].q == 1 && cj->m.log[0].a_button == 0x8002 && cj->m.log[0].s == 1);
    WANT(cj->m.log[1].q == 0 && cj->m.log[1].pnum_lsb == 1 && cj->m.log[1].entry_msb == 5 && cj->m.log[1].s == 0);
    break;
  case 6:
    WANT(cj->a.count == 2 && cj->a.log[0].notenum == 40 && cj->a.log[0].x == 1 && cj->a.log[1].x == 0);
    break;
  case 7:
    WANT(sj->d.reset_count == 1 && sj->d.tune_count == 1 && sj->d.song == 5 && sj->d.j.count == 1 && sj->d.y.count == 1);
    WANT(sj->v.count == 1 && sj->q.n == 1 && sj->q.c == 1 && sj->q.clock == 61 && sj->q.s == 0 && sj->d.s == 1);
    break;
  case 8:
    WANT(sj->q.n == 1 && sj->q.c == 0 && sj->d.z.count == 1);
    break;
  case 9: /* frame 00:00:00:03 at 24 fps (MT7 = 6: 30 fps non-drop -> rate 3) */
    WANT(sj->f.c == 1 && sj->f.q == 1 && sj->f.p == 1 && sj->f.point == 2 && sj->f.partial == 0x41200000u);
    WANT(sj->f.complete == rmp_ms_mtc_offset(0x32405016u, 2));
    break;
  case 10:
    WANT(sj->f.c == 1 && sj->f.p == 0 && sj->f.point == 7 && sj->f.complete == 0x20000000u);
    break;
  case 11: /* one log: GM System On, COUNT 4 (fourth SysEx), S = 0 (packet I-1) */
    WANT(h->y == 1 && h->a == 0 && h->s == 0 && sj->s == 0 && sj->x.nlogs == 1);
    WANT(sj->x.s == 0 && sj->x.c == 1 && sj->x.count == 4 && sj->x.sta == 3 && sj->x.d == 1 && sj->x.l == 0);
    WANT(sj->x.data_len == 4 && sj->x.raw[sj->x.data_off] == 0x7E && sj->x.raw[sj->x.raw_len - 1] == 0x81);
    break;
  case 13:
    WANT(h->y == 0 && h->a == 0 && h->s == 1 && h->checkpoint == 1);
    break;
  case 14:
    WANT(cj->chan == 6 && (cj->toc & RMP_EJ_TOC_C) && cj->c.log[0].number == 6 && cj->c.log[0].value == 42);
    WANT(!(cj->toc & RMP_EJ_TOC_M) && (cj->toc & RMP_EJ_TOC_P) && cj->p.b == 0 && cj->p.bank_lsb == 0);
    break;
  case 15:
    WANT(sj->f.c == 1 && sj->f.q == 0 && sj->f.p == 0 && sj->f.d == 0 && sj->f.complete == 0x21020304u);
    WANT(!(sj->toc & RMP_EJ_SYS_X));
    break;
  case 16:
    WANT(sj->f.d == 1 && sj->f.c == 1 && sj->f.q == 1 && sj->f.complete == 0x41302012u);
    WANT(sj->f.p == 1 && sj->f.point == 5 && sj->f.partial == 0x00000103u);
    break;
  case 17: /* by hand, tshark 4.0 not reading FIRST (expect_sys): |S=0|T=0|C=1|F=1|D=1|L=1|STA=0|
            * 3C, COUNT 01, FIRST 04, DATA 05 06 87 */
    WANT(sj->x.nlogs == 1 && sj->x.sta == 0 && sj->x.f == 1 && sj->x.first == 4 && sj->x.c == 1 && sj->x.l == 1);
    WANT(sj->x.raw_len == 6 && !memcmp(sj->x.raw, "\x3C\x01\x04\x05\x06\x87", 6));
    break;
  case 12: /* note 60 on with count 2 (V = 0), note 62 off with count 1 and release velocity 30 */
    WANT(cj->chan == 4 && cj->n.count == 1 && cj->n.log[0].notenum == 60 && (cj->toc & RMP_EJ_TOC_E));
    WANT(cj->e.count == 3 && cj->e.log[0].notenum == 60 && cj->e.log[0].v == 0 && cj->e.log[0].value == 2);
    WANT(cj->e.log[1].notenum == 62 && cj->e.log[1].v == 0 && cj->e.log[1].value == 1);
    WANT(cj->e.log[2].notenum == 62 && cj->e.log[2].v == 1 && cj->e.log[2].value == 30);
    break;
  }
}

/* Known Wireshark 4.0 bugs in a journal (see the top of this file): a
 * Chapter M with P = 1, a Chapter X log with F = 1, a Chapter Q with S = 1
 * (its T flag is read through the S bit's mask, 0x80, so TIMETOOLS is read
 * where there is none). Such a journal's octets are checked here instead:
 * the system journal and every channel journal re-encode from their
 * decoded fields to the same octets. */
typedef struct { const uint8_t *j; size_t off; int bug, bad; } bug_ctx;
static int bug_chan(void *ud, const rmp_ej_chan *cj) {
  bug_ctx *b = ud;
  static uint8_t tmp[1100];
  if ((cj->toc & RMP_EJ_TOC_M) && cj->m.p) b->bug = 1;
  int r = rmp_ej_chan_encode(cj, tmp, sizeof tmp);
  if (r != cj->length || memcmp(tmp, b->j + b->off, (size_t)r)) b->bad = 1;
  b->off += cj->length;
  return 0;
}
static int tshark_bug(const uint8_t *j, size_t jl, int *bad) {
  static rmp_ej_chan scratch;
  static rmp_ej_sys sj;
  rmp_ej_hdr h;
  bug_ctx b = { j, 0, 0, 0 };
  if (rmp_ej_parse(j, jl, &h, &sj, NULL, NULL, NULL) != (int)jl) { *bad = 1; return 1; }
  b.off = RMP_EJ_HDR_SIZE + (h.y ? sj.length : 0u);
  if (h.y) {
    uint8_t tmp[1100];
    if (rmp_ej_sys_encode(&sj, tmp, sizeof tmp) != sj.length || memcmp(tmp, j + RMP_EJ_HDR_SIZE, sj.length)) b.bad = 1;
    if ((sj.toc & RMP_EJ_SYS_Q) && sj.q.s) b.bug = 1;
  }
  if (rmp_ej_parse(j, jl, &h, &sj, &scratch, bug_chan, &b) != (int)jl) b.bad = 1;
  if (h.y && (sj.toc & RMP_EJ_SYS_X)) {
    rmp_ej_x_log l;
    for (size_t o = 0; o < sj.x.raw_len;) {
      int r = rmp_ej_x_log_decode(sj.x.raw + o, sj.x.raw_len - o, &l);
      if (r <= 0) { b.bad = 1; break; }
      uint8_t tmp[1100];
      if (rmp_ej_x_log_encode(&l, tmp, sizeof tmp) != r || memcmp(tmp, sj.x.raw + o, (size_t)r)) {
        /* DATA decodes with its last MSB set; the encoder sets it itself */
        uint8_t d[1100];
        for (unsigned i = 0; i < l.data_len; i++) d[i] = l.data[i] & 127;
        l.data = d;
        if (rmp_ej_x_log_encode(&l, tmp, sizeof tmp) != r || memcmp(tmp, sj.x.raw + o, (size_t)r)) b.bad = 1;
      }
      if (l.f) b.bug = 1;
      o += (size_t)r;
    }
  }
  *bad = b.bad;
  return b.bug;
}

static unsigned stream_rnd(uint64_t *x, unsigned n) {
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return (unsigned)((*x >> 20) % n);
}

/* Every journal of a random stream: notes, pedals, controllers, bank and
 * program, bend, pressures, NRPNs with increments, a general-purpose 6,
 * clock with transport and Song Position, MTC with a Full Frame, GM System
 * On, SysEx whole and in parts; feedback every 4 packets. */
static int stream_mode(void) {
  static rmp_ej_sender s;
  rmp_ej_send_free(&s); rmp_ej_send_init(&s, NULL);
  uint64_t x = 0x2545F4914F6CDD1Dull;
#define RND(n) stream_rnd(&x, (n))
  uint8_t j[1400];
  static uint8_t part[600];
  for (size_t i = 0; i < sizeof part; i++) part[i] = (uint8_t)(i & 127);
  size_t psent = 0;
  int in_part = 0, by_hand = 0;
  for (uint16_t seq = 1; seq <= 3000; seq++) {
    int jl = rmp_ej_send_encode_at(&s, seq, 10u * seq, j, sizeof j);
    if (jl < 3) { fprintf(stderr, "journal_pcap stream: packet %u: %d\n", seq, jl); return 1; }
    int k = 1 + (int)RND(4);
    for (int m = 0; m < k; m++) {
      uint8_t ch = (uint8_t)RND(16), b[10];
      size_t n = 3;
      unsigned r = RND(100);
      if (in_part || r == 99) {
        size_t room = rmp_ej_send_part_room(&s), len = sizeof part - psent;
        if (len > 200) len = 200;
        if (len > room) len = room;
        if (len || !in_part) {
          rmp_ej_send_record_part(&s, seq, part + psent, len, !in_part, psent + len == sizeof part);
          psent += len;
        }
        in_part = psent < sizeof part;
        if (!in_part) psent = 0;
        break;
      }
      if (r < 30) { b[0] = (uint8_t)(0x90 | ch); b[1] = (uint8_t)(40 + RND(40)); b[2] = (uint8_t)RND(128); }
      else if (r < 40) { b[0] = (uint8_t)(0x80 | ch); b[1] = (uint8_t)(40 + RND(40)); b[2] = (uint8_t)RND(128); }
      else if (r < 50) {
        static const uint8_t ctl[] = { 1, 7, 64, 66, 0, 32, 123, 121 };
        b[0] = (uint8_t)(0xB0 | ch); b[1] = ctl[RND(8)]; b[2] = (uint8_t)RND(128);
      }
      else if (r < 60) { b[0] = (uint8_t)(0xB0 | ch); b[1] = (uint8_t)(98 + RND(2)); b[2] = (uint8_t)RND(40); }
      else if (r < 68) {
        static const uint8_t param_ctl[] = { 6, 38, 96, 97 };
        b[0] = (uint8_t)(0xB0 | ch); b[1] = param_ctl[RND(4)]; b[2] = (uint8_t)RND(128);
      }
      else if (r < 72) { b[0] = (uint8_t)(0xC0 | ch); b[1] = (uint8_t)RND(128); n = 2; }
      else if (r < 76) { b[0] = (uint8_t)(0xE0 | ch); b[1] = (uint8_t)RND(128); b[2] = (uint8_t)RND(128); }
      else if (r < 79) { b[0] = (uint8_t)(0xD0 | ch); b[1] = (uint8_t)RND(128); n = 2; }
      else if (r < 82) { b[0] = (uint8_t)(0xA0 | ch); b[1] = (uint8_t)RND(128); b[2] = (uint8_t)RND(128); }
      else if (r < 88) { b[0] = 0xF8; n = 1; }
      else if (r < 91) { b[0] = (uint8_t)((const uint8_t[]){ 0xFA, 0xFB, 0xFC })[RND(3)]; n = 1; }
      else if (r < 92) { b[0] = 0xF2; b[1] = (uint8_t)RND(128); b[2] = 0; }
      else if (r < 96) { b[0] = 0xF1; b[1] = (uint8_t)((RND(8) << 4) | RND(16)); n = 2; }
      else if (r < 97) { memcpy(b, "\xF0\x7F\x7F\x01\x01\x21\x02\x03\x04\xF7", 10); n = 10; }
      else if (r < 98) { memcpy(b, "\xF0\x7E\x7F\x09\x01\xF7", 6); n = 6; }
      else { memcpy(b, "\xF0\x7D\x01\x02\xF7", 5); b[2] = (uint8_t)RND(128); n = 5; }
      rmp_ej_send_record(&s, seq, b, n);
    }
    if (seq % 4 == 0) rmp_ej_send_ack(&s, (uint16_t)(seq - 2));
    int bad = 0;
    if (tshark_bug(j, (size_t)jl, &bad)) {
      by_hand++;
      if (bad) { fprintf(stderr, "journal_pcap stream: packet %u does not re-encode\n", seq); return 1; }
      continue;
    }
    if (bad) { fprintf(stderr, "journal_pcap stream: packet %u does not re-encode\n", seq); return 1; }
    uint8_t hdr[13] = { 0x80, 96, (uint8_t)(seq >> 8), (uint8_t)seq, 0, 0, (uint8_t)(seq >> 8), (uint8_t)seq,
                        0x11, 0x22, 0x33, 0x44, 0x40 };
    printf("000000");
    for (int i = 0; i < 13; i++) printf(" %02x", hdr[i]);
    for (int i = 0; i < jl; i++) printf(" %02x", j[i]);
    printf("\n");
  }
#undef RND
  fprintf(stderr, "journal_pcap stream: %d journals with a Chapter M P = 1, Chapter X F = 1 or Chapter Q S = 1 "
          "(Wireshark 4.0 bugs) checked by re-encoding, not by tshark\n", by_hand);
  return 0;
}

/* Every packet the stream sender (midi_stream.c, what MidiSession and
 * AppleMIDI send) makes for a random stream with SysEx over 256 data
 * octets and of 2 KB (Chapter X partial forms: unfinished, FIRST, the list
 * tool, finished), with its guards and stalls: whole payloads, command
 * section and journal. Feedback confirms 2 packets behind every 4th
 * packet, and whenever the sender waits. A packet whose journal meets a
 * Wireshark 4.0 bug is checked by re-encoding instead (tshark_bug). */
static int session_mode(void) {
  rmp_stream_config c = {.rate = 10000.0, .payload_budget = 1200, .max_sysex = 4096, .journal_history = 256,
                         .recovery = true, .guard_ms = 20.0};
  static rmp_stream_tx tx;
  rmp_cmd_encoder enc;
  rmp_stream_tx_init(&tx);
  rmp_cmd_encoder_init(&enc);
  uint64_t x = 0x9E3779B97F4A7C15ull;
#define RND(n) stream_rnd(&x, (n))
  static uint8_t big[2048], mid[300], store[64][4];
  big[0] = mid[0] = 0xF0;
  for (size_t i = 1; i < sizeof big - 1; i++) big[i] = (uint8_t)((i * 37) & 127);
  for (size_t i = 1; i < sizeof mid - 1; i++) mid[i] = (uint8_t)((i * 11) & 127);
  big[sizeof big - 1] = mid[sizeof mid - 1] = 0xF7;
  rmp_cmd_msg q[64];
  size_t nq = 0;
  int by_hand = 0, parts = 0, stalls = 0, out = 0;
  uint16_t seq = 1;
  double now = 0;
  for (int step = 0; step < 4000 && out < 3000; step++, now += 5) {
    /* refill the queue: a few messages, now and then a long SysEx */
    while (nq < 8) {
      unsigned r = RND(200);
      static unsigned made;
      uint8_t *b = store[made++ % 64]; /* the queue holds 8: a slot is free again long before */
      if (r == 0) q[nq++] = (rmp_cmd_msg){0, big, sizeof big};
      else if (r < 3) q[nq++] = (rmp_cmd_msg){0, mid, sizeof mid};
      else if (r < 100) { b[0] = (uint8_t)(0x90 | RND(16)); b[1] = (uint8_t)(40 + RND(40)); b[2] = (uint8_t)RND(128); q[nq++] = (rmp_cmd_msg){0, b, 3}; }
      else if (r < 150) { b[0] = (uint8_t)(0xB0 | RND(16)); b[1] = (uint8_t)RND(120); b[2] = (uint8_t)RND(128); q[nq++] = (rmp_cmd_msg){0, b, 3}; }
      else if (r < 170) { b[0] = 0xF8; q[nq++] = (rmp_cmd_msg){0, b, 1}; }
      else { b[0] = (uint8_t)(0xE0 | RND(16)); b[1] = (uint8_t)RND(128); b[2] = (uint8_t)RND(128); q[nq++] = (rmp_cmd_msg){0, b, 3}; }
    }
    uint8_t pkt[12 + 1500];
    rmp_stream_info info;
    size_t jl;
    int n = rmp_stream_tx_packet(&tx, &c, &enc, seq, q, nq, now, pkt + 12, 1488, &info, &jl);
    if (n < 0) { fprintf(stderr, "journal_pcap session: packet %u: %d\n", seq, n); return 1; }
    if (n == 0) {
      stalls++;
      n = rmp_stream_tx_guard(&tx, &c, seq, now, pkt + 12, 1488);
      rmp_stream_tx_ack(&tx, (uint16_t)(seq - 1)); /* the peer confirms: the SysEx goes on */
      if (n <= 0) continue;
      jl = (size_t)n - 1;
    } else {
      rmp_stream_tx_sent(&tx, &c, seq, q, &info, now);
      if (info.cmd.sysex_partial || info.sx_from) parts++;
      /* keep what was not sent (a SysEx partly sent stays first) */
      memmove(q, q + info.cmd.nmsgs, (nq - info.cmd.nmsgs) * sizeof q[0]);
      nq -= info.cmd.nmsgs;
    }
    if (seq % 4 == 0) rmp_stream_tx_ack(&tx, (uint16_t)(seq - 2));
    const uint8_t *j = pkt + 12 + (size_t)n - jl;
    int bad = 0;
    uint16_t this = seq++;
    if (jl && tshark_bug(j, jl, &bad)) {
      by_hand++;
      if (bad) { fprintf(stderr, "journal_pcap session: packet %u does not re-encode\n", this); return 1; }
      continue;
    }
    if (bad) { fprintf(stderr, "journal_pcap session: packet %u does not re-encode\n", this); return 1; }
    uint8_t hdr[12] = { 0x80, 96, (uint8_t)(this >> 8), (uint8_t)this, 0, 0, (uint8_t)(this >> 8), (uint8_t)this,
                        0x11, 0x22, 0x33, 0x44 };
    memcpy(pkt, hdr, 12);
    printf("000000");
    for (int i = 0; i < 12 + n; i++) printf(" %02x", pkt[i]);
    printf("\n");
    out++;
  }
#undef RND
  rmp_stream_tx_free(&tx);
  fprintf(stderr, "journal_pcap session: %d packets, %d with a SysEx part, %d waits; %d journals with a Chapter X "
          "F = 1, Chapter M P = 1 or Chapter Q S = 1 (Wireshark 4.0 bugs) checked by re-encoding, not by tshark\n",
          out, parts, stalls, by_hand);
  return parts > 0 && stalls > 0 ? 0 : 1;
}

int main(int argc, char **argv) {
  const char *mode = argc == 2 ? argv[1] : "";
  if (!strcmp(mode, "stream")) return stream_mode();
  if (!strcmp(mode, "session")) return session_mode();
  int hex = !strcmp(mode, "hex"), exp = !strcmp(mode, "expect");
  if (!strcmp(mode, "fields")) {
    for (size_t i = 0; i < NFIELDS; i++) puts(fields[i]);
    return 0;
  }
  if (!hex && !exp) {
    fprintf(stderr, "usage: %s hex|fields|expect\n", argv[0]);
    return 2;
  }
  static rmp_ej_sender s;
  static rmp_ej_chan cj, last;
  for (size_t k = 0; k < NSC; k++) {
    rmp_ej_send_free(&s); rmp_ej_send_init(&s, NULL);
    uint8_t j[1400];
    const ev *e = scenarios[k];
    uint16_t seq = 1;
    for (; e->n; e++) {
      while (seq < e->pkt) { rmp_ej_send_encode(&s, seq, j, sizeof j); seq++; }
      if (seq == e->pkt) { rmp_ej_send_encode(&s, seq, j, sizeof j); seq++; }
      rmp_ej_send_record(&s, e->pkt, e->b, e->n);
    }
    if (e == sc_part + 0 && scenarios[k] == sc_part) {
      static const uint8_t a[] = { 1, 2, 3, 4 }, b[] = { 5, 6, 7 };
      rmp_ej_send_encode(&s, 1, j, sizeof j);
      rmp_ej_send_record_part(&s, 1, a, sizeof a, 1, 0);
      rmp_ej_send_ack(&s, 1);
      rmp_ej_send_encode(&s, 2, j, sizeof j);
      rmp_ej_send_record_part(&s, 2, b, sizeof b, 0, 0);
      seq = 3;
    }
    int jl = rmp_ej_send_encode(&s, seq, j, sizeof j);
    if (jl <= 0) { fprintf(stderr, "journal_pcap: scenario %zu: empty journal (%d)\n", k, jl); return 1; }
    memset(vals, 0, sizeof vals);
    rmp_ej_hdr h;
    rmp_ej_sys sj;
    memset(&sj, 0, sizeof sj);
    memset(&last, 0, sizeof last);
    int r = rmp_ej_parse(j, (size_t)jl, &h, &sj, &cj, NULL, NULL);
    if (r != jl) { fprintf(stderr, "journal_pcap: scenario %zu: our decoder says %d of %d\n", k, r, jl); return 1; }
    if (h.a) memcpy(&last, &cj, sizeof cj);
    check(k, &h, &sj, &last);
    ADDU("s_flag", h.s); ADDU("y_flag", h.y); ADDU("a_flag", h.a); ADDU("h_flag", h.h);
    ADDU("total_channels", h.totchan); ADDU("check_Seq_num", h.checkpoint);
    if (h.y) expect_sys(j + 3, &sj);
    if (h.a) rmp_ej_parse(j, (size_t)jl, &h, NULL, &cj, expect_chan, NULL);
    if (exp) {
      for (size_t i = 0; i < NFIELDS; i++) printf("%zu\t%s\t%s\n", k + 1, fields[i], vals[i]);
    } else {
      /* RTP: V=2 PT=96 seq k+1, timestamp, SSRC; MIDI: B=0 J=1 Z=0 P=0 LEN=0 */
      uint8_t pkt[13 + sizeof j];
      uint16_t rs = (uint16_t)(k + 1);
      uint32_t ts = 1000u * (uint32_t)(k + 1);
      uint8_t hdr[13] = { 0x80, 96, (uint8_t)(rs >> 8), (uint8_t)rs, (uint8_t)(ts >> 24), (uint8_t)(ts >> 16),
                          (uint8_t)(ts >> 8), (uint8_t)ts, 0x11, 0x22, 0x33, 0x44, 0x40 };
      memcpy(pkt, hdr, 13);
      memcpy(pkt + 13, j, (size_t)jl);
      printf("000000");
      for (int i = 0; i < 13 + jl; i++) printf(" %02x", pkt[i]);
      printf("\n");
    }
  }
  return fails ? 1 : 0;
}
