/* A caller's error buffer (char *err, size_t errlen) filled with a message:
 * the MIDI port code's convention (midi_port.c, midi_jack.c). Either may be
 * NULL/0: nothing is written. */
#ifndef RMC_ERRBUF_H
#define RMC_ERRBUF_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

__attribute__((format(printf, 3, 4))) static inline void rmc_errbuf_set(char *err, size_t errlen,
                                                                        const char *f, ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, f);
  vsnprintf(err, errlen, f, ap);
  va_end(ap);
}

/* Appends to err (already holding a string), truncating. */
__attribute__((format(printf, 3, 4))) static inline void rmc_errbuf_append(char *err, size_t errlen,
                                                                           const char *f, ...) {
  if (!err || !errlen) return;
  size_t used = strlen(err);
  if (used + 1 >= errlen) return;
  va_list ap;
  va_start(ap, f);
  vsnprintf(err + used, errlen - used, f, ap);
  va_end(ap);
}

#endif
