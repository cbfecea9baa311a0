/*
 * pricing.c - the price table snapshot: parsing, model lookup, request cost
 * (see pricing.h for the rules and units).
 *
 * DESIGN: a table is a sorted array of priced entries (binary search by
 * name) plus the compact JSON text it was made from, for the admin API and
 * Redis. Prices are femto-USD per token, -1 when the field is absent, so
 * "absent" (use a fallback) and "0" (free) stay different. Arithmetic
 * saturates instead of wrapping, so a bogus token count from an upstream
 * cannot turn into a small or negative cost.
 */
#include "compat.h"
#include "errs.h"
#include "json.h"
#include "pricing.h"
#include "usage.h"
#include "xmalloc.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>

enum price_field {
    PF_IN = 0,
    PF_OUT = 1,
    PF_C5M = 2,
    PF_C1H = 3,
    PF_READ = 4,
    PF__COUNT = 5,
};

/* LiteLLM field names: base prices, then the long-context tier. */
static const char *const base_fields[PF__COUNT] = {
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_creation_input_token_cost",
    "cache_creation_input_token_cost_above_1hr",
    "cache_read_input_token_cost",
};
static const char *const tier_fields[PF__COUNT] = {
    "input_cost_per_token_above_200k_tokens",
    "output_cost_per_token_above_200k_tokens",
    "cache_creation_input_token_cost_above_200k_tokens",
    "cache_creation_input_token_cost_above_1hr_above_200k_tokens",
    "cache_read_input_token_cost_above_200k_tokens",
};

#define FEMTO_PER_USD 1e15L

struct entry {
    char *name;
    long long base[PF__COUNT]; /* femto-USD per token; -1 = absent */
    long long tier[PF__COUNT];
    bool has_tier;
};

struct pricing {
    atomic_int refs;
    struct pricing_fallback fb;
    size_t nmodels; /* every model in the JSON */
    size_t n;       /* priced entries, sorted by name */
    struct entry *entries;
    char *json; /* compact text */
    size_t json_len;
};

/* ---- lifetime ---- */

struct pricing *pricing_ref(struct pricing *t)
{
    if (t)
        atomic_fetch_add(&t->refs, 1);
    return t;
}

static void table_free(struct pricing *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->entries[i].name);
    free(t->entries);
    free(t->json);
    free(t);
}

void pricing_release(struct pricing *t)
{
    if (t && atomic_fetch_sub(&t->refs, 1) == 1)
        table_free(t);
}

size_t pricing_model_count(const struct pricing *t)
{
    return t->nmodels;
}

const char *pricing_json(const struct pricing *t, size_t *len)
{
    if (len)
        *len = t->json_len;
    return t->json;
}

/* ---- parsing ---- */

static bool is_price_field(const char *name)
{
    for (int f = 0; f < PF__COUNT; f++)
        if (strcmp(name, base_fields[f]) == 0 || strcmp(name, tier_fields[f]) == 0)
            return true;
    return false;
}

/* One member of a model object: prices we use are numbers in [0, 1] USD per
 * token; other numeric "cost" members must not be negative. */
static int check_member(const char *model, const cJSON *m, char *err, size_t errlen)
{
    const char *name = m->string;
    if (is_price_field(name)) {
        if (cJSON_IsNumber(m) && isfinite(m->valuedouble) && m->valuedouble >= 0 &&
            m->valuedouble <= 1)
            return 0;
        snprintf(err, errlen, "model \"%.100s\": %s must be a number from 0 to 1 (USD per token)",
                 model, name);
        return -ERR_INVAL;
    }
    if (!strstr(name, "cost") || cJSON_IsObject(m) ||
        (cJSON_IsNumber(m) && isfinite(m->valuedouble) && m->valuedouble >= 0))
        return 0;
    snprintf(err, errlen, "model \"%.100s\": %.100s must be a non-negative number", model, name);
    return -ERR_INVAL;
}

