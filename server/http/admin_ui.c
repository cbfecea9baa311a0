/*
 * admin_ui.c - serves the built admin UI (admin-ui/dist, ADMIN_UI_DIR) at /web.
 * Only plain file names (letters, digits, '.', '-', '_'; no leading dot)
 * directly inside the directory or its one subfolder "assets/" are served:
 * no traversal is possible, and symbolic links are not followed.
 *
 * DESIGN: the UI routes on the client, so /web/<page> without a dot (a deep
 * link such as /web/keys) answers index.html. Files in assets/ carry a hash
 * of their content in their name (admin-ui/build.mjs), so they are cached
 * for a year as immutable; index.html, which names them, is revalidated.
 */
#include "compat.h"
#include "app.h"
#include "config.h"
#include "errors.h"
#include "reqctx.h"
#include "router.h"
#include "settings.h"
#include "xmalloc.h"

#include <ctype.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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
                 {".json", "application/json"},
                 {".woff2", "font/woff2"},
                 {".txt", "text/plain; charset=utf-8"},
                 {".ico", "image/x-icon"}};
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < ARRAY_SIZE(types); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

/* Open a plain file of the UI directory. A symlink is refused (O_NOFOLLOW):
 * a link planted in the folder (or shipped in an archive) would otherwise
 * serve any file the relay can read, e.g. ../.env. Only regular files;
 * O_NONBLOCK so that a FIFO planted there cannot hang a worker in open(). */
static int open_ui_file(const char *dir, const char *sub, const char *name)
{
    char path[1024];
    struct stat st;
    if (!safe_name(name) ||
        (size_t)snprintf(path, sizeof(path), "%s/%s%s", dir, sub, name) >= sizeof(path))
        return -1;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* sub is "" or "assets/" (a fixed string, never from the request). */
static void serve_file(struct reqctx *rq, const char *sub, const char *name)
{
    const struct relay_config *cfg = reqctx_app(rq)->cfg;
    bool hashed = *sub != '\0';
    int fd = open_ui_file(cfg->admin_ui_dir, sub, name);
    FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
        errors_reply(rq, RERR_NOT_FOUND,
                     strcmp(name, "index.html") == 0
                         ? "The admin UI is not built in ADMIN_UI_DIR (run make ui)"
                         : "No such file");
        return;
    }
    char *data = xmalloc(UI_FILE_MAX);
    size_t n = fread(data, 1, UI_FILE_MAX, f);
    fclose(f);
    reqctx_set_header(rq, "Cache-Control",
                      hashed ? "public, max-age=31536000, immutable" : "no-cache");
    reqctx_set_header(rq, "X-Content-Type-Options", "nosniff");
    /* The logo (WEB_LOGO_URL or its runtime setting) is the one image from
     * elsewhere the page may load (config.c's check keeps it free of the
     * characters that end a CSP source). */
    char logo[SETTINGS_STR_MAX];
    settings_str(reqctx_app(rq)->settings, SETTING_WEB_LOGO_URL, logo, sizeof(logo));
    char *csp = xasprintf("default-src 'self'; img-src 'self'%s%s; frame-ancestors 'none'; "
                          "base-uri 'none'",
                          *logo ? " " : "", logo);
    reqctx_set_header(rq, "Content-Security-Policy", csp);
    free(csp);
    reqctx_reply(rq, 200, content_type(name), data, n);
}

static void h_index(struct reqctx *rq)
{
    serve_file(rq, "", "index.html");
}

/* A name with a dot is a file (favicon.svg, index.html); one without is a
 * page of the client-side router (keys, stats). */
static void h_file(struct reqctx *rq)
{
    const char *name = reqctx_param(rq, "file");
    serve_file(rq, "", strchr(name, '.') ? name : "index.html");
}

static void h_asset(struct reqctx *rq)
{
    serve_file(rq, "assets/", reqctx_param(rq, "file"));
}

static void h_root(struct reqctx *rq)
{
    reqctx_set_header(rq, "Location", "/web");
    reqctx_reply(rq, 302, NULL, NULL, 0);
}

const struct route ui_routes[] = {
    {"GET", "/", h_root, AUTH_NONE, BODY_SMALL, NULL},
    {"GET", "/web", h_index, AUTH_NONE, BODY_SMALL, NULL},
    {"GET", "/web/:file", h_file, AUTH_NONE, BODY_SMALL, NULL},
    {"GET", "/web/assets/:file", h_asset, AUTH_NONE, BODY_SMALL, NULL},
    {0},
};
