/* SPDX-License-Identifier: MIT */
/*
 * Typed access to the fields of a request object, with errors that name the field and say what
 * was expected ("Interface.Address: expected a string"). Returned strings are borrowed from the
 * JSON object. All return 0 or -EINVAL (-ENOENT for a missing optional field is not an error:
 * optional getters leave *OUT untouched and return 0).
 */
#ifndef FIELD_H
#define FIELD_H

#include <jansson.h>
#include <stdbool.h>

/* What V is, for an error: "an object", "a string", ... ("nothing" for NULL). */
const char *field_type_name(const json_t *v);
/* Required string field KEY of OBJ; NAME is how the error names it (e.g. "Interface.Address"). */
int field_string(const json_t *obj, const char *key, const char *name, const char **out, char *err);
/* Optional string: absent, null or "" leave *OUT as it was. */
int field_string_opt(const json_t *obj, const char *key, const char *name, const char **out,
		     char *err);
/* Optional object: absent or null give *OUT = NULL. */
int field_object_opt(const json_t *obj, const char *key, const char *name, json_t **out, char *err);
/* Required engine ID (64 lower-case hex characters). */
int field_id(const json_t *obj, const char *key, const char **out, char *err);

/* true when S is an engine ID: 64 lower-case hex characters. */
bool field_id_valid(const char *s);
/* true when S can be a SandboxKey: an absolute path of printable characters, no "." or ".."
 * component, at most FIELD_SANDBOX_MAX bytes. */
bool field_sandbox_valid(const char *s);

#define FIELD_SANDBOX_MAX 1024

#endif
