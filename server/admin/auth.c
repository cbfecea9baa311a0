/*
 * auth.c - admin credentials, login, sessions (see auth.h).
 *
 * DESIGN: the password is stored as an argon2id hash; a session token is
 * 32 random bytes shown to the client once, and Redis holds only its keyed
 * hash (under JWT_SECRET), so a Redis dump cannot be replayed and no code
 * path other than a successful login creates a session (the original
 * system once accepted any forged 32-character token). Tokens that are not
 * exactly 64 lower-case hex characters are refused before touching Redis.
 */
#include "compat.h"
#include "admin_util.h"
#include "app.h"
#include "auth.h"
#include "config.h"
#include "errs.h"
#include "json.h"
#include "log.h"
#include "login_throttle.h"
#include "rds.h"
#include "reqctx.h"
#include "router.h"
#include "secret.h"
#include "store.h"
#include "xmalloc.h"

#include <ctype.h>
#include <stdatomic.h>
#include <errno.h>
#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOKEN_HEX 64

static void session_key(const struct app *app, const char *token, char out[STORE_KEY_MAX])
{
    char h[SECRET_HASH_HEX + 1];
    secret_keyed_hash(app->session_box, "admin-session", token, h);
    store_key(out, SK_SESSION, h);
}

static int write_creds(struct rds_conn *c, const char *user, const char *password)
{
    char hash[SECRET_PWHASH_MAX], now[32];
    if (secret_password_hash(password, hash) != 0)
        return -ERR_NOMEM;
    admin_iso_now(now);
    redisReply *r = rds_command(c, "HSET %s username %s passwordHash %s updatedAt %s _v %s",
                                SK_ADMIN_CREDENTIALS, user, hash, now, STORE_FORMAT_VERSION);
    int rc = r && r->type == REDIS_REPLY_INTEGER ? 0 : -ERR_REDIS;
    if (r)
        freeReplyObject(r);
    return rc;
}

static int write_init_json(const struct relay_config *cfg, const char *user, const char *pw)
{
    char path[1024], now[32];
    if (mkdir(cfg->data_dir, 0700) != 0 && errno != EEXIST)
        return -ERR_IO;
    snprintf(path, sizeof(path), "%s/init.json", cfg->data_dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -ERR_IO;
    admin_iso_now(now);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "initializedAt", now);
    cJSON_AddStringToObject(j, "adminUsername", user);
    if (pw)
        cJSON_AddStringToObject(j, "adminPassword", pw);
    cJSON_AddStringToObject(j, "note",
                            pw ? "Delete this file once the password is stored safely."
                               : "The password was changed; it is not kept here.");
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    secret_free(text);
    return n < 0 ? -ERR_IO : 0;
}

