/* test_cli.c - what a person sees when blanketd or blanketctl cannot run:
 * one line naming the problem and the fix, and a non-zero exit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#ifndef BUILD_DIR
#define BUILD_DIR "build"
#endif

/* Run cmd with stderr folded into stdout; returns the exit status. */
static int run(const char *cmd, char *out, size_t len)
{
	char full[512];
	FILE *p;
	size_t n;
	int st;

	snprintf(full, sizeof(full), "%s 2>&1", cmd);
	p = popen(full, "r");
	assert_non_null(p);
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void test_bad_config(void **state)
{
	char out[1024], path[] = "/tmp/blanket-cli-XXXXXX";
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "[vbd]\nmax-queues = many\n", 24), 24);
	close(fd);
	{
		char cmd[256];

		snprintf(cmd, sizeof(cmd), BUILD_DIR "/blanketd -c %s", path);
		assert_int_equal(run(cmd, out, sizeof(out)), 1);
	}
	unlink(path);
	assert_int_equal(lines(out), 1);
	assert_non_null(strstr(out, ":2:"));
	assert_non_null(strstr(out, "max-queues"));
}

static void test_missing_config(void **state)
{
	char out[1024];

	(void)state;
	assert_int_equal(run(BUILD_DIR "/blanketd -c /nonexistent.conf", out, sizeof(out)), 1);
	assert_int_equal(lines(out), 1);
	assert_non_null(strstr(out, "/nonexistent.conf"));
}

static void test_no_xen(void **state)
{
	char out[1024];

	(void)state;
	/* On a machine without Xen (this one), the fix is named. */
	if (access("/dev/xen/gntdev", F_OK) == 0)
		skip();
	assert_int_equal(run(BUILD_DIR "/blanketd -c conf/blanket.conf", out, sizeof(out)), 1);
	assert_int_equal(lines(out), 1);
	assert_non_null(strstr(out, "xen-gntdev"));
}

static void test_blanketctl_no_daemon(void **state)
{
	char out[1024];

	(void)state;
	assert_int_equal(run(BUILD_DIR "/blanketctl -s /tmp/blanket-none.sock stats", out, sizeof(out)), 1);
	assert_int_equal(lines(out), 1);
	assert_non_null(strstr(out, "systemctl start blanketd"));
	assert_int_equal(run(BUILD_DIR "/blanketctl frobnicate", out, sizeof(out)), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_missing_config),
		cmocka_unit_test(test_no_xen),
		cmocka_unit_test(test_blanketctl_no_daemon),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
