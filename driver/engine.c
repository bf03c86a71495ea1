// SPDX-License-Identifier: MIT
#include "engine.h"

#include "clock.h"
#include "endpoint.h"
#include "errmsg.h"
#include "field.h"
#include "keystore.h"
#include "log.h"
#include "quote.h"
#include "wgd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define ENGINE_TARGETS_MAX 64
#define ENGINE_NAME_MAX	   255
/* Attempts are logged the first time and then every this many (about a minute apart). */
#define ENGINE_LOG_EVERY 12
/* Attempts at a container's name (about a minute) before it is left unknown. */
#define ENGINE_NAME_TRIES 16

static const unsigned backoff_ms[] = { 100, 250, 500, 1000, 2000, 5000 };

struct job {
	char nid[NETWORK_ID_LEN + 1];
	char eid[NETWORK_ID_LEN + 1];
	unsigned attempts;
	struct timespec due; /* CLOCK_MONOTONIC */
	struct job *next;
};

/* What the engine says about a container that an endpoint links to. */
struct target {
	char name[ENGINE_NAME_MAX + 1];
	/* its wireguard.key label, with a byte more so that a longer one stays invalid */
	char key[KEYSTORE_REF_MAX + 2];
	char eid[NETWORK_ID_LEN + 1]; /* its endpoint on the network, "" when not on it */
};

/* A connect that finds the engine's backlog full is tried again after this. */
#define ENGINE_CONNECT_RETRY_MS 50

struct engine {
	struct wgd *d;
	char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	unsigned timeout_ms; /* of one call: ENGINE_TIMEOUT_MS */
	pthread_mutex_t queue_lock;
	pthread_cond_t queue_cond;
	struct job *queue; /* by due time */
	bool stopping;
	int stop_pipe[2];
	pthread_t thread;
};

/* Queues JOB by its due time; the caller holds queue_lock. */
static void queue_insert(struct engine *e, struct job *job)
{
	struct job **p = &e->queue;

	while (*p && !clock_before(&job->due, &(*p)->due))
		p = &(*p)->next;
	job->next = *p;
	*p = job;
	pthread_cond_signal(&e->queue_cond);
}

/* Called by endpoint_join with the daemon's lock held: only the queue's own lock is taken here. */
static void request_resolution(void *ctx, const struct endpoint *ep)
{
	struct engine *e = ctx;
	struct job *job;

	pthread_mutex_lock(&e->queue_lock);
	for (job = e->queue; job; job = job->next)
		if (!strcmp(job->eid, ep->id) && !strcmp(job->nid, ep->net->id))
			break;
	if (!job) {
		job = calloc(1, sizeof(*job));
		if (job) {
			memcpy(job->nid, ep->net->id, NETWORK_ID_LEN);
			memcpy(job->eid, ep->id, NETWORK_ID_LEN);
			job->due = clock_in_ms(0);
			queue_insert(e, job);
		} else {
			log_error("endpoint %.12s: out of memory; it stays without peers", ep->id);
		}
	}
	pthread_mutex_unlock(&e->queue_lock);
}

/* Milliseconds left until DEADLINE, at least 0. */
static int ms_left(const struct timespec *deadline)
{
	struct timespec t;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &t);
	ms = (deadline->tv_sec - t.tv_sec) * 1000 + (deadline->tv_nsec - t.tv_nsec) / 1000000;
	return ms > 0 ? (int)ms : 0;
}