static int generate_admin(struct app *app, struct rds_conn *c)
{
    char user[32], pw[25];
    char hex[9];
    secret_random_hex(hex, 4);
    snprintf(user, sizeof(user), "cr_admin_%s", hex);
    char raw[49];
    secret_random_hex(raw, 24);
    static const char alpha[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    for (int i = 0; i < 24; i++) /* hex pairs -> letters: ~5.8 bits each */
        pw[i] =
            alpha[strtol((char[]){raw[2 * i], raw[2 * i + 1], 0}, NULL, 16) % (sizeof(alpha) - 1)];
    pw[24] = '\0';
    int rc = write_creds(c, user, pw);
    if (rc == 0 && write_init_json(app->cfg, user, pw) != 0)
        log_warn("init", "could not write %s/init.json", app->cfg->data_dir);
    if (rc == 0)
        printf("\n================ claude-relay admin credentials ================\n"
               "  username: %s\n  password: %s\n"
               "  (shown once; also in %s/init.json, mode 0600 - delete it after use)\n"
               "================================================================\n\n",
               user, pw, app->cfg->data_dir);
    fflush(stdout);
    memset(pw, 0, sizeof(pw));
    return rc;
}

static int apply_preset(struct app *app, struct rds_conn *c, const cJSON *creds)
{
    const char *user = app->cfg->admin_username, *pw = app->cfg->admin_password;
    log_info("init", "preset admin credentials detected (ADMIN_USERNAME)");
    if (creds && secret_equal(json_str(creds, "username", ""), user) &&
        secret_password_verify(json_str(creds, "passwordHash", NULL), pw))
        return 0;
    return write_creds(c, user, pw);
}

int auth_bootstrap(struct app *app)
{
    struct rds_conn *c = rds_pool_get(app->redis, 5000);
    if (!c)
        return -ERR_REDIS;
    cJSON *creds = NULL;
    int rc = store_hgetall(c, SK_ADMIN_CREDENTIALS, &creds);
    if (rc == -ERR_NOTFOUND)
        log_info("init", "first start, running initialisation");
    bool preset = app->cfg->admin_username[0] && app->cfg->admin_password[0];
    if (!preset && (app->cfg->admin_username[0] || app->cfg->admin_password[0]))
        log_warn("init", "only one of ADMIN_USERNAME / ADMIN_PASSWORD is set: ignoring both");
    if (rc == 0 || rc == -ERR_NOTFOUND)
        rc = preset                ? apply_preset(app, c, creds)
             : rc == -ERR_NOTFOUND ? generate_admin(app, c)
                                   : 0;
    cJSON_Delete(creds);
    rds_pool_put(app->redis, c);
    if (rc == 0)
        log_info("init", "initialisation done");
    return rc;
}

static const char *bearer_token(const struct reqctx *rq)
{
    const char *a = reqctx_header(rq, "authorization");
    if (a && strncasecmp(a, "Bearer ", 7) == 0)
        return a + 7;
    return reqctx_header(rq, "x-admin-token");
}

static bool token_shape_ok(const char *t)
{
    if (!t || strlen(t) != TOKEN_HEX)
        return false;
    for (int i = 0; i < TOKEN_HEX; i++)
        if (!isxdigit((unsigned char)t[i]) || isupper((unsigned char)t[i]))
            return false;
    return true;
}

/* Validate the session; on success fill *session (caller deletes). */
static int load_session(struct reqctx *rq, struct rds_conn *c, const char *key, cJSON **session)
{
    struct app *app = reqctx_app(rq);
    cJSON *s = NULL;
    int rc = store_hgetall(c, key, &s);
    if (rc != 0)
        return rc;
    long long last = admin_parse_iso(json_str(s, "lastActivity", ""));
    long long now = (long long)time(NULL) * 1000;
    if (!json_str(s, "username", NULL) || admin_parse_iso(json_str(s, "loginTime", "")) < 0 ||
        last < 0 || now - last > app->cfg->admin_session_timeout_ms) {
        redisReply *r = rds_command(c, "DEL %s", key);
        if (r)
            freeReplyObject(r);
        cJSON_Delete(s);
        return -ERR_DENIED;
    }
    *session = s;
    return 0;
}

static void touch_session(struct reqctx *rq, struct rds_conn *c, const char *key)
{
    char now[32];
    admin_iso_now(now);
    redisReply *rep[2];
    if (rds_append(c, "HSET %s lastActivity %s", key, now) == 0 &&
        rds_append(c, "PEXPIRE %s %lld", key, reqctx_app(rq)->cfg->admin_session_timeout_ms) == 0 &&
        rds_flush_replies(c, 2, rep) == 0) {
        freeReplyObject(rep[0]);
        freeReplyObject(rep[1]);
    }
}

bool auth_admin_check(struct reqctx *rq)
{
    const char *token = bearer_token(rq);
    if (!token || !*token) {
        admin_error(rq, 401, "Missing admin token", "Authorization: Bearer <token> is required");
        return false;
    }
    if (!token_shape_ok(token)) {
        admin_error(rq, 401, "Invalid admin token", "The admin token is malformed");
        return false;
    }
    struct rds_conn *c = admin_conn(rq);
    if (!c)
        return false;
    char key[STORE_KEY_MAX];
    session_key(reqctx_app(rq), token, key);
    cJSON *s = NULL;
    int rc = load_session(rq, c, key, &s);
    if (rc == 0) {
        touch_session(rq, c, key);
        reqctx_set_admin(rq, json_str(s, "username", ""));
    }
    admin_conn_put(rq, c);
    cJSON_Delete(s);
    if (rc == -ERR_REDIS)
        admin_error(rq, 503, "Service unavailable", "Redis is unavailable");
    else if (rc != 0)
        admin_error(rq, 401, "Invalid admin token", "The session does not exist or has expired");
    return rc == 0;
}

/* ---- password hashing slots ---- */

/* argon2id takes 64 MiB and ~0.1 s of a core per check. Run on the shared
 * worker pool without a bound, 32 parallel logins took every worker and
 * 323 MB: relay latency went from 3 ms to 3.3 s. So at most
 * PASSWORD_HASH_CONCURRENCY checks run at once; a login that finds no free
 * slot is told to retry at once (503, Retry-After: 1) instead of waiting on a
 * worker. Owner: this file; the counter is the only state. */
static atomic_int hashes_running;

static bool hash_slot_take(const struct relay_config *cfg)
{
    if (atomic_fetch_add(&hashes_running, 1) < cfg->password_hash_concurrency)
        return true;
    atomic_fetch_sub(&hashes_running, 1);
    return false;
}

static void hash_slot_give(void)
{
    atomic_fetch_sub(&hashes_running, 1);
}

static void reply_hash_busy(struct reqctx *rq)
{
    reqctx_set_header(rq, "Retry-After", "1");
    admin_error(rq, 503, "Login busy", "Too many logins at once; retry in a second");
}

/* ---- /web/auth handlers ---- */

static void login_failed(struct reqctx *rq)
{
    log_warn("auth", "failed admin login from %s", reqctx_client_ip(rq));
    admin_error(rq, 401, "Invalid credentials", "Invalid username or password");
}

static void reply_throttled(struct reqctx *rq, long long wait_ms)
{
    char secs[24];
    snprintf(secs, sizeof(secs), "%lld", (wait_ms + 999) / 1000);
    reqctx_set_header(rq, "Retry-After", secs);
    admin_error(rq, 429, "Too many failed login attempts", "Try again later");
}

static int create_session(struct reqctx *rq, struct rds_conn *c, const char *user, char *token)
{
    char key[STORE_KEY_MAX], now[32];
    secret_random_hex(token, 32);
    session_key(reqctx_app(rq), token, key);
    admin_iso_now(now);
    redisReply *rep[3];
    long long ttl = reqctx_app(rq)->cfg->admin_session_timeout_ms;
    if (rds_append(c, "HSET %s username %s loginTime %s lastActivity %s _v %s", key, user, now, now,
                   STORE_FORMAT_VERSION) != 0 ||
        rds_append(c, "PEXPIRE %s %lld", key, ttl) != 0 ||
        rds_append(c, "SADD %s %s", SK_ADMIN_SESSIONS, key) != 0 ||
        rds_flush_replies(c, 3, rep) != 0)
        return -ERR_REDIS;
    for (int i = 0; i < 3; i++)
        freeReplyObject(rep[i]);
    return 0;
}

static void login_success(struct reqctx *rq, struct rds_conn *c, const char *user)
{
    char token[TOKEN_HEX + 1];
    login_throttle_clear(rq, c, user);
    if (create_session(rq, c, user, token) != 0) {
        admin_error(rq, 503, "Service unavailable", "Redis is unavailable");
        return;
    }
    log_info("auth", "admin %s logged in from %s", user, reqctx_client_ip(rq));
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "success", true);
    cJSON_AddStringToObject(j, "token", token);
    cJSON_AddNumberToObject(j, "expiresIn", (double)reqctx_app(rq)->cfg->admin_session_timeout_ms);
    cJSON_AddStringToObject(j, "username", user);
    reqctx_set_header(rq, "Cache-Control", "no-store");
    reqctx_reply_json(rq, 200, j);
}

