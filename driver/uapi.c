// SPDX-License-Identifier: MIT
#include "uapi.h"

#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Unit tests point these at a temporary directory and a shorter deadline. */
static const char *uapi_dir = UAPI_SOCKET_DIR;
static int uapi_timeout_ms = UAPI_TIMEOUT_MS;

struct uapi_line {
	const char *key, *value;
	size_t key_len, value_len;
};

void uapi_buf_free(struct uapi_buf *buf)
{
	if (!buf)
		return;
	if (buf->data) {
		sodium_memzero(buf->data, buf->cap);
		free(buf->data);
	}
	buf->data = NULL;
	buf->len = buf->cap = 0;
}

/* Grows by copying rather than realloc so that no copy of a key is left in freed memory. */
static int buf_reserve(struct uapi_buf *buf, size_t extra)
{
	size_t cap = buf->cap ? buf->cap : 256;
	char *data;

	if (extra > SIZE_MAX / 2 - buf->len)
		return -ENOMEM;
	if (buf->len + extra + 1 <= buf->cap)
		return 0;
	while (cap < buf->len + extra + 1)
		cap *= 2;
	data = malloc(cap);
	if (!data)
		return -ENOMEM;
	if (buf->data)
		memcpy(data, buf->data, buf->len);
	data[buf->len] = '\0';
	if (buf->data) {
		sodium_memzero(buf->data, buf->cap);
		free(buf->data);
	}
	buf->data = data;
	buf->cap = cap;
	return 0;
}

