/*
 * admin_util.h - small helpers shared by the admin handlers: the original
 * system's admin JSON shapes ({success:true,...} / {error, message}), time
 * stamps, id validation and Redis checkout with a 503 on failure.
 */
#ifndef RELAY_ADMIN_UTIL_H
#define RELAY_ADMIN_UTIL_H

#include <stdbool.h>
#include <time.h>

struct reqctx;
struct rds_conn;
struct cJSON;

/* Reply {"error": error, "message": message} with status. */
void admin_error(struct reqctx *rq, int status, const char *error, const char *message);
/* Reply {"success": true, <name>: data} (data taken; name NULL = no member). */
void admin_ok(struct reqctx *rq, const char *name, struct cJSON *data);
/* Check out a Redis connection or reply 503 and return NULL. */
struct rds_conn *admin_conn(struct reqctx *rq);
void admin_conn_put(struct reqctx *rq, struct rds_conn *c);
/* ISO-8601 UTC with milliseconds. */
void admin_iso_now(char out[32]);
/* Parse ISO-8601 "YYYY-MM-DDTHH:MM[:SS[.fff]]" followed by "Z", "+HH:MM",
 * "-HH:MM", "+HHMM" or nothing (= UTC); ms since the epoch, -1 if invalid
 * (impossible dates such as 02-30 included, and anything before 1970). */
long long admin_parse_iso(const char *s);
/* ms since the epoch -> "2026-01-02T03:04:05.678Z". */
void admin_iso_from_ms(long long ms, char out[32]);
/* A UUID as made by secret_uuid (36 chars, hex and dashes). */
bool admin_is_uuid(const char *s);

#endif
