/*
 * The accept loop of a listening socket on a libuv loop, made to survive running out of file
 * descriptors.
 *
 * libuv's uv_listen cannot be used for that. When accept(2) fails with EMFILE or ENFILE it
 * closes its one spare descriptor per loop, accepts and closes whatever is queued (the clients
 * get no answer, nobody counts them) and reopens the spare; when another thread takes the
 * freed slot first, the spare is gone, and from then on every failure goes to the connection
 * callback and libuv calls accept(2) again at once, in a loop that ends only when the socket
 * is closed. The thread never returns to its event loop: no timer, signal wake-up or read of
 * the connections whose close would free a descriptor runs again, and it spins at 100% CPU.
 *
 * So the acceptor polls the socket itself (uv_poll_t) and, when accept(2) fails for lack of
 * descriptors, does what nginx does: it stops polling for a short pause (GW_ACCEPT_PAUSE_MS),
 * resumed early as soon as a descriptor is free again (probed after each loop iteration), so
 * the connections it already holds keep being served. Meanwhile connections wait in the
 * kernel's accept queue. To answer them instead of leaving them to time out, the acceptor
 * keeps one spare descriptor of its own (the reserve): it closes it, accepts one queued
 * connection in the freed slot, hands it to on_reserve (which answers it, 503) and reopens
 * the reserve once a slot is free again. Every failure is counted and logged at most once per
 * second for the whole process.
 *
 * Every function here runs on the thread of the loop the acceptor was started on. Only the
 * counters in struct gw_accept_stats may be read from other threads.
 */
#ifndef GW_NET_ACCEPTOR_H
#define GW_NET_ACCEPTOR_H

#include <stddef.h>
#include <uv.h>

#include "net/acceptor-t.h"

/* Starts accepting on fd, a listening non-blocking socket, on loop. Returns 0 (the acceptor
 * owns fd and must be closed with gw_acceptor_close) or a negative code (nothing was created
 * and fd is still the caller's). */
int gw_acceptor_start(struct gw_acceptor *a, uv_loop_t *loop, int fd,
                      const struct gw_acceptor_conf *conf);

/* Hands every connection already queued to on_accept, up to max, paused or not: called before
 * gw_acceptor_close, because closing a listening socket resets the connections in its queue.
 * Queued connections it has no descriptor for are closed unanswered (counted as refused).
 * Returns how many it handed over. */
size_t gw_acceptor_drain(struct gw_acceptor *a, size_t max);

/* Stops accepting and closes the socket now, the handles asynchronously; on_closed (may be
 * NULL) runs once they are closed, after which *a may be freed. */
void gw_acceptor_close(struct gw_acceptor *a, gw_acceptor_closed_cb on_closed);

#endif
