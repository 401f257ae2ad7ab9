/* xenbus.c - the backend state machine; see xenbus.h. */
#include <stdlib.h>

#include "xenbus.h"

struct xb_step xb_backend_step(struct xb_input in)
{
	struct xb_step s = { .next = in.be };

	if (in.be_gone) {
		/* Nobody is left to read a state: just let go. */
		s.disconnect = s.remove = true;
		return s;
	}

	switch (in.fe) {
	case XenbusStateInitialising:
	case XenbusStateInitWait:
		/* A frontend starting over on a closed device: a guest reboot. */
		if (in.be == XenbusStateClosed && in.online)
			s.next = XenbusStateInitWait;
		break;
	case XenbusStateInitialised:
	case XenbusStateConnected:
		/* Two watch events in a row must not connect twice.  Only a
		 * backend waiting for its frontend connects: after Closing or
		 * Closed the frontend must start over first. */
		if (in.be == XenbusStateInitWait && in.online) {
			s.connect = true;
			s.next = XenbusStateConnected;
		}
		break;
	case XenbusStateClosing:
		s.disconnect = true;
		s.next = XenbusStateClosing;
		break;
	case XenbusStateClosed:
	case XenbusStateUnknown:
	default:
		/* Closed, or the frontend's directory is gone (domain destroyed). */
		s.disconnect = true;
		s.next = XenbusStateClosed;
		if (!in.online)
			s.remove = true;
		break;
	}
	/* The toolstack's "online=0" with a live frontend: close towards it;
	 * the frontend answers Closed and the case above removes us. */
	if (!in.online && !s.remove && in.fe != XenbusStateClosed) {
		s.disconnect = true;
		s.next = XenbusStateClosing;
		s.connect = false;
	}
	return s;
}

enum xenbus_state xb_state_parse(const char *s)
{
	char *end;
	long v;

	if (!s || !*s)
		return XenbusStateUnknown;
	v = strtol(s, &end, 10);
	if (*end || v < XenbusStateUnknown || v > XenbusStateReconfigured)
		return XenbusStateUnknown;
	return (enum xenbus_state)v;
}

const char *xb_state_name(enum xenbus_state s)
{
	static const char *const names[] = {
		"Unknown", "Initialising", "InitWait", "Initialised", "Connected",
		"Closing", "Closed", "Reconfiguring", "Reconfigured",
	};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "Invalid";
}
