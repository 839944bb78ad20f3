/*
 * The systemd notification protocol (sd_notify(3)), spoken directly: one datagram of
 * "KEY=VALUE\n" lines to the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or an abstract
 * socket written with a leading '@'). No libsystemd: the protocol is one sendto().
 *
 * Without $NOTIFY_SOCKET every call does nothing and returns 0, so gantry behaves the same
 * under any supervisor. The control thread calls these; they never block (the socket is
 * non-blocking; a full queue drops the message, which systemd tolerates for status lines
 * but would notice for READY=1 only as a start-up timeout).
 */
#ifndef GW_RUNTIME_SDNOTIFY_H
#define GW_RUNTIME_SDNOTIFY_H

#include <stdint.h>

/* Sends msg (one or more "KEY=VALUE" lines, without a trailing NUL) to $NOTIFY_SOCKET.
 * 0 when sent or when $NOTIFY_SOCKET is unset or empty; GW_EINVAL for a socket name that is
 * neither an absolute path nor '@'-abstract or that does not fit sockaddr_un; a negative errno
 * (as a GW_E* pass-through) when the socket cannot be created or the send fails. */
int gw_sdnotify(const char *msg);

/* Sends "RELOADING=1\nMONOTONIC_USEC=<now>" (the form systemd's Type=notify-reload wants;
 * plain Type=notify accepts it as well). Same results as gw_sdnotify. */
int gw_sdnotify_reloading(void);

/* The watchdog interval systemd asked for, in microseconds: $WATCHDOG_USEC when it is a
 * positive number and $WATCHDOG_PID is unset or this process's pid; else 0 (no watchdog). */
uint64_t gw_sdnotify_watchdog_usec(void);

#endif
