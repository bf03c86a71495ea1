// SPDX-License-Identifier: MIT
/* The engine resolver: what it reads from the engine's answers, its HTTP exchange, and a whole
 * resolution against a fake engine on a Unix socket. */
#include "../../driver/engine.c"

#include "api.h"
#include "backends.h"
#include "helper_daemon.h"
#include "helper_fake_backend.h"
#include "peersync.h"
#include "keystore.h"
#include "state.h"
#include "unit.h"

#include <time.h>

#define NID		"1111111111111111111111111111111111111111111111111111111111111111"
#define EID_WEB		"aaaaaaaaaaaa0000000000000000000000000000000000000000000000000000"
#define EID_DB		"bbbbbbbbbbbb0000000000000000000000000000000000000000000000000000"
#define CID_WEB		"c0ffee000000000000000000000000000000000000000000000000000000c0de"
#define CID_DB		"d00d00000000000000000000000000000000000000000000000000000000d00d"
#define FAKE_ROUTES_MAX 8

/* A fake engine: answers GET <path> from a table, one request per connection. */
struct fake_route {
	const char *path;
	const char *reply; /* the whole HTTP reply; NULL: never answer */
};

static struct fake_route routes[FAKE_ROUTES_MAX];
static struct test_daemon td;
static const char *dir = td.dir;
static char engine_path[128];
/* The resolver's state for the tests that call its functions directly. */
static struct engine eng;
static int engine_fd = -1, requests;
static pthread_t engine_thread;

static void *fake_engine(void *arg)
{
	char req[1024], path[512];
	ssize_t n;
	int fd;

	while ((fd = accept(engine_fd, NULL, NULL)) >= 0) {
		n = recv(fd, req, sizeof(req) - 1, 0);
		req[n > 0 ? n : 0] = '\0';
		requests++;
		if (sscanf(req, "GET %511s HTTP/1.0", path) == 1) {
			for (int i = 0; i < FAKE_ROUTES_MAX && routes[i].path; i++) {
				if (strcmp(routes[i].path, path))
					continue;
				if (!routes[i].reply)
					poll(NULL, 0, 500);
				else if (send(fd, routes[i].reply, strlen(routes[i].reply), 0) < 0)
					perror("fake engine");
				break;
			}
		}
		close(fd);
	}
	return NULL;
}