/* Waits until FD is ready for EVENTS before DEADLINE; a byte on the stop pipe cancels. */
static int wait_fd(struct engine *e, int fd, short events, const struct timespec *deadline)
{
	struct pollfd pfd[2] = { { .fd = fd, .events = events },
				 { .fd = e->stop_pipe[0], .events = POLLIN } };
	int n, ms;

	for (;;) {
		ms = ms_left(deadline);
		if (!ms)
			return -ETIMEDOUT;
		n = poll(pfd, 2, ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (pfd[1].revents)
			return -ECANCELED;
		if (n)
			return 0;
	}
}

/* Connects FD (non-blocking) to the engine's socket and sends the LEN bytes of REQUEST before
 * DEADLINE: a stuck engine never holds the resolver (or the daemon's stop) longer than that. */
static int send_request(struct engine *e, int fd, const char *request, size_t len,
			const struct timespec *deadline)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct pollfd stop = { .fd = e->stop_pipe[0], .events = POLLIN };
	socklen_t elen = sizeof(int);
	int soerr = 0, ret;
	ssize_t n;

	strcpy(addr.sun_path, e->socket_path);
	while (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EINPROGRESS) {
			ret = wait_fd(e, fd, POLLOUT, deadline);
			if (ret)
				return ret;
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) < 0)
				return -errno;
			if (soerr)
				return -soerr;
			break;
		}
		/* A Unix socket whose backlog is full refuses at once: wait and try again. */
		if (errno != EAGAIN)
			return -errno;
		if (!ms_left(deadline))
			return -ETIMEDOUT;
		if (poll(&stop, 1, ENGINE_CONNECT_RETRY_MS) > 0)
			return -ECANCELED;
	}
	while (len) {
		n = send(fd, request, len, MSG_NOSIGNAL);
		if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
			ret = errno == EAGAIN ? wait_fd(e, fd, POLLOUT, deadline) : 0;
			if (ret)
				return ret;
			continue;
		}
		if (n < 0)
			return -errno;
		request += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads from FD until EOF into *BUF (new, NUL-terminated) before DEADLINE, at most
 * ENGINE_REPLY_MAX bytes; a byte on the stop pipe cancels. */
static int read_all(struct engine *e, int fd, char **buf, size_t *len,
		    const struct timespec *deadline)
{
	size_t cap = 0;
	char *grown;
	ssize_t n;
	int ret;

	*buf = NULL;
	*len = 0;
	for (;;) {
		ret = wait_fd(e, fd, POLLIN, deadline);
		if (ret)
			return ret;
		if (cap - *len < 4096) {
			if (cap >= ENGINE_REPLY_MAX)
				return -EFBIG;
			cap = cap ? cap * 2 : 16384;
			grown = realloc(*buf, cap + 1);
			if (!grown)
				return -ENOMEM;
			*buf = grown;
		}
		n = recv(fd, *buf + *len, cap - *len, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			break;
		*len += (size_t)n;
	}
	if (!*buf && !(*buf = malloc(1)))
		return -ENOMEM;
	(*buf)[*len] = '\0';
	return 0;
}

/* Splits an HTTP/1.x reply TEXT into its status and body. A chunked body is refused: the engine
 * does not chunk its answer to an HTTP/1.0 request. */
static int parse_reply(char *text, size_t len, int *status, const char **body, size_t *body_len)
{
	char *end = strstr(text, "\r\n\r\n");
	char *te;

	if (strncmp(text, "HTTP/1.", 7) || len < 12 || !end)
		return -EPROTO;
	*end = '\0';
	te = strcasestr(text, "\r\nTransfer-Encoding:");
	if (te && strcasestr(te, "chunked"))
		return -EPROTO;
	*status = atoi(text + 9);
	*body = end + 4;
	*body_len = len - (size_t)(end + 4 - text);
	return 0;
}

/* GET PATH from the engine: its status in *STATUS and, for a 200, its JSON body in *OUT (new). */
static int engine_get(struct engine *e, const char *path, int *status, json_t **out)
{
	struct timespec deadline = clock_in_ms(e->timeout_ms);
	char request[512], *reply = NULL;
	const char *body;
	size_t len = 0, body_len;
	json_error_t jerr;
	int fd, n, ret;

	*out = NULL;
	n = snprintf(request, sizeof(request),
		     "GET %s HTTP/1.0\r\nHost: docker\r\nUser-Agent: wireguard-driver\r\n\r\n",
		     path);
	if (n < 0 || n >= (int)sizeof(request))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	ret = send_request(e, fd, request, (size_t)n, &deadline);
	if (ret)
		goto out;
	ret = read_all(e, fd, &reply, &len, &deadline);
	if (!ret)
		ret = parse_reply(reply, len, status, &body, &body_len);
	if (!ret && *status == 200) {
		*out = json_loadb(body, body_len, 0, &jerr);
		if (!*out)
			ret = -EPROTO;
	}
out:
	free(reply);
	close(fd);
	return ret;
}

/* The name of the network (*NAME) and the ID of the container (*CID) that has endpoint EID in
 * NET, a GET /networks/{id} answer. -ENOENT until the engine lists it under its container: while
 * the sandbox is being set up the key is "ep-<endpoint ID>". Borrowed from NET. */
static int network_container(const json_t *net, const char *eid, const char **name,
			     const char **cid)
{
	const json_t *v;
	const char *key;

	*name = json_string_value(json_object_get(net, "Name"));
	json_object_foreach ((json_t *)json_object_get(net, "Containers"), key, v) {
		const char *e = json_string_value(json_object_get(v, "EndpointID"));

		if (e && !strcmp(e, eid) && *name && strlen(key) == NETWORK_ID_LEN &&
		    strspn(key, "0123456789abcdef") == NETWORK_ID_LEN) {
			*cid = key;
			return 0;
		}
	}
	return -ENOENT;
}

/* Label LABEL of container C (a GET /containers/{id}/json answer), or NULL. Borrowed. */
static const char *container_label(const json_t *c, const char *label)
{
	return json_string_value(
		json_object_get(json_object_get(json_object_get(c, "Config"), "Labels"), label));
}

/* C's settings on network NETNAME, or NULL when it is not on it. Borrowed. */
static const json_t *container_network(const json_t *c, const char *netname)
{
	return json_object_get(json_object_get(json_object_get(c, "NetworkSettings"), "Networks"),
			       netname);
}

static bool name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (!first && (c == '_' || c == '.' || c == '-'));
}