/* The throttle said go: the attempt is counted; check the credentials. */
static void login_verify(struct reqctx *rq, struct rds_conn *c, const char *user, const char *pw)
{
    cJSON *creds = NULL;
    if (store_hgetall(c, SK_ADMIN_CREDENTIALS, &creds) == -ERR_REDIS) {
        admin_error(rq, 503, "Service unavailable", "Redis is unavailable");
        return;
    }
    /* Always run the (slow) hash check, so timing does not reveal the user name. */
    bool pw_ok = secret_password_verify(json_str(creds, "passwordHash", NULL), pw);
    bool user_ok = secret_equal(json_str(creds, "username", ""), user);
    if (pw_ok && user_ok)
        login_success(rq, c, json_str(creds, "username", ""));
    else
        login_failed(rq);
    cJSON_Delete(creds);
}

static void login_throttled_verify(struct reqctx *rq, const char *user, const char *pw)
{
    struct rds_conn *c = admin_conn(rq);
    if (!c)
        return;
    long long wait_ms = 0;
    if (login_throttle_begin(rq, c, user, &wait_ms) != 0)
        admin_error(rq, 503, "Service unavailable", "Redis is unavailable");
    else if (wait_ms > 0)
        reply_throttled(rq, wait_ms);
    else
        login_verify(rq, c, user, pw);
    admin_conn_put(rq, c);
}

static void h_login(struct reqctx *rq)
{
    const cJSON *b = reqctx_json(rq);
    const char *user = json_str(b, "username", NULL), *pw = json_str(b, "password", NULL);
    if (!user || !pw || !*user || !*pw) {
        admin_error(rq, 400, "Missing credentials", "Username and password are required");
        return;
    }
    /* The slot first: a login refused for a busy slot is not counted as a failure. */
    if (!hash_slot_take(reqctx_app(rq)->cfg)) {
        reply_hash_busy(rq);
        return;
    }
    login_throttled_verify(rq, user, pw);
    hash_slot_give();
}

