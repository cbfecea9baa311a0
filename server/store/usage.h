/*
 * usage.h - token usage: extraction from Anthropic responses (SSE events
 * and JSON bodies) and recording per key in Redis, one command each (a Lua
 * script incrementing every counter).
 */
#ifndef RELAY_USAGE_H
#define RELAY_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "sse.h"

struct app;
struct rds_conn;

struct usage {
    long long input;
    long long output;
    long long cache_create; /* total, including the 5m/1h split below */
    long long cache_read;
    long long eph_5m;
    long long eph_1h;
    long long reasoning;   /* OpenAI reasoning tokens: part of output, shown, not added again */
    long long output_done; /* output of messages already finished (internal) */
    char model[96];
    bool seen;
};

/* Feed one SSE event of an Anthropic stream (message_start/message_delta
 * carry usage; other events are skipped without parsing). */
void usage_from_anthropic_event(struct usage *u, const struct sse_event *ev);
/* Read usage from a non-stream Anthropic message body. */
void usage_from_anthropic_body(struct usage *u, const char *body, size_t len);
/* Feed one SSE event of an OpenAI Responses stream: response.completed
 * (and response.incomplete / response.failed, which bill what was made)
 * carries response.usage; other events are skipped without parsing. */
void usage_from_responses_event(struct usage *u, const struct sse_event *ev);
/* Read usage from a non-stream Responses body (a response object). OpenAI
 * counts cached tokens inside input_tokens: input here is input_tokens -
 * input_tokens_details.cached_tokens, cache_read the cached ones (each token
 * priced once); reasoning = output_tokens_details.reasoning_tokens. */
void usage_from_responses_body(struct usage *u, const char *body, size_t len);
/* Feed one SSE event of a Gemini stream (Code Assist's {"response":{...}}
 * envelope or the standard API's bare chunk; an SSE event's data or a
 * streamed JSON array's element): its usageMetadata, the last
 * chunk's winning (each chunk reports the running totals). promptTokenCount
 * minus cachedContentTokenCount is input, the cached ones cache reads,
 * candidatesTokenCount + thoughtsTokenCount output (thoughts are billed as
 * output; shown as reasoning). The model from modelVersion. */
void usage_from_gemini_event(struct usage *u, const struct sse_event *ev);
/* The same from a non-stream Gemini body: one response (enveloped or bare),
 * or a JSON array of them (a stream without alt=sse): the last one's. */
void usage_from_gemini_body(struct usage *u, const char *body, size_t len);
/* input + output + cache creation + cache read. */
long long usage_total(const struct usage *u);
/* Everything one finished request settles in Redis, in one script call:
 * its usage and cost on its key, the rate window's tokens and cost, the
 * day's and the week's cost, and the return of its concurrency lease.
 * Exactly once per request id (a retried write is recognised). Periods are
 * fixed when the request ends, so a retry after midnight counts it where
 * it happened. */
struct accounting {
    char key_id[40];
    char account_id[40];
    char request_id[48];
    struct usage u; /* u.seen false: nothing to count, only the lease to return */
    long long cost; /* micro-USD */
    bool unpriced;  /* the model has no price: cost is the fallback's */
    bool weekly;    /* a Claude-family model: counts toward the weekly cap */
    bool window;    /* the key has a rate window: add tokens and cost to it */
    char day[16];   /* the statistics day (TIMEZONE_OFFSET) */
    char week[24];  /* the key's week, "YYYY-MM-DDTHH" of its start */
    char lease[48]; /* concurrency lease member to return, or "" */
    /* The account's limits (account_limits.h). */
    char acc_lease[48];       /* its concurrency lease member to return, or "" */
    long long quota_micro;    /* its dailyQuota; 0: its cost of the day is not counted */
    char quota_day[16];       /* the quota day the request belongs to */
    long long quota_until_ms; /* that day's end: the next reset */
    long long
        used_ms; /* when the account was picked (its last use for every LRU); 0: not written */
    /* For the statistics and the request log (usage_stats.h), not the script. */
    long long end_ms; /* wall time the request ended */
    long duration_ms; /* from the request's start to its end */
    long ttft_ms;     /* to the answer's first event or body; -1: none came */
    int status;       /* the last upstream attempt's HTTP status (0: transport failure) */
    int attempts;     /* upstream attempts made */
    bool stream;
};

/* Settle each of n requests (see struct accounting) in one pipelined round
 * trip: one script call per request. day_cost (may be NULL) gets, for a
 * request whose account has a quota (quota_micro > 0) and that was counted
 * now, the account's cost of the quota day after it (micro-USD); else -1.
 * A usage whose call fails for a lost script cache or a broken pipeline is
 * retried on its own. res[i] gets usage i's outcome: 0 written, -ERR_IO not
 * written for now (no answer, or LOADING/BUSY/READONLY...: try again later),
 * -ERR_REDIS refused for good (e.g. WRONGTYPE). Returns 0 when all were
 * written, else -ERR_IO. Negative token counts never reach here: extraction
 * counts them as 0. */
int usage_record_many(struct app *app, struct rds_conn *c, int n,
                      const struct accounting *const as[], int res[], long long day_cost[]);
/* The statistics date (YYYY-MM-DD in the configured offset) and the UTC ISO time. */
void usage_dates(int tz_offset_min, time_t now, char date[16], char iso[32]);

#endif
