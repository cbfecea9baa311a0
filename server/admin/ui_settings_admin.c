/*
 * ui_settings_admin.c - what the admin UI shows on its settings page, and the
 * runtime settings an admin may change.
 *
 * GET /admin/ui-settings: the relay's timezone, the switches in force
 * (environment defaults, overridden by the runtime settings) and the
 * branding. GET /admin/oem-settings (the original's public path) gives the
 * login page the title before anyone has logged in: the title only.
 * GET/PUT /admin/claude-relay-config (the original's route, our subset of
 * its fields; settings.h): effective values, the environment's, and which
 * are overridden; PUT changes some (null: back to the default).
 * The GETs cost no Redis command: everything is in memory.
 */
#include "compat.h"
#include "admin_util.h"
#include "app.h"
#include "config.h"
#include "errs.h"
#include "json.h"
#include "log.h"
#include "notify.h"
#include "reqctx.h"
#include "router.h"
#include "settings.h"

static void h_settings(struct reqctx *rq)
{
    const struct app *app = reqctx_app(rq);
    const struct relay_config *cfg = app->cfg;
    char title[SETTINGS_STR_MAX], logo[SETTINGS_STR_MAX];
    settings_str(app->settings, SETTING_WEB_TITLE, title, sizeof(title));
    settings_str(app->settings, SETTING_WEB_LOGO_URL, logo, sizeof(logo));
    cJSON *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "timezoneOffset", (double)cfg->timezone_offset);
    cJSON_AddNumberToObject(d, "sessionTimeoutMs", (double)cfg->admin_session_timeout_ms);
    cJSON_AddBoolToObject(d, "usageStatistics", cfg->enable_usage_statistics);
    /* The UI offers no trend range the statistics do not keep. */
    cJSON_AddNumberToObject(d, "usageRetentionDays", (double)cfg->token_usage_retention_days);
    cJSON_AddBoolToObject(d, "concurrentRequestQueue",
                          settings_on(app->settings, SETTING_QUEUE_ENABLED));
    cJSON_AddNumberToObject(d, "concurrentRequestQueueTimeoutMs",
                            (double)settings_int(app->settings, SETTING_QUEUE_TIMEOUT_MS));
    cJSON_AddBoolToObject(d, "userMessageQueue", settings_on(app->settings, SETTING_UMQ_ENABLED));
    cJSON_AddNumberToObject(d, "userMessageQueueDelayMs",
                            (double)settings_int(app->settings, SETTING_UMQ_DELAY_MS));
    cJSON_AddNumberToObject(d, "stickySessionTtlHours",
                            (double)settings_int(app->settings, SETTING_STICKY_TTL_HOURS));
    cJSON_AddStringToObject(d, "webTitle", title);
    cJSON_AddStringToObject(d, "webLogoUrl", logo);
    admin_ok(rq, "data", d);
}

/* Public: the login page shows the title (siteName, as the original names it). */
static void h_oem(struct reqctx *rq)
{
    char title[SETTINGS_STR_MAX];
    settings_str(reqctx_app(rq)->settings, SETTING_WEB_TITLE, title, sizeof(title));
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "siteName", title);
    admin_ok(rq, "data", d);
}

static void reply_config(struct reqctx *rq, const char *message)
{
    struct settings *s = reqctx_app(rq)->settings;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "success", true);
    if (message)
        cJSON_AddStringToObject(j, "message", message);
    cJSON_AddItemToObject(j, "data", settings_json(s, false));
    cJSON_AddItemToObject(j, "defaults", settings_json(s, true));
    cJSON_AddItemToObject(j, "overridden", settings_overridden_json(s));
    reqctx_reply_json(rq, 200, j);
}

static void h_config_get(struct reqctx *rq)
{
    reply_config(rq, NULL);
}

static void h_config_put(struct reqctx *rq)
{
    const struct app *app = reqctx_app(rq);
    const cJSON *body = reqctx_json(rq);
    char err[256] = "body: must be a JSON object", notice[128];
    if (!cJSON_IsObject(body)) {
        admin_error(rq, 400, "Invalid settings", err);
        return;
    }
    struct rds_conn *c = admin_conn(rq);
    if (!c)
        return;
    notify_payload(app, "settings", notice, sizeof(notice));
    int rc = settings_update(app->settings, c, body, notice, err, sizeof(err));
    admin_conn_put(rq, c);
    if (rc == -ERR_INVAL) {
        admin_error(rq, 400, "Invalid settings", err);
        return;
    }
    if (rc != 0) {
        admin_error(rq, 503, "Service unavailable", err);
        return;
    }
    char *what = json_print(body);
    log_info("admin", "settings changed by %s: %.400s", reqctx_admin(rq), what);
    free(what);
    reply_config(rq, "Settings updated");
}

const struct route ui_settings_routes[] = {
    {"GET", "/admin/ui-settings", h_settings, AUTH_ADMIN, BODY_SMALL, NULL},
    {"GET", "/admin/oem-settings", h_oem, AUTH_NONE, BODY_SMALL, NULL},
    {"GET", "/admin/claude-relay-config", h_config_get, AUTH_ADMIN, BODY_SMALL, NULL},
    {"PUT", "/admin/claude-relay-config", h_config_put, AUTH_ADMIN, BODY_SMALL, NULL},
    {0},
};
