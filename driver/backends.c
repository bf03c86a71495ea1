// SPDX-License-Identifier: MIT
#include "backends.h"

#include "backend.h"
#include "errmsg.h"
#include "quote.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void backends_set_default(struct backends *b, const struct backend_ops *ops, const char *reason)
{
	memset(b, 0, sizeof(*b));
	b->entries[0].ops = ops;
	b->n = ops ? 1 : 0;
	b->default_reason = reason ? reason : "";
}

int backends_add(struct backends *b, const struct backend_ops *ops, backends_probe_fn probe)
{
	for (size_t i = 0; i < b->n; i++) {
		if (b->entries[i].ops == ops) {
			b->entries[i].probe = probe;
			return 0;
		}
	}
	if (b->n == BACKENDS_MAX)
		return -ENOSPC;
	b->entries[b->n].ops = ops;
	b->entries[b->n++].probe = probe;
	return 0;
}

const struct backend_ops *backends_default(const struct backends *b)
{
	return b->n ? b->entries[0].ops : NULL;
}

const char *backends_reason(const struct backends *b, const struct backend_ops *ops)
{
	if (ops && ops == backends_default(b))
		return b->default_reason ? b->default_reason : "";
	return "asked for with option " BACKENDS_OPTION;
}

static size_t find(const struct backends *b, const char *name)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		if (!strcmp(b->entries[i].ops->name, name))
			break;
	return i;
}

const struct backend_ops *backends_find(const struct backends *b, const char *name)
{
	size_t i = find(b, name);

	return i < b->n ? b->entries[i].ops : NULL;
}

int backends_choose(const struct backends *b, const char *name, const char *what,
		    const struct backend_ops **out, char *err)
{
	char names[64] = "", why[ERRMSG_LEN - 128];
	size_t i = find(b, name), used = 0;

	if (i == b->n) {
		for (size_t k = 0; k < b->n && used < sizeof(names); k++)
			used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s",
						 k ? (k + 1 == b->n ? " or " : ", ") : "",
						 b->entries[k].ops->name);
		return errmsg_set(err, -EINVAL, "%s: expected %s, got \"%s\"", what, names,
				  QUOTE(name, 40));
	}
	if (b->entries[i].probe && b->entries[i].probe(why, sizeof(why)))
		return errmsg_set(err, -ENOTSUP, "%s: the %s backend cannot run on this host: %s",
				  what, b->entries[i].ops->name, why);
	*out = b->entries[i].ops;
	return 0;
}