static int check_model(const cJSON *m, char *err, size_t errlen)
{
    size_t nl = m->string ? strlen(m->string) : 0;
    if (nl == 0 || nl > PRICING_MAX_NAME) {
        snprintf(err, errlen, "model names must be 1 to %d bytes", PRICING_MAX_NAME);
        return -ERR_INVAL;
    }
    if (!cJSON_IsObject(m)) {
        snprintf(err, errlen, "model \"%.100s\": must be an object", m->string);
        return -ERR_INVAL;
    }
    for (const cJSON *f = m->child; f; f = f->next) {
        int rc = check_member(m->string, f, err, errlen);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static long long femto_of(const cJSON *m, const char *field)
{
    const cJSON *v = json_get(m, field);
    if (!cJSON_IsNumber(v))
        return -1;
    return llroundl((long double)v->valuedouble * FEMTO_PER_USD);
}

/* Fill e from a validated model object; false when it is not priced. */
static bool entry_from(const cJSON *m, struct entry *e)
{
    e->has_tier = false;
    for (int f = 0; f < PF__COUNT; f++) {
        e->base[f] = femto_of(m, base_fields[f]);
        e->tier[f] = femto_of(m, tier_fields[f]);
        e->has_tier |= e->tier[f] >= 0;
    }
    if (e->base[PF_IN] < 0 || e->base[PF_OUT] < 0)
        return false;
    e->name = xstrdup(m->string);
    return true;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

/* Build the sorted entries of a validated root; -ERR_INVAL on a duplicate name. */
static int build_entries(struct pricing *t, const cJSON *root, char *err, size_t errlen)
{
    t->entries = xcalloc(t->nmodels ? t->nmodels : 1, sizeof(*t->entries));
    for (const cJSON *m = root->child; m; m = m->next)
        if (entry_from(m, &t->entries[t->n]))
            t->n++;
    qsort(t->entries, t->n, sizeof(*t->entries), entry_cmp);
    for (size_t i = 1; i < t->n; i++) {
        if (strcmp(t->entries[i - 1].name, t->entries[i].name) == 0) {
            snprintf(err, errlen, "model \"%.100s\": appears more than once", t->entries[i].name);
            return -ERR_INVAL;
        }
    }
    return 0;
}

static int check_root(const cJSON *root, size_t *nmodels, char *err, size_t errlen)
{
    size_t n = 0;
    if (!cJSON_IsObject(root)) {
        snprintf(err, errlen, "the table must be a JSON object of models");
        return -ERR_INVAL;
    }
    for (const cJSON *m = root->child; m; m = m->next) {
        if (++n > PRICING_MAX_MODELS) {
            snprintf(err, errlen, "more than %d models", PRICING_MAX_MODELS);
            return -ERR_TOOBIG;
        }
        int rc = check_model(m, err, errlen);
        if (rc != 0)
            return rc;
    }
    if (n == 0) {
        snprintf(err, errlen, "the table has no models");
        return -ERR_INVAL;
    }
    *nmodels = n;
    return 0;
}

int pricing_parse(const char *json, size_t len, const struct pricing_fallback *fb, char *err,
                  size_t errlen, struct pricing **out)
{
    struct pricing *t = NULL;
    cJSON *root = NULL;
    size_t nmodels = 0;
    int rc = -ERR_TOOBIG;
    if (len > PRICING_MAX_JSON) {
        snprintf(err, errlen, "the table is larger than %u bytes", PRICING_MAX_JSON);
        goto out;
    }
    rc = -ERR_PARSE;
    if (!json || !(root = json_parse(json, len, JSON_MAX_DEPTH, true))) {
        snprintf(err, errlen, "the table is not valid JSON");
        goto out;
    }
    if ((rc = check_root(root, &nmodels, err, errlen)) != 0)
        goto out;
    t = xcalloc(1, sizeof(*t));
    atomic_init(&t->refs, 1);
    t->fb = *fb;
    t->nmodels = nmodels;
    if ((rc = build_entries(t, root, err, errlen)) != 0)
        goto out;
    t->json = json_print(root);
    t->json_len = strlen(t->json);
    *out = t;
    t = NULL;
out:
    if (t)
        table_free(t);
    cJSON_Delete(root);
    return rc;
}

/* ---- lookup ---- */

static const struct entry *find(const struct pricing *t, const char *name)
{
    struct entry key = {.name = (char *)(uintptr_t)name};
    return bsearch(&key, t->entries, t->n, sizeof(*t->entries), entry_cmp);
}

static bool strip_suffix(char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    if (n < k || strcmp(s + n - k, suffix) != 0)
        return false;
    s[n - k] = '\0';
    return true;
}

static void strip_prefix(char *s, const char *prefix)
{
    size_t k = strlen(prefix);
    if (strncmp(s, prefix, k) == 0)
        memmove(s, s + k, strlen(s + k) + 1);
}

/* Lower case, "[1m]" and provider/region/vendor prefixes gone (rule 2). */
static bool normalise(const char *model, char out[PRICING_MAX_NAME + 1])
{
    static const char *const regions[] = {"us.", "eu.", "apac.",  "global.",
                                          "jp.", "au.", "us-gov."};
    const char *slash = strrchr(model, '/');
    size_t i = 0;
    for (const char *p = slash ? slash + 1 : model; *p; p++) {
        if (i >= PRICING_MAX_NAME)
            return false;
        out[i++] = (char)tolower((unsigned char)*p);
    }
    out[i] = '\0';
    (void)strip_suffix(out, "[1m]");
    for (size_t r = 0; r < ARRAY_SIZE(regions); r++)
        strip_prefix(out, regions[r]);
    strip_prefix(out, "anthropic.");
    return true;
}

/* Remove a trailing "-v<digits>[:<digits>]" (rule 3). */
static bool strip_version(char *s)
{
    char *v = strrchr(s, '-');
    if (!v || v[1] != 'v' || !isdigit((unsigned char)v[2]))
        return false;
    const char *p = v + 2;
    while (isdigit((unsigned char)*p))
        p++;
    if (*p == ':' && isdigit((unsigned char)p[1]))
        for (p++; isdigit((unsigned char)*p); p++)
            ;
    if (*p)
        return false;
    *v = '\0';
    return true;
}

/* Remove a trailing "-YYYYMMDD" or "@YYYYMMDD" (rule 4). */
static bool strip_date(char *s)
{
    size_t n = strlen(s);
    if (n < 10 || (s[n - 9] != '-' && s[n - 9] != '@'))
        return false;
    for (size_t i = n - 8; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    s[n - 9] = '\0';
    return true;
}

static const struct entry *lookup(const struct pricing *t, const char *model)
{
    char name[PRICING_MAX_NAME + 1];
    const struct entry *e;
    if (!model || !*model)
        return NULL;
    if ((e = find(t, model)) || !normalise(model, name) || (e = find(t, name)))
        return e;
    if (strip_version(name) && (e = find(t, name)))
        return e;
    if (strip_date(name) && (e = find(t, name)))
        return e;
    return NULL;
}

const char *pricing_match(const struct pricing *t, const char *model)
{
    const struct entry *e = lookup(t, model);
    return e ? e->name : NULL;
}

/* ---- cost ---- */

static long long add_sat(long long a, long long b)
{
    long long r;
    return __builtin_add_overflow(a, b, &r) ? LLONG_MAX : r;
}

static long long mul_sat(long long tokens, long long price)
{
    long long r;
    return __builtin_mul_overflow(tokens, price, &r) ? LLONG_MAX : r;
}

/* price x num / den, rounded half up to a whole femto-USD. */
static long long scaled(long long price, long long num, long long den)
{
    return add_sat(mul_sat(price, num), den / 2) / den;
}

/* The five prices that apply: tier (if used), then base, then multipliers of input. */
static void resolve(const struct entry *e, bool tier, long long p[PF__COUNT])
{
    for (int f = 0; f < PF__COUNT; f++)
        p[f] = tier && e->tier[f] >= 0 ? e->tier[f] : e->base[f];
    if (p[PF_C5M] < 0)
        p[PF_C5M] = scaled(p[PF_IN], 5, 4);
    if (p[PF_C1H] < 0)
        p[PF_C1H] = scaled(p[PF_IN], 2, 1);
    if (p[PF_READ] < 0)
        p[PF_READ] = scaled(p[PF_IN], 1, 10);
}

static long long nonneg(long long v)
{
    return v > 0 ? v : 0;
}

int pricing_cost(const struct pricing *t, const char *model, const struct usage *u,
                 struct pricing_cost *out)
{
    if (!t || !u || !out)
        return -ERR_INVAL;
    long long in = nonneg(u->input), outp = nonneg(u->output), rd = nonneg(u->cache_read);
    long long c1h = nonneg(u->eph_1h), split = add_sat(nonneg(u->eph_5m), c1h);
    long long uncovered = nonneg(u->cache_create) > split ? nonneg(u->cache_create) - split : 0;
    long long c5m = add_sat(nonneg(u->eph_5m), uncovered);
    long long prompt = add_sat(add_sat(in, rd), add_sat(c5m, c1h));
    const struct entry *e = lookup(t, model);
    struct entry fb = {.base = {t->fb.input, t->fb.output, -1, -1, -1}};
    long long p[PF__COUNT];
    struct pricing_cost c = {.unpriced = !e, .model = e ? e->name : NULL};
    c.long_context = e && e->has_tier && prompt > PRICING_LONG_CONTEXT_TOKENS;
    resolve(e ? e : &fb, c.long_context, p);
    c.input = mul_sat(in, p[PF_IN]);
    c.output = mul_sat(outp, p[PF_OUT]);
    c.cache_5m = mul_sat(c5m, p[PF_C5M]);
    c.cache_1h = mul_sat(c1h, p[PF_C1H]);
    c.cache_read = mul_sat(rd, p[PF_READ]);
    c.femto =
        add_sat(add_sat(add_sat(c.input, c.output), add_sat(c.cache_5m, c.cache_1h)), c.cache_read);
    c.micro = c.femto / PRICING_FEMTO_PER_MICRO +
              (c.femto % PRICING_FEMTO_PER_MICRO >= PRICING_FEMTO_PER_MICRO / 2);
    *out = c;
    return 0;
}

/* ---- configuration values ---- */

int pricing_parse_usd_per_mtok(const char *s, long long *out)
{
    long long whole = 0, frac = 0;
    int nfrac = 0, nwhole = 0;
    const char *p = s;
    for (; p && isdigit((unsigned char)*p) && nwhole < 8; p++, nwhole++)
        whole = whole * 10 + (*p - '0');
    if (p && *p == '.')
        for (p++; isdigit((unsigned char)*p) && nfrac < 9; p++, nfrac++)
            frac = frac * 10 + (*p - '0');
    if (!p || *p || nwhole + nfrac == 0 || whole > 1000000 || (whole == 1000000 && frac > 0))
        return -ERR_INVAL;
    for (int i = nfrac; i < 9; i++)
        frac *= 10;
    *out = whole * 1000000000LL + frac; /* 1 USD per MTok = 1e9 femto-USD per token */
    return 0;
}
