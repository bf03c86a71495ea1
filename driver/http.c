// SPDX-License-Identifier: MIT
#include "http.h"

#include "api.h"
#include "errmsg.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define HTTP_IDLE_TIMEOUT_S 300
/* The engine opens a connection per concurrent call and keeps it; each has its own thread, so
 * that one container's slow Join never holds up another's call. */
#define HTTP_CONNECTIONS_MAX 256
#define CONTENT_TYPE	     "application/vnd.docker.plugins.v1.2+json"

struct http {
	struct wgd *d;
	struct MHD_Daemon *mhd;
	char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

struct request {
	char *body;
	size_t len;
	bool too_large;
};

static enum MHD_Result reply(struct MHD_Connection *c, char *text, bool close)
{
	static const char oom[] = "{\"Err\":\"out of memory\"}";
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (text)
		resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	else
		resp = MHD_create_response_from_buffer(sizeof(oom) - 1, (void *)oom,
						       MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
	if (close)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	/* Every answer is 200: the engine reads errors from the JSON body. */
	ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

static int append(struct request *r, const char *data, size_t size)
{
	char *grown;

	if (r->len + size > API_BODY_MAX)
		return -EFBIG;
	grown = realloc(r->body, r->len + size + 1);
	if (!grown)
		return -ENOMEM;
	memcpy(grown + r->len, data, size);
	r->body = grown;
	r->len += size;
	return 0;
}

static bool declared_too_large(struct MHD_Connection *c)
{
	const char *v =
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

	return v && strtoull(v, NULL, 10) > API_BODY_MAX;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **ctx)
{
	struct http *h = cls;
	struct request *r = *ctx;

	if (!r) {
		/* Refuse an announced oversized body before reading it; MHD then closes the
		 * connection instead of draining the body. */
		if (declared_too_large(c))
			return reply(c, api_body_too_large(url), true);
		r = calloc(1, sizeof(*r));
		*ctx = r;
		return r ? MHD_YES : MHD_NO;
	}
	if (*upload_size) {
		/* A chunked body without a length: keep draining, answer at the end. */
		if (!r->too_large && append(r, upload, *upload_size)) {
			r->too_large = true;
			free(r->body);
			r->body = NULL;
			r->len = 0;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->too_large)
		return reply(c, api_body_too_large(url), true);
	return reply(c, api_handle(h->d, url, r->body ? r->body : "", r->len), false);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **ctx,
			 enum MHD_RequestTerminationCode code)
{
	struct request *r = *ctx;

	if (!r)
		return;
	free(r->body);
	free(r);
	*ctx = NULL;
}

/* A socket left by a daemon that died is removed; one that still answers is not ours, and
 * anything that is not a socket is not ours to remove. */
static int clear_stale_socket(const struct sockaddr_un *addr, char *err)
{
	struct stat st;
	int fd, ret = 0;

	if (lstat(addr->sun_path, &st) < 0)
		return errno == ENOENT ? 0
				       : errmsg_set(err, -errno, "socket %s: %s", addr->sun_path,
						    strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return errmsg_set(err, -EEXIST,
				  "socket %s: exists and is not a socket; not removed",
				  addr->sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errmsg_set(err, -errno, "socket: %s", strerror(errno));
	if (!connect(fd, (const struct sockaddr *)addr, sizeof(*addr)))
		ret = errmsg_set(err, -EADDRINUSE, "socket %s: another daemon is listening there",
				 addr->sun_path);
	else if (unlink(addr->sun_path) < 0 && errno != ENOENT)
		ret = errmsg_set(err, -errno, "socket %s: %s", addr->sun_path, strerror(errno));
	close(fd);
	return ret;
}

int http_listen(const char *path, mode_t mode, char *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, ret;

	if (strlen(path) >= sizeof(addr.sun_path))
		return errmsg_set(err, -ENAMETOOLONG, "socket %s: path too long", path);
	strcpy(addr.sun_path, path);
	ret = clear_stale_socket(&addr, err);
	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errmsg_set(err, -errno, "socket: %s", strerror(errno));
	/* The mode is narrowed before listen() lets anyone connect, on the socket itself: never
	 * through a symlink someone put in its place. */
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    fchmodat(AT_FDCWD, path, mode, AT_SYMLINK_NOFOLLOW) < 0 || listen(fd, 128) < 0) {
		ret = errmsg_set(err, -errno, "socket %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return ret;
	}
	return fd;
}

int http_start(struct wgd *d, const char *path, struct http **out, char *err)
{
	struct http *h;
	int fd, ret;

	*out = NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return errmsg_set(err, -ENOMEM, "out of memory");
	h->d = d;
	fd = http_listen(path, 0600, err);
	if (fd < 0) {
		free(h);
		return fd;
	}
	h->mhd = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
					  MHD_USE_ERROR_LOG,
				  0, NULL, NULL, on_request, h, MHD_OPTION_LISTEN_SOCKET, fd,
				  MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_CONNECTIONS_MAX,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_IDLE_TIMEOUT_S,
				  MHD_OPTION_END);
	if (!h->mhd) {
		ret = errmsg_set(err, -EIO, "socket %s: libmicrohttpd did not start", path);
		unlink(path);
		close(fd);
		free(h);
		return ret;
	}
	strcpy(h->socket_path, path);
	*out = h;
	return 0;
}

void http_stop(struct http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->mhd);
	unlink(h->socket_path);
	free(h);
}
