/* redis_embed.c - the private redis-server child (see redis_embed.h). */
#include "compat.h"
#include "config.h"
#include "errs.h"
#include "log.h"
#include "redis_embed.h"
#include "xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct redis_embed {
    pid_t pid;
    char dir[PATH_MAX];
    char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static int make_dirs(const char *data_dir, char *dir, size_t len)
{
    if (mkdir(data_dir, 0700) != 0 && errno != EEXIST)
        return -ERR_IO;
    char sub[PATH_MAX];
    snprintf(sub, sizeof(sub), "%s/redis", data_dir);
    if (mkdir(sub, 0700) != 0 && errno != EEXIST)
        return -ERR_IO;
    if (!realpath(sub, dir) || strlen(dir) >= len)
        return -ERR_IO;
    return 0;
}

static void child_exec(const struct relay_config *cfg, const struct redis_embed *r)
{
    char logfile[PATH_MAX + 16];
    snprintf(logfile, sizeof(logfile), "%s/redis.log", r->dir);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL); /* the relay blocks SIGTERM; exec keeps masks */
    prctl(PR_SET_PDEATHSIG, SIGTERM);      /* never outlive the relay */
    setpgid(0, 0);                         /* a terminal's ^C goes to the relay only */
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
        dup2(devnull, STDIN_FILENO);
        dup2(devnull, STDOUT_FILENO);
    }
    execlp(cfg->redis_server_bin, cfg->redis_server_bin, "--port", "0", "--unixsocket", r->sock,
           "--unixsocketperm", "700", "--dir", r->dir, "--save", "60 1", "--appendonly", "yes",
           "--appendfsync", "everysec", "--daemonize", "no", "--logfile", logfile,
           "--protected-mode", "yes", (char *)NULL);
    fprintf(stderr, "cannot run %s: %s\n", cfg->redis_server_bin, strerror(errno));
    _exit(127);
}

static bool socket_ready(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static int wait_ready(struct redis_embed *r, char *err, size_t errlen)
{
    for (int i = 0; i < 300; i++) {
        if (socket_ready(r->sock))
            return 0;
        int status;
        if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
            r->pid = 0;
            snprintf(err, errlen, "redis-server exited at start (see %s/redis.log)", r->dir);
            return -ERR_IO;
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    snprintf(err, errlen, "redis-server did not start within 15 s");
    return -ERR_TIMEOUT;
}

int redis_embed_start(const struct relay_config *cfg, struct redis_embed **out, char *err,
                      size_t errlen)
{
    struct redis_embed *r = xcalloc(1, sizeof(*r));
    if (make_dirs(cfg->data_dir, r->dir, sizeof(r->dir)) != 0 ||
        (size_t)snprintf(r->sock, sizeof(r->sock), "%s/redis.sock", r->dir) >= sizeof(r->sock)) {
        snprintf(err, errlen,
                 "cannot use %s/redis for the private Redis (path too long or not "
                 "writable)",
                 cfg->data_dir);
        free(r);
        return -ERR_IO;
    }
    unlink(r->sock);
    r->pid = fork();
    if (r->pid == 0)
        child_exec(cfg, r);
    int rc = r->pid < 0 ? -ERR_IO : wait_ready(r, err, errlen);
    if (rc != 0) {
        redis_embed_stop(r);
        return rc;
    }
    log_info("redis", "private redis-server started (pid %d, data in %s)", (int)r->pid, r->dir);
    *out = r;
    return 0;
}

const char *redis_embed_socket(const struct redis_embed *r)
{
    return r->sock;
}

void redis_embed_stop(struct redis_embed *r)
{
    if (!r)
        return;
    if (r->pid > 0) {
        kill(r->pid, SIGTERM);
        int status;
        for (int i = 0; i < 200 && waitpid(r->pid, &status, WNOHANG) == 0; i++) {
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (waitpid(r->pid, &status, WNOHANG) == 0) {
            kill(r->pid, SIGKILL);
            waitpid(r->pid, &status, 0);
        }
        log_info("redis", "private redis-server stopped");
    }
    free(r);
}
