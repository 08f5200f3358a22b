/* Helper for tshark_midi.sh: encodes a fixed list of MIDI messages into RTP
 * MIDI packets with our command section encoder and prints either
 *   midi_pcap hex     - the RTP packets as text2pcap input (one per packet)
 *   midi_pcap expect  - per packet, what tshark should report, one line of
 *                       rtpmidi.channel_status, .channel, .note, .velocity,
 *                       .controller, .controller_value, .program, .common_status
 *                       (tab-separated; values comma-separated, as tshark
 *                       -T fields prints them; Wireshark's channel_status is
 *                       the high nibble of the status byte)
 * The expectations are computed from the message list, not from the encoder
 * output; the encoder is only used to know which messages went in which
 * packet. RTP: V=2, PT=96, sequence from 1, timestamp advanced by the ticks
 * of each packet, SSRC 0x11223344. */
#include "midi_cmd.h"

#include <stdio.h>
#include <string.h>

#define M(d, ...) { (d), (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}) }

static uint8_t big_sysex[300];

static rmp_cmd_msg msgs[] = {
    M(0, 0x90, 0x3C, 0x64),         /* packet 1: note on ch1 60 100 */
    M(10, 0x90, 0x40, 0x50),        /* running status */
    M(5, 0x80, 0x3C, 0x00),         /* note off */
    M(0, 0xB2, 0x07, 0x70),         /* CC ch3 7 = 112 */
    M(0, 0xB2, 0x0A, 0x40),         /* running status CC */
    M(0, 0xC5, 0x11),               /* program ch6 17 */
    M(0, 0xE1, 0x00, 0x40),         /* pitch bend ch2 centre */
    M(0, 0xD4, 0x33),               /* channel pressure */
    M(0, 0xA9, 0x24, 0x55),         /* poly pressure ch10 note 36 */
    M(0x4000, 0xF8),                /* clock, 3-octet delta */
    M(0, 0x91, 0x24, 0x7F),         /* note on ch2 */
    M(0, 0xF2, 0x10, 0x20),         /* song position */
    M(0, 0xF0, 0x7E, 0x7F, 0x09, 0x01, 0xF7), /* SysEx whole */
    M(0, 0x91, 0x26, 0x7F),         /* note on ch2 (status again after SysEx) */
    {0, big_sysex, sizeof big_sysex}, /* SysEx split over packets (budget 100) */
    M(0, 0x81, 0x24, 0x00),         /* note off ch2 */
    M(0, 0xF6),                     /* tune request */
    M(0, 0x81, 0x26, 0x00),
};
#define NMSGS (sizeof msgs / sizeof msgs[0])

int main(int argc, char **argv) {
  if (argc != 2 || (strcmp(argv[1], "hex") && strcmp(argv[1], "expect"))) {
    fprintf(stderr, "usage: %s hex|expect\n", argv[0]);
    return 2;
  }
  bool hex = strcmp(argv[1], "hex") == 0;
  big_sysex[0] = 0xF0;
  for (size_t i = 1; i + 1 < sizeof big_sysex; i++) big_sysex[i] = (uint8_t)(i & 0x7F);
  big_sysex[sizeof big_sysex - 1] = 0xF7;

  rmp_cmd_encoder enc;
  rmp_cmd_encoder_init(&enc);
  uint8_t pkt[12 + 2000];
  size_t next = 0;
  uint16_t seq = 1;
  uint32_t ts = 1000;
  while (next < NMSGS) {
    rmp_cmd_enc_info info;
    bool was_partial = enc.sysex_off > 0; /* msgs[next] is a SysEx being continued */
    /* packet 1: messages 0-13 (budget 1200); then budget 100, so the big
     * SysEx is split into segments over several packets */
    size_t budget = next < 14 ? 1200 : 100;
    size_t lim = next < 14 ? 14 - next : NMSGS - next;
    int len = rmp_cmd_encode(&enc, msgs + next, lim, false, budget, pkt + 12,
                             sizeof pkt - 12, &info);
    if (len < 0) {
      fprintf(stderr, "encode: %s\n", rmp_strerror(len));
      return 1;
    }
    /* RTP header: V=2 P=0 X=0 CC=0 | M=0 PT=96 | seq | timestamp | SSRC */
    pkt[0] = 0x80; pkt[1] = 96;
    pkt[2] = (uint8_t)(seq >> 8); pkt[3] = (uint8_t)seq;
    pkt[4] = (uint8_t)(ts >> 24); pkt[5] = (uint8_t)(ts >> 16);
    pkt[6] = (uint8_t)(ts >> 8); pkt[7] = (uint8_t)ts;
    pkt[8] = 0x11; pkt[9] = 0x22; pkt[10] = 0x33; pkt[11] = 0x44;
    size_t total = 12 + (size_t)len;
    if (hex) {
      for (size_t i = 0; i < total; i++) {
        if (i % 16 == 0) printf("%s%06zx", i ? "\n" : "", i);
        printf(" %02x", pkt[i]);
      }
      printf("\n\n");
    } else {
      /* expectations from the messages that went in (whole) in this packet,
       * plus the SysEx segment markers RFC 6295 prescribes */
      char col[8][1024];
      size_t o[8] = {0};
      for (int c = 0; c < 8; c++) col[c][0] = 0;
#define ADD(c, fmt, v) (o[c] += (size_t)snprintf(col[c] + o[c], sizeof col[c] - o[c], \
                                                  o[c] ? "," fmt : fmt, (v)))
      if (was_partial) { ADD(7, "0x%02x", 0xf7); } /* continuation segment starts F7 */
      if (was_partial && info.sysex_partial) ADD(7, "0x%02x", 0xf0); /* middle: F7 .. F0 */
      if (was_partial && !info.sysex_partial) ADD(7, "0x%02x", 0xf7); /* last: F7 .. F7 */
      size_t end = next + info.nmsgs;
      if (was_partial) next++; /* the SysEx finished here was counted in nmsgs */
      for (size_t i = next; i < end; i++) {
        const uint8_t *m = msgs[i].data;
        uint8_t hi = m[0] & 0xF0;
        if (m[0] < 0xF0) { ADD(0, "0x%02x", hi >> 4); ADD(1, "0x%02x", m[0] & 0x0F); }
        if (hi == 0x80 || hi == 0x90 || hi == 0xA0) ADD(2, "%d", m[1]);
        if (hi == 0x80 || hi == 0x90) ADD(3, "%d", m[2]);
        if (hi == 0xB0) { ADD(4, "%d", m[1]); ADD(5, "%d", m[2]); }
        if (hi == 0xC0) ADD(6, "%d", m[1]);
        if (m[0] == 0xF0) { ADD(7, "0x%02x", 0xf0); ADD(7, "0x%02x", 0xf7); }
        else if (m[0] >= 0xF1) ADD(7, "0x%02x", m[0]);
      }
      if (info.sysex_partial && !was_partial) { ADD(7, "0x%02x", 0xf0); ADD(7, "0x%02x", 0xf0); }
#undef ADD
      printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", col[0], col[1], col[2], col[3], col[4],
             col[5], col[6], col[7]);
      if (was_partial) next--;
    }
    next += info.nmsgs;
    ts += info.ticks;
    seq++;
  }
  return 0;
}
