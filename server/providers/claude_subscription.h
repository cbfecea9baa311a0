/*
 * claude_subscription.h - what a Claude subscription account is and may do
 * (crs-relay-spec 0.1, 4.4, 9.1): the profile answer (subscription type,
 * e-mail, ids), the model gating by subscription, and the usage answer as
 * the admin API shows it. Pure functions: no Redis, no locks, any thread.
 */
#ifndef RELAY_CLAUDE_SUBSCRIPTION_H
#define RELAY_CLAUDE_SUBSCRIPTION_H

#include <stdbool.h>
#include <stddef.h>

struct cJSON;

#define CLAUDE_SUB_MAX "claude_max"
#define CLAUDE_SUB_PRO "claude_pro"
#define CLAUDE_SUB_FREE "free"
#define CLAUDE_PROFILE_SCOPE "user:profile"

struct claude_profile {
    char subscription[16]; /* CLAUDE_SUB_MAX, _PRO or _FREE */
    char email[321];       /* "" when absent or too long */
    char account_uuid[65];
    char org_uuid[65];
};

/* Parse a 2xx profile answer ({account:{uuid, email_address, has_claude_max,
 * has_claude_pro}, organization:{uuid, organization_type}}): max when
 * has_claude_max or the organization type is claude_max, pro when
 * has_claude_pro, else free. 0, or -ERR_PARSE with what was wrong in err. */
int claude_profile_parse(const char *body, size_t len, struct claude_profile *out, char *err,
                         size_t errlen) __attribute__((warn_unused_result));

/* True when the space-separated scope list holds scope (whole tokens). */
bool claude_scopes_have(const char *scopes, const char *scope);

/* The original's isOpus45OrNewer: "opus-latest"; "claude-<maj>[.-<min>]-opus";
 * "opus-<maj>.<min>"; "opus-<maj>[-<min, 1-2 digits>]" before an 8-digit date
 * or the end. Case-insensitive; false for a model without "opus". */
bool claude_opus_45_or_newer(const char *model);

/* May an account of this subscription type serve model? free: no Opus;
 * claude_pro: Opus 4.5 or newer only; claude_max, "" (unknown) or anything
 * else: every model. */
bool claude_subscription_allows(const char *subscription, const char *model);

/* A 2xx usage answer ({five_hour:{utilization, resets_at}, seven_day,
 * seven_day_sonnet, seven_day_opus}) as the admin view {fiveHour:
 * {utilization, resetsAt, remainingSeconds}, sevenDay, sevenDaySonnet,
 * sevenDayOpus} (a window the answer lacks is null). NULL when the answer
 * is not a JSON object. Caller deletes. */
struct cJSON *claude_usage_view(const char *body, size_t len, long long now_ms);

#endif
