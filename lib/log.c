/*
 * log.c - the process-wide log sink (see log.h).
 *
 * LOCKING: log_mu guards every static below (the open file, its date and the
 * level). Lines are formatted into a stack buffer first, so the lock is held
 * only for the write itself. It is a leaf lock: nothing is called under it.
 *
 * Every line is escaped here, at the sink, rather than by callers: request
 * paths, header values and upstream error texts reach log calls all over the
 * server, and one missed caller would let `GET /x%0a<forged line>` write a
 * line of its own. Control bytes become \xNN, so a log line is always one
 * line and never carries terminal escape sequences.
 */
#include "compat.h"
#include "errs.h"
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>

#define LOG_LINE_MAX 4096

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER; /* guards: all below */
static enum log_level log_level_cur = LOG_INFO;
static char log_dir[512];
static FILE *log_file;
static char log_file_date[16];
static int log_tz_min;

static _Thread_local char log_rid[64];

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

int log_level_parse(const char *s)
{
    static const struct {
        const char *name;
        int level;
    } names[] = {{"error", LOG_ERROR}, {"warn", LOG_WARN},   {"warning", LOG_WARN},
                 {"info", LOG_INFO},   {"debug", LOG_DEBUG}, {"verbose", LOG_DEBUG},
                 {"silly", LOG_DEBUG}};
    for (size_t i = 0; s && i < ARRAY_SIZE(names); i++)
        if (strcasecmp(s, names[i].name) == 0)
            return names[i].level;
    return -1;
}

int log_open(const char *dir, enum log_level level, int tz_offset_min)
{
    pthread_mutex_lock(&log_mu);
    log_level_cur = level;
    log_tz_min = tz_offset_min;
    log_dir[0] = '\0';
    int rc = 0;
    if (dir && *dir) {
        if (mkdir(dir, 0750) != 0 && errno != EEXIST)
            rc = -ERR_IO;
        else
            snprintf(log_dir, sizeof(log_dir), "%s", dir);
    }
    pthread_mutex_unlock(&log_mu);
    return rc;
}

void log_close(void)
{
    pthread_mutex_lock(&log_mu);
    if (log_file)
        fclose(log_file);
    log_file = NULL;
    log_dir[0] = '\0';
    pthread_mutex_unlock(&log_mu);
}

void log_set_level(enum log_level level)
{
    pthread_mutex_lock(&log_mu);
    log_level_cur = level;
    pthread_mutex_unlock(&log_mu);
}

enum log_level log_get_level(void)
{
    pthread_mutex_lock(&log_mu);
    enum log_level l = log_level_cur;
    pthread_mutex_unlock(&log_mu);
    return l;
}

void log_set_reqid(const char *rid)
{
    if (!rid)
        log_rid[0] = '\0';
    else
        snprintf(log_rid, sizeof(log_rid), "%s", rid);
}

size_t log_escape(char *out, size_t outlen, const char *in, size_t inlen)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    if (outlen == 0)
        return 0;
    for (size_t i = 0; i < inlen; i++) {
        unsigned char c = (unsigned char)in[i];
        bool ctl = c < 0x20 || c == 0x7f;
        if (n + (ctl ? 4 : 1) >= outlen)
            break; /* never cut an escape in half */
        if (!ctl) {
            out[n++] = (char)c;
            continue;
        }
        out[n++] = '\\';
        out[n++] = 'x';
        out[n++] = hex[c >> 4];
        out[n++] = hex[c & 15];
    }
    out[n] = '\0';
    return n;
}

/* Caller holds log_mu. Opens (or rolls) the dated file. */
static void log_roll_locked(const char *date)
{
    if (!log_dir[0] || (log_file && strcmp(date, log_file_date) == 0))
        return;
    if (log_file)
        fclose(log_file);
    char path[600];
    snprintf(path, sizeof(path), "%s/claude-relay-%s.log", log_dir, date);
    log_file = fopen(path, "a");
    snprintf(log_file_date, sizeof(log_file_date), "%s", date);
}

void log_msg(enum log_level level, const char *module, const char *fmt, ...)
{
    if (level > log_get_level())
        return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char line[LOG_LINE_MAX], msg[LOG_LINE_MAX];
    int n = (int)strftime(line, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(line + n, sizeof(line) - (size_t)n, ".%03ldZ %s %s ", (long)(tv.tv_usec / 1000),
                  level_names[level], module ? module : "-");
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t mlen = m < 0 ? 0 : (size_t)m >= sizeof(msg) ? sizeof(msg) - 1 : (size_t)m;
    /* 80 bytes stay free for the rid and the newline. */
    n += (int)log_escape(line + n, sizeof(line) - 80 - (size_t)n, msg, mlen);
    if (log_rid[0])
        n += snprintf(line + n, sizeof(line) - (size_t)n, " rid=%s", log_rid);
    line[n++] = '\n';
    line[n] = '\0';

    time_t local = tv.tv_sec + (time_t)log_tz_min * 60;
    struct tm ltm;
    gmtime_r(&local, &ltm);
    char date[16];
    strftime(date, sizeof(date), "%Y-%m-%d", &ltm);

    pthread_mutex_lock(&log_mu);
    fwrite(line, 1, (size_t)n, stdout);
    fflush(stdout);
    log_roll_locked(date);
    if (log_file) {
        fwrite(line, 1, (size_t)n, log_file);
        fflush(log_file);
    }
    pthread_mutex_unlock(&log_mu);
}

char *log_mask(const char *secret, char *out, size_t outlen)
{
    size_t len = secret ? strlen(secret) : 0;
    if (len < 12)
        snprintf(out, outlen, "***");
    else
        snprintf(out, outlen, "%.6s...%s", secret, secret + len - 4);
    return out;
}
