/*
 * xenbus.h - the backend half of the xenbus device handshake, as a pure
 * function so it can be tested without xenstore.
 *
 * Linux xen-blkback's frontend_changed() is the model: InitWait while the
 * frontend sets up; connect when it reports Initialised/Connected; Closing
 * when it closes; Closed when it is gone, and back to InitWait when a closed
 * device's frontend starts over (guest reboot).  The toolstack removes a
 * device by writing online=0 and waiting for Closed (6).
 */
#ifndef BLANKET_XENBUS_H
#define BLANKET_XENBUS_H

#include <stdbool.h>
#include <xen/io/xenbus.h>

struct xb_input {
	enum xenbus_state be;  /* the state we last published */
	enum xenbus_state fe;  /* the frontend's state; Unknown if absent */
	bool online;           /* the toolstack's "online" node */
	bool be_gone;          /* the toolstack removed our backend directory */
};

struct xb_step {
	enum xenbus_state next; /* state to publish (== in.be: no write) */
	bool connect;           /* map the rings and start serving */
	bool disconnect;        /* stop serving, release the rings */
	bool remove;            /* forget the device */
};

struct xb_step xb_backend_step(struct xb_input in);

/* Parse a xenstore state node; Unknown for NULL or garbage. */
enum xenbus_state xb_state_parse(const char *s);
const char *xb_state_name(enum xenbus_state s);

#endif