/* Docker's container names, [a-zA-Z0-9][a-zA-Z0-9_.-]*: safe in a URL path. */
static bool container_name_valid(const char *s, size_t len)
{
	if (!len || len > ENGINE_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!name_char(s[i], i == 0))
			return false;
	return true;
}

/* Adds the container a link names to T (*N used), once. A link is "<name>:<alias>" on a
 * user-defined network and "/<name>:/<self>/<alias>" in HostConfig.Links. */
static void add_target(const char *link, struct target *t, size_t *n)
{
	const char *name = link[0] == '/' ? link + 1 : link;
	const char *colon = strchr(name, ':');
	size_t len = colon ? (size_t)(colon - name) : strlen(name);

	if (!container_name_valid(name, len)) {
		log_warn("engine: link \"%s\": not a container name; ignored", QUOTE(link, 80));
		return;
	}
	for (size_t i = 0; i < *n; i++)
		if (strlen(t[i].name) == len && !strncmp(t[i].name, name, len))
			return;
	if (*n == ENGINE_TARGETS_MAX) {
		log_warn("engine: more than %d linked containers; \"%s\" ignored",
			 ENGINE_TARGETS_MAX, QUOTE(link, 80));
		return;
	}
	memset(&t[*n], 0, sizeof(t[*n]));
	memcpy(t[*n].name, name, len);
	(*n)++;
}

/* The containers C links to on network NETNAME, into T (ENGINE_TARGETS_MAX); returns how many. */
static size_t container_targets(const json_t *c, const char *netname, struct target *t)
{
	const json_t *lists[2] = {
		json_object_get(container_network(c, netname), "Links"),
		json_object_get(json_object_get(c, "HostConfig"), "Links"),
	};
	const json_t *v;
	size_t n = 0, i;

	for (size_t l = 0; l < 2; l++)
		json_array_foreach ((json_t *)lists[l], i, v)
			if (json_is_string(v))
				add_target(json_string_value(v), t, &n);
	return n;
}

/* Fills T's key and endpoint on NETNAME from its inspect answer C. */
static void target_fill(struct target *t, const json_t *c, const char *netname)
{
	const char *key = container_label(c, ENGINE_LABEL_KEY);
	const char *eid =
		json_string_value(json_object_get(container_network(c, netname), "EndpointID"));

	snprintf(t->key, sizeof(t->key), "%s", key ? key : "");
	if (field_id_valid(eid))
		memcpy(t->eid, eid, NETWORK_ID_LEN + 1);
}

