// SPDX-License-Identifier: MIT
#include "admin.h"

#include "admin_cmd.h"
#include "clock.h"
#include "errmsg.h"
#include "http.h"
#include "log.h"
#include "wgd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* A failing accept (out of descriptors) is tried again after this, not at once. */
#define ADMIN_ACCEPT_BACKOFF_MS 100

struct admin {
	struct wgd *d;
	char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int listen_fd;
	int stop_pipe[2];
	pthread_t thread;
};

/* Reads the request into REQ (ADMIN_REQUEST_MAX + 1 bytes, NUL-terminated) until the client
 * shuts down its side, all of it within ADMIN_TIMEOUT_MS: a client that trickles bytes gets no
 * more time than one that sends nothing. */
static int read_request(int fd, char *req, char *err)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int64_t deadline = clock_ms() + ADMIN_TIMEOUT_MS, left;
	size_t len = 0;
	ssize_t n;
	int ret;

	for (;;) {
		left = deadline - clock_ms();
		ret = left > 0 ? poll(&pfd, 1, (int)left) : 0;
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret <= 0)
			return errmsg_set(err, ret ? -errno : -ETIMEDOUT, "request: %s",
					  ret ? strerror(errno) : "timed out");
		n = recv(fd, req + len, ADMIN_REQUEST_MAX + 1 - len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errmsg_set(err, -errno, "request: %s", strerror(errno));
		if (!n)
			break;
		len += (size_t)n;
		if (len > ADMIN_REQUEST_MAX)
			return errmsg_set(err, -E2BIG, "request: longer than %d bytes",
					  ADMIN_REQUEST_MAX);
	}
	req[len] = '\0';
	if (memchr(req, '\0', len))
		return errmsg_set(err, -EINVAL, "request: contains a NUL byte");
	return 0;
}

static void write_all(int fd, const char *s, size_t len)
{
	ssize_t n;

	while (len) {
		n = send(fd, s, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

static void serve(struct admin *a, int fd)
{
	char req[ADMIN_REQUEST_MAX + 1], err[ERRMSG_LEN] = "";
	struct admin_text out = { 0 };
	struct timeval tv = { .tv_sec = ADMIN_TIMEOUT_MS / 1000 };
	int ret;

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	ret = read_request(fd, req, err);
	if (!ret)
		ret = admin_cmd_run(a->d, req, &out, err);
	if (ret) {
		log_warn("wgctl: %s", err);
		write_all(fd, "error ", 6);
		write_all(fd, err, strlen(err));
		write_all(fd, "\n", 1);
	} else {
		write_all(fd, "ok\n", 3);
		write_all(fd, out.data ? out.data : "", out.len);
	}
	/* An imported or exported key may be in either buffer. */
	sodium_memzero(req, sizeof(req));
	admin_text_free(&out);
}

static void *admin_main(void *arg)
{
	struct admin *a = arg;
	struct pollfd pfd[2] = { { .fd = a->listen_fd, .events = POLLIN },
				 { .fd = a->stop_pipe[0], .events = POLLIN } };
	bool failing = false;
	int fd;

	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("wgctl socket: poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents)
			break;
		fd = accept4(a->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED) {
				if (!failing)
					log_error("wgctl socket: accept: %s", strerror(errno));
				failing = true;
				/* Out of descriptors, say: wait, but still hear the stop. */
				if (poll(&pfd[1], 1, ADMIN_ACCEPT_BACKOFF_MS) > 0)
					break;
			}
			continue;
		}
		failing = false;
		serve(a, fd);
		close(fd);
	}
	return NULL;
}

int admin_start(struct wgd *d, const char *path, struct admin **out, char *err)
{
	struct admin *a;
	int ret;

	*out = NULL;
	if (!path || !*path)
		return 0;
	a = calloc(1, sizeof(*a));
	if (!a)
		return errmsg_set(err, -ENOMEM, "out of memory");
	a->d = d;
	a->stop_pipe[0] = a->stop_pipe[1] = -1;
	if (strlen(path) >= sizeof(a->socket_path)) {
		free(a);
		return errmsg_set(err, -ENAMETOOLONG, "wgctl socket %s: path too long", path);
	}
	/* Only root may manage keys. */
	a->listen_fd = http_listen(path, 0600, err);
	if (a->listen_fd < 0) {
		ret = a->listen_fd;
		free(a);
		return ret;
	}
	strcpy(a->socket_path, path);
	if (pipe2(a->stop_pipe, O_CLOEXEC) < 0) {
		ret = errmsg_set(err, -errno, "wgctl socket: pipe: %s", strerror(errno));
		goto err_close;
	}
	ret = -pthread_create(&a->thread, NULL, admin_main, a);
	if (ret) {
		errmsg_set(err, ret, "wgctl socket: thread: %s", strerror(-ret));
		goto err_pipe;
	}
	log_info("wgctl socket %s", path);
	*out = a;
	return 0;

err_pipe:
	close(a->stop_pipe[0]);
	close(a->stop_pipe[1]);
err_close:
	close(a->listen_fd);
	unlink(path);
	free(a);
	return ret;
}

void admin_stop(struct admin *a)
{
	if (!a)
		return;
	if (write(a->stop_pipe[1], "x", 1) < 0)
		log_warn("wgctl socket: stop: %s", strerror(errno));
	pthread_join(a->thread, NULL);
	close(a->stop_pipe[0]);
	close(a->stop_pipe[1]);
	close(a->listen_fd);
	unlink(a->socket_path);
	free(a);
}
