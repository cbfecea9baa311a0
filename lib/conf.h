/*
 * conf.h - table-driven environment parsing (tmux options-table style).
 *
 * The caller owns a table of struct conf_var describing each variable and a
 * target struct; conf_load() fills the target from a lookup function
 * (normally getenv) and reports EVERY invalid value at once, each line naming
 * its variable. conf_print_example() writes a .env-style file from the same
 * table, so documentation and code cannot drift.
 */
#ifndef RELAY_CONF_H
#define RELAY_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "buf.h"

enum conf_type {
    CONF_STR = 0,  /* target: char * (malloc'd, never NULL after load) */
    CONF_INT = 1,  /* target: long long, checked against [min, max] */
    CONF_BOOL = 2, /* target: bool; true/false/1/0/yes/no/on/off */
};

#define CONF_SECRET 0x1u   /* never printed; example shows an empty value */
#define CONF_REQUIRED 0x2u /* empty is an error (message from the table) */

struct conf_var {
    const char *name;
    enum conf_type type;
    const char *dflt; /* text form of the default ("" for none) */
    long long min, max;
    size_t offset; /* offsetof(target, field) */
    unsigned flags;
    const char *group; /* heading in the example file */
    const char *help;
    /* Optional extra check of a non-empty value: return NULL or a message. */
    const char *(*check)(const char *value);
};

typedef const char *(*conf_lookup_fn)(const char *name);

/* Fill target from the table. On any error returns -ERR_INVAL and appends one
 * line per bad variable to errors ("NAME: reason"); target may then hold a mix
 * and must still be released with conf_release(). */
int conf_load(const struct conf_var *vars, size_t n, void *target, conf_lookup_fn lookup,
              struct buf *errors);
/* Free the strings conf_load allocated in target. */
void conf_release(const struct conf_var *vars, size_t n, void *target);
/* Load KEY=VALUE lines from a dotenv file into the process environment,
 * without overriding variables already set. Missing file: 0. Bad line: its
 * number is appended to errors and -ERR_PARSE returned (other lines still load). */
int conf_dotenv_load(const char *path, struct buf *errors);
/* Write an example .env for the table. */
void conf_print_example(const struct conf_var *vars, size_t n, FILE *f);
/* Parse a boolean word; -1 when it is none. */
int conf_parse_bool(const char *s);

#endif
