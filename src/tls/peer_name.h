/*
 * The subject alternative names of a client certificate as one line of text (the SAN header
 * passed upstream, and what the "mtls" auth method matches consumers against).
 *
 * The text is the certificate's DNS, email, URI and IP entries in order, each written
 * "TYPE:value" (TYPE one of DNS, email, URI, IP) and joined by ", ". In a value, '%', ',' and
 * every byte outside '!'..'~' (space, controls, DEL, non-ASCII) is written %XX (two uppercase
 * hex digits), so ", " only ever separates entries and the text maps back to exactly one list
 * of (type, bytes). An entry holding a NUL byte is left out (it names nothing a C string or an
 * upstream can compare safely); other entry types (otherName, directoryName, ...) are left out.
 */
#ifndef GW_TLS_PEER_NAME_H
#define GW_TLS_PEER_NAME_H

#include <stdbool.h>

/* Whether the SAN text san (as above, or NULL) has an entry equal to want ("URI:spiffe://x",
 * "email:alice@example.com"): the same type and the same bytes, of the same length, once the
 * entry's %XX escapes are decoded. Any thread. */
bool gw_tls_san_has(const char *san, const char *want);

#endif
