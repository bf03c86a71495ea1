// SPDX-License-Identifier: MIT
#include "http.h"

#include "api.h"
#include "errmsg.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define HTTP_IDLE_TIMEOUT_S 300
#define CONTENT_TYPE	    "application/vnd.docker.plugins.v1.2+json"

static struct MHD_Daemon *daemon_handle;
static char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

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
	return reply(c, api_handle(url, r->body ? r->body : "", r->len), false);
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

/* A socket file left by a daemon that died is removed; one that still answers is not ours. */
static int clear_stale_socket(const struct sockaddr_un *addr, char *err)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int ret = 0;

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

int http_start(const char *path, char *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = -1, ret;

	if (strlen(path) >= sizeof(addr.sun_path))
		return errmsg_set(err, -ENAMETOOLONG, "socket %s: path too long", path);
	strcpy(addr.sun_path, path);
	ret = clear_stale_socket(&addr, err);
	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errmsg_set(err, -errno, "socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 128) < 0) {
		ret = errmsg_set(err, -errno, "socket %s: %s", path, strerror(errno));
		goto err_close;
	}
	daemon_handle = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL,
					 NULL, on_request, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
					 MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
					 MHD_OPTION_CONNECTION_TIMEOUT,
					 (unsigned int)HTTP_IDLE_TIMEOUT_S, MHD_OPTION_END);
	if (!daemon_handle) {
		ret = errmsg_set(err, -EIO, "socket %s: libmicrohttpd did not start", path);
		goto err_unlink;
	}
	strcpy(socket_path, path);
	return 0;

err_unlink:
	unlink(path);
err_close:
	close(fd);
	return ret;
}

void http_stop(void)
{
	if (!daemon_handle)
		return;
	MHD_stop_daemon(daemon_handle);
	daemon_handle = NULL;
	unlink(socket_path);
}
