// SPDX-License-Identifier: MIT
#include "backends.h"

#include "backend.h"
#include "errmsg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define BACKENDS_MAX 4

struct entry {
	const struct backend_ops *ops;
	backends_probe_fn probe;
};

static struct entry entries[BACKENDS_MAX]; /* [0] is the default */
static size_t n_entries;
static const char *default_reason = "";

void backends_set_default(const struct backend_ops *ops, const char *reason)
{
	memset(entries, 0, sizeof(entries));
	entries[0].ops = ops;
	n_entries = ops ? 1 : 0;
	default_reason = reason ? reason : "";
}

int backends_add(const struct backend_ops *ops, backends_probe_fn probe)
{
	for (size_t i = 0; i < n_entries; i++) {
		if (entries[i].ops == ops) {
			entries[i].probe = probe;
			return 0;
		}
	}
	if (n_entries == BACKENDS_MAX)
		return -ENOSPC;
	entries[n_entries++] = (struct entry){ .ops = ops, .probe = probe };
	return 0;
}

const struct backend_ops *backends_default(void)
{
	return n_entries ? entries[0].ops : NULL;
}

const char *backends_reason(const struct backend_ops *ops)
{
	if (ops && ops == backends_default())
		return default_reason;
	return "asked for with option " BACKENDS_OPTION;
}

static const struct entry *find(const char *name)
{
	for (size_t i = 0; i < n_entries; i++)
		if (!strcmp(entries[i].ops->name, name))
			return &entries[i];
	return NULL;
}

const struct backend_ops *backends_find(const char *name)
{
	const struct entry *e = find(name);

	return e ? e->ops : NULL;
}

int backends_choose(const char *name, const char *what, const struct backend_ops **out, char *err)
{
	char names[64] = "", why[ERRMSG_LEN - 128];
	const struct entry *e = find(name);
	size_t used = 0;

	if (!e) {
		for (size_t i = 0; i < n_entries && used < sizeof(names); i++)
			used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s",
						 i ? (i + 1 == n_entries ? " or " : ", ") : "",
						 entries[i].ops->name);
		return errmsg_set(err, -EINVAL, "%s: expected %s, got \"%.40s\"", what, names,
				  name);
	}
	if (e->probe && e->probe(why, sizeof(why)))
		return errmsg_set(err, -ENOTSUP, "%s: the %s backend cannot run on this host: %s",
				  what, e->ops->name, why);
	*out = e->ops;
	return 0;
}
