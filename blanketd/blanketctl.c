/*
 * blanketctl - ask a running blanketd for its devices and statistics.
 *
 *   blanketctl [-s SOCKET] list [--json]
 *   blanketctl [-s SOCKET] stats [--json]
 *   blanketctl [-s SOCKET] fdb [--json]     the vif switch's MAC table
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"

static int usage(FILE *f, int rc)
{
	fprintf(f, "usage: blanketctl [-s SOCKET] list|stats|fdb [--json]\n"
		   "  -s SOCKET  blanketd's control socket (default " BL_DEFAULT_SOCKET ")\n");
	return rc;
}

int main(int argc, char **argv)
{
	const char *sock = BL_DEFAULT_SOCKET, *cmd;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	bool json = false;
	char buf[4096];
	ssize_t n;
	int opt, fd;
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};

	while ((opt = getopt_long(argc, argv, "s:jh", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			sock = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			return usage(stdout, 0);
		default:
			return usage(stderr, 2);
		}
	}
	if (optind != argc - 1)
		return usage(stderr, 2);
	cmd = argv[optind];
	if (strcmp(cmd, "list") && strcmp(cmd, "stats") && strcmp(cmd, "fdb"))
		return usage(stderr, 2);
	if (strlen(sock) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "blanketctl: socket path too long: %s\n", sock);
		return 1;
	}
	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "blanketctl: cannot reach blanketd at %s: %s (is it running? systemctl start blanketd)\n",
			sock, strerror(errno));
		return 1;
	}
	n = snprintf(buf, sizeof(buf), "%s%s\n", cmd, json ? " json" : "");
	if (write(fd, buf, (size_t)n) != n) {
		fprintf(stderr, "blanketctl: %s: %s\n", sock, strerror(errno));
		return 1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			return 1;
	close(fd);
	if (n < 0) {
		fprintf(stderr, "blanketctl: %s: %s\n", sock, strerror(errno));
		return 1;
	}
	return 0;
}