static void fake_engine_start(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	snprintf(engine_path, sizeof(engine_path), "%s/docker.sock", dir);
	strcpy(addr.sun_path, engine_path);
	engine_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (engine_fd < 0 || bind(engine_fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    listen(engine_fd, 8) || pthread_create(&engine_thread, NULL, fake_engine, NULL))
		abort();
	strcpy(eng.socket_path, engine_path);
}

static void fake_engine_stop(void)
{
	shutdown(engine_fd, SHUT_RDWR);
	pthread_join(engine_thread, NULL);
	close(engine_fd);
	engine_fd = -1;
}

static void setup(void)
{
	fake_reset();
	test_daemon_init(&td, &fake_backend);
	memset(&eng, 0, sizeof(eng));
	eng.d = &td.d;
	eng.timeout_ms = ENGINE_TIMEOUT_MS;
	if (pipe2(eng.stop_pipe, O_CLOEXEC))
		abort();
	memset(routes, 0, sizeof(routes));
	requests = 0;
	fake_engine_start();
}

static void teardown(void)
{
	fake_engine_stop();
	if (eng.stop_pipe[0] >= 0) {
		close(eng.stop_pipe[0]);
		close(eng.stop_pipe[1]);
		eng.stop_pipe[0] = eng.stop_pipe[1] = -1;
	}
	test_daemon_destroy(&td);
	fake_reset();
}

static json_t *parse(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	if (!j)
		abort();
	return j;
}

UNIT_TEST(network_lists_the_container)
{
	json_t *net =
		parse("{\"Name\":\"proj_secure\",\"Containers\":{"
		      "\"" CID_WEB "\":{\"Name\":\"proj_web_1\",\"EndpointID\":\"" EID_WEB "\"},"
		      "\"" EID_DB "\":{\"Name\":\"other\",\"EndpointID\":\"" EID_DB "\"}}}");
	const char *name = NULL, *cid = NULL;

	CHECK_EQ_INT(network_container(net, EID_WEB, &name, &cid), 0);
	CHECK(name && !strcmp(name, "proj_secure") && cid && !strcmp(cid, CID_WEB));
	CHECK_EQ_INT(network_container(net, EID_DB "x", &name, &cid), -ENOENT);
	json_decref(net);
	/* Before its sandbox is set up the engine lists the endpoint under "ep-<its ID>". */
	net = parse("{\"Name\":\"n\",\"Containers\":{\"ep-" EID_WEB "\":{\"Name\":\"web\","
		    "\"EndpointID\":\"" EID_WEB "\"}}}");
	CHECK_EQ_INT(network_container(net, EID_WEB, &name, &cid), -ENOENT);
	json_decref(net);
	net = parse("{\"Name\":\"n\",\"Containers\":{}}");
	CHECK_EQ_INT(network_container(net, EID_WEB, &name, &cid), -ENOENT);
	json_decref(net);
}

UNIT_TEST(container_links_and_labels)
{
	json_t *c = parse("{\"Config\":{\"Labels\":{\"wireguard.key\":\"web\","
			  "\"wireguard.links\":\"cache\"}},"
			  "\"HostConfig\":{\"Links\":[\"/legacy_db:/proj_web_1/db\"]},"
			  "\"NetworkSettings\":{\"Networks\":{\"proj_secure\":{"
			  "\"EndpointID\":\"" EID_WEB "\",\"Links\":[\"proj_db_1:db\","
			  "\"proj_db_1:db_1\",\"proj_db_1:proj_db_1\",\"bad name:x\",\"/:x\"]}}}}");
	struct target t[ENGINE_TARGETS_MAX];
	size_t n;

	CHECK(!strcmp(container_label(c, ENGINE_LABEL_KEY), "web"));
	CHECK(!strcmp(container_label(c, ENGINE_LABEL_LINKS), "cache"));
	CHECK(container_label(c, "nope") == NULL);
	n = container_targets(c, "proj_secure", t);
	/* compose 1.x lists each linked container under three aliases: one target. */
	CHECK_EQ_INT(n, 2);
	CHECK(!strcmp(t[0].name, "proj_db_1") && !strcmp(t[1].name, "legacy_db"));
	CHECK_EQ_INT(container_targets(c, "elsewhere", t), 1);
	target_fill(&t[0], c, "proj_secure");
	CHECK(!strcmp(t[0].key, "web") && !strcmp(t[0].eid, EID_WEB));
	target_fill(&t[1], c, "elsewhere");
	CHECK(!strcmp(t[1].key, "web") && !t[1].eid[0]);
	json_decref(c);
}

UNIT_TEST(http_replies)
{
	char ok[] = "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"a\":1}";
	char chunked[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\n{\"a\":1}";
	char junk[] = "SSH-2.0-OpenSSH\r\n\r\n";
	const char *body;
	size_t len;
	int status = 0;

	CHECK_EQ_INT(parse_reply(ok, strlen(ok), &status, &body, &len), 0);
	CHECK_EQ_INT(status, 200);
	CHECK(len == 7 && !strncmp(body, "{\"a\":1}", 7));
	CHECK_EQ_INT(parse_reply(chunked, strlen(chunked), &status, &body, &len), -EPROTO);
	CHECK_EQ_INT(parse_reply(junk, strlen(junk), &status, &body, &len), -EPROTO);
}

UNIT_TEST(engine_get_over_a_socket)
{
	json_t *j = NULL;
	int status = 0;

	setup();
	routes[0] = (struct fake_route){ "/networks/x", "HTTP/1.0 200 OK\r\n\r\n{\"Name\":\"n\"}" };
	routes[1] = (struct fake_route){ "/containers/y/json",
					 "HTTP/1.0 404 Not Found\r\n\r\n{\"message\":\"no\"}" };
	routes[2] = (struct fake_route){ "/slow", NULL };
	CHECK_EQ_INT(engine_get(&eng, "/networks/x", &status, &j), 0);
	CHECK(status == 200 && j && !strcmp(json_string_value(json_object_get(j, "Name")), "n"));
	json_decref(j);
	CHECK_EQ_INT(engine_get(&eng, "/containers/y/json", &status, &j), 0);
	CHECK(status == 404 && j == NULL);
	/* A stop interrupts a call the engine does not answer. */
	CHECK_EQ_INT(write(eng.stop_pipe[1], "x", 1), 1);
	CHECK_EQ_INT(engine_get(&eng, "/slow", &status, &j), -ECANCELED);
	teardown();
}

static const char *call(const char *path, const char *body)
{
	static char *answer;

	free(answer);
	answer = api_handle(&td.d, path, body, strlen(body));
	peersync_flush(&td.d);
	return answer;
}

static bool resolved(const char *eid, int timeout_ms)
{
	bool done = false;

	for (int i = 0; i < timeout_ms / 20 && !done; i++) {
		wgd_lock(&td.d);
		done = !endpoint_find(network_find(&td.d, NID), eid)->pending;
		wgd_unlock(&td.d);
		if (!done)
			poll(NULL, 0, 20);
	}
	return done;
}

UNIT_TEST(resolves_labels_and_links_after_join)
{
	char err[ERRMSG_LEN];
	struct endpoint *web, *db;
	struct engine *e = NULL;

	setup();
	routes[0] = (struct fake_route){
		"/networks/" NID,
		"HTTP/1.0 200 OK\r\n\r\n{\"Name\":\"proj_secure\",\"Containers\":{\"" CID_WEB
		"\":{\"Name\":\"proj_web_1\",\"EndpointID\":\"" EID_WEB "\"},\"" CID_DB
		"\":{\"Name\":\"proj_db_1\",\"EndpointID\":\"" EID_DB "\"}}}"
	};
	routes[1] = (struct fake_route){
		"/containers/" CID_WEB "/json",
		"HTTP/1.0 200 OK\r\n\r\n{\"Config\":{\"Labels\":{\"wireguard.key\":\"web\"}},"
		"\"NetworkSettings\":{\"Networks\":{\"proj_secure\":{\"EndpointID\":\"" EID_WEB
		"\",\"Links\":[\"proj_db_1:db\"]}}}}"
	};
	routes[2] = (struct fake_route){
		"/containers/proj_db_1/json",
		"HTTP/1.0 200 OK\r\n\r\n{\"Config\":{\"Labels\":{\"wireguard.key\":\"db\"}},"
		"\"NetworkSettings\":{\"Networks\":{\"proj_secure\":{\"EndpointID\":\"" EID_DB
		"\"}}}}"
	};
	CHECK_EQ_INT(engine_start(&td.d, engine_path, &e, err), 0);
	CHECK(strstr(call("/NetworkDriver.CreateNetwork",
			  "{\"NetworkID\":\"" NID "\",\"Options\":{\"com.docker.network.generic\":"
			  "{\"wg.policy\":\"links\"}}}"),
		     "{}"));
	CHECK(strstr(call("/NetworkDriver.CreateEndpoint",
			  "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"" EID_DB "\",\"Interface\":"
			  "{\"Address\":\"10.7.0.3/24\"},\"Options\":{\"wg.key\":\"db\"}}"),
		     "{}"));
	CHECK(strstr(call("/NetworkDriver.Join",
			  "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"" EID_DB
			  "\",\"SandboxKey\":\"/x\"}"),
		     "SrcName"));
	CHECK(strstr(call("/NetworkDriver.CreateEndpoint",
			  "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"" EID_WEB "\",\"Interface\":"
			  "{\"Address\":\"10.7.0.2/24\"},\"Options\":{}}"),
		     "{}"));
	CHECK(strstr(call("/NetworkDriver.Join",
			  "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"" EID_WEB
			  "\",\"SandboxKey\":\"/x\"}"),
		     "SrcName"));
	CHECK(resolved(EID_WEB, 5000));
	peersync_flush(&td.d);
	wgd_lock(&td.d);
	web = endpoint_find(network_find(&td.d, NID), EID_WEB);
	db = endpoint_find(network_find(&td.d, NID), EID_DB);
	CHECK(!strcmp(web->key_ref, "web") && web->links.n == 1 &&
	      !strcmp(web->links.v[0].peer, "db"));
	CHECK_EQ_INT(fake_link_find(web->ifname)->dev.n_peers, 1);
	CHECK(fake_peer_find(fake_link_find(db->ifname), web->public_key) != NULL);
	/* Names for the operator's eyes, from the same network answer. */
	CHECK(!strcmp(web->container, "proj_web_1") && !strcmp(db->container, "proj_db_1"));
	CHECK(!strcmp(web->net->name, "proj_secure"));
	wgd_unlock(&td.d);
	engine_stop(e);
	/* web: its network, its container, the one it links to; db (options, no wait): its
	 * network for its name, unless web's answer named it first. */
	CHECK(requests == 3 || requests == 4);
	teardown();
}

UNIT_TEST(no_socket_no_resolver)
{
	struct engine *e = (struct engine *)1;
	char err[ERRMSG_LEN];

	setup();
	CHECK_EQ_INT(engine_start(&td.d, "/dev/null", &e, err), 0);
	CHECK(e == NULL && td.d.resolve == NULL);
	CHECK_EQ_INT(engine_start(&td.d, NULL, &e, err), 0);
	CHECK(e == NULL);
	engine_stop(e);
	teardown();
}

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* An engine whose backlog is full (it stopped accepting): connect() blocked without end before;
 * now the call fails at its deadline. The alarm ends a test that would hang. */
UNIT_TEST(a_call_to_an_engine_that_does_not_accept_is_bounded)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int lfd, fill[64], n = 0, status;
	long long start;
	json_t *j = NULL;

	setup();
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/stuck.sock", dir);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(!bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) && !listen(lfd, 0));
	/* Fill the backlog with connections no one accepts. */
	for (; n < 64; n++) {
		fill[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (connect(fill[n], (struct sockaddr *)&addr, sizeof(addr)) < 0) {
			close(fill[n]);
			break;
		}
	}
	strcpy(eng.socket_path, addr.sun_path);
	eng.timeout_ms = 500;
	alarm(10);
	start = now_ms();
	CHECK_EQ_INT(engine_get(&eng, "/networks/x", &status, &j), -ETIMEDOUT);
	CHECK(now_ms() - start < 1500);
	alarm(0);
	for (int i = 0; i < n; i++)
		close(fill[i]);
	close(lfd);
	teardown();
}

/* An answer larger than any inspect: refused before it is parsed (an 8 MiB one cost 618 MiB). */
UNIT_TEST(an_oversized_answer_is_refused_unparsed)
{
	static const char head[] = "HTTP/1.0 200 OK\r\n\r\n[";
	size_t len = sizeof(head) - 1 + ENGINE_REPLY_MAX + 16;
	char *big = malloc(len + 1);
	json_t *j = NULL;
	int status = 0;

	setup();
	memcpy(big, head, sizeof(head) - 1);
	for (size_t i = sizeof(head) - 1; i < len; i += 2)
		memcpy(big + i, "1,", 2);
	big[len] = '\0';
	routes[0] = (struct fake_route){ "/networks/big", big };
	CHECK_EQ_INT(engine_get(&eng, "/networks/big", &status, &j), -EFBIG);
	CHECK(j == NULL);
	teardown();
	free(big);
}

UNIT_MAIN("engine", UNIT_CASE(network_lists_the_container), UNIT_CASE(container_links_and_labels),
	  UNIT_CASE(http_replies), UNIT_CASE(engine_get_over_a_socket),
	  UNIT_CASE(resolves_labels_and_links_after_join), UNIT_CASE(no_socket_no_resolver),
	  UNIT_CASE(a_call_to_an_engine_that_does_not_accept_is_bounded),
	  UNIT_CASE(an_oversized_answer_is_refused_unparsed))