static int buf_printf(struct uapi_buf *buf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int buf_printf(struct uapi_buf *buf, const char *fmt, ...)
{
	va_list ap;
	int n, err;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	err = buf_reserve(buf, (size_t)n);
	if (err)
		return err;
	va_start(ap, fmt);
	vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	buf->len += (size_t)n;
	return 0;
}

static int buf_put_key(struct uapi_buf *buf, const char *name, const uint8_t key[WG_KEY_LEN])
{
	char hex[WG_KEY_LEN * 2 + 1];
	int err;

	sodium_bin2hex(hex, sizeof(hex), key, WG_KEY_LEN);
	err = buf_printf(buf, "%s=%s\n", name, hex);
	sodium_memzero(hex, sizeof(hex));
	return err;
}

static int buf_put_endpoint(struct uapi_buf *buf, const struct wg_peer *peer)
{
	char text[ADDR_ENDPOINT_STRLEN];

	switch (peer->endpoint.addr.sa_family) {
	case 0: return 0;
	case AF_INET:
	case AF_INET6:
		return buf_printf(buf, "endpoint=%s\n",
				  addr_endpoint_format(&peer->endpoint, text));
	default: return -EAFNOSUPPORT;
	}
}

static int buf_put_allowedip(struct uapi_buf *buf, const struct wg_allowedip *aip)
{
	char addr[INET6_ADDRSTRLEN];

	if (aip->family == AF_INET && aip->cidr <= 32)
		inet_ntop(AF_INET, &aip->ip4, addr, sizeof(addr));
	else if (aip->family == AF_INET6 && aip->cidr <= 128)
		inet_ntop(AF_INET6, &aip->ip6, addr, sizeof(addr));
	else
		return -EINVAL;
	return buf_printf(buf, "allowed_ip=%s/%u\n", addr, aip->cidr);
}

static int build_peer(const struct wg_peer *peer, struct uapi_buf *out)
{
	int err;

	if (peer->n_allowedips > WGDEV_MAX_ALLOWEDIPS)
		return -EINVAL;
	err = buf_put_key(out, "public_key", peer->public_key);
	if (!err && peer->has_preshared_key)
		err = buf_put_key(out, "preshared_key", peer->preshared_key);
	if (!err)
		err = buf_put_endpoint(out, peer);
	/* A network's keepalive is fixed at its creation: 0 never has to undo another value. */
	if (!err && peer->persistent_keepalive)
		err = buf_printf(out, "persistent_keepalive_interval=%u\n",
				 peer->persistent_keepalive);
	if (!err)
		err = buf_printf(out, "replace_allowed_ips=true\n");
	for (size_t i = 0; !err && i < peer->n_allowedips; i++)
		err = buf_put_allowedip(out, &peer->allowedips[i]);
	return err;
}

int uapi_build_device_set(const struct wg_device *dev, struct uapi_buf *out)
{
	int err;

	err = buf_printf(out, "set=1\n");
	if (!err && dev->has_private_key)
		err = buf_put_key(out, "private_key", dev->private_key);
	if (!err)
		err = buf_printf(out, "listen_port=%u\nreplace_peers=true\n", dev->listen_port);
	for (size_t i = 0; !err && i < dev->n_peers; i++)
		err = build_peer(&dev->peers[i], out);
	if (!err)
		err = buf_printf(out, "\n");
	return err;
}

int uapi_build_peers_apply(const struct wg_peer *set, size_t n_set,
			   const uint8_t (*remove)[WG_KEY_LEN], size_t n_remove,
			   struct uapi_buf *out)
{
	int err;

	err = buf_printf(out, "set=1\n");
	/* wireguard-go applies the lines in order: a key removed here and set below comes back
	 * as a new peer, without the sessions it had. */
	for (size_t i = 0; !err && i < n_remove; i++) {
		err = buf_put_key(out, "public_key", remove[i]);
		if (!err)
			err = buf_printf(out, "remove=true\n");
	}
	for (size_t i = 0; !err && i < n_set; i++)
		err = build_peer(&set[i], out);
	if (!err)
		err = buf_printf(out, "\n");
	return err;
}

int uapi_build_peer_set(const struct wg_peer *peer, struct uapi_buf *out)
{
	return uapi_build_peers_apply(peer, 1, NULL, 0, out);
}

int uapi_build_peer_remove(const uint8_t public_key[WG_KEY_LEN], struct uapi_buf *out)
{
	return uapi_build_peers_apply(NULL, 0, (const uint8_t(*)[WG_KEY_LEN])public_key, 1, out);
}

/* 1 with the next key=value line in LINE, 0 at the blank line that ends a reply, -EPROTO when
 * the text ends first or a line has no '='. */
static int next_line(const char **pos, struct uapi_line *line)
{
	const char *start = *pos, *end = strchr(start, '\n'), *eq;

	if (!end)
		return -EPROTO;
	*pos = end + 1;
	if (end == start)
		return 0;
	eq = memchr(start, '=', (size_t)(end - start));
	if (!eq || eq == start)
		return -EPROTO;
	line->key = start;
	line->key_len = (size_t)(eq - start);
	line->value = eq + 1;
	line->value_len = (size_t)(end - eq - 1);
	return 1;
}

static bool key_is(const struct uapi_line *line, const char *key)
{
	return line->key_len == strlen(key) && !memcmp(line->key, key, line->key_len);
}

static int parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!len || len > 20)
		return -EPROTO;
	for (size_t i = 0; i < len; i++) {
		unsigned int d = (unsigned char)s[i] - '0';

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return -EPROTO;
		v = v * 10 + d;
	}
	if (v > max)
		return -EPROTO;
	*out = v;
	return 0;
}

static int parse_key(const struct uapi_line *line, uint8_t key[WG_KEY_LEN])
{
	const char *end = NULL;
	size_t len = 0;

	if (line->value_len != WG_KEY_LEN * 2 ||
	    sodium_hex2bin(key, WG_KEY_LEN, line->value, line->value_len, NULL, &len, &end) ||
	    len != WG_KEY_LEN || end != line->value + line->value_len) {
		sodium_memzero(key, WG_KEY_LEN);
		return -EPROTO;
	}
	return 0;
}

/* wireguard-go answers with a negative errno; wg(8) also accepts a positive one on get. */
static int parse_errno(const struct uapi_line *line, int *out)
{
	bool negative = line->value_len && line->value[0] == '-';
	uint64_t v;

	if (parse_u64(line->value + negative, line->value_len - negative, 4095, &v))
		return -EPROTO;
	*out = -(int)v;
	return 0;
}

