/* Internals shared by the core's files. Not part of the public API. */
#ifndef RMC_RUNTIME_H
#define RMC_RUNTIME_H

#include "rtpmidi.h"

/* Room for 20 datagrams of up to 64 KiB: RTP sockets read with recvmmsg,
 * one system call for a burst of packets (libuv splits the buffer). */
#define RMC_RECV_BUFFER (20 * 65536)

struct rtpmidi_runtime {
  uv_loop_t *loop;
  rtpmidi_session *sessions;   /* every live session, for runtime_free */
  bool freeing;
  char recv_buffer[RMC_RECV_BUFFER]; /* consumed in the callbacks of one read */
};

void rmc_runtime_unlink(rtpmidi_runtime *rt, rtpmidi_session *s);
/* Fills buf with n random octets from the system's source. */
void rmc_random(void *buf, size_t n);

#endif
