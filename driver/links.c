// SPDX-License-Identifier: MIT
#include "links.h"

#include "errmsg.h"
#include "quote.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SYNTAX	  "<ref>[:<psk-ref>][,<ref>...]"
#define SHOWN_MAX 64 /* bytes of an entry quoted in a message */

int links_check_ref(const char *ref, const char *what, char *err)
{
	if (keystore_ref_valid(ref))
		return 0;
	return errmsg_set(
		err, -EINVAL,
		"%s: \"%s\" is not a key reference: expected 1 to %d characters of a-z 0-9 "
		". _ - starting with a letter or digit",
		what, QUOTE(ref, SHOWN_MAX), KEYSTORE_REF_MAX);
}

/* Copies the LEN bytes at S into OUT (KEYSTORE_REF_MAX + 1 bytes) if they are a valid reference. */
static bool take_ref(const char *s, size_t len, char out[KEYSTORE_REF_MAX + 1])
{
	if (!len || len > KEYSTORE_REF_MAX)
		return false;
	memcpy(out, s, len);
	out[len] = '\0';
	return keystore_ref_valid(out);
}

/* Parses one entry (LEN bytes at S, trimmed) into L. */
static int parse_entry(const char *s, size_t len, const char *what, struct link *l, char *err)
{
	const char *colon = memchr(s, ':', len);
	size_t peer_len = colon ? (size_t)(colon - s) : len;
	memset(l, 0, sizeof(*l));
	if (!len)
		return errmsg_set(err, -EINVAL, "%s: an empty entry; expected " SYNTAX, what);
	if (colon && memchr(colon + 1, ':', len - peer_len - 1))
		return errmsg_set(err, -EINVAL,
				  "%s: entry \"%s\" has more than one ':'; expected " SYNTAX, what,
				  QUOTE_MEM(s, len, SHOWN_MAX));
	if (!take_ref(s, peer_len, l->peer))
		return errmsg_set(err, -EINVAL,
				  "%s: entry \"%s\": \"%s\" is not a key reference (1 to %d "
				  "characters of a-z 0-9 . _ - starting with a letter or digit)",
				  what, QUOTE_MEM(s, len, SHOWN_MAX),
				  QUOTE_MEM(s, peer_len, SHOWN_MAX), KEYSTORE_REF_MAX);
	if (colon && !take_ref(colon + 1, len - peer_len - 1, l->psk))
		return errmsg_set(err, -EINVAL,
				  "%s: entry \"%s\": the preshared key after ':' is not a key "
				  "reference (1 to %d characters of a-z 0-9 . _ - starting with a "
				  "letter or digit)",
				  what, QUOTE_MEM(s, len, SHOWN_MAX), KEYSTORE_REF_MAX);
	return 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

int links_parse(const char *text, const char *self, const char *what, struct link_set *out,
		char *err)
{
	const char *p = text, *end, *stop;
	struct link l;
	int ret;

	memset(out, 0, sizeof(*out));
	while (*p && is_blank(*p))
		p++;
	if (!*p)
		return 0;
	for (;;) {
		end = strchr(p, ',');
		stop = end ? end : p + strlen(p);
		while (p < stop && is_blank(*p))
			p++;
		while (stop > p && is_blank(stop[-1]))
			stop--;
		ret = parse_entry(p, (size_t)(stop - p), what, &l, err);
		if (ret)
			return ret;
		if (self && !strcmp(l.peer, self))
			return errmsg_set(err, -EINVAL,
					  "%s: \"%s\" is this endpoint's own key; an "
					  "endpoint cannot link to itself",
					  what, l.peer);
		if (links_find(out, l.peer))
			return errmsg_set(err, -EINVAL, "%s: \"%s\" is listed twice", what, l.peer);
		ret = links_add(out, l.peer, l.psk);
		if (ret == -E2BIG)
			return errmsg_set(err, ret, "%s: more than %d links", what, LINKS_MAX);
		if (ret)
			return errmsg_set(err, ret, "out of memory");
		if (!end)
			return 0;
		p = end + 1;
	}
}

int links_add(struct link_set *set, const char *peer, const char *psk)
{
	struct link *grown;

	if (links_find(set, peer))
		return 0;
	if (set->n >= LINKS_MAX)
		return -E2BIG;
	grown = realloc(set->v, (set->n + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	set->v = grown;
	memset(&set->v[set->n], 0, sizeof(set->v[set->n]));
	snprintf(set->v[set->n].peer, sizeof(set->v[set->n].peer), "%s", peer);
	snprintf(set->v[set->n].psk, sizeof(set->v[set->n].psk), "%s", psk ? psk : "");
	set->n++;
	return 0;
}

void links_free(struct link_set *set)
{
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

const struct link *links_find(const struct link_set *set, const char *peer)
{
	for (size_t i = 0; i < set->n; i++)
		if (!strcmp(set->v[i].peer, peer))
			return &set->v[i];
	return NULL;
}

char *links_format(const struct link_set *set)
{
	size_t len = 1, at = 0;
	char *text;

	for (size_t i = 0; i < set->n; i++)
		len += strlen(set->v[i].peer) + strlen(set->v[i].psk) + 2;
	text = malloc(len);
	if (!text)
		return NULL;
	text[0] = '\0';
	for (size_t i = 0; i < set->n; i++)
		at += (size_t)snprintf(text + at, len - at, "%s%s%s%s", i ? "," : "",
				       set->v[i].peer, set->v[i].psk[0] ? ":" : "", set->v[i].psk);
	return text;
}

bool links_allow(enum network_policy policy, const char *a, const struct link_set *la,
		 const char *b, const struct link_set *lb)
{
	if (policy == NETWORK_POLICY_MESH)
		return true;
	return links_find(la, b) || links_find(lb, a);
}

const char *links_psk(const char *a, const struct link_set *la, const char *b,
		      const struct link_set *lb)
{
	const struct link *l = links_find(la, b);

	if (l && l->psk[0])
		return l->psk;
	l = links_find(lb, a);
	return l && l->psk[0] ? l->psk : NULL;
}