/* Copies LINE's value into S (NUL-terminated) for the libc parsers. */
static int value_copy(const struct uapi_line *line, char *s, size_t size)
{
	if (line->value_len >= size)
		return -EPROTO;
	memcpy(s, line->value, line->value_len);
	s[line->value_len] = '\0';
	return 0;
}

static int parse_port(const char *s, uint16_t *port)
{
	uint64_t v;

	if (parse_u64(s, strlen(s), UINT16_MAX, &v))
		return -EPROTO;
	*port = (uint16_t)v;
	return 0;
}

static int parse_scope(const char *s, uint32_t *scope)
{
	uint64_t v;

	if (!parse_u64(s, strlen(s), UINT32_MAX, &v)) {
		*scope = (uint32_t)v;
		return 0;
	}
	*scope = if_nametoindex(s);
	return *scope ? 0 : -EPROTO;
}

static int parse_endpoint(const struct uapi_line *line, struct wg_peer *peer)
{
	char s[INET6_ADDRSTRLEN + IFNAMSIZ + 16], *colon, *zone;
	uint16_t port;

	if (value_copy(line, s, sizeof(s)))
		return -EPROTO;
	colon = strrchr(s, ':');
	if (!colon || parse_port(colon + 1, &port))
		return -EPROTO;
	*colon = '\0';
	memset(&peer->endpoint, 0, sizeof(peer->endpoint));
	if (s[0] == '[') {
		struct sockaddr_in6 *sin6 = &peer->endpoint.addr6;

		if (colon == s + 1 || colon[-1] != ']')
			return -EPROTO;
		colon[-1] = '\0';
		zone = strchr(s + 1, '%');
		if (zone) {
			*zone++ = '\0';
			if (parse_scope(zone, &sin6->sin6_scope_id))
				return -EPROTO;
		}
		if (inet_pton(AF_INET6, s + 1, &sin6->sin6_addr) != 1)
			return -EPROTO;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
	} else {
		struct sockaddr_in *sin = &peer->endpoint.addr4;

		if (inet_pton(AF_INET, s, &sin->sin_addr) != 1)
			return -EPROTO;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
	}
	return 0;
}

static int parse_allowedip(const struct uapi_line *line, struct wg_peer *peer)
{
	char s[INET6_ADDRSTRLEN + 8], *slash;
	struct wg_allowedip aip = { 0 };
	uint64_t cidr;

	if (value_copy(line, s, sizeof(s)))
		return -EPROTO;
	slash = strchr(s, '/');
	if (!slash)
		return -EPROTO;
	*slash = '\0';
	if (inet_pton(AF_INET, s, &aip.ip4) == 1)
		aip.family = AF_INET;
	else if (inet_pton(AF_INET6, s, &aip.ip6) == 1)
		aip.family = AF_INET6;
	else
		return -EPROTO;
	if (parse_u64(slash + 1, strlen(slash + 1), aip.family == AF_INET ? 32 : 128, &cidr))
		return -EPROTO;
	aip.cidr = (uint8_t)cidr;
	if (peer->n_allowedips == WGDEV_MAX_ALLOWEDIPS)
		return -E2BIG;
	peer->allowedips[peer->n_allowedips++] = aip;
	return 0;
}

static int parse_device_line(const struct uapi_line *line, struct wg_device *dev)
{
	uint8_t private_key[WG_KEY_LEN];
	uint64_t v;
	int err;

	if (key_is(line, "private_key")) {
		err = parse_key(line, private_key);
		if (!err && crypto_scalarmult_base(dev->public_key, private_key))
			err = -EPROTO;
		sodium_memzero(private_key, sizeof(private_key));
		return err;
	}
	if (key_is(line, "listen_port")) {
		err = parse_u64(line->value, line->value_len, UINT16_MAX, &v);
		if (!err)
			dev->listen_port = (uint16_t)v;
		return err;
	}
	if (key_is(line, "fwmark"))
		return parse_u64(line->value, line->value_len, UINT32_MAX, &v);
	/* Newer daemons may report more; what the driver does not program it can ignore. */
	return 0;
}