/* The identity T stands for on NET: its endpoint's once resolved, else what it will be. */
static const char *target_ref(const struct network *net, const struct target *t)
{
	const struct endpoint *o = endpoint_find(net, t->eid);

	if (o && !o->pending)
		return o->key_ref;
	return t->key[0] ? t->key : t->eid;
}

/* With the daemon's lock held: resolves endpoint EID of network NID from what its container
 * says. */
static void apply(struct wgd *d, const char *nid, const char *eid, const char *key,
		  const char *links_label, const struct target *t, size_t n)
{
	struct network *net = network_find(d, nid);
	struct endpoint *ep = net ? endpoint_find(net, eid) : NULL;
	struct link_set links = { 0 };
	char err[ERRMSG_LEN];
	const char *ref;
	int ret;

	if (!ep || !ep->pending)
		return;
	ret = links_parse(links_label ? links_label : "", key ? key : ep->key_ref,
			  "label " ENGINE_LABEL_LINKS, &links, err);
	for (size_t i = 0; !ret && i < n; i++) {
		ref = target_ref(net, &t[i]);
		if (!keystore_ref_valid(ref) || !strcmp(ref, key ? key : ep->key_ref)) {
			log_warn("endpoint %.12s: link to container %s: no usable key reference; "
				 "ignored",
				 eid, t[i].name);
			continue;
		}
		ret = links_add(&links, ref, NULL);
		if (ret)
			errmsg_set(err, ret, "links: %s", strerror(-ret));
	}
	if (!ret)
		ret = endpoint_resolve(ep, key, &links, err);
	if (ret)
		log_error("endpoint %.12s: %s; it stays without peers", eid, err);
	links_free(&links);
}

/* Inspects each target's container. -EAGAIN when the engine did not answer. */
static int inspect_targets(struct engine *e, struct target *t, size_t n, const char *netname)
{
	char path[ENGINE_NAME_MAX + 32];
	json_t *c;
	int status, ret;

	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/containers/%.255s/json", t[i].name);
		ret = engine_get(e, path, &status, &c);
		if (ret)
			return ret == -ECANCELED ? ret : -EAGAIN;
		if (c)
			target_fill(&t[i], c, netname);
		else
			log_warn("engine: linked container %s: HTTP %d; ignored", t[i].name,
				 status);
		json_decref(c);
	}
	return 0;
}

/* What a job asks of the engine now: the endpoint's links and labels (it waits for them), or only
 * its container's name (for the operator's eyes), or nothing any more. */
enum want { WANT_NOTHING, WANT_NAME, WANT_RESOLVE };

static enum want job_wants(struct wgd *d, const struct job *job)
{
	struct network *net;
	struct endpoint *ep;
	enum want want = WANT_NOTHING;

	wgd_lock(d);
	net = network_find(d, job->nid);
	ep = net ? endpoint_find(net, job->eid) : NULL;
	if (ep && ep->joined)
		want = ep->pending ? WANT_RESOLVE : !ep->container[0] ? WANT_NAME : WANT_NOTHING;
	wgd_unlock(d);
	return want;
}

/* With the daemon's lock held: the names the engine gives network NID and the containers of its
 * endpoints, from NET (a GET /networks/{id} answer, untrusted: names are cut and quoted). */
static void names_apply(struct wgd *d, const char *nid, const json_t *net)
{
	struct network *n = network_find(d, nid);
	const char *name = json_string_value(json_object_get(net, "Name")), *key;
	const json_t *v;

	if (!n)
		return;
	if (name && strcmp(n->name, name) && container_name_valid(name, strlen(name)))
		snprintf(n->name, sizeof(n->name), "%s", name);
	json_object_foreach ((json_t *)json_object_get(net, "Containers"), key, v) {
		const char *eid = json_string_value(json_object_get(v, "EndpointID"));
		const char *cname = json_string_value(json_object_get(v, "Name"));
		struct endpoint *ep = eid ? endpoint_find(n, eid) : NULL;

		if (!ep || !cname || !strcmp(ep->container, cname) ||
		    !container_name_valid(cname, strlen(cname)))
			continue;
		snprintf(ep->container, sizeof(ep->container), "%s", cname);
		log_info("endpoint %.12s: container %s on network %s", ep->id, ep->container,
			 n->name[0] ? n->name : nid);
	}
}

