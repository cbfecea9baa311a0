/*
 * gemini_models.c - the Gemini model list (GET /gemini/{v1beta,v1}/models,
 * /gemini/models, .../models/<model>) in the API's own shape.
 *
 * A static list, not the upstream's: the original asked a live account per
 * call, which costs an upstream round trip (and an account's quota) for a
 * list that changes a few times a year. These are the models the relay
 * prices (store/model_prices.json); a key's model deny-list hides its
 * names, as the original's lists do. The key needs the gemini permission.
 */
#include "compat.h"
#include "format.h"
#include "gemini.h"
#include "google_errors.h"
#include "json.h"
#include "keys.h"
#include "reqctx.h"
#include "txn.h"

static const struct {
    const char *id;
    const char *name;
    long long input_limit, output_limit;
} gemini_models[] = {
    {"gemini-3-pro-preview", "Gemini 3 Pro Preview", 1048576, 65536},
    {"gemini-3-flash-preview", "Gemini 3 Flash Preview", 1048576, 65536},
    {"gemini-2.5-pro", "Gemini 2.5 Pro", 1048576, 65536},
    {"gemini-2.5-flash", "Gemini 2.5 Flash", 1048576, 65536},
    {"gemini-2.5-flash-lite", "Gemini 2.5 Flash-Lite", 1048576, 65536},
    {"gemini-2.0-flash", "Gemini 2.0 Flash", 1048576, 8192},
    {"gemini-2.0-flash-lite", "Gemini 2.0 Flash-Lite", 1048576, 8192},
};

size_t gemini_model_count(void)
{
    return ARRAY_SIZE(gemini_models);
}

const char *gemini_model_at(size_t i)
{
    return i < ARRAY_SIZE(gemini_models) ? gemini_models[i].id : NULL;
}

void gemini_reply_status(struct reqctx *rq, int status, const char *message)
{
    reqctx_reply_json(rq, status, google_error(NULL, status, message));
}

static cJSON *model_json(size_t i)
{
    cJSON *m = cJSON_CreateObject();
    char name[128];
    snprintf(name, sizeof(name), "models/%s", gemini_models[i].id);
    cJSON_AddStringToObject(m, "name", name);
    cJSON_AddStringToObject(m, "displayName", gemini_models[i].name);
    cJSON_AddNumberToObject(m, "inputTokenLimit", (double)gemini_models[i].input_limit);
    cJSON_AddNumberToObject(m, "outputTokenLimit", (double)gemini_models[i].output_limit);
    cJSON *methods = cJSON_AddArrayToObject(m, "supportedGenerationMethods");
    cJSON_AddItemToArray(methods, cJSON_CreateString("generateContent"));
    cJSON_AddItemToArray(methods, cJSON_CreateString("streamGenerateContent"));
    cJSON_AddItemToArray(methods, cJSON_CreateString("countTokens"));
    return m;
}

/* The key, when it may list Gemini models; else the refusal was sent. */
static struct api_key *gemini_key(struct reqctx *rq)
{
    struct api_key *k = txn_key_only(rq, &format_gemini);
    if (k && k->pol.services && !(k->pol.services & KEY_SVC_GEMINI)) {
        gemini_reply_status(rq, 403, "This API key does not have permission to access Gemini");
        keys_unref(k);
        return NULL;
    }
    return k;
}

void gemini_h_models(struct reqctx *rq)
{
    struct api_key *k = gemini_key(rq);
    if (!k)
        return;
    cJSON *root = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(root, "models");
    for (size_t i = 0; i < ARRAY_SIZE(gemini_models); i++)
        if (!key_policy_model_denied(&k->pol, gemini_models[i].id))
            cJSON_AddItemToArray(list, model_json(i));
    reqctx_reply_json(rq, 200, root);
    keys_unref(k);
}

void gemini_h_model(struct reqctx *rq)
{
    struct api_key *k = gemini_key(rq);
    if (!k)
        return;
    const char *want = reqctx_param(rq, "model");
    for (size_t i = 0; want && i < ARRAY_SIZE(gemini_models); i++)
        if (strcmp(want, gemini_models[i].id) == 0 &&
            !key_policy_model_denied(&k->pol, gemini_models[i].id)) {
            reqctx_reply_json(rq, 200, model_json(i));
            keys_unref(k);
            return;
        }
    char msg[200];
    snprintf(msg, sizeof(msg), "models/%.100s is not found", want ? want : "");
    gemini_reply_status(rq, 404, msg);
    keys_unref(k);
}