static int parse_peer_line(const struct uapi_line *line, struct wg_peer *peer)
{
	uint64_t v;
	int err;

	if (key_is(line, "preshared_key")) {
		err = parse_key(line, peer->preshared_key);
		peer->has_preshared_key = !err && !sodium_is_zero(peer->preshared_key, WG_KEY_LEN);
		return err;
	}
	if (key_is(line, "endpoint"))
		return parse_endpoint(line, peer);
	if (key_is(line, "allowed_ip"))
		return parse_allowedip(line, peer);
	if (key_is(line, "last_handshake_time_sec")) {
		err = parse_u64(line->value, line->value_len, INT64_MAX, &v);
		if (!err)
			peer->last_handshake_sec = (int64_t)v;
		return err;
	}
	if (key_is(line, "tx_bytes"))
		return parse_u64(line->value, line->value_len, UINT64_MAX, &peer->tx_bytes);
	if (key_is(line, "rx_bytes"))
		return parse_u64(line->value, line->value_len, UINT64_MAX, &peer->rx_bytes);
	if (key_is(line, "last_handshake_time_nsec"))
		return parse_u64(line->value, line->value_len, 999999999, &v);
	if (key_is(line, "persistent_keepalive_interval")) {
		err = parse_u64(line->value, line->value_len, UINT16_MAX, &v);
		if (!err)
			peer->persistent_keepalive = (uint16_t)v;
		return err;
	}
	if (key_is(line, "protocol_version"))
		return parse_u64(line->value, line->value_len, UINT32_MAX, &v);
	return 0;
}

int uapi_parse_get_reply(const char *reply, struct wg_device *out)
{
	struct wg_peer *peer = NULL;
	struct uapi_line line;
	const char *pos = reply;
	bool have_errno = false;
	int err, daemon_err = 0;

	memset(out, 0, sizeof(*out));
	while ((err = next_line(&pos, &line)) > 0) {
		if (have_errno)
			return -EPROTO;
		if (key_is(&line, "errno")) {
			err = parse_errno(&line, &daemon_err);
			have_errno = true;
		} else if (key_is(&line, "public_key")) {
			peer = wgdev_peer_append(out);
			err = peer ? parse_key(&line, peer->public_key) : -ENOMEM;
		} else if (peer) {
			err = parse_peer_line(&line, peer);
		} else {
			err = parse_device_line(&line, out);
		}
		if (err)
			return err;
	}
	if (err)
		return err;
	return have_errno ? daemon_err : -EPROTO;
}

int uapi_parse_set_reply(const char *reply)
{
	struct uapi_line line;
	const char *pos = reply;
	int err, daemon_err;

	err = next_line(&pos, &line);
	if (err <= 0 || !key_is(&line, "errno") || parse_errno(&line, &daemon_err))
		return -EPROTO;
	if (next_line(&pos, &line) != 0)
		return -EPROTO;
	return daemon_err;
}

static int64_t clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - clock_ms();
		struct pollfd pfd = { .fd = fd, .events = events };
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n > 0)
			return 0;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

/* Non-blocking so that neither a full listen backlog nor a silent daemon can block us. */
static int connect_path(const char *path, int64_t deadline, int *out)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t len = sizeof(int);
	int fd, err, so_error = 0;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (!connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		*out = fd;
		return 0;
	}
	err = -errno;
	if (err != -EINPROGRESS)
		goto err_close;
	err = wait_fd(fd, POLLOUT, deadline);
	if (err)
		goto err_close;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len))
		so_error = errno;
	err = -so_error;
	if (err)
		goto err_close;
	*out = fd;
	return 0;
err_close:
	close(fd);
	return err;
}