/* true when endpoint EID of network NID has its container's name. */
static bool named(struct wgd *d, const char *nid, const char *eid)
{
	struct network *net = network_find(d, nid);
	struct endpoint *ep = net ? endpoint_find(net, eid) : NULL;

	return !ep || ep->container[0];
}

/* One attempt at JOB: 0 when done (resolved, failed for good, or no longer waiting), -EAGAIN to
 * try again later, -ECANCELED when stopping. */
static int resolve(struct engine *e, const struct job *job)
{
	struct target targets[ENGINE_TARGETS_MAX];
	json_t *net = NULL, *ctr = NULL;
	const char *netname, *cid;
	char path[NETWORK_ID_LEN + 32];
	enum want want = job_wants(e->d, job);
	size_t n = 0;
	int status, ret;

	if (want == WANT_NOTHING)
		return 0;
	snprintf(path, sizeof(path), "/networks/%s", job->nid);
	ret = engine_get(e, path, &status, &net);
	if (!ret && !net)
		ret = status == 404 ? 0 : -EAGAIN;
	if (ret || !net)
		goto out;
	wgd_lock(e->d);
	names_apply(e->d, job->nid, net);
	if (want == WANT_NAME)
		ret = named(e->d, job->nid, job->eid) ? 0 : -EAGAIN;
	wgd_unlock(e->d);
	if (want == WANT_NAME)
		goto out;
	if (network_container(net, job->eid, &netname, &cid)) {
		ret = -EAGAIN; /* the engine lists it once the start is over */
		goto out;
	}
	/* Not found is tried again too: the endpoint's Leave ends the wait if it is gone. */
	snprintf(path, sizeof(path), "/containers/%.64s/json", cid);
	ret = engine_get(e, path, &status, &ctr);
	if (!ret && !ctr)
		ret = -EAGAIN;
	if (ret || !ctr)
		goto out;
	n = container_targets(ctr, netname, targets);
	ret = inspect_targets(e, targets, n, netname);
	if (ret)
		goto out;
	wgd_lock(e->d);
	apply(e->d, job->nid, job->eid, container_label(ctr, ENGINE_LABEL_KEY),
	      container_label(ctr, ENGINE_LABEL_LINKS), targets, n);
	wgd_unlock(e->d);
out:
	json_decref(ctr);
	json_decref(net);
	if (ret && ret != -ECANCELED && ret != -EAGAIN)
		ret = -EAGAIN;
	return ret;
}

static void *resolver_main(void *arg)
{
	struct engine *e = arg;
	struct timespec now;
	struct job *job;
	enum want want;
	unsigned delay;
	int ret;

	pthread_mutex_lock(&e->queue_lock);
	while (!e->stopping) {
		now = clock_in_ms(0);
		if (!e->queue) {
			pthread_cond_wait(&e->queue_cond, &e->queue_lock);
			continue;
		}
		if (clock_before(&now, &e->queue->due)) {
			pthread_cond_timedwait(&e->queue_cond, &e->queue_lock, &e->queue->due);
			continue;
		}
		job = e->queue;
		e->queue = job->next;
		pthread_mutex_unlock(&e->queue_lock);
		want = job_wants(e->d, job);
		ret = resolve(e, job);
		pthread_mutex_lock(&e->queue_lock);
		/* A name is a nicety: it is not asked for forever. */
		if (ret != -EAGAIN || e->stopping ||
		    (want == WANT_NAME && job->attempts >= ENGINE_NAME_TRIES)) {
			free(job);
			continue;
		}
		if (want == WANT_RESOLVE && job->attempts % ENGINE_LOG_EVERY == 0)
			log_warn(
				"endpoint %.12s: the engine at %s does not tell its container yet; "
				"trying again",
				job->eid, e->socket_path);
		delay = backoff_ms[job->attempts < 5 ? job->attempts : 5];
		job->attempts++;
		job->due = clock_in_ms(delay);
		queue_insert(e, job);
	}
	pthread_mutex_unlock(&e->queue_lock);
	return NULL;
}

