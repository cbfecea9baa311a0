/*
 * json.h - cJSON helpers: bounded parsing, typed getters with defaults, and
 * small builders. Getters never fail: a missing or mistyped member gives the
 * default. Ownership follows cJSON: whoever parsed or created deletes.
 */
#ifndef RELAY_JSON_H
#define RELAY_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <cJSON.h>

#define JSON_MAX_DEPTH 64

/* Parse len bytes; NULL if invalid, nested deeper than max_depth, or not an
 * object/array when require_container. Never reads past len. */
cJSON *json_parse(const char *data, size_t len, int max_depth, bool require_container);
/* True when some object in item repeats a member name ({"a":1,"a":2}).
 * cJSON keeps both and lookups see the first, while other parsers (the
 * upstream's) take the last: a body that means two things. Recursion is
 * bounded by the parse depth; O(n log n) per object. */
bool json_has_duplicate_keys(const cJSON *item);
/* Nesting depth of a text without parsing (brackets outside strings). */
int json_depth(const char *data, size_t len);

const char *json_str(const cJSON *obj, const char *name, const char *dflt);
long long json_int(const cJSON *obj, const char *name, long long dflt);
double json_num(const cJSON *obj, const char *name, double dflt);
bool json_bool(const cJSON *obj, const char *name, bool dflt);
/* Member lookup by case-sensitive name; NULL when absent. */
const cJSON *json_get(const cJSON *obj, const char *name);
/* Render compactly; malloc'd (free()). */
char *json_print(const cJSON *item);
/* Set obj[name] to the string value, replacing what was there. */
void json_set_str(cJSON *obj, const char *name, const char *value);
/* A copy of the JSON object text (len bytes) whose top-level member name
 * has the raw JSON text value instead of its own: every other byte is kept
 * as it was. The name is compared as written (an escaped spelling does not
 * match). 0 and *out (malloc'd, NUL-terminated; *out_len without the NUL),
 * -ERR_NOTFOUND (no such member) or -ERR_PARSE (not an object's text). */
int json_replace_member(const char *text, size_t len, const char *name, const char *value,
                        char **out, size_t *out_len) __attribute__((warn_unused_result));

#endif
