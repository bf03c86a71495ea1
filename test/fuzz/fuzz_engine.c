// SPDX-License-Identifier: MIT
/*
 * The engine resolver's reading of the engine's answers (engine.c): parse_reply on what read_all
 * hands over (the bytes received, made a C string), then the body as engine_get loads it, read as
 * a network (network_container, for the endpoint of each container it lists) and as a container
 * (container_label, container_targets on the network's name and on each network the container
 * lists, target_fill of every target).
 *
 * Beyond crashes: parse_reply gives 0 or -EPROTO, and its body is what follows the first blank
 * line of an HTTP/1.x answer; a container found has an engine ID and lists the endpoint; at most
 * ENGINE_TARGETS_MAX targets, each once, each a valid container name; a target's label is a C
 * string and its endpoint an engine ID or empty; every log line is clean (fuzz_log.h).
 */
#include "driver/engine.c"

#include "fuzz_log.h"

#define NETNAMES_MAX 4

static bool engine_id(const char *s)
{
	return strlen(s) == NETWORK_ID_LEN && strspn(s, "0123456789abcdef") == NETWORK_ID_LEN;
}

static void check_network(const json_t *net)
{
	const json_t *v;
	const char *key;

	json_object_foreach ((json_t *)json_object_get(net, "Containers"), key, v) {
		const char *eid = json_string_value(json_object_get(v, "EndpointID"));
		const char *name = NULL, *cid = NULL;

		if (!eid || network_container(net, eid, &name, &cid))
			continue;
		FUZZ_CHECKF(name && cid && engine_id(cid), "endpoint \"%s\": container \"%s\"", eid,
			    cid ? cid : "(null)");
		FUZZ_CHECKF(!strcmp(json_string_value(json_object_get(
					    json_object_get(json_object_get(net, "Containers"),
							    cid),
					    "EndpointID")),
				    eid),
			    "endpoint \"%s\": container %s lists another", eid, cid);
	}
}

static void check_targets(const json_t *c, const char *netname)
{
	struct target t[ENGINE_TARGETS_MAX + 1];
	size_t n = container_targets(c, netname, t);

	FUZZ_CHECKF(n <= ENGINE_TARGETS_MAX, "%zu targets", n);
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECKF(memchr(t[i].name, '\0', sizeof(t[i].name)) &&
				    container_name_valid(t[i].name, strlen(t[i].name)),
			    "target %zu: name \"%.*s\"", i, (int)sizeof(t[i].name), t[i].name);
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECKF(strcmp(t[i].name, t[j].name), "target %s twice", t[i].name);
		target_fill(&t[i], c, netname);
		FUZZ_CHECKF(memchr(t[i].key, '\0', sizeof(t[i].key)), "target %s: key", t[i].name);
		FUZZ_CHECKF(!t[i].eid[0] || engine_id(t[i].eid), "target %s: endpoint \"%s\"",
			    t[i].name, t[i].eid);
	}
}

static void check_container(const json_t *c)
{
	const char *names[NETNAMES_MAX + 2], *key, *label;
	const json_t *v;
	size_t n = 0;

	label = container_label(c, ENGINE_LABEL_KEY);
	FUZZ_CHECK(!label ||
		   json_is_string(
			   json_object_get(json_object_get(json_object_get(c, "Config"), "Labels"),
					   ENGINE_LABEL_KEY)));
	container_label(c, ENGINE_LABEL_LINKS);
	names[n++] = "";
	if (json_string_value(json_object_get(c, "Name")))
		names[n++] = json_string_value(json_object_get(c, "Name"));
	json_object_foreach ((json_t *)json_object_get(json_object_get(c, "NetworkSettings"),
						       "Networks"),
			     key, v) {
		if (n == NETNAMES_MAX + 2)
			break;
		names[n++] = key;
	}
	for (size_t i = 0; i < n; i++)
		check_targets(c, names[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	const char *body = NULL;
	size_t body_len = 0;
	json_t *j;
	int status = 0, ret;

	FUZZ_CHECK(text);
	memcpy(text, data, size);
	text[size] = '\0';
	ret = parse_reply(text, size, &status, &body, &body_len);
	FUZZ_CHECKF(ret == 0 || ret == -EPROTO, "parse_reply: %d", ret);
	if (ret) {
		free(text);
		return 0;
	}
	FUZZ_CHECK(size >= 12 && !memcmp(data, "HTTP/1.", 7));
	FUZZ_CHECK(body >= text + 4 && body <= text + size &&
		   body_len == size - (size_t)(body - text));
	FUZZ_CHECK(!memcmp(data + (body - text) - 4, "\r\n\r\n", 4) &&
		   !memmem(data, (size_t)(body - text) - 1, "\r\n\r\n", 4));
	j = json_loadb(body, body_len, 0, NULL);
	if (json_is_object(j)) {
		check_network(j);
		check_container(j);
	}
	json_decref(j);
	free(text);
	return 0;
}
