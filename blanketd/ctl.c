/* ctl.c - see ctl.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "log.h"
#include "vbd.h"
#include "vif.h"

struct ctl_client {
	ev_io w;
	ev_timer timeout;
	size_t len;
	char buf[128];
};

static ev_io listen_watcher;
static char sock_path[108];

static void client_free(struct ev_loop *loop, struct ctl_client *c)
{
	ev_io_stop(loop, &c->w);
	ev_timer_stop(loop, &c->timeout);
	close(c->w.fd);
	free(c);
}

/* Block and network devices in one reply; in JSON one object: the vbd
 * document as it always was, with the vif document under "vif". */
static void render(FILE *f, bool json, bool list_only)
{
	char *vbd = NULL;
	size_t len = 0;
	FILE *m;

	if (!json) {
		vbd_render(f, false, list_only);
		vif_render(f, false, list_only);
		return;
	}
	m = open_memstream(&vbd, &len);
	if (!m)
		return;
	vbd_render(m, true, list_only);
	fclose(m);
	while (len && (vbd[len - 1] == '\n' || vbd[len - 1] == '}'))
		if (vbd[--len] == '}')
			break;
	fwrite(vbd, 1, len, f);
	fputs(",\"vif\":", f);
	vif_render(f, true, list_only);
	fseek(f, -1, SEEK_CUR); /* vif_render's newline */
	fputs("}\n", f);
	free(vbd);
}

static void answer(int fd, const char *req)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	bool json = strstr(req, " json") != NULL;
	size_t off = 0;

	if (!f)
		return;
	if (!strncmp(req, "list", 4) && (req[4] == '\0' || req[4] == ' '))
		render(f, json, true);
	else if (!strncmp(req, "stats", 5) && (req[5] == '\0' || req[5] == ' '))
		render(f, json, false);
	else if (!strncmp(req, "fdb", 3) && (req[3] == '\0' || req[3] == ' '))
		vif_render_fdb(f, json);
	else
		fprintf(f, "error: unknown request '%.32s' (list|stats|fdb [json])\n", req);
	fclose(f);
	/* Replies are a few KiB: a short blocking write, bounded by SO_SNDTIMEO. */
	while (off < len) {
		ssize_t n = write(fd, out + off, len - off);

		if (n <= 0)
			break;
		off += (size_t)n;
	}
	free(out);
}

static void on_client(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl_client *c = (struct ctl_client *)w;
	ssize_t n;
	char *nl;

	(void)revents;
	n = read(w->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
	if (n <= 0) {
		client_free(loop, c);
		return;
	}
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	nl = strchr(c->buf, '\n');
	if (!nl && c->len < sizeof(c->buf) - 1)
		return;
	if (nl)
		*nl = '\0';
	answer(w->fd, c->buf);
	client_free(loop, c);
}

static void on_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct ctl_client *c = (struct ctl_client *)((char *)t - offsetof(struct ctl_client, timeout));

	(void)revents;
	client_free(loop, c);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct timeval tv = { .tv_sec = 1 };
	struct ctl_client *c;
	int fd;

	(void)revents;
	fd = accept4(w->fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	fcntl(fd, F_SETFL, O_NONBLOCK);
	ev_io_init(&c->w, on_client, fd, EV_READ);
	ev_io_start(loop, &c->w);
	ev_timer_init(&c->timeout, on_timeout, 5., 0.);
	ev_timer_start(loop, &c->timeout);
}

int ctl_init(struct ev_loop *loop, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	snprintf(sock_path, sizeof(sock_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	unlink(path);
	/* Stats name guests' disks: root only. */
	old = umask(0077);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
		int e = errno;

		umask(old);
		close(fd);
		errno = e;
		return -1;
	}
	umask(old);
	ev_io_init(&listen_watcher, on_accept, fd, EV_READ);
	ev_io_start(loop, &listen_watcher);
	return 0;
}

void ctl_exit(struct ev_loop *loop)
{
	ev_io_stop(loop, &listen_watcher);
	close(listen_watcher.fd);
	unlink(sock_path);
}
