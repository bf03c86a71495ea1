// SPDX-License-Identifier: MIT
#include "admin.h"

#include "admin_cmd.h"
#include "api.h"
#include "errmsg.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static int listen_fd = -1;
static int stop_pipe[2] = { -1, -1 };
static pthread_t thread;
static bool running;

/* Reads the request into REQ (ADMIN_REQUEST_MAX + 1 bytes, NUL-terminated) until the client
 * shuts down its side, within ADMIN_TIMEOUT_MS. */
static int read_request(int fd, char *req, char *err)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t len = 0;
	ssize_t n;
	int ret;

	for (;;) {
		ret = poll(&pfd, 1, ADMIN_TIMEOUT_MS);
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

static void serve(int fd)
{
	char req[ADMIN_REQUEST_MAX + 1], err[ERRMSG_LEN] = "";
	struct admin_text out = { 0 };
	struct timeval tv = { .tv_sec = ADMIN_TIMEOUT_MS / 1000 };
	int ret;

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	ret = read_request(fd, req, err);
	if (!ret) {
		api_lock();
		ret = admin_cmd_run(req, &out, err);
		api_unlock();
	}
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
	struct pollfd pfd[2] = { { .fd = listen_fd, .events = POLLIN },
				 { .fd = stop_pipe[0], .events = POLLIN } };
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
		fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		serve(fd);
		close(fd);
	}
	return NULL;
}

/* Binds PATH, replacing a socket file that no daemon answers on. */
static int bind_socket(const char *path, char *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, probe;

	if (strlen(path) >= sizeof(addr.sun_path))
		return errmsg_set(err, -ENAMETOOLONG, "wgctl socket %s: path too long", path);
	strcpy(addr.sun_path, path);
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && !connect(probe, (struct sockaddr *)&addr, sizeof(addr))) {
		close(probe);
		return errmsg_set(err, -EADDRINUSE, "wgctl socket %s: another daemon answers there",
				  path);
	}
	if (probe >= 0)
		close(probe);
	if (unlink(path) < 0 && errno != ENOENT)
		return errmsg_set(err, -errno, "wgctl socket %s: %s", path, strerror(errno));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errmsg_set(err, -errno, "wgctl socket: %s", strerror(errno));
	/* Only root may manage keys: the mode is narrowed before listen() lets anyone connect. */
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 16) < 0) {
		int ret = errmsg_set(err, -errno, "wgctl socket %s: %s", path, strerror(errno));

		close(fd);
		unlink(path);
		return ret;
	}
	return fd;
}

int admin_start(const char *path, char *err)
{
	int ret;

	if (!path || !*path)
		return 0;
	ret = bind_socket(path, err);
	if (ret < 0)
		return ret;
	listen_fd = ret;
	strcpy(socket_path, path);
	if (pipe2(stop_pipe, O_CLOEXEC) < 0) {
		ret = errmsg_set(err, -errno, "wgctl socket: pipe: %s", strerror(errno));
		goto err_close;
	}
	ret = -pthread_create(&thread, NULL, admin_main, NULL);
	if (ret) {
		errmsg_set(err, ret, "wgctl socket: thread: %s", strerror(-ret));
		goto err_pipe;
	}
	running = true;
	log_info("wgctl socket %s", path);
	return 0;

err_pipe:
	close(stop_pipe[0]);
	close(stop_pipe[1]);
	stop_pipe[0] = stop_pipe[1] = -1;
err_close:
	close(listen_fd);
	listen_fd = -1;
	unlink(path);
	return ret;
}

void admin_stop(void)
{
	if (!running)
		return;
	if (write(stop_pipe[1], "x", 1) < 0)
		log_warn("wgctl socket: stop: %s", strerror(errno));
	pthread_join(thread, NULL);
	close(stop_pipe[0]);
	close(stop_pipe[1]);
	stop_pipe[0] = stop_pipe[1] = -1;
	close(listen_fd);
	listen_fd = -1;
	unlink(socket_path);
	running = false;
}
