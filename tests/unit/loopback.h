/* loopback: the pieces the unit tests' fake servers share. Each listens on
 * 127.0.0.1 at a port the kernel picks; nothing else is ever contacted. */
#ifndef UMONGOFS_TEST_LOOPBACK_H
#define UMONGOFS_TEST_LOOPBACK_H

#include <stddef.h>

/* A listening socket on 127.0.0.1 (backlog as given); its port in *port.
 * -1 on failure. */
int loopback_listen(int backlog, int *port);

/* Sends all of p unless the peer hangs up (no SIGPIPE). */
void loopback_send_all(int fd, const char *p, size_t n);

#endif
