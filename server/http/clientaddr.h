/*
 * clientaddr.h - the client address behind trusted reverse proxies.
 *
 * X-Forwarded-For is a list each proxy appends to: "client, proxy1, proxy2".
 * Only the entries appended by our own proxies can be believed; whatever
 * stands to their left came from the client and may be forged. With N
 * trusted proxies in front (TRUST_PROXY_HOPS) the client is the N-th entry
 * from the right: the one the outermost trusted proxy appended.
 */
#ifndef RELAY_CLIENTADDR_H
#define RELAY_CLIENTADDR_H

#include <stddef.h>

/* values: the X-Forwarded-For header values in arrival order (several
 * headers are one list, joined in order). Writes the address `hops` entries
 * from the right (hops >= 1; the leftmost when the list is shorter: then every
 * entry was written by a trusted proxy) to out, normalised by inet_pton /
 * inet_ntop. Returns 0, or -ERR_NOTFOUND when there is no entry, or the
 * chosen one is not an IPv4/IPv6 address (the caller then keeps the socket
 * peer). out is written only on success. Pure. */
int clientaddr_from_xff(const char *const *values, size_t n, int hops, char *out, size_t outlen);

#endif