static void h_logout(struct reqctx *rq)
{
    if (!auth_admin_check(rq))
        return;
    struct rds_conn *c = admin_conn(rq);
    if (!c)
        return;
    char key[STORE_KEY_MAX];
    session_key(reqctx_app(rq), bearer_token(rq), key);
    redisReply *rep[2];
    if (rds_append(c, "DEL %s", key) == 0 &&
        rds_append(c, "SREM %s %s", SK_ADMIN_SESSIONS, key) == 0 &&
        rds_flush_replies(c, 2, rep) == 0) {
        freeReplyObject(rep[0]);
        freeReplyObject(rep[1]);
    }
    admin_conn_put(rq, c);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "success", true);
    cJSON_AddStringToObject(j, "message", "Logout successful");
    reqctx_reply_json(rq, 200, j);
}

static void h_user(struct reqctx *rq)
{
    if (!auth_admin_check(rq))
        return;
    cJSON *u = cJSON_CreateObject();
    cJSON_AddStringToObject(u, "username", reqctx_admin(rq));
    admin_ok(rq, "user", u);
}

/* End every admin session (after a credential change). */
static void end_all_sessions(struct rds_conn *c)
{
    redisReply *r = rds_command(c, "SMEMBERS %s", SK_ADMIN_SESSIONS);
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        redisReply *d = rds_command(c, "DEL %s", r->element[i]->str);
        if (d)
            freeReplyObject(d);
    }
    if (r)
        freeReplyObject(r);
    r = rds_command(c, "DEL %s", SK_ADMIN_SESSIONS);
    if (r)
        freeReplyObject(r);
}

static const char *check_new_credentials(const char *cur, const char *npw, const char *nuser)
{
    if (!cur || !npw)
        return "currentPassword and newPassword are required";
    if (strlen(npw) < 8 || strlen(npw) > 128)
        return "newPassword must be 8 to 128 characters";
    if (nuser && (strlen(nuser) < 3 || strlen(nuser) > 64))
        return "newUsername must be 3 to 64 characters";
    return NULL;
}

/* Verify the current password and store the new credentials (a hash slot is held). */
static void change_password(struct reqctx *rq, const char *cur, const char *npw, const char *nuser)
{
    struct rds_conn *c = admin_conn(rq);
    if (!c)
        return;
    cJSON *creds = NULL;
    store_hgetall(c, SK_ADMIN_CREDENTIALS, &creds);
    const char *user = nuser ? nuser : json_str(creds, "username", "");
    if (!secret_password_verify(json_str(creds, "passwordHash", NULL), cur)) {
        admin_error(rq, 401, "Invalid credentials", "Current password is incorrect");
    } else if (write_creds(c, user, npw) != 0) {
        admin_error(rq, 503, "Service unavailable", "Redis is unavailable");
    } else {
        end_all_sessions(c);
        char path[1024];
        snprintf(path, sizeof(path), "%s/init.json", reqctx_app(rq)->cfg->data_dir);
        if (access(path, F_OK) == 0)
            write_init_json(reqctx_app(rq)->cfg, user, NULL);
        log_info("auth", "admin credentials changed by %s", reqctx_admin(rq));
        cJSON *j = cJSON_CreateObject();
        cJSON_AddBoolToObject(j, "success", true);
        cJSON_AddStringToObject(j, "message", "Password changed successfully, please log in again");
        cJSON_AddStringToObject(j, "newUsername", user);
        reqctx_reply_json(rq, 200, j);
    }
    cJSON_Delete(creds);
    admin_conn_put(rq, c);
}

static void h_change_password(struct reqctx *rq)
{
    if (!auth_admin_check(rq))
        return;
    const cJSON *b = reqctx_json(rq);
    const char *cur = json_str(b, "currentPassword", NULL), *npw = json_str(b, "newPassword", NULL);
    const char *nuser = json_str(b, "newUsername", NULL);
    nuser = nuser && *nuser ? nuser : NULL;
    const char *bad = check_new_credentials(cur, npw, nuser);
    if (bad) {
        admin_error(rq, 400, "Invalid request", bad);
        return;
    }
    /* After the session check: strangers cannot take the slots from logins. */
    if (!hash_slot_take(reqctx_app(rq)->cfg)) {
        reply_hash_busy(rq);
        return;
    }
    change_password(rq, cur, npw, nuser);
    hash_slot_give();
}

const struct route auth_routes[] = {
    {"POST", "/web/auth/login", h_login, AUTH_NONE, BODY_SMALL, NULL},
    {"POST", "/web/auth/logout", h_logout, AUTH_NONE, BODY_SMALL, NULL},
    {"GET", "/web/auth/user", h_user, AUTH_NONE, BODY_SMALL, NULL},
    {"POST", "/web/auth/change-password", h_change_password, AUTH_NONE, BODY_SMALL, NULL},
    {0},
};
