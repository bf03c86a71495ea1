// SPDX-License-Identifier: MIT
#include "field.h"

#include "errmsg.h"
#include "quote.h"

#include <errno.h>
#include <string.h>

#define ENGINE_ID_LEN 64

const char *field_type_name(const json_t *v)
{
	if (!v)
		return "nothing";
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "something else";
}

int field_string(const json_t *obj, const char *key, const char *name, const char **out, char *err)
{
	const json_t *v = json_object_get(obj, key);

	if (!v)
		return errmsg_set(err, -EINVAL, "%s: missing, expected a string", name);
	if (!json_is_string(v))
		return errmsg_set(err, -EINVAL, "%s: expected a string, got %s", name,
				  field_type_name(v));
	*out = json_string_value(v);
	return 0;
}

int field_string_opt(const json_t *obj, const char *key, const char *name, const char **out,
		     char *err)
{
	const json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return errmsg_set(err, -EINVAL, "%s: expected a string, got %s", name,
				  field_type_name(v));
	if (json_string_length(v))
		*out = json_string_value(v);
	return 0;
}

int field_object_opt(const json_t *obj, const char *key, const char *name, json_t **out, char *err)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return errmsg_set(err, -EINVAL, "%s: expected an object, got %s", name,
				  field_type_name(v));
	*out = v;
	return 0;
}

bool field_id_valid(const char *s)
{
	return s && strlen(s) == ENGINE_ID_LEN && strspn(s, "0123456789abcdef") == ENGINE_ID_LEN;
}

bool field_sandbox_valid(const char *s)
{
	size_t len = s ? strlen(s) : 0;

	if (!len || len > FIELD_SANDBOX_MAX || s[0] != '/')
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	for (const char *c = s; (c = strchr(c, '/')); c++)
		if ((c[1] == '.' && (c[2] == '/' || !c[2])) ||
		    (c[1] == '.' && c[2] == '.' && (c[3] == '/' || !c[3])))
			return false;
	return true;
}

int field_id(const json_t *obj, const char *key, const char **out, char *err)
{
	const char *s;
	int ret = field_string(obj, key, key, &s, err);

	if (ret)
		return ret;
	if (!field_id_valid(s))
		return errmsg_set(err, -EINVAL,
				  "%s: expected %d lower-case hex characters, got \"%s\"", key,
				  ENGINE_ID_LEN, QUOTE(s, 80));
	*out = s;
	return 0;
}
