/* RTP MIDI command section encoder/decoder (RFC 6295 section 3). See midi_cmd.h. */
#include "midi_cmd.h"

#include <string.h>

enum { SX_IDLE = 0, SX_COLLECT = 1, SX_SKIP = 2 };

/* ---- header ---- */

int rmp_cmd_header_parse(const uint8_t *buf, size_t len, rmp_cmd_header *h) {
  if (!buf || !h) return RMP_E_ARG;
  if (len < 1) return RMP_E_SHORT_HEADER;
  uint8_t b0 = buf[0];
  h->b = (b0 & 0x80) != 0;
  h->j = (b0 & 0x40) != 0;
  h->z = (b0 & 0x20) != 0;
  h->p = (b0 & 0x10) != 0;
  if (h->b) {
    if (len < 2) return RMP_E_SHORT_HEADER;
    h->len = (uint16_t)(((b0 & 0x0F) << 8) | buf[1]);
    h->hdr_len = 2;
  } else {
    h->len = b0 & 0x0F;
    h->hdr_len = 1;
  }
  if ((size_t)h->len > len - h->hdr_len) return RMP_E_LEN_PAST_END;
  return (int)(h->hdr_len + h->len);
}

/* ---- delta times ---- */

int rmp_delta_size(uint32_t d) {
  if (d > RMP_CMD_MAX_DELTA) return RMP_E_DELTA_RANGE;
  if (d < (1u << 7)) return 1;
  if (d < (1u << 14)) return 2;
  if (d < (1u << 21)) return 3;
  return 4;
}

int rmp_delta_encode(uint32_t d, uint8_t out[4]) {
  int n = rmp_delta_size(d);
  if (n < 0) return n;
  for (int i = 0; i < n; i++) {
    int shift = 7 * (n - 1 - i);
    uint8_t v = (uint8_t)((d >> shift) & 0x7F);
    out[i] = (uint8_t)(i < n - 1 ? (v | 0x80) : v);
  }
  return n;
}

int rmp_delta_decode(const uint8_t *buf, size_t len, uint32_t *delta) {
  uint32_t d = 0;
  for (size_t i = 0; i < 4; i++) {
    if (i >= len) return RMP_E_TRUNCATED;
    d = (d << 7) | (buf[i] & 0x7Fu);
    if (!(buf[i] & 0x80)) {
      *delta = d;
      return (int)i + 1;
    }
  }
  return RMP_E_DELTA_TOO_LONG;
}

/* ---- encoder ---- */

void rmp_cmd_encoder_init(rmp_cmd_encoder *enc) { memset(enc, 0, sizeof *enc); }

