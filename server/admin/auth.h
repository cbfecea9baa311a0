/*
 * auth.h - admin identity: bootstrap of the admin credentials, login,
 * sessions and the check run before every AUTH_ADMIN route.
 */
#ifndef RELAY_AUTH_H
#define RELAY_AUTH_H

#include <stdbool.h>

struct app;
struct reqctx;

/* At startup: make sure admin credentials exist in Redis. ADMIN_USERNAME +
 * ADMIN_PASSWORD (if set) are applied; else existing credentials are kept;
 * else a username and password are generated, written to DATA_DIR/init.json
 * (mode 0600) and printed once. Logs the customer's startup lines. */
int auth_bootstrap(struct app *app);

/* Validate the admin session of rq (Authorization: Bearer <token>). On
 * success records the admin name (reqctx_set_admin) and returns true; on
 * failure replies 401 in the admin error shape and returns false. */
bool auth_admin_check(struct reqctx *rq);

#endif
