/* AppleMIDI sessions on mDNS/DNS-SD: a started session advertises itself as
 * _apple-midi._udp on its control port and browses for the others, through
 * the generic adapter of discovery.h (Avahi on a thread of its own: start
 * and stop never wait for avahi-daemon or D-Bus). Without avahi-daemon, one
 * log line says so and the session works without discovery. */
#include "applemidi_internal.h"
#include "discovery.h"

void *rmc_ap_discovery_start(rtpmidi_apple *a) {
  /* the service type: Apple's "MIDI Network Setup" and rtpmidid browse for it */
  rmc_discovery_config cfg = {.type = "_apple-midi._udp", .name = a->name, .port = a->port};
  return rmc_discovery_start(a->rt->loop, &cfg);
}

void rmc_ap_discovery_stop(void *d) { rmc_discovery_stop(d); }

bool rtpmidi_apple_discovery_available(void) { return rmc_discovery_available(); }

size_t rtpmidi_apple_discovered(rtpmidi_apple *a, rtpmidi_apple_service *out, size_t n) {
  return a && a->started ? rmc_discovery_found(a->discovery, out, n) : 0;
}