int rmp_cmd_encode(rmp_cmd_encoder *enc, const rmp_cmd_msg *msgs, size_t n, bool journal,
                   size_t budget, uint8_t *out, size_t out_cap, rmp_cmd_enc_info *info) {
  if (!enc || !out || !info || (n > 0 && !msgs)) return RMP_E_ARG;
  memset(info, 0, sizeof *info);
  size_t cap = budget ? budget : RMP_CMD_DEFAULT_BUDGET;
  if (cap > out_cap) cap = out_cap;
  if (cap > 2 + RMP_CMD_MAX_LIST) cap = 2 + RMP_CMD_MAX_LIST;
  if (cap < RMP_CMD_MIN_BUDGET) return RMP_E_NO_SPACE;

  uint8_t *list = out + 2;          /* assume a 2-octet header while filling */
  size_t room = cap - 2, pos = 0;
  uint8_t running = 0;
  bool z = false;
  size_t i = 0;

  for (; i < n; i++) {
    const rmp_cmd_msg *m = &msgs[i];
    bool cont = (i == 0 && enc->sysex_off > 0);
    int rc;
    if (cont) {
      if (!m->data || m->len != enc->sysex_len || m->data[0] != 0xF0 ||
          enc->sysex_off >= m->len)
        return RMP_E_SYSEX_MISMATCH;
      rc = RMP_OK; /* validated when it was started */
    } else {
      rc = m->data ? rmp_midi_msg_validate(m->data, m->len) : RMP_E_BAD_MSG;
      if (rc == RMP_OK && m->delta > RMP_CMD_MAX_DELTA) rc = RMP_E_DELTA_RANGE;
    }
    if (rc != RMP_OK) {
      if (i == 0) return rc;
      break; /* the next call reports it */
    }
    uint32_t delta = cont ? 0 : m->delta;
    uint8_t dbuf[4];
    size_t dsz = (pos == 0 && delta == 0) ? 0 : (size_t)rmp_delta_encode(delta, dbuf);
    uint8_t st = m->data[0];

    if (st == 0xF0) {
      size_t off = cont ? enc->sysex_off : 1;
      size_t r = m->len - 1 - off;  /* data bytes left, final F7 excluded */
      size_t whole = dsz + 1 + r + 1;
      if (pos + whole <= room) {    /* whole message, or its last segment */
        memcpy(list + pos, dbuf, dsz);
        pos += dsz;
        list[pos++] = cont ? 0xF7 : 0xF0;
        memcpy(list + pos, m->data + off, r);
        pos += r;
        list[pos++] = 0xF7;
        enc->sysex_off = 0;
        enc->sysex_len = 0;
      } else {
        size_t avail = room - pos > dsz + 2 ? room - pos - dsz - 2 : 0;
        /* here avail < r, as the whole did not fit */
        if (avail == 0 || (pos > 0 && avail < RMP_CMD_MIN_SYSEX_SEGMENT)) break;
        size_t k = avail;
        memcpy(list + pos, dbuf, dsz);
        pos += dsz;
        list[pos++] = cont ? 0xF7 : 0xF0;
        memcpy(list + pos, m->data + off, k);
        pos += k;
        list[pos++] = 0xF0;         /* "more segments follow" */
        enc->sysex_off = off + k;
        enc->sysex_len = m->len;
        info->sysex_partial = true;
      }
      if (dsz > 0 && i == 0) z = true;
      info->ticks += delta;
      running = 0;
      if (info->sysex_partial) break;
      continue;
    }

    bool rs = rmp_midi_is_channel(st) && st == running;
    size_t sz = dsz + m->len - (rs ? 1 : 0);
    if (pos + sz > room) break;
    if (dsz > 0 && pos == 0) z = true;
    memcpy(list + pos, dbuf, dsz);
    pos += dsz;
    memcpy(list + pos, m->data + (rs ? 1 : 0), m->len - (rs ? 1 : 0));
    pos += m->len - (rs ? 1 : 0);
    info->ticks += delta;
    if (rmp_midi_is_channel(st)) running = st;
    else if (rmp_midi_is_common(st)) running = 0; /* real-time: unchanged */
  }

  info->nmsgs = i;
  info->list_len = pos;
  uint8_t flags = (uint8_t)((journal ? 0x40 : 0) | (z ? 0x20 : 0)); /* P = 0 */
  if (pos <= 15) {
    out[0] = (uint8_t)(flags | pos);
    memmove(out + 1, list, pos);
    return (int)(1 + pos);
  }
  out[0] = (uint8_t)(0x80 | flags | (pos >> 8));
  out[1] = (uint8_t)(pos & 0xFF);
  return (int)(2 + pos);
}

/* ---- decoder ---- */

void rmp_cmd_decoder_init(rmp_cmd_decoder *d, uint8_t *sysex_buf, size_t sysex_cap) {
  memset(d, 0, sizeof *d);
  d->sysex_buf = sysex_buf;
  d->sysex_cap = sysex_buf ? sysex_cap : 0;
}

bool rmp_cmd_decoder_sysex_seen(const rmp_cmd_decoder *d) {
  return d->n_sysex_too_long || d->sysex_state == SX_COLLECT;
}

void rmp_cmd_decoder_set_buffer(rmp_cmd_decoder *d, uint8_t *sysex_buf, size_t sysex_cap) {
  d->sysex_buf = sysex_buf;
  d->sysex_cap = sysex_buf ? sysex_cap : 0;
}

void rmp_cmd_decoder_reset(rmp_cmd_decoder *d) {
  d->sysex_state = SX_IDLE;
  d->sysex_len = 0;
  d->sysex_overflow = false;
}

static void sx_put(rmp_cmd_decoder *d, uint8_t b) {
  if (d->sysex_len < d->sysex_cap) d->sysex_buf[d->sysex_len++] = b;
  else d->sysex_overflow = true;
}

int rmp_cmd_iter_init(rmp_cmd_iter *it, rmp_cmd_decoder *dec, const uint8_t *buf, size_t len) {
  if (!it || !dec) return RMP_E_ARG;
  memset(it, 0, sizeof *it);
  it->dec = dec;
  int rc = rmp_cmd_header_parse(buf, len, &it->hdr);
  if (rc < 0) {
    it->err = rc;
    return rc;
  }
  it->list = buf + it->hdr.hdr_len;
  it->len = it->hdr.len;
  it->first = true;
  return rc;
}

static int fail(rmp_cmd_iter *it, int err) {
  it->err = err;
  return err;
}

static void ev_msg(rmp_cmd_iter *it, rmp_cmd_event *ev, const uint8_t *data, size_t len) {
  ev->time = it->time;
  ev->delta = it->time - it->last_time;
  it->last_time = it->time;
  ev->data = data;
  ev->len = len;
  ev->kind = rmp_midi_kind_of(data[0]);
  ev->error = 0;
}

static void ev_err(rmp_cmd_iter *it, rmp_cmd_event *ev, int err) {
  ev->time = it->time;
  ev->delta = 0;
  ev->data = NULL;
  ev->len = 0;
  ev->kind = RMP_MIDI_SYSEX;
  ev->error = err;
}