/* Queues every joined endpoint (state from before a restart): those that wait, and the others
 * for their container's name. */
static void queue_waiting(struct engine *e)
{
	wgd_lock(e->d);
	for (struct network *n = e->d->networks; n; n = n->next)
		for (struct endpoint *ep = n->endpoints; ep; ep = ep->next)
			if (ep->joined)
				request_resolution(e, ep);
	wgd_unlock(e->d);
}

static size_t count_waiting(struct wgd *d)
{
	size_t count = 0;

	wgd_lock(d);
	for (struct network *n = d->networks; n; n = n->next)
		for (struct endpoint *ep = n->endpoints; ep; ep = ep->next)
			count += ep->pending;
	wgd_unlock(d);
	return count;
}

int engine_start(struct wgd *d, const char *path, struct engine **out, char *err)
{
	pthread_condattr_t attr;
	struct engine *e;
	struct stat st;
	size_t waiting;
	int ret;

	*out = NULL;
	if (!path || !*path || stat(path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		log_info("engine access: off (%s%s): endpoints use their wg.* options only",
			 path && *path ? path : "no --engine-socket",
			 path && *path ? " is not a socket" : "");
		waiting = count_waiting(d);
		if (waiting)
			log_warn(
				"%zu endpoint(s) wait for their container's links and labels, which "
				"need engine access: they stay without peers",
				waiting);
		return 0;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return errmsg_set(err, -ENOMEM, "out of memory");
	e->d = d;
	e->timeout_ms = ENGINE_TIMEOUT_MS;
	if (strlen(path) >= sizeof(e->socket_path)) {
		free(e);
		return errmsg_set(err, -ENAMETOOLONG, "engine socket %s: path too long", path);
	}
	strcpy(e->socket_path, path);
	if (pipe2(e->stop_pipe, O_CLOEXEC) < 0) {
		free(e);
		return errmsg_set(err, -errno, "engine resolver: pipe: %s", strerror(errno));
	}
	pthread_mutex_init(&e->queue_lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&e->queue_cond, &attr);
	pthread_condattr_destroy(&attr);
	ret = -pthread_create(&e->thread, NULL, resolver_main, e);
	if (ret) {
		close(e->stop_pipe[0]);
		close(e->stop_pipe[1]);
		pthread_cond_destroy(&e->queue_cond);
		pthread_mutex_destroy(&e->queue_lock);
		free(e);
		return errmsg_set(err, ret, "engine resolver: thread: %s", strerror(-ret));
	}
	wgd_lock(d);
	d->resolve = request_resolution;
	d->resolve_ctx = e;
	wgd_unlock(d);
	queue_waiting(e);
	log_info("engine access: %s; endpoints without wg.* options take their container's links "
		 "and labels",
		 path);
	*out = e;
	return 0;
}

void engine_stop(struct engine *e)
{
	struct job *job;

	if (!e)
		return;
	wgd_lock(e->d);
	e->d->resolve = NULL;
	e->d->resolve_ctx = NULL;
	wgd_unlock(e->d);
	pthread_mutex_lock(&e->queue_lock);
	e->stopping = true;
	pthread_cond_broadcast(&e->queue_cond);
	pthread_mutex_unlock(&e->queue_lock);
	if (write(e->stop_pipe[1], "x", 1) < 0)
		log_warn("engine resolver: stop: %s", strerror(errno));
	pthread_join(e->thread, NULL);
	while ((job = e->queue)) {
		e->queue = job->next;
		free(job);
	}
	close(e->stop_pipe[0]);
	close(e->stop_pipe[1]);
	pthread_cond_destroy(&e->queue_cond);
	pthread_mutex_destroy(&e->queue_lock);
	free(e);
}
