/*
 * ui_settings_admin.c - GET /admin/ui-settings: what the admin UI shows on
 * its settings page and needs to render times: the relay's timezone and the
 * switches set by environment (read-only here; they are changed in .env),
 * and the branding (WEB_TITLE, WEB_LOGO_URL). GET /admin/oem-settings (the
 * original's public path) gives the login page the title before anyone has
 * logged in: the title only, nothing else of the configuration.
 * Costs no Redis command: everything comes from the parsed config.
 */
#include "compat.h"
#include "admin_util.h"
#include "app.h"
#include "config.h"
#include "json.h"
#include "reqctx.h"
#include "router.h"

static void h_settings(struct reqctx *rq)
{
    const struct relay_config *cfg = reqctx_app(rq)->cfg;
    cJSON *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "timezoneOffset", (double)cfg->timezone_offset);
    cJSON_AddNumberToObject(d, "sessionTimeoutMs", (double)cfg->admin_session_timeout_ms);
    cJSON_AddBoolToObject(d, "usageStatistics", cfg->enable_usage_statistics);
    cJSON_AddBoolToObject(d, "concurrentRequestQueue", cfg->queue_enabled);
    cJSON_AddNumberToObject(d, "concurrentRequestQueueTimeoutMs", (double)cfg->queue_timeout_ms);
    cJSON_AddBoolToObject(d, "userMessageQueue", cfg->umq_enabled);
    cJSON_AddNumberToObject(d, "userMessageQueueDelayMs", (double)cfg->umq_delay_ms);
    cJSON_AddNumberToObject(d, "stickySessionTtlHours", (double)cfg->sticky_ttl_hours);
    cJSON_AddStringToObject(d, "webTitle", cfg->web_title);
    cJSON_AddStringToObject(d, "webLogoUrl", cfg->web_logo_url);
    admin_ok(rq, "data", d);
}

/* Public: the login page shows the title (siteName, as the original names it). */
static void h_oem(struct reqctx *rq)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "siteName", reqctx_app(rq)->cfg->web_title);
    admin_ok(rq, "data", d);
}

const struct route ui_settings_routes[] = {
    {"GET", "/admin/ui-settings", h_settings, AUTH_ADMIN, BODY_SMALL, NULL},
    {"GET", "/admin/oem-settings", h_oem, AUTH_NONE, BODY_SMALL, NULL},
    {0},
};
