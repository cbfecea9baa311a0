/* conf.c - table-driven env parsing (see conf.h). */
#include "compat.h"
#include "conf.h"
#include "errs.h"
#include "xmalloc.h"

#include <ctype.h>
#include <errno.h>

int conf_parse_bool(const char *s)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
        if (strcasecmp(s, yes[i]) == 0)
            return 1;
        if (strcasecmp(s, no[i]) == 0)
            return 0;
    }
    return -1;
}

static void conf_err(struct buf *errors, const struct conf_var *v, const char *msg)
{
    if (buf_printf(errors, "%s: %s\n", v->name, msg) != 0)
        return; /* the error list is bounded; the first lines are enough */
}

static int conf_set_int(const struct conf_var *v, const char *val, void *field, struct buf *errors)
{
    char *end = NULL;
    errno = 0;
    long long n = strtoll(val, &end, 10);
    if (errno || end == val || *end != '\0') {
        conf_err(errors, v, "not an integer");
        return -ERR_INVAL;
    }
    if (n < v->min || n > v->max) {
        char msg[96];
        snprintf(msg, sizeof(msg), "%lld is out of range [%lld, %lld]", n, v->min, v->max);
        conf_err(errors, v, msg);
        return -ERR_INVAL;
    }
    *(long long *)field = n;
    return 0;
}

static int conf_set(const struct conf_var *v, const char *val, void *target, struct buf *errors)
{
    void *field = (char *)target + v->offset;
    if (v->type == CONF_INT)
        return conf_set_int(v, val, field, errors);
    if (v->type == CONF_BOOL) {
        int b = conf_parse_bool(val);
        if (b < 0) {
            conf_err(errors, v, "expected true or false");
            return -ERR_INVAL;
        }
        *(bool *)field = b;
        return 0;
    }
    free(*(char **)field);
    *(char **)field = xstrdup(val);
    return 0;
}

static int conf_one(const struct conf_var *v, void *target, conf_lookup_fn lookup,
                    struct buf *errors)
{
    const char *val = lookup(v->name);
    bool given = val && *val;
    if (!given && (v->flags & CONF_REQUIRED)) {
        conf_err(errors, v, "is not set");
        val = v->dflt;
        conf_set(v, val, target, errors);
        return -ERR_INVAL;
    }
    if (!given)
        val = v->dflt;
    int rc = conf_set(v, val, target, errors);
    if (rc == 0 && given && v->check) {
        const char *msg = v->check(val);
        if (msg) {
            conf_err(errors, v, msg);
            rc = -ERR_INVAL;
        }
    }
    return rc;
}

int conf_load(const struct conf_var *vars, size_t n, void *target, conf_lookup_fn lookup,
              struct buf *errors)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        if (conf_one(&vars[i], target, lookup, errors) != 0)
            rc = -ERR_INVAL;
    return rc;
}

void conf_release(const struct conf_var *vars, size_t n, void *target)
{
    for (size_t i = 0; i < n; i++) {
        if (vars[i].type != CONF_STR)
            continue;
        char **field = (char **)((char *)target + vars[i].offset);
        free(*field);
        *field = NULL;
    }
}

/* Trim spaces, strip matching quotes in place; returns the start. */
static char *dotenv_value(char *v)
{
    while (isspace((unsigned char)*v))
        v++;
    size_t len = strlen(v);
    while (len && isspace((unsigned char)v[len - 1]))
        v[--len] = '\0';
    if (len >= 2 && (v[0] == '"' || v[0] == '\'') && v[len - 1] == v[0]) {
        v[len - 1] = '\0';
        v++;
    }
    return v;
}

static int dotenv_line(char *line)
{
    char *p = line;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '\0' || *p == '#')
        return 0;
    if (strncmp(p, "export ", 7) == 0)
        p += 7;
    char *eq = strchr(p, '=');
    if (!eq || eq == p)
        return -1;
    *eq = '\0';
    char *key = dotenv_value(p);
    for (char *k = key; *k; k++)
        if (!isalnum((unsigned char)*k) && *k != '_')
            return -1;
    setenv(key, dotenv_value(eq + 1), 0);
    return 0;
}

int conf_dotenv_load(const char *path, struct buf *errors)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[4096];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (dotenv_line(line) != 0) {
            if (buf_printf(errors, "%s:%d: expected NAME=value\n", path, lineno) != 0)
                break;
            rc = -ERR_PARSE;
        }
    }
    fclose(f);
    return rc;
}

void conf_print_example(const struct conf_var *vars, size_t n, FILE *f)
{
    const char *group = NULL;
    fprintf(f, "# claude-relay configuration. Generated from server/config.c by\n"
               "# `relay --print-config-example`; do not edit by hand.\n");
    for (size_t i = 0; i < n; i++) {
        const struct conf_var *v = &vars[i];
        if (!group || strcmp(group, v->group) != 0) {
            group = v->group;
            fprintf(f, "\n# ---- %s ----\n", group);
        }
        fprintf(f, "# %s", v->help);
        if (v->type == CONF_INT)
            fprintf(f, " [%lld..%lld]", v->min, v->max);
        fprintf(f, "%s\n", (v->flags & CONF_REQUIRED) ? " (required)" : "");
        bool show = !(v->flags & CONF_SECRET) && v->dflt[0];
        fprintf(f, "%s%s=%s\n", show || (v->flags & CONF_REQUIRED) ? "" : "# ", v->name,
                show ? v->dflt : "");
    }
}
