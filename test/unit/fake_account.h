/*
 * fake_account.h - an account of a given provider without a snapshot, for
 * unit tests of provider hooks (classify, supports_model): schema values set
 * by name, and one answer judged as the transaction would.
 */
#ifndef RELAY_TEST_FAKE_ACCOUNT_H
#define RELAY_TEST_FAKE_ACCOUNT_H

#include <stdint.h>
#include <string.h>

#include "accounts.h"
#include "provider.h"

#define FAKE_FIELDS 32

struct fake {
    struct account acc;
    char *values[FAKE_FIELDS];
    struct cJSON *json[FAKE_FIELDS];
};

static inline void fake_for(struct fake *f, const struct provider *p)
{
    memset(f, 0, sizeof(*f));
    f->acc.prov = p;
    f->acc.values = f->values;
    f->acc.json = f->json;
}

/* The schema field name gets value (borrowed: a string literal). */
static inline void fake_set(struct fake *f, const char *name, const char *value)
{
    for (size_t i = 0; i < f->acc.prov->nfields && i < FAKE_FIELDS; i++)
        if (strcmp(f->acc.prov->fields[i].name, name) == 0)
            f->values[i] = (char *)(uintptr_t)value;
}

/* The provider's verdict on one answer at now = 1,000,000 ms. */
static inline struct verdict fake_judge(const struct relay_config *cfg, struct fake *f,
                                        const char *endpoint, int status, const char *body,
                                        const struct httpc_header *h, size_t nh)
{
    struct judge j = {cfg, &f->acc, endpoint};
    struct upstream_answer ans = {.status = status,
                                  .headers = h,
                                  .nheaders = nh,
                                  .body = body,
                                  .body_len = strlen(body),
                                  .now_ms = 1000000};
    struct verdict v;
    f->acc.prov->classify(&j, &ans, &v);
    return v;
}

#endif
