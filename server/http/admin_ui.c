/*
 * admin_ui.c - serves the static admin page from ADMIN_UI_DIR at /web.
 * Only plain file names (letters, digits, '.', '-', '_'; no leading dot)
 * directly inside the directory are served: no traversal is possible.
 */
#include "compat.h"
#include "app.h"
#include "config.h"
#include "errors.h"
#include "reqctx.h"
#include "router.h"
#include "xmalloc.h"

#include <ctype.h>

#define UI_FILE_MAX (2 * 1024 * 1024)

static bool safe_name(const char *n)
{
    if (!n || !*n || n[0] == '.' || strlen(n) > 64)
        return false;
    for (; *n; n++)
        if (!isalnum((unsigned char)*n) && *n != '.' && *n != '-' && *n != '_')
            return false;
    return true;
}

static const char *content_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {{".html", "text/html; charset=utf-8"},
                 {".js", "text/javascript; charset=utf-8"},
                 {".css", "text/css; charset=utf-8"},
                 {".svg", "image/svg+xml"},
                 {".png", "image/png"},
                 {".ico", "image/x-icon"}};
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < ARRAY_SIZE(types); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

static void serve_file(struct reqctx *rq, const char *name)
{
    const struct relay_config *cfg = reqctx_app(rq)->cfg;
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", cfg->admin_ui_dir, name);
    FILE *f = safe_name(name) ? fopen(path, "rb") : NULL;
    if (!f) {
        errors_reply(rq, RERR_NOT_FOUND, "No such file");
        return;
    }
    char *data = xmalloc(UI_FILE_MAX);
    size_t n = fread(data, 1, UI_FILE_MAX, f);
    fclose(f);
    reqctx_set_header(rq, "Cache-Control", "no-cache");
    reqctx_set_header(rq, "Content-Security-Policy",
                      "default-src 'self'; frame-ancestors 'none'; base-uri 'none'");
    reqctx_reply(rq, 200, content_type(name), data, n);
}

static void h_index(struct reqctx *rq)
{
    serve_file(rq, "index.html");
}

static void h_file(struct reqctx *rq)
{
    serve_file(rq, reqctx_param(rq, "file"));
}

static void h_root(struct reqctx *rq)
{
    reqctx_set_header(rq, "Location", "/web");
    reqctx_reply(rq, 302, NULL, NULL, 0);
}

const struct route ui_routes[] = {
    {"GET", "/", h_root, AUTH_NONE, BODY_SMALL},
    {"GET", "/web", h_index, AUTH_NONE, BODY_SMALL},
    {"GET", "/web/:file", h_file, AUTH_NONE, BODY_SMALL},
    {0},
};