/* Scan the data of the SysEx command we are in. Returns 1 with an event,
 * 0 when the command ended without an event, or a fatal error. */
static int sysex_scan(rmp_cmd_iter *it, rmp_cmd_event *ev) {
  rmp_cmd_decoder *d = it->dec;
  while (it->pos < it->len) {
    uint8_t b = it->list[it->pos++];
    if (b < 0x80) {
      if (d->sysex_state == SX_COLLECT) sx_put(d, b);
      continue;
    }
    if (b >= 0xF8) { /* real-time inside SysEx: its own event, in order */
      ev_msg(it, ev, it->list + it->pos - 1, 1);
      return 1;
    }
    it->in_sysex_cmd = false;
    if (b == 0xF0) return 0; /* segment ends, more to come in a later command */
    if (b == 0xF4) {         /* cancel */
      d->n_sysex_cancelled++;
      rmp_cmd_decoder_reset(d);
      return 0;
    }
    if (b == 0xF7) {         /* end */
      uint8_t state = d->sysex_state;
      if (state == SX_SKIP) {
        d->n_sysex_no_start++;
        rmp_cmd_decoder_reset(d);
        ev_err(it, ev, RMP_E_SYSEX_NO_START);
        return 1;
      }
      sx_put(d, 0xF7);
      if (d->sysex_overflow) {
        d->n_sysex_too_long++;
        rmp_cmd_decoder_reset(d);
        ev_err(it, ev, RMP_E_SYSEX_TOO_LONG);
        return 1;
      }
      size_t n = d->sysex_len;
      rmp_cmd_decoder_reset(d);
      ev_msg(it, ev, d->sysex_buf, n);
      return 1;
    }
    rmp_cmd_decoder_reset(d);
    return fail(it, RMP_E_STATUS_IN_DATA);
  }
  rmp_cmd_decoder_reset(d);
  it->in_sysex_cmd = false;
  return fail(it, RMP_E_TRUNCATED);
}

int rmp_cmd_iter_next(rmp_cmd_iter *it, rmp_cmd_event *ev) {
  if (!it || !ev) return RMP_E_ARG;
  if (it->err) return it->err;
  rmp_cmd_decoder *d = it->dec;
  for (;;) {
    if (it->in_sysex_cmd) {
      int rc = sysex_scan(it, ev);
      if (rc != 0) return rc;
      continue;
    }
    if (it->pos >= it->len) return 0;

    uint32_t delta = 0;
    if (!it->first || it->hdr.z) {
      int n = rmp_delta_decode(it->list + it->pos, it->len - it->pos, &delta);
      if (n == RMP_E_TRUNCATED) return fail(it, RMP_E_DELTA_NO_CMD);
      if (n < 0) return fail(it, n);
      it->pos += (size_t)n;
    }
    it->first = false;
    it->time += delta;
    if (it->pos >= it->len) return fail(it, RMP_E_DELTA_NO_CMD);

    uint8_t st = it->list[it->pos];
    if (st < 0x80) {
      if (!it->running) return fail(it, RMP_E_NO_STATUS);
      st = it->running; /* running status: data starts here */
    } else {
      it->pos++;
    }

    if (st == 0xF0 || st == 0xF7) {
      int pend = 0;
      it->running = 0;
      if (st == 0xF0) {
        if (d->sysex_state == SX_COLLECT) { d->n_sysex_incomplete++; pend = RMP_E_SYSEX_INCOMPLETE; }
        else if (d->sysex_state == SX_SKIP) { d->n_sysex_no_start++; pend = RMP_E_SYSEX_NO_START; }
        rmp_cmd_decoder_reset(d);
        d->sysex_state = SX_COLLECT;
        sx_put(d, 0xF0);
      } else if (d->sysex_state == SX_IDLE) {
        d->sysex_state = SX_SKIP;
      }
      it->in_sysex_cmd = true;
      if (pend) {
        ev_err(it, ev, pend);
        return 1;
      }
      continue;
    }
    if (st >= 0xF8) { /* real-time: does not touch running status */
      ev_msg(it, ev, it->list + it->pos - 1, 1);
      return 1;
    }
    /* channel voice, F1-F3, F6, and the undefined F4/F5 as 1-octet commands
     * (data octets after F4/F5 could not be told apart from a delta time) */
    int need = rmp_midi_msg_len(st); /* 1..3 here */
    if (need < 1 || need > (int)sizeof it->msg) return fail(it, RMP_E_NO_STATUS);
    it->msg[0] = st;
    for (int k = 1; k < need; k++) {
      if (it->pos >= it->len) return fail(it, RMP_E_TRUNCATED);
      uint8_t b = it->list[it->pos];
      if (b >= 0x80) return fail(it, RMP_E_STATUS_IN_DATA);
      it->msg[k] = b;
      it->pos++;
    }
    it->running = rmp_midi_is_channel(st) ? st : 0;
    ev_msg(it, ev, it->msg, (size_t)need);
    return 1;
  }
}
