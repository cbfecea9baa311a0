/*
 * notify.h - changes made by other relay instances on the same Redis,
 * seen within milliseconds and for free when nothing changes.
 *
 * One thread holds a SUBSCRIBE on SK_NOTIFY_CHANNEL and blocks on it: an
 * idle relay sends Redis nothing. Messages ("account <id> <instance>",
 * "accounts <instance>", "key <id> <instance>", "sticky <hash> <instance>",
 * "pricing <instance>", "settings <instance>") make it re-read one account's
 * health state, the whole account snapshot, the price table or the runtime
 * settings, or forget a cached API key or session binding; an instance skips its own
 * messages. After a lost
 * connection it reconnects with back-off and re-reads everything, since
 * messages sent meanwhile are gone.
 */
#ifndef RELAY_NOTIFY_H
#define RELAY_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>

struct rds_conn;

struct app;
struct notify;

int notify_start(struct app *app, struct notify **out) __attribute__((warn_unused_result));
/* Stop within about a second and free. */
void notify_stop(struct notify *n);
/* True while the subscription is up (the periodic refresh can then be rare). */
bool notify_connected(const struct notify *n);
/* Tell the other instances (one PUBLISH on c): what is "key <id>",
 * "account <id>" or "accounts". Errors are logged, not returned: the
 * periodic refresh and the key cache's TTL bound what a lost message costs. */
void notify_publish(const struct app *app, struct rds_conn *c, const char *what);
/* The payload telling other instances about a change (what: "account <id>"
 * or "accounts"), with this instance's id appended; into out. */
void notify_payload(const struct app *app, const char *what, char *out, size_t len);

#endif
