/*
 * ui_settings_admin.c - GET /admin/ui-settings: what the admin UI shows on
 * its settings page and needs to render times: the relay's timezone and the
 * switches set by environment (read-only here; they are changed in .env).
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
    admin_ok(rq, "data", d);
}

const struct route ui_settings_routes[] = {
    {"GET", "/admin/ui-settings", h_settings, AUTH_ADMIN, BODY_SMALL, NULL},
    {0},
};
