/*
 * What the kernel still holds of what we wrote to a TCP socket, and closing one with a reset.
 *
 * A client that stops reading leaves our answers in the kernel's send queue behind a zero
 * window. Closed normally, the socket lives on orphaned in FIN-WAIT-1 with those bytes (and its
 * FIN is queued behind them, so the client never learns of the close) until the kernel gives
 * up probing the window. A reset frees the memory and tells the client at once (nginx's
 * reset_timedout_connection, HAProxy's nolinger).
 */
#ifndef GW_NET_UNSENT_H
#define GW_NET_UNSENT_H

#include <stddef.h>

/* Bytes written to the connected TCP socket fd that the peer has not acknowledged yet
 * (SIOCOUTQ); 0 when there are none or the socket cannot tell. */
size_t gw_net_unsent(int fd);

/* Makes the next close of fd send a reset and drop whatever is unsent (SO_LINGER {1, 0}).
 * 0, or a negative UV_E* code. */
int gw_net_reset_on_close(int fd);

#endif
