/*
 * key_policy.h - what an API key allows, parsed once from its record (the
 * admin API's fields, crs-admin-spec 3.2) into a form the request path can
 * check without parsing: service bits, client bits, the model deny-list,
 * expiry by activation, the rate window, cost caps in micro-USD, the
 * concurrency limit and the dedicated account.
 */
#ifndef RELAY_KEY_POLICY_H
#define RELAY_KEY_POLICY_H

#include <stdbool.h>
#include <stddef.h>

struct cJSON;

/* Services (permissions); 0 in key_policy.services means all of them. */
#define KEY_SVC_CLAUDE 1u
#define KEY_SVC_GEMINI 2u
#define KEY_SVC_OPENAI 4u
#define KEY_SVC_DROID 8u

struct key_policy {
    unsigned services;
    bool clients_on;  /* enableClientRestriction with a non-empty list */
    unsigned clients; /* bit (1u << i) for key_policy_client_name(i) */
    bool models_on;   /* enableModelRestriction with a non-empty list */
    size_t nmodels;
    char **models;           /* the deny-list (restrictedModels) */
    bool activation;         /* expirationMode "activation" and not activated yet */
    long long activation_ms; /* its period */
    long long window_ms;     /* rateLimitWindow; 0 = none */
    long long window_requests, window_tokens, window_cost; /* cost in micro-USD */
    long long daily_cost, total_cost, weekly_cost;         /* micro-USD; 0 = no cap */
    int week_day;                                          /* 1 = Monday .. 7 = Sunday */
    int week_hour;                                         /* 0..23, in TIMEZONE_OFFSET */
    long long concurrency;
    char console_account[48]; /* dedicated Claude Console account or "group:<gid>"; "" = pool */
    char claude_account[48];  /* dedicated Claude OAuth account or group; first, as the original */
    char openai_account[48];  /* dedicated openai-responses account or group; "" = pool */
    /* geminiAccountId: a gemini (OAuth) id, "api:<id>" (gemini-api), "group:<gid>", "" */
    char gemini_account[48];
};

/* Parse a record (object of strings). Never fails: absent or malformed
 * fields mean "no limit". Release with key_policy_release. */
void key_policy_parse(const struct cJSON *rec, struct key_policy *out);
void key_policy_release(struct key_policy *p);
/* An account binding without the original's "responses:" prefix (it named
 * an openai-responses account; ids are unique across types). Borrowed. */
const char *key_policy_bound_id(const char *v);
/* True when the deny-list names model (a "ccr," prefix is ignored). */
bool key_policy_model_denied(const struct key_policy *p, const char *model);
/* The Gemini binding as the scheduler takes it: the gemini-api account id
 * of "api:<id>", else the value as stored ("group:<gid>", "" = the pool).
 * Borrowed from p. */
const char *key_policy_gemini_bound(const struct key_policy *p);
/* True when any admission limit applies (the admission script must run). */
bool key_policy_admission_needed(const struct key_policy *p);

/* The client names allowedClients may hold, by bit index; NULL past the end. */
const char *key_policy_client_name(unsigned i);
/* The services permissions may hold, by bit index; NULL past the end. */
const char *key_policy_service_name(unsigned i);
/* "12.5" USD -> 12500000 micro-USD (rounded); negative or bad -> 0. */
long long key_policy_usd_to_micro(const char *usd);

#endif
