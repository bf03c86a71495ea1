// SPDX-License-Identifier: MIT
/* The engine resolver: what it reads from the engine's answers, its HTTP exchange, and a whole
 * resolution against a fake engine on a Unix socket. */
#include "../../driver/engine.c"

#include "backends.h"
#include "helper_fake_backend.h"
#include "keystore.h"
#include "state.h"
#include "unit.h"

#include <ftw.h>

#define NID		"1111111111111111111111111111111111111111111111111111111111111111"
#define EID_WEB		"aaaaaaaaaaaa0000000000000000000000000000000000000000000000000000"
#define EID_DB		"bbbbbbbbbbbb0000000000000000000000000000000000000000000000000000"
#define CID_WEB		"c0ffee000000000000000000000000000000000000000000000000000000c0de"
#define FAKE_ROUTES_MAX 8

/* A fake engine: answers GET <path> from a table, one request per connection. */
struct fake_route {
	const char *path;
	const char *reply; /* the whole HTTP reply; NULL: never answer */
};

static struct fake_route routes[FAKE_ROUTES_MAX];
static char dir[64], engine_path[128];
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
	strcpy(socket_path, engine_path);
}

static void fake_engine_stop(void)
{
	shutdown(engine_fd, SHUT_RDWR);
	pthread_join(engine_thread, NULL);
	close(engine_fd);
	engine_fd = -1;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void setup(void)
{
	char err[ERRMSG_LEN], keys[128];

	strcpy(dir, "/tmp/unit-engine-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	if (state_init(dir, err) || keystore_init(keys) || pipe2(stop_pipe, O_CLOEXEC))
		abort();
	backends_set_default(&fake_backend, "fake: unit test");
	fake_reset();
	memset(routes, 0, sizeof(routes));
	requests = 0;
	fake_engine_start();
}

static void teardown(void)
{
	fake_engine_stop();
	if (stop_pipe[0] >= 0) {
		close(stop_pipe[0]);
		close(stop_pipe[1]);
		stop_pipe[0] = stop_pipe[1] = -1;
	}
	network_finalise();
	keystore_finalise();
	fake_reset();
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
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
	CHECK_EQ_INT(engine_get("/networks/x", &status, &j), 0);
	CHECK(status == 200 && j && !strcmp(json_string_value(json_object_get(j, "Name")), "n"));
	json_decref(j);
	CHECK_EQ_INT(engine_get("/containers/y/json", &status, &j), 0);
	CHECK(status == 404 && j == NULL);
	/* A stop interrupts a call the engine does not answer. */
	CHECK_EQ_INT(write(stop_pipe[1], "x", 1), 1);
	CHECK_EQ_INT(engine_get("/slow", &status, &j), -ECANCELED);
	teardown();
}

static const char *call(const char *path, const char *body)
{
	static char *answer;

	free(answer);
	answer = api_handle(path, body, strlen(body));
	return answer;
}

static bool resolved(const char *eid, int timeout_ms)
{
	bool done = false;

	for (int i = 0; i < timeout_ms / 20 && !done; i++) {
		api_lock();
		done = !endpoint_find(network_find(NID), eid)->pending;
		api_unlock();
		if (!done)
			poll(NULL, 0, 20);
	}
	return done;
}

UNIT_TEST(resolves_labels_and_links_after_join)
{
	char err[ERRMSG_LEN];
	struct endpoint *web, *db;

	setup();
	close(stop_pipe[0]);
	close(stop_pipe[1]);
	stop_pipe[0] = stop_pipe[1] = -1;
	routes[0] = (struct fake_route){
		"/networks/" NID,
		"HTTP/1.0 200 OK\r\n\r\n{\"Name\":\"proj_secure\",\"Containers\":{\"" CID_WEB
		"\":{\"Name\":\"proj_web_1\",\"EndpointID\":\"" EID_WEB "\"}}}"
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
	CHECK_EQ_INT(engine_start(engine_path, err), 0);
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
	api_lock();
	web = endpoint_find(network_find(NID), EID_WEB);
	db = endpoint_find(network_find(NID), EID_DB);
	CHECK(!strcmp(web->key_ref, "web") && web->links.n == 1 &&
	      !strcmp(web->links.v[0].peer, "db"));
	CHECK_EQ_INT(fake_link_find(web->ifname)->dev.n_peers, 1);
	CHECK(fake_peer_find(fake_link_find(db->ifname), web->public_key) != NULL);
	api_unlock();
	engine_stop();
	CHECK_EQ_INT(requests, 3);
	teardown();
}

UNIT_TEST(no_socket_no_resolver)
{
	char err[ERRMSG_LEN];

	CHECK_EQ_INT(engine_start("/dev/null", err), 0);
	CHECK(!running);
	CHECK_EQ_INT(engine_start(NULL, err), 0);
	CHECK(!running);
	engine_stop();
}

UNIT_MAIN("engine", UNIT_CASE(network_lists_the_container), UNIT_CASE(container_links_and_labels),
	  UNIT_CASE(http_replies), UNIT_CASE(engine_get_over_a_socket),
	  UNIT_CASE(resolves_labels_and_links_after_join), UNIT_CASE(no_socket_no_resolver))