static int send_all(int fd, const char *data, size_t len, int64_t deadline)
{
	while (len) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
		int err;

		if (n >= 0) {
			data += n;
			len -= (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		err = wait_fd(fd, POLLOUT, deadline);
		if (err)
			return err;
	}
	return 0;
}

static bool reply_complete(const struct uapi_buf *reply, size_t from)
{
	if (reply->len && reply->data[0] == '\n')
		return true;
	return strstr(reply->data + (from ? from - 1 : 0), "\n\n") != NULL;
}

static int recv_reply(int fd, struct uapi_buf *reply, int64_t deadline)
{
	for (;;) {
		size_t from = reply->len;
		ssize_t n;
		int err;

		if (reply->len >= UAPI_REPLY_MAX)
			return -EMSGSIZE;
		err = buf_reserve(reply, 4096);
		if (err)
			return err;
		n = recv(fd, reply->data + reply->len, reply->cap - reply->len - 1, 0);
		if (n > 0) {
			reply->len += (size_t)n;
			reply->data[reply->len] = '\0';
			if (reply_complete(reply, from))
				return 0;
			continue;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		err = wait_fd(fd, POLLIN, deadline);
		if (err)
			return err;
	}
}

int uapi_transact(const char *path, const char *request, int timeout_ms, struct uapi_buf *reply)
{
	int64_t deadline = clock_ms() + timeout_ms;
	int fd = -1, err;

	err = connect_path(path, deadline, &fd);
	if (err)
		return err;
	err = send_all(fd, request, strlen(request), deadline);
	if (!err)
		err = recv_reply(fd, reply, deadline);
	close(fd);
	return err;
}

int uapi_socket_path(const char *ifname, char *path, size_t size)
{
	int n;

	if (!ifname || !ifname[0] || strnlen(ifname, IFNAMSIZ) == IFNAMSIZ || strchr(ifname, '/') ||
	    !strcmp(ifname, ".") || !strcmp(ifname, ".."))
		return -EINVAL;
	n = snprintf(path, size, "%s/%s.sock", uapi_dir, ifname);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

int uapi_set(const char *ifname, const struct uapi_buf *request)
{
	struct uapi_buf reply = { 0 };
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int err;

	err = uapi_socket_path(ifname, path, sizeof(path));
	if (!err)
		err = uapi_transact(path, request->data, uapi_timeout_ms, &reply);
	if (!err)
		err = uapi_parse_set_reply(reply.data);
	uapi_buf_free(&reply);
	return err;
}

int uapi_get(const char *ifname, struct wg_device *out)
{
	struct uapi_buf reply = { 0 };
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int err;

	memset(out, 0, sizeof(*out));
	err = uapi_socket_path(ifname, path, sizeof(path));
	if (!err)
		err = uapi_transact(path, "get=1\n\n", uapi_timeout_ms, &reply);
	if (!err)
		err = uapi_parse_get_reply(reply.data, out);
	uapi_buf_free(&reply);
	return err;
}

int uapi_listen(const char *ifname, uid_t uid)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, err;

	err = uapi_socket_path(ifname, addr.sun_path, sizeof(addr.sun_path));
	if (err)
		return err;
	/* wireguard-go's own mode: its tools list the directory. */
	if (mkdir(uapi_dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(addr.sun_path);
	/* The file's mode and owner before listen(): a connection never finds it wider, and a
	 * change after wireguard-go watches it would make it exit. */
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || chmod(addr.sun_path, 0600) ||
	    (uid && chown(addr.sun_path, uid, uid)) || listen(fd, SOMAXCONN)) {
		err = -errno;
		unlink(addr.sun_path);
		close(fd);
		return err;
	}
	return fd;
}

int uapi_wait_ready(const char *ifname, int timeout_ms)
{
	struct uapi_buf reply = { 0 };
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int err;

	err = uapi_socket_path(ifname, path, sizeof(path));
	if (!err)
		err = uapi_transact(path, "get=1\n\n", timeout_ms, &reply);
	uapi_buf_free(&reply);
	return err;
}

bool uapi_socket_alive(const char *ifname)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd = -1;

	if (uapi_socket_path(ifname, path, sizeof(path)) ||
	    connect_path(path, clock_ms() + uapi_timeout_ms, &fd))
		return false;
	close(fd);
	return true;
}
