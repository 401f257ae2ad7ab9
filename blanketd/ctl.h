/*
 * ctl.h - the control socket: a UNIX stream socket, one request line per
 * connection ("list", "stats", "fdb", each optionally followed by " json"), answered with
 * text and closed.  blanketctl is its client.
 */
#ifndef BLANKETD_CTL_H
#define BLANKETD_CTL_H

#include <ev.h>

int ctl_init(struct ev_loop *loop, const char *path);
void ctl_exit(struct ev_loop *loop);

#endif
