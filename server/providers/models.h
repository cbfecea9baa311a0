/*
 * models.h - which models an account serves and what it calls them
 * upstream (crs-relay-spec 4.4, 6.2). Pure functions over a parsed
 * `supportedModels` value, shared by every provider that has one:
 *
 *   [] or {} or absent     every model
 *   ["m1", "m2"]           exactly these names
 *   {"client": "upstream"} these client names (exact, then case-insensitive),
 *                          each sent upstream under its value
 */
#ifndef RELAY_MODELS_H
#define RELAY_MODELS_H

#include <stdbool.h>
#include <stddef.h>

struct cJSON;

#define MODELS_MAX 500      /* entries in one supportedModels value */
#define MODELS_NAME_MAX 200 /* characters of one model name */

/* The original's Claude rule: the model starts with "claude-" or contains
 * claude, sonnet, opus or haiku (case-insensitive). */
bool models_claude_like(const char *model);
/* Admin check of a supportedModels value: an array of model names or an
 * object mapping model names to model names, at most MODELS_MAX entries of
 * 1..MODELS_NAME_MAX printable characters. 0, or -ERR_INVAL with msg
 * completing "<field>..." (" must be ..."). */
int models_check(const struct cJSON *v, char *msg, size_t len);
/* Does spec (NULL: every model) admit model? When it maps it, *upstream
 * (may be NULL) gets the upstream name (borrowed from spec), else NULL. */
bool models_match(const struct cJSON *spec, const char *model, const char **upstream);

#endif
