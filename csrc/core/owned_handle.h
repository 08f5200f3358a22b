/* A libuv handle (timer, idle, check) that belongs to an object of the
 * runtime (a session): libuv frees nothing itself and calls back after
 * uv_close, so the object counts its open handles and may be freed only
 * once each came back through `closed`. Shared by every session kind that
 * keeps its own timers. Not part of the public API. */
#ifndef RMC_OWNED_HANDLE_H
#define RMC_OWNED_HANDLE_H

#include <stdlib.h>
#include <uv.h>

typedef struct rmc_owned_handle {
  union {
    uv_handle_t h;
    uv_timer_t timer;
    uv_idle_t idle;
    uv_check_t check;
  } u;
  void *owner;
  void (*closed)(void *owner); /* after libuv closed it: the owner counts it off */
} rmc_owned_handle;

/* Storage for a handle of `owner` (the caller's uv_*_init makes it a
 * handle), or NULL without memory. */
static inline rmc_owned_handle *rmc_owned_handle_new(void *owner, void (*closed)(void *owner)) {
  rmc_owned_handle *u = (rmc_owned_handle *)calloc(1, sizeof *u);
  if (!u) return NULL;
  u->owner = owner;
  u->closed = closed;
  u->u.h.data = u;
  return u;
}

static inline void rmc_owned_handle_on_close_(uv_handle_t *h) {
  rmc_owned_handle *u = (rmc_owned_handle *)h->data;
  void *owner = u->owner;
  void (*closed)(void *) = u->closed;
  free(u);
  closed(owner);
}

/* Closes *slot (NULL is fine) and clears it; `closed` follows from libuv. */
static inline void rmc_owned_handle_close(rmc_owned_handle **slot) {
  rmc_owned_handle *u = *slot;
  if (!u) return;
  *slot = NULL;
  uv_close(&u->u.h, rmc_owned_handle_on_close_);
}

#endif
