/*
 * pricing.h - a model price table (LiteLLM format) and the cost of one request.
 *
 * A table is an immutable, refcounted snapshot: parse it once, share it between
 * threads, release it when done. Nothing here touches Redis or locks anything;
 * pricing_sync.h keeps the process's current table in step with Redis.
 *
 * Money: prices are held in integer femto-USD per token (1e-15 USD; LiteLLM
 * prices such as 4.6875e-9 USD/token are whole numbers of femto-USD), each
 * converted from the JSON number by rounding to the nearest femto-USD. A cost
 * is summed exactly in femto-USD and rounded ONCE to micro-USD, half up (the
 * unit the relay stores). No floating point is used past parsing the table.
 *
 * Model lookup (pricing_match), first hit wins:
 *   1. the name exactly as given;
 *   2. normalised: lower case, a trailing "[1m]" removed, everything up to the
 *      last '/' removed ("anthropic/", "bedrock/us-east-1/", "openrouter/x/"),
 *      then a Bedrock region prefix ("us.", "eu.", "apac.", "global.", "jp.",
 *      "au.", "us-gov.") and the vendor prefix "anthropic." removed;
 *   3. then a Bedrock version suffix ("-v1:0", "-v2") removed;
 *   4. then a date suffix ("-20250514", or Vertex's "@20250514") removed.
 * A table entry is priced only when it has both input_cost_per_token and
 * output_cost_per_token; other entries are kept (and shown) but never match.
 */
#ifndef RELAY_PRICING_H
#define RELAY_PRICING_H

#include <stdbool.h>
#include <stddef.h>

struct usage;
struct pricing;

#define PRICING_MAX_JSON (8u * 1024 * 1024) /* largest table accepted, bytes */
#define PRICING_MAX_MODELS 20000
#define PRICING_MAX_NAME 255                 /* bytes in a model name */
#define PRICING_LONG_CONTEXT_TOKENS 200000LL /* prompt above this: *_above_200k_tokens prices */
#define PRICING_FEMTO_PER_MICRO 1000000000LL

/* Prices for models missing from the table, in femto-USD per token (from
 * UNPRICED_MODEL_FALLBACK_*_PER_MTOK). Cache prices derive from input as for
 * a table entry without them (1.25x, 2x, 0.1x). */
struct pricing_fallback {
    long long input;
    long long output;
};

/* The cost of one request. Parts are exact femto-USD; they add up to femto. */
struct pricing_cost {
    long long micro; /* total in micro-USD: femto rounded half up, once */
    long long femto; /* exact total; saturates at LLONG_MAX (~9223 USD), never wraps */
    long long input, output, cache_5m, cache_1h, cache_read; /* femto-USD each */
    bool unpriced;     /* no table entry matched: the fallback prices were used */
    bool long_context; /* the prompt exceeded 200k tokens and tier prices applied */
    const char *model; /* table key used; NULL when unpriced. Borrowed from the table */
};

/* Parse and validate a LiteLLM-format table: a JSON object of model objects,
 * at most PRICING_MAX_JSON bytes and PRICING_MAX_MODELS models; every price
 * field this module uses must be a number in [0, 1] USD per token, and any
 * other numeric member whose name contains "cost" must be >= 0 (objects such
 * as search_context_cost_per_query are allowed). fb is copied into the table.
 * Returns 0 and a table holding one reference in *out (pricing_release);
 * -ERR_TOOBIG, -ERR_PARSE (not JSON) or -ERR_INVAL (content), with a message
 * naming the model and field in err (always NUL-terminated). Thread-safe. */
int pricing_parse(const char *json, size_t len, const struct pricing_fallback *fb, char *err,
                  size_t errlen, struct pricing **out) __attribute__((warn_unused_result));

/* Take another reference / drop one (NULL is a no-op); the last frees. Thread-safe. */
struct pricing *pricing_ref(struct pricing *t);
void pricing_release(struct pricing *t);

/* Number of models in the table (priced or not). */
size_t pricing_model_count(const struct pricing *t);
/* The table as compact JSON text (NUL-terminated, borrowed from t); *len gets its length. */
const char *pricing_json(const struct pricing *t, size_t *len);
/* The table key model resolves to (see the lookup rules above), borrowed from
 * t; NULL when it has no priced entry. */
const char *pricing_match(const struct pricing *t, const char *model);

/* Cost of one request of model with usage u (input, output, cache_create
 * total, cache_read, eph_5m, eph_1h; negative counts count as 0):
 *   input x input price + output x output price
 *   + 5-minute cache writes x cache_creation_input_token_cost (else 1.25x input)
 *   + 1-hour cache writes x cache_creation_input_token_cost_above_1hr (else 2x input)
 *   + cache reads x cache_read_input_token_cost (else 0.1x input).
 * Cache-write tokens not covered by the eph_5m/eph_1h split count as 5-minute.
 * When input + cache writes + cache reads exceeds 200k tokens and the model
 * has any *_above_200k_tokens price, those prices apply to the whole request
 * (each missing one falls back to the base price, then to the multipliers).
 * An unmatched model is priced with the table's fallback and flagged.
 * Derived prices are rounded half up to whole femto-USD per token.
 * Returns 0 and fills *out, or -ERR_INVAL when t or u is NULL. Thread-safe. */
int pricing_cost(const struct pricing *t, const char *model, const struct usage *u,
                 struct pricing_cost *out) __attribute__((warn_unused_result));

/* Parse a decimal "USD per million tokens" ("15", "0.30"; at most 9 digits
 * after the point, at most 1000000) into femto-USD per token, exactly.
 * Returns 0, or -ERR_INVAL (then *out is not written). */
int pricing_parse_usd_per_mtok(const char *s, long long *out) __attribute__((warn_unused_result));

#endif
