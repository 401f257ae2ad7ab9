/* test_xenbus.c - the backend state machine against blkback's behaviour. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "xenbus.h"

static struct xb_step step(enum xenbus_state be, enum xenbus_state fe, bool online)
{
	return xb_backend_step((struct xb_input){ .be = be, .fe = fe, .online = online });
}

static void test_initwait_waits_for_frontend(void **state)
{
	(void)state;
	for (enum xenbus_state fe = XenbusStateUnknown + 1; fe <= XenbusStateInitWait; fe++) {
		struct xb_step s = step(XenbusStateInitWait, fe, true);

		assert_int_equal(s.next, XenbusStateInitWait);
		assert_false(s.connect);
		assert_false(s.disconnect);
		assert_false(s.remove);
	}
}

static void test_connects_on_initialised_or_connected(void **state)
{
	(void)state;
	struct xb_step s = step(XenbusStateInitWait, XenbusStateInitialised, true);

	assert_true(s.connect);
	assert_int_equal(s.next, XenbusStateConnected);
	s = step(XenbusStateInitWait, XenbusStateConnected, true);
	assert_true(s.connect);
	assert_int_equal(s.next, XenbusStateConnected);
}

static void test_no_double_connect(void **state)
{
	(void)state;
	/* Two watch events in a row: the second finds us Connected. */
	struct xb_step s = step(XenbusStateConnected, XenbusStateConnected, true);

	assert_false(s.connect);
	assert_false(s.disconnect);
	assert_int_equal(s.next, XenbusStateConnected);
}

static void test_frontend_closing(void **state)
{
	(void)state;
	struct xb_step s = step(XenbusStateConnected, XenbusStateClosing, true);

	assert_true(s.disconnect);
	assert_false(s.remove);
	assert_int_equal(s.next, XenbusStateClosing);
}

static void test_frontend_closed_stays_while_online(void **state)
{
	(void)state;
	struct xb_step s = step(XenbusStateClosing, XenbusStateClosed, true);

	assert_true(s.disconnect);
	assert_false(s.remove);
	assert_int_equal(s.next, XenbusStateClosed);
}

static void test_reconnect_after_reboot(void **state)
{
	(void)state;
	/* A closed device whose frontend starts over goes back to InitWait... */
	struct xb_step s = step(XenbusStateClosed, XenbusStateInitialising, true);

	assert_int_equal(s.next, XenbusStateInitWait);
	assert_false(s.connect);
	/* ...and does not connect straight from Closed. */
	s = step(XenbusStateClosed, XenbusStateInitialised, true);
	assert_false(s.connect);
	s = step(XenbusStateInitWait, XenbusStateInitialised, true);
	assert_true(s.connect);
}

static void test_toolstack_removal(void **state)
{
	(void)state;
	/* online=0 with a live frontend: close towards it first. */
	struct xb_step s = step(XenbusStateConnected, XenbusStateConnected, false);

	assert_true(s.disconnect);
	assert_false(s.connect);
	assert_false(s.remove);
	assert_int_equal(s.next, XenbusStateClosing);
	/* Frontend answers Closed: ack with Closed (6) and forget the device. */
	s = step(XenbusStateClosing, XenbusStateClosed, false);
	assert_int_equal(s.next, XenbusStateClosed);
	assert_true(s.remove);
	/* Domain destroyed: the frontend's directory is gone. */
	s = step(XenbusStateConnected, XenbusStateUnknown, false);
	assert_int_equal(s.next, XenbusStateClosed);
	assert_true(s.disconnect);
	assert_true(s.remove);
	/* online=0 never lets a frontend connect. */
	s = step(XenbusStateInitWait, XenbusStateInitialised, false);
	assert_false(s.connect);
}

static void test_backend_dir_removed(void **state)
{
	(void)state;
	struct xb_step s = xb_backend_step((struct xb_input){
		.be = XenbusStateConnected, .fe = XenbusStateConnected, .online = true, .be_gone = true });

	assert_true(s.disconnect);
	assert_true(s.remove);
	assert_int_equal(s.next, XenbusStateConnected); /* nothing left to write to */
}

static void test_state_parse(void **state)
{
	(void)state;
	assert_int_equal(xb_state_parse("4"), XenbusStateConnected);
	assert_int_equal(xb_state_parse("6"), XenbusStateClosed);
	assert_int_equal(xb_state_parse(NULL), XenbusStateUnknown);
	assert_int_equal(xb_state_parse(""), XenbusStateUnknown);
	assert_int_equal(xb_state_parse("4x"), XenbusStateUnknown);
	assert_int_equal(xb_state_parse("9"), XenbusStateUnknown);
	assert_int_equal(xb_state_parse("-1"), XenbusStateUnknown);
	assert_string_equal(xb_state_name(XenbusStateInitWait), "InitWait");
	assert_string_equal(xb_state_name((enum xenbus_state)42), "Invalid");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_initwait_waits_for_frontend),
		cmocka_unit_test(test_connects_on_initialised_or_connected),
		cmocka_unit_test(test_no_double_connect),
		cmocka_unit_test(test_frontend_closing),
		cmocka_unit_test(test_frontend_closed_stays_while_online),
		cmocka_unit_test(test_reconnect_after_reboot),
		cmocka_unit_test(test_toolstack_removal),
		cmocka_unit_test(test_backend_dir_removed),
		cmocka_unit_test(test_state_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
