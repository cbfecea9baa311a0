/*
 * policy.h - an API key's rules applied to one request, and the refusal a
 * client gets for each (the original's statuses, messages and details,
 * crs-relay-spec 3). The pure checks run before the admission script, so a
 * request refused by them takes no slot and sends Redis nothing.
 */
#ifndef RELAY_POLICY_H
#define RELAY_POLICY_H

#include <stdbool.h>

struct reqctx;
struct api_key;
struct relay_op;
struct refusal;
struct admit_result;
struct format_request;

/* The client restriction, the Claude-Code-only rule, the service
 * permission and the model deny-list. count_tokens skips the first two, as
 * the original. The permission is the request's (req->service: chat
 * completions need the one of the pool their model picked). 0, or
 * -ERR_DENIED with *r filled. */
int policy_check(struct reqctx *rq, const struct relay_op *op, const struct api_key *k,
                 const struct format_request *req, struct refusal *r)
    __attribute__((warn_unused_result));
/* The refusal for an admission the script declined. */
void policy_refusal(const struct admit_result *ar, int tz_offset_min, struct refusal *r);
enum queue_outcome;
struct queue_info;
/* The refusal for a request the wait queue did not take or let go
 * (QUEUE_FULL, QUEUE_OVERLOADED, QUEUE_TIMEOUT). */
void policy_queue_refusal(enum queue_outcome o, const struct api_key *k,
                          const struct queue_info *info, struct refusal *r);
/* Counts toward the weekly Claude-family cap (crs-relay-spec 3.7). */
bool policy_claude_family(const char *model);

#endif
