/*
 * state.h - memory for state that should survive a daemon restart.
 *
 * Each ring (a vbd's blkif ring, a vif's queue) keeps its indices and
 * in-flight requests in a memfd-backed mapping.  Today the daemon only allocates and frees them; a restart path
 * would hand the memfds to systemd's fd store (FDSTORE=1) and map them back.
 */
#ifndef BLANKET_STATE_H
#define BLANKET_STATE_H

#include <stddef.h>

/* A zeroed, shared mapping of len bytes over a new memfd named name. */
void *bl_state_alloc(const char *name, size_t len, int *fd);
void bl_state_free(void *p, size_t len, int fd);

#endif
